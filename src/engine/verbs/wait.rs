//! Wait and Sync.

use super::super::Engine;
use crate::model::{Error, Result, State};
use crate::store::Record;
use std::time::Duration;

/// The states Wait returns on when the caller names none.
pub const DEFAULT_WAIT: [State; 2] = [State::Stopped, State::Exited];

impl Engine {
    /// Wait until the container is in one of `conditions` (default: stopped
    /// or exited); returns its record. Driven by the container's change
    /// channel, never by polling. `timeout` None waits for ever.
    pub async fn wait(&self, name: &str, conditions: &[State], timeout: Option<Duration>) -> Result<Record> {
        let c = self.get(name)?;
        let wanted: &[State] = if conditions.is_empty() { &DEFAULT_WAIT } else { conditions };
        let mut rx = c.tx.subscribe();
        drop(c);
        let removed = || Error::Removed { name: name.to_string() };
        let fut = async {
            loop {
                let rec = rx.borrow_and_update().clone();
                if wanted.contains(&rec.state) {
                    return Ok(rec);
                }
                if rec.state == State::Removing {
                    return Err(removed());
                }
                if rx.changed().await.is_err() {
                    return Err(removed());
                }
            }
        };
        match timeout {
            None => fut.await,
            Some(t) => tokio::time::timeout(t, fut).await.map_err(|_| Error::WaitTimeout {
                name: name.to_string(),
                wanted: wanted.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" or "),
                waited: t,
            })?,
        }
    }

    /// Sync: re-read the container's unit from systemd.
    pub async fn sync(&self, name: &str) -> Result<Record> {
        let (c, _g) = self.locked(name).await?;
        self.refresh(&c).await
    }
}
