//! Connect, disconnect and the protocol version (#14): CONNECT and will
//! properties on the wire, the negotiated CONNACK values
//! (`Client::server`), `protocol_version = "auto"` and the typed error for
//! an unsupported version, the client's DISCONNECT with a reason and
//! properties, a server's DISCONNECT surfaced, redirects. Against
//! mosquitto in MQTT 5 mode where it can produce the case, else against
//! the scripted `FakeBroker` (a 3.1.1-only broker, redirects, a server
//! DISCONNECT with properties). Normative ids in names (5.0 numbering
//! unless `v311`).

use std::time::Duration;

use futures_util::{Stream, StreamExt};
use sansmqtt::config::{ProtocolChoice, UserProperties, WillConfig};
use sansmqtt::{
    Client, ClientError, CloseReason, Config, ConnectError, ConnectReason, ConnectionState,
    DisconnectOptions, DisconnectReason, MqttString, PayloadFormat, ProtocolVersion, QoS,
    TopicName,
};

use crate::Rt;
use crate::runtime::{TestRuntime, blocking, spawn, timeout};
use crate::support::{Aedes, CONNACK_ACCEPTED, FakeBroker, Mosquitto, with_fixed_header};

/// Deadline of one step.
const T: Duration = Duration::from_secs(10);

/// A 3.1.1 CONNACK, return code 0x01 (unacceptable protocol version): a
/// 3.1.1-only broker's answer to an MQTT 5 CONNECT.
const V311_UNACCEPTABLE_VERSION: [u8; 4] = [0x20, 0x02, 0x00, 0x01];

/// An MQTT 5 CONNACK accepting, without properties.
const V5_CONNACK_ACCEPTED: [u8; 5] = [0x20, 0x03, 0x00, 0x00, 0x00];

fn v5() -> Config {
    Config {
        protocol_version: ProtocolVersion::V5.into(),
        reconnect_max_interval: Duration::from_millis(200),
        ..Config::default()
    }
}

fn mstr(s: &str) -> MqttString {
    MqttString::try_from(s).unwrap()
}

/// The protocol level byte of a CONNECT (after `10 len 00 04 M Q T T`;
/// lengths below 128 here).
fn level(connect: &[u8]) -> u8 {
    assert_eq!(connect[0], 0x10, "CONNECT, got {connect:02x?}");
    connect[8]
}

/// Starts `Client::connect` in the background (the test thread plays the
/// scripted broker meanwhile).
fn connect_in_background(
    uri: String,
    config: Config,
) -> impl std::future::Future<Output = Result<Client, ClientError>> + Send + 'static {
    spawn(async move { Client::connect(Rt::runtime(), &uri, config).await })
}

/// Accepts the next connection and reads its CONNECT.
fn next_connect(fake: &mut FakeBroker) -> Vec<u8> {
    fake.accept(T).expect("the client connects");
    fake.read_packet(T).expect("CONNECT")
}

/// A client connected to `fake`, which accepts its CONNECT (MQTT 5).
async fn accepted(fake: &mut FakeBroker, config: Config) -> Client {
    let pending = connect_in_background(fake.uri(), config);
    next_connect(fake);
    fake.write(&V5_CONNACK_ACCEPTED).unwrap();
    timeout(T, pending).await.unwrap().expect("connected")
}

/// A client connected to a real broker at `uri`.
async fn connect_to(uri: &str, config: Config) -> Client {
    timeout(T, Client::connect(Rt::runtime(), uri, config))
        .await
        .expect("connect in time")
        .expect("connected")
}

/// A CONNACK (`0x20`) or DISCONNECT (`0xe0`) whose body starts with
/// `head` (flags and reason, or the reason) and has one property, the
/// Server Reference `reference` (property length and reference length
/// below 128 here).
fn with_reference(first_byte: u8, head: &[u8], reference: &str) -> Vec<u8> {
    let mut body = head.to_vec();
    body.extend_from_slice(&[(reference.len() + 3) as u8, 0x1C, 0, reference.len() as u8]);
    body.extend_from_slice(reference.as_bytes());
    with_fixed_header(first_byte, &body)
}

async fn wait_state<S: Stream<Item = ConnectionState> + Unpin>(
    states: &mut S,
    want: impl Fn(&ConnectionState) -> bool,
) -> ConnectionState {
    loop {
        let s = timeout(T, states.next())
            .await
            .expect("state in time")
            .expect("a state");
        if want(&s) {
            return s;
        }
    }
}

