//! Stat: one path in a container, as the container sees it.

use super::super::files::files_error;
use super::super::Engine;
use crate::model::{FileInfo, Result};

impl Engine {
    /// Stat(name, path, follow): what is at `path` in the container,
    /// running or not; with `follow`, a symlink at `path` is followed (as
    /// the container resolves it) and `LinkTarget` says where it led.
    pub async fn stat(&self, name: &str, path: &str, follow: bool) -> Result<FileInfo> {
        let (path, n) = (path.to_string(), name.to_string());
        let i = self.with_root(name, false, move |root, _| crate::files::stat(root, &path, follow).map_err(|e| files_error(&n, e))).await?;
        Ok(FileInfo {
            name: i.name,
            size: i.size,
            mode: i.mode,
            unix_mode: i.unix_mode,
            uid: i.uid,
            gid: i.gid,
            mtime_secs: i.mtime_secs,
            mtime_nanos: i.mtime_nanos,
            is_dir: i.is_dir,
            link_target: i.link_target,
        })
    }
}
