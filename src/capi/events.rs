//! Event signals to a C callback, on a thread this library owns.

use super::client::berth_client;
use super::ffi::{arg, c_string, guard, quiet, Failure, Out};
use crate::model::{ErrorKind, EventKind};
use futures_util::StreamExt;
use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};
use std::thread::JoinHandle;
use tokio::sync::watch;

/// The `kind` of an event this version of libberth has no name for (see
/// `event` for its name).
pub const BERTH_EVENT_KIND_UNKNOWN: u32 = 0;

/// The kind of an event name on the bus, as C sees it.
fn kind_of(name: &str) -> u32 {
    EventKind::parse(name).map_or(BERTH_EVENT_KIND_UNKNOWN, |k| k as u32)
}

/// One Event signal of berthd. Everything it points to is valid only
/// during the callback: copy what you keep.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct berth_event {
    /// The container's name.
    pub name: *const c_char,
    /// The container's id (64 hex digits).
    pub id: *const c_char,
    /// The event's name: "create", "start", "died", ...
    pub event: *const c_char,
    /// The same as a `berth_event_kind` value, or
    /// `BERTH_EVENT_KIND_UNKNOWN` for an event this library has no name for.
    pub kind: u32,
    /// When it happened: microseconds since the Unix epoch.
    pub usec: u64,
}

/// Called once per event with the `userdata` given to
/// `berth_client_watch_events()`, on the watch's own thread. It must not
/// unwind (C++ exceptions) into libberth.
#[allow(non_camel_case_types)]
pub type berth_event_callback = Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const berth_event)>;

/// A running event watch, from `berth_client_watch_events()`.
#[allow(non_camel_case_types)]
pub struct berth_event_watch {
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
    id: u64,
}

static NEXT_WATCH: AtomicU64 = AtomicU64::new(1);

/// Watch threads stopped from their own callback, to be joined. Such a
/// thread ends only after its callback returns, and its last steps drop
/// its connection (and the runtime, when no client handle is left); were
/// it left detached, a program that exits right after would race with it.
/// It is joined by the next `berth_client_free()` or
/// `berth_event_watch_free()` on another thread, or at exit.
static REAPER: Mutex<Vec<(u64, JoinHandle<()>)>> = Mutex::new(Vec::new());

/// Join the watch threads of [`REAPER`], but not the calling one.
pub(crate) fn reap() {
    let me = WATCH_OF_THREAD.with(Cell::get);
    let mine = {
        let mut r = REAPER.lock().unwrap_or_else(|e| e.into_inner());
        let all = std::mem::take(&mut *r);
        let (mine, others): (Vec<_>, Vec<_>) = all.into_iter().partition(|(id, _)| *id == me);
        *r = mine;
        others
    };
    for (_, t) in mine {
        // A panic on that thread was caught there already (the callback's
        // boundary); nothing is left to report.
        let _ = t.join();
    }
}

extern "C" fn reap_at_exit() {
    quiet((), reap)
}

/// Join stopped watch threads at exit too, once a watch exists.
fn reap_at_exit_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: atexit takes a function without arguments that lives as
        // long as the library; reap_at_exit never unwinds (quiet). It fails
        // only without memory; the frees then still join the threads.
        let _ = unsafe { nix::libc::atexit(reap_at_exit) };
    });
}

thread_local! {
    /// The watch whose thread this is (0: none). Not `thread::current()`:
    /// on a thread C made, that allocates a handle that is never freed.
    static WATCH_OF_THREAD: Cell<u64> = const { Cell::new(0) };
}

/// The callback's userdata crosses to the watch thread: the header makes
/// the caller promise it may.
struct UserData(*mut c_void);
unsafe impl Send for UserData {}

