//! The borrowed decoder, [`decode_packet_ref`], against the owned one,
//! [`decode_packet`]: for valid packets of every type and version, and for
//! corrupted ones (truncated, bits flipped, bytes changed, inserted or
//! removed), both give the same verdict: the same packet (the borrowed one
//! converted with `to_owned`) and the same consumed length, `None` for the
//! same incomplete input, the same [`DecodeError`] for the same bad input.
//!
//! Then the rules themselves, on the borrowed path, named after the
//! statements of the specifications (the rule-by-rule suite of the owned
//! decoder, `violations.rs`, checks the borrowed decoder on each of its
//! packets as well).

mod common;

use bytes::BytesMut;
use proptest::prelude::*;
use proptest::sample::select;
use sansmqtt_proto::{
    DecodeError, MAX_PACKET_SIZE, Packet, PacketId, PacketRef, PacketType, PropertyId, PropertyRef,
    ProtocolVersion, PubAck, Publish, PublishProperties, QoS, SubAckReason, SubscriptionOptions,
    TopicError, TopicName, UserProperty, decode_packet, decode_packet_ref,
};

use common::{encode, versioned_packet, versioned_packets};

const V311: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;

/// What a decoder made of the front of a buffer: the packet and its length,
/// nothing yet, or an error.
type Verdict = Result<Option<(Packet, usize)>, DecodeError>;

fn owned(buf: &[u8], version: ProtocolVersion, max: u32) -> Verdict {
    let mut b = BytesMut::from(buf);
    let packet = decode_packet(&mut b, version, max)?;
    Ok(packet.map(|p| (p, buf.len() - b.len())))
}

fn borrowed(buf: &[u8], version: ProtocolVersion, max: u32) -> Verdict {
    Ok(decode_packet_ref(buf, version, max)?.map(|(p, n)| (p.to_owned(), n)))
}

/// Both decoders give the same verdict on `buf`.
#[track_caller]
fn assert_agree(buf: &[u8], version: ProtocolVersion, max: u32) -> Verdict {
    let o = owned(buf, version, max);
    assert_eq!(
        borrowed(buf, version, max),
        o,
        "{version:?} max {max} {buf:02x?}"
    );
    o
}

/// A complete packet, fixed header included.
fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    assert!(body.len() < 128, "short bodies only");
    let mut v = vec![first, body.len() as u8];
    v.extend_from_slice(body);
    v
}

/// The verdict of the borrowed decoder alone, on a whole packet.
fn decode(version: ProtocolVersion, bytes: &[u8]) -> Result<PacketRef<'_>, DecodeError> {
    let (packet, used) = decode_packet_ref(bytes, version, MAX_PACKET_SIZE)?.expect("complete");
    assert_eq!(used, bytes.len());
    Ok(packet)
}

/// A corruption of an encoded packet.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    FlipBit(usize, u8),
    SetByte(usize, u8),
    Insert(usize, u8),
    Remove(usize),
}

