//! Copy in (libpod's `CopyFromArchive`): a tar stream extracted under a
//! directory in the container.
//!
//! Confinement, entry by entry:
//! - names are made relative (a leading `/` is dropped, as tar does) and
//!   normalised; one whose `..` climbs above the destination is refused
//!   ([`Error::EntryEscapes`]);
//! - an entry below a symlink that the same archive created (`a -> /etc`,
//!   then `a/passwd`) is refused ([`Error::EntryThroughArchiveSymlink`]);
//!   the container's own symlinks in the destination resolve as the
//!   container sees them;
//! - a directory entry where the container has a symlink to a directory
//!   (`lib -> usr/lib`) keeps the link, as podman does;
//! - the parent directory is opened with openat2 `RESOLVE_IN_ROOT` inside
//!   the container root, so whatever the container swaps meanwhile, the
//!   parent is inside its root; the last component is created on that
//!   parent fd (`O_CREAT | O_EXCL | O_NOFOLLOW`, `mkdirat`, `symlinkat`,
//!   `linkat`, `mknodat`), after unlinking what was there;
//! - a hard link must name an existing file below the destination,
//!   reached without any symlink (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`
//!   from the destination's fd): one climbing out is
//!   [`Error::HardLinkOutside`]; one to a path not extracted yet, a
//!   directory, a symlink, itself, or through a symlink is
//!   [`Error::BadHardLink`]. All of that is checked before anything is made
//!   for the entry, and the link is made under a temporary name and renamed
//!   into place, so a refused or failed link changes nothing.
//!
//! Owners, permission bits (after the owner, so setuid survives), extended
//! attributes and mtimes are applied through the new file's fd.
//! Directories get their final mode and mtime at the end, so entries can
//! still be written into a read-only directory and its mtime is not spoiled.
//!
//! A failed or canceled copy leaves what it had already extracted (like tar
//! and podman); directories already made get their modes and mtimes. Nothing
//! is ever created outside the container root.
//!
//! Memory: file data streams through one 1 MiB buffer; what grows with the
//! archive is one record per directory (its deferred mode and mtime) and
//! per symlink the archive made, as with GNU tar's delayed directory
//! restore.

