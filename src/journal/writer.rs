//! A container's output into journald through one native-protocol socket,
//! for berth-monitor: one reader of both pipes writes both streams in the
//! order it read them into one datagram socket, so journald stores them in
//! that order; each entry carries a sequence number to check it by.
//!
//! Each line is one entry, however long (no LineMax splitting): entries too
//! large for a datagram go in a sealed memory file passed with SCM_RIGHTS,
//! as sd_journal_sendv() does. Consecutive lines may share a datagram
//! (journald reads entries separated by an empty line one after another),
//! which saves a wake-up of journald per line in a flood.

use super::error::{Error, Result};
use super::native::{end_entry, push_field, push_number, valid_field_name};
use super::options::Stream;
use super::sync::{synchronize, VARLINK_SOCKET};
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use nix::sys::socket::{sendmsg, setsockopt, sockopt, ControlMessage, MsgFlags, UnixAddr};
use std::ffi::CStr;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// journald's native protocol socket.
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";
/// The sequence number field: 1, 2, 3... per writer (per container run).
pub const SEQ_FIELD: &[u8] = b"BERTH_SEQ";
/// Set to 1 on every piece but the last of a line cut by [`super::LineSplitter`].
pub const PARTIAL_FIELD: &[u8] = b"BERTH_PARTIAL";

/// Fields the writer sets itself, refused as extra fields.
const OWN_FIELDS: [&str; 5] = ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "BERTH_SEQ", "BERTH_PARTIAL"];

/// As sd_journal_sendv(): large enough for most entries to travel as a
/// datagram (root may exceed net.core.wmem_max).
const SNDBUF: usize = 8 << 20;

/// Writes log lines to journald.
pub struct JournalWriter {
    sock: UnixDatagram,
    path: PathBuf,
    /// PRIORITY, SYSLOG_IDENTIFIER and the extra fields, per stream.
    head: [Vec<u8>; 2],
    seq: u64,
    pending: Vec<u8>,
    batch_limit: usize,
    memfd_above: Option<usize>,
    /// journald's varlink socket, for [`JournalWriter::drain`].
    sync_socket: Option<PathBuf>,
}

fn connect_socket(path: &Path) -> Result<UnixDatagram> {
    let sock = UnixDatagram::unbound().map_err(|source| Error::Connect { path: path.to_path_buf(), source })?;
    if setsockopt(&sock, sockopt::SndBufForce, &SNDBUF).is_err() {
        // Unprivileged: as much as net.core.wmem_max allows; larger entries
        // then go through a memory file.
        let _ = setsockopt(&sock, sockopt::SndBuf, &SNDBUF);
    }
    sock.connect(path).map_err(|source| Error::Connect { path: path.to_path_buf(), source })?;
    Ok(sock)
}

impl JournalWriter {
    /// Connect to journald. `identifier` becomes SYSLOG_IDENTIFIER (the
    /// container's name); `extra` fields go into every entry (for berth:
    /// CONTAINER_NAME, CONTAINER_ID, CONTAINER_ID_FULL).
    pub fn connect<K: AsRef<str>, V: AsRef<[u8]>>(identifier: &str, extra: impl IntoIterator<Item = (K, V)>) -> Result<Self> {
        let mut w = Self::connect_to(Path::new(JOURNAL_SOCKET), identifier, extra)?;
        w.sync_socket = Some(PathBuf::from(VARLINK_SOCKET));
        Ok(w)
    }

    /// As [`JournalWriter::connect`], to another socket (tests); its
    /// [`JournalWriter::drain`] waits only for the socket to be read.
    pub fn connect_to<K: AsRef<str>, V: AsRef<[u8]>>(path: &Path, identifier: &str, extra: impl IntoIterator<Item = (K, V)>) -> Result<Self> {
        let mut common = Vec::new();
        push_field(&mut common, b"SYSLOG_IDENTIFIER", identifier.as_bytes());
        for (k, v) in extra {
            let name = k.as_ref();
            if !valid_field_name(name.as_bytes()) || OWN_FIELDS.contains(&name) {
                return Err(Error::BadFieldName { name: name.to_string() });
            }
            push_field(&mut common, name.as_bytes(), v.as_ref());
        }
        let head = [Stream::Stdout, Stream::Stderr].map(|s| {
            let mut h = format!("PRIORITY={}\n", s.priority()).into_bytes();
            h.extend_from_slice(&common);
            h
        });
        Ok(JournalWriter {
            sock: connect_socket(path)?,
            path: path.to_path_buf(),
            head,
            seq: 0,
            pending: Vec::new(),
            batch_limit: Self::DEFAULT_BATCH,
            memfd_above: None,
            sync_socket: None,
        })
    }

