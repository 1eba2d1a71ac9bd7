//! The monitor's part in a bridged container's network: set it up from the
//! request berthd wrote before the runtime runs, tear it down once the
//! container has ended, and (as the unit's ExecStopPost) tear down what a
//! killed monitor left.

use super::MonitorArgs;
use crate::network::{teardown_from_state, NetworkRequest};
use crate::store::RunLayout;
use std::io;
use std::path::Path;

/// Set the container's network up, if it has one; an error stops the start.
pub fn up(a: &MonitorArgs) -> io::Result<()> {
    let Some(path) = &a.network else { return Ok(()) };
    let failed = |what: &str, e: &dyn std::fmt::Display| io::Error::other(format!("{what}: {e}"));
    let req = NetworkRequest::read(path).map_err(|e| failed("the network request", &e))?;
    // Nothing printed on success: the unit's output is the container's log.
    req.bring_up().map_err(|e| failed("setting the network up", &e))?;
    Ok(())
}

/// Tear the container's network down after it ended; failures are
/// reported, and the unit's ExecStopPost tries again.
pub fn down(a: &MonitorArgs) {
    let Some(path) = &a.network else { return };
    match NetworkRequest::read(path).and_then(|req| req.take_down()) {
        Ok(_) => {}
        Err(e) => eprintln!("berth-monitor: tearing the network down: {e}"),
    }
}

/// `net-teardown`: whatever is still set up for container `id` goes; the
/// exit status is 0 whatever happens (systemd could do nothing with a
/// failure here; the journal has the message).
pub fn teardown_after(run_root: &Path, id: &str) -> i32 {
    match teardown_from_state(&RunLayout::new(run_root).network_dir(), id) {
        Ok(_) => {}
        Err(e) => eprintln!("berth-monitor: tearing the network down: {e}"),
    }
    0
}
