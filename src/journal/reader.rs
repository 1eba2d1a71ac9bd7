//! A container's output, read from the journal in the journal's order
//! (the order berth-monitor wrote it in), straight from the journal files
//! through libsystemd: no journalctl process, no JSON.

use super::error::Result;
use super::follow::Cancel;
use super::options::{check_match, ReadOptions, Stream};
use super::sink::LineSink;
use super::sys::Journal;
use super::walk::{walk, Query, ReadEnd, Visit};
use super::writer::{PARTIAL_FIELD, SEQ_FIELD};
use crate::model::Usec;
use std::ops::ControlFlow;
use std::os::fd::BorrowedFd;

/// One line of a container's output, valid during the sink's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLine<'a> {
    /// When journald took it in, in microseconds since the epoch.
    pub usec: Usec,
    pub stream: Stream,
    /// berth-monitor's sequence number (BERTH_SEQ), counting from 1 in each
    /// run of the container; None for entries written some other way.
    pub seq: Option<u64>,
    /// A piece of a line longer than the monitor's limit; the next piece of
    /// the same stream continues it (BERTH_PARTIAL=1).
    pub partial: bool,
    /// The bytes written, without the newline; any bytes at all.
    pub message: &'a [u8],
}

impl LogLine<'_> {
    pub fn to_owned(&self) -> OwnedLogLine {
        OwnedLogLine { usec: self.usec, stream: self.stream, seq: self.seq, partial: self.partial, message: self.message.to_vec() }
    }
}

/// A [`LogLine`] that owns its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedLogLine {
    pub usec: Usec,
    pub stream: Stream,
    pub seq: Option<u64>,
    pub partial: bool,
    pub message: Vec<u8>,
}

/// Reads container output. It holds an open journal, so it lives on the
/// thread that opened it (not `Send`); open one per read thread.
pub struct LogReader {
    journal: Journal,
    message: Vec<u8>,
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    s.iter().try_fold(0u64, |n, &c| if c.is_ascii_digit() { n.checked_mul(10)?.checked_add(u64::from(c - b'0')) } else { None })
}

struct Lines<'s, S: LineSink + ?Sized> {
    sink: &'s mut S,
    message: &'s mut Vec<u8>,
}

impl<S: LineSink + ?Sized> Visit for Lines<'_, S> {
    fn entry(&mut self, j: &mut Journal, usec: Usec) -> Result<ControlFlow<()>> {
        let mut stream = Stream::Stdout;
        let mut seq = None;
        let mut partial = false;
        self.message.clear();
        // One pass over the entry's fields: MESSAGE is copied out, since the
        // next field may reuse the memory it points to.
        j.for_each_field(|f| {
            if let Some(m) = f.strip_prefix(b"MESSAGE=") {
                self.message.extend_from_slice(m);
            } else if let Some(p) = f.strip_prefix(b"PRIORITY=") {
                if p == b"3" {
                    stream = Stream::Stderr;
                }
            } else if let Some(n) = f.strip_prefix(SEQ_FIELD).and_then(|r| r.strip_prefix(b"=")) {
                seq = parse_u64(n);
            } else if let Some(p) = f.strip_prefix(PARTIAL_FIELD).and_then(|r| r.strip_prefix(b"=")) {
                partial = p == b"1";
            }
            ControlFlow::Continue(())
        })?;
        let line = LogLine { usec, stream, seq, partial, message: self.message };
        Ok(self.sink.line(&line))
    }

    fn idle(&mut self) -> ControlFlow<()> {
        self.sink.idle()
    }

    fn hangup_fd(&self) -> Option<BorrowedFd<'_>> {
        self.sink.hangup_fd()
    }

    fn hung_up(&mut self) {
        self.sink.hung_up()
    }
}

impl LogReader {
    /// Open the local system journal.
    pub fn open() -> Result<Self> {
        Ok(LogReader { journal: Journal::open()?, message: Vec::new() })
    }

    /// Hand the lines of the entries matching `matcher` (`FIELD=value`, e.g.
    /// `CONTAINER_ID_FULL=<id>`) to `sink`, in the journal's order, as
    /// `options` say. Bad options are rejected before anything is read.
    pub fn read<S: LineSink + ?Sized>(&mut self, matcher: &str, options: &ReadOptions, sink: &mut S, cancel: &Cancel) -> Result<ReadEnd> {
        check_match(matcher)?;
        options.validate()?;
        let mut matches: Vec<&[u8]> = vec![matcher.as_bytes()];
        if let Some(p) = options.streams.priority_match() {
            matches.push(p);
        }
        if options.container_output_only {
            matches.push(b"_TRANSPORT=journal");
        }
        let q = Query {
            matches: &matches,
            since: options.since,
            until: options.until,
            tail: options.tail,
            after_cursor: options.after_cursor.as_deref(),
            follow: options.follow.as_ref(),
        };
        let mut lines = Lines { sink, message: &mut self.message };
        walk(&mut self.journal, &q, cancel, &mut lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_u64(b"1"), Some(1));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"1x"), None);
        assert_eq!(parse_u64(b"-1"), None);
    }
}
