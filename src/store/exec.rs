//! Exec sessions on disk: one directory per session in the container's run
//! directory, so that a session's state is recoverable from files alone
//! whenever berthd (or anything) dies. berthd writes `process.json` (the
//! OCI process the runtime runs) and then `session.json`, which makes the
//! session exist; berth-monitor writes `started` when it has spawned it and
//! `exit` when it has ended. Every file is replaced atomically.
//!
//! | files present | state |
//! |---|---|
//! | session.json | created |
//! | + started | running (while the container runs) |
//! | + exit | exited, with its code |

use crate::fsutil::atomic_write;
use crate::model::{Error, ExecConfig, Result, Usec};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// Session directories are root's alone (the environment may be secret).
pub const SESSION_DIR_MODE: u32 = 0o700;

/// What berthd records when it creates a session (`session.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecRecord {
    pub id: String,
    pub config: ExecConfig,
    pub created_at: Usec,
}

/// What the monitor records once it has spawned the session (`started`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecStarted {
    /// The runtime's `exec` process, the monitor's child.
    pub runtime_pid: u32,
    pub started_at: Usec,
}

/// How the session ended (`exit`), written by the monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecEnd {
    pub exit_code: i32,
    pub finished_at: Usec,
}

/// The files of one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFiles {
    dir: PathBuf,
}

fn read_json<T: DeserializeOwned>(path: &Path, what: &'static str) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(d) => serde_json::from_slice(&d)
            .map(Some)
            .map_err(|e| Error::Corrupt { what, path: path.into(), message: e.to_string() }),
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => Ok(None),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> io::Result<()> {
    atomic_write(path, &serde_json::to_vec(v).map_err(io::Error::other)?)
}

impl SessionFiles {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SessionFiles { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn record_path(&self) -> PathBuf {
        self.dir.join("session.json")
    }

    /// The OCI process spec handed to `runtime exec --process`.
    pub fn process_path(&self) -> PathBuf {
        self.dir.join("process.json")
    }

    pub fn started_path(&self) -> PathBuf {
        self.dir.join("started")
    }

    pub fn end_path(&self) -> PathBuf {
        self.dir.join("exit")
    }

    /// The runtime's `--pid-file`: the process on the host.
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("pid")
    }

    /// The last bytes of the session's output (model::health::HEALTH_OUTPUT_MAX),
    /// written by the monitor before the end.
    pub fn output_path(&self) -> PathBuf {
        self.dir.join("output")
    }

    /// The runtime's `--log`: why an exec failed before the command ran.
    pub fn runtime_log(&self) -> PathBuf {
        self.dir.join("runtime.log")
    }

    /// Make the session: its directory (new, 0700), the process spec, then
    /// the record. A crash before the record leaves a directory that
    /// [`list_sessions`] ignores and the monitor's next start removes.
    pub fn create(&self, rec: &ExecRecord, process_json: &[u8]) -> Result<()> {
        if let Some(parent) = self.dir.parent() {
            DirBuilder::new().recursive(true).mode(SESSION_DIR_MODE).create(parent).map_err(Error::io_at("create", parent))?;
        }
        DirBuilder::new().mode(SESSION_DIR_MODE).create(&self.dir).map_err(Error::io_at("create", &self.dir))?;
        let p = self.process_path();
        atomic_write(&p, process_json).map_err(Error::io_at("write", &p))?;
        let p = self.record_path();
        write_json(&p, rec).map_err(Error::io_at("write", &p))
    }

    pub fn read_record(&self) -> Result<Option<ExecRecord>> {
        read_json(&self.record_path(), "exec session")
    }

    pub fn read_started(&self) -> Result<Option<ExecStarted>> {
        read_json(&self.started_path(), "exec start record")
    }

    pub fn read_end(&self) -> Result<Option<ExecEnd>> {
        read_json(&self.end_path(), "exec exit record")
    }

    pub fn write_started(&self, s: &ExecStarted) -> io::Result<()> {
        write_json(&self.started_path(), s)
    }

    pub fn write_output(&self, tail: &[u8]) -> io::Result<()> {
        atomic_write(&self.output_path(), tail)
    }

    /// The output's tail; empty when none was recorded.
    pub fn read_output(&self) -> Result<Vec<u8>> {
        match fs::read(self.output_path()) {
            Ok(d) => Ok(d),
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => Ok(Vec::new()),
            Err(e) => Err(Error::io("read", &self.output_path(), e)),
        }
    }

    pub fn write_end(&self, e: &ExecEnd) -> io::Result<()> {
        write_json(&self.end_path(), e)
    }

    /// The process on the host, once the runtime has written it.
    pub fn pid(&self) -> Option<u32> {
        fs::read_to_string(self.pid_file()).ok()?.trim().parse().ok()
    }
}

/// The sessions in `exec_dir` (those whose record exists), in no order.
pub fn list_sessions(exec_dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(exec_dir) {
        Ok(e) => e,
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read", exec_dir, e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(Error::io_at("read", exec_dir))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && e.path().join("session.json").is_file() {
            out.push(name);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_session_is_its_files() {
        let d = tempfile::tempdir().unwrap();
        let exec = d.path().join("exec");
        let f = SessionFiles::new(exec.join("s1"));
        assert!(list_sessions(&exec).unwrap().is_empty());
        assert_eq!(f.read_record().unwrap(), None);
        let rec = ExecRecord { id: "s1".into(), config: ExecConfig { command: vec!["sh".into()], ..Default::default() }, created_at: 7 };
        f.create(&rec, b"{}").unwrap();
        assert_eq!(fs::metadata(f.dir()).unwrap().permissions().mode() & 0o777, 0o700);
        assert!(f.create(&rec, b"{}").is_err(), "a session is created once");
        // A crash before the record: a directory without one is no session.
        fs::create_dir(exec.join("torn")).unwrap();
        assert_eq!(list_sessions(&exec).unwrap(), ["s1"]);
        assert_eq!(f.read_record().unwrap(), Some(rec));
        f.write_started(&ExecStarted { runtime_pid: 9, started_at: 8 }).unwrap();
        f.write_end(&ExecEnd { exit_code: 5, finished_at: 9 }).unwrap();
        assert_eq!(f.read_started().unwrap().unwrap().runtime_pid, 9);
        assert_eq!(f.read_end().unwrap().unwrap().exit_code, 5);
        fs::write(f.end_path(), b"{torn").unwrap();
        assert!(f.read_end().unwrap_err().to_string().contains("exit"));
    }
}
