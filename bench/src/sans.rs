//! sansmqtt on tokio, async-std and smol: the workloads, written once.
//!
//! Every workload body is generic over [`Exec`], the little that differs
//! between the runtimes (blocking on the body, spawning a task, sleeping);
//! the clients themselves are made with the runtime-generic
//! `sansmqtt::Client::connect` and the adapter's `sansmqtt::Runtime`.
//!
//! Every wait is bounded: a stream of messages by [`SILENCE`] without one,
//! everything by [`DEADLINE`] from the start of the workload. A subscriber
//! that stops early is not an error: its count says what was lost.

use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::{Either, join_all, select};
use futures_util::{FutureExt, StreamExt};
use hdrhistogram::Histogram;
use sansmqtt::{Bytes, Client, Config, QoS, Runtime, Subscription, TopicName};

use crate::outcome::Outcome;
use crate::probe::{Window, payload};
use crate::workload::{INFLIGHT, Params, TOPIC, Workload};

/// A subscriber stops counting after this long without a message.
const SILENCE: Duration = Duration::from_secs(10);
/// Bound of a whole workload, from its first connect.
const DEADLINE: Duration = Duration::from_secs(120);
/// Bound of one step outside the measured traffic (connect, subscribe,
/// disconnect).
const STEP: Duration = Duration::from_secs(10);
/// QoS 0: publishes kept pending at once (as many publishing tasks).
const PENDING_QOS0: usize = 1024;
/// QoS 1 and 2: publishes kept pending at once, twice the in-flight window
/// (the rest waits in the session's queue).
const PENDING_QOS12: usize = 2 * INFLIGHT as usize;
/// W7: 1 MiB publishes kept pending at once.
const PENDING_LARGE: usize = 8;
/// W4: round trips before the measured ones.
const WARM_UP: usize = 200;

// ------------------------------------------------------------------ runtimes

/// What differs between the runtimes, besides their `sansmqtt::Runtime`.
trait Exec: 'static {
    /// Name, in client identifiers.
    const NAME: &'static str;
    /// The adapter's runtime, for `Client::connect`.
    fn runtime(&self) -> Arc<dyn Runtime>;
    /// Waits on the calling thread for `future` (the spawned workload body).
    fn block_on<F: Future>(&self, future: F) -> F::Output;
    /// Runs `future` as a task; the returned future gives its output.
    fn spawn<T: Send + 'static>(
        future: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = Result<T, String>> + Send + 'static;
    /// Ready once `duration` has passed.
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + 'static;
}

/// A multi-thread tokio runtime with two workers.
struct Tokio(tokio::runtime::Runtime);

impl Exec for Tokio {
    const NAME: &'static str = "tokio";

    fn runtime(&self) -> Arc<dyn Runtime> {
        Arc::new(sansmqtt_tokio::TokioRuntime::new(self.0.handle().clone()))
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.0.block_on(future)
    }

    fn spawn<T: Send + 'static>(
        future: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = Result<T, String>> + Send + 'static {
        let task = tokio::spawn(future);
        async move { task.await.map_err(|e| format!("task failed: {e}")) }
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        tokio::time::sleep(duration)
    }
}

/// async-std's global executor.
struct AsyncStd;

impl Exec for AsyncStd {
    const NAME: &'static str = "async-std";

    fn runtime(&self) -> Arc<dyn Runtime> {
        Arc::new(sansmqtt_async_std::AsyncStdRuntime::new())
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        async_std::task::block_on(future)
    }

    fn spawn<T: Send + 'static>(
        future: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = Result<T, String>> + Send + 'static {
        // A panic is caught in the task (awaiting async-std's handle would
        // re-raise it).
        let task = async_std::task::spawn(AssertUnwindSafe(future).catch_unwind());
        async move { task.await.map_err(|_| "task panicked".to_owned()) }
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        async_std::task::sleep(duration)
    }
}

/// smol's global executor, the body under `smol::block_on`.
struct Smol;

impl Exec for Smol {
    const NAME: &'static str = "smol";

    fn runtime(&self) -> Arc<dyn Runtime> {
        Arc::new(sansmqtt_smol::SmolRuntime::global())
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        smol::block_on(future)
    }

    fn spawn<T: Send + 'static>(
        future: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = Result<T, String>> + Send + 'static {
        // A panic is caught in the task (awaiting smol's task would re-raise
        // it).
        let task = smol::spawn(AssertUnwindSafe(future).catch_unwind());
        async move { task.await.map_err(|_| "task panicked".to_owned()) }
    }

    async fn sleep(duration: Duration) {
        smol::Timer::after(duration).await;
    }
}

