//! An in-memory systemd for the engine's unit tests: units start, stop,
//! freeze and die as PID 1 and berth-monitor would make them, and a
//! container's exit is written to its exit file as the monitor writes it.
//! It outlives the engines a test opens, as systemd outlives berthd. It
//! also plays the containers' monitors: attach calls get one end of a
//! socket pair, and an exec start is recorded in the session's files as
//! berth-monitor records it.

use super::monitors::{Answer, Monitors};
use super::roots::Mounts;
use super::units::{KillWhom, Units};
use crate::model::{now_usec, Error, Resources, Result};
use crate::runtime::monitor::control::{Refusal, Reply, Request};
use crate::runtime::seqpacket;
use crate::store::{ExecStarted, ExitRecord, RunDir, SessionFiles};
use crate::systemd::{HealthTimer, JobResult, UnitConfig, UnitEvent, UnitStatus};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashSet};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::broadcast;

#[derive(Debug, Clone)]
pub(crate) struct FakeUnit {
    /// "active", "activating" or "failed".
    pub active: &'static str,
    pub frozen: bool,
    pub exit_file: PathBuf,
    pub resources: Resources,
    pub exec_main_status: i32,
    pub started_at: u64,
}

#[derive(Default)]
struct World {
    units: BTreeMap<String, FakeUnit>,
    /// Health-check timers (and their services), by name: the unit each is
    /// bound to.
    timers: BTreeMap<String, String>,
    /// The next start fails: the container exits with this code at once.
    fail_next_start: Option<i32>,
    /// The next start hangs in "activating" (no READY=1 yet).
    hang_next_start: bool,
    /// The next kill fails (its process went away meanwhile), and with a
    /// code the container exits with it just then.
    fail_next_kill: Option<Option<i32>>,
    /// The container exits with this code as the next freeze begins.
    exit_on_next_freeze: Option<i32>,
    /// The container exits with this code as the next resource update goes.
    exit_on_next_set_resources: Option<i32>,
    /// The next freeze finds the payload gone while the unit stays active
    /// (the container ended; its monitor is still finishing).
    payload_gone_on_next_freeze: bool,
    last_usec: u64,
    /// The monitors' ends of attach connections handed out.
    peers: Vec<OwnedFd>,
}

pub(crate) struct FakeUnits {
    world: Mutex<World>,
    events: broadcast::Sender<UnitEvent>,
}

fn exit_file_of(config: &UnitConfig) -> PathBuf {
    config
        .exec_stop_post
        .iter()
        .flatten()
        .find_map(|a| a.strip_prefix("--exit-file="))
        .map(PathBuf::from)
        .expect("the unit records its exit")
}

impl World {
    /// A time after every time handed out before, as real runs have.
    fn now(&mut self) -> u64 {
        self.last_usec = now_usec().max(self.last_usec + 1);
        self.last_usec
    }

    /// The container ended: the monitor's exit file, and the unit is gone
    /// (inactive transient units are collected at once).
    fn end(&mut self, unit: &str, code: i32, requested: bool) {
        // BindsTo=: a timer bound to the unit stops with it, and is collected.
        self.timers.retain(|_, bound| bound != unit);
        if let Some(u) = self.units.remove(unit) {
            let finished_at = self.now();
            let rec = ExitRecord { exit_code: code, finished_at, stop_requested: requested, started_at: u.started_at };
            rec.write(&u.exit_file).expect("exit file written");
        }
    }
}

impl FakeUnits {
    pub fn new() -> Self {
        FakeUnits { world: Mutex::default(), events: broadcast::channel(1024).0 }
    }

    fn changed(&self, unit: &str) {
        let _ = self.events.send(UnitEvent::Changed(unit.to_string()));
    }

    /// The container exits on its own with `code`.
    pub fn exit(&self, unit: &str, code: i32) {
        self.world.lock().unwrap().end(unit, code, false);
        self.changed(unit);
    }

    pub fn fail_next_start(&self, code: i32) {
        self.world.lock().unwrap().fail_next_start = Some(code);
    }

