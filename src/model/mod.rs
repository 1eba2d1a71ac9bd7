//! Pure domain types: names, the container spec, states and their guards,
//! events and errors. No I/O and no async here.

pub mod attach;
mod error;
#[cfg(feature = "daemon")]
pub mod envfile;
mod event;
mod exec;
mod files;
pub mod health;
mod image;
mod info;
pub mod log_frame;
mod logs;
mod name;
pub mod network;
pub mod options;
pub mod ports;
mod process_limits;
mod signal;
#[cfg(feature = "daemon")]
pub mod specifier;
mod spec;
mod state;
mod time;

pub use error::{Error, ErrorKind, Result, ACCESS_DENIED, ERROR_PREFIX};
pub use event::{Event, EventKind, EventOptions};
pub use exec::{ExecConfig, ExecOptionDef, ExecSessionInfo, ExecState, EXEC_NOT_EXECUTABLE, EXEC_NOT_FOUND, EXEC_OPTIONS};
pub use files::{CopyOptions, FileInfo};
pub use health::{HealthLog, HealthOnFailure, HealthState, HealthStatus, Healthcheck};
pub use image::{ImageConfigInfo, ImageDetails, ImageInfo, VolumeInfo};
pub use info::{ContainerInfo, StateInfo};
pub use log_frame::LogStream;
pub use logs::{LogFormat, LogOptions};
pub use network::{AttachmentInfo, NetworkCreateOptions, NetworkInfo, SubnetInfo, DEFAULT_NETWORK};
pub use ports::PortMapping;
pub use process_limits::{check_timezone, timezone_file, Device, Ulimit, ULIMIT_NAMES};
pub use name::{generated_name, new_id, short_id, validate_id, ContainerName, NAME_MAX};
pub use signal::{check_signal, parse_signal, signal_name};
pub use options::{option, parse_argv, validate_option, Flag, Form, OptionDef, OptionValue, Sig, OPTIONS};
pub use spec::{
    check_volume_name, ContainerSpec, EnvFile, FileDefined, StartEnv, CAPABILITY_NAMES, Network, Resources, RestartPolicy, RuntimeKind, Tmpfs, Volume,
    STOP_TIMEOUT_MAX,
};
pub use state::{State, Verb};
pub use time::{now_usec, rfc3339};

/// Microseconds since the Unix epoch, the time unit of the whole API.
pub type Usec = u64;

/// Where the API takes a stop timeout, this means "the container's own".
pub const DEFAULT_TIMEOUT: u32 = u32::MAX;
