//! Events as structured journal entries, so that history survives berthd
//! restarts; berth::journal's EventReader reads them back.

use crate::journal::EVENT_MESSAGE_ID;
use crate::model::{short_id, Event};

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
    if let Some(h) = ev.health_status {
        fields.push(("HEALTH_STATUS", h.as_str()));
    }
    let msg = match (ev.exit_code, ev.health_status) {
        (Some(c), _) => format!("container {} {} (exit code {c})", ev.name, ev.kind.as_str()),
        (None, Some(h)) => format!("container {} {} {h}", ev.name, ev.kind.as_str()),
        (None, None) => format!("container {} {}", ev.name, ev.kind.as_str()),
    };
    if let Err(e) = libsystemd::logging::journal_send(libsystemd::logging::Priority::Info, &msg, fields.into_iter()) {
        // Without journald (tests on a host without one) events are signals only.
        tracing::debug!("cannot write event to the journal: {e}");
    }
}