    pub fn fail_next_kill(&self, exit: Option<i32>) {
        self.world.lock().unwrap().fail_next_kill = Some(exit);
    }

    pub fn exit_on_next_freeze(&self, code: i32) {
        self.world.lock().unwrap().exit_on_next_freeze = Some(code);
    }

    pub fn exit_on_next_set_resources(&self, code: i32) {
        self.world.lock().unwrap().exit_on_next_set_resources = Some(code);
    }

    pub fn payload_gone_on_next_freeze(&self) {
        self.world.lock().unwrap().payload_gone_on_next_freeze = true;
    }

    pub fn hang_next_start(&self) {
        self.world.lock().unwrap().hang_next_start = true;
    }

    /// A start that hung becomes active (its READY=1 came).
    pub fn ready(&self, unit: &str) {
        if let Some(u) = self.world.lock().unwrap().units.get_mut(unit) {
            u.active = "active";
        }
        self.changed(unit);
    }

    pub fn unit(&self, unit: &str) -> Option<FakeUnit> {
        self.world.lock().unwrap().units.get(unit).cloned()
    }

    /// Every unit loaded, timers and their services included.
    pub fn units(&self) -> Vec<String> {
        let w = self.world.lock().unwrap();
        w.units.keys().chain(w.timers.keys()).cloned().collect()
    }

    /// The loaded health-check timers.
    pub fn timers(&self) -> Vec<String> {
        self.world.lock().unwrap().timers.keys().filter(|t| t.ends_with(".timer")).cloned().collect()
    }

    /// A timer is lost (stopped by hand, or its start was lost).
    pub fn drop_timer(&self, timer: &str) {
        self.world.lock().unwrap().timers.remove(timer);
    }

    /// A timer is loaded that is bound to `unit`, as a crash could leave one
    /// (its unit is not running).
    pub fn add_timer(&self, timer: &str, unit: &str) {
        self.world.lock().unwrap().timers.insert(timer.to_string(), unit.to_string());
    }
}

#[async_trait]
impl Units for FakeUnits {
    async fn start_transient(&self, unit: &str, config: &UnitConfig) -> Result<JobResult> {
        let result = {
            let mut w = self.world.lock().unwrap();
            if w.units.contains_key(unit) {
                return Err(Error::systemd(format!("org.freedesktop.systemd1.UnitExists: Unit {unit} was already loaded")));
            }
            let started_at = w.now();
            let hang = std::mem::take(&mut w.hang_next_start);
            let u = FakeUnit {
                active: if hang { "activating" } else { "active" },
                frozen: false,
                exit_file: exit_file_of(config),
                resources: config.resources.clone(),
                exec_main_status: 0,
                started_at,
            };
            w.units.insert(unit.to_string(), u);
            match w.fail_next_start.take() {
                Some(code) => {
                    w.end(unit, code, false);
                    JobResult::Failed
                }
                None => JobResult::Done,
            }
        };
        self.changed(unit);
        Ok(result)
    }

    async fn start_timer(&self, t: &HealthTimer) -> Result<JobResult> {
        let mut w = self.world.lock().unwrap();
        for u in [&t.timer, &t.service] {
            if w.timers.contains_key(u) || w.units.contains_key(u) {
                return Err(Error::systemd(format!("org.freedesktop.systemd1.UnitExists: Unit {u} was already loaded")));
            }
        }
        // BindsTo= a unit that does not run: the timer stops at once.
        if !w.units.contains_key(&t.container_unit) {
            return Ok(JobResult::Done);
        }
        w.timers.insert(t.timer.clone(), t.container_unit.clone());
        Ok(JobResult::Done)
    }

    async fn active_state(&self, unit: &str) -> Result<Option<String>> {
        let w = self.world.lock().unwrap();
        if w.timers.contains_key(unit) {
            return Ok(Some("active".into()));
        }
        Ok(w.units.get(unit).map(|u| u.active.to_string()))
    }

