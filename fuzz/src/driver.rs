//! The check behind the `driver` fuzz target: the whole client (the
//! `sansmqtt` crate's [`Client`] and its driver task) over an in-memory
//! transport, on a single-threaded simulated runtime, against a hostile
//! broker played by the input.
//!
//! The runtime ([`SimRuntime`]) keeps the tasks the client spawns in a
//! local queue that [`Sim::settle`] polls until nothing wakes any more,
//! and has a virtual clock ([`sansmqtt::Runtime::now`]) that only the
//! input moves; its timers are ready once the clock passes their deadline.
//! The connector opens a fresh in-memory [`Wire`] per connection attempt
//! (or refuses, when the input says so). Everything is deterministic: the
//! client's random backoff jitter and request nonce come from `fastrand`,
//! seeded at the start of each input.
//!
//! Input layout: byte 0 chooses the options (bit 0: MQTT 5, else 3.1.1;
//! bit 1: a persistent session, `cleansession = false`; bit 2: keep-alive
//! 5 s, else none; bit 3: QoS 0 overflow `drop`, else `wait`; bits 5-7:
//! `max_inflight` 1 to 8), byte 1 the bounds (bits 0-3: `max_queued` 1 to
//! 16; bits 4-5: `reconnect_retries` 0, 1, 3 or forever; bit 6:
//! `auto_reconnect` off; bit 7: first connection not retried). Each
//! following byte is an operation (its value modulo [`OPS`]) with argument
//! bytes: the broker's CONNACK (cheap: one byte, then one argument byte;
//! session present only when the CONNECT asked to resume), raw bytes,
//! acknowledgements of what the client sent (PUBACK, PUBREC, PUBCOMP,
//! PUBREL for the broker's QoS 2, SUBACK, UNSUBACK; success or failure),
//! PUBLISH to the client, PINGRESP, DISCONNECT; the application's
//! `try_publish` at QoS 0, 1 or 2 (the payload starts with a 4-byte tag
//! that names the publish), `subscribe`, `unsubscribe`, `ping`,
//! `disconnect`, `reconnect`, taking one delivered message; connection
//! drops (EOF or an error), a connector that refuses the next attempts,
//! the transport refusing writes for a while, and the clock advancing.
//!
//! Asserted, whatever the input:
//! - nothing panics (overflow checks included), and the tasks settle:
//!   polling stops producing wake-ups (no busy loop, [`MAX_ROUNDS`]);
//! - every byte the client writes decodes as a client packet of its
//!   version, and each connection starts with CONNECT;
//! - no QoS 1/2 publish is lost: every handle the application got resolves
//!   by the end (the end of the input is a `disconnect`, then every
//!   client handle and every pending call dropped; the driver task must
//!   then finish), with `Ok` or a typed error; a publish the broker
//!   acknowledged with success (PUBACK, or PUBCOMP after PUBREC) on a
//!   connection where the client read that acknowledgement resolves `Ok`;
//!   and after a CONNACK with Session Present on a new connection, every
//!   QoS 1/2 publish written on an earlier connection and not resolved is
//!   sent again, as its PUBLISH or its PUBREL [MQTT-4.4.0-1];
//! - bounded memory: `try_publish` hands over at most `max_queued`
//!   unresolved publishes (it fails with `QueueFull` exactly at the
//!   bound), and the bytes written on one connection stay below
//!   `1024 + 2 x (bytes of every call the application made) + 8 x (bytes
//!   the broker sent on it) + 2 x (clock steps + 1)`: what the client
//!   writes comes from what it was asked, answers to the broker, and
//!   keep-alive pings, never from a loop or an unbounded resend.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use sansmqtt::{
    BoxFuture, BrokerUri, Client, ClientError, Config, Connector, PublishDone, PublishError,
    PublishHandle, Qos0Overflow, Runtime, Timer, Transport,
};
use sansmqtt_proto::{
    ConnAck, ConnectReason, Decoder, Disconnect, DisconnectReason, Packet, PacketId,
    ProtocolVersion, PubAck, PubAckReason, PubComp, PubCompReason, PubRec, PubRecReason, PubRel,
    Publish, QoS, SubAck, SubAckReason, TopicName, UnsubAck, UnsubAckReason,
};

use crate::input::Input;

/// Polling rounds of one [`Sim::settle`] before the tasks count as
/// spinning: a round polls every task once, and a settled client wakes
/// nothing.
pub const MAX_ROUNDS: usize = 1000;
/// Operations; an input byte is one modulo this.
pub const OPS: u8 = 20;
/// Largest packet the client accepts from the fuzzed broker.
const MAX_PACKET: u32 = 4096;

