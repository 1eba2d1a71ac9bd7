//! Exec sessions: create (the session's files), start (the monitor spawns
//! it, attached or not), resize, inspect, list, wait; and ExecDied once a
//! started session ends. A session's state is read from its files
//! (store::SessionFiles) and the container's state, so berthd dying at any
//! moment loses nothing: the monitor records the start and the exit.

use super::super::{blocking, Engine};
use super::attach::{refused, AttachOptions};
use crate::model::{now_usec, new_id, Error, ExecConfig, ExecSessionInfo, ExecState, OptionValue, Result, Verb};
use crate::runtime::exec_spec::{exec_process, init_process};
use crate::runtime::monitor::control::{Reply, Request};
use crate::store::{list_sessions, ExecRecord, Record, SessionFiles};
use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::time::Duration;

/// An exec session ended (the ExecDied signal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecDied {
    pub name: String,
    pub session: String,
    pub exit_code: i32,
}

/// A session as its files and its container's state tell it.
fn session_info(rec: &Record, files: &SessionFiles) -> Result<Option<ExecSessionInfo>> {
    let Some(r) = files.read_record()? else { return Ok(None) };
    let started = files.read_started()?;
    let end = files.read_end()?;
    let live = rec.state.is_live();
    let (state, exit_code) = match (&started, &end) {
        (_, Some(e)) => (ExecState::Exited, e.exit_code),
        (Some(_), None) if live => (ExecState::Running, -1),
        (None, None) if live => (ExecState::Created, -1),
        // The container ended: the session ended with it (unrecorded, as
        // when its monitor was killed), or can never run.
        _ => (ExecState::Exited, -1),
    };
    Ok(Some(ExecSessionInfo {
        id: r.id,
        container: rec.name.to_string(),
        state,
        pid: if state == ExecState::Running { files.pid().unwrap_or(0) } else { 0 },
        exit_code,
        created_at: r.created_at,
        started_at: started.map_or(0, |s| s.started_at),
        finished_at: end.map_or(0, |e| e.finished_at),
        config: r.config,
    }))
}

impl Engine {
    fn session_files(&self, rec: &Record, session: &str) -> Result<SessionFiles> {
        if !crate::model::validate_id(session) {
            return Err(Error::NoSuchExecSession { name: rec.name.to_string(), session: session.to_string() });
        }
        Ok(SessionFiles::new(self.inner.store.layout().run_dir(&rec.id).session_dir(session)))
    }

    async fn session(&self, rec: &Record, session: &str) -> Result<ExecSessionInfo> {
        let files = self.session_files(rec, session)?;
        let r = rec.clone();
        let info = blocking(move || session_info(&r, &files)).await?;
        info.ok_or_else(|| Error::NoSuchExecSession { name: rec.name.to_string(), session: session.to_string() })
    }

    /// ExecCreate: a session of the running container, not started yet;
    /// its id comes back.
    pub async fn exec_create(&self, name: &str, options: &BTreeMap<String, OptionValue>) -> Result<String> {
        let config = ExecConfig::from_options(options)?;
        let (c, _g) = self.locked(name).await?;
        let rec = self.refresh(&c).await?;
        rec.state.check(Verb::Exec, name)?;
        let id = self.create_session(&rec, config).await?;
        self.crash_point("exec create: session written").await;
        Ok(id)
    }

    /// A new session's files, for the container's current run; its id
    /// comes back. The caller has checked that the container runs.
    pub(crate) async fn create_session(&self, rec: &Record, config: ExecConfig) -> Result<String> {
        // The container's init as launched (an image's settings included).
        let config_json = self.inner.store.layout().bundle_dir(&rec.id).join("config.json");
        let init = blocking(move || init_process(&config_json)).await?;
        let process = exec_process(&init, &config)?;
        let json = serde_json::to_vec(&process).map_err(|e| Error::internal(format!("serializing an exec process: {e}")))?;
        let id = new_id();
        let files = self.session_files(rec, &id)?;
        let record = ExecRecord { id: id.clone(), config, created_at: now_usec() };
        blocking(move || files.create(&record, &json)).await?;
        Ok(id)
    }

    /// Ask the monitor to run a created session, not attached.
    pub(crate) async fn start_session(&self, rec: &Record, session: &str) -> Result<()> {
        let req = Request::ExecStart { session: session.to_string(), attach: None };
        let a = self.inner.config.monitors.call(&self.attach_socket(rec), &req, None).await?;
        match a.reply {
            Reply::Ok => Ok(()),
            Reply::Refused { refusal, message } => Err(refused(rec, Some(session), Verb::Exec, refusal, message)),
            Reply::Exited { .. } => Err(Error::internal("the monitor answered an exec start with an exit")),
        }
    }

