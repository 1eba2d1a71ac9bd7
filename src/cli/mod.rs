//! berthctl: argument structs, option mapping and output.

mod args;
mod attach;
mod copy;
mod flags;
mod images;
mod kube;

pub use args::{Cli, Command, CreateArgs, HealthcheckCommand, NetworkCommand};
pub use attach::{attach, stdin_is_terminal, Ended, Local};
pub use copy::{CpFlags, Location};
pub use images::{ImageCommand, ImageListArgs, VolumeCommand};
pub use flags::{parse_size, ResourceFlags, SpecFlags};

use crate::client::{Client, Streams};
use crate::model::{
    parse_signal, ContainerInfo, Error, EventOptions, ExecConfig, LogOptions, NetworkCreateOptions, OptionValue, Result,
    State,
};
use std::collections::BTreeMap;

/// The exit status for an error (podman's: 125).
pub fn exit_status(e: &Error) -> i32 {
    e.kind().exit_status()
}

/// The CreateContainer name and options of `create`/`run` arguments: the
/// first positional argument is the image (with --rootfs, a root file
/// system directory), the rest the command.
pub fn create_options(a: &CreateArgs) -> Result<(String, BTreeMap<String, OptionValue>)> {
    let mut o = a.options.to_options()?;
    let (first, command) = a.args.split_first().ok_or_else(|| Error::invalid("IMAGE", "an image or, with --rootfs, a directory is required"))?;
    if a.rootfs {
        // Relative paths are the caller's, as podman resolves them.
        let abs = std::path::absolute(first).map_err(|e| Error::invalid("Rootfs", e.to_string()))?;
        o.insert("Rootfs".into(), OptionValue::Str(abs.to_string_lossy().into_owned()));
    } else {
        o.insert("Image".into(), OptionValue::Str(first.clone()));
    }
    if !command.is_empty() {
        o.insert("Command".into(), OptionValue::StrList(command.to_vec()));
    }
    Ok((a.name.clone().unwrap_or_default(), o))
}

pub(crate) fn human_age(usec: u64) -> String {
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
fn status(i: &ContainerInfo) -> String {
    let st = &i.state;
    match st.status {
        State::Running => format!("Up since {}", human_age(st.started_at)),
        State::Exited | State::Stopped => format!("Exited ({}) {}", st.exit_code, human_age(st.finished_at)),
        other => other.to_string(),
    }
}

async fn ps(c: &Client, all: bool, quiet: bool, format: &str) -> Result<()> {
    let infos: Vec<ContainerInfo> =
        c.list_info().await?.into_iter().filter(|i| all || i.state.status == State::Running).collect();
    if quiet {
        for i in &infos {
            println!("{}", crate::model::short_id(&i.id));
        }
        return Ok(());
    }
    match format {
        "json" => {
            println!("{}", serde_json::to_string_pretty(&infos).expect("descriptions serialize"));
            return Ok(());
        }
        "table" => {}
        f => return Err(Error::invalid("format", format!("{f:?} is not table or json"))),
    }
    let rows: Vec<[String; 6]> = infos
        .iter()
        .map(|i| {
            let image = i.image_name.clone().unwrap_or_else(|| i.spec.rootfs.display().to_string());
            [crate::model::short_id(&i.id).to_string(), image, i.spec.command.join(" "), human_age(i.created), status(i), i.name.clone()]
        })
        .collect();
    let head = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES"];
    let mut w = head.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len().min(40));
        }
    }
    let line = |cols: [&str; 6]| {
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
        line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]);
    }
    Ok(())
}

/// Run a verb on each name in turn, printing each name done and each
/// error (once: the exit status comes back instead of the error, which is
/// printed already); the status is the first failure's.
pub(crate) async fn each<F, Fut>(names: &[String], f: F) -> Result<i32>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut status = 0;
    for n in names {
        match f(n.clone()).await {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("Error: {e}");
                if status == 0 {
                    status = exit_status(&e);
                }
            }
        }
    }
    Ok(status)
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
    let mut code = e.exit_code.map(|c| format!(", exit_code={c}")).unwrap_or_default();
    if let Some(h) = e.health_status {
        code.push_str(&format!(", health_status={h}"));
    }
    println!(
        "{} container {} {} (id={}{code})",
        crate::model::rfc3339(e.usec),
        e.kind.as_str(),
        e.name,
        crate::model::short_id(&e.id)
    );
}

