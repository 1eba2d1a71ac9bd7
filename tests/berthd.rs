//! berthd installed by the real install step, driven through busctl,
//! systemctl, berthctl and berth's client, as users would.

mod common;

use berth::client::Client;
use berth::model::{OptionValue, State};
use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::Duration;

use common::daemon_lock;

use common::{ok, run};

fn installed() -> &'static common::Fixture {
    common::installed()
}

async fn client() -> Client {
    installed();
    Client::system().await.unwrap()
}

fn options(rootfs: &str, script: &str) -> BTreeMap<String, OptionValue> {
    [
        ("Rootfs".to_string(), OptionValue::Str(rootfs.into())),
        ("Command".to_string(), OptionValue::StrList(vec!["/bin/sh".into(), "-c".into(), script.into()])),
    ]
    .into()
}

const SERVE: &str = "trap 'exit 0' TERM; echo up; while true; do sleep 0.1; done";

fn busctl_call(args: &[&str]) -> Output {
    let mut a = vec!["call", "--", "org.berth.Berth1", "/org/berth/Berth1", "org.berth.Berth1.Manager"];
    a.extend_from_slice(args);
    run("busctl", &a)
}

fn prop(path: &str, name: &str) -> String {
    ok("busctl", &["get-property", "org.berth.Berth1", path, "org.berth.Berth1.Container", name]).trim().to_string()
}

#[tokio::test]
async fn busctl_lifecycle() {
    let f = installed();
    // Alone: `busctl tree` fails when another test removes an object while
    // it walks the tree.
    let _g = daemon_lock().write().await;
    let name = common::unique("bus");
    let mut monitor = Command::new("busctl")
        .args(["monitor", "--match", "type='signal',interface='org.freedesktop.DBus.Properties',path_namespace='/org/berth/Berth1'"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let o = busctl_call(&[
        "CreateContainer", "sa{sv}", &name, "2", "Rootfs", "s", &f.rootfs, "Command", "as", "3", "/bin/sh", "-c", SERVE,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let path = format!("/org/berth/Berth1/container/{}", berth::systemd::label::escape(&name));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), format!("o \"{path}\""));
    assert!(ok("busctl", &["tree", "org.berth.Berth1"]).contains(&path));
    assert_eq!(prop(&path, "State"), "s \"configured\"");

    assert!(busctl_call(&["StartContainer", "sb", &name, "false"]).status.success());
    assert_eq!(prop(&path, "State"), "s \"running\"");
    assert_ne!(prop(&path, "MainPID"), "u 0");
    let status = ok("systemctl", &["status", "--no-pager", &format!("berth-{name}.service")]);
    assert!(status.contains("active (running)"), "{status}");

    assert!(busctl_call(&["StopContainer", "su", &name, "4294967295"]).status.success());
    assert_eq!(prop(&path, "State"), "s \"stopped\"");
    assert_eq!(prop(&path, "ExitCode"), "i 0");

    assert!(busctl_call(&["RemoveContainer", "sbu", &name, "false", "4294967295"]).status.success());
    assert!(!ok("busctl", &["tree", "org.berth.Berth1"]).contains(&path));

    tokio::time::sleep(Duration::from_millis(300)).await;
    monitor.kill().unwrap();
    let out = monitor.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&path) && text.contains("\"State\""), "busctl monitor saw no PropertiesChanged of State:\n{text}");
}

