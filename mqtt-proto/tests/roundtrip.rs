//! Property tests of the codec on generated packets and arbitrary bytes.
//!
//! - (a) every packet type, every version: `encode` then `Packet::decode`
//!   gives the packet back, `encoded_len` is the number of bytes written and
//!   the encoder reserves the exact size once;
//! - (b) a stream of packets split at arbitrary points (down to one byte at a
//!   time) comes out of the [`Decoder`] unchanged and in order;
//! - (c) arbitrary and mutated bytes give the same outcome whether fed whole or
//!   in pieces, and never panic;
//! - (d) arbitrary bytes never make `Packet::decode` panic, and whatever it
//!   accepts encodes again and decodes to the same packet.

mod common;

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use sansmqtt_proto::{
    DecodeError, Decoder, EncodeError, MAX_PACKET_SIZE, Packet, PacketType, ProtocolVersion,
    decode_packet, peek_header,
};

use common::{encode, version, versioned, versioned_packets, wire_version};

// ---------------------------------------------------------------------------
// (a) Round trip of single packets.

/// Encodes, checks the lengths and the single exact reservation, decodes.
fn check_roundtrip(version: ProtocolVersion, packet: &Packet) -> Result<(), TestCaseError> {
    let v = wire_version(packet, version);
    let len = packet
        .encoded_len(v)
        .map_err(|e| TestCaseError::fail(format!("encoded_len refused {packet:?}: {e}")))?;

    // Into an empty buffer: the capacity is exactly what one reservation of
    // `len` bytes gives, so the encoder neither reserved less and grew, nor
    // reserved twice.
    let mut buf = BytesMut::new();
    let written = packet
        .encode(v, &mut buf)
        .map_err(|e| TestCaseError::fail(format!("encode refused {packet:?}: {e}")))?;
    prop_assert_eq!(written, len, "encode's return value vs encoded_len");
    prop_assert_eq!(buf.len(), len, "bytes written vs encoded_len");
    let mut probe = BytesMut::new();
    probe.reserve(len);
    prop_assert_eq!(
        buf.capacity(),
        probe.capacity(),
        "one reservation of the exact size"
    );

    // Into a buffer with exactly `len` bytes free: no reallocation at all.
    let mut exact = BytesMut::with_capacity(len);
    let ptr = exact.as_ptr();
    packet.encode(v, &mut exact).expect("encoded once already");
    prop_assert_eq!(
        exact.as_ptr(),
        ptr,
        "the encoder reallocated a buffer that was big enough"
    );
    prop_assert_eq!(&exact[..], &buf[..]);

    // Appending after existing content leaves that content alone.
    let mut appended = BytesMut::from(&b"prefix"[..]);
    prop_assert_eq!(packet.encode(v, &mut appended), Ok(len));
    prop_assert_eq!(&appended[..6], b"prefix");
    prop_assert_eq!(&appended[6..], &buf[..]);

    // The packet structs' own `encode` and `encoded_len` (PUBLISH has a
    // specialised one) agree with `Packet`'s.
    let mut typed = BytesMut::new();
    let typed_result = typed_encode(packet, v, &mut typed);
    prop_assert_eq!(typed_result, (Ok(len), Ok(len)));
    prop_assert_eq!(&typed[..], &buf[..], "typed encode vs Packet::encode");
    prop_assert_eq!(
        typed.capacity(),
        probe.capacity(),
        "typed encode: one exact reservation"
    );

    let decoded = Packet::decode(buf.freeze(), version)
        .map_err(|e| TestCaseError::fail(format!("decode failed on {packet:?}: {e}")))?;
    prop_assert_eq!(&decoded, packet);
    Ok(())
}

