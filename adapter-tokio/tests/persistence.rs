//! Session persistence (config key `persistence`): a process that stops
//! with QoS 1 and 2 messages in flight, without any chance to clean up
//! (its runtime is shut down under it: nothing more of the client runs),
//! and the next process that resumes them from the session file.
//!
//! The withheld acknowledgements come from a scripted broker, or from a
//! relay in front of a real mosquitto that stops passing the client's bytes
//! on (what a broker never saw is what only the file can bring back).
//! Every wait has a deadline.

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sansmqtt_tokio::{Client, Config, FileStore, ProtocolVersion, QoS, persist};
use support::{FakeBroker, Mosquitto, ack, packet_id, publish};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

const T: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(400);

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A new empty directory for session files, removed on drop.
struct Dir(PathBuf);
impl Dir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("sansmqtt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A client that keeps its session in `dir`: MQTT 3.1.1 with clean session
/// off, or MQTT 5 with a session expiry (and clean start on: only a new
/// session's first connection starts clean).
fn config(dir: &Path, client_id: &str, v5: bool) -> Config {
    let mut c = Config {
        client_id: Some(client_id.to_owned()),
        persistence: Some(dir.to_owned()),
        reconnect_retries: -1,
        reconnect_max_interval: Duration::from_secs(1),
        ..Config::default()
    };
    if v5 {
        c.protocol_version = ProtocolVersion::V5.into();
        c.cleansession = true;
        c.session_expiry = Some(Duration::from_secs(600));
    } else {
        c.cleansession = false;
    }
    c
}

fn connack(v5: bool, session_present: bool) -> Vec<u8> {
    let flags = u8::from(session_present);
    if v5 {
        vec![0x20, 0x03, flags, 0x00, 0x00]
    } else {
        vec![0x20, 0x02, flags, 0x00]
    }
}

/// The Clean Session / Clean Start flag of a CONNECT (3.1.1 or 5: the
/// flags follow the protocol name and level in both).
fn clean_flag(connect: &[u8]) -> bool {
    let whole = support::packet_len(connect).unwrap().unwrap();
    let header = whole - support::remaining_length(connect).unwrap();
    connect[header + 7] & 0x02 != 0
}

fn dup(p: &[u8]) -> bool {
    p[0] & 0x08 != 0
}

/// One "process": its own runtime and client, connected to the scripted
/// broker, which answers `connack`. Returns the CONNECT it read.
fn start_process(
    fake: &mut FakeBroker,
    config: Config,
    connack: &[u8],
) -> (Runtime, Client, Vec<u8>) {
    let rt = runtime();
    let uri = fake.uri();
    let pending = rt.spawn(async move { sansmqtt_tokio::connect(&uri, config).await });
    fake.accept(T).expect("the client connects");
    let connect = fake.read_packet(T).expect("CONNECT");
    assert_eq!(connect[0], 0x10, "{connect:02x?}");
    fake.write(connack).unwrap();
    let client = rt
        .block_on(async { tokio::time::timeout(T, pending).await })
        .expect("connect returns")
        .expect("connect task")
        .expect("connected");
    (rt, client, connect)
}

/// The next message `deliver_message` gives, within [`T`].
fn next_message(rt: &Runtime, client: &Client) -> sansmqtt_tokio::Message {
    rt.block_on(async { tokio::time::timeout(T, client.deliver_message()).await })
        .expect("delivered")
        .expect("a message")
}

/// The process dies: its runtime goes, and with it the client's driver,
/// in the middle of whatever it was doing: the driver's future is dropped
/// where it stands, never polled again. No DISCONNECT, no clean-up; what
/// the operating system does for a dead process (closing its sockets and
/// files, releasing its locks) happens as the future's parts are dropped.
fn crash(rt: Runtime, client: Client) {
    rt.shutdown_timeout(Duration::from_secs(2));
    drop(client);
}

/// A QoS 1 PUBLISH not acknowledged and a QoS 2 one past PUBREC, then the
/// process crashes; the next process resumes the session from the file:
/// its first CONNECT does not start clean (also in MQTT 5, where a new
/// session's would), and with the session present the QoS 1 PUBLISH goes
/// again with DUP and its packet identifier, and PUBREL for the QoS 2 one
/// [MQTT-4.4.0-1]. Once they are acknowledged the file holds nothing in
/// flight. A client without `persistence` in the same place resends
/// nothing: the file is what brings them back.
#[test]
fn a_restarted_process_resumes_what_was_in_flight() {
    for v5 in [false, true] {
        let dir = Dir::new(if v5 { "persist-v5" } else { "persist-v311" });
        let (mut fake, _) = FakeBroker::bind();
        let cfg = config(&dir.0, "resume-me", v5);

        let (rt, client, connect) = start_process(&mut fake, cfg.clone(), &connack(v5, false));
        assert_eq!(
            clean_flag(&connect),
            v5,
            "a new session starts clean in MQTT 5 only"
        );
        let c = client.clone();
        rt.spawn(async move { c.publish("p/1", "one", QoS::AtLeastOnce, false).await });
        let (p1, _) = fake.read_until_type(3, T).unwrap();
        let c = client.clone();
        rt.spawn(async move { c.publish("p/2", "two", QoS::ExactlyOnce, false).await });
        let (p2, _) = fake.read_until_type(3, T).unwrap();
        let (id1, id2) = (packet_id(&p1).unwrap(), packet_id(&p2).unwrap());
        fake.write(&ack(0x50, id2)).unwrap(); // PUBREC
        let (rel, _) = fake.read_until_type(6, T).unwrap();
        assert_eq!(packet_id(&rel), Some(id2));
        crash(rt, client);
        fake.drop_connection();

        let (rt, client, connect) = start_process(&mut fake, cfg.clone(), &connack(v5, true));
        assert!(!clean_flag(&connect), "the restored session is resumed");
        let again = fake.read_packet(T).unwrap();
        assert_eq!(again[0] >> 4, 3, "{again:02x?}");
        assert!(
            dup(&again) && packet_id(&again) == Some(id1),
            "{again:02x?}"
        );
        assert_eq!(&again[again.len() - 3..], b"one");
        let rel = fake.read_packet(T).unwrap();
        assert_eq!((rel[0], packet_id(&rel)), (0x62, Some(id2)), "{rel:02x?}");
        fake.write(&ack(0x40, id1)).unwrap(); // PUBACK
        fake.write(&ack(0x70, id2)).unwrap(); // PUBCOMP
        // The round trip of a ping: both acks were handled before it.
        let c = client.clone();
        let ping = rt.spawn(async move { c.ping().await });
        fake.read_until_type(12, T).expect("PINGREQ");
        fake.write(&support::PINGRESP).unwrap();
        rt.block_on(async { tokio::time::timeout(T, ping).await })
            .expect("ping answered")
            .unwrap()
            .unwrap();
        rt.block_on(async { client.disconnect().await });
        drop(client);
        drop(rt);
        let file = std::fs::read(FileStore::file_in(&dir.0, "resume-me")).unwrap();
        assert!(persist::read(&file, cfg_version(v5)).unwrap().is_empty());

        // Without the file: the same crash, and nothing comes back.
        let mut plain = cfg.clone();
        plain.persistence = None;
        plain.client_id = Some("forgetful".into());
        // Every connection resumes (MQTT 5 too), as the restored one did.
        plain.cleansession = false;
        plain.session_expiry = None;
        fake.drop_connection();
        let (rt, client, _) = start_process(&mut fake, plain.clone(), &connack(v5, false));
        let c = client.clone();
        rt.spawn(async move { c.publish("p/1", "lost", QoS::AtLeastOnce, false).await });
        fake.read_until_type(3, T).unwrap();
        crash(rt, client);
        fake.drop_connection();
        let (rt, client, _) = start_process(&mut fake, plain, &connack(v5, true));
        fake.expect_silence(QUIET).unwrap();
        crash(rt, client);
    }
}

fn cfg_version(v5: bool) -> sansmqtt_proto::ProtocolVersion {
    if v5 {
        sansmqtt_proto::ProtocolVersion::V5
    } else {
        sansmqtt_proto::ProtocolVersion::V3_1_1
    }
}

/// An incoming QoS 2 message handed to the application and acknowledged
/// with PUBREC, then the process crashes before PUBREL: the broker's
/// redelivery (DUP) to the next process is acknowledged again and not
/// delivered a second time [MQTT-4.3.3-2] (3.1.1) / [MQTT-4.3.3-9] (5.0);
/// PUBREL gets PUBCOMP, and a new message is delivered.
#[test]
fn an_incoming_qos2_message_is_not_delivered_twice_across_a_restart() {
    let dir = Dir::new("persist-in");
    let (mut fake, _) = FakeBroker::bind();
    let cfg = config(&dir.0, "receiver", false);

    let (rt, client, _) = start_process(&mut fake, cfg.clone(), &connack(false, false));
    fake.write(&publish("in/1", b"once", 2, Some(9), false))
        .unwrap();
    let m = next_message(&rt, &client);
    assert_eq!(&m.payload()[..], b"once");
    let (rec, _) = fake.read_until_type(5, T).unwrap();
    assert_eq!(packet_id(&rec), Some(9));
    crash(rt, client);
    fake.drop_connection();

    let (rt, client, _) = start_process(&mut fake, cfg, &connack(false, true));
    let mut again = publish("in/1", b"once", 2, Some(9), false);
    again[0] |= 0x08; // DUP
    fake.write(&again).unwrap();
    let (rec, _) = fake.read_until_type(5, T).unwrap();
    assert_eq!(packet_id(&rec), Some(9), "PUBREC again");
    fake.write(&ack(0x62, 9)).unwrap(); // PUBREL
    let (comp, _) = fake.read_until_type(7, T).unwrap();
    assert_eq!(packet_id(&comp), Some(9));
    fake.write(&publish("in/1", b"new", 2, Some(10), false))
        .unwrap();
    let m = next_message(&rt, &client);
    assert_eq!(&m.payload()[..], b"new", "the redelivery was not delivered");
    crash(rt, client);
}

/// A relay between the client and a real broker that passes every byte on
/// until `hold` is set; from then on the client's bytes go nowhere (the
/// broker's still reach the client).
async fn relay(broker: SocketAddr, hold: Arc<AtomicBool>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(upstream) = TcpStream::connect(broker).await else {
                continue;
            };
            let (mut cr, mut cw) = client.into_split();
            let (mut br, mut bw) = upstream.into_split();
            let hold = hold.clone();
            tokio::spawn(async move {
                let mut buf = vec![0; 16 * 1024];
                while let Ok(n) = cr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if !hold.load(Ordering::SeqCst) && bw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                // The client is gone: so is its connection to the broker.
                let _ = bw.shutdown().await;
            });
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut br, &mut cw).await;
            });
        }
    });
    addr
}

