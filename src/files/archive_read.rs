//! Reading a tar stream from an untrusted sender, with bounded memory.
//!
//! Understands ustar, GNU (long names, old-style sparse files, base-256
//! numbers) and PAX (path, linkpath, size, uid, gid, mtime, `SCHILY.xattr.*`).
//! Extension records are capped in size, so a hostile header cannot make the
//! reader buffer gigabytes. The stream must end with the end-of-archive
//! marker: a sender that hangs up before it gets [`Error::TruncatedArchive`],
//! even at an entry boundary.

use super::archive_write::BLOCK;
use super::error::{Error, Result};
use std::io::{self, Read};
use tar::{GnuExtSparseHeader, Header, PaxExtensions};

/// GNU long names and link names longer than this are refused.
const MAX_LONG_NAME: u64 = 64 << 10;
/// PAX extension records (mostly extended attributes) above this are refused.
const MAX_PAX: u64 = 8 << 20;
/// Sparse maps with more extents than this are refused.
const MAX_SPARSE_SEGMENTS: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    File,
    Dir,
    Symlink,
    HardLink,
    Char,
    Block,
    Fifo,
    /// Anything else (volume labels, GNU dump directories...): skipped.
    Other(u8),
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub path: Vec<u8>,
    pub kind: EntryKind,
    pub link: Vec<u8>,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: (i64, u32),
    /// The file's size (for a sparse file, with its holes).
    pub size: u64,
    /// A sparse file's data extents `(offset, length)`, in stream order.
    pub sparse: Option<Vec<(u64, u64)>>,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    pub dev: (u32, u32),
}

pub(crate) struct ArchiveReader<R: Read> {
    input: R,
    offset: u64,
    /// Data bytes of the current entry not read yet.
    remaining: u64,
    /// Padding after the current entry's data.
    padding: u64,
}