/// Call `cb` for one event; the strings live until it returns.
fn deliver(cb: unsafe extern "C" fn(*mut c_void, *const berth_event), ud: &UserData, name: &str, id: &str, event: &str, usec: u64) {
    let (n, i, e) = (c_string(name), c_string(id), c_string(event));
    let ev = berth_event { name: n.as_ptr(), id: i.as_ptr(), event: e.as_ptr(), kind: kind_of(event), usec };
    // SAFETY: the caller gave a valid function and promised that userdata
    // may be used on this thread.
    unsafe { cb(ud.0, &ev) }
}

/// Start calling `callback` for every Event signal of berthd (every
/// container's create, start, died, remove, ...) on a new thread owned by
/// libberth. The subscription is in place when this returns: events of
/// calls made afterwards are delivered, in order. `userdata` is passed
/// through untouched (it may be NULL) and must stay usable from that thread
/// until the watch is freed. On success `*out` is a watch to stop with
/// `berth_event_watch_free()`.
#[no_mangle]
pub extern "C" fn berth_client_watch_events(
    client: *const berth_client,
    callback: berth_event_callback,
    userdata: *mut c_void,
    out: *mut *mut berth_event_watch,
) -> ErrorKind {
    guard(|| {
        let inner = arg(client, "client")?.inner.clone();
        let cb = callback.ok_or_else(|| Failure::new(ErrorKind::NullParameter, "callback is NULL"))?;
        let out = Out::new(out, "out")?;
        // Subscribing adds the match rule on the bus before it returns.
        let events = inner.call(async { inner.client.manager().receive_event().await.map_err(crate::client::from_bus) })?;
        reap_at_exit_once();
        let (stop, mut stopped) = watch::channel(false);
        let ud = UserData(userdata);
        let id = NEXT_WATCH.fetch_add(1, Ordering::Relaxed);
        let thread = std::thread::Builder::new()
            .name("berth-events".into())
            .spawn(move || {
                // Locals drop in reverse order: the stream (whose drop queues
                // a RemoveMatch on the runtime) before the runtime's Arc.
                let (inner, mut events, ud) = (inner, events, ud);
                WATCH_OF_THREAD.with(|w| w.set(id));
                loop {
                    // The callback runs outside block_on, so it may call
                    // libberth (even on this client) itself.
                    let next = inner.rt.block_on(async {
                        tokio::select! {
                            _ = stopped.wait_for(|s| *s) => None,
                            ev = events.next() => ev,
                        }
                    });
                    let Some(sig) = next else { return };
                    if *stopped.borrow() {
                        return;
                    }
                    if let Ok(a) = sig.args() {
                        deliver(cb, &ud, a.name(), a.id(), a.event(), *a.usec());
                    }
                }
            })
            .map_err(|e| Failure::new(ErrorKind::Internal, format!("cannot start the event thread: {e}")))?;
        out.write(Box::into_raw(Box::new(berth_event_watch { stop, thread: Some(thread), id })));
        Ok(())
    })
}

/// Stop a watch and free it; NULL is ignored. Once this returns no further
/// callback runs. It may be called from the watch's own callback: it then
/// returns at once, and the watch thread ends after the callback; the next
/// `berth_client_free()`, `berth_event_watch_free()` from another thread,
/// or the program's exit waits for that end (so exit waits for a callback
/// still running after it freed its watch).
#[no_mangle]
pub extern "C" fn berth_event_watch_free(watch: *mut berth_event_watch) {
    quiet((), || {
        if watch.is_null() {
            return;
        }
        // SAFETY: from Box::into_raw in berth_client_watch_events, given
        // back once.
        let mut w = unsafe { Box::from_raw(watch) };
        // Sending fails only when the thread has ended already.
        let _ = w.stop.send(true);
        let Some(t) = w.thread.take() else { return };
        if WATCH_OF_THREAD.with(Cell::get) == w.id {
            REAPER.lock().unwrap_or_else(|e| e.into_inner()).push((w.id, t));
        } else {
            let _ = t.join();
            reap();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_the_models() {
        for k in EventKind::all() {
            assert_eq!(kind_of(k.as_str()), k as u32);
        }
        assert_eq!(kind_of("exploded"), BERTH_EVENT_KIND_UNKNOWN);
    }
}
