//! When a delivery is tried again, and the clock that says what "now" is.
//!
//! After a failed attempt the next one waits about 5 s, 30 s, 2 min, 10 min, 30 min and
//! 1 h, then every 3 h, each with ±10% jitter (so that the retries of many deliveries that
//! failed together don't all arrive together again), and never sooner than the
//! receiver's `Retry-After`. Retries stop 24 h after the first attempt: the delivery is
//! then FAILED.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use rand::Rng;
use sea_orm::prelude::DateTimeWithTimeZone;

/// The waits after the first failures; every later one is [`LATER`].
pub const BACKOFF: [Duration; 6] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(2 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(60 * 60),
];
/// The wait after the sixth failure and every one after it.
pub const LATER: Duration = Duration::from_secs(3 * 60 * 60);
/// How long a delivery is retried.
pub const RETRY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// How long an endpoint may fail without a single success before it is disabled.
pub const DISABLE_AFTER: Duration = Duration::from_secs(5 * 24 * 60 * 60);

/// The wait after `failures` failed attempts (1 for the first), before jitter.
pub fn backoff(failures: u32) -> Duration {
    let i = failures.saturating_sub(1) as usize;
    BACKOFF.get(i).copied().unwrap_or(LATER)
}

/// The wait after `failures` failed attempts, with jitter, and at least `retry_after`.
pub fn next_wait(failures: u32, retry_after: Option<Duration>) -> Duration {
    let base = backoff(failures);
    let jitter = rand::rng().random_range(0.9..1.1);
    let wait = base.mul_f64(jitter);
    match retry_after {
        // A receiver may ask for more time, but not to be left alone past the window.
        Some(asked) => wait.max(asked.min(RETRY_WINDOW)),
        None => wait,
    }
}

/// The time the delivery worker schedules by: the real clock, moved forward by what a
/// test asked for. Cheap to clone; clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The real clock.
    pub fn real() -> Self {
        Clock::default()
    }

    /// Now, as stored (see [`crate::now`]).
    pub fn now(&self) -> DateTimeWithTimeZone {
        crate::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Move this clock (and its clones) forward by `by`: the retries that were due by
    /// then are due now.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// `at + wait`.
pub fn after(at: DateTimeWithTimeZone, wait: Duration) -> DateTimeWithTimeZone {
    at + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_grows_then_stays_at_three_hours() {
        let waits: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [5, 30, 120, 600, 1800, 3600, 10800, 10800, 10800]);
        for n in 1..=9 {
            let wait = next_wait(n, None).as_secs_f64();
            let base = backoff(n).as_secs_f64();
            assert!(
                wait >= base * 0.9 && wait <= base * 1.1,
                "{wait} around {base}"
            );
        }
        assert_eq!(next_wait(1, Some(Duration::from_secs(120))).as_secs(), 120);
    }

    #[test]
    fn a_moved_clock_moves_its_clones() {
        let clock = Clock::real();
        let clone = clock.clone();
        let before = clone.now();
        clock.advance(Duration::from_secs(3600));
        assert!(clone.now() - before >= chrono::Duration::seconds(3600));
    }
}
