//! `org.berth.Berth1.Manager` at /org/berth/Berth1: create, list, and every
//! container verb mirrored by name.

use super::error::BusError;

type Result<T> = std::result::Result<T, BusError>;
use super::options::{from_variants, timeout_arg};
use super::{container_path, stdio, wait_args, Objects};
use crate::engine::Engine;
use std::collections::HashMap;
use super::clients::{unless_gone, Slot};
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::{interface, OwnedObjectPath, OwnedVariant};

pub struct Manager {
    pub(crate) engine: Engine,
    pub(crate) objects: Objects,
}

impl Manager {
    fn path_of(&self, name: &str) -> Result<OwnedObjectPath> {
        self.engine.inspect(name)?;
        Ok(container_path(name))
    }
}

#[interface(name = "org.berth.Berth1.Manager")]
impl Manager {
    async fn create_container(&self, name: String, options: HashMap<String, OwnedVariant>) -> Result<OwnedObjectPath> {
        let options = from_variants(options)?;
        let rec = self.engine.create(&name, &options).await?;
        Ok(self.objects.register(&rec).await)
    }
    async fn get_container(&self, name: String) -> Result<OwnedObjectPath> {
        self.path_of(&name)
    }
    /// (name, id, state, object path) of every container.
    async fn list_containers(&self) -> Vec<(String, String, String, OwnedObjectPath)> {
        self.engine
            .list_brief()
            .into_iter()
            .map(|(name, id, state)| {
                let path = container_path(&name);
                (name, id, state.to_string(), path)
            })
            .collect()
    }
    async fn remove_container(&self, name: String, force: bool, timeout: u32) -> Result<()> {
        self.engine.remove(&name, force, timeout_arg(timeout)).await?;
        self.objects.unregister(&name).await;
        Ok(())
    }
    async fn init_container(&self, name: String, recursive: bool) -> Result<()> {
        self.engine.init(&name, recursive).await?;
        Ok(())
    }
    async fn start_container(&self, name: String, recursive: bool) -> Result<()> {
        self.engine.start(&name, recursive).await?;
        Ok(())
    }
    async fn stop_container(&self, name: String, timeout: u32) -> Result<()> {
        self.engine.stop(&name, timeout_arg(timeout)).await?;
        Ok(())
    }
    async fn kill_container(&self, name: String, signal: i32) -> Result<()> {
        self.engine.kill(&name, signal).await?;
        Ok(())
    }
    async fn restart_container(&self, name: String, timeout: u32) -> Result<()> {
        self.engine.restart(&name, timeout_arg(timeout)).await?;
        Ok(())
    }
    async fn pause_container(&self, name: String) -> Result<()> {
        self.engine.pause(&name).await?;
        Ok(())
    }
    async fn unpause_container(&self, name: String) -> Result<()> {
        self.engine.unpause(&name).await?;
        Ok(())
    }
    async fn update_container(&self, name: String, resources: HashMap<String, OwnedVariant>) -> Result<()> {
        self.engine.update(&name, &from_variants(resources)?).await?;
        Ok(())
    }
    async fn wait_container(
        &self,
        name: String,
        conditions: Vec<String>,
        timeout_usec: u64,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<i32> {
        let (states, timeout) = wait_args(&conditions, timeout_usec)?;
        let ticket = self.objects.clients.enter(&header, Slot::Wait).await?;
        Ok(unless_gone(ticket, self.engine.wait(&name, &states, timeout)).await?.exit_code.unwrap_or(-1))
    }
    /// Run the container's health check now; this check's result, as
    /// podman's: healthy, unhealthy, or starting (failed in the start
    /// period).
    async fn healthcheck_run(&self, name: String) -> Result<String> {
        Ok(self.engine.healthcheck_run(&name).await?.to_string())
    }
    async fn sync_container(&self, name: String) -> Result<()> {
        self.engine.sync(&name).await?;
        Ok(())
    }
    async fn cleanup_container(&self, name: String) -> Result<()> {
        self.engine.cleanup(&name).await?;
        Ok(())
    }
    /// Write the container's output into `fd` (from the journal), one line
    /// per entry; with Follow, until the container stops or Until. Options:
    /// Follow b, Since t, Until t, Tail t, Stdout b, Stderr b, Timestamps b
    /// and StreamTag b (text prefixes), Format s: "text" (default) or
    /// "framed", where each line is a record: a 16-byte header (usec u64,
    /// stream u8 1/2, flags u8 with bit 0 partial, 2 bytes 0, length u32,
    /// little-endian), then the line's bytes.
    async fn logs_container(
        &self,
        name: String,
        fd: zbus::OwnedFd,
        options: HashMap<String, OwnedVariant>,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<()> {
        let o = super::options::log_options(options)?;
        let fd: std::os::fd::OwnedFd = fd.into();
        let ticket = self.objects.clients.enter(&header, Slot::Stream).await?;
        Ok(unless_gone(ticket, self.engine.logs(&name, &o, std::fs::File::from(fd))).await?)
    }
    /// The container as JSON, like `podman inspect`; the values of secret
    /// options (Env) are hidden from callers other than root.
    async fn inspect_container(&self, name: String, #[zbus(header)] header: Header<'_>) -> Result<String> {
        let rec = self.engine.inspect(&name)?;
        Ok(super::info_json(&self.engine, &rec, self.objects.clients.is_root(&header).await))
    }
    /// Every container's description (a JSON array), as InspectContainer
    /// gives them one by one.
    async fn list_container_info(&self, #[zbus(header)] header: Header<'_>) -> String {
        let root = self.objects.clients.is_root(&header).await;
        let infos: Vec<_> = self
            .engine
            .list()
            .iter()
            .map(|r| {
                let mut i = self.engine.info(r);
                if !root {
                    i.redact();
                }
                i
            })
            .collect();
        serde_json::to_string(&infos).expect("container descriptions serialize")
    }
    /// Write events into `fd`, one JSON object per line: the history from
    /// the journal (Since, Until, Container), then with Follow live events.
    async fn events(
        &self,
        fd: zbus::OwnedFd,
        options: HashMap<String, OwnedVariant>,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<()> {
        let o = super::options::event_options(options)?;
        let fd: std::os::fd::OwnedFd = fd.into();
        let ticket = self.objects.clients.enter(&header, Slot::Stream).await?;
        Ok(unless_gone(ticket, self.engine.events(&o, std::fs::File::from(fd))).await?)
    }
    /// Mount the container's root file system and count the mount (it
    /// holds the root until UnmountContainer releases it); returns its path
    /// on the host.
    async fn mount_container(&self, name: String) -> Result<String> {
        Ok(self.engine.mount(&name).await?.to_string_lossy().into_owned())
    }
    /// Release one mount, or with `force` every one; the root is unmounted
    /// when nothing holds it, never while the container runs.
    async fn unmount_container(&self, name: String, force: bool) -> Result<()> {
        Ok(self.engine.unmount(&name, force).await?)
    }
    /// Write the container's root file system into `fd` as a tar archive,
    /// stopped or running.
    async fn export_container(&self, name: String, fd: zbus::OwnedFd, #[zbus(header)] header: Header<'_>) -> Result<()> {
        let fd: std::os::fd::OwnedFd = fd.into();
        let ticket = self.objects.clients.enter(&header, Slot::Stream).await?;
        Ok(unless_gone(ticket, self.engine.export(&name, std::fs::File::from(fd))).await?)
    }
    /// What is at `path` in the container (running or not) as JSON, like
    /// podman's container stat; with `follow`, a final symlink is followed
    /// as the container resolves it.
    async fn stat_container(&self, name: String, path: String, follow: bool) -> Result<String> {
        let info = self.engine.stat(&name, &path, follow).await?;
        Ok(serde_json::to_string_pretty(&info).expect("file descriptions serialize"))
    }
    /// Extract the tar stream read from `fd` to its end under `path` (a
    /// directory) in the container, running or stopped. Options: Chown b
    /// (owned by the container's user), Pause b (frozen during the copy),
    /// NoOverwriteDirNonDir b, Rename a{ss}. Returns the bytes read.
    async fn copy_from_archive(
        &self,
        name: String,
        path: String,
        fd: zbus::OwnedFd,
        options: HashMap<String, OwnedVariant>,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<u64> {
        let o = super::options::copy_options(options)?;
        let fd: std::os::fd::OwnedFd = fd.into();
        let ticket = self.objects.clients.enter(&header, Slot::Stream).await?;
        Ok(unless_gone(ticket, self.engine.copy_from_archive(&name, &path, std::fs::File::from(fd), &o)).await?)
    }
    /// Write `path` in the container (`dir/.`: a directory's contents) into
    /// `fd` as a tar stream, running or stopped. Returns the bytes written.
    async fn copy_to_archive(&self, name: String, path: String, fd: zbus::OwnedFd, #[zbus(header)] header: Header<'_>) -> Result<u64> {
        let fd: std::os::fd::OwnedFd = fd.into();
        let ticket = self.objects.clients.enter(&header, Slot::Stream).await?;
        Ok(unless_gone(ticket, self.engine.copy_to_archive(&name, &path, std::fs::File::from(fd))).await?)
    }
    /// Keep what `fd` holds (read to its end) as the container's artifact
    /// `artifact` (no `/`, no leading dot), replacing one of that name;
    /// removed with the container. Returns its size.
    async fn add_artifact(&self, name: String, artifact: String, fd: zbus::OwnedFd, #[zbus(header)] header: Header<'_>) -> Result<u64> {
        let fd: std::os::fd::OwnedFd = fd.into();
        let ticket = self.objects.clients.enter(&header, Slot::Stream).await?;
        Ok(unless_gone(ticket, self.engine.add_artifact(&name, &artifact, std::fs::File::from(fd))).await?)
    }
    /// Write the container's artifact `artifact` into `fd`; returns its size.
    async fn get_artifact(&self, name: String, artifact: String, fd: zbus::OwnedFd, #[zbus(header)] header: Header<'_>) -> Result<u64> {
        let fd: std::os::fd::OwnedFd = fd.into();
        let ticket = self.objects.clients.enter(&header, Slot::Stream).await?;
        Ok(unless_gone(ticket, self.engine.get_artifact(&name, &artifact, std::fs::File::from(fd))).await?)
    }
    async fn remove_artifact(&self, name: String, artifact: String) -> Result<()> {
        Ok(self.engine.remove_artifact(&name, &artifact).await?)
    }
    /// The names of the container's artifacts, sorted.
    async fn list_artifacts(&self, name: String) -> Result<Vec<String>> {
        Ok(self.engine.list_artifacts(&name).await?)
    }
    /// Import the image archive read from `fd` to its end (an oci-archive,
    /// docker-archive, OCI layout as tar, or root file system tarball;
    /// gzip, zstd or uncompressed). Options: Name s (needed for a root file
    /// system tarball). Returns the ids of the images imported.
    async fn import_image(
        &self,
        fd: zbus::OwnedFd,
        options: HashMap<String, OwnedVariant>,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<Vec<String>> {
        let name = super::options::import_options(options)?;
        let fd: std::os::fd::OwnedFd = fd.into();
        let ticket = self.objects.clients.enter(&header, Slot::Stream).await?;
        Ok(unless_gone(ticket, self.engine.import_image_fd(std::fs::File::from(fd), name)).await?)
    }
    /// Every image (a JSON array), newest import first.
    async fn list_images(&self) -> Result<String> {
        Ok(serde_json::to_string(&self.engine.list_images().await?).expect("image descriptions serialize"))
    }
    /// One image and its config as JSON, by name, name:tag, id or id prefix.
    async fn inspect_image(&self, reference: String) -> Result<String> {
        Ok(serde_json::to_string_pretty(&self.engine.inspect_image(&reference).await?).expect("image descriptions serialize"))
    }
    /// Give an image one more name (a name another image had moves).
    async fn tag_image(&self, reference: String, name: String) -> Result<()> {
        self.engine.tag_image(&reference, &name).await?;
        Ok(())
    }
    async fn untag_image(&self, reference: String, name: String) -> Result<()> {
        Ok(self.engine.untag_image(&reference, &name).await?)
    }
    /// Remove an image (by one of several names: only that name); refused
    /// while containers are made from it, unless `force`, which removes
    /// them first.
    async fn remove_image(&self, reference: String, force: bool) -> Result<()> {
        self.engine.remove_image(&reference, force).await?;
        Ok(())
    }
    /// Make an empty named volume. Options: Labels a{ss}.
    async fn create_volume(&self, name: String, options: HashMap<String, OwnedVariant>) -> Result<()> {
        let labels = super::options::volume_options(options)?;
        self.engine.create_volume(&name, labels).await?;
        Ok(())
    }
    /// Every volume (a JSON array), by name.
    async fn list_volumes(&self) -> Result<String> {
        Ok(serde_json::to_string(&self.engine.list_volumes().await?).expect("volume descriptions serialize"))
    }
    async fn inspect_volume(&self, name: String) -> Result<String> {
        Ok(serde_json::to_string_pretty(&self.engine.inspect_volume(&name).await?).expect("volume descriptions serialize"))
    }
    /// Remove a volume and its content; refused while a container uses it,
    /// unless `force`.
    async fn remove_volume(&self, name: String, force: bool) -> Result<()> {
        Ok(self.engine.remove_volume(&name, force).await?)
    }

    /// The containers as Kubernetes YAML (root only: it shows their
    /// specs). Options: Type s ("pod", the default, or "deployment"),
    /// PodName s (default: the first container's name and "-pod").
    async fn generate_kube(&self, names: Vec<String>, options: HashMap<String, OwnedVariant>) -> Result<String> {
        let (kind, pod) = super::kube::generate_options(options)?;
        Ok(self.engine.kube_generate(&names, kind, pod.as_deref()).await?)
    }
    /// Create and start the containers of Kubernetes YAML (Pods,
    /// Deployments, ConfigMaps, PersistentVolumeClaims); returns their
    /// names. Nothing is made when any part is unsupported or invalid.
    async fn play_kube(&self, yaml: String, options: HashMap<String, OwnedVariant>) -> Result<Vec<String>> {
        super::kube::play_options(options)?;
        let names = self.engine.kube_play(&yaml).await?;
        for n in &names {
            if let Ok(rec) = self.engine.inspect(n) {
                self.objects.register(&rec).await;
            }
        }
        Ok(names)
    }
    /// Stop and remove the containers that PlayKube of this YAML made (and
    /// its emptyDir volumes); returns the names removed.
    async fn down_kube(&self, yaml: String) -> Result<Vec<String>> {
        let names = self.engine.kube_down(&yaml, false).await?;
        for n in &names {
            self.objects.unregister(n).await;
        }
        Ok(names)
    }

    /// Set a running container's network up again with the same addresses
    /// and ports (after a firewall reload dropped its rules).
    async fn reload_network(&self, name: String) -> Result<()> {
        self.engine.reload_network(&name).await?;
        Ok(())
    }
    /// ReloadNetwork of every running container with a bridge network;
    /// the names reloaded.
    async fn reload_networks(&self) -> Result<Vec<String>> {
        Ok(self.engine.reload_networks().await?)
    }
    /// A bridge network (options: Subnet s, Gateway s, Internal b, DNS b,
    /// Labels a{ss}); its description as JSON.
    async fn create_network(&self, name: String, options: HashMap<String, OwnedVariant>) -> Result<String> {
        let o = super::options::network_create_options(options)?;
        let n = self.engine.create_network(&name, &o).await?;
        Ok(serde_json::to_string_pretty(&n).expect("network descriptions serialize"))
    }
    /// Every network's description (a JSON array).
    async fn list_networks(&self) -> Result<String> {
        let all = self.engine.list_networks().await?;
        Ok(serde_json::to_string(&all).expect("network descriptions serialize"))
    }
    /// A network (by name or id) as JSON.
    async fn inspect_network(&self, name: String) -> Result<String> {
        let n = self.engine.inspect_network(&name).await?;
        Ok(serde_json::to_string_pretty(&n).expect("network descriptions serialize"))
    }
    /// Remove a network no container names (NetworkInUse otherwise).
    async fn remove_network(&self, name: String) -> Result<()> {
        self.engine.remove_network(&name).await?;
        Ok(())
    }

    /// A connection to the running container's streams (see the attach
    /// stream in the README). `detach_keys`: podman's notation; "" is
    /// ctrl-p,ctrl-q, "none" none.
    async fn attach_container(
        &self,
        name: String,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        detach_keys: String,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<zbus::OwnedFd> {
        stdio::root_only(&self.objects.clients, &header, "AttachContainer").await?;
        stdio::attach(&self.engine, &name, stdio::attach_options(stdin, stdout, stderr, detach_keys)).await
    }
    /// Start the container with the caller attached before it runs.
    #[allow(clippy::too_many_arguments)]
    async fn start_and_attach_container(
        &self,
        name: String,
        recursive: bool,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        detach_keys: String,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<zbus::OwnedFd> {
        stdio::root_only(&self.objects.clients, &header, "StartAndAttachContainer").await?;
        let o = stdio::attach_options(stdin, stdout, stderr, detach_keys);
        stdio::start_and_attach(&self.engine, &name, recursive, o).await
    }
    /// Set the container's terminal size.
    async fn attach_resize_container(&self, name: String, rows: u16, cols: u16, #[zbus(header)] header: Header<'_>) -> Result<()> {
        stdio::root_only(&self.objects.clients, &header, "AttachResizeContainer").await?;
        stdio::attach_resize(&self.engine, &name, rows, cols).await
    }
    /// Create an exec session (Command as, Env as, User s, WorkingDir s,
    /// Terminal b, Interactive b, Privileged b); its id.
    async fn exec_create(&self, name: String, options: HashMap<String, OwnedVariant>, #[zbus(header)] header: Header<'_>) -> Result<String> {
        stdio::root_only(&self.objects.clients, &header, "ExecCreate").await?;
        stdio::exec_create(&self.engine, &name, options).await
    }
    /// Start an exec session detached.
    async fn exec_start(&self, name: String, session: String, #[zbus(header)] header: Header<'_>) -> Result<()> {
        stdio::root_only(&self.objects.clients, &header, "ExecStart").await?;
        stdio::exec_start(&self.engine, &name, &session).await
    }
    /// Start an exec session with the caller attached.
    #[allow(clippy::too_many_arguments)]
    async fn exec_start_and_attach(
        &self,
        name: String,
        session: String,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        detach_keys: String,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<zbus::OwnedFd> {
        stdio::root_only(&self.objects.clients, &header, "ExecStartAndAttach").await?;
        let o = stdio::attach_options(stdin, stdout, stderr, detach_keys);
        stdio::exec_start_and_attach(&self.engine, &name, &session, o).await
    }
    /// Set a running exec session's terminal size.
    async fn exec_resize(&self, name: String, session: String, rows: u16, cols: u16, #[zbus(header)] header: Header<'_>) -> Result<()> {
        stdio::root_only(&self.objects.clients, &header, "ExecResize").await?;
        stdio::exec_resize(&self.engine, &name, &session, rows, cols).await
    }
    /// An exec session as JSON.
    async fn exec_inspect(&self, name: String, session: String, #[zbus(header)] header: Header<'_>) -> Result<String> {
        stdio::root_only(&self.objects.clients, &header, "ExecInspect").await?;
        stdio::exec_inspect(&self.engine, &name, &session).await
    }
    /// The container's exec sessions (a JSON array).
    async fn exec_list(&self, name: String, #[zbus(header)] header: Header<'_>) -> Result<String> {
        stdio::root_only(&self.objects.clients, &header, "ExecList").await?;
        stdio::exec_list(&self.engine, &name).await
    }
    /// Wait until an exec session has ended; its exit code (-1 when its
    /// end went unrecorded). `timeout_usec` 0 waits for ever.
    async fn exec_wait(&self, name: String, session: String, timeout_usec: u64, #[zbus(header)] header: Header<'_>) -> Result<i32> {
        stdio::root_only(&self.objects.clients, &header, "ExecWait").await?;
        stdio::exec_wait(&self.engine, &self.objects.clients, &header, &name, &session, timeout_usec).await
    }

    #[zbus(signal)]
    pub async fn container_new(emitter: &SignalEmitter<'_>, name: &str, path: OwnedObjectPath) -> zbus::Result<()>;
    #[zbus(signal)]
    pub async fn container_removed(emitter: &SignalEmitter<'_>, name: &str, path: OwnedObjectPath) -> zbus::Result<()>;
    #[zbus(signal)]
    pub async fn exec_died(emitter: &SignalEmitter<'_>, name: &str, session: &str, exit_code: i32) -> zbus::Result<()>;
    #[zbus(signal)]
    pub async fn event(emitter: &SignalEmitter<'_>, name: &str, id: &str, event: &str, usec: u64) -> zbus::Result<()>;

    #[zbus(property(emits_changed_signal = "const"))]
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").into()
    }
    /// The OCI runtime a container gets when it names none.
    #[zbus(property(emits_changed_signal = "const"))]
    fn runtime(&self) -> String {
        "crun".into()
    }
}
