//! A client of berthd's D-Bus API, shared by berthctl and the C ABI. It
//! links no daemon code: what it reads back are the model's types.

mod files;
mod kube;
mod proxy;

pub use proxy::{ContainerProxy, ManagerProxy};

use crate::model::{
    ContainerInfo, Error, ErrorKind, EventOptions, ExecConfig, ExecSessionInfo, ImageDetails, ImageInfo, LogOptions,
    NetworkCreateOptions, NetworkInfo, OptionValue, Result, State, VolumeInfo,
};
use std::collections::{BTreeMap, HashMap};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;
use zbus::{Connection, OwnedVariant, Variant};

/// The method a refused call named, from the bus's policy text
/// (`... member="StartContainer" ...`).
fn refused_member(text: &str) -> Option<&str> {
    let rest = &text[text.find("member=\"")? + 8..];
    Some(&rest[..rest.find('"')?])
}

fn access_denied(text: &str) -> Error {
    let message = match refused_member(text) {
        Some(m) => format!("only root may call {m}"),
        None if text.is_empty() => "only root may change containers".to_string(),
        None => text.to_string(),
    };
    Error::AccessDenied { message }
}

/// A D-Bus error back into berth's error: berthd's named errors keep their
/// kind and text; the bus's own become AccessDenied or Bus.
pub fn from_bus(e: zbus::Error) -> Error {
    match e {
        zbus::Error::MethodError(name, msg, _) => {
            let msg = msg.unwrap_or_default();
            match ErrorKind::from_dbus_name(name.as_str()) {
                Some(ErrorKind::AccessDenied) => access_denied(&msg),
                Some(kind) => Error::Remote { kind, message: msg },
                None if name.as_str() == "org.freedesktop.DBus.Error.ServiceUnknown" => {
                    Error::Bus { message: format!("berthd is not running and could not be started: {msg}") }
                }
                None => Error::Bus { message: format!("{}: {msg}", name.as_str()) },
            }
        }
        zbus::Error::FDO(e) => match *e {
            zbus::fdo::Error::AccessDenied(m) => access_denied(&m),
            zbus::fdo::Error::ServiceUnknown(m) => {
                Error::Bus { message: format!("berthd is not running and could not be started: {m}") }
            }
            e => Error::Bus { message: e.to_string() },
        },
        zbus::Error::Address(m) => Error::invalid("address", format!("bad D-Bus address: {m}")),
        e => Error::Bus { message: format!("D-Bus: {e}") },
    }
}

/// A property read of a container object that was removed between finding
/// its path and reading it: the container is gone, not the bus.
fn gone_or(name: &str, e: zbus::Error) -> Error {
    let unknown = match &e {
        zbus::Error::FDO(f) => matches!(**f, zbus::fdo::Error::UnknownObject(_) | zbus::fdo::Error::UnknownInterface(_)),
        zbus::Error::MethodError(n, _, _) => n.as_str().ends_with(".UnknownObject") || n.as_str().ends_with(".UnknownInterface"),
        _ => false,
    };
    if unknown {
        Error::NoSuchContainer { name: name.to_string() }
    } else {
        from_bus(e)
    }
}

fn variant(v: &OptionValue) -> OwnedVariant {
    let v: Variant = match v {
        OptionValue::Str(s) => s.clone().into(),
        OptionValue::StrList(l) => l.clone().into(),
        OptionValue::Bool(b) => (*b).into(),
        OptionValue::U32(n) => (*n).into(),
        OptionValue::U64(n) => (*n).into(),
        OptionValue::StrMap(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>().into(),
    };
    OwnedVariant::try_from(v).expect("plain values hold no file descriptors")
}

pub fn variants(options: &BTreeMap<String, OptionValue>) -> HashMap<String, OwnedVariant> {
    options.iter().map(|(k, v)| (k.clone(), variant(v))).collect()
}

/// One row of ListContainers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub id: String,
    pub state: State,
    pub path: String,
}

/// On the wire, the container's own stop timeout is DEFAULT_TIMEOUT.
fn timeout(t: Option<u32>) -> u32 {
    t.unwrap_or(crate::model::DEFAULT_TIMEOUT)
}

fn parse_state(s: &str) -> Result<State> {
    s.parse().map_err(|_| Error::Bus { message: format!("berthd answered an unknown state {s:?}") })
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::Bus { message: format!("berthd's {what} is not what this client reads: {e}") })
}

