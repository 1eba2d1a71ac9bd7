//! The connection to PID 1: unit verbs, job waiting and unit watching.
//!
//! One task reads systemd's signals for the whole process. JobRemoved
//! results are handed to whoever waits for that job; a result that arrives
//! before its waiter registered (the job finished while StartTransientUnit's
//! reply was in flight) is kept until claimed, so no completion is missed.
//! When the connection to the bus is lost, every waiting job fails at once,
//! and the task reconnects, subscribes again and asks the engine to re-read
//! every unit ([`UnitEvent::Resync`]), since signals may have been missed.

use super::job::{JobResult, UnitEvent};
use super::label;
use super::props::Properties;
use crate::model::{Error, Result};
use futures_util::stream::SelectAll;
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;
use tokio::sync::{broadcast, oneshot};
use zbus::message::Type as MsgType;
use zbus::{Connection, MatchRule, MessageStream, OwnedObjectPath, OwnedVariant};
use zbus_systemd::systemd1::ManagerProxy;

/// Units of this prefix are watched and their jobs tracked, and so are
/// units named with [`Systemd::watch_unit`] (file-defined containers).
pub const UNIT_PREFIX: &str = "berth-";

/// What berth reads of a unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitStatus {
    pub load_state: String,
    pub active_state: String,
    pub sub_state: String,
    pub freezer_state: String,
    pub result: String,
    pub main_pid: u32,
    pub n_restarts: u32,
    pub exec_main_code: i32,
    pub exec_main_status: i32,
    pub active_enter_usec: u64,
    pub inactive_enter_usec: u64,
    pub memory_max: u64,
    pub cpu_quota_per_sec_usec: u64,
    pub tasks_max: u64,
    pub cpu_weight: u64,
    pub control_group: String,
    /// The container's processes are frozen (berth's pause: see
    /// runtime::cgroup); filled in by the engine's Units, not by PID 1.
    pub payload_frozen: bool,
    pub kill_signal: i32,
    pub fragment_path: String,
}

#[derive(Default)]
struct JobTable {
    waiters: HashMap<String, oneshot::Sender<JobResult>>,
    done: HashMap<String, JobResult>,
    order: VecDeque<String>,
}

const DONE_KEPT: usize = 4096;

impl JobTable {
    /// The connection is gone: every waiter learns it now (its sender is
    /// dropped), and job paths of the old connection mean nothing any more.
    fn fail_all(&mut self) {
        self.waiters.clear();
        self.done.clear();
        self.order.clear();
    }
}

/// One connection to the bus and PID 1's manager on it.
struct Link {
    conn: Connection,
    manager: ManagerProxy<'static>,
}

pub struct Systemd {
    link: RwLock<Arc<Link>>,
    jobs: Arc<Mutex<JobTable>>,
    events: broadcast::Sender<UnitEvent>,
    watched: Arc<RwLock<HashSet<String>>>,
}

pub fn bus_error(e: zbus::Error) -> Error {
    match e {
        zbus::Error::MethodError(name, msg, _) => {
            Error::systemd(format!("{}: {}", name.as_str(), msg.unwrap_or_default()))
        }
        e => Error::systemd(e.to_string()),
    }
}

fn is_error(e: &zbus::Error, name: &str) -> bool {
    matches!(e, zbus::Error::MethodError(n, _, _) if n.as_str() == name)
}

fn get<T: TryFrom<OwnedVariant>>(m: &mut HashMap<String, OwnedVariant>, k: &str) -> Option<T> {
    m.remove(k).and_then(|v| T::try_from(v).ok())
}

type Signals = SelectAll<MessageStream>;