const TOPICS: [&str; 3] = ["a/b", "a/c", "x"];
const FILTERS: [&str; 4] = ["a/+", "#", "x", "a/b"];

// ---------------------------------------------------------------- runtime

/// The virtual clock: a real instant, moved only by the input.
struct Clock {
    start: Instant,
    offset_ms: AtomicU64,
}

impl Clock {
    fn now(&self) -> Instant {
        self.start + Duration::from_millis(self.offset_ms.load(Ordering::Relaxed))
    }

    fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// A timer of the virtual clock: ready once the clock passed its deadline.
/// It registers no waker: [`Sim::settle`] polls every task after each
/// operation, the clock's steps included.
struct SimTimer {
    clock: Arc<Clock>,
    deadline: Instant,
}

impl Timer for SimTimer {
    fn reset(mut self: Pin<&mut Self>, deadline: Instant) {
        self.deadline = deadline;
    }

    fn poll_expired(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.now() >= self.deadline {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// The simulated runtime: spawned tasks wait in a queue for [`Sim`] to
/// poll them; no TCP (the connector brings the transports).
#[derive(Clone)]
struct SimRuntime {
    clock: Arc<Clock>,
    spawned: Arc<Mutex<Vec<BoxFuture<()>>>>,
}

impl Runtime for SimRuntime {
    fn spawn(&self, future: BoxFuture<()>) {
        self.spawned.lock().expect("spawn queue").push(future);
    }

    fn timer(&self, deadline: Instant) -> Pin<Box<dyn Timer>> {
        Box::pin(SimTimer {
            clock: self.clock.clone(),
            deadline,
        })
    }

    fn connect_tcp(&self, _host: &str, _port: u16) -> BoxFuture<io::Result<Box<dyn Transport>>> {
        Box::pin(async { Err(io::Error::other("no TCP in the simulation")) })
    }

    fn now(&self) -> Instant {
        self.clock.now()
    }
}

// -------------------------------------------------------------- transport

/// One in-memory connection: what the broker sent (and how far the client
/// read it), what the client wrote, and how it ends.
#[derive(Default)]
struct Wire {
    inbound: Vec<u8>,
    read: usize,
    eof: bool,
    failed: bool,
    closed: bool,
    /// Writes are refused (`Pending`) while set: a broker that stopped reading.
    blocked: bool,
    outbound: Vec<u8>,
}

struct WireEnd(Arc<Mutex<Wire>>);

impl futures_io::AsyncRead for WireEnd {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut w = self.0.lock().expect("wire");
        if w.failed {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        let left = w.inbound.len() - w.read;
        if left > 0 {
            let n = left.min(buf.len());
            let at = w.read;
            buf[..n].copy_from_slice(&w.inbound[at..at + n]);
            w.read += n;
            return Poll::Ready(Ok(n));
        }
        if w.eof {
            Poll::Ready(Ok(0))
        } else {
            Poll::Pending
        }
    }
}

impl futures_io::AsyncWrite for WireEnd {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut w = self.0.lock().expect("wire");
        if w.failed || w.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if w.blocked {
            return Poll::Pending;
        }
        w.outbound.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.lock().expect("wire").closed = true;
        Poll::Ready(Ok(()))
    }
}

/// The connector's side: the wires it opened, and whether it refuses.
#[derive(Default)]
struct Net {
    opened: Vec<Arc<Mutex<Wire>>>,
    refuse: u8,
}

// --------------------------------------------------------------- executor

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
}

type LocalTask = Pin<Box<dyn Future<Output = ()>>>;

// ------------------------------------------------------------------ broker

/// What the client sent that the fake broker may acknowledge.
#[derive(Clone, Copy, Debug)]
enum Owed {
    /// PUBACK for a QoS 1 PUBLISH.
    PubAck(PacketId),
    /// PUBREC for a QoS 2 PUBLISH.
    PubRec(PacketId),
    /// PUBCOMP for a PUBREL.
    PubComp(PacketId),
    /// PUBREL for the client's PUBREC of the broker's QoS 2 PUBLISH.
    PubRel(PacketId),
    /// SUBACK for a SUBSCRIBE of that many filters.
    SubAck(PacketId, usize),
    /// UNSUBACK for an UNSUBSCRIBE of that many filters.
    UnsubAck(PacketId, usize),
}

/// One connection as the broker sees it.
struct Conn {
    wire: Arc<Mutex<Wire>>,
    decoder: Decoder,
    packets: usize,
    connect_clean: Option<bool>,
    connack_sent: bool,
    /// Only well-formed packets in an order the client accepts so far: its
    /// reading of an acknowledgement can be relied on.
    clean: bool,
    /// Broker bytes sent (the written-bytes bound).
    written: usize,
    /// Bytes the client wrote.
    from_client: usize,
    owed: Vec<Owed>,
    /// Acknowledgements with success sent: tag, and the inbound offset
    /// past which the client has read it.
    acks: Vec<(u32, usize)>,
    /// Tags sent again after a CONNACK with Session Present.
    resent: HashSet<u32>,
    /// Tags to be sent again, checked once the CONNACK is read.
    must_resend: Option<(Vec<u32>, usize)>,
}

struct Record {
    tag: u32,
    handle: Option<PublishHandle>,
    outcome: Option<Result<PublishDone, ClientError>>,
}

struct Sim {
    runtime: SimRuntime,
    net: Arc<Mutex<Net>>,
    flag: Arc<Flag>,
    waker: Waker,
    tasks: Vec<LocalTask>,
    version: ProtocolVersion,
    max_queued: usize,
    client: Rc<RefCell<Option<Result<Client, ClientError>>>>,
    conns: Vec<Conn>,
    /// The client's QoS 1/2 publishes by packet identifier (the latest
    /// PUBLISH of each identifier).
    by_pid: HashMap<u16, u32>,
    /// Unresolved QoS 1/2 publishes the client wrote, by tag: the
    /// connection of their latest PUBLISH or PUBREL.
    in_session: HashMap<u32, usize>,
    records: Vec<Record>,
    next_tag: u32,
    acked: HashSet<u32>,
    asked: usize,
    steps: usize,
    broker_pid: u16,
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n.max(1)).expect("non-zero")
}

fn tag_of(payload: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(payload.get(..4)?.try_into().ok()?))
}

