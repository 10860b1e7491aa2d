//! rumqttc 0.25 (tokio, TCP): the workloads.
//!
//! The approach of the first end-to-end bench (session 1): every client's
//! `EventLoop::poll` runs in its own task, the application publishes with
//! `AsyncClient::publish_bytes` awaited in turn (the payload is one `Bytes`
//! cloned per publish, so no copy per publish on the application side),
//! request channel capacity 10, in-flight window [`INFLIGHT`], keep alive
//! 60 s, on a multi-thread tokio runtime with 2 workers.
//!
//! A publisher's QoS 1/2 publishes are complete when its event loop has seen
//! every PUBACK (QoS 1) or PUBCOMP (QoS 2); a subscriber counts incoming
//! PUBLISH packets until it has them all or [`SILENCE`] passes without one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use rumqttc::{
    AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS, SubscribeReasonCode,
};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::timeout;

use crate::outcome::Outcome;
use crate::probe::{Window, payload};
use crate::workload::{INFLIGHT, Params, TOPIC, Workload};

/// Request channel capacity of every `AsyncClient`.
const CAP: usize = 10;
/// A receiver gives up after this long without a message; every other wait
/// (CONNACK, SUBACK, an acknowledgement, a round trip) is bounded by it too.
const SILENCE: Duration = Duration::from_secs(10);
/// Maximum packet size (incoming and outgoing) for W7's 1 MiB payloads.
const BIG_PACKET: usize = 2 << 20;
/// W7: publishes awaiting their PUBACK at most.
const W7_PENDING: u64 = 8;
/// W4: round trips before the measured ones.
const WARMUP: usize = 200;
/// How long a client may take to disconnect cleanly.
const TEARDOWN: Duration = Duration::from_secs(2);

