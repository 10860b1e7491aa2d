//! Floods (issue #16): a broker that sends PUBLISHes as fast as the socket
//! takes them to a client whose application reads one message every
//! 10 ms, and the client process's memory meanwhile.
//!
//! - [`FloodBroker`]: the scripted broker, on 127.0.0.1. It answers
//!   CONNECT (3.1.1 or 5.0) and SUBSCRIBE, then writes numbered PUBLISHes
//!   on `flood/n` without pause: QoS 0; QoS 1 with fresh packet
//!   identifiers, one reused only after its PUBACK; QoS 2 likewise, PUBREC
//!   answered with PUBREL, the identifier free again at PUBCOMP. In 5.0 it
//!   keeps within the client's Receive Maximum, as a broker must, unless
//!   told to ignore it. It answers PINGREQ (behind the flood, as any broker
//!   whose socket is full does) and counts what it sent and got back.
//! - `flood-client` ([`client`]): the process measured. sansmqtt on tokio
//!   (or rumqttc, its event loop polled once per consumed message)
//!   subscribes to `flood/#` and takes one message per `--every-ms` for
//!   `--secs`, then prints what it received, what the client dropped
//!   (sansmqtt's `Stats::qos0_dropped`) and its own peak memory (VmHWM).
//! - [`Flood::run`]: one run; samples the client's resident memory every
//!   100 ms. [`row`] prints it as a Markdown table row; `flood --suite`
//!   runs the matrix of docs/reliability.md.
//!
//! Every payload starts with its message's number (8 bytes, big-endian,
//! from 1), so the client can tell a message skipped (dropped) or seen
//! twice.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::num::NonZeroU16;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use sansmqtt_proto::{Packet, ProtocolVersion, decode_packet};

use crate::exchange::{log_dir, rss_kib};
use crate::flags::Flags;
use crate::support;

/// The client measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloodClient {
    /// sansmqtt on tokio.
    Sansmqtt,
    /// rumqttc 0.25 (MQTT 3.1.1 only here).
    Rumqttc,
}

impl FloodClient {
    /// The name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FloodClient::Sansmqtt => "sansmqtt",
            FloodClient::Rumqttc => "rumqttc",
        }
    }

    fn parse(s: &str) -> Option<FloodClient> {
        [FloodClient::Sansmqtt, FloodClient::Rumqttc]
            .into_iter()
            .find(|c| c.name() == s)
    }
}

/// The parameters of one run.
#[derive(Debug, Clone)]
pub struct Flood {
    /// The client measured.
    pub client: FloodClient,
    /// MQTT protocol level: 4 (3.1.1) or 5.
    pub version: u8,
    /// QoS of the subscription and of every PUBLISH.
    pub qos: u8,
    /// sansmqtt's `qos0_overflow = "drop"` (else `"wait"`, the default).
    pub drop: bool,
    /// Payload size in bytes (at least 8: the message's number).
    pub payload: usize,
    /// How long the application consumes.
    pub duration: Duration,
    /// The application's pace: one message per `every`.
    pub every: Duration,
    /// MQTT 5: the client's Receive Maximum (`None`: not sent, 65,535).
    pub receive_maximum: Option<u16>,
    /// MQTT 5: the broker sends past the client's Receive Maximum.
    pub ignore_receive_maximum: bool,
    /// sansmqtt's keep-alive in seconds (`None`: the default, 10 s).
    pub keep_alive: Option<u16>,
}

impl Flood {
    /// sansmqtt, 3.1.1, `qos`, 64-byte payloads, one message per 10 ms for
    /// `duration`.
    pub fn new(qos: u8, duration: Duration) -> Flood {
        Flood {
            client: FloodClient::Sansmqtt,
            version: 4,
            qos,
            drop: false,
            payload: 64,
            duration,
            every: Duration::from_millis(10),
            receive_maximum: None,
            ignore_receive_maximum: false,
            keep_alive: None,
        }
    }
}

