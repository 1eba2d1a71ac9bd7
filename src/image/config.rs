//! The parts of an image's configuration that running a container needs,
//! as a typed struct read from the OCI (or docker) config JSON.

use super::digest::Digest;
use super::error::{Error, Result};
use oci_spec::image::ImageConfiguration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// What an image asks of the containers made from it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `KEY=VALUE` entries.
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    /// podman's forms: `name`, `uid`, `name:group`, `uid:gid`.
    pub user: Option<String>,
    pub stop_signal: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Sorted, without duplicates.
    pub exposed_ports: Vec<ExposedPort>,
    /// Container paths that get an anonymous volume; sorted.
    pub volumes: Vec<String>,
    pub architecture: String,
    pub os: String,
    pub variant: Option<String>,
    /// RFC 3339 creation time, as the image states it.
    pub created: Option<String>,
    pub author: Option<String>,
    /// The layers' uncompressed digests, bottom layer first.
    pub diff_ids: Vec<Digest>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

/// One entry of `ExposedPorts`: `80/tcp`, `53/udp`, `8080` (tcp).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ExposedPort {
    pub port: u16,
    pub protocol: Protocol,
}

impl fmt::Display for ExposedPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        };
        write!(f, "{}/{p}", self.port)
    }
}

/// Parse one `ExposedPorts` key as docker does: `PORT[/PROTO]` or a range
/// `START-END[/PROTO]`; the protocol is tcp unless given, in any case.
pub fn parse_exposed_port(key: &str) -> Result<Vec<ExposedPort>> {
    let bad = || Error::InvalidExposedPort { port: key.to_string() };
    let (ports, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let protocol = match proto.to_ascii_lowercase().as_str() {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "sctp" => Protocol::Sctp,
        _ => return Err(bad()),
    };
    let number = |s: &str| -> Result<u16> {
        match s.parse::<u16>() {
            Ok(p) if p > 0 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
            _ => Err(bad()),
        }
    };
    let (start, end) = match ports.split_once('-') {
        Some((a, b)) => (number(a)?, number(b)?),
        None => {
            let p = number(ports)?;
            (p, p)
        }
    };
    if start > end {
        return Err(bad());
    }
    Ok((start..=end).map(|port| ExposedPort { port, protocol }).collect())
}

impl ImageConfig {
    /// Read a config blob (OCI, or docker's, which has the same shape).
    pub fn parse(json: &[u8]) -> Result<Self> {
        let oci: ImageConfiguration = serde_json::from_slice(json).map_err(Error::json("image config"))?;
        Self::from_oci(&oci)
    }

    pub fn from_oci(oci: &ImageConfiguration) -> Result<Self> {
        let mut out = ImageConfig {
            architecture: oci.architecture().to_string(),
            os: oci.os().to_string(),
            variant: oci.variant().clone(),
            created: oci.created().clone(),
            author: oci.author().clone(),
            ..Default::default()
        };
        for d in oci.rootfs().diff_ids() {
            out.diff_ids.push(Digest::parse(d)?);
        }
        let Some(c) = oci.config() else { return Ok(out) };
        out.entrypoint = c.entrypoint().clone().unwrap_or_default();
        out.cmd = c.cmd().clone().unwrap_or_default();
        out.env = c.env().clone().unwrap_or_default();
        out.working_dir = c.working_dir().clone().filter(|w| !w.is_empty());
        out.user = c.user().clone().filter(|u| !u.is_empty());
        out.stop_signal = c.stop_signal().clone().filter(|s| !s.is_empty());
        out.labels = c.labels().clone().unwrap_or_default().into_iter().collect();
        for key in c.exposed_ports().iter().flatten() {
            out.exposed_ports.extend(parse_exposed_port(key)?);
        }
        out.exposed_ports.sort();
        out.exposed_ports.dedup();
        out.volumes = c.volumes().clone().unwrap_or_default();
        out.volumes.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposed_ports() {
        let tcp = |port| ExposedPort { port, protocol: Protocol::Tcp };
        assert_eq!(parse_exposed_port("80/tcp").unwrap(), [tcp(80)]);
        assert_eq!(parse_exposed_port("8080").unwrap(), [tcp(8080)]);
        assert_eq!(parse_exposed_port("53/UDP").unwrap(), [ExposedPort { port: 53, protocol: Protocol::Udp }]);
        assert_eq!(parse_exposed_port("9/sctp").unwrap()[0].protocol, Protocol::Sctp);
        assert_eq!(parse_exposed_port("8000-8002/tcp").unwrap(), [tcp(8000), tcp(8001), tcp(8002)]);
        for bad in ["", "0", "65536", "80/icmp", "x/tcp", "+80", "90-80", "80/", "-80"] {
            assert!(matches!(parse_exposed_port(bad), Err(Error::InvalidExposedPort { .. })), "{bad}");
        }
        assert_eq!(tcp(80).to_string(), "80/tcp");
    }

    #[test]
    fn reads_a_docker_config_with_nulls() {
        let json = br#"{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z",
            "config":{"Entrypoint":null,"Cmd":["/bin/sh"],"Env":["PATH=/bin"],"WorkingDir":"",
              "User":"1000:1000","Labels":{"a":"b"},"ExposedPorts":{"80/tcp":{},"53/udp":{}},
              "Volumes":{"/data":{}},"StopSignal":"SIGINT","OnBuild":null},
            "container_config":{"Hostname":""},"docker_version":"24",
            "rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]},
            "history":[{"created_by":"x","empty_layer":true}]}"#;
        let c = ImageConfig::parse(json).unwrap();
        assert!(c.entrypoint.is_empty());
        assert_eq!(c.cmd, ["/bin/sh"]);
        assert_eq!(c.working_dir, None);
        assert_eq!(c.user.as_deref(), Some("1000:1000"));
        assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(c.labels["a"], "b");
        assert_eq!(c.exposed_ports.iter().map(|p| p.to_string()).collect::<Vec<_>>(), ["53/udp", "80/tcp"]);
        assert_eq!(c.volumes, ["/data"]);
        assert_eq!((c.architecture.as_str(), c.os.as_str()), ("amd64", "linux"));
        assert_eq!(c.diff_ids.len(), 1);
    }

    #[test]
    fn malformed_config_is_named() {
        assert!(matches!(ImageConfig::parse(b"{\"architecture\":"), Err(Error::MalformedJson { .. })));
        let bad_port = br#"{"architecture":"amd64","os":"linux","config":{"ExposedPorts":{"http":{}}},"rootfs":{"type":"layers","diff_ids":[]}}"#;
        assert!(matches!(ImageConfig::parse(bad_port), Err(Error::InvalidExposedPort { .. })));
        let bad_diff = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["md5:00"]}}"#;
        assert!(matches!(ImageConfig::parse(bad_diff), Err(Error::InvalidDigest { .. })));
    }
}
