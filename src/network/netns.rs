//! Persistent named network namespaces, made as `ip netns add` makes them:
//! an empty file bind-mounted from `/proc/thread-self/ns/net` of a thread
//! that unshared its network namespace. The directory holding them is a
//! shared mount, so a namespace mounted or unmounted by one mount namespace
//! (berthd's) is seen by the others (the container unit's ExecStopPost).

use super::error::{NetworkError, Result};
use super::lock::FileLock;
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::statfs::{statfs, NSFS_MAGIC};
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Create the namespace `dir/name` and return its path. The calling
/// thread's own namespace does not change.
pub fn create(dir: &Path, name: &str) -> Result<PathBuf> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.len() > 255 {
        return Err(NetworkError::InvalidNetnsName { name: name.to_string() });
    }
    fs::create_dir_all(dir).map_err(NetworkError::io("create", dir))?;
    make_shared(dir)?;
    let path = dir.join(name);
    match OpenOptions::new().write(true).create_new(true).mode(0o444).open(&path) {
        Ok(_) => {}
        // A file left by a crash between its creation and the mount is reused.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && !is_netns(&path) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(NetworkError::NetnsExists { path }),
        Err(e) => return Err(NetworkError::io("create", &path)(e)),
    }
    let target = path.clone();
    let made = std::thread::spawn(move || -> nix::Result<()> {
        // Only this short-lived thread moves to the new namespace.
        unshare(CloneFlags::CLONE_NEWNET)?;
        mount(Some("/proc/thread-self/ns/net"), &target, None::<&str>, MsFlags::MS_BIND, None::<&str>)
    })
    .join()
    .unwrap_or(Err(Errno::EIO));
    if let Err(e) = made {
        let _ = fs::remove_file(&path); // best effort: the error below is what matters
        return Err(NetworkError::netns("create", &path)(e));
    }
    Ok(path)
}

/// Unmount and delete the namespace at `path`; nothing there is no error.
pub fn remove(path: &Path) -> Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(NetworkError::netns("unmount", path)(e)),
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NetworkError::io("remove", path)(e)),
    }
}

/// Whether `path` is a mounted network namespace (or any nsfs file).
pub fn is_netns(path: &Path) -> bool {
    statfs(path).is_ok_and(|s| s.filesystem_type() == NSFS_MAGIC)
}

/// Make `dir` a shared mount point, bind-mounting it onto itself first if
/// it is none (iproute2's `ip netns add` does the same for /run/netns).
fn make_shared(dir: &Path) -> Result<()> {
    let _lock = FileLock::exclusive(&dir.with_extension("lock"))?;
    let mut made_mount = false;
    loop {
        match mount(None::<&str>, dir, None::<&str>, MsFlags::MS_SHARED | MsFlags::MS_REC, None::<&str>) {
            Ok(()) => return Ok(()),
            Err(Errno::EINVAL) if !made_mount => {
                mount(Some(dir), dir, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
                    .map_err(NetworkError::netns("bind-mount the directory of", dir))?;
                made_mount = true;
            }
            Err(e) => return Err(NetworkError::netns("share the directory of", dir)(e)),
        }
    }
}
