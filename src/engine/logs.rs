//! A container's output, read back from the journal by its
//! CONTAINER_ID_FULL field with journalctl's JSON output: journalctl seeks
//! from the end for --lines, follows with inotify, and is on every systemd
//! host, where the sd-journal bindings on crates.io are thin or unmaintained.

use crate::model::{rfc3339, Error, LogOptions, Result, Usec};
use std::io::Write;
use std::os::fd::AsRawFd;

fn at(usec: Usec) -> String {
    format!("@{}.{:06}", usec / 1_000_000, usec % 1_000_000)
}

/// journalctl's arguments for a container's lines.
pub fn journalctl_args(id: &str, o: &LogOptions, after_cursor: Option<&str>) -> Vec<String> {
    // Only the fields used: JSON output of every field is several times slower.
    let mut a = vec![
        "--no-pager".to_string(),
        "--output=json".into(),
        "--output-fields=MESSAGE,PRIORITY".into(),
        "--all".into(),
    ];
    if let Some(c) = after_cursor {
        a.push(format!("--after-cursor={c}"));
    } else {
        match o.tail {
            // journalctl refuses counts past i32; so many lines are all of them.
            Some(n) if n <= i32::MAX as u64 => a.push(format!("--lines={n}")),
            Some(_) | None if o.follow => a.push("--no-tail".into()),
            Some(_) | None => {}
        }
        if let Some(s) = o.since {
            a.push(format!("--since={}", at(s)));
        }
    }
    if let Some(u) = o.until {
        a.push(format!("--until={}", at(u)));
    }
    match (o.stdout, o.stderr) {
        (true, false) => a.push("--priority=6..6".into()),
        (false, true) => a.push("--priority=3..3".into()),
        _ => {}
    }
    if o.follow && after_cursor.is_none() {
        a.push("--follow".into());
    }
    a.push(format!("CONTAINER_ID_FULL={id}"));
    a
}

/// One journal entry of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub usec: Usec,
    pub stderr: bool,
    pub message: Vec<u8>,
    pub cursor: String,
}

/// Parse a `journalctl -o json` line; MESSAGE is a string, or an array of
/// bytes when it is not valid UTF-8.
pub fn parse_line(json: &str) -> Option<Line> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let message = match v.get("MESSAGE")? {
        serde_json::Value::String(s) => s.clone().into_bytes(),
        serde_json::Value::Array(a) => a.iter().filter_map(|b| b.as_u64().map(|b| b as u8)).collect(),
        _ => return None,
    };
    Some(Line {
        usec: v.get("__REALTIME_TIMESTAMP")?.as_str()?.parse().ok()?,
        stderr: v.get("PRIORITY").and_then(|p| p.as_str()) == Some("3"),
        message,
        cursor: v.get("__CURSOR")?.as_str()?.to_string(),
    })
}

