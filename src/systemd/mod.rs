//! berth as a client of PID 1: transient units, jobs, unit state.

pub mod label;
pub mod props;
pub mod timer;
pub mod unit_file;

pub use props::{Properties, UnitConfig};
pub use timer::{health_units, HealthTimer};
pub mod client;
pub use client::{Systemd, UnitStatus, UNIT_PREFIX};
pub mod job;
pub use job::{JobResult, UnitEvent};
