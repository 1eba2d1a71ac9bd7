//! What the engine asks of containers' monitors, on their sockets
//! (`runtime::monitor::control`), behind a trait so that the engine's unit
//! tests drive a fake ([`super::fake`]); [`SocketMonitors`] is the real one.
//! A connection whose request is an attach is handed to berthd's caller:
//! berthd is then out of the data path, so an attachment outlives berthd.

use crate::model::{Error, Result};
use crate::runtime::monitor::control::{Reply, Request};
use crate::runtime::seqpacket;
use async_trait::async_trait;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a monitor may take to answer a request.
const REPLY_LIMIT: Duration = Duration::from_secs(30);

/// A monitor's answer, and the connection it came on (an attach stream
/// after an Ok to an attach).
pub struct Answer {
    pub reply: Reply,
    pub conn: OwnedFd,
}

#[async_trait]
pub trait Monitors: Send + Sync + 'static {
    /// Send `req` to the monitor listening at `socket`. With `wait_up`,
    /// a socket that does not accept connections yet (the monitor is
    /// starting) is tried again for that long.
    async fn call(&self, socket: &Path, req: &Request, wait_up: Option<Duration>) -> Result<Answer>;
    /// Wait until exec session `session` has ended: its exit code, or None
    /// when the monitor went away first.
    async fn wait_exec(&self, socket: &Path, session: &str) -> Result<Option<i32>>;
}

/// The monitors of real containers.
pub struct SocketMonitors;

fn io_error(what: &str, socket: &Path, e: std::io::Error) -> Error {
    Error::Runtime { message: format!("{what} the container's monitor ({}): {e}", socket.display()) }
}

/// Connect, send, and read the reply, blocking (for spawn_blocking).
fn call_blocking(socket: &Path, req: &Request, reply_limit: Option<Duration>) -> std::io::Result<Answer> {
    let conn = seqpacket::connect(socket)?;
    if let Some(limit) = reply_limit {
        let tv = nix::sys::time::TimeVal::new(limit.as_secs() as i64, 0);
        nix::sys::socket::setsockopt(&conn, nix::sys::socket::sockopt::ReceiveTimeout, &tv)?;
    }
    seqpacket::send(conn.as_fd(), &req.encode())?;
    let mut buf = vec![0u8; 64 * 1024];
    let n = match seqpacket::recv(conn.as_fd(), &mut buf)? {
        Some(0) => return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "it closed the connection")),
        Some(n) => n,
        None => return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer")),
    };
    let reply = Reply::decode(&buf[..n]).ok_or_else(|| std::io::Error::other("an answer this berthd cannot read"))?;
    if reply_limit.is_some() {
        // The caller reads this connection as it likes: no timeout left on it.
        let none = nix::sys::time::TimeVal::new(0, 0);
        nix::sys::socket::setsockopt(&conn, nix::sys::socket::sockopt::ReceiveTimeout, &none)?;
    }
    Ok(Answer { reply, conn })
}

/// The monitor is not listening (yet, or any more).
fn not_up(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(nix::libc::ENOENT | nix::libc::ECONNREFUSED))
}

#[async_trait]
impl Monitors for SocketMonitors {
    async fn call(&self, socket: &Path, req: &Request, wait_up: Option<Duration>) -> Result<Answer> {
        let until = wait_up.map(|w| Instant::now() + w);
        loop {
            let (s, r) = (socket.to_path_buf(), req.clone());
            let res = super::blocking(move || call_blocking(&s, &r, Some(REPLY_LIMIT))).await;
            match res {
                Err(e) if not_up(&e) && until.is_some_and(|u| Instant::now() < u) => {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err(e) if not_up(&e) => {
                    return Err(Error::Runtime { message: format!("the container's monitor does not listen at {}", socket.display()) })
                }
                Err(e) => return Err(io_error("asking", socket, e)),
                Ok(a) => return Ok(a),
            }
        }
    }

    async fn wait_exec(&self, socket: &Path, session: &str) -> Result<Option<i32>> {
        let req = Request::ExecWait { session: session.to_string() };
        let s: PathBuf = socket.to_path_buf();
        // The answer comes when the session ends: wait for it without
        // holding a thread.
        let conn = super::blocking(move || -> std::io::Result<OwnedFd> {
            let conn = seqpacket::connect(&s)?;
            seqpacket::send(conn.as_fd(), &req.encode())?;
            Ok(conn)
        })
        .await;
        let conn = match conn {
            Ok(c) => c,
            Err(e) if not_up(&e) => return Ok(None),
            Err(e) => return Err(io_error("asking", socket, e)),
        };
        let set = nix::fcntl::fcntl(std::os::fd::AsRawFd::as_raw_fd(&conn), nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK));
        set.map_err(|e| io_error("waiting on", socket, e.into()))?;
        // SAFETY: `conn` is an OwnedFd that the AsyncFd owns from here on: its
        // descriptor stays open and the same until the AsyncFd is dropped.
        let afd = unsafe { tokio::io::unix::AsyncFd::register_with_interest(conn, tokio::io::Interest::READABLE) }
            .map_err(|e| io_error("waiting on", socket, e.into()))?;
        let mut buf = vec![0u8; 4096];
        loop {
            let mut guard = afd.readable().await.map_err(|e| io_error("waiting on", socket, e))?;
            match seqpacket::recv(afd.get_ref().as_fd(), &mut buf) {
                Ok(None) => guard.clear_ready(),
                Ok(Some(0)) => return Ok(None),
                Ok(Some(n)) => {
                    return match Reply::decode(&buf[..n]) {
                        Some(Reply::Exited { exit_code }) => Ok(Some(exit_code)),
                        Some(Reply::Refused { message, .. }) => Err(Error::Runtime { message }),
                        _ => Ok(None),
                    }
                }
                Err(e) => return Err(io_error("waiting on", socket, e)),
            }
        }
    }
}
