//! Jobs kept in PostgreSQL and run by workers on any node.
//!
//! This file holds the decisions, pure and with time passed in: how long a
//! failed job waits before its next attempt, when a lease has run out, and
//! whether a failure (or a worker that vanished) means another attempt or
//! giving up. `queue` does the SQL (claim, heartbeat, complete, fail) and
//! asks these; `runner` is the worker loop. Nothing here touches the
//! database or the clock.

pub mod queue;
pub mod runner;

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How failed attempts are retried: `base` after the first failure,
/// doubling each time, never more than `max`; `max_attempts` in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
    pub max_attempts: i32,
}

/// What a failed or abandoned attempt leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterFailure {
    /// Queued again, claimable from this instant.
    RetryAt(DateTime<Utc>),
    /// Failed for good.
    GiveUp,
}

impl RetryPolicy {
    /// The wait after the `attempts`-th attempt failed (1-based): base,
    /// 2·base, 4·base, … capped at `max`.
    pub fn backoff(&self, attempts: i32) -> Duration {
        let doublings = attempts.saturating_sub(1).clamp(0, 31) as u32;
        self.base
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// A job whose `attempts`-th attempt (of `max_attempts`, as stored on
    /// the job) failed at `now`.
    pub fn after_failure(
        &self,
        attempts: i32,
        max_attempts: i32,
        now: DateTime<Utc>,
    ) -> AfterFailure {
        if attempts >= max_attempts {
            return AfterFailure::GiveUp;
        }
        let wait =
            chrono::Duration::from_std(self.backoff(attempts)).unwrap_or(chrono::Duration::MAX);
        AfterFailure::RetryAt(
            now.checked_add_signed(wait)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        )
    }
}

/// A lease is over once its end has passed; until then its holder may be
/// slow, not dead, and nobody else may take the job.
pub fn lease_expired(lease_until: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now > lease_until
}

/// A running job found with its lease run out: its worker died or lost
/// the database. It is claimed again while attempts remain (the claim
/// counts one); otherwise it fails with `WORKER_LOST`.
pub fn reclaimable(attempts: i32, max_attempts: i32) -> bool {
    attempts < max_attempts
}

/// The reason stored for a job whose last attempt's worker vanished.
pub const WORKER_LOST: &str =
    "the worker stopped responding (its lease expired) on the last attempt";

/// A heartbeat should come well within the lease: a third of it, so two
/// can be missed (a slow database, a paused VM) before the job is lost.
pub fn heartbeat_every(lease: Duration) -> Duration {
    (lease / 3).max(Duration::from_millis(100))
}

/// Progress as a percentage from a position and a duration, clamped to
/// 0–100 (a file's duration is often a little short of its last frame).
pub fn percent(position: Duration, duration: Duration) -> f32 {
    if duration.is_zero() {
        return 0.0;
    }
    (position.as_secs_f64() / duration.as_secs_f64() * 100.0).clamp(0.0, 100.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        // A fixed instant, well inside chrono's range.
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    const POLICY: RetryPolicy = RetryPolicy {
        base: Duration::from_secs(30),
        max: Duration::from_secs(600),
        max_attempts: 5,
    };

    #[test]
    fn backoff_starts_at_the_base_and_doubles_up_to_the_cap() {
        let waits: Vec<u64> = (1..=7).map(|n| POLICY.backoff(n).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 600, 600]);
        assert_eq!(POLICY.backoff(0).as_secs(), 30);
        assert_eq!(POLICY.backoff(i32::MAX).as_secs(), 600);
    }

    #[test]
    fn a_failure_is_retried_at_the_backoff_until_the_last_attempt() {
        assert_eq!(
            POLICY.after_failure(1, 3, at(0)),
            AfterFailure::RetryAt(at(30))
        );
        assert_eq!(
            POLICY.after_failure(2, 3, at(100)),
            AfterFailure::RetryAt(at(160))
        );
        assert_eq!(POLICY.after_failure(3, 3, at(200)), AfterFailure::GiveUp);
        // A job whose limit was lowered after it ran more often gives up too.
        assert_eq!(POLICY.after_failure(4, 3, at(200)), AfterFailure::GiveUp);
        assert_eq!(POLICY.after_failure(1, 1, at(0)), AfterFailure::GiveUp);
    }

    #[test]
    fn a_lease_is_expired_only_once_its_end_has_passed() {
        assert!(!lease_expired(at(10), at(9)));
        assert!(!lease_expired(at(10), at(10)));
        assert!(lease_expired(at(10), at(11)));
    }

    #[test]
    fn a_job_whose_worker_vanished_is_retried_while_attempts_remain() {
        assert!(reclaimable(1, 3));
        assert!(reclaimable(2, 3));
        assert!(!reclaimable(3, 3));
    }

    #[test]
    fn heartbeats_come_three_times_per_lease() {
        assert_eq!(
            heartbeat_every(Duration::from_secs(30)),
            Duration::from_secs(10)
        );
        assert_eq!(
            heartbeat_every(Duration::from_millis(30)),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn progress_is_clamped_and_safe_without_a_duration() {
        let s = Duration::from_secs;
        assert_eq!(percent(s(5), s(10)), 50.0);
        assert_eq!(percent(s(11), s(10)), 100.0);
        assert_eq!(percent(s(5), Duration::ZERO), 0.0);
    }
}
