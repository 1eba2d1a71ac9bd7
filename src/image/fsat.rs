//! File-system calls relative to directory descriptors: path resolution
//! confined with openat2, and extended attributes, which nix does not wrap.

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::libc;
use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Open `path` below `dir` without leaving it and without following any
/// symbolic link on the way (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
/// RESOLVE_NO_MAGICLINKS`). An escape gives `EXDEV`, a symbolic link `ELOOP`.
pub fn open_beneath(dir: &impl AsRawFd, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    let resolve = ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_NO_MAGICLINKS;
    open_how(dir.as_raw_fd(), path, flags, resolve)
}

/// Open `path` as if `dir` were the root directory: absolute symbolic links
/// and `..` stay inside it (`RESOLVE_IN_ROOT`).
pub fn open_in_root(dir: &impl AsRawFd, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    open_how(dir.as_raw_fd(), path, flags, ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
}

fn open_how(dir: RawFd, path: &Path, flags: OFlag, resolve: ResolveFlag) -> nix::Result<OwnedFd> {
    // An empty path means the directory itself.
    let path = if path.as_os_str().is_empty() { Path::new(".") } else { path };
    let how = OpenHow::new().flags(flags | OFlag::O_CLOEXEC).resolve(resolve);
    loop {
        match openat2(dir, path, how) {
            // The kernel asks for a retry when a rename raced the lookup.
            Err(Errno::EAGAIN) => continue,
            // SAFETY: openat2 returned a new descriptor that nothing else owns.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
            Err(e) => return Err(e),
        }
    }
}

/// Open a directory by path (the start of every confined walk).
pub fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let fd = nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())?;
    // SAFETY: open returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The path of entry `name` of directory `dir` through /proc, for the
