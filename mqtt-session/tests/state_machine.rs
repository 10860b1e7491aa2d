//! Property test of the session state machine: random interleavings of
//! commands, packets from a model broker that answers correctly sometimes
//! and misbehaves sometimes (unknown identifiers, duplicates, DUP
//! redeliveries, garbage bytes, odd CONNACKs), connection losses,
//! reconnects and simulated time, in MQTT 3.1.1 and 5.0.
//!
//! Invariants checked after every step (see `World::after_step`):
//! - no packet identifier is reused while in flight (PUBLISH QoS > 0,
//!   SUBSCRIBE and UNSUBSCRIBE share the identifier space), and a DUP
//!   PUBLISH only repeats an identifier in flight, only on a resumed
//!   session, all of them and in the order they were first sent (those
//!   beyond the broker's Receive Maximum later, still in order);
//! - no more unacknowledged QoS > 0 PUBLISHes on a connection than the
//!   broker's Receive Maximum (§4.9);
//! - every accepted publish, subscribe and unsubscribe ends in exactly one
//!   event (`Published`, `Subscribed`, `Unsubscribed`), the publish with its
//!   QoS; `abandon()` at the end flushes what is left;
//! - an inbound QoS 2 message is delivered at most once per identifier and
//!   flow (a flow ends with PUBREL, or when the broker loses the session);
//! - nothing but CONNECT (and AUTH) is sent before CONNACK, except in MQTT 5
//!   the DISCONNECT that reports a violation as the client closes (§4.13.1);
//!   nothing at all without a connection;
//! - right after `handle_timeout(now)`, `poll_timeout()` is not `<= now`;
//! - queued and in-flight publishes stay within the configured bounds
//!   (`queued() + inflight() <= max_queued + max_inflight`; the queue alone
//!   may exceed `max_queued` only when publishes are requeued after a
//!   session loss), `inflight()` agrees with the identifiers seen on the wire;
//! - an acknowledgement id is accepted at most once;
//! - liveness: at the end, a well-behaved broker and application settle
//!   everything (every flow in both directions completes) in a few
//!   reconnections;
//! - nothing panics, every transmitted byte decodes.
//!
//! `SANSMQTT_SM_CASES` sets the number of cases per protocol version (default 256).

mod common;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::num::NonZeroU16;
use std::time::Duration;

use sansmqtt_session::Instant;

use bytes::{Bytes, BytesMut};
use common::{Harness, filter, pid, topic};
use proptest::prelude::*;
use sansmqtt_proto::{
    Auth, AuthReason, ConnAck, ConnectReason, Decoder, Disconnect, DisconnectReason, MaximumQoS,
    Packet, ProtocolVersion, PubAck, PubAckReason, PubComp, PubRec, PubRecReason, PubRel, Publish,
    QoS, SubAck, SubAckReason, SubscribeProperties, SubscriptionOptions, UnsubAck, UnsubAckReason,
    UnsubscribeProperties,
};
use sansmqtt_session::{AckId, Event, PublishError, SessionLossPolicy, SessionOptions, Token};

// ------------------------------------------------------------------ inputs

/// Session options that vary between cases.
#[derive(Debug, Clone)]
struct Config {
    v5: bool,
    manual_ack: bool,
    clean_start: bool,
    requeue: bool,
    max_inflight: u16,
    max_queued: usize,
    keep_alive_s: u64,
    ping_timeout_s: u64,
    connect_timeout_s: u64,
    zero_copy_threshold: usize,
    max_incoming_packet: u32,
    auto_topic_alias: bool,
}

fn config(v5: bool) -> impl Strategy<Value = Config> {
    (
        any::<[bool; 4]>(),
        1u16..=4,
        1usize..=8,
        prop::sample::select(vec![0u64, 1, 2, 30]),
        1u64..=5,
        1u64..=10,
        prop::sample::select(vec![4usize, 4096]),
        prop::sample::select(vec![64u32, 1 << 20]),
    )
        .prop_map(
            move |(
                [manual_ack, clean_start, requeue, auto_topic_alias],
                max_inflight,
                max_queued,
                keep_alive_s,
                ping_timeout_s,
                connect_timeout_s,
                zero_copy_threshold,
                max_incoming_packet,
            )| Config {
                v5,
                manual_ack,
                clean_start,
                requeue,
                max_inflight,
                max_queued,
                keep_alive_s,
                ping_timeout_s,
                connect_timeout_s,
                zero_copy_threshold,
                max_incoming_packet,
                auto_topic_alias,
            },
        )
}

impl Config {
    fn options(&self) -> SessionOptions {
        let mut o = SessionOptions::new("sm-client".try_into().unwrap());
        o.version = if self.v5 {
            ProtocolVersion::V5
        } else {
            ProtocolVersion::V3_1_1
        };
        o.manual_ack = self.manual_ack;
        o.clean_start = self.clean_start;
        o.on_session_loss = if self.requeue {
            SessionLossPolicy::Requeue
        } else {
            SessionLossPolicy::Fail
        };
        o.max_inflight = self.max_inflight;
        o.max_queued = self.max_queued;
        o.keep_alive = Duration::from_secs(self.keep_alive_s);
        o.ping_timeout = Duration::from_secs(self.ping_timeout_s);
        o.connect_timeout = Duration::from_secs(self.connect_timeout_s);
        o.zero_copy_threshold = self.zero_copy_threshold;
        o.max_incoming_packet = self.max_incoming_packet;
        o.auto_topic_alias = self.auto_topic_alias;
        o
    }
}

