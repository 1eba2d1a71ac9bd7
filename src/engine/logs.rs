//! A container's output, read back from the journal (berth::journal's
//! sd-journal reader) into a client's descriptor, and the writer that
//! event streams use.

use crate::journal::{self, Cancel, Follow, Format, ReadOptions, Stop, Streams};
use crate::model::{Error, LogFormat, LogOptions, Result, State, Usec};
use crate::store::Record;
use std::io::Write;
use std::os::fd::AsRawFd;

impl From<journal::Error> for Error {
    fn from(e: journal::Error) -> Self {
        use journal::Error as J;
        let mut text = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            text.push_str(&format!(": {c}"));
            cause = c.source();
        }
        match e {
            J::UnknownStream { .. } => Error::invalid("Streams", text),
            J::SinceAfterUntil { .. } => Error::invalid("Since", text),
            J::TailWithCursor | J::BadCursor { .. } => Error::invalid("Cursor", text),
            J::Output { .. } => Error::invalid("fd", text),
            _ => Error::internal(text),
        }
    }
}

fn read_options(o: &LogOptions, stop: Option<Stop>) -> ReadOptions {
    ReadOptions {
        since: o.since,
        until: o.until,
        // More lines than a journal can hold are all of them.
        tail: o.tail.filter(|n| *n <= i32::MAX as u64),
        streams: if o.stdout == o.stderr { Streams::BOTH } else { Streams { stdout: o.stdout, stderr: o.stderr } },
        after_cursor: None,
        follow: stop.map(Follow::until_stopped),
        container_output_only: true,
    }
}

/// Stream a container's lines into `out` (see Engine::logs). With follow,
/// the read ends once the container has run and stopped (a configured or
/// created container is followed until it has run: its monitor has made
/// journald write every line by then), at `until`, or when the reader goes
/// away.
pub async fn stream(id: &str, mut rx: tokio::sync::watch::Receiver<Record>, o: &LogOptions, out: std::fs::File) -> Result<()> {
    check_writable(&out)?;
    let stop = if o.follow { Some(Stop::new()?) } else { None };
    let watcher = stop.clone().map(|stop| {
        tokio::spawn(async move {
            let mut ran = {
                let st = rx.borrow_and_update().state;
                st.is_live() || matches!(st, State::Stopped | State::Exited)
            };
            loop {
                let st = rx.borrow_and_update().state;
                ran |= st.is_live();
                if ran && !st.is_live() {
                    break;
                }
                if rx.changed().await.is_err() {
                    break;
                }
            }
            stop.stop();
        })
    });
    // Dropped (the caller went away) or done, the watcher ends with the read.
    let _watcher = watcher.map(AbortOnDrop);
    let format = Format { timestamps: o.timestamps, stream_tag: o.stream_tag, framed: o.format == LogFormat::Framed };
    let r = journal::logs_to_fd(format!("CONTAINER_ID_FULL={id}"), read_options(o, stop), out.into(), format, Cancel::new()?).await;
    r.map(drop).map_err(Error::from)
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A client's file descriptor, written from a thread of its own so that a
/// client who stops reading stalls only that thread. The descriptor is not
/// switched to non-blocking (its file description is shared with the
/// client: a terminal left non-blocking breaks the user's shell); instead
/// every write waits for POLLOUT and writes at most a page, which a pipe or
/// socket then takes without blocking.
pub struct FdWriter {
    tx: Option<tokio::sync::mpsc::Sender<Vec<u8>>>,
    gone: tokio::sync::watch::Receiver<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Chunks queued for a writer: bounded, so a stalled client costs little.
const QUEUED_CHUNKS: usize = 64;

/// Fail at once on a descriptor that cannot be written.
pub fn check_writable(out: &std::fs::File) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let fl = fcntl(out.as_raw_fd(), FcntlArg::F_GETFL).map_err(|e| Error::invalid("fd", format!("not a usable descriptor: {e}")))?;
    let acc = OFlag::from_bits_truncate(fl) & OFlag::O_ACCMODE;
    if acc != OFlag::O_WRONLY && acc != OFlag::O_RDWR {
        return Err(Error::invalid("fd", "is not open for writing"));
    }
    Ok(())
}

/// Wait until `fd` takes data or is gone; false when the reader went away.
fn writable(fd: std::os::fd::BorrowedFd<'_>, stop: &std::sync::atomic::AtomicBool) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    loop {
        if stop.load(std::sync::atomic::Ordering::Acquire) {
            return false;
        }
        let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
        match poll(&mut fds, PollTimeout::from(200u16)) {
            Ok(0) => continue,
            Ok(_) => {
                let r = fds[0].revents().unwrap_or(PollFlags::empty());
                if r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL) {
                    return false;
                }
                if r.contains(PollFlags::POLLOUT) {
                    return true;
                }
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return false,
        }
    }
}

