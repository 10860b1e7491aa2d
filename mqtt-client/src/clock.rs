//! The session's time from the runtime's clock.
//!
//! The session (`no_std`) reads no clock: it takes a
//! [`sansmqtt_session::Instant`], the time elapsed since an origin of the
//! caller's choosing. Here that origin is one `std::time::Instant` per
//! process, taken at first use and set back as far as a year (as far as the
//! platform's monotonic clock allows), so that instants a runtime took a
//! little earlier still map exactly; both conversions go through it.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(|| {
        let now = Instant::now();
        [365 * 24 * 3600, 24 * 3600, 3600, 60, 1]
            .into_iter()
            .find_map(|secs| now.checked_sub(Duration::from_secs(secs)))
            .unwrap_or(now)
    })
}

/// `at` on the session's time line (an instant before the origin maps to
/// the origin).
pub(crate) fn session_time(at: Instant) -> sansmqtt_session::Instant {
    sansmqtt_session::Instant::from_elapsed(at.saturating_duration_since(origin()))
}

/// A session deadline on the runtime's clock.
pub(crate) fn std_time(at: sansmqtt_session::Instant) -> Instant {
    let origin = origin();
    origin
        .checked_add(at.elapsed())
        // Past what the platform's clock can hold: a century from now is
        // "never" for a timer.
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_round_trip_exactly() {
        let a = Instant::now();
        let b = a + Duration::from_nanos(1_234_567_891);
        let (sa, sb) = (session_time(a), session_time(b));
        assert_eq!(sb - sa, Duration::from_nanos(1_234_567_891));
        assert_eq!(std_time(sa), a);
        assert_eq!(std_time(sb), b);
        // A little before the first conversion still maps exactly (where
        // the platform's clock reaches that far back).
        if let Some(before) = a.checked_sub(Duration::from_secs(30))
            && before >= origin()
        {
            assert_eq!(std_time(session_time(before)), before);
        }
    }
}