/// One step: a command of the application, the clock, the transport, or
/// something the broker sends.
#[derive(Debug, Clone)]
enum Op {
    Publish {
        qos: u8,
        retain: bool,
        topic: u8,
        len: u8,
        /// Expiry in tenths of a second from now (`publish_until`); 0: none.
        expiry: u8,
    },
    Subscribe {
        n: u8,
    },
    Unsubscribe {
        n: u8,
    },
    Ping,
    Ack {
        pick: usize,
    },
    Auth,
    Disconnect,
    Connect,
    ConnectionLost,
    Advance {
        ms: u32,
    },
    /// Jump to the deadline `poll_timeout()` gives and handle it.
    ToDeadline,
    /// `handle_timeout(now)` with nothing due (spurious wake-up).
    Timeout,
    // What the broker sends.
    ConnAck {
        present: bool,
        refuse: bool,
        receive_max: u8,
        max_qos: u8,
        alias_max: u8,
    },
    /// The right acknowledgement for an identifier in flight (in MQTT 5
    /// sometimes with an error reason).
    AckInflight {
        pick: usize,
        error: bool,
    },
    /// An acknowledgement of any kind for any identifier.
    AckAny {
        kind: u8,
        id: u16,
        n: u8,
    },
    Inbound {
        qos: u8,
        id: u16,
        topic: u8,
    },
    /// DUP redelivery of an inbound QoS 1 or 2 message not completed.
    Redeliver {
        pick: usize,
    },
    /// PUBREL for an inbound QoS 2 flow (whether PUBREC came or not).
    PubRel {
        pick: usize,
    },
    /// The broker's last packet again.
    Duplicate,
    Garbage(Vec<u8>),
    PingResp,
    ServerDisconnect,
}

fn op() -> impl Strategy<Value = Op> {
    let command = prop_oneof![
        6 => (0u8..3, any::<bool>(), 0u8..4, 0u8..12, prop_oneof![3 => Just(0u8), 1 => 1u8..100])
            .prop_map(|(qos, retain, topic, len, expiry)| Op::Publish { qos, retain: retain && len % 5 == 0, topic, len, expiry }),
        2 => (1u8..=3).prop_map(|n| Op::Subscribe { n }),
        1 => (1u8..=3).prop_map(|n| Op::Unsubscribe { n }),
        1 => Just(Op::Ping),
        3 => any::<usize>().prop_map(|pick| Op::Ack { pick }),
        1 => Just(Op::Auth),
        1 => Just(Op::Disconnect),
    ];
    let lifecycle = prop_oneof![
        4 => Just(Op::Connect),
        1 => Just(Op::ConnectionLost),
        3 => prop_oneof![6 => 0u32..50, 3 => 0u32..3_000, 1 => 0u32..40_000].prop_map(|ms| Op::Advance { ms }),
        2 => Just(Op::ToDeadline),
        1 => Just(Op::Timeout),
    ];
    let garbage = prop_oneof![
        prop::collection::vec(any::<u8>(), 1..24),
        // A plausible fixed header, then anything.
        (
            any::<u8>(),
            0u8..8,
            prop::collection::vec(any::<u8>(), 0..10)
        )
            .prop_map(|(h, len, rest)| {
                let mut v = vec![h, len];
                v.extend(rest);
                v
            }),
    ];
    let broker = prop_oneof![
        4 => (any::<[bool; 2]>(), 0u8..4, 0u8..3, 0u8..3).prop_map(|([present, refuse], receive_max, max_qos, alias_max)| Op::ConnAck {
            present,
            refuse: refuse && receive_max == 0,
            receive_max,
            max_qos,
            alias_max,
        }),
        10 => (any::<usize>(), any::<u8>()).prop_map(|(pick, e)| Op::AckInflight { pick, error: e < 20 }),
        2 => (0u8..6, 1u16..=70, 1u8..=3).prop_map(|(kind, id, n)| Op::AckAny { kind, id, n }),
        4 => (0u8..3, 1u16..=6, 0u8..3).prop_map(|(qos, id, topic)| Op::Inbound { qos, id, topic }),
        2 => any::<usize>().prop_map(|pick| Op::Redeliver { pick }),
        2 => any::<usize>().prop_map(|pick| Op::PubRel { pick }),
        1 => Just(Op::Duplicate),
        1 => garbage.prop_map(Op::Garbage),
        2 => Just(Op::PingResp),
        1 => Just(Op::ServerDisconnect),
    ];
    prop_oneof![5 => command, 3 => lifecycle, 8 => broker]
}

/// An operation, and whether the broker sends it even where a correct
/// broker would not (a CONNACK while connected, an acknowledgement while
/// the client waits for CONNACK, PINGRESP without PINGREQ, ...).
fn step() -> impl Strategy<Value = (Op, bool)> {
    (op(), any::<u8>()).prop_map(|(op, r)| (op, r < 24))
}

fn scenario(v5: bool) -> impl Strategy<Value = (Config, Vec<(Op, bool)>)> {
    (
        config(v5),
        any::<bool>(),
        prop::collection::vec(step(), 1..100),
    )
        .prop_map(|(config, fresh, mut ops)| {
            // Most cases start connected.
            if !fresh {
                ops.insert(0, (Op::Connect, false));
                ops.insert(
                    1,
                    (
                        Op::ConnAck {
                            present: false,
                            refuse: false,
                            receive_max: 0,
                            max_qos: 0,
                            alias_max: 2,
                        },
                        false,
                    ),
                );
            }
            (config, ops)
        })
}

// ------------------------------------------------------------------- model

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    Disconnected,
    Connecting,
    Connected,
}

/// What an outgoing packet identifier is in flight for, as the broker saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    Qos1,
    /// QoS 2 PUBLISH sent, no PUBREL yet.
    Qos2,
    /// PUBREL sent.
    Released,
    Sub(usize),
    Unsub(usize),
}

impl Out {
    fn is_publish(self) -> bool {
        matches!(self, Out::Qos1 | Out::Qos2 | Out::Released)
    }
}

/// An inbound flow the broker started and the client has not completed.
#[derive(Debug, Clone)]
struct InFlow {
    publish: Publish,
    /// PUBREC seen (QoS 2).
    received: bool,
}

const TOPICS: [&str; 4] = ["a/b", "a/c", "s/1/temperature", "x"];
const FILTERS: [&str; 4] = ["a/+", "#", "s/1/temperature", "x"];

