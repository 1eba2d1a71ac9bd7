//! Where a container's volatile runtime data lives under the run root: the
//! one definition that berthd, berth-monitor and berth-generator share.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLayout {
    root: PathBuf,
}

impl RunLayout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RunLayout { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directories every container's data goes in.
    pub fn dirs(&self) -> [PathBuf; 4] {
        [self.root.join("bundles"), self.root.join("exits"), self.root.join("notify"), self.roots_dir()]
    }

    /// Where the root file systems of containers made from images are
    /// mounted.
    pub fn roots_dir(&self) -> PathBuf {
        self.root.join("roots")
    }

    /// The mount point of container `id`'s overlay root file system: the
    /// image's layers under its own layer (see `StateLayout::layer_dir`).
    pub fn root_mount(&self, id: &str) -> PathBuf {
        self.roots_dir().join(id)
    }

    /// The OCI bundle directory of container `id`.
    pub fn bundle_dir(&self, id: &str) -> PathBuf {
        self.root.join("bundles").join(id)
    }

    /// The files of container `id`'s run directory (its bundle).
    pub fn run_dir(&self, id: &str) -> RunDir {
        RunDir::new(self.bundle_dir(id))
    }

    /// The runtime's pid file: the container's init on the host.
    pub fn pid_file(&self, id: &str) -> PathBuf {
        self.bundle_dir(id).join("pid")
    }

    /// A file in the bundle that overrides the stop timeout of the next stop.
    pub fn stop_timeout_file(&self, id: &str) -> PathBuf {
        self.bundle_dir(id).join("stop-timeout")
    }

    /// The container's network request (`network::NetworkRequest`), written
    /// with its bundle for the unit to set its network up from.
    pub fn network_request(&self, id: &str) -> PathBuf {
        self.bundle_dir(id).join("network.json")
    }

    /// The network store's run directory: namespaces, setup state, hosts files.
    pub fn network_dir(&self) -> PathBuf {
        self.root.join("network")
    }

    /// Where the monitor records how container `id` ended.
    pub fn exit_file(&self, id: &str) -> PathBuf {
        self.root.join("exits").join(id)
    }

    /// Exists while a monitor runs the container: found at ExecStopPost
    /// time, it means the monitor died before recording the exit.
    pub fn exit_marker(&self, id: &str) -> PathBuf {
        marker_of(&self.exit_file(id))
    }

    /// Where the monitor listens for a notify container's READY=1; short,
    /// as socket paths are limited to 108 bytes.
    pub fn notify_socket(&self, id: &str) -> PathBuf {
        self.root.join("notify").join(crate::model::short_id(id))
    }

    /// The state directory handed to the OCI runtime (`--root`).
    pub fn runtime_root(&self, runc: bool) -> PathBuf {
        self.root.join(if runc { "runc" } else { "crun" })
    }

    /// The id the OCI runtime knows the container by: half of berth's id,
    /// since runc's notify socket lives under `<root>/<id>/` and a socket
    /// path must fit in 108 bytes.
    pub fn runtime_id(id: &str) -> &str {
        &id[..32.min(id.len())]
    }

    /// The OCI runtime's own state of container `id` (left behind when the
    /// runtime is killed).
    pub fn runtime_state_dir(&self, id: &str, runc: bool) -> PathBuf {
        self.runtime_root(runc).join(Self::runtime_id(id))
    }
}

/// The marker next to an exit file.
pub fn marker_of(exit_file: &Path) -> PathBuf {
    let mut p = exit_file.as_os_str().to_owned();
    p.push(".running");
    PathBuf::from(p)
}

/// One container's run directory (its OCI bundle, 0700) and what lives in
/// it besides config.json: the monitor's attach socket and exec sessions.
/// berthd and berth-monitor (which knows only the bundle path) name these
/// files through this one definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir(PathBuf);

impl RunDir {
    pub fn new(bundle: impl Into<PathBuf>) -> Self {
        RunDir(bundle.into())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The monitor's socket (0600): attach, resize and exec requests.
    pub fn attach_socket(&self) -> PathBuf {
        self.0.join("attach")
    }

    /// Present when the monitor is to wait for a first attach before it
    /// starts the container (StartAndAttach); the monitor removes it.
    pub fn attach_first(&self) -> PathBuf {
        self.0.join("attach-first")
    }

    /// Where the OCI runtime sends the terminal's master of process `n`
    /// (0: the container's init); short, as socket paths are limited.
    pub fn console_socket(&self, n: u32) -> PathBuf {
        self.0.join(format!("console-{n}"))
    }

    /// The results of the container's health checks in its current run
    /// (model::HealthState as JSON), written by berthd.
    pub fn health(&self) -> PathBuf {
        self.0.join("health.json")
    }

    /// The exec sessions of the current run, one directory each.
    pub fn exec_dir(&self) -> PathBuf {
        self.0.join("exec")
    }

    /// The directory of exec session `session`.
    pub fn session_dir(&self, session: &str) -> PathBuf {
        self.exec_dir().join(session)
    }
}
