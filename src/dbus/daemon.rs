//! berthd: the engine served on the system bus.

use crate::engine::{Config, Engine};
use crate::store::{DEFAULT_RUN_ROOT, DEFAULT_STATE_ROOT};
use crate::systemd::Systemd;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Parser)]
#[command(name = "berthd", version, about = "berth's D-Bus service: containers as systemd units")]
pub struct Options {
    /// Durable state (container records).
    #[arg(long, default_value = DEFAULT_STATE_ROOT)]
    pub state_root: PathBuf,
    /// Volatile runtime data (bundles, exit files).
    #[arg(long, default_value = DEFAULT_RUN_ROOT)]
    pub run_root: PathBuf,
    /// The berth-monitor binary units run (default: next to berthd).
    #[arg(long)]
    pub monitor: Option<PathBuf>,
}

/// Log to journald when systemd started us, to stderr otherwise.
pub fn init_logging() {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let under_systemd = std::env::var_os("INVOCATION_ID").is_some();
    let journald = under_systemd.then(|| tracing_journald::layer().ok()).flatten();
    let registry = tracing_subscriber::registry().with(filter);
    match journald {
        Some(j) => registry.with(j).init(),
        None => registry.with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr)).init(),
    }
}

fn default_monitor() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("berth-monitor")))
        .unwrap_or_else(|| PathBuf::from("/usr/local/bin/berth-monitor"))
}

/// Serve until SIGTERM or SIGINT. Running containers are left alone: systemd
/// holds them, and the next berthd reconciles.
pub async fn run(opts: Options) -> crate::model::Result<()> {
    // Two malloc arenas, not eight per core: memory freed after a burst of
    // calls goes back to the system instead of staying spread over arenas.
    // SAFETY: mallopt only sets the allocator's parameters.
    unsafe { nix::libc::mallopt(nix::libc::M_ARENA_MAX, 2) };
    let err = |e: zbus::Error| crate::model::Error::internal(format!("D-Bus: {e}"));
    let monitor = opts.monitor.unwrap_or_else(default_monitor);
    if !monitor.is_file() {
        return Err(crate::model::Error::internal(format!("berth-monitor not found at {}", monitor.display())));
    }
    let systemd = Systemd::connect().await?;
    let mut config = Config::new(opts.state_root, opts.run_root, monitor);
    config.defined_dir = Some(crate::engine::DEFINED_DIR.into());
    let engine = Engine::open(config, systemd).await?;
    let conn = zbus::connection::Builder::system().build().await.map_err(err)?;
    super::serve(&conn, engine.clone()).await.map_err(err)?;
    let _ = libsystemd::daemon::notify(false, &[libsystemd::daemon::NotifyState::Ready]);
    tracing::info!(containers = engine.list().len(), "berthd ready on {}", super::BUS_NAME);

    use tokio::signal::unix::{signal, SignalKind};
    let sig_err = |e| crate::model::Error::internal(format!("cannot handle signals: {e}"));
    let mut term = signal(SignalKind::terminate()).map_err(sig_err)?;
    let mut int = signal(SignalKind::interrupt()).map_err(sig_err)?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    let _ = libsystemd::daemon::notify(false, &[libsystemd::daemon::NotifyState::Stopping]);
    tracing::info!("berthd stopping; containers keep running under systemd");
    Ok(())
}
