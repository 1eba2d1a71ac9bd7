//! The image module's errors: one variant for each thing that can go wrong,
//! with the paths, digests and names a user needs to understand it.

use super::digest::Digest;
use std::io;
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    // --- archives and blobs
    #[error("cannot tell what kind of image archive {} is (not an OCI layout, oci-archive, docker-archive or tar file)", path.display())]
    UnknownFormat { path: PathBuf },
    #[error("importing a root file system tarball needs an image name")]
    RootfsNeedsName,
    #[error("the archive holds {count} images; a name can be given only for an archive with one")]
    NameForSeveralImages { count: usize },
    #[error("the archive holds no image")]
    NoImage,
    #[error("the archive is truncated: {what} is cut short")]
    Truncated { what: String },
    #[error("the archive is not a valid tar file")]
    MalformedArchive {
        #[source]
        source: io::Error,
    },
    #[error("malformed {what}")]
    MalformedJson {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("malformed {what}: {reason}")]
    MalformedMetadata { what: String, reason: String },
    #[error("blob {digest} is missing from the archive")]
    MissingBlob { digest: Digest },
    #[error("{path} is missing from the archive")]
    MissingFile { path: String },
    #[error("{what} {expected} has the wrong content: its digest is {actual}")]
    DigestMismatch { what: &'static str, expected: Digest, actual: Digest },
    #[error("{what} {digest} has {actual} bytes, its descriptor says {expected}")]
    SizeMismatch { what: &'static str, digest: Digest, expected: u64, actual: u64 },
    #[error("layer {index} unpacks to {actual}, the image config says its diffID is {expected}")]
    DiffIdMismatch { index: usize, expected: Digest, actual: Digest },
    #[error("the manifest lists {layers} layers but the config lists {diff_ids} diffIDs")]
    LayerCountMismatch { layers: usize, diff_ids: usize },
    #[error("unsupported digest {digest:?}: only sha256 digests of 64 hex digits are accepted")]
    InvalidDigest { digest: String },
    #[error("unsupported media type {media_type:?}")]
    UnsupportedMediaType { media_type: String },

    // --- unpacking a layer
    #[error("layer entry {entry:?} would be written outside the layer")]
    PathEscapes { entry: String },
    #[error("layer entry {entry:?} passes through a symbolic link")]
    PathThroughSymlink { entry: String },
    #[error("layer entry {entry:?} is a hard link to {target:?}, which is outside the layer")]
    HardLinkEscapes { entry: String, target: String },
    #[error("layer entry {entry:?} is a hard link to {target:?}, which the layer does not hold")]
    HardLinkTargetMissing { entry: String, target: String },
    #[error("layer entry {entry:?} has an unsupported type {kind:#04x}")]
    UnsupportedEntryType { entry: String, kind: u8 },
    #[error("layer entry {entry:?} needs {needed} bytes but only {available} are free")]
    NoSpace { entry: String, needed: u64, available: u64 },
    #[error("layer entry {entry:?}: cannot {op}: {source}")]
    Entry {
        entry: String,
        op: &'static str,
        #[source]
        source: io::Error,
    },

    // --- the store
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference { reference: String, reason: &'static str },
    #[error("no image {reference:?}")]
    ImageNotFound { reference: String },
    #[error("{reference:?} matches more than one image: {}", candidates.join(", "))]
    AmbiguousReference { reference: String, candidates: Vec<String> },
    #[error("image {id} is in use by a container")]
    ImageInUse { id: String },
    #[error("image {id} has several names ({}); remove them by name, or force", names.join(", "))]
    ImageHasSeveralNames { id: String, names: Vec<String> },
    #[error("image {id} has no name {name:?}")]
    NameNotOnImage { id: String, name: String },
    #[error("corrupt image store file {}", path.display())]
    CorruptRecord {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    // --- overlay mounts
    #[error("an overlay mount takes at most {max} lower layers, this one has {count}")]
    TooManyLayers { count: usize, max: usize },
    #[error("an overlay mount needs at least one lower layer")]
    NoLayers,
    #[error("{} is already a mount point of something else ({fs_type})", target.display())]
    TargetBusy { target: PathBuf, fs_type: String },
    #[error("cannot mount the overlay on {}: {source}", target.display())]
    Mount {
        target: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a container layer (no upper and work directories)", path.display())]
    NotAContainerLayer { path: PathBuf },

    // --- users, config
    #[error("invalid user {user:?}")]
    InvalidUser { user: String },
    #[error("no user {user:?} in the image's /etc/passwd")]
    UnknownUser { user: String },
    #[error("no group {group:?} in the image's /etc/group")]
    UnknownGroup { group: String },
    #[error("invalid exposed port {port:?} in the image config")]
    InvalidExposedPort { port: String },

    // --- volumes
    #[error("invalid volume name {name:?}: a name is [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128 bytes")]
    InvalidVolumeName { name: String },
    #[error("volume {name:?} already exists")]
    VolumeExists { name: String },
    #[error("no volume {name:?}")]
    VolumeNotFound { name: String },
    #[error("volume {name:?} is in use by a container")]
    VolumeInUse { name: String },
}

impl Error {
    /// A closure that wraps an I/O error with what was being done and where.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }

    /// The same for a failed system call reported by nix.
    pub(crate) fn sys(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(nix::Error) -> Error {
        let path = path.into();
        move |e| Error::Io { op, path, source: io::Error::from(e) }
    }

    pub(crate) fn json(what: impl Into<String>) -> impl FnOnce(serde_json::Error) -> Error {
        let what = what.into();
        move |source| Error::MalformedJson { what, source }
    }
}

/// The text of an error and of every cause under it.
fn with_causes(e: &Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !text.contains(&c_text) {
            text.push_str(": ");
            text.push_str(&c_text);
        }
        cause = c.source();
    }
    text
}

/// How berth's API reports an image module error: a missing image or
/// volume by its own kind, an archive that cannot be imported as
/// InvalidImage, a bad name or user as InvalidArgument naming the key.
impl From<Error> for crate::model::Error {
    fn from(e: Error) -> Self {
        use crate::model::Error as M;
        let invalid = |key: &str, e: &Error| M::invalid(key, e.to_string());
        match e {
            Error::Io { op, path, source } => M::Io { action: op, path, source: std::sync::Arc::new(source) },
            Error::CorruptRecord { ref path, ref source } => {
                M::Corrupt { what: "image store file", path: path.clone(), message: source.to_string() }
            }
            Error::ImageNotFound { reference } => M::NoSuchImage { reference },
            Error::ImageInUse { id } => M::ImageInUse { image: id, containers: Vec::new() },
            Error::VolumeNotFound { name } => M::NoSuchVolume { name },
            Error::VolumeInUse { name } => M::VolumeInUse { name, containers: Vec::new() },
            Error::VolumeExists { name } => M::VolumeExists { name },
            Error::InvalidReference { .. } | Error::AmbiguousReference { .. } | Error::ImageHasSeveralNames { .. } => {
                invalid("Image", &e)
            }
            Error::RootfsNeedsName | Error::NameForSeveralImages { .. } | Error::NameNotOnImage { .. } => invalid("Name", &e),
            Error::InvalidVolumeName { .. } => invalid("Name", &e),
            Error::InvalidUser { .. } | Error::UnknownUser { .. } | Error::UnknownGroup { .. } => invalid("User", &e),
            Error::NoSpace { .. }
            | Error::TooManyLayers { .. }
            | Error::NoLayers
            | Error::TargetBusy { .. }
            | Error::Mount { .. }
            | Error::NotAContainerLayer { .. } => M::internal(with_causes(&e)),
            Error::UnknownFormat { .. }
            | Error::NoImage
            | Error::Truncated { .. }
            | Error::MalformedArchive { .. }
            | Error::MalformedJson { .. }
            | Error::MalformedMetadata { .. }
            | Error::MissingBlob { .. }
            | Error::MissingFile { .. }
            | Error::DigestMismatch { .. }
            | Error::SizeMismatch { .. }
            | Error::DiffIdMismatch { .. }
            | Error::LayerCountMismatch { .. }
            | Error::InvalidDigest { .. }
            | Error::UnsupportedMediaType { .. }
            | Error::PathEscapes { .. }
            | Error::PathThroughSymlink { .. }
            | Error::HardLinkEscapes { .. }
            | Error::HardLinkTargetMissing { .. }
            | Error::UnsupportedEntryType { .. }
            | Error::Entry { .. }
            | Error::InvalidExposedPort { .. } => M::InvalidImage { message: with_causes(&e) },
        }
    }
}
