//! The container's standard output and error: two pipes that the monitor
//! alone reads, forwarding each line to journald through one native socket
//! in the order it read them (each with its BERTH_SEQ), so that the journal
//! keeps both streams in one order and tells them apart by PRIORITY.

use crate::journal::{JournalWriter, LineSplitter, Stream};
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

/// One read takes at most this much, so that both pipes are served in turn.
const READ_CHUNK: usize = 64 * 1024;

struct Source {
    pipe: std::fs::File,
    stream: Stream,
    split: LineSplitter,
    eof: bool,
}

pub(super) struct Output {
    writer: JournalWriter,
    sources: [Source; 2],
    buf: Vec<u8>,
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    fcntl(std::os::fd::AsRawFd::as_raw_fd(&r), FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
    Ok((r, w))
}

/// Say what failed, in the unit's journal; the monitor goes on.
fn warn(what: &str, e: impl std::fmt::Display) {
    eprintln!("berth-monitor: {what}: {e}");
}

impl Output {
    /// Pipes for the container's stdout and stderr (their write ends come
    /// back, for the runtime), with lines going to journald as `identifier`.
    pub fn open(identifier: &str) -> io::Result<(Output, OwnedFd, OwnedFd)> {
        let writer = JournalWriter::connect(identifier, std::iter::empty::<(&str, &[u8])>()).map_err(io::Error::other)?;
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let source = |fd: OwnedFd, stream| Source { pipe: std::fs::File::from(fd), stream, split: LineSplitter::default(), eof: false };
        let sources = [source(out_r, Stream::Stdout), source(err_r, Stream::Stderr)];
        Ok((Output { writer, sources, buf: vec![0; READ_CHUNK] }, out_w, err_w))
    }

    /// The pipes still open, for poll, with their index.
    pub fn fds(&self) -> Vec<(usize, BorrowedFd<'_>)> {
        self.sources.iter().enumerate().filter(|(_, s)| !s.eof).map(|(i, s)| (i, s.pipe.as_fd())).collect()
    }

    /// Read one chunk from pipe `i` and forward its complete lines.
    pub fn read(&mut self, i: usize) {
        let Output { writer, sources, buf } = self;
        let s = &mut sources[i];
        match s.pipe.read(buf) {
            Ok(0) => {
                s.eof = true;
                let stream = s.stream;
                s.split.finish(|line, partial| push(writer, stream, line, partial));
            }
            Ok(n) => {
                let stream = s.stream;
                s.split.push(&buf[..n], |line, partial| push(writer, stream, line, partial));
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
            Err(e) => {
                warn("reading the container's output", e);
                s.eof = true;
            }
        }
    }

    /// Send what is batched (when no more output is at hand).
    pub fn flush(&mut self) {
        if let Err(e) = self.writer.flush() {
            warn("writing the container's output to the journal", e);
        }
    }

    /// The container is gone: read what is left in the pipes (for at most
    /// `limit`: a process that escaped the container could hold them open),
    /// then wait until journald has stored every line.
    pub fn finish(&mut self, limit: Duration) {
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            let open: Vec<usize> = self.fds().into_iter().map(|(i, _)| i).collect();
            if open.is_empty() {
                break;
            }
            let mut fds: Vec<nix::poll::PollFd> =
                self.fds().into_iter().map(|(_, fd)| nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)).collect();
            let left = limit.saturating_sub(t0.elapsed());
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::try_from(left).unwrap_or(nix::poll::PollTimeout::MAX)) {
                Ok(0) => break,
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    warn("waiting for the container's last output", e);
                    break;
                }
            }
            let ready: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
            for (i, r) in open.into_iter().zip(ready) {
                if r {
                    self.read(i);
                }
            }
        }
        for s in &mut self.sources {
            let stream = s.stream;
            let writer = &mut self.writer;
            s.split.finish(|line, partial| push(writer, stream, line, partial));
        }
        self.flush();
        if let Err(e) = self.writer.drain(limit) {
            warn("waiting for journald to store the container's output", e);
        }
    }
}

fn push(writer: &mut JournalWriter, stream: Stream, line: &[u8], partial: bool) {
    if let Err(e) = writer.push(stream, line, partial) {
        warn("writing the container's output to the journal", e);
    }
}