struct World {
    config: Config,
    h: Harness,
    version: ProtocolVersion,
    conn: Conn,
    /// Mirror of the session's inbound decoder, to know which packets a
    /// chunk of bytes holds.
    mirror: Option<Decoder>,
    /// Outgoing identifiers in flight, with the order of first transmission.
    out: BTreeMap<u16, (Out, u64)>,
    /// Identifiers that may or may not have been released (garbage that
    /// decoded to several packets, not all of which the session saw), with
    /// what they were in flight for.
    maybe: BTreeMap<u16, (Out, u64)>,
    seq: u64,
    pending_pub: HashMap<Token, QoS>,
    /// Publishes made with an expiry: it may only fail `Expired` from then on.
    expiries: HashMap<Token, Instant>,
    pending_req: HashSet<Token>,
    ack_ids: Vec<AckId>,
    acked: HashSet<AckId>,
    /// Inbound flows open on the broker side, by identifier.
    in_open: BTreeMap<u16, InFlow>,
    /// QoS 2 deliveries per identifier in the current flow.
    delivered: HashMap<u16, u32>,
    last_in: Option<Vec<u8>>,
    ping_outstanding: bool,
    /// The current connection resumed a session (CONNACK session present).
    resumed_conn: bool,
    /// In-flight publishes of a resumed session not sent again yet (beyond
    /// the broker's Receive Maximum), in the order they must go; `None`
    /// when unknown.
    resend_queue: Option<VecDeque<u16>>,
    /// QoS > 0 PUBLISHes sent on this connection and not acknowledged (the
    /// send quota of §4.9), and the broker's Receive Maximum.
    quota: HashSet<u16>,
    receive_max: usize,
    /// Statistics, to see that the interesting paths are reached.
    stats: Stats,
}

#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    published_ok: u64,
    published_err: u64,
    connected: u64,
    resumed: u64,
    closed: u64,
    messages: u64,
    pings: u64,
}

/// How the packets a step fed in relate to what the session handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fed {
    /// Nothing fed, or the session was not connected.
    None,
    /// Exactly one packet, handled while connected: the model is exact.
    One,
    /// Several packets: the session may have stopped at any of them.
    Several,
}

impl World {
    fn new(config: Config) -> Self {
        let h = Harness::new(config.options());
        let version = h.version;
        Self {
            config,
            h,
            version,
            conn: Conn::Disconnected,
            mirror: None,
            out: BTreeMap::new(),
            maybe: BTreeMap::new(),
            seq: 0,
            pending_pub: HashMap::new(),
            expiries: HashMap::new(),
            pending_req: HashSet::new(),
            ack_ids: Vec::new(),
            acked: HashSet::new(),
            in_open: BTreeMap::new(),
            delivered: HashMap::new(),
            last_in: None,
            ping_outstanding: false,
            resumed_conn: false,
            resend_queue: Some(VecDeque::new()),
            quota: HashSet::new(),
            receive_max: usize::from(u16::MAX),
            stats: Stats::default(),
        }
    }

    fn encode(&self, packet: impl Into<Packet>) -> Option<Vec<u8>> {
        let mut buf = BytesMut::new();
        packet.into().encode(self.version, &mut buf).ok()?;
        Some(buf.to_vec())
    }

    fn v5(&self) -> bool {
        self.version.is_v5()
    }

    /// The right acknowledgement of an identifier in flight.
    fn answer(&self, id: u16, out: Out, error: bool) -> Option<Vec<u8>> {
        let error = error && self.v5();
        let id = pid(id);
        match out {
            Out::Qos1 if error => {
                self.encode(PubAck::with_reason(id, PubAckReason::UnspecifiedError))
            }
            Out::Qos1 => self.encode(PubAck::new(id)),
            Out::Qos2 if error => {
                self.encode(PubRec::with_reason(id, PubRecReason::UnspecifiedError))
            }
            Out::Qos2 => self.encode(PubRec::new(id)),
            Out::Released => self.encode(PubComp::new(id)),
            Out::Sub(n) => {
                let reason = if error {
                    SubAckReason::UnspecifiedError
                } else {
                    SubAckReason::GrantedQoS1
                };
                self.encode(SubAck {
                    packet_id: id,
                    reasons: vec![reason; n],
                    properties: Default::default(),
                })
            }
            Out::Unsub(n) => self.encode(UnsubAck {
                packet_id: id,
                reasons: if self.v5() {
                    vec![UnsubAckReason::Success; n]
                } else {
                    Vec::new()
                },
                properties: Default::default(),
            }),
        }
    }

