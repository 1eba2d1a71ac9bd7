//! Every verb stopped at each of its crash points, as a SIGKILL of berthd
//! would stop it, against the fake systemd; a new engine on the same store
//! must then agree with the units and exit files, lose nothing, and every
//! verb must work on the container again. Each engine runs on a runtime of
//! its own, and a crash shuts that runtime down: none of the old engine's
//! tasks runs on, as none of a killed berthd's does.

use super::crash::CrashPlan;
use super::fake::{FakeMounts, FakeUnits};
use super::{AttachOptions, Config, Engine};
use crate::image::{ImageStore, ImportOptions, VolumeStore};
use crate::model::{ExecState, OptionValue, State};
use crate::store::ExitRecord;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

struct World {
    dir: tempfile::TempDir,
    fake: Arc<FakeUnits>,
    mounts: Arc<FakeMounts>,
    /// The container is made from an image (else from a directory).
    image: bool,
    /// The container has a health check on an interval.
    health: bool,
}

/// A one-layer image `tiny` with a file, made with the tar crate.
fn tiny_image(state: &Path) {
    let store = ImageStore::open(state.join("images")).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in [("etc/", None), ("etc/motd", Some(&b"tiny\n"[..])), ("data/", None), ("data/seed", Some(b"seed"))] {
        let mut h = tar::Header::new_gnu();
        h.set_mode(if data.is_some() { 0o644 } else { 0o755 });
        h.set_entry_type(if data.is_some() { tar::EntryType::Regular } else { tar::EntryType::Directory });
        h.set_size(data.map_or(0, |d| d.len() as u64));
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        b.append_data(&mut h, path, data.unwrap_or_default()).unwrap();
    }
    let tar = state.join("tiny.tar");
    std::fs::write(&tar, b.into_inner().unwrap()).unwrap();
    store.import_path(&tar, &ImportOptions { name: Some("tiny".into()) }).unwrap();
}

impl World {
    fn new() -> Self {
        Self::with(false)
    }

    fn with(image: bool) -> Self {
        Self::make(image, false)
    }

    fn make(image: bool, health: bool) -> Self {
        // On tmpfs where there is one: fsyncs are free there, and these
        // tests are about order, not disks.
        let dir = tempfile::tempdir_in("/dev/shm").or_else(|_| tempfile::tempdir()).unwrap();
        std::fs::create_dir_all(dir.path().join("rootfs")).unwrap();
        if image {
            tiny_image(&dir.path().join("state"));
        }
        World { dir, fake: Arc::new(FakeUnits::new()), mounts: Arc::new(FakeMounts::default()), image, health }
    }

    /// A berthd: its runtime and its engine.
    fn start(&self, crash: Option<Arc<CrashPlan>>) -> (tokio::runtime::Runtime, Engine) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let d = self.dir.path();
        let mut config = Config::new(d.join("state"), d.join("run"), "/usr/bin/berth-monitor");
        config.crash = crash;
        config.monitors = self.fake.clone();
        config.mounts = self.mounts.clone();
        let e = rt.block_on(Engine::open(config, self.fake.clone())).unwrap();
        (rt, e)
    }

    fn options(&self) -> BTreeMap<String, OptionValue> {
        let mut o = self.plain_options();
        if self.health {
            o.insert("HealthCmd".into(), OptionValue::Str("test -e /ready".into()));
            o.insert("HealthInterval".into(), OptionValue::Str("30s".into()));
        }
        o
    }

    fn plain_options(&self) -> BTreeMap<String, OptionValue> {
        let command = ("Command".to_string(), OptionValue::StrList(vec!["/bin/sleep".into(), "100".into()]));
        if self.image {
            let volumes = OptionValue::StrList(vec!["named:/data".into(), "/anon".into()]);
            return [("Image".to_string(), OptionValue::Str("tiny".into())), command, ("Volumes".to_string(), volumes)].into();
        }
        [("Rootfs".to_string(), OptionValue::Str(self.dir.path().join("rootfs").to_string_lossy().into_owned())), command].into()
    }

    fn root_mount(&self, id: &str) -> PathBuf {
        self.dir.path().join("run/roots").join(id)
    }

    fn layer(&self, id: &str) -> PathBuf {
        self.dir.path().join("state/layers").join(id)
    }

    fn volumes(&self) -> Vec<String> {
        VolumeStore::open(self.dir.path().join("state/volumes")).unwrap().list().unwrap().into_iter().map(|v| v.name).collect()
    }
}

