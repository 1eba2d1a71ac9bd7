//! The content-addressed image store: records, the name index, lookups,
//! tagging and removal. Imports live in `import/`.

use super::config::ImageConfig;
use super::digest::{is_hex64, Digest};
use super::error::{Error, Result};
use super::lock::StoreLock;
use super::reference::{match_short, ImageName, Lookup};
use crate::fsutil::{atomic_write, remove_durably};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// What the store knows of one image (`images/<id>.json`). Names are not
/// here: the index is their one home, so a tag moves in one atomic write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The config's digest, 64 hex.
    pub id: String,
    /// The manifest's digest (for docker-archive and root file system
    /// imports, of the OCI manifest written for them).
    pub digest: Digest,
    /// When the image says it was made (RFC 3339), if it does.
    pub created: Option<String>,
    /// When it was imported, seconds since the epoch.
    pub imported: u64,
    /// Bytes of the layers, uncompressed.
    pub size: u64,
    pub architecture: String,
    pub os: String,
    /// diffIDs, bottom layer first.
    pub layers: Vec<Digest>,
    /// Each layer's uncompressed size, in the same order.
    #[serde(default)]
    pub layer_sizes: Vec<u64>,
}

/// An image as `list` and `resolve` give it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Image {
    pub id: String,
    /// Sorted.
    pub names: Vec<String>,
    pub digest: Digest,
    pub created: Option<String>,
    pub imported: u64,
    pub size: u64,
    pub architecture: String,
    pub os: String,
    pub layers: Vec<Digest>,
}

impl Image {
    fn new(r: ImageRecord, names: Vec<String>) -> Self {
        Image {
            id: r.id,
            names,
            digest: r.digest,
            created: r.created,
            imported: r.imported,
            size: r.size,
            architecture: r.architecture,
            os: r.os,
            layers: r.layers,
        }
    }

    /// The 12-digit id podman shows.
    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }
}

/// `podman image inspect`'s core: the image and its config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageInspect {
    #[serde(flatten)]
    pub image: Image,
    pub config: ImageConfig,
}

/// What `remove` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// The reference was one name of several: only that name went.
    Untagged(String),
    /// The image went, with its names and any layers and blobs that no
    /// other image uses.
    Removed(String),
}

/// `index.json`: every name and the id it points at.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct Index {
    pub names: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct ImageStore {
    pub(crate) root: PathBuf,
}

pub(crate) const TMP_PREFIX: &str = "tmp-";

