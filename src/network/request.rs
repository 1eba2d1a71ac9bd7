//! A container's network request: what berthd writes next to the bundle
//! and the container's unit acts on, so that the network is set up before
//! the container runs and torn down after it ends even while berthd is
//! down (file-defined containers at boot, a container dying unwatched).

use super::error::{NetworkError, Result};
use super::files::{host_resolv_conf, hosts_file, resolv_conf, HostsOptions, ResolvOptions};
use super::networks::Networks;
use super::setup::{teardown_from_state, ContainerNetworkOptions};
use super::status::ContainerNetworkStatus;
use crate::fsutil::atomic_write;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Everything the unit needs to set the container's network up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRequest {
    /// The network store's definitions and leases ([`Networks::open`]).
    pub config_dir: PathBuf,
    /// Its run directory: namespaces, state files, hosts and resolv.conf.
    pub run_dir: PathBuf,
    /// netavark's part; `netns` is [`Networks::netns_path`] of the container.
    pub options: ContainerNetworkOptions,
    /// `--dns-search` (a lone `.`: none).
    #[serde(default)]
    pub dns_search: Vec<String>,
    /// `--add-host` lines.
    #[serde(default)]
    pub extra_hosts: Vec<String>,
    /// The names /etc/hosts gives the container's own addresses.
    #[serde(default)]
    pub host_names: Vec<String>,
}

impl NetworkRequest {
    pub fn read(path: &Path) -> Result<Self> {
        let data = std::fs::read(path).map_err(NetworkError::io("read", path))?;
        serde_json::from_slice(&data).map_err(|source| NetworkError::Corrupt { path: path.into(), source })
    }

    /// Written atomically: a unit never reads half a request.
    pub fn write(&self, path: &Path) -> Result<()> {
        let json =
            serde_json::to_vec_pretty(self).map_err(|source| NetworkError::Corrupt { path: path.into(), source })?;
        atomic_write(path, &json).map_err(NetworkError::io("write", path))
    }

    /// Set the container's network up: tear down what a killed run left,
    /// make the namespace, run netavark setup (the container keeps its
    /// addresses across runs), and write its hosts and resolv.conf. On
    /// failure nothing stays set up.
    pub fn bring_up(&self) -> Result<ContainerNetworkStatus> {
        let networks = Networks::open(&self.config_dir, &self.run_dir)?;
        let id = self.options.container_id.as_str();
        if let Err(e) = networks.teardown(id) {
            tracing::warn!(container = id, "tearing down a previous run's network: {e}");
        }
        let netns = networks.create_netns(id)?;
        let options = ContainerNetworkOptions { netns, ..self.options.clone() };
        let status = match networks.setup(&options) {
            Ok(s) => s,
            Err(e) => {
                if let Err(r) = networks.remove_netns(id) {
                    tracing::warn!(container = id, "removing the namespace after a failed setup: {r}");
                }
                return Err(e);
            }
        };
        match self.write_files(&networks, &status) {
            Ok(()) => Ok(status),
            Err(e) => {
                if let Err(t) = networks.teardown(id) {
                    tracing::warn!(container = id, "teardown after failing to write its files: {t}");
                }
                Err(e)
            }
        }
    }

    fn write_files(&self, networks: &Networks, status: &ContainerNetworkStatus) -> Result<()> {
        let hosts = hosts_file(&HostsOptions {
            base: "",
            extra: &self.extra_hosts,
            names: &self.host_names,
            status: Some(status),
        })?;
        let resolv = resolv_conf(&ResolvOptions {
            host: &host_resolv_conf(),
            status: Some(status),
            dns_servers: &self.options.dns_servers,
            dns_search: &self.dns_search,
            dns_options: &[],
        });
        networks.write_container_files(&self.options.container_id, &hosts, &resolv).map(drop)
    }

    /// Tear the container's network down (see [`teardown_from_state`]).
    pub fn take_down(&self) -> Result<bool> {
        teardown_from_state(&self.run_dir, &self.options.container_id)
    }
}
