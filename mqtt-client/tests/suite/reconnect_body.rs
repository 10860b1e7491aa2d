//! Reconnect and scripted-broker tests of issue #4, shared by every runtime
//! adapter: a real mosquitto killed and restarted under QoS 1 and QoS 2
//! streams, a scripted [`FakeBroker`] for what a real broker will not do (no
//! CONNACK, no PINGRESP, withheld acks, protocol violations), and one
//! `seed_bug_N_...` test per distmqtt bug of `shared/guide/seed-system.md`
//! that the client could show.
//!
//! The bodies use only the runtime-generic `sansmqtt::Client::connect` and
//! [`TestRuntime`] (`runtime.rs`). An adapter's `tests/reconnect.rs`
//! includes this file and picks its runtime:
//!
//! ```ignore
//! #[path = "../../mqtt-client/tests/support/mod.rs"]
//! mod support;
//! #[path = "../../mqtt-client/tests/suite/runtime.rs"]
//! mod runtime;
//! #[path = "../../mqtt-client/tests/suite/reconnect_body.rs"]
//! mod suite;
//!
//! /// The runtime every test of the suite runs on.
//! type Rt = MyTestRuntime; // implements runtime::TestRuntime
//! ```
//!
//! and gets its tests: `#[test]` functions that run their body on
//! `crate::Rt` ([`run`]), named like
//! `suite::seed_bug_9_a_hash_filter_matches_its_parent` (dev-dependencies:
//! `futures-util`, `serde_json`, `socket2`).
//!
//! Every test body runs under a deadline; every blocking call of the
//! support module has its own, so nothing can hang. The test thread blocks
//! on the support module's std sockets and processes (`block_on` runs the
//! body there); the client's driver runs on the runtime's worker threads
//! meanwhile, and client calls that must proceed while the test blocks are
//! spawned as tasks ([`spawn`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::future::{AbortHandle, Aborted, abortable};
use futures_util::{Stream, StreamExt};
use sansmqtt::{
    Client, ClientError, CloseReason, Config, ConnectionState, Message, PublishDone, PublishError,
    QoS, RequestError, Subscription,
};
use socket2::{Domain, Socket, Type};

use crate::Rt;
use crate::runtime::{self, TestRuntime, blocking, timeout};
use crate::support::{
    self, CONNACK_ACCEPTED, CONNACK_SESSION_PRESENT, DISCONNECT, FakeBroker, Mosquitto, PINGRESP,
    ack, packet_id, publish, suback,
};

/// Deadline of one step (a connection, a packet, an answer).
const T: Duration = Duration::from_secs(5);
/// "Promptly": an answer that must not wait for any timer.
const PROMPT: Duration = Duration::from_secs(1);
/// How long "nothing happens" is watched.
const QUIET: Duration = Duration::from_millis(400);

/// Runs a test body on the including test crate's runtime `crate::Rt`,
/// under a deadline.
fn run<F: Future>(limit: Duration, body: F) -> F::Output {
    <Rt as TestRuntime>::block_on(async {
        match timeout(limit, body).await {
            Ok(v) => v,
            Err(_) => panic!("test did not finish within {limit:?}"),
        }
    })
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ------------------------------------------------------------------- tasks

/// A task of the test runtime as the tests watch it: whether it is over,
/// its output (awaiting it re-raises its panic), and abortable. Dropping it
/// may cancel it (smol), so the tests keep what they spawn.
struct Task<T> {
    output: Pin<Box<dyn Future<Output = Result<T, Aborted>> + Send>>,
    over: Arc<AtomicBool>,
    abort: AbortHandle,
}

/// A task's future, raising `over` once it is over: ready (the runtimes
/// drop a task's future once it is), panicked (the runtime drops it then)
/// or aborted.
struct Watched<F> {
    future: Pin<Box<F>>,
    over: Arc<AtomicBool>,
}

impl<F: Future> Future for Watched<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.future.as_mut().poll(cx)
    }
}

impl<F> Drop for Watched<F> {
    fn drop(&mut self) {
        self.over.store(true, Ordering::Release);
    }
}

/// Runs `future` as a task of the test runtime.
fn spawn<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> Task<T> {
    let over = Arc::new(AtomicBool::new(false));
    let (future, abort) = abortable(future);
    let output = runtime::spawn(Watched {
        future: Box::pin(future),
        over: over.clone(),
    });
    Task {
        output: Box::pin(output),
        over,
        abort,
    }
}

impl<T> Task<T> {
    /// Whether the task is over (returned, panicked or aborted).
    fn is_finished(&self) -> bool {
        self.over.load(Ordering::Acquire)
    }

    /// Stops the task (at its next wake-up, which this triggers).
    fn abort(&self) {
        self.abort.abort();
    }
}

impl<T> Future for Task<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.output
            .as_mut()
            .poll(cx)
            .map(|r| r.expect("the task was aborted"))
    }
}

/// The suite's own tasks on this runtime: `is_finished` turns true once a
/// task is ready, aborted or panicked (the tests' "still waiting" checks
/// mean something only then), and awaiting gives the output.
#[test]
fn suite_tasks_report_when_they_are_over() {
    run(Duration::from_secs(20), async {
        /// Whether `task` is over within `T` (a panic's message and backtrace
        /// are written first, which may take a while).
        async fn over<R>(task: &Task<R>) -> bool {
            let deadline = Instant::now() + T;
            while !task.is_finished() && Instant::now() < deadline {
                Rt::sleep(ms(10)).await;
            }
            task.is_finished()
        }
        let ready = spawn(async { 1 });
        assert!(over(&ready).await, "ready");
        assert_eq!(ready.await, 1);
        let pending = spawn(Rt::sleep(ms(2000)));
        Rt::sleep(ms(50)).await;
        assert!(!pending.is_finished(), "pending");
        pending.abort();
        assert!(over(&pending).await, "aborted");
        let panicked = spawn(async { panic!("a task's panic (expected by the test)") });
        assert!(over(&panicked).await, "panicked");
    });
}

/// Runs `future` in the background, detached (it ends with its stream).
fn detach(future: impl Future<Output = ()> + Send + 'static) {
    Rt::runtime().spawn(Box::pin(future));
}

/// Ready at `deadline` (at once if it has passed).
async fn sleep_until(deadline: Instant) {
    Rt::sleep(deadline.saturating_duration_since(Instant::now())).await;
}

// ---------------------------------------------------------------- helpers

/// A persistent session that reconnects forever, at least once a second.
fn persistent(client_id: &str) -> Config {
    Config {
        client_id: Some(client_id.to_owned()),
        cleansession: false,
        reconnect_retries: -1,
        reconnect_max_interval: Duration::from_secs(1),
        ..Config::default()
    }
}

/// A clean session that reconnects forever, at least once a second.
fn forever(client_id: &str) -> Config {
    Config {
        cleansession: true,
        ..persistent(client_id)
    }
}

/// Waits for a state matching `want`; returns every state seen up to it.
async fn wait_state<S>(
    states: &mut S,
    limit: Duration,
    want: impl Fn(&ConnectionState) -> bool,
) -> Vec<ConnectionState>
where
    S: Stream<Item = ConnectionState> + Unpin,
{
    let mut seen = Vec::new();
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, states.next()).await {
            Ok(Some(s)) => {
                let done = want(&s);
                seen.push(s);
                if done {
                    return seen;
                }
            }
            Ok(None) => panic!("state stream ended; seen {seen:?}"),
            Err(_) => panic!("state not reached within {limit:?}; seen {seen:?}"),
        }
    }
}

/// The state changes from now on (without the current state, which
/// [`Client::state_changes`] yields first).
fn changes(client: &Client) -> impl Stream<Item = ConnectionState> + Unpin + Send + 'static {
    client.state_changes().skip(1)
}

fn is_connected(s: &ConnectionState) -> bool {
    matches!(s, ConnectionState::Connected { .. })
}

type StateLog = Arc<Mutex<Vec<(Instant, ConnectionState)>>>;

/// Records every state change with its instant, in the background.
fn record_states(client: &Client) -> StateLog {
    let log = StateLog::default();
    let mut states = client.state_changes();
    let sink = log.clone();
    detach(async move {
        while let Some(s) = states.next().await {
            sink.lock().unwrap().push((Instant::now(), s));
        }
    });
    log
}

/// The next message of a stream, within `limit`.
async fn next_within(sub: &mut Subscription, limit: Duration) -> Message {
    timeout(limit, sub.next())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no message on {:?} within {limit:?}",
                Subscription::topic_filter(sub)
            )
        })
        .expect("the stream ended")
}

fn payload_str(m: &Message) -> &str {
    std::str::from_utf8(m.payload()).expect("UTF-8 payload")
}

/// `Client::connect` on the test runtime.
fn try_connect(
    uri: &str,
    config: Config,
) -> impl Future<Output = Result<Client, ClientError>> + Send + '_ {
    Client::connect(Rt::runtime(), uri, config)
}

/// Connects to a real broker.
async fn connect(uri: &str, config: Config) -> Client {
    match timeout(T, try_connect(uri, config)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => panic!("connect to {uri}: {e}"),
        Err(_) => panic!("connect to {uri}: no answer within {T:?}"),
    }
}

// ------------------------------------------------------------ fake broker

/// Accepts the client's next connection, reads CONNECT, answers `connack`;
/// returns CONNECT.
fn handshake(fake: &mut FakeBroker, connack: &[u8]) -> Vec<u8> {
    fake.accept(T).expect("the client connects");
    let connect = fake.read_packet(T).expect("CONNECT");
    assert_eq!(connect[0], 0x10, "CONNECT first, got {connect:02x?}");
    fake.write(connack).expect("write CONNACK");
    connect
}

/// Connects a client to the fake broker, which answers `connack`.
async fn connect_fake(fake: &mut FakeBroker, config: Config, connack: &[u8]) -> (Client, Vec<u8>) {
    let uri = fake.uri();
    let pending = spawn(async move { try_connect(&uri, config).await });
    let connect = handshake(fake, connack);
    let client = timeout(T, pending)
        .await
        .expect("connect returns")
        .expect("connect succeeds");
    (client, connect)
}

/// Spawns a QoS 1/2 publish, so that it proceeds while the test blocks.
fn spawn_publish(
    client: &Client,
    topic: &'static str,
    payload: &'static str,
    qos: QoS,
) -> Task<Result<PublishDone, ClientError>> {
    let c = client.clone();
    spawn(async move { c.publish(topic, payload, qos, false).await })
}

/// The result of a task that must be over within `limit` (its panic
/// re-raised).
async fn finished<R>(task: Task<R>, limit: Duration) -> R {
    timeout(limit, task).await.expect("the call hung")
}

