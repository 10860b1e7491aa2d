//! Codec micro-benchmarks: sansmqtt-proto against rumqttc's mqttbytes (owned
//! decode into `Bytes`, encode) and against mqttrs 0.4 (borrowed decode from a
//! `&[u8]`, the counterpart of `decode_packet_ref`), in the same run, on the
//! same inputs, alternating A B A B. Prints ns per packet (median and
//! min-max), packets per second of the medians, and the throughput ratio
//! (theirs / ours time).
//!
//! `cargo bench -p sansmqtt-proto --bench codec` for the numbers;
//! `-- --quick` only checks that every case still runs (no timing claims).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rumqttc::mqttbytes::v4 as r4;
use rumqttc::v5::mqttbytes::v5 as r5;
use sansmqtt_proto::{
    MAX_PACKET_SIZE, Packet, PacketId, PacketRef, ProtocolVersion, PubAck, PubComp, PubRec, PubRel,
    Publish, QoS, SubAck, SubAckReason, Subscribe, SubscriptionOptions, TopicFilter, TopicName,
    decode_packet, decode_packet_ref,
};

const TOPIC: &str = "bench/topic/0001"; // 16 bytes
const PAYLOAD: [u8; 64] = [0x5a; 64];

type Sample = Box<dyn FnMut() -> Duration>;

struct Case {
    name: String,
    /// The library compared with.
    rival: &'static str,
    ops: usize,
    ours: Sample,
    theirs: Sample,
}

fn id(n: u16) -> PacketId {
    PacketId::new(n).expect("non-zero")
}

fn our_publish(qos: QoS, n: u16) -> Publish {
    let topic = TopicName::from_static(TOPIC).expect("valid topic");
    if qos == QoS::AtMostOnce {
        Publish::at_most_once(topic, &PAYLOAD[..])
    } else {
        Publish::with_qos(topic, &PAYLOAD[..], qos, id(n))
    }
}

fn r4_qos(qos: QoS) -> rumqttc::mqttbytes::QoS {
    match qos {
        QoS::AtMostOnce => rumqttc::mqttbytes::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::mqttbytes::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::mqttbytes::QoS::ExactlyOnce,
    }
}

fn r5_qos(qos: QoS) -> rumqttc::v5::mqttbytes::QoS {
    match qos {
        QoS::AtMostOnce => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
    }
}

fn their_publish4(qos: QoS, n: u16) -> r4::Publish {
    let mut p = r4::Publish::new(TOPIC, r4_qos(qos), PAYLOAD.to_vec());
    if qos != QoS::AtMostOnce {
        p.pkid = n;
    }
    p
}

fn their_publish5(qos: QoS, n: u16) -> r5::Publish {
    let mut p = r5::Publish::new(TOPIC, r5_qos(qos), PAYLOAD.to_vec(), None);
    if qos != QoS::AtMostOnce {
        p.pkid = n;
    }
    p
}

/// The mixed stream of one QoS 1 round, one QoS 2 round, a ping and a subscribe, in both libraries.
fn our_mixed(n: u16) -> Vec<Packet> {
    vec![
        our_publish(QoS::AtLeastOnce, n).into(),
        PubAck::new(id(n)).into(),
        our_publish(QoS::ExactlyOnce, n).into(),
        PubRec::new(id(n)).into(),
        PubRel::new(id(n)).into(),
        PubComp::new(id(n)).into(),
        Packet::PingReq,
        Packet::PingResp,
        Subscribe::new(
            id(n),
            TopicFilter::from_static("bench/+/0001").expect("valid filter"),
            SubscriptionOptions::qos(QoS::AtLeastOnce),
        )
        .into(),
        SubAck {
            packet_id: id(n),
            reasons: vec![SubAckReason::GrantedQoS1],
            properties: Default::default(),
        }
        .into(),
    ]
}

