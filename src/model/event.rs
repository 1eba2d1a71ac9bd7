use super::{short_id, Usec};
use serde::{Deserialize, Serialize};

/// What happened to a container; the names of podman's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Create,
    Init,
    Start,
    Ready,
    Stop,
    Died,
    Kill,
    Pause,
    Unpause,
    Restart,
    Update,
    Sync,
    Cleanup,
    Remove,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Create => "create",
            EventKind::Init => "init",
            EventKind::Start => "start",
            EventKind::Ready => "ready",
            EventKind::Stop => "stop",
            EventKind::Died => "died",
            EventKind::Kill => "kill",
            EventKind::Pause => "pause",
            EventKind::Unpause => "unpause",
            EventKind::Restart => "restart",
            EventKind::Update => "update",
            EventKind::Sync => "sync",
            EventKind::Cleanup => "cleanup",
            EventKind::Remove => "remove",
        }
    }
}

/// One lifecycle event of one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub name: String,
    pub id: String,
    pub kind: EventKind,
    pub usec: Usec,
    /// The exit code, on `died`.
    pub exit_code: Option<i32>,
}

impl Event {
    pub fn short_id(&self) -> &str {
        short_id(&self.id)
    }
}
