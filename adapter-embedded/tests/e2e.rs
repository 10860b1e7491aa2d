//! The client end to end on embassy: `embassy-executor` (std platform,
//! thread mode), `embassy-time`'s std driver, host TCP sockets through
//! `embedded-io-adapters`, against a real mosquitto (one per test) or a
//! scripted broker where the broker's side must misbehave on cue.
//!
//! Each scenario runs in both protocol versions where both apply, and
//! fails after a deadline of seconds instead of hanging.

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

mod common;

use std::future::Future;
use std::thread;
use std::time::{Duration, Instant};

use embassy_futures::join::{join, join3};
use embassy_futures::select::{Either, select};
use embassy_sync::blocking_mutex::raw::{CriticalSectionRawMutex, NoopRawMutex, RawMutex};
use embassy_sync::signal::Signal;
use embassy_time::Timer;
use sansmqtt_embedded::proto::DecodeError;
use sansmqtt_embedded::session::ProtocolError;
use sansmqtt_embedded::{
    Client, CloseReason, Config, ConnectionError, Error, ProtocolVersion, QoS, Resources,
    SubAckReason,
};
use support::{FakeBroker, Mosquitto};

use common::{Recording, block_on, connect, packet_types};

/// 1 KiB read buffer, 8 queued messages, 4 concurrent requests.
type Res = Resources<NoopRawMutex, 1024, 8, 4>;

/// The deadline of one scenario.
const LIMIT: Duration = Duration::from_secs(20);

/// How long the scripted broker waits for the client.
const STEP: Duration = Duration::from_secs(5);

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V3_1_1, ProtocolVersion::V5];

fn config(client_id: &str, version: ProtocolVersion) -> Config {
    let mut config = Config::new(client_id).expect("client id");
    config.session.version = version;
    config
}

/// A configuration whose session the broker keeps across connections:
/// Clean Session 0 (3.1.1), a Session Expiry Interval (5).
fn persistent(client_id: &str, version: ProtocolVersion) -> Config {
    let mut config = config(client_id, version);
    config.session.clean_start = false;
    config.session.properties.session_expiry_interval = Some(300);
    config
}

/// Runs `scenario(port)` on the executor against a mosquitto of its own,
/// stopped once the scenario is over.
fn on_mosquitto<F: Future<Output = ()> + 'static>(scenario: impl FnOnce(u16) -> F) {
    let broker = Mosquitto::start("");
    let port = broker.port();
    block_on(LIMIT, move || {
        let scenario = scenario(port);
        async move {
            let _broker = broker;
            scenario.await
        }
    });
}

/// `a` subscribes to `topic` at QoS 1, then `b` publishes `"0"` to
/// `"{n - 1}"` to it at QoS 1, each acknowledged before the next.
async fn subscribe_and_feed<
    M: RawMutex,
    N: RawMutex,
    const QA: usize,
    const RA: usize,
    const QB: usize,
    const RB: usize,
>(
    a: &Client<'_, M, QA, RA>,
    b: &Client<'_, N, QB, RB>,
    topic: &str,
    n: usize,
) {
    assert_eq!(
        a.subscribe(topic, QoS::AtLeastOnce).await,
        Ok(QoS::AtLeastOnce)
    );
    for i in 0..n {
        b.publish(topic, format!("{i}").as_bytes(), QoS::AtLeastOnce, false)
            .await
            .expect("publish");
    }
}

/// `a` delivers `"0"` to `"{n - 1}"`, in that order.
async fn expect_numbered<M: RawMutex, const Q: usize, const R: usize>(
    a: &Client<'_, M, Q, R>,
    n: usize,
) {
    for i in 0..n {
        let message = a.deliver_message().await;
        assert_eq!(&message.publish.payload[..], format!("{i}").as_bytes());
    }
}

fn v(version: ProtocolVersion) -> &'static str {
    if version.is_v5() { "v5" } else { "v311" }
}

