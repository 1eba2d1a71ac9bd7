//! Container states as C sees them: one bit each, so that a set of states
//! (the conditions of `berth_client_wait()`) is their bitwise OR.

use super::ffi::{Failure, Res};
use super::result::berth_result;
use crate::model::State;
use std::ffi::c_char;

/// The lifecycle state of a container (libpod's). Each value is one bit:
/// `BERTH_STATE_STOPPED | BERTH_STATE_EXITED` is a set of states.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum berth_state {
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

impl From<State> for berth_state {
    fn from(s: State) -> Self {
        match s {
            State::Configured => berth_state::Configured,
            State::Created => berth_state::Created,
            State::Running => berth_state::Running,
            State::Paused => berth_state::Paused,
            State::Stopping => berth_state::Stopping,
            State::Stopped => berth_state::Stopped,
            State::Exited => berth_state::Exited,
            State::Removing => berth_state::Removing,
        }
    }
}

/// A state name from berthd.
pub(crate) fn parse(s: &str) -> Res<berth_state> {
    s.parse::<State>()
        .map(Into::into)
        .map_err(|_| Failure::new(berth_result::Bus, format!("berthd answered an unknown state {s:?}")))
}

/// The states of a bitmask; an unknown bit is an invalid argument.
pub(crate) fn from_mask(mask: u32) -> Res<Vec<State>> {
    let all: u32 = State::ALL.iter().map(|s| berth_state::from(*s) as u32).sum();
    if mask & !all != 0 {
        return Err(Failure::new(berth_result::InvalidArgument, format!("conditions: unknown state bits {:#x}", mask & !all)));
    }
    Ok(State::ALL.into_iter().filter(|s| mask & berth_state::from(*s) as u32 != 0).collect())
}

/// The name of a state ("running", ...) as berthd and berthctl spell it, or
/// NULL for a value that is not exactly one state. A static string: do not
/// free it.
#[no_mangle]
pub extern "C" fn berth_state_name(state: u32) -> *const c_char {
    const NAMES: [&str; 8] =
        ["configured\0", "created\0", "running\0", "paused\0", "stopping\0", "stopped\0", "exited\0", "removing\0"];
    super::ffi::quiet(std::ptr::null(), || {
        if state.is_power_of_two() && state <= berth_state::Removing as u32 {
            NAMES[state.trailing_zeros() as usize].as_ptr().cast()
        } else {
            std::ptr::null()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn names_match_the_model() {
        for s in State::ALL {
            let p = berth_state_name(berth_state::from(s) as u32);
            assert_eq!(unsafe { CStr::from_ptr(p) }.to_str().unwrap(), s.as_str());
            assert_eq!(parse(s.as_str()).unwrap(), s.into());
        }
        assert!(berth_state_name(0).is_null());
        assert!(berth_state_name(3).is_null());
        assert!(berth_state_name(256).is_null());
    }

    #[test]
    fn masks() {
        let m = berth_state::Stopped as u32 | berth_state::Exited as u32;
        assert_eq!(from_mask(m).unwrap(), vec![State::Stopped, State::Exited]);
        assert!(from_mask(0).unwrap().is_empty());
        assert_eq!(from_mask(1 << 9).unwrap_err().code, berth_result::InvalidArgument);
    }
}