/// A line as `berthctl logs` prints it (RFC 3339 timestamp with -t, like podman).
pub fn format_line(l: &Line, timestamps: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(l.message.len() + 40);
    if timestamps {
        out.extend_from_slice(rfc3339(l.usec).as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(&l.message);
    out.push(b'\n');
    out
}

/// A client's file descriptor, written from a thread of its own so that a
/// client who stops reading stalls only that thread. The descriptor is not
/// switched to non-blocking (its file description is shared with the
/// client: a terminal left non-blocking breaks the user's shell); instead
/// every write waits for POLLOUT and writes at most a page, which a pipe or
/// socket then takes without blocking.
pub struct FdWriter {
    tx: Option<tokio::sync::mpsc::Sender<Vec<u8>>>,
    gone: tokio::sync::watch::Receiver<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Chunks queued for a writer: bounded, so a stalled client costs little.
const QUEUED_CHUNKS: usize = 64;

/// Fail at once on a descriptor that cannot be written.
pub fn check_writable(out: &std::fs::File) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let fl = fcntl(out.as_raw_fd(), FcntlArg::F_GETFL).map_err(|e| Error::invalid("fd", format!("not a usable descriptor: {e}")))?;
    let acc = OFlag::from_bits_truncate(fl) & OFlag::O_ACCMODE;
    if acc != OFlag::O_WRONLY && acc != OFlag::O_RDWR {
        return Err(Error::invalid("fd", "is not open for writing"));
    }
    Ok(())
}

/// Wait until `fd` takes data or is gone; false when the reader went away.
fn writable(fd: std::os::fd::BorrowedFd<'_>, stop: &std::sync::atomic::AtomicBool) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    loop {
        if stop.load(std::sync::atomic::Ordering::Acquire) {
            return false;
        }
        let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
        match poll(&mut fds, PollTimeout::from(200u16)) {
            Ok(0) => continue,
            Ok(_) => {
                let r = fds[0].revents().unwrap_or(PollFlags::empty());
                if r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL) {
                    return false;
                }
                if r.contains(PollFlags::POLLOUT) {
                    return true;
                }
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return false,
        }
    }
}

/// Write `data` a page at a time; false when the reader went away.
pub(crate) fn write_polled(out: &mut std::fs::File, mut data: &[u8], stop: &std::sync::atomic::AtomicBool) -> bool {
    use std::os::fd::AsFd;
    while !data.is_empty() {
        if !writable(out.as_fd(), stop) {
            return false;
        }
        let n = data.len().min(4096);
        match out.write(&data[..n]) {
            Ok(0) => return false,
            Ok(w) => data = &data[w..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}

impl FdWriter {
    pub fn new(mut out: std::fs::File) -> Result<Self> {
        check_writable(&out)?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(QUEUED_CHUNKS);
        let (gone_tx, gone) = tokio::sync::watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("berth-writer".into())
            .spawn(move || {
                let never = std::sync::atomic::AtomicBool::new(false);
                while let Some(chunk) = rx.blocking_recv() {
                    if !write_polled(&mut out, &chunk, &never) {
                        break;
                    }
                }
                let _ = gone_tx.send(true);
            })
            .map_err(|e| Error::internal(format!("cannot start a writer thread: {e}")))?;
        Ok(FdWriter { tx: Some(tx), gone, thread: Some(thread) })
    }

    /// Queue a chunk (waiting while the queue is full); false when the
    /// reader went away.
    pub async fn send(&mut self, chunk: Vec<u8>) -> bool {
        let Some(tx) = self.tx.clone() else { return false };
        let mut gone = self.gone.clone();
        tokio::select! {
            r = tx.send(chunk) => r.is_ok(),
            _ = gone.wait_for(|g| *g) => false,
        }
    }

    /// Resolves when the reader has gone away.
    pub async fn closed(&mut self) {
        let _ = self.gone.wait_for(|g| *g).await;
    }
}

impl Drop for FdWriter {
    fn drop(&mut self) {
        // The thread ends after writing what is queued.
        self.tx.take();
        if let Some(t) = self.thread.take() {
            drop(t);
        }
    }
}

/// Stream a container's lines into `out` (see Engine::logs). The copying
/// runs on a thread of its own; with follow, a watcher ends it once the
/// container has run and stopped (a configured or created container is
/// followed until it has run), or when the reader goes away.
pub async fn stream(id: &str, mut rx: tokio::sync::watch::Receiver<crate::store::Record>, o: &LogOptions, out: std::fs::File) -> Result<()> {
    use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
    use std::sync::Arc;
    check_writable(&out)?;
    let stop = Arc::new(AtomicBool::new(false));
    let child = Arc::new(AtomicI32::new(0));
    let watcher = if o.follow {
        let (stop, child) = (stop.clone(), child.clone());
        Some(tokio::spawn(async move {
            let mut ran = {
                let st = rx.borrow_and_update().state;
                st.is_live() || matches!(st, crate::model::State::Stopped | crate::model::State::Exited)
            };
            loop {
                let st = rx.borrow_and_update().state;
                ran |= st.is_live();
                if ran && !st.is_live() {
                    break;
                }
                if rx.changed().await.is_err() {
                    break;
                }
            }
            // Let journald take in what the container wrote last.
            let _ = tokio::process::Command::new("journalctl").arg("--sync").status().await;
            stop.store(true, Ordering::Release);
            let pid = child.load(Ordering::Acquire);
            if pid > 0 {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
            }
        }))
    } else {
        None
    };
    let (id, o2) = (id.to_string(), o.clone());
    let r = super::blocking(move || {
        let mut out = out;
        let cursor = copy(&journalctl_args(&id, &o2, None), &mut out, o2.timestamps, &child)?;
        if o2.follow && stop.load(Ordering::Acquire) {
            let drain = match &cursor {
                Some(c) => journalctl_args(&id, &o2, Some(c)),
                None => journalctl_args(&id, &LogOptions { follow: false, ..o2.clone() }, None),
            };
            copy(&drain, &mut out, o2.timestamps, &AtomicI32::new(0))?;
        }
        Ok(())
    })
    .await;
    if let Some(w) = watcher {
        w.abort();
    }
    r
}

/// Copy journalctl's output for `args` to `out`; returns the last cursor.
/// Ends when journalctl ends, when the reader goes away, or on `stop`.
fn copy(
    args: &[String],
    out: &mut std::fs::File,
    timestamps: bool,
    child_pid: &std::sync::atomic::AtomicI32,
) -> Result<Option<String>> {
    use std::io::BufRead;
    use std::sync::atomic::Ordering;
    let mut child = std::process::Command::new("journalctl")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| Error::internal(format!("cannot run journalctl: {e}")))?;
    child_pid.store(child.id() as i32, Ordering::Release);
    let stdout = child.stdout.take().expect("piped");
    let mut lines = std::io::BufReader::new(stdout);
    let mut cursor = None;
    let mut line = String::new();
    let mut gone = false;
    loop {
        line.clear();
        match lines.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if let Some(l) = parse_line(line.trim_end_matches('\n')) {
            if !write_polled(out, &format_line(&l, timestamps), &std::sync::atomic::AtomicBool::new(false)) {
                gone = true;
                break;
            }
            cursor = Some(l.cursor);
        }
    }
    child_pid.store(0, Ordering::Release);
    // journalctl may still run (a follow, or the reader went away).
    let _ = child.kill();
    let _ = child.wait();
    if gone {
        return Ok(None);
    }
    Ok(cursor)
}

/// The last lines the container (or its runtime) wrote to stderr since
/// `since`: what a failed start's error should show.
pub async fn recent_errors(id: &str, since: Usec) -> Vec<String> {
    if !std::path::Path::new("/run/systemd/journal/socket").exists() {
        return Vec::new();
    }
    let _ = tokio::process::Command::new("journalctl").arg("--sync").status().await;
    let o = LogOptions { since: Some(since), tail: Some(3), stderr: true, ..Default::default() };
    let Ok(out) = tokio::process::Command::new("journalctl").args(journalctl_args(id, &o, None)).output().await else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(parse_line)
        .map(|l| String::from_utf8_lossy(&l.message).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        let o = LogOptions { tail: Some(10), follow: true, stderr: true, ..Default::default() };
        let a = journalctl_args("abc", &o, None);
        assert!(a.contains(&"--lines=10".into()) && a.contains(&"--follow".into()));
        assert!(a.contains(&"--priority=3..3".into()));
        assert_eq!(a.last().unwrap(), "CONTAINER_ID_FULL=abc");
        let a = journalctl_args("abc", &o, Some("c1"));
        assert!(a.contains(&"--after-cursor=c1".into()) && !a.contains(&"--follow".into()) && !a.contains(&"--lines=10".into()));
        let a = journalctl_args("abc", &LogOptions { follow: true, ..Default::default() }, None);
        assert!(a.contains(&"--no-tail".into()), "a follow starts from the first line");
        let a = journalctl_args("abc", &LogOptions { since: Some(1_000_001), ..Default::default() }, None);
        assert!(a.contains(&"--since=@1.000001".into()));
    }

    #[test]
    fn lines_and_times() {
        let j = r#"{"__CURSOR":"s=1","__REALTIME_TIMESTAMP":"1700000000123456","PRIORITY":"3","MESSAGE":"oops"}"#;
        let l = parse_line(j).unwrap();
        assert!(l.stderr);
        assert_eq!(format_line(&l, true), b"2023-11-14T22:13:20.123456Z oops\n");
        let j = r#"{"__CURSOR":"s=2","__REALTIME_TIMESTAMP":"1","PRIORITY":"6","MESSAGE":[104,105,255]}"#;
        assert_eq!(parse_line(j).unwrap().message, vec![104, 105, 255]);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(951_782_400_000_000), "2000-02-29T00:00:00.000000Z");
    }
}
