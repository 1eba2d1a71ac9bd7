//! The monitor's run of one container, in three steps:
//!
//! - [`start`]: block signals, mark the run, place itself and the runtime
//!   in their cgroups, open the container's stdio and the attach socket,
//!   wait for a first caller when StartAndAttach asked for it, set up the
//!   container's network (network.rs), start the runtime. (Set-up that
//!   must precede the container belongs here.)
//! - [`Monitor::supervise`]: the loop, until the runtime exits: signals,
//!   notifications, the container's output (to the journal and attached
//!   callers), callers' requests and input, exec sessions, the stop
//!   deadline.
//! - [`Monitor::finish`]: read the last output, end the exec sessions,
//!   tell attached callers the exit code, record the exit. The network
//!   is taken down after it, as after a failed start.
//!
//! The loop is poll(2) on non-blocking descriptors; no threads. Every step
//! that fails says so on stderr, which is the unit's journal.

use super::attach::{AttachServer, Event, Target, Then};
use super::control::{Refusal, Reply, Request};
use super::exec::ExecSession;
use super::output::Output;
use super::spawn::Spawner;
use super::stdio::{Got, NotATerminal, ProcessIo, Source, Terminal};
use super::{exit_code, MonitorArgs, KILL_REQUEST_SIGNAL, START_FAILURE_CODE, STOP_REQUEST_SIGNAL, USER_STOP_STATUS};
use crate::journal::Stream;
use crate::model::{now_usec, ExecState};
use crate::runtime::cgroup;
use crate::store::{marker_of, ExitRecord, RunDir, SessionFiles};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// How long the monitor waits for journald to read the container's output.
const JOURNAL_DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// How long the runtime may outlive its SIGKILLed container.
const RUNTIME_GRACE: Duration = Duration::from_secs(2);

/// How long a StartAndAttach's first caller may take to attach before the
/// container starts anyway (berthd died in between, say).
const ATTACH_FIRST_LIMIT: Duration = Duration::from_secs(10);

/// How long exec sessions may take to end once the container has.
const SESSIONS_END_LIMIT: Duration = Duration::from_secs(5);

/// How long the monitor keeps sending attached callers what they have not
/// read yet, once the container has ended.
const CALLERS_FLUSH_LIMIT: Duration = Duration::from_secs(5);

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

/// `runtime delete --force`, for state a killed runtime left behind.
fn delete_runtime_state(a: &MonitorArgs, spawner: &Spawner) {
    if !a.runtime.state_dir(&a.id).exists() {
        return;
    }
    match spawner.command(a.runtime.delete_args(&a.id), None).status() {
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

/// The container's lines go to journald (under systemd), or to the
/// monitor's own output (a monitor run by hand).
fn open_output(terminal: bool) -> Output {
    if std::env::var_os("JOURNAL_STREAM").is_none() {
        return Output::own();
    }
    Output::journal(&identifier(), terminal).unwrap_or_else(|e| {
        warn("the container's output goes to the monitor's own: no journal", e);
        Output::own()
    })
}

/// Exec sessions of an earlier run are over: their files go.
fn clear_sessions(run_dir: &RunDir) {
    let dir = run_dir.exec_dir();
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        if e.kind() != io::ErrorKind::NotFound {
            warn(&format!("removing {}", dir.display()), e);
        }
    }
}

/// What poll found ready.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Signals,
    Notify,
    Listener,
    Conn(u64),
    Output(Target, Source),
    Console(Target),
    Input(Target),
}

struct Monitor<'a> {
    a: &'a MonitorArgs,
    run_dir: RunDir,
    pid_file: PathBuf,
    spawner: Spawner,
    /// The runtime's `run`, once started.
    child: Option<Child>,
    /// How the runtime ended.
    status: Option<ExitStatus>,
    init: Option<i32>,
    ready_sent: bool,
    stop_requested: bool,
    last_signal: Option<i32>,
    deadline: Option<Instant>,
    killed: bool,
    upstream: Option<SocketAddr>,
    out: UnixDatagram,
    proxy: Option<UnixDatagram>,
    /// The init's stdio.
    io: ProcessIo,
    output: Output,
    attach: AttachServer,
    sessions: BTreeMap<String, ExecSession>,
    /// Numbers exec sessions' console sockets (0 is the init's).
    consoles: u32,
    /// The journal got lines since the last flush.
    unflushed: bool,
}

