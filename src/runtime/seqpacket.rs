//! Unix SOCK_SEQPACKET sockets, the carrier of berth-monitor's attach
//! socket: each send is one message, received whole, so frames need no
//! length prefix (as conmon's attach socket). Paths longer than a socket
//! address holds (108 bytes) are reached through `/proc/self/fd/N/NAME` of
//! their directory.

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::socket::{self, AddressFamily, Backlog, MsgFlags, SockFlag, SockType, UnixAddr};
use nix::sys::stat::Mode;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The longest path a sockaddr_un holds (with its NUL).
const SUN_PATH_MAX: usize = 107;

/// Run `f` with an address for `path`, short enough for a socket address.
pub(crate) fn with_addr<T>(path: &Path, f: impl FnOnce(&UnixAddr) -> nix::Result<T>) -> io::Result<T> {
    if path.as_os_str().len() <= SUN_PATH_MAX {
        return Ok(f(&UnixAddr::new(path)?)?);
    }
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(d), Some(n)) => (d, n),
        _ => return Err(io::Error::other(format!("{} is not a socket path", path.display()))),
    };
    let dirfd = open(dir, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
    // SAFETY: open returned a new descriptor that nothing else owns.
    let dirfd = unsafe { OwnedFd::from_raw_fd(dirfd) };
    let short = PathBuf::from(format!("/proc/self/fd/{}", dirfd.as_raw_fd())).join(name);
    Ok(f(&UnixAddr::new(&short)?)?)
}

fn new_socket(nonblocking: bool) -> io::Result<OwnedFd> {
    let mut flags = SockFlag::SOCK_CLOEXEC;
    if nonblocking {
        flags |= SockFlag::SOCK_NONBLOCK;
    }
    Ok(socket::socket(AddressFamily::Unix, SockType::SeqPacket, flags, None)?)
}

/// A listening socket at `path` (replacing a stale one), mode 0600,
/// non-blocking.
pub fn listen(path: &Path) -> io::Result<OwnedFd> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let fd = new_socket(true)?;
    with_addr(path, |a| socket::bind(fd.as_raw_fd(), a))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    socket::listen(&fd, Backlog::new(64)?)?;
    Ok(fd)
}

/// The next pending connection (non-blocking), None when there is none.
pub fn accept(listener: BorrowedFd<'_>) -> io::Result<Option<OwnedFd>> {
    match socket::accept4(listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK) {
        // SAFETY: accept4 returned a new descriptor that nothing else owns.
        Ok(fd) => Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) })),
        Err(Errno::EAGAIN | Errno::EINTR | Errno::ECONNABORTED) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A blocking connection to the socket at `path`.
pub fn connect(path: &Path) -> io::Result<OwnedFd> {
    let fd = new_socket(false)?;
    with_addr(path, |a| socket::connect(fd.as_raw_fd(), a))?;
    Ok(fd)
}

/// A connected pair (blocking), as a test's stand-in for a monitor.
pub fn pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(socket::socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)?)
}

/// Send one message; Ok(false) when a non-blocking socket is full.
pub fn send(fd: BorrowedFd<'_>, msg: &[u8]) -> io::Result<bool> {
    loop {
        match socket::send(fd.as_raw_fd(), msg, MsgFlags::MSG_NOSIGNAL) {
            Ok(_) => return Ok(true),
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Receive one message into `buf`: Some(0) at end of stream, None when a
/// non-blocking socket has nothing.
pub fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        match socket::recv(fd.as_raw_fd(), buf, MsgFlags::empty()) {
            Ok(n) => return Ok(Some(n)),
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return Ok(None),
            // The peer went away with data unread: the end, too.
            Err(Errno::ECONNRESET) => return Ok(Some(0)),
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn messages_keep_their_bounds_and_long_paths_work() {
        let d = tempfile::tempdir().unwrap();
        let deep = d.path().join("x".repeat(60)).join("y".repeat(60));
        std::fs::create_dir_all(&deep).unwrap();
        let path = deep.join("sock");
        assert!(path.as_os_str().len() > SUN_PATH_MAX);
        let l = listen(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(accept(l.as_fd()).unwrap().is_none());
        let c = connect(&path).unwrap();
        let s = accept(l.as_fd()).unwrap().expect("a connection");
        assert!(send(c.as_fd(), b"one").unwrap());
        assert!(send(c.as_fd(), b"two!").unwrap());
        let mut buf = [0u8; 16];
        assert_eq!(recv(s.as_fd(), &mut buf).unwrap(), Some(3));
        assert_eq!(recv(s.as_fd(), &mut buf).unwrap(), Some(4));
        assert_eq!(recv(s.as_fd(), &mut buf).unwrap(), None);
        drop(c);
        assert_eq!(recv(s.as_fd(), &mut buf).unwrap(), Some(0));
        // A second listen replaces the stale socket file.
        drop(l);
        listen(&path).unwrap();
    }
}
