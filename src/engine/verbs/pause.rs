//! Pause and Unpause: the container's processes frozen (not its monitor).

use super::super::{Container, Engine};
use crate::model::{Error, EventKind, Result, State, Verb};
use crate::store::Record;

impl Engine {
    pub async fn pause(&self, name: &str) -> Result<Record> {
        let (c, _g) = self.locked(name).await?;
        let mut rec = self.refresh(&c).await?;
        rec.state.check(Verb::Pause, name)?;
        if let Err(e) = self.inner.units.freeze(&rec.unit_name()).await {
            return Err(self.gone_meanwhile(&c, Verb::Pause, name, e).await);
        }
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
        if let Err(e) = self.inner.units.thaw(&rec.unit_name()).await {
            return Err(self.gone_meanwhile(&c, Verb::Unpause, name, e).await);
        }
        self.crash_point("unpause: thawed").await;
        rec.state = State::Running;
        self.commit(&c, rec.clone()).await?;
        self.emit(&rec, EventKind::Unpause);
        Ok(rec)
    }

    /// The error for a freeze or thaw that failed: when the container ended
    /// meanwhile, the verb's InvalidState, as had it ended before the call;
    /// else `e`. Its end shows in its unit's state, or, while its monitor
    /// still finishes (records the exit, tears the network down) and the
    /// unit is still active, in its payload's cgroup being gone: stopping.
    async fn gone_meanwhile(&self, c: &Container, verb: Verb, name: &str, e: Error) -> Error {
        let now = match self.refresh(c).await {
            Ok(now) => now,
            Err(r) => return r,
        };
        if let Err(invalid) = now.state.check(verb, name) {
            return invalid;
        }
        match &e {
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Error::InvalidState { name: name.to_string(), state: State::Stopping, verb }
            }
            _ => e,
        }
    }
}
