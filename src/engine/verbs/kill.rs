//! Kill.

use super::super::{Engine, KillWhom};
use crate::model::{check_signal, Error, EventKind, Result, State, Verb};
use crate::runtime::KILL_REQUEST_SIGNAL;
use crate::store::Record;

impl Engine {
    /// Kill(signal): deliver a signal to the container; a kill is the user's
    /// stop, so no restart follows. A paused container is thawed first, so
    /// that the signal is acted on.
    pub async fn kill(&self, name: &str, signal: i32) -> Result<Record> {
        let signal = check_signal(signal, "Signal")?;
        let (c, _g) = self.locked(name).await?;
        let mut rec = self.refresh(&c).await?;
        rec.state.check(Verb::Kill, name)?;
        // Recorded before the signal: a container the signal ends must not
        // be restarted, even when berthd dies right after sending it.
        let was_stopped_by_user = rec.stopped_by_user;
        rec.stopped_by_user = true;
        self.commit(&c, rec.clone()).await?;
        self.crash_point("kill: recorded").await;
        let unit = rec.unit_name();
        if rec.state == State::Paused {
            self.inner.units.thaw(&unit).await?;
            self.crash_point("kill: thawed").await;
        }
        // The monitor forwards signals to the container's init; SIGKILL it
        // asks for with its own signal (see KILL_REQUEST_SIGNAL), and kills
        // the container's cgroup itself. Should the monitor be gone, every
        // process of the unit gets SIGKILL from systemd.
        let sent = if signal == 9 {
            match self.inner.units.kill(&unit, KillWhom::Main, KILL_REQUEST_SIGNAL).await {
                Ok(()) => Ok(()),
                Err(_) => self.inner.units.kill(&unit, KillWhom::All, 9).await,
            }
        } else {
            self.inner.units.kill(&unit, KillWhom::Main, signal).await
        };
        if let Err(e) = sent {
            // No signal went: the user did not stop it. The container may
            // have ended meanwhile (its unit unloaded, or stopping with no
            // process left to signal): say that, as for a kill of a stopped
            // container.
            let mut now = self.refresh(&c).await?;
            if now.stopped_by_user != was_stopped_by_user && now.started_at == rec.started_at {
                now.stopped_by_user = was_stopped_by_user;
                self.commit(&c, now.clone()).await?;
            }
            now.state.check(Verb::Kill, name)?;
            if !matches!(now.state, State::Running | State::Paused) {
                return Err(Error::InvalidState { name: name.to_string(), state: now.state, verb: Verb::Kill });
            }
            return Err(e);
        }
        self.crash_point("kill: signalled").await;
        self.emit(&rec, EventKind::Kill);
        self.refresh(&c).await
    }
}
