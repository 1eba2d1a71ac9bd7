//! Writing a tar stream: GNU headers (sparse maps, large numbers), PAX
//! records for long names, sub-second mtimes and extended attributes.
//!
//! Every entry's data is exactly the size its header declares, whatever the
//! file does meanwhile: a file that shrinks while it is read is padded with
//! zeros, one that grows is cut. The stream stays a valid archive.

use super::error::{Error, Result};
use nix::errno::Errno;
use nix::unistd::{lseek, Whence};
use std::fs::File;
use std::io::Write;
use std::os::fd::RawFd;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use tar::{EntryType, GnuExtSparseHeader, Header};

pub(crate) const BLOCK: u64 = 512;
/// One read and one write of file data at a time.
pub(crate) const CHUNK: usize = 1 << 20;
/// A file with more data extents than this is archived dense: its map
/// would cost more than the holes save.
const MAX_SPARSE_SEGMENTS: usize = 1 << 16;

/// What one archive entry is.
pub(crate) enum Kind<'a> {
    File,
    Dir,
    Symlink(&'a [u8]),
    HardLink(&'a [u8]),
    Char(u64),
    Block(u64),
    Fifo,
}

/// One entry's metadata. `path` is relative, without a trailing slash.
pub(crate) struct Meta<'a> {
    pub path: &'a [u8],
    pub kind: Kind<'a>,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub uname: Option<&'a str>,
    pub gname: Option<&'a str>,
    pub mtime: (i64, u32),
    pub xattrs: &'a [(Vec<u8>, Vec<u8>)],
}

/// Where a regular file's data lies: `(offset, length)` extents, in order.
pub(crate) enum Layout {
    Dense,
    Sparse(Vec<(u64, u64)>),
}

pub(crate) struct ArchiveWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    pub(crate) bytes: u64,
}

impl<W: Write> ArchiveWriter<W> {
    pub(crate) fn new(out: W) -> Self {
        ArchiveWriter { out, buf: vec![0; CHUNK], bytes: 0 }
    }

    fn put(&mut self, data: &[u8]) -> Result<()> {
        self.out.write_all(data).map_err(Error::output)?;
        self.bytes += data.len() as u64;
        Ok(())
    }

    fn pad(&mut self, len: u64) -> Result<()> {
        let rest = (BLOCK - len % BLOCK) % BLOCK;
        self.put(&[0u8; BLOCK as usize][..rest as usize])
    }

    /// Write an entry without data (everything but regular files).
    pub(crate) fn entry(&mut self, meta: &Meta) -> Result<()> {
        self.headers(meta, 0, None)
    }

    /// Write a regular file's entry and its data, read from `fd` at the
    /// given layout. `size` is the file's size when it was looked at.
    pub(crate) fn file(&mut self, meta: &Meta, fd: &File, size: u64, layout: &Layout, cancel: &AtomicBool, path: &str) -> Result<()> {
        match layout {
            Layout::Dense => {
                self.headers(meta, size, None)?;
                self.data(fd, 0, size, cancel, path)?;
                self.pad(size)
            }
            Layout::Sparse(segments) => {
                let stored: u64 = segments.iter().map(|s| s.1).sum();
                self.headers(meta, stored, Some((segments, size)))?;
                for &(off, len) in segments {
                    self.data(fd, off, len, cancel, path)?;
                }
                self.pad(stored)
            }
        }
    }

