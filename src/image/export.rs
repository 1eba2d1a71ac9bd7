//! Writing a directory tree (a container's mounted root) as a tar stream:
//! types, modes, owners, mtimes (whole seconds), xattrs (PAX
//! `SCHILY.xattr.*`), hard links as links and device nodes, never following
//! a symbolic link. Files stream through a fixed buffer: memory stays small
//! whatever the tree holds.

use super::error::{Error, Result};
use super::tree::Meta;
use super::walk::{walk, Found};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use tar::{EntryType, Header};

/// Write the tree at `root` to `out` as a tar archive. Its root is the
/// entry `./`; everything else is named relative to it.
pub fn export_tree(root: &Path, out: impl Write) -> Result<()> {
    let mut b = tar::Builder::new(out);
    let fail = |source: io::Error| Error::Io { op: "write the archive of", path: root.to_path_buf(), source };
    walk(root, &mut |path, found, meta| {
        let name: PathBuf = if path.as_os_str().is_empty() { PathBuf::from("./") } else { path.to_path_buf() };
        if !meta.xattrs.is_empty() {
            pax_xattrs(&mut b, &meta.xattrs).map_err(fail)?;
        }
        let mut h = header(meta);
        match found {
            Found::File(f, size) => {
                h.set_entry_type(EntryType::Regular);
                h.set_size(size);
                // A file that shrinks while it is read is padded, one that
                // grows is cut: the archive stays well formed.
                let data = f.take(size).chain(io::repeat(0)).take(size);
                b.append_data(&mut h, &name, data).map_err(fail)
            }
            Found::Dir => {
                h.set_entry_type(EntryType::Directory);
                b.append_data(&mut h, &name, io::empty()).map_err(fail)
            }
            Found::Symlink(target) => {
                h.set_entry_type(EntryType::Symlink);
                b.append_link(&mut h, &name, &target).map_err(fail)
            }
            Found::HardLink(first) => {
                h.set_entry_type(EntryType::Link);
                b.append_link(&mut h, &name, first).map_err(fail)
            }
            Found::Char { major, minor } | Found::Block { major, minor } => {
                let kind = if matches!(found, Found::Char { .. }) { EntryType::Char } else { EntryType::Block };
                h.set_entry_type(kind);
                let num = |n: u64| u32::try_from(n).map_err(|_| io::Error::other("device number too large"));
                h.set_device_major(num(major).map_err(fail)?).map_err(fail)?;
                h.set_device_minor(num(minor).map_err(fail)?).map_err(fail)?;
                b.append_data(&mut h, &name, io::empty()).map_err(fail)
            }
            Found::Fifo => {
                h.set_entry_type(EntryType::Fifo);
                b.append_data(&mut h, &name, io::empty()).map_err(fail)
            }
        }
    })?;
    b.into_inner().map_err(fail)?.flush().map_err(fail)
}

fn header(meta: &Meta) -> Header {
    let mut h = Header::new_gnu();
    h.set_mode(meta.mode);
    h.set_uid(u64::from(meta.uid));
    h.set_gid(u64::from(meta.gid));
    h.set_mtime(u64::try_from(meta.mtime.0).unwrap_or(0));
    h.set_size(0);
    h
}

/// A PAX extended header carrying the next entry's xattrs.
fn pax_xattrs<W: Write>(b: &mut tar::Builder<W>, xattrs: &[(String, Vec<u8>)]) -> io::Result<()> {
    let mut data = Vec::new();
    for (k, v) in xattrs {
        data.extend(pax_record(&format!("SCHILY.xattr.{k}"), v));
    }
    let mut h = Header::new_ustar();
    h.set_entry_type(EntryType::XHeader);
    h.set_path("PaxHeaders/xattrs")?;
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    b.append(&h, &data[..])
}

/// One PAX record: `LEN key=value\n`, where LEN counts the whole record,
/// its own digits included.
pub fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let rest = key.len() + value.len() + 3;
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    let mut out = format!("{len} {key}=").into_bytes();
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn pax_lengths_count_themselves() {
        assert_eq!(pax_record("a", b"b"), b"6 a=b\n");
        let r = pax_record("k", &[b'v'; 94]);
        assert_eq!(r.len(), 101);
        assert!(r.starts_with(b"101 k="));
    }

    #[test]
    fn exports_a_tree_that_unpacks_to_the_same_tree() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::write(src.join("a/f"), b"hello").unwrap();
        std::fs::set_permissions(src.join("a/f"), std::fs::Permissions::from_mode(0o4750)).unwrap();
        std::fs::hard_link(src.join("a/f"), src.join("a/b/g")).unwrap();
        std::os::unix::fs::symlink("../../outside", src.join("a/l")).unwrap();
        nix::unistd::mkfifo(&src.join("p"), Mode::from_bits_truncate(0o640)).unwrap();
        let long = "n".repeat(150);
        std::fs::write(src.join(&long), b"long name").unwrap();
        let mut tar = Vec::new();
        export_tree(&src, &mut tar).unwrap();
        let out = d.path().join("out");
        crate::image::unpack::unpack_layer(&mut &tar[..], &out).unwrap();
        let m = |root: &Path, p: &str| std::fs::symlink_metadata(root.join(p)).unwrap();
        for p in ["a", "a/b", "a/f", "a/b/g", "a/l", "p", long.as_str()] {
            let (x, y) = (m(&src, p), m(&out, p));
            assert_eq!((x.mode(), x.uid(), x.gid(), x.mtime()), (y.mode(), y.uid(), y.gid(), y.mtime()), "{p}");
        }
        assert_eq!(m(&out, "a/f").ino(), m(&out, "a/b/g").ino(), "hard links stay links");
        assert_eq!(std::fs::read_link(out.join("a/l")).unwrap(), Path::new("../../outside"));
        assert_eq!(std::fs::read(out.join(&long)).unwrap(), b"long name");
        assert_eq!(m(&out, "a/f").permissions().mode() & 0o7777, 0o4750);
    }

    use nix::sys::stat::Mode;
}
