//! Memory per connection, measured (figures in docs/embedded.md):
//!
//! - heap: a counting global allocator counts the allocations of the
//!   executor's thread (where the client and its connection run; other
//!   threads, async-io's reactor and the broker's, are left out) from
//!   `sansmqtt_embedded::new` on: live bytes once connected and
//!   subscribed, the peak while 16 QoS 1 messages of 256 bytes go to the
//!   client's own subscription and back, live bytes after, and the peak
//!   of one 3,000-byte message round trip (a packet near the 4 KiB
//!   default bound: reassembled on the heap);
//! - stack: `size_of_val` of the futures (`Connection::run`,
//!   `Client::publish`, ...) and `size_of` of the `Resources`. The `run`
//!   future holds the socket's read and write futures: measured over the
//!   host socket of the tests and over a socket whose futures are empty
//!   (the client's own share).
//!
//! Run with `--nocapture` to see the figures. The assertions are bounds
//! with room (a regression that doubles a figure fails).
//!
//! One test in this binary: the counters are the process's.

// The counting allocator needs `unsafe impl GlobalAlloc`; the crate itself forbids unsafe.
#![allow(unsafe_code)]

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::mem::{size_of, size_of_val};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use embassy_futures::join::join;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use sansmqtt_embedded::{Config, ProtocolVersion, QoS, Resources};
use support::Mosquitto;

use common::{block_on, connect};

struct Counting;

/// Bytes allocated by the measured thread and not yet freed.
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// The highest `LIVE` since the last reset.
static PEAK: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether this thread's allocations count (const-initialised: no
    /// allocation to reach it).
    static MEASURED: Cell<bool> = const { Cell::new(false) };
}

fn measured() -> bool {
    MEASURED.try_with(Cell::get).unwrap_or(false)
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && measured() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        if measured() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() && measured() {
            let live = LIVE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Live bytes relative to `base` (wrapping: memory freed that was
/// allocated before `base` was read would make it negative).
fn live_since(base: usize) -> isize {
    LIVE.load(Ordering::Relaxed) as isize - base as isize
}

type Res = Resources<NoopRawMutex, 1024, 8, 4>;

/// A socket whose read and write futures hold nothing (never polled here):
/// the `run` future over it is the client's own state.
struct NullSocket;

impl ErrorType for NullSocket {
    type Error = ErrorKind;
}

impl Read for NullSocket {
    async fn read(&mut self, _buf: &mut [u8]) -> Result<usize, ErrorKind> {
        Ok(0)
    }
}

impl Write for NullSocket {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

const MESSAGES: usize = 16;
const PAYLOAD: usize = 256;

#[derive(Debug, Clone, Copy)]
struct Figures {
    connected: isize,
    peak: isize,
    after: isize,
    large_peak: isize,
    run_future: usize,
    run_future_own: usize,
    publish_future: usize,
    subscribe_future: usize,
    deliver_future: usize,
}

fn measure(version: ProtocolVersion) -> Figures {
    let broker = Mosquitto::start("");
    let port = broker.port();
    let figures = std::rc::Rc::new(Cell::new(None));
    let out = figures.clone();
    block_on(Duration::from_secs(20), move || async move {
        let _broker = broker;
        let mut socket = connect(port).await;
        let mut res = Res::new();
        MEASURED.with(|m| m.set(true));
        let base = LIVE.load(Ordering::Relaxed);
        let mut config = Config::new("memory").expect("client id");
        config.session.version = version;
        let (client, mut conn) = sansmqtt_embedded::new(&mut res, config);
        let payload = [0x42u8; PAYLOAD];
        let run_future = size_of_val(&conn.run(&mut socket));
        let run_future_own = size_of_val(&conn.run(&mut NullSocket));
        let publish_future = size_of_val(&client.publish("t", &payload, QoS::AtLeastOnce, false));
        let subscribe_future = size_of_val(&client.subscribe("t", QoS::AtLeastOnce));
        let deliver_future = size_of_val(&client.deliver_message());
        let app = async {
            client
                .subscribe("mem/t", QoS::AtLeastOnce)
                .await
                .expect("subscribe");
            let connected = live_since(base);
            PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
            for _ in 0..MESSAGES {
                let (done, message) = join(
                    client.publish("mem/t", &payload, QoS::AtLeastOnce, false),
                    client.deliver_message(),
                )
                .await;
                done.expect("publish");
                assert_eq!(message.publish.payload.len(), PAYLOAD);
            }
            let peak = PEAK.load(Ordering::Relaxed) as isize - base as isize;
            let after = live_since(base);
            PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
            let large = [0x17u8; 3000];
            let (done, message) = join(
                client.publish("mem/t", &large, QoS::AtLeastOnce, false),
                client.deliver_message(),
            )
            .await;
            done.expect("publish");
            assert_eq!(message.publish.payload.len(), large.len());
            drop(message);
            let large_peak = PEAK.load(Ordering::Relaxed) as isize - base as isize;
            client.disconnect().expect("connected");
            (connected, peak, after, large_peak)
        };
        let (ended, (connected, peak, after, large_peak)) = join(conn.run(&mut socket), app).await;
        MEASURED.with(|m| m.set(false));
        ended.expect("clean end");
        out.set(Some(Figures {
            connected,
            peak,
            after,
            large_peak,
            run_future,
            run_future_own,
            publish_future,
            subscribe_future,
            deliver_future,
        }));
    });
    figures.get().expect("measured")
}

#[test]
fn memory_per_connection() {
    println!(
        "Resources<NoopRawMutex, 1024, 8, 4>: {} bytes (of which the read buffer 1024, the message queue {} = 8 x Message {})",
        size_of::<Res>(),
        8 * size_of::<sansmqtt_embedded::Message>() + 2 * size_of::<usize>(),
        size_of::<sansmqtt_embedded::Message>(),
    );
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let f = measure(version);
        println!(
            "{version:?}: heap connected+subscribed {} B, peak during {MESSAGES} x {PAYLOAD} B QoS 1 round trips {} B, after {} B, \
             peak of a 3000 B round trip {} B; futures: run {} B (client's own {} B), publish {} B, subscribe {} B, deliver_message {} B",
            f.connected,
            f.peak,
            f.after,
            f.large_peak,
            f.run_future,
            f.run_future_own,
            f.publish_future,
            f.subscribe_future,
            f.deliver_future
        );
        // Bounds with room: an idle connection holds a few KiB of heap,
        // and a round trip's buffers are freed again.
        assert!(f.connected > 0, "{f:?}: the session lives on the heap");
        assert!(f.connected < 16 * 1024, "{f:?}");
        assert!(f.peak >= f.connected, "{f:?}");
        assert!(f.peak < 32 * 1024, "{f:?}");
        assert!(f.after < 16 * 1024, "{f:?}");
        assert!(
            f.large_peak > f.after + 3000,
            "{f:?}: the payload is on the heap"
        );
        assert!(f.large_peak < f.after + 4 * 3000 + 4096, "{f:?}");
        assert!(f.run_future_own <= f.run_future, "{f:?}");
        assert!(f.run_future < 2048, "{f:?}");
        assert!(f.publish_future < 1024, "{f:?}");
    }
    assert!(size_of::<Res>() < 1024 + 4096);
}
