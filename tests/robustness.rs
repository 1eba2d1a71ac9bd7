//! What a hostile user or a crash does to berthd: each finding of the
//! robustness review, reproduced against the installed berthd (systemd 252,
//! crun and runc). Tests that kill berthd take the daemon lock for writing.

mod common;

use berth::client::Client;
use berth::model::{LogOptions, OptionValue, State};
use common::{daemon_lock, ok, run};
use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

fn installed() -> &'static common::Fixture {
    common::installed()
}

fn options(rootfs: &str, runtime: &str, script: &str) -> BTreeMap<String, OptionValue> {
    [
        ("Rootfs".to_string(), OptionValue::Str(rootfs.into())),
        ("Command".to_string(), OptionValue::StrList(vec!["/bin/sh".into(), "-c".into(), script.into()])),
        ("Runtime".to_string(), OptionValue::Str(runtime.into())),
    ]
    .into()
}

fn id_of(info: &berth::model::ContainerInfo) -> String {
    info.id.clone()
}

/// 1. A client that never drains its logs pipe stalls only its own stream.
#[tokio::test]
async fn a_stalled_log_reader_stalls_nobody_else() {
    let f = installed();
    let _g = daemon_lock().read().await;
    let c = Client::system().await.unwrap();
    let name = common::unique("chatty");
    c.create(&name, &options(&f.rootfs, "crun", "seq 1 200000; sleep 1000")).await.unwrap();
    c.start(&name, false).await.unwrap();
    common::wait_journal(&name, "200000");
    let (rd, wr) = nix::unistd::pipe().unwrap();
    let reader = {
        let (c, name) = (c.clone(), name.clone());
        tokio::spawn(async move { c.logs(&name, wr.as_fd(), &LogOptions::default()).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The pipe is full and nobody reads it; berthd must still answer others.
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let t0 = Instant::now();
        let other = Client::system().await.unwrap();
        other.list().await.unwrap();
        other.state(&name).await.unwrap();
        slowest = slowest.max(t0.elapsed());
    }
    assert!(slowest < Duration::from_secs(2), "other clients waited {slowest:?}");
    drop(rd);
    tokio::time::timeout(Duration::from_secs(10), reader).await.expect("the stream ended when its reader left").unwrap().unwrap();
    c.remove(&name, true, Some(0)).await.unwrap();
}

/// 2. berthd SIGKILLed while starting a container that exits 7: the run
/// is not lost.
#[tokio::test]
async fn a_crash_during_start_keeps_the_run() {
    let f = installed();
    let _g = daemon_lock().write().await;
    for (i, rt) in ["crun", "runc"].iter().cycle().take(8).enumerate() {
        let c = Client::system().await.unwrap();
        let name = common::unique(&format!("startcrash-{rt}"));
        c.create(&name, &options(&f.rootfs, rt, "exit 7")).await.unwrap();
        let starter = {
            let (c, name) = (c.clone(), name.clone());
            tokio::spawn(async move { c.start(&name, false).await })
        };
        tokio::time::sleep(Duration::from_millis(1 + (i as u64 * 5) % 35)).await;
        common::crash_berthd();
        let _ = starter.await;
        let c = Client::system().await.unwrap();
        let code = tokio::time::timeout(Duration::from_secs(20), c.wait(&name, &[], None)).await;
        let info = c.info(&name).await.unwrap();
        match code {
            Ok(Ok(code)) => {
                assert_eq!((info.state.status, code), (State::Exited, 7), "{name}: {info:?}");
            }
            // Killed before systemd was asked: it never ran, and can run now.
            _ => {
                assert!(matches!(info.state.status, State::Configured | State::Created), "{name}: {info:?}");
                c.start(&name, false).await.unwrap();
                assert_eq!(c.wait(&name, &[], None).await.unwrap(), 7);
            }
        }
        c.remove(&name, false, None).await.unwrap();
    }
}

/// 3. berthd SIGKILLed while removing: the removal finishes (or can be
/// done again), the name is free, nothing leaks.
#[tokio::test]
async fn a_crash_during_remove_leaves_nothing_stuck() {
    let f = installed();
    let _g = daemon_lock().write().await;
    for (i, rt) in ["crun", "runc"].iter().cycle().take(8).enumerate() {
        let c = Client::system().await.unwrap();
        let name = common::unique(&format!("rmcrash-{rt}"));
        c.create(&name, &options(&f.rootfs, rt, "trap 'exit 0' TERM; while true; do sleep 0.1; done")).await.unwrap();
        c.start(&name, false).await.unwrap();
        let id = id_of(&c.info(&name).await.unwrap());
        let remover = {
            let (c, name) = (c.clone(), name.clone());
            tokio::spawn(async move { c.remove(&name, true, Some(1)).await })
        };
        tokio::time::sleep(Duration::from_millis(1 + (i as u64 * 7) % 35)).await;
        common::crash_berthd();
        let _ = remover.await;
        let c = Client::system().await.unwrap();
        if let Ok(info) = c.info(&name).await {
            assert_ne!(info.state.status, State::Removing, "stuck in removing");
            c.remove(&name, true, Some(0)).await.unwrap();
        }
        // The name can be used again, and nothing of the old one is left.
        c.create(&name, &options(&f.rootfs, rt, "true")).await.unwrap();
        c.remove(&name, false, None).await.unwrap();
        for leftover in [format!("/run/berth/bundles/{id}"), format!("/run/berth/exits/{id}"), format!("/run/berth/{rt}/{}", &id[..32])] {
            assert!(!std::path::Path::new(&leftover).exists(), "{leftover} left behind");
        }
        let units = ok("systemctl", &["list-units", "--all", "--no-legend", &format!("berth-{name}.service")]);
        assert!(units.trim().is_empty(), "unit left: {units}");
    }
}

/// 4. A paused container that is killed does not hang in stop-post.
#[tokio::test]
async fn kill_of_a_paused_container_ends_it() {
    let f = installed();
    let _g = daemon_lock().read().await;
    let c = Client::system().await.unwrap();
    for rt in ["crun", "runc"] {
        // Through berth.
        let name = common::unique(&format!("pausekill-{rt}"));
        c.create(&name, &options(&f.rootfs, rt, "sleep 1000")).await.unwrap();
        c.start(&name, false).await.unwrap();
        c.pause(&name).await.unwrap();
        c.kill(&name, 9).await.unwrap();
        let code = tokio::time::timeout(Duration::from_secs(15), c.wait(&name, &[], None)).await.expect("not stuck").unwrap();
        assert_eq!(code, 137);
        c.remove(&name, false, None).await.unwrap();
        // Behind berth's back: systemctl kill of a paused container's unit.
        let name = common::unique(&format!("pausekill2-{rt}"));
        c.create(&name, &options(&f.rootfs, rt, "sleep 1000")).await.unwrap();
        c.start(&name, false).await.unwrap();
        c.pause(&name).await.unwrap();
        let unit = format!("berth-{name}.service");
        ok("systemctl", &["kill", "--signal=KILL", &unit]);
        common::wait_until(Duration::from_secs(15), || {
            let (active, _) = common::unit_state(&unit);
            active == "inactive" || active == "failed"
        });
        let code = tokio::time::timeout(Duration::from_secs(15), c.wait(&name, &[], None)).await.expect("not stuck").unwrap();
        assert_eq!(code, 137);
        c.remove(&name, false, None).await.unwrap();
    }
}

/// 5. Secrets in the environment are not shown to other users.
#[tokio::test]
async fn inspect_hides_secrets_from_other_users() {
    let f = installed();
    let _g = daemon_lock().read().await;
    let c = Client::system().await.unwrap();
    let name = common::unique("secret");
    let mut o = options(&f.rootfs, "crun", "true");
    o.insert("Env".into(), OptionValue::StrList(vec!["DB_PASSWORD=hunter2".into()]));
    c.create(&name, &o).await.unwrap();
    let _ = run("useradd", &["--no-create-home", "--shell", "/bin/sh", "berthtest"]);
    let out = run(
        "runuser",
        &["-u", "berthtest", "--", "busctl", "call", "org.berth.Berth1", "/org/berth/Berth1", "org.berth.Berth1.Manager", "InspectContainer", "s", &name],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("DB_PASSWORD=<hidden>") && !text.contains("hunter2"), "{text}");
    assert!(c.inspect_json(&name).await.unwrap().contains("hunter2"), "root sees all");
    c.remove(&name, false, None).await.unwrap();
}

/// 6. A user cannot make berthd hold waits without bound, and waits end
/// when their caller leaves.
#[tokio::test]
async fn waits_are_limited_per_user_and_end_with_their_caller() {
    let f = installed();
    let _g = daemon_lock().read().await;
    let c = Client::system().await.unwrap();
    let name = common::unique("waited");
    c.create(&name, &options(&f.rootfs, "crun", "true")).await.unwrap();
    let _ = run("useradd", &["--no-create-home", "--shell", "/bin/sh", "berthtest"]);
    let wait_as_user = || {
        std::process::Command::new("runuser")
            .args(["-u", "berthtest", "--", "busctl", "--timeout=600", "call", "org.berth.Berth1", "/org/berth/Berth1"])
            .args(["org.berth.Berth1.Manager", "WaitContainer", "sast", &name, "0", "0"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    for round in 0..2 {
        let mut waiters: Vec<_> = (0..64).map(|_| wait_as_user()).collect();
        // Let every call reach berthd.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let extra = wait_as_user().wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&extra.stderr);
        assert!(!extra.status.success() && err.contains("too many waits"), "round {round}: the 65th wait: {err}");
        for w in &mut waiters {
            let _ = w.kill();
            let _ = w.wait();
        }
        // The callers left: their slots are free again (the next round).
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    c.remove(&name, false, None).await.unwrap();
}

/// 7. Nothing of a killed container's runtime is left after rm, and
/// abandoned log followers leave nothing behind.
#[tokio::test]
async fn nothing_leaks() {
    let f = installed();
    // Alone: berthd's open descriptors are the measure.
    let _g = daemon_lock().write().await;
    let c = Client::system().await.unwrap();
    for rt in ["crun", "runc"] {
        let name = common::unique(&format!("leak-{rt}"));
        c.create(&name, &options(&f.rootfs, rt, "sleep 1000")).await.unwrap();
        c.start(&name, false).await.unwrap();
        let id = c.info(&name).await.unwrap().id;
        c.kill(&name, 9).await.unwrap();
        c.wait(&name, &[], None).await.unwrap();
        c.remove(&name, false, None).await.unwrap();
        let state = format!("/run/berth/{rt}/{}", &id[..32]);
        assert!(!std::path::Path::new(&state).exists(), "{state} left behind");
    }
    let name = common::unique("followed");
    c.create(&name, &options(&f.rootfs, "crun", "while true; do echo x; sleep 0.2; done")).await.unwrap();
    c.start(&name, false).await.unwrap();
    let pid: i32 = ok("systemctl", &["show", "-p", "MainPID", "--value", "berthd.service"]).trim().parse().unwrap();
    // A follower holds the client's descriptor, the journal's files and a
    // stop flag (an eventfd) until its read ends. (The threads that served
    // them return to tokio's pool, which keeps idle ones as long as other
    // work wakes them: no measure of a leak.)
    let fds = || std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = fds();
    let mut followers: Vec<_> = (0..20)
        .map(|_| {
            std::process::Command::new("/usr/local/bin/berthctl")
                .args(["logs", "-f", &name])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Each follower is served: its first line arrives.
    for f in &mut followers {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut std::io::BufReader::new(f.stdout.as_mut().unwrap()), &mut line).unwrap();
        assert!(n > 0 && line.trim() == "x", "a follower got {line:?}");
    }
    assert!(fds() >= before + 20, "the followers are served: {} descriptors, {before} before", fds());
    // Killed while their output stays open (as a terminal would): berthd
    // learns it from the bus, not from a failed write.
    for f in &mut followers {
        let _ = f.kill();
        let _ = f.wait();
    }
    let gone = Instant::now();
    while fds() > before + 2 && gone.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let left: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok().map(|l| l.display().to_string()))
        .collect();
    assert!(fds() <= before + 2, "{before} descriptors before the followers, {} now: {left:?}", left.len());
    drop(followers);
    c.remove(&name, true, Some(0)).await.unwrap();
}

/// 9. `systemctl kill` works on berth's units, again and again.
#[tokio::test]
async fn systemctl_kill_works_on_container_units() {
    let f = installed();
    let _g = daemon_lock().read().await;
    let c = Client::system().await.unwrap();
    for rt in ["crun", "runc"] {
        for _ in 0..10 {
            let name = common::unique(&format!("sckill-{rt}"));
            c.create(&name, &options(&f.rootfs, rt, "trap '' USR1; while true; do /bin/true; done")).await.unwrap();
            c.start(&name, false).await.unwrap();
            let unit = format!("berth-{name}.service");
            for _ in 0..5 {
                ok("systemctl", &["kill", "--kill-whom=all", "--signal=USR1", &unit]);
            }
            // systemd kills the unit's cgroups in the order the kernel lists
            // them; runc must go before its container (see runtime::cgroup).
            let cg = run("systemctl", &["show", "-p", "ControlGroup", "--value", &unit]);
            let dir = format!("/sys/fs/cgroup{}", String::from_utf8_lossy(&cg.stdout).trim());
            let order: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .filter_map(|e| e.ok().filter(|e| e.path().is_dir()).map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect();
            assert_eq!(order, ["monitor", "payload"], "{dir} lists its cgroups in another order");
            ok("systemctl", &["kill", "--signal=KILL", &unit]);
            assert_eq!(c.wait(&name, &[], None).await.unwrap(), 137);
            c.remove(&name, false, None).await.unwrap();
        }
    }
}

/// 10. Wrong answers found in review.
#[tokio::test]
async fn failures_are_named_not_disguised() {
    let f = installed();
    let _g = daemon_lock().read().await;
    let c = Client::system().await.unwrap();
    // A runtime that does not exist: a start failure with exit code 125.
    let name = common::unique("noruntime");
    c.create(&name, &options(&f.rootfs, "/nonexistent/crun", "true")).await.unwrap();
    let e = c.start(&name, false).await.unwrap_err();
    assert_eq!(e.name(), "Runtime", "{e}");
    let info = c.info(&name).await.unwrap();
    assert_eq!((info.state.status, info.state.exit_code, info.state.stopped_by_user), (State::Exited, 125, false));
    c.remove(&name, false, None).await.unwrap();

    let name = common::unique("logsbad");
    c.create(&name, &options(&f.rootfs, "crun", "seq 1 5")).await.unwrap();
    c.start(&name, false).await.unwrap();
    c.wait(&name, &[], None).await.unwrap();
    // A read-only descriptor is refused.
    let ro = std::fs::File::open("/dev/null").unwrap();
    let e = c.logs(&name, ro.as_fd(), &LogOptions::default()).await.unwrap_err();
    assert_eq!(e.name(), "InvalidArgument", "{e}");
    // A tail larger than the journal is all of it.
    let (rd, wr) = nix::unistd::pipe().unwrap();
    c.logs(&name, wr.as_fd(), &LogOptions { tail: Some(u64::MAX), ..Default::default() }).await.unwrap();
    drop(wr);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::fs::File::from(rd), &mut text).unwrap();
    assert_eq!(text, "1\n2\n3\n4\n5\n");
    c.remove(&name, false, None).await.unwrap();

    // logs -f of a container that was never started waits for its run.
    let name = common::unique("followcreated");
    c.create(&name, &options(&f.rootfs, "crun", "echo hello")).await.unwrap();
    let (rd, wr) = nix::unistd::pipe().unwrap();
    let follower = {
        let (c, name) = (c.clone(), name.clone());
        tokio::spawn(async move { c.logs(&name, wr.as_fd(), &LogOptions { follow: true, ..Default::default() }).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!follower.is_finished(), "the follow returned before the container ran");
    c.start(&name, false).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), follower).await.expect("it ends with the run").unwrap().unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::fs::File::from(rd), &mut text).unwrap();
    assert_eq!(text, "hello\n");
    c.remove(&name, false, None).await.unwrap();
}
