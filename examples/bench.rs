//! The measurements behind `systemd/bench`. Run that script, not this: it
//! installs berth, starts berthd, and makes the root file system, the static
//! sdnotify and the podman image this expects (BENCH_* variables, below).
//!
//! Contenders run interleaved, one run of each in turn (the order rotating),
//! so that a slow moment of a shared machine falls on all of them alike, and
//! every ratio is taken between runs made side by side.

#[path = "../tests/image_fixture/mod.rs"]
#[allow(dead_code)]
mod fixture;

use anyhow::{bail, Context, Result};
use berth::client::{Client, ContainerProxy};
use berth::model::{ExecConfig, LogOptions, OptionValue};
use std::os::unix::fs::OpenOptionsExt;
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
    /// BENCH_ONLY: the sections to run (comma-separated); None: all.
    only: Option<Vec<String>>,
    /// BENCH_IMAGE_ROUNDS: imports of the big image, each side.
    image_rounds: usize,
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
            runs: count("BENCH_RUNS", 30)?,
            churn: count("BENCH_CHURN", 200)?,
            parallel: count("BENCH_PARALLEL", 50)?,
            defined: count("BENCH_DEFINED", 1000)?,
            log_lines: count("BENCH_LOG_LINES", 900_000)?,
            noise_lines: count("BENCH_NOISE_LINES", 100_000)?,
            only: var("BENCH_ONLY").map(|v| v.split(',').map(|x| x.trim().to_string()).collect()),
            image_rounds: count("BENCH_IMAGE_ROUNDS", 3)?,
        })
    }

    /// Whether BENCH_ONLY lets section `name` run.
    fn runs(&self, name: &str) -> bool {
        self.only.as_ref().is_none_or(|o| o.iter().any(|x| x == name))
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

/// A container without network (lo only), as the floor and podman
/// (`--network none`) run theirs; the network section adds its own.
fn spec(rootfs: &str, command: &[&str], notify: bool) -> BTreeMap<String, OptionValue> {
    BTreeMap::from([
        ("Rootfs".into(), OptionValue::Str(rootfs.into())),
        ("Command".into(), OptionValue::StrList(command.iter().map(|s| s.to_string()).collect())),
        ("Notify".into(), OptionValue::Bool(notify)),
        ("Network".into(), OptionValue::Str("none".into())),
    ])
}

/// A bridged container's start against a `Network=none` one, interleaved;
/// where the bridged start's extra time goes: inside the unit (the monitor's
/// network setup: netns, netavark setup, hosts files), and what one iptables
/// call costs here (netavark 1.4 runs iptables once per rule).
async fn network_latency(c: &Client, s: &Setup, t: &mut Targets) -> Result<()> {
    let (mut none, mut bridged, mut setup, mut ports, mut none_unit) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut pnone, mut pbridged) = (vec![], vec![]);
    for i in 0..=s.runs {
        // podman on the same netavark: `podman start` of a created
        // container, without a network and on podman's default bridge.
        if let Some(p) = &s.podman {
            for network in ["none", "bridge"] {
                let name = format!("bench-pnet-{i}-{network}");
                let mut argv = vec!["podman", "create", "--name", &name, "--network", network];
                argv.extend(p.1.iter().map(String::as_str));
                argv.push(&p.0);
                argv.extend(SLEEP);
                run(&argv).await?;
                let ms = timed(&["podman", "start", &name]).await?;
                if i > 0 {
                    if network == "none" { &mut pnone } else { &mut pbridged }.push(ms);
                }
                podman(p, "rm", &name, &[]).await?;
                settle().await;
            }
        }
        for k in 0..3 {
            let name = format!("bench-net-{i}-{k}");
            let mut o = spec(&s.rootfs, &SLEEP, false);
            match (i + k) % 3 {
                0 => {}
                1 => {
                    o.remove("Network");
                }
                _ => {
                    o.remove("Network");
                    o.insert("Ports".into(), OptionValue::StrList(vec!["80".into()]));
                }
            }
            c.create(&name, &o).await?;
            let p = berth_start(c, &name).await?;
            if i > 0 {
                match (i + k) % 3 {
                    0 => none.push(p.total),
                    1 => bridged.push(p.total),
                    _ => ports.push(p.total),
                }
            }
            if i > 0 {
                // The unit's own phase (start until active) holds the
                // monitor's network setup.
                match (i + k) % 3 {
                    0 => none_unit.push(p.unit),
                    1 => setup.push(p.unit),
                    _ => {}
                }
            }
            c.remove(&name, true, Some(0)).await?;
            settle().await;
        }
    }
    let mut iptables = Vec::new();
    for _ in 0..s.runs {
        iptables.push(timed(&["iptables", "-w", "-t", "nat", "-S", "POSTROUTING"]).await?);
    }
    head(&format!("network: start latency, ms, a bridged container against Network=none ({} runs each)", s.runs));
    row("Network=none", &none);
    row("bridge (the default network berth)", &bridged);
    row("bridge with a published port (-p 80)", &ports);
    row("  the unit starting, Network=none", &none_unit);
    row("  the unit starting, bridge (network setup)", &setup);
    row("  one iptables call (iptables -t nat -S)", &iptables);
    row("ratio bridge / none", &ratios(&bridged, &none));
    row("ratio bridge -p 80 / none", &ratios(&ports, &none));
    if s.podman.is_some() {
        row("podman start, --network none", &pnone);
        row("podman start, --network bridge", &pbridged);
        row("ratio podman bridge / none", &ratios(&pbridged, &pnone));
        row("ratio podman start bridge / berth bridge", &ratios(&pbridged, &bridged));
    }
    let r = stats(&ratios(&bridged, &none)).med;
    t.check("network: bridged start within 1.5x of none", format!("{r:.2}x"), r <= 1.5);
    Ok(())
}

/// The floor runs the very config.json that berth writes, so that both
/// start the same container.
async fn floor_bundle(c: &Client, s: &Setup, name: &str, command: &[&str], notify: bool) -> Result<PathBuf> {
    c.create(name, &spec(&s.rootfs, command, notify)).await?;
    c.init(name, false).await?;
    let id = c.info(name).await?.id;
    let dir = s.scratch.join(name);
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(format!("/run/berth/bundles/{id}/config.json"), dir.join("config.json"))
        .context("copying berth's config.json (run root /run/berth)")?;
    c.remove(name, true, Some(0)).await?;
    Ok(dir)
}

/// One start, split by systemd's own times of the unit (CLOCK_MONOTONIC,
/// like ours): the call until the unit leaves "inactive", until it is
/// active, and until the caller has its answer.
#[derive(Clone, Copy)]
struct Phases {
    total: f64,
    before: f64,
    unit: f64,
    after: f64,
}

