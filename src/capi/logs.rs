//! A container's output, line by line with its stream and time, to a C
//! callback: in one call (`berth_client_logs()`), or through a `berth_logs`
//! handle whose read another thread can cancel. berthd writes framed
//! records (`model::log_frame`) into a pipe; this side decodes them.

use super::client::{berth_client, Inner};
use super::ffi::{arg, free_box, guard, quiet, string, Failure, Out, Res};
use crate::model::log_frame::{Flow, FrameDecoder, FramedLine};
use crate::model::{self, ErrorKind, LogFormat, LogOptions};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Only what the container wrote to standard output (`streams`); also the
/// `stream` of such a line.
pub const BERTH_LOGS_STDOUT: u32 = 1;
/// Only what the container wrote to standard error (`streams`); also the
/// `stream` of such a line.
pub const BERTH_LOGS_STDERR: u32 = 2;

/// What a log read reads. Zero-initialise it for "every line of every run,
/// both streams, no timestamps, no follow".
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(non_camel_case_types)]
pub struct berth_logs_options {
    /// Keep reading new lines until the container stops (or `until_usec`
    /// passes, or the read is cancelled).
    pub follow: bool,
    /// Only lines written at or after this time, in microseconds since the
    /// epoch (0: from the first).
    pub since_usec: u64,
    /// Only lines written before this time (0: no limit); a follow ends
    /// when this time has come.
    pub until_usec: u64,
    /// Only the last `tail` lines (0: all of them).
    pub tail: u64,
    /// Prefix each line's text with its RFC 3339 time and a space, as
    /// `berthctl logs -t` (the line's `usec` holds the time either way).
    pub timestamps: bool,
    /// An OR of BERTH_LOGS_STDOUT and BERTH_LOGS_STDERR; 0 means both. Any
    /// other bit is BERTH_RESULT_INVALID_PARAMETER.
    pub streams: u32,
}

impl berth_logs_options {
    /// The LogsContainer options these ask for, in the framed format.
    fn engine(&self) -> Res<LogOptions> {
        let known = BERTH_LOGS_STDOUT | BERTH_LOGS_STDERR;
        if self.streams & !known != 0 {
            let unknown = self.streams & !known;
            let message = format!("streams: unknown bits {unknown:#x} (only BERTH_LOGS_STDOUT and BERTH_LOGS_STDERR exist)");
            return Err(Failure::new(ErrorKind::InvalidParameter, message));
        }
        Ok(LogOptions {
            follow: self.follow,
            since: (self.since_usec > 0).then_some(self.since_usec),
            until: (self.until_usec > 0).then_some(self.until_usec),
            tail: (self.tail > 0).then_some(self.tail),
            stdout: self.streams & BERTH_LOGS_STDOUT != 0,
            stderr: self.streams & BERTH_LOGS_STDERR != 0,
            format: LogFormat::Framed,
            ..LogOptions::default()
        })
    }
}

/// One line of a container's output, as a log callback gets it. It and
/// what it points to are valid only during the call: copy what you keep.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct berth_log_line {
    /// The stream the container wrote it to: BERTH_LOGS_STDOUT or
    /// BERTH_LOGS_STDERR.
    pub stream: u32,
    /// When journald took it in: microseconds since the Unix epoch.
    pub usec: u64,
    /// `len` bytes without the newline, followed by a NUL (a line may
    /// itself contain NUL bytes, hence `len`). A line longer than
    /// berth-monitor's limit (1 MiB) arrives whole: its pieces are joined.
    pub line: *const c_char,
    /// The number of bytes at `line`, without the NUL.
    pub len: usize,
}

/// Called once per line, in the order the journal holds them, on the
/// thread that reads. Return 0 to go on, anything else to end the read
/// (which then returns BERTH_RESULT_OK). It may call libberth, also
/// `berth_logs_cancel()` on the handle being read; it must not unwind (C++
/// exceptions) into libberth.
#[allow(non_camel_case_types)]
pub type berth_log_callback = Option<unsafe extern "C" fn(userdata: *mut c_void, line: *const berth_log_line) -> c_int>;

/// A log callback that is not NULL.
type LineFn = unsafe extern "C" fn(*mut c_void, *const berth_log_line) -> c_int;

/// A raised flag that a poll sees: what `berth_logs_cancel()` raises.
struct Cancel {
    raised: AtomicBool,
    fd: EventFd,
}

impl Cancel {
    fn new() -> Res<Self> {
        let fd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map_err(|e| Failure::new(ErrorKind::Internal, format!("cannot create an eventfd: {e}")))?;
        Ok(Cancel { raised: AtomicBool::new(false), fd })
    }

    fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        // The counter stays readable (nothing reads it); a write fails only
        // when it would overflow, and then it is readable already.
        let _ = self.fd.write(1);
    }

    fn is_raised(&self) -> bool {
        self.raised.load(Ordering::Acquire)
    }
}