/// `encoded_len` and `encode` of the packet's own struct (`Packet`'s for the
/// PINGs, which have none), appending to `buf`.
fn typed_encode(
    packet: &Packet,
    v: ProtocolVersion,
    buf: &mut BytesMut,
) -> (Result<usize, EncodeError>, Result<usize, EncodeError>) {
    macro_rules! both {
        ($p:expr) => {
            ($p.encoded_len(v), $p.encode(v, buf))
        };
    }
    match packet {
        Packet::Connect(p) => both!(p),
        Packet::ConnAck(p) => both!(p),
        Packet::Publish(p) => both!(p),
        Packet::PubAck(p) => both!(p),
        Packet::PubRec(p) => both!(p),
        Packet::PubRel(p) => both!(p),
        Packet::PubComp(p) => both!(p),
        Packet::Subscribe(p) => both!(p),
        Packet::SubAck(p) => both!(p),
        Packet::Unsubscribe(p) => both!(p),
        Packet::UnsubAck(p) => both!(p),
        Packet::Disconnect(p) => both!(p),
        Packet::Auth(p) => both!(p),
        Packet::PingReq | Packet::PingResp => (packet.encoded_len(v), packet.encode(v, buf)),
    }
}

macro_rules! roundtrip_tests {
    ($($name:ident => $kind:ident,)*) => {
        proptest! {
            $(
                #[test]
                fn $name((version, packet) in versioned(PacketType::$kind)) {
                    prop_assert_eq!(packet.packet_type(), PacketType::$kind);
                    check_roundtrip(version, &packet)?;
                }
            )*
        }
    };
}

roundtrip_tests! {
    roundtrip_connect => Connect,
    roundtrip_connack => ConnAck,
    roundtrip_publish => Publish,
    roundtrip_puback => PubAck,
    roundtrip_pubrec => PubRec,
    roundtrip_pubrel => PubRel,
    roundtrip_pubcomp => PubComp,
    roundtrip_subscribe => Subscribe,
    roundtrip_suback => SubAck,
    roundtrip_unsubscribe => Unsubscribe,
    roundtrip_unsuback => UnsubAck,
    roundtrip_pingreq => PingReq,
    roundtrip_pingresp => PingResp,
    roundtrip_disconnect => Disconnect,
    roundtrip_auth => Auth,
}

