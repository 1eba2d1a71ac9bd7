//! Artifacts: named blobs kept with a container (libpod's `AddArtifact`,
//! `GetArtifact`, `RemoveArtifact`), one file each in the container's
//! artifact directory.
//!
//! Adding is atomic: the blob is streamed into a temporary file (a name no
//! artifact can have: it starts with a dot), fsynced, renamed over the
//! artifact, and the directory fsynced. A crash leaves the old artifact or
//! the new one, and at most a temporary file that the next `open` removes.

use super::error::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

const TMP_PREFIX: &str = ".tmp-";

/// The artifacts of one container (berthd passes
/// `<state_root>/artifacts/<container id>`).
#[derive(Debug, Clone)]
pub struct ArtifactStore {
    dir: PathBuf,
}

/// Check an artifact name: 1 to 255 bytes, printable, no `/`, no NUL, no
/// leading dot (so not `.` or `..` either).
pub fn validate_artifact_name(name: &str) -> Result<()> {
    let bad = |reason| Err(Error::InvalidArtifactName { name: name.to_string(), reason });
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 255 {
        return bad("it is longer than 255 bytes");
    }
    if name == "." || name == ".." {
        return bad("it names a directory");
    }
    if name.starts_with('.') {
        return bad("it starts with a dot");
    }
    if name.contains('/') {
        return bad("it contains a path separator");
    }
    if name.contains('\0') {
        return bad("it contains a NUL byte");
    }
    if name.chars().any(char::is_control) {
        return bad("it contains a control character");
    }
    Ok(())
}

