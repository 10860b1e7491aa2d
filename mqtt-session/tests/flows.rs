//! Deterministic scenario tests of the session's message flows: outgoing and
//! incoming QoS 0/1/2, manual acknowledgement, inbound topic aliases,
//! subscribe/unsubscribe, redelivery after reconnect, the session store,
//! `abandon` and the zero-copy transmit path. Simulated time only; wire bytes
//! are checked exactly where the specification fixes them.
//!
//! Normative statement ids: 3.1.1 ids are written `[MQTT-x.y.z-n] (3.1.1)`,
//! 5.0 ids `[MQTT-x.y.z-n] (5.0)`; where both versions number a rule the same
//! no version is given.

mod common;

use std::num::NonZeroU16;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use sansmqtt_proto::{
    ConnAck, ConnectReason, Packet, PacketId, ProtocolVersion, PubAck, PubAckReason, PubComp,
    PubCompReason, PubRec, PubRecReason, PubRel, PubRelReason, Publish, QoS, RetainHandling,
    SubAck, SubAckReason, SubscribeProperties, SubscriptionId, SubscriptionOptions, TopicName,
    UnsubAck, UnsubAckReason, UnsubscribeProperties,
};
use sansmqtt_session::{
    AckError, CloseReason, Event, MemoryStore, ProtocolError, PublishDone, PublishError,
    RequestError, Session, SessionLossPolicy, SessionOptions, SessionStore, Token,
};

const V3: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;
const BOTH: [ProtocolVersion; 2] = [V3, V5];

// ------------------------------------------------------------------ helpers

/// A connected session (clean start) of `version`.
fn connected(version: ProtocolVersion) -> Harness {
    connected_with(options(version))
}

fn connected_with(options: SessionOptions) -> Harness {
    let mut h = Harness::new(options);
    assert!(h.connect(false).is_empty());
    h
}

/// Options of a session that can be resumed (clean start = 0).
fn resumable(version: ProtocolVersion) -> SessionOptions {
    let mut o = options(version);
    o.clean_start = false;
    o
}

/// The transport drops; then a new connection gets CONNACK with
/// `session_present`. Returns the events of the reconnect (the `Closed` of
/// the loss excluded) and what was transmitted after CONNECT.
fn lose_and_reconnect<S: SessionStore>(
    h: &mut Harness<S>,
    session_present: bool,
) -> (Vec<Event>, Vec<Packet>) {
    h.session.connection_lost(h.now);
    let closed = h.events();
    assert!(
        closed.contains(&Event::Closed(CloseReason::ConnectionLost)),
        "{closed:?}"
    );
    h.advance(Duration::from_secs(1));
    h.session.connect(h.now).expect("connect");
    let sent = h.sent();
    assert!(matches!(&sent[..], [Packet::Connect(_)]), "{sent:?}");
    h.receive(ConnAck::new(session_present, ConnectReason::Success));
    (h.events(), h.sent())
}

fn publish<S: SessionStore>(
    h: &mut Harness<S>,
    t: &str,
    payload: &'static [u8],
    qos: QoS,
) -> Token {
    h.session
        .publish(msg(t, payload, qos), h.now)
        .expect("publish")
}

fn ok(token: Token, qos: QoS) -> Event {
    Event::Published {
        token,
        result: Ok(PublishDone { qos, reason: None }),
    }
}

fn failed(token: Token, error: PublishError) -> Event {
    Event::Published {
        token,
        result: Err(error),
    }
}

/// The single PUBLISH in `sent`.
fn one_publish(sent: &[Packet]) -> Publish {
    match sent {
        [Packet::Publish(p)] => p.clone(),
        other => panic!("expected one PUBLISH, got {other:?}"),
    }
}

/// The packet identifiers of the PUBLISHes in `sent`.
fn publish_ids(sent: &[Packet]) -> Vec<u16> {
    sent.iter()
        .map(|p| match p {
            Packet::Publish(p) => p.packet_id.map_or(0, PacketId::get),
            other => panic!("expected PUBLISH, got {other:?}"),
        })
        .collect()
}

fn payloads(sent: &[Packet]) -> Vec<Bytes> {
    sent.iter()
        .map(|p| match p {
            Packet::Publish(p) => p.payload.clone(),
            other => panic!("expected PUBLISH, got {other:?}"),
        })
        .collect()
}

fn incoming(t: &str, payload: &'static [u8], qos: QoS, id: u16) -> Publish {
    if qos == QoS::AtMostOnce {
        Publish::at_most_once(topic(t), Bytes::from_static(payload))
    } else {
        Publish::with_qos(topic(t), Bytes::from_static(payload), qos, pid(id))
    }
}

fn dup(mut p: Publish) -> Publish {
    p.dup = true;
    p
}

/// The messages among `events`.
fn messages(events: &[Event]) -> Vec<sansmqtt_session::Message> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// The message delivered by `events`, which must be exactly one message.
fn one_message(events: &[Event]) -> sansmqtt_session::Message {
    match events {
        [Event::Message(m)] => m.clone(),
        other => panic!("expected one message, got {other:?}"),
    }
}

// ------------------------------------------------------ outgoing publishing

/// QoS 0 goes out at once, without packet identifier [MQTT-2.3.1-5] (3.1.1)
/// / [MQTT-2.2.1-2] (5.0), DUP 0 [MQTT-3.3.1-2], and completes when handed
/// to the transmit queue.
#[test]
fn outgoing_qos0_sent_at_once_and_published() {
    for (version, expected) in [
        (V3, &[0x30, 0x06, 0x00, 0x03, b'a', b'/', b'b', b'x'][..]),
        (
            V5,
            &[0x30, 0x07, 0x00, 0x03, b'a', b'/', b'b', 0x00, b'x'][..],
        ),
    ] {
        let mut h = connected(version);
        // What the caller sets in DUP or the packet identifier is ignored.
        let mut p = msg("a/b", b"x", QoS::AtMostOnce);
        p.dup = true;
        let token = h.session.publish(p, h.now).unwrap();
        assert_eq!(h.sent_bytes(), expected, "{version:?}");
        assert_eq!(h.events(), [ok(token, QoS::AtMostOnce)]);
        assert_eq!(h.session.inflight(), 0);
    }
}

/// QoS 1: PUBLISH with a packet identifier and DUP 0, complete on PUBACK
/// [MQTT-4.3.2-1] (3.1.1) / [MQTT-4.3.2-1, MQTT-4.3.2-2, MQTT-4.3.2-3] (5.0).
#[test]
fn outgoing_qos1_publish_puback() {
    for (version, expected) in [
        (
            V3,
            &[
                0x32, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x01, b'h', b'i',
            ][..],
        ),
        (
            V5,
            &[
                0x32, 0x0a, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x01, 0x00, b'h', b'i',
            ][..],
        ),
    ] {
        let mut h = connected(version);
        let token = publish(&mut h, "a/b", b"hi", QoS::AtLeastOnce);
        assert_eq!(h.sent_bytes(), expected, "{version:?}");
        assert!(h.events().is_empty(), "unacknowledged until PUBACK");
        assert_eq!(h.session.inflight(), 1);
        h.advance(Duration::from_millis(5));
        h.receive(PubAck::new(pid(1)));
        assert_eq!(h.events(), [ok(token, QoS::AtLeastOnce)]);
        assert!(h.sent().is_empty());
        assert_eq!(h.session.inflight(), 0);
    }
}

/// QoS 2: PUBLISH, PUBREC, PUBREL (0x62 0x02 id [MQTT-3.6.1-1]), PUBCOMP
/// [MQTT-4.3.3-1] (3.1.1) / [MQTT-4.3.3-1 .. MQTT-4.3.3-5] (5.0); the
/// PUBREL carries the PUBLISH's identifier [MQTT-2.3.1-6] (3.1.1) /
/// [MQTT-2.2.1-5] (5.0).
#[test]
fn outgoing_qos2_publish_pubrec_pubrel_pubcomp() {
    for (version, expected) in [
        (
            V3,
            &[
                0x34, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x01, b'h', b'i',
            ][..],
        ),
        (
            V5,
            &[
                0x34, 0x0a, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x01, 0x00, b'h', b'i',
            ][..],
        ),
    ] {
        let mut h = connected(version);
        let token = publish(&mut h, "a/b", b"hi", QoS::ExactlyOnce);
        assert_eq!(h.sent_bytes(), expected, "{version:?}");
        h.receive(PubRec::new(pid(1)));
        assert_eq!(h.sent_bytes(), [0x62, 0x02, 0x00, 0x01], "{version:?}");
        assert!(h.events().is_empty(), "unacknowledged until PUBCOMP");
        assert_eq!(h.session.inflight(), 1);
        h.receive(PubComp::new(pid(1)));
        assert_eq!(h.events(), [ok(token, QoS::ExactlyOnce)]);
        assert!(h.sent().is_empty());
        assert_eq!(h.session.inflight(), 0);
    }
}

/// A publish made before CONNACK waits and goes out after it.
#[test]
fn outgoing_publish_before_connack_waits() {
    for version in BOTH {
        let mut h = Harness::new(options(version));
        let token = publish(&mut h, "a", b"1", QoS::AtLeastOnce);
        h.session.connect(h.now).unwrap();
        let sent = h.sent();
        assert!(matches!(&sent[..], [Packet::Connect(_)]), "{sent:?}");
        assert_eq!(h.session.queued(), 1);
        h.receive(ConnAck::new(false, ConnectReason::Success));
        assert!(matches!(&h.events()[..], [Event::Connected(_)]));
        let p = one_publish(&h.sent());
        assert_eq!(p.packet_id, Some(pid(1)));
        assert!(!p.dup);
        h.receive(PubAck::new(pid(1)));
        assert_eq!(h.events(), [ok(token, QoS::AtLeastOnce)]);
    }
}