pub(crate) fn run_tokio(w: Workload, p: &Params, port: u16) -> Result<Outcome, String> {
    let rt = crate::peers::tokio_runtime()?;
    let exec = Tokio(rt);
    let out = run(&exec, w, p, port);
    exec.0.shutdown_timeout(Duration::from_secs(1));
    out
}

/// The session files of `sansmqtt-tokio+file`: set once in its (child)
/// process; the publisher of the throughput workloads then keeps its
/// session there.
static SESSION_DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// sansmqtt on tokio, its publisher's session in a file: a new directory
/// under the temporary one, removed afterwards.
pub(crate) fn run_tokio_file(w: Workload, p: &Params, port: u16) -> Result<Outcome, String> {
    let dir = std::env::temp_dir().join(format!("sansmqtt-bench-session-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let _ = SESSION_DIR.set(dir.clone());
    let out = run_tokio(w, p, port);
    let _ = std::fs::remove_dir_all(&dir);
    out
}

pub(crate) fn run_async_std(w: Workload, p: &Params, port: u16) -> Result<Outcome, String> {
    run(&AsyncStd, w, p, port)
}

pub(crate) fn run_smol(w: Workload, p: &Params, port: u16) -> Result<Outcome, String> {
    run(&Smol, w, p, port)
}

// ------------------------------------------------------------------ helpers

/// Why a bounded wait ended without its result.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// Nothing completed for the silence bound.
    Silence(Duration),
    /// The workload's deadline passed.
    Deadline,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Silence(d) => write!(f, "nothing for {d:?}"),
            Stop::Deadline => write!(f, "the {DEADLINE:?} deadline passed"),
        }
    }
}

/// Bounds a sequence of waits: each may last until `silence` has passed
/// since the last one completed, and all end at `deadline`. One timer
/// serves every wait (it is only re-armed when it fires), so that a wait
/// per message costs no timer registration.
struct Guard<E> {
    timer: Pin<Box<dyn Future<Output = ()> + Send>>,
    silence: Duration,
    last: Instant,
    deadline: Instant,
    _exec: PhantomData<fn() -> E>,
}

impl<E: Exec> Guard<E> {
    fn new(silence: Duration, deadline: Instant) -> Self {
        let now = Instant::now();
        let first = (now + silence).min(deadline).saturating_duration_since(now);
        Self {
            timer: Box::pin(E::sleep(first)),
            silence,
            last: now,
            deadline,
            _exec: PhantomData,
        }
    }

    /// `future`'s output, unless the silence or the deadline passes first.
    async fn within<F: Future>(&mut self, future: F) -> Result<F::Output, Stop> {
        let mut future = pin!(future);
        loop {
            match select(future.as_mut(), self.timer.as_mut()).await {
                Either::Left((out, _)) => {
                    self.last = Instant::now();
                    return Ok(out);
                }
                Either::Right(((), _)) => {
                    let now = Instant::now();
                    if now >= self.deadline {
                        return Err(Stop::Deadline);
                    }
                    let quiet_until = self.last + self.silence;
                    if now >= quiet_until {
                        return Err(Stop::Silence(self.silence));
                    }
                    let next = quiet_until
                        .min(self.deadline)
                        .saturating_duration_since(now);
                    self.timer = Box::pin(E::sleep(next));
                }
            }
        }
    }
}

/// `future`'s output unless `step` (or the deadline) passes first.
async fn step<E: Exec, F: Future>(
    what: &str,
    deadline: Instant,
    future: F,
) -> Result<F::Output, String> {
    Guard::<E>::new(STEP, deadline)
        .within(future)
        .await
        .map_err(|stop| format!("{what}: {stop}"))
}

/// Waits for a spawned task until the deadline.
async fn join<E: Exec, T>(
    what: &str,
    deadline: Instant,
    task: impl Future<Output = Result<Result<T, String>, String>>,
) -> Result<T, String> {
    Guard::<E>::new(DEADLINE, deadline)
        .within(task)
        .await
        .map_err(|stop| format!("{what}: {stop}"))?
        .map_err(|e| format!("{what}: {e}"))?
}

fn qos(q: u8) -> Result<QoS, String> {
    match q {
        0 => Ok(QoS::AtMostOnce),
        1 => Ok(QoS::AtLeastOnce),
        2 => Ok(QoS::ExactlyOnce),
        _ => Err(format!("no QoS {q}")),
    }
}

