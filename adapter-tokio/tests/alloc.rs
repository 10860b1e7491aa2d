//! Issue #4: "no task, lock or heap allocation per QoS 0 message on either
//! path", proven with a counting global allocator. One client publishes
//! QoS 0 messages to its own subscription through a real mosquitto and
//! reads them back from the subscription stream; once warm, the whole round
//! trip (client call, command queue, session, encode, socket write, socket
//! read, decode, routing, stream) allocates nearly nothing per message: the
//! only allocations left are the amortised growth of the read and write
//! buffers (one per 64 KiB read, whose payload slices the messages keep).
//!
//! Issue #7 (W5, many connections): a quiet connection holds little heap,
//! because everything per connection starts small and grows with traffic.
//!
//! The counters are the whole process's, so each test measures in a
//! process of its own ([`alone`]): under plain `cargo test` the tests of
//! this file run side by side in one process, and one test's allocations
//! were counted as the other's (issue #16).

// The counting allocator needs `unsafe impl GlobalAlloc`; the crate itself forbids unsafe.
#![allow(unsafe_code)]

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use sansmqtt_tokio::{Bytes, Config, QoS, TopicName};
use support::Mosquitto;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// Bytes allocated and not yet freed.
static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const PAYLOAD: &[u8; 64] = &[0x5a; 64];

/// The environment variable that names the test a child process runs.
const ALONE: &str = "SANSMQTT_ALLOC_TEST_ALONE";

/// Runs `body` in a process of its own: this test binary again, with
/// only the test `name` (and one test thread), whose exit status and
/// output are this test's. In that child, runs `body` itself.
fn alone(name: &str, body: impl FnOnce()) {
    if std::env::var(ALONE).as_deref() == Ok(name) {
        body();
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let out = std::process::Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(ALONE, name)
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(out.status.success(), "{name} failed in its own process");
    assert!(
        stdout.contains("1 passed"),
        "{name} did not run in its own process"
    );
}

/// Publishes `n` messages in windows of 8 concurrent calls (joined on the
/// stack: the test itself allocates nothing per window) and reads them back.
async fn round_trips(
    client: &sansmqtt_tokio::Client,
    sub: &mut sansmqtt_tokio::Subscription,
    topic: &TopicName,
    n: usize,
) {
    let payload = Bytes::from_static(PAYLOAD);
    let mut received = 0;
    assert_eq!(n % 64, 0);
    for _ in 0..n / 64 {
        for _ in 0..8 {
            let p = || client.publish(topic, payload.clone(), QoS::AtMostOnce, false);
            let r = futures_util::join!(p(), p(), p(), p(), p(), p(), p(), p());
            for r in [r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7] {
                r.expect("published");
            }
        }
        while received < n && sub_ready(sub, &mut received).await {}
    }
    while received < n {
        let m = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .unwrap_or_else(|_| panic!("message {received} of {n} within 10 s"))
            .expect("stream open");
        assert_eq!(m.payload().len(), 64);
        received += 1;
    }
}

/// Takes one message if one is ready now.
async fn sub_ready(sub: &mut sansmqtt_tokio::Subscription, received: &mut usize) -> bool {
    match futures_util::FutureExt::now_or_never(sub.next()) {
        Some(Some(_)) => {
            *received += 1;
            true
        }
        _ => false,
    }
}

#[test]
fn qos0_round_trip_allocates_nothing_per_message() {
    alone(
        "qos0_round_trip_allocates_nothing_per_message",
        qos0_round_trip,
    );
}

fn qos0_round_trip() {
    // mosquitto drops QoS 0 messages past its per-client queue limits;
    // lift them so that every message is forwarded.
    let broker =
        Mosquitto::start("max_queued_messages 0\nmax_inflight_messages 0\nmax_queued_bytes 0\n");
    // One thread: the counter sees only this client's work and tokio's.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = Config {
            client_id: Some(format!("alloc-{}", std::process::id())),
            ..Config::default()
        };
        let client = sansmqtt_tokio::connect(&broker.uri(), config)
            .await
            .expect("connect");
        let topic = TopicName::try_from("alloc/qos0").unwrap();
        let mut sub = client
            .subscription("alloc/qos0", QoS::AtMostOnce)
            .await
            .expect("subscribe");
        // Warm up: buffers, rings, reply slots and maps reach their size.
        round_trips(&client, &mut sub, &topic, 64 * 300).await;

        let n = 64 * 800;
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        round_trips(&client, &mut sub, &topic, n).await;
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        let per_message = allocations as f64 / n as f64;
        println!(
            "{allocations} allocations for {n} QoS 0 round trips ({per_message:.4} per message)"
        );
        // One allocation per ~800 messages is the buffers' amortised growth;
        // one per message (a channel node, a oneshot, a topic copy) would be
        // 1.0 or more.
        assert!(
            per_message < 0.02,
            "{allocations} allocations for {n} messages ({per_message:.4} per message)"
        );
        client.disconnect().await;
    });
}

#[test]
fn a_quiet_connection_holds_little_heap() {
    alone("a_quiet_connection_holds_little_heap", quiet_connection);
}

fn quiet_connection() {
    let broker = Mosquitto::start("");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = |i: usize| Config {
            client_id: Some(format!("mem-{}-{i}", std::process::id())),
            ..Config::default()
        };
        // The first client builds what the process shares (codecs, the
        // runtime's I/O driver state).
        let first = sansmqtt_tokio::connect(&broker.uri(), config(0))
            .await
            .expect("connect");
        let n = 50;
        let before = LIVE.load(Ordering::Relaxed);
        let mut clients = Vec::new();
        for i in 1..=n {
            let client = sansmqtt_tokio::connect(&broker.uri(), config(i))
                .await
                .expect("connect");
            // A little traffic, one call at a time, as most clients do.
            for _ in 0..5 {
                client
                    .publish(
                        format!("mem/{i}").as_str(),
                        PAYLOAD.to_vec(),
                        QoS::AtLeastOnce,
                        false,
                    )
                    .await
                    .expect("published");
            }
            clients.push(client);
        }
        let per_client = (LIVE.load(Ordering::Relaxed) - before) / n;
        println!("{per_client} bytes of heap per connected, quiet client");
        // About 8 KiB today; it was about 110 KiB when every connection
        // preallocated its rings and buffers at their largest.
        assert!(
            per_client < 16 * 1024,
            "{per_client} bytes of heap per quiet client"
        );
        for c in clients {
            c.disconnect().await;
        }
        first.disconnect().await;
    });
}
