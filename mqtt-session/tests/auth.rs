//! MQTT 5 enhanced authentication (§4.12, AUTH §3.15) in the session: who
//! may send which AUTH when, the Authentication Method checks both ways,
//! the CONNACK held until the application accepted the server's final
//! data, and the client's abort. Simulated time, no IO; named after the
//! normative statement each test proves.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use sansmqtt_proto::{
    Auth, AuthReason, ConnAck, ConnectReason, DisconnectReason, MqttString, Packet,
    ProtocolVersion, QoS,
};
use sansmqtt_session::{CloseReason, Event, ProtocolError, SessionOptions, StateError};

const V5: ProtocolVersion = ProtocolVersion::V5;
const METHOD: &str = "SCRAM-SHA-256";

fn mstr(s: &str) -> MqttString {
    MqttString::try_from(s).unwrap()
}

/// MQTT 5 options with an Authentication Method.
fn with_method() -> SessionOptions {
    let mut o = options(V5);
    o.properties.authentication_method = Some(mstr(METHOD));
    o
}

fn auth(reason: AuthReason, method: Option<&str>, data: Option<&'static [u8]>) -> Auth {
    let mut a = Auth {
        reason,
        ..Auth::default()
    };
    a.properties.authentication_method = method.map(mstr);
    a.properties.authentication_data = data.map(Bytes::from_static);
    a
}

fn connack(method: Option<&str>, data: Option<&'static [u8]>) -> ConnAck {
    let mut ack = ConnAck::new(false, ConnectReason::Success);
    ack.properties.authentication_method = method.map(mstr);
    ack.properties.authentication_data = data.map(Bytes::from_static);
    ack
}

/// A session that sent CONNECT (its bytes taken).
fn connecting(o: SessionOptions) -> Harness {
    let mut h = Harness::new(o);
    h.session.connect(h.now).unwrap();
    h.sent();
    h
}

/// A session with an Authentication Method, connected (final data accepted).
fn connected() -> Harness {
    let mut h = connecting(with_method());
    h.receive(connack(Some(METHOD), None));
    assert_eq!(h.events(), [Event::AuthSuccess { data: None }]);
    h.session.accept_auth(h.now);
    assert!(matches!(&h.events()[..], [Event::Connected(_)]));
    h
}

/// The server broke §4.12: the typed close, and DISCONNECT 0x82 (Protocol
/// Error) on the wire (before CONNACK too, §4.13.1).
fn assert_protocol_error(h: &mut Harness, error: ProtocolError) {
    let events = h.events();
    assert_eq!(
        events.last(),
        Some(&Event::Closed(CloseReason::ProtocolViolation(error))),
        "{events:?}"
    );
    assert_eq!(h.sent_bytes(), [0xe0, 0x01, 0x82]);
    assert!(!h.session.is_connected());
}

/// MQTT-4.12.0-6: without an Authentication Method in CONNECT the server
/// must not send AUTH: before CONNACK and after it, a protocol error.
#[test]
fn mqtt_4_12_0_6_auth_from_server_without_method_in_connect() {
    let mut h = connecting(options(V5));
    h.receive(auth(
        AuthReason::ContinueAuthentication,
        Some(METHOD),
        Some(b"x"),
    ));
    assert_protocol_error(&mut h, ProtocolError::AuthWithoutMethod);

    let mut h = Harness::new(options(V5));
    h.connect(false);
    h.receive(auth(AuthReason::Success, Some(METHOD), None));
    assert_protocol_error(&mut h, ProtocolError::AuthWithoutMethod);
}

/// MQTT-4.12.0-6: ... nor an Authentication Method in CONNACK.
#[test]
fn mqtt_4_12_0_6_connack_with_method_without_method_in_connect() {
    let mut h = connecting(options(V5));
    h.receive(connack(Some(METHOD), None));
    assert_protocol_error(&mut h, ProtocolError::AuthWithoutMethod);
}