/// Events from berthd (history, then with follow the live ones) through a
/// pipe, printed as they come.
async fn events(c: &Client, o: &EventOptions) -> Result<()> {
    use std::io::BufRead;
    let (rd, wr) = nix::unistd::pipe().map_err(|e| Error::internal(format!("cannot make a pipe: {e}")))?;
    let printer = std::thread::spawn(move || {
        for line in std::io::BufReader::new(std::fs::File::from(rd)).lines() {
            let Ok(line) = line else { break };
            match serde_json::from_str::<crate::model::Event>(&line) {
                Ok(e) => print_event(&e),
                Err(_) => eprintln!("berthctl: skipping an event this version cannot read: {line}"),
            }
        }
    });
    use std::os::fd::AsFd;
    let r = c.events(wr.as_fd(), o).await;
    drop(wr);
    let _ = printer.join();
    r
}

/// Detach keys: the caller's, else podman's default when the local stdin
/// is a terminal, else none (piped input may hold any byte).
fn detach_keys(given: Option<String>) -> String {
    given.unwrap_or_else(|| if stdin_is_terminal() { String::new() } else { "none".into() })
}

/// The exit status for how an attachment to a container ended: its code,
/// 0 after a detach, else what Wait says. The stream ends when the
/// container's process does, a moment before the container's state says so:
/// Wait, so that a command run next (`rm`) finds it exited, as after podman.
async fn container_code(c: &Client, name: &str, ended: Ended) -> Result<i32> {
    match ended {
        Ended::Exited(code) => {
            c.wait(name, &[], None).await?;
            Ok(code)
        }
        Ended::Detached => Ok(0),
        Ended::Closed => c.wait(name, &[], None).await,
    }
}

/// `exec`: create, start (attached unless -d), and the command's code.

async fn exec(
    c: &Client,
    name: &str,
    config: ExecConfig,
    detach: bool,
    keys: Option<String>,
) -> Result<i32> {
    let (interactive, terminal) = (config.interactive, config.terminal);
    let session = c.exec_create(name, &config).await?;
    if detach {
        c.exec_start(name, &session).await?;
        println!("{session}");
        return Ok(0);
    }
    let streams = Streams { stdin: interactive, stdout: true, stderr: true, detach_keys: detach_keys(keys) };
    let conn = c.exec_start_and_attach(name, &session, &streams).await?;
    match attach::attach(conn, Local { stdin: interactive, terminal }).await? {
        Ended::Exited(code) => Ok(code),
        Ended::Detached => Ok(0),
        Ended::Closed => c.exec_wait(name, &session, None).await,
    }
}

