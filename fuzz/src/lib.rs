//! The checks behind the fuzz targets of `sansmqtt-proto`, and the seed
//! corpus they start from. The `session` target's check, on
//! `sansmqtt-session`, is [`session::check_session`]; the `session_file`
//! target's, on the client's session files, [`session_file::check_session_file`].
//!
//! The targets in `fuzz_targets/` are one-liners calling [`check_stream`] or
//! [`check_roundtrip_input`]; keeping the checks here lets `cargo test` (in
//! this directory) run them over the seeds without libFuzzer.
//!
//! Invariants asserted, for any input:
//!
//! - nothing panics, and memory stays bounded by [`MAX_PACKET_SIZE`];
//! - the streaming [`Decoder`] gives the same packets and the same final
//!   outcome whether the bytes arrive at once, in two chunks or one by one;
//! - a decoder stopped for more bytes never has a complete packet waiting;
//! - `Packet::decode` of exactly one frame agrees with the streaming decoder;
//! - every packet the decoder accepts encodes (`encoded_len` == bytes written,
//!   nothing written on error), and decoding that encoding gives the same
//!   packet, whose encoding is byte for byte the same again;
//! - the encoding plus one byte is `TrailingBytes(1)`, minus one byte
//!   `UnexpectedEnd`; a PUBLISH head from `encode_without_payload` plus its
//!   payload is its encoding;
//! - ([`check_roundtrip_input`]) a packet that encodes for another protocol
//!   version decodes back to the same packet in that version.

pub mod driver;
mod input;
pub mod seeds;
pub mod session;
pub mod session_file;

use bytes::{Bytes, BytesMut};
use sansmqtt_proto::{
    DecodeError, Decoder, EncodeError, Packet, ProtocolVersion, decode_packet, peek_header,
};

/// The maximum packet size of the decoders under test: bounds memory.
pub const MAX_PACKET_SIZE: u32 = 1 << 20;

/// Every protocol version.
pub const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

/// What a streaming decoder made of a byte stream.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The packets decoded, in order.
    pub packets: Vec<Packet>,
    /// The error that ended decoding; `None` if it stopped for more bytes.
    pub error: Option<DecodeError>,
    /// Bytes left in the decoder when it stopped for more bytes (0 after an error).
    pub buffered: usize,
}

/// Feeds `chunks` one after the other to a fresh decoder, decoding after
/// each until it needs more bytes or fails.
pub fn decode_chunks<'a>(
    version: ProtocolVersion,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Outcome {
    let mut decoder = Decoder::new(version).with_max_packet_size(MAX_PACKET_SIZE);
    let mut packets = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk);
        loop {
            match decoder.decode() {
                Ok(Some(p)) => packets.push(p),
                Ok(None) => break,
                Err(error) => {
                    return Outcome {
                        packets,
                        error: Some(error),
                        buffered: 0,
                    };
                }
            }
        }
        // Stopped for more bytes: a complete packet cannot be waiting.
        assert_ne!(
            decoder.missing(),
            Some(0),
            "decoder stopped on a complete packet"
        );
    }
    Outcome {
        packets,
        error: None,
        buffered: decoder.buffered(),
    }
}

/// The `decode_v311` / `decode_v5` check: `data[0]` chooses a split point,
/// `data[1..]` is the stream.
pub fn check_stream(data: &[u8], version: ProtocolVersion) {
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    let whole = decode_chunks(version, [stream]);
    let at = usize::from(split) % (stream.len() + 1);
    let (a, b) = stream.split_at(at);
    assert_eq!(decode_chunks(version, [a, b]), whole, "split at {at}");
    assert_eq!(
        decode_chunks(version, stream.chunks(1)),
        whole,
        "byte by byte"
    );
    for packet in &whole.packets {
        check_packet(packet, version);
    }
}

/// The `roundtrip` check: the input is a stream decoded with each version;
/// each complete frame is decoded both with `Packet::decode` and the
/// streaming `decode_packet`, and each accepted packet is round-tripped in
/// its version and in every other version that can encode it.
pub fn check_roundtrip_input(data: &[u8]) {
    for version in VERSIONS {
        let mut buf = BytesMut::from(data);
        loop {
            let header = match peek_header(&buf, version, MAX_PACKET_SIZE) {
                Ok(Some(h)) if buf.len() >= h.total => h,
                _ => break,
            };
            let frame = Bytes::copy_from_slice(&buf[..header.total]);
            let direct = Packet::decode(frame, version);
            let streamed = decode_packet(&mut buf, version, MAX_PACKET_SIZE)
                .map(|p| p.expect("a complete frame decodes to a packet or an error"));
            assert_eq!(
                direct, streamed,
                "Packet::decode and decode_packet disagree"
            );
            let Ok(packet) = streamed else {
                break;
            };
            check_packet(&packet, version);
            check_other_versions(&packet);
        }
    }
}