/// `l*xattr` calls, which have no `*at` form: the directory is reached by
/// its descriptor and the final component is not followed.
fn proc_path(dir: RawFd, name: &OsStr) -> io::Result<CString> {
    let mut p = format!("/proc/self/fd/{dir}/").into_bytes();
    p.extend_from_slice(name.as_bytes());
    CString::new(p).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn c(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn check(r: libc::ssize_t) -> io::Result<usize> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// Set an extended attribute on an open file or directory.
pub fn fset_xattr(fd: &impl AsRawFd, name: &str, value: &[u8]) -> io::Result<()> {
    let n = c(name)?;
    // SAFETY: the name is NUL-terminated and the value pointer and length
    // describe a live slice; the kernel only reads them.
    let r = unsafe { libc::fsetxattr(fd.as_raw_fd(), n.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    check(r as libc::ssize_t).map(drop)
}

/// Set an extended attribute on entry `name` of `dir` without following it
/// (for symbolic links, devices and fifos, which are not opened).
pub fn lset_xattr_at(dir: &impl AsRawFd, name: &OsStr, attr: &str, value: &[u8]) -> io::Result<()> {
    let p = proc_path(dir.as_raw_fd(), name)?;
    let n = c(attr)?;
    // SAFETY: both strings are NUL-terminated, the value slice is live.
    let r = unsafe { libc::lsetxattr(p.as_ptr(), n.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    check(r as libc::ssize_t).map(drop)
}

/// Where the xattrs are read from: an open file, or an entry not followed.
pub enum XattrSource<'a> {
    Fd(RawFd),
    At(RawFd, &'a OsStr),
}

/// Every extended attribute of a file, sorted by name.
pub fn xattrs(src: XattrSource<'_>) -> io::Result<Vec<(String, Vec<u8>)>> {
    enum Target {
        Fd(RawFd),
        Path(CString),
    }
    let target = match src {
        XattrSource::Fd(fd) => Target::Fd(fd),
        XattrSource::At(dir, name) => Target::Path(proc_path(dir, name)?),
    };
    let list = |buf: &mut [u8]| -> io::Result<usize> {
        // SAFETY: buf is a live, writable slice of the given length (a zero
        // length asks only for the size); the path is NUL-terminated.
        let r = unsafe {
            match &target {
                Target::Fd(fd) => libc::flistxattr(*fd, buf.as_mut_ptr().cast(), buf.len()),
                Target::Path(p) => libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()),
            }
        };
        check(r)
    };
    let get = |name: &CString, buf: &mut [u8]| -> io::Result<usize> {
        // SAFETY: as above.
        let r = unsafe {
            match &target {
                Target::Fd(fd) => libc::fgetxattr(*fd, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()),
                Target::Path(p) => libc::lgetxattr(p.as_ptr(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()),
            }
        };
        check(r)
    };
    let names = read_sized(list)?;
    let mut out = Vec::new();
    for raw in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let Ok(name) = std::str::from_utf8(raw) else { continue };
        let cname = c(name)?;
        match read_sized(|b| get(&cname, b)) {
            Ok(v) => out.push((name.to_string(), v)),
            // Removed between the list and the read.
            Err(e) if e.raw_os_error() == Some(libc::ENODATA) => {}
            Err(e) => return Err(e),
        }
    }
    out.sort();
    Ok(out)
}

/// Call a size-then-fill xattr function until the buffer is big enough.
fn read_sized(mut f: impl FnMut(&mut [u8]) -> io::Result<usize>) -> io::Result<Vec<u8>> {
    loop {
        let size = match f(&mut []) {
            Ok(s) => s,
            Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut buf = vec![0u8; size];
        match f(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            // It grew in between: ask again.
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Free bytes on the file system holding `fd`, as root sees them (root may
/// use the blocks reserved for it).
pub fn free_bytes(fd: &impl AsRawFd) -> io::Result<u64> {
    // SAFETY: the descriptor stays open for the duration of the call.
    let st = nix::sys::statvfs::fstatvfs(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd.as_raw_fd()) })?;
    Ok(st.blocks_free().saturating_mul(st.fragment_size()))
}

/// The names in directory `dir` (without `.` and `..`), each with whether
/// it is a directory (never following a symbolic link).
pub fn read_dir_at(dir: &impl AsRawFd) -> io::Result<Vec<(std::ffi::OsString, bool)>> {
    use nix::dir::{Dir, Type};
    use std::os::unix::ffi::OsStringExt;
    let fd = nix::fcntl::openat(Some(dir.as_raw_fd()), ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())?;
    let mut d = Dir::from_fd(fd)?;
    let mut out = Vec::new();
    for e in d.iter() {
        let e = e?;
        let name = e.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let is_dir = match e.file_type() {
            Some(t) => t == Type::Directory,
            None => {
                let st = nix::sys::stat::fstatat(Some(dir.as_raw_fd()), e.file_name(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)?;
                st.st_mode & libc::S_IFMT == libc::S_IFDIR
            }
        };
        out.push((std::ffi::OsString::from_vec(name.to_vec()), is_dir));
    }
    Ok(out)
}

/// Remove entry `name` of `dir` and, when it is a directory, everything in
/// it, never following a symbolic link. A missing entry is not an error.
pub fn remove_tree_at(dir: &impl AsRawFd, name: &OsStr) -> io::Result<()> {
    use nix::unistd::{unlinkat, UnlinkatFlags};
    match unlinkat(Some(dir.as_raw_fd()), name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => return Ok(()),
        Err(Errno::EISDIR) => {}
        Err(e) => return Err(e.into()),
    }
    let fd = nix::fcntl::openat(Some(dir.as_raw_fd()), name, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())?;
    // SAFETY: openat returned a new descriptor that nothing else owns.
    let sub = unsafe { OwnedFd::from_raw_fd(fd) };
    for (child, _) in read_dir_at(&sub)? {
        remove_tree_at(&sub, &child)?;
    }
    match unlinkat(Some(dir.as_raw_fd()), name, UnlinkatFlags::RemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beneath_refuses_escapes_and_symlinks() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("a")).unwrap();
        std::os::unix::fs::symlink("a", d.path().join("l")).unwrap();
        std::os::unix::fs::symlink("/", d.path().join("abs")).unwrap();
        let root = open_dir(d.path()).unwrap();
        let f = OFlag::O_PATH | OFlag::O_DIRECTORY;
        assert!(open_beneath(&root, Path::new("a"), f).is_ok());
        assert!(open_beneath(&root, Path::new(""), f).is_ok());
        assert_eq!(open_beneath(&root, Path::new("../"), f).unwrap_err(), Errno::EXDEV);
        assert_eq!(open_beneath(&root, Path::new("/etc"), f).unwrap_err(), Errno::EXDEV);
        assert_eq!(open_beneath(&root, Path::new("l"), f).unwrap_err(), Errno::ELOOP);
        assert_eq!(open_beneath(&root, Path::new("abs/etc"), f).unwrap_err(), Errno::ELOOP);
        // In-root resolution keeps an absolute link inside.
        let a = open_in_root(&root, Path::new("abs/a"), f).unwrap();
        assert!(nix::sys::stat::fstat(a.as_raw_fd()).unwrap().st_ino == std::fs::metadata(d.path().join("a")).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap());
    }

    #[test]
    fn user_xattrs_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let f = std::fs::File::create(d.path().join("f")).unwrap();
        match fset_xattr(&f, "user.test", b"v") {
            // Some file systems hold no user xattrs: nothing to test there.
            Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return,
            r => r.unwrap(),
        }
        let dir = open_dir(d.path()).unwrap();
        lset_xattr_at(&dir, OsStr::new("f"), "user.other", b"w").unwrap();
        let expect = vec![("user.other".to_string(), b"w".to_vec()), ("user.test".to_string(), b"v".to_vec())];
        assert_eq!(xattrs(XattrSource::Fd(f.as_raw_fd())).unwrap(), expect);
        assert_eq!(xattrs(XattrSource::At(dir.as_raw_fd(), OsStr::new("f"))).unwrap(), expect);
    }
}
