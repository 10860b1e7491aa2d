//! Profiling loop (not a benchmark): `valgrind --tool=callgrind` on
//! `session_prof out|in1|in2` counts instructions per message of a session flow.

use std::hint::black_box;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use sansmqtt_proto::{ConnAck, ConnectReason, PacketId, ProtocolVersion, Publish, QoS, TopicName};
use sansmqtt_session::{Instant, Session, SessionOptions};

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let n = 100_000usize;
    let now = Instant::from_secs(1); // simulated time
    let mut o = SessionOptions::new("prof".try_into().expect("id"));
    o.keep_alive = Duration::ZERO;
    let mut s = Session::new(o);
    s.connect(now).expect("connect");
    while s.poll_transmit().is_some() {}
    let mut buf = BytesMut::new();
    ConnAck::new(false, ConnectReason::Success)
        .encode(ProtocolVersion::V3_1_1, &mut buf)
        .expect("connack");
    s.handle_input(&buf, now);
    while s.poll_event().is_some() {}
    let topic = TopicName::from_static("bench/topic/0001").expect("topic");
    let window = 164;
    let qos = if mode == "in2" {
        QoS::ExactlyOnce
    } else {
        QoS::AtLeastOnce
    };
    let mut input = BytesMut::new();
    for i in 0..n {
        let id = (i % window + 1) as u16;
        match mode.as_str() {
            "out" => {
                let p = Publish::with_qos(topic.clone(), &[0x5a; 64][..], qos, PacketId::MIN);
                black_box(s.publish(p, now).expect("publish"));
                while let Some(b) = s.poll_transmit() {
                    black_box(b);
                }
                input.put_slice(&[0x40, 2, (id >> 8) as u8, id as u8]);
            }
            _ => {
                let p = Publish::with_qos(
                    topic.clone(),
                    &[0x5a; 64][..],
                    qos,
                    PacketId::new(id).expect("id"),
                );
                p.encode(ProtocolVersion::V3_1_1, &mut input)
                    .expect("encode");
                if qos == QoS::ExactlyOnce {
                    input.put_slice(&[0x62, 2, (id >> 8) as u8, id as u8]);
                }
            }
        }
        s.handle_input(&input, now);
        input.clear();
        while let Some(e) = s.poll_event() {
            black_box(e);
        }
        while let Some(b) = s.poll_transmit() {
            black_box(b);
        }
    }
}
