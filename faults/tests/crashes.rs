//! Publisher process crashes with file persistence (issue #16): a publisher
//! process killed with SIGKILL and started again with the same client
//! identifier and session directory loses no message that was acknowledged
//! to it or that was in its session file, and delivers none twice at QoS 2;
//! a message still queued in the client (not yet sent under a packet
//! identifier) is not in the file and dies with the process.
//!
//! `sansmqtt_faults::crashes` explains where the line runs. Each test has
//! a mosquitto and a subscriber of its own; the publisher is this crate's
//! binary (`crash-publisher`).

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use sansmqtt_faults::crashes::{self, CrashTally, Crashes, Msg, Rig, in_file};
use sansmqtt_faults::proxy::{Direction, FaultProxy};

const EXE: &str = env!("CARGO_BIN_EXE_sansmqtt-faults");
const T: Duration = Duration::from_secs(20);
const DRAIN: Duration = Duration::from_secs(20);
const QUIET: Duration = Duration::from_secs(1);

fn exe() -> &'static Path {
    Path::new(EXE)
}

fn proxy_to(rig: &Rig) -> FaultProxy {
    let broker: SocketAddr = ([127, 0, 0, 1], rig.broker_port()).into();
    FaultProxy::start(broker, 1).expect("the proxy starts")
}

fn holds(t: &CrashTally) {
    assert!(t.violations().is_empty(), "{:?}\n{t:#?}", t.violations());
}

/// 20 incarnations killed at random moments (some while they start and
/// connect, most in the middle of a burst of 100 messages handed over at
/// once), then one that drains the file: every message acknowledged to the
/// application and every message in the file a kill left arrives; at QoS 2
/// none arrives twice, whatever its group; nothing arrives that was never
/// handed. Both sides of the line are met: messages in the file at a kill,
/// and messages only queued, which are lost.
fn random_kills(qos: u8) {
    let c = Crashes {
        qos,
        kills: 20,
        delay: (Duration::from_millis(30), Duration::from_millis(400)),
        early: Duration::from_millis(5),
        window: 100,
        seed: u64::from(qos),
        settle: QUIET,
    };
    let t = c.run(exe()).expect("the run");
    eprintln!("{}\n{}", crashes::header(), crashes::row(&c, &t));
    holds(&t);
    assert_eq!(t.kills, 20);
    assert!(t.acked.messages > 0, "{t:#?}");
    assert!(
        t.covered.messages > 0,
        "no kill left a message in the file: {t:#?}"
    );
    assert!(
        t.neither.lost > 0,
        "no kill found a message only queued: {t:#?}"
    );
    assert_eq!(
        t.handed,
        t.acked.messages + t.covered.messages + t.neither.messages
    );
}

#[test]
fn random_kills_at_qos_1_lose_nothing_acknowledged_or_in_the_file() {
    random_kills(1);
}

#[test]
fn random_kills_at_qos_2_lose_nothing_acknowledged_or_in_the_file_and_deliver_nothing_twice() {
    random_kills(2);
}

/// Not covered: the publisher's connection is lost and the broker is
/// unreachable (the proxy refuses connections); the messages the publisher
/// hands over from then on wait in the client's queue, get no packet
/// identifier and are not in the file. The process is killed: the next
/// one, straight to the broker, has nothing of them, and none ever
/// arrives. What was acknowledged before still arrived.
#[test]
fn messages_handed_over_while_the_broker_is_unreachable_are_not_in_the_file_and_are_lost() {
    for qos in [1, 2] {
        let mut rig = Rig::start(exe(), qos, &format!("test-offline-q{qos}")).unwrap();
        let proxy = proxy_to(&rig);
        let mut args = rig.args(proxy.port());
        // Few in flight at a time, so that handing over goes on offline.
        args.rate = 200;
        args.window = 1_000;
        let mut run = rig.launch(&args).unwrap();
        run.wait_for("20 acknowledged", T, |p| p.acked.len() >= 20)
            .unwrap();
        proxy.refuse_for(Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(100)); // the listener closes
        proxy.reset_all();
        run.wait_for("20 handed over offline", T, |p| {
            p.handed_offline().len() >= 20
        })
        .unwrap();
        let killed = rig.kill(run).unwrap().clone();
        let offline = killed.printed.handed_offline();
        assert!(offline.len() >= 20, "{offline:?}");
        for m in &offline {
            assert!(
                !killed.in_file.contains(m),
                "{m:?}, handed over offline, is in the file: {:?}",
                killed.in_file
            );
        }
        drop(proxy);
        rig.drain(DRAIN).unwrap();
        rig.settle(QUIET, T);
        let arrived: Vec<Msg> = offline
            .iter()
            .copied()
            .filter(|&m| rig.copies(m) > 0)
            .collect();
        assert_eq!(arrived, [], "messages only queued arrived");
        let t = rig.tally();
        holds(&t);
        assert!(t.acked.messages >= 20, "{t:#?}");
        assert!(t.neither.lost >= offline.len() as u64, "{t:#?}");
    }
}

/// Waits until the session file holds the same messages, at least one,
/// for 300 ms.
fn file_settles(rig: &Rig) -> Vec<Msg> {
    let end = Instant::now() + T;
    let mut last = (Vec::new(), Instant::now());
    loop {
        let now = in_file(&rig.session_file()).unwrap();
        if now != last.0 {
            last = (now, Instant::now());
        } else if !now.is_empty() && last.1.elapsed() > Duration::from_millis(300) {
            return now;
        }
        assert!(Instant::now() < end, "the file never settled: {:?}", last.0);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Covered: the client's bytes stop reaching the broker (the proxy stalls
/// that direction) while it publishes; it goes on sending under packet
/// identifiers until its in-flight window is full, each PUBLISH recorded
/// in the file first, and no acknowledgement comes back. The process is
/// killed: the file holds those messages, the broker never saw most of
/// them (they have not arrived), and the next process, straight to the
/// broker, resends them: each arrives, at QoS 2 exactly once.
#[test]
fn messages_sent_but_not_acknowledged_are_in_the_file_and_arrive_after_the_kill() {
    for qos in [1, 2] {
        let mut rig = Rig::start(exe(), qos, &format!("test-in-file-q{qos}")).unwrap();
        let proxy = proxy_to(&rig);
        let args = rig.args(proxy.port());
        let mut run = rig.launch(&args).unwrap();
        run.wait_for("50 acknowledged", T, |p| p.acked.len() >= 50)
            .unwrap();
        proxy.stall_current(Direction::ToBroker);
        let settled = file_settles(&rig);
        let killed = rig.kill(run).unwrap().clone();
        assert_eq!(killed.in_file, settled, "the file changed at the kill");
        let acked = &killed.printed.acked;
        for m in &killed.in_file {
            assert!(!acked.contains(&m.1), "{m:?} acknowledged, yet in the file");
        }
        // Only the file can bring these back: the killed process is gone
        // and the broker never had them.
        let unseen: Vec<Msg> = killed
            .in_file
            .iter()
            .copied()
            .filter(|&m| rig.copies(m) == 0)
            .collect();
        assert!(!unseen.is_empty(), "{:?}", killed.in_file);
        drop(proxy);
        rig.drain(DRAIN).unwrap();
        rig.settle(QUIET, T);
        for &m in &killed.in_file {
            let copies = rig.copies(m);
            if qos == 2 {
                assert_eq!(copies, 1, "{m:?} at QoS 2");
            } else {
                assert!(copies >= 1, "{m:?} lost");
            }
        }
        let t = rig.tally();
        holds(&t);
        assert_eq!(t.covered.messages, killed.in_file.len() as u64, "{t:#?}");
    }
}
