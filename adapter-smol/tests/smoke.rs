//! The smol adapter on its own: its timer, its TCP transport (vectored
//! writes reach the socket whole), and `connect` (global executor) and an
//! application's own executor against a real mosquitto.

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

use std::future::poll_fn;
use std::io::{IoSlice, Read};
use std::net::TcpListener;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::future::{Either, select};
use sansmqtt_smol::{Client, Config, QoS, Runtime, SmolRuntime};
use support::Mosquitto;

const STEP: Duration = Duration::from_secs(10);

#[test]
fn timer_fires_at_its_deadline_and_again_after_a_reset() {
    smol::block_on(async {
        let rt = SmolRuntime::global();
        let start = Instant::now();
        let mut timer = rt.timer(start + Duration::from_secs(3600));
        timer.as_mut().reset(start + Duration::from_millis(50));
        poll_fn(|cx| timer.as_mut().poll_expired(cx)).await;
        let fired = start.elapsed();
        assert!(fired >= Duration::from_millis(50), "{fired:?}");
        assert!(fired < STEP, "{fired:?}");
        // Reset after expiry: it fires again, later.
        let again = Instant::now() + Duration::from_millis(30);
        timer.as_mut().reset(again);
        poll_fn(|cx| timer.as_mut().poll_expired(cx)).await;
        assert!(Instant::now() >= again);
    });
}

#[test]
fn tcp_passes_vectored_writes_through() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    smol::block_on(async {
        let mut stream = SmolRuntime::global()
            .connect_tcp("127.0.0.1", port)
            .await
            .unwrap();
        let (first, second) = ([1u8; 10], [2u8; 10]);
        let bufs = [IoSlice::new(&first), IoSlice::new(&second)];
        let n = poll_fn(|cx| {
            futures_io::AsyncWrite::poll_write_vectored(Pin::new(&mut stream), cx, &bufs)
        })
        .await
        .unwrap();
        // A stream without vectored writes would take only the first slice.
        assert_eq!(n, 20);
        let (mut peer, _) = listener.accept().unwrap();
        let mut got = [0u8; 20];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(&got[..10], &first);
        assert_eq!(&got[10..], &second);
    });
}

/// Subscribes, publishes at QoS 0, 1 and 2, and checks each message.
async fn round_trip(client: &Client) {
    let mut sub = client
        .subscription("smoke/#", QoS::ExactlyOnce)
        .await
        .unwrap();
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        let done = client
            .publish(format!("smoke/{i}"), format!("m{i}"), qos, false)
            .await
            .unwrap();
        assert_eq!(done.qos, qos);
        let next = sub.next();
        let deadline = smol::Timer::after(STEP);
        let m = match select(next, deadline).await {
            Either::Left((m, _)) => m.unwrap(),
            Either::Right(_) => panic!("no message within {STEP:?}"),
        };
        assert_eq!(m.topic().as_str(), format!("smoke/{i}"));
        assert_eq!(&m.payload()[..], format!("m{i}").as_bytes());
        assert_eq!(m.qos(), qos);
    }
}

#[test]
fn connect_on_the_global_executor() {
    let broker = Mosquitto::start("");
    smol::block_on(async {
        let client = sansmqtt_smol::connect(&broker.uri(), Config::default())
            .await
            .unwrap();
        round_trip(&client).await;
        client.disconnect().await;
    });
}

#[test]
fn connect_on_an_application_executor() {
    let broker = Mosquitto::start("");
    let executor = Arc::new(smol::Executor::new());
    let runtime = Arc::new(SmolRuntime::with_executor(executor.clone()));
    // The executor runs only while this thread runs it: the client's task
    // lives on it, the test body too.
    smol::block_on(executor.run(async {
        let client = Client::connect(runtime, &broker.uri(), Config::default())
            .await
            .unwrap();
        round_trip(&client).await;
        client.disconnect().await;
    }));
}
