//! The monitor's run of one container, step by step: block signals, mark
//! the run, place itself and the runtime in their cgroups, start the
//! runtime, supervise it, and record how it ended. Every step that fails
//! says so on stderr, which is the unit's journal.

use super::output::Output;
use super::{exit_code, MonitorArgs, KILL_REQUEST_SIGNAL, START_FAILURE_CODE, STOP_REQUEST_SIGNAL, USER_STOP_STATUS};
use crate::model::now_usec;
use crate::runtime::cgroup;
use crate::runtime::cmdline::Runtime;
use crate::store::{marker_of, ExitRecord};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long the monitor waits for journald to read the container's output.
const JOURNAL_DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// How long the runtime may outlive its SIGKILLed container.
const RUNTIME_GRACE: Duration = Duration::from_secs(2);

/// The container's name, for SYSLOG_IDENTIFIER: from its unit,
/// `berth-NAME.service` (transient) or `NAME.service` (file-defined).
fn identifier() -> String {
    let cg = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let unit = cg.lines().find_map(|l| l.strip_prefix("0::")).and_then(|p| p.split('/').rev().find(|c| c.ends_with(".service")));
    match unit.and_then(|u| u.strip_suffix(".service")) {
        Some(n) => n.strip_prefix("berth-").unwrap_or(n).to_string(),
        None => "berth-monitor".to_string(),
    }
}

/// Say what failed, in the unit's journal; the monitor goes on.
fn warn(what: &str, e: impl std::fmt::Display) {
    eprintln!("berth-monitor: {what}: {e}");
}

/// Signals the monitor forwards to the container unchanged.
fn forwarded() -> Vec<Signal> {
    use Signal::*;
    vec![SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH, SIGCONT, SIGTSTP, SIGPWR]
}

fn send(pid: i32, sig: i32) {
    // Raw kill(2): real-time signals have no nix::Signal variant.
    // SAFETY: kill has no memory effects; a failure (ESRCH) is harmless here.
    if unsafe { nix::libc::kill(pid, sig) } != 0 {
        warn(&format!("signal {sig} to {pid}"), io::Error::last_os_error());
    }
}

/// Block the signals the monitor handles and read them from a signalfd.
fn block_signals() -> io::Result<(SigSet, SignalFd)> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    for s in forwarded() {
        mask.add(s);
    }
    // SIGRTMIN+4 has no nix::Signal variant: add it through the raw set.
    let mut raw = *mask.as_ref();
    // SAFETY: raw is an initialised sigset_t.
    unsafe { nix::libc::sigaddset(&mut raw, STOP_REQUEST_SIGNAL) };
    // SAFETY: as above.
    unsafe { nix::libc::sigaddset(&mut raw, KILL_REQUEST_SIGNAL) };
    // SAFETY: raw was initialised by SigSet::empty and sigaddset.
    let mask = unsafe { SigSet::from_sigset_t_unchecked(raw) };
    mask.thread_block().map_err(io::Error::from)?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
    Ok((mask, sfd))
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

fn runtime_command(rt: &Runtime, args: Vec<OsString>) -> Command {
    let mut c = Command::new(&rt.program);
    c.args(args).stdin(Stdio::null()).env_remove("NOTIFY_SOCKET");
    c
}

/// `runtime delete --force`, for state a killed runtime left behind.
fn delete_runtime_state(a: &MonitorArgs) {
    if !a.runtime.state_dir(&a.id).exists() {
        return;
    }
    match runtime_command(&a.runtime, a.runtime.delete_args(&a.id)).status() {
        Ok(s) if s.success() => {}
        Ok(s) => warn("deleting the runtime's leftover state", s),
        Err(e) => warn("deleting the runtime's leftover state", e),
    }
}

