//! A checksum walk of a directory tree, for comparing a copy with its
//! source: paths, types, modes, owners, mtimes, extended attributes, link
//! targets, content checksums and hard link groups.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub path: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: (i64, i64),
    pub size: u64,
    pub rdev: u64,
    pub link: Option<String>,
    pub checksum: Option<String>,
    pub xattrs: BTreeMap<String, Vec<u8>>,
    /// The first path (in walk order) of this file's hard link group.
    pub hardlink_group: Option<String>,
}

/// Every node below `top` (itself as ""), sorted by path.
pub fn snapshot(top: &Path) -> Vec<Node> {
    let mut out = Vec::new();
    let mut groups: HashMap<(u64, u64), String> = HashMap::new();
    walk(top, "", &mut out, &mut groups);
    out
}

fn walk(p: &Path, rel: &str, out: &mut Vec<Node>, groups: &mut HashMap<(u64, u64), String>) {
    let m = fs::symlink_metadata(p).unwrap();
    let ft = m.file_type();
    let link = ft.is_symlink().then(|| fs::read_link(p).unwrap().to_string_lossy().into_owned());
    let checksum = ft.is_file().then(|| hash(p));
    let hardlink_group =
        (!ft.is_dir() && m.nlink() > 1).then(|| groups.entry((m.dev(), m.ino())).or_insert_with(|| rel.to_string()).clone());
    out.push(Node {
        path: rel.to_string(),
        mode: m.mode(),
        uid: m.uid(),
        gid: m.gid(),
        mtime: (m.mtime(), m.mtime_nsec()),
        size: if ft.is_dir() { 0 } else { m.size() },
        rdev: m.rdev(),
        link,
        checksum,
        xattrs: if ft.is_symlink() { BTreeMap::new() } else { xattrs(p) },
        hardlink_group,
    });
    if ft.is_dir() {
        let mut names: Vec<_> = fs::read_dir(p).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        for n in names {
            let child = if rel.is_empty() { n.to_string_lossy().into_owned() } else { format!("{rel}/{}", n.to_string_lossy()) };
            walk(&p.join(&n), &child, out, groups);
        }
    }
}

/// coreutils' cksum (CRC and length): gigabytes a second even in a debug
/// build of the tests; a copy error is not adversarial.
fn hash(p: &Path) -> String {
    let out = std::process::Command::new("cksum").arg(p).output().unwrap();
    assert!(out.status.success(), "cksum {}", p.display());
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

fn xattrs(p: &Path) -> BTreeMap<String, Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let cpath = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    let mut names = vec![0u8; 64 << 10];
    // SAFETY: the buffer is valid for its length; the path is NUL-terminated.
    let n = unsafe { nix::libc::llistxattr(cpath.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    let mut map = BTreeMap::new();
    if n <= 0 {
        return map;
    }
    for name in names[..n as usize].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        if name == b"security.selinux" {
            continue;
        }
        let cname = std::ffi::CString::new(name).unwrap();
        let mut value = vec![0u8; 64 << 10];
        // SAFETY: as above, for the value buffer.
        let m = unsafe { nix::libc::lgetxattr(cpath.as_ptr(), cname.as_ptr(), value.as_mut_ptr().cast(), value.len()) };
        assert!(m >= 0, "lgetxattr {}", p.display());
        value.truncate(m as usize);
        map.insert(String::from_utf8_lossy(name).into_owned(), value);
    }
    map
}

/// Compare two snapshots field by field, naming the first difference.
pub fn assert_same(a: &[Node], b: &[Node]) {
    let pa: Vec<&str> = a.iter().map(|n| n.path.as_str()).collect();
    let pb: Vec<&str> = b.iter().map(|n| n.path.as_str()).collect();
    assert_eq!(pa, pb, "the trees hold different paths");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x, y, "{} differs", x.path);
    }
}

/// Reset the peak resident set size of this process (VmHWM).
pub fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

/// The peak resident set size of this process since the last reset, in KiB.
pub fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The current resident set size, in KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}
