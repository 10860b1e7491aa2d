//! Golden byte vectors for MQTT 5.0 (OASIS Standard, 7 March 2019).
//!
//! Every vector is written by hand from the packet layouts of chapter 3 and
//! the property table of §2.2.2.2 (Table 2-4), reusing the specification's
//! non-normative examples where it gives one: the UTF-8 string example of
//! §1.5.4, Table 1-1 of §1.5.5, the CONNECT variable header example of
//! §3.1.2.12, and the SUBSCRIBE (§3.8.2, §3.8.3) and UNSUBSCRIBE (§3.10.3)
//! examples. None is produced by the encoder under test.
//!
//! Every one of the 27 properties appears at least once, in a packet that
//! may carry it; every reason code of every packet appears at least once;
//! the short forms (PUBACK & co. with remaining length 2 and 3, DISCONNECT
//! and AUTH with remaining length 0 and 1) are covered.
//!
//! The encoder writes properties in a fixed order (that of the fields of each
//! property struct); the vectors follow that order. Decoding does not depend
//! on it (see `properties_in_any_order_decode_the_same`).

use std::num::{NonZeroU16, NonZeroU32};

use bytes::{Bytes, BytesMut};
use sansmqtt_proto::{
    AckProperties, Auth, AuthProperties, AuthReason, ConnAck, ConnAckProperties, Connect,
    ConnectProperties, ConnectReason, Decoder, Disconnect, DisconnectProperties, DisconnectReason,
    LastWill, MaximumQoS, MqttString, Packet, PacketId, PayloadFormat, PubAck, PubAckReason,
    PubComp, PubCompReason, PubRec, PubRecReason, PubRel, PubRelReason, Publish, PublishProperties,
    QoS, RetainHandling, SubAck, SubAckReason, Subscribe, SubscribeProperties, SubscriptionId,
    SubscriptionOptions, TopicFilter, TopicName, UnsubAck, UnsubAckReason, Unsubscribe,
    UnsubscribeProperties, UserProperty, WillProperties,
};

const V5: sansmqtt_proto::ProtocolVersion = sansmqtt_proto::ProtocolVersion::V5;

fn pid(id: u16) -> PacketId {
    PacketId::new(id).expect("non-zero packet id")
}

fn name(s: &str) -> TopicName {
    TopicName::try_from(s).expect("valid topic name")
}

fn filter(s: &str) -> TopicFilter {
    TopicFilter::try_from(s).expect("valid topic filter")
}

fn mstr(s: &str) -> MqttString {
    MqttString::try_from(s).expect("valid MQTT string")
}

fn user(k: &str, v: &str) -> UserProperty {
    UserProperty {
        name: mstr(k),
        value: mstr(v),
    }
}

fn sub_id(id: u32) -> SubscriptionId {
    SubscriptionId::new(id).expect("valid subscription identifier")
}

fn nz16(v: u16) -> NonZeroU16 {
    NonZeroU16::new(v).expect("non-zero")
}

fn nz32(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).expect("non-zero")
}

/// Both directions: decode == expected, encode == golden, `encoded_len` ==
/// golden length, and the streaming decoder fed byte by byte agrees.
fn assert_golden(golden: &[u8], expected: impl Into<Packet>) {
    let expected = expected.into();
    let decoded = Packet::decode(Bytes::copy_from_slice(golden), V5)
        .unwrap_or_else(|e| panic!("decoding {golden:02x?} failed: {e}"));
    assert_eq!(decoded, expected, "decoded packet");

    assert_eq!(expected.encoded_len(V5), Ok(golden.len()), "encoded_len");
    let mut buf = BytesMut::new();
    assert_eq!(
        expected.encode(V5, &mut buf),
        Ok(golden.len()),
        "encode result"
    );
    assert_eq!(&buf[..], golden, "encoded bytes");

    let mut decoder = Decoder::new(V5);
    for (i, byte) in golden.iter().enumerate() {
        assert_eq!(decoder.decode(), Ok(None), "packet before byte {i}");
        decoder.feed(std::slice::from_ref(byte));
    }
    assert_eq!(decoder.decode(), Ok(Some(expected)), "streaming");
    assert_eq!(decoder.buffered(), 0);
}

/// Decoding only: for the longer forms the encoder never writes because a
/// shorter one means the same.
fn assert_decodes(bytes: &[u8], expected: impl Into<Packet>) {
    assert_eq!(
        Packet::decode(Bytes::copy_from_slice(bytes), V5),
        Ok(expected.into()),
        "{bytes:02x?}"
    );
}

// ---------------------------------------------------------------- CONNECT

#[test]
fn connect_spec_example_3_1_2_12() {
    // §3.1.2.12: protocol name "MQTT", version 5, flags 0xCE, keep alive 10,
    // properties: length 5, Session Expiry Interval (17) = 10.
    let golden = [
        0x10, // CONNECT
        0x2A, // remaining length 42
        // variable header (the §3.1.2.12 example)
        0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name
        0x05, // protocol version 5
        0xCE, // flags: user name, password, will retain 0, will QoS 01, will, clean start
        0x00, 0x0A, // keep alive 10 s
        0x05, // property length 5
        0x11, 0x00, 0x00, 0x00, 0x0A, // Session Expiry Interval (0x11) = 10
        // payload (§3.1.3)
        0x00, 0x03, b'c', b'i', b'd', // client identifier "cid"
        0x00, // will property length 0
        0x00, 0x03, b'w', b'/', b't', // will topic "w/t"
        0x00, 0x03, b'b', b'y', b'e', // will payload "bye"
        0x00, 0x04, b'u', b's', b'e', b'r', // user name "user"
        0x00, 0x02, b'p', b'w', // password "pw"
    ];
    let expected = Connect {
        protocol: V5,
        clean_start: true,
        keep_alive: 10,
        client_id: mstr("cid"),
        will: Some(LastWill {
            topic: name("w/t"),
            payload: Bytes::from_static(b"bye"),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Default::default(),
        }),
        username: Some(mstr("user")),
        password: Some(Bytes::from_static(b"pw")),
        properties: ConnectProperties {
            session_expiry_interval: Some(10),
            ..Default::default()
        }
        .into(),
    };
    assert_golden(&golden, expected);
}

