//! `berth-monitor`: the main process of a container's unit. It runs the OCI
//! runtime in the foreground, tells systemd when the container is ready,
//! turns systemd's stop request into the container's own stop signal with a
//! SIGKILL after the container's timeout, forwards other signals, and records
//! the exit code in a file so that it survives berthd being down.
//!
//! Keeping the timeout here rather than in systemd means a stop never ends
//! in systemd's "timeout" result, so a requested stop never leaves the unit
//! failed, and the monitor exits with [`USER_STOP_STATUS`], which the unit
//! lists as a success that must not trigger a restart.

use super::cmdline::Runtime;
use crate::model::now_usec;
use crate::store::ExitRecord;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The unit's KillSignal: systemd asks the monitor to stop the container
/// gracefully with it (SIGRTMIN+4; never sent to containers by anyone else).
pub const STOP_REQUEST_SIGNAL: i32 = 38;

/// The monitor's exit status after a stop or kill that someone asked for.
/// The unit lists it in SuccessExitStatus and RestartPreventExitStatus.
pub const USER_STOP_STATUS: i32 = 250;

/// How long the monitor waits for journald to read the container's output.
const JOURNAL_DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// How long the runtime may outlive its SIGKILLed container.
const RUNTIME_GRACE: Duration = Duration::from_secs(2);

/// A file in the bundle that overrides the stop timeout of the next stop.
pub const STOP_TIMEOUT_FILE: &str = "stop-timeout";

/// Everything the monitor needs; also what berthd writes into ExecStart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorArgs {
    pub runtime: Runtime,
    pub bundle: PathBuf,
    pub id: String,
    pub exit_file: PathBuf,
    pub stop_signal: i32,
    pub stop_timeout: u32,
    /// The container sends READY=1 itself; otherwise the monitor does once
    /// the container's init exists.
    pub notify: bool,
    /// Where the monitor listens for the container's notifications.
    pub notify_socket: PathBuf,
}

impl MonitorArgs {
    /// The arguments after the monitor's program name.
    pub fn to_args(&self) -> Vec<String> {
        let mut v = vec![
            "run".to_string(),
            format!("--runtime={}", self.runtime.program.display()),
            format!("--runtime-root={}", self.runtime.root.display()),
            format!("--bundle={}", self.bundle.display()),
            format!("--id={}", self.id),
            format!("--exit-file={}", self.exit_file.display()),
            format!("--stop-signal={}", self.stop_signal),
            format!("--stop-timeout={}", self.stop_timeout),
            format!("--notify-socket={}", self.notify_socket.display()),
        ];
        if self.runtime.runc {
            v.push("--runc".into());
        }
        if self.notify {
            v.push("--notify".into());
        }
        v
    }

    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut runtime = None;
        let mut root = None;
        let mut runc = false;
        let mut bundle = None;
        let mut id = None;
        let mut exit_file = None;
        let mut stop_signal = 15;
        let mut stop_timeout = 10;
        let mut notify = false;
        let mut notify_socket = None;
        for a in args {
            let (k, v) = a.split_once('=').unwrap_or((a, ""));
            let num = |v: &str| v.parse::<i64>().map_err(|_| format!("{k}: not a number: {v:?}"));
            match k {
                "--runtime" => runtime = Some(PathBuf::from(v)),
                "--runtime-root" => root = Some(PathBuf::from(v)),
                "--runc" => runc = true,
                "--bundle" => bundle = Some(PathBuf::from(v)),
                "--id" => id = Some(v.to_string()),
                "--exit-file" => exit_file = Some(PathBuf::from(v)),
                "--stop-signal" => stop_signal = num(v)? as i32,
                "--stop-timeout" => stop_timeout = num(v)? as u32,
                "--notify" => notify = true,
                "--notify-socket" => notify_socket = Some(PathBuf::from(v)),
                _ => return Err(format!("unknown argument {a:?}")),
            }
        }
        let need = |o: Option<PathBuf>, k: &str| o.ok_or_else(|| format!("{k} is required"));
        Ok(MonitorArgs {
            runtime: Runtime { program: need(runtime, "--runtime")?, root: need(root, "--runtime-root")?, runc },
            bundle: need(bundle, "--bundle")?,
            id: id.ok_or("--id is required")?,
            exit_file: need(exit_file, "--exit-file")?,
            stop_signal,
            stop_timeout,
            notify,
            notify_socket: need(notify_socket, "--notify-socket")?,
        })
    }
}