/// `berthctl network ...`.
async fn network(c: &Client, cmd: NetworkCommand) -> Result<i32> {
    match cmd {
        NetworkCommand::Create { subnet, gateway, internal, disable_dns, labels, name } => {
            let mut o = NetworkCreateOptions { subnet, gateway, internal, dns: !disable_dns, ..Default::default() };
            for l in labels {
                let (k, v) = l.split_once('=').unwrap_or((&l, ""));
                o.labels.insert(k.to_string(), v.to_string());
            }
            println!("{}", c.create_network(&name, &o).await?.name);
            Ok(0)
        }
        NetworkCommand::Ls { quiet, format } => {
            let all = c.list_networks().await?;
            if quiet {
                all.iter().for_each(|n| println!("{}", n.name));
                return Ok(0);
            }
            match format.as_str() {
                "json" => println!("{}", serde_json::to_string_pretty(&all).expect("descriptions serialize")),
                "table" => {
                    let w = all.iter().map(|n| n.name.len()).max().unwrap_or(0).max(4);
                    println!("{:<12}  {:<w$}  {:<6}  {:<18}  DNS", "NETWORK ID", "NAME", "DRIVER", "SUBNETS");
                    for n in &all {
                        let subnets: Vec<&str> = n.subnets.iter().map(|s| s.subnet.as_str()).collect();
                        let flags = if n.internal { "internal" } else { "" };
                        println!(
                            "{:<12}  {:<w$}  {:<6}  {:<18}  {}{}",
                            &n.id[..12.min(n.id.len())],
                            n.name,
                            n.driver,
                            subnets.join(","),
                            if n.dns_enabled { "on" } else { "off" },
                            if flags.is_empty() { String::new() } else { format!(" ({flags})") }
                        );
                    }
                }
                f => return Err(Error::invalid("format", format!("{f:?} is not table or json"))),
            }
            Ok(0)
        }
        NetworkCommand::Inspect { names } => {
            let mut out = Vec::new();
            for n in &names {
                out.push(c.inspect_network(n).await?);
            }
            println!("{}", serde_json::to_string_pretty(&out).expect("descriptions serialize"));
            Ok(0)
        }
        NetworkCommand::Rm { names } => {
            each(&names, |n| { let c = c.clone(); async move { c.remove_network(&n).await } }).await
        }
        NetworkCommand::Reload { all, names } => {
            if all {
                for n in c.reload_networks().await? {
                    println!("{n}");
                }
                return Ok(0);
            }
            each(&names, |n| { let c = c.clone(); async move { c.reload_network(&n).await } }).await
        }
    }
}

