//! Stop.

use super::super::{Container, Engine};
use super::check_timeout;
use crate::model::{Error, EventKind, Result, State, Verb};
use crate::store::Record;

impl Engine {
    /// Stop(timeout): the container's stop signal, SIGKILL after the timeout
    /// (the container's own when None).
    pub async fn stop(&self, name: &str, timeout: Option<u32>) -> Result<Record> {
        check_timeout(timeout)?;
        let (c, _g) = self.locked(name).await?;
        let rec = self.refresh(&c).await?;
        rec.state.check(Verb::Stop, name)?;
        self.stop_locked(&c, rec, timeout).await
    }

    pub(super) async fn stop_locked(&self, c: &Container, mut rec: Record, timeout: Option<u32>) -> Result<Record> {
        let unit = rec.unit_name();
        if rec.state == State::Created {
            rec.state = State::Stopped;
            self.commit(c, rec.clone()).await?;
            self.emit(&rec, EventKind::Stop);
            return Ok(rec);
        }
        if rec.state == State::Paused {
            // The monitor thaws it too on a stop request; this makes the
            // stop signal arrive at once.
            self.inner.units.thaw(&unit).await?;
        }
        self.set_stop_timeout(&rec, timeout).await?;
        rec.stopped_by_user = true;
        rec.state = State::Stopping;
        self.commit(c, rec.clone()).await?;
        self.crash_point("stop: stopping recorded").await;
        let result = self.inner.units.stop(&unit).await?;
        self.crash_point("stop: unit stopped").await;
        let rec = self.refresh(c).await?;
        if rec.state.is_live() {
            return Err(Error::systemd(format!("stopping {unit} ended with job result {result}, the unit still runs")));
        }
        self.emit(&rec, EventKind::Stop);
        Ok(rec)
    }
}