fn packet_type(p: &[u8]) -> u8 {
    p[0] >> 4
}

fn dup_flag(p: &[u8]) -> bool {
    p[0] & 0x08 != 0
}

/// The body of a packet (after the fixed header).
fn body(p: &[u8]) -> &[u8] {
    let mut i = 1;
    while p[i] & 0x80 != 0 {
        i += 1;
    }
    &p[i + 1..]
}

/// Topic and payload of a 3.1.1 PUBLISH.
fn publish_parts(p: &[u8]) -> (String, Vec<u8>) {
    let b = body(p);
    let n = usize::from(u16::from_be_bytes([b[0], b[1]]));
    let topic = String::from_utf8(b[2..2 + n].to_vec()).unwrap();
    let skip = if (p[0] >> 1) & 3 == 0 { 0 } else { 2 };
    (topic, b[2 + n + skip..].to_vec())
}

/// What a 3.1.1 CONNECT carries.
#[derive(Debug)]
struct ConnectInfo {
    clean: bool,
    keep_alive: u16,
    client_id: String,
    /// Topic, message, QoS, retain.
    will: Option<(String, Vec<u8>, u8, bool)>,
}

fn parse_connect(p: &[u8]) -> ConnectInfo {
    fn field(b: &[u8], at: &mut usize) -> Vec<u8> {
        let n = usize::from(u16::from_be_bytes([b[*at], b[*at + 1]]));
        let v = b[*at + 2..*at + 2 + n].to_vec();
        *at += 2 + n;
        v
    }
    let b = body(p);
    let mut at = 0;
    assert_eq!(field(b, &mut at), b"MQTT");
    assert_eq!(b[at], 4, "protocol level 3.1.1");
    let flags = b[at + 1];
    let keep_alive = u16::from_be_bytes([b[at + 2], b[at + 3]]);
    at += 4;
    let client_id = String::from_utf8(field(b, &mut at)).unwrap();
    let will = (flags & 0x04 != 0).then(|| {
        let topic = String::from_utf8(field(b, &mut at)).unwrap();
        let message = field(b, &mut at);
        (topic, message, (flags >> 3) & 3, flags & 0x20 != 0)
    });
    ConnectInfo {
        clean: flags & 0x02 != 0,
        keep_alive,
        client_id,
        will,
    }
}

/// Reads SUBSCRIBE and grants every filter at `granted`; returns its id.
fn grant_subscribe(fake: &mut FakeBroker, granted: u8) -> u16 {
    let (sub, _) = fake.read_until_type(8, T).expect("SUBSCRIBE");
    let id = packet_id(&sub).expect("SUBSCRIBE id");
    // Count the filters: (length, filter, options) after the id.
    let b = body(&sub);
    let (mut at, mut n) = (2, 0);
    while at < b.len() {
        at += 2 + usize::from(u16::from_be_bytes([b[at], b[at + 1]])) + 1;
        n += 1;
    }
    fake.write(&suback(id, &vec![granted; n])).unwrap();
    id
}

// ===================================================== broker outages (mosquitto)

/// mosquitto that saves its sessions on SIGTERM ([`Mosquitto::stop_graceful`])
/// and reloads them on restart: the way a real deployment keeps persistent
/// sessions across a broker restart. No bound on queued messages, so that the
/// broker never drops a QoS 1/2 message itself.
const PERSISTENT_BROKER: &str =
    "persistence true\npersistence_location {dir}/\nautosave_interval 0\nmax_queued_messages 0\n";

/// One publish call of a stream: its sequence number, result and end.
struct Sent {
    seq: u32,
    result: Result<PublishDone, ClientError>,
    issued_at: Instant,
    done_at: Instant,
}

/// Publishes `0..count` to `topic`, one every `every`, each call a task of
/// its own (calls made during an outage wait side by side).
fn publish_stream(
    client: &Client,
    topic: &'static str,
    qos: QoS,
    count: u32,
    every: Duration,
) -> Task<Vec<Task<Sent>>> {
    let client = client.clone();
    spawn(async move {
        let mut calls = Vec::with_capacity(count as usize);
        // One call every `every` from the first (late ones catch up).
        let start = Instant::now();
        for seq in 0..count {
            sleep_until(start + every * seq).await;
            let c = client.clone();
            calls.push(spawn(async move {
                let issued_at = Instant::now();
                let result = c.publish(topic, seq.to_string(), qos, false).await;
                Sent {
                    seq,
                    result,
                    issued_at,
                    done_at: Instant::now(),
                }
            }));
        }
        calls
    })
}

type Tally = Arc<Mutex<BTreeMap<u32, u32>>>;

/// Counts the sequence numbers a stream receives, in the background.
fn tally(mut sub: Subscription) -> (Tally, Task<()>) {
    let tally = Tally::default();
    let sink = tally.clone();
    let task = spawn(async move {
        while let Some(m) = sub.next().await {
            let seq: u32 = payload_str(&m).parse().expect("a sequence number");
            *sink.lock().unwrap().entry(seq).or_default() += 1;
        }
    });
    (tally, task)
}

/// Waits until a tally has every number of `0..count`; panics with the
/// missing ones after `limit`.
async fn wait_tally(tally: &Tally, count: u32, limit: Duration, what: &str) {
    let deadline = Instant::now() + limit;
    loop {
        let missing: Vec<u32> = {
            let t = tally.lock().unwrap();
            (0..count).filter(|s| !t.contains_key(s)).collect()
        };
        if missing.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            panic!(
                "{what}: {} of {count} messages missing after {limit:?}: {:?}...",
                missing.len(),
                &missing[..missing.len().min(20)]
            );
        }
        Rt::sleep(ms(50)).await;
    }
}

/// A QoS 1 and a QoS 2 stream between two persistent sessions through a
/// broker that is stopped for `down` and restarted on the same port with
/// its sessions: every message arrives, QoS 2 exactly once, every publish
/// call ends with an acknowledgement and none ends while the broker is down.
async fn stream_through_outage(down: Duration) {
    let mut broker = blocking(|| Mosquitto::start(PERSISTENT_BROKER));
    let uri = broker.uri();
    let sub = connect(&uri, persistent("outage-sub")).await;
    let publisher = connect(&uri, persistent("outage-pub")).await;
    let mut sub_states = changes(&sub);
    let mut pub_states = changes(&publisher);
    let q1 = sub
        .subscription("outage/q1", QoS::AtLeastOnce)
        .await
        .unwrap();
    let q2 = sub
        .subscription("outage/q2", QoS::ExactlyOnce)
        .await
        .unwrap();
    let (got1, task1) = tally(q1);
    let (got2, task2) = tally(q2);

    let every = ms(25);
    let count = ((down + ms(2000)).as_millis() / every.as_millis()) as u32;
    let stream1 = publish_stream(&publisher, "outage/q1", QoS::AtLeastOnce, count, every);
    let stream2 = publish_stream(&publisher, "outage/q2", QoS::ExactlyOnce, count, every);

    Rt::sleep(ms(500)).await;
    blocking(|| broker.stop_graceful());
    let down_from = Instant::now();
    wait_state(&mut sub_states, T, |s| {
        matches!(s, ConnectionState::Reconnecting { .. })
    })
    .await;
    Rt::sleep(down.saturating_sub(down_from.elapsed())).await;
    let down_until = Instant::now();
    blocking(|| broker.restart());

    // Both sessions resume (the broker kept them).
    for states in [&mut sub_states, &mut pub_states] {
        let seen = wait_state(states, T, is_connected).await;
        assert_eq!(
            seen.last(),
            Some(&ConnectionState::Connected {
                session_present: true
            }),
            "{seen:?}"
        );
    }

    // No publish call hung, none succeeded without an acknowledgement.
    let mut during_outage = 0;
    for stream in [stream1, stream2] {
        let calls = finished(stream, down + T).await;
        assert_eq!(calls.len() as u32, count);
        for call in calls {
            let sent = finished(call, 2 * T).await;
            let done = sent
                .result
                .unwrap_or_else(|e| panic!("publish {} failed: {e}", sent.seq));
            assert_ne!(done.qos, QoS::AtMostOnce);
            assert!(
                !(down_from < sent.done_at && sent.done_at < down_until),
                "publish {} completed while the broker was down",
                sent.seq
            );
            if down_from < sent.issued_at && sent.issued_at < down_until {
                during_outage += 1;
            }
        }
    }
    assert!(
        during_outage as u128 >= down.as_millis() / every.as_millis() / 2,
        "only {during_outage} calls made during the outage"
    );

    wait_tally(&got1, count, 2 * T, "QoS 1").await;
    wait_tally(&got2, count, 2 * T, "QoS 2").await;
    // Late duplicates would arrive now.
    Rt::sleep(QUIET).await;
    task1.abort();
    task2.abort();
    let dups: Vec<(u32, u32)> = got2
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, n)| **n != 1)
        .map(|(s, n)| (*s, *n))
        .collect();
    assert!(dups.is_empty(), "QoS 2 delivered more than once: {dups:?}");
    sub.disconnect().await;
    publisher.disconnect().await;
}

#[test]
fn qos1_and_qos2_streams_survive_a_3s_broker_outage_with_persistent_sessions() {
    run(
        Duration::from_secs(45),
        stream_through_outage(Duration::from_secs(3)),
    );
}

#[test]
fn qos1_and_qos2_streams_survive_a_15s_broker_outage_with_persistent_sessions() {
    run(
        Duration::from_secs(60),
        stream_through_outage(Duration::from_secs(15)),
    );
}

