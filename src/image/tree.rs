//! Creating a file tree entry by entry under one directory, so that nothing
//! can land outside it: every parent is opened from the directory's
//! descriptor with openat2 (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`), and the
//! final component is made with `*at` calls that do not follow it. Used to
//! unpack layers and to copy an image's content into a new volume.

use super::error::{Error, Result};
use super::fsat::{self, open_beneath};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::libc;
use nix::sys::stat::{self, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{self, Gid, Uid};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// The xattr overlayfs reads to hide a lower directory's content.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// xattrs of overlayfs itself: never taken from an archive.
pub const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";

/// Owner, permissions, time and extended attributes of an entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// Permission bits with setuid, setgid and sticky (`0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Seconds and nanoseconds since the epoch.
    pub mtime: (i64, u32),
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// What an entry is.
pub enum Node<'a> {
    File { data: &'a mut dyn Read, size: u64 },
    Dir,
    Symlink(&'a Path),
    /// A hard link to an entry already written, by its (uncleaned) path.
    HardLink(&'a Path),
    Char { major: u64, minor: u64 },
    Block { major: u64, minor: u64 },
    Fifo,
    /// overlayfs' whiteout: a 0:0 character device.
    Whiteout,
}

/// The path of an entry relative to the tree's root, as tar reads it: a
/// leading `/` and `.` are dropped, `..` goes up and may not leave the root.
pub fn clean_path(raw: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(n) => out.push(n),
        }
    }
    Some(out)
}

pub struct TreeWriter {
    root: OwnedFd,
    /// The last parent directory opened, reused while entries stay in it.
    parent: Option<(PathBuf, OwnedFd)>,
    /// Directories whose mtime is set once their content is complete.
    dir_times: Vec<(PathBuf, (i64, u32))>,
    /// Bytes still free on the file system.
    free: u64,
    buf: Vec<u8>,
}

fn ts((s, ns): (i64, u32)) -> TimeSpec {
    TimeSpec::new(s, i64::from(ns))
}

fn own(fd: i32) -> OwnedFd {
    // SAFETY: called only with a descriptor a syscall just returned, which
    // nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

const DIR_FLAGS: OFlag = OFlag::O_RDONLY.union(OFlag::O_DIRECTORY).union(OFlag::O_NOFOLLOW);

impl TreeWriter {
    /// Write below the existing directory `root`.
    pub fn new(root: &Path) -> Result<Self> {
        let fd = fsat::open_dir(root).map_err(Error::io("open", root))?;
        let free = fsat::free_bytes(&fd).map_err(Error::io("measure the free space of", root))?;
        Ok(TreeWriter { root: fd, parent: None, dir_times: Vec::new(), free, buf: vec![0; 256 * 1024] })
    }

    /// Create one entry at `path` (already cleaned, relative to the root).
    /// `entry` names it in errors. An existing entry of the same path is
    /// replaced, except that a directory stays a directory and keeps its
    /// content.
    pub fn put(&mut self, path: &Path, entry: &str, node: Node<'_>, meta: &Meta) -> Result<()> {
        let e = |op: &'static str| {
            let entry = entry.to_string();
            move |err: Errno| Error::Entry { entry, op, source: err.into() }
        };
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            // The root itself: only a directory may describe it.
            return match node {
                Node::Dir => {
                    let fd = open_beneath(&self.root, Path::new(""), DIR_FLAGS).map_err(e("open"))?;
                    self.apply_fd(&fd, entry, meta)?;
                    self.dir_times.push((PathBuf::new(), meta.mtime));
                    Ok(())
                }
                _ => Err(Error::Entry { entry: entry.into(), op: "replace the root directory", source: io::Error::from(io::ErrorKind::InvalidInput) }),
            };
        };
        let pfd = self.parent_dir(parent, entry)?;
        let p = pfd.as_raw_fd();
        match node {
            Node::File { data, size } => {
                if size > self.free {
                    return Err(Error::NoSpace { entry: entry.into(), needed: size, available: self.free });
                }
                self.free -= size;
                let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
                let open = || nix::fcntl::openat(Some(p), name, flags, Mode::from_bits_truncate(0o600));
                let fd = match open() {
                    Err(Errno::EEXIST) => {
                        self.remove_existing(&pfd, path, name, entry)?;
                        open()
                    }
                    r => r,
                }
                .map_err(e("create"))?;
                let mut f = File::from(own(fd));
                let mut left = size;
                while left > 0 {
                    let want = left.min(self.buf.len() as u64) as usize;
                    let n = match data.read(&mut self.buf[..want]) {
                        Ok(0) => return Err(Error::Truncated { what: format!("layer entry {entry:?}") }),
                        Ok(n) => n,
                        Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Err(Error::Truncated { what: format!("layer entry {entry:?}") }),
                        Err(err) => return Err(Error::MalformedArchive { source: err }),
                    };
                    f.write_all(&self.buf[..n]).map_err(|source| Error::Entry { entry: entry.into(), op: "write", source })?;
                    left -= n as u64;
                }
                self.apply_fd(&f, entry, meta)?;
                stat::futimens(f.as_raw_fd(), &ts(meta.mtime), &ts(meta.mtime)).map_err(e("set the time of"))
            }
            Node::Dir => {
                match stat::mkdirat(Some(p), name, Mode::from_bits_truncate(0o700)) {
                    Ok(()) => {}
                    Err(Errno::EEXIST) => {
                        let st = stat::fstatat(Some(p), name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(e("inspect"))?;
                        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                            self.remove_existing(&pfd, path, name, entry)?;
                            stat::mkdirat(Some(p), name, Mode::from_bits_truncate(0o700)).map_err(e("create"))?;
                        }
                    }
                    Err(err) => return Err(e("create")(err)),
                }
                let fd = nix::fcntl::openat(Some(p), name, DIR_FLAGS | OFlag::O_CLOEXEC, Mode::empty()).map_err(e("open"))?;
                self.apply_fd(&own(fd), entry, meta)?;
                self.dir_times.push((path.to_path_buf(), meta.mtime));
                Ok(())
            }
            Node::Symlink(target) => {
                self.make(&pfd, path, name, entry, |p| unistd::symlinkat(target, Some(p), name))?;
                self.apply_at(&pfd, name, entry, meta, false)
            }
            Node::HardLink(target) => {
                let fail = || Error::HardLinkEscapes { entry: entry.into(), target: target.display().to_string() };
                let t = clean_path(target).filter(|t| t.file_name().is_some()).ok_or_else(fail)?;
                let (tparent, tname) = (t.parent().unwrap_or(Path::new("")), t.file_name().unwrap_or_default());
                let tfd = match open_beneath(&self.root, tparent, DIR_FLAGS) {
                    Ok(fd) => fd,
                    Err(Errno::ENOTDIR) if self.through_symlink(tparent) => return Err(fail()),
                    Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => {
                        return Err(Error::HardLinkTargetMissing { entry: entry.into(), target: target.display().to_string() })
                    }
                    Err(_) => return Err(fail()),
                };
                let link = |p| unistd::linkat(Some(tfd.as_raw_fd()), tname, Some(p), name, AtFlags::empty());
                match self.make(&pfd, path, name, entry, link) {
                    Err(Error::Entry { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => {
                        Err(Error::HardLinkTargetMissing { entry: entry.into(), target: target.display().to_string() })
                    }
                    r => r,
                }
            }
            Node::Char { major, minor } => self.node(&pfd, path, name, entry, SFlag::S_IFCHR, stat::makedev(major, minor), meta),
            Node::Block { major, minor } => self.node(&pfd, path, name, entry, SFlag::S_IFBLK, stat::makedev(major, minor), meta),
            Node::Fifo => self.node(&pfd, path, name, entry, SFlag::S_IFIFO, 0, meta),
            Node::Whiteout => {
                let zero = Meta { mode: 0, uid: 0, gid: 0, mtime: meta.mtime, xattrs: Vec::new() };
                self.node(&pfd, path, name, entry, SFlag::S_IFCHR, 0, &zero)
            }
        }
    }

    /// Mark directory `path` opaque for overlayfs (creating it if missing).
    pub fn set_opaque(&mut self, path: &Path, entry: &str) -> Result<()> {
        let fd = self.parent_dir(path, entry)?;
        fsat::fset_xattr(&fd, OPAQUE_XATTR, b"y").map_err(|source| Error::Entry { entry: entry.into(), op: "mark opaque", source })
    }

    /// Set the directories' times, now that nothing more is written in them.
    pub fn finish(mut self) -> Result<()> {
        self.parent = None;
        for (path, mtime) in std::mem::take(&mut self.dir_times) {
            let fd = match open_beneath(&self.root, &path, DIR_FLAGS) {
                Ok(fd) => fd,
                // Replaced or removed by a later entry.
                Err(Errno::ENOENT) | Err(Errno::ENOTDIR) | Err(Errno::ELOOP) => continue,
                Err(err) => return Err(Error::Entry { entry: path.display().to_string(), op: "open", source: err.into() }),
            };
            stat::futimens(fd.as_raw_fd(), &ts(mtime), &ts(mtime))
                .map_err(|err| Error::Entry { entry: path.display().to_string(), op: "set the time of", source: err.into() })?;
        }
        Ok(())
    }

    /// Create an entry with `f`, replacing whatever held its name.
    fn make(&mut self, pfd: &OwnedFd, path: &Path, name: &OsStr, entry: &str, f: impl Fn(i32) -> nix::Result<()>) -> Result<()> {
        let p = pfd.as_raw_fd();
        match f(p) {
            Err(Errno::EEXIST) => {
                self.remove_existing(pfd, path, name, entry)?;
                f(p)
            }
            r => r,
        }
        .map_err(|err| Error::Entry { entry: entry.into(), op: "create", source: err.into() })
    }

    #[allow(clippy::too_many_arguments)]
    fn node(&mut self, pfd: &OwnedFd, path: &Path, name: &OsStr, entry: &str, kind: SFlag, dev: u64, meta: &Meta) -> Result<()> {
        self.make(pfd, path, name, entry, |p| stat::mknodat(Some(p), name, kind, Mode::from_bits_truncate(0o600), dev))?;
        self.apply_at(pfd, name, entry, meta, true)
    }

    fn remove_existing(&mut self, pfd: &OwnedFd, path: &Path, name: &OsStr, entry: &str) -> Result<()> {
        if self.parent.as_ref().is_some_and(|(cached, _)| cached.starts_with(path)) {
            self.parent = None;
        }
        fsat::remove_tree_at(pfd, name).map_err(|source| Error::Entry { entry: entry.into(), op: "replace", source })
    }

    /// Owner, then mode (chown clears setuid and setgid), then xattrs
    /// (chown clears security.capability) of an open file or directory.
    fn apply_fd(&self, fd: &impl AsRawFd, entry: &str, meta: &Meta) -> Result<()> {
        let e = |op: &'static str| move |err: Errno| Error::Entry { entry: entry.into(), op, source: err.into() };
        unistd::fchown(fd.as_raw_fd(), Some(Uid::from_raw(meta.uid)), Some(Gid::from_raw(meta.gid))).map_err(e("change the owner of"))?;
        stat::fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(meta.mode & 0o7777)).map_err(e("change the mode of"))?;
        for (k, v) in meta.xattrs.iter().filter(|(k, _)| !k.starts_with(OVERLAY_XATTR_PREFIX)) {
            fsat::fset_xattr(fd, k, v).map_err(|source| Error::Entry { entry: entry.into(), op: "set an xattr of", source })?;
        }
        Ok(())
    }

    /// The same for an entry that is not opened: a symbolic link, a device
    /// or a fifo.
    fn apply_at(&self, pfd: &OwnedFd, name: &OsStr, entry: &str, meta: &Meta, chmod: bool) -> Result<()> {
        let e = |op: &'static str| move |err: Errno| Error::Entry { entry: entry.into(), op, source: err.into() };
        let p = Some(pfd.as_raw_fd());
        unistd::fchownat(p, name, Some(Uid::from_raw(meta.uid)), Some(Gid::from_raw(meta.gid)), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(e("change the owner of"))?;
        if chmod {
            // Not a symbolic link (made just now), so following is safe.
            stat::fchmodat(p, name, Mode::from_bits_truncate(meta.mode & 0o7777), stat::FchmodatFlags::FollowSymlink).map_err(e("change the mode of"))?;
        }
        for (k, v) in meta.xattrs.iter().filter(|(k, _)| !k.starts_with(OVERLAY_XATTR_PREFIX)) {
            fsat::lset_xattr_at(pfd, name, k, v).map_err(|source| Error::Entry { entry: entry.into(), op: "set an xattr of", source })?;
        }
        stat::utimensat(p, name, &ts(meta.mtime), &ts(meta.mtime), UtimensatFlags::NoFollowSymlink).map_err(e("set the time of"))
    }

    /// Open directory `path` below the root, creating missing components as
    /// root-owned 0755 directories, as tar does.
    fn parent_dir(&mut self, path: &Path, entry: &str) -> Result<OwnedFd> {
        if let Some((cached, fd)) = &self.parent {
            if cached == path {
                return fd.try_clone().map_err(|source| Error::Entry { entry: entry.into(), op: "open the parent of", source });
            }
        }
        let fd = match open_beneath(&self.root, path, DIR_FLAGS) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => self.make_parents(path, entry)?,
            Err(Errno::ENOTDIR) if self.through_symlink(path) => return Err(Error::PathThroughSymlink { entry: entry.into() }),
            Err(err) => return Err(refusal(err, entry)),
        };
        let keep = fd.try_clone().map_err(|source| Error::Entry { entry: entry.into(), op: "open the parent of", source })?;
        self.parent = Some((path.to_path_buf(), keep));
        Ok(fd)
    }

    /// Whether resolving `path` meets a symbolic link (opening a directory
    /// that is a link reports "not a directory" before the link).
    fn through_symlink(&self, path: &Path) -> bool {
        matches!(open_beneath(&self.root, path, OFlag::O_PATH), Err(Errno::ELOOP))
    }

    fn make_parents(&mut self, path: &Path, entry: &str) -> Result<OwnedFd> {
        let mut fd = open_beneath(&self.root, Path::new(""), DIR_FLAGS).map_err(|err| refusal(err, entry))?;
        for c in path.components() {
            let name = c.as_os_str();
            match stat::mkdirat(Some(fd.as_raw_fd()), name, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(err) => return Err(Error::Entry { entry: entry.into(), op: "create a parent of", source: err.into() }),
            }
            fd = match open_beneath(&fd, Path::new(name), DIR_FLAGS) {
                Ok(fd) => fd,
                Err(Errno::ENOTDIR) if self.through_symlink(path) => return Err(Error::PathThroughSymlink { entry: entry.into() }),
                Err(err) => return Err(refusal(err, entry)),
            };
        }
        Ok(fd)
    }
}

/// Why opening a parent directory was refused.
fn refusal(err: Errno, entry: &str) -> Error {
    match err {
        Errno::ELOOP => Error::PathThroughSymlink { entry: entry.into() },
        Errno::EXDEV => Error::PathEscapes { entry: entry.into() },
        _ => Error::Entry { entry: entry.into(), op: "open the parent of", source: err.into() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_paths_like_tar() {
        let c = |s: &str| clean_path(Path::new(s)).map(|p| p.display().to_string());
        assert_eq!(c("/etc/passwd").as_deref(), Some("etc/passwd"));
        assert_eq!(c("./a/./b/").as_deref(), Some("a/b"));
        assert_eq!(c("a/../b").as_deref(), Some("b"));
        assert_eq!(c("./").as_deref(), Some(""));
        assert_eq!(c("../x"), None);
        assert_eq!(c("a/../../x"), None);
        assert_eq!(c("/../x"), None);
    }
}
