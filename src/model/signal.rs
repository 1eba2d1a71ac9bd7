use super::{Error, Result};

const NAMES: [(&str, i32); 31] = [
    ("HUP", 1), ("INT", 2), ("QUIT", 3), ("ILL", 4), ("TRAP", 5), ("ABRT", 6), ("BUS", 7),
    ("FPE", 8), ("KILL", 9), ("USR1", 10), ("SEGV", 11), ("USR2", 12), ("PIPE", 13),
    ("ALRM", 14), ("TERM", 15), ("STKFLT", 16), ("CHLD", 17), ("CONT", 18), ("STOP", 19),
    ("TSTP", 20), ("TTIN", 21), ("TTOU", 22), ("URG", 23), ("XCPU", 24), ("XFSZ", 25),
    ("VTALRM", 26), ("PROF", 27), ("WINCH", 28), ("IO", 29), ("PWR", 30), ("SYS", 31),
];

/// Signals 1..=64 (real-time signals included) are valid on Linux.
const SIGNAL_MAX: i32 = 64;

/// Parse a signal as podman does: `SIGTERM`, `TERM`, `term`, `15`, `RTMIN+3`.
pub fn parse_signal(s: &str, key: &str) -> Result<i32> {
    let bad = || Error::invalid(key, format!("unknown signal {s:?}"));
    if let Ok(n) = s.parse::<i64>() {
        return if (1..=SIGNAL_MAX as i64).contains(&n) { Ok(n as i32) } else { Err(bad()) };
    }
    let up = s.to_ascii_uppercase();
    let bare = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some(&(_, n)) = NAMES.iter().find(|(name, _)| *name == bare) {
        return Ok(n);
    }
    if let Some(rest) = bare.strip_prefix("RTMIN") {
        let off = if rest.is_empty() { 0 } else { rest.strip_prefix('+').and_then(|r| r.parse::<i32>().ok()).ok_or_else(bad)? };
        let n = 34 + off;
        return if (34..=SIGNAL_MAX).contains(&n) { Ok(n) } else { Err(bad()) };
    }
    Err(bad())
}

pub fn check_signal(n: i32, key: &str) -> Result<i32> {
    if (1..=SIGNAL_MAX).contains(&n) {
        Ok(n)
    } else {
        Err(Error::invalid(key, format!("unknown signal {n}")))
    }
}

/// `SIGTERM` for 15; the number for signals without a name.
pub fn signal_name(n: i32) -> String {
    match NAMES.iter().find(|(_, v)| *v == n) {
        Some((name, _)) => format!("SIG{name}"),
        None if n >= 34 => format!("SIGRTMIN+{}", n - 34),
        None => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_numbers() {
        assert_eq!(parse_signal("SIGTERM", "k").unwrap(), 15);
        assert_eq!(parse_signal("term", "k").unwrap(), 15);
        assert_eq!(parse_signal("KILL", "k").unwrap(), 9);
        assert_eq!(parse_signal("2", "k").unwrap(), 2);
        assert_eq!(parse_signal("RTMIN+3", "k").unwrap(), 37);
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(37), "SIGRTMIN+3");
    }

    #[test]
    fn rejects_unknown() {
        for s in ["SIGFOO", "0", "65", "-1", "", "RTMIN+99"] {
            let e = parse_signal(s, "StopSignal").unwrap_err();
            assert!(e.to_string().contains("StopSignal"), "{e}");
        }
        assert!(check_signal(0, "Signal").is_err());
    }
}