/// The monitor in `supervisor`; the runtime will go to `payload`. runc is
/// told the payload cgroup; crun (`--cgroup-manager=disabled`) is moved
/// there before it runs and the container stays in its cgroup. Returns the
/// payload's `cgroup.procs`, open. Outside a systemd unit (tests), nothing
/// moves.
fn place_cgroups(a: &MonitorArgs) -> io::Result<Option<File>> {
    if std::env::var_os("INVOCATION_ID").is_none() {
        return Ok(None);
    }
    let unit = cgroup::enter_supervisor()?;
    if a.runtime.runc {
        let payload = format!("{unit}/{}", cgroup::PAYLOAD);
        crate::runtime::bundle::set_cgroups_path(&a.bundle.join("config.json"), &payload)
            .map_err(|e| io::Error::other(e.to_string()))?;
        return Ok(None);
    }
    Ok(Some(std::fs::OpenOptions::new().write(true).open(cgroup::payload_dir(&unit).join("cgroup.procs"))?))
}

/// The socket a notify container sends READY=1 to.
fn notify_proxy(a: &MonitorArgs) -> io::Result<Option<UnixDatagram>> {
    if !a.notify {
        return Ok(None);
    }
    if let Some(d) = a.notify_socket.parent() {
        std::fs::create_dir_all(d)?;
    }
    let _ = std::fs::remove_file(&a.notify_socket);
    let s = UnixDatagram::bind(&a.notify_socket)?;
    s.set_nonblocking(true)?;
    Ok(Some(s))
}

fn spawn_runtime(
    a: &MonitorArgs,
    pid_file: &Path,
    mask: SigSet,
    pipes: Option<(OwnedFd, OwnedFd)>,
    proxy: bool,
    payload: Option<File>,
) -> io::Result<Child> {
    let mut cmd = runtime_command(&a.runtime, a.runtime.run_args(&a.bundle, pid_file, &a.id));
    // The write ends go to the runtime and the container only: the
    // monitor's copies close with `cmd`, so the pipes end with them.
    if let Some((out, err)) = pipes {
        cmd.stdout(out).stderr(err);
    }
    if proxy {
        cmd.env("NOTIFY_SOCKET", &a.notify_socket);
    }
    let payload_fd = payload.map(|f| OwnedFd::from(f));
    let raw = payload_fd.as_ref().map(|f| f.as_raw_fd());
    // SAFETY: only async-signal-safe calls between fork and exec: writing
    // "0" to cgroup.procs moves the writing process; sigprocmask.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(fd) = raw {
                if nix::libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(io::Error::last_os_error());
                }
            }
            mask.thread_unblock().map_err(io::Error::from)
        });
    }
    let child = cmd.spawn();
    drop(payload_fd);
    drop(cmd);
    child
}

