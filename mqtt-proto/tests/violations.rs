//! One test per normative rule that the codec enforces, named after the
//! statement it checks (MQTT 3.1.1 numbering `[MQTT-x.y.z-n]` of OASIS 2014,
//! MQTT 5.0 numbering of OASIS 2019; where the two differ both are given).
//! Each test asserts the exact [`DecodeError`] or [`EncodeError`].
//!
//! The bytes are hand-written; small builders only add the fixed header and
//! the one-byte lengths around a hand-written body.

use bytes::{Bytes, BytesMut};
use sansmqtt_proto::{
    AckProperties, Auth, ConnAck, Connect, ConnectProperties, ConnectReason, DecodeError, Decoder,
    Disconnect, DisconnectReason, EncodeError, LastWill, MAX_PACKET_SIZE, MqttString, Packet,
    PacketId, PacketType, PropertyId, ProtocolVersion, PubAck, PubAckReason, PubRel, PubRelReason,
    Publish, QoS, RetainHandling, SubAck, SubAckReason, Subscribe, SubscriptionId,
    SubscriptionOptions, TopicError, TopicFilter, TopicName, UnsubAck, UnsubAckReason, Unsubscribe,
    UserProperty, decode_packet, decode_packet_ref,
};

use DecodeError as E;

const V31: ProtocolVersion = ProtocolVersion::V3_1;
const V311: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;
const ALL: [ProtocolVersion; 3] = [V31, V311, V5];

// ---------------------------------------------------------------- helpers

fn decode(version: ProtocolVersion, bytes: &[u8]) -> Result<Packet, DecodeError> {
    Packet::decode(Bytes::copy_from_slice(bytes), version)
}

/// The complete packet `bytes` is refused with `err`, by `Packet::decode` and
/// by the streaming decoder.
#[track_caller]
fn assert_rejects(version: ProtocolVersion, bytes: &[u8], err: DecodeError) {
    assert_eq!(
        decode(version, bytes),
        Err(err.clone()),
        "{version:?} {bytes:02x?}"
    );
    let mut decoder = Decoder::new(version);
    decoder.feed(bytes);
    assert_eq!(
        decoder.decode(),
        Err(err.clone()),
        "{version:?} streaming {bytes:02x?}"
    );
    assert_eq!(
        decode_packet_ref(bytes, version, MAX_PACKET_SIZE),
        Err(err),
        "{version:?} borrowed {bytes:02x?}"
    );
}

/// The complete packet `bytes` is accepted, by the borrowed decoder too.
#[track_caller]
fn assert_accepts(version: ProtocolVersion, bytes: &[u8]) -> Packet {
    let packet = decode(version, bytes).unwrap_or_else(|e| panic!("{version:?} {bytes:02x?}: {e}"));
    let borrowed = decode_packet_ref(bytes, version, MAX_PACKET_SIZE)
        .unwrap_or_else(|e| panic!("{version:?} borrowed {bytes:02x?}: {e}"));
    assert_eq!(
        borrowed.map(|(p, n)| (p.to_owned(), n)),
        Some((packet.clone(), bytes.len())),
        "{version:?} borrowed {bytes:02x?}"
    );
    packet
}

/// One-byte length (all bodies here are short).
fn len1(n: usize) -> u8 {
    assert!(n < 128, "test bodies stay below 128 bytes");
    n as u8
}

/// Fixed header byte, one-byte remaining length, body.
fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![first, len1(body.len())];
    v.extend_from_slice(body);
    v
}

/// A property list: one-byte property length, properties.
fn props(list: &[u8]) -> Vec<u8> {
    let mut v = vec![len1(list.len())];
    v.extend_from_slice(list);
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// MQTT 3.1.1 CONNECT with these flags and an empty client identifier.
fn connect_v311(flags: u8) -> Vec<u8> {
    packet(
        0x10,
        &[
            0x00, 0x04, b'M', b'Q', b'T', b'T',  // protocol name
            0x04,  // level 4
            flags, // connect flags
            0x00, 0x3C, // keep alive
            0x00, 0x00, // client identifier ""
        ],
    )
}

/// MQTT 5 CONNECT with these flags, no properties, an empty client identifier.
fn connect_v5(flags: u8) -> Vec<u8> {
    packet(
        0x10,
        &[
            0x00, 0x04, b'M', b'Q', b'T', b'T',  // protocol name
            0x05,  // version 5
            flags, // connect flags
            0x00, 0x3C, // keep alive
            0x00, // property length 0
            0x00, 0x00, // client identifier ""
        ],
    )
}

// MQTT 5 packets around a property list `p` (the list without its length).

fn v5_connect(p: &[u8]) -> Vec<u8> {
    let head = [0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3C];
    packet(0x10, &cat(&[&head, &props(p), &[0x00, 0x00]]))
}

fn v5_will(p: &[u8]) -> Vec<u8> {
    // flags 0x06: will flag, clean start; empty CONNECT properties and client id.
    let head = [
        0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x06, 0x00, 0x3C, 0x00, 0x00, 0x00,
    ];
    let tail = [0x00, 0x01, b'w', 0x00, 0x00]; // will topic "w", empty will payload
    packet(0x10, &cat(&[&head, &props(p), &tail]))
}

fn v5_connack(p: &[u8]) -> Vec<u8> {
    packet(0x20, &cat(&[&[0x00, 0x00], &props(p)]))
}

fn v5_publish(p: &[u8]) -> Vec<u8> {
    packet(0x30, &cat(&[&[0x00, 0x01, b't'], &props(p)]))
}

fn v5_ack(first: u8) -> impl Fn(&[u8]) -> Vec<u8> {
    move |p| packet(first, &cat(&[&[0x00, 0x01, 0x00], &props(p)]))
}

fn v5_subscribe(p: &[u8]) -> Vec<u8> {
    packet(
        0x82,
        &cat(&[&[0x00, 0x01], &props(p), &[0x00, 0x01, b'a', 0x00]]),
    )
}

fn v5_suback(p: &[u8]) -> Vec<u8> {
    packet(0x90, &cat(&[&[0x00, 0x01], &props(p), &[0x00]]))
}

fn v5_unsubscribe(p: &[u8]) -> Vec<u8> {
    packet(0xA2, &cat(&[&[0x00, 0x01], &props(p), &[0x00, 0x01, b'a']]))
}

fn v5_unsuback(p: &[u8]) -> Vec<u8> {
    packet(0xB0, &cat(&[&[0x00, 0x01], &props(p), &[0x00]]))
}

fn v5_disconnect(p: &[u8]) -> Vec<u8> {
    packet(0xE0, &cat(&[&[0x00], &props(p)]))
}

fn v5_auth(p: &[u8]) -> Vec<u8> {
    packet(0xF0, &cat(&[&[0x18], &props(p)]))
}

fn pid(id: u16) -> PacketId {
    PacketId::new(id).expect("non-zero")
}

fn name(s: &str) -> TopicName {
    TopicName::try_from(s).expect("valid topic name")
}

fn filter(s: &str) -> TopicFilter {
    TopicFilter::try_from(s).expect("valid topic filter")
}

fn mstr(s: &str) -> MqttString {
    MqttString::try_from(s).expect("valid string")
}

// ===================================================== fixed header (§2.1)

#[test]
fn mqtt_2_1_2_packet_type_0_is_reserved() {
    for v in ALL {
        assert_rejects(v, &[0x00, 0x00], E::ReservedPacketType(0));
        // Refused from the first byte, before the remaining length.
        let mut decoder = Decoder::new(v);
        decoder.feed(&[0x00]);
        assert_eq!(decoder.decode(), Err(E::ReservedPacketType(0)));
    }
}

#[test]
fn mqtt_2_1_2_packet_type_15_is_reserved_in_3_1_1_and_auth_in_5() {
    for v in [V31, V311] {
        assert_rejects(v, &[0xF0, 0x00], E::ReservedPacketType(15));
    }
    assert_eq!(
        assert_accepts(V5, &[0xF0, 0x00]),
        Packet::Auth(Auth::default())
    );
}

/// Every flag nibble but `required` is refused for this type, from the first byte.
#[track_caller]
fn assert_flags_enforced(versions: &[ProtocolVersion], kind: PacketType, required: u8) {
    for &v in versions {
        for flags in 0..16u8 {
            if flags == required {
                continue;
            }
            let first = ((kind as u8) << 4) | flags;
            let err = E::InvalidHeaderFlags {
                packet: kind,
                flags,
            };
            assert_rejects(v, &[first, 0x00], err.clone());
            let mut decoder = Decoder::new(v);
            decoder.feed(&[first]);
            assert_eq!(decoder.decode(), Err(err), "{v:?} first byte {first:#04x}");
        }
    }
}

#[test]
fn mqtt_2_2_2_1_connect_flags_must_be_0000() {
    // 3.1.1 [MQTT-2.2.2-1]/[MQTT-2.2.2-2]; 5.0 [MQTT-2.1.3-1].
    assert_flags_enforced(&ALL, PacketType::Connect, 0);
}

#[test]
fn mqtt_2_2_2_1_connack_flags_must_be_0000() {
    assert_flags_enforced(&ALL, PacketType::ConnAck, 0);
}

#[test]
fn mqtt_2_2_2_1_puback_flags_must_be_0000() {
    assert_flags_enforced(&ALL, PacketType::PubAck, 0);
}

#[test]
fn mqtt_2_2_2_1_pubrec_flags_must_be_0000() {
    assert_flags_enforced(&ALL, PacketType::PubRec, 0);
}

#[test]
fn mqtt_3_6_1_1_pubrel_flags_must_be_0010() {
    assert_flags_enforced(&ALL, PacketType::PubRel, 0b0010);
}

#[test]
fn mqtt_2_2_2_1_pubcomp_flags_must_be_0000() {
    assert_flags_enforced(&ALL, PacketType::PubComp, 0);
}

#[test]
fn mqtt_3_8_1_1_subscribe_flags_must_be_0010() {
    assert_flags_enforced(&ALL, PacketType::Subscribe, 0b0010);
}

#[test]
fn mqtt_2_2_2_1_suback_flags_must_be_0000() {
    assert_flags_enforced(&ALL, PacketType::SubAck, 0);
}

#[test]
fn mqtt_3_10_1_1_unsubscribe_flags_must_be_0010() {
    assert_flags_enforced(&ALL, PacketType::Unsubscribe, 0b0010);
}

#[test]
fn mqtt_2_2_2_1_unsuback_flags_must_be_0000() {
    assert_flags_enforced(&ALL, PacketType::UnsubAck, 0);
}

#[test]
fn mqtt_2_2_2_1_pingreq_flags_must_be_0000() {
    assert_flags_enforced(&ALL, PacketType::PingReq, 0);
}

#[test]
fn mqtt_2_2_2_1_pingresp_flags_must_be_0000() {
    assert_flags_enforced(&ALL, PacketType::PingResp, 0);
}

#[test]
fn mqtt_3_14_1_1_disconnect_flags_must_be_0000() {
    assert_flags_enforced(&ALL, PacketType::Disconnect, 0);
}

#[test]
fn mqtt_3_15_1_1_auth_flags_must_be_0000() {
    assert_flags_enforced(&[V5], PacketType::Auth, 0);
}

#[test]
fn mqtt_3_3_1_4_publish_qos_3_is_malformed() {
    for v in ALL {
        for first in [0x36, 0x37, 0x3E, 0x3F] {
            assert_rejects(v, &[first, 0x03, 0x00, 0x01, b't'], E::InvalidQoS);
            let mut decoder = Decoder::new(v);
            decoder.feed(&[first]);
            assert_eq!(decoder.decode(), Err(E::InvalidQoS), "from the first byte");
        }
    }
}

#[test]
fn mqtt_3_3_1_2_dup_must_be_0_at_qos_0() {
    for v in [V31, V311] {
        assert_rejects(v, &[0x38, 0x03, 0x00, 0x01, b't'], E::DupWithQoS0);
        assert_rejects(v, &[0x39, 0x03, 0x00, 0x01, b't'], E::DupWithQoS0); // with RETAIN
    }
    assert_rejects(V5, &[0x38, 0x04, 0x00, 0x01, b't', 0x00], E::DupWithQoS0);
}

// =============================================== remaining length (§2.2.3)

#[test]
fn remaining_length_of_five_bytes_is_malformed() {
    // 3.1.1 §2.2.3 / 5.0 §1.5.5: at most four bytes.
    for v in ALL {
        assert_rejects(v, &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], E::VarIntTooLong);
        // Known from the fifth length byte, nothing else needed.
        let mut decoder = Decoder::new(v);
        decoder.feed(&[0x30, 0x80, 0x80, 0x80, 0x80]);
        assert_eq!(decoder.decode(), Err(E::VarIntTooLong));
    }
}

