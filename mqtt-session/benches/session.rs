//! Session micro-benchmark: CPU time per message of the protocol core, with
//! rumqttc's `MqttState` measured in the same run on the same flows.
//!
//! Both sides do the whole sans-IO work of one message: rumqttc's state
//! machine plus its codec (what its event loop runs between socket reads
//! and writes), against `Session` fed with bytes and drained of bytes and
//! events. Flows (topic 16 B, payload 64 B, MQTT 3.1.1):
//!
//! - outgoing QoS 1: publish, transmit, PUBACK in, completion out;
//! - incoming QoS 1: PUBLISH in, message out, PUBACK transmitted;
//! - incoming QoS 2: PUBLISH in, message out, PUBREC out, PUBREL in, PUBCOMP out.
//!
//! `cargo bench -p sansmqtt-session --bench session` (`-- --quick` to only run).

use std::hint::black_box;
use std::time::{Duration, Instant};

use sansmqtt_session::Instant as SessionInstant;

use bytes::{BufMut, BytesMut};
use rumqttc::mqttbytes::v4 as r4;
use rumqttc::{Event as REvent, MqttState, Request};
use sansmqtt_proto::{ConnAck, ConnectReason, PacketId, ProtocolVersion, Publish, QoS, TopicName};
use sansmqtt_session::{Session, SessionOptions};

const TOPIC: &str = "bench/topic/0001";
const PAYLOAD: [u8; 64] = [0x5a; 64];
/// Messages per batch (publishes before their acknowledgements arrive).
const BATCH: usize = 10;
const INFLIGHT: u16 = 100;

fn connected_session(now: SessionInstant) -> Session {
    let mut o = SessionOptions::new("bench".try_into().expect("client id"));
    o.max_inflight = INFLIGHT;
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
    s
}

fn ack(kind: u8, id: u16, out: &mut BytesMut) {
    out.put_u8(kind);
    out.put_u8(2);
    out.put_u16(id);
}

fn publish_bytes(qos: QoS, id: u16) -> Vec<u8> {
    let topic = TopicName::from_static(TOPIC).expect("topic");
    let p = Publish::with_qos(topic, &PAYLOAD[..], qos, PacketId::new(id).expect("id"));
    let mut buf = BytesMut::new();
    p.encode(ProtocolVersion::V3_1_1, &mut buf)
        .expect("publish");
    buf.to_vec()
}

/// One sample: `n` messages through a flow; returns elapsed time.
type Flow = fn(usize) -> Duration;

fn ours_out_qos1(n: usize) -> Duration {
    let now = SessionInstant::from_secs(1); // simulated time
    let mut s = connected_session(now);
    let topic = TopicName::from_static(TOPIC).expect("topic");
    let mut acks = BytesMut::with_capacity(BATCH * 4);
    let start = Instant::now();
    for _ in 0..n / BATCH {
        // Every batch is acknowledged in full, so the session starts its
        // identifiers again from 1 (nothing is in flight).
        for i in 0..BATCH {
            let p = Publish::with_qos(topic.clone(), &PAYLOAD[..], QoS::AtLeastOnce, PacketId::MIN);
            black_box(s.publish(p, now).expect("publish"));
            ack(0x40, (i + 1) as u16, &mut acks);
        }
        while let Some(b) = s.poll_transmit() {
            black_box(b);
        }
        s.handle_input(&acks, now);
        acks.clear();
        while let Some(e) = s.poll_event() {
            black_box(e);
        }
    }
    let t = start.elapsed();
    assert_eq!(s.inflight(), 0);
    t
}

fn theirs_out_qos1(n: usize) -> Duration {
    let mut st = MqttState::new(INFLIGHT, false);
    let mut out = BytesMut::with_capacity(BATCH * 100);
    let mut acks = BytesMut::with_capacity(BATCH * 4);
    let mut next_id = 0usize;
    let start = Instant::now();
    for _ in 0..n / BATCH {
        for _ in 0..BATCH {
            let p = r4::Publish::new(TOPIC, rumqttc::QoS::AtLeastOnce, PAYLOAD.to_vec());
            if let Some(pkt) = st
                .handle_outgoing_packet(Request::Publish(p))
                .expect("publish")
            {
                pkt.write(&mut out, usize::MAX).expect("encode");
            }
            ack(
                0x40,
                (next_id % usize::from(INFLIGHT) + 1) as u16,
                &mut acks,
            );
            next_id += 1;
        }
        black_box(out.split());
        while !acks.is_empty() {
            let pkt = r4::Packet::read(&mut acks, usize::MAX).expect("puback");
            if let Some(reply) = st.handle_incoming_packet(pkt).expect("state") {
                reply.write(&mut out, usize::MAX).expect("encode");
            }
        }
        while let Some(e) = st.events.pop_front() {
            black_box(e);
        }
    }
    let t = start.elapsed();
    assert_eq!(st.inflight(), 0);
    t
}

