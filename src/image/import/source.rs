//! Random access to the files of an archive: a directory (an OCI layout) or
//! an uncompressed tar file, indexed once by the offsets of its members.

use crate::image::digest::Digest;
use crate::image::error::{Error, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The largest JSON document (manifest, index, config) read into memory.
pub const JSON_MAX: u64 = 8 << 20;

pub enum Source {
    Dir(PathBuf),
    Tar { file: File, members: HashMap<String, Member>, path: PathBuf },
}

#[derive(Debug, Clone, Copy)]
pub struct Member {
    offset: u64,
    size: u64,
}

/// A member's name as a key: without `./` and leading or doubled slashes.
fn key(name: &str) -> String {
    name.split('/').filter(|c| !c.is_empty() && *c != ".").collect::<Vec<_>>().join("/")
}

fn tar_error(source: io::Error) -> Error {
    if source.kind() == io::ErrorKind::UnexpectedEof {
        Error::Truncated { what: "the archive".into() }
    } else {
        Error::MalformedArchive { source }
    }
}

impl Source {
    /// Index the regular files of the tar file at `path`.
    pub fn tar(file: File, path: &Path) -> Result<Self> {
        let len = file.metadata().map_err(Error::io("inspect", path))?.len();
        (&file).seek(io::SeekFrom::Start(0)).map_err(Error::io("read", path))?;
        let mut members = HashMap::new();
        {
            let mut ar = tar::Archive::new(&file);
            for e in ar.entries_with_seek().map_err(tar_error)? {
                let e = e.map_err(tar_error)?;
                let kind = e.header().entry_type();
                if !(kind.is_file() || kind == tar::EntryType::Continuous) {
                    continue;
                }
                let name = key(&e.path().map_err(tar_error)?.to_string_lossy());
                let m = Member { offset: e.raw_file_position(), size: e.size() };
                if m.offset.saturating_add(m.size) > len {
                    return Err(Error::Truncated { what: format!("member {name}") });
                }
                members.insert(name, m);
            }
        }
        if members.is_empty() && len > 0 {
            // Not a tar at all (tar reads garbage as an empty archive when
            // it starts with zero blocks, or fails on the checksum).
            let mut head = [0u8; 512];
            let n = file.read_at(&mut head, 0).map_err(Error::io("read", path))?;
            if n < 512 || head.iter().any(|&b| b != 0) {
                return Err(Error::UnknownFormat { path: path.to_path_buf() });
            }
        }
        Ok(Source::Tar { file, members, path: path.to_path_buf() })
    }

    pub fn has(&self, name: &str) -> bool {
        match self {
            Source::Dir(d) => d.join(key(name)).is_file(),
            Source::Tar { members, .. } => members.contains_key(&key(name)),
        }
    }

    /// Names of every file (tar members only; for detection).
    pub fn member_names(&self) -> Vec<&str> {
        match self {
            Source::Dir(_) => Vec::new(),
            Source::Tar { members, .. } => members.keys().map(String::as_str).collect(),
        }
    }

    /// A reader of the file `name` and its size.
    pub fn open(&self, name: &str) -> Result<(Box<dyn Read + Send + '_>, u64)> {
        let k = key(name);
        match self {
            Source::Dir(d) => {
                let p = d.join(&k);
                let f = File::open(&p).map_err(|e| match e.kind() {
                    io::ErrorKind::NotFound => Error::MissingFile { path: k.clone() },
                    _ => Error::io("open", &p)(e),
                })?;
                let size = f.metadata().map_err(Error::io("inspect", &p))?.len();
                Ok((Box::new(f), size))
            }
            Source::Tar { file, members, .. } => {
                let m = members.get(&k).ok_or(Error::MissingFile { path: k })?;
                Ok((Box::new(Slice { file, pos: m.offset, end: m.offset + m.size }), m.size))
            }
        }
    }

    /// A blob by digest, from `blobs/sha256/<hex>`.
    pub fn open_blob(&self, digest: &Digest) -> Result<(Box<dyn Read + Send + '_>, u64)> {
        self.open(&blob_path(digest)).map_err(|e| match e {
            Error::MissingFile { .. } => Error::MissingBlob { digest: digest.clone() },
            e => e,
        })
    }

    /// A small file read whole (JSON documents), refusing huge ones.
    pub fn read_small(&self, name: &str) -> Result<Vec<u8>> {
        let (r, size) = self.open(name)?;
        read_limited(r, size, name)
    }

    pub fn read_blob_small(&self, digest: &Digest) -> Result<Vec<u8>> {
        let (r, size) = self.open_blob(digest)?;
        read_limited(r, size, &digest.to_string())
    }

    pub fn path(&self) -> &Path {
        match self {
            Source::Dir(d) => d,
            Source::Tar { path, .. } => path,
        }
    }
}

pub fn blob_path(digest: &Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}

fn read_limited(r: impl Read, size: u64, name: &str) -> Result<Vec<u8>> {
    if size > JSON_MAX {
        return Err(Error::MalformedMetadata { what: name.to_string(), reason: format!("{size} bytes is too big for a JSON document") });
    }
    let mut buf = Vec::with_capacity(size as usize);
    r.take(JSON_MAX).read_to_end(&mut buf).map_err(|source| Error::Io { op: "read", path: PathBuf::from(name), source })?;
    if (buf.len() as u64) < size {
        return Err(Error::Truncated { what: name.to_string() });
    }
    Ok(buf)
}

/// A window of a file, read with pread so that several can be open at once.
struct Slice<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for Slice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min((self.end - self.pos) as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_and_reads_members() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.tar");
        let mut b = tar::Builder::new(File::create(&p).unwrap());
        for (name, data) in [("./index.json", &b"{}"[..]), ("blobs/sha256/x", &[5u8; 3000][..])] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, data).unwrap();
        }
        b.into_inner().unwrap();
        let s = Source::tar(File::open(&p).unwrap(), &p).unwrap();
        assert!(s.has("index.json") && s.has("/blobs//sha256/x") && !s.has("nope"));
        assert_eq!(s.read_small("index.json").unwrap(), b"{}");
        let (mut r, n) = s.open("blobs/sha256/x").unwrap();
        let mut v = Vec::new();
        r.read_to_end(&mut v).unwrap();
        assert_eq!((n, v), (3000, vec![5u8; 3000]));
        assert!(matches!(s.open("nope"), Err(Error::MissingFile { .. })));
    }

    #[test]
    fn truncated_and_garbage_archives_are_named() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.tar");
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5000);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "big", &[1u8; 5000][..]).unwrap();
        let mut bytes = b.into_inner().unwrap();
        bytes.truncate(2048);
        std::fs::write(&p, &bytes).unwrap();
        assert!(matches!(Source::tar(File::open(&p).unwrap(), &p), Err(Error::Truncated { .. })));
        std::fs::write(&p, b"this is not a tar file at all, just some text".repeat(20)).unwrap();
        assert!(matches!(Source::tar(File::open(&p).unwrap(), &p), Err(Error::UnknownFormat { .. } | Error::MalformedArchive { .. })));
    }
}
