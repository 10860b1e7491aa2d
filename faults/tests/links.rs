//! sansmqtt's command-line clients (`sansmqtt pub -l`, `sansmqtt sub`) on
//! persistent sessions through a faulty link to mosquitto, at the small
//! size of `sansmqtt-faults all --short`: QoS 2 arrives exactly once and
//! QoS 1 at least once, in order (MQTT-4.3.3, MQTT-4.6.0-5), whatever the
//! link does.

use std::path::Path;
use std::time::Duration;

use sansmqtt_faults::cuts::Cuts;
use sansmqtt_faults::peer::{Bins, Peer};

fn bins() -> Bins {
    Bins::find(Path::new(env!("CARGO_BIN_EXE_sansmqtt-faults"))).unwrap()
}

fn check(c: &Cuts) {
    let o = c.run(&bins()).unwrap();
    assert!(
        o.tally.holds(c.qos),
        "{c:?}: {:?} (proxy: {:?})",
        o.tally,
        o.counts
    );
}

#[test]
fn resets_at_random_offsets_lose_nothing_qos1() {
    let c = Cuts::resets(Peer::Sansmqtt, 1, 2_000, 20, 11);
    let o = c.run(&bins()).unwrap();
    assert!(o.tally.holds(1), "{:?} {:?}", o.tally, o.counts);
    assert!(o.counts.resets >= 10, "the resets happened: {:?}", o.counts);
}

#[test]
fn resets_at_random_offsets_deliver_qos2_exactly_once_in_order() {
    let c = Cuts::resets(Peer::Sansmqtt, 2, 2_000, 20, 12);
    let o = c.run(&bins()).unwrap();
    assert!(o.tally.holds(2), "{:?} {:?}", o.tally, o.counts);
    // Only the broker's own re-sends after PUBREL (mosquitto 2.0.11 makes
    // some when a reset catches its PUBREL) may come twice.
    assert!(
        o.tally.duplicated <= o.tally.broker.republished,
        "{:?}",
        o.tally
    );
    assert!(o.counts.resets >= 10, "the resets happened: {:?}", o.counts);
}

#[test]
fn a_slow_link_with_resets_delivers_qos2_exactly_once() {
    let mut c = Cuts::resets(Peer::Sansmqtt, 2, 200, 5, 13);
    c.delay = Duration::from_millis(5);
    check(&c);
}

#[test]
fn a_trickling_link_delivers_qos2_exactly_once() {
    let mut c = Cuts::resets(Peer::Sansmqtt, 2, 500, 0, 14);
    c.trickle = Some(20_000);
    check(&c);
}

#[test]
fn refused_connections_are_ridden_out() {
    let mut c = Cuts::resets(Peer::Sansmqtt, 2, 2_000, 0, 15);
    c.refusals = (2, Duration::from_secs(1));
    c.rate = Some(400);
    let o = c.run(&bins()).unwrap();
    assert!(o.tally.holds(2), "{:?} {:?}", o.tally, o.counts);
    assert_eq!(o.refusals, 2);
}
