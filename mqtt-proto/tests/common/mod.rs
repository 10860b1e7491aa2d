//! Proptest strategies generating *valid* packets of every type for a given
//! protocol version, shared by the property and differential tests.
//!
//! Everything generated obeys the specification of its version, so encoding
//! must succeed and decoding must give the packet back:
//!
//! - topic names without wildcards, topic filters with `+` and `#` in legal
//!   places, shared subscriptions `$share/{group}/{filter}`, unicode text;
//! - MQTT 5: every property of each packet's property struct (each one
//!   present or absent), every reason code of the packet type;
//! - MQTT 3.x: no properties, only the return codes 3.1.1 defines, success
//!   acknowledgements, normal DISCONNECT, no AUTH;
//! - PUBLISH: no DUP at QoS 0, a packet identifier exactly when QoS > 0, an
//!   empty topic only with a topic alias (MQTT 5);
//! - SUBSCRIBE: the MQTT 5 option bits only in MQTT 5, no No Local on a
//!   shared subscription;
//! - CONNECT: with or without will, user name and password (3.x: no password
//!   without a user name).
//!
//! Sizes stay small so that hundreds of cases run in well under a second.

#![allow(dead_code)]

use std::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use sansmqtt_proto::{
    Ack, AckProperties, AckReason, Auth, AuthProperties, AuthReason, ConnAck, ConnAckProperties,
    Connect, ConnectProperties, ConnectReason, Disconnect, DisconnectProperties, DisconnectReason,
    LastWill, MAX_VAR_INT, MaximumQoS, MqttString, Packet, PacketId, PacketType, PayloadFormat,
    ProtocolVersion, PubAckReason, PubCompReason, PubRecReason, PubRelReason, Publish,
    PublishProperties, QoS, RetainHandling, SubAck, SubAckReason, Subscribe, SubscribeProperties,
    SubscriptionId, SubscriptionOptions, TopicFilter, TopicName, UnsubAck, UnsubAckReason,
    Unsubscribe, UnsubscribeProperties, UserProperty, WillProperties,
};

/// The three protocol versions.
pub(crate) const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

/// Any of the three protocol versions.
pub(crate) fn version() -> impl Strategy<Value = ProtocolVersion> {
    select(&VERSIONS[..])
}

/// Every packet type that exists in `version` (AUTH only in MQTT 5).
pub(crate) fn packet_types(version: ProtocolVersion) -> Vec<PacketType> {
    use PacketType::*;
    let mut types = vec![
        Connect,
        ConnAck,
        Publish,
        PubAck,
        PubRec,
        PubRel,
        PubComp,
        Subscribe,
        SubAck,
        Unsubscribe,
        UnsubAck,
        PingReq,
        PingResp,
        Disconnect,
    ];
    if version.is_v5() {
        types.push(Auth);
    }
    types
}

// ---------------------------------------------------------------------------
// Text, topics and binary data.

/// Characters beyond ASCII letters: multi-byte UTF-8 of every length, a BOM,
/// control characters and noncharacters (all allowed, only U+0000 is not).
const SPECIAL_CHARS: &[char] = &[
    'é',
    'ß',
    'Ω',
    'ж',
    '水',
    '🦀',
    '\u{feff}',
    '\u{1}',
    '\u{7f}',
    '\u{9f}',
    '\u{fffd}',
    '\u{10ffff}',
    ' ',
    '$',
    '-',
    '_',
    'A',
    'Z',
    '0',
    '9',
];

/// A character of a topic level: anything but U+0000, `/`, `+` and `#`.
fn level_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => proptest::char::range('a', 'z'),
        3 => select(SPECIAL_CHARS),
        1 => any::<char>(),
    ]
    .prop_filter("not a separator, wildcard or U+0000", |c| {
        !matches!(c, '\0' | '/' | '+' | '#')
    })
}

/// A character of free text (client identifiers, user properties, ...).
fn text_char() -> impl Strategy<Value = char> {
    prop_oneof![
        10 => level_char(),
        1 => select(&['/', '+', '#'][..]),
    ]
}

/// A valid UTF-8 Encoded String of at most `max` characters.
pub(crate) fn mqtt_string(max: usize) -> impl Strategy<Value = MqttString> {
    vec(text_char(), 0..=max).prop_map(|chars| {
        MqttString::try_from(chars.into_iter().collect::<String>()).expect("valid MQTT string")
    })
}

