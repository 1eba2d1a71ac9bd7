//! Test images built from scratch with the `tar` crate, written as an OCI
//! layout directory, an oci-archive and a docker-archive. Shared by the
//! image module's unit tests, `tests/image.rs` and `examples/image_bench.rs`
//! (each includes this file), so it uses only external crates.
#![allow(dead_code)]

use sha2::{Digest as _, Sha256};
use std::io::Write;
use std::path::Path;

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Clone, Debug)]
pub enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    HardLink(String),
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub path: String,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compress {
    None,
    Gzip,
    Zstd,
}

#[derive(Clone, Debug)]
pub struct Layer {
    pub entries: Vec<Entry>,
    pub compress: Compress,
}

/// Owner of entries in layers made with `Layer::new`.
pub fn default_owner() -> (u64, u64) {
    // geteuid and getegid cannot fail.
    (u64::from(nix::unistd::geteuid().as_raw()), u64::from(nix::unistd::getegid().as_raw()))
}

impl Layer {
    pub fn new(compress: Compress) -> Self {
        Layer { entries: Vec::new(), compress }
    }

    fn push(mut self, path: &str, kind: Kind, mode: u32) -> Self {
        let (uid, gid) = default_owner();
        self.entries.push(Entry { path: path.into(), kind, mode, uid, gid, mtime: 1_600_000_000, xattrs: Vec::new() });
        self
    }

    pub fn dir(self, path: &str, mode: u32) -> Self {
        self.push(path, Kind::Dir, mode)
    }
    pub fn file(self, path: &str, data: &[u8], mode: u32) -> Self {
        self.push(path, Kind::File(data.to_vec()), mode)
    }
    pub fn symlink(self, path: &str, target: &str) -> Self {
        self.push(path, Kind::Symlink(target.into()), 0o777)
    }
    pub fn hardlink(self, path: &str, target: &str) -> Self {
        self.push(path, Kind::HardLink(target.into()), 0o644)
    }
    pub fn char_dev(self, path: &str, major: u32, minor: u32) -> Self {
        self.push(path, Kind::Char(major, minor), 0o666)
    }
    pub fn block_dev(self, path: &str, major: u32, minor: u32) -> Self {
        self.push(path, Kind::Block(major, minor), 0o660)
    }
    pub fn fifo(self, path: &str) -> Self {
        self.push(path, Kind::Fifo, 0o640)
    }
    /// Set the owner of the last entry.
    pub fn owner(mut self, uid: u64, gid: u64) -> Self {
        if let Some(e) = self.entries.last_mut() {
            e.uid = uid;
            e.gid = gid;
        }
        self
    }
    /// Add an xattr to the last entry.
    pub fn xattr(mut self, name: &str, value: &[u8]) -> Self {
        if let Some(e) = self.entries.last_mut() {
            e.xattrs.push((name.into(), value.to_vec()));
        }
        self
    }
    pub fn mtime(mut self, t: u64) -> Self {
        if let Some(e) = self.entries.last_mut() {
            e.mtime = t;
        }
        self
    }

