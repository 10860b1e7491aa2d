//! Request / response (MQTT 5 §4.10): `Client::request` against mosquitto
//! with a requester and a responder client (1,000 concurrent requests,
//! none lost, none crossed), timeouts, dropped requests, foreign
//! correlation data, the subscription restored after a broker restart,
//! the typed errors (MQTT 3.1.1, a message without response topic), and
//! the Response Topic and Correlation Data on the wire (scripted broker
//! giving Response Information).

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::future::{Either, join_all, select};
use sansmqtt::{
    Bytes, Client, ClientError, Config, ConnectionState, Message, MqttString, ProtocolVersion,
    Publish, QoS, RequestOptions, Subscription, TopicName,
};

use super::connect;
use crate::Rt;
use crate::runtime::{TestRuntime, blocking, spawn, timeout};
use crate::support::{FakeBroker, Mosquitto, packet_id};

/// Deadline of one step.
const T: Duration = Duration::from_secs(10);

fn v5(client_id: &str) -> Config {
    Config {
        protocol_version: ProtocolVersion::V5.into(),
        client_id: Some(client_id.to_owned()),
        ..Config::default()
    }
}

/// A responder client and the task answering its requests (dropping the
/// task may cancel it, on some runtimes).
struct Responder {
    client: Client,
    _answers: Pin<Box<dyn Future<Output = ()> + Send>>,
}

/// A responder on `topic` answering each request with `re:` and its
/// payload, up to `concurrency` answers in flight.
async fn responder(uri: &str, topic: &str, concurrency: usize) -> Responder {
    let client = connect(uri, v5("rr-responder")).await;
    let requests = client
        .subscription(topic, QoS::AtLeastOnce)
        .await
        .expect("the responder subscribes");
    let c = client.clone();
    let answers = spawn(requests.for_each_concurrent(concurrency, move |request| {
        let c = c.clone();
        async move {
            let mut answer = b"re:".to_vec();
            answer.extend_from_slice(request.payload());
            // Ends with the client: a failure then is no test failure.
            let _ = c.respond(&request, answer).await;
        }
    }));
    Responder {
        client,
        _answers: Box::pin(answers),
    }
}

/// A broker, a requester, and a spy client with a stream of the requests
/// to `topic` (which it does not answer).
async fn spied(topic: &str) -> (Mosquitto, Client, Client, Subscription) {
    let broker = blocking(|| Mosquitto::start(""));
    let uri = broker.uri();
    let requester = connect(&uri, v5("rr-requester")).await;
    let spy = connect(&uri, v5("rr-spy")).await;
    let seen = spy.subscription(topic, QoS::AtLeastOnce).await.unwrap();
    (broker, requester, spy, seen)
}

/// Waits (up to `T`) until `f` holds.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + T;
    while !f() {
        assert!(Instant::now() < deadline, "never: {what}");
        Rt::sleep(Duration::from_millis(10)).await;
    }
}

/// 1,000 requests at once over one response subscription: every caller
/// gets the reply to its own request (derived from its payload), none is
/// lost, none dropped.
#[test]
fn thousand_concurrent_requests_none_lost_none_crossed() {
    Rt::block_on(async {
        let broker = blocking(|| Mosquitto::start("max_queued_messages 10000\n"));
        let uri = broker.uri();
        let responder = responder(&uri, "rr/echo", 256).await;
        let requester = connect(&uri, v5("rr-requester")).await;
        let started = Instant::now();
        let replies = join_all((0..1000).map(|i| {
            let requester = &requester;
            async move {
                let options = RequestOptions::new().qos(QoS::AtLeastOnce);
                let reply = requester
                    .request_with("rr/echo", format!("request {i}"), options)
                    .await;
                (i, reply)
            }
        }));
        let replies = timeout(T, replies).await.expect("1,000 replies in time");
        for (i, reply) in replies {
            let reply = reply.unwrap_or_else(|e| panic!("request {i}: {e}"));
            assert_eq!(
                &reply.payload()[..],
                format!("re:request {i}").as_bytes(),
                "request {i} got another's reply"
            );
            let topic = reply.properties().response_topic.as_ref();
            assert!(topic.is_none(), "a reply is no request");
        }
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_secs(5),
            "1,000 requests took {elapsed:?}"
        );
        assert_eq!(requester.stats().replies_dropped, 0);
        requester.disconnect().await;
        responder.client.disconnect().await;
    });
}