/// Packet identifiers in use are never handed out again [MQTT-2.3.1-2]
/// (3.1.1) / [MQTT-2.2.1-3] (5.0): a publish that stays unacknowledged and a
/// pending SUBSCRIBE keep theirs while hundreds of others cycle through the
/// identifier window.
#[test]
fn packet_ids_never_reused_while_in_flight() {
    for version in BOTH {
        let mut o = options(version);
        o.max_inflight = 3;
        let mut h = connected_with(o);
        let stuck = publish(&mut h, "stuck", b"", QoS::ExactlyOnce);
        let stuck_id = one_publish(&h.sent()).packet_id.unwrap();
        h.receive(PubRec::new(stuck_id));
        h.sent(); // PUBREL; the identifier stays in use until PUBCOMP.
        let sub = h
            .session
            .subscribe(
                vec![(filter("s/#"), SubscriptionOptions::qos(QoS::AtLeastOnce))],
                SubscribeProperties::default(),
                h.now,
            )
            .unwrap();
        let sent = h.sent();
        let [Packet::Subscribe(s)] = &sent[..] else {
            panic!("{sent:?}")
        };
        let sub_id = s.packet_id;
        assert_ne!(sub_id, stuck_id);

        let mut previous = None;
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..500u32 {
            // One at a time next to the stuck one, QoS 1 and 2 alternating.
            let qos = if i % 2 == 0 {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            };
            publish(&mut h, "c", b"", qos);
            let id = one_publish(&h.sent()).packet_id.unwrap();
            assert_ne!(id, stuck_id, "{version:?}: in-flight id reused at {i}");
            assert_ne!(id, sub_id, "{version:?}: SUBSCRIBE id reused at {i}");
            assert_ne!(Some(id), previous, "just released id handed out again");
            seen.insert(id.get());
            if qos == QoS::AtLeastOnce {
                h.receive(PubAck::new(id));
            } else {
                h.receive(PubRec::new(id));
                h.sent();
                h.receive(PubComp::new(id));
            }
            previous = Some(id);
        }
        assert!(seen.len() > 10, "the cursor cycles through the window");
        // The stuck flows end normally.
        h.receive(PubComp::new(stuck_id));
        h.receive(SubAck {
            packet_id: sub_id,
            reasons: vec![SubAckReason::GrantedQoS1],
            properties: Default::default(),
        });
        let events = h.events();
        assert!(events.contains(&ok(stuck, QoS::ExactlyOnce)));
        assert!(
            events.iter().any(
                |e| matches!(e, Event::Subscribed { token, result: Ok(_), .. } if *token == sub)
            )
        );
    }
}

/// An identifier is free again once its flow is acknowledged
/// [MQTT-2.3.1-2] (3.1.1) / [MQTT-2.2.1-3] (5.0): with nothing in flight the
/// session starts again from 1, so a client that publishes one message at a
/// time keeps one in-flight slot (memory per connection stays small).
#[test]
fn packet_ids_start_again_from_one_when_nothing_is_in_flight() {
    for version in BOTH {
        let mut h = connected(version);
        for _ in 0..3 {
            publish(&mut h, "a", b"", QoS::AtLeastOnce);
            let id = one_publish(&h.sent()).packet_id.unwrap();
            assert_eq!(id, pid(1));
            h.receive(PubAck::new(id));
        }
        // One in flight: the next one takes another identifier.
        publish(&mut h, "a", b"", QoS::ExactlyOnce);
        publish(&mut h, "a", b"", QoS::AtLeastOnce);
        assert_eq!(publish_ids(&h.sent()), [1, 2]);
    }
}

/// At most `max_inflight` QoS > 0 publishes await acknowledgement; the next
/// ones wait in a FIFO queue and go out, in order, as acknowledgements free
/// slots. A QoS 0 publish behind them waits its turn too (FIFO).
#[test]
fn max_inflight_queues_in_order() {
    for version in BOTH {
        let mut o = options(version);
        o.max_inflight = 2;
        let mut h = connected_with(o);
        let t1 = publish(&mut h, "q", b"1", QoS::AtLeastOnce);
        let t2 = publish(&mut h, "q", b"2", QoS::ExactlyOnce);
        let t3 = publish(&mut h, "q", b"3", QoS::AtLeastOnce);
        let t4 = publish(&mut h, "q", b"4", QoS::AtMostOnce);
        let t5 = publish(&mut h, "q", b"5", QoS::AtLeastOnce);
        let sent = h.sent();
        assert_eq!(payloads(&sent), ["1", "2"]);
        assert_eq!(publish_ids(&sent), [1, 2]);
        assert_eq!(h.session.inflight(), 2);
        assert_eq!(h.session.queued(), 3);
        assert!(h.events().is_empty());

        // The QoS 2 flow keeps its slot through PUBREC.
        h.receive(PubRec::new(pid(2)));
        assert!(matches!(&h.sent()[..], [Packet::PubRel(_)]));
        assert_eq!(h.session.queued(), 3);

        // PUBACK of 1 frees a slot: 3 goes out, then 4 (QoS 0, no slot
        // needed), and 5 waits again.
        h.receive(PubAck::new(pid(1)));
        let sent = h.sent();
        assert_eq!(payloads(&sent), ["3", "4"]);
        assert_eq!(
            h.events(),
            [ok(t1, QoS::AtLeastOnce), ok(t4, QoS::AtMostOnce)]
        );
        assert_eq!(h.session.queued(), 1);
        let id3 = publish_ids(&sent)[0];

        h.receive(PubComp::new(pid(2)));
        let sent = h.sent();
        assert_eq!(payloads(&sent), ["5"]);
        let id5 = publish_ids(&sent)[0];
        assert_eq!(h.events(), [ok(t2, QoS::ExactlyOnce)]);
        h.receive(PubAck::new(pid(id5)));
        h.receive(PubAck::new(pid(id3)));
        assert_eq!(
            h.events(),
            [ok(t5, QoS::AtLeastOnce), ok(t3, QoS::AtLeastOnce)]
        );
        assert_eq!((h.session.inflight(), h.session.queued()), (0, 0));
    }
}

/// MQTT 5: the broker's Receive Maximum lowers the in-flight limit
/// [MQTT-3.3.4-7] (5.0); other packets are not held back by it
/// [MQTT-3.3.4-8] (5.0).
#[test]
fn v5_server_receive_maximum_limits_inflight() {
    let mut h = Harness::new(options(V5));
    h.session.connect(h.now).unwrap();
    h.sent();
    let mut ack = ConnAck::new(false, ConnectReason::Success);
    ack.properties.receive_maximum = NonZeroU16::new(1);
    h.receive(ack);
    h.events();
    assert_eq!(h.session.inflight_limit(), 1);
    let t1 = publish(&mut h, "a", b"1", QoS::ExactlyOnce);
    let t2 = publish(&mut h, "a", b"2", QoS::AtLeastOnce);
    assert_eq!(payloads(&h.sent()), ["1"]);
    // SUBSCRIBE is not delayed.
    h.session
        .subscribe(
            vec![(filter("x"), SubscriptionOptions::default())],
            SubscribeProperties::default(),
            h.now,
        )
        .unwrap();
    assert!(matches!(&h.sent()[..], [Packet::Subscribe(_)]));
    // A PUBREC >= 0x80 acknowledges the PUBLISH and frees the quota.
    h.receive(PubRec::with_reason(pid(1), PubRecReason::QuotaExceeded));
    assert_eq!(
        h.events(),
        [failed(
            t1,
            PublishError::RefusedPubRec(PubRecReason::QuotaExceeded)
        )]
    );
    assert_eq!(payloads(&h.sent()), ["2"]);
    let _ = t2;
}

/// MQTT 5: the Receive Maximum of the new connection also bounds the
/// PUBLISHes resent on a resumed session [MQTT-3.3.4-7, MQTT-4.9.0-2] (5.0)
/// (the send quota is not carried over from the old connection): beyond it
/// they wait, in order, and are resent (DUP, same identifier) as
/// acknowledgements free the quota; PUBREL is not held back [MQTT-3.3.4-8,
/// MQTT-4.9.0-3] (5.0); a held-back flow the broker acknowledges anyway is not resent;
/// new publishes come after the resends.
#[test]
fn v5_resume_respects_the_new_receive_maximum() {
    let mut h = connected_with(resumable(V5));
    let t1 = publish(&mut h, "a", b"1", QoS::AtLeastOnce);
    let t2 = publish(&mut h, "a", b"2", QoS::ExactlyOnce);
    let t3 = publish(&mut h, "a", b"3", QoS::ExactlyOnce);
    let t4 = publish(&mut h, "a", b"4", QoS::AtLeastOnce);
    let t5 = publish(&mut h, "a", b"5", QoS::AtLeastOnce);
    h.sent();
    h.receive(PubRec::new(pid(2)));
    h.sent();
    h.session.connection_lost(h.now);
    let t6 = publish(&mut h, "a", b"6", QoS::AtLeastOnce);
    h.session.connect(h.now).unwrap();
    h.sent();
    let mut ack = ConnAck::new(true, ConnectReason::Success);
    ack.properties.receive_maximum = NonZeroU16::new(2);
    h.receive(ack);
    h.events();
    let sent = h.sent();
    let summary: Vec<_> = sent
        .iter()
        .map(|p| match p {
            Packet::Publish(p) => (p.packet_id.unwrap().get(), p.dup),
            Packet::PubRel(r) => (r.packet_id.get() + 100, false),
            other => panic!("{other:?}"),
        })
        .collect();
    // PUBLISH 1, PUBREL 2, PUBLISH 3; 4 and 5 wait.
    assert_eq!(summary, [(1, true), (102, false), (3, true)]);

    // Released flows still count against our window: PUBACK 1 alone does
    // not let 4 go (a conservative reading of the quota).
    h.receive(PubAck::new(pid(1)));
    assert!(h.sent().is_empty());
    h.receive(PubComp::new(pid(2)));
    let p = one_publish(&h.sent());
    assert_eq!(
        (p.packet_id, p.dup, p.payload),
        (Some(pid(4)), true, Bytes::from_static(b"4"))
    );
    // The broker acknowledges 5 although it was not resent yet.
    h.receive(PubAck::new(pid(5)));
    assert!(h.sent().is_empty(), "5 is complete, 6 waits for the quota");
    h.receive(PubRec::new(pid(3)));
    assert_eq!(h.sent(), [Packet::PubRel(PubRel::new(pid(3)))]);
    h.receive(PubComp::new(pid(3)));
    let p = one_publish(&h.sent());
    assert_eq!((p.dup, p.payload), (false, Bytes::from_static(b"6")));
    h.receive(PubAck::new(pid(4)));
    h.receive(PubAck::new(p.packet_id.unwrap()));
    assert_eq!(
        h.events(),
        [
            ok(t1, QoS::AtLeastOnce),
            ok(t2, QoS::ExactlyOnce),
            ok(t5, QoS::AtLeastOnce),
            ok(t3, QoS::ExactlyOnce),
            ok(t4, QoS::AtLeastOnce),
            ok(t6, QoS::AtLeastOnce),
        ]
    );
    assert_eq!(h.session.inflight(), 0);
}

