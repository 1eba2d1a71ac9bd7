//! `berth-monitor`: the main process of a container's unit. It runs the OCI
//! runtime in the foreground, tells systemd when the container is ready,
//! turns systemd's stop request into the container's own stop signal with a
//! SIGKILL after the container's timeout, forwards other signals, and records
//! the exit code in a file so that it survives berthd being down.
//!
//! Keeping the timeout here rather than in systemd means a stop never ends
//! in systemd's "timeout" result, so a requested stop never leaves the unit
//! failed, and the monitor exits with [`USER_STOP_STATUS`], which the unit
//! lists as a success that must not trigger a restart.
//!
//! The monitor is the only reader of the container's stdio: its output
//! goes to journald line by line whoever is attached, and callers attach
//! through its socket (attach.rs; berthd connects and passes the
//! connection on, so berthd is never in the data path). It holds the
//! container's terminal (console.rs) and stdin, and runs exec sessions as
//! its own children in the container's cgroup (exec.rs).

mod attach;
mod console;
pub mod control;
mod exec;
mod exit;
mod network;
mod output;
mod run;
mod spawn;
mod stdio;

pub use exit::{exit_code, exit_code_from_env, record_exit};
pub use run::run;

use super::cmdline::Runtime;
use super::spec_run::RunSpecArgs;
use clap::{Args, Parser};
use std::path::PathBuf;

/// The unit's KillSignal: systemd asks the monitor to stop the container
/// gracefully with it (SIGRTMIN+4; never sent to containers by anyone else).
pub const STOP_REQUEST_SIGNAL: i32 = 38;

/// Sent to the monitor (KillUnit of its main process) to SIGKILL the
/// container now (SIGRTMIN+5). The monitor kills the container's cgroup
/// itself: systemd killing every process of the unit raced with runc
/// removing its cgroup and failed with ENODEV or EIO (systemd 252).
pub const KILL_REQUEST_SIGNAL: i32 = 39;

/// The monitor's exit status after a stop or kill that someone asked for.
/// The unit lists it in SuccessExitStatus and RestartPreventExitStatus.
pub const USER_STOP_STATUS: i32 = 250;

/// The exit code of a run that failed before the container existed
/// (podman's: the error is berth's or the runtime's, not the container's).
pub const START_FAILURE_CODE: i32 = 125;

/// Everything the monitor needs; also what berthd writes into ExecStart.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct MonitorArgs {
    #[command(flatten)]
    pub runtime: Runtime,
    #[arg(long)]
    pub bundle: PathBuf,
    /// The runtime's id of the container.
    #[arg(long)]
    pub id: String,
    #[arg(long)]
    pub exit_file: PathBuf,
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(i32).range(1..=64))]
    pub stop_signal: i32,
    #[arg(long, default_value_t = 10)]
    pub stop_timeout: u32,
    /// The container sends READY=1 itself; otherwise the monitor does once
    /// the container's init exists.
    #[arg(long)]
    pub notify: bool,
    /// berthd says when the container is ready (a `Ready` request, after
    /// its first passing health check); the monitor sends READY=1 then.
    #[arg(long)]
    pub ready_on_request: bool,
    /// Where the monitor listens for the container's notifications.
    #[arg(long)]
    pub notify_socket: PathBuf,
    /// The container has a terminal (its config.json says so).
    #[arg(long)]
    pub terminal: bool,
    /// The container's stdin stays open for attached callers.
    #[arg(long)]
    pub interactive: bool,
    /// The container's network request: set up before the runtime runs,
    /// torn down after it ends (bridged containers only).
    #[arg(long)]
    pub network: Option<PathBuf>,
}

impl MonitorArgs {
    /// The arguments after the monitor's program name.
    pub fn to_args(&self) -> Vec<String> {
        let mut v = vec![
            "run".to_string(),
            format!("--runtime={}", self.runtime.program.display()),
            format!("--runtime-root={}", self.runtime.root.display()),
            format!("--bundle={}", self.bundle.display()),
            format!("--id={}", self.id),
            format!("--exit-file={}", self.exit_file.display()),
            format!("--stop-signal={}", self.stop_signal),
            format!("--stop-timeout={}", self.stop_timeout),
            format!("--notify-socket={}", self.notify_socket.display()),
        ];
        if self.runtime.runc {
            v.push("--runc".into());
        }
        if self.notify {
            v.push("--notify".into());
        }
        if self.ready_on_request {
            v.push("--ready-on-request".into());
        }
        if self.terminal {
            v.push("--terminal".into());
        }
        if self.interactive {
            v.push("--interactive".into());
        }
        if let Some(n) = &self.network {
            v.push(format!("--network={}", n.display()));
        }
        v
    }
}