// ------------------------------------------------------------ the version

/// 3.1.1 MQTT-3.1.2-2 (the server's side): a 3.1.1-only broker answers an
/// MQTT 5 CONNECT with the 3.1.1 CONNACK 0x01. With `protocol_version = 5`
/// the connect fails with the typed error naming MQTT 5, not with a
/// malformed packet.
#[test]
fn v311_mqtt_3_1_2_2_a_v311_only_broker_refuses_v5_with_a_typed_error() {
    Rt::block_on(async {
        let (mut fake, _) = FakeBroker::bind();
        let pending = connect_in_background(fake.uri(), v5());
        let connect = next_connect(&mut fake);
        assert_eq!(level(&connect), 5);
        fake.write(&V311_UNACCEPTABLE_VERSION).unwrap();
        let error = timeout(T, pending).await.expect("answered").unwrap_err();
        assert_eq!(
            error,
            ClientError::Connect(ConnectError::UnsupportedProtocolVersion {
                version: ProtocolVersion::V5
            })
        );
        assert!(
            error.to_string().contains("does not support MQTT 5"),
            "{error}"
        );
        // A refusal is not retried.
        assert!(fake.accept(Duration::from_millis(500)).is_err());
    });
}

/// `protocol_version = "auto"`: the refused MQTT 5 CONNECT is followed at
/// once by a 3.1.1 one (level 4) on a new connection; the connection is
/// 3.1.1 (`server().version`), and a reconnection keeps 3.1.1.
#[test]
fn auto_falls_back_to_3_1_1_and_keeps_it_for_reconnects() {
    Rt::block_on(async {
        let (mut fake, _) = FakeBroker::bind();
        let config = Config {
            protocol_version: ProtocolChoice::Auto,
            ..v5()
        };
        let pending = connect_in_background(fake.uri(), config);
        assert_eq!(level(&next_connect(&mut fake)), 5);
        fake.write(&V311_UNACCEPTABLE_VERSION).unwrap();
        // 3.1.1 MQTT-3.1.2-2: the server closes after the refusal.
        fake.drop_connection();
        assert_eq!(level(&next_connect(&mut fake)), 4, "then 3.1.1");
        fake.write(&CONNACK_ACCEPTED).unwrap();
        let client = timeout(T, pending).await.unwrap().expect("connected");
        let server = client.server().expect("CONNACK seen");
        assert_eq!(server.version, ProtocolVersion::V3_1_1);
        // A 3.1.1 round trip: a QoS 1 publish and its PUBACK.
        let c = client.clone();
        let publish = spawn(async move { c.publish("t", "x", QoS::AtLeastOnce, false).await });
        let p = fake.read_packet(T).unwrap();
        assert_eq!(p[0] >> 4, 3, "PUBLISH");
        let id = [p[p.len() - 3], p[p.len() - 2]];
        fake.write(&[0x40, 0x02, id[0], id[1]]).unwrap();
        timeout(T, publish).await.unwrap().expect("acknowledged");
        // Lost: the reconnection speaks 3.1.1 at once.
        fake.drop_connection();
        assert_eq!(
            level(&next_connect(&mut fake)),
            4,
            "the version that worked"
        );
        fake.write(&CONNACK_ACCEPTED).unwrap();
        client.disconnect().await;
    });
}

/// 5.0 §3.2.2.2: an MQTT 5 CONNACK 0x84 (Unsupported Protocol Version)
/// makes "auto" fall back too; a broker that refuses 3.1.1 as well ends
/// the connect with the error naming 3.1.1.
#[test]
fn auto_falls_back_on_connack_0x84_and_names_the_last_refused_version() {
    Rt::block_on(async {
        let (mut fake, _) = FakeBroker::bind();
        let config = Config {
            protocol_version: ProtocolChoice::Auto,
            ..v5()
        };
        let pending = connect_in_background(fake.uri(), config);
        assert_eq!(level(&next_connect(&mut fake)), 5);
        fake.write(&[0x20, 0x03, 0x00, 0x84, 0x00]).unwrap();
        assert_eq!(level(&next_connect(&mut fake)), 4);
        fake.write(&V311_UNACCEPTABLE_VERSION).unwrap();
        let error = timeout(T, pending).await.unwrap().unwrap_err();
        assert_eq!(
            error,
            ClientError::Connect(ConnectError::UnsupportedProtocolVersion {
                version: ProtocolVersion::V3_1_1
            })
        );
    });
}