struct Monitor<'a> {
    a: &'a MonitorArgs,
    layout_pid_file: PathBuf,
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
            if let Err(e) = self.out.send_to_addr(msg, addr) {
                warn("notifying systemd", e);
            }
        }
    }

    /// SIGKILL every process of the container: its payload cgroup at once
    /// (cgroup.kill, Linux 5.14), or its init (the rest of its PID namespace
    /// dies with it).
    fn kill_container(&self) {
        let unit = std::fs::read_to_string("/proc/self/cgroup").ok().and_then(|own| cgroup::unit_cgroup(&own));
        if let Some(unit) = unit {
            if cgroup::kill_payload(&unit).is_ok() {
                return;
            }
        }
        if let Err(e) = kill(Pid::from_raw(self.target()), Signal::SIGKILL) {
            warn("SIGKILL to the container", e);
        }
    }

    /// A paused container must be thawed to act on a stop signal.
    fn thaw(&self) {
        if let Ok(own) = std::fs::read_to_string("/proc/self/cgroup") {
            if let Some(unit) = cgroup::unit_cgroup(&own) {
                if cgroup::payload_frozen(&unit) {
                    if let Err(e) = cgroup::freeze_payload(&unit, false) {
                        warn("thawing the container to stop it", e);
                    }
                }
            }
        }
    }

    fn on_signal(&mut self, sig: i32) -> io::Result<Option<ExitStatus>> {
        if sig == Signal::SIGCHLD as i32 {
            return self.child.try_wait();
        }
        if sig == KILL_REQUEST_SIGNAL {
            self.stop_requested = true;
            self.last_signal = Some(9);
            self.kill_container();
            self.killed = true;
            self.deadline = Some(Instant::now() + RUNTIME_GRACE);
            return Ok(None);
        }
        if sig == STOP_REQUEST_SIGNAL {
            if !self.stop_requested {
                self.stop_requested = true;
                self.tell_systemd(b"STOPPING=1");
                self.thaw();
                send(self.target(), self.a.stop_signal);
                // berthd's Stop(timeout) may override the container's timeout.
                let secs = std::fs::read_to_string(self.a.bundle.join("stop-timeout"))
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
        let Ok(s) = std::fs::read_to_string(&self.layout_pid_file) else { return };
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

    /// Until the runtime exits: signals, notifications, the container's
    /// output, the stop deadline.
    fn supervise(&mut self, sfd: &SignalFd, proxy: Option<&UnixDatagram>, mut output: Option<&mut Output>) -> io::Result<ExitStatus> {
        loop {
            self.poll_init();
            // Until the init exists, poll its pid file often.
            let tick = if self.init.is_none() { Duration::from_millis(1) } else { Duration::from_secs(60) };
            let timeout = match self.deadline {
                Some(d) => d.saturating_duration_since(Instant::now()).min(tick),
                None => tick,
            };
            let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
            if let Some(p) = proxy {
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
            }
            let pipes: Vec<usize> = match &output {
                Some(o) => o.fds().into_iter().map(|(i, fd)| {
                    fds.push(PollFd::new(fd, PollFlags::POLLIN));
                    i
                }).collect(),
                None => Vec::new(),
            };
            match poll(&mut fds, PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX)) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
            let first_pipe = fds.len() - pipes.len();
            let ready: Vec<usize> = pipes
                .iter()
                .zip(&fds[first_pipe..])
                .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
                .map(|(i, _)| *i)
                .collect();
            drop(fds);
            if let Some(o) = output.as_deref_mut() {
                for i in &ready {
                    o.read(*i);
                }
                if !ready.is_empty() {
                    o.flush();
                }
            }
            if let Some(p) = proxy {
                self.relay(p);
            }
            let mut done = None;
            while let Some(info) = sfd.read_signal()? {
                if let Some(st) = self.on_signal(info.ssi_signo as i32)? {
                    done = Some(st);
                }
            }
            if done.is_none() {
                done = self.child.try_wait()?;
            }
            if let Some(st) = done {
                return Ok(st);
            }
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                if !self.killed {
                    // The container ignored its stop signal: SIGKILL, as podman does.
                    if let Err(e) = kill(Pid::from_raw(self.target()), Signal::SIGKILL) {
                        warn("SIGKILL after the stop timeout", e);
                    }
                    self.killed = true;
                    self.deadline = Some(Instant::now() + RUNTIME_GRACE);
                } else {
                    // The runtime outlives its container (runc waiting for a
                    // READY=1 that never comes): it goes too.
                    if let Err(e) = self.child.kill() {
                        warn("killing the runtime", e);
                    }
                    self.deadline = None;
                }
            }
        }
    }
}

/// Run the container to its end; returns the monitor's exit status. A
/// failure before the container runs is recorded as exit code 125.
pub fn run(a: &MonitorArgs) -> io::Result<i32> {
    let started_at = now_usec();
    let (mask, sfd) = block_signals()?;
    let marker = marker_of(&a.exit_file);
    // "PID STARTED_AT": ExecStopPost records the exit if this monitor dies.
    crate::fsutil::atomic_write(&marker, format!("{} {started_at}", std::process::id()).as_bytes())?;
    let pid_file = a.bundle.join("pid");
    match start(a, &pid_file, mask) {
        Ok((child, proxy, output)) => {
            let code = supervise_to_end(a, child, pid_file, proxy, output, &sfd, started_at);
            super::network::down(a);
            Ok(code)
        }
        Err(e) => {
            super::network::down(a);
            let rec = ExitRecord { exit_code: START_FAILURE_CODE, finished_at: now_usec(), stop_requested: false, started_at };
            if let Err(w) = rec.write(&a.exit_file) {
                warn("recording the failed start", w);
            }
            let _ = std::fs::remove_file(&marker);
            Err(e)
        }
    }
}

