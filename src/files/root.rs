//! A container's root directory, held open as a file descriptor.
//!
//! Everything else in this module resolves paths relative to this fd, so the
//! container can never redirect a later step to a host path by renaming or
//! swapping something: the root is fixed once, when it is opened.

use super::error::{Error, Result};
use nix::fcntl::{openat, OFlag};
use nix::libc;
use nix::sys::stat::Mode;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// The root file system of a container: a directory fd plus, for a running
/// container, a pidfd of the process whose root it is.
#[derive(Debug)]
pub struct ContainerRoot {
    dir: OwnedFd,
    process: Option<Process>,
    origin: PathBuf,
    /// Volumes of a stopped container, most deeply mounted first.
    volumes: Vec<Volume>,
}

/// A directory standing at `destination` in the container, as a volume or
/// bind mount would when the container runs.
#[derive(Debug)]
pub(crate) struct Volume {
    /// The destination's components (no `.`, `..` or empty ones).
    pub(crate) destination: Vec<Vec<u8>>,
    pub(crate) dir: OwnedFd,
}

#[derive(Debug)]
struct Process {
    pid: i32,
    pidfd: OwnedFd,
    start_time: u64,
}

impl ContainerRoot {
    /// The root of a running container's process, `/proc/PID/root`, as that
    /// process sees it (its mount namespace: volumes included).
    ///
    /// A recycled pid cannot redirect it: the pidfd is taken first, the
    /// root opened through `/proc/PID`, and only then is the process checked
    /// to be still alive through the pidfd (a live process keeps its pid, so
    /// the `/proc/PID` opened in between was its own) and the pidfd's
    /// fdinfo checked to name the same pid.
    pub fn of_process(pid: i32) -> Result<Self> {
        if pid <= 0 {
            return Err(Error::ProcessGone { pid });
        }
        let pidfd = pidfd_open(pid)?;
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        let gone_or = |e: nix::errno::Errno| match e {
            nix::errno::Errno::ENOENT | nix::errno::Errno::ESRCH => Error::ProcessGone { pid },
            e => Error::ProcessCheck { pid, source: e.into() },
        };
        let proc_fd = open_fd(None, &proc_dir, OFlag::O_PATH | OFlag::O_DIRECTORY).map_err(gone_or)?;
        let dir = open_fd(Some(proc_fd.as_raw_fd()), Path::new("root"), OFlag::O_RDONLY | OFlag::O_DIRECTORY).map_err(|e| match e {
            nix::errno::Errno::EACCES | nix::errno::Errno::EPERM => Error::OpenRoot { path: proc_dir.join("root"), source: e.into() },
            e => gone_or(e),
        })?;
        let start_time = read_start_time(&proc_fd).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => Error::ProcessGone { pid },
            _ => Error::ProcessCheck { pid, source },
        })?;
        let process = Process { pid, pidfd, start_time };
        process.check_alive()?;
        Ok(ContainerRoot { dir, process: Some(process), origin: proc_dir.join("root"), volumes: Vec::new() })
    }

    /// Like [`ContainerRoot::of_process`], and also refuse when the process's
    /// start time (field 22 of `/proc/PID/stat`, clock ticks since boot)
    /// differs from `start_time`: a pid the caller recorded earlier that was
    /// recycled before this call is caught too.
    pub fn of_process_started_at(pid: i32, start_time: u64) -> Result<Self> {
        let root = Self::of_process(pid)?;
        if root.start_time() != Some(start_time) {
            return Err(Error::ProcessGone { pid });
        }
        Ok(root)
    }

    /// The root file system of a stopped container: a directory the caller
    /// (the engine) names, image-based roots already mounted.
    pub fn of_dir(path: &Path) -> Result<Self> {
        let dir = open_fd(None, path, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
            .map_err(|e| Error::OpenRoot { path: path.to_path_buf(), source: e.into() })?;
        Ok(ContainerRoot { dir, process: None, origin: path.to_path_buf(), volumes: Vec::new() })
    }

    /// Show the host directory `source` at `destination` in a stopped
    /// container's root, as its volume or bind mount does when it runs
    /// (a running container's mounts are already in its root).
    ///
    /// A path that names the destination or something below it (after
    /// `..` is applied to its text) is then resolved inside `source` with
    /// the same rules as inside the root: `RESOLVE_IN_ROOT` with `source`
    /// as the root, so nothing in the volume leads out of it. A symlink
    /// elsewhere in the root that points into the destination leads to the
    /// root's own directory there, not to the volume.
    pub fn with_volume(mut self, destination: &str, source: &Path) -> Result<Self> {
        let comps: Vec<Vec<u8>> = normalized(destination.as_bytes());
        if comps.is_empty() || self.process.is_some() {
            return Err(Error::InvalidPath {
                path: destination.to_string(),
                reason: "a volume needs a destination below / in a stopped container's root",
            });
        }
        let dir = open_fd(None, source, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
            .map_err(|e| Error::OpenRoot { path: source.to_path_buf(), source: e.into() })?;
        self.volumes.retain(|v| v.destination != comps);
        self.volumes.push(Volume { destination: comps, dir });
        self.volumes.sort_by(|a, b| b.destination.len().cmp(&a.destination.len()));
        Ok(self)
    }

    /// The volume a container path falls under, with the rest of the path
    /// below its destination; None when it is the root's.
    pub(crate) fn volume_for(&self, path: &[u8]) -> Option<(&Volume, Vec<Vec<u8>>)> {
        if self.volumes.is_empty() {
            return None;
        }
        let comps = normalized(path);
        let v = self.volumes.iter().find(|v| comps.starts_with(&v.destination))?;
        Some((v, comps[v.destination.len()..].to_vec()))
    }

    /// The process whose root this is, for a running container.
    pub fn pid(&self) -> Option<i32> {
        self.process.as_ref().map(|p| p.pid)
    }

    /// The start time of the process (clock ticks since boot).
    pub fn start_time(&self) -> Option<u64> {
        self.process.as_ref().map(|p| p.start_time)
    }

    /// Where the root was opened from, for messages.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// Fails with [`Error::ProcessGone`] once the container's process has
    /// exited; always succeeds for a directory root.
    pub fn check_alive(&self) -> Result<()> {
        match &self.process {
            Some(p) => p.check_alive(),
            None => Ok(()),
        }
    }

    /// A pidfd of the container's process (readable once it exits), for
    /// a running container.
    pub fn process_fd(&self) -> Option<BorrowedFd<'_>> {
        self.process.as_ref().map(|p| p.pidfd.as_fd())
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.dir.as_raw_fd()
    }
}

