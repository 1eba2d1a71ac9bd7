//! Unpacking one layer (an uncompressed tar stream) into its own directory,
//! in the form overlayfs reads as a lower layer: a whiteout `.wh.NAME`
//! becomes a 0:0 character device `NAME`, an opaque marker `.wh..wh..opq`
//! becomes the xattr `trusted.overlay.opaque=y` on its directory.
//!
//! Every entry is created through [`TreeWriter`], which cannot write outside
//! the layer's directory; entries that try are refused by name.

use super::error::{Error, Result};
use super::tree::{clean_path, Meta, Node, TreeWriter};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use tar::EntryType;

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

fn malformed(source: io::Error) -> Error {
    if source.kind() == io::ErrorKind::UnexpectedEof {
        Error::Truncated { what: "a layer".into() }
    } else {
        Error::MalformedArchive { source }
    }
}

/// Unpack the tar stream `tar` into `dir`, which is created and must not
/// exist. On failure `dir` is removed. The stream is read up to the tar's
/// end-of-archive marker, not necessarily to its end.
pub fn unpack_layer<R: Read>(tar: &mut R, dir: &Path) -> Result<()> {
    std::fs::create_dir(dir).map_err(Error::io("create", dir))?;
    let r = unpack_into(tar, dir);
    if r.is_err() {
        // The failure is what the caller needs to hear about; a directory
        // that cannot be removed is swept when the store is next opened.
        let _ = std::fs::remove_dir_all(dir);
    }
    r
}

fn unpack_into<R: Read>(tar: &mut R, dir: &Path) -> Result<()> {
    let mut w = TreeWriter::new(dir)?;
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries().map_err(malformed)? {
        let mut e = entry.map_err(malformed)?;
        let kind = e.header().entry_type();
        if kind.is_pax_global_extensions() {
            continue;
        }
        let raw = e.path().map_err(malformed)?.into_owned();
        let name = raw.display().to_string();
        let path = clean_path(&raw).ok_or_else(|| Error::PathEscapes { entry: name.clone() })?;
        let meta = read_meta(&mut e)?;

        match classify(&path) {
            Special::Opaque(dir) => {
                w.set_opaque(dir, &name)?;
                continue;
            }
            Special::Whiteout(hidden) => {
                w.put(&hidden, &name, Node::Whiteout, &meta)?;
                continue;
            }
            Special::Ignore => continue,
            Special::None => {}
        }
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let size = e.size();
                w.put(&path, &name, Node::File { data: &mut e, size }, &meta)?;
            }
            EntryType::Directory => w.put(&path, &name, Node::Dir, &meta)?,
            EntryType::Symlink | EntryType::Link => {
                let target = e.link_name().map_err(malformed)?.ok_or_else(|| Error::MalformedMetadata {
                    what: format!("layer entry {name:?}"),
                    reason: "a link without a target".into(),
                })?;
                let target = target.into_owned();
                let node = if kind == EntryType::Symlink { Node::Symlink(&target) } else { Node::HardLink(&target) };
                w.put(&path, &name, node, &meta)?;
            }
            EntryType::Char | EntryType::Block => {
                let h = e.header();
                let major = u64::from(h.device_major().map_err(malformed)?.unwrap_or(0));
                let minor = u64::from(h.device_minor().map_err(malformed)?.unwrap_or(0));
                let node = if kind == EntryType::Char { Node::Char { major, minor } } else { Node::Block { major, minor } };
                w.put(&path, &name, node, &meta)?;
            }
            EntryType::Fifo => w.put(&path, &name, Node::Fifo, &meta)?,
            other => return Err(Error::UnsupportedEntryType { entry: name, kind: other.as_byte() }),
        }
    }
    w.finish()
}

/// What an entry's name makes of it, for overlayfs.
#[derive(Debug, PartialEq, Eq)]
enum Special<'a> {
    /// `DIR/.wh..wh..opq`: DIR hides the lower layers' content.
    Opaque(&'a Path),
    /// `DIR/.wh.NAME`: DIR/NAME of the lower layers is deleted.
    Whiteout(PathBuf),
    /// Other `.wh..wh.` names: aufs bookkeeping, without meaning here.
    Ignore,
    None,
}

