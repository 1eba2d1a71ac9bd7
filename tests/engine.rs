//! The lifecycle engine against a real systemd, with crun and runc.

mod common;

use berth::engine::{Config, Engine};
use berth::model::{Error, OptionValue, State};
use berth::systemd::Systemd;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

struct Env {
    engine: Engine,
    sd: std::sync::Arc<Systemd>,
    rootfs: String,
    runtime: &'static str,
    dir: tempfile::TempDir,
}

fn config(dir: &Path) -> Config {
    Config::new(dir.join("state"), dir.join("run"), env!("CARGO_BIN_EXE_berth-monitor"))
}

async fn env(runtime: &'static str) -> Env {
    common::require_systemd();
    let dir = tempfile::tempdir().unwrap();
    let rootfs = common::busybox_rootfs(dir.path()).to_string_lossy().into_owned();
    let sd = Systemd::connect().await.unwrap();
    let engine = Engine::open(config(dir.path()), sd.clone()).await.unwrap();
    Env { engine, sd, rootfs, runtime, dir }
}

impl Env {
    fn options(&self, script: &str, extra: &[(&str, OptionValue)]) -> BTreeMap<String, OptionValue> {
        let mut o: BTreeMap<String, OptionValue> = [
            ("Rootfs".to_string(), OptionValue::Str(self.rootfs.clone())),
            ("Command".to_string(), OptionValue::StrList(vec!["/bin/sh".into(), "-c".into(), script.into()])),
            ("Runtime".to_string(), OptionValue::Str(self.runtime.into())),
        ]
        .into();
        for (k, v) in extra {
            o.insert(k.to_string(), v.clone());
        }
        o
    }

    async fn create(&self, prefix: &str, script: &str, extra: &[(&str, OptionValue)]) -> String {
        let name = common::unique(&format!("{prefix}-{}", self.runtime));
        self.engine.create(&name, &self.options(script, extra)).await.unwrap();
        name
    }

    fn state(&self, name: &str) -> State {
        self.engine.inspect(name).unwrap().state
    }

    async fn unit_active(&self, name: &str) -> Option<String> {
        self.sd.status(&format!("berth-{name}.service")).await.unwrap().map(|s| s.active_state)
    }
}

/// Runs until stopped; exits 0 on SIGTERM.
const SERVE: &str = "trap 'echo term; exit 0' TERM; echo up; while true; do sleep 0.1; done";

fn err_name<T: std::fmt::Debug>(r: Result<T, Error>) -> &'static str {
    r.expect_err("should have failed").name()
}

async fn exit_code_of_its_own(rt: &'static str) {
    let e = env(rt).await;
    let n = e.create("exit3", "echo bye; exit 3", &[]).await;
    e.engine.start(&n, false).await.unwrap();
    let rec = e.engine.wait(&n, &[], Some(Duration::from_secs(20))).await.unwrap();
    assert_eq!((rec.state, rec.exit_code), (State::Exited, Some(3)));
    assert!(e.unit_active(&n).await.is_none_or(|s| s == "inactive"), "the failed unit is reset");
    common::wait_journal(&n, "bye");
    e.engine.remove(&n, false, None).await.unwrap();
    assert_eq!(err_name(e.engine.inspect(&n)), "NoSuchContainer");
}

async fn notify_start_returns_after_ready(rt: &'static str) {
    let e = env(rt).await;
    let script = format!("sleep 1; /bin/sdnotify READY=1; {SERVE}");
    let n = e.create("notify", &script, &[("Notify", OptionValue::Bool(true))]).await;
    let t0 = Instant::now();
    let rec = e.engine.start(&n, false).await.unwrap();
    assert!(t0.elapsed() >= Duration::from_secs(1), "Start returned before READY=1: {:?}", t0.elapsed());
    assert_eq!(rec.state, State::Running);
    assert_eq!(e.state(&n), State::Running);
    let rec = e.engine.stop(&n, None).await.unwrap();
    assert_eq!((rec.state, rec.exit_code), (State::Stopped, Some(0)));
    e.engine.remove(&n, false, None).await.unwrap();
}