/// What the broker counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerCounts {
    /// PUBLISHes written to the socket.
    pub sent: u64,
    /// Their bytes.
    pub sent_bytes: u64,
    /// PUBACKs (QoS 1) or PUBCOMPs (QoS 2) for a PUBLISH in flight.
    pub acks: u64,
    /// PUBRECs (QoS 2).
    pub pubrecs: u64,
    /// QoS 1/2 PUBLISHes not yet acknowledged (QoS 2: not yet completed).
    pub in_flight: u64,
    /// The most there ever were.
    pub max_in_flight: u64,
    /// Connections accepted (1: the connection stayed up).
    pub connections: u32,
    /// PINGREQs answered.
    pub pings: u64,
    /// Packets that made no sense here (an ack for no PUBLISH in flight,
    /// an unexpected type).
    pub unexpected: u64,
    /// The reason code of the client's last DISCONNECT (0 in 3.1.1).
    pub disconnect: Option<u8>,
    /// The Receive Maximum the client announced (5.0).
    pub receive_maximum: Option<u16>,
}

/// The broker's state, shared by its threads.
struct State {
    counts: BrokerCounts,
    /// Per packet identifier: 0 free, 1 sent (awaiting PUBACK / PUBREC),
    /// 2 released (awaiting PUBCOMP).
    ids: Vec<u8>,
    /// The next identifier tried.
    cursor: u16,
    /// QoS 1/2 PUBLISHes allowed in flight at once.
    limit: u64,
    /// Control packets to write before the next PUBLISH: PINGRESP, PUBREL.
    owed: Vec<u8>,
    /// The number of the next message.
    next: u64,
    /// The current connection (a newer one supersedes it).
    generation: u64,
    stream: Option<TcpStream>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    stop: AtomicBool,
    qos: u8,
    payload: usize,
    ignore_receive_maximum: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The flooding broker on a free 127.0.0.1 port; stopped when dropped.
pub struct FloodBroker {
    port: u16,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FloodBroker {
    /// Listens; each connection is served as described in the module docs
    /// (a new one supersedes the previous, as a broker does for a client
    /// identifier that reconnects).
    pub fn start(qos: u8, payload: usize, ignore_receive_maximum: bool) -> io::Result<FloodBroker> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                counts: BrokerCounts::default(),
                ids: vec![0; 65_536],
                cursor: 1,
                limit: 65_535,
                owed: Vec::new(),
                next: 1,
                generation: 0,
                stream: None,
            }),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            qos,
            payload: payload.max(8),
            ignore_receive_maximum,
        });
        let s = shared.clone();
        let accept = thread::spawn(move || {
            while !s.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let s = s.clone();
                        thread::spawn(move || {
                            let _ = serve(&s, stream);
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(FloodBroker {
            port,
            shared,
            accept: Some(accept),
        })
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What the broker counted so far.
    pub fn counts(&self) -> BrokerCounts {
        self.shared.lock().counts.clone()
    }
}

impl Drop for FloodBroker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(s) = self.shared.lock().stream.take() {
            let _ = s.shutdown(Shutdown::Both);
        }
        self.shared.wake.notify_all();
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// Reads one whole packet, keeping what follows it in `pending`.
fn read_packet(stream: &mut TcpStream, pending: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(len) = support::packet_len(pending)?
            && pending.len() >= len
        {
            return Ok(pending.drain(..len).collect());
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        pending.extend_from_slice(&chunk[..n]);
    }
}

/// The body of a whole packet (after its fixed header).
fn body(packet: &[u8]) -> &[u8] {
    let rl = support::remaining_length(packet).unwrap_or(0);
    &packet[packet.len() - rl..]
}

/// Appends PUBLISH number `n` on `flood/n`.
fn encode_publish(out: &mut Vec<u8>, v5: bool, qos: u8, id: u16, n: u64, payload: usize) {
    const TOPIC: &[u8] = b"flood/n";
    let id_len = if qos > 0 { 2 } else { 0 };
    let remaining = 2 + TOPIC.len() + id_len + usize::from(v5) + payload;
    out.push(0x30 | (qos << 1));
    support::put_remaining_length(out, remaining);
    out.extend_from_slice(&(TOPIC.len() as u16).to_be_bytes());
    out.extend_from_slice(TOPIC);
    if qos > 0 {
        out.extend_from_slice(&id.to_be_bytes());
    }
    if v5 {
        out.push(0); // no properties
    }
    out.extend_from_slice(&n.to_be_bytes());
    out.resize(out.len() + payload - 8, b'x');
}

/// One connection: CONNECT / CONNACK, SUBSCRIBE / SUBACK, then the flood
/// (this thread) and the acks (a reader thread).
fn serve(shared: &Arc<Shared>, mut stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut pending = Vec::new();
    let connect = read_packet(&mut stream, &mut pending)?;
    // A CONNECT carries its own protocol level: the version given here
    // is not used for it.
    let Ok(Some(Packet::Connect(connect))) = decode_packet(
        &mut BytesMut::from(&connect[..]),
        ProtocolVersion::V3_1_1,
        u32::MAX,
    ) else {
        return Err(io::ErrorKind::InvalidData.into());
    };
    let v5 = connect.protocol == ProtocolVersion::V5;
    let client_max = connect.properties.receive_maximum.map(NonZeroU16::get);
    stream.write_all(if v5 {
        &[0x20, 0x03, 0x00, 0x00, 0x00]
    } else {
        &support::CONNACK_ACCEPTED
    })?;
    let subscribe = read_packet(&mut stream, &mut pending)?;
    if subscribe[0] != 0x82 {
        return Err(io::ErrorKind::InvalidData.into());
    }
    let sid = u16::from_be_bytes([body(&subscribe)[0], body(&subscribe)[1]]);
    let suback = if v5 {
        let [hi, lo] = sid.to_be_bytes();
        vec![0x90, 0x04, hi, lo, 0x00, shared.qos]
    } else {
        support::suback(sid, &[shared.qos])
    };
    stream.write_all(&suback)?;
    stream.set_read_timeout(None)?;

    // This connection supersedes the previous one (a clean session: what
    // was in flight there is forgotten).
    let generation = {
        let mut st = shared.lock();
        if let Some(old) = st.stream.replace(stream.try_clone()?) {
            let _ = old.shutdown(Shutdown::Both);
        }
        st.generation += 1;
        st.counts.connections += 1;
        st.counts.in_flight = 0;
        st.counts.receive_maximum = client_max;
        st.ids.iter_mut().for_each(|s| *s = 0);
        st.owed.clear();
        st.limit = match client_max {
            Some(m) if !shared.ignore_receive_maximum => u64::from(m),
            _ => 65_535,
        };
        st.generation
    };
    shared.wake.notify_all();
    let reader = {
        let shared = shared.clone();
        let stream = stream.try_clone()?;
        thread::spawn(move || read_acks(&shared, stream, pending, generation))
    };
    let result = flood(shared, &mut stream, v5, generation);
    let _ = stream.shutdown(Shutdown::Both);
    let _ = reader.join();
    result
}

/// Writes PUBLISHes in batches of about 32 KiB, as fast as the socket
/// takes them; QoS 1/2 only while an identifier is free within the limit.
fn flood(shared: &Shared, stream: &mut TcpStream, v5: bool, generation: u64) -> io::Result<()> {
    let (qos, payload) = (shared.qos, shared.payload);
    let mut buf = Vec::with_capacity(40 * 1024);
    loop {
        buf.clear();
        let mut publishes = 0u64;
        {
            let mut st = shared.lock();
            loop {
                if shared.stop.load(Ordering::SeqCst) || st.generation != generation {
                    return Ok(());
                }
                let s = &mut *st;
                buf.append(&mut s.owed);
                while buf.len() < 32 * 1024 {
                    let id = if qos == 0 {
                        0
                    } else if s.counts.in_flight >= s.limit {
                        break;
                    } else {
                        while s.ids[usize::from(s.cursor)] != 0 {
                            s.cursor = s.cursor.checked_add(1).unwrap_or(1);
                        }
                        let id = s.cursor;
                        s.ids[usize::from(id)] = 1;
                        s.cursor = s.cursor.checked_add(1).unwrap_or(1);
                        s.counts.in_flight += 1;
                        id
                    };
                    encode_publish(&mut buf, v5, qos, id, s.next, payload);
                    s.next += 1;
                    publishes += 1;
                }
                let c = &mut s.counts;
                c.max_in_flight = c.max_in_flight.max(c.in_flight);
                if !buf.is_empty() {
                    break;
                }
                st = shared
                    .wake
                    .wait_timeout(st, Duration::from_millis(100))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        stream.write_all(&buf)?;
        let mut st = shared.lock();
        st.counts.sent += publishes;
        st.counts.sent_bytes += buf.len() as u64;
    }
}

/// Reads the client's packets: acks free identifiers (PUBREC owes a
/// PUBREL), PINGREQ owes a PINGRESP, DISCONNECT is noted.
fn read_acks(shared: &Shared, mut stream: TcpStream, mut pending: Vec<u8>, generation: u64) {
    while let Ok(p) = read_packet(&mut stream, &mut pending) {
        let mut st = shared.lock();
        if st.generation != generation {
            return;
        }
        let id = support::packet_id(&p).map_or(0, usize::from);
        let st = &mut *st;
        match (p[0], st.ids[id], shared.qos) {
            (0x40, 1, 1) | (0x70, 2, 2) if id != 0 => {
                st.ids[id] = 0;
                st.counts.in_flight -= 1;
                st.counts.acks += 1;
            }
            (0x50, 1, 2) if id != 0 => {
                st.ids[id] = 2;
                st.counts.pubrecs += 1;
                st.owed.extend_from_slice(&support::ack(0x62, id as u16));
            }
            (0xc0, ..) => {
                st.counts.pings += 1;
                st.owed.extend_from_slice(&support::PINGRESP);
            }
            (0xe0, ..) => st.counts.disconnect = Some(body(&p).first().copied().unwrap_or(0)),
            _ => st.counts.unexpected += 1,
        }
        shared.wake.notify_all();
    }
}

/// Resident memory sampled over a run.
#[derive(Debug, Clone, Default)]
pub struct RssTrace {
    /// (time since the client started, VmRSS in KiB), every 100 ms.
    pub samples: Vec<(Duration, u64)>,
}

impl RssTrace {
    /// The first sample at or after `at` (else the last one), KiB.
    pub fn at(&self, at: Duration) -> u64 {
        self.samples
            .iter()
            .find(|(t, _)| *t >= at)
            .or(self.samples.last())
            .map_or(0, |s| s.1)
    }

    /// The highest sample, KiB.
    pub fn peak(&self) -> u64 {
        self.samples.iter().map(|s| s.1).max().unwrap_or(0)
    }

    /// The last sample while the application still consumed, KiB.
    pub fn end(&self) -> u64 {
        self.samples.last().map_or(0, |s| s.1)
    }
}

/// What the client process reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientReport {
    /// Messages the application took.
    pub received: u64,
    /// QoS 0 copies sansmqtt dropped for the full stream (its counter).
    pub dropped: u64,
    /// Messages whose number was not above every number before it (seen
    /// twice, or out of order).
    pub repeats: u64,
    /// The highest number taken.
    pub last: u64,
    /// Connection errors the client reported (rumqttc) or connections
    /// lost (sansmqtt's state changes).
    pub errors: u64,
    /// The client process's peak resident memory (VmHWM), KiB.
    pub vmhwm_kib: u64,
}

impl ClientReport {
    fn parse(line: &str) -> Option<ClientReport> {
        let mut r = ClientReport::default();
        for kv in line.split_whitespace() {
            let (k, v) = kv.split_once('=')?;
            let v: u64 = v.parse().ok()?;
            match k {
                "received" => r.received = v,
                "dropped" => r.dropped = v,
                "repeats" => r.repeats = v,
                "last" => r.last = v,
                "errors" => r.errors = v,
                "vmhwm_kib" => r.vmhwm_kib = v,
                _ => {}
            }
        }
        Some(r)
    }

    fn line(&self) -> String {
        format!(
            "received={} dropped={} repeats={} last={} errors={} vmhwm_kib={}",
            self.received, self.dropped, self.repeats, self.last, self.errors, self.vmhwm_kib
        )
    }
}

/// The outcome of [`Flood::run`].
#[derive(Debug, Clone)]
pub struct FloodOutcome {
    /// The broker's counts when the application stopped consuming.
    pub broker: BrokerCounts,
    /// What the client process reported.
    pub client: ClientReport,
    /// Its resident memory over the run.
    pub rss: RssTrace,
}

/// A process the run started, killed (by its own PID) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Flood {
    fn tag(&self) -> String {
        format!(
            "flood-{}-v{}-q{}{}-{}b",
            self.client.name(),
            self.version,
            self.qos,
            if self.drop { "-drop" } else { "" },
            self.payload
        )
    }

    /// The `flood-client` command line of this run.
    fn client_args(&self, port: u16) -> Vec<String> {
        let mut v = vec![
            "flood-client".to_owned(),
            "--client".into(),
            self.client.name().into(),
            "--port".into(),
            port.to_string(),
            "--qos".into(),
            self.qos.to_string(),
            "--overflow".into(),
            if self.drop { "drop" } else { "wait" }.into(),
            "--version".into(),
            self.version.to_string(),
            "--secs".into(),
            self.duration.as_secs_f64().to_string(),
            "--every-ms".into(),
            self.every.as_millis().to_string(),
        ];
        if let Some(m) = self.receive_maximum {
            v.extend(["--receive-maximum".into(), m.to_string()]);
        }
        if let Some(k) = self.keep_alive {
            v.extend(["--keep-alive".into(), k.to_string()]);
        }
        v
    }

    /// Runs the flood: the broker here, `faults` (this crate's binary) as
    /// the client process; samples its memory until it exits.
    pub fn run(&self, faults: &Path) -> Result<FloodOutcome, String> {
        let broker = FloodBroker::start(self.qos, self.payload, self.ignore_receive_maximum)
            .map_err(|e| format!("flood broker: {e}"))?;
        let stderr = std::fs::File::create(log_dir(&self.tag()).join("client.stderr"))
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        let mut child = Proc(
            Command::new(faults)
                .args(self.client_args(broker.port()))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(stderr)
                .spawn()
                .map_err(|e| format!("flood-client: {e}"))?,
        );
        let out = child.0.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = started + self.duration + Duration::from_secs(30);
        let mut rss = RssTrace::default();
        let pid = child.0.id();
        let report = loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    if let Some(r) = ClientReport::parse(&line) {
                        break r;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(format!("{}: the client ended without a report", self.tag()));
                }
            }
            let kib = rss_kib(pid);
            if kib > 0 {
                rss.samples.push((started.elapsed(), kib));
            }
            if Instant::now() > deadline {
                return Err(format!("{}: no report within the deadline", self.tag()));
            }
        };
        // The acks of what was consumed reach the broker (the client stays
        // connected a moment after its report).
        thread::sleep(Duration::from_millis(200));
        let counts = broker.counts();
        let _ = child.0.wait();
        Ok(FloodOutcome {
            broker: counts,
            client: report,
            rss,
        })
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// The header of [`row`].
pub fn header() -> &'static str {
    "| client | MQTT | QoS | QoS 0 overflow | payload (B) | time (s) | broker sent: messages (MiB) | acks (PUBREC) | in flight at the end (max) | delivered | dropped (counted) | repeats | connections | RSS at 1 s / 5 s / end / peak (MiB) | VmHWM (MiB) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
}

/// One run as a Markdown table row.
pub fn row(f: &Flood, o: &FloodOutcome) -> String {
    let b = &o.broker;
    let c = &o.client;
    let overflow = match (f.client, f.qos, f.drop) {
        (FloodClient::Rumqttc, ..) | (_, 1 | 2, _) => "-",
        (_, _, true) => "drop",
        (_, _, false) => "wait",
    };
    let version = match (f.version, f.receive_maximum, f.ignore_receive_maximum) {
        (5, Some(m), true) => format!("5.0, RM {m} ignored"),
        (5, Some(m), false) => format!("5.0, RM {m}"),
        (5, None, _) => "5.0".into(),
        _ => "3.1.1".into(),
    };
    let dropped = match f.client {
        FloodClient::Sansmqtt => c.dropped.to_string(),
        FloodClient::Rumqttc => "-".into(),
    };
    format!(
        "| {} | {} | {} | {} | {} | {:.0} | {} ({:.0}) | {} ({}) | {} ({}) | {} | {} | {} | {} | {} / {} / {} / {} | {} |",
        f.client.name(),
        version,
        f.qos,
        overflow,
        f.payload,
        f.duration.as_secs_f64(),
        b.sent,
        b.sent_bytes as f64 / (1024.0 * 1024.0),
        b.acks,
        b.pubrecs,
        b.in_flight,
        b.max_in_flight,
        c.received,
        dropped,
        c.repeats,
        b.connections,
        mib(o.rss.at(Duration::from_secs(1))),
        mib(o.rss.at(Duration::from_secs(5))),
        mib(o.rss.end()),
        mib(o.rss.peak()),
        mib(c.vmhwm_kib),
    )
}

/// `--key value` pairs, as the other commands take them.
/// The runs of docs/reliability.md, each `secs` long.
pub fn suite(secs: f64) -> Vec<Flood> {
    let d = Duration::from_secs_f64(secs);
    let with = |qos: u8, f: &dyn Fn(&mut Flood)| {
        let mut r = Flood::new(qos, d);
        f(&mut r);
        r
    };
    vec![
        with(0, &|_| {}),
        with(0, &|r| r.payload = 4096),
        with(0, &|r| r.drop = true),
        with(0, &|r| {
            r.drop = true;
            r.payload = 4096;
        }),
        with(1, &|_| {}),
        with(1, &|r| r.payload = 4096),
        with(2, &|_| {}),
        with(2, &|r| r.payload = 4096),
        with(1, &|r| r.version = 5),
        with(1, &|r| {
            r.version = 5;
            r.receive_maximum = Some(100);
        }),
        with(1, &|r| {
            r.version = 5;
            r.receive_maximum = Some(100);
            r.ignore_receive_maximum = true;
        }),
        with(0, &|r| r.client = FloodClient::Rumqttc),
        with(0, &|r| {
            r.client = FloodClient::Rumqttc;
            r.payload = 4096;
        }),
        with(1, &|r| r.client = FloodClient::Rumqttc),
        with(1, &|r| {
            r.client = FloodClient::Rumqttc;
            r.payload = 4096;
        }),
    ]
}

/// `sansmqtt-faults flood`: one run (`--client --qos --overflow --payload
/// --secs --every-ms --version --receive-maximum --ignore-receive-maximum`)
/// or, with `--suite`, every run of [`suite`]; prints Markdown rows.
pub fn command(args: &[String]) -> Result<(), String> {
    let map = Flags::parse(args, &["suite", "ignore-receive-maximum"])?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let secs: f64 = map.get("secs", 60.0)?;
    let runs = if map.has("suite") {
        suite(secs)
    } else {
        let name = map.str("client").unwrap_or("sansmqtt");
        vec![Flood {
            client: FloodClient::parse(name).ok_or(format!("--client {name}"))?,
            version: map.get("version", 4)?,
            qos: map.get("qos", 0)?,
            drop: match map.str("overflow").unwrap_or("wait") {
                "wait" => false,
                "drop" => true,
                o => return Err(format!("--overflow {o}")),
            },
            payload: map.get("payload", 64usize)?.max(8),
            duration: Duration::from_secs_f64(secs),
            every: Duration::from_millis(map.get("every-ms", 10)?),
            receive_maximum: map.opt("receive-maximum")?,
            ignore_receive_maximum: map.has("ignore-receive-maximum"),
            keep_alive: map.opt("keep-alive")?,
        }]
    };
    println!("{}", header());
    for f in runs {
        println!("{}", row(&f, &f.run(&exe)?));
    }
    Ok(())
}

/// The process's peak resident memory (VmHWM), KiB.
fn vmhwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The message's number: the payload's first 8 bytes.
fn number(payload: &[u8]) -> u64 {
    payload
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

/// What the application took, message by message.
#[derive(Default)]
struct Taken {
    received: u64,
    repeats: u64,
    last: u64,
}

impl Taken {
    fn take(&mut self, payload: &[u8]) {
        let n = number(payload);
        self.received += 1;
        if n <= self.last {
            self.repeats += 1;
        } else {
            self.last = n;
        }
    }
}

/// `sansmqtt-faults flood-client`: the process measured (see the module
/// docs); prints one line, `received=.. dropped=.. repeats=.. last=..
/// errors=.. vmhwm_kib=..`, then stays connected 300 ms more.
pub fn client(args: &[String]) -> Result<(), String> {
    let map = Flags::parse(args, &["suite", "ignore-receive-maximum"])?;
    let port: u16 = map.get("port", 1883)?;
    let qos: u8 = map.get("qos", 0)?;
    let version: u8 = map.get("version", 4)?;
    let secs: f64 = map.get("secs", 60.0)?;
    let every = Duration::from_millis(map.get("every-ms", 10)?);
    let drop = map.str("overflow") == Some("drop");
    let receive_maximum: Option<u16> = map.opt("receive-maximum")?;
    let keep_alive: Option<u16> = map.opt("keep-alive")?;
    let name = map.str("client").unwrap_or("sansmqtt");
    let which = FloodClient::parse(name).ok_or(format!("--client {name}"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let duration = Duration::from_secs_f64(secs);
    rt.block_on(async move {
        match which {
            FloodClient::Sansmqtt => {
                let o = SansmqttOpts {
                    port,
                    qos,
                    version,
                    drop,
                    receive_maximum,
                    keep_alive,
                };
                sansmqtt_consumer(o, duration, every).await
            }
            FloodClient::Rumqttc => rumqttc_consumer(port, qos, duration, every).await,
        }
    })
}

/// Prints the report (with the process's VmHWM), then waits 300 ms with
/// the connection still open: the harness reads the broker's counts then.
async fn report(mut report: ClientReport) -> Result<(), String> {
    report.vmhwm_kib = vmhwm_kib();
    let mut out = std::io::stdout();
    writeln!(out, "{}", report.line())
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(())
}

struct SansmqttOpts {
    port: u16,
    qos: u8,
    version: u8,
    drop: bool,
    receive_maximum: Option<u16>,
    keep_alive: Option<u16>,
}

/// sansmqtt: the consumer in a spawned task, as the guide says.
async fn sansmqtt_consumer(
    o: SansmqttOpts,
    duration: Duration,
    every: Duration,
) -> Result<(), String> {
    use futures_util::StreamExt;
    use sansmqtt_tokio::{Config, ConnectionState, ProtocolVersion, QoS, Qos0Overflow};
    let qos = match o.qos {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    };
    let config = Config {
        client_id: Some(format!("flood-{}", std::process::id())),
        qos0_overflow: if o.drop {
            Qos0Overflow::Drop
        } else {
            Qos0Overflow::Wait
        },
        protocol_version: if o.version == 5 {
            ProtocolVersion::V5.into()
        } else {
            ProtocolVersion::V3_1_1.into()
        },
        receive_maximum: o.receive_maximum.and_then(std::num::NonZeroU16::new),
        keep_alive: o.keep_alive.map_or(Config::default().keep_alive, |k| {
            Duration::from_secs(k.into())
        }),
        ..Config::default()
    };
    let uri = format!("mqtt://127.0.0.1:{}", o.port);
    let client = sansmqtt_tokio::connect(&uri, config)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut states = client.state_changes();
    let lost = tokio::spawn(async move {
        let mut n = 0u64;
        while let Some(s) = states.next().await {
            if let ConnectionState::Disconnected { reason } = &s {
                n += 1;
                eprintln!("flood-client: disconnected: {reason:?}");
            }
        }
        n
    });
    let mut stream = client
        .subscription("flood/#", qos)
        .await
        .map_err(|e| format!("subscribe: {e}"))?;
    let end = tokio::time::Instant::now() + duration;
    let consumer = tokio::spawn(async move {
        let mut taken = Taken::default();
        // The deadline is checked each time: `timeout_at` returns what is
        // ready even past it, and in a flood something always is.
        while tokio::time::Instant::now() < end
            && let Ok(Some(m)) = tokio::time::timeout_at(end, stream.next()).await
        {
            taken.take(m.payload());
            tokio::time::sleep_until(end.min(tokio::time::Instant::now() + every)).await;
        }
        (taken, stream)
    });
    let (taken, _stream) = consumer.await.map_err(|e| e.to_string())?;
    let dropped = client.stats().qos0_dropped;
    lost.abort();
    let errors = lost.await.unwrap_or(0);
    report(ClientReport {
        received: taken.received,
        dropped,
        repeats: taken.repeats,
        last: taken.last,
        errors,
        vmhwm_kib: 0,
    })
    .await
}

/// rumqttc: the application polls the event loop, one `poll()` per
/// consumed message (its pace), as rumqttc's documentation shows.
async fn rumqttc_consumer(
    port: u16,
    qos: u8,
    duration: Duration,
    every: Duration,
) -> Result<(), String> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let qos = match qos {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    };
    let mut options = MqttOptions::new(format!("flood-{}", std::process::id()), "127.0.0.1", port);
    options.set_max_packet_size(64 * 1024, 64 * 1024);
    let (client, mut eventloop) = AsyncClient::new(options, 10);
    client
        .subscribe("flood/#", qos)
        .await
        .map_err(|e| e.to_string())?;
    let end = tokio::time::Instant::now() + duration;
    let mut taken = Taken::default();
    let mut errors = 0u64;
    while tokio::time::Instant::now() < end
        && let Ok(event) = tokio::time::timeout_at(end, eventloop.poll()).await
    {
        match event {
            Ok(Event::Incoming(Packet::Publish(p))) => {
                taken.take(&p.payload);
                tokio::time::sleep_until(end.min(tokio::time::Instant::now() + every)).await;
            }
            Ok(_) => {}
            Err(e) => {
                errors += 1;
                eprintln!("flood-client: rumqttc: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    report(ClientReport {
        received: taken.received,
        dropped: 0,
        repeats: taken.repeats,
        last: taken.last,
        errors,
        vmhwm_kib: 0,
    })
    .await
}
