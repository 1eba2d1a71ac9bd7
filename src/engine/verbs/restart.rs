//! Restart.

use super::super::Engine;
use super::check_timeout;
use crate::model::{EventKind, Result, Verb};
use crate::store::Record;

impl Engine {
    /// Restart(timeout): stop if live, then start; dependencies must run.
    pub async fn restart(&self, name: &str, timeout: Option<u32>) -> Result<Record> {
        check_timeout(timeout)?;
        let (c, _g) = self.locked(name).await?;
        let mut rec = self.refresh(&c).await?;
        rec.state.check(Verb::Restart, name)?;
        let deps = self.ensure_dependencies(&rec, false).await?;
        if rec.state.is_live() {
            rec = self.stop_locked(&c, rec, timeout).await?;
        }
        self.crash_point("restart: stopped").await;
        let rec = self.start_locked(&c, rec, deps, false).await?;
        self.emit(&rec, EventKind::Restart);
        Ok(rec)
    }
}
