//! Unmount: release a Mount, as podman's rules have it: one mount, or with
//! force every one; the root itself goes when nothing holds it any more,
//! and never while the container runs.

use super::super::Engine;
use crate::model::{Error, EventKind, Result, Verb};

impl Engine {
    /// Unmount(name, force).
    pub async fn unmount(&self, name: &str, force: bool) -> Result<()> {
        let (c, _g) = self.locked(name).await?;
        let mut rec = self.refresh(&c).await?;
        rec.state.check(Verb::Mount, name)?;
        if rec.state.is_live() && rec.mounts == 0 {
            return Err(Error::RootInUse { name: name.to_string(), state: rec.state });
        }
        let before = rec.mounts;
        rec.mounts = if force { 0 } else { rec.mounts.saturating_sub(1) };
        if rec.mounts != before {
            self.commit(&c, rec.clone()).await?;
            self.crash_point("unmount: count recorded").await;
        }
        if rec.image_id.is_some() && rec.mounts == 0 && !rec.state.is_live() {
            self.unmount_root(&rec).await?;
        }
        self.emit(&rec, EventKind::Unmount);
        Ok(())
    }
}
