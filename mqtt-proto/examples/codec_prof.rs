//! Profiling helper (not a benchmark): decodes or encodes many PUBLISH packets.
use bytes::BytesMut;
use sansmqtt_proto::*;
use std::hint::black_box;
fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let v = if std::env::args().any(|a| a == "v5") {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V3_1_1
    };
    let n = 100_000;
    let topic = TopicName::from_static("bench/topic/0001").unwrap();
    let p = Publish::at_most_once(topic, &[0x5au8; 64][..]);
    let mut stream = BytesMut::new();
    for _ in 0..n {
        p.encode(v, &mut stream).unwrap();
    }
    match mode.as_str() {
        "ours-dec" => {
            let mut b = stream.clone();
            while let Some(x) = decode_packet(&mut b, v, MAX_PACKET_SIZE).unwrap() {
                black_box(x);
            }
        }
        "theirs-dec" => {
            let mut b = stream.clone();
            while !b.is_empty() {
                black_box(rumqttc::mqttbytes::v4::Packet::read(&mut b, usize::MAX).unwrap());
            }
        }
        "ours-enc" => {
            let mut b = BytesMut::with_capacity(stream.len());
            for _ in 0..n {
                black_box(&p).encode(v, &mut b).unwrap();
            }
            black_box(b);
        }
        "theirs-enc" => {
            let q = rumqttc::mqttbytes::v4::Publish::new(
                "bench/topic/0001",
                rumqttc::mqttbytes::QoS::AtMostOnce,
                vec![0x5au8; 64],
            );
            let mut b = BytesMut::with_capacity(stream.len());
            for _ in 0..n {
                black_box(&q).write(&mut b).unwrap();
            }
            black_box(b);
        }
        _ => {}
    }
}