    async fn start_unit(&self, unit: &str) -> Result<JobResult> {
        Err(Error::systemd(format!("the fake has no unit file for {unit}")))
    }

    fn watch_unit(&self, _unit: &str) {}

    async fn stop(&self, unit: &str) -> Result<JobResult> {
        // The monitor's user stop: exit 0 on SIGTERM here.
        let mut w = self.world.lock().unwrap();
        if w.timers.remove(unit).is_some() {
            return Ok(JobResult::Done);
        }
        w.end(unit, 0, true);
        drop(w);
        self.changed(unit);
        Ok(JobResult::Done)
    }

    async fn kill(&self, unit: &str, whom: KillWhom, signal: i32) -> Result<()> {
        {
            let mut w = self.world.lock().unwrap();
            if let Some(exit) = w.fail_next_kill.take() {
                drop(w);
                match exit {
                    Some(code) => self.exit(unit, code),
                    None => self.changed(unit),
                }
                return Err(Error::systemd("org.freedesktop.systemd1.NoSuchProcess: No main process to kill"));
            }
            let Some(u) = w.units.get(unit) else {
                return Err(Error::systemd(format!("org.freedesktop.systemd1.NoSuchUnit: Unit {unit} not loaded.")));
            };
            // The monitor's kill request is a SIGKILL of the container; a
            // frozen container acts on SIGKILL only.
            let signal = if signal == crate::runtime::KILL_REQUEST_SIGNAL && whom == KillWhom::Main { 9 } else { signal };
            let dies = signal == 9 || (matches!(signal, 2 | 15) && !u.frozen);
            if dies {
                w.end(unit, 128 + signal, true);
            }
        }
        self.changed(unit);
        Ok(())
    }

    async fn freeze(&self, unit: &str) -> Result<()> {
        let mut w = self.world.lock().unwrap();
        // What the cgroup write meets when the payload's cgroup is gone.
        let enoent = || {
            let f = std::path::Path::new("/sys/fs/cgroup/system.slice").join(unit).join("payload/cgroup.freeze");
            Error::io("write", &f, std::io::ErrorKind::NotFound.into())
        };
        if let Some(code) = w.exit_on_next_freeze.take() {
            drop(w);
            self.exit(unit, code);
            return Err(enoent());
        }
        if std::mem::take(&mut w.payload_gone_on_next_freeze) {
            return Err(enoent());
        }
        w.units.get_mut(unit).ok_or_else(|| Error::systemd("not running"))?.frozen = true;
        Ok(())
    }

    async fn thaw(&self, unit: &str) -> Result<()> {
        if let Some(u) = self.world.lock().unwrap().units.get_mut(unit) {
            u.frozen = false;
        }
        Ok(())
    }

    async fn set_resources(&self, unit: &str, resources: &Resources) -> Result<()> {
        let mut w = self.world.lock().unwrap();
        if let Some(code) = w.exit_on_next_set_resources.take() {
            drop(w);
            self.exit(unit, code);
            return Err(Error::systemd(format!("Unit {unit} not loaded.")));
        }
        w.units.get_mut(unit).ok_or_else(|| Error::systemd("not running"))?.resources = resources.clone();
        Ok(())
    }

    async fn reset_failed(&self, unit: &str) -> Result<()> {
        let mut w = self.world.lock().unwrap();
        if w.units.get(unit).is_some_and(|u| u.active == "failed") {
            w.units.remove(unit);
        }
        Ok(())
    }

    async fn status(&self, unit: &str) -> Result<Option<UnitStatus>> {
        let w = self.world.lock().unwrap();
        Ok(w.units.get(unit).map(|u| {
            let r = &u.resources;
            UnitStatus {
                load_state: "loaded".into(),
                active_state: u.active.into(),
                sub_state: if u.active == "activating" { "start".into() } else { "running".into() },
                freezer_state: "running".into(),
                payload_frozen: u.frozen,
                exec_main_status: u.exec_main_status,
                memory_max: r.memory_max.unwrap_or(u64::MAX),
                tasks_max: r.tasks_max.unwrap_or(u64::MAX),
                cpu_weight: r.cpu_weight.unwrap_or(u64::MAX),
                cpu_quota_per_sec_usec: r.cpu_quota.map_or(u64::MAX, |q| q as u64 * 10_000),
                control_group: format!("/system.slice/{unit}"),
                active_enter_usec: u.started_at,
                ..Default::default()
            }
        }))
    }

