use super::bundle;
use super::cmdline::Runtime;
use super::monitor::{self, MonitorArgs, STOP_REQUEST_SIGNAL, USER_STOP_STATUS};
use crate::model::{validate_id, ContainerName, ContainerSpec, Error, Result, STOP_TIMEOUT_MAX};
use super::launch;
use crate::image::{ContainerLayer, ImageStore, VolumeStore};
use crate::store::{networks_dir, RunLayout, StateLayout, DEFAULT_RUN_ROOT, DEFAULT_STATE_ROOT};
use crate::systemd::UnitConfig;
use std::io;
use std::path::{Path, PathBuf};

fn container_id(s: &str) -> std::result::Result<String, String> {
    if validate_id(s) {
        Ok(s.to_string())
    } else {
        Err(format!("{s:?} is not 64 lowercase hex digits"))
    }
}

/// `run-spec --spec=PATH --name=NAME --id=ID [--run-root=/run/berth]
/// [--state-root=/var/lib/berth]`
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct RunSpecArgs {
    /// The ContainerSpec as JSON.
    #[arg(long)]
    pub spec: PathBuf,
    #[arg(long, value_parser = parse_name)]
    pub name: ContainerName,
    /// The container's id; without it, the id of a file-defined container
    /// of this name ([`file_defined_id`]), as a template's instance has.
    #[arg(long, value_parser = container_id)]
    pub id: Option<String>,
    /// A template's instance (systemd's `%i`): the spec's `%i`, `%I` and
    /// `%%` are expanded with it.
    #[arg(long)]
    pub instance: Option<String>,
    #[arg(long, default_value = DEFAULT_RUN_ROOT)]
    pub run_root: PathBuf,
    /// Where the image store, volumes, container layers and network
    /// definitions are.
    #[arg(long, default_value = DEFAULT_STATE_ROOT)]
    pub state_root: PathBuf,
}

pub fn parse_name(s: &str) -> std::result::Result<ContainerName, String> {
    ContainerName::new(s).map_err(|e| e.to_string())
}

/// The id of a file-defined container: the same on every boot and every
/// daemon-reload, so its runtime state and journal fields stay its own.
pub fn file_defined_id(name: &ContainerName) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(format!("berth-quadlet:{name}")).iter().map(|b| format!("{b:02x}")).collect()
}

/// What `run-spec` reads of a spec file: berth-generator's record of a
/// file-defined container or of a template, or a bare spec.
#[derive(serde::Deserialize)]
struct SpecFile {
    spec: ContainerSpec,
    #[serde(default)]
    start: crate::model::StartEnv,
}

impl RunSpecArgs {
    /// The container's id: given, or derived from its name.
    pub fn id(&self) -> String {
        self.id.clone().unwrap_or_else(|| file_defined_id(&self.name))
    }

    /// The arguments after the monitor's program name.
    pub fn to_args(&self) -> Vec<String> {
        let mut v = vec![
            "run-spec".into(),
            format!("--spec={}", self.spec.display()),
            format!("--name={}", self.name),
        ];
        v.extend(self.id.iter().map(|id| format!("--id={id}")));
        v.extend(self.instance.iter().map(|i| format!("--instance={i}")));
        v.push(format!("--run-root={}", self.run_root.display()));
        if self.state_root != Path::new(DEFAULT_STATE_ROOT) {
            v.push(format!("--state-root={}", self.state_root.display()));
        }
        v
    }
}

/// The monitor's arguments for container `id`, with its runtime data where
/// `layout` puts it.
pub fn monitor_args(spec: &ContainerSpec, id: &str, layout: &RunLayout) -> MonitorArgs {
    let runc = spec.runtime.is_runc();
    MonitorArgs {
        runtime: Runtime { program: spec.runtime.program().to_path_buf(), root: layout.runtime_root(runc), runc },
        bundle: layout.bundle_dir(id),
        id: RunLayout::runtime_id(id).to_string(),
        exit_file: layout.exit_file(id),
        stop_signal: spec.stop_signal,
        stop_timeout: spec.stop_timeout,
        notify: spec.notify,
        ready_on_request: spec.notify_healthy,
        notify_socket: layout.notify_socket(id),
        terminal: spec.terminal,
        interactive: spec.interactive,
        network: spec.network.is_bridge().then(|| layout.network_request(id)),
    }
}