/// A log read of one container, from `berth_logs_new()`: run it with
/// `berth_logs_read()`, end it from any thread with `berth_logs_cancel()`.
#[allow(non_camel_case_types)]
pub struct berth_logs {
    inner: Arc<Inner>,
    name: String,
    options: LogOptions,
    timestamps: bool,
    cancel: Cancel,
}

/// The D-Bus call, aborted if the read ends before it has answered.
struct Call(Option<tokio::task::JoinHandle<model::Result<()>>>);

impl Drop for Call {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.abort();
        }
    }
}

/// How a read ended, before berthd's answer is looked at.
enum End {
    /// berthd closed the pipe: everything was read.
    Eof,
    /// The callback returned non-zero.
    Stopped,
    Cancelled,
}

fn cancelled() -> Failure {
    Failure::from(model::Error::Canceled { what: "the log read".into() })
}

fn io_failure(what: &str, e: Errno) -> Failure {
    Failure::new(ErrorKind::Internal, format!("{what}: {e}"))
}

impl berth_logs {
    fn new(inner: Arc<Inner>, name: &str, o: &berth_logs_options) -> Res<Self> {
        let options = o.engine()?;
        Ok(berth_logs { inner, name: name.to_string(), options, timestamps: o.timestamps, cancel: Cancel::new()? })
    }

    /// Ask berthd for the records, hand each line to `cb`, and return
    /// berthd's answer (or how the read was ended here).
    fn read(&self, cb: LineFn, userdata: *mut c_void) -> Res {
        if self.cancel.is_raised() {
            return Err(cancelled());
        }
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| io_failure("pipe", e))?;
        // Only this end is ours alone; berthd gets its own copy of the other.
        let fl = fcntl(r.as_raw_fd(), FcntlArg::F_GETFL).map_err(|e| io_failure("fcntl", e))?;
        let fl = OFlag::from_bits_truncate(fl) | OFlag::O_NONBLOCK;
        fcntl(r.as_raw_fd(), FcntlArg::F_SETFL(fl)).map_err(|e| io_failure("fcntl", e))?;
        // berthd writes into the pipe while this thread reads it; the write
        // end closes when the call has been answered, which ends the reading.
        let mut call = Call(Some(self.inner.rt.spawn({
            let (client, name, o) = (self.inner.client.clone(), self.name.clone(), self.options.clone());
            async move {
                let res = client.logs(&name, w.as_fd(), &o).await;
                drop(w);
                res
            }
        })));
        let end = self.pump(&r, cb, userdata)?;
        let h = call.0.take().expect("the call is not taken before");
        match end {
            End::Cancelled => {
                // Dropping the read end tells berthd to stop; its answer is not awaited.
                h.abort();
                Err(cancelled())
            }
            End::Stopped => {
                h.abort();
                Ok(())
            }
            End::Eof => match self.inner.rt.block_on(h) {
                Ok(r) => r.map_err(Failure::from),
                Err(e) => Err(Failure::new(ErrorKind::Internal, format!("the logs call failed: {e}"))),
            },
        }
    }

    /// Read the pipe until berthd closes it, the callback stops, or a cancel.
    fn pump(&self, r: &OwnedFd, cb: LineFn, userdata: *mut c_void) -> Res<End> {
        let mut decoder = FrameDecoder::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut text = Vec::new();
        let stopped = Cell::new(false);
        let mut deliver = |l: FramedLine<'_>| -> Flow {
            text.clear();
            if self.timestamps {
                text.extend_from_slice(model::rfc3339(l.usec).as_bytes());
                text.push(b' ');
            }
            text.extend_from_slice(l.message);
            let len = text.len();
            text.push(0);
            let line = berth_log_line { stream: l.stream.bit(), usec: l.usec, line: text.as_ptr().cast(), len };
            // SAFETY: the caller gave a valid function; `line` and its bytes
            // live until it returns.
            let go_on = unsafe { cb(userdata, &line) } == 0;
            if go_on && !self.cancel.is_raised() {
                Flow::Continue(())
            } else {
                stopped.set(true);
                Flow::Break(())
            }
        };
        let bad = |e: model::log_frame::FrameError| {
            Failure::new(ErrorKind::Bus, format!("berthd's log records are not what this library reads: {e}"))
        };
        loop {
            let mut fds =
                [PollFd::new(r.as_fd(), PollFlags::POLLIN), PollFd::new(self.cancel.fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(io_failure("poll", e)),
            }
            if self.cancel.is_raised() {
                return Ok(End::Cancelled);
            }
            let n = match nix::unistd::read(r.as_raw_fd(), &mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(Errno::EAGAIN | Errno::EINTR) => continue,
                Err(e) => return Err(io_failure("reading the log pipe", e)),
            };
            let flow = decoder.push(&buf[..n], &mut deliver).map_err(bad)?;
            if flow.is_break() {
                break;
            }
        }
        if !stopped.get() {
            // A stop by the callback is in `stopped`.
            let _ = decoder.finish(&mut deliver).map_err(bad)?;
        }
        Ok(if self.cancel.is_raised() {
            End::Cancelled
        } else if stopped.get() {
            End::Stopped
        } else {
            End::Eof
        })
    }
}

