//! berth's systemd module against a real PID 1: a transient unit whose main
//! process (berth-monitor) runs crun or runc on a busybox bundle.

mod common;

use berth::model::{new_id, ContainerName, ContainerSpec, OptionValue};
use berth::runtime::{bundle, MonitorArgs, Runtime, STOP_REQUEST_SIGNAL, USER_STOP_STATUS};
use berth::store::ExitRecord;
use berth::systemd::{JobResult, Systemd, UnitConfig, UnitEvent};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

struct Case {
    name: String,
    unit: String,
    config: UnitConfig,
    exit_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn case(runtime: &str, script: &str, notify: bool, start_timeout: Duration) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let rootfs = common::busybox_rootfs(dir.path());
    let name = common::unique(&format!("sd-{runtime}"));
    let id = new_id();
    let opts: BTreeMap<String, OptionValue> = [
        ("Rootfs".to_string(), OptionValue::Str(rootfs.to_string_lossy().into())),
        ("Command".to_string(), OptionValue::StrList(vec!["/bin/sh".into(), "-c".into(), script.into()])),
    ]
    .into();
    let spec = ContainerSpec::from_options(&opts).unwrap();
    let cname = ContainerName::new(&name).unwrap();
    let bdir = dir.path().join("bundle");
    bundle::write_config(&bdir, &bundle::config(&spec, &cname, &id).unwrap()).unwrap();
    let exit_file = dir.path().join("exit");
    let monitor = env!("CARGO_BIN_EXE_berth-monitor").to_string();
    let args = MonitorArgs {
        runtime: Runtime { program: runtime.into(), root: dir.path().join("rt"), runc: runtime == "runc" },
        bundle: bdir,
        id: id.clone(),
        exit_file: exit_file.clone(),
        stop_signal: 15,
        stop_timeout: 5,
        notify,
        ready_on_request: false,
        notify_socket: dir.path().join("notify.sock"),
        terminal: false,
        interactive: false,
        // The bundle has a network namespace of its own with lo only.
        network: None,
    };
    let mut exec_start = vec![monitor.clone()];
    exec_start.extend(args.to_args());
    let config = UnitConfig {
        description: format!("test container {name}"),
        exec_start,
        exec_stop_post: vec![vec![monitor, "record-exit".into(), format!("--exit-file={}", exit_file.display())]],
        kill_signal: STOP_REQUEST_SIGNAL,
        timeout_start_usec: start_timeout.as_micros() as u64,
        timeout_stop_usec: 30_000_000,
        syslog_identifier: name.clone(),
        name: name.clone(),
        id,
        restart: "no",
        restart_limit: None,
        user_stop_status: USER_STOP_STATUS,
        resources: Default::default(),
        dependencies: vec![],
        delegate: true,
    };
    Case { unit: cname.unit(), name, config, exit_file, _dir: dir }
}

async fn notify_waits_for_ready(runtime: &str) {
    common::require_systemd();
    let sd = Systemd::connect().await.unwrap();
    let delay = Duration::from_millis(1500);
    let script = "trap 'echo stopping; exit 0' TERM; echo hello-from-container; sleep 1.5; \
                  /bin/sdnotify READY=1; echo ready-sent; while true; do sleep 0.1; done";
    let c = case(runtime, script, true, Duration::from_secs(30));
    let t0 = Instant::now();
    let result = sd.start_transient(&c.unit, c.config.properties().unwrap()).await.unwrap();
    let took = t0.elapsed();
    assert_eq!(result, JobResult::Done);
    assert!(took >= delay, "start job finished after {took:?}, before READY=1 (sent after {delay:?})");

    let st = sd.status(&c.unit).await.unwrap().expect("unit loaded");
    assert_eq!((st.active_state.as_str(), st.sub_state.as_str()), ("active", "running"));
    // The monitor stays the main process: crun's MAINPID= is not forwarded.
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", st.main_pid)).unwrap();
    assert_eq!(comm.trim(), "berth-monitor");
    // The container's processes are inside the unit's cgroup.
    let procs = std::fs::read_to_string(format!("/proc/{}/cgroup", st.main_pid)).unwrap();
    assert!(procs.contains(&c.unit), "{procs}");

    let lines = common::wait_journal(&c.name, "ready-sent");
    assert!(lines.iter().any(|l| l == "hello-from-container"), "{lines:?}");

    let result = sd.stop(&c.unit).await.unwrap();
    assert_eq!(result, JobResult::Done);
    let exit = ExitRecord::read(&c.exit_file).unwrap().expect("exit recorded");
    assert_eq!(exit.exit_code, 0, "the container's trap exits 0");
    assert!(exit.stop_requested);
    // A requested stop never leaves the unit failed.
    if let Some(st) = sd.status(&c.unit).await.unwrap() {
        assert_ne!(st.active_state, "failed", "{st:?}");
    }
    common::wait_journal(&c.name, "stopping");
}

async fn never_ready_fails(runtime: &str) {
    common::require_systemd();
    let sd = Systemd::connect().await.unwrap();
    let c = case(runtime, "echo never-ready; while true; do sleep 0.1; done", true, Duration::from_secs(2));
    let result = sd.start_transient(&c.unit, c.config.properties().unwrap()).await.unwrap();
    assert_eq!(result, JobResult::Failed, "a container that never sends READY=1 must not be reported started");
    let st = sd.status(&c.unit).await.unwrap().expect("a failed unit stays loaded");
    assert_eq!((st.active_state.as_str(), st.result.as_str()), ("failed", "timeout"));
    assert_eq!(st.main_pid, 0, "nothing left running: {st:?}");
    sd.reset_failed(&c.unit).await.unwrap();
    assert!(sd.status(&c.unit).await.unwrap().is_none_or(|s| s.active_state == "inactive"));
}

async fn exit_status_of_its_own(runtime: &str) {
    common::require_systemd();
    let sd = Systemd::connect().await.unwrap();
    let c = case(runtime, "echo bye; exit 3", false, Duration::from_secs(30));
    let mut watch = sd.watch();
    let result = sd.start_transient(&c.unit, c.config.properties().unwrap()).await.unwrap();
    assert_eq!(result, JobResult::Done);
    // Wait for the unit to go down, driven by systemd's signals.
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let u = watch.recv().await.unwrap();
            if u == UnitEvent::Changed(c.unit.clone()) && ExitRecord::read(&c.exit_file).unwrap().is_some() {
                break;
            }
        }
    })
    .await
    .expect("the unit's end was signalled");
    let exit = ExitRecord::read(&c.exit_file).unwrap().unwrap();
    assert_eq!(exit.exit_code, 3);
    assert!(!exit.stop_requested);
    sd.reset_failed(&c.unit).await.unwrap();
}

#[tokio::test]
async fn crun_notify_waits_for_ready() {
    notify_waits_for_ready("crun").await
}
#[tokio::test]
async fn runc_notify_waits_for_ready() {
    notify_waits_for_ready("runc").await
}
#[tokio::test]
async fn crun_never_ready_fails() {
    never_ready_fails("crun").await
}
#[tokio::test]
async fn runc_never_ready_fails() {
    never_ready_fails("runc").await
}
#[tokio::test]
async fn crun_exit_status() {
    exit_status_of_its_own("crun").await
}
#[tokio::test]
async fn runc_exit_status() {
    exit_status_of_its_own("runc").await
}
