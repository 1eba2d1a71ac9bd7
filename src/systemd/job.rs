//! What systemd says of jobs and units, typed: a job's result and the unit
//! changes berth follows.

/// The result of a job, as JobRemoved reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobResult {
    Done,
    Canceled,
    Timeout,
    Failed,
    Dependency,
    Skipped,
    /// A result this version does not name (systemd adds some now and then).
    Other(String),
}

impl JobResult {
    pub fn parse(s: &str) -> JobResult {
        match s {
            "done" => JobResult::Done,
            "canceled" => JobResult::Canceled,
            "timeout" => JobResult::Timeout,
            "failed" => JobResult::Failed,
            "dependency" => JobResult::Dependency,
            "skipped" => JobResult::Skipped,
            other => JobResult::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            JobResult::Done => "done",
            JobResult::Canceled => "canceled",
            JobResult::Timeout => "timeout",
            JobResult::Failed => "failed",
            JobResult::Dependency => "dependency",
            JobResult::Skipped => "skipped",
            JobResult::Other(s) => s,
        }
    }
}

impl std::fmt::Display for JobResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something changed that the engine should look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitEvent {
    /// The state of this unit may have changed.
    Changed(String),
    /// PID 1 finished a daemon-reload: generated units may have changed.
    Reloaded,
    /// Signals may have been missed (a reconnect to PID 1): re-read every unit.
    Resync,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_round_trip() {
        for s in ["done", "canceled", "timeout", "failed", "dependency", "skipped", "once"] {
            assert_eq!(JobResult::parse(s).as_str(), s);
        }
        assert_eq!(JobResult::parse("once"), JobResult::Other("once".into()));
    }
}