/// Exit code of a process: its status, or 128+N when signal N killed it.
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => 255,
    }
}

/// Exit code from systemd's `$EXIT_CODE` / `$EXIT_STATUS` (ExecStopPost).
pub fn exit_code_from_env(code: &str, status: &str) -> Option<i32> {
    match code {
        "exited" => status.parse().ok(),
        "killed" | "dumped" => {
            let sig = status.parse::<i32>().ok().or_else(|| crate::model::parse_signal(status, "").ok())?;
            Some(128 + sig)
        }
        _ => None,
    }
}

/// Signals the monitor forwards to the container unchanged.
fn forwarded() -> Vec<Signal> {
    use Signal::*;
    vec![SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH, SIGCONT, SIGTSTP, SIGPWR]
}

fn send(pid: i32, sig: i32) {
    // Raw kill(2): real-time signals have no nix::Signal variant.
    unsafe { nix::libc::kill(pid, sig) };
}

fn notify_target() -> Option<SocketAddr> {
    let s = std::env::var_os("NOTIFY_SOCKET")?;
    let s = s.to_string_lossy();
    if let Some(abs) = s.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        SocketAddr::from_abstract_name(abs.as_bytes()).ok()
    } else {
        SocketAddr::from_pathname(&*s).ok()
    }
}

/// Move the monitor into `<unit>/supervisor` and point runc at
/// `<unit>/payload`: runc has no "disabled" cgroup manager, and a cgroup
/// with processes of its own cannot hand controllers to a child.
fn prepare_runc_cgroup(bundle: &Path) -> io::Result<()> {
    let own = std::fs::read_to_string("/proc/self/cgroup")?;
    let cg = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or_else(|| io::Error::other("no cgroup v2 entry in /proc/self/cgroup"))?
        .trim_end_matches("/supervisor")
        .to_string();
    let sup = Path::new("/sys/fs/cgroup").join(cg.trim_start_matches('/')).join("supervisor");
    std::fs::create_dir_all(&sup)?;
    std::fs::write(sup.join("cgroup.procs"), std::process::id().to_string())?;
    super::bundle::set_cgroups_path(&bundle.join("config.json"), &format!("{cg}/payload"))
        .map_err(|e| io::Error::other(e.to_string()))
}

fn runtime_command(rt: &Runtime, args: Vec<OsString>) -> Command {
    let mut c = Command::new(&rt.program);
    c.args(args).stdin(Stdio::null()).env_remove("NOTIFY_SOCKET");
    c
}

struct Monitor<'a> {
    a: &'a MonitorArgs,
    child: Child,
    init: Option<i32>,
    ready_sent: bool,
    stop_requested: bool,
    last_signal: Option<i32>,
    deadline: Option<Instant>,
    killed: bool,
    upstream: Option<SocketAddr>,
    out: UnixDatagram,
}

impl Monitor<'_> {
    fn target(&self) -> i32 {
        self.init.unwrap_or(self.child.id() as i32)
    }

    fn tell_systemd(&self, msg: &[u8]) {
        if let Some(addr) = &self.upstream {
            let _ = self.out.send_to_addr(msg, addr);
        }
    }

    fn on_signal(&mut self, sig: i32) -> io::Result<Option<std::process::ExitStatus>> {
        if sig == Signal::SIGCHLD as i32 {
            return self.child.try_wait();
        }
        if sig == STOP_REQUEST_SIGNAL {
            if !self.stop_requested {
                self.stop_requested = true;
                self.tell_systemd(b"STOPPING=1");
                send(self.target(), self.a.stop_signal);
                // berthd's Stop(timeout) may override the container's timeout.
                let secs = std::fs::read_to_string(self.a.bundle.join(STOP_TIMEOUT_FILE))
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(self.a.stop_timeout);
                self.deadline = Some(Instant::now() + Duration::from_secs(secs as u64));
            }
        } else {
            self.last_signal = Some(sig);
            send(self.target(), sig);
        }
        Ok(None)
    }

    fn poll_init(&mut self) {
        if self.init.is_some() {
            return;
        }
        let pid_file = self.a.bundle.join("pid");
        let Ok(s) = std::fs::read_to_string(&pid_file) else { return };
        let Ok(pid) = s.trim().parse::<i32>() else { return };
        self.init = Some(pid);
        if self.stop_requested {
            send(pid, self.a.stop_signal);
        }
        if !self.a.notify && !self.ready_sent {
            self.ready_sent = true;
            self.tell_systemd(b"READY=1");
        }
    }

    /// Forward the container's notification, without MAINPID=: systemd must
    /// keep the monitor as the unit's main process.
    fn relay(&mut self, sock: &UnixDatagram) {
        let mut buf = [0u8; 4096];
        while let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]);
            let kept: Vec<&str> = msg.lines().filter(|l| !l.starts_with("MAINPID=")).collect();
            if kept.iter().any(|l| *l == "READY=1") {
                self.ready_sent = true;
            }
            if !kept.is_empty() {
                self.tell_systemd(kept.join("\n").as_bytes());
            }
        }
    }
}

