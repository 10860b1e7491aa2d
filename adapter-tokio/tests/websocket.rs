//! `ws://` and `wss://`: round trips through mosquitto's websockets
//! listeners (loopback only), and a small tungstenite server that records
//! the upgrade request (path, subprotocol, `extra_headers`) and speaks MQTT
//! in frames cut at odd places.

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

mod pki;

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use futures_util::StreamExt;
use pki::Pki;
use sansmqtt_tokio::{
    BrokerUri, ClientError, Config, ConnectionState, Connector, DefaultConnector, QoS, TokioRuntime,
};
use support::Mosquitto;
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http::{HeaderValue, StatusCode};
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::{Message, WebSocket};

const TIMEOUT: Duration = Duration::from_secs(10);

fn fail_fast() -> Config {
    Config {
        auto_reconnect: false,
        connect_timeout: Duration::from_secs(5),
        ..Config::default()
    }
}

async fn round_trip(uri: &str, config: Config) {
    let client = tokio::time::timeout(TIMEOUT, sansmqtt_tokio::connect(uri, config))
        .await
        .expect("connect timed out")
        .unwrap_or_else(|e| panic!("connect to {uri}: {e}"));
    let mut sub = client.subscription("ws/#", QoS::ExactlyOnce).await.unwrap();
    // A payload spanning several WebSocket frames too. (Not much larger:
    // mosquitto 2.0.11's websockets listener sends large messages slowly,
    // about 40 KB/s here, to any WebSocket client.)
    let big = vec![0x5a; 30_000];
    for (topic, payload, qos) in [
        ("ws/a", b"over WebSocket".to_vec(), QoS::AtMostOnce),
        ("ws/b", big, QoS::AtLeastOnce),
        ("ws/c", b"exactly once".to_vec(), QoS::ExactlyOnce),
    ] {
        client
            .publish(topic, payload.clone(), qos, false)
            .await
            .unwrap();
        let m = tokio::time::timeout(TIMEOUT, sub.next())
            .await
            .expect("no message")
            .expect("stream ended");
        assert_eq!(m.topic().as_str(), topic);
        assert_eq!(&m.payload()[..], &payload[..]);
    }
    client.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_and_wss_round_trips_through_mosquitto() {
    let pki = Pki::new();
    let config = format!(
        "listener {{port0}} 127.0.0.1\nprotocol websockets\n{}",
        pki.listener("{port1}", &pki.server, "protocol websockets")
    );
    let (_broker, ports) = Mosquitto::start_with_ports(2, &config);
    round_trip(&format!("ws://127.0.0.1:{}/mqtt", ports[0]), fail_fast()).await;
    round_trip(&format!("ws://localhost:{}/", ports[0]), fail_fast()).await;
    let tls = Config {
        cafile: Some(pki.ca.clone()),
        ..fail_fast()
    };
    round_trip(&format!("wss://localhost:{}/mqtt", ports[1]), tls).await;
    // wss verifies the certificate like mqtts.
    let e = tokio::time::timeout(
        TIMEOUT,
        sansmqtt_tokio::connect(&format!("wss://localhost:{}/mqtt", ports[1]), fail_fast()),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert!(matches!(e, ClientError::Connect(_)), "{e:?}");
}

/// What the test server saw of the upgrade request.
#[derive(Debug)]
struct Upgrade {
    path: String,
    headers: BTreeMap<String, String>,
}

/// How the test server answers the upgrade.
#[derive(Clone, Copy)]
enum Answer {
    /// 101 with `Sec-WebSocket-Protocol: mqtt`, then MQTT.
    Mqtt,
    /// 101 without a subprotocol.
    NoSubprotocol,
    /// 404.
    NotFound,
}

/// A one-connection WebSocket server: records the upgrade request, answers
/// as told, and with [`Answer::Mqtt`] reads CONNECT and answers CONNACK
/// split over two messages and followed, in the second one, by the start of
/// a PUBLISH whose end comes in a fragmented message after a ping; the
/// thread's result says whether the client answered the ping.
// tungstenite's callback returns its large error response as is.
#[allow(clippy::result_large_err)]
fn ws_server(answer: Answer) -> (u16, mpsc::Receiver<Upgrade>, thread::JoinHandle<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
        let callback = |request: &Request, mut response: Response| {
            let headers = request
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        v.to_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            let _ = tx.send(Upgrade {
                path: request.uri().to_string(),
                headers,
            });
            match answer {
                Answer::Mqtt => {
                    response
                        .headers_mut()
                        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
                    Ok(response)
                }
                Answer::NoSubprotocol => Ok(response),
                Answer::NotFound => {
                    let mut refusal = ErrorResponse::new(Some("no MQTT here".into()));
                    *refusal.status_mut() = StatusCode::NOT_FOUND;
                    Err(refusal)
                }
            }
        };
        match tungstenite::accept_hdr(tcp, callback) {
            Ok(mut ws) if matches!(answer, Answer::Mqtt) => serve_mqtt(&mut ws),
            // The client refuses an answer without subprotocol.
            _ => false,
        }
    });
    (port, rx, server)
}

