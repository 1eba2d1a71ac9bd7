//! berth's errors. [`ErrorKind`] is the one table of error names: its
//! variant names are the D-Bus error names (`org.berth.Berth1.Error.<Name>`),
//! its discriminants are the C result codes (`include/berth.h` is generated
//! from it, so the numbers are stable and never change meaning), and
//! [`ErrorKind::exit_status`] gives berthctl's exit status. [`Error`] carries
//! the typed details of one failure; every variant has exactly one kind.

use super::{ExecState, State, Verb};
use std::path::PathBuf;
use std::sync::Arc;
use thiserror::Error;

/// What kind of failure, as every front end reports it. Values 1 to 99 are
/// berthd's D-Bus errors; values from 100 happen on the caller's side of
/// the bus. Retired values are never reused.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
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
    /// The call was cancelled (a log read by `berth_logs_cancel()`).
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
    /// A client has too many calls of one kind outstanding (waits, log or
    /// event streams); the message names the limit.
    LimitExceeded = 14,
    /// No image of that name, tag or id.
    NoSuchImage = 15,
    /// The image is used by a container; remove that first, or force.
    ImageInUse = 16,
    /// No volume of that name.
    NoSuchVolume = 17,
    /// The volume is used by a container; remove that first, or force.
    VolumeInUse = 18,
    /// A volume of that name exists already.
    VolumeExists = 19,
    /// No network of that name.
    NoSuchNetwork = 20,
    /// A network that containers use cannot be removed.
    NetworkInUse = 21,
    /// Another container publishes that host port already.
    PortInUse = 22,
    /// A network of that name exists already.
    NetworkExists = 23,
    /// An image archive that cannot be imported (malformed, truncated,
    /// wrong digests, entries that would land outside the image); nothing
    /// of it was kept.
    InvalidImage = 24,
    /// A Kubernetes manifest uses a kind or field berth has no mapping for
    /// (kube play), or a container cannot be described in one (kube
    /// generate); the message names the field's YAML path. Nothing was
    /// created.
    KubeUnsupported = 25,
    /// A Kubernetes manifest that is not valid: bad YAML, an unknown field,
    /// a wrong value, a missing ConfigMap; nothing was created.
    KubeInvalid = 26,
    /// No exec session of that id in the container.
    NoSuchExecSession = 30,
    /// A resize of a container or exec session that has no terminal.
    NotATerminal = 31,
    /// The exec session is not in a state that allows the call (started
    /// twice, resized before it runs).
    InvalidExecState = 32,
    /// No such file or directory in the container (Stat, copies).
    NoSuchPath = 40,
    /// A path in the container that must be a directory is not (the
    /// destination of CopyFromArchive, a `dir/.` to copy out).
    NotADirectory = 41,
    /// A tar stream that cannot be extracted into the container: malformed,
    /// truncated, an entry that would land outside the destination or
    /// replace a directory it may not; what came before it stays.
    InvalidArchive = 42,
    /// The container has no artifact of that name.
    NoSuchArtifact = 43,
    /// A pointer parameter was NULL.
    NullParameter = 100,
    /// libberth hit a bug (a Rust panic, caught at the boundary).
    Panic = 101,
    /// The bus refused the call: changing containers needs root.
    AccessDenied = 102,
    /// D-Bus failed: no system bus, berthd not running and not activatable,
    /// a bad reply.
    Bus = 103,
    /// A parameter given to libberth is not valid (not UTF-8, unknown
    /// bits); berthd was not asked.
    InvalidParameter = 104,
}

/// The prefix of berthd's own D-Bus error names.
pub const ERROR_PREFIX: &str = "org.berth.Berth1.Error.";

/// The bus's own name for a refused call (D-Bus policy or berthd's check).
pub const ACCESS_DENIED: &str = "org.freedesktop.DBus.Error.AccessDenied";

