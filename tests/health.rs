//! Health checks against the installed berth and a real systemd: the
//! transient timer, berthctl healthcheck run, State.Health, health_status
//! events, HealthOnFailure, NotifyHealthy and `.container` files.

mod common;

use common::{ctl, ctl_ok, installed, ok, run};
use std::time::{Duration, Instant};


fn inspect(name: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(&ctl(&["inspect", name]).stdout).unwrap_or_default();
    v[0].clone()
}

fn health(name: &str) -> serde_json::Value {
    inspect(name)["State"]["Health"].clone()
}

fn wait_health(name: &str, status: &str, limit: Duration) {
    let t0 = Instant::now();
    while health(name)["Status"] != status {
        assert!(t0.elapsed() < limit, "{name} not {status} within {limit:?}: {}", health(name));
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Health units of any container, loaded or failed.
fn health_units(name: &str) -> String {
    let all = ok("systemctl", &["list-units", "--all", "--no-legend", "--plain", &format!("berth-{name}:health*")]);
    let failed = ok("systemctl", &["list-units", "--failed", "--no-legend", "--plain", "berth-*"]);
    format!("{all}{}", failed.lines().filter(|l| l.contains(name)).collect::<Vec<_>>().join("\n"))
}

/// Wait for a condition; on a timeout, berthd's log says why.
fn wait_or_log(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        if t0.elapsed() > limit {
            let j = run("journalctl", &["-u", "berthd", "-n", "60", "--no-pager", "-o", "short-precise"]);
            panic!("{what}: not within {limit:?}; berthd:\n{}", String::from_utf8_lossy(&j.stdout));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn a_check_on_a_timer_healthy_then_unhealthy() {
    let f = installed();
    let _g = common::daemon_lock().read().await;
    let name = common::unique("hc");
    let t_start = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    ctl_ok(&[
        "create", "--name", &name, "--stop-timeout", "1", "--health-cmd", &format!("echo checking; test -e /tmp/{name}"),
        "--health-interval", "1s", "--health-retries", "2", "--rootfs", &f.rootfs,
        "/bin/sh", "-c", &format!("touch /tmp/{name}; exec sleep 1000"),
    ]);
    assert_eq!(health(&name)["Status"], "starting", "{}", inspect(&name));
    ctl_ok(&["start", &name]);
    assert_eq!(health(&name)["Status"], "starting");
    // The timer runs the first check one interval after the start.
    let timers = ok("systemctl", &["list-timers", "--all", "--no-pager"]);
    assert!(timers.contains(&format!("berth-{name}:health.timer")), "{timers}");
    wait_health(&name, "healthy", Duration::from_secs(10));
    let h = health(&name);
    assert_eq!(h["FailingStreak"], 0);
    let log = h["Log"].as_array().unwrap();
    assert!(!log.is_empty() && log[0]["ExitCode"] == 0, "{h}");
    assert_eq!(log[0]["Output"], "checking\n", "{h}");
    // By hand, as podman: exit 0 when the check passes.
    let o = ctl(&["healthcheck", "run", &name]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // The check starts failing: 1 per check, unhealthy after 2 in a row.
    ctl_ok(&["exec", &name, "rm", &format!("/tmp/{name}")]);
    let o = ctl(&["healthcheck", "run", &name]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "unhealthy");
    wait_health(&name, "unhealthy", Duration::from_secs(10));
    let h = health(&name);
    assert!(h["FailingStreak"].as_u64().unwrap() >= 2, "{h}");
    let log = h["Log"].as_array().unwrap();
    assert!(log.len() <= 5, "podman keeps the last 5: {h}");
    assert_eq!(log.last().unwrap()["ExitCode"], 1, "{h}");
    // The checks' exec sessions do not pile up.
    let sessions = std::fs::read_dir(format!("/run/berth/bundles/{}/exec", inspect(&name)["Id"].as_str().unwrap()))
        .map_or(0, |d| d.count());
    assert!(sessions <= 1, "{sessions} exec sessions left by checks");
    // Each status change is a health_status event, with the status.
    let events = ctl_ok(&["events", "--since", &t_start.to_string(), "--filter", &format!("container={name}")]);
    let health_events: Vec<&str> = events.lines().filter(|l| l.contains("health_status")).collect();
    assert!(health_events.iter().any(|l| l.contains("health_status=healthy")), "{events}");
    assert!(health_events.iter().any(|l| l.contains("health_status=unhealthy")), "{events}");
    // The D-Bus property.
    let path = ok("busctl", &["call", "org.berth.Berth1", "/org/berth/Berth1", "org.berth.Berth1.Manager", "GetContainer", "s", &name]);
    let path = path.trim().trim_start_matches("o ").trim_matches('"').to_string();
    let prop = ok("busctl", &["get-property", "org.berth.Berth1", &path, "org.berth.Berth1.Container", "Health"]);
    assert_eq!(prop.trim(), "s \"unhealthy\"");

    // Stopped: no health unit is left, loaded or failed.
    ctl_ok(&["stop", &name]);
    assert_eq!(health_units(&name).trim(), "", "health units left after stop");
    let o = ctl(&["healthcheck", "run", &name]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("health checks run only in running containers"), "{}", stderr(&o));
    ctl_ok(&["rm", &name]);
    let o = ctl(&["healthcheck", "run", &name]);
    assert_eq!(o.status.code(), Some(125));
}

#[tokio::test]
async fn bad_health_options_are_named_errors() {
    let f = installed();
    let _g = common::daemon_lock().read().await;
    let name = common::unique("hbad");
    for (flags, want) in [
        (&["--health-cmd", "true", "--health-interval", "10"][..], "HealthInterval"),
        (&["--health-cmd", "true", "--health-interval", "500ms"], "HealthInterval"),
        (&["--health-cmd", "true", "--health-timeout", "0s"], "HealthTimeout"),
        (&["--health-cmd", "true", "--health-on-failure", "reboot"], "HealthOnFailure"),
        (&["--health-cmd", "[\"CMD\"]"], "HealthCmd"),
        (&["--health-interval", "5s"], "HealthCmd"),
        (&["--notify-healthy"], "NotifyHealthy"),
        (&["--health-cmd", "true", "--notify-healthy", "--notify"], "NotifyHealthy"),
    ] {
        let mut args = vec!["create", "--name", &name];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--rootfs", &f.rootfs, "/bin/true"]);
        let o = ctl(&args);
        assert_eq!(o.status.code(), Some(125), "{flags:?}");
        assert!(stderr(&o).contains(want), "{flags:?}: {}", stderr(&o));
        assert_eq!(ctl(&["inspect", &name]).status.code(), Some(125), "{flags:?} created something");
    }
    // A container without a check.
    ctl_ok(&["create", "--name", &name, "--rootfs", &f.rootfs, "/bin/sleep", "100"]);
    ctl_ok(&["start", &name]);
    let o = ctl(&["healthcheck", "run", &name]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("has no health check"), "{}", stderr(&o));
    ctl_ok(&["rm", "-f", "-t", "0", &name]);
}

#[tokio::test]
async fn unhealthy_with_on_failure_restart_is_restarted() {
    let f = installed();
    let _g = common::daemon_lock().read().await;
    let name = common::unique("hrestart");
    ctl_ok(&[
        "create", "--name", &name, "--stop-timeout", "1", "--health-cmd", &format!("test -e /tmp/{name}"),
        "--health-interval", "1s", "--health-retries", "2", "--health-on-failure", "restart", "--rootfs", &f.rootfs,
        "/bin/sh", "-c", "exec sleep 1000",
    ]);
    ctl_ok(&["start", &name]);
    let first = inspect(&name)["State"]["StartedAt"].as_u64().unwrap();
    // Two failed checks (about 2 s), then a restart: a new run.
    wait_or_log("a restart after unhealthy", Duration::from_secs(20), || {
        let s = inspect(&name)["State"].clone();
        s["Status"] == "running" && s["StartedAt"].as_u64().unwrap_or(0) > first
    });
    let j = ok("journalctl", &["--no-pager", "-o", "cat", &format!("CONTAINER_NAME={name}"), "SYSLOG_IDENTIFIER=berthd"]);
    assert!(j.contains("health_status unhealthy") && j.contains("restart"), "{j}");
    // The new run's health starts over.
    let h = health(&name);
    assert!(h["Status"] == "starting" || h["FailingStreak"].as_u64().unwrap() < 2, "{h}");
    ctl_ok(&["rm", "-f", "-t", "0", &name]);
    assert_eq!(health_units(&name).trim(), "", "health units left after rm");
}

#[tokio::test]
async fn unhealthy_with_on_failure_kill_is_restarted_by_its_restart_policy() {
    let f = installed();
    let _g = common::daemon_lock().read().await;
    let name = common::unique("hkill");
    ctl_ok(&[
        "create", "--name", &name, "--health-cmd", "false", "--health-interval", "1s", "--health-retries", "1",
        "--health-on-failure", "kill", "--restart", "always", "--rootfs", &f.rootfs, "/bin/sleep", "1000",
    ]);
    ctl_ok(&["start", &name]);
    let unit = format!("berth-{name}.service");
    // Killed (137), not stopped by the user: systemd's Restart= starts it again.
    wait_or_log("a restart by systemd after the kill", Duration::from_secs(20), || {
        ok("systemctl", &["show", "-p", "NRestarts", "--value", &unit]).trim().parse::<u32>().unwrap_or(0) >= 1
    });
    let j = ok("journalctl", &["--no-pager", "-o", "cat", &format!("CONTAINER_NAME={name}"), "SYSLOG_IDENTIFIER=berthd"]);
    assert!(j.contains(&format!("container {name} kill")), "{j}");
    assert_eq!(inspect(&name)["State"]["StoppedByUser"], false);
    ctl_ok(&["rm", "-f", "-t", "0", &name]);
    assert_eq!(health_units(&name).trim(), "", "health units left after rm");
}

#[tokio::test]
async fn notify_healthy_start_returns_after_the_first_pass() {
    let f = installed();
    let _g = common::daemon_lock().read().await;
    let name = common::unique("hready");
    ctl_ok(&[
        "create", "--name", &name, "--stop-timeout", "1", "--health-cmd", &format!("test -e /tmp/{name}"), "--health-interval", "1s",
        "--notify-healthy", "--rootfs", &f.rootfs, "/bin/sh", "-c", &format!("sleep 2; touch /tmp/{name}; exec sleep 1000"),
    ]);
    let t0 = Instant::now();
    ctl_ok(&["start", &name]);
    let took = t0.elapsed();
    assert!(took >= Duration::from_secs(2), "start returned before the check could pass: {took:?}");
    assert!(took < Duration::from_secs(8), "start took {took:?}");
    assert_eq!(health(&name)["Status"], "healthy", "ready means healthy");
    assert_eq!(ok("systemctl", &["is-active", &format!("berth-{name}.service")]).trim(), "active");
    assert!(ok("systemctl", &["list-timers", "--all", "--no-pager"]).contains(&format!("berth-{name}:health.timer")));
    // systemctl stop of the container's unit: its health units go too,
    // without berthd's help, and nothing is failed.
    ok("systemctl", &["stop", &format!("berth-{name}.service")]);
    common::wait_until(Duration::from_secs(10), || health_units(&name).trim().is_empty());
    ctl_ok(&["rm", &name]);

    // Never healthy: the start fails once the checks fail past retries.
    let bad = common::unique("hnever");
    ctl_ok(&[
        "create", "--name", &bad, "--health-cmd", "echo not yet; false", "--health-interval", "1s", "--health-retries", "2",
        "--notify-healthy", "--rootfs", &f.rootfs, "/bin/sleep", "1000",
    ]);
    let t0 = Instant::now();
    let o = ctl(&["start", &bad]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains("unhealthy while starting") && stderr(&o).contains("not yet"), "{}", stderr(&o));
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    assert_ne!(inspect(&bad)["State"]["Status"], "running");
    assert_eq!(health_units(&bad).trim(), "", "health units left after a failed start");
    ctl_ok(&["rm", &bad]);
}

#[tokio::test]
async fn a_container_file_with_notify_healthy() {
    let f = installed();
    let _g = common::daemon_lock().write().await;
    let dir = "/etc/berth/systemd";
    std::fs::create_dir_all(dir).unwrap();
    let name = common::unique("qhealth");
    std::fs::write(
        format!("{dir}/{name}.container"),
        format!(
            "[Container]\nRootfs={}\nExec=/bin/sh -c 'sleep 2; touch /tmp/{name}; exec sleep 1000'\nHealthCmd=test -e /tmp/{name}\n\
             HealthInterval=1s\nNotify=healthy\nStopTimeout=1\n",
            f.rootfs
        ),
    )
    .unwrap();
    ok("systemctl", &["daemon-reload"]);
    common::wait_until(Duration::from_secs(10), || ctl(&["inspect", &name]).status.success());
    let unit = format!("{name}.service");
    let t0 = Instant::now();
    ok("systemctl", &["start", &unit]);
    let took = t0.elapsed();
    assert!(took >= Duration::from_secs(2), "systemctl start returned before healthy: {took:?}");
    assert!(took < Duration::from_secs(10), "systemctl start took {took:?}");
    assert_eq!(health(&name)["Status"], "healthy");
    wait_or_log("the timer of a file-defined container", Duration::from_secs(10), || {
        ok("systemctl", &["list-timers", "--all", "--no-pager"]).contains(&format!("berth-{name}:health.timer"))
    });
    ok("systemctl", &["stop", &unit]);
    assert!(!run("systemctl", &["is-failed", "--quiet", &unit]).status.success());
    common::wait_until(Duration::from_secs(10), || health_units(&name).trim().is_empty());
    std::fs::remove_file(format!("{dir}/{name}.container")).unwrap();
    ok("systemctl", &["daemon-reload"]);
}
