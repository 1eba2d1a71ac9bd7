//! What can go wrong reading or writing the journal.

use std::io;
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

/// Errors of the journal module; each names what went wrong.
#[derive(Debug, Error)]
pub enum Error {
    #[error("cannot open the system journal")]
    Open {
        #[source]
        source: io::Error,
    },
    /// A call into libsystemd's sd-journal failed.
    #[error("reading the journal failed in {call}")]
    Journal {
        call: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("invalid journal match {expr:?}: expected FIELD=value, FIELD of A-Z, 0-9 and _ (at most 64, not starting with a digit)")]
    BadMatch { expr: String },
    #[error("invalid journal field name {name:?}: use A-Z, 0-9 and _, at most 64, not starting with a digit or _")]
    BadFieldName { name: String },
    #[error("unknown log stream bits {bits:#x}: only 1 (stdout) and 2 (stderr) exist")]
    UnknownStream { bits: u32 },
    #[error("since ({since}) is after until ({until})")]
    SinceAfterUntil { since: u64, until: u64 },
    #[error("a tail and an after-cursor cannot be combined: the cursor already says where to start")]
    TailWithCursor,
    #[error("invalid journal cursor {cursor:?}")]
    BadCursor {
        cursor: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot create a wake-up descriptor")]
    Signal {
        #[source]
        source: io::Error,
    },
    #[error("waiting for new journal entries failed")]
    Wait {
        #[source]
        source: io::Error,
    },
    #[error("cannot prepare the log output descriptor")]
    Output {
        #[source]
        source: io::Error,
    },
    #[error("cannot connect to journald at {path}")]
    Connect {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot send an entry to journald at {path}")]
    Send {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot hand a large entry to journald through a sealed memory file")]
    Memfd {
        #[source]
        source: io::Error,
    },
    #[error("cannot make journald write out what it received, through {path}")]
    Sync {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("journald has not read {unread} bytes within {limit:?}")]
    DrainTimeout { limit: Duration, unread: usize },
    #[error("the log reading task ended abnormally")]
    Task {
        #[source]
        source: tokio::task::JoinError,
    },
}

impl Error {
    pub(crate) fn journal(call: &'static str, errno: i32) -> Self {
        Error::Journal { call, source: io::Error::from_raw_os_error(errno) }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