impl Sim {
    fn new(flags: u8, bounds: u8) -> Self {
        let runtime = SimRuntime {
            clock: Arc::new(Clock {
                start: Instant::now(),
                offset_ms: AtomicU64::new(0),
            }),
            spawned: Arc::new(Mutex::new(Vec::new())),
        };
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let version = if flags & 1 != 0 {
            ProtocolVersion::V5
        } else {
            ProtocolVersion::V3_1_1
        };
        let max_queued = 1 + usize::from(bounds & 15);
        let config = Config {
            client_id: Some("fuzz".to_owned()),
            protocol_version: version.into(),
            cleansession: flags & 2 == 0,
            keep_alive: Duration::from_secs(if flags & 4 != 0 { 5 } else { 0 }),
            ping_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(3),
            qos0_overflow: if flags & 8 != 0 {
                Qos0Overflow::Drop
            } else {
                Qos0Overflow::Wait
            },
            max_inflight: 1 + u16::from(flags >> 5),
            max_queued,
            max_packet_size: Some(MAX_PACKET),
            reconnect_max_interval: Duration::from_secs(2),
            reconnect_retries: [0, 1, 3, -1][usize::from(bounds >> 4 & 3)],
            auto_reconnect: bounds & 64 == 0,
            reconnect_on_first_connect: bounds & 128 == 0,
            ..Config::default()
        };
        let net = Arc::new(Mutex::new(Net::default()));
        let opener = net.clone();
        let connector = move |_: &BrokerUri| -> BoxFuture<io::Result<Box<dyn Transport>>> {
            let mut net = opener.lock().expect("net");
            if net.refuse > 0 {
                net.refuse -= 1;
                return Box::pin(async { Err(io::ErrorKind::ConnectionRefused.into()) });
            }
            let wire = Arc::new(Mutex::new(Wire::default()));
            net.opened.push(wire.clone());
            Box::pin(async move { Ok(Box::new(WireEnd(wire)) as Box<dyn Transport>) })
        };
        let client = Rc::new(RefCell::new(None));
        let slot = client.clone();
        let rt: Arc<dyn Runtime> = Arc::new(runtime.clone());
        let connector: Arc<dyn Connector> = Arc::new(connector);
        let connecting: LocalTask = Box::pin(async move {
            let result = Client::connect_with(rt, connector, "mqtt://broker", config).await;
            *slot.borrow_mut() = Some(result);
        });
        Self {
            runtime,
            net,
            waker: Waker::from(flag.clone()),
            flag,
            tasks: vec![connecting],
            version,
            max_queued,
            client,
            conns: Vec::new(),
            by_pid: HashMap::new(),
            in_session: HashMap::new(),
            records: Vec::new(),
            next_tag: 0,
            acked: HashSet::new(),
            asked: 0,
            steps: 0,
            broker_pid: 0,
        }
    }

    fn client(&self) -> Option<Client> {
        match &*self.client.borrow() {
            Some(Ok(c)) => Some(c.clone()),
            _ => None,
        }
    }