/// What PAX records say about the next entry.
#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u32>,
    gid: Option<u32>,
    mtime: Option<(i64, u32)>,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl<R: Read> ArchiveReader<R> {
    pub(crate) fn new(input: R) -> Self {
        ArchiveReader { input, offset: 0, remaining: 0, padding: 0 }
    }

    pub(crate) fn into_inner(self) -> R {
        self.input
    }

    fn invalid(&self, reason: impl Into<String>) -> Error {
        Error::InvalidArchive { offset: self.offset, reason: reason.into() }
    }

    /// Fill `buf` entirely; `Ok(false)` on a clean EOF before the first byte.
    fn read_full(&mut self, buf: &mut [u8], context: &'static str) -> Result<bool> {
        let mut got = 0;
        while got < buf.len() {
            match self.input.read(&mut buf[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => return Err(Error::TruncatedArchive(context)),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(Error::Input { source }),
            }
        }
        self.offset += buf.len() as u64;
        Ok(true)
    }

    fn skip(&mut self, mut n: u64, context: &'static str) -> Result<()> {
        let mut buf = [0u8; 8192];
        while n > 0 {
            let k = n.min(buf.len() as u64) as usize;
            if !self.read_full(&mut buf[..k], context)? {
                return Err(Error::TruncatedArchive(context));
            }
            n -= k as u64;
        }
        Ok(())
    }

    /// Read the data of an extension entry of `size` bytes, capped.
    fn read_ext(&mut self, size: u64, max: u64, what: &str) -> Result<Vec<u8>> {
        if size > max {
            return Err(self.invalid(format!("{what} of {size} bytes (at most {max})")));
        }
        let mut data = vec![0u8; size as usize];
        if !self.read_full(&mut data, "inside an extension header")? {
            return Err(Error::TruncatedArchive("inside an extension header"));
        }
        self.skip(pad(size), "inside an extension header")?;
        Ok(data)
    }

    /// Read the current entry's data into `buf`; 0 at its end.
    pub(crate) fn read_data(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = self.remaining.min(buf.len() as u64) as usize;
        let n = loop {
            match self.input.read(&mut buf[..want]) {
                Ok(0) => return Err(Error::TruncatedArchive("inside the data of an entry")),
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(Error::Input { source }),
            }
        };
        self.remaining -= n as u64;
        self.offset += n as u64;
        Ok(n)
    }

    /// The next entry, after skipping what is left of the previous one;
    /// `None` at the end-of-archive marker.
    pub(crate) fn next_entry(&mut self) -> Result<Option<Entry>> {
        let rest = self.remaining + self.padding;
        self.remaining = 0;
        self.padding = 0;
        self.skip(rest, "inside the data of an entry")?;

        let mut long_name = None;
        let mut long_link = None;
        let mut pax = Pax::default();
        let mut block = [0u8; BLOCK as usize];
        loop {
            let at = self.offset;
            if !self.read_full(&mut block, "inside a header")? {
                return Err(Error::TruncatedArchive("before the end-of-archive marker"));
            }
            if block.iter().all(|b| *b == 0) {
                if long_name.is_some() || long_link.is_some() || pax.path.is_some() {
                    return Err(self.invalid("extension headers with no entry after them"));
                }
                return Ok(None);
            }
            let h = Header::from_byte_slice(&block);
            check_sum(&block).map_err(|r| Error::InvalidArchive { offset: at, reason: r.into() })?;
            let size = h.entry_size().map_err(|e| self.invalid(e.to_string()))?;
            match h.entry_type().as_byte() {
                b'L' => long_name = Some(trim_nul(self.read_ext(size, MAX_LONG_NAME, "a long name")?)),
                b'K' => long_link = Some(trim_nul(self.read_ext(size, MAX_LONG_NAME, "a long link name")?)),
                b'x' => pax = self.parse_pax(size)?,
                b'g' => {
                    self.read_ext(size, MAX_PAX, "a global PAX header")?;
                }
                _ => return self.entry(h, size, long_name, long_link, pax).map(Some),
            }
        }
    }

    fn parse_pax(&mut self, size: u64) -> Result<Pax> {
        let data = self.read_ext(size, MAX_PAX, "a PAX header")?;
        let mut pax = Pax::default();
        for rec in PaxExtensions::new(&data) {
            let rec = rec.map_err(|_| self.invalid("malformed PAX record"))?;
            let (key, value) = (rec.key_bytes(), rec.value_bytes());
            let text = || std::str::from_utf8(value).ok().map(str::trim);
            match key {
                b"path" => pax.path = Some(value.to_vec()),
                b"linkpath" => pax.link = Some(value.to_vec()),
                b"size" => pax.size = Some(text().and_then(|t| t.parse().ok()).ok_or_else(|| self.invalid("bad PAX size"))?),
                b"uid" => pax.uid = Some(text().and_then(|t| t.parse().ok()).ok_or_else(|| self.invalid("bad PAX uid"))?),
                b"gid" => pax.gid = Some(text().and_then(|t| t.parse().ok()).ok_or_else(|| self.invalid("bad PAX gid"))?),
                b"mtime" => pax.mtime = Some(text().and_then(parse_time).ok_or_else(|| self.invalid("bad PAX mtime"))?),
                k if k.starts_with(b"GNU.sparse.") => {
                    return Err(self.invalid("PAX-format sparse files are not supported (write GNU sparse entries)"))
                }
                k if k.starts_with(b"SCHILY.xattr.") => pax.xattrs.push((k[13..].to_vec(), value.to_vec())),
                _ => {}
            }
        }
        Ok(pax)
    }

    fn entry(&mut self, h: &Header, size: u64, long_name: Option<Vec<u8>>, long_link: Option<Vec<u8>>, pax: Pax) -> Result<Entry> {
        let bad = |what: &str| format!("bad {what} field");
        let kind = match h.entry_type().as_byte() {
            b'0' | b'\0' | b'7' | b'S' => EntryKind::File,
            b'1' => EntryKind::HardLink,
            b'2' => EntryKind::Symlink,
            b'3' => EntryKind::Char,
            b'4' => EntryKind::Block,
            b'5' => EntryKind::Dir,
            b'6' => EntryKind::Fifo,
            other => EntryKind::Other(other),
        };
        let path = pax.path.or(long_name).unwrap_or_else(|| h.path_bytes().into_owned());
        let link = pax.link.or(long_link).unwrap_or_else(|| h.link_name_bytes().map(|c| c.into_owned()).unwrap_or_default());
        let mode = h.mode().map_err(|_| self.invalid(bad("mode")))? & 0o7777;
        let uid = match pax.uid {
            Some(u) => u,
            None => u32::try_from(h.uid().map_err(|_| self.invalid(bad("uid")))?).map_err(|_| self.invalid("uid out of range"))?,
        };
        let gid = match pax.gid {
            Some(g) => g,
            None => u32::try_from(h.gid().map_err(|_| self.invalid(bad("gid")))?).map_err(|_| self.invalid("gid out of range"))?,
        };
        let mtime = match pax.mtime {
            Some(t) => t,
            None => (i64::try_from(h.mtime().map_err(|_| self.invalid(bad("mtime")))?).unwrap_or(i64::MAX), 0),
        };
        let dev = if matches!(kind, EntryKind::Char | EntryKind::Block) {
            let major = h.device_major().map_err(|_| self.invalid(bad("device major")))?.unwrap_or(0);
            let minor = h.device_minor().map_err(|_| self.invalid(bad("device minor")))?.unwrap_or(0);
            (major, minor)
        } else {
            (0, 0)
        };
        let stored = pax.size.unwrap_or(size);
        let (size, sparse) = if h.entry_type().as_byte() == b'S' {
            let (map, real) = self.sparse_map(h, stored)?;
            (real, Some(map))
        } else {
            (stored, None)
        };
        // Only files carry data; other entries' declared sizes are skipped.
        self.remaining = stored;
        self.padding = pad(stored);
        Ok(Entry { path, kind, link, mode, uid, gid, mtime, size, sparse, xattrs: pax.xattrs, dev })
    }

    /// The extents of an old-style GNU sparse entry: the header's four, then
    /// extension blocks while `isextended` is set. Checked to be in order,
    /// within the real size, and to add up to the stored size.
    fn sparse_map(&mut self, h: &Header, stored: u64) -> Result<(Vec<(u64, u64)>, u64)> {
        let gnu = h.as_gnu().ok_or_else(|| self.invalid("sparse entry without a GNU header"))?;
        let real = gnu.real_size().map_err(|_| self.invalid("bad sparse real size"))?;
        let mut map = Vec::new();
        let add = |s: &tar::GnuSparseHeader, map: &mut Vec<(u64, u64)>| -> std::result::Result<(), &'static str> {
            if s.is_empty() {
                return Ok(());
            }
            let off = s.offset().map_err(|_| "bad sparse offset")?;
            let len = s.length().map_err(|_| "bad sparse length")?;
            let end = off.checked_add(len).ok_or("sparse extent overflows")?;
            if map.last().is_some_and(|&(o, l): &(u64, u64)| off < o + l) || end > real {
                return Err("sparse extents out of order or past the file's size");
            }
            if map.len() >= MAX_SPARSE_SEGMENTS {
                return Err("too many sparse extents");
            }
            map.push((off, len));
            Ok(())
        };
        for s in &gnu.sparse {
            add(s, &mut map).map_err(|r| self.invalid(r))?;
        }
        let mut extended = gnu.is_extended();
        while extended {
            let mut ext = GnuExtSparseHeader::new();
            if !self.read_full(ext.as_mut_bytes(), "inside a sparse map")? {
                return Err(Error::TruncatedArchive("inside a sparse map"));
            }
            for s in &ext.sparse {
                add(s, &mut map).map_err(|r| self.invalid(r))?;
            }
            extended = ext.is_extended();
        }
        if map.iter().map(|s| s.1).sum::<u64>() != stored {
            return Err(self.invalid("sparse extents do not add up to the entry's size"));
        }
        Ok((map, real))
    }
}