#[derive(Debug, Parser)]
#[command(name = "berth-monitor", about = "The main process of a berth container's systemd unit")]
pub enum Command {
    /// Run a container from its bundle (what berthd's transient units run).
    Run(MonitorArgs),
    /// Write the bundle from a container spec file, then run it (what
    /// berth-generator's units run).
    RunSpec(RunSpecArgs),
    /// ExecStopPost: record the exit when the monitor died before it could.
    RecordExit {
        #[arg(long, required_unless_present = "name")]
        exit_file: Option<PathBuf>,
        /// With --run-root instead of --exit-file: the exit file of the
        /// container of this name (a template's instance, named at start).
        #[arg(long, conflicts_with = "exit_file", value_parser = super::spec_run::parse_name)]
        name: Option<crate::model::ContainerName>,
        #[arg(long, default_value = crate::store::DEFAULT_RUN_ROOT)]
        run_root: PathBuf,
    },
    /// ExecStopPost: tear down the container's network when the monitor
    /// died before it could (firewall rules, veth, namespace).
    NetTeardown {
        #[arg(long, default_value = crate::store::DEFAULT_RUN_ROOT)]
        run_root: PathBuf,
        #[arg(long, required_unless_present = "name")]
        id: Option<String>,
        /// Instead of --id: the container of this name (a template's instance).
        #[arg(long, conflicts_with = "id", value_parser = super::spec_run::parse_name)]
        name: Option<crate::model::ContainerName>,
    },
}

/// Entry point of the `berth-monitor` binary; returns its exit status.
pub fn main(args: Vec<String>) -> i32 {
    let cmd = match Command::try_parse_from(std::iter::once("berth-monitor".to_string()).chain(args)) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return 2;
        }
    };
    let result = match cmd {
        Command::Run(a) => run(&a),
        Command::RunSpec(a) => super::spec_run::run(&a),
        Command::RecordExit { exit_file, name, run_root } => {
            let exit_file = exit_file.unwrap_or_else(|| {
                let id = name.as_ref().map(super::spec_run::file_defined_id).unwrap_or_default();
                crate::store::RunLayout::new(&run_root).exit_file(&id)
            });
            record_exit(&exit_file).map(|()| 0)
        }
        Command::NetTeardown { run_root, id, name } => {
            let id = id.or_else(|| name.as_ref().map(super::spec_run::file_defined_id)).unwrap_or_default();
            Ok(network::teardown_after(&run_root, &id))
        }
    };
    result.unwrap_or_else(|e| {
        eprintln!("berth-monitor: {e}");
        START_FAILURE_CODE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(runc: bool, notify: bool) -> MonitorArgs {
        let tty = runc;
        MonitorArgs {
            runtime: Runtime { program: "/usr/bin/crun".into(), root: "/run/berth/crun".into(), runc },
            bundle: "/run/berth/bundles/x".into(),
            id: "x".into(),
            exit_file: "/run/berth/exits/x".into(),
            stop_signal: 2,
            stop_timeout: 7,
            notify,
            ready_on_request: !notify,
            notify_socket: "/run/berth/notify/x".into(),
            terminal: tty,
            interactive: tty,
            network: runc.then(|| "/run/berth/bundles/x/network.json".into()),
        }
    }

    fn parse(v: Vec<String>) -> Result<Command, clap::Error> {
        Command::try_parse_from(std::iter::once("berth-monitor".to_string()).chain(v))
    }

    #[test]
    fn arguments_round_trip() {
        for (runc, notify) in [(false, false), (true, true)] {
            let a = args(runc, notify);
            let Command::Run(back) = parse(a.to_args()).unwrap() else { panic!() };
            assert_eq!(back, a);
        }
        assert!(parse(vec!["run".into(), "--bogus".into()]).is_err());
        assert!(parse(vec!["run".into()]).is_err());
        let mut bad = args(false, false).to_args();
        bad[6] = "--stop-signal=99".into();
        assert!(parse(bad).is_err(), "signals are checked, not truncated");
        let mut bad = args(false, false).to_args();
        bad[7] = "--stop-timeout=-1".into();
        assert!(parse(bad).is_err());
    }
}
