use super::{short_id, Usec};
use serde::{Deserialize, Serialize};

/// What happened to a container; the names of podman's events.
/// (0 is left for an event a client has no name for.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u32)]
pub enum EventKind {
    Create = 1,
    Init,
    Start,
    /// The container reported READY=1.
    Ready,
    Stop,
    /// Its processes ended; the exit code is in inspect and wait.
    Died,
    Kill,
    Pause,
    Unpause,
    Restart,
    Update,
    Sync,
    Cleanup,
    Remove,
    /// Its root file system was mounted for the caller (Mount).
    Mount,
    /// A Mount was released (Unmount).
    Unmount,
    /// Its root file system was exported as tar.
    Export,
    /// Its health status changed (the status is in `health_status`).
    #[serde(rename = "health_status")]
    HealthStatus,
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
            EventKind::Mount => "mount",
            EventKind::Unmount => "unmount",
            EventKind::Export => "export",
            EventKind::HealthStatus => "health_status",
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
    /// The new status, on `health_status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<super::HealthStatus>,
}

impl Event {
    pub fn short_id(&self) -> &str {
        short_id(&self.id)
    }
}

impl EventKind {
    pub const fn all() -> [EventKind; 18] {
        [
        EventKind::Create,
        EventKind::Init,
        EventKind::Start,
        EventKind::Ready,
        EventKind::Stop,
        EventKind::Died,
        EventKind::Kill,
        EventKind::Pause,
        EventKind::Unpause,
        EventKind::Restart,
        EventKind::Update,
        EventKind::Sync,
        EventKind::Cleanup,
        EventKind::Remove,
        EventKind::Mount,
        EventKind::Unmount,
        EventKind::Export,
        EventKind::HealthStatus,
    ]
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::all().into_iter().find(|k| k.as_str() == s)
    }
}

/// What an event read asks for (the Events method's `a{sv}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventOptions {
    /// After the history, keep sending events as they happen.
    pub follow: bool,
    pub since: Option<Usec>,
    pub until: Option<Usec>,
    /// Only this container's events.
    pub container: Option<String>,
}

impl EventOptions {
    pub fn to_options(&self) -> std::collections::BTreeMap<String, super::OptionValue> {
        use super::OptionValue;
        let mut m = std::collections::BTreeMap::new();
        m.insert("Follow".to_string(), OptionValue::Bool(self.follow));
        if let Some(s) = self.since {
            m.insert("Since".to_string(), OptionValue::U64(s));
        }
        if let Some(u) = self.until {
            m.insert("Until".to_string(), OptionValue::U64(u));
        }
        if let Some(c) = &self.container {
            m.insert("Container".to_string(), OptionValue::Str(c.clone()));
        }
        m
    }

    pub fn from_options(options: &std::collections::BTreeMap<String, super::OptionValue>) -> super::Result<Self> {
        use super::{Error, OptionValue};
        let mut o = EventOptions::default();
        for (k, v) in options {
            match (k.as_str(), v) {
                ("Follow", OptionValue::Bool(b)) => o.follow = *b,
                ("Since", OptionValue::U64(t)) => o.since = Some(*t),
                ("Until", OptionValue::U64(t)) => o.until = Some(*t),
                ("Container", OptionValue::Str(c)) => o.container = Some(c.clone()),
                ("Follow" | "Since" | "Until" | "Container", v) => {
                    let want = if k == "Follow" { "b" } else if k == "Container" { "s" } else { "t" };
                    return Err(Error::invalid(k, format!("wrong type: expected '{want}', got '{}'", v.signature())));
                }
                _ => return Err(Error::invalid(k, "unknown option (known: Follow, Since, Until, Container)")),
            }
        }
        Ok(o)
    }

    /// Whether `ev` is one this read wants.
    pub fn wants(&self, ev: &Event) -> bool {
        self.container.as_deref().is_none_or(|c| c == ev.name)
            && self.since.is_none_or(|s| ev.usec >= s)
            && self.until.is_none_or(|u| ev.usec < u)
    }
}