use super::archive_read::{ArchiveReader, Entry, EntryKind};
use super::archive_write::CHUNK;
use super::copy_out::CopyStats;
use super::error::{Error, Result};
use super::resolve::{check_path, components, file_type, lstat_at, open_in_root, open_in_root_bytes};
use super::root::{open_fd, ContainerRoot};
use super::xattr;
use nix::errno::Errno;
use nix::fcntl::{openat2, renameat, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fchmod, fstat, futimens, mkdirat, mknodat, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Who owns what a copy-in creates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Ownership {
    /// The archive's numeric uid and gid (names in the archive are ignored).
    #[default]
    FromArchive,
    /// Everything owned by this uid:gid (podman's `chown`, used with the
    /// container's user).
    Fixed { uid: u32, gid: u32 },
}

/// podman's copy options.
#[derive(Debug, Clone, Default)]
pub struct CopyInOptions {
    pub owner: Ownership,
    /// Refuse to replace a directory by a non-directory or the other way
    /// round ([`Error::WouldReplaceDirectory`],
    /// [`Error::WouldReplaceNonDirectory`]); without it, the old one is
    /// removed (a directory with its contents).
    pub no_overwrite_dir_nondir: bool,
    /// podman's `Rename`: an archive path (and everything below it) is
    /// extracted under a new name, e.g. `{"file": "newname"}`. This is how
    /// `podman cp file ctr:/dir/newname` names a new file: the destination
    /// is `/dir`, the archive holds `file`.
    pub rename: BTreeMap<String, String>,
}

/// Extract the tar stream `input` under `path` in the container. `path`
/// must exist and be a directory (podman's and docker's rule for archives):
/// [`Error::NotFound`] or [`Error::DestinationNotDirectory`] otherwise.
///
/// Entry `.` (the destination itself) leaves the destination as it is.
/// Unknown entry types are skipped. Extended attributes the file system or
/// caller cannot set (`ENOTSUP`, `EPERM`) are skipped, as podman does; an
/// unprivileged caller keeps its own ownership instead of failing.
///
/// Stops with [`Error::TruncatedArchive`] when the sender hangs up before
/// the end-of-archive marker, and [`Error::Canceled`] once `cancel` is set.
pub fn copy_in(root: &ContainerRoot, path: &str, input: impl Read, opts: &CopyInOptions, cancel: &AtomicBool) -> Result<CopyStats> {
    check_path(path)?;
    let dest = open_in_root(root, path, OFlag::O_PATH).map_err(|e| match e {
        Error::NotADirectory { path } => Error::DestinationNotDirectory { path },
        e => e,
    })?;
    let st = fstat(dest.as_raw_fd()).map_err(|e| Error::resolve(path, e))?;
    if file_type(&st) != SFlag::S_IFDIR {
        return Err(Error::DestinationNotDirectory { path: path.to_string() });
    }
    let rename =
        opts.rename.iter().map(|(k, v)| Ok((normalize(k.as_bytes(), k)?, normalize(v.as_bytes(), v)?))).collect::<Result<Vec<_>>>()?;
    let mut x = Extract {
        root,
        dest: path.as_bytes().to_vec(),
        opts,
        rename,
        cancel,
        symlinks: HashSet::new(),
        dirs: Vec::new(),
        parent: None,
        privileged: nix::unistd::geteuid().is_root(),
        buf: vec![0; CHUNK],
        entries: 0,
    };
    let mut reader = ArchiveReader::new(Counting { inner: BufReader::with_capacity(256 << 10, input), bytes: 0 });
    let result = x.run(&mut reader);
    let finish = x.finish_dirs();
    result?;
    finish?;
    Ok(CopyStats { entries: x.entries, bytes: reader.into_inner_bytes() })
}

struct Extract<'a> {
    root: &'a ContainerRoot,
    /// The destination as the caller named it; entries' parents are looked
    /// up as `dest/parent` inside the root.
    dest: Vec<u8>,
    opts: &'a CopyInOptions,
    rename: Vec<(Comps, Comps)>,
    cancel: &'a AtomicBool,
    /// Normalised paths of the symlinks this archive created.
    symlinks: HashSet<Comps>,
    /// Directories made or updated: mode and mtime applied at the end.
    dirs: Vec<DeferredDir>,
    /// The last parent opened, reused by the next entry in the same place.
    parent: Option<(Comps, OwnedFd)>,
    privileged: bool,
    buf: Vec<u8>,
    entries: u64,
}

/// A normalised relative path, component by component.
type Comps = Vec<Vec<u8>>;
/// A directory's path, mode and mtime, applied when the copy ends.
type DeferredDir = (Comps, u32, (i64, u32));

