//! The read loop shared by log lines and events: place the journal where
//! the options say (head, a time, the last N entries, after a cursor),
//! hand over matching entries in the journal's order, and, following, wait
//! for more until until, a stop, a cancel or the output's hang-up.

use super::error::Result;
use super::follow::{wait, Cancel, Wake, Watch};
use super::options::Follow;
use super::sys::{cursor_cstring, Journal};
use crate::model::{now_usec, Usec};
use std::ffi::CString;
use std::ops::ControlFlow;
use std::os::fd::BorrowedFd;
use std::time::Duration;

/// Why a read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Everything the journal holds was handed over (no follow).
    End,
    /// The until time was reached.
    Until,
    /// The stop handle was raised and what journald still had was handed over.
    Stopped,
    /// The cancel handle was raised.
    Cancelled,
    /// The sink said Break, or its output went away.
    SinkStopped,
}

/// The end of a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadEnd {
    /// The cursor of the last entry handed over (or the after-cursor given,
    /// when none was): a later read with it as after-cursor goes on from there.
    pub cursor: Option<String>,
    pub reason: EndReason,
    /// How many entries were handed over.
    pub entries: u64,
}

/// Where and how long to read.
pub(crate) struct Query<'a> {
    pub matches: &'a [&'a [u8]],
    pub since: Option<Usec>,
    pub until: Option<Usec>,
    pub tail: Option<u64>,
    pub after_cursor: Option<&'a str>,
    pub follow: Option<&'a Follow>,
}

/// What the loop hands entries to.
pub(crate) trait Visit {
    /// The journal stands on a matching entry written at `usec`.
    fn entry(&mut self, j: &mut Journal, usec: Usec) -> Result<ControlFlow<()>>;
    fn idle(&mut self) -> ControlFlow<()>;
    fn hangup_fd(&self) -> Option<BorrowedFd<'_>>;
    fn hung_up(&mut self);
}

enum Next {
    /// Hand over the entry the journal stands on.
    Current,
    /// Move to the next entry first.
    Step,
}

fn monotonic_usec() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1000)
        .unwrap_or(0)
}

/// Place the journal for `q`; whether it already stands on the first entry.
fn place(j: &mut Journal, q: &Query<'_>) -> Result<(Next, Option<CString>)> {
    if let Some(c) = q.after_cursor {
        let c = cursor_cstring(c)?;
        j.seek_cursor(&c)?;
        return Ok((Next::Step, Some(c)));
    }
    match q.tail {
        Some(0) => {
            // Only entries still to come: stand on the last one. With none
            // yet, all are to come: read from the head (after seek_tail alone,
            // sd_journal_next() would jump to the last of the new entries).
            j.seek_tail()?;
            if !j.previous_entry()? {
                j.seek_head()?;
            }
            Ok((Next::Step, None))
        }
        Some(n) => {
            match q.until {
                Some(u) => j.seek_realtime_usec(u)?,
                None => j.seek_tail()?,
            }
            if j.previous_skip(n)? > 0 {
                return Ok((Next::Current, None));
            }
            // Nothing before: whatever comes is wanted, from the head.
            match q.since {
                Some(s) => j.seek_realtime_usec(s)?,
                None => j.seek_head()?,
            }
            Ok((Next::Step, None))
        }
        None => {
            match q.since {
                Some(s) => j.seek_realtime_usec(s)?,
                None => j.seek_head()?,
            }
            Ok((Next::Step, None))
        }
    }
}

pub(crate) fn walk(j: &mut Journal, q: &Query<'_>, cancel: &Cancel, v: &mut dyn Visit) -> Result<ReadEnd> {
    j.flush_matches();
    for m in q.matches {
        j.add_match(m)?;
    }
    if q.follow.is_some() {
        // Watch before reading, so that nothing appended meanwhile is missed.
        j.fd()?;
    }
    let (mut next, mut skip_exact) = place(j, q)?;
    let mut entries = 0u64;
    // Entries moved onto since the last one handed over: the way back to it.
    let mut passed = 0u64;
    let mut stopping: Option<EndReason> = None;
    let reason = loop {
        let have = match next {
            Next::Current => {
                next = Next::Step;
                true
            }
            Next::Step => j.next_entry()?,
        };
        if have {
            if let Some(c) = skip_exact.take() {
                if j.test_cursor(&c)? {
                    passed += 1;
                    continue;
                }
            }
            let usec = j.realtime_usec()?;
            if q.until.is_some_and(|u| usec >= u) {
                passed += 1;
                break EndReason::Until;
            }
            if q.since.is_some_and(|s| usec < s) {
                passed += 1;
                continue;
            }
            let flow = v.entry(j, usec)?;
            entries += 1;
            passed = 0;
            if flow.is_break() {
                break EndReason::SinkStopped;
            }
            if cancel.is_cancelled() {
                break EndReason::Cancelled;
            }
            continue;
        }
        // Everything the journal holds now has been handed over.
        let Some(follow) = q.follow else { break EndReason::End };
        if let Some(r) = stopping {
            break r;
        }
        if v.idle().is_break() {
            break EndReason::SinkStopped;
        }
        let mut timeout = follow.poll_interval;
        if let Some(u) = q.until {
            let now = now_usec();
            if now >= u {
                // Take in what was written before until, then end.
                stopping = Some(EndReason::Until);
                j.process()?;
                continue;
            }
            timeout = timeout.min(Duration::from_micros(u - now));
        }
        if let Some(t) = j.timeout()? {
            timeout = timeout.min(Duration::from_micros(t.saturating_sub(monotonic_usec())));
        }
        let events = j.events()?;
        let watch = Watch { cancel, stop: follow.stop.as_ref(), hangup: v.hangup_fd() };
        match wait(j.fd()?, events, &watch, timeout)? {
            Wake::Cancelled => break EndReason::Cancelled,
            Wake::Hangup => {
                v.hung_up();
                break EndReason::SinkStopped;
            }
            Wake::Stopped => {
                // The writer has drained: read what journald has, then end.
                stopping = Some(EndReason::Stopped);
                j.process()?;
            }
            Wake::Journal | Wake::Timeout => {
                j.process()?;
            }
        }
    };
    let cursor = if entries > 0 {
        // The lines were handed over: a cursor sd-journal cannot give (it
        // has none after some file changes, or the way back is gone) makes
        // the result only less useful, so it is None rather than an error.
        let back = passed == 0 || j.previous_skip(passed).is_ok_and(|k| k == passed);
        if back {
            j.cursor().ok()
        } else {
            None
        }
    } else {
        q.after_cursor.map(str::to_string)
    };
    Ok(ReadEnd { cursor, reason, entries })
}
