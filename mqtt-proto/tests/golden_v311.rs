//! Golden byte vectors for MQTT 3.1.1 (OASIS Standard, 29 October 2014) and
//! MQTT 3.1 (protocol name `MQIsdp`, level 3).
//!
//! Every vector is written by hand from the packet layouts of the
//! specification (chapter 2 and 3), reusing its non-normative examples where
//! it gives one: the UTF-8 string example of §1.5.3, the Remaining Length
//! table of §2.2.3, the CONNECT variable header example (end of §3.1.2), and
//! the examples of §3.3.2 (PUBLISH), §3.8 (SUBSCRIBE), §3.9 (SUBACK) and §3.10
//! (UNSUBSCRIBE). None is produced by the encoder under test. Each test checks
//! both directions: decoding the bytes gives the expected packet, encoding the
//! packet gives the bytes, `encoded_len` agrees, and the streaming decoder fed
//! one byte at a time yields the same packet.

use bytes::{Bytes, BytesMut};
use sansmqtt_proto::{
    ConnAck, Connect, ConnectReason, Decoder, Disconnect, FixedHeader, LastWill, MAX_PACKET_SIZE,
    MqttString, Packet, PacketId, PacketType, ProtocolVersion, PubAck, PubComp, PubRec, PubRel,
    Publish, QoS, SubAck, SubAckReason, Subscribe, SubscriptionOptions, TopicFilter, TopicName,
    UnsubAck, Unsubscribe, peek_header,
};

const V311: ProtocolVersion = ProtocolVersion::V3_1_1;
const V31: ProtocolVersion = ProtocolVersion::V3_1;

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

/// Both directions for one version: decode == expected, encode == golden,
/// `encoded_len` == golden length, and the streaming decoder agrees.
fn assert_golden_for(version: ProtocolVersion, golden: &[u8], expected: &Packet) {
    let decoded = Packet::decode(Bytes::copy_from_slice(golden), version)
        .unwrap_or_else(|e| panic!("{version:?}: decoding {golden:02x?} failed: {e}"));
    assert_eq!(&decoded, expected, "{version:?}: decoded packet");

    assert_eq!(
        expected.encoded_len(version),
        Ok(golden.len()),
        "{version:?}: encoded_len"
    );
    let mut buf = BytesMut::new();
    assert_eq!(
        expected.encode(version, &mut buf),
        Ok(golden.len()),
        "{version:?}: encode result"
    );
    assert_eq!(&buf[..], golden, "{version:?}: encoded bytes");

    // The streaming decoder: nothing before the last byte, then the packet.
    let mut decoder = Decoder::new(version);
    if golden.len() <= 4096 {
        for (i, byte) in golden.iter().enumerate() {
            assert_eq!(
                decoder.decode(),
                Ok(None),
                "{version:?}: packet before byte {i}"
            );
            decoder.feed(std::slice::from_ref(byte));
        }
    } else {
        decoder.feed(golden);
    }
    assert_eq!(
        decoder.decode(),
        Ok(Some(expected.clone())),
        "{version:?}: streaming"
    );
    assert_eq!(decoder.buffered(), 0);
}

/// Packets other than CONNECT are identical in MQTT 3.1 and 3.1.1.
fn assert_golden(golden: &[u8], expected: impl Into<Packet>) {
    let expected = expected.into();
    assert_golden_for(V311, golden, &expected);
    assert_golden_for(V31, golden, &expected);
}

// ---------------------------------------------------------------- CONNECT

