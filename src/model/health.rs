//! Health checks as podman's `--health-*` options describe them: what runs in
//! the container, how often, and what a failing container has done to it.

use super::{Error, Result};
use serde::{Deserialize, Serialize};

/// Defaults of podman's `--health-interval`, `--health-timeout` and
/// `--health-retries`.
pub const DEFAULT_INTERVAL_USEC: u64 = 30_000_000;
pub const DEFAULT_TIMEOUT_USEC: u64 = 30_000_000;
pub const DEFAULT_RETRIES: u32 = 3;

/// What happens to a container whose check fails `retries` times in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthOnFailure {
    #[default]
    None,
    Kill,
    Restart,
    Stop,
}

impl HealthOnFailure {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(HealthOnFailure::None),
            "kill" => Ok(HealthOnFailure::Kill),
            "restart" => Ok(HealthOnFailure::Restart),
            "stop" => Ok(HealthOnFailure::Stop),
            _ => Err(Error::invalid("HealthOnFailure", format!("{s:?} is not none, kill, restart or stop"))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HealthOnFailure::None => "none",
            HealthOnFailure::Kill => "kill",
            HealthOnFailure::Restart => "restart",
            HealthOnFailure::Stop => "stop",
        }
    }
}

/// A container's health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// The program and its arguments, run as an exec in the container. A
    /// HealthCmd given as a plain string is `/bin/sh -c STRING`, as podman's
    /// CMD-SHELL; empty until HealthCmd is given.
    pub command: Vec<String>,
    /// Time between checks; 0 runs checks only when asked (podman's
    /// `--health-interval disable`).
    pub interval_usec: u64,
    /// A check running longer fails.
    pub timeout_usec: u64,
    /// Failures in a row that make the container unhealthy.
    pub retries: u32,
    /// Failures in this time after start do not count.
    pub start_period_usec: u64,
    pub on_failure: HealthOnFailure,
}

impl Default for Healthcheck {
    fn default() -> Self {
        Healthcheck {
            command: Vec::new(),
            interval_usec: DEFAULT_INTERVAL_USEC,
            timeout_usec: DEFAULT_TIMEOUT_USEC,
            retries: DEFAULT_RETRIES,
            start_period_usec: 0,
            on_failure: HealthOnFailure::None,
        }
    }
}

/// How many results a container's health keeps (podman keeps 5).
pub const HEALTH_LOG_MAX: usize = 5;
/// How much of a check's output a result keeps: its last 4 KiB, as podman.
pub const HEALTH_OUTPUT_MAX: usize = 4096;

/// podman's health statuses (C: `berth_health_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u32)]
pub enum HealthStatus {
    /// No check has passed since the container started.
    #[default]
    Starting = 1,
    /// The last check passed (or fewer than HealthRetries failed since).
    Healthy = 2,
    /// HealthRetries checks in a row failed.
    Unhealthy = 3,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }

    pub fn parse(s: &str) -> Option<HealthStatus> {
        [HealthStatus::Starting, HealthStatus::Healthy, HealthStatus::Unhealthy].into_iter().find(|h| h.as_str() == s)
    }
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check's result (podman's `HealthCheckLog`); times in microseconds
/// since the epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthLog {
    pub start: u64,
    pub end: u64,
    /// The command's exit code; 0 passes. A check that timed out or could
    /// not run has a code of its own and says why in its output.
    pub exit_code: i32,
    pub output: String,
}

/// A container's health in its current run (podman's `State.Health`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthState {
    pub status: HealthStatus,
    /// Failed checks in a row (not counting those of the start period).
    pub failing_streak: u32,
    /// The last results, oldest first.
    pub log: Vec<HealthLog>,
    /// The run these results belong to (the container's StartedAt).
    #[serde(default)]
    pub run_started_at: u64,
}

impl HealthState {
    /// A new run's health: starting, with no results.
    pub fn new_run(started_at: u64) -> HealthState {
        HealthState { run_started_at: started_at, ..HealthState::default() }
    }

    /// Take in one result as podman does: a pass makes it healthy and ends
    /// the streak; a failure counts unless it falls in the start period
    /// before any check passed, and `retries` failures in a row make it
    /// unhealthy. Returns whether the status changed.
    pub fn record(&mut self, check: &Healthcheck, result: HealthLog) -> bool {
        let before = self.status;
        let in_start_period = self.status == HealthStatus::Starting
            && result.start < self.run_started_at.saturating_add(check.start_period_usec);
        if result.exit_code == 0 {
            self.status = HealthStatus::Healthy;
            self.failing_streak = 0;
        } else if !in_start_period {
            self.failing_streak = self.failing_streak.saturating_add(1);
            if self.failing_streak >= check.retries.max(1) {
                self.status = HealthStatus::Unhealthy;
            }
        }
        self.log.push(result);
        if self.log.len() > HEALTH_LOG_MAX {
            let extra = self.log.len() - HEALTH_LOG_MAX;
            self.log.drain(..extra);
        }
        self.status != before
    }
}

