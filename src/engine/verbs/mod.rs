//! The libpod verbs, one file each. Each takes the container's lock,
//! refreshes it from systemd, checks the state guard, acts, then saves and
//! emits; `crash_point` follows every step that changes systemd, the
//! runtime or the disk.

mod attach;
mod cleanup;
mod exec;
mod export;
mod kill;
mod mount;
mod pause;
mod reload_network;
mod remove;
mod restart;
mod start;
mod stop;
mod unmount;
mod update;
mod wait;

pub use attach::AttachOptions;
pub use exec::ExecDied;
pub use wait::DEFAULT_WAIT;

use super::{blocking, Container, Engine};
use crate::model::{Error, RestartPolicy, Result, State, STOP_TIMEOUT_MAX};
use crate::runtime::{bundle, launch};
use crate::store::Record;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

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

fn check_timeout(t: Option<u32>) -> Result<()> {
    match t {
        Some(t) if t > STOP_TIMEOUT_MAX => {
            Err(Error::invalid("Timeout", format!("{t} is more than {STOP_TIMEOUT_MAX} seconds")))
        }
        _ => Ok(()),
    }
}

impl Engine {
    async fn locked(&self, name: &str) -> Result<(Arc<Container>, tokio::sync::OwnedMutexGuard<()>)> {
        let c = self.get(name)?;
        let g = c.op.clone().lock_owned().await;
        Ok((c, g))
    }

    /// Root file system mounted (or checked), volumes made, bundle and
    /// config.json written. A failure after the mount leaves the root as
    /// the container's state wants it.
    async fn prepare(&self, rec: &Record) -> Result<()> {
        let root = self.mount_root(rec).await?;
        if rec.image_id.is_some() {
            self.crash_point("prepare: root mounted").await;
        }
        let r = self.write_bundle(rec, root).await;
        if r.is_err() && rec.image_id.is_some() && !super::roots::root_needed(rec) {
            if let Err(e) = self.unmount_root(rec).await {
                tracing::warn!(container = %rec.name, "cannot unmount its root after a failed prepare: {e}");
            }
        }
        r
    }

    async fn write_bundle(&self, rec: &Record, root: std::path::PathBuf) -> Result<()> {
        let image = self.image_config(rec).await?;
        let (inner, rec, dir) = (self.inner.clone(), rec.clone(), self.inner.store.bundle_dir(&rec.id));
        let store = self.inner.store.clone();
        blocking(move || {
            let spec = &rec.spec;
            for v in spec.volumes.iter().filter(|v| !v.is_volume()) {
                if !v.source.exists() {
                    return Err(Error::invalid("Volumes", format!("{} does not exist", v.source.display())));
                }
            }
            let volumes = launch::prepare_volumes(spec, &rec.id, &root, &inner.volumes)?;
            let launch = launch::resolve(spec, image.as_ref(), &root, &volumes)?;
            let mut config = bundle::config_for(spec, &rec.name, &rec.id, &launch)?;
            std::fs::create_dir_all(&dir).map_err(Error::io_at("create", &dir))?;
            crate::runtime::network::prepare(&mut config, spec, &rec.name, &rec.id, &store.networks_dir(), store.layout())?;
            bundle::write_config(&dir, &config)?;
            Ok(())
        })
        .await
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
                let not_running =
                    |reason: String| Error::DependencyNotRunning { name: rec.name.to_string(), dependency: d.to_string(), reason };
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

    /// Write (or with None remove) the override of the next stop's timeout.
    async fn set_stop_timeout(&self, rec: &Record, timeout: Option<u32>) -> Result<()> {
        let f = self.inner.store.layout().stop_timeout_file(&rec.id);
        blocking(move || match timeout {
            Some(t) => crate::fsutil::atomic_write(&f, t.to_string().as_bytes()).map_err(Error::io_at("write", &f)),
            None => crate::fsutil::remove_durably(&f).map_err(Error::io_at("remove", &f)),
        })
        .await
    }

    /// Write (or remove) the marker that makes the monitor wait for a first
    /// attach: a marker left by a crashed StartAndAttach must not make a
    /// later start wait.
    async fn set_attach_first(&self, rec: &Record, on: bool) -> Result<()> {
        let f = self.inner.store.layout().run_dir(&rec.id).attach_first();
        blocking(move || {
            if on {
                crate::fsutil::atomic_write(&f, b"").map_err(Error::io_at("write", &f))
            } else {
                crate::fsutil::remove_durably(&f).map_err(Error::io_at("remove", &f))
            }
        })
        .await
    }

    /// ShouldRestart: what podman's restart policy says after this run.
    pub fn should_restart(&self, name: &str) -> Result<bool> {
        Ok(should_restart(&self.get(name)?.record()))
    }
}
