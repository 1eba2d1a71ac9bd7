//! A container's root file system: an overlay of the image's layers (read
//! only, shared) under the container's own `upper` and `work` directories.
//!
//! Mounting uses the new mount API (`fsopen`/`fsconfig` with `lowerdir+`,
//! Linux 6.8 and later), where each layer is passed on its own, so a chain
//! of any length overlayfs accepts (500) fits. Older kernels get mount(2),
//! whose option string is limited to one page: when the layers' paths do
//! not fit, they are passed as `/proc/self/fd/N` of descriptors held open
//! for the call.

use super::error::{Error, Result};
use nix::libc;
use nix::mount::{umount2, MntFlags, MsFlags};
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// overlayfs' limit on lower layers.
pub const MAX_LAYERS: usize = 500;

/// How to mount; `Auto` is right outside of tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountApi {
    /// The new API, or mount(2) where the kernel lacks it.
    Auto,
    /// fsopen/fsconfig/fsmount/move_mount only.
    New,
    /// mount(2) only.
    Legacy,
}

/// A container's writable layer: `<root>/upper` and `<root>/work`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerLayer {
    root: PathBuf,
}

impl ContainerLayer {
    /// Make a new, empty container layer at `root`, which must not exist.
    /// Nothing is copied; a crash leaves either nothing or the whole layer.
    pub fn create(root: &Path) -> Result<Self> {
        let parent = root.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = root.file_name().ok_or_else(|| Error::NotAContainerLayer { path: root.to_path_buf() })?;
        let tmp = parent.join(format!(".{}.tmp", name.to_string_lossy()));
        // A leftover of an interrupted create; if it cannot go, creating
        // the new one below fails and says why.
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(tmp.join("upper")).map_err(Error::io("create", &tmp))?;
        fs::create_dir(tmp.join("work")).map_err(Error::io("create", &tmp))?;
        if let Err(e) = rename_noreplace(&tmp, root) {
            // The rename's failure is the one to report; the next create
            // removes this leftover.
            let _ = fs::remove_dir_all(&tmp);
            return Err(Error::io("create", root)(e));
        }
        Ok(ContainerLayer { root: root.to_path_buf() })
    }

    /// An existing container layer.
    pub fn open(root: &Path) -> Result<Self> {
        let l = ContainerLayer { root: root.to_path_buf() };
        if !(l.upper().is_dir() && l.work().is_dir()) {
            return Err(Error::NotAContainerLayer { path: root.to_path_buf() });
        }
        Ok(l)
    }

    /// Remove the layer and every change the container made. Unmount first.
    pub fn remove(self) -> Result<()> {
        match fs::remove_dir_all(&self.root) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io("remove", &self.root)(e)),
            _ => Ok(()),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the container's changes are.
    pub fn upper(&self) -> PathBuf {
        self.root.join("upper")
    }

    pub fn work(&self) -> PathBuf {
        self.root.join("work")
    }

    /// Mount the overlay of `lowers` (top layer first, as
    /// `ImageStore::layer_dirs` gives them) and this layer on `target`.
    /// Already mounted there: nothing to do.
    pub fn mount(&self, lowers: &[PathBuf], target: &Path) -> Result<()> {
        self.mount_with(lowers, target, MountApi::Auto)
    }