/// MQTT-4.12.0-5: every AUTH from the server carries CONNECT's method: an
/// AUTH with another one (or none) is a protocol error.
#[test]
fn mqtt_4_12_0_5_server_auth_with_another_method() {
    let mut h = connecting(with_method());
    h.receive(auth(
        AuthReason::ContinueAuthentication,
        Some("PLAIN"),
        Some(b"x"),
    ));
    assert_protocol_error(
        &mut h,
        ProtocolError::AuthMethodMismatch {
            expected: mstr(METHOD),
            received: Some(mstr("PLAIN")),
        },
    );
    let mut h = connecting(with_method());
    h.receive(auth(AuthReason::ContinueAuthentication, None, None));
    assert_protocol_error(
        &mut h,
        ProtocolError::AuthMethodMismatch {
            expected: mstr(METHOD),
            received: None,
        },
    );
}

/// MQTT-4.12.0-5: ... and so does a successful CONNACK; a refusing one
/// need not (it is a refusal whatever it carries).
#[test]
fn mqtt_4_12_0_5_successful_connack_without_the_method() {
    let mut h = connecting(with_method());
    h.receive(connack(None, None));
    assert_protocol_error(
        &mut h,
        ProtocolError::AuthMethodMismatch {
            expected: mstr(METHOD),
            received: None,
        },
    );
    let mut h = connecting(with_method());
    h.receive(ConnAck::new(false, ConnectReason::BadAuthenticationMethod));
    assert!(matches!(
        &h.events()[..],
        [Event::Closed(CloseReason::Refused {
            reason: ConnectReason::BadAuthenticationMethod,
            ..
        })]
    ));
    assert!(h.sent_bytes().is_empty());
}

/// MQTT-4.12.0-2 (server's AUTH before CONNACK is 0x18), MQTT-4.12.1-1
/// (0x19 is the client's): a server AUTH 0x19, an AUTH 0x00 before CONNACK,
/// or an AUTH after CONNACK outside a re-authentication is a protocol error.
#[test]
fn mqtt_4_12_0_2_server_auth_reason_codes_out_of_place() {
    for reason in [AuthReason::ReAuthenticate, AuthReason::Success] {
        let mut h = connecting(with_method());
        h.receive(auth(reason, Some(METHOD), None));
        assert_protocol_error(&mut h, ProtocolError::UnexpectedAuth(reason));
    }
    for reason in [AuthReason::ContinueAuthentication, AuthReason::Success] {
        let mut h = connected();
        h.receive(auth(reason, Some(METHOD), None));
        assert_protocol_error(&mut h, ProtocolError::UnexpectedAuth(reason));
    }
}

/// MQTT-4.12.0-7: without an Authentication Method in CONNECT the client
/// sends no AUTH: `auth()` refuses, nothing goes out.
#[test]
fn mqtt_4_12_0_7_no_client_auth_without_method() {
    let mut h = Harness::new(options(V5));
    h.connect(false);
    let refused = h
        .session
        .auth(auth(AuthReason::ReAuthenticate, None, None), h.now);
    assert!(
        matches!(refused, Err(StateError::InvalidAuth(why)) if why.contains("MQTT-4.12.0-7")),
        "{refused:?}"
    );
    assert!(h.sent_bytes().is_empty());
}

/// MQTT-4.12.1-1: a re-authentication uses CONNECT's method: `auth()`
/// refuses another one, and fills in CONNECT's when none is given (bytes).
#[test]
fn mqtt_4_12_1_1_reauthentication_uses_the_connect_method() {
    let mut h = connected();
    let refused = h
        .session
        .auth(auth(AuthReason::ReAuthenticate, Some("PLAIN"), None), h.now);
    assert!(
        matches!(refused, Err(StateError::InvalidAuth(why)) if why.contains("MQTT-4.12.1-1")),
        "{refused:?}"
    );
    assert!(h.sent_bytes().is_empty());
    h.session
        .auth(auth(AuthReason::ReAuthenticate, None, Some(b"n")), h.now)
        .unwrap();
    #[rustfmt::skip]
    let expected = [
        0xf0, 0x16,                   // AUTH, remaining 22
        0x19,                         // Re-authenticate
        0x14,                         // property length 20
        0x15, 0x00, 0x0d,             // authentication method, 13 bytes
        b'S', b'C', b'R', b'A', b'M', b'-', b'S', b'H', b'A', b'-', b'2', b'5', b'6',
        0x16, 0x00, 0x01, b'n',       // authentication data
    ];
    assert_eq!(h.sent_bytes(), expected);
    assert!(h.session.is_reauthenticating());
}

