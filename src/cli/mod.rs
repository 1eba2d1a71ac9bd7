//! berthctl: argument structs, option mapping and output.

mod args;

pub use args::{Cli, Command, CreateArgs, ResourceArgs};

use crate::client::Client;
use crate::model::{parse_signal, Error, OptionValue, Result, State};
use std::collections::BTreeMap;

/// podman's exit status for its own errors.
pub const EXIT_ERROR: i32 = 125;

/// `512m`, `1g`, `1048576`.
pub fn parse_size(s: &str) -> Result<u64> {
    let bad = || Error::invalid("MemoryMax", format!("{s:?} is not a size (bytes, or with k, m, g)"));
    let lower = s.trim().to_ascii_lowercase();
    let lower = lower.strip_suffix('b').unwrap_or(&lower);
    let (num, mult) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1u64 << 10),
        Some('m') => (&lower[..lower.len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.len() - 1], 1 << 30),
        _ => (lower, 1),
    };
    num.parse::<u64>().ok().and_then(|n| n.checked_mul(mult)).ok_or_else(bad)
}

fn put(o: &mut BTreeMap<String, OptionValue>, k: &str, v: OptionValue) {
    o.insert(k.to_string(), v);
}

pub fn resource_options(r: &ResourceArgs) -> Result<BTreeMap<String, OptionValue>> {
    let mut o = BTreeMap::new();
    if let Some(m) = &r.memory {
        put(&mut o, "MemoryMax", OptionValue::U64(parse_size(m)?));
    }
    if let Some(p) = r.pids_limit {
        put(&mut o, "TasksMax", OptionValue::U64(p));
    }
    if let Some(w) = r.cpu_weight {
        put(&mut o, "CPUWeight", OptionValue::U64(w));
    }
    if let Some(c) = r.cpus {
        if !(c > 0.0 && c <= 1024.0) {
            return Err(Error::invalid("CPUQuota", format!("--cpus {c} is not in (0, 1024]")));
        }
        put(&mut o, "CPUQuota", OptionValue::U32((c * 100.0).round() as u32));
    }
    Ok(o)
}

/// The CreateContainer options of `berthctl create` flags.
pub fn create_options(a: &CreateArgs) -> Result<BTreeMap<String, OptionValue>> {
    let mut o = resource_options(&a.resources)?;
    let s = |v: &str| OptionValue::Str(v.to_string());
    if let Some(r) = &a.rootfs {
        // Relative paths are the caller's, as podman resolves them.
        let abs = std::path::absolute(r).map_err(|e| Error::invalid("Rootfs", e.to_string()))?;
        put(&mut o, "Rootfs", s(&abs.to_string_lossy()));
    }
    if !a.command.is_empty() {
        put(&mut o, "Command", OptionValue::StrList(a.command.clone()));
    }
    if !a.env.is_empty() {
        put(&mut o, "Env", OptionValue::StrList(a.env.clone()));
    }
    for (k, v) in [("WorkingDir", &a.workdir), ("User", &a.user), ("Hostname", &a.hostname), ("StopSignal", &a.stop_signal), ("RestartPolicy", &a.restart), ("Network", &a.network), ("Runtime", &a.runtime)] {
        if let Some(v) = v {
            put(&mut o, k, s(v));
        }
    }
    if a.notify {
        put(&mut o, "Notify", OptionValue::Bool(true));
    }
    if a.read_only {
        put(&mut o, "ReadOnly", OptionValue::Bool(true));
    }
    if let Some(t) = a.stop_timeout {
        put(&mut o, "StopTimeout", OptionValue::U32(t));
    }
    if let Some(t) = a.start_timeout {
        put(&mut o, "StartTimeout", OptionValue::U32(t));
    }
    if !a.requires.is_empty() {
        put(&mut o, "Dependencies", OptionValue::StrList(a.requires.clone()));
    }
    if !a.volume.is_empty() {
        put(&mut o, "Volumes", OptionValue::StrList(a.volume.clone()));
    }
    if !a.label.is_empty() {
        let mut m = BTreeMap::new();
        for l in &a.label {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            m.insert(k.to_string(), v.to_string());
        }
        put(&mut o, "Labels", OptionValue::StrMap(m));
    }
    Ok(o)
}

