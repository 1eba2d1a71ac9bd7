//! Attach, StartAndAttach and AttachResize: a caller gets a connection to
//! the container's monitor (its attach stream, `model::attach`); berthd
//! only opens it.

use super::super::{Container, Engine};
use crate::model::attach::DetachKeys;
use crate::model::{Error, Result, State, Verb};
use crate::runtime::monitor::control::{AttachStreams, Refusal, Reply, Request};
use crate::store::Record;
use std::os::fd::OwnedFd;
use std::time::Duration;

/// How long StartAndAttach tries to reach the starting container's monitor
/// (it waits 10 s for a first caller before it starts unattached).
const ATTACH_FIRST_WAIT: Duration = Duration::from_secs(9);

/// What a caller asks to attach to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachOptions {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// podman's notation; empty: ctrl-p,ctrl-q; `none`: no detach keys.
    pub detach_keys: String,
}

impl AttachOptions {
    /// The monitor's form, checked: stdin only for an interactive process.
    pub(crate) fn streams(&self, interactive: bool, name: &str) -> Result<AttachStreams> {
        let keys = DetachKeys::parse(&self.detach_keys)?;
        if self.stdin && !interactive {
            return Err(Error::invalid("stdin", format!("{name} was created without Interactive: its stdin is /dev/null")));
        }
        Ok(AttachStreams { stdin: self.stdin, stdout: self.stdout, stderr: self.stderr, detach_keys: keys.bytes().to_vec() })
    }
}

/// A monitor's refusal as berth's error, for container `rec`.
pub(crate) fn refused(rec: &Record, session: Option<&str>, verb: Verb, refusal: Refusal, message: String) -> Error {
    let name = rec.name.to_string();
    match (refusal, session) {
        (Refusal::NoSuchSession, Some(s)) => Error::NoSuchExecSession { name, session: s.to_string() },
        (Refusal::NotATerminal, s) => Error::NotATerminal { name, session: s.map(str::to_string) },
        (Refusal::SessionState(state), Some(s)) => {
            Error::InvalidExecState { name, session: s.to_string(), state, refusal: "it is not created, or does not run" }
        }
        // The container ended between berthd's look and the monitor's.
        (Refusal::NotRunning, _) => Error::InvalidState { name, state: State::Stopping, verb },
        (Refusal::Busy, _) => Error::LimitExceeded { what: "connections to the container's monitor", limit: 64 },
        _ => Error::Runtime { message: format!("the monitor of {name}: {message}") },
    }
}

impl Engine {
    pub(crate) fn attach_socket(&self, rec: &Record) -> std::path::PathBuf {
        self.inner.store.layout().run_dir(&rec.id).attach_socket()
    }

    /// The container's record, refreshed, once `verb` may run on it.
    async fn checked(&self, name: &str, verb: Verb) -> Result<Record> {
        let (c, _g) = self.locked(name).await?;
        let rec = self.refresh(&c).await?;
        rec.state.check(verb, name)?;
        Ok(rec)
    }

    /// Attach: a connection to the running container's streams.
    pub async fn attach(&self, name: &str, o: &AttachOptions) -> Result<OwnedFd> {
        let rec = self.checked(name, Verb::Attach).await?;
        let streams = o.streams(rec.spec.interactive, name)?;
        let a = self.inner.config.monitors.call(&self.attach_socket(&rec), &Request::Attach(streams), None).await?;
        match a.reply {
            Reply::Ok => Ok(a.conn),
            Reply::Refused { refusal, message } => Err(refused(&rec, None, Verb::Attach, refusal, message)),
            Reply::Exited { .. } => Err(Error::internal("the monitor answered an attach with an exit")),
        }
    }

    /// AttachResize: the container's terminal size.
    pub async fn attach_resize(&self, name: &str, rows: u16, cols: u16) -> Result<()> {
        let rec = self.checked(name, Verb::Attach).await?;
        if !rec.spec.terminal {
            return Err(Error::NotATerminal { name: name.to_string(), session: None });
        }
        let req = Request::Resize { session: None, rows, cols };
        let a = self.inner.config.monitors.call(&self.attach_socket(&rec), &req, None).await?;
        match a.reply {
            Reply::Ok => Ok(()),
            Reply::Refused { refusal, message } => Err(refused(&rec, None, Verb::Attach, refusal, message)),
            Reply::Exited { .. } => Err(Error::internal("the monitor answered a resize with an exit")),
        }
    }

    /// StartAndAttach: start the container with a caller attached before
    /// it runs, so that no output is missed. The monitor waits for the
    /// attach (told so by a marker in the run directory) before it starts
    /// the container; the start job finishes only after that.
    pub async fn start_and_attach(&self, name: &str, recursive: bool, o: &AttachOptions) -> Result<OwnedFd> {
        let (c, _g) = self.locked(name).await?;
        let rec = self.refresh(&c).await?;
        rec.state.check(Verb::Start, name)?;
        let streams = o.streams(rec.spec.interactive, name)?;
        let deps = self.ensure_dependencies(&rec, recursive).await?;
        self.start_attached(&c, rec, deps, streams).await
    }

    async fn start_attached(&self, c: &Container, rec: Record, deps: Vec<String>, streams: AttachStreams) -> Result<OwnedFd> {
        let socket = self.attach_socket(&rec);
        let req = Request::Attach(streams);
        let monitors = self.inner.config.monitors.clone();
        let attach = monitors.call(&socket, &req, Some(ATTACH_FIRST_WAIT));
        let start = self.start_locked(c, rec, deps, true);
        tokio::pin!(attach, start);
        let mut attached = None;
        let started = loop {
            tokio::select! {
                r = &mut start => break r,
                a = &mut attach, if attached.is_none() => attached = Some(a),
            }
        };
        // A failed start drops the attempt (and any connection it made).
        let rec = started?;
        let a = match attached {
            Some(a) => a,
            None => attach.await,
        }?;
        match a.reply {
            Reply::Ok => Ok(a.conn),
            Reply::Refused { refusal, message } => Err(refused(&rec, None, Verb::Attach, refusal, message)),
            Reply::Exited { .. } => Err(Error::internal("the monitor answered an attach with an exit")),
        }
    }
}
