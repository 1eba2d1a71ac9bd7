//! Health checks, the systemd way (as podman runs them): while a container
//! with a check on an interval runs, a transient timer bound to its unit
//! starts a service that runs `berthctl healthcheck run NAME`. Each check is
//! an exec session in the container; its result goes into the run's
//! `health.json` (model::HealthState), written atomically. A status change
//! is a `health_status` event; an unhealthy result gets the container its
//! HealthOnFailure. With NotifyHealthy, berthd runs the checks itself while
//! the unit starts, and asks the monitor for READY=1 after the first pass.
//!
//! Crash safety: the timer is derived state. Every refresh makes it match
//! the container (started while it runs, stopped otherwise), so berthd
//! killed between a container's start and its timer's finds it on its next
//! look; the results are one file replaced whole.

use super::{blocking, Container, Engine};
use crate::model::{
    now_usec, Error, EventKind, ExecConfig, HealthLog, HealthOnFailure, HealthState, HealthStatus,
    Healthcheck, Result, State, Verb,
};
use crate::model::health::output_tail;
use crate::runtime::monitor::control::{Reply, Request};
use crate::store::{Record, SessionFiles};
use crate::systemd::{health_units, HealthTimer, JobResult, UnitStatus};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// The results health.json holds, read at start-up (blocking).
pub(super) fn read_health(store: &crate::store::Store, rec: &Record) -> Option<HealthState> {
    rec.spec.health.as_ref()?;
    let d = std::fs::read(store.layout().run_dir(&rec.id).health()).ok()?;
    serde_json::from_slice(&d).ok()
}

/// Time a check's service may run beyond the check's own timeout.
const SERVICE_SLACK_USEC: u64 = 30_000_000;

/// How long a killed check's session has to record its end.
const KILLED_CHECK_GRACE: Duration = Duration::from_secs(2);

/// The exit code recorded for a check that ran past its timeout, and for
/// one whose end went unrecorded.
const CHECK_TIMED_OUT: i32 = -1;

impl Engine {
    /// The timer of a container whose check runs on an interval.
    pub(crate) fn health_timer(&self, rec: &Record) -> Option<HealthTimer> {
        let h = rec.spec.health.as_ref().filter(|h| h.interval_usec > 0)?;
        let (timer, service) = health_units(rec.name.as_str());
        // berthctl is installed beside berth-monitor.
        let berthctl = self.inner.config.monitor.with_file_name("berthctl");
        Some(HealthTimer {
            timer,
            service,
            container_unit: rec.unit_name(),
            interval_usec: h.interval_usec,
            command: vec![berthctl.to_string_lossy().into_owned(), "healthcheck".into(), "run".into(), rec.name.to_string()],
            timeout_usec: h.timeout_usec.saturating_add(SERVICE_SLACK_USEC),
            description: format!("berth health check of {}", rec.name),
        })
    }

    /// Make the health timer match the container: loaded while it runs (or
    /// is paused), gone otherwise. The caller holds the lock.
    pub(crate) async fn reconcile_health_timer(&self, rec: &Record) -> Result<()> {
        let Some(t) = self.health_timer(rec) else { return Ok(()) };
        let units = &self.inner.units;
        let want = matches!(rec.state, State::Running | State::Paused);
        let timer = units.active_state(&t.timer).await?;
        let runs = timer.as_deref().is_some_and(|s| matches!(s, "active" | "activating"));
        if want && !runs {
            // What a lost timer left: its service (a check still running),
            // or either of them failed.
            if timer.is_some() {
                units.stop(&t.timer).await?;
            }
            if units.active_state(&t.service).await?.is_some() {
                units.stop(&t.service).await?;
            }
            units.reset_failed(&t.timer).await?;
            units.reset_failed(&t.service).await?;
            let result = units.start_timer(&t).await?;
            self.crash_point("health: timer started").await;
            if result != JobResult::Done {
                tracing::warn!(container = %rec.name, "its health-check timer did not start: job {result}");
            }
        } else if !want && timer.is_some() {
            self.stop_health_units(rec).await?;
        }
        Ok(())
    }

