//! The protocol version a server refuses, and the change of version
//! between two connections (what the client's `protocol_version = "auto"`
//! builds on), with simulated time.
//!
//! A 3.1.1 server answers a level-5 CONNECT with a 3.1.1 CONNACK
//! (remaining length 2, return code 0x01) and closes: 3.1.1 MQTT-3.1.2-2,
//! "The Server MUST respond to the CONNECT Packet with a CONNACK return
//! code 0x01 (unacceptable protocol level) and then disconnect the Client
//! if the Protocol Level is not supported by the Server". Decoded as MQTT 5
//! those bytes are malformed (0x01 is no MQTT 5 CONNACK reason code); the
//! session recognises them and decodes them as 3.1.1.

mod common;

use bytes::Bytes;
use common::*;
use sansmqtt_proto::{
    ConnAck, ConnAckProperties, ConnectReason, LastWill, MqttString, Packet, ProtocolVersion,
    PublishProperties, QoS, WillProperties,
};
use sansmqtt_session::{CloseReason, Event, ProtocolError, PublishError, StateError};

const V3: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;

fn unsupported(requested: ProtocolVersion, properties: ConnAckProperties) -> Vec<Event> {
    vec![Event::Closed(CloseReason::UnsupportedProtocolVersion {
        requested,
        properties: Box::new(properties),
    })]
}

/// 3.1.1 MQTT-3.1.2-2 (the server's side): the 3.1.1 CONNACK 0x01 a
/// 3.1.1-only server answers an MQTT 5 CONNECT with closes the connection
/// with `UnsupportedProtocolVersion { requested: 5 }`, not as a malformed
/// packet; nothing is sent back (no DISCONNECT), nothing waits.
#[test]
fn v311_mqtt_3_1_2_2_connack_0x01_to_a_v5_connect_is_unsupported_version() {
    let mut h = Harness::new(options(V5));
    h.session.connect(h.now).unwrap();
    h.sent();
    h.session
        .publish(msg("t", b"x", QoS::AtLeastOnce), h.now)
        .unwrap();
    h.receive_bytes(&[0x20, 0x02, 0x00, 0x01]);
    assert_eq!(h.events(), unsupported(V5, ConnAckProperties::default()));
    assert!(h.sent_bytes().is_empty(), "no DISCONNECT after a refusal");
    assert!(!h.session.is_connected());
    assert_eq!(h.session.poll_timeout(), None);
    assert_eq!(h.session.queued(), 1, "the publish waits for a connection");
}

/// The same answer split anywhere (one byte at a time) is recognised too.
#[test]
fn v311_connack_to_a_v5_connect_split_byte_by_byte() {
    let mut h = Harness::new(options(V5));
    h.session.connect(h.now).unwrap();
    h.sent();
    for b in [0x20, 0x02, 0x00, 0x01] {
        h.receive_bytes(&[b]);
    }
    assert_eq!(h.events(), unsupported(V5, ConnAckProperties::default()));
}

/// The other 3.1.1 return codes in a 3.1.1 CONNACK to an MQTT 5 CONNECT
/// are refusals with their mapped reason (3.1.1 §3.2.2.3 table 3.1).
#[test]
fn v311_refusals_to_a_v5_connect_keep_their_reason() {
    for code in 2..=5 {
        let mut h = Harness::new(options(V5));
        h.session.connect(h.now).unwrap();
        h.sent();
        h.receive_bytes(&[0x20, 0x02, 0x00, code]);
        let reason = ConnectReason::from_v3_return_code(code).unwrap();
        assert!(
            matches!(&h.events()[..], [Event::Closed(CloseReason::Refused { reason: r, .. })] if *r == reason),
            "return code {code}"
        );
    }
}

/// Only a CONNACK in answer to CONNECT is read as 3.1.1: a 2-byte CONNACK
/// with code 0x01 once connected is a second CONNACK, a protocol error
/// (5.0 MQTT-3.2.0-2: the server sends one CONNACK per connection).
#[test]
fn mqtt_3_2_0_2_a_second_connack_is_never_read_as_3_1_1() {
    let mut h = Harness::new(options(V5));
    h.connect(false);
    h.receive_bytes(&[0x20, 0x02, 0x00, 0x01]);
    let events = h.events();
    assert!(
        matches!(
            &events[..],
            [Event::Closed(CloseReason::ProtocolViolation(
                ProtocolError::Decode(_)
            ))]
        ),
        "{events:?}"
    );
}

/// 5.0 §3.2.2.2: an MQTT 5 CONNACK 0x84 Unsupported Protocol Version
/// closes with the same typed reason, its properties kept.
#[test]
fn v5_connack_0x84_is_unsupported_version_with_properties() {
    let mut h = Harness::new(options(V5));
    h.session.connect(h.now).unwrap();
    h.sent();
    let properties = ConnAckProperties {
        reason_string: Some(MqttString::try_from("MQTT 3.1.1 only").unwrap()),
        ..Default::default()
    };
    h.receive(ConnAck {
        session_present: false,
        reason: ConnectReason::UnsupportedProtocolVersion,
        properties: properties.clone().into(),
    });
    assert_eq!(h.events(), unsupported(V5, properties));
    assert!(h.sent_bytes().is_empty());
}