#[test]
fn connect_minimal() {
    let golden = [
        0x10, // CONNECT
        0x0D, // remaining length 13
        0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name
        0x05, // protocol version 5
        0x02, // flags: clean start
        0x00, 0x3C, // keep alive 60
        0x00, // property length 0
        0x00, 0x00, // client identifier "" (server assigns one)
    ];
    assert_golden(&golden, Connect::new(V5, MqttString::empty()));
}

#[test]
fn connect_every_connect_and_will_property() {
    let golden = [
        0x10, // CONNECT
        0x9E, 0x01, // remaining length 158 (two bytes: 0x1E + 1 * 128)
        0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name
        0x05, // protocol version 5
        0xF6, // flags: user name 1, password 1, will retain 1, will QoS 10, will 1, clean start 1
        0x00, 0x1E, // keep alive 30
        0x36, // property length 54
        0x11, 0x00, 0x00, 0x0E, 0x10, // Session Expiry Interval = 3600
        0x21, 0x00, 0x14, // Receive Maximum = 20
        0x27, 0x00, 0x01, 0x00, 0x00, // Maximum Packet Size = 65536
        0x22, 0x00, 0x0A, // Topic Alias Maximum = 10
        0x19, 0x01, // Request Response Information = 1
        0x17, 0x00, // Request Problem Information = 0
        0x15, 0x00, 0x0B, // Authentication Method, length 11
        b'S', b'C', b'R', b'A', b'M', b'-', b'S', b'H', b'A', b'-', b'1', // "SCRAM-SHA-1"
        0x16, 0x00, 0x03, 0x01, 0x02, 0x03, // Authentication Data = 01 02 03
        0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'1', // User Property ("a", "1")
        0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'2', // User Property ("a", "2"): order kept
        // payload
        0x00, 0x05, b'd', b'e', b'v', b'-', b'1', // client identifier "dev-1"
        0x33, // will property length 51
        0x18, 0x00, 0x00, 0x00, 0x05, // Will Delay Interval = 5
        0x01, 0x01, // Payload Format Indicator = 1 (UTF-8)
        0x02, 0x00, 0x00, 0x00, 0x3C, // Message Expiry Interval = 60
        0x03, 0x00, 0x0A, // Content Type, length 10
        b't', b'e', b'x', b't', b'/', b'p', b'l', b'a', b'i', b'n', // "text/plain"
        0x08, 0x00, 0x0A, // Response Topic, length 10
        b'r', b'e', b's', b'p', b'/', b'd', b'e', b'v', b'-', b'1', // "resp/dev-1"
        0x09, 0x00, 0x03, 0xC0, 0xFF, 0xEE, // Correlation Data = C0 FF EE
        0x26, 0x00, 0x01, b'w', 0x00, 0x01, b'x', // User Property ("w", "x")
        0x00, 0x0C, // will topic, length 12
        b's', b't', b'a', b't', b'u', b's', b'/', // "status/"
        b'd', b'e', b'v', b'-', b'1', // "dev-1"
        0x00, 0x07, b'o', b'f', b'f', b'l', b'i', b'n', b'e', // will payload "offline"
        0x00, 0x05, b'a', b'l', b'i', b'c', b'e', // user name "alice"
        0x00, 0x02, 0x00, 0xFF, // password: binary 00 FF
    ];
    let expected = Connect {
        protocol: V5,
        clean_start: true,
        keep_alive: 30,
        client_id: mstr("dev-1"),
        will: Some(LastWill {
            topic: name("status/dev-1"),
            payload: Bytes::from_static(b"offline"),
            qos: QoS::ExactlyOnce,
            retain: true,
            properties: WillProperties {
                will_delay_interval: Some(5),
                payload_format_indicator: Some(PayloadFormat::Utf8),
                message_expiry_interval: Some(60),
                content_type: Some(mstr("text/plain")),
                response_topic: Some(name("resp/dev-1")),
                correlation_data: Some(Bytes::from_static(&[0xC0, 0xFF, 0xEE])),
                user_properties: vec![user("w", "x")],
            }
            .into(),
        }),
        username: Some(mstr("alice")),
        password: Some(Bytes::from_static(&[0x00, 0xFF])),
        properties: ConnectProperties {
            session_expiry_interval: Some(3600),
            receive_maximum: Some(nz16(20)),
            maximum_packet_size: Some(nz32(65536)),
            topic_alias_maximum: Some(10),
            request_response_information: Some(true),
            request_problem_information: Some(false),
            authentication_method: Some(mstr("SCRAM-SHA-1")),
            authentication_data: Some(Bytes::from_static(&[1, 2, 3])),
            user_properties: vec![user("a", "1"), user("a", "2")],
        }
        .into(),
    };
    assert_golden(&golden, expected);
}

#[test]
fn connect_password_without_user_name_is_allowed_in_5() {
    // §3.1.2.9: MQTT 5 allows a password without a user name (3.1.1 does not).
    let golden = [
        0x10, // CONNECT
        0x11, // remaining length 17
        0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name
        0x05, // protocol version 5
        0x42, // flags: user name 0, password 1, clean start 1
        0x00, 0x00, // keep alive 0 (disabled)
        0x00, // property length 0
        0x00, 0x01, b'c', // client identifier "c"
        0x00, 0x01, b'p', // password "p"
    ];
    let mut expected = Connect::new(V5, mstr("c"));
    expected.keep_alive = 0;
    expected.password = Some(Bytes::from_static(b"p"));
    assert_golden(&golden, expected);
}

