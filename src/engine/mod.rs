//! The only owner of container state: a registry with one lock per
//! container, the libpod verbs, start-up reconciliation and events.
//!
//! Every verb follows the same shape: take the container's lock, refresh it
//! from systemd, check the state guard, act, save the record, emit events.
//! Each step that changes systemd, the runtime or the disk is ordered so
//! that berthd killed right after it leaves a state the next start
//! reconciles (see reconcile.rs); `crash_point` marks those steps, and the
//! unit tests stop a verb at each of them.

mod crash;
#[cfg(test)]
mod fake;
mod files;
mod health;
mod images;
mod kube;
pub mod journal;
pub mod logs;
mod monitors;
mod network;
pub(crate) mod reconcile;
mod roots;
#[cfg(test)]
mod tests;
mod units;
mod verbs;
mod volumes;

pub use reconcile::{phase, reconcile, UnitPhase};
pub use roots::{Mounts, Overlay};
pub use units::{restart_setting, unit_config, KillWhom, Units};
pub use monitors::{Answer, Monitors, SocketMonitors};
pub use verbs::{should_restart, AttachOptions, ExecDied, DEFAULT_WAIT};

use crate::model::{
    ContainerInfo, ContainerName, ContainerSpec, Error, Event, EventKind, EventOptions, LogOptions, OptionValue, Result,
    State, StateInfo,
};
use crate::image::{ImageStore, VolumeStore};
use crate::store::{Record, Store};
use crate::systemd::UnitEvent;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex, RwLock};
use tokio::sync::{broadcast, watch, Mutex};

/// Settings of one engine.
#[derive(Clone)]
pub struct Config {
    pub state_root: PathBuf,
    pub run_root: PathBuf,
    /// The berth-monitor binary that units run.
    pub monitor: PathBuf,
    /// Where berth-generator records file-defined containers (None: none).
    pub defined_dir: Option<PathBuf>,
    /// How the engine reaches containers' monitors.
    pub monitors: Arc<dyn Monitors>,
    /// How containers' roots are mounted ([`Overlay`] outside of tests).
    pub mounts: Arc<dyn Mounts>,
    #[cfg(test)]
    pub(crate) crash: Option<Arc<crash::CrashPlan>>,
}

impl Config {
    pub fn new(state_root: impl Into<PathBuf>, run_root: impl Into<PathBuf>, monitor: impl Into<PathBuf>) -> Self {
        Config {
            state_root: state_root.into(),
            run_root: run_root.into(),
            monitor: monitor.into(),
            defined_dir: None,
            monitors: Arc::new(SocketMonitors),
            mounts: Arc::new(Overlay),
            #[cfg(test)]
            crash: None,
        }
    }
}

/// Where berth-generator writes, under systemd's normal generator directory.
pub const DEFINED_DIR: &str = "/run/systemd/generator/berth";

/// How many containers start-up reconciliation reads from systemd at once.
const RECONCILE_PARALLEL: usize = 32;

/// One container: its lock, its record and a channel that tells waiters
/// about every change of the record.
pub(crate) struct Container {
    pub(crate) name: ContainerName,
    unit: String,
    op: Arc<Mutex<()>>,
    rec: StdMutex<Record>,
    tx: watch::Sender<Record>,
    sync_queued: AtomicBool,
    /// Calls using a stopped container's root (copies, stat), and whether
    /// one of them mounted it: the last one unmounts it then, unless
    /// something else needs it. Changed under the lock only.
    pub(crate) root_users: std::sync::atomic::AtomicUsize,
    pub(crate) root_mounted_for_files: AtomicBool,
    /// One health check at a time reads and writes its results.
    health: Mutex<()>,
    /// The results as last written to health.json (berthd is its only
    /// writer), so that reading them never waits on the disk.
    health_state: StdMutex<Option<crate::model::HealthState>>,
    /// A task runs its health checks until its unit is ready (NotifyHealthy).
    ready_watch: AtomicBool,
}

