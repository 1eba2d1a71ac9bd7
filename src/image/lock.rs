//! The store's write lock: flock(2) on a file inside the store, so that two
//! processes (berthd and a command-line tool) never change it at once.

use super::error::{Error, Result};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::path::Path;

/// Held while the store is being changed; released when dropped (and by
/// the kernel when the process dies, however it dies).
pub struct StoreLock(#[allow(dead_code)] Flock<File>);

fn open(path: &Path) -> Result<File> {
    OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(Error::io("open the lock file", path))
}

impl StoreLock {
    /// Wait for the lock.
    pub fn acquire(path: &Path) -> Result<Self> {
        loop {
            match Flock::lock(open(path)?, FlockArg::LockExclusive) {
                Ok(l) => return Ok(StoreLock(l)),
                Err((_, Errno::EINTR)) => continue,
                Err((_, e)) => return Err(Error::sys("lock", path)(e)),
            }
        }
    }

    /// Take the lock only if nobody holds it.
    pub fn try_acquire(path: &Path) -> Result<Option<Self>> {
        match Flock::lock(open(path)?, FlockArg::LockExclusiveNonblock) {
            Ok(l) => Ok(Some(StoreLock(l))),
            Err((_, Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(Error::sys("lock", path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excludes_a_second_holder() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("lock");
        let held = StoreLock::acquire(&p).unwrap();
        assert!(StoreLock::try_acquire(&p).unwrap().is_none());
        drop(held);
        assert!(StoreLock::try_acquire(&p).unwrap().is_some());
    }
}