    /// The uncompressed tar.
    pub fn tar(&self) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for e in &self.entries {
            if !e.xattrs.is_empty() {
                let mut data = Vec::new();
                for (k, v) in &e.xattrs {
                    data.extend(pax_record(&format!("SCHILY.xattr.{k}"), v));
                }
                let mut h = tar::Header::new_ustar();
                h.set_entry_type(tar::EntryType::XHeader);
                h.set_path("PaxHeaders.0/x").unwrap();
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_mtime(0);
                h.set_uid(0);
                h.set_gid(0);
                h.set_cksum();
                b.append(&h, &data[..]).unwrap();
            }
            let mut h = tar::Header::new_gnu();
            h.set_mode(e.mode);
            h.set_uid(e.uid);
            h.set_gid(e.gid);
            h.set_mtime(e.mtime);
            let data: &[u8] = match &e.kind {
                Kind::File(d) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    d
                }
                Kind::Dir => {
                    h.set_entry_type(tar::EntryType::Directory);
                    b""
                }
                Kind::Symlink(t) | Kind::HardLink(t) => {
                    let kind = if matches!(e.kind, Kind::Symlink(_)) { tar::EntryType::Symlink } else { tar::EntryType::Link };
                    h.set_entry_type(kind);
                    h.set_size(0);
                    b.append_link(&mut h, &e.path, t).unwrap();
                    continue;
                }
                Kind::Char(ma, mi) | Kind::Block(ma, mi) => {
                    let kind = if matches!(e.kind, Kind::Char(..)) { tar::EntryType::Char } else { tar::EntryType::Block };
                    h.set_entry_type(kind);
                    h.set_device_major(*ma).unwrap();
                    h.set_device_minor(*mi).unwrap();
                    b""
                }
                Kind::Fifo => {
                    h.set_entry_type(tar::EntryType::Fifo);
                    b""
                }
            };
            h.set_size(data.len() as u64);
            b.append_data(&mut h, &e.path, data).unwrap();
        }
        b.into_inner().unwrap()
    }

    /// The layer blob as stored (compressed as asked) and its diffID.
    pub fn blob(&self) -> (Vec<u8>, String) {
        let tar = self.tar();
        let diff = sha256_hex(&tar);
        let blob = match self.compress {
            Compress::None => tar,
            Compress::Gzip => {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all(&tar).unwrap();
                gz.finish().unwrap()
            }
            Compress::Zstd => zstd::encode_all(&tar[..], 1).unwrap(),
        };
        (blob, diff)
    }

    pub fn media_type(&self) -> &'static str {
        match self.compress {
            Compress::None => "application/vnd.oci.image.layer.v1.tar",
            Compress::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compress::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// One PAX extended header record: `LEN key=value\n`, LEN counting itself.
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

#[derive(Clone, Debug)]
pub struct TestImage {
    pub layers: Vec<Layer>,
    /// The `config` section of the image config.
    pub run_config: serde_json::Value,
    /// A full name (`localhost/x:tag`) or none.
    pub name: Option<String>,
}

/// The blobs of one image: (digest hex, bytes, media type) of its layers,
/// config and manifest.
pub struct Blobs {
    pub layers: Vec<(String, Vec<u8>, &'static str, String)>,
    pub config: (String, Vec<u8>),
    pub manifest: (String, Vec<u8>),
}

impl TestImage {
    pub fn new(layers: Vec<Layer>) -> Self {
        TestImage { layers, run_config: serde_json::json!({}), name: None }
    }

    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn blobs(&self) -> Blobs {
        let layers: Vec<_> = self
            .layers
            .iter()
            .map(|l| {
                let (blob, diff) = l.blob();
                (sha256_hex(&blob), blob, l.media_type(), diff)
            })
            .collect();
        let config = serde_json::json!({
            "created": "2024-05-01T10:00:00Z",
            "architecture": "amd64",
            "os": "linux",
            "config": self.run_config,
            "rootfs": { "type": "layers", "diff_ids": layers.iter().map(|l| format!("sha256:{}", l.3)).collect::<Vec<_>>() },
        });
        let config = serde_json::to_vec(&config).unwrap();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", sha256_hex(&config)), "size": config.len() },
            "layers": layers.iter().map(|(d, b, m, _)| serde_json::json!({"mediaType": m, "digest": format!("sha256:{d}"), "size": b.len()})).collect::<Vec<_>>(),
        });
        let manifest = serde_json::to_vec(&manifest).unwrap();
        Blobs { layers, config: (sha256_hex(&config), config), manifest: (sha256_hex(&manifest), manifest) }
    }

    /// The image id berth gives it: its config's digest.
    pub fn id(&self) -> String {
        self.blobs().config.0
    }
}

/// The files of an OCI layout holding `images`: (path, bytes).
pub fn oci_files(images: &[TestImage]) -> Vec<(String, Vec<u8>)> {
    let mut files = vec![("oci-layout".to_string(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec())];
    let mut manifests = Vec::new();
    for img in images {
        let b = img.blobs();
        for (d, data, _, _) in &b.layers {
            files.push((format!("blobs/sha256/{d}"), data.clone()));
        }
        files.push((format!("blobs/sha256/{}", b.config.0), b.config.1.clone()));
        files.push((format!("blobs/sha256/{}", b.manifest.0), b.manifest.1.clone()));
        let mut desc = serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{}", b.manifest.0), "size": b.manifest.1.len()});
        if let Some(n) = &img.name {
            desc["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": n});
        }
        manifests.push(desc);
    }
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
    files.push(("index.json".into(), serde_json::to_vec(&index).unwrap()));
    files
}

