//! What the engine needs of systemd, behind a trait so that the engine can
//! be driven by a fake in unit tests ([`super::fake`]); [`Systemd`] is the
//! real one.

use crate::model::{Resources, RestartPolicy, Result};
use crate::runtime::{cgroup, spec_run};
use crate::store::{Record, Store};
use crate::systemd::{HealthTimer, JobResult, Properties, Systemd, UnitConfig, UnitEvent, UnitStatus, UNIT_PREFIX};
use async_trait::async_trait;
use std::collections::HashSet;
use std::path::Path;
use tokio::sync::broadcast;

/// Which processes of a unit a signal goes to (KillUnit's `whom`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillWhom {
    /// The monitor, which forwards the signal to the container's init.
    Main,
    /// Every process of the unit (SIGKILL cannot be forwarded).
    All,
}

impl KillWhom {
    pub fn as_str(self) -> &'static str {
        match self {
            KillWhom::Main => "main",
            KillWhom::All => "all",
        }
    }
}

#[async_trait]
pub trait Units: Send + Sync + 'static {
    /// Start a transient unit and wait for its start job's result.
    async fn start_transient(&self, unit: &str, config: &UnitConfig) -> Result<JobResult>;
    /// Start a container's health-check timer with its service, and wait.
    async fn start_timer(&self, timer: &HealthTimer) -> Result<JobResult>;
    /// Any unit's ActiveState (a timer's too); None when not loaded.
    async fn active_state(&self, unit: &str) -> Result<Option<String>>;
    /// Start an existing unit (a file-defined container's) and wait.
    async fn start_unit(&self, unit: &str) -> Result<JobResult>;
    /// Follow a unit whose name lacks berth's prefix.
    fn watch_unit(&self, unit: &str);
    /// Stop a unit and wait for the stop job's result.
    async fn stop(&self, unit: &str) -> Result<JobResult>;
    async fn kill(&self, unit: &str, whom: KillWhom, signal: i32) -> Result<()>;
    /// Freeze the container's processes (not the monitor, nor the unit's
    /// stop-post commands: they must run even while it is paused).
    async fn freeze(&self, unit: &str) -> Result<()>;
    async fn thaw(&self, unit: &str) -> Result<()>;
    async fn set_resources(&self, unit: &str, resources: &Resources) -> Result<()>;
    async fn reset_failed(&self, unit: &str) -> Result<()>;
    async fn status(&self, unit: &str) -> Result<Option<UnitStatus>>;
    /// Names of the units berth follows that systemd has loaded now.
    async fn loaded(&self) -> Result<HashSet<String>>;
    /// Unit changes, reloads and resyncs.
    fn watch(&self) -> broadcast::Receiver<UnitEvent>;
}

#[async_trait]
impl Units for Systemd {
    async fn start_transient(&self, unit: &str, config: &UnitConfig) -> Result<JobResult> {
        Systemd::start_transient(self, unit, config.properties()?).await
    }
    async fn start_timer(&self, timer: &HealthTimer) -> Result<JobResult> {
        Systemd::start_timer(self, timer).await
    }
    async fn active_state(&self, unit: &str) -> Result<Option<String>> {
        Systemd::active_state(self, unit).await
    }
    async fn start_unit(&self, unit: &str) -> Result<JobResult> {
        Systemd::start(self, unit).await
    }
    fn watch_unit(&self, unit: &str) {
        Systemd::watch_unit(self, unit)
    }
    async fn stop(&self, unit: &str) -> Result<JobResult> {
        Systemd::stop(self, unit).await
    }
    async fn kill(&self, unit: &str, whom: KillWhom, signal: i32) -> Result<()> {
        Systemd::kill(self, unit, whom.as_str(), signal).await
    }
    async fn freeze(&self, unit: &str) -> Result<()> {
        let cg = self.control_group(unit).await?;
        tokio::task::spawn_blocking(move || cgroup::freeze_payload(&cg, true)).await.expect("freeze task")
    }
    async fn thaw(&self, unit: &str) -> Result<()> {
        let cg = self.control_group(unit).await?;
        tokio::task::spawn_blocking(move || cgroup::freeze_payload(&cg, false)).await.expect("thaw task")
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
        let Some(mut st) = Systemd::status(self, unit).await? else { return Ok(None) };
        st.payload_frozen = cgroup::payload_frozen(&st.control_group);
        Ok(Some(st))
    }
    async fn loaded(&self) -> Result<HashSet<String>> {
        let mut names: HashSet<String> =
            Systemd::list(self, &format!("{UNIT_PREFIX}*")).await?.into_iter().map(|(n, _)| n).collect();
        for u in self.watched() {
            if Systemd::status(self, &u).await?.is_some() {
                names.insert(u);
            }
        }
        Ok(names)
    }
    fn watch(&self) -> broadcast::Receiver<UnitEvent> {
        Systemd::watch(self)
    }
}

impl Systemd {
    async fn control_group(&self, unit: &str) -> Result<String> {
        match Systemd::status(self, unit).await? {
            Some(s) if !s.control_group.is_empty() => Ok(s.control_group),
            _ => Err(crate::model::Error::systemd(format!("{unit} has no control group: it does not run"))),
        }
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
    let args = spec_run::monitor_args(&rec.spec, &rec.id, store.layout());
    let mut config = spec_run::unit_config(&rec.name, &rec.id, &rec.spec, monitor, args.to_args(), &args.exit_file);
    (config.restart, config.restart_limit) = restart_setting(rec.spec.restart_policy);
    config.dependencies = dependency_units;
    config
}
