//! Reaching a container's files for Stat, CopyFromArchive, CopyToArchive
//! and artifacts: its root held as a descriptor ([`crate::files`] resolves
//! every path inside it), the caller's descriptor read or written from a
//! blocking thread, and the work carried on to its end when the caller
//! goes away, so that a frozen container is always thawed and a root
//! mounted for the call always released.
//!
//! A running container is reached through `/proc/PID/root` of its init
//! (the runtime's pid file), held by a pidfd and checked to be in the
//! container's unit, so a recycled pid cannot redirect a copy to another
//! process; volumes are there as the container sees them. A stopped one is
//! reached through its root file system, mounted for the call when it
//! comes from an image; its lock is held through the call, so nothing
//! starts it on a root that is about to be unmounted.

use super::roots::root_needed;
use super::{blocking, Container, Engine};
use crate::files::{self, ContainerRoot};
use crate::model::{Error, Result, State, Verb};
use crate::store::Record;
use std::fs::File;
use std::future::Future;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::OwnedMutexGuard;

/// How much one read or write of the caller's descriptor moves at most.
const IO_CHUNK: usize = 1 << 20;

/// How often a thread waiting on the caller's descriptor checks whether
/// the call was given up.
const POLL_MS: u16 = 200;

/// A container's root, held for one call.
pub(crate) struct Reached {
    /// Taken by the work; closed before the root is released.
    root: Option<ContainerRoot>,
    pub(crate) rec: Record,
    c: Arc<Container>,
    /// The container's lock, held through a paused copy.
    hold: Option<OwnedMutexGuard<()>>,
    /// A stopped container's root, counted in its users: the last user
    /// unmounts it when nothing else needs it.
    shared_root: bool,
    /// Frozen for this call: thawed after.
    thaw: bool,
}

impl Engine {
    /// The root of container `name`, running or not; with `pause`, a
    /// running container is frozen until [`Engine::release`].
    pub(crate) async fn reach(&self, name: &str, pause: bool) -> Result<Reached> {
        // A running container, not to be frozen: its process's root,
        // checked through the pidfd to be its unit's, answers without a
        // round trip to systemd (copies come many at a time). Anything
        // else takes the lock and refreshes.
        if !pause {
            let c = self.get(name)?;
            let rec = c.record();
            let pid = if rec.state == State::Running { self.main_pid(&rec) as i32 } else { 0 };
            if pid > 0 {
                let unit = rec.unit_name();
                if let Ok(root) = blocking(move || open_process_root(pid, &unit)).await {
                    return Ok(Reached { root: Some(root), rec, c, hold: None, shared_root: false, thaw: false });
                }
            }
        }
        let (c, g) = self.locked(name).await?;
        let rec = self.refresh(&c).await?;
        rec.state.check(Verb::Files, name)?;
        if rec.state.is_live() {
            let pid = self.main_pid(&rec) as i32;
            if pid <= 0 {
                return Err(Error::InvalidState { name: name.to_string(), state: rec.state, verb: Verb::Files });
            }
            let unit = rec.unit_name();
            let root = blocking(move || open_process_root(pid, &unit)).await.map_err(|e| files_error(name, e))?;
            let thaw = pause && rec.state == State::Running;
            if thaw {
                self.inner.units.freeze(&rec.unit_name()).await?;
                self.crash_point("files: frozen").await;
            }
            let hold = if thaw { Some(g) } else { None };
            return Ok(Reached { root: Some(root), rec, c, hold, shared_root: false, thaw });
        }
        // Stopped: its root, mounted while a call uses it, and its volumes
        // at their destinations, as the container would see them running.
        // The lock is given back once the root is open: a stalled caller
        // holds no other verb up (a start meanwhile mounts the same root,
        // which then stays mounted).
        let unmount = !self.root_is_mounted(&rec).await?;
        let path = self.mount_root(&rec).await?;
        if unmount {
            self.crash_point("files: root mounted").await;
        }
        let volumes = self.volume_sources(&rec).await?;
        let opened = blocking(move || {
            let mut root = ContainerRoot::of_dir(&path)?;
            for (destination, source) in volumes {
                root = root.with_volume(&destination, &source)?;
            }
            Ok(root)
        })
        .await
        .map_err(|e| files_error(name, e));
        match opened {
            Ok(root) => {
                c.root_users.fetch_add(1, Ordering::AcqRel);
                if unmount {
                    c.root_mounted_for_files.store(true, Ordering::Release);
                }
                drop(g);
                Ok(Reached { root: Some(root), rec, c, hold: None, shared_root: true, thaw: false })
            }
            Err(e) => {
                if unmount {
                    self.unmount_root(&rec).await?;
                }
                Err(e)
            }
        }
    }