#[test]
fn connect_with_will_username_password_spec_example_3_1_2_10() {
    // The non-normative example of §3.1.2: protocol name "MQTT", level 4, flags 0xCE (user name,
    // password, will QoS 1, will flag, clean session), keep alive 10.
    let golden = [
        0x10, // CONNECT, flags 0000
        0x23, // remaining length 35
        // variable header (the §3.1.2 example)
        0x00, 0x04, // protocol name length 4
        b'M', b'Q', b'T', b'T', // protocol name
        0x04, // protocol level 4 (3.1.1)
        0xCE, // flags: user name, password, will retain 0, will QoS 01, will, clean session
        0x00, 0x0A, // keep alive 10 s
        // payload, in the order of §3.1.3
        0x00, 0x03, b'c', b'i', b'd', // client identifier "cid"
        0x00, 0x03, b'w', b'/', b't', // will topic "w/t"
        0x00, 0x03, b'b', b'y', b'e', // will message "bye" (binary, 2-byte length)
        0x00, 0x04, b'u', b's', b'e', b'r', // user name "user"
        0x00, 0x02, b'p', b'w', // password "pw" (binary)
    ];
    let expected = Connect {
        protocol: V311,
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
        properties: Default::default(),
    };
    assert_golden_for(V311, &golden, &expected.into());
}

#[test]
fn connect_minimal_empty_client_id() {
    let golden = [
        0x10, // CONNECT
        0x0C, // remaining length 12
        0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
        0x04, // protocol level 4
        0x02, // connect flags: clean session only
        0x00, 0x3C, // keep alive 60 s
        0x00, 0x00, // client identifier "" (zero length) [MQTT-3.1.3-6]
    ];
    let expected = Connect::new(V311, MqttString::empty());
    assert_golden_for(V311, &golden, &expected.into());
}

#[test]
fn connect_will_qos2_retain_username_without_password() {
    let golden = [
        0x10, // CONNECT
        0x16, // remaining length 22
        0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name
        0x04, // protocol level 4
        0xB4, // flags: user name 1, password 0, will retain 1, will QoS 10, will 1, clean session 0
        0xFF, 0xFF, // keep alive 65535 s (maximum)
        0x00, 0x02, b'c', b'1', // client identifier "c1"
        0x00, 0x01, b'a', // will topic "a"
        0x00, 0x00, // will message: zero length
        0x00, 0x01, b'u', // user name "u"
    ];
    let expected = Connect {
        protocol: V311,
        clean_start: false,
        keep_alive: 0xFFFF,
        client_id: mstr("c1"),
        will: Some(LastWill {
            topic: name("a"),
            payload: Bytes::new(),
            qos: QoS::ExactlyOnce,
            retain: true,
            properties: Default::default(),
        }),
        username: Some(mstr("u")),
        password: None,
        properties: Default::default(),
    };
    assert_golden_for(V311, &golden, &expected.into());
}

#[test]
fn connect_mqtt_3_1_mqisdp_level_3() {
    let golden = [
        0x10, // CONNECT
        0x19, // remaining length 25
        0x00, 0x06, // protocol name length 6
        b'M', b'Q', b'I', b's', b'd', b'p', // protocol name "MQIsdp" (MQTT 3.1)
        0x03, // protocol version 3
        0xC2, // flags: user name 1, password 1, clean session 1
        0x00, 0x3C, // keep alive 60 s
        0x00, 0x05, b'p', b'a', b'h', b'o', b'1', // client identifier "paho1"
        0x00, 0x01, b'u', // user name "u"
        0x00, 0x01, b'p', // password "p"
    ];
    let expected = Connect {
        protocol: V31,
        clean_start: true,
        keep_alive: 60,
        client_id: mstr("paho1"),
        will: None,
        username: Some(mstr("u")),
        password: Some(Bytes::from_static(b"p")),
        properties: Default::default(),
    };
    assert_golden_for(V31, &golden, &expected.clone().into());
    // A server does not know the version before CONNECT: a decoder set up
    // for 3.1.1 reads the level from the packet.
    assert_eq!(
        Packet::decode(Bytes::copy_from_slice(&golden), V311),
        Ok(expected.into())
    );
}

// ---------------------------------------------------------------- CONNACK