fn classify(path: &Path) -> Special<'_> {
    let base = path.file_name().map(|b| b.as_bytes()).unwrap_or_default();
    let parent = path.parent().unwrap_or(Path::new(""));
    if base == OPAQUE_MARKER {
        return Special::Opaque(parent);
    }
    match base.strip_prefix(WHITEOUT_PREFIX) {
        Some(hidden) if hidden.is_empty() || hidden.starts_with(WHITEOUT_PREFIX) => Special::Ignore,
        Some(hidden) => Special::Whiteout(parent.join(OsStr::from_bytes(hidden))),
        None => Special::None,
    }
}

/// Owner, mode, time and xattrs from the header and its PAX records, which
/// win (they carry big ids, sub-second times and `SCHILY.xattr.*`).
fn read_meta<R: Read>(e: &mut tar::Entry<'_, R>) -> Result<Meta> {
    let h = e.header();
    let id = |v: io::Result<u64>| -> Result<u32> {
        let v = v.map_err(malformed)?;
        u32::try_from(v).map_err(|_| Error::MalformedMetadata { what: "a layer entry".into(), reason: format!("owner id {v} is too large") })
    };
    let mut meta = Meta {
        mode: h.mode().map_err(malformed)? & 0o7777,
        uid: id(h.uid())?,
        gid: id(h.gid())?,
        mtime: (i64::try_from(h.mtime().map_err(malformed)?).unwrap_or(i64::MAX), 0),
        xattrs: Vec::new(),
    };
    if let Some(exts) = e.pax_extensions().map_err(malformed)? {
        for ext in exts {
            let ext = ext.map_err(malformed)?;
            let Ok(key) = ext.key() else { continue };
            let text = || std::str::from_utf8(ext.value_bytes()).unwrap_or("");
            let bad = |what: &str| Error::MalformedMetadata { what: "a PAX record".into(), reason: format!("invalid {what} {:?}", text()) };
            match key {
                "uid" => meta.uid = text().parse().map_err(|_| bad("uid"))?,
                "gid" => meta.gid = text().parse().map_err(|_| bad("gid"))?,
                "mtime" => meta.mtime = parse_pax_time(text()).ok_or_else(|| bad("mtime"))?,
                k => {
                    if let Some(attr) = k.strip_prefix("SCHILY.xattr.") {
                        meta.xattrs.push((attr.to_string(), ext.value_bytes().to_vec()));
                    }
                }
            }
        }
    }
    Ok(meta)
}

