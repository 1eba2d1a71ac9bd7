//! The methods that hand out streams and run exec sessions, shared by the
//! Manager (by container name) and the container objects: Attach,
//! StartAndAttach, AttachResize and the Exec* methods. Streams go back as
//! a file descriptor (`h`): a connection to the container's monitor, so
//! berthd leaves the data path once it has answered (as machined's
//! OpenPTY). Root only, by the bus policy and again here.

use super::clients::{unless_gone, Clients, Slot};
use super::error::BusError;
use super::options::from_variants_plain;
use crate::engine::{AttachOptions, Engine};
use crate::model::{Error, ExecSessionInfo};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use zbus::message::Header;
use zbus::OwnedVariant;

type Result<T> = std::result::Result<T, BusError>;

/// Refuse callers other than root (the bus policy does too; this holds if
/// the policy is loosened by mistake).
pub(crate) async fn root_only(clients: &Arc<Clients>, header: &Header<'_>, method: &str) -> Result<()> {
    if clients.is_root(header).await {
        Ok(())
    } else {
        Err(Error::AccessDenied { message: format!("only root may call {method}") }.into())
    }
}

pub(crate) fn attach_options(stdin: bool, stdout: bool, stderr: bool, detach_keys: String) -> AttachOptions {
    AttachOptions { stdin, stdout, stderr, detach_keys }
}

fn fd(f: std::os::fd::OwnedFd) -> zbus::OwnedFd {
    zbus::OwnedFd::from(f)
}

pub(crate) async fn attach(engine: &Engine, name: &str, o: AttachOptions) -> Result<zbus::OwnedFd> {
    Ok(fd(engine.attach(name, &o).await?))
}

pub(crate) async fn start_and_attach(engine: &Engine, name: &str, recursive: bool, o: AttachOptions) -> Result<zbus::OwnedFd> {
    Ok(fd(engine.start_and_attach(name, recursive, &o).await?))
}

pub(crate) async fn attach_resize(engine: &Engine, name: &str, rows: u16, cols: u16) -> Result<()> {
    Ok(engine.attach_resize(name, rows, cols).await?)
}

pub(crate) async fn exec_create(engine: &Engine, name: &str, options: HashMap<String, OwnedVariant>) -> Result<String> {
    Ok(engine.exec_create(name, &from_variants_plain(options)?).await?)
}

pub(crate) async fn exec_start(engine: &Engine, name: &str, session: &str) -> Result<()> {
    engine.exec_start(name, session, None).await?;
    Ok(())
}

pub(crate) async fn exec_start_and_attach(engine: &Engine, name: &str, session: &str, o: AttachOptions) -> Result<zbus::OwnedFd> {
    match engine.exec_start(name, session, Some(&o)).await? {
        Some(f) => Ok(fd(f)),
        None => Err(Error::internal("an attached exec start gave no connection").into()),
    }
}

pub(crate) async fn exec_resize(engine: &Engine, name: &str, session: &str, rows: u16, cols: u16) -> Result<()> {
    Ok(engine.exec_resize(name, session, rows, cols).await?)
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).expect("session descriptions serialize")
}

pub(crate) async fn exec_inspect(engine: &Engine, name: &str, session: &str) -> Result<String> {
    Ok(json(&engine.exec_inspect(name, session).await?))
}

pub(crate) async fn exec_list(engine: &Engine, name: &str) -> Result<String> {
    let all: Vec<ExecSessionInfo> = engine.exec_list(name).await?;
    Ok(json(&all))
}

/// Wait for the session's end (a long call, limited per user like Wait).
pub(crate) async fn exec_wait(
    engine: &Engine,
    clients: &Arc<Clients>,
    header: &Header<'_>,
    name: &str,
    session: &str,
    timeout_usec: u64,
) -> Result<i32> {
    let timeout = (timeout_usec > 0).then(|| Duration::from_micros(timeout_usec));
    let ticket = clients.enter(header, Slot::Wait).await?;
    Ok(unless_gone(ticket, engine.exec_wait(name, session, timeout)).await?)
}
