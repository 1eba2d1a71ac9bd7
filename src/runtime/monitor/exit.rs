//! Exit codes, and recording them when the monitor could not.

use crate::model::{now_usec, parse_signal};
use crate::store::{marker_of, ExitRecord};
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;

/// Exit code of a process: its status, or 128+N when signal N killed it.
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => 255,
    }
}

/// Exit code from systemd's `$EXIT_CODE` / `$EXIT_STATUS` (ExecStopPost).
pub fn exit_code_from_env(code: &str, status: &str) -> Option<i32> {
    match code {
        "exited" => status.parse().ok(),
        "killed" | "dumped" => {
            let sig = status.parse::<i32>().ok().or_else(|| parse_signal(status, "").ok())?;
            Some(128 + sig)
        }
        _ => None,
    }
}

/// Whether systemd's view of the monitor's end means someone killed it on
/// purpose (`systemctl kill`, KillUnit of all processes), so that no
/// restart policy applies; an OOM kill or a crash is not a user's stop.
pub fn killed_on_purpose(code: &str, status: &str, service_result: &str) -> bool {
    code == "killed"
        && matches!(status, "KILL" | "TERM" | "INT" | "9" | "15" | "2")
        && !matches!(service_result, "oom-kill" | "watchdog" | "core-dump")
}

/// ExecStopPost: when the monitor died before recording the exit (killed
/// with SIGKILL, or crashed), record what systemd saw.
pub fn record_exit(exit_file: &Path) -> io::Result<()> {
    let marker = marker_of(exit_file);
    let Ok(started) = std::fs::read_to_string(&marker) else {
        // The monitor recorded the exit itself (or never started).
        return Ok(());
    };
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let (code, status, result) = (env("EXIT_CODE"), env("EXIT_STATUS"), env("SERVICE_RESULT"));
    let exit_code = exit_code_from_env(&code, &status).unwrap_or(255);
    // The marker holds "PID STARTED_AT".
    let started_at = started.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    ExitRecord { exit_code, finished_at: now_usec(), stop_requested: killed_on_purpose(&code, &status, &result), started_at }
        .write(exit_file)?;
    crate::fsutil::remove_durably(&marker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(std::process::ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(std::process::ExitStatus::from_raw(9)), 137);
        assert_eq!(exit_code_from_env("exited", "3"), Some(3));
        assert_eq!(exit_code_from_env("killed", "KILL"), Some(137));
        assert_eq!(exit_code_from_env("dumped", "SEGV"), Some(139));
        assert_eq!(exit_code_from_env("killed", "15"), Some(143));
        assert_eq!(exit_code_from_env("", ""), None);
    }

    #[test]
    fn who_killed_it() {
        assert!(killed_on_purpose("killed", "KILL", "success"));
        assert!(!killed_on_purpose("killed", "KILL", "oom-kill"));
        assert!(!killed_on_purpose("dumped", "SEGV", "core-dump"));
        assert!(!killed_on_purpose("exited", "1", "exit-code"));
    }

    #[test]
    fn records_only_when_the_monitor_did_not() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x");
        record_exit(&f).unwrap();
        assert!(!f.exists(), "no marker: the monitor recorded it");
        std::fs::write(marker_of(&f), "42 1000").unwrap();
        record_exit(&f).unwrap();
        let r = ExitRecord::read(&f).unwrap().unwrap();
        assert_eq!((r.exit_code, r.started_at), (255, 1000));
        assert!(!marker_of(&f).exists());
    }
}