/// What every client of the benchmark is connected with; with `persist`
/// (the publisher of `sansmqtt-tokio+file`), its session in a file of
/// [`SESSION_DIR`], which needs a session the broker keeps.
/// `max_queued`: the publisher's bound of publishes handed over at once.
fn config(
    client_id: String,
    max_packet_size: Option<u32>,
    persist: bool,
    max_queued: Option<usize>,
) -> Config {
    let persistence = SESSION_DIR.get().filter(|_| persist).cloned();
    Config {
        client_id: Some(client_id),
        max_inflight: INFLIGHT,
        keep_alive: Duration::from_secs(60),
        protocol_version: sansmqtt::ProtocolVersion::V3_1_1.into(),
        // A lost connection shows as a failure, not as a silent reconnect.
        auto_reconnect: false,
        max_packet_size,
        cleansession: persistence.is_none(),
        persistence,
        max_queued: max_queued.unwrap_or(Config::default().max_queued),
        ..Default::default()
    }
}

/// Connects one client.
/// Connects one client; with `persist`, its session in a file when the
/// run has [`SESSION_DIR`].
async fn connect<E: Exec>(
    rt: &Arc<dyn Runtime>,
    port: u16,
    id: String,
    max_packet_size: Option<u32>,
    persist: bool,
    max_queued: Option<usize>,
    deadline: Instant,
) -> Result<Client, String> {
    let uri = format!("mqtt://127.0.0.1:{port}");
    let what = format!("connecting {id}");
    step::<E, _>(
        &what,
        deadline,
        Client::connect(
            rt.clone(),
            &uri,
            config(id.clone(), max_packet_size, persist, max_queued),
        ),
    )
    .await?
    .map_err(|e| format!("{what}: {e}"))
}

/// Disconnects cleanly (DISCONNECT after what is queued).
async fn disconnect<E: Exec>(client: &Client, deadline: Instant) -> Result<(), String> {
    step::<E, _>("disconnecting", deadline, client.disconnect()).await
}

/// A unique client identifier.
fn client_id<E: Exec>(w: Workload, role: &str) -> String {
    format!(
        "sans-{}-{}-{role}-{}",
        E::NAME,
        w.name(),
        std::process::id()
    )
}

// ------------------------------------------------------------------ workloads

fn run<E: Exec>(exec: &E, w: Workload, p: &Params, port: u16) -> Result<Outcome, String> {
    let rt = exec.runtime();
    let p = *p;
    // Everything runs in a task of the runtime, none on the waiting thread
    // (as for rumqttc): a body on the `block_on` thread would pay a
    // cross-thread wake-up for every message the driver hands it.
    let body = async move {
        match w {
            Workload::W1 | Workload::W2 | Workload::W3 | Workload::W6 => {
                let pending = if p.qos == 0 {
                    PENDING_QOS0
                } else {
                    PENDING_QOS12
                };
                throughput::<E>(&rt, w, &p, port, pending).await
            }
            Workload::W7 => throughput::<E>(&rt, w, &p, port, PENDING_LARGE).await,
            Workload::W4 => latency::<E>(&rt, &p, port).await,
            Workload::W5 => connections::<E>(&rt, &p, port, false).await,
            Workload::W5b => connections::<E>(&rt, &p, port, true).await,
        }
    };
    // Spawned from inside: tokio's `spawn` needs its runtime's context.
    exec.block_on(async move { E::spawn(body).await })
        .and_then(|out| out)
}

/// What one subscriber saw.
struct Received {
    count: u64,
    /// When the last message came.
    last: Option<Instant>,
    /// Messages whose payload had not the size published.
    wrong_size: u64,
}

/// Counts the messages of `stream` until `n` came, or the silence or the
/// deadline passed.
async fn receive<E: Exec>(
    mut stream: Subscription,
    n: u64,
    size: usize,
    deadline: Instant,
) -> Result<Received, String> {
    let mut r = Received {
        count: 0,
        last: None,
        wrong_size: 0,
    };
    let mut guard = Guard::<E>::new(SILENCE, deadline);
    while r.count < n {
        match guard.within(stream.next()).await {
            Ok(Some(m)) => {
                r.count += 1;
                r.last = Some(Instant::now());
                r.wrong_size += u64::from(m.payload().len() != size);
            }
            Ok(None) => return Err(format!("subscription ended after {} messages", r.count)),
            // The count says what was lost.
            Err(_) => break,
        }
    }
    Ok(r)
}

