//! Remove. The record says `removing` before anything is undone, so that a
//! removal interrupted at any step is finished when berthd starts again.

use super::super::{blocking, phase, Container, Engine, UnitPhase};
use super::check_timeout;
use crate::model::{Error, EventKind, Result, State, Verb};

impl Engine {
    /// Remove(force, timeout): stop first when forced, then forget it.
    pub async fn remove(&self, name: &str, force: bool, timeout: Option<u32>) -> Result<()> {
        check_timeout(timeout)?;
        let (c, _g) = self.locked(name).await?;
        let mut rec = self.refresh(&c).await?;
        rec.state.check(if force { Verb::ForceRemove } else { Verb::Remove }, name)?;
        if let Some(src) = &rec.source {
            return Err(Error::FileDefined { name: name.to_string(), file: src.clone() });
        }
        let dependents = self.dependents(&rec.name);
        if !dependents.is_empty() {
            return Err(Error::HasDependents { name: name.to_string(), dependents });
        }
        if rec.state.is_live() {
            self.set_stop_timeout(&rec, timeout).await?;
            rec.stopped_by_user = true;
        }
        rec.state = State::Removing;
        self.commit(&c, rec).await?;
        self.crash_point("remove: removing recorded").await;
        self.finish_removal(&c).await
    }

    /// Undo whatever is left of a container whose record says `removing`:
    /// its unit (stopped if it still runs), its root (unmounted) and
    /// writable layer, its anonymous volumes, runtime data and record. Each
    /// step may be done already; the caller holds the lock.
    pub(crate) async fn finish_removal(&self, c: &Container) -> Result<()> {
        let rec = c.record();
        let unit = rec.unit_name();
        let units = &self.inner.units;
        if phase(units.status(&unit).await?.as_ref()) != UnitPhase::Down {
            // A paused container must be thawed for its stop signal.
            let _ = units.thaw(&unit).await;
            units.stop(&unit).await?;
            self.crash_point("remove: unit stopped").await;
        }
        units.reset_failed(&unit).await?;
        self.crash_point("remove: unit reset").await;
        self.stop_health_units(&rec).await?;
        if rec.image_id.is_some() {
            self.unmount_root(&rec).await?;
            self.crash_point("remove: root unmounted").await;
            self.delete_layer(&rec).await?;
            self.crash_point("remove: layer removed").await;
        }
        if rec.spec.volumes.iter().any(|v| v.anonymous) {
            self.remove_anonymous_volumes(&rec).await?;
            self.crash_point("remove: anonymous volumes removed").await;
        }
        let (store, id, name) = (self.inner.store.clone(), rec.id.clone(), rec.name.clone());
        blocking(move || store.remove_runtime_data(&id)).await?;
        self.crash_point("remove: runtime data removed").await;
        self.remove_artifacts(&rec.id).await?;
        self.crash_point("remove: artifacts removed").await;
        self.release_network(&rec, true).await?;
        self.crash_point("remove: network released").await;
        let store = self.inner.store.clone();
        blocking(move || store.delete(&name)).await?;
        self.unregister(rec.name.as_str());
        // Waiters and property followers learn it from the channel.
        c.tx.send_replace(rec.clone());
        self.emit(&rec, EventKind::Remove);
        Ok(())
    }
}
