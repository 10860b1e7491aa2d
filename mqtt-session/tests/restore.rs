//! `Session::restore`: a session saved by one process (what its
//! `SessionStore` recorded) resumed by the next. Simulated time only.
//!
//! Normative statement ids: 3.1.1 ids are written `(3.1.1)`, 5.0 ids
//! `(5.0)`; where both versions number a rule the same no version is given.

mod common;

use common::*;
use sansmqtt_proto::{
    ConnAck, ConnectReason, Packet, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS,
};
use sansmqtt_session::{
    Event, MemoryStore, PublishDone, PublishError, RestoreError, SavedSession, Session,
    SessionLossPolicy, SessionOptions, Token,
};

const V3: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;
const BOTH: [ProtocolVersion; 2] = [V3, V5];

/// Options of a session meant to outlive its connections: clean session off
/// in 3.1.1; in MQTT 5 a Session Expiry Interval, with Clean Start on (only
/// the first connection of a new session would start clean).
fn lasting(version: ProtocolVersion) -> SessionOptions {
    let mut o = options(version);
    if version.is_v5() {
        o.clean_start = true;
        o.properties.session_expiry_interval = Some(3600);
    } else {
        o.clean_start = false;
    }
    o
}

fn sent_publish(t: &str, payload: &'static [u8], qos: QoS, id: u16) -> Publish {
    Publish::with_qos(topic(t), payload, qos, pid(id))
}

/// QoS 1 under 7, QoS 2 released under 3, QoS 2 not released under 9, in
/// that order of first transmission; incoming QoS 2 under 5 awaiting PUBREL.
fn saved() -> SavedSession {
    SavedSession {
        outgoing: vec![
            (sent_publish("a", b"one", QoS::AtLeastOnce, 7), false),
            (sent_publish("b", b"two", QoS::ExactlyOnce, 3), true),
            (sent_publish("c", b"three", QoS::ExactlyOnce, 9), false),
        ],
        incoming: vec![pid(5)],
    }
}

/// Restores `saved()` into a new session and connects; returns the harness,
/// the tokens, the CONNECT's clean start flag and what followed CONNACK.
fn restored_and_connected(
    options: SessionOptions,
    session_present: bool,
) -> (Harness<MemoryStore>, Vec<Token>, bool, Vec<Packet>) {
    let mut h = Harness::with_session(Session::with_store(options, MemoryStore::default()));
    let tokens = h.session.restore(saved()).expect("restore");
    assert_eq!(h.session.inflight(), 3);
    h.session.connect(h.now).expect("connect");
    let clean_start = match &h.sent()[..] {
        [Packet::Connect(c)] => c.clean_start,
        other => panic!("expected CONNECT, got {other:?}"),
    };
    h.receive(ConnAck::new(session_present, ConnectReason::Success));
    let sent = h.sent();
    (h, tokens, clean_start, sent)
}

fn done(token: Token, qos: QoS) -> Event {
    Event::Published {
        token,
        result: Ok(PublishDone { qos, reason: None }),
    }
}

/// The first connection of a restored session resumes the broker's session:
/// Clean Session 0 (3.1.1) / Clean Start 0 [MQTT-3.1.2-6] (5.0), even where a
/// new session's first connection would start clean. With the session
/// present, unacknowledged PUBLISHes go again with DUP and their packet
/// identifiers, and PUBREL for the one past PUBREC, in the original order
/// [MQTT-4.4.0-1]; each completes under the token `restore` returned.
#[test]
fn restored_session_resumes_with_dup_and_pubrel_in_order() {
    for version in BOTH {
        let (mut h, tokens, clean_start, sent) = restored_and_connected(lasting(version), true);
        assert!(!clean_start, "{version:?}");
        let mut a = sent_publish("a", b"one", QoS::AtLeastOnce, 7);
        a.dup = true;
        let mut c = sent_publish("c", b"three", QoS::ExactlyOnce, 9);
        c.dup = true;
        assert_eq!(
            sent,
            [
                Packet::Publish(a),
                Packet::PubRel(PubRel::new(pid(3))),
                Packet::Publish(c)
            ],
            "{version:?}"
        );
        let events = h.events();
        assert!(
            !events.iter().any(|e| matches!(e, Event::Published { .. })),
            "{events:?}"
        );
        h.receive(PubAck::new(pid(7)));
        h.receive(PubComp::new(pid(3)));
        h.receive(PubRec::new(pid(9)));
        assert_eq!(h.sent(), [Packet::PubRel(PubRel::new(pid(9)))]);
        h.receive(PubComp::new(pid(9)));
        assert_eq!(
            h.events(),
            [
                done(tokens[0], QoS::AtLeastOnce),
                done(tokens[1], QoS::ExactlyOnce),
                done(tokens[2], QoS::ExactlyOnce),
            ]
        );
        assert_eq!(h.session.inflight(), 0);
        // The store heard of the completions (it was where the state came from).
        assert!(h.session.store().outgoing.is_empty());
    }
}