    /// ExecStart: run a created session; attached, the caller's connection
    /// comes back (joined before the process runs: no output is missed).
    pub async fn exec_start(&self, name: &str, session: &str, attach: Option<&AttachOptions>) -> Result<Option<OwnedFd>> {
        let (c, _g) = self.locked(name).await?;
        let rec = self.refresh(&c).await?;
        rec.state.check(Verb::Exec, name)?;
        let info = self.session(&rec, session).await?;
        if info.state != ExecState::Created {
            let refusal = "it was started already";
            return Err(Error::InvalidExecState { name: name.to_string(), session: session.to_string(), state: info.state, refusal });
        }
        let streams = attach.map(|o| o.streams(info.config.interactive, &format!("exec session {session}"))).transpose()?;
        let attached = streams.is_some();
        let req = Request::ExecStart { session: session.to_string(), attach: streams };
        let a = self.inner.config.monitors.call(&self.attach_socket(&rec), &req, None).await?;
        self.crash_point("exec start: started").await;
        match a.reply {
            Reply::Ok => {
                self.watch_session(&rec, session);
                Ok(attached.then_some(a.conn))
            }
            Reply::Refused { refusal, message } => Err(refused(&rec, Some(session), Verb::Exec, refusal, message)),
            Reply::Exited { .. } => Err(Error::internal("the monitor answered an exec start with an exit")),
        }
    }

    /// ExecResize: a running session's terminal size.
    pub async fn exec_resize(&self, name: &str, session: &str, rows: u16, cols: u16) -> Result<()> {
        let rec = self.inspect(name)?;
        let info = self.session(&rec, session).await?;
        if !info.config.terminal {
            return Err(Error::NotATerminal { name: name.to_string(), session: Some(session.to_string()) });
        }
        if info.state != ExecState::Running {
            let refusal = "only a running session has a terminal to resize";
            return Err(Error::InvalidExecState { name: name.to_string(), session: session.to_string(), state: info.state, refusal });
        }
        let req = Request::Resize { session: Some(session.to_string()), rows, cols };
        let a = self.inner.config.monitors.call(&self.attach_socket(&rec), &req, None).await?;
        match a.reply {
            Reply::Ok => Ok(()),
            Reply::Refused { refusal, message } => Err(refused(&rec, Some(session), Verb::Exec, refusal, message)),
            Reply::Exited { .. } => Err(Error::internal("the monitor answered a resize with an exit")),
        }
    }

    /// ExecInspect.
    pub async fn exec_inspect(&self, name: &str, session: &str) -> Result<ExecSessionInfo> {
        let rec = self.inspect(name)?;
        self.session(&rec, session).await
    }

    /// ExecList: the container's sessions of its current (or last) run,
    /// oldest first.
    pub async fn exec_list(&self, name: &str) -> Result<Vec<ExecSessionInfo>> {
        let rec = self.inspect(name)?;
        let dir = self.inner.store.layout().run_dir(&rec.id);
        let r = rec.clone();
        let mut all = blocking(move || -> Result<Vec<ExecSessionInfo>> {
            let mut v = Vec::new();
            for id in list_sessions(&dir.exec_dir())? {
                if let Some(i) = session_info(&r, &SessionFiles::new(dir.session_dir(&id)))? {
                    v.push(i);
                }
            }
            Ok(v)
        })
        .await?;
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(all)
    }

    /// ExecWait: the session's exit code once it has ended (-1 when its end
    /// went unrecorded); `timeout` None waits for ever.
    pub async fn exec_wait(&self, name: &str, session: &str, timeout: Option<Duration>) -> Result<i32> {
        let rec = self.inspect(name)?;
        let info = self.session(&rec, session).await?;
        if info.state == ExecState::Exited {
            return Ok(info.exit_code);
        }
        let socket = self.attach_socket(&rec);
        let wait = self.inner.config.monitors.wait_exec(&socket, session);
        let got = match timeout {
            Some(t) => tokio::time::timeout(t, wait)
                .await
                .map_err(|_| Error::WaitTimeout { name: format!("{name} exec session {session}"), wanted: "exited".into(), waited: t })?,
            None => wait.await,
        }?;
        match got {
            Some(code) => Ok(code),
            // The monitor went away: the files have the last word.
            None => Ok(self.exec_inspect(name, session).await?.exit_code),
        }
    }

    /// ExecDied for a started session once it ends (also after berthd
    /// comes back, for sessions still running).
    pub(crate) fn watch_session(&self, rec: &Record, session: &str) {
        let weak = std::sync::Arc::downgrade(&self.inner);
        let (name, socket, session) = (rec.name.to_string(), self.attach_socket(rec), session.to_string());
        let monitors = self.inner.config.monitors.clone();
        tokio::spawn(async move {
            let got = monitors.wait_exec(&socket, &session).await;
            let Some(inner) = weak.upgrade() else { return };
            let engine = Engine { inner };
            let exit_code = match got {
                Ok(Some(code)) => code,
                Ok(None) | Err(_) => match engine.exec_inspect(&name, &session).await {
                    Ok(i) if i.state == ExecState::Exited => i.exit_code,
                    _ => -1,
                },
            };
            // Nobody listening is fine.
            let _ = engine.inner.exec_died.send(ExecDied { name, session, exit_code });
        });
    }

    /// Follow the sessions that run in live containers (at start-up).
    pub(crate) async fn watch_running_sessions(&self) {
        for c in self.containers() {
            let rec = c.record();
            if !rec.state.is_live() {
                continue;
            }
            let Ok(sessions) = self.exec_list(rec.name.as_str()).await else { continue };
            for s in sessions.iter().filter(|s| s.state == ExecState::Running) {
                self.watch_session(&rec, &s.id);
            }
        }
    }

    /// ExecDied events, as they happen.
    pub fn subscribe_exec_died(&self) -> tokio::sync::broadcast::Receiver<ExecDied> {
        self.inner.exec_died.subscribe()
    }
}
