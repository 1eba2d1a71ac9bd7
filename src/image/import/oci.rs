//! Reading an OCI image layout (a directory or an oci-archive): `index.json`,
//! its manifests (through nested indexes, picking this machine's platform),
//! each verified against its descriptor.

use super::source::Source;
use super::{host_arch, Found, LayerBlob};
use crate::image::digest::Digest;
use crate::image::error::{Error, Result};
use crate::image::reference::{DefaultDomain, ImageName};
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use std::collections::HashMap;

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";
/// Indexes inside indexes are followed this deep.
const MAX_DEPTH: usize = 4;

pub fn find(src: &Source) -> Result<Vec<Found>> {
    let data = src.read_small("index.json")?;
    let index: ImageIndex = serde_json::from_slice(&data).map_err(Error::json("index.json"))?;
    let mut out = Vec::new();
    for desc in index.manifests() {
        let names = names_of(desc.annotations().as_ref());
        collect(src, desc, names, 0, &mut out)?;
    }
    Ok(out)
}

/// The image name a descriptor's annotations give: containerd's full name,
/// or a ref.name that is a whole reference (one that is only a tag, as
/// umoci writes, names nothing by itself).
fn names_of(annotations: Option<&HashMap<String, String>>) -> Vec<ImageName> {
    let Some(a) = annotations else { return Vec::new() };
    if let Some(n) = a.get(CONTAINERD_NAME).and_then(|n| ImageName::parse_with(n, DefaultDomain::DockerHub).ok()) {
        return vec![n];
    }
    match a.get(REF_NAME) {
        Some(r) if r.contains(['/', ':']) => ImageName::parse(r).ok().into_iter().collect(),
        _ => Vec::new(),
    }
}

/// Read the blob a descriptor points at, checking its size and digest.
pub fn read_verified(src: &Source, desc: &Descriptor, what: &'static str) -> Result<(Digest, Vec<u8>)> {
    let digest = Digest::parse(desc.digest().as_ref())?;
    let data = src.read_blob_small(&digest)?;
    if data.len() as u64 != desc.size() {
        return Err(Error::SizeMismatch { what, digest, expected: desc.size(), actual: data.len() as u64 });
    }
    let actual = Digest::of(&data);
    if actual != digest {
        return Err(Error::DigestMismatch { what, expected: digest, actual });
    }
    Ok((digest, data))
}

fn is_index(media_type: &str, data: &[u8]) -> bool {
    match media_type {
        "application/vnd.oci.image.index.v1+json" | "application/vnd.docker.distribution.manifest.list.v2+json" => true,
        "application/vnd.oci.image.manifest.v1+json" | "application/vnd.docker.distribution.manifest.v2+json" => false,
        // No or another type: the content decides.
        _ => serde_json::from_slice::<serde_json::Value>(data).is_ok_and(|v| v.get("manifests").is_some()),
    }
}

fn collect(src: &Source, desc: &Descriptor, names: Vec<ImageName>, depth: usize, out: &mut Vec<Found>) -> Result<()> {
    let (digest, data) = read_verified(src, desc, "manifest")?;
    if is_index(desc.media_type().as_ref(), &data) {
        if depth >= MAX_DEPTH {
            return Err(Error::MalformedMetadata { what: format!("index {digest}"), reason: "indexes nested too deep".into() });
        }
        let index: ImageIndex = serde_json::from_slice(&data).map_err(Error::json(format!("index {digest}")))?;
        let pick = pick_platform(index.manifests()).ok_or(Error::NoImage)?;
        return collect(src, pick, names, depth + 1, out);
    }
    let manifest: ImageManifest = serde_json::from_slice(&data).map_err(Error::json(format!("manifest {digest}")))?;
    let (config_digest, config) = read_verified(src, manifest.config(), "config")?;
    let mut layers = Vec::new();
    for l in manifest.layers() {
        let media = l.media_type().to_string();
        if !media.contains("tar") && !media.contains("rootfs.diff") {
            return Err(Error::UnsupportedMediaType { media_type: media });
        }
        let d = Digest::parse(l.digest().as_ref())?;
        layers.push(LayerBlob { member: super::source::blob_path(&d), digest: Some(d), size: Some(l.size()) });
    }
    // The same image under two names is one image with both.
    if let Some(f) = out.iter_mut().find(|f| f.config_digest == config_digest) {
        f.names.extend(names);
        return Ok(());
    }
    out.push(Found { manifest: Some(data), config_digest, config, layers, names });
    Ok(())
}

/// The manifest for this machine (linux and its architecture); the only
/// one when there is one.
fn pick_platform(manifests: &[Descriptor]) -> Option<&Descriptor> {
    let arch = host_arch();
    manifests
        .iter()
        .find(|d| d.platform().as_ref().is_some_and(|p| p.os().to_string() == "linux" && p.architecture().to_string() == arch))
        .or_else(|| if manifests.len() == 1 { manifests.first() } else { None })
}