/// A copy of `*options`, or the defaults for NULL.
fn options_arg(options: *const berth_logs_options) -> berth_logs_options {
    // SAFETY: a non-NULL `options` points to a berth_logs_options (header contract).
    unsafe { options.as_ref() }.copied().unwrap_or_default()
}

fn callback_arg(callback: berth_log_callback) -> Res<LineFn> {
    callback.ok_or_else(|| Failure::new(ErrorKind::NullParameter, "callback is NULL"))
}

/// Read the container's output from the journal (every run of it,
/// restarts included) and call `callback` for each line; with `follow`,
/// returns once the container has stopped and its last lines were passed,
/// or at `until_usec`. `options` may be NULL for the defaults. To end a
/// follow from another thread, use a `berth_logs` handle instead.
#[no_mangle]
pub extern "C" fn berth_client_logs(
    client: *const berth_client,
    name: *const c_char,
    options: *const berth_logs_options,
    callback: berth_log_callback,
    userdata: *mut c_void,
) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let name = string(name, "name")?;
        let cb = callback_arg(callback)?;
        berth_logs::new(c.inner.clone(), name, &options_arg(options))?.read(cb, userdata)
    })
}

/// Prepare a read of the container `name`'s output with `options` (NULL
/// for the defaults), checked here; berthd is asked by `berth_logs_read()`.
/// On success `*out` is a handle for `berth_logs_free()`; it keeps its own
/// connection, so it may outlive `client`.
#[no_mangle]
pub extern "C" fn berth_logs_new(
    client: *const berth_client,
    name: *const c_char,
    options: *const berth_logs_options,
    out: *mut *mut berth_logs,
) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let name = string(name, "name")?;
        let out = Out::new(out, "out")?;
        let logs = berth_logs::new(c.inner.clone(), name, &options_arg(options))?;
        out.write(Box::into_raw(Box::new(logs)));
        Ok(())
    })
}

/// Run the read: call `callback` for each line, as `berth_client_logs()`
/// does. Returns BERTH_RESULT_CANCELED, within milliseconds, once
/// `berth_logs_cancel()` was called (also before the read began).
#[no_mangle]
pub extern "C" fn berth_logs_read(logs: *const berth_logs, callback: berth_log_callback, userdata: *mut c_void) -> ErrorKind {
    guard(|| {
        let logs = arg(logs, "logs")?;
        let cb = callback_arg(callback)?;
        logs.read(cb, userdata)
    })
}

/// End the handle's read: a `berth_logs_read()` running in another thread
/// (or the callback's own) returns BERTH_RESULT_CANCELED, and so does
/// every later one. Safe from any thread while the handle lives; NULL is
/// ignored.
#[no_mangle]
pub extern "C" fn berth_logs_cancel(logs: *const berth_logs) {
    quiet((), || {
        // SAFETY: NULL or a handle from berth_logs_new() that is not freed (header contract).
        if let Some(l) = unsafe { logs.as_ref() } {
            l.cancel.raise();
        }
    })
}

/// Free a handle once no `berth_logs_read()` on it runs; NULL is ignored.
#[no_mangle]
pub extern "C" fn berth_logs_free(logs: *mut berth_logs) {
    quiet((), || free_box(logs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_bits_are_the_models() {
        assert_eq!(BERTH_LOGS_STDOUT, model::LogStream::Stdout.bit());
        assert_eq!(BERTH_LOGS_STDERR, model::LogStream::Stderr.bit());
    }

    #[test]
    fn options_are_checked_here() {
        let o = berth_logs_options { streams: 4, ..Default::default() };
        let f = o.engine().unwrap_err();
        assert_eq!(f.code, ErrorKind::InvalidParameter);
        assert!(f.message.contains("0x4"), "{}", f.message);
        let o = berth_logs_options { streams: BERTH_LOGS_STDERR, until_usec: 9, follow: true, ..Default::default() };
        let e = o.engine().unwrap();
        assert!(e.stderr && !e.stdout && e.follow && e.until == Some(9) && e.since.is_none() && e.tail.is_none());
        assert_eq!(e.format, LogFormat::Framed);
        assert_eq!(berth_logs_options::default().engine().unwrap().stdout, false);
    }

    #[test]
    fn a_cancel_is_seen_by_poll_and_stays() {
        let c = Cancel::new().unwrap();
        assert!(!c.is_raised());
        c.raise();
        c.raise();
        let mut fds = [PollFd::new(c.fd.as_fd(), PollFlags::POLLIN)];
        assert_eq!(poll(&mut fds, PollTimeout::ZERO).unwrap(), 1);
        assert!(c.is_raised());
    }
}
