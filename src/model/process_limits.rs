//! Options that harden or open the container's process: `Ulimit`
//! (podman's `--ulimit`), `AddDevice` (`--device`) and `Timezone`
//! (`--tz`), each parsed from podman's spelling into a typed value.

use super::spec::check_abs_path;
use super::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The resource names podman's `--ulimit` takes (setrlimit(2) without `RLIMIT_`).
pub const ULIMIT_NAMES: [&str; 16] = [
    "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio",
    "rttime", "sigpending", "stack",
];

/// One resource limit: `nofile=1024:2048`; `u64::MAX` is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

impl Ulimit {
    /// podman's `NAME=SOFT[:HARD]`; a number, or `-1`/`unlimited`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |m: String| Error::invalid("Ulimits", format!("{s:?}: {m}"));
        let (name, limits) = s.split_once('=').ok_or_else(|| bad("is not NAME=SOFT[:HARD]".into()))?;
        if !ULIMIT_NAMES.contains(&name) {
            return Err(bad(format!("unknown limit {name:?} (one of {})", ULIMIT_NAMES.join(", "))));
        }
        let value = |v: &str| match v {
            "-1" | "unlimited" => Ok(u64::MAX),
            v => v.parse::<u64>().map_err(|_| bad(format!("{v:?} is not a number, -1 or unlimited"))),
        };
        let (soft, hard) = match limits.split_once(':') {
            Some((s, h)) => (value(s)?, value(h)?),
            None => (value(limits)?, value(limits)?),
        };
        if soft > hard {
            return Err(bad("the soft limit is above the hard limit".into()));
        }
        Ok(Ulimit { name: name.to_string(), soft, hard })
    }
}

/// A host device node given to the container: podman's
/// `HOST[:CONTAINER][:PERMISSIONS]`; `optional` (`-HOST`) may be missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub host: PathBuf,
    pub container: PathBuf,
    /// Some of `r`, `w`, `m` (read, write, mknod).
    pub access: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

impl Device {
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |m: &str| Error::invalid("Devices", format!("{s:?}: {m}"));
        let (optional, rest) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s),
        };
        let access_like = |p: &str| !p.is_empty() && p.len() <= 3 && p.chars().all(|c| "rwm".contains(c));
        let parts: Vec<&str> = rest.split(':').collect();
        let (host, container, access) = match parts[..] {
            [h] => (h, h, "rwm"),
            [h, a] if access_like(a) => (h, h, a),
            [h, c] => (h, c, "rwm"),
            [h, c, a] if access_like(a) => (h, c, a),
            _ => return Err(bad("is not HOST[:CONTAINER][:PERMISSIONS] (PERMISSIONS of r, w, m)")),
        };
        check_abs_path(host, "Devices")?;
        check_abs_path(container, "Devices")?;
        if !host.starts_with("/dev/") || !container.starts_with("/dev/") {
            return Err(bad("a device is a node under /dev"));
        }
        let mut seen = String::new();
        for c in access.chars() {
            if seen.contains(c) {
                return Err(bad("a permission is given twice"));
            }
            seen.push(c);
        }
        Ok(Device { host: host.into(), container: container.into(), access: access.to_string(), optional })
    }
}

/// podman's `--tz`: `local` (the host's zone) or a zone name under
/// /usr/share/zoneinfo (`Europe/Berlin`, `UTC`).
pub fn check_timezone(tz: &str) -> Result<()> {
    let ok = tz == "local"
        || (!tz.is_empty()
            && tz.len() <= 255
            && !tz.starts_with('/')
            && tz.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
            && tz.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b)));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("Timezone", format!("{tz:?} is not local or a zone name like Europe/Berlin")))
    }
}

/// The host file a `Timezone` stands for.
pub fn timezone_file(tz: &str) -> PathBuf {
    if tz == "local" {
        PathBuf::from("/etc/localtime")
    } else {
        PathBuf::from("/usr/share/zoneinfo").join(tz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulimits_as_podman_spells_them() {
        assert_eq!(Ulimit::parse("nofile=1024:2048").unwrap(), Ulimit { name: "nofile".into(), soft: 1024, hard: 2048 });
        assert_eq!(Ulimit::parse("core=-1").unwrap(), Ulimit { name: "core".into(), soft: u64::MAX, hard: u64::MAX });
        assert_eq!(Ulimit::parse("nproc=10:unlimited").unwrap().hard, u64::MAX);
        for bad in ["nofile", "files=1", "nofile=x", "nofile=2:1", "nofile=1:2:3"] {
            assert_eq!(Ulimit::parse(bad).unwrap_err().key(), Some("Ulimits"), "{bad}");
        }
    }

    #[test]
    fn devices_as_podman_spells_them() {
        let d = |h: &str, c: &str, a: &str, o: bool| Device { host: h.into(), container: c.into(), access: a.into(), optional: o };
        assert_eq!(Device::parse("/dev/fuse").unwrap(), d("/dev/fuse", "/dev/fuse", "rwm", false));
        assert_eq!(Device::parse("/dev/fuse:r").unwrap(), d("/dev/fuse", "/dev/fuse", "r", false));
        assert_eq!(Device::parse("-/dev/sda:/dev/xvda:rw").unwrap(), d("/dev/sda", "/dev/xvda", "rw", true));
        for bad in ["fuse", "/etc/passwd", "/dev/fuse:/dev/x:rwx", "/dev/a:/dev/b:r:w", "/dev/fuse:rr"] {
            assert!(Device::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timezones() {
        for ok in ["local", "UTC", "Europe/Berlin", "Etc/GMT+5", "America/Port-au-Prince"] {
            check_timezone(ok).unwrap();
        }
        for bad in ["", "/etc/localtime", "../../etc/shadow", "Europe//Berlin", "Europe/./x", "a b"] {
            assert!(check_timezone(bad).is_err(), "{bad}");
        }
        assert_eq!(timezone_file("Europe/Berlin"), PathBuf::from("/usr/share/zoneinfo/Europe/Berlin"));
    }
}
