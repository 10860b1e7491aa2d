//! Smoke test of the harness: connect, publish QoS 1, PUBACK.

mod common;

use common::*;
use sansmqtt_proto::{Packet, ProtocolVersion, PubAck, QoS};
use sansmqtt_session::Event;

#[test]
fn qos1_round_trip() {
    let mut h = Harness::new(options(ProtocolVersion::V3_1_1));
    h.connect(false);
    let token = h
        .session
        .publish(msg("a/b", b"x", QoS::AtLeastOnce), h.now)
        .unwrap();
    let sent = h.sent();
    let [Packet::Publish(p)] = &sent[..] else {
        panic!("{sent:?}")
    };
    assert_eq!(p.packet_id, Some(pid(1)));
    h.receive(PubAck::new(pid(1)));
    let events = h.events();
    assert!(matches!(&events[..], [Event::Published { token: t, result: Ok(_) }] if *t == token));
}