    fn step(&mut self, op: &Op, rude: bool) {
        let before = self.conn;
        let fitting = match op {
            Op::ConnAck { .. } => before == Conn::Connecting,
            Op::AckInflight { .. }
            | Op::AckAny { .. }
            | Op::Inbound { .. }
            | Op::Redeliver { .. }
            | Op::PubRel { .. }
            | Op::ServerDisconnect => before == Conn::Connected,
            Op::PingResp => self.ping_outstanding,
            _ => true,
        };
        if !fitting && !rude {
            return;
        }
        let now = self.h.now;
        let mut input = None;
        let mut connect_ok = false;
        let mut timeout_handled = false;
        match *op {
            Op::Publish {
                qos,
                retain,
                topic: t,
                len,
                expiry,
            } => {
                let qos = QoS::from_bits(qos).unwrap();
                let payload = Bytes::from(vec![b'p'; usize::from(len)]);
                let mut p = Publish::at_most_once(topic(TOPICS[usize::from(t) % 4]), payload);
                p.qos = qos;
                p.retain = retain;
                let queued = self.h.session.queued();
                let expires =
                    (expiry > 0).then(|| now + Duration::from_millis(100 * u64::from(expiry)));
                match self.h.session.publish_until(p, expires, now) {
                    Ok(token) => {
                        if let Some(at) = expires {
                            self.expiries.insert(token, at);
                        }
                        assert!(
                            self.pending_pub.insert(token, qos).is_none(),
                            "token reused"
                        );
                    }
                    Err(sansmqtt_session::PublishError::QueueFull(_)) => {
                        assert!(
                            queued >= self.config.max_queued,
                            "QueueFull below the bound"
                        )
                    }
                    Err(_) => assert_eq!(before, Conn::Connected, "refused while offline"),
                }
            }
            Op::Subscribe { n } => {
                let filters = (0..n)
                    .map(|i| {
                        (
                            filter(FILTERS[usize::from(i) % 4]),
                            SubscriptionOptions::qos(QoS::AtLeastOnce),
                        )
                    })
                    .collect();
                let token = self
                    .h
                    .session
                    .subscribe(filters, SubscribeProperties::default(), now)
                    .expect("valid subscribe");
                assert!(self.pending_req.insert(token));
            }
            Op::Unsubscribe { n } => {
                let filters = (0..n)
                    .map(|i| filter(FILTERS[usize::from(i) % 4]))
                    .collect();
                let token = self
                    .h
                    .session
                    .unsubscribe(filters, UnsubscribeProperties::default(), now)
                    .expect("valid unsubscribe");
                assert!(self.pending_req.insert(token));
            }
            Op::Ping => {
                let r = self.h.session.ping(now);
                assert_eq!(r.is_ok(), before == Conn::Connected, "{r:?}");
            }
            Op::Ack { pick } => {
                if !self.ack_ids.is_empty() {
                    let id = self.ack_ids[pick % self.ack_ids.len()];
                    if self.h.session.ack(id, now).is_ok() {
                        assert!(self.acked.insert(id), "{id:?} accepted twice");
                    }
                }
            }
            Op::Auth => {
                let auth = Auth {
                    reason: AuthReason::ContinueAuthentication,
                    properties: Default::default(),
                };
                // The model's CONNECT has no Authentication Method: the
                // client sends no AUTH at all [MQTT-4.12.0-7] (the
                // exchange itself is tests/auth.rs's).
                let r = self.h.session.auth(auth, now);
                assert!(r.is_err(), "AUTH without a method: {r:?}");
            }
            Op::Disconnect => {
                let r = self.h.session.disconnect(None, now);
                assert_eq!(r.is_ok(), before != Conn::Disconnected);
            }
            Op::Connect => {
                let r = self.h.session.connect(now);
                assert_eq!(r.is_ok(), before == Conn::Disconnected, "{r:?}");
                if r.is_ok() {
                    connect_ok = true;
                    self.conn = Conn::Connecting;
                    self.mirror = Some(
                        Decoder::new(self.version)
                            .with_max_packet_size(self.config.max_incoming_packet),
                    );
                    self.h.wire = Decoder::new(self.version);
                    self.last_in = None;
                }
            }
            Op::ConnectionLost => self.h.session.connection_lost(now),
            Op::Advance { ms } => {
                self.h.now += Duration::from_millis(u64::from(ms));
                if self
                    .h
                    .session
                    .poll_timeout()
                    .is_some_and(|t| t <= self.h.now)
                {
                    self.h.session.handle_timeout(self.h.now);
                    timeout_handled = true;
                }
            }
            Op::ToDeadline => {
                if let Some(t) = self.h.session.poll_timeout() {
                    self.h.now = self.h.now.max(t);
                    self.h.session.handle_timeout(self.h.now);
                    timeout_handled = true;
                }
            }
            Op::Timeout => {
                self.h.session.handle_timeout(now);
                timeout_handled = true;
            }
            Op::ConnAck {
                present,
                refuse,
                receive_max,
                max_qos,
                alias_max,
            } => {
                let reason = if refuse {
                    ConnectReason::NotAuthorized
                } else {
                    ConnectReason::Success
                };
                let mut ack = ConnAck::new(present, reason);
                if self.v5() {
                    if receive_max > 0 {
                        ack.properties.receive_maximum = NonZeroU16::new(u16::from(receive_max));
                    }
                    ack.properties.maximum_qos = match max_qos {
                        1 => Some(MaximumQoS::AtMostOnce),
                        2 => Some(MaximumQoS::AtLeastOnce),
                        _ => None,
                    };
                    if alias_max > 0 {
                        ack.properties.topic_alias_maximum = Some(u16::from(alias_max));
                    }
                }
                input = self.encode(ack);
            }
            Op::AckInflight { pick, error } => {
                if !self.out.is_empty() {
                    let (&id, &(out, _)) = self.out.iter().nth(pick % self.out.len()).unwrap();
                    input = self.answer(id, out, error);
                }
            }
            Op::AckAny { kind, id, n } => {
                let p = pid(id);
                let n = usize::from(n);
                input = match kind {
                    0 => self.encode(PubAck::new(p)),
                    1 => self.encode(PubRec::new(p)),
                    2 => self.encode(PubRel::new(p)),
                    3 => self.encode(PubComp::new(p)),
                    4 => self.encode(SubAck {
                        packet_id: p,
                        reasons: vec![SubAckReason::GrantedQoS0; n],
                        properties: Default::default(),
                    }),
                    _ => self.answer(id, Out::Unsub(n), false),
                };
            }
            Op::Inbound { qos, id, topic: t } => {
                let qos = QoS::from_bits(qos).unwrap();
                let mut p = Publish::at_most_once(
                    topic(TOPICS[usize::from(t) % 4]),
                    Bytes::from_static(b"m"),
                );
                p.qos = qos;
                if qos != QoS::AtMostOnce {
                    p.packet_id = Some(pid(id));
                    if before == Conn::Connected {
                        self.in_open.insert(
                            id,
                            InFlow {
                                publish: p.clone(),
                                received: false,
                            },
                        );
                    }
                }
                input = self.encode(p);
            }
            Op::Redeliver { pick } => {
                if !self.in_open.is_empty() {
                    let flow = self
                        .in_open
                        .values()
                        .nth(pick % self.in_open.len())
                        .unwrap();
                    let mut p = flow.publish.clone();
                    p.dup = true;
                    input = self.encode(p);
                }
            }
            Op::PubRel { pick } => {
                let ids: Vec<u16> = self
                    .in_open
                    .iter()
                    .filter(|(_, f)| f.publish.qos == QoS::ExactlyOnce)
                    .map(|(&id, _)| id)
                    .collect();
                let id = if ids.is_empty() {
                    (pick % 6) as u16 + 1
                } else {
                    ids[pick % ids.len()]
                };
                input = self.encode(PubRel::new(pid(id)));
            }
            Op::Duplicate => input = self.last_in.clone(),
            Op::Garbage(ref bytes) => input = Some(bytes.clone()),
            Op::PingResp => {
                self.ping_outstanding = false;
                input = self.encode(Packet::PingResp);
            }
            Op::ServerDisconnect => {
                input = self.encode(Disconnect::new(DisconnectReason::ServerShuttingDown))
            }
        }
        if timeout_handled {
            let now = self.h.now;
            let next = self.h.session.poll_timeout();
            assert!(
                next.is_none_or(|t| t > now),
                "poll_timeout {:?} not after now right after handle_timeout",
                next.map(|t| t.saturating_duration_since(self.h.start))
            );
        }
        let fed = match input {
            Some(bytes) => self.feed(bytes, before),
            None => Vec::new(),
        };
        self.after_step(before, connect_ok, &fed);
    }

