//! The typed builder of a transient unit's properties. Wire types matter: a
//! wrong one fails the whole StartTransientUnit call with an error that names
//! no property, so each property's signature is unit-tested.

use crate::model::{Error, Resources, Result};
use zbus::{OwnedVariant, Variant};

/// A property list for StartTransientUnit / SetUnitProperties.
#[derive(Debug, Default)]
pub struct Properties(Vec<(String, OwnedVariant)>);

fn owned<'a>(v: impl Into<Variant<'a>>) -> OwnedVariant {
    OwnedVariant::try_from(v.into()).expect("plain values hold no file descriptors")
}

impl Properties {
    pub fn new() -> Self {
        Self::default()
    }

    fn put<'a>(&mut self, name: &str, v: impl Into<Variant<'a>>) -> &mut Self {
        self.0.push((name.to_string(), owned(v)));
        self
    }

    pub fn string(&mut self, name: &str, v: &str) -> &mut Self {
        self.put(name, v.to_string())
    }
    pub fn boolean(&mut self, name: &str, v: bool) -> &mut Self {
        self.put(name, v)
    }
    pub fn u64(&mut self, name: &str, v: u64) -> &mut Self {
        self.put(name, v)
    }
    pub fn i32(&mut self, name: &str, v: i32) -> &mut Self {
        self.put(name, v)
    }
    pub fn strings(&mut self, name: &str, v: &[String]) -> &mut Self {
        self.put(name, v.to_vec())
    }

    /// `a(sasb)`: one command (path, argv, ignore-failure).
    pub fn exec(&mut self, name: &str, argv: &[String]) -> &mut Self {
        self.exec_all(name, std::slice::from_ref(&argv.to_vec()))
    }

    /// `a(sasb)` with several commands, run in order.
    pub fn exec_all(&mut self, name: &str, commands: &[Vec<String>]) -> &mut Self {
        let cmds: Vec<(String, Vec<String>, bool)> =
            commands.iter().map(|argv| (argv[0].clone(), argv.to_vec(), false)).collect();
        self.put(name, cmds)
    }

    /// `a(st)`: monotonic timers (TimersMonotonic: base and time in µs;
    /// systemd 252 names the bases as the unit file does, `OnActiveSec`).
    pub fn timers_monotonic(&mut self, timers: &[(&str, u64)]) -> &mut Self {
        let v: Vec<(String, u64)> = timers.iter().map(|(b, t)| (b.to_string(), *t)).collect();
        self.put("TimersMonotonic", v)
    }

    /// `(aiai)`: exit statuses and signals (SuccessExitStatus, RestartPreventExitStatus).
    pub fn statuses(&mut self, name: &str, codes: &[i32], signals: &[i32]) -> &mut Self {
        self.put(name, (codes.to_vec(), signals.to_vec()))
    }

    /// `aay`: journal fields `KEY=value` (LogExtraFields).
    pub fn log_fields(&mut self, fields: &[(&str, &str)]) -> &mut Self {
        let v: Vec<Vec<u8>> = fields.iter().map(|(k, v)| format!("{k}={v}").into_bytes()).collect();
        self.put("LogExtraFields", v)
    }

    /// The resource limits berth manages, by their systemd names.
    pub fn resources(&mut self, r: &Resources) -> &mut Self {
        if let Some(m) = r.memory_max {
            self.u64("MemoryMax", m);
        }
        if let Some(t) = r.tasks_max {
            self.u64("TasksMax", t);
        }
        if let Some(w) = r.cpu_weight {
            self.u64("CPUWeight", w);
        }
        if let Some(q) = r.cpu_quota {
            // Percent of one CPU as CPU time per second.
            self.u64("CPUQuotaPerSecUSec", q as u64 * 10_000);
        }
        self
    }

    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|(n, _)| n.as_str()).collect()
    }

    pub fn signature_of(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.value_signature().to_string())
    }

    pub fn into_vec(self) -> Vec<(String, OwnedVariant)> {
        self.0
    }
}

/// Journal entries a container may write per rate-limit window.
pub const LOG_BURST: u32 = 1_000_000_000;

/// Everything berth puts in a container's transient unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitConfig {
    pub description: String,
    /// argv of the monitor.
    pub exec_start: Vec<String>,
    /// Commands run after the monitor ended, in order.
    pub exec_stop_post: Vec<Vec<String>>,
    pub kill_signal: i32,
    pub timeout_start_usec: u64,
    pub timeout_stop_usec: u64,
    pub syslog_identifier: String,
    pub name: String,
    pub id: String,
    /// systemd's Restart= value.
    pub restart: &'static str,
    /// Restarts allowed (on-failure:N).
    pub restart_limit: Option<u32>,
    pub user_stop_status: i32,
    pub resources: Resources,
    pub dependencies: Vec<String>,
    pub delegate: bool,
}