impl ErrorKind {
    /// Every kind, in code order.
    pub const fn all() -> [ErrorKind; 39] {
        [
        ErrorKind::Ok,
        ErrorKind::NoSuchContainer,
        ErrorKind::ContainerExists,
        ErrorKind::InvalidState,
        ErrorKind::AlreadyStopped,
        ErrorKind::Removed,
        ErrorKind::InvalidArgument,
        ErrorKind::DependencyNotRunning,
        ErrorKind::Canceled,
        ErrorKind::Timeout,
        ErrorKind::NotImplemented,
        ErrorKind::Runtime,
        ErrorKind::Systemd,
        ErrorKind::Internal,
        ErrorKind::LimitExceeded,
        ErrorKind::NoSuchImage,
        ErrorKind::ImageInUse,
        ErrorKind::NoSuchVolume,
        ErrorKind::VolumeInUse,
        ErrorKind::VolumeExists,
        ErrorKind::NoSuchNetwork,
        ErrorKind::NetworkInUse,
        ErrorKind::PortInUse,
        ErrorKind::NetworkExists,
        ErrorKind::InvalidImage,
        ErrorKind::KubeUnsupported,
        ErrorKind::KubeInvalid,
        ErrorKind::NoSuchExecSession,
        ErrorKind::NotATerminal,
        ErrorKind::InvalidExecState,
        ErrorKind::NoSuchPath,
        ErrorKind::NotADirectory,
        ErrorKind::InvalidArchive,
        ErrorKind::NoSuchArtifact,
        ErrorKind::NullParameter,
        ErrorKind::Panic,
        ErrorKind::AccessDenied,
        ErrorKind::Bus,
        ErrorKind::InvalidParameter,
    ]
    }

    /// The name: the last component of the D-Bus error name, and what
    /// `berth_result_name()` returns.
    pub fn name(self) -> &'static str {
        use ErrorKind::*;
        match self {
            Ok => "Ok",
            NoSuchContainer => "NoSuchContainer",
            ContainerExists => "ContainerExists",
            InvalidState => "InvalidState",
            AlreadyStopped => "AlreadyStopped",
            Removed => "Removed",
            InvalidArgument => "InvalidArgument",
            DependencyNotRunning => "DependencyNotRunning",
            Canceled => "Canceled",
            Timeout => "Timeout",
            NotImplemented => "NotImplemented",
            Runtime => "Runtime",
            Systemd => "Systemd",
            Internal => "Internal",
            LimitExceeded => "LimitExceeded",
            NoSuchNetwork => "NoSuchNetwork",
            NetworkInUse => "NetworkInUse",
            PortInUse => "PortInUse",
            NetworkExists => "NetworkExists",
            NoSuchImage => "NoSuchImage",
            ImageInUse => "ImageInUse",
            NoSuchVolume => "NoSuchVolume",
            VolumeInUse => "VolumeInUse",
            VolumeExists => "VolumeExists",
            InvalidImage => "InvalidImage",
            KubeUnsupported => "KubeUnsupported",
            KubeInvalid => "KubeInvalid",
            NoSuchExecSession => "NoSuchExecSession",
            NotATerminal => "NotATerminal",
            InvalidExecState => "InvalidExecState",
            NoSuchPath => "NoSuchPath",
            NotADirectory => "NotADirectory",
            InvalidArchive => "InvalidArchive",
            NoSuchArtifact => "NoSuchArtifact",
            NullParameter => "NullParameter",
            Panic => "Panic",
            AccessDenied => "AccessDenied",
            Bus => "Bus",
            InvalidParameter => "InvalidParameter",
        }
    }

    pub fn code(self) -> u32 {
        self as u32
    }

    /// Sent by berthd as a D-Bus error (the others arise on the client's
    /// side, or are the bus's own).
    pub fn is_berthd_error(self) -> bool {
        (1..100).contains(&self.code())
    }

    /// The full D-Bus error name of a kind berthd sends.
    pub fn dbus_name(self) -> String {
        match self {
            ErrorKind::AccessDenied => ACCESS_DENIED.to_string(),
            k => format!("{ERROR_PREFIX}{}", k.name()),
        }
    }

    /// The kind of a D-Bus error name; None for names that are not berth's.
    pub fn from_dbus_name(name: &str) -> Option<ErrorKind> {
        if name == ACCESS_DENIED {
            return Some(ErrorKind::AccessDenied);
        }
        let short = name.strip_prefix(ERROR_PREFIX)?;
        // A newer berthd's unknown name is still one of berthd's errors.
        Some(ErrorKind::all().into_iter().find(|k| k.is_berthd_error() && k.name() == short).unwrap_or(ErrorKind::Internal))
    }

    pub fn from_code(code: u32) -> Option<ErrorKind> {
        ErrorKind::all().into_iter().find(|k| k.code() == code)
    }

    /// berthctl's exit status for a failure of this kind (podman's: 125).
    pub fn exit_status(self) -> i32 {
        match self {
            ErrorKind::Ok => 0,
            _ => 125,
        }
    }
}