fn human_age(usec: u64) -> String {
    if usec == 0 {
        return "-".into();
    }
    let secs = crate::model::now_usec().saturating_sub(usec) / 1_000_000;
    match secs {
        0..=59 => format!("{secs} seconds ago"),
        60..=3599 => format!("{} minutes ago", secs / 60),
        3600..=86_399 => format!("{} hours ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

/// `podman ps`-like status column.
fn status(v: &serde_json::Value) -> String {
    let st = &v["State"];
    match st["Status"].as_str().unwrap_or("") {
        "running" => format!("Up since {}", human_age(st["StartedAt"].as_u64().unwrap_or(0))),
        "exited" | "stopped" => format!("Exited ({}) {}", st["ExitCode"], human_age(st["FinishedAt"].as_u64().unwrap_or(0))),
        other => other.to_string(),
    }
}

async fn ps(c: &Client, all: bool, quiet: bool) -> Result<()> {
    let mut rows = Vec::new();
    for l in c.list().await? {
        if !all && l.state != "running" {
            continue;
        }
        if quiet {
            println!("{}", l.name);
            continue;
        }
        let v = c.inspect_value(&l.name).await?;
        let cmd = v["Spec"]["command"].as_array().map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(" ")).unwrap_or_default();
        let created = human_age(v["Created"].as_u64().unwrap_or(0));
        rows.push([crate::model::short_id(&l.id).to_string(), cmd, created, status(&v), l.name]);
    }
    if quiet {
        return Ok(());
    }
    let head = ["CONTAINER ID", "COMMAND", "CREATED", "STATUS", "NAMES"];
    let mut w = head.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len().min(40));
        }
    }
    let line = |cols: [&str; 5]| {
        let mut s = String::new();
        for (i, c) in cols.iter().enumerate() {
            let c: String = c.chars().take(40).collect();
            if i + 1 == cols.len() {
                s.push_str(&c);
            } else {
                s.push_str(&format!("{c:<width$}  ", width = w[i]));
            }
        }
        println!("{}", s.trim_end());
    };
    line(head);
    for r in &rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4]]);
    }
    Ok(())
}

async fn each<F, Fut>(names: &[String], f: F) -> Result<()>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut first_err = None;
    for n in names {
        match f(n.clone()).await {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("Error: {e}");
                first_err.get_or_insert(e);
            }
        }
    }
    first_err.map_or(Ok(()), Err)
}


/// A time for --since/--until: seconds since the epoch (with fraction),
/// RFC 3339 / ISO dates (through `date`), or relative: `10s`, `5m`, `2h`, `1d`.
pub fn parse_time(s: &str, key: &str) -> Result<u64> {
    let now = crate::model::now_usec();
    if let Ok(secs) = s.parse::<f64>() {
        if secs >= 0.0 {
            return Ok((secs * 1e6) as u64);
        }
    }
    let unit = match s.chars().last() {
        Some('s') => Some(1u64),
        Some('m') => Some(60),
        Some('h') => Some(3600),
        Some('d') => Some(86_400),
        _ => None,
    };
    if let (Some(u), Ok(n)) = (unit, s[..s.len().saturating_sub(1)].parse::<u64>()) {
        return Ok(now.saturating_sub(n * u * 1_000_000));
    }
    let out = std::process::Command::new("date").args(["-u", "-d", s, "+%s%6N"]).output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse()
            .map_err(|_| Error::invalid(key, format!("{s:?} is not a time"))),
        _ => Err(Error::invalid(key, format!("{s:?} is not a time (epoch seconds, RFC 3339, or 10m/2h/1d)"))),
    }
}