/// Write `data` a page at a time; false when the reader went away.
pub(crate) fn write_polled(out: &mut std::fs::File, mut data: &[u8], stop: &std::sync::atomic::AtomicBool) -> bool {
    use std::os::fd::AsFd;
    while !data.is_empty() {
        if !writable(out.as_fd(), stop) {
            return false;
        }
        let n = data.len().min(4096);
        match out.write(&data[..n]) {
            Ok(0) => return false,
            Ok(w) => data = &data[w..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}

impl FdWriter {
    pub fn new(mut out: std::fs::File) -> Result<Self> {
        check_writable(&out)?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(QUEUED_CHUNKS);
        let (gone_tx, gone) = tokio::sync::watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("berth-writer".into())
            .spawn(move || {
                let never = std::sync::atomic::AtomicBool::new(false);
                while let Some(chunk) = rx.blocking_recv() {
                    if !write_polled(&mut out, &chunk, &never) {
                        break;
                    }
                }
                let _ = gone_tx.send(true);
            })
            .map_err(|e| Error::internal(format!("cannot start a writer thread: {e}")))?;
        Ok(FdWriter { tx: Some(tx), gone, thread: Some(thread) })
    }

    /// Queue a chunk (waiting while the queue is full); false when the
    /// reader went away.
    pub async fn send(&mut self, chunk: Vec<u8>) -> bool {
        let Some(tx) = self.tx.clone() else { return false };
        let mut gone = self.gone.clone();
        tokio::select! {
            r = tx.send(chunk) => r.is_ok(),
            _ = gone.wait_for(|g| *g) => false,
        }
    }

    /// Resolves when the reader has gone away.
    pub async fn closed(&mut self) {
        let _ = self.gone.wait_for(|g| *g).await;
    }
}

impl Drop for FdWriter {
    fn drop(&mut self) {
        // The thread ends after writing what is queued.
        self.tx.take();
        if let Some(t) = self.thread.take() {
            drop(t);
        }
    }
}

/// The last lines the container (or its runtime) wrote to stderr since
/// `since`: what a failed start's error should show.
pub async fn recent_errors(id: &str, since: Usec) -> Vec<String> {
    if !std::path::Path::new(journal::JOURNAL_SOCKET).exists() {
        return Vec::new();
    }
    let matcher = format!("CONTAINER_ID_FULL={id}");
    let o = ReadOptions { since: Some(since), tail: Some(3), streams: Streams { stdout: false, stderr: true }, ..Default::default() };
    super::blocking(move || {
        let mut lines = Vec::new();
        let Ok(cancel) = Cancel::new() else { return lines };
        let Ok(mut reader) = journal::LogReader::open() else { return lines };
        let mut sink = |l: &journal::LogLine<'_>| {
            lines.push(String::from_utf8_lossy(l.message).into_owned());
            std::ops::ControlFlow::Continue(())
        };
        // Best effort: the start failed anyway, this only explains why.
        let _ = reader.read(&matcher, &o, &mut sink, &cancel);
        lines
    })
    .await
}