/// W1, W2, W3, W6, W7: one publisher publishing `p.n` messages from
/// `pending` tasks each publishing in turn, `p.subscribers` subscribers
/// counting them; from the first publish to the last receipt.
async fn throughput<E: Exec>(
    rt: &Arc<dyn Runtime>,
    w: Workload,
    p: &Params,
    port: u16,
    pending: usize,
) -> Result<Outcome, String> {
    let deadline = Instant::now() + DEADLINE;
    let qos = qos(p.qos)?;
    // A 1 MiB payload makes a PUBLISH above the default bound of 1 MiB.
    let max_packet = u32::try_from(p.payload)
        .ok()
        .filter(|&size| size >= 1 << 19)
        .map(|size| size.saturating_mul(2));
    let topic = TopicName::try_from(TOPIC).map_err(|e| format!("topic {TOPIC}: {e}"))?;
    let body = Bytes::from(payload(p.payload));

    let subscribers = p.subscribers.max(1);
    let mut clients = Vec::with_capacity(subscribers);
    let mut streams = Vec::with_capacity(subscribers);
    for i in 0..subscribers {
        let client = connect::<E>(
            rt,
            port,
            client_id::<E>(w, &format!("sub{i}")),
            max_packet,
            false,
            None,
            deadline,
        )
        .await?;
        // Resolves after SUBACK: subscribed before the first publish.
        let stream = step::<E, _>("subscribing", deadline, client.subscription(TOPIC, qos))
            .await?
            .map_err(|e| format!("subscribing to {TOPIC}: {e}"))?;
        clients.push(client);
        streams.push(stream);
    }
    let publisher = connect::<E>(
        rt,
        port,
        client_id::<E>(w, "pub"),
        max_packet,
        true,
        Some(pending),
        deadline,
    )
    .await?;

    let n = p.n as u64;
    let size = p.payload;
    let receivers: Vec<_> = streams
        .into_iter()
        .map(|stream| E::spawn(receive::<E>(stream, n, size, deadline)))
        .collect();

    let window = Window::start();
    // One task hands the publishes over (`publish_nowait`), as a telemetry
    // loop does: at most `pending` incomplete at once (the publisher's
    // `max_queued`), the outcomes taken as they come without waiting for
    // them, the rest awaited at the end. The topic and the payload are
    // reference counted: nothing is allocated per message on this side.
    let count = p.n;
    let worker = {
        let publisher = publisher.clone();
        let topic = topic.clone();
        let body = body.clone();
        E::spawn(async move {
            let mut handles = std::collections::VecDeque::with_capacity(pending);
            let failed = |e: sansmqtt::ClientError| format!("publish: {e}");
            for _ in 0..count {
                let handle = publisher
                    .publish_nowait(&topic, body.clone(), qos, false)
                    .await
                    .map_err(failed)?;
                handles.push_back(handle);
                while let Some(done) = handles.front_mut().and_then(|h| h.now_or_never()) {
                    done.map_err(failed)?;
                    handles.pop_front();
                }
            }
            for handle in handles {
                handle.await.map_err(failed)?;
            }
            Ok::<(), String>(())
        })
    };
    let workers = [worker];

    let mut received = 0;
    let mut wrong_size = 0;
    let mut last = None;
    let mut failure = None;
    for r in receivers {
        match join::<E, _>("subscriber", deadline, r).await {
            Ok(r) => {
                received += r.count;
                wrong_size += r.wrong_size;
                last = last.max(r.last);
            }
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    for worker in workers {
        if let Err(e) = join::<E, _>("publisher", deadline, worker).await {
            failure = failure.or(Some(e));
        }
    }
    let outcome = window.finish_at(last.unwrap_or_else(Instant::now), received, p.deliveries());

    let mut closed = disconnect::<E>(&publisher, deadline).await;
    for client in &clients {
        closed = closed.and(disconnect::<E>(client, deadline).await);
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if wrong_size > 0 {
        return Err(format!(
            "{wrong_size} messages without the {size} B payload published"
        ));
    }
    closed?;
    Ok(outcome)
}

/// W4: QoS 0 round trips to the client's own subscription, one at a time.
async fn latency<E: Exec>(rt: &Arc<dyn Runtime>, p: &Params, port: u16) -> Result<Outcome, String> {
    let deadline = Instant::now() + DEADLINE;
    let topic = TopicName::try_from(TOPIC).map_err(|e| format!("topic {TOPIC}: {e}"))?;
    let body = Bytes::from(payload(p.payload));
    let client = connect::<E>(
        rt,
        port,
        client_id::<E>(Workload::W4, "echo"),
        None,
        false,
        None,
        deadline,
    )
    .await?;
    let mut stream = step::<E, _>(
        "subscribing",
        deadline,
        client.subscription(TOPIC, QoS::AtMostOnce),
    )
    .await?
    .map_err(|e| format!("subscribing to {TOPIC}: {e}"))?;
    // Sized up front: recording allocates nothing in the window.
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
        .map_err(|e| format!("histogram: {e}"))?;

    let mut guard = Guard::<E>::new(SILENCE, deadline);
    let mut round_trip = async |guard: &mut Guard<E>, i: usize| -> Result<Duration, String> {
        let sent = Instant::now();
        guard
            .within(client.publish(&topic, body.clone(), QoS::AtMostOnce, false))
            .await
            .map_err(|stop| format!("publish {i}: {stop}"))?
            .map_err(|e| format!("publish {i}: {e}"))?;
        match guard.within(stream.next()).await {
            Ok(Some(m)) if m.payload().len() == body.len() => Ok(sent.elapsed()),
            Ok(Some(m)) => Err(format!(
                "round trip {i}: {} B came back, {} B sent",
                m.payload().len(),
                body.len()
            )),
            Ok(None) => Err(format!("round trip {i}: the subscription ended")),
            Err(stop) => Err(format!("round trip {i}: {stop}")),
        }
    };

    let mut failure = None;
    for i in 0..WARM_UP {
        if let Err(e) = round_trip(&mut guard, i).await {
            failure = Some(format!("warm-up {e}"));
            break;
        }
    }
    let mut outcome = None;
    if failure.is_none() {
        let window = Window::start();
        let mut done = 0;
        for i in 0..p.n {
            match round_trip(&mut guard, i).await {
                Ok(rtt) => {
                    let us = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX);
                    histogram.saturating_record(us.max(1));
                    done += 1;
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let mut o = window.finish(done, p.deliveries());
        o.latency_us = Some([
            histogram.value_at_quantile(0.5),
            histogram.value_at_quantile(0.99),
            histogram.max(),
        ]);
        outcome = Some(o);
    }
    drop(stream);
    let closed = disconnect::<E>(&client, deadline).await;
    match (failure, outcome) {
        (Some(e), _) => Err(e),
        (None, Some(o)) => closed.map(|()| o),
        (None, None) => Err("no round trip measured".to_owned()),
    }
}

/// W5 and W5b: `p.clients` clients at once, each connecting, publishing
/// `p.n` QoS 1 messages and disconnecting; from before the first connect to
/// after the last disconnect. W5 (`burst` false) awaits each publish before
/// the next; W5b (`burst`) makes the `p.n` publishes at once and awaits them
/// together (`join_all`).
async fn connections<E: Exec>(
    rt: &Arc<dyn Runtime>,
    p: &Params,
    port: u16,
    burst: bool,
) -> Result<Outcome, String> {
    let deadline = Instant::now() + DEADLINE;
    let expected = (p.n * p.clients) as u64;
    let body = Bytes::from(payload(p.payload));
    let n = p.n;
    let w = if burst { Workload::W5b } else { Workload::W5 };
    let window = Window::start();
    let tasks: Vec<_> = (0..p.clients)
        .map(|i| {
            let rt = rt.clone();
            let body = body.clone();
            E::spawn(async move {
                let topic = format!("bench/w5/{i}");
                let topic = TopicName::try_from(topic.as_str())
                    .map_err(|e| format!("topic {topic}: {e}"))?;
                let id = client_id::<E>(w, &format!("c{i}"));
                let client = connect::<E>(&rt, port, id, None, false, None, deadline).await?;
                let mut acked = 0u64;
                let mut failure = None;
                if burst {
                    let publishes = (0..n)
                        .map(|_| client.publish(&topic, body.clone(), QoS::AtLeastOnce, false));
                    for result in join_all(publishes).await {
                        match result {
                            Ok(_) => acked += 1,
                            Err(e) => {
                                failure =
                                    failure.or_else(|| Some(format!("client {i}: publish: {e}")))
                            }
                        }
                    }
                } else {
                    for _ in 0..n {
                        match client
                            .publish(&topic, body.clone(), QoS::AtLeastOnce, false)
                            .await
                        {
                            Ok(_) => acked += 1,
                            Err(e) => {
                                failure = Some(format!("client {i}: publish: {e}"));
                                break;
                            }
                        }
                    }
                }
                disconnect::<E>(&client, deadline).await?;
                failure.map_or(Ok(acked), Err)
            })
        })
        .collect();
    let mut acked = 0;
    let mut failure = None;
    for task in tasks {
        match join::<E, _>("client", deadline, task).await {
            Ok(a) => acked += a,
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    let outcome = window.finish(acked, expected);
    failure.map_or(Ok(outcome), Err)
}