    /// Polls every task until a round wakes nothing, then lets the broker
    /// read what the client wrote and the application see its outcomes.
    fn settle(&mut self) {
        for _ in 0..MAX_ROUNDS {
            self.flag.0.store(false, Ordering::Relaxed);
            let spawned = std::mem::take(&mut *self.runtime.spawned.lock().expect("spawn"));
            self.tasks
                .extend(spawned.into_iter().map(|f| f as LocalTask));
            let mut cx = Context::from_waker(&self.waker);
            self.tasks
                .retain_mut(|t| t.as_mut().poll(&mut cx).is_pending());
            let new = !self.runtime.spawned.lock().expect("spawn").is_empty();
            let wrote = self.broker_reads();
            if !new && !wrote && !self.flag.0.load(Ordering::Relaxed) {
                self.outcomes();
                self.check_resent();
                return;
            }
        }
        panic!("the client's tasks never settle: they wake each other endlessly");
    }

    /// The handles that resolved: their outcomes. An `Ok` at QoS 1/2
    /// leaves the session.
    fn outcomes(&mut self) {
        let mut cx = Context::from_waker(Waker::noop());
        for r in &mut self.records {
            if let Some(h) = &mut r.handle
                && let Poll::Ready(outcome) = Pin::new(h).poll(&mut cx)
            {
                r.handle = None;
                r.outcome = Some(outcome);
                self.in_session.remove(&r.tag);
            }
        }
    }

    fn unresolved(&self) -> usize {
        self.records.iter().filter(|r| r.handle.is_some()).count()
    }

    /// Decodes what the client wrote on each wire; `true` if it wrote.
    fn broker_reads(&mut self) -> bool {
        let opened: Vec<_> = self.net.lock().expect("net").opened.drain(..).collect();
        for wire in opened {
            self.conns.push(Conn {
                wire,
                decoder: Decoder::new(self.version).with_max_packet_size(1 << 20),
                packets: 0,
                connect_clean: None,
                connack_sent: false,
                clean: true,
                written: 0,
                from_client: 0,
                owed: Vec::new(),
                acks: Vec::new(),
                resent: HashSet::new(),
                must_resend: None,
            });
        }
        let mut wrote = false;
        for i in 0..self.conns.len() {
            let bytes = std::mem::take(&mut self.conns[i].wire.lock().expect("wire").outbound);
            if bytes.is_empty() {
                continue;
            }
            wrote = true;
            self.conns[i].from_client += bytes.len();
            self.conns[i].decoder.feed(&bytes);
            loop {
                let packet = match self.conns[i].decoder.decode() {
                    Ok(Some(p)) => p,
                    Ok(None) => break,
                    Err(e) => panic!("the client wrote an invalid packet: {e}"),
                };
                self.client_packet(i, packet);
            }
            self.check_written(i);
        }
        wrote
    }

    fn client_packet(&mut self, i: usize, packet: Packet) {
        let first = self.conns[i].packets == 0;
        self.conns[i].packets += 1;
        let conn = &mut self.conns[i];
        match packet {
            Packet::Connect(c) => {
                assert!(first, "CONNECT after another packet");
                assert_eq!(c.protocol, self.version);
                conn.connect_clean = Some(c.clean_start);
            }
            _ if first => panic!("a connection that does not start with CONNECT"),
            Packet::Publish(p) => {
                let (Some(id), Some(tag)) = (p.packet_id, tag_of(&p.payload)) else {
                    return;
                };
                if p.qos == QoS::AtMostOnce {
                    return;
                }
                conn.owed.push(if p.qos == QoS::AtLeastOnce {
                    Owed::PubAck(id)
                } else {
                    Owed::PubRec(id)
                });
                conn.resent.insert(tag);
                self.by_pid.insert(id.get(), tag);
                self.in_session.insert(tag, i);
            }
            Packet::PubRel(r) => {
                conn.owed.push(Owed::PubComp(r.packet_id));
                if let Some(&tag) = self.by_pid.get(&r.packet_id.get()) {
                    conn.resent.insert(tag);
                    if let Some(conn) = self.in_session.get_mut(&tag) {
                        *conn = i;
                    }
                }
            }
            Packet::PubRec(r) => conn.owed.push(Owed::PubRel(r.packet_id)),
            Packet::Subscribe(s) => conn.owed.push(Owed::SubAck(s.packet_id, s.filters.len())),
            Packet::Unsubscribe(u) => conn.owed.push(Owed::UnsubAck(u.packet_id, u.filters.len())),
            Packet::PubAck(_)
            | Packet::PubComp(_)
            | Packet::PingReq
            | Packet::Disconnect(_)
            | Packet::Auth(_) => {}
            other => panic!("the client sent a server's packet: {other:?}"),
        }
    }

