//! Cleanup.

use super::super::{blocking, Engine};
use crate::model::{EventKind, Result, State, Verb};
use crate::store::Record;

impl Engine {
    /// Cleanup: release runtime leftovers and reset the unit.
    pub async fn cleanup(&self, name: &str) -> Result<Record> {
        let (c, _g) = self.locked(name).await?;
        let mut rec = self.refresh(&c).await?;
        rec.state.check(Verb::Cleanup, name)?;
        if rec.state == State::Stopping {
            return Ok(rec);
        }
        self.inner.units.reset_failed(&rec.unit_name()).await?;
        self.crash_point("cleanup: unit reset").await;
        let (store, id) = (self.inner.store.clone(), rec.id.clone());
        blocking(move || store.remove_runtime_data(&id)).await?;
        self.crash_point("cleanup: runtime data removed").await;
        self.release_network(&rec, false).await?;
        self.crash_point("cleanup: network torn down").await;
        if rec.image_id.is_some() && rec.mounts == 0 {
            self.unmount_root(&rec).await?;
            self.crash_point("cleanup: root unmounted").await;
        }
        if matches!(rec.state, State::Stopped | State::Created) {
            rec.state = if rec.state == State::Created { State::Configured } else { State::Exited };
        }
        self.commit(&c, rec.clone()).await?;
        self.emit(&rec, EventKind::Cleanup);
        Ok(rec)
    }
}