/// Connect, subscribe to PID 1's signals (the match rules are in place
/// before this returns) and Subscribe(), without which PID 1 sends no
/// PropertiesChanged for units.
async fn open_link() -> Result<(Link, Signals)> {
    let conn = Connection::system().await.map_err(bus_error)?;
    let manager = ManagerProxy::new(&conn).await.map_err(bus_error)?;
    let rules = [
        MatchRule::builder()
            .msg_type(MsgType::Signal)
            .sender("org.freedesktop.systemd1")
            .interface("org.freedesktop.systemd1.Manager")
            .build(),
        MatchRule::builder()
            .msg_type(MsgType::Signal)
            .sender("org.freedesktop.systemd1")
            .interface("org.freedesktop.DBus.Properties")
            .member("PropertiesChanged")
            .path_namespace("/org/freedesktop/systemd1/unit")
            .build(),
    ];
    let mut streams = Vec::new();
    for r in rules {
        let r = r.map_err(bus_error)?;
        streams.push(MessageStream::for_match_rule(r, &conn, Some(100_000.try_into().expect("nonzero"))).await.map_err(bus_error)?);
    }
    manager.subscribe().await.map_err(bus_error)?;
    Ok((Link { conn, manager }, futures_util::stream::select_all(streams)))
}

impl Systemd {
    /// Connect to the system bus, subscribe to PID 1's signals and start the
    /// task that reads them (and reconnects when the bus goes away).
    pub async fn connect() -> Result<Arc<Self>> {
        let (link, signals) = open_link().await?;
        let (events, _) = broadcast::channel(4096);
        let s = Arc::new(Systemd {
            link: RwLock::new(Arc::new(link)),
            jobs: Arc::default(),
            events,
            watched: Arc::default(),
        });
        tokio::spawn(read_signals(Arc::downgrade(&s), signals));
        Ok(s)
    }

    fn link(&self) -> Arc<Link> {
        self.link.read().unwrap().clone()
    }

