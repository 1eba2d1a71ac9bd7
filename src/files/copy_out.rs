//! Copy out (libpod's `CopyToArchive`): a path in the container written as a
//! tar stream.
//!
//! The start is resolved with openat2 inside the root; below it, the tree is
//! walked with file descriptors only: each entry is looked at with
//! `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)` and opened with
//! `openat(dir, name, O_NOFOLLOW)` relative to its already opened parent, so
//! a symlink swapped in during the walk is archived as a symlink or makes
//! the copy fail with [`Error::ChangedDuringCopy`]; it is never followed.

use super::archive_write::{layout, ArchiveWriter, Kind, Meta};
use super::error::{Error, Result};
use super::passwd::Accounts;
use super::resolve::{check_path, components, file_type, lstat_at, open_in_root, reopen};
use super::root::{open_fd, ContainerRoot};
use super::xattr;
use nix::errno::Errno;
use nix::fcntl::{readlinkat, OFlag};
use nix::sys::stat::{fstat, FileStat, SFlag};
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC, SYSFS_MAGIC};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a copy moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Archive entries written or extracted.
    pub entries: u64,
    /// Bytes of the tar stream.
    pub bytes: u64,
}

/// Write `path` (inside the container) to `out` as a tar stream, in
/// constant memory.
///
/// podman's rules for the path:
/// - `dir/.` (or `.`, or `/`) copies the directory's contents: the archive
///   holds its children, with no entry for the directory itself;
/// - anything else copies the file or directory itself, as one top entry
///   named for the path's last component (`dir/` also, but must be a
///   directory);
/// - a symlink as the last component is followed, as the container resolves
///   it (podman cp copies what the link points to); the top entry keeps the
///   link's name. Symlinks below the top are archived as symlinks.
///
/// Preserved: types, permission bits (setuid/setgid/sticky too), owners as
/// numbers with names from the container's own /etc/passwd and /etc/group,
/// mtimes (nanoseconds through PAX), extended attributes but
/// `security.selinux` (PAX `SCHILY.xattr.`), hard links (tar hard links),
/// holes (GNU sparse entries found with SEEK_DATA/SEEK_HOLE). Sockets are
/// skipped; directories on procfs or sysfs are archived without their
/// contents. Files that vanish during the walk are skipped.
///
/// Stops with [`Error::OutputClosed`] when the receiver hangs up (EPIPE:
/// SIGPIPE must be ignored, as Rust programs do by default) and with
/// [`Error::Canceled`] once `cancel` is set.
pub fn copy_out(root: &ContainerRoot, path: &str, out: impl Write, cancel: &AtomicBool) -> Result<CopyStats> {
    check_path(path)?;
    let bytes = path.as_bytes();
    let last = components(bytes).next_back();
    let contents_only = last.is_none() || bytes == b"." || bytes.ends_with(b"/.");
    if last == Some(b"..") {
        return Err(Error::InvalidPath { path: path.to_string(), reason: "it ends with \"..\"; name the directory" });
    }
    let start = open_in_root(root, path, OFlag::O_PATH)?;
    let st = fstat(start.as_raw_fd()).map_err(|e| Error::resolve(path, e))?;
    let is_dir = file_type(&st) == SFlag::S_IFDIR;
    if (contents_only || bytes.ends_with(b"/")) && !is_dir {
        return Err(Error::NotADirectory { path: path.to_string() });
    }

    // Where archive paths sit in the container: under the path itself for
    // its contents, else under its parent.
    let mut anchor = bytes.to_vec();
    if !contents_only {
        anchor.extend_from_slice(b"/..");
    }
    let mut walk = Walk {
        w: ArchiveWriter::new(out),
        accounts: Accounts::read(root),
        links: HashMap::new(),
        cancel,
        entries: 0,
        root,
        anchor,
    };
    if contents_only {
        let dir = reopen(&start, OFlag::O_RDONLY | OFlag::O_DIRECTORY).map_err(|e| Error::resolve(path, e))?;
        if !is_pseudo_fs(&dir) {
            walk.tree(dir, Vec::new())?;
        }
    } else {
        let name = last.unwrap_or(b".").to_vec();
        walk.top(&start, &st, name, path)?;
    }
    walk.w.finish()?;
    Ok(CopyStats { entries: walk.entries, bytes: walk.w.bytes })
}

struct Walk<'c, W: Write> {
    w: ArchiveWriter<W>,
    accounts: Accounts,
    /// (dev, ino) of multiply linked files already archived, to their path.
    links: HashMap<(u64, u64), Vec<u8>>,
    cancel: &'c AtomicBool,
    entries: u64,
    root: &'c ContainerRoot,
    /// The container path archive paths are relative to.
    anchor: Vec<u8>,
}

/// One open directory being walked.
struct Frame {
    dir: OwnedFd,
    prefix: Vec<u8>,
    names: std::vec::IntoIter<OsString>,
}

