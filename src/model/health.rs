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
