//! Pause and Unpause: the container's processes frozen (not its monitor).

use super::super::Engine;
use crate::model::{EventKind, Result, State, Verb};
use crate::store::Record;

impl Engine {
    pub async fn pause(&self, name: &str) -> Result<Record> {
        let (c, _g) = self.locked(name).await?;
        let mut rec = self.refresh(&c).await?;
        rec.state.check(Verb::Pause, name)?;
        self.inner.units.freeze(&rec.unit_name()).await?;
        self.crash_point("pause: frozen").await;
        rec.state = State::Paused;
        self.commit(&c, rec.clone()).await?;
        self.emit(&rec, EventKind::Pause);
        Ok(rec)
    }

    pub async fn unpause(&self, name: &str) -> Result<Record> {
        let (c, _g) = self.locked(name).await?;
        let mut rec = self.refresh(&c).await?;
        rec.state.check(Verb::Unpause, name)?;
        self.inner.units.thaw(&rec.unit_name()).await?;
        self.crash_point("unpause: thawed").await;
        rec.state = State::Running;
        self.commit(&c, rec.clone()).await?;
        self.emit(&rec, EventKind::Unpause);
        Ok(rec)
    }
}