impl Extract<'_> {
    fn run<R: Read>(&mut self, reader: &mut ArchiveReader<R>) -> Result<()> {
        while let Some(entry) = reader.next_entry()? {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(Error::Canceled);
            }
            self.entry(&entry, reader)?;
        }
        Ok(())
    }

    fn entry<R: Read>(&mut self, e: &Entry, reader: &mut ArchiveReader<R>) -> Result<()> {
        let shown = String::from_utf8_lossy(&e.path).into_owned();
        if let EntryKind::Other(_) = e.kind {
            return Ok(());
        }
        let comps = self.renamed(normalize(&e.path, &shown)?);
        let Some((name, parent_comps)) = comps.split_last() else {
            // The destination itself: left as it is.
            return match e.kind {
                EntryKind::Dir => Ok(()),
                _ => Err(Error::WouldReplaceDirectory { entry: shown }),
            };
        };
        self.check_no_archive_symlink(&comps, &shown)?;
        // A hard link's target is checked before anything is made for it.
        let link_target = match e.kind {
            EntryKind::HardLink => Some(self.hard_link_target(e, &comps, &shown)?),
            _ => None,
        };
        // A cached parent at or below this entry may be replaced by it.
        if self.parent.as_ref().is_some_and(|(c, _)| c.starts_with(&comps)) {
            self.parent = None;
        }
        let parent = self.open_parent(parent_comps, &shown)?;
        let name = OsStr::from_bytes(name);
        self.entries += 1;
        match e.kind {
            EntryKind::Dir => self.make_dir(parent, name, &comps, e, &shown),
            EntryKind::File => self.make_file(parent, name, e, reader, &shown),
            EntryKind::Symlink => {
                self.clear(parent, name, false, &shown)?;
                symlinkat(OsStr::from_bytes(&e.link), Some(parent), name)
                    .map_err(|err| Error::CreateEntry { entry: shown.clone(), source: err.into() })?;
                self.symlinks.insert(comps.clone());
                self.own_link(parent, name, e, &shown)
            }
            EntryKind::HardLink => match &link_target {
                Some(target) => self.make_hard_link(parent, name, target, e, &shown),
                None => Ok(()),
            },
            EntryKind::Char | EntryKind::Block | EntryKind::Fifo => {
                self.clear(parent, name, false, &shown)?;
                let kind = match e.kind {
                    EntryKind::Char => SFlag::S_IFCHR,
                    EntryKind::Block => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                let dev = nix::sys::stat::makedev(e.dev.0.into(), e.dev.1.into());
                mknodat(Some(parent), name, kind, Mode::from_bits_truncate(0o600), dev)
                    .map_err(|err| Error::CreateEntry { entry: shown.clone(), source: err.into() })?;
                // Opened O_PATH: a device is never opened for I/O.
                let fd = open_fd(Some(parent), Path::new(name), OFlag::O_PATH | OFlag::O_NOFOLLOW)
                    .map_err(|err| Error::CreateEntry { entry: shown.clone(), source: err.into() })?;
                let st = fstat(fd.as_raw_fd()).map_err(|err| Error::CreateEntry { entry: shown.clone(), source: err.into() })?;
                if file_type(&st) != kind {
                    return Err(Error::ChangedDuringCopy { path: shown });
                }
                self.chown_fd(&fd, e, &shown)?;
                self.chmod_path_fd(&fd, e.mode, &shown)?;
                self.set_times_path_fd(&fd, e.mtime, &shown)
            }
            EntryKind::Other(_) => Ok(()),
        }
    }

    /// Where hard link entry `e` (at `comps`) points: its target's parent
    /// directory, opened below the destination without following any
    /// symlink, and the target's name there; the target exists and is
    /// neither a directory nor a symlink nor the entry itself.
    fn hard_link_target(&self, e: &Entry, comps: &Comps, shown: &str) -> Result<(OwnedFd, Vec<u8>)> {
        let target_shown = String::from_utf8_lossy(&e.link).into_owned();
        let bad = |reason| Error::BadHardLink { entry: shown.to_string(), target: target_shown.clone(), reason };
        let outside = || Error::HardLinkOutside { entry: shown.to_string(), target: target_shown.clone() };
        if e.link.is_empty() {
            return Err(bad("is empty"));
        }
        let target = self.renamed(normalize(&e.link, shown).map_err(|_| outside())?);
        let Some((tname, tparent)) = target.split_last() else { return Err(bad("is the destination directory itself")) };
        if target == *comps {
            return Err(bad("is the entry itself"));
        }
        self.check_no_archive_symlink(&target, shown)?;
        let dest = self.lookup_dir(&[], shown)?;
        let rel = tparent.join(&b"/"[..]);
        let how = OpenHow::new().flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC).resolve(
            ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_NO_MAGICLINKS,
        );
        let rel_path = if rel.is_empty() { OsStr::new(".") } else { OsStr::from_bytes(&rel) };
        let mut retries = 0;
        let dir = loop {
            match openat2(dest.as_raw_fd(), rel_path, how) {
                // SAFETY: openat2 returned a new fd that nothing else owns.
                Ok(fd) => break unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) },
                Err(Errno::EAGAIN) | Err(Errno::EINTR) if retries < 100 => retries += 1,
                Err(Errno::ELOOP) => return Err(bad("is reached through a symbolic link")),
                Err(Errno::ENOENT) => return Err(bad("does not exist (a link must come after its target)")),
                Err(Errno::ENOTDIR) => return Err(bad("is reached through something that is not a directory")),
                Err(Errno::EXDEV) => return Err(outside()),
                Err(err) => return Err(Error::CreateEntry { entry: shown.to_string(), source: err.into() }),
            }
        };
        match lstat_at(dir.as_raw_fd(), OsStr::from_bytes(tname)) {
            Ok(None) | Err(Errno::ENOENT) => Err(bad("does not exist (a link must come after its target)")),
            Ok(Some(st)) if file_type(&st) == SFlag::S_IFDIR => Err(bad("is a directory")),
            Ok(Some(st)) if file_type(&st) == SFlag::S_IFLNK => Err(bad("is a symbolic link")),
            Ok(Some(_)) => Ok((dir, tname.clone())),
            Err(err) => Err(Error::CreateEntry { entry: shown.to_string(), source: err.into() }),
        }
    }

    /// Make `name` in `parent` a new name of the checked target: linked
    /// under a temporary name first, then renamed over what was there, so
    /// a failure leaves `name` as it was.
    fn make_hard_link(&mut self, parent: RawFd, name: &OsStr, target: &(OwnedFd, Vec<u8>), e: &Entry, shown: &str) -> Result<()> {
        let (tdir, tname) = target;
        let bad = |reason| Error::BadHardLink { entry: shown.to_string(), target: String::from_utf8_lossy(&e.link).into_owned(), reason };
        let create = |err: Errno| Error::CreateEntry { entry: shown.to_string(), source: err.into() };
        let mut n = 0u32;
        let tmp = loop {
            let tmp = format!(".berth-link.{}.{}.{n}", std::process::id(), self.entries);
            match linkat(Some(tdir.as_raw_fd()), OsStr::from_bytes(tname), Some(parent), OsStr::new(&tmp), AtFlags::empty()) {
                Ok(()) => break tmp,
                Err(Errno::EEXIST) if n < 100 => n += 1,
                Err(Errno::ENOENT) => return Err(bad("does not exist (it went away during the copy)")),
                Err(Errno::EXDEV) => return Err(bad("is on another file system than the entry")),
                Err(Errno::EMLINK) => return Err(bad("has too many links already")),
                Err(err) => return Err(create(err)),
            }
        };
        let existing_dir = matches!(lstat_at(parent, name), Ok(Some(st)) if file_type(&st) == SFlag::S_IFDIR);
        let cleared = if existing_dir { self.clear(parent, name, false, shown).map(|_| ()) } else { Ok(()) };
        let placed = cleared.and_then(|()| renameat(Some(parent), tmp.as_str(), Some(parent), name).map_err(create));
        // Renaming a name onto another name of the same file leaves both:
        // the temporary one goes in every case (already gone is fine).
        match unlinkat(Some(parent), tmp.as_str(), UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(err) => tracing::warn!("cannot remove the temporary link {tmp} for {shown}: {err}"),
        }
        placed
    }

    fn renamed(&self, comps: Comps) -> Comps {
        for (from, to) in &self.rename {
            if comps.len() >= from.len() && comps[..from.len()] == from[..] {
                let mut out = to.clone();
                out.extend_from_slice(&comps[from.len()..]);
                return out;
            }
        }
        comps
    }

    fn check_no_archive_symlink(&self, comps: &[Vec<u8>], shown: &str) -> Result<()> {
        for i in 1..comps.len() {
            if self.symlinks.contains(&comps[..i]) {
                let link = comps[..i].iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("/");
                return Err(Error::EntryThroughArchiveSymlink { entry: shown.to_string(), link });
            }
        }
        Ok(())
    }

    /// `dest/comps` inside the root, bytes for openat2.
    fn container_path(&self, comps: &[Vec<u8>]) -> Vec<u8> {
        let mut p = self.dest.clone();
        for c in comps {
            p.push(b'/');
            p.extend_from_slice(c);
        }
        p
    }

    /// An existing directory `dest/comps`, resolved inside the root.
    fn lookup_dir(&self, comps: &[Vec<u8>], shown: &str) -> Result<OwnedFd> {
        open_in_root_bytes(self.root, &self.container_path(comps), OFlag::O_PATH | OFlag::O_DIRECTORY)
            .map_err(|e| self.lookup_error(comps, e, shown))
    }

    /// A failed lookup of `dest/comps`: what is not there (any more), not
    /// a directory, or a link the container cannot follow (the container
    /// swapped something meanwhile) is named for that path.
    fn lookup_error(&self, comps: &[Vec<u8>], e: Errno, shown: &str) -> Error {
        match e {
            Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP => Error::resolve(&String::from_utf8_lossy(&self.container_path(comps)), e),
            e => Error::CreateEntry { entry: shown.to_string(), source: e.into() },
        }
    }

    /// The parent directory of an entry, made (0755, as tar does) when the
    /// archive did not list it.
    fn open_parent(&mut self, comps: &[Vec<u8>], shown: &str) -> Result<RawFd> {
        if let Some((c, fd)) = &self.parent {
            if c[..] == comps[..] {
                return Ok(fd.as_raw_fd());
            }
        }
        self.parent = None;
        let fd = match open_in_root_bytes(self.root, &self.container_path(comps), OFlag::O_PATH | OFlag::O_DIRECTORY) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => self.make_parents(comps, shown)?,
            Err(e) => return Err(self.lookup_error(comps, e, shown)),
        };
        let raw = fd.as_raw_fd();
        self.parent = Some((comps.to_vec(), fd));
        Ok(raw)
    }

    fn make_parents(&mut self, comps: &[Vec<u8>], shown: &str) -> Result<OwnedFd> {
        let err = |e: Errno| Error::CreateEntry { entry: shown.to_string(), source: e.into() };
        let mut fd = self.lookup_dir(&[], shown)?;
        for i in 0..comps.len() {
            self.check_no_archive_symlink(&comps[..=i], shown)?;
            match open_in_root_bytes(self.root, &self.container_path(&comps[..=i]), OFlag::O_PATH | OFlag::O_DIRECTORY) {
                Ok(next) => fd = next,
                Err(Errno::ENOENT) => {
                    match mkdirat(Some(fd.as_raw_fd()), OsStr::from_bytes(&comps[i]), Mode::from_bits_truncate(0o755)) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e @ (Errno::ENOENT | Errno::ENOTDIR)) => return Err(self.lookup_error(&comps[..i], e, shown)),
                        Err(e) => return Err(err(e)),
                    }
                    fd = match open_fd(
                        Some(fd.as_raw_fd()),
                        Path::new(OsStr::from_bytes(&comps[i])),
                        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
                    ) {
                        Ok(fd) => fd,
                        // Swapped for a link or a file since it was made.
                        Err(Errno::ELOOP | Errno::ENOTDIR | Errno::ENOENT) => {
                            return Err(Error::ChangedDuringCopy { path: String::from_utf8_lossy(&self.container_path(&comps[..=i])).into_owned() })
                        }
                        Err(e) => return Err(err(e)),
                    };
                }
                Err(e) => return Err(self.lookup_error(&comps[..=i], e, shown)),
            }
        }
        Ok(fd)
    }

    /// Make room for a new entry at `name`: unlink a non-directory, or
    /// (unless refused) remove a directory tree; `dir_entry` tells whether
    /// the new entry is a directory (an existing directory is then kept).
    /// Returns whether an existing directory was kept.
    fn clear(&mut self, parent: RawFd, name: &OsStr, dir_entry: bool, shown: &str) -> Result<bool> {
        let err = |e: Errno| Error::CreateEntry { entry: shown.to_string(), source: e.into() };
        let Some(st) = lstat_at(parent, name).map_err(err)? else { return Ok(false) };
        let is_dir = file_type(&st) == SFlag::S_IFDIR;
        match (is_dir, dir_entry) {
            (true, true) => Ok(true),
            (true, false) if self.opts.no_overwrite_dir_nondir => Err(Error::WouldReplaceDirectory { entry: shown.to_string() }),
            (false, true) if self.opts.no_overwrite_dir_nondir => Err(Error::WouldReplaceNonDirectory { entry: shown.to_string() }),
            (true, false) => {
                remove_tree(parent, name).map_err(err)?;
                Ok(false)
            }
            (false, _) => match unlinkat(Some(parent), name, UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => Ok(false),
                Err(e) => Err(err(e)),
            },
        }
    }

    fn make_dir(&mut self, parent: RawFd, name: &OsStr, comps: &Comps, e: &Entry, shown: &str) -> Result<()> {
        if self.is_container_link_to_dir(parent, name, comps) {
            // podman keeps the container's own `lib -> usr/lib`: the entries
            // below go where the container's link leads (inside the root).
            return Ok(());
        }
        if !self.clear(parent, name, true, shown)? {
            match mkdirat(Some(parent), name, Mode::from_bits_truncate(0o700)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(err) => return Err(Error::CreateEntry { entry: shown.to_string(), source: err.into() }),
            }
        }
        self.symlinks.remove(comps);
        let fd = match open_fd(Some(parent), Path::new(name), OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW) {
            Ok(fd) => fd,
            Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => return Err(Error::ChangedDuringCopy { path: shown.to_string() }),
            Err(err) => return Err(Error::CreateEntry { entry: shown.to_string(), source: err.into() }),
        };
        self.chown_fd(&fd, e, shown)?;
        self.set_xattrs(&fd, e, shown)?;
        self.dirs.push((comps.clone(), e.mode, e.mtime));
        Ok(())
    }

    /// A symlink at `name` that the container made (not this archive) and
    /// that resolves, inside the root, to a directory.
    fn is_container_link_to_dir(&self, parent: RawFd, name: &OsStr, comps: &Comps) -> bool {
        let is_link = matches!(lstat_at(parent, name), Ok(Some(st)) if file_type(&st) == SFlag::S_IFLNK);
        is_link
            && !self.symlinks.contains(comps)
            && open_in_root_bytes(self.root, &self.container_path(comps), OFlag::O_PATH | OFlag::O_DIRECTORY).is_ok()
    }

    fn make_file<R: Read>(&mut self, parent: RawFd, name: &OsStr, e: &Entry, reader: &mut ArchiveReader<R>, shown: &str) -> Result<()> {
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let mut tries = 0;
        let fd = loop {
            self.clear(parent, name, false, shown)?;
            match nix::fcntl::openat(Some(parent), name, flags, Mode::from_bits_truncate(0o600)) {
                // SAFETY: openat returned a new fd that nothing else owns.
                Ok(fd) => break unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) },
                // Something was put back between unlink and create: once more.
                Err(Errno::EEXIST) if tries < 3 => tries += 1,
                Err(err) => return Err(Error::CreateEntry { entry: shown.to_string(), source: err.into() }),
            }
        };
        let file = File::from(fd);
        self.write_data(&file, e, reader, shown)?;
        self.chown_fd(&file, e, shown)?;
        fchmod(file.as_raw_fd(), Mode::from_bits_truncate(e.mode)).map_err(|err| Error::SetMetadata {
            entry: shown.to_string(),
            what: "mode",
            source: err.into(),
        })?;
        self.set_xattrs(&file, e, shown)?;
        set_times(file.as_raw_fd(), e.mtime).map_err(|err| Error::SetMetadata {
            entry: shown.to_string(),
            what: "mtime",
            source: err.into(),
        })
    }

    /// The entry's data into the new file: dense in order, or the sparse
    /// extents at their offsets (holes are never written).
    fn write_data<R: Read>(&mut self, file: &File, e: &Entry, reader: &mut ArchiveReader<R>, shown: &str) -> Result<()> {
        let write_err = |source| Error::CreateEntry { entry: shown.to_string(), source };
        let extents: Vec<(u64, u64)> = match &e.sparse {
            Some(map) => map.clone(),
            None => vec![(0, e.size)],
        };
        let mut buf = std::mem::take(&mut self.buf);
        let result = (|| {
            for (off, len) in extents {
                let mut at = off;
                let end = off + len;
                while at < end {
                    if self.cancel.load(Ordering::Relaxed) {
                        return Err(Error::Canceled);
                    }
                    let want = ((end - at) as usize).min(buf.len());
                    let n = reader.read_data(&mut buf[..want])?;
                    if n == 0 {
                        return Err(Error::TruncatedArchive("inside the data of an entry"));
                    }
                    file.write_all_at(&buf[..n], at).map_err(write_err)?;
                    at += n as u64;
                }
            }
            if e.sparse.is_some() {
                file.set_len(e.size).map_err(write_err)?;
            }
            Ok(())
        })();
        self.buf = buf;
        result
    }

    fn owner(&self, e: &Entry) -> (u32, u32) {
        match self.opts.owner {
            Ownership::FromArchive => (e.uid, e.gid),
            Ownership::Fixed { uid, gid } => (uid, gid),
        }
    }

    /// chown through an fd (`O_PATH` ones too, with `AT_EMPTY_PATH`). Not
    /// being root, a failure to give files away is not an error.
    fn chown_fd(&self, fd: &impl AsRawFd, e: &Entry, shown: &str) -> Result<()> {
        let (uid, gid) = self.owner(e);
        match fchownat(Some(fd.as_raw_fd()), "", Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)), AtFlags::AT_EMPTY_PATH) {
            Ok(()) => Ok(()),
            Err(Errno::EPERM) | Err(Errno::EINVAL) if !self.privileged => Ok(()),
            Err(err) => Err(Error::SetMetadata { entry: shown.to_string(), what: "owner", source: err.into() }),
        }
    }

    /// A symlink's owner and mtime, on the link itself (never its target).
    fn own_link(&self, parent: RawFd, name: &OsStr, e: &Entry, shown: &str) -> Result<()> {
        let fd = open_fd(Some(parent), Path::new(name), OFlag::O_PATH | OFlag::O_NOFOLLOW)
            .map_err(|err| Error::CreateEntry { entry: shown.to_string(), source: err.into() })?;
        let st = fstat(fd.as_raw_fd()).map_err(|err| Error::CreateEntry { entry: shown.to_string(), source: err.into() })?;
        if file_type(&st) != SFlag::S_IFLNK {
            return Err(Error::ChangedDuringCopy { path: shown.to_string() });
        }
        self.chown_fd(&fd, e, shown)?;
        let (secs, nanos) = e.mtime;
        let t = TimeSpec::new(secs, nanos as i64);
        utimensat(Some(parent), name, &TimeSpec::UTIME_OMIT, &t, UtimensatFlags::NoFollowSymlink).map_err(|err| Error::SetMetadata {
            entry: shown.to_string(),
            what: "mtime",
            source: err.into(),
        })
    }

    /// chmod of a node held by an `O_PATH` fd, through its /proc/self/fd
    /// link (which names exactly that inode).
    fn chmod_path_fd(&self, fd: &OwnedFd, mode: u32, shown: &str) -> Result<()> {
        let p = format!("/proc/self/fd/{}", fd.as_raw_fd());
        nix::sys::stat::fchmodat(None, p.as_str(), Mode::from_bits_truncate(mode), nix::sys::stat::FchmodatFlags::FollowSymlink)
            .map_err(|err| Error::SetMetadata { entry: shown.to_string(), what: "mode", source: err.into() })
    }

    fn set_times_path_fd(&self, fd: &OwnedFd, mtime: (i64, u32), shown: &str) -> Result<()> {
        let p = format!("/proc/self/fd/{}", fd.as_raw_fd());
        let t = TimeSpec::new(mtime.0, mtime.1 as i64);
        utimensat(None, p.as_str(), &TimeSpec::UTIME_OMIT, &t, UtimensatFlags::FollowSymlink).map_err(|err| Error::SetMetadata {
            entry: shown.to_string(),
            what: "mtime",
            source: err.into(),
        })
    }

    fn set_xattrs(&self, fd: &impl AsRawFd, e: &Entry, shown: &str) -> Result<()> {
        for (k, v) in e.xattrs.iter().filter(|(k, _)| xattr::is_copied(k)) {
            match xattr::set(fd.as_raw_fd(), k, v) {
                Ok(()) => {}
                Err(err) if xattr::is_unsupported(&err) => {}
                Err(source) => return Err(Error::SetMetadata { entry: shown.to_string(), what: "extended attributes", source }),
            }
        }
        Ok(())
    }

    /// Directories' modes and mtimes, deepest first, each directory looked
    /// up again inside the root (never through a symlink at its own name).
    fn finish_dirs(&mut self) -> Result<()> {
        self.parent = None;
        let dirs = std::mem::take(&mut self.dirs);
        let mut first_err = None;
        for (comps, mode, mtime) in dirs.iter().rev() {
            let shown = String::from_utf8_lossy(&self.container_path(comps)).into_owned();
            let r = self.lookup_dir(&comps[..comps.len() - 1], &shown).and_then(|parent| {
                let name = Path::new(OsStr::from_bytes(&comps[comps.len() - 1]));
                let fd = open_fd(Some(parent.as_raw_fd()), name, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW)
                    .map_err(|err| Error::SetMetadata { entry: shown.clone(), what: "mode", source: err.into() })?;
                fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(*mode)).map_err(|err| Error::SetMetadata {
                    entry: shown.clone(),
                    what: "mode",
                    source: err.into(),
                })?;
                set_times(fd.as_raw_fd(), *mtime).map_err(|err| Error::SetMetadata {
                    entry: shown.clone(),
                    what: "mtime",
                    source: err.into(),
                })
            });
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

fn set_times(fd: RawFd, (secs, nanos): (i64, u32)) -> nix::Result<()> {
    futimens(fd, &TimeSpec::UTIME_OMIT, &TimeSpec::new(secs, nanos as i64))
}

/// An archive name made relative and normalised: no empty components, no
/// `.`, and `..` applied; one that climbs above the top is refused.
fn normalize(name: &[u8], shown: &str) -> Result<Comps> {
    let mut out: Comps = Vec::new();
    for c in components(name) {
        if c == b".." {
            if out.pop().is_none() {
                return Err(Error::EntryEscapes { entry: shown.to_string() });
            }
        } else {
            out.push(c.to_vec());
        }
    }
    Ok(out)
}

/// Remove a directory tree below `parent`, with fds only (nothing followed),
/// iteratively so a deep tree cannot exhaust the stack.
fn remove_tree(parent: RawFd, name: &OsStr) -> nix::Result<()> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW;
    let top = open_fd(Some(parent), Path::new(name), flags)?;
    let mut stack: Vec<OwnedFd> = vec![top];
    while let Some(dir) = stack.last() {
        let dup = nix::unistd::dup(dir.as_raw_fd())?;
        let mut d = nix::dir::Dir::from_fd(dup)?;
        let mut child = None;
        for entry in d.iter() {
            let entry = entry?;
            let n = entry.file_name().to_bytes();
            if n == b"." || n == b".." {
                continue;
            }
            let n = OsStr::from_bytes(n);
            match unlinkat(Some(dir.as_raw_fd()), n, UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(Errno::EISDIR) => match unlinkat(Some(dir.as_raw_fd()), n, UnlinkatFlags::RemoveDir) {
                    Ok(()) | Err(Errno::ENOENT) => {}
                    Err(Errno::ENOTEMPTY) | Err(Errno::EEXIST) => {
                        child = Some(open_fd(Some(dir.as_raw_fd()), Path::new(n), flags)?);
                        break;
                    }
                    Err(e) => return Err(e),
                },
                Err(e) => return Err(e),
            }
        }
        match child {
            Some(c) => stack.push(c),
            None => {
                stack.pop();
            }
        }
    }
    match unlinkat(Some(parent), name, UnlinkatFlags::RemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Counts the bytes read from the sender.
struct Counting<R> {
    inner: R,
    bytes: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

impl<R: Read> ArchiveReader<Counting<R>> {
    fn into_inner_bytes(self) -> u64 {
        self.into_inner().bytes
    }
}