/// What an attach joins: which streams, and the detach keys (podman's
/// notation; empty: ctrl-p,ctrl-q; `none`: none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub detach_keys: String,
}

impl Default for Streams {
    /// stdout and stderr, the default detach keys.
    fn default() -> Self {
        Streams { stdin: false, stdout: true, stderr: true, detach_keys: String::new() }
    }
}

/// A descriptor received over D-Bus, owned, and closed on exec (zbus
/// receives descriptors without MSG_CMSG_CLOEXEC).
fn owned(fd: zbus::OwnedFd) -> Result<OwnedFd> {
    let fd: OwnedFd = fd.into();
    let cloexec = nix::fcntl::FdFlag::FD_CLOEXEC;
    nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFD(cloexec))
        .map_err(|e| Error::Bus { message: format!("the descriptor berthd sent: {e}") })?;
    Ok(fd)
}

#[derive(Clone)]
pub struct Client {
    conn: Connection,
    manager: ManagerProxy<'static>,
}

impl Client {
    /// Connect to berthd on the system bus (bus-activating it if needed).
    pub async fn system() -> Result<Self> {
        Self::with(Connection::system().await.map_err(from_bus)?).await
    }

    /// Connect through a bus at `address` (a D-Bus address string), or the
    /// system bus when None.
    pub async fn connect(address: Option<&str>) -> Result<Self> {
        let conn = match address {
            None => Connection::system().await,
            Some(a) => zbus::connection::Builder::address(a).build().await,
        };
        Self::with(conn.map_err(from_bus)?).await
    }

    pub async fn with(conn: Connection) -> Result<Self> {
        let manager = ManagerProxy::new(&conn).await.map_err(from_bus)?;
        Ok(Client { conn, manager })
    }

