//! Durable container records under the state root, volatile runtime data
//! (bundles, exit files, the OCI runtimes' state) under the run root.

mod exit;
mod record;

pub use exit::ExitRecord;
pub use record::Record;

use crate::fsutil::{atomic_write, remove_durably};
use crate::model::{ContainerName, Error, Result};
use std::fs;
use std::path::{Path, PathBuf};

pub const DEFAULT_STATE_ROOT: &str = "/var/lib/berth";
pub const DEFAULT_RUN_ROOT: &str = "/run/berth";

#[derive(Debug, Clone)]
pub struct Store {
    state_root: PathBuf,
    run_root: PathBuf,
}

impl Store {
    /// Open (and create) the two roots.
    pub fn open(state_root: impl Into<PathBuf>, run_root: impl Into<PathBuf>) -> Result<Self> {
        let s = Store { state_root: state_root.into(), run_root: run_root.into() };
        for d in [s.containers_dir(), s.run_root.join("bundles"), s.exits_dir()] {
            fs::create_dir_all(&d).map_err(|e| Error::io("create", &d, e))?;
        }
        Ok(s)
    }

    pub fn state_root(&self) -> &Path {
        &self.state_root
    }

    pub fn run_root(&self) -> &Path {
        &self.run_root
    }

    fn containers_dir(&self) -> PathBuf {
        self.state_root.join("containers")
    }

    fn exits_dir(&self) -> PathBuf {
        self.run_root.join("exits")
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
        self.run_root.join("bundles").join(id)
    }

    /// Where the monitor records how container `id` ended.
    pub fn exit_file(&self, id: &str) -> PathBuf {
        self.exits_dir().join(id)
    }

    /// Where the monitor listens for a notify container's READY=1; short, as
    /// socket paths are limited to 108 bytes.
    pub fn notify_socket(&self, id: &str) -> PathBuf {
        self.run_root.join("notify").join(crate::model::short_id(id))
    }

    /// The state directory handed to the OCI runtime (`--root`).
    pub fn runtime_root(&self, runtime_is_runc: bool) -> PathBuf {
        self.run_root.join(if runtime_is_runc { "runc" } else { "crun" })
    }

    pub fn read_exit(&self, id: &str) -> Result<Option<ExitRecord>> {
        ExitRecord::read(&self.exit_file(id))
    }

    /// Forget runtime leftovers of container `id`: its bundle and exit file.
    pub fn remove_runtime_data(&self, id: &str) -> Result<()> {
        let b = self.bundle_dir(id);
        match fs::remove_dir_all(&b) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io("remove", &b, e)),
            _ => {}
        }
        let x = self.exit_file(id);
        remove_durably(&x).map_err(|e| Error::io("remove", &x, e))?;
        let m = ExitRecord::marker_path(&x);
        remove_durably(&m).map_err(|e| Error::io("remove", &m, e))
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