/// MQTT-4.12.0-3 (the client answers with 0x18), MQTT-4.12.1-1 (0x19
/// starts a re-authentication, after CONNACK): the reason codes the client
/// may not send at a point are refused, nothing goes out.
#[test]
fn mqtt_4_12_0_3_client_auth_reason_codes_out_of_place() {
    let mut h = connecting(with_method());
    for reason in [AuthReason::ReAuthenticate, AuthReason::Success] {
        assert!(matches!(
            h.session.auth(auth(reason, None, None), h.now),
            Err(StateError::InvalidAuth(_))
        ));
    }
    let mut h = connected();
    // 0x18 and 0x00 only within a re-authentication (0x00 never).
    for reason in [AuthReason::ContinueAuthentication, AuthReason::Success] {
        assert!(matches!(
            h.session.auth(auth(reason, None, None), h.now),
            Err(StateError::InvalidAuth(_))
        ));
    }
    h.session
        .auth(auth(AuthReason::ReAuthenticate, None, None), h.now)
        .unwrap();
    // One re-authentication at a time.
    assert!(matches!(
        h.session
            .auth(auth(AuthReason::ReAuthenticate, None, None), h.now),
        Err(StateError::InvalidAuth(_))
    ));
    h.sent();
    h.receive(auth(
        AuthReason::ContinueAuthentication,
        Some(METHOD),
        Some(b"c"),
    ));
    assert!(matches!(&h.events()[..], [Event::Auth(_)]));
    h.session
        .auth(
            auth(AuthReason::ContinueAuthentication, None, Some(b"r")),
            h.now,
        )
        .unwrap();
    assert!(
        matches!(&h.sent()[..], [Packet::Auth(a)] if a.reason == AuthReason::ContinueAuthentication)
    );
    h.receive(auth(AuthReason::Success, Some(METHOD), Some(b"v")));
    assert_eq!(
        h.events(),
        [Event::AuthSuccess {
            data: Some(Bytes::from_static(b"v"))
        }]
    );
    assert!(!h.session.is_reauthenticating());
    // Over: the server's 0x00 again is out of place.
    h.receive(auth(AuthReason::Success, Some(METHOD), None));
    assert_protocol_error(&mut h, ProtocolError::UnexpectedAuth(AuthReason::Success));
}

/// The CONNACK of an enhanced authentication is held until the application
/// accepts the server's final data: what came behind it in the same read is
/// not decoded, queued publishes do not go out; `accept_auth` then connects
/// and delivers in order.
#[test]
fn connack_held_until_the_final_data_is_accepted() {
    let mut h = connecting(with_method());
    h.session
        .publish(msg("t", b"queued", QoS::AtLeastOnce), h.now)
        .unwrap();
    let mut bytes = bytes::BytesMut::new();
    Packet::ConnAck(connack(Some(METHOD), Some(b"v=sig")))
        .encode(V5, &mut bytes)
        .unwrap();
    Packet::Publish(msg("in", b"behind", QoS::AtMostOnce))
        .encode(V5, &mut bytes)
        .unwrap();
    h.receive_bytes(&bytes);
    assert_eq!(
        h.events(),
        [Event::AuthSuccess {
            data: Some(Bytes::from_static(b"v=sig"))
        }]
    );
    assert!(!h.session.is_connected());
    assert!(h.sent_bytes().is_empty());
    // No AUTH while the final data is checked.
    assert_eq!(
        h.session
            .auth(auth(AuthReason::ContinueAuthentication, None, None), h.now),
        Err(StateError::NotConnected)
    );
    h.session.accept_auth(h.now);
    let events = h.events();
    assert!(
        matches!(&events[..], [Event::Connected(_), Event::Message(m)]
            if &m.publish.payload[..] == b"behind"),
        "{events:?}"
    );
    assert!(matches!(&h.sent()[..], [Packet::Publish(p)] if &p.payload[..] == b"queued"));
}

