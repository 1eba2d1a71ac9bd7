//! berthctl's arguments: podman's verbs and flags where they exist.

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "berthctl", version, about = "Run containers as systemd units through berthd")]
pub struct Cli {
    /// Connect to this D-Bus address instead of the system bus.
    #[arg(long, global = true)]
    pub address: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone, Default)]
pub struct CreateArgs {
    /// Root file system directory of the container.
    #[arg(long)]
    pub rootfs: Option<String>,
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// uid[:gid] to run as.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    #[arg(long)]
    pub hostname: Option<String>,
    /// The container sends READY=1 itself (sd_notify); start waits for it.
    #[arg(long)]
    pub notify: bool,
    /// Signal that stops the container (name or number).
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Seconds between the stop signal and SIGKILL.
    #[arg(long)]
    pub stop_timeout: Option<u32>,
    /// Seconds the container has to become ready.
    #[arg(long)]
    pub start_timeout: Option<u32>,
    /// no, on-failure[:N], always or unless-stopped.
    #[arg(long)]
    pub restart: Option<String>,
    /// Containers that must run first (repeatable, or comma-separated).
    #[arg(long = "requires", value_delimiter = ',')]
    pub requires: Vec<String>,
    /// Label KEY=VALUE (repeatable).
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Bind mount SRC:DST[:ro] (repeatable).
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    #[arg(long)]
    pub read_only: bool,
    /// none (own namespace, only lo) or host.
    #[arg(long)]
    pub network: Option<String>,
    /// crun, runc, or a path.
    #[arg(long)]
    pub runtime: Option<String>,
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// The container's name.
    pub name: String,
    /// The command to run, after `--`.
    #[arg(last = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ResourceArgs {
    /// Memory limit: bytes, or with a k, m or g suffix.
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Most tasks (processes and threads) allowed.
    #[arg(long)]
    pub pids_limit: Option<u64>,
    /// CPU weight, 1..10000.
    #[arg(long)]
    pub cpu_weight: Option<u64>,
    /// CPUs the container may use, e.g. 0.5 or 2.
    #[arg(long)]
    pub cpus: Option<f64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container (it does not start).
    Create(CreateArgs),
    /// Create and start a container; without -d, wait for it to exit and
    /// exit with its code.
    Run {
        /// Return once started.
        #[arg(short = 'd', long)]
        detach: bool,
        /// Remove the container after it exits.
        #[arg(long)]
        rm: bool,
        #[command(flatten)]
        create: CreateArgs,
    },
    /// Prepare containers to run (bundle ready, dependencies checked).
    Init {
        #[arg(long)]
        recursive: bool,
        #[arg(required = true)]
        names: Vec<String>,
    },
    Start {
        /// Start dependencies first.
        #[arg(long)]
        recursive: bool,
        #[arg(required = true)]
        names: Vec<String>,
    },
    Stop {
        /// Seconds before SIGKILL (default: the container's own).
        #[arg(short = 't', long)]
        time: Option<u32>,
        #[arg(required = true)]
        names: Vec<String>,
    },
    Kill {
        #[arg(short = 's', long, default_value = "KILL")]
        signal: String,
        #[arg(required = true)]
        names: Vec<String>,
    },
    Restart {
        #[arg(short = 't', long)]
        time: Option<u32>,
        #[arg(required = true)]
        names: Vec<String>,
    },
    Pause {
        #[arg(required = true)]
        names: Vec<String>,
    },
    Unpause {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove containers.
    Rm {
        /// Stop running containers first.
        #[arg(short = 'f', long)]
        force: bool,
        #[arg(short = 't', long)]
        time: Option<u32>,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// List containers (running ones unless -a).
    Ps {
        #[arg(short = 'a', long)]
        all: bool,
        /// Print names only.
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// Show containers as JSON.
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Wait for a container to reach a state; prints its exit code.
    Wait {
        /// State to wait for (repeatable; default: stopped or exited).
        #[arg(long = "condition")]
        conditions: Vec<String>,
        name: String,
    },
    /// Change resource limits, live.
    Update {
        #[command(flatten)]
        resources: ResourceArgs,
        name: String,
    },
    /// Re-read containers' state from systemd.
    Sync {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Release runtime leftovers of stopped containers.
    Cleanup {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Print a container's output (from the journal, every run of it).
    Logs {
        /// Follow new lines until the container stops.
        #[arg(short = 'f', long)]
        follow: bool,
        /// Lines since: seconds since the epoch, RFC 3339, or a relative
        /// time such as 10m or 2h.
        #[arg(long)]
        since: Option<String>,
        /// Lines before this time (same forms as --since).
        #[arg(long)]
        until: Option<String>,
        /// Only the last N lines.
        #[arg(short = 'n', long)]
        tail: Option<u64>,
        /// Prefix each line with its RFC 3339 time.
        #[arg(short = 't', long)]
        timestamps: bool,
        /// Only what the container wrote to standard output.
        #[arg(long)]
        stdout: bool,
        /// Only what the container wrote to standard error.
        #[arg(long)]
        stderr: bool,
        name: String,
    },
    /// Print container events: the history from the journal, then with
    /// --follow the live ones.
    Events {
        #[arg(short = 'f', long)]
        follow: bool,
        /// Events since (same forms as logs --since).
        #[arg(long)]
        since: Option<String>,
        /// container=NAME
        #[arg(long)]
        filter: Vec<String>,
    },
}
