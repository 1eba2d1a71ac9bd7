//! Running reads from async code: the journal handle and the output's
//! waits block, so they run on tokio's blocking pool, one thread per read;
//! dropping the future cancels the read.

use super::error::{Error, Result};
use super::events::{EventEntry, EventReader};
use super::follow::Cancel;
use super::format::Format;
use super::options::ReadOptions;
use super::reader::LogReader;
use super::sink::{Delivery, FdSink};
use super::walk::ReadEnd;
use crate::model::Usec;
use std::os::fd::OwnedFd;

/// Cancels a read whose future was dropped (its caller went away).
struct CancelOnDrop(Option<Cancel>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.cancel();
        }
    }
}

/// Write the lines matching `matcher` into `out`, formatted, as `options`
/// say; `cancel` (or dropping the future) ends it at once.
pub async fn logs_to_fd(matcher: String, options: ReadOptions, out: OwnedFd, format: Format, cancel: Cancel) -> Result<(ReadEnd, Delivery)> {
    let mut guard = CancelOnDrop(Some(cancel.clone()));
    let r = tokio::task::spawn_blocking(move || {
        let mut reader = LogReader::open()?;
        let mut sink = FdSink::new(out, format, Some(cancel.clone()))?;
        let end = reader.read(&matcher, &options, &mut sink, &cancel)?;
        Ok((end, sink.finish()?))
    })
    .await
    .map_err(|source| Error::Task { source })?;
    guard.0 = None;
    r
}

/// [`EventReader::history`] on the blocking pool.
pub async fn event_history(since: Option<Usec>, until: Option<Usec>, container: Option<String>) -> Result<Vec<EventEntry>> {
    tokio::task::spawn_blocking(move || EventReader::open()?.history(since, until, container.as_deref()))
        .await
        .map_err(|source| Error::Task { source })?
}