/// Run the container to its end; returns the monitor's exit status.
pub fn run(a: &MonitorArgs) -> io::Result<i32> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    for s in forwarded() {
        mask.add(s);
    }
    // SIGRTMIN+4 has no nix::Signal variant: add it through the raw set.
    let mut raw = *mask.as_ref();
    unsafe { nix::libc::sigaddset(&mut raw, STOP_REQUEST_SIGNAL) };
    // SAFETY: raw was initialised by SigSet::empty and sigaddset.
    let mask = unsafe { SigSet::from_sigset_t_unchecked(raw) };
    mask.thread_block().map_err(io::Error::from)?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;

    let marker = ExitRecord::marker_path(&a.exit_file);
    crate::fsutil::atomic_write(&marker, std::process::id().to_string().as_bytes())?;
    if a.runtime.runc {
        prepare_runc_cgroup(&a.bundle)?;
    }
    if a.runtime.state_dir(&a.id).exists() {
        // A monitor killed earlier left the runtime's state behind.
        let _ = runtime_command(&a.runtime, a.runtime.delete_args(&a.id)).status();
    }
    let pid_file = a.bundle.join("pid");
    let _ = std::fs::remove_file(&pid_file);

    let upstream = notify_target();
    let proxy = if a.notify {
        if let Some(d) = a.notify_socket.parent() {
            std::fs::create_dir_all(d)?;
        }
        let _ = std::fs::remove_file(&a.notify_socket);
        let s = UnixDatagram::bind(&a.notify_socket)?;
        s.set_nonblocking(true)?;
        Some(s)
    } else {
        None
    };

    let mut cmd = runtime_command(&a.runtime, a.runtime.run_args(&a.bundle, &pid_file, &a.id));
    let streams = super::journal::container_streams();
    if let Some((out, err)) = &streams {
        cmd.stdout(out.try_clone()?).stderr(err.try_clone()?);
    }
    if proxy.is_some() {
        cmd.env("NOTIFY_SOCKET", &a.notify_socket);
    }
    let unblock = mask;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || unblock.thread_unblock().map_err(io::Error::from));
    }
    let child = cmd.spawn()?;
    let mut m = Monitor {
        a,
        child,
        init: None,
        ready_sent: false,
        stop_requested: false,
        last_signal: None,
        deadline: None,
        killed: false,
        upstream,
        out: UnixDatagram::unbound()?,
    };

    let status = loop {
        m.poll_init();
        let timeout = match (m.init, m.deadline) {
            (_, Some(d)) => d.saturating_duration_since(Instant::now()).min(Duration::from_millis(if m.init.is_none() { 1 } else { 60_000 })),
            (None, None) => Duration::from_millis(1),
            (Some(_), None) => Duration::from_secs(60),
        };
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(p) = &proxy {
            fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX)) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(p) = &proxy {
            m.relay(p);
        }
        let mut done = None;
        while let Some(info) = sfd.read_signal()? {
            if let Some(st) = m.on_signal(info.ssi_signo as i32)? {
                done = Some(st);
            }
        }
        if done.is_none() {
            done = m.child.try_wait()?;
        }
        if let Some(st) = done {
            break st;
        }
        if m.deadline.is_some_and(|d| Instant::now() >= d) {
            if !m.killed {
                // The container ignored its stop signal: SIGKILL, as podman does.
                let _ = kill(Pid::from_raw(m.target()), Signal::SIGKILL);
                m.killed = true;
                m.deadline = Some(Instant::now() + RUNTIME_GRACE);
            } else {
                // The runtime outlives its container (runc waiting for a
                // READY=1 that never comes): it goes too.
                let _ = m.child.kill();
                m.deadline = None;
            }
        }
    };

    // A short-lived container may be gone before the loop saw it start: it
    // did start, so a non-notify container still counts as started.
    m.poll_init();
    // Exit only once journald has read every line the container wrote.
    match &streams {
        Some((out, err)) => super::journal::drain(&[out, err], JOURNAL_DRAIN_LIMIT),
        None => {
            let (out, err) = (std::io::stdout().as_fd().try_clone_to_owned()?, std::io::stderr().as_fd().try_clone_to_owned()?);
            super::journal::drain(&[&out, &err], JOURNAL_DRAIN_LIMIT);
        }
    }
    let code = exit_code(status);
    if status.signal().is_some() {
        // The runtime itself was killed; its container must not outlive it.
        if let Some(init) = m.init {
            let _ = kill(Pid::from_raw(init), Signal::SIGKILL);
        }
        if a.runtime.state_dir(&a.id).exists() {
            let _ = runtime_command(&a.runtime, a.runtime.delete_args(&a.id)).status();
        }
    }
    let user_stop = m.stop_requested || m.last_signal.is_some_and(|s| code == 128 + s);
    ExitRecord { exit_code: code, finished_at: now_usec(), stop_requested: user_stop }.write(&a.exit_file)?;
    let _ = std::fs::remove_file(&marker);
    let _ = std::fs::remove_file(&pid_file);
    if proxy.is_some() {
        let _ = std::fs::remove_file(&a.notify_socket);
    }
    Ok(if user_stop { USER_STOP_STATUS } else { code })
}

