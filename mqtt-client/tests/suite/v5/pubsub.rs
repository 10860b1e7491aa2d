//! Publish and subscribe at the API in MQTT 5 (issue #14): PUBLISH
//! properties from `PublishOptions` (on the wire, and forwarded by
//! mosquitto to `Message`'s accessors), per-filter subscription options
//! (No Local, Retain As Published, Retain Handling, maximum QoS) for
//! `subscribe_with` and `subscription_with`, SUBSCRIBE / UNSUBSCRIBE user
//! properties, SUBACK / UNSUBACK reasons and properties reaching the
//! caller, shared subscriptions (three consumers splitting 3,000 QoS 1
//! messages on mosquitto; "not available" from a scripted broker), and
//! MQTT 5 options on a 3.1.1 client failing at once.
//!
//! Byte-level checks read the client's packets from the `FakeBroker` and
//! parse them here, by hand, independently of the client's codec.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use sansmqtt::{
    Bytes, Client, ClientError, Config, Message, PayloadFormat, ProtocolVersion, PublishError,
    PublishOptions, QoS, RequestError, RetainHandling, SubAckReason, SubscribeOptions,
    SubscriptionOptions, UnsubAckReason, UnsubscribeOptions,
};

use super::connect;
use crate::Rt;
use crate::runtime::{TestRuntime, blocking, spawn, timeout};
use crate::support::{
    CONNACK_ACCEPTED, FakeBroker, Mosquitto, packet_id, remaining_length, with_fixed_header,
};

/// Deadline of one step.
const T: Duration = Duration::from_secs(10);
/// How long "nothing arrives" is watched for.
const QUIET: Duration = Duration::from_millis(400);

/// CONNACK of MQTT 5: accepted, no session, no properties.
const CONNACK_V5: [u8; 5] = [0x20, 0x03, 0x00, 0x00, 0x00];
/// CONNACK of MQTT 5 with Topic Alias Maximum (0x22) = 2.
const CONNACK_V5_ALIASES_2: [u8; 8] = [0x20, 0x06, 0x00, 0x00, 0x03, 0x22, 0x00, 0x02];
/// CONNACK of MQTT 5 with Shared Subscription Available (0x2A) = 0.
const CONNACK_V5_NO_SHARED: [u8; 7] = [0x20, 0x05, 0x00, 0x00, 0x02, 0x2a, 0x00];

const Q0: QoS = QoS::AtMostOnce;
const Q1: QoS = QoS::AtLeastOnce;
const Q2: QoS = QoS::ExactlyOnce;

fn v5() -> Config {
    Config {
        protocol_version: ProtocolVersion::V5.into(),
        ..Config::default()
    }
}

/// Two MQTT 5 clients of `broker`.
async fn two_clients(broker: &Mosquitto) -> [Client; 2] {
    [
        connect(&broker.uri(), v5()).await,
        connect(&broker.uri(), v5()).await,
    ]
}

/// A client of the fake broker, which answers its CONNECT with `connack`.
async fn connect_fake(fake: &mut FakeBroker, config: Config, connack: &[u8]) -> Client {
    let uri = fake.uri();
    let pending = spawn(async move { Client::connect(Rt::runtime(), &uri, config).await });
    fake.accept(T).expect("the client connects");
    let connect = fake.read_packet(T).expect("CONNECT");
    assert_eq!(connect[0], 0x10, "CONNECT first, got {connect:02x?}");
    fake.write(connack).expect("write CONNACK");
    timeout(T, pending)
        .await
        .expect("connect returns")
        .expect("connected")
}

/// A fake broker and its MQTT 5 client, connected with `connack`.
async fn fake_v5(connack: &[u8]) -> (FakeBroker, Client) {
    let (mut fake, _) = FakeBroker::bind();
    let client = connect_fake(&mut fake, v5(), connack).await;
    (fake, client)
}

async fn next(stream: &mut (impl futures_util::Stream<Item = Message> + Unpin)) -> Message {
    timeout(T, stream.next())
        .await
        .expect("a message in time")
        .expect("the stream is open")
}

async fn nothing_more(stream: &mut (impl futures_util::Stream<Item = Message> + Unpin)) {
    if let Ok(m) = timeout(QUIET, stream.next()).await {
        panic!("nothing expected, got {m:?}");
    }
}

// ------------------------------------------------------ hand-parsed packets

/// A Variable Byte Integer at `b[*at..]`, moving `at` past it.
fn var_int(b: &[u8], at: &mut usize) -> usize {
    let mut value = 0;
    for shift in [0, 7, 14, 21] {
        let byte = b[*at];
        *at += 1;
        value |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
    }
    panic!("malformed Variable Byte Integer in {b:02x?}");
}

