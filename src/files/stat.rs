//! `stat` of a path in a container, shaped like podman's `define.FileInfo`.

use super::error::{Error, Result};
use super::resolve::{canonical_path, components, file_type, open_in_root};
use super::root::ContainerRoot;
use nix::fcntl::{readlinkat, OFlag};
use nix::sys::stat::{fstat, FileStat, SFlag};
use serde::{Deserialize, Serialize};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;

/// What podman's `ContainerStat` reports, plus the Unix view.
///
/// `mode` holds Go's `os.FileMode` bits, as podman serialises them (the
/// permission bits, plus `ModeDir`, `ModeSymlink`, `ModeDevice`,
/// `ModeCharDevice`, `ModeNamedPipe`, `ModeSocket`, `ModeSetuid`,
/// `ModeSetgid`, `ModeSticky`); `unix_mode` is the file's `st_mode`.
///
/// `link_target`: with `follow_final_symlink`, the absolute path inside the
/// container that a symlink at `path` leads to (podman's `LinkTarget`), and
/// the other fields describe that target; without it, the link's own text
/// and the fields describe the link. `None` when `path` is not a symlink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub name: String,
    pub size: u64,
    pub mode: u32,
    pub unix_mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime_secs: i64,
    pub mtime_nanos: u32,
    pub is_dir: bool,
    pub link_target: Option<String>,
}

/// Go's `io/fs.FileMode` type bits.
pub mod go_mode {
    pub const DIR: u32 = 1 << 31;
    pub const SYMLINK: u32 = 1 << 27;
    pub const DEVICE: u32 = 1 << 26;
    pub const NAMED_PIPE: u32 = 1 << 25;
    pub const SOCKET: u32 = 1 << 24;
    pub const SETUID: u32 = 1 << 23;
    pub const SETGID: u32 = 1 << 22;
    pub const CHAR_DEVICE: u32 = 1 << 21;
    pub const STICKY: u32 = 1 << 20;
}

/// Go's `os.FileMode` for a Unix `st_mode`.
pub fn go_file_mode(st_mode: u32) -> u32 {
    let mut m = st_mode & 0o777;
    match SFlag::from_bits_truncate(st_mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFDIR => m |= go_mode::DIR,
        SFlag::S_IFLNK => m |= go_mode::SYMLINK,
        SFlag::S_IFBLK => m |= go_mode::DEVICE,
        SFlag::S_IFCHR => m |= go_mode::DEVICE | go_mode::CHAR_DEVICE,
        SFlag::S_IFIFO => m |= go_mode::NAMED_PIPE,
        SFlag::S_IFSOCK => m |= go_mode::SOCKET,
        _ => {}
    }
    if st_mode & 0o4000 != 0 {
        m |= go_mode::SETUID;
    }
    if st_mode & 0o2000 != 0 {
        m |= go_mode::SETGID;
    }
    if st_mode & 0o1000 != 0 {
        m |= go_mode::STICKY;
    }
    m
}

/// Describe `path` inside the container; see [`FileInfo`] for what a
/// symlink at `path` gives.
pub fn stat(root: &ContainerRoot, path: &str, follow_final_symlink: bool) -> Result<FileInfo> {
    let link = open_in_root(root, path, OFlag::O_PATH | OFlag::O_NOFOLLOW)?;
    let link_st = fstat(link.as_raw_fd()).map_err(|e| Error::resolve(path, e))?;
    let is_link = file_type(&link_st) == SFlag::S_IFLNK;
    let (st, link_target) = match (is_link, follow_final_symlink) {
        (false, _) => (link_st, None),
        (true, false) => {
            let text = readlinkat(Some(link.as_raw_fd()), "").map_err(|e| Error::resolve(path, e))?;
            (link_st, Some(String::from_utf8_lossy(text.as_bytes()).into_owned()))
        }
        (true, true) => {
            let target = open_in_root(root, path, OFlag::O_PATH)?;
            let st = fstat(target.as_raw_fd()).map_err(|e| Error::resolve(path, e))?;
            (st, Some(canonical_path(root, path, true)?))
        }
    };
    Ok(info(name_of(path), &st, link_target))
}

/// podman's `Name`: the last component of the path as given ("/" for the root).
fn name_of(path: &str) -> String {
    components(path.as_bytes()).next_back().map_or_else(|| "/".to_string(), |c| String::from_utf8_lossy(c).into_owned())
}