// ---------------------------------------------------------------- CONNACK

#[test]
fn connack_success_without_properties() {
    let golden = [
        0x20, // CONNACK
        0x03, // remaining length 3
        0x00, // acknowledge flags: session present 0
        0x00, // reason code: Success
        0x00, // property length 0
    ];
    assert_golden(&golden, ConnAck::new(false, ConnectReason::Success));
}

#[test]
fn connack_session_present() {
    let golden = [
        0x20, // CONNACK
        0x03, // remaining length 3
        0x01, // session present 1
        0x00, // Success
        0x00, // property length 0
    ];
    assert_golden(&golden, ConnAck::new(true, ConnectReason::Success));
}

#[test]
fn connack_every_reason_code_of_3_2_2_2() {
    let table = [
        (0x00, ConnectReason::Success),
        (0x80, ConnectReason::UnspecifiedError),
        (0x81, ConnectReason::MalformedPacket),
        (0x82, ConnectReason::ProtocolError),
        (0x83, ConnectReason::ImplementationSpecificError),
        (0x84, ConnectReason::UnsupportedProtocolVersion),
        (0x85, ConnectReason::ClientIdentifierNotValid),
        (0x86, ConnectReason::BadUserNameOrPassword),
        (0x87, ConnectReason::NotAuthorized),
        (0x88, ConnectReason::ServerUnavailable),
        (0x89, ConnectReason::ServerBusy),
        (0x8A, ConnectReason::Banned),
        (0x8C, ConnectReason::BadAuthenticationMethod),
        (0x90, ConnectReason::TopicNameInvalid),
        (0x95, ConnectReason::PacketTooLarge),
        (0x97, ConnectReason::QuotaExceeded),
        (0x99, ConnectReason::PayloadFormatInvalid),
        (0x9A, ConnectReason::RetainNotSupported),
        (0x9B, ConnectReason::QoSNotSupported),
        (0x9C, ConnectReason::UseAnotherServer),
        (0x9D, ConnectReason::ServerMoved),
        (0x9F, ConnectReason::ConnectionRateExceeded),
    ];
    assert_eq!(table.len(), ConnectReason::ALL.len());
    for (code, reason) in table {
        let golden = [
            0x20, // CONNACK
            0x03, // remaining length 3
            0x00, // session present 0 (always 0 on refusal [MQTT-3.2.2-6])
            code, // reason code
            0x00, // property length 0
        ];
        assert_golden(&golden, ConnAck::new(false, reason));
    }
}

#[test]
fn connack_every_connack_property() {
    let golden = [
        0x20, // CONNACK
        0x5D, // remaining length 93
        0x00, // session present 0
        0x00, // Success
        0x5A, // property length 90
        0x11, 0x00, 0x00, 0x00, 0x78, // Session Expiry Interval = 120
        0x21, 0x00, 0x64, // Receive Maximum = 100
        0x24, 0x01, // Maximum QoS = 1
        0x25, 0x00, // Retain Available = 0
        0x27, 0x00, 0x10, 0x00, 0x00, // Maximum Packet Size = 1,048,576
        0x12, 0x00, 0x07, // Assigned Client Identifier, length 7
        b'a', b'u', b't', b'o', b'-', b'7', b'F', // "auto-7F"
        0x22, 0x00, 0x05, // Topic Alias Maximum = 5
        0x1F, 0x00, 0x02, b'o', b'k', // Reason String "ok"
        0x28, 0x01, // Wildcard Subscription Available = 1
        0x29, 0x00, // Subscription Identifiers Available = 0
        0x2A, 0x01, // Shared Subscription Available = 1
        0x13, 0x00, 0xB4, // Server Keep Alive = 180
        0x1A, 0x00, 0x05, b'r', b'e', b's', b'p', b'/', // Response Information "resp/"
        0x1C, 0x00, 0x0A, // Server Reference, length 10
        b'o', b't', b'h', b'e', b'r', b':', b'1', b'8', b'8', b'3', // "other:1883"
        0x15, 0x00, 0x0B, // Authentication Method, length 11
        b'S', b'C', b'R', b'A', b'M', b'-', b'S', b'H', b'A', b'-', b'1', // "SCRAM-SHA-1"
        0x16, 0x00, 0x01, 0xAA, // Authentication Data = AA
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // User Property ("k", "v")
    ];
    let expected = ConnAck {
        session_present: false,
        reason: ConnectReason::Success,
        properties: ConnAckProperties {
            session_expiry_interval: Some(120),
            receive_maximum: Some(nz16(100)),
            maximum_qos: Some(MaximumQoS::AtLeastOnce),
            retain_available: Some(false),
            maximum_packet_size: Some(nz32(1_048_576)),
            assigned_client_identifier: Some(mstr("auto-7F")),
            topic_alias_maximum: Some(5),
            reason_string: Some(mstr("ok")),
            wildcard_subscription_available: Some(true),
            subscription_identifier_available: Some(false),
            shared_subscription_available: Some(true),
            server_keep_alive: Some(180),
            response_information: Some(mstr("resp/")),
            server_reference: Some(mstr("other:1883")),
            authentication_method: Some(mstr("SCRAM-SHA-1")),
            authentication_data: Some(Bytes::from_static(&[0xAA])),
            user_properties: vec![user("k", "v")],
        }
        .into(),
    };
    assert_golden(&golden, expected);
}

