//! paho-mqtt (Rust over the Paho C library, built by its `bundled`
//! feature): the workloads, with its asynchronous client.
//!
//! The Paho C library has its own send and receive threads, shared by every
//! client of the process; the Rust side publishes (each `publish` queues a
//! command and returns a delivery token) and counts deliveries in the
//! message callback, which runs on Paho's receive thread. Publishers keep at
//! most `2 × INFLIGHT` delivery tokens outstanding (8 for W7), so that
//! Paho's own window (`max_inflight`, `INFLIGHT`) stays full without its
//! command queue holding the whole workload. Every wait is bounded.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use paho_mqtt::{
    AsyncClient, ConnectOptionsBuilder, CreateOptionsBuilder, DeliveryToken, Message,
    PersistenceType,
};

use crate::outcome::Outcome;
use crate::probe::{Window, payload};
use crate::workload::{INFLIGHT, Params, TOPIC, Workload};

/// Bound of one connect, subscribe, acknowledgement or disconnect.
const OP_TIMEOUT: Duration = Duration::from_secs(30);
/// A subscriber that receives nothing for this long is given up on.
const STALL: Duration = Duration::from_secs(10);
/// W7: 1 MiB messages awaiting acknowledgement at once.
const LARGE_PENDING: usize = 8;

pub(crate) fn run(w: Workload, p: &Params, port: u16) -> Result<Outcome, String> {
    match w {
        Workload::W1 | Workload::W2 | Workload::W3 => fan_out(p, port, 2 * usize::from(INFLIGHT)),
        Workload::W4 => latency(p, port),
        // Not run (`Peer::supports`); W5b would be the same calls.
        Workload::W5 | Workload::W5b => connections(p, port),
        Workload::W6 => fan_out(p, port, 2 * usize::from(INFLIGHT)),
        Workload::W7 => fan_out(p, port, LARGE_PENDING),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn uri(port: u16) -> String {
    format!("tcp://127.0.0.1:{port}")
}

/// A client of its own id, MQTT 3.1.1, no persistence (in memory only).
fn client(port: u16, role: &str) -> Result<AsyncClient, String> {
    CreateOptionsBuilder::new_v3()
        .server_uri(uri(port))
        .client_id(format!("paho-{}-{role}", std::process::id()))
        .persistence(PersistenceType::None)
        // Paho refuses a publish once this many wait in its command queue
        // (default 100), even while connected: above our own window.
        .max_buffered_messages(4 * i32::from(INFLIGHT))
        .create_client()
        .map_err(|e| format!("paho {role}: create: {e}"))
}

/// A clean session with Paho's in-flight window `INFLIGHT`.
fn connect_options() -> paho_mqtt::ConnectOptions {
    ConnectOptionsBuilder::new_v3()
        .clean_session(true)
        .keep_alive_interval(Duration::from_secs(60))
        .connect_timeout(OP_TIMEOUT)
        .max_inflight(i32::from(INFLIGHT))
        .finalize()
}

/// Connects with [`connect_options`].
fn connect(cli: &AsyncClient, role: &str) -> Result<(), String> {
    cli.connect(connect_options())
        .wait_for(OP_TIMEOUT)
        .map(|_| ())
        .map_err(|e| format!("paho {role}: connect: {e}"))
}

fn disconnect(cli: &AsyncClient, role: &str) -> Result<(), String> {
    cli.disconnect(None)
        .wait_for(OP_TIMEOUT)
        .map(|_| ())
        .map_err(|e| format!("paho {role}: disconnect: {e}"))
}

fn subscribe(cli: &AsyncClient, topic: &str, qos: u8, role: &str) -> Result<(), String> {
    cli.subscribe(topic, i32::from(qos))
        .wait_for(OP_TIMEOUT)
        .map(|_| ())
        .map_err(|e| format!("paho {role}: subscribe: {e}"))
}

/// Waits for one delivery token: without a timer when it is already done.
fn settle(mut tok: DeliveryToken) -> Result<(), String> {
    let res = match (&mut tok).now_or_never() {
        Some(res) => res,
        None => tok.wait_for(OP_TIMEOUT),
    };
    res.map_err(|e| format!("paho publish: {e}"))
}

/// Delivery tokens of a publisher, at most `cap` outstanding.
struct Pending {
    tokens: VecDeque<DeliveryToken>,
    cap: usize,
}

impl Pending {
    fn new(cap: usize) -> Self {
        Self {
            tokens: VecDeque::with_capacity(cap + 1),
            cap: cap.max(1),
        }
    }

    fn push(&mut self, tok: DeliveryToken) -> Result<(), String> {
        self.tokens.push_back(tok);
        while self.tokens.len() > self.cap {
            if let Some(oldest) = self.tokens.pop_front() {
                settle(oldest)?;
            }
        }
        Ok(())
    }

    fn drain(&mut self) -> Result<(), String> {
        while let Some(tok) = self.tokens.pop_front() {
            settle(tok)?;
        }
        Ok(())
    }
}

/// Deliveries counted by the subscribers' message callbacks.
struct Inbox {
    /// Received, and when the last one was.
    state: Mutex<(u64, Option<Instant>)>,
    reached: Condvar,
    target: u64,
}

impl Inbox {
    fn new(target: u64) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new((0, None)),
            reached: Condvar::new(),
            target,
        })
    }

    /// Sets `cli`'s message callback to count into this inbox.
    fn attach(self: &Arc<Self>, cli: &AsyncClient) {
        let inbox = Arc::clone(self);
        cli.set_message_callback(move |_, msg| {
            if msg.is_some() {
                let mut s = lock(&inbox.state);
                s.0 += 1;
                s.1 = Some(Instant::now());
                if s.0 >= inbox.target {
                    inbox.reached.notify_all();
                }
            }
        });
    }

    /// Waits until every delivery arrived, or none for `STALL`; returns
    /// the count and the time of the last receipt.
    fn wait(&self) -> (u64, Option<Instant>) {
        let mut s = lock(&self.state);
        let mut seen = s.0;
        let mut progress = Instant::now();
        while s.0 < self.target && progress.elapsed() < STALL {
            s = self
                .reached
                .wait_timeout(s, Duration::from_millis(200))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
            if s.0 != seen {
                seen = s.0;
                progress = Instant::now();
            }
        }
        *s
    }
}