impl<W: Write> Walk<'_, W> {
    /// The entry for the path itself, then its tree.
    fn top(&mut self, start: &OwnedFd, st: &FileStat, name: Vec<u8>, path: &str) -> Result<()> {
        match file_type(st) {
            SFlag::S_IFDIR => {
                let dir = reopen(start, OFlag::O_RDONLY | OFlag::O_DIRECTORY).map_err(|e| Error::resolve(path, e))?;
                self.emit_dir(&dir, &name, path)?;
                if !is_pseudo_fs(&dir) {
                    let mut prefix = name;
                    prefix.push(b'/');
                    self.tree(dir, prefix)?;
                }
                Ok(())
            }
            SFlag::S_IFREG => {
                let file = reopen(start, OFlag::O_RDONLY | OFlag::O_NOCTTY).map_err(|e| Error::resolve(path, e))?;
                self.emit_file(File::from(file), &name, path)
            }
            _ => self.emit_special(start.as_raw_fd(), OsStr::new(""), st, &name, path),
        }
    }

    /// Everything below an open directory, depth first, names sorted.
    fn tree(&mut self, dir: OwnedFd, prefix: Vec<u8>) -> Result<()> {
        let names = list_dir(&dir, &prefix)?;
        let mut stack = vec![Frame { dir, prefix, names: names.into_iter() }];
        while let Some(frame) = stack.last_mut() {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(Error::Canceled);
            }
            let Some(name) = frame.names.next() else {
                stack.pop();
                continue;
            };
            let mut apath = frame.prefix.clone();
            apath.extend_from_slice(name.as_bytes());
            let shown = String::from_utf8_lossy(&apath).into_owned();
            let parent = frame.dir.as_raw_fd();
            let Some(st) = lstat_at(parent, &name).map_err(|e| Error::ReadFile { path: shown.clone(), source: e.into() })? else {
                continue; // removed since the directory was listed
            };
            match file_type(&st) {
                SFlag::S_IFDIR => {
                    let opened = match self.volume_dir(&apath) {
                        // A stopped container's volume stands there.
                        Some(v) => v,
                        None => open_fd(Some(parent), Path::new(&name), OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW),
                    };
                    let dir = match opened {
                        Ok(d) => d,
                        Err(Errno::ENOENT) => continue,
                        Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => return Err(Error::ChangedDuringCopy { path: shown }),
                        Err(e) => return Err(Error::ReadFile { path: shown, source: e.into() }),
                    };
                    self.emit_dir(&dir, &apath, &shown)?;
                    if !is_pseudo_fs(&dir) {
                        let mut prefix = apath;
                        prefix.push(b'/');
                        let names = list_dir(&dir, &prefix)?;
                        stack.push(Frame { dir, prefix, names: names.into_iter() });
                    }
                }
                SFlag::S_IFREG => {
                    // O_PATH first: a swapped-in device is never opened.
                    let pathfd = match open_fd(Some(parent), Path::new(&name), OFlag::O_PATH | OFlag::O_NOFOLLOW) {
                        Ok(f) => f,
                        Err(Errno::ENOENT) => continue,
                        Err(e) => return Err(Error::ReadFile { path: shown, source: e.into() }),
                    };
                    let now = fstat(pathfd.as_raw_fd()).map_err(|e| Error::ReadFile { path: shown.clone(), source: e.into() })?;
                    if file_type(&now) != SFlag::S_IFREG {
                        return Err(Error::ChangedDuringCopy { path: shown });
                    }
                    let file = reopen(&pathfd, OFlag::O_RDONLY | OFlag::O_NOCTTY)
                        .map_err(|e| Error::ReadFile { path: shown.clone(), source: e.into() })?;
                    self.emit_file(File::from(file), &apath, &shown)?;
                }
                SFlag::S_IFSOCK => continue,
                _ => self.emit_special(parent, &name, &st, &apath, &shown)?,
            }
        }
        Ok(())
    }

    /// The directory of the stopped container's volume whose destination
    /// is archive path `apath`, opened for reading.
    fn volume_dir(&self, apath: &[u8]) -> Option<nix::Result<OwnedFd>> {
        let mut p = self.anchor.clone();
        p.push(b'/');
        p.extend_from_slice(apath);
        match self.root.volume_for(&p) {
            Some((v, rest)) if rest.is_empty() => Some(reopen(&v.dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY)),
            _ => None,
        }
    }

    fn emit_dir(&mut self, dir: &OwnedFd, apath: &[u8], shown: &str) -> Result<()> {
        let st = fstat(dir.as_raw_fd()).map_err(|e| Error::ReadFile { path: shown.to_string(), source: e.into() })?;
        let xattrs = xattr::list(dir.as_raw_fd()).map_err(|source| Error::ReadFile { path: shown.to_string(), source })?;
        let (uname, gname) = names(&self.accounts, &st);
        let meta = meta(apath, Kind::Dir, &st, uname, gname, &xattrs);
        self.entries += 1;
        self.w.entry(&meta)
    }

    fn emit_file(&mut self, file: File, apath: &[u8], shown: &str) -> Result<()> {
        let st = fstat(file.as_raw_fd()).map_err(|e| Error::ReadFile { path: shown.to_string(), source: e.into() })?;
        if file_type(&st) != SFlag::S_IFREG {
            return Err(Error::ChangedDuringCopy { path: shown.to_string() });
        }
        self.entries += 1;
        if st.st_nlink > 1 {
            if let Some(first) = self.links.get(&(st.st_dev, st.st_ino)).cloned() {
                let (uname, gname) = names(&self.accounts, &st);
                return self.w.entry(&meta(apath, Kind::HardLink(&first), &st, uname, gname, &[]));
            }
            self.links.insert((st.st_dev, st.st_ino), apath.to_vec());
        }
        let xattrs = xattr::list(file.as_raw_fd()).map_err(|source| Error::ReadFile { path: shown.to_string(), source })?;
        let size = st.st_size as u64;
        let lay = layout(file.as_raw_fd(), size, st.st_blocks);
        let (uname, gname) = names(&self.accounts, &st);
        let meta = meta(apath, Kind::File, &st, uname, gname, &xattrs);
        self.w.file(&meta, &file, size, &lay, self.cancel, shown)
    }

    /// Symlinks, devices and FIFOs: `at` and `name` name the entry itself
    /// (an empty name with an `O_PATH` fd); nothing is opened for reading.
    fn emit_special(&mut self, at: RawFd, name: &OsStr, st: &FileStat, apath: &[u8], shown: &str) -> Result<()> {
        let (uname, gname) = names(&self.accounts, st);
        let target;
        let kind = match file_type(st) {
            SFlag::S_IFLNK => {
                target = match readlinkat(Some(at), name) {
                    Ok(t) => t.into_vec(),
                    Err(Errno::ENOENT) => return Ok(()),
                    Err(Errno::EINVAL) => return Err(Error::ChangedDuringCopy { path: shown.to_string() }),
                    Err(e) => return Err(Error::ReadFile { path: shown.to_string(), source: e.into() }),
                };
                Kind::Symlink(&target)
            }
            SFlag::S_IFCHR => Kind::Char(st.st_rdev),
            SFlag::S_IFBLK => Kind::Block(st.st_rdev),
            SFlag::S_IFIFO => Kind::Fifo,
            _ => return Ok(()), // sockets cannot be archived
        };
        if st.st_nlink > 1 && !matches!(kind, Kind::Symlink(_)) {
            if let Some(first) = self.links.get(&(st.st_dev, st.st_ino)).cloned() {
                self.entries += 1;
                return self.w.entry(&meta(apath, Kind::HardLink(&first), st, uname, gname, &[]));
            }
            self.links.insert((st.st_dev, st.st_ino), apath.to_vec());
        }
        let meta = meta(apath, kind, st, uname, gname, &[]);
        self.entries += 1;
        self.w.entry(&meta)
    }
}