/// A non-empty valid string of at most `max` characters.
pub(crate) fn non_empty_string(max: usize) -> impl Strategy<Value = MqttString> {
    vec(text_char(), 1..=max.max(1)).prop_map(|chars| {
        MqttString::try_from(chars.into_iter().collect::<String>()).expect("valid MQTT string")
    })
}

/// Binary Data of at most `max` bytes.
pub(crate) fn binary(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

/// An application payload: mostly small, sometimes big enough for a two or
/// three byte remaining length.
pub(crate) fn payload() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        20 => binary(24),
        3 => vec(any::<u8>(), 100..300).prop_map(Bytes::from),
        1 => (any::<u8>(), 16_370usize..16_400).prop_map(|(b, n)| Bytes::from(vec![b; n])),
    ]
}

/// One topic level (possibly empty, no wildcards).
fn level() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        1 => Just("$SYS".to_owned()),
        10 => vec(level_char(), 1..5).prop_map(|c| c.into_iter().collect::<String>()),
    ]
}

/// A valid, non-empty topic name.
pub(crate) fn topic_name() -> impl Strategy<Value = TopicName> {
    vec(level(), 1..4).prop_filter_map("empty topic", |levels| {
        TopicName::try_from(levels.join("/")).ok()
    })
}

/// A valid topic filter: `+` levels anywhere, `#` last, sometimes shared.
pub(crate) fn topic_filter() -> impl Strategy<Value = TopicFilter> {
    let filter_level = prop_oneof![4 => level(), 1 => Just("+".to_owned())];
    let plain = (vec(filter_level, 0..4), any::<bool>()).prop_map(|(levels, hash)| {
        if levels.is_empty() {
            "#".to_owned()
        } else if hash {
            format!("{}/#", levels.join("/"))
        } else {
            levels.join("/")
        }
    });
    let group = vec(level_char(), 1..4).prop_map(|c| c.into_iter().collect::<String>());
    prop_oneof![
        4 => plain.clone(),
        1 => (group, plain).prop_map(|(g, f)| format!("$share/{g}/{f}")),
    ]
    .prop_filter_map("invalid filter", |s| TopicFilter::try_from(s).ok())
}

pub(crate) fn qos() -> impl Strategy<Value = QoS> {
    select(&[QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][..])
}

/// A packet identifier, often at the edges of its range.
pub(crate) fn packet_id() -> impl Strategy<Value = PacketId> {
    prop_oneof![
        1 => Just(1u16),
        1 => Just(u16::MAX),
        1 => Just(256u16),
        6 => 1u16..=u16::MAX,
    ]
    .prop_map(|n| PacketId::new(n).expect("non-zero"))
}

fn nz16() -> impl Strategy<Value = NonZeroU16> {
    prop_oneof![Just(1u16), Just(u16::MAX), 1u16..=u16::MAX]
        .prop_map(|n| NonZeroU16::new(n).expect("non-zero"))
}

fn nz32() -> impl Strategy<Value = NonZeroU32> {
    prop_oneof![Just(1u32), Just(u32::MAX), 1u32..=u32::MAX]
        .prop_map(|n| NonZeroU32::new(n).expect("non-zero"))
}

fn u32_any() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()]
}

/// A Subscription Identifier, biased towards the boundaries of the
/// Variable Byte Integer lengths.
pub(crate) fn subscription_id() -> impl Strategy<Value = SubscriptionId> {
    prop_oneof![
        select(
            &[
                1u32,
                127,
                128,
                16_383,
                16_384,
                2_097_151,
                2_097_152,
                MAX_VAR_INT
            ][..]
        ),
        1u32..=MAX_VAR_INT,
    ]
    .prop_map(|n| SubscriptionId::new(n).expect("in range"))
}

// ---------------------------------------------------------------------------
// Properties (MQTT 5 only; empty in 3.x).

fn user_properties() -> impl Strategy<Value = Vec<UserProperty>> {
    vec(
        (mqtt_string(6), mqtt_string(6)).prop_map(|(name, value)| UserProperty { name, value }),
        0..3,
    )
}

fn payload_format() -> impl Strategy<Value = PayloadFormat> {
    select(&[PayloadFormat::Unspecified, PayloadFormat::Utf8][..])
}