/// QoS 0, 1 and 2 both ways through mosquitto: each client publishes to
/// the other's subscription at every QoS and receives the other's
/// messages at the QoS they were sent with: the subscription grants 2, and
/// a message goes out at the minimum of its QoS and the granted one (5:
/// [MQTT-3.8.4-8]; 3.1.1 §3.8.4). A publish resolves at its
/// acknowledgement, until which the sender keeps it unacknowledged:
/// PUBACK [MQTT-4.3.2-1], PUBCOMP [MQTT-4.3.3-1] (both versions).
fn qos_both_ways(version: ProtocolVersion) {
    on_mosquitto(move |port| async move {
        let (mut ra, mut rb) = (Res::new(), Res::new());
        let (a, mut conn_a) =
            sansmqtt_embedded::new(&mut ra, config(&format!("a-{}", v(version)), version));
        let (b, mut conn_b) =
            sansmqtt_embedded::new(&mut rb, config(&format!("b-{}", v(version)), version));
        let mut sa = connect(port).await;
        let mut sb = connect(port).await;
        let app = async {
            assert_eq!(
                a.subscribe("emb/to-a", QoS::ExactlyOnce).await,
                Ok(QoS::ExactlyOnce)
            );
            assert_eq!(
                b.subscribe("emb/to-b", QoS::ExactlyOnce).await,
                Ok(QoS::ExactlyOnce)
            );
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                for (from, to, topic) in [(&b, &a, "emb/to-a"), (&a, &b, "emb/to-b")] {
                    let payload = format!("{topic} at {qos:?}");
                    let done = from
                        .publish(topic, payload.as_bytes(), qos, false)
                        .await
                        .expect("publish");
                    assert_eq!(done.qos, qos);
                    let message = to.deliver_message().await;
                    assert_eq!(message.publish.topic.as_str(), topic);
                    assert_eq!(&message.publish.payload[..], payload.as_bytes());
                    assert_eq!(message.publish.qos, qos);
                    assert!(!message.publish.dup);
                }
            }
            assert_eq!(a.unsubscribe("emb/to-a").await, Ok(()));
            a.disconnect().expect("a connected");
            b.disconnect().expect("b connected");
        };
        let (ra, rb, ()) = join3(conn_a.run(&mut sa), conn_b.run(&mut sb), app).await;
        ra.expect("a ends cleanly");
        rb.expect("b ends cleanly");
    });
}

#[test]
fn qos_0_1_2_both_ways_v311() {
    qos_both_ways(ProtocolVersion::V3_1_1);
}

#[test]
fn qos_0_1_2_both_ways_v5() {
    qos_both_ways(ProtocolVersion::V5);
}

/// An idle client keeps its connection with PINGREQ [MQTT-3.1.2-23]
/// (3.1.1; 5: [MQTT-3.1.2-20]): with a 1 s Keep Alive mosquitto closes a
/// client silent for 1.5 s [MQTT-3.1.2-24] (5: [MQTT-3.1.2-22]), so the
/// connection surviving 2.6 s of idleness and the PINGREQs written tell
/// that the pings went out and their PINGRESPs came back.
#[test]
fn keep_alive_pings_an_idle_connection() {
    for version in VERSIONS {
        on_mosquitto(move |port| async move {
            let mut res = Res::new();
            let mut config = config("idle", version);
            config.session.keep_alive = Duration::from_secs(1);
            let (client, mut conn) = sansmqtt_embedded::new(&mut res, config);
            let (mut socket, written) = Recording::new(connect(port).await);
            let app = async {
                client.wait_connected().await;
                Timer::after_millis(2600).await;
                assert!(
                    client.is_connected(),
                    "{version:?}: connection lost while idle"
                );
                client
                    .publish("emb/idle", b"still here", QoS::AtLeastOnce, false)
                    .await
                    .expect("publish after the idle time");
                client.disconnect().expect("connected");
            };
            let (result, ()) = join(conn.run(&mut socket), app).await;
            result.expect("clean end");
            let pings = packet_types(&written.borrow())
                .into_iter()
                .filter(|&t| t == 0xc0)
                .count();
            assert!(
                pings >= 2,
                "{version:?}: {pings} PINGREQ in 2.6 s with keep-alive 1 s"
            );
        });
    }
}