const NAME: &str = "c";
const UNIT: &str = "berth-c.service";
const TIMER: &str = "berth-c:health.timer";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Pre {
    Configured,
    Running,
    Paused,
    Exited,
    /// Exited, and its root mounted once by Mount.
    Mounted,
    /// Running, with an exec session created.
    Session,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Call {
    Init,
    Start,
    Stop,
    Kill(i32),
    Restart,
    Pause,
    Unpause,
    Update,
    Cleanup,
    Remove,
    ForceRemove,
    Mount,
    Unmount,
    Export,
    StartAndAttach,
    ExecCreate,
    ExecStart,
    AddArtifact,
    /// Add an artifact, then remove it.
    RemoveArtifact,
    /// A tar stream extracted under / (the root mounted for it when the
    /// container is made from an image and stopped).
    CopyIn,
}

fn exec_options() -> BTreeMap<String, OptionValue> {
    [("Command".to_string(), OptionValue::StrList(vec!["/bin/true".into()]))].into()
}

fn attach_options() -> AttachOptions {
    AttachOptions { stdin: false, stdout: true, stderr: true, detach_keys: String::new() }
}

/// A small tar stream in a file, for CopyIn.
fn small_archive() -> std::fs::File {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "copied", &b"hello"[..]).unwrap();
    let mut f = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut f, &b.into_inner().unwrap()).unwrap();
    std::io::Seek::rewind(&mut f).unwrap();
    f
}

fn blob(data: &[u8]) -> std::fs::File {
    let mut f = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut f, data).unwrap();
    std::io::Seek::rewind(&mut f).unwrap();
    f
}

async fn setup(e: &Engine, w: &World, pre: Pre) {
    e.create(NAME, &w.options()).await.unwrap();
    if pre == Pre::Configured {
        return;
    }
    e.start(NAME, false).await.unwrap();
    match pre {
        Pre::Paused => {
            e.pause(NAME).await.unwrap();
        }
        Pre::Exited | Pre::Mounted => {
            w.fake.exit(UNIT, 3);
            e.sync(NAME).await.unwrap();
            if pre == Pre::Mounted {
                e.mount(NAME).await.unwrap();
            }
        }
        Pre::Session => {
            e.exec_create(NAME, &exec_options()).await.unwrap();
        }
        _ => {}
    }
}

async fn call(e: Engine, c: Call) -> crate::model::Result<()> {
    match c {
        Call::Init => e.init(NAME, false).await.map(drop),
        Call::Start => e.start(NAME, false).await.map(drop),
        Call::Stop => e.stop(NAME, Some(1)).await.map(drop),
        Call::Kill(s) => e.kill(NAME, s).await.map(drop),
        Call::Restart => e.restart(NAME, Some(1)).await.map(drop),
        Call::Pause => e.pause(NAME).await.map(drop),
        Call::Unpause => e.unpause(NAME).await.map(drop),
        Call::Update => {
            let o = [("MemoryMax".to_string(), OptionValue::U64(64 << 20))].into();
            e.update(NAME, &o).await.map(drop)
        }
        Call::Cleanup => e.cleanup(NAME).await.map(drop),
        Call::Remove => e.remove(NAME, false, None).await,
        Call::ForceRemove => e.remove(NAME, true, Some(0)).await,
        Call::Mount => e.mount(NAME).await.map(drop),
        Call::Unmount => e.unmount(NAME, false).await,
        Call::Export => e.export(NAME, std::fs::OpenOptions::new().write(true).open("/dev/null").unwrap()).await,
        Call::StartAndAttach => e.start_and_attach(NAME, false, &attach_options()).await.map(drop),
        Call::ExecCreate => e.exec_create(NAME, &exec_options()).await.map(drop),
        Call::ExecStart => {
            let s = e.exec_list(NAME).await?.into_iter().find(|s| s.state == ExecState::Created).expect("a created session");
            e.exec_start(NAME, &s.id, None).await.map(drop)
        }
        Call::AddArtifact => e.add_artifact(NAME, "notes", blob(b"kept")).await.map(drop),
        Call::RemoveArtifact => {
            e.add_artifact(NAME, "notes", blob(b"kept")).await?;
            e.remove_artifact(NAME, "notes").await
        }
        Call::CopyIn => e.copy_from_archive(NAME, "/", small_archive(), &Default::default()).await.map(drop),
    }
}

const CASES: [(Pre, Call); 20] = [
    (Pre::Configured, Call::Init),
    (Pre::Configured, Call::Start),
    (Pre::Exited, Call::Start),
    (Pre::Running, Call::Stop),
    (Pre::Paused, Call::Stop),
    (Pre::Running, Call::Kill(9)),
    (Pre::Paused, Call::Kill(15)),
    (Pre::Running, Call::Restart),
    (Pre::Running, Call::Pause),
    (Pre::Paused, Call::Unpause),
    (Pre::Running, Call::Update),
    (Pre::Exited, Call::Cleanup),
    (Pre::Exited, Call::Remove),
    (Pre::Paused, Call::ForceRemove),
    (Pre::Configured, Call::StartAndAttach),
    (Pre::Running, Call::ExecCreate),
    (Pre::Session, Call::ExecStart),
    (Pre::Exited, Call::AddArtifact),
    (Pre::Running, Call::RemoveArtifact),
    (Pre::Exited, Call::CopyIn),
];

