//! The clock: `embassy_time::Instant` in, the session's `now` out, and the
//! session's next deadline back as an `embassy_time::Instant`.
//!
//! The session's time is a monotonic value the caller provides; here it is
//! embassy-time's clock, whatever driver the application links.

// Until the sans-IO core takes a caller-provided `sansmqtt_session::Instant`,
// its `now` is a `std::time::Instant`: embassy time is mapped onto it from a
// pair of readings taken once. This module is the only place that knows.
extern crate std;

use core::time::Duration;
use std::sync::OnceLock;

/// The session's notion of an instant.
pub(crate) type SessionInstant = std::time::Instant;

/// One reading of both clocks, taken at first use.
fn anchor() -> (std::time::Instant, u64) {
    static ANCHOR: OnceLock<(std::time::Instant, u64)> = OnceLock::new();
    *ANCHOR.get_or_init(|| {
        (
            std::time::Instant::now(),
            embassy_time::Instant::now().as_micros(),
        )
    })
}

/// The session's `now` for an embassy instant.
pub(crate) fn to_session(t: embassy_time::Instant) -> SessionInstant {
    let (std_at, embassy_at) = anchor();
    let us = t.as_micros();
    if us >= embassy_at {
        std_at + Duration::from_micros(us - embassy_at)
    } else {
        std_at
            .checked_sub(Duration::from_micros(embassy_at - us))
            .unwrap_or(std_at)
    }
}

/// The embassy instant of a session deadline, rounded up to the next
/// microsecond: a timer never fires before the deadline it stands for.
pub(crate) fn to_embassy(t: SessionInstant) -> embassy_time::Instant {
    let (std_at, embassy_at) = anchor();
    let us = match t.checked_duration_since(std_at) {
        Some(after) => embassy_at.saturating_add(ceil_micros(after)),
        None => embassy_at.saturating_sub(ceil_micros(std_at - t)),
    };
    embassy_time::Instant::from_micros(us)
}

fn ceil_micros(d: Duration) -> u64 {
    let us = d.as_micros();
    let us = if !d.subsec_nanos().is_multiple_of(1_000) {
        us + 1
    } else {
        us
    };
    u64::try_from(us).unwrap_or(u64::MAX)
}

/// The session's `now`.
pub(crate) fn now() -> SessionInstant {
    to_session(embassy_time::Instant::now())
}