    /// Bounded memory: what the client wrote on connection `i`.
    fn check_written(&self, i: usize) {
        let conn = &self.conns[i];
        let written = conn.from_client;
        let bound = 1024 + 2 * self.asked + 8 * conn.written + 2 * (self.steps + 1);
        assert!(
            written <= bound,
            "the client wrote {written} bytes on one connection, over {bound}"
        );
    }

    /// [MQTT-4.4.0-1]: after a CONNACK with Session Present the client
    /// sends again every unacknowledged PUBLISH and PUBREL. Checked once
    /// the client read the CONNACK, if the connection is still up and
    /// writable.
    fn check_resent(&mut self) {
        let Some(conn) = self.conns.last_mut() else {
            return;
        };
        let Some((tags, at)) = &conn.must_resend else {
            return;
        };
        let w = conn.wire.lock().expect("wire");
        if w.read < *at {
            return;
        }
        // The client read the CONNACK: it wrote its resends in that poll
        // unless the wire refused them or the connection ended.
        let up =
            !w.blocked && !w.failed && !w.closed && !w.eof && Arc::strong_count(&conn.wire) > 1;
        drop(w);
        if up && conn.clean {
            for tag in tags {
                let unresolved = self
                    .records
                    .iter()
                    .any(|r| r.tag == *tag && r.handle.is_some());
                assert!(
                    !unresolved || conn.resent.contains(tag),
                    "publish {tag} was not sent again after a CONNACK with Session Present"
                );
            }
        }
        conn.must_resend = None;
    }

    // ------------------------------------------------------ broker's side

    /// The live connection (the latest the connector opened) if the client
    /// still holds it.
    fn live(&mut self) -> Option<usize> {
        let i = self.conns.len().checked_sub(1)?;
        (Arc::strong_count(&self.conns[i].wire) > 1).then_some(i)
    }

    fn send_bytes(&mut self, bytes: &[u8]) {
        let Some(i) = self.live() else { return };
        let conn = &mut self.conns[i];
        conn.written += bytes.len();
        conn.wire
            .lock()
            .expect("wire")
            .inbound
            .extend_from_slice(bytes);
    }

    /// Sends `packet`; the inbound offset past it, or `None` if there is
    /// no connection or this version cannot encode it.
    fn send(&mut self, packet: impl Into<Packet>) -> Option<usize> {
        let i = self.live()?;
        let mut buf = BytesMut::new();
        packet.into().encode(self.version, &mut buf).ok()?;
        self.send_bytes(&buf);
        Some(self.conns[i].wire.lock().expect("wire").inbound.len())
    }

    fn connack(&mut self, arg: u8) {
        let Some(i) = self.live() else { return };
        if self.conns[i].connack_sent {
            // A second CONNACK is a protocol error: still worth sending.
            self.conns[i].clean = false;
        }
        let resume = self.conns[i].connect_clean == Some(false);
        let present = arg & 1 != 0 && resume;
        let reason = match arg >> 1 & 7 {
            6 => ConnectReason::NotAuthorized,
            7 => ConnectReason::ServerUnavailable,
            _ => ConnectReason::Success,
        };
        let Some(end) = self.send(ConnAck::new(present, reason)) else {
            return;
        };
        let conn = &mut self.conns[i];
        if reason != ConnectReason::Success {
            conn.clean = false;
        }
        if conn.connack_sent || !conn.clean || conn.connect_clean.is_none() {
            conn.connack_sent = true;
            return;
        }
        conn.connack_sent = true;
        if present {
            let earlier: Vec<u32> = self
                .in_session
                .iter()
                .filter(|&(_, &conn)| conn < i)
                .map(|(&t, _)| t)
                .collect();
            self.conns[i].must_resend = Some((earlier, end));
        } else {
            // The broker has no session: nothing is owed to it any more.
            self.in_session.clear();
        }
    }