impl UnitConfig {
    pub fn properties(&self) -> Result<Properties> {
        if self.exec_start.is_empty() || self.exec_stop_post.is_empty() || self.exec_stop_post.iter().any(Vec::is_empty) {
            return Err(Error::internal("a unit needs ExecStart and ExecStopPost"));
        }
        let mut p = Properties::new();
        p.string("Description", &self.description)
            .string("Type", "notify")
            .string("NotifyAccess", "main")
            .exec("ExecStart", &self.exec_start)
            .exec_all("ExecStopPost", &self.exec_stop_post)
            .string("KillMode", "mixed")
            .i32("KillSignal", self.kill_signal)
            .u64("TimeoutStartUSec", self.timeout_start_usec)
            .u64("TimeoutStopUSec", self.timeout_stop_usec)
            .string("SyslogIdentifier", &self.syslog_identifier)
            .log_fields(&[
                ("CONTAINER_NAME", &self.name),
                ("CONTAINER_ID", crate::model::short_id(&self.id)),
                ("CONTAINER_ID_FULL", &self.id),
            ])
            // 0 means "journald's default" here, not "off": a 1 µs window
            // with a burst no container reaches lets every line through.
            .u64("LogRateLimitIntervalUSec", 1)
            .put("LogRateLimitBurst", LOG_BURST)
            .string("Restart", self.restart)
            .u64("RestartUSec", 100_000)
            .statuses("SuccessExitStatus", &[self.user_stop_status], &[9])
            .statuses("RestartPreventExitStatus", &[self.user_stop_status], &[9])
            .boolean("Delegate", self.delegate)
            .resources(&self.resources);
        if let Some(n) = self.restart_limit {
            // n restarts: n+1 starts within an interval that never ends.
            p.u64("StartLimitIntervalUSec", u64::MAX).put("StartLimitBurst", n + 1);
        }
        if !self.dependencies.is_empty() {
            p.strings("After", &self.dependencies).strings("Requires", &self.dependencies);
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> UnitConfig {
        UnitConfig {
            description: "berth container web".into(),
            exec_start: vec!["/usr/bin/berth-monitor".into(), "run".into()],
            exec_stop_post: vec![vec!["/usr/bin/berth-monitor".into(), "record-exit".into()]],
            kill_signal: 38,
            timeout_start_usec: 90_000_000,
            timeout_stop_usec: 20_000_000,
            syslog_identifier: "web".into(),
            name: "web".into(),
            id: "a".repeat(64),
            restart: "on-failure",
            restart_limit: Some(3),
            user_stop_status: 250,
            resources: Resources { memory_max: Some(1 << 20), tasks_max: Some(5), cpu_weight: Some(10), cpu_quota: Some(50) },
            dependencies: vec!["berth-db.service".into()],
            delegate: true,
        }
    }

    #[test]
    fn wire_types_are_systemds() {
        let p = config().properties().unwrap();
        let want = [
            ("Description", "s"),
            ("Type", "s"),
            ("NotifyAccess", "s"),
            ("ExecStart", "a(sasb)"),
            ("ExecStopPost", "a(sasb)"),
            ("KillMode", "s"),
            ("KillSignal", "i"),
            ("TimeoutStartUSec", "t"),
            ("TimeoutStopUSec", "t"),
            ("SyslogIdentifier", "s"),
            ("LogExtraFields", "aay"),
            ("LogRateLimitIntervalUSec", "t"),
            ("LogRateLimitBurst", "u"),
            ("Restart", "s"),
            ("RestartUSec", "t"),
            ("SuccessExitStatus", "(aiai)"),
            ("RestartPreventExitStatus", "(aiai)"),
            ("Delegate", "b"),
            ("MemoryMax", "t"),
            ("TasksMax", "t"),
            ("CPUWeight", "t"),
            ("CPUQuotaPerSecUSec", "t"),
            ("StartLimitIntervalUSec", "t"),
            ("StartLimitBurst", "u"),
            ("After", "as"),
            ("Requires", "as"),
        ];
        assert_eq!(p.names(), want.iter().map(|(n, _)| *n).collect::<Vec<_>>());
        for (name, sig) in want {
            assert_eq!(p.signature_of(name).unwrap(), sig, "{name}");
        }
    }

    #[test]
    fn log_fields_carry_podmans_names() {
        let p = config().properties().unwrap();
        let v = p.into_vec();
        let (_, fields) = v.iter().find(|(n, _)| n == "LogExtraFields").unwrap();
        let fields: Vec<Vec<u8>> = fields.try_clone().unwrap().try_into().unwrap();
        assert_eq!(fields[0], b"CONTAINER_NAME=web");
        assert_eq!(fields[1], b"CONTAINER_ID=aaaaaaaaaaaa");
        assert_eq!(fields[2], format!("CONTAINER_ID_FULL={}", "a".repeat(64)).into_bytes());
    }

    #[test]
    fn optional_properties_are_left_out() {
        let mut c = config();
        c.restart_limit = None;
        c.dependencies.clear();
        c.resources = Resources::default();
        let p = c.properties().unwrap();
        for n in ["StartLimitBurst", "After", "MemoryMax", "CPUQuotaPerSecUSec"] {
            assert!(!p.names().contains(&n), "{n}");
        }
        c.exec_start.clear();
        assert!(c.properties().is_err());
    }
}