    /// Stop the health timer and its service, leaving neither loaded nor
    /// failed (removal, and a container that no longer runs).
    pub(crate) async fn stop_health_units(&self, rec: &Record) -> Result<()> {
        let (timer, service) = health_units(rec.name.as_str());
        let units = &self.inner.units;
        for u in [&timer, &service] {
            if units.active_state(u).await?.is_some() {
                units.stop(u).await?;
                units.reset_failed(u).await?;
                self.crash_point("health: unit stopped").await;
            }
        }
        Ok(())
    }

    /// After a refresh: the timer as the container's state wants it, and a
    /// NotifyHealthy unit that is starting gets its checks run.
    pub(super) async fn follow_health(&self, c: &Container, rec: &Record, unit: Option<&UnitStatus>) {
        if let Err(e) = self.reconcile_health_timer(rec).await {
            tracing::warn!(container = %rec.name, "cannot bring its health-check timer in line: {e}");
        }
        if rec.spec.notify_healthy && unit.is_some_and(|u| u.active_state == "activating") {
            if let Ok(c) = self.get(c.name.as_str()) {
                self.watch_until_ready(c, true).await;
            }
        }
    }

    /// A new run begins with a health of its own: starting, no results.
    pub(super) async fn health_new_run(&self, c: &Container, rec: &Record) {
        // A start berthd watches has begun the run's health already.
        if rec.spec.health.is_none() || c.ready_watch.load(Ordering::Acquire) {
            return;
        }
        let _g = c.health.lock().await;
        if let Err(e) = self.write_health(rec, &HealthState::new_run(rec.started_at)).await {
            tracing::warn!(container = %rec.name, "cannot reset its health: {e}");
        }
    }

    /// The container's health in its current run, as inspect shows it.
    pub fn health_of(&self, rec: &Record) -> HealthState {
        let c = self.get(rec.name.as_str()).ok().filter(|c| c.record().id == rec.id);
        c.and_then(|c| c.health_state.lock().unwrap().clone()).unwrap_or_else(|| HealthState::new_run(rec.started_at))
    }

    async fn write_health(&self, rec: &Record, h: &HealthState) -> Result<()> {
        let f = self.inner.store.layout().run_dir(&rec.id).health();
        let data = serde_json::to_vec(h).map_err(|e| Error::internal(format!("serializing a health state: {e}")))?;
        blocking(move || {
            if let Some(dir) = f.parent() {
                std::fs::create_dir_all(dir).map_err(Error::io_at("create", dir))?;
            }
            crate::fsutil::atomic_write(&f, &data).map_err(Error::io_at("write", &f))
        })
        .await?;
        if let Ok(c) = self.get(rec.name.as_str()) {
            *c.health_state.lock().unwrap() = Some(h.clone());
        }
        Ok(())
    }

    /// HealthcheckRun: run the container's check once, now. As podman's,
    /// the answer is this check's: healthy when it passed, starting when
    /// it failed in the start period before any pass, else unhealthy (the
    /// container's own status, after retries, is in inspect). Only a
    /// running container is checked.
    pub async fn healthcheck_run(&self, name: &str) -> Result<HealthStatus> {
        let c = self.get(name)?;
        let rec = c.record();
        let check = rec.spec.health.clone().ok_or_else(|| Error::NoHealthcheck { name: name.to_string() })?;
        if rec.state != State::Running {
            return Err(Error::HealthcheckNotRunning { name: name.to_string(), state: rec.state });
        }
        Ok(match self.check_once(&c, &rec, &check).await? {
            (_, true) => HealthStatus::Healthy,
            (HealthStatus::Starting, false) => HealthStatus::Starting,
            (_, false) => HealthStatus::Unhealthy,
        })
    }

    /// Run one check and record its result; (status after it, passed).
    /// The container's lock is not taken: a check runs while a start
    /// waits for it (NotifyHealthy), and takes as long as its timeout.
    async fn check_once(&self, c: &Container, rec: &Record, check: &Healthcheck) -> Result<(HealthStatus, bool)> {
        let _g = c.health.lock().await;
        let result = self.run_check(rec, check).await?;
        let passed = result.exit_code == 0;
        let mut health = self.health_of(rec);
        let changed = health.record(check, result);
        self.write_health(rec, &health).await?;
        self.crash_point("health: result recorded").await;
        if changed {
            self.emit_health(rec, health.status);
        }
        if health.status == HealthStatus::Unhealthy && !passed && check.on_failure != HealthOnFailure::None {
            self.act_on_unhealthy(rec, check.on_failure);
        }
        Ok((health.status, passed))
    }