/// The verbs whose steps differ for a container made from an image.
const IMAGE_CASES: [(Pre, Call); 14] = [
    (Pre::Configured, Call::Init),
    (Pre::Configured, Call::Start),
    (Pre::Exited, Call::Start),
    (Pre::Running, Call::Restart),
    (Pre::Exited, Call::Cleanup),
    (Pre::Exited, Call::Remove),
    (Pre::Running, Call::ForceRemove),
    (Pre::Exited, Call::Mount),
    (Pre::Mounted, Call::Unmount),
    (Pre::Configured, Call::Export),
    (Pre::Mounted, Call::Remove),
    (Pre::Configured, Call::CopyIn),
    (Pre::Exited, Call::CopyIn),
    (Pre::Mounted, Call::CopyIn),
];

/// The verbs that start, stop or remove a container with a health check
/// (its timer follows the container).
const HEALTH_CASES: [(Pre, Call); 8] = [
    (Pre::Configured, Call::Start),
    (Pre::Exited, Call::Start),
    (Pre::Running, Call::Stop),
    (Pre::Running, Call::Kill(9)),
    (Pre::Running, Call::Restart),
    (Pre::Paused, Call::Unpause),
    (Pre::Running, Call::ForceRemove),
    (Pre::Exited, Call::Remove),
];

/// The crash points a verb passes when nothing stops it.
fn points_of(image: bool, health: bool, pre: Pre, c: Call) -> Vec<&'static str> {
    let w = World::make(image, health);
    let plan = Arc::new(CrashPlan::default());
    let (rt, e) = w.start(Some(plan.clone()));
    rt.block_on(setup(&e, &w, pre));
    let before = plan.seen().len();
    rt.block_on(call(e.clone(), c)).unwrap_or_else(|err| panic!("{c:?} from {pre:?}: {err}"));
    plan.seen()[before..].to_vec()
}

/// Run `c` until it reaches the armed point, then kill that berthd.
fn crash_in(rt: tokio::runtime::Runtime, e: Engine, plan: &CrashPlan, c: Call, what: &str) {
    rt.block_on(async {
        tokio::spawn(call(e, c));
        tokio::time::timeout(Duration::from_secs(5), plan.reached()).await.unwrap_or_else(|_| panic!("{what}: never reached"));
    });
    rt.shutdown_background();
}

/// Every exec session reads back, and is where its files say: a created
/// one starts (once), a started one does not start again.
fn check_sessions(rt: &tokio::runtime::Runtime, e: &Engine, what: &str) {
    let sessions = rt.block_on(e.exec_list(NAME)).unwrap_or_else(|err| panic!("{what}: sessions unreadable: {err}"));
    for s in sessions {
        let started = rt.block_on(e.exec_start(NAME, &s.id, None));
        match s.state {
            ExecState::Created => {
                started.unwrap_or_else(|err| panic!("{what}: a created session does not start: {err}"));
                let again = rt.block_on(e.exec_start(NAME, &s.id, None)).unwrap_err();
                assert_eq!(again.name(), "InvalidExecState", "{what}: started twice: {again}");
            }
            ExecState::Running => assert_eq!(started.unwrap_err().name(), "InvalidExecState", "{what}"),
            ExecState::Exited => assert!(started.is_err(), "{what}: an exited session started"),
        }
    }
}

/// The record agrees with the fake units and the exit file.
fn check_consistent(w: &World, e: &Engine, what: &str) {
    let rec = e.inspect(NAME).unwrap_or_else(|err| panic!("{what}: the container is lost: {err}"));
    assert_ne!(rec.state, State::Removing, "{what}: stuck in removing");
    if w.image {
        let mounted = w.mounts.mounted().contains(&w.root_mount(&rec.id));
        if matches!(rec.state, State::Created | State::Running | State::Paused) {
            assert!(mounted, "{what}: {} but its root is not mounted", rec.state);
        }
        if rec.state == State::Configured && rec.mounts == 0 {
            assert!(!mounted, "{what}: configured, yet its root is mounted");
        }
    }
    match w.fake.unit(UNIT) {
        Some(u) => {
            let want = if u.frozen { State::Paused } else { State::Running };
            assert_eq!(rec.state, want, "{what}: the unit runs (frozen: {})", u.frozen);
            assert_eq!(u.resources, rec.spec.resources, "{what}: the unit's limits are the record's");
        }
        None => {
            assert!(!rec.state.is_live(), "{what}: no unit, but {}", rec.state);
            let exit = ExitRecord::read(&e.store().exit_file(&rec.id)).unwrap();
            if let Some(x) = exit.filter(|x| rec.state.has_run() && x.finished_at >= rec.started_at) {
                assert_eq!(rec.exit_code, Some(x.exit_code), "{what}: exit code");
            }
        }
    }
}