/// The broker restarts without the sessions (SIGKILL, no persistence): the
/// client sees `session_present: false`, resubscribes every stream and plain
/// subscription by itself, and messages flow again; publishes that were in
/// flight fail with a typed error instead of succeeding without an ack.
#[test]
fn subscriptions_are_restored_when_the_broker_lost_the_session() {
    run(Duration::from_secs(45), async {
        let mut broker = blocking(|| Mosquitto::start("max_queued_messages 0\n"));
        let uri = broker.uri();
        let client = connect(&uri, persistent("lost-sub")).await;
        let publisher = connect(&uri, persistent("lost-pub")).await;
        let mut q1 = client
            .subscription("lost/q1", QoS::AtLeastOnce)
            .await
            .unwrap();
        let mut q2 = client
            .subscription("lost/q2", QoS::ExactlyOnce)
            .await
            .unwrap();
        let granted = client
            .subscribe(&[("lost/plain", QoS::AtLeastOnce)])
            .await
            .unwrap();
        assert_eq!(granted, vec![Ok(QoS::AtLeastOnce)]);
        let mut states = changes(&client);
        let mut pub_states = changes(&publisher);

        blocking(|| broker.stop());
        wait_state(&mut states, T, |s| {
            matches!(s, ConnectionState::Reconnecting { .. })
        })
        .await;
        // Calls made during the outage wait.
        let waiting = [
            spawn_publish(&publisher, "lost/q1", "during", QoS::AtLeastOnce),
            spawn_publish(&publisher, "lost/q2", "during", QoS::ExactlyOnce),
        ];
        Rt::sleep(Duration::from_secs(3)).await;
        assert!(waiting.iter().all(|w| !w.is_finished()));
        blocking(|| broker.restart());

        let seen = wait_state(&mut states, T, is_connected).await;
        assert_eq!(
            seen.last(),
            Some(&ConnectionState::Connected {
                session_present: false
            }),
            "{seen:?}"
        );
        wait_state(&mut pub_states, T, is_connected).await;
        for w in waiting {
            // Never sent before the outage: they go out after it.
            let r = finished(w, T).await;
            assert!(
                matches!(
                    r,
                    Ok(_) | Err(ClientError::Publish(PublishError::SessionLost))
                ),
                "{r:?}"
            );
        }
        // The client resubscribed; the publisher's messages may have been
        // published before that: probe until one arrives, then count.
        let deadline = Instant::now() + T;
        loop {
            publisher
                .publish("lost/q1", "probe", QoS::AtLeastOnce, false)
                .await
                .unwrap();
            match timeout(ms(200), q1.next()).await {
                Ok(Some(m)) if payload_str(&m) == "probe" => break,
                _ if Instant::now() < deadline => {}
                _ => panic!("the subscriptions were not restored"),
            }
        }
        for i in 0..20 {
            let p = format!("after-{i}");
            for (topic, qos) in [
                ("lost/q1", QoS::AtLeastOnce),
                ("lost/q2", QoS::ExactlyOnce),
                ("lost/plain", QoS::AtLeastOnce),
            ] {
                publisher
                    .publish(topic, p.clone(), qos, false)
                    .await
                    .unwrap();
            }
        }
        let mut want = 0;
        while want < 20 {
            let m = next_within(&mut q1, T).await;
            if payload_str(&m) == format!("after-{want}") {
                want += 1;
            }
        }
        let mut all2 = Vec::new();
        while all2.len() < 20 {
            let m = next_within(&mut q2, T).await;
            if payload_str(&m).starts_with("after-") {
                all2.push(payload_str(&m).to_owned());
            }
        }
        let expected: Vec<String> = (0..20).map(|i| format!("after-{i}")).collect();
        assert_eq!(all2, expected, "QoS 2 exactly once, in order");
        let mut plain = 0;
        while plain < 20 {
            let m = timeout(T, client.deliver_message())
                .await
                .expect("plain subscription restored")
                .expect("client open");
            if payload_str(&m).starts_with("after-") {
                assert_eq!(m.topic().as_str(), "lost/plain");
                plain += 1;
            }
        }
        client.disconnect().await;
        publisher.disconnect().await;
    });
}

// ========================================= first connect, give up, states

#[test]
fn seed_bug_2_auto_reconnect_covers_the_first_connect() {
    run(Duration::from_secs(20), async {
        let mut broker = blocking(|| Mosquitto::start(""));
        let uri = broker.uri();
        blocking(|| broker.stop());
        let config = Config {
            reconnect_retries: -1,
            reconnect_max_interval: ms(500),
            ..Config::default()
        };
        let called = Instant::now();
        let pending = spawn(async move { try_connect(&uri, config).await });
        Rt::sleep(Duration::from_secs(2)).await;
        assert!(!pending.is_finished(), "connect gave up on a refused port");
        blocking(|| broker.restart());
        let client = finished(pending, T)
            .await
            .expect("connected once the broker is up");
        assert!(called.elapsed() >= Duration::from_secs(2));
        // Connected for real.
        client
            .publish("first/connect", "ok", QoS::AtLeastOnce, false)
            .await
            .unwrap();
        client.disconnect().await;
    });
}

#[test]
fn first_connect_gives_up_after_reconnect_retries_with_a_typed_error() {
    run(Duration::from_secs(20), async {
        let mut broker = blocking(|| Mosquitto::start(""));
        let uri = broker.uri();
        blocking(|| broker.stop());
        let config = Config {
            reconnect_retries: 3,
            reconnect_max_interval: ms(200),
            ..Config::default()
        };
        let start = Instant::now();
        let r = timeout(T, try_connect(&uri, config))
            .await
            .expect("connect gives up in time");
        assert!(matches!(r, Err(ClientError::Connect(_))), "{r:?}");
        // Three retries after the first try, the first delay a fifth of the
        // 200 ms cap: at least 20 + 40 + 80 ms.
        assert!(start.elapsed() >= ms(140), "{:?}", start.elapsed());
        // Without auto_reconnect the first failure is the answer.
        let config = Config {
            auto_reconnect: false,
            ..Config::default()
        };
        let r = timeout(PROMPT, try_connect(&broker.uri(), config))
            .await
            .expect("connect fails at once");
        assert!(matches!(r, Err(ClientError::Connect(_))), "{r:?}");
    });
}

/// After a loss, `reconnect_retries` attempts, then `Closed`: waiting calls
/// fail with a typed error, new calls fail, `deliver_message` ends.
#[test]
fn auto_reconnect_gives_up_after_reconnect_retries_with_a_typed_error() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let config = Config {
            reconnect_retries: 3,
            reconnect_max_interval: ms(300),
            ..Config::default()
        };
        let (client, _) = connect_fake(&mut fake, config, &CONNACK_ACCEPTED).await;
        let mut states = client.state_changes();
        fake.stop_listening();
        fake.drop_connection();
        let seen = wait_state(&mut states, T, |s| *s == ConnectionState::Closed).await;
        let attempts: Vec<u32> = seen
            .iter()
            .filter_map(|s| match s {
                ConnectionState::Connecting { attempt } => Some(*attempt),
                _ => None,
            })
            .collect();
        assert_eq!(attempts, [1, 2, 3], "{seen:?}");
        let retries: Vec<u32> = seen
            .iter()
            .filter_map(|s| match s {
                ConnectionState::Reconnecting { attempt } => Some(*attempt),
                _ => None,
            })
            .collect();
        assert_eq!(retries, [1, 2, 3], "{seen:?}");
        assert_eq!(
            seen[1],
            ConnectionState::Disconnected {
                reason: Some(CloseReason::ConnectionLost)
            },
            "{seen:?}"
        );
        let r = client.publish("gone", "x", QoS::AtLeastOnce, false).await;
        assert_eq!(r, Err(ClientError::Closed));
        assert_eq!(
            client.subscribe(&[("gone", QoS::AtMostOnce)]).await,
            Err(ClientError::Closed)
        );
        assert_eq!(client.ping().await, Err(ClientError::Closed));
        assert!(
            timeout(PROMPT, client.deliver_message())
                .await
                .expect("deliver_message ends")
                .is_none()
        );
    });
}

/// Calls waiting when the client gives up fail with a typed error.
#[test]
fn calls_waiting_for_the_connection_fail_when_the_client_gives_up() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let config = Config {
            reconnect_retries: 2,
            reconnect_max_interval: ms(1000),
            ..Config::default()
        };
        let (client, _) = connect_fake(&mut fake, config, &CONNACK_ACCEPTED).await;
        let mut states = client.state_changes();
        fake.stop_listening();
        fake.drop_connection();
        wait_state(&mut states, T, |s| {
            matches!(s, ConnectionState::Reconnecting { .. })
        })
        .await;
        let p1 = spawn_publish(&client, "w/1", "x", QoS::AtLeastOnce);
        let p2 = spawn_publish(&client, "w/2", "x", QoS::ExactlyOnce);
        let c = client.clone();
        let sub = spawn(async move { c.subscribe(&[("w/#", QoS::AtLeastOnce)]).await });
        let c = client.clone();
        let unsub = spawn(async move { c.unsubscribe(&["w/#"]).await });
        let c = client.clone();
        let stream = spawn(async move { c.subscription("w/s", QoS::AtLeastOnce).await });
        let c = client.clone();
        let ping = spawn(async move { c.ping().await });
        wait_state(&mut states, T, |s| *s == ConnectionState::Closed).await;
        for p in [p1, p2] {
            let r = finished(p, PROMPT).await;
            assert!(
                matches!(r, Err(ClientError::Publish(PublishError::Abandoned))),
                "{r:?}"
            );
        }
        let r = finished(sub, PROMPT).await;
        assert!(
            matches!(
                r,
                Err(ClientError::Request(RequestError::Abandoned) | ClientError::Closed)
            ),
            "{r:?}"
        );
        let r = finished(unsub, PROMPT).await;
        assert!(
            matches!(
                r,
                Err(ClientError::Request(RequestError::Abandoned) | ClientError::Closed)
            ),
            "{r:?}"
        );
        assert!(finished(stream, PROMPT).await.is_err());
        assert!(finished(ping, PROMPT).await.is_err());
    });
}

#[test]
fn state_changes_show_every_state() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let (client, _) = connect_fake(&mut fake, forever("states"), &CONNACK_ACCEPTED).await;
        let mut states = client.state_changes();
        assert_eq!(
            states.next().await,
            Some(ConnectionState::Connected {
                session_present: false
            }),
            "the current state comes first"
        );
        fake.drop_connection();
        let pending = spawn(async move {
            let seen = wait_state(&mut states, T, is_connected).await;
            (states, seen)
        });
        handshake(&mut fake, &CONNACK_ACCEPTED);
        let (mut states, seen) = finished(pending, T).await;
        assert_eq!(
            seen,
            [
                ConnectionState::Disconnected {
                    reason: Some(CloseReason::ConnectionLost)
                },
                ConnectionState::Reconnecting { attempt: 1 },
                ConnectionState::Connecting { attempt: 1 },
                ConnectionState::Connected {
                    session_present: false
                },
            ]
        );
        client.disconnect().await;
        assert_eq!(
            states.next().await,
            Some(ConnectionState::Disconnected {
                reason: Some(CloseReason::ClientDisconnect)
            })
        );
        drop(client);
        assert_eq!(
            timeout(T, states.next()).await.unwrap(),
            Some(ConnectionState::Closed),
            "every handle dropped"
        );
    });
}

