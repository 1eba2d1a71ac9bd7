//! Resolving container paths inside the container root, as the container
//! sees them.
//!
//! Every lookup is `openat2(root fd, path, RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS)`: absolute symlinks restart at the container's
//! root, `..` at the root stays there, and procfs magic links (such as the
//! container's own `/proc/self/root`) are refused. Nothing here joins host
//! path strings.

use super::error::{Error, Result};
use super::root::{open_fd, ContainerRoot};
use nix::errno::Errno;
use nix::fcntl::{openat2, readlinkat, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, FileStat, SFlag};
use std::ffi::OsStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// How many symbolic links one lookup may follow (the kernel's limit).
const MAX_LINKS: usize = 40;
/// How often one lookup is retried when renames race it.
const MAX_RETRIES: u32 = 1000;

fn how(flags: OFlag) -> OpenHow {
    OpenHow::new().flags(flags | OFlag::O_CLOEXEC).resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
}

/// Refuse what no container path may hold.
pub(crate) fn check_path(path: &str) -> Result<()> {
    if path.as_bytes().contains(&0) {
        return Err(Error::InvalidPath { path: path.to_string(), reason: "it contains a NUL byte" });
    }
    if path.len() > 4096 {
        return Err(Error::InvalidPath { path: path.to_string(), reason: "it is longer than 4096 bytes" });
    }
    Ok(())
}

/// The path openat2 is given: an empty path names the root itself.
fn lookup_path(path: &[u8]) -> &OsStr {
    if path.is_empty() {
        OsStr::new(".")
    } else {
        OsStr::from_bytes(path)
    }
}