impl Container {
    fn new(rec: Record) -> Arc<Self> {
        let (tx, _) = watch::channel(rec.clone());
        Arc::new(Container {
            name: rec.name.clone(),
            unit: rec.unit_name(),
            op: Arc::new(Mutex::new(())),
            rec: StdMutex::new(rec),
            tx,
            sync_queued: AtomicBool::new(false),
            root_users: std::sync::atomic::AtomicUsize::new(0),
            root_mounted_for_files: AtomicBool::new(false),
            health: Mutex::new(()),
            health_state: StdMutex::new(None),
            ready_watch: AtomicBool::new(false),
        })
    }

    pub(crate) fn record(&self) -> Record {
        self.rec.lock().unwrap().clone()
    }
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) networks: crate::network::Networks,
    pub(crate) images: ImageStore,
    pub(crate) volumes: VolumeStore,
    /// Images containers were started from, by id (see roots::pinned).
    pub(crate) image_cache: StdMutex<std::collections::HashMap<String, Arc<roots::Pinned>>>,
    pub(crate) units: Arc<dyn Units>,
    pub(crate) config: Config,
    registry: RwLock<BTreeMap<String, Arc<Container>>>,
    events: broadcast::Sender<Event>,
    exec_died: broadcast::Sender<ExecDied>,
}

/// A handle on the engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

/// Run blocking file work (writes, fsyncs, scans) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking file work panicked")
}

impl Engine {
    /// Open the store, load every container, finish removals that a crash
    /// interrupted and reconcile the rest with systemd, then follow
    /// systemd's unit changes.
    pub async fn open(config: Config, units: Arc<dyn Units>) -> Result<Engine> {
        let (state_root, run_root) = (config.state_root.clone(), config.run_root.clone());
        let (store, images, volumes) = blocking(move || -> Result<_> {
            let store = Store::open(state_root, run_root)?;
            let layout = store.state_layout();
            let images = ImageStore::open(layout.images_dir())?;
            let volumes = VolumeStore::open(layout.volumes_dir())?;
            Ok((store, images, volumes))
        })
        .await?;
        let (dir, run) = (store.networks_dir(), store.layout().network_dir());
        let networks = blocking(move || crate::network::Networks::open(dir, run))
            .await
            .map_err(|e| Error::Network { action: "open the network store", message: e.to_string() })?;
        let (events, _) = broadcast::channel(4096);
        let watch = units.watch();
        let inner = Inner {
            store: store.clone(),
            images,
            volumes,
            image_cache: StdMutex::default(),
            networks,
            units,
            config,
            registry: RwLock::default(),
            events,
            exec_died: broadcast::channel(1024).0,
        };
        let engine = Engine { inner: Arc::new(inner) };
        let records = blocking(move || -> Result<Vec<_>> {
            let recs = store.load_all()?;
            Ok(recs.into_iter().map(|r| (health::read_health(&store, &r), r)).collect())
        })
        .await?;
        {
            let mut reg = engine.inner.registry.write().unwrap();
            for (health, rec) in records {
                let c = Container::new(rec);
                *c.health_state.lock().unwrap() = health;
                reg.insert(c.name.to_string(), c);
            }
        }
        engine.sync_defined().await?;
        engine.reconcile_all().await?;
        engine.sweep_roots().await?;
        engine.follow(watch);
        engine.watch_running_sessions().await;
        Ok(engine)
    }

    /// Bring every container in line with systemd, asking PID 1 only about
    /// units it has loaded (one call lists them), a few at a time.
    async fn reconcile_all(&self) -> Result<()> {
        let loaded = self.inner.units.loaded().await?;
        let containers = self.containers();
        for chunk in containers.chunks(RECONCILE_PARALLEL) {
            let jobs = chunk.iter().map(|c| {
                let (engine, c, loaded) = (self.clone(), c.clone(), &loaded);
                async move {
                    let _g = c.op.lock().await;
                    if c.record().state == State::Removing {
                        return engine.finish_removal(&c).await;
                    }
                    engine.refresh_with(&c, loaded.contains(&c.unit)).await.map(drop)
                }
            });
            for r in futures_util::future::join_all(jobs).await {
                r?;
            }
        }
        Ok(())
    }