/// Runs workload `w` with rumqttc against the broker on `port`.
pub(crate) fn run(w: Workload, p: &Params, port: u16) -> Result<Outcome, String> {
    let rt = crate::peers::tokio_runtime()?;
    let p = *p;
    // Everything runs in tasks of the runtime, none on the waiting thread.
    let out = rt.block_on(async move {
        tokio::spawn(async move {
            match w {
                Workload::W1 | Workload::W2 | Workload::W3 | Workload::W6 => {
                    throughput(p, port, false, None).await
                }
                Workload::W7 => throughput(p, port, true, Some(W7_PENDING)).await,
                Workload::W4 => latency(p, port).await,
                Workload::W5 => connections(p, port, false).await,
                Workload::W5b => connections(p, port, true).await,
            }
        })
        .await
        .map_err(|e| format!("benchmark task: {e}"))?
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    out
}

fn qos(q: u8) -> Result<QoS, String> {
    match q {
        0 => Ok(QoS::AtMostOnce),
        1 => Ok(QoS::AtLeastOnce),
        2 => Ok(QoS::ExactlyOnce),
        _ => Err(format!("QoS {q} does not exist")),
    }
}

fn options(id: String, port: u16, big: bool) -> MqttOptions {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_inflight(INFLIGHT);
    o.set_keep_alive(Duration::from_secs(60));
    if big {
        o.set_max_packet_size(BIG_PACKET, BIG_PACKET);
    }
    o
}

/// Polls `el` until `want` says the event is the awaited one (`Ok(true)`),
/// or is a refusal (`Err`); bounded by [`SILENCE`].
async fn poll_until(
    el: &mut EventLoop,
    what: &str,
    want: impl Fn(&Event) -> Result<bool, String>,
) -> Result<(), String> {
    timeout(SILENCE, async {
        loop {
            match el.poll().await {
                Ok(e) => {
                    if want(&e)? {
                        return Ok(());
                    }
                }
                Err(e) => return Err(format!("waiting for {what}: {e}")),
            }
        }
    })
    .await
    .map_err(|_| format!("no {what} within {SILENCE:?}"))?
}

/// A client connected (CONNACK seen).
async fn connect(id: String, port: u16, big: bool) -> Result<(AsyncClient, EventLoop), String> {
    let (client, mut el) = AsyncClient::new(options(id, port, big), CAP);
    poll_until(&mut el, "CONNACK", |e| {
        Ok(matches!(e, Event::Incoming(Packet::ConnAck(_))))
    })
    .await?;
    Ok((client, el))
}

/// A client connected and subscribed to [`TOPIC`] (SUBACK seen).
async fn subscriber(
    id: String,
    port: u16,
    q: QoS,
    big: bool,
) -> Result<(AsyncClient, EventLoop), String> {
    let (client, mut el) = connect(id, port, big).await?;
    client
        .subscribe(TOPIC, q)
        .await
        .map_err(|e| format!("subscribe: {e}"))?;
    poll_until(&mut el, "SUBACK", |e| match e {
        Event::Incoming(Packet::SubAck(s)) => {
            if s.return_codes
                .iter()
                .any(|c| matches!(c, SubscribeReasonCode::Failure))
            {
                Err("the broker refused the subscription".into())
            } else {
                Ok(true)
            }
        }
        _ => Ok(false),
    })
    .await?;
    Ok((client, el))
}

/// Disconnects `client` and polls its event loop until the DISCONNECT is
/// written (or the connection ends), within [`TEARDOWN`].
async fn disconnect(client: &AsyncClient, mut el: EventLoop) {
    if client.disconnect().await.is_err() {
        return;
    }
    let _ = timeout(TEARDOWN, async {
        loop {
            match el.poll().await {
                Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
}

/// What one subscriber received.
struct Receipt {
    count: u64,
    wrong_size: u64,
    last: Option<Instant>,
    error: Option<String>,
}

/// Counts incoming PUBLISH packets until `target`, [`SILENCE`], or an error.
fn receive(mut el: EventLoop, target: u64, size: usize) -> JoinHandle<(Receipt, EventLoop)> {
    tokio::spawn(async move {
        let mut r = Receipt {
            count: 0,
            wrong_size: 0,
            last: None,
            error: None,
        };
        while r.count < target {
            match timeout(SILENCE, el.poll()).await {
                Ok(Ok(Event::Incoming(Packet::Publish(m)))) => {
                    r.count += 1;
                    r.wrong_size += u64::from(m.payload.len() != size);
                    r.last = Some(Instant::now());
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    r.error = Some(e.to_string());
                    break;
                }
                Err(_) => break,
            }
        }
        (r, el)
    })
}

/// The acknowledgements a publisher's event loop has seen.
#[derive(Default)]
struct Acks {
    done: AtomicU64,
    notify: Notify,
}

impl Acks {
    /// Waits until at least `target` are acknowledged; fails after
    /// [`SILENCE`] without one, or if the event loop ended.
    async fn wait(
        &self,
        target: u64,
        el_task: &JoinHandle<Result<EventLoop, String>>,
    ) -> Result<(), String> {
        loop {
            let done = self.done.load(Ordering::Acquire);
            if done >= target {
                return Ok(());
            }
            if el_task.is_finished() {
                return Err(format!(
                    "the publisher's event loop ended with {done} of {target} acknowledged"
                ));
            }
            if timeout(SILENCE, self.notify.notified()).await.is_err() {
                return Err(format!(
                    "{done} of {target} publishes acknowledged, none more within {SILENCE:?}"
                ));
            }
        }
    }
}

/// A publisher's event loop: counts PUBACKs (QoS 1) or PUBCOMPs (QoS 2)
/// until the client disconnects.
fn drive_publisher(
    mut el: EventLoop,
    acks: Arc<Acks>,
    q: QoS,
) -> JoinHandle<Result<EventLoop, String>> {
    tokio::spawn(async move {
        let result = loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) if q == QoS::AtLeastOnce => {
                    acks.done.fetch_add(1, Ordering::Release);
                    acks.notify.notify_one();
                }
                Ok(Event::Incoming(Packet::PubComp(_))) if q == QoS::ExactlyOnce => {
                    acks.done.fetch_add(1, Ordering::Release);
                    acks.notify.notify_one();
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) => break Ok(el),
                Ok(_) => {}
                Err(e) => break Err(format!("publisher: {e}")),
            }
        };
        // Wakes a waiter to see that the loop ended.
        acks.notify.notify_one();
        result
    })
}

/// W1, W2, W3, W6, W7: one publisher of `p.n` messages to `p.subscribers`
/// subscribers; with `pending`, at most that many unacknowledged publishes.
async fn throughput(
    p: Params,
    port: u16,
    big: bool,
    pending: Option<u64>,
) -> Result<Outcome, String> {
    let q = qos(p.qos)?;
    let tag = std::process::id();
    let mut subs = Vec::with_capacity(p.subscribers);
    for i in 0..p.subscribers {
        subs.push(subscriber(format!("rumq-sub-{tag}-{i}"), port, q, big).await?);
    }
    let (publisher, pub_loop) = connect(format!("rumq-pub-{tag}"), port, big).await?;
    let message = Bytes::from(payload(p.payload));
    let per_subscriber = (p.n * p.clients) as u64;
    let receivers: Vec<(AsyncClient, JoinHandle<(Receipt, EventLoop)>)> = subs
        .into_iter()
        .map(|(c, el)| (c, receive(el, per_subscriber, p.payload)))
        .collect();
    let acks = Arc::new(Acks::default());
    let pub_task = drive_publisher(pub_loop, acks.clone(), q);

    let window = Window::start();
    for i in 0..p.n as u64 {
        if let Some(max) = pending {
            acks.wait(i.saturating_sub(max), &pub_task).await?;
        }
        publisher
            .publish_bytes(TOPIC, q, false, message.clone())
            .await
            .map_err(|e| format!("publish {i}: {e}"))?;
    }
    let mut received = 0;
    let mut wrong_size = 0;
    let mut last: Option<Instant> = None;
    let mut errors = Vec::new();
    let mut loops = Vec::with_capacity(receivers.len());
    for (client, task) in receivers {
        let (r, el) = task.await.map_err(|e| format!("subscriber task: {e}"))?;
        received += r.count;
        wrong_size += r.wrong_size;
        last = last.max(r.last);
        errors.extend(r.error.map(|e| format!("subscriber: {e}")));
        loops.push((client, el));
    }
    if q != QoS::AtMostOnce && errors.is_empty() {
        acks.wait(p.n as u64, &pub_task).await?;
    }
    let outcome = window.finish_at(last.unwrap_or_else(Instant::now), received, p.deliveries());

    for (client, el) in loops {
        disconnect(&client, el).await;
    }
    if publisher.disconnect().await.is_ok() {
        let _ = timeout(TEARDOWN, pub_task).await;
    }
    if let Some(e) = errors.first() {
        return Err(format!("{} subscriber(s) failed: {e}", errors.len()));
    }
    if wrong_size > 0 {
        return Err(format!(
            "{wrong_size} message(s) received with a payload size other than {} B",
            p.payload
        ));
    }
    Ok(outcome)
}

/// W4: QoS 0 to the client's own subscription, one round trip at a time.
async fn latency(p: Params, port: u16) -> Result<Outcome, String> {
    let (client, mut el) = subscriber(
        format!("rumq-lat-{}", std::process::id()),
        port,
        QoS::AtMostOnce,
        false,
    )
    .await?;
    let (tx, mut rx) = mpsc::channel::<usize>(16);
    let el_task = tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::Publish(m))) => {
                    if tx.send(m.payload.len()).await.is_err() {
                        return;
                    }
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => return,
                Ok(_) => {}
            }
        }
    });
    let message = Bytes::from(payload(p.payload));
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
        .map_err(|e| format!("histogram: {e}"))?;
    let mut round_trip = async |i: usize| -> Result<Duration, String> {
        let t0 = Instant::now();
        client
            .publish_bytes(TOPIC, QoS::AtMostOnce, false, message.clone())
            .await
            .map_err(|e| format!("publish {i}: {e}"))?;
        match timeout(SILENCE, rx.recv()).await {
            Ok(Some(len)) if len == p.payload => Ok(t0.elapsed()),
            Ok(Some(len)) => Err(format!(
                "round trip {i}: {len} B came back, not {} B",
                p.payload
            )),
            Ok(None) => Err(format!("round trip {i}: the connection ended")),
            Err(_) => Err(format!("round trip {i}: nothing back within {SILENCE:?}")),
        }
    };
    for i in 0..WARMUP {
        round_trip(i).await?;
    }
    let window = Window::start();
    for i in 0..p.n {
        let rtt = round_trip(i).await?;
        hist.saturating_record((rtt.as_micros() as u64).max(1));
    }
    let mut outcome = window.finish(p.n as u64, p.deliveries());
    outcome.latency_us = Some([
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.99),
        hist.max(),
    ]);
    if client.disconnect().await.is_ok() {
        let _ = timeout(TEARDOWN, el_task).await;
    }
    Ok(outcome)
}