    pub fn mount_with(&self, lowers: &[PathBuf], target: &Path, api: MountApi) -> Result<()> {
        if lowers.is_empty() {
            return Err(Error::NoLayers);
        }
        if lowers.len() > MAX_LAYERS {
            return Err(Error::TooManyLayers { count: lowers.len(), max: MAX_LAYERS });
        }
        fs::create_dir_all(target).map_err(Error::io("create", target))?;
        let upper = fs::canonicalize(self.upper()).map_err(Error::io("open", self.upper()))?;
        let work = fs::canonicalize(self.work()).map_err(Error::io("open", self.work()))?;
        if let Some(m) = mount_at(target)? {
            if m.fs_type == "overlay" && m.options.split(',').any(|o| o.strip_prefix("upperdir=").is_some_and(|u| Path::new(u) == upper)) {
                return Ok(());
            }
            return Err(Error::TargetBusy { target: target.to_path_buf(), fs_type: m.fs_type });
        }
        let fail = |source| Error::Mount { target: target.to_path_buf(), source };
        match api {
            MountApi::New => mount_new(lowers, &upper, &work, target).map_err(fail),
            MountApi::Legacy => mount_legacy(lowers, &upper, &work, target).map_err(fail),
            MountApi::Auto => match mount_new(lowers, &upper, &work, target) {
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EINVAL) | Some(libc::EPERM)) => {
                    mount_legacy(lowers, &upper, &work, target).map_err(fail)
                }
                r => r.map_err(fail),
            },
        }
    }

    /// Unmount `target`; not mounted is fine. A busy mount is detached and
    /// goes when its last user does.
    pub fn unmount(target: &Path) -> Result<()> {
        if mount_at(target)?.is_none() {
            return Ok(());
        }
        match umount2(target, MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
            Err(e) => Err(Error::sys("unmount", target)(e)),
        }
    }

    /// Whether something is mounted on `target`.
    pub fn is_mounted(target: &Path) -> Result<bool> {
        Ok(mount_at(target)?.is_some())
    }
}

/// rename(2) that fails instead of replacing an existing target.
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    nix::fcntl::renameat2(None, from, None, to, nix::fcntl::RenameFlags::RENAME_NOREPLACE).map_err(io::Error::from)
}

/// One line of /proc/self/mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    pub mount_point: PathBuf,
    pub fs_type: String,
    /// The super block's options (overlay's lowerdir, upperdir, ...).
    pub options: String,
}

/// The mount on `target` (the last one, when several are stacked).
fn mount_at(target: &Path) -> Result<Option<MountInfo>> {
    let Ok(target) = fs::canonicalize(target) else { return Ok(None) };
    let table = fs::read_to_string("/proc/self/mountinfo").map_err(Error::io("read", "/proc/self/mountinfo"))?;
    Ok(parse_mountinfo(&table).into_iter().rev().find(|m| m.mount_point == target))
}

