//! berth's image store (layout documented as it is built).

pub mod compression;
pub mod config;
pub mod digest;
pub mod error;
pub mod export;
mod fsat;
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

pub use error::{Error, Result};
pub use export::export_tree;
pub use config::{ExposedPort, ImageConfig, Protocol};
pub use digest::Digest;
pub use import::{Format, ImportOptions};
pub use reference::ImageName;
pub use user::{resolve_user, ResolvedUser};
pub use volume::{Volume, VolumeStore};
pub use overlay::{ContainerLayer, MountApi};
pub use store::{Image, ImageInspect, ImageRecord, ImageStore, Removal};

#[cfg(test)]
mod store_tests;
