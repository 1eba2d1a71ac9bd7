//! The measurements behind `systemd/bench`. Run that script, not this: it
//! installs berth, starts berthd, and makes the root file system, the static
//! sdnotify and the podman image this expects (BENCH_* variables, below).
//!
//! Contenders run interleaved, one run of each in turn (the order rotating),
//! so that a slow moment of a shared machine falls on all of them alike, and
//! every ratio is taken between runs made side by side.

use anyhow::{bail, Context, Result};
use berth::client::{Client, ContainerProxy};
use berth::model::OptionValue;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

const SLEEP: [&str; 2] = ["/bin/sleep", "1000"];
const NOTIFY: [&str; 3] = ["/bin/sh", "-c", "/bin/sdnotify READY=1; exec /bin/sleep 1000"];

/// What systemd/bench hands over.
struct Setup {
    rootfs: String,
    scratch: PathBuf,
    /// The image and the create flags that work here; None: no podman.
    podman: Option<(String, Vec<String>)>,
    runs: usize,
    churn: usize,
    parallel: usize,
    defined: usize,
    log_lines: usize,
    noise_lines: usize,
}

fn var(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

fn count(k: &str, default: usize) -> Result<usize> {
    var(k).map_or(Ok(default), |v| v.parse().with_context(|| format!("{k}={v}: not a number")))
}

impl Setup {
    fn from_env() -> Result<Self> {
        let podman = var("BENCH_PODMAN_IMAGE")
            .map(|i| (i, var("BENCH_PODMAN_FLAGS").unwrap_or_default().split_whitespace().map(String::from).collect()));
        Ok(Setup {
            rootfs: var("BENCH_ROOTFS").context("BENCH_ROOTFS unset: run systemd/bench")?,
            scratch: var("BENCH_SCRATCH").context("BENCH_SCRATCH unset: run systemd/bench")?.into(),
            podman,
            runs: count("BENCH_RUNS", 20)?,
            churn: count("BENCH_CHURN", 200)?,
            parallel: count("BENCH_PARALLEL", 50)?,
            defined: count("BENCH_DEFINED", 1000)?,
            log_lines: count("BENCH_LOG_LINES", 900_000)?,
            noise_lines: count("BENCH_NOISE_LINES", 100_000)?,
        })
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Stats {
    med: f64,
    min: f64,
    max: f64,
    p99: f64,
}

fn stats(v: &[f64]) -> Stats {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let med = if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 };
    let p99 = s[((n as f64 * 0.99).ceil() as usize).clamp(1, n) - 1];
    Stats { med, min: s[0], max: s[n - 1], p99 }
}

fn head(title: &str) {
    println!("\n{title}\n  {:<44} {:>9} {:>9} {:>9}", "", "median", "min", "max");
}

fn row(label: &str, v: &[f64]) {
    let s = stats(v);
    println!("  {label:<44} {:>9.2} {:>9.2} {:>9.2}", s.med, s.min, s.max);
}

/// Element-wise a / b: ratios within each run.
fn ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x / y).collect()
}

/// The targets, each with what was measured; printed again at the end.
#[derive(Default)]
struct Targets(Vec<(String, String, bool)>);