/// What every container's unit holds, transient or file-defined: the
/// monitor run with `monitor_args` (after `run` or `run-spec`), the
/// recording of its exit, and the container's timeouts and limits.
/// Restart= and dependencies are left to the caller (none here).
pub fn unit_config(name: &ContainerName, id: &str, spec: &ContainerSpec, monitor: &Path, args: Vec<String>, exit_file: &Path) -> UnitConfig {
    let monitor = monitor.to_string_lossy().into_owned();
    let mut exec_start = vec![monitor.clone()];
    exec_start.extend(args);
    UnitConfig {
        description: format!("berth container {name}"),
        exec_start,
        exec_stop_post: stop_post(&monitor, id, spec, exit_file),
        kill_signal: STOP_REQUEST_SIGNAL,
        timeout_start_usec: spec.start_timeout as u64 * 1_000_000,
        // The monitor enforces the stop timeout; this is only a backstop.
        timeout_stop_usec: (STOP_TIMEOUT_MAX as u64 + 60) * 1_000_000,
        syslog_identifier: name.to_string(),
        name: name.to_string(),
        id: id.to_string(),
        restart: "no",
        restart_limit: None,
        user_stop_status: USER_STOP_STATUS,
        resources: spec.resources.clone(),
        dependencies: Vec::new(),
        // The monitor splits the unit's cgroup (see runtime::cgroup).
        delegate: true,
    }
}

/// ExecStopPost: record the exit if the monitor could not, and for a
/// bridged container tear its network down if the monitor could not. The
/// run root is the one the exit file lies in.
fn stop_post(monitor: &str, id: &str, spec: &ContainerSpec, exit_file: &Path) -> Vec<Vec<String>> {
    let mut out = vec![vec![monitor.to_string(), "record-exit".into(), format!("--exit-file={}", exit_file.display())]];
    if spec.network.is_bridge() {
        let run_root = exit_file.parent().and_then(Path::parent).unwrap_or(Path::new(DEFAULT_RUN_ROOT));
        out.push(vec![
            monitor.to_string(),
            "net-teardown".into(),
            format!("--run-root={}", run_root.display()),
            format!("--id={id}"),
        ]);
    }
    out
}

/// Every string of a template's record (keys too) as `instance` has it.
fn for_instance(v: &mut serde_json::Value, instance: &str) {
    use crate::model::specifier::expand_instance;
    match v {
        serde_json::Value::String(s) => *s = expand_instance(s, instance),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| for_instance(x, instance)),
        serde_json::Value::Object(m) => {
            let old = std::mem::take(m);
            for (k, mut x) in old {
                for_instance(&mut x, instance);
                m.insert(expand_instance(&k, instance), x);
            }
        }
        _ => {}
    }
}

/// What [`prepare`] made ready.
#[derive(Debug)]
pub struct Prepared {
    pub monitor: MonitorArgs,
    /// The overlay root mounted for a container made from an image.
    pub mounted: Option<PathBuf>,
}

