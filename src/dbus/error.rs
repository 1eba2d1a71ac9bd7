//! berth's errors on the bus: each [`model::Error`] goes out under its
//! kind's D-Bus name (`org.berth.Berth1.Error.<Name>`) with its text.

use crate::model::{self, ErrorKind};
use zbus::message::{Header, Message};
use zbus::names::ErrorName;

/// A model error as a D-Bus error reply; zbus's own failures (bad
/// arguments, a vanished connection) pass through as they are.
#[derive(Debug)]
pub enum BusError {
    Berth { name: ErrorName<'static>, message: String },
    ZBus(zbus::Error),
}

impl From<model::Error> for BusError {
    fn from(e: model::Error) -> Self {
        let kind = match e.kind() {
            k if k.is_berthd_error() || k == ErrorKind::AccessDenied => k,
            // Client-side kinds never arise in berthd; if one does, it is a bug.
            _ => ErrorKind::Internal,
        };
        let name = ErrorName::try_from(kind.dbus_name()).expect("error names are valid");
        BusError::Berth { name, message: e.to_string() }
    }
}

impl From<zbus::Error> for BusError {
    fn from(e: zbus::Error) -> Self {
        BusError::ZBus(e)
    }
}

impl zbus::DBusError for BusError {
    fn create_reply(&self, call: &Header<'_>) -> zbus::Result<Message> {
        match self {
            BusError::Berth { name, message } => Message::error(call, name).build(&(message,)),
            BusError::ZBus(e) => zbus::fdo::Error::Failed(e.to_string()).create_reply(call),
        }
    }

    fn name(&self) -> ErrorName<'_> {
        match self {
            BusError::Berth { name, .. } => name.clone(),
            BusError::ZBus(_) => ErrorName::from_static_str_unchecked("org.freedesktop.DBus.Error.Failed"),
        }
    }

    fn description(&self) -> Option<&str> {
        match self {
            BusError::Berth { message, .. } => Some(message),
            BusError::ZBus(_) => None,
        }
    }
}

impl std::fmt::Display for BusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BusError::Berth { name, message } => write!(f, "{name}: {message}"),
            BusError::ZBus(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for BusError {}

pub type BusResult<T> = Result<T, BusError>;