/// `disconnect()`: DISCONNECT, the transport closed, no automatic reconnect;
/// unacknowledged publishes stay; `reconnect()` connects again and returns
/// whether the session was resumed; the publish then completes.
#[test]
fn disconnect_and_reconnect_behave_as_documented() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let (client, _) =
            connect_fake(&mut fake, persistent("disc-reconn"), &CONNACK_ACCEPTED).await;
        let mut states = client.state_changes();
        let published = spawn_publish(&client, "dr/1", "kept", QoS::AtLeastOnce);
        let (p, _) = fake.read_until_type(3, T).unwrap();
        let id = packet_id(&p).unwrap();

        finished(
            spawn({
                let c = client.clone();
                async move { c.disconnect().await }
            }),
            PROMPT,
        )
        .await;
        let (d, _) = fake.read_until_type(14, T).expect("DISCONNECT");
        assert_eq!(d, DISCONNECT);
        assert!(fake.expect_eof(T), "the client closes the transport");
        wait_state(&mut states, T, |s| {
            *s == ConnectionState::Disconnected {
                reason: Some(CloseReason::ClientDisconnect),
            }
        })
        .await;
        assert!(
            fake.accept(ms(1500)).is_err(),
            "no automatic reconnect after disconnect()"
        );
        assert!(!published.is_finished(), "not acknowledged: still waiting");
        // A call made now waits for the reconnect too.
        let later = spawn_publish(&client, "dr/2", "later", QoS::AtLeastOnce);

        let c = client.clone();
        let reconnected = spawn(async move { c.reconnect().await });
        let connect = handshake(&mut fake, &CONNACK_SESSION_PRESENT);
        assert!(!parse_connect(&connect).clean);
        assert_eq!(finished(reconnected, T).await, Ok(true));
        let (p1, _) = fake.read_until_type(3, T).unwrap();
        assert!(dup_flag(&p1) && packet_id(&p1) == Some(id), "{p1:02x?}");
        let (p2, _) = fake.read_until_type(3, T).unwrap();
        assert!(!dup_flag(&p2));
        assert_eq!(publish_parts(&p2).0, "dr/2");
        fake.write(&ack(0x40, id)).unwrap();
        fake.write(&ack(0x40, packet_id(&p2).unwrap())).unwrap();
        assert!(finished(published, T).await.is_ok());
        assert!(finished(later, T).await.is_ok());

        // reconnect() on a live connection: DISCONNECT, then a new connection.
        let c = client.clone();
        let reconnected = spawn(async move { c.reconnect().await });
        let (d, _) = fake.read_until_type(14, T).expect("DISCONNECT");
        assert_eq!(d, DISCONNECT);
        handshake(&mut fake, &CONNACK_ACCEPTED);
        assert_eq!(finished(reconnected, T).await, Ok(false));
        client
            .publish("dr/3", "x", QoS::AtMostOnce, false)
            .await
            .unwrap();
        let (p3, _) = fake.read_until_type(3, T).unwrap();
        assert_eq!(publish_parts(&p3).0, "dr/3");
    });
}

/// With `auto_reconnect = false` a loss leaves the client disconnected (no
/// attempt), and `reconnect()` brings it back with its session.
#[test]
fn without_auto_reconnect_reconnect_brings_the_client_back() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let config = Config {
            auto_reconnect: false,
            ..persistent("manual")
        };
        let (client, _) = connect_fake(&mut fake, config, &CONNACK_ACCEPTED).await;
        let mut states = client.state_changes();
        fake.drop_connection();
        wait_state(&mut states, T, |s| {
            *s == ConnectionState::Disconnected {
                reason: Some(CloseReason::ConnectionLost),
            }
        })
        .await;
        assert!(fake.accept(ms(1500)).is_err(), "no automatic attempt");
        let c = client.clone();
        let reconnected = spawn(async move { c.reconnect().await });
        handshake(&mut fake, &CONNACK_SESSION_PRESENT);
        assert_eq!(finished(reconnected, T).await, Ok(true));
        let c = client.clone();
        let ping = spawn(async move { c.ping().await });
        fake.read_until_type(12, T).unwrap();
        fake.write(&PINGRESP).unwrap();
        assert_eq!(finished(ping, T).await, Ok(()));
    });
}

// ============================================ scripted broker (FakeBroker)

#[test]
fn seed_bug_5_connack_never_sent_fails_within_connect_timeout() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let config = Config {
            connect_timeout: Duration::from_secs(1),
            ..Config::default()
        };
        let uri = fake.uri();
        let start = Instant::now();
        let pending = spawn(async move { try_connect(&uri, config).await });
        fake.accept(T).unwrap();
        let connect = fake.read_packet(T).unwrap();
        assert_eq!(packet_type(&connect), 1);
        // No CONNACK.
        let r = finished(pending, T).await;
        let elapsed = start.elapsed();
        assert!(
            matches!(r, Err(ClientError::Connection(CloseReason::ConnAckTimeout))),
            "{r:?}"
        );
        assert!(
            elapsed >= ms(950) && elapsed < ms(1600),
            "failed after {elapsed:?}"
        );
        assert!(fake.expect_eof(PROMPT), "the transport is closed");
    });
}

/// No PINGRESP: the half-open connection is detected within keep_alive +
/// ping_timeout, the transport is closed and the client reconnects.
#[test]
fn seed_bug_5_pingresp_never_sent_is_detected_and_the_client_reconnects() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let config = Config {
            keep_alive: Duration::from_secs(2),
            ping_delay: Duration::from_secs(1),
            ping_timeout: Duration::from_secs(1),
            ..forever("half-open")
        };
        let (client, _) = connect_fake(&mut fake, config, &CONNACK_ACCEPTED).await;
        let connected = Instant::now();
        let mut states = changes(&client);
        let (_, skipped) = fake.read_until_type(12, Duration::from_secs(3)).unwrap();
        assert!(skipped.is_empty());
        let pinged = connected.elapsed();
        assert!(
            pinged >= ms(800) && pinged < ms(1600),
            "PINGREQ after {pinged:?}"
        );
        // No PINGRESP.
        assert!(
            fake.expect_eof(Duration::from_secs(3)),
            "the client gives up the connection"
        );
        let closed = connected.elapsed();
        assert!(
            closed < Duration::from_secs(3) + ms(300),
            "half-open connection detected after {closed:?}"
        );
        handshake(&mut fake, &CONNACK_ACCEPTED);
        let seen = wait_state(&mut states, T, is_connected).await;
        assert!(
            seen.contains(&ConnectionState::Disconnected {
                reason: Some(CloseReason::PingTimeout)
            }),
            "{seen:?}"
        );
        // Pings go on on the new connection, and are answered this time: it stays.
        let until = Instant::now() + Duration::from_secs(4);
        let mut answered = 0;
        while Instant::now() < until {
            match fake.read_packet(until.saturating_duration_since(Instant::now())) {
                Ok(p) if packet_type(&p) == 12 => {
                    fake.write(&PINGRESP).unwrap();
                    answered += 1;
                }
                Ok(p) => panic!("unexpected {p:02x?}"),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
                Err(e) => panic!("the connection was closed: {e}"),
            }
        }
        assert!(answered >= 3, "{answered} pings in 4 s");
    });
}

/// distmqtt pinged only when nothing was *sent*: a client that keeps
/// publishing to a broker that never answers would never notice. Here it
/// still pings within the keep-alive and detects the missing PINGRESP.
#[test]
fn seed_bug_5_a_busy_publisher_still_detects_a_silent_broker() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let config = Config {
            keep_alive: Duration::from_secs(2),
            ping_delay: Duration::from_secs(1),
            ping_timeout: Duration::from_secs(1),
            ..forever("busy")
        };
        let (client, _) = connect_fake(&mut fake, config, &CONNACK_ACCEPTED).await;
        let connected = Instant::now();
        let c = client.clone();
        let busy = spawn(async move {
            loop {
                let _ = c.publish("busy", "x", QoS::AtMostOnce, false).await;
                Rt::sleep(ms(100)).await;
            }
        });
        let (_, skipped) = fake
            .read_until_type(12, Duration::from_secs(3))
            .expect("a PINGREQ although the client keeps sending");
        assert!(!skipped.is_empty());
        assert!(connected.elapsed() < Duration::from_secs(2) + ms(300));
        assert!(fake.expect_eof(Duration::from_secs(3)), "PINGRESP deadline");
        assert!(connected.elapsed() < Duration::from_secs(3) + ms(300));
        busy.abort();
    });
}

/// `ping()` waits for PINGRESP; concurrent pings are all answered by it.
#[test]
fn ping_waits_for_pingresp_and_concurrent_pings_all_complete() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let (client, _) = connect_fake(&mut fake, forever("pings"), &CONNACK_ACCEPTED).await;
        let pings: Vec<_> = (0..3)
            .map(|_| {
                let c = client.clone();
                spawn(async move { c.ping().await })
            })
            .collect();
        fake.read_until_type(12, T).unwrap();
        Rt::sleep(ms(200)).await;
        assert!(pings.iter().all(|p| !p.is_finished()), "no PINGRESP yet");
        fake.write(&PINGRESP).unwrap();
        for p in pings {
            assert_eq!(finished(p, PROMPT).await, Ok(()));
        }
    });
}

/// Acks withheld, connection dropped: after the reconnect (session present)
/// the QoS 1 publish is sent again with DUP=1 and the same packet id, and
/// completes only with the PUBACK.
#[test]
fn withheld_puback_then_drop_redelivers_with_dup_and_the_same_id() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let (client, _) = connect_fake(&mut fake, persistent("dup1"), &CONNACK_ACCEPTED).await;
        let published = spawn_publish(&client, "dup/1", "payload-1", QoS::AtLeastOnce);
        let (p, _) = fake.read_until_type(3, T).unwrap();
        assert!(!dup_flag(&p));
        let id = packet_id(&p).unwrap();
        Rt::sleep(ms(200)).await;
        assert!(!published.is_finished());
        fake.drop_connection();
        let connect = handshake(&mut fake, &CONNACK_SESSION_PRESENT);
        assert!(!parse_connect(&connect).clean);
        let (again, _) = fake.read_until_type(3, T).unwrap();
        assert!(dup_flag(&again), "DUP=1: {again:02x?}");
        assert_eq!(packet_id(&again), Some(id));
        assert_eq!(publish_parts(&again), publish_parts(&p));
        Rt::sleep(ms(300)).await;
        assert!(!published.is_finished(), "no ack yet");
        fake.write(&ack(0x40, id)).unwrap();
        let done = finished(published, T).await.unwrap();
        assert_eq!(done.qos, QoS::AtLeastOnce);
    });
}

