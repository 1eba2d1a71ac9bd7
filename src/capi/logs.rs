//! A container's output, line by line, to a C callback.

use super::client::berth_client;
use super::ffi::{arg, guard, string, Failure};
use crate::model::{ErrorKind, LogOptions};
use std::ffi::{c_char, c_void};
use std::io::{BufRead, BufReader};

/// Only what the container wrote to standard output (`streams`).
pub const BERTH_LOGS_STDOUT: u32 = 1;
/// Only what the container wrote to standard error (`streams`).
pub const BERTH_LOGS_STDERR: u32 = 2;

/// What `berth_client_logs()` reads. Zero-initialise it for "every line of
/// every run, both streams, no timestamps, no follow".
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(non_camel_case_types)]
pub struct berth_logs_options {
    /// Keep reading new lines until the container stops.
    pub follow: bool,
    /// Only lines written at or after this time, in microseconds since the
    /// epoch (0: from the first).
    pub since_usec: u64,
    /// Only lines written before this time (0: no limit).
    pub until_usec: u64,
    /// Only the last `tail` lines (0: all of them).
    pub tail: u64,
    /// Prefix each line with its RFC 3339 time, as `berthctl logs -t`.
    pub timestamps: bool,
    /// An OR of BERTH_LOGS_STDOUT and BERTH_LOGS_STDERR; 0 means both.
    pub streams: u32,
}

/// Called once per line, on the thread that called `berth_client_logs()`:
/// `line` holds `len` bytes without the newline, followed by a NUL (a line
/// may itself contain NUL bytes, hence `len`). It is valid only during the
/// call.
#[allow(non_camel_case_types)]
pub type berth_log_callback = Option<unsafe extern "C" fn(userdata: *mut c_void, line: *const c_char, len: usize)>;

impl berth_logs_options {
    fn engine(&self) -> LogOptions {
        LogOptions {
            follow: self.follow,
            since: (self.since_usec > 0).then_some(self.since_usec),
            until: (self.until_usec > 0).then_some(self.until_usec),
            tail: (self.tail > 0).then_some(self.tail),
            timestamps: self.timestamps,
            stdout: self.streams & BERTH_LOGS_STDOUT != 0,
            stderr: self.streams & BERTH_LOGS_STDERR != 0,
        }
    }
}

/// Read the container's output from the journal (every run of it,
/// restarts included) and call `callback` for each line; with `follow`,
/// returns once the container has stopped and its last lines were passed.
/// `options` may be NULL for the defaults.
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
        let name = string(name, "name")?.to_string();
        let cb = callback.ok_or_else(|| Failure::new(ErrorKind::NullParameter, "callback is NULL"))?;
        // SAFETY: a non-NULL `options` points to a berth_logs_options (header contract).
        let o = if options.is_null() { berth_logs_options::default() } else { unsafe { *options } }.engine();
        let (r, w) = nix::unistd::pipe().map_err(|e| Failure::new(ErrorKind::Internal, format!("pipe: {e}")))?;
        let inner = c.inner.clone();
        // berthd writes into the pipe while this thread reads it; the write
        // end closes when the call returns, which ends the reading.
        let call = inner.rt.spawn({
            let client = inner.client.clone();
            async move {
                use std::os::fd::AsFd;
                let res = client.logs(&name, w.as_fd(), &o).await;
                drop(w);
                res
            }
        });
        let mut reader = BufReader::new(std::fs::File::from(r));
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            let len = line.len();
            line.push(0);
            // SAFETY: the callback gets a valid, NUL-terminated buffer for the call.
            unsafe { cb(userdata, line.as_ptr().cast(), len) };
        }
        match inner.rt.block_on(call) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Failure::from(e)),
            Err(e) => Err(Failure::new(ErrorKind::Internal, format!("the logs call failed: {e}"))),
        }
    })
}
