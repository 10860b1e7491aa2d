//! The fault-injecting proxy itself, in front of an echo server: each
//! fault does what the runs rely on.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use sansmqtt_faults::proxy::{Direction, FaultProxy, Plan, Resets};

/// An echo server on 127.0.0.1 (a thread per connection).
fn echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { break };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

fn connect(p: &FaultProxy) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", p.port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Writes `n` bytes and reads the echo until `n` came back or the
/// connection ended; returns the bytes read and how it ended.
fn round(s: &mut TcpStream, n: usize) -> (usize, Option<ErrorKind>) {
    let _ = s.write_all(&vec![7u8; n]);
    let mut got = 0;
    let mut buf = [0u8; 4096];
    while got < n {
        match s.read(&mut buf) {
            Ok(0) => return (got, Some(ErrorKind::UnexpectedEof)),
            Ok(k) => got += k,
            Err(e) => return (got, Some(e.kind())),
        }
    }
    (got, None)
}

#[test]
fn a_reset_comes_at_a_random_offset_within_the_budget_then_no_more() {
    let p = FaultProxy::start(echo(), 7).unwrap();
    p.set_plan(Plan {
        resets: Some(Resets {
            mean_bytes: 100,
            remaining: 1,
        }),
        ..Plan::default()
    });
    let mut s = connect(&p);
    let (got, end) = round(&mut s, 10_000);
    // Both directions count: what came back is below the 200-byte budget.
    assert!(got < 200, "{got} bytes relayed");
    assert_eq!(end, Some(ErrorKind::ConnectionReset), "an RST, not a FIN");
    assert_eq!(p.counts().resets, 1);
    // The one reset is spent: the next connection relays everything.
    let mut s = connect(&p);
    assert_eq!(round(&mut s, 10_000), (10_000, None));
    assert_eq!(p.counts().resets, 1);
}

#[test]
fn a_stalled_connection_neither_relays_nor_closes_while_new_ones_work() {
    let p = FaultProxy::start(echo(), 1).unwrap();
    let mut s = connect(&p);
    assert_eq!(round(&mut s, 100), (100, None));
    assert_eq!(p.stall_current(Direction::Both), 1);
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s.write_all(b"hello").unwrap();
    let mut buf = [0u8; 16];
    let e = s
        .read(&mut buf)
        .expect_err("nothing comes back, and no EOF");
    assert!(
        matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{e:?}"
    );
    let mut fresh = connect(&p);
    assert_eq!(round(&mut fresh, 100), (100, None));
}

#[test]
fn delay_holds_each_chunk_and_trickle_limits_the_rate() {
    let p = FaultProxy::start(echo(), 1).unwrap();
    p.set_plan(Plan {
        delay: Duration::from_millis(100),
        ..Plan::default()
    });
    let mut s = connect(&p);
    let t0 = Instant::now();
    assert_eq!(round(&mut s, 10), (10, None));
    // There and back.
    assert!(
        t0.elapsed() >= Duration::from_millis(200),
        "{:?}",
        t0.elapsed()
    );

    p.set_plan(Plan {
        trickle: Some(2_000),
        ..Plan::default()
    });
    let mut s = connect(&p);
    let t0 = Instant::now();
    assert_eq!(round(&mut s, 1_000), (1_000, None));
    // 1,000 bytes at 2,000 B/s each way (the two directions overlap).
    assert!(
        t0.elapsed() >= Duration::from_millis(450),
        "{:?}",
        t0.elapsed()
    );
}

#[test]
fn refusal_closes_the_port_for_a_while_then_listens_again() {
    let p = FaultProxy::start(echo(), 1).unwrap();
    let mut s = connect(&p);
    assert_eq!(round(&mut s, 10), (10, None));
    p.refuse_for(Duration::from_millis(600));
    // The listener closes at once; the open connection is left alone.
    let deadline = Instant::now() + Duration::from_millis(300);
    let mut refused = false;
    while Instant::now() < deadline && !refused {
        refused = matches!(
            TcpStream::connect(("127.0.0.1", p.port())),
            Err(e) if e.kind() == ErrorKind::ConnectionRefused
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(refused, "connections are refused");
    assert_eq!(round(&mut s, 10), (10, None));
    std::thread::sleep(Duration::from_millis(700));
    let mut again = connect(&p);
    assert_eq!(round(&mut again, 10), (10, None));
}
