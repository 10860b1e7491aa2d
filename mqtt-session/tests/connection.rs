//! Connection-level scenarios of the session, with simulated time: CONNECT
//! built from the options, CONNACK and its MQTT 5 limits, keep-alive,
//! protocol violations, server DISCONNECT, AUTH, and the ends of a
//! connection. One test per flow or normative statement, named after the
//! statement where there is one (`mqtt_x_y_z_n_...`, 5.0 numbering unless
//! the name says v311); other statements a test proves are listed in a
//! `covers:` comment. Expected bytes are derived by hand in the comments.

mod common;

use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use sansmqtt_proto::{
    Auth, AuthReason, ConnAck, ConnAckProperties, Connect, ConnectReason, DecodeError, Disconnect,
    DisconnectReason, EncodeError, LastWill, MaximumQoS, MqttString, Packet, PacketType,
    ProtocolVersion, PubAck, PubRel, Publish, QoS, SubAck, SubAckReason, Subscribe,
    SubscribeProperties, SubscriptionId, SubscriptionOptions, UnsubAck, UnsubAckReason,
    Unsubscribe, UserProperty,
};
use sansmqtt_session::{
    CloseReason, Event, ProtocolError, PublishError, RequestError, SessionOptions, StateError,
};

const V3: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;
const BOTH: [ProtocolVersion; 2] = [V3, V5];

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn mstr(s: &str) -> MqttString {
    MqttString::try_from(s).unwrap()
}

fn user(name: &str, value: &str) -> UserProperty {
    UserProperty {
        name: mstr(name),
        value: mstr(value),
    }
}

fn sub(f: &str, qos: QoS) -> Vec<(sansmqtt_proto::TopicFilter, SubscriptionOptions)> {
    vec![(filter(f), SubscriptionOptions::qos(qos))]
}

/// A CONNACK accepting the connection with these properties.
fn accepted(properties: ConnAckProperties) -> ConnAck {
    ConnAck {
        session_present: false,
        reason: ConnectReason::Success,
        properties: properties.into(),
    }
}

/// connect(), check that exactly one CONNECT went out, answer `ack`, and
/// return the events that followed.
fn open(h: &mut Harness, ack: ConnAck) -> Vec<Event> {
    h.session.connect(h.now).expect("connect");
    let sent = h.sent();
    assert!(matches!(&sent[..], [Packet::Connect(_)]), "{sent:?}");
    h.receive(ack);
    h.events()
}

/// A session connected with the plain CONNACK of the harness.
fn connected(o: SessionOptions) -> Harness {
    let mut h = Harness::new(o);
    let after = h.connect(false);
    assert!(after.is_empty(), "{after:?}");
    h
}

/// An MQTT 5 session connected with these CONNACK properties.
fn connected_v5(o: SessionOptions, properties: ConnAckProperties) -> Harness {
    assert!(o.version.is_v5());
    let mut h = Harness::new(o);
    let events = open(&mut h, accepted(properties));
    assert!(matches!(&events[..], [Event::Connected(_)]), "{events:?}");
    h
}

/// The CONNECT that `h` sends next, decoded.
fn next_connect(h: &mut Harness) -> Connect {
    h.session.connect(h.now).expect("connect");
    match h.sent().as_slice() {
        [Packet::Connect(c)] => (**c).clone(),
        other => panic!("{other:?}"),
    }
}

/// The CONNECT the session sends for `o`, decoded.
fn connect_of(o: SessionOptions) -> Connect {
    next_connect(&mut Harness::new(o))
}

/// The broker broke the protocol: the last event is the typed close; in
/// MQTT 5 exactly a DISCONNECT with `reason` went out (byte-exact), in
/// 3.1.1 nothing [MQTT-4.13.1-1] (3.1.1: [MQTT-4.8.0-1]). Afterwards input
/// is ignored and nothing is sent. Returns the events.
fn assert_violation(h: &mut Harness, error: ProtocolError, reason: DisconnectReason) -> Vec<Event> {
    let events = h.events();
    assert_eq!(
        events.last(),
        Some(&Event::Closed(CloseReason::ProtocolViolation(
            error.clone()
        ))),
        "{events:?}"
    );
    assert_eq!(error.disconnect_reason(), reason);
    let sent = h.sent_bytes();
    if h.version.is_v5() {
        // DISCONNECT: type 14, remaining length 1, the reason code.
        assert_eq!(sent, [0xe0, 0x01, reason.code()], "{events:?}");
    } else {
        assert_eq!(sent, [0u8; 0], "no DISCONNECT in 3.1.1");
    }
    assert!(!h.session.is_connected());
    assert_eq!(h.session.poll_timeout(), None);
    h.receive(Packet::PingResp);
    h.advance(secs(3600));
    assert!(h.events().is_empty());
    assert!(h.sent_bytes().is_empty());
    events
}

fn closed(events: &[Event]) -> &CloseReason {
    match events.last() {
        Some(Event::Closed(reason)) => reason,
        _ => panic!("expected Closed last: {events:?}"),
    }
}

// ====================================================================
// CONNECT built from the options
// ====================================================================

/// covers: 3.1.1 MQTT-3.1.2-1 (name), MQTT-3.1.2-2 (level 4), MQTT-3.1.2-3
/// (reserved flag 0), MQTT-3.1.2-9 (will topic and message present),
/// MQTT-3.1.2-14 (will QoS), MQTT-3.1.2-17 (will retain), MQTT-3.1.2-19
/// (user name), MQTT-3.1.2-21 (password), MQTT-3.1.3-1 (payload order),
/// MQTT-3.1.3-3 (client id first).
#[test]
fn v311_connect_exact_bytes_with_will_username_and_binary_password() {
    let mut o = options(V3);
    o.client_id = mstr("c1");
    o.keep_alive = secs(30);
    let mut will = LastWill::new(topic("w/t"), Bytes::from_static(&[0x00, 0xff]));
    will.qos = QoS::AtLeastOnce;
    will.retain = true;
    o.will = Some(will);
    o.username = Some(mstr("u"));
    o.password = Some(Bytes::from_static(&[0x01, 0x00, 0x02]));
    let mut h = Harness::new(o);
    h.session.connect(h.now).unwrap();
    #[rustfmt::skip]
    let expected = [
        0x10, 0x1f,                         // CONNECT, remaining 31 = 10 + 21
        0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name
        0x04,                               // level 4 (3.1.1)
        0xee,                               // user 0x80 | password 0x40 | will retain 0x20
                                            // | will QoS 1 0x08 | will 0x04 | clean 0x02
        0x00, 0x1e,                         // keep alive 30 s
        0x00, 0x02, b'c', b'1',             // client identifier
        0x00, 0x03, b'w', b'/', b't',       // will topic
        0x00, 0x02, 0x00, 0xff,             // will message (binary)
        0x00, 0x01, b'u',                   // user name
        0x00, 0x03, 0x01, 0x00, 0x02,       // password (binary)
    ];
    assert_eq!(h.sent_bytes(), expected);
    assert_eq!(h.session.poll_timeout(), Some(h.now + secs(10)));
}

/// covers: 5.0 MQTT-3.1.2-1, MQTT-3.1.2-3, MQTT-3.1.2-9, MQTT-3.1.2-12,
/// MQTT-3.1.2-17, MQTT-3.1.2-19, MQTT-3.1.3-1 (client id, will properties,
/// will topic, will payload, user name, password), MQTT-3.1.3-3; will delay
/// (MQTT-3.1.3-9 is the server's side of it).
#[test]
fn v5_connect_exact_bytes_with_properties_will_properties_and_credentials() {
    let mut o = options(V5);
    o.client_id = mstr("c5");
    o.keep_alive = secs(10);
    let p = &mut o.properties;
    p.session_expiry_interval = Some(3600);
    p.receive_maximum = NonZeroU16::new(20);
    p.maximum_packet_size = NonZeroU32::new(1024);
    p.topic_alias_maximum = Some(5);
    p.request_response_information = Some(true);
    p.request_problem_information = Some(false);
    p.authentication_method = Some(mstr("SCRM"));
    p.authentication_data = Some(Bytes::from_static(&[0xaa, 0xbb]));
    p.user_properties = vec![user("k", "v")];
    let mut will = LastWill::new(topic("w"), Bytes::from_static(&[0x00, 0x01]));
    will.qos = QoS::ExactlyOnce;
    will.properties.will_delay_interval = Some(30);
    will.properties.message_expiry_interval = Some(60);
    o.will = Some(will);
    o.username = Some(mstr("u"));
    o.password = Some(Bytes::from_static(&[0x70]));
    let mut h = Harness::new(o);
    h.session.connect(h.now).unwrap();
    #[rustfmt::skip]
    let expected = [
        0x10, 0x4e,                         // CONNECT, remaining 78 = 50 + 28
        0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name
        0x05,                               // level 5
        0xd6,                               // user 0x80 | password 0x40 | will QoS 2 0x10
                                            // | will 0x04 | clean start 0x02
        0x00, 0x0a,                         // keep alive 10 s
        0x27,                               // property length 39
        0x11, 0x00, 0x00, 0x0e, 0x10,       // session expiry interval 3600
        0x21, 0x00, 0x14,                   // receive maximum 20
        0x27, 0x00, 0x00, 0x04, 0x00,       // maximum packet size 1024
        0x22, 0x00, 0x05,                   // topic alias maximum 5
        0x19, 0x01,                         // request response information 1
        0x17, 0x00,                         // request problem information 0
        0x15, 0x00, 0x04, b'S', b'C', b'R', b'M', // authentication method
        0x16, 0x00, 0x02, 0xaa, 0xbb,       // authentication data
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // user property k=v
        0x00, 0x02, b'c', b'5',             // client identifier
        0x0a,                               // will property length 10
        0x18, 0x00, 0x00, 0x00, 0x1e,       // will delay interval 30
        0x02, 0x00, 0x00, 0x00, 0x3c,       // message expiry interval 60
        0x00, 0x01, b'w',                   // will topic
        0x00, 0x02, 0x00, 0x01,             // will payload (binary)
        0x00, 0x01, b'u',                   // user name
        0x00, 0x01, 0x70,                   // password (binary)
    ];
    assert_eq!(h.sent_bytes(), expected);
}

/// covers: 3.1.1 MQTT-3.1.3-6 (a zero-byte client id), MQTT-3.1.3-7 (then
/// clean session 1); 5.0 MQTT-3.1.3-6.
#[test]
fn empty_client_id_with_clean_start_exact_bytes() {
    for version in BOTH {
        let mut o = options(version);
        o.client_id = MqttString::empty();
        let mut h = Harness::new(o);
        h.session.connect(h.now).unwrap();
        let bytes = h.sent_bytes();
        if version.is_v5() {
            #[rustfmt::skip]
            let expected = [
                0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05,
                0x02,       // clean start
                0x00, 0x3c, // keep alive 60 s
                0x00,       // no properties
                0x00, 0x00, // client identifier ""
            ];
            assert_eq!(bytes, expected);
        } else {
            #[rustfmt::skip]
            let expected = [
                0x10, 0x0c, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04,
                0x02,       // clean session
                0x00, 0x3c, // keep alive 60 s
                0x00, 0x00, // client identifier ""
            ];
            assert_eq!(bytes, expected);
        }
    }
}

/// 3.1.1 MQTT-3.1.3-7: a zero-byte ClientId requires CleanSession 1, so the
/// session refuses to build that CONNECT and sends nothing. MQTT 5 has no
/// such rule.
#[test]
fn mqtt_3_1_3_7_v311_empty_client_id_without_clean_session_is_refused() {
    let mut o = options(V3);
    o.client_id = MqttString::empty();
    o.clean_start = false;
    let mut h = Harness::new(o);
    assert!(matches!(
        h.session.connect(h.now),
        Err(StateError::InvalidConnect(_))
    ));
    assert!(h.sent_bytes().is_empty());
    assert_eq!(h.session.poll_timeout(), None);
    assert!(h.events().is_empty());

    let mut o = options(V5);
    o.client_id = MqttString::empty();
    o.clean_start = false;
    let c = connect_of(o);
    assert!(c.client_id.as_str().is_empty() && !c.clean_start);
}