async fn never_ready_times_out(rt: &'static str) {
    let e = env(rt).await;
    let n = e
        .create("noready", SERVE, &[("Notify", OptionValue::Bool(true)), ("StartTimeout", OptionValue::U32(2)), ("StopTimeout", OptionValue::U32(1))])
        .await;
    let err = e.engine.start(&n, false).await.unwrap_err();
    assert_eq!(err.name(), "Timeout", "{err}");
    assert!(err.to_string().contains("READY=1"), "{err}");
    assert!(!e.state(&n).is_live());
    assert!(e.unit_active(&n).await.is_none_or(|s| s == "inactive"), "nothing left running");
    e.engine.remove(&n, false, None).await.unwrap();
}

async fn stop_escalates_to_sigkill(rt: &'static str) {
    let e = env(rt).await;
    let n = e.create("stubborn", "trap '' TERM; echo up; while true; do sleep 0.1; done", &[]).await;
    e.engine.start(&n, false).await.unwrap();
    common::wait_journal(&n, "up");
    let t0 = Instant::now();
    let rec = e.engine.stop(&n, Some(1)).await.unwrap();
    assert!(t0.elapsed() >= Duration::from_secs(1));
    assert_eq!((rec.state, rec.exit_code), (State::Stopped, Some(137)));
    assert!(e.unit_active(&n).await.is_none_or(|s| s == "inactive"), "a requested stop never leaves the unit failed");
    assert_eq!(err_name(e.engine.stop(&n, None).await), "AlreadyStopped");

    // A custom stop signal reaches the container.
    let n2 = e
        .create("usr1", "trap 'echo got-usr1; exit 7' USR1; echo up; while true; do sleep 0.1; done", &[("StopSignal", OptionValue::Str("SIGUSR1".into()))])
        .await;
    e.engine.start(&n2, false).await.unwrap();
    common::wait_journal(&n2, "up");
    let rec = e.engine.stop(&n2, None).await.unwrap();
    assert_eq!((rec.state, rec.exit_code), (State::Stopped, Some(7)));
    common::wait_journal(&n2, "got-usr1");
    for n in [n, n2] {
        e.engine.remove(&n, false, None).await.unwrap();
    }
}

