//! The seed corpus in `fuzz/seeds/<target>/`: valid packets of every type,
//! built with the encoder, so that fuzzing starts from packets that decode;
//! and session files written by the client's writer (`session_file`).
//!
//! `cargo test` (in `fuzz/`) checks that the files match what the encoder
//! produces and that every seed passes the target's checks; after changing
//! this file, regenerate them with `SANSMQTT_WRITE_SEEDS=1 cargo test`.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::{Bytes, BytesMut};
use sansmqtt_proto::{
    Auth, AuthProperties, AuthReason, ConnAck, ConnAckProperties, Connect, ConnectProperties,
    ConnectReason, Disconnect, DisconnectProperties, DisconnectReason, LastWill, MaximumQoS,
    MqttString, Packet, PacketId, PayloadFormat, ProtocolVersion, PubAck, PubAckReason, PubComp,
    PubCompReason, PubRec, PubRecReason, PubRel, PubRelReason, Publish, QoS, RetainHandling,
    SubAck, SubAckReason, Subscribe, SubscriptionId, SubscriptionOptions, TopicFilter, TopicName,
    UnsubAck, UnsubAckReason, Unsubscribe, UserProperty, WillProperties,
};

use ProtocolVersion::{V3_1, V3_1_1, V5};

/// One seed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// The fuzz target (directory under `fuzz/seeds/`).
    pub target: &'static str,
    /// The file name.
    pub name: &'static str,
    /// The contents.
    pub data: Vec<u8>,
}

fn s(v: &str) -> MqttString {
    MqttString::try_from(v).unwrap()
}

fn topic(v: &str) -> TopicName {
    TopicName::try_from(v).unwrap()
}

fn filter(v: &str) -> TopicFilter {
    TopicFilter::try_from(v).unwrap()
}

fn id(v: u16) -> PacketId {
    PacketId::new(v).unwrap()
}

fn user(name: &str, value: &str) -> UserProperty {
    UserProperty {
        name: s(name),
        value: s(value),
    }
}

/// The concatenated encoding of `packets` (each CONNECT in its own version).
fn wire(version: ProtocolVersion, packets: &[Packet]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    for p in packets {
        let v = match p {
            Packet::Connect(c) => c.protocol,
            _ => version,
        };
        p.encode(v, &mut buf).unwrap();
    }
    buf.to_vec()
}

/// A `decode_*` seed: the split byte (half the stream) then the stream.
fn stream_seed(
    target: &'static str,
    name: &'static str,
    version: ProtocolVersion,
    packets: &[Packet],
) -> Seed {
    let stream = wire(version, packets);
    let mut data = vec![(stream.len() / 2).min(255) as u8];
    data.extend_from_slice(&stream);
    Seed { target, name, data }
}

fn connect_v311_full() -> Connect {
    let mut c = Connect::new(V3_1_1, s("sensor-17"));
    c.clean_start = false;
    c.keep_alive = 30;
    let mut will = LastWill::new(topic("devices/sensor-17/status"), &b"offline"[..]);
    will.qos = QoS::AtLeastOnce;
    will.retain = true;
    c.will = Some(will);
    c.username = Some(s("user"));
    c.password = Some(Bytes::from_static(b"secret"));
    c
}

fn connect_v31() -> Connect {
    let mut c = Connect::new(V3_1, s("legacy"));
    c.username = Some(s("u"));
    c
}

fn connect_v5_props() -> Connect {
    let mut c = Connect::new(V5, s(""));
    c.properties = ConnectProperties {
        session_expiry_interval: Some(3600),
        receive_maximum: NonZeroU16::new(20),
        maximum_packet_size: NonZeroU32::new(65_536),
        topic_alias_maximum: Some(10),
        request_response_information: Some(true),
        request_problem_information: Some(false),
        authentication_method: Some(s("SCRAM-SHA-1")),
        authentication_data: Some(Bytes::from_static(b"client-first")),
        user_properties: vec![user("k", "v"), user("k", "v2")],
    }
    .into();
    // MQTT 5 allows a password without a user name.
    c.password = Some(Bytes::from_static(b"token"));
    c
}

fn connect_v5_will() -> Connect {
    let mut c = Connect::new(V5, s("w"));
    let mut will = LastWill::new(topic("last/will"), &b"bye"[..]);
    will.qos = QoS::ExactlyOnce;
    will.properties = WillProperties {
        will_delay_interval: Some(5),
        payload_format_indicator: Some(PayloadFormat::Utf8),
        message_expiry_interval: Some(60),
        content_type: Some(s("text/plain")),
        response_topic: Some(topic("reply/here")),
        correlation_data: Some(Bytes::from_static(b"\x01\x02")),
        user_properties: vec![user("a", "b")],
    }
    .into();
    c.will = Some(will);
    c.username = Some(s("user"));
    c
}

