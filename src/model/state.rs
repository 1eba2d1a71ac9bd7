use super::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The lifecycle states of libpod's container API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Configured,
    Created,
    Running,
    Paused,
    Stopping,
    Stopped,
    Exited,
    Removing,
}

/// The verbs whose acceptance depends on the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    Init,
    Start,
    Stop,
    Kill,
    Restart,
    Pause,
    Unpause,
    Update,
    Wait,
    Sync,
    Cleanup,
    Remove,
    ForceRemove,
}

use State::*;

impl State {
    pub const ALL: [State; 8] =
        [Configured, Created, Running, Paused, Stopping, Stopped, Exited, Removing];

    pub fn as_str(self) -> &'static str {
        match self {
            Configured => "configured",
            Created => "created",
            Running => "running",
            Paused => "paused",
            Stopping => "stopping",
            Stopped => "stopped",
            Exited => "exited",
            Removing => "removing",
        }
    }

    /// The container has processes (systemd holds a unit for it).
    pub fn is_live(self) -> bool {
        matches!(self, Running | Paused | Stopping)
    }

    /// Check that `verb` may run on a container in this state; the error is
    /// the one libpod gives, worded for `name`.
    pub fn check(self, verb: Verb, name: &str) -> Result<()> {
        let ok = match verb {
            Verb::Init => matches!(self, Configured | Stopped | Exited),
            Verb::Start => matches!(self, Configured | Created | Stopped | Exited),
            Verb::Stop => {
                if matches!(self, Stopped | Exited) {
                    return Err(Error::AlreadyStopped(name.to_string()));
                }
                matches!(self, Created | Running | Stopping | Paused)
            }
            Verb::Kill => matches!(self, Running | Stopping | Paused),
            Verb::Restart | Verb::Update | Verb::ForceRemove => self != Removing,
            Verb::Pause => self == Running,
            Verb::Unpause => self == Paused,
            Verb::Wait | Verb::Sync => true,
            Verb::Cleanup => matches!(self, Configured | Created | Stopped | Stopping | Exited),
            Verb::Remove => matches!(self, Configured | Created | Stopped | Exited),
        };
        if ok {
            return Ok(());
        }
        if self == Removing {
            return Err(Error::Removed(name.to_string()));
        }
        let why = match verb {
            Verb::Init => "can only initialize configured, stopped or exited containers",
            Verb::Start => "can only start configured, created, stopped or exited containers",
            Verb::Stop => "can only stop created, running, paused or stopping containers",
            Verb::Kill => "can only kill running, paused or stopping containers",
            Verb::Pause => "can only pause running containers",
            Verb::Unpause => "can only unpause paused containers",
            Verb::Cleanup => "cannot clean up a running or paused container",
            Verb::Remove => "cannot remove a running, paused or stopping container without force",
            _ => "not allowed",
        };
        Err(Error::InvalidState(format!("container {name} is {self}: {why}")))
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| Error::invalid("Condition", format!("unknown state {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The accepted states of every verb, spelled out as in DESIGN's table.
    fn table(verb: Verb) -> &'static [State] {
        match verb {
            Verb::Init => &[Configured, Stopped, Exited],
            Verb::Start => &[Configured, Created, Stopped, Exited],
            Verb::Stop => &[Created, Running, Stopping, Paused],
            Verb::Kill => &[Running, Stopping, Paused],
            Verb::Restart | Verb::Update | Verb::ForceRemove => {
                &[Configured, Created, Running, Paused, Stopping, Stopped, Exited]
            }
            Verb::Pause => &[Running],
            Verb::Unpause => &[Paused],
            Verb::Wait | Verb::Sync => &State::ALL,
            Verb::Cleanup => &[Configured, Created, Stopped, Stopping, Exited],
            Verb::Remove => &[Configured, Created, Stopped, Exited],
        }
    }

    #[test]
    fn every_state_and_verb() {
        use Verb::*;
        let verbs = [
            Init, Start, Stop, Kill, Restart, Pause, Unpause, Update, Wait, Sync, Cleanup, Remove,
            ForceRemove,
        ];
        for verb in verbs {
            for state in State::ALL {
                let r = state.check(verb, "c");
                if table(verb).contains(&state) {
                    assert!(r.is_ok(), "{verb:?} in {state} should be accepted");
                    continue;
                }
                let e = r.expect_err(&format!("{verb:?} in {state} should be rejected"));
                let want = if state == Removing {
                    "Removed"
                } else if verb == Stop && matches!(state, Stopped | Exited) {
                    "AlreadyStopped"
                } else {
                    "InvalidState"
                };
                assert_eq!(e.name(), want, "{verb:?} in {state}: {e}");
            }
        }
    }

    #[test]
    fn parse_and_print() {
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert!("bogus".parse::<State>().is_err());
    }
}
