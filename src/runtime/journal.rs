//! The container's standard output and error as two journald streams, so
//! that journal entries tell them apart (PRIORITY 6 and 3, as podman does),
//! and a wait until journald has read everything the container wrote, so
//! that a reader who learns the container has exited finds all its lines.

use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

const JOURNAL_STREAM_SOCKET: &str = "/run/systemd/journal/stdout";

/// A stream like systemd's own for a unit's output: lines written to it
/// become entries of `unit` (so its LogExtraFields apply whichever process
/// wrote them, even one gone by then) with this identifier and priority.
pub fn stream(identifier: &str, unit: &str, priority: u8) -> io::Result<OwnedFd> {
    let mut s = UnixStream::connect(JOURNAL_STREAM_SOCKET)?;
    s.shutdown(std::net::Shutdown::Read)?;
    // identifier, unit id, priority, level prefix, forward to syslog, kmsg, console
    write!(s, "{identifier}\n{unit}\n{priority}\n0\n0\n0\n0\n")?;
    Ok(s.into())
}

/// The unit the monitor runs in and the container's name from it:
/// `berth-NAME.service` (transient) or `NAME.service` (file-defined).
pub fn unit_from_cgroup(cgroup: &str) -> Option<(String, String)> {
    let unit = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?.split('/').rev().find(|c| c.ends_with(".service"))?;
    let name = unit.strip_suffix(".service")?;
    Some((unit.to_string(), name.strip_prefix("berth-").unwrap_or(name).to_string()))
}

/// stdout and stderr streams for the container, when journald is there.
pub fn container_streams() -> Option<(OwnedFd, OwnedFd)> {
    std::env::var_os("JOURNAL_STREAM")?;
    let cg = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let (unit, name) = unit_from_cgroup(&cg)?;
    Some((stream(&name, &unit, 6).ok()?, stream(&name, &unit, 3).ok()?))
}

fn unread(fd: &impl AsRawFd) -> Option<i32> {
    let mut n: nix::libc::c_int = 0;
    // SIOCOUTQ: bytes queued on a unix socket that the peer has not read.
    let r = unsafe { nix::libc::ioctl(fd.as_raw_fd(), nix::libc::TIOCOUTQ, &mut n) };
    (r == 0).then_some(n)
}

/// Wait (at most `limit`) until journald has read all queued output.
pub fn drain(fds: &[&OwnedFd], limit: Duration) {
    let t0 = Instant::now();
    while fds.iter().any(|fd| unread(*fd).is_some_and(|n| n > 0)) && t0.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_units() {
        let u = |s: &str| unit_from_cgroup(s).map(|(u, n)| format!("{u} {n}"));
        assert_eq!(u("0::/system.slice/berth-web.service\n").as_deref(), Some("berth-web.service web"));
        assert_eq!(u("0::/system.slice/berth-web.service/supervisor\n").as_deref(), Some("berth-web.service web"));
        assert_eq!(u("0::/system.slice/db.service\n").as_deref(), Some("db.service db"));
        assert_eq!(u("0::/user.slice\n"), None);
    }

    #[test]
    fn drain_waits_for_the_reader() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let a: OwnedFd = a.into();
        std::io::Write::write_all(&mut UnixStream::from(a.try_clone().unwrap()), b"hello").unwrap();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            let mut buf = [0u8; 5];
            std::io::Read::read_exact(&mut b, &mut buf).unwrap();
            b
        });
        let t0 = Instant::now();
        drain(&[&a], Duration::from_secs(5));
        assert!(t0.elapsed() >= Duration::from_millis(40));
        t.join().unwrap();
    }
}