impl ImageStore {
    /// Open (and create) the store at `root`. When no other process is
    /// working in it, what an interrupted one left is cleared: staging
    /// files, layers and blobs no image record refers to, names of images
    /// that no longer exist.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let s = ImageStore { root: root.into() };
        for d in [s.root.clone(), s.images_dir(), s.blobs_dir(), s.layers_dir(), s.tmp_dir()] {
            fs::create_dir_all(&d).map_err(Error::io("create", &d))?;
        }
        if let Some(_lock) = StoreLock::try_acquire(&s.lock_path())? {
            s.sweep()?;
        }
        Ok(s)
    }

    /// Open an existing store only to read it (berth-monitor does, for
    /// file-defined containers, beside a berthd that may be writing):
    /// nothing is created or cleared. A missing store holds no image.
    pub fn open_read_only(root: impl Into<PathBuf>) -> Self {
        ImageStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn lock(&self) -> Result<StoreLock> {
        StoreLock::acquire(&self.lock_path())
    }

    fn lock_path(&self) -> PathBuf {
        self.root.join("lock")
    }
    pub(crate) fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }
    pub(crate) fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs/sha256")
    }
    pub(crate) fn layers_dir(&self) -> PathBuf {
        self.root.join("layers")
    }
    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }
    fn index_path(&self) -> PathBuf {
        self.root.join("index.json")
    }
    pub(crate) fn record_path(&self, id: &str) -> PathBuf {
        self.images_dir().join(format!("{id}.json"))
    }
    pub(crate) fn blob_path(&self, d: &Digest) -> PathBuf {
        self.blobs_dir().join(d.hex())
    }

    /// Whether the image of full id `id` exists (one stat: its record).
    pub fn has_image(&self, id: &str) -> bool {
        is_hex64(id) && self.record_path(id).exists()
    }

    /// The directory holding a layer, unpacked, by its diffID.
    pub fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.layers_dir().join(diff_id.hex())
    }

    /// The image's layer directories as overlayfs wants its lower
    /// directories: the top layer first.
    pub fn layer_dirs(&self, image: &Image) -> Vec<PathBuf> {
        image.layers.iter().rev().map(|d| self.layer_dir(d)).collect()
    }

    /// The image's config.
    pub fn config(&self, image: &Image) -> Result<ImageConfig> {
        let p = self.blob_path(&Digest::from_hex(&image.id).ok_or_else(|| Error::InvalidDigest { digest: image.id.clone() })?);
        let data = fs::read(&p).map_err(Error::io("read", &p))?;
        ImageConfig::parse(&data)
    }

    pub(crate) fn read_index(&self) -> Result<Index> {
        let p = self.index_path();
        match fs::read(&p) {
            Ok(data) => serde_json::from_slice(&data).map_err(|source| Error::CorruptRecord { path: p, source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Index::default()),
            Err(e) => Err(Error::io("read", &p)(e)),
        }
    }

    pub(crate) fn write_index(&self, index: &Index) -> Result<()> {
        let p = self.index_path();
        let data = serde_json::to_vec_pretty(index).map_err(Error::json("the name index"))?;
        atomic_write(&p, &data).map_err(Error::io("write", &p))
    }

    pub(crate) fn read_record(&self, id: &str) -> Result<Option<ImageRecord>> {
        let p = self.record_path(id);
        match fs::read(&p) {
            Ok(data) => serde_json::from_slice(&data).map(Some).map_err(|source| Error::CorruptRecord { path: p, source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", &p)(e)),
        }
    }

    pub(crate) fn write_record(&self, r: &ImageRecord) -> Result<()> {
        let p = self.record_path(&r.id);
        let data = serde_json::to_vec_pretty(r).map_err(Error::json("an image record"))?;
        atomic_write(&p, &data).map_err(Error::io("write", &p))
    }

    pub(crate) fn records(&self) -> Result<Vec<ImageRecord>> {
        let dir = self.images_dir();
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).map_err(Error::io("read", &dir))? {
            let name = e.map_err(Error::io("read", &dir))?.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else { continue };
            if !is_hex64(id) {
                continue;
            }
            // Removed since the directory was read: not an image any more.
            if let Some(r) = self.read_record(id)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    fn names_of(index: &Index, id: &str) -> Vec<String> {
        index.names.iter().filter(|(_, v)| v.as_str() == id).map(|(k, _)| k.clone()).collect()
    }

    /// Every image, newest import first.
    pub fn list(&self) -> Result<Vec<Image>> {
        let index = self.read_index()?;
        let mut out: Vec<Image> = self.records()?.into_iter().map(|r| {
            let names = Self::names_of(&index, &r.id);
            Image::new(r, names)
        }).collect();
        out.sort_by(|a, b| b.imported.cmp(&a.imported).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Find an image by full name, `name:tag`, short name, id (with or
    /// without `sha256:`) or unique id prefix of at least 3 hex digits.
    pub fn resolve(&self, reference: &str) -> Result<Image> {
        let not_found = || Error::ImageNotFound { reference: reference.to_string() };
        let index = self.read_index()?;
        let by_id = |id: &str| -> Result<Option<Image>> {
            Ok(self.read_record(id)?.map(|r| {
                let names = Self::names_of(&index, &r.id);
                Image::new(r, names)
            }))
        };
        let id = match Lookup::parse(reference)? {
            Lookup::Id(id) => return by_id(&id)?.ok_or_else(not_found),
            Lookup::Name(name) => index.names.get(&name.to_string()).cloned(),
            Lookup::Short { path, tag, id_prefix } => {
                let stored: Vec<ImageName> = index.names.keys().filter_map(|k| ImageName::parse(k).ok()).collect();
                let found = match_short(&path, &tag, stored.iter());
                match found.len() {
                    1 => index.names.get(&found[0].to_string()).cloned(),
                    0 => match id_prefix {
                        Some(p) => Some(self.id_by_prefix(reference, &p)?),
                        None => None,
                    },
                    _ => {
                        return Err(Error::AmbiguousReference {
                            reference: reference.to_string(),
                            candidates: found.iter().map(|n| n.to_string()).collect(),
                        })
                    }
                }
            }
        };
        match id {
            Some(id) => by_id(&id)?.ok_or_else(not_found),
            None => Err(not_found()),
        }
    }

    fn id_by_prefix(&self, reference: &str, prefix: &str) -> Result<String> {
        let ids: Vec<String> = self.records()?.into_iter().map(|r| r.id).filter(|id| id.starts_with(prefix)).collect();
        match ids.len() {
            0 => Err(Error::ImageNotFound { reference: reference.to_string() }),
            1 => Ok(ids.into_iter().next().unwrap_or_default()),
            _ => Err(Error::AmbiguousReference { reference: reference.to_string(), candidates: ids }),
        }
    }

    pub fn inspect(&self, reference: &str) -> Result<ImageInspect> {
        let image = self.resolve(reference)?;
        let config = self.config(&image)?;
        Ok(ImageInspect { image, config })
    }

    /// Give the image `reference` finds the name `name` (normalized: a name
    /// without a domain is `localhost/NAME`). A name another image had moves.
    pub fn tag(&self, reference: &str, name: &str) -> Result<ImageName> {
        let name = ImageName::parse(name)?;
        let _lock = self.lock()?;
        let image = self.resolve(reference)?;
        let mut index = self.read_index()?;
        index.names.insert(name.to_string(), image.id);
        self.write_index(&index)?;
        Ok(name)
    }

    /// Take the name `name` from the image `reference` finds.
    pub fn untag(&self, reference: &str, name: &str) -> Result<()> {
        let name = ImageName::parse(name)?;
        let _lock = self.lock()?;
        let image = self.resolve(reference)?;
        let mut index = self.read_index()?;
        if index.names.get(&name.to_string()) != Some(&image.id) {
            return Err(Error::NameNotOnImage { id: image.id, name: name.to_string() });
        }
        index.names.remove(&name.to_string());
        self.write_index(&index)
    }

    /// Remove an image, as `podman rmi` does: by one of several names, only
    /// that name goes; by id, an image with several names goes only with
    /// `force`; an image `in_use` says a container uses goes only with
    /// `force`. Layers and blobs no other image uses go with it.
    pub fn remove(&self, reference: &str, force: bool, in_use: impl Fn(&Image) -> bool) -> Result<Removal> {
        let _lock = self.lock()?;
        let image = self.resolve(reference)?;
        let stored: Vec<ImageName> = image.names.iter().filter_map(|n| ImageName::parse(n).ok()).collect();
        let by_name = match Lookup::parse(reference)? {
            Lookup::Name(n) => Some(n),
            Lookup::Short { path, tag, .. } => match_short(&path, &tag, stored.iter()).into_iter().next(),
            Lookup::Id(_) => None,
        };
        if image.names.len() > 1 {
            match by_name {
                Some(name) => {
                    let mut index = self.read_index()?;
                    index.names.remove(&name.to_string());
                    self.write_index(&index)?;
                    return Ok(Removal::Untagged(name.to_string()));
                }
                None if !force => return Err(Error::ImageHasSeveralNames { id: image.id, names: image.names }),
                None => {}
            }
        }
        if !force && in_use(&image) {
            return Err(Error::ImageInUse { id: image.id });
        }
        // The record first: an image without its record is gone, and what
        // is left (names, layers, blobs) is swept if this is interrupted.
        let record = self.record_path(&image.id);
        remove_durably(&record).map_err(Error::io("remove", &record))?;
        let mut index = self.read_index()?;
        index.names.retain(|_, id| *id != image.id);
        self.write_index(&index)?;
        self.collect_garbage()?;
        Ok(Removal::Removed(image.id))
    }

    /// Clear an interrupted import's or removal's leftovers. Call with the
    /// lock held.
    fn sweep(&self) -> Result<()> {
        let tmp = self.tmp_dir();
        for e in fs::read_dir(&tmp).map_err(Error::io("read", &tmp))? {
            let p = e.map_err(Error::io("read", &tmp))?.path();
            remove_any(&p)?;
        }
        for dir in [self.images_dir(), self.blobs_dir(), self.root.clone()] {
            for e in fs::read_dir(&dir).map_err(Error::io("read", &dir))? {
                let e = e.map_err(Error::io("read", &dir))?;
                // atomic_write's temporaries: `.NAME.tmp`.
                if e.file_name().to_string_lossy().ends_with(".tmp") {
                    remove_any(&e.path())?;
                }
            }
        }
        let ids: BTreeSet<String> = self.records()?.into_iter().map(|r| r.id).collect();
        let mut index = self.read_index()?;
        let before = index.names.len();
        index.names.retain(|_, id| ids.contains(id));
        if index.names.len() != before {
            self.write_index(&index)?;
        }
        self.collect_garbage()
    }

    /// Remove layers and blobs that no image record refers to. Call with
    /// the lock held.
    pub(crate) fn collect_garbage(&self) -> Result<()> {
        let mut layers = BTreeSet::new();
        let mut blobs = BTreeSet::new();
        for r in self.records()? {
            layers.extend(r.layers.iter().map(|d| d.hex().to_string()));
            blobs.insert(r.id.clone());
            blobs.insert(r.digest.hex().to_string());
        }
        let dir = self.layers_dir();
        for e in fs::read_dir(&dir).map_err(Error::io("read", &dir))? {
            let e = e.map_err(Error::io("read", &dir))?;
            if !layers.contains(e.file_name().to_string_lossy().as_ref()) {
                // Renamed out of sight first, so that a half-removed layer
                // is never taken for a whole one.
                let doomed = self.tmp_dir().join(format!("{TMP_PREFIX}gc-{}", e.file_name().to_string_lossy()));
                fs::rename(e.path(), &doomed).map_err(Error::io("remove", e.path()))?;
                remove_any(&doomed)?;
            }
        }
        let dir = self.blobs_dir();
        for e in fs::read_dir(&dir).map_err(Error::io("read", &dir))? {
            let e = e.map_err(Error::io("read", &dir))?;
            if !blobs.contains(e.file_name().to_string_lossy().as_ref()) {
                remove_any(&e.path())?;
            }
        }
        Ok(())
    }
}

/// Remove a file or a directory tree; missing is fine.
pub(crate) fn remove_any(p: &Path) -> Result<()> {
    let r = match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", p)(e)),
    }
}
