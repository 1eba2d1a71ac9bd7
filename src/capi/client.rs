//! `berth_client`: a connection to berthd and the container verbs. Each
//! client owns a small tokio runtime; every call blocks on it.

use super::ffi::{arg, c_string, free_box, guard, quiet, string, Failure, Out, Res};
use super::spec::berth_spec;
use crate::client::Client;
use crate::model::{ErrorKind, HealthStatus, State};
use std::ffi::c_char;
use std::future::Future;
use std::sync::Arc;
use tokio::runtime::Runtime;

/// A connection to berthd. See "Threads" at the top of this header.
#[allow(non_camel_case_types)]
pub struct berth_client {
    pub(crate) inner: Arc<Inner>,
}

/// Shared with event watches, which may outlive the handle.
pub(crate) struct Inner {
    pub rt: Runtime,
    pub client: Client,
}

impl Inner {
    /// Block on one call of the client.
    pub fn call<T>(&self, f: impl Future<Output = crate::model::Result<T>>) -> Res<T> {
        self.rt.block_on(f).map_err(Failure::from)
    }
}

/// One worker thread drives the connection (signals arrive while no call
/// is in progress); calls run on the caller's thread through `block_on`.
fn connect(address: Option<&str>) -> Res<*mut berth_client> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("berth-client")
        .enable_all()
        .build()
        .map_err(|e| Failure::new(ErrorKind::Internal, format!("cannot start a runtime: {e}")))?;
    let client = rt.block_on(Client::connect(address)).map_err(Failure::from)?;
    Ok(Box::into_raw(Box::new(berth_client { inner: Arc::new(Inner { rt, client }) })))
}

/// `BERTH_TIMEOUT_DEFAULT` means the container's own stop timeout.
fn timeout_arg(t: u32) -> Option<u32> {
    (t != super::BERTH_TIMEOUT_DEFAULT).then_some(t)
}

/// The common shape of a verb: check the client and the name, then call.
fn verb(client: *const berth_client, name: *const c_char, f: impl FnOnce(&Inner, &str) -> Res) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let name = string(name, "name")?;
        f(&c.inner, name)
    })
}

/// Connect to berthd on the system bus (bus-activating it on the first
/// call if it is not running). On success `*out` is a new client for
/// `berth_client_free()`.
#[no_mangle]
pub extern "C" fn berth_client_new(out: *mut *mut berth_client) -> ErrorKind {
    guard(|| {
        let out = Out::new(out, "out")?;
        out.write(connect(None)?);
        Ok(())
    })
}

/// Connect to berthd through the bus at `address`, a D-Bus address such as
/// "unix:path=/run/dbus/system_bus_socket".
#[no_mangle]
pub extern "C" fn berth_client_new_address(address: *const c_char, out: *mut *mut berth_client) -> ErrorKind {
    guard(|| {
        let address = string(address, "address")?;
        let out = Out::new(out, "out")?;
        out.write(connect(Some(address))?);
        Ok(())
    })
}

/// Close a client; NULL is ignored. Event watches and log handles of this
/// client keep working until they are freed.
#[no_mangle]
pub extern "C" fn berth_client_free(client: *mut berth_client) {
    quiet((), || {
        free_box(client);
        super::events::reap();
    })
}

/// CreateContainer: a new container `name` (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`,
/// at most 128 bytes) from `spec`, in state configured. The spec is not
/// consumed.
#[no_mangle]
pub extern "C" fn berth_client_create(client: *const berth_client, name: *const c_char, spec: *const berth_spec) -> ErrorKind {
    verb(client, name, |c, name| {
        let spec = arg(spec, "spec")?;
        c.call(c.client.create(name, &spec.options)).map(drop)
    })
}

/// InitContainer: prepare the bundle (configured/stopped/exited ->
/// created); `recursive` also starts the containers it depends on.
#[no_mangle]
pub extern "C" fn berth_client_init(client: *const berth_client, name: *const c_char, recursive: bool) -> ErrorKind {
    verb(client, name, |c, name| c.call(c.client.init(name, recursive)))
}

/// StartContainer: returns once the container is running (for notify
/// containers, after its READY=1); `recursive` starts its dependencies
/// first.
#[no_mangle]
pub extern "C" fn berth_client_start(client: *const berth_client, name: *const c_char, recursive: bool) -> ErrorKind {
    verb(client, name, |c, name| c.call(c.client.start(name, recursive)))
}

/// StopContainer: the stop signal, then SIGKILL after `timeout` seconds
/// (`BERTH_TIMEOUT_DEFAULT`: the container's own stop timeout). Returns
/// once it has stopped. BERTH_RESULT_ALREADY_STOPPED if it was.
#[no_mangle]
pub extern "C" fn berth_client_stop(client: *const berth_client, name: *const c_char, timeout: u32) -> ErrorKind {
    verb(client, name, |c, name| c.call(c.client.stop(name, timeout_arg(timeout))))
}

/// KillContainer: send `signal` to the container's processes; it is then
/// not restarted by its restart policy.
#[no_mangle]
pub extern "C" fn berth_client_kill(client: *const berth_client, name: *const c_char, signal: i32) -> ErrorKind {
    verb(client, name, |c, name| c.call(c.client.kill(name, signal)))
}