/// Packets the specification forbids (for the version they are encoded in).
fn invalid_packet() -> impl Strategy<Value = (ProtocolVersion, Packet)> {
    use sansmqtt_proto::{
        Auth, ConnAck, ConnectReason, Disconnect, DisconnectReason, QoS, SubAck, UnsubAck,
        UnsubAckReason, Unsubscribe,
    };
    let v3 = || select(&[ProtocolVersion::V3_1, ProtocolVersion::V3_1_1][..]);
    let publish = |v| common::publish(v).prop_map(move |p| (v, p));
    prop_oneof![
        // DUP on QoS 0 [MQTT-3.3.1-2].
        version().prop_flat_map(publish).prop_map(|(v, mut p)| {
            p.qos = QoS::AtMostOnce;
            p.packet_id = None;
            p.dup = true;
            (v, Packet::from(p))
        }),
        // A packet identifier at QoS 0, or none at QoS > 0 [MQTT-2.2.1-2].
        version().prop_flat_map(publish).prop_map(|(v, mut p)| {
            if p.qos == QoS::AtMostOnce {
                p.packet_id = sansmqtt_proto::PacketId::new(1);
            } else {
                p.packet_id = None;
            }
            (v, Packet::from(p))
        }),
        // An empty topic without a topic alias [MQTT-4.7.3-1].
        version().prop_flat_map(publish).prop_map(|(v, mut p)| {
            p.topic = sansmqtt_proto::TopicName::alias_only();
            p.properties.topic_alias = None;
            (v, Packet::from(p))
        }),
        // PUBLISH properties outside MQTT 5.
        (v3(), common::publish(ProtocolVersion::V5))
            .prop_filter("with properties", |(_, p)| !p.properties.is_empty())
            .prop_map(|(v, p)| (v, Packet::from(p))),
        // A CONNECT encoded for another version than its own.
        (version(), version())
            .prop_filter("different versions", |(a, b)| a != b)
            .prop_flat_map(|(a, b)| (Just(b), common::connect(a).prop_map(Packet::from))),
        // 3.x: a password without a user name [MQTT-3.1.2-22].
        v3().prop_flat_map(|v| (Just(v), common::connect(v), common::binary(4)))
            .prop_map(|(v, mut c, pw)| {
                c.username = None;
                c.password = Some(pw);
                (v, Packet::from(c))
            }),
        // SUBSCRIBE / UNSUBSCRIBE without filters, SUBACK without reasons.
        version()
            .prop_flat_map(|v| (Just(v), common::subscribe(v)))
            .prop_map(|(v, mut s)| {
                s.filters.clear();
                (v, Packet::from(s))
            }),
        version()
            .prop_flat_map(|v| (Just(v), common::unsubscribe(v)))
            .prop_map(|(v, u)| {
                (
                    v,
                    Packet::from(Unsubscribe {
                        filters: Vec::new(),
                        ..u
                    }),
                )
            }),
        version()
            .prop_flat_map(|v| (Just(v), common::suback(v)))
            .prop_map(|(v, s)| {
                (
                    v,
                    Packet::from(SubAck {
                        reasons: Vec::new(),
                        ..s
                    }),
                )
            }),
        // MQTT 5 UNSUBACK without reasons; 3.x UNSUBACK with reasons.
        common::unsuback(ProtocolVersion::V5).prop_map(|u| {
            (
                ProtocolVersion::V5,
                Packet::from(UnsubAck {
                    reasons: Vec::new(),
                    ..u
                }),
            )
        }),
        (v3(), common::unsuback(ProtocolVersion::V3_1_1)).prop_map(|(v, mut u)| {
            u.reasons.push(UnsubAckReason::Success);
            (v, Packet::from(u))
        }),
        // Session present on a refusal [MQTT-3.2.2-4].
        version()
            .prop_flat_map(|v| {
                let refusals: Vec<ConnectReason> = common::connect_reasons(v)
                    .into_iter()
                    .filter(|r| *r != ConnectReason::Success)
                    .collect();
                (Just(v), select(refusals))
            })
            .prop_map(|(v, reason)| (v, Packet::from(ConnAck::new(true, reason)))),
        // No Local on a shared subscription [MQTT-3.8.3-4].
        common::subscribe(ProtocolVersion::V5).prop_map(|mut s| {
            let shared = sansmqtt_proto::TopicFilter::try_from("$share/g/a/+").expect("valid");
            let mut options = sansmqtt_proto::SubscriptionOptions::qos(QoS::AtLeastOnce);
            options.no_local = true;
            s.filters.push((shared, options));
            (ProtocolVersion::V5, Packet::from(s))
        }),
        // MQTT 5 only: AUTH, DISCONNECT reasons, acknowledgement reasons.
        (v3(), common::auth()).prop_map(|(v, a)| (v, Packet::from(a))),
        (v3(), select(&DisconnectReason::ALL[1..]))
            .prop_map(|(v, r)| { (v, Packet::from(Disconnect::new(r))) }),
        (
            v3(),
            common::ack(ProtocolVersion::V5, sansmqtt_proto::PubAckReason::ALL)
        )
            .prop_filter("not success", |(_, a)| {
                a.reason != sansmqtt_proto::PubAckReason::Success || !a.properties.is_empty()
            })
            .prop_map(|(v, a)| (v, Packet::from(a))),
        Just((ProtocolVersion::V3_1_1, Packet::from(Auth::default()))),
    ]
}

proptest! {
    /// (a) What the specification forbids is refused by `encoded_len` and
    /// `encode` alike, with the same error, and nothing is written.
    #[test]
    fn invalid_packets_are_refused_and_nothing_is_written((version, packet) in invalid_packet()) {
        let expected = packet.encoded_len(version);
        prop_assert!(expected.is_err(), "accepted: {:?}", packet);
        let mut buf = BytesMut::from(&b"before"[..]);
        prop_assert_eq!(packet.encode(version, &mut buf), expected.clone());
        prop_assert_eq!(&buf[..], b"before");
        let (len, written) = typed_encode(&packet, version, &mut buf);
        prop_assert_eq!(len, expected.clone());
        prop_assert_eq!(written, expected);
        prop_assert_eq!(&buf[..], b"before");
    }
}