/// W1-W3, W6, W7: `p.subscribers` subscribers and one publisher of `p.n`
/// messages at `p.qos`, at most `pending` outstanding.
fn fan_out(p: &Params, port: u16, pending: usize) -> Result<Outcome, String> {
    let expected = p.deliveries();
    let inbox = Inbox::new(expected);
    let mut subs = Vec::with_capacity(p.subscribers);
    for i in 0..p.subscribers {
        let role = format!("sub{i}");
        let sub = client(port, &role)?;
        inbox.attach(&sub);
        connect(&sub, &role)?;
        subscribe(&sub, TOPIC, p.qos, &role)?;
        subs.push((sub, role));
    }
    let publisher = client(port, "pub")?;
    connect(&publisher, "pub")?;
    let body = payload(p.payload);
    let mut tokens = Pending::new(pending);

    let window = Window::start();
    for _ in 0..p.n {
        tokens.push(publisher.publish(Message::new(TOPIC, body.as_slice(), i32::from(p.qos))))?;
    }
    tokens.drain()?;
    let (received, last) = inbox.wait();
    let outcome = window.finish_at(last.unwrap_or_else(Instant::now), received, expected);

    disconnect(&publisher, "pub")?;
    for (sub, role) in &subs {
        disconnect(sub, role)?;
    }
    if received == 0 {
        return Err(format!("nothing received of {expected}"));
    }
    Ok(outcome)
}

/// W4: `p.n` QoS 0 round trips, one at a time, to the client's own
/// subscription.
fn latency(p: &Params, port: u16) -> Result<Outcome, String> {
    let cli = client(port, "rtt")?;
    let rx = cli.start_consuming();
    connect(&cli, "rtt")?;
    subscribe(&cli, TOPIC, 0, "rtt")?;
    let body = payload(p.payload);
    let mut hist = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
        .map_err(|e| format!("histogram: {e}"))?;
    let expected = p.n as u64;
    let mut received = 0u64;
    let mut last = None;

    let window = Window::start();
    for _ in 0..p.n {
        let sent = Instant::now();
        // A QoS 0 token completes once written; the round trip is what counts.
        drop(cli.publish(Message::new(TOPIC, body.as_slice(), 0)));
        match rx.recv_timeout(STALL) {
            Ok(Some(_)) => {
                let now = Instant::now();
                let us = now.saturating_duration_since(sent).as_micros();
                hist.record(u64::try_from(us).unwrap_or(u64::MAX).max(1))
                    .map_err(|e| format!("histogram: {e}"))?;
                received += 1;
                last = Some(now);
            }
            Ok(None) => return Err("paho rtt: connection lost".into()),
            Err(e) => return Err(format!("paho rtt: no echo after {received}: {e}")),
        }
    }
    let mut outcome = window.finish_at(last.unwrap_or_else(Instant::now), received, expected);
    outcome.latency_us = Some([
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.99),
        hist.max(),
    ]);
    cli.stop_consuming();
    disconnect(&cli, "rtt")?;
    Ok(outcome)
}

/// W5: `p.clients` clients connect at once, each publishes `p.n` QoS 1
/// messages to its own topic, then disconnects; from the first connect to
/// the last disconnect.
///
/// Known limit: the bundled Paho C library (1.3.x) stalls in one process
/// somewhere between 350 (fine) and 400 open clients, connecting all at
/// once or 200 at a time alike, so the full W5 (500) ends in a timeout
/// error here rather than a figure.
fn connections(p: &Params, port: u16) -> Result<Outcome, String> {
    let body = payload(p.payload);
    let expected = (p.n * p.clients) as u64;

    let window = Window::start();
    let mut clients = Vec::with_capacity(p.clients);
    for i in 0..p.clients {
        clients.push(client(port, &format!("c{i}"))?);
    }
    let opts = connect_options();
    let connecting: Vec<_> = clients.iter().map(|c| c.connect(opts.clone())).collect();
    for (i, tok) in connecting.into_iter().enumerate() {
        tok.wait_for(OP_TIMEOUT)
            .map_err(|e| format!("paho c{i}: connect: {e}"))?;
    }
    let mut tokens = Vec::with_capacity(p.n * p.clients);
    for (i, c) in clients.iter().enumerate() {
        let topic = format!("{TOPIC}/{i}");
        for _ in 0..p.n {
            tokens.push(c.publish(Message::new(
                topic.as_str(),
                body.as_slice(),
                i32::from(p.qos),
            )));
        }
    }
    let mut acked = 0u64;
    for tok in tokens {
        settle(tok)?;
        acked += 1;
    }
    let leaving: Vec<_> = clients.iter().map(|c| c.disconnect(None)).collect();
    for (i, tok) in leaving.into_iter().enumerate() {
        tok.wait_for(OP_TIMEOUT)
            .map_err(|e| format!("paho c{i}: disconnect: {e}"))?;
    }
    Ok(window.finish(acked, expected))
}