/// "auto" against mosquitto (which speaks 5): MQTT 5 is used, no fallback.
#[test]
fn auto_speaks_5_to_mosquitto() {
    Rt::block_on(async {
        let broker = blocking(|| Mosquitto::start(""));
        let config = Config {
            protocol_version: ProtocolChoice::Auto,
            ..Config::default()
        };
        let client = connect_to(&broker.uri(), config).await;
        assert_eq!(client.server().unwrap().version, ProtocolVersion::V5);
        client.disconnect().await;
    });
}

// ---------------------------------------------------- CONNECT properties

/// The CONNECT a config with every MQTT 5 key makes, byte for byte:
/// 5.0 MQTT-3.1.2-11 ff. (properties of CONNECT, §3.1.2.11) and
/// MQTT-3.1.3-9 ff. (Will Properties, §3.1.3.2), in the encoder's order.
#[test]
fn mqtt_3_1_2_11_and_3_1_3_2_connect_and_will_properties_on_the_wire() {
    Rt::block_on(async {
        let (mut fake, _) = FakeBroker::bind();
        let mut will = WillConfig::new(TopicName::try_from("w").unwrap());
        will.message = "x".into();
        will.delay_interval = Some(Duration::from_secs(30));
        will.payload_format = Some(PayloadFormat::Utf8);
        will.message_expiry = Some(Duration::from_secs(60));
        will.content_type = Some(mstr("t"));
        will.response_topic = Some(TopicName::try_from("r").unwrap());
        will.correlation_data = Some("c".into());
        will.user_properties = UserProperties::new().with("k", "v").unwrap();
        let config = Config {
            client_id: Some("c5".into()),
            receive_maximum: std::num::NonZeroU16::new(10),
            max_packet_size: Some(4096),
            topic_alias_maximum: Some(5),
            request_response_information: true,
            request_problem_information: Some(false),
            user_properties: UserProperties::new().with("a", "b").unwrap(),
            will: Some(will),
            ..v5()
        };
        let pending = connect_in_background(fake.uri(), config);
        let connect = next_connect(&mut fake);
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            &[0x10, 75][..],
            &[0, 4, b'M', b'Q', b'T', b'T', 5],
            &[0x06],                            // will flag, clean start
            &[0, 10],                           // keep alive
            &[22],                              // property length
            &[0x21, 0, 10],                     // receive maximum
            &[0x27, 0, 0, 0x10, 0],             // maximum packet size 4096
            &[0x22, 0, 5],                      // topic alias maximum
            &[0x19, 1],                         // request response information
            &[0x17, 0],                         // request problem information
            &[0x26, 0, 1, b'a', 0, 1, b'b'],    // user property
            &[0, 2, b'c', b'5'],                // client identifier
            &[31],                              // will property length
            &[0x18, 0, 0, 0, 30],               // will delay interval
            &[0x01, 1],                         // payload format indicator
            &[0x02, 0, 0, 0, 60],               // message expiry interval
            &[0x03, 0, 1, b't'],                // content type
            &[0x08, 0, 1, b'r'],                // response topic
            &[0x09, 0, 1, b'c'],                // correlation data
            &[0x26, 0, 1, b'k', 0, 1, b'v'],    // user property
            &[0, 1, b'w'],                      // will topic
            &[0, 1, b'x'],                      // will payload
        ]
        .concat();
        assert_eq!(connect, expected);
        fake.write(&V5_CONNACK_ACCEPTED).unwrap();
        let client = timeout(T, pending).await.unwrap().expect("connected");
        client.disconnect().await;
    });
}

