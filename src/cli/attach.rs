//! berthctl's side of an attachment (run -it, start -a, attach, exec): the
//! local terminal in raw mode, its input sent as stdin frames, window-size
//! changes (SIGWINCH) sent as resize frames, and the process's output
//! written out, until the exit frame, a detach or the end of the stream.
//! Only bytes cross: the local terminal's descriptor never leaves this
//! process, so the container cannot reach it (no TIOCSTI and the like).

use crate::model::attach::{data_packets, Frame, MAX_PACKET, MAX_PAYLOAD, STREAM_STDIN};
use crate::model::{Error, Result};
use nix::sys::termios::{self, SetArg, Termios};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

/// How an attachment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The process exited with this code.
    Exited(i32),
    /// The detach keys were typed: the process runs on.
    Detached,
    /// The stream ended without an exit code (the caller was dropped, or
    /// the monitor went away).
    Closed,
}

/// The local terminal in raw mode while this lives.
struct RawMode {
    saved: Termios,
}

impl RawMode {
    fn enter() -> Option<RawMode> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // Best effort: the terminal goes back as it was.
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

/// Whether the local stdin is a terminal.
pub fn stdin_is_terminal() -> bool {
    nix::unistd::isatty(std::io::stdin().as_raw_fd()).unwrap_or(false)
}

/// The local terminal's size (rows, cols).
fn window_size() -> Option<(u16, u16)> {
    let mut ws = nix::libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one struct winsize to the pointer given.
    let r = unsafe { nix::libc::ioctl(std::io::stdin().as_raw_fd(), nix::libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

fn send(conn: BorrowedFd<'_>, packet: &[u8]) -> bool {
    loop {
        match nix::sys::socket::send(conn.as_raw_fd(), packet, nix::sys::socket::MsgFlags::MSG_NOSIGNAL) {
            Ok(_) => return true,
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return false,
        }
    }
}

/// What an attachment does with the local terminal.
pub struct Local {
    /// Send the local stdin (and, at its end, the end of input).
    pub stdin: bool,
    /// The process has a terminal: raw mode and window sizes, when the
    /// local stdin is one too.
    pub terminal: bool,
}

/// Copy the local stdin to the connection, a chunk per frame; at its end,
/// the end-of-input frame.
fn forward_stdin(conn: Arc<OwnedFd>) {
    let mut stdin = std::io::stdin().lock();
    let mut buf = vec![0u8; MAX_PAYLOAD];
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => {
                send(conn.as_fd(), &Frame::Stdin(&[]).encode());
                return;
            }
            Ok(n) => {
                if !data_packets(STREAM_STDIN, &buf[..n]).all(|p| send(conn.as_fd(), &p)) {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Write what the connection carries to the local stdout and stderr until
/// it ends.
fn copy_out(conn: &OwnedFd) -> Ended {
    let mut buf = vec![0u8; MAX_PACKET];
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    loop {
        let n = match nix::sys::socket::recv(conn.as_raw_fd(), &mut buf, nix::sys::socket::MsgFlags::empty()) {
            Ok(0) => return Ended::Closed,
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return Ended::Closed,
        };
        // A reader that went away (a closed pipe) ends nothing here: the
        // process's exit code still comes.
        match Frame::parse(&buf[..n]) {
            Some(Frame::Stdout(d)) => {
                let _ = out.write_all(d).and_then(|()| out.flush());
            }
            Some(Frame::Stderr(d)) => {
                let _ = err.write_all(d).and_then(|()| err.flush());
            }
            Some(Frame::Exit(code)) => return Ended::Exited(code),
            Some(Frame::Detached) => return Ended::Detached,
            _ => {}
        }
    }
}

/// Run an attachment on `conn` to its end.
pub async fn attach(conn: OwnedFd, local: Local) -> Result<Ended> {
    let conn = Arc::new(conn);
    let tty = local.terminal && stdin_is_terminal();
    let raw = if tty { RawMode::enter() } else { None };
    let resizer = if tty {
        if let Some((rows, cols)) = window_size() {
            send(conn.as_fd(), &Frame::Resize { rows, cols }.encode());
        }
        let mut winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
            .map_err(|e| Error::internal(format!("cannot watch the terminal's size: {e}")))?;
        let c = conn.clone();
        Some(tokio::spawn(async move {
            while winch.recv().await.is_some() {
                if let Some((rows, cols)) = window_size() {
                    send(c.as_fd(), &Frame::Resize { rows, cols }.encode());
                }
            }
        }))
    } else {
        None
    };
    if local.stdin {
        // Blocked in read(2) until input comes: it is left behind when the
        // attachment ends (berthctl exits then).
        let c = conn.clone();
        std::thread::Builder::new()
            .name("berthctl-stdin".into())
            .spawn(move || forward_stdin(c))
            .map_err(|e| Error::internal(format!("cannot start a thread: {e}")))?;
    }
    let c = conn.clone();
    let ended = tokio::task::spawn_blocking(move || copy_out(&c))
        .await
        .map_err(|e| Error::internal(format!("the attachment failed: {e}")))?;
    if let Some(r) = resizer {
        r.abort();
    }
    drop(raw);
    if tty && ended == Ended::Detached {
        // The cursor was wherever the container left it.
        eprintln!();
    }
    Ok(ended)
}
