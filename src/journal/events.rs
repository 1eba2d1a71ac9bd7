//! berth's lifecycle events, which berthd writes as journal entries with
//! one MESSAGE_ID, read back with their fields (no journalctl process).

use super::error::{Error, Result};
use super::follow::Cancel;
use super::options::Follow;
use super::sys::Journal;
use super::walk::{walk, Query, ReadEnd, Visit};
use crate::model::{Event, EventKind, Usec};
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::os::fd::BorrowedFd;

/// MESSAGE_ID of every berth event entry (`journalctl MESSAGE_ID=...`).
pub const EVENT_MESSAGE_ID: &str = "6a5f1c6e0b8d4e2f9d3c7b1a2e4f8d90";

/// Which events to read; the window is `since <= t < until` in the
/// entries' journal time.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub since: Option<Usec>,
    pub until: Option<Usec>,
    /// Only this container's events (its CONTAINER_NAME).
    pub container: Option<String>,
    pub after_cursor: Option<String>,
    pub follow: Option<Follow>,
}

/// One event entry: its journal time and its fields (those a client may
/// set; journald's trusted `_` fields are left out). Values that are not
/// UTF-8 are converted lossily.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEntry {
    pub usec: Usec,
    pub fields: BTreeMap<String, String>,
}

impl EventEntry {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// The event berthd recorded (`engine::journal::record`'s fields), or
    /// None when a field is missing or malformed.
    pub fn to_event(&self) -> Option<Event> {
        let kind: EventKind = serde_json::from_value(serde_json::Value::String(self.field("BERTH_EVENT")?.to_string())).ok()?;
        Some(Event {
            name: self.field("CONTAINER_NAME")?.to_string(),
            id: self.field("BERTH_CONTAINER_ID_FULL")?.to_string(),
            kind,
            usec: self.field("BERTH_EVENT_USEC")?.parse().ok()?,
            exit_code: self.field("EXIT_CODE").and_then(|c| c.parse().ok()),
            health_status: self.field("HEALTH_STATUS").and_then(crate::model::HealthStatus::parse),
        })
    }
}

struct Events<'s, F> {
    sink: &'s mut F,
}

impl<F: FnMut(&EventEntry) -> ControlFlow<()>> Visit for Events<'_, F> {
    fn entry(&mut self, j: &mut Journal, usec: Usec) -> Result<ControlFlow<()>> {
        let mut fields = BTreeMap::new();
        j.for_each_field(|f| {
            if let Some(eq) = memchr::memchr(b'=', f) {
                if !f.starts_with(b"_") {
                    let k = String::from_utf8_lossy(&f[..eq]).into_owned();
                    fields.insert(k, String::from_utf8_lossy(&f[eq + 1..]).into_owned());
                }
            }
            ControlFlow::Continue(())
        })?;
        Ok((self.sink)(&EventEntry { usec, fields }))
    }

    fn idle(&mut self) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }

    fn hangup_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    fn hung_up(&mut self) {}
}

/// Reads event entries; like [`super::LogReader`], it stays on its thread.
pub struct EventReader {
    journal: Journal,
}

impl EventReader {
    pub fn open() -> Result<Self> {
        Ok(EventReader { journal: Journal::open()? })
    }

    /// Hand the matching event entries to `sink`, oldest first.
    pub fn read<F: FnMut(&EventEntry) -> ControlFlow<()>>(&mut self, q: &EventQuery, sink: &mut F, cancel: &Cancel) -> Result<ReadEnd> {
        if let (Some(since), Some(until)) = (q.since, q.until) {
            if since > until {
                return Err(Error::SinceAfterUntil { since, until });
            }
        }
        let id = format!("MESSAGE_ID={EVENT_MESSAGE_ID}");
        let name = q.container.as_ref().map(|n| format!("CONTAINER_NAME={n}"));
        let mut matches: Vec<&[u8]> = vec![id.as_bytes()];
        if let Some(n) = &name {
            matches.push(n.as_bytes());
        }
        let query = Query {
            matches: &matches,
            since: q.since,
            until: q.until,
            tail: None,
            after_cursor: q.after_cursor.as_deref(),
            follow: q.follow.as_ref(),
        };
        walk(&mut self.journal, &query, cancel, &mut Events { sink })
    }

    /// The recorded events in the window, oldest first.
    pub fn history(&mut self, since: Option<Usec>, until: Option<Usec>, container: Option<&str>) -> Result<Vec<EventEntry>> {
        let q = EventQuery { since, until, container: container.map(str::to_string), ..Default::default() };
        let mut out = Vec::new();
        self.read(&q, &mut |e: &EventEntry| {
            out.push(e.clone());
            ControlFlow::Continue(())
        }, &Cancel::new()?)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_become_events() {
        let f = |kv: &[(&str, &str)]| EventEntry { usec: 5, fields: kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
        let e = f(&[("CONTAINER_NAME", "web"), ("BERTH_CONTAINER_ID_FULL", "ab"), ("BERTH_EVENT", "died"), ("BERTH_EVENT_USEC", "17"), ("EXIT_CODE", "3")]);
        let ev = e.to_event().unwrap();
        assert_eq!((ev.name.as_str(), ev.kind, ev.usec, ev.exit_code), ("web", EventKind::Died, 17, Some(3)));
        assert!(f(&[("CONTAINER_NAME", "web")]).to_event().is_none());
        let e = f(&[("CONTAINER_NAME", "web"), ("BERTH_CONTAINER_ID_FULL", "ab"), ("BERTH_EVENT", "exploded"), ("BERTH_EVENT_USEC", "1")]);
        assert!(e.to_event().is_none());
    }
}