/// The waiting queue is bounded: beyond `max_queued` a publish fails at once
/// with `QueueFull`, connected or not.
#[test]
fn bounded_queue_gives_queue_full() {
    for version in BOTH {
        let mut o = options(version);
        o.max_inflight = 1;
        o.max_queued = 2;
        let mut h = connected_with(o.clone());
        publish(&mut h, "a", b"1", QoS::AtLeastOnce); // in flight
        publish(&mut h, "a", b"2", QoS::AtLeastOnce); // queued
        publish(&mut h, "a", b"3", QoS::AtMostOnce); // queued behind
        assert_eq!(
            h.session.publish(msg("a", b"4", QoS::AtLeastOnce), h.now),
            Err(PublishError::QueueFull(2))
        );
        assert_eq!(
            h.session.publish(msg("a", b"5", QoS::AtMostOnce), h.now),
            Err(PublishError::QueueFull(2))
        );
        assert_eq!(payloads(&h.sent()), ["1"]);
        // An acknowledgement makes room again.
        h.receive(PubAck::new(pid(1)));
        assert_eq!(payloads(&h.sent()), ["2", "3"]);
        publish(&mut h, "a", b"6", QoS::AtLeastOnce);
        assert_eq!(h.session.queued(), 1);

        // Disconnected, everything waits in the same bounded queue.
        let mut h = Harness::new(o);
        publish(&mut h, "a", b"1", QoS::AtMostOnce);
        publish(&mut h, "a", b"2", QoS::AtLeastOnce);
        assert_eq!(
            h.session.publish(msg("a", b"3", QoS::AtLeastOnce), h.now),
            Err(PublishError::QueueFull(2))
        );
    }
}

/// `max_queued` bounds the publishes that wait; with room in flight and
/// nothing waiting, a publish does not wait and is not refused, even with
/// `max_queued = 0`.
#[test]
fn max_queued_zero_still_sends_when_a_slot_is_free() {
    for version in BOTH {
        let mut o = options(version);
        o.max_inflight = 1;
        o.max_queued = 0;
        let mut h = connected_with(o);
        let t0 = publish(&mut h, "a", b"0", QoS::AtMostOnce);
        let t1 = publish(&mut h, "a", b"1", QoS::AtLeastOnce);
        assert_eq!(payloads(&h.sent()), ["0", "1"]);
        assert_eq!(h.events(), [ok(t0, QoS::AtMostOnce)]);
        // The window is full: this one would have to wait.
        assert_eq!(
            h.session.publish(msg("a", b"2", QoS::AtLeastOnce), h.now),
            Err(PublishError::QueueFull(0))
        );
        // QoS 0 does not need a slot.
        let t3 = publish(&mut h, "a", b"3", QoS::AtMostOnce);
        assert_eq!(payloads(&h.sent()), ["3"]);
        assert_eq!(h.events(), [ok(t3, QoS::AtMostOnce)]);
        h.receive(PubAck::new(pid(1)));
        assert_eq!(h.events(), [ok(t1, QoS::AtLeastOnce)]);
    }
}

/// MQTT 5: PUBACK with a reason >= 0x80 fails the publish; the PUBLISH
/// counts as acknowledged and is not retransmitted, even on a resumed
/// session [MQTT-4.4.0-2] (5.0).
#[test]
fn v5_puback_error_reason_fails_the_publish() {
    let mut h = connected_with(resumable(V5));
    let token = publish(&mut h, "a", b"x", QoS::AtLeastOnce);
    h.sent();
    h.receive(PubAck::with_reason(pid(1), PubAckReason::NotAuthorized));
    assert_eq!(
        h.events(),
        [failed(
            token,
            PublishError::RefusedPubAck(PubAckReason::NotAuthorized)
        )]
    );
    assert_eq!(h.session.inflight(), 0);
    assert!(h.sent().is_empty());
    let (events, sent) = lose_and_reconnect(&mut h, true);
    assert!(matches!(&events[..], [Event::Connected(_)]), "{events:?}");
    assert!(sent.is_empty(), "not retransmitted: {sent:?}");
}

/// MQTT 5: a PUBACK reason below 0x80 (No matching subscribers) is a
/// success, reported with the result.
#[test]
fn v5_puback_no_matching_subscribers_succeeds_with_reason() {
    let mut h = connected(V5);
    let token = publish(&mut h, "a", b"x", QoS::AtLeastOnce);
    h.sent();
    h.receive(PubAck::with_reason(
        pid(1),
        PubAckReason::NoMatchingSubscribers,
    ));
    assert_eq!(
        h.events(),
        [Event::Published {
            token,
            result: Ok(PublishDone {
                qos: QoS::AtLeastOnce,
                reason: Some(PubAckReason::NoMatchingSubscribers),
            }),
        }]
    );
}

/// MQTT 5: PUBREC >= 0x80 ends the QoS 2 flow without PUBREL
/// [MQTT-4.3.3-4] (5.0) and the PUBLISH is not retransmitted
/// [MQTT-4.4.0-2] (5.0); PUBREC 0x10 continues normally.
#[test]
fn v5_pubrec_error_ends_the_flow_without_pubrel() {
    let mut h = connected_with(resumable(V5));
    let refused = publish(&mut h, "a", b"x", QoS::ExactlyOnce);
    let fine = publish(&mut h, "a", b"y", QoS::ExactlyOnce);
    assert_eq!(publish_ids(&h.sent()), [1, 2]);
    h.receive(PubRec::with_reason(pid(1), PubRecReason::NotAuthorized));
    assert!(h.sent().is_empty(), "no PUBREL for a refused PUBREC");
    assert_eq!(
        h.events(),
        [failed(
            refused,
            PublishError::RefusedPubRec(PubRecReason::NotAuthorized)
        )]
    );
    h.receive(PubRec::with_reason(
        pid(2),
        PubRecReason::NoMatchingSubscribers,
    ));
    assert_eq!(h.sent_bytes(), [0x62, 0x02, 0x00, 0x02]);
    h.receive(PubComp::new(pid(2)));
    assert_eq!(h.events(), [ok(fine, QoS::ExactlyOnce)]);
    let (_, sent) = lose_and_reconnect(&mut h, true);
    assert!(sent.is_empty(), "{sent:?}");
}

/// A PUBREC for an identifier with no QoS 2 flow still gets a PUBREL, so
/// that the broker can end its state: plain in 3.1.1, reason 0x92 (Packet
/// Identifier not found) in 5.0.
#[test]
fn pubrec_for_unknown_id_gets_pubrel() {
    let mut h = connected(V3);
    h.receive(PubRec::new(pid(7)));
    assert_eq!(h.sent_bytes(), [0x62, 0x02, 0x00, 0x07]);
    assert!(h.events().is_empty());

    let mut h = connected(V5);
    h.receive(PubRec::new(pid(7)));
    assert_eq!(h.sent_bytes(), [0x62, 0x03, 0x00, 0x07, 0x92]);
    assert_eq!(h.sent(), [] as [Packet; 0], "nothing else is sent for it");
    assert!(h.events().is_empty());
    // Decoded: PUBREL with PacketIdentifierNotFound.
    h.receive(PubRec::new(pid(8)));
    assert_eq!(
        h.sent(),
        [Packet::PubRel(PubRel::with_reason(
            pid(8),
            PubRelReason::PacketIdentifierNotFound
        ))]
    );
}

/// A repeated PUBREC (e.g. our PUBREL was lost) gets the PUBREL again; the
/// flow still completes once.
#[test]
fn duplicate_pubrec_resends_pubrel() {
    for version in BOTH {
        let mut h = connected(version);
        let token = publish(&mut h, "a", b"x", QoS::ExactlyOnce);
        h.sent();
        h.receive(PubRec::new(pid(1)));
        assert_eq!(h.sent_bytes(), [0x62, 0x02, 0x00, 0x01]);
        h.receive(PubRec::new(pid(1)));
        assert_eq!(h.sent_bytes(), [0x62, 0x02, 0x00, 0x01]);
        assert!(h.events().is_empty());
        h.receive(PubComp::new(pid(1)));
        h.receive(PubComp::new(pid(1)));
        assert_eq!(h.events(), [ok(token, QoS::ExactlyOnce)]);
    }
}

/// PUBACK and PUBCOMP for identifiers with no matching flow (unknown, or of
/// the other QoS, or PUBCOMP before PUBREC) are ignored.
#[test]
fn puback_and_pubcomp_for_unknown_ids_are_ignored() {
    for version in BOTH {
        let mut h = connected(version);
        let q1 = publish(&mut h, "a", b"1", QoS::AtLeastOnce);
        let q2 = publish(&mut h, "a", b"2", QoS::ExactlyOnce);
        assert_eq!(publish_ids(&h.sent()), [1, 2]);
        h.receive(PubAck::new(pid(9)));
        h.receive(PubComp::new(pid(9)));
        h.receive(PubAck::new(pid(2))); // the QoS 2 flow
        h.receive(PubComp::new(pid(2))); // before PUBREC
        h.receive(PubComp::new(pid(1))); // the QoS 1 flow
        assert!(h.events().is_empty());
        assert!(h.sent().is_empty());
        assert_eq!(h.session.inflight(), 2);
        assert!(h.session.is_connected());
        h.receive(PubAck::new(pid(1)));
        h.receive(PubRec::new(pid(2)));
        h.receive(PubComp::new(pid(2)));
        assert_eq!(
            h.events(),
            [ok(q1, QoS::AtLeastOnce), ok(q2, QoS::ExactlyOnce)]
        );
    }
}

// ------------------------------------------------------ incoming publishing

/// QoS 0 is delivered and not acknowledged.
#[test]
fn incoming_qos0_delivered() {
    for version in BOTH {
        let mut h = connected(version);
        let p = incoming("x/y", b"m", QoS::AtMostOnce, 0);
        h.receive(p.clone());
        let m = one_message(&h.events());
        assert_eq!((m.publish, m.ack), (p, None));
        assert!(h.sent().is_empty());
    }
}

/// QoS 1 is delivered, then PUBACK with the PUBLISH's identifier
/// [MQTT-4.3.2-2] (3.1.1) / [MQTT-4.3.2-4] (5.0).
#[test]
fn incoming_qos1_delivered_then_puback() {
    for version in BOTH {
        let mut h = connected(version);
        let p = incoming("x/y", b"m", QoS::AtLeastOnce, 0x0105);
        h.receive(p.clone());
        let m = one_message(&h.events());
        assert_eq!((m.publish, m.ack), (p, None));
        assert_eq!(h.sent_bytes(), [0x40, 0x02, 0x01, 0x05]);
    }
}