/// A broker that accepts the connection and then goes silent (half-open
/// link) is detected by the missing PINGRESP: the connection ends with
/// `PingTimeout` within 1.5 x Keep Alive (PINGREQ after 1 s, PINGRESP
/// awaited for half the Keep Alive): a client that gets no PINGRESP
/// within a reasonable time should close the connection (3.1.1 §3.1.2.10,
/// 5 §3.1.2.10, not numbered).
#[test]
fn silent_broker_is_detected_by_ping_timeout() {
    let (mut broker, port) = FakeBroker::bind();
    let script = thread::spawn(move || {
        broker.accept(STEP).expect("client connects");
        let connect = broker.read_packet(STEP).expect("CONNECT");
        assert_eq!(connect[0], 0x10);
        broker.write(&support::CONNACK_ACCEPTED).expect("CONNACK");
        // Never answers; the client's PINGREQ arrives.
        let ping = broker.read_packet(STEP).expect("PINGREQ");
        assert_eq!(ping, support::PINGREQ);
        broker.expect_eof(STEP)
    });
    block_on(LIMIT, move || async move {
        let mut res = Res::new();
        let mut config = config("silent", ProtocolVersion::V3_1_1);
        config.session.keep_alive = Duration::from_secs(1);
        let (_client, mut conn) = sansmqtt_embedded::new(&mut res, config);
        let mut socket = connect(port).await;
        let started = Instant::now();
        let result = conn.run(&mut socket).await;
        let took = started.elapsed();
        assert!(
            matches!(
                result,
                Err(ConnectionError::Closed(CloseReason::PingTimeout))
            ),
            "{result:?}"
        );
        assert!(
            took < Duration::from_millis(2500),
            "detected after {took:?}"
        );
        assert!(
            took >= Duration::from_millis(1400),
            "detected after {took:?}"
        );
    });
    assert!(
        script.join().expect("broker script"),
        "the client closed its socket"
    );
}

/// A broker that goes away (its process killed) ends the connection at
/// once with a transport error or end of stream, not a hang.
#[test]
fn stopped_broker_ends_the_connection() {
    let broker = Mosquitto::start("");
    let port = broker.port();
    block_on(LIMIT, move || async move {
        let mut broker = broker;
        let mut res = Res::new();
        let (client, mut conn) =
            sansmqtt_embedded::new(&mut res, config("orphan", ProtocolVersion::V5));
        let mut socket = connect(port).await;
        let app = async {
            client.wait_connected().await;
            broker.stop();
            Instant::now()
        };
        let (result, stopped) = join(conn.run(&mut socket), app).await;
        assert!(
            matches!(result, Err(ConnectionError::Eof | ConnectionError::Io(_))),
            "{result:?}"
        );
        assert!(stopped.elapsed() < Duration::from_secs(2));
        assert!(!client.is_connected());
    });
}

/// CONNACK refusing the connection (3.1.1 return code 5, Not authorized;
/// the broker then closes the connection [MQTT-3.2.2-5]) ends `run` with a
/// fatal error: trying again as it is would be refused again.
#[test]
fn refused_connection_is_fatal() {
    let (mut broker, port) = FakeBroker::bind();
    let script = thread::spawn(move || {
        broker.read_packet(STEP).expect("CONNECT");
        broker
            .write(&support::CONNACK_NOT_AUTHORIZED)
            .expect("CONNACK");
        broker.expect_eof(STEP)
    });
    block_on(LIMIT, move || async move {
        let mut res = Res::new();
        let (_client, mut conn) =
            sansmqtt_embedded::new(&mut res, config("refused", ProtocolVersion::V3_1_1));
        let mut socket = connect(port).await;
        let result = conn.run(&mut socket).await;
        let Err(error) = result else {
            panic!("a refused connection returned Ok");
        };
        assert!(
            matches!(&error, ConnectionError::Closed(CloseReason::Refused { .. })),
            "{error:?}"
        );
        assert!(error.is_fatal());
    });
    script.join().expect("broker script");
}