/// `full` in MQTT 5 (and sometimes the empty set), the empty set in 3.x.
fn v5_only<T>(
    version: ProtocolVersion,
    full: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<T>
where
    T: Default + Clone + std::fmt::Debug + 'static,
{
    if version.is_v5() {
        prop_oneof![1 => Just(T::default()), 4 => full].boxed()
    } else {
        Just(T::default()).boxed()
    }
}

pub(crate) fn connect_properties(version: ProtocolVersion) -> BoxedStrategy<ConnectProperties> {
    let full = (
        option::of(u32_any()),
        option::of(nz16()),
        option::of(nz32()),
        option::of(any::<u16>()),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        option::of(mqtt_string(6)),
        option::of(binary(8)),
        user_properties(),
    )
        .prop_map(
            |(sei, rm, mps, tam, rri, rpi, am, ad, up)| ConnectProperties {
                session_expiry_interval: sei,
                receive_maximum: rm,
                maximum_packet_size: mps,
                topic_alias_maximum: tam,
                request_response_information: rri,
                request_problem_information: rpi,
                // Authentication Data only with a method (a Protocol Error otherwise).
                authentication_data: if am.is_some() { ad } else { None },
                authentication_method: am,
                user_properties: up,
            },
        );
    v5_only(version, full)
}

pub(crate) fn will_properties(version: ProtocolVersion) -> BoxedStrategy<WillProperties> {
    let full = (
        option::of(u32_any()),
        option::of(payload_format()),
        option::of(u32_any()),
        option::of(mqtt_string(6)),
        option::of(topic_name()),
        option::of(binary(8)),
        user_properties(),
    )
        .prop_map(|(wdi, pfi, mei, ct, rt, cd, up)| WillProperties {
            will_delay_interval: wdi,
            payload_format_indicator: pfi,
            message_expiry_interval: mei,
            content_type: ct,
            response_topic: rt,
            correlation_data: cd,
            user_properties: up,
        });
    v5_only(version, full)
}

pub(crate) fn connack_properties(version: ProtocolVersion) -> BoxedStrategy<ConnAckProperties> {
    let a = (
        option::of(u32_any()),
        option::of(nz16()),
        option::of(select(
            &[MaximumQoS::AtMostOnce, MaximumQoS::AtLeastOnce][..],
        )),
        option::of(any::<bool>()),
        option::of(nz32()),
        option::of(mqtt_string(6)),
        option::of(any::<u16>()),
        option::of(mqtt_string(6)),
    );
    let b = (
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        option::of(any::<u16>()),
        option::of(mqtt_string(6)),
        option::of(mqtt_string(6)),
        option::of(mqtt_string(6)),
        option::of(binary(8)),
        user_properties(),
    );
    let full = (a, b).prop_map(
        |((sei, rm, mq, ra, mps, aci, tam, rs), (wsa, sia, ssa, ska, ri, sr, am, ad, up))| {
            ConnAckProperties {
                session_expiry_interval: sei,
                receive_maximum: rm,
                maximum_qos: mq,
                retain_available: ra,
                maximum_packet_size: mps,
                assigned_client_identifier: aci,
                topic_alias_maximum: tam,
                reason_string: rs,
                wildcard_subscription_available: wsa,
                subscription_identifier_available: sia,
                shared_subscription_available: ssa,
                server_keep_alive: ska,
                response_information: ri,
                server_reference: sr,
                // Authentication Data only with a method (a Protocol Error otherwise).
                authentication_data: if am.is_some() { ad } else { None },
                authentication_method: am,
                user_properties: up,
            }
        },
    );
    v5_only(version, full)
}

pub(crate) fn publish_properties(version: ProtocolVersion) -> BoxedStrategy<PublishProperties> {
    let full = (
        option::of(payload_format()),
        option::of(u32_any()),
        option::of(nz16()),
        option::of(topic_name()),
        option::of(binary(8)),
        option::of(mqtt_string(6)),
        user_properties(),
        vec(subscription_id(), 0..4),
    )
        .prop_map(|(pfi, mei, ta, rt, cd, ct, up, sids)| PublishProperties {
            payload_format_indicator: pfi,
            message_expiry_interval: mei,
            topic_alias: ta,
            response_topic: rt,
            correlation_data: cd,
            content_type: ct,
            user_properties: up,
            subscription_identifiers: sids,
        });
    v5_only(version, full)
}

pub(crate) fn ack_properties(version: ProtocolVersion) -> BoxedStrategy<AckProperties> {
    let full = (option::of(mqtt_string(8)), user_properties()).prop_map(|(rs, up)| AckProperties {
        reason_string: rs,
        user_properties: up,
    });
    v5_only(version, full)
}

pub(crate) fn subscribe_properties(version: ProtocolVersion) -> BoxedStrategy<SubscribeProperties> {
    let full = (option::of(subscription_id()), user_properties()).prop_map(|(id, up)| {
        SubscribeProperties {
            subscription_identifier: id,
            user_properties: up,
        }
    });
    v5_only(version, full)
}

pub(crate) fn unsubscribe_properties(
    version: ProtocolVersion,
) -> BoxedStrategy<UnsubscribeProperties> {
    let full = user_properties().prop_map(|up| UnsubscribeProperties {
        user_properties: up,
    });
    v5_only(version, full)
}

pub(crate) fn disconnect_properties(
    version: ProtocolVersion,
) -> BoxedStrategy<DisconnectProperties> {
    let full = (
        option::of(u32_any()),
        option::of(mqtt_string(8)),
        option::of(mqtt_string(8)),
        user_properties(),
    )
        .prop_map(|(sei, rs, sr, up)| DisconnectProperties {
            session_expiry_interval: sei,
            reason_string: rs,
            server_reference: sr,
            user_properties: up,
        });
    v5_only(version, full)
}

pub(crate) fn auth_properties() -> BoxedStrategy<AuthProperties> {
    let full = (
        option::of(mqtt_string(6)),
        option::of(binary(8)),
        option::of(mqtt_string(8)),
        user_properties(),
    )
        .prop_map(|(am, ad, rs, up)| AuthProperties {
            // Authentication Data only with a method (a Protocol Error otherwise).
            authentication_data: if am.is_some() { ad } else { None },
            authentication_method: am,
            reason_string: rs,
            user_properties: up,
        });
    v5_only(ProtocolVersion::V5, full)
}

// ---------------------------------------------------------------------------
// Packets.

/// A CONNECT of protocol `version`.
pub(crate) fn connect(version: ProtocolVersion) -> BoxedStrategy<Connect> {
    let will = (
        topic_name(),
        binary(16),
        qos(),
        any::<bool>(),
        will_properties(version),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| LastWill {
            topic,
            payload,
            qos,
            retain,
            properties: properties.into(),
        });
    (
        any::<bool>(),
        prop_oneof![Just(0u16), Just(u16::MAX), any::<u16>()],
        mqtt_string(10),
        option::of(will),
        option::of(mqtt_string(8)),
        option::of(binary(8)),
        connect_properties(version),
    )
        .prop_map(
            move |(clean_start, keep_alive, client_id, will, username, password, properties)| {
                // [MQTT-3.1.2-22]: in 3.x no password without a user name.
                let password = if version.is_v5() || username.is_some() {
                    password
                } else {
                    None
                };
                Connect {
                    protocol: version,
                    clean_start,
                    keep_alive,
                    client_id,
                    will,
                    username,
                    password,
                    properties: properties.into(),
                }
            },
        )
        .boxed()
}

/// The reason codes a CONNACK may carry in `version`.
pub(crate) fn connect_reasons(version: ProtocolVersion) -> Vec<ConnectReason> {
    ConnectReason::ALL
        .iter()
        .copied()
        .filter(|r| version.is_v5() || r.v3_return_code().is_some())
        .collect()
}

pub(crate) fn connack(version: ProtocolVersion) -> BoxedStrategy<ConnAck> {
    (
        any::<bool>(),
        select(connect_reasons(version)),
        connack_properties(version),
    )
        .prop_map(|(session_present, reason, properties)| ConnAck {
            // [MQTT-3.2.2-4]: no session on a refusal.
            session_present: session_present && reason == ConnectReason::Success,
            reason,
            properties: properties.into(),
        })
        .boxed()
}

pub(crate) fn publish(version: ProtocolVersion) -> BoxedStrategy<Publish> {
    let topic = if version.is_v5() {
        prop_oneof![5 => topic_name(), 1 => Just(TopicName::alias_only())].boxed()
    } else {
        topic_name().boxed()
    };
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        topic,
        packet_id(),
        publish_properties(version),
        nz16(),
        payload(),
    )
        .prop_map(
            move |(qos, dup, retain, topic, id, mut properties, alias, payload)| {
                // [MQTT-4.7.3-1] / §3.3.2.3.4: an empty topic needs a topic alias.
                if topic.is_empty() && properties.topic_alias.is_none() {
                    properties.topic_alias = Some(alias);
                }
                let at_most_once = qos == QoS::AtMostOnce;
                Publish {
                    // [MQTT-3.3.1-2]: no DUP at QoS 0.
                    dup: dup && !at_most_once,
                    qos,
                    retain,
                    topic,
                    // [MQTT-2.2.1-2]: a packet identifier exactly when QoS > 0.
                    packet_id: (!at_most_once).then_some(id),
                    properties: properties.into(),
                    payload,
                }
            },
        )
        .boxed()
}