#[test]
fn properties_in_any_order_decode_the_same() {
    // §2.2.2: the order of properties is not significant (except among User Properties).
    let reordered = [
        0x20, // CONNACK
        0x0E, // remaining length 14
        0x00, // session present 0
        0x00, // Success
        0x0B, // property length 11
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // User Property first
        0x24, 0x00, // Maximum QoS = 0
        0x25, 0x01, // Retain Available = 1
    ];
    let mut expected = ConnAck::new(false, ConnectReason::Success);
    expected.properties.maximum_qos = Some(MaximumQoS::AtMostOnce);
    expected.properties.retain_available = Some(true);
    expected.properties.user_properties = vec![user("k", "v")];
    assert_decodes(&reordered, expected);
}

// ---------------------------------------------------------------- PUBLISH

#[test]
fn publish_qos0_without_properties() {
    let golden = [
        0x30, // PUBLISH, QoS 0
        0x08, // remaining length 8
        0x00, 0x03, b'a', b'/', b'b', // topic name "a/b"
        0x00, // property length 0
        b'h', b'i', // payload
    ];
    assert_golden(
        &golden,
        Publish::at_most_once(name("a/b"), Bytes::from_static(b"hi")),
    );
}

#[test]
fn publish_qos1_every_publish_property() {
    let golden = [
        0x32, // PUBLISH, DUP 0, QoS 1, RETAIN 0
        0x3E, // remaining length 62
        0x00, 0x03, b'a', b'/', b'b', // topic name "a/b"
        0x00, 0x01, // packet identifier 1
        0x34, // property length 52
        0x01, 0x01, // Payload Format Indicator = 1
        0x02, 0x00, 0x00, 0x01, 0x2C, // Message Expiry Interval = 300
        0x23, 0x00, 0x03, // Topic Alias = 3
        0x08, 0x00, 0x03, b'r', b'/', b'1', // Response Topic "r/1"
        0x09, 0x00, 0x02, 0x01, 0x02, // Correlation Data = 01 02
        0x03, 0x00, 0x04, b'j', b's', b'o', b'n', // Content Type "json"
        0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'b', // User Property ("a", "b")
        0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'c', // User Property ("a", "c")
        0x0B, 0x01, // Subscription Identifier = 1
        0x0B, 0xC8, 0x01, // Subscription Identifier = 200 (two-byte varint)
        0x0B, 0xFF, 0xFF, 0xFF, 0x7F, // Subscription Identifier = 268,435,455 (largest)
        b'{', b'}', // payload
    ];
    let mut expected = Publish::with_qos(
        name("a/b"),
        Bytes::from_static(b"{}"),
        QoS::AtLeastOnce,
        pid(1),
    );
    expected.properties = PublishProperties {
        payload_format_indicator: Some(PayloadFormat::Utf8),
        message_expiry_interval: Some(300),
        topic_alias: Some(nz16(3)),
        response_topic: Some(name("r/1")),
        correlation_data: Some(Bytes::from_static(&[1, 2])),
        content_type: Some(mstr("json")),
        user_properties: vec![user("a", "b"), user("a", "c")],
        subscription_identifiers: vec![sub_id(1), sub_id(200), sub_id(268_435_455)],
    }
    .into();
    assert_golden(&golden, expected);
}

#[test]
fn publish_qos2_dup_retain_with_topic_alias_and_empty_topic() {
    // §3.3.2.3.4: a zero-length topic name with a Topic Alias.
    let golden = [
        0x3D, // PUBLISH, DUP 1, QoS 2, RETAIN 1
        0x09, // remaining length 9
        0x00, 0x00, // topic name: zero length
        0x12, 0x34, // packet identifier 0x1234
        0x03, // property length 3
        0x23, 0x00, 0x07, // Topic Alias = 7
        b'x', // payload
    ];
    let mut expected = Publish::with_qos(
        TopicName::alias_only(),
        Bytes::from_static(b"x"),
        QoS::ExactlyOnce,
        pid(0x1234),
    );
    expected.dup = true;
    expected.retain = true;
    expected.properties.topic_alias = Some(nz16(7));
    assert_golden(&golden, expected);
}

#[test]
fn publish_payload_format_unspecified() {
    let golden = [
        0x30, // PUBLISH, QoS 0
        0x07, // remaining length 7
        0x00, 0x01, b't', // topic name "t"
        0x02, // property length 2
        0x01, 0x00, // Payload Format Indicator = 0 (unspecified bytes)
        0xFF, // payload
    ];
    let mut expected = Publish::at_most_once(name("t"), Bytes::from_static(&[0xFF]));
    expected.properties.payload_format_indicator = Some(PayloadFormat::Unspecified);
    assert_golden(&golden, expected);
}

#[test]
fn publish_utf8_topic_of_figure_1_1() {
    // §1.5.4 example: "A\u{2A6D4}" is 00 05 41 F0 AA 9B 94.
    let golden = [
        0x30, // PUBLISH, QoS 0
        0x08, // remaining length 8
        0x00, 0x05, 0x41, 0xF0, 0xAA, 0x9B, 0x94, // topic name
        0x00, // property length 0
    ];
    assert_golden(
        &golden,
        Publish::at_most_once(name("A\u{2A6D4}"), Bytes::new()),
    );
}

#[test]
fn publish_property_length_of_two_bytes() {
    // A property list of 128 bytes: its length is the two-byte varint 80 01.
    let mut golden = vec![
        0x30, // PUBLISH, QoS 0
        0x85, 0x01, // remaining length 133 = 3 (topic) + 2 (property length) + 128
        0x00, 0x01, b't', // topic name "t"
        0x80, 0x01, // property length 128 (Table 1-1: 128 is 80 01)
        0x03, 0x00, 0x7D, // Content Type, length 125
    ];
    golden.extend_from_slice(&[b'x'; 125]); // the content type's characters
    let mut expected = Publish::at_most_once(name("t"), Bytes::new());
    expected.properties.content_type = Some(mstr(&"x".repeat(125)));
    assert_golden(&golden, expected);
}