    /// Where each volume of a stopped container comes from on the host:
    /// a bind mount's directory, a named or anonymous volume's (one never
    /// made, or a bind source that is gone, is left out: nothing is there).
    async fn volume_sources(&self, rec: &Record) -> Result<Vec<(String, PathBuf)>> {
        let (inner, volumes) = (self.inner.clone(), rec.spec.volumes.clone());
        blocking(move || {
            let mut out = Vec::new();
            for v in volumes {
                let source = match &v.volume {
                    Some(name) => match inner.volumes.inspect(name) {
                        Ok(vol) => vol.mountpoint,
                        Err(crate::image::Error::VolumeNotFound { .. }) => continue,
                        Err(e) => return Err(e.into()),
                    },
                    None if v.anonymous => continue,
                    None => v.source.clone(),
                };
                if source.is_dir() {
                    out.push((v.destination.to_string_lossy().into_owned(), source));
                }
            }
            Ok(out)
        })
        .await
    }

    /// Undo what [`Engine::reach`] did for the call: close the root's
    /// descriptor, thaw, unmount.
    pub(crate) async fn release(&self, r: Reached) -> Result<()> {
        let Reached { root, rec, c, hold, shared_root, thaw } = r;
        drop(root);
        if thaw {
            self.inner.units.thaw(&rec.unit_name()).await?;
            self.crash_point("files: thawed").await;
            self.refresh(&c).await?;
        }
        drop(hold);
        if shared_root {
            let _g = c.op.lock().await;
            let now = c.record();
            let last = c.root_users.fetch_sub(1, Ordering::AcqRel) == 1;
            if last && c.root_mounted_for_files.swap(false, Ordering::AcqRel) && !root_needed(&now) && now.state != State::Removing {
                self.unmount_root(&now).await?;
            }
        }
        Ok(())
    }

    /// Run `work` on the container's root from a blocking thread, then
    /// release it, whatever the work gave (map the files module's errors
    /// with [`files_error`]).
    pub(crate) async fn with_root<T: Send + 'static>(
        &self,
        name: &str,
        pause: bool,
        work: impl FnOnce(&ContainerRoot, &Record) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let mut r = self.reach(name, pause).await?;
        let (root, rec) = (r.root.take(), r.rec.clone());
        let out = blocking(move || match root {
            // A failure once the container's process is gone is its stop.
            Some(root) => work(&root, &rec).map_err(|e| match root.check_alive() {
                Err(gone @ files::Error::ProcessGone { .. }) => files_error(rec.name.as_str(), gone),
                _ => e,
            }),
            None => Err(Error::Canceled { what: "the call".into() }),
        })
        .await;
        self.release(r).await?;
        out
    }
}

/// `/proc/PID/root` of the container's init, checked to be a process of
/// `unit` (its cgroup is the unit's or below it) while the pidfd holds it.
fn open_process_root(pid: i32, unit: &str) -> files::Result<ContainerRoot> {
    let root = ContainerRoot::of_process(pid)?;
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let in_unit = cgroup.lines().any(|l| l.split(':').nth(2).is_some_and(|p| p.split('/').any(|c| c == unit)));
    // Alive after the read: the /proc/PID read was this process's.
    root.check_alive()?;
    if !in_unit {
        return Err(files::Error::ProcessGone { pid });
    }
    Ok(root)
}