/// W5 and W5b: `p.clients` clients at once, each connecting, publishing
/// `p.n` QoS 1 messages to its own topic, and disconnecting. W5 (`burst`
/// false) waits for each PUBACK before the next publish; W5b (`burst`)
/// issues the `p.n` publishes one after the other without waiting, then
/// waits for their `p.n` PUBACKs.
async fn connections(p: Params, port: u16, burst: bool) -> Result<Outcome, String> {
    let tag = std::process::id();
    let message = Bytes::from(payload(p.payload));
    let expected = (p.n * p.clients) as u64;
    let window = Window::start();
    let tasks: Vec<JoinHandle<Result<u64, String>>> = (0..p.clients)
        .map(|i| tokio::spawn(one_connection(i, p.n, message.clone(), port, tag, burst)))
        .collect();
    let mut acked = 0;
    let mut errors = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok(a)) => acked += a,
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(format!("client task: {e}")),
        }
    }
    let outcome = window.finish(acked, expected);
    if let Some(e) = errors.first() {
        return Err(format!("{} client(s) failed, first: {e}", errors.len()));
    }
    Ok(outcome)
}

/// What a W5 client's event loop reports.
enum Ev {
    ConnAck,
    PubAck,
}

/// One W5 (W5b with `burst`) client; returns how many of its publishes were
/// acknowledged.
async fn one_connection(
    i: usize,
    n: usize,
    message: Bytes,
    port: u16,
    tag: u32,
    burst: bool,
) -> Result<u64, String> {
    let (client, mut el) =
        AsyncClient::new(options(format!("rumq-w5-{tag}-{i}"), port, false), CAP);
    let (tx, mut rx) = mpsc::unbounded_channel::<Ev>();
    let el_task = tokio::spawn(async move {
        loop {
            let ev = match el.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => Ev::ConnAck,
                Ok(Event::Incoming(Packet::PubAck(_))) => Ev::PubAck,
                Ok(Event::Outgoing(Outgoing::Disconnect)) => return Ok(()),
                Ok(_) => continue,
                Err(e) => return Err(e.to_string()),
            };
            if tx.send(ev).is_err() {
                return Ok(());
            }
        }
    });
    let topic = format!("bench/w5/{i}");
    let mut next = async |what: &str| match timeout(SILENCE, rx.recv()).await {
        Ok(Some(ev)) => Ok(ev),
        Ok(None) => Err(format!(
            "client {i}: the connection ended waiting for {what}"
        )),
        Err(_) => Err(format!("client {i}: no {what} within {SILENCE:?}")),
    };
    if !matches!(next("CONNACK").await?, Ev::ConnAck) {
        return Err(format!("client {i}: something before the CONNACK"));
    }
    let mut acked = 0;
    // W5b: every publish is handed to the event loop first (`publish_bytes`
    // only waits for room in the request channel), the PUBACKs after.
    if burst {
        for k in 0..n {
            client
                .publish_bytes(topic.as_str(), QoS::AtLeastOnce, false, message.clone())
                .await
                .map_err(|e| format!("client {i}: publish {k}: {e}"))?;
        }
    }
    for k in 0..n {
        if !burst {
            client
                .publish_bytes(topic.as_str(), QoS::AtLeastOnce, false, message.clone())
                .await
                .map_err(|e| format!("client {i}: publish {k}: {e}"))?;
        }
        match next("PUBACK").await? {
            Ev::PubAck => acked += 1,
            Ev::ConnAck => return Err(format!("client {i}: reconnected")),
        }
    }
    client
        .disconnect()
        .await
        .map_err(|e| format!("client {i}: disconnect: {e}"))?;
    match timeout(SILENCE, el_task).await {
        Ok(Ok(Ok(()))) => Ok(acked),
        Ok(Ok(Err(e))) => Err(format!("client {i}: {e}")),
        Ok(Err(e)) => Err(format!("client {i}: event loop task: {e}")),
        Err(_) => Err(format!("client {i}: no DISCONNECT within {SILENCE:?}")),
    }
}