/// The same for QoS 2: PUBLISH again with DUP before PUBREC; after PUBREC a
/// loss makes the client send PUBREL again (not PUBLISH); PUBCOMP completes.
#[test]
fn withheld_qos2_acks_then_drops_redeliver_publish_then_pubrel() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let (client, _) = connect_fake(&mut fake, persistent("dup2"), &CONNACK_ACCEPTED).await;
        let published = spawn_publish(&client, "dup/2", "payload-2", QoS::ExactlyOnce);
        let (p, _) = fake.read_until_type(3, T).unwrap();
        let id = packet_id(&p).unwrap();
        fake.drop_connection();

        handshake(&mut fake, &CONNACK_SESSION_PRESENT);
        let (again, _) = fake.read_until_type(3, T).unwrap();
        assert!(
            dup_flag(&again) && packet_id(&again) == Some(id),
            "{again:02x?}"
        );
        fake.write(&ack(0x50, id)).unwrap(); // PUBREC
        let (rel, _) = fake.read_until_type(6, T).unwrap();
        assert_eq!(rel, ack(0x62, id));
        Rt::sleep(ms(200)).await;
        assert!(!published.is_finished(), "no PUBCOMP yet");
        fake.drop_connection();

        handshake(&mut fake, &CONNACK_SESSION_PRESENT);
        let first = fake.read_packet(T).unwrap();
        assert_eq!(first, ack(0x62, id), "PUBREL again, not PUBLISH");
        Rt::sleep(ms(200)).await;
        assert!(!published.is_finished());
        fake.write(&ack(0x70, id)).unwrap(); // PUBCOMP
        let done = finished(published, T).await.unwrap();
        assert_eq!(done.qos, QoS::ExactlyOnce);
        fake.expect_silence(QUIET).unwrap();
    });
}

/// Malformed packets, QoS 3 and a second CONNACK are protocol violations:
/// the client closes that connection (and reconnects).
#[test]
fn protocol_violations_make_the_client_close_the_connection() {
    run(Duration::from_secs(30), async {
        let (mut fake, _) = FakeBroker::bind();
        let (client, _) = connect_fake(&mut fake, forever("violations"), &CONNACK_ACCEPTED).await;
        let mut states = client.state_changes();
        let mut qos3 = publish("v/q3", b"x", 1, Some(1), false);
        qos3[0] |= 0x06;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("reserved packet type 0", vec![0x00, 0x00]),
            ("PUBACK of one byte", vec![0x40, 0x01, 0x00]),
            ("PUBREL with flags 0", vec![0x60, 0x02, 0x00, 0x01]),
            ("PUBLISH at QoS 3", qos3),
            ("second CONNACK", CONNACK_ACCEPTED.to_vec()),
            ("CONNECT from the server", support::connect_v311("x", 10)),
        ];
        for (what, bytes) in cases {
            fake.write(&bytes).unwrap();
            assert!(fake.expect_eof(PROMPT), "{what}: the connection stays open");
            let seen = wait_state(&mut states, T, |s| {
                matches!(s, ConnectionState::Disconnected { .. })
            })
            .await;
            assert!(
                matches!(
                    seen.last(),
                    Some(ConnectionState::Disconnected {
                        reason: Some(CloseReason::ProtocolViolation(_))
                    })
                ),
                "{what}: {seen:?}"
            );
            handshake(&mut fake, &CONNACK_ACCEPTED);
            wait_state(&mut states, T, is_connected).await;
        }
        // Nothing was delivered.
        assert!(timeout(QUIET, client.deliver_message()).await.is_err());
    });
}

/// A first answer that is not CONNACK is a protocol violation: connect fails.
#[test]
fn a_packet_other_than_connack_first_fails_the_connect() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let uri = fake.uri();
        let pending = spawn(async move { try_connect(&uri, Config::default()).await });
        fake.accept(T).unwrap();
        fake.read_packet(T).unwrap();
        fake.write(&PINGRESP).unwrap();
        let r = finished(pending, T).await;
        assert!(
            matches!(
                r,
                Err(ClientError::Connection(CloseReason::ProtocolViolation(_)))
            ),
            "{r:?}"
        );
        assert!(fake.expect_eof(PROMPT));
    });
}

/// A refused CONNACK is a typed error.
#[test]
fn a_refused_connack_is_a_typed_error() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let uri = fake.uri();
        let pending = spawn(async move { try_connect(&uri, Config::default()).await });
        handshake(&mut fake, &support::CONNACK_NOT_AUTHORIZED);
        let r = finished(pending, T).await;
        assert!(
            matches!(r, Err(ClientError::Connection(CloseReason::Refused { .. }))),
            "{r:?}"
        );
    });
}

#[test]
fn seed_bug_4_subscribe_unsubscribe_and_ping_in_flight_fail_promptly_on_loss() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let (client, _) = connect_fake(&mut fake, forever("inflight"), &CONNACK_ACCEPTED).await;
        let c = client.clone();
        let sub = spawn(async move { c.subscribe(&[("f/1", QoS::AtLeastOnce)]).await });
        fake.read_until_type(8, T).unwrap();
        let c = client.clone();
        let unsub = spawn(async move { c.unsubscribe(&["f/0"]).await });
        fake.read_until_type(10, T).unwrap();
        let c = client.clone();
        let stream = spawn(async move { c.subscription("f/2", QoS::AtLeastOnce).await });
        fake.read_until_type(8, T).unwrap();
        let c = client.clone();
        let ping = spawn(async move { c.ping().await });
        fake.read_until_type(12, T).unwrap();

        fake.drop_connection();
        let lost = Err(ClientError::Request(RequestError::ConnectionLost));
        assert_eq!(finished(sub, PROMPT).await, lost);
        assert_eq!(
            finished(unsub, PROMPT).await,
            Err(ClientError::Request(RequestError::ConnectionLost))
        );
        let r = finished(stream, PROMPT).await;
        assert!(
            matches!(r, Err(ClientError::Request(RequestError::ConnectionLost))),
            "{r:?}"
        );
        assert_eq!(
            finished(ping, PROMPT).await,
            Err(ClientError::Connection(CloseReason::ConnectionLost))
        );

        // The client goes on: a new subscribe is answered after the reconnect.
        handshake(&mut fake, &CONNACK_ACCEPTED);
        let c = client.clone();
        let sub = spawn(async move { c.subscribe(&[("f/3", QoS::AtMostOnce)]).await });
        loop {
            let (s, _) = fake.read_until_type(8, T).unwrap();
            let id = packet_id(&s).unwrap();
            let filter = String::from_utf8_lossy(&body(&s)[4..]).into_owned();
            fake.write(&suback(id, &[0])).unwrap();
            if filter.starts_with("f/3") {
                break;
            }
        }
        assert_eq!(finished(sub, T).await, Ok(vec![Ok(QoS::AtMostOnce)]));
    });
}

// ================================================= the seed's bugs, one each

/// distmqtt made one attempt about 1 s after a loss and died with a broker
/// down for 3 s. Here: attempts follow an exponential backoff capped at
/// `reconnect_max_interval`, as many as `reconnect_retries` allows, and the
/// client is back once the broker is.
#[test]
fn seed_bug_1_reconnect_attempts_back_off_and_survive_a_3s_outage() {
    run(Duration::from_secs(30), async {
        let mut broker = blocking(|| Mosquitto::start(""));
        let config = Config {
            reconnect_retries: 30,
            reconnect_max_interval: Duration::from_secs(1),
            ..Config::default()
        };
        let client = connect(&broker.uri(), config).await;
        let log = record_states(&client);
        Rt::sleep(ms(100)).await;
        blocking(|| broker.stop());
        let lost = Instant::now();
        Rt::sleep(Duration::from_secs(3)).await;
        blocking(|| broker.restart());
        let mut states = client.state_changes();
        wait_state(&mut states, T, is_connected).await;

        let log = log.lock().unwrap().clone();
        let attempts: Vec<(Instant, u32)> = log
            .iter()
            .filter_map(|(at, s)| match s {
                ConnectionState::Connecting { attempt } if *at >= lost => Some((*at, *attempt)),
                _ => None,
            })
            .collect();
        let numbers: Vec<u32> = attempts.iter().map(|a| a.1).collect();
        assert!(attempts.len() >= 4, "attempts: {numbers:?}");
        let expected: Vec<u32> = (1..=attempts.len() as u32).collect();
        assert_eq!(numbers, expected);
        // Delay before attempt k is drawn in [c/2, c], c = min(200 ms * 2^(k-1), 1 s)
        // (the first delay is a fifth of reconnect_max_interval).
        let mut previous = lost;
        for (k, (at, _)) in attempts.iter().enumerate() {
            let ceiling = ms(200 * (1u64 << k.min(10))).min(Duration::from_secs(1));
            let gap = at.duration_since(previous);
            assert!(
                gap + ms(10) >= ceiling / 2 && gap <= ceiling + ms(250),
                "attempt {}: {gap:?} after the previous one, ceiling {ceiling:?}",
                k + 1
            );
            previous = *at;
        }
        client
            .publish("b1", "back", QoS::AtLeastOnce, false)
            .await
            .unwrap();
        client.disconnect().await;
    });
}

/// Calls made while disconnected wait and complete after the reconnect.
#[test]
fn seed_bug_3_calls_made_while_disconnected_complete_after_reconnect() {
    run(Duration::from_secs(30), async {
        let mut broker = blocking(|| Mosquitto::start(""));
        let client = connect(&broker.uri(), forever("b3")).await;
        let mut states = client.state_changes();
        blocking(|| broker.stop());
        wait_state(&mut states, T, |s| {
            matches!(s, ConnectionState::Reconnecting { .. })
        })
        .await;

        let c = client.clone();
        let stream = spawn(async move { c.subscription("b3/s", QoS::ExactlyOnce).await });
        let c = client.clone();
        let sub = spawn(async move { c.subscribe(&[("b3/p", QoS::AtLeastOnce)]).await });
        let c = client.clone();
        let unsub = spawn(async move { c.unsubscribe(&["b3/none"]).await });
        let c = client.clone();
        let ping = spawn(async move { c.ping().await });
        let q0 = spawn_publish(&client, "b3/p", "q0", QoS::AtMostOnce);
        let q1 = spawn_publish(&client, "b3/p", "q1", QoS::AtLeastOnce);
        let q2 = spawn_publish(&client, "b3/s", "q2", QoS::ExactlyOnce);
        Rt::sleep(Duration::from_secs(1)).await;
        assert!(!stream.is_finished() && !sub.is_finished() && !unsub.is_finished());
        assert!(!q1.is_finished() && !q2.is_finished());
        assert!(!ping.is_finished(), "ping waits for the connection too");
        blocking(|| broker.restart());

        let mut stream = finished(stream, T).await.expect("subscription()");
        assert_eq!(finished(sub, T).await, Ok(vec![Ok(QoS::AtLeastOnce)]));
        assert_eq!(finished(unsub, T).await, Ok(()));
        assert_eq!(finished(ping, T).await, Ok(()));
        assert!(finished(q0, T).await.is_ok());
        assert_eq!(finished(q1, T).await.unwrap().qos, QoS::AtLeastOnce);
        assert_eq!(finished(q2, T).await.unwrap().qos, QoS::ExactlyOnce);
        // The subscriptions work (messages published now, after them).
        client
            .publish("b3/s", "after", QoS::ExactlyOnce, false)
            .await
            .unwrap();
        loop {
            if payload_str(&next_within(&mut stream, T).await) == "after" {
                break;
            }
        }
        client
            .publish("b3/p", "after", QoS::AtLeastOnce, false)
            .await
            .unwrap();
        loop {
            let m = timeout(T, client.deliver_message()).await.unwrap().unwrap();
            if payload_str(&m) == "after" {
                break;
            }
        }
        client.disconnect().await;
    });
}

