//! Importing images from files: an OCI layout directory, an oci-archive, a
//! docker-archive (one or several images), or a plain root file system
//! tarball (one layer, an empty config, and a name the caller gives).
//!
//! An import holds the store's lock throughout. It verifies everything
//! before it changes anything the store shows: every blob's digest and
//! size, every layer's diffID. Layers are unpacked under temporary names in
//! `tmp/`; then layers and blobs are renamed into place, the file system is
//! synced, the image records are written, and last the name index. An
//! import killed at any point leaves no record, so no image, and the next
//! `ImageStore::open` clears what it left.

mod docker;
mod oci;
mod source;

use super::compression::Decoder;
use super::config::ImageConfig;
use super::digest::{Digest, HashReader};
use super::error::{Error, Result};
use super::reference::ImageName;
use super::store::{remove_any, Image, ImageRecord, ImageStore, TMP_PREFIX};
use super::unpack::unpack_layer;
pub use source::Source;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// How an archive is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OciLayout,
    OciArchive,
    DockerArchive,
    RootfsTarball,
}

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The name of the image: needed for a root file system tarball; for
    /// an archive of one image, added to the names the archive gives.
    pub name: Option<String>,
}

/// One image an archive holds, with its config read and verified.
pub(crate) struct Found {
    /// The OCI manifest as the archive holds it (verified); docker-archives
    /// and tarballs have none and get one written.
    manifest: Option<Vec<u8>>,
    config_digest: Digest,
    config: Vec<u8>,
    layers: Vec<LayerBlob>,
    names: Vec<ImageName>,
}

/// Where a layer is in the archive and what it must hash to.
pub(crate) struct LayerBlob {
    member: String,
    digest: Option<Digest>,
    size: Option<u64>,
}

/// The format of a tar archive from the names of its members.
pub fn format_of<'a>(members: impl IntoIterator<Item = &'a str>) -> Format {
    let (mut docker, mut layout, mut index) = (false, false, false);
    for m in members {
        match m {
            "manifest.json" => docker = true,
            "oci-layout" => layout = true,
            "index.json" => index = true,
            _ => {}
        }
    }
    // docker 25 writes both; its manifest.json carries the names.
    if docker {
        Format::DockerArchive
    } else if layout && index {
        Format::OciArchive
    } else {
        Format::RootfsTarball
    }
}

/// The GOARCH name of this machine's architecture.
pub(crate) fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// A path in `tmp/` removed when dropped, unless kept.
pub(crate) struct Temp(Option<PathBuf>);

impl Temp {
    pub fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    fn keep(mut self) -> PathBuf {
        self.0.take().unwrap_or_default()
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            // Swept at the next open if this fails.
            let _ = remove_any(&p);
        }
    }
}

