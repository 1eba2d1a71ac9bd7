//! Files in containers: path resolution inside a container's root, `stat`,
//! copying tar streams out of and into containers, and artifacts.
//!
//! # Security model
//! The container is hostile: while a copy runs it may rename, replace or
//! swap any file, directory or symlink in its file system. berth is immune
//! to that by construction, not by checks:
//! - the container's root is held as a directory fd ([`ContainerRoot`]),
//!   for a running container `/proc/PID/root` verified against a pidfd;
//! - every path is resolved by the kernel with `openat2(root,
//!   RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`: symlinks resolve as the
//!   container sees them (`/var/run -> /run` works) and nothing, not `..`,
//!   not an absolute link, not `/proc/self/root`, leaves the root;
//! - trees are walked and created with fds relative to already opened
//!   parents, the last component never followed (`O_NOFOLLOW`, `O_EXCL`,
//!   `*at` calls on the parent fd);
//! - no chroot, no helper binary from the container, no name-service
//!   lookups: owner names come from the container's own `/etc/passwd` and
//!   `/etc/group` read through the root fd ([`Accounts`]).
//!
//! (docker's CVE-2018-15664 and podman's CVE-2019-10152 followed symlinks on
//! the host between a check and its use; CVE-2019-14271 ran a helper that
//! loaded the container's libraries; CVE-2019-18466 expanded globs on the
//! host. None of those steps exists here; `tests/files_race.rs` swaps links
//! under running copies to prove it.)
//!
//! # Pausing
//! libpod's copy calls take `pause`: the engine freezes the container's unit
//! around the copy when it is set, for a consistent snapshot of a busy file
//! system. These functions need nothing from it: they are safe (and used)
//! against a running container, and a frozen one simply does not race.
//!
//! # Blocking
//! Everything here is blocking file I/O: async callers run it in
//! `spawn_blocking`, and cancel through the flag.

mod archive_read;
mod archive_write;
mod artifact;
mod copy_in;
mod copy_out;
mod error;
mod passwd;
mod resolve;
mod root;
mod stat;
mod xattr;

pub use artifact::{validate_artifact_name, ArtifactStore};
pub use copy_in::{copy_in, CopyInOptions, Ownership};
pub use copy_out::{copy_out, CopyStats};
pub use error::{Error, Result};
pub use passwd::Accounts;
pub use root::ContainerRoot;
pub use stat::{go_file_mode, go_mode, stat, FileInfo};

#[cfg(test)]
mod copy_tests;