fn print_event(e: &crate::model::Event) {
    let code = e.exit_code.map(|c| format!(", exit_code={c}")).unwrap_or_default();
    println!(
        "{} container {} {} (id={}{code})",
        crate::engine::logs::rfc3339(e.usec),
        e.kind.as_str(),
        e.name,
        crate::model::short_id(&e.id)
    );
}

/// History from the journal, then (with follow) live events from D-Bus;
/// the signal stream is opened first and events already printed from the
/// journal are skipped, so nothing is missed or printed twice.
async fn events(c: &Client, follow: bool, since: Option<u64>, only: Option<String>) -> Result<()> {
    use futures_util::StreamExt;
    let mut live = if follow { Some(c.manager().receive_event().await.map_err(crate::client::from_bus)?) } else { None };
    let history = crate::engine::journal::history(since, only.as_deref()).map_err(Error::from)?;
    let mut seen = std::collections::HashSet::new();
    for e in &history {
        print_event(e);
        seen.insert((e.usec, e.name.clone(), e.kind));
    }
    let Some(live) = live.as_mut() else { return Ok(()) };
    while let Some(sig) = live.next().await {
        let Ok(a) = sig.args() else { continue };
        if only.as_deref().is_some_and(|o| o != a.name) {
            continue;
        }
        let Ok(kind) = serde_json::from_value::<crate::model::EventKind>(serde_json::Value::String(a.event.clone())) else { continue };
        if seen.contains(&(a.usec, a.name.clone(), kind)) {
            continue;
        }
        // The signal carries no exit code: the container's record does.
        let mut ev = crate::model::Event { name: a.name, id: a.id, kind, usec: a.usec, exit_code: None };
        if kind == crate::model::EventKind::Died {
            if let Ok(v) = c.inspect_value(&ev.name).await {
                ev.exit_code = v["State"]["ExitCode"].as_i64().map(|c| c as i32);
            }
        }
        print_event(&ev);
    }
    Ok(())
}