/// After PUBACK, a PUBLISH with the same identifier is a new message,
/// whatever its DUP flag [MQTT-4.3.2-5] (5.0).
#[test]
fn incoming_qos1_same_id_after_puback_is_new() {
    for version in BOTH {
        let mut h = connected(version);
        h.receive(incoming("t", b"1", QoS::AtLeastOnce, 3));
        h.receive(dup(incoming("t", b"1", QoS::AtLeastOnce, 3)));
        h.receive(incoming("t", b"2", QoS::AtLeastOnce, 3));
        let got: Vec<_> = messages(&h.events())
            .into_iter()
            .map(|m| m.publish.payload)
            .collect();
        assert_eq!(got, ["1", "1", "2"]);
        assert_eq!(
            h.sent(),
            vec![Packet::PubAck(PubAck::new(pid(3))); 3],
            "{version:?}"
        );
    }
}

/// QoS 2 (delivery on PUBLISH, "method B"): PUBREC; a resend with DUP before
/// PUBREL is acknowledged again but not delivered twice [MQTT-4.3.3-2]
/// (3.1.1) / [MQTT-4.3.3-8, MQTT-4.3.3-10] (5.0); PUBREL gets PUBCOMP
/// [MQTT-4.3.3-11] (5.0).
#[test]
fn incoming_qos2_delivered_exactly_once() {
    for version in BOTH {
        let mut h = connected(version);
        let p = incoming("x", b"once", QoS::ExactlyOnce, 9);
        h.receive(p.clone());
        let m = one_message(&h.events());
        assert_eq!((m.publish, m.ack), (p.clone(), None));
        assert_eq!(h.sent_bytes(), [0x50, 0x02, 0x00, 0x09]);

        h.receive(dup(p.clone()));
        h.receive(dup(p));
        assert!(h.events().is_empty(), "{version:?}: delivered twice");
        assert_eq!(
            h.sent_bytes(),
            [0x50, 0x02, 0x00, 0x09, 0x50, 0x02, 0x00, 0x09]
        );

        h.receive(PubRel::new(pid(9)));
        assert_eq!(h.sent_bytes(), [0x70, 0x02, 0x00, 0x09]);
        assert!(h.events().is_empty());
    }
}

/// PUBREL for an identifier with no QoS 2 flow (e.g. the PUBCOMP was lost)
/// still gets PUBCOMP [MQTT-4.3.3-2] (3.1.1) / [MQTT-4.3.3-11] (5.0), with
/// reason 0x92 (Packet Identifier not found) in 5.0.
#[test]
fn incoming_pubrel_for_unknown_id_gets_pubcomp() {
    let mut h = connected(V3);
    h.receive(PubRel::new(pid(4)));
    assert_eq!(h.sent_bytes(), [0x70, 0x02, 0x00, 0x04]);

    let mut h = connected(V5);
    h.receive(PubRel::new(pid(4)));
    assert_eq!(h.sent_bytes(), [0x70, 0x03, 0x00, 0x04, 0x92]);
    // A PUBREL repeated after the flow completed, likewise.
    h.receive(incoming("t", b"x", QoS::ExactlyOnce, 5));
    h.receive(PubRel::new(pid(5)));
    h.receive(PubRel::new(pid(5)));
    assert_eq!(
        h.sent(),
        [
            Packet::PubRec(PubRec::new(pid(5))),
            Packet::PubComp(PubComp::new(pid(5))),
            Packet::PubComp(PubComp::with_reason(
                pid(5),
                PubCompReason::PacketIdentifierNotFound
            )),
        ]
    );
    assert_eq!(messages(&h.events()).len(), 1);
}

/// After PUBCOMP a PUBLISH with the same identifier is a new message
/// [MQTT-4.3.3-2] (3.1.1) / [MQTT-4.3.3-12] (5.0).
#[test]
fn incoming_qos2_same_id_after_pubcomp_is_new() {
    for version in BOTH {
        let mut h = connected(version);
        h.receive(incoming("t", b"1", QoS::ExactlyOnce, 2));
        h.receive(PubRel::new(pid(2)));
        h.receive(incoming("t", b"2", QoS::ExactlyOnce, 2));
        let got: Vec<_> = messages(&h.events())
            .into_iter()
            .map(|m| m.publish.payload)
            .collect();
        assert_eq!(got, ["1", "2"]);
        assert_eq!(
            h.sent(),
            [
                Packet::PubRec(PubRec::new(pid(2))),
                Packet::PubComp(PubComp::new(pid(2))),
                Packet::PubRec(PubRec::new(pid(2))),
            ]
        );
    }
}

// ------------------------------------------------------- manual acknowledgement

fn manual(version: ProtocolVersion) -> SessionOptions {
    let mut o = resumable(version);
    o.manual_ack = true;
    o
}

/// With manual acknowledgement, QoS 1 and 2 messages carry an `AckId` and
/// the PUBACK / PUBREC waits for `ack`; QoS 0 carries none.
#[test]
fn manual_ack_waits_for_the_application() {
    for version in BOTH {
        let mut h = connected_with(manual(version));
        h.receive(incoming("t", b"0", QoS::AtMostOnce, 0));
        h.receive(incoming("t", b"1", QoS::AtLeastOnce, 1));
        h.receive(incoming("t", b"2", QoS::ExactlyOnce, 2));
        let m = messages(&h.events());
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].ack, None);
        let (a1, a2) = (m[1].ack.unwrap(), m[2].ack.unwrap());
        assert_ne!(a1, a2);
        h.advance(Duration::from_secs(5));
        assert!(h.sent().is_empty(), "no acknowledgement before ack()");

        h.session.ack(a1, h.now).unwrap();
        assert_eq!(h.sent_bytes(), [0x40, 0x02, 0x00, 0x01]);
        h.session.ack(a2, h.now).unwrap();
        assert_eq!(h.sent_bytes(), [0x50, 0x02, 0x00, 0x02]);
        h.receive(PubRel::new(pid(2)));
        assert_eq!(h.sent_bytes(), [0x70, 0x02, 0x00, 0x02]);
        assert!(h.events().is_empty());
    }
}

/// Acknowledgements go out in the order the PUBLISHes were received, whatever
/// the order of the `ack` calls: PUBACK [MQTT-4.6.0-2], PUBREC
/// [MQTT-4.6.0-3].
#[test]
fn manual_acks_go_out_in_order_of_receipt() {
    for version in BOTH {
        let mut h = connected_with(manual(version));
        h.receive(incoming("t", b"a", QoS::AtLeastOnce, 10));
        h.receive(incoming("t", b"b", QoS::ExactlyOnce, 11));
        h.receive(incoming("t", b"c", QoS::AtLeastOnce, 12));
        h.receive(incoming("t", b"d", QoS::ExactlyOnce, 13));
        let acks: Vec<_> = messages(&h.events())
            .into_iter()
            .map(|m| m.ack.unwrap())
            .collect();

        h.session.ack(acks[3], h.now).unwrap();
        h.session.ack(acks[2], h.now).unwrap();
        assert!(h.sent().is_empty(), "10 and 11 are not acknowledged yet");
        h.session.ack(acks[1], h.now).unwrap();
        assert!(h.sent().is_empty(), "10 is not acknowledged yet");
        h.session.ack(acks[0], h.now).unwrap();
        assert_eq!(
            h.sent(),
            [
                Packet::PubAck(PubAck::new(pid(10))),
                Packet::PubRec(PubRec::new(pid(11))),
                Packet::PubAck(PubAck::new(pid(12))),
                Packet::PubRec(PubRec::new(pid(13))),
            ],
            "{version:?}"
        );
    }
}

/// An `AckId` acknowledged already, or never issued, is refused with
/// `AckError::Unknown` and sends nothing.
#[test]
fn manual_ack_unknown_or_stale_ids() {
    for version in BOTH {
        let mut h = connected_with(manual(version));
        h.receive(incoming("t", b"a", QoS::AtLeastOnce, 1));
        let a = one_message(&h.events()).ack.unwrap();
        h.session.ack(a, h.now).unwrap();
        h.sent();
        assert_eq!(h.session.ack(a, h.now), Err(AckError::Unknown));
        // An id from another session was never issued by this one.
        let mut other = connected_with(manual(version));
        for i in 1..=3 {
            other.receive(incoming("t", b"x", QoS::AtLeastOnce, i));
        }
        let foreign = messages(&other.events()).last().unwrap().ack.unwrap();
        assert_eq!(h.session.ack(foreign, h.now), Err(AckError::Unknown));
        assert!(h.sent().is_empty());
    }
}

/// QoS 1 acknowledgements owed are void after the connection is lost: `ack`
/// refuses them and the broker redelivers the message (DUP), which gets a new
/// `AckId` and is acknowledged on the new connection.
#[test]
fn manual_ack_qos1_void_after_connection_loss() {
    for version in BOTH {
        let mut h = connected_with(manual(version));
        let p = incoming("t", b"a", QoS::AtLeastOnce, 1);
        h.receive(p.clone());
        let stale = one_message(&h.events()).ack.unwrap();
        let (_, sent) = lose_and_reconnect(&mut h, true);
        assert!(sent.is_empty());
        assert_eq!(h.session.ack(stale, h.now), Err(AckError::Unknown));
        assert!(h.sent().is_empty());

        h.receive(dup(p));
        let fresh = one_message(&h.events()).ack.unwrap();
        assert_ne!(fresh, stale);
        h.session.ack(fresh, h.now).unwrap();
        assert_eq!(h.sent(), [Packet::PubAck(PubAck::new(pid(1)))]);
    }
}

/// Manual acknowledgement, QoS 2: a DUP resend before the application
/// acknowledged is not delivered again; after `ack`, PUBREC, and further
/// resends get PUBREC without delivery [MQTT-4.3.3-2] (3.1.1) /
/// [MQTT-4.3.3-10] (5.0).
#[test]
fn manual_ack_qos2_resend_not_delivered_twice() {
    for version in BOTH {
        let mut h = connected_with(manual(version));
        let p = incoming("t", b"a", QoS::ExactlyOnce, 6);
        h.receive(p.clone());
        let a = one_message(&h.events()).ack.unwrap();
        h.receive(dup(p.clone()));
        assert!(h.events().is_empty());
        assert!(h.sent().is_empty());
        h.session.ack(a, h.now).unwrap();
        assert_eq!(h.sent(), [Packet::PubRec(PubRec::new(pid(6)))]);
        h.receive(dup(p));
        assert!(h.events().is_empty());
        assert_eq!(h.sent(), [Packet::PubRec(PubRec::new(pid(6)))]);
    }
}

