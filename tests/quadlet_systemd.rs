//! `.container` files through the installed berth-generator and a real
//! systemd: daemon-reload, systemctl start/stop, the journal, berthctl.

mod common;
#[path = "image_fixture/mod.rs"]
mod fixture;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use common::{ok, run};
use fixture::{oci_files, tar_of, Compress, Layer, TestImage};

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

/// The busybox root as an image layer.
fn busybox_layer(root: &std::path::Path) -> Layer {
    let mut l = Layer::new(Compress::Gzip);
    let mut stack = vec![std::path::PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let mut names: Vec<_> = std::fs::read_dir(root.join(&rel)).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        for name in names {
            let r = rel.join(&name);
            let p = root.join(&r);
            let m = std::fs::symlink_metadata(&p).unwrap();
            let path = r.to_str().unwrap().to_string();
            use std::os::unix::fs::MetadataExt;
            l = if m.is_dir() {
                stack.push(r);
                l.dir(&path, m.mode() & 0o7777)
            } else if m.file_type().is_symlink() {
                l.symlink(&path, std::fs::read_link(&p).unwrap().to_str().unwrap())
            } else {
                l.file(&path, &std::fs::read(&p).unwrap(), m.mode() & 0o7777)
            }
            .owner(0, 0);
        }
    }
    l
}

