use crate::fsutil::atomic_write;
use crate::model::{Error, Result, Usec};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How one run of a container ended, written by the monitor (or, when the
/// monitor itself was killed, by the unit's ExecStopPost) so that the exit
/// code survives berthd being down at the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// The container's status; 128+N when killed by signal N.
    pub exit_code: i32,
    pub finished_at: Usec,
    /// The monitor was asked to stop or signal the container.
    pub stop_requested: bool,
    /// When this run began (0 in files of older versions).
    #[serde(default)]
    pub started_at: Usec,
}

impl ExitRecord {
    pub fn read(path: &Path) -> Result<Option<ExitRecord>> {
        match std::fs::read(path) {
            Ok(d) => serde_json::from_slice(&d)
                .map(Some)
                .map_err(|e| Error::Corrupt { what: "exit file", path: path.into(), message: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", path, e)),
        }
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        atomic_write(path, &serde_json::to_vec(self).expect("plain struct serializes"))
    }

}