/// One failure, with its details.
#[derive(Debug, Clone, Error)]
pub enum Error {
    #[error("no such container: {name}")]
    NoSuchContainer { name: String },
    #[error("a container named {name} already exists")]
    ContainerExists { name: String },
    #[error("container {name} is {state}: {}", verb.refusal())]
    InvalidState { name: String, state: State, verb: Verb },
    #[error("container {name} has dependent containers ({}); remove them first", dependents.join(", "))]
    HasDependents { name: String, dependents: Vec<String> },
    #[error("container {name} is defined by {}; remove that file and run systemctl daemon-reload", file.display())]
    FileDefined { name: String, file: PathBuf },
    #[error("container {name} is already stopped")]
    AlreadyStopped { name: String },
    #[error("container {name} has been removed")]
    Removed { name: String },
    #[error("invalid argument {key}: {message}")]
    InvalidArgument { key: String, message: String },
    #[error("dependency {dependency} of container {name} {reason}")]
    DependencyNotRunning { name: String, dependency: String, reason: String },
    #[error("{what} was canceled")]
    Canceled { what: String },
    #[error("container {name} did not become ready within {seconds} s (no READY=1) and was stopped; see journalctl -u {unit}")]
    StartTimeout { name: String, seconds: u32, unit: String },
    #[error("container {name} did not reach {wanted} within {waited:?}")]
    WaitTimeout { name: String, wanted: String, waited: std::time::Duration },
    #[error("{what} is not implemented")]
    NotImplemented { what: String },
    #[error("container {name} failed to start (start job {job}, exit code {exit_code}){}; see journalctl -u {unit}", said(output))]
    StartFailed { name: String, job: String, exit_code: i32, output: Vec<String>, unit: String },
    #[error("OCI runtime: {message}")]
    Runtime { message: String },
    #[error("systemd: {message}")]
    Systemd { message: String },
    #[error("{message}")]
    Internal { message: String },
    #[error("container {name} has no health check (give it HealthCmd)")]
    NoHealthcheck { name: String },
    #[error("container {name} is {state}: health checks run only in running containers")]
    HealthcheckNotRunning { name: String, state: State },
    #[error("container {name} became unhealthy while starting ({failing_streak} failed health checks){}; see journalctl -u {unit}", said(output))]
    StartUnhealthy { name: String, failing_streak: u32, output: Vec<String>, unit: String },
    #[error("cannot {action} {}: {source}", path.display())]
    Io { action: &'static str, path: PathBuf, #[source] source: Arc<std::io::Error> },
    #[error("corrupt {what} {}: {message}", path.display())]
    Corrupt { what: &'static str, path: PathBuf, message: String },
    #[error("too many {what} outstanding for this client (at most {limit})")]
    LimitExceeded { what: &'static str, limit: usize },
    #[error("no such network: {name}")]
    NoSuchNetwork { name: String },
    #[error("a network named {name} already exists")]
    NetworkExists { name: String },
    #[error("network {name} is in use by container(s) {}", containers.join(", "))]
    NetworkInUse { name: String, containers: Vec<String> },
    #[error("invalid argument Ports: host port {mapping} is already published by container {container}")]
    PortInUse { mapping: String, container: String },
    #[error("cannot {action}: {message}")]
    Network { action: &'static str, message: String },
    #[error("container {name} is {state}: its root file system stays mounted while it runs")]
    RootInUse { name: String, state: State },
    #[error("no such image: {reference}")]
    NoSuchImage { reference: String },
    #[error("image {image} is in use by {}; remove {} first, or force", containers.join(", "), if containers.len() == 1 { "it" } else { "them" })]
    ImageInUse { image: String, containers: Vec<String> },
    #[error("no such volume: {name}")]
    NoSuchVolume { name: String },
    #[error("volume {name} is in use by {}; remove {} first, or force", containers.join(", "), if containers.len() == 1 { "it" } else { "them" })]
    VolumeInUse { name: String, containers: Vec<String> },
    #[error("a volume named {name} already exists")]
    VolumeExists { name: String },
    #[error("cannot import the image: {message}")]
    InvalidImage { message: String },
    #[error("no such file or directory in container {name}: {path}")]
    NoSuchPath { name: String, path: String },
    #[error("{path} in container {name} is not a directory")]
    NotADirectory { name: String, path: String },
    #[error("invalid archive: {message}")]
    InvalidArchive { message: String },
    #[error("container {name} has no artifact named {artifact:?}")]
    NoSuchArtifact { name: String, artifact: String },
    #[error("access denied: {message}")]
    AccessDenied { message: String },
    #[error("container {name} has no exec session {session}")]
    NoSuchExecSession { name: String, session: String },
    #[error("{} has no terminal (it was created without Terminal)", what(name, session.as_deref()))]
    NotATerminal { name: String, session: Option<String> },
    #[error("exec session {session} of container {name} is {state}: {refusal}")]
    InvalidExecState { name: String, session: String, state: ExecState, refusal: &'static str },
    #[error("{message}")]
    Bus { message: String },
    #[error("{message}")]
    KubeUnsupported { path: String, message: String },
    #[error("{message}")]
    KubeInvalid { path: String, message: String },
    /// An error as it arrived over D-Bus: berthd's kind and text.
    #[error("{message}")]
    Remote { kind: ErrorKind, message: String },
}

fn what(name: &str, session: Option<&str>) -> String {
    match session {
        Some(s) => format!("exec session {s} of container {name}"),
        None => format!("container {name}"),
    }
}

fn said(output: &[String]) -> String {
    if output.is_empty() {
        String::new()
    } else {
        format!(": {}", output.join(" / "))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidArgument { key: key.into(), message: message.into() }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal { message: message.into() }
    }

    pub fn systemd(message: impl Into<String>) -> Self {
        Error::Systemd { message: message.into() }
    }

    /// A failed file operation, keeping the path and the cause.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { action, path: path.into(), source: Arc::new(source) }
    }

    /// For `map_err`: `.map_err(Error::io_at("write", &path))`.
    pub fn io_at<'a>(action: &'static str, path: &'a std::path::Path) -> impl FnOnce(std::io::Error) -> Self + 'a {
        move |e| Error::io(action, path, e)
    }

    pub fn kind(&self) -> ErrorKind {
        use Error::*;
        match self {
            NoSuchContainer { .. } => ErrorKind::NoSuchContainer,
            ContainerExists { .. } => ErrorKind::ContainerExists,
            InvalidState { .. } | HasDependents { .. } | FileDefined { .. } | RootInUse { .. } => ErrorKind::InvalidState,
            AlreadyStopped { .. } => ErrorKind::AlreadyStopped,
            Removed { .. } => ErrorKind::Removed,
            InvalidArgument { .. } => ErrorKind::InvalidArgument,
            DependencyNotRunning { .. } => ErrorKind::DependencyNotRunning,
            Canceled { .. } => ErrorKind::Canceled,
            StartTimeout { .. } | WaitTimeout { .. } => ErrorKind::Timeout,
            NotImplemented { .. } => ErrorKind::NotImplemented,
            StartFailed { .. } | StartUnhealthy { .. } | Runtime { .. } => ErrorKind::Runtime,
            NoHealthcheck { .. } => ErrorKind::InvalidArgument,
            HealthcheckNotRunning { .. } => ErrorKind::InvalidState,
            Systemd { .. } => ErrorKind::Systemd,
            Internal { .. } | Io { .. } | Corrupt { .. } => ErrorKind::Internal,
            LimitExceeded { .. } => ErrorKind::LimitExceeded,
            NoSuchNetwork { .. } => ErrorKind::NoSuchNetwork,
            NetworkExists { .. } => ErrorKind::NetworkExists,
            NetworkInUse { .. } => ErrorKind::NetworkInUse,
            PortInUse { .. } => ErrorKind::PortInUse,
            Network { .. } => ErrorKind::Internal,
            NoSuchImage { .. } => ErrorKind::NoSuchImage,
            ImageInUse { .. } => ErrorKind::ImageInUse,
            NoSuchVolume { .. } => ErrorKind::NoSuchVolume,
            VolumeInUse { .. } => ErrorKind::VolumeInUse,
            VolumeExists { .. } => ErrorKind::VolumeExists,
            InvalidImage { .. } => ErrorKind::InvalidImage,
            KubeUnsupported { .. } => ErrorKind::KubeUnsupported,
            KubeInvalid { .. } => ErrorKind::KubeInvalid,
            NoSuchPath { .. } => ErrorKind::NoSuchPath,
            NotADirectory { .. } => ErrorKind::NotADirectory,
            InvalidArchive { .. } => ErrorKind::InvalidArchive,
            NoSuchArtifact { .. } => ErrorKind::NoSuchArtifact,
            AccessDenied { .. } => ErrorKind::AccessDenied,
            NoSuchExecSession { .. } => ErrorKind::NoSuchExecSession,
            NotATerminal { .. } => ErrorKind::NotATerminal,
            InvalidExecState { .. } => ErrorKind::InvalidExecState,
            Bus { .. } => ErrorKind::Bus,
            Remote { kind, .. } => *kind,
        }
    }

    /// The kind's name (the last component of the D-Bus error name).
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The option key an InvalidArgument names, if it is known here.
    pub fn key(&self) -> Option<&str> {
        match self {
            Error::InvalidArgument { key, .. } => Some(key),
            Error::PortInUse { .. } => Some("Ports"),
            _ => None,
        }
    }

    /// The text without the option key (for quadlet's `file:line: Key:` form).
    pub fn message_without_key(&self) -> String {
        match self {
            Error::InvalidArgument { message, .. } => message.clone(),
            e => e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        // These numbers are in include/berth.h; they never change meaning.
        let want = [
            ("Ok", 0), ("NoSuchContainer", 1), ("ContainerExists", 2), ("InvalidState", 3), ("AlreadyStopped", 4),
            ("Removed", 5), ("InvalidArgument", 6), ("DependencyNotRunning", 7), ("Canceled", 8), ("Timeout", 9),
            ("NotImplemented", 10), ("Runtime", 11), ("Systemd", 12), ("Internal", 13), ("LimitExceeded", 14),
            ("NoSuchImage", 15), ("ImageInUse", 16), ("NoSuchVolume", 17), ("VolumeInUse", 18), ("VolumeExists", 19),
            ("NoSuchNetwork", 20), ("NetworkInUse", 21), ("PortInUse", 22), ("NetworkExists", 23), ("InvalidImage", 24),
            ("KubeUnsupported", 25), ("KubeInvalid", 26),
            ("NoSuchExecSession", 30), ("NotATerminal", 31), ("InvalidExecState", 32),
            ("NoSuchPath", 40), ("NotADirectory", 41), ("InvalidArchive", 42), ("NoSuchArtifact", 43),
            ("NullParameter", 100), ("Panic", 101), ("AccessDenied", 102), ("Bus", 103), ("InvalidParameter", 104),
        ];
        let have: Vec<(&str, u32)> = ErrorKind::all().iter().map(|k| (k.name(), k.code())).collect();
        assert_eq!(have, want);
    }

    #[test]
    fn dbus_names_round_trip() {
        for k in ErrorKind::all().into_iter().filter(|k| k.is_berthd_error()) {
            assert_eq!(ErrorKind::from_dbus_name(&k.dbus_name()), Some(k));
            assert_eq!(ErrorKind::from_code(k.code()), Some(k));
        }
        assert_eq!(ErrorKind::from_dbus_name(ACCESS_DENIED), Some(ErrorKind::AccessDenied));
        assert_eq!(ErrorKind::from_dbus_name("org.berth.Berth1.Error.FromTheFuture"), Some(ErrorKind::Internal));
        assert_eq!(ErrorKind::from_dbus_name("org.freedesktop.DBus.Error.Failed"), None);
    }

    #[test]
    fn typed_errors_read_well() {
        let e = Error::InvalidState { name: "web".into(), state: State::Running, verb: Verb::Remove };
        assert_eq!(e.to_string(), "container web is running: cannot remove a running, paused or stopping container without force");
        assert_eq!(e.kind(), ErrorKind::InvalidState);
        let e = Error::invalid("StopTimeout", "must be at most 86400");
        assert_eq!(e.to_string(), "invalid argument StopTimeout: must be at most 86400");
        assert_eq!(e.key(), Some("StopTimeout"));
        let e = Error::io("write", "/x/y", std::io::Error::from_raw_os_error(28));
        assert!(e.to_string().starts_with("cannot write /x/y: No space left on device"), "{e}");
        assert!(std::error::Error::source(&e).is_some());
        let e = Error::Remote { kind: ErrorKind::NoSuchContainer, message: "no such container: a".into() };
        assert_eq!((e.to_string().as_str(), e.name()), ("no such container: a", "NoSuchContainer"));
    }
}