    async fn loaded(&self) -> Result<HashSet<String>> {
        Ok(self.units().into_iter().collect())
    }

    fn watch(&self) -> broadcast::Receiver<UnitEvent> {
        self.events.subscribe()
    }
}

/// The container (by id) whose run directory holds `socket`.
fn container_of(socket: &Path) -> Option<String> {
    Some(socket.parent()?.file_name()?.to_string_lossy().into_owned())
}

#[async_trait]
impl Monitors for FakeUnits {
    async fn call(&self, socket: &Path, req: &Request, _wait_up: Option<Duration>) -> Result<Answer> {
        let run_dir = RunDir::new(socket.parent().expect("the socket is in a run directory"));
        let (conn, peer) = seqpacket::pair().map_err(|e| Error::internal(e.to_string()))?;
        let reply = match req {
            Request::Attach(_) | Request::Resize { .. } | Request::ExecWait { .. } | Request::Ready => Reply::Ok,
            Request::ExecStart { session, .. } => {
                let f = SessionFiles::new(run_dir.session_dir(session));
                match f.read_record()? {
                    None => Reply::refused(Refusal::NoSuchSession, "no such session"),
                    Some(_) if f.read_started()?.is_some() => {
                        Reply::refused(Refusal::SessionState(crate::model::ExecState::Running), "started already")
                    }
                    Some(_) => {
                        f.write_started(&ExecStarted { runtime_pid: 1, started_at: now_usec() }).map_err(Error::io_at("write", f.dir()))?;
                        Reply::Ok
                    }
                }
            }
        };
        self.world.lock().unwrap().peers.push(peer);
        Ok(Answer { reply, conn })
    }

    async fn wait_exec(&self, socket: &Path, session: &str) -> Result<Option<i32>> {
        let run_dir = RunDir::new(socket.parent().expect("the socket is in a run directory"));
        let f = SessionFiles::new(run_dir.session_dir(session));
        let id = container_of(socket);
        loop {
            if let Some(end) = f.read_end()? {
                return Ok(Some(end.exit_code));
            }
            let live = {
                let w = self.world.lock().unwrap();
                w.units.values().any(|u| u.exit_file.file_name().map(|n| n.to_string_lossy().into_owned()) == id)
            };
            if !live {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Mounts as the engine's unit tests see them: a set of mount points (the
/// directory is made, nothing is mounted on it). Like the kernel's mount
/// table, it outlives the engines a test opens.
#[derive(Default)]
pub(crate) struct FakeMounts {
    mounted: Mutex<HashSet<PathBuf>>,
}

impl FakeMounts {
    pub fn mounted(&self) -> Vec<PathBuf> {
        self.mounted.lock().unwrap().iter().cloned().collect()
    }
}

impl Mounts for FakeMounts {
    fn mount(&self, layer: &crate::image::ContainerLayer, lowers: &[PathBuf], target: &Path) -> Result<()> {
        assert!(!lowers.is_empty() && lowers.iter().all(|l| l.is_dir()), "the image's layers exist: {lowers:?}");
        assert!(layer.upper().is_dir(), "the container's layer exists");
        std::fs::create_dir_all(target).map_err(Error::io_at("create", target))?;
        self.mounted.lock().unwrap().insert(target.to_path_buf());
        Ok(())
    }
    fn unmount(&self, target: &Path) -> Result<()> {
        self.mounted.lock().unwrap().remove(target);
        Ok(())
    }
    fn is_mounted(&self, target: &Path) -> Result<bool> {
        Ok(self.mounted.lock().unwrap().contains(target))
    }
}
