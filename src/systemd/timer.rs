//! The transient timer and service that run a container's health check
//! (podman runs its checks the same way): the timer fires one interval
//! after it starts and one interval after each check ended; both are bound
//! to the container's unit, so they stop with it even when berthd is down,
//! and are collected once inactive, failed or not.

use super::Properties;

/// A container's health-check timer and the service it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthTimer {
    /// `berth-NAME:health.timer`.
    pub timer: String,
    /// `berth-NAME:health.service`.
    pub service: String,
    /// The container's unit: both are bound to it.
    pub container_unit: String,
    pub interval_usec: u64,
    /// The command the service runs (`berthctl healthcheck run NAME`).
    pub command: Vec<String>,
    /// How long one run may take before systemd ends it.
    pub timeout_usec: u64,
    pub description: String,
}

/// Exit status of `berthctl healthcheck run` for an unhealthy container:
/// a result, not a failure of the service.
pub const UNHEALTHY_STATUS: i32 = 1;

/// podman's `LogLevelMax=notice` for its check units: a line per check
/// would flood the journal.
const LOG_LEVEL_NOTICE: i32 = 5;

/// The names of container `name`'s health units. A container name never
/// holds `:`, so these cannot be any container's unit.
pub fn health_units(name: &str) -> (String, String) {
    (format!("{}{name}:health.timer", super::UNIT_PREFIX), format!("{}{name}:health.service", super::UNIT_PREFIX))
}

/// The container whose health unit this is, if it is one.
pub fn health_unit_owner(unit: &str) -> Option<&str> {
    let rest = unit.strip_prefix(super::UNIT_PREFIX)?;
    rest.strip_suffix(":health.timer").or_else(|| rest.strip_suffix(":health.service"))
}

impl HealthTimer {
    fn bound(&self, p: &mut Properties) {
        let unit = std::slice::from_ref(&self.container_unit);
        p.strings("BindsTo", unit).strings("After", unit).string("CollectMode", "inactive-or-failed");
    }

    /// The timer's properties.
    pub fn timer_properties(&self) -> Properties {
        let mut p = Properties::new();
        p.string("Description", &self.description)
            .timers_monotonic(&[("OnActiveSec", self.interval_usec), ("OnUnitInactiveSec", self.interval_usec)])
            .u64("AccuracyUSec", 1_000_000)
            .boolean("RemainAfterElapse", false);
        self.bound(&mut p);
        p
    }

    /// The service's properties (an auxiliary unit of the timer's start).
    pub fn service_properties(&self) -> Properties {
        let mut p = Properties::new();
        p.string("Description", &self.description)
            .string("Type", "oneshot")
            .exec("ExecStart", &self.command)
            .u64("TimeoutStartUSec", self.timeout_usec)
            .statuses("SuccessExitStatus", &[UNHEALTHY_STATUS], &[])
            .i32("LogLevelMax", LOG_LEVEL_NOTICE);
        self.bound(&mut p);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timer() -> HealthTimer {
        let (timer, service) = health_units("web");
        HealthTimer {
            timer,
            service,
            container_unit: "berth-web.service".into(),
            interval_usec: 30_000_000,
            command: vec!["/usr/bin/berthctl".into(), "healthcheck".into(), "run".into(), "web".into()],
            timeout_usec: 60_000_000,
            description: "berth health check of web".into(),
        }
    }

    #[test]
    fn names_cannot_be_a_containers() {
        assert_eq!(health_units("web"), ("berth-web:health.timer".into(), "berth-web:health.service".into()));
        assert!(crate::model::ContainerName::new("web:health").is_err());
        assert_eq!(health_unit_owner("berth-web:health.timer"), Some("web"));
        assert_eq!(health_unit_owner("berth-web:health.service"), Some("web"));
        assert_eq!(health_unit_owner("berth-web-health.service"), None);
        assert_eq!(health_unit_owner("berth-web.service"), None);
    }

    #[test]
    fn wire_types_are_systemds() {
        let t = timer();
        let want = [
            ("Description", "s"),
            ("TimersMonotonic", "a(st)"),
            ("AccuracyUSec", "t"),
            ("RemainAfterElapse", "b"),
            ("BindsTo", "as"),
            ("After", "as"),
            ("CollectMode", "s"),
        ];
        let p = t.timer_properties();
        assert_eq!(p.names(), want.iter().map(|(n, _)| *n).collect::<Vec<_>>());
        for (name, sig) in want {
            assert_eq!(p.signature_of(name).unwrap(), sig, "{name}");
        }
        let want = [
            ("Description", "s"),
            ("Type", "s"),
            ("ExecStart", "a(sasb)"),
            ("TimeoutStartUSec", "t"),
            ("SuccessExitStatus", "(aiai)"),
            ("LogLevelMax", "i"),
            ("BindsTo", "as"),
            ("After", "as"),
            ("CollectMode", "s"),
        ];
        let p = t.service_properties();
        assert_eq!(p.names(), want.iter().map(|(n, _)| *n).collect::<Vec<_>>());
        for (name, sig) in want {
            assert_eq!(p.signature_of(name).unwrap(), sig, "{name}");
        }
    }
}