    /// The check as an exec session in the container, killed after its
    /// timeout; its session is removed once it has ended.
    async fn run_check(&self, rec: &Record, check: &Healthcheck) -> Result<HealthLog> {
        let start = now_usec();
        let config = ExecConfig { command: check.command.clone(), ..ExecConfig::default() };
        let session = self.create_session(rec, config).await?;
        let files = SessionFiles::new(self.inner.store.layout().run_dir(&rec.id).session_dir(&session));
        if let Err(e) = self.start_session(rec, &session).await {
            self.remove_session(&files).await;
            return Err(e);
        }
        let socket = self.attach_socket(rec);
        let monitors = &self.inner.config.monitors;
        let timeout = Duration::from_micros(check.timeout_usec);
        let (exit_code, note) = match tokio::time::timeout(timeout, monitors.wait_exec(&socket, &session)).await {
            Ok(Ok(Some(code))) => (code, None),
            // The monitor went away (the container ended meanwhile).
            Ok(Ok(None)) | Ok(Err(_)) => (CHECK_TIMED_OUT, Some("the container ended during the check".to_string())),
            Err(_) => {
                self.kill_check(&files).await;
                // Its end recorded, the session can go.
                let _ = tokio::time::timeout(KILLED_CHECK_GRACE, monitors.wait_exec(&socket, &session)).await;
                let secs = check.timeout_usec as f64 / 1e6;
                (CHECK_TIMED_OUT, Some(format!("health check exceeded its timeout of {secs}s and was killed")))
            }
        };
        let f = files.clone();
        let out = blocking(move || f.read_output()).await.unwrap_or_default();
        let mut output = output_tail(&out);
        if let Some(n) = note {
            output.push_str(&n);
        }
        self.remove_session(&files).await;
        Ok(HealthLog { start, end: now_usec(), exit_code, output })
    }