/// An acknowledgement whose reason is any of `all` in MQTT 5, success in 3.x.
pub(crate) fn ack<R: AckReason + 'static>(
    version: ProtocolVersion,
    all: &'static [R],
) -> BoxedStrategy<Ack<R>> {
    let reason = if version.is_v5() {
        select(all).boxed()
    } else {
        Just(R::SUCCESS).boxed()
    };
    (packet_id(), reason, ack_properties(version))
        .prop_map(|(packet_id, reason, properties)| Ack {
            packet_id,
            reason,
            properties: properties.into(),
        })
        .boxed()
}

pub(crate) fn subscription_options(version: ProtocolVersion) -> BoxedStrategy<SubscriptionOptions> {
    if version.is_v5() {
        (
            qos(),
            any::<bool>(),
            any::<bool>(),
            select(
                &[
                    RetainHandling::SendAtSubscribe,
                    RetainHandling::SendAtSubscribeIfNew,
                    RetainHandling::DoNotSend,
                ][..],
            ),
        )
            .prop_map(
                |(qos, no_local, retain_as_published, retain_handling)| SubscriptionOptions {
                    qos,
                    no_local,
                    retain_as_published,
                    retain_handling,
                },
            )
            .boxed()
    } else {
        qos().prop_map(SubscriptionOptions::qos).boxed()
    }
}

