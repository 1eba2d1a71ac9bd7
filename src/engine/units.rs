//! What the engine needs of systemd, behind a trait so that the engine can
//! be driven by a fake in unit tests; [`Systemd`] is the real one.

use crate::model::{Resources, RestartPolicy, Result, STOP_TIMEOUT_MAX};
use crate::runtime::{STOP_REQUEST_SIGNAL, USER_STOP_STATUS};
use crate::store::{Record, Store};
use crate::systemd::{Properties, Systemd, UnitConfig, UnitStatus};
use async_trait::async_trait;
use std::path::Path;
use tokio::sync::broadcast;

#[async_trait]
pub trait Units: Send + Sync + 'static {
    /// Start a transient unit and wait for its start job's result.
    async fn start_transient(&self, unit: &str, config: &UnitConfig) -> Result<String>;
    /// Start an existing unit (a file-defined container's) and wait.
    async fn start_unit(&self, unit: &str) -> Result<String>;
    /// Follow a unit whose name lacks berth's prefix.
    fn watch_unit(&self, unit: &str);
    /// Stop a unit and wait for the stop job's result.
    async fn stop(&self, unit: &str) -> Result<String>;
    async fn kill(&self, unit: &str, whom: &str, signal: i32) -> Result<()>;
    async fn freeze(&self, unit: &str) -> Result<()>;
    async fn thaw(&self, unit: &str) -> Result<()>;
    async fn set_resources(&self, unit: &str, resources: &Resources) -> Result<()>;
    async fn reset_failed(&self, unit: &str) -> Result<()>;
    async fn status(&self, unit: &str) -> Result<Option<UnitStatus>>;
    /// Names of units whose state may have changed.
    fn watch(&self) -> broadcast::Receiver<String>;
}

#[async_trait]
impl Units for Systemd {
    async fn start_transient(&self, unit: &str, config: &UnitConfig) -> Result<String> {
        Systemd::start_transient(self, unit, config.properties()?).await
    }
    async fn start_unit(&self, unit: &str) -> Result<String> {
        Systemd::start(self, unit).await
    }
    fn watch_unit(&self, unit: &str) {
        Systemd::watch_unit(self, unit)
    }
    async fn stop(&self, unit: &str) -> Result<String> {
        Systemd::stop(self, unit).await
    }
    async fn kill(&self, unit: &str, whom: &str, signal: i32) -> Result<()> {
        Systemd::kill(self, unit, whom, signal).await
    }
    async fn freeze(&self, unit: &str) -> Result<()> {
        Systemd::freeze(self, unit).await
    }
    async fn thaw(&self, unit: &str) -> Result<()> {
        Systemd::thaw(self, unit).await
    }
    async fn set_resources(&self, unit: &str, resources: &Resources) -> Result<()> {
        let mut p = Properties::new();
        p.resources(resources);
        Systemd::set_properties(self, unit, p).await
    }
    async fn reset_failed(&self, unit: &str) -> Result<()> {
        Systemd::reset_failed(self, unit).await
    }
    async fn status(&self, unit: &str) -> Result<Option<UnitStatus>> {
        Systemd::status(self, unit).await
    }
    fn watch(&self) -> broadcast::Receiver<String> {
        Systemd::watch(self)
    }
}

/// systemd's Restart= and the number of restarts allowed for a policy.
/// A user's stop or kill never restarts: the monitor then exits with a
/// status listed in RestartPreventExitStatus.
pub fn restart_setting(p: RestartPolicy) -> (&'static str, Option<u32>) {
    match p {
        RestartPolicy::No => ("no", None),
        RestartPolicy::OnFailure(n) => ("on-failure", n),
        RestartPolicy::Always | RestartPolicy::UnlessStopped => ("always", None),
    }
}

/// The transient unit of a container: berth-monitor running its bundle.
pub fn unit_config(rec: &Record, store: &Store, monitor: &Path, dependency_units: Vec<String>) -> UnitConfig {
    let spec = &rec.spec;
    let runc = spec.runtime.is_runc();
    let args = crate::runtime::spec_run::monitor_args(spec, &rec.id, store.run_root());
    let monitor = monitor.to_string_lossy().into_owned();
    let mut exec_start = vec![monitor.clone()];
    exec_start.extend(args.to_args());
    let (restart, restart_limit) = restart_setting(spec.restart_policy);
    UnitConfig {
        description: format!("berth container {}", rec.name),
        exec_start,
        exec_stop_post: vec![monitor, "record-exit".into(), format!("--exit-file={}", args.exit_file.display())],
        kill_signal: STOP_REQUEST_SIGNAL,
        timeout_start_usec: spec.start_timeout as u64 * 1_000_000,
        // The monitor enforces the stop timeout; this is only a backstop.
        timeout_stop_usec: (STOP_TIMEOUT_MAX as u64 + 60) * 1_000_000,
        syslog_identifier: rec.name.to_string(),
        name: rec.name.to_string(),
        id: rec.id.clone(),
        restart,
        restart_limit,
        user_stop_status: USER_STOP_STATUS,
        resources: spec.resources.clone(),
        dependencies: dependency_units,
        delegate: runc,
    }
}