fn info(name: String, st: &FileStat, link_target: Option<String>) -> FileInfo {
    FileInfo {
        name,
        size: st.st_size as u64,
        mode: go_file_mode(st.st_mode),
        unix_mode: st.st_mode,
        uid: st.st_uid,
        gid: st.st_gid,
        mtime_secs: st.st_mtime,
        mtime_nanos: st.st_mtime_nsec as u32,
        is_dir: file_type(st) == SFlag::S_IFDIR,
        link_target,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn go_modes_match_podman() {
        assert_eq!(go_file_mode(0o040755), go_mode::DIR | 0o755);
        assert_eq!(go_file_mode(0o100644), 0o644);
        assert_eq!(go_file_mode(0o104755), go_mode::SETUID | 0o755);
        assert_eq!(go_file_mode(0o041777), go_mode::DIR | go_mode::STICKY | 0o777);
        assert_eq!(go_file_mode(0o120777), go_mode::SYMLINK | 0o777);
        assert_eq!(go_file_mode(0o020666), go_mode::DEVICE | go_mode::CHAR_DEVICE | 0o666);
        assert_eq!(go_file_mode(0o010600), go_mode::NAMED_PIPE | 0o600);
    }

    fn fixture() -> (tempfile::TempDir, ContainerRoot) {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("root");
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::create_dir_all(r.join("run/app")).unwrap();
        fs::create_dir_all(r.join("var")).unwrap();
        fs::write(r.join("etc/passwd"), "root:x:0:0::/:/bin/sh\n").unwrap();
        fs::set_permissions(r.join("etc/passwd"), fs::Permissions::from_mode(0o640)).unwrap();
        fs::write(d.path().join("passwd"), "host file, much longer than the container's").unwrap();
        symlink("/run", r.join("var/run")).unwrap();
        symlink("/etc/passwd", r.join("pw")).unwrap();
        symlink("../../passwd", r.join("escape")).unwrap();
        (d, ContainerRoot::of_dir(&r).unwrap())
    }

    #[test]
    fn regular_file_and_directory() {
        let (_d, root) = fixture();
        let f = stat(&root, "/etc/passwd", true).unwrap();
        assert_eq!((f.name.as_str(), f.size, f.mode, f.is_dir, f.link_target), ("passwd", 22, 0o640, false, None));
        assert_eq!(f.unix_mode & 0o170000, 0o100000);
        let d = stat(&root, "/run/app/", false).unwrap();
        assert!(d.is_dir);
        assert_eq!(d.name, "app");
        assert_eq!(d.mode & go_mode::DIR, go_mode::DIR);
        assert_eq!(stat(&root, "/", true).unwrap().name, "/");
    }

    #[test]
    fn symlinks_followed_or_not() {
        let (_d, root) = fixture();
        let followed = stat(&root, "/pw", true).unwrap();
        assert_eq!(followed.size, 22, "the container's passwd, not the host's");
        assert_eq!(followed.link_target.as_deref(), Some("/etc/passwd"));
        let raw = stat(&root, "/pw", false).unwrap();
        assert_eq!(raw.mode & go_mode::SYMLINK, go_mode::SYMLINK);
        assert_eq!(raw.link_target.as_deref(), Some("/etc/passwd"));
        let run = stat(&root, "/var/run", true).unwrap();
        assert!(run.is_dir);
        assert_eq!(run.link_target.as_deref(), Some("/run"));
        let esc = stat(&root, "/escape", false).unwrap();
        assert_eq!(esc.link_target.as_deref(), Some("../../passwd"));
        // Followed, it stays in the root: /passwd does not exist there.
        assert!(matches!(stat(&root, "/escape", true), Err(Error::NotFound { .. })));
    }

    #[test]
    fn missing_and_invalid() {
        let (_d, root) = fixture();
        assert!(matches!(stat(&root, "/nope", true), Err(Error::NotFound { .. })));
        assert!(matches!(stat(&root, "/etc/passwd/x", true), Err(Error::NotADirectory { .. })));
        assert!(matches!(stat(&root, "/etc\0", true), Err(Error::InvalidPath { .. })));
        let json = serde_json::to_string(&stat(&root, "/pw", true).unwrap()).unwrap();
        assert!(json.contains("\"link_target\":\"/etc/passwd\""), "{json}");
    }
}