/// berth's error for a files module error in container `name`'s files.
pub(crate) fn files_error(name: &str, e: files::Error) -> Error {
    use files::Error as F;
    let name_s = name.to_string();
    match e {
        F::NotFound { path } => Error::NoSuchPath { name: name_s, path },
        F::NotADirectory { path } | F::DestinationNotDirectory { path } => Error::NotADirectory { name: name_s, path },
        F::InvalidPath { .. } | F::SymlinkLoop { .. } => Error::invalid("Path", e.to_string()),
        F::InvalidArtifactName { .. } => Error::invalid("Artifact", e.to_string()),
        F::NoSuchArtifact { name: artifact } => Error::NoSuchArtifact { name: name_s, artifact },
        F::Output { ref source } | F::Input { ref source } if process_exited(source) => {
            Error::Canceled { what: format!("the call (container {name} stopped)") }
        }
        F::Input { .. } => Error::invalid("fd", with_causes(&e)),
        F::ProcessGone { .. } => Error::Canceled { what: format!("the call (container {name} stopped)") },
        F::OutputClosed { .. } => Error::Canceled { what: "the copy (its reader went away)".into() },
        F::Canceled => Error::Canceled { what: "the copy".into() },
        F::ChangedDuringCopy { .. } => Error::Canceled { what: format!("the copy ({e})") },
        F::TruncatedArchive(_)
        | F::InvalidArchive { .. }
        | F::EntryEscapes { .. }
        | F::EntryThroughArchiveSymlink { .. }
        | F::HardLinkOutside { .. }
        | F::BadHardLink { .. }
        | F::WouldReplaceDirectory { .. }
        | F::WouldReplaceNonDirectory { .. } => Error::InvalidArchive { message: e.to_string() },
        F::ProcessCheck { .. }
        | F::OpenRoot { .. }
        | F::Resolve { .. }
        | F::ReadFile { .. }
        | F::Output { .. }
        | F::CreateEntry { .. }
        | F::SetMetadata { .. }
        | F::ArtifactIo { .. } => Error::internal(with_causes(&e)),
    }
}

/// The text of an error and of every cause under it.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !text.contains(&c_text) {
            text.push_str(": ");
            text.push_str(&c_text);
        }
        cause = c.source();
    }
    text
}

/// A call's stop flag, set when the call is dropped (its caller left).
pub(crate) struct StopOnDrop(pub(crate) Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Run `work` as a task of its own: when the call is dropped (its caller
/// left) the work still runs to its end, told to stop through `stop`, so
/// that what it holds (a frozen cgroup, a mounted root, the lock) is given
/// back.
pub(crate) async fn detached<T: Send + 'static>(
    stop: Arc<AtomicBool>,
    work: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    let _stop = StopOnDrop(stop);
    tokio::spawn(work).await.map_err(|e| Error::internal(format!("a file task failed: {e}")))?
}

/// Why a wait on the caller's descriptor ended: the container's process
/// exited (it stopped during the call).
#[derive(Debug)]
struct ProcessExited;

impl std::fmt::Display for ProcessExited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the container's process exited")
    }
}

impl std::error::Error for ProcessExited {}