#[test]
fn connack_every_return_code_of_table_3_1() {
    // §3.2.2.3 Table 3.1: return codes 0 to 5.
    let table = [
        (0x00, ConnectReason::Success), // Connection Accepted
        (0x01, ConnectReason::UnsupportedProtocolVersion), // unacceptable protocol version
        (0x02, ConnectReason::ClientIdentifierNotValid), // identifier rejected
        (0x03, ConnectReason::ServerUnavailable), // Server unavailable
        (0x04, ConnectReason::BadUserNameOrPassword), // bad user name or password
        (0x05, ConnectReason::NotAuthorized), // not authorized
    ];
    for (code, reason) in table {
        let golden = [
            0x20, // CONNACK
            0x02, // remaining length 2
            0x00, // acknowledge flags: session present 0
            code, // return code
        ];
        assert_eq!(reason.v3_return_code(), Some(code));
        assert_golden(&golden, ConnAck::new(false, reason));
    }
}

#[test]
fn connack_session_present() {
    let golden = [
        0x20, // CONNACK
        0x02, // remaining length 2
        0x01, // acknowledge flags: session present 1
        0x00, // return code 0: accepted
    ];
    assert_golden(&golden, ConnAck::new(true, ConnectReason::Success));
}

// ---------------------------------------------------------------- PUBLISH

#[test]
fn publish_qos0() {
    let golden = [
        0x30, // PUBLISH, DUP 0, QoS 0, RETAIN 0
        0x0A, // remaining length 10
        0x00, 0x03, b'a', b'/', b'b', // topic name "a/b" (no packet identifier at QoS 0)
        b'h', b'e', b'l', b'l', b'o', // payload "hello"
    ];
    assert_golden(
        &golden,
        Publish::at_most_once(name("a/b"), Bytes::from_static(b"hello")),
    );
}

#[test]
fn publish_qos1_spec_example_3_3_2_3() {
    // The §3.3.2 example: topic name "a/b", packet identifier 10.
    let golden = [
        0x32, // PUBLISH, DUP 0, QoS 1, RETAIN 0
        0x09, // remaining length 9
        0x00, 0x03, b'a', b'/', b'b', // topic name "a/b"
        0x00, 0x0A, // packet identifier 10
        b'h', b'i', // payload
    ];
    assert_golden(
        &golden,
        Publish::with_qos(
            name("a/b"),
            Bytes::from_static(b"hi"),
            QoS::AtLeastOnce,
            pid(10),
        ),
    );
}

#[test]
fn publish_every_valid_combination_of_dup_qos_retain() {
    // §3.3.1: bit 3 DUP, bits 2-1 QoS, bit 0 RETAIN. DUP is 0 at QoS 0 [MQTT-3.3.1-2].
    let table: [(u8, bool, QoS, bool); 10] = [
        (0x30, false, QoS::AtMostOnce, false),
        (0x31, false, QoS::AtMostOnce, true),
        (0x32, false, QoS::AtLeastOnce, false),
        (0x33, false, QoS::AtLeastOnce, true),
        (0x3A, true, QoS::AtLeastOnce, false),
        (0x3B, true, QoS::AtLeastOnce, true),
        (0x34, false, QoS::ExactlyOnce, false),
        (0x35, false, QoS::ExactlyOnce, true),
        (0x3C, true, QoS::ExactlyOnce, false),
        (0x3D, true, QoS::ExactlyOnce, true),
    ];
    for (first, dup, qos, retain) in table {
        let golden: Vec<u8> = if qos == QoS::AtMostOnce {
            vec![
                first, // PUBLISH with its flags
                0x05,  // remaining length 5
                0x00, 0x01, b't', // topic name "t"
                0x00, 0xFF, // payload: two binary bytes
            ]
        } else {
            vec![
                first, // PUBLISH with its flags
                0x07,  // remaining length 7
                0x00, 0x01, b't', // topic name "t"
                0x12, 0x34, // packet identifier 0x1234
                0x00, 0xFF, // payload
            ]
        };
        let mut expected = if qos == QoS::AtMostOnce {
            Publish::at_most_once(name("t"), Bytes::from_static(&[0x00, 0xFF]))
        } else {
            Publish::with_qos(
                name("t"),
                Bytes::from_static(&[0x00, 0xFF]),
                qos,
                pid(0x1234),
            )
        };
        expected.dup = dup;
        expected.retain = retain;
        assert_golden(&golden, expected);
    }
}

