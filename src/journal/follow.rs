//! Waiting for new journal entries: the journal's inotify descriptor, a
//! cancel and a stop handle (eventfds another thread raises), the output's
//! hang-up, and a timer, all in one poll.

use super::error::{Error, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A flag one thread raises and another polls for.
struct Flag {
    raised: AtomicBool,
    fd: EventFd,
}

impl Flag {
    fn new() -> Result<Arc<Self>> {
        let fd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map_err(|e| Error::Signal { source: e.into() })?;
        Ok(Arc::new(Flag { raised: AtomicBool::new(false), fd }))
    }

    fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        // The counter stays readable until read, and nothing reads it, so one
        // write suffices; a failure (only on counter overflow) leaves it readable.
        let _ = self.fd.write(1);
    }

    fn is_raised(&self) -> bool {
        self.raised.load(Ordering::Acquire)
    }
}

/// Ends a read at once, from any thread: a follow returns within one poll,
/// a sink waiting for its output gives up.
#[derive(Clone)]
pub struct Cancel(Arc<Flag>);

impl Cancel {
    pub fn new() -> Result<Self> {
        Ok(Cancel(Flag::new()?))
    }

    pub fn cancel(&self) {
        self.0.raise()
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.is_raised()
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.0.fd.as_fd()
    }
}

impl fmt::Debug for Cancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Cancel").field(&self.is_cancelled()).finish()
    }
}

/// Tells a follow that the writer has stopped: it takes in what journald
/// still has, hands it over, and ends.
#[derive(Clone)]
pub struct Stop(Arc<Flag>);

impl Stop {
    pub fn new() -> Result<Self> {
        Ok(Stop(Flag::new()?))
    }

    pub fn stop(&self) {
        self.0.raise()
    }

    pub fn is_stopped(&self) -> bool {
        self.0.is_raised()
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.0.fd.as_fd()
    }
}

impl fmt::Debug for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Stop").field(&self.is_stopped()).finish()
    }
}

/// Why a wait ended, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    Cancelled,
    Hangup,
    Stopped,
    Journal,
    Timeout,
}

/// What else a wait watches besides the journal.
pub(crate) struct Watch<'a> {
    pub cancel: &'a Cancel,
    pub stop: Option<&'a Stop>,
    /// The output: its error or hang-up ends the read.
    pub hangup: Option<BorrowedFd<'a>>,
}

/// Wait until the journal changes, a handle is raised, the output hangs
/// up, or `timeout` passes (rounded up to a millisecond).
pub(crate) fn wait(journal: BorrowedFd<'_>, events: i16, watch: &Watch<'_>, timeout: Duration) -> Result<Wake> {
    if watch.cancel.is_cancelled() {
        return Ok(Wake::Cancelled);
    }
    if watch.stop.is_some_and(Stop::is_stopped) {
        return Ok(Wake::Stopped);
    }
    let mut fds = vec![
        PollFd::new(watch.cancel.fd(), PollFlags::POLLIN),
        PollFd::new(journal, PollFlags::from_bits_truncate(events)),
    ];
    if let Some(s) = watch.stop {
        fds.push(PollFd::new(s.fd(), PollFlags::POLLIN));
    }
    let hangup_at = watch.hangup.map(|h| {
        fds.push(PollFd::new(h, PollFlags::empty()));
        fds.len() - 1
    });
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    let ms = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
    match poll(&mut fds, ms) {
        Ok(_) => {}
        Err(nix::errno::Errno::EINTR) => return Ok(Wake::Timeout),
        Err(e) => return Err(Error::Wait { source: e.into() }),
    }
    let fired = |i: usize| fds[i].revents().is_some_and(|r| !r.is_empty());
    if fired(0) || watch.cancel.is_cancelled() {
        return Ok(Wake::Cancelled);
    }
    if hangup_at.is_some_and(fired) {
        return Ok(Wake::Hangup);
    }
    if watch.stop.is_some_and(Stop::is_stopped) {
        return Ok(Wake::Stopped);
    }
    if fired(1) {
        return Ok(Wake::Journal);
    }
    Ok(Wake::Timeout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn handles_cross_threads() {
        fn shareable<T: Send + Sync + Clone>() {}
        shareable::<Cancel>();
        shareable::<Stop>();
    }

    #[test]
    fn cancel_from_another_thread_wakes_a_wait() {
        let cancel = Cancel::new().unwrap();
        let quiet = EventFd::from_flags(EfdFlags::EFD_NONBLOCK).unwrap();
        let c = cancel.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            c.cancel();
        });
        let t0 = Instant::now();
        let w = Watch { cancel: &cancel, stop: None, hangup: None };
        assert_eq!(wait(quiet.as_fd(), PollFlags::POLLIN.bits(), &w, Duration::from_secs(10)).unwrap(), Wake::Cancelled);
        assert!(t0.elapsed() < Duration::from_secs(1));
        t.join().unwrap();
        // Raised stays raised.
        assert_eq!(wait(quiet.as_fd(), PollFlags::POLLIN.bits(), &w, Duration::ZERO).unwrap(), Wake::Cancelled);
    }

    #[test]
    fn stop_timeout_and_hangup() {
        let cancel = Cancel::new().unwrap();
        let stop = Stop::new().unwrap();
        let quiet = EventFd::from_flags(EfdFlags::EFD_NONBLOCK).unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let watch = Watch { cancel: &cancel, stop: Some(&stop), hangup: Some(w.as_fd()) };
        let t0 = Instant::now();
        assert_eq!(wait(quiet.as_fd(), PollFlags::POLLIN.bits(), &watch, Duration::from_millis(10)).unwrap(), Wake::Timeout);
        assert!(t0.elapsed() >= Duration::from_millis(10));
        stop.stop();
        assert_eq!(wait(quiet.as_fd(), PollFlags::POLLIN.bits(), &watch, Duration::from_secs(10)).unwrap(), Wake::Stopped);
        drop(r);
        let watch = Watch { cancel: &cancel, stop: None, hangup: Some(w.as_fd()) };
        assert_eq!(wait(quiet.as_fd(), PollFlags::POLLIN.bits(), &watch, Duration::from_secs(10)).unwrap(), Wake::Hangup);
        quiet.write(1).unwrap();
        let watch = Watch { cancel: &cancel, stop: None, hangup: None };
        assert_eq!(wait(quiet.as_fd(), PollFlags::POLLIN.bits(), &watch, Duration::from_secs(10)).unwrap(), Wake::Journal);
        assert!(format!("{stop:?}").contains("true"));
    }
}
