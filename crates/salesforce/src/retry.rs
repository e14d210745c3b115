//! Bounded, jittered exponential backoff ("full jitter": a uniform delay in
//! `[0, min(cap, base * 2^attempt)]`), so many clients retrying a struggling org spread out.

use std::time::Duration;

/// How often and how patiently to retry transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = never retry).
    pub max_attempts: u32,
    /// The first backoff ceiling.
    pub base_delay: Duration,
    /// The largest backoff ceiling.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The ceiling before retry number `retry` (0-based): `min(max, base * 2^retry)`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// A jittered delay before retry number `retry`.
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        // Randomness failure only loses the jitter, never the backoff.
        let r = getrandom::u64().unwrap_or(nanos / 2);
        Duration::from_nanos(r % (nanos + 1))
    }
}

/// Polling a Bulk job: starts quick, backs off to `max`, no jitter needed (one job, one poller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    /// First wait.
    pub initial: Duration,
    /// Longest wait between polls.
    pub max: Duration,
    /// Give up after this long in total.
    pub timeout: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(15),
            timeout: Duration::from_secs(6 * 3600),
        }
    }
}

impl PollPolicy {
    /// The wait after `poll` (0-based) polls.
    pub fn wait(&self, poll: u32) -> Duration {
        let factor = 1u32.checked_shl(poll.min(20)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        assert_eq!(p.ceiling(0), Duration::from_millis(100));
        assert_eq!(p.ceiling(2), Duration::from_millis(400));
        assert_eq!(p.ceiling(10), Duration::from_secs(1));
        assert_eq!(p.ceiling(u32::MAX), Duration::from_secs(1));
        for retry in 0..8 {
            assert!(p.delay(retry) <= p.ceiling(retry));
        }
        let poll = PollPolicy::default();
        assert_eq!(poll.wait(0), Duration::from_millis(250));
        assert_eq!(poll.wait(1), Duration::from_millis(500));
        assert_eq!(poll.wait(30), Duration::from_secs(15));
    }
}
