//! The libpod verbs. Each takes the container's lock, refreshes it from
//! systemd, checks the state guard, acts, then saves and emits.

use super::{unit_config, Container, Engine};
use crate::model::{
    check_signal, now_usec, Error, EventKind, OptionValue, RestartPolicy, Result, State,
    Verb, STOP_TIMEOUT_MAX,
};
use crate::runtime::{bundle, STOP_TIMEOUT_FILE};
use crate::store::Record;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// The states Wait returns on when the caller names none.
pub const DEFAULT_WAIT: [State; 2] = [State::Stopped, State::Exited];

/// Would podman restart this container after its run ended?
pub fn should_restart(rec: &Record) -> bool {
    if rec.stopped_by_user || rec.state.is_live() {
        return false;
    }
    match rec.spec.restart_policy {
        RestartPolicy::No => false,
        RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        RestartPolicy::OnFailure(limit) => {
            rec.exit_code.is_some_and(|c| c != 0) && limit.is_none_or(|n| rec.restart_count < n)
        }
    }
}

fn check_timeout(t: u32) -> Result<u32> {
    if t > STOP_TIMEOUT_MAX {
        Err(Error::invalid("Timeout", format!("{t} is more than {STOP_TIMEOUT_MAX} seconds")))
    } else {
        Ok(t)
    }
}

impl Engine {
    async fn locked(&self, name: &str) -> Result<(Arc<Container>, tokio::sync::OwnedMutexGuard<()>)> {
        let c = self.get(name)?;
        let g = c.op.clone().lock_owned().await;
        Ok((c, g))
    }

    /// Bundle and config.json ready, root file system checked.
    fn prepare(&self, rec: &Record) -> Result<()> {
        let spec = &rec.spec;
        if !spec.rootfs.is_dir() {
            return Err(Error::invalid("Rootfs", format!("{} is not a directory", spec.rootfs.display())));
        }
        for v in &spec.volumes {
            if !v.source.exists() {
                return Err(Error::invalid("Volumes", format!("{} does not exist", v.source.display())));
            }
        }
        let config = bundle::config(spec, &rec.name, &rec.id)?;
        bundle::write_config(&self.inner.store.bundle_dir(&rec.id), &config)?;
        Ok(())
    }