impl Targets {
    fn check(&mut self, what: &str, measured: String, pass: bool) {
        println!("  {what:<44} {measured:>29}  {}", verdict(pass));
        self.0.push((what.into(), measured, pass));
    }
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

/// Run a command to its end: its standard output, or an error that carries
/// its standard error.
async fn run<S: AsRef<str>>(argv: &[S]) -> Result<String> {
    let argv: Vec<&str> = argv.iter().map(AsRef::as_ref).collect();
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("cannot run {}", argv[0]))?;
    if !out.status.success() {
        bail!("`{}` failed ({}): {}", argv.join(" "), out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn timed<S: AsRef<str>>(argv: &[S]) -> Result<f64> {
    let t = Instant::now();
    run(argv).await?;
    Ok(ms(t.elapsed()))
}

fn spec(rootfs: &str, command: &[&str], notify: bool) -> BTreeMap<String, OptionValue> {
    BTreeMap::from([
        ("Rootfs".into(), OptionValue::Str(rootfs.into())),
        ("Command".into(), OptionValue::StrList(command.iter().map(|s| s.to_string()).collect())),
        ("Notify".into(), OptionValue::Bool(notify)),
    ])
}

/// The floor runs the very config.json that berth writes, so that both
/// start the same container.
async fn floor_bundle(c: &Client, s: &Setup, name: &str, command: &[&str], notify: bool) -> Result<PathBuf> {
    c.create(name, &spec(&s.rootfs, command, notify)).await?;
    c.init(name, false).await?;
    let id = c.inspect_value(name).await?["Id"].as_str().context("inspect has no Id")?.to_string();
    let dir = s.scratch.join(name);
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(format!("/run/berth/bundles/{id}/config.json"), dir.join("config.json"))
        .context("copying berth's config.json (run root /run/berth)")?;
    c.remove(name, true, Some(0)).await?;
    Ok(dir)
}

/// crun in a transient unit, started by systemd-run, which returns once the
/// start job is done: for Type=exec when crun has been exec'd, for
/// Type=notify when the container sent READY=1. Also returns when crun's pid
/// file appeared, i.e. when the container's init existed (polled).
async fn floor_start(bundle: &Path, unit: &str, notify: bool) -> Result<(f64, f64)> {
    let pid = bundle.join(format!("{unit}.pid"));
    let _ = std::fs::remove_file(&pid);
    let (b, p) = (bundle.to_string_lossy(), pid.to_string_lossy());
    let typ = if notify { "Type=notify" } else { "Type=exec" };
    let unit_arg = format!("--unit={unit}");
    // KillSignal: sleep, the container's init, ignores SIGTERM.
    let argv = [
        "systemd-run", "-q", "--collect", &unit_arg, "-p", typ, "-p", "NotifyAccess=all", "-p", "KillSignal=SIGKILL",
        "crun", "--cgroup-manager=disabled", "run", "--bundle", &b, "--pid-file", &p, unit,
    ];
    let t = Instant::now();
    run(&argv).await?;
    let job = ms(t.elapsed());
    while !pid.exists() {
        if t.elapsed() > Duration::from_secs(10) {
            bail!("{unit}: no pid file after 10 s");
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Ok((job, ms(t.elapsed())))
}

async fn floor_remove(unit: &str) {
    let _ = run(&["systemctl", "stop", unit]).await;
    let _ = run(&["crun", "--cgroup-manager=disabled", "delete", "-f", unit]).await;
}

async fn podman(p: &(String, Vec<String>), verb: &str, name: &str, command: &[&str]) -> Result<f64> {
    let mut argv: Vec<&str> = vec!["podman", verb];
    match verb {
        "run" | "create" => {
            if verb == "run" {
                argv.push("-d");
            }
            argv.extend(["--name", name, "--network", "none"]);
            argv.extend(p.1.iter().map(String::as_str));
            argv.push(&p.0);
            argv.extend(command);
        }
        "stop" => argv.extend(["-t0", name]),
        "rm" => argv.extend(["-f", "-t0", name]),
        _ => argv.push(name),
    }
    timed(&argv).await
}

async fn berthd_rss_mb() -> Result<f64> {
    let pid = run(&["systemctl", "show", "-p", "MainPID", "--value", "berthd.service"]).await?;
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim()))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in berthd's status")?;
    Ok(kb / 1024.0)
}

/// A created container to running: berth's StartContainer against the floor
/// and podman.
async fn start_latency(c: &Client, s: &Setup, t: &mut Targets) -> Result<()> {
    let bundle = floor_bundle(c, s, "bench-tmpl", &SLEEP, false).await?;
    let (mut berth, mut job, mut init, mut prun, mut pstart) = (vec![], vec![], vec![], vec![], vec![]);
    let mut active = String::new();
    // Run 0 warms caches and is not counted.
    for i in 0..=s.runs {
        let (name, unit) = (format!("bench-start-{i}"), format!("bench-floor-{i}"));
        for k in 0..4 {
            match (i + k) % 4 {
                0 => {
                    c.create(&name, &spec(&s.rootfs, &SLEEP, false)).await?;
                    let t0 = Instant::now();
                    c.start(&name, false).await?;
                    berth.push(ms(t0.elapsed()));
                    c.remove(&name, true, Some(0)).await?;
                }
                1 => {
                    let (j, p) = floor_start(&bundle, &unit, false).await?;
                    if i == 0 {
                        active = run(&["systemctl", "is-active", &unit]).await.unwrap_or_else(|e| e.to_string());
                    }
                    job.push(j);
                    init.push(p);
                    floor_remove(&unit).await;
                }
                2 if s.podman.is_some() => {
                    let p = s.podman.as_ref().unwrap();
                    prun.push(podman(p, "run", &name, &SLEEP).await?);
                    podman(p, "rm", &name, &[]).await?;
                }
                3 if s.podman.is_some() => {
                    let p = s.podman.as_ref().unwrap();
                    podman(p, "create", &name, &SLEEP).await?;
                    pstart.push(podman(p, "start", &name, &[]).await?);
                    podman(p, "rm", &name, &[]).await?;
                }
                _ => {}
            }
        }
    }
    for v in [&mut berth, &mut job, &mut init, &mut prun, &mut pstart] {
        if !v.is_empty() {
            v.remove(0);
        }
    }
    head(&format!("start latency, ms: a created container to running ({} runs each)", s.runs));
    row("berth StartContainer (D-Bus, Rust client)", &berth);
    row("floor: systemd-run -p Type=exec crun run", &job);
    row("  same run, until crun's pid file exists", &init);
    if s.podman.is_some() {
        row("podman run -d", &prun);
        row("podman start", &pstart);
    }
    println!("  (systemd-run returned with the unit {}; with Type=exec that is once crun is exec'd,", active.trim());
    println!("   before the container exists: berth returns once the container's init exists)");
    row("ratio berth / floor", &ratios(&berth, &job));
    row("ratio berth / floor until pid file", &ratios(&berth, &init));
    let r = stats(&ratios(&berth, &job)).med;
    t.check("start: berth within 1.3x of the floor", format!("{r:.2}x"), r <= 1.3);
    if s.podman.is_some() {
        row("ratio podman run -d / berth", &ratios(&prun, &berth));
        row("ratio podman start / berth", &ratios(&pstart, &berth));
        let r = stats(&ratios(&prun, &berth)).med;
        t.check("start: berth 3x faster than podman run -d", format!("{r:.2}x"), r >= 3.0);
    }
    Ok(())
}

/// A container that sends READY=1 at once: until the start job is done.
async fn notify_latency(c: &Client, s: &Setup) -> Result<()> {
    let bundle = floor_bundle(c, s, "bench-tmpl-notify", &NOTIFY, true).await?;
    let (mut berth, mut floor) = (vec![], vec![]);
    for i in 0..=s.runs {
        let (name, unit) = (format!("bench-notify-{i}"), format!("bench-floor-notify-{i}"));
        for k in 0..2 {
            if (i + k) % 2 == 0 {
                c.create(&name, &spec(&s.rootfs, &NOTIFY, true)).await?;
                let t0 = Instant::now();
                c.start(&name, false).await?;
                berth.push(ms(t0.elapsed()));
                c.remove(&name, true, Some(0)).await?;
            } else {
                floor.push(floor_start(&bundle, &unit, true).await?.0);
                floor_remove(&unit).await;
            }
        }
    }
    berth.remove(0);
    floor.remove(0);
    head(&format!("notify container (READY=1 at once), ms until the start job is done ({} runs each)", s.runs));
    row("berth StartContainer, Notify=true", &berth);
    row("floor: systemd-run -p Type=notify crun run", &floor);
    row("ratio berth / floor", &ratios(&berth, &floor));
    Ok(())
}

/// create + start + stop + remove, one container after another.
async fn churn(c: &Client, s: &Setup, t: &mut Targets) -> Result<()> {
    let (mut berth, mut pod) = (vec![], vec![]);
    for i in 0..s.churn {
        let name = format!("bench-churn-{i}");
        for k in 0..2 {
            let t0 = Instant::now();
            if (i + k) % 2 == 0 {
                c.create(&name, &spec(&s.rootfs, &SLEEP, false)).await?;
                c.start(&name, false).await?;
                c.stop(&name, Some(0)).await?;
                c.remove(&name, false, None).await?;
                berth.push(ms(t0.elapsed()));
            } else if let Some(p) = &s.podman {
                podman(p, "create", &name, &SLEEP).await?;
                podman(p, "start", &name, &[]).await?;
                podman(p, "stop", &name, &[]).await?;
                podman(p, "rm", &name, &[]).await?;
                pod.push(ms(t0.elapsed()));
            }
        }
    }
    let rate = |v: &[f64]| v.len() as f64 / (v.iter().sum::<f64>() / 1e3);
    head(&format!("lifecycle churn: create + start + stop -t0 + rm of {} containers, ms per container", s.churn));
    row("berth (Rust client, one call each)", &berth);
    println!("  {:<44} {:>9.1}", "  berth containers/s", rate(&berth));
    if !pod.is_empty() {
        row("podman create, start, stop -t0, rm", &pod);
        println!("  {:<44} {:>9.1}", "  podman containers/s", rate(&pod));
        let r = rate(&berth) / rate(&pod);
        t.check("churn: berth 3x podman's throughput", format!("{r:.2}x"), r >= 3.0);
    }
    Ok(())
}

/// Many StartContainer calls at once.
async fn parallel(c: &Client, s: &Setup, t: &mut Targets) -> Result<()> {
    let names: Vec<String> = (0..s.parallel).map(|i| format!("bench-par-{i}")).collect();
    for n in &names {
        c.create(n, &spec(&s.rootfs, &SLEEP, false)).await?;
    }
    let t0 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for n in names.clone() {
        let c = c.clone();
        set.spawn(async move { c.start(&n, false).await.map_err(|e| format!("{n}: {e}")) });
    }
    let mut failed = vec![];
    while let Some(r) = set.join_next().await {
        if let Err(e) = r? {
            failed.push(e);
        }
    }
    let wall = ms(t0.elapsed());
    let running = c.list().await?.iter().filter(|l| l.name.starts_with("bench-par-") && l.state == "running").count();
    let t0 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for n in names {
        let c = c.clone();
        set.spawn(async move { c.remove(&n, true, Some(0)).await });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    let removed = ms(t0.elapsed());
    println!("\n{} StartContainer calls at once", s.parallel);
    println!("  {:<44} {:>9.0}", "wall time, ms", wall);
    println!("  {:<44} {:>9}", "running afterwards", running);
    println!("  {:<44} {:>9.0}", "then all removed at once (force, t=0), ms", removed);
    for e in &failed {
        println!("  failed: {e}");
    }
    t.check(
        &format!("{} parallel starts all succeed", s.parallel),
        format!("{} failed, {running} running", failed.len()),
        failed.is_empty() && running == s.parallel,
    );
    Ok(())
}

/// ListContainers and a property Get with many containers defined, and
/// berthd's memory.
async fn defined(c: &Client, s: &Setup, idle_rss: f64, t: &mut Targets) -> Result<()> {
    let names: Vec<String> = (0..s.defined).map(|i| format!("bench-def-{i:04}")).collect();
    let t0 = Instant::now();
    for n in &names {
        c.create(n, &spec(&s.rootfs, &SLEEP, false)).await?;
    }
    let created = ms(t0.elapsed());
    let mut list = vec![];
    for i in 0..205 {
        let t0 = Instant::now();
        let l = c.list().await?;
        if i >= 5 {
            list.push(ms(t0.elapsed()));
        }
        if l.len() < s.defined {
            bail!("ListContainers returned {} containers, not {}", l.len(), s.defined);
        }
    }
    let path = c.object_path(&names[s.defined / 2]).await?;
    // No cache: every read is a round trip to berthd.
    let proxy = ContainerProxy::builder(c.connection())
        .path(path)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await?;
    let mut get = vec![];
    for i in 0..205 {
        let t0 = Instant::now();
        let st = proxy.state().await?;
        if i >= 5 {
            get.push(ms(t0.elapsed()));
        }
        if st != "configured" {
            bail!("State of a created container is {st:?}");
        }
    }
    let rss = berthd_rss_mb().await?;
    let t0 = Instant::now();
    for n in &names {
        c.remove(n, false, None).await?;
    }
    let removed = ms(t0.elapsed());
    let after = berthd_rss_mb().await?;

    println!("\n{} containers defined (created, not started); round trips in ms (200 calls)", s.defined);
    println!("  {:<44} {:>9} {:>9} {:>9}", "", "median", "p99", "max");
    for (label, v) in [("ListContainers", &list), ("Get State of one container", &get)] {
        let st = stats(v);
        println!("  {label:<44} {:>9.2} {:>9.2} {:>9.2}", st.med, st.p99, st.max);
    }
    println!("  {:<44} {:>9.0}", format!("CreateContainer x {}, ms", s.defined), created);
    println!("  {:<44} {:>9.0}", format!("RemoveContainer x {}, ms", s.defined), removed);
    println!("  berthd VmRSS, MB: idle, no containers {idle_rss:.1}; with {} defined {rss:.1}; all removed again {after:.1}", s.defined);
    let med = stats(&list).med;
    t.check(&format!("ListContainers, {} defined: median < 5 ms", s.defined), format!("{med:.2} ms"), med < 5.0);
    t.check(&format!("berthd RSS, {} defined: < 30 MB", s.defined), format!("{rss:.1} MB"), rss < 30.0);
    Ok(())
}

fn lines(out: &str) -> usize {
    out.bytes().filter(|&b| b == b'\n').count()
}

async fn journal_entries() -> Result<u64> {
    let h = run(&["journalctl", "--header"]).await?;
    Ok(h.lines().filter_map(|l| l.strip_prefix("Entry objects:")).filter_map(|v| v.trim().parse::<u64>().ok()).sum())
}

/// Lines through the journal: a container's output in, `berthctl logs` and
/// `journalctl` out.
async fn logs(c: &Client, s: &Setup, t: &mut Targets) -> Result<()> {
    let name = "bench-log";
    let unit = format!("berth-{name}.service");
    let noise = |k: usize| {
        let n = (s.noise_lines / 2).to_string();
        async move {
            let unit = format!("--unit=bench-noise-{k}");
            let argv = ["systemd-run", "-q", "--wait", "--collect", &unit, "-p", "LogRateLimitIntervalSec=0", "/usr/bin/seq", "1", &n];
            run(&argv).await
        }
    };
    // Other units' lines before and after the container's, so that its
    // last lines are not the journal's last.
    noise(0).await?;
    let n = s.log_lines.to_string();
    c.create(name, &spec(&s.rootfs, &["/bin/seq", "1", &n], false)).await?;
    let t0 = Instant::now();
    c.start(name, false).await?;
    // The monitor exits only once journald has read all the container wrote.
    let code = c.wait(name, &[], None).await?;
    let fill = t0.elapsed().as_secs_f64();
    if code != 0 {
        bail!("{name} exited with {code}");
    }
    noise(1).await?;
    let entries = journal_entries().await?;

    let (mut berth, mut jctl) = (vec![], vec![]);
    for i in 0..=s.runs {
        for k in 0..2 {
            let t0 = Instant::now();
            if (i + k) % 2 == 0 {
                let out = run(&["berthctl", "logs", "--tail", "100", name]).await?;
                berth.push(ms(t0.elapsed()));
                if lines(&out) != 100 {
                    bail!("berthctl logs --tail 100 printed {} lines", lines(&out));
                }
            } else {
                run(&["journalctl", "--no-pager", "-u", &unit, "-n", "100", "-o", "cat"]).await?;
                jctl.push(ms(t0.elapsed()));
            }
        }
    }
    berth.remove(0);
    jctl.remove(0);

    let (mut berth_all, mut jctl_all, mut got) = (vec![], vec![], 0);
    for i in 0..3 {
        for k in 0..2 {
            let t0 = Instant::now();
            if (i + k) % 2 == 0 {
                got = lines(&run(&["berthctl", "logs", name]).await?);
                berth_all.push(got as f64 / t0.elapsed().as_secs_f64());
            } else {
                let out = run(&["journalctl", "--no-pager", "-u", &unit, "-o", "cat"]).await?;
                jctl_all.push(lines(&out) as f64 / t0.elapsed().as_secs_f64());
            }
        }
    }
    c.remove(name, false, None).await?;

    println!("\nlogs: a container printed {} lines; the journal holds {entries} entries", s.log_lines);
    println!("  {:<44} {:>9.0}", "container -> journal, lines/s (seq to exit)", s.log_lines as f64 / fill);
    head(&format!("  last 100 lines, ms ({} runs each)", s.runs));
    row("berthctl logs --tail 100", &berth);
    row("journalctl -u UNIT -n 100 -o cat", &jctl);
    head("  every line read back, lines/s (3 runs each)");
    row("berthctl logs", &berth_all);
    row("journalctl -u UNIT -o cat", &jctl_all);
    println!("  berthctl logs printed {got} of the {} lines", s.log_lines);
    let med = stats(&berth).med;
    t.check(&format!("logs --tail 100, {entries} entries: < 100 ms"), format!("{med:.1} ms"), med < 100.0);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let s = Setup::from_env()?;
    let c = Client::system().await?;
    let idle_rss = berthd_rss_mb().await?;
    println!("berth {} (berthd runtime {})", c.manager().version().await?, c.manager().runtime().await?);
    let mut t = Targets::default();
    start_latency(&c, &s, &mut t).await?;
    notify_latency(&c, &s).await?;
    churn(&c, &s, &mut t).await?;
    parallel(&c, &s, &mut t).await?;
    defined(&c, &s, idle_rss, &mut t).await?;
    logs(&c, &s, &mut t).await?;
    println!("\ntargets");
    for (what, measured, pass) in &t.0 {
        println!("  {what:<44} {measured:>29}  {}", verdict(*pass));
    }
    Ok(())
}