fn their_mixed(n: u16) -> Vec<r4::Packet> {
    vec![
        r4::Packet::Publish(their_publish4(QoS::AtLeastOnce, n)),
        r4::Packet::PubAck(r4::PubAck::new(n)),
        r4::Packet::Publish(their_publish4(QoS::ExactlyOnce, n)),
        r4::Packet::PubRec(r4::PubRec::new(n)),
        r4::Packet::PubRel(r4::PubRel::new(n)),
        r4::Packet::PubComp(r4::PubComp::new(n)),
        r4::Packet::PingReq,
        r4::Packet::PingResp,
        r4::Packet::Subscribe(r4::Subscribe::new(
            "bench/+/0001",
            rumqttc::mqttbytes::QoS::AtLeastOnce,
        )),
        r4::Packet::SubAck(r4::SubAck::new(
            n,
            vec![r4::SubscribeReasonCode::Success(
                rumqttc::mqttbytes::QoS::AtLeastOnce,
            )],
        )),
    ]
}

fn stream_of(packets: &[Packet], version: ProtocolVersion) -> Vec<u8> {
    let mut buf = BytesMut::new();
    for p in packets {
        p.encode(version, &mut buf).expect("encodable");
    }
    buf.to_vec()
}

fn decode_case(name: &str, stream: Vec<u8>, count: usize, version: ProtocolVersion) -> Case {
    let ours_stream = stream.clone();
    let theirs_stream = stream;
    let v5 = version.is_v5();
    Case {
        name: name.to_string(),
        rival: "rumqttc",
        ops: count,
        ours: Box::new(move || {
            let mut buf = BytesMut::from(&ours_stream[..]);
            let start = Instant::now();
            let mut n = 0;
            while let Some(p) = decode_packet(&mut buf, version, MAX_PACKET_SIZE).expect("valid") {
                black_box(p);
                n += 1;
            }
            let t = start.elapsed();
            assert_eq!(n, count);
            t
        }),
        theirs: Box::new(move || {
            let mut buf = BytesMut::from(&theirs_stream[..]);
            let start = Instant::now();
            let mut n = 0;
            while !buf.is_empty() {
                if v5 {
                    black_box(r5::Packet::read(&mut buf, None).expect("valid"));
                } else {
                    black_box(r4::Packet::read(&mut buf, usize::MAX).expect("valid"));
                }
                n += 1;
            }
            let t = start.elapsed();
            assert_eq!(n, count);
            t
        }),
    }
}

/// Borrowed decoding of each packet of a 3.1.1 stream from its own slice
/// (frame boundaries known beforehand, as mqttrs' `decode_slice` does not
/// say how many bytes it read): `decode_packet_ref` against
/// `mqttrs::decode_slice`, the same slices on both sides.
///
/// With `whole`, each decoded packet goes to `black_box` as it is (moved to
/// memory: mqttrs' `Packet` is large); without, only a PUBLISH's topic and
/// payload lengths do, which leaves the compiler free to build no packet at
/// all and times the decoding alone.
fn borrowed_decode_case(name: &str, packets: &[Packet], whole: bool) -> Case {
    let v4 = ProtocolVersion::V3_1_1;
    let stream = stream_of(packets, v4);
    let mut frames = Vec::with_capacity(packets.len());
    let mut at = 0;
    for p in packets {
        let len = p.encoded_len(v4).expect("encodable");
        frames.push(at..at + len);
        at += len;
    }
    let count = frames.len();
    let (ours_stream, ours_frames) = (stream.clone(), frames.clone());
    let (theirs_stream, theirs_frames) = (stream, frames);
    Case {
        name: name.to_string(),
        rival: "mqttrs",
        ops: count,
        ours: Box::new(move || {
            let start = Instant::now();
            let mut bytes = 0;
            for frame in &ours_frames {
                let input = black_box(&ours_stream[frame.clone()]);
                let (packet, used) = decode_packet_ref(input, v4, MAX_PACKET_SIZE)
                    .expect("valid")
                    .expect("complete");
                if whole {
                    black_box(packet);
                } else if let PacketRef::Publish(p) = packet {
                    black_box((p.topic.len(), p.payload.len()));
                }
                bytes += used;
            }
            let t = start.elapsed();
            assert_eq!(bytes, ours_stream.len());
            t
        }),
        theirs: Box::new(move || {
            let start = Instant::now();
            let mut n = 0;
            for frame in &theirs_frames {
                let input = black_box(&theirs_stream[frame.clone()]);
                let packet = mqttrs::decode_slice(input)
                    .expect("valid")
                    .expect("complete");
                if whole {
                    black_box(packet);
                } else if let mqttrs::Packet::Publish(p) = packet {
                    black_box((p.topic_name.len(), p.payload.len()));
                }
                n += 1;
            }
            let t = start.elapsed();
            assert_eq!(n, count);
            t
        }),
    }
}