    /// Every dependency running, started first when `recursive`; returns
    /// their units for After=/Requires=.
    fn ensure_dependencies<'a>(
        &'a self,
        rec: &'a Record,
        recursive: bool,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<String>>> + Send + 'a>> {
        Box::pin(async move {
            let mut units = Vec::new();
            for d in &rec.spec.dependencies {
                let not_running = |reason: String| Error::DependencyNotRunning {
                    name: rec.name.to_string(),
                    dependency: d.to_string(),
                    reason,
                };
                let dep = self.get(d.as_str()).map_err(|_| not_running("does not exist".into()))?;
                let state = dep.record().state;
                if state != State::Running {
                    if !recursive {
                        return Err(not_running(format!("is {state}; start it first, or start recursively")));
                    }
                    self.start(d.as_str(), true).await.map_err(|e| not_running(format!("cannot start: {e}")))?;
                }
                units.push(dep.record().unit_name());
            }
            Ok(units)
        })
    }

    /// Init(recursive): bundle ready -> created.
    pub async fn init(&self, name: &str, recursive: bool) -> Result<Record> {
        let (c, _g) = self.locked(name).await?;
        let mut rec = self.refresh(&c).await?;
        rec.state.check(Verb::Init, name)?;
        self.ensure_dependencies(&rec, recursive).await?;
        self.prepare(&rec)?;
        rec.state = State::Created;
        self.commit(&c, rec.clone())?;
        self.emit(&rec, EventKind::Init);
        Ok(rec)
    }

    /// Start(recursive): returns once the unit's start job is done, which
    /// for a notify container is after its own READY=1.
    pub fn start<'a>(&'a self, name: &'a str, recursive: bool) -> Pin<Box<dyn Future<Output = Result<Record>> + Send + 'a>> {
        Box::pin(async move {
            let (c, _g) = self.locked(name).await?;
            let rec = self.refresh(&c).await?;
            rec.state.check(Verb::Start, name)?;
            let deps = self.ensure_dependencies(&rec, recursive).await?;
            self.start_locked(&c, rec, deps).await
        })
    }

    async fn start_locked(&self, c: &Container, mut rec: Record, deps: Vec<String>) -> Result<Record> {
        let store = &self.inner.store;
        let units = &self.inner.units;
        if rec.state != State::Created {
            self.prepare(&rec)?;
            rec.state = State::Created;
            self.emit(&rec, EventKind::Init);
        }
        let unit = rec.unit_name();
        units.reset_failed(&unit).await?;
        let _ = std::fs::remove_file(store.bundle_dir(&rec.id).join(STOP_TIMEOUT_FILE));
        // Before the unit starts, so that an exit file of this run is newer.
        rec.started_at = now_usec();
        rec.stopped_by_user = false;
        rec.restart_count = 0;
        let result = if rec.source.is_some() {
            // A file-defined container's unit exists: systemd runs it as written.
            units.start_unit(&unit).await?
        } else {
            let config = unit_config(&rec, store, &self.inner.config.monitor, deps);
            units.start_transient(&unit, &config).await?
        };
        if result == "done" {
            rec.state = State::Running;
            self.commit(c, rec.clone())?;
            self.emit(&rec, EventKind::Start);
            if rec.spec.notify {
                self.emit(&rec, EventKind::Ready);
            }
            return Ok(rec);
        }
        // The start job failed: learn why, leave nothing running.
        let status = units.status(&unit).await?;
        let timed_out = status.as_ref().is_some_and(|s| s.result == "timeout");
        let exit = store.read_exit(&rec.id)?;
        super::reconcile::finish(&mut rec, None, exit.as_ref());
        self.commit(c, rec.clone())?;
        units.reset_failed(&unit).await?;
        self.emit(&rec, EventKind::Died);
        let code = rec.exit_code.unwrap_or(-1);
        let said = super::logs::recent_errors(&rec.id, rec.started_at).await;
        Err(if timed_out {
            Error::StartTimeout { name: rec.name.to_string(), seconds: rec.spec.start_timeout, unit }
        } else {
            Error::StartFailed { name: rec.name.to_string(), job: result, exit_code: code, output: said, unit }
        })
    }

    /// Stop(timeout): the container's stop signal, SIGKILL after the timeout
    /// (the container's own when None).
    pub async fn stop(&self, name: &str, timeout: Option<u32>) -> Result<Record> {
        if let Some(t) = timeout {
            check_timeout(t)?;
        }
        let (c, _g) = self.locked(name).await?;
        let rec = self.refresh(&c).await?;
        rec.state.check(Verb::Stop, name)?;
        self.stop_locked(&c, rec, timeout).await
    }

    async fn stop_locked(&self, c: &Container, mut rec: Record, timeout: Option<u32>) -> Result<Record> {
        let unit = rec.unit_name();
        if rec.state == State::Created {
            rec.state = State::Stopped;
            self.commit(c, rec.clone())?;
            self.emit(&rec, EventKind::Stop);
            return Ok(rec);
        }
        if rec.state == State::Paused {
            self.inner.units.thaw(&unit).await?;
        }
        if let Some(t) = timeout {
            let f = self.inner.store.bundle_dir(&rec.id).join(STOP_TIMEOUT_FILE);
            crate::fsutil::atomic_write(&f, t.to_string().as_bytes()).map_err(Error::io_at("write", &f))?;
        }
        rec.stopped_by_user = true;
        rec.state = State::Stopping;
        self.commit(c, rec.clone())?;
        let result = self.inner.units.stop(&unit).await?;
        let rec = self.refresh(c).await?;
        if rec.state.is_live() {
            return Err(Error::systemd(format!("stopping {unit} ended with job result {result}, the unit still runs")));
        }
        self.emit(&rec, EventKind::Stop);
        Ok(rec)
    }

    /// Kill(signal): deliver a signal to the container; a kill is the user's
    /// stop, so no restart follows.
    pub async fn kill(&self, name: &str, signal: i32) -> Result<Record> {
        let signal = check_signal(signal, "Signal")?;
        let (c, _g) = self.locked(name).await?;
        let mut rec = self.refresh(&c).await?;
        rec.state.check(Verb::Kill, name)?;
        rec.stopped_by_user = true;
        self.commit(&c, rec.clone())?;
        // SIGKILL cannot be forwarded by the monitor: kill every process.
        let whom = if signal == 9 { "all" } else { "main" };
        self.inner.units.kill(&rec.unit_name(), whom, signal).await?;
        self.emit(&rec, EventKind::Kill);
        Ok(rec)
    }

    /// Restart(timeout): stop if live, then start; dependencies must run.
    pub async fn restart(&self, name: &str, timeout: Option<u32>) -> Result<Record> {
        if let Some(t) = timeout {
            check_timeout(t)?;
        }
        let (c, _g) = self.locked(name).await?;
        let mut rec = self.refresh(&c).await?;
        rec.state.check(Verb::Restart, name)?;
        let deps = self.ensure_dependencies(&rec, false).await?;
        if rec.state.is_live() {
            rec = self.stop_locked(&c, rec, timeout).await?;
        }
        let rec = self.start_locked(&c, rec, deps).await?;
        self.emit(&rec, EventKind::Restart);
        Ok(rec)
    }

    pub async fn pause(&self, name: &str) -> Result<Record> {
        let (c, _g) = self.locked(name).await?;
        let mut rec = self.refresh(&c).await?;
        rec.state.check(Verb::Pause, name)?;
        self.inner.units.freeze(&rec.unit_name()).await?;
        rec.state = State::Paused;
        self.commit(&c, rec.clone())?;
        self.emit(&rec, EventKind::Pause);
        Ok(rec)
    }

    pub async fn unpause(&self, name: &str) -> Result<Record> {
        let (c, _g) = self.locked(name).await?;
        let mut rec = self.refresh(&c).await?;
        rec.state.check(Verb::Unpause, name)?;
        self.inner.units.thaw(&rec.unit_name()).await?;
        rec.state = State::Running;
        self.commit(&c, rec.clone())?;
        self.emit(&rec, EventKind::Unpause);
        Ok(rec)
    }

    /// Update(resources): applied live to a running unit, and stored.
    pub async fn update(&self, name: &str, options: &BTreeMap<String, OptionValue>) -> Result<Record> {
        let (c, _g) = self.locked(name).await?;
        let mut rec = self.refresh(&c).await?;
        rec.state.check(Verb::Update, name)?;
        rec.spec.resources.apply(options)?;
        if rec.state.is_live() {
            self.inner.units.set_resources(&rec.unit_name(), &rec.spec.resources).await?;
        }
        self.commit(&c, rec.clone())?;
        self.emit(&rec, EventKind::Update);
        Ok(rec)
    }

    /// Wait until the container is in one of `conditions` (default: stopped
    /// or exited); returns its record. Driven by the container's change
    /// channel, never by polling. `timeout` None waits for ever.
    pub async fn wait(&self, name: &str, conditions: &[State], timeout: Option<Duration>) -> Result<Record> {
        let c = self.get(name)?;
        let wanted: &[State] = if conditions.is_empty() { &DEFAULT_WAIT } else { conditions };
        let mut rx = c.tx.subscribe();
        let fut = async {
            loop {
                let rec = rx.borrow_and_update().clone();
                if wanted.contains(&rec.state) {
                    return Ok(rec);
                }
                if rec.state == State::Removing {
                    return Err(Error::Removed { name: name.to_string() });
                }
                if rx.changed().await.is_err() {
                    return Err(Error::Removed { name: name.to_string() });
                }
            }
        };
        match timeout {
            None => fut.await,
            Some(t) => tokio::time::timeout(t, fut)
                .await
                .map_err(|_| Error::WaitTimeout {
                    name: name.to_string(),
                    wanted: wanted.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" or "),
                    waited: t,
                })?,
        }
    }

    /// Sync: re-read the container's unit from systemd.
    pub async fn sync(&self, name: &str) -> Result<Record> {
        let (c, _g) = self.locked(name).await?;
        self.refresh(&c).await
    }

    /// Cleanup: release runtime leftovers and reset the unit.
    pub async fn cleanup(&self, name: &str) -> Result<Record> {
        let (c, _g) = self.locked(name).await?;
        let mut rec = self.refresh(&c).await?;
        rec.state.check(Verb::Cleanup, name)?;
        if rec.state == State::Stopping {
            return Ok(rec);
        }
        self.inner.units.reset_failed(&rec.unit_name()).await?;
        self.inner.store.remove_runtime_data(&rec.id)?;
        if matches!(rec.state, State::Stopped | State::Created) {
            rec.state = if rec.state == State::Created { State::Configured } else { State::Exited };
        }
        self.commit(&c, rec.clone())?;
        self.emit(&rec, EventKind::Cleanup);
        Ok(rec)
    }

    /// Remove(force, timeout): stop first when forced, then forget it.
    pub async fn remove(&self, name: &str, force: bool, timeout: Option<u32>) -> Result<()> {
        if let Some(t) = timeout {
            check_timeout(t)?;
        }
        let (c, _g) = self.locked(name).await?;
        let mut rec = self.refresh(&c).await?;
        rec.state.check(if force { Verb::ForceRemove } else { Verb::Remove }, name)?;
        if let Some(src) = &rec.source {
            return Err(Error::FileDefined { name: name.to_string(), file: src.clone() });
        }
        let dependents = self.dependents(&rec.name);
        if !dependents.is_empty() {
            return Err(Error::HasDependents { name: name.to_string(), dependents });
        }
        if rec.state.is_live() {
            rec = self.stop_locked(&c, rec, timeout).await?;
        }
        rec.state = State::Removing;
        self.commit(&c, rec.clone())?;
        self.inner.units.reset_failed(&rec.unit_name()).await?;
        self.inner.store.remove_runtime_data(&rec.id)?;
        self.inner.store.delete(&rec.name)?;
        self.unregister(name);
        self.emit(&rec, EventKind::Remove);
        Ok(())
    }

    /// ShouldRestart: what podman's restart policy says after this run.
    pub fn should_restart(&self, name: &str) -> Result<bool> {
        Ok(should_restart(&self.get(name)?.record()))
    }
}