fn connack_v5_props() -> ConnAck {
    let mut c = ConnAck::new(true, ConnectReason::Success);
    c.properties = ConnAckProperties {
        session_expiry_interval: Some(0),
        receive_maximum: NonZeroU16::new(100),
        maximum_qos: Some(MaximumQoS::AtLeastOnce),
        retain_available: Some(false),
        maximum_packet_size: NonZeroU32::new(1 << 20),
        assigned_client_identifier: Some(s("auto-1")),
        topic_alias_maximum: Some(5),
        reason_string: Some(s("welcome")),
        wildcard_subscription_available: Some(true),
        subscription_identifier_available: Some(true),
        shared_subscription_available: Some(false),
        server_keep_alive: Some(120),
        response_information: Some(s("resp/")),
        server_reference: Some(s("other:1883")),
        authentication_method: Some(s("SCRAM-SHA-1")),
        authentication_data: Some(Bytes::from_static(b"server-final")),
        user_properties: vec![user("x", "y")],
    }
    .into();
    c
}

fn publish_v5_props() -> Publish {
    let mut p = Publish::with_qos(
        topic("a/b/c"),
        &b"{\"t\":21.5}"[..],
        QoS::AtLeastOnce,
        id(9),
    );
    p.retain = true;
    p.properties.payload_format_indicator = Some(PayloadFormat::Utf8);
    p.properties.message_expiry_interval = Some(30);
    p.properties.topic_alias = NonZeroU16::new(3);
    p.properties.response_topic = Some(topic("resp/a"));
    p.properties.correlation_data = Some(Bytes::from_static(b"corr"));
    p.properties.content_type = Some(s("application/json"));
    p.properties.user_properties = vec![user("u", "1")];
    p.properties.subscription_identifiers = vec![
        SubscriptionId::new(1).unwrap(),
        SubscriptionId::new(300).unwrap(),
    ];
    p
}

/// A v5 PUBLISH with an empty topic name and a topic alias (raw bytes: the
/// API only builds an empty topic name through decoding).
fn publish_v5_alias_only() -> Vec<u8> {
    vec![0x30, 0x08, 0x00, 0x00, 0x03, 0x23, 0x00, 0x03, b'h', b'i']
}

fn subscribe_v311() -> Subscribe {
    let mut s = Subscribe::new(
        id(1),
        filter("sensors/+/temp"),
        SubscriptionOptions::qos(QoS::AtLeastOnce),
    );
    s.filters.push((
        filter("alerts/#"),
        SubscriptionOptions::qos(QoS::ExactlyOnce),
    ));
    s.filters.push((
        filter("$SYS/broker/uptime"),
        SubscriptionOptions::qos(QoS::AtMostOnce),
    ));
    s
}

fn subscribe_v5() -> Subscribe {
    let mut s = Subscribe::new(
        id(2),
        filter("a/+"),
        SubscriptionOptions {
            qos: QoS::ExactlyOnce,
            no_local: true,
            retain_as_published: true,
            retain_handling: RetainHandling::DoNotSend,
        },
    );
    s.filters.push((
        filter("$share/group/b/#"),
        SubscriptionOptions {
            qos: QoS::AtLeastOnce,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::SendAtSubscribeIfNew,
        },
    ));
    s.properties.subscription_identifier = SubscriptionId::new(268_435_455);
    s.properties.user_properties = vec![user("p", "q")];
    s
}

fn suback_v5() -> SubAck {
    SubAck {
        packet_id: id(2),
        reasons: vec![
            SubAckReason::GrantedQoS2,
            SubAckReason::SharedSubscriptionsNotSupported,
            SubAckReason::GrantedQoS0,
        ],
        properties: sansmqtt_proto::AckProperties {
            reason_string: Some(s("partly")),
            user_properties: vec![user("r", "s")],
        }
        .into(),
    }
}

fn unsubscribe(v5: bool) -> Unsubscribe {
    let mut u = Unsubscribe {
        packet_id: id(3),
        filters: vec![filter("sensors/+/temp"), filter("alerts/#")],
        properties: Default::default(),
    };
    if v5 {
        u.properties.user_properties = vec![user("why", "done")];
    }
    u
}

