//! What can go wrong while reaching into a container's file system.

use std::io;
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the files module. Container paths and archive entry names are
/// kept as the caller or the archive wrote them (lossily decoded).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("process {pid} is not running (or its pid now belongs to another process)")]
    ProcessGone { pid: i32 },

    #[error("cannot check process {pid}")]
    ProcessCheck {
        pid: i32,
        #[source]
        source: io::Error,
    },

    #[error("cannot open the container root {}", path.display())]
    OpenRoot {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("invalid container path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },

    #[error("no such file or directory in the container: {path}")]
    NotFound { path: String },

    #[error("not a directory in the container: {path}")]
    NotADirectory { path: String },

    #[error("too many levels of symbolic links, or a link the container cannot follow: {path}")]
    SymlinkLoop { path: String },

    #[error("cannot resolve {path} in the container")]
    Resolve {
        path: String,
        #[source]
        source: io::Error,
    },

    #[error("{path} changed type while it was being copied (a file swapped for a link or directory)")]
    ChangedDuringCopy { path: String },

    #[error("cannot read {path} in the container")]
    ReadFile {
        path: String,
        #[source]
        source: io::Error,
    },

    #[error("the receiver of the archive went away")]
    OutputClosed {
        #[source]
        source: io::Error,
    },

    #[error("cannot write the archive")]
    Output {
        #[source]
        source: io::Error,
    },

    #[error("cannot read the archive")]
    Input {
        #[source]
        source: io::Error,
    },

    #[error("truncated archive: the stream ended {0}")]
    TruncatedArchive(&'static str),

    #[error("invalid archive at byte {offset}: {reason}")]
    InvalidArchive { offset: u64, reason: String },

    #[error("archive entry {entry:?} would land outside the destination")]
    EntryEscapes { entry: String },

    #[error("archive entry {entry:?} goes through {link:?}, a symbolic link the same archive created")]
    EntryThroughArchiveSymlink { entry: String, link: String },

    #[error("archive entry {entry:?} is a hard link to {target:?}, outside the destination")]
    HardLinkOutside { entry: String, target: String },

    #[error("archive entry {entry:?} is a hard link to {target:?}, which {reason}")]
    BadHardLink { entry: String, target: String, reason: &'static str },

    #[error("archive entry {entry:?} would replace a directory with a non-directory")]
    WouldReplaceDirectory { entry: String },

    #[error("archive entry {entry:?} would replace a non-directory with a directory")]
    WouldReplaceNonDirectory { entry: String },

    #[error("cannot create {entry:?} in the container")]
    CreateEntry {
        entry: String,
        #[source]
        source: io::Error,
    },

    #[error("cannot set the {what} of {entry:?} in the container")]
    SetMetadata {
        entry: String,
        what: &'static str,
        #[source]
        source: io::Error,
    },

    #[error("the destination {path} is not a directory")]
    DestinationNotDirectory { path: String },

    #[error("the copy was canceled")]
    Canceled,

    #[error("invalid artifact name {name:?}: {reason}")]
    InvalidArtifactName { name: String, reason: &'static str },

    #[error("no artifact named {name:?}")]
    NoSuchArtifact { name: String },

    #[error("artifact store {}: cannot {what}", path.display())]
    ArtifactIo {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The error for a failed write of the archive: a closed receiver is its
    /// own case so the caller can tell "they hung up" from a real failure.
    pub(crate) fn output(source: io::Error) -> Self {
        if source.kind() == io::ErrorKind::BrokenPipe || source.raw_os_error() == Some(nix::libc::ECONNRESET) {
            Error::OutputClosed { source }
        } else {
            Error::Output { source }
        }
    }

    /// The error for resolving `path`, from the errno openat2 gave.
    pub(crate) fn resolve(path: &str, errno: nix::errno::Errno) -> Self {
        use nix::errno::Errno;
        let path = path.to_string();
        match errno {
            Errno::ENOENT => Error::NotFound { path },
            Errno::ENOTDIR => Error::NotADirectory { path },
            Errno::ELOOP => Error::SymlinkLoop { path },
            e => Error::Resolve { path, source: e.into() },
        }
    }
}