/// Serves one MQTT connection over `ws` (see [`ws_server`]); whether the
/// client answered the ping. Sends may fail once the client is gone.
fn serve_mqtt(ws: &mut WebSocket<TcpStream>) -> bool {
    let connect = match ws.read() {
        Ok(Message::Binary(b)) => b,
        other => panic!("CONNECT expected, got {other:?}"),
    };
    assert_eq!(connect[0] >> 4, 1, "{connect:02x?}");
    let publish = support::publish("ws/split", b"payload in pieces", 0, None, false);
    let rest = &publish[5..];
    let (a, b) = rest.split_at(rest.len() / 2);
    // CONNACK in two messages, the second with the start of PUBLISH; a
    // ping; the rest of PUBLISH in a message of two frames.
    let mut second = support::CONNACK_ACCEPTED[1..].to_vec();
    second.extend_from_slice(&publish[..5]);
    let script = [
        Message::binary(support::CONNACK_ACCEPTED[..1].to_vec()),
        Message::binary(second),
        Message::Ping("are you there".into()),
        Message::Frame(Frame::message(
            a.to_vec(),
            OpCode::Data(Data::Binary),
            false,
        )),
        Message::Frame(Frame::message(
            b.to_vec(),
            OpCode::Data(Data::Continue),
            true,
        )),
    ];
    for message in script {
        if ws.send(message).is_err() {
            return false;
        }
    }
    // The client answers the ping (and later subscribes, disconnects...).
    let mut ponged = false;
    while let Ok(message) = ws.read() {
        match message {
            Message::Pong(p) if &p[..] == b"are you there" => ponged = true,
            Message::Close(_) => break,
            _ => {}
        }
    }
    ponged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_request_carries_path_subprotocol_and_extra_headers() {
    let (port, upgrade, server) = ws_server(Answer::Mqtt);
    let config = Config {
        extra_headers: BTreeMap::from([
            ("Authorization".to_owned(), "Bearer t0ken".to_owned()),
            ("X-Client".to_owned(), "sansmqtt test".to_owned()),
        ])
        .try_into()
        .expect("valid headers"),
        ..fail_fast()
    };
    let client = tokio::time::timeout(
        TIMEOUT,
        sansmqtt_tokio::connect(&format!("ws://127.0.0.1:{port}/mqtt?x=1"), config),
    )
    .await
    .unwrap()
    .unwrap();
    let upgrade = upgrade.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(upgrade.path, "/mqtt?x=1");
    let h = &upgrade.headers;
    assert_eq!(h["sec-websocket-protocol"], "mqtt", "{h:?}");
    assert_eq!(h["authorization"], "Bearer t0ken", "{h:?}");
    assert_eq!(h["x-client"], "sansmqtt test", "{h:?}");
    assert_eq!(h["host"], format!("127.0.0.1:{port}"), "{h:?}");
    client.disconnect().await;
    server.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_split_across_messages_arrive_whole() {
    let (port, _upgrade, server) = ws_server(Answer::Mqtt);
    let client = tokio::time::timeout(
        TIMEOUT,
        sansmqtt_tokio::connect(&format!("ws://127.0.0.1:{port}/"), fail_fast()),
    )
    .await
    .unwrap()
    .unwrap();
    let m = tokio::time::timeout(TIMEOUT, client.deliver_message())
        .await
        .expect("no message")
        .expect("client closed");
    assert_eq!(m.topic().as_str(), "ws/split");
    assert_eq!(&m.payload()[..], b"payload in pieces");
    let mut states = client.state_changes();
    client.disconnect().await;
    while let Ok(Some(state)) = tokio::time::timeout(TIMEOUT, states.next()).await {
        if matches!(
            state,
            ConnectionState::Disconnected { .. } | ConnectionState::Closed
        ) {
            break;
        }
    }
    assert!(server.join().unwrap(), "the client did not answer the ping");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upgrade_or_a_missing_subprotocol_fails_with_the_cause() {
    let runtime = Arc::new(TokioRuntime::current());
    for (answer, cause) in [
        (Answer::NotFound, "HTTP 404"),
        (Answer::NoSubprotocol, "subprotocol"),
    ] {
        let (port, _upgrade, server) = ws_server(answer);
        let uri = BrokerUri::parse(&format!("ws://127.0.0.1:{port}/mqtt?token=s3cret")).unwrap();
        let connector = DefaultConnector::new(runtime.clone(), &fail_fast()).unwrap();
        let e = match tokio::time::timeout(TIMEOUT, connector.connect(&uri)).await {
            Ok(Err(e)) => e.to_string(),
            Ok(Ok(_)) => panic!("connected"),
            Err(_) => panic!("timed out"),
        };
        assert!(e.contains(cause), "expected {cause:?} in {e:?}");
        assert!(e.contains("/mqtt"), "{e}");
        // The query (a token, a signature) stays out of the error.
        assert!(!e.contains("s3cret"), "{e}");
        server.join().unwrap();
    }
}
