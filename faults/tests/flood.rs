//! Floods (issue #16), at a short size: a broker sends PUBLISHes as fast
//! as the socket takes them to a sansmqtt client whose application takes
//! one message every 10 ms, for 5 s. The client's memory stays flat after
//! the first seconds, however much the broker sends: QoS 0 by TCP
//! backpressure (`qos0_overflow = "wait"`) or by dropping and counting
//! (`"drop"`), QoS 1 and 2 by withholding acknowledgements; and the
//! connection lives throughout.

use std::path::Path;
use std::time::Duration;

use sansmqtt_faults::flood::{Flood, FloodOutcome};

const RUN: Duration = Duration::from_secs(5);
/// Growth of the client's resident memory allowed from 1.5 s to the end.
const GROWTH_KIB: u64 = 4 * 1024;

fn run(flood: &Flood) -> FloodOutcome {
    let exe = Path::new(env!("CARGO_BIN_EXE_sansmqtt-faults"));
    let o = flood.run(exe).expect("the flood runs");
    eprintln!("{flood:?}\n{o:?}");
    o
}

/// Memory flat after the first 1.5 s, and one connection throughout.
fn bounded_and_alive(o: &FloodOutcome) {
    let early = o.rss.at(Duration::from_millis(1_500));
    let end = o.rss.end();
    assert!(early > 0 && end > 0, "the client's memory was sampled");
    assert!(
        end < early + GROWTH_KIB,
        "resident memory grew from {early} KiB at 1.5 s to {end} KiB"
    );
    assert_eq!(o.broker.connections, 1, "the connection stayed up");
    assert_eq!(o.client.errors, 0, "no connection lost");
    assert!(o.client.received > 100, "the application took messages");
}

/// The broker sent many times what the application took: a flood.
fn flooded(o: &FloodOutcome, times: u64) {
    assert!(
        o.broker.sent > times * o.client.received,
        "sent {} for {} taken",
        o.broker.sent,
        o.client.received
    );
}

#[test]
fn qos0_wait_stops_reading_and_loses_nothing() {
    let o = run(&Flood::new(0, RUN));
    bounded_and_alive(&o);
    flooded(&o, 10);
    assert_eq!(o.client.dropped, 0);
    assert_eq!(o.client.repeats, 0);
    assert_eq!(
        o.client.last, o.client.received,
        "every number up to the last taken"
    );
}

#[test]
fn qos0_drop_drops_counts_and_keeps_memory_flat() {
    let mut f = Flood::new(0, RUN);
    f.drop = true;
    let o = run(&f);
    bounded_and_alive(&o);
    let c = &o.client;
    // Reading never stops: the broker sends far more than the few MiB of
    // memory growth allowed.
    assert!(
        o.broker.sent_bytes > 4 * GROWTH_KIB * 1024,
        "sent {} bytes",
        o.broker.sent_bytes
    );
    assert!(c.dropped > 0, "a full stream drops QoS 0 copies");
    assert_eq!(c.repeats, 0);
    // Every number below the last taken was either taken or dropped and
    // counted; nothing was counted that was not sent.
    assert!(
        c.dropped >= c.last - c.received,
        "{c:?}: skipped numbers not all counted"
    );
    assert!(c.received + c.dropped <= o.broker.sent, "{c:?}");
}

/// QoS 1 and 2: the acknowledgements (`acks`: PUBACK, or PUBREC) follow
/// the application, at most a full stream (1,024) ahead of it; the
/// broker's window is what it sent and the client withheld.
fn acks_withheld(o: &FloodOutcome, acks: u64) {
    let (b, c) = (&o.broker, &o.client);
    let stream = sansmqtt_tokio::DELIVERY_QUEUE as u64;
    assert!(
        acks >= c.received && acks <= c.received + stream + 2,
        "acks {acks} for {} taken",
        c.received
    );
    // In flight: what the broker wrote and was not acknowledged, plus the
    // batch its blocked write still holds (counted sent once written; at
    // most 32 KiB of PUBLISHes).
    let written = b.sent - b.acks;
    assert!(
        b.in_flight >= written && b.in_flight - written <= 32 * 1024 / 8,
        "{b:?}"
    );
    assert!(b.in_flight > stream, "the broker's window filled: {b:?}");
    assert_eq!(b.unexpected, 0, "{b:?}");
    assert_eq!(c.repeats, 0, "nothing twice, nothing out of order");
    assert_eq!(c.last, c.received);
}

#[test]
fn qos1_withholds_acknowledgements() {
    let o = run(&Flood::new(1, RUN));
    bounded_and_alive(&o);
    flooded(&o, 10);
    acks_withheld(&o, o.broker.acks);
    assert_eq!(o.broker.pubrecs, 0);
}

#[test]
fn qos2_withholds_pubrec_and_delivers_once() {
    let o = run(&Flood::new(2, RUN));
    bounded_and_alive(&o);
    flooded(&o, 10);
    acks_withheld(&o, o.broker.pubrecs);
    // PUBREC is the acknowledgement withheld. The broker's PUBRELs queue
    // behind its flood in the full socket, so few PUBCOMPs come back yet.
    let b = &o.broker;
    assert!(b.acks <= b.pubrecs, "{b:?}");
}

/// MQTT 5 with a Receive Maximum: the broker keeps within it, and the
/// client's window is what it announced.
#[test]
fn mqtt5_receive_maximum_bounds_the_window() {
    let mut f = Flood::new(1, RUN);
    f.version = 5;
    f.receive_maximum = Some(100);
    let o = run(&f);
    bounded_and_alive(&o);
    let b = &o.broker;
    assert_eq!(b.receive_maximum, Some(100));
    assert_eq!(b.max_in_flight, 100);
    assert_eq!(o.client.repeats, 0);
}

/// Reading stops behind the full stream, so the broker's PINGRESP waits
/// unread behind the flood: the keep-alive verdict waits too (the session's
/// input is paused), and the connection lives through many keep-alive
/// intervals (before: closed with PingTimeout every ~keep-alive).
#[test]
fn a_flooded_slow_consumer_keeps_its_connection_past_the_keep_alive() {
    let mut f = Flood::new(1, Duration::from_secs(8));
    f.keep_alive = Some(2);
    let o = run(&f);
    // One connection through four keep-alive intervals of unread input.
    bounded_and_alive(&o);
    flooded(&o, 10);
}