    /// Exactly `len` bytes of the file from `offset`, zeros past its end.
    fn data(&mut self, fd: &File, mut offset: u64, len: u64, cancel: &AtomicBool, path: &str) -> Result<()> {
        let mut left = len;
        let mut buf = std::mem::take(&mut self.buf);
        let result = (|| {
            while left > 0 {
                if cancel.load(Ordering::Relaxed) {
                    return Err(Error::Canceled);
                }
                let want = left.min(buf.len() as u64) as usize;
                let n = match fd.read_at(&mut buf[..want], offset) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(source) => return Err(Error::ReadFile { path: path.to_string(), source }),
                };
                if n == 0 {
                    // The file shrank: keep the archive valid with zeros.
                    buf[..want].fill(0);
                    self.put(&buf[..want])?;
                    left -= want as u64;
                    continue;
                }
                self.put(&buf[..n])?;
                left -= n as u64;
                offset += n as u64;
            }
            Ok(())
        })();
        self.buf = buf;
        result
    }

    fn headers(&mut self, meta: &Meta, data_size: u64, sparse: Option<(&Vec<(u64, u64)>, u64)>) -> Result<()> {
        let mut name = meta.path.to_vec();
        if matches!(meta.kind, Kind::Dir) {
            name.push(b'/');
        }
        let link: &[u8] = match meta.kind {
            Kind::Symlink(t) | Kind::HardLink(t) => t,
            _ => b"",
        };
        let mut pax = Vec::new();
        if name.len() > 100 {
            pax_record(&mut pax, b"path", &name);
        }
        if link.len() > 100 {
            pax_record(&mut pax, b"linkpath", link);
        }
        let (secs, nanos) = meta.mtime;
        if nanos != 0 || secs < 0 {
            let text = if nanos == 0 { format!("{secs}") } else { format!("{secs}.{nanos:09}") };
            pax_record(&mut pax, b"mtime", text.as_bytes());
        }
        for (k, v) in meta.xattrs {
            let mut key = b"SCHILY.xattr.".to_vec();
            key.extend_from_slice(k);
            pax_record(&mut pax, &key, v);
        }
        if !pax.is_empty() {
            let mut h = Header::new_ustar();
            set_bytes(&mut h.as_old_mut().name, b"././@PaxHeader");
            h.set_mode(0o644);
            h.set_size(pax.len() as u64);
            h.set_entry_type(EntryType::XHeader);
            h.set_cksum();
            self.put(h.as_bytes())?;
            self.put(&pax)?;
            self.pad(pax.len() as u64)?;
        }

        let mut h = Header::new_gnu();
        set_bytes(&mut h.as_old_mut().name, &name);
        set_bytes(&mut h.as_old_mut().linkname, link);
        h.set_mode(meta.mode & 0o7777);
        h.set_uid(meta.uid.into());
        h.set_gid(meta.gid.into());
        h.set_mtime(secs.max(0) as u64);
        h.set_size(data_size);
        if let Some(u) = meta.uname {
            // Names that do not fit stay out; the numbers are what counts.
            let _ = h.set_username(u);
        }
        if let Some(g) = meta.gname {
            let _ = h.set_groupname(g);
        }
        let ty = match meta.kind {
            Kind::File if sparse.is_some() => EntryType::GNUSparse,
            Kind::File => EntryType::Regular,
            Kind::Dir => EntryType::Directory,
            Kind::Symlink(_) => EntryType::Symlink,
            Kind::HardLink(_) => EntryType::Link,
            Kind::Char(_) => EntryType::Char,
            Kind::Block(_) => EntryType::Block,
            Kind::Fifo => EntryType::Fifo,
        };
        h.set_entry_type(ty);
        if let Kind::Char(dev) | Kind::Block(dev) = meta.kind {
            let major = nix::sys::stat::major(dev) as u32;
            let minor = nix::sys::stat::minor(dev) as u32;
            h.set_device_major(major).map_err(Error::output)?;
            h.set_device_minor(minor).map_err(Error::output)?;
        }
        let mut ext_blocks = Vec::new();
        if let Some((segments, real_size)) = sparse {
            let gnu = h.as_gnu_mut().ok_or_else(|| Error::output(std::io::Error::other("not a GNU header")))?;
            gnu.set_real_size(real_size);
            for (slot, &(off, len)) in gnu.sparse.iter_mut().zip(segments.iter()) {
                slot.set_offset(off);
                slot.set_length(len);
            }
            gnu.set_is_extended(segments.len() > gnu.sparse.len());
            let mut rest = segments.iter().skip(gnu.sparse.len()).peekable();
            while rest.peek().is_some() {
                let mut ext = GnuExtSparseHeader::new();
                for slot in ext.sparse.iter_mut() {
                    let Some(&(off, len)) = rest.next() else { break };
                    slot.set_offset(off);
                    slot.set_length(len);
                }
                ext.set_is_extended(rest.peek().is_some());
                ext_blocks.extend_from_slice(ext.as_bytes());
            }
        }
        h.set_cksum();
        self.put(h.as_bytes())?;
        self.put(&ext_blocks)
    }

    /// The end-of-archive marker (two zero blocks), then flush.
    pub(crate) fn finish(&mut self) -> Result<()> {
        self.put(&[0u8; 2 * BLOCK as usize])?;
        self.out.flush().map_err(Error::output)
    }
}

/// Up to the field's size; a longer value goes into a PAX record too.
fn set_bytes(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// `"<len> <key>=<value>\n"`, where len counts the whole record.
fn pax_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// The data extents of an open regular file of `size` bytes, found with
/// `SEEK_DATA`/`SEEK_HOLE`; dense when it has no holes or the file system
/// cannot tell.
pub(crate) fn layout(fd: RawFd, size: u64, blocks: i64) -> Layout {
    if size == 0 || (blocks as u64).saturating_mul(512) >= size {
        return Layout::Dense;
    }
    let mut segments = Vec::new();
    let mut pos: i64 = 0;
    let end = size as i64;
    while pos < end {
        let data = match lseek(fd, pos, Whence::SeekData) {
            Ok(d) if d >= end => break,
            Ok(d) => d,
            Err(Errno::ENXIO) => break,
            Err(_) => return Layout::Dense,
        };
        let hole = match lseek(fd, data, Whence::SeekHole) {
            Ok(h) => h.min(end),
            Err(_) => return Layout::Dense,
        };
        if hole <= data {
            return Layout::Dense;
        }
        segments.push((data as u64, (hole - data) as u64));
        if segments.len() > MAX_SPARSE_SEGMENTS {
            return Layout::Dense;
        }
        pos = hole;
    }
    if segments.len() == 1 && segments[0] == (0, size) {
        return Layout::Dense;
    }
    // GNU tar ends every map with an empty extent at the file's size, so a
    // trailing hole is not lost on readers that size files by the map.
    segments.push((size, 0));
    Layout::Sparse(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_lengths_count_themselves() {
        for (k, v) in [("path", "a".repeat(5)), ("path", "b".repeat(93)), ("mtime", "1.5".to_string())] {
            let mut out = Vec::new();
            pax_record(&mut out, k.as_bytes(), v.as_bytes());
            let text = String::from_utf8(out.clone()).unwrap();
            let (len, _) = text.split_once(' ').unwrap();
            assert_eq!(len.parse::<usize>().unwrap(), out.len(), "{text:?}");
        }
    }
}
