//! What the engine needs of systemd, behind a trait so that the engine can
//! be driven by a fake in unit tests; [`Systemd`] is the real one.

use crate::model::{Resources, RestartPolicy, Result};
use crate::runtime::spec_run;
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
    let args = spec_run::monitor_args(&rec.spec, &rec.id, store.run_root());
    let mut config = spec_run::unit_config(&rec.name, &rec.id, &rec.spec, monitor, args.to_args(), &args.exit_file);
    (config.restart, config.restart_limit) = restart_setting(rec.spec.restart_policy);
    config.dependencies = dependency_units;
    config
}
