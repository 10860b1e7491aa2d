//! Broker restarts under sansmqtt's command-line clients on persistent
//! sessions, at the small size of `sansmqtt-faults all --short`.

use std::path::Path;
use std::time::Duration;

use sansmqtt_faults::peer::{Bins, Peer};
use sansmqtt_faults::restarts::{PROBE_TIMEOUT, Restarts, Stop};

fn run(stop: Stop, qos: u8, seed: u64) -> sansmqtt_faults::restarts::RestartsOutcome {
    let bins = Bins::find(Path::new(env!("CARGO_BIN_EXE_sansmqtt-faults"))).unwrap();
    Restarts {
        peer: Peer::Sansmqtt,
        qos,
        messages: 3_000,
        restarts: 3,
        stop,
        outage: (Duration::from_millis(200), Duration::from_secs(1)),
        uptime: (Duration::from_secs(1), Duration::from_secs(2)),
        resets: 10,
        seed,
    }
    .run(&bins)
    .unwrap()
}

/// mosquitto saves its state on SIGTERM: across the restarts QoS 2
/// arrives exactly once, in order; no call of the probe waits past its
/// `request_timeout`; memory stays flat.
#[test]
fn graceful_restarts_lose_nothing_and_no_call_outlives_its_timeout() {
    let o = run(Stop::Term, 2, 21);
    assert_eq!(o.restarts, 3, "{o:?}");
    assert!(o.tally.holds(2), "{o:?}");
    assert!(
        o.probe.longest_ms <= (PROBE_TIMEOUT + Duration::from_millis(500)).as_millis() as u64,
        "{:?}",
        o.probe
    );
    assert!(o.probe.ok > 0, "{:?}", o.probe);
    let ((p0, s0), (p1, s1)) = o.tally.rss_start_end_kib;
    assert!(p1 < p0 + 4 * 1024 && s1 < s0 + 4 * 1024, "{o:?}");
}

/// SIGKILL: mosquitto loses what it had not saved (it saves every
/// second here), so messages may be lost or repeated by the broker; what
/// the client still guarantees: every message it was handed is
/// acknowledged in the end (its in-flight messages are resent to the new
/// broker: the publisher finishes), and no call outlives its timeout.
#[test]
fn killed_brokers_still_get_every_message_of_the_publisher() {
    let o = run(Stop::Kill, 1, 22);
    assert_eq!(o.restarts, 3, "{o:?}");
    assert!(o.tally.publisher_finished, "{o:?}");
    assert!(
        o.probe.longest_ms <= (PROBE_TIMEOUT + Duration::from_millis(500)).as_millis() as u64,
        "{:?}",
        o.probe
    );
}
