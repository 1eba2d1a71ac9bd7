//! Where read lines go: any closure, or [`FdSink`], which formats them into
//! a caller's descriptor in large non-blocking writes. A reader who stops
//! reading holds up only the thread doing the read (it waits in poll, and a
//! cancel still reaches it); a reader who goes away (EPIPE, POLLERR,
//! POLLHUP) ends the read at once, without an error.

use super::error::{Error, Result};
use super::follow::Cancel;
use super::format::{Format, LineFormatter};
use super::reader::LogLine;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::socket::MsgFlags;
use nix::sys::stat::{fstat, Mode, SFlag};
use std::io;
use std::ops::ControlFlow;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// Receives the lines of a read.
pub trait LineSink {
    /// One line; `Break` ends the read at once (this line counts as handed over).
    fn line(&mut self, line: &LogLine<'_>) -> ControlFlow<()>;

    /// The read has handed over everything the journal holds for now and
    /// is about to wait for more: the moment to flush buffered output.
    fn idle(&mut self) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }

    /// A descriptor whose error or hang-up ends a waiting follow (the output).
    fn hangup_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    /// The descriptor of [`LineSink::hangup_fd`] hung up; the read ends.
    fn hung_up(&mut self) {}
}

impl<F: FnMut(&LogLine<'_>) -> ControlFlow<()>> LineSink for F {
    fn line(&mut self, line: &LogLine<'_>) -> ControlFlow<()> {
        self(line)
    }
}

/// How the output of an [`FdSink`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Everything handed over was written.
    Complete,
    /// The reader went away (closed its end); the rest was dropped.
    ReaderGone,
    /// A cancel came while waiting for the reader.
    Cancelled,
}

/// How this descriptor is written without blocking.
enum Route {
    /// send(MSG_DONTWAIT | MSG_NOSIGNAL) on the caller's socket.
    Socket,
    /// write() on our own non-blocking open of the caller's pipe or
    /// terminal, so the caller's file status flags stay as they were.
    Reopened(OwnedFd),
    /// write() on the caller's descriptor (regular files never wait).
    Direct,
}

/// Output is written once this much is buffered (and when the read waits).
pub const FLUSH_AT: usize = 64 * 1024;

/// Formats lines into a descriptor with back-pressure.
pub struct FdSink<F: AsFd> {
    fd: F,
    route: Route,
    buf: Vec<u8>,
    fmt: LineFormatter,
    cancel: Option<Cancel>,
    ended: Option<Delivery>,
    failed: Option<io::Error>,
}

fn reopen_nonblocking(fd: BorrowedFd<'_>) -> nix::Result<OwnedFd> {
    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let raw = nix::fcntl::open(path.as_str(), OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY, Mode::empty())?;
    // SAFETY: open returned a new descriptor that nothing else owns.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(raw) })
}

impl<F: AsFd> FdSink<F> {
    /// Write to `fd` in `format`; `cancel` interrupts a wait for the reader.
    pub fn new(fd: F, format: Format, cancel: Option<Cancel>) -> Result<Self> {
        let st = fstat(fd.as_fd().as_raw_fd()).map_err(|e| Error::Output { source: e.into() })?;
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        let route = if kind == SFlag::S_IFSOCK {
            Route::Socket
        } else if kind == SFlag::S_IFIFO || kind == SFlag::S_IFCHR {
            match reopen_nonblocking(fd.as_fd()) {
                Ok(own) => Route::Reopened(own),
                // A pipe without a reader cannot be opened: it is gone already.
                Err(Errno::ENXIO) => {
                    return Ok(FdSink { fd, route: Route::Direct, buf: Vec::new(), fmt: LineFormatter::new(format), cancel, ended: Some(Delivery::ReaderGone), failed: None })
                }
                Err(e) => return Err(Error::Output { source: e.into() }),
            }
        } else {
            Route::Direct
        };
        Ok(FdSink { fd, route, buf: Vec::with_capacity(FLUSH_AT + 4096), fmt: LineFormatter::new(format), cancel, ended: None, failed: None })
    }

    /// The descriptor writes go to.
    fn out(&self) -> BorrowedFd<'_> {
        match &self.route {
            Route::Reopened(o) => o.as_fd(),
            _ => self.fd.as_fd(),
        }
    }

    fn write_some(&self, data: &[u8]) -> nix::Result<usize> {
        match &self.route {
            Route::Socket => nix::sys::socket::send(self.out().as_raw_fd(), data, MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL),
            _ => write_without_sigpipe(self.out(), data),
        }
    }

    /// Wait until the output takes more, or the reader or a cancel ends it.
    fn wait_writable(&self) -> std::result::Result<(), Delivery> {
        loop {
            let mut fds = vec![PollFd::new(self.out(), PollFlags::POLLOUT)];
            if let Some(c) = &self.cancel {
                fds.push(PollFd::new(c.fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                // Cannot wait: let the next write tell what is wrong.
                Err(_) => return Ok(()),
            }
            if fds.get(1).and_then(|f| f.revents()).is_some_and(|r| !r.is_empty()) {
                return Err(Delivery::Cancelled);
            }
            let r = fds[0].revents().unwrap_or(PollFlags::empty());
            if r.contains(PollFlags::POLLOUT) {
                return Ok(());
            }
            if r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL) {
                return Err(Delivery::ReaderGone);
            }
        }
    }

    /// Write out the buffer; Break when the output has ended.
    fn flush(&mut self) -> ControlFlow<()> {
        if self.ended.is_some() {
            self.buf.clear();
            return ControlFlow::Break(());
        }
        let mut off = 0;
        while off < self.buf.len() {
            match self.write_some(&self.buf[off..]) {
                Ok(n) => off += n,
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => {
                    if let Err(end) = self.wait_writable() {
                        self.ended = Some(end);
                        break;
                    }
                }
                Err(Errno::EPIPE | Errno::ECONNRESET) => {
                    self.ended = Some(Delivery::ReaderGone);
                    break;
                }
                Err(e) => {
                    self.failed = Some(e.into());
                    self.ended = Some(Delivery::ReaderGone);
                    break;
                }
            }
        }
        self.buf.clear();
        if self.ended.is_some() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    /// Write what is left and say how the output ended; an output error
    /// other than the reader leaving is returned as such.
    pub fn finish(mut self) -> Result<Delivery> {
        self.fmt.finish(&mut self.buf);
        let _ = self.flush();
        if let Some(e) = self.failed.take() {
            return Err(Error::Output { source: e });
        }
        Ok(self.ended.unwrap_or(Delivery::Complete))
    }
}

impl<F: AsFd> LineSink for FdSink<F> {
    fn line(&mut self, line: &LogLine<'_>) -> ControlFlow<()> {
        if self.ended.is_some() {
            return ControlFlow::Break(());
        }
        self.fmt.push(&mut self.buf, line);
        if self.buf.len() >= FLUSH_AT {
            return self.flush();
        }
        ControlFlow::Continue(())
    }

    fn idle(&mut self) -> ControlFlow<()> {
        self.flush()
    }

    fn hangup_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.out())
    }

    fn hung_up(&mut self) {
        self.ended.get_or_insert(Delivery::ReaderGone);
    }
}

