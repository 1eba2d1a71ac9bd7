//! The callers of long calls (Wait, Logs, Events, ImportImage, Export,
//! copies and artifacts): how many each user has
//! outstanding, with a limit, and when a caller's connection goes away, so
//! that its calls end and their memory is given back. No client can make
//! berthd hold more than its share, nor keep anything after it left.

use crate::model::{Error, Result};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use zbus::message::Header;
use zbus::Connection;

/// The kinds of long calls, each with its own limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// A Wait.
    Wait,
    /// A Logs or Events stream, an image import, a container export, a
    /// copy into or out of a container, an artifact read or written.
    Stream,
}

impl Slot {
    fn what(self) -> &'static str {
        match self {
            Slot::Wait => "waits",
            Slot::Stream => "streams (logs, events, imports, exports, copies)",
        }
    }

    /// Outstanding calls of this kind one user may have.
    fn limit(self, root: bool) -> usize {
        match (self, root) {
            (Slot::Wait, false) => 64,
            (Slot::Stream, false) => 16,
            (Slot::Wait, true) => 4096,
            (Slot::Stream, true) => 256,
        }
    }
}

#[derive(Default)]
struct Table {
    /// Unique bus name -> uid, and a channel that says when it left.
    callers: HashMap<String, (u32, watch::Sender<bool>)>,
    /// (uid, slot) -> outstanding calls.
    counts: HashMap<(u32, bool), usize>,
}

pub struct Clients {
    dbus: zbus::fdo::DBusProxy<'static>,
    table: Mutex<Table>,
}

/// One outstanding long call; dropping it gives the slot back.
pub struct Ticket {
    clients: Arc<Clients>,
    uid: u32,
    slot: Slot,
    gone: watch::Receiver<bool>,
}

impl Ticket {
    /// Resolves when the caller's connection has gone away.
    pub async fn gone(&mut self) {
        // An error means the caller's entry was dropped: it is gone.
        let _ = self.gone.wait_for(|g| *g).await;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut t = self.clients.table.lock().unwrap();
        let key = (self.uid, self.slot == Slot::Wait);
        if let Some(n) = t.counts.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                t.counts.remove(&key);
            }
        }
        if t.counts.is_empty() {
            drop(t);
            trim_memory_soon();
        }
    }
}

/// Give freed memory back to the system (glibc keeps it otherwise), once
/// the calls that just ended are freed too: the last ticket goes before
/// the rest of its call (and the other cancelled calls) is dropped.
fn trim_memory_soon() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static PENDING: AtomicBool = AtomicBool::new(false);
    let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
    if PENDING.swap(true, Ordering::AcqRel) {
        return;
    }
    rt.spawn(async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        PENDING.store(false, Ordering::Release);
        // SAFETY: malloc_trim only walks the allocator's own free lists.
        let _ = tokio::task::spawn_blocking(|| unsafe { nix::libc::malloc_trim(0) }).await;
    });
}

impl Clients {
    /// Follow callers' departures on `conn`'s bus.
    pub async fn new(conn: &Connection) -> zbus::Result<Arc<Self>> {
        // One proxy for the callers' uids, without a property cache.
        let dbus = zbus::fdo::DBusProxy::builder(conn).cache_properties(zbus::proxy::CacheProperties::No).build().await?;
        let mut left = dbus.receive_name_owner_changed().await?;
        let clients = Arc::new(Clients { dbus, table: Mutex::default() });
        let weak = Arc::downgrade(&clients);
        tokio::spawn(async move {
            while let Some(sig) = left.next().await {
                let Ok(a) = sig.args() else { continue };
                if a.new_owner().is_some() || !a.name().starts_with(':') {
                    continue;
                }
                let Some(clients) = weak.upgrade() else { return };
                let entry = clients.table.lock().unwrap().callers.remove(a.name().as_str());
                if let Some((_, gone)) = entry {
                    // Its calls end now; nobody listening is fine.
                    let _ = gone.send(true);
                }
            }
        });
        Ok(clients)
    }

    /// The caller's unique name and uid (asked of the bus once per caller).
    async fn caller(&self, header: &Header<'_>) -> Result<(String, u32, watch::Receiver<bool>)> {
        let sender = header.sender().ok_or_else(|| Error::internal("a call without a sender"))?.to_string();
        if let Some((uid, gone)) = self.table.lock().unwrap().callers.get(&sender) {
            return Ok((sender, *uid, gone.subscribe()));
        }
        let name = zbus::names::BusName::try_from(sender.as_str()).map_err(|e| Error::internal(e.to_string()))?;
        let uid = self.dbus.get_connection_unix_user(name).await.map_err(|e| Error::internal(format!("who is calling: {e}")))?;
        let mut t = self.table.lock().unwrap();
        let (_, gone) = t.callers.entry(sender.clone()).or_insert_with(|| (uid, watch::channel(false).0));
        Ok((sender, uid, gone.subscribe()))
    }

    /// Whether the caller is root.
    pub async fn is_root(&self, header: &Header<'_>) -> bool {
        matches!(self.caller(header).await, Ok((_, 0, _)))
    }

    /// Take a slot for a long call, or LimitExceeded.
    pub async fn enter(self: &Arc<Self>, header: &Header<'_>, slot: Slot) -> Result<Ticket> {
        let (_, uid, gone) = self.caller(header).await?;
        let limit = slot.limit(uid == 0);
        let mut t = self.table.lock().unwrap();
        let n = t.counts.entry((uid, slot == Slot::Wait)).or_insert(0);
        if *n >= limit {
            return Err(Error::LimitExceeded { what: slot.what(), limit });
        }
        *n += 1;
        Ok(Ticket { clients: self.clone(), uid, slot, gone })
    }
}

/// Run a long call until it ends or its caller goes away.
pub async fn unless_gone<T>(mut ticket: Ticket, call: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::select! {
        r = call => r,
        () = ticket.gone() => Err(Error::Canceled { what: "the call (its caller left)".into() }),
    }
}
