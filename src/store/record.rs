use crate::model::{now_usec, ContainerName, ContainerSpec, State, Usec};
use serde::{Deserialize, Serialize};

/// What berth keeps of one container across restarts of berthd.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub name: ContainerName,
    pub id: String,
    pub spec: ContainerSpec,
    pub state: State,
    pub created_at: Usec,
    #[serde(default)]
    pub started_at: Usec,
    #[serde(default)]
    pub finished_at: Usec,
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// The last stop was asked for (stop, kill, systemctl stop): no restart.
    #[serde(default)]
    pub stopped_by_user: bool,
    /// Restarts done by systemd before the current run of the unit.
    #[serde(default)]
    pub restart_count: u32,
    /// The unit of a file-defined container (`NAME.service`); None for
    /// berth's transient `berth-NAME.service`.
    #[serde(default)]
    pub unit: Option<String>,
    /// The `.container` file that defines it, if any.
    #[serde(default)]
    pub source: Option<std::path::PathBuf>,
    /// The id of the image it is made from, resolved at create from
    /// `spec.image` (for a file-defined container: when berthd learns it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// Mounts of its root asked for by Mount and not yet released.
    #[serde(default)]
    pub mounts: u32,
}

impl Record {
    pub fn new(name: ContainerName, id: String, spec: ContainerSpec) -> Self {
        Record {
            name,
            id,
            spec,
            state: State::Configured,
            created_at: now_usec(),
            started_at: 0,
            finished_at: 0,
            exit_code: None,
            stopped_by_user: false,
            restart_count: 0,
            unit: None,
            source: None,
            image_id: None,
            mounts: 0,
        }
    }

    /// The systemd unit that runs this container.
    pub fn unit_name(&self) -> String {
        self.unit.clone().unwrap_or_else(|| self.name.unit())
    }
}
