//! The monitor's socket (`RunDir::attach_socket`, 0600 in the 0700 run
//! directory): berthd's requests (control.rs) and the attach streams they
//! open. Any number of callers may be attached to the container's init or
//! to an exec session at once; each gets what the process writes, and its
//! input (scanned for its detach keys) goes to the process.
//!
//! A caller never slows the container, the journal or the other callers:
//! what it has not read waits in its own queue of at most
//! [`CLIENT_BUFFER`] bytes (beyond the kernel's socket buffer), and a
//! caller whose queue is full is dropped (its connection closed; the
//! process runs on).

use super::control::{AttachStreams, Refusal, Reply, Request};
use crate::model::attach::{data_packets, DetachKeys, DetachScanner, Frame, MAX_PACKET};
use crate::runtime::seqpacket;
use nix::poll::{PollFd, PollFlags};
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What one caller may have queued and unread before it is dropped.
pub(super) const CLIENT_BUFFER: usize = 1 << 20;

/// Connections served at once; more are refused (Busy).
pub(super) const MAX_CONNECTIONS: usize = 64;

/// Whose streams a caller is attached to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Target {
    /// The container's init.
    Init,
    /// An exec session, by id.
    Exec(String),
}

enum Role {
    /// Its request has not come yet.
    New,
    Attached { target: Target, streams: AttachStreams, scanner: DetachScanner },
    /// Waits for an exec session to end.
    Waiting(String),
    /// Its last messages are queued; it closes once they are sent.
    Closing,
}

struct Conn {
    sock: OwnedFd,
    role: Role,
    queue: VecDeque<Vec<u8>>,
    queued: usize,
}

/// What a caller's message asks of the monitor.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Event {
    Request(u64, Request),
    Input(Target, Vec<u8>),
    InputEnd(Target),
    Resize(Target, u16, u16),
}

/// What a connection becomes after its reply.
pub(super) enum Then {
    Close,
    Attach(Target, AttachStreams),
}

pub(super) struct AttachServer {
    listener: OwnedFd,
    path: PathBuf,
    conns: BTreeMap<u64, Conn>,
    next: u64,
    buf: Vec<u8>,
}

fn warn(what: &str, e: impl std::fmt::Display) {
    eprintln!("berth-monitor: {what}: {e}");
}

impl Conn {
    /// Send what is queued as far as the socket takes it; false when the
    /// connection is done (closed by the peer, or closing and all sent).
    fn pump(&mut self) -> bool {
        while let Some(p) = self.queue.front() {
            match seqpacket::send(self.sock.as_fd(), p) {
                Ok(true) => {
                    self.queued -= p.len();
                    self.queue.pop_front();
                }
                Ok(false) => return true,
                Err(_) => return false,
            }
        }
        !matches!(self.role, Role::Closing)
    }

    /// Queue a packet; false when the caller is too far behind.
    fn push(&mut self, p: Vec<u8>) -> bool {
        if self.queued + p.len() > CLIENT_BUFFER {
            return false;
        }
        self.queued += p.len();
        self.queue.push_back(p);
        true
    }
}

impl AttachServer {
    pub fn listen(path: &Path) -> io::Result<AttachServer> {
        let listener = seqpacket::listen(path)?;
        Ok(AttachServer { listener, path: path.to_path_buf(), conns: BTreeMap::new(), next: 0, buf: vec![0; MAX_PACKET + 1] })
    }

    pub fn listener_fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// Take every pending connection.
    pub fn accept(&mut self) {
        loop {
            let sock = match seqpacket::accept(self.listener.as_fd()) {
                Ok(Some(s)) => s,
                Ok(None) => return,
                Err(e) => {
                    warn("accepting on the attach socket", e);
                    return;
                }
            };
            let id = self.next;
            self.next += 1;
            let mut conn = Conn { sock, role: Role::New, queue: VecDeque::new(), queued: 0 };
            if self.conns.len() >= MAX_CONNECTIONS {
                conn.role = Role::Closing;
                conn.push(Reply::refused(Refusal::Busy, format!("more than {MAX_CONNECTIONS} connections")).encode());
                if !conn.pump() {
                    continue;
                }
            }
            self.conns.insert(id, conn);
        }
    }

    /// Every connection to poll, with what to wait for. Callers attached to
    /// a target for which `blocked` holds send nothing more for now.
    pub fn poll_fds(&self, blocked: impl Fn(&Target) -> bool) -> Vec<(u64, PollFd<'_>)> {
        self.conns
            .iter()
            .map(|(id, c)| {
                let mut ev = PollFlags::empty();
                let stalled = matches!(&c.role, Role::Attached { target, .. } if blocked(target));
                if !stalled {
                    ev |= PollFlags::POLLIN;
                }
                if !c.queue.is_empty() {
                    ev |= PollFlags::POLLOUT;
                }
                (*id, PollFd::new(c.sock.as_fd(), ev))
            })
            .collect()
    }

