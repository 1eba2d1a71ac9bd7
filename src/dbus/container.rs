//! `org.berth.Berth1.Container`: one object per container.

use super::error::BusError;

type Result<T> = std::result::Result<T, BusError>;
use super::options::{from_variants, timeout_arg};
use super::{stdio, wait_args, Objects};
use crate::engine::Engine;
use crate::model::signal_name;
use crate::store::Record;
use std::collections::HashMap;
use super::clients::{unless_gone, Slot};
use zbus::message::Header;
use zbus::{interface, OwnedVariant};

pub struct ContainerObject {
    pub(crate) engine: Engine,
    pub(crate) objects: Objects,
    pub(crate) name: String,
    pub(crate) id: String,
}

impl ContainerObject {
    fn rec(&self) -> zbus::fdo::Result<Record> {
        self.engine
            .inspect(&self.name)
            .map_err(|_| zbus::fdo::Error::UnknownObject(format!("container {} was removed", self.name)))
    }
}

#[interface(name = "org.berth.Berth1.Container")]
impl ContainerObject {
    async fn init(&self, recursive: bool) -> Result<()> {
        self.engine.init(&self.name, recursive).await?;
        Ok(())
    }
    async fn start(&self, recursive: bool) -> Result<()> {
        self.engine.start(&self.name, recursive).await?;
        Ok(())
    }
    async fn stop(&self, timeout: u32) -> Result<()> {
        self.engine.stop(&self.name, timeout_arg(timeout)).await?;
        Ok(())
    }
    async fn kill(&self, signal: i32) -> Result<()> {
        self.engine.kill(&self.name, signal).await?;
        Ok(())
    }
    async fn restart(&self, timeout: u32) -> Result<()> {
        self.engine.restart(&self.name, timeout_arg(timeout)).await?;
        Ok(())
    }
    /// Run its health check now; this check's result (see the Manager's).
    async fn healthcheck_run(&self) -> Result<String> {
        Ok(self.engine.healthcheck_run(&self.name).await?.to_string())
    }
    async fn pause(&self) -> Result<()> {
        self.engine.pause(&self.name).await?;
        Ok(())
    }
    async fn unpause(&self) -> Result<()> {
        self.engine.unpause(&self.name).await?;
        Ok(())
    }
    async fn update(&self, resources: HashMap<String, OwnedVariant>) -> Result<()> {
        self.engine.update(&self.name, &from_variants(resources)?).await?;
        Ok(())
    }
    /// Wait until one of `conditions` (state names; empty: stopped or
    /// exited) is reached; returns the exit code (-1 if it never exited).
    /// `timeout_usec` 0 waits for ever.
    async fn wait(&self, conditions: Vec<String>, timeout_usec: u64, #[zbus(header)] header: Header<'_>) -> Result<i32> {
        let (states, timeout) = wait_args(&conditions, timeout_usec)?;
        let ticket = self.objects.clients.enter(&header, Slot::Wait).await?;
        Ok(unless_gone(ticket, self.engine.wait(&self.name, &states, timeout)).await?.exit_code.unwrap_or(-1))
    }
    async fn sync(&self) -> Result<()> {
        self.engine.sync(&self.name).await?;
        Ok(())
    }
    async fn cleanup(&self) -> Result<()> {
        self.engine.cleanup(&self.name).await?;
        Ok(())
    }
    async fn remove(&self, force: bool, timeout: u32) -> Result<()> {
        self.engine.remove(&self.name, force, timeout_arg(timeout)).await?;
        self.objects.unregister(&self.name).await;
        Ok(())
    }
    /// Write the container's output into `fd` (from the journal), one line
    /// per entry; with Follow, until the container stops or Until. Options:
    /// Follow b, Since t, Until t, Tail t, Stdout b, Stderr b, Timestamps b
    /// and StreamTag b (text prefixes), Format s: "text" (default) or
    /// "framed", where each line is a record: a 16-byte header (usec u64,
    /// stream u8 1/2, flags u8 with bit 0 partial, 2 bytes 0, length u32,
    /// little-endian), then the line's bytes.
    async fn logs(&self, fd: zbus::OwnedFd, options: HashMap<String, OwnedVariant>, #[zbus(header)] header: Header<'_>) -> Result<()> {
        let o = super::options::log_options(options)?;
        let fd: std::os::fd::OwnedFd = fd.into();
        let ticket = self.objects.clients.enter(&header, Slot::Stream).await?;
        Ok(unless_gone(ticket, self.engine.logs(&self.name, &o, std::fs::File::from(fd))).await?)
    }
    /// Set the container's network up again with the same addresses and
    /// ports (after a firewall reload dropped its rules).
    async fn reload_network(&self) -> Result<()> {
        self.engine.reload_network(&self.name).await?;
        Ok(())
    }
    /// Mount its root file system and count the mount; returns its path.
    async fn mount(&self) -> Result<String> {
        Ok(self.engine.mount(&self.name).await?.to_string_lossy().into_owned())
    }
    /// Release one mount, or with `force` every one.
    async fn unmount(&self, force: bool) -> Result<()> {
        Ok(self.engine.unmount(&self.name, force).await?)
    }
    /// Write its root file system into `fd` as a tar archive.
    async fn export(&self, fd: zbus::OwnedFd, #[zbus(header)] header: Header<'_>) -> Result<()> {
        let fd: std::os::fd::OwnedFd = fd.into();
        let ticket = self.objects.clients.enter(&header, Slot::Stream).await?;
        Ok(unless_gone(ticket, self.engine.export(&self.name, std::fs::File::from(fd))).await?)
    }
    /// What is at `path` in the container as JSON (see StatContainer).
    async fn stat(&self, path: String, follow: bool) -> Result<String> {
        let info = self.engine.stat(&self.name, &path, follow).await?;
        Ok(serde_json::to_string_pretty(&info).expect("file descriptions serialize"))
    }
    /// Extract the tar stream read from `fd` under `path` (see the
    /// Manager's CopyFromArchive).
    async fn copy_from_archive(
        &self,
        path: String,
        fd: zbus::OwnedFd,
        options: HashMap<String, OwnedVariant>,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<u64> {
        let o = super::options::copy_options(options)?;
        let fd: std::os::fd::OwnedFd = fd.into();
        let ticket = self.objects.clients.enter(&header, Slot::Stream).await?;
        Ok(unless_gone(ticket, self.engine.copy_from_archive(&self.name, &path, std::fs::File::from(fd), &o)).await?)
    }
    /// Write `path` into `fd` as a tar stream.
    async fn copy_to_archive(&self, path: String, fd: zbus::OwnedFd, #[zbus(header)] header: Header<'_>) -> Result<u64> {
        let fd: std::os::fd::OwnedFd = fd.into();
        let ticket = self.objects.clients.enter(&header, Slot::Stream).await?;
        Ok(unless_gone(ticket, self.engine.copy_to_archive(&self.name, &path, std::fs::File::from(fd))).await?)
    }
    async fn add_artifact(&self, artifact: String, fd: zbus::OwnedFd, #[zbus(header)] header: Header<'_>) -> Result<u64> {
        let fd: std::os::fd::OwnedFd = fd.into();
        let ticket = self.objects.clients.enter(&header, Slot::Stream).await?;
        Ok(unless_gone(ticket, self.engine.add_artifact(&self.name, &artifact, std::fs::File::from(fd))).await?)
    }
    async fn get_artifact(&self, artifact: String, fd: zbus::OwnedFd, #[zbus(header)] header: Header<'_>) -> Result<u64> {
        let fd: std::os::fd::OwnedFd = fd.into();
        let ticket = self.objects.clients.enter(&header, Slot::Stream).await?;
        Ok(unless_gone(ticket, self.engine.get_artifact(&self.name, &artifact, std::fs::File::from(fd))).await?)
    }
    async fn remove_artifact(&self, artifact: String) -> Result<()> {
        Ok(self.engine.remove_artifact(&self.name, &artifact).await?)
    }
    async fn list_artifacts(&self) -> Result<Vec<String>> {
        Ok(self.engine.list_artifacts(&self.name).await?)
    }
    /// The container as JSON, like `podman inspect`.
    async fn inspect(&self, #[zbus(header)] header: Header<'_>) -> Result<String> {
        let rec = self.engine.inspect(&self.name)?;
        Ok(super::info_json(&self.engine, &rec, self.objects.clients.is_root(&header).await))
    }

    /// A connection to the container's streams (see AttachContainer).
    async fn attach(&self, stdin: bool, stdout: bool, stderr: bool, detach_keys: String, #[zbus(header)] header: Header<'_>) -> Result<zbus::OwnedFd> {
        stdio::root_only(&self.objects.clients, &header, "Attach").await?;
        stdio::attach(&self.engine, &self.name, stdio::attach_options(stdin, stdout, stderr, detach_keys)).await
    }
    /// Start with the caller attached before the container runs.
    async fn start_and_attach(
        &self,
        recursive: bool,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        detach_keys: String,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<zbus::OwnedFd> {
        stdio::root_only(&self.objects.clients, &header, "StartAndAttach").await?;
        let o = stdio::attach_options(stdin, stdout, stderr, detach_keys);
        stdio::start_and_attach(&self.engine, &self.name, recursive, o).await
    }
    async fn attach_resize(&self, rows: u16, cols: u16, #[zbus(header)] header: Header<'_>) -> Result<()> {
        stdio::root_only(&self.objects.clients, &header, "AttachResize").await?;
        stdio::attach_resize(&self.engine, &self.name, rows, cols).await
    }
    async fn exec_create(&self, options: HashMap<String, OwnedVariant>, #[zbus(header)] header: Header<'_>) -> Result<String> {
        stdio::root_only(&self.objects.clients, &header, "ExecCreate").await?;
        stdio::exec_create(&self.engine, &self.name, options).await
    }
    async fn exec_start(&self, session: String, #[zbus(header)] header: Header<'_>) -> Result<()> {
        stdio::root_only(&self.objects.clients, &header, "ExecStart").await?;
        stdio::exec_start(&self.engine, &self.name, &session).await
    }
    async fn exec_start_and_attach(
        &self,
        session: String,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        detach_keys: String,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<zbus::OwnedFd> {
        stdio::root_only(&self.objects.clients, &header, "ExecStartAndAttach").await?;
        let o = stdio::attach_options(stdin, stdout, stderr, detach_keys);
        stdio::exec_start_and_attach(&self.engine, &self.name, &session, o).await
    }
    async fn exec_resize(&self, session: String, rows: u16, cols: u16, #[zbus(header)] header: Header<'_>) -> Result<()> {
        stdio::root_only(&self.objects.clients, &header, "ExecResize").await?;
        stdio::exec_resize(&self.engine, &self.name, &session, rows, cols).await
    }
    async fn exec_inspect(&self, session: String, #[zbus(header)] header: Header<'_>) -> Result<String> {
        stdio::root_only(&self.objects.clients, &header, "ExecInspect").await?;
        stdio::exec_inspect(&self.engine, &self.name, &session).await
    }
    async fn exec_list(&self, #[zbus(header)] header: Header<'_>) -> Result<String> {
        stdio::root_only(&self.objects.clients, &header, "ExecList").await?;
        stdio::exec_list(&self.engine, &self.name).await
    }
    async fn exec_wait(&self, session: String, timeout_usec: u64, #[zbus(header)] header: Header<'_>) -> Result<i32> {
        stdio::root_only(&self.objects.clients, &header, "ExecWait").await?;
        stdio::exec_wait(&self.engine, &self.objects.clients, &header, &self.name, &session, timeout_usec).await
    }

    #[zbus(property(emits_changed_signal = "const"))]
    fn name(&self) -> String {
        self.name.clone()
    }
    #[zbus(property(emits_changed_signal = "const"))]
    fn id(&self) -> String {
        self.id.clone()
    }
    #[zbus(property(emits_changed_signal = "const"))]
    fn unit(&self) -> zbus::fdo::Result<String> {
        Ok(self.rec()?.unit_name())
    }
    #[zbus(property)]
    fn state(&self) -> zbus::fdo::Result<String> {
        Ok(self.rec()?.state.to_string())
    }
    #[zbus(property, name = "MainPID")]
    fn main_pid(&self) -> zbus::fdo::Result<u32> {
        Ok(self.engine.main_pid(&self.rec()?))
    }
    /// The last run's exit code; -1 until the container has exited once.
    #[zbus(property)]
    fn exit_code(&self) -> zbus::fdo::Result<i32> {
        Ok(self.rec()?.exit_code.unwrap_or(-1))
    }
    #[zbus(property)]
    fn started_at(&self) -> zbus::fdo::Result<u64> {
        Ok(self.rec()?.started_at)
    }
    #[zbus(property)]
    fn finished_at(&self) -> zbus::fdo::Result<u64> {
        Ok(self.rec()?.finished_at)
    }
    #[zbus(property)]
    fn restart_count(&self) -> zbus::fdo::Result<u32> {
        Ok(self.rec()?.restart_count)
    }
    #[zbus(property(emits_changed_signal = "const"))]
    fn created_at(&self) -> zbus::fdo::Result<u64> {
        Ok(self.rec()?.created_at)
    }
    #[zbus(property(emits_changed_signal = "const"))]
    fn command(&self) -> zbus::fdo::Result<Vec<String>> {
        Ok(self.rec()?.spec.command)
    }
    #[zbus(property(emits_changed_signal = "const"))]
    fn rootfs(&self) -> zbus::fdo::Result<String> {
        Ok(self.rec()?.spec.rootfs.to_string_lossy().into_owned())
    }
    /// The image it is made from, as named at create ("" for a Rootfs
    /// container).
    #[zbus(property(emits_changed_signal = "const"))]
    fn image(&self) -> zbus::fdo::Result<String> {
        Ok(self.rec()?.spec.image.unwrap_or_default())
    }
    /// That image's id ("" for a Rootfs container).
    #[zbus(property(emits_changed_signal = "const"), name = "ImageID")]
    fn image_id(&self) -> zbus::fdo::Result<String> {
        Ok(self.rec()?.image_id.unwrap_or_default())
    }
    /// `container` when the container sends READY=1 itself, `healthy` when
    /// its first passing health check makes it ready, else `started`.
    #[zbus(property(emits_changed_signal = "const"))]
    fn notify_mode(&self) -> zbus::fdo::Result<String> {
        let spec = self.rec()?.spec;
        Ok(if spec.notify { "container" } else if spec.notify_healthy { "healthy" } else { "started" }.into())
    }
    /// Its health status in this run: starting, healthy or unhealthy; ""
    /// without a health check. Changes are `health_status` events.
    #[zbus(property(emits_changed_signal = "false"))]
    fn health(&self) -> zbus::fdo::Result<String> {
        let rec = self.rec()?;
        Ok(match rec.spec.health {
            Some(_) => self.engine.health_of(&rec).status.to_string(),
            None => String::new(),
        })
    }
    #[zbus(property(emits_changed_signal = "const"))]
    fn stop_signal(&self) -> zbus::fdo::Result<String> {
        Ok(signal_name(self.rec()?.spec.stop_signal))
    }
    #[zbus(property(emits_changed_signal = "const"))]
    fn stop_timeout_sec(&self) -> zbus::fdo::Result<u32> {
        Ok(self.rec()?.spec.stop_timeout)
    }
    #[zbus(property(emits_changed_signal = "const"))]
    fn restart_policy(&self) -> zbus::fdo::Result<String> {
        Ok(self.rec()?.spec.restart_policy.to_string())
    }
    #[zbus(property(emits_changed_signal = "const"))]
    fn dependencies(&self) -> zbus::fdo::Result<Vec<String>> {
        Ok(self.rec()?.spec.dependencies.iter().map(|d| d.to_string()).collect())
    }
    #[zbus(property(emits_changed_signal = "const"))]
    fn labels(&self) -> zbus::fdo::Result<HashMap<String, String>> {
        Ok(self.rec()?.spec.labels.into_iter().collect())
    }
}