    /// Feeds bytes from the broker; returns the packets the session's decoder
    /// makes of them (as far as it gets before an error).
    fn feed(&mut self, bytes: Vec<u8>, before: Conn) -> Vec<Packet> {
        let mut packets = Vec::new();
        if before != Conn::Disconnected
            && let Some(mirror) = self.mirror.as_mut()
        {
            mirror.feed(&bytes);
            loop {
                match mirror.decode() {
                    Ok(Some(p)) => packets.push(p),
                    Ok(None) => break,
                    Err(_) => {
                        self.mirror = None;
                        break;
                    }
                }
            }
        }
        self.h.receive_bytes(&bytes);
        self.last_in = Some(bytes);
        packets
    }

    fn drop_out(&mut self, id: u16) {
        self.out.remove(&id);
        self.quota.remove(&id);
        if let Some(q) = self.resend_queue.as_mut() {
            q.retain(|&r| r != id);
        }
    }

    /// Moves identifiers a packet may have released from `out` to `maybe`.
    fn blur(&mut self, packets: &[Packet]) {
        for p in packets {
            let id = match p {
                Packet::PubAck(a) => a.packet_id,
                Packet::PubRec(a) if a.reason.is_error() => a.packet_id,
                Packet::PubComp(a) => a.packet_id,
                Packet::SubAck(a) => a.packet_id,
                Packet::UnsubAck(a) => a.packet_id,
                _ => continue,
            };
            if let Some(entry) = self.out.remove(&id.get()) {
                self.maybe.insert(id.get(), entry);
                self.quota.remove(&id.get());
                self.resend_queue = None;
            }
        }
    }

    /// The session handled exactly this packet while connected.
    fn exact(&mut self, packet: &Packet) {
        match packet {
            Packet::PubAck(a) => {
                if let Some((Out::Qos1, _)) = self.out.get(&a.packet_id.get()) {
                    self.drop_out(a.packet_id.get());
                }
            }
            Packet::PubRec(a) if a.reason.is_error() => {
                if let Some((Out::Qos2 | Out::Released, _)) = self.out.get(&a.packet_id.get()) {
                    self.drop_out(a.packet_id.get());
                }
            }
            Packet::PubComp(a) => {
                if let Some((Out::Released, _)) = self.out.get(&a.packet_id.get()) {
                    self.drop_out(a.packet_id.get());
                }
            }
            Packet::SubAck(a) => {
                if let Some((Out::Sub(n), _)) = self.out.get(&a.packet_id.get())
                    && *n == a.reasons.len()
                {
                    self.drop_out(a.packet_id.get());
                }
            }
            Packet::UnsubAck(a) => {
                if let Some((Out::Unsub(n), _)) = self.out.get(&a.packet_id.get())
                    && (!self.v5() || *n == a.reasons.len())
                {
                    self.drop_out(a.packet_id.get());
                }
            }
            _ => {}
        }
    }