/// Open `path` (bytes, as the container names it) inside the root.
/// `flags` may hold `O_NOFOLLOW` to open a final symlink itself (with
/// `O_PATH`).
pub(crate) fn open_in_root_bytes(root: &ContainerRoot, path: &[u8], flags: OFlag) -> nix::Result<OwnedFd> {
    // The kernel asks for a retry (EAGAIN) when a rename anywhere raced a
    // lookup through `..`; a container renaming in a loop must not make a
    // copy spin forever, so the retries are bounded.
    // Under a stopped container's volume: inside the volume's directory.
    let under;
    let (base, path) = match root.volume_for(path) {
        Some((v, rest)) => {
            under = rest.join(&b"/"[..]);
            (v.dir.as_raw_fd(), &under[..])
        }
        None => (root.raw(), path),
    };
    let mut retries = 0;
    loop {
        match openat2(base, lookup_path(path), how(flags)) {
            // SAFETY: openat2 returned a new fd that nothing else owns.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
            Err(Errno::EAGAIN) | Err(Errno::EINTR) if retries < MAX_RETRIES => retries += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Open `path` inside the root; errors name the path.
pub(crate) fn open_in_root(root: &ContainerRoot, path: &str, flags: OFlag) -> Result<OwnedFd> {
    check_path(path)?;
    open_in_root_bytes(root, path.as_bytes(), flags).map_err(|e| Error::resolve(path, e))
}

/// Open again, with new flags, exactly the inode an `O_PATH` fd holds (no
/// second lookup, so nothing can be swapped in between). Only called for
/// regular files and directories, never for device nodes.
pub(crate) fn reopen(fd: &OwnedFd, flags: OFlag) -> nix::Result<OwnedFd> {
    let proc_path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    open_fd(None, Path::new(&proc_path), flags)
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`, `None` when there is nothing.
pub(crate) fn lstat_at(dir: RawFd, name: &OsStr) -> nix::Result<Option<FileStat>> {
    match nix::sys::stat::fstatat(Some(dir), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) fn file_type(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// The path inside the container that `path` resolves to (its symlinks
/// expanded as the container sees them), as an absolute path. The final
/// component is expanded only when `follow_final` is set.
///
/// Used to report where a link leads; the lookup walks with `O_PATH |
/// O_NOFOLLOW` fds one component at a time, so it never leaves the root.
pub(crate) fn canonical_path(root: &ContainerRoot, path: &str, follow_final: bool) -> Result<String> {
    check_path(path)?;
    // Under a stopped container's volume: walked inside the volume.
    let (base, prefix, rest) = match root.volume_for(path.as_bytes()) {
        Some((v, rest)) => (v.dir.as_raw_fd(), v.destination.clone(), rest.join(&b"/"[..])),
        None => (root.raw(), Vec::new(), path.as_bytes().to_vec()),
    };
    let mut pending: Vec<Vec<u8>> = components(&rest).rev().map(<[u8]>::to_vec).collect();
    let mut done: Vec<(Vec<u8>, OwnedFd)> = Vec::new();
    let mut links = 0;
    while let Some(comp) = pending.pop() {
        if comp == b".." {
            done.pop();
            continue;
        }
        let dir = done.last().map_or(base, |(_, fd)| fd.as_raw_fd());
        let fd = open_fd(Some(dir), Path::new(OsStr::from_bytes(&comp)), OFlag::O_PATH | OFlag::O_NOFOLLOW)
            .map_err(|e| Error::resolve(path, e))?;
        let st = fstat(fd.as_raw_fd()).map_err(|e| Error::resolve(path, e))?;
        let is_link = file_type(&st) == SFlag::S_IFLNK;
        if is_link && (follow_final || !pending.is_empty()) {
            links += 1;
            if links > MAX_LINKS {
                return Err(Error::SymlinkLoop { path: path.to_string() });
            }
            let target = readlinkat(Some(fd.as_raw_fd()), "").map_err(|e| Error::resolve(path, e))?;
            let target = target.as_bytes();
            if target.first() == Some(&b'/') {
                done.clear();
            }
            pending.extend(components(target).rev().map(<[u8]>::to_vec));
            continue;
        }
        if !pending.is_empty() && file_type(&st) != SFlag::S_IFDIR {
            return Err(Error::NotADirectory { path: path.to_string() });
        }
        done.push((comp, fd));
    }
    let mut out = String::from("/");
    let names: Vec<String> = prefix.iter().chain(done.iter().map(|(c, _)| c)).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    out.push_str(&names.join("/"));
    Ok(out)
}

/// The components of a path, without empty ones and `.`.
pub(crate) fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    path.split(|b| *b == b'/').filter(|c| !c.is_empty() && *c != b".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    /// A root with `/var/run -> /run`, `/rel -> ../etc`, `/up -> ../../..`,
    /// `/pw -> /etc/passwd`, and a host file next to the root.
    fn fixture() -> (tempfile::TempDir, ContainerRoot) {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("root");
        for p in ["etc", "run", "var", "data/sub"] {
            fs::create_dir_all(r.join(p)).unwrap();
        }
        fs::write(r.join("etc/passwd"), "root:x:0:0:container:/:/bin/sh\n").unwrap();
        fs::write(r.join("run/marker"), "in run").unwrap();
        fs::write(d.path().join("host-secret"), "host").unwrap();
        symlink("/run", r.join("var/run")).unwrap();
        symlink("../etc", r.join("data/rel")).unwrap();
        symlink("../../..", r.join("data/sub/up")).unwrap();
        symlink("/etc/passwd", r.join("pw")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        let root = ContainerRoot::of_dir(&r).unwrap();
        (d, root)
    }

    fn read(root: &ContainerRoot, p: &str) -> String {
        let fd = open_in_root(root, p, OFlag::O_RDONLY).unwrap();
        std::io::read_to_string(fs::File::from(fd)).unwrap()
    }

    #[test]
    fn absolute_and_relative_links_resolve_inside() {
        let (_d, root) = fixture();
        assert_eq!(read(&root, "/var/run/marker"), "in run");
        assert_eq!(read(&root, "var/run/marker"), "in run");
        assert_eq!(read(&root, "/data/rel/passwd"), "root:x:0:0:container:/:/bin/sh\n");
        assert_eq!(read(&root, "/pw"), "root:x:0:0:container:/:/bin/sh\n");
    }

    #[test]
    fn dotdot_past_the_root_stays_at_the_root() {
        let (_d, root) = fixture();
        assert_eq!(read(&root, "/../../etc/passwd"), "root:x:0:0:container:/:/bin/sh\n");
        assert_eq!(read(&root, "/data/sub/up/run/marker"), "in run");
        assert!(matches!(open_in_root(&root, "/../host-secret", OFlag::O_RDONLY), Err(Error::NotFound { .. })));
        assert!(matches!(open_in_root(&root, "/data/sub/up/host-secret", OFlag::O_RDONLY), Err(Error::NotFound { .. })));
    }

    #[test]
    fn loops_and_bad_paths_are_named() {
        let (_d, root) = fixture();
        assert!(matches!(open_in_root(&root, "/loop1", OFlag::O_RDONLY), Err(Error::SymlinkLoop { .. })));
        assert!(matches!(open_in_root(&root, "/etc/passwd/x", OFlag::O_RDONLY), Err(Error::NotADirectory { .. })));
        assert!(matches!(open_in_root(&root, "/a\0b", OFlag::O_RDONLY), Err(Error::InvalidPath { .. })));
        assert!(matches!(canonical_path(&root, "/loop1", true), Err(Error::SymlinkLoop { .. })));
    }

    #[test]
    fn canonical_paths_are_the_containers_view() {
        let (_d, root) = fixture();
        assert_eq!(canonical_path(&root, "/var/run/marker", true).unwrap(), "/run/marker");
        assert_eq!(canonical_path(&root, "/var/run", true).unwrap(), "/run");
        assert_eq!(canonical_path(&root, "/var/run", false).unwrap(), "/var/run");
        assert_eq!(canonical_path(&root, "/data/rel/passwd", true).unwrap(), "/etc/passwd");
        assert_eq!(canonical_path(&root, "/data/sub/up", true).unwrap(), "/");
        assert_eq!(canonical_path(&root, "../../pw", true).unwrap(), "/etc/passwd");
        assert_eq!(canonical_path(&root, "/", true).unwrap(), "/");
    }

    #[test]
    fn magic_links_are_refused() {
        // The host's /proc inside a root stands in for a container's /proc.
        let d = tempfile::tempdir().unwrap();
        symlink("/proc/self/root", d.path().join("hostroot")).unwrap();
        let root = ContainerRoot::of_dir(d.path()).unwrap();
        // Inside this root /proc does not exist: the link leads nowhere.
        assert!(matches!(open_in_root(&root, "/hostroot/etc/passwd", OFlag::O_RDONLY), Err(Error::NotFound { .. })));
        // With a real procfs as the root, the magic link itself is refused.
        let proc_root = ContainerRoot::of_dir(Path::new("/proc")).unwrap();
        assert!(matches!(open_in_root(&proc_root, "/self/root/etc/passwd", OFlag::O_RDONLY), Err(Error::SymlinkLoop { .. })));
    }
}
