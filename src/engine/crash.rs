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
        point: Mutex<Option<&'static str>>,
        seen: Mutex<Vec<&'static str>>,
        reached: Notify,
    }

    impl CrashPlan {
        /// Stop at `point` from now on.
        pub fn arm(&self, point: &'static str) {
            *self.point.lock().unwrap() = Some(point);
        }

        /// Record `point`; true when the plan stops there.
        pub fn hit(&self, point: &'static str) -> bool {
            self.seen.lock().unwrap().push(point);
            let stop = *self.point.lock().unwrap() == Some(point);
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