/// The application reconnects after the connection is lost with a QoS 1
/// publish in flight: the client sends it again on the new connection,
/// same packet identifier, DUP set [MQTT-4.4.0-1] [MQTT-3.3.1-1], and the
/// publish resolves at the PUBACK of the second connection.
#[test]
fn reconnect_resends_qos1_in_flight() {
    let (mut broker, port) = FakeBroker::bind();
    let script = thread::spawn(move || {
        broker.accept(STEP).expect("first connection");
        let connect = broker.read_packet(STEP).expect("CONNECT");
        assert_eq!(connect[9] & 0x02, 0, "Clean Session 0");
        broker.write(&support::CONNACK_ACCEPTED).expect("CONNACK");
        let first = broker.read_packet(STEP).expect("PUBLISH");
        assert_eq!(first[0], 0x32, "QoS 1 PUBLISH, DUP clear");
        // Lost before the PUBACK.
        broker.drop_connection();
        broker.accept(STEP).expect("second connection");
        broker.read_packet(STEP).expect("CONNECT again");
        broker
            .write(&support::CONNACK_SESSION_PRESENT)
            .expect("CONNACK");
        let again = broker.read_packet(STEP).expect("PUBLISH again");
        assert_eq!(again[0], 0x3a, "QoS 1 PUBLISH, DUP set");
        assert_eq!(support::packet_id(&again), support::packet_id(&first));
        assert_eq!(again[1..], first[1..], "the same message");
        let id = support::packet_id(&again).expect("packet id");
        broker.write(&support::ack(0x40, id)).expect("PUBACK");
        let disconnect = broker.read_packet(STEP).expect("DISCONNECT");
        assert_eq!(disconnect, support::DISCONNECT);
    });
    block_on(LIMIT, move || async move {
        let mut res = Res::new();
        let (client, mut conn) =
            sansmqtt_embedded::new(&mut res, persistent("resend", ProtocolVersion::V3_1_1));
        let publish = client.publish("emb/resend", b"exactly this", QoS::AtLeastOnce, false);
        let application = async {
            let done = publish.await;
            client.disconnect().expect("connected");
            done
        };
        let connections = async {
            let mut first = connect(port).await;
            let lost = conn.run(&mut first).await;
            assert!(
                matches!(lost, Err(ConnectionError::Eof | ConnectionError::Io(_))),
                "{lost:?}"
            );
            assert_eq!(client.pending_publishes(), 1, "still in flight");
            let mut second = connect(port).await;
            conn.run(&mut second).await
        };
        let (ended, done) = join(connections, application).await;
        ended.expect("clean end of the second connection");
        assert_eq!(done.expect("acknowledged").qos, QoS::AtLeastOnce);
    });
    script.join().expect("broker script");
}

/// Reconnect by the application through mosquitto: the connection is
/// dropped (the application stops its `run` future and its socket), a
/// QoS 1 message for the client's subscription and a QoS 1 publish of the
/// client wait meanwhile; on the next connection the broker resumes the
/// session (CONNACK Session Present 1: 3.1.1 [MQTT-3.2.2-2], 5
/// [MQTT-3.2.2-3]) and delivers the message it kept for it (3.1.1
/// [MQTT-3.1.2-5]; 5 resumes from the session state [MQTT-3.1.2-5]),
/// and the client's queued publish goes out and is acknowledged.
#[test]
fn reconnect_resumes_the_session() {
    for version in VERSIONS {
        on_mosquitto(move |port| async move {
            let (mut ra, mut rb) = (Res::new(), Res::new());
            let (a, mut conn_a) = sansmqtt_embedded::new(&mut ra, persistent("resumer", version));
            let (b, mut conn_b) = sansmqtt_embedded::new(&mut rb, config("other", version));
            let mut sb = connect(port).await;
            let stop_a: Signal<NoopRawMutex, ()> = Signal::new();
            let connection_a = async {
                let mut socket = connect(port).await;
                // The application drops the connection on its own.
                match select(conn_a.run(&mut socket), stop_a.wait()).await {
                    Either::First(result) => panic!("ended by itself: {result:?}"),
                    Either::Second(()) => drop(socket),
                }
                assert!(!a.is_connected());
                // While offline: b publishes to a's subscription, a queues a
                // publish of its own.
                let offline_publish =
                    a.publish("emb/from-a", b"queued offline", QoS::AtLeastOnce, false);
                b.publish("emb/to-a", b"kept for a", QoS::AtLeastOnce, false)
                    .await
                    .expect("b publishes");
                let mut socket = connect(port).await;
                let (ended, done) = join(conn_a.run(&mut socket), async {
                    let done = offline_publish.await;
                    let message = a.deliver_message().await;
                    a.disconnect().expect("connected");
                    (done, message)
                })
                .await;
                ended.expect("clean end");
                done
            };
            let application = async {
                assert_eq!(
                    a.subscribe("emb/to-a", QoS::AtLeastOnce).await,
                    Ok(QoS::AtLeastOnce)
                );
                assert_eq!(
                    b.subscribe("emb/from-a", QoS::AtLeastOnce).await,
                    Ok(QoS::AtLeastOnce)
                );
                stop_a.signal(());
            };
            let (b_result, ((published, message), ())) = join(conn_b.run(&mut sb), async {
                let outcome = join(connection_a, application).await;
                let from_a = b.deliver_message().await;
                assert_eq!(&from_a.publish.payload[..], b"queued offline");
                b.disconnect().expect("b connected");
                outcome
            })
            .await;
            b_result.expect("b ends cleanly");
            assert_eq!(published.expect("acknowledged").qos, QoS::AtLeastOnce);
            assert_eq!(message.publish.topic.as_str(), "emb/to-a");
            assert_eq!(&message.publish.payload[..], b"kept for a");
        });
    }
}

