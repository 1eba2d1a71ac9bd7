//! What a read asks for, checked before the journal is touched.

use super::error::{Error, Result};
use super::follow::Stop;
use super::native::valid_field_name;
use crate::model::Usec;
use std::time::Duration;

/// The stream a line was written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    /// The journal PRIORITY berth gives the stream (podman's: info, err).
    pub fn priority(self) -> u8 {
        match self {
            Stream::Stdout => 6,
            Stream::Stderr => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Which streams a read returns (both false reads both, as bits 0 do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streams {
    pub stdout: bool,
    pub stderr: bool,
}

impl Default for Streams {
    fn default() -> Self {
        Streams::BOTH
    }
}

impl Streams {
    pub const BOTH: Streams = Streams { stdout: true, stderr: true };
    /// The bit of standard output in [`Streams::from_bits`] (as BERTH_LOGS_STDOUT).
    pub const STDOUT_BIT: u32 = 1;
    /// The bit of standard error (as BERTH_LOGS_STDERR).
    pub const STDERR_BIT: u32 = 2;

    /// From the D-Bus and C bit set: 1 standard output, 2 standard error,
    /// 0 both. Any other bit is an error.
    pub fn from_bits(bits: u32) -> Result<Self> {
        if bits & !(Self::STDOUT_BIT | Self::STDERR_BIT) != 0 {
            return Err(Error::UnknownStream { bits });
        }
        Ok(match bits {
            0 => Streams::BOTH,
            b => Streams { stdout: b & Self::STDOUT_BIT != 0, stderr: b & Self::STDERR_BIT != 0 },
        })
    }

    pub fn bits(self) -> u32 {
        (u32::from(self.stdout) * Self::STDOUT_BIT) | (u32::from(self.stderr) * Self::STDERR_BIT)
    }

    /// The PRIORITY match that selects these streams, if only one is wanted.
    pub(crate) fn priority_match(self) -> Option<&'static [u8]> {
        match (self.stdout, self.stderr) {
            (true, false) => Some(b"PRIORITY=6"),
            (false, true) => Some(b"PRIORITY=3"),
            _ => None,
        }
    }
}

/// How a read keeps going once it has read what the journal holds.
#[derive(Debug, Clone)]
pub struct Follow {
    /// Raised by the caller when the writer has stopped (the container
    /// exited and berth-monitor drained its lines): the read then takes in
    /// what journald still has, hands it over, and ends.
    pub stop: Option<Stop>,
    /// How often to look for new entries besides the journal's inotify
    /// descriptor. journald announces appends through inotify at most every
    /// 250 ms (it coalesces its IN_MODIFY), so this sets the follow latency;
    /// each look costs a few microseconds.
    pub poll_interval: Duration,
}

impl Default for Follow {
    fn default() -> Self {
        Follow { stop: None, poll_interval: Follow::DEFAULT_POLL_INTERVAL }
    }
}

impl Follow {
    pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(5);

    /// Follow until `stop` is raised (or until, or a cancel).
    pub fn until_stopped(stop: Stop) -> Self {
        Follow { stop: Some(stop), ..Follow::default() }
    }
}

/// What to read. Times are wall-clock microseconds of the journal entries;
/// the window is `since <= t < until`.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub since: Option<Usec>,
    pub until: Option<Usec>,
    /// Only the last N lines (of the window); 0 gives none (with follow: only new ones).
    pub tail: Option<u64>,
    pub streams: Streams,
    /// Start after this entry (a cursor an earlier read returned).
    pub after_cursor: Option<String>,
    /// Keep reading new entries as they come.
    pub follow: Option<Follow>,
    /// Only what the container wrote (the entries berth-monitor forwards
    /// through journald's native socket), not the monitor's own messages,
    /// which its unit's output stream carries.
    pub container_output_only: bool,
}

impl ReadOptions {
    /// Reject contradictory options before reading anything.
    pub fn validate(&self) -> Result<()> {
        if let (Some(since), Some(until)) = (self.since, self.until) {
            if since > until {
                return Err(Error::SinceAfterUntil { since, until });
            }
        }
        if self.tail.is_some() && self.after_cursor.is_some() {
            return Err(Error::TailWithCursor);
        }
        if let Some(c) = &self.after_cursor {
            super::sys::cursor_cstring(c)?;
        }
        Ok(())
    }
}

/// Check a `FIELD=value` match expression.
pub fn check_match(expr: &str) -> Result<()> {
    let ok = match expr.split_once('=') {
        Some((field, _)) => valid_field_name(field.as_bytes()) || field.starts_with('_') && valid_field_name(&field.as_bytes()[1..]),
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::BadMatch { expr: expr.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_bits() {
        assert_eq!(Streams::from_bits(0).unwrap(), Streams::BOTH);
        assert_eq!(Streams::from_bits(3).unwrap(), Streams::BOTH);
        assert_eq!(Streams::from_bits(1).unwrap(), Streams { stdout: true, stderr: false });
        assert_eq!(Streams::from_bits(2).unwrap().priority_match(), Some(&b"PRIORITY=3"[..]));
        assert_eq!(Streams::BOTH.priority_match(), None);
        assert_eq!(Streams::from_bits(2).unwrap().bits(), 2);
        assert!(matches!(Streams::from_bits(4), Err(Error::UnknownStream { bits: 4 })));
        assert!(matches!(Streams::from_bits(0x81), Err(Error::UnknownStream { bits: 0x81 })));
    }

    #[test]
    fn contradictions_are_named() {
        let o = ReadOptions { since: Some(2), until: Some(1), ..Default::default() };
        assert!(matches!(o.validate(), Err(Error::SinceAfterUntil { since: 2, until: 1 })));
        let o = ReadOptions { since: Some(1), until: Some(1), ..Default::default() };
        assert!(o.validate().is_ok(), "an empty window is not an error");
        let o = ReadOptions { tail: Some(3), after_cursor: Some("s=1".into()), ..Default::default() };
        assert!(matches!(o.validate(), Err(Error::TailWithCursor)));
        let o = ReadOptions { after_cursor: Some(String::new()), ..Default::default() };
        assert!(matches!(o.validate(), Err(Error::BadCursor { .. })));
        let o = ReadOptions { after_cursor: Some("s=1\0".into()), ..Default::default() };
        assert!(matches!(o.validate(), Err(Error::BadCursor { .. })));
        assert!(ReadOptions::default().validate().is_ok());
    }

    #[test]
    fn matches() {
        for ok in ["CONTAINER_ID_FULL=ab12", "MESSAGE_ID=6a5f", "_SYSTEMD_UNIT=berth-x.service", "X="] {
            assert!(check_match(ok).is_ok(), "{ok}");
        }
        for bad in ["", "=x", "container=x", "NOEQUALS", "__X=1", "A B=1"] {
            assert!(matches!(check_match(bad), Err(Error::BadMatch { .. })), "{bad}");
        }
    }
}
