//! The borrowed decoder allocates nothing, proven with a counting global
//! allocator: a stream of PUBLISHes (with MQTT 5 properties too), their
//! properties read through the accessors and the iterator, acknowledgements
//! and a SUBSCRIBE with its filters.

// The counting allocator needs `unsafe impl GlobalAlloc`; the crate itself forbids unsafe.
#![allow(unsafe_code)]

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use std::hint::black_box;

use bytes::BytesMut;
use counting_alloc::allocations;
use sansmqtt_proto::{
    MAX_PACKET_SIZE, Packet, PacketId, PacketRef, ProtocolVersion, PubAck, Publish, QoS, Subscribe,
    SubscriptionOptions, TopicFilter, TopicName, UserProperty, decode_packet_ref,
};

fn id(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

/// 300 PUBLISHes of each QoS, with properties in MQTT 5, a PUBACK after each
/// and a SUBSCRIBE at the end.
fn stream(version: ProtocolVersion) -> Vec<u8> {
    let mut buf = BytesMut::new();
    for n in 1..=300u16 {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let topic = TopicName::try_from("bench/topic/0001").unwrap();
            let mut p = if qos == QoS::AtMostOnce {
                Publish::at_most_once(topic, vec![0x5a; 64])
            } else {
                Publish::with_qos(topic, vec![0x5a; 64], qos, id(n))
            };
            if version.is_v5() {
                p.properties.message_expiry_interval = Some(u32::from(n));
                p.properties.user_properties.push(UserProperty {
                    name: "k".try_into().unwrap(),
                    value: "v".try_into().unwrap(),
                });
            }
            p.encode(version, &mut buf).unwrap();
        }
        Packet::PubAck(PubAck::new(id(n)))
            .encode(version, &mut buf)
            .unwrap();
    }
    let subscribe = Subscribe::new(
        id(1),
        TopicFilter::try_from("$share/g/bench/+/0001").unwrap(),
        SubscriptionOptions::qos(QoS::AtLeastOnce),
    );
    Packet::Subscribe(subscribe)
        .encode(version, &mut buf)
        .unwrap();
    buf.to_vec()
}

// The counter is global: the measurements run in this one test, one after
// the other.
#[test]
fn borrowed_decoding_allocates_nothing() {
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let wire = stream(version);
        let before = allocations();
        let mut rest = &wire[..];
        let (mut publishes, mut acks, mut filters) = (0, 0, 0);
        while let Some((packet, used)) = decode_packet_ref(rest, version, MAX_PACKET_SIZE).unwrap()
        {
            match packet {
                PacketRef::Publish(p) => {
                    publishes += 1;
                    black_box((p.topic, p.payload));
                    black_box(p.properties.message_expiry_interval());
                    black_box(p.properties.user_properties().count());
                    black_box(p.properties.iter().count());
                }
                PacketRef::PubAck(a) => {
                    acks += 1;
                    black_box(a.packet_id);
                }
                PacketRef::Subscribe(s) => {
                    for (filter, options) in s.filters() {
                        filters += 1;
                        black_box((filter.share_group(), filter.filter(), options));
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
            rest = &rest[used..];
        }
        let after = allocations();
        assert_eq!((publishes, acks, filters), (900, 300, 1));
        assert!(rest.is_empty());
        assert_eq!(
            after - before,
            0,
            "{version:?}: the borrowed decoder allocated"
        );
    }
}