    fn after_step(&mut self, before: Conn, connect_ok: bool, fed: &[Packet]) {
        let events = self.h.events();
        let mode = match fed.len() {
            0 => Fed::None,
            1 if before == Conn::Connected => Fed::One,
            1 => Fed::None,
            _ => Fed::Several,
        };

        // 1. CONNACK accepted: the broker's session is gone or resumed.
        let mut resumed = false;
        let mut connected = false;
        for e in &events {
            if let Event::Connected(c) = e {
                assert!(!connected, "two Connected events in one step");
                assert_eq!(before, Conn::Connecting, "Connected without CONNECT");
                connected = true;
                self.stats.connected += 1;
                self.conn = Conn::Connected;
                self.resumed_conn = c.session_present;
                self.quota.clear();
                self.receive_max = c
                    .properties
                    .receive_maximum
                    .map_or(usize::from(u16::MAX), |m| usize::from(m.get()));
                self.resend_queue = if c.session_present {
                    None
                } else {
                    Some(VecDeque::new())
                };
                if c.session_present {
                    resumed = true;
                    self.stats.resumed += 1;
                } else {
                    self.out.retain(|_, (o, _)| !o.is_publish());
                    self.maybe.retain(|_, (o, _)| !o.is_publish());
                    self.delivered.clear();
                    self.in_open.clear();
                }
            }
        }
        // What a resumed session must send again, in the original order:
        // (identifier, released).
        let resend_expected: Option<Vec<(u16, bool)>> =
            (resumed && self.maybe.is_empty() && fed.len() == 1).then(|| {
                let mut v: Vec<(u64, u16, bool)> = self
                    .out
                    .iter()
                    .filter(|(_, (o, _))| o.is_publish())
                    .map(|(&id, &(o, seq))| (seq, id, o == Out::Released))
                    .collect();
                v.sort_unstable();
                v.into_iter().map(|(_, id, rel)| (id, rel)).collect()
            });

        // 2. PUBREL ends an inbound QoS 2 flow: a new PUBLISH with that
        // identifier is a new message.
        let released: Vec<u16> = fed
            .iter()
            .filter_map(|p| match p {
                Packet::PubRel(r) if mode != Fed::None => Some(r.packet_id.get()),
                _ => None,
            })
            .collect();
        for id in &released {
            self.delivered.remove(id);
        }

        // 3. Deliveries and outcomes.
        for e in &events {
            match e {
                Event::Message(m) => {
                    self.stats.messages += 1;
                    let qos = m.publish.qos;
                    assert_eq!(
                        m.ack.is_some(),
                        self.config.manual_ack && qos != QoS::AtMostOnce,
                        "{m:?}"
                    );
                    if let Some(ack) = m.ack {
                        self.ack_ids.push(ack);
                    }
                    if qos == QoS::ExactlyOnce {
                        let id = m.publish.packet_id.expect("QoS 2 has an id").get();
                        let n = self.delivered.entry(id).or_default();
                        *n += 1;
                        assert!(
                            *n <= 1 || (mode == Fed::Several && released.contains(&id)),
                            "QoS 2 message {id} delivered twice in one flow"
                        );
                    }
                }
                Event::Published { token, result } => {
                    let qos = self
                        .pending_pub
                        .remove(token)
                        .unwrap_or_else(|| panic!("Published for unknown or finished {token:?}"));
                    match result {
                        Ok(done) => {
                            assert_eq!(done.qos, qos, "{e:?}");
                            self.stats.published_ok += 1;
                        }
                        Err(PublishError::Expired) => {
                            let at = self.expiries.get(token).copied();
                            assert!(
                                at.is_some_and(|at| self.h.now >= at),
                                "{token:?} expired early or had no expiry ({at:?} at {:?})",
                                self.h.now
                            );
                            self.stats.published_err += 1;
                        }
                        Err(_) => self.stats.published_err += 1,
                    }
                }
                Event::Subscribed { token, .. } | Event::Unsubscribed { token, .. } => {
                    assert!(
                        self.pending_req.remove(token),
                        "outcome for unknown or finished {token:?}"
                    );
                }
                Event::Pong => self.stats.pings += 1,
                Event::Connected(_)
                | Event::Auth(_)
                | Event::AuthSuccess { .. }
                | Event::Closed(_) => {}
            }
        }
        if mode == Fed::Several {
            for id in &released {
                self.delivered.remove(id);
            }
        }

        // 4. Acknowledgements the session handled release identifiers.
        match mode {
            Fed::None => {}
            Fed::One => self.exact(&fed[0]),
            Fed::Several => self.blur(fed),
        }

        // 5. What went out.
        let sent = self.h.sent();
        if connect_ok {
            assert!(
                matches!(&sent[..], [Packet::Connect(_)]),
                "connect sent {sent:?}"
            );
        } else if before == Conn::Disconnected {
            assert!(sent.is_empty(), "sent without a connection: {sent:?}");
        } else if before == Conn::Connecting && !connected {
            // AUTH, and in MQTT 5 the DISCONNECT that reports why the client
            // gives up (§4.13.1), last.
            let closing = self.v5() && events.iter().any(|e| matches!(e, Event::Closed(_)));
            let last = sent.len().saturating_sub(1);
            assert!(
                sent.iter().enumerate().all(|(i, p)| match p {
                    Packet::Auth(_) => true,
                    Packet::Disconnect(_) => closing && i == last,
                    _ => false,
                }),
                "sent before CONNACK: {sent:?}"
            );
        }
        let mut resent = Vec::new();
        for p in &sent {
            match p {
                Packet::Publish(p) if p.qos != QoS::AtMostOnce => {
                    let id = p.packet_id.expect("QoS > 0 has an id").get();
                    let kind = if p.qos == QoS::AtLeastOnce {
                        Out::Qos1
                    } else {
                        Out::Qos2
                    };
                    if self.conn == Conn::Connected {
                        self.quota.insert(id);
                        assert!(
                            self.quota.len() <= self.receive_max,
                            "more than Receive Maximum ({}) unacknowledged publishes",
                            self.receive_max
                        );
                    }
                    if p.dup {
                        assert!(
                            self.resumed_conn,
                            "DUP PUBLISH {id} outside of a resumed session"
                        );
                        if !resumed && let Some(q) = self.resend_queue.as_mut() {
                            assert_eq!(q.pop_front(), Some(id), "deferred redelivery out of order");
                        }
                        match self.out.get(&id) {
                            Some((o, _)) => assert_eq!(*o, kind, "DUP PUBLISH {id} changed"),
                            None => match self.maybe.remove(&id) {
                                Some((o, seq)) if o.is_publish() => {
                                    self.out.insert(id, (kind, seq));
                                }
                                other => panic!("DUP PUBLISH {id} was not in flight ({other:?})"),
                            },
                        }
                        resent.push(id);
                    } else {
                        assert!(
                            !self.out.contains_key(&id),
                            "packet id {id} reused while in flight ({:?})",
                            self.out[&id]
                        );
                        self.maybe.remove(&id);
                        self.seq += 1;
                        self.out.insert(id, (kind, self.seq));
                    }
                }
                Packet::Publish(p) => assert!(!p.dup),
                Packet::Subscribe(s) => {
                    let id = s.packet_id.get();
                    assert!(
                        !self.out.contains_key(&id),
                        "packet id {id} reused while in flight ({:?})",
                        self.out[&id]
                    );
                    self.maybe.remove(&id);
                    self.out.insert(id, (Out::Sub(s.filters.len()), 0));
                }
                Packet::Unsubscribe(u) => {
                    let id = u.packet_id.get();
                    assert!(
                        !self.out.contains_key(&id),
                        "packet id {id} reused while in flight ({:?})",
                        self.out[&id]
                    );
                    self.maybe.remove(&id);
                    self.out.insert(id, (Out::Unsub(u.filters.len()), 0));
                }
                Packet::PubRel(r) => {
                    let id = r.packet_id.get();
                    if let Some((o @ Out::Qos2, _)) = self.out.get_mut(&id) {
                        *o = Out::Released;
                    } else if let Some(&(o, seq)) = self.maybe.get(&id)
                        && o.is_publish()
                    {
                        // Still held: it is being released.
                        self.maybe.remove(&id);
                        self.out.insert(id, (Out::Released, seq));
                    }
                    if resumed && self.out.get(&id).is_some_and(|(o, _)| *o == Out::Released) {
                        resent.push(id);
                    }
                }
                Packet::PubAck(a) => {
                    let id = a.packet_id.get();
                    if self
                        .in_open
                        .get(&id)
                        .is_some_and(|f| f.publish.qos == QoS::AtLeastOnce)
                    {
                        self.in_open.remove(&id);
                    }
                }
                Packet::PubRec(a) => {
                    if let Some(f) = self.in_open.get_mut(&a.packet_id.get())
                        && f.publish.qos == QoS::ExactlyOnce
                    {
                        f.received = true;
                    }
                }
                Packet::PubComp(a) => {
                    let id = a.packet_id.get();
                    if self
                        .in_open
                        .get(&id)
                        .is_some_and(|f| f.publish.qos == QoS::ExactlyOnce)
                    {
                        self.in_open.remove(&id);
                    }
                }
                Packet::Connect(_) => assert!(connect_ok, "CONNECT outside connect()"),
                Packet::PingReq => self.ping_outstanding = true,
                Packet::Disconnect(_) | Packet::Auth(_) => {}
                other => panic!("the client sent {other:?}"),
            }
        }
        if let Some(expected) = resend_expected {
            // Every PUBREL, and the PUBLISHes up to the broker's Receive
            // Maximum, in the original order; the other PUBLISHes later.
            let publishes: Vec<u16> = expected.iter().filter(|e| !e.1).map(|e| e.0).collect();
            let now_sent = resent.iter().filter(|id| publishes.contains(id)).count();
            let want: Vec<u16> = expected
                .iter()
                .filter(|(id, rel)| *rel || publishes[..now_sent].contains(id))
                .map(|e| e.0)
                .collect();
            assert_eq!(
                resent, want,
                "resumed session: redelivery of the in-flight publishes, in order ({expected:?})"
            );
            self.resend_queue = Some(publishes[now_sent..].iter().copied().collect());
        }
        if mode == Fed::Several {
            self.blur(fed);
        }

        // 6. Connection closed: requests sent on it are void.
        if events.iter().any(|e| matches!(e, Event::Closed(_))) {
            self.stats.closed += 1;
            self.conn = Conn::Disconnected;
            self.mirror = None;
            self.ping_outstanding = false;
            self.resumed_conn = false;
            self.resend_queue = Some(VecDeque::new());
            self.out.retain(|_, (o, _)| o.is_publish());
            self.maybe.retain(|_, (o, _)| o.is_publish());
        }

        // 7. Bounds and agreement with the session's counters.
        let s = &self.h.session;
        assert_eq!(s.is_connected(), self.conn == Conn::Connected);
        let (max_queued, max_inflight) = (self.config.max_queued, self.config.max_inflight);
        assert!(
            s.inflight() <= usize::from(max_inflight),
            "in flight over the bound"
        );
        // Requeued publishes (session lost, `Requeue`) were accepted before:
        // they go back to the queue even beyond its bound, which only
        // `publish` enforces; the total stays bounded.
        assert!(
            s.queued() <= max_queued || self.config.requeue,
            "queue over its bound"
        );
        assert!(
            s.queued() + s.inflight() <= max_queued + usize::from(max_inflight),
            "queued + in flight over the bounds"
        );
        let certain = self.out.values().filter(|(o, _)| o.is_publish()).count();
        let maybe = self.maybe.values().filter(|(o, _)| o.is_publish()).count();
        assert!(
            certain <= s.inflight() && s.inflight() <= certain + maybe,
            "inflight() = {} but the wire says {certain} (+{maybe} unknown)",
            s.inflight()
        );
    }