    /// Lines pushed together travel in datagrams of up to this many bytes.
    pub const DEFAULT_BATCH: usize = 128 * 1024;

    /// Set the batch size; 0 sends each line in its own datagram.
    pub fn with_batch_limit(mut self, bytes: usize) -> Self {
        self.batch_limit = bytes;
        self
    }

    /// Send anything larger than `bytes` through a memory file at once
    /// (otherwise only what the socket refuses as too large).
    pub fn with_memfd_above(mut self, bytes: usize) -> Self {
        self.memfd_above = Some(bytes);
        self
    }

    /// The sequence number of the last line written (0: none yet).
    pub fn last_seq(&self) -> u64 {
        self.seq
    }

    /// Write one line now; its sequence number.
    pub fn write_line(&mut self, stream: Stream, line: &[u8]) -> Result<u64> {
        let seq = self.push(stream, line, false)?;
        self.flush()?;
        Ok(seq)
    }

    /// Add a line (or, `partial`, a piece of one) to the batch, sending the
    /// batch first when the line would overflow it; its sequence number.
    /// Call [`JournalWriter::flush`] when no more lines are at hand.
    pub fn push(&mut self, stream: Stream, line: &[u8], partial: bool) -> Result<u64> {
        let head = &self.head[usize::from(stream == Stream::Stderr)];
        let size = head.len() + line.len() + 64;
        if !self.pending.is_empty() && self.pending.len() + size > self.batch_limit {
            self.flush()?;
        }
        self.seq += 1;
        let head = &self.head[usize::from(stream == Stream::Stderr)];
        self.pending.extend_from_slice(head);
        push_number(&mut self.pending, SEQ_FIELD, self.seq);
        if partial {
            push_number(&mut self.pending, PARTIAL_FIELD, 1);
        }
        push_field(&mut self.pending, b"MESSAGE", line);
        end_entry(&mut self.pending);
        if self.pending.len() >= self.batch_limit {
            self.flush()?;
        }
        Ok(self.seq)
    }

