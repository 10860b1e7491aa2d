//! The test support itself works: a real mosquitto answers a hand-encoded
//! CONNECT, stops and restarts on its port; the fake broker scripts a
//! conversation byte by byte.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use support::{CONNACK_ACCEPTED, DISCONNECT, FakeBroker, Mosquitto, PINGREQ, PINGRESP};

const TIMEOUT: Duration = Duration::from_secs(5);

/// Connects with plain std, sends CONNECT (3.1.1, written by hand), returns
/// the stream and the CONNACK bytes.
fn hand_connect(port: u16) -> (TcpStream, [u8; 4]) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    #[rustfmt::skip]
    let connect = [
        0x10, 0x12,                         // CONNECT, remaining length 18
        0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name
        0x04,                               // protocol level 4 (3.1.1)
        0x02,                               // clean session
        0x00, 0x0a,                         // keep alive 10 s
        0x00, 0x06, b's', b'm', b'o', b'k', b'e', b'1', // client id
    ];
    assert_eq!(connect, support::connect_v311("smoke1", 10)[..]);
    stream.write_all(&connect).unwrap();
    let mut connack = [0; 4];
    stream.read_exact(&mut connack).expect("CONNACK");
    (stream, connack)
}

#[test]
fn mosquitto_accepts_a_hand_encoded_connect_and_restarts_on_its_port() {
    let mut broker = Mosquitto::start("");
    let port = broker.port();
    assert_eq!(broker.uri(), format!("mqtt://127.0.0.1:{port}"));

    let (mut stream, connack) = hand_connect(port);
    assert_eq!(connack, [0x20, 0x02, 0x00, 0x00], "log:\n{}", broker.log());
    stream.write_all(&PINGREQ).unwrap();
    let mut pingresp = [0; 2];
    stream.read_exact(&mut pingresp).unwrap();
    assert_eq!(pingresp, PINGRESP);

    broker.stop();
    assert!(!broker.is_running());
    // The connection dropped with the broker, and nothing listens any more.
    let mut rest = Vec::new();
    assert!(matches!(stream.read_to_end(&mut rest), Ok(0) | Err(_)));
    assert!(!support::port_accepts(port));

    broker.restart();
    assert_eq!(broker.port(), port);
    let (mut stream, connack) = hand_connect(port);
    assert_eq!(connack, CONNACK_ACCEPTED);
    stream.write_all(&DISCONNECT).unwrap();
    broker.stop();
}

#[test]
fn mosquitto_takes_extra_config_lines() {
    // An unknown option makes mosquitto refuse to start: the extra lines are read.
    let result = std::panic::catch_unwind(|| Mosquitto::start("no_such_option 1"));
    assert!(result.is_err());
    // A persistent broker in its own directory.
    let mut broker =
        Mosquitto::start("persistence true\npersistence_location {dir}/\nautosave_interval 1");
    let (_stream, connack) = hand_connect(broker.port());
    assert_eq!(connack, CONNACK_ACCEPTED);
    broker.stop_graceful();
    assert!(
        broker.dir().join("mosquitto.db").exists(),
        "log:\n{}",
        broker.log()
    );
}

#[test]
fn fake_broker_scripts_a_conversation() {
    let (mut broker, port) = FakeBroker::bind();
    assert_eq!(broker.uri(), format!("mqtt://127.0.0.1:{port}"));

    let client = thread::spawn(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        // CONNECT and PINGREQ in one write: the broker splits them.
        let mut bytes = support::connect_v311("fake", 30);
        bytes.extend_from_slice(&PINGREQ);
        stream.write_all(&bytes).unwrap();
        let mut connack = [0; 4];
        stream.read_exact(&mut connack).unwrap();
        // No PINGRESP comes: the read times out.
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut one = [0; 1];
        let withheld = stream.read(&mut one).is_err();
        // A QoS 1 PUBLISH, its PUBACK, then the client leaves.
        stream
            .write_all(&support::publish("a/b", b"hi", 1, Some(7), false))
            .unwrap();
        let mut puback = [0; 4];
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.read_exact(&mut puback).unwrap();
        (connack, withheld, puback)
    });

    let connect = broker.read_packet(TIMEOUT).unwrap();
    assert_eq!(connect, support::connect_v311("fake", 30));
    assert_eq!(broker.read_packet(TIMEOUT).unwrap(), PINGREQ);
    broker.write(&CONNACK_ACCEPTED).unwrap();
    // PINGRESP withheld.
    let publish = broker.read_packet(TIMEOUT).unwrap();
    assert_eq!(publish[0], 0x32);
    assert_eq!(support::packet_id(&publish), Some(7));
    broker.write(&support::ack(0x40, 7)).unwrap();

    let (connack, withheld, puback) = client.join().unwrap();
    assert_eq!(connack, CONNACK_ACCEPTED);
    assert!(withheld);
    assert_eq!(puback, [0x40, 0x02, 0x00, 0x07]);
    assert!(broker.expect_eof(TIMEOUT));
}

#[test]
fn fake_broker_times_out_sends_garbage_and_takes_the_next_connection() {
    let (mut broker, port) = FakeBroker::bind();
    // Nobody connects.
    let e = broker.read_some(Duration::from_millis(50)).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);

    let mut first = TcpStream::connect(("127.0.0.1", port)).unwrap();
    first.set_read_timeout(Some(TIMEOUT)).unwrap();
    broker.accept(TIMEOUT).unwrap();
    broker.expect_silence(Duration::from_millis(50)).unwrap();
    // A malformed packet: reserved type 0, then the connection drops.
    broker.write(&[0x00, 0x00]).unwrap();
    broker.drop_connection();
    let mut got = Vec::new();
    first.read_to_end(&mut got).unwrap();
    assert_eq!(got, [0x00, 0x00]);

    // A reconnect is the next connection.
    let mut second = TcpStream::connect(("127.0.0.1", port)).unwrap();
    broker.accept(TIMEOUT).unwrap();
    second.write_all(&[0xe0]).unwrap();
    second.write_all(&[0x00]).unwrap();
    assert_eq!(broker.read_exact(2, TIMEOUT).unwrap(), DISCONNECT);
    drop(second);
    assert!(broker.expect_eof(TIMEOUT));

    broker.stop_listening();
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

/// A broker is taken as started only once it holds its port itself: when
/// another process listens there (two tests that found the same free port),
/// a probe that connects reaches the other one, and the test would run
/// against a broker it does not own.
#[test]
fn a_broker_whose_port_is_held_by_another_process_is_not_taken_as_started() {
    let mut broker = Mosquitto::start("");
    let port = broker.port();
    let pid = broker.pid().expect("running");
    assert_eq!(support::listener_owned_by(pid, port), Some(true));
    assert_eq!(
        support::listener_owned_by(std::process::id(), port),
        Some(false)
    );
    broker.stop();

    // Another listener takes the port while the broker is down.
    let squatter = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the freed port");
    assert_eq!(
        support::listener_owned_by(std::process::id(), port),
        Some(true)
    );
    let restarted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| broker.restart()));
    let message = restarted.expect_err("restarted on a port another process holds");
    let message = message
        .downcast_ref::<String>()
        .map(String::as_str)
        .unwrap_or_default();
    assert!(message.contains("another process"), "{message}");
    drop(squatter);
}
