//! Images: importing them from files (no registry), storing them by
//! content, unpacking their layers safely, and giving containers overlay
//! root file systems and named volumes.
//!
//! # What the engine calls
//! - [`ImageStore::open`], then [`ImageStore::import_path`] (an OCI layout
//!   directory, an oci-archive, a docker-archive, a root file system
//!   tarball, detected) or [`ImageStore::import_reader`] (the same from a
//!   stream, spooled into the store);
//! - [`ImageStore::resolve`] (podman's lookup rules), [`ImageStore::list`],
//!   [`ImageStore::inspect`], [`ImageStore::tag`], [`ImageStore::untag`],
//!   [`ImageStore::remove`];
//! - [`ImageStore::layer_dirs`] (overlay's lower directories, top first) and
//!   [`ImageStore::config`] (the typed [`ImageConfig`]);
//! - [`ContainerLayer`]: a container's `upper` and `work` directories and
//!   the overlay mount; [`resolve_user`] inside a mounted root;
//!   [`export_tree`]; [`VolumeStore`].
//!
//! # On disk
//! Under the root given to [`ImageStore::open`] (berthd: `<state_root>/images`):
//! ```text
//! lock                   flock(2) taken by every writer (imports, tag, untag, remove)
//! index.json             {"names": {"localhost/web:latest": "<id>", ...}}: every name, one
//!                        atomic write (temporary + fsync + rename + fsync of the directory)
//! images/<id>.json       one record per image (ImageRecord): manifest digest, created, size,
//!                        platform, diffIDs; <id> is the config's sha256. Written last: an
//!                        image exists exactly when its record does.
//! blobs/sha256/<hex>     the manifests and configs, by digest
//! layers/<diffid hex>/   each layer unpacked once, as overlayfs reads a lower directory
//!                        (whiteouts as 0:0 character devices, opaque directories marked with
//!                        trusted.overlay.opaque=y), shared by every image that has it
//! tmp/                   staging: spooled archives, layers being unpacked, blobs being
//!                        written; cleared when the store is opened with no writer at work
//! ```
//! Compressed layer blobs are not kept: a layer is verified (blob digest
//! and diffID) while it is unpacked, and lives on only unpacked.
//!
//! A [`ContainerLayer`] lives where the caller puts it (`<root>/upper`,
//! `<root>/work`); a [`VolumeStore`] keeps `<root>/<name>/_data` and
//! `<root>/<name>/volume.json`.
//!
//! # Crash safety
//! An import stages everything under `tmp/`, renames layers and blobs into
//! place, syncs the file system, writes the image records, and last the
//! name index. Killed at any point, it leaves no record of a partial image;
//! the next [`ImageStore::open`] removes the staging files and any layer or
//! blob no record uses, and drops names of images that do not exist.

pub mod compression;
pub mod config;
pub mod digest;
pub mod error;
pub mod export;
pub(crate) mod fsat;
pub mod import;
mod lock;
pub mod overlay;
pub mod reference;
pub mod store;
pub mod tree;
pub mod unpack;
pub mod user;
pub mod volume;
mod walk;

pub use config::{ExposedPort, ImageConfig, Protocol};
pub use digest::Digest;
pub use error::{Error, Result};
pub use export::export_tree;
pub use import::{Format, ImportOptions};
pub use overlay::{ContainerLayer, MountApi};
pub use reference::ImageName;
pub use store::{Image, ImageInspect, ImageRecord, ImageStore, Removal};
pub use user::{resolve_user, ResolvedUser};
pub use volume::{Volume, VolumeStore};

#[cfg(test)]
mod store_tests;