/// Manual acknowledgement, QoS 2, session resumed: an `ack` made while
/// disconnected is not lost; the PUBREC goes out on the next connection and
/// the broker's DUP resend is not delivered again.
#[test]
fn manual_ack_qos2_acked_while_disconnected_is_sent_after_resume() {
    for version in BOTH {
        let mut h = connected_with(manual(version));
        let p = incoming("t", b"a", QoS::ExactlyOnce, 6);
        h.receive(p.clone());
        let a = one_message(&h.events()).ack.unwrap();
        h.session.connection_lost(h.now);
        h.events();
        h.session.ack(a, h.now).unwrap();
        assert!(h.sent().is_empty());
        h.session.connect(h.now).unwrap();
        h.sent();
        h.receive(ConnAck::new(true, ConnectReason::Success));
        assert!(matches!(&h.events()[..], [Event::Connected(_)]));
        let mut sent = h.sent();
        h.receive(dup(p));
        assert!(h.events().is_empty(), "{version:?}: delivered twice");
        sent.extend(h.sent());
        assert!(
            sent.contains(&Packet::PubRec(PubRec::new(pid(6)))),
            "{version:?}: the PUBREC owed was never sent: {sent:?}"
        );
        h.receive(PubRel::new(pid(6)));
        assert_eq!(h.sent(), [Packet::PubComp(PubComp::new(pid(6)))]);
    }
}

/// Manual acknowledgement, QoS 2, session not resumed: the owed ack is gone
/// with the session.
#[test]
fn manual_ack_qos2_void_after_session_loss() {
    for version in BOTH {
        let mut h = connected_with(manual(version));
        h.receive(incoming("t", b"a", QoS::ExactlyOnce, 6));
        let a = one_message(&h.events()).ack.unwrap();
        lose_and_reconnect(&mut h, false);
        assert_eq!(h.session.ack(a, h.now), Err(AckError::Unknown));
        assert!(h.sent().is_empty());
    }
}

// ------------------------------------------------------------- topic aliases

fn with_alias(mut p: Publish, alias: u16) -> Publish {
    p.properties.topic_alias = NonZeroU16::new(alias);
    p
}

/// MQTT 5: a topic alias is learned from a PUBLISH with topic and alias and
/// resolved on a PUBLISH with an empty topic and the alias; the message
/// delivered has the full topic. Every alias up to our maximum is accepted
/// [MQTT-3.3.2-10] (5.0), and an alias can be remapped.
#[test]
fn v5_inbound_topic_alias_learned_and_resolved() {
    let mut o = options(V5);
    o.properties.topic_alias_maximum = Some(10);
    let mut h = connected_with(o);
    h.receive(with_alias(incoming("a/b", b"1", QoS::AtMostOnce, 0), 1));
    h.receive(with_alias(incoming("c/d", b"2", QoS::AtLeastOnce, 1), 10));
    let mut empty = incoming("x", b"3", QoS::ExactlyOnce, 2);
    empty.topic = TopicName::alias_only();
    h.receive(with_alias(empty.clone(), 1));
    let mut empty10 = incoming("x", b"4", QoS::AtMostOnce, 0);
    empty10.topic = TopicName::alias_only();
    h.receive(with_alias(empty10.clone(), 10));
    // Remap alias 1.
    h.receive(with_alias(incoming("e/f", b"5", QoS::AtMostOnce, 0), 1));
    h.receive(with_alias(empty10, 1));
    let got: Vec<_> = messages(&h.events())
        .into_iter()
        .map(|m| (m.publish.topic.as_str().to_owned(), m.publish.payload))
        .collect();
    assert_eq!(
        got,
        [
            ("a/b".to_owned(), Bytes::from_static(b"1")),
            ("c/d".to_owned(), Bytes::from_static(b"2")),
            ("a/b".to_owned(), Bytes::from_static(b"3")),
            ("c/d".to_owned(), Bytes::from_static(b"4")),
            ("e/f".to_owned(), Bytes::from_static(b"5")),
            ("e/f".to_owned(), Bytes::from_static(b"4")),
        ]
    );
    assert!(h.session.is_connected());
}

/// MQTT 5: alias mappings do not carry over to a new network connection
/// [MQTT-3.3.2-7] (5.0): an alias known on the old one is unknown on the
/// next, a protocol violation.
#[test]
fn v5_inbound_topic_aliases_do_not_survive_the_connection() {
    let mut o = resumable(V5);
    o.properties.topic_alias_maximum = Some(4);
    let mut h = connected_with(o);
    h.receive(with_alias(incoming("a/b", b"1", QoS::AtMostOnce, 0), 2));
    assert_eq!(messages(&h.events()).len(), 1);
    lose_and_reconnect(&mut h, true);
    let mut empty = incoming("x", b"2", QoS::AtMostOnce, 0);
    empty.topic = TopicName::alias_only();
    h.receive(with_alias(empty, 2));
    let events = h.events();
    assert!(messages(&events).is_empty());
    assert!(
        events.contains(&Event::Closed(CloseReason::ProtocolViolation(
            ProtocolError::UnknownTopicAlias(2)
        ))),
        "{events:?}"
    );
}

// ---------------------------------------------------- subscribe, unsubscribe

/// 3.1.1 SUBSCRIBE (flags 0010 [MQTT-3.8.1-1]) and SUBACK: one result per
/// filter in order [MQTT-3.9.3-1], granted QoS or failure 0x80; the SUBACK
/// is matched by packet identifier [MQTT-2.3.1-7] (3.1.1).
#[test]
fn v311_subscribe_suback_results() {
    let mut h = connected(V3);
    let p = publish(&mut h, "a", b"", QoS::AtLeastOnce);
    h.sent();
    let token = h
        .session
        .subscribe(
            vec![
                (filter("a/+"), SubscriptionOptions::qos(QoS::AtLeastOnce)),
                (filter("b/#"), SubscriptionOptions::qos(QoS::ExactlyOnce)),
            ],
            SubscribeProperties::default(),
            h.now,
        )
        .unwrap();
    assert_ne!(token, p);
    assert_eq!(
        h.sent_bytes(),
        [
            0x82, 0x0e, 0x00, 0x02, 0x00, 0x03, b'a', b'/', b'+', 0x01, 0x00, 0x03, b'b', b'/',
            b'#', 0x02
        ]
    );
    // A SUBACK for another identifier changes nothing.
    h.receive(SubAck {
        packet_id: pid(9),
        reasons: vec![SubAckReason::GrantedQoS0],
        properties: Default::default(),
    });
    assert!(h.events().is_empty());
    h.receive_bytes(&[0x90, 0x04, 0x00, 0x02, 0x01, 0x80]);
    assert_eq!(
        h.events(),
        [Event::Subscribed {
            token,
            result: Ok(vec![
                Ok(QoS::AtLeastOnce),
                Err(SubAckReason::UnspecifiedError)
            ]),
            properties: Default::default(),
        }]
    );
}

/// MQTT 5 SUBSCRIBE: the subscription options bits (QoS, No Local, Retain
/// As Published, Retain Handling) and the Subscription Identifier property on
/// the wire; SUBACK reason codes per filter [MQTT-3.9.3-1].
#[test]
fn v5_subscribe_options_and_reasons() {
    let mut h = connected(V5);
    let everything = SubscriptionOptions {
        qos: QoS::ExactlyOnce,
        no_local: true,
        retain_as_published: true,
        retain_handling: RetainHandling::DoNotSend,
    };
    let if_new = SubscriptionOptions {
        retain_handling: RetainHandling::SendAtSubscribeIfNew,
        ..SubscriptionOptions::qos(QoS::AtMostOnce)
    };
    let properties = SubscribeProperties {
        subscription_identifier: SubscriptionId::new(200),
        ..Default::default()
    };
    let token = h
        .session
        .subscribe(
            vec![
                (filter("t"), everything),
                (filter("u"), if_new),
                (filter("v"), SubscriptionOptions::qos(QoS::AtLeastOnce)),
            ],
            properties,
            h.now,
        )
        .unwrap();
    assert_eq!(
        h.sent_bytes(),
        [
            0x82, 0x12, // SUBSCRIBE, remaining length 18
            0x00, 0x01, // packet identifier
            0x03, 0x0b, 0xc8, 0x01, // properties: Subscription Identifier 200
            0x00, 0x01, b't', 0x2e, // QoS 2 | No Local | RAP | RH 2
            0x00, 0x01, b'u', 0x10, // QoS 0 | RH 1
            0x00, 0x01, b'v', 0x01, // QoS 1
        ]
    );
    h.receive(SubAck {
        packet_id: pid(1),
        reasons: vec![
            SubAckReason::GrantedQoS2,
            SubAckReason::NotAuthorized,
            SubAckReason::GrantedQoS0,
        ],
        properties: Default::default(),
    });
    assert_eq!(
        h.events(),
        [Event::Subscribed {
            token,
            result: Ok(vec![
                Ok(QoS::ExactlyOnce),
                Err(SubAckReason::NotAuthorized),
                Ok(QoS::AtMostOnce)
            ]),
            properties: Default::default(),
        }]
    );
}

/// 3.1.1 UNSUBSCRIBE (flags 0010 [MQTT-3.10.1-1]); UNSUBACK carries no
/// reasons, every filter reports `Success`.
#[test]
fn v311_unsubscribe_all_success() {
    let mut h = connected(V3);
    let token = h
        .session
        .unsubscribe(
            vec![filter("a"), filter("b/+")],
            UnsubscribeProperties::default(),
            h.now,
        )
        .unwrap();
    assert_eq!(
        h.sent_bytes(),
        [
            0xa2, 0x0a, 0x00, 0x01, 0x00, 0x01, b'a', 0x00, 0x03, b'b', b'/', b'+'
        ]
    );
    h.receive_bytes(&[0xb0, 0x02, 0x00, 0x01]);
    assert_eq!(
        h.events(),
        [Event::Unsubscribed {
            token,
            result: Ok(vec![UnsubAckReason::Success; 2]),
            properties: Default::default(),
        }]
    );
}

/// MQTT 5 UNSUBACK: one reason per filter, in order.
#[test]
fn v5_unsubscribe_per_filter_reasons() {
    let mut h = connected(V5);
    let token = h
        .session
        .unsubscribe(
            vec![filter("a"), filter("b")],
            UnsubscribeProperties::default(),
            h.now,
        )
        .unwrap();
    assert_eq!(
        h.sent_bytes(),
        [
            0xa2, 0x09, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x00, 0x01, b'b'
        ]
    );
    h.receive(UnsubAck {
        packet_id: pid(1),
        reasons: vec![
            UnsubAckReason::Success,
            UnsubAckReason::NoSubscriptionExisted,
        ],
        properties: Default::default(),
    });
    assert_eq!(
        h.events(),
        [Event::Unsubscribed {
            token,
            result: Ok(vec![
                UnsubAckReason::Success,
                UnsubAckReason::NoSubscriptionExisted
            ]),
            properties: Default::default(),
        }]
    );
}

