//! Result codes: one per D-Bus error of berthd, plus the failures that
//! happen before a call reaches berthd.

use super::ffi::{self, c_string, Failure};
use crate::client::ERROR_PREFIX;
use crate::model;
use std::ffi::c_char;
use zbus::fdo;

/// What a fallible function returns. `BERTH_RESULT_OK` is 0; every other
/// value is a failure, and `berth_last_error_message()` tells more.
/// Values 1 to 13 are berthd's D-Bus errors `org.berth.Berth1.Error.<Name>`;
/// values from 100 are failures on this side of the bus.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum berth_result {
    Ok = 0,
    /// No container of that name.
    NoSuchContainer = 1,
    /// A container of that name exists already.
    ContainerExists = 2,
    /// The verb is not allowed in the container's current state.
    InvalidState = 3,
    /// Stop of a container that is already stopped or exited.
    AlreadyStopped = 4,
    /// The container is being removed.
    Removed = 5,
    /// A bad name, option value or argument; the message names it.
    InvalidArgument = 6,
    /// A container this one depends on is not running.
    DependencyNotRunning = 7,
    Canceled = 8,
    /// A wait or start did not finish in time.
    Timeout = 9,
    NotImplemented = 10,
    /// The OCI runtime failed.
    Runtime = 11,
    /// systemd (PID 1) refused or failed.
    Systemd = 12,
    /// Anything else that went wrong inside berthd.
    Internal = 13,
    /// A pointer parameter was NULL.
    NullParameter = 100,
    /// libberth hit a bug (a Rust panic, caught at the boundary).
    Panic = 101,
    /// The bus refused the call: changing containers needs root.
    AccessDenied = 102,
    /// D-Bus failed: no system bus, berthd not running and not activatable,
    /// a bad reply.
    Bus = 103,
}

impl berth_result {
    /// Every code with its name, NUL-terminated for C; 1 to 13 are
    /// `model::Error::NAMES` in order (a unit test holds them together).
    const NAMES: [(berth_result, &'static str); 18] = [
        (Self::Ok, "Ok\0"),
        (Self::NoSuchContainer, "NoSuchContainer\0"),
        (Self::ContainerExists, "ContainerExists\0"),
        (Self::InvalidState, "InvalidState\0"),
        (Self::AlreadyStopped, "AlreadyStopped\0"),
        (Self::Removed, "Removed\0"),
        (Self::InvalidArgument, "InvalidArgument\0"),
        (Self::DependencyNotRunning, "DependencyNotRunning\0"),
        (Self::Canceled, "Canceled\0"),
        (Self::Timeout, "Timeout\0"),
        (Self::NotImplemented, "NotImplemented\0"),
        (Self::Runtime, "Runtime\0"),
        (Self::Systemd, "Systemd\0"),
        (Self::Internal, "Internal\0"),
        (Self::NullParameter, "NullParameter\0"),
        (Self::Panic, "Panic\0"),
        (Self::AccessDenied, "AccessDenied\0"),
        (Self::Bus, "Bus\0"),
    ];

    /// The code of one of berthd's D-Bus error names; Internal for a name
    /// this library does not know (a newer berthd).
    fn from_error_name(name: &str) -> Self {
        let known = Self::NAMES[1..14].iter().find(|(_, n)| n.trim_end_matches('\0') == name);
        known.map_or(Self::Internal, |(r, _)| *r)
    }
}

impl Failure {
    /// A D-Bus failure: berthd's named errors keep their code and message.
    /// zbus turns the bus's own error names into `Error::FDO`.
    pub fn bus(e: zbus::Error) -> Self {
        match e {
            zbus::Error::MethodError(name, msg, _) if name.as_str().starts_with(ERROR_PREFIX) => {
                let code = berth_result::from_error_name(&name.as_str()[ERROR_PREFIX.len()..]);
                Failure::new(code, msg.unwrap_or_default())
            }
            zbus::Error::FDO(f) => match *f {
                fdo::Error::AccessDenied(m) => {
                    Failure::new(berth_result::AccessDenied, format!("access denied: {m} (changing containers needs root)"))
                }
                fdo::Error::ServiceUnknown(m) => {
                    Failure::new(berth_result::Bus, format!("berthd is not running and could not be started: {m}"))
                }
                f => Failure::new(berth_result::Bus, f.to_string()),
            },
            zbus::Error::Address(m) => Failure::new(berth_result::InvalidArgument, format!("bad D-Bus address: {m}")),
            e => Failure::new(berth_result::Bus, format!("D-Bus: {e}")),
        }
    }

    pub fn model(e: model::Error) -> Self {
        Failure::new(berth_result::from_error_name(e.name()), e.to_string())
    }
}

/// The name of a result code without prefix ("Ok", "NoSuchContainer",
/// "NullParameter", ...; berthd's D-Bus error names for 1 to 13), or
/// "Unknown". A static string: do not free it.
#[no_mangle]
pub extern "C" fn berth_result_name(result: u32) -> *const c_char {
    let known = berth_result::NAMES.iter().find(|(r, _)| *r as u32 == result);
    ffi::quiet("Unknown\0", || known.map_or("Unknown\0", |(_, n)| n)).as_ptr().cast()
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
    fn one_code_per_dbus_error() {
        for (i, n) in model::Error::NAMES.iter().enumerate() {
            let r = berth_result::from_error_name(n);
            assert_eq!(r as usize, i + 1);
            assert_eq!(berth_result::NAMES[i + 1].1.trim_end_matches('\0'), *n);
            let f = Failure::model(model::Error::from_name(n, "m".into()));
            assert_eq!(f.code, r);
        }
    }

    #[test]
    fn names_are_static_strings() {
        for (r, n) in berth_result::NAMES {
            let s = unsafe { CStr::from_ptr(berth_result_name(r as u32)) };
            assert_eq!(s.to_bytes_with_nul(), n.as_bytes());
        }
        assert_eq!(unsafe { CStr::from_ptr(berth_result_name(77)) }.to_str().unwrap(), "Unknown");
    }

    #[test]
    fn bus_errors_keep_berthds_code_and_text() {
        let msg = zbus::message::Message::method_call("/", "M").build(&()).unwrap();
        let named = zbus::Error::MethodError(
            "org.berth.Berth1.Error.NoSuchContainer".try_into().unwrap(),
            Some("no such container: x".into()),
            msg,
        );
        let f = Failure::bus(named);
        assert_eq!((f.code, f.message.as_str()), (berth_result::NoSuchContainer, "no such container: x"));
        let f = Failure::bus(zbus::Error::FDO(Box::new(fdo::Error::AccessDenied("nope".into()))));
        assert_eq!(f.code, berth_result::AccessDenied);
        assert!(f.message.contains("root"));
        let f = Failure::bus(zbus::Error::FDO(Box::new(fdo::Error::ServiceUnknown("x".into()))));
        assert_eq!(f.code, berth_result::Bus);
        assert_eq!(Failure::bus(zbus::Error::Address("x".into())).code, berth_result::InvalidArgument);
    }
}
