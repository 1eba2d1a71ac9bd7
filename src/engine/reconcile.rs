//! How a container's record follows what systemd and the monitor report.
//! Pure, so that every case is unit-tested.

use crate::model::State;
use crate::store::{ExitRecord, Record};
use crate::systemd::UnitStatus;

/// What the unit's state means for the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitPhase {
    /// Not loaded, inactive or failed, or waiting to be restarted.
    Down,
    Starting,
    Up,
    Frozen,
    Stopping,
}

pub fn phase(u: Option<&UnitStatus>) -> UnitPhase {
    let Some(u) = u else { return UnitPhase::Down };
    match (u.active_state.as_str(), u.sub_state.as_str()) {
        ("active" | "reloading", _) if u.payload_frozen || matches!(u.freezer_state.as_str(), "frozen" | "freezing") => {
            UnitPhase::Frozen
        }
        ("active" | "reloading", _) => UnitPhase::Up,
        ("activating", "auto-restart") => UnitPhase::Down,
        ("activating", _) => UnitPhase::Starting,
        ("deactivating", _) => UnitPhase::Stopping,
        _ => UnitPhase::Down,
    }
}

/// The result of reconciling: the record changed, and whether the
/// container died (its run ended) in this step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub changed: bool,
    pub died: bool,
}

/// Bring `rec` in line with its unit and its latest exit record.
pub fn reconcile(rec: &mut Record, unit: Option<&UnitStatus>, exit: Option<&ExitRecord>) -> Outcome {
    let before = rec.clone();
    let mut died = false;
    if let Some(u) = unit {
        if u.n_restarts > 0 || rec.restart_count > 0 {
            rec.restart_count = rec.restart_count.max(u.n_restarts);
        }
    }
    match (rec.state, phase(unit)) {
        (State::Running | State::Paused | State::Stopping, UnitPhase::Down) => {
            died = true;
            finish(rec, unit, exit);
        }
        (State::Running | State::Paused | State::Stopping, UnitPhase::Up) => rec.state = State::Running,
        (State::Running | State::Paused | State::Stopping, UnitPhase::Frozen) => rec.state = State::Paused,
        (State::Running | State::Paused | State::Stopping, UnitPhase::Stopping) => rec.state = State::Stopping,
        // systemd restarted it (Restart=) or someone started it behind our back.
        (State::Configured | State::Stopped | State::Exited | State::Created, UnitPhase::Up | UnitPhase::Frozen) => {
            rec.state = if phase(unit) == UnitPhase::Frozen { State::Paused } else { State::Running };
            rec.started_at = unit.map(|u| u.active_enter_usec).filter(|t| *t > 0).unwrap_or(rec.started_at);
            rec.stopped_by_user = false;
        }
        // A run that ended while we were not looking: a restart in between,
        // or a whole run while berthd was down (killed right after asking
        // systemd to start it, before recording that it did).
        (State::Configured | State::Created | State::Stopped | State::Exited, UnitPhase::Down) => {
            if let Some(x) = exit.filter(|x| x.finished_at > rec.finished_at) {
                apply_exit(rec, x);
            } else if !rec.state.has_run() && unit.is_some_and(|u| u.active_state == "failed") {
                // Its unit failed before the monitor could record anything.
                died = true;
                rec.started_at = unit.map(|u| u.inactive_enter_usec).unwrap_or(rec.started_at);
                finish(rec, unit, None);
            }
        }
        _ => {}
    }
    Outcome { changed: *rec != before, died }
}

fn apply_exit(rec: &mut Record, x: &ExitRecord) {
    if x.started_at > 0 {
        rec.started_at = x.started_at;
    }
    rec.exit_code = Some(x.exit_code);
    rec.finished_at = x.finished_at;
    rec.stopped_by_user = x.stop_requested;
    rec.state = if x.stop_requested { State::Stopped } else { State::Exited };
}