/// Requests made before CONNACK go out after it; a request sent and not
/// answered fails with `ConnectionLost` when the connection drops.
#[test]
fn requests_wait_for_connack_and_fail_on_connection_loss() {
    for version in BOTH {
        let mut h = Harness::new(resumable(version));
        let sub = h
            .session
            .subscribe(
                vec![(filter("a"), SubscriptionOptions::default())],
                SubscribeProperties::default(),
                h.now,
            )
            .unwrap();
        let unsub = h
            .session
            .unsubscribe(vec![filter("b")], UnsubscribeProperties::default(), h.now)
            .unwrap();
        assert!(h.sent().is_empty());
        let sent = h.connect(false);
        assert!(
            matches!(&sent[..], [Packet::Subscribe(s), Packet::Unsubscribe(u)]
                if s.packet_id == pid(1) && u.packet_id == pid(2)),
            "{sent:?}"
        );
        h.session.connection_lost(h.now);
        let events = h.events();
        assert_eq!(
            events,
            [
                Event::Subscribed {
                    token: sub,
                    result: Err(RequestError::ConnectionLost),
                    properties: Default::default(),
                },
                Event::Unsubscribed {
                    token: unsub,
                    result: Err(RequestError::ConnectionLost),
                    properties: Default::default(),
                },
                Event::Closed(CloseReason::ConnectionLost),
            ]
        );
    }
}

// ------------------------------------------------ connection loss, redelivery

/// Several interleaved QoS 1 and 2 flows in different stages; on a resumed
/// session the unacknowledged PUBLISHes are resent with DUP 1
/// [MQTT-3.3.1-1] and their original identifiers [MQTT-2.3.1-3] (3.1.1), and
/// PUBREL for those past PUBREC, never their PUBLISH [MQTT-4.3.3-1] (3.1.1) /
/// [MQTT-4.3.3-6] (5.0); all in the original order [MQTT-4.4.0-1,
/// MQTT-4.6.0-1]. Publishes made while disconnected follow.
#[test]
fn resume_resends_inflight_in_original_order() {
    for version in BOTH {
        let mut h = connected_with(resumable(version));
        let t1 = publish(&mut h, "r", b"1", QoS::AtLeastOnce); // id 1: unacked
        let t2 = publish(&mut h, "r", b"2", QoS::ExactlyOnce); // id 2: unacked
        let t3 = publish(&mut h, "r", b"3", QoS::ExactlyOnce); // id 3: released
        let t4 = publish(&mut h, "r", b"4", QoS::AtLeastOnce); // id 4: acked
        let t5 = publish(&mut h, "r", b"5", QoS::AtLeastOnce); // id 5: unacked
        let t6 = publish(&mut h, "r", b"6", QoS::ExactlyOnce); // id 6: released
        let t7 = publish(&mut h, "r", b"7", QoS::ExactlyOnce); // id 7: completed
        let t0 = publish(&mut h, "r", b"0", QoS::AtMostOnce); // gone
        assert_eq!(publish_ids(&h.sent()), [1, 2, 3, 4, 5, 6, 7, 0]);
        // PUBRECs in the order of the PUBLISHes, as a broker sends them
        // [MQTT-4.6.0-3]; the PUBRELs are resent in that order [MQTT-4.6.0-4].
        h.receive(PubRec::new(pid(3)));
        h.receive(PubAck::new(pid(4)));
        h.receive(PubRec::new(pid(6)));
        h.receive(PubRec::new(pid(7)));
        h.receive(PubComp::new(pid(7)));
        h.sent();
        assert_eq!(
            h.events(),
            [
                ok(t0, QoS::AtMostOnce),
                ok(t4, QoS::AtLeastOnce),
                ok(t7, QoS::ExactlyOnce)
            ]
        );
        h.session.connection_lost(h.now);
        let t8 = publish(&mut h, "r", b"8", QoS::AtLeastOnce);
        h.session.connect(h.now).unwrap();
        h.sent();
        h.receive(ConnAck::new(true, ConnectReason::Success));
        let events = h.events();
        assert!(
            matches!(&events[..], [Event::Closed(_), Event::Connected(_)]),
            "{events:?}"
        );
        let bytes = h.sent_bytes();
        // The first resend, byte for byte: DUP 1, QoS 1, id 1.
        let first: &[u8] = if version.is_v5() {
            &[0x3a, 0x07, 0x00, 0x01, b'r', 0x00, 0x01, 0x00, b'1']
        } else {
            &[0x3a, 0x06, 0x00, 0x01, b'r', 0x00, 0x01, b'1']
        };
        assert_eq!(&bytes[..first.len()], first, "{version:?}");
        h.wire.feed(&bytes);
        let mut sent = Vec::new();
        while let Some(p) = h.wire.decode().unwrap() {
            sent.push(p);
        }
        let summary: Vec<String> = sent
            .iter()
            .map(|p| match p {
                Packet::Publish(p) => format!(
                    "PUBLISH {} dup={} qos={} {}",
                    p.packet_id.unwrap().get(),
                    p.dup,
                    p.qos as u8,
                    std::str::from_utf8(&p.payload).unwrap()
                ),
                Packet::PubRel(r) => format!("PUBREL {}", r.packet_id.get()),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            summary,
            [
                "PUBLISH 1 dup=true qos=1 1",
                "PUBLISH 2 dup=true qos=2 2",
                "PUBREL 3",
                "PUBLISH 5 dup=true qos=1 5",
                "PUBREL 6",
                "PUBLISH 8 dup=false qos=1 8",
            ],
            "{version:?}"
        );
        // They complete on the new connection.
        h.receive(PubAck::new(pid(1)));
        h.receive(PubRec::new(pid(2)));
        assert_eq!(h.sent(), [Packet::PubRel(PubRel::new(pid(2)))]);
        h.receive(PubComp::new(pid(2)));
        h.receive(PubComp::new(pid(3)));
        h.receive(PubAck::new(pid(5)));
        h.receive(PubComp::new(pid(6)));
        h.receive(PubAck::new(pid(8)));
        assert_eq!(
            h.events(),
            [
                ok(t1, QoS::AtLeastOnce),
                ok(t2, QoS::ExactlyOnce),
                ok(t3, QoS::ExactlyOnce),
                ok(t5, QoS::AtLeastOnce),
                ok(t6, QoS::ExactlyOnce),
                ok(t8, QoS::AtLeastOnce),
            ]
        );
        assert_eq!(h.session.inflight(), 0);
    }
}

/// Redelivery happens only on reconnect [MQTT-4.4.0-1] (5.0): nothing is
/// resent on a live connection however long the acknowledgement takes.
#[test]
fn no_resend_on_a_live_connection() {
    for version in BOTH {
        let mut h = connected(version);
        publish(&mut h, "a", b"x", QoS::AtLeastOnce);
        h.sent();
        for _ in 0..10 {
            h.advance(Duration::from_secs(30));
            let sent = h.sent();
            assert!(
                sent.iter().all(|p| matches!(p, Packet::PingReq)),
                "{sent:?}"
            );
            h.receive(Packet::PingResp);
        }
        assert_eq!(h.session.inflight(), 1);
    }
}

/// Publishes that were sent multiple times over several reconnects keep
/// their identifier and order.
#[test]
fn resume_twice_keeps_ids_and_order() {
    for version in BOTH {
        let mut h = connected_with(resumable(version));
        publish(&mut h, "a", b"1", QoS::ExactlyOnce);
        publish(&mut h, "a", b"2", QoS::AtLeastOnce);
        h.sent();
        let (_, sent) = lose_and_reconnect(&mut h, true);
        assert_eq!(publish_ids(&sent), [1, 2]);
        let (_, sent) = lose_and_reconnect(&mut h, true);
        assert_eq!(publish_ids(&sent), [1, 2]);
        assert!(
            sent.iter()
                .all(|p| matches!(p, Packet::Publish(p) if p.dup))
        );
    }
}

/// Session present = 0 with `SessionLossPolicy::Fail`: each unacknowledged
/// publish fails with `SessionLost`, in order, exactly once, except a QoS 2
/// publish past PUBREC, which the broker received (MQTT-4.3.3-3): it
/// completes; publishes never sent are sent on the new session.
#[test]
fn session_lost_fail_policy() {
    for version in BOTH {
        let mut o = resumable(version);
        o.max_inflight = 3;
        let mut h = connected_with(o);
        let t1 = publish(&mut h, "a", b"1", QoS::ExactlyOnce);
        let t2 = publish(&mut h, "a", b"2", QoS::AtLeastOnce);
        let t3 = publish(&mut h, "a", b"3", QoS::ExactlyOnce);
        let t4 = publish(&mut h, "a", b"4", QoS::AtLeastOnce); // queued
        h.sent();
        h.receive(PubRec::new(pid(3)));
        h.sent();
        let (events, sent) = lose_and_reconnect(&mut h, false);
        let failures: Vec<_> = events
            .iter()
            .filter(|e| matches!(e, Event::Published { .. }))
            .cloned()
            .collect();
        assert_eq!(
            failures,
            [
                failed(t1, PublishError::SessionLost),
                failed(t2, PublishError::SessionLost),
                ok(t3, QoS::ExactlyOnce),
            ]
        );
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Connected(c) if !c.session_present))
        );
        let p = one_publish(&sent);
        assert_eq!((p.payload, p.dup), (Bytes::from_static(b"4"), false));
        h.receive(PubAck::new(p.packet_id.unwrap()));
        assert_eq!(h.events(), [ok(t4, QoS::AtLeastOnce)]);
        // Late acknowledgements of the lost flows are ignored.
        h.receive(PubAck::new(pid(2)));
        assert!(h.events().is_empty());
    }
}