    /// Serve connection `id`, which poll found ready.
    pub fn on_ready(&mut self, id: u64, revents: PollFlags) -> Vec<Event> {
        let mut events = Vec::new();
        let Some(conn) = self.conns.get_mut(&id) else { return events };
        let mut alive = true;
        if revents.contains(PollFlags::POLLOUT) {
            alive = conn.pump();
        }
        if alive && revents.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            // A few messages per wake-up, so that one busy caller cannot
            // starve the rest.
            for _ in 0..16 {
                match seqpacket::recv(conn.sock.as_fd(), &mut self.buf) {
                    Ok(Some(0)) | Err(_) => {
                        alive = false;
                        break;
                    }
                    Ok(Some(n)) => {
                        if !take(id, conn, &self.buf[..n], &mut events) {
                            alive = false;
                            break;
                        }
                    }
                    Ok(None) => break,
                }
                if matches!(conn.role, Role::New) && !events.is_empty() {
                    // The reply decides what comes next.
                    break;
                }
            }
            if alive {
                alive = conn.pump();
            }
        }
        if !alive {
            self.conns.remove(&id);
        }
        events
    }

    /// Answer connection `id`'s request; it then becomes what `then` says.
    pub fn reply(&mut self, id: u64, reply: Reply, then: Then) {
        let Some(conn) = self.conns.get_mut(&id) else { return };
        conn.role = match then {
            Then::Close => Role::Closing,
            Then::Attach(target, streams) => {
                let scanner = DetachScanner::new(&DetachKeys::from_bytes(streams.detach_keys.clone()));
                Role::Attached { target, streams, scanner }
            }
        };
        conn.push(reply.encode());
        if !conn.pump() {
            self.conns.remove(&id);
        }
    }

    /// Connection `id` waits for exec session `session` to end; its reply
    /// comes with [`AttachServer::exited`].
    pub fn wait(&mut self, id: u64, session: String) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.role = Role::Waiting(session);
        }
    }

    /// Whether anyone is attached to `target`.
    pub fn attached(&self, target: &Target) -> bool {
        self.conns.values().any(|c| matches!(&c.role, Role::Attached { target: t, .. } if t == target))
    }

    /// Pass what `target` wrote on `stream` to everyone attached to it;
    /// callers too far behind are dropped.
    pub fn broadcast(&mut self, target: &Target, stream: u8, data: &[u8]) {
        let mut dropped = Vec::new();
        for (id, c) in self.conns.iter_mut() {
            let Role::Attached { target: t, streams, .. } = &c.role else { continue };
            let wants = match stream {
                crate::model::attach::STREAM_STDOUT => streams.stdout,
                _ => streams.stderr,
            };
            if t != target || !wants {
                continue;
            }
            if !data_packets(stream, data).all(|p| c.push(p)) {
                warn("an attached caller stopped reading", format!("dropped it after {CLIENT_BUFFER} bytes"));
                dropped.push(*id);
                continue;
            }
            if !c.pump() {
                dropped.push(*id);
            }
        }
        for id in dropped {
            self.conns.remove(&id);
        }
    }

    /// `target` ended with `code`: its callers get the exit frame, those
    /// waiting for an exec session its code; then they close.
    pub fn exited(&mut self, target: &Target, code: i32) {
        let mut done = Vec::new();
        for (id, c) in self.conns.iter_mut() {
            let msg = match &c.role {
                Role::Attached { target: t, .. } if t == target => Frame::Exit(code).encode(),
                Role::Waiting(s) if Target::Exec(s.clone()) == *target => Reply::Exited { exit_code: code }.encode(),
                _ => continue,
            };
            c.role = Role::Closing;
            if !c.push(msg) || !c.pump() {
                done.push(*id);
            }
        }
        for id in done {
            self.conns.remove(&id);
        }
    }

    /// The monitor is about to exit: send what is queued (for at most
    /// `limit`), then close every connection.
    pub fn finish(&mut self, limit: Duration) {
        let t0 = Instant::now();
        loop {
            self.conns.retain(|_, c| c.pump() || !c.queue.is_empty());
            let mut fds: Vec<PollFd<'_>> = self
                .conns
                .values()
                .filter(|c| !c.queue.is_empty())
                .map(|c| PollFd::new(c.sock.as_fd(), PollFlags::POLLOUT))
                .collect();
            let left = limit.saturating_sub(t0.elapsed());
            if fds.is_empty() || left.is_zero() {
                break;
            }
            let timeout = nix::poll::PollTimeout::try_from(left).unwrap_or(nix::poll::PollTimeout::MAX);
            if let Err(e) = nix::poll::poll(&mut fds, timeout) {
                if e != nix::errno::Errno::EINTR {
                    break;
                }
            }
        }
        self.conns.clear();
    }
}

