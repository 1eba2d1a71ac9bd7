//! Named volumes: `<root>/<name>/_data` is what containers mount,
//! `<root>/<name>/volume.json` what berth knows of it. A new volume gets a
//! copy of what the image holds at its mount destination (podman's
//! copy-up), once.

use super::error::{Error, Result};
use super::lock::StoreLock;
use super::tree::{Node, TreeWriter};
use super::walk::{walk, Found};
use crate::fsutil::atomic_write;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub name: String,
    /// The directory containers mount.
    pub mountpoint: PathBuf,
    /// Seconds since the epoch.
    pub created: u64,
    pub labels: BTreeMap<String, String>,
    /// Whether the image's content was copied in (or the chance passed).
    pub populated: bool,
}

#[derive(Debug, Clone)]
pub struct VolumeStore {
    root: PathBuf,
}

const RECORD: &str = "volume.json";
const DATA: &str = "_data";
const DATA_TMP: &str = "_data.tmp";
const TMP_PREFIX: &str = ".tmp-";

impl VolumeStore {
    /// Open (and create) the volume store at `root`, clearing what an
    /// interrupted create or copy left.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let s = VolumeStore { root: root.into() };
        fs::create_dir_all(&s.root).map_err(Error::io("create", &s.root))?;
        if let Some(_lock) = StoreLock::try_acquire(&s.lock_path())? {
            for e in fs::read_dir(&s.root).map_err(Error::io("read", &s.root))? {
                let e = e.map_err(Error::io("read", &s.root))?;
                if e.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                    super::store::remove_any(&e.path())?;
                } else if e.path().join(DATA_TMP).exists() {
                    super::store::remove_any(&e.path().join(DATA_TMP))?;
                }
            }
        }
        Ok(s)
    }

    fn lock_path(&self) -> PathBuf {
        self.root.join(".lock")
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn check_name(name: &str) -> Result<()> {
        crate::model::ContainerName::check(name, "Name").map_err(|_| Error::InvalidVolumeName { name: name.to_string() })
    }

    /// Make a new, empty volume.
    pub fn create(&self, name: &str, labels: BTreeMap<String, String>) -> Result<Volume> {
        Self::check_name(name)?;
        let _lock = StoreLock::acquire(&self.lock_path())?;
        let target = self.dir(name);
        if target.exists() {
            return Err(Error::VolumeExists { name: name.to_string() });
        }
        let created = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let v = Volume { name: name.to_string(), mountpoint: target.join(DATA), created, labels, populated: false };
        let tmp = self.root.join(format!("{TMP_PREFIX}{name}"));
        // A leftover of an interrupted create (also swept at open); if it
        // cannot go, the create below fails and says why.
        let _ = super::store::remove_any(&tmp);
        fs::create_dir_all(tmp.join(DATA)).map_err(Error::io("create", &tmp))?;
        let r = write_record(&tmp, &v).and_then(|()| {
            nix::fcntl::renameat2(None, &tmp, None, &target, nix::fcntl::RenameFlags::RENAME_NOREPLACE).map_err(|e| match e {
                nix::errno::Errno::EEXIST => Error::VolumeExists { name: name.to_string() },
                e => Error::sys("create", &target)(e),
            })
        });
        if r.is_err() {
            // The failure is what to report; open sweeps what stays.
            let _ = super::store::remove_any(&tmp);
        }
        r.map(|()| v)
    }

    pub fn inspect(&self, name: &str) -> Result<Volume> {
        Self::check_name(name).map_err(|_| Error::VolumeNotFound { name: name.to_string() })?;
        let p = self.dir(name).join(RECORD);
        match fs::read(&p) {
            Ok(data) => serde_json::from_slice(&data).map_err(|source| Error::CorruptRecord { path: p, source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::VolumeNotFound { name: name.to_string() }),
            Err(e) => Err(Error::io("read", &p)(e)),
        }
    }

    /// Every volume, by name.
    pub fn list(&self) -> Result<Vec<Volume>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.root).map_err(Error::io("read", &self.root))? {
            let name = e.map_err(Error::io("read", &self.root))?.file_name();
            let Some(name) = name.to_str() else { continue };
            if Self::check_name(name).is_err() {
                continue;
            }
            match self.inspect(name) {
                Ok(v) => out.push(v),
                Err(Error::VolumeNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Remove a volume and its content; refused while `in_use` says a
    /// container uses it, unless forced.
    pub fn remove(&self, name: &str, force: bool, in_use: impl Fn(&Volume) -> bool) -> Result<()> {
        let _lock = StoreLock::acquire(&self.lock_path())?;
        let v = self.inspect(name)?;
        if !force && in_use(&v) {
            return Err(Error::VolumeInUse { name: name.to_string() });
        }
        // Out of sight first, so a half-removed volume is never listed.
        let doomed = self.root.join(format!("{TMP_PREFIX}rm-{name}"));
        fs::rename(self.dir(name), &doomed).map_err(Error::io("remove", self.dir(name)))?;
        super::store::remove_any(&doomed)
    }

    /// Copy what `source` (the image's directory at the volume's mount
    /// destination) holds into the volume, keeping owners, modes, times,
    /// xattrs and links, if the volume is new and empty. Happens once;
    /// returns whether it copied.
    pub fn populate_from(&self, name: &str, source: &Path) -> Result<bool> {
        let _lock = StoreLock::acquire(&self.lock_path())?;
        let mut v = self.inspect(name)?;
        if v.populated {
            return Ok(false);
        }
        let dir = self.dir(name);
        let data = dir.join(DATA);
        let empty = fs::read_dir(&data).map_err(Error::io("read", &data))?.next().is_none();
        let copied = empty && source.is_dir();
        if copied {
            let tmp = dir.join(DATA_TMP);
            // As in create: a leftover, and the next call reports trouble.
            let _ = super::store::remove_any(&tmp);
            fs::create_dir(&tmp).map_err(Error::io("create", &tmp))?;
            let r = copy_tree(source, &tmp);
            if r.is_err() {
                // The copy's failure is what to report; open sweeps what stays.
                let _ = super::store::remove_any(&tmp);
            }
            r?;
            // Replaces the empty directory in one step.
            fs::rename(&tmp, &data).map_err(Error::io("move into place", &data))?;
        }
        v.populated = true;
        write_record(&dir, &v)?;
        Ok(copied)
    }
}

fn write_record(dir: &Path, v: &Volume) -> Result<()> {
    let p = dir.join(RECORD);
    let data = serde_json::to_vec_pretty(v).map_err(Error::json("a volume record"))?;
    atomic_write(&p, &data).map_err(Error::io("write", &p))
}

/// Copy the tree at `from` into the existing, empty directory `to`.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let mut w = TreeWriter::new(to)?;
    walk(from, &mut |path, found, meta| {
        let entry = path.display().to_string();
        let node = match found {
            Found::File(f, size) => Node::File { data: f, size },
            Found::Dir => Node::Dir,
            Found::Symlink(ref t) => Node::Symlink(t),
            Found::HardLink(first) => Node::HardLink(first),
            Found::Char { major, minor } => Node::Char { major, minor },
            Found::Block { major, minor } => Node::Block { major, minor },
            Found::Fifo => Node::Fifo,
        };
        w.put(path, &entry, node, meta)
    })?;
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn create_list_inspect_remove() {
        let d = tempfile::tempdir().unwrap();
        let s = VolumeStore::open(d.path()).unwrap();
        let labels: BTreeMap<String, String> = [("a".to_string(), "b".to_string())].into();
        let v = s.create("data", labels.clone()).unwrap();
        assert!(v.mountpoint.is_dir());
        assert!(matches!(s.create("data", BTreeMap::new()), Err(Error::VolumeExists { .. })));
        for bad in ["", ".x", "a/b", "../x", "lock file"] {
            assert!(matches!(s.create(bad, BTreeMap::new()), Err(Error::InvalidVolumeName { .. })), "{bad}");
        }
        s.create("other", BTreeMap::new()).unwrap();
        assert_eq!(s.list().unwrap().iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["data", "other"]);
        assert_eq!(s.inspect("data").unwrap().labels, labels);
        assert!(matches!(s.remove("data", false, |_| true), Err(Error::VolumeInUse { .. })));
        s.remove("data", true, |_| true).unwrap();
        assert!(matches!(s.inspect("data"), Err(Error::VolumeNotFound { .. })));
        assert!(matches!(s.remove("nope", false, |_| false), Err(Error::VolumeNotFound { .. })));
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 2, "other and the lock file");
    }

    #[test]
    fn populates_once_keeping_what_the_image_had() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("image/var/lib/app");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/f"), b"seed").unwrap();
        fs::hard_link(src.join("sub/f"), src.join("g")).unwrap();
        std::os::unix::fs::symlink("sub/f", src.join("l")).unwrap();
        let s = VolumeStore::open(d.path().join("volumes")).unwrap();
        let v = s.create("app", BTreeMap::new()).unwrap();
        assert!(s.populate_from("app", &src).unwrap());
        assert_eq!(fs::read(v.mountpoint.join("sub/f")).unwrap(), b"seed");
        let m = |p: &str| fs::symlink_metadata(v.mountpoint.join(p)).unwrap();
        assert_eq!(m("sub/f").ino(), m("g").ino());
        assert_eq!(fs::read_link(v.mountpoint.join("l")).unwrap(), Path::new("sub/f"));
        assert_eq!(m("sub").mtime(), fs::metadata(src.join("sub")).unwrap().mtime());
        assert!(s.inspect("app").unwrap().populated);
        // Once only: later changes in the image are not copied again.
        fs::write(src.join("new"), b"n").unwrap();
        assert!(!s.populate_from("app", &src).unwrap());
        assert!(!v.mountpoint.join("new").exists());
        // A volume with nothing to copy is marked too.
        s.create("empty", BTreeMap::new()).unwrap();
        assert!(!s.populate_from("empty", &d.path().join("missing")).unwrap());
        assert!(s.inspect("empty").unwrap().populated);
    }
}