/// Whether `e` (or an error under it) is [`ProcessExited`].
fn process_exited(e: &io::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|r| r as &(dyn std::error::Error + 'static));
    while let Some(c) = cur {
        if c.is::<ProcessExited>() {
            return true;
        }
        cur = match c.downcast_ref::<io::Error>() {
            Some(io) => io.get_ref().map(|r| r as &(dyn std::error::Error + 'static)),
            None => c.source(),
        };
    }
    false
}

/// Wait until `fd` is ready for `events`, or the call is given up (false).
/// With `watch` (a pidfd of the container's process), its exit ends the
/// wait with an error: a caller that neither reads nor closes its end
/// does not keep a copy of a stopped container going.
fn ready(fd: BorrowedFd<'_>, events: nix::poll::PollFlags, stop: &AtomicBool, watch: Option<&OwnedFd>) -> io::Result<bool> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    loop {
        if stop.load(Ordering::Acquire) {
            return Ok(false);
        }
        let mut fds = vec![PollFd::new(fd, events)];
        if let Some(w) = watch {
            fds.push(PollFd::new(w.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::from(POLL_MS)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) if fds.get(1).and_then(|w| w.revents()).is_some_and(|r| !r.is_empty()) => {
                return Err(io::Error::other(ProcessExited))
            }
            Ok(_) => return Ok(true),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The error of a read or write given up because the call was: not
/// `Interrupted`, which std's `read_exact` and `write_all` retry.
fn stopped(kind: io::ErrorKind) -> io::Error {
    io::Error::new(kind, "the call was given up (its caller left)")
}

/// How the caller's descriptor is read or written without a thread ever
/// sleeping in the kernel on it (where neither a stop nor the container's
/// exit could reach it): its file status flags are shared with the caller
/// and are not changed.
enum Route {
    /// recv/send with MSG_DONTWAIT on the caller's socket.
    Socket,
    /// Our own non-blocking open of the caller's pipe (through
    /// /proc/self/fd: a new file description of the same pipe).
    Reopened(File),
    /// The caller's descriptor itself: regular files never wait.
    Direct,
}

impl Route {
    fn of(f: &File, write: bool) -> Result<Route> {
        use nix::fcntl::OFlag;
        use nix::sys::stat::{fstat, Mode, SFlag};
        let st = fstat(f.as_raw_fd()).map_err(|e| Error::invalid("fd", format!("not a usable descriptor: {e}")))?;
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        if kind == SFlag::S_IFSOCK {
            return Ok(Route::Socket);
        }
        if kind != SFlag::S_IFIFO {
            return Ok(Route::Direct);
        }
        let access = if write { OFlag::O_WRONLY } else { OFlag::O_RDONLY };
        let flags = access | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
        match nix::fcntl::open(&fd_path(f), flags, Mode::empty()) {
            // SAFETY: open returned a new descriptor that nothing else owns.
            Ok(fd) => Ok(Route::Reopened(File::from(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }))),
            // A pipe whose reader is gone cannot be opened for writing: the
            // first write on the caller's own end says EPIPE.
            Err(nix::errno::Errno::ENXIO) => Ok(Route::Direct),
            Err(e) => Err(Error::invalid("fd", format!("cannot open the caller's pipe: {e}"))),
        }
    }
}

/// Reads the caller's descriptor from a blocking thread: reads what is
/// there, waits in poll when nothing is, and gives up when told to stop or
/// when the container's process (`watch`) exits.
pub(crate) struct CallerReader {
    f: File,
    route: Route,
    stop: Arc<AtomicBool>,
    watch: Option<OwnedFd>,
}

impl CallerReader {
    pub(crate) fn new(f: File, stop: Arc<AtomicBool>, watch: Option<OwnedFd>) -> Result<Self> {
        let route = Route::of(&f, false)?;
        Ok(CallerReader { f, route, stop, watch })
    }
}

impl Read for CallerReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(IO_CHUNK);
        loop {
            if self.stop.load(Ordering::Acquire) {
                return Err(stopped(io::ErrorKind::ConnectionAborted));
            }
            let r = match &mut self.route {
                Route::Socket => nix::sys::socket::recv(self.f.as_raw_fd(), &mut buf[..n], nix::sys::socket::MsgFlags::MSG_DONTWAIT)
                    .map_err(io::Error::from),
                Route::Reopened(p) => p.read(&mut buf[..n]),
                Route::Direct => self.f.read(&mut buf[..n]),
            };
            match r {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !ready(self.f.as_fd(), nix::poll::PollFlags::POLLIN, &self.stop, self.watch.as_ref())? {
                        return Err(stopped(io::ErrorKind::ConnectionAborted));
                    }
                }
                r => return r,
            }
        }
    }
}

/// Writes the caller's descriptor from a blocking thread, as
/// [`CallerReader`] reads one; a reader that went away is a broken pipe.
pub(crate) struct CallerWriter {
    f: File,
    route: Route,
    stop: Arc<AtomicBool>,
    watch: Option<OwnedFd>,
}

impl CallerWriter {
    pub(crate) fn new(f: File, stop: Arc<AtomicBool>, watch: Option<OwnedFd>) -> Result<Self> {
        let route = Route::of(&f, true)?;
        Ok(CallerWriter { f, route, stop, watch })
    }
}

impl Write for CallerWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(IO_CHUNK);
        loop {
            if self.stop.load(Ordering::Acquire) {
                return Err(stopped(io::ErrorKind::BrokenPipe));
            }
            let flags = nix::sys::socket::MsgFlags::MSG_DONTWAIT | nix::sys::socket::MsgFlags::MSG_NOSIGNAL;
            let r = match &mut self.route {
                Route::Socket => nix::sys::socket::send(self.f.as_raw_fd(), &buf[..n], flags).map_err(io::Error::from),
                Route::Reopened(p) => p.write(&buf[..n]),
                Route::Direct => self.f.write(&buf[..n]),
            };
            match r {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !ready(self.f.as_fd(), nix::poll::PollFlags::POLLOUT, &self.stop, self.watch.as_ref())? {
                        return Err(stopped(io::ErrorKind::BrokenPipe));
                    }
                }
                r => return r,
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A duplicate of a running container's pidfd, for [`CallerReader`] and
/// [`CallerWriter`] to watch; None for a stopped container.
pub(crate) fn watch(root: &ContainerRoot) -> Result<Option<OwnedFd>> {
    let fd = root.process_fd().map(|fd| fd.try_clone_to_owned()).transpose();
    fd.map_err(|e| Error::internal(format!("cannot duplicate the container's pidfd: {e}")))
}

/// Fail at once on a descriptor that cannot be read.
pub(crate) fn check_readable(f: &File) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let fl = fcntl(f.as_raw_fd(), FcntlArg::F_GETFL).map_err(|e| Error::invalid("fd", format!("not a usable descriptor: {e}")))?;
    let acc = OFlag::from_bits_truncate(fl) & OFlag::O_ACCMODE;
    if acc != OFlag::O_RDONLY && acc != OFlag::O_RDWR {
        return Err(Error::invalid("fd", "is not open for reading"));
    }
    Ok(())
}

/// A descriptor's /proc path, for functions that take a path (resolved
/// relative to the descriptor, never by name).
pub(crate) fn fd_path(fd: &impl AsFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_up_call_ends_reads_and_writes_instead_of_retrying() {
        let (r, w) = nix::unistd::pipe().unwrap();
        let stop = Arc::new(AtomicBool::new(true));
        let mut reader = CallerReader::new(File::from(r), stop.clone(), None).unwrap();
        let mut buf = [0u8; 4];
        assert_ne!(reader.read_exact(&mut buf).unwrap_err().kind(), io::ErrorKind::Interrupted);
        let mut writer = CallerWriter::new(File::from(w), stop, None).unwrap();
        assert_eq!(writer.write_all(b"x").unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn a_caller_that_never_reads_is_left_when_the_container_exits_or_it_closes() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let root = ContainerRoot::of_process(child.id() as i32).unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let mut writer = CallerWriter::new(File::from(w), Arc::new(AtomicBool::new(false)), watch(&root).unwrap()).unwrap();
        let killer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            child.kill().unwrap();
            child.wait().unwrap();
        });
        let e = writer.write_all(&vec![0u8; 4 << 20]).unwrap_err();
        killer.join().unwrap();
        assert!(e.to_string().contains("exited"), "{e}");
        // Without a process to watch: the reader closing its end ends it.
        let (r2, w2) = nix::unistd::pipe().unwrap();
        let mut writer = CallerWriter::new(File::from(w2), Arc::new(AtomicBool::new(false)), None).unwrap();
        let closer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(r2);
        });
        assert_eq!(writer.write_all(&vec![0u8; 4 << 20]).unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        closer.join().unwrap();
        drop(r);
    }

    #[test]
    fn files_errors_keep_their_names() {
        let cases = [
            (files::Error::NotFound { path: "/x".into() }, "NoSuchPath"),
            (files::Error::DestinationNotDirectory { path: "/f".into() }, "NotADirectory"),
            (files::Error::EntryEscapes { entry: "../x".into() }, "InvalidArchive"),
            (files::Error::TruncatedArchive("in a header"), "InvalidArchive"),
            (files::Error::InvalidArtifactName { name: "a/b".into(), reason: "it contains a path separator" }, "InvalidArgument"),
            (files::Error::NoSuchArtifact { name: "n".into() }, "NoSuchArtifact"),
            (files::Error::OutputClosed { source: io::ErrorKind::BrokenPipe.into() }, "Canceled"),
            // The container stopped while the caller's end was waited on,
            // the marker wrapped as tar wraps its write errors.
            (files::Error::Output { source: io::Error::other(io::Error::other(ProcessExited)) }, "Canceled"),
            (files::Error::Input { source: io::Error::other(ProcessExited) }, "Canceled"),
            (files::Error::Output { source: io::Error::other("disk full") }, "Internal"),
        ];
        for (e, want) in cases {
            let text = e.to_string();
            let m = files_error("web", e);
            assert_eq!(m.name(), want, "{text}");
        }
        let e = files_error("web", files::Error::NotFound { path: "/etc/nope".into() });
        assert_eq!(e.to_string(), "no such file or directory in container web: /etc/nope");
    }
}