/// An image-based file as podman users write one: a published port, a
/// named volume, a tmpfs, a drop-in that overrides its Environment=, and a
/// health check that the unit's readiness waits for and that restarts it
/// when it fails.
#[tokio::test]
async fn an_image_container_file_with_port_volume_and_dropin() {
    let f = common::installed();
    let _g = common::daemon_lock().read().await;
    let dir = "/etc/berth/systemd";
    std::fs::create_dir_all(dir).unwrap();
    let name = common::unique("qimg");
    let mut img = TestImage::new(vec![busybox_layer(std::path::Path::new(&f.rootfs))]).named(&format!("localhost/{name}:1"));
    img.run_config = serde_json::json!({"Env": ["PATH=/bin", "MODE=image"]});
    let scratch = tempfile::tempdir_in("/var/tmp").unwrap();
    let archive = scratch.path().join("image.tar");
    std::fs::write(&archive, tar_of(&oci_files(std::slice::from_ref(&img)))).unwrap();
    let client = berth::client::Client::system().await.unwrap();
    client.import_image(std::fs::File::open(&archive).unwrap().as_fd(), None).await.unwrap();

    let port = 20000 + (std::process::id() % 10000) as u16;
    let volume = format!("{name}-data");
    std::fs::write(
        format!("{dir}/{name}.container"),
        format!(
            "[Container]\nImage=localhost/{name}:1\nPublishPort={port}:8080\nVolume={volume}:/data:Z\nTmpfs=/scratch:size=1m\n\
             Environment=MODE=file\nHealthCmd=test -e /data/index.html\nHealthInterval=1s\nHealthRetries=1\nHealthStartPeriod=20s\n\
             HealthOnFailure=restart\nNotify=healthy\nStopTimeout=1\n\
             Exec=/bin/sh -c 'sleep 2; echo mode=$MODE > /data/index.html; grep /scratch /proc/mounts | grep -q tmpfs && echo tmpfs >> /data/index.html; exec httpd -f -p 8080 -h /data'\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(format!("{dir}/{name}.container.d")).unwrap();
    std::fs::write(format!("{dir}/{name}.container.d/10-env.conf"), "[Container]\nEnvironment=MODE=dropin\n").unwrap();

    ok("systemctl", &["daemon-reload"]);
    let inspect = || -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(&ok("/usr/local/bin/berthctl", &["inspect", &name])).unwrap();
        v[0].clone()
    };
    let t0 = Instant::now();
    ok("systemctl", &["start", &format!("{name}.service")]);
    // Notify=healthy: active only once the first check passed.
    assert!(t0.elapsed() >= Duration::from_secs(2), "started before healthy: {:?}", t0.elapsed());
    assert_eq!(inspect()["State"]["Health"]["Status"], "healthy");
    let mut body = String::new();
    common::wait_until(Duration::from_secs(20), || {
        body.clear();
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else { return false };
        let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
        let _ = s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n");
        let _ = s.read_to_string(&mut body);
        body.contains("mode=")
    });
    assert!(body.contains("mode=dropin\ntmpfs"), "the drop-in's Environment= wins and /scratch is a tmpfs: {body}");
    // A failing check restarts it (HealthOnFailure=restart).
    let started = inspect()["State"]["StartedAt"].clone();
    ok("/usr/local/bin/berthctl", &["exec", &name, "rm", "/data/index.html"]);
    common::wait_until(Duration::from_secs(30), || inspect()["State"]["StartedAt"] != started);
    common::wait_until(Duration::from_secs(30), || inspect()["State"]["Health"]["Status"] == "healthy");
    // The restarted run gets its timer back (once its start job is done,
    // which is after the first check passed).
    let timer = format!("berth-{name}:health.timer");
    common::wait_until(Duration::from_secs(10), || ok("systemctl", &["list-timers", "--all", "--no-pager"]).contains(&timer));
    // The named volume outlives the unit.
    ok("systemctl", &["stop", &format!("{name}.service")]);
    assert!(!run("systemctl", &["is-failed", "--quiet", &format!("{name}.service")]).status.success());
    // Nothing of the health check is left, loaded or failed.
    common::wait_until(Duration::from_secs(10), || {
        ok("systemctl", &["list-units", "--all", "--no-legend", "--plain", &format!("berth-{name}:health*")]).trim().is_empty()
    });
    let volumes = ok("/usr/local/bin/berthctl", &["volume", "ls"]);
    assert!(volumes.contains(&volume), "{volumes}");

    std::fs::remove_file(format!("{dir}/{name}.container")).unwrap();
    std::fs::remove_dir_all(format!("{dir}/{name}.container.d")).unwrap();
    ok("systemctl", &["daemon-reload"]);
}

/// A template's instances each run a container named for the instance; an
/// EnvironmentFile= is read at every start (and a missing one fails the
/// start); Environment=NAME and ${NAME} take the unit's environment;
/// Ulimit= and NoNewPrivileges= reach the container's process.
#[tokio::test]
async fn templates_start_time_environment_and_process_limits() {
    let f = common::installed();
    let _g = common::daemon_lock().read().await;
    let dir = "/etc/berth/systemd";
    std::fs::create_dir_all(dir).unwrap();
    let tpl = common::unique("qtpl");
    let env = common::unique("qenv");
    let lim = common::unique("qlim");
    let open = common::unique("qopen");
    let env_file = format!("{dir}/{env}.env");
    std::fs::write(
        format!("{dir}/{tpl}@.container"),
        format!("[Container]\nRootfs={}\nStopTimeout=1\nEnvironment=WHO=%i\nExec=/bin/sh -c 'echo instance-up $$WHO %I; exec sleep 1000'\n", f.rootfs),
    )
    .unwrap();
    std::fs::write(
        format!("{dir}/{env}.container"),
        format!(
            "[Container]\nRootfs={}\nStopTimeout=1\nEnvironmentFile={env}.env\nEnvironment=FROM_UNIT WRAPPED=<${{FROM_UNIT}}>\n\
             Exec=/bin/sh -c 'echo greeting=$GREETING from_unit=$FROM_UNIT wrapped=$WRAPPED; exec sleep 1000'\n\
             [Service]\nEnvironment=FROM_UNIT=unit-value\n",
            f.rootfs
        ),
    )
    .unwrap();
    let show = "grep 'Max open files' /proc/self/limits; grep NoNewPrivs /proc/self/status; exec sleep 1000";
    std::fs::write(
        format!("{dir}/{lim}.container"),
        format!("[Container]\nRootfs={}\nStopTimeout=1\nUlimit=nofile=1024:2048\nNoNewPrivileges=true\nExec=/bin/sh -c \"{show}\"\n", f.rootfs),
    )
    .unwrap();
    std::fs::write(
        format!("{dir}/{open}.container"),
        format!("[Container]\nRootfs={}\nStopTimeout=1\nNoNewPrivileges=false\nExec=/bin/sh -c \"{show}\"\n", f.rootfs),
    )
    .unwrap();
    std::fs::write(&env_file, "GREETING=first\n").unwrap();
    ok("systemctl", &["daemon-reload"]);

    // Two instances of one template: two containers, each named for its instance.
    for i in ["one", "two"] {
        ok("systemctl", &["start", &format!("{tpl}@{i}.service")]);
    }
    for i in ["one", "two"] {
        common::wait_journal(&format!("{tpl}_{i}"), &format!("instance-up {i} {i}"));
        assert_eq!(ok("systemctl", &["is-active", &format!("{tpl}@{i}.service")]).trim(), "active");
    }
    ok("systemctl", &["stop", &format!("{tpl}@one.service")]);
    assert!(!run("systemctl", &["is-failed", "--quiet", &format!("{tpl}@one.service")]).status.success());
    assert_eq!(run("systemctl", &["is-active", &format!("{tpl}@two.service")]).status.code(), Some(0), "the other instance runs on");
    ok("systemctl", &["stop", &format!("{tpl}@two.service")]);

    // The environment file as it is at each start, without a daemon-reload.
    ok("systemctl", &["start", &format!("{env}.service")]);
    common::wait_journal(&env, "greeting=first from_unit=unit-value wrapped=<unit-value>");
    ok("systemctl", &["stop", &format!("{env}.service")]);
    std::fs::write(&env_file, "GREETING=second\n").unwrap();
    ok("systemctl", &["start", &format!("{env}.service")]);
    common::wait_journal(&env, "greeting=second");
    ok("systemctl", &["stop", &format!("{env}.service")]);
    // A missing file fails the start and says why.
    std::fs::remove_file(&env_file).unwrap();
    assert!(!run("systemctl", &["start", &format!("{env}.service")]).status.success(), "a missing EnvironmentFile= must fail the start");
    let log = ok("journalctl", &["--no-pager", "-o", "cat", "-u", &format!("{env}.service")]);
    assert!(log.contains("EnvironmentFile") && log.contains(&env_file), "{log}");
    let _ = run("systemctl", &["reset-failed", &format!("{env}.service")]);

    // Ulimit= and NoNewPrivileges= as the container's process sees them.
    ok("systemctl", &["start", &format!("{lim}.service")]);
    let lines = common::wait_journal(&lim, "NoNewPrivs");
    assert!(lines.iter().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Max", "open", "files", "1024", "2048", "files"]), "{lines:?}");
    assert!(lines.iter().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["NoNewPrivs:", "1"]), "{lines:?}");
    ok("systemctl", &["start", &format!("{open}.service")]);
    let lines = common::wait_journal(&open, "NoNewPrivs");
    assert!(lines.iter().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["NoNewPrivs:", "0"]), "{lines:?}");
    for n in [&lim, &open] {
        ok("systemctl", &["stop", &format!("{n}.service")]);
    }

    for n in [format!("{tpl}@"), env.clone(), lim.clone(), open.clone()] {
        std::fs::remove_file(format!("{dir}/{n}.container")).unwrap();
    }
    ok("systemctl", &["daemon-reload"]);
}