#[test]
fn mqtt_1_5_5_1_remaining_length_must_be_minimal() {
    for v in ALL {
        // PINGREQ, remaining length 0 written as 80 00.
        assert_rejects(v, &[0xC0, 0x80, 0x00], E::NonMinimalVarInt);
        // PUBACK, remaining length 2 written as 82 00.
        assert_rejects(v, &[0x40, 0x82, 0x00, 0x00, 0x0A], E::NonMinimalVarInt);
        // 5 written on three bytes: 85 80 00.
        assert_rejects(
            v,
            &[0x30, 0x85, 0x80, 0x00, 0x00, 0x01, b't'],
            E::NonMinimalVarInt,
        );
    }
}

#[test]
fn mqtt_1_5_5_1_property_varints_must_be_minimal() {
    // Property length 0 written as 80 00.
    assert_rejects(
        V5,
        &[0x40, 0x05, 0x00, 0x0A, 0x00, 0x80, 0x00],
        E::NonMinimalVarInt,
    );
    // Property identifier 0x1F written as 9F 00.
    assert_rejects(
        V5,
        &[0x40, 0x08, 0x00, 0x0A, 0x80, 0x04, 0x9F, 0x00, 0x00, 0x00],
        E::NonMinimalVarInt,
    );
    // Subscription Identifier 1 written as 81 00.
    assert_rejects(V5, &v5_subscribe(&[0x0B, 0x81, 0x00]), E::NonMinimalVarInt);
    // A property length of five bytes.
    assert_rejects(
        V5,
        &[0x40, 0x08, 0x00, 0x0A, 0x00, 0x80, 0x80, 0x80, 0x80, 0x01],
        E::VarIntTooLong,
    );
}

#[test]
fn packet_larger_than_maximum_refused_from_fixed_header() {
    // Only the five header bytes of a PUBLISH announcing 268,435,455 bytes.
    for v in ALL {
        let mut decoder = Decoder::new(v).with_max_packet_size(1024);
        decoder.feed(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F]);
        assert_eq!(
            decoder.decode(),
            Err(E::PacketTooLarge {
                size: 268_435_460,
                max: 1024
            })
        );
        assert_eq!(decoder.buffered(), 5, "nothing more was awaited");
    }
}

#[test]
fn maximum_packet_size_counts_the_whole_packet() {
    // 1 + 2 + 1021 = 1024 bytes: accepted (and awaited).
    let mut decoder = Decoder::new(V311).with_max_packet_size(1024);
    decoder.feed(&[0x30, 0xFD, 0x07]); // PUBLISH, remaining length 1021
    assert_eq!(decoder.decode(), Ok(None));
    assert_eq!(decoder.missing(), Some(1021));
    // 1 + 2 + 1022 = 1025 bytes: refused.
    let mut buf = BytesMut::from(&[0x30, 0xFE, 0x07][..]); // remaining length 1022
    assert_eq!(
        decode_packet(&mut buf, V311, 1024),
        Err(E::PacketTooLarge {
            size: 1025,
            max: 1024
        })
    );
    assert_eq!(MAX_PACKET_SIZE, 268_435_460);
}

// ================================================== truncated packets

#[test]
fn packet_shorter_than_its_remaining_length() {
    for v in ALL {
        for bytes in [
            &[][..],                             // nothing
            &[0x30][..],                         // no remaining length
            &[0x30, 0x80][..],                   // remaining length incomplete
            &[0x32, 0x07, 0x00, 0x01, b't'][..], // 5 of 7 body bytes
        ] {
            assert_eq!(decode(v, bytes), Err(E::UnexpectedEnd), "{bytes:02x?}");
            // The streaming decoder waits for more instead.
            let mut decoder = Decoder::new(v);
            decoder.feed(bytes);
            assert_eq!(decoder.decode(), Ok(None));
        }
    }
}

#[test]
fn fields_running_past_the_remaining_length() {
    for v in [V311, V5] {
        for bytes in [
            &[0x30, 0x01, 0x00][..],                               // topic length cut
            &[0x30, 0x03, 0x00, 0x05, b'a'][..],                   // topic of 5 bytes, 1 present
            &[0x32, 0x03, 0x00, 0x01, b't'][..], // QoS 1 without packet identifier
            &[0x40, 0x00][..],                   // PUBACK without packet identifier
            &[0x40, 0x01, 0x00][..],             // PUBACK with half of one
            &[0x20, 0x01, 0x00][..],             // CONNACK without return code
            &[0xB0, 0x01, 0x00][..],             // UNSUBACK cut
            &[0x10, 0x06, 0x00, 0x04, b'M', b'Q', b'T', b'T'][..], // CONNECT cut after the name
        ] {
            assert_rejects(v, bytes, E::UnexpectedEnd);
        }
    }
    // SUBSCRIBE filter without its options byte.
    assert_rejects(
        V311,
        &[0x82, 0x05, 0x00, 0x01, 0x00, 0x01, b'a'],
        E::UnexpectedEnd,
    );
    // CONNECT announcing a user name it does not carry.
    assert_rejects(V311, &connect_v311(0x82), E::UnexpectedEnd);
    // CONNECT announcing a will it does not carry.
    assert_rejects(V5, &connect_v5(0x06), E::UnexpectedEnd);
}