/// The files of a docker-archive (podman's layout: `<hex>/layer.tar`,
/// `<hex>.json`, `manifest.json`). Layers are stored uncompressed.
pub fn docker_files(images: &[TestImage]) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut manifest = Vec::new();
    for img in images {
        let b = img.blobs();
        let mut layer_paths = Vec::new();
        for l in &img.layers {
            let tar = l.tar();
            let p = format!("{}/layer.tar", sha256_hex(&tar));
            files.push((p.clone(), tar));
            layer_paths.push(p);
        }
        files.push((format!("{}.json", b.config.0), b.config.1.clone()));
        manifest.push(serde_json::json!({"Config": format!("{}.json", b.config.0), "RepoTags": img.name.iter().collect::<Vec<_>>(), "Layers": layer_paths}));
    }
    files.push(("manifest.json".into(), serde_json::to_vec(&manifest).unwrap()));
    files
}

pub fn write_dir(dir: &Path, files: &[(String, Vec<u8>)]) {
    for (p, data) in files {
        let p = dir.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
}

pub fn tar_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        b.append_data(&mut h, p, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

/// A small two-layer image that any user can unpack: directories, files,
/// a symbolic link and a hard link, owned by whoever runs the test.
pub fn simple_image() -> TestImage {
    let l1 = Layer::new(Compress::Gzip)
        .dir("etc", 0o755)
        .file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644)
        .dir("bin", 0o755)
        .file("bin/tool", b"#!/bin/sh\necho tool\n", 0o755)
        .symlink("bin/sh", "tool")
        .hardlink("bin/tool2", "bin/tool");
    let l2 = Layer::new(Compress::Zstd).dir("data", 0o700).file("data/x", b"x", 0o600);
    let mut img = TestImage::new(vec![l1, l2]);
    img.run_config = serde_json::json!({"Cmd": ["/bin/tool"], "Env": ["PATH=/bin"], "ExposedPorts": {"80/tcp": {}}});
    img
}

/// Pseudo-random bytes (xorshift), the same for the same seed.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// An image with everything a layer can hold: owners, setuid and sticky
/// modes, xattrs, devices, a fifo, hard links (also re-made in a later
/// layer), symbolic links, whiteouts of files and directories, an opaque
/// directory, long and odd names. Needs root to unpack.
pub fn rich_image() -> TestImage {
    let l1 = Layer::new(Compress::Gzip)
        .dir("etc", 0o755).owner(0, 0)
        .file("etc/passwd", b"root:x:0:0::/root:/bin/sh\nweb:x:1000:1000::/home/web:/bin/sh\n", 0o644).owner(0, 0)
        .file("etc/group", b"root:x:0:\nweb:x:1000:\nwheel:x:10:web\n", 0o644).owner(0, 0)
        .symlink("etc/abs", "/etc/passwd").owner(0, 0)
        .file("etc/xattr-file", b"has xattrs", 0o644).owner(0, 0).xattr("user.comment", b"hello").xattr("trusted.note", b"secret")
        .dir("bin", 0o755).owner(0, 0)
        .file("bin/tool", b"#!/bin/sh\necho one\n", 0o755).owner(0, 0)
        .hardlink("bin/tool2", "bin/tool").owner(0, 0)
        .symlink("bin/sh", "tool").owner(0, 0)
        .dir("usr", 0o755).owner(0, 0)
        .dir("usr/bin", 0o755).owner(0, 0)
        .file("usr/bin/su", b"su", 0o4755).owner(0, 0)
        .file("usr/bin/wall", b"wall", 0o2755).owner(0, 5)
        .dir("tmp", 0o1777).owner(0, 0)
        .dir("home", 0o755).owner(0, 0)
        .dir("home/web", 0o700).owner(1000, 1000).mtime(1_500_000_000)
        .file("home/web/.profile", b"export A=1\n", 0o644).owner(1000, 1000).mtime(1_500_000_001)
        .dir("dev", 0o755).owner(0, 0)
        .char_dev("dev/null", 1, 3).owner(0, 0)
        .block_dev("dev/loop0", 7, 0).owner(0, 6)
        .dir("run", 0o755).owner(0, 0)
        .fifo("run/fifo").owner(0, 0)
        .dir("del", 0o755).owner(0, 0)
        .file("del/file", b"deleted later", 0o644).owner(0, 0)
        .dir("del/dir", 0o755).owner(0, 0)
        .file("del/dir/x", b"x", 0o644).owner(0, 0)
        .dir("opq", 0o755).owner(0, 0)
        .file("opq/a", b"a", 0o644).owner(0, 0)
        .dir("opq/sub", 0o755).owner(0, 0)
        .file("opq/sub/b", b"b", 0o644).owner(0, 0)
        .dir("keep", 0o755).owner(0, 0)
        .file("keep/gone", b"whited out", 0o644).owner(0, 0)
        .file("keep/stays", b"stays", 0o644).owner(0, 0)
        .file("big", &noise(1, 1 << 20), 0o644).owner(0, 0);
    let l2 = Layer::new(Compress::Zstd)
        .dir("keep", 0o755).owner(0, 0)
        .file("keep/.wh.gone", b"", 0o644).owner(0, 0)
        .dir("del", 0o755).owner(0, 0)
        .file("del/.wh.file", b"", 0o644).owner(0, 0)
        .file("del/.wh.dir", b"", 0o644).owner(0, 0)
        .dir("opq", 0o750).owner(0, 0)
        .file("opq/.wh..wh..opq", b"", 0o644).owner(0, 0)
        .file("opq/new", b"new", 0o644).owner(0, 0)
        .dir("bin", 0o755).owner(0, 0)
        .file("bin/tool", b"#!/bin/sh\necho two\n", 0o755).owner(0, 0)
        .hardlink("bin/tool3", "bin/tool").owner(0, 0)
        .dir("etc", 0o755).owner(0, 0)
        .dir("etc/conf.d", 0o750).owner(0, 10).xattr("user.dirattr", b"1")
        .file("etc/conf.d/app.conf", b"k=v\n", 0o640).owner(0, 10);
    let deep = format!("deep/{}/file", "d".repeat(120));
    let l3 = Layer::new(Compress::None)
        .file(".wh.del", b"", 0o644).owner(0, 0)
        .file("new-top", b"top", 0o640).owner(1000, 10)
        .dir("bin", 0o755).owner(0, 0)
        .symlink("bin/sh", "tool3").owner(0, 0)
        .dir("sp ace", 0o755).owner(0, 0)
        .file("sp ace/a:b,c", b"odd", 0o644).owner(0, 0)
        .file(&deep, b"deep", 0o644).owner(0, 0);
    let mut img = TestImage::new(vec![l1, l2, l3]);
    img.run_config = serde_json::json!({"Entrypoint": ["/bin/tool"], "Cmd": ["--help"], "User": "web", "WorkingDir": "/home/web",
        "Env": ["PATH=/usr/bin:/bin"], "ExposedPorts": {"8080/tcp": {}}, "Volumes": {"/home/web": {}}, "StopSignal": "SIGQUIT", "Labels": {"org.test": "rich"}});
    img
}

/// An image of `count` layers, each adding one file (and the last one
/// deleting the first layer's).
pub fn many_layers(count: usize) -> TestImage {
    let mut layers = Vec::new();
    for i in 0..count {
        let mut l = Layer::new(if i % 2 == 0 { Compress::Gzip } else { Compress::None }).dir("layers", 0o755).file(&format!("layers/{i:04}"), format!("layer {i}\n").as_bytes(), 0o644);
        if i + 1 == count {
            l = l.file("layers/.wh.0000", b"", 0o644);
        }
        layers.push(l);
    }
    TestImage::new(layers)
}

/// A bigger image: `layers` layers of `files` pseudo-random files each,
/// `size` bytes per file, gzip-compressed.
pub fn bulky_image(layers: usize, files: usize, size: usize) -> TestImage {
    let mut out = Vec::new();
    for l in 0..layers {
        let mut layer = Layer::new(Compress::Gzip).dir(&format!("l{l}"), 0o755);
        for f in 0..files {
            let dir = format!("l{l}/d{}", f / 50);
            if f % 50 == 0 {
                layer = layer.dir(&dir, 0o755);
            }
            // Half random (incompressible), half text (compressible).
            let mut data = noise((l * 100_000 + f) as u64, size / 2);
            data.extend(std::iter::repeat(b"line of text\n".iter().copied()).flatten().take(size - size / 2));
            layer = layer.file(&format!("{dir}/f{f}"), &data, 0o644);
        }
        out.push(layer);
    }
    TestImage::new(out)
}
