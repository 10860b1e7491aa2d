//! Time as the caller gives it: a monotonic [`Instant`], without a clock.
//!
//! The session never reads a clock. Every call that depends on time takes
//! `now`, and deadlines come back ([`Session::poll_timeout`]) in the same
//! unit. An [`Instant`] is a point on the caller's monotonic time line: the
//! time elapsed since an origin the caller picks (boot, the first call, a
//! test's zero), kept as a [`core::time::Duration`]. Only differences between
//! instants mean anything, so any monotonic clock will do:
//!
//! - embassy: `Instant::from_micros(embassy_time::Instant::now().as_micros())`;
//! - `std`: the time elapsed since a `std::time::Instant` taken once as the
//!   origin (`Instant::from_elapsed(t.duration_since(origin))`), which is
//!   what the `sansmqtt` client does;
//! - a test: `Instant::ZERO + Duration::from_secs(5)`, simulated time.
//!
//! [`Session::poll_timeout`]: crate::Session::poll_timeout

use core::fmt;
use core::ops::{Add, AddAssign, Sub, SubAssign};
use core::time::Duration;

/// A point in monotonic time, as the caller measures it: the time elapsed
/// since the caller's origin. Ordered; adding a [`Duration`] gives a later
/// instant, subtracting two gives the [`Duration`] between them (zero when
/// the second is the later one: time never runs backwards here).
///
/// ```
/// use core::time::Duration;
/// use sansmqtt_session::Instant;
///
/// let connected = Instant::from_millis(1_500);
/// let deadline = connected + Duration::from_secs(60);
/// assert_eq!(deadline - connected, Duration::from_secs(60));
/// assert_eq!(connected - deadline, Duration::ZERO);
/// assert_eq!(deadline.as_micros(), 61_500_000);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(Duration);

impl Instant {
    /// The origin of the caller's time line.
    pub const ZERO: Instant = Instant(Duration::ZERO);

    /// The instant `elapsed` after the origin.
    pub const fn from_elapsed(elapsed: Duration) -> Self {
        Instant(elapsed)
    }

    /// The instant `micros` microseconds after the origin (embassy-time's
    /// unit: `embassy_time::Instant::as_micros`).
    pub const fn from_micros(micros: u64) -> Self {
        Instant(Duration::from_micros(micros))
    }

    /// The instant `millis` milliseconds after the origin.
    pub const fn from_millis(millis: u64) -> Self {
        Instant(Duration::from_millis(millis))
    }

    /// The instant `secs` seconds after the origin.
    pub const fn from_secs(secs: u64) -> Self {
        Instant(Duration::from_secs(secs))
    }

    /// The time elapsed since the origin.
    pub const fn elapsed(self) -> Duration {
        self.0
    }

    /// Microseconds since the origin, saturating at `u64::MAX` (after
    /// 584,554 years).
    pub const fn as_micros(self) -> u64 {
        saturate(self.0.as_micros())
    }

    /// Milliseconds since the origin, saturating at `u64::MAX`.
    pub const fn as_millis(self) -> u64 {
        saturate(self.0.as_millis())
    }

    /// The time from `earlier` to `self`; zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// The time from `earlier` to `self`, or `None` if `earlier` is later.
    pub fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        self.0.checked_sub(earlier.0)
    }

    /// `self + duration`, or `None` on overflow.
    pub fn checked_add(self, duration: Duration) -> Option<Instant> {
        self.0.checked_add(duration).map(Instant)
    }

    /// `self - duration`, or `None` before the origin.
    pub fn checked_sub(self, duration: Duration) -> Option<Instant> {
        self.0.checked_sub(duration).map(Instant)
    }
}

/// `n`, or `u64::MAX` past it.
const fn saturate(n: u128) -> u64 {
    if n > u64::MAX as u128 {
        u64::MAX
    } else {
        n as u64
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    /// Saturates at the end of time rather than panicking: a deadline of
    /// "never" (e.g. `Duration::MAX`) stays the latest instant.
    fn add(self, duration: Duration) -> Instant {
        Instant(self.0.saturating_add(duration))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, duration: Duration) {
        *self = *self + duration;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    /// Saturates at the origin.
    fn sub(self, duration: Duration) -> Instant {
        Instant(self.0.saturating_sub(duration))
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, duration: Duration) {
        *self = *self - duration;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    /// The time between two instants, zero if `earlier` is the later one
    /// (as [`Instant::saturating_duration_since`]).
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_panicking() {
        let t = Instant::from_secs(10);
        assert_eq!(t + Duration::from_secs(5), Instant::from_secs(15));
        assert_eq!(t - Duration::from_secs(20), Instant::ZERO);
        assert_eq!(Instant::ZERO - t, Duration::ZERO);
        assert_eq!(
            t - Instant::from_millis(2_500),
            Duration::from_millis(7_500)
        );
        assert_eq!(
            (t + Duration::MAX).elapsed(),
            Duration::MAX,
            "the end of time stays the end of time"
        );
        assert_eq!(t.checked_duration_since(Instant::from_secs(11)), None);
        assert_eq!(Instant::from_micros(1_234_567).as_micros(), 1_234_567);
        assert_eq!(Instant::from_micros(1_234_567).as_millis(), 1_234);
    }
}