/// Remaining lengths at the boundaries of the Variable Byte Integer sizes
/// (§1.5.5, Table 1-1) give fixed headers of 2 to 5 bytes.
#[test]
fn remaining_length_boundaries() {
    use sansmqtt_proto::{Publish, TopicName};
    let topic = TopicName::from_static("t").expect("valid");
    for remaining in [4usize, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152] {
        // Topic "t" takes 3 bytes of the remaining length at QoS 0.
        for version in common::VERSIONS {
            // MQTT 5 adds the property length (0), one byte.
            let payload = remaining - 3 - usize::from(version.is_v5());
            let publish = Publish::at_most_once(topic.clone(), vec![0xa5; payload]);
            let header = 1 + sansmqtt_proto::var_int_len(remaining as u32);
            let packet = Packet::from(publish.clone());
            assert_eq!(packet.encoded_len(version), Ok(header + remaining));
            let bytes = encode(&packet, version);
            assert_eq!(bytes.len(), header + remaining);
            assert_eq!(
                sansmqtt_proto::parse_var_int(&bytes[1..]),
                Ok(Some((remaining as u32, header - 1)))
            );
            let mut typed = BytesMut::new();
            assert_eq!(publish.encode(version, &mut typed), Ok(header + remaining));
            assert_eq!(&typed[..], &bytes[..]);
            assert_eq!(Packet::decode(bytes.clone(), version), Ok(packet.clone()));
            let mut decoder = Decoder::new(version);
            decoder.feed(&bytes[..header]);
            assert_eq!(decoder.missing(), Some(remaining));
            assert_eq!(decoder.decode(), Ok(None));
            decoder.feed(&bytes[header..]);
            assert_eq!(decoder.decode(), Ok(Some(packet)));
        }
    }
}

// ---------------------------------------------------------------------------
// Splitting a byte stream.

/// How to cut a byte stream into the pieces fed to the decoder.
#[derive(Debug, Clone)]
enum Chunking {
    /// One byte at a time.
    Bytes,
    /// Pieces of these sizes, cycled until the stream is consumed.
    Sizes(Vec<usize>),
}

fn chunking() -> impl Strategy<Value = Chunking> {
    prop_oneof![
        1 => Just(Chunking::Bytes),
        4 => vec(1usize..40, 1..12).prop_map(Chunking::Sizes),
    ]
}

fn pieces<'a>(data: &'a [u8], chunking: &Chunking) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let n = match chunking {
            Chunking::Bytes => 1,
            Chunking::Sizes(sizes) => sizes[i % sizes.len()],
        };
        let (head, tail) = rest.split_at(n.min(rest.len()));
        out.push(head);
        rest = tail;
        i += 1;
    }
    out
}

/// What a decoder made of a byte stream: the packets it produced, then how
/// it stopped (needing more bytes, with this many buffered, or an error).
#[derive(Debug, PartialEq)]
struct Outcome {
    packets: Vec<Packet>,
    end: Result<usize, DecodeError>,
}

/// Feeds `pieces` one after the other, decoding everything possible after
/// each, and stops at the first error.
fn run_decoder<'a>(
    version: ProtocolVersion,
    max_packet_size: u32,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> Outcome {
    let mut decoder = Decoder::new(version).with_max_packet_size(max_packet_size);
    let mut packets = Vec::new();
    for piece in pieces {
        decoder.feed(piece);
        loop {
            match decoder.decode() {
                Ok(Some(p)) => packets.push(p),
                Ok(None) => break,
                Err(e) => {
                    return Outcome {
                        packets,
                        end: Err(e),
                    };
                }
            }
        }
    }
    Outcome {
        packets,
        end: Ok(decoder.buffered()),
    }
}