/// A run has ended: record how, from this run's exit file, or from what
/// systemd saw of the main process when there is none.
pub(crate) fn finish(rec: &mut Record, unit: Option<&UnitStatus>, exit: Option<&ExitRecord>) {
    match exit.filter(|x| x.finished_at >= rec.started_at) {
        Some(x) => apply_exit(rec, x),
        None => {
            // No exit file: the monitor never ran (or its file is gone);
            // fall back on what systemd saw of the main process.
            let code = unit.map(|u| match u.exec_main_code {
                1 => u.exec_main_status,
                2 | 3 => 128 + u.exec_main_status,
                _ => 255,
            });
            rec.exit_code = code.or(Some(255));
            rec.finished_at = crate::model::now_usec();
            rec.state = State::Exited;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{new_id, ContainerName, ContainerSpec, OptionValue};

    fn rec(state: State) -> Record {
        let opts = [
            ("Rootfs".to_string(), OptionValue::Str("/r".into())),
            ("Command".to_string(), OptionValue::StrList(vec!["true".into()])),
        ]
        .into();
        let mut r = Record::new(ContainerName::new("c").unwrap(), new_id(), ContainerSpec::from_options(&opts).unwrap());
        r.state = state;
        r.started_at = 100;
        r
    }

    fn unit(active: &str, sub: &str, freezer: &str) -> UnitStatus {
        UnitStatus {
            active_state: active.into(),
            sub_state: sub.into(),
            freezer_state: freezer.into(),
            ..Default::default()
        }
    }

    fn exit(code: i32, at: u64, requested: bool) -> ExitRecord {
        ExitRecord { exit_code: code, finished_at: at, stop_requested: requested, started_at: 0 }
    }

    #[test]
    fn a_run_that_ends_on_its_own_is_exited_with_its_code() {
        let mut r = rec(State::Running);
        let o = reconcile(&mut r, None, Some(&exit(3, 200, false)));
        assert_eq!((r.state, r.exit_code, r.finished_at), (State::Exited, Some(3), 200));
        assert!(o.died && o.changed);
    }

    #[test]
    fn a_requested_stop_is_stopped() {
        let mut r = rec(State::Running);
        reconcile(&mut r, Some(&unit("inactive", "dead", "running")), Some(&exit(137, 200, true)));
        assert_eq!((r.state, r.exit_code), (State::Stopped, Some(137)));
        assert!(r.stopped_by_user);
    }

    #[test]
    fn a_stale_exit_file_is_not_used() {
        let mut r = rec(State::Running);
        let mut u = unit("failed", "failed", "running");
        u.exec_main_code = 2;
        u.exec_main_status = 9;
        reconcile(&mut r, Some(&u), Some(&exit(0, 50, false)));
        assert_eq!((r.state, r.exit_code), (State::Exited, Some(137)));
    }

    #[test]
    fn freezer_and_stopping_follow_the_unit() {
        let mut r = rec(State::Running);
        reconcile(&mut r, Some(&unit("active", "running", "frozen")), None);
        assert_eq!(r.state, State::Paused);
        reconcile(&mut r, Some(&unit("active", "running", "running")), None);
        assert_eq!(r.state, State::Running);
        reconcile(&mut r, Some(&unit("deactivating", "stop-sigterm", "running")), None);
        assert_eq!(r.state, State::Stopping);
        let o = reconcile(&mut r, Some(&unit("active", "running", "running")), None);
        assert!(o.changed && !o.died);
    }

    #[test]
    fn systemd_restarts_are_followed() {
        let mut r = rec(State::Running);
        let mut u = unit("activating", "auto-restart", "running");
        u.n_restarts = 1;
        let o = reconcile(&mut r, Some(&u), Some(&exit(1, 200, false)));
        assert!(o.died);
        assert_eq!((r.state, r.exit_code, r.restart_count), (State::Exited, Some(1), 1));
        let mut u = unit("active", "running", "running");
        u.n_restarts = 1;
        u.active_enter_usec = 300;
        reconcile(&mut r, Some(&u), None);
        assert_eq!((r.state, r.started_at), (State::Running, 300));
        // A later run's exit, seen only after the fact.
        r.state = State::Exited;
        reconcile(&mut r, None, Some(&exit(2, 400, false)));
        assert_eq!(r.exit_code, Some(2));
    }

    #[test]
    fn states_without_a_unit_stay() {
        for s in [State::Configured, State::Created, State::Stopped, State::Exited, State::Removing] {
            let mut r = rec(s);
            let o = reconcile(&mut r, None, None);
            assert_eq!(r.state, s);
            assert!(!o.changed);
        }
    }

    #[test]
    fn a_run_while_berthd_was_down_is_found() {
        // Killed after StartTransientUnit, before recording the start: the
        // container ran and exited 7 meanwhile.
        for s in [State::Configured, State::Created] {
            let mut r = rec(s);
            r.finished_at = 0;
            let mut x = exit(7, 500, false);
            x.started_at = 400;
            let o = reconcile(&mut r, None, Some(&x));
            assert_eq!((r.state, r.exit_code, r.started_at, r.finished_at), (State::Exited, Some(7), 400, 500));
            assert!(o.changed);
        }
        // Its unit failed before the monitor recorded anything.
        let mut r = rec(State::Created);
        let mut u = unit("failed", "failed", "running");
        (u.exec_main_code, u.exec_main_status) = (1, 125);
        let o = reconcile(&mut r, Some(&u), None);
        assert_eq!((r.state, r.exit_code), (State::Exited, Some(125)));
        assert!(o.died);
        // Still starting (a notify container waiting for READY=1): wait.
        let mut r = rec(State::Created);
        let o = reconcile(&mut r, Some(&unit("activating", "start", "running")), None);
        assert_eq!(r.state, State::Created);
        assert!(!o.changed);
    }

    #[test]
    fn berths_pause_is_the_payloads_freezer() {
        let mut r = rec(State::Running);
        let mut u = unit("active", "running", "running");
        u.payload_frozen = true;
        reconcile(&mut r, Some(&u), None);
        assert_eq!(r.state, State::Paused);
    }
}