fn incoming_stream(qos: QoS, n: usize) -> Vec<Vec<u8>> {
    (0..n / BATCH)
        .map(|b| {
            (0..BATCH)
                .flat_map(|i| publish_bytes(qos, ((b * BATCH + i) % 65_535 + 1) as u16))
                .collect()
        })
        .collect()
}

fn ours_in(qos: QoS, n: usize) -> Duration {
    let now = SessionInstant::from_secs(1); // simulated time
    let mut s = connected_session(now);
    let batches = incoming_stream(qos, n);
    let mut rels = BytesMut::new();
    let start = Instant::now();
    for (b, batch) in batches.iter().enumerate() {
        s.handle_input(batch, now);
        while let Some(e) = s.poll_event() {
            black_box(e);
        }
        while let Some(out) = s.poll_transmit() {
            black_box(out);
        }
        if qos == QoS::ExactlyOnce {
            for i in 0..BATCH {
                ack(0x62, ((b * BATCH + i) % 65_535 + 1) as u16, &mut rels);
            }
            s.handle_input(&rels, now);
            rels.clear();
            while let Some(out) = s.poll_transmit() {
                black_box(out);
            }
        }
    }
    start.elapsed()
}

fn theirs_in(qos: QoS, n: usize) -> Duration {
    let mut st = MqttState::new(INFLIGHT, false);
    let batches = incoming_stream(qos, n);
    let mut out = BytesMut::with_capacity(BATCH * 8);
    let mut rels = BytesMut::new();
    let start = Instant::now();
    for (b, batch) in batches.iter().enumerate() {
        let mut input = BytesMut::from(&batch[..]);
        while !input.is_empty() {
            let pkt = r4::Packet::read(&mut input, usize::MAX).expect("publish");
            if let Some(reply) = st.handle_incoming_packet(pkt).expect("state") {
                reply.write(&mut out, usize::MAX).expect("encode");
            }
        }
        while let Some(e) = st.events.pop_front() {
            black_box::<REvent>(e);
        }
        black_box(out.split());
        if qos == QoS::ExactlyOnce {
            for i in 0..BATCH {
                ack(0x62, ((b * BATCH + i) % 65_535 + 1) as u16, &mut rels);
            }
            while !rels.is_empty() {
                let pkt = r4::Packet::read(&mut rels, usize::MAX).expect("pubrel");
                if let Some(reply) = st.handle_incoming_packet(pkt).expect("state") {
                    reply.write(&mut out, usize::MAX).expect("encode");
                }
            }
            while let Some(e) = st.events.pop_front() {
                black_box::<REvent>(e);
            }
            black_box(out.split());
        }
    }
    start.elapsed()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // A test runner listing targets (`--list`) finds no tests here.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let (n, samples) = if quick { (100, 2) } else { (20_000, 31) };
    let flows: [(&str, Flow, Flow); 3] = [
        (
            "outgoing QoS 1 (publish + PUBACK)",
            ours_out_qos1,
            theirs_out_qos1,
        ),
        (
            "incoming QoS 1 (PUBLISH + PUBACK)",
            |n| ours_in(QoS::AtLeastOnce, n),
            |n| theirs_in(QoS::AtLeastOnce, n),
        ),
        (
            "incoming QoS 2 (PUBLISH, PUBREC, PUBREL, PUBCOMP)",
            |n| ours_in(QoS::ExactlyOnce, n),
            |n| theirs_in(QoS::ExactlyOnce, n),
        ),
    ];
    println!("sansmqtt-session vs rumqttc 0.25.1 MqttState + mqttbytes, MQTT 3.1.1");
    println!(
        "{n} messages per sample in batches of {BATCH}, {samples} samples per side, alternating{}",
        if quick {
            " (quick: smoke run, not a measurement)"
        } else {
            ""
        }
    );
    println!(
        "| flow | sansmqtt ns/msg (median, min-max) | rumqttc ns/msg (median, min-max) | speed-up |"
    );
    println!("|---|---|---|---|");
    for (name, ours, theirs) in flows {
        ours(n);
        theirs(n);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for s in 0..samples {
            let per = |d: Duration| d.as_secs_f64() * 1e9 / n as f64;
            if s % 2 == 0 {
                a.push(per(ours(n)));
                b.push(per(theirs(n)));
            } else {
                b.push(per(theirs(n)));
                a.push(per(ours(n)));
            }
        }
        let (ma, mb) = (median(&mut a), median(&mut b));
        println!(
            "| {name} | {ma:.1} ({:.1}-{:.1}) | {mb:.1} ({:.1}-{:.1}) | {:.2}x |",
            a[0],
            a[a.len() - 1],
            b[0],
            b[b.len() - 1],
            mb / ma
        );
    }
}
