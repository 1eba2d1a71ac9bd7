//! `.container` files through the installed berth-generator and a real
//! systemd: daemon-reload, systemctl start/stop, the journal, berthctl.

mod common;

use std::time::{Duration, Instant};

use common::{ok, run};

#[tokio::test]
async fn container_files_become_units() {
    let f = common::installed();
    let _g = common::daemon_lock().write().await;
    let dir = "/etc/berth/systemd";
    std::fs::create_dir_all(dir).unwrap();
    let web = common::unique("qweb");
    let db = common::unique("qdb");
    let bad = common::unique("qbad");
    std::fs::write(
        format!("{dir}/{web}.container"),
        format!(
            "[Unit]\nDescription=quadlet web\n\n[Container]\nRootfs={}\nExec=/bin/sh -c \"trap 'echo bye; exit 0' TERM; echo starting; sleep 1; /bin/sdnotify READY=1; echo ready; while true; do sleep 0.1; done\"\nNotify=true\nStopTimeout=3\n\n[Install]\nWantedBy=multi-user.target\n",
            f.rootfs
        ),
    )
    .unwrap();
    std::fs::write(format!("{dir}/{db}.container"), format!("[Container]\nRootfs={}\nExec=/bin/sh -c 'echo db-up; exec sleep 1000'\n", f.rootfs)).unwrap();
    std::fs::write(format!("{dir}/{bad}.container"), format!("[Container]\nRootfs={}\nExec=/bin/true\nBogusKey=1\n", f.rootfs)).unwrap();

    // The dry run names the broken file and line; the good ones still render.
    let gen = "/usr/local/lib/systemd/system-generators/berth-generator";
    let o = run(gen, &["--dry-run"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("{dir}/{bad}.container:4:")) && err.contains("BogusKey"), "{err}");
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("{web}.service")));

    ok("systemctl", &["daemon-reload"]);
    assert!(ok("systemctl", &["cat", &format!("{web}.service")]).contains("berth-monitor"));
    ok("systemctl", &["cat", &format!("{db}.service")]);
    assert!(!run("systemctl", &["cat", &format!("{bad}.service")]).status.success(), "the broken file must not become a unit");

    // systemctl start waits for the container's READY=1.
    let t0 = Instant::now();
    ok("systemctl", &["start", &format!("{web}.service")]);
    assert!(t0.elapsed() >= Duration::from_secs(1), "start returned before READY=1: {:?}", t0.elapsed());
    let status = ok("systemctl", &["status", "--no-pager", &format!("{web}.service")]);
    assert!(status.contains("active (running)"), "{status}");
    common::wait_journal(&web, "ready");

    // berthd sees it (after the daemon-reload) like any other container.
    common::wait_until(Duration::from_secs(10), || {
        String::from_utf8_lossy(&run("/usr/local/bin/berthctl", &["ps"]).stdout).contains(&web)
    });
    let js: serde_json::Value = serde_json::from_slice(&run("/usr/local/bin/berthctl", &["inspect", &web]).stdout).unwrap();
    assert_eq!(js[0]["State"]["Status"], "running");
    assert_eq!(js[0]["Unit"], format!("{web}.service"));
    let logs = String::from_utf8_lossy(&run("/usr/local/bin/berthctl", &["logs", &web]).stdout).into_owned();
    assert!(logs.contains("starting") && logs.contains("ready"), "{logs}");
    let o = run("/usr/local/bin/berthctl", &["rm", "-f", &web]);
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains(".container"), "{}", String::from_utf8_lossy(&o.stderr));

    // Stopped through systemctl: not failed; berth records the exit.
    ok("systemctl", &["stop", &format!("{web}.service")]);
    assert!(!run("systemctl", &["is-failed", "--quiet", &format!("{web}.service")]).status.success());
    common::wait_until(Duration::from_secs(10), || {
        let o = run("/usr/local/bin/berthctl", &["inspect", &web]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        v[0]["State"]["Status"] == "stopped"
    });
    // berthctl start and stop work on it too.
    ok("/usr/local/bin/berthctl", &["start", &web]);
    assert_eq!(ok("systemctl", &["is-active", &format!("{web}.service")]).trim(), "active");
    ok("/usr/local/bin/berthctl", &["stop", &web]);
    assert!(!run("systemctl", &["is-failed", "--quiet", &format!("{web}.service")]).status.success());

    // What boot does: multi-user.target pulls the enabled container in.
    assert!(ok("systemctl", &["show", "-p", "Wants", "multi-user.target"]).contains(&format!("{web}.service")));
    ok("systemctl", &["start", "multi-user.target"]);
    common::wait_until(Duration::from_secs(20), || run("systemctl", &["is-active", "--quiet", &format!("{web}.service")]).status.success());

    // Clean up: stop, remove the files, reload; berth forgets them.
    for n in [&web, &db] {
        let _ = run("systemctl", &["stop", &format!("{n}.service")]);
    }
    for n in [&web, &db, &bad] {
        std::fs::remove_file(format!("{dir}/{n}.container")).unwrap();
    }
    ok("systemctl", &["daemon-reload"]);
    common::wait_until(Duration::from_secs(10), || {
        !String::from_utf8_lossy(&run("/usr/local/bin/berthctl", &["ps", "-a"]).stdout).contains(&web)
    });
}