// ------------------------------------------------- PUBACK PUBREC PUBREL PUBCOMP

#[test]
fn puback_remaining_length_2() {
    // §3.4.2.1: reason code and property length omitted when Success without properties.
    let golden = [
        0x40, // PUBACK
        0x02, // remaining length 2
        0x00, 0x0A, // packet identifier 10
    ];
    assert_golden(&golden, PubAck::new(pid(10)));
}

#[test]
fn puback_remaining_length_3() {
    // §3.4.2.2.1: "If the Remaining Length is less than 4 there is no Property Length".
    let golden = [
        0x40, // PUBACK
        0x03, // remaining length 3
        0x00, 0x0A, // packet identifier 10
        0x10, // reason code: No matching subscribers
    ];
    assert_golden(
        &golden,
        PubAck::with_reason(pid(10), PubAckReason::NoMatchingSubscribers),
    );
}

#[test]
fn puback_longer_forms_of_success_decode() {
    // Remaining length 3 with Success, and 4 with an empty property list:
    // valid, and the same packet as the two-byte form the encoder writes.
    assert_decodes(&[0x40, 0x03, 0x00, 0x0A, 0x00], PubAck::new(pid(10)));
    assert_decodes(&[0x40, 0x04, 0x00, 0x0A, 0x00, 0x00], PubAck::new(pid(10)));
}

#[test]
fn puback_with_properties() {
    let golden = [
        0x40, // PUBACK
        0x12, // remaining length 18
        0x00, 0x0A, // packet identifier 10
        0x97, // reason code: Quota exceeded
        0x0E, // property length 14
        0x1F, 0x00, 0x04, b'f', b'u', b'l', b'l', // Reason String "full"
        0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'b', // User Property ("a", "b")
    ];
    let mut expected = PubAck::with_reason(pid(10), PubAckReason::QuotaExceeded);
    expected.properties = AckProperties {
        reason_string: Some(mstr("full")),
        user_properties: vec![user("a", "b")],
    }
    .into();
    assert_golden(&golden, expected);
}

#[test]
fn puback_every_reason_code() {
    let table = [
        (0x00, PubAckReason::Success), // written in the 2-byte form, see below
        (0x10, PubAckReason::NoMatchingSubscribers),
        (0x80, PubAckReason::UnspecifiedError),
        (0x83, PubAckReason::ImplementationSpecificError),
        (0x87, PubAckReason::NotAuthorized),
        (0x90, PubAckReason::TopicNameInvalid),
        (0x91, PubAckReason::PacketIdentifierInUse),
        (0x97, PubAckReason::QuotaExceeded),
        (0x99, PubAckReason::PayloadFormatInvalid),
    ];
    assert_eq!(table.len(), PubAckReason::ALL.len());
    for (code, reason) in &table[1..] {
        let golden = [
            0x40, // PUBACK
            0x03, // remaining length 3
            0x00, 0x05,  // packet identifier 5
            *code, // reason code
        ];
        assert_golden(&golden, PubAck::with_reason(pid(5), *reason));
    }
}

#[test]
fn pubrec_every_reason_code() {
    let table = [
        (0x10, PubRecReason::NoMatchingSubscribers),
        (0x80, PubRecReason::UnspecifiedError),
        (0x83, PubRecReason::ImplementationSpecificError),
        (0x87, PubRecReason::NotAuthorized),
        (0x90, PubRecReason::TopicNameInvalid),
        (0x91, PubRecReason::PacketIdentifierInUse),
        (0x97, PubRecReason::QuotaExceeded),
        (0x99, PubRecReason::PayloadFormatInvalid),
    ];
    assert_eq!(table.len() + 1, PubRecReason::ALL.len());
    for (code, reason) in table {
        let golden = [
            0x50, // PUBREC
            0x03, // remaining length 3
            0x00, 0x05, // packet identifier 5
            code, // reason code
        ];
        assert_golden(&golden, PubRec::with_reason(pid(5), reason));
    }
    // Success: remaining length 2.
    assert_golden(&[0x50, 0x02, 0x00, 0x05], PubRec::new(pid(5)));
}

#[test]
fn pubrec_with_properties() {
    let golden = [
        0x50, // PUBREC
        0x0B, // remaining length 11
        0x00, 0x07, // packet identifier 7
        0x80, // Unspecified error
        0x07, // property length 7
        0x26, 0x00, 0x01, b'x', 0x00, 0x01, b'y', // User Property ("x", "y")
    ];
    let mut expected = PubRec::with_reason(pid(7), PubRecReason::UnspecifiedError);
    expected.properties.user_properties = vec![user("x", "y")];
    assert_golden(&golden, expected);
}

#[test]
fn pubrel_short_forms() {
    assert_golden(
        &[
            0x62, // PUBREL, flags 0010
            0x02, // remaining length 2
            0x00, 0x0A, // packet identifier 10 (Success)
        ],
        PubRel::new(pid(10)),
    );
    assert_golden(
        &[
            0x62, // PUBREL
            0x03, // remaining length 3
            0x00, 0x0A, // packet identifier 10
            0x92, // Packet Identifier not found
        ],
        PubRel::with_reason(pid(10), PubRelReason::PacketIdentifierNotFound),
    );
    assert_eq!(PubRelReason::ALL.len(), 2);
}