/// The version a decoded packet is encoded with: a CONNECT carries its own
/// (any decoder reads any CONNECT, a server learns the version from it).
pub fn encoding_version(packet: &Packet, decoded_with: ProtocolVersion) -> ProtocolVersion {
    match packet {
        Packet::Connect(c) => c.protocol,
        _ => decoded_with,
    }
}

/// Encodes after some junk already in the buffer, checking `encoded_len`
/// against what `encode` wrote, and that nothing is written on error.
pub fn encode_checked(packet: &Packet, version: ProtocolVersion) -> Result<Bytes, EncodeError> {
    const JUNK: &[u8] = b"junk";
    let len = packet.encoded_len(version);
    let mut buf = BytesMut::from(JUNK);
    let written = packet.encode(version, &mut buf);
    match (len, written) {
        (Ok(len), Ok(n)) => {
            assert_eq!(n, len, "encode and encoded_len disagree for {packet:?}");
            assert_eq!(buf.len(), JUNK.len() + n, "encode returned a wrong length");
            assert_eq!(&buf[..JUNK.len()], JUNK, "encode overwrote the buffer");
            Ok(buf.split_off(JUNK.len()).freeze())
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "encode and encoded_len fail differently");
            assert_eq!(&buf[..], JUNK, "encode wrote bytes and failed");
            Err(a)
        }
        (len, written) => {
            panic!("encoded_len {len:?} but encode {written:?} for {packet:?} in {version:?}")
        }
    }
}

/// Round trip of a packet decoded with `version`.
pub fn check_packet(packet: &Packet, version: ProtocolVersion) {
    let v = encoding_version(packet, version);
    let bytes = encode_checked(packet, v)
        .unwrap_or_else(|e| panic!("decoded with {version:?} but not encodable: {e}: {packet:?}"));
    let again = Packet::decode(bytes.clone(), version)
        .unwrap_or_else(|e| panic!("own encoding {bytes:x?} rejected: {e}: {packet:?}"));
    assert_eq!(
        &again, packet,
        "round trip changed the packet, wire {bytes:x?}"
    );
    let mut stream = BytesMut::from(&bytes[..]);
    assert_eq!(
        decode_packet(&mut stream, version, sansmqtt_proto::MAX_PACKET_SIZE),
        Ok(Some(again.clone())),
        "streaming decode of own encoding"
    );
    assert!(stream.is_empty(), "streaming decode left bytes");
    assert_eq!(
        encode_checked(&again, v).ok(),
        Some(bytes.clone()),
        "encoding not stable"
    );
    if let Packet::Publish(p) = packet {
        // The vectored form: the head, then the payload as it is.
        let mut head = BytesMut::new();
        let total = p
            .encode_without_payload(v, &mut head)
            .expect("head of an encodable PUBLISH");
        assert_eq!(total, bytes.len(), "encode_without_payload size");
        assert_eq!(
            [&head[..], &p.payload[..]].concat(),
            &bytes[..],
            "head + payload"
        );
    }

    let mut longer = BytesMut::from(&bytes[..]);
    longer.extend_from_slice(&[0]);
    assert_eq!(
        Packet::decode(longer.freeze(), version),
        Err(DecodeError::TrailingBytes(1))
    );
    assert_eq!(
        Packet::decode(bytes.slice(..bytes.len() - 1), version),
        Err(DecodeError::UnexpectedEnd)
    );
}

/// A packet that encodes for a version decodes back to itself in it.
pub fn check_other_versions(packet: &Packet) {
    for v in VERSIONS {
        if let Ok(bytes) = encode_checked(packet, v) {
            let again = Packet::decode(bytes.clone(), v).unwrap_or_else(|e| {
                panic!("encoded for {v:?} as {bytes:x?} but rejected: {e}: {packet:?}")
            });
            assert_eq!(&again, packet, "changed by a round trip through {v:?}");
        }
    }
}