/// Session present = 0 with `SessionLossPolicy::Requeue`: the unacknowledged
/// publishes go out again as new publishes (DUP 0, identifiers assigned
/// anew), in order, ahead of those queued; each completes once. A QoS 2
/// publish past PUBREC is not sent again (the broker has it): it completes.
#[test]
fn session_lost_requeue_policy() {
    for version in BOTH {
        let mut o = resumable(version);
        o.on_session_loss = SessionLossPolicy::Requeue;
        let mut h = connected_with(o);
        let t1 = publish(&mut h, "a", b"1", QoS::AtLeastOnce);
        let t2 = publish(&mut h, "a", b"2", QoS::ExactlyOnce);
        let t3 = publish(&mut h, "a", b"3", QoS::ExactlyOnce);
        h.sent();
        h.receive(PubRec::new(pid(2)));
        h.sent();
        h.session.connection_lost(h.now);
        let t4 = publish(&mut h, "a", b"4", QoS::AtLeastOnce);
        h.session.connect(h.now).unwrap();
        h.sent();
        h.receive(ConnAck::new(false, ConnectReason::Success));
        let events = h.events();
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, Event::Published { .. }))
                .cloned()
                .collect::<Vec<_>>(),
            [ok(t2, QoS::ExactlyOnce)],
            "{events:?}"
        );
        let sent = h.sent();
        assert_eq!(payloads(&sent), ["1", "3", "4"], "{version:?}");
        assert!(
            sent.iter()
                .all(|p| matches!(p, Packet::Publish(p) if !p.dup))
        );
        let ids = publish_ids(&sent);
        let unique: std::collections::BTreeSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), 3);
        h.receive(PubAck::new(pid(ids[0])));
        h.receive(PubRec::new(pid(ids[1])));
        h.receive(PubComp::new(pid(ids[1])));
        h.receive(PubAck::new(pid(ids[2])));
        assert_eq!(
            h.events(),
            [
                ok(t1, QoS::AtLeastOnce),
                ok(t3, QoS::ExactlyOnce),
                ok(t4, QoS::AtLeastOnce),
            ]
        );
    }
}

/// Inbound QoS 2 state survives a resumed session: the broker's DUP resend
/// after reconnect is acknowledged, not delivered again [MQTT-4.3.3-2]
/// (3.1.1) / [MQTT-4.3.3-10] (5.0), and its PUBREL completes it.
#[test]
fn inbound_qos2_survives_resumed_session() {
    for version in BOTH {
        let mut h = connected_with(resumable(version));
        let p = incoming("t", b"x", QoS::ExactlyOnce, 3);
        h.receive(p.clone());
        assert_eq!(messages(&h.events()).len(), 1);
        h.sent();
        let (events, sent) = lose_and_reconnect(&mut h, true);
        assert!(matches!(&events[..], [Event::Connected(_)]));
        assert!(sent.is_empty());
        h.receive(dup(p));
        assert!(h.events().is_empty(), "{version:?}: delivered twice");
        assert_eq!(h.sent(), [Packet::PubRec(PubRec::new(pid(3)))]);
        h.receive(PubRel::new(pid(3)));
        assert_eq!(h.sent(), [Packet::PubComp(PubComp::new(pid(3)))]);
    }
}

/// Inbound QoS 2 state is cleared when the broker has no session: the same
/// identifier then carries a new message.
#[test]
fn inbound_qos2_cleared_on_session_loss() {
    for version in BOTH {
        let mut h = connected_with(resumable(version));
        h.receive(incoming("t", b"old", QoS::ExactlyOnce, 3));
        h.events();
        h.sent();
        lose_and_reconnect(&mut h, false);
        h.receive(incoming("t", b"new", QoS::ExactlyOnce, 3));
        let m = one_message(&h.events());
        assert_eq!(m.publish.payload, "new");
        assert_eq!(h.sent(), [Packet::PubRec(PubRec::new(pid(3)))]);
    }
}

// ------------------------------------------------------------- session store

/// Records every store call, in order.
#[derive(Debug, Default)]
struct Log(Vec<String>);

impl SessionStore for Log {
    fn publish_sent(&mut self, id: PacketId, p: &Publish) {
        self.0.push(format!(
            "sent {} {}",
            id.get(),
            std::str::from_utf8(&p.payload).unwrap()
        ));
    }
    fn publish_released(&mut self, id: PacketId) {
        self.0.push(format!("released {}", id.get()));
    }
    fn publish_completed(&mut self, id: PacketId) {
        self.0.push(format!("completed {}", id.get()));
    }
    fn incoming_received(&mut self, id: PacketId) {
        self.0.push(format!("in-received {}", id.get()));
    }
    fn incoming_released(&mut self, id: PacketId) {
        self.0.push(format!("in-released {}", id.get()));
    }
    fn cleared(&mut self) {
        self.0.push("cleared".to_owned());
    }
}

/// `MemoryStore` mirrors the in-flight state after every change: outgoing
/// publishes sent, released, completed (acknowledged or refused), incoming
/// QoS 2 received and released, and `cleared` on session loss.
#[test]
fn memory_store_mirrors_inflight_state() {
    for version in BOTH {
        let session = Session::with_store(resumable(version), MemoryStore::default());
        let mut h = Harness::with_session(session);
        h.connect(false);
        assert_eq!(h.session.store(), &MemoryStore::default());

        publish(&mut h, "a", b"1", QoS::AtLeastOnce);
        publish(&mut h, "a", b"2", QoS::ExactlyOnce);
        publish(&mut h, "a", b"0", QoS::AtMostOnce);
        let sent = h.sent();
        let store = h.session.store();
        assert_eq!(store.outgoing.len(), 2, "QoS 0 is not stored");
        for p in sent.iter().take(2) {
            let Packet::Publish(p) = p else { panic!() };
            assert_eq!(
                store.outgoing.get(&p.packet_id.unwrap()),
                Some(&(p.clone(), false))
            );
        }
        h.receive(PubRec::new(pid(2)));
        assert!(h.session.store().outgoing[&pid(2)].1, "released");
        h.receive(PubAck::new(pid(1)));
        assert_eq!(
            h.session.store().outgoing.keys().collect::<Vec<_>>(),
            [&pid(2)]
        );
        h.receive(PubComp::new(pid(2)));
        assert!(h.session.store().outgoing.is_empty());

        h.receive(incoming("t", b"x", QoS::ExactlyOnce, 5));
        h.receive(incoming("t", b"y", QoS::AtLeastOnce, 6));
        assert_eq!(
            h.session.store().incoming.iter().collect::<Vec<_>>(),
            [&pid(5)]
        );
        h.receive(PubRel::new(pid(5)));
        assert!(h.session.store().incoming.is_empty());

        // Survives a resumed session, goes with a lost one.
        publish(&mut h, "a", b"3", QoS::AtLeastOnce);
        h.receive(incoming("t", b"z", QoS::ExactlyOnce, 7));
        h.sent();
        lose_and_reconnect(&mut h, true);
        assert_eq!(h.session.store().outgoing.len(), 1);
        assert_eq!(h.session.store().incoming.len(), 1);
        lose_and_reconnect(&mut h, false);
        assert_eq!(h.session.store(), &MemoryStore::default());
    }
}

/// With manual acknowledgement an incoming QoS 2 message is recorded when
/// its PUBREC goes out (the application's `ack`), not on receipt.
#[test]
fn memory_store_manual_ack_qos2_recorded_at_pubrec() {
    for version in BOTH {
        let session = Session::with_store(manual(version), MemoryStore::default());
        let mut h = Harness::with_session(session);
        h.connect(false);
        h.receive(incoming("t", b"x", QoS::ExactlyOnce, 5));
        let a = one_message(&h.events()).ack.unwrap();
        assert!(h.session.store().incoming.is_empty());
        h.session.ack(a, h.now).unwrap();
        assert_eq!(h.sent(), [Packet::PubRec(PubRec::new(pid(5)))]);
        assert_eq!(
            h.session.store().incoming.iter().collect::<Vec<_>>(),
            [&pid(5)]
        );
        h.receive(PubRel::new(pid(5)));
        assert!(h.session.store().incoming.is_empty());
    }
}

/// The exact sequence of store calls of a mixed scenario, including a
/// refused PUBACK (MQTT 5), a requeue after session loss and `abandon`.
#[test]
fn store_receives_every_change_in_order() {
    let mut o = resumable(V5);
    o.on_session_loss = SessionLossPolicy::Requeue;
    let mut h = Harness::with_session(Session::with_store(o, Log::default()));
    h.connect(false);
    publish(&mut h, "a", b"1", QoS::AtLeastOnce);
    publish(&mut h, "a", b"2", QoS::ExactlyOnce);
    publish(&mut h, "a", b"3", QoS::AtLeastOnce);
    h.receive(PubAck::with_reason(pid(3), PubAckReason::QuotaExceeded));
    h.receive(PubRec::new(pid(2)));
    h.receive(PubRec::new(pid(2))); // duplicate: no second "released"
    h.receive(incoming("t", b"x", QoS::ExactlyOnce, 9));
    h.receive(incoming("t", b"x", QoS::ExactlyOnce, 9)); // resend: no second record
    h.receive(PubRel::new(pid(9)));
    h.receive(PubRel::new(pid(9))); // unknown now: no record
    h.receive(incoming("t", b"y", QoS::AtLeastOnce, 10)); // QoS 1: nothing stored
    h.sent();
    lose_and_reconnect(&mut h, true); // resent: no new records
    lose_and_reconnect(&mut h, false); // requeued: cleared, sent anew
    // Nothing was in flight: identifiers start again from 1.
    h.receive(PubAck::new(pid(1)));
    h.session.abandon();
    assert_eq!(
        h.session.store().0,
        [
            "cleared", // first CONNACK: no session
            "sent 1 1",
            "sent 2 2",
            "sent 3 3",
            "completed 3",
            "released 2",
            "in-received 9",
            "in-released 9",
            "cleared",
            // 2 was past PUBREC: the broker has it, it completes; only 1 is sent anew.
            "sent 1 1",
            "completed 1",
        ]
    );
}

// ------------------------------------------------------------------ abandon

/// `abandon` fails every queued and in-flight publish and every request,
/// each exactly once, with `Abandoned`.
#[test]
fn abandon_fails_everything_exactly_once() {
    for version in BOTH {
        let mut o = resumable(version);
        o.max_inflight = 2;
        let mut h = connected_with(o);
        let t1 = publish(&mut h, "a", b"1", QoS::AtLeastOnce);
        let t2 = publish(&mut h, "a", b"2", QoS::ExactlyOnce);
        let t3 = publish(&mut h, "a", b"3", QoS::AtLeastOnce); // queued
        let t4 = publish(&mut h, "a", b"4", QoS::AtMostOnce); // queued behind
        h.sent();
        h.receive(PubRec::new(pid(2)));
        h.sent();
        h.session.connection_lost(h.now);
        h.events();
        let t5 = publish(&mut h, "a", b"5", QoS::ExactlyOnce);
        let s1 = h
            .session
            .subscribe(
                vec![(filter("s"), SubscriptionOptions::default())],
                SubscribeProperties::default(),
                h.now,
            )
            .unwrap();
        let u1 = h
            .session
            .unsubscribe(vec![filter("s")], UnsubscribeProperties::default(), h.now)
            .unwrap();
        h.session.abandon();
        let events = h.events();
        assert_eq!(
            events,
            [
                failed(t1, PublishError::Abandoned),
                failed(t2, PublishError::Abandoned),
                failed(t3, PublishError::Abandoned),
                failed(t4, PublishError::Abandoned),
                failed(t5, PublishError::Abandoned),
                Event::Subscribed {
                    token: s1,
                    result: Err(RequestError::Abandoned),
                    properties: Default::default(),
                },
                Event::Unsubscribed {
                    token: u1,
                    result: Err(RequestError::Abandoned),
                    properties: Default::default(),
                },
            ]
        );
        assert_eq!((h.session.inflight(), h.session.queued()), (0, 0));
        h.session.abandon();
        assert!(h.events().is_empty(), "exactly once");
        // A later connection has nothing to resend.
        h.session.connect(h.now).unwrap();
        h.sent();
        h.receive(ConnAck::new(true, ConnectReason::Success));
        assert!(h.sent().is_empty());
        assert!(matches!(&h.events()[..], [Event::Connected(_)]));
    }
}