/// Stop each case at each crash point it passes; the number tested.
fn crash_every_step(image: bool, cases: &[(Pre, Call)]) -> usize {
    crash_every_step_of(image, false, cases)
}

fn crash_every_step_of(image: bool, health: bool, cases: &[(Pre, Call)]) -> usize {
    let mut total = 0;
    for &(pre, c) in cases {
        let points = points_of(image, health, pre, c);
        assert!(!points.is_empty(), "{c:?} from {pre:?} passes no crash point");
        for point in points {
            let kind = if image { " (image)" } else if health { " (health check)" } else { "" };
            let what = format!("{c:?} from {pre:?}{kind}, killed at {point:?}");
            let w = World::make(image, health);
            let plan = Arc::new(CrashPlan::default());
            let (rt, e) = w.start(Some(plan.clone()));
            rt.block_on(setup(&e, &w, pre));
            let id = e.inspect(NAME).unwrap().id;
            plan.arm(point);
            crash_in(rt, e, &plan, c, &what);
            let (rt, e) = w.start(None);
            if matches!(c, Call::Remove | Call::ForceRemove) {
                // A removal that began finishes when berthd starts again.
                assert!(e.inspect(NAME).is_err(), "{what}: not removed");
                assert!(w.fake.unit(UNIT).is_none(), "{what}: unit left");
                let run = w.dir.path().join("run");
                assert_eq!(std::fs::read_dir(run.join("bundles")).unwrap().count(), 0, "{what}: bundle left");
                assert_eq!(std::fs::read_dir(run.join("exits")).unwrap().count(), 0, "{what}: exit file left");
                if image {
                    assert!(w.mounts.mounted().is_empty(), "{what}: mounts left: {:?}", w.mounts.mounted());
                    assert!(!w.layer(&id).exists(), "{what}: its layer left");
                    assert_eq!(w.volumes(), ["named"], "{what}: the anonymous volume goes, the named one stays");
                }
                // The name can be used again.
                rt.block_on(e.create(NAME, &w.options())).unwrap();
            } else {
                check_consistent(&w, &e, &what);
                if health {
                    let running = matches!(e.inspect(NAME).unwrap().state, State::Running | State::Paused);
                    let want: Vec<String> = if running { vec![TIMER.into()] } else { vec![] };
                    assert_eq!(w.fake.timers(), want, "{what}: the health timer follows the container");
                }
                if e.inspect(NAME).unwrap().state == State::Running {
                    check_sessions(&rt, &e, &what);
                }
            }
            // Every verb works again: at least a forced removal, and then
            // nothing is left.
            rt.block_on(e.remove(NAME, true, Some(0))).unwrap_or_else(|err| panic!("{what}: rm -f: {err}"));
            assert!(w.fake.units().is_empty(), "{what}: units left: {:?}", w.fake.units());
            assert!(w.mounts.mounted().is_empty(), "{what}: mounts left: {:?}", w.mounts.mounted());
            assert_eq!(std::fs::read_dir(w.dir.path().join("state/layers")).map_or(0, |d| d.count()), 0, "{what}: layers left");
            let artifacts = std::fs::read_dir(w.dir.path().join("state/artifacts")).map_or(0, |d| d.count());
            assert_eq!(artifacts, 0, "{what}: artifacts left");
            total += 1;
        }
    }
    total
}

/// A claim, and a pod of two containers from the image with a claim and
/// an emptyDir each.
const KUBE_YAML: &str = "\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: claim}
---
apiVersion: v1
kind: Pod
metadata: {name: pod}
spec:
  containers:
  - {name: a, image: tiny, command: [/bin/sleep, '100'], volumeMounts: [{name: data, mountPath: /data}, {name: scratch, mountPath: /scratch}]}
  - {name: b, image: tiny, command: [/bin/sleep, '100'], volumeMounts: [{name: data, mountPath: /data}]}
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: claim}}
  - {name: scratch, emptyDir: {}}
";
const KUBE_CONTAINERS: [&str; 2] = ["pod-a", "pod-b"];

