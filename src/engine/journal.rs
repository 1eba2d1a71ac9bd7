//! Events as structured journal entries, and reading them back, so that
//! history survives berthd restarts. The container's own output is read
//! back in logs.rs.

use crate::model::{short_id, Event, EventKind, Usec};
use std::process::Command;

/// MESSAGE_ID of every berth event entry (`journalctl MESSAGE_ID=...`).
pub const EVENT_MESSAGE_ID: &str = "6a5f1c6e0b8d4e2f9d3c7b1a2e4f8d90";

/// Write one event to the journal (ignored where there is no journald).
pub fn record(ev: &Event) {
    let usec = ev.usec.to_string();
    let code = ev.exit_code.map(|c| c.to_string());
    let mut fields = vec![
        ("MESSAGE_ID", EVENT_MESSAGE_ID),
        ("SYSLOG_IDENTIFIER", "berthd"),
        ("CONTAINER_NAME", ev.name.as_str()),
        ("CONTAINER_ID", short_id(&ev.id)),
        ("BERTH_CONTAINER_ID_FULL", ev.id.as_str()),
        ("BERTH_EVENT", ev.kind.as_str()),
        ("BERTH_EVENT_USEC", usec.as_str()),
    ];
    if let Some(c) = &code {
        fields.push(("EXIT_CODE", c.as_str()));
    }
    let msg = match ev.exit_code {
        Some(c) => format!("container {} {} (exit code {c})", ev.name, ev.kind.as_str()),
        None => format!("container {} {}", ev.name, ev.kind.as_str()),
    };
    let _ = libsystemd::logging::journal_send(libsystemd::logging::Priority::Info, &msg, fields.into_iter());
}

fn kind_of(s: &str) -> Option<EventKind> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

/// Parse one `journalctl -o json` line of an event entry.
pub fn parse_event(line: &str) -> Option<Event> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    Some(Event {
        name: s("CONTAINER_NAME")?,
        id: s("BERTH_CONTAINER_ID_FULL")?,
        kind: kind_of(&s("BERTH_EVENT")?)?,
        usec: s("BERTH_EVENT_USEC")?.parse().ok()?,
        exit_code: s("EXIT_CODE").and_then(|c| c.parse().ok()),
    })
}

/// `journalctl` arguments for event history.
pub fn history_args(since: Option<Usec>, container: Option<&str>) -> Vec<String> {
    let mut a = vec!["--no-pager".to_string(), "--output=json".into(), format!("MESSAGE_ID={EVENT_MESSAGE_ID}")];
    if let Some(n) = container {
        a.push(format!("CONTAINER_NAME={n}"));
    }
    if let Some(s) = since {
        a.push(format!("--since=@{}.{:06}", s / 1_000_000, s % 1_000_000));
    }
    a
}

/// Recorded events, oldest first.
pub fn history(since: Option<Usec>, container: Option<&str>) -> std::io::Result<Vec<Event>> {
    let out = Command::new("journalctl").args(history_args(since, container)).output()?;
    let mut evs: Vec<Event> = String::from_utf8_lossy(&out.stdout).lines().filter_map(parse_event).collect();
    evs.sort_by_key(|e| e.usec);
    Ok(evs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_record_writes() {
        let line = r#"{"MESSAGE":"container web died (exit code 3)","CONTAINER_NAME":"web","BERTH_CONTAINER_ID_FULL":"ab","BERTH_EVENT":"died","BERTH_EVENT_USEC":"17","EXIT_CODE":"3"}"#;
        let e = parse_event(line).unwrap();
        assert_eq!((e.name.as_str(), e.kind, e.usec, e.exit_code), ("web", EventKind::Died, 17, Some(3)));
        assert!(parse_event("{}").is_none());
        assert!(parse_event("not json").is_none());
    }

    #[test]
    fn history_arguments() {
        let a = history_args(Some(1_500_000), Some("web"));
        assert!(a.contains(&"CONTAINER_NAME=web".to_string()));
        assert!(a.contains(&"--since=@1.500000".to_string()));
    }
}
