//! Crash points: the steps of a verb after which berthd may be killed. In
//! the unit tests a plan stops a verb at one of them for good, as a SIGKILL
//! would (nothing after the point runs), and the test then opens a new
//! engine on the same store and fake systemd. Elsewhere they cost nothing.

use super::Engine;

#[cfg(test)]
pub(crate) use plan::CrashPlan;

impl Engine {
    /// A step of a verb is done; with a plan naming `point`, the verb never
    /// continues.
    #[allow(unused_variables)]
    pub(crate) async fn crash_point(&self, point: &'static str) {
        #[cfg(test)]
        if let Some(plan) = &self.inner.config.crash {
            if plan.hit(point) {
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod plan {
    use std::sync::Mutex;
    use tokio::sync::Notify;

    /// Which crash point to stop at, and a way to learn that it was reached.
    #[derive(Default)]
    pub(crate) struct CrashPlan {
        /// The point, and how many more passes go on before the stop.
        point: Mutex<Option<(&'static str, usize)>>,
        seen: Mutex<Vec<&'static str>>,
        reached: Notify,
    }

    impl CrashPlan {
        /// Stop at `point` from now on.
        pub fn arm(&self, point: &'static str) {
            self.arm_at(point, 1);
        }

        /// Stop at the `nth` pass (from 1) of `point` from now on: a verb
        /// that makes several things passes its points once for each.
        pub fn arm_at(&self, point: &'static str, nth: usize) {
            *self.point.lock().unwrap() = Some((point, nth.saturating_sub(1)));
        }

        /// Record `point`; true when the plan stops there.
        pub fn hit(&self, point: &'static str) -> bool {
            self.seen.lock().unwrap().push(point);
            let mut armed = self.point.lock().unwrap();
            let stop = match armed.as_mut() {
                Some((p, 0)) => *p == point,
                Some((p, left)) if *p == point => {
                    *left -= 1;
                    false
                }
                _ => false,
            };
            if stop {
                self.reached.notify_one();
            }
            stop
        }

        /// Wait until the planned point is reached.
        pub async fn reached(&self) {
            self.reached.notified().await
        }

        /// Every point passed so far, in order.
        pub fn seen(&self) -> Vec<&'static str> {
            self.seen.lock().unwrap().clone()
        }
    }
}