/// Run one berthctl command; returns the process exit status.
pub async fn run(cli: Cli) -> Result<i32> {
    let c = Client::connect(cli.address.as_deref()).await?;
    match cli.command {
        Command::Create(a) => {
            let (name, o) = create_options(&a)?;
            let path = c.create(&name, &o).await?;
            println!("{}", c.id_at(&path).await?);
            Ok(0)
        }
        Command::Run { detach, rm, detach_keys: keys, create } => {
            let (name, o) = create_options(&create)?;
            let flag = |k: &str| matches!(o.get(k), Some(OptionValue::Bool(true)));
            let (interactive, terminal) = (flag("Interactive"), flag("Terminal"));
            let path = c.create(&name, &o).await?;
            let name = c.name_at(&path).await?;
            if detach {
                if let Err(e) = c.start(&name, false).await {
                    if rm {
                        let _ = c.remove(&name, true, Some(0)).await;
                    }
                    return Err(e);
                }
                println!("{}", c.id_at(&path).await?);
                return Ok(0);
            }
            // As podman's run: attached from before the start, so that no
            // output is missed.
            let streams = Streams { stdin: interactive, stdout: true, stderr: true, detach_keys: detach_keys(keys) };
            let conn = match c.start_and_attach(&name, false, &streams).await {
                Ok(conn) => conn,
                Err(e) => {
                    if rm {
                        let _ = c.remove(&name, true, Some(0)).await;
                    }
                    return Err(e);
                }
            };
            let ended = attach::attach(conn, Local { stdin: interactive, terminal }).await?;
            let code = container_code(&c, &name, ended).await?;
            if rm && ended != Ended::Detached {
                c.remove(&name, true, None).await?;
            }
            Ok(code)
        }
        Command::Init { recursive, names } => each(&names, |n| { let c = c.clone(); async move { c.init(&n, recursive).await } }).await,
        Command::Start { recursive, attach: true, interactive, detach_keys: keys, names } => {
            let [name] = names.as_slice() else {
                return Err(Error::invalid("names", "start --attach takes one container"));
            };
            let spec = c.info(name).await?.spec;
            let stdin = interactive && spec.interactive;
            let streams = Streams { stdin, stdout: true, stderr: true, detach_keys: detach_keys(keys) };
            let conn = c.start_and_attach(name, recursive, &streams).await?;
            let ended = attach::attach(conn, Local { stdin, terminal: spec.terminal }).await?;
            container_code(&c, name, ended).await
        }
        Command::Start { recursive, names, .. } => each(&names, |n| { let c = c.clone(); async move { c.start(&n, recursive).await } }).await,
        Command::Attach { no_stdin, detach_keys: keys, name } => {
            let spec = c.info(&name).await?.spec;
            let stdin = spec.interactive && !no_stdin;
            let streams = Streams { stdin, stdout: true, stderr: true, detach_keys: detach_keys(keys) };
            let conn = c.attach(&name, &streams).await?;
            let ended = attach::attach(conn, Local { stdin, terminal: spec.terminal }).await?;
            container_code(&c, &name, ended).await
        }
        Command::Exec { detach, interactive, tty, env, user, workdir, privileged, detach_keys: keys, name, command } => {
            let mut o: BTreeMap<String, OptionValue> = [
                ("Command".to_string(), OptionValue::StrList(command)),
                ("Interactive".to_string(), OptionValue::Bool(interactive)),
                ("Terminal".to_string(), OptionValue::Bool(tty)),
                ("Privileged".to_string(), OptionValue::Bool(privileged)),
            ]
            .into();
            if !env.is_empty() {
                o.insert("Env".into(), OptionValue::StrList(env));
            }
            if let Some(u) = user {
                o.insert("User".into(), OptionValue::Str(u));
            }
            if let Some(w) = workdir {
                o.insert("WorkingDir".into(), OptionValue::Str(w));
            }
            // Checked here too, so that a bad flag names itself before berthd is asked.
            let config = ExecConfig::from_options(&o)?;
            exec(&c, &name, config, detach, keys).await
        }
        Command::Stop { time, names } => each(&names, |n| { let c = c.clone(); async move { c.stop(&n, time).await } }).await,
        Command::Kill { signal, names } => {
            let sig = parse_signal(&signal, "Signal")?;
            each(&names, |n| { let c = c.clone(); async move { c.kill(&n, sig).await } }).await
        }
        Command::Restart { time, names } => each(&names, |n| { let c = c.clone(); async move { c.restart(&n, time).await } }).await,
        Command::Pause { names } => each(&names, |n| { let c = c.clone(); async move { c.pause(&n).await } }).await,
        Command::Unpause { names } => each(&names, |n| { let c = c.clone(); async move { c.unpause(&n).await } }).await,
        Command::Rm { force, all, time, names } => {
            let names = if all { c.list().await?.into_iter().map(|l| l.name).collect() } else { names };
            each(&names, |n| { let c = c.clone(); async move { c.remove(&n, force, time).await } }).await
        }
        Command::Sync { names } => each(&names, |n| { let c = c.clone(); async move { c.sync(&n).await } }).await,
        Command::Cleanup { names } => each(&names, |n| { let c = c.clone(); async move { c.cleanup(&n).await } }).await,
        Command::Ps { all, quiet, format } => ps(&c, all, quiet, &format).await.map(|()| 0),
        Command::Inspect { names } => {
            let mut out = Vec::new();
            for n in &names {
                out.push(c.info(n).await?);
            }
            println!("{}", serde_json::to_string_pretty(&out).expect("descriptions serialize"));
            Ok(0)
        }
        Command::Wait { conditions, name } => {
            let states = conditions.iter().map(|s| s.parse()).collect::<Result<Vec<State>>>()?;
            let code = c.wait(&name, &states, None).await?;
            println!("{code}");
            Ok(code.clamp(0, 255))
        }
        Command::Update { resources, name } => {
            if resources.is_empty() {
                return Err(Error::invalid(
                    "resources",
                    format!("nothing to update: give {}", ResourceFlags::names().join(", ")),
                ));
            }
            c.update(&name, &resources.to_options()?).await?;
            println!("{name}");
            Ok(0)
        }
        Command::Logs { follow, since, until, tail, timestamps, tag, stdout, stderr, name } => {
            let o = LogOptions {
                follow,
                since: since.map(|s| parse_time(&s, "since")).transpose()?,
                until: until.map(|s| parse_time(&s, "until")).transpose()?,
                tail,
                timestamps,
                stdout,
                stderr,
                stream_tag: tag,
                ..LogOptions::default()
            };
            use std::os::fd::AsFd;
            let out = std::io::stdout();
            c.logs(&name, out.as_fd(), &o).await?;
            Ok(0)
        }
        Command::Network(n) => network(&c, n).await,
        Command::Healthcheck(HealthcheckCommand::Run { name }) => match c.healthcheck_run(&name).await? {
            crate::model::HealthStatus::Healthy => Ok(0),
            status => {
                println!("{status}");
                Ok(1)
            }
        },
        Command::Port { name, port } => {
            let lines = c.ports(&name).await?;
            let wanted = port.map(|p| if p.contains('/') { p } else { format!("{p}/tcp") });
            for l in lines {
                match &wanted {
                    Some(w) => {
                        if let Some(host) = l.strip_prefix(&format!("{w} -> ")) {
                            println!("{host}");
                        }
                    }
                    None => println!("{l}"),
                }
            }
            Ok(0)
        }
        Command::Image(cmd) => images::image(&c, cmd).await,
        Command::Images(a) => images::images(&c, a).await,
        Command::Volume(cmd) => images::volume(&c, cmd).await,
        Command::Kube(cmd) => kube::kube(&c, cmd).await,
        Command::Mount { names } => images::mount(&c, &names).await,
        Command::Unmount { force, names } => images::unmount(&c, force, &names).await,
        Command::Export { output, name } => images::export(&c, output.as_deref(), &name).await,
        Command::Cp { archive, overwrite, pause, src, dst } => {
            copy::cp(&c, &src, &dst, CpFlags { archive, overwrite, pause }).await
        }
        Command::Stat { follow, name, path } => copy::stat(&c, &name, &path, follow).await,
        Command::Events { follow, since, until, filter } => {
            let mut o = EventOptions { follow, ..Default::default() };
            for f in filter {
                match f.split_once('=') {
                    Some(("container", n)) => o.container = Some(n.to_string()),
                    _ => return Err(Error::invalid("filter", format!("{f:?}: only container=NAME is supported"))),
                }
            }
            o.since = since.map(|s| parse_time(&s, "since")).transpose()?;
            o.until = until.map(|s| parse_time(&s, "until")).transpose()?;
            events(&c, &o).await.map(|()| 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn podmans_argument_order() {
        let cli = Cli::try_parse_from(["berthctl", "create", "--name", "web", "-e", "A=1", "--rootfs", "/r", "sh", "-c", "x"]).unwrap();
        let Command::Create(a) = cli.command else { panic!() };
        let (name, o) = create_options(&a).unwrap();
        assert_eq!(name, "web");
        assert_eq!(o["Rootfs"], OptionValue::Str("/r".into()));
        assert_eq!(o["Command"], OptionValue::StrList(vec!["sh".into(), "-c".into(), "x".into()]));
        crate::model::ContainerSpec::from_options(&o).unwrap();
        let cli = Cli::try_parse_from(["berthctl", "run", "-d", "--rootfs", "/r", "/bin/echo", "-n", "hi"]).unwrap();
        let Command::Run { detach: true, create, .. } = cli.command else { panic!() };
        let (name, o) = create_options(&create).unwrap();
        assert_eq!(name, "");
        assert_eq!(o["Command"], OptionValue::StrList(vec!["/bin/echo".into(), "-n".into(), "hi".into()]));
        let cli = Cli::try_parse_from(["berthctl", "run", "--rm", "-u", "web", "--entrypoint", "", "busybox:1", "id", "-u"]).unwrap();
        let Command::Run { rm: true, create, .. } = cli.command else { panic!() };
        let (_, o) = create_options(&create).unwrap();
        assert_eq!(o["Image"], OptionValue::Str("busybox:1".into()));
        assert_eq!(o["Entrypoint"], OptionValue::StrList(vec![]));
        assert_eq!(o["Command"], OptionValue::StrList(vec!["id".into(), "-u".into()]));
        crate::model::ContainerSpec::from_options(&o).unwrap();
        let cli = Cli::try_parse_from(["berthctl", "create", "web"]).unwrap();
        let Command::Create(a) = cli.command else { panic!() };
        assert!(!create_options(&a).unwrap().1.contains_key("Command"), "the image's command");
        let cli = Cli::try_parse_from(["berthctl", "run", "-it", "--name", "t", "--rootfs", "/r", "/bin/sh"]).unwrap();
        let Command::Run { detach: false, create, .. } = cli.command else { panic!() };
        let (name, o) = create_options(&create).unwrap();
        assert_eq!(o["Command"], OptionValue::StrList(vec!["/bin/sh".into()]));
        assert_eq!((name.as_str(), &o["Terminal"], &o["Interactive"]), ("t", &OptionValue::Bool(true), &OptionValue::Bool(true)));
    }

    #[test]
    fn exec_takes_podmans_flags_then_the_command() {
        let cli = Cli::try_parse_from(["berthctl", "exec", "-it", "-e", "A=1", "-u", "1:2", "-w", "/tmp", "t", "sh", "-c", "x"]).unwrap();
        let Command::Exec { interactive: true, tty: true, env, user, workdir, name, command, detach: false, .. } = cli.command else {
            panic!()
        };
        assert_eq!((env, user.as_deref(), workdir.as_deref(), name.as_str()), (vec!["A=1".to_string()], Some("1:2"), Some("/tmp"), "t"));
        assert_eq!(command, ["sh", "-c", "x"]);
        assert!(Cli::try_parse_from(["berthctl", "exec", "t"]).is_err(), "a command is required");
        let cli = Cli::try_parse_from(["berthctl", "start", "-ai", "t"]).unwrap();
        assert!(matches!(cli.command, Command::Start { attach: true, interactive: true, .. }));
    }

    #[test]
    fn image_volume_and_mount_commands() {
        for args in [
            &["image", "import", "-", "web"][..],
            &["image", "load", "x.tar"],
            &["image", "ls", "--format", "json"],
            &["images", "-q"],
            &["image", "tag", "web", "web:2", "other"],
            &["image", "rm", "-f", "web"],
            &["volume", "create", "-l", "a=b", "data"],
            &["volume", "rm", "-f", "data"],
            &["mount", "c1", "c2"],
            &["umount", "-f", "c1"],
            &["export", "-o", "/tmp/x.tar", "c1"],
            &["cp", "c1:/etc/hosts", "-"],
            &["cp", "--archive=false", "--overwrite", "./x", "c1:/tmp"],
            &["stat", "-L", "c1", "/var/run"],
        ] {
            let mut v = vec!["berthctl"];
            v.extend_from_slice(args);
            Cli::try_parse_from(&v).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
    }

    #[test]
    fn network_flags_are_podmans() {
        let cli = Cli::try_parse_from([
            "berthctl", "run", "-p", "8080:80", "--publish", "127.0.0.1:5353:53/udp", "--network", "a,b", "--ip", "10.89.0.9",
            "--network-alias", "web", "--dns", "1.1.1.1", "--dns-search", "example.org", "--add-host", "db:10.0.0.9",
            "--rootfs", "/r", "sh",
        ])
        .unwrap();
        let Command::Run { create, .. } = cli.command else { panic!() };
        let (_, o) = create_options(&create).unwrap();
        assert_eq!(o["Ports"], OptionValue::StrList(vec!["8080:80".into(), "127.0.0.1:5353:53/udp".into()]));
        assert_eq!(o["Network"], OptionValue::Str("a,b".into()));
        assert_eq!(o["IP"], OptionValue::Str("10.89.0.9".into()));
        assert_eq!(o["NetworkAliases"], OptionValue::StrList(vec!["web".into()]));
        assert_eq!(o["DNS"], OptionValue::StrList(vec!["1.1.1.1".into()]));
        assert_eq!(o["DNSSearch"], OptionValue::StrList(vec!["example.org".into()]));
        assert_eq!(o["Hosts"], OptionValue::StrList(vec!["db:10.0.0.9".into()]));
        let cli = Cli::try_parse_from(["berthctl", "network", "create", "--subnet", "10.90.0.0/24", "--internal", "n"]).unwrap();
        assert!(matches!(cli.command, Command::Network(NetworkCommand::Create { internal: true, .. })));
        assert!(Cli::try_parse_from(["berthctl", "network", "reload"]).is_err(), "a name or --all");
        assert!(Cli::try_parse_from(["berthctl", "network", "reload", "--all"]).is_ok());
    }
}