/// A slow application: the queue holds 2 messages, 40 QoS 1 messages
/// arrive while nobody takes them. The connection stops reading instead of
/// dropping any; all arrive in order once the application reads. Shared
/// state behind a `CriticalSectionRawMutex` here (the other tests use
/// `NoopRawMutex`).
#[test]
fn full_queue_pauses_reading_without_loss() {
    on_mosquitto(move |port| async move {
        let mut ra: Resources<CriticalSectionRawMutex, 64, 2, 1> = Resources::new();
        let mut rb = Res::new();
        let (a, mut conn_a) = sansmqtt_embedded::new(&mut ra, config("slow", ProtocolVersion::V5));
        let (b, mut conn_b) = sansmqtt_embedded::new(&mut rb, config("fast", ProtocolVersion::V5));
        let mut sa = connect(port).await;
        let mut sb = connect(port).await;
        const N: usize = 40;
        let app = async {
            subscribe_and_feed(&a, &b, "emb/flood", N).await;
            Timer::after_millis(300).await;
            // The queue (2) plus what one 64-byte read held (a PUBLISH
            // here is at least 17 bytes: 4 at most) is the bound.
            let held = a.queued_messages();
            assert!(held <= 2 + 4, "reading went on: {held} messages held");
            expect_numbered(&a, N).await;
            a.disconnect().expect("a connected");
            b.disconnect().expect("b connected");
        };
        let (ra, rb, ()) = join3(conn_a.run(&mut sa), conn_b.run(&mut sb), app).await;
        ra.expect("a ends cleanly");
        rb.expect("b ends cleanly");
    });
}

/// A full queue does not keep the next connection from coming up: until
/// CONNACK the connection reads even while received messages wait (as the
/// std client does), then stops again. The application reconnects without
/// having taken a message; CONNACK arrives (no `ConnAckTimeout`), and the
/// held messages come out in order afterwards.
#[test]
fn a_full_queue_still_lets_the_next_connection_up() {
    on_mosquitto(move |port| async move {
        let mut ra: Resources<NoopRawMutex, 64, 2, 1> = Resources::new();
        let mut rb = Res::new();
        let mut held = config("held", ProtocolVersion::V5);
        held.session.connect_timeout = STEP;
        let (a, mut conn_a) = sansmqtt_embedded::new(&mut ra, held);
        let (b, mut conn_b) =
            sansmqtt_embedded::new(&mut rb, config("feeder", ProtocolVersion::V5));
        let mut sa = connect(port).await;
        let mut sb = connect(port).await;
        const N: usize = 4;
        let scenario = async {
            // First connection: the queue (2) fills and 2 more wait behind
            // it; the application then drops the connection, having taken
            // nothing.
            let fill = async {
                subscribe_and_feed(&a, &b, "emb/held", N).await;
                while a.queued_messages() < N {
                    Timer::after_millis(10).await;
                }
            };
            if let Either::First(ended) = select(conn_a.run(&mut sa), fill).await {
                panic!("the first connection ended: {ended:?}");
            }
            assert!(!a.is_connected());
            // Second connection, the queue still full.
            let mut sa2 = connect(port).await;
            let app = async {
                if let Either::Second(()) = select(a.wait_connected(), Timer::after_secs(3)).await {
                    panic!("no CONNACK read while the queue is full");
                }
                expect_numbered(&a, N).await;
                a.disconnect().expect("a connected");
            };
            let (ended, ()) = join(conn_a.run(&mut sa2), app).await;
            ended.expect("a ends cleanly");
            b.disconnect().expect("b connected");
        };
        let (ended, ()) = join(conn_b.run(&mut sb), scenario).await;
        ended.expect("b ends cleanly");
    });
}