#[test]
fn pubrel_success_with_reason_string() {
    // With properties, the Success reason code must be written.
    let golden = [
        0x62, // PUBREL
        0x09, // remaining length 9
        0x00, 0x0A, // packet identifier 10
        0x00, // Success
        0x05, // property length 5
        0x1F, 0x00, 0x02, b'o', b'k', // Reason String "ok"
    ];
    let mut expected = PubRel::new(pid(10));
    expected.properties.reason_string = Some(mstr("ok"));
    assert_golden(&golden, expected);
}

#[test]
fn pubcomp_short_forms() {
    assert_golden(
        &[
            0x70, // PUBCOMP
            0x02, // remaining length 2
            0x00, 0x0A, // packet identifier 10
        ],
        PubComp::new(pid(10)),
    );
    assert_golden(
        &[
            0x70, // PUBCOMP
            0x03, // remaining length 3
            0x00, 0x0A, // packet identifier 10
            0x92, // Packet Identifier not found
        ],
        PubComp::with_reason(pid(10), PubCompReason::PacketIdentifierNotFound),
    );
    assert_eq!(PubCompReason::ALL.len(), 2);
}

// -------------------------------------------------------- SUBSCRIBE, SUBACK

#[test]
fn subscribe_spec_example_3_8() {
    // The §3.8.2 (packet identifier 10, no properties) and §3.8.3 (payload) examples.
    let golden = [
        0x82, // SUBSCRIBE, flags 0010
        0x0F, // remaining length 15
        0x00, 0x0A, // packet identifier 10
        0x00, // property length 0
        0x00, 0x03, b'a', b'/', b'b', // topic filter "a/b"
        0x01, // subscription options: QoS 1
        0x00, 0x03, b'c', b'/', b'd', // topic filter "c/d"
        0x02, // subscription options: QoS 2
    ];
    let expected = Subscribe {
        packet_id: pid(10),
        filters: vec![
            (filter("a/b"), SubscriptionOptions::qos(QoS::AtLeastOnce)),
            (filter("c/d"), SubscriptionOptions::qos(QoS::ExactlyOnce)),
        ],
        properties: Default::default(),
    };
    assert_golden(&golden, expected);
}

#[test]
fn subscribe_options_bits_and_properties() {
    // §3.8.3.1: bits 0-1 QoS, 2 No Local, 3 Retain As Published, 4-5 Retain
    // Handling, 6-7 reserved.
    let golden = [
        0x82, // SUBSCRIBE
        0x26, // remaining length 38
        0x00, 0x03, // packet identifier 3
        0x0A, // property length 10
        0x0B, 0x80, 0x01, // Subscription Identifier = 128 (varint 80 01)
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // User Property ("k", "v")
        0x00, 0x03, b'a', b'/', b'+', // topic filter "a/+"
        0x2D, // 0b00_10_1_1_01: retain handling 2, RAP 1, no local 1, QoS 1
        0x00, 0x03, b'b', b'/', b'#', // topic filter "b/#"
        0x12, // 0b00_01_0_0_10: retain handling 1, RAP 0, no local 0, QoS 2
        0x00, 0x0A, // topic filter, length 10
        b'$', b's', b'h', b'a', b'r', b'e', b'/', b'g', b'/', b'c', // "$share/g/c"
        0x08, // 0b00_00_1_0_00: retain handling 0, RAP 1, no local 0 (shared), QoS 0
    ];
    let expected = Subscribe {
        packet_id: pid(3),
        filters: vec![
            (
                filter("a/+"),
                SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: RetainHandling::DoNotSend,
                },
            ),
            (
                filter("b/#"),
                SubscriptionOptions {
                    qos: QoS::ExactlyOnce,
                    no_local: false,
                    retain_as_published: false,
                    retain_handling: RetainHandling::SendAtSubscribeIfNew,
                },
            ),
            (
                filter("$share/g/c"),
                SubscriptionOptions {
                    qos: QoS::AtMostOnce,
                    no_local: false,
                    retain_as_published: true,
                    retain_handling: RetainHandling::SendAtSubscribe,
                },
            ),
        ],
        properties: SubscribeProperties {
            subscription_identifier: Some(sub_id(128)),
            user_properties: vec![user("k", "v")],
        }
        .into(),
    };
    assert_golden(&golden, expected);
}

#[test]
fn suback_every_reason_code() {
    let golden = [
        0x90, // SUBACK
        0x0F, // remaining length 15
        0x00, 0x0A, // packet identifier 10
        0x00, // property length 0
        0x00, // Granted QoS 0
        0x01, // Granted QoS 1
        0x02, // Granted QoS 2
        0x80, // Unspecified error
        0x83, // Implementation specific error
        0x87, // Not authorized
        0x8F, // Topic Filter invalid
        0x91, // Packet Identifier in use
        0x97, // Quota exceeded
        0x9E, // Shared Subscriptions not supported
        0xA1, // Subscription Identifiers not supported
        0xA2, // Wildcard Subscriptions not supported
    ];
    let expected = SubAck {
        packet_id: pid(10),
        reasons: vec![
            SubAckReason::GrantedQoS0,
            SubAckReason::GrantedQoS1,
            SubAckReason::GrantedQoS2,
            SubAckReason::UnspecifiedError,
            SubAckReason::ImplementationSpecificError,
            SubAckReason::NotAuthorized,
            SubAckReason::TopicFilterInvalid,
            SubAckReason::PacketIdentifierInUse,
            SubAckReason::QuotaExceeded,
            SubAckReason::SharedSubscriptionsNotSupported,
            SubAckReason::SubscriptionIdentifiersNotSupported,
            SubAckReason::WildcardSubscriptionsNotSupported,
        ],
        properties: Default::default(),
    };
    assert_eq!(expected.reasons.len(), SubAckReason::ALL.len());
    assert_golden(&golden, expected);
}

