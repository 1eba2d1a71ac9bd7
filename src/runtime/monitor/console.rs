//! A process's terminal: the OCI runtime (`--console-socket`) connects to a
//! socket of the monitor's and passes the pseudo-terminal's master with
//! SCM_RIGHTS; the monitor holds it, reads the output from it, writes the
//! attached callers' input to it and sets its window size (TIOCSWINSZ).
//! The container only ever sees the terminal's slave, never a caller's
//! own terminal.

use crate::runtime::seqpacket::with_addr;
use nix::sys::socket::{self, AddressFamily, Backlog, ControlMessageOwned, MsgFlags, SockFlag, SockType};
use std::io::{self, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where the runtime sends one terminal's master.
pub(super) struct ConsoleSocket {
    listener: OwnedFd,
    path: PathBuf,
}

impl ConsoleSocket {
    /// Listen at `path` (0600, replacing a stale socket).
    pub fn listen(path: &Path) -> io::Result<ConsoleSocket> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let flags = SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK;
        let listener = socket::socket(AddressFamily::Unix, SockType::Stream, flags, None)?;
        with_addr(path, |a| socket::bind(listener.as_raw_fd(), a))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        socket::listen(&listener, Backlog::new(1)?)?;
        Ok(ConsoleSocket { listener, path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// The master, once the runtime has connected and sent it (None: not
    /// yet). The runtime sends it right after connecting; a connection
    /// that sends nothing within a second is dropped.
    pub fn accept_master(&self) -> io::Result<Option<OwnedFd>> {
        let conn = match socket::accept4(self.listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
            // SAFETY: accept4 returned a new descriptor that nothing else owns.
            Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd) },
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let timeout = nix::sys::time::TimeVal::new(1, 0);
        socket::setsockopt(&conn, socket::sockopt::ReceiveTimeout, &timeout)?;
        let mut buf = [0u8; 512];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([RawFd; 4]);
        let msg = socket::recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)?;
        let mut master = None;
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for fd in fds {
                    // SAFETY: SCM_RIGHTS gave this process new descriptors it alone owns.
                    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                    master.get_or_insert(fd);
                }
            }
        }
        master.map(Some).ok_or_else(|| io::Error::other("the runtime sent no terminal on the console socket"))
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        // Nobody connects any more: the socket file only took up space.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Set the window size of the terminal whose master is `fd`.
pub(super) fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let ws = nix::libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads one struct winsize from the pointer given.
    if unsafe { nix::libc::ioctl(fd.as_raw_fd(), nix::libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
pub(super) fn window_size(fd: BorrowedFd<'_>) -> io::Result<(u16, u16)> {
    let mut ws = nix::libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one struct winsize to the pointer given.
    if unsafe { nix::libc::ioctl(fd.as_raw_fd(), nix::libc::TIOCGWINSZ, &mut ws) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((ws.ws_row, ws.ws_col))
}

/// The runtime's side, for tests: connect and send `fd`.
#[cfg(test)]
pub(super) fn send_master(path: &Path, fd: BorrowedFd<'_>) -> io::Result<()> {
    let s = std::os::unix::net::UnixStream::connect(path)?;
    let fds = [fd.as_raw_fd()];
    socket::sendmsg::<()>(
        s.as_raw_fd(),
        &[io::IoSlice::new(b"x")],
        &[socket::ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    std::thread::sleep(std::time::Duration::from_millis(1));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_master_arrives_and_takes_a_size() {
        let d = tempfile::tempdir().unwrap();
        let c = ConsoleSocket::listen(&d.path().join("console-0")).unwrap();
        assert!(c.accept_master().unwrap().is_none());
        let pty = nix::pty::openpty(None, None).unwrap();
        send_master(c.path(), pty.master.as_fd()).unwrap();
        let master = c.accept_master().unwrap().expect("the master");
        set_window_size(master.as_fd(), 33, 101).unwrap();
        assert_eq!(window_size(pty.slave.as_fd()).unwrap(), (33, 101));
        let path = c.path().to_path_buf();
        drop(c);
        assert!(!path.exists());
    }
}
