//! What berthd asks of a container's monitor on its socket: the first
//! message of a connection is a [`Request`] (JSON), answered by one
//! [`Reply`]. After an `Ok` to Attach (or ExecStart with attach), the
//! connection carries the attach stream (`model::attach`) and berthd hands
//! it to its caller; every other connection ends after the reply.

use crate::model::ExecState;
use serde::{Deserialize, Serialize};

/// Which streams a caller attaches to, and its detach keys (bytes; empty:
/// none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachStreams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub detach_keys: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// The connection becomes an attach stream of the container's init.
    Attach(AttachStreams),
    /// Set the terminal size of the container's init (no session) or of an
    /// exec session.
    Resize { session: Option<String>, rows: u16, cols: u16 },
    /// Spawn a created exec session. With `attach`, the connection becomes
    /// its stream before it runs, so no output is missed.
    ExecStart { session: String, attach: Option<AttachStreams> },
    /// Answered (Exited) once the session has ended.
    ExecWait { session: String },
    /// The container is ready: send systemd READY=1 now (a monitor run
    /// with `--ready-on-request`, after the first passing health check).
    Ready,
}

/// Why the monitor refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// No exec session of that id (or an id that is not one).
    NoSuchSession,
    /// A resize of something without a terminal.
    NotATerminal,
    /// The session is not created (started already, or ended).
    SessionState(ExecState),
    /// The container is not running (not started yet, or ending).
    NotRunning,
    /// Too many connections at once.
    Busy,
    /// The request could not be read.
    BadRequest,
    /// Spawning failed (the message says why).
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    Ok,
    Exited { exit_code: i32 },
    Refused { refusal: Refusal, message: String },
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("requests serialize")
    }

    pub fn decode(b: &[u8]) -> Option<Request> {
        serde_json::from_slice(b).ok()
    }
}

impl Reply {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("replies serialize")
    }

    pub fn decode(b: &[u8]) -> Option<Reply> {
        serde_json::from_slice(b).ok()
    }

    pub fn refused(refusal: Refusal, message: impl Into<String>) -> Reply {
        Reply::Refused { refusal, message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let r = Request::ExecStart {
            session: "s".into(),
            attach: Some(AttachStreams { stdin: true, stdout: true, stderr: false, detach_keys: vec![16, 17] }),
        };
        assert_eq!(Request::decode(&r.encode()), Some(r));
        let r = Reply::refused(Refusal::SessionState(ExecState::Running), "started already");
        assert_eq!(Reply::decode(&r.encode()), Some(r));
        assert_eq!(Request::decode(b"{bogus"), None);
    }
}
