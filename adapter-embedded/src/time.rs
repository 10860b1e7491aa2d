//! The clock: `embassy_time::Instant` in, the session's `now` out, and the
//! session's next deadline back as an `embassy_time::Instant`.
//!
//! The session's time is a monotonic value the caller provides; here it is
//! embassy-time's clock, whatever time driver the application links, in
//! its unit (microseconds since boot). Both directions are exact.

use sansmqtt_session::Instant;

/// The session's `now`.
pub(crate) fn now() -> Instant {
    Instant::from_micros(embassy_time::Instant::now().as_micros())
}

/// The embassy instant of a session deadline, rounded up to the next
/// microsecond: a timer never fires before the deadline it stands for.
/// (Deadlines are `now` plus whole milliseconds, so nothing is rounded in
/// practice.)
pub(crate) fn to_embassy(deadline: Instant) -> embassy_time::Instant {
    let elapsed = deadline.elapsed();
    let micros = deadline.as_micros();
    let micros = if elapsed.subsec_nanos().is_multiple_of(1_000) {
        micros
    } else {
        micros.saturating_add(1)
    };
    embassy_time::Instant::from_micros(micros)
}
