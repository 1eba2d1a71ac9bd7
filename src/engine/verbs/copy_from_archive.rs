//! CopyFromArchive: a tar stream read from the caller's descriptor,
//! extracted under a directory in the container, running or stopped.

use super::super::files::{check_readable, detached, fd_path, files_error, watch, CallerReader};
use super::super::Engine;
use crate::files::{ContainerRoot, CopyInOptions, Ownership};
use crate::model::{CopyOptions, Error, Result};
use crate::store::Record;
use std::fs::File;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

impl Engine {
    /// CopyFromArchive(name, path, fd, options): extract the tar stream
    /// read from `input` to its end under `path`, which must be a
    /// directory. With `pause`, a running container is frozen during the
    /// copy and thawed after, whatever happens; with `chown`, what is
    /// extracted belongs to the container's user. Returns the bytes read.
    pub async fn copy_from_archive(&self, name: &str, path: &str, input: File, o: &CopyOptions) -> Result<u64> {
        check_readable(&input)?;
        let rec = self.inspect(name)?;
        // The user as the container runs it: its own, else its image's.
        let image_user = match o.chown {
            true => self.image_config(&rec).await?.and_then(|c| c.user),
            false => None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, name, path, flag) = (self.clone(), name.to_string(), path.to_string(), stop.clone());
        let mut opts =
            CopyInOptions { owner: Ownership::FromArchive, no_overwrite_dir_nondir: o.no_overwrite_dir_nondir, rename: o.rename.clone() };
        let (chown, pause) = (o.chown, o.pause);
        detached(stop, async move {
            let stats = engine
                .with_root(&name, pause, move |root, rec| {
                    if chown {
                        let (uid, gid) = container_user(root, rec, image_user.as_deref())?;
                        opts.owner = Ownership::Fixed { uid, gid };
                    }
                    let input = std::io::BufReader::with_capacity(1 << 20, CallerReader::new(input, flag.clone(), watch(root)?)?);
                    crate::files::copy_in(root, &path, input, &opts, &flag).map_err(|e| files_error(rec.name.as_str(), e))
                })
                .await?;
            engine.crash_point("copy in: extracted").await;
            Ok(stats.bytes)
        })
        .await
    }
}

/// The container's user and group, names resolved in its own passwd and
/// group files, read through its root (never the host's name service).
fn container_user(root: &ContainerRoot, rec: &Record, image_user: Option<&str>) -> Result<(u32, u32)> {
    if let Some((uid, gid)) = rec.spec.user {
        return Ok((uid, gid));
    }
    let Some(user) = rec.spec.user_name.as_deref().or(image_user) else { return Ok((0, 0)) };
    let u = crate::image::resolve_user(&fd_path(root), user).map_err(Error::from)?;
    Ok((u.uid, u.gid))
}