fn u16_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

/// Properties as (identifier, raw encoded value) pairs in wire order.
type Props = Vec<(u8, Vec<u8>)>;

/// A property list at `b[*at..]` (length first); `at` moves past it.
fn properties(b: &[u8], at: &mut usize) -> Props {
    let len = var_int(b, at);
    let end = *at + len;
    let mut out = Vec::new();
    while *at < end {
        let id = b[*at];
        *at += 1;
        let start = *at;
        match id {
            // Byte: Payload Format Indicator.
            0x01 => *at += 1,
            // Two Byte Integer: Topic Alias.
            0x23 => *at += 2,
            // Four Byte Integer: Message Expiry Interval.
            0x02 => *at += 4,
            // Variable Byte Integer: Subscription Identifier.
            0x0b => {
                var_int(b, at);
            }
            // UTF-8 string (Content Type, Response Topic, Reason String) or
            // Binary Data (Correlation Data).
            0x03 | 0x08 | 0x1f | 0x09 => *at += 2 + u16_at(b, *at),
            // String pair: User Property.
            0x26 => {
                *at += 2 + u16_at(b, *at);
                *at += 2 + u16_at(b, *at);
            }
            other => panic!("unexpected property 0x{other:02x} in {b:02x?}"),
        }
        out.push((id, b[start..*at].to_vec()));
    }
    assert_eq!(*at, end, "property list length");
    out
}

/// Where the body of `p` starts (after the fixed header).
fn body_start(p: &[u8]) -> usize {
    p.len() - remaining_length(p).expect("a whole packet")
}

