//! Durable container records under the state root, volatile runtime data
//! (bundles, exit files, the OCI runtimes' state) under the run root.

mod exec;
mod exit;
mod layout;
mod record;
mod state_layout;

pub use exit::ExitRecord;
pub use exec::{list_sessions, ExecEnd, ExecRecord, ExecStarted, SessionFiles, SESSION_DIR_MODE};
pub use layout::{marker_of, RunDir, RunLayout};
pub use record::Record;
pub use state_layout::StateLayout;

use crate::fsutil::{atomic_write, remove_durably};
use crate::model::{ContainerName, Error, Result};
use std::fs;
use std::path::{Path, PathBuf};

pub const DEFAULT_STATE_ROOT: &str = "/var/lib/berth";
pub const DEFAULT_RUN_ROOT: &str = "/run/berth";

/// The network definitions and leases under a state root.
pub fn networks_dir(state_root: &Path) -> PathBuf {
    state_root.join("networks")
}

#[derive(Debug, Clone)]
pub struct Store {
    state_root: PathBuf,
    layout: RunLayout,
}

impl Store {
    /// Open (and create) the two roots.
    pub fn open(state_root: impl Into<PathBuf>, run_root: impl Into<PathBuf>) -> Result<Self> {
        let s = Store { state_root: state_root.into(), layout: RunLayout::new(run_root) };
        for d in std::iter::once(s.containers_dir()).chain(s.layout.dirs()) {
            fs::create_dir_all(&d).map_err(|e| Error::io("create", &d, e))?;
        }
        Ok(s)
    }

    pub fn state_root(&self) -> &Path {
        &self.state_root
    }

    pub fn run_root(&self) -> &Path {
        self.layout.root()
    }

    /// The network definitions and address leases (durable).
    pub fn networks_dir(&self) -> PathBuf {
        networks_dir(&self.state_root)
    }

    /// Where each container's runtime data lives.
    pub fn layout(&self) -> &RunLayout {
        &self.layout
    }

    /// Where the durable state lives.
    pub fn state_layout(&self) -> StateLayout {
        StateLayout::new(&self.state_root)
    }

    fn containers_dir(&self) -> PathBuf {
        self.state_layout().containers_dir()
    }

    fn record_path(&self, name: &ContainerName) -> PathBuf {
        self.containers_dir().join(format!("{name}.json"))
    }

    pub fn save(&self, rec: &Record) -> Result<()> {
        let p = self.record_path(&rec.name);
        let json = serde_json::to_vec_pretty(rec).map_err(|e| Error::internal(format!("serializing {}: {e}", p.display())))?;
        atomic_write(&p, &json).map_err(|e| Error::io("write", &p, e))
    }

    pub fn delete(&self, name: &ContainerName) -> Result<()> {
        let p = self.record_path(name);
        remove_durably(&p).map_err(|e| Error::io("remove", &p, e))
    }

    /// Every stored record. A record that cannot be read is reported, not
    /// skipped: losing a container silently is worse than refusing to start.
    pub fn load_all(&self) -> Result<Vec<Record>> {
        let dir = self.containers_dir();
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| Error::io("read", &dir, e))? {
            let path = entry.map_err(|e| Error::io("read", &dir, e))?.path();
            let is_record = path.extension().is_some_and(|x| x == "json")
                && !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if !is_record {
                continue;
            }
            let data = fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
            let rec: Record = serde_json::from_slice(&data)
                .map_err(|e| Error::Corrupt { what: "record", path: path.clone(), message: e.to_string() })?;
            out.push(rec);
        }
        out.sort_by_key(|r| r.created_at);
        Ok(out)
    }

    /// The OCI bundle directory of container `id`.
    pub fn bundle_dir(&self, id: &str) -> PathBuf {
        self.layout.bundle_dir(id)
    }

    pub fn exit_file(&self, id: &str) -> PathBuf {
        self.layout.exit_file(id)
    }

    pub fn read_exit(&self, id: &str) -> Result<Option<ExitRecord>> {
        ExitRecord::read(&self.exit_file(id))
    }

    /// Forget runtime leftovers of container `id`: its bundle, exit file
    /// and notify socket, and what an OCI runtime killed mid-run left of its
    /// state (the runtime deletes its own state when it ends normally).
    pub fn remove_runtime_data(&self, id: &str) -> Result<()> {
        let l = &self.layout;
        for d in [l.bundle_dir(id), l.runtime_state_dir(id, false), l.runtime_state_dir(id, true)] {
            match fs::remove_dir_all(&d) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io("remove", &d, e)),
                _ => {}
            }
        }
        for f in [l.exit_file(id), l.exit_marker(id), l.notify_socket(id)] {
            remove_durably(&f).map_err(|e| Error::io("remove", &f, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{new_id, ContainerSpec, OptionValue};

    fn record(name: &str) -> Record {
        let opts = [
            ("Rootfs".to_string(), OptionValue::Str("/r".into())),
            ("Command".to_string(), OptionValue::StrList(vec!["true".into()])),
        ]
        .into();
        Record::new(ContainerName::new(name).unwrap(), new_id(), ContainerSpec::from_options(&opts).unwrap())
    }

    #[test]
    fn save_load_delete() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path().join("state"), d.path().join("run")).unwrap();
        let a = record("a");
        let mut b = record("b");
        s.save(&a).unwrap();
        s.save(&b).unwrap();
        b.exit_code = Some(3);
        s.save(&b).unwrap();
        let all = s.load_all().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all.iter().find(|r| r.name.as_str() == "b").unwrap().exit_code, Some(3));
        s.delete(&a.name).unwrap();
        assert_eq!(s.load_all().unwrap().len(), 1);
    }

    #[test]
    fn leftover_temporary_is_ignored_and_corrupt_record_reported() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path().join("state"), d.path().join("run")).unwrap();
        s.save(&record("a")).unwrap();
        // A crash between write and rename leaves only the temporary file.
        fs::write(d.path().join("state/containers/.b.json.tmp"), b"{\"torn").unwrap();
        assert_eq!(s.load_all().unwrap().len(), 1);
        fs::write(d.path().join("state/containers/c.json"), b"{\"torn").unwrap();
        let e = s.load_all().unwrap_err();
        assert!(e.to_string().contains("c.json"), "{e}");
    }
}
