//! Interactive containers with the installed berthd, as a person would use
//! them: berthctl in a terminal (tmux), typed into and resized; exec
//! sessions; several callers attached at once to a flood of output; berthd
//! killed while streams run; refusals for other users and bad input.

mod common;

use berth::client::{Client, Streams};
use berth::model::attach::{Frame, MAX_PACKET};
use berth::model::{ExecConfig, ExecState, OptionValue, State};
use common::{daemon_lock, ok, run};
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Command;
use std::time::{Duration, Instant};

const BERTHCTL: &str = "/usr/local/bin/berthctl";

fn options(rootfs: &str, command: &[&str], extra: &[(&str, OptionValue)]) -> BTreeMap<String, OptionValue> {
    let mut o: BTreeMap<String, OptionValue> = [
        ("Rootfs".to_string(), OptionValue::Str(rootfs.into())),
        ("Command".to_string(), OptionValue::StrList(command.iter().map(|s| s.to_string()).collect())),
    ]
    .into();
    for (k, v) in extra {
        o.insert(k.to_string(), v.clone());
    }
    o
}

/// A terminal a test types into: a tmux session of its own server.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new(cmd: &str, cols: u16, rows: u16) -> Tmux {
        let t = Tmux { socket: common::unique("berth-tmux") };
        // The command's status is printed when it ends, and the pane stays.
        let shell = format!("{cmd}; echo \"[exit=$?]\"; sleep 600");
        t.tmux(&["new-session", "-d", "-s", "t", "-x", &cols.to_string(), "-y", &rows.to_string(), &shell]);
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let o = Command::new("tmux").arg("-L").arg(&self.socket).args(args).env("TERM", "xterm").output().expect("tmux runs");
        assert!(o.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn send(&self, keys: &[&str]) {
        let mut a = vec!["send-keys", "-t", "t"];
        a.extend_from_slice(keys);
        self.tmux(&a);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t", "-S", "-200"])
    }

    /// Wait (10 s at most) until the screen shows `needle`.
    fn wait_for(&self, needle: &str) -> String {
        let t0 = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "the terminal never showed {needle:?}:\n{s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Resize the terminal, and wait until `stty size` inside says so (the
    /// new size travels as SIGWINCH to berthctl, then to the monitor).
    fn resize(&self, cols: u16, rows: u16) {
        self.tmux(&["resize-window", "-t", "t", "-x", &cols.to_string(), "-y", &rows.to_string()]);
        let want = format!("\n{rows} {cols}");
        let t0 = Instant::now();
        loop {
            self.send(&["stty size", "Enter"]);
            std::thread::sleep(Duration::from_millis(200));
            let s = self.screen();
            if s.contains(&want) {
                return;
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "stty size never said {rows} {cols}:\n{s}");
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-L").arg(&self.socket).arg("kill-server").output();
    }
}

/// What came on an attach connection.
#[derive(Default, Debug)]
struct Seen {
    out: Vec<u8>,
    exit: Option<i32>,
    detached: bool,
}

/// Read frames until `needle` shows in the output or the stream ends.
fn read_until(conn: &OwnedFd, needle: Option<&str>, seen: &mut Seen) {
    let mut buf = vec![0u8; MAX_PACKET];
    let t0 = Instant::now();
    while needle.is_none_or(|n| !String::from_utf8_lossy(&seen.out).contains(n)) {
        assert!(t0.elapsed() < Duration::from_secs(30), "no {needle:?} in {:?}", String::from_utf8_lossy(&seen.out));
        let n = nix::sys::socket::recv(conn.as_raw_fd(), &mut buf, nix::sys::socket::MsgFlags::empty()).unwrap();
        if n == 0 {
            return;
        }
        match Frame::parse(&buf[..n]) {
            Some(Frame::Stdout(d) | Frame::Stderr(d)) => seen.out.extend_from_slice(d),
            Some(Frame::Exit(c)) => seen.exit = Some(c),
            Some(Frame::Detached) => seen.detached = true,
            _ => {}
        }
    }
}

fn send(conn: &OwnedFd, f: Frame<'_>) {
    nix::sys::socket::send(conn.as_raw_fd(), &f.encode(), nix::sys::socket::MsgFlags::MSG_NOSIGNAL).unwrap();
}

async fn wait_state(c: &Client, name: &str, want: State) {
    let t0 = Instant::now();
    while c.state(name).await.unwrap() != want {
        assert!(t0.elapsed() < Duration::from_secs(20), "{name} never became {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn run_it_in_a_terminal_detach_and_attach_again() {
    let f = common::installed();
    let _g = daemon_lock().read().await;
    let name = common::unique("tty");
    let t = Tmux::new(&format!("{BERTHCTL} run -it --name {name} --rootfs {} /bin/sh", f.rootfs), 80, 24);
    t.send(&["echo hi-$((40+2)); tty", "Enter"]);
    let s = t.wait_for("hi-42");
    assert!(s.contains("/dev/pts/"), "{s}");
    t.resize(100, 30);
    t.resize(120, 40);
    // Detach: berthctl exits 0, the container runs on.
    t.send(&["C-p", "C-q"]);
    t.wait_for("[exit=0]");
    let c = Client::system().await.unwrap();
    assert_eq!(c.state(&name).await.unwrap(), State::Running);
    drop(t);

    let t = Tmux::new(&format!("{BERTHCTL} attach {name}"), 90, 20);
    t.send(&["stty size", "Enter"]);
    t.wait_for("20 90");
    t.send(&["exit 3", "Enter"]);
    t.wait_for("[exit=3]");
    // berthctl returned once the exit was recorded: a command run next
    // (rm, inspect) finds the container exited, as after podman.
    assert_eq!(c.state(&name).await.unwrap(), State::Exited);
    assert_eq!(c.wait(&name, &[], Some(Duration::from_secs(20))).await.unwrap(), 3);
    // The journal kept the session (a terminal's output is stdout).
    common::wait_journal(&name, "hi-42");
    c.remove(&name, false, None).await.unwrap();
}

#[tokio::test]
async fn exec_with_a_terminal_with_piped_input_and_a_missing_command() {
    let f = common::installed();
    let _g = daemon_lock().read().await;
    let name = common::unique("exec");
    let o = ok(BERTHCTL, &["run", "-d", "--name", &name, "--rootfs", &f.rootfs, "/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]);
    assert_eq!(o.trim().len(), 64);

    let t = Tmux::new(&format!("{BERTHCTL} exec -it {name} /bin/sh"), 80, 24);
    t.send(&["tty; echo in-$((6*7))", "Enter"]);
    let s = t.wait_for("in-42");
    assert!(s.contains("/dev/pts/"), "{s}");
    t.resize(101, 31);
    t.send(&["exit 4", "Enter"]);
    t.wait_for("[exit=4]");
    drop(t);

    let mut child = Command::new(BERTHCTL)
        .args(["exec", "-i", &name, "sh", "-c", "cat; exit 5"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"through stdin\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "through stdin\n");
    assert_eq!(out.status.code(), Some(5));

    let o = run(BERTHCTL, &["exec", &name, "/no/such/command"]);
    assert_eq!(o.status.code(), Some(127), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(BERTHCTL, &["exec", &name, "/etc"]);
    assert_eq!(o.status.code(), Some(126), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(BERTHCTL, &["exec", "-u", "65534", "-w", "/tmp", "-e", "X=y", &name, "sh", "-c", "echo $(id -u) $PWD $X"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "65534 /tmp y");
    // Detached: the id comes back, the code through ExecWait.
    let id = ok(BERTHCTL, &["exec", "-d", &name, "sh", "-c", "sleep 0.2; exit 9"]);
    let c = Client::system().await.unwrap();
    assert_eq!(c.exec_wait(&name, id.trim(), Some(Duration::from_secs(20))).await.unwrap(), 9);
    let listed = c.exec_list(&name).await.unwrap();
    assert!(listed.len() >= 5 && listed.iter().all(|s| s.state == ExecState::Exited), "{listed:?}");
    c.remove(&name, true, Some(0)).await.unwrap();
}

/// Frames of one caller until the stream ends: the output, and the exit
/// code if it came.
fn drain(conn: OwnedFd) -> Seen {
    let mut seen = Seen::default();
    read_until(&conn, None, &mut seen);
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_callers_and_a_stalled_one_during_a_flood() {
    let f = common::installed();
    let _g = daemon_lock().read().await;
    let c = Client::system().await.unwrap();
    let name = common::unique("flood");
    // 100,000 lines of 60 bytes: far more than a caller's buffer.
    let script = "read go; seq 1 100000 | sed 's/$/ ................................................./'";
    let o = options(&f.rootfs, &["/bin/sh", "-c", script], &[("Interactive", OptionValue::Bool(true))]);
    c.create(&name, &o).await.unwrap();
    let all = Streams { stdin: true, stdout: true, stderr: true, detach_keys: "none".into() };
    let a = c.start_and_attach(&name, false, &all).await.unwrap();
    let b = c.attach(&name, &Streams { stdin: false, ..all.clone() }).await.unwrap();
    let stalled = c.attach(&name, &Streams { stdin: false, ..all.clone() }).await.unwrap();
    let t0 = Instant::now();
    send(&a, Frame::Stdin(b"go\n"));
    let (ra, rb) = (std::thread::spawn(move || drain(a)), std::thread::spawn(move || drain(b)));
    let code = c.wait(&name, &[], Some(Duration::from_secs(120))).await.unwrap();
    let took = t0.elapsed();
    assert_eq!(code, 0);
    let want: Vec<String> = (1..=100_000).map(|i| format!("{i} .................................................")).collect();
    for (who, r) in [("a", ra), ("b", rb)] {
        let seen = r.join().unwrap();
        let text = String::from_utf8(seen.out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 100_000, "{who}: lines lost");
        assert!(lines.iter().zip(&want).all(|(l, w)| l == w), "{who}: lines out of order or torn");
        assert_eq!(seen.exit, Some(0), "{who}: the exit code comes last");
    }
    // The stalled caller was dropped once its buffer was full: what it
    // gets now is a bounded part, without the exit frame.
    let seen = drain(stalled);
    assert!(seen.exit.is_none() && seen.out.len() < 3 << 20, "the stalled caller got {} bytes", seen.out.len());
    assert!(took < Duration::from_secs(60), "the flood took {took:?}");
    let lines = common::journal_lines(&name);
    let flood: Vec<&String> = lines.iter().filter(|l| l.ends_with("....")).collect();
    assert_eq!(flood.len(), 100_000, "the journal holds every line");
    assert!(flood.iter().zip(&want).all(|(l, w)| *l == w));
    c.remove(&name, false, None).await.unwrap();
}

#[tokio::test]
async fn berthd_killed_during_an_attach_and_an_exec() {
    let f = common::installed();
    let _g = daemon_lock().write().await;
    let c = Client::system().await.unwrap();
    let name = common::unique("survive");
    let echo = "while read l; do echo got-$l; done";
    let o = options(&f.rootfs, &["/bin/sh", "-c", echo], &[("Interactive", OptionValue::Bool(true))]);
    c.create(&name, &o).await.unwrap();
    c.start(&name, false).await.unwrap();
    let all = Streams { stdin: true, stdout: true, stderr: true, detach_keys: "none".into() };
    let attached = c.attach(&name, &all).await.unwrap();
    let config = ExecConfig { command: vec!["/bin/sh".into(), "-c".into(), format!("{echo}; exit 6")], interactive: true, ..Default::default() };
    let session = c.exec_create(&name, &config).await.unwrap();
    let exec = c.exec_start_and_attach(&name, &session, &all).await.unwrap();

    ok("systemctl", &["kill", "--kill-whom=main", "--signal=KILL", "berthd.service"]);
    // Both streams go on without berthd.
    let (mut sa, mut se) = (Seen::default(), Seen::default());
    send(&attached, Frame::Stdin(b"one\n"));
    read_until(&attached, Some("got-one"), &mut sa);
    send(&exec, Frame::Stdin(b"two\n"));
    read_until(&exec, Some("got-two"), &mut se);

    common::wait_until(Duration::from_secs(20), || run("systemctl", &["is-active", "--quiet", "berthd"]).status.success());
    let c = Client::system().await.unwrap();
    assert_eq!(c.state(&name).await.unwrap(), State::Running);
    assert_eq!(c.exec_inspect(&name, &session).await.unwrap().state, ExecState::Running);
    // A new attach works, beside the old one.
    let again = c.attach(&name, &all).await.unwrap();
    send(&again, Frame::Stdin(b"three\n"));
    let mut s3 = Seen::default();
    read_until(&again, Some("got-three"), &mut s3);
    read_until(&attached, Some("got-three"), &mut sa);
    // The exec ends with its code, in band and through ExecWait.
    send(&exec, Frame::Stdin(b""));
    read_until(&exec, None, &mut se);
    assert_eq!(se.exit, Some(6));
    assert_eq!(c.exec_wait(&name, &session, Some(Duration::from_secs(10))).await.unwrap(), 6);
    c.remove(&name, true, Some(0)).await.unwrap();
    read_until(&attached, None, &mut sa);
    assert!(sa.exit.is_some(), "the attached caller learns the end");
}

#[tokio::test]
async fn other_users_are_refused_and_bad_input_is_named() {
    let f = common::installed();
    let _g = daemon_lock().read().await;
    let c = Client::system().await.unwrap();
    let name = common::unique("refuse");
    let o = options(&f.rootfs, &["/bin/sh", "-c", "while true; do sleep 0.1; done"], &[("Interactive", OptionValue::Bool(true))]);
    c.create(&name, &o).await.unwrap();
    c.start(&name, false).await.unwrap();
    let session = c.exec_create(&name, &ExecConfig { command: vec!["true".into()], ..Default::default() }).await.unwrap();
    let _ = run("useradd", &["--no-create-home", "--shell", "/bin/sh", "berthtest"]);
    let as_user = |args: &[&str]| {
        let mut a = vec!["-u", "berthtest", "--", "busctl", "call", "--", "org.berth.Berth1", "/org/berth/Berth1", "org.berth.Berth1.Manager"];
        a.extend_from_slice(args);
        run("runuser", &a)
    };
    let denied: [&[&str]; 6] = [
        &["AttachContainer", "sbbbs", &name, "true", "true", "true", ""],
        &["StartAndAttachContainer", "sbbbbs", &name, "false", "false", "true", "true", ""],
        &["AttachResizeContainer", "sqq", &name, "10", "10"],
        &["ExecCreate", "sa{sv}", &name, "1", "Command", "as", "1", "id"],
        &["ExecStart", "ss", &name, &session],
        &["ExecResize", "ssqq", &name, &session, "10", "10"],
    ];
    for args in denied {
        let o = as_user(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && (err.contains("Access denied") || err.contains("AccessDenied")), "{args:?}: {err}");
    }
    assert_eq!(c.exec_inspect(&name, &session).await.unwrap().state, ExecState::Created, "nothing started");

    let none = "0".repeat(64);
    assert_eq!(c.exec_start(&name, &none).await.unwrap_err().name(), "NoSuchExecSession");
    assert_eq!(c.exec_inspect(&name, "../x").await.unwrap_err().name(), "NoSuchExecSession");
    assert_eq!(c.attach_resize(&name, 10, 10).await.unwrap_err().name(), "NotATerminal");
    assert_eq!(c.exec_resize(&name, &session, 10, 10).await.unwrap_err().name(), "NotATerminal");
    let bad = Streams { detach_keys: "ctrl-".into(), ..Streams::default() };
    assert_eq!(c.attach(&name, &bad).await.unwrap_err().name(), "InvalidArgument");
    let bad = ExecConfig { command: vec![], ..Default::default() };
    assert_eq!(c.exec_create(&name, &bad).await.unwrap_err().name(), "InvalidArgument");
    c.exec_start(&name, &session).await.unwrap();
    assert_eq!(c.exec_start(&name, &session).await.unwrap_err().name(), "InvalidExecState");
    assert_eq!(c.exec_wait(&name, &session, Some(Duration::from_secs(10))).await.unwrap(), 0);
    c.stop(&name, Some(0)).await.unwrap();
    wait_state(&c, &name, State::Stopped).await;
    let e = c.exec_create(&name, &ExecConfig { command: vec!["true".into()], ..Default::default() }).await.unwrap_err();
    assert_eq!(e.name(), "InvalidState", "{e}");
    assert_eq!(c.attach(&name, &Streams::default()).await.unwrap_err().name(), "InvalidState");
    c.remove(&name, false, None).await.unwrap();
}

/// runc as crun: a terminal for the container and for an exec session.
#[tokio::test]
async fn runc_terminal_and_exec() {
    let f = common::installed();
    let _g = daemon_lock().read().await;
    let c = Client::system().await.unwrap();
    let name = common::unique("runc-tty");
    let extra = [
        ("Runtime", OptionValue::Str("runc".into())),
        ("Terminal", OptionValue::Bool(true)),
        ("Interactive", OptionValue::Bool(true)),
    ];
    c.create(&name, &options(&f.rootfs, &["/bin/sh"], &extra)).await.unwrap();
    let all = Streams { stdin: true, stdout: true, stderr: true, detach_keys: String::new() };
    let conn = c.start_and_attach(&name, false, &all).await.unwrap();
    send(&conn, Frame::Resize { rows: 21, cols: 61 });
    send(&conn, Frame::Stdin(b"tty; stty size; echo ok-$((1+2))\n"));
    let mut seen = Seen::default();
    read_until(&conn, Some("ok-3"), &mut seen);
    let text = String::from_utf8_lossy(&seen.out).into_owned();
    assert!(text.contains("/dev/pts/") && text.contains("21 61"), "{text}");

    let config = ExecConfig { command: vec!["/bin/sh".into()], terminal: true, interactive: true, ..Default::default() };
    let session = c.exec_create(&name, &config).await.unwrap();
    let exec = c.exec_start_and_attach(&name, &session, &all).await.unwrap();
    c.exec_resize(&name, &session, 22, 62).await.unwrap();
    send(&exec, Frame::Stdin(b"tty; stty size; exit 8\n"));
    let mut se = Seen::default();
    read_until(&exec, None, &mut se);
    let text = String::from_utf8_lossy(&se.out).into_owned();
    assert_eq!(se.exit, Some(8), "{text}");
    assert!(text.contains("/dev/pts/") && text.contains("22 62"), "{text}");
    let o = run(BERTHCTL, &["exec", &name, "/no/such/command"]);
    assert_eq!(o.status.code(), Some(127), "{}", String::from_utf8_lossy(&o.stderr));

    send(&conn, Frame::Stdin(b"exit 2\n"));
    read_until(&conn, None, &mut seen);
    assert_eq!(seen.exit, Some(2));
    assert_eq!(c.wait(&name, &[], Some(Duration::from_secs(20))).await.unwrap(), 2);
    c.remove(&name, false, None).await.unwrap();
}
