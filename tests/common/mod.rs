//! Fixtures shared by the integration tests.
#![allow(dead_code)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Fail (never skip) when there is no systemd to test against.
pub fn require_systemd() {
    let pid1 = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
    assert_eq!(
        pid1.trim(),
        "systemd",
        "this test needs a real systemd as PID 1; run it through the README's test command, \
         which boots one with systemd/sandbox"
    );
}

fn sdnotify() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sdnotify.c");
        let out = std::env::temp_dir().join(format!("berth-sdnotify-{}", std::process::id()));
        let st = Command::new("cc").args(["-static", "-Os", "-o"]).arg(&out).arg(&src).status().expect("cc");
        assert!(st.success(), "building the static sdnotify failed");
        out
    })
}

/// Run a program to its end.
pub fn run(cmd: &str, args: &[&str]) -> std::process::Output {
    Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

/// Run a program that must succeed; its standard output.
pub fn ok(cmd: &str, args: &[&str]) -> String {
    let o = run(cmd, args);
    assert!(o.status.success(), "{cmd} {args:?} failed: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// berthctl as installed.
pub const BERTHCTL: &str = "/usr/local/bin/berthctl";

/// Run berthctl to its end.
pub fn ctl(args: &[&str]) -> std::process::Output {
    run(BERTHCTL, args)
}

/// Run berthctl, which must succeed; its standard output.
pub fn ctl_ok(args: &[&str]) -> String {
    ok(BERTHCTL, args)
}

/// Scratch space in /var/tmp (not a tmpfs), removed when dropped.
pub fn scratch() -> tempfile::TempDir {
    std::fs::create_dir_all("/var/tmp").unwrap();
    tempfile::tempdir_in("/var/tmp").unwrap()
}

/// A tiny container root file system: busybox-static with a link for each
/// applet, a static `sdnotify`, and the usual mount points.
pub fn busybox_rootfs(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    for d in ["bin", "proc", "dev", "sys", "tmp", "etc", "run", "data"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("busybox-static is installed");
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = symlink("busybox", root.join("bin").join(applet));
        }
    }
    std::fs::copy(sdnotify(), root.join("bin/sdnotify")).unwrap();
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n").unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
    root
}

/// A unique, valid container name for one test.
pub fn unique(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// Lines the journal holds for a container, by its CONTAINER_NAME field.
pub fn journal_lines(name: &str) -> Vec<String> {
    let out = Command::new("journalctl")
        .args(["--no-pager", "-o", "cat", &format!("CONTAINER_NAME={name}")])
        .output()
        .expect("journalctl");
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

/// Wait (up to 10 s) until the journal holds a line containing `needle`.
pub fn wait_journal(name: &str, needle: &str) -> Vec<String> {
    for _ in 0..100 {
        let l = journal_lines(name);
        if l.iter().any(|x| x.contains(needle)) {
            return l;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no journal line with {needle:?} for CONTAINER_NAME={name}: {:?}", journal_lines(name));
}

/// A root file system for tests that talk to an installed berthd.
pub struct Fixture {
    pub rootfs: String,
    _dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        std::fs::create_dir_all("/var/tmp").unwrap();
        let dir = tempfile::tempdir_in("/var/tmp").unwrap();
        let rootfs = busybox_rootfs(dir.path()).to_string_lossy().into_owned();
        Fixture { rootfs, _dir: dir }
    }
}

/// Poll a condition of the outside world (not berth's) until it holds.
pub fn wait_until(limit: std::time::Duration, mut f: impl FnMut() -> bool) {
    let t0 = std::time::Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "condition not met within {limit:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// One `<interface>` element of an introspection document, as served.
pub fn interface_xml(doc: &str, name: &str) -> String {
    let start = doc.find(&format!("<interface name=\"{name}\">")).unwrap_or_else(|| panic!("{name} not served:\n{doc}"));
    let end = doc[start..].find("</interface>").unwrap() + start + "</interface>".len();
    let mut s: String = doc[start..end].lines().map(|l| l.trim_end()).collect::<Vec<_>>().join("\n");
    s.push('\n');
    s
}

/// berth installed by its real install step, once per sandbox boot; never
/// onto a host's own /usr/local.
pub fn installed() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        require_systemd();
        assert!(
            std::env::var_os("BERTH_SANDBOX_LEADER").is_some(),
            "these tests install berth; run them inside systemd/sandbox (the README's test command)"
        );
        let root = env!("CARGO_MANIFEST_DIR");
        let o = Command::new("flock")
            .args(["/run/berth-test-install.lock", "bash"])
            .arg(format!("{root}/systemd/install"))
            .env("PROFILE", "debug")
            .env("CARGO_TARGET_DIR", format!("{root}/target"))
            .output()
            .unwrap();
        assert!(o.status.success(), "install failed: {}", String::from_utf8_lossy(&o.stderr));
        Fixture::new()
    })
}

/// Tests that stop or restart berthd take this for writing; others read.
pub fn daemon_lock() -> &'static tokio::sync::RwLock<()> {
    static L: OnceLock<tokio::sync::RwLock<()>> = OnceLock::new();
    L.get_or_init(|| tokio::sync::RwLock::new(()))
}

/// SIGKILL berthd's main process (as a crash would) and wait until systemd
/// has restarted it and it answers on the bus again.
pub fn crash_berthd() {
    // Many crashes in a row are the point here, not a crash loop for
    // systemd's start limit to stop.
    let _ = run("systemctl", &["reset-failed", "berthd.service"]);
    let pid = ok("systemctl", &["show", "-p", "MainPID", "--value", "berthd.service"]);
    let pid: i32 = pid.trim().parse().unwrap();
    if pid > 0 {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
    let t0 = std::time::Instant::now();
    wait_berthd(pid);
    if t0.elapsed() > std::time::Duration::from_secs(5) {
        let j = run("journalctl", &["-u", "berthd", "-n", "40", "--no-pager", "-o", "short-precise"]);
        eprintln!("berthd took {:?} to come back:\n{}", t0.elapsed(), String::from_utf8_lossy(&j.stdout));
    }
}

/// Wait until berthd runs with a main process other than `old` and answers.
pub fn wait_berthd(old: i32) {
    wait_until(std::time::Duration::from_secs(30), || {
        let now = run("systemctl", &["show", "-p", "MainPID", "--value", "berthd.service"]);
        let pid: i32 = String::from_utf8_lossy(&now.stdout).trim().parse().unwrap_or(0);
        if pid == old || pid == 0 {
            // Restart= waits a moment; a call on the bus activates it too.
            let _ = run("busctl", &["call", "org.berth.Berth1", "/org/berth/Berth1", "org.berth.Berth1.Manager", "ListContainers"]);
            return false;
        }
        run("busctl", &["call", "org.berth.Berth1", "/org/berth/Berth1", "org.berth.Berth1.Manager", "ListContainers"]).status.success()
    });
}

/// The unit's state as systemctl shows it: (ActiveState, SubState).
pub fn unit_state(unit: &str) -> (String, String) {
    let o = ok("systemctl", &["show", "-p", "ActiveState", "-p", "SubState", unit]);
    let get = |k: &str| o.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap_or("").to_string();
    (get("ActiveState"), get("SubState"))
}