fn names<'a>(accounts: &'a Accounts, st: &FileStat) -> (Option<&'a str>, Option<&'a str>) {
    (accounts.user_name(st.st_uid), accounts.group_name(st.st_gid))
}

fn meta<'a>(
    path: &'a [u8],
    kind: Kind<'a>,
    st: &FileStat,
    uname: Option<&'a str>,
    gname: Option<&'a str>,
    xattrs: &'a [(Vec<u8>, Vec<u8>)],
) -> Meta<'a> {
    Meta {
        path,
        kind,
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        uname,
        gname,
        mtime: (st.st_mtime, st.st_mtime_nsec as u32),
        xattrs,
    }
}

/// The names in a directory, sorted (the archive's order is stable).
fn list_dir(dir: &OwnedFd, prefix: &[u8]) -> Result<Vec<OsString>> {
    let shown = || String::from_utf8_lossy(prefix).into_owned();
    let dup = dir.as_fd().try_clone_to_owned().map_err(|source| Error::ReadFile { path: shown(), source })?;
    let mut d = nix::dir::Dir::from_fd(std::os::fd::IntoRawFd::into_raw_fd(dup))
        .map_err(|e| Error::ReadFile { path: shown(), source: e.into() })?;
    let mut names = Vec::new();
    for entry in d.iter() {
        let entry = entry.map_err(|e| Error::ReadFile { path: shown(), source: e.into() })?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsString::from_vec(name.to_vec()));
        }
    }
    names.sort();
    Ok(names)
}

/// procfs and sysfs: their files lie about their sizes and some block or
/// have side effects when read; their directories are archived empty.
fn is_pseudo_fs(dir: &OwnedFd) -> bool {
    match fstatfs(dir) {
        Ok(s) => s.filesystem_type() == PROC_SUPER_MAGIC || s.filesystem_type() == SYSFS_MAGIC,
        Err(_) => false,
    }
}
