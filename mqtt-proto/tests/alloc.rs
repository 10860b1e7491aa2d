//! Zero-copy decoding, proven with a counting global allocator: decoding a
//! PUBLISH allocates nothing for its topic or payload (both are slices of the
//! received buffer), and nothing at all once the stream buffer is shared.

// The counting allocator needs `unsafe impl GlobalAlloc`; the crate itself forbids unsafe.
#![allow(unsafe_code)]

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use bytes::{Bytes, BytesMut};
use counting_alloc::allocations;
use sansmqtt_proto::{
    Decoder, Packet, PacketId, ProtocolVersion, Publish, QoS, TopicName, decode_packet,
};

fn publish(version: ProtocolVersion, n: u16) -> BytesMut {
    let topic = TopicName::try_from("bench/topic/0001").unwrap();
    let p = Publish::with_qos(
        topic,
        vec![0x5a; 64],
        QoS::AtLeastOnce,
        PacketId::new(n).unwrap(),
    );
    let mut buf = BytesMut::new();
    p.encode(version, &mut buf).unwrap();
    buf
}

// Tests in one file run on several threads; the counter is global, so the
// measurements run in one test, one after the other.
#[test]
fn decoding_publish_does_not_allocate_for_topic_or_payload() {
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        // From a shared `Bytes` holding one packet: no allocation at all.
        let whole: Bytes = publish(version, 1).freeze();
        let shared = whole.clone(); // the buffer is now reference counted
        let before = allocations();
        let packet = Packet::decode(shared, version).unwrap();
        let after = allocations();
        assert_eq!(after - before, 0, "{version:?}: Packet::decode allocated");
        let Packet::Publish(p) = packet else {
            panic!("a PUBLISH")
        };
        // The payload and the topic point into the received buffer.
        let range = whole.as_ptr_range();
        assert!(range.contains(&p.payload.as_ptr()), "payload was copied");
        assert!(
            range.contains(&p.topic.as_str().as_ptr()),
            "topic was copied"
        );

        // A stream of 1,000 PUBLISHes in the decoder's buffer: once the
        // buffer is shared (after the first packet), decoding allocates nothing.
        let mut decoder = Decoder::new(version);
        for n in 1..=1_000 {
            decoder.feed(&publish(version, n));
        }
        let first = decoder.decode().unwrap().unwrap();
        let before = allocations();
        let mut count = 0;
        while let Some(packet) = decoder.decode().unwrap() {
            assert!(matches!(packet, Packet::Publish(_)));
            count += 1;
        }
        let after = allocations();
        assert_eq!(count, 999);
        assert_eq!(after - before, 0, "{version:?}: stream decoding allocated");
        drop(first);

        // The free function on a caller's BytesMut behaves the same.
        let mut buf = BytesMut::new();
        for n in 1..=10 {
            buf.extend_from_slice(&publish(version, n));
        }
        let _first = decode_packet(&mut buf, version, 1 << 20).unwrap().unwrap();
        let before = allocations();
        while decode_packet(&mut buf, version, 1 << 20).unwrap().is_some() {}
        assert_eq!(allocations() - before, 0);
    }
}