    fn ack(&mut self, arg: u8) {
        let Some(i) = self.live() else { return };
        let owed = &mut self.conns[i].owed;
        if owed.is_empty() {
            return;
        }
        let owed = owed.remove(usize::from(arg) % owed.len());
        let ok = arg & 0x80 == 0 || !self.version.is_v5();
        let mut done = None;
        let end = match owed {
            Owed::PubAck(id) => {
                done = self.by_pid.get(&id.get()).copied();
                let reason = if ok {
                    PubAckReason::Success
                } else {
                    PubAckReason::UnspecifiedError
                };
                self.send(PubAck::with_reason(id, reason))
            }
            Owed::PubRec(id) => {
                let reason = if ok {
                    PubRecReason::Success
                } else {
                    PubRecReason::UnspecifiedError
                };
                self.send(PubRec::with_reason(id, reason))
            }
            Owed::PubComp(id) => {
                done = self.by_pid.get(&id.get()).copied();
                let reason = if ok {
                    PubCompReason::Success
                } else {
                    PubCompReason::PacketIdentifierNotFound
                };
                self.send(PubComp::with_reason(id, reason))
            }
            Owed::PubRel(id) => self.send(PubRel::new(id)),
            Owed::SubAck(id, n) => {
                let reason = if ok {
                    [
                        SubAckReason::GrantedQoS0,
                        SubAckReason::GrantedQoS1,
                        SubAckReason::GrantedQoS2,
                    ][usize::from(arg >> 4 & 3) % 3]
                } else {
                    SubAckReason::UnspecifiedError
                };
                self.send(SubAck {
                    packet_id: id,
                    reasons: vec![reason; n],
                    properties: Default::default(),
                })
            }
            Owed::UnsubAck(id, n) => self.send(UnsubAck {
                packet_id: id,
                reasons: if self.version.is_v5() {
                    vec![UnsubAckReason::Success; n]
                } else {
                    vec![]
                },
                properties: Default::default(),
            }),
        };
        let conn = &mut self.conns[i];
        if let (Some(tag), Some(end), true, true, true) =
            (done, end, ok, conn.clean, conn.connack_sent)
        {
            conn.acks.push((tag, end));
        }
    }

    fn publish_to_client(&mut self, input: &mut Input<'_>) -> Option<()> {
        let arg = input.u8()?;
        let len = input.u8()? % 32;
        let topic = TopicName::try_from(TOPICS[usize::from(arg >> 2) % TOPICS.len()]).ok()?;
        let payload = Bytes::copy_from_slice(input.bytes(usize::from(len)));
        let mut p = match arg & 3 {
            0 | 3 => Publish::at_most_once(topic, payload),
            q => {
                self.broker_pid = self.broker_pid % 1000 + 1;
                let qos = if q == 1 {
                    QoS::AtLeastOnce
                } else {
                    QoS::ExactlyOnce
                };
                Publish::with_qos(topic, payload, qos, pid(self.broker_pid))
            }
        };
        p.retain = arg & 0x40 != 0;
        self.send(p);
        Some(())
    }

    /// The acknowledgements the client read on connection `i`: their
    /// publishes count as acknowledged.
    fn settle_acks(&mut self, i: usize) {
        let read = self.conns[i].wire.lock().expect("wire").read;
        let conn = &mut self.conns[i];
        if !conn.clean {
            conn.acks.clear();
            return;
        }
        conn.acks.retain(|&(tag, end)| {
            if end <= read {
                self.acked.insert(tag);
                false
            } else {
                true
            }
        });
    }

    /// Marks the live connection as no longer clean (raw bytes, a
    /// DISCONNECT): acknowledgements read before stay good.
    fn taint(&mut self) {
        if let Some(i) = self.live() {
            self.settle_acks(i);
            self.conns[i].clean = false;
        }
    }

    fn end_wire(&mut self, fail: bool) {
        if let Some(i) = self.live() {
            self.settle_acks(i);
            self.conns[i].clean = false;
            let mut w = self.conns[i].wire.lock().expect("wire");
            if fail {
                w.failed = true;
            } else {
                w.eof = true;
            }
        }
    }

    // ------------------------------------------------- application's side

    fn try_publish(&mut self, input: &mut Input<'_>) -> Option<()> {
        let arg = input.u8()?;
        let Some(client) = self.client() else {
            return Some(());
        };
        let qos = match arg & 3 {
            0 | 3 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            _ => QoS::ExactlyOnce,
        };
        let topic = TOPICS[usize::from(arg >> 2) % TOPICS.len()];
        let tag = self.next_tag;
        self.next_tag += 1;
        let mut payload = tag.to_be_bytes().to_vec();
        payload.extend_from_slice(input.bytes(usize::from(arg >> 4)));
        self.asked += topic.len() + payload.len() + 16;
        let before = self.unresolved();
        match client.try_publish(topic, payload, qos, arg & 0x40 != 0) {
            Ok(handle) => {
                assert!(
                    before < self.max_queued,
                    "try_publish handed over a publish past max_queued"
                );
                self.records.push(Record {
                    tag,
                    handle: Some(handle),
                    outcome: None,
                });
            }
            Err(ClientError::Publish(PublishError::QueueFull(max))) => {
                assert_eq!(max, self.max_queued);
                assert_eq!(before, self.max_queued, "QueueFull below the bound");
            }
            Err(ClientError::Closed) => {}
            Err(e) => panic!("try_publish failed: {e}"),
        }
        Some(())
    }

