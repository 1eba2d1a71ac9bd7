//! Container states as C sees them: the model's [`State`] (its values are
//! bits, so a set of states is their OR), named for C.

use crate::model::State;
use std::ffi::{c_char, CString};
use std::sync::OnceLock;

/// The name of a state ("running", ...) as berthd and berthctl spell it, or
/// NULL for a value that is not exactly one state. A static string: do not
/// free it.
#[no_mangle]
pub extern "C" fn berth_state_name(state: u32) -> *const c_char {
    static NAMES: OnceLock<Vec<(u32, CString)>> = OnceLock::new();
    super::ffi::quiet(std::ptr::null(), || {
        let names = NAMES.get_or_init(|| {
            State::all().iter().map(|s| (*s as u32, CString::new(s.as_str()).expect("names hold no NUL"))).collect()
        });
        names.iter().find(|(v, _)| *v == state).map_or(std::ptr::null(), |(_, n)| n.as_ptr())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn names_match_the_model() {
        for s in State::all() {
            let p = berth_state_name(s as u32);
            assert_eq!(unsafe { CStr::from_ptr(p) }.to_str().unwrap(), s.as_str());
        }
        assert!(berth_state_name(0).is_null());
        assert!(berth_state_name(3).is_null());
        assert!(berth_state_name(256).is_null());
    }

    #[test]
    fn masks() {
        let m = State::Stopped as u32 | State::Exited as u32;
        assert_eq!(State::from_mask(m).unwrap(), vec![State::Stopped, State::Exited]);
        assert!(State::from_mask(0).unwrap().is_empty());
        assert!(State::from_mask(1 << 9).is_none());
    }
}
