//! Mount: the container's root file system on the host, for the caller.

use super::super::Engine;
use crate::model::{EventKind, Result, Verb};
use std::path::PathBuf;

impl Engine {
    /// Mount(name): mount the container's root (a Rootfs container's is its
    /// directory) and count the mount, which then holds it until an
    /// Unmount releases it; returns its path on the host.
    pub async fn mount(&self, name: &str) -> Result<PathBuf> {
        let (c, _g) = self.locked(name).await?;
        let mut rec = self.refresh(&c).await?;
        rec.state.check(Verb::Mount, name)?;
        let path = self.mount_root(&rec).await?;
        self.crash_point("mount: root mounted").await;
        rec.mounts = rec.mounts.saturating_add(1);
        self.commit(&c, rec.clone()).await?;
        self.emit(&rec, EventKind::Mount);
        Ok(path)
    }
}