    pub fn manager(&self) -> &ManagerProxy<'static> {
        &self.manager
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    pub async fn create(&self, name: &str, options: &BTreeMap<String, OptionValue>) -> Result<String> {
        let p = self.manager.create_container(name, variants(options)).await.map_err(from_bus)?;
        Ok(p.to_string())
    }
    /// Every container, ordered by name.
    pub async fn list(&self) -> Result<Vec<Listed>> {
        let l = self.manager.list_containers().await.map_err(from_bus)?;
        l.into_iter()
            .map(|(name, id, state, path)| Ok(Listed { name, id, state: parse_state(&state)?, path: path.to_string() }))
            .collect()
    }
    /// Every container's description in one call (what `ps` shows).
    pub async fn list_info(&self) -> Result<Vec<ContainerInfo>> {
        parse_json("container list", &self.manager.list_container_info().await.map_err(from_bus)?)
    }
    pub async fn object_path(&self, name: &str) -> Result<String> {
        Ok(self.manager.get_container(name).await.map_err(from_bus)?.to_string())
    }
    /// The container's description as berthd sends it (JSON).
    pub async fn inspect_json(&self, name: &str) -> Result<String> {
        self.manager.inspect_container(name).await.map_err(from_bus)
    }
    pub async fn info(&self, name: &str) -> Result<ContainerInfo> {
        parse_json("inspect", &self.inspect_json(name).await?)
    }
    async fn container(&self, name: &str) -> Result<ContainerProxy<'static>> {
        let path = self.manager.get_container(name).await.map_err(from_bus)?;
        self.container_at(&path).await
    }
    async fn container_at(&self, path: &str) -> Result<ContainerProxy<'static>> {
        let path = zbus::OwnedObjectPath::try_from(path.to_string())
            .map_err(|e| Error::Bus { message: format!("bad object path {path:?}: {e}") })?;
        ContainerProxy::builder(&self.conn)
            .path(path)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .map_err(from_bus)
    }
    /// The name of the container at an object path (CreateContainer's answer).
    pub async fn name_at(&self, path: &str) -> Result<String> {
        self.container_at(path).await?.name().await.map_err(from_bus)
    }
    /// The id of the container at an object path.
    pub async fn id_at(&self, path: &str) -> Result<String> {
        self.container_at(path).await?.id().await.map_err(from_bus)
    }
    pub async fn state(&self, name: &str) -> Result<State> {
        parse_state(&self.container(name).await?.state().await.map_err(|e| gone_or(name, e))?)
    }
    /// The last run's exit code; -1 until the container has exited once.
    pub async fn exit_code(&self, name: &str) -> Result<i32> {
        self.container(name).await?.exit_code().await.map_err(|e| gone_or(name, e))
    }
    pub async fn init(&self, name: &str, recursive: bool) -> Result<()> {
        self.manager.init_container(name, recursive).await.map_err(from_bus)
    }
    pub async fn start(&self, name: &str, recursive: bool) -> Result<()> {
        self.manager.start_container(name, recursive).await.map_err(from_bus)
    }
    pub async fn stop(&self, name: &str, t: Option<u32>) -> Result<()> {
        self.manager.stop_container(name, timeout(t)).await.map_err(from_bus)
    }
    pub async fn kill(&self, name: &str, signal: i32) -> Result<()> {
        self.manager.kill_container(name, signal).await.map_err(from_bus)
    }
    pub async fn restart(&self, name: &str, t: Option<u32>) -> Result<()> {
        self.manager.restart_container(name, timeout(t)).await.map_err(from_bus)
    }
    /// Run the container's health check now; this check's result.
    pub async fn healthcheck_run(&self, name: &str) -> Result<crate::model::HealthStatus> {
        let s = self.manager.healthcheck_run(name).await.map_err(from_bus)?;
        crate::model::HealthStatus::parse(&s)
            .ok_or_else(|| Error::internal(format!("berthd answered a health check with {s:?}, which is no health status")))
    }
    pub async fn pause(&self, name: &str) -> Result<()> {
        self.manager.pause_container(name).await.map_err(from_bus)
    }
    pub async fn unpause(&self, name: &str) -> Result<()> {
        self.manager.unpause_container(name).await.map_err(from_bus)
    }
    pub async fn update(&self, name: &str, resources: &BTreeMap<String, OptionValue>) -> Result<()> {
        self.manager.update_container(name, variants(resources)).await.map_err(from_bus)
    }
    pub async fn sync(&self, name: &str) -> Result<()> {
        self.manager.sync_container(name).await.map_err(from_bus)
    }
    pub async fn cleanup(&self, name: &str) -> Result<()> {
        self.manager.cleanup_container(name).await.map_err(from_bus)
    }
    pub async fn remove(&self, name: &str, force: bool, t: Option<u32>) -> Result<()> {
        self.manager.remove_container(name, force, timeout(t)).await.map_err(from_bus)
    }

    /// Set a running container's network up again, same addresses and ports.
    pub async fn reload_network(&self, name: &str) -> Result<()> {
        self.manager.reload_network(name).await.map_err(from_bus)
    }
    /// ReloadNetwork of every running bridged container; the names reloaded.
    pub async fn reload_networks(&self) -> Result<Vec<String>> {
        self.manager.reload_networks().await.map_err(from_bus)
    }
    pub async fn create_network(&self, name: &str, o: &NetworkCreateOptions) -> Result<NetworkInfo> {
        parse_json("network", &self.create_network_json(name, o).await?)
    }
    /// CreateNetwork's answer as berthd sends it (JSON).
    pub async fn create_network_json(&self, name: &str, o: &NetworkCreateOptions) -> Result<String> {
        self.manager.create_network(name, variants(&o.to_options())).await.map_err(from_bus)
    }
    pub async fn list_networks(&self) -> Result<Vec<NetworkInfo>> {
        parse_json("network list", &self.list_networks_json().await?)
    }
    pub async fn list_networks_json(&self) -> Result<String> {
        self.manager.list_networks().await.map_err(from_bus)
    }
    pub async fn inspect_network(&self, name: &str) -> Result<NetworkInfo> {
        parse_json("network", &self.inspect_network_json(name).await?)
    }
    pub async fn inspect_network_json(&self, name: &str) -> Result<String> {
        self.manager.inspect_network(name).await.map_err(from_bus)
    }
    pub async fn remove_network(&self, name: &str) -> Result<()> {
        self.manager.remove_network(name).await.map_err(from_bus)
    }
    /// The container's published ports as `podman port` prints them
    /// (`80/tcp -> 0.0.0.0:8080`); none unless it runs.
    pub async fn ports(&self, name: &str) -> Result<Vec<String>> {
        Ok(crate::model::network::port_lines(&self.info(name).await?.ports))
    }

    /// Stream the container's output into `fd` (see the Logs method).
    pub async fn logs(&self, name: &str, fd: BorrowedFd<'_>, o: &LogOptions) -> Result<()> {
        self.manager.logs_container(name, zbus::Fd::from(fd), variants(&o.to_options())).await.map_err(from_bus)
    }

    /// Stream events into `fd`, one JSON object per line (see the Events
    /// method).
    pub async fn events(&self, fd: BorrowedFd<'_>, o: &EventOptions) -> Result<()> {
        self.manager.events(zbus::Fd::from(fd), variants(&o.to_options())).await.map_err(from_bus)
    }

    /// A connection to the running container's streams (the attach
    /// stream, `model::attach`); berthd is not in its path.
    pub async fn attach(&self, name: &str, s: &Streams) -> Result<OwnedFd> {
        owned(self.manager.attach_container(name, s.stdin, s.stdout, s.stderr, &s.detach_keys).await.map_err(from_bus)?)
    }

    /// Start the container with this caller attached before it runs.
    pub async fn start_and_attach(&self, name: &str, recursive: bool, s: &Streams) -> Result<OwnedFd> {
        let fd = self.manager.start_and_attach_container(name, recursive, s.stdin, s.stdout, s.stderr, &s.detach_keys).await;
        owned(fd.map_err(from_bus)?)
    }

    /// Set the container's terminal size.
    pub async fn attach_resize(&self, name: &str, rows: u16, cols: u16) -> Result<()> {
        self.manager.attach_resize_container(name, rows, cols).await.map_err(from_bus)
    }

    /// Create an exec session in the running container; its id.
    pub async fn exec_create(&self, name: &str, config: &ExecConfig) -> Result<String> {
        self.manager.exec_create(name, variants(&config.to_options())).await.map_err(from_bus)
    }

    /// Start an exec session detached.
    pub async fn exec_start(&self, name: &str, session: &str) -> Result<()> {
        self.manager.exec_start(name, session).await.map_err(from_bus)
    }

    /// Start an exec session with this caller attached.
    pub async fn exec_start_and_attach(&self, name: &str, session: &str, s: &Streams) -> Result<OwnedFd> {
        let fd = self.manager.exec_start_and_attach(name, session, s.stdin, s.stdout, s.stderr, &s.detach_keys).await;
        owned(fd.map_err(from_bus)?)
    }

    pub async fn exec_resize(&self, name: &str, session: &str, rows: u16, cols: u16) -> Result<()> {
        self.manager.exec_resize(name, session, rows, cols).await.map_err(from_bus)
    }

    pub async fn exec_inspect(&self, name: &str, session: &str) -> Result<ExecSessionInfo> {
        parse_json("exec session", &self.manager.exec_inspect(name, session).await.map_err(from_bus)?)
    }

    pub async fn exec_list(&self, name: &str) -> Result<Vec<ExecSessionInfo>> {
        parse_json("exec session list", &self.manager.exec_list(name).await.map_err(from_bus)?)
    }

    /// Wait for an exec session's end; its exit code.
    pub async fn exec_wait(&self, name: &str, session: &str, t: Option<Duration>) -> Result<i32> {
        let usec = t.map(|d| d.as_micros().max(1) as u64).unwrap_or(0);
        self.manager.exec_wait(name, session, usec).await.map_err(from_bus)
    }

    /// Mount the container's root file system; its path on the host.
    pub async fn mount(&self, name: &str) -> Result<String> {
        self.manager.mount_container(name).await.map_err(from_bus)
    }
    /// Release one mount (or with `force` every one).
    pub async fn unmount(&self, name: &str, force: bool) -> Result<()> {
        self.manager.unmount_container(name, force).await.map_err(from_bus)
    }
    /// Write the container's root file system into `fd` as tar.
    pub async fn export(&self, name: &str, fd: BorrowedFd<'_>) -> Result<()> {
        self.manager.export_container(name, zbus::Fd::from(fd)).await.map_err(from_bus)
    }

    /// Import the image archive `fd` holds (read to its end); `name` names
    /// a root file system tarball's image. Returns the images' ids.
    pub async fn import_image(&self, fd: BorrowedFd<'_>, name: Option<&str>) -> Result<Vec<String>> {
        let mut o = BTreeMap::new();
        if let Some(n) = name {
            o.insert("Name".to_string(), OptionValue::Str(n.to_string()));
        }
        self.manager.import_image(zbus::Fd::from(fd), variants(&o)).await.map_err(from_bus)
    }
    /// Every image as berthd sends the list (JSON).
    pub async fn list_images_json(&self) -> Result<String> {
        self.manager.list_images().await.map_err(from_bus)
    }
    pub async fn list_images(&self) -> Result<Vec<ImageInfo>> {
        parse_json("image list", &self.list_images_json().await?)
    }
    pub async fn inspect_image_json(&self, reference: &str) -> Result<String> {
        self.manager.inspect_image(reference).await.map_err(from_bus)
    }
    pub async fn inspect_image(&self, reference: &str) -> Result<ImageDetails> {
        parse_json("image inspect", &self.inspect_image_json(reference).await?)
    }
    pub async fn tag_image(&self, reference: &str, name: &str) -> Result<()> {
        self.manager.tag_image(reference, name).await.map_err(from_bus)
    }
    pub async fn untag_image(&self, reference: &str, name: &str) -> Result<()> {
        self.manager.untag_image(reference, name).await.map_err(from_bus)
    }
    pub async fn remove_image(&self, reference: &str, force: bool) -> Result<()> {
        self.manager.remove_image(reference, force).await.map_err(from_bus)
    }

    pub async fn create_volume(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<()> {
        let mut o = BTreeMap::new();
        if !labels.is_empty() {
            o.insert("Labels".to_string(), OptionValue::StrMap(labels.clone()));
        }
        self.manager.create_volume(name, variants(&o)).await.map_err(from_bus)
    }
    pub async fn list_volumes_json(&self) -> Result<String> {
        self.manager.list_volumes().await.map_err(from_bus)
    }
    pub async fn list_volumes(&self) -> Result<Vec<VolumeInfo>> {
        parse_json("volume list", &self.list_volumes_json().await?)
    }
    pub async fn inspect_volume_json(&self, name: &str) -> Result<String> {
        self.manager.inspect_volume(name).await.map_err(from_bus)
    }
    pub async fn inspect_volume(&self, name: &str) -> Result<VolumeInfo> {
        parse_json("volume inspect", &self.inspect_volume_json(name).await?)
    }
    pub async fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        self.manager.remove_volume(name, force).await.map_err(from_bus)
    }

    /// Wait for one of `conditions` (empty: stopped or exited); returns the
    /// exit code. zbus sets no timeout on method calls, so this can wait
    /// for as long as the container runs.
    pub async fn wait(&self, name: &str, conditions: &[State], t: Option<Duration>) -> Result<i32> {
        let conds: Vec<&str> = conditions.iter().map(|s| s.as_str()).collect();
        let usec = t.map(|d| d.as_micros().max(1) as u64).unwrap_or(0);
        self.manager.wait_container(name, &conds, usec).await.map_err(from_bus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_calls_read_as_one_sentence() {
        let policy = r#"Rejected send message, 2 matched rules; type="method_call", sender=":1.9" (uid=1000 pid=7 comm="berthctl") interface="org.berth.Berth1.Manager" member="StartContainer" error name="(unset)" requested_reply="0" destination="org.berth.Berth1" (uid=0 pid=5 comm="berthd")"#;
        let e = access_denied(policy);
        assert_eq!(e.to_string(), "access denied: only root may call StartContainer");
        assert_eq!(e.kind(), ErrorKind::AccessDenied);
    }

    #[test]
    fn a_vanished_object_is_no_such_container() {
        let e = gone_or("web", zbus::Error::FDO(Box::new(zbus::fdo::Error::UnknownObject("Unknown object '/x'".into()))));
        assert_eq!((e.kind(), e.to_string().as_str()), (ErrorKind::NoSuchContainer, "no such container: web"));
        let e = gone_or("web", zbus::Error::FDO(Box::new(zbus::fdo::Error::AccessDenied("m".into()))));
        assert_eq!(e.kind(), ErrorKind::AccessDenied);
    }

    #[test]
    fn named_errors_keep_their_kind_and_text_once() {
        let name = zbus::names::OwnedErrorName::try_from("org.berth.Berth1.Error.NoSuchContainer").unwrap();
        let e = from_bus(zbus::Error::MethodError(name, Some("no such container: x".into()), zbus::message::Message::method_call("/", "X").build(&()).unwrap()));
        assert_eq!((e.kind(), e.to_string().as_str()), (ErrorKind::NoSuchContainer, "no such container: x"));
    }
}