/// covers: 3.1.1 MQTT-3.1.2-4 / MQTT-3.1.2-6, 5.0 MQTT-3.1.2-4 / -5: the
/// Clean Start flag (bit 1) follows the option.
#[test]
fn clean_start_flag_follows_the_option() {
    for version in BOTH {
        for clean in [true, false] {
            let mut o = options(version);
            o.clean_start = clean;
            let mut h = Harness::new(o);
            h.session.connect(h.now).unwrap();
            let bytes = h.sent_bytes();
            // Fixed header (2) + protocol name (6) + level (1): flags at 9.
            assert_eq!(bytes[9], if clean { 0x02 } else { 0x00 }, "{version:?}");
        }
    }
}

/// Keep Alive goes out in whole seconds, clamped to 65,535.
#[test]
fn keep_alive_seconds_follow_the_option() {
    for version in BOTH {
        for (keep_alive, wire) in [
            (secs(0), 0u16),
            (secs(45), 45),
            (ms(1500), 1),
            (secs(65_535), 65_535),
            (secs(100_000), 65_535),
        ] {
            let mut o = options(version);
            o.keep_alive = keep_alive;
            let mut h = Harness::new(o);
            h.session.connect(h.now).unwrap();
            let bytes = h.sent_bytes();
            assert_eq!(
                u16::from_be_bytes([bytes[10], bytes[11]]),
                wire,
                "{keep_alive:?}"
            );
        }
    }
}

/// covers: 3.1.1 MQTT-3.1.2-11, -13, -14, -15; 5.0 MQTT-3.1.2-11, -12, -13:
/// the will flags follow the will: QoS bits 3-4, retain bit 5, flag bit 2,
/// and all zero without a will.
#[test]
fn will_flags_follow_the_will() {
    for version in BOTH {
        let mut o = options(version);
        o.will = None;
        let mut h = Harness::new(o);
        h.session.connect(h.now).unwrap();
        assert_eq!(h.sent_bytes()[9], 0x02);
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            for retain in [false, true] {
                let mut o = options(version);
                let mut will = LastWill::new(topic("dead"), Bytes::from_static(b"\x00bye"));
                will.qos = qos;
                will.retain = retain;
                o.will = Some(will.clone());
                let mut h = Harness::new(o.clone());
                h.session.connect(h.now).unwrap();
                let flags = h.sent_bytes()[9];
                let expected = 0x02 | 0x04 | ((qos as u8) << 3) | if retain { 0x20 } else { 0 };
                assert_eq!(flags, expected, "{version:?} {qos:?} {retain}");
                let c = connect_of(o);
                assert_eq!(c.will, Some(will));
            }
        }
    }
}

/// covers: 3.1.1 MQTT-3.1.2-18..-22, 5.0 MQTT-3.1.2-16..-19: user name and
/// binary password as given; a password alone is refused in 3.1.1
/// (MQTT-3.1.2-22) and allowed in 5.0.
#[test]
fn username_and_binary_password() {
    for version in BOTH {
        let mut o = options(version);
        o.username = Some(mstr("user"));
        o.password = Some(Bytes::from_static(&[0x00, 0xfe, 0xff, 0x80]));
        let c = connect_of(o);
        assert_eq!(c.username, Some(mstr("user")));
        assert_eq!(
            c.password,
            Some(Bytes::from_static(&[0x00, 0xfe, 0xff, 0x80]))
        );
        assert_eq!(c.protocol, version);
        assert_eq!(c.client_id, mstr("test-client"));
    }
    let mut o = options(V3);
    o.password = Some(Bytes::from_static(b"secret"));
    let mut h = Harness::new(o);
    assert_eq!(
        h.session.connect(h.now),
        Err(StateError::InvalidConnect(
            EncodeError::PasswordWithoutUsername
        ))
    );
    assert!(h.sent_bytes().is_empty());
    let mut o = options(V5);
    o.password = Some(Bytes::from_static(b"secret"));
    let c = connect_of(o);
    assert_eq!(c.username, None);
    assert_eq!(c.password, Some(Bytes::from_static(b"secret")));
}

/// MQTT 5 CONNECT properties and will properties go out as set; in 3.1.1
/// CONNECT properties are left out, and will properties cannot be encoded.
#[test]
fn v5_connect_properties_as_set_and_absent_in_v311() {
    let mut o = options(V5);
    o.properties.session_expiry_interval = Some(u32::MAX);
    o.properties.receive_maximum = NonZeroU16::new(1);
    o.properties.maximum_packet_size = NonZeroU32::new(128);
    o.properties.topic_alias_maximum = Some(0);
    o.properties.request_response_information = Some(false);
    o.properties.request_problem_information = Some(true);
    o.properties.user_properties = vec![user("a", "1"), user("a", "2"), user("b", "")];
    o.properties.authentication_method = Some(mstr("OTP"));
    o.properties.authentication_data = Some(Bytes::from_static(&[0, 1, 2]));
    let mut will = LastWill::new(topic("w"), Bytes::new());
    will.properties.will_delay_interval = Some(u32::MAX);
    will.properties.content_type = Some(mstr("text/plain"));
    will.properties.user_properties = vec![user("z", "y")];
    o.will = Some(will.clone());
    let c = connect_of(o.clone());
    assert_eq!(*c.properties, o.properties);
    assert_eq!(c.will, Some(will));

    // 3.1.1: the same options without the will properties send a CONNECT
    // without properties.
    let mut o3 = o.clone();
    o3.version = V3;
    o3.will = None;
    let c = connect_of(o3.clone());
    assert!(c.properties.is_empty());
    // With will properties, the CONNECT cannot be built.
    o3.will = Some(LastWill {
        qos: QoS::AtMostOnce,
        ..o.will.clone().unwrap()
    });
    let mut h = Harness::new(o3);
    assert!(matches!(
        h.session.connect(h.now),
        Err(StateError::InvalidConnect(EncodeError::NotInVersion { .. }))
    ));
    assert!(h.sent_bytes().is_empty());
}

/// 3.1.1 and 5.0 MQTT-3.1.0-2: a second CONNECT on a connection is a
/// protocol violation, so `connect` refuses while connecting or connected.
#[test]
fn mqtt_3_1_0_2_no_second_connect_on_a_connection() {
    for version in BOTH {
        let mut h = Harness::new(options(version));
        h.session.connect(h.now).unwrap();
        assert_eq!(h.session.connect(h.now), Err(StateError::AlreadyConnected));
        assert_eq!(h.sent().len(), 1);
        h.receive(ConnAck::new(false, ConnectReason::Success));
        assert_eq!(h.session.connect(h.now), Err(StateError::AlreadyConnected));
        assert!(h.sent().is_empty());
    }
}

// ====================================================================
// Before CONNACK
// ====================================================================

/// Commands issued while connecting keep their order across kinds: a
/// SUBSCRIBE to a response topic issued before the request PUBLISH goes
/// out before it, so the response cannot be missed.
#[test]
fn waiting_commands_keep_their_order_across_kinds() {
    for version in BOTH {
        let mut h = Harness::new(options(version));
        h.session.connect(h.now).unwrap();
        h.sent();
        h.session
            .subscribe(sub("resp/#", QoS::AtLeastOnce), Default::default(), h.now)
            .unwrap();
        h.session
            .publish(msg("req", b"1", QoS::AtLeastOnce), h.now)
            .unwrap();
        h.session
            .unsubscribe(vec![filter("old/+")], Default::default(), h.now)
            .unwrap();
        h.session
            .publish(msg("req", b"2", QoS::AtMostOnce), h.now)
            .unwrap();
        h.receive(ConnAck::new(false, ConnectReason::Success));
        let kinds: Vec<_> = h.sent().iter().map(Packet::packet_type).collect();
        assert_eq!(
            kinds,
            [
                PacketType::Subscribe,
                PacketType::Publish,
                PacketType::Unsubscribe,
                PacketType::Publish
            ],
            "{version:?}"
        );
    }
}