/// A kube play killed at any step leaves each container it made
/// consistent; `kube down` then removes all of it, and the play runs again.
#[test]
fn kube_play_survives_a_crash_at_every_step() {
    let points = {
        let w = World::with(true);
        let plan = Arc::new(CrashPlan::default());
        let (rt, e) = w.start(Some(plan.clone()));
        assert_eq!(rt.block_on(e.kube_play(KUBE_YAML)).unwrap(), KUBE_CONTAINERS);
        plan.seen()
    };
    assert!(points.len() >= 10, "kube play passes only {points:?}");
    for (i, point) in points.iter().enumerate() {
        let nth = points[..=i].iter().filter(|p| *p == point).count();
        let what = format!("kube play, killed at pass {nth} of {point:?}");
        let w = World::with(true);
        let plan = Arc::new(CrashPlan::default());
        let (rt, e) = w.start(Some(plan.clone()));
        plan.arm_at(point, nth);
        rt.block_on(async {
            let e = e.clone();
            tokio::spawn(async move { e.kube_play(KUBE_YAML).await });
            tokio::time::timeout(Duration::from_secs(5), plan.reached()).await.unwrap_or_else(|_| panic!("{what}: never reached"));
        });
        rt.shutdown_background();
        let (rt, e) = w.start(None);
        for name in KUBE_CONTAINERS {
            let Ok(rec) = e.inspect(name) else { continue };
            assert_ne!(rec.state, State::Removing, "{what}: {name} stuck in removing");
            let unit = w.fake.unit(&format!("berth-{name}.service"));
            assert_eq!(unit.is_some(), rec.state.is_live(), "{what}: {name} is {} (unit: {})", rec.state, unit.is_some());
        }
        rt.block_on(e.kube_down(KUBE_YAML, true)).unwrap_or_else(|err| panic!("{what}: kube down: {err}"));
        assert!(w.fake.units().is_empty(), "{what}: units left: {:?}", w.fake.units());
        assert!(w.mounts.mounted().is_empty(), "{what}: mounts left: {:?}", w.mounts.mounted());
        assert!(w.volumes().is_empty(), "{what}: volumes left: {:?}", w.volumes());
        assert_eq!(rt.block_on(e.kube_play(KUBE_YAML)).unwrap_or_else(|err| panic!("{what}: play again: {err}")), KUBE_CONTAINERS);
        for name in KUBE_CONTAINERS {
            assert_eq!(e.inspect(name).unwrap().state, State::Running, "{what}: {name} after the second play");
        }
    }
}

#[test]
fn every_verb_survives_a_crash_at_every_step() {
    let total = crash_every_step(false, &CASES);
    assert!(total >= 36, "only {total} crash points were tested");
}

#[test]
fn the_health_timer_survives_a_crash_at_every_step() {
    let total = crash_every_step_of(false, true, &HEALTH_CASES);
    assert!(total >= 16, "only {total} crash points were tested");
}

#[test]
fn the_health_timer_lives_and_dies_with_the_container() {
    let w = World::make(false, true);
    let (rt, e) = w.start(None);
    rt.block_on(e.create(NAME, &w.options())).unwrap();
    assert!(w.fake.timers().is_empty(), "no timer before the container runs");
    rt.block_on(e.start(NAME, false)).unwrap();
    assert_eq!(w.fake.timers(), [TIMER]);
    let info = e.info(&e.inspect(NAME).unwrap());
    let h = info.state.health.expect("inspect shows its health");
    assert_eq!((h.status, h.failing_streak, h.log.len()), (crate::model::HealthStatus::Starting, 0, 0));
    // Lost (stopped by hand): the next look at the container brings it back.
    w.fake.drop_timer(TIMER);
    rt.block_on(e.sync(NAME)).unwrap();
    assert_eq!(w.fake.timers(), [TIMER], "a running container gets its timer back");
    rt.block_on(e.stop(NAME, Some(1))).unwrap();
    assert!(w.fake.units().is_empty(), "stopped: nothing left: {:?}", w.fake.units());
    // A timer whose container does not run (left by a crash) is stopped.
    w.fake.add_timer(TIMER, UNIT);
    drop((rt, e));
    let (rt, e) = w.start(None);
    assert!(w.fake.timers().is_empty(), "start-up stops a timer without its container");
    rt.block_on(e.start(NAME, false)).unwrap();
    w.fake.exit(UNIT, 1);
    assert!(w.fake.timers().is_empty(), "the timer stops with its unit (BindsTo=)");
    rt.block_on(e.sync(NAME)).unwrap();
    // A check of a container that does not run is a named error, as one
    // of a container without a check.
    let err = rt.block_on(e.healthcheck_run(NAME)).unwrap_err();
    assert_eq!(err.name(), "InvalidState", "{err}");
    assert!(err.to_string().contains("health checks run only in running containers"), "{err}");
    rt.block_on(e.create("plain", &w.plain_options())).unwrap();
    let err = rt.block_on(e.healthcheck_run("plain")).unwrap_err();
    assert_eq!(err.name(), "InvalidArgument", "{err}");
    assert_eq!(rt.block_on(e.healthcheck_run("nobody")).unwrap_err().name(), "NoSuchContainer");
    rt.block_on(e.remove(NAME, true, Some(0))).unwrap();
    assert!(w.fake.units().is_empty(), "removed: nothing left: {:?}", w.fake.units());
}

#[test]
fn every_verb_of_an_image_container_survives_a_crash_at_every_step() {
    let total = crash_every_step(true, &IMAGE_CASES);
    assert!(total >= 30, "only {total} crash points were tested");
}