    fn call(&mut self, arg: u8, kind: u8) {
        let Some(client) = self.client() else { return };
        let filter = FILTERS[usize::from(arg) % FILTERS.len()];
        let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][usize::from(arg >> 2) % 3];
        self.asked += filter.len() + 16;
        let task: LocalTask = match kind {
            0 => Box::pin(async move {
                let _ = client.subscribe(&[(filter, qos)]).await;
            }),
            1 => Box::pin(async move {
                let _ = client.unsubscribe(&[filter]).await;
            }),
            2 => Box::pin(async move {
                let _ = client.ping().await;
            }),
            3 => Box::pin(async move {
                client.disconnect().await;
            }),
            _ => Box::pin(async move {
                let _ = client.reconnect().await;
            }),
        };
        self.tasks.push(task);
    }

    /// Takes one delivered message if one is there (never waits).
    fn take_message(&mut self) {
        let Some(client) = self.client() else { return };
        let mut cx = Context::from_waker(Waker::noop());
        let mut next = std::pin::pin!(client.deliver_message());
        let _ = next.as_mut().poll(&mut cx);
    }

    // ---------------------------------------------------------------- run

    fn op(&mut self, op: u8, input: &mut Input<'_>) -> Option<()> {
        match op % OPS {
            0 | 1 => self.connack(input.u8()?),
            2 => {
                let n = usize::from(input.u8()? % 48);
                let raw = input.bytes(n);
                self.taint();
                self.send_bytes(raw);
            }
            3..=5 => self.ack(input.u8()?),
            6 => self.publish_to_client(input)?,
            7 => {
                self.send(Packet::PingResp);
            }
            8 => {
                let reason = if input.u8()? & 1 != 0 {
                    DisconnectReason::ServerBusy
                } else {
                    DisconnectReason::NormalDisconnection
                };
                self.taint();
                self.send(Disconnect::new(reason));
            }
            9..=11 => self.try_publish(input)?,
            12 => {
                let arg = input.u8()?;
                self.call(arg, arg >> 7);
            }
            13 => {
                let arg = input.u8()?;
                self.call(arg, 2 + arg % 3);
            }
            14 => self.take_message(),
            15 => self.end_wire(false),
            16 => self.end_wire(true),
            17 => {
                let n = input.u8()?;
                self.net.lock().expect("net").refuse = n % 4;
            }
            18 => {
                if let Some(i) = self.live() {
                    let mut w = self.conns[i].wire.lock().expect("wire");
                    w.blocked = !w.blocked;
                }
            }
            _ => {
                // Up to 25.5 s, in steps of 100 ms: past every timer.
                let n = input.u8()?;
                self.steps += 1;
                self.runtime
                    .clock
                    .advance(Duration::from_millis(100 * u64::from(n)));
            }
        }
        Some(())
    }

    /// The end: `disconnect`, then every handle and call dropped; the
    /// driver must finish and every publish resolve. The outcomes, in the
    /// order of the calls.
    fn finish(mut self) -> Vec<Result<PublishDone, ClientError>> {
        for i in 0..self.conns.len() {
            self.settle_acks(i);
        }
        if let Some(i) = self.live() {
            self.conns[i].wire.lock().expect("wire").blocked = false;
        }
        self.call(0, 3);
        self.settle();
        for i in 0..self.conns.len() {
            self.settle_acks(i);
        }
        // Cancel the calls still waiting (their client handles go with
        // them), then drop the last handle: the driver stops.
        self.tasks.retain(|_| false);
        self.client.borrow_mut().take();
        self.settle();
        assert!(
            self.tasks.is_empty() && self.runtime.spawned.lock().expect("spawn").is_empty(),
            "the driver task did not finish once every client handle was dropped"
        );
        for r in &self.records {
            match &r.outcome {
                None => panic!("publish {} never resolved: lost", r.tag),
                Some(Ok(_)) => {}
                Some(Err(e)) => assert!(
                    !self.acked.contains(&r.tag),
                    "publish {} was acknowledged by the broker but failed: {e}",
                    r.tag
                ),
            }
        }
        self.records.into_iter().filter_map(|r| r.outcome).collect()
    }
}

/// Runs the client against the input (see the module documentation).
pub fn check_driver(data: &[u8]) {
    let _ = run(data);
}

/// [`check_driver`], returning the outcome of each publish handed over
/// (`None`: the first connection failed), for the tests.
fn run(data: &[u8]) -> Option<Vec<Result<PublishDone, ClientError>>> {
    fastrand::seed(0x5eed);
    let mut input = Input { data };
    let (Some(flags), Some(bounds)) = (input.u8(), input.u8()) else {
        return None;
    };
    let mut sim = Sim::new(flags, bounds);
    sim.settle();
    while let Some(op) = input.u8() {
        if sim.op(op, &mut input).is_none() {
            break;
        }
        sim.settle();
        if matches!(&*sim.client.borrow(), Some(Err(_))) {
            // The first connection failed: nothing was handed over.
            assert!(sim.records.is_empty());
            return None;
        }
    }
    Some(sim.finish())
}