    fn manager(&self) -> ManagerProxy<'static> {
        self.link().manager.clone()
    }

    pub fn connection(&self) -> Connection {
        self.link().conn.clone()
    }

    /// Units whose state may have changed, reloads and resyncs.
    pub fn watch(&self) -> broadcast::Receiver<UnitEvent> {
        self.events.subscribe()
    }

    /// Follow a unit outside berth's prefix too.
    pub fn watch_unit(&self, unit: &str) {
        self.watched.write().unwrap().insert(unit.to_string());
    }

    /// The units followed outside berth's prefix.
    pub fn watched(&self) -> Vec<String> {
        self.watched.read().unwrap().iter().cloned().collect()
    }

    async fn wait_job(&self, job: OwnedObjectPath) -> Result<JobResult> {
        let rx = {
            let mut t = self.jobs.lock().unwrap();
            if let Some(r) = t.done.remove(job.as_str()) {
                return Ok(r);
            }
            let (tx, rx) = oneshot::channel();
            t.waiters.insert(job.to_string(), tx);
            rx
        };
        rx.await.map_err(|_| Error::systemd("lost the connection to systemd while waiting for a job"))
    }

    /// StartTransientUnit, then wait for the start job's result.
    pub async fn start_transient(&self, unit: &str, props: Properties) -> Result<JobResult> {
        let job = self
            .manager()
            .start_transient_unit(unit.into(), "fail".into(), props.into_vec(), vec![])
            .await
            .map_err(bus_error)?;
        self.wait_job(job).await
    }

    /// StartTransientUnit of a timer with its service as an auxiliary unit
    /// (as systemd-run makes them), then wait for the timer's start job.
    pub async fn start_timer(&self, t: &super::HealthTimer) -> Result<JobResult> {
        let aux = vec![(t.service.clone(), t.service_properties().into_vec())];
        let job = self
            .manager()
            .start_transient_unit(t.timer.clone(), "fail".into(), t.timer_properties().into_vec(), aux)
            .await
            .map_err(bus_error)?;
        self.wait_job(job).await
    }

    /// The unit's ActiveState, or None when systemd has no such unit loaded.
    pub async fn active_state(&self, unit: &str) -> Result<Option<String>> {
        let link = self.link();
        let path = match link.manager.get_unit(unit.into()).await {
            Ok(p) => p,
            Err(e) if is_error(&e, "org.freedesktop.systemd1.NoSuchUnit") => return Ok(None),
            Err(e) => return Err(bus_error(e)),
        };
        let props = zbus::fdo::PropertiesProxy::builder(&link.conn)
            .destination("org.freedesktop.systemd1")
            .path(path)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .map_err(bus_error)?;
        let iface = zbus::names::InterfaceName::from_static_str("org.freedesktop.systemd1.Unit").expect("a valid name");
        let mut u = props.get_all(iface).await.map_err(|e| bus_error(e.into()))?;
        let load_state: String = get(&mut u, "LoadState").unwrap_or_default();
        if load_state == "not-found" {
            return Ok(None);
        }
        Ok(Some(get(&mut u, "ActiveState").unwrap_or_default()))
    }

    pub async fn start(&self, unit: &str) -> Result<JobResult> {
        let job = self.manager().start_unit(unit.into(), "replace".into()).await.map_err(bus_error)?;
        self.wait_job(job).await
    }

    /// StopUnit and wait; a unit that is not loaded is already stopped.
    pub async fn stop(&self, unit: &str) -> Result<JobResult> {
        match self.manager().stop_unit(unit.into(), "replace".into()).await {
            Ok(job) => self.wait_job(job).await,
            Err(e) if is_error(&e, "org.freedesktop.systemd1.NoSuchUnit") => Ok(JobResult::Done),
            Err(e) => Err(bus_error(e)),
        }
    }

    pub async fn kill(&self, unit: &str, whom: &str, signal: i32) -> Result<()> {
        self.manager().kill_unit(unit.into(), whom.into(), signal).await.map_err(bus_error)
    }

    pub async fn freeze(&self, unit: &str) -> Result<()> {
        self.manager().freeze_unit(unit.into()).await.map_err(bus_error)
    }

    pub async fn thaw(&self, unit: &str) -> Result<()> {
        self.manager().thaw_unit(unit.into()).await.map_err(bus_error)
    }

    pub async fn set_properties(&self, unit: &str, props: Properties) -> Result<()> {
        self.manager().set_unit_properties(unit.into(), true, props.into_vec()).await.map_err(bus_error)
    }

    /// ResetFailedUnit; a unit that is not loaded has nothing to reset.
    pub async fn reset_failed(&self, unit: &str) -> Result<()> {
        match self.manager().reset_failed_unit(unit.into()).await {
            Err(e) if !is_error(&e, "org.freedesktop.systemd1.NoSuchUnit") => Err(bus_error(e)),
            _ => Ok(()),
        }
    }

    /// The unit's state, or None when systemd has no such unit loaded.
    pub async fn status(&self, unit: &str) -> Result<Option<UnitStatus>> {
        let link = self.link();
        let path = match link.manager.get_unit(unit.into()).await {
            Ok(p) => p,
            Err(e) if is_error(&e, "org.freedesktop.systemd1.NoSuchUnit") => return Ok(None),
            Err(e) => return Err(bus_error(e)),
        };
        let props = zbus::fdo::PropertiesProxy::builder(&link.conn)            .destination("org.freedesktop.systemd1")
            .path(path)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .map_err(bus_error)?;
        let iface = |n: &'static str| zbus::names::InterfaceName::from_static_str(n).unwrap();
        let mut u = props.get_all(iface("org.freedesktop.systemd1.Unit")).await.map_err(|e| bus_error(e.into()))?;
        let load_state: String = get(&mut u, "LoadState").unwrap_or_default();
        if load_state == "not-found" {
            return Ok(None);
        }
        let mut s = props.get_all(iface("org.freedesktop.systemd1.Service")).await.map_err(|e| bus_error(e.into()))?;
        Ok(Some(UnitStatus {
            load_state,
            active_state: get(&mut u, "ActiveState").unwrap_or_default(),
            sub_state: get(&mut u, "SubState").unwrap_or_default(),
            freezer_state: get(&mut u, "FreezerState").unwrap_or_default(),
            active_enter_usec: get(&mut u, "ActiveEnterTimestamp").unwrap_or_default(),
            inactive_enter_usec: get(&mut u, "InactiveEnterTimestamp").unwrap_or_default(),
            fragment_path: get(&mut u, "FragmentPath").unwrap_or_default(),
            result: get(&mut s, "Result").unwrap_or_default(),
            main_pid: get(&mut s, "MainPID").unwrap_or_default(),
            n_restarts: get(&mut s, "NRestarts").unwrap_or_default(),
            exec_main_code: get(&mut s, "ExecMainCode").unwrap_or_default(),
            exec_main_status: get(&mut s, "ExecMainStatus").unwrap_or_default(),
            memory_max: get(&mut s, "MemoryMax").unwrap_or_default(),
            cpu_quota_per_sec_usec: get(&mut s, "CPUQuotaPerSecUSec").unwrap_or_default(),
            tasks_max: get(&mut s, "TasksMax").unwrap_or_default(),
            cpu_weight: get(&mut s, "CPUWeight").unwrap_or_default(),
            control_group: get(&mut s, "ControlGroup").unwrap_or_default(),
            payload_frozen: false,
            kill_signal: get(&mut s, "KillSignal").unwrap_or_default(),
        }))
    }

    /// Loaded units matching a glob, with their active state.
    pub async fn list(&self, pattern: &str) -> Result<Vec<(String, String)>> {
        let units = self.manager().list_units_by_patterns(vec![], vec![pattern.into()]).await.map_err(bus_error)?;
        Ok(units.into_iter().map(|u| (u.0, u.3)).collect())
    }
}