#[test]
fn v5_property_list_running_past_the_packet() {
    // CONNACK without its property length.
    assert_rejects(V5, &[0x20, 0x02, 0x00, 0x00], E::UnexpectedEnd);
    // Property length 5, no properties.
    assert_rejects(V5, &[0x40, 0x04, 0x00, 0x0A, 0x00, 0x05], E::UnexpectedEnd);
    // Reason String whose length is cut by the property length.
    assert_rejects(V5, &v5_ack(0x40)(&[0x1F, 0x00]), E::UnexpectedEnd);
    // Message Expiry Interval with 2 of 4 bytes.
    assert_rejects(V5, &v5_publish(&[0x02, 0x00, 0x00]), E::UnexpectedEnd);
    // User Property without its value.
    assert_rejects(
        V5,
        &v5_ack(0x40)(&[0x26, 0x00, 0x01, b'k']),
        E::UnexpectedEnd,
    );
}

// ================================================ trailing bytes

#[test]
fn bytes_after_the_last_field_are_malformed() {
    for v in ALL {
        assert_rejects(v, &[0xC0, 0x01, 0x00], E::TrailingBytes(1)); // PINGREQ, remaining length 1
        assert_rejects(v, &[0xD0, 0x02, 0x00, 0x00], E::TrailingBytes(2)); // PINGRESP, 2
    }
    for v in [V31, V311] {
        assert_rejects(v, &[0xE0, 0x01, 0x00], E::TrailingBytes(1)); // DISCONNECT, 1
        assert_rejects(v, &[0x40, 0x03, 0x00, 0x0A, 0x00], E::TrailingBytes(1)); // PUBACK, 3
        assert_rejects(v, &[0x50, 0x03, 0x00, 0x0A, 0x00], E::TrailingBytes(1)); // PUBREC, 3
        let pubrel = [0x62, 0x04, 0x00, 0x0A, 0x00, 0x00]; // PUBREL, 4
        assert_rejects(v, &pubrel, E::TrailingBytes(2));
        assert_rejects(v, &[0x70, 0x03, 0x00, 0x0A, 0x92], E::TrailingBytes(1)); // PUBCOMP, 3
        assert_rejects(v, &[0xB0, 0x03, 0x00, 0x0A, 0x00], E::TrailingBytes(1)); // UNSUBACK, 3
        assert_rejects(v, &[0x20, 0x03, 0x00, 0x00, 0x00], E::TrailingBytes(1)); // CONNACK, 3
        // CONNECT with a byte after the client identifier.
        let mut connect = connect_v311(0x02);
        connect[1] += 1;
        connect.push(0xAA);
        assert_rejects(v, &connect, E::TrailingBytes(1));
    }
    // MQTT 5: after the property list.
    assert_rejects(
        V5,
        &[0x20, 0x04, 0x00, 0x00, 0x00, 0xAA],
        E::TrailingBytes(1),
    );
    assert_rejects(
        V5,
        &[0x40, 0x05, 0x00, 0x0A, 0x00, 0x00, 0xAA],
        E::TrailingBytes(1),
    );
    assert_rejects(V5, &[0xE0, 0x03, 0x00, 0x00, 0xAA], E::TrailingBytes(1));
    assert_rejects(V5, &[0xF0, 0x03, 0x00, 0x00, 0xAA], E::TrailingBytes(1));
}

#[test]
fn packet_decode_wants_exactly_one_packet() {
    // Two PINGREQs in one buffer: `Packet::decode` takes a single packet.
    assert_eq!(
        decode(V311, &[0xC0, 0x00, 0xC0, 0x00]),
        Err(E::TrailingBytes(2))
    );
}

// ============================================ UTF-8 strings (§1.5.3 / §1.5.4)

#[test]
fn mqtt_1_5_4_1_ill_formed_utf8_in_topic() {
    // 3.1.1 [MQTT-1.5.3-1].
    for bad in [
        &[0xC3, 0x28][..],             // bad continuation byte
        &[0xFF][..],                   // never valid in UTF-8
        &[0xC0, 0xAF][..],             // overlong '/'
        &[0xF4, 0x90, 0x80, 0x80][..], // above U+10FFFF
    ] {
        let body = cat(&[&[0x00, len1(bad.len())], bad]);
        assert_rejects(V311, &packet(0x30, &body), E::InvalidUtf8);
        assert_rejects(V5, &packet(0x30, &cat(&[&body, &[0x00]])), E::InvalidUtf8);
    }
}

#[test]
fn mqtt_1_5_4_1_surrogates_in_topic() {
    for surrogate in [[0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF]] {
        // U+D800 and U+DFFF
        let body = cat(&[&[0x00, 0x03], &surrogate]);
        assert_rejects(V311, &packet(0x30, &body), E::InvalidUtf8);
        assert_rejects(V5, &packet(0x30, &cat(&[&body, &[0x00]])), E::InvalidUtf8);
    }
}

#[test]
fn mqtt_1_5_4_2_null_character_in_topic() {
    // 3.1.1 [MQTT-1.5.3-2].
    assert_rejects(
        V311,
        &[0x30, 0x05, 0x00, 0x03, b'a', 0x00, b'b'],
        E::NullCharacter,
    );
    assert_rejects(
        V5,
        &[0x30, 0x06, 0x00, 0x03, b'a', 0x00, b'b', 0x00],
        E::NullCharacter,
    );
}

#[test]
fn mqtt_1_5_4_every_string_field_is_checked() {
    // Client identifier with a surrogate.
    let connect = [
        0x10, 0x0F, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, // header
        0x00, 0x03, 0xED, 0xA0, 0x80, // client identifier U+D800
    ];
    assert_rejects(V311, &connect, E::InvalidUtf8);
    // Topic filter with U+0000 in SUBSCRIBE and UNSUBSCRIBE.
    assert_rejects(
        V311,
        &[0x82, 0x07, 0x00, 0x01, 0x00, 0x02, b'a', 0x00, 0x00],
        E::NullCharacter,
    );
    assert_rejects(
        V311,
        &[0xA2, 0x06, 0x00, 0x01, 0x00, 0x02, b'a', 0x00],
        E::NullCharacter,
    );
    // User Property value, Reason String, Content Type (MQTT 5).
    assert_rejects(
        V5,
        &v5_ack(0x40)(&[0x26, 0x00, 0x01, b'k', 0x00, 0x01, 0x00]),
        E::NullCharacter,
    );
    assert_rejects(V5, &v5_ack(0x40)(&[0x1F, 0x00, 0x01, 0xFF]), E::InvalidUtf8);
    assert_rejects(V5, &v5_publish(&[0x03, 0x00, 0x01, 0x00]), E::NullCharacter);
    // Will topic.
    let will = [
        0x10, 0x11, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x06, 0x00, 0x3C, // will flag
        0x00, 0x00, // client identifier ""
        0x00, 0x01, 0x00, // will topic "\0"
        0x00, 0x00, // will message
    ];
    assert_rejects(V311, &will, E::NullCharacter);
}

#[test]
fn topic_checks_hold_at_every_byte_position() {
    // The string checks work on 8-byte words; a bad byte is found wherever it
    // sits, in topics of 1 to 24 bytes, ASCII or not.
    let publish = |topic: &[u8]| packet(0x30, &cat(&[&[0x00, len1(topic.len())], topic]));
    for len in 1..=24 {
        for pos in 0..len {
            let mut topic = vec![b'a'; len];
            topic[pos] = 0x00; // [MQTT-1.5.4-2]
            assert_rejects(V311, &publish(&topic), E::NullCharacter);
            for wildcard in [b'+', b'#'] {
                // [MQTT-3.3.2-2]
                topic[pos] = wildcard;
                let err = E::InvalidTopicName(TopicError::WildcardInName);
                assert_rejects(V311, &publish(&topic), err);
            }
            topic[pos] = 0xFF; // never in UTF-8 [MQTT-1.5.4-1]
            assert_rejects(V311, &publish(&topic), E::InvalidUtf8);
            topic[pos] = 0x7F; // DEL: a control character, discouraged but valid
            assert_accepts(V311, &publish(&topic));
        }
        // A two-byte character (U+00E9) at every position is valid.
        for pos in 0..len.saturating_sub(1) {
            let mut topic = vec![b'a'; len];
            topic[pos..pos + 2].copy_from_slice(&[0xC3, 0xA9]);
            let Packet::Publish(p) = assert_accepts(V311, &publish(&topic)) else {
                panic!("a PUBLISH")
            };
            assert_eq!(p.topic.as_str().as_bytes(), &topic[..]);
            // ... and a surrogate in its place is not.
            let mut topic = vec![b'a'; len + 1];
            topic[pos..pos + 3].copy_from_slice(&[0xED, 0xB0, 0x80]); // U+DC00
            assert_rejects(V311, &publish(&topic), E::InvalidUtf8);
        }
    }
    // Wildcards are only refused in topic names: a client identifier may hold them.
    let connect = [
        0x10, 0x0F, // CONNECT, remaining length 15
        0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, // 3.1.1, clean session
        0x00, 0x03, b'+', b'/', b'#', // client identifier "+/#"
    ];
    assert_accepts(V311, &connect);
}

// ============================================ topic names and filters (§4.7)

#[test]
fn mqtt_3_3_2_2_no_wildcards_in_publish_topic() {
    for topic in [&b"a/+"[..], b"#", b"a/#", b"+", b"a+b"] {
        let body = cat(&[&[0x00, len1(topic.len())], topic]);
        let err = E::InvalidTopicName(TopicError::WildcardInName);
        assert_rejects(V311, &packet(0x30, &body), err.clone());
        assert_rejects(V5, &packet(0x30, &cat(&[&body, &[0x00]])), err);
    }
}