/// 3.1.1: return code 0x01 to a 3.1.1 CONNECT (a server of MQTT 3.1 only)
/// names 3.1.1 as the refused version.
#[test]
fn v311_connack_0x01_to_a_v311_connect_names_3_1_1() {
    let mut h = Harness::new(options(V3));
    h.session.connect(h.now).unwrap();
    h.sent();
    h.receive_bytes(&[0x20, 0x02, 0x00, 0x01]);
    assert_eq!(h.events(), unsupported(V3, ConnAckProperties::default()));
}

/// An MQTT 5 CONNACK refusing with a property list is never mistaken for
/// a 3.1.1 one (its remaining length is at least 3).
#[test]
fn a_v5_refusal_with_properties_is_decoded_as_v5() {
    let mut h = Harness::new(options(V5));
    h.session.connect(h.now).unwrap();
    h.sent();
    // CONNACK, remaining length 3: flags 0, reason 0x87, property length 0.
    h.receive_bytes(&[0x20, 0x03, 0x00, 0x87, 0x00]);
    assert_eq!(
        h.events(),
        [Event::Closed(CloseReason::Refused {
            reason: ConnectReason::NotAuthorized,
            properties: Box::default()
        })]
    );
}

/// Falling back: after the refusal the session is set to 3.1.1 and its
/// next CONNECT is a 3.1.1 one (protocol level 4, 3.1.1 MQTT-3.1.2-2),
/// without the MQTT 5 will properties (3.1.1 has none), and the waiting
/// publish goes out after the 3.1.1 CONNACK.
#[test]
fn set_version_falls_back_to_3_1_1_between_connections() {
    let mut o = options(V5);
    let mut will = LastWill::new(topic("will/t"), Bytes::from_static(b"gone"));
    will.properties = WillProperties {
        will_delay_interval: Some(5),
        ..Default::default()
    }
    .into();
    o.will = Some(will);
    o.properties.session_expiry_interval = Some(60);
    let mut h = Harness::new(o);
    h.session.connect(h.now).unwrap();
    let first = h.sent_bytes();
    // Fixed header, length, protocol name (6 bytes), level.
    assert_eq!(first[8], 5, "the first CONNECT is level 5");
    h.session
        .publish(msg("t", b"x", QoS::AtLeastOnce), h.now)
        .unwrap();
    h.receive_bytes(&[0x20, 0x02, 0x00, 0x01]);
    h.events();
    h.session.set_version(V3).unwrap();
    assert_eq!(h.session.options().version, V3);
    h.session.connect(h.now).unwrap();
    h.version = V3;
    h.wire = sansmqtt_proto::Decoder::new(V3);
    let bytes = h.sent_bytes();
    assert_eq!(bytes[8], 4, "the next CONNECT is level 4");
    h.wire.feed(&bytes);
    match h.wire.decode().unwrap() {
        Some(Packet::Connect(c)) => {
            assert_eq!(c.protocol, V3);
            let will = c.will.expect("the will is kept");
            assert!(will.properties.is_empty(), "without its MQTT 5 properties");
            assert_eq!(&will.payload[..], b"gone");
        }
        other => panic!("{other:?}"),
    }
    h.receive(ConnAck::new(false, ConnectReason::Success));
    assert!(matches!(h.events()[..], [Event::Connected(_)]));
    let sent = h.sent();
    assert!(
        matches!(&sent[..], [Packet::Publish(p)] if p.qos == QoS::AtLeastOnce),
        "{sent:?}"
    );
}

/// The version changes only between connections.
#[test]
fn set_version_is_refused_while_connecting_or_connected() {
    let mut h = Harness::new(options(V5));
    h.session.connect(h.now).unwrap();
    assert_eq!(h.session.set_version(V3), Err(StateError::AlreadyConnected));
    h.sent();
    h.receive(ConnAck::new(false, ConnectReason::Success));
    assert_eq!(h.session.set_version(V3), Err(StateError::AlreadyConnected));
    assert_eq!(h.session.options().version, V5);
}

/// A publish made with MQTT 5 properties before a fall back to 3.1.1
/// fails at the change (3.1.1 cannot carry them) instead of going out
/// without them; the others stay queued.
#[test]
fn a_v5_publish_queued_before_the_fallback_fails_to_encode() {
    let mut h = Harness::new(options(V5));
    h.session.connect(h.now).unwrap();
    h.sent();
    let mut p = msg("t", b"x", QoS::AtLeastOnce);
    p.properties = PublishProperties {
        content_type: Some(MqttString::try_from("text/plain").unwrap()),
        ..Default::default()
    }
    .into();
    let token = h.session.publish(p, h.now).unwrap();
    h.session
        .publish(msg("t", b"y", QoS::AtLeastOnce), h.now)
        .unwrap();
    h.receive_bytes(&[0x20, 0x02, 0x00, 0x01]);
    h.events();
    h.session.set_version(V3).unwrap();
    let events = h.events();
    assert!(
        matches!(
            &events[..],
            [Event::Published { token: t, result: Err(PublishError::Encode(_)) }] if *t == token
        ),
        "{events:?}"
    );
    assert_eq!(h.session.queued(), 1);
}

/// A session a broker holds keeps its version: once a CONNACK accepted a
/// connection, `set_version` is refused.
#[test]
fn set_version_is_refused_for_an_established_session() {
    let mut h = Harness::new(options(V5));
    h.connect(false);
    h.session.connection_lost(h.now);
    h.events();
    assert_eq!(
        h.session.set_version(V3),
        Err(StateError::SessionEstablished)
    );
}