/// An application that never answers the final data: the CONNACK deadline
/// still closes the connection.
#[test]
fn held_connack_times_out_without_an_answer() {
    let mut o = with_method();
    o.connect_timeout = Duration::from_secs(5);
    let mut h = connecting(o);
    h.receive(connack(Some(METHOD), None));
    h.events();
    h.advance(Duration::from_secs(5));
    assert_eq!(h.events(), [Event::Closed(CloseReason::ConnAckTimeout)]);
}

/// MQTT-3.1.2-30 (DISCONNECT allowed before CONNACK), MQTT-4.12.1-2 (a
/// failed re-authentication ends with DISCONNECT): `abort_auth` sends
/// DISCONNECT 0x83 and closes with AuthAborted, on a challenge, on the
/// held CONNACK, and during a re-authentication.
#[test]
fn mqtt_4_12_1_2_abort_sends_disconnect_0x83_and_closes() {
    let challenge = auth(AuthReason::ContinueAuthentication, Some(METHOD), Some(b"c"));
    let mut on_challenge = connecting(with_method());
    on_challenge.receive(challenge.clone());
    let mut on_connack = connecting(with_method());
    on_connack.receive(connack(Some(METHOD), Some(b"v=bad")));
    let mut on_reauth = connected();
    on_reauth
        .session
        .auth(auth(AuthReason::ReAuthenticate, None, None), on_reauth.now)
        .unwrap();
    on_reauth.sent();
    on_reauth.receive(challenge);
    for mut h in [on_challenge, on_connack, on_reauth] {
        h.events();
        h.session.abort_auth(h.now).unwrap();
        assert_eq!(h.events(), [Event::Closed(CloseReason::AuthAborted)]);
        assert_eq!(
            h.sent_bytes(),
            [
                0xe0,
                0x01,
                DisconnectReason::ImplementationSpecificError.code()
            ]
        );
        assert_eq!(h.session.abort_auth(h.now), Err(StateError::NotConnected));
    }
}

/// Each connection starts a fresh exchange: `connect_with_auth_data` puts
/// this connection's data in CONNECT, the method stays the options'.
#[test]
fn each_connect_carries_its_own_authentication_data() {
    let mut o = with_method();
    o.properties.authentication_data = Some(Bytes::from_static(b"from options"));
    let mut h = Harness::new(o);
    for data in [&b"first"[..], b"second"] {
        h.session
            .connect_with_auth_data(Some(Bytes::copy_from_slice(data)), h.now)
            .unwrap();
        match &h.sent()[..] {
            [Packet::Connect(c)] => {
                assert_eq!(c.properties.authentication_method, Some(mstr(METHOD)));
                assert_eq!(c.properties.authentication_data.as_deref(), Some(data));
            }
            other => panic!("{other:?}"),
        }
        h.session.connection_lost(h.now);
        h.events();
    }
    // Plain `connect` sends the options' data.
    h.session.connect(h.now).unwrap();
    assert!(matches!(&h.sent()[..], [Packet::Connect(c)]
        if c.properties.authentication_data.as_deref() == Some(&b"from options"[..])));
}

/// A re-authentication cut by a lost connection does not outlive it: on
/// the next connection the server's AUTH 0x00 is out of place.
#[test]
fn a_reauthentication_ends_with_its_connection() {
    let mut h = connected();
    h.session
        .auth(auth(AuthReason::ReAuthenticate, None, None), h.now)
        .unwrap();
    h.session.connection_lost(h.now);
    h.events();
    assert!(!h.session.is_reauthenticating());
    h.session.connect(h.now).unwrap();
    h.sent();
    h.receive(connack(Some(METHOD), None));
    h.events();
    h.session.accept_auth(h.now);
    h.events();
    h.receive(auth(AuthReason::Success, Some(METHOD), None));
    assert_protocol_error(&mut h, ProtocolError::UnexpectedAuth(AuthReason::Success));
}