    /// A well-behaved broker and application from here on: every flow in
    /// both directions must complete within a few reconnections.
    fn settle(&mut self) {
        for _round in 0..12 {
            if self.conn != Conn::Disconnected {
                self.step(&Op::ConnectionLost, false);
            }
            self.step(&Op::Connect, false);
            self.step(
                &Op::ConnAck {
                    present: !self.config.clean_start,
                    refuse: false,
                    receive_max: 0,
                    max_qos: 0,
                    alias_max: 0,
                },
                false,
            );
            assert_eq!(self.conn, Conn::Connected);
            // The broker redelivers what the client has not acknowledged,
            // in order, and releases what it has (PUBREL).
            let flows: Vec<(u16, bool)> = self
                .in_open
                .iter()
                .map(|(&id, f)| (id, f.received))
                .collect();
            for (id, received) in flows {
                let Some(pick) = self.in_open.keys().position(|&k| k == id) else {
                    continue;
                };
                if received {
                    let ids: Vec<u16> = self
                        .in_open
                        .iter()
                        .filter(|(_, f)| f.publish.qos == QoS::ExactlyOnce)
                        .map(|(&id, _)| id)
                        .collect();
                    let pick = ids.iter().position(|&k| k == id).unwrap();
                    self.step(&Op::PubRel { pick }, false);
                } else {
                    self.step(&Op::Redeliver { pick }, false);
                }
            }
            // The application acknowledges everything; the broker answers
            // everything in flight, and whatever follows.
            for _ in 0..200 {
                for pick in 0..self.ack_ids.len() {
                    if !self.acked.contains(&self.ack_ids[pick]) {
                        self.step(&Op::Ack { pick }, false);
                    }
                }
                // PUBREL for flows the client has just acknowledged.
                let released: Vec<usize> = self
                    .in_open
                    .values()
                    .filter(|f| f.publish.qos == QoS::ExactlyOnce)
                    .enumerate()
                    .filter(|(_, f)| f.received)
                    .map(|(i, _)| i)
                    .collect();
                if let Some(&pick) = released.first() {
                    self.step(&Op::PubRel { pick }, false);
                    continue;
                }
                if self.out.is_empty() {
                    break;
                }
                self.step(
                    &Op::AckInflight {
                        pick: 0,
                        error: false,
                    },
                    false,
                );
            }
            let s = &self.h.session;
            if self.out.is_empty()
                && self.in_open.is_empty()
                && s.queued() == 0
                && s.inflight() == 0
                && self.pending_pub.is_empty()
                && self.pending_req.is_empty()
            {
                return;
            }
        }
        panic!(
            "no progress with a well-behaved broker: out {:?}, inbound flows {:?}, queued {}, inflight {}, pending publishes {}, requests {}",
            self.out,
            self.in_open.keys().collect::<Vec<_>>(),
            self.h.session.queued(),
            self.h.session.inflight(),
            self.pending_pub.len(),
            self.pending_req.len()
        );
    }