/// The last [`HEALTH_OUTPUT_MAX`] bytes of a check's output, cut at a
/// character boundary.
pub fn output_tail(out: &[u8]) -> String {
    let tail = &out[out.len().saturating_sub(HEALTH_OUTPUT_MAX)..];
    let s = String::from_utf8_lossy(tail);
    // A cut inside a character shows as U+FFFD at the start: drop it.
    s.trim_start_matches('\u{fffd}').to_string()
}

/// Read a HealthCmd value as podman does: a JSON array is the exec form
/// (`["CMD", "prog", "arg"]`, `["CMD-SHELL", "line"]` or a bare argv); any
/// other string runs under `/bin/sh -c`. `none` (or empty) is no check.
pub fn parse_health_cmd(s: &str) -> Result<Option<Vec<String>>> {
    let key = "HealthCmd";
    let s = s.trim();
    if s.is_empty() || s == "none" {
        return Ok(None);
    }
    if s.contains('\0') {
        return Err(Error::invalid(key, "must not contain NUL bytes"));
    }
    if !s.starts_with('[') {
        return Ok(Some(vec!["/bin/sh".into(), "-c".into(), s.into()]));
    }
    let argv: Vec<String> =
        serde_json::from_str(s).map_err(|e| Error::invalid(key, format!("{s:?} is not a JSON array of strings: {e}")))?;
    let argv = match argv.split_first() {
        Some((first, rest)) if first == "CMD" => rest.to_vec(),
        Some((first, rest)) if first == "CMD-SHELL" => match rest {
            [line] => vec!["/bin/sh".into(), "-c".into(), line.clone()],
            _ => return Err(Error::invalid(key, "CMD-SHELL takes one command line")),
        },
        Some((first, _)) if first == "NONE" => return Ok(None),
        _ => argv,
    };
    match argv.first() {
        None => Err(Error::invalid(key, "names no program")),
        Some(p) if p.is_empty() => Err(Error::invalid(key, "names an empty program")),
        Some(_) => Ok(Some(argv)),
    }
}

/// Read a duration as podman (Go's time.ParseDuration) writes it: `30s`,
/// `1m30s`, `1.5h`, `500ms`. A unit is required, as podman requires one.
pub fn parse_duration_usec(s: &str, key: &str) -> Result<u64> {
    let bad = |why: &str| Error::invalid(key, format!("{s:?} is not a duration such as 30s, 1m30s or 500ms: {why}"));
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad("empty"));
    }
    if rest == "0" {
        return Ok(0);
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad("a number must come first"));
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| bad("not a number"))?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 0.001,
            "us" | "µs" => 1.0,
            "ms" => 1e3,
            "s" => 1e6,
            "m" => 60e6,
            "h" => 3600e6,
            "" => return Err(bad("a unit (ns, us, ms, s, m, h) is required")),
            u => return Err(bad(&format!("unknown unit {u:?}"))),
        };
        rest = &rest[unit_len..];
        total += n * scale;
    }
    // A day of microseconds is far below f64's exact range; longer is an error.
    if total > 366.0 * 86_400e6 {
        return Err(bad("longer than a year"));
    }
    Ok(total.round() as u64)
}

/// Write a duration the way [`parse_duration_usec`] reads it back.
pub fn format_duration_usec(usec: u64) -> String {
    match usec {
        0 => "0s".into(),
        u if u % 3_600_000_000 == 0 => format!("{}h", u / 3_600_000_000),
        u if u % 60_000_000 == 0 => format!("{}m", u / 60_000_000),
        u if u % 1_000_000 == 0 => format!("{}s", u / 1_000_000),
        u if u % 1_000 == 0 => format!("{}ms", u / 1_000),
        u => format!("{u}us"),
    }
}

/// HealthInterval: a duration of at least a second, or `disable` (0).
pub fn parse_interval(s: &str) -> Result<u64> {
    if s.trim() == "disable" {
        return Ok(0);
    }
    let u = parse_duration_usec(s, "HealthInterval")?;
    if u < 1_000_000 {
        return Err(Error::invalid("HealthInterval", format!("{s:?} is less than 1s (use disable for no timer)")));
    }
    Ok(u)
}

