//! A client of berthd's D-Bus API, shared by berthctl and the C ABI.

mod proxy;

pub use proxy::{ContainerProxy, ManagerProxy};

use crate::model::{Error, OptionValue, Result, State};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use zbus::{Connection, OwnedVariant, Variant};

pub const ERROR_PREFIX: &str = "org.berth.Berth1.Error.";

/// A D-Bus error back into berth's error (named errors keep their name).
pub fn from_bus(e: zbus::Error) -> Error {
    match e {
        zbus::Error::MethodError(name, msg, _) => {
            let msg = msg.unwrap_or_default();
            match name.as_str().strip_prefix(ERROR_PREFIX) {
                Some(n) => Error::from_name(n, msg),
                None if name.as_str() == "org.freedesktop.DBus.Error.AccessDenied" => {
                    Error::Internal(format!("access denied: {msg} (changing containers needs root)"))
                }
                None if name.as_str() == "org.freedesktop.DBus.Error.ServiceUnknown" => {
                    Error::Internal(format!("berthd is not running and could not be started: {msg}"))
                }
                None => Error::Internal(format!("{}: {msg}", name.as_str())),
            }
        }
        zbus::Error::FDO(e) => match *e {
            zbus::fdo::Error::AccessDenied(m) => Error::Internal(format!("access denied: {m} (changing containers needs root)")),
            zbus::fdo::Error::ServiceUnknown(m) => Error::Internal(format!("berthd is not running and could not be started: {m}")),
            e => Error::Internal(e.to_string()),
        },
        e => Error::Internal(format!("D-Bus: {e}")),
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
    pub state: String,
    pub path: String,
}

/// `u32::MAX` on the wire: the container's own stop timeout.
fn timeout(t: Option<u32>) -> u32 {
    t.unwrap_or(u32::MAX)
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

    /// Connect through a bus at `address` (a D-Bus address string).
    pub async fn at_address(address: &str) -> Result<Self> {
        let conn = zbus::connection::Builder::address(address)
            .build()
            .await
            .map_err(from_bus)?;
        Self::with(conn).await
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
    pub async fn list(&self) -> Result<Vec<Listed>> {
        let l = self.manager.list_containers().await.map_err(from_bus)?;
        Ok(l.into_iter().map(|(name, id, state, path)| Listed { name, id, state, path: path.to_string() }).collect())
    }
    pub async fn object_path(&self, name: &str) -> Result<String> {
        Ok(self.manager.get_container(name).await.map_err(from_bus)?.to_string())
    }
    pub async fn inspect(&self, name: &str) -> Result<String> {
        self.manager.inspect_container(name).await.map_err(from_bus)
    }
    /// The parsed inspect JSON.
    pub async fn inspect_value(&self, name: &str) -> Result<serde_json::Value> {
        serde_json::from_str(&self.inspect(name).await?).map_err(|e| Error::Internal(e.to_string()))
    }
    pub async fn state(&self, name: &str) -> Result<State> {
        let v = self.inspect_value(name).await?;
        v["State"]["Status"].as_str().unwrap_or_default().parse()
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

    /// Stream the container's output into `fd` (see the Logs method).
    pub async fn logs(&self, name: &str, fd: std::os::fd::BorrowedFd<'_>, o: &crate::engine::LogOptions) -> Result<()> {
        let mut m: BTreeMap<String, OptionValue> = BTreeMap::new();
        let b = |v: bool| OptionValue::Bool(v);
        m.insert("Follow".into(), b(o.follow));
        m.insert("Timestamps".into(), b(o.timestamps));
        m.insert("Stdout".into(), b(o.stdout));
        m.insert("Stderr".into(), b(o.stderr));
        for (k, v) in [("Since", o.since), ("Until", o.until), ("Tail", o.tail)] {
            if let Some(v) = v {
                m.insert(k.into(), OptionValue::U64(v));
            }
        }
        self.manager.logs_container(name, zbus::Fd::from(fd), variants(&m)).await.map_err(from_bus)
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