/// Stop here with SIGKILL when `BERTH_IMAGE_CRASH_AT` names this point:
/// lets the crash tests interrupt an import exactly between its steps.
fn crash_point(name: &str) {
    if std::env::var_os("BERTH_IMAGE_CRASH_AT").is_some_and(|v| v == name) {
        // Nothing to do if the signal cannot be raised: the test then fails.
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

fn random_suffix() -> String {
    let mut b = [0u8; 8];
    // Without randomness the names still differ by time and pid.
    if getrandom::fill(&mut b).is_err() {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        b = (t.as_nanos() as u64 ^ u64::from(std::process::id())).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

struct Staged {
    dir: Temp,
    /// The layer's uncompressed digest and size.
    diff: Digest,
    size: u64,
}

impl ImageStore {
    pub(crate) fn temp(&self, kind: &str) -> Temp {
        Temp(Some(self.tmp_dir().join(format!("{TMP_PREFIX}{kind}-{}", random_suffix()))))
    }

    /// Import the archive or directory at `path`, detecting its format.
    pub fn import_path(&self, path: &Path, opts: &ImportOptions) -> Result<Vec<Image>> {
        let _lock = self.lock()?;
        if path.is_dir() {
            let src = Source::Dir(path.to_path_buf());
            if !(src.has("oci-layout") && src.has("index.json")) {
                return Err(Error::UnknownFormat { path: path.to_path_buf() });
            }
            return self.import_source(&src, Format::OciLayout, opts);
        }
        let mut file = File::open(path).map_err(Error::io("open", path))?;
        let mut head = [0u8; 4];
        let n = file.read(&mut head).map_err(Error::io("read", path))?;
        let (_spool, src) = if super::compression::detect(&head[..n]) == super::compression::Compression::None {
            (None, Source::tar(File::open(path).map_err(Error::io("open", path))?, path)?)
        } else {
            let file = File::open(path).map_err(Error::io("open", path))?;
            let (spool, f) = self.spool(file)?;
            let src = Source::tar(f, spool.path())?;
            (Some(spool), src)
        };
        let format = format_of(src.member_names());
        self.import_source(&src, format, opts)
    }

    /// Import an archive arriving as a stream (a pipe, a descriptor passed
    /// over D-Bus): it is spooled to a temporary file in the store first.
    pub fn import_reader(&self, reader: impl Read, opts: &ImportOptions) -> Result<Vec<Image>> {
        let _lock = self.lock()?;
        let (spool, f) = self.spool(reader)?;
        let src = Source::tar(f, spool.path())?;
        let format = format_of(src.member_names());
        self.import_source(&src, format, opts)
    }

    /// Copy a stream into `tmp/`, decompressing it if it is compressed.
    fn spool(&self, reader: impl Read) -> Result<(Temp, File)> {
        let t = self.temp("spool");
        let mut out = OpenOptions::new().read(true).write(true).create_new(true).open(t.path()).map_err(Error::io("create", t.path()))?;
        let mut dec = Decoder::new(BufReader::with_capacity(1 << 20, reader)).map_err(|source| Error::Io { op: "read", path: "the archive".into(), source })?;
        io::copy(&mut dec, &mut out).map_err(|source| match source.kind() {
            io::ErrorKind::UnexpectedEof => Error::Truncated { what: "the archive".into() },
            _ => Error::Io { op: "spool", path: t.path().to_path_buf(), source },
        })?;
        out.flush().map_err(Error::io("write", t.path()))?;
        Ok((t, out))
    }

    fn import_source(&self, src: &Source, format: Format, opts: &ImportOptions) -> Result<Vec<Image>> {
        let mut found = match format {
            Format::OciLayout | Format::OciArchive => oci::find(src)?,
            Format::DockerArchive => docker::find(src)?,
            Format::RootfsTarball => Vec::new(),
        };
        let mut staged: BTreeMap<Digest, Staged> = BTreeMap::new();
        if format == Format::RootfsTarball {
            let name = opts.name.as_deref().ok_or(Error::RootfsNeedsName)?;
            found.push(self.stage_rootfs(src, ImageName::parse(name)?, &mut staged)?);
        } else if let Some(n) = &opts.name {
            if found.len() != 1 {
                return Err(Error::NameForSeveralImages { count: found.len() });
            }
            found[0].names.push(ImageName::parse(n)?);
        }
        if found.is_empty() {
            return Err(Error::NoImage);
        }

        // Verify and unpack everything before changing anything.
        let mut configs = Vec::new();
        for f in &found {
            let config = ImageConfig::parse(&f.config)?;
            if config.diff_ids.len() != f.layers.len() {
                return Err(Error::LayerCountMismatch { layers: f.layers.len(), diff_ids: config.diff_ids.len() });
            }
            if self.read_record(f.config_digest.hex())?.is_none() {
                for (i, (blob, diff)) in f.layers.iter().zip(&config.diff_ids).enumerate() {
                    if staged.contains_key(diff) || self.layer_dir(diff).is_dir() {
                        continue;
                    }
                    let (reader, _) = match &blob.digest {
                        Some(d) => src.open_blob(d)?,
                        None => src.open(&blob.member)?,
                    };
                    let s = self.stage_layer(reader, blob, Some(diff), i)?;
                    staged.insert(diff.clone(), s);
                }
            }
            configs.push(config);
        }
        crash_point("staged");
        self.commit(found, configs, staged)
    }

    /// Unpack one layer into `tmp/`, verifying the compressed blob against
    /// its digest and size and the content against `diff_id`.
    fn stage_layer(&self, reader: impl Read, blob: &LayerBlob, diff_id: Option<&Digest>, index: usize) -> Result<Staged> {
        let dir = self.temp("layer");
        let raw = HashReader::new(reader);
        let dec = Decoder::new(BufReader::with_capacity(1 << 20, raw)).map_err(|source| Error::MalformedArchive { source })?;
        let mut content = HashReader::new(dec);
        let unpacked = unpack_layer(&mut content, dir.path());
        // A blob whose digest is wrong is reported as such, whatever its
        // content made of the unpacking.
        let (diff, size) = match unpacked {
            Ok(()) => {
                let (dec, diff, size) = content.finish().map_err(|source| read_error(source, &blob.member))?;
                let raw = dec.into_inner().into_inner();
                self.check_blob(raw, blob)?;
                (diff, size)
            }
            Err(e) => {
                let raw = content.into_inner().into_inner().into_inner();
                self.check_blob(raw, blob)?;
                return Err(e);
            }
        };
        if let Some(expected) = diff_id {
            if *expected != diff {
                return Err(Error::DiffIdMismatch { index, expected: expected.clone(), actual: diff });
            }
        }
        Ok(Staged { dir, diff, size })
    }

    fn check_blob<R: Read>(&self, raw: HashReader<R>, blob: &LayerBlob) -> Result<()> {
        let (_, digest, size) = raw.finish().map_err(|source| read_error(source, &blob.member))?;
        if let Some(expected) = &blob.digest {
            if let Some(n) = blob.size.filter(|n| *n != size) {
                return Err(Error::SizeMismatch { what: "layer", digest: expected.clone(), expected: n, actual: size });
            }
            if *expected != digest {
                return Err(Error::DigestMismatch { what: "layer", expected: expected.clone(), actual: digest });
            }
        }
        Ok(())
    }

    /// A root file system tarball becomes one layer and a config that
    /// holds nothing but its diffID, as `podman import` makes.
    fn stage_rootfs(&self, src: &Source, name: ImageName, staged: &mut BTreeMap<Digest, Staged>) -> Result<Found> {
        let blob = LayerBlob { member: src.path().display().to_string(), digest: None, size: None };
        let reader = File::open(src.path()).map_err(Error::io("open", src.path()))?;
        let s = self.stage_layer(reader, &blob, None, 0)?;
        // The diffID is known only now, from what was unpacked.
        let diff = s.diff.clone();
        let config = serde_json::json!({
            "created": rfc3339(now()),
            "architecture": host_arch(),
            "os": "linux",
            "config": {},
            "rootfs": { "type": "layers", "diff_ids": [diff.to_string()] },
            "history": [{ "created": rfc3339(now()), "created_by": "/bin/sh -c #(nop) ADD file in / ", "comment": "imported from tarball" }],
        });
        let config = serde_json::to_vec(&config).map_err(Error::json("the image config"))?;
        if self.layer_dir(&diff).is_dir() {
            drop(s);
        } else {
            staged.insert(diff.clone(), s);
        }
        Ok(Found { manifest: None, config_digest: Digest::of(&config), config, layers: vec![LayerBlob { member: String::new(), digest: None, size: None }], names: vec![name] })
    }

    /// Make the verified images part of the store.
    fn commit(&self, found: Vec<Found>, configs: Vec<ImageConfig>, staged: BTreeMap<Digest, Staged>) -> Result<Vec<Image>> {
        let mut sizes: BTreeMap<Digest, u64> = BTreeMap::new();
        for (diff, s) in staged {
            sizes.insert(diff.clone(), s.size);
            let target = self.layer_dir(&diff);
            let from = s.dir.keep();
            if let Err(e) = fs::rename(&from, &target) {
                // Another import put the same layer in place meanwhile.
                let _ = remove_any(&from);
                if !target.is_dir() {
                    return Err(Error::io("move into place", &target)(e));
                }
            }
        }
        crash_point("layers");
        let known = self.layer_sizes()?;
        let mut records = Vec::new();
        for (f, config) in found.iter().zip(&configs) {
            let layer_sizes: Vec<u64> =
                config.diff_ids.iter().map(|d| sizes.get(d).or_else(|| known.get(d)).copied().unwrap_or(0)).collect();
            let manifest = match &f.manifest {
                Some(m) => m.clone(),
                None => written_manifest(&f.config_digest, f.config.len(), &config.diff_ids, &layer_sizes)?,
            };
            let digest = self.put_blob(&manifest)?;
            self.put_blob(&f.config)?;
            records.push(ImageRecord {
                id: f.config_digest.hex().to_string(),
                digest,
                created: config.created.clone(),
                imported: now(),
                size: layer_sizes.iter().sum(),
                architecture: config.architecture.clone(),
                os: config.os.clone(),
                layers: config.diff_ids.clone(),
                layer_sizes,
            });
        }
        self.sync()?;
        crash_point("blobs");
        for r in &records {
            if self.read_record(&r.id)?.is_none() {
                self.write_record(r)?;
            }
        }
        crash_point("records");
        let mut index = self.read_index()?;
        for (f, r) in found.iter().zip(&records) {
            for n in &f.names {
                index.names.insert(n.to_string(), r.id.clone());
            }
        }
        self.write_index(&index)?;
        records.iter().map(|r| self.resolve(&r.id)).collect()
    }

    /// Every stored layer's size, from the records that use it.
    fn layer_sizes(&self) -> Result<BTreeMap<Digest, u64>> {
        Ok(self.records()?.into_iter().flat_map(|r| r.layers.into_iter().zip(r.layer_sizes)).collect())
    }

    /// Store a small blob by its digest.
    fn put_blob(&self, data: &[u8]) -> Result<Digest> {
        let d = Digest::of(data);
        let target = self.blob_path(&d);
        if !target.exists() {
            let t = self.temp("blob");
            fs::write(t.path(), data).map_err(Error::io("write", t.path()))?;
            fs::rename(t.keep(), &target).map_err(Error::io("move into place", &target))?;
        }
        Ok(d)
    }

    /// Make everything written so far durable before a record refers to it.
    fn sync(&self) -> Result<()> {
        let f = File::open(&self.root).map_err(Error::io("open", &self.root))?;
        nix::unistd::syncfs(std::os::fd::AsRawFd::as_raw_fd(&f)).map_err(Error::sys("sync", &self.root))
    }
}

fn read_error(source: io::Error, member: &str) -> Error {
    match source.kind() {
        io::ErrorKind::UnexpectedEof => Error::Truncated { what: format!("layer {member}") },
        _ => Error::MalformedArchive { source },
    }
}

/// The OCI manifest of an image that came without one.
fn written_manifest(config: &Digest, config_size: usize, diff_ids: &[Digest], sizes: &[u64]) -> Result<Vec<u8>> {
    let layers: Vec<_> = diff_ids
        .iter()
        .zip(sizes)
        .map(|(d, s)| serde_json::json!({ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d.to_string(), "size": s }))
        .collect();
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": config_size },
        "layers": layers,
    });
    serde_json::to_vec(&m).map_err(Error::json("the image manifest"))
}

/// Seconds since the epoch as RFC 3339 UTC.
fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats() {
        assert_eq!(format_of(["manifest.json", "abc.json", "abc/layer.tar"]), Format::DockerArchive);
        assert_eq!(format_of(["oci-layout", "index.json", "manifest.json", "blobs/sha256/x"]), Format::DockerArchive);
        assert_eq!(format_of(["oci-layout", "index.json", "blobs/sha256/x"]), Format::OciArchive);
        assert_eq!(format_of(["index.json", "etc/passwd"]), Format::RootfsTarball);
        assert_eq!(format_of(["bin/sh", "etc/manifest.json"]), Format::RootfsTarball);
        assert_eq!(format_of([]), Format::RootfsTarball);
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
