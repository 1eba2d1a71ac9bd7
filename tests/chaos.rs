//! Chaos: random operations on a dozen containers while berthd is
//! SIGKILLed at random points, with crun and runc. After every restart and
//! at the end berth's state and exit codes must equal what systemd and the
//! exit files say, no container may be lost, duplicated or stuck, and after
//! removing everything nothing may be left: no unit, process, cgroup,
//! bundle or runtime state.
//!
//! Seeded: the seed is printed; `BERTH_CHAOS_SEED=N` replays a run, and
//! `BERTH_CHAOS_OPS` / `BERTH_CHAOS_KILLS` change its length.

mod common;

use berth::client::Client;
use berth::model::{ContainerInfo, OptionValue, State};
use common::{daemon_lock, ok, run};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// xorshift64*: small, seeded, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Scripts the containers run: long runners, ones that exit on their own
/// with various codes, and one that ignores SIGTERM.
/// Each starts with a marker, so that a leftover process is found by name.
const SCRIPTS: [&str; 5] = [
    ": berth-chaos; trap 'exit 0' TERM; while true; do sleep 0.1; done",
    ": berth-chaos; sleep 0.3; exit 3",
    ": berth-chaos; sleep 1; exit 0",
    ": berth-chaos; trap '' TERM; while true; do sleep 0.1; done",
    ": berth-chaos; sleep 2; kill -9 $$",
];

#[derive(Debug, Clone, Copy)]
enum Op {
    Create,
    Start,
    Stop,
    Kill,
    Pause,
    Unpause,
    Restart,
    Update,
    Remove,
    ForceRemove,
}

const OPS: [Op; 10] = [Op::Create, Op::Start, Op::Stop, Op::Kill, Op::Pause, Op::Unpause, Op::Restart, Op::Update, Op::Remove, Op::ForceRemove];

async fn apply(c: &Client, op: Op, name: &str, rootfs: &str, runtime: &str, rng_pick: u64) -> berth::model::Result<()> {
    match op {
        Op::Create => {
            let o: BTreeMap<String, OptionValue> = [
                ("Rootfs".to_string(), OptionValue::Str(rootfs.into())),
                ("Command".to_string(), OptionValue::StrList(vec!["/bin/sh".into(), "-c".into(), SCRIPTS[rng_pick as usize % SCRIPTS.len()].into()])),
                ("Runtime".to_string(), OptionValue::Str(runtime.into())),
                ("StopTimeout".to_string(), OptionValue::U32(0)),
            ]
            .into();
            c.create(name, &o).await.map(drop)
        }
        Op::Start => c.start(name, false).await,
        Op::Stop => c.stop(name, Some(rng_pick as u32 % 2)).await,
        Op::Kill => c.kill(name, [9, 15, 2][rng_pick as usize % 3]).await,
        Op::Pause => c.pause(name).await,
        Op::Unpause => c.unpause(name).await,
        Op::Restart => c.restart(name, Some(0)).await,
        Op::Update => {
            let o: BTreeMap<String, OptionValue> = [("MemoryMax".to_string(), OptionValue::U64((64 + rng_pick % 64) << 20))].into();
            c.update(name, &o).await
        }
        Op::Remove => c.remove(name, false, None).await,
        Op::ForceRemove => c.remove(name, true, Some(0)).await,
    }
}

/// Errors a random operation may meet: refusals by state, names that do
/// not exist (yet or any more), a call cut by the kill of berthd.
fn acceptable(e: &berth::model::Error) -> bool {
    matches!(
        e.name(),
        "InvalidState" | "AlreadyStopped" | "NoSuchContainer" | "ContainerExists" | "Removed" | "Bus" | "Canceled"
    ) || e.to_string().contains("failed to start")
}

/// What the exit file says of a container's last run.
fn exit_file(id: &str) -> Option<(i32, u64)> {
    let data = std::fs::read(format!("/run/berth/exits/{id}")).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&data).ok()?;
    Some((v["exit_code"].as_i64()? as i32, v["finished_at"].as_u64()?))
}

fn payload_frozen(unit: &str) -> bool {
    let cg = ok("systemctl", &["show", "-p", "ControlGroup", "--value", unit]);
    berth::runtime::cgroup::payload_frozen(cg.trim())
}

/// berth agrees with systemd and the exit file about one container (asked
/// after a Sync; a container may change under us, so the caller retries).
fn agrees(info: &ContainerInfo) -> Result<(), String> {
    let unit = format!("berth-{}.service", info.name);
    let (active, sub) = common::unit_state(&unit);
    let st = info.state.status;
    match active.as_str() {
        "active" => {
            let want = if payload_frozen(&unit) { State::Paused } else { State::Running };
            if st != want {
                return Err(format!("{}: unit active, berth says {st}", info.name));
            }
        }
        "activating" | "deactivating" | "reloading" => return Err(format!("{}: unit {active}/{sub}, in flux", info.name)),
        _ => {
            if st.is_live() || st == State::Removing {
                return Err(format!("{}: unit {active}/{sub}, berth says {st}", info.name));
            }
            if matches!(st, State::Stopped | State::Exited) {
                if let Some((code, finished)) = exit_file(&info.id) {
                    if finished >= info.state.started_at && code != info.state.exit_code {
                        return Err(format!("{}: exit file says {code}, berth {}", info.name, info.state.exit_code));
                    }
                }
            }
        }
    }
    Ok(())
}

