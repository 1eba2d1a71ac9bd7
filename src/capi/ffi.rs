//! The boundary every entry point crosses: no panic escapes into C, NULL
//! pointers are refused, and the thread's last error follows each result.

use crate::model::ErrorKind;
use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Why a call failed: the code C sees and the text behind it.
#[derive(Debug)]
pub(crate) struct Failure {
    pub code: ErrorKind,
    pub message: String,
}

pub(crate) type Res<T = ()> = Result<T, Failure>;

impl Failure {
    pub fn new(code: ErrorKind, message: impl Into<String>) -> Self {
        Failure { code, message: message.into() }
    }

    fn panic(payload: Box<dyn Any + Send>) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        Failure::new(ErrorKind::Panic, format!("internal panic in libberth: {what}"))
    }
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

pub(crate) fn last_error() -> String {
    LAST_ERROR.with(|e| e.borrow().clone())
}

fn set_last_error(message: String) {
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
}

/// Run one entry point's body. A panic becomes `BERTH_RESULT_PANIC` (unwinding
/// into C is undefined behaviour); the message of a failure, or "" on
/// success, becomes this thread's last error.
pub(crate) fn guard(body: impl FnOnce() -> Res) -> ErrorKind {
    let r = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|p| Err(Failure::panic(p)));
    match r {
        Ok(()) => {
            set_last_error(String::new());
            ErrorKind::Ok
        }
        Err(f) => {
            set_last_error(f.message);
            f.code
        }
    }
}

/// For functions without a result code (getters, frees): a panic yields
/// `fallback` instead of unwinding into C.
pub(crate) fn quiet<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

fn null(what: &str) -> Failure {
    Failure::new(ErrorKind::NullParameter, format!("{what} is NULL"))
}

/// A borrowed handle or value behind a pointer from C.
pub(crate) fn arg<'a, T>(p: *const T, what: &str) -> Res<&'a T> {
    // SAFETY: C passes either NULL or a pointer it got from this library (or
    // to a live object of type T), valid for the duration of the call.
    unsafe { p.as_ref() }.ok_or_else(|| null(what))
}

pub(crate) fn arg_mut<'a, T>(p: *mut T, what: &str) -> Res<&'a mut T> {
    // SAFETY: as in `arg`; the caller does not share the object during the call.
    unsafe { p.as_mut() }.ok_or_else(|| null(what))
}

/// A NUL-terminated UTF-8 string from C.
pub(crate) fn string<'a>(p: *const c_char, what: &str) -> Res<&'a str> {
    if p.is_null() {
        return Err(null(what));
    }
    // SAFETY: non-NULL, and C promises a NUL-terminated string.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|_| Failure::new(ErrorKind::InvalidParameter, format!("{what} is not UTF-8")))
}

/// An array of `len` strings from C.
pub(crate) fn strings(p: *const *const c_char, len: usize, what: &str) -> Res<Vec<String>> {
    if p.is_null() {
        return Err(null(what));
    }
    // SAFETY: non-NULL, and C promises `len` readable elements.
    let items = unsafe { std::slice::from_raw_parts(p, len) };
    items.iter().enumerate().map(|(i, s)| string(*s, &format!("{what}[{i}]")).map(str::to_owned)).collect()
}

/// An out-parameter: checked before any work is done, written only on
/// success.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    pub fn new(p: *mut T, what: &str) -> Res<Self> {
        if p.is_null() {
            Err(null(what))
        } else {
            Ok(Out(p))
        }
    }

    pub fn write(self, v: T) {
        // SAFETY: non-NULL (checked in `new`); C owns writable storage there.
        // `write`, not assignment: the old contents may be uninitialised.
        unsafe { self.0.write(v) }
    }
}

/// A string handed to C, to be freed with `berth_string_free`. D-Bus strings
/// hold no NUL, but error texts might; those become U+FFFD.
pub(crate) fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "\u{fffd}")).expect("NULs were replaced")
}

/// Take back ownership of a box handed to C; NULL is nothing to free.
pub(crate) fn free_box<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: C got `p` from Box::into_raw in this library and gives it
        // back exactly once.
        drop(unsafe { Box::from_raw(p) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_a_result_and_a_message() {
        let r = guard(|| panic!("boom"));
        assert_eq!(r, ErrorKind::Panic);
        assert!(last_error().contains("boom"));
        assert_eq!(guard(|| Ok(())), ErrorKind::Ok);
        assert_eq!(last_error(), "");
    }

    #[test]
    fn nulls_are_refused() {
        let r = guard(|| string(std::ptr::null(), "name").map(drop));
        assert_eq!(r, ErrorKind::NullParameter);
        assert_eq!(last_error(), "name is NULL");
        assert_eq!(guard(|| Out::<i32>::new(std::ptr::null_mut(), "out").map(drop)), ErrorKind::NullParameter);
        let a: [*const c_char; 2] = [b"a\0".as_ptr().cast(), std::ptr::null()];
        let r = guard(|| strings(a.as_ptr(), 2, "argv").map(drop));
        assert_eq!((r, last_error().as_str()), (ErrorKind::NullParameter, "argv[1] is NULL"));
    }

    #[test]
    fn non_utf8_is_an_invalid_argument() {
        let bad = [0xffu8, 0];
        let r = guard(|| string(bad.as_ptr().cast(), "name").map(drop));
        assert_eq!(r, ErrorKind::InvalidParameter);
    }
}
