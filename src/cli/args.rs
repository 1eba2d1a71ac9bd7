//! berthctl's arguments: podman's verbs and flags where they exist.

use super::flags::{ResourceFlags, SpecFlags};
use super::images::{ImageCommand, ImageListArgs, VolumeCommand};
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

/// `create` and `run`: podman's argument order.
#[derive(Debug, Args, Clone, Default)]
pub struct CreateArgs {
    /// The container's name (default: a generated one).
    #[arg(long)]
    pub name: Option<String>,
    /// The first argument is a root file system directory, not an image.
    #[arg(long)]
    pub rootfs: bool,
    #[command(flatten)]
    pub options: SpecFlags,
    /// IMAGE (or with --rootfs a directory), then the command and its
    /// arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "IMAGE [COMMAND [ARG...]]")]
    pub args: Vec<String>,
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
        /// Keys that detach from the container (default ctrl-p,ctrl-q).
        #[arg(long)]
        detach_keys: Option<String>,
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
        /// Attach to the container's output (one container); exit with its code.
        #[arg(short = 'a', long)]
        attach: bool,
        /// With --attach, send this terminal's input to it (an Interactive container).
        #[arg(short = 'i', long)]
        interactive: bool,
        /// Keys that detach from the container (default ctrl-p,ctrl-q).
        #[arg(long)]
        detach_keys: Option<String>,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Attach this terminal to a running container (its stdin too when it
    /// is Interactive); exit with its code, or 0 after the detach keys.
    Attach {
        /// Do not send this terminal's input.
        #[arg(long)]
        no_stdin: bool,
        /// Keys that detach from the container (default ctrl-p,ctrl-q).
        #[arg(long)]
        detach_keys: Option<String>,
        name: String,
    },
    /// Run a command in a running container; exit with its code (126: not
    /// executable, 127: not found).
    Exec {
        /// Run it in the background; print the session's id.
        #[arg(short = 'd', long)]
        detach: bool,
        /// Keep its stdin open and send this terminal's input.
        #[arg(short = 'i', long)]
        interactive: bool,
        /// Give it a pseudo-terminal.
        #[arg(short = 't', long)]
        tty: bool,
        /// Environment entries KEY=VALUE.
        #[arg(short = 'e', long = "env")]
        env: Vec<String>,
        /// uid[:gid] to run as.
        #[arg(short = 'u', long)]
        user: Option<String>,
        /// Working directory inside the container.
        #[arg(short = 'w', long)]
        workdir: Option<String>,
        /// Every capability, not only the container's.
        #[arg(long)]
        privileged: bool,
        /// Keys that detach from it (default ctrl-p,ctrl-q).
        #[arg(long)]
        detach_keys: Option<String>,
        name: String,
        /// The command and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND [ARG...]")]
        command: Vec<String>,
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
        /// Remove every container.
        #[arg(short = 'a', long, conflicts_with = "names")]
        all: bool,
        #[arg(short = 't', long)]
        time: Option<u32>,
        #[arg(required_unless_present = "all")]
        names: Vec<String>,
    },
    /// List containers (running ones unless -a).
    Ps {
        #[arg(short = 'a', long)]
        all: bool,
        /// Print ids only.
        #[arg(short = 'q', long)]
        quiet: bool,
        /// `json` (the containers' descriptions) or `table` (default).
        #[arg(long, default_value = "table")]
        format: String,
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
        resources: ResourceFlags,
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
        /// Prefix each line with the stream it was written to, `stdout ` or
        /// `stderr ` (after the time with -t).
        #[arg(long)]
        tag: bool,
        /// Only what the container wrote to standard output.
        #[arg(long)]
        stdout: bool,
        /// Only what the container wrote to standard error.
        #[arg(long)]
        stderr: bool,
        name: String,
    },
    /// Manage networks.
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Health checks: run one now.
    #[command(subcommand)]
    Healthcheck(HealthcheckCommand),
    /// List a container's published ports, as podman port.
    Port {
        name: String,
        /// Only this container port, PORT[/PROTO].
        port: Option<String>,
    },
    /// Images: import, ls, inspect, tag, untag, rm.
    #[command(subcommand)]
    Image(ImageCommand),
    /// List images (image ls).
    Images(ImageListArgs),
    /// Named volumes: create, ls, inspect, rm.
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Kubernetes YAML: generate, play, down.
    #[command(subcommand)]
    Kube(super::kube::KubeCommand),
    /// Mount containers' root file systems; prints their paths on the host.
    Mount {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Release mounts made by mount (the root is unmounted when nothing
    /// holds it, never while the container runs).
    #[command(alias = "umount")]
    Unmount {
        /// Release every mount of each container.
        #[arg(short = 'f', long)]
        force: bool,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Write a container's file system as a tar archive.
    Export {
        /// The file to write (default: standard output).
        #[arg(short = 'o', long)]
        output: Option<String>,
        name: String,
    },
    /// Copy files between a container and the host: `cp CONTAINER:SRC
    /// DST`, `cp SRC CONTAINER:DST`; `-` is a tar stream on standard input
    /// or output. Works on running and stopped containers.
    Cp {
        /// Copied into a container: owned by the container's user
        /// (`--archive=false` keeps the archive's owners).
        #[arg(short = 'a', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
        archive: bool,
        /// Allow a directory to replace a non-directory and the other way
        /// round.
        #[arg(long)]
        overwrite: bool,
        /// Freeze a running container during a copy into it.
        #[arg(long)]
        pause: bool,
        src: String,
        dst: String,
    },
    /// Describe a path in a container as JSON (name, size, mode, times,
    /// link target).
    Stat {
        /// Follow a symlink at PATH (as the container resolves it).
        #[arg(short = 'L', long)]
        follow: bool,
        name: String,
        path: String,
    },
    /// Print container events: the history from the journal, then with
    /// --follow the live ones.
    Events {
        #[arg(short = 'f', long)]
        follow: bool,
        /// Events since (same forms as logs --since).
        #[arg(long)]
        since: Option<String>,
        /// Events before this time; ends a follow there.
        #[arg(long)]
        until: Option<String>,
        /// container=NAME
        #[arg(long)]
        filter: Vec<String>,
    },
}

/// `berthctl healthcheck ...`, as podman's.
#[derive(Debug, Subcommand)]
pub enum HealthcheckCommand {
    /// Run the container's health check now: exit 0 healthy, 1 unhealthy
    /// or still starting (the status printed), 125 when it cannot run.
    Run { name: String },
}

/// `berthctl network ...`: podman's network verbs.
#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a bridge network.
    Create {
        /// CIDR, e.g. 10.90.0.0/24 (default: the first free /24 from 10.89.0.0).
        #[arg(long)]
        subnet: Option<String>,
        /// The gateway's address (default: the subnet's first).
        #[arg(long)]
        gateway: Option<String>,
        /// No route out of the network.
        #[arg(long)]
        internal: bool,
        /// No name resolution between the network's containers.
        #[arg(long)]
        disable_dns: bool,
        #[arg(short = 'l', long = "label")]
        labels: Vec<String>,
        name: String,
    },
    /// List networks.
    #[command(alias = "list")]
    Ls {
        /// Print names only.
        #[arg(short = 'q', long)]
        quiet: bool,
        /// `json` or `table` (default).
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Show networks as JSON.
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove networks no container uses.
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Set running containers' networks up again (after a firewall reload).
    Reload {
        /// Every running container.
        #[arg(short = 'a', long, conflicts_with = "names")]
        all: bool,
        #[arg(required_unless_present = "all")]
        names: Vec<String>,
    },
}
