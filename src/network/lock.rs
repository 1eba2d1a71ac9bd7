//! An exclusive `flock(2)` on a file that is never removed. flock locks
//! belong to the open file description, so two threads of one process that
//! each open the file exclude each other as two processes do.

use super::error::{NetworkError, Result};
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Held until dropped.
#[derive(Debug)]
pub struct FileLock {
    _lock: Flock<File>,
}

impl FileLock {
    /// Block until the lock on `path` (created if missing) is ours.
    pub fn exclusive(path: &Path) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(nix::libc::O_CLOEXEC)
            .open(path)
            .map_err(NetworkError::io("open lock file", path))?;
        let lock =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| NetworkError::io("lock", path)(e.into()))?;
        Ok(FileLock { _lock: lock })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    #[test]
    fn threads_exclude_each_other() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("l");
        let inside = Arc::new(AtomicU32::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (path, inside) = (path.clone(), inside.clone());
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let _l = FileLock::exclusive(&path).unwrap();
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