/// Run the container to its end; returns the monitor's exit status. A
/// failure before the container runs is recorded as exit code 125.
pub fn run(a: &MonitorArgs) -> io::Result<i32> {
    let started_at = now_usec();
    let (mask, sfd) = block_signals()?;
    let marker = marker_of(&a.exit_file);
    // "PID STARTED_AT": ExecStopPost records the exit if this monitor dies.
    crate::fsutil::atomic_write(&marker, format!("{} {started_at}", std::process::id()).as_bytes())?;
    match start(a, mask, &sfd) {
        Ok(mut m) => {
            let status = m.supervise(&sfd);
            let code = m.finish(status, &sfd, started_at);
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

fn context(what: String) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Everything before the container runs, then the runtime.
fn start<'a>(a: &'a MonitorArgs, mask: SigSet, sfd: &SignalFd) -> io::Result<Monitor<'a>> {
    let payload = place_cgroups(a).map_err(context("placing the container's cgroups".into()))?;
    let spawner = Spawner::new(a.runtime.clone(), payload, mask);
    let run_dir = RunDir::new(&a.bundle);
    let pid_file = a.bundle.join("pid");
    // A monitor killed earlier left the runtime's state behind.
    delete_runtime_state(a, &spawner);
    if let Err(e) = std::fs::remove_file(&pid_file) {
        if e.kind() != io::ErrorKind::NotFound {
            warn("removing an old pid file", e);
        }
    }
    clear_sessions(&run_dir);
    let proxy = notify_proxy(a).map_err(context(format!("the notify socket {}", a.notify_socket.display())))?;
    let console = run_dir.console_socket(0);
    let (io, stdio) = ProcessIo::open(Terminal::of(a.terminal, &a.runtime, &console), a.interactive).map_err(context("the container's stdio".into()))?;
    let socket = run_dir.attach_socket();
    let attach = AttachServer::listen(&socket).map_err(context(format!("the attach socket {}", socket.display())))?;
    let out = UnixDatagram::unbound().map_err(context("a socket to notify systemd".into()))?;
    let mut m = Monitor {
        a,
        run_dir,
        pid_file,
        spawner,
        child: None,
        status: None,
        init: None,
        ready_sent: false,
        stop_requested: false,
        last_signal: None,
        deadline: None,
        killed: false,
        upstream: notify_target(),
        out,
        proxy,
        io,
        output: open_output(a.terminal),
        attach,
        sessions: BTreeMap::new(),
        consoles: 1,
        unflushed: false,
    };
    m.await_first_caller(sfd)?;
    super::network::up(a)?;
    let args = a.runtime.run_args(&a.bundle, &m.pid_file, &a.id, m.io.console_path());
    let mut cmd = m.spawner.command(args, Some(stdio));
    if m.proxy.is_some() {
        // The runtime passes it on to the container, whose READY=1 the
        // monitor relays.
        cmd.env("NOTIFY_SOCKET", &a.notify_socket);
    }
    let child = m.spawner.spawn(cmd).map_err(context(format!("running {}", a.runtime.program.display())))?;
    m.child = Some(child);
    Ok(m)
}

impl Monitor<'_> {
    fn target(&self) -> Option<i32> {
        self.init.or_else(|| self.child.as_ref().map(|c| c.id() as i32))
    }

    fn tell_systemd(&self, msg: &[u8]) {
        if let Some(addr) = &self.upstream {
            if let Err(e) = self.out.send_to_addr(msg, addr) {
                warn("notifying systemd", e);
            }
        }
    }

    /// SIGKILL every process of the container, exec sessions too: its
    /// payload cgroup at once (cgroup.kill, Linux 5.14), or its init (the
    /// rest of its PID namespace dies with it).
    fn kill_container(&self) {
        let unit = std::fs::read_to_string("/proc/self/cgroup").ok().and_then(|own| cgroup::unit_cgroup(&own));
        if let Some(unit) = unit {
            if cgroup::kill_payload(&unit).is_ok() {
                return;
            }
        }
        if let Some(t) = self.target() {
            if let Err(e) = kill(Pid::from_raw(t), Signal::SIGKILL) {
                warn("SIGKILL to the container", e);
            }
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

    /// StartAndAttach: the container starts once a first caller is
    /// attached (so that it misses no output), or after a time limit.
    fn await_first_caller(&mut self, sfd: &SignalFd) -> io::Result<()> {
        let marker = self.run_dir.attach_first();
        if !marker.exists() {
            return Ok(());
        }
        // Once: a restart by systemd does not wait again.
        if let Err(e) = std::fs::remove_file(&marker) {
            warn("removing the attach-first marker", e);
        }
        let until = Instant::now() + ATTACH_FIRST_LIMIT;
        while !self.attach.attached(&Target::Init) && !self.stop_requested {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                warn("StartAndAttach", "nobody attached within 10 s; the container starts unattached");
                break;
            }
            self.turn(sfd, left)?;
        }
        Ok(())
    }

    fn on_signal(&mut self, sig: i32) {
        if sig == Signal::SIGCHLD as i32 {
            return;
        }
        if sig == KILL_REQUEST_SIGNAL {
            self.stop_requested = true;
            self.last_signal = Some(9);
            self.kill_container();
            self.killed = true;
            self.deadline = Some(Instant::now() + RUNTIME_GRACE);
            return;
        }
        if sig == STOP_REQUEST_SIGNAL {
            if !self.stop_requested {
                self.stop_requested = true;
                self.tell_systemd(b"STOPPING=1");
                self.thaw();
                if let Some(t) = self.target() {
                    send(t, self.a.stop_signal);
                }
                // berthd's Stop(timeout) may override the container's timeout.
                let secs = std::fs::read_to_string(self.a.bundle.join("stop-timeout"))
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(self.a.stop_timeout);
                self.deadline = Some(Instant::now() + Duration::from_secs(secs as u64));
            }
        } else {
            self.last_signal = Some(sig);
            if let Some(t) = self.target() {
                send(t, sig);
            }
        }
    }

    fn poll_init(&mut self) {
        if self.init.is_some() || self.child.is_none() {
            return;
        }
        let Ok(s) = std::fs::read_to_string(&self.pid_file) else { return };
        let Ok(pid) = s.trim().parse::<i32>() else { return };
        self.init = Some(pid);
        if self.stop_requested {
            send(pid, self.a.stop_signal);
        }
        if !self.a.notify && !self.a.ready_on_request && !self.ready_sent {
            self.ready_sent = true;
            self.tell_systemd(b"READY=1");
        }
    }

    /// Forward the container's notification, without MAINPID=: systemd must
    /// keep the monitor as the unit's main process.
    fn relay(&mut self) {
        let Some(sock) = &self.proxy else { return };
        let mut buf = [0u8; 4096];
        let mut msgs = Vec::new();
        while let Ok(n) = sock.recv(&mut buf) {
            msgs.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        for msg in msgs {
            let kept: Vec<&str> = msg.lines().filter(|l| !l.starts_with("MAINPID=")).collect();
            if kept.iter().any(|l| *l == "READY=1") {
                self.ready_sent = true;
            }
            if !kept.is_empty() {
                self.tell_systemd(kept.join("\n").as_bytes());
            }
        }
    }

    fn io_of(&self, t: &Target) -> Option<&ProcessIo> {
        match t {
            Target::Init => Some(&self.io),
            Target::Exec(id) => self.sessions.get(id).map(|s| &s.io),
        }
    }

    fn io_of_mut(&mut self, t: &Target) -> Option<&mut ProcessIo> {
        match t {
            Target::Init => Some(&mut self.io),
            Target::Exec(id) => self.sessions.get_mut(id).map(|s| &mut s.io),
        }
    }

    /// Wait (at most `timeout`) for something to do.
    fn ready<'s>(&'s self, sfd: &'s SignalFd, timeout: Duration) -> io::Result<Vec<(Token, PollFlags)>> {
        let mut fds: Vec<PollFd<'s>> = Vec::new();
        let mut tokens: Vec<Token> = Vec::new();
        let mut add = |fd: BorrowedFd<'s>, ev: PollFlags, t: Token| {
            fds.push(PollFd::new(fd, ev));
            tokens.push(t);
        };
        add(sfd.as_fd(), PollFlags::POLLIN, Token::Signals);
        if let Some(p) = &self.proxy {
            add(p.as_fd(), PollFlags::POLLIN, Token::Notify);
        }
        add(self.attach.listener_fd(), PollFlags::POLLIN, Token::Listener);
        let stdio: Vec<(Target, &ProcessIo)> = std::iter::once((Target::Init, &self.io))
            .chain(self.sessions.iter().map(|(id, s)| (Target::Exec(id.clone()), &s.io)))
            .collect();
        for (t, io) in &stdio {
            for (src, fd) in io.sources() {
                add(fd, PollFlags::POLLIN, Token::Output(t.clone(), src));
            }
            if let Some(fd) = io.console_fd() {
                add(fd, PollFlags::POLLIN, Token::Console(t.clone()));
            }
            if let Some(fd) = io.input_waiting() {
                add(fd, PollFlags::POLLOUT, Token::Input(t.clone()));
            }
        }
        let blocked = |t: &Target| self.io_of(t).is_some_and(ProcessIo::input_full);
        for (id, pfd) in self.attach.poll_fds(blocked) {
            fds.push(pfd);
            tokens.push(Token::Conn(id));
        }
        match poll(&mut fds, PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX)) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(tokens
            .into_iter()
            .zip(&fds)
            .filter_map(|(t, f)| f.revents().filter(|r| !r.is_empty()).map(|r| (t, r)))
            .collect())
    }

    /// One turn of the loop: wait, serve what is ready, read signals and
    /// reap children.
    fn turn(&mut self, sfd: &SignalFd, timeout: Duration) -> io::Result<()> {
        for (t, r) in self.ready(sfd, timeout)? {
            self.serve(t, r);
        }
        if self.unflushed {
            self.output.flush();
            self.unflushed = false;
        }
        while let Some(info) = sfd.read_signal()? {
            self.on_signal(info.ssi_signo as i32);
        }
        self.reap()
    }

    fn serve(&mut self, t: Token, revents: PollFlags) {
        match t {
            Token::Signals => {}
            Token::Notify => self.relay(),
            Token::Listener => self.attach.accept(),
            Token::Conn(id) => {
                for ev in self.attach.on_ready(id, revents) {
                    self.on_event(ev);
                }
            }
            Token::Output(target, src) => self.pump(&target, src),
            Token::Console(target) => {
                if let Some(io) = self.io_of_mut(&target) {
                    if let Err(e) = io.accept_console() {
                        warn("taking the terminal from the runtime", e);
                    }
                }
            }
            Token::Input(target) => {
                if let Some(io) = self.io_of_mut(&target) {
                    io.write_input();
                }
            }
        }
    }

    /// Read one chunk of `target`'s output: the init's goes to the journal
    /// and its callers, an exec session's to its callers.
    fn pump(&mut self, target: &Target, src: Source) {
        let Monitor { io, sessions, output, attach, unflushed, .. } = self;
        let (io, tail) = match target {
            Target::Init => (io, None),
            Target::Exec(id) => match sessions.get_mut(id) {
                Some(ExecSession { io, tail, .. }) => (io, Some(tail)),
                None => return,
            },
        };
        match io.read(src) {
            Ok(Got::Data(n)) => {
                let data = io.data(n);
                match tail {
                    None => {
                        output.write(if src == Source::Stderr { Stream::Stderr } else { Stream::Stdout }, data);
                        *unflushed = true;
                    }
                    Some(tail) => keep_tail(tail, data),
                }
                attach.broadcast(target, src.stream(), data);
            }
            Ok(Got::Eof | Got::Nothing) => {}
            Err(e) => warn("reading the container's output", e),
        }
    }

    fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Request(id, r) => self.on_request(id, r),
            Event::Input(t, data) => {
                if let Some(io) = self.io_of_mut(&t) {
                    io.push_input(&data);
                }
            }
            Event::InputEnd(t) => {
                if let Some(io) = self.io_of_mut(&t) {
                    io.end_input();
                }
            }
            Event::Resize(t, rows, cols) => {
                // A caller's in-band resize of a process without a terminal
                // means nothing.
                let _ = self.resize(&t, rows, cols);
            }
        }
    }

    /// Resize `target`'s terminal (None: no such process runs); a runtime
    /// that relays the terminal is told with SIGWINCH.
    fn resize(&mut self, target: &Target, rows: u16, cols: u16) -> Option<Result<(), NotATerminal>> {
        let relay = match self.io_of_mut(target)?.resize(rows, cols) {
            Ok(relay) => relay,
            Err(e) => return Some(Err(e)),
        };
        let runtime = match target {
            Target::Init => self.child.as_ref().map(|c| c.id()),
            Target::Exec(id) => self.sessions.get(id).map(ExecSession::runtime_pid),
        };
        if let (true, Some(pid)) = (relay, runtime) {
            send(pid as i32, Signal::SIGWINCH as i32);
        }
        Some(Ok(()))
    }

    /// The container runs and is not ending.
    fn running(&self) -> bool {
        self.child.is_some() && self.status.is_none() && !self.stop_requested
    }

    /// What a session not (or no more) in the loop is, from its files.
    fn session_on_disk(&self, id: &str) -> Option<(ExecState, Option<i32>)> {
        if !crate::model::validate_id(id) {
            return None;
        }
        let f = SessionFiles::new(self.run_dir.session_dir(id));
        f.read_record().ok().flatten()?;
        if let Some(end) = f.read_end().ok().flatten() {
            return Some((ExecState::Exited, Some(end.exit_code)));
        }
        let started = f.read_started().ok().flatten().is_some();
        Some((if started { ExecState::Running } else { ExecState::Created }, None))
    }

    fn on_request(&mut self, id: u64, r: Request) {
        let no_session = |s: &str| Reply::refused(Refusal::NoSuchSession, format!("no exec session {s}"));
        match r {
            Request::Attach(streams) => {
                if self.status.is_some() {
                    return self.attach.reply(id, Reply::refused(Refusal::NotRunning, "the container has ended"), Then::Close);
                }
                self.attach.reply(id, Reply::Ok, Then::Attach(Target::Init, streams));
            }
            Request::Resize { session, rows, cols } => {
                let target = session.clone().map_or(Target::Init, Target::Exec);
                let reply = match self.resize(&target, rows, cols) {
                    Some(Ok(())) => Reply::Ok,
                    Some(Err(_)) => Reply::refused(Refusal::NotATerminal, "no terminal"),
                    None => {
                        let s = session.unwrap_or_default();
                        match self.session_on_disk(&s) {
                            Some((state, _)) => Reply::refused(Refusal::SessionState(state), "it does not run"),
                            None => no_session(&s),
                        }
                    }
                };
                self.attach.reply(id, reply, Then::Close);
            }
            Request::ExecStart { session, attach } => {
                if !self.running() {
                    return self.attach.reply(id, Reply::refused(Refusal::NotRunning, "the container is not running"), Then::Close);
                }
                if self.sessions.contains_key(&session) {
                    return self.attach.reply(id, Reply::refused(Refusal::SessionState(ExecState::Running), "it runs"), Then::Close);
                }
                let n = self.consoles;
                match ExecSession::spawn(&self.spawner, &self.a.id, &self.run_dir, &session, n) {
                    Ok(s) => {
                        self.consoles += 1;
                        self.sessions.insert(session.clone(), s);
                        let then = match attach {
                            Some(streams) => Then::Attach(Target::Exec(session), streams),
                            None => Then::Close,
                        };
                        self.attach.reply(id, Reply::Ok, then);
                    }
                    Err(reply) => self.attach.reply(id, reply, Then::Close),
                }
            }
            Request::Ready => {
                if !self.running() || self.init.is_none() {
                    return self.attach.reply(id, Reply::refused(Refusal::NotRunning, "the container is not running"), Then::Close);
                }
                if !self.ready_sent {
                    self.ready_sent = true;
                    self.tell_systemd(b"READY=1");
                }
                self.attach.reply(id, Reply::Ok, Then::Close);
            }
            Request::ExecWait { session } => {
                if self.sessions.contains_key(&session) {
                    return self.attach.wait(id, session);
                }
                match self.session_on_disk(&session) {
                    Some((_, Some(code))) => self.attach.reply(id, Reply::Exited { exit_code: code }, Then::Close),
                    // Created, not started yet: wait for it to start and end.
                    Some((_, None)) => self.attach.wait(id, session),
                    None => self.attach.reply(id, no_session(&session), Then::Close),
                }
            }
        }
    }

    /// Notice ended children: the runtime, and exec sessions (recorded and
    /// their callers told once their output is read).
    fn reap(&mut self) -> io::Result<()> {
        if self.status.is_none() {
            if let Some(c) = &mut self.child {
                self.status = c.try_wait()?;
            }
        }
        for s in self.sessions.values_mut() {
            s.reap();
        }
        let done: Vec<String> = self.sessions.iter().filter(|(_, s)| s.done()).map(|(id, _)| id.clone()).collect();
        for id in done {
            if let Some(s) = self.sessions.remove(&id) {
                let code = s.finish();
                self.attach.exited(&Target::Exec(id), code);
            }
        }
        Ok(())
    }

    /// Until the runtime exits.
    fn supervise(&mut self, sfd: &SignalFd) -> ExitStatus {
        loop {
            self.poll_init();
            if let Some(st) = self.status {
                return st;
            }
            // Until the init exists, poll its pid file often.
            let tick = if self.init.is_none() { Duration::from_millis(1) } else { Duration::from_secs(60) };
            let now = Instant::now();
            let timeout = self
                .sessions
                .values()
                .filter_map(ExecSession::deadline)
                .chain(self.deadline)
                .map(|d| d.saturating_duration_since(now))
                .fold(tick, Duration::min);
            if let Err(e) = self.turn(sfd, timeout) {
                warn("supervising the runtime", e);
                if let Some(c) = &mut self.child {
                    let _ = c.kill();
                    return c.wait().unwrap_or(ExitStatus::from_raw(START_FAILURE_CODE << 8));
                }
            }
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                self.escalate();
            }
        }
    }

    /// The stop timeout passed.
    fn escalate(&mut self) {
        if !self.killed {
            // The container ignored its stop signal: SIGKILL, as podman does.
            if let Some(t) = self.target() {
                if let Err(e) = kill(Pid::from_raw(t), Signal::SIGKILL) {
                    warn("SIGKILL after the stop timeout", e);
                }
            }
            self.killed = true;
            self.deadline = Some(Instant::now() + RUNTIME_GRACE);
        } else {
            // The runtime outlives its container (runc waiting for a
            // READY=1 that never comes): it goes too.
            if let Some(c) = &mut self.child {
                if let Err(e) = c.kill() {
                    warn("killing the runtime", e);
                }
            }
            self.deadline = None;
        }
    }

    /// Keep the loop turning until `done` holds or `limit` passes.
    fn drain(&mut self, sfd: &SignalFd, limit: Duration, done: impl Fn(&Self) -> bool) {
        let until = Instant::now() + limit;
        while !done(self) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if let Err(e) = self.turn(sfd, left.min(Duration::from_millis(100))) {
                warn("reading the container's last output", e);
                break;
            }
        }
    }

    /// The runtime ended with `status`: the container's last output, the
    /// end of its exec sessions, its callers told, its exit recorded.
    fn finish(mut self, status: ExitStatus, sfd: &SignalFd, started_at: u64) -> i32 {
        let a = self.a;
        // A short-lived container may be gone before the loop saw it start: it
        // did start, so a non-notify container still counts as started.
        self.poll_init();
        // Every line the container wrote (a process that escaped it could
        // hold the pipes: not for ever).
        self.drain(sfd, JOURNAL_DRAIN_LIMIT, |m| m.io.drained());
        // Exit only once journald has stored every line.
        self.output.finish(JOURNAL_DRAIN_LIMIT);
        let code = exit_code(status);
        if status.signal().is_some() {
            // The runtime itself was killed; its container must not outlive it.
            if let Some(init) = self.init {
                let _ = kill(Pid::from_raw(init), Signal::SIGKILL);
            }
            delete_runtime_state(a, &self.spawner);
        }
        // Exec'd processes die with the container's PID namespace.
        self.drain(sfd, SESSIONS_END_LIMIT, |m| m.sessions.is_empty());
        for s in self.sessions.values_mut() {
            s.kill();
        }
        for (id, s) in std::mem::take(&mut self.sessions) {
            let code = s.finish();
            self.attach.exited(&Target::Exec(id), code);
        }
        self.attach.exited(&Target::Init, code);
        self.attach.finish(CALLERS_FLUSH_LIMIT);
        let user_stop = self.stop_requested || self.last_signal.is_some_and(|s| code == 128 + s);
        let rec = ExitRecord { exit_code: code, finished_at: now_usec(), stop_requested: user_stop, started_at };
        match rec.write(&a.exit_file) {
            // Only now may ExecStopPost think the exit recorded.
            Ok(()) => remove_quietly(&marker_of(&a.exit_file)),
            Err(e) => warn(&format!("writing {}", a.exit_file.display()), e),
        }
        remove_quietly(&self.pid_file);
        if self.proxy.is_some() {
            remove_quietly(&a.notify_socket);
        }
        let _ = std::io::stderr().flush();
        if user_stop {
            USER_STOP_STATUS
        } else {
            code
        }
    }
}

/// Keep the last [`OUTPUT_TAIL`] bytes an exec session wrote.
fn keep_tail(tail: &mut Vec<u8>, data: &[u8]) {
    tail.extend_from_slice(data);
    if tail.len() > OUTPUT_TAIL {
        tail.drain(..tail.len() - OUTPUT_TAIL);
    }
}

/// How much of an exec session's output its files keep (what a health
/// check's result shows, as podman keeps).
const OUTPUT_TAIL: usize = crate::model::health::HEALTH_OUTPUT_MAX;

fn remove_quietly(p: &Path) {
    if let Err(e) = std::fs::remove_file(p) {
        if e.kind() != io::ErrorKind::NotFound {
            warn(&format!("removing {}", p.display()), e);
        }
    }
}
