//! Time, injectable: cache expiry and rotation schedules read it through [`Clock`], so tests
//! move time forward instead of sleeping.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Monotonic time, for cache expiry.
    fn now(&self) -> Instant;

    /// Wall-clock time in Unix seconds, for timestamps in key rings and rotation schedules.
    fn unix_seconds(&self) -> u64;
}

/// The operating system's clocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn unix_seconds(&self) -> u64 {
        // A clock set before 1970 reads as 1970: timestamps only order events.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A clock that moves only when told to; both readings advance together.
#[derive(Debug)]
pub struct ManualClock {
    origin: Instant,
    unix_origin: u64,
    elapsed_nanos: AtomicU64,
}

impl ManualClock {
    /// A clock reading `unix_seconds` on the wall clock.
    pub fn new(unix_seconds: u64) -> Self {
        ManualClock {
            origin: Instant::now(),
            unix_origin: unix_seconds,
            elapsed_nanos: AtomicU64::new(0),
        }
    }

    /// Moves both readings forward by `by`.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // Saturates instead of wrapping: a test that advances by centuries gets "far future".
        let _ = self
            .elapsed_nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |current| {
                Some(current.saturating_add(nanos))
            });
    }

    fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.elapsed_nanos.load(Ordering::SeqCst))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.origin + self.elapsed()
    }

    fn unix_seconds(&self) -> u64 {
        self.unix_origin.saturating_add(self.elapsed().as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(1_000);
        let start = clock.now();
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(61));
        assert_eq!(clock.now() - start, Duration::from_secs(61));
        assert_eq!(clock.unix_seconds(), 1_061);
    }
}
