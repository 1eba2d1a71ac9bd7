//! A container's output, read back from the journal by its
//! CONTAINER_ID_FULL field with journalctl's JSON output: journalctl seeks
//! from the end for --lines, follows with inotify, and is on every systemd
//! host, where the sd-journal bindings on crates.io are thin or unmaintained.

use crate::model::{rfc3339, Error, LogOptions, Result, Usec};
use std::io::Write;

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
            Some(n) => a.push(format!("--lines={n}")),
            // --follow alone shows only the last 10 lines first.
            None if o.follow => a.push("--no-tail".into()),
            None => {}
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

/// Copy journalctl's output for `args` to `out`; returns the last cursor.
pub async fn copy(args: &[String], out: &mut (dyn Write + Send), timestamps: bool, stop: &mut tokio::sync::watch::Receiver<bool>) -> Result<Option<String>> {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new("journalctl")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::internal(format!("cannot run journalctl: {e}")))?;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut cursor = None;
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let Some(line) = line.map_err(|e| Error::internal(format!("reading journalctl: {e}")))? else { break };
                if let Some(l) = parse_line(&line) {
                    if out.write_all(&format_line(&l, timestamps)).is_err() {
                        break; // the reader went away
                    }
                    cursor = Some(l.cursor);
                }
            }
            _ = stop.changed() => break,
        }
    }
    let _ = child.kill().await;
    let _ = out.flush();
    Ok(cursor)
}

/// The last lines the container (or its runtime) wrote to stderr since
/// `since`: what a failed start's error should show.
pub async fn recent_errors(id: &str, since: Usec) -> Vec<String> {
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
