//! How the monitor starts the OCI runtime (`run` for the container's init,
//! `exec` for a session): as its own child, moved into the unit's payload
//! cgroup before it runs (crun; runc joins the container's cgroup itself),
//! with the signals the monitor blocks unblocked, and without the
//! monitor's NOTIFY_SOCKET. So every process of the container, exec'd ones
//! too, lives in the container's cgroup and none is berthd's.

use super::stdio::ChildStdio;
use crate::runtime::cmdline::Runtime;
use nix::sys::signal::SigSet;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

pub(super) struct Spawner {
    pub runtime: Runtime,
    /// The payload's `cgroup.procs`, open for writing (None: stay put).
    payload: Option<OwnedFd>,
    mask: SigSet,
}

impl Spawner {
    pub fn new(runtime: Runtime, payload: Option<File>, mask: SigSet) -> Spawner {
        Spawner { runtime, payload: payload.map(OwnedFd::from), mask }
    }

    /// The runtime with `args`, its stdin /dev/null unless `stdio` says.
    pub fn command(&self, args: Vec<OsString>, stdio: Option<ChildStdio>) -> Command {
        let mut c = Command::new(&self.runtime.program);
        c.args(args).stdin(Stdio::null()).env_remove("NOTIFY_SOCKET");
        if let Some(s) = stdio {
            c.stdin(s.stdin).stdout(s.stdout).stderr(s.stderr);
        }
        c
    }

    /// Start `cmd` in the payload cgroup. The child ends of its pipes close
    /// here with `cmd`, so they end with the child.
    pub fn spawn(&self, mut cmd: Command) -> io::Result<Child> {
        let raw = self.payload.as_ref().map(|f| f.as_raw_fd());
        let mask = self.mask;
        // SAFETY: only async-signal-safe calls between fork and exec: writing
        // "0" to cgroup.procs moves the writing process; sigprocmask.
        unsafe {
            cmd.pre_exec(move || {
                if let Some(fd) = raw {
                    if nix::libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                        return Err(io::Error::last_os_error());
                    }
                }
                mask.thread_unblock().map_err(io::Error::from)
            });
        }
        cmd.spawn()
    }
}
