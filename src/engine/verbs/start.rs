//! Init and Start.

use super::super::{unit_config, Container, Engine};
use crate::model::{now_usec, Error, EventKind, Result, State, Verb};
use crate::store::Record;
use crate::systemd::JobResult;
use std::future::Future;
use std::pin::Pin;

impl Engine {
    /// Init(recursive): bundle ready -> created.
    pub async fn init(&self, name: &str, recursive: bool) -> Result<Record> {
        let (c, _g) = self.locked(name).await?;
        let mut rec = self.refresh(&c).await?;
        rec.state.check(Verb::Init, name)?;
        self.ensure_dependencies(&rec, recursive).await?;
        self.prepare(&rec).await?;
        self.crash_point("init: bundle written").await;
        rec.state = State::Created;
        self.commit(&c, rec.clone()).await?;
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
            self.start_locked(&c, rec, deps, false).await
        })
    }

    /// The record is not saved before the unit starts (that would cost a
    /// sync on every start): berthd killed in between finds the run through
    /// the unit or its exit file (see reconcile). With `attach_first`, the
    /// monitor waits for a first attach before it starts the container.
    pub(super) async fn start_locked(&self, c: &Container, mut rec: Record, deps: Vec<String>, attach_first: bool) -> Result<Record> {
        let units = &self.inner.units;
        if rec.state != State::Created {
            self.prepare(&rec).await?;
            rec.state = State::Created;
            self.emit(&rec, EventKind::Init);
        } else if rec.image_id.is_some() {
            // Unmounted since init (Unmount, a reboot): mount it again.
            self.mount_root(&rec).await?;
        }
        let unit = rec.unit_name();
        units.reset_failed(&unit).await?;
        self.set_stop_timeout(&rec, None).await?;
        self.set_attach_first(&rec, attach_first).await?;
        self.crash_point("start: unit reset").await;
        rec.started_at = now_usec();
        rec.stopped_by_user = false;
        rec.restart_count = 0;
        if rec.spec.notify_healthy {
            // Its checks run while the unit starts; the first pass makes it ready.
            self.watch_until_ready(self.get(rec.name.as_str())?, true).await;
        } else {
            self.health_new_run(c, &rec).await;
        }
        let result = if rec.source.is_some() {
            // A file-defined container's unit exists: systemd runs it as written.
            units.start_unit(&unit).await?
        } else {
            let config = unit_config(&rec, &self.inner.store, &self.inner.config.monitor, deps);
            units.start_transient(&unit, &config).await?
        };
        self.crash_point("start: unit started").await;
        if result == JobResult::Done {
            rec.state = State::Running;
            self.commit(c, rec.clone()).await?;
            self.emit(&rec, EventKind::Start);
            if rec.spec.notify || rec.spec.notify_healthy {
                self.emit(&rec, EventKind::Ready);
            }
            if let Err(e) = self.reconcile_health_timer(&rec).await {
                // The next refresh starts it.
                tracing::warn!(container = %rec.name, "cannot start its health-check timer: {e}");
            }
            return Ok(rec);
        }
        // The start job failed: learn why, leave nothing running.
        let status = units.status(&unit).await?;
        let timed_out = status.as_ref().is_some_and(|s| s.result == "timeout");
        let (store, id) = (self.inner.store.clone(), rec.id.clone());
        let exit = super::blocking(move || store.read_exit(&id)).await?;
        super::super::reconcile::finish(&mut rec, status.as_ref(), exit.as_ref());
        self.commit(c, rec.clone()).await?;
        units.reset_failed(&unit).await?;
        self.emit(&rec, EventKind::Died);
        let exit_code = rec.exit_code.unwrap_or(-1);
        let output = super::super::logs::recent_errors(&rec.id, rec.started_at).await;
        if let Some(e) = rec.spec.notify_healthy.then(|| self.unhealthy_start(&rec)).flatten() {
            return Err(e);
        }
        Err(if timed_out {
            Error::StartTimeout { name: rec.name.to_string(), seconds: rec.spec.start_timeout, unit }
        } else {
            Error::StartFailed { name: rec.name.to_string(), job: result.to_string(), exit_code, output, unit }
        })
    }
}