/// No responder: the request fails with `Timeout` after its timeout; a
/// reply coming after that is dropped (counted), and the client serves the
/// next request.
#[test]
fn a_request_without_answer_times_out_and_a_late_reply_is_dropped() {
    Rt::block_on(async {
        let (broker, requester, spy, mut seen) = spied("rr/silent").await;
        let uri = broker.uri();
        let options = RequestOptions::new()
            .qos(QoS::AtLeastOnce)
            .timeout(Duration::from_millis(300));
        let started = Instant::now();
        let outcome = requester
            .request_with("rr/silent", "anyone?", options)
            .await;
        assert_eq!(outcome, Err(ClientError::Timeout));
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(started.elapsed() < T);
        // The request was published; answering it now is too late.
        let request = timeout(T, seen.next()).await.unwrap().expect("the request");
        spy.respond(&request, "late").await.unwrap();
        eventually("the late reply is dropped", || {
            requester.stats().replies_dropped == 1
        })
        .await;
        // The response subscription still serves.
        let _responder = responder(&uri, "rr/echo", 8).await;
        let reply = requester.request("rr/echo", "again").await.unwrap();
        assert_eq!(&reply.payload()[..], b"re:again");
    });
}

/// A caller that drops its request future frees its slot: the reply is
/// dropped (counted), delivered to nobody else.
#[test]
fn a_dropped_request_frees_its_slot() {
    Rt::block_on(async {
        let (_broker, requester, spy, mut seen) = spied("rr/slow").await;
        let request = {
            let call = std::pin::pin!(requester.request("rr/slow", "will you?"));
            let next = std::pin::pin!(timeout(T, seen.next()));
            match select(call, next).await {
                Either::Right((seen, _call)) => seen.unwrap().expect("the request"),
                Either::Left((outcome, _)) => panic!("answered before the spy saw it: {outcome:?}"),
            }
            // The request future is dropped here.
        };
        let mut other = requester.subscription("#", QoS::AtLeastOnce).await.unwrap();
        spy.respond(&request, "too late").await.unwrap();
        // mosquitto may send a copy per matching subscription (the
        // response topic's and `#`): each is dropped.
        eventually("the orphan reply is dropped", || {
            requester.stats().replies_dropped >= 1
        })
        .await;
        // Not delivered elsewhere either: the catch-all stream gets only
        // what is published next.
        requester
            .publish("rr/marker", "marker", QoS::AtLeastOnce, false)
            .await
            .unwrap();
        let next = timeout(T, other.next()).await.unwrap().unwrap();
        assert_eq!(next.topic().as_str(), "rr/marker");
    });
}

/// Replies with foreign or missing correlation data on the response topic
/// are dropped and counted; the caller still gets its own reply.
#[test]
fn replies_with_foreign_or_missing_correlation_data_are_dropped() {
    Rt::block_on(async {
        let (_broker, requester, spy, mut seen) = spied("rr/ask").await;
        let r = requester.clone();
        let call = spawn(async move { r.request("rr/ask", "question").await });
        let request = timeout(T, seen.next()).await.unwrap().expect("the request");
        let response_topic = request
            .properties()
            .response_topic
            .clone()
            .expect("MQTT-3.3.2-14: the request has a Response Topic");
        let correlation = request.properties().correlation_data.clone();
        assert_eq!(correlation.as_ref().map(Bytes::len), Some(16));
        for data in [Some(Bytes::from_static(b"not-yours-0123456")), None] {
            let mut stray = Publish::at_most_once(response_topic.clone(), "stray");
            stray.qos = QoS::AtLeastOnce;
            stray.packet_id = sansmqtt::PacketId::new(1);
            stray.properties.correlation_data = data;
            spy.publish_packet(stray).await.unwrap();
        }
        spy.respond(&request, "yours").await.unwrap();
        let reply = timeout(T, call).await.unwrap().expect("the reply");
        assert_eq!(&reply.payload()[..], b"yours");
        assert_eq!(reply.properties().correlation_data, correlation);
        eventually("both strays are dropped", || {
            requester.stats().replies_dropped == 2
        })
        .await;
    });
}

