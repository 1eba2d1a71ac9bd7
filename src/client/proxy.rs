//! Typed proxies of berth's own D-Bus API.

use std::collections::HashMap;
use zbus::{proxy, OwnedObjectPath, OwnedVariant};

#[proxy(
    interface = "org.berth.Berth1.Manager",
    default_service = "org.berth.Berth1",
    default_path = "/org/berth/Berth1"
)]
pub trait Manager {
    fn create_container(&self, name: &str, options: HashMap<String, OwnedVariant>) -> zbus::Result<OwnedObjectPath>;
    fn get_container(&self, name: &str) -> zbus::Result<OwnedObjectPath>;
    fn list_containers(&self) -> zbus::Result<Vec<(String, String, String, OwnedObjectPath)>>;
    fn remove_container(&self, name: &str, force: bool, timeout: u32) -> zbus::Result<()>;
    fn init_container(&self, name: &str, recursive: bool) -> zbus::Result<()>;
    fn start_container(&self, name: &str, recursive: bool) -> zbus::Result<()>;
    fn stop_container(&self, name: &str, timeout: u32) -> zbus::Result<()>;
    fn kill_container(&self, name: &str, signal: i32) -> zbus::Result<()>;
    fn restart_container(&self, name: &str, timeout: u32) -> zbus::Result<()>;
    fn pause_container(&self, name: &str) -> zbus::Result<()>;
    fn unpause_container(&self, name: &str) -> zbus::Result<()>;
    fn update_container(&self, name: &str, resources: HashMap<String, OwnedVariant>) -> zbus::Result<()>;
    fn wait_container(&self, name: &str, conditions: &[&str], timeout_usec: u64) -> zbus::Result<i32>;
    fn sync_container(&self, name: &str) -> zbus::Result<()>;
    fn healthcheck_run(&self, name: &str) -> zbus::Result<String>;
    fn cleanup_container(&self, name: &str) -> zbus::Result<()>;
    fn inspect_container(&self, name: &str) -> zbus::Result<String>;
    fn logs_container(&self, name: &str, fd: zbus::Fd<'_>, options: HashMap<String, OwnedVariant>) -> zbus::Result<()>;
    fn list_container_info(&self) -> zbus::Result<String>;
    fn events(&self, fd: zbus::Fd<'_>, options: HashMap<String, OwnedVariant>) -> zbus::Result<()>;
    fn attach_container(&self, name: &str, stdin: bool, stdout: bool, stderr: bool, detach_keys: &str) -> zbus::Result<zbus::OwnedFd>;
    #[allow(clippy::too_many_arguments)]
    fn start_and_attach_container(
        &self,
        name: &str,
        recursive: bool,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        detach_keys: &str,
    ) -> zbus::Result<zbus::OwnedFd>;
    fn attach_resize_container(&self, name: &str, rows: u16, cols: u16) -> zbus::Result<()>;
    fn exec_create(&self, name: &str, options: HashMap<String, OwnedVariant>) -> zbus::Result<String>;
    fn exec_start(&self, name: &str, session: &str) -> zbus::Result<()>;
    #[allow(clippy::too_many_arguments)]
    fn exec_start_and_attach(
        &self,
        name: &str,
        session: &str,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        detach_keys: &str,
    ) -> zbus::Result<zbus::OwnedFd>;
    fn exec_resize(&self, name: &str, session: &str, rows: u16, cols: u16) -> zbus::Result<()>;
    fn exec_inspect(&self, name: &str, session: &str) -> zbus::Result<String>;
    fn exec_list(&self, name: &str) -> zbus::Result<String>;
    fn exec_wait(&self, name: &str, session: &str, timeout_usec: u64) -> zbus::Result<i32>;

    #[zbus(signal)]
    fn exec_died(&self, name: String, session: String, exit_code: i32) -> zbus::Result<()>;
    fn reload_network(&self, name: &str) -> zbus::Result<()>;
    fn reload_networks(&self) -> zbus::Result<Vec<String>>;
    fn create_network(&self, name: &str, options: HashMap<String, OwnedVariant>) -> zbus::Result<String>;
    fn list_networks(&self) -> zbus::Result<String>;
    fn inspect_network(&self, name: &str) -> zbus::Result<String>;
    fn remove_network(&self, name: &str) -> zbus::Result<()>;
    fn mount_container(&self, name: &str) -> zbus::Result<String>;
    fn unmount_container(&self, name: &str, force: bool) -> zbus::Result<()>;
    fn export_container(&self, name: &str, fd: zbus::Fd<'_>) -> zbus::Result<()>;
    fn stat_container(&self, name: &str, path: &str, follow: bool) -> zbus::Result<String>;
    fn copy_from_archive(&self, name: &str, path: &str, fd: zbus::Fd<'_>, options: HashMap<String, OwnedVariant>) -> zbus::Result<u64>;
    fn copy_to_archive(&self, name: &str, path: &str, fd: zbus::Fd<'_>) -> zbus::Result<u64>;
    fn add_artifact(&self, name: &str, artifact: &str, fd: zbus::Fd<'_>) -> zbus::Result<u64>;
    fn get_artifact(&self, name: &str, artifact: &str, fd: zbus::Fd<'_>) -> zbus::Result<u64>;
    fn remove_artifact(&self, name: &str, artifact: &str) -> zbus::Result<()>;
    fn list_artifacts(&self, name: &str) -> zbus::Result<Vec<String>>;
    fn import_image(&self, fd: zbus::Fd<'_>, options: HashMap<String, OwnedVariant>) -> zbus::Result<Vec<String>>;
    fn list_images(&self) -> zbus::Result<String>;
    fn inspect_image(&self, reference: &str) -> zbus::Result<String>;
    fn tag_image(&self, reference: &str, name: &str) -> zbus::Result<()>;
    fn untag_image(&self, reference: &str, name: &str) -> zbus::Result<()>;
    fn remove_image(&self, reference: &str, force: bool) -> zbus::Result<()>;
    fn create_volume(&self, name: &str, options: HashMap<String, OwnedVariant>) -> zbus::Result<()>;
    fn list_volumes(&self) -> zbus::Result<String>;
    fn inspect_volume(&self, name: &str) -> zbus::Result<String>;
    fn remove_volume(&self, name: &str, force: bool) -> zbus::Result<()>;
    fn generate_kube(&self, names: &[String], options: HashMap<String, OwnedVariant>) -> zbus::Result<String>;
    fn play_kube(&self, yaml: &str, options: HashMap<String, OwnedVariant>) -> zbus::Result<Vec<String>>;
    fn down_kube(&self, yaml: &str) -> zbus::Result<Vec<String>>;

    #[zbus(signal)]
    fn event(&self, name: String, id: String, event: String, usec: u64) -> zbus::Result<()>;
    #[zbus(signal)]
    fn container_new(&self, name: String, path: OwnedObjectPath) -> zbus::Result<()>;
    #[zbus(signal)]
    fn container_removed(&self, name: String, path: OwnedObjectPath) -> zbus::Result<()>;

    #[zbus(property)]
    fn version(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn runtime(&self) -> zbus::Result<String>;
}

#[proxy(interface = "org.berth.Berth1.Container", default_service = "org.berth.Berth1")]
pub trait Container {
    #[zbus(property)]
    fn name(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn id(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn state(&self) -> zbus::Result<String>;
    #[zbus(property, name = "MainPID")]
    fn main_pid(&self) -> zbus::Result<u32>;
    #[zbus(property)]
    fn exit_code(&self) -> zbus::Result<i32>;
    #[zbus(property)]
    fn started_at(&self) -> zbus::Result<u64>;
    #[zbus(property)]
    fn finished_at(&self) -> zbus::Result<u64>;
    #[zbus(property)]
    fn restart_count(&self) -> zbus::Result<u32>;
}