fn unsuback_v5() -> UnsubAck {
    UnsubAck {
        packet_id: id(3),
        reasons: vec![
            UnsubAckReason::Success,
            UnsubAckReason::NoSubscriptionExisted,
        ],
        properties: Default::default(),
    }
}

fn acks_v5() -> Vec<Packet> {
    let mut puback = PubAck::with_reason(id(9), PubAckReason::NoMatchingSubscribers);
    puback.properties.reason_string = Some(s("nobody"));
    puback.properties.user_properties = vec![user("a", "1")];
    vec![
        puback.into(),
        PubRec::with_reason(id(10), PubRecReason::QuotaExceeded).into(),
        PubRel::with_reason(id(11), PubRelReason::PacketIdentifierNotFound).into(),
        PubComp::with_reason(id(12), PubCompReason::PacketIdentifierNotFound).into(),
        PubAck::new(id(13)).into(),
    ]
}

fn disconnect_v5() -> Disconnect {
    let mut d = Disconnect::new(DisconnectReason::SessionTakenOver);
    d.properties = DisconnectProperties {
        session_expiry_interval: Some(10),
        reason_string: Some(s("bye")),
        server_reference: Some(s("elsewhere")),
        user_properties: vec![user("k", "v")],
    }
    .into();
    d
}

fn auth_v5() -> Auth {
    Auth {
        reason: AuthReason::ContinueAuthentication,
        properties: AuthProperties {
            authentication_method: Some(s("SCRAM-SHA-1")),
            authentication_data: Some(Bytes::from_static(b"server-first")),
            reason_string: Some(s("continue")),
            user_properties: vec![],
        }
        .into(),
    }
}

fn session_v311() -> Vec<Packet> {
    vec![
        Connect::new(V3_1_1, s("c1")).into(),
        ConnAck::new(false, ConnectReason::Success).into(),
        subscribe_v311().into(),
        SubAck {
            packet_id: id(1),
            reasons: vec![
                SubAckReason::GrantedQoS1,
                SubAckReason::UnspecifiedError,
                SubAckReason::GrantedQoS0,
            ],
            properties: Default::default(),
        }
        .into(),
        Publish::with_qos(topic("sensors/k/temp"), &b"20"[..], QoS::ExactlyOnce, id(5)).into(),
        PubRec::new(id(5)).into(),
        Packet::PingReq,
        Packet::PingResp,
        Disconnect::default().into(),
    ]
}

fn session_v5() -> Vec<Packet> {
    vec![
        connect_v5_props().into(),
        Auth::default().into(),
        connack_v5_props().into(),
        subscribe_v5().into(),
        suback_v5().into(),
        publish_v5_props().into(),
        Disconnect::new(DisconnectReason::NormalDisconnection).into(),
    ]
}

/// The `driver` target's seeds: option bytes, then operations (see
/// [`crate::driver`]) that connect, publish at each QoS, subscribe, take
/// messages, lose and resume the connection.
fn driver_seeds() -> Vec<Seed> {
    use crate::driver::op::*;
    let seed = |name, data: &[u8]| Seed {
        target: "driver",
        name,
        data: data.to_vec(),
    };
    vec![
        seed(
            "v311_publish_ack",
            &[
                0x20, 0x0f, CONNACK, 0, PUBLISH, 0x01, ACK, 0, PUBLISH, 0x16, b'p', ACK, 0, ACK, 0,
                PUBLISH, 0x00, TIME, 20,
            ],
        ),
        seed(
            "v311_subscribe_deliver",
            &[
                0x44, 0x0f, CONNACK, 0, SUBSCRIBE, 0x04, ACK, 0x10, PUBLISH_IN, 0x01, 3, b'a',
                b'b', b'c', TAKE, ACK, 0, PUBLISH_IN, 0x02, 1, b'z', ACK, 0, ACK, 0, PINGRESP,
                SUBSCRIBE, 0x80, ACK, 0, TIME, 60, PINGRESP,
            ],
        ),
        seed(
            "v5_resume",
            &[
                0x23, 0x3f, CONNACK, 0, PUBLISH, 0x01, PUBLISH, 0x02, ACK, 1, EOF, TIME, 30,
                CONNACK, 1, ACK, 0, ACK, 0, ACK, 0, CALL, 1, CALL, 2, CONNACK, 1,
            ],
        ),
        seed(
            "v5_refused_and_failures",
            &[
                0x61,
                0x5f,
                REFUSE,
                1,
                TIME,
                30,
                CONNACK,
                0,
                PUBLISH,
                0x01,
                ACK,
                0x80,
                BLOCK,
                PUBLISH,
                0x00,
                BLOCK,
                FAIL,
                TIME,
                40,
                CONNACK,
                0,
                DISCONNECT_IN,
                1,
                TIME,
                40,
                RAW,
                2,
                0x20,
                0x02,
                CALL,
                0,
            ],
        ),
    ]
}

