//! What berthd tells about a container: one typed description that berthd
//! serialises (InspectContainer, ListContainerInfo) and every client reads
//! back, shaped like podman's inspect where it can be.

use super::{AttachmentInfo, ContainerSpec, PortMapping, State, Usec, OPTIONS};
use std::collections::BTreeMap;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    /// Microseconds since the epoch.
    pub created: Usec,
    pub state: StateInfo,
    /// The systemd unit that runs it.
    pub unit: String,
    /// The `.container` file that defines it, if any.
    pub source: Option<PathBuf>,
    /// Whether podman's restart policy would restart it now.
    pub should_restart: bool,
    /// The id of the image it is made from (None for a Rootfs container).
    #[serde(default)]
    pub image: Option<String>,
    /// The image as it was named at create.
    #[serde(default)]
    pub image_name: Option<String>,
    /// Mounts of its root file system asked for by Mount and not yet
    /// released by Unmount.
    #[serde(default)]
    pub mount_count: u32,
    pub spec: ContainerSpec,
    /// While it runs: network name -> its address, gateway, MAC, interface.
    #[serde(default)]
    pub networks: BTreeMap<String, AttachmentInfo>,
    /// While it runs: the ports it publishes.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateInfo {
    pub status: State,
    pub running: bool,
    pub paused: bool,
    /// The container's init on the host while it runs, else 0.
    pub pid: u32,
    /// The last run's exit code; -1 until the container has exited once.
    pub exit_code: i32,
    pub started_at: Usec,
    pub finished_at: Usec,
    pub restart_count: u32,
    pub stopped_by_user: bool,
    /// Its health check's results in this run (podman's State.Health);
    /// None without a health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<super::HealthState>,
}

impl ContainerInfo {
    /// Hide the values of secret options (for callers other than root).
    pub fn redact(&mut self) {
        for d in OPTIONS.iter() {
            if let Some(redact) = d.redact {
                redact(&mut self.spec);
            }
        }
    }
}
