//! A container unit's cgroup, split in two below the unit (it has
//! `Delegate=yes`): `monitor` holds berth-monitor, `payload` the container
//! (and crun; runc stays with the monitor and places the container itself).
//! Pausing freezes `payload` alone, so the monitor keeps serving (and
//! handles a stop of a paused container), and the unit's stop-post
//! commands, which systemd runs in `.control`, never run frozen.
//!
//! The names are chosen for the order the kernel lists them in (by a hash
//! of the name): `monitor` before `payload`. systemd's kill of the whole
//! unit walks the children in that order, so runc is SIGKILLed before its
//! container dies; listed the other way, runc outlived the container long
//! enough to remove `payload` while systemd was reading its processes, and
//! `systemctl kill` failed with "Input/output error".

use crate::model::{Error, Result};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const SUPERVISOR: &str = "monitor";
pub const PAYLOAD: &str = "payload";

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The unit's cgroup (as systemd names it: `/system.slice/berth-x.service`)
/// from a `/proc/PID/cgroup` text of a process in it or below it.
pub fn unit_cgroup(proc_cgroup: &str) -> Option<String> {
    let own = proc_cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    let unit = own.trim_end_matches(&format!("/{SUPERVISOR}")).trim_end_matches(&format!("/{PAYLOAD}"));
    Some(unit.to_string())
}

fn dir(unit_cgroup: &str) -> PathBuf {
    Path::new(CGROUP_ROOT).join(unit_cgroup.trim_start_matches('/'))
}

/// The payload cgroup of a unit, as a path under /sys/fs/cgroup.
pub fn payload_dir(unit_cgroup: &str) -> PathBuf {
    dir(unit_cgroup).join(PAYLOAD)
}

/// Move the calling process into `supervisor` and make `payload`; returns
/// the unit's cgroup. A process cannot be in a cgroup whose children hold
/// processes and controllers, hence the two leaves.
pub fn enter_supervisor() -> io::Result<String> {
    let own = std::fs::read_to_string("/proc/self/cgroup")?;
    let unit = unit_cgroup(&own).ok_or_else(|| io::Error::other("no cgroup v2 entry in /proc/self/cgroup"))?;
    let sup = dir(&unit).join(SUPERVISOR);
    std::fs::create_dir_all(&sup)?;
    std::fs::create_dir_all(dir(&unit).join(PAYLOAD))?;
    std::fs::write(sup.join("cgroup.procs"), std::process::id().to_string())?;
    Ok(unit)
}

/// SIGKILL every process of the unit's payload (cgroup.kill, Linux 5.14);
/// frozen ones too.
pub fn kill_payload(unit_cgroup: &str) -> std::io::Result<()> {
    std::fs::write(payload_dir(unit_cgroup).join("cgroup.kill"), "1")
}

/// Whether the unit's payload is frozen (false when it has none).
pub fn payload_frozen(unit_cgroup: &str) -> bool {
    if unit_cgroup.is_empty() {
        return false;
    }
    std::fs::read_to_string(payload_dir(unit_cgroup).join("cgroup.events"))
        .map(|e| e.lines().any(|l| l == "frozen 1"))
        .unwrap_or(false)
}

/// Freeze or thaw the payload and wait (at most 10 s) until the kernel
/// says it is done.
pub fn freeze_payload(unit_cgroup: &str, freeze: bool) -> Result<()> {
    let d = payload_dir(unit_cgroup);
    let f = d.join("cgroup.freeze");
    std::fs::write(&f, if freeze { "1" } else { "0" }).map_err(Error::io_at("write", &f))?;
    let t0 = Instant::now();
    while payload_frozen(unit_cgroup) != freeze {
        if t0.elapsed() > Duration::from_secs(10) {
            let what = if freeze { "freeze" } else { "thaw" };
            return Err(Error::internal(format!("{} did not {what} within 10 s", d.display())));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_cgroups() {
        let u = |s: &str| unit_cgroup(s);
        assert_eq!(u("0::/system.slice/berth-web.service\n").as_deref(), Some("/system.slice/berth-web.service"));
        assert_eq!(u("0::/system.slice/berth-web.service/monitor\n").as_deref(), Some("/system.slice/berth-web.service"));
        assert_eq!(u("0::/system.slice/berth-web.service/payload\n").as_deref(), Some("/system.slice/berth-web.service"));
        assert_eq!(u("1:cpu:/\n"), None);
        assert_eq!(payload_dir("/a.slice/b.service"), Path::new("/sys/fs/cgroup/a.slice/b.service/payload"));
        assert!(!payload_frozen(""));
    }
}