#[test]
fn an_image_container_keeps_its_changes_until_removed() {
    let w = World::with(true);
    let (rt, e) = w.start(None);
    let rec = rt.block_on(e.create(NAME, &w.options())).unwrap();
    assert_eq!(rec.image_id.as_ref().map(|i| i.len()), Some(64));
    assert!(!w.layer(&rec.id).exists(), "create copies nothing and makes no layer");
    rt.block_on(e.start(NAME, false)).unwrap();
    let upper = w.layer(&rec.id).join("upper");
    std::fs::write(upper.join("changed"), b"x").unwrap();
    rt.block_on(e.stop(NAME, Some(1))).unwrap();
    rt.block_on(e.start(NAME, false)).unwrap();
    assert!(upper.join("changed").exists(), "changes survive stop and start");
    // The bundle runs the overlay, with the volumes bound in.
    let config = std::fs::read_to_string(e.store().bundle_dir(&rec.id).join("config.json")).unwrap();
    assert!(config.contains(&format!("\"path\":\"{}\"", w.root_mount(&rec.id).display())), "{config}");
    assert!(config.contains("/state/volumes/named/_data"), "{config}");
    // Mount counts; Unmount of a running container's root is refused.
    let path = rt.block_on(e.mount(NAME)).unwrap();
    assert_eq!(path, w.root_mount(&rec.id));
    rt.block_on(e.unmount(NAME, false)).unwrap();
    assert_eq!(rt.block_on(e.unmount(NAME, false)).unwrap_err().name(), "InvalidState");
    assert!(w.mounts.mounted().contains(&path), "still mounted while it runs");
    rt.block_on(e.stop(NAME, Some(1))).unwrap();
    rt.block_on(e.mount(NAME)).unwrap();
    rt.block_on(e.mount(NAME)).unwrap();
    rt.block_on(e.cleanup(NAME)).unwrap();
    assert!(w.mounts.mounted().contains(&path), "Mount holds it through cleanup");
    assert_eq!(e.inspect(NAME).unwrap().mounts, 2);
    rt.block_on(e.unmount(NAME, true)).unwrap();
    assert!(w.mounts.mounted().is_empty(), "a forced unmount releases every mount");
    // The image is in use; removed with the container, the layer goes.
    let err = rt.block_on(e.remove_image("tiny", false)).unwrap_err();
    assert_eq!(err.name(), "ImageInUse", "{err}");
    assert!(err.to_string().contains(NAME), "{err}");
    rt.block_on(e.remove(NAME, false, None)).unwrap();
    assert!(!w.layer(&rec.id).exists());
    rt.block_on(e.remove_image("tiny", false)).unwrap();
    let err = rt.block_on(e.create(NAME, &w.options())).unwrap_err();
    assert_eq!(err.name(), "NoSuchImage", "{err}");
    assert!(e.inspect(NAME).is_err(), "nothing was created");
}

#[test]
fn files_of_a_stopped_container_and_its_artifacts() {
    let w = World::with(true);
    let (rt, e) = w.start(None);
    rt.block_on(setup(&e, &w, Pre::Exited));
    let id = e.inspect(NAME).unwrap().id;
    let was = w.mounts.mounted().len();
    rt.block_on(e.copy_from_archive(NAME, "/", small_archive(), &Default::default())).unwrap();
    assert_eq!(w.mounts.mounted().len(), was, "a root mounted for the copy is released");
    let info = rt.block_on(e.stat(NAME, "/copied", false)).unwrap();
    assert_eq!((info.name.as_str(), info.size, info.is_dir), ("copied", 5, false));
    assert_eq!(rt.block_on(e.stat(NAME, "/nope", false)).unwrap_err().name(), "NoSuchPath");
    assert_eq!(rt.block_on(e.stat("nobody", "/", false)).unwrap_err().name(), "NoSuchContainer");
    let err = rt.block_on(e.copy_from_archive(NAME, "/copied", small_archive(), &Default::default())).unwrap_err();
    assert_eq!(err.name(), "NotADirectory", "{err}");

    // Artifacts: named blobs, bad names refused before anything is made.
    for bad in ["a/b", "..", ".hidden", ""] {
        let err = rt.block_on(e.add_artifact(NAME, bad, blob(b"x"))).unwrap_err();
        assert_eq!(err.name(), "InvalidArgument", "{bad:?}: {err}");
    }
    assert!(!w.dir.path().join("state/artifacts").join(&id).exists(), "nothing made for a refused name");
    assert_eq!(rt.block_on(e.remove_artifact(NAME, "notes")).unwrap_err().name(), "NoSuchArtifact");
    assert_eq!(rt.block_on(e.add_artifact(NAME, "notes", blob(b"first"))).unwrap(), 5);
    assert_eq!(rt.block_on(e.add_artifact(NAME, "notes", blob(b"second!"))).unwrap(), 7);
    assert_eq!(rt.block_on(e.list_artifacts(NAME)).unwrap(), ["notes"]);
    let out = tempfile::NamedTempFile::new().unwrap();
    assert_eq!(rt.block_on(e.get_artifact(NAME, "notes", out.reopen().unwrap())).unwrap(), 7);
    assert_eq!(std::fs::read(out.path()).unwrap(), b"second!");
    rt.block_on(e.remove(NAME, false, None)).unwrap();
    assert!(!w.dir.path().join("state/artifacts").join(&id).exists(), "artifacts go with the container");
}