/// ExecStopPost: when the monitor died before recording the exit (killed
/// with SIGKILL), record what systemd saw.
pub fn record_exit(exit_file: &Path) -> io::Result<()> {
    let marker = ExitRecord::marker_path(exit_file);
    if !marker.exists() {
        return Ok(());
    }
    let code = std::env::var("EXIT_CODE").unwrap_or_default();
    let status = std::env::var("EXIT_STATUS").unwrap_or_default();
    let exit_code = exit_code_from_env(&code, &status).unwrap_or(255);
    ExitRecord { exit_code, finished_at: now_usec(), stop_requested: true }.write(exit_file)?;
    std::fs::remove_file(&marker)
}

/// Entry point of the `berth-monitor` binary.
pub fn main(args: Vec<String>) -> i32 {
    let result = match args.first().map(String::as_str) {
        Some("run") => match MonitorArgs::parse(&args[1..]) {
            Ok(a) => run(&a),
            Err(e) => {
                eprintln!("berth-monitor: {e}");
                return 2;
            }
        },
        Some("run-spec") => match super::spec_run::RunSpecArgs::parse(&args[1..]) {
            Ok(a) => super::spec_run::run(&a),
            Err(e) => {
                eprintln!("berth-monitor: {e}");
                return 2;
            }
        },
        Some("record-exit") => match args.get(1).and_then(|a| a.strip_prefix("--exit-file=")) {
            Some(f) => record_exit(Path::new(f)).map(|()| 0),
            None => {
                eprintln!("berth-monitor: record-exit --exit-file=PATH");
                return 2;
            }
        },
        _ => {
            eprintln!("usage: berth-monitor run ARGS... | run-spec --spec=PATH --name=NAME --id=ID [--run-root=DIR] | record-exit --exit-file=PATH");
            return 2;
        }
    };
    result.unwrap_or_else(|e| {
        eprintln!("berth-monitor: {e}");
        125
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(runc: bool, notify: bool) -> MonitorArgs {
        MonitorArgs {
            runtime: Runtime { program: "/usr/bin/crun".into(), root: "/run/berth/crun".into(), runc },
            bundle: "/run/berth/bundles/x".into(),
            id: "x".into(),
            exit_file: "/run/berth/exits/x".into(),
            stop_signal: 2,
            stop_timeout: 7,
            notify,
            notify_socket: "/run/berth/notify/x".into(),
        }
    }

    #[test]
    fn arguments_round_trip() {
        for (runc, notify) in [(false, false), (true, true)] {
            let a = args(runc, notify);
            assert_eq!(MonitorArgs::parse(&a.to_args()[1..]).unwrap(), a);
        }
        assert!(MonitorArgs::parse(&["--bogus".into()]).is_err());
        assert!(MonitorArgs::parse(&[]).is_err());
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(std::process::ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(std::process::ExitStatus::from_raw(9)), 137);
        assert_eq!(exit_code_from_env("exited", "3"), Some(3));
        assert_eq!(exit_code_from_env("killed", "KILL"), Some(137));
        assert_eq!(exit_code_from_env("dumped", "SEGV"), Some(139));
        assert_eq!(exit_code_from_env("killed", "15"), Some(143));
        assert_eq!(exit_code_from_env("", ""), None);
    }
}
