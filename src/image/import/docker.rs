//! Reading a docker-archive (`docker save`, `podman save`): `manifest.json`
//! lists each image's config file, layer files and names (`RepoTags`).

use super::source::Source;
use super::{Found, LayerBlob};
use crate::image::digest::Digest;
use crate::image::error::{Error, Result};
use crate::image::reference::{DefaultDomain, ImageName};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// The digest a member's name states: `<hex>.json` (older docker and
/// podman) or `blobs/sha256/<hex>` (docker 25 and later). Layers named
/// `<legacy id>/layer.tar` state none; their diffIDs still verify them.
fn stated_digest(member: &str) -> Option<Digest> {
    let base = member.trim_start_matches("./");
    let hex = base.strip_prefix("blobs/sha256/").or_else(|| base.strip_suffix(".json"))?;
    Digest::from_hex(hex)
}

pub fn find(src: &Source) -> Result<Vec<Found>> {
    let data = src.read_small("manifest.json")?;
    let entries: Vec<Entry> = serde_json::from_slice(&data).map_err(Error::json("manifest.json"))?;
    let mut out: Vec<Found> = Vec::new();
    for e in entries {
        let config = src.read_small(&e.config)?;
        let config_digest = Digest::of(&config);
        if let Some(expected) = stated_digest(&e.config) {
            if expected != config_digest {
                return Err(Error::DigestMismatch { what: "config", expected, actual: config_digest });
            }
        }
        let mut names = Vec::new();
        for t in e.repo_tags.iter().flatten() {
            names.push(ImageName::parse_with(t, DefaultDomain::DockerHub)?);
        }
        let layers =
            e.layers.iter().map(|l| LayerBlob { member: l.clone(), digest: l.starts_with("blobs/").then(|| stated_digest(l)).flatten(), size: None }).collect();
        match out.iter_mut().find(|f| f.config_digest == config_digest) {
            Some(f) => f.names.extend(names),
            None => out.push(Found { manifest: None, config_digest, config, layers, names }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_stated_by_member_names() {
        let hex = "a".repeat(64);
        assert_eq!(stated_digest(&format!("{hex}.json")), Digest::from_hex(&hex));
        assert_eq!(stated_digest(&format!("blobs/sha256/{hex}")), Digest::from_hex(&hex));
        assert_eq!(stated_digest(&format!("{hex}/layer.tar")), None);
        assert_eq!(stated_digest("config.json"), None);
    }
}