#[test]
fn mqtt_3_1_3_will_topic_is_a_topic_name() {
    // 3.1.1 [MQTT-3.1.3-10] (a UTF-8 string) and a topic name: no wildcards, not empty.
    let will = |topic: &[u8]| {
        let head = [
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x06, 0x00, 0x3C, 0x00, 0x00,
        ];
        packet(
            0x10,
            &cat(&[&head, &[0x00, len1(topic.len())], topic, &[0x00, 0x00]]),
        )
    };
    assert_rejects(
        V311,
        &will(b"a/#"),
        E::InvalidTopicName(TopicError::WildcardInName),
    );
    assert_rejects(V311, &will(b""), E::InvalidTopicName(TopicError::Empty));
}

#[test]
fn mqtt_4_7_3_1_empty_publish_topic_in_3_1_1() {
    assert_rejects(V311, &[0x30, 0x02, 0x00, 0x00], E::EmptyTopicWithoutAlias);
    assert_rejects(
        V311,
        &[0x32, 0x04, 0x00, 0x00, 0x00, 0x01],
        E::EmptyTopicWithoutAlias,
    );
}

#[test]
fn mqtt_3_3_2_1_empty_topic_without_topic_alias_in_5() {
    // §3.3.2.1: "It is a Protocol Error if the Topic Name is zero length and
    // there is no Topic Alias".
    assert_rejects(
        V5,
        &[0x30, 0x03, 0x00, 0x00, 0x00],
        E::EmptyTopicWithoutAlias,
    );
    // Other properties do not replace the alias.
    assert_rejects(
        V5,
        &[0x30, 0x05, 0x00, 0x00, 0x02, 0x01, 0x01],
        E::EmptyTopicWithoutAlias,
    );
    // With a Topic Alias it is valid.
    assert_accepts(V5, &[0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01]);
}

#[test]
fn mqtt_4_7_1_invalid_topic_filters() {
    let cases: [(&[u8], TopicError); 4] = [
        (b"a/#/b", TopicError::MisplacedMultiLevelWildcard), // [MQTT-4.7.1-2]
        (b"a#", TopicError::MisplacedMultiLevelWildcard),    // [MQTT-4.7.1-2]
        (b"a+/b", TopicError::MisplacedSingleLevelWildcard), // [MQTT-4.7.1-3]
        (b"", TopicError::Empty),                            // [MQTT-4.7.3-1]
    ];
    for (text, topic_err) in cases {
        let f = cat(&[&[0x00, len1(text.len())], text]);
        let err = E::InvalidTopicFilter(topic_err);
        assert_rejects(
            V311,
            &packet(0x82, &cat(&[&[0x00, 0x01], &f, &[0x00]])),
            err.clone(),
        );
        assert_rejects(V311, &packet(0xA2, &cat(&[&[0x00, 0x01], &f])), err.clone());
        assert_rejects(
            V5,
            &packet(0x82, &cat(&[&[0x00, 0x01, 0x00], &f, &[0x00]])),
            err.clone(),
        );
        assert_rejects(V5, &packet(0xA2, &cat(&[&[0x00, 0x01, 0x00], &f])), err);
    }
}

#[test]
fn mqtt_4_8_2_1_shared_subscription_share_name_in_5() {
    // [MQTT-4.8.2-1] a share name of at least one character; [MQTT-4.8.2-2]
    // no '+' '#', then '/' and a filter.
    for text in [&b"$share//a"[..], b"$share/a+b/x", b"$share/g"] {
        let f = cat(&[&[0x00, len1(text.len())], text]);
        let err = E::InvalidTopicFilter(TopicError::InvalidShareName);
        assert_rejects(
            V5,
            &packet(0x82, &cat(&[&[0x00, 0x01, 0x00], &f, &[0x00]])),
            err.clone(),
        );
        assert_rejects(V5, &packet(0xA2, &cat(&[&[0x00, 0x01, 0x00], &f])), err);
    }
}

#[test]
fn share_prefix_is_an_ordinary_filter_in_3_1_1() {
    // MQTT 3.1.1 has no shared subscriptions: "$share//a" and "$share/g"
    // are valid filters there ([MQTT-4.7.1-*] only constrain wildcards).
    for text in [&b"$share//a"[..], b"$share/g", b"$share/g/"] {
        let f = cat(&[&[0x00, len1(text.len())], text]);
        for v in [V31, V311] {
            let bytes = packet(0x82, &cat(&[&[0x00, 0x01], &f, &[0x01]]));
            let Packet::Subscribe(s) = assert_accepts(v, &bytes) else {
                panic!("a SUBSCRIBE")
            };
            assert_eq!(s.filters[0].0.as_str().as_bytes(), text);
            assert!(!s.filters[0].0.is_shared());
            let mut buf = BytesMut::new();
            s.encode(v, &mut buf).expect("re-encodes");
            assert_eq!(&buf[..], &bytes[..]);
            let bytes = packet(0xA2, &cat(&[&[0x00, 0x01], &f]));
            assert_accepts(v, &bytes);
        }
    }
}

// ======================================================= packet identifiers

#[test]
fn mqtt_2_3_1_1_packet_identifier_must_be_non_zero() {
    // 3.1.1 [MQTT-2.3.1-1]; 5.0 §2.2.1.
    let v311: [&[u8]; 10] = [
        &[0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x00], // PUBLISH QoS 1
        &[0x34, 0x05, 0x00, 0x01, b't', 0x00, 0x00], // PUBLISH QoS 2
        &[0x40, 0x02, 0x00, 0x00],                   // PUBACK
        &[0x50, 0x02, 0x00, 0x00],                   // PUBREC
        &[0x62, 0x02, 0x00, 0x00],                   // PUBREL
        &[0x70, 0x02, 0x00, 0x00],                   // PUBCOMP
        &[0x82, 0x06, 0x00, 0x00, 0x00, 0x01, b'a', 0x00], // SUBSCRIBE
        &[0x90, 0x03, 0x00, 0x00, 0x00],             // SUBACK
        &[0xA2, 0x05, 0x00, 0x00, 0x00, 0x01, b'a'], // UNSUBSCRIBE
        &[0xB0, 0x02, 0x00, 0x00],                   // UNSUBACK
    ];
    for bytes in v311 {
        assert_rejects(V311, bytes, E::ZeroPacketId);
    }
    let v5: [&[u8]; 10] = [
        &[0x32, 0x06, 0x00, 0x01, b't', 0x00, 0x00, 0x00], // PUBLISH QoS 1
        &[0x34, 0x06, 0x00, 0x01, b't', 0x00, 0x00, 0x00], // PUBLISH QoS 2
        &[0x40, 0x02, 0x00, 0x00],                         // PUBACK
        &[0x50, 0x03, 0x00, 0x00, 0x10],                   // PUBREC
        &[0x62, 0x02, 0x00, 0x00],                         // PUBREL
        &[0x70, 0x03, 0x00, 0x00, 0x92],                   // PUBCOMP
        &[0x82, 0x07, 0x00, 0x00, 0x00, 0x00, 0x01, b'a', 0x00], // SUBSCRIBE
        &[0x90, 0x04, 0x00, 0x00, 0x00, 0x00],             // SUBACK
        &[0xA2, 0x06, 0x00, 0x00, 0x00, 0x00, 0x01, b'a'], // UNSUBSCRIBE
        &[0xB0, 0x04, 0x00, 0x00, 0x00, 0x00],             // UNSUBACK
    ];
    for bytes in v5 {
        assert_rejects(V5, bytes, E::ZeroPacketId);
    }
}

// ================================================ SUBSCRIBE / UNSUBSCRIBE

#[test]
fn mqtt_3_8_3_3_subscribe_without_topic_filter() {
    // 3.1.1 [MQTT-3.8.3-3]; 5.0 [MQTT-3.8.3-2].
    let err = E::NoTopicFilters(PacketType::Subscribe);
    assert_rejects(V311, &[0x82, 0x02, 0x00, 0x0A], err.clone());
    assert_rejects(V5, &[0x82, 0x03, 0x00, 0x0A, 0x00], err.clone());
    // Properties alone are no filter.
    assert_rejects(V5, &[0x82, 0x05, 0x00, 0x0A, 0x02, 0x0B, 0x01], err);
}

#[test]
fn mqtt_3_10_3_2_unsubscribe_without_topic_filter() {
    let err = E::NoTopicFilters(PacketType::Unsubscribe);
    assert_rejects(V311, &[0xA2, 0x02, 0x00, 0x0A], err.clone());
    assert_rejects(V5, &[0xA2, 0x03, 0x00, 0x0A, 0x00], err);
}

#[test]
fn mqtt_3_9_3_suback_and_unsuback_without_reason_codes() {
    // One return code per filter, and a SUBSCRIBE has at least one.
    assert_rejects(
        V311,
        &[0x90, 0x02, 0x00, 0x0A],
        E::NoReasonCodes(PacketType::SubAck),
    );
    assert_rejects(
        V5,
        &[0x90, 0x03, 0x00, 0x0A, 0x00],
        E::NoReasonCodes(PacketType::SubAck),
    );
    // MQTT 5 UNSUBACK: one reason code per filter [MQTT-3.11.3-1].
    assert_rejects(
        V5,
        &[0xB0, 0x03, 0x00, 0x0A, 0x00],
        E::NoReasonCodes(PacketType::UnsubAck),
    );
}