impl ArtifactStore {
    /// Open (and create, mode 0700) the directory; remove temporaries a
    /// crash left behind.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(|source| Error::ArtifactIo {
            path: dir.clone(),
            what: "create the directory",
            source,
        })?;
        let store = ArtifactStore { dir };
        for entry in store.read_dir()? {
            let entry = entry.map_err(|source| store.io("list the directory", source))?;
            if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                let p = entry.path();
                fs::remove_file(&p).map_err(|source| Error::ArtifactIo { path: p, what: "remove a leftover temporary file", source })?;
            }
        }
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn io(&self, what: &'static str, source: io::Error) -> Error {
        Error::ArtifactIo { path: self.dir.clone(), what, source }
    }

    fn read_dir(&self) -> Result<fs::ReadDir> {
        fs::read_dir(&self.dir).map_err(|source| self.io("list the directory", source))
    }

    /// Store `input` as artifact `name`, replacing one of that name.
    /// Returns its size.
    pub fn add(&self, name: &str, mut input: impl Read) -> Result<u64> {
        validate_artifact_name(name)?;
        let mut rnd = [0u8; 8];
        getrandom::fill(&mut rnd).map_err(|e| self.io("make a temporary name", io::Error::other(e.to_string())))?;
        let tmp = self.dir.join(format!("{TMP_PREFIX}{}", rnd.iter().map(|b| format!("{b:02x}")).collect::<String>()));
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(&tmp)
                .map_err(|source| self.io("create a temporary file", source))?;
            let mut buf = vec![0u8; 256 << 10];
            let mut size = 0u64;
            loop {
                let n = match input.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(source) => return Err(Error::Input { source }),
                };
                f.write_all(&buf[..n]).map_err(|source| self.io("write the artifact", source))?;
                size += n as u64;
            }
            f.sync_all().map_err(|source| self.io("sync the artifact", source))?;
            drop(f);
            fs::rename(&tmp, self.dir.join(name)).map_err(|source| self.io("rename the artifact into place", source))?;
            File::open(&self.dir).and_then(|d| d.sync_all()).map_err(|source| self.io("sync the directory", source))?;
            Ok(size)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp); // best effort; open() removes leftovers too
        }
        result
    }

    /// Write artifact `name` to `out`; returns its size.
    pub fn get(&self, name: &str, mut out: impl Write) -> Result<u64> {
        validate_artifact_name(name)?;
        let mut f = self.open_artifact(name)?;
        let n = io::copy(&mut f, &mut out).map_err(|source| match source.kind() {
            io::ErrorKind::BrokenPipe => Error::OutputClosed { source },
            _ => Error::Output { source },
        })?;
        out.flush().map_err(Error::output)?;
        Ok(n)
    }

    fn open_artifact(&self, name: &str) -> Result<File> {
        OpenOptions::new().read(true).custom_flags(nix::libc::O_NOFOLLOW).open(self.dir.join(name)).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => Error::NoSuchArtifact { name: name.to_string() },
            _ => self.io("open the artifact", source),
        })
    }

    /// Remove artifact `name`; [`Error::NoSuchArtifact`] when there is none.
    pub fn remove(&self, name: &str) -> Result<()> {
        validate_artifact_name(name)?;
        fs::remove_file(self.dir.join(name)).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => Error::NoSuchArtifact { name: name.to_string() },
            _ => self.io("remove the artifact", source),
        })?;
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(|source| self.io("sync the directory", source))
    }

    /// The names of the stored artifacts, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in self.read_dir()? {
            let entry = entry.map_err(|source| self.io("list the directory", source))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if validate_artifact_name(&name).is_ok() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Remove every artifact and the directory itself (when the container
    /// is removed). A missing directory is not an error.
    pub fn remove_all(self) -> Result<()> {
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(self.io("remove the directory", source)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        for ok in ["a", "config.json", "x y", "ünïcödé", &"n".repeat(255)] {
            validate_artifact_name(ok).unwrap();
        }
        for bad in ["", ".", "..", ".hidden", "a/b", "/", "a\0b", "tab\there", "nl\n", &"n".repeat(256)] {
            assert!(matches!(validate_artifact_name(bad), Err(Error::InvalidArtifactName { .. })), "{bad:?}");
        }
    }

    #[test]
    fn add_get_list_remove() {
        let d = tempfile::tempdir().unwrap();
        let s = ArtifactStore::open(d.path().join("artifacts/abc")).unwrap();
        assert_eq!(s.add("one", &b"first"[..]).unwrap(), 5);
        assert_eq!(s.add("two", &b"second"[..]).unwrap(), 6);
        assert_eq!(s.add("one", &b"replaced"[..]).unwrap(), 8);
        let mut out = Vec::new();
        s.get("one", &mut out).unwrap();
        assert_eq!(out, b"replaced");
        assert_eq!(s.list().unwrap(), ["one", "two"]);
        s.remove("one").unwrap();
        assert!(matches!(s.remove("one"), Err(Error::NoSuchArtifact { .. })));
        assert!(matches!(s.get("one", &mut out), Err(Error::NoSuchArtifact { .. })));
        assert!(matches!(s.add("../escape", &b"x"[..]), Err(Error::InvalidArtifactName { .. })));
        assert!(!d.path().join("artifacts/escape").exists());
        assert_eq!(s.list().unwrap(), ["two"]);
        let dir = s.dir().to_path_buf();
        s.remove_all().unwrap();
        assert!(!dir.exists());
    }

    #[test]
    fn a_failed_add_keeps_the_old_artifact_and_leaves_no_temporary() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::UnexpectedEof))
            }
        }
        let d = tempfile::tempdir().unwrap();
        let s = ArtifactStore::open(d.path()).unwrap();
        s.add("keep", &b"old"[..]).unwrap();
        assert!(matches!(s.add("keep", Failing), Err(Error::Input { .. })));
        let mut out = Vec::new();
        s.get("keep", &mut out).unwrap();
        assert_eq!(out, b"old");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
        // A crash's leftover is cleaned by the next open.
        fs::write(d.path().join(".tmp-deadbeef"), "partial").unwrap();
        let s = ArtifactStore::open(d.path()).unwrap();
        assert_eq!(s.list().unwrap(), ["keep"]);
        assert!(!d.path().join(".tmp-deadbeef").exists());
    }
}