/// The will properties reach the subscriber of the will (mosquitto in
/// MQTT 5), published because the client disconnects with 0x04
/// Disconnect with Will Message (§3.14.2.1: the server publishes the will).
#[test]
fn disconnect_with_will_message_publishes_the_will_with_its_properties() {
    Rt::block_on(async {
        let broker = blocking(|| Mosquitto::start(""));
        let watcher = connect_to(&broker.uri(), v5()).await;
        let mut wills = watcher
            .subscription("will/#", QoS::AtLeastOnce)
            .await
            .unwrap();
        let mut will = WillConfig::new(TopicName::try_from("will/a").unwrap());
        will.message = "gone".into();
        will.qos = QoS::AtLeastOnce;
        will.content_type = Some(mstr("text/plain"));
        will.payload_format = Some(PayloadFormat::Utf8);
        will.correlation_data = Some("id-1".into());
        will.response_topic = Some(TopicName::try_from("will/reply").unwrap());
        will.user_properties = UserProperties::new().with("k", "v").unwrap();
        let config = Config {
            will: Some(will),
            ..v5()
        };
        let leaving = connect_to(&broker.uri(), config).await;
        let options = DisconnectOptions::new().reason(DisconnectReason::DisconnectWithWillMessage);
        leaving.disconnect_with(options).await.expect("sent");
        let m = timeout(T, wills.next()).await.expect("the will").unwrap();
        assert_eq!(m.topic().as_str(), "will/a");
        assert_eq!(&m.payload()[..], b"gone");
        let p = m.properties();
        assert_eq!(p.content_type.as_deref(), Some("text/plain"));
        assert_eq!(p.payload_format_indicator, Some(PayloadFormat::Utf8));
        assert_eq!(p.correlation_data.as_deref(), Some(&b"id-1"[..]));
        assert_eq!(
            p.response_topic.as_ref().map(|t| t.as_str()),
            Some("will/reply")
        );
        assert!(
            p.user_properties
                .iter()
                .any(|u| u.name == "k" && u.value == "v"),
            "{:?}",
            p.user_properties
        );
        watcher.disconnect().await;
    });
}

// ---------------------------------------------------- CONNACK negotiated

/// Every negotiated CONNACK value (5.0 §3.2.2.3) readable after connect;
/// MQTT-3.2.2-16: the Assigned Client Identifier (for an empty one) is
/// kept, and the reconnection's CONNECT carries it (the session is known
/// by it).
#[test]
fn mqtt_3_2_2_16_connack_values_readable_and_assigned_id_kept_for_reconnects() {
    Rt::block_on(async {
        let (mut fake, _) = FakeBroker::bind();
        let config = Config {
            client_id: Some(String::new()),
            ..v5()
        };
        let pending = connect_in_background(fake.uri(), config);
        let connect = next_connect(&mut fake);
        // Empty property list (00), then an empty client identifier (00 00).
        assert_eq!(&connect[12..], &[0, 0, 0], "{connect:02x?}");
        #[rustfmt::skip]
        let properties: Vec<u8> = [
            &[0x12, 0, 6][..], b"srv-42",          // assigned client identifier
            &[0x13, 0, 5],                         // server keep alive 5 s
            &[0x21, 0, 7],                         // receive maximum 7
            &[0x24, 1],                            // maximum QoS 1
            &[0x25, 0],                            // retain not available
            &[0x27, 0, 0, 4, 0],                   // maximum packet size 1024
            &[0x22, 0, 3],                         // topic alias maximum 3
            &[0x28, 0], &[0x29, 0], &[0x2A, 0],    // wildcard, ids, shared: no
            &[0x1A, 0, 4], b"resp",                // response information
            &[0x1C, 0, 5], b"other",               // server reference
            &[0x1F, 0, 2], b"hi",                  // reason string
            &[0x26, 0, 1, b'k', 0, 1, b'v'],       // user property
        ]
        .concat();
        let mut body = vec![0x00, 0x00, properties.len() as u8];
        body.extend_from_slice(&properties);
        fake.write(&with_fixed_header(0x20, &body)).unwrap();
        let client = timeout(T, pending).await.unwrap().expect("connected");
        let s = client.server().expect("negotiated values");
        assert_eq!(s.version, ProtocolVersion::V5);
        assert_eq!(s.client_id, "srv-42");
        assert_eq!(s.assigned_client_id.as_deref(), Some("srv-42"));
        assert_eq!(s.keep_alive, Duration::from_secs(5));
        assert_eq!(s.receive_maximum, 7);
        assert_eq!(s.maximum_qos, QoS::AtLeastOnce);
        assert!(!s.retain_available);
        assert_eq!(s.maximum_packet_size, Some(1024));
        assert_eq!(s.topic_alias_maximum, 3);
        assert!(!s.wildcard_subscription_available);
        assert!(!s.subscription_identifiers_available);
        assert!(!s.shared_subscription_available);
        assert_eq!(s.response_information.as_deref(), Some("resp"));
        assert_eq!(s.server_reference.as_deref(), Some("other"));
        assert_eq!(s.reason_string.as_deref(), Some("hi"));
        assert_eq!(s.user_properties.len(), 1);
        // The limits apply: QoS 2 is above the server's maximum.
        let refused = client.publish("t", "x", QoS::ExactlyOnce, false).await;
        assert!(
            matches!(refused, Err(ClientError::Publish(_))),
            "{refused:?}"
        );
        // Reconnection: the assigned identifier names the session.
        fake.drop_connection();
        let again = next_connect(&mut fake);
        assert_eq!(&again[12..], b"\0\0\x06srv-42", "{again:02x?}");
        fake.write(&V5_CONNACK_ACCEPTED).unwrap();
        client.disconnect().await;
    });
}