/// `abandon` while connected: the connection closes and requests already
/// sent fail with `Abandoned` too, each once.
#[test]
fn abandon_while_connected() {
    for version in BOTH {
        let mut h = connected(version);
        let t1 = publish(&mut h, "a", b"1", QoS::AtLeastOnce);
        let s1 = h
            .session
            .subscribe(
                vec![(filter("s"), SubscriptionOptions::default())],
                SubscribeProperties::default(),
                h.now,
            )
            .unwrap();
        h.sent();
        h.session.abandon();
        let events = h.events();
        assert!(!h.session.is_connected());
        let mut outcomes: Vec<_> = events
            .iter()
            .filter(|e| !matches!(e, Event::Closed(_)))
            .cloned()
            .collect();
        outcomes.sort_by_key(|e| match e {
            Event::Published { token, .. } | Event::Subscribed { token, .. } => *token,
            _ => unreachable!(),
        });
        assert_eq!(
            outcomes,
            [
                failed(t1, PublishError::Abandoned),
                Event::Subscribed {
                    token: s1,
                    result: Err(RequestError::Abandoned),
                    properties: Default::default(),
                },
            ],
            "{version:?}"
        );
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, Event::Closed(_)))
                .count(),
            1
        );
    }
}

// ---------------------------------------------------------------- zero copy

/// A payload of at least `zero_copy_threshold` bytes leaves `poll_transmit`
/// as its own chunk, the very buffer given to `publish`; smaller ones are
/// copied. Resends on a resumed session use the same buffer too.
#[test]
fn zero_copy_large_payload_is_the_same_buffer() {
    for version in BOTH {
        let mut o = resumable(version);
        o.zero_copy_threshold = 64;
        let mut h = connected_with(o);
        let big = Bytes::from(vec![0xa5u8; 64]);
        let p = Publish::with_qos(topic("big"), big.clone(), QoS::AtLeastOnce, PacketId::MIN);
        h.session.publish(p, h.now).unwrap();
        let header = h.session.poll_transmit().unwrap();
        let chunk = h.session.poll_transmit().unwrap();
        assert!(h.session.poll_transmit().is_none());
        assert_eq!(chunk.as_ptr(), big.as_ptr(), "{version:?}: copied");
        assert_eq!(chunk.len(), big.len());
        // Header and payload chunk together are the PUBLISH.
        let mut whole = header.to_vec();
        whole.extend_from_slice(&chunk);
        let mut expected = bytes::BytesMut::new();
        let mut reference = Publish::with_qos(topic("big"), big.clone(), QoS::AtLeastOnce, pid(1));
        Packet::Publish(reference.clone())
            .encode(version, &mut expected)
            .unwrap();
        assert_eq!(whole, expected);

        // Below the threshold: one copied chunk.
        let small = Bytes::from(vec![1u8; 63]);
        h.session
            .publish(Publish::at_most_once(topic("s"), small.clone()), h.now)
            .unwrap();
        let chunk = h.session.poll_transmit().unwrap();
        assert!(h.session.poll_transmit().is_none());
        assert_eq!(chunk.len(), 1 + 1 + 3 + usize::from(version.is_v5()) + 63);
        assert!(!std::ptr::eq(chunk.as_ptr(), small.as_ptr()));

        // The resend on a resumed session hands over the same buffer again.
        h.session.connection_lost(h.now);
        h.session.connect(h.now).unwrap();
        h.sent();
        h.receive(ConnAck::new(true, ConnectReason::Success));
        let header = h.session.poll_transmit().unwrap();
        let chunk = h.session.poll_transmit().unwrap();
        assert!(h.session.poll_transmit().is_none());
        assert_eq!(chunk.as_ptr(), big.as_ptr(), "resend copied");
        reference.dup = true;
        let mut expected = bytes::BytesMut::new();
        Packet::Publish(reference)
            .encode(version, &mut expected)
            .unwrap();
        let mut whole = header.to_vec();
        whole.extend_from_slice(&chunk);
        assert_eq!(whole, expected);
    }
}

/// Zero copy keeps the order of the byte stream: a packet queued before a
/// large PUBLISH is transmitted before it, one queued after it follows it.
#[test]
fn zero_copy_keeps_stream_order() {
    for version in BOTH {
        let mut o = options(version);
        o.zero_copy_threshold = 8;
        let mut h = connected_with(o);
        let big = Bytes::from(vec![7u8; 8]);
        h.receive(incoming("t", b"m", QoS::AtLeastOnce, 1)); // PUBACK 1 queued
        h.session
            .publish(Publish::at_most_once(topic("b"), big.clone()), h.now)
            .unwrap();
        h.receive(incoming("t", b"m", QoS::AtLeastOnce, 2)); // PUBACK 2 queued
        let mut chunks = Vec::new();
        while let Some(c) = h.session.poll_transmit() {
            chunks.push(c);
        }
        assert!(chunks.iter().any(|c| c.as_ptr() == big.as_ptr()));
        let stream: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        h.wire.feed(&stream);
        let mut sent = Vec::new();
        while let Some(p) = h.wire.decode().unwrap() {
            sent.push(p);
        }
        assert!(
            matches!(&sent[..], [Packet::PubAck(a), Packet::Publish(p), Packet::PubAck(b)]
                if a.packet_id == pid(1) && p.payload == big && b.packet_id == pid(2)),
            "{sent:?}"
        );
    }
}

// ------------------------------------------------- expiry of queued publishes

/// A publish made while disconnected, with an expiry, is dropped at the
/// expiry with `Expired` (its caller hears it then, not at the reconnect),
/// and the next connection does not send it late.
#[test]
fn queued_publish_expires_while_offline_and_is_never_sent() {
    for version in BOTH {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let mut h = Harness::new(options(version));
            let expires = h.now + Duration::from_secs(5);
            let stale = h
                .session
                .publish_until(msg("a/b", b"stale", qos), Some(expires), h.now)
                .expect("queued");
            let kept = publish(&mut h, "a/b", b"kept", qos);
            // The session asks to be woken at the expiry, even disconnected.
            assert_eq!(h.session.poll_timeout(), Some(expires));
            h.advance(Duration::from_secs(4));
            assert!(h.events().is_empty());
            h.advance(Duration::from_secs(1));
            assert_eq!(h.events(), vec![failed(stale, PublishError::Expired)]);
            assert_eq!(h.session.poll_timeout(), None);
            let sent = h.connect(false);
            let p = one_publish(&sent);
            assert_eq!(&p.payload[..], b"kept", "{version:?} {qos:?}");
            if let Some(id) = p.packet_id {
                match qos {
                    QoS::AtLeastOnce => h.receive(PubAck::new(id)),
                    _ => {
                        h.receive(PubRec::new(id));
                        h.receive(PubComp::new(id));
                    }
                }
                assert_eq!(h.events(), vec![ok(kept, qos)]);
            }
        }
    }
}

/// The expiry is checked when the queue moves too: a publish waiting for an
/// in-flight slot that frees after its expiry is dropped, the one behind it
/// goes.
#[test]
fn publish_waiting_for_an_inflight_slot_expires() {
    for version in BOTH {
        let mut o = options(version);
        o.max_inflight = 1;
        let mut h = connected_with(o);
        let first = publish(&mut h, "t", b"1", QoS::AtLeastOnce);
        let id = one_publish(&h.sent()).packet_id.expect("id");
        let expires = h.now + Duration::from_millis(100);
        let late = h
            .session
            .publish_until(msg("t", b"2", QoS::AtLeastOnce), Some(expires), h.now)
            .expect("queued");
        let third = publish(&mut h, "t", b"3", QoS::AtLeastOnce);
        // The ack comes after the expiry, without a timer run in between.
        h.now += Duration::from_millis(200);
        h.receive(PubAck::new(id));
        assert_eq!(
            h.events(),
            vec![
                ok(first, QoS::AtLeastOnce),
                failed(late, PublishError::Expired)
            ]
        );
        let p = one_publish(&h.sent());
        assert_eq!(&p.payload[..], b"3");
        h.receive(PubAck::new(p.packet_id.expect("id")));
        assert_eq!(h.events(), vec![ok(third, QoS::AtLeastOnce)]);
    }
}

/// Once sent, a QoS 1/2 publish is never dropped by its expiry: it is
/// redelivered with DUP after a reconnect that resumes the session
/// [MQTT-4.4.0-1].
#[test]
fn sent_publish_is_not_expired_but_redelivered() {
    for version in BOTH {
        let mut h = connected_with(resumable(version));
        let expires = h.now + Duration::from_secs(1);
        let token = h
            .session
            .publish_until(msg("t", b"x", QoS::AtLeastOnce), Some(expires), h.now)
            .expect("sent");
        let first = one_publish(&h.sent());
        h.advance(Duration::from_secs(2));
        let (events, sent) = lose_and_reconnect(&mut h, true);
        assert!(!events.iter().any(|e| matches!(e, Event::Published { .. })));
        let again = one_publish(&sent);
        assert!(again.dup);
        assert_eq!(again.packet_id, first.packet_id);
        h.receive(PubAck::new(first.packet_id.expect("id")));
        assert_eq!(h.events(), vec![ok(token, QoS::AtLeastOnce)]);
    }
}

/// An expiry already past is refused at once; no token is spent.
#[test]
fn publish_with_a_past_expiry_is_refused_at_once() {
    let mut h = Harness::new(options(V5));
    let past = h.now;
    assert_eq!(
        h.session
            .publish_until(msg("t", b"x", QoS::AtLeastOnce), Some(past), h.now),
        Err(PublishError::Expired)
    );
    assert_eq!(h.session.poll_timeout(), None);
}