    /// Take in the containers berth-generator defined from `.container`
    /// files: new ones are added, changed specs updated, and those whose
    /// file is gone forgotten.
    pub async fn sync_defined(&self) -> Result<()> {
        let Some(dir) = self.inner.config.defined_dir.clone() else { return Ok(()) };
        let defined = blocking(move || read_defined(&dir)).await;
        for c in self.containers() {
            let rec = c.record();
            if rec.source.is_some() && !defined.contains_key(rec.name.as_str()) {
                // Its layer goes with it, unless the unit still runs on it.
                if rec.spec.image.is_some() && !self.root_mounted(&rec.id).await? {
                    self.delete_layer(&rec).await?;
                }
                self.remove_artifacts(&rec.id).await?;
                let (store, name) = (self.inner.store.clone(), rec.name.clone());
                blocking(move || store.delete(&name)).await?;
                self.unregister(rec.name.as_str());
                self.emit(&rec, EventKind::Remove);
            }
        }
        for (name, d) in defined {
            self.inner.units.watch_unit(&d.unit);
            match self.get(&name) {
                Ok(c) => {
                    let _g = c.op.lock().await;
                    let mut rec = c.record();
                    if rec.source.is_none() {
                        tracing::warn!("{} defines {name}, which berth already has; ignored", d.source.display());
                        continue;
                    }
                    let before = rec.clone();
                    rec.spec = d.spec;
                    rec.source = Some(d.source);
                    self.learn_image(&mut rec).await;
                    if rec != before {
                        self.commit(&c, rec.clone()).await?;
                        self.emit(&rec, EventKind::Update);
                    }
                }
                Err(_) => {
                    let mut rec = Record::new(d.name, d.id, d.spec);
                    rec.unit = Some(d.unit);
                    rec.source = Some(d.source);
                    self.learn_image(&mut rec).await;
                    self.save(&rec).await?;
                    self.inner.registry.write().unwrap().insert(name, Container::new(rec.clone()));
                    self.emit(&rec, EventKind::Create);
                }
            }
        }
        Ok(())
    }

