//! The OCI runtime side: bundles and config.json, runtime command lines, and
//! the monitor process that runs a container inside its systemd unit.

pub mod bundle;
mod bundle_process;
pub mod cgroup;
pub mod cmdline;
pub mod exec_spec;
pub mod launch;
pub mod monitor;
pub mod network;
pub mod seqpacket;
pub mod spec_run;
pub mod start_env;

pub use cmdline::Runtime;
pub use monitor::{MonitorArgs, KILL_REQUEST_SIGNAL, START_FAILURE_CODE, STOP_REQUEST_SIGNAL, USER_STOP_STATUS};