/// Read PID 1's signals until the connection ends, then fail the waiting
/// jobs, reconnect and resync; ends when the Systemd is dropped.
async fn read_signals(me: Weak<Systemd>, mut signals: Signals) {
    loop {
        loop {
            let msg = match signals.next().await {
                Some(Ok(m)) => m,
                Some(Err(e)) => {
                    tracing::warn!("reading systemd's signals failed: {e}");
                    break;
                }
                None => break,
            };
            let Some(sd) = me.upgrade() else { return };
            let is_ours = |u: &str| u.starts_with(UNIT_PREFIX) || sd.watched.read().unwrap().contains(u);
            dispatch(&msg, &sd.jobs, &sd.events, &is_ours);
        }
        let Some(sd) = me.upgrade() else { return };
        tracing::warn!("lost the connection to systemd; failing waiting jobs and reconnecting");
        sd.jobs.lock().unwrap().fail_all();
        drop(sd);
        let mut backoff = Duration::from_millis(50);
        signals = loop {
            if me.strong_count() == 0 {
                return;
            }
            match open_link().await {
                Ok((link, s)) => {
                    let Some(sd) = me.upgrade() else { return };
                    *sd.link.write().unwrap() = Arc::new(link);
                    // Anything may have happened while we were away.
                    let _ = sd.events.send(UnitEvent::Resync);
                    tracing::info!("reconnected to systemd");
                    break s;
                }
                Err(e) => {
                    tracing::warn!("cannot reconnect to systemd yet: {e}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        };
    }
}

fn dispatch(msg: &zbus::Message, jobs: &Mutex<JobTable>, tx: &broadcast::Sender<UnitEvent>, is_ours: &dyn Fn(&str) -> bool) {
    let h = msg.header();
    let member = h.member().map(|m| m.as_str()).unwrap_or("");
    let unit = match member {
        "JobRemoved" => {
            let Ok((_, job, unit, result)) = msg.body().deserialize::<(u32, OwnedObjectPath, String, String)>() else {
                return;
            };
            if !is_ours(&unit) {
                return;
            }
            let result = JobResult::parse(&result);
            let mut t = jobs.lock().unwrap();
            match t.waiters.remove(job.as_str()) {
                Some(w) => {
                    // The waiter may have given up (its call was canceled).
                    let _ = w.send(result);
                }
                None => {
                    t.done.insert(job.to_string(), result);
                    t.order.push_back(job.to_string());
                    while t.order.len() > DONE_KEPT {
                        let old = t.order.pop_front().unwrap();
                        t.done.remove(&old);
                    }
                }
            }
            unit
        }
        "Reloading" => {
            // Reloading(false): the reload is over; generated units changed.
            if let Ok(false) = msg.body().deserialize::<bool>() {
                let _ = tx.send(UnitEvent::Reloaded);
            }
            return;
        }
        "UnitRemoved" | "UnitNew" => match msg.body().deserialize::<(String, OwnedObjectPath)>() {
            Ok((unit, _)) => unit,
            Err(_) => return,
        },
        "PropertiesChanged" => {
            let Some(path) = h.path() else { return };
            match path.as_str().rsplit('/').next().and_then(label::unescape) {
                Some(u) => u,
                None => return,
            }
        }
        _ => return,
    };
    if is_ours(&unit) {
        // No receiver yet is not an error.
        let _ = tx.send(UnitEvent::Changed(unit));
    }
}
