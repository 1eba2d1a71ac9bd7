//! Where berth's durable state lives under the state root (default
//! /var/lib/berth): the one definition that berthd and berth-monitor (for
//! file-defined containers) share. [`super::RunLayout`] is its sibling for
//! the volatile run root.
//!
//! ```text
//! containers/<name>.json   one record per container (Record)
//! images/                  the image store (crate::image::ImageStore)
//! volumes/<name>/          named volumes (crate::image::VolumeStore)
//! layers/<id>/             a container's own writable layer: upper/ and work/
//!                          of its overlay root (crate::image::ContainerLayer);
//!                          made at its first init, removed with the container
//! ```

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateLayout {
    root: PathBuf,
}

impl StateLayout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StateLayout { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn containers_dir(&self) -> PathBuf {
        self.root.join("containers")
    }

    /// The image store's root.
    pub fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    /// The volume store's root.
    pub fn volumes_dir(&self) -> PathBuf {
        self.root.join("volumes")
    }

    /// Where every container's writable layer lives.
    pub fn layers_dir(&self) -> PathBuf {
        self.root.join("layers")
    }

    /// Container `id`'s writable layer (the upper and work directories of
    /// its overlay root).
    pub fn layer_dir(&self, id: &str) -> PathBuf {
        self.layers_dir().join(id)
    }
}