/// write(), with SIGPIPE (which a pipe without a reader raises in the
/// writing thread) blocked in this thread and taken back if the write
/// raised it, so that a process that does not ignore SIGPIPE (a C program
/// using libberth) is not killed by a reader going away.
fn write_without_sigpipe(fd: BorrowedFd<'_>, data: &[u8]) -> nix::Result<usize> {
    let pipe = SigSet::from(Signal::SIGPIPE);
    let old = pipe.thread_swap_mask(SigmaskHow::SIG_BLOCK)?;
    let r = nix::unistd::write(fd, data);
    if r == Err(Errno::EPIPE) && !old.contains(Signal::SIGPIPE) && sigpipe_pending() {
        // Pending, so this returns at once and takes it.
        let _ = pipe.wait();
    }
    old.thread_set_mask()?;
    r
}

fn sigpipe_pending() -> bool {
    let mut set = std::mem::MaybeUninit::<nix::libc::sigset_t>::uninit();
    // SAFETY: sigpending fills the set it is given.
    if unsafe { nix::libc::sigpending(set.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: sigpending succeeded, so the set is initialised.
    unsafe { nix::libc::sigismember(set.as_ptr(), nix::libc::SIGPIPE) == 1 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::options::Stream;
    use std::io::Read;

    fn line(message: &[u8]) -> LogLine<'_> {
        LogLine { usec: 0, stream: Stream::Stdout, seq: None, partial: false, message }
    }

    #[test]
    fn writes_to_a_pipe_and_leaves_its_flags_alone() {
        let (r, w) = nix::unistd::pipe().unwrap();
        let before = nix::fcntl::fcntl(w.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL).unwrap();
        let mut sink = FdSink::new(&w, Format::default(), None).unwrap();
        assert!(sink.line(&line(b"one")).is_continue());
        assert!(sink.line(&line(b"two\0")).is_continue());
        assert_eq!(sink.finish().unwrap(), Delivery::Complete);
        assert_eq!(nix::fcntl::fcntl(w.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL).unwrap(), before);
        drop(w);
        let mut out = Vec::new();
        std::fs::File::from(r).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"one\ntwo\0\n");
    }

    #[test]
    fn a_reader_that_left_ends_the_read_quietly() {
        let (r, w) = nix::unistd::pipe().unwrap();
        let mut sink = FdSink::new(&w, Format::default(), None).unwrap();
        drop(r);
        let big = vec![b'x'; FLUSH_AT];
        assert!(sink.line(&line(&big)).is_break());
        assert!(sink.line(&line(b"more")).is_break());
        assert_eq!(sink.finish().unwrap(), Delivery::ReaderGone);
    }

    #[test]
    fn a_full_pipe_waits_and_a_cancel_ends_the_wait() {
        let (_r, w) = nix::unistd::pipe().unwrap();
        let cancel = Cancel::new().unwrap();
        let mut sink = FdSink::new(&w, Format::default(), Some(cancel.clone())).unwrap();
        let c = cancel.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(30));
            c.cancel();
        });
        // 1 MiB never fits a 64 KiB pipe nobody reads.
        let big = vec![b'x'; 1 << 20];
        assert!(sink.line(&line(&big)).is_break());
        assert_eq!(sink.finish().unwrap(), Delivery::Cancelled);
        t.join().unwrap();
    }

    #[test]
    fn writes_to_a_socket_and_a_file() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut sink = FdSink::new(&a, Format { timestamps: true, stream_tag: true, ..Format::default() }, None).unwrap();
        assert!(sink.line(&line(b"hi")).is_continue());
        assert_eq!(sink.finish().unwrap(), Delivery::Complete);
        drop(a);
        let mut out = String::new();
        (&b).read_to_string(&mut out).unwrap();
        assert_eq!(out, "1970-01-01T00:00:00.000000Z stdout hi\n");

        let f = tempfile::tempfile().unwrap();
        let mut sink = FdSink::new(&f, Format::default(), None).unwrap();
        assert!(sink.line(&line(b"to a file")).is_continue());
        assert_eq!(sink.finish().unwrap(), Delivery::Complete);
        let mut out = String::new();
        let mut f = f;
        std::io::Seek::rewind(&mut f).unwrap();
        f.read_to_string(&mut out).unwrap();
        assert_eq!(out, "to a file\n");
    }
}