/// Every seed file.
pub fn seeds() -> Vec<Seed> {
    let t = "decode_v311";
    let mut out = vec![
        stream_seed(
            t,
            "connect_min",
            V3_1_1,
            &[Connect::new(V3_1_1, s("client")).into()],
        ),
        stream_seed(
            t,
            "connect_will_auth",
            V3_1_1,
            &[connect_v311_full().into()],
        ),
        stream_seed(t, "connect_v31", V3_1_1, &[connect_v31().into()]),
        stream_seed(
            t,
            "connack",
            V3_1_1,
            &[
                ConnAck::new(true, ConnectReason::Success).into(),
                ConnAck::new(false, ConnectReason::NotAuthorized).into(),
            ],
        ),
        stream_seed(
            t,
            "publish_qos0",
            V3_1_1,
            &[Publish::at_most_once(topic("t"), &b"hello"[..]).into()],
        ),
        stream_seed(
            t,
            "publish_qos1_dup",
            V3_1_1,
            &[{
                let mut p =
                    Publish::with_qos(topic("a/b"), &b"\x00\xff"[..], QoS::AtLeastOnce, id(42));
                p.dup = true;
                p.into()
            }],
        ),
        stream_seed(
            t,
            "publish_qos2_retain",
            V3_1_1,
            &[{
                let mut p =
                    Publish::with_qos(topic("$SYS/x"), Bytes::new(), QoS::ExactlyOnce, id(65_535));
                p.retain = true;
                p.into()
            }],
        ),
        stream_seed(
            t,
            "acks",
            V3_1_1,
            &[
                PubAck::new(id(1)).into(),
                PubRec::new(id(2)).into(),
                PubRel::new(id(2)).into(),
                PubComp::new(id(2)).into(),
            ],
        ),
        stream_seed(t, "subscribe", V3_1_1, &[subscribe_v311().into()]),
        stream_seed(
            t,
            "unsubscribe_unsuback",
            V3_1_1,
            &[
                unsubscribe(false).into(),
                UnsubAck {
                    packet_id: id(3),
                    reasons: vec![],
                    properties: Default::default(),
                }
                .into(),
            ],
        ),
        stream_seed(
            t,
            "ping_disconnect",
            V3_1_1,
            &[
                Packet::PingReq,
                Packet::PingResp,
                Disconnect::default().into(),
            ],
        ),
        stream_seed(t, "session", V3_1_1, &session_v311()),
    ];

    let t = "decode_v5";
    out.extend([
        stream_seed(t, "connect_props", V5, &[connect_v5_props().into()]),
        stream_seed(t, "connect_will", V5, &[connect_v5_will().into()]),
        stream_seed(t, "connack_props", V5, &[connack_v5_props().into()]),
        stream_seed(
            t,
            "connack_refused",
            V5,
            &[ConnAck::new(false, ConnectReason::Banned).into()],
        ),
        stream_seed(t, "publish_props", V5, &[publish_v5_props().into()]),
        stream_seed(
            t,
            "publish_qos0",
            V5,
            &[Publish::at_most_once(topic("t"), &b"hello"[..]).into()],
        ),
        Seed {
            target: t,
            name: "publish_alias_only",
            data: [&[5u8][..], &publish_v5_alias_only()].concat(),
        },
        stream_seed(t, "acks", V5, &acks_v5()),
        stream_seed(t, "subscribe", V5, &[subscribe_v5().into()]),
        stream_seed(t, "suback", V5, &[suback_v5().into()]),
        stream_seed(
            t,
            "unsubscribe_unsuback",
            V5,
            &[unsubscribe(true).into(), unsuback_v5().into()],
        ),
        stream_seed(t, "disconnect", V5, &[disconnect_v5().into()]),
        stream_seed(t, "auth", V5, &[auth_v5().into(), Auth::default().into()]),
        stream_seed(t, "ping", V5, &[Packet::PingReq, Packet::PingResp]),
        stream_seed(t, "session", V5, &session_v5()),
    ]);

    let t = "roundtrip";
    let raw = |name, version, packets: &[Packet]| Seed {
        target: t,
        name,
        data: wire(version, packets),
    };
    out.extend([
        raw("session_v311", V3_1_1, &session_v311()),
        raw("session_v5", V5, &session_v5()),
        raw("connect_v31", V3_1, &[connect_v31().into()]),
        raw("connect_will_v5", V5, &[connect_v5_will().into()]),
        raw(
            "connack_v3_codes",
            V3_1_1,
            &[
                ConnAck::new(false, ConnectReason::UnsupportedProtocolVersion).into(),
                ConnAck::new(false, ConnectReason::ClientIdentifierNotValid).into(),
                ConnAck::new(false, ConnectReason::ServerUnavailable).into(),
                ConnAck::new(false, ConnectReason::BadUserNameOrPassword).into(),
            ],
        ),
        raw("acks_v5", V5, &acks_v5()),
        raw(
            "unsub_v5",
            V5,
            &[unsubscribe(true).into(), unsuback_v5().into()],
        ),
        raw(
            "disconnect_auth_v5",
            V5,
            &[disconnect_v5().into(), auth_v5().into()],
        ),
        Seed {
            target: t,
            name: "publish_alias_only",
            data: publish_v5_alias_only(),
        },
    ]);
    out.extend(driver_seeds());
    out.extend(
        crate::session_file::seed_files()
            .into_iter()
            .map(|(name, data)| Seed {
                target: "session_file",
                name,
                data,
            }),
    );
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::{VERSIONS, check_roundtrip_input, check_stream, decode_chunks};

    /// The targets whose seeds this module generates (other targets may
    /// keep their own seeds in `fuzz/seeds/`: left alone).
    const TARGETS: [&str; 5] = [
        "decode_v311",
        "decode_v5",
        "driver",
        "roundtrip",
        "session_file",
    ];

    fn dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds")
    }

    fn on_disk() -> BTreeMap<(String, String), Vec<u8>> {
        let mut files = BTreeMap::new();
        for target in TARGETS {
            for file in std::fs::read_dir(dir().join(target)).into_iter().flatten() {
                let file = file.unwrap();
                files.insert(
                    (target.to_owned(), file.file_name().into_string().unwrap()),
                    std::fs::read(file.path()).unwrap(),
                );
            }
        }
        files
    }

    fn generated() -> BTreeMap<(String, String), Vec<u8>> {
        seeds()
            .into_iter()
            .map(|s| ((s.target.to_owned(), s.name.to_owned()), s.data))
            .collect()
    }

    #[test]
    fn seed_files_match_the_encoder() {
        let want = generated();
        assert_eq!(want.len(), seeds().len(), "duplicate seed names");
        assert!(want.keys().all(|(t, _)| TARGETS.contains(&t.as_str())));
        if std::env::var_os("SANSMQTT_WRITE_SEEDS").is_some() {
            for target in TARGETS {
                let _ = std::fs::remove_dir_all(dir().join(target));
            }
            for ((target, name), data) in &want {
                std::fs::create_dir_all(dir().join(target)).unwrap();
                std::fs::write(dir().join(target).join(name), data).unwrap();
            }
        }
        assert!(
            on_disk() == want,
            "fuzz/seeds is stale: regenerate with SANSMQTT_WRITE_SEEDS=1 cargo test (in fuzz/)"
        );
    }

    #[test]
    fn seeds_are_valid_and_pass_the_checks() {
        for seed in seeds() {
            match seed.target {
                "decode_v311" | "decode_v5" => {
                    let version = if seed.target == "decode_v5" {
                        ProtocolVersion::V5
                    } else {
                        ProtocolVersion::V3_1_1
                    };
                    let out = decode_chunks(version, [&seed.data[1..]]);
                    assert_eq!(
                        (out.error, out.buffered),
                        (None, 0),
                        "{}/{}",
                        seed.target,
                        seed.name
                    );
                    assert!(!out.packets.is_empty());
                    check_stream(&seed.data, version);
                }
                "roundtrip" => {
                    let decodes = VERSIONS.iter().any(|&v| {
                        let out = decode_chunks(v, [&seed.data[..]]);
                        out.error.is_none() && out.buffered == 0
                    });
                    assert!(decodes, "{}", seed.name);
                    check_roundtrip_input(&seed.data);
                }
                "session_file" => crate::session_file::check_session_file(&seed.data),
                "driver" => crate::driver::check_driver(&seed.data),
                other => panic!("unknown target {other}"),
            }
        }
    }
}