/// An incoming QoS 2 PUBLISH acknowledged with PUBREC by the previous
/// process and redelivered (DUP) before PUBREL is acknowledged again and not
/// delivered twice [MQTT-4.3.3-2] (3.1.1) / [MQTT-4.3.3-9] (5.0); its PUBREL
/// gets PUBCOMP. A new identifier is delivered as usual.
#[test]
fn restored_incoming_qos2_is_not_delivered_twice() {
    for version in BOTH {
        let (mut h, _, _, _) = restored_and_connected(lasting(version), true);
        h.events();
        let mut again = sent_publish("in", b"x", QoS::ExactlyOnce, 5);
        again.dup = true;
        h.receive(again);
        assert!(h.events().is_empty(), "{version:?}: delivered twice");
        assert_eq!(h.sent(), [Packet::PubRec(PubRec::new(pid(5)))]);
        h.receive(PubRel::new(pid(5)));
        assert_eq!(h.sent(), [Packet::PubComp(PubComp::new(pid(5)))]);
        h.receive(sent_publish("in", b"y", QoS::ExactlyOnce, 6));
        let events = h.events();
        assert!(
            matches!(&events[..], [Event::Message(m)] if &m.publish.payload[..] == b"y"),
            "{events:?}"
        );
    }
}

/// The broker has no session (CONNACK session present 0): with the Requeue
/// policy the unacknowledged publishes go again as new ones (no DUP, new
/// identifiers), the one past PUBREC completes (the broker had it,
/// MQTT-4.3.3-3 (5.0): only its release was left) and incoming state goes.
#[test]
fn restored_session_without_the_broker_session_requeues() {
    for version in BOTH {
        let mut o = lasting(version);
        o.on_session_loss = SessionLossPolicy::Requeue;
        let (mut h, tokens, _, sent) = restored_and_connected(o, false);
        let publishes: Vec<(bool, u16, &[u8])> = sent
            .iter()
            .map(|p| match p {
                Packet::Publish(p) => (p.dup, p.packet_id.unwrap().get(), &p.payload[..]),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            publishes,
            [(false, 1, &b"one"[..]), (false, 2, &b"three"[..])],
            "{version:?}"
        );
        let events = h.events();
        assert!(
            events.contains(&done(tokens[1], QoS::ExactlyOnce)),
            "{events:?}"
        );
        // The incoming identifier 5 is new again.
        h.receive(sent_publish("in", b"z", QoS::ExactlyOnce, 5));
        assert!(matches!(&h.events()[..], [Event::Message(_)]));
    }
}

/// With the Fail policy a lost session fails the restored publishes that
/// were not past PUBREC, under their tokens.
#[test]
fn restored_session_without_the_broker_session_fails_by_default() {
    for version in BOTH {
        let (mut h, tokens, _, sent) = restored_and_connected(lasting(version), false);
        assert!(sent.is_empty(), "{sent:?}");
        let published: Vec<Event> = h
            .events()
            .into_iter()
            .filter(|e| matches!(e, Event::Published { .. }))
            .collect();
        assert_eq!(
            published,
            [
                Event::Published {
                    token: tokens[0],
                    result: Err(PublishError::SessionLost)
                },
                done(tokens[1], QoS::ExactlyOnce),
                Event::Published {
                    token: tokens[2],
                    result: Err(PublishError::SessionLost)
                },
            ]
        );
    }
}

/// What cannot be restored is refused with its reason, and a refusal
/// changes nothing: the same session then takes a valid saved state.
#[test]
fn restore_refuses_what_it_cannot_resume() {
    // A session that starts clean (3.1.1) or has no expiry (5.0) would have
    // the broker discard it [MQTT-3.1.2-6] (3.1.1) / [MQTT-3.1.2-4] (5.0).
    let mut clean = options(V3);
    clean.clean_start = true;
    let mut no_expiry = options(V5);
    no_expiry.clean_start = false;
    for o in [clean, no_expiry] {
        let mut s = Session::new(o);
        assert_eq!(s.restore(saved()), Err(RestoreError::NotResumable));
    }
    let cases: Vec<(SavedSession, RestoreError)> = vec![
        (
            SavedSession {
                outgoing: vec![(Publish::at_most_once(topic("q0"), &b""[..]), false)],
                incoming: vec![],
            },
            RestoreError::InvalidPublish(0),
        ),
        (
            SavedSession {
                outgoing: vec![
                    (sent_publish("a", b"", QoS::AtLeastOnce, 1), false),
                    (sent_publish("a", b"", QoS::AtLeastOnce, 2), true),
                ],
                incoming: vec![],
            },
            RestoreError::InvalidPublish(1),
        ),
        (
            SavedSession {
                outgoing: vec![
                    (sent_publish("a", b"", QoS::AtLeastOnce, 4), false),
                    (sent_publish("b", b"", QoS::ExactlyOnce, 4), false),
                ],
                incoming: vec![],
            },
            RestoreError::DuplicateId(4),
        ),
        (
            SavedSession {
                outgoing: vec![],
                incoming: vec![pid(8), pid(8)],
            },
            RestoreError::DuplicateId(8),
        ),
    ];
    for version in BOTH {
        for (bad, error) in &cases {
            let mut s = Session::new(lasting(version));
            assert_eq!(s.restore(bad.clone()).as_ref(), Err(error), "{bad:?}");
            assert_eq!(s.inflight(), 0);
            assert_eq!(s.restore(saved()).map(|t| t.len()), Ok(3));
        }
        // Only a new session: not after a connection, not twice.
        let mut h = Harness::new(lasting(version));
        h.connect(false);
        assert_eq!(h.session.restore(saved()), Err(RestoreError::NotNew));
        let mut s = Session::new(lasting(version));
        s.restore(saved()).unwrap();
        assert_eq!(s.restore(saved()), Err(RestoreError::NotNew));
    }
}

/// A session given up (`abandon`) leaves its store as it was, so that the
/// next process resumes what was in flight: store → restore round trip.
#[test]
fn abandoned_session_stays_in_its_store_and_resumes_in_the_next() {
    for version in BOTH {
        let mut h = Harness::with_session(Session::with_store(
            lasting(version),
            MemoryStore::default(),
        ));
        h.connect(false);
        let a = h
            .session
            .publish(msg("a", b"1", QoS::AtLeastOnce), h.now)
            .unwrap();
        h.session
            .publish(msg("b", b"2", QoS::ExactlyOnce), h.now)
            .unwrap();
        h.sent();
        h.receive(PubRec::new(pid(2)));
        h.session.abandon();
        let events = h.events();
        assert!(
            events.contains(&Event::Published {
                token: a,
                result: Err(PublishError::Abandoned)
            }),
            "{events:?}"
        );
        let store = h.session.store().clone();
        assert_eq!(store.outgoing.len(), 2);
        let saved = SavedSession {
            outgoing: store.outgoing.into_values().collect(),
            incoming: store.incoming.into_iter().collect(),
        };
        let mut next = Harness::new(lasting(version));
        next.session.restore(saved).unwrap();
        let sent = next.connect(true);
        assert!(
            matches!(&sent[..], [Packet::Publish(p), Packet::PubRel(r)]
                if p.dup && p.packet_id == Some(pid(1)) && r.packet_id == pid(2)),
            "{sent:?}"
        );
    }
}

/// What `restore` and the Clean Start of later connections go by: the
/// broker keeps a 3.1.1 session with Clean Session 0 [MQTT-3.1.2-4]
/// (3.1.1), and an MQTT 5 session with a Session Expiry Interval above zero
/// [MQTT-3.1.2-23] (5.0), whatever Clean Start says of the first connection.
#[test]
fn keeps_session_follows_clean_session_and_session_expiry() {
    let mut o = options(V3);
    o.clean_start = false;
    assert!(o.keeps_session());
    o.clean_start = true;
    assert!(!o.keeps_session());
    let mut o = options(V5);
    o.clean_start = false;
    assert!(!o.keeps_session(), "no expiry: ends with the connection");
    o.properties.session_expiry_interval = Some(0);
    assert!(!o.keeps_session());
    o.clean_start = true;
    o.properties.session_expiry_interval = Some(1);
    assert!(o.keeps_session());
}