impl AsFd for ContainerRoot {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }
}

impl Process {
    fn check_alive(&self) -> Result<()> {
        // SAFETY: pidfd_send_signal with signal 0 only checks that the
        // process exists and may be signalled; the pidfd is owned and open,
        // the info pointer may be NULL for signal 0.
        let rc = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, self.pidfd.as_raw_fd(), 0, std::ptr::null::<libc::siginfo_t>(), 0) };
        if rc != 0 {
            let e = io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::ESRCH) => Error::ProcessGone { pid: self.pid },
                _ => Error::ProcessCheck { pid: self.pid, source: e },
            });
        }
        match fdinfo_pid(&self.pidfd) {
            Ok(Some(p)) if p == self.pid => Ok(()),
            Ok(_) => Err(Error::ProcessGone { pid: self.pid }),
            Err(source) => Err(Error::ProcessCheck { pid: self.pid, source }),
        }
    }
}

/// A path's components with `.` and empty ones dropped and `..` applied
/// to the text (at the top it stays at the top).
fn normalized(path: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for c in path.split(|b| *b == b'/').filter(|c| !c.is_empty() && *c != b".") {
        if c == b".." {
            out.pop();
        } else {
            out.push(c.to_vec());
        }
    }
    out
}

fn pidfd_open(pid: i32) -> Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1;
    // no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::ESRCH) => Error::ProcessGone { pid },
            _ => Error::ProcessCheck { pid, source: e },
        });
    }
    // SAFETY: the syscall returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `Pid:` of the pidfd's fdinfo: the pid it refers to, or None (-1) once
/// the process has been reaped.
fn fdinfo_pid(pidfd: &OwnedFd) -> io::Result<Option<i32>> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd()))?;
    let value =
        info.lines().find_map(|l| l.strip_prefix("Pid:")).ok_or_else(|| io::Error::other("the kernel's pidfd fdinfo has no Pid: line"))?;
    let pid: i32 = value.trim().parse().map_err(|_| io::Error::other("unparsable Pid: in pidfd fdinfo"))?;
    Ok((pid > 0).then_some(pid))
}

/// Field 22 of `/proc/PID/stat`, read through the already opened /proc/PID.
fn read_start_time(proc_fd: &OwnedFd) -> io::Result<u64> {
    let fd = open_fd(Some(proc_fd.as_raw_fd()), Path::new("stat"), OFlag::O_RDONLY)?;
    let mut s = String::new();
    File::from(fd).read_to_string(&mut s)?;
    parse_start_time(&s).ok_or_else(|| io::Error::other("unparsable /proc/PID/stat"))
}

/// The comm field may hold spaces and parentheses: fields are counted from
/// the last `)`.
fn parse_start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ")": field 3 (state) is the first; start time is field 22.
    rest.split_whitespace().nth(22 - 3)?.parse().ok()
}

pub(crate) fn open_fd(dir: Option<RawFd>, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    let fd = openat(dir, path, flags | OFlag::O_CLOEXEC, Mode::empty())?;
    // SAFETY: openat returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_is_field_22_even_with_odd_comm() {
        let stat = "42 (a b) c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_start_time(stat), Some(987654));
        assert_eq!(parse_start_time("garbage"), None);
    }

    #[test]
    fn own_process_root_opens_and_a_dead_pid_does_not() {
        let me = std::process::id() as i32;
        let root = ContainerRoot::of_process(me).unwrap();
        assert_eq!(root.pid(), Some(me));
        root.check_alive().unwrap();
        let again = ContainerRoot::of_process_started_at(me, root.start_time().unwrap()).unwrap();
        assert_eq!(again.pid(), Some(me));
        assert!(matches!(ContainerRoot::of_process_started_at(me, root.start_time().unwrap() + 1), Err(Error::ProcessGone { .. })));

        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        assert!(matches!(ContainerRoot::of_process(pid), Err(Error::ProcessGone { .. })));
        assert!(matches!(ContainerRoot::of_process(0), Err(Error::ProcessGone { .. })));
    }

    #[test]
    fn a_root_outlives_its_process_only_as_a_checked_handle() {
        let mut child = std::process::Command::new("sleep").arg("10").spawn().unwrap();
        let pid = child.id() as i32;
        let root = ContainerRoot::of_process(pid).unwrap();
        root.check_alive().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(matches!(root.check_alive(), Err(Error::ProcessGone { .. })));
    }

    #[test]
    fn dir_root_must_be_a_directory() {
        let d = tempfile::tempdir().unwrap();
        ContainerRoot::of_dir(d.path()).unwrap().check_alive().unwrap();
        std::fs::write(d.path().join("f"), "x").unwrap();
        assert!(matches!(ContainerRoot::of_dir(&d.path().join("f")), Err(Error::OpenRoot { .. })));
        assert!(matches!(ContainerRoot::of_dir(&d.path().join("nope")), Err(Error::OpenRoot { .. })));
    }
}
