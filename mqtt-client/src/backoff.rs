//! Exponential backoff with full jitter, capped, with a retry budget.

use std::time::Duration;

/// Reconnection delays: `base * 2^attempt`, capped at `max`, each drawn
/// uniformly in its upper half (jitter, so that many clients do not
/// reconnect in lockstep), for `retries` attempts (negative: forever).
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
    retries: i64,
    attempt: u32,
}

impl Backoff {
    pub(crate) fn new(base: Duration, max: Duration, retries: i64) -> Self {
        Self {
            base,
            max: max.max(base),
            retries,
            attempt: 0,
        }
    }

    /// The delay before the next attempt, or `None` when the budget is spent.
    pub(crate) fn next_delay(&mut self) -> Option<Duration> {
        if self.retries >= 0 && i64::from(self.attempt) >= self.retries {
            return None;
        }
        let exp = self.base.saturating_mul(1u32 << self.attempt.min(20));
        let ceiling = exp.min(self.max);
        self.attempt += 1;
        let half = ceiling / 2;
        let jitter = half.mul_f64(fastrand::f64());
        Some(half + jitter)
    }

    /// Attempts made since the last success.
    pub(crate) fn attempt(&self) -> u32 {
        self.attempt
    }

    /// After a successful connection.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_the_cap_and_stops_after_the_budget() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1), 5);
        let delays: Vec<_> = std::iter::from_fn(|| b.next_delay()).collect();
        assert_eq!(delays.len(), 5);
        let ceilings = [100, 200, 400, 800, 1000];
        for (d, c) in delays.iter().zip(ceilings) {
            let c = Duration::from_millis(c);
            assert!(*d >= c / 2 && *d <= c, "{d:?} not in [{:?}, {c:?}]", c / 2);
        }
        b.reset();
        assert!(b.next_delay().is_some());
    }

    #[test]
    fn negative_retries_mean_forever() {
        let mut b = Backoff::new(Duration::from_millis(1), Duration::from_millis(4), -1);
        for _ in 0..1000 {
            assert!(b.next_delay().unwrap() <= Duration::from_millis(4));
        }
    }

    #[test]
    fn zero_retries_never_retry() {
        let mut b = Backoff::new(Duration::from_millis(1), Duration::from_millis(4), 0);
        assert_eq!(b.next_delay(), None);
    }
}