#[test]
fn publish_empty_payload_retained() {
    // A retained message with a zero-length payload (§3.3.1.3: clears the retained message).
    let golden = [
        0x31, // PUBLISH, QoS 0, RETAIN 1
        0x05, // remaining length 5
        0x00, 0x03, b'a', b'/', b'b', // topic name "a/b"; no payload
    ];
    let mut expected = Publish::at_most_once(name("a/b"), Bytes::new());
    expected.retain = true;
    assert_golden(&golden, expected);
}

#[test]
fn publish_topic_is_utf8_example_of_figure_1_1() {
    // §1.5.3 example: "A\u{2A6D4}" is 00 05 41 F0 AA 9B 94.
    let golden = [
        0x30, // PUBLISH, QoS 0
        0x07, // remaining length 7
        0x00, 0x05, // string length 5
        0x41, // 'A' U+0041
        0xF0, 0xAA, 0x9B, 0x94, // U+2A6D4
    ];
    let expected = Publish::at_most_once(name("A\u{2A6D4}"), Bytes::new());
    assert_golden(&golden, expected);
}

#[test]
fn mqtt_1_5_3_3_bom_in_topic_is_kept() {
    let golden = [
        0x30, // PUBLISH, QoS 0
        0x06, // remaining length 6
        0x00, 0x04, // string length 4
        0xEF, 0xBB, 0xBF, // U+FEFF: not skipped or stripped [MQTT-1.5.3-3]
        b'a', // 'a'
    ];
    let expected = Publish::at_most_once(name("\u{FEFF}a"), Bytes::new());
    assert_golden(&golden, expected);
}

#[test]
fn publish_payload_is_a_slice_of_the_received_buffer() {
    let golden = Bytes::from_static(&[
        0x30, // PUBLISH, QoS 0
        0x06, // remaining length 6
        0x00, 0x01, b't', // topic name "t"
        b'x', b'y', b'z', // payload
    ]);
    let Ok(Packet::Publish(p)) = Packet::decode(golden.clone(), V311) else {
        panic!("a PUBLISH")
    };
    let range = golden.as_ptr_range();
    assert!(range.contains(&p.payload.as_ptr()), "payload copied");
    assert!(range.contains(&p.topic.as_str().as_ptr()), "topic copied");
}

// ----------------------------------------------- remaining length, Table 2.4

/// A QoS 0 PUBLISH to topic "a" whose remaining length is `remaining`,
/// preceded by the hand-written remaining length bytes.
fn publish_with_remaining_length(remaining: usize, length_bytes: &[u8]) -> (Vec<u8>, Publish) {
    let payload = vec![0x5A; remaining - 3];
    let mut golden = vec![0x30]; // PUBLISH, QoS 0
    golden.extend_from_slice(length_bytes); // remaining length
    golden.extend_from_slice(&[0x00, 0x01, b'a']); // topic name "a"
    golden.extend_from_slice(&payload); // payload
    (golden, Publish::at_most_once(name("a"), payload))
}

#[test]
fn remaining_length_boundaries_of_table_2_4() {
    // §2.2.3 Table 2.4: the first and last value of each encoded size.
    let table: [(usize, &[u8]); 7] = [
        (3, &[0x03]),                           // 1 byte (0 is PINGREQ below)
        (127, &[0x7F]),                         // 1 byte, largest
        (128, &[0x80, 0x01]),                   // 2 bytes, smallest
        (16_383, &[0xFF, 0x7F]),                // 2 bytes, largest
        (16_384, &[0x80, 0x80, 0x01]),          // 3 bytes, smallest
        (2_097_151, &[0xFF, 0xFF, 0x7F]),       // 3 bytes, largest
        (2_097_152, &[0x80, 0x80, 0x80, 0x01]), // 4 bytes, smallest
    ];
    for (remaining, length_bytes) in table {
        let (golden, expected) = publish_with_remaining_length(remaining, length_bytes);
        assert_eq!(golden.len(), 1 + length_bytes.len() + remaining);
        assert_golden(&golden, expected);
    }
    // 0: PINGREQ.
    assert_golden(&[0xC0, 0x00], Packet::PingReq);
}