pub fn parse_mountinfo(table: &str) -> Vec<MountInfo> {
    table
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = left.split(' ').nth(4)?;
            let mut r = right.split(' ');
            let fs_type = r.next()?.to_string();
            let _source = r.next()?;
            let options = r.next().unwrap_or("").to_string();
            Some(MountInfo { mount_point: PathBuf::from(unescape(mount_point)), fs_type, options: unescape(&options) })
        })
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn cstr(p: &[u8]) -> io::Result<CString> {
    CString::new(p).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

// The new mount API's constants (linux/mount.h); libc does not carry them all.
const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;

fn mount_new(lowers: &[PathBuf], upper: &Path, work: &Path, target: &Path) -> io::Result<()> {
    let fstype = cstr(b"overlay")?;
    // SAFETY: fsopen reads the NUL-terminated name; it returns a new
    // descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is new and owned by nothing else.
    let fs = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let set = |key: &str, value: &[u8]| -> io::Result<()> {
        let (k, v) = (cstr(key.as_bytes())?, cstr(value)?);
        // SAFETY: both strings are NUL-terminated and outlive the call.
        let r = unsafe { libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), FSCONFIG_SET_STRING, k.as_ptr(), v.as_ptr(), 0) };
        if r < 0 {
            return Err(with_fs_log(&fs, io::Error::last_os_error()));
        }
        Ok(())
    };
    for l in lowers {
        set("lowerdir+", l.as_os_str().as_bytes())?;
    }
    set("upperdir", upper.as_os_str().as_bytes())?;
    set("workdir", work.as_os_str().as_bytes())?;
    set("index", b"off")?;
    // SAFETY: CMD_CREATE takes no key or value.
    let r = unsafe { libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), FSCONFIG_CMD_CREATE, std::ptr::null::<libc::c_char>(), std::ptr::null::<libc::c_void>(), 0) };
    if r < 0 {
        return Err(with_fs_log(&fs, io::Error::last_os_error()));
    }
    // SAFETY: fsmount returns a new descriptor or -1.
    let m = unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, 0) };
    if m < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is new and owned by nothing else.
    let mnt = unsafe { OwnedFd::from_raw_fd(m as i32) };
    let empty = cstr(b"")?;
    let to = cstr(target.as_os_str().as_bytes())?;
    // SAFETY: both paths are NUL-terminated and outlive the call.
    let r = unsafe { libc::syscall(libc::SYS_move_mount, mnt.as_raw_fd(), empty.as_ptr(), libc::AT_FDCWD, to.as_ptr(), MOVE_MOUNT_F_EMPTY_PATH) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Add the messages the kernel left in the file system context.
fn with_fs_log(fs: &OwnedFd, e: io::Error) -> io::Error {
    let mut msgs = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        // SAFETY: buf is a live, writable buffer of its length.
        let n = unsafe { libc::read(fs.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        msgs.push(String::from_utf8_lossy(&buf[..n as usize]).trim().to_string());
    }
    if msgs.is_empty() {
        e
    } else {
        io::Error::new(e.kind(), format!("{e} ({})", msgs.join("; ")))
    }
}

/// mount(2)'s option string is at most one page.
const PAGE: usize = 4096;

fn mount_legacy(lowers: &[PathBuf], upper: &Path, work: &Path, target: &Path) -> io::Result<()> {
    let plain = |p: &Path| -> Vec<u8> { escape_option(p.as_os_str().as_bytes()) };
    let tail = [b",upperdir=".as_slice(), &plain(upper), b",workdir=", &plain(work), b",index=off"].concat();
    let joined = |parts: Vec<Vec<u8>>| [b"lowerdir=".to_vec(), parts.join(&b':'), tail.clone()].concat();
    let mut data = joined(lowers.iter().map(|l| plain(l)).collect());
    // Held open until mount returns, when the paths are too long.
    let mut held = Vec::new();
    if data.len() >= PAGE {
        for l in lowers {
            held.push(super::fsat::open_dir(l)?);
        }
        data = joined(held.iter().map(|fd| format!("/proc/self/fd/{}", fd.as_raw_fd()).into_bytes()).collect());
        if data.len() >= PAGE {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "too many layers for mount(2)"));
        }
    }
    let data = cstr(&data)?;
    nix::mount::mount(Some("overlay"), target, Some("overlay"), MsFlags::empty(), Some(data.as_c_str())).map_err(io::Error::from)
}

/// overlayfs splits lowerdir at `:` and the option string at `,`; a
/// backslash escapes either.
fn escape_option(p: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.len());
    for &b in p {
        if matches!(b, b':' | b',' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mountinfo() {
        let t = "22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
                 90 22 0:50 / /var/lib/x\\040y rw - overlay overlay rw,lowerdir=/a:/b,upperdir=/u,workdir=/w\n";
        let m = parse_mountinfo(t);
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].mount_point, Path::new("/var/lib/x y"));
        assert_eq!(m[1].fs_type, "overlay");
        assert!(m[1].options.contains("upperdir=/u"));
    }

    #[test]
    fn create_is_atomic_and_copies_nothing() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("c1");
        let t = std::time::Instant::now();
        let l = ContainerLayer::create(&root).unwrap();
        assert!(t.elapsed() < std::time::Duration::from_millis(50));
        assert!(l.upper().is_dir() && l.work().is_dir());
        assert!(ContainerLayer::create(&root).is_err(), "an existing layer is not replaced");
        assert_eq!(ContainerLayer::open(&root).unwrap(), l);
        assert!(matches!(ContainerLayer::open(d.path()), Err(Error::NotAContainerLayer { .. })));
        l.remove().unwrap();
        assert!(!root.exists());
        assert_eq!(escape_option(b"/a:b,c\\d"), b"/a\\:b\\,c\\\\d");
    }
}
