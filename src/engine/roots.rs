//! Containers' root file systems. A container made from an image gets an
//! overlay: the image's layers (shared, read only) under its own writable
//! layer (`StateLayout::layer_dir`), mounted at `RunLayout::root_mount`
//! when it is initialized or started and unmounted at cleanup and removal;
//! its changes stay in its layer across stop and start until it is
//! removed. Every step checks what is there first (the mount table, the
//! layer directory), so each may be repeated after a crash.
//!
//! Mounting sits behind [`Mounts`] so that the engine's unit tests run
//! without mounting anything.

use super::{blocking, Engine, Inner};
use crate::image::{ContainerLayer, ImageConfig};
use crate::model::{Error, Result, State};
use crate::store::Record;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The mount calls the engine makes.
pub trait Mounts: Send + Sync + 'static {
    /// Mount the overlay of `lowers` (top first) under `layer` on
    /// `target`; already mounted there, nothing happens.
    fn mount(&self, layer: &ContainerLayer, lowers: &[PathBuf], target: &Path) -> Result<()>;
    /// Unmount `target`; not mounted is fine.
    fn unmount(&self, target: &Path) -> Result<()>;
    fn is_mounted(&self, target: &Path) -> Result<bool>;
}

/// The real thing: overlayfs, with the mount table as the record of what
/// is mounted.
pub struct Overlay;

impl Mounts for Overlay {
    fn mount(&self, layer: &ContainerLayer, lowers: &[PathBuf], target: &Path) -> Result<()> {
        Ok(layer.mount(lowers, target)?)
    }
    fn unmount(&self, target: &Path) -> Result<()> {
        Ok(ContainerLayer::unmount(target)?)
    }
    fn is_mounted(&self, target: &Path) -> Result<bool> {
        Ok(ContainerLayer::is_mounted(target)?)
    }
}

/// Whether the container's root must stay mounted: it is initialized or
/// runs, or a Mount holds it.
pub(crate) fn root_needed(rec: &Record) -> bool {
    matches!(rec.state, State::Created | State::Running | State::Paused | State::Stopping) || rec.mounts > 0
}

impl Engine {
    /// The container's root on the host, mounted if it is made from an
    /// image (its writable layer made at the first call); a Rootfs
    /// container's directory is checked.
    pub(crate) async fn mount_root(&self, rec: &Record) -> Result<PathBuf> {
        let Some(id) = rec.image_id.clone() else {
            let root = rec.spec.rootfs.clone();
            return blocking(move || {
                if !root.is_dir() {
                    return Err(Error::invalid("Rootfs", format!("{} is not a directory", root.display())));
                }
                Ok(root)
            })
            .await;
        };
        let (inner, cid) = (self.inner.clone(), rec.id.clone());
        blocking(move || {
            let image = pinned(&inner, &id)?;
            let dir = inner.store.state_layout().layer_dir(&cid);
            let layer = match ContainerLayer::open(&dir) {
                Ok(l) => l,
                Err(crate::image::Error::NotAContainerLayer { .. }) if !dir.exists() => ContainerLayer::create(&dir)?,
                Err(e) => return Err(e.into()),
            };
            let target = inner.store.layout().root_mount(&cid);
            inner.config.mounts.mount(&layer, &image.layers, &target)?;
            Ok(target)
        })
        .await
    }

    /// Unmount a container's root (nothing for a Rootfs container).
    pub(crate) async fn unmount_root(&self, rec: &Record) -> Result<()> {
        if rec.image_id.is_none() {
            return Ok(());
        }
        let (inner, id) = (self.inner.clone(), rec.id.clone());
        blocking(move || {
            let target = inner.store.layout().root_mount(&id);
            inner.config.mounts.unmount(&target)?;
            // The empty mount point; a busy one is left for the next sweep.
            let _ = std::fs::remove_dir(&target);
            Ok(())
        })
        .await
    }