#[test]
fn mqtt_3_8_3_4_v311_requested_qos_reserved_bits() {
    // 3.1.1 [MQTT-3-8.3-4]: bits 7-2 of the Requested QoS byte are reserved.
    for bit in 2..8 {
        let options = 1u8 << bit;
        let bytes = [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', options];
        assert_rejects(V311, &bytes, E::InvalidSubscriptionOptions(options));
        assert_rejects(V31, &bytes, E::InvalidSubscriptionOptions(options));
    }
    // ... and QoS 3 is not a QoS.
    assert_rejects(
        V311,
        &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x03],
        E::InvalidQoS,
    );
}

#[test]
fn mqtt_3_8_3_5_v5_subscription_options_reserved_bits() {
    for options in [0x40, 0x80, 0xC1] {
        let bytes = [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', options];
        assert_rejects(V5, &bytes, E::InvalidSubscriptionOptions(options));
    }
}

#[test]
fn mqtt_3_8_3_1_retain_handling_3_is_a_protocol_error() {
    // §3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3."
    let bytes = [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x30];
    assert_rejects(V5, &bytes, E::InvalidSubscriptionOptions(0x30));
    // Maximum QoS 3: "It is a Protocol Error if the Maximum QoS field has the value 3".
    let bytes = [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x03];
    assert_rejects(V5, &bytes, E::InvalidQoS);
}

#[test]
fn mqtt_3_8_3_4_no_local_on_shared_subscription() {
    let share = b"$share/g/a";
    let bytes = packet(
        0x82,
        &cat(&[&[0x00, 0x01, 0x00, 0x00, len1(share.len())], share, &[0x04]]), // No Local
    );
    assert_rejects(V5, &bytes, E::NoLocalOnSharedSubscription);
    // The same No Local bit on a plain filter is fine.
    assert_accepts(V5, &[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x04]);
}

// ================================================================ CONNECT

#[test]
fn mqtt_3_1_2_1_protocol_name() {
    let with_name = |name: &[u8], level: u8| {
        packet(
            0x10,
            &cat(&[
                &[0x00, len1(name.len())],
                name,
                &[level, 0x02, 0x00, 0x3C, 0x00, 0x00],
            ]),
        )
    };
    for v in ALL {
        assert_rejects(v, &with_name(b"MQTX", 4), E::InvalidProtocolName);
        assert_rejects(v, &with_name(b"mqtt", 4), E::InvalidProtocolName);
        // The 3.1 name with the 3.1.1 level.
        assert_rejects(v, &with_name(b"MQIsdp", 4), E::InvalidProtocolName);
        assert_rejects(v, &with_name(b"MQTT", 3), E::InvalidProtocolName); // 3.1.1 name, 3.1 level
        assert_rejects(v, &with_name(b"MQIsdp", 5), E::InvalidProtocolName);
    }
}

#[test]
fn mqtt_3_1_2_2_unsupported_protocol_level() {
    for level in [0, 1, 2, 6, 0xFF] {
        let mut bytes = connect_v311(0x02);
        bytes[8] = level;
        assert_rejects(V311, &bytes, E::UnsupportedProtocolLevel(level));
    }
}

#[test]
fn mqtt_3_1_2_3_connect_reserved_flag_must_be_0() {
    assert_rejects(V311, &connect_v311(0x03), E::ConnectReservedFlag);
    assert_rejects(V5, &connect_v5(0x03), E::ConnectReservedFlag);
}

#[test]
fn mqtt_3_1_2_11_will_qos_must_be_0_without_will_flag() {
    // 5.0 [MQTT-3.1.2-11]; 3.1.1 [MQTT-3.1.2-11] and [MQTT-3.1.2-13].
    assert_rejects(V311, &connect_v311(0x0A), E::WillFlagsWithoutWill); // will QoS 1
    assert_rejects(V311, &connect_v311(0x12), E::WillFlagsWithoutWill); // will QoS 2
    assert_rejects(V5, &connect_v5(0x0A), E::WillFlagsWithoutWill);
}

#[test]
fn mqtt_3_1_2_13_will_retain_must_be_0_without_will_flag() {
    // 5.0 [MQTT-3.1.2-13]; 3.1.1 [MQTT-3.1.2-15].
    assert_rejects(V311, &connect_v311(0x22), E::WillFlagsWithoutWill);
    assert_rejects(V5, &connect_v5(0x22), E::WillFlagsWithoutWill);
}

#[test]
fn mqtt_3_1_2_12_will_qos_3_is_malformed() {
    // 5.0 [MQTT-3.1.2-12]; 3.1.1 [MQTT-3.1.2-14].
    assert_rejects(V311, &connect_v311(0x1E), E::InvalidQoS);
    assert_rejects(V5, &connect_v5(0x1E), E::InvalidQoS);
}

#[test]
fn mqtt_3_1_2_22_password_without_user_name_in_3_1_1() {
    assert_rejects(V311, &connect_v311(0x42), E::PasswordWithoutUsername);
    let mqisdp = [
        0x10, 0x0E, 0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x03, // name, level 3
        0x42, // password without user name
        0x00, 0x3C, 0x00, 0x00,
    ];
    assert_rejects(V31, &mqisdp, E::PasswordWithoutUsername);
    // Allowed in MQTT 5 (§3.1.2.9).
    let v5 = cat(&[&connect_v5(0x42), &[0x00, 0x01, b'p']]);
    let mut v5 = v5;
    v5[1] += 3;
    let Packet::Connect(c) = assert_accepts(V5, &v5) else {
        panic!("a CONNECT")
    };
    assert_eq!(
        (c.username, c.password),
        (None, Some(Bytes::from_static(b"p")))
    );
}

// ================================================================ CONNACK

#[test]
fn mqtt_3_2_2_1_connack_reserved_flags_must_be_0() {
    for flags in [0x02, 0x80, 0xFE, 0x03] {
        assert_rejects(V311, &[0x20, 0x02, flags, 0x00], E::ConnAckReservedFlags);
        assert_rejects(
            V5,
            &[0x20, 0x03, flags, 0x00, 0x00],
            E::ConnAckReservedFlags,
        );
    }
}

#[test]
fn mqtt_3_2_2_6_no_session_present_on_refusal() {
    // 5.0 [MQTT-3.2.2-6]; 3.1.1 [MQTT-3.2.2-4].
    for code in 1..=5 {
        assert_rejects(V311, &[0x20, 0x02, 0x01, code], E::SessionPresentOnRefusal);
    }
    assert_rejects(
        V5,
        &[0x20, 0x03, 0x01, 0x87, 0x00],
        E::SessionPresentOnRefusal,
    );
}

#[test]
fn mqtt_3_2_2_3_connack_return_codes_6_to_255_are_reserved_in_3_1_1() {
    for code in 6..=255u8 {
        assert_rejects(
            V311,
            &[0x20, 0x02, 0x00, code],
            E::InvalidReasonCode {
                packet: PacketType::ConnAck,
                code,
            },
        );
    }
}

// ================================================= reason codes (§2.4, v5)

/// Every byte not in `valid` is refused in this packet; every one in it is accepted.
#[track_caller]
fn assert_reason_codes(kind: PacketType, valid: &[u8], build: impl Fn(u8) -> Vec<u8>) {
    for code in 0..=255u8 {
        let bytes = build(code);
        if valid.contains(&code) {
            assert_accepts(V5, &bytes);
        } else {
            assert_rejects(V5, &bytes, E::InvalidReasonCode { packet: kind, code });
        }
    }
}

#[test]
fn v5_connack_reason_codes_of_3_2_2_2() {
    let valid = [
        0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95,
        0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
    ];
    assert_reason_codes(PacketType::ConnAck, &valid, |c| {
        vec![0x20, 0x03, 0x00, c, 0x00]
    });
}

#[test]
fn v5_puback_and_pubrec_reason_codes_of_3_4_2_1_and_3_5_2_1() {
    let valid = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
    assert_reason_codes(PacketType::PubAck, &valid, |c| {
        vec![0x40, 0x03, 0x00, 0x01, c]
    });
    assert_reason_codes(PacketType::PubRec, &valid, |c| {
        vec![0x50, 0x03, 0x00, 0x01, c]
    });
}

#[test]
fn v5_pubrel_and_pubcomp_reason_codes_of_3_6_2_1_and_3_7_2_1() {
    let valid = [0x00, 0x92];
    assert_reason_codes(PacketType::PubRel, &valid, |c| {
        vec![0x62, 0x03, 0x00, 0x01, c]
    });
    assert_reason_codes(PacketType::PubComp, &valid, |c| {
        vec![0x70, 0x03, 0x00, 0x01, c]
    });
}

#[test]
fn v5_suback_reason_codes_of_3_9_3() {
    let valid = [
        0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
    ];
    assert_reason_codes(PacketType::SubAck, &valid, |c| {
        vec![0x90, 0x04, 0x00, 0x01, 0x00, c]
    });
}

#[test]
fn mqtt_3_9_3_2_v311_suback_return_codes() {
    // 3.1.1 [MQTT-3.9.3-2]: 0x00, 0x01, 0x02 and 0x80 only.
    for code in 0..=255u8 {
        let bytes = [0x90, 0x03, 0x00, 0x01, code];
        if [0x00, 0x01, 0x02, 0x80].contains(&code) {
            assert_accepts(V311, &bytes);
        } else {
            let err = E::InvalidReasonCode {
                packet: PacketType::SubAck,
                code,
            };
            assert_rejects(V311, &bytes, err);
        }
    }
}

#[test]
fn v5_unsuback_reason_codes_of_3_11_3() {
    let valid = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
    assert_reason_codes(PacketType::UnsubAck, &valid, |c| {
        vec![0xB0, 0x04, 0x00, 0x01, 0x00, c]
    });
}

#[test]
fn v5_disconnect_reason_codes_of_3_14_2_1() {
    let valid = [
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94,
        0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
    ];
    assert_reason_codes(PacketType::Disconnect, &valid, |c| vec![0xE0, 0x01, c]);
}

#[test]
fn v5_auth_reason_codes_of_3_15_2_1() {
    let valid = [0x00, 0x18, 0x19];
    assert_reason_codes(PacketType::Auth, &valid, |c| vec![0xF0, 0x02, c, 0x00]);
}

// ================================================== properties (§2.2.2, v5)

/// A valid value for each property of Table 2-4.
const VALUES: [(u8, &[u8]); 27] = [
    (0x01, &[0x01]),                               // Payload Format Indicator
    (0x02, &[0x00, 0x00, 0x00, 0x01]),             // Message Expiry Interval
    (0x03, &[0x00, 0x01, b'c']),                   // Content Type
    (0x08, &[0x00, 0x01, b'r']),                   // Response Topic
    (0x09, &[0x00, 0x01, 0xAA]),                   // Correlation Data
    (0x0B, &[0x01]),                               // Subscription Identifier
    (0x11, &[0x00, 0x00, 0x00, 0x01]),             // Session Expiry Interval
    (0x12, &[0x00, 0x01, b'i']),                   // Assigned Client Identifier
    (0x13, &[0x00, 0x01]),                         // Server Keep Alive
    (0x15, &[0x00, 0x01, b'm']),                   // Authentication Method
    (0x16, &[0x00, 0x01, 0xBB]),                   // Authentication Data
    (0x17, &[0x01]),                               // Request Problem Information
    (0x18, &[0x00, 0x00, 0x00, 0x01]),             // Will Delay Interval
    (0x19, &[0x01]),                               // Request Response Information
    (0x1A, &[0x00, 0x01, b'r']),                   // Response Information
    (0x1C, &[0x00, 0x01, b's']),                   // Server Reference
    (0x1F, &[0x00, 0x01, b'r']),                   // Reason String
    (0x21, &[0x00, 0x01]),                         // Receive Maximum
    (0x22, &[0x00, 0x01]),                         // Topic Alias Maximum
    (0x23, &[0x00, 0x01]),                         // Topic Alias
    (0x24, &[0x00]),                               // Maximum QoS
    (0x25, &[0x01]),                               // Retain Available
    (0x26, &[0x00, 0x01, b'k', 0x00, 0x01, b'v']), // User Property
    (0x27, &[0x00, 0x00, 0x00, 0x01]),             // Maximum Packet Size
    (0x28, &[0x01]),                               // Wildcard Subscription Available
    (0x29, &[0x01]),                               // Subscription Identifier Available
    (0x2A, &[0x01]),                               // Shared Subscription Available
];

type Build = Box<dyn Fn(&[u8]) -> Vec<u8>>;

/// The packets of Table 2-4, the properties each may carry, and the context
/// name the codec reports.
fn table_2_4() -> Vec<(&'static str, Build, &'static [u8])> {
    const ACK: &[u8] = &[0x1F, 0x26];
    vec![
        (
            "CONNECT",
            Box::new(v5_connect),
            &[0x11, 0x21, 0x27, 0x22, 0x19, 0x17, 0x15, 0x16, 0x26],
        ),
        (
            "Will Properties",
            Box::new(v5_will),
            &[0x18, 0x01, 0x02, 0x03, 0x08, 0x09, 0x26],
        ),
        (
            "CONNACK",
            Box::new(v5_connack),
            &[
                0x11, 0x21, 0x24, 0x25, 0x27, 0x12, 0x22, 0x1F, 0x28, 0x29, 0x2A, 0x13, 0x1A, 0x1C,
                0x15, 0x16, 0x26,
            ],
        ),
        (
            "PUBLISH",
            Box::new(v5_publish),
            &[0x01, 0x02, 0x23, 0x08, 0x09, 0x0B, 0x03, 0x26],
        ),
        ("acknowledgement", Box::new(v5_ack(0x40)), ACK), // PUBACK
        ("acknowledgement", Box::new(v5_ack(0x50)), ACK), // PUBREC
        ("acknowledgement", Box::new(v5_ack(0x62)), ACK), // PUBREL
        ("acknowledgement", Box::new(v5_ack(0x70)), ACK), // PUBCOMP
        ("SUBSCRIBE", Box::new(v5_subscribe), &[0x0B, 0x26]),
        ("acknowledgement", Box::new(v5_suback), ACK),
        ("UNSUBSCRIBE", Box::new(v5_unsubscribe), &[0x26]),
        ("acknowledgement", Box::new(v5_unsuback), ACK),
        (
            "DISCONNECT",
            Box::new(v5_disconnect),
            &[0x11, 0x1F, 0x1C, 0x26],
        ),
        ("AUTH", Box::new(v5_auth), &[0x15, 0x16, 0x1F, 0x26]),
    ]
}

#[test]
fn table_2_4_every_property_in_every_packet() {
    // Allowed: accepted once; a second occurrence is a Protocol Error except
    // for User Property (everywhere) and Subscription Identifier (PUBLISH).
    // Not allowed: "A Control Packet which contains an Identifier which is
    // not valid for its packet type ... is a Malformed Packet" (§2.2.2.2).
    for (context, build, allowed) in table_2_4() {
        for (id, value) in VALUES {
            let property = PropertyId::from_u32(u32::from(id)).expect("defined");
            let once = cat(&[&[id], value]);
            let bytes = build(&once);
            if !allowed.contains(&id) {
                assert_rejects(
                    V5,
                    &bytes,
                    E::PropertyNotAllowed {
                        id: property,
                        context,
                    },
                );
                continue;
            }
            // Authentication Data needs an Authentication Method beside it.
            let method: &[u8] = if id == 0x16 {
                &[0x15, 0x00, 0x01, b'm']
            } else {
                &[]
            };
            assert_accepts(V5, &build(&cat(&[method, &once])));
            let twice = build(&cat(&[method, &once, &once]));
            let multi = id == 0x26 || (id == 0x0B && context == "PUBLISH");
            if multi {
                assert_accepts(V5, &twice);
            } else {
                assert_rejects(V5, &twice, E::DuplicateProperty(property));
            }
        }
    }
}

#[test]
fn property_not_allowed_examples() {
    let cases: [(Vec<u8>, PropertyId, &str); 6] = [
        (
            v5_connect(&[0x23, 0x00, 0x01]),
            PropertyId::TopicAlias,
            "CONNECT",
        ),
        (
            v5_connect(&[0x18, 0x00, 0x00, 0x00, 0x01]),
            PropertyId::WillDelayInterval,
            "CONNECT",
        ),
        (
            v5_will(&[0x11, 0x00, 0x00, 0x00, 0x01]),
            PropertyId::SessionExpiryInterval,
            "Will Properties",
        ),
        (
            v5_publish(&[0x11, 0x00, 0x00, 0x00, 0x01]),
            PropertyId::SessionExpiryInterval,
            "PUBLISH",
        ),
        (
            v5_ack(0x40)(&[0x0B, 0x01]),
            PropertyId::SubscriptionIdentifier,
            "acknowledgement",
        ),
        (
            v5_subscribe(&[0x1F, 0x00, 0x00]),
            PropertyId::ReasonString,
            "SUBSCRIBE",
        ),
    ];
    for (bytes, id, context) in cases {
        assert_rejects(V5, &bytes, E::PropertyNotAllowed { id, context });
    }
}

#[test]
fn unknown_property_identifier_is_malformed() {
    for id in [0x00, 0x04, 0x0A, 0x10, 0x14, 0x1B, 0x1D, 0x20, 0x2B, 0x7F] {
        assert_rejects(V5, &v5_publish(&[id]), E::UnknownProperty(id));
    }
    // A two-byte identifier (128).
    assert_rejects(V5, &v5_publish(&[0x80, 0x01]), E::UnknownProperty(128));
}

#[test]
fn duplicate_property_is_a_protocol_error() {
    assert_rejects(
        V5,
        &v5_publish(&[0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2]),
        E::DuplicateProperty(PropertyId::MessageExpiryInterval),
    );
    // SUBSCRIBE: "It is a Protocol Error to include the Subscription Identifier more than once".
    assert_rejects(
        V5,
        &v5_subscribe(&[0x0B, 0x01, 0x0B, 0x02]),
        E::DuplicateProperty(PropertyId::SubscriptionIdentifier),
    );
    assert_rejects(
        V5,
        &v5_ack(0x40)(&[0x1F, 0x00, 0x00, 0x1F, 0x00, 0x00]),
        E::DuplicateProperty(PropertyId::ReasonString),
    );
}

#[test]
fn user_property_and_subscription_identifier_repeat_in_order() {
    let bytes = v5_ack(0x40)(&[
        0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'1', // ("a", "1")
        0x26, 0x00, 0x01, b'b', 0x00, 0x01, b'2', // ("b", "2")
        0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'3', // ("a", "3"): same name again
    ]);
    let Packet::PubAck(ack) = assert_accepts(V5, &bytes) else {
        panic!("a PUBACK")
    };
    let pairs: Vec<(&str, &str)> = ack
        .properties
        .user_properties
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(pairs, [("a", "1"), ("b", "2"), ("a", "3")]);

    let bytes = v5_publish(&[0x0B, 0x05, 0x0B, 0x03, 0x0B, 0x05]);
    let Packet::Publish(p) = assert_accepts(V5, &bytes) else {
        panic!("a PUBLISH")
    };
    let ids: Vec<u32> = p
        .properties
        .subscription_identifiers
        .iter()
        .map(|s| s.get())
        .collect();
    assert_eq!(ids, [5, 3, 5]);
}

#[test]
fn property_values_out_of_range() {
    use PropertyId as P;
    let cases: [(Vec<u8>, PropertyId); 20] = [
        // §3.3.2.3.2 Payload Format Indicator: 0 or 1.
        (v5_publish(&[0x01, 0x02]), P::PayloadFormatIndicator),
        (v5_will(&[0x01, 0x02]), P::PayloadFormatIndicator),
        // Receive Maximum: "a Protocol Error ... for it to have the value 0".
        (v5_connect(&[0x21, 0x00, 0x00]), P::ReceiveMaximum),
        (v5_connack(&[0x21, 0x00, 0x00]), P::ReceiveMaximum),
        // Maximum Packet Size: "a Protocol Error ... for the value to be set to zero".
        (
            v5_connect(&[0x27, 0x00, 0x00, 0x00, 0x00]),
            P::MaximumPacketSize,
        ),
        (
            v5_connack(&[0x27, 0x00, 0x00, 0x00, 0x00]),
            P::MaximumPacketSize,
        ),
        // [MQTT-3.3.2-8]: a Topic Alias of 0 is not permitted.
        (v5_publish(&[0x23, 0x00, 0x00]), P::TopicAlias),
        // Maximum QoS: "a value other than 0 or 1" is a Protocol Error.
        (v5_connack(&[0x24, 0x02]), P::MaximumQoS),
        // Request Problem / Response Information: "a value other than 0 or 1".
        (v5_connect(&[0x17, 0x02]), P::RequestProblemInformation),
        (v5_connect(&[0x19, 0x02]), P::RequestResponseInformation),
        // Retain / Wildcard / Subscription Identifier / Shared Subscription Available: 0 or 1.
        (v5_connack(&[0x25, 0x02]), P::RetainAvailable),
        (v5_connack(&[0x28, 0x02]), P::WildcardSubscriptionAvailable),
        (
            v5_connack(&[0x29, 0x02]),
            P::SubscriptionIdentifierAvailable,
        ),
        (v5_connack(&[0x2A, 0x02]), P::SharedSubscriptionAvailable),
        // "It is a Protocol Error if the Subscription Identifier has a value of 0".
        (v5_subscribe(&[0x0B, 0x00]), P::SubscriptionIdentifier),
        (v5_publish(&[0x0B, 0x00]), P::SubscriptionIdentifier),
        // [MQTT-3.3.2-14]: the Response Topic MUST NOT contain wildcards; it is a topic name.
        (
            v5_publish(&[0x08, 0x00, 0x03, b'r', b'/', b'#']),
            P::ResponseTopic,
        ),
        (v5_publish(&[0x08, 0x00, 0x01, b'+']), P::ResponseTopic),
        (v5_will(&[0x08, 0x00, 0x01, b'#']), P::ResponseTopic),
        (v5_publish(&[0x08, 0x00, 0x00]), P::ResponseTopic),
    ];
    for (bytes, id) in cases {
        assert_rejects(V5, &bytes, E::InvalidPropertyValue(id));
    }
}

// ====================================================== encoding refusals

/// `packet` cannot be encoded for `version`: `encoded_len` and `encode` fail
/// with `err` and nothing is written.
#[track_caller]
fn assert_refused(version: ProtocolVersion, packet: impl Into<Packet>, err: EncodeError) {
    let packet = packet.into();
    assert_eq!(packet.encoded_len(version), Err(err.clone()), "encoded_len");
    let mut buf = BytesMut::from(&b"before"[..]);
    assert_eq!(packet.encode(version, &mut buf), Err(err), "encode");
    assert_eq!(&buf[..], b"before", "nothing written");
}

/// Refused as a feature that `version` lacks; `what` names it.
#[track_caller]
fn assert_not_in_version(version: ProtocolVersion, packet: impl Into<Packet>, what_contains: &str) {
    let packet = packet.into();
    let mut buf = BytesMut::new();
    let err = packet.encode(version, &mut buf).expect_err("refused");
    match &err {
        EncodeError::NotInVersion { what, version: v } => {
            assert_eq!(*v, version);
            assert!(
                what.contains(what_contains),
                "{what:?} should name {what_contains:?}"
            );
        }
        other => panic!("expected NotInVersion, got {other:?}"),
    }
    assert!(buf.is_empty(), "nothing written");
    assert_eq!(packet.encoded_len(version), Err(err));
}

#[test]
fn encode_mqtt_3_3_1_2_dup_with_qos_0() {
    let mut p = Publish::at_most_once(name("t"), Bytes::new());
    p.dup = true;
    for v in ALL {
        assert_refused(v, p.clone(), EncodeError::DupWithQoS0);
    }
}

#[test]
fn encode_mqtt_2_2_1_2_packet_identifier_exactly_when_qos_above_0() {
    for v in ALL {
        let mut p = Publish::at_most_once(name("t"), Bytes::new());
        p.qos = QoS::AtLeastOnce; // QoS 1 without a packet identifier
        assert_refused(v, p.clone(), EncodeError::PacketIdMismatch);
        p.qos = QoS::ExactlyOnce;
        assert_refused(v, p.clone(), EncodeError::PacketIdMismatch);
        p.qos = QoS::AtMostOnce; // QoS 0 with one [MQTT-2.2.1-2]
        p.packet_id = Some(pid(1));
        assert_refused(v, p, EncodeError::PacketIdMismatch);
    }
}

#[test]
fn encode_empty_topic_without_alias() {
    let p = Publish::at_most_once(TopicName::alias_only(), Bytes::new());
    for v in ALL {
        assert_refused(v, p.clone(), EncodeError::EmptyTopicWithoutAlias);
    }
    // With an alias: MQTT 5 only.
    let mut p = p;
    p.properties.topic_alias = std::num::NonZeroU16::new(1);
    assert!(p.encoded_len(V5).is_ok());
    assert_not_in_version(V311, p, "PUBLISH");
}

#[test]
fn encode_v5_features_as_3_1_1_and_3_1() {
    for v in [V31, V311] {
        // Properties.
        let mut p = Publish::at_most_once(name("t"), Bytes::new());
        p.properties.message_expiry_interval = Some(1);
        assert_not_in_version(v, p, "PUBLISH");

        let mut c = Connect::new(v, mstr("c"));
        c.properties = ConnectProperties {
            session_expiry_interval: Some(1),
            ..Default::default()
        }
        .into();
        assert_not_in_version(v, c, "CONNECT");

        let mut c = Connect::new(v, mstr("c"));
        let mut will = LastWill::new(name("w"), Bytes::new());
        will.properties.will_delay_interval = Some(1);
        c.will = Some(will);
        assert_not_in_version(v, c, "will");

        let mut ca = ConnAck::new(false, ConnectReason::Success);
        ca.properties.server_keep_alive = Some(1);
        assert_not_in_version(v, ca, "CONNACK");

        let mut ack = PubAck::new(pid(1));
        ack.properties = AckProperties {
            reason_string: Some(mstr("r")),
            user_properties: Vec::new(),
        }
        .into();
        assert_not_in_version(v, ack, "properties");

        let mut s = Subscribe::new(pid(1), filter("a"), SubscriptionOptions::default());
        s.properties.subscription_identifier = SubscriptionId::new(1);
        assert_not_in_version(v, s, "SUBSCRIBE");

        let sa = SubAck {
            packet_id: pid(1),
            reasons: vec![SubAckReason::GrantedQoS0],
            properties: AckProperties {
                reason_string: Some(mstr("r")),
                user_properties: Vec::new(),
            }
            .into(),
        };
        assert_not_in_version(v, sa, "SUBACK");

        let mut u = Unsubscribe {
            packet_id: pid(1),
            filters: vec![filter("a")],
            properties: Default::default(),
        };
        u.properties.user_properties.push(UserProperty {
            name: mstr("k"),
            value: mstr("v"),
        });
        assert_not_in_version(v, u, "UNSUBSCRIBE");

        let ua = UnsubAck {
            packet_id: pid(1),
            reasons: Vec::new(),
            properties: AckProperties {
                reason_string: Some(mstr("r")),
                user_properties: Vec::new(),
            }
            .into(),
        };
        assert_not_in_version(v, ua, "UNSUBACK");

        let mut d = Disconnect::default();
        d.properties.reason_string = Some(mstr("r"));
        assert_not_in_version(v, d, "DISCONNECT");

        // Reason codes.
        assert_not_in_version(v, ConnAck::new(false, ConnectReason::Banned), "CONNACK");
        assert_not_in_version(
            v,
            PubAck::with_reason(pid(1), PubAckReason::QuotaExceeded),
            "reason",
        );
        assert_not_in_version(
            v,
            PubRel::with_reason(pid(1), PubRelReason::PacketIdentifierNotFound),
            "reason",
        );
        let sa = SubAck {
            packet_id: pid(1),
            reasons: vec![SubAckReason::NotAuthorized],
            properties: Default::default(),
        };
        assert_not_in_version(v, sa, "SUBACK");
        let ua = UnsubAck {
            packet_id: pid(1),
            reasons: vec![UnsubAckReason::Success],
            properties: Default::default(),
        };
        assert_not_in_version(v, ua, "UNSUBACK");
        assert_not_in_version(
            v,
            Disconnect::new(DisconnectReason::ServerBusy),
            "DISCONNECT",
        );

        // AUTH.
        assert_not_in_version(v, Auth::default(), "AUTH");

        // Subscription options beyond the QoS.
        for options in [
            SubscriptionOptions {
                no_local: true,
                ..Default::default()
            },
            SubscriptionOptions {
                retain_as_published: true,
                ..Default::default()
            },
            SubscriptionOptions {
                retain_handling: RetainHandling::DoNotSend,
                ..Default::default()
            },
        ] {
            assert_not_in_version(
                v,
                Subscribe::new(pid(1), filter("a"), options),
                "subscription options",
            );
        }
    }
}

#[test]
fn encode_connect_for_another_version() {
    let c = Connect::new(V5, mstr("c"));
    assert_refused(
        V311,
        c,
        EncodeError::VersionMismatch {
            connect: V5,
            version: V311,
        },
    );
    let c = Connect::new(V31, mstr("c"));
    assert_refused(
        V311,
        c,
        EncodeError::VersionMismatch {
            connect: V31,
            version: V311,
        },
    );
}

#[test]
fn encode_mqtt_3_8_3_3_subscribe_and_unsubscribe_need_a_filter() {
    let mut s = Subscribe::new(pid(1), filter("a"), SubscriptionOptions::default());
    s.filters.clear();
    let u = Unsubscribe {
        packet_id: pid(1),
        filters: Vec::new(),
        properties: Default::default(),
    };
    for v in ALL {
        assert_refused(
            v,
            s.clone(),
            EncodeError::NoTopicFilters(PacketType::Subscribe),
        );
        assert_refused(
            v,
            u.clone(),
            EncodeError::NoTopicFilters(PacketType::Unsubscribe),
        );
    }
}

#[test]
fn encode_suback_and_v5_unsuback_need_a_reason_code() {
    let sa = SubAck {
        packet_id: pid(1),
        reasons: Vec::new(),
        properties: Default::default(),
    };
    for v in ALL {
        assert_refused(
            v,
            sa.clone(),
            EncodeError::NoReasonCodes(PacketType::SubAck),
        );
    }
    let ua = UnsubAck {
        packet_id: pid(1),
        reasons: Vec::new(),
        properties: Default::default(),
    };
    assert_refused(
        V5,
        ua.clone(),
        EncodeError::NoReasonCodes(PacketType::UnsubAck),
    );
    assert_eq!(
        ua.encoded_len(V311),
        Ok(4),
        "3.1.1 UNSUBACK has no reason codes"
    );
}

#[test]
fn encode_mqtt_3_8_3_4_no_local_on_shared_subscription() {
    let options = SubscriptionOptions {
        no_local: true,
        ..Default::default()
    };
    let s = Subscribe::new(pid(1), filter("$share/g/a"), options);
    assert_refused(V5, s, EncodeError::NoLocalOnSharedSubscription);
}

#[test]
fn encode_mqtt_3_1_2_22_password_without_user_name() {
    for v in [V31, V311] {
        let mut c = Connect::new(v, mstr("c"));
        c.password = Some(Bytes::from_static(b"p"));
        assert_refused(v, c, EncodeError::PasswordWithoutUsername);
    }
    let mut c = Connect::new(V5, mstr("c"));
    c.password = Some(Bytes::from_static(b"p"));
    assert!(c.encoded_len(V5).is_ok(), "allowed in MQTT 5");
}

#[test]
fn encode_mqtt_3_2_2_6_session_present_on_refusal() {
    for v in ALL {
        let ca = ConnAck::new(true, ConnectReason::NotAuthorized);
        assert_refused(v, ca, EncodeError::SessionPresentOnRefusal);
    }
}

#[test]
fn encode_binary_data_over_65535_bytes() {
    // §1.5.6: Binary Data has a two-byte length.
    let big = Bytes::from(vec![0u8; 65_536]);
    let max = Bytes::from(vec![0u8; 65_535]);
    let err = EncodeError::BinaryTooLong(65_536);
    for v in ALL {
        let mut c = Connect::new(v, mstr("c"));
        c.username = Some(mstr("u"));
        c.password = Some(max.clone());
        assert!(c.encoded_len(v).is_ok());
        c.password = Some(big.clone());
        assert_refused(v, c, err.clone());

        let mut c = Connect::new(v, mstr("c"));
        c.will = Some(LastWill::new(name("w"), max.clone()));
        assert!(c.encoded_len(v).is_ok());
        c.will = Some(LastWill::new(name("w"), big.clone()));
        assert_refused(v, c, err.clone());
    }
    // MQTT 5 binary properties.
    let mut p = Publish::at_most_once(name("t"), Bytes::new());
    p.properties.correlation_data = Some(big.clone());
    assert_refused(V5, p, err.clone());

    let mut c = Connect::new(V5, mstr("c"));
    c.properties.authentication_method = Some(mstr("m"));
    c.properties.authentication_data = Some(big.clone());
    assert_refused(V5, c, err.clone());

    let mut c = Connect::new(V5, mstr("c"));
    let mut will = LastWill::new(name("w"), Bytes::new());
    will.properties.correlation_data = Some(big.clone());
    c.will = Some(will);
    assert_refused(V5, c, err.clone());

    let mut ca = ConnAck::new(false, ConnectReason::Success);
    ca.properties.authentication_method = Some(mstr("m"));
    ca.properties.authentication_data = Some(big.clone());
    assert_refused(V5, ca, err.clone());

    let mut a = Auth::default();
    a.properties.authentication_method = Some(mstr("m"));
    a.properties.authentication_data = Some(big);
    assert_refused(V5, a, err);
}

#[test]
fn encode_packet_larger_than_268_435_455() {
    // Remaining length 3 + 268,435,453 = 268,435,456: one more than MQTT can express.
    // (The zeroed payload is never touched.)
    let p = Publish::at_most_once(name("a"), vec![0u8; 268_435_453]);
    assert_refused(V311, p, EncodeError::PacketTooLarge(268_435_456));
}

#[test]
fn constructors_refuse_what_cannot_be_on_the_wire() {
    assert_eq!(PacketId::new(0), None); // [MQTT-2.3.1-1]
    assert_eq!(SubscriptionId::new(0), None);
    assert_eq!(SubscriptionId::new(268_435_456), None); // beyond a Variable Byte Integer
    assert!(TopicName::try_from("a/+").is_err()); // [MQTT-3.3.2-2]
    assert!(TopicName::try_from("").is_err()); // [MQTT-4.7.3-1]
    assert!(TopicFilter::try_from("a/#/b").is_err()); // [MQTT-4.7.1-2]
    assert!(MqttString::try_from("a\0b").is_err()); // [MQTT-1.5.4-2]
    assert!(MqttString::try_from("a".repeat(65_536)).is_err()); // two-byte length
    assert_eq!(QoS::from_bits(3), Err(E::InvalidQoS)); // [MQTT-3.3.1-4]
}

// §3.1.2.11.10, §3.2.2.3.18, §3.15.2.2.4: "It is a Protocol Error to include
// Authentication Data if there is no Authentication Method".
#[test]
fn mqtt5_authentication_data_requires_authentication_method() {
    let data_only = [0x16, 0x00, 0x01, 0xAA]; // Authentication Data 0xAA
    let method_and_data = [0x15, 0x00, 0x01, b'm', 0x16, 0x00, 0x01, 0xAA];
    for build in [v5_connect, v5_connack, v5_auth] {
        assert_rejects(
            ProtocolVersion::V5,
            &build(&data_only),
            E::AuthDataWithoutMethod,
        );
        assert_accepts(ProtocolVersion::V5, &build(&method_and_data));
    }
    // The encoder refuses to write it.
    let mut auth = sansmqtt_proto::Auth::default();
    auth.properties.authentication_data = Some(Bytes::from_static(b"x"));
    let mut buf = BytesMut::new();
    assert_eq!(
        auth.encode(ProtocolVersion::V5, &mut buf),
        Err(sansmqtt_proto::EncodeError::AuthDataWithoutMethod)
    );
    assert!(buf.is_empty());
}