fn pad(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

fn trim_nul(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

/// The header checksum: the sum of its bytes with the checksum field read
/// as spaces, as unsigned or (old writers) signed bytes.
fn check_sum(block: &[u8; BLOCK as usize]) -> std::result::Result<(), &'static str> {
    let field = &block[148..156];
    let text = std::str::from_utf8(field).map_err(|_| "bad checksum field")?;
    let text = text.trim_matches(|c: char| c == '\0' || c == ' ');
    let want = u32::from_str_radix(text, 8).map_err(|_| "bad checksum field")?;
    let (mut unsigned, mut signed) = (0u32, 0i32);
    for (i, b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { *b };
        unsigned += b as u32;
        signed += b as i8 as i32;
    }
    if want == unsigned || want as i32 == signed {
        Ok(())
    } else {
        Err("header checksum mismatch")
    }
}

/// A PAX time: seconds, optionally with a fraction (nanoseconds kept).
fn parse_time(t: &str) -> Option<(i64, u32)> {
    let (secs, frac) = match t.split_once('.') {
        Some((s, f)) => (s, f),
        None => (t, ""),
    };
    let negative = secs.starts_with('-');
    let whole: i64 = secs.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits: String = frac.chars().take(9).collect();
    while digits.len() < 9 {
        digits.push('0');
    }
    let nanos: u32 = digits.parse().ok()?;
    if negative && nanos > 0 {
        // -1.5 is one and a half seconds before the epoch.
        Some((whole - 1, 1_000_000_000 - nanos))
    } else {
        Some((whole, nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times() {
        assert_eq!(parse_time("1700000000"), Some((1700000000, 0)));
        assert_eq!(parse_time("1700000000.123456789123"), Some((1700000000, 123456789)));
        assert_eq!(parse_time("1.5"), Some((1, 500000000)));
        assert_eq!(parse_time("-1.5"), Some((-2, 500000000)));
        assert_eq!(parse_time("x"), None);
        assert_eq!(parse_time("1.x"), None);
    }

    #[test]
    fn an_archive_without_its_end_marker_is_truncated() {
        let mut h = Header::new_gnu();
        h.set_path("a").unwrap();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_cksum();
        let mut data = h.as_bytes().to_vec();
        data.extend_from_slice(b"abc");
        data.resize(1024, 0);
        let mut r = ArchiveReader::new(&data[..]);
        let e = r.next_entry().unwrap().unwrap();
        assert_eq!((e.path.as_slice(), e.kind, e.size), (&b"a"[..], EntryKind::File, 3));
        assert!(matches!(r.next_entry(), Err(Error::TruncatedArchive(_))));
        // Cut inside the data.
        let mut r = ArchiveReader::new(&data[..514]);
        r.next_entry().unwrap().unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(r.read_data(&mut buf).unwrap(), 2);
        assert!(matches!(r.read_data(&mut buf), Err(Error::TruncatedArchive(_))));
        // Cut inside a header.
        assert!(matches!(ArchiveReader::new(&data[..100]).next_entry(), Err(Error::TruncatedArchive(_))));
    }

    #[test]
    fn corrupt_and_oversized_headers_are_named() {
        let mut h = Header::new_gnu();
        h.set_path("a").unwrap();
        h.set_cksum();
        let mut bad = h.as_bytes().to_vec();
        bad[0] = b'b';
        bad.resize(2048, 0);
        assert!(matches!(ArchiveReader::new(&bad[..]).next_entry(), Err(Error::InvalidArchive { .. })));

        let mut l = Header::new_gnu();
        l.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        l.set_entry_type(tar::EntryType::GNULongName);
        l.set_size(1 << 40);
        l.set_cksum();
        let mut huge = l.as_bytes().to_vec();
        huge.resize(2048, 0);
        assert!(matches!(ArchiveReader::new(&huge[..]).next_entry(), Err(Error::InvalidArchive { .. })));
    }
}