/// The response subscription is kept like the application's: after a
/// broker restart (a new session) it is made again, and requests work.
#[test]
fn the_response_subscription_is_restored_after_a_new_session() {
    Rt::block_on(async {
        let mut broker = blocking(|| Mosquitto::start(""));
        let uri = broker.uri();
        let fast = |id| Config {
            reconnect_max_interval: Duration::from_millis(500),
            reconnect_retries: -1,
            ..v5(id)
        };
        let requester = connect(&uri, fast("rr-restore")).await;
        let responder = connect(&uri, fast("rr-restore-responder")).await;
        let mut requests = responder
            .subscription("rr/echo", QoS::AtLeastOnce)
            .await
            .unwrap();
        let answer = |responder: Client, request: Message| async move {
            responder.respond(&request, "pong").await.unwrap();
        };
        let r = requester.clone();
        let call = spawn(async move { r.request("rr/echo", "ping").await });
        let request = timeout(T, requests.next()).await.unwrap().unwrap();
        answer(responder.clone(), request).await;
        assert_eq!(
            &timeout(T, call).await.unwrap().unwrap().payload()[..],
            b"pong"
        );

        let requester_states = requester.state_changes();
        let responder_states = responder.state_changes();
        blocking(|| broker.restart());
        timeout(T, reconnected(requester_states))
            .await
            .expect("the requester reconnects");
        timeout(T, reconnected(responder_states))
            .await
            .expect("the responder reconnects");
        // The responder's own subscription is back once its probe comes
        // through (its SUBSCRIBE went out before the probe).
        responder
            .publish("rr/echo", "probe", QoS::AtLeastOnce, false)
            .await
            .unwrap();
        let probe = timeout(T, requests.next()).await.unwrap().unwrap();
        assert_eq!(&probe.payload()[..], b"probe");
        let r = requester.clone();
        let call = spawn(async move { r.request("rr/echo", "ping").await });
        let request = timeout(T, requests.next()).await.unwrap().unwrap();
        answer(responder.clone(), request).await;
        let reply = timeout(T, call)
            .await
            .unwrap()
            .expect("a reply after the restart");
        assert_eq!(&reply.payload()[..], b"pong");
    });
}

/// Ready once `states` (from `state_changes`, taken while connected) show
/// the connection lost, then accepted again with a new session.
async fn reconnected(mut states: impl futures_util::Stream<Item = ConnectionState> + Unpin) {
    let mut lost = false;
    while let Some(state) = states.next().await {
        match state {
            ConnectionState::Connected { session_present } if lost => {
                assert!(!session_present, "mosquitto restarted without sessions");
                return;
            }
            ConnectionState::Connected { .. } => {}
            _ => lost = true,
        }
    }
}

/// MQTT 3.1.1 has no Response Topic: `request` is a typed error there, and
/// answering a message without Response Topic is one everywhere.
#[test]
fn request_in_mqtt_3_1_1_and_respond_without_response_topic_are_typed_errors() {
    Rt::block_on(async {
        let broker = blocking(|| Mosquitto::start(""));
        let uri = broker.uri();
        let config = Config {
            protocol_version: ProtocolVersion::V3_1_1.into(),
            ..Config::default()
        };
        let old = connect(&uri, config).await;
        let outcome = old.request("rr/echo", "hello").await;
        assert_eq!(outcome, Err(ClientError::NeedsMqtt5("request / response")));

        let client = connect(&uri, v5("rr-plain")).await;
        let mut stream = client
            .subscription("rr/plain", QoS::AtLeastOnce)
            .await
            .unwrap();
        client
            .publish("rr/plain", "no topic", QoS::AtLeastOnce, false)
            .await
            .unwrap();
        let plain = timeout(T, stream.next()).await.unwrap().unwrap();
        assert_eq!(
            client.respond(&plain, "to whom?").await,
            Err(ClientError::NoResponseTopic)
        );
    });
}

// ------------------------------------------------------------ on the wire

/// A v5 CONNACK, accepted, with Response Information `info`.
fn connack_with_response_information(info: &str) -> Vec<u8> {
    let mut props = vec![0x1a];
    props.extend_from_slice(&(info.len() as u16).to_be_bytes());
    props.extend_from_slice(info.as_bytes());
    let mut p = vec![0x20, (3 + props.len()) as u8, 0x00, 0x00, props.len() as u8];
    p.extend_from_slice(&props);
    p
}

/// A v5 SUBACK granting QoS 1 to one filter.
fn suback_v5(id: u16) -> Vec<u8> {
    let id = id.to_be_bytes();
    vec![0x90, 0x04, id[0], id[1], 0x00, 0x01]
}

