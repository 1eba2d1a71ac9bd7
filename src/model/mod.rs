//! Pure domain types: names, the container spec, states and their guards,
//! events and errors. No I/O and no async here.

mod error;
mod event;
mod name;
mod signal;
mod spec;
mod state;

pub use error::{Error, Result};
pub use event::{Event, EventKind};
pub use name::{new_id, short_id, validate_id, ContainerName, NAME_MAX};
pub use signal::{check_signal, parse_signal, signal_name};
pub use spec::{
    ContainerSpec, FileDefined, Network, OptionValue, Resources, RestartPolicy, RuntimeKind, Volume,
    OPTION_KEYS, STOP_TIMEOUT_MAX,
};
pub use state::{State, Verb};

/// Microseconds since the Unix epoch, the time unit of the whole API.
pub type Usec = u64;

/// Now, in microseconds since the epoch.
pub fn now_usec() -> Usec {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