/// Load the spec; for a container made from an image, mount its overlay
/// root (the image store is only read; the container's layer is made at
/// the first run and kept, as berthd keeps it); make its volumes; write
/// the bundle and the exit directory.
pub fn prepare(a: &RunSpecArgs) -> Result<Prepared> {
    let bad = |e: String| Error::Corrupt { what: "container spec", path: a.spec.clone(), message: e };
    let json = std::fs::read(&a.spec).map_err(Error::io_at("read", &a.spec))?;
    let json = match &a.instance {
        Some(i) => {
            let mut v: serde_json::Value = serde_json::from_slice(&json).map_err(|e| bad(e.to_string()))?;
            for_instance(&mut v, i);
            serde_json::to_vec(&v).map_err(|e| bad(e.to_string()))?
        }
        None => json,
    };
    let (mut spec, start) = match serde_json::from_slice::<SpecFile>(&json) {
        Ok(f) => (f.spec, f.start),
        Err(_) => (serde_json::from_slice(&json).map_err(|e| bad(e.to_string()))?, Default::default()),
    };
    super::start_env::apply(&mut spec, &start, &|k| std::env::var(k).ok())?;
    let id = &a.id();
    let layout = RunLayout::new(&a.run_root);
    let state = StateLayout::new(&a.state_root);
    let mut m = monitor_args(&spec, id, &layout);
    let (root, image, mounted) = match &spec.image {
        None => (spec.rootfs.clone(), None, None),
        Some(reference) => {
            let images = ImageStore::open_read_only(state.images_dir());
            let image = images.resolve(reference)?;
            let config = images.config(&image)?;
            let dir = state.layer_dir(id);
            let layer = match ContainerLayer::open(&dir) {
                Ok(l) => l,
                Err(crate::image::Error::NotAContainerLayer { .. }) if !dir.exists() => {
                    std::fs::create_dir_all(state.layers_dir()).map_err(Error::io_at("create", &state.layers_dir()))?;
                    ContainerLayer::create(&dir)?
                }
                Err(e) => return Err(e.into()),
            };
            let target = layout.root_mount(id);
            layer.mount(&images.layer_dirs(&image), &target)?;
            // The image's stop signal, unless the file names one.
            if spec.stop_signal == crate::model::ContainerSpec::default().stop_signal {
                let signal = config.stop_signal.as_deref().map(|s| {
                    crate::model::parse_signal(s, "StopSignal").and_then(|n| crate::model::check_signal(n, "StopSignal"))
                });
                if let Some(Ok(n)) = signal {
                    m.stop_signal = n;
                }
            }
            (target.clone(), Some(config), Some(target))
        }
    };
    let r = (|| {
        let volumes = if spec.volumes.iter().any(|v| v.is_volume()) {
            launch::prepare_volumes(&spec, id, &root, &VolumeStore::open(state.volumes_dir())?)?
        } else {
            Vec::new()
        };
        let l = launch::resolve(&spec, image.as_ref(), &root, &volumes)?;
        let mut config = bundle::config_for(&spec, &a.name, id, &l)?;
        std::fs::create_dir_all(&m.bundle).map_err(Error::io_at("create", &m.bundle))?;
        super::network::prepare(&mut config, &spec, &a.name, id, &networks_dir(&a.state_root), &layout)?;
        bundle::write_config(&m.bundle, &config)?;
        if let Some(d) = m.exit_file.parent() {
            std::fs::create_dir_all(d).map_err(Error::io_at("create", d))?;
        }
        Ok(())
    })();
    if let (Err(_), Some(target)) = (&r, &mounted) {
        // The failure is what to report.
        let _ = ContainerLayer::unmount(target);
    }
    r.map(|()| Prepared { monitor: m, mounted })
}

