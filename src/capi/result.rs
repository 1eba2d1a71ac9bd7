//! Result codes: [`ErrorKind`] is the one table (the header's
//! `berth_result` is generated from it), and every failure maps to it here.

use super::ffi::{self, c_string, Failure};
use crate::model::{self, ErrorKind};
use std::ffi::{c_char, CString};
use std::sync::OnceLock;

impl From<model::Error> for Failure {
    /// berthd's verdicts keep their code; a bad argument noticed on this
    /// side of the bus is `INVALID_PARAMETER`, so that
    /// `INVALID_ARGUMENT` always means berthd refused the value.
    fn from(e: model::Error) -> Self {
        let code = match (&e, e.kind()) {
            (model::Error::Remote { .. }, k) => k,
            (_, ErrorKind::InvalidArgument) => ErrorKind::InvalidParameter,
            (_, k) => k,
        };
        Failure::new(code, e.to_string())
    }
}

/// The name of a result code without prefix ("Ok", "NoSuchContainer",
/// "NullParameter", ...; berthd's D-Bus error names for 1 to 99), or
/// "Unknown". A static string: do not free it.
#[no_mangle]
pub extern "C" fn berth_result_name(result: u32) -> *const c_char {
    static NAMES: OnceLock<Vec<(u32, CString)>> = OnceLock::new();
    ffi::quiet(c"Unknown".as_ptr(), || {
        let names = NAMES.get_or_init(|| {
            ErrorKind::all().iter().map(|k| (k.code(), CString::new(k.name()).expect("names hold no NUL"))).collect()
        });
        names.iter().find(|(c, _)| *c == result).map_or(c"Unknown".as_ptr(), |(_, n)| n.as_ptr())
    })
}

/// The message of the last failed call made on this thread, as a new
/// string the caller frees with `berth_string_free()`; "" when the last call
/// that returned a `berth_result` on this thread succeeded. Never NULL.
#[no_mangle]
pub extern "C" fn berth_last_error_message() -> *mut c_char {
    ffi::quiet(std::ptr::null_mut(), || c_string(&ffi::last_error()).into_raw())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn names_are_the_kinds() {
        for k in ErrorKind::all() {
            let s = unsafe { CStr::from_ptr(berth_result_name(k.code())) };
            assert_eq!(s.to_str().unwrap(), k.name());
        }
        assert_eq!(unsafe { CStr::from_ptr(berth_result_name(77)) }.to_str().unwrap(), "Unknown");
    }

    #[test]
    fn berthds_verdicts_keep_their_code_and_text() {
        let f = Failure::from(model::Error::Remote { kind: ErrorKind::InvalidArgument, message: "m".into() });
        assert_eq!((f.code, f.message.as_str()), (ErrorKind::InvalidArgument, "m"));
        let f = Failure::from(model::Error::invalid("streams", "unknown bit 4"));
        assert_eq!(f.code, ErrorKind::InvalidParameter);
        let f = Failure::from(model::Error::AccessDenied { message: "only root may call StartContainer".into() });
        assert_eq!(f.code, ErrorKind::AccessDenied);
    }
}