    /// SIGKILL a check's process (its runtime's exec relays nothing more).
    async fn kill_check(&self, files: &SessionFiles) {
        let f = files.clone();
        if let Some(pid) = blocking(move || f.pid()).await {
            let pid = nix::unistd::Pid::from_raw(pid as i32);
            if let Err(e) = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL) {
                tracing::warn!("cannot kill a health check that ran past its timeout (pid {pid}): {e}");
            }
        }
    }

    /// A check's session is the check's alone: it goes once ended, so that
    /// checks do not pile up in ExecList.
    async fn remove_session(&self, files: &SessionFiles) {
        let f = files.clone();
        blocking(move || {
            if f.read_started().ok().flatten().is_some() && f.read_end().ok().flatten().is_none() {
                // Still running: the monitor writes its end there yet.
                return;
            }
            if let Err(e) = std::fs::remove_dir_all(f.dir()) {
                tracing::warn!("cannot remove a health check's session {}: {e}", f.dir().display());
            }
        })
        .await
    }

    /// HealthOnFailure for an unhealthy result, off the caller's path (it
    /// may take a stop timeout). A result that is lost to a crash is
    /// followed by another unhealthy one, which acts again.
    fn act_on_unhealthy(&self, rec: &Record, action: HealthOnFailure) {
        let (engine, name) = (self.clone(), rec.name.to_string());
        tokio::spawn(async move {
            let r = match action {
                HealthOnFailure::None => Ok(()),
                HealthOnFailure::Kill => engine.health_kill(&name).await,
                HealthOnFailure::Restart => engine.restart(&name, None).await.map(drop),
                HealthOnFailure::Stop => engine.stop(&name, None).await.map(drop),
            };
            match r {
                Ok(()) => tracing::info!(container = %name, "unhealthy: {}", action.as_str()),
                Err(e) => tracing::warn!(container = %name, "unhealthy, and {} failed: {e}", action.as_str()),
            }
        });
    }

    /// HealthOnFailure=kill: SIGKILL to the container's init, not the
    /// user's stop (the monitor's kill request is one): the run ends as if
    /// the container died, so the unit's restart policy (Restart=) applies,
    /// as podman's kill with systemd's restart policy.
    async fn health_kill(&self, name: &str) -> Result<()> {
        let (c, _g) = self.locked(name).await?;
        let rec = self.refresh(&c).await?;
        rec.state.check(Verb::Kill, name)?;
        let pid = self.main_pid(&rec);
        if pid == 0 {
            return Err(Error::HealthcheckNotRunning { name: name.to_string(), state: rec.state });
        }
        let pid = nix::unistd::Pid::from_raw(pid as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL)
            .map_err(|e| Error::internal(format!("killing the init of container {name} (pid {pid}): {e}")))?;
        self.crash_point("health: killed").await;
        self.emit(&rec, EventKind::Kill);
        Ok(())
    }

    /// NotifyHealthy: run the checks while the unit starts, every interval
    /// (each second when the check has none); on the first pass the monitor
    /// sends READY=1, and the start job finishes; unhealthy first, the unit
    /// is stopped and the start fails. One task per container at a time.
    pub(crate) async fn watch_until_ready(&self, c: Arc<Container>, new_run: bool) {
        let Some(check) = c.record().spec.health.clone() else { return };
        if c.ready_watch.swap(true, Ordering::AcqRel) {
            return;
        }
        if new_run {
            let _g = c.health.lock().await;
            if let Err(e) = self.write_health(&c.record(), &HealthState::new_run(now_usec())).await {
                tracing::warn!(container = %c.name, "cannot reset its health: {e}");
            }
        }
        let weak = Arc::downgrade(&self.inner);
        let period = Duration::from_micros(if check.interval_usec > 0 { check.interval_usec } else { 1_000_000 });
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(inner) = weak.upgrade() else { return };
                let engine = Engine { inner };
                let rec = c.record();
                let unit = rec.unit_name();
                match engine.inner.units.active_state(&unit).await {
                    Ok(Some(s)) if s == "activating" => {}
                    // Started, failed or gone: nothing to wait for.
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(container = %c.name, "cannot follow its start: {e}");
                        continue;
                    }
                }
                match engine.check_once(&c, &rec, &check).await {
                    Ok((_, true)) => {
                        let req = Request::Ready;
                        match engine.inner.config.monitors.call(&engine.attach_socket(&rec), &req, None).await {
                            Ok(a) if a.reply == Reply::Ok => {}
                            Ok(a) => tracing::warn!(container = %c.name, "its monitor refused READY=1: {:?}", a.reply),
                            Err(e) => tracing::warn!(container = %c.name, "cannot tell its monitor it is ready: {e}"),
                        }
                    }
                    Ok((HealthStatus::Unhealthy, false)) => {
                        tracing::warn!(container = %c.name, "unhealthy while starting: stopping its unit");
                        if let Err(e) = engine.inner.units.stop(&unit).await {
                            tracing::warn!(container = %c.name, "cannot stop its unit: {e}");
                        }
                        break;
                    }
                    Ok(_) => {}
                    // Not up yet (no monitor, no init): not a result.
                    Err(e) => tracing::debug!(container = %c.name, "no health check yet: {e}"),
                }
            }
            c.ready_watch.store(false, Ordering::Release);
        });
    }

    /// Why a NotifyHealthy start failed, when its checks made it fail.
    pub(crate) fn unhealthy_start(&self, rec: &Record) -> Option<Error> {
        let h = self.health_of(rec);
        (h.status == HealthStatus::Unhealthy).then(|| Error::StartUnhealthy {
            name: rec.name.to_string(),
            failing_streak: h.failing_streak,
            output: h.log.last().map(|l| {
                let lines: Vec<String> = l.output.lines().map(str::to_string).collect();
                lines[lines.len().saturating_sub(3)..].to_vec()
            }).unwrap_or_default(),
            unit: rec.unit_name(),
        })
    }
}
