//! berth's settings that have no Kubernetes field travel as pod
//! annotations `berth.io/<Key>.<container>`, Key an option key of the
//! table ([`crate::model::OPTIONS`]) and the value in text: strings as
//! they are, booleans `true`/`false`, numbers in decimal, lists and maps
//! as JSON.

use crate::model::health::{format_duration_usec, HealthOnFailure};
use crate::model::{option, signal_name, ContainerSpec, Network, OptionValue, RestartPolicy, RuntimeKind, Sig};

/// The prefix of berth's annotations.
pub const PREFIX: &str = "berth.io/";

/// Option keys carried as annotations (and read back by play).
pub const KEYS: &[&str] = &[
    "StopSignal", "StopTimeout", "StartTimeout", "RestartPolicy", "Notify", "Labels", "Annotations", "Tmpfs", "Sysctls",
    "ShmSize", "Network", "IP", "NetworkAliases", "DNS", "DNSSearch", "Hosts", "Runtime", "TasksMax", "CPUWeight",
    "Hostname", "User", "HealthInterval", "HealthTimeout", "HealthStartPeriod", "HealthOnFailure", "NotifyHealthy",
    "ReadOnlyTmpfs", "NoNewPrivileges", "Timezone", "Ulimits", "Devices",
];

/// Option keys with a Kubernetes field of their own (or refused by
/// generate: Rootfs, Dependencies). With [`KEYS`], every key of the table.
pub const FIELD_KEYS: &[&str] = &[
    "Image", "Rootfs", "Command", "Entrypoint", "Env", "WorkingDir", "User", "Dependencies", "Volumes", "CapAdd", "CapDrop",
    "ReadOnly", "Network", "Ports", "Terminal", "Interactive", "MemoryMax", "CPUQuota", "HealthCmd", "HealthRetries",
    "StopTimeout", "RestartPolicy",
];

/// The annotation key of option `key` for container `container`.
pub fn key(option_key: &str, container: &str) -> String {
    format!("{PREFIX}{option_key}.{container}")
}

/// Split `berth.io/Key.container`; None for annotations not berth's.
pub fn split(annotation: &str) -> Option<(&str, &str)> {
    annotation.strip_prefix(PREFIX)?.split_once('.')
}

pub fn encode(v: &OptionValue) -> String {
    match v {
        OptionValue::Str(s) => s.clone(),
        OptionValue::Bool(b) => b.to_string(),
        OptionValue::U32(n) => n.to_string(),
        OptionValue::U64(n) => n.to_string(),
        OptionValue::StrList(l) => serde_json::to_string(l).unwrap_or_default(),
        OptionValue::StrMap(m) => serde_json::to_string(m).unwrap_or_default(),
    }
}

/// An annotation's text as a value of option `key` (by the table's type).
pub fn decode(option_key: &str, text: &str) -> Result<OptionValue, String> {
    let def = option(option_key).map_err(|_| format!("{option_key} is not an option berth knows"))?;
    if !KEYS.contains(&option_key) {
        return Err(format!("{option_key} is not carried as an annotation (it has a Kubernetes field)"));
    }
    let bad = |e: String| format!("{text:?} is not a value of {option_key}: {e}");
    Ok(match def.sig {
        Sig::Str => OptionValue::Str(text.to_string()),
        Sig::Bool => OptionValue::Bool(text.parse().map_err(|e: std::str::ParseBoolError| bad(e.to_string()))?),
        Sig::U32 => OptionValue::U32(text.parse().map_err(|e: std::num::ParseIntError| bad(e.to_string()))?),
        Sig::U64 => OptionValue::U64(text.parse().map_err(|e: std::num::ParseIntError| bad(e.to_string()))?),
        Sig::StrList => OptionValue::StrList(serde_json::from_str(text).map_err(|e| bad(e.to_string()))?),
        Sig::StrMap => OptionValue::StrMap(serde_json::from_str(text).map_err(|e| bad(e.to_string()))?),
    })
}