#[test]
fn a_run_while_berthd_was_down_keeps_its_exit_code() {
    // Killed right after asking systemd to start the container; it exits
    // 7 before berthd is back.
    let w = World::new();
    let plan = Arc::new(CrashPlan::default());
    let (rt, e) = w.start(Some(plan.clone()));
    rt.block_on(e.create(NAME, &w.options())).unwrap();
    plan.arm("start: unit started");
    crash_in(rt, e, &plan, Call::Start, "start");
    w.fake.exit(UNIT, 7);
    let (rt, e) = w.start(None);
    let rec = rt.block_on(e.wait(NAME, &[], Some(Duration::from_secs(1)))).unwrap();
    assert_eq!((rec.state, rec.exit_code), (State::Exited, Some(7)));
    assert!(rec.started_at > 0 && rec.finished_at >= rec.started_at);
}

#[test]
fn a_start_still_waiting_for_ready_is_followed() {
    let w = World::new();
    let plan = Arc::new(CrashPlan::default());
    let (rt, e) = w.start(Some(plan.clone()));
    rt.block_on(e.create(NAME, &w.options())).unwrap();
    w.fake.hang_next_start();
    plan.arm("start: unit started");
    crash_in(rt, e, &plan, Call::Start, "start");
    let (rt, e) = w.start(None);
    assert!(!e.inspect(NAME).unwrap().state.is_live());
    w.fake.ready(UNIT);
    let rec = rt.block_on(e.wait(NAME, &[State::Running], Some(Duration::from_secs(2)))).unwrap();
    assert_eq!(rec.state, State::Running);
}

#[test]
fn a_failed_start_is_exited_with_the_runs_code() {
    let w = World::new();
    let (rt, e) = w.start(None);
    rt.block_on(e.create(NAME, &w.options())).unwrap();
    w.fake.fail_next_start(125);
    let err = rt.block_on(e.start(NAME, false)).unwrap_err();
    assert_eq!(err.name(), "Runtime", "{err}");
    let rec = e.inspect(NAME).unwrap();
    assert_eq!((rec.state, rec.exit_code), (State::Exited, Some(125)));
    assert!(!rec.stopped_by_user);
}

/// A kill whose signal never went is not the user's stop.
#[test]
fn a_failed_kill_leaves_the_container_not_stopped_by_the_user() {
    let w = World::new();
    let (rt, e) = w.start(None);
    rt.block_on(setup(&e, &w, Pre::Running));
    w.fake.fail_next_kill(None);
    let err = rt.block_on(e.kill(NAME, 15)).unwrap_err();
    assert_eq!(err.name(), "Systemd", "{err}");
    let rec = e.inspect(NAME).unwrap();
    assert_eq!(rec.state, State::Running);
    assert!(!rec.stopped_by_user, "marked stopped by the user, yet no signal went");
    let rec = rt.block_on(e.kill(NAME, 15)).unwrap();
    assert!(rec.stopped_by_user);
    // It exits on its own as the signal is sent: a kill of an ended
    // container, not a systemd failure.
    rt.block_on(e.start(NAME, false)).unwrap();
    w.fake.fail_next_kill(Some(4));
    let err = rt.block_on(e.kill(NAME, 15)).unwrap_err();
    assert_eq!(err.name(), "InvalidState", "{err}");
    let rec = e.inspect(NAME).unwrap();
    assert_eq!((rec.state, rec.exit_code, rec.stopped_by_user), (State::Exited, Some(4), false));
}

/// A container that ends as it is paused: Pause answers as for an ended
/// container, and the exit is recorded.
#[test]
fn a_pause_that_meets_the_containers_end_is_invalid_state() {
    let w = World::new();
    let (rt, e) = w.start(None);
    rt.block_on(setup(&e, &w, Pre::Running));
    w.fake.exit_on_next_freeze(6);
    let err = rt.block_on(e.pause(NAME)).unwrap_err();
    assert_eq!(err.name(), "InvalidState", "{err}");
    let rec = e.inspect(NAME).unwrap();
    assert_eq!((rec.state, rec.exit_code), (State::Exited, Some(6)));
}