    /// `abandon()` resolves everything that is left, exactly once.
    fn finish(&mut self) {
        self.h.session.abandon();
        let events = self.h.events();
        for e in &events {
            match e {
                Event::Published { token, .. } => {
                    assert!(self.pending_pub.remove(token).is_some(), "{e:?}")
                }
                Event::Subscribed { token, .. } | Event::Unsubscribed { token, .. } => {
                    assert!(self.pending_req.remove(token), "{e:?}")
                }
                _ => {}
            }
        }
        assert!(
            self.pending_pub.is_empty(),
            "publishes without an outcome after abandon: {:?}",
            self.pending_pub
        );
        assert!(
            self.pending_req.is_empty(),
            "requests without an outcome after abandon: {:?}",
            self.pending_req
        );
        assert_eq!(self.h.session.inflight(), 0);
        assert_eq!(self.h.session.queued(), 0);
        assert!(self.h.session.poll_event().is_none());
    }
}

fn run(config: Config, ops: &[(Op, bool)], settle: bool) -> Stats {
    let mut w = World::new(config);
    for (op, rude) in ops {
        w.step(op, *rude);
    }
    if settle {
        w.settle();
    }
    w.finish();
    w.stats
}

fn cases() -> u32 {
    std::env::var("SANSMQTT_SM_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn random_interleavings_v311((config, ops) in scenario(false), settle in any::<bool>()) {
        run(config, &ops, settle);
    }

    #[test]
    fn random_interleavings_v5((config, ops) in scenario(true), settle in any::<bool>()) {
        run(config, &ops, settle);
    }
}

/// The generator reaches the interesting paths (not a tautology: a model
/// broker that never got the session connected would pass every invariant).
#[test]
fn scenarios_reach_the_interesting_paths() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut total = Stats::default();
    for v5 in [false, true] {
        for _ in 0..40 {
            let (config, ops) = scenario(v5).new_tree(&mut runner).unwrap().current();
            let s = run(config, &ops, false);
            total.published_ok += s.published_ok;
            total.published_err += s.published_err;
            total.connected += s.connected;
            total.resumed += s.resumed;
            total.closed += s.closed;
            total.messages += s.messages;
            total.pings += s.pings;
        }
    }
    assert!(total.published_ok > 30, "{total:?}");
    assert!(total.published_err > 2, "{total:?}");
    assert!(total.connected > 40, "{total:?}");
    assert!(total.resumed > 4, "{total:?}");
    assert!(total.closed > 40, "{total:?}");
    assert!(total.messages > 20, "{total:?}");
    assert!(total.pings > 0, "{total:?}");
}

/// Found by `random_interleavings_*`: a QoS 2 message acknowledged by the
/// application while the connection was down got no PUBREC on the resumed
/// session, and its redelivery was swallowed as already pending: the flow
/// never completed.
#[test]
fn qos2_acked_while_offline_is_acknowledged_on_resume() {
    use sansmqtt_proto::ConnAck;
    let mut o = common::options(ProtocolVersion::V3_1_1);
    o.manual_ack = true;
    o.clean_start = false;
    let mut h = Harness::new(o);
    h.connect(false);
    let mut p = Publish::at_most_once(topic("a/b"), Bytes::from_static(b"m"));
    p.qos = QoS::ExactlyOnce;
    p.packet_id = Some(pid(1));
    h.receive(p.clone());
    let events = h.events();
    let [Event::Message(m)] = &events[..] else {
        panic!("{events:?}")
    };
    assert!(h.sent().is_empty(), "PUBREC waits for the application");
    h.session.connection_lost(h.now);
    h.events();
    h.session.ack(m.ack.unwrap(), h.now).unwrap();
    assert!(h.sent().is_empty(), "offline");

    h.session.connect(h.now).unwrap();
    h.sent();
    h.receive(ConnAck::new(true, ConnectReason::Success));
    assert!(matches!(&h.sent()[..], [Packet::PubRec(r)] if r.packet_id == pid(1)));
    // The broker's redelivery is not a new message; PUBREL completes the flow.
    p.dup = true;
    h.receive(p);
    assert!(!h.events().iter().any(|e| matches!(e, Event::Message(_))));
    assert!(matches!(&h.sent()[..], [Packet::PubRec(r)] if r.packet_id == pid(1)));
    h.receive(PubRel::new(pid(1)));
    assert!(matches!(&h.sent()[..], [Packet::PubComp(c)] if c.packet_id == pid(1)));
}