/// covers: 3.1.1 and 5.0 MQTT-3.1.0-1 (CONNECT first). Nothing but CONNECT
/// goes out before CONNACK; publishes, subscribes and unsubscribes issued
/// meanwhile wait, and go out right after CONNACK, in order.
#[test]
fn mqtt_3_1_0_1_only_connect_before_connack_then_waiting_commands_in_order() {
    for version in BOTH {
        let mut h = Harness::new(options(version));
        h.session.connect(h.now).unwrap();
        assert!(matches!(&h.sent()[..], [Packet::Connect(_)]));
        let t0 = h
            .session
            .publish(msg("a", b"0", QoS::AtMostOnce), h.now)
            .unwrap();
        let t1 = h
            .session
            .publish(msg("b", b"1", QoS::AtLeastOnce), h.now)
            .unwrap();
        let t2 = h
            .session
            .publish(msg("c", b"2", QoS::ExactlyOnce), h.now)
            .unwrap();
        h.session
            .subscribe(sub("s/#", QoS::AtLeastOnce), Default::default(), h.now)
            .unwrap();
        h.session
            .unsubscribe(vec![filter("u/+")], Default::default(), h.now)
            .unwrap();
        assert_eq!(h.session.ping(h.now), Err(StateError::NotConnected));
        h.advance(secs(9));
        assert!(h.sent_bytes().is_empty(), "nothing before CONNACK");
        assert!(h.events().is_empty());
        assert_eq!(h.session.queued(), 3);

        h.receive(ConnAck::new(false, ConnectReason::Success));
        let sent = h.sent();
        let kinds: Vec<_> = sent.iter().map(Packet::packet_type).collect();
        assert_eq!(
            kinds,
            [
                PacketType::Publish,
                PacketType::Publish,
                PacketType::Publish,
                PacketType::Subscribe,
                PacketType::Unsubscribe
            ],
            "{version:?}"
        );
        let topics: Vec<_> = sent
            .iter()
            .filter_map(|p| match p {
                Packet::Publish(p) => Some(p.topic.as_str().to_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(topics, ["a", "b", "c"]);
        let events = h.events();
        assert!(matches!(events[0], Event::Connected(_)));
        assert!(
            matches!(&events[1..], [Event::Published { token, result: Ok(_) }] if *token == t0),
            "{events:?}"
        );
        assert_eq!(h.session.inflight(), 2);
        assert_ne!(t1, t2);
    }
}

/// covers: 5.0 MQTT-3.1.2-30: with an Authentication Method, the client
/// sends only AUTH (or DISCONNECT) until CONNACK.
#[test]
fn mqtt_3_1_2_30_only_auth_before_connack() {
    let mut o = options(V5);
    o.properties.authentication_method = Some(mstr("SCRAM-SHA-1"));
    let mut h = Harness::new(o);
    h.session.connect(h.now).unwrap();
    h.sent();
    h.session
        .publish(msg("t", b"x", QoS::AtLeastOnce), h.now)
        .unwrap();
    let mut challenge = Auth {
        reason: AuthReason::ContinueAuthentication,
        ..Auth::default()
    };
    challenge.properties.authentication_method = Some(mstr("SCRAM-SHA-1"));
    challenge.properties.authentication_data = Some(Bytes::from_static(b"nonce"));
    h.receive(challenge.clone());
    assert_eq!(h.events(), [Event::Auth(challenge)]);
    let mut answer = Auth {
        reason: AuthReason::ContinueAuthentication,
        ..Auth::default()
    };
    answer.properties.authentication_method = Some(mstr("SCRAM-SHA-1"));
    answer.properties.authentication_data = Some(Bytes::from_static(b"proof"));
    h.session.auth(answer.clone(), h.now).unwrap();
    assert_eq!(h.sent(), [Packet::Auth(answer)]);
    let mut connack = ConnAck::new(false, ConnectReason::Success);
    connack.properties.authentication_method = Some(mstr("SCRAM-SHA-1"));
    h.receive(connack);
    // Still nothing but AUTH until the server's final data is accepted.
    assert!(matches!(
        &h.events()[..],
        [Event::AuthSuccess { data: None }]
    ));
    assert!(h.sent().is_empty());
    h.session.accept_auth(h.now);
    assert!(matches!(&h.sent()[..], [Packet::Publish(_)]));
}

// ====================================================================
// CONNACK
// ====================================================================

/// 3.1.1 §3.2.2.3, MQTT-3.2.2-5: every refusing return code (2 to 5)
/// closes the connection with its reason; nothing is sent, nothing waits.
/// (Return code 1, unacceptable protocol version, has its own close
/// reason: tests/version.rs.)
#[test]
fn v311_every_refusing_return_code_closes_with_refused() {
    for (code, reason) in [
        (2u8, ConnectReason::ClientIdentifierNotValid),
        (3, ConnectReason::ServerUnavailable),
        (4, ConnectReason::BadUserNameOrPassword),
        (5, ConnectReason::NotAuthorized),
    ] {
        let mut h = Harness::new(options(V3));
        h.session.connect(h.now).unwrap();
        h.sent();
        h.session
            .publish(msg("t", b"x", QoS::AtLeastOnce), h.now)
            .unwrap();
        // CONNACK: flags 0, return code.
        h.receive_bytes(&[0x20, 0x02, 0x00, code]);
        assert_eq!(
            h.events(),
            [Event::Closed(CloseReason::Refused {
                reason,
                properties: Box::default()
            })],
            "return code {code}"
        );
        assert!(h.sent_bytes().is_empty());
        assert!(!h.session.is_connected());
        assert_eq!(h.session.poll_timeout(), None);
        assert_eq!(h.session.queued(), 1, "the publish waits for a connection");
    }
}

/// 5.0 §3.2.2.2, MQTT-4.13.2-1: a CONNACK reason code of 0x80 or above
/// closes with that reason and the CONNACK properties.
#[test]
fn v5_refusing_reason_codes_close_with_refused_and_properties() {
    for reason in [
        ConnectReason::UnspecifiedError,
        ConnectReason::MalformedPacket,
        ConnectReason::ProtocolError,
        ConnectReason::ClientIdentifierNotValid,
        ConnectReason::BadUserNameOrPassword,
        ConnectReason::NotAuthorized,
        ConnectReason::ServerUnavailable,
        ConnectReason::ServerBusy,
        ConnectReason::Banned,
        ConnectReason::BadAuthenticationMethod,
        ConnectReason::PacketTooLarge,
        ConnectReason::QuotaExceeded,
        ConnectReason::RetainNotSupported,
        ConnectReason::QoSNotSupported,
        ConnectReason::UseAnotherServer,
        ConnectReason::ServerMoved,
        ConnectReason::ConnectionRateExceeded,
    ] {
        let mut h = Harness::new(options(V5));
        h.session.connect(h.now).unwrap();
        h.sent();
        let mut properties = ConnAckProperties {
            reason_string: Some(mstr("go away")),
            ..Default::default()
        };
        if matches!(
            reason,
            ConnectReason::UseAnotherServer | ConnectReason::ServerMoved
        ) {
            properties.server_reference = Some(mstr("other:1883"));
        }
        h.receive(ConnAck {
            session_present: false,
            reason,
            properties: properties.clone().into(),
        });
        assert_eq!(
            h.events(),
            [Event::Closed(CloseReason::Refused {
                reason,
                properties: Box::new(properties)
            })],
            "{reason}"
        );
        assert!(h.sent_bytes().is_empty(), "no DISCONNECT after a refusal");
        assert!(!h.session.is_connected());
        assert_eq!(h.session.poll_timeout(), None);
    }
}

/// covers: 3.1.1 MQTT-3.2.2-2, 5.0 MQTT-3.2.2-3: Session Present is
/// reported, with the CONNACK properties.
#[test]
fn session_present_is_reported() {
    for version in BOTH {
        for present in [false, true] {
            let mut o = options(version);
            o.clean_start = false;
            let mut h = Harness::new(o);
            let mut ack = ConnAck::new(present, ConnectReason::Success);
            if version.is_v5() {
                ack.properties.session_expiry_interval = Some(60);
            }
            let events = open(&mut h, ack.clone());
            assert_eq!(
                events,
                [Event::Connected(sansmqtt_session::Connected {
                    session_present: present,
                    properties: Box::new(ack.properties.into_inner()),
                })]
            );
            assert!(h.session.is_connected());
        }
    }
}

/// 5.0 MQTT-3.2.2-2 (3.1.1 MQTT-3.2.2-1): Session Present with Clean Start
/// is a protocol violation; v5 sends DISCONNECT 0x82 first.
#[test]
fn mqtt_3_2_2_2_session_present_with_clean_start_is_a_violation() {
    for version in BOTH {
        let mut h = Harness::new(options(version));
        h.session.connect(h.now).unwrap();
        h.sent();
        h.receive(ConnAck::new(true, ConnectReason::Success));
        let events = assert_violation(
            &mut h,
            ProtocolError::SessionPresentOnCleanStart,
            DisconnectReason::ProtocolError,
        );
        assert_eq!(events.len(), 1, "never Connected: {events:?}");
    }
}

/// 3.1.1 and 5.0 §3.2 (no CONNACK within a reasonable time): the CONNACK
/// deadline closes with ConnAckTimeout exactly when the clock reaches it.
#[test]
fn connack_deadline_closes_with_connack_timeout() {
    for version in BOTH {
        let mut o = options(version);
        o.connect_timeout = secs(5);
        let mut h = Harness::new(o);
        h.session.connect(h.now).unwrap();
        h.sent();
        assert_eq!(h.session.poll_timeout(), Some(h.start + secs(5)));
        h.advance(ms(4_999));
        assert!(h.events().is_empty());
        h.advance(ms(1));
        assert_eq!(h.events(), [Event::Closed(CloseReason::ConnAckTimeout)]);
        assert!(h.sent_bytes().is_empty());
        assert_eq!(h.session.poll_timeout(), None);
        // A late CONNACK is ignored.
        h.receive(ConnAck::new(false, ConnectReason::Success));
        assert!(h.events().is_empty());
        assert!(!h.session.is_connected());
    }
}

/// A CONNACK in time disarms the CONNACK deadline.
#[test]
fn connack_in_time_disarms_the_deadline() {
    for version in BOTH {
        let mut o = options(version);
        o.connect_timeout = secs(5);
        o.keep_alive = Duration::ZERO;
        let mut h = Harness::new(o);
        h.session.connect(h.now).unwrap();
        h.sent();
        h.advance(ms(4_999));
        h.receive(ConnAck::new(false, ConnectReason::Success));
        assert!(matches!(&h.events()[..], [Event::Connected(_)]));
        assert_eq!(h.session.poll_timeout(), None);
        h.advance(secs(60));
        assert!(h.events().is_empty());
        assert!(h.session.is_connected());
    }
}

// ====================================================================
// MQTT 5 CONNACK properties
// ====================================================================

/// covers: MQTT-3.3.4-7, MQTT-4.9.0-1, MQTT-4.9.0-2 (no QoS > 0 PUBLISH at
/// a send quota of 0; the rest queue), MQTT-3.3.4-8 / MQTT-4.9.0-3 (other
/// packets are not delayed).
#[test]
fn mqtt_3_3_4_7_server_receive_maximum_limits_inflight_publishes() {
    let props = ConnAckProperties {
        receive_maximum: NonZeroU16::new(2),
        ..Default::default()
    };
    let mut h = connected_v5(options(V5), props);
    assert_eq!(h.session.inflight_limit(), 2);
    for i in 0..4u8 {
        let qos = if i % 2 == 0 {
            QoS::AtLeastOnce
        } else {
            QoS::ExactlyOnce
        };
        h.session.publish(msg("t", b"x", qos), h.now).unwrap();
    }
    let sent = h.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(h.session.inflight(), 2);
    assert_eq!(h.session.queued(), 2);
    // Not delayed by the quota.
    h.session
        .subscribe(sub("x", QoS::AtMostOnce), Default::default(), h.now)
        .unwrap();
    assert!(matches!(&h.sent()[..], [Packet::Subscribe(_)]));
    h.session.ping(h.now).unwrap();
    assert_eq!(h.sent(), [Packet::PingReq]);
    // PUBACK frees one slot: exactly one more goes out.
    h.receive(PubAck::new(pid(1)));
    let sent = h.sent();
    assert!(
        matches!(&sent[..], [Packet::Publish(p)] if p.qos == QoS::AtLeastOnce),
        "{sent:?}"
    );
    assert_eq!((h.session.inflight(), h.session.queued()), (2, 1));
}

/// Our own max_inflight is lowered by the server's Receive Maximum, never raised.
#[test]
fn inflight_limit_is_the_lower_of_ours_and_the_servers() {
    let mut o = options(V5);
    o.max_inflight = 3;
    let h = connected_v5(
        o.clone(),
        ConnAckProperties {
            receive_maximum: NonZeroU16::new(10),
            ..Default::default()
        },
    );
    assert_eq!(h.session.inflight_limit(), 3);
    let h = connected_v5(o, ConnAckProperties::default());
    assert_eq!(h.session.inflight_limit(), 3);
}

/// MQTT-3.2.2-11: no PUBLISH above the server's Maximum QoS.
#[test]
fn mqtt_3_2_2_11_maximum_qos_refuses_publishes_above_it() {
    for (max, maximum_qos) in [
        (QoS::AtMostOnce, MaximumQoS::AtMostOnce),
        (QoS::AtLeastOnce, MaximumQoS::AtLeastOnce),
    ] {
        let mut h = Harness::new(options(V5));
        h.session.connect(h.now).unwrap();
        h.sent();
        // Queued before CONNACK: fails once the limit is known.
        let early = h
            .session
            .publish(msg("t", b"x", QoS::ExactlyOnce), h.now)
            .unwrap();
        h.receive(accepted(ConnAckProperties {
            maximum_qos: Some(maximum_qos),
            ..Default::default()
        }));
        let events = h.events();
        assert!(matches!(events[0], Event::Connected(_)));
        assert_eq!(
            events[1..],
            [Event::Published {
                token: early,
                result: Err(PublishError::QoSNotSupported {
                    qos: QoS::ExactlyOnce,
                    max
                })
            }]
        );
        assert!(h.sent().is_empty());
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let r = h.session.publish(msg("t", b"x", qos), h.now);
            if qos > max {
                assert_eq!(r, Err(PublishError::QoSNotSupported { qos, max }));
                assert!(h.sent().is_empty());
            } else {
                r.unwrap();
                assert!(matches!(&h.sent()[..], [Packet::Publish(p)] if p.qos == qos));
            }
        }
    }
}

/// MQTT-3.2.2-14: no RETAIN 1 when Retain Available is 0.
#[test]
fn mqtt_3_2_2_14_retain_unavailable_refuses_retained_publishes() {
    let mut h = connected_v5(
        options(V5),
        ConnAckProperties {
            retain_available: Some(false),
            ..Default::default()
        },
    );
    let mut m = msg("t", b"x", QoS::AtLeastOnce);
    m.retain = true;
    assert_eq!(
        h.session.publish(m.clone(), h.now),
        Err(PublishError::RetainNotSupported)
    );
    assert!(h.sent().is_empty());
    m.retain = false;
    h.session.publish(m, h.now).unwrap();
    assert!(matches!(&h.sent()[..], [Packet::Publish(p)] if !p.retain));
}

/// MQTT-3.2.2-15: nothing larger than the server's Maximum Packet Size,
/// whole packet counted; a packet of exactly the maximum goes out.
#[test]
fn mqtt_3_2_2_15_maximum_packet_size_refuses_larger_packets() {
    // QoS 0 PUBLISH "t", n payload bytes: 2 (fixed header) + 3 (topic) + 1
    // (property length) + n.
    let mut h = connected_v5(
        options(V5),
        ConnAckProperties {
            maximum_packet_size: NonZeroU32::new(20),
            ..Default::default()
        },
    );
    let fits = Publish::at_most_once(topic("t"), vec![0u8; 14]);
    assert_eq!(fits.encoded_len(V5).unwrap(), 20);
    h.session.publish(fits, h.now).unwrap();
    assert_eq!(h.sent_bytes().len(), 20);
    assert!(matches!(
        &h.events()[..],
        [Event::Published { result: Ok(_), .. }]
    ));
    let too_big = Publish::at_most_once(topic("t"), vec![0u8; 15]);
    assert_eq!(
        h.session.publish(too_big, h.now),
        Err(PublishError::PacketTooLarge { size: 21, max: 20 })
    );
    assert!(h.sent_bytes().is_empty());
    // SUBSCRIBE: 2 + 2 (id) + 1 (properties) + (2 + n + 1) per filter.
    let token = h
        .session
        .subscribe(
            sub(&"f".repeat(13), QoS::AtMostOnce),
            Default::default(),
            h.now,
        )
        .unwrap();
    assert!(h.sent_bytes().is_empty());
    assert_eq!(
        h.events(),
        [Event::Subscribed {
            token,
            result: Err(RequestError::PacketTooLarge { size: 21, max: 20 }),
            properties: Default::default()
        }]
    );
    h.session
        .subscribe(
            sub(&"f".repeat(12), QoS::AtMostOnce),
            Default::default(),
            h.now,
        )
        .unwrap();
    assert_eq!(h.sent_bytes().len(), 20);
}

/// covers: MQTT-3.2.2-17, MQTT-3.3.2-8, MQTT-3.3.2-9: automatic topic
/// aliases within the server's Topic Alias Maximum: the first publish to a
/// topic carries topic and alias, the next ones an empty topic and the
/// alias; beyond the maximum, topics go out in full.
#[test]
fn mqtt_3_2_2_17_auto_topic_alias_first_topic_then_alias_only() {
    let mut o = options(V5);
    o.auto_topic_alias = true;
    let mut h = connected_v5(
        o,
        ConnAckProperties {
            topic_alias_maximum: Some(2),
            ..Default::default()
        },
    );
    h.session
        .publish(msg("a/b", b"x", QoS::AtMostOnce), h.now)
        .unwrap();
    #[rustfmt::skip]
    let first = [
        0x30, 0x0a,                   // PUBLISH QoS 0, remaining 10
        0x00, 0x03, b'a', b'/', b'b', // topic
        0x03, 0x23, 0x00, 0x01,       // topic alias 1
        b'x',
    ];
    assert_eq!(h.sent_bytes(), first);
    h.session
        .publish(msg("a/b", b"x", QoS::AtMostOnce), h.now)
        .unwrap();
    #[rustfmt::skip]
    let second = [
        0x30, 0x07,             // PUBLISH QoS 0, remaining 7
        0x00, 0x00,             // empty topic
        0x03, 0x23, 0x00, 0x01, // topic alias 1
        b'x',
    ];
    assert_eq!(h.sent_bytes(), second);
    h.session
        .publish(msg("c", b"y", QoS::AtLeastOnce), h.now)
        .unwrap();
    let sent = h.sent();
    let [Packet::Publish(p)] = &sent[..] else {
        panic!("{sent:?}")
    };
    assert_eq!(p.topic.as_str(), "c");
    assert_eq!(p.properties.topic_alias, NonZeroU16::new(2));
    // The maximum is reached: a third topic goes out in full, no alias.
    h.session
        .publish(msg("d", b"z", QoS::AtMostOnce), h.now)
        .unwrap();
    let sent = h.sent();
    let [Packet::Publish(p)] = &sent[..] else {
        panic!("{sent:?}")
    };
    assert_eq!(p.topic.as_str(), "d");
    assert_eq!(p.properties.topic_alias, None);
    // The events report the topic as published, not the alias.
    for e in h.events() {
        assert!(matches!(e, Event::Published { result: Ok(_), .. }), "{e:?}");
    }
}

/// MQTT-3.2.2-18: without a server Topic Alias Maximum, no alias is sent,
/// even with automatic aliases on; and never in 3.1.1.
#[test]
fn mqtt_3_2_2_18_no_topic_alias_without_server_maximum() {
    for version in BOTH {
        let mut o = options(version);
        o.auto_topic_alias = true;
        let mut h = connected(o);
        for _ in 0..2 {
            h.session
                .publish(msg("a/b", b"x", QoS::AtMostOnce), h.now)
                .unwrap();
            let sent = h.sent();
            let [Packet::Publish(p)] = &sent[..] else {
                panic!("{sent:?}")
            };
            assert_eq!(p.topic.as_str(), "a/b");
            assert_eq!(p.properties.topic_alias, None);
        }
    }
}

/// MQTT-3.3.2-7: topic aliases do not carry over to the next connection;
/// the first publish after a reconnect defines the alias again.
#[test]
fn mqtt_3_3_2_7_outbound_topic_aliases_reset_on_reconnect() {
    let mut o = options(V5);
    o.auto_topic_alias = true;
    let props = ConnAckProperties {
        topic_alias_maximum: Some(4),
        ..Default::default()
    };
    let mut h = connected_v5(o, props.clone());
    for _ in 0..2 {
        h.session
            .publish(msg("a/b", b"x", QoS::AtMostOnce), h.now)
            .unwrap();
    }
    let sent = h.sent();
    assert!(matches!(&sent[1], Packet::Publish(p) if p.topic.is_empty()));
    h.session.connection_lost(h.now);
    h.events();
    let events = open(&mut h, accepted(props));
    assert!(matches!(&events[..], [Event::Connected(_)]));
    h.session
        .publish(msg("a/b", b"x", QoS::AtMostOnce), h.now)
        .unwrap();
    let sent = h.sent();
    let [Packet::Publish(p)] = &sent[..] else {
        panic!("{sent:?}")
    };
    assert_eq!(p.topic.as_str(), "a/b");
    assert_eq!(p.properties.topic_alias, NonZeroU16::new(1));
}

/// MQTT-3.2.2-15 with automatic aliases: the alias property must not push a
/// PUBLISH that fits without it over the server's Maximum Packet Size.
#[test]
fn mqtt_3_2_2_15_auto_topic_alias_never_exceeds_maximum_packet_size() {
    let mut o = options(V5);
    o.auto_topic_alias = true;
    // QoS 0 "a/b" "x": 2 + 5 + 1 + 1 = 9 bytes; with the alias, 12.
    let mut h = connected_v5(
        o,
        ConnAckProperties {
            topic_alias_maximum: Some(5),
            maximum_packet_size: NonZeroU32::new(9),
            ..Default::default()
        },
    );
    for _ in 0..2 {
        h.session
            .publish(msg("a/b", b"x", QoS::AtMostOnce), h.now)
            .unwrap();
        let bytes = h.sent_bytes();
        assert!(bytes.len() <= 9, "{bytes:02x?}");
    }
}

/// covers: MQTT-3.2.2-16, 5.0 MQTT-3.1.3-7: the Assigned Client Identifier
/// of CONNACK is kept.
#[test]
fn mqtt_3_2_2_16_assigned_client_identifier() {
    let mut o = options(V5);
    o.client_id = MqttString::empty();
    let mut h = Harness::new(o);
    assert_eq!(h.session.assigned_client_id(), None);
    let events = open(
        &mut h,
        accepted(ConnAckProperties {
            assigned_client_identifier: Some(mstr("auto-7f3a")),
            ..Default::default()
        }),
    );
    assert!(matches!(&events[..], [Event::Connected(c)]
        if c.properties.assigned_client_identifier == Some(mstr("auto-7f3a"))));
    assert_eq!(h.session.assigned_client_id(), Some(&mstr("auto-7f3a")));

    // The assigned identifier names the session from then on: the next
    // CONNECT carries it instead of an empty one (which would start afresh).
    h.session.connection_lost(h.now);
    h.events();
    h.session.connect(h.now).unwrap();
    let sent = h.sent();
    assert!(
        matches!(&sent[..], [Packet::Connect(c)] if c.client_id == mstr("auto-7f3a")),
        "{sent:?}"
    );
}

/// MQTT-3.2.2-21: the Server Keep Alive replaces ours; PINGREQ follows it.
#[test]
fn mqtt_3_2_2_21_server_keep_alive_overrides_ours() {
    let mut o = options(V5);
    o.keep_alive = secs(60);
    let mut h = connected_v5(
        o,
        ConnAckProperties {
            server_keep_alive: Some(5),
            ..Default::default()
        },
    );
    assert_eq!(h.session.poll_timeout(), Some(h.start + secs(5)));
    h.advance(ms(4_999));
    assert!(h.sent_bytes().is_empty());
    h.advance(ms(1));
    assert_eq!(h.sent_bytes(), [0xc0, 0x00]);
    h.receive(Packet::PingResp);
    h.advance(secs(5));
    assert_eq!(h.sent_bytes(), [0xc0, 0x00]);
}

/// MQTT-3.2.2-21 with a Server Keep Alive of 0: keep-alive is off.
#[test]
fn mqtt_3_2_2_21_server_keep_alive_zero_disables_pings() {
    let mut h = connected_v5(
        options(V5),
        ConnAckProperties {
            server_keep_alive: Some(0),
            ..Default::default()
        },
    );
    assert_eq!(h.session.poll_timeout(), None);
    h.advance(secs(3600));
    assert!(h.sent_bytes().is_empty());
}

/// §3.2.2.3.11 to 13: with Wildcard Subscription, Subscription Identifiers
/// or Shared Subscription Available at 0, a SUBSCRIBE using the feature
/// fails with NotSupported and is not sent; others go out.
#[test]
fn unavailable_subscription_features_fail_matching_subscribes() {
    let mut h = connected_v5(
        options(V5),
        ConnAckProperties {
            wildcard_subscription_available: Some(false),
            subscription_identifier_available: Some(false),
            shared_subscription_available: Some(false),
            ..Default::default()
        },
    );
    let with_id = SubscribeProperties {
        subscription_identifier: SubscriptionId::new(7),
        ..Default::default()
    };
    for (f, props, what) in [
        (
            "a/+",
            SubscribeProperties::default(),
            "wildcard subscriptions",
        ),
        (
            "a/#",
            SubscribeProperties::default(),
            "wildcard subscriptions",
        ),
        (
            "$share/g/a",
            SubscribeProperties::default(),
            "shared subscriptions",
        ),
        ("a/b", with_id, "subscription identifiers"),
    ] {
        let token = h
            .session
            .subscribe(sub(f, QoS::AtLeastOnce), props, h.now)
            .unwrap();
        assert!(h.sent().is_empty(), "{f}");
        assert_eq!(
            h.events(),
            [Event::Subscribed {
                token,
                result: Err(RequestError::NotSupported(what)),
                properties: Default::default()
            }]
        );
    }
    h.session
        .subscribe(sub("a/b", QoS::AtLeastOnce), Default::default(), h.now)
        .unwrap();
    assert!(matches!(&h.sent()[..], [Packet::Subscribe(_)]));
}

/// A SUBSCRIBE issued before CONNACK meets the limits of that CONNACK.
#[test]
fn subscribe_issued_while_connecting_meets_connack_limits() {
    let mut h = Harness::new(options(V5));
    h.session.connect(h.now).unwrap();
    h.sent();
    let token = h
        .session
        .subscribe(sub("a/+", QoS::AtMostOnce), Default::default(), h.now)
        .unwrap();
    h.receive(accepted(ConnAckProperties {
        wildcard_subscription_available: Some(false),
        ..Default::default()
    }));
    let events = h.events();
    assert!(matches!(
        &events[..],
        [Event::Connected(_), Event::Subscribed { token: t, result: Err(RequestError::NotSupported(_)), .. }]
            if *t == token
    ));
    assert!(h.sent().is_empty());
}

// ====================================================================
// Keep-alive
// ====================================================================

/// 3.1.1 MQTT-3.1.2-23, 5.0 MQTT-3.1.2-20: PINGREQ (C0 00) exactly when
/// nothing was sent for the Keep Alive, counted from CONNECT.
#[test]
fn mqtt_3_1_2_20_pingreq_exactly_after_keep_alive_without_sending() {
    for version in BOTH {
        let mut o = options(version);
        o.keep_alive = secs(30);
        let mut h = connected(o);
        assert_eq!(h.session.poll_timeout(), Some(h.start + secs(30)));
        h.advance(ms(29_999));
        assert!(h.sent_bytes().is_empty());
        h.advance(ms(1));
        assert_eq!(h.sent_bytes(), [0xc0, 0x00], "{version:?}");
        assert!(h.events().is_empty());
    }
}

/// Receiving does not postpone the PINGREQ: the rule is about what the
/// client sends.
#[test]
fn receiving_does_not_postpone_pingreq() {
    for version in BOTH {
        let mut o = options(version);
        o.keep_alive = secs(30);
        let mut h = connected(o);
        for _ in 0..5 {
            h.advance(secs(5));
            h.receive(msg("in", b"x", QoS::AtMostOnce));
        }
        assert_eq!(h.events().len(), 5);
        assert_eq!(h.session.poll_timeout(), Some(h.start + secs(30)));
        h.advance(ms(4_999));
        assert!(h.sent_bytes().is_empty());
        h.advance(ms(1));
        assert_eq!(h.sent_bytes(), [0xc0, 0x00]);
    }
}

/// Sending postpones the PINGREQ: any packet restarts the interval (while
/// the broker talks too: silence in either direction pings, see
/// `silent_broker_is_pinged_while_the_client_keeps_sending`).
#[test]
fn sending_postpones_pingreq() {
    for version in BOTH {
        let mut o = options(version);
        o.keep_alive = secs(30);
        let mut h = connected(o);
        h.advance(secs(10));
        h.receive(msg("in", b"x", QoS::AtMostOnce));
        assert_eq!(h.events().len(), 1);
        // Receiving alone moves nothing: the last send (CONNECT) counts.
        assert_eq!(h.session.poll_timeout(), Some(h.start + secs(30)));
        h.session
            .publish(msg("out", b"x", QoS::AtMostOnce), h.now)
            .unwrap();
        h.sent();
        assert_eq!(h.session.poll_timeout(), Some(h.start + secs(40)));
        // An acknowledgement the session sends counts too.
        h.advance(secs(20));
        let mut m = msg("in", b"x", QoS::AtLeastOnce);
        m.packet_id = Some(pid(9));
        h.receive(m);
        assert_eq!(h.sent(), [Packet::PubAck(PubAck::new(pid(9)))]);
        assert_eq!(h.session.poll_timeout(), Some(h.start + secs(60)));
        h.advance(ms(29_999));
        assert!(h.sent_bytes().is_empty());
        h.advance(ms(1));
        assert_eq!(h.sent_bytes(), [0xc0, 0x00]);
    }
}

/// A connected session with keep-alive 10 s and ping margin 2 s (a
/// PINGREQ after 8 s of silence either way), PINGRESP deadline 3 s.
fn pinging(version: ProtocolVersion) -> Harness {
    let mut o = options(version);
    o.keep_alive = secs(10);
    o.ping_margin = secs(2);
    o.ping_timeout = secs(3);
    connected(o)
}

/// The client publishes at QoS 0.
fn publish_qos0(h: &mut Harness) {
    h.session
        .publish(msg("out", b"x", QoS::AtMostOnce), h.now)
        .unwrap();
}

/// distmqtt bug #5: a client that keeps sending (QoS 0 every 100 ms) to a
/// broker that went silent pings `keep_alive - ping_margin` after the last
/// byte received (here CONNACK), although it never stops sending, and
/// closes with PingTimeout when no PINGRESP came within `ping_timeout`.
#[test]
fn silent_broker_is_pinged_while_the_client_keeps_sending() {
    for version in BOTH {
        let mut h = pinging(version);
        let mut pinged_at = None;
        let mut closed_at = None;
        for _ in 0..150 {
            h.advance(ms(100));
            if h.session.is_connected() {
                publish_qos0(&mut h);
            }
            let sent = h.sent();
            if sent.contains(&Packet::PingReq) {
                assert_eq!(pinged_at, None, "{version:?}: one PINGREQ");
                pinged_at = Some(h.now - h.start);
            }
            // Each publish reports its outcome; nothing else happens.
            let mut events = h.events();
            events.retain(|e| !matches!(e, Event::Published { result: Ok(_), .. }));
            if events.contains(&Event::Closed(CloseReason::PingTimeout)) {
                closed_at = Some(h.now - h.start);
                break;
            }
            assert!(events.is_empty(), "{version:?}: {events:?}");
        }
        assert_eq!(pinged_at, Some(secs(8)), "{version:?}");
        assert_eq!(closed_at, Some(secs(11)), "{version:?}");
        assert!(!h.session.is_connected());
    }
}

/// A broker that keeps sending resets the receive side of the keep-alive:
/// the client that keeps publishing never pings; once the broker falls
/// silent the PINGREQ comes `keep_alive - ping_margin` after its last byte,
/// and its PINGRESP (a byte received) keeps the connection.
#[test]
fn broker_that_keeps_sending_is_not_pinged() {
    for version in BOTH {
        let mut h = pinging(version);
        for _ in 0..300 {
            h.advance(ms(100));
            publish_qos0(&mut h);
            h.receive(msg("in", b"x", QoS::AtMostOnce));
            assert!(!h.sent().contains(&Packet::PingReq), "{version:?}");
            let events = h.events();
            assert!(
                matches!(
                    &events[..],
                    [Event::Published { result: Ok(_), .. }, Event::Message(_)]
                ),
                "{version:?}: {events:?}"
            );
        }
        let last_received = h.now;
        assert_eq!(h.session.poll_timeout(), Some(last_received + secs(8)));
        // Silent broker from here; the client keeps sending.
        while h.now < last_received + secs(8) {
            h.advance(ms(100));
            publish_qos0(&mut h);
            let pinged = h.sent().contains(&Packet::PingReq);
            assert_eq!(pinged, h.now == last_received + secs(8), "{version:?}");
            let events = h.events();
            assert!(
                matches!(&events[..], [Event::Published { result: Ok(_), .. }]),
                "{version:?}: {events:?}"
            );
        }
        h.advance(secs(1));
        h.receive(Packet::PingResp);
        assert!(h.events().is_empty(), "{version:?}");
        assert!(h.session.is_connected());
        // Now the client is the quiet side: its last send (PINGREQ and a
        // publish, a second ago) counts.
        assert_eq!(h.session.poll_timeout(), Some(h.now + secs(7)));
    }
}

/// The ping margin brings the PINGREQ forward: keep_alive - ping_margin.
#[test]
fn ping_margin_brings_pingreq_forward() {
    let mut o = options(V3);
    o.keep_alive = secs(30);
    o.ping_margin = secs(5);
    let mut h = connected(o);
    assert_eq!(h.session.poll_timeout(), Some(h.start + secs(25)));
    h.advance(ms(24_999));
    assert!(h.sent_bytes().is_empty());
    h.advance(ms(1));
    assert_eq!(h.sent_bytes(), [0xc0, 0x00]);
}

/// The keep-alive the session keeps is the one CONNECT announced (whole
/// seconds, at most 65,535), so the interval between packets never exceeds
/// what the server enforces (3.1.1 MQTT-3.1.2-23, 5.0 MQTT-3.1.2-20).
#[test]
fn keep_alive_follows_the_whole_seconds_announced() {
    let mut o = options(V3);
    o.keep_alive = ms(1_500);
    let mut h = connected(o);
    assert_eq!(h.session.poll_timeout(), Some(h.start + secs(1)));
    h.advance(secs(1));
    assert_eq!(h.sent_bytes(), [0xc0, 0x00]);

    let mut o = options(V3);
    o.keep_alive = secs(100_000);
    let h = connected(o);
    assert_eq!(h.session.poll_timeout(), Some(h.start + secs(65_535)));
}

/// §3.1.2.10: no PINGRESP within the ping timeout closes the connection
/// with PingTimeout, without sending anything.
#[test]
fn pingresp_deadline_closes_with_ping_timeout() {
    for version in BOTH {
        let mut o = options(version);
        o.keep_alive = secs(30);
        o.ping_timeout = secs(4);
        let mut h = connected(o);
        h.advance(secs(30));
        assert_eq!(h.sent_bytes(), [0xc0, 0x00]);
        assert_eq!(h.session.poll_timeout(), Some(h.start + secs(34)));
        // Other packets from the server do not count as the answer.
        h.receive(msg("in", b"x", QoS::AtMostOnce));
        h.advance(ms(3_999));
        assert!(matches!(&h.events()[..], [Event::Message(_)]));
        h.advance(ms(1));
        assert_eq!(h.events(), [Event::Closed(CloseReason::PingTimeout)]);
        assert!(h.sent_bytes().is_empty());
        assert!(!h.session.is_connected());
        assert_eq!(h.session.poll_timeout(), None);
    }
}

/// A link that goes silent both ways (half-open: no RST, no FIN) is
/// declared dead within 1.5 x Keep Alive whatever `ping_timeout` says: the
/// PINGRESP wait is at most half the Keep Alive, the bound a server keeps
/// for its clients (MQTT-3.1.2-22; 3.1.1: MQTT-3.1.2-24).
#[test]
fn a_silent_link_is_declared_dead_within_one_and_a_half_keep_alive() {
    for version in BOTH {
        let mut o = options(version);
        o.keep_alive = secs(10);
        o.ping_timeout = secs(60);
        let mut h = connected(o);
        // The last packets both ways at the start; then silence.
        h.advance(secs(10));
        assert_eq!(h.sent(), [Packet::PingReq]);
        h.advance(ms(4_999));
        assert!(h.events().is_empty());
        h.advance(ms(1));
        assert_eq!(h.events(), [Event::Closed(CloseReason::PingTimeout)]);
        assert!(!h.session.is_connected());
    }
}

/// Input paused (the application is behind; the driver stops reading):
/// the PINGRESP may be waiting unread behind the messages not yet taken,
/// so its deadline does not expire until input resumes, and then gets a
/// fresh wait; the server's silence is not counted meanwhile.
#[test]
fn a_pingresp_deadline_waits_while_input_is_paused() {
    for version in BOTH {
        let mut o = options(version);
        o.keep_alive = secs(10);
        o.ping_timeout = secs(4);
        let mut h = connected(o);
        h.advance(secs(10));
        assert_eq!(h.sent(), [Packet::PingReq]);
        let now = h.now;
        h.session.pause_input(now);
        assert!(h.session.is_input_paused());
        h.advance(secs(60));
        assert!(
            h.events().is_empty(),
            "no PingTimeout while input is paused"
        );
        assert!(h.session.is_connected());
        let now = h.now;
        h.session.resume_input(now);
        assert!(!h.session.is_input_paused());
        h.advance(ms(3_999));
        assert!(h.events().is_empty());
        h.advance(ms(1));
        assert_eq!(h.events(), [Event::Closed(CloseReason::PingTimeout)]);
    }
}

/// While input is paused a PINGREQ still goes out once nothing was sent
/// for the keep-alive interval (MQTT-3.1.2-20; 3.1.1: MQTT-3.1.2-23), and
/// its PINGRESP, once read, clears the deadline as usual.
#[test]
fn while_input_is_paused_keep_alive_still_sends() {
    for version in BOTH {
        let mut o = options(version);
        o.keep_alive = secs(10);
        o.ping_timeout = secs(4);
        let mut h = connected(o);
        let now = h.now;
        h.session.pause_input(now);
        h.advance(secs(10));
        assert_eq!(h.sent(), [Packet::PingReq]);
        h.advance(secs(20));
        assert!(h.events().is_empty());
        let now = h.now;
        h.session.resume_input(now);
        h.receive(Packet::PingResp);
        h.advance(secs(5));
        assert!(h.events().is_empty());
        assert!(h.session.is_connected());
    }
}

/// A PINGRESP clears the deadline; the next PINGREQ is due a keep-alive
/// after the last one; a keep-alive PINGRESP raises no Pong.
#[test]
fn pingresp_clears_the_deadline() {
    for version in BOTH {
        let mut o = options(version);
        o.keep_alive = secs(30);
        o.ping_timeout = secs(4);
        let mut h = connected(o);
        h.advance(secs(30));
        h.sent();
        h.advance(secs(3));
        h.receive(Packet::PingResp);
        assert!(h.events().is_empty());
        assert_eq!(h.session.poll_timeout(), Some(h.start + secs(60)));
        h.advance(secs(27));
        assert_eq!(h.sent(), [Packet::PingReq]);
        h.receive(Packet::PingResp);
        h.advance(secs(600));
        assert!(
            h.events().is_empty(),
            "still connected after 10 minutes of pings"
        );
        assert!(h.session.is_connected());
    }
}

/// Keep Alive 0 disables both the PINGREQ and the PINGRESP deadline: no
/// timer at all once connected and idle.
#[test]
fn keep_alive_zero_disables_pings() {
    for version in BOTH {
        let mut o = options(version);
        o.keep_alive = Duration::ZERO;
        let mut h = connected(o);
        assert_eq!(h.session.poll_timeout(), None);
        h.advance(secs(24 * 3600));
        h.session.handle_timeout(h.now);
        assert!(h.sent_bytes().is_empty());
        assert!(h.events().is_empty());
        assert!(h.session.is_connected());
    }
}

/// `ping()` sends a PINGREQ at once and reports the PINGRESP as Pong; a
/// second ping while one is outstanding sends nothing more.
#[test]
fn ping_gives_pong() {
    for version in BOTH {
        let mut h = connected(options(version));
        h.advance(secs(7));
        h.session.ping(h.now).unwrap();
        h.session.ping(h.now).unwrap();
        assert_eq!(h.sent_bytes(), [0xc0, 0x00]);
        assert_eq!(h.session.poll_timeout(), Some(h.now + secs(10)));
        h.receive(Packet::PingResp);
        assert_eq!(h.events(), [Event::Pong]);
        // A stray PINGRESP gives nothing.
        h.receive(Packet::PingResp);
        assert!(h.events().is_empty());
        // The keep-alive restarts from the PINGREQ.
        assert_eq!(h.session.poll_timeout(), Some(h.start + secs(67)));
    }
}

/// `ping()` while a keep-alive PINGREQ is outstanding: one PINGREQ, and Pong.
#[test]
fn ping_during_keep_alive_ping_shares_it() {
    let mut o = options(V5);
    o.keep_alive = secs(10);
    let mut h = connected(o);
    h.advance(secs(10));
    assert_eq!(h.sent(), [Packet::PingReq]);
    h.session.ping(h.now).unwrap();
    assert!(h.sent().is_empty());
    h.receive(Packet::PingResp);
    assert_eq!(h.events(), [Event::Pong]);
}

/// After any `handle_timeout(now)`, `poll_timeout` is never before `now`,
/// through connects, CONNACK timeouts, pings, answers and losses, with
/// calls on time, early and late.
#[test]
fn poll_timeout_is_never_in_the_past_after_handle_timeout() {
    for version in BOTH {
        for seed in 1..=20u64 {
            let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let mut next = move |n: u64| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng % n
            };
            let mut o = options(version);
            o.keep_alive = secs(1 + next(5));
            o.ping_margin = ms(next(1500));
            o.ping_timeout = ms(1 + next(3000));
            o.connect_timeout = ms(1 + next(3000));
            let mut h = Harness::new(o);
            for _ in 0..300 {
                if h.session.poll_timeout().is_none() && !h.session.is_connected() {
                    let _ = h.session.connect(h.now);
                }
                match next(6) {
                    0 => h.receive(ConnAck::new(false, ConnectReason::Success)),
                    1 => h.receive(Packet::PingResp),
                    2 => {
                        let _ = h.session.publish(msg("t", b"x", QoS::AtMostOnce), h.now);
                    }
                    3 => {
                        let _ = h.session.ping(h.now);
                    }
                    4 if next(10) == 0 => h.session.connection_lost(h.now),
                    _ => {}
                }
                h.sent_bytes();
                h.events();
                // On time, early or late.
                h.now = match (h.session.poll_timeout(), next(3)) {
                    (Some(t), 0) => t.max(h.now),
                    (Some(t), 1) => (t + ms(next(5000))).max(h.now),
                    _ => h.now + ms(next(2000)),
                };
                h.session.handle_timeout(h.now);
                if let Some(t) = h.session.poll_timeout() {
                    assert!(t >= h.now, "{version:?} seed {seed}: {t:?} < {:?}", h.now);
                }
            }
        }
    }
}

// ====================================================================
// Protocol violations by the server
// ====================================================================

/// 5.0 MQTT-3.2.0-2: a second CONNACK is a Protocol Error (DISCONNECT 0x82).
#[test]
fn mqtt_3_2_0_2_second_connack_is_a_violation() {
    for version in BOTH {
        let mut h = connected(options(version));
        h.receive(ConnAck::new(false, ConnectReason::Success));
        assert_violation(
            &mut h,
            ProtocolError::UnexpectedPacket(PacketType::ConnAck),
            DisconnectReason::ProtocolError,
        );
    }
}

/// 3.1.1 and 5.0 MQTT-3.2.0-1: the first packet from the server is CONNACK
/// (or AUTH in 5.0); anything else before it is a violation.
#[test]
fn mqtt_3_2_0_1_packet_before_connack_is_a_violation() {
    let before: [(Packet, PacketType); 5] = [
        (msg("t", b"x", QoS::AtMostOnce).into(), PacketType::Publish),
        (Packet::PingResp, PacketType::PingResp),
        (PubAck::new(pid(1)).into(), PacketType::PubAck),
        (
            SubAck {
                packet_id: pid(1),
                reasons: vec![SubAckReason::GrantedQoS0],
                properties: Default::default(),
            }
            .into(),
            PacketType::SubAck,
        ),
        (PubRel::new(pid(1)).into(), PacketType::PubRel),
    ];
    for version in BOTH {
        for (packet, kind) in before.clone() {
            let mut h = Harness::new(options(version));
            h.session.connect(h.now).unwrap();
            h.sent();
            h.receive(packet);
            let events = assert_violation(
                &mut h,
                ProtocolError::UnexpectedPacket(kind),
                DisconnectReason::ProtocolError,
            );
            assert_eq!(events.len(), 1, "{events:?}");
        }
    }
}

/// 3.1.1 MQTT-4.8.0-1, 5.0 MQTT-4.13.1-1: CONNECT, SUBSCRIBE, UNSUBSCRIBE
/// and PINGREQ travel from client to server only; from the server they are
/// violations.
#[test]
fn client_only_packets_from_the_server_are_violations() {
    for version in BOTH {
        let packets: [(Packet, PacketType); 4] = [
            (
                Connect::new(version, mstr("srv")).into(),
                PacketType::Connect,
            ),
            (
                Subscribe::new(
                    pid(1),
                    filter("a"),
                    SubscriptionOptions::qos(QoS::AtMostOnce),
                )
                .into(),
                PacketType::Subscribe,
            ),
            (
                Unsubscribe {
                    packet_id: pid(1),
                    filters: vec![filter("a")],
                    properties: Default::default(),
                }
                .into(),
                PacketType::Unsubscribe,
            ),
            (Packet::PingReq, PacketType::PingReq),
        ];
        for (packet, kind) in packets {
            let mut h = connected(options(version));
            h.receive(packet);
            assert_violation(
                &mut h,
                ProtocolError::UnexpectedPacket(kind),
                DisconnectReason::ProtocolError,
            );
        }
    }
}

/// 5.0 MQTT-4.13.1-1 (3.1.1 MQTT-4.8.0-1): a malformed packet closes the
/// connection, after DISCONNECT 0x81 in 5.0.
#[test]
fn mqtt_4_13_1_1_malformed_packet_is_a_violation() {
    for version in BOTH {
        for (bytes, error) in [
            // PINGRESP with a body byte.
            (&[0xd0u8, 0x01, 0x00][..], DecodeError::TrailingBytes(1)),
            // Packet type 0 is reserved.
            (&[0x00, 0x00][..], DecodeError::ReservedPacketType(0)),
            // PUBACK with flags 0001 [MQTT-2.2.2-2].
            (
                &[0x41, 0x02, 0x00, 0x01][..],
                DecodeError::InvalidHeaderFlags {
                    packet: PacketType::PubAck,
                    flags: 1,
                },
            ),
        ] {
            let mut h = connected(options(version));
            h.receive_bytes(bytes);
            assert_violation(
                &mut h,
                ProtocolError::Decode(error),
                DisconnectReason::MalformedPacket,
            );
        }
        // Malformed before CONNACK too (CONNACK with reserved flags, MQTT-3.2.2-1).
        let mut h = Harness::new(options(version));
        h.session.connect(h.now).unwrap();
        h.sent();
        let connack: &[u8] = if version.is_v5() {
            &[0x20, 0x03, 0x02, 0x00, 0x00]
        } else {
            &[0x20, 0x02, 0x02, 0x00]
        };
        h.receive_bytes(connack);
        assert_violation(
            &mut h,
            ProtocolError::Decode(DecodeError::ConnAckReservedFlags),
            DisconnectReason::MalformedPacket,
        );
    }
}

/// 5.0 §3.1.2.11.4 (MQTT-3.1.2-24 is the server's side): a packet above our
/// Maximum Packet Size is a violation, DISCONNECT 0x95; one of exactly the
/// maximum is fine. In 3.1.1 the local bound `max_incoming_packet` applies.
#[test]
fn mqtt_3_1_2_24_packet_above_our_maximum_size_is_a_violation() {
    for version in BOTH {
        let mut o = options(version);
        if version.is_v5() {
            o.properties.maximum_packet_size = NonZeroU32::new(20);
        } else {
            o.max_incoming_packet = 20;
        }
        let mut h = connected(o);
        // QoS 0 PUBLISH "a": 2 + 3 + (1 in 5.0) + payload.
        let overhead = if version.is_v5() { 6 } else { 5 };
        let fits = Publish::at_most_once(topic("a"), vec![7u8; 20 - overhead]);
        assert_eq!(fits.encoded_len(version).unwrap(), 20);
        h.receive(fits);
        assert!(matches!(&h.events()[..], [Event::Message(_)]));
        h.receive(Publish::at_most_once(topic("a"), vec![7u8; 21 - overhead]));
        assert_violation(
            &mut h,
            ProtocolError::Decode(DecodeError::PacketTooLarge { size: 21, max: 20 }),
            DisconnectReason::PacketTooLarge,
        );
    }
}

/// 5.0 MQTT-3.3.2-8: Topic Alias 0 is never valid: DISCONNECT 0x94.
#[test]
fn mqtt_3_3_2_8_topic_alias_zero_is_a_violation() {
    let mut o = options(V5);
    o.properties.topic_alias_maximum = Some(5);
    let mut h = connected(o);
    #[rustfmt::skip]
    h.receive_bytes(&[
        0x30, 0x08,             // PUBLISH QoS 0, remaining 8
        0x00, 0x01, b'a',       // topic "a"
        0x03, 0x23, 0x00, 0x00, // topic alias 0
        b'x',
    ]);
    assert_violation(
        &mut h,
        ProtocolError::TopicAliasInvalid(0),
        DisconnectReason::TopicAliasInvalid,
    );
}

/// covers: 5.0 MQTT-3.1.2-26, MQTT-3.3.2-10 (every alias from 1 to our
/// maximum is accepted), MQTT-3.3.2-11: an alias above our Topic Alias
/// Maximum is a violation, DISCONNECT 0x94.
#[test]
fn mqtt_3_1_2_26_topic_alias_above_our_maximum_is_a_violation() {
    let mut o = options(V5);
    o.properties.topic_alias_maximum = Some(2);
    let mut h = connected(o);
    for alias in [1u16, 2] {
        let mut m = msg("x/y", b"1", QoS::AtMostOnce);
        m.properties.topic_alias = NonZeroU16::new(alias);
        h.receive(m);
    }
    assert_eq!(h.events().len(), 2);
    let mut m = msg("x/y", b"1", QoS::AtMostOnce);
    m.properties.topic_alias = NonZeroU16::new(3);
    h.receive(m);
    assert_violation(
        &mut h,
        ProtocolError::TopicAliasInvalid(3),
        DisconnectReason::TopicAliasInvalid,
    );
}

/// 5.0 MQTT-3.1.2-27: without our Topic Alias Maximum (or with 0), any
/// Topic Alias from the server is a violation, DISCONNECT 0x94.
#[test]
fn mqtt_3_1_2_27_topic_alias_without_our_maximum_is_a_violation() {
    for ours in [None, Some(0)] {
        let mut o = options(V5);
        o.properties.topic_alias_maximum = ours;
        let mut h = connected(o);
        let mut m = msg("x/y", b"1", QoS::AtMostOnce);
        m.properties.topic_alias = NonZeroU16::new(1);
        h.receive(m);
        assert_violation(
            &mut h,
            ProtocolError::TopicAliasInvalid(1),
            DisconnectReason::TopicAliasInvalid,
        );
    }
}

/// An inbound alias learnt with its topic resolves later PUBLISHes with an
/// empty topic; an alias never defined is a Protocol Error (0x82).
#[test]
fn unknown_topic_alias_with_empty_topic_is_a_violation() {
    let mut o = options(V5);
    o.properties.topic_alias_maximum = Some(10);
    let mut h = connected(o);
    let mut define = msg("s/1/temp", b"20", QoS::AtMostOnce);
    define.properties.topic_alias = NonZeroU16::new(4);
    h.receive(define);
    let mut use_it = Publish::at_most_once(topic_alias_only(), &b"21"[..]);
    use_it.properties.topic_alias = NonZeroU16::new(4);
    h.receive(use_it);
    let events = h.events();
    let topics: Vec<_> = events
        .iter()
        .map(|e| match e {
            Event::Message(m) => m.publish.topic.as_str().to_owned(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(topics, ["s/1/temp", "s/1/temp"]);
    let mut unknown = Publish::at_most_once(topic_alias_only(), &b"22"[..]);
    unknown.properties.topic_alias = NonZeroU16::new(5);
    h.receive(unknown);
    assert_violation(
        &mut h,
        ProtocolError::UnknownTopicAlias(5),
        DisconnectReason::ProtocolError,
    );
}

fn topic_alias_only() -> sansmqtt_proto::TopicName {
    sansmqtt_proto::TopicName::alias_only()
}

/// 5.0 MQTT-3.3.2-7: inbound aliases do not survive the connection; after
/// a reconnect an alias-only PUBLISH with an old alias is unknown.
#[test]
fn mqtt_3_3_2_7_inbound_topic_aliases_reset_on_reconnect() {
    let mut o = options(V5);
    o.properties.topic_alias_maximum = Some(10);
    let mut h = connected(o);
    let mut define = msg("s/1", b"1", QoS::AtMostOnce);
    define.properties.topic_alias = NonZeroU16::new(1);
    h.receive(define);
    h.events();
    h.session.connection_lost(h.now);
    h.events();
    h.connect(false);
    let mut reuse = Publish::at_most_once(topic_alias_only(), &b"2"[..]);
    reuse.properties.topic_alias = NonZeroU16::new(1);
    h.receive(reuse);
    assert_violation(
        &mut h,
        ProtocolError::UnknownTopicAlias(1),
        DisconnectReason::ProtocolError,
    );
}

/// 5.0 MQTT-3.3.4-9: the server sends no more than our Receive Maximum
/// unacknowledged QoS 1 and 2 PUBLISHes; one more is DISCONNECT 0x93.
#[test]
fn mqtt_3_3_4_9_receive_maximum_exceeded_is_a_violation() {
    let mut o = options(V5);
    o.properties.receive_maximum = NonZeroU16::new(2);
    let mut h = connected(o);
    for id in [1u16, 2] {
        let mut m = msg("in", b"x", QoS::ExactlyOnce);
        m.packet_id = Some(pid(id));
        h.receive(m);
    }
    assert_eq!(h.sent().len(), 2, "two PUBRECs");
    // PUBREL and PUBCOMP for 1: its slot is free again.
    h.receive(PubRel::new(pid(1)));
    assert!(matches!(&h.sent()[..], [Packet::PubComp(_)]));
    let mut m = msg("in", b"x", QoS::ExactlyOnce);
    m.packet_id = Some(pid(3));
    h.receive(m);
    assert!(matches!(&h.sent()[..], [Packet::PubRec(_)]));
    // Two unacknowledged (2 and 3): a third is one too many.
    let mut m = msg("in", b"x", QoS::ExactlyOnce);
    m.packet_id = Some(pid(4));
    h.receive(m);
    let events = assert_violation(
        &mut h,
        ProtocolError::ReceiveMaximumExceeded,
        DisconnectReason::ReceiveMaximumExceeded,
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::Message(_)))
            .count(),
        3,
        "the excess message is not delivered"
    );
}

/// covers: 3.1.1 MQTT-3.8.4-5, 5.0 MQTT-3.8.4-6 and MQTT-3.9.3-1: a SUBACK
/// with a reason count different from the filters is a violation (0x82);
/// the request fails with ConnectionLost instead of hanging.
#[test]
fn mqtt_3_8_4_6_suback_with_wrong_reason_count_is_a_violation() {
    for version in BOTH {
        for reasons in [1usize, 3] {
            let mut h = connected(options(version));
            let token = h
                .session
                .subscribe(
                    vec![
                        (filter("a"), SubscriptionOptions::qos(QoS::AtMostOnce)),
                        (filter("b"), SubscriptionOptions::qos(QoS::AtLeastOnce)),
                    ],
                    Default::default(),
                    h.now,
                )
                .unwrap();
            assert!(matches!(&h.sent()[..], [Packet::Subscribe(s)] if s.packet_id == pid(1)));
            h.receive(SubAck {
                packet_id: pid(1),
                reasons: vec![SubAckReason::GrantedQoS0; reasons],
                properties: Default::default(),
            });
            let events = assert_violation(
                &mut h,
                ProtocolError::ReasonCountMismatch(PacketType::SubAck),
                DisconnectReason::ProtocolError,
            );
            assert_eq!(
                events[0],
                Event::Subscribed {
                    token,
                    result: Err(RequestError::ConnectionLost),
                    properties: Default::default()
                }
            );
        }
    }
}

/// 5.0 MQTT-3.11.3-1 (one UNSUBACK reason per filter): a wrong count is a
/// violation, 0x82.
#[test]
fn mqtt_3_11_3_1_v5_unsuback_with_wrong_reason_count_is_a_violation() {
    let mut h = connected(options(V5));
    let token = h
        .session
        .unsubscribe(vec![filter("a"), filter("b")], Default::default(), h.now)
        .unwrap();
    h.sent();
    h.receive(UnsubAck {
        packet_id: pid(1),
        reasons: vec![UnsubAckReason::Success],
        properties: Default::default(),
    });
    let events = assert_violation(
        &mut h,
        ProtocolError::ReasonCountMismatch(PacketType::UnsubAck),
        DisconnectReason::ProtocolError,
    );
    assert!(
        matches!(&events[0], Event::Unsubscribed { token: t, result: Err(RequestError::ConnectionLost), .. } if *t == token)
    );
}

/// 3.1.1 §3.14: DISCONNECT goes from client to server only; from the
/// server it is a violation, and nothing is sent in answer.
#[test]
fn v311_disconnect_from_the_server_is_a_violation() {
    let mut h = connected(options(V3));
    h.receive_bytes(&[0xe0, 0x00]);
    assert_violation(
        &mut h,
        ProtocolError::UnexpectedPacket(PacketType::Disconnect),
        DisconnectReason::ProtocolError,
    );
}

/// 5.0 MQTT-3.14.0-1: the server sends no DISCONNECT before CONNACK; one
/// before it is a violation.
#[test]
fn mqtt_3_14_0_1_disconnect_before_connack_is_a_violation() {
    let mut h = Harness::new(options(V5));
    h.session.connect(h.now).unwrap();
    h.sent();
    h.receive(Disconnect::new(DisconnectReason::ServerBusy));
    assert_violation(
        &mut h,
        ProtocolError::UnexpectedPacket(PacketType::Disconnect),
        DisconnectReason::ProtocolError,
    );
}

/// A violation in the middle of an input buffer: what came before it is
/// handled, what comes after is not.
#[test]
fn input_after_a_violation_is_not_processed() {
    for version in BOTH {
        let mut h = connected(options(version));
        let mut wire = bytes::BytesMut::new();
        Packet::from(msg("one", b"1", QoS::AtMostOnce))
            .encode(version, &mut wire)
            .unwrap();
        wire.extend_from_slice(&[0xd0, 0x01, 0x00]);
        Packet::from(msg("two", b"2", QoS::AtMostOnce))
            .encode(version, &mut wire)
            .unwrap();
        h.receive_bytes(&wire);
        let events = assert_violation(
            &mut h,
            ProtocolError::Decode(DecodeError::TrailingBytes(1)),
            DisconnectReason::MalformedPacket,
        );
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(matches!(&events[0], Event::Message(m) if m.publish.topic.as_str() == "one"));
    }
}

// ====================================================================
// Server DISCONNECT (MQTT 5)
// ====================================================================

/// 5.0 §3.14: a server DISCONNECT closes with its reason and properties;
/// nothing is sent after it (MQTT-3.14.4-1 is the sender's side).
#[test]
fn v5_server_disconnect_is_reported_with_reason_and_properties() {
    let mut h = connected(options(V5));
    h.session
        .publish(msg("t", b"x", QoS::AtLeastOnce), h.now)
        .unwrap();
    h.sent();
    let mut d = Disconnect::new(DisconnectReason::UseAnotherServer);
    d.properties.reason_string = Some(mstr("maintenance"));
    d.properties.server_reference = Some(mstr("b2.example:1883"));
    d.properties.user_properties = vec![user("region", "eu")];
    h.receive(d.clone());
    assert_eq!(
        h.events(),
        [Event::Closed(CloseReason::ServerDisconnect {
            reason: DisconnectReason::UseAnotherServer,
            properties: Box::new(d.properties.into_inner()),
        })]
    );
    assert!(h.sent_bytes().is_empty());
    assert!(!h.session.is_connected());
    assert_eq!(h.session.poll_timeout(), None);
    assert_eq!(h.session.inflight(), 1, "kept for the next connection");
}

/// 5.0 §3.14.2.1: a DISCONNECT of remaining length 0 is a Normal disconnection.
#[test]
fn v5_server_disconnect_without_body_is_normal_disconnection() {
    let mut h = connected(options(V5));
    h.receive_bytes(&[0xe0, 0x00]);
    assert_eq!(
        h.events(),
        [Event::Closed(CloseReason::ServerDisconnect {
            reason: DisconnectReason::NormalDisconnection,
            properties: Box::default(),
        })]
    );
    assert!(h.sent_bytes().is_empty());
}

// ====================================================================
// AUTH (MQTT 5)
// ====================================================================

fn auth_options() -> SessionOptions {
    let mut o = options(V5);
    o.properties.authentication_method = Some(mstr("SCRAM-SHA-256"));
    o.properties.authentication_data = Some(Bytes::from_static(b"client-first"));
    o
}

/// covers: MQTT-4.12.0-2, MQTT-4.12.0-3, MQTT-3.15.2-1: an AUTH before
/// CONNACK surfaces as Event::Auth; `auth()` sends the answer (exact bytes).
#[test]
fn mqtt_4_12_0_3_v5_auth_exchange_before_connack() {
    let mut h = Harness::new(auth_options());
    h.session.connect(h.now).unwrap();
    h.sent();
    let mut challenge = Auth {
        reason: AuthReason::ContinueAuthentication,
        ..Auth::default()
    };
    challenge.properties.authentication_method = Some(mstr("SCRAM-SHA-256"));
    challenge.properties.authentication_data = Some(Bytes::from_static(b"server-first"));
    h.receive(challenge.clone());
    assert_eq!(h.events(), [Event::Auth(challenge)]);
    assert!(
        h.session.poll_timeout().is_some(),
        "the CONNACK deadline runs"
    );
    let mut answer = Auth {
        reason: AuthReason::ContinueAuthentication,
        ..Auth::default()
    };
    // The same method as CONNECT [MQTT-4.12.0-5].
    answer.properties.authentication_method = Some(mstr("SCRAM-SHA-256"));
    answer.properties.authentication_data = Some(Bytes::from_static(&[0x01, 0x02]));
    h.session.auth(answer, h.now).unwrap();
    #[rustfmt::skip]
    let expected = [
        0xf0, 0x17,                   // AUTH, remaining 23
        0x18,                         // Continue authentication
        0x15,                         // property length 21
        0x15, 0x00, 0x0d,             // authentication method, 13 bytes
        b'S', b'C', b'R', b'A', b'M', b'-', b'S', b'H', b'A', b'-', b'2', b'5', b'6',
        0x16, 0x00, 0x02, 0x01, 0x02, // authentication data
    ];
    assert_eq!(h.sent_bytes(), expected);
    let mut ack = accepted(ConnAckProperties::default());
    ack.properties.authentication_method = Some(mstr("SCRAM-SHA-256"));
    ack.properties.authentication_data = Some(Bytes::from_static(b"server-final"));
    h.receive(ack);
    // The server's final data is for the application to check first.
    assert_eq!(
        h.events(),
        [Event::AuthSuccess {
            data: Some(Bytes::from_static(b"server-final"))
        }]
    );
    assert!(!h.session.is_connected());
    h.session.accept_auth(h.now);
    assert!(matches!(&h.events()[..], [Event::Connected(c)]
        if c.properties.authentication_data.as_deref() == Some(&b"server-final"[..])));
}

/// 5.0 §4.12.1: re-authentication after CONNACK: `auth()` sends AUTH 0x19,
/// the server's AUTH 0x18 surfaces as Event::Auth, its AUTH 0x00 as
/// Event::AuthSuccess.
#[test]
fn v5_reauthentication_after_connack() {
    let mut ack = accepted(ConnAckProperties::default());
    ack.properties.authentication_method = Some(mstr("SCRAM-SHA-256"));
    let mut h = Harness::new(auth_options());
    let events = open(&mut h, ack);
    assert_eq!(events, [Event::AuthSuccess { data: None }]);
    h.session.accept_auth(h.now);
    assert!(matches!(&h.events()[..], [Event::Connected(_)]));
    let mut reauth = Auth {
        reason: AuthReason::ReAuthenticate,
        ..Auth::default()
    };
    reauth.properties.authentication_method = Some(mstr("SCRAM-SHA-256"));
    h.session.auth(reauth.clone(), h.now).unwrap();
    assert_eq!(h.sent(), [Packet::Auth(reauth)]);
    let mut challenge = Auth {
        reason: AuthReason::ContinueAuthentication,
        ..Auth::default()
    };
    challenge.properties.authentication_method = Some(mstr("SCRAM-SHA-256"));
    h.receive(challenge.clone());
    assert_eq!(h.events(), [Event::Auth(challenge)]);
    let mut success = Auth::default();
    success.properties.authentication_method = Some(mstr("SCRAM-SHA-256"));
    h.receive(success);
    assert_eq!(h.events(), [Event::AuthSuccess { data: None }]);
    assert!(h.session.is_connected());
}

/// AUTH exists only in MQTT 5: `auth()` refuses in 3.1.1, and a packet of
/// type 15 from a 3.1.1 server is malformed.
#[test]
fn v311_auth_is_refused() {
    let mut h = Harness::new(options(V3));
    assert_eq!(
        h.session.auth(Auth::default(), h.now),
        Err(StateError::AuthNeedsV5)
    );
    h.session.connect(h.now).unwrap();
    h.sent();
    assert_eq!(
        h.session.auth(Auth::default(), h.now),
        Err(StateError::AuthNeedsV5)
    );
    h.receive(ConnAck::new(false, ConnectReason::Success));
    h.events();
    assert_eq!(
        h.session.auth(Auth::default(), h.now),
        Err(StateError::AuthNeedsV5)
    );
    assert!(h.sent_bytes().is_empty());
    h.receive_bytes(&[0xf0, 0x00]);
    assert_violation(
        &mut h,
        ProtocolError::Decode(DecodeError::ReservedPacketType(15)),
        DisconnectReason::MalformedPacket,
    );
}

/// `auth()` needs a connection (or one being set up).
#[test]
fn auth_without_a_connection_is_refused() {
    let mut h = Harness::new(auth_options());
    assert_eq!(
        h.session.auth(Auth::default(), h.now),
        Err(StateError::NotConnected)
    );
    assert!(h.sent_bytes().is_empty());
}

// ====================================================================
// disconnect() and connection_lost()
// ====================================================================

/// 3.1.1 MQTT-3.14.4-1 / -2: `disconnect()` sends DISCONNECT (E0 00) and
/// closes; nothing is sent after it.
#[test]
fn mqtt_3_14_4_2_v311_disconnect_sends_disconnect_and_closes() {
    let mut h = connected(options(V3));
    h.session.disconnect(None, h.now).unwrap();
    assert_eq!(h.sent_bytes(), [0xe0, 0x00]);
    assert_eq!(h.events(), [Event::Closed(CloseReason::ClientDisconnect)]);
    assert!(!h.session.is_connected());
    assert_eq!(h.session.poll_timeout(), None);
    // Nothing more on this connection.
    h.session
        .publish(msg("t", b"x", QoS::AtLeastOnce), h.now)
        .unwrap();
    h.session
        .subscribe(sub("s", QoS::AtMostOnce), Default::default(), h.now)
        .unwrap();
    assert_eq!(h.session.ping(h.now), Err(StateError::NotConnected));
    h.advance(secs(3600));
    assert!(h.sent_bytes().is_empty());
    assert_eq!(
        h.session.disconnect(None, h.now),
        Err(StateError::NotConnected)
    );
}

/// covers: 5.0 MQTT-3.14.2-1, MQTT-3.14.4-1: `disconnect()` sends the
/// given DISCONNECT (reason and properties, exact bytes), or a Normal
/// disconnection (E0 00), and closes.
#[test]
fn mqtt_3_14_4_1_v5_disconnect_sends_the_given_reason_and_closes() {
    let mut h = connected(options(V5));
    let mut d = Disconnect::new(DisconnectReason::DisconnectWithWillMessage);
    d.properties.reason_string = Some(mstr("bye"));
    h.session.disconnect(Some(d), h.now).unwrap();
    #[rustfmt::skip]
    let expected = [
        0xe0, 0x08,                  // DISCONNECT, remaining 8
        0x04,                        // Disconnect with Will Message
        0x06,                        // property length 6
        0x1f, 0x00, 0x03, b'b', b'y', b'e', // reason string
    ];
    assert_eq!(h.sent_bytes(), expected);
    assert_eq!(h.events(), [Event::Closed(CloseReason::ClientDisconnect)]);

    let mut h = connected(options(V5));
    h.session.disconnect(None, h.now).unwrap();
    assert_eq!(h.sent_bytes(), [0xe0, 0x00]);
    assert_eq!(h.events(), [Event::Closed(CloseReason::ClientDisconnect)]);
}

/// `disconnect()` while waiting for CONNACK closes without sending more;
/// the CONNACK deadline is disarmed.
#[test]
fn disconnect_while_connecting_closes() {
    for version in BOTH {
        let mut h = Harness::new(options(version));
        h.session.connect(h.now).unwrap();
        h.sent();
        h.session.disconnect(None, h.now).unwrap();
        assert!(h.sent_bytes().is_empty());
        assert_eq!(h.events(), [Event::Closed(CloseReason::ClientDisconnect)]);
        assert_eq!(h.session.poll_timeout(), None);
    }
}

/// covers: 3.1.1 and 5.0 MQTT-4.4.0-1: `connection_lost()` keeps in-flight
/// publishes (no event for them) and they are resent, DUP set and same
/// packet identifiers, when the session resumes; unsent bytes are dropped.
#[test]
fn mqtt_4_4_0_1_connection_lost_keeps_inflight_publishes() {
    for version in BOTH {
        let mut o = options(version);
        o.clean_start = false;
        let mut h = connected(o);
        let t1 = h
            .session
            .publish(msg("q1", b"1", QoS::AtLeastOnce), h.now)
            .unwrap();
        h.session
            .publish(msg("q2", b"2", QoS::ExactlyOnce), h.now)
            .unwrap();
        h.sent();
        h.session.ping(h.now).unwrap();
        h.session.connection_lost(h.now);
        assert!(
            h.session.poll_transmit().is_none(),
            "unsent bytes are dropped"
        );
        assert_eq!(h.events(), [Event::Closed(CloseReason::ConnectionLost)]);
        assert_eq!(h.session.inflight(), 2);
        assert_eq!(h.session.poll_timeout(), None);
        // Idempotent.
        h.session.connection_lost(h.now);
        assert!(h.events().is_empty());

        let resent = h.connect(true);
        let ids: Vec<_> = resent
            .iter()
            .map(|p| match p {
                Packet::Publish(p) => (p.topic.as_str().to_owned(), p.packet_id, p.dup),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            ids,
            [
                ("q1".to_owned(), Some(pid(1)), true),
                ("q2".to_owned(), Some(pid(2)), true)
            ]
        );
        h.receive(PubAck::new(pid(1)));
        assert!(
            matches!(&h.events()[..], [Event::Published { token, result: Ok(_) }] if *token == t1)
        );
    }
}

/// Sent but unanswered SUBSCRIBE and UNSUBSCRIBE fail with ConnectionLost
/// when the connection goes, before the Closed event; requests issued while
/// disconnected wait for the next CONNACK.
#[test]
fn sent_requests_fail_with_connection_lost() {
    for version in BOTH {
        let mut h = connected(options(version));
        let s = h
            .session
            .subscribe(sub("a", QoS::AtLeastOnce), Default::default(), h.now)
            .unwrap();
        let u = h
            .session
            .unsubscribe(vec![filter("b")], Default::default(), h.now)
            .unwrap();
        assert_eq!(h.sent().len(), 2);
        h.session.connection_lost(h.now);
        assert_eq!(
            h.events(),
            [
                Event::Subscribed {
                    token: s,
                    result: Err(RequestError::ConnectionLost),
                    properties: Default::default()
                },
                Event::Unsubscribed {
                    token: u,
                    result: Err(RequestError::ConnectionLost),
                    properties: Default::default()
                },
                Event::Closed(CloseReason::ConnectionLost),
            ]
        );
        // A late SUBACK on a new connection for an old identifier is ignored.
        let later = h
            .session
            .subscribe(sub("c", QoS::AtMostOnce), Default::default(), h.now)
            .unwrap();
        assert!(h.sent().is_empty());
        let after = h.connect(false);
        let [Packet::Subscribe(again)] = &after[..] else {
            panic!("{after:?}")
        };
        h.receive(SubAck {
            packet_id: again.packet_id,
            reasons: vec![SubAckReason::GrantedQoS0],
            properties: Default::default(),
        });
        assert!(
            matches!(&h.events()[..], [Event::Subscribed { token, result: Ok(r), .. }]
            if *token == later && r == &[Ok(QoS::AtMostOnce)])
        );
    }
}

/// `connection_lost()` while waiting for CONNACK closes with ConnectionLost
/// and disarms the deadline; other closes also fail sent requests.
#[test]
fn connection_lost_while_connecting() {
    for version in BOTH {
        let mut h = Harness::new(options(version));
        h.session.connect(h.now).unwrap();
        h.session.connection_lost(h.now);
        assert!(h.session.poll_transmit().is_none());
        assert_eq!(h.events(), [Event::Closed(CloseReason::ConnectionLost)]);
        assert_eq!(h.session.poll_timeout(), None);
        // The next connect starts afresh.
        h.connect(false);
    }
}

/// A PINGRESP timeout and a server DISCONNECT also fail sent requests
/// rather than leaving them waiting.
#[test]
fn every_close_fails_sent_requests() {
    for close in 0..2 {
        let mut o = options(V5);
        o.keep_alive = secs(5);
        let mut h = connected(o);
        let token = h
            .session
            .subscribe(sub("a", QoS::AtMostOnce), Default::default(), h.now)
            .unwrap();
        h.sent();
        if close == 0 {
            h.advance(secs(5));
            h.advance(secs(10));
        } else {
            h.receive(Disconnect::new(DisconnectReason::ServerShuttingDown));
        }
        let events = h.events();
        assert!(
            matches!(&events[0], Event::Subscribed { token: t, result: Err(RequestError::ConnectionLost), .. } if *t == token),
            "{events:?}"
        );
        assert!(matches!(
            closed(&events),
            CloseReason::PingTimeout | CloseReason::ServerDisconnect { .. }
        ));
    }
}

/// The Clean Start flags of the first CONNECT of a session for `o` and of
/// the next one, after the first connection was accepted and then lost;
/// and the harness, waiting for the second CONNACK.
fn clean_starts_around_a_loss(o: SessionOptions) -> (bool, bool, Harness) {
    let mut h = Harness::new(o);
    let first = next_connect(&mut h).clean_start;
    h.receive(accepted(ConnAckProperties::default()));
    h.events();
    h.session.connection_lost(h.now);
    h.events();
    let second = next_connect(&mut h).clean_start;
    (first, second, h)
}

/// MQTT 5: Clean Start discards the broker's session [MQTT-3.1.2-4], Clean
/// Start 0 resumes it [MQTT-3.1.2-6]. A session with a Session Expiry
/// Interval above zero is meant to outlive its connection, so only its
/// first connection starts clean and a reconnection resumes it (a session
/// present in that CONNACK is no violation of MQTT-3.2.2-2). Without an
/// expiry (or 0), and in 3.1.1, every connection starts as configured.
#[test]
fn v5_clean_start_only_on_the_first_connection_of_a_session_that_outlives_it() {
    let mut o = options(V5);
    o.clean_start = true;
    o.properties.session_expiry_interval = Some(60);
    let (first, second, mut h) = clean_starts_around_a_loss(o.clone());
    assert!(first);
    assert!(!second, "the reconnection resumes");
    h.receive(ConnAck {
        session_present: true,
        ..accepted(ConnAckProperties::default())
    });
    let events = h.events();
    assert!(
        matches!(&events[..], [Event::Connected(c)] if c.session_present),
        "{events:?}"
    );

    // No CONNACK accepted yet: a retry still starts clean.
    let mut h = Harness::new(o.clone());
    assert!(next_connect(&mut h).clean_start);
    h.session.connection_lost(h.now);
    h.events();
    assert!(next_connect(&mut h).clean_start);

    for (version, expiry) in [(V5, None), (V5, Some(0)), (V3, None)] {
        let mut o = options(version);
        o.clean_start = true;
        o.properties.session_expiry_interval = expiry;
        let (first, second, _) = clean_starts_around_a_loss(o);
        assert!(first);
        assert!(
            second,
            "{version:?} with expiry {expiry:?} starts clean every time"
        );
    }
}