pub(crate) fn subscribe(version: ProtocolVersion) -> BoxedStrategy<Subscribe> {
    (
        packet_id(),
        vec((topic_filter(), subscription_options(version)), 1..4),
        subscribe_properties(version),
    )
        .prop_map(|(packet_id, mut filters, properties)| {
            for (filter, options) in &mut filters {
                // [MQTT-3.8.3-4]: No Local is a Protocol Error on a shared subscription.
                if filter.is_shared() {
                    options.no_local = false;
                }
            }
            Subscribe {
                packet_id,
                filters,
                properties: properties.into(),
            }
        })
        .boxed()
}

/// The SUBACK reason codes of `version` (0, 1, 2 and 0x80 in 3.x).
pub(crate) fn suback_reasons(version: ProtocolVersion) -> Vec<SubAckReason> {
    SubAckReason::ALL
        .iter()
        .copied()
        .filter(|r| version.is_v5() || r.in_v3())
        .collect()
}

pub(crate) fn suback(version: ProtocolVersion) -> BoxedStrategy<SubAck> {
    (
        packet_id(),
        vec(select(suback_reasons(version)), 1..5),
        ack_properties(version),
    )
        .prop_map(|(packet_id, reasons, properties)| SubAck {
            packet_id,
            reasons,
            properties: properties.into(),
        })
        .boxed()
}

pub(crate) fn unsubscribe(version: ProtocolVersion) -> BoxedStrategy<Unsubscribe> {
    (
        packet_id(),
        vec(topic_filter(), 1..4),
        unsubscribe_properties(version),
    )
        .prop_map(|(packet_id, filters, properties)| Unsubscribe {
            packet_id,
            filters,
            properties: properties.into(),
        })
        .boxed()
}

pub(crate) fn unsuback(version: ProtocolVersion) -> BoxedStrategy<UnsubAck> {
    let reasons = if version.is_v5() {
        vec(select(UnsubAckReason::ALL), 1..5).boxed()
    } else {
        Just(Vec::new()).boxed()
    };
    (packet_id(), reasons, ack_properties(version))
        .prop_map(|(packet_id, reasons, properties)| UnsubAck {
            packet_id,
            reasons,
            properties: properties.into(),
        })
        .boxed()
}