/// Packets above the configured bound are typed errors, not panics: a
/// publish larger than `max_packet_size` fails at once; a larger incoming
/// PUBLISH closes an MQTT 3.1.1 connection as a protocol violation
/// (malformed: packet too large), while in MQTT 5 the broker is told the
/// bound (Maximum Packet Size) and does not send it [MQTT-3.1.2-24]
/// [MQTT-3.1.2-25]: the connection goes on and the next message arrives.
#[test]
fn packets_above_the_bound_are_typed_errors() {
    for version in VERSIONS {
        on_mosquitto(move |port| async move {
            let (mut ra, mut rb) = (Res::new(), Res::new());
            let mut small = config("small", version);
            small.max_packet_size = 256;
            let (a, mut conn_a) = sansmqtt_embedded::new(&mut ra, small);
            let (b, mut conn_b) = sansmqtt_embedded::new(&mut rb, config("big", version));
            let mut sa = connect(port).await;
            let mut sb = connect(port).await;
            let big = [0x5a_u8; 1000];
            let app = async {
                let refused = a.publish("emb/big", &big, QoS::AtLeastOnce, false).await;
                assert!(
                    matches!(refused, Err(Error::PacketTooLarge { max: 256, size }) if size > 1000),
                    "{refused:?}"
                );
                assert_eq!(
                    a.subscribe("emb/big", QoS::AtLeastOnce).await,
                    Ok(QoS::AtLeastOnce)
                );
                b.publish("emb/big", &big, QoS::AtLeastOnce, false)
                    .await
                    .expect("b publishes");
                b.publish("emb/big", b"small", QoS::AtLeastOnce, false)
                    .await
                    .expect("b publishes");
            };
            let connection_a = async {
                if version.is_v5() {
                    let (ended, message) = join(conn_a.run(&mut sa), async {
                        let message = a.deliver_message().await;
                        a.disconnect().expect("connected");
                        message
                    })
                    .await;
                    ended.expect("a ends cleanly");
                    assert_eq!(
                        &message.publish.payload[..],
                        b"small",
                        "the large one never came"
                    );
                } else {
                    let ended = conn_a.run(&mut sa).await;
                    assert!(
                        matches!(
                            ended,
                            Err(ConnectionError::Closed(CloseReason::ProtocolViolation(
                                ProtocolError::Decode(DecodeError::PacketTooLarge { max: 256, .. })
                            )))
                        ),
                        "{ended:?}"
                    );
                }
                b.disconnect().expect("b connected");
            };
            let (rb, (), ()) = join3(conn_b.run(&mut sb), app, connection_a).await;
            rb.expect("b ends cleanly");
        });
    }
}

/// A subscription the broker refuses is an error carrying the SUBACK
/// failure code 0x80 [MQTT-3.9.3-2] (3.1.1); the connection goes on and
/// the next subscription is granted. (mosquitto grants subscriptions its
/// ACL denies and filters at delivery, so a scripted broker refuses here.)
#[test]
fn refused_subscription_is_an_error() {
    let (mut broker, port) = FakeBroker::bind();
    let script = thread::spawn(move || {
        broker.read_packet(STEP).expect("CONNECT");
        broker.write(&support::CONNACK_ACCEPTED).expect("CONNACK");
        for code in [0x80, 0x01] {
            let subscribe = broker.read_packet(STEP).expect("SUBSCRIBE");
            assert_eq!(subscribe[0], 0x82, "SUBSCRIBE flags 0010 [MQTT-3.8.1-1]");
            let id = support::packet_id(&subscribe).expect("packet id");
            broker.write(&support::suback(id, &[code])).expect("SUBACK");
        }
        let disconnect = broker.read_packet(STEP).expect("DISCONNECT");
        assert_eq!(disconnect, support::DISCONNECT);
    });
    block_on(LIMIT, move || async move {
        let mut res = Res::new();
        let (client, mut conn) =
            sansmqtt_embedded::new(&mut res, config("acl", ProtocolVersion::V3_1_1));
        let mut socket = connect(port).await;
        let app = async {
            assert_eq!(
                client.subscribe("secret/#", QoS::AtLeastOnce).await,
                Err(Error::SubscribeRefused(SubAckReason::UnspecifiedError))
            );
            assert_eq!(
                client.subscribe("open/#", QoS::AtLeastOnce).await,
                Ok(QoS::AtLeastOnce)
            );
            client.disconnect().expect("connected");
        };
        let (ended, ()) = join(conn.run(&mut socket), app).await;
        ended.expect("clean end");
    });
    script.join().expect("broker script");
}