impl Mutation {
    fn apply(&self, bytes: &[u8]) -> Vec<u8> {
        let mut v = bytes.to_vec();
        if v.is_empty() {
            return v;
        }
        let at = |i: usize| i % v.len();
        match *self {
            Self::Truncate(i) => v.truncate(at(i)),
            Self::FlipBit(i, bit) => {
                let i = at(i);
                v[i] ^= 1 << (bit % 8);
            }
            Self::SetByte(i, b) => {
                let i = at(i);
                v[i] = b;
            }
            Self::Insert(i, b) => {
                let i = at(i);
                v.insert(i, b);
            }
            Self::Remove(i) => {
                let i = at(i);
                v.remove(i);
            }
        }
        v
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Most corruption is aimed at the head of the packet, where the fields are.
    let index = prop_oneof![3 => 0usize..24, 1 => any::<usize>()];
    prop_oneof![
        (index.clone()).prop_map(Mutation::Truncate),
        (index.clone(), any::<u8>()).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (index.clone(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        (index.clone(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        index.prop_map(Mutation::Remove),
    ]
}

/// Maximum packet sizes around `len`, and the largest.
fn max_size(len: usize) -> impl Strategy<Value = u32> {
    let len = len as u32;
    select(vec![
        MAX_PACKET_SIZE,
        len,
        len.saturating_sub(1),
        len / 2,
        4,
    ])
}

/// Property identifiers: every one defined, and a few that are not.
const PROPERTY_IDS: [u8; 30] = [
    0x01, 0x02, 0x03, 0x08, 0x09, 0x0b, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1c,
    0x1f, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x00, 0x04, 0x7f,
];

/// Values of every shape a property has, valid or not for a given
/// identifier: bytes 0, 1 and 2, zero and non-zero integers, strings (with a
/// wildcard, invalid UTF-8, U+0000, empty), variable byte integers (zero,
/// non-minimal), a user property's pair, and bytes cut short.
fn property_value() -> impl Strategy<Value = Vec<u8>> {
    let shapes: Vec<&'static [u8]> = vec![
        &[0],
        &[1],
        &[2],
        &[0, 0],
        &[0, 5],
        &[0, 0, 0, 0],
        &[0, 0, 1, 0],
        &[0, 1, b'a'],
        &[0, 3, b'a', b'/', b'b'],
        &[0, 1, b'+'],
        &[0, 1, b'#'],
        &[0, 2, 0xc3, 0x28],
        &[0, 1, 0],
        &[0x80, 0x01],
        &[0x80, 0x00],
        &[0x80],
        &[0, 1, b'k', 0, 1, b'v'],
        &[0, 1, b'k', 0, 1, 0xff],
        &[0, 9, b'a'],
    ];
    prop_oneof![
        6 => select(shapes).prop_map(<[u8]>::to_vec),
        1 => proptest::collection::vec(any::<u8>(), 0..6),
    ]
}

/// A property list with a correct length prefix, whose properties are any
/// identifier with any value: many are valid, many break one rule.
fn property_list() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec((select(PROPERTY_IDS.to_vec()), property_value()), 0..5).prop_map(
        |props| {
            let list: Vec<u8> = props
                .into_iter()
                .flat_map(|(id, value)| std::iter::once(id).chain(value))
                .collect();
            let mut v = vec![list.len() as u8];
            v.extend(list);
            v
        },
    )
}

/// An MQTT 5 packet of each type that has properties, the list `props`
/// where its properties go and valid fields around it.
fn with_properties(kind: u8, props: &[u8]) -> Vec<u8> {
    let cat = |parts: &[&[u8]]| parts.concat();
    let (first, body) = match kind {
        0 => (0x30, cat(&[&[0, 1, b'a'], props, b"payload"])),
        1 => (0x32, cat(&[&[0, 0, 0, 7], props])),
        2 => (0x40, cat(&[&[0, 1, 0x10], props])),
        3 => (0x62, cat(&[&[0, 1, 0x92], props])),
        4 => (0x20, cat(&[&[0, 0], props])),
        5 => (0xe0, cat(&[&[0x04], props])),
        6 => (0xf0, cat(&[&[0x18], props])),
        7 => (0x82, cat(&[&[0, 1], props, &[0, 1, b'a', 0]])),
        8 => (0xa2, cat(&[&[0, 1], props, &[0, 1, b'a']])),
        9 => (0x90, cat(&[&[0, 1], props, &[0]])),
        10 => (0xb0, cat(&[&[0, 1], props, &[0x11]])),
        // CONNECT properties.
        11 => (
            0x10,
            cat(&[
                &[0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 60],
                props,
                &[0, 0],
            ]),
        ),
        // Will properties.
        _ => (
            0x10,
            cat(&[
                &[0, 4, b'M', b'Q', b'T', b'T', 5, 0x06, 0, 60, 0, 0, 0],
                props,
                &[0, 1, b'w', 0, 0],
            ]),
        ),
    };
    let mut v = vec![first];
    let mut len = body.len();
    loop {
        let byte = (len % 128) as u8;
        len /= 128;
        if len == 0 {
            v.push(byte);
            break;
        }
        v.push(byte | 0x80);
    }
    v.extend(body);
    v
}

proptest! {
    // Each case is a few microseconds; rare combinations (Authentication
    // Data without Method, say) need many.
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Property lists of every packet that has them, with every identifier
    /// and every shape of value: both decoders take or refuse each list
    /// alike (unknown, not allowed here, duplicate, out of range, bad
    /// string, cut short, Authentication Data without Method, empty topic
    /// without Topic Alias).
    #[test]
    fn property_lists_get_the_same_verdict(kind in 0u8..13, props in property_list()) {
        let bytes = with_properties(kind, &props);
        let _ = assert_agree(&bytes, V5, MAX_PACKET_SIZE);
    }

    /// CONNECTs with any flags byte, protocol name and level, and fields of
    /// every shape where the flags call for them: both decoders agree on
    /// the flag rules (reserved bit, will QoS and retain without will,
    /// password without user name in 3.x), the will topic and the strings.
    #[test]
    fn connects_get_the_same_verdict(
        name in select(vec![&b"MQTT"[..], b"MQIsdp", b"MQTX"]),
        level in 3u8..=6,
        flags in any::<u8>(),
        strings in proptest::collection::vec(property_value(), 4),
        props in proptest::collection::vec(property_list(), 2),
        version in common::version(),
    ) {
        let mut body = vec![0, name.len() as u8];
        body.extend_from_slice(name);
        body.extend_from_slice(&[level, flags, 0, 30]);
        let v5 = level == 5;
        if v5 {
            body.extend_from_slice(&props[0]);
        }
        body.extend_from_slice(&strings[0]); // client identifier
        if flags & 0x04 != 0 {
            if v5 {
                body.extend_from_slice(&props[1]);
            }
            body.extend_from_slice(&strings[1]); // will topic
            body.extend_from_slice(&[0, 2, 0xff, 0x00]); // will payload
        }
        if flags & 0x80 != 0 {
            body.extend_from_slice(&strings[2]);
        }
        if flags & 0x40 != 0 {
            body.extend_from_slice(&strings[3]);
        }
        prop_assume!(body.len() < 128);
        let _ = assert_agree(&frame(0x10, &body), version, MAX_PACKET_SIZE);
    }

    /// SUBSCRIBEs and UNSUBSCRIBEs with filters of every shape (wildcards
    /// in and out of place, shared subscriptions valid or not, bad strings)
    /// and any options byte: both decoders agree, in every version.
    #[test]
    fn subscriptions_get_the_same_verdict(
        unsubscribe in any::<bool>(),
        filters in proptest::collection::vec(
            (
                select(vec![
                    &b"a/b"[..], b"a/+/c", b"#", b"a/#", b"#/a", b"a+", b"+", b"", b"$share/g/a/#",
                    b"$share//a", b"$share/g", b"$share/g+/a", b"$share/g/", b"a\0b", b"\xc3(",
                ]),
                // Options: each bit alone (No Local is 0x04), QoS 3, retain
                // handling 3, or anything.
                prop_oneof![
                    3 => select(vec![0u8, 1, 2, 3, 4, 5, 8, 0x10, 0x20, 0x30, 0x40, 0x80]),
                    1 => any::<u8>(),
                ],
            ),
            0..4,
        ),
        props in property_list(),
        version in common::version(),
    ) {
        let mut body = vec![0, 1];
        if version.is_v5() {
            body.extend_from_slice(&props);
        }
        for (filter, options) in filters {
            body.extend_from_slice(&[0, filter.len() as u8]);
            body.extend_from_slice(filter);
            if !unsubscribe {
                body.push(options);
            }
        }
        prop_assume!(body.len() < 128);
        let first = if unsubscribe { 0xa2 } else { 0x82 };
        let _ = assert_agree(&frame(first, &body), version, MAX_PACKET_SIZE);
    }

    /// The same, for a PUBLISH with an empty topic, which needs a Topic Alias.
    #[test]
    fn empty_topic_property_lists_get_the_same_verdict(props in property_list()) {
        let mut body = vec![0, 0];
        body.extend_from_slice(&props);
        let _ = assert_agree(&frame(0x30, &body), V5, MAX_PACKET_SIZE);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A valid packet of any type and version: the borrowed decoder gives
    /// the owned decoder's packet (through `to_owned`) and consumes the same
    /// bytes; every shorter prefix is `None` for both.
    #[test]
    fn valid_packets_decode_to_the_owned_packet((version, packet) in versioned_packet()) {
        let wire = encode(&packet, version);
        let (decoded, used) = decode_packet_ref(&wire, version, MAX_PACKET_SIZE)
            .expect("valid")
            .expect("complete");
        prop_assert_eq!(used, wire.len());
        prop_assert_eq!(decoded.packet_type(), packet.packet_type());
        prop_assert_eq!(&decoded.to_owned(), &packet);
        prop_assert_eq!(owned(&wire, version, MAX_PACKET_SIZE), Ok(Some((packet, used))));
        for cut in 0..wire.len().min(40) {
            prop_assert_eq!(decode_packet_ref(&wire[..cut], version, MAX_PACKET_SIZE), Ok(None));
        }
    }

    /// A stream of packets: decoded one after the other, both decoders
    /// agree at every step, up to the end.
    #[test]
    fn streams_decode_alike((version, packets) in versioned_packets(6)) {
        let mut stream = Vec::new();
        for p in &packets {
            stream.extend_from_slice(&encode(p, version));
        }
        let mut rest = &stream[..];
        for p in &packets {
            let verdict = assert_agree(rest, version, MAX_PACKET_SIZE);
            let Ok(Some((decoded, used))) = verdict else {
                panic!("a packet: {verdict:?}")
            };
            prop_assert_eq!(&decoded, p);
            rest = &rest[used..];
        }
        prop_assert!(rest.is_empty());
        prop_assert_eq!(decode_packet_ref(rest, version, MAX_PACKET_SIZE), Ok(None));
    }

    /// A corrupted packet: both decoders take it, wait for more, or refuse
    /// it, and alike.
    #[test]
    fn corrupted_packets_get_the_same_verdict(
        (version, packet) in versioned_packet(),
        mutations in proptest::collection::vec(mutation(), 1..3),
        max_index in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode(&packet, version).to_vec();
        for m in &mutations {
            bytes = m.apply(&bytes);
        }
        let maxes = [MAX_PACKET_SIZE, bytes.len() as u32, (bytes.len() as u32).saturating_sub(1), 2];
        let _ = assert_agree(&bytes, version, maxes[max_index.index(maxes.len())]);
    }

    /// Arbitrary bytes, in every version and with maximum sizes around
    /// their length.
    #[test]
    fn arbitrary_bytes_get_the_same_verdict(
        bytes in proptest::collection::vec(any::<u8>(), 0..48),
        version in common::version(),
        max in (0usize..48).prop_flat_map(max_size),
    ) {
        let _ = assert_agree(&bytes, version, max);
    }

    /// Arbitrary bodies behind a valid fixed header of each type: the
    /// body's checks agree field by field.
    #[test]
    fn arbitrary_bodies_get_the_same_verdict(
        first in select(vec![0x10u8, 0x20, 0x30, 0x32, 0x34, 0x3b, 0x40, 0x50, 0x62, 0x70,
                             0x82, 0x90, 0xa2, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0]),
        body in proptest::collection::vec(
            prop_oneof![3 => 0u8..4, 1 => select(vec![b'M', b'Q', b'T', 0x26, 0x23, b'+', 0x80]), 2 => any::<u8>()],
            0..40,
        ),
        version in common::version(),
    ) {
        let mut bytes = vec![first, body.len() as u8];
        bytes.extend_from_slice(&body);
        let _ = assert_agree(&bytes, version, MAX_PACKET_SIZE);
    }

    /// The typed accessors of PUBLISH properties read what the owned
    /// decoder puts in its fields.
    #[test]
    fn publish_property_accessors_read_the_owned_fields(
        publish in common::publish(V5),
    ) {
        let wire = encode(&Packet::Publish(publish.clone()), V5);
        let Ok(PacketRef::Publish(p)) = decode(V5, &wire) else {
            panic!("a PUBLISH")
        };
        let owned: &PublishProperties = &publish.properties;
        let props = p.properties;
        prop_assert_eq!(props.payload_format_indicator(), owned.payload_format_indicator);
        prop_assert_eq!(props.message_expiry_interval(), owned.message_expiry_interval);
        prop_assert_eq!(props.topic_alias(), owned.topic_alias);
        prop_assert_eq!(props.response_topic(), owned.response_topic.as_ref().map(TopicName::as_str));
        prop_assert_eq!(props.correlation_data(), owned.correlation_data.as_deref());
        prop_assert_eq!(props.content_type(), owned.content_type.as_deref());
        let users: Vec<UserProperty> = props
            .user_properties()
            .map(|(name, value)| UserProperty {
                name: name.try_into().expect("valid"),
                value: value.try_into().expect("valid"),
            })
            .collect();
        prop_assert_eq!(&users, &owned.user_properties);
        prop_assert_eq!(
            props.subscription_identifiers().collect::<Vec<_>>(),
            owned.subscription_identifiers.clone()
        );
        // Properties a PUBLISH cannot carry read as absent.
        prop_assert_eq!(props.receive_maximum(), None);
        prop_assert_eq!(props.iter().count(), props.into_iter().count());
    }
}

fn id(n: u16) -> PacketId {
    PacketId::new(n).expect("non-zero")
}

#[test]
fn publish_topic_and_payload_are_slices_of_the_input() {
    let publish = Publish::with_qos(
        TopicName::from_static("sensors/kitchen").unwrap(),
        &b"21.5"[..],
        QoS::AtLeastOnce,
        id(7),
    );
    for version in [V311, V5] {
        let wire = encode(&Packet::Publish(publish.clone()), version);
        let Ok(PacketRef::Publish(p)) = decode(version, &wire) else {
            panic!("a PUBLISH")
        };
        assert_eq!(
            (p.topic, p.payload, p.qos, p.packet_id),
            (
                "sensors/kitchen",
                &b"21.5"[..],
                QoS::AtLeastOnce,
                Some(id(7))
            )
        );
        let range = wire.as_ptr_range();
        assert!(range.contains(&p.topic.as_ptr()) && range.contains(&p.payload.as_ptr()));
        assert_eq!(p.to_owned(), publish);
    }
}

#[test]
fn incomplete_packets_are_none_until_their_last_byte() {
    let wire = encode(&Packet::PubAck(PubAck::new(id(3))), V311);
    for cut in 0..wire.len() {
        assert_eq!(
            decode_packet_ref(&wire[..cut], V311, MAX_PACKET_SIZE),
            Ok(None)
        );
    }
    let Some((PacketRef::PubAck(ack), 4)) =
        decode_packet_ref(&wire, V311, MAX_PACKET_SIZE).unwrap()
    else {
        panic!("a PUBACK of 4 bytes")
    };
    assert_eq!(ack.packet_id, id(3));
}

#[test]
fn oversized_packet_is_refused_from_its_fixed_header() {
    // A PUBLISH announcing 1,000 bytes of body, of which 3 bytes arrived.
    let head = [0x30, 0xe8, 0x07];
    assert_eq!(
        decode_packet_ref(&head, V311, 100),
        Err(DecodeError::PacketTooLarge {
            size: 1_003,
            max: 100
        })
    );
}

#[test]
fn mqtt_1_5_5_1_remaining_length_must_be_minimal() {
    assert_eq!(
        decode_packet_ref(&[0xc0, 0x80, 0x00], V311, MAX_PACKET_SIZE),
        Err(DecodeError::NonMinimalVarInt)
    );
}

#[test]
fn mqtt_2_2_2_2_reserved_flags_are_refused() {
    // PUBREL must have flags 0010.
    assert_eq!(
        decode(V311, &frame(0x60, &[0x00, 0x01])),
        Err(DecodeError::InvalidHeaderFlags {
            packet: PacketType::PubRel,
            flags: 0
        })
    );
}

#[test]
fn mqtt_3_3_1_4_qos_3_is_refused() {
    assert_eq!(
        decode(V311, &frame(0x36, &[0x00, 0x01, b'a', 0x00, 0x01])),
        Err(DecodeError::InvalidQoS)
    );
}

#[test]
fn mqtt_3_3_1_2_dup_at_qos_0_is_refused() {
    assert_eq!(
        decode(V311, &frame(0x38, &[0x00, 0x01, b'a'])),
        Err(DecodeError::DupWithQoS0)
    );
}

#[test]
fn mqtt_3_3_2_2_wildcard_in_a_topic_name_is_refused() {
    for topic in [&b"a/+"[..], b"#", b"a/#/b"] {
        let mut body = vec![0x00, topic.len() as u8];
        body.extend_from_slice(topic);
        assert_eq!(
            decode(V311, &frame(0x30, &body)),
            Err(DecodeError::InvalidTopicName(TopicError::WildcardInName)),
            "{topic:?}"
        );
    }
}

#[test]
fn mqtt_1_5_4_1_and_2_topic_must_be_utf8_without_null() {
    assert_eq!(
        decode(V311, &frame(0x30, &[0x00, 0x02, 0xc3, 0x28])),
        Err(DecodeError::InvalidUtf8)
    );
    // An encoded surrogate (U+D800) is not well-formed UTF-8.
    assert_eq!(
        decode(V311, &frame(0x30, &[0x00, 0x03, 0xed, 0xa0, 0x80])),
        Err(DecodeError::InvalidUtf8)
    );
    assert_eq!(
        decode(V311, &frame(0x30, &[0x00, 0x02, b'a', 0x00])),
        Err(DecodeError::NullCharacter)
    );
}

#[test]
fn mqtt_2_3_1_1_packet_identifier_zero_is_refused() {
    assert_eq!(
        decode(V311, &frame(0x32, &[0x00, 0x01, b'a', 0x00, 0x00])),
        Err(DecodeError::ZeroPacketId)
    );
    assert_eq!(
        decode(V311, &frame(0x40, &[0x00, 0x00])),
        Err(DecodeError::ZeroPacketId)
    );
}

#[test]
fn mqtt_4_7_3_1_empty_topic_needs_a_topic_alias() {
    assert_eq!(
        decode(V311, &frame(0x30, &[0x00, 0x00])),
        Err(DecodeError::EmptyTopicWithoutAlias)
    );
    assert_eq!(
        decode(V5, &frame(0x30, &[0x00, 0x00, 0x00])),
        Err(DecodeError::EmptyTopicWithoutAlias)
    );
    // v5 §3.3.2.3.4: with Topic Alias 5 the topic may be empty.
    let wire = frame(0x30, &[0x00, 0x00, 0x03, 0x23, 0x00, 0x05]);
    let Ok(PacketRef::Publish(p)) = decode(V5, &wire) else {
        panic!("a PUBLISH")
    };
    assert_eq!(p.topic, "");
    assert_eq!(p.properties.topic_alias().map(|a| a.get()), Some(5));
}

#[test]
fn properties_are_checked_per_packet() {
    // Topic Alias (0x23) in a PUBACK: not an acknowledgement property.
    assert_eq!(
        decode(
            V5,
            &frame(0x40, &[0x00, 0x01, 0x00, 0x03, 0x23, 0x00, 0x01])
        ),
        Err(DecodeError::PropertyNotAllowed {
            id: PropertyId::TopicAlias,
            context: "acknowledgement"
        })
    );
    // Message Expiry Interval twice in a PUBLISH.
    let twice = [0x00, 0x01, b'a', 0x0a, 0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2];
    assert_eq!(
        decode(V5, &frame(0x30, &twice)),
        Err(DecodeError::DuplicateProperty(
            PropertyId::MessageExpiryInterval
        ))
    );
    // Identifier 0x7f is not a property.
    assert_eq!(
        decode(V5, &frame(0x30, &[0x00, 0x01, b'a', 0x01, 0x7f])),
        Err(DecodeError::UnknownProperty(0x7f))
    );
    // Topic Alias 0 is a Protocol Error (§3.3.2.3.4).
    assert_eq!(
        decode(
            V5,
            &frame(0x30, &[0x00, 0x01, b'a', 0x03, 0x23, 0x00, 0x00])
        ),
        Err(DecodeError::InvalidPropertyValue(PropertyId::TopicAlias))
    );
    // A property list longer than the packet.
    assert_eq!(
        decode(
            V5,
            &frame(0x30, &[0x00, 0x01, b'a', 0x05, 0x23, 0x00, 0x01])
        ),
        Err(DecodeError::UnexpectedEnd)
    );
}

#[test]
fn properties_iterate_in_wire_order() {
    // PUBLISH: User Property ("k", "v"), Message Expiry Interval 60, User Property ("k", "w").
    let list = [
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', 0x02, 0x00, 0x00, 0x00, 0x3c, 0x26, 0x00, 0x01,
        b'k', 0x00, 0x01, b'w',
    ];
    let mut body = vec![0x00, 0x01, b'a', list.len() as u8];
    body.extend_from_slice(&list);
    body.extend_from_slice(b"payload");
    let wire = frame(0x30, &body);
    let Ok(PacketRef::Publish(p)) = decode(V5, &wire) else {
        panic!("a PUBLISH")
    };
    assert_eq!(
        p.properties.iter().collect::<Vec<_>>(),
        [
            PropertyRef::UserProperty("k", "v"),
            PropertyRef::MessageExpiryInterval(60),
            PropertyRef::UserProperty("k", "w"),
        ]
    );
    assert_eq!(p.properties.message_expiry_interval(), Some(60));
    assert_eq!(p.payload, b"payload");
    let owned = p.to_owned();
    assert_eq!(owned.properties.message_expiry_interval, Some(60));
    assert_eq!(owned.properties.user_properties.len(), 2);
}

#[test]
fn mqtt_3_8_3_3_subscribe_needs_a_filter() {
    assert_eq!(
        decode(V311, &frame(0x82, &[0x00, 0x01])),
        Err(DecodeError::NoTopicFilters(PacketType::Subscribe))
    );
    assert_eq!(
        decode(V311, &frame(0xa2, &[0x00, 0x01])),
        Err(DecodeError::NoTopicFilters(PacketType::Unsubscribe))
    );
}

#[test]
fn mqtt_3_8_3_4_no_local_on_a_shared_subscription_is_refused_in_v5() {
    let mut body = vec![0x00, 0x01, 0x00, 0x00, 0x0a];
    body.extend_from_slice(b"$share/g/t");
    body.push(0x04); // No Local
    assert_eq!(
        decode(V5, &frame(0x82, &body)),
        Err(DecodeError::NoLocalOnSharedSubscription)
    );
}

#[test]
fn subscribe_filters_and_options_are_read_in_order() {
    let mut body = vec![0x00, 0x09];
    for (f, o) in [(&b"a/+"[..], 1u8), (b"$share/g/b/#", 2)] {
        body.extend_from_slice(&[0x00, f.len() as u8]);
        body.extend_from_slice(f);
        body.push(o);
    }
    let wire = frame(0x82, &body);
    let Ok(PacketRef::Subscribe(s)) = decode(V311, &wire) else {
        panic!("a SUBSCRIBE")
    };
    let filters: Vec<_> = s.filters().collect();
    assert_eq!(filters.len(), 2);
    assert_eq!(filters[0].0.as_str(), "a/+");
    assert_eq!(filters[0].1, SubscriptionOptions::qos(QoS::AtLeastOnce));
    assert_eq!(filters[1].0.share_group(), Some("g"));
    assert_eq!(filters[1].0.filter(), "b/#");
    assert!(filters[1].0.to_owned().is_shared());
    // MQTT-4.7.1-2: '#' only as the last level.
    let bad = [0x00, 0x01, 0x00, 0x03, b'#', b'/', b'a', 0x00];
    assert_eq!(
        decode(V311, &frame(0x82, &bad)),
        Err(DecodeError::InvalidTopicFilter(
            TopicError::MisplacedMultiLevelWildcard
        ))
    );
}

#[test]
fn mqtt_3_9_3_2_suback_codes_of_3_1_1() {
    let wire = frame(0x90, &[0x00, 0x01, 0x00, 0x80]);
    let Ok(PacketRef::SubAck(s)) = decode(V311, &wire) else {
        panic!("a SUBACK")
    };
    assert_eq!(
        s.reasons.iter().collect::<Vec<_>>(),
        [SubAckReason::GrantedQoS0, SubAckReason::UnspecifiedError]
    );
    // 0x83 (Implementation specific error) exists only in MQTT 5.
    assert_eq!(
        decode(V311, &frame(0x90, &[0x00, 0x01, 0x83])),
        Err(DecodeError::InvalidReasonCode {
            packet: PacketType::SubAck,
            code: 0x83
        })
    );
}

#[test]
fn mqtt_3_1_2_3_connect_reserved_flag_is_refused() {
    let body = [
        0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x01, 0x00, 0x3c, 0x00, 0x00,
    ];
    assert_eq!(
        decode(V311, &frame(0x10, &body)),
        Err(DecodeError::ConnectReservedFlag)
    );
    // Without the reserved bit: a CONNECT with an empty client identifier.
    let mut ok = body;
    ok[7] = 0x02;
    let wire = frame(0x10, &ok);
    let Ok(PacketRef::Connect(c)) = decode(V311, &wire) else {
        panic!("a CONNECT")
    };
    assert_eq!(
        (c.protocol, c.clean_start, c.keep_alive, c.client_id),
        (V311, true, 60, "")
    );
}

#[test]
fn connect_debug_never_shows_the_password() {
    let body = [
        0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0xc0, 0x00, 0x3c, 0x00, 0x00, 0x00, 0x01, b'u',
        0x00, 0x06, b's', b'e', b'c', b'r', b'e', b't',
    ];
    let wire = frame(0x10, &body);
    let Ok(PacketRef::Connect(c)) = decode(V311, &wire) else {
        panic!("a CONNECT")
    };
    assert_eq!(c.password, Some(&b"secret"[..]));
    assert!(!format!("{c:?}").contains("secret"));
}

#[test]
fn trailing_bytes_in_a_packet_are_refused() {
    assert_eq!(
        decode(V311, &frame(0xc0, &[0x00])),
        Err(DecodeError::TrailingBytes(1))
    );
}

#[test]
fn packet_ref_converts_with_into() {
    let wire = [0xd0, 0x00];
    let (packet, _) = decode_packet_ref(&wire, V311, MAX_PACKET_SIZE)
        .unwrap()
        .unwrap();
    assert_eq!(packet.packet_id(), None);
    assert_eq!(Packet::from(packet), Packet::PingResp);
}
