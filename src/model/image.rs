//! What berthd tells about images and volumes: typed descriptions that
//! berthd serialises (ListImages, InspectImage, ListVolumes, InspectVolume)
//! and every client reads back, shaped like podman's where they can be.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One image, as ListImages gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInfo {
    /// The config's sha256, 64 hex.
    pub id: String,
    /// Full names (`localhost/web:latest`), sorted.
    pub names: Vec<String>,
    /// The manifest's digest (`sha256:...`).
    pub digest: String,
    /// When the image says it was made (RFC 3339), if it does.
    pub created: Option<String>,
    /// When it was imported, seconds since the epoch.
    pub imported: u64,
    /// Bytes of the layers, uncompressed.
    pub size: u64,
    pub architecture: String,
    pub os: String,
    /// The layers' diffIDs, bottom layer first.
    pub layers: Vec<String>,
    /// Names of the containers made from it.
    #[serde(default)]
    pub containers: Vec<String>,
}

/// InspectImage: the image and what its config asks of containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageDetails {
    #[serde(flatten)]
    pub image: ImageInfo,
    pub config: ImageConfigInfo,
}

/// The parts of an image's config a container gets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageConfigInfo {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub stop_signal: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// `PORT/PROTOCOL`, sorted (kept for networking).
    pub exposed_ports: Vec<String>,
    /// Paths that get an anonymous volume.
    pub volumes: Vec<String>,
    pub author: Option<String>,
}

/// One named volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeInfo {
    pub name: String,
    /// The host directory containers mount.
    pub mountpoint: PathBuf,
    /// Seconds since the epoch.
    pub created: u64,
    pub labels: BTreeMap<String, String>,
    /// Made for one container and removed with it.
    #[serde(default)]
    pub anonymous: bool,
    /// Names of the containers that use it.
    #[serde(default)]
    pub containers: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_flatten_the_image() {
        let d = ImageDetails {
            image: ImageInfo {
                id: "a".repeat(64),
                names: vec!["localhost/web:latest".into()],
                digest: format!("sha256:{}", "b".repeat(64)),
                created: None,
                imported: 7,
                size: 9,
                architecture: "amd64".into(),
                os: "linux".into(),
                layers: vec![],
                containers: vec!["web".into()],
            },
            config: ImageConfigInfo { cmd: vec!["/bin/sh".into()], ..Default::default() },
        };
        let j: serde_json::Value = serde_json::to_value(&d).unwrap();
        assert_eq!(j["Names"][0], "localhost/web:latest");
        assert_eq!(j["Config"]["Cmd"][0], "/bin/sh");
        assert_eq!(serde_json::from_value::<ImageDetails>(j).unwrap(), d);
    }
}