/// A container that ends as Update applies its resources: the update is
/// kept for its next start, the exit is recorded, and Update succeeds as
/// for a container that had ended before the call.
#[test]
fn an_update_that_meets_the_containers_end_is_kept_for_the_next_start() {
    let w = World::new();
    let (rt, e) = w.start(None);
    rt.block_on(setup(&e, &w, Pre::Running));
    w.fake.exit_on_next_set_resources(3);
    let o = BTreeMap::from([("MemoryMax".to_string(), OptionValue::U64(64 << 20))]);
    let rec = rt.block_on(e.update(NAME, &o)).unwrap();
    assert_eq!((rec.state, rec.exit_code), (State::Exited, Some(3)));
    assert_eq!(e.inspect(NAME).unwrap().spec.resources.memory_max, Some(64 << 20));
}

/// A container whose processes ended while its unit is still active (the
/// monitor finishing): Pause meets no payload cgroup and answers that the
/// container is stopping; the container is not marked paused.
#[test]
fn a_pause_after_the_payload_ended_is_invalid_state_stopping() {
    let w = World::new();
    let (rt, e) = w.start(None);
    rt.block_on(setup(&e, &w, Pre::Running));
    w.fake.payload_gone_on_next_freeze();
    let err = rt.block_on(e.pause(NAME)).unwrap_err();
    assert!(
        matches!(err, crate::model::Error::InvalidState { state: State::Stopping, verb: crate::model::Verb::Pause, .. }),
        "{err}"
    );
    assert_eq!(e.inspect(NAME).unwrap().state, State::Running);
}

#[test]
fn kill_of_a_paused_container_thaws_it_first() {
    let w = World::new();
    let (rt, e) = w.start(None);
    rt.block_on(setup(&e, &w, Pre::Paused));
    // SIGTERM reaches a frozen container only once it is thawed.
    let rec = rt.block_on(e.kill(NAME, 15)).unwrap();
    assert_eq!((rec.state, rec.exit_code), (State::Stopped, Some(143)));
    assert!(w.fake.unit(UNIT).is_none());
}

#[test]
fn exec_sessions_are_named_errors_when_wrong() {
    let w = World::new();
    let (rt, e) = w.start(None);
    rt.block_on(setup(&e, &w, Pre::Configured));
    let err = rt.block_on(e.exec_create(NAME, &exec_options())).unwrap_err();
    assert_eq!(err.name(), "InvalidState", "exec in a configured container: {err}");
    rt.block_on(e.start(NAME, false)).unwrap();
    let bad: BTreeMap<String, OptionValue> = [("Command".to_string(), OptionValue::StrList(vec![]))].into();
    assert_eq!(rt.block_on(e.exec_create(NAME, &bad)).unwrap_err().name(), "InvalidArgument");
    let none = "0".repeat(64);
    assert_eq!(rt.block_on(e.exec_start(NAME, &none, None)).unwrap_err().name(), "NoSuchExecSession");
    assert_eq!(rt.block_on(e.exec_inspect(NAME, "../../etc")).unwrap_err().name(), "NoSuchExecSession");
    let id = rt.block_on(e.exec_create(NAME, &exec_options())).unwrap();
    assert_eq!(rt.block_on(e.exec_resize(NAME, &id, 10, 10)).unwrap_err().name(), "NotATerminal");
    assert_eq!(rt.block_on(e.attach_resize(NAME, 10, 10)).unwrap_err().name(), "NotATerminal");
    let stdin = AttachOptions { stdin: true, ..attach_options() };
    assert_eq!(rt.block_on(e.exec_start(NAME, &id, Some(&stdin))).unwrap_err().name(), "InvalidArgument");
    assert_eq!(rt.block_on(e.attach(NAME, &stdin)).unwrap_err().name(), "InvalidArgument");
    let keys = AttachOptions { detach_keys: "ctrl-".into(), ..attach_options() };
    assert_eq!(rt.block_on(e.attach(NAME, &keys)).unwrap_err().name(), "InvalidArgument");
    assert_eq!(rt.block_on(e.exec_inspect(NAME, &id)).unwrap().state, ExecState::Created);
    rt.block_on(e.exec_start(NAME, &id, Some(&attach_options()))).unwrap().expect("attached");
    assert_eq!(rt.block_on(e.exec_inspect(NAME, &id)).unwrap().state, ExecState::Running);
    // The container stops: its sessions end with it.
    w.fake.exit(UNIT, 0);
    rt.block_on(e.sync(NAME)).unwrap();
    let s = rt.block_on(e.exec_inspect(NAME, &id)).unwrap();
    assert_eq!((s.state, s.exit_code), (ExecState::Exited, -1));
    assert_eq!(rt.block_on(e.exec_wait(NAME, &id, None)).unwrap(), -1);
    assert_eq!(rt.block_on(e.exec_create(NAME, &exec_options())).unwrap_err().name(), "InvalidState");
}