/// QoS 1 and 2 publishes never return Ok without their ack: not when the
/// connection drops (twice), and when the client gives up they fail.
#[test]
fn seed_bug_6_qos1_and_qos2_never_succeed_without_an_ack() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let config = Config {
            reconnect_retries: 1,
            ..persistent("b6")
        };
        let (client, _) = connect_fake(&mut fake, config, &CONNACK_ACCEPTED).await;
        let q1 = spawn_publish(&client, "b6/1", "x", QoS::AtLeastOnce);
        let q2 = spawn_publish(&client, "b6/2", "x", QoS::ExactlyOnce);
        fake.read_until_type(3, T).unwrap();
        fake.read_until_type(3, T).unwrap();
        fake.drop_connection();
        handshake(&mut fake, &CONNACK_SESSION_PRESENT);
        let (a, _) = fake.read_until_type(3, T).unwrap();
        let (b, _) = fake.read_until_type(3, T).unwrap();
        assert!(dup_flag(&a) && dup_flag(&b));
        Rt::sleep(ms(300)).await;
        assert!(!q1.is_finished() && !q2.is_finished());
        fake.stop_listening();
        fake.drop_connection();
        let r1 = finished(q1, T).await;
        let r2 = finished(q2, T).await;
        assert!(
            matches!(r1, Err(ClientError::Publish(PublishError::Abandoned))),
            "{r1:?}"
        );
        assert!(
            matches!(r2, Err(ClientError::Publish(PublishError::Abandoned))),
            "{r2:?}"
        );
    });
}

/// With a clean session the broker has no session after a reconnect: the
/// client must not resend in-flight publishes (DUP) into it; they fail with
/// `SessionLost`.
#[test]
fn seed_bug_7_no_inflight_resend_with_a_clean_session() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let (client, _) = connect_fake(&mut fake, forever("b7-clean"), &CONNACK_ACCEPTED).await;
        let q1 = spawn_publish(&client, "b7/1", "x", QoS::AtLeastOnce);
        let q2 = spawn_publish(&client, "b7/2", "x", QoS::ExactlyOnce);
        fake.read_until_type(3, T).unwrap();
        fake.read_until_type(3, T).unwrap();
        fake.drop_connection();
        let connect = handshake(&mut fake, &CONNACK_ACCEPTED);
        assert!(parse_connect(&connect).clean);
        fake.expect_silence(QUIET).unwrap();
        for q in [q1, q2] {
            assert_eq!(
                finished(q, PROMPT).await,
                Err(ClientError::Publish(PublishError::SessionLost))
            );
        }
    });
}

/// A PUBREL for an unknown packet id gets its PUBCOMP [MQTT-4.3.3-11].
#[test]
fn seed_bug_7_unknown_pubrel_gets_pubcomp() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let (_client, _) = connect_fake(&mut fake, forever("b7-pubrel"), &CONNACK_ACCEPTED).await;
        fake.write(&ack(0x62, 77)).unwrap();
        let (comp, _) = fake.read_until_type(7, T).unwrap();
        assert_eq!(comp, ack(0x70, 77));
        assert!(!fake.expect_eof(QUIET), "the connection stays");
    });
}

/// Inbound QoS 2: PUBREC sent, connection lost; after the reconnect the
/// client waits for the broker's PUBREL (no PUBREC resent), answers it with
/// PUBCOMP, and the message is delivered once.
#[test]
fn seed_bug_7_no_pubrec_resend_on_reconnect() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let (client, _) = connect_fake(&mut fake, persistent("b7-pubrec"), &CONNACK_ACCEPTED).await;
        fake.write(&publish("b7/in", b"once", 2, Some(5), false))
            .unwrap();
        let (rec, _) = fake.read_until_type(5, T).unwrap();
        assert_eq!(rec, ack(0x50, 5));
        fake.drop_connection();
        handshake(&mut fake, &CONNACK_SESSION_PRESENT);
        fake.expect_silence(QUIET).unwrap();
        fake.write(&ack(0x62, 5)).unwrap();
        let (comp, _) = fake.read_until_type(7, T).unwrap();
        assert_eq!(comp, ack(0x70, 5));
        let m = timeout(T, client.deliver_message()).await.unwrap().unwrap();
        assert_eq!(payload_str(&m), "once");
        assert!(
            timeout(QUIET, client.deliver_message()).await.is_err(),
            "delivered once"
        );
    });
}

/// Plain `subscribe()` topics are restored after a reconnect that lost the
/// session, and messages that match no stream go to `deliver_message`.
#[test]
fn seed_bug_8_plain_subscribe_is_restored_and_unmatched_messages_are_delivered() {
    run(Duration::from_secs(30), async {
        let mut broker = blocking(|| Mosquitto::start(""));
        let client = connect(&broker.uri(), forever("b8")).await;
        client
            .subscribe(&[("b8/plain/#", QoS::AtLeastOnce)])
            .await
            .unwrap();
        let mut stream = client
            .subscription("b8/stream", QoS::AtLeastOnce)
            .await
            .unwrap();
        let mut states = client.state_changes();
        blocking(|| broker.stop());
        wait_state(&mut states, T, |s| {
            matches!(s, ConnectionState::Reconnecting { .. })
        })
        .await;
        blocking(|| broker.restart());
        let seen = wait_state(&mut states, T, is_connected).await;
        assert_eq!(
            seen.last(),
            Some(&ConnectionState::Connected {
                session_present: false
            })
        );
        // Published after the reconnect: the resubscriptions go out first.
        client
            .publish("b8/plain/x", "plain", QoS::AtLeastOnce, false)
            .await
            .unwrap();
        client
            .publish("b8/stream", "stream", QoS::AtLeastOnce, false)
            .await
            .unwrap();
        let m = timeout(T, client.deliver_message())
            .await
            .expect("plain subscription restored")
            .unwrap();
        assert_eq!(
            (m.topic().as_str(), payload_str(&m)),
            ("b8/plain/x", "plain")
        );
        let m = next_within(&mut stream, T).await;
        assert_eq!(payload_str(&m), "stream");
        client.disconnect().await;
    });
}

#[test]
fn seed_bug_9_a_hash_filter_matches_its_parent() {
    run(Duration::from_secs(20), async {
        let broker = blocking(|| Mosquitto::start(""));
        let client = connect(&broker.uri(), forever("b9")).await;
        let mut sub = client.subscription("b9/#", QoS::AtLeastOnce).await.unwrap();
        for topic in ["b9", "b9/x", "b9/x/y"] {
            client
                .publish(topic, topic, QoS::AtLeastOnce, false)
                .await
                .unwrap();
            let m = next_within(&mut sub, T).await;
            assert_eq!(m.topic().as_str(), topic);
        }
        client.disconnect().await;
    });
}

/// One PUBLISH matching two streams: each stream gets its own message; the
/// broker gets one PUBACK.
#[test]
fn seed_bug_10_overlapping_subscriptions_each_get_their_own_message() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let (client, _) = connect_fake(&mut fake, forever("b10"), &CONNACK_ACCEPTED).await;
        let mut streams = Vec::new();
        for filter in ["b10/#", "b10/+", "b10/y"] {
            let c = client.clone();
            let pending = spawn(async move { c.subscription(filter, QoS::AtLeastOnce).await });
            grant_subscribe(&mut fake, 1);
            streams.push(finished(pending, T).await.unwrap());
        }
        fake.write(&publish("b10/x", b"shared", 1, Some(9), false))
            .unwrap();
        let (puback, _) = fake.read_until_type(4, T).unwrap();
        assert_eq!(puback, ack(0x40, 9));
        let a = next_within(&mut streams[0], T).await;
        let b = next_within(&mut streams[1], T).await;
        for m in [&a, &b] {
            assert_eq!(m.topic().as_str(), "b10/x");
            assert_eq!(&m.payload()[..], b"shared");
            assert_eq!(m.qos(), QoS::AtLeastOnce);
        }
        drop(a); // each has its own copy: the other one stays intact
        assert_eq!(&b.payload()[..], b"shared");
        assert!(
            timeout(QUIET, streams[2].next()).await.is_err(),
            "b10/y does not match"
        );
        assert!(
            timeout(QUIET, client.deliver_message()).await.is_err(),
            "matched messages do not also go to deliver_message"
        );
        fake.expect_silence(ms(100)).unwrap();
    });
}

/// A stream that is not read for longer than keep-alive + ping timeout,
/// with thousands of QoS 1 messages coming: nothing is dropped, the stream
/// stays alive, the connection stays up (acks are withheld: the broker
/// slows down), and every message arrives in order once it is read.
#[test]
fn seed_bug_11_a_slow_subscription_neither_dies_nor_loses_messages() {
    run(Duration::from_secs(60), async {
        let broker = blocking(|| Mosquitto::start("max_queued_messages 0\n"));
        let config = Config {
            keep_alive: Duration::from_secs(2),
            ping_delay: Duration::from_secs(1),
            ping_timeout: Duration::from_secs(1),
            ..forever("b11-sub")
        };
        let client = connect(&broker.uri(), config).await;
        let publisher = connect(&broker.uri(), forever("b11-pub")).await;
        let log = record_states(&client);
        let mut slow = client.subscription("b11", QoS::AtLeastOnce).await.unwrap();
        const N: u32 = 3000;
        let calls: Vec<_> = (0..N)
            .map(|i| {
                let p = publisher.clone();
                async move {
                    p.publish("b11", i.to_string(), QoS::AtLeastOnce, false)
                        .await
                }
            })
            .collect();
        for r in futures_util::future::join_all(calls).await {
            r.unwrap();
        }
        // Not read for 4 s (> keep_alive + ping_timeout).
        Rt::sleep(Duration::from_secs(4)).await;
        for i in 0..N {
            let m = timeout(T, slow.next()).await;
            let m = m
                .unwrap_or_else(|_| panic!("message {i} missing; states {:?}", log.lock().unwrap()))
                .expect("the stream is alive");
            assert_eq!(payload_str(&m), i.to_string(), "in order, none lost");
        }
        let log = log.lock().unwrap().clone();
        assert!(
            log.iter().all(|(_, s)| is_connected(s)),
            "the connection was given up: {log:?}"
        );
        client.disconnect().await;
        publisher.disconnect().await;
    });
}