/// A PAX time: `SECONDS[.FRACTION]`, possibly negative.
fn parse_pax_time(s: &str) -> Option<(i64, u32)> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    let nanos: u32 = digits.parse().ok()?;
    if secs < 0 && nanos > 0 {
        // -1.5 is 1.5 s before the epoch: -2 s + 0.5 s.
        return Some((secs - 1, 1_000_000_000 - nanos));
    }
    Some((secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteouts_and_opaque_markers() {
        fn c(s: &str) -> Special<'_> {
            classify(Path::new(s))
        }
        assert_eq!(c("a/b/.wh..wh..opq"), Special::Opaque(Path::new("a/b")));
        assert_eq!(c(".wh..wh..opq"), Special::Opaque(Path::new("")));
        assert_eq!(c("etc/.wh.passwd"), Special::Whiteout(PathBuf::from("etc/passwd")));
        assert_eq!(c(".wh.x"), Special::Whiteout(PathBuf::from("x")));
        assert_eq!(c("a/.wh..wh.plnk"), Special::Ignore);
        assert_eq!(c("a/.wh."), Special::Ignore);
        assert_eq!(c("a/wh.x"), Special::None);
        assert_eq!(c("a/x.wh.y"), Special::None);
    }

    #[test]
    fn pax_times() {
        assert_eq!(parse_pax_time("1700000000"), Some((1_700_000_000, 0)));
        assert_eq!(parse_pax_time("1700000000.5"), Some((1_700_000_000, 500_000_000)));
        assert_eq!(parse_pax_time("1.123456789123"), Some((1, 123_456_789)));
        assert_eq!(parse_pax_time("-1.5"), Some((-2, 500_000_000)));
        assert_eq!(parse_pax_time("x"), None);
        assert_eq!(parse_pax_time("1.x"), None);
    }

    // Archives built by hand, owned by whoever runs the test, so that no
    // privilege is needed.
    struct Tar(tar::Builder<Vec<u8>>);

    fn ids() -> (u64, u64) {
        (u64::from(nix::unistd::geteuid().as_raw()), u64::from(nix::unistd::getegid().as_raw()))
    }

    impl Tar {
        fn new() -> Self {
            Tar(tar::Builder::new(Vec::new()))
        }

        /// An entry whose name is written as given, even when tar's own
        /// checks would refuse it.
        fn raw(mut self, name: &str, kind: EntryType, link: &str, data: &[u8], mode: u32) -> Self {
            let mut h = tar::Header::new_gnu();
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
            h.set_entry_type(kind);
            h.set_size(data.len() as u64);
            h.set_mode(mode);
            let (u, g) = ids();
            h.set_uid(u);
            h.set_gid(g);
            h.set_mtime(1_600_000_000);
            h.set_cksum();
            self.0.append(&h, data).unwrap();
            self
        }

        fn file(self, name: &str, data: &[u8]) -> Self {
            self.raw(name, EntryType::Regular, "", data, 0o644)
        }

        fn bytes(self) -> Vec<u8> {
            self.0.into_inner().unwrap()
        }
    }

    struct Scene {
        _tmp: tempfile::TempDir,
        layer: std::path::PathBuf,
        canary: std::path::PathBuf,
    }

    fn scene() -> Scene {
        let tmp = tempfile::tempdir().unwrap();
        let canary = tmp.path().join("canary");
        std::fs::create_dir(&canary).unwrap();
        Scene { layer: tmp.path().join("store/layer"), canary, _tmp: tmp }
    }

    fn refused(tar: Vec<u8>) -> Error {
        let s = scene();
        std::fs::create_dir(s.layer.parent().unwrap()).unwrap();
        let e = unpack_layer(&mut &tar[..], &s.layer).unwrap_err();
        assert!(!s.layer.exists(), "a failed unpack leaves nothing behind");
        assert_eq!(std::fs::read_dir(&s.canary).unwrap().count(), 0, "nothing written outside");
        assert_eq!(std::fs::read_dir(s.layer.parent().unwrap()).unwrap().count(), 0);
        e
    }

    #[test]
    fn refuses_dot_dot() {
        let e = refused(Tar::new().file("../canary/x", b"evil").bytes());
        assert!(matches!(e, Error::PathEscapes { ref entry } if entry == "../canary/x"), "{e}");
        let e = refused(Tar::new().file("a/../../../canary/x", b"evil").bytes());
        assert!(matches!(e, Error::PathEscapes { .. }), "{e}");
        let e = refused(Tar::new().file("/../x", b"evil").bytes());
        assert!(matches!(e, Error::PathEscapes { .. }), "{e}");
    }

    #[test]
    fn refuses_paths_through_symlinks() {
        let s = scene();
        let canary = s.canary.display().to_string();
        let e = refused(Tar::new().raw("l", EntryType::Symlink, &canary, b"", 0o777).file("l/x", b"evil").bytes());
        assert!(matches!(e, Error::PathThroughSymlink { ref entry } if entry == "l/x"), "{e}");
        let e = refused(Tar::new().raw("up", EntryType::Symlink, "..", b"", 0o777).file("up/x", b"evil").bytes());
        assert!(matches!(e, Error::PathThroughSymlink { .. }), "{e}");
        // A directory replaced by a link, then written through.
        let e = refused(
            Tar::new().raw("d/", EntryType::Directory, "", b"", 0o755).raw("d", EntryType::Symlink, &canary, b"", 0o777).file("d/x", b"evil").bytes(),
        );
        assert!(matches!(e, Error::PathThroughSymlink { .. }), "{e}");
        assert_eq!(std::fs::read_dir(&s.canary).unwrap().count(), 0);
    }

    #[test]
    fn refuses_hard_links_outside() {
        let e = refused(Tar::new().raw("h", EntryType::Link, "../canary/x", b"", 0o644).bytes());
        assert!(matches!(e, Error::HardLinkEscapes { .. }), "{e}");
        let e = refused(Tar::new().raw("l", EntryType::Symlink, "/etc", b"", 0o777).raw("h", EntryType::Link, "l/passwd", b"", 0o644).bytes());
        assert!(matches!(e, Error::HardLinkEscapes { .. }), "{e}");
        let e = refused(Tar::new().raw("h", EntryType::Link, "nothing", b"", 0o644).bytes());
        assert!(matches!(e, Error::HardLinkTargetMissing { .. }), "{e}");
    }

    #[test]
    fn refuses_unknown_types_huge_files_and_truncation() {
        let e = refused(Tar::new().raw("v", EntryType::new(b'V'), "", b"", 0o644).bytes());
        assert!(matches!(e, Error::UnsupportedEntryType { kind: b'V', .. }), "{e}");
        let mut h = tar::Header::new_gnu();
        h.set_path("huge").unwrap();
        h.set_size(1 << 40);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_cksum();
        let mut tar = h.as_bytes().to_vec();
        tar.extend_from_slice(&[0; 4096]);
        let e = refused(tar);
        assert!(matches!(e, Error::NoSpace { needed: 1_099_511_627_776, .. }), "{e}");
        let mut whole = Tar::new().file("big", &[7; 10_000]).bytes();
        whole.truncate(3000);
        let e = refused(whole);
        assert!(matches!(e, Error::Truncated { .. }), "{e}");
    }

    #[test]
    fn unpacks_types_modes_and_times() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let s = scene();
        std::fs::create_dir(s.layer.parent().unwrap()).unwrap();
        let tar = Tar::new()
            .raw("/d/", EntryType::Directory, "", b"", 0o1750)
            .raw("d/f", EntryType::Regular, "", b"data", 0o4755)
            .raw("d/h", EntryType::Link, "/d/f", b"", 0o644)
            .raw("d/s", EntryType::Symlink, "/nowhere/../f", b"", 0o777)
            .raw("d/p", EntryType::Fifo, "", b"", 0o640)
            .file("implicit/parent/x", b"x")
            .file("d/g", b"old")
            .file("d/g", b"new")
            .bytes();
        unpack_layer(&mut &tar[..], &s.layer).unwrap();
        let m = |p: &str| std::fs::symlink_metadata(s.layer.join(p)).unwrap();
        assert_eq!(m("d").permissions().mode() & 0o7777, 0o1750);
        assert_eq!(m("d").mtime(), 1_600_000_000, "a directory's time is set after its content");
        assert_eq!(m("d/f").permissions().mode() & 0o7777, 0o4755);
        assert_eq!(m("d/f").ino(), m("d/h").ino());
        assert_eq!(std::fs::read_link(s.layer.join("d/s")).unwrap(), Path::new("/nowhere/../f"));
        assert!(m("d/p").file_type().is_fifo_like());
        assert_eq!(std::fs::read(s.layer.join("d/g")).unwrap(), b"new");
        assert_eq!(m("implicit/parent").permissions().mode() & 0o7777, 0o755);
        assert_eq!(m("d/f").uid() as u64, ids().0);
    }

    trait FifoLike {
        fn is_fifo_like(&self) -> bool;
    }
    impl FifoLike for std::fs::FileType {
        fn is_fifo_like(&self) -> bool {
            std::os::unix::fs::FileTypeExt::is_fifo(self)
        }
    }
}
