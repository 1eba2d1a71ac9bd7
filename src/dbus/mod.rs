//! berth on D-Bus: thin zbus adapters over the engine. The Manager lives at
//! /org/berth/Berth1 with an ObjectManager; every container gets an object
//! at /org/berth/Berth1/container/<label>, registered and removed here.

mod clients;
mod container;
pub mod daemon;
mod error;
mod kube;
mod manager;
mod options;
mod stdio;

pub use container::ContainerObject;
pub use error::{BusError, BusResult};
pub use manager::Manager;
pub use options::{from_variants, DEFAULT_TIMEOUT};

use crate::engine::Engine;
use crate::model::{EventKind, Result, State};
use crate::store::Record;
use crate::systemd::label;
use std::time::Duration;
use zbus::object_server::SignalEmitter;
use zbus::{Connection, OwnedObjectPath};

pub const BUS_NAME: &str = "org.berth.Berth1";
pub const MANAGER_PATH: &str = "/org/berth/Berth1";

pub fn container_path(name: &str) -> OwnedObjectPath {
    OwnedObjectPath::try_from(format!("{MANAGER_PATH}/container/{}", label::escape(name))).expect("escaped labels are valid")
}

/// Wait's arguments: state names (empty: stopped or exited) and a timeout
/// in microseconds (0: none).
pub(crate) fn wait_args(conditions: &[String], timeout_usec: u64) -> Result<(Vec<State>, Option<Duration>)> {
    let states = conditions.iter().map(|c| c.parse()).collect::<Result<Vec<State>>>()?;
    Ok((states, (timeout_usec > 0).then(|| Duration::from_micros(timeout_usec))))
}

/// The container's description as JSON; secret option values are hidden
/// unless the caller is root.
pub fn info_json(engine: &Engine, rec: &Record, root: bool) -> String {
    let mut info = engine.info(rec);
    if !root {
        info.redact();
    }
    serde_json::to_string_pretty(&info).expect("container descriptions serialize")
}

/// Registers and removes container objects, and forwards engine events.
#[derive(Clone)]
pub struct Objects {
    conn: Connection,
    engine: Engine,
    pub(crate) clients: std::sync::Arc<clients::Clients>,
}

impl Objects {
    fn emitter(&self) -> SignalEmitter<'static> {
        SignalEmitter::new(&self.conn, MANAGER_PATH).expect("valid path").into_owned()
    }

    /// Serve a container's object (idempotent) and follow its changes with
    /// PropertiesChanged.
    pub async fn register(&self, rec: &Record) -> OwnedObjectPath {
        let path = container_path(rec.name.as_str());
        let obj = ContainerObject {
            engine: self.engine.clone(),
            objects: self.clone(),
            name: rec.name.to_string(),
            id: rec.id.clone(),
        };
        match self.conn.object_server().at(&path, obj).await {
            Ok(None) => {
                let _ = Manager::container_new(&self.emitter(), rec.name.as_str(), path.clone()).await;
                self.follow(rec.name.to_string(), path.clone());
            }
            Ok(Some(_)) => {}
            Err(e) => tracing::error!("cannot serve {path}: {e}"),
        }
        path
    }

    pub async fn unregister(&self, name: &str) {
        let path = container_path(name);
        if let Ok(true) = self.conn.object_server().remove::<ContainerObject, _>(&path).await {
            let _ = Manager::container_removed(&self.emitter(), name, path).await;
        }
    }

    /// PropertiesChanged for State, MainPID, ExitCode, StartedAt,
    /// FinishedAt and RestartCount whenever the record changes.
    fn follow(&self, name: String, path: OwnedObjectPath) {
        let Ok(mut rx) = self.engine.changes(&name) else { return };
        let conn = self.conn.clone();
        tokio::spawn(async move {
            let mut last = rx.borrow_and_update().clone();
            while rx.changed().await.is_ok() {
                let rec = rx.borrow_and_update().clone();
                if rec.state == State::Removing {
                    return;
                }
                let Ok(iface) = conn.object_server().interface::<_, ContainerObject>(&path).await else { return };
                let o = iface.get().await;
                let e = iface.signal_emitter();
                if rec.state != last.state {
                    let _ = o.state_changed(e).await;
                    let _ = o.main_p_i_d_changed(e).await;
                }
                if rec.exit_code != last.exit_code {
                    let _ = o.exit_code_changed(e).await;
                }
                if rec.started_at != last.started_at {
                    let _ = o.started_at_changed(e).await;
                }
                if rec.finished_at != last.finished_at {
                    let _ = o.finished_at_changed(e).await;
                }
                if rec.restart_count != last.restart_count {
                    let _ = o.restart_count_changed(e).await;
                }
                last = rec;
            }
        });
    }

    /// Every engine event becomes an Event signal; containers created or
    /// removed by other means than this API get or lose their objects.
    fn forward_events(&self) {
        let mut rx = self.engine.subscribe();
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let ev = match rx.recv().await {
                    Ok(ev) => ev,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!("{n} events were not signalled");
                        continue;
                    }
                    Err(_) => return,
                };
                let _ = Manager::event(&this.emitter(), &ev.name, &ev.id, ev.kind.as_str(), ev.usec).await;
                match ev.kind {
                    EventKind::Create => {
                        if let Ok(rec) = this.engine.inspect(&ev.name) {
                            this.register(&rec).await;
                        }
                    }
                    EventKind::Remove => this.unregister(&ev.name).await,
                    _ => {}
                }
            }
        });
    }
}

impl Objects {
    /// Every ended exec session becomes an ExecDied signal.
    fn forward_exec_died(&self) {
        let mut rx = self.engine.subscribe_exec_died();
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let d = match rx.recv().await {
                    Ok(d) => d,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!("{n} ExecDied signals were not sent");
                        continue;
                    }
                    Err(_) => return,
                };
                let _ = Manager::exec_died(&this.emitter(), &d.name, &d.session, d.exit_code).await;
            }
        });
    }
}

/// Serve the engine on `conn`: every object first, then the bus name.
pub async fn serve(conn: &Connection, engine: Engine) -> zbus::Result<()> {
    let clients = clients::Clients::new(conn).await?;
    let objects = Objects { conn: conn.clone(), engine: engine.clone(), clients };
    let server = conn.object_server();
    server.at(MANAGER_PATH, zbus::fdo::ObjectManager).await?;
    server.at(MANAGER_PATH, Manager { engine: engine.clone(), objects: objects.clone() }).await?;
    for rec in engine.list() {
        objects.register(&rec).await;
    }
    objects.forward_events();
    objects.forward_exec_died();
    conn.request_name(BUS_NAME).await
}