#[test]
fn seed_bug_12_deliver_message_works_alongside_subscription_streams() {
    run(Duration::from_secs(20), async {
        let broker = blocking(|| Mosquitto::start(""));
        let client = connect(&broker.uri(), forever("b12")).await;
        let mut stream = client
            .subscription("b12/stream", QoS::AtLeastOnce)
            .await
            .unwrap();
        client
            .subscribe(&[("b12/plain", QoS::AtLeastOnce)])
            .await
            .unwrap();
        for i in 0..3 {
            client
                .publish("b12/plain", format!("p{i}"), QoS::AtLeastOnce, false)
                .await
                .unwrap();
            client
                .publish("b12/stream", format!("s{i}"), QoS::AtLeastOnce, false)
                .await
                .unwrap();
        }
        for i in 0..3 {
            let m = timeout(T, client.deliver_message()).await.unwrap().unwrap();
            assert_eq!(payload_str(&m), format!("p{i}"));
            let m = next_within(&mut stream, T).await;
            assert_eq!(payload_str(&m), format!("s{i}"));
        }
        // And once the stream is gone too.
        drop(stream);
        client
            .publish("b12/plain", "last", QoS::AtLeastOnce, false)
            .await
            .unwrap();
        let m = timeout(T, client.deliver_message()).await.unwrap().unwrap();
        assert_eq!(payload_str(&m), "last");
        client.disconnect().await;
    });
}

/// Two clients, two configs: nothing of one shows in the other (distmqtt
/// leaked the URI through a mutable default).
#[test]
fn seed_bug_14_no_config_leaks_between_clients() {
    run(Duration::from_secs(20), async {
        let (mut fake_a, _) = FakeBroker::bind();
        let (mut fake_b, _) = FakeBroker::bind();
        let config_a = Config {
            client_id: Some("b14-a".into()),
            keep_alive: Duration::from_secs(30),
            will: Some(sansmqtt::config::WillConfig {
                message: "a".into(),
                qos: QoS::AtLeastOnce,
                ..sansmqtt::config::WillConfig::new("b14/will".try_into().unwrap())
            }),
            ..Config::default()
        };
        let (a, connect_a) = connect_fake(&mut fake_a, config_a.clone(), &CONNACK_ACCEPTED).await;
        let (b, connect_b) = connect_fake(&mut fake_b, Config::default(), &CONNACK_ACCEPTED).await;
        let (ia, ib) = (parse_connect(&connect_a), parse_connect(&connect_b));
        assert_eq!(ia.client_id, "b14-a");
        assert_eq!(ia.keep_alive, 30);
        assert!(ia.will.is_some());
        assert!(ib.client_id.starts_with("sansmqtt-"), "{ib:?}");
        assert_eq!(ib.keep_alive, 10);
        assert!(ib.will.is_none());
        assert!(a.config().uris.is_empty() && b.config().uris.is_empty());
        assert_eq!(b.config().client_id, None);
        assert_eq!(Config::default().client_id, None);
        assert!(Config::default().will.is_none());
        // B's traffic goes to B's broker only.
        b.publish("b14", "b", QoS::AtMostOnce, false).await.unwrap();
        let (p, _) = fake_b.read_until_type(3, T).unwrap();
        assert_eq!(publish_parts(&p).0, "b14");
        fake_a.expect_silence(QUIET).unwrap();
        assert!(fake_a.accept(ms(100)).is_err());
    });
}

/// Topics are validated before anything is sent.
#[test]
fn seed_bug_17_publish_validates_the_topic() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let (client, _) = connect_fake(&mut fake, forever("b17"), &CONNACK_ACCEPTED).await;
        for topic in ["a/+/b", "a/#", "+", "#", "", "a\0b"] {
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                let r = timeout(PROMPT, client.publish(topic, "x", qos, false))
                    .await
                    .expect("refused at once");
                assert!(matches!(r, Err(ClientError::Topic(_))), "{topic:?}: {r:?}");
            }
        }
        for filter in ["a/#/b", "a+", "", "#/a"] {
            let r = client.subscribe(&[(filter, QoS::AtMostOnce)]).await;
            assert!(matches!(r, Err(ClientError::Topic(_))), "{filter:?}: {r:?}");
            assert!(client.subscription(filter, QoS::AtMostOnce).await.is_err());
        }
        fake.expect_silence(QUIET).unwrap();
    });
}

/// A packet above `max_packet_size` is refused from its header, before its
/// body is buffered: the client closes the connection.
#[test]
fn seed_bug_17_incoming_packets_are_bounded_by_max_packet_size() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let config = Config {
            max_packet_size: Some(1024),
            ..forever("b17-size")
        };
        let (client, _) = connect_fake(&mut fake, config, &CONNACK_ACCEPTED).await;
        let mut states = client.state_changes();
        // A PUBLISH announcing 100 MB: only the header and a few bytes come.
        fake.write(&[0x30, 0x80, 0x80, 0x80, 0x30, 0x00, 0x01, b'x'])
            .unwrap();
        assert!(fake.expect_eof(PROMPT), "the connection is closed");
        let seen = wait_state(&mut states, T, |s| {
            matches!(s, ConnectionState::Disconnected { .. })
        })
        .await;
        let reason = format!("{:?}", seen.last());
        assert!(reason.contains("ProtocolViolation"), "{reason}");
        // A packet within the bound is fine.
        handshake(&mut fake, &CONNACK_ACCEPTED);
        fake.write(&publish("b17/ok", &[7; 900], 0, None, false))
            .unwrap();
        let m = timeout(T, client.deliver_message()).await.unwrap().unwrap();
        assert_eq!(m.payload().len(), 900);
    });
}

/// A will given by its topic only (text, no message, no QoS, no retain).
#[test]
fn seed_bug_18_a_will_needs_only_a_topic() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let config: Config =
            serde_json::from_str(r#"{ "will": { "topic": "b18/gone" } }"#).expect("will config");
        let (_a, connect) = connect_fake(&mut fake, config, &CONNACK_ACCEPTED).await;
        let will = parse_connect(&connect).will.expect("a will");
        assert_eq!(will, ("b18/gone".to_owned(), Vec::new(), 0, false));

        let (mut fake, _) = FakeBroker::bind();
        let config: Config =
            serde_json::from_str(r#"{ "will": { "topic": "b18/text", "message": "gone é" } }"#)
                .expect("will config");
        let (_b, connect) = connect_fake(&mut fake, config, &CONNACK_ACCEPTED).await;
        let will = parse_connect(&connect).will.expect("a will");
        assert_eq!(will.0, "b18/text");
        assert_eq!(will.1, "gone é".as_bytes());
    });
}

/// `keep_alive <= ping_delay` is a clear configuration error when the client
/// is built, before any connection; `keep_alive = 0` disables pings.
#[test]
fn seed_bug_20_keep_alive_not_above_ping_delay_is_a_config_error() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        for (keep_alive, ping_delay) in [(1, 1), (1, 2), (5, 10)] {
            let config = Config {
                keep_alive: Duration::from_secs(keep_alive),
                ping_delay: Duration::from_secs(ping_delay),
                ..Config::default()
            };
            let r = timeout(PROMPT, try_connect(&fake.uri(), config))
                .await
                .expect("refused at once");
            match r {
                Err(ClientError::Config(e)) => {
                    let text = e.to_string();
                    assert!(
                        text.contains("keep_alive") && text.contains("ping_delay"),
                        "{text}"
                    );
                }
                other => panic!("{keep_alive}/{ping_delay}: {other:?}"),
            }
        }
        assert!(fake.accept(ms(200)).is_err(), "no connection was made");

        let config = Config {
            keep_alive: Duration::ZERO,
            ping_delay: Duration::from_secs(1),
            ..Config::default()
        };
        let (_client, connect) = connect_fake(&mut fake, config, &CONNACK_ACCEPTED).await;
        assert_eq!(parse_connect(&connect).keep_alive, 0);
        fake.expect_silence(Duration::from_secs(2)).unwrap();
    });
}

// ============================================== connection setup, failover

/// A host that never answers SYN (its accept queue is full): the transport
/// connection is bounded by `connect_timeout` too, not by the OS (minutes).
#[test]
fn connect_timeout_bounds_the_transport_connection() {
    run(Duration::from_secs(20), async {
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        listener
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        listener.listen(0).unwrap();
        let port = listener.local_addr().unwrap().as_socket().unwrap().port();
        // Backlog 0: one connection fills the accept queue; later SYNs are dropped.
        let _filler = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let uri = format!("mqtt://127.0.0.1:{port}");
        let config = Config {
            connect_timeout: Duration::from_secs(1),
            auto_reconnect: false,
            ..Config::default()
        };
        let start = Instant::now();
        let r = timeout(T, try_connect(&uri, config))
            .await
            .expect("connect gives up within connect_timeout");
        assert!(matches!(r, Err(ClientError::Connect(_))), "{r:?}");
        let elapsed = start.elapsed();
        assert!(
            elapsed >= ms(950) && elapsed < ms(1600),
            "gave up after {elapsed:?}"
        );
        // With auto_reconnect the timed-out attempts are retried, then given up.
        let config = Config {
            connect_timeout: Duration::from_secs(1),
            reconnect_retries: 1,
            ..Config::default()
        };
        let r = timeout(T, try_connect(&uri, config))
            .await
            .expect("connect gives up after its retries");
        assert!(matches!(r, Err(ClientError::Connect(_))), "{r:?}");
        drop(listener);
    });
}

