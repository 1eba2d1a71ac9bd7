//! Walking a directory tree without following symbolic links, reporting
//! each entry with everything needed to recreate it. Used to export a tree
//! as tar and to copy an image's content into a volume.

use super::error::{Error, Result};
use super::fsat::{self, XattrSource};
use super::tree::{Meta, OVERLAY_XATTR_PREFIX};
use nix::fcntl::{AtFlags, OFlag};
use nix::libc;
use nix::sys::stat::{self, FileStat, Mode};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What a walked entry is.
pub enum Found<'a> {
    /// A regular file, open for reading, and its size.
    File(&'a mut File, u64),
    Dir,
    Symlink(PathBuf),
    /// Another name of a file reported before, by that path.
    HardLink(&'a Path),
    Char { major: u64, minor: u64 },
    Block { major: u64, minor: u64 },
    Fifo,
}

/// Call `visit` for `root` itself (path empty) and every entry below it, a
/// directory before its content, names in byte order. Sockets are skipped:
/// no archive holds them.
pub fn walk(root: &Path, visit: &mut dyn FnMut(&Path, Found<'_>, &Meta) -> Result<()>) -> Result<()> {
    let fd = fsat::open_dir(root).map_err(Error::io("open", root))?;
    let st = stat::fstat(fd.as_raw_fd()).map_err(Error::sys("inspect", root))?;
    let meta = meta_of(&st, fsat::xattrs(XattrSource::Fd(fd.as_raw_fd())), root)?;
    visit(Path::new(""), Found::Dir, &meta)?;
    let mut links = HashMap::new();
    walk_dir(root, &fd, PathBuf::new(), &mut links, visit)
}

fn walk_dir(
    root: &Path,
    dir: &OwnedFd,
    rel: PathBuf,
    links: &mut HashMap<(u64, u64), PathBuf>,
    visit: &mut dyn FnMut(&Path, Found<'_>, &Meta) -> Result<()>,
) -> Result<()> {
    let here = root.join(&rel);
    let mut names = fsat::read_dir_at(dir).map_err(Error::io("read", &here))?;
    names.sort();
    for (name, _) in names {
        let path = rel.join(&name);
        let full = root.join(&path);
        let st = match stat::fstatat(Some(dir.as_raw_fd()), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            // Gone since the directory was read.
            Err(nix::errno::Errno::ENOENT) => continue,
            Err(e) => return Err(Error::sys("inspect", &full)(e)),
        };
        let at = || fsat::xattrs(XattrSource::At(dir.as_raw_fd(), &name));
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {
                let sub = open_at(dir, &name, OFlag::O_DIRECTORY).map_err(Error::sys("open", &full))?;
                let meta = meta_of(&st, fsat::xattrs(XattrSource::Fd(sub.as_raw_fd())), &full)?;
                visit(&path, Found::Dir, &meta)?;
                walk_dir(root, &sub, path, links, visit)?;
            }
            libc::S_IFREG => {
                let key = (st.st_dev, st.st_ino);
                if st.st_nlink > 1 {
                    if let Some(first) = links.get(&key) {
                        let meta = meta_of(&st, Ok(Vec::new()), &full)?;
                        visit(&path, Found::HardLink(first), &meta)?;
                        continue;
                    }
                    links.insert(key, path.clone());
                }
                let mut f = File::from(open_at(dir, &name, OFlag::empty()).map_err(Error::sys("open", &full))?);
                let st = stat::fstat(f.as_raw_fd()).map_err(Error::sys("inspect", &full))?;
                let meta = meta_of(&st, fsat::xattrs(XattrSource::Fd(f.as_raw_fd())), &full)?;
                visit(&path, Found::File(&mut f, st.st_size as u64), &meta)?;
            }
            libc::S_IFLNK => {
                let target = nix::fcntl::readlinkat(Some(dir.as_raw_fd()), name.as_os_str()).map_err(Error::sys("read the link", &full))?;
                visit(&path, Found::Symlink(PathBuf::from(target)), &meta_of(&st, at(), &full)?)?;
            }
            libc::S_IFCHR => {
                let (major, minor) = (stat::major(st.st_rdev), stat::minor(st.st_rdev));
                visit(&path, Found::Char { major, minor }, &meta_of(&st, at(), &full)?)?;
            }
            libc::S_IFBLK => {
                let (major, minor) = (stat::major(st.st_rdev), stat::minor(st.st_rdev));
                visit(&path, Found::Block { major, minor }, &meta_of(&st, at(), &full)?)?;
            }
            libc::S_IFIFO => visit(&path, Found::Fifo, &meta_of(&st, at(), &full)?)?,
            _ => {}
        }
    }
    Ok(())
}

fn open_at(dir: &OwnedFd, name: &OsStr, extra: OFlag) -> nix::Result<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | extra;
    let fd = nix::fcntl::openat(Some(dir.as_raw_fd()), name, flags, Mode::empty())?;
    // SAFETY: openat returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn meta_of(st: &FileStat, xattrs: std::io::Result<Vec<(String, Vec<u8>)>>, path: &Path) -> Result<Meta> {
    let xattrs = xattrs.map_err(Error::io("read the xattrs of", path))?.into_iter().filter(|(k, _)| !k.starts_with(OVERLAY_XATTR_PREFIX)).collect();
    Ok(Meta {
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        mtime: (st.st_mtime, st.st_mtime_nsec as u32),
        xattrs,
    })
}