/// The container once its unit's stop is over: the stop-post work (its
/// network's teardown among it) takes what it takes on a busy machine.
async fn settled(engine: &Engine, n: &str) -> berth::store::Record {
    let t = Instant::now();
    loop {
        let rec = engine.sync(n).await.unwrap();
        if rec.state != State::Stopping || t.elapsed() > Duration::from_secs(30) {
            return rec;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn exit_while_engine_is_down(rt: &'static str) {
    let e = env(rt).await;
    let n = e.create("down", "sleep 1; exit 3", &[]).await;
    e.engine.start(&n, false).await.unwrap();
    let cfg = config(e.dir.path());
    drop(e.engine);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let engine = Engine::open(cfg, e.sd.clone()).await.unwrap();
    let rec = settled(&engine, &n).await;
    assert_eq!((rec.state, rec.exit_code), (State::Exited, Some(3)));
    engine.remove(&n, false, None).await.unwrap();
}

async fn behind_our_back(rt: &'static str) {
    let e = env(rt).await;
    let n = e.create("back", SERVE, &[]).await;
    e.engine.start(&n, false).await.unwrap();
    common::wait_journal(&n, "up");
    let st = std::process::Command::new("systemctl").args(["stop", &format!("berth-{n}.service")]).status().unwrap();
    assert!(st.success());
    let rec = e.engine.wait(&n, &[], Some(Duration::from_secs(20))).await.unwrap();
    assert_eq!((rec.state, rec.exit_code), (State::Stopped, Some(0)));
    assert!(e.unit_active(&n).await.is_none_or(|s| s == "inactive"));

    e.engine.start(&n, false).await.unwrap();
    common::wait_journal(&n, "up");
    let st = std::process::Command::new("systemctl")
        .args(["kill", "--signal=KILL", &format!("berth-{n}.service")])
        .status()
        .unwrap();
    assert!(st.success());
    let rec = e.engine.wait(&n, &[], Some(Duration::from_secs(20))).await.unwrap();
    assert_eq!((rec.state, rec.exit_code), (State::Stopped, Some(137)));
    assert!(e.unit_active(&n).await.is_none_or(|s| s == "inactive"));
    e.engine.remove(&n, false, None).await.unwrap();
}

async fn pause_update_kill(rt: &'static str) {
    let e = env(rt).await;
    let n = e.create("tick", "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.05; done", &[]).await;
    e.engine.start(&n, false).await.unwrap();
    common::wait_journal(&n, "tick-3");
    assert_eq!(e.engine.pause(&n).await.unwrap().state, State::Paused);
    let unit = format!("berth-{n}.service");
    // The container's processes are frozen, not the unit (its monitor and
    // stop-post commands keep running).
    let st = e.sd.status(&unit).await.unwrap().unwrap();
    assert_eq!(st.freezer_state, "running");
    assert!(berth::runtime::cgroup::payload_frozen(&st.control_group), "the payload is frozen");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let frozen = common::journal_lines(&n).len();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(common::journal_lines(&n).len(), frozen, "output must stop while paused");
    assert_eq!(err_name(e.engine.pause(&n).await), "InvalidState");
    assert_eq!(e.engine.unpause(&n).await.unwrap().state, State::Running);
    common::wait_journal(&n, &format!("tick-{}", frozen + 3));

    let upd: BTreeMap<String, OptionValue> =
        [("MemoryMax".into(), OptionValue::U64(64 << 20)), ("CPUQuota".into(), OptionValue::U32(50))].into();
    e.engine.update(&n, &upd).await.unwrap();
    let st = e.sd.status(&unit).await.unwrap().unwrap();
    assert_eq!((st.memory_max, st.cpu_quota_per_sec_usec), (64 << 20, 500_000));
    assert_eq!(e.engine.inspect(&n).unwrap().spec.resources.memory_max, Some(64 << 20));
    let bad: BTreeMap<String, OptionValue> = [("Rootfs".into(), OptionValue::Str("/x".into()))].into();
    assert_eq!(err_name(e.engine.update(&n, &bad).await), "InvalidArgument");

    e.engine.kill(&n, 9).await.unwrap();
    let rec = e.engine.wait(&n, &[], Some(Duration::from_secs(20))).await.unwrap();
    assert_eq!((rec.state, rec.exit_code), (State::Stopped, Some(137)));
    assert!(!berth::engine::should_restart(&rec));
    e.engine.remove(&n, false, None).await.unwrap();
}

async fn dependencies(rt: &'static str) {
    let e = env(rt).await;
    let c = e.create("dep-c", SERVE, &[]).await;
    let b = e.create("dep-b", SERVE, &[("Dependencies", OptionValue::StrList(vec![c.clone()]))]).await;
    let a = e.create("dep-a", SERVE, &[("Dependencies", OptionValue::StrList(vec![b.clone()]))]).await;
    assert_eq!(err_name(e.engine.start(&a, false).await), "DependencyNotRunning");
    assert_eq!(e.state(&a), State::Configured);
    e.engine.start(&a, true).await.unwrap();
    let t: Vec<u64> = [&c, &b, &a].iter().map(|n| e.engine.inspect(n).unwrap().started_at).collect();
    assert!(t[0] < t[1] && t[1] < t[2], "dependencies start first, in order: {t:?}");
    for n in [&a, &b, &c] {
        assert_eq!(e.state(n), State::Running);
    }
    assert_eq!(err_name(e.engine.remove(&c, true, Some(0)).await), "InvalidState", "c has dependents");
    for n in [&a, &b, &c] {
        e.engine.remove(n, true, Some(1)).await.unwrap();
    }
}

/// Every verb the table rejects, in every state reachable here: the named
/// error, and the state unchanged.
async fn verbs_in_every_state(rt: &'static str) {
    let e = env(rt).await;
    let n = e.create("matrix", SERVE, &[]).await;
    let en = &e.engine;
    let none = BTreeMap::new();
    let check = |state: State| {
        assert_eq!(e.state(&n), state, "state unchanged after a rejected verb");
    };
    // configured
    assert_eq!(err_name(en.stop(&n, None).await), "InvalidState");
    assert_eq!(err_name(en.kill(&n, 15).await), "InvalidState");
    assert_eq!(err_name(en.pause(&n).await), "InvalidState");
    assert_eq!(err_name(en.unpause(&n).await), "InvalidState");
    check(State::Configured);
    // created
    en.init(&n, false).await.unwrap();
    check(State::Created);
    assert_eq!(err_name(en.init(&n, false).await), "InvalidState");
    assert_eq!(err_name(en.kill(&n, 15).await), "InvalidState");
    assert_eq!(err_name(en.pause(&n).await), "InvalidState");
    assert_eq!(err_name(en.unpause(&n).await), "InvalidState");
    check(State::Created);
    // running
    en.start(&n, false).await.unwrap();
    check(State::Running);
    assert_eq!(err_name(en.init(&n, false).await), "InvalidState");
    assert_eq!(err_name(en.start(&n, false).await), "InvalidState");
    assert_eq!(err_name(en.unpause(&n).await), "InvalidState");
    assert_eq!(err_name(en.cleanup(&n).await), "InvalidState");
    assert_eq!(err_name(en.remove(&n, false, None).await), "InvalidState");
    assert_eq!(err_name(en.kill(&n, 0).await), "InvalidArgument");
    assert_eq!(err_name(en.kill(&n, 65).await), "InvalidArgument");
    assert_eq!(err_name(en.stop(&n, Some(u32::MAX)).await), "InvalidArgument");
    en.sync(&n).await.unwrap();
    en.update(&n, &none).await.unwrap();
    check(State::Running);
    // paused
    en.pause(&n).await.unwrap();
    check(State::Paused);
    assert_eq!(err_name(en.init(&n, false).await), "InvalidState");
    assert_eq!(err_name(en.start(&n, false).await), "InvalidState");
    assert_eq!(err_name(en.pause(&n).await), "InvalidState");
    assert_eq!(err_name(en.cleanup(&n).await), "InvalidState");
    assert_eq!(err_name(en.remove(&n, false, None).await), "InvalidState");
    check(State::Paused);
    // stopped (a stop of a paused container thaws it first)
    let rec = en.stop(&n, None).await.unwrap();
    assert_eq!((rec.state, rec.exit_code), (State::Stopped, Some(0)));
    assert_eq!(err_name(en.stop(&n, None).await), "AlreadyStopped");
    assert_eq!(err_name(en.kill(&n, 9).await), "InvalidState");
    assert_eq!(err_name(en.pause(&n).await), "InvalidState");
    assert_eq!(err_name(en.unpause(&n).await), "InvalidState");
    check(State::Stopped);
    // exited (cleanup of a stopped container)
    assert_eq!(en.cleanup(&n).await.unwrap().state, State::Exited);
    assert_eq!(err_name(en.stop(&n, None).await), "AlreadyStopped");
    assert_eq!(err_name(en.kill(&n, 9).await), "InvalidState");
    assert_eq!(err_name(en.pause(&n).await), "InvalidState");
    check(State::Exited);
    // restart from exited, then restart while running
    assert_eq!(en.restart(&n, None).await.unwrap().state, State::Running);
    assert_eq!(en.restart(&n, Some(1)).await.unwrap().state, State::Running);
    en.remove(&n, true, Some(1)).await.unwrap();
    assert_eq!(err_name(en.start(&n, false).await), "NoSuchContainer");
    assert_eq!(err_name(e.engine.create(&n, &e.options("true", &[("Bogus", OptionValue::Bool(true))])).await), "InvalidArgument");
}

async fn wait_is_prompt(rt: &'static str) {
    let e = env(rt).await;
    let n = e.create("wait", "sleep 0.5; exit 42", &[]).await;
    let waiter = {
        let en = e.engine.clone();
        let n = n.clone();
        tokio::spawn(async move { en.wait(&n, &[State::Exited], None).await })
    };
    e.engine.start(&n, false).await.unwrap();
    let rec = tokio::time::timeout(Duration::from_secs(10), waiter).await.unwrap().unwrap().unwrap();
    assert_eq!(rec.exit_code, Some(42));
    e.engine.remove(&n, false, None).await.unwrap();
}

async fn start_failure_is_explained(rt: &'static str) {
    let e = env(rt).await;
    let name = common::unique(&format!("noexec-{rt}"));
    let mut o = e.options("true", &[]);
    o.insert("Command".into(), OptionValue::StrList(vec!["/no/such/program".into()]));
    e.engine.create(&name, &o).await.unwrap();
    let err = e.engine.start(&name, false).await.unwrap_err();
    assert_eq!(err.name(), "Runtime", "{err}");
    assert!(err.to_string().contains("/no/such/program"), "the runtime's own words are shown: {err}");
    assert_eq!(e.state(&name), State::Exited);
    assert!(e.unit_active(&name).await.is_none_or(|s| s == "inactive"));
    e.engine.remove(&name, false, None).await.unwrap();
}

async fn restart_policy_through_systemd(rt: &'static str) {
    let e = env(rt).await;
    // on-failure:2: systemd restarts it twice, then it stays exited.
    let n = e.create("onfail", "echo run; exit 1", &[("RestartPolicy", OptionValue::Str("on-failure:2".into()))]).await;
    e.engine.start(&n, false).await.unwrap();
    common::wait_until(Duration::from_secs(30), || common::journal_lines(&n).iter().filter(|l| *l == "run").count() == 3);
    settled(&e.engine, &n).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rec = e.engine.sync(&n).await.unwrap();
    assert_eq!((rec.state, rec.exit_code), (State::Exited, Some(1)), "{rec:?}");
    assert_eq!(common::journal_lines(&n).iter().filter(|l| *l == "run").count(), 3, "exactly two restarts");
    assert!(e.unit_active(&n).await.is_none_or(|s| s != "active"));
    e.engine.remove(&n, false, None).await.unwrap();

    // always: a crash is restarted (RestartCount from NRestarts), a kill is not.
    let n = e.create("always", "echo up; sleep 0.3; exit 2", &[("RestartPolicy", OptionValue::Str("always".into()))]).await;
    e.engine.start(&n, false).await.unwrap();
    common::wait_until(Duration::from_secs(30), || common::journal_lines(&n).iter().filter(|l| *l == "up").count() >= 2);
    let st = e.sd.status(&format!("berth-{n}.service")).await.unwrap();
    assert!(st.is_some_and(|s| s.n_restarts >= 1));
    common::wait_until(Duration::from_secs(10), || e.engine.inspect(&n).unwrap().restart_count >= 1);
    e.engine.stop(&n, Some(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!e.engine.inspect(&n).unwrap().state.is_live(), "a user's stop is never restarted");
    assert!(e.unit_active(&n).await.is_none_or(|s| s == "inactive"));
    e.engine.remove(&n, false, None).await.unwrap();
}

/// A lost connection to PID 1 fails the job waiting on it at once; the
/// engine reconnects, and the next start works.
async fn lost_systemd_connection(rt: &'static str) {
    let e = env(rt).await;
    let n = e
        .create("lostbus", SERVE, &[("Notify", OptionValue::Bool(true)), ("StartTimeout", OptionValue::U32(60))])
        .await;
    let starter = {
        let (engine, n) = (e.engine.clone(), n.clone());
        tokio::spawn(async move { engine.start(&n, false).await })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    let t0 = Instant::now();
    e.sd.connection().close().await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(10), starter).await.expect("the waiting start failed at once").unwrap();
    assert_eq!(err_name(r), "Systemd");
    assert!(t0.elapsed() < Duration::from_secs(10));
    // Reconnected: systemd answers again and a start works.
    let mut ok = false;
    for _ in 0..50 {
        if e.sd.status("berth-none.service").await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "no reconnection to systemd");
    let _ = e.engine.stop(&n, Some(0)).await;
    let m = e.create("afterlost", "exit 4", &[]).await;
    e.engine.start(&m, false).await.unwrap();
    assert_eq!(e.engine.wait(&m, &[], Some(Duration::from_secs(20))).await.unwrap().exit_code, Some(4));
    e.engine.remove(&n, true, Some(0)).await.unwrap();
    e.engine.remove(&m, false, None).await.unwrap();
}

macro_rules! both {
    ($($f:ident),*) => {
        mod crun { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $f() { super::$f("crun").await } )* }
        mod runc { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $f() { super::$f("runc").await } )* }
    };
}

both!(
    exit_code_of_its_own,
    notify_start_returns_after_ready,
    never_ready_times_out,
    stop_escalates_to_sigkill,
    exit_while_engine_is_down,
    behind_our_back,
    pause_update_kill,
    dependencies,
    verbs_in_every_state,
    wait_is_prompt,
    start_failure_is_explained,
    restart_policy_through_systemd,
    lost_systemd_connection
);