/// A length-prefixed string as on the wire.
fn s(text: &str) -> Vec<u8> {
    let mut out = (text.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    out
}

/// A User Property value as on the wire.
fn pair(name: &str, value: &str) -> Vec<u8> {
    let mut out = s(name);
    out.extend(s(value));
    out
}

/// A parsed SUBSCRIBE: packet identifier, properties, (filter, options
/// byte) pairs.
fn parse_subscribe(p: &[u8]) -> (u16, Props, Vec<(String, u8)>) {
    assert_eq!(p[0], 0x82, "SUBSCRIBE, got {p:02x?}");
    let mut at = body_start(p);
    let id = u16_at(p, at) as u16;
    at += 2;
    let props = properties(p, &mut at);
    let mut filters = Vec::new();
    while at < p.len() {
        let len = u16_at(p, at);
        let filter = String::from_utf8(p[at + 2..at + 2 + len].to_vec()).unwrap();
        at += 2 + len;
        filters.push((filter, p[at]));
        at += 1;
    }
    (id, props, filters)
}

/// An MQTT 5 SUBACK or UNSUBACK (`first_byte` 0x90 or 0xb0) for `id` with
/// a Reason String, User Properties and `codes`.
fn ack_v5(first_byte: u8, id: u16, reason: &str, users: &[(&str, &str)], codes: &[u8]) -> Vec<u8> {
    let mut props = vec![0x1f];
    props.extend(s(reason));
    for (n, v) in users {
        props.push(0x26);
        props.extend(pair(n, v));
    }
    assert!(props.len() < 128);
    let mut body = id.to_be_bytes().to_vec();
    body.push(props.len() as u8);
    body.extend(props);
    body.extend_from_slice(codes);
    with_fixed_header(first_byte, &body)
}

// ------------------------------------------------------------- publishing

/// MQTT-3.3.2-x: every PUBLISH property of `PublishOptions` is on the
/// wire as given (identifiers 0x01, 0x02, 0x03, 0x08, 0x09, 0x26), user
/// properties in order with a repeated name kept [MQTT-3.3.2-18]; no topic
/// alias without the server's Topic Alias Maximum [MQTT-3.3.2-8].
/// Outgoing topic aliases (config `outgoing_topic_aliases`) are automatic (MQTT-3.3.2-7: an alias is valid
/// for the connection; MQTT-3.2.2-17: within the broker's Topic Alias
/// Maximum): the first PUBLISH of a topic carries it with a new alias, the
/// next ones the alias alone (an empty topic); past the maximum, the full
/// topic without alias.
#[test]
fn mqtt_3_3_2_7_topic_aliases_are_automatic_within_the_maximum() {
    Rt::block_on(async {
        let (mut fake, _) = FakeBroker::bind();
        let config = Config {
            outgoing_topic_aliases: true,
            ..v5()
        };
        let client = connect_fake(&mut fake, config, &CONNACK_V5_ALIASES_2).await;
        // (topic, the topic expected on the wire, the alias expected)
        let expected: [(&str, &str, Option<u16>); 5] = [
            ("t/a", "t/a", Some(1)),
            ("t/a", "", Some(1)),
            ("t/b", "t/b", Some(2)),
            ("t/c", "t/c", None),
            ("t/b", "", Some(2)),
        ];
        for (topic, wire_topic, alias) in expected {
            timeout(T, client.publish(topic, "x", Q0, false))
                .await
                .expect("in time")
                .expect("written");
            let (p, _) = fake.read_until_type(3, T).expect("PUBLISH");
            let mut at = body_start(&p);
            assert_eq!(
                &p[at..at + 2 + wire_topic.len()],
                &s(wire_topic)[..],
                "{topic}"
            );
            at += 2 + wire_topic.len();
            let props = properties(&p, &mut at);
            let got = props
                .iter()
                .find(|(id, _)| *id == 0x23)
                .map(|(_, v)| u16::from_be_bytes([v[0], v[1]]));
            assert_eq!(got, alias, "{topic}: Topic Alias");
            assert_eq!(&p[at..], b"x");
        }
        client.disconnect().await;
    });
}

#[test]
fn mqtt_3_3_2_publish_properties_on_the_wire() {
    Rt::block_on(async {
        let (mut fake, client) = fake_v5(&CONNACK_V5).await;
        let options = PublishOptions::new()
            .qos(Q0)
            .payload_format(PayloadFormat::Utf8)
            .message_expiry(Duration::from_millis(59_500))
            .content_type("text/plain")
            .response_topic("reply/to")
            .correlation_data(Bytes::from_static(b"\x00\xffid"))
            .user_property("k", "1")
            .user_property("j", "2")
            .user_property("k", "3");
        timeout(T, client.publish_with("t/p", "hello", options))
            .await
            .expect("in time")
            .expect("written");
        let (p, _) = fake.read_until_type(3, T).expect("PUBLISH");
        assert_eq!(p[0], 0x30, "QoS 0, no retain");
        let mut at = body_start(&p);
        assert_eq!(&p[at..at + 5], &s("t/p")[..]);
        at += 5;
        let props = properties(&p, &mut at);
        assert_eq!(&p[at..], b"hello");
        let mut single: HashMap<u8, Vec<u8>> = HashMap::new();
        let mut users = Vec::new();
        for (id, value) in props {
            if id == 0x26 {
                users.push(value);
            } else {
                assert!(single.insert(id, value).is_none(), "0x{id:02x} twice");
            }
        }
        assert_eq!(single[&0x01], [1], "Payload Format Indicator: UTF-8");
        assert_eq!(single[&0x02], 60u32.to_be_bytes(), "expiry rounded up");
        assert_eq!(single[&0x03], s("text/plain"));
        assert_eq!(single[&0x08], s("reply/to"));
        assert_eq!(single[&0x09], [0, 4, 0, 0xff, b'i', b'd']);
        assert_eq!(single.len(), 5, "no other property (no alias): {single:?}");
        assert_eq!(users, [pair("k", "1"), pair("j", "2"), pair("k", "3")]);
        // The same through the packet form: options replace the packet's
        // properties and add user properties after the packet's.
        let mut packet =
            sansmqtt::Publish::at_most_once(sansmqtt::TopicName::try_from("t/q").unwrap(), "x");
        packet.properties.content_type = Some(sansmqtt::MqttString::from_static("old").unwrap());
        packet
            .properties
            .user_properties
            .push(sansmqtt::UserProperty {
                name: sansmqtt::MqttString::from_static("first").unwrap(),
                value: sansmqtt::MqttString::from_static("0").unwrap(),
            });
        let options = PublishOptions::new()
            .content_type("new")
            .user_property("k", "1");
        timeout(T, client.publish_packet_with(packet, options))
            .await
            .unwrap()
            .unwrap();
        let (p, _) = fake.read_until_type(3, T).expect("PUBLISH");
        let mut at = body_start(&p) + 5;
        let props = properties(&p, &mut at);
        assert_eq!(
            props,
            [
                (0x03, s("new")),
                (0x26, pair("first", "0")),
                (0x26, pair("k", "1"))
            ]
        );
    });
}

/// MQTT-3.3.2-x: mosquitto forwards the properties unaltered (Content
/// Type MQTT-3.3.2-20, Response Topic and Correlation Data -15/-16, User
/// Properties in order -17/-18, Payload Format -4), the Message Expiry
/// Interval as what is left of it [MQTT-3.3.2-6]; `Message`'s accessors
/// read them. The value and typed forms carry them too.
#[test]
fn mqtt_3_3_2_publish_properties_reach_the_subscriber() {
    Rt::block_on(async {
        let broker = blocking(|| Mosquitto::start(""));
        let client = connect(&broker.uri(), v5()).await;
        let mut stream = client.subscription("props/#", Q1).await.unwrap();
        let options = PublishOptions::new()
            .qos(Q1)
            .payload_format(PayloadFormat::Utf8)
            .message_expiry(Duration::from_secs(120))
            .content_type("text/plain; charset=utf-8")
            .response_topic("props/reply")
            .correlation_data(vec![1u8, 2, 3])
            .user_property("b", "2")
            .user_property("a", "1")
            .user_property("b", "3");
        client
            .publish_with("props/x", "hello", options.clone())
            .await
            .unwrap();
        let m = next(&mut stream).await;
        assert_eq!(&m.payload()[..], b"hello");
        assert_eq!(m.content_type(), Some("text/plain; charset=utf-8"));
        assert_eq!(m.response_topic().unwrap().as_str(), "props/reply");
        assert_eq!(&m.correlation_data().unwrap()[..], [1, 2, 3]);
        assert!(m.is_utf8());
        assert_eq!(m.payload_format(), Some(PayloadFormat::Utf8));
        let left = m.message_expiry().expect("an expiry");
        assert!(left <= Duration::from_secs(120) && left >= Duration::from_secs(110));
        let users: Vec<(&str, &str)> = m
            .user_properties()
            .iter()
            .map(|u| (u.name.as_str(), u.value.as_str()))
            .collect();
        assert_eq!(users, [("b", "2"), ("a", "1"), ("b", "3")]);
        assert_eq!(m.user_property("b"), Some("2"));
        assert!(!m.subscription_identifiers().is_empty());
        // Without properties: none on the message.
        client.publish("props/bare", "x", Q1, false).await.unwrap();
        let m = next(&mut stream).await;
        assert_eq!(m.content_type(), None);
        assert!(m.user_properties().is_empty());
        assert_eq!(m.message_expiry(), None);
        #[cfg(feature = "payload")]
        {
            let value = sansmqtt::Value::Text("v".into());
            client
                .publish_value_with("props/value", &value, options.clone().codec("utf8"))
                .await
                .unwrap();
            let m = next(&mut stream).await;
            assert_eq!(m.content_type(), Some("text/plain; charset=utf-8"));
            assert_eq!(m.user_properties().len(), 3);
            client
                .publish_typed_with("props/typed", &[1, 2], options.codec("json"))
                .await
                .unwrap();
            let m = next(&mut stream).await;
            assert_eq!(&m.payload()[..], b"[1,2]");
            assert_eq!(&m.correlation_data().unwrap()[..], [1, 2, 3]);
        }
        client.disconnect().await;
    });
}

/// A PUBLISH, SUBSCRIBE or UNSUBSCRIBE with MQTT 5 content on a client
/// speaking 3.1.1 fails at once with a typed error (the codec's
/// `NotInVersion`), and nothing reaches the broker: no property is dropped
/// silently, no call hangs.
#[test]
fn mqtt5_options_on_a_3_1_1_client_fail_at_once() {
    Rt::block_on(async {
        let (mut fake, _) = FakeBroker::bind();
        let config = Config::default();
        assert_eq!(config.protocol_version, ProtocolVersion::V3_1_1);
        let client = connect_fake(&mut fake, config, &CONNACK_ACCEPTED).await;
        let quick = Duration::from_secs(2);
        let r = timeout(
            quick,
            client.publish_with("t", "x", PublishOptions::new().content_type("a/b")),
        )
        .await
        .expect("no hang");
        match r {
            Err(ClientError::Publish(PublishError::Encode(e))) => {
                assert!(e.to_string().contains("not available in"), "{e}");
            }
            other => panic!("expected NotInVersion, got {other:?}"),
        }
        let r = timeout(
            quick,
            client.publish_with("t", "x", PublishOptions::new().user_property("k", "v")),
        )
        .await
        .expect("no hang");
        assert!(
            matches!(r, Err(ClientError::Publish(PublishError::Encode(_)))),
            "{r:?}"
        );
        let no_local = SubscriptionOptions::qos(Q1).no_local(true);
        let r = timeout(
            quick,
            client.subscribe_with(&[("t", no_local)], SubscribeOptions::new()),
        )
        .await
        .expect("no hang");
        assert!(
            matches!(r, Err(ClientError::Request(RequestError::Encode(_)))),
            "{r:?}"
        );
        let users = SubscribeOptions::new().user_property("k", "v");
        let r = timeout(
            quick,
            client.subscribe_with(&[("t", SubscriptionOptions::qos(Q1))], users),
        )
        .await
        .expect("no hang");
        assert!(
            matches!(r, Err(ClientError::Request(RequestError::Encode(_)))),
            "{r:?}"
        );
        let r = timeout(quick, client.subscription_with("t", no_local))
            .await
            .expect("no hang");
        assert!(
            matches!(r, Err(ClientError::Request(RequestError::Encode(_)))),
            "{r:?}"
        );
        let r = timeout(
            quick,
            client.unsubscribe_with(&["t"], UnsubscribeOptions::new().user_property("k", "v")),
        )
        .await
        .expect("no hang");
        assert!(
            matches!(r, Err(ClientError::Request(RequestError::Encode(_)))),
            "{r:?}"
        );
        blocking(|| fake.expect_silence(QUIET)).expect("nothing sent");
        // The 3.1.1 forms still work.
        let pending = {
            let c = client.clone();
            spawn(async move { c.subscribe(&[("t", Q1)]).await })
        };
        let (p, _) = fake.read_until_type(8, T).expect("SUBSCRIBE");
        fake.write(&crate::support::suback(packet_id(&p).unwrap(), &[1]))
            .unwrap();
        assert_eq!(timeout(T, pending).await.unwrap(), Ok(vec![Ok(Q1)]));
    });
}

// ------------------------------------------------------------ subscribing

/// MQTT-3.8.3-1 / §3.8.3.1: the options byte of each filter (maximum QoS
/// bits 0-1, No Local bit 2, Retain As Published bit 3, Retain Handling
/// bits 4-5), the SUBSCRIBE's Subscription Identifier (the client's) and
/// user properties in order [MQTT-3.8.2-x]; the SUBACK's reasons, Reason
/// String and User Properties reach the caller [MQTT-3.9.2-x]. The same
/// for UNSUBSCRIBE / UNSUBACK [MQTT-3.10.2, MQTT-3.11.2-x], and a stream's
/// SUBSCRIBE carries its options.
#[test]
fn mqtt_3_8_3_1_subscription_options_and_properties_on_the_wire() {
    Rt::block_on(async {
        let (mut fake, client) = fake_v5(&CONNACK_V5).await;
        let filters = [
            ("a", SubscriptionOptions::qos(Q1).no_local(true)),
            (
                "b/#",
                SubscriptionOptions::qos(Q2)
                    .retain_as_published(true)
                    .retain_handling(RetainHandling::DoNotSend),
            ),
            (
                "c/+",
                SubscriptionOptions::qos(Q0).retain_handling(RetainHandling::SendAtSubscribeIfNew),
            ),
        ];
        let options = SubscribeOptions::new()
            .user_property("tenant", "x")
            .user_property("tenant", "y");
        let c = client.clone();
        let pending = spawn(async move { c.subscribe_with(&filters, options).await });
        let (p, _) = fake.read_until_type(8, T).expect("SUBSCRIBE");
        let (id, props, sent) = parse_subscribe(&p);
        assert_eq!(
            sent,
            [
                ("a".to_string(), 0x05),
                ("b/#".to_string(), 0x02 | 0x08 | 0x20),
                ("c/+".to_string(), 0x10),
            ]
        );
        assert_eq!(props.len(), 3, "{props:?}");
        assert_eq!(
            props[0].0, 0x0b,
            "the client's Subscription Identifier first"
        );
        assert_eq!(
            &props[1..],
            [(0x26, pair("tenant", "x")), (0x26, pair("tenant", "y"))]
        );
        fake.write(&ack_v5(
            0x90,
            id,
            "c/+ is not allowed",
            &[("why", "policy")],
            &[0x01, 0x02, 0x87],
        ))
        .unwrap();
        let outcome = timeout(T, pending).await.unwrap().unwrap();
        assert_eq!(
            outcome.results,
            [Ok(Q1), Ok(Q2), Err(SubAckReason::NotAuthorized)]
        );
        assert_eq!(outcome.reason_string.as_deref(), Some("c/+ is not allowed"));
        assert_eq!(outcome.user_properties.len(), 1);
        assert_eq!(outcome.user_properties[0].value.as_str(), "policy");
        assert!(!outcome.all_granted());

        // A stream's SUBSCRIBE carries its options.
        let c = client.clone();
        let stream = spawn(async move {
            let options = SubscriptionOptions::qos(Q1)
                .no_local(true)
                .retain_as_published(true)
                .retain_handling(RetainHandling::DoNotSend);
            c.subscription_with("s/+", options).await
        });
        let (p, _) = fake.read_until_type(8, T).expect("SUBSCRIBE");
        let (id, props, sent) = parse_subscribe(&p);
        assert_eq!(sent, [("s/+".to_string(), 0x01 | 0x04 | 0x08 | 0x20)]);
        assert_eq!(props.len(), 1, "a Subscription Identifier only: {props:?}");
        fake.write(&ack_v5(0x90, id, "ok", &[], &[0x01])).unwrap();
        let stream = timeout(T, stream).await.unwrap().expect("the stream");

        // UNSUBSCRIBE: user properties on the wire, UNSUBACK reasons.
        let c = client.clone();
        let pending = spawn(async move {
            let options = UnsubscribeOptions::new()
                .user_property("k", "1")
                .user_property("k", "2");
            c.unsubscribe_with(&["a", "s/+", "b/#", "never"], options)
                .await
        });
        let (p, _) = fake.read_until_type(10, T).expect("UNSUBSCRIBE");
        assert_eq!(p[0], 0xa2);
        let mut at = body_start(&p);
        let id = u16_at(&p, at) as u16;
        at += 2;
        let props = properties(&p, &mut at);
        assert_eq!(props, [(0x26, pair("k", "1")), (0x26, pair("k", "2"))]);
        let mut filters = Vec::new();
        while at < p.len() {
            let len = u16_at(&p, at);
            filters.push(String::from_utf8(p[at + 2..at + 2 + len].to_vec()).unwrap());
            at += 2 + len;
        }
        // "s/+" is used by a live stream: it stays subscribed at the broker.
        assert_eq!(filters, ["a", "b/#", "never"]);
        fake.write(&ack_v5(0xb0, id, "partly", &[], &[0x00, 0x87, 0x11]))
            .unwrap();
        let outcome = timeout(T, pending).await.unwrap().unwrap();
        assert_eq!(
            outcome.results,
            [
                Ok(UnsubAckReason::Success),
                Ok(UnsubAckReason::Success),
                Err(UnsubAckReason::NotAuthorized),
                Ok(UnsubAckReason::NoSubscriptionExisted),
            ]
        );
        assert_eq!(outcome.reason_string.as_deref(), Some("partly"));
        drop(stream);
    });
}

/// MQTT-3.8.3-3: with No Local the broker does not send a client its own
/// publications; other clients' come, and a client without it gets both.
#[test]
fn mqtt_3_8_3_3_no_local() {
    Rt::block_on(async {
        let broker = blocking(|| Mosquitto::start(""));
        let [me, other] = two_clients(&broker).await;
        let no_local = SubscriptionOptions::qos(Q1).no_local(true);
        let mut mine = me.subscription_with("nl/t", no_local).await.unwrap();
        let mut theirs = other.subscription("nl/t", Q1).await.unwrap();
        me.publish("nl/t", "own", Q1, false).await.unwrap();
        other.publish("nl/t", "other", Q1, false).await.unwrap();
        assert_eq!(&next(&mut mine).await.payload()[..], b"other");
        nothing_more(&mut mine).await;
        assert_eq!(&next(&mut theirs).await.payload()[..], b"own");
        assert_eq!(&next(&mut theirs).await.payload()[..], b"other");
        // A stream of the same filter without No Local cannot share the
        // broker subscription: a typed error, nothing changed.
        let r = me.subscription("nl/t", Q0).await;
        match r {
            Err(ClientError::SubscriptionConflict { filter, kept }) => {
                assert_eq!(filter.as_str(), "nl/t");
                assert_eq!(kept, no_local);
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        me.publish("nl/t", "own again", Q1, false).await.unwrap();
        nothing_more(&mut mine).await;
        for c in [me, other] {
            c.disconnect().await;
        }
    });
}

/// MQTT-3.3.1-12 / -13: without Retain As Published a forwarded message
/// has RETAIN 0; with it, RETAIN as published. Streams of one filter must
/// agree (one broker subscription).
#[test]
fn mqtt_3_3_1_12_retain_as_published() {
    Rt::block_on(async {
        let broker = blocking(|| Mosquitto::start(""));
        let [keeps, clears] = two_clients(&broker).await;
        let rap = SubscriptionOptions::qos(Q1).retain_as_published(true);
        let mut kept = keeps.subscription_with("rap/t", rap).await.unwrap();
        let mut cleared = clears.subscription("rap/t", Q1).await.unwrap();
        let r = keeps.subscription("rap/t", Q1).await;
        assert!(
            matches!(r, Err(ClientError::SubscriptionConflict { .. })),
            "{r:?}"
        );
        clears.publish("rap/t", "r", Q1, true).await.unwrap();
        let m = next(&mut kept).await;
        assert!(m.retain(), "-13: as published");
        let m = next(&mut cleared).await;
        assert!(!m.retain(), "-12: RETAIN 0 when forwarded");
        for c in [keeps, clears] {
            c.disconnect().await;
        }
    });
}

/// MQTT-3.3.1-9 / -10 / -11: Retain Handling 0 sends the retained
/// messages at every SUBSCRIBE, 1 only for a new subscription, 2 never;
/// a retained message sent for a subscription has RETAIN 1 [MQTT-3.3.1-8].
#[test]
fn mqtt_3_3_1_9_retain_handling() {
    Rt::block_on(async {
        let broker = blocking(|| Mosquitto::start(""));
        let client = connect(&broker.uri(), v5()).await;
        client.publish("rh/t", "kept", Q1, true).await.unwrap();
        use RetainHandling::{DoNotSend, SendAtSubscribe, SendAtSubscribeIfNew};
        // (Retain Handling, whether the retained message comes, why), in turn
        // on one subscription of "rh/t" (removed after the first step).
        let steps = [
            (DoNotSend, false, "-11: never with 2"),
            (
                SendAtSubscribeIfNew,
                true,
                "-10: a new subscription gets them",
            ),
            (SendAtSubscribeIfNew, false, "-10: an existing one does not"),
            (SendAtSubscribe, true, "-9: at every SUBSCRIBE with 0"),
        ];
        for (n, (rh, comes, why)) in steps.into_iter().enumerate() {
            let filters = [("rh/t", SubscriptionOptions::qos(Q1).retain_handling(rh))];
            let outcome = client
                .subscribe_with(&filters, SubscribeOptions::new())
                .await
                .unwrap();
            assert_eq!(outcome.results, [Ok(Q1)]);
            let got = timeout(QUIET, client.deliver_message()).await;
            if let Ok(Some(m)) = &got {
                assert_eq!(&m.payload()[..], b"kept");
                assert!(m.retain(), "MQTT-3.3.1-8");
            }
            assert_eq!(got.is_ok(), comes, "{why}: {got:?}");
            if n == 0 {
                client.unsubscribe(&["rh/t"]).await.unwrap();
            }
        }
        client.disconnect().await;
    });
}

/// MQTT-3.8.4-6 (maximum QoS): the broker delivers at most the QoS of the
/// subscription; `subscribe_with`'s outcome has the granted QoS and
/// mosquitto's UNSUBACK reasons (0x11 for a filter it did not have).
#[test]
fn mqtt_3_8_4_6_maximum_qos_and_unsuback_reasons_from_mosquitto() {
    Rt::block_on(async {
        let broker = blocking(|| Mosquitto::start(""));
        let client = connect(&broker.uri(), v5()).await;
        let outcome = client
            .subscribe_with(
                &[("mq/low", SubscriptionOptions::qos(Q0))],
                SubscribeOptions::new().user_property("k", "v"),
            )
            .await
            .unwrap();
        assert_eq!(outcome.results, [Ok(Q0)]);
        client.publish("mq/low", "x", Q2, false).await.unwrap();
        let m = timeout(T, client.deliver_message()).await.unwrap().unwrap();
        assert_eq!(m.qos(), Q0, "downgraded to the subscription's QoS");
        let outcome = client
            .unsubscribe_with(&["mq/low", "mq/none"], UnsubscribeOptions::new())
            .await
            .unwrap();
        assert_eq!(
            outcome.results,
            [
                Ok(UnsubAckReason::Success),
                Ok(UnsubAckReason::NoSubscriptionExisted)
            ]
        );
        client.disconnect().await;
    });
}

// --------------------------------------------------- shared subscriptions

/// MQTT-4.8.2: three consumers in one share group split a stream of 3,000
/// QoS 1 messages: every message reaches exactly one of them, each gets
/// some; the messages come on the published topic (routed to the
/// `$share/...` streams by their filter).
#[test]
fn mqtt_4_8_2_shared_subscription_splits_3000_messages() {
    const N: u32 = 3_000;
    Rt::block_on(async {
        let broker = blocking(|| Mosquitto::start(""));
        let mut consumers = Vec::new();
        for _ in 0..3 {
            let c = connect(&broker.uri(), v5()).await;
            let stream = c.subscription("$share/g/shared/+", Q1).await.unwrap();
            consumers.push((c, stream));
        }
        let mut tasks = Vec::new();
        for (c, mut stream) in consumers {
            tasks.push(spawn(async move {
                let mut got = Vec::new();
                // Until the stream stays quiet for 3 s.
                while let Ok(Some(m)) = timeout(Duration::from_secs(3), stream.next()).await {
                    assert_eq!(m.topic().as_str(), "shared/t");
                    assert_eq!(m.qos(), Q1);
                    got.push(
                        std::str::from_utf8(m.payload())
                            .unwrap()
                            .parse::<u32>()
                            .unwrap(),
                    );
                }
                drop(stream);
                c.disconnect().await;
                got
            }));
        }
        let publisher = connect(&broker.uri(), v5()).await;
        let mut publishes = Vec::new();
        for i in 0..N {
            let p = publisher.clone();
            publishes.push(async move { p.publish("shared/t", i.to_string(), Q1, false).await });
        }
        for r in futures_util::future::join_all(publishes).await {
            r.expect("published");
        }
        let mut seen = vec![0u32; N as usize];
        let mut counts = Vec::new();
        for t in tasks {
            let got = timeout(Duration::from_secs(60), t)
                .await
                .expect("consumers end");
            counts.push(got.len());
            for i in got {
                seen[i as usize] += 1;
            }
        }
        let wrong: Vec<_> = (0..N).filter(|&i| seen[i as usize] != 1).collect();
        assert!(wrong.is_empty(), "not exactly once: {wrong:?}");
        assert!(
            counts.iter().all(|&n| n > 0),
            "each consumer gets some: {counts:?}"
        );
        assert_eq!(counts.iter().sum::<usize>(), N as usize);
        publisher.disconnect().await;
    });
}

/// MQTT-3.2.2-x Shared Subscription Available = 0 in CONNACK: a shared
/// subscription fails at once with a typed error, nothing sent (the
/// server would close the connection, 0x9E) [MQTT-3.2.2-21]; plain
/// filters still work.
#[test]
fn shared_subscription_not_available_in_connack_is_a_typed_error() {
    Rt::block_on(async {
        let (mut fake, client) = fake_v5(&CONNACK_V5_NO_SHARED).await;
        let shared = [("$share/g/t", SubscriptionOptions::qos(Q1))];
        let r = timeout(T, client.subscribe_with(&shared, SubscribeOptions::new()))
            .await
            .expect("no hang");
        assert_eq!(
            r,
            Err(ClientError::Request(RequestError::NotSupported(
                "shared subscriptions"
            )))
        );
        let r = timeout(T, client.subscription("$share/g/t", Q1))
            .await
            .expect("no hang");
        assert!(
            matches!(
                r,
                Err(ClientError::Request(RequestError::NotSupported(
                    "shared subscriptions"
                )))
            ),
            "{r:?}"
        );
        blocking(|| fake.expect_silence(QUIET)).expect("no SUBSCRIBE sent");
        let c = client.clone();
        let plain = spawn(async move { c.subscribe(&[("t", Q1)]).await });
        let (p, _) = fake.read_until_type(8, T).expect("SUBSCRIBE");
        let (id, _, sent) = parse_subscribe(&p);
        assert_eq!(sent, [("t".to_string(), 0x01)]);
        fake.write(&ack_v5(0x90, id, "ok", &[], &[0x01])).unwrap();
        assert_eq!(timeout(T, plain).await.unwrap(), Ok(vec![Ok(Q1)]));
    });
}

/// SUBACK 0x9E (Shared Subscriptions not supported) reaches the caller:
/// in `subscribe_with`'s results with the Reason String, and as
/// `SubscribeRefused` for a stream.
#[test]
fn suback_0x9e_shared_subscriptions_not_supported_reaches_the_caller() {
    Rt::block_on(async {
        let (mut fake, client) = fake_v5(&CONNACK_V5).await;
        let c = client.clone();
        let pending = spawn(async move {
            let filters = [
                ("$share/g/t", SubscriptionOptions::qos(Q1)),
                ("plain", SubscriptionOptions::qos(Q1)),
            ];
            c.subscribe_with(&filters, SubscribeOptions::new()).await
        });
        let (p, _) = fake.read_until_type(8, T).expect("SUBSCRIBE");
        let (id, _, sent) = parse_subscribe(&p);
        assert_eq!(sent[0].0, "$share/g/t");
        fake.write(&ack_v5(0x90, id, "no sharing here", &[], &[0x9e, 0x01]))
            .unwrap();
        let outcome = timeout(T, pending).await.unwrap().unwrap();
        assert_eq!(
            outcome.results,
            [Err(SubAckReason::SharedSubscriptionsNotSupported), Ok(Q1)]
        );
        assert_eq!(outcome.reason_string.as_deref(), Some("no sharing here"));
        let c = client.clone();
        let stream = spawn(async move { c.subscription("$share/g/s", Q1).await });
        let (p, _) = fake.read_until_type(8, T).expect("SUBSCRIBE");
        let (id, _, _) = parse_subscribe(&p);
        fake.write(&ack_v5(0x90, id, "no", &[], &[0x9e])).unwrap();
        let r = timeout(T, stream).await.unwrap();
        assert!(
            matches!(
                r,
                Err(ClientError::SubscribeRefused(
                    SubAckReason::SharedSubscriptionsNotSupported
                ))
            ),
            "{r:?}"
        );
    });
}