fn encode_case<A: 'static, B: 'static>(
    name: &str,
    ours: Vec<A>,
    theirs: Vec<B>,
    (bytes_ours, bytes_theirs): (usize, usize),
    mut enc_ours: impl FnMut(&A, &mut BytesMut) + 'static,
    mut enc_theirs: impl FnMut(&B, &mut BytesMut) + 'static,
) -> Case {
    let count = ours.len();
    assert_eq!(count, theirs.len());
    let mut buf_a = BytesMut::with_capacity(bytes_ours);
    let mut buf_b = BytesMut::with_capacity(bytes_theirs);
    Case {
        name: name.to_string(),
        rival: "rumqttc",
        ops: count,
        ours: Box::new(move || {
            buf_a.clear();
            let start = Instant::now();
            for p in &ours {
                enc_ours(p, &mut buf_a);
            }
            let t = start.elapsed();
            assert_eq!(buf_a.len(), bytes_ours);
            t
        }),
        theirs: Box::new(move || {
            buf_b.clear();
            let start = Instant::now();
            for p in &theirs {
                enc_theirs(p, &mut buf_b);
            }
            let t = start.elapsed();
            assert_eq!(buf_b.len(), bytes_theirs);
            t
        }),
    }
}

fn cases(n: usize) -> Vec<Case> {
    let v4 = ProtocolVersion::V3_1_1;
    let v5 = ProtocolVersion::V5;
    let mut cases = Vec::new();
    let ids = || (0..n).map(|i| (i % 65_535 + 1) as u16);

    for (qos, label) in [(QoS::AtMostOnce, "QoS0"), (QoS::AtLeastOnce, "QoS1")] {
        for version in [v4, v5] {
            let vname = if version.is_v5() { "5.0" } else { "3.1.1" };
            let packets: Vec<Packet> = ids().map(|i| our_publish(qos, i).into()).collect();
            let stream = stream_of(&packets, version);
            cases.push(decode_case(
                &format!("decode PUBLISH {label} {vname}"),
                stream.clone(),
                n,
                version,
            ));
            let ours: Vec<Publish> = ids().map(|i| our_publish(qos, i)).collect();
            if version.is_v5() {
                let theirs: Vec<r5::Publish> = ids().map(|i| their_publish5(qos, i)).collect();
                cases.push(encode_case(
                    &format!("encode PUBLISH {label} {vname}"),
                    ours,
                    theirs,
                    (stream.len(), stream.len()),
                    move |p, b| {
                        p.encode(v5, b).expect("encodable");
                    },
                    |p, b| {
                        p.write(b).expect("encodable");
                    },
                ));
            } else {
                let theirs: Vec<r4::Publish> = ids().map(|i| their_publish4(qos, i)).collect();
                cases.push(encode_case(
                    &format!("encode PUBLISH {label} {vname}"),
                    ours,
                    theirs,
                    (stream.len(), stream.len()),
                    move |p, b| {
                        p.encode(v4, b).expect("encodable");
                    },
                    |p, b| {
                        p.write(b).expect("encodable");
                    },
                ));
            }
        }
    }

    // The send path of the client: everything but the payload is encoded,
    // the payload goes to the socket as it is (vectored write).
    let ours: Vec<Publish> = ids().map(|i| our_publish(QoS::AtLeastOnce, i)).collect();
    let theirs: Vec<r4::Publish> = ids().map(|i| their_publish4(QoS::AtLeastOnce, i)).collect();
    let full: usize = ours
        .iter()
        .map(|p| p.encoded_len(v4).expect("encodable"))
        .sum();
    cases.push(encode_case(
        "encode PUBLISH QoS1 3.1.1, payload by reference (vectored) vs copied",
        ours,
        theirs,
        (full - n * PAYLOAD.len(), full),
        move |p, b| {
            p.encode_without_payload(v4, b).expect("encodable");
        },
        |p, b| {
            p.write(b).expect("encodable");
        },
    ));

    // Borrowed decoding against mqttrs (MQTT 3.1.1 only).
    for (qos, label) in [(QoS::AtMostOnce, "QoS0"), (QoS::AtLeastOnce, "QoS1")] {
        let packets: Vec<Packet> = ids().map(|i| our_publish(qos, i).into()).collect();
        cases.push(borrowed_decode_case(
            &format!("decode_packet_ref PUBLISH {label} 3.1.1"),
            &packets,
            true,
        ));
        cases.push(borrowed_decode_case(
            &format!("decode_packet_ref PUBLISH {label} 3.1.1, topic and payload lengths used"),
            &packets,
            false,
        ));
    }
    let acks: Vec<Packet> = ids().map(|i| PubAck::new(id(i)).into()).collect();
    cases.push(borrowed_decode_case(
        "decode_packet_ref PUBACK 3.1.1",
        &acks,
        true,
    ));

    let rounds = n / 10;
    let ours: Vec<Packet> = ids().take(rounds).flat_map(our_mixed).collect();
    let theirs: Vec<r4::Packet> = ids().take(rounds).flat_map(their_mixed).collect();
    let stream = stream_of(&ours, v4);
    cases.push(decode_case(
        "decode mixed stream 3.1.1",
        stream.clone(),
        ours.len(),
        v4,
    ));
    cases.push(encode_case(
        "encode mixed stream 3.1.1",
        ours,
        theirs,
        (stream.len(), stream.len()),
        move |p, b| {
            p.encode(v4, b).expect("encodable");
        },
        |p, b| {
            p.write(b, usize::MAX).expect("encodable");
        },
    ));
    cases
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
    let (n, samples) = if quick { (200, 2) } else { (20_000, 31) };
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    println!("sansmqtt-proto codec vs rumqttc 0.25.1 mqttbytes and mqttrs 0.4.1");
    println!(
        "{} packets per sample, {} samples per side, alternating; topic {} B, payload {} B{}",
        n,
        samples,
        TOPIC.len(),
        PAYLOAD.len(),
        if quick {
            " (quick: smoke run, not a measurement)"
        } else {
            ""
        }
    );
    // What a decoded packet costs to move: both borrowed decoders return it by value.
    println!(
        "decoded packet sizes: sansmqtt PacketRef {} B, Packet {} B; mqttrs Packet {} B",
        std::mem::size_of::<PacketRef<'_>>(),
        std::mem::size_of::<Packet>(),
        std::mem::size_of::<mqttrs::Packet<'_>>(),
    );
    println!(
        "| case | rival | sansmqtt ns/pkt (median, min-max) | rival ns/pkt (median, min-max) | sansmqtt Mpkt/s | rival Mpkt/s | speed-up |"
    );
    println!("|---|---|---|---|---|---|---|");
    for mut case in cases(n) {
        if filter
            .as_ref()
            .is_some_and(|f| !case.name.contains(f.as_str()))
        {
            continue;
        }
        // Warm-up.
        (case.ours)();
        (case.theirs)();
        let mut a = Vec::with_capacity(samples);
        let mut b = Vec::with_capacity(samples);
        for s in 0..samples {
            let per = |d: Duration| d.as_secs_f64() * 1e9 / case.ops as f64;
            if s % 2 == 0 {
                a.push(per((case.ours)()));
                b.push(per((case.theirs)()));
            } else {
                b.push(per((case.theirs)()));
                a.push(per((case.ours)()));
            }
        }
        let (ma, mb) = (median(&mut a), median(&mut b));
        println!(
            "| {} | {} | {:.1} ({:.1}-{:.1}) | {:.1} ({:.1}-{:.1}) | {:.1} | {:.1} | {:.2}x |",
            case.name,
            case.rival,
            ma,
            a[0],
            a[a.len() - 1],
            mb,
            b[0],
            b[b.len() - 1],
            1e3 / ma,
            1e3 / mb,
            mb / ma
        );
    }
}