/// HealthTimeout: at least a second, as podman.
pub fn parse_timeout(s: &str) -> Result<u64> {
    let u = parse_duration_usec(s, "HealthTimeout")?;
    if u < 1_000_000 {
        return Err(Error::invalid("HealthTimeout", format!("{s:?} is less than 1s")));
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(retries: u32, start_period_usec: u64) -> Healthcheck {
        Healthcheck { command: vec!["true".into()], retries, start_period_usec, ..Healthcheck::default() }
    }

    fn result(start: u64, exit_code: i32) -> HealthLog {
        HealthLog { start, end: start + 1, exit_code, output: format!("run at {start}") }
    }

    #[test]
    fn failures_in_a_row_make_it_unhealthy() {
        let c = check(3, 0);
        let mut h = HealthState::new_run(100);
        assert!(!h.record(&c, result(200, 1)));
        assert!(!h.record(&c, result(300, 1)));
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 2));
        assert!(h.record(&c, result(400, 1)));
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Unhealthy, 3));
        assert!(h.record(&c, result(500, 0)));
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 0));
        assert!(!h.record(&c, result(600, 1)));
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 1));
        assert_eq!(h.log.len(), HEALTH_LOG_MAX);
        assert_eq!(h.log[0].start, 200);
        h.record(&c, result(700, 0));
        assert_eq!(h.log.len(), HEALTH_LOG_MAX);
        assert_eq!(h.log[0].start, 300, "the oldest result goes");
    }

    #[test]
    fn the_start_period_forgives_until_a_check_passes() {
        let c = check(1, 1000);
        let mut h = HealthState::new_run(100);
        h.record(&c, result(200, 1));
        h.record(&c, result(300, 1));
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 0), "failures in the start period do not count");
        h.record(&c, result(400, 0));
        assert_eq!(h.status, HealthStatus::Healthy);
        h.record(&c, result(500, 1));
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Unhealthy, 1), "after a pass they count");
        let mut h = HealthState::new_run(100);
        h.record(&c, result(1100, 1));
        assert_eq!(h.status, HealthStatus::Unhealthy, "after the start period they count");
    }

    #[test]
    fn output_keeps_its_tail() {
        let long = "é".repeat(HEALTH_OUTPUT_MAX);
        let t = output_tail(long.as_bytes());
        assert!(t.len() <= HEALTH_OUTPUT_MAX && t.chars().all(|c| c == 'é'), "{}", t.len());
        assert_eq!(output_tail(b"ok\n"), "ok\n");
        assert_eq!(HealthStatus::parse("healthy"), Some(HealthStatus::Healthy));
        assert_eq!(HealthStatus::parse("sick"), None);
    }

    #[test]
    fn commands_as_podman_reads_them() {
        let sh = |l: &str| Some(vec!["/bin/sh".to_string(), "-c".into(), l.into()]);
        assert_eq!(parse_health_cmd("curl -f localhost || exit 1").unwrap(), sh("curl -f localhost || exit 1"));
        assert_eq!(parse_health_cmd(r#"["CMD", "true", "x"]"#).unwrap(), Some(vec!["true".into(), "x".into()]));
        assert_eq!(parse_health_cmd(r#"["CMD-SHELL", "a && b"]"#).unwrap(), sh("a && b"));
        assert_eq!(parse_health_cmd(r#"["/bin/true"]"#).unwrap(), Some(vec!["/bin/true".into()]));
        assert_eq!(parse_health_cmd("none").unwrap(), None);
        assert_eq!(parse_health_cmd("").unwrap(), None);
        for bad in [r#"["CMD"]"#, "[1]", "[", r#"["CMD-SHELL","a","b"]"#, r#"[""]"#, "a\0b"] {
            let e = parse_health_cmd(bad).unwrap_err().to_string();
            assert!(e.contains("HealthCmd"), "{bad}: {e}");
        }
    }

    #[test]
    fn durations_as_go_writes_them() {
        assert_eq!(parse_duration_usec("30s", "k").unwrap(), 30_000_000);
        assert_eq!(parse_duration_usec("1m30s", "k").unwrap(), 90_000_000);
        assert_eq!(parse_duration_usec("1.5h", "k").unwrap(), 5_400_000_000);
        assert_eq!(parse_duration_usec("250ms", "k").unwrap(), 250_000);
        assert_eq!(parse_duration_usec("0", "k").unwrap(), 0);
        for bad in ["", "30", "s", "3x", "1m-2s", "99999h"] {
            assert!(parse_duration_usec(bad, "HealthTimeout").unwrap_err().to_string().contains("HealthTimeout"), "{bad}");
        }
        for u in [0, 1, 1_000, 1_500_000, 30_000_000, 90_000_000, 3_600_000_000] {
            assert_eq!(parse_duration_usec(&format_duration_usec(u), "k").unwrap(), u);
        }
        assert_eq!(parse_interval("disable").unwrap(), 0);
        assert!(parse_interval("500ms").is_err());
        assert!(parse_timeout("0s").is_err());
        assert_eq!(HealthOnFailure::parse("restart").unwrap(), HealthOnFailure::Restart);
        assert!(HealthOnFailure::parse("reboot").unwrap_err().to_string().contains("HealthOnFailure"));
    }
}
