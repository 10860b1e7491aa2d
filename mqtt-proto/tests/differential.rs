//! Differential tests against an independent implementation: rumqttc 0.25.1's
//! codecs (`rumqttc::mqttbytes::v4` for MQTT 3.1.1, `rumqttc::v5::mqttbytes::v5`
//! for MQTT 5.0).
//!
//! For generated packets of every type, in both directions:
//!
//! - what sansmqtt encodes, rumqttc decodes to the equivalent packet (the
//!   sansmqtt packet converted to rumqttc's types, compared with `==`, that
//!   is field by field);
//! - what rumqttc encodes (from the converted packet), sansmqtt decodes back
//!   to the original packet.
//!
//! In MQTT 3.1.1 there is a single valid encoding, so both sides must also
//! produce the same bytes. MQTT 3.1 (`MQIsdp`) is not tested: rumqttc does
//! not implement it.
//!
//! # rumqttc deviations
//!
//! Where rumqttc departs from the specification, generation is restricted to
//! the subset both handle, and the deviation is named where the restriction
//! is made. `rumqttc_deviations` pins each one down on concrete bytes, so an
//! upgrade of rumqttc that fixes one makes that test fail and the restriction
//! can go.

mod common;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use rumqttc::mqttbytes::{self as m4, v4 as r4};
use rumqttc::v5::mqttbytes::{self as m5, v5 as r5};
use sansmqtt_proto::{
    AuthReason, ConnectReason, DisconnectReason, MqttString, Packet, PacketType, ProtocolVersion,
    PubAckReason, PubCompReason, PubRecReason, PubRelReason, QoS, RetainHandling, SubAckReason,
    UnsubAckReason, UserProperty,
};

use common::{encode, packet_of_type};

const V311: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;

/// Maps an enum to another whose variants have the same names (plus a few
/// renamed ones). The match is exhaustive, so a reason code missing on
/// either side does not compile.
macro_rules! same_names {
    ($value:expr, $from:ident => $m:ident :: $to:ident { $($v:ident),* $(,)? }
     $(renamed { $($a:ident => $b:ident),* $(,)? })?) => {
        match $value {
            $( $from::$v => $m::$to::$v, )*
            $($( $from::$a => $m::$to::$b, )*)?
        }
    };
}

// ---------------------------------------------------------------------------
// What rumqttc can express (both versions).