pub(crate) fn disconnect(version: ProtocolVersion) -> BoxedStrategy<Disconnect> {
    let reason = if version.is_v5() {
        select(DisconnectReason::ALL).boxed()
    } else {
        Just(DisconnectReason::NormalDisconnection).boxed()
    };
    (reason, disconnect_properties(version))
        .prop_map(|(reason, properties)| Disconnect {
            reason,
            properties: properties.into(),
        })
        .boxed()
}

/// An AUTH packet (MQTT 5 only).
pub(crate) fn auth() -> BoxedStrategy<Auth> {
    (select(AuthReason::ALL), auth_properties())
        .prop_map(|(reason, properties)| Auth {
            reason,
            properties: properties.into(),
        })
        .boxed()
}

/// A valid packet of type `kind` for `version`.
///
/// Panics for AUTH outside MQTT 5.
pub(crate) fn packet_of_type(kind: PacketType, version: ProtocolVersion) -> BoxedStrategy<Packet> {
    match kind {
        PacketType::Connect => connect(version).prop_map(Packet::from).boxed(),
        PacketType::ConnAck => connack(version).prop_map(Packet::from).boxed(),
        PacketType::Publish => publish(version).prop_map(Packet::from).boxed(),
        PacketType::PubAck => ack(version, PubAckReason::ALL)
            .prop_map(Packet::from)
            .boxed(),
        PacketType::PubRec => ack(version, PubRecReason::ALL)
            .prop_map(Packet::from)
            .boxed(),
        PacketType::PubRel => ack(version, PubRelReason::ALL)
            .prop_map(Packet::from)
            .boxed(),
        PacketType::PubComp => ack(version, PubCompReason::ALL)
            .prop_map(Packet::from)
            .boxed(),
        PacketType::Subscribe => subscribe(version).prop_map(Packet::from).boxed(),
        PacketType::SubAck => suback(version).prop_map(Packet::from).boxed(),
        PacketType::Unsubscribe => unsubscribe(version).prop_map(Packet::from).boxed(),
        PacketType::UnsubAck => unsuback(version).prop_map(Packet::from).boxed(),
        PacketType::PingReq => Just(Packet::PingReq).boxed(),
        PacketType::PingResp => Just(Packet::PingResp).boxed(),
        PacketType::Disconnect => disconnect(version).prop_map(Packet::from).boxed(),
        PacketType::Auth => {
            assert!(version.is_v5(), "AUTH exists only in MQTT 5");
            auth().prop_map(Packet::from).boxed()
        }
    }
}

/// A valid packet of any type that exists in `version`.
pub(crate) fn packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    select(packet_types(version))
        .prop_flat_map(move |kind| packet_of_type(kind, version))
        .boxed()
}

/// A version and a valid packet of type `kind` for it (AUTH: MQTT 5 only).
pub(crate) fn versioned(kind: PacketType) -> BoxedStrategy<(ProtocolVersion, Packet)> {
    let versions: Vec<ProtocolVersion> = VERSIONS
        .iter()
        .copied()
        .filter(|v| kind != PacketType::Auth || v.is_v5())
        .collect();
    select(versions)
        .prop_flat_map(move |v| (Just(v), packet_of_type(kind, v)))
        .boxed()
}

/// A version and a valid packet of any type for it.
pub(crate) fn versioned_packet() -> BoxedStrategy<(ProtocolVersion, Packet)> {
    version().prop_flat_map(|v| (Just(v), packet(v))).boxed()
}

/// A version and a few valid packets for it.
pub(crate) fn versioned_packets(max: usize) -> BoxedStrategy<(ProtocolVersion, Vec<Packet>)> {
    version()
        .prop_flat_map(move |v| (Just(v), vec(packet(v), 1..=max)))
        .boxed()
}

/// The version a packet is encoded with on a connection of `version`: a
/// CONNECT carries its own.
pub(crate) fn wire_version(packet: &Packet, version: ProtocolVersion) -> ProtocolVersion {
    match packet {
        Packet::Connect(c) => c.protocol,
        _ => version,
    }
}

/// Encodes `packet` (panics if the codec refuses a valid packet).
pub(crate) fn encode(packet: &Packet, version: ProtocolVersion) -> Bytes {
    let mut buf = bytes::BytesMut::new();
    packet
        .encode(wire_version(packet, version), &mut buf)
        .unwrap_or_else(|e| panic!("valid packet refused: {e}: {packet:?}"));
    buf.freeze()
}
