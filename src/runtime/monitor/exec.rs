//! Exec sessions in the running container. berthd creates a session's
//! files (store::SessionFiles); on its request the monitor spawns `runtime
//! exec` for it, as its own child in the container's cgroup (spawn.rs), so
//! the process is never berthd's and outlives berthd. The monitor owns the
//! session's stdio as it owns the init's, and records in the session's
//! files that it started and, once its output is read, its exit code
//! (podman's: the command's own, 126 not executable, 127 not found).

use super::control::{Refusal, Reply};
use super::exit_code;
use super::spawn::Spawner;
use super::stdio::{ProcessIo, Terminal};
use crate::model::{now_usec, validate_id, ExecState};
use crate::runtime::exec_spec::exec_exit_code;
use crate::store::{ExecEnd, ExecStarted, RunDir, SessionFiles};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// How long a session's output is read after its runtime exited: a process
/// it left running in the background may hold the pipes open.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

pub(super) struct ExecSession {
    pub id: String,
    files: SessionFiles,
    child: Child,
    pub io: ProcessIo,
    /// The last bytes of its output (stdout and stderr as they came).
    pub tail: Vec<u8>,
    /// The runtime exited: how, and when (its output is being read).
    ended: Option<(ExitStatus, Instant)>,
}

fn refuse(refusal: Refusal, message: impl Into<String>) -> Reply {
    Reply::refused(refusal, message)
}

impl ExecSession {
    /// Spawn created session `id`; `n` numbers its console socket.
    pub fn spawn(spawner: &Spawner, runtime_id: &str, run_dir: &RunDir, id: &str, n: u32) -> Result<ExecSession, Reply> {
        if !validate_id(id) {
            return Err(refuse(Refusal::NoSuchSession, format!("{id:?} is not a session id")));
        }
        let files = SessionFiles::new(run_dir.session_dir(id));
        let rec = match files.read_record() {
            Ok(Some(r)) => r,
            Ok(None) => return Err(refuse(Refusal::NoSuchSession, format!("no exec session {id}"))),
            Err(e) => return Err(refuse(Refusal::Failed, e.to_string())),
        };
        if files.read_started().ok().flatten().is_some() {
            let state = if files.read_end().ok().flatten().is_some() { ExecState::Exited } else { ExecState::Running };
            return Err(refuse(Refusal::SessionState(state), "it was started already"));
        }
        let console = run_dir.console_socket(n);
        let terminal = Terminal::of(rec.config.terminal, &spawner.runtime, &console);
        let (io, stdio) = ProcessIo::open(terminal, rec.config.interactive)
            .map_err(|e| refuse(Refusal::Failed, format!("the session's stdio: {e}")))?;
        let args = spawner.runtime.exec_args(
            runtime_id,
            &files.process_path(),
            &files.pid_file(),
            &files.runtime_log(),
            io.console_path(),
        );
        let child = spawner
            .spawn(spawner.command(args, Some(stdio)))
            .map_err(|e| refuse(Refusal::Failed, format!("running {}: {e}", spawner.runtime.program.display())))?;
        let started = ExecStarted { runtime_pid: child.id(), started_at: now_usec() };
        if let Err(e) = files.write_started(&started) {
            eprintln!("berth-monitor: recording that exec session {id} started: {e}");
        }
        Ok(ExecSession { id: id.to_string(), files, child, io, tail: Vec::new(), ended: None })
    }

    /// The runtime's `exec` process.
    pub fn runtime_pid(&self) -> u32 {
        self.child.id()
    }

    /// Notice that the runtime exited (after a SIGCHLD).
    pub fn reap(&mut self) {
        if self.ended.is_some() {
            return;
        }
        match self.child.try_wait() {
            Ok(Some(st)) => self.ended = Some((st, Instant::now())),
            Ok(None) => {}
            Err(e) => {
                eprintln!("berth-monitor: waiting for exec session {}: {e}", self.id);
                self.ended = Some((ExitStatus::default(), Instant::now()));
            }
        }
    }

    /// Ended, and its output read (or given up on).
    pub fn done(&self) -> bool {
        self.ended.is_some_and(|(_, t)| self.io.drained() || t.elapsed() >= DRAIN_LIMIT)
    }

    /// When to look again at a session whose output is still being read.
    pub fn deadline(&self) -> Option<Instant> {
        self.ended.map(|(_, t)| t + DRAIN_LIMIT)
    }

    /// The container is ending: the session's processes die with its PID
    /// namespace; its runtime goes too if it lingers.
    pub fn kill(&mut self) {
        if self.ended.is_none() {
            if let Err(e) = self.child.kill() {
                eprintln!("berth-monitor: killing exec session {}: {e}", self.id);
            }
        }
    }

    /// Record the exit code; it comes back.
    pub fn finish(mut self) -> i32 {
        let status = match self.ended {
            Some((st, _)) => st,
            None => self.child.wait().unwrap_or_default(),
        };
        let log = std::fs::read_to_string(self.files.runtime_log()).unwrap_or_default();
        let code = exec_exit_code(exit_code(status), &log);
        // Before the end: whoever sees the end finds the output.
        if let Err(e) = self.files.write_output(&self.tail) {
            eprintln!("berth-monitor: recording the output of exec session {}: {e}", self.id);
        }
        if let Err(e) = self.files.write_end(&ExecEnd { exit_code: code, finished_at: now_usec() }) {
            eprintln!("berth-monitor: recording the end of exec session {}: {e}", self.id);
        }
        code
    }
}