/// The constructor's URI, then `Config::uris`, in turn.
#[test]
fn failover_tries_the_uris_in_turn() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let dead = format!("mqtt://127.0.0.1:{}", support::free_port());
        let config = Config {
            uris: vec![fake.uri().parse().unwrap()],
            ..forever("failover")
        };
        let pending = spawn(async move { try_connect(&dead, config).await });
        handshake(&mut fake, &CONNACK_ACCEPTED);
        let client = finished(pending, T)
            .await
            .expect("connected to the second URI");
        // After a loss: the dead one, then this one again.
        fake.drop_connection();
        handshake(&mut fake, &CONNACK_ACCEPTED);
        let c = client.clone();
        let ping = spawn(async move { c.ping().await });
        fake.read_until_type(12, T).unwrap();
        fake.write(&PINGRESP).unwrap();
        assert_eq!(finished(ping, T).await, Ok(()));
    });
}

/// A CONNACK refusal on a reconnect stops the automatic reconnection (no
/// further attempt), the state says why, and `reconnect()` still works.
#[test]
fn a_refusal_on_reconnect_stops_reconnecting() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let (client, _) = connect_fake(&mut fake, forever("refused"), &CONNACK_ACCEPTED).await;
        let mut states = changes(&client);
        fake.drop_connection();
        handshake(&mut fake, &support::CONNACK_NOT_AUTHORIZED);
        let seen = wait_state(&mut states, T, |s| {
            matches!(
                s,
                ConnectionState::Disconnected {
                    reason: Some(CloseReason::Refused { .. })
                }
            )
        })
        .await;
        assert!(
            fake.accept(ms(1500)).is_err(),
            "no attempt after a refusal: {seen:?}"
        );
        let c = client.clone();
        let reconnected = spawn(async move { c.reconnect().await });
        handshake(&mut fake, &CONNACK_ACCEPTED);
        assert_eq!(finished(reconnected, T).await, Ok(false));
    });
}

/// Publishes made while disconnected wait in a bounded queue; beyond it
/// `publish` fails at once with a typed error.
#[test]
fn the_offline_queue_is_bounded() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let config = Config {
            max_queued: 3,
            ..forever("queue")
        };
        let (client, _) = connect_fake(&mut fake, config, &CONNACK_ACCEPTED).await;
        let mut states = changes(&client);
        fake.drop_connection();
        wait_state(&mut states, T, |s| {
            matches!(s, ConnectionState::Reconnecting { .. })
        })
        .await;
        let waiting: Vec<_> = (0..3)
            .map(|_| spawn_publish(&client, "q", "x", QoS::AtLeastOnce))
            .collect();
        Rt::sleep(ms(200)).await;
        let r = timeout(PROMPT, client.publish("q", "x", QoS::AtLeastOnce, false))
            .await
            .expect("refused at once");
        assert!(
            matches!(r, Err(ClientError::Publish(PublishError::QueueFull(3)))),
            "{r:?}"
        );
        // The queued ones go out after the reconnect.
        handshake(&mut fake, &CONNACK_ACCEPTED);
        for _ in 0..3 {
            let (p, _) = fake.read_until_type(3, T).unwrap();
            fake.write(&ack(0x40, packet_id(&p).unwrap())).unwrap();
        }
        for w in waiting {
            assert!(finished(w, T).await.is_ok());
        }
    });
}

/// `try_publish` and `publish_nowait` (issue #15) hand a publish over and
/// return a handle at once; at most `max_queued` of them are incomplete:
/// beyond, `try_publish` fails at once with a typed error and
/// `publish_nowait` waits for room. A dropped handle does not cancel its
/// publish, and the publishes keep the order of the calls.
#[test]
fn publishes_handed_over_without_waiting_are_bounded_and_survive_their_handles() {
    run(Duration::from_secs(20), async {
        let (mut fake, _) = FakeBroker::bind();
        let config = Config {
            max_queued: 3,
            ..forever("nowait")
        };
        let (client, _) = connect_fake(&mut fake, config, &CONNACK_ACCEPTED).await;
        let first = client
            .try_publish("nw", "0", QoS::AtLeastOnce, false)
            .expect("handed over");
        // Dropped: the publish goes on.
        drop(
            client
                .try_publish("nw", "1", QoS::AtLeastOnce, false)
                .unwrap(),
        );
        let third = client
            .try_publish("nw", "2", QoS::AtLeastOnce, false)
            .unwrap();
        let refused = client.try_publish("nw", "3", QoS::AtLeastOnce, false);
        assert!(
            matches!(
                refused,
                Err(ClientError::Publish(PublishError::QueueFull(3)))
            ),
            "{refused:?}"
        );
        // publish_nowait waits for room.
        let c = client.clone();
        let waiting = spawn(async move {
            c.publish_nowait("nw", "3", QoS::AtLeastOnce, false)
                .await
                .map(|handle| (Instant::now(), handle))
        });
        let mut ids = Vec::new();
        for i in 0..3 {
            let (p, _) = fake.read_until_type(3, T).unwrap();
            assert_eq!(
                publish_parts(&p),
                ("nw".to_owned(), i.to_string().into_bytes())
            );
            ids.push(packet_id(&p).unwrap());
        }
        Rt::sleep(ms(200)).await;
        assert!(!waiting.is_finished(), "no room before an acknowledgement");
        let acked = Instant::now();
        fake.write(&ack(0x40, ids[0])).unwrap();
        let done = timeout(T, first).await.expect("first").unwrap();
        assert_eq!(done.qos, QoS::AtLeastOnce);
        let (room_at, fourth) = finished(waiting, T).await.expect("room after the PUBACK");
        assert!(room_at >= acked);
        let (p, _) = fake.read_until_type(3, T).unwrap();
        assert_eq!(publish_parts(&p), ("nw".to_owned(), b"3".to_vec()));
        ids.push(packet_id(&p).unwrap());
        for &id in &ids[1..] {
            fake.write(&ack(0x40, id)).unwrap();
        }
        assert!(timeout(T, third).await.expect("third").is_ok());
        assert!(timeout(T, fourth).await.expect("fourth").is_ok());
        // Every permit is back: three more at once.
        let again: Vec<_> = (0..3)
            .map(|_| client.try_publish("nw", "x", QoS::AtMostOnce, false))
            .collect();
        assert!(again.iter().all(Result::is_ok), "{again:?}");
        for handle in again {
            assert!(timeout(T, handle.unwrap()).await.expect("QoS 0").is_ok());
        }
    });
}

// ------------------------------------------------------- session expiry (v5)

/// MQTT 5 `session_expiry`: a clean first connection whose session outlives
/// it. Another connection takes the session over (mosquitto closes ours
/// with DISCONNECT 0x8E) and leaves; the client reconnects with Clean
/// Start 0 [MQTT-3.1.2-6] and resumes the session (CONNACK: session
/// present), where Clean Start 1 would have discarded it [MQTT-3.1.2-4].
/// The broker closes the first connection with DISCONNECT 0x8E when the
/// other one takes the session [MQTT-3.1.4-3].
/// (A broker restart cannot show it: mosquitto 2.0 saves only the sessions
/// of clients whose connection did not start clean.)
#[test]
fn v5_session_expiry_resumes_a_clean_first_session_after_a_reconnect() {
    run(Duration::from_secs(60), async {
        let broker = blocking(|| Mosquitto::start(""));
        let uri = broker.uri();
        let v5 = |clean: bool| Config {
            protocol_version: sansmqtt::ProtocolVersion::V5.into(),
            session_expiry: Some(Duration::from_secs(600)),
            cleansession: clean,
            ..forever("expiry-resume")
        };
        let client = connect(&uri, v5(true)).await;
        let mut states = changes(&client);
        let mut sub = client
            .subscription("expiry/t", QoS::AtLeastOnce)
            .await
            .unwrap();
        // Another connection resumes the session (taking it over), then
        // ends without ending it.
        let other = connect(
            &uri,
            Config {
                auto_reconnect: false,
                ..v5(false)
            },
        )
        .await;
        assert_eq!(
            other.state_changes().next().await,
            Some(ConnectionState::Connected {
                session_present: true
            })
        );
        other.disconnect().await;
        let seen = wait_state(&mut states, T, is_connected).await;
        assert!(
            seen.iter().any(|s| !is_connected(s)),
            "the client was disconnected first: {seen:?}"
        );
        assert_eq!(
            seen.last(),
            Some(&ConnectionState::Connected {
                session_present: true
            }),
            "the reconnection resumed the session: {seen:?}\n{}",
            broker.log()
        );
        // The first connection started clean; the other one and the
        // reconnection did not.
        let log = broker.log();
        assert_eq!(log.matches("as expiry-resume (p5, c1").count(), 1, "{log}");
        assert_eq!(log.matches("as expiry-resume (p5, c0").count(), 2, "{log}");
        let publisher = connect(&uri, forever("expiry-pub")).await;
        publisher
            .publish("expiry/t", "kept", QoS::AtLeastOnce, false)
            .await
            .unwrap();
        assert_eq!(payload_str(&next_within(&mut sub, T).await), "kept");
        publisher.disconnect().await;
        client.disconnect().await;
    });
}

/// MQTT 5 `session_expiry` with `cleansession = false`: the broker keeps
/// the session while the interval runs after the connection ended
/// [MQTT-3.1.2-23] and ends it once it has passed; a
/// message published after that is not kept for it, and the next
/// connection finds no session. With a long expiry, the same steps find
/// the session and its message.
#[test]
fn v5_session_expiry_ends_the_session_after_the_interval() {
    run(Duration::from_secs(60), async {
        let broker = blocking(|| Mosquitto::start(""));
        let uri = broker.uri();
        for (expiry, kept) in [(1, false), (600, true)] {
            let id = format!("expiry-{expiry}");
            let config = Config {
                protocol_version: sansmqtt::ProtocolVersion::V5.into(),
                session_expiry: Some(Duration::from_secs(expiry)),
                ..persistent(&id)
            };
            let client = connect(&uri, config.clone()).await;
            client
                .subscribe(&[("expiry/ends", QoS::AtLeastOnce)])
                .await
                .unwrap();
            client.disconnect().await;
            // mosquitto checks expiries once a second.
            Rt::sleep(Duration::from_millis(2500)).await;
            let publisher = connect(&uri, forever(&format!("{id}-pub"))).await;
            publisher
                .publish("expiry/ends", "later", QoS::AtLeastOnce, false)
                .await
                .unwrap();
            publisher.disconnect().await;
            let client = connect(&uri, config).await;
            let state = client.state_changes().next().await;
            assert_eq!(
                state,
                Some(ConnectionState::Connected {
                    session_present: kept
                }),
                "expiry {expiry} s"
            );
            let message = timeout(Duration::from_secs(1), client.deliver_message()).await;
            assert_eq!(
                message.is_ok(),
                kept,
                "expiry {expiry} s: the message was {}kept",
                if kept { "" } else { "not " }
            );
            client.disconnect().await;
        }
    });
}