/// A v5 QoS 0 PUBLISH with Correlation Data `data`.
fn publish_v5(topic: &str, data: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut body = (topic.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(topic.as_bytes());
    body.push((3 + data.len()) as u8);
    body.push(0x09);
    body.extend_from_slice(&(data.len() as u16).to_be_bytes());
    body.extend_from_slice(data);
    body.extend_from_slice(payload);
    let mut p = vec![0x30, body.len() as u8];
    p.extend_from_slice(&body);
    p
}

/// The body of a packet (after the fixed header).
fn body(p: &[u8]) -> &[u8] {
    let mut i = 1;
    while p[i] & 0x80 != 0 {
        i += 1;
    }
    &p[i + 1..]
}

/// A property: its identifier and its value's bytes.
type Property = (u8, Vec<u8>);

/// A v5 PUBLISH of QoS 1 taken apart: topic, properties (id, value bytes),
/// payload.
fn parse_publish_v5(p: &[u8]) -> (String, Vec<Property>, Vec<u8>) {
    let b = body(p);
    let n = usize::from(u16::from_be_bytes([b[0], b[1]]));
    let topic = String::from_utf8(b[2..2 + n].to_vec()).unwrap();
    let mut at = 2 + n + 2; // topic, packet id
    let props_len = usize::from(b[at]);
    assert!(props_len < 0x80, "a one-byte property length");
    at += 1;
    let end = at + props_len;
    let mut props = Vec::new();
    while at < end {
        let id = b[at];
        at += 1;
        let len = |at: usize| usize::from(u16::from_be_bytes([b[at], b[at + 1]]));
        let size = match id {
            // Response Topic, Correlation Data, Content Type: one length.
            0x08 | 0x09 | 0x03 => 2 + len(at),
            // User Property: two strings.
            0x26 => 2 + len(at) + 2 + len(at + 2 + len(at)),
            other => panic!("unexpected property {other:#04x}"),
        };
        props.push((id, b[at..at + size].to_vec()));
        at += size;
    }
    (topic, props, b[end..].to_vec())
}

/// Length-prefixed bytes, as properties carry them.
fn prefixed(s: &[u8]) -> Vec<u8> {
    let mut v = (s.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(s);
    v
}

/// With the broker's Response Information the response topic is
/// `<information>/response` (§4.10); the client subscribes to it and waits
/// for the SUBACK before publishing the request, which carries Response
/// Topic (0x08, MQTT-3.3.2-13/14), Correlation Data (0x09) and the
/// options' properties; the reply with that correlation data answers it.
#[test]
fn response_topic_and_correlation_data_on_the_wire() {
    Rt::block_on(async {
        let (mut fake, _) = FakeBroker::bind();
        let uri = fake.uri();
        let pending =
            spawn(async move { Client::connect(Rt::runtime(), &uri, v5("rr-wire")).await });
        blocking(|| {
            fake.accept(T).expect("the client connects");
            let connect = fake.read_packet(T).expect("CONNECT");
            assert_eq!(connect[0], 0x10);
            fake.write(&connack_with_response_information("granted/rr-wire/"))
                .unwrap();
        });
        let client = timeout(T, pending).await.unwrap().expect("connected");
        let c = client.clone();
        let options = RequestOptions::new()
            .qos(QoS::AtLeastOnce)
            .content_type(MqttString::try_from("text/plain").unwrap())
            .user_property(
                MqttString::try_from("k").unwrap(),
                MqttString::try_from("v").unwrap(),
            );
        let call = spawn(async move { c.request_with("svc/wire", "question", options).await });

        let (publish, correlation) = blocking(|| {
            let (subscribe, _) = fake.read_until_type(8, T).expect("SUBSCRIBE");
            let b = body(&subscribe);
            let filter = b"granted/rr-wire/response";
            let at = b.len() - 1 - filter.len() - 2;
            assert_eq!(&b[at..at + 2], &(filter.len() as u16).to_be_bytes());
            assert_eq!(&b[at + 2..b.len() - 1], filter);
            assert_eq!(b[b.len() - 1] & 0x03, 1, "the response topic at QoS 1");
            // Nothing is published before the SUBACK.
            assert!(fake.expect_silence(Duration::from_millis(200)).is_ok());
            fake.write(&suback_v5(packet_id(&subscribe).unwrap()))
                .unwrap();
            let (publish, _) = fake.read_until_type(3, T).expect("the request");
            let (topic, props, payload) = parse_publish_v5(&publish);
            assert_eq!(topic, "svc/wire");
            assert_eq!(payload, b"question");
            let get = |id| props.iter().find(|(i, _)| *i == id).map(|(_, v)| v.clone());
            assert_eq!(get(0x08), Some(prefixed(b"granted/rr-wire/response")));
            assert_eq!(get(0x03), Some(prefixed(b"text/plain")));
            let mut user = prefixed(b"k");
            user.extend_from_slice(&prefixed(b"v"));
            assert_eq!(get(0x26), Some(user));
            let correlation = get(0x09).expect("Correlation Data");
            assert_eq!(correlation.len(), 2 + 16);
            let id = packet_id(&publish).unwrap().to_be_bytes();
            fake.write(&[0x40, 0x02, id[0], id[1]]).unwrap();
            (publish, correlation[2..].to_vec())
        });
        assert_eq!(publish[0] & 0x06, 0x02, "QoS 1");
        blocking(|| {
            let reply = publish_v5("granted/rr-wire/response", &correlation, b"answer");
            fake.write(&reply).unwrap();
        });
        let reply = timeout(T, call).await.unwrap().expect("the reply");
        assert_eq!(&reply.payload()[..], b"answer");
        assert_eq!(
            reply.topic(),
            &TopicName::try_from("granted/rr-wire/response").unwrap()
        );
    });
}
