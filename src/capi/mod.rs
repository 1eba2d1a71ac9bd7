//! The C ABI of berth (`include/berth.h`, written by cbindgen from this
//! module alone): opaque handles with `_new`/`_free` pairs, a result code
//! from every fallible function, outputs only through out-parameters, and
//! a panic boundary on every entry point. The only unsafe code of the
//! client side lives here.

// Entry points take raw pointers from C and check them (ffi::arg); marking
// them `unsafe fn` would add nothing for C callers.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

mod ffi;

// cbindgen writes the header in this order: results and states first,
// then the spec, the client and its verbs, lists and events.
mod result;

mod state;

mod spec;

mod client;

mod list;

mod events;

mod logs;

mod attach;

mod exec;

mod images;
mod kube;
mod network;
mod root;

mod files;

pub use attach::{
    BERTH_ATTACH_MAX_PACKET, BERTH_ATTACH_STDERR, BERTH_ATTACH_STDIN, BERTH_ATTACH_STDOUT, BERTH_FRAME_DETACHED,
    BERTH_FRAME_EXIT, BERTH_FRAME_RESIZE, BERTH_STREAM_STDERR, BERTH_STREAM_STDIN, BERTH_STREAM_STDOUT,
};
pub use client::berth_client;
pub use exec::berth_exec_options;
pub use files::{BERTH_COPY_CHOWN, BERTH_COPY_NO_OVERWRITE_DIR_NONDIR, BERTH_COPY_PAUSE};
pub use root::berth_export_callback;
pub use events::{berth_event, berth_event_callback, berth_event_watch, BERTH_EVENT_KIND_UNKNOWN};
pub use list::{berth_container_info, berth_container_list};
pub use logs::{berth_log_callback, berth_log_line, berth_logs, berth_logs_options, BERTH_LOGS_STDERR, BERTH_LOGS_STDOUT};
pub use spec::berth_spec;

use std::ffi::c_char;

/// A stop timeout that means "the container's own StopTimeout" (for stop,
/// restart and remove).
pub const BERTH_TIMEOUT_DEFAULT: u32 = 0xFFFF_FFFF_u32;

/// A `timeout_ms` for `berth_client_wait()` that means "no limit".
pub const BERTH_WAIT_FOREVER: u64 = 0;

/// The version of the library linked at run time, "MAJOR.MINOR.PATCH"
/// (compare with `BERTH_VERSION`, the header's). A static string: do not
/// free it.
#[no_mangle]
pub extern "C" fn berth_version() -> *const c_char {
    ffi::quiet(std::ptr::null(), || concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast())
}

/// Free a string that libberth returned; NULL is ignored.
#[no_mangle]
pub extern "C" fn berth_string_free(s: *mut c_char) {
    ffi::quiet((), || {
        if !s.is_null() {
            // SAFETY: every string libberth hands out comes from
            // CString::into_raw, and C gives it back once.
            drop(unsafe { std::ffi::CString::from_raw(s) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_timeout_is_berthds() {
        assert_eq!(BERTH_TIMEOUT_DEFAULT, crate::model::DEFAULT_TIMEOUT);
    }

    #[test]
    fn version_is_the_packages() {
        let v = unsafe { std::ffi::CStr::from_ptr(berth_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn strings_round_trip() {
        berth_string_free(result::berth_last_error_message());
        berth_string_free(std::ptr::null_mut());
    }
}