/// mosquitto assigns an identifier to an empty one (MQTT-3.2.2-16) and
/// it is readable after connect.
#[test]
fn mqtt_3_2_2_16_mosquitto_assigns_a_client_identifier() {
    Rt::block_on(async {
        let broker = blocking(|| Mosquitto::start(""));
        let config = Config {
            client_id: Some(String::new()),
            ..v5()
        };
        let client = connect_to(&broker.uri(), config).await;
        let s = client.server().unwrap();
        let assigned = s.assigned_client_id.clone().expect("assigned");
        assert!(!assigned.is_empty());
        assert_eq!(s.client_id, assigned);
        client.disconnect().await;
    });
}

// ------------------------------------------------------------ disconnect

/// The client's DISCONNECT with a reason, a session expiry, a reason
/// string and a user property, byte for byte (5.0 §3.14.2); then the
/// client stays down.
#[test]
fn mqtt_3_14_2_client_disconnect_with_reason_and_properties_on_the_wire() {
    Rt::block_on(async {
        let (mut fake, _) = FakeBroker::bind();
        let config = Config {
            session_expiry: Some(Duration::from_secs(60)),
            ..v5()
        };
        let client = accepted(&mut fake, config).await;
        let options = DisconnectOptions::new()
            .reason(DisconnectReason::DisconnectWithWillMessage)
            .session_expiry(Duration::from_secs(30))
            .reason_string(mstr("bye"))
            .user_properties(UserProperties::new().with("k", "v").unwrap());
        let c = client.clone();
        let done = spawn(async move { c.disconnect_with(options).await });
        let d = fake.read_packet(T).unwrap();
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            &[0xe0, 20, 0x04, 18][..],
            &[0x11, 0, 0, 0, 30],               // session expiry interval
            &[0x1F, 0, 3, b'b', b'y', b'e'],    // reason string
            &[0x26, 0, 1, b'k', 0, 1, b'v'],    // user property
        ]
        .concat();
        assert_eq!(d, expected);
        assert!(fake.expect_eof(T), "the client closes the connection");
        timeout(T, done).await.unwrap().unwrap();
        // MQTT-3.14.2-2 is checked before anything is sent: refused here
        // (no session expiry in CONNECT) without touching the connection.
        let (mut fake2, _) = FakeBroker::bind();
        let client = accepted(&mut fake2, v5()).await;
        let bad = DisconnectOptions::new().session_expiry(Duration::from_secs(5));
        assert!(matches!(
            client.disconnect_with(bad).await,
            Err(ClientError::Disconnect(_))
        ));
        client.disconnect().await;
    });
}