impl Drop for AttachServer {
    fn drop(&mut self) {
        // Nobody can attach once the monitor is gone.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One message from connection `id`; false when it must close.
fn take(id: u64, conn: &mut Conn, packet: &[u8], events: &mut Vec<Event>) -> bool {
    match &mut conn.role {
        Role::New => match Request::decode(packet) {
            Some(r) => events.push(Event::Request(id, r)),
            None => {
                conn.role = Role::Closing;
                conn.push(Reply::refused(Refusal::BadRequest, "not a request").encode());
            }
        },
        Role::Attached { target, streams, scanner } => match Frame::parse(packet) {
            Some(Frame::Stdin([])) => {
                if streams.stdin {
                    events.push(Event::InputEnd(target.clone()));
                }
            }
            Some(Frame::Stdin(data)) => {
                let s = scanner.feed(data);
                if streams.stdin && !s.forward.is_empty() {
                    events.push(Event::Input(target.clone(), s.forward));
                }
                if s.detach {
                    conn.role = Role::Closing;
                    return conn.push(Frame::Detached.encode());
                }
            }
            Some(Frame::Resize { rows, cols }) => events.push(Event::Resize(target.clone(), rows, cols)),
            // Frames meant for callers, or unknown ones: skipped.
            _ => {}
        },
        Role::Waiting(_) | Role::Closing => {}
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::attach::{STREAM_STDERR, STREAM_STDOUT};

    struct T {
        _d: tempfile::TempDir,
        path: PathBuf,
        server: AttachServer,
    }

    fn server() -> T {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("attach");
        let server = AttachServer::listen(&path).unwrap();
        T { _d: d, path, server }
    }

    /// Serve everything ready within 100 ms; the events.
    fn serve(s: &mut AttachServer) -> Vec<Event> {
        serve_within(s, 100)
    }

    fn serve_within(s: &mut AttachServer, ms: u8) -> Vec<Event> {
        s.accept();
        let ready: Vec<(u64, PollFlags)> = {
            let mut fds = s.poll_fds(|_| false);
            let mut polls: Vec<PollFd<'_>> = fds.iter().map(|(_, p)| *p).collect();
            nix::poll::poll(&mut polls, nix::poll::PollTimeout::from(ms)).unwrap();
            fds.iter_mut().zip(&polls).filter_map(|((id, _), p)| p.revents().filter(|r| !r.is_empty()).map(|r| (*id, r))).collect()
        };
        ready.into_iter().flat_map(|(id, r)| s.on_ready(id, r)).collect()
    }

    fn recv(fd: BorrowedFd<'_>) -> Vec<u8> {
        let mut buf = vec![0; MAX_PACKET];
        let n = seqpacket::recv(fd, &mut buf).unwrap().unwrap();
        buf.truncate(n);
        buf
    }

    fn attach(t: &mut T, streams: AttachStreams) -> OwnedFd {
        let c = seqpacket::connect(&t.path).unwrap();
        seqpacket::send(c.as_fd(), &Request::Attach(streams.clone()).encode()).unwrap();
        let ev = serve(&mut t.server);
        let Some(Event::Request(id, Request::Attach(s))) = ev.into_iter().next() else { panic!("no request") };
        t.server.reply(id, Reply::Ok, Then::Attach(Target::Init, s));
        assert_eq!(Reply::decode(&recv(c.as_fd())), Some(Reply::Ok));
        c
    }

    fn all() -> AttachStreams {
        AttachStreams { stdin: true, stdout: true, stderr: true, detach_keys: vec![16, 17] }
    }

    #[test]
    fn callers_get_output_and_give_input_until_they_detach() {
        let mut t = server();
        let a = attach(&mut t, all());
        let b = attach(&mut t, AttachStreams { stdin: false, stdout: false, stderr: true, detach_keys: vec![] });
        assert!(t.server.attached(&Target::Init) && !t.server.attached(&Target::Exec("x".into())));
        t.server.broadcast(&Target::Init, STREAM_STDOUT, b"out");
        t.server.broadcast(&Target::Init, STREAM_STDERR, b"err");
        t.server.broadcast(&Target::Exec("x".into()), STREAM_STDOUT, b"other");
        assert_eq!(Frame::parse(&recv(a.as_fd())), Some(Frame::Stdout(b"out")));
        assert_eq!(Frame::parse(&recv(a.as_fd())), Some(Frame::Stderr(b"err")));
        assert_eq!(Frame::parse(&recv(b.as_fd())), Some(Frame::Stderr(b"err")), "b takes stderr only");

        seqpacket::send(a.as_fd(), &Frame::Stdin(b"ls\n\x10").encode()).unwrap();
        seqpacket::send(a.as_fd(), &Frame::Resize { rows: 5, cols: 6 }.encode()).unwrap();
        seqpacket::send(b.as_fd(), &Frame::Stdin(b"not b's to give").encode()).unwrap();
        let ev = serve(&mut t.server);
        assert!(ev.contains(&Event::Input(Target::Init, b"ls\n".to_vec())), "{ev:?}");
        assert!(ev.contains(&Event::Resize(Target::Init, 5, 6)), "{ev:?}");
        assert_eq!(ev.len(), 2, "{ev:?}");
        seqpacket::send(a.as_fd(), &Frame::Stdin(b"\x11").encode()).unwrap();
        assert!(serve(&mut t.server).is_empty(), "detach keys never reach the process");
        assert_eq!(Frame::parse(&recv(a.as_fd())), Some(Frame::Detached));
        assert_eq!(seqpacket::recv(a.as_fd(), &mut [0; 8]).unwrap(), Some(0), "detached: closed");
        seqpacket::send(b.as_fd(), &Frame::Stdin(b"").encode()).unwrap();
        assert!(serve(&mut t.server).is_empty(), "no stdin, no end of input either");
        t.server.exited(&Target::Init, 3);
        assert_eq!(Frame::parse(&recv(b.as_fd())), Some(Frame::Exit(3)));
        assert_eq!(seqpacket::recv(b.as_fd(), &mut [0; 8]).unwrap(), Some(0));
    }

    #[test]
    fn a_caller_that_stops_reading_is_dropped_and_the_others_go_on() {
        let mut t = server();
        let slow = attach(&mut t, all());
        let fast = attach(&mut t, all());
        for c in [&slow, &fast] {
            nix::fcntl::fcntl(std::os::fd::AsRawFd::as_raw_fd(c), nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK)).unwrap();
        }
        let chunk = vec![b'x'; 16 * 1024];
        let mut got = 0;
        let mut buf = vec![0; MAX_PACKET];
        // Far more than the kernel's socket buffer and CLIENT_BUFFER.
        for _ in 0..(4 * CLIENT_BUFFER / chunk.len()) {
            t.server.broadcast(&Target::Init, STREAM_STDOUT, &chunk);
            while let Some(n) = seqpacket::recv(fast.as_fd(), &mut buf).ok().flatten() {
                got += n - 1;
            }
            serve_within(&mut t.server, 0);
        }
        for _ in 0..100 {
            serve_within(&mut t.server, 1);
            while let Some(n) = seqpacket::recv(fast.as_fd(), &mut buf).ok().flatten() {
                got += n - 1;
            }
        }
        assert_eq!(got, 4 * CLIENT_BUFFER, "the reading caller got everything");
        let mut slow_got = 0;
        while let Ok(Some(n)) = seqpacket::recv(slow.as_fd(), &mut buf) {
            if n == 0 {
                break;
            }
            slow_got += n - 1;
        }
        assert!(slow_got < 2 * CLIENT_BUFFER, "the stalled caller was dropped after its buffer: {slow_got}");
        assert!(t.server.attached(&Target::Init));
    }

    #[test]
    fn bad_requests_and_too_many_connections_are_refused() {
        let mut t = server();
        let c = seqpacket::connect(&t.path).unwrap();
        seqpacket::send(c.as_fd(), b"{nonsense").unwrap();
        assert!(serve(&mut t.server).is_empty());
        assert!(matches!(Reply::decode(&recv(c.as_fd())), Some(Reply::Refused { refusal: Refusal::BadRequest, .. })));
        let keep: Vec<OwnedFd> = (0..MAX_CONNECTIONS).map(|_| seqpacket::connect(&t.path).unwrap()).collect();
        serve(&mut t.server);
        let extra = seqpacket::connect(&t.path).unwrap();
        serve(&mut t.server);
        assert!(matches!(Reply::decode(&recv(extra.as_fd())), Some(Reply::Refused { refusal: Refusal::Busy, .. })));
        drop(keep);
    }
}