    fn follow(&self, mut watch: broadcast::Receiver<UnitEvent>) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                let ev = watch.recv().await;
                let Some(inner) = weak.upgrade() else { return };
                let engine = Engine { inner };
                let targets: Vec<Arc<Container>> = match ev {
                    Ok(UnitEvent::Changed(u)) => match crate::systemd::timer::health_unit_owner(&u) {
                        // A health timer or service changed: its container's
                        // refresh keeps the timer in line.
                        Some(name) => engine.get(name).into_iter().collect(),
                        None => engine.containers().into_iter().filter(|c| c.unit == u).collect(),
                    },
                    Ok(UnitEvent::Reloaded) => {
                        if let Err(e) = engine.sync_defined().await {
                            tracing::warn!("cannot take in file-defined containers: {e}");
                        }
                        engine.containers()
                    }
                    // Signals were missed: re-read every container.
                    Ok(UnitEvent::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => engine.containers(),
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                for c in targets {
                    engine.queue_sync(c);
                }
            }
        });
    }

    /// Re-read a container from systemd soon, at most once at a time.
    fn queue_sync(&self, c: Arc<Container>) {
        if c.sync_queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let engine = self.clone();
        tokio::spawn(async move {
            let _g = c.op.lock().await;
            c.sync_queued.store(false, Ordering::Release);
            if let Err(e) = engine.refresh(&c).await {
                tracing::warn!(container = %c.name, "cannot sync with systemd: {e}");
            }
        });
    }

    pub(crate) fn containers(&self) -> Vec<Arc<Container>> {
        self.inner.registry.read().unwrap().values().cloned().collect()
    }

    pub(crate) fn get(&self, name: &str) -> Result<Arc<Container>> {
        self.inner
            .registry
            .read()
            .unwrap()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NoSuchContainer { name: name.to_string() })
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Events of every container, as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    pub(crate) fn emit(&self, rec: &Record, kind: EventKind) {
        let died = kind == EventKind::Died;
        let ev = Event {
            name: rec.name.to_string(),
            id: rec.id.clone(),
            kind,
            // A death seen late (berthd was down) keeps the time it happened.
            usec: if died && rec.finished_at > 0 { rec.finished_at } else { crate::model::now_usec() },
            exit_code: if died { rec.exit_code } else { None },
            health_status: None,
        };
        self.send_event(ev);
    }

    /// A `health_status` event with the new status.
    pub(crate) fn emit_health(&self, rec: &Record, status: crate::model::HealthStatus) {
        let ev = Event {
            name: rec.name.to_string(),
            id: rec.id.clone(),
            kind: EventKind::HealthStatus,
            usec: crate::model::now_usec(),
            exit_code: None,
            health_status: Some(status),
        };
        self.send_event(ev);
    }

    fn send_event(&self, ev: Event) {
        // The journal first: a reader that missed the signal finds it there.
        journal::record(&ev);
        // Nobody listening is fine.
        let _ = self.inner.events.send(ev);
    }

    /// Write a record durably, off the async workers.
    pub(crate) async fn save(&self, rec: &Record) -> Result<()> {
        let (store, rec) = (self.inner.store.clone(), rec.clone());
        blocking(move || store.save(&rec)).await
    }

    /// Store a record and publish it (to waiters and property watchers).
    pub(crate) async fn commit(&self, c: &Container, rec: Record) -> Result<()> {
        self.save(&rec).await?;
        *c.rec.lock().unwrap() = rec.clone();
        c.tx.send_replace(rec);
        Ok(())
    }

    /// Follow systemd and the exit file; the caller holds the lock.
    pub(crate) async fn refresh(&self, c: &Container) -> Result<Record> {
        self.refresh_with(c, true).await
    }

    /// As refresh; `maybe_loaded` false says systemd has no unit of it
    /// loaded (known from one listing), which saves asking.
    async fn refresh_with(&self, c: &Container, maybe_loaded: bool) -> Result<Record> {
        let mut rec = c.record();
        if rec.state == State::Removing {
            return Ok(rec);
        }
        let unit = if maybe_loaded { self.inner.units.status(&rec.unit_name()).await? } else { None };
        let (store, id) = (self.inner.store.clone(), rec.id.clone());
        let exit = blocking(move || store.read_exit(&id)).await?;
        let was = rec.state;
        let out = reconcile(&mut rec, unit.as_ref(), exit.as_ref());
        // Only a failed unit (not one waiting to restart: resetting it would
        // also reset its start limit and so the on-failure:N count).
        if out.died && unit.as_ref().is_some_and(|u| u.active_state == "failed") {
            // A failed unit keeps its name until reset; reset it before
            // anyone learns that the container ended.
            self.inner.units.reset_failed(&rec.unit_name()).await?;
        }
        if rec.state.is_live() {
            if let Some(u) = &unit {
                self.reapply_resources(&rec, u).await;
            }
        }
        if out.changed {
            self.commit(c, rec.clone()).await?;
        }
        if out.died {
            self.emit(&rec, EventKind::Died);
        } else if out.changed && rec.state == State::Running && !was.is_live() {
            // systemd started it: at boot or by hand (first run), or by Restart=.
            let first = matches!(was, State::Configured | State::Created);
            self.emit(&rec, if first { EventKind::Start } else { EventKind::Restart });
            self.health_new_run(c, &rec).await;
        }
        if rec.spec.health.is_some() {
            self.follow_health(c, &rec, unit.as_ref()).await;
        }
        Ok(rec)
    }

    /// An Update stores the limits before applying them; berthd killed in
    /// between leaves the unit with the old ones, which this puts right.
    async fn reapply_resources(&self, rec: &Record, u: &crate::systemd::UnitStatus) {
        let r = &rec.spec.resources;
        let quota = r.cpu_quota.map(|q| q as u64 * 10_000);
        let differs = r.memory_max.is_some_and(|m| m != u.memory_max)
            || r.tasks_max.is_some_and(|t| t != u.tasks_max)
            || r.cpu_weight.is_some_and(|w| w != u.cpu_weight)
            || quota.is_some_and(|q| q != u.cpu_quota_per_sec_usec);
        if differs {
            if let Err(e) = self.inner.units.set_resources(&rec.unit_name(), r).await {
                tracing::warn!(container = %rec.name, "cannot apply its resource limits: {e}");
            }
        }
    }

    /// CreateContainer: validate, store, and register a configured
    /// container; an empty name gets a generated one.
    pub async fn create(&self, name: &str, options: &BTreeMap<String, OptionValue>) -> Result<Record> {
        let name = if name.is_empty() { self.free_name() } else { ContainerName::new(name)? };
        let spec = ContainerSpec::from_options(options)?;
        let mut spec = self.check_network(spec).await?;
        for d in &spec.dependencies {
            if *d == name {
                return Err(Error::invalid("Dependencies", "a container cannot depend on itself"));
            }
            self.get(d.as_str()).map_err(|_| Error::invalid("Dependencies", format!("no such container: {d}")))?;
        }
        let image_id = self.adopt_image(&mut spec, options).await?;
        let mut rec = Record::new(name.clone(), crate::model::new_id(), spec);
        rec.image_id = image_id;
        let c = Container::new(rec.clone());
        {
            let mut reg = self.inner.registry.write().unwrap();
            if reg.contains_key(name.as_str()) {
                return Err(Error::ContainerExists { name: name.to_string() });
            }
            reg.insert(name.to_string(), c);
        }
        if let Err(e) = self.save(&rec).await {
            self.inner.registry.write().unwrap().remove(name.as_str());
            return Err(e);
        }
        self.emit(&rec, EventKind::Create);
        Ok(rec)
    }

    /// A generated name no container has (podman's `adjective_noun`, with a
    /// number once those run out).
    fn free_name(&self) -> ContainerName {
        let reg = self.inner.registry.read().unwrap();
        for i in 0u32.. {
            let mut r = [0u8; 8];
            // A failing random source only makes collisions likelier.
            let _ = getrandom::fill(&mut r);
            let (a, b) = r.split_at(4);
            let base = crate::model::generated_name(
                u32::from_le_bytes(a.try_into().expect("4 bytes")),
                u32::from_le_bytes(b.try_into().expect("4 bytes")),
            );
            let name = if i < 16 {
                base
            } else {
                ContainerName::new(&format!("{base}{i}")).expect("generated names are valid")
            };
            if !reg.contains_key(name.as_str()) {
                return name;
            }
        }
        unreachable!("u32 names run out only after 4 billion containers")
    }

    /// (name, id, state) of every container, ordered by name; cheaper than
    /// [`Engine::list`] for ListContainers.
    pub fn list_brief(&self) -> Vec<(String, String, State)> {
        self.containers()
            .iter()
            .map(|c| {
                let r = c.rec.lock().unwrap();
                (r.name.to_string(), r.id.clone(), r.state)
            })
            .collect()
    }

    /// Every container's record, ordered by name.
    pub fn list(&self) -> Vec<Record> {
        self.containers().iter().map(|c| c.record()).collect()
    }

    pub fn inspect(&self, name: &str) -> Result<Record> {
        Ok(self.get(name)?.record())
    }

    /// The container's description, as InspectContainer sends it.
    pub fn info(&self, rec: &Record) -> ContainerInfo {
        let (networks, ports) = self.network_status(rec);
        ContainerInfo {
            id: rec.id.clone(),
            name: rec.name.to_string(),
            created: rec.created_at,
            state: StateInfo {
                status: rec.state,
                running: rec.state == State::Running,
                paused: rec.state == State::Paused,
                pid: self.main_pid(rec),
                exit_code: rec.exit_code.unwrap_or(-1),
                started_at: rec.started_at,
                finished_at: rec.finished_at,
                restart_count: rec.restart_count,
                stopped_by_user: rec.stopped_by_user,
                health: rec.spec.health.as_ref().map(|_| self.health_of(rec)),
            },
            unit: rec.unit_name(),
            source: rec.source.clone(),
            should_restart: should_restart(rec),
            image: rec.image_id.clone(),
            image_name: rec.spec.image.clone(),
            mount_count: rec.mounts,
            spec: rec.spec.clone(),
            networks,
            ports,
        }
    }

    /// The container's init on the host, while it runs.
    pub fn main_pid(&self, rec: &Record) -> u32 {
        if !rec.state.is_live() {
            return 0;
        }
        let pid_file = self.inner.store.layout().pid_file(&rec.id);
        std::fs::read_to_string(pid_file).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
    }

    /// Changes of one container's record, for property notifications.
    pub fn changes(&self, name: &str) -> Result<watch::Receiver<Record>> {
        Ok(self.get(name)?.tx.subscribe())
    }

    /// Write events to `out`, one JSON object per line: the journal's
    /// history first, then (with follow) live ones. The live stream is
    /// opened before the history is read, and events already sent are
    /// skipped, so none is missed or sent twice.
    pub async fn events(&self, o: &EventOptions, out: std::fs::File) -> Result<()> {
        let mut live = self.subscribe();
        let history: Vec<Event> = crate::journal::event_history(o.since, o.until, o.container.clone())
            .await?
            .iter()
            .filter_map(|e| e.to_event())
            .collect();
        let mut out = logs::FdWriter::new(out)?;
        let mut seen = HashSet::new();
        for e in history.iter().filter(|e| o.wants(e)) {
            if !out.send(event_line(e)).await {
                return Ok(());
            }
            seen.insert((e.usec, e.name.clone(), e.kind));
        }
        if !o.follow {
            return Ok(());
        }
        loop {
            let ev = tokio::select! {
                ev = live.recv() => ev,
                () = out.closed() => return Ok(()),
            };
            let ev = match ev {
                Ok(ev) => ev,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("an event reader missed {n} events");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            };
            if o.until.is_some_and(|u| ev.usec >= u) {
                return Ok(());
            }
            if o.wants(&ev) && !seen.contains(&(ev.usec, ev.name.clone(), ev.kind)) && !out.send(event_line(&ev)).await {
                return Ok(());
            }
        }
    }

    /// Write the container's output to `out`; with `follow`, until the
    /// container stops (lines still in flight are drained, none lost).
    pub async fn logs(&self, name: &str, o: &LogOptions, out: std::fs::File) -> Result<()> {
        let c = self.get(name)?;
        logs::stream(&c.record().id, c.tx.subscribe(), o, out).await
    }

    /// Containers that name `name` as a dependency.
    pub(crate) fn dependents(&self, name: &ContainerName) -> Vec<String> {
        self.list().into_iter().filter(|r| r.spec.dependencies.contains(name)).map(|r| r.name.to_string()).collect()
    }

    pub(crate) fn unregister(&self, name: &str) {
        self.inner.registry.write().unwrap().remove(name);
    }
}

/// Read berth-generator's records of file-defined containers; unreadable
/// ones are reported and skipped (the generator reported their files).
fn read_defined(dir: &std::path::Path) -> BTreeMap<String, crate::model::FileDefined> {
    let mut defined = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return defined };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        match std::fs::read(&p).ok().and_then(|d| serde_json::from_slice::<crate::model::FileDefined>(&d).ok()) {
            Some(d) => {
                defined.insert(d.name.to_string(), d);
            }
            None => tracing::warn!("ignoring unreadable {}", p.display()),
        }
    }
    defined
}

/// One event as a JSON line.
fn event_line(ev: &Event) -> Vec<u8> {
    let mut line = serde_json::to_vec(ev).expect("events serialize");
    line.push(b'\n');
    line
}