/// With mosquitto: a process publishes QoS 1 and 2 messages that never
/// reach the broker (the relay holds them) and crashes; the next process,
/// straight to the broker, resumes the session from its file and the
/// messages arrive, each once, at a subscriber.
#[test]
fn with_mosquitto_messages_the_broker_never_saw_arrive_after_a_restart() {
    let broker = Mosquitto::start("");
    let dir = Dir::new("persist-mosq");
    let main = runtime();
    let uri = broker.uri();
    let subscriber = main.block_on(async {
        let c = sansmqtt_tokio::connect(&uri, Config::default())
            .await
            .unwrap();
        c.subscribe(&[("held/#", QoS::ExactlyOnce)]).await.unwrap();
        c
    });

    let hold = Arc::new(AtomicBool::new(false));
    let broker_addr: SocketAddr = format!("127.0.0.1:{}", broker.port()).parse().unwrap();
    let relay_addr = main.block_on(relay(broker_addr, hold.clone()));
    let cfg = config(&dir.0, "held-publisher", false);
    let rt = runtime();
    let c = cfg.clone();
    let client = rt
        .block_on(async move { sansmqtt_tokio::connect(&format!("mqtt://{relay_addr}"), c).await })
        .unwrap();
    hold.store(true, Ordering::SeqCst);
    for (n, qos) in [
        (1, QoS::AtLeastOnce),
        (2, QoS::ExactlyOnce),
        (3, QoS::AtLeastOnce),
    ] {
        let c = client.clone();
        rt.spawn(async move {
            c.publish(format!("held/{n}"), format!("m{n}"), qos, false)
                .await
        });
    }
    // Until the three are in the file (sent under their identifiers).
    let file = FileStore::file_in(&dir.0, "held-publisher");
    let deadline = std::time::Instant::now() + T;
    // Header, then per record: framing 8, tag and id 3, the PUBLISH 14.
    while std::fs::metadata(&file).map_or(0, |m| m.len()) < 18 + 3 * 25 {
        assert!(std::time::Instant::now() < deadline, "nothing recorded");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    crash(rt, client);

    let rt = runtime();
    let c = cfg.clone();
    let uri = broker.uri();
    let client = rt
        .block_on(async move { sansmqtt_tokio::connect(&uri, c).await })
        .unwrap();
    let mut got: Vec<String> = main.block_on(async {
        let mut got = Vec::new();
        while got.len() < 3 {
            let m = tokio::time::timeout(T, subscriber.deliver_message())
                .await
                .expect("the held messages arrive")
                .expect("a message");
            got.push(format!(
                "{} {}",
                m.topic(),
                String::from_utf8_lossy(m.payload())
            ));
        }
        // Nothing more (no message twice).
        assert!(
            tokio::time::timeout(QUIET, subscriber.deliver_message())
                .await
                .is_err()
        );
        got
    });
    got.sort();
    assert_eq!(got, ["held/1 m1", "held/2 m2", "held/3 m3"]);
    rt.block_on(async { client.disconnect().await });
    // Read while the client still holds it (no store, no lock: a reader).
    let bytes = std::fs::read(&file).unwrap();
    assert!(
        persist::read(&bytes, cfg_version(false))
            .unwrap()
            .is_empty()
    );
}

/// A session file that can no longer be written (here its directory is
/// removed, and the next rewrite fails) no longer describes the session:
/// the client stops (state `Closed`, the publish in flight abandoned, later
/// calls fail with `Closed`) instead of
/// going on without it.
#[test]
fn a_session_file_that_cannot_be_written_stops_the_client() {
    let broker = Mosquitto::start("");
    let dir = Dir::new("persist-gone");
    let rt = runtime();
    let cfg = config(&dir.0, "doomed", false);
    let uri = broker.uri();
    let client = rt
        .block_on(async move { sansmqtt_tokio::connect(&uri, cfg).await })
        .unwrap();
    let mut states = client.state_changes();
    std::fs::remove_dir_all(&dir.0).unwrap();
    let payload = vec![b'z'; 2_000];
    let outcome = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), async {
            for n in 0..1_000 {
                if let Err(e) = client
                    .publish("gone/1", payload.clone(), QoS::AtLeastOnce, false)
                    .await
                {
                    return (n, e);
                }
            }
            panic!("1,000 publishes went through without a session file");
        })
        .await
        .expect("the publishes end")
    });
    // The publish in flight is abandoned with the session; later calls
    // find the client closed.
    assert!(
        matches!(
            outcome.1,
            sansmqtt_tokio::ClientError::Closed
                | sansmqtt_tokio::ClientError::Publish(sansmqtt_tokio::PublishError::Abandoned)
        ),
        "{outcome:?}"
    );
    // About 64 KiB of records are written before the file is rewritten.
    assert!((20..200).contains(&outcome.0), "{outcome:?}");
    let closed = rt.block_on(async {
        use futures_util::StreamExt;
        tokio::time::timeout(T, async {
            while let Some(s) = states.next().await {
                if s == sansmqtt_tokio::ConnectionState::Closed {
                    return true;
                }
            }
            false
        })
        .await
    });
    assert_eq!(closed, Ok(true));
}

/// Two clients with the same identifier and directory would interleave
/// their records in one file: the second `connect` is refused with a
/// persistence error naming the file, and succeeds once the first client
/// is gone.
#[test]
fn a_session_file_in_use_refuses_a_second_client() {
    let broker = Mosquitto::start("");
    let dir = Dir::new("persist-twice");
    let rt = runtime();
    let uri = broker.uri();
    let cfg = config(&dir.0, "twice", false);
    rt.block_on(async {
        let first = sansmqtt_tokio::connect(&uri, cfg.clone()).await.unwrap();
        let e = sansmqtt_tokio::connect(&uri, cfg.clone())
            .await
            .expect_err("the file is in use");
        assert!(
            matches!(&e, sansmqtt_tokio::ClientError::Persistence(m) if m.contains("in use by another client")),
            "{e:?}"
        );
        first.disconnect().await;
        drop(first);
        // The driver lets go of the file once it has stopped.
        let mut again = None;
        for _ in 0..50 {
            match sansmqtt_tokio::connect(&uri, cfg.clone()).await {
                Ok(c) => {
                    again = Some(c);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        again.expect("free once the first client is gone").disconnect().await;
    });
}