/// Operation bytes of the seed inputs and the tests.
pub mod op {
    /// CONNACK; argument: bit 0 Session Present (if the CONNECT resumes),
    /// bits 1-3: 6 Not Authorized, 7 Server Unavailable, else Success.
    pub const CONNACK: u8 = 0;
    /// Raw bytes; argument: the length (modulo 48), then the bytes.
    pub const RAW: u8 = 2;
    /// Acknowledges one thing the client sent; argument: which (modulo
    /// what is owed), bit 7 a failure reason (MQTT 5), bits 4-5 the QoS
    /// granted by a SUBACK.
    pub const ACK: u8 = 3;
    /// PUBLISH to the client; arguments: bits 0-1 QoS, bits 2-3 topic,
    /// bit 6 retain; then the payload length (modulo 32) and the payload.
    pub const PUBLISH_IN: u8 = 6;
    /// PINGRESP.
    pub const PINGRESP: u8 = 7;
    /// DISCONNECT from the broker; argument: bit 0 Server Busy.
    pub const DISCONNECT_IN: u8 = 8;
    /// `try_publish`; argument: bits 0-1 QoS, bits 2-3 topic, bits 4-7
    /// extra payload bytes (read from the input after the tag).
    pub const PUBLISH: u8 = 9;
    /// `subscribe` (bit 7 clear) or `unsubscribe` (set); argument: bits
    /// 0-1 filter, bits 2-3 QoS.
    pub const SUBSCRIBE: u8 = 12;
    /// `ping` (argument % 3 == 0), `disconnect` (1) or `reconnect` (2).
    pub const CALL: u8 = 13;
    /// Takes one delivered message, if one is there.
    pub const TAKE: u8 = 14;
    /// The connection ends: EOF.
    pub const EOF: u8 = 15;
    /// The connection fails: read and write errors.
    pub const FAIL: u8 = 16;
    /// The connector refuses the next attempts; argument: how many (% 4).
    pub const REFUSE: u8 = 17;
    /// The transport refuses writes, or accepts them again.
    pub const BLOCK: u8 = 18;
    /// The clock advances; argument: by that many 100 ms.
    pub const TIME: u8 = 19;
}

#[cfg(test)]
mod tests {
    use super::op::*;
    use super::*;

    #[test]
    fn publishes_acknowledged_by_the_broker_complete() {
        // MQTT 3.1.1, clean session, max_inflight 2; QoS 1 and QoS 2
        // acknowledged, a QoS 0 written.
        let input = [
            0x20, 0x0f, CONNACK, 0, PUBLISH, 1, ACK, 0, PUBLISH, 2, ACK, 0, ACK, 0, PUBLISH, 0,
        ];
        let outcomes = run(&input).expect("connected");
        let qos: Vec<_> = outcomes.iter().map(|o| o.as_ref().unwrap().qos).collect();
        assert_eq!(qos, [QoS::AtLeastOnce, QoS::ExactlyOnce, QoS::AtMostOnce]);
    }

    #[test]
    fn unacknowledged_publishes_fail_typed_at_the_end() {
        let input = [0x20, 0x0f, CONNACK, 0, PUBLISH, 1, PUBLISH, 2];
        let outcomes = run(&input).expect("connected");
        assert_eq!(outcomes.len(), 2);
        assert!(outcomes.iter().all(Result::is_err), "{outcomes:?}");
    }

    #[test]
    fn a_resumed_session_resends_and_completes() {
        // MQTT 5, persistent session: QoS 1 and 2 written, the connection
        // drops, the client reconnects after its backoff (at most 2 s),
        // the broker resumes the session and acknowledges the resends.
        let input = [
            0x23, 0x3f, CONNACK, 0, PUBLISH, 1, PUBLISH, 2, EOF, TIME, 30, CONNACK, 1, ACK, 0, ACK,
            0, ACK, 0,
        ];
        let outcomes = run(&input).expect("connected");
        assert_eq!(outcomes.len(), 2);
        assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    }

    #[test]
    fn try_publish_stops_at_max_queued() {
        // max_queued 2: the third try_publish fails with QueueFull.
        let input = [0x00, 0x01, CONNACK, 0, PUBLISH, 1, PUBLISH, 1, PUBLISH, 1];
        let outcomes = run(&input).expect("connected");
        assert_eq!(outcomes.len(), 2);
    }

    #[test]
    fn the_first_connection_can_fail() {
        // Refused by the broker, not retried.
        assert!(run(&[0x00, 0x80, CONNACK, 12]).is_none());
    }
}