    /// Send what was pushed. On an error the pending lines are dropped.
    pub fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let r = self.send_pending();
        self.pending.clear();
        // A batch that grew large once should not stay allocated.
        if self.pending.capacity() > 4 * self.batch_limit.max(64 * 1024) {
            self.pending.shrink_to(self.batch_limit);
        }
        r
    }

    fn send_pending(&mut self) -> Result<()> {
        if self.memfd_above.is_some_and(|m| self.pending.len() > m) {
            return self.send_memfd();
        }
        let mut reconnected = false;
        loop {
            match self.sock.send(&self.pending) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.raw_os_error(), Some(nix::libc::EMSGSIZE | nix::libc::ENOBUFS)) => return self.send_memfd(),
                // journald's socket was re-created (systemd-journald restarted
                // without its socket unit): connect again, once.
                Err(e) if !reconnected && matches!(e.raw_os_error(), Some(nix::libc::ECONNREFUSED | nix::libc::ENOTCONN)) => {
                    self.sock = connect_socket(&self.path)?;
                    reconnected = true;
                }
                Err(source) => return Err(Error::Send { path: self.path.clone(), source }),
            }
        }
    }

    /// Pass the pending entries in a sealed memory file (journald maps a
    /// sealed memfd without copying it and trusts it to stay as sent).
    fn send_memfd(&mut self) -> Result<()> {
        let memfd_err = |e: nix::Error| Error::Memfd { source: e.into() };
        let name = CStr::from_bytes_with_nul(b"berth-journal-entry\0").map_err(|e| Error::Memfd { source: io::Error::other(e) })?;
        let fd: OwnedFd = memfd_create(name, MemFdCreateFlag::MFD_ALLOW_SEALING | MemFdCreateFlag::MFD_CLOEXEC).map_err(memfd_err)?;
        let mut file = std::fs::File::from(fd);
        file.write_all(&self.pending).map_err(|source| Error::Memfd { source })?;
        let seals = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE | SealFlag::F_SEAL_SEAL;
        fcntl(file.as_raw_fd(), FcntlArg::F_ADD_SEALS(seals)).map_err(memfd_err)?;
        let fds = [file.as_raw_fd()];
        loop {
            match sendmsg::<UnixAddr>(self.sock.as_raw_fd(), &[], &[ControlMessage::ScmRights(&fds)], MsgFlags::MSG_NOSIGNAL, None) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(Error::Send { path: self.path.clone(), source: e.into() }),
            }
        }
    }

    /// Bytes sent that journald has not read yet (SIOCOUTQ).
    pub fn unread(&self) -> io::Result<usize> {
        let mut n: nix::libc::c_int = 0;
        // SAFETY: SIOCOUTQ (TIOCOUTQ's number) writes one int, to `n`.
        let r = unsafe { nix::libc::ioctl(self.sock.as_raw_fd(), nix::libc::TIOCOUTQ, &mut n) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Send what is pending, wait (at most `limit` in all) until journald
    /// has read everything sent (SIOCOUTQ is 0), then until it has written
    /// it (Synchronize): after this, a reader told that the container is
    /// gone finds all its lines.
    pub fn drain(&mut self, limit: Duration) -> Result<()> {
        self.flush()?;
        let t0 = Instant::now();
        loop {
            let unread = self.unread().map_err(|source| Error::Send { path: self.path.clone(), source })?;
            if unread == 0 {
                break;
            }
            if t0.elapsed() >= limit {
                return Err(Error::DrainTimeout { limit, unread });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        match &self.sync_socket {
            Some(p) => synchronize(p, limit.saturating_sub(t0.elapsed())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::native::parse;
    use nix::sys::socket::{recvmsg, ControlMessageOwned};
    use std::io::{IoSliceMut, Read};
    use std::os::fd::FromRawFd;

    type Entry = Vec<(Vec<u8>, Vec<u8>)>;

    fn field<'e>(e: &'e Entry, name: &str) -> Option<&'e [u8]> {
        e.iter().find(|(k, _)| k == name.as_bytes()).map(|(_, v)| v.as_slice())
    }

    /// A fake journald: a bound datagram socket in a temporary directory.
    fn journald() -> (tempfile::TempDir, UnixDatagram, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("socket");
        let sock = UnixDatagram::bind(&path).unwrap();
        (dir, sock, path)
    }

    /// One datagram's entries, reading a passed memory file as journald does.
    fn receive(sock: &UnixDatagram) -> (Vec<Entry>, bool) {
        let mut buf = vec![0u8; 16 << 20];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty()).unwrap();
        let n = msg.bytes;
        let mut fds = Vec::new();
        for c in msg.cmsgs().unwrap() {
            if let ControlMessageOwned::ScmRights(f) = c {
                fds.extend(f);
            }
        }
        if let Some(&fd) = fds.first() {
            assert_eq!(n, 0, "a memory file comes alone");
            // SAFETY: the descriptor was just received and is ours.
            let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
            let seals = fcntl(f.as_raw_fd(), FcntlArg::F_GET_SEALS).unwrap();
            let want = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE;
            assert!(SealFlag::from_bits_truncate(seals).contains(want), "journald only maps sealed memory files");
            // The description (and its offset) is the writer's: read from 0, as journald maps it.
            std::io::Seek::rewind(&mut f).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            return (parse(&data).unwrap(), true);
        }
        (parse(&buf[..n]).unwrap(), false)
    }

    #[test]
    fn one_line_one_entry_with_sequence_and_fields() {
        let (_d, j, path) = journald();
        let mut w = JournalWriter::connect_to(&path, "web", [("CONTAINER_ID_FULL", "ab".repeat(32))]).unwrap();
        assert_eq!(w.write_line(Stream::Stdout, b"hello").unwrap(), 1);
        assert_eq!(w.write_line(Stream::Stderr, b"a\nb\xff").unwrap(), 2);
        let (e, memfd) = receive(&j);
        assert!(!memfd);
        assert_eq!(e.len(), 1);
        assert_eq!(field(&e[0], "MESSAGE"), Some(&b"hello"[..]));
        assert_eq!(field(&e[0], "PRIORITY"), Some(&b"6"[..]));
        assert_eq!(field(&e[0], "SYSLOG_IDENTIFIER"), Some(&b"web"[..]));
        assert_eq!(field(&e[0], "BERTH_SEQ"), Some(&b"1"[..]));
        assert_eq!(field(&e[0], "CONTAINER_ID_FULL"), Some("ab".repeat(32).as_bytes()));
        assert_eq!(field(&e[0], "BERTH_PARTIAL"), None);
        let (e, _) = receive(&j);
        assert_eq!(field(&e[0], "MESSAGE"), Some(&b"a\nb\xff"[..]));
        assert_eq!(field(&e[0], "PRIORITY"), Some(&b"3"[..]));
        assert_eq!(field(&e[0], "BERTH_SEQ"), Some(&b"2"[..]));
        w.drain(Duration::from_secs(1)).unwrap();
    }

    #[test]
    fn pushed_lines_share_datagrams_in_order() {
        let (_d, j, path) = journald();
        let mut w = JournalWriter::connect_to(&path, "x", [("A", "1")]).unwrap().with_batch_limit(4096);
        for i in 0..100u32 {
            let s = if i % 2 == 0 { Stream::Stdout } else { Stream::Stderr };
            w.push(s, format!("line {i}").as_bytes(), i == 7).unwrap();
        }
        w.flush().unwrap();
        let mut all = Vec::new();
        let mut datagrams = 0;
        while all.len() < 100 {
            let (e, _) = receive(&j);
            datagrams += 1;
            all.extend(e);
        }
        assert!(datagrams > 1 && datagrams < 20, "{datagrams} datagrams");
        for (i, e) in all.iter().enumerate() {
            assert_eq!(field(e, "MESSAGE"), Some(format!("line {i}").as_bytes()));
            assert_eq!(field(e, "BERTH_SEQ"), Some((i + 1).to_string().as_bytes()));
            assert_eq!(field(e, "PRIORITY"), Some(if i % 2 == 0 { &b"6"[..] } else { &b"3"[..] }));
            assert_eq!(field(e, "BERTH_PARTIAL"), (i == 7).then_some(&b"1"[..]));
        }
    }

    #[test]
    fn large_entries_go_through_a_sealed_memory_file() {
        let (_d, j, path) = journald();
        let mut w = JournalWriter::connect_to(&path, "x", std::iter::empty::<(&str, &str)>()).unwrap().with_memfd_above(64 * 1024);
        let big: Vec<u8> = (0..200 * 1024).map(|i| (i % 256) as u8).collect();
        w.write_line(Stream::Stdout, &big).unwrap();
        w.write_line(Stream::Stdout, b"small").unwrap();
        let (e, memfd) = receive(&j);
        assert!(memfd);
        assert_eq!(field(&e[0], "MESSAGE"), Some(&big[..]));
        let (e, memfd) = receive(&j);
        assert!(!memfd);
        assert_eq!(field(&e[0], "MESSAGE"), Some(&b"small"[..]));
    }

    #[test]
    fn bad_extra_fields_are_refused() {
        let (_d, _j, path) = journald();
        for bad in ["lower", "_PID", "MESSAGE", "BERTH_SEQ", "", "9X"] {
            let r = JournalWriter::connect_to(&path, "x", [(bad, "v")]);
            assert!(matches!(r, Err(Error::BadFieldName { ref name }) if name == bad), "{bad}");
        }
        let r = JournalWriter::connect_to(Path::new("/nonexistent/socket"), "x", std::iter::empty::<(&str, &str)>());
        assert!(matches!(r, Err(Error::Connect { .. })));
    }

    #[test]
    fn drain_waits_for_journald_to_read() {
        let (_d, j, path) = journald();
        let mut w = JournalWriter::connect_to(&path, "x", std::iter::empty::<(&str, &str)>()).unwrap();
        w.write_line(Stream::Stdout, b"queued").unwrap();
        assert!(w.unread().unwrap() > 0);
        assert!(matches!(w.drain(Duration::from_millis(20)), Err(Error::DrainTimeout { unread, .. }) if unread > 0));
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            receive(&j)
        });
        let t0 = Instant::now();
        w.drain(Duration::from_secs(5)).unwrap();
        assert!(t0.elapsed() >= Duration::from_millis(20));
        assert_eq!(t.join().unwrap().0.len(), 1);
    }
}