fn concat(version: ProtocolVersion, packets: &[Packet]) -> Vec<u8> {
    packets
        .iter()
        .flat_map(|p| encode(p, version).to_vec())
        .collect()
}

proptest! {
    /// (b) Valid packets concatenated and split anywhere come out unchanged.
    #[test]
    fn stream_split_anywhere(
        (version, packets) in versioned_packets(6),
        chunking in chunking(),
    ) {
        let wire = concat(version, &packets);
        let outcome = run_decoder(version, MAX_PACKET_SIZE, pieces(&wire, &chunking));
        prop_assert_eq!(outcome, Outcome { packets: packets.clone(), end: Ok(0) });

        // The free function on a caller's buffer, fed the same way.
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in pieces(&wire, &chunking) {
            buf.extend_from_slice(piece);
            while let Some(p) = decode_packet(&mut buf, version, MAX_PACKET_SIZE)
                .map_err(|e| TestCaseError::fail(format!("decode_packet: {e}")))?
            {
                out.push(p);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(out, packets);
    }

    /// (b) A maximum packet size at least as large as every packet changes nothing.
    #[test]
    fn stream_with_max_packet_size_that_fits(
        (version, packets) in versioned_packets(4),
        chunking in chunking(),
    ) {
        let largest = packets
            .iter()
            .map(|p| p.encoded_len(wire_version(p, version)).expect("valid"))
            .max()
            .expect("at least one packet");
        let wire = concat(version, &packets);
        let outcome = run_decoder(version, largest as u32, pieces(&wire, &chunking));
        prop_assert_eq!(outcome, Outcome { packets, end: Ok(0) });
    }
}

proptest! {
    /// Every strict prefix of a packet is incomplete (`UnexpectedEnd` for
    /// `Packet::decode`, waiting for the decoder, which knows how much is
    /// missing once the fixed header is in), bytes after a packet are
    /// `TrailingBytes`, and a maximum packet size one byte too small is
    /// refused from the fixed header alone.
    #[test]
    fn prefixes_trailing_bytes_and_size_limit(
        (version, packet) in common::versioned_packet(),
        cut in any::<proptest::sample::Index>(),
        extra in vec(any::<u8>(), 1..8),
    ) {
        let bytes = encode(&packet, version);
        let header = peek_header(&bytes, version, MAX_PACKET_SIZE)
            .expect("valid header")
            .expect("complete header");
        prop_assert_eq!(header.total, bytes.len());
        let cut = cut.index(bytes.len());

        prop_assert_eq!(
            Packet::decode(bytes.slice(..cut), version),
            Err(DecodeError::UnexpectedEnd)
        );
        let mut decoder = Decoder::new(version);
        decoder.feed(&bytes[..cut]);
        prop_assert_eq!(decoder.decode(), Ok(None));
        prop_assert_eq!(decoder.buffered(), cut);
        if cut >= header.header_len {
            prop_assert_eq!(decoder.missing(), Some(bytes.len() - cut));
        } else {
            prop_assert_eq!(decoder.missing(), None);
        }

        let mut longer = bytes.to_vec();
        longer.extend_from_slice(&extra);
        prop_assert_eq!(
            Packet::decode(Bytes::from(longer.clone()), version),
            Err(DecodeError::TrailingBytes(extra.len()))
        );
        let mut decoder = Decoder::new(version);
        decoder.feed(&longer);
        prop_assert_eq!(decoder.decode(), Ok(Some(packet)));
        prop_assert_eq!(decoder.buffered(), extra.len());

        let max = bytes.len() as u32 - 1;
        let mut decoder = Decoder::new(version).with_max_packet_size(max);
        decoder.feed(&bytes[..header.header_len]);
        prop_assert_eq!(
            decoder.decode(),
            Err(DecodeError::PacketTooLarge { size: bytes.len() as u64, max })
        );
    }
}

// ---------------------------------------------------------------------------
// Arbitrary and mutated bytes.

#[derive(Debug, Clone)]
enum Mutation {
    Xor(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 1u8..=255).prop_map(|(i, b)| Mutation::Xor(i, b)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => any::<usize>().prop_map(Mutation::Remove),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut data: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = data.len();
        match *m {
            Mutation::Insert(i, b) => data.insert(i % (len + 1), b),
            _ if len == 0 => {}
            Mutation::Xor(i, b) => data[i % len] ^= b,
            Mutation::Set(i, b) => data[i % len] = b,
            Mutation::Remove(i) => {
                data.remove(i % len);
            }
            Mutation::Truncate(i) => data.truncate(i % len),
        }
    }
    data
}

/// Bytes that look like the start of a packet: a header byte of a real type,
/// a small remaining length, then anything.
fn header_like() -> impl Strategy<Value = Vec<u8>> {
    (1u8..=15, 0u8..16, 0u8..40, vec(any::<u8>(), 0..48)).prop_map(|(kind, flags, len, body)| {
        let mut v = vec![(kind << 4) | flags, len];
        v.extend(body);
        v
    })
}

/// A version and bytes to decode: random, header-like, or mutated encodings
/// of valid packets.
fn hostile_bytes() -> impl Strategy<Value = (ProtocolVersion, Vec<u8>)> {
    prop_oneof![
        1 => (version(), vec(any::<u8>(), 0..64)),
        1 => (version(), header_like()),
        3 => (versioned_packets(3), vec(mutation(), 1..4)).prop_map(|((v, packets), m)| {
            (v, mutate(concat(v, &packets), &m))
        }),
    ]
}

fn max_packet_size() -> impl Strategy<Value = u32> {
    prop_oneof![3 => Just(MAX_PACKET_SIZE), 1 => 2u32..80]
}

/// Whatever `Packet::decode` accepts is a valid packet: it encodes, and the
/// encoding decodes to the same packet.
fn check_reencodes(version: ProtocolVersion, packet: &Packet) -> Result<(), TestCaseError> {
    let v = wire_version(packet, version);
    let mut buf = BytesMut::new();
    let n = packet.encode(v, &mut buf).map_err(|e| {
        TestCaseError::fail(format!("decoded packet refused by encode: {e}: {packet:?}"))
    })?;
    prop_assert_eq!(n, buf.len());
    let again = Packet::decode(buf.freeze(), version).map_err(|e| {
        TestCaseError::fail(format!(
            "re-encoded packet fails to decode: {e}: {packet:?}"
        ))
    })?;
    prop_assert_eq!(&again, packet);
    Ok(())
}

proptest! {
    /// (c) Fed whole or in arbitrary pieces, the decoder reaches the same
    /// packets and the same end (error, or waiting with the same bytes).
    #[test]
    fn hostile_stream_whole_vs_split(
        (version, data) in hostile_bytes(),
        chunking in chunking(),
        max in max_packet_size(),
    ) {
        let whole = run_decoder(version, max, [&data[..]]);
        let split = run_decoder(version, max, pieces(&data, &chunking));
        prop_assert_eq!(&split, &whole);
        for p in &whole.packets {
            check_reencodes(version, p)?;
        }
    }

    /// (c) The decoder and `Packet::decode` agree on the first packet of a stream.
    #[test]
    fn decoder_agrees_with_packet_decode((version, data) in hostile_bytes()) {
        let mut decoder = Decoder::new(version);
        decoder.feed(&data);
        if let Ok(Some(p)) = decoder.decode() {
            let used = data.len() - decoder.buffered();
            let single = Packet::decode(Bytes::copy_from_slice(&data[..used]), version);
            prop_assert_eq!(single, Ok(p));
        }
    }

    /// (d) `Packet::decode` never panics, and what it accepts round-trips.
    #[test]
    fn packet_decode_never_panics((version, data) in hostile_bytes()) {
        if let Ok(p) = Packet::decode(Bytes::from(data), version) {
            check_reencodes(version, &p)?;
        }
    }

    /// (d) Short random inputs, every version.
    #[test]
    fn packet_decode_random_bytes(data in vec(any::<u8>(), 0..16)) {
        for v in common::VERSIONS {
            if let Ok(p) = Packet::decode(Bytes::copy_from_slice(&data), v) {
                check_reencodes(v, &p)?;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Strings and topic names from the wire, against a reference predicate.

/// Ill-formed UTF-8: a lone continuation byte, an encoded surrogate, an
/// overlong `/`, a truncated three-byte sequence.
const ILL_FORMED: &[&[u8]] = &[&[0x80], &[0xed, 0xa0, 0x80], &[0xc0, 0xaf], &[0xe6, 0xb0]];

/// Bytes that stress string validation: runs longer than the 8-byte blocks
/// of a word-at-a-time check, with ASCII, wildcards, U+0000, separators,
/// multi-byte characters and stray bytes anywhere.
fn string_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        12 => (b'a'..=b'z').prop_map(|b| vec![b]),
        2 => select(&[b'+', b'#', b'/', 0u8, 0x7f, b'$'][..]).prop_map(|b| vec![b]),
        2 => select(&["é", "水", "🦀", "\u{feff}", "\u{10ffff}"][..]).prop_map(|s| s.as_bytes().to_vec()),
        1 => any::<u8>().prop_map(|b| vec![b]),
        1 => select(ILL_FORMED).prop_map(<[u8]>::to_vec),
    ];
    vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

fn with_u16_len(data: &[u8]) -> Vec<u8> {
    let mut v = (data.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(data);
    v
}

fn frame(first: u8, body: &[u8]) -> Bytes {
    let mut v = vec![first];
    let mut n = body.len();
    loop {
        let b = (n % 128) as u8;
        n /= 128;
        v.push(if n > 0 { b | 0x80 } else { b });
        if n == 0 {
            break;
        }
    }
    v.extend_from_slice(body);
    Bytes::from(v)
}

proptest! {
    /// A PUBLISH topic is accepted exactly when it is non-empty, well-formed
    /// UTF-8 without U+0000, `+` or `#`; a client identifier exactly when it
    /// is well-formed UTF-8 without U+0000.
    #[test]
    fn wire_strings_match_reference(data in string_bytes(), v in version()) {
        let utf8 = std::str::from_utf8(&data).is_ok();
        let no_null = !data.contains(&0);

        let publish = frame(0x30, &with_u16_len(&data));
        let valid_topic = !data.is_empty()
            && utf8
            && no_null
            && !data.contains(&b'+')
            && !data.contains(&b'#');
        let mut publish = publish.to_vec();
        if v.is_v5() {
            // An empty property list after the topic.
            publish.push(0);
            publish[1] += 1;
        }
        match Packet::decode(Bytes::from(publish), v) {
            Ok(Packet::Publish(p)) => {
                prop_assert!(valid_topic, "accepted topic {:?}", data);
                prop_assert_eq!(p.topic.as_str().as_bytes(), &data[..]);
            }
            Ok(other) => prop_assert!(false, "not a PUBLISH: {:?}", other),
            Err(e) => prop_assert!(!valid_topic, "refused topic {:?}: {}", data, e),
        }

        let mut body = with_u16_len(v.protocol_name().as_bytes());
        body.extend_from_slice(&[v.level(), 0x02, 0x00, 0x3c]);
        if v.is_v5() {
            body.push(0);
        }
        body.extend_from_slice(&with_u16_len(&data));
        match Packet::decode(frame(0x10, &body), v) {
            Ok(Packet::Connect(c)) => {
                prop_assert!(utf8 && no_null, "accepted client id {:?}", data);
                prop_assert_eq!(c.client_id.as_bytes(), &data[..]);
            }
            Ok(other) => prop_assert!(false, "not a CONNECT: {:?}", other),
            Err(e) => prop_assert!(!(utf8 && no_null), "refused client id {:?}: {}", data, e),
        }
    }
}