async fn check_all(c: &Client, prefix: &str) {
    let mut last = String::new();
    for _ in 0..60 {
        let listed = c.list().await.unwrap();
        let mut names: Vec<&str> = listed.iter().filter(|l| l.name.starts_with(prefix)).map(|l| l.name.as_str()).collect();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n, "a container is listed twice");
        let mut bad = Vec::new();
        for name in names {
            let _ = c.sync(name).await;
            match c.info(name).await {
                Ok(info) => {
                    if let Err(e) = agrees(&info) {
                        bad.push(e);
                    }
                }
                Err(e) if e.name() == "NoSuchContainer" => {}
                Err(e) => bad.push(format!("{name}: {e}")),
            }
        }
        if bad.is_empty() {
            return;
        }
        last = bad.join("; ");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("berth and systemd disagree: {last}");
}

async fn chaos(runtime: &str) {
    let f = common::installed();
    let _g = daemon_lock().write().await;
    let seed: u64 = std::env::var("BERTH_CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).unwrap();
        u64::from_le_bytes(b) | 1
    });
    let ops: u64 = std::env::var("BERTH_CHAOS_OPS").ok().and_then(|s| s.parse().ok()).unwrap_or(500);
    let kills: u64 = std::env::var("BERTH_CHAOS_KILLS").ok().and_then(|s| s.parse().ok()).unwrap_or(25);
    eprintln!("chaos with {runtime}: seed {seed} (replay: BERTH_CHAOS_SEED={seed}), {ops} operations, {kills} kills of berthd");
    let mut rng = Rng(seed);
    let prefix = format!("chaos-{runtime}-{}-", std::process::id());
    let names: Vec<String> = (0..12).map(|i| format!("{prefix}{i}")).collect();
    let mut c = Client::system().await.unwrap();
    // A kill every ops/kills operations, at a random moment of the call.
    let every = (ops / kills).max(1);
    let (mut done_kills, mut unexpected) = (0, Vec::new());
    for i in 0..ops {
        let name = &names[rng.below(names.len() as u64) as usize];
        let op = OPS[rng.below(OPS.len() as u64) as usize];
        let pick = rng.next();
        if i % every == every - 1 && done_kills < kills {
            let delay = rng.below(40);
            let call = {
                let (c, name, rootfs, runtime) = (c.clone(), name.clone(), f.rootfs.clone(), runtime.to_string());
                tokio::spawn(async move { apply(&c, op, &name, &rootfs, &runtime, pick).await })
            };
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let t0 = std::time::Instant::now();
            common::crash_berthd();
            eprintln!("kill {done_kills} during {op:?} after {delay} ms: berthd back in {:?}", t0.elapsed());
            done_kills += 1;
            let _ = call.await;
            c = Client::system().await.unwrap();
            check_all(&c, &prefix).await;
            continue;
        }
        if let Err(e) = apply(&c, op, name, &f.rootfs, runtime, pick).await {
            if !acceptable(&e) {
                unexpected.push(format!("{op:?} {name}: {e}"));
            }
        }
    }
    check_all(&c, &prefix).await;
    assert!(unexpected.is_empty(), "seed {seed}: unexpected errors: {unexpected:#?}");
    assert!(done_kills >= kills.min(ops), "only {done_kills} kills");

    // Remove everything: nothing may be left behind.
    let mut ids = Vec::new();
    for l in c.list().await.unwrap().into_iter().filter(|l| l.name.starts_with(&prefix)) {
        ids.push(l.id.clone());
        c.remove(&l.name, true, Some(0)).await.unwrap_or_else(|e| panic!("seed {seed}: rm -f {}: {e}", l.name));
    }
    let units = ok("systemctl", &["list-units", "--all", "--no-legend", &format!("berth-{prefix}*")]);
    assert!(units.trim().is_empty(), "seed {seed}: units left: {units}");
    let cgroups = run("sh", &["-c", &format!("ls -d /sys/fs/cgroup/system.slice/berth-{prefix}* 2>/dev/null")]);
    assert!(cgroups.stdout.is_empty(), "seed {seed}: cgroups left: {}", String::from_utf8_lossy(&cgroups.stdout));
    for id in &ids {
        for p in [format!("/run/berth/bundles/{id}"), format!("/run/berth/exits/{id}"), format!("/run/berth/crun/{}", &id[..32]), format!("/run/berth/runc/{}", &id[..32])] {
            assert!(!Path::new(&p).exists(), "seed {seed}: {p} left behind");
        }
    }
    let procs = run("pgrep", &["-f", ": berth-chaos;"]);
    assert!(procs.stdout.is_empty(), "seed {seed}: container processes left: {}", String::from_utf8_lossy(&procs.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_crun() {
    chaos("crun").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_runc() {
    chaos("runc").await;
}