#[test]
fn remaining_length_largest_value_268_435_455() {
    // Table 2.4: 268,435,455 is FF FF FF 7F. Read from the header alone.
    let header = [
        0x30, // PUBLISH, QoS 0
        0xFF, 0xFF, 0xFF, 0x7F, // remaining length 268,435,455
    ];
    assert_eq!(
        peek_header(&header, V311, MAX_PACKET_SIZE),
        Ok(Some(FixedHeader {
            kind: PacketType::Publish,
            flags: 0,
            header_len: 5,
            total: 5 + 268_435_455,
        }))
    );
    // encoded_len of the largest PUBLISH (the zeroed payload is not touched).
    let largest = Publish::at_most_once(name("a"), vec![0u8; 268_435_455 - 3]);
    assert_eq!(largest.encoded_len(V311), Ok(5 + 268_435_455));
    assert_eq!(MAX_PACKET_SIZE as usize, 5 + 268_435_455);
}

// ------------------------------------------------- PUBACK PUBREC PUBREL PUBCOMP

#[test]
fn puback() {
    let golden = [
        0x40, // PUBACK
        0x02, // remaining length 2
        0x00, 0x0A, // packet identifier 10
    ];
    assert_golden(&golden, PubAck::new(pid(10)));
}

#[test]
fn pubrec() {
    let golden = [
        0x50, // PUBREC
        0x02, // remaining length 2
        0xFF, 0xFF, // packet identifier 65535
    ];
    assert_golden(&golden, PubRec::new(pid(0xFFFF)));
}

#[test]
fn pubrel() {
    let golden = [
        0x62, // PUBREL, flags 0010 [MQTT-3.6.1-1]
        0x02, // remaining length 2
        0x00, 0x01, // packet identifier 1
    ];
    assert_golden(&golden, PubRel::new(pid(1)));
}

#[test]
fn pubcomp() {
    let golden = [
        0x70, // PUBCOMP
        0x02, // remaining length 2
        0x12, 0x34, // packet identifier 0x1234
    ];
    assert_golden(&golden, PubComp::new(pid(0x1234)));
}

// -------------------------------------------------------- SUBSCRIBE, SUBACK