/// A server's DISCONNECT (5.0 §3.14, here 0x8B Server shutting down with a
/// Reason String) is surfaced in the connection state, and a ping waiting
/// for its PINGRESP fails with it.
#[test]
fn server_disconnect_reason_and_properties_reach_state_and_errors() {
    Rt::block_on(async {
        let (mut fake, _) = FakeBroker::bind();
        let config = Config {
            auto_reconnect: false,
            ..v5()
        };
        let client = accepted(&mut fake, config).await;
        let mut states = client.state_changes();
        let c = client.clone();
        let ping = spawn(async move { c.ping().await });
        assert_eq!(fake.read_packet(T).unwrap(), [0xc0, 0x00]);
        // DISCONNECT 0x8B, Reason String "maintenance".
        let mut body = vec![0x8B, 14, 0x1F, 0, 11];
        body.extend_from_slice(b"maintenance");
        fake.write(&with_fixed_header(0xe0, &body)).unwrap();
        let state = wait_state(&mut states, |s| {
            matches!(s, ConnectionState::Disconnected { .. })
        })
        .await;
        let ConnectionState::Disconnected {
            reason: Some(CloseReason::ServerDisconnect { reason, properties }),
        } = &state
        else {
            panic!("{state:?}");
        };
        assert_eq!(*reason, DisconnectReason::ServerShuttingDown);
        assert_eq!(properties.reason_string.as_deref(), Some("maintenance"));
        let error = timeout(T, ping).await.unwrap().unwrap_err();
        assert!(
            matches!(
                &error,
                ClientError::Connection(CloseReason::ServerDisconnect { reason, .. })
                    if *reason == DisconnectReason::ServerShuttingDown
            ),
            "{error:?}"
        );
    });
}

// ------------------------------------------------------------- redirects

/// A CONNACK 0x9C Use another server with a Server Reference
/// (`127.0.0.1:PORT`, §4.11) is followed with `follow_redirects`: the
/// client connects there and the first connect succeeds.
#[test]
fn connack_use_another_server_is_followed_when_configured() {
    Rt::block_on(async {
        let (mut first, _) = FakeBroker::bind();
        let (mut second, port) = FakeBroker::bind();
        let config = Config {
            follow_redirects: true,
            ..v5()
        };
        let pending = connect_in_background(first.uri(), config);
        next_connect(&mut first);
        let reference = format!("127.0.0.1:{port}");
        first
            .write(&with_reference(0x20, &[0x00, 0x9C], &reference))
            .unwrap();
        assert_eq!(level(&next_connect(&mut second)), 5);
        second.write(&V5_CONNACK_ACCEPTED).unwrap();
        let client = timeout(T, pending).await.unwrap().expect("redirected");
        client.disconnect().await;
    });
}

/// Without `follow_redirects` (the default) the redirect is the answer:
/// a refusal carrying the Server Reference.
#[test]
fn connack_redirect_is_an_error_by_default() {
    Rt::block_on(async {
        let (mut fake, _) = FakeBroker::bind();
        let pending = connect_in_background(fake.uri(), v5());
        next_connect(&mut fake);
        fake.write(&with_reference(0x20, &[0x00, 0x9D], "elsewhere"))
            .unwrap();
        let error = timeout(T, pending).await.unwrap().unwrap_err();
        let ClientError::Connection(CloseReason::Refused { reason, properties }) = &error else {
            panic!("{error:?}");
        };
        assert_eq!(*reason, ConnectReason::ServerMoved);
        assert_eq!(properties.server_reference.as_deref(), Some("elsewhere"));
    });
}

/// A server DISCONNECT 0x9D Server moved with a URI reference, once
/// connected: surfaced in the state, then the client connects to the new
/// server at once, and later reconnections go there too.
#[test]
fn server_moved_disconnect_is_followed_and_kept() {
    Rt::block_on(async {
        let (mut old, _) = FakeBroker::bind();
        let (mut new, _) = FakeBroker::bind();
        let config = Config {
            follow_redirects: true,
            ..v5()
        };
        let client = accepted(&mut old, config).await;
        let mut states = client.state_changes();
        old.write(&with_reference(0xe0, &[0x9D], &new.uri()))
            .unwrap();
        let state = wait_state(&mut states, |s| {
            matches!(s, ConnectionState::Disconnected { .. })
        })
        .await;
        assert!(
            matches!(
                &state,
                ConnectionState::Disconnected {
                    reason: Some(CloseReason::ServerDisconnect {
                        reason: DisconnectReason::ServerMoved,
                        ..
                    })
                }
            ),
            "{state:?}"
        );
        next_connect(&mut new);
        new.write(&V5_CONNACK_ACCEPTED).unwrap();
        wait_state(&mut states, |s| {
            matches!(s, ConnectionState::Connected { .. })
        })
        .await;
        // Lost: back to the new server, not the old one.
        new.drop_connection();
        next_connect(&mut new);
        new.write(&V5_CONNACK_ACCEPTED).unwrap();
        wait_state(&mut states, |s| {
            matches!(s, ConnectionState::Connected { .. })
        })
        .await;
        client.disconnect().await;
    });
}