/// Hex text of `data`, prefixed so that it is never empty.
fn hex_text(data: &[u8]) -> String {
    let mut s = String::from("pw");
    for b in data {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Restricts a valid packet to what rumqttc's types can express.
fn expressible(mut packet: Packet) -> Packet {
    if let Packet::Connect(c) = &mut packet {
        // rumqttc deviation (`Login`, both versions): the user name is a
        // `String` where empty means absent (`Login::write` skips an empty
        // user name, `Login::read` returns no login when both are empty), so
        // an empty user name, valid in MQTT, cannot be expressed.
        if c.username.as_ref().is_some_and(|u| u.is_empty()) {
            c.username = Some(MqttString::from_static("user").expect("valid"));
        }
        // rumqttc deviation (`Login`, both versions): the password is a
        // `String` (read with `String::from_utf8`, so a non-UTF-8 password is
        // refused with `TopicNotUtf8`) and empty means absent, while MQTT
        // passwords are Binary Data of any length.
        if let Some(pw) = &c.password
            && (pw.is_empty() || std::str::from_utf8(pw).is_err())
        {
            c.password = Some(Bytes::from(hex_text(pw)));
        }
    }
    packet
}

fn differential_packet(kind: PacketType, version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let packets = packet_of_type(kind, version).prop_map(expressible);
    if version.is_v5() {
        packets.prop_map(rumqttc_v5_subset).boxed()
    } else {
        packets.boxed()
    }
}

fn s(v: &MqttString) -> String {
    v.as_str().to_owned()
}

fn opt_s(v: &Option<MqttString>) -> Option<String> {
    v.as_ref().map(s)
}

fn user_props(v: &[UserProperty]) -> Vec<(String, String)> {
    v.iter().map(|p| (s(&p.name), s(&p.value))).collect()
}

fn password_text(pw: &Option<Bytes>) -> String {
    pw.as_ref()
        .map(|p| {
            std::str::from_utf8(p)
                .expect("restricted to UTF-8")
                .to_owned()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// MQTT 3.1.1.

fn q4(q: QoS) -> m4::QoS {
    same_names!(q, QoS => m4::QoS { AtMostOnce, AtLeastOnce, ExactlyOnce })
}

/// The rumqttc 3.1.1 packet equivalent to `packet`.
fn to_v4(packet: &Packet) -> r4::Packet {
    match packet {
        Packet::Connect(c) => r4::Packet::Connect(r4::Connect {
            protocol: m4::Protocol::V4,
            keep_alive: c.keep_alive,
            client_id: s(&c.client_id),
            clean_session: c.clean_start,
            last_will: c.will.as_ref().map(|w| r4::LastWill {
                topic: w.topic.as_str().to_owned(),
                message: w.payload.clone(),
                qos: q4(w.qos),
                retain: w.retain,
            }),
            login: c.username.as_ref().map(|u| r4::Login {
                username: s(u),
                password: password_text(&c.password),
            }),
        }),
        Packet::ConnAck(a) => r4::Packet::ConnAck(r4::ConnAck {
            session_present: a.session_present,
            code: match a.reason {
                ConnectReason::Success => r4::ConnectReturnCode::Success,
                ConnectReason::UnsupportedProtocolVersion => {
                    r4::ConnectReturnCode::RefusedProtocolVersion
                }
                ConnectReason::ClientIdentifierNotValid => r4::ConnectReturnCode::BadClientId,
                ConnectReason::ServerUnavailable => r4::ConnectReturnCode::ServiceUnavailable,
                ConnectReason::BadUserNameOrPassword => r4::ConnectReturnCode::BadUserNamePassword,
                ConnectReason::NotAuthorized => r4::ConnectReturnCode::NotAuthorized,
                other => unreachable!("{other:?} is not a 3.1.1 return code"),
            },
        }),
        Packet::Publish(p) => r4::Packet::Publish(r4::Publish {
            dup: p.dup,
            qos: q4(p.qos),
            retain: p.retain,
            topic: p.topic.as_str().to_owned(),
            pkid: p.packet_id.map_or(0, |id| id.get()),
            payload: p.payload.clone(),
        }),
        Packet::PubAck(a) => r4::Packet::PubAck(r4::PubAck::new(a.packet_id.get())),
        Packet::PubRec(a) => r4::Packet::PubRec(r4::PubRec::new(a.packet_id.get())),
        Packet::PubRel(a) => r4::Packet::PubRel(r4::PubRel::new(a.packet_id.get())),
        Packet::PubComp(a) => r4::Packet::PubComp(r4::PubComp::new(a.packet_id.get())),
        Packet::Subscribe(sub) => r4::Packet::Subscribe(r4::Subscribe {
            pkid: sub.packet_id.get(),
            filters: sub
                .filters
                .iter()
                .map(|(f, o)| r4::SubscribeFilter::new(f.as_str().to_owned(), q4(o.qos)))
                .collect(),
        }),
        Packet::SubAck(a) => r4::Packet::SubAck(r4::SubAck {
            pkid: a.packet_id.get(),
            return_codes: a
                .reasons
                .iter()
                .map(|r| match r.granted_qos() {
                    Some(q) => r4::SubscribeReasonCode::Success(q4(q)),
                    None => {
                        assert_eq!(*r, SubAckReason::UnspecifiedError);
                        r4::SubscribeReasonCode::Failure
                    }
                })
                .collect(),
        }),
        Packet::Unsubscribe(u) => r4::Packet::Unsubscribe(r4::Unsubscribe {
            pkid: u.packet_id.get(),
            topics: u.filters.iter().map(|f| f.as_str().to_owned()).collect(),
        }),
        Packet::UnsubAck(a) => r4::Packet::UnsubAck(r4::UnsubAck::new(a.packet_id.get())),
        Packet::PingReq => r4::Packet::PingReq,
        Packet::PingResp => r4::Packet::PingResp,
        Packet::Disconnect(_) => r4::Packet::Disconnect,
        Packet::Auth(_) => unreachable!("no AUTH in MQTT 3.1.1"),
    }
}

fn check_v4(packet: &Packet) -> Result<(), TestCaseError> {
    let ours = encode(packet, V311);
    let expected = to_v4(packet);

    // sansmqtt -> rumqttc
    let mut stream = BytesMut::from(&ours[..]);
    let decoded = r4::Packet::read(&mut stream, usize::MAX)
        .map_err(|e| TestCaseError::fail(format!("rumqttc refused our {packet:?}: {e}")))?;
    prop_assert!(stream.is_empty(), "rumqttc left {} bytes", stream.len());
    prop_assert_eq!(&decoded, &expected);

    // rumqttc -> sansmqtt
    let mut theirs = BytesMut::new();
    let n = expected
        .write(&mut theirs, usize::MAX)
        .map_err(|e| TestCaseError::fail(format!("rumqttc could not write {expected:?}: {e}")))?;
    prop_assert_eq!(n, theirs.len());
    prop_assert_eq!(expected.size(), theirs.len());
    // One valid encoding in 3.1.1: the bytes are the same.
    prop_assert_eq!(&theirs[..], &ours[..]);
    let back = Packet::decode(theirs.freeze(), V311)
        .map_err(|e| TestCaseError::fail(format!("we refused rumqttc's {expected:?}: {e}")))?;
    prop_assert_eq!(&back, packet);
    Ok(())
}

// ---------------------------------------------------------------------------
// MQTT 5.0.

fn q5(q: QoS) -> m5::QoS {
    same_names!(q, QoS => m5::QoS { AtMostOnce, AtLeastOnce, ExactlyOnce })
}

fn connect_reason5(r: ConnectReason) -> r5::ConnectReturnCode {
    same_names!(r, ConnectReason => r5::ConnectReturnCode {
        Success, UnspecifiedError, MalformedPacket, ProtocolError, ImplementationSpecificError,
        UnsupportedProtocolVersion, ClientIdentifierNotValid, NotAuthorized, ServerUnavailable,
        ServerBusy, Banned, BadAuthenticationMethod, TopicNameInvalid, PacketTooLarge,
        QuotaExceeded, PayloadFormatInvalid, RetainNotSupported, QoSNotSupported,
        UseAnotherServer, ServerMoved, ConnectionRateExceeded,
    } renamed { BadUserNameOrPassword => BadUserNamePassword })
}

fn puback_reason5(r: PubAckReason) -> r5::PubAckReason {
    same_names!(r, PubAckReason => r5::PubAckReason {
        Success, NoMatchingSubscribers, UnspecifiedError, ImplementationSpecificError,
        NotAuthorized, TopicNameInvalid, PacketIdentifierInUse, QuotaExceeded,
        PayloadFormatInvalid,
    })
}

fn pubrec_reason5(r: PubRecReason) -> r5::PubRecReason {
    same_names!(r, PubRecReason => r5::PubRecReason {
        Success, NoMatchingSubscribers, UnspecifiedError, ImplementationSpecificError,
        NotAuthorized, TopicNameInvalid, PacketIdentifierInUse, QuotaExceeded,
        PayloadFormatInvalid,
    })
}

fn pubrel_reason5(r: PubRelReason) -> r5::PubRelReason {
    same_names!(r, PubRelReason => r5::PubRelReason { Success, PacketIdentifierNotFound })
}

fn pubcomp_reason5(r: PubCompReason) -> r5::PubCompReason {
    same_names!(r, PubCompReason => r5::PubCompReason { Success, PacketIdentifierNotFound })
}

fn suback_reason5(r: SubAckReason) -> r5::SubscribeReasonCode {
    use r5::SubscribeReasonCode as R;
    match r {
        SubAckReason::GrantedQoS0 => R::Success(m5::QoS::AtMostOnce),
        SubAckReason::GrantedQoS1 => R::Success(m5::QoS::AtLeastOnce),
        SubAckReason::GrantedQoS2 => R::Success(m5::QoS::ExactlyOnce),
        // rumqttc has both `Failure` and `Unspecified` for 0x80; it reads `Unspecified`.
        SubAckReason::UnspecifiedError => R::Unspecified,
        SubAckReason::ImplementationSpecificError => R::ImplementationSpecific,
        SubAckReason::NotAuthorized => R::NotAuthorized,
        SubAckReason::TopicFilterInvalid => R::TopicFilterInvalid,
        SubAckReason::PacketIdentifierInUse => R::PkidInUse,
        SubAckReason::QuotaExceeded => R::QuotaExceeded,
        SubAckReason::SharedSubscriptionsNotSupported => R::SharedSubscriptionsNotSupported,
        SubAckReason::SubscriptionIdentifiersNotSupported => R::SubscriptionIdNotSupported,
        SubAckReason::WildcardSubscriptionsNotSupported => R::WildcardSubscriptionsNotSupported,
    }
}

fn unsuback_reason5(r: UnsubAckReason) -> r5::UnsubAckReason {
    same_names!(r, UnsubAckReason => r5::UnsubAckReason {
        Success, NoSubscriptionExisted, UnspecifiedError, ImplementationSpecificError,
        NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse,
    })
}

fn disconnect_reason5(r: DisconnectReason) -> r5::DisconnectReasonCode {
    same_names!(r, DisconnectReason => r5::DisconnectReasonCode {
        NormalDisconnection, DisconnectWithWillMessage, UnspecifiedError, MalformedPacket,
        ProtocolError, ImplementationSpecificError, NotAuthorized, ServerBusy,
        ServerShuttingDown, KeepAliveTimeout, SessionTakenOver, TopicFilterInvalid,
        TopicNameInvalid, ReceiveMaximumExceeded, TopicAliasInvalid, PacketTooLarge,
        MessageRateTooHigh, QuotaExceeded, AdministrativeAction, PayloadFormatInvalid,
        RetainNotSupported, QoSNotSupported, UseAnotherServer, ServerMoved,
        ConnectionRateExceeded, MaximumConnectTime, SubscriptionIdentifiersNotSupported,
        WildcardSubscriptionsNotSupported,
    } renamed { SharedSubscriptionsNotSupported => SharedSubscriptionNotSupported })
}

/// rumqttc's name (its `Debug`) of an AUTH reason: `AuthReasonCode` is not
/// exported, so it can only be inspected this way.
fn auth_reason_name(r: AuthReason) -> &'static str {
    match r {
        AuthReason::Success => "Success",
        AuthReason::ContinueAuthentication => "Continue",
        AuthReason::ReAuthenticate => "ReAuthentivate",
    }
}

/// rumqttc reads an empty property list as `None`.
fn some_unless<T>(empty: bool, make: impl FnOnce() -> T) -> Option<T> {
    (!empty).then(make)
}

macro_rules! ack5 {
    ($variant:ident, $props:ident, $reason:ident, $a:expr) => {{
        let a = $a;
        r5::Packet::$variant(r5::$variant {
            pkid: a.packet_id.get(),
            reason: $reason(a.reason),
            properties: some_unless(a.properties.is_empty(), || r5::$props {
                reason_string: opt_s(&a.properties.reason_string),
                user_properties: user_props(&a.properties.user_properties),
            }),
        })
    }};
}

/// The rumqttc 5.0 packet equivalent to `packet` (AUTH aside: see `check_auth`).
fn to_v5(packet: &Packet) -> r5::Packet {
    match packet {
        Packet::Connect(c) => {
            let p = &c.properties;
            let connect = r5::Connect {
                keep_alive: c.keep_alive,
                client_id: s(&c.client_id),
                clean_start: c.clean_start,
                properties: some_unless(p.is_empty(), || r5::ConnectProperties {
                    session_expiry_interval: p.session_expiry_interval,
                    receive_maximum: p.receive_maximum.map(|v| v.get()),
                    max_packet_size: p.maximum_packet_size.map(|v| v.get()),
                    topic_alias_max: p.topic_alias_maximum,
                    request_response_info: p.request_response_information.map(u8::from),
                    request_problem_info: p.request_problem_information.map(u8::from),
                    user_properties: user_props(&p.user_properties),
                    authentication_method: opt_s(&p.authentication_method),
                    authentication_data: p.authentication_data.clone(),
                }),
            };
            let will = c.will.as_ref().map(|w| {
                let p = &w.properties;
                r5::LastWill {
                    topic: Bytes::copy_from_slice(w.topic.as_str().as_bytes()),
                    message: w.payload.clone(),
                    qos: q5(w.qos),
                    retain: w.retain,
                    properties: some_unless(p.is_empty(), || r5::LastWillProperties {
                        delay_interval: p.will_delay_interval,
                        payload_format_indicator: p.payload_format_indicator.map(|f| f as u8),
                        message_expiry_interval: p.message_expiry_interval,
                        content_type: opt_s(&p.content_type),
                        response_topic: p.response_topic.as_ref().map(|t| t.as_str().to_owned()),
                        correlation_data: p.correlation_data.clone(),
                        user_properties: user_props(&p.user_properties),
                    }),
                }
            });
            let login = (c.username.is_some() || c.password.is_some()).then(|| r5::Login {
                username: c.username.as_ref().map(s).unwrap_or_default(),
                password: password_text(&c.password),
            });
            r5::Packet::Connect(connect, will, login)
        }
        Packet::ConnAck(a) => {
            let p = &a.properties;
            r5::Packet::ConnAck(r5::ConnAck {
                session_present: a.session_present,
                code: connect_reason5(a.reason),
                properties: some_unless(p.is_empty(), || r5::ConnAckProperties {
                    session_expiry_interval: p.session_expiry_interval,
                    receive_max: p.receive_maximum.map(|v| v.get()),
                    max_qos: p.maximum_qos.map(|q| q as u8),
                    retain_available: p.retain_available.map(u8::from),
                    max_packet_size: p.maximum_packet_size.map(|v| v.get()),
                    assigned_client_identifier: opt_s(&p.assigned_client_identifier),
                    topic_alias_max: p.topic_alias_maximum,
                    reason_string: opt_s(&p.reason_string),
                    user_properties: user_props(&p.user_properties),
                    wildcard_subscription_available: p
                        .wildcard_subscription_available
                        .map(u8::from),
                    subscription_identifiers_available: p
                        .subscription_identifier_available
                        .map(u8::from),
                    shared_subscription_available: p.shared_subscription_available.map(u8::from),
                    server_keep_alive: p.server_keep_alive,
                    response_information: opt_s(&p.response_information),
                    server_reference: opt_s(&p.server_reference),
                    authentication_method: opt_s(&p.authentication_method),
                    authentication_data: p.authentication_data.clone(),
                }),
            })
        }
        Packet::Publish(pb) => {
            let p = &pb.properties;
            r5::Packet::Publish(r5::Publish {
                dup: pb.dup,
                qos: q5(pb.qos),
                retain: pb.retain,
                topic: Bytes::copy_from_slice(pb.topic.as_str().as_bytes()),
                pkid: pb.packet_id.map_or(0, |id| id.get()),
                payload: pb.payload.clone(),
                properties: some_unless(p.is_empty(), || r5::PublishProperties {
                    payload_format_indicator: p.payload_format_indicator.map(|f| f as u8),
                    message_expiry_interval: p.message_expiry_interval,
                    topic_alias: p.topic_alias.map(|a| a.get()),
                    response_topic: p.response_topic.as_ref().map(|t| t.as_str().to_owned()),
                    correlation_data: p.correlation_data.clone(),
                    user_properties: user_props(&p.user_properties),
                    subscription_identifiers: p
                        .subscription_identifiers
                        .iter()
                        .map(|id| id.get() as usize)
                        .collect(),
                    content_type: opt_s(&p.content_type),
                }),
            })
        }
        Packet::PubAck(a) => ack5!(PubAck, PubAckProperties, puback_reason5, a),
        Packet::PubRec(a) => ack5!(PubRec, PubRecProperties, pubrec_reason5, a),
        Packet::PubRel(a) => ack5!(PubRel, PubRelProperties, pubrel_reason5, a),
        Packet::PubComp(a) => ack5!(PubComp, PubCompProperties, pubcomp_reason5, a),
        Packet::Subscribe(sub) => {
            let p = &sub.properties;
            r5::Packet::Subscribe(r5::Subscribe {
                pkid: sub.packet_id.get(),
                filters: sub
                    .filters
                    .iter()
                    .map(|(f, o)| r5::Filter {
                        path: f.as_str().to_owned(),
                        qos: q5(o.qos),
                        nolocal: o.no_local,
                        preserve_retain: o.retain_as_published,
                        retain_forward_rule: match o.retain_handling {
                            RetainHandling::SendAtSubscribe => {
                                r5::RetainForwardRule::OnEverySubscribe
                            }
                            RetainHandling::SendAtSubscribeIfNew => {
                                r5::RetainForwardRule::OnNewSubscribe
                            }
                            RetainHandling::DoNotSend => r5::RetainForwardRule::Never,
                        },
                    })
                    .collect(),
                properties: some_unless(p.is_empty(), || r5::SubscribeProperties {
                    id: p.subscription_identifier.map(|id| id.get() as usize),
                    user_properties: user_props(&p.user_properties),
                }),
            })
        }
        Packet::SubAck(a) => r5::Packet::SubAck(r5::SubAck {
            pkid: a.packet_id.get(),
            return_codes: a.reasons.iter().map(|r| suback_reason5(*r)).collect(),
            properties: some_unless(a.properties.is_empty(), || r5::SubAckProperties {
                reason_string: opt_s(&a.properties.reason_string),
                user_properties: user_props(&a.properties.user_properties),
            }),
        }),
        Packet::Unsubscribe(u) => r5::Packet::Unsubscribe(r5::Unsubscribe {
            pkid: u.packet_id.get(),
            filters: u.filters.iter().map(|f| f.as_str().to_owned()).collect(),
            properties: some_unless(u.properties.is_empty(), || r5::UnsubscribeProperties {
                user_properties: user_props(&u.properties.user_properties),
            }),
        }),
        Packet::UnsubAck(a) => r5::Packet::UnsubAck(r5::UnsubAck {
            pkid: a.packet_id.get(),
            reasons: a.reasons.iter().map(|r| unsuback_reason5(*r)).collect(),
            properties: some_unless(a.properties.is_empty(), || r5::UnsubAckProperties {
                reason_string: opt_s(&a.properties.reason_string),
                user_properties: user_props(&a.properties.user_properties),
            }),
        }),
        Packet::PingReq => r5::Packet::PingReq(r5::PingReq),
        Packet::PingResp => r5::Packet::PingResp(r5::PingResp),
        Packet::Disconnect(d) => {
            let p = &d.properties;
            r5::Packet::Disconnect(r5::Disconnect {
                reason_code: disconnect_reason5(d.reason),
                properties: some_unless(p.is_empty(), || r5::DisconnectProperties {
                    session_expiry_interval: p.session_expiry_interval,
                    reason_string: opt_s(&p.reason_string),
                    user_properties: user_props(&p.user_properties),
                    server_reference: opt_s(&p.server_reference),
                }),
            })
        }
        Packet::Auth(_) => unreachable!("AUTH is checked by check_auth"),
    }
}

/// The frame at the front of `bytes`, as rumqttc's `check` sees it.
fn r5_frame(bytes: &[u8]) -> Result<(r5::FixedHeader, Bytes), String> {
    let header = r5::check(bytes.iter(), None).map_err(|e| e.to_string())?;
    Ok((
        header,
        Bytes::copy_from_slice(&bytes[..header.frame_length()]),
    ))
}

/// Decodes one MQTT 5 packet with rumqttc, returning it and the bytes used.
fn r5_read(bytes: &[u8]) -> Result<(r5::Packet, usize), String> {
    // rumqttc deviation: `Packet::read` answers `PayloadRequired` to a
    // DISCONNECT of remaining length 0, the normal disconnection the
    // specification allows (§3.14.2.1) and the form we write; its
    // `Disconnect::read` handles it, so that is called directly.
    if bytes.starts_with(&[0xe0, 0x00]) {
        let (header, frame) = r5_frame(bytes)?;
        let d = r5::Disconnect::read(header, frame).map_err(|e| e.to_string())?;
        return Ok((r5::Packet::Disconnect(d), 2));
    }
    let mut stream = BytesMut::from(bytes);
    let packet = r5::Packet::read(&mut stream, None).map_err(|e| e.to_string())?;
    Ok((packet, bytes.len() - stream.len()))
}

/// Restricts a packet to what rumqttc's MQTT 5 reader and writer both
/// handle correctly.
fn rumqttc_v5_subset(mut packet: Packet) -> Packet {
    match &mut packet {
        Packet::Publish(p) => {
            // rumqttc deviation (reader): `PublishProperties::read` counts a
            // Subscription Identifier as `1 + id_len` after already counting
            // its identifier byte, so each one overcounts by a byte; after
            // three or more, the last short ones are left unread and end up
            // at the front of the payload. Keep at most two.
            p.properties.subscription_identifiers.truncate(2);
        }
        Packet::Disconnect(d)
            if d.reason != DisconnectReason::NormalDisconnection && d.properties.is_empty() =>
        {
            // A reason code other than normal and no properties is valid,
            // but rumqttc cannot handle it in either direction:
            // - reader deviation: `Disconnect::read` reads a property length
            //   whenever a reason code is present, and fails on remaining
            //   length 1 (a reason code alone, §3.14.2.2.1, what we write);
            // - writer deviation: with `properties: None`, `Disconnect::write`
            //   writes a zero property length that the remaining length does
            //   not count (E0 01 rc 00, a stray byte in the stream); with an
            //   empty `Some`, the remaining length is 2, which `write` takes
            //   for its "normal disconnection" marker, and it writes E0 00:
            //   the reason code is lost.
            // Such packets get a property.
            d.properties.reason_string = Some(MqttString::empty());
        }
        Packet::Auth(a) => {
            // rumqttc deviation (reader): `AuthProperties::read` counts an
            // Authentication Method or a Reason String as its length without
            // the two-byte length prefix, so it reads past the property list.
            a.properties.authentication_method = None;
            a.properties.reason_string = None;
            // Without a method, Authentication Data is a Protocol Error.
            a.properties.authentication_data = None;
            // rumqttc deviation (reader): `Auth::read` always reads a reason
            // code and a property length, failing on remaining length 0 and 1
            // (valid per §3.15.2.1 and §3.15.2.2.1, and what we write without
            // properties). The writer's deviation is handled in `check_auth`.
            if a.properties.is_empty() {
                a.properties
                    .user_properties
                    .push(sansmqtt_proto::UserProperty {
                        name: "k".try_into().unwrap(),
                        value: "v".try_into().unwrap(),
                    });
            }
        }
        _ => {}
    }
    packet
}

fn check_v5(packet: &Packet) -> Result<(), TestCaseError> {
    if let Packet::Auth(_) = packet {
        return check_auth(packet);
    }

    let expected = to_v5(packet);

    // sansmqtt -> rumqttc
    let ours = encode(packet, V5);
    let (decoded, used) = r5_read(&ours)
        .map_err(|e| TestCaseError::fail(format!("rumqttc refused our {packet:?}: {e}")))?;
    prop_assert_eq!(used, ours.len(), "rumqttc's frame vs ours");
    prop_assert_eq!(&decoded, &expected);

    // rumqttc -> sansmqtt
    let mut theirs = BytesMut::new();
    let n = expected
        .write(&mut theirs, None)
        .map_err(|e| TestCaseError::fail(format!("rumqttc could not write {expected:?}: {e}")))?;
    prop_assert_eq!(n, theirs.len(), "rumqttc's count vs what it wrote");
    let back = Packet::decode(theirs.freeze(), V5)
        .map_err(|e| TestCaseError::fail(format!("we refused rumqttc's {expected:?}: {e}")))?;
    prop_assert_eq!(&back, packet);
    Ok(())
}

/// A rumqttc AUTH with this reason code and no properties. `AuthReasonCode`
/// is not exported by rumqttc, so the value comes from its own reader.
fn r5_auth(reason: AuthReason) -> r5::Auth {
    let bytes = [0xf0, 0x02, reason.code(), 0x00];
    let (header, frame) = r5_frame(&bytes).expect("complete frame");
    r5::Auth::read(header, frame).expect("valid AUTH")
}

/// AUTH: rumqttc's `Packet` has no AUTH variant (deviation: `Packet::read`
/// answers `InvalidPacketType(15)`), so its `Auth::read` and `Auth::write`
/// are called directly, and the unexported reason and property types are
/// inspected through `Debug` and their public fields.
fn check_auth(packet: &Packet) -> Result<(), TestCaseError> {
    // sansmqtt -> rumqttc
    let Packet::Auth(ours) = packet else {
        unreachable!("an AUTH")
    };
    let bytes = encode(packet, V5);
    let (header, frame) = r5_frame(&bytes).map_err(TestCaseError::fail)?;
    prop_assert_eq!(header.frame_length(), bytes.len());
    let decoded = r5::Auth::read(header, frame)
        .map_err(|e| TestCaseError::fail(format!("rumqttc refused our {packet:?}: {e}")))?;
    prop_assert_eq!(format!("{:?}", decoded.code), auth_reason_name(ours.reason));
    let props = decoded.properties.as_ref().map(|p| {
        (
            p.method.clone(),
            p.data.clone(),
            p.reason.clone(),
            p.user_properties.clone(),
        )
    });
    let expected = some_unless(ours.properties.is_empty(), || {
        (
            opt_s(&ours.properties.authentication_method),
            ours.properties.authentication_data.clone(),
            opt_s(&ours.properties.reason_string),
            user_props(&ours.properties.user_properties),
        )
    });
    prop_assert_eq!(props, expected);

    // rumqttc -> sansmqtt, without properties: rumqttc deviation,
    // `AuthProperties::len` leaves out the two-byte length prefix of every
    // string and binary property (and of each user property's two strings),
    // so any AUTH it writes with properties has a wrong property length.
    let theirs_auth = r5_auth(ours.reason);
    let mut theirs = BytesMut::new();
    let n = theirs_auth
        .write(&mut theirs)
        .map_err(|e| TestCaseError::fail(format!("rumqttc could not write AUTH: {e}")))?;
    prop_assert_eq!(n, theirs.len());
    let back = Packet::decode(theirs.freeze(), V5)
        .map_err(|e| TestCaseError::fail(format!("we refused rumqttc's AUTH: {e}")))?;
    let expected = Packet::Auth(sansmqtt_proto::Auth {
        reason: ours.reason,
        ..Default::default()
    });
    prop_assert_eq!(back, expected);
    Ok(())
}

// ---------------------------------------------------------------------------
// The tests.

macro_rules! differential_tests {
    ($check:ident, $version:expr, $($name:ident => $kind:ident,)*) => {
        proptest! {
            $(
                #[test]
                fn $name(packet in differential_packet(PacketType::$kind, $version)) {
                    $check(&packet)?;
                }
            )*
        }
    };
}

differential_tests! {
    check_v4, V311,
    v311_connect => Connect,
    v311_connack => ConnAck,
    v311_publish => Publish,
    v311_puback => PubAck,
    v311_pubrec => PubRec,
    v311_pubrel => PubRel,
    v311_pubcomp => PubComp,
    v311_subscribe => Subscribe,
    v311_suback => SubAck,
    v311_unsubscribe => Unsubscribe,
    v311_unsuback => UnsubAck,
    v311_pingreq => PingReq,
    v311_pingresp => PingResp,
    v311_disconnect => Disconnect,
}

differential_tests! {
    check_v5, V5,
    v5_connect => Connect,
    v5_connack => ConnAck,
    v5_publish => Publish,
    v5_puback => PubAck,
    v5_pubrec => PubRec,
    v5_pubrel => PubRel,
    v5_pubcomp => PubComp,
    v5_subscribe => Subscribe,
    v5_suback => SubAck,
    v5_unsubscribe => Unsubscribe,
    v5_unsuback => UnsubAck,
    v5_pingreq => PingReq,
    v5_pingresp => PingResp,
    v5_disconnect => Disconnect,
    v5_auth => Auth,
}

/// Each rumqttc deviation that restricts the tests above, on concrete bytes.
/// If one of these starts failing after a rumqttc upgrade, the deviation is
/// gone and its restriction can be lifted.
#[test]
fn rumqttc_deviations() {
    // DISCONNECT, remaining length 0 (normal disconnection): valid, refused
    // by `Packet::read`.
    let mut b = BytesMut::from(&[0xe0, 0x00][..]);
    assert!(matches!(
        r5::Packet::read(&mut b, None),
        Err(m5::Error::PayloadRequired)
    ));

    // DISCONNECT, remaining length 1 (reason code, no property length): valid,
    // refused by `Disconnect::read`.
    let bytes = [0xe0, 0x01, 0x8b];
    let (header, frame) = r5_frame(&bytes).expect("complete frame");
    assert!(r5::Disconnect::read(header, frame).is_err());
    assert_eq!(
        Packet::decode(Bytes::copy_from_slice(&bytes), V5),
        Ok(Packet::Disconnect(sansmqtt_proto::Disconnect::new(
            DisconnectReason::ServerShuttingDown
        )))
    );

    // DISCONNECT with a reason and `properties: None`: one byte more than
    // the remaining length says.
    let mut out = BytesMut::new();
    let mut disconnect = r5::Disconnect::new(r5::DisconnectReasonCode::ServerShuttingDown);
    disconnect.write(&mut out).expect("written");
    assert_eq!(&out[..], &[0xe0, 0x01, 0x8b, 0x00]);

    // ... and with empty properties: the reason code is dropped.
    disconnect.properties = Some(r5::DisconnectProperties {
        session_expiry_interval: None,
        reason_string: None,
        user_properties: Vec::new(),
        server_reference: None,
    });
    let mut out = BytesMut::new();
    disconnect.write(&mut out).expect("written");
    assert_eq!(&out[..], &[0xe0, 0x00]);

    // AUTH: no `Packet` variant.
    let mut b = BytesMut::from(&[0xf0, 0x02, 0x18, 0x00][..]);
    assert!(matches!(
        r5::Packet::read(&mut b, None),
        Err(m5::Error::InvalidPacketType(15))
    ));

    // AUTH, remaining length 0 (success, valid): refused by `Auth::read`.
    let bytes = [0xf0, 0x00];
    let (header, frame) = r5_frame(&bytes).expect("complete frame");
    assert!(r5::Auth::read(header, frame).is_err());

    // AUTH with an Authentication Method "ab": property length 5, but
    // rumqttc counts 3 and reads on past the end.
    let bytes = [0xf0, 0x07, 0x18, 0x05, 0x15, 0x00, 0x02, b'a', b'b'];
    let (header, frame) = r5_frame(&bytes).expect("complete frame");
    assert!(r5::Auth::read(header, frame).is_err());
    assert!(Packet::decode(Bytes::copy_from_slice(&bytes), V5).is_ok());

    // AUTH written with Authentication Data [1]: property length 3 instead of 4.
    let mut auth = r5_auth(AuthReason::ContinueAuthentication);
    auth.properties = Some(Default::default());
    if let Some(p) = auth.properties.as_mut() {
        p.data = Some(Bytes::from_static(&[1]));
    }
    let mut out = BytesMut::new();
    auth.write(&mut out).expect("written");
    assert_eq!(&out[..], &[0xf0, 0x05, 0x18, 0x03, 0x16, 0x00, 0x01, 0x01]);
    assert!(Packet::decode(out.freeze(), V5).is_err());

    // PUBLISH with three Subscription Identifiers 1, 2, 3: rumqttc reads
    // only two, and the third (0x0b 0x03) becomes the front of the payload.
    let bytes = [
        0x30, 0x0a, 0x00, 0x01, b't', 0x06, 0x0b, 0x01, 0x0b, 0x02, 0x0b, 0x03,
    ];
    let mut b = BytesMut::from(&bytes[..]);
    let Ok(r5::Packet::Publish(p)) = r5::Packet::read(&mut b, None) else {
        panic!("rumqttc reads it")
    };
    let props = p.properties.expect("properties");
    assert_eq!(props.subscription_identifiers, vec![1, 2]);
    assert_eq!(&p.payload[..], &[0x0b, 0x03]);
    let Ok(Packet::Publish(ours)) = Packet::decode(Bytes::copy_from_slice(&bytes), V5) else {
        panic!("we read it")
    };
    assert_eq!(ours.properties.subscription_identifiers.len(), 3);
    assert!(ours.payload.is_empty());

    // CONNECT password: rumqttc refuses a non-UTF-8 one (valid Binary Data).
    let connect = [
        0x10, 0x12, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0xc2, 0x00, 0x3c, 0x00, 0x00, 0x00,
        0x01, b'u', 0x00, 0x01, 0xff,
    ];
    let mut b = BytesMut::from(&connect[..]);
    assert!(r4::Packet::read(&mut b, usize::MAX).is_err());
    assert!(Packet::decode(Bytes::copy_from_slice(&connect), V311).is_ok());
}