#[test]
fn subscribe_spec_example_3_8_3() {
    // The §3.8.2 (packet identifier 10) and §3.8.3 (payload) examples.
    let golden = [
        0x82, // SUBSCRIBE, flags 0010 [MQTT-3.8.1-1]
        0x0E, // remaining length 14
        0x00, 0x0A, // packet identifier 10
        0x00, 0x03, b'a', b'/', b'b', // topic filter "a/b"
        0x01, // requested QoS 1
        0x00, 0x03, b'c', b'/', b'd', // topic filter "c/d"
        0x02, // requested QoS 2
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
fn subscribe_wildcard_filters() {
    let golden = [
        0x82, // SUBSCRIBE
        0x17, // remaining length 23
        0x00, 0x02, // packet identifier 2
        0x00, 0x0E, // filter length 14
        b's', b'p', b'o', b'r', b't', b'/', // "sport/"
        b't', b'e', b'n', b'n', b'i', b's', b'/', b'+', // "tennis/+"
        0x00, // requested QoS 0
        0x00, 0x01, b'#', // topic filter "#"
        0x01, // requested QoS 1
    ];
    let expected = Subscribe {
        packet_id: pid(2),
        filters: vec![
            (
                filter("sport/tennis/+"),
                SubscriptionOptions::qos(QoS::AtMostOnce),
            ),
            (filter("#"), SubscriptionOptions::qos(QoS::AtLeastOnce)),
        ],
        properties: Default::default(),
    };
    assert_golden(&golden, expected);
}

#[test]
fn suback_spec_example_3_9_3() {
    // The §3.9.3 example: success QoS 0, success QoS 2, failure 0x80.
    let golden = [
        0x90, // SUBACK
        0x05, // remaining length 5
        0x00, 0x0A, // packet identifier 10
        0x00, // success, maximum QoS 0
        0x02, // success, maximum QoS 2
        0x80, // failure
    ];
    let expected = SubAck {
        packet_id: pid(10),
        reasons: vec![
            SubAckReason::GrantedQoS0,
            SubAckReason::GrantedQoS2,
            SubAckReason::UnspecifiedError,
        ],
        properties: Default::default(),
    };
    assert_golden(&golden, expected);
}

#[test]
fn suback_granted_qos1() {
    let golden = [
        0x90, // SUBACK
        0x03, // remaining length 3
        0x12, 0x34, // packet identifier 0x1234
        0x01, // success, maximum QoS 1
    ];
    let expected = SubAck {
        packet_id: pid(0x1234),
        reasons: vec![SubAckReason::GrantedQoS1],
        properties: Default::default(),
    };
    assert_golden(&golden, expected);
}

// --------------------------------------------------- UNSUBSCRIBE, UNSUBACK

#[test]
fn unsubscribe_spec_example_3_10_3() {
    // The §3.10.3 example: "a/b" and "c/d".
    let golden = [
        0xA2, // UNSUBSCRIBE, flags 0010 [MQTT-3.10.1-1]
        0x0C, // remaining length 12
        0x00, 0x0A, // packet identifier 10
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
fn unsuback() {
    let golden = [
        0xB0, // UNSUBACK
        0x02, // remaining length 2
        0x00, 0x0A, // packet identifier 10
    ];
    let expected = UnsubAck {
        packet_id: pid(10),
        reasons: Vec::new(),
        properties: Default::default(),
    };
    assert_golden(&golden, expected);
}

// --------------------------------------------- PINGREQ, PINGRESP, DISCONNECT

#[test]
fn pingreq() {
    assert_golden(
        &[0xC0 /* PINGREQ */, 0x00 /* remaining length 0 */],
        Packet::PingReq,
    );
}

#[test]
fn pingresp() {
    assert_golden(
        &[0xD0 /* PINGRESP */, 0x00 /* remaining length 0 */],
        Packet::PingResp,
    );
}

#[test]
fn disconnect() {
    assert_golden(
        &[
            0xE0, /* DISCONNECT */
            0x00, /* remaining length 0 */
        ],
        Disconnect::default(),
    );
}

// ------------------------------------------------------------- a session

#[test]
fn several_packets_in_one_buffer() {
    // CONNACK, PUBLISH QoS 1, PINGRESP back to back, split at odd places.
    let stream = [
        0x20, 0x02, 0x00, 0x00, // CONNACK accepted
        0x32, 0x06, 0x00, 0x01, b'x', 0x00, 0x07, b'!', // PUBLISH QoS 1 "x" id 7 payload "!"
        0xD0, 0x00, // PINGRESP
    ];
    let mut decoder = Decoder::new(V311);
    let mut out = Vec::new();
    for chunk in stream.chunks(3) {
        decoder.feed(chunk);
        while let Some(p) = decoder.decode().expect("valid stream") {
            out.push(p);
        }
    }
    assert_eq!(
        out,
        vec![
            ConnAck::new(false, ConnectReason::Success).into(),
            Publish::with_qos(
                name("x"),
                Bytes::from_static(b"!"),
                QoS::AtLeastOnce,
                pid(7)
            )
            .into(),
            Packet::PingResp,
        ]
    );
    assert_eq!(decoder.buffered(), 0);
    // PUBLISH properties stay empty in 3.1.1.
    let Packet::Publish(p) = &out[1] else {
        unreachable!()
    };
    assert!(p.properties.is_empty());
}