#[tokio::test]
async fn systemctl_behind_berths_back() {
    let f = installed();
    let _g = daemon_lock().read().await;
    let c = client().await;
    let name = common::unique("sysctl");
    c.create(&name, &options(&f.rootfs, SERVE)).await.unwrap();
    let path = c.object_path(&name).await.unwrap();
    let unit = format!("berth-{name}.service");

    c.start(&name, false).await.unwrap();
    // Until its trap is set, the container's init ignores SIGTERM (the
    // kernel protects a PID namespace's init) and would be SIGKILLed at
    // the stop timeout: "up" comes after the trap.
    common::wait_until(Duration::from_secs(20), || common::journal_lines(&name).iter().any(|l| l == "up"));
    ok("systemctl", &["stop", &unit]);
    assert_eq!(c.wait(&name, &[], Some(Duration::from_secs(20))).await.unwrap(), 0);
    assert_eq!(prop(&path, "State"), "s \"stopped\"");

    c.start(&name, false).await.unwrap();
    ok("systemctl", &["kill", "--signal=KILL", &unit]);
    assert_eq!(c.wait(&name, &[], Some(Duration::from_secs(20))).await.unwrap(), 137);
    assert_eq!(prop(&path, "ExitCode"), "i 137");
    assert_ne!(run("systemctl", &["is-failed", "--quiet", &unit]).status.code(), Some(0), "unit left failed");
    c.remove(&name, true, None).await.unwrap();
}

#[tokio::test]
async fn unprivileged_users_read_only() {
    let f = installed();
    let _g = daemon_lock().read().await;
    let c = client().await;
    let name = common::unique("priv");
    c.create(&name, &options(&f.rootfs, SERVE)).await.unwrap();
    let path = c.object_path(&name).await.unwrap();
    let _ = run("useradd", &["--no-create-home", "--shell", "/bin/sh", "berthtest"]);
    let as_user = |args: &[&str]| {
        let mut a = vec!["-u", "berthtest", "--", "busctl"];
        a.extend_from_slice(args);
        run("runuser", &a)
    };
    let o = as_user(&["call", "org.berth.Berth1", "/org/berth/Berth1", "org.berth.Berth1.Manager", "ListContainers"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&name));
    let o = as_user(&["get-property", "org.berth.Berth1", &path, "org.berth.Berth1.Container", "State"]);
    assert!(o.status.success());
    let o = as_user(&["introspect", "org.berth.Berth1", &path]);
    assert!(o.status.success());
    for read in [&["ListImages"][..], &["ListVolumes"]] {
        let mut a = vec!["call", "--", "org.berth.Berth1", "/org/berth/Berth1", "org.berth.Berth1.Manager"];
        a.extend_from_slice(read);
        let o = as_user(&a);
        assert!(o.status.success(), "{read:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let denied: [&[&str]; 11] = [
        &["CreateContainer", "sa{sv}", "intruder", "2", "Rootfs", "s", &f.rootfs, "Command", "as", "1", "true"],
        &["StartContainer", "sb", &name, "false"],
        &["StopContainer", "su", &name, "0"],
        &["KillContainer", "si", &name, "9"],
        &["RemoveContainer", "sbu", &name, "true", "0"],
        &["MountContainer", "s", &name],
        &["UnmountContainer", "sb", &name, "true"],
        &["TagImage", "ss", "x", "y"],
        &["RemoveImage", "sb", "x", "true"],
        &["CreateVolume", "sa{sv}", "intruder", "0"],
        &["RemoveVolume", "sb", "x", "true"],
    ];
    for args in denied {
        let mut a = vec!["call", "--", "org.berth.Berth1", "/org/berth/Berth1", "org.berth.Berth1.Manager"];
        a.extend_from_slice(args);
        let o = as_user(&a);
        assert!(!o.status.success(), "{args:?} was allowed");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("Access denied") || err.contains("AccessDenied"), "{args:?}: {err}");
    }
    assert_eq!(c.state(&name).await.unwrap(), State::Configured, "nothing changed");
    assert!(c.info("intruder").await.is_err());
    c.remove(&name, true, None).await.unwrap();
}