#[test]
fn suback_with_reason_string() {
    let golden = [
        0x90, // SUBACK
        0x09, // remaining length 9
        0x00, 0x0A, // packet identifier 10
        0x05, // property length 5
        0x1F, 0x00, 0x02, b'n', b'o', // Reason String "no"
        0x87, // Not authorized
    ];
    let expected = SubAck {
        packet_id: pid(10),
        reasons: vec![SubAckReason::NotAuthorized],
        properties: AckProperties {
            reason_string: Some(mstr("no")),
            user_properties: Vec::new(),
        }
        .into(),
    };
    assert_golden(&golden, expected);
}

// --------------------------------------------------- UNSUBSCRIBE, UNSUBACK

#[test]
fn unsubscribe_spec_example_3_10() {
    // The §3.10.3 example: "a/b" and "c/d".
    let golden = [
        0xA2, // UNSUBSCRIBE, flags 0010
        0x0D, // remaining length 13
        0x00, 0x0A, // packet identifier 10
        0x00, // property length 0
        0x00, 0x03, b'a', b'/', b'b', // topic filter "a/b"
        0x00, 0x03, b'c', b'/', b'd', // topic filter "c/d"
    ];
    let expected = Unsubscribe {
        packet_id: pid(10),
        filters: vec![filter("a/b"), filter("c/d")],
        properties: Default::default(),
    };
    assert_golden(&golden, expected);
}

#[test]
fn unsubscribe_with_user_property() {
    let golden = [
        0xA2, // UNSUBSCRIBE
        0x0F, // remaining length 15
        0x00, 0x0B, // packet identifier 11
        0x07, // property length 7
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // User Property ("k", "v")
        0x00, 0x03, b'$', b'S', b'Y', // topic filter "$SY"
    ];
    let expected = Unsubscribe {
        packet_id: pid(11),
        filters: vec![filter("$SY")],
        properties: UnsubscribeProperties {
            user_properties: vec![user("k", "v")],
        }
        .into(),
    };
    assert_golden(&golden, expected);
}

#[test]
fn unsuback_every_reason_code() {
    let golden = [
        0xB0, // UNSUBACK
        0x0A, // remaining length 10
        0x00, 0x0A, // packet identifier 10
        0x00, // property length 0
        0x00, // Success
        0x11, // No subscription existed
        0x80, // Unspecified error
        0x83, // Implementation specific error
        0x87, // Not authorized
        0x8F, // Topic Filter invalid
        0x91, // Packet Identifier in use
    ];
    let expected = UnsubAck {
        packet_id: pid(10),
        reasons: vec![
            UnsubAckReason::Success,
            UnsubAckReason::NoSubscriptionExisted,
            UnsubAckReason::UnspecifiedError,
            UnsubAckReason::ImplementationSpecificError,
            UnsubAckReason::NotAuthorized,
            UnsubAckReason::TopicFilterInvalid,
            UnsubAckReason::PacketIdentifierInUse,
        ],
        properties: Default::default(),
    };
    assert_eq!(expected.reasons.len(), UnsubAckReason::ALL.len());
    assert_golden(&golden, expected);
}

#[test]
fn unsuback_with_reason_string() {
    let golden = [
        0xB0, // UNSUBACK
        0x0A, // remaining length 10
        0x00, 0x0A, // packet identifier 10
        0x06, // property length 6
        0x1F, 0x00, 0x03, b'g', b'o', b'n', // Reason String "gon"
        0x00, // Success
    ];
    let expected = UnsubAck {
        packet_id: pid(10),
        reasons: vec![UnsubAckReason::Success],
        properties: AckProperties {
            reason_string: Some(mstr("gon")),
            user_properties: Vec::new(),
        }
        .into(),
    };
    assert_golden(&golden, expected);
}

// --------------------------------------------------------- PINGREQ, PINGRESP

#[test]
fn pingreq_and_pingresp() {
    assert_golden(
        &[0xC0 /* PINGREQ */, 0x00 /* remaining length 0 */],
        Packet::PingReq,
    );
    assert_golden(
        &[0xD0 /* PINGRESP */, 0x00 /* remaining length 0 */],
        Packet::PingResp,
    );
}

// ------------------------------------------------------------- DISCONNECT

#[test]
fn disconnect_remaining_length_0() {
    // §3.14.2.1: remaining length 0 means Normal disconnection, no properties.
    assert_golden(
        &[
            0xE0, /* DISCONNECT */
            0x00, /* remaining length 0 */
        ],
        Disconnect::default(),
    );
}

#[test]
fn disconnect_remaining_length_1() {
    // §3.14.2.2.1: remaining length below 2, property length 0.
    let golden = [
        0xE0, // DISCONNECT
        0x01, // remaining length 1
        0x04, // Disconnect with Will Message
    ];
    assert_golden(
        &golden,
        Disconnect::new(DisconnectReason::DisconnectWithWillMessage),
    );
}

#[test]
fn disconnect_longer_forms_of_normal_decode() {
    assert_decodes(&[0xE0, 0x01, 0x00], Disconnect::default());
    assert_decodes(&[0xE0, 0x02, 0x00, 0x00], Disconnect::default());
}