/// Run the container to its end, then unmount its overlay root; returns
/// the monitor's exit status.
pub fn run(a: &RunSpecArgs) -> io::Result<i32> {
    let p = prepare(a).map_err(io::Error::other)?;
    let status = monitor::run(&p.monitor);
    if let Some(target) = &p.mounted {
        if let Err(e) = ContainerLayer::unmount(target) {
            eprintln!("berth-monitor: cannot unmount {}: {e}", target.display());
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::OptionValue;
    use crate::store::Store;
    use std::collections::BTreeMap;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn spec(runtime: &str) -> ContainerSpec {
        let o: BTreeMap<String, OptionValue> = [
            ("Rootfs".to_string(), OptionValue::Str("/srv/r".into())),
            ("Command".to_string(), OptionValue::StrList(vec!["/bin/sh".into()])),
            ("Runtime".to_string(), OptionValue::Str(runtime.into())),
            ("Notify".to_string(), OptionValue::Bool(true)),
            ("StopSignal".to_string(), OptionValue::Str("INT".into())),
        ]
        .into();
        ContainerSpec::from_options(&o).unwrap()
    }

    #[test]
    fn paths_follow_the_store() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path().join("state"), d.path().join("run")).unwrap();
        for rt in ["crun", "runc"] {
            let m = monitor_args(&spec(rt), ID, store.layout());
            assert_eq!(m.bundle, store.bundle_dir(ID));
            assert_eq!(m.exit_file, store.exit_file(ID));
            assert_eq!(m.notify_socket, store.layout().notify_socket(ID));
            assert_eq!(m.runtime.root, store.layout().runtime_root(rt == "runc"));
            assert_eq!(m.runtime.runc, rt == "runc");
            assert_eq!(m.id, &ID[..32]);
            assert_eq!((m.stop_signal, m.notify), (2, true));
        }
    }

    #[test]
    fn arguments_round_trip() {
        let a = RunSpecArgs {
            spec: "/run/systemd/generator/berth/web.json".into(),
            name: ContainerName::new("web").unwrap(),
            id: Some(ID.into()),
            instance: None,
            run_root: "/run/berth".into(),
            state_root: DEFAULT_STATE_ROOT.into(),
        };
        use clap::Parser;
        let parse = |v: &[String]| match monitor::Command::try_parse_from(std::iter::once("m".to_string()).chain(v.iter().cloned())) {
            Ok(monitor::Command::RunSpec(r)) => Ok(r),
            Ok(_) => panic!("not run-spec"),
            Err(e) => Err(e),
        };
        assert_eq!(parse(&a.to_args()).unwrap(), a);
        let no_root: Vec<String> = a.to_args()[..4].to_vec();
        let no_id = RunSpecArgs { id: None, ..a.clone() };
        assert_eq!(parse(&no_id.to_args()).unwrap().id(), file_defined_id(&a.name));
        assert_eq!(parse(&no_root).unwrap().run_root, Path::new(DEFAULT_RUN_ROOT));
        assert_eq!(a.to_args().len(), 5, "the default state root is not spelled out");
        let other = RunSpecArgs { state_root: "/srv/berth".into(), ..a.clone() };
        assert_eq!(parse(&other.to_args()).unwrap(), other);
        let mut bad = a.to_args();
        bad[3] = "--id=xyz".into();
        assert!(parse(&bad).is_err());
        assert!(parse(&["run-spec".to_string(), "--bogus".into()]).is_err());
    }

    #[test]
    fn prepare_writes_the_bundle() {
        let d = tempfile::tempdir().unwrap();
        let spec_path = d.path().join("web.json");
        std::fs::write(&spec_path, serde_json::to_vec(&spec("crun")).unwrap()).unwrap();
        let a = RunSpecArgs {
            spec: spec_path,
            name: ContainerName::new("web").unwrap(),
            id: Some(ID.into()),
            instance: None,
            run_root: d.path().join("run"),
            state_root: d.path().join("state"),
        };
        let m = prepare(&a).unwrap().monitor;
        assert!(m.bundle.join("config.json").is_file());
        assert!(m.exit_file.parent().unwrap().is_dir());
        // A template's values take the instance.
        let mut t = serde_json::to_value(spec("crun")).unwrap();
        t["env"] = serde_json::json!(["I=%i", "U=%I", "P=100%%"]);
        std::fs::write(d.path().join("t.json"), serde_json::json!({"name": "w_%i", "spec": t}).to_string()).unwrap();
        let ti = RunSpecArgs { spec: d.path().join("t.json"), instance: Some("a-b".into()), id: None, ..a.clone() };
        let m = prepare(&ti).unwrap().monitor;
        let config: serde_json::Value = serde_json::from_slice(&std::fs::read(m.bundle.join("config.json")).unwrap()).unwrap();
        let env: Vec<&str> = config["process"]["env"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
        assert!(env.ends_with(&["I=a-b", "U=a/b", "P=100%"]), "{env:?}");
        let missing = RunSpecArgs { spec: d.path().join("nope.json"), ..a };
        assert!(prepare(&missing).unwrap_err().to_string().contains("nope.json"));
    }
}