/// The values of the annotation keys a spec sets away from their defaults.
/// `pod_stop_timeout` and `pod_restart` are what the pod's own fields say,
/// so the container's differs only when they cannot.
pub fn values(spec: &ContainerSpec, pod_stop_timeout: u32, pod_restart: RestartPolicy) -> Vec<(&'static str, OptionValue)> {
    let d = ContainerSpec::default();
    let mut out: Vec<(&'static str, OptionValue)> = Vec::new();
    let mut put = |k: &'static str, v: OptionValue| out.push((k, v));
    if spec.stop_signal != d.stop_signal {
        put("StopSignal", OptionValue::Str(signal_name(spec.stop_signal)));
    }
    if spec.stop_timeout != pod_stop_timeout {
        put("StopTimeout", OptionValue::U32(spec.stop_timeout));
    }
    if spec.start_timeout != d.start_timeout {
        put("StartTimeout", OptionValue::U32(spec.start_timeout));
    }
    if spec.restart_policy != pod_restart {
        put("RestartPolicy", OptionValue::Str(spec.restart_policy.to_string()));
    }
    if spec.notify {
        put("Notify", OptionValue::Bool(true));
    }
    if !spec.labels.is_empty() {
        put("Labels", OptionValue::StrMap(spec.labels.clone()));
    }
    if !spec.annotations.is_empty() {
        put("Annotations", OptionValue::StrMap(spec.annotations.clone()));
    }
    if !spec.tmpfs.is_empty() {
        let t = spec.tmpfs.iter().map(|t| {
            let dst = t.destination.display().to_string();
            if t.options.is_empty() { dst } else { format!("{dst}:{}", t.options.join(",")) }
        });
        put("Tmpfs", OptionValue::StrList(t.collect()));
    }
    if !spec.sysctls.is_empty() {
        put("Sysctls", OptionValue::StrMap(spec.sysctls.clone()));
    }
    if let Some(s) = spec.shm_size {
        put("ShmSize", OptionValue::U64(s));
    }
    if spec.network != Network::default() && spec.network != Network::Host {
        put("Network", OptionValue::Str(spec.network.to_option()));
    }
    if let Some(ip) = spec.ip {
        put("IP", OptionValue::Str(ip.to_string()));
    }
    let list = |l: &[String]| OptionValue::StrList(l.to_vec());
    if !spec.network_aliases.is_empty() {
        put("NetworkAliases", list(&spec.network_aliases));
    }
    if !spec.dns.is_empty() {
        put("DNS", OptionValue::StrList(spec.dns.iter().map(|a| a.to_string()).collect()));
    }
    if !spec.dns_search.is_empty() {
        put("DNSSearch", list(&spec.dns_search));
    }
    if !spec.hosts.is_empty() {
        put("Hosts", list(&spec.hosts));
    }
    if spec.runtime != RuntimeKind::Crun {
        put("Runtime", OptionValue::Str(spec.runtime.as_string()));
    }
    if let Some(t) = spec.resources.tasks_max {
        put("TasksMax", OptionValue::U64(t));
    }
    if let Some(w) = spec.resources.cpu_weight {
        put("CPUWeight", OptionValue::U64(w));
    }
    if let Some(u) = &spec.user_name {
        put("User", OptionValue::Str(u.clone()));
    }
    if spec.notify_healthy {
        put("NotifyHealthy", OptionValue::Bool(true));
    }
    if spec.read_only_tmpfs != d.read_only_tmpfs {
        put("ReadOnlyTmpfs", OptionValue::Bool(spec.read_only_tmpfs));
    }
    if spec.no_new_privileges != d.no_new_privileges {
        put("NoNewPrivileges", OptionValue::Bool(spec.no_new_privileges));
    }
    if let Some(tz) = &spec.timezone {
        put("Timezone", OptionValue::Str(tz.clone()));
    }
    if !spec.ulimits.is_empty() {
        let limit = |n: u64| if n == u64::MAX { "-1".to_string() } else { n.to_string() };
        let l = spec.ulimits.iter().map(|u| format!("{}={}:{}", u.name, limit(u.soft), limit(u.hard)));
        put("Ulimits", OptionValue::StrList(l.collect()));
    }
    if !spec.devices.is_empty() {
        let l = spec.devices.iter().map(|d| {
            format!("{}{}:{}:{}", if d.optional { "-" } else { "" }, d.host.display(), d.container.display(), d.access)
        });
        put("Devices", OptionValue::StrList(l.collect()));
    }
    if let Some(h) = &spec.health {
        // A probe counts whole seconds and cannot be disabled: what it
        // cannot say travels here.
        let whole = |u: u64| u % 1_000_000 == 0 && u > 0;
        if !whole(h.interval_usec) {
            let v = if h.interval_usec == 0 { "disable".to_string() } else { format_duration_usec(h.interval_usec) };
            put("HealthInterval", OptionValue::Str(v));
        }
        if !whole(h.timeout_usec) {
            put("HealthTimeout", OptionValue::Str(format_duration_usec(h.timeout_usec)));
        }
        if h.start_period_usec % 1_000_000 != 0 {
            put("HealthStartPeriod", OptionValue::Str(format_duration_usec(h.start_period_usec)));
        }
        if h.on_failure != HealthOnFailure::None {
            put("HealthOnFailure", OptionValue::Str(h.on_failure.as_str().to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::OPTIONS;

    /// A new option key must be given a way into the YAML (a field or an
    /// annotation) before generate can leave it out silently.
    #[test]
    fn every_option_key_has_a_way_into_the_yaml() {
        for def in OPTIONS.iter() {
            assert!(KEYS.contains(&def.key) || FIELD_KEYS.contains(&def.key), "{} has no Kubernetes field or annotation", def.key);
        }
    }

    #[test]
    fn process_settings_travel_and_come_back() {
        let mut spec = ContainerSpec::default();
        for (k, v) in [
            ("Ulimits", OptionValue::StrList(vec!["nofile=1024:2048".into(), "core=-1".into()])),
            ("Devices", OptionValue::StrList(vec!["/dev/fuse".into(), "-/dev/kvm:/dev/kvm:rw".into()])),
            ("Timezone", OptionValue::Str("UTC".into())),
            ("NoNewPrivileges", OptionValue::Bool(false)),
            ("ReadOnlyTmpfs", OptionValue::Bool(false)),
        ] {
            option(k).unwrap().set(&mut spec, &v).unwrap();
        }
        let mut back = ContainerSpec::default();
        for (k, v) in values(&spec, spec.stop_timeout, spec.restart_policy) {
            let text = encode(&v);
            option(k).unwrap().set(&mut back, &decode(k, &text).unwrap()).unwrap();
        }
        assert_eq!(back, spec);
    }
}