// ------------------------------------------- interoperability with aedes

/// aedes (the Node.js broker, MQTT 3.1.1 only), when Node.js is present:
/// `None` (the test skips, with the support's note) otherwise.
fn aedes() -> Option<Aedes> {
    blocking(Aedes::start)
}

/// The 3.1.1 flows against aedes: QoS 0, 1 and 2 round trips (each
/// delivered at the QoS it was published with, the subscription granting
/// 2), a retained message for a later subscriber (3.1.1 MQTT-3.3.1-6,
/// retain flag set MQTT-3.3.1-8).
#[test]
fn aedes_v311_qos_round_trips_and_retained() {
    Rt::block_on(async {
        let Some(broker) = aedes() else { return };
        let client = connect_to(&broker.uri(), Config::default()).await;
        let mut stream = client
            .subscription("aedes/q/+", QoS::ExactlyOnce)
            .await
            .unwrap();
        for (n, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
            .into_iter()
            .enumerate()
        {
            let topic = format!("aedes/q/{n}");
            client
                .publish(topic.as_str(), format!("m{n}"), qos, false)
                .await
                .unwrap();
            let m = timeout(T, stream.next()).await.expect("delivered").unwrap();
            assert_eq!(m.topic().as_str(), topic);
            assert_eq!(&m.payload()[..], format!("m{n}").as_bytes());
            assert_eq!(m.qos(), qos);
        }
        client
            .publish("aedes/retained", "kept", QoS::AtLeastOnce, true)
            .await
            .unwrap();
        let late = connect_to(&broker.uri(), Config::default()).await;
        let mut retained = late
            .subscription("aedes/retained", QoS::AtLeastOnce)
            .await
            .unwrap();
        let m = timeout(T, retained.next())
            .await
            .expect("retained")
            .unwrap();
        assert_eq!(&m.payload()[..], b"kept");
        assert!(m.retain());
        late.disconnect().await;
        client.disconnect().await;
    });
}

/// The will against aedes: published when the connection ends without a
/// DISCONNECT (3.1.1 MQTT-3.1.2-8), here closed by the broker.
#[test]
fn aedes_v311_will_is_published_on_an_abrupt_end() {
    Rt::block_on(async {
        let Some(mut broker) = aedes() else { return };
        let watcher = connect_to(&broker.uri(), Config::default()).await;
        let mut wills = watcher
            .subscription("aedes/will", QoS::AtLeastOnce)
            .await
            .unwrap();
        let mut will = WillConfig::new(TopicName::try_from("aedes/will").unwrap());
        will.message = "gone".into();
        will.qos = QoS::AtLeastOnce;
        let config = Config {
            client_id: Some("aedes-will".into()),
            auto_reconnect: false,
            will: Some(will),
            ..Config::default()
        };
        let leaving = connect_to(&broker.uri(), config).await;
        blocking(|| broker.close_client("aedes-will"));
        let m = timeout(T, wills.next()).await.expect("the will").unwrap();
        assert_eq!(&m.payload()[..], b"gone");
        drop(leaving);
        watcher.disconnect().await;
    });
}

/// The v5 fallback against a real 3.1.1-only broker: `protocol_version =
/// 5` fails with the typed error; `"auto"` connects in 3.1.1 and works.
#[test]
fn aedes_refuses_v5_and_auto_falls_back_to_3_1_1() {
    Rt::block_on(async {
        let Some(broker) = aedes() else { return };
        let error = timeout(T, Client::connect(Rt::runtime(), &broker.uri(), v5()))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(
            error,
            ClientError::Connect(ConnectError::UnsupportedProtocolVersion {
                version: ProtocolVersion::V5
            })
        );
        let config = Config {
            protocol_version: ProtocolChoice::Auto,
            ..Config::default()
        };
        let client = connect_to(&broker.uri(), config).await;
        assert_eq!(client.server().unwrap().version, ProtocolVersion::V3_1_1);
        let mut stream = client
            .subscription("aedes/auto", QoS::AtLeastOnce)
            .await
            .unwrap();
        client
            .publish("aedes/auto", "ok", QoS::AtLeastOnce, false)
            .await
            .unwrap();
        let m = timeout(T, stream.next()).await.expect("delivered").unwrap();
        assert_eq!(&m.payload()[..], b"ok");
        client.disconnect().await;
    });
}
