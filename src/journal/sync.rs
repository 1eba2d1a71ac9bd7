//! Asking journald to write out everything it has received, as
//! `journalctl --sync` does: the varlink call io.systemd.Journal.Synchronize
//! returns only after journald has processed every message queued before
//! it (and synced its files). An empty SIOCOUTQ says only that journald has
//! dequeued the last datagram, not that it has written its entries.

use super::error::{Error, Result};
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// journald's varlink socket (root only).
pub const VARLINK_SOCKET: &str = "/run/systemd/journal/io.systemd.journal";

const REQUEST: &[u8] = b"{\"method\":\"io.systemd.Journal.Synchronize\",\"parameters\":{}}\0";

/// Wait (at most `limit`) until journald has written all it has received.
pub fn synchronize(path: &Path, limit: Duration) -> Result<()> {
    let fail = |source: io::Error| Error::Sync { path: path.to_path_buf(), source };
    let t0 = Instant::now();
    let mut s = UnixStream::connect(path).map_err(fail)?;
    s.set_write_timeout(Some(limit.max(Duration::from_millis(1)))).map_err(fail)?;
    s.write_all(REQUEST).map_err(fail)?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 512];
    while !reply.contains(&0) {
        let left = limit.checked_sub(t0.elapsed()).filter(|d| !d.is_zero()).ok_or_else(|| fail(io::ErrorKind::TimedOut.into()))?;
        s.set_read_timeout(Some(left)).map_err(fail)?;
        let n = match s.read(&mut buf) {
            Ok(0) => return Err(fail(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(fail(e)),
        };
        reply.extend_from_slice(&buf[..n]);
    }
    let end = reply.iter().position(|&b| b == 0).unwrap_or(reply.len());
    let v: serde_json::Value = serde_json::from_slice(&reply[..end]).map_err(|e| fail(io::Error::new(io::ErrorKind::InvalidData, e)))?;
    match v.get("error").and_then(|e| e.as_str()) {
        Some(e) => Err(fail(io::Error::other(format!("journald answered {e}")))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    fn serve(answer: &'static [u8]) -> (tempfile::TempDir, std::path::PathBuf, std::thread::JoinHandle<Vec<u8>>) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("varlink");
        let l = UnixListener::bind(&p).unwrap();
        let t = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut req = vec![0u8; REQUEST.len()];
            c.read_exact(&mut req).unwrap();
            c.write_all(answer).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            req
        });
        (d, p, t)
    }

    #[test]
    fn asks_and_waits_for_the_answer() {
        let (_d, p, t) = serve(b"{\"parameters\":{}}\0");
        synchronize(&p, Duration::from_secs(5)).unwrap();
        assert_eq!(t.join().unwrap(), REQUEST);
    }

    #[test]
    fn errors_are_named() {
        let (_d, p, t) = serve(b"{\"error\":\"org.varlink.service.PermissionDenied\"}\0");
        let e = synchronize(&p, Duration::from_secs(5)).unwrap_err();
        assert!(matches!(e, Error::Sync { .. }) && format!("{:?}", e).contains("PermissionDenied"));
        t.join().unwrap();
        let e = synchronize(Path::new("/nonexistent/varlink"), Duration::from_secs(1)).unwrap_err();
        assert!(matches!(e, Error::Sync { .. }));
    }
}