/// RestartContainer: stop (with `timeout` as in `berth_client_stop()`),
/// then start.
#[no_mangle]
pub extern "C" fn berth_client_restart(client: *const berth_client, name: *const c_char, timeout: u32) -> ErrorKind {
    verb(client, name, |c, name| c.call(c.client.restart(name, timeout_arg(timeout))))
}

/// HealthcheckRun: run the container's health check now, as an exec in
/// it; `*status` is this check's result as podman's `healthcheck run`
/// gives it (HEALTHY passed; STARTING failed in the start period;
/// UNHEALTHY failed). A container without a check is BERTH_RESULT_INVALID_ARGUMENT, one
/// that does not run BERTH_RESULT_INVALID_STATE.
#[no_mangle]
pub extern "C" fn berth_client_healthcheck_run(
    client: *const berth_client,
    name: *const c_char,
    status: *mut HealthStatus,
) -> ErrorKind {
    verb(client, name, |c, name| {
        let out = Out::new(status, "status")?;
        out.write(c.call(c.client.healthcheck_run(name))?);
        Ok(())
    })
}

/// PauseContainer: freeze a running container.
#[no_mangle]
pub extern "C" fn berth_client_pause(client: *const berth_client, name: *const c_char) -> ErrorKind {
    verb(client, name, |c, name| c.call(c.client.pause(name)))
}

/// UnpauseContainer: thaw a paused container.
#[no_mangle]
pub extern "C" fn berth_client_unpause(client: *const berth_client, name: *const c_char) -> ErrorKind {
    verb(client, name, |c, name| c.call(c.client.unpause(name)))
}

/// UpdateContainer: apply the resource limits set in `resources` (a spec
/// with only MemoryMax, TasksMax, CPUWeight or CPUQuota set; any other key
/// is BERTH_RESULT_INVALID_ARGUMENT and changes nothing), live and stored.
#[no_mangle]
pub extern "C" fn berth_client_update(client: *const berth_client, name: *const c_char, resources: *const berth_spec) -> ErrorKind {
    verb(client, name, |c, name| {
        let r = arg(resources, "resources")?;
        c.call(c.client.update(name, &r.options))
    })
}

/// RemoveContainer: delete a container that does not run; with `force`
/// stop it first (with `timeout` as in `berth_client_stop()`).
#[no_mangle]
pub extern "C" fn berth_client_remove(client: *const berth_client, name: *const c_char, force: bool, timeout: u32) -> ErrorKind {
    verb(client, name, |c, name| c.call(c.client.remove(name, force, timeout_arg(timeout))))
}

/// SyncContainer: re-read the container's unit from systemd.
#[no_mangle]
pub extern "C" fn berth_client_sync(client: *const berth_client, name: *const c_char) -> ErrorKind {
    verb(client, name, |c, name| c.call(c.client.sync(name)))
}

/// CleanupContainer: release what a stopped container left behind.
#[no_mangle]
pub extern "C" fn berth_client_cleanup(client: *const berth_client, name: *const c_char) -> ErrorKind {
    verb(client, name, |c, name| c.call(c.client.cleanup(name)))
}

/// WaitContainer: block until the container is in one of `conditions` (an
/// OR of `berth_state` values; 0 means stopped or exited), then write its
/// exit code (-1 if it has none yet) to `*exit_code`. `timeout_ms`: give up
/// with BERTH_RESULT_TIMEOUT after that many milliseconds;
/// `BERTH_WAIT_FOREVER` (0) waits without limit.
#[no_mangle]
pub extern "C" fn berth_client_wait(
    client: *const berth_client,
    name: *const c_char,
    conditions: u32,
    timeout_ms: u64,
    exit_code: *mut i32,
) -> ErrorKind {
    verb(client, name, |c, name| {
        let out = Out::new(exit_code, "exit_code")?;
        let states = State::from_mask(conditions).ok_or_else(|| {
            Failure::new(ErrorKind::InvalidParameter, format!("conditions: unknown state bits {conditions:#x}"))
        })?;
        let limit = (timeout_ms > 0).then(|| std::time::Duration::from_millis(timeout_ms));
        out.write(c.call(c.client.wait(name, &states, limit))?);
        Ok(())
    })
}

/// The container's details as JSON (shaped like podman's inspect: Id, Name,
/// State.Status, State.ExitCode, Spec, ...); `*json` is caller-owned, free
/// it with `berth_string_free()`.
#[no_mangle]
pub extern "C" fn berth_client_inspect(client: *const berth_client, name: *const c_char, json: *mut *mut c_char) -> ErrorKind {
    verb(client, name, |c, name| {
        let out = Out::new(json, "json")?;
        let s = c.call(c.client.inspect_json(name))?;
        out.write(c_string(&s).into_raw());
        Ok(())
    })
}

/// The container's current state.
#[no_mangle]
pub extern "C" fn berth_client_state(client: *const berth_client, name: *const c_char, state: *mut State) -> ErrorKind {
    verb(client, name, |c, name| {
        let out = Out::new(state, "state")?;
        out.write(c.call(c.client.state(name))?);
        Ok(())
    })
}

/// The container's last exit code: its own exit status, 128+N when a
/// signal N ended it, -1 when it has not exited since it was created.
#[no_mangle]
pub extern "C" fn berth_client_exit_code(client: *const berth_client, name: *const c_char, exit_code: *mut i32) -> ErrorKind {
    verb(client, name, |c, name| {
        let out = Out::new(exit_code, "exit_code")?;
        out.write(c.call(c.client.exit_code(name))?);
        Ok(())
    })
}