#[tokio::test]
async fn bad_input_is_named_and_changes_nothing() {
    let f = installed();
    let _g = daemon_lock().read().await;
    let c = client().await;
    let name = common::unique("bad");
    c.create(&name, &options(&f.rootfs, SERVE)).await.unwrap();
    let with = |k: &str, v: OptionValue| {
        let mut o = options(&f.rootfs, "true");
        o.insert(k.to_string(), v);
        o
    };
    let mut no_rootfs = options(&f.rootfs, "true");
    no_rootfs.remove("Rootfs");
    let cases: Vec<(String, BTreeMap<String, OptionValue>, &str)> = vec![
        ("-bad".into(), options(&f.rootfs, "true"), "InvalidArgument"),
        ("a/b".into(), options(&f.rootfs, "true"), "InvalidArgument"),
        ("x".repeat(129), options(&f.rootfs, "true"), "InvalidArgument"),
        (name.clone(), options(&f.rootfs, "true"), "ContainerExists"),
        ("ok1".into(), with("Bogus", OptionValue::Bool(true)), "InvalidArgument"),
        ("ok2".into(), with("StopTimeout", OptionValue::Str("10".into())), "InvalidArgument"),
        ("ok3".into(), with("Command", OptionValue::StrList(vec![])), "InvalidArgument"),
        ("ok4".into(), no_rootfs, "InvalidArgument"),
        ("ok5".into(), with("Rootfs", OptionValue::Str("relative/dir".into())), "InvalidArgument"),
        ("ok6".into(), with("StopSignal", OptionValue::Str("SIGFOO".into())), "InvalidArgument"),
        ("ok7".into(), with("StopTimeout", OptionValue::U32(10_000_000)), "InvalidArgument"),
    ];
    let mut tried = Vec::new();
    for (n, o, want) in cases {
        let e = c.create(&n, &o).await.expect_err(&format!("{n} {o:?} was accepted"));
        assert_eq!(e.name(), want, "{n}: {e}");
        if n != name {
            tried.push(n);
        }
    }
    assert_eq!(c.kill(&name, 15).await.unwrap_err().name(), "InvalidState", "kill of a configured container");
    c.start(&name, false).await.unwrap();
    assert_eq!(c.kill(&name, -1).await.unwrap_err().name(), "InvalidArgument");
    assert_eq!(c.stop(&name, Some(999_999_999)).await.unwrap_err().name(), "InvalidArgument");
    assert_eq!(c.start(&name, false).await.unwrap_err().name(), "InvalidState");
    assert_eq!(c.state(&name).await.unwrap(), State::Running);
    let listed = c.list().await.unwrap();
    assert!(listed.iter().all(|l| !tried.contains(&l.name)), "a rejected container was added");
    // The D-Bus error names are berth's.
    let o = run("dbus-send", &["--system", "--print-reply", "--dest=org.berth.Berth1", "/org/berth/Berth1", "org.berth.Berth1.Manager.GetContainer", "string:nope"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("org.berth.Berth1.Error.NoSuchContainer"));
    c.remove(&name, true, Some(0)).await.unwrap();
}

#[tokio::test]
async fn berthctl_every_verb() {
    let f = installed();
    let _g = daemon_lock().read().await;
    let name = common::unique("ctl");
    let ctl = |args: &[&str]| run("/usr/local/bin/berthctl", args);
    let o = ctl(&["create", "--name", &name, "--stop-timeout", "2", "--rootfs", &f.rootfs, "/bin/sh", "-c", "trap 'exit 0' TERM; while true; do echo tick; sleep 0.1; done"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim().len(), 64, "create prints the id");
    for verb in [&["init"][..], &["start"], &["pause"], &["unpause"], &["restart", "-t", "1"], &["update", "--memory", "64m"], &["stop"], &["cleanup"], &["start"], &["kill", "-s", "TERM"]] {
        let mut a = verb.to_vec();
        a.push(&name);
        let o = ctl(&a);
        assert!(o.status.success(), "{a:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let o = ctl(&["wait", &name]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "0");
    let ps = String::from_utf8_lossy(&ctl(&["ps", "-a"]).stdout).into_owned();
    assert!(ps.starts_with("CONTAINER ID") && ps.contains(&name), "{ps}");
    let js: serde_json::Value = serde_json::from_slice(&ctl(&["inspect", &name]).stdout).unwrap();
    assert_eq!(js[0]["Spec"]["resources"]["memory_max"], 64 << 20);
    let o = ctl(&["logs", "--tail", "3", &name]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("tick"));
    // Errors: exit 125 and a clear message.
    let o = ctl(&["stop", &name]);
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already stopped"));
    let o = ctl(&["start", "no-such-container"]);
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "Error: no such container: no-such-container\n", "said once");
    let o = ctl(&["logs", "no-such-container"]);
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "Error: no such container: no-such-container\n");
    // Each name's error once; the first failure's status.
    let o = ctl(&["stop", "no-such-1", "no-such-2"]);
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "Error: no such container: no-such-1\nError: no such container: no-such-2\n");
    assert!(ctl(&["rm", &name]).status.success());

    // run --rm: the container's exit code, and nothing left behind.
    let n2 = common::unique("ctlrun");
    let o = ctl(&["run", "--rm", "--name", &n2, "--rootfs", &f.rootfs, "/bin/sh", "-c", "exit 4"]);
    assert_eq!(o.status.code(), Some(4), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!String::from_utf8_lossy(&ctl(&["ps", "-a", "-q"]).stdout).contains(&n2));
    let units = ok("systemctl", &["list-units", "--all", "--no-legend", &format!("berth-{n2}.service")]);
    assert!(units.trim().is_empty(), "unit left behind: {units}");
}

#[tokio::test]
async fn introspection_matches_committed_xml() {
    installed();
    let _g = daemon_lock().read().await;
    let c = client().await;
    let name = common::unique("xml");
    c.create(&name, &options(&installed().rootfs, "true")).await.unwrap();
    let path = c.object_path(&name).await.unwrap();
    for (obj, iface, file) in [
        ("/org/berth/Berth1", "org.berth.Berth1.Manager", "org.berth.Berth1.Manager.xml"),
        (path.as_str(), "org.berth.Berth1.Container", "org.berth.Berth1.Container.xml"),
    ] {
        let xml = ok("busctl", &["introspect", "--xml-interface", "org.berth.Berth1", obj]);
        let served = common::interface_xml(&xml, iface);
        let committed_path = format!("{}/systemd/{file}", env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("BERTH_BLESS").is_some() {
            std::fs::write(&committed_path, &served).unwrap();
        }
        let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
        assert_eq!(committed, served, "{file} differs from what berthd serves (BERTH_BLESS=1 rewrites it)");
    }
    c.remove(&name, true, None).await.unwrap();
}

#[tokio::test]
async fn daemon_restarts_lose_nothing() {
    let f = installed();
    let _g = daemon_lock().write().await;
    let c = client().await;
    let names: Vec<String> = (0..20).map(|_| common::unique("survive")).collect();
    for n in &names {
        c.create(n, &options(&f.rootfs, SERVE)).await.unwrap();
        c.start(n, false).await.unwrap();
    }
    // SIGKILL: systemd restarts berthd (Restart=on-failure).
    ok("systemctl", &["kill", "--kill-whom=main", "--signal=KILL", "berthd.service"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    common::wait_until(Duration::from_secs(20), || run("systemctl", &["is-active", "--quiet", "berthd"]).status.success());
    let c = Client::system().await.unwrap();
    let listed = c.list().await.unwrap();
    for n in &names {
        assert_eq!(listed.iter().filter(|l| &l.name == n).count(), 1, "{n} lost or duplicated");
        assert_eq!(c.state(n).await.unwrap(), State::Running, "{n}");
    }
    let units = ok("systemctl", &["list-units", "--no-legend", "--state=active", "berth-survive-*"]);
    assert_eq!(units.lines().count(), 20, "{units}");

    // SIGTERM: berthd exits cleanly and leaves the containers running; a
    // call on the bus activates it again.
    ok("systemctl", &["stop", "berthd.service"]);
    let units = ok("systemctl", &["list-units", "--no-legend", "--state=active", "berth-survive-*"]);
    assert_eq!(units.lines().count(), 20, "stopping berthd touched containers: {units}");
    let o = busctl_call(&["ListContainers"]);
    assert!(o.status.success(), "bus activation failed: {}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&names[0]));
    assert!(run("systemctl", &["is-active", "--quiet", "berthd"]).status.success());
    let c = Client::system().await.unwrap();
    for n in &names {
        c.remove(n, true, Some(0)).await.unwrap();
    }
}