#[test]
fn disconnect_every_reason_code() {
    let table = [
        (0x04, DisconnectReason::DisconnectWithWillMessage),
        (0x80, DisconnectReason::UnspecifiedError),
        (0x81, DisconnectReason::MalformedPacket),
        (0x82, DisconnectReason::ProtocolError),
        (0x83, DisconnectReason::ImplementationSpecificError),
        (0x87, DisconnectReason::NotAuthorized),
        (0x89, DisconnectReason::ServerBusy),
        (0x8B, DisconnectReason::ServerShuttingDown),
        (0x8D, DisconnectReason::KeepAliveTimeout),
        (0x8E, DisconnectReason::SessionTakenOver),
        (0x8F, DisconnectReason::TopicFilterInvalid),
        (0x90, DisconnectReason::TopicNameInvalid),
        (0x93, DisconnectReason::ReceiveMaximumExceeded),
        (0x94, DisconnectReason::TopicAliasInvalid),
        (0x95, DisconnectReason::PacketTooLarge),
        (0x96, DisconnectReason::MessageRateTooHigh),
        (0x97, DisconnectReason::QuotaExceeded),
        (0x98, DisconnectReason::AdministrativeAction),
        (0x99, DisconnectReason::PayloadFormatInvalid),
        (0x9A, DisconnectReason::RetainNotSupported),
        (0x9B, DisconnectReason::QoSNotSupported),
        (0x9C, DisconnectReason::UseAnotherServer),
        (0x9D, DisconnectReason::ServerMoved),
        (0x9E, DisconnectReason::SharedSubscriptionsNotSupported),
        (0x9F, DisconnectReason::ConnectionRateExceeded),
        (0xA0, DisconnectReason::MaximumConnectTime),
        (0xA1, DisconnectReason::SubscriptionIdentifiersNotSupported),
        (0xA2, DisconnectReason::WildcardSubscriptionsNotSupported),
    ];
    assert_eq!(table.len() + 1, DisconnectReason::ALL.len()); // + Normal disconnection
    for (code, reason) in table {
        let golden = [
            0xE0, // DISCONNECT
            0x01, // remaining length 1
            code, // reason code
        ];
        assert_golden(&golden, Disconnect::new(reason));
    }
}

#[test]
fn disconnect_client_with_session_expiry_and_reason_string() {
    let golden = [
        0xE0, // DISCONNECT
        0x14, // remaining length 20
        0x00, // Normal disconnection
        0x12, // property length 18
        0x11, 0x00, 0x00, 0x0E, 0x10, // Session Expiry Interval = 3600
        0x1F, 0x00, 0x03, b'b', b'y', b'e', // Reason String "bye"
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // User Property ("k", "v")
    ];
    let expected = Disconnect {
        reason: DisconnectReason::NormalDisconnection,
        properties: DisconnectProperties {
            session_expiry_interval: Some(3600),
            reason_string: Some(mstr("bye")),
            server_reference: None,
            user_properties: vec![user("k", "v")],
        }
        .into(),
    };
    assert_golden(&golden, expected);
}

#[test]
fn disconnect_server_use_another_server() {
    let golden = [
        0xE0, // DISCONNECT
        0x0B, // remaining length 11
        0x9C, // Use another server
        0x09, // property length 9
        0x1C, 0x00, 0x06, b'b', b':', b'1', b'8', b'8', b'3', // Server Reference "b:1883"
    ];
    let mut expected = Disconnect::new(DisconnectReason::UseAnotherServer);
    expected.properties.server_reference = Some(mstr("b:1883"));
    assert_golden(&golden, expected);
}

// ------------------------------------------------------------------- AUTH

#[test]
fn auth_remaining_length_0() {
    // [MQTT-3.15.2-1]: Success without properties may omit everything.
    assert_golden(
        &[0xF0 /* AUTH */, 0x00 /* remaining length 0 */],
        Auth::default(),
    );
}

#[test]
fn auth_continue_authentication_with_every_auth_property() {
    let golden = [
        0xF0, // AUTH
        0x25, // remaining length 37
        0x18, // Continue authentication
        0x23, // property length 35
        0x15, 0x00, 0x0B, // Authentication Method, length 11
        b'S', b'C', b'R', b'A', b'M', b'-', b'S', b'H', b'A', b'-', b'1', // "SCRAM-SHA-1"
        0x16, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04, // Authentication Data = 01 02 03 04
        0x1F, 0x00, 0x04, b's', b't', b'e', b'p', // Reason String "step"
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // User Property ("k", "v")
    ];
    let expected = Auth {
        reason: AuthReason::ContinueAuthentication,
        properties: AuthProperties {
            authentication_method: Some(mstr("SCRAM-SHA-1")),
            authentication_data: Some(Bytes::from_static(&[1, 2, 3, 4])),
            reason_string: Some(mstr("step")),
            user_properties: vec![user("k", "v")],
        }
        .into(),
    };
    assert_golden(&golden, expected);
}

#[test]
fn auth_re_authenticate_and_success_with_method() {
    let golden = [
        0xF0, // AUTH
        0x07, // remaining length 7
        0x19, // Re-authenticate
        0x05, // property length 5
        0x15, 0x00, 0x02, b'm', b'1', // Authentication Method "m1"
    ];
    let mut expected = Auth {
        reason: AuthReason::ReAuthenticate,
        properties: Default::default(),
    };
    expected.properties.authentication_method = Some(mstr("m1"));
    assert_golden(&golden, expected.clone());

    let golden = [
        0xF0, // AUTH
        0x07, // remaining length 7
        0x00, // Success (written because properties follow)
        0x05, // property length 5
        0x15, 0x00, 0x02, b'm', b'1', // Authentication Method "m1"
    ];
    expected.reason = AuthReason::Success;
    assert_golden(&golden, expected);
    assert_eq!(AuthReason::ALL.len(), 3);
}

// ------------------------------------------------------------- coverage

#[test]
fn every_property_identifier_of_table_2_4_is_covered() {
    // The identifiers used by the vectors above, checked against Table 2-4.
    use sansmqtt_proto::PropertyId;
    let covered: [u8; 27] = [
        0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A,
        0x1C, 0x1F, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A,
    ];
    for id in 0..=0x7F_u32 {
        let known = PropertyId::from_u32(id).is_some();
        assert_eq!(known, covered.contains(&(id as u8)), "property {id:#04x}");
    }
}