/// Run one berthctl command; returns the process exit status.
pub async fn run(cli: Cli) -> Result<i32> {
    let c = match &cli.address {
        Some(a) => Client::at_address(a).await?,
        None => Client::system().await?,
    };
    let ok = |r: Result<()>| r.map(|()| 0);
    match cli.command {
        Command::Create(a) => {
            c.create(&a.name, &create_options(&a)?).await?;
            let v = c.inspect_value(&a.name).await?;
            println!("{}", v["Id"].as_str().unwrap_or_default());
            Ok(0)
        }
        Command::Run { detach, rm, create } => {
            c.create(&create.name, &create_options(&create)?).await?;
            if let Err(e) = c.start(&create.name, false).await {
                if rm {
                    let _ = c.remove(&create.name, true, Some(0)).await;
                }
                return Err(e);
            }
            if detach {
                let v = c.inspect_value(&create.name).await?;
                println!("{}", v["Id"].as_str().unwrap_or_default());
                return Ok(0);
            }
            let code = c.wait(&create.name, &[], None).await?;
            if rm {
                c.remove(&create.name, true, None).await?;
            }
            Ok(code)
        }
        Command::Init { recursive, names } => ok(each(&names, |n| { let c = c.clone(); async move { c.init(&n, recursive).await } }).await),
        Command::Start { recursive, names } => ok(each(&names, |n| { let c = c.clone(); async move { c.start(&n, recursive).await } }).await),
        Command::Stop { time, names } => ok(each(&names, |n| { let c = c.clone(); async move { c.stop(&n, time).await } }).await),
        Command::Kill { signal, names } => {
            let sig = parse_signal(&signal, "Signal")?;
            ok(each(&names, |n| { let c = c.clone(); async move { c.kill(&n, sig).await } }).await)
        }
        Command::Restart { time, names } => ok(each(&names, |n| { let c = c.clone(); async move { c.restart(&n, time).await } }).await),
        Command::Pause { names } => ok(each(&names, |n| { let c = c.clone(); async move { c.pause(&n).await } }).await),
        Command::Unpause { names } => ok(each(&names, |n| { let c = c.clone(); async move { c.unpause(&n).await } }).await),
        Command::Rm { force, time, names } => ok(each(&names, |n| { let c = c.clone(); async move { c.remove(&n, force, time).await } }).await),
        Command::Sync { names } => ok(each(&names, |n| { let c = c.clone(); async move { c.sync(&n).await } }).await),
        Command::Cleanup { names } => ok(each(&names, |n| { let c = c.clone(); async move { c.cleanup(&n).await } }).await),
        Command::Ps { all, quiet } => ps(&c, all, quiet).await.map(|()| 0),
        Command::Inspect { names } => {
            let mut out = Vec::new();
            for n in &names {
                out.push(c.inspect_value(n).await?);
            }
            println!("{}", serde_json::to_string_pretty(&out).expect("json"));
            Ok(0)
        }
        Command::Wait { conditions, name } => {
            let states = conditions.iter().map(|s| s.parse()).collect::<Result<Vec<State>>>()?;
            let code = c.wait(&name, &states, None).await?;
            println!("{code}");
            Ok(code.clamp(0, 255))
        }
        Command::Update { resources, name } => {
            let o = resource_options(&resources)?;
            if o.is_empty() {
                return Err(Error::invalid("resources", "nothing to update: give --memory, --pids-limit, --cpu-weight or --cpus"));
            }
            c.update(&name, &o).await?;
            println!("{name}");
            Ok(0)
        }
        Command::Logs { follow, since, until, tail, timestamps, stdout, stderr, name } => {
            let o = crate::engine::LogOptions {
                follow,
                since: since.map(|s| parse_time(&s, "since")).transpose()?,
                until: until.map(|s| parse_time(&s, "until")).transpose()?,
                tail,
                timestamps,
                stdout,
                stderr,
            };
            use std::os::fd::AsFd;
            let out = std::io::stdout();
            c.logs(&name, out.as_fd(), &o).await?;
            Ok(0)
        }
        Command::Events { follow, since, filter } => {
            let mut only = None;
            for f in filter {
                match f.split_once('=') {
                    Some(("container", n)) => only = Some(n.to_string()),
                    _ => return Err(Error::invalid("filter", format!("{f:?}: only container=NAME is supported"))),
                }
            }
            let since = since.map(|s| parse_time(&s, "since")).transpose()?;
            events(&c, follow, since, only).await.map(|()| 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512m").unwrap(), 512 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn create_flags_map_to_option_keys() {
        let cli = Cli::try_parse_from([
            "berthctl", "create", "--rootfs", "/r", "-e", "A=1", "--notify", "--stop-signal", "INT", "--stop-timeout", "3",
            "--restart", "always", "--requires", "db,cache", "-l", "k=v", "-v", "/a:/b:ro", "--read-only", "--network", "host",
            "--runtime", "runc", "-m", "1g", "--pids-limit", "9", "--cpus", "1.5", "web", "--", "sh", "-c", "x",
        ])
        .unwrap();
        let Command::Create(a) = cli.command else { panic!() };
        let o = create_options(&a).unwrap();
        assert_eq!(o["Command"], OptionValue::StrList(vec!["sh".into(), "-c".into(), "x".into()]));
        assert_eq!(o["Dependencies"], OptionValue::StrList(vec!["db".into(), "cache".into()]));
        assert_eq!(o["CPUQuota"], OptionValue::U32(150));
        assert_eq!(o["MemoryMax"], OptionValue::U64(1 << 30));
        assert_eq!(o["Network"], OptionValue::Str("host".into()));
        // The same validation as the daemon's accepts the result.
        crate::model::ContainerSpec::from_options(&o).unwrap();
    }
}