type Started = (Child, Option<UnixDatagram>, Option<Output>);

fn start(a: &MonitorArgs, pid_file: &Path, mask: SigSet) -> io::Result<Started> {
    let payload = place_cgroups(a).map_err(|e| io::Error::new(e.kind(), format!("placing the container's cgroups: {e}")))?;
    // A monitor killed earlier left the runtime's state behind.
    delete_runtime_state(a);
    if let Err(e) = std::fs::remove_file(pid_file) {
        if e.kind() != io::ErrorKind::NotFound {
            warn("removing an old pid file", e);
        }
    }
    let proxy = notify_proxy(a).map_err(|e| io::Error::new(e.kind(), format!("the notify socket {}: {e}", a.notify_socket.display())))?;
    // Without journald (a monitor run by hand) the container writes to the
    // monitor's own output.
    let (output, pipes) = match std::env::var_os("JOURNAL_STREAM").map(|_| Output::open(&identifier())) {
        Some(Ok((o, w_out, w_err))) => (Some(o), Some((w_out, w_err))),
        Some(Err(e)) => {
            warn("the container's output goes to the monitor's own: no journal", e);
            (None, None)
        }
        None => (None, None),
    };
    super::network::up(a)?;
    let child = spawn_runtime(a, pid_file, mask, pipes, proxy.is_some(), payload)
        .map_err(|e| io::Error::new(e.kind(), format!("running {}: {e}", a.runtime.program.display())))?;
    Ok((child, proxy, output))
}

fn supervise_to_end(
    a: &MonitorArgs,
    child: Child,
    pid_file: PathBuf,
    proxy: Option<UnixDatagram>,
    mut output: Option<Output>,
    sfd: &SignalFd,
    started_at: u64,
) -> i32 {
    let upstream = notify_target();
    let out = match UnixDatagram::unbound() {
        Ok(s) => s,
        Err(e) => {
            warn("a socket to notify systemd", e);
            return START_FAILURE_CODE;
        }
    };
    let mut m = Monitor {
        a,
        layout_pid_file: pid_file.clone(),
        child,
        init: None,
        ready_sent: false,
        stop_requested: false,
        last_signal: None,
        deadline: None,
        killed: false,
        upstream,
        out,
    };
    let status = match m.supervise(sfd, proxy.as_ref(), output.as_mut()) {
        Ok(s) => s,
        Err(e) => {
            warn("supervising the runtime", e);
            let _ = m.child.kill();
            m.child.wait().unwrap_or(ExitStatus::from_raw(START_FAILURE_CODE << 8))
        }
    };
    // A short-lived container may be gone before the loop saw it start: it
    // did start, so a non-notify container still counts as started.
    m.poll_init();
    // Exit only once journald has stored every line the container wrote.
    if let Some(o) = output.as_mut() {
        o.finish(JOURNAL_DRAIN_LIMIT);
    }
    let code = exit_code(status);
    if status.signal().is_some() {
        // The runtime itself was killed; its container must not outlive it.
        if let Some(init) = m.init {
            let _ = kill(Pid::from_raw(init), Signal::SIGKILL);
        }
        delete_runtime_state(a);
    }
    let user_stop = m.stop_requested || m.last_signal.is_some_and(|s| code == 128 + s);
    let rec = ExitRecord { exit_code: code, finished_at: now_usec(), stop_requested: user_stop, started_at };
    match rec.write(&a.exit_file) {
        // Only now may ExecStopPost think the exit recorded.
        Ok(()) => remove_quietly(&marker_of(&a.exit_file)),
        Err(e) => warn(&format!("writing {}", a.exit_file.display()), e),
    }
    remove_quietly(&pid_file);
    if proxy.is_some() {
        remove_quietly(&a.notify_socket);
    }
    let _ = std::io::stderr().flush();
    if user_stop {
        USER_STOP_STATUS
    } else {
        code
    }
}

fn remove_quietly(p: &Path) {
    if let Err(e) = std::fs::remove_file(p) {
        if e.kind() != io::ErrorKind::NotFound {
            warn(&format!("removing {}", p.display()), e);
        }
    }
}