fn monotonic_ms() -> f64 {
    let mut ts = nix::libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec it is given.
    unsafe { nix::libc::clock_gettime(nix::libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

async fn phases(unit: &str, t0: f64, t1: f64) -> Result<Phases> {
    let (exit, active) = ("InactiveExitTimestampMonotonic", "ActiveEnterTimestampMonotonic");
    let out = run(&["systemctl", "show", "-p", exit, "-p", active, unit]).await?;
    let get = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('=')?.parse::<f64>().ok())
            .map(|usec| usec / 1e3)
            .with_context(|| format!("{unit}: no {k}"))
    };
    let (exit, active) = (get(exit)?, get(active)?);
    Ok(Phases { total: t1 - t0, before: exit - t0, unit: active - exit, after: t1 - active })
}

fn totals(v: &[Phases]) -> Vec<f64> {
    v.iter().map(|p| p.total).collect()
}

fn breakdown(label: &str, v: &[Phases]) {
    let med = |f: fn(&Phases) -> f64| stats(&v.iter().map(f).collect::<Vec<_>>()).med;
    println!("  {label:<44} {:>9.2} {:>9.2} {:>9.2}", med(|p| p.before), med(|p| p.unit), med(|p| p.after));
}

fn breakdown_head() {
    println!("  where the time goes (medians, ms): the call until systemd starts the unit, the unit");
    println!("  starting until active (READY=1, or exec for Type=exec), active until the caller returns");
    println!("  {:<44} {:>9} {:>9} {:>9}", "", "to unit", "unit", "to caller");
}

async fn berth_start(c: &Client, name: &str) -> Result<Phases> {
    let t0 = monotonic_ms();
    c.start(name, false).await?;
    let t1 = monotonic_ms();
    phases(&format!("berth-{name}.service"), t0, t1).await
}

/// crun in a transient unit, started by systemd-run, which returns once the
/// start job is done: for Type=exec when crun has been exec'd, for
/// Type=notify when the container sent READY=1. Also returns when crun's pid
/// file appeared, i.e. when the container's init existed (polled).
async fn floor_start(bundle: &Path, unit: &str, notify: bool) -> Result<(Phases, f64)> {
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
    let t0 = monotonic_ms();
    run(&argv).await?;
    let t1 = monotonic_ms();
    while !pid.exists() {
        if monotonic_ms() - t0 > 10_000.0 {
            bail!("{unit}: no pid file after 10 s");
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let init = monotonic_ms() - t0;
    Ok((phases(unit, t0, t1).await?, init))
}

async fn floor_remove(unit: &str) {
    let _ = run(&["systemctl", "stop", unit]).await;
    let _ = run(&["crun", "--cgroup-manager=disabled", "delete", "-f", unit]).await;
}

/// Wait until the machine is quiet again: conmon runs `podman container
/// cleanup` in the background after a container exits, and berthd re-reads
/// units after changes; neither may land in the next contender's time.
async fn settle() {
    let busy = || {
        std::fs::read_dir("/proc").into_iter().flatten().flatten().any(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "podman")
        })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    for _ in 0..100 {
        if !busy() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
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
    berthd_status_mb("VmRSS").await
}

/// berthd's thread count.
async fn berthd_threads() -> Result<f64> {
    berthd_status("Threads").await
}

/// A created container to running: berth's StartContainer against the floor
/// and podman.
async fn start_latency(c: &Client, s: &Setup, t: &mut Targets) -> Result<()> {
    let bundle = floor_bundle(c, s, "bench-tmpl", &SLEEP, false).await?;
    let (mut berth, mut job, mut init, mut prun, mut pstart) = (vec![], vec![], vec![], vec![], vec![]);
    let mut active = String::new();
    // Run 0 warms caches and is not counted.
    for i in 0..=s.runs {
        let (name, unit, keep) = (format!("bench-start-{i}"), format!("bench-floor-{i}"), i > 0);
        for k in 0..4 {
            match (i + k) % 4 {
                0 => {
                    c.create(&name, &spec(&s.rootfs, &SLEEP, false)).await?;
                    let p = berth_start(c, &name).await?;
                    if keep {
                        berth.push(p);
                    }
                    c.remove(&name, true, Some(0)).await?;
                }
                1 => {
                    let (j, p) = floor_start(&bundle, &unit, false).await?;
                    if i == 0 {
                        active = run(&["systemctl", "is-active", &unit]).await.unwrap_or_else(|e| e.to_string());
                    }
                    if keep {
                        job.push(j);
                        init.push(p);
                    }
                    floor_remove(&unit).await;
                }
                2 if s.podman.is_some() => {
                    let p = s.podman.as_ref().unwrap();
                    let t = podman(p, "run", &name, &SLEEP).await?;
                    if keep {
                        prun.push(t);
                    }
                    podman(p, "rm", &name, &[]).await?;
                }
                3 if s.podman.is_some() => {
                    let p = s.podman.as_ref().unwrap();
                    podman(p, "create", &name, &SLEEP).await?;
                    let t = podman(p, "start", &name, &[]).await?;
                    if keep {
                        pstart.push(t);
                    }
                    podman(p, "rm", &name, &[]).await?;
                }
                _ => continue,
            }
            settle().await;
        }
    }
    let (berth_phases, job_phases) = (berth, job);
    let (berth, job) = (totals(&berth_phases), totals(&job_phases));
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
    breakdown_head();
    breakdown("berth", &berth_phases);
    breakdown("floor, Type=exec", &job_phases);
    bus_breakdown(c, s, 5).await
}

/// `busctl monitor`, which stamps every message on the bus: it tells the
/// time spent inside berthd (and systemd) from the caller's own.
struct BusMonitor {
    child: tokio::process::Child,
    log: PathBuf,
}

impl BusMonitor {
    async fn start(s: &Setup) -> Result<Self> {
        // Into a file, line-buffered: a pipe read only at the end would fill
        // up and stall the monitor, and busctl is killed at the end.
        std::fs::create_dir_all(&s.scratch)?;
        let log = s.scratch.join("bus.json");
        let child = Command::new("stdbuf")
            .args(["-oL", "busctl", "monitor", "--json=short"])
            .stdout(std::fs::File::create(&log)?)
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(BusMonitor { child, log })
    }

    /// Every message seen, with its time in ms.
    async fn stop(mut self) -> Result<Vec<(f64, serde_json::Value)>> {
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.child.kill().await?;
        let out = std::fs::read_to_string(&self.log)?;
        let msgs = out.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok());
        Ok(msgs.map(|m| (m["timestamp-realtime"].as_f64().unwrap_or(0.0) / 1e3, m)).collect())
    }
}

fn unique_name(c: &Client) -> Result<String> {
    Ok(c.connection().unique_name().context("no unique name")?.to_string())
}

/// berthd's own share of a start, from the bus: StartContainer's arrival,
/// berthd's StartTransientUnit and systemd's answer, the start job's
/// JobRemoved, and berthd's reply. Separate starts: the monitor slows the bus.
async fn bus_breakdown(c: &Client, s: &Setup, n: usize) -> Result<()> {
    let mon = BusMonitor::start(s).await?;
    for i in 0..n {
        let name = format!("bench-bus-{i}");
        c.create(&name, &spec(&s.rootfs, &SLEEP, false)).await?;
        c.start(&name, false).await?;
        c.remove(&name, true, Some(0)).await?;
        settle().await;
    }
    let msgs = mon.stop().await?;
    let me = unique_name(c)?;
    let (mut pre, mut stu, mut job, mut post) = (vec![], vec![], vec![], vec![]);
    // Per start: (call, its cookie), (StartTransientUnit, its cookie), its answer, JobRemoved.
    let (mut call, mut tu, mut tu_ret, mut removed) = ((0.0, 0), (0.0, 0, serde_json::Value::Null), 0.0, 0.0);
    for (ts, m) in msgs {
        let (cookie, reply) = (m["cookie"].as_u64().unwrap_or(0), m["reply_cookie"].as_u64().unwrap_or(0));
        match (m["type"].as_str().unwrap_or(""), m["member"].as_str().unwrap_or("")) {
            ("method_call", "StartContainer") if m["sender"] == me.as_str() => call = (ts, cookie),
            ("method_call", "StartTransientUnit") => tu = (ts, cookie, m["sender"].clone()),
            ("method_return", _) if reply == tu.1 && m["destination"] == tu.2 => tu_ret = ts,
            ("signal", "JobRemoved") if m["payload"]["data"][2].as_str().is_some_and(|u| u.starts_with("berth-bench-bus-")) => {
                removed = ts
            }
            ("method_return", _) if reply == call.1 && m["destination"] == me.as_str() => {
                pre.push(tu.0 - call.0);
                stu.push(tu_ret - tu.0);
                job.push(removed - tu_ret);
                post.push(ts - removed);
            }
            _ => {}
        }
    }
    if pre.is_empty() {
        println!("  (busctl monitor saw no StartContainer: no bus breakdown)");
        return Ok(());
    }
    println!("  berth's starts on the bus (busctl monitor; {} more starts, medians, ms)", pre.len());
    for (label, v) in [
        ("StartContainer in -> StartTransientUnit out (berthd: GetUnit, ResetFailedUnit, bundle)", &pre),
        ("StartTransientUnit -> its reply (systemd: unit made, job queued)", &stu),
        ("reply -> JobRemoved (systemd starts the unit: monitor, crun, pid file, READY=1)", &job),
        ("JobRemoved -> StartContainer's reply (berthd: record saved, events)", &post),
    ] {
        println!("    {label:<84} {:>6.2}", stats(v).med);
    }
    Ok(())
}

/// `exec` of /bin/true in a running container, round trip, as a user types
/// it: berthctl against podman exec, berth's D-Bus calls, and crun's own
/// exec in berth's container (the floor: no supervisor at all).
async fn exec_latency(c: &Client, s: &Setup, t: &mut Targets) -> Result<()> {
    let (name, pname) = ("bench-exec", "bench-exec-podman");
    c.create(name, &spec(&s.rootfs, &SLEEP, false)).await?;
    c.start(name, false).await?;
    let id = c.info(name).await?.id;
    // The runtime's id of the container (RunLayout::runtime_id) and the
    // runtime root berthd gives crun.
    let runtime_id = &id[..32.min(id.len())];
    let floor = ["crun", "--root", "/run/berth/crun", "--cgroup-manager=disabled", "exec", runtime_id, "/bin/true"];
    let cli = ["berthctl", "exec", name, "/bin/true"];
    let pod = ["podman", "exec", pname, "/bin/true"];
    if let Some(p) = &s.podman {
        podman(p, "run", pname, &SLEEP).await?;
    }
    let config = ExecConfig { command: vec!["/bin/true".into()], ..Default::default() };
    let (mut berth, mut api, mut crun, mut pexec) = (vec![], vec![], vec![], vec![]);
    // The D-Bus round trip by call: ExecCreate, ExecStart, ExecWait.
    let mut calls: [Vec<f64>; 3] = Default::default();
    for i in 0..=s.runs {
        let keep = i > 0;
        for k in 0..4 {
            let v = match (i + k) % 4 {
                0 => (timed(&cli).await?, &mut berth),
                1 => {
                    let t0 = Instant::now();
                    let session = c.exec_create(name, &config).await?;
                    let t1 = Instant::now();
                    c.exec_start(name, &session).await?;
                    let t2 = Instant::now();
                    let code = c.exec_wait(name, &session, Some(Duration::from_secs(10))).await?;
                    if code != 0 {
                        bail!("/bin/true in an exec session exited with {code}");
                    }
                    if keep {
                        for (v, d) in calls.iter_mut().zip([t1 - t0, t2 - t1, t2.elapsed()]) {
                            v.push(ms(d));
                        }
                    }
                    (ms(t0.elapsed()), &mut api)
                }
                2 => (timed(&floor).await?, &mut crun),
                3 if s.podman.is_some() => (timed(&pod).await?, &mut pexec),
                _ => continue,
            };
            if keep {
                v.1.push(v.0);
            }
            settle().await;
        }
    }
    head(&format!("exec latency, ms: /bin/true in a running container, round trip ({} runs each)", s.runs));
    row("berthctl exec", &berth);
    row("berth ExecCreate, ExecStart, ExecWait (D-Bus)", &api);
    for (label, v) in ["  of which ExecCreate", "  ExecStart (the monitor spawns crun exec)", "  ExecWait (until the session's end)"].iter().zip(&calls) {
        row(label, v);
    }
    row("floor: crun exec", &crun);
    row("ratio berthctl exec / crun exec", &ratios(&berth, &crun));
    if s.podman.is_some() {
        row("podman exec", &pexec);
        row("ratio podman exec / berthctl exec", &ratios(&pexec, &berth));
        let r = stats(&ratios(&pexec, &berth)).med;
        t.check("exec: berthctl 3x faster than podman exec", format!("{r:.2}x"), r >= 3.0);
        podman(s.podman.as_ref().unwrap(), "rm", pname, &[]).await?;
    }
    c.remove(name, true, Some(0)).await?;
    Ok(())
}

/// A container that sends READY=1 at once: until the start job is done.
async fn notify_latency(c: &Client, s: &Setup) -> Result<()> {
    let bundle = floor_bundle(c, s, "bench-tmpl-notify", &NOTIFY, true).await?;
    let (mut berth, mut floor) = (vec![], vec![]);
    // Run 0 warms caches and is not counted.
    for i in 0..=s.runs {
        let (name, unit) = (format!("bench-notify-{i}"), format!("bench-floor-notify-{i}"));
        for k in 0..2 {
            if (i + k) % 2 == 0 {
                c.create(&name, &spec(&s.rootfs, &NOTIFY, true)).await?;
                let p = berth_start(c, &name).await?;
                if i > 0 {
                    berth.push(p);
                }
                c.remove(&name, true, Some(0)).await?;
            } else {
                let (p, _) = floor_start(&bundle, &unit, true).await?;
                if i > 0 {
                    floor.push(p);
                }
                floor_remove(&unit).await;
            }
            settle().await;
        }
    }
    let (berth_phases, floor_phases) = (berth, floor);
    let (berth, floor) = (totals(&berth_phases), totals(&floor_phases));
    head(&format!("notify container (READY=1 at once), ms until the start job is done ({} runs each)", s.runs));
    row("berth StartContainer, Notify=true", &berth);
    row("floor: systemd-run -p Type=notify crun run", &floor);
    row("ratio berth / floor", &ratios(&berth, &floor));
    breakdown_head();
    breakdown("berth, Notify=true", &berth_phases);
    breakdown("floor, Type=notify", &floor_phases);
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
                settle().await;
            } else if let Some(p) = &s.podman {
                podman(p, "create", &name, &SLEEP).await?;
                podman(p, "start", &name, &[]).await?;
                podman(p, "stop", &name, &[]).await?;
                podman(p, "rm", &name, &[]).await?;
                pod.push(ms(t0.elapsed()));
                settle().await;
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
    let running = c.list().await?.iter().filter(|l| l.name.starts_with("bench-par-") && l.state == berth::model::State::Running).count();
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
    // More calls, seen on the bus: call to reply there is berthd's time
    // (and the broker's); the rest of the round trip is the client's.
    let mon = BusMonitor::start(s).await?;
    let mut watched = vec![];
    for _ in 0..20 {
        let t0 = Instant::now();
        c.list().await?;
        watched.push(ms(t0.elapsed()));
    }
    let me = unique_name(c)?;
    let (mut calls, mut served) = (BTreeMap::new(), vec![]);
    for (ts, m) in mon.stop().await? {
        if m["member"] == "ListContainers" && m["sender"] == me.as_str() {
            calls.insert(m["cookie"].as_u64(), ts);
        } else if m["type"] == "method_return" && m["destination"] == me.as_str() {
            served.extend(calls.get(&m["reply_cookie"].as_u64()).map(|t| ts - t));
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
    // berthd's start with this many containers: loading the records and
    // reconciling them with systemd all happen before it says READY=1,
    // which is when `systemctl restart` returns.
    let mut restarts = vec![];
    for _ in 0..5 {
        restarts.push(timed(&["systemctl", "restart", "berthd.service"]).await?);
    }
    let c = &Client::system().await?;
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
    if !served.is_empty() {
        println!(
            "  ListContainers seen on the bus (busctl monitor, {} more calls): in berthd {:.2} of {:.2} ms",
            served.len(),
            stats(&served).med,
            stats(&watched).med
        );
    }
    row(&format!("berthd start-up with {} containers, ms", s.defined), &restarts);
    println!("  {:<44} {:>9.0}", format!("CreateContainer x {}, ms", s.defined), created);
    println!("  {:<44} {:>9.0}", format!("RemoveContainer x {}, ms", s.defined), removed);
    println!("  berthd VmRSS, MB: idle, no containers {idle_rss:.1}; with {} defined {rss:.1}; all removed again {after:.1}", s.defined);
    let med = stats(&list).med;
    t.check(&format!("ListContainers, {} defined: median < 5 ms", s.defined), format!("{med:.2} ms"), med < 5.0);
    t.check(&format!("berthd RSS, {} defined: < 30 MB", s.defined), format!("{rss:.1} MB"), rss < 30.0);
    let start = stats(&restarts).med;
    t.check(&format!("start-up reconcile, {} containers: < 1 s", s.defined), format!("{start:.0} ms"), start < 1000.0);
    Ok(())
}

/// No client can stall the others or keep berthd's memory: ListContainers
/// while a logs reader never drains its pipe, and berthd's memory after
/// clients that left 1,000 Wait calls behind.
async fn isolation(c: &Client, s: &Setup, t: &mut Targets) -> Result<()> {
    let chatty = "bench-chatty";
    c.create(chatty, &spec(&s.rootfs, &["/bin/sh", "-c", "seq 1 200000; exec /bin/sleep 1000"], false)).await?;
    c.start(chatty, false).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rd, wr) = nix::unistd::pipe()?;
    let stalled = {
        let c = c.clone();
        tokio::spawn(async move {
            use std::os::fd::AsFd;
            c.logs(chatty, wr.as_fd(), &berth::model::LogOptions::default()).await
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let other = Client::system().await?;
    let mut list = vec![];
    for _ in 0..200 {
        let t0 = Instant::now();
        other.list().await?;
        list.push(ms(t0.elapsed()));
    }
    drop(rd);
    let _ = stalled.await;
    c.remove(chatty, true, Some(0)).await?;

    let waited = "bench-waited";
    c.create(waited, &spec(&s.rootfs, &SLEEP, false)).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = berthd_rss_mb().await?;
    let idle_threads = berthd_threads().await?;
    let mut clients = vec![];
    let mut calls = vec![];
    for _ in 0..16 {
        let cl = Client::system().await?;
        for _ in 0..63 {
            let cl = cl.clone();
            calls.push(tokio::spawn(async move { cl.wait(waited, &[], None).await }));
        }
        clients.push(cl);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let busy = berthd_rss_mb().await?;
    let busy_threads = berthd_threads().await?;
    for call in &calls {
        call.abort();
    }
    drop(calls);
    // The callers hang up (a dropped connection may linger in its tasks).
    for cl in clients {
        let _ = cl.connection().clone().close().await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = berthd_rss_mb().await?;
    let after_threads = berthd_threads().await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let later = berthd_rss_mb().await?;
    c.remove(waited, false, None).await?;

    println!("
isolation: one client stalls a logs stream; 16 clients leave 1008 Wait calls behind");
    println!("  {:<44} {:>9} {:>9} {:>9}", "", "median", "p99", "max");
    let st = stats(&list);
    println!("  {:<44} {:>9.2} {:>9.2} {:>9.2}", "ListContainers meanwhile, ms", st.med, st.p99, st.max);
    println!("  berthd VmRSS, MB: before the waits {idle:.1}; with 1008 waits {busy:.1}; after their clients left {after:.1}, 10 s later {later:.1}");
    println!("  berthd threads: before {idle_threads}; with the waits {busy_threads}; after {after_threads}");
    t.check("ListContainers p99, a logs reader stalled: < 10 ms", format!("{:.2} ms", st.p99), st.p99 < 10.0);
    t.check("RSS after waiting clients left: within 1 MB", format!("{:+.2} MB", after - idle), after - idle <= 1.0);
    Ok(())
}

fn lines(out: &str) -> usize {
    out.bytes().filter(|&b| b == b'\n').count()
}

async fn journal_entries() -> Result<u64> {
    let h = run(&["journalctl", "--header"]).await?;
    Ok(h.lines().filter_map(|l| l.strip_prefix("Entry objects:")).filter_map(|v| v.trim().parse::<u64>().ok()).sum())
}

/// Lines a reader counted: newlines of text, or records of the framed format.
fn count_text(mut r: std::fs::File) -> usize {
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0;
    loop {
        match std::io::Read::read(&mut r, &mut buf) {
            Ok(0) | Err(_) => return n,
            Ok(k) => n += buf[..k].iter().filter(|&&b| b == b'\n').count(),
        }
    }
}

fn count_framed(mut r: std::fs::File) -> usize {
    use berth::model::log_frame::{Flow, FrameDecoder};
    let mut buf = vec![0u8; 1 << 20];
    let mut d = FrameDecoder::new();
    let mut n = 0;
    loop {
        match std::io::Read::read(&mut r, &mut buf) {
            Ok(0) | Err(_) => return n,
            Ok(k) => {
                let _ = d.push(&buf[..k], &mut |_| {
                    n += 1;
                    Flow::Continue(())
                });
            }
        }
    }
}

/// One Logs call on D-Bus from this process, its lines counted by `count`
/// on a thread of their own (as a client reads them); lines and seconds.
async fn dbus_logs(c: &Client, name: &str, o: &LogOptions, count: fn(std::fs::File) -> usize) -> Result<(usize, f64)> {
    use std::os::fd::AsFd;
    let t0 = Instant::now();
    let (r, w) = nix::unistd::pipe()?;
    let reader = tokio::task::spawn_blocking(move || count(std::fs::File::from(r)));
    c.logs(name, w.as_fd(), o).await?;
    drop(w);
    let n = reader.await?;
    Ok((n, t0.elapsed().as_secs_f64()))
}

/// libberth: a C client's view of berthd's Logs, through the very
/// functions of include/berth.h. libberth blocks on a runtime of its own:
/// call it outside this program's (block_in_place, or threads of its own).
mod clib {
    use anyhow::{bail, Result};
    use berth::capi::{berth_log_callback, berth_log_line, berth_logs_options};
    use berth::model::ErrorKind;
    use std::ffi::{c_char, c_int, c_void, CString};

    // The handles as C sees them: opaque.
    #[allow(non_camel_case_types)]
    #[repr(C)]
    pub struct berth_client {
        _opaque: [u8; 0],
    }
    #[allow(non_camel_case_types)]
    #[repr(C)]
    pub struct berth_logs {
        _opaque: [u8; 0],
    }

    // As include/berth.h declares them.
    extern "C" {
        fn berth_client_new(out: *mut *mut berth_client) -> ErrorKind;
        fn berth_client_free(client: *mut berth_client);
        fn berth_last_error_message() -> *mut c_char;
        fn berth_string_free(s: *mut c_char);
        fn berth_client_logs(
            client: *const berth_client,
            name: *const c_char,
            options: *const berth_logs_options,
            callback: berth_log_callback,
            userdata: *mut c_void,
        ) -> ErrorKind;
        fn berth_logs_new(
            client: *const berth_client,
            name: *const c_char,
            options: *const berth_logs_options,
            out: *mut *mut berth_logs,
        ) -> ErrorKind;
        fn berth_logs_read(logs: *const berth_logs, callback: berth_log_callback, userdata: *mut c_void) -> ErrorKind;
        fn berth_logs_cancel(logs: *const berth_logs);
        fn berth_logs_free(logs: *mut berth_logs);
    }
    use std::sync::mpsc::Sender;
    use std::time::Instant;

    /// A line and when it reached the reader.
    pub type Arrival = (Vec<u8>, Instant);

    pub struct Client(*mut berth_client);
    // SAFETY: the header allows a berth_client in several threads at once.
    unsafe impl Send for Client {}
    unsafe impl Sync for Client {}

    fn check(r: ErrorKind, what: &str) -> Result<()> {
        if r != ErrorKind::Ok {
            // SAFETY: berth_last_error_message never returns NULL; the string is ours to free.
            let text = unsafe {
                let m = berth_last_error_message();
                let t = std::ffi::CStr::from_ptr(m).to_string_lossy().into_owned();
                berth_string_free(m);
                t
            };
            bail!("{what}: {r:?}: {text}");
        }
        Ok(())
    }

    impl Client {
        pub fn new() -> Result<Self> {
            let mut c = std::ptr::null_mut();
            // SAFETY: `c` is an out-parameter.
            check(unsafe { berth_client_new(&mut c) }, "berth_client_new")?;
            Ok(Client(c))
        }
    }

    impl Drop for Client {
        fn drop(&mut self) {
            // SAFETY: from berth_client_new, freed once (its runtime is
            // dropped there, outside this program's).
            tokio::task::block_in_place(|| unsafe { berth_client_free(self.0) });
        }
    }

    unsafe extern "C" fn count(userdata: *mut c_void, _line: *const berth_log_line) -> c_int {
        // SAFETY: userdata is the usize passed below, on this thread.
        unsafe { *userdata.cast::<usize>() += 1 };
        0
    }

    /// berth_client_logs() with a callback that counts; lines.
    pub fn read_all(c: &Client, name: &str) -> Result<usize> {
        let name = CString::new(name)?;
        let mut n = 0usize;
        // SAFETY: a live client, a C string, a callback and its userdata for the call.
        let userdata = (&mut n as *mut usize).cast();
        let r = unsafe { berth_client_logs(c.0, name.as_ptr(), std::ptr::null(), Some(count), userdata) };
        check(r, "berth_client_logs")?;
        Ok(n)
    }

    unsafe extern "C" fn arrived(userdata: *mut c_void, line: *const berth_log_line) -> c_int {
        let at = Instant::now();
        // SAFETY: userdata is the Sender passed below; the line is valid during the call.
        let (tx, l) = unsafe { (&*userdata.cast::<Sender<Arrival>>(), &*line) };
        // SAFETY: `line` holds `len` bytes.
        let bytes = unsafe { std::slice::from_raw_parts(l.line.cast::<u8>(), l.len) }.to_vec();
        let _ = tx.send((bytes, at));
        0
    }

    /// A follow of only new lines on a berth_logs handle; each line and
    /// when it came go to `tx`. Returns the handle (for the cancel) and the
    /// thread that reads, which ends with the read's result.
    pub fn follow(c: &Client, name: &str, tx: Sender<Arrival>) -> Result<(Logs, std::thread::JoinHandle<ErrorKind>)> {
        let name = CString::new(name)?;
        let o = berth_logs_options { follow: true, tail: 0, ..Default::default() };
        let mut logs = std::ptr::null_mut();
        // SAFETY: a live client, a C string, options and an out-parameter.
        check(unsafe { berth_logs_new(c.0, name.as_ptr(), &o, &mut logs) }, "berth_logs_new")?;
        let handle = Logs(logs);
        let reading = Logs(logs);
        let t = std::thread::spawn(move || {
            let reading = reading;
            let mut tx = tx;
            // SAFETY: the handle lives until `free`, after this read; `tx` lives through the call.
            unsafe { berth_logs_read(reading.0, Some(arrived), (&mut tx as *mut Sender<Arrival>).cast()) }
        });
        Ok((handle, t))
    }

    /// A berth_logs handle; freed by whoever calls `free` after its read ended.
    pub struct Logs(*mut berth_logs);
    // SAFETY: the header allows berth_logs_cancel() from any thread while a read runs.
    unsafe impl Send for Logs {}

    impl Logs {
        pub fn cancel(&self) {
            // SAFETY: the handle is not freed yet.
            unsafe { berth_logs_cancel(self.0) };
        }

        pub fn free(self) {
            // SAFETY: its read has ended; freed once.
            unsafe { berth_logs_free(self.0) };
        }
    }
}

/// One follower's view of the follow-latency run.
struct Followed {
    label: &'static str,
    /// Its name in the targets.
    short: &'static str,
    /// ms from each write until the line reached it.
    lat: Vec<f64>,
    /// The lines written that never reached it.
    missing: Vec<usize>,
}

/// The follow latency: a container that copies what the bench writes into
/// a FIFO to its standard output, and at once followers of its lines
/// (berthctl logs -f, the Logs method on D-Bus, libberth's callback, and
/// journalctl -f for comparison); for each, the time from the write until
/// the line reached it, in ms. Then how fast a cancelled libberth follow
/// returns.
async fn follow_latency(c: &Client, s: &Setup) -> Result<(Vec<Followed>, Vec<f64>)> {
    use std::io::{BufRead, Write};
    use std::sync::mpsc;
    use clib::Arrival;
    let name = "bench-follow";
    let dir = s.scratch.join("fifo");
    std::fs::create_dir_all(&dir)?;
    let fifo = dir.join("in");
    let _ = std::fs::remove_file(&fifo);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))?;
    let mut o = spec(&s.rootfs, &["/bin/cat", "/data/in"], false);
    o.insert("Volumes".into(), OptionValue::StrList(vec![format!("{}:/data", dir.display())]));
    c.create(name, &o).await?;
    c.start(name, false).await?;
    let id_match = format!("CONTAINER_ID_FULL={}", c.info(name).await?.id);

    let lines_of = |out: Box<dyn std::io::Read + Send>, tx: mpsc::Sender<Arrival>| {
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(out).split(b'\n').map_while(|l| l.ok()) {
                if tx.send((l, Instant::now())).is_err() {
                    break;
                }
            }
        })
    };
    let mut followers: Vec<(&'static str, &'static str, mpsc::Receiver<Arrival>)> = Vec::new();
    let mut children = Vec::new();
    for (label, short, argv) in [
        ("berthctl logs -f -n 0", "berthctl", vec!["berthctl", "logs", "-f", "-n", "0", name]),
        ("journalctl -f -n 0 -o cat CONTAINER_ID_FULL=", "journalctl",
            vec!["journalctl", "-f", "-n", "0", "-o", "cat", &id_match]),
    ] {
        let mut child =
            std::process::Command::new(argv[0]).args(&argv[1..]).stdout(Stdio::piped()).stdin(Stdio::null()).spawn()?;
        let (tx, rx) = mpsc::channel();
        lines_of(Box::new(child.stdout.take().context("stdout")?), tx);
        children.push(child);
        followers.push((label, short, rx));
    }
    // The Logs method, read by this process.
    let (tx, rx) = mpsc::channel();
    let (r, w) = nix::unistd::pipe()?;
    lines_of(Box::new(std::fs::File::from(r)), tx);
    let call = tokio::spawn({
        let c = c.clone();
        async move {
            use std::os::fd::AsFd;
            let o = LogOptions { follow: true, tail: Some(0), ..Default::default() };
            let r = c.logs(name, w.as_fd(), &o).await;
            drop(w);
            r
        }
    });
    followers.push(("Logs on D-Bus (follow, text)", "D-Bus", rx));
    let cc = tokio::task::block_in_place(clib::Client::new)?;
    let (tx, rx) = mpsc::channel();
    let (logs, reading) = clib::follow(&cc, name, tx)?;
    followers.push(("libberth berth_logs_read (callback)", "libberth", rx));
    // Every follower has its journal open and waits.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let rounds = s.runs.max(10) * 4;
    let mut writer = None;
    for _ in 0..100 {
        match std::fs::OpenOptions::new().write(true).custom_flags(nix::libc::O_NONBLOCK).open(&fifo) {
            Ok(f) => {
                writer = Some(f);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let mut writer = writer.context("the container did not open its FIFO")?;
    let mut sent = Vec::new();
    for i in 0..rounds {
        let t0 = Instant::now();
        writer.write_all(format!("lat-{i}\n").as_bytes())?;
        sent.push(t0);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    drop(writer);
    // berth's followers must see every line; journalctl -f, the yardstick,
    // is reported with what it saw.
    let mut out = Vec::new();
    for (label, short, rx) in &followers {
        let (mut lat, mut seen) = (Vec::new(), vec![false; rounds]);
        while lat.len() < rounds {
            let Ok((line, at)) = rx.recv_timeout(Duration::from_secs(10)) else { break };
            let i: usize = String::from_utf8_lossy(&line)
                .strip_prefix("lat-")
                .and_then(|n| n.parse().ok())
                .filter(|&i| i < rounds)
                .context("a line not written")?;
            seen[i] = true;
            lat.push(ms(at.duration_since(sent[i])));
        }
        let missing: Vec<usize> = (0..rounds).filter(|&i| !seen[i]).collect();
        if !missing.is_empty() && *short != "journalctl" {
            bail!("{label}: got {} of {rounds} lines", lat.len());
        }
        if lat.is_empty() {
            bail!("{label}: got none of {rounds} lines");
        }
        out.push(Followed { label, short, lat, missing });
    }
    // cat saw the end of its input: the container exits, and with it
    // berthd's followers.
    for mut ch in children {
        let _ = ch.kill();
        let _ = ch.wait();
    }
    let ended = tokio::time::timeout(Duration::from_secs(10), call).await;
    ended.context("the Logs follow did not end with the container")???;
    let r = tokio::task::block_in_place(|| reading.join());
    let r = r.map_err(|_| anyhow::anyhow!("the libberth reader panicked"))?;
    if r != berth::model::ErrorKind::Ok {
        bail!("the libberth follow ended with {r:?}");
    }
    tokio::task::block_in_place(|| logs.free());
    c.wait(name, &[], Some(Duration::from_secs(10))).await?;

    // Cancel: a follow of a quiet container, cancelled from this thread.
    let mut o = spec(&s.rootfs, &SLEEP, false);
    o.insert("StopTimeout".into(), OptionValue::U32(1));
    let quiet = "bench-cancel";
    c.create(quiet, &o).await?;
    c.start(quiet, false).await?;
    let mut cancel = Vec::new();
    for _ in 0..20 {
        let (tx, _rx) = mpsc::channel();
        let (logs, reading) = clib::follow(&cc, quiet, tx)?;
        tokio::time::sleep(Duration::from_millis(150)).await;
        let t0 = Instant::now();
        logs.cancel();
        let r = tokio::task::block_in_place(|| reading.join()).map_err(|_| anyhow::anyhow!("the reader panicked"))?;
        cancel.push(ms(t0.elapsed()));
        if r != berth::model::ErrorKind::Canceled {
            bail!("a cancelled follow ended with {r:?}");
        }
        tokio::task::block_in_place(|| logs.free());
    }
    drop(cc);
    c.remove(quiet, true, Some(0)).await?;
    c.remove(name, false, None).await?;
    Ok((out, cancel))
}

/// Lines through the journal and back: a container's output in; out
/// through berthd (berthctl logs, the Logs method on D-Bus, libberth's
/// callback) against journalctl on the same container; then the follow
/// latency and the cancel of a follow.
async fn logs(c: &Client, s: &Setup, t: &mut Targets) -> Result<()> {
    let name = "bench-log";
    let unit = format!("berth-{name}.service");
    let noise = |k: usize| {
        let n = (s.noise_lines / 2).to_string();
        async move {
            let unit = format!("bench-noise-{k}");
            let arg = format!("--unit={unit}");
            run(&["systemd-run", "-q", "--wait", "--collect", &arg, "/usr/bin/seq", "1", &n]).await?;
            // The unit ends before journald has read all it wrote: wait for
            // the last line, so that this does not overlap what follows.
            for _ in 0..600 {
                if run(&["journalctl", "-u", &unit, "-n", "1", "-o", "cat"]).await?.trim() == n {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            bail!("{unit}: journald did not take in its {n} lines within 60 s")
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
    let id = c.info(name).await?.id;
    let id_match = format!("CONTAINER_ID_FULL={id}");

    // The last 100 lines: berthctl against journalctl with berthd's match
    // (and with -u, as people type it), interleaved.
    let tail = LogOptions { tail: Some(100), ..Default::default() };
    let (mut ctl, mut jctl, mut jctl_u, mut bus) = (vec![], vec![], vec![], vec![]);
    for i in 0..=s.runs {
        for k in 0..4 {
            let t0 = Instant::now();
            match (i + k) % 4 {
                0 => {
                    let out = run(&["berthctl", "logs", "--tail", "100", name]).await?;
                    ctl.push(ms(t0.elapsed()));
                    if lines(&out) != 100 {
                        bail!("berthctl logs --tail 100 printed {} lines", lines(&out));
                    }
                }
                1 => {
                    run(&["journalctl", "--no-pager", "-n", "100", "-o", "cat", &id_match]).await?;
                    jctl.push(ms(t0.elapsed()));
                }
                2 => {
                    run(&["journalctl", "--no-pager", "-u", &unit, "-n", "100", "-o", "cat"]).await?;
                    jctl_u.push(ms(t0.elapsed()));
                }
                _ => {
                    let (n, secs) = dbus_logs(c, name, &tail, count_text).await?;
                    bus.push(secs * 1e3);
                    if n != 100 {
                        bail!("Logs with Tail 100 wrote {n} lines");
                    }
                }
            }
        }
    }
    for v in [&mut ctl, &mut jctl, &mut jctl_u, &mut bus] {
        v.remove(0);
    }

    // Every line, lines/s.
    let framed = LogOptions { format: berth::model::LogFormat::Framed, ..Default::default() };
    let cc = tokio::task::block_in_place(clib::Client::new)?;
    let (mut ctl_all, mut jctl_all, mut jctl_u_all) = (vec![], vec![], vec![]);
    let (mut bus_all, mut framed_all, mut clib_all) = (vec![], vec![], vec![]);
    let mut got = (0, 0, 0, 0);
    for i in 0..3 {
        for k in 0..6 {
            let t0 = Instant::now();
            match (i + k) % 6 {
                0 => {
                    got.0 = lines(&run(&["berthctl", "logs", name]).await?);
                    ctl_all.push(got.0 as f64 / t0.elapsed().as_secs_f64());
                }
                1 => {
                    let out = run(&["journalctl", "--no-pager", "-o", "cat", &id_match]).await?;
                    jctl_all.push(lines(&out) as f64 / t0.elapsed().as_secs_f64());
                }
                2 => {
                    let out = run(&["journalctl", "--no-pager", "-u", &unit, "-o", "cat"]).await?;
                    jctl_u_all.push(lines(&out) as f64 / t0.elapsed().as_secs_f64());
                }
                3 => {
                    let (n, secs) = dbus_logs(c, name, &LogOptions::default(), count_text).await?;
                    got.1 = n;
                    bus_all.push(n as f64 / secs);
                }
                4 => {
                    let (n, secs) = dbus_logs(c, name, &framed, count_framed).await?;
                    got.2 = n;
                    framed_all.push(n as f64 / secs);
                }
                _ => {
                    let n = tokio::task::block_in_place(|| clib::read_all(&cc, name))?;
                    got.3 = n;
                    clib_all.push(n as f64 / t0.elapsed().as_secs_f64());
                }
            }
        }
    }
    drop(cc);
    c.remove(name, false, None).await?;
    let (follow, cancel) = follow_latency(c, s).await?;

    println!("\nlogs: a container printed {} lines; the journal holds {entries} entries", s.log_lines);
    println!("  {:<44} {:>9.0}", "container -> journal, lines/s (seq to exit)", s.log_lines as f64 / fill);
    head(&format!("  last 100 lines, ms ({} runs each)", s.runs));
    row("berthctl logs --tail 100", &ctl);
    row("Logs on D-Bus, Tail 100 (this process)", &bus);
    row("journalctl -n 100 -o cat CONTAINER_ID_FULL=", &jctl);
    row("journalctl -u UNIT -n 100 -o cat", &jctl_u);
    row("ratio berthctl / journalctl (same match)", &ratios(&ctl, &jctl));
    head("  every line read back, lines/s (3 runs each)");
    row("berthctl logs", &ctl_all);
    row("Logs on D-Bus, text (this process)", &bus_all);
    row("Logs on D-Bus, framed (this process)", &framed_all);
    row("libberth berth_client_logs (callback)", &clib_all);
    row("journalctl -o cat CONTAINER_ID_FULL=", &jctl_all);
    row("journalctl -u UNIT -o cat", &jctl_u_all);
    row("ratio berthctl / journalctl (same match)", &ratios(&ctl_all, &jctl_all));
    let (a, b, f, l) = got;
    println!("  read back: berthctl {a}, D-Bus text {b}, framed {f}, libberth {l} of the {} lines", s.log_lines);
    let written = follow[0].lat.len() + follow[0].missing.len();
    head(&format!("  follow latency, ms: a write in the container until the line is at the reader ({written} lines)"));
    for f in &follow {
        row(f.label, &f.lat);
        if !f.missing.is_empty() {
            println!("    ({} saw {} of the {written} lines; not lat-{:?})", f.short, f.lat.len(), f.missing);
        }
    }
    head("  a libberth follow cancelled from another thread, ms until berth_logs_read() returns (20 runs)");
    row("berth_logs_cancel() -> berth_logs_read() returns", &cancel);

    let (c_all, j_all) = (stats(&ctl_all).med, stats(&jctl_all).med);
    t.check("logs, every line: berthctl >= 1.0x journalctl", format!("{:.2}x", c_all / j_all), c_all >= j_all);
    let (c100, j100) = (stats(&ctl).med, stats(&jctl).med);
    let measured = format!("{:.2}x ({c100:.1} ms)", c100 / j100);
    t.check("logs --tail 100: berthctl <= 1.0x journalctl", measured, c100 <= j100);
    for f in follow.iter().filter(|f| f.short != "journalctl") {
        let med = stats(&f.lat).med;
        t.check(&format!("follow latency, {}: median < 10 ms", f.short), format!("{med:.1} ms"), med < 10.0);
    }
    let med = stats(&cancel).med;
    let max = stats(&cancel).max;
    t.check("cancel of a libberth follow: max < 100 ms", format!("{max:.1} ms (median {med:.1})"), max < 100.0);
    Ok(())
}

/// Import a file over D-Bus (its descriptor passed to ImportImage).
async fn import_file(c: &Client, path: &Path, name: Option<&str>) -> Result<Vec<String>> {
    use std::os::fd::AsFd;
    let f = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    Ok(c.import_image(f.as_fd(), name).await?)
}

/// Images: import and unpack of a big multi-layer image against `umoci
/// unpack`; the start of a container from an image against one from a
/// directory; create of a container from an image.
async fn images(c: &Client, s: &Setup, t: &mut Targets) -> Result<()> {
    let dir = s.scratch.join("images");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    // 5 layers of 400 files of 64 KiB: 128 MB unpacked, half of it noise.
    let image = fixture::bulky_image(5, 400, 64 << 10).named("latest");
    let files = fixture::oci_files(std::slice::from_ref(&image));
    let layout = dir.join("layout");
    fixture::write_dir(&layout, &files);
    let archive = dir.join("bulky.tar");
    std::fs::write(&archive, fixture::tar_of(&files))?;
    let mb = std::fs::metadata(&archive)?.len() as f64 / 1e6;
    let (mut ours, mut theirs) = (vec![], vec![]);
    for round in 0..s.image_rounds {
        for k in 0..2 {
            if (round + k) % 2 == 0 {
                let t0 = Instant::now();
                let ids = import_file(c, &archive, Some("bench-bulky")).await?;
                ours.push(ms(t0.elapsed()));
                c.remove_image(&ids[0], true).await?;
            } else {
                let bundle = dir.join("bundle");
                let _ = std::fs::remove_dir_all(&bundle);
                let layout_ref = format!("{}:latest", layout.display());
                theirs.push(timed(&["umoci", "unpack", "--image", &layout_ref, &bundle.to_string_lossy()]).await?);
                let _ = std::fs::remove_dir_all(&bundle);
            }
            settle().await;
        }
    }
    head(&format!("image import, ms: a 5-layer image, 128 MB unpacked ({mb:.0} MB oci-archive, {} rounds)", s.image_rounds));
    row("berth ImportImage (verify, unpack, sync)", &ours);
    row("umoci unpack (of the same image's layout)", &theirs);
    row("ratio berth / umoci", &ratios(&ours, &theirs));
    let r = stats(&ratios(&ours, &theirs)).med;
    t.check("image import: within 1.5x of umoci unpack", format!("{r:.2}x"), r <= 1.5);

    // The benchmark's busybox tree as an image.
    let tarball = dir.join("rootfs.tar");
    run(&["tar", "-C", &s.rootfs, "--numeric-owner", "-cf", &tarball.to_string_lossy(), "."]).await?;
    let image_id = import_file(c, &tarball, Some("bench-busybox")).await?.remove(0);
    let image_spec = |command: &[&str]| {
        BTreeMap::from([
            ("Image".to_string(), OptionValue::Str(image_id.clone())),
            ("Command".into(), OptionValue::StrList(command.iter().map(|s| s.to_string()).collect())),
            // As the directory container: the image's cost alone (the
            // network section measures the bridge's).
            ("Network".into(), OptionValue::Str("none".into())),
        ])
    };
    let (mut from_image, mut from_dir, mut creates) = (vec![], vec![], vec![]);
    for i in 0..=s.runs {
        for k in 0..2 {
            let name = format!("bench-img-{i}-{k}");
            let image = (i + k) % 2 == 0;
            let t0 = Instant::now();
            if image {
                c.create(&name, &image_spec(&SLEEP)).await?;
            } else {
                c.create(&name, &spec(&s.rootfs, &SLEEP, false)).await?;
            }
            let created = ms(t0.elapsed());
            let p = berth_start(c, &name).await?;
            if i > 0 {
                if image {
                    creates.push(created);
                    from_image.push(p);
                } else {
                    from_dir.push(p);
                }
            }
            c.remove(&name, true, Some(0)).await?;
            settle().await;
        }
    }
    let (image_phases, dir_phases) = (from_image, from_dir);
    let (from_image, from_dir) = (totals(&image_phases), totals(&dir_phases));
    head(&format!("containers from an image, ms ({} runs each)", s.runs));
    row("CreateContainer, from an image", &creates);
    row("StartContainer, from an image (overlay mount)", &from_image);
    row("StartContainer, from a directory", &from_dir);
    row("ratio image / directory", &ratios(&from_image, &from_dir));
    breakdown_head();
    breakdown("from an image", &image_phases);
    breakdown("from a directory", &dir_phases);
    let r = stats(&ratios(&from_image, &from_dir)).med;
    t.check("start: image within 1.2x of a directory", format!("{r:.2}x"), r <= 1.2);
    let m = stats(&creates).med;
    t.check("create from an image: < 5 ms", format!("{m:.2} ms"), m < 5.0);
    c.remove_image(&image_id, true).await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A field of berthd's /proc status (VmRSS, VmHWM), in MB.
async fn berthd_status_mb(field: &str) -> Result<f64> {
    Ok(berthd_status(field).await? / 1024.0)
}

/// A number of berthd's /proc status (its unit dropped).
async fn berthd_status(field: &str) -> Result<f64> {
    let pid = run(&["systemctl", "show", "-p", "MainPID", "--value", "berthd.service"]).await?;
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim()))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in berthd's status"))?;
    Ok(kb)
}

/// Copies: a 1 GB file into and out of a running container through berthd
/// (CopyFromArchive from `cat`'s pipe, CopyToArchive into a pipe that `cat`
/// writes to a file) against `cat | cat` of the same bytes, and against
/// `podman cp` where podman can run; berthd's memory before, at its peak
/// during, and after.
async fn copy(c: &Client, s: &Setup, t: &mut Targets) -> Result<()> {
    const ROUNDS: usize = 3;
    let dir = s.scratch.join("copy");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let rootfs = dir.join("rootfs");
    run(&["cp", "-a", &s.rootfs, &rootfs.to_string_lossy()]).await?;
    // 1 GiB, not one repeated byte.
    let big = dir.join("big");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&big)?);
        let mut block: Vec<u8> = (0..1u32 << 20).map(|j| (j * 7 % 251) as u8).collect();
        for i in 0..1024u64 {
            block[..8].copy_from_slice(&i.to_le_bytes());
            f.write_all(&block)?;
        }
    }
    let tarball = dir.join("big.tar");
    run(&["tar", "-C", &dir.to_string_lossy(), "-cf", &tarball.to_string_lossy(), "big"]).await?;
    let gb = std::fs::metadata(&big)?.len() as f64 / 1e9;
    let name = "bench-copy";
    c.create(name, &spec(&rootfs.to_string_lossy(), &SLEEP, false)).await?;
    c.start(name, false).await?;
    let in_ctr = rootfs.join("tmp/big");
    let pid = run(&["systemctl", "show", "-p", "MainPID", "--value", "berthd.service"]).await?;
    // Peak memory from here on.
    std::fs::write(format!("/proc/{}/clear_refs", pid.trim()), "5")?;
    let rss_before = berthd_status_mb("VmRSS").await?;
    let podman = match &s.podman {
        Some(p) => {
            let _ = run(&["podman", "rm", "-f", "bench-copy-podman"]).await;
            podman(p, "create", "bench-copy-podman", &SLEEP).await.ok().map(|_| p)
        }
        None => None,
    };
    let (mut b_in, mut b_out, mut f_in, mut f_out, mut p_in, mut p_out) = (vec![], vec![], vec![], vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        for k in 0..3 {
            match (round + k) % 3 {
                0 => {
                    let _ = std::fs::remove_file(&in_ctr);
                    let t0 = Instant::now();
                    let mut cat = std::process::Command::new("cat").arg(&tarball).stdout(Stdio::piped()).spawn()?;
                    let out = cat.stdout.take().context("cat's output")?;
                    use std::os::fd::AsFd;
                    c.copy_from_archive(name, "/tmp", out.as_fd(), &Default::default()).await?;
                    drop(out);
                    cat.wait()?;
                    b_in.push(ms(t0.elapsed()));
                    let back = dir.join("back.tar");
                    let t0 = Instant::now();
                    let mut sink = std::process::Command::new("sh")
                        .args(["-c", &format!("cat > {}", back.display())])
                        .stdin(Stdio::piped())
                        .spawn()?;
                    let inp = sink.stdin.take().context("cat's input")?;
                    c.copy_to_archive(name, "/tmp/big", inp.as_fd()).await?;
                    drop(inp);
                    sink.wait()?;
                    b_out.push(ms(t0.elapsed()));
                    std::fs::remove_file(&back)?;
                }
                1 => {
                    let _ = std::fs::remove_file(&in_ctr);
                    f_in.push(timed(&["sh", "-c", &format!("cat {} | cat > {}", tarball.display(), in_ctr.display())]).await?);
                    let back = dir.join("back.tar");
                    f_out.push(timed(&["sh", "-c", &format!("cat {} | cat > {}", in_ctr.display(), back.display())]).await?);
                    std::fs::remove_file(&back)?;
                }
                _ => {
                    if podman.is_some() {
                        p_in.push(timed(&["podman", "cp", &big.to_string_lossy(), "bench-copy-podman:/tmp/big"]).await?);
                        let back = dir.join("podman-back");
                        p_out.push(timed(&["podman", "cp", "bench-copy-podman:/tmp/big", &back.to_string_lossy()]).await?);
                        std::fs::remove_file(&back)?;
                    }
                }
            }
            settle().await;
        }
    }
    let rss_peak = berthd_status_mb("VmHWM").await?;
    let rss_after = berthd_status_mb("VmRSS").await?;
    c.remove(name, true, Some(0)).await?;
    if podman.is_some() {
        let _ = run(&["podman", "rm", "-f", "bench-copy-podman"]).await;
    }
    let gbs = |v: &[f64]| v.iter().map(|m| gb * 1e3 / m).collect::<Vec<_>>();
    head(&format!("copy of a {gb:.2} GB file, ms ({ROUNDS} rounds, interleaved)"));
    row("berth CopyFromArchive (from cat's pipe)", &b_in);
    row("cat | cat > file (the floor, in)", &f_in);
    row("berth CopyToArchive (into cat > file)", &b_out);
    row("cat file | cat > file (the floor, out)", &f_out);
    if podman.is_some() {
        row("podman cp host -> container", &p_in);
        row("podman cp container -> host", &p_out);
    } else {
        println!("  podman cp: not compared ({})", if s.podman.is_some() { "podman create failed here" } else { "podman cannot run containers here" });
    }
    row("berth in, GB/s", &gbs(&b_in));
    row("berth out, GB/s", &gbs(&b_out));
    println!("  berthd RSS: {rss_before:.1} MB before, peak {rss_peak:.1} MB during, {rss_after:.1} MB after");
    let r_in = stats(&ratios(&f_in, &b_in)).med;
    let r_out = stats(&ratios(&f_out, &b_out)).med;
    t.check("copy in: >= 0.7x the speed of cat | cat", format!("{r_in:.2}x"), r_in >= 0.7);
    t.check("copy out: >= 0.7x the speed of cat | cat", format!("{r_out:.2}x"), r_out >= 0.7);
    if podman.is_some() {
        let (pi, po) = (stats(&ratios(&p_in, &b_in)).med, stats(&ratios(&p_out, &b_out)).med);
        t.check("copy in: faster than podman cp", format!("{pi:.2}x podman's speed"), pi > 1.0);
        t.check("copy out: faster than podman cp", format!("{po:.2}x podman's speed"), po > 1.0);
    }
    t.check("copy: berthd's memory flat (peak - before < 64 MB)", format!("{:.1} MB", rss_peak - rss_before), rss_peak - rss_before < 64.0);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let s = Setup::from_env()?;
    let c = Client::system().await?;
    let idle_rss = berthd_rss_mb().await?;
    println!("berth {} (berthd runtime {})", c.manager().version().await?, c.manager().runtime().await?);
    let mut t = Targets::default();
    if s.runs("start") {
        start_latency(&c, &s, &mut t).await?;
    }
    if s.runs("notify") {
        notify_latency(&c, &s).await?;
    }
    if s.runs("exec") {
        exec_latency(&c, &s, &mut t).await?;
    }
    if s.runs("churn") {
        churn(&c, &s, &mut t).await?;
    }
    if s.runs("parallel") {
        parallel(&c, &s, &mut t).await?;
    }
    if s.runs("defined") {
        defined(&c, &s, idle_rss, &mut t).await?;
    }
    let c = Client::system().await?;
    if s.runs("isolation") {
        isolation(&c, &s, &mut t).await?;
    }
    if s.runs("logs") {
        logs(&c, &s, &mut t).await?;
    }
    if s.runs("network") {
        network_latency(&c, &s, &mut t).await?;
    }
    if s.runs("images") {
        images(&c, &s, &mut t).await?;
    }
    if s.runs("copy") {
        copy(&c, &s, &mut t).await?;
    }
    println!("\ntargets");
    for (what, measured, pass) in &t.0 {
        println!("  {what:<44} {measured:>29}  {}", verdict(*pass));
    }
    Ok(())
}
