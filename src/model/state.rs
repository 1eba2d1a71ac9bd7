use super::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The lifecycle state of a container (libpod's). Each value is one bit,
/// so that a set of states is their bitwise OR (in C:
/// `BERTH_STATE_STOPPED | BERTH_STATE_EXITED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u32)]
pub enum State {
    /// Created with a spec; nothing prepared yet.
    Configured = 1,
    /// Initialized: the bundle is ready, nothing runs.
    Created = 2,
    Running = 4,
    /// Frozen (cgroup freezer).
    Paused = 8,
    /// Asked to stop; processes still run.
    Stopping = 16,
    /// Stopped by a stop or kill request.
    Stopped = 32,
    /// Exited on its own.
    Exited = 64,
    /// Being removed.
    Removing = 128,
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
    /// Attach to the container's stdio, or resize its terminal.
    Attach,
    /// Create or start an exec session.
    Exec,
    /// Set a running container's network up again (after a firewall reload).
    ReloadNetwork,
    /// Mount, Unmount and Export of the container's root file system.
    Mount,
}

use State::*;

impl State {
    pub const fn all() -> [State; 8] {
        [Configured, Created, Running, Paused, Stopping, Stopped, Exited, Removing]
    }

    /// The states of a bitmask of state bits; None when a bit is unknown.
    pub fn from_mask(mask: u32) -> Option<Vec<State>> {
        let all: u32 = State::all().iter().map(|s| *s as u32).sum();
        (mask & !all == 0).then(|| State::all().into_iter().filter(|s| mask & *s as u32 != 0).collect())
    }

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

    /// The container has run at least once since it was (re)initialized.
    pub fn has_run(self) -> bool {
        matches!(self, Running | Paused | Stopping | Stopped | Exited)
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
                    return Err(Error::AlreadyStopped { name: name.to_string() });
                }
                matches!(self, Created | Running | Stopping | Paused)
            }
            Verb::Kill => matches!(self, Running | Stopping | Paused),
            Verb::Restart | Verb::Update | Verb::ForceRemove | Verb::Mount => self != Removing,
            Verb::Pause => self == Running,
            Verb::ReloadNetwork => matches!(self, Running | Paused),
            Verb::Unpause => self == Paused,
            Verb::Wait | Verb::Sync => true,
            Verb::Cleanup => matches!(self, Configured | Created | Stopped | Stopping | Exited),
            Verb::Remove => matches!(self, Configured | Created | Stopped | Exited),
            Verb::Attach => matches!(self, Running | Paused),
            Verb::Exec => self == Running,
        };
        if ok {
            return Ok(());
        }
        if self == Removing {
            return Err(Error::Removed { name: name.to_string() });
        }
        Err(Error::InvalidState { name: name.to_string(), state: self, verb })
    }
}

impl Verb {
    /// Why a container in a wrong state refuses this verb.
    pub fn refusal(self) -> &'static str {
        match self {
            Verb::Init => "can only initialize configured, stopped or exited containers",
            Verb::Start => "can only start configured, created, stopped or exited containers",
            Verb::Stop => "can only stop created, running, paused or stopping containers",
            Verb::Kill => "can only kill running, paused or stopping containers",
            Verb::Pause => "can only pause running containers",
            Verb::Unpause => "can only unpause paused containers",
            Verb::Cleanup => "cannot clean up a running or paused container",
            Verb::Remove => "cannot remove a running, paused or stopping container without force",
            Verb::Attach => "can only attach to running or paused containers",
            Verb::Exec => "can only exec in running containers",
            Verb::ReloadNetwork => "can only reload the network of running or paused containers",
            Verb::Restart | Verb::Update | Verb::ForceRemove | Verb::Mount | Verb::Wait | Verb::Sync => "not allowed",
        }
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
        State::all()
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
            Verb::Restart | Verb::Update | Verb::ForceRemove | Verb::Mount => {
                &[Configured, Created, Running, Paused, Stopping, Stopped, Exited]
            }
            Verb::Pause => &[Running],
            Verb::ReloadNetwork => &[Running, Paused],
            Verb::Unpause => &[Paused],
            Verb::Wait | Verb::Sync => &[Configured, Created, Running, Paused, Stopping, Stopped, Exited, Removing],
            Verb::Cleanup => &[Configured, Created, Stopped, Stopping, Exited],
            Verb::Remove => &[Configured, Created, Stopped, Exited],
            Verb::Attach => &[Running, Paused],
            Verb::Exec => &[Running],
        }
    }

    #[test]
    fn every_state_and_verb() {
        use Verb::*;
        let verbs = [
            Init, Start, Stop, Kill, Restart, Pause, Unpause, Update, Wait, Sync, Cleanup, Remove,
            ForceRemove, ReloadNetwork, Mount, Attach, Exec,
        ];
        for verb in verbs {
            for state in State::all() {
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
        for s in State::all() {
            assert_eq!(s.as_str().parse::<State>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert!("bogus".parse::<State>().is_err());
    }
}
