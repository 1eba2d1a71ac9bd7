use thiserror::Error;

/// berth's errors; each maps to one `org.berth.Berth1.Error.<Name>`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    #[error("a container named {0} already exists")]
    ContainerExists(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("container {0} is already stopped")]
    AlreadyStopped(String),
    #[error("container {0} has been removed")]
    Removed(String),
    #[error("{}", invalid_text(key, message))]
    InvalidArgument { key: String, message: String },
    #[error("{0}")]
    DependencyNotRunning(String),
    #[error("{0}")]
    Canceled(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    NotImplemented(String),
    #[error("OCI runtime: {0}")]
    Runtime(String),
    #[error("systemd: {0}")]
    Systemd(String),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error rebuilt from D-Bus carries berthd's whole text and no key.
fn invalid_text(key: &str, message: &str) -> String {
    if key.is_empty() {
        message.to_string()
    } else {
        format!("invalid argument {key}: {message}")
    }
}

impl Error {
    pub fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidArgument { key: key.into(), message: message.into() }
    }

    /// The error's name, the last component of its D-Bus error name.
    pub fn name(&self) -> &'static str {
        match self {
            Error::NoSuchContainer(_) => "NoSuchContainer",
            Error::ContainerExists(_) => "ContainerExists",
            Error::InvalidState(_) => "InvalidState",
            Error::AlreadyStopped(_) => "AlreadyStopped",
            Error::Removed(_) => "Removed",
            Error::InvalidArgument { .. } => "InvalidArgument",
            Error::DependencyNotRunning(_) => "DependencyNotRunning",
            Error::Canceled(_) => "Canceled",
            Error::Timeout(_) => "Timeout",
            Error::NotImplemented(_) => "NotImplemented",
            Error::Runtime(_) => "Runtime",
            Error::Systemd(_) => "Systemd",
            Error::Internal(_) => "Internal",
        }
    }

    /// Every error name, for the introspection data and the C ABI.
    pub const NAMES: [&'static str; 13] = [
        "NoSuchContainer",
        "ContainerExists",
        "InvalidState",
        "AlreadyStopped",
        "Removed",
        "InvalidArgument",
        "DependencyNotRunning",
        "Canceled",
        "Timeout",
        "NotImplemented",
        "Runtime",
        "Systemd",
        "Internal",
    ];

    /// Rebuild an error from its name and message (the client side of D-Bus).
    pub fn from_name(name: &str, message: String) -> Self {
        match name {
            "NoSuchContainer" => Error::NoSuchContainer(message),
            "ContainerExists" => Error::ContainerExists(message),
            "InvalidState" => Error::InvalidState(message),
            "AlreadyStopped" => Error::AlreadyStopped(message),
            "Removed" => Error::Removed(message),
            "InvalidArgument" => Error::InvalidArgument { key: String::new(), message },
            "DependencyNotRunning" => Error::DependencyNotRunning(message),
            "Canceled" => Error::Canceled(message),
            "Timeout" => Error::Timeout(message),
            "NotImplemented" => Error::NotImplemented(message),
            // berthd's text already carries the prefix that Display adds.
            "Runtime" => Error::Runtime(message.strip_prefix("OCI runtime: ").unwrap_or(&message).to_string()),
            "Systemd" => Error::Systemd(message.strip_prefix("systemd: ").unwrap_or(&message).to_string()),
            _ => Error::Internal(message),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Internal(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for n in Error::NAMES {
            let e = Error::from_name(n, "m".into());
            assert_eq!(e.name(), n);
        }
    }

    #[test]
    fn rebuilt_errors_print_berthds_text_once() {
        for e in [Error::invalid("Rootfs", "is required"), Error::Runtime("x".into()), Error::Systemd("y".into())] {
            let back = Error::from_name(e.name(), e.to_string());
            assert_eq!(back.to_string(), e.to_string());
        }
    }

    #[test]
    fn invalid_argument_names_the_key() {
        let e = Error::invalid("StopTimeout", "must be at most 86400");
        assert_eq!(e.to_string(), "invalid argument StopTimeout: must be at most 86400");
    }
}
