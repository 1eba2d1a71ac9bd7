//! Exec sessions (podman exec): a process started in a running container,
//! in its cgroup, run by the container's monitor (so it outlives berthd).
//! Create a session, start it attached (a descriptor as
//! berth_client_attach() gives) or detached, resize it, wait for its exit
//! code (the command's own; 126 not executable, 127 not found).

use super::attach::{give, streams};
use super::client::berth_client;
use super::ffi::{arg, c_string, guard, string, strings, Failure, Out, Res};
use crate::model::{ErrorKind, ExecConfig, OptionValue};
use std::collections::BTreeMap;
use std::ffi::{c_char, c_int};

/// What an exec session runs. Zero-initialise it, then set `argv`/`argc`
/// (required) and what else is wanted; NULL `env`, `user` or `workdir`
/// mean the container's.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct berth_exec_options {
    /// The command and its arguments (`argc` strings).
    pub argv: *const *const c_char,
    pub argc: usize,
    /// `KEY=VALUE` entries over the container's environment (`envc` strings).
    pub env: *const *const c_char,
    pub envc: usize,
    /// "uid[:gid]".
    pub user: *const c_char,
    /// An absolute directory inside the container.
    pub workdir: *const c_char,
    /// A pseudo-terminal for the process.
    pub terminal: bool,
    /// Keep its stdin open for the attached caller.
    pub interactive: bool,
    /// Every capability, not only the container's.
    pub privileged: bool,
}

fn config(o: &berth_exec_options) -> Res<ExecConfig> {
    let mut m: BTreeMap<String, OptionValue> = [
        ("Command".to_string(), OptionValue::StrList(strings(o.argv, o.argc, "argv")?)),
        ("Terminal".to_string(), OptionValue::Bool(o.terminal)),
        ("Interactive".to_string(), OptionValue::Bool(o.interactive)),
        ("Privileged".to_string(), OptionValue::Bool(o.privileged)),
    ]
    .into();
    if !o.env.is_null() {
        m.insert("Env".into(), OptionValue::StrList(strings(o.env, o.envc, "env")?));
    }
    if !o.user.is_null() {
        m.insert("User".into(), OptionValue::Str(string(o.user, "user")?.into()));
    }
    if !o.workdir.is_null() {
        m.insert("WorkingDir".into(), OptionValue::Str(string(o.workdir, "workdir")?.into()));
    }
    // berthd's own rules, checked before it is asked.
    ExecConfig::from_options(&m).map_err(|e| Failure::new(ErrorKind::InvalidArgument, e.to_string()))
}

/// Create an exec session in a running container; on success `*session`
/// is its id, the caller's (free it with berth_string_free()).
#[no_mangle]
pub extern "C" fn berth_client_exec_create(
    client: *const berth_client,
    name: *const c_char,
    options: *const berth_exec_options,
    session: *mut *mut c_char,
) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let name = string(name, "name")?;
        let o = config(arg(options, "options")?)?;
        let out = Out::new(session, "session")?;
        let id = c.inner.call(c.inner.client.exec_create(name, &o))?;
        out.write(c_string(&id).into_raw());
        Ok(())
    })
}

/// Start a created session detached (its output is discarded).
#[no_mangle]
pub extern "C" fn berth_client_exec_start(client: *const berth_client, name: *const c_char, session: *const c_char) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let (name, session) = (string(name, "name")?, string(session, "session")?);
        c.inner.call(c.inner.client.exec_start(name, session))
    })
}

/// Start a created session attached from before it runs: `streams` and
/// `detach_keys` as in berth_client_attach(); on success `*fd` is the
/// caller's, and its last frame is BERTH_FRAME_EXIT with the session's
/// exit code.
#[no_mangle]
pub extern "C" fn berth_client_exec_start_and_attach(
    client: *const berth_client,
    name: *const c_char,
    session: *const c_char,
    streams: u32,
    detach_keys: *const c_char,
    fd: *mut c_int,
) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let (name, session) = (string(name, "name")?, string(session, "session")?);
        let out = Out::new(fd, "fd")?;
        let s = self::streams(streams, detach_keys)?;
        give(out, c.inner.call(c.inner.client.exec_start_and_attach(name, session, &s))?);
        Ok(())
    })
}

/// Set the window size of a running session's terminal.
#[no_mangle]
pub extern "C" fn berth_client_exec_resize(
    client: *const berth_client,
    name: *const c_char,
    session: *const c_char,
    rows: u16,
    cols: u16,
) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let (name, session) = (string(name, "name")?, string(session, "session")?);
        c.inner.call(c.inner.client.exec_resize(name, session, rows, cols))
    })
}

/// Wait until the session has ended and write its exit code to
/// `*exit_code` (-1 when its end went unrecorded). `timeout_ms` as in
/// berth_client_wait().
#[no_mangle]
pub extern "C" fn berth_client_exec_wait(
    client: *const berth_client,
    name: *const c_char,
    session: *const c_char,
    timeout_ms: u64,
    exit_code: *mut i32,
) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let (name, session) = (string(name, "name")?, string(session, "session")?);
        let out = Out::new(exit_code, "exit_code")?;
        let limit = (timeout_ms > 0).then(|| std::time::Duration::from_millis(timeout_ms));
        out.write(c.inner.call(c.inner.client.exec_wait(name, session, limit))?);
        Ok(())
    })
}

/// The session as JSON (Id, State, Pid, ExitCode, Config, ...); `*json` is
/// the caller's, free it with berth_string_free().
#[no_mangle]
pub extern "C" fn berth_client_exec_inspect(
    client: *const berth_client,
    name: *const c_char,
    session: *const c_char,
    json: *mut *mut c_char,
) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let (name, session) = (string(name, "name")?, string(session, "session")?);
        let out = Out::new(json, "json")?;
        let info = c.inner.call(c.inner.client.exec_inspect(name, session))?;
        let text = serde_json::to_string_pretty(&info).map_err(|e| Failure::new(ErrorKind::Internal, e.to_string()))?;
        out.write(c_string(&text).into_raw());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    #[test]
    fn options_are_checked_before_berthd_is_asked() {
        let argv_s = [CString::new("/bin/sh").unwrap()];
        let argv: Vec<*const c_char> = argv_s.iter().map(|s| s.as_ptr()).collect();
        let user = CString::new("1000").unwrap();
        let mut o = berth_exec_options {
            argv: argv.as_ptr(),
            argc: 1,
            env: std::ptr::null(),
            envc: 0,
            user: user.as_ptr(),
            workdir: std::ptr::null(),
            terminal: true,
            interactive: true,
            privileged: false,
        };
        let c = config(&o).unwrap();
        assert_eq!((c.command.len(), c.user, c.terminal), (1, Some((1000, 1000)), true));
        o.argc = 0;
        assert_eq!(config(&o).unwrap_err().code, ErrorKind::InvalidArgument);
        o.argv = std::ptr::null();
        assert_eq!(config(&o).unwrap_err().code, ErrorKind::NullParameter);
        let mut session = std::ptr::null_mut();
        assert_eq!(berth_client_exec_create(std::ptr::null(), std::ptr::null(), std::ptr::null(), &mut session), ErrorKind::NullParameter);
    }
}