    /// Remove the container's writable layer, and with it every change it
    /// made. Unmount first.
    pub(crate) async fn delete_layer(&self, rec: &Record) -> Result<()> {
        let dir = self.inner.store.state_layout().layer_dir(&rec.id);
        blocking(move || match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", &dir, e)),
            _ => Ok(()),
        })
        .await
    }

    /// The image config of a container made from an image.
    pub(crate) async fn image_config(&self, rec: &Record) -> Result<Option<ImageConfig>> {
        let Some(id) = rec.image_id.clone() else { return Ok(None) };
        let inner = self.inner.clone();
        blocking(move || Ok(Some(pinned(&inner, &id)?.config.clone()))).await
    }

    /// After a crash: unmount the roots of containers that no longer need
    /// them (a start killed between mount and unit), and remove the writable
    /// layers and mount points of containers that no longer exist.
    pub(crate) async fn sweep_roots(&self) -> Result<()> {
        for c in self.containers() {
            let _g = c.op.lock().await;
            let rec = c.record();
            if rec.image_id.is_some() && rec.state == State::Configured && !root_needed(&rec) {
                self.unmount_root(&rec).await?;
            }
        }
        let ids: HashSet<String> = self.containers().iter().map(|c| c.record().id).collect();
        let inner = self.inner.clone();
        blocking(move || {
            let layers = inner.store.state_layout().layers_dir();
            let roots = inner.store.layout().roots_dir();
            for id in dir_names(&roots)?.into_iter().filter(|n| !ids.contains(n)) {
                let target = roots.join(&id);
                if !inner.config.mounts.is_mounted(&target)? {
                    let _ = std::fs::remove_dir(&target);
                }
            }
            for name in dir_names(&layers)? {
                // What an interrupted ContainerLayer::create left.
                if name.starts_with('.') && name.ends_with(".tmp") {
                    let _ = std::fs::remove_dir_all(layers.join(&name));
                }
            }
            for id in dir_names(&layers)?.into_iter().filter(|n| !ids.contains(n) && crate::model::validate_id(n)) {
                // A file-defined container whose file is gone may still run
                // on it: only an unmounted layer goes.
                if inner.config.mounts.is_mounted(&roots.join(&id))? {
                    tracing::warn!("the layer of container {id} is mounted but the container is gone; left in place");
                    continue;
                }
                let dir = layers.join(&id);
                std::fs::remove_dir_all(&dir).map_err(Error::io_at("remove", &dir))?;
            }
            Ok(())
        })
        .await
    }
}

/// What starting a container needs of its image, kept in memory: an
/// image's id is the digest of its config, so neither changes while the
/// image exists.
pub(crate) struct Pinned {
    /// Overlay's lower directories, top layer first.
    pub layers: Vec<PathBuf>,
    pub config: ImageConfig,
}

/// The image `id` (a full id), from the cache while its record exists.
fn pinned(inner: &Inner, id: &str) -> Result<Arc<Pinned>> {
    let cached = inner.image_cache.lock().unwrap().get(id).cloned();
    if let Some(p) = cached {
        if inner.images.has_image(id) {
            return Ok(p);
        }
    }
    let image = inner.images.resolve(id).map_err(|e| match e {
        crate::image::Error::ImageNotFound { .. } => Error::NoSuchImage { reference: id.to_string() },
        e => e.into(),
    })?;
    let p = Arc::new(Pinned { layers: inner.images.layer_dirs(&image), config: inner.images.config(&image)? });
    let mut cache = inner.image_cache.lock().unwrap();
    // Only images containers use are asked for: few; keep it bounded anyway.
    if cache.len() >= 256 {
        cache.clear();
    }
    cache.insert(id.to_string(), p.clone());
    Ok(p)
}

fn dir_names(dir: &Path) -> Result<Vec<String>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Ok(entries.flatten().filter_map(|e| e.file_name().to_str().map(str::to_string)).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io("read", dir, e)),
    }
}

impl Engine {
    /// Whether a container made from an image has its root mounted now
    /// (a Rootfs container's always "is").
    pub(crate) async fn root_is_mounted(&self, rec: &Record) -> Result<bool> {
        if rec.image_id.is_none() {
            return Ok(true);
        }
        self.root_mounted(&rec.id).await
    }

    /// Whether something is mounted at container `id`'s root mount point.
    pub(crate) async fn root_mounted(&self, id: &str) -> Result<bool> {
        let (inner, id) = (self.inner.clone(), id.to_string());
        blocking(move || inner.config.mounts.is_mounted(&inner.store.layout().root_mount(&id))).await
    }
}
