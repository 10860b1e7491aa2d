//! The check behind the `session` fuzz target: a `sansmqtt_session::Session`
//! driven by operations decoded from the input.
//!
//! Input layout: byte 0 chooses the options (bit 0: MQTT 5, else 3.1.1;
//! bit 1: manual acknowledgement; bit 2: clean start; bit 3: requeue on
//! session loss; bit 4: automatic topic aliases; bit 5: zero-copy of
//! payloads from 8 bytes; bit 6: inbound topic aliases and Receive Maximum
//! (MQTT 5); bit 7: keep-alive 5 s, else 0), byte 1 the bounds (in flight
//! 1 to 8, queue 1 to 32). A session without clean start first restores a
//! saved session read from the next bytes (publishes with identifiers, QoS,
//! released flags, topics and payloads, incoming QoS 2 identifiers; invalid
//! ones are refused with their typed error) and a byte chooses whether the
//! broker has it (CONNACK session present). The session is then connected
//! (CONNECT, CONNACK) and each following byte is an operation, most with argument bytes: raw
//! bytes from the broker, well-formed broker packets (acknowledgements,
//! PUBLISH, CONNACK, PINGRESP, DISCONNECT, AUTH), the application's
//! commands (publish, subscribe, unsubscribe, ack, ping, disconnect,
//! connect), time advancing and connection losses.
//!
//! Asserted after every operation, whatever the input:
//! - nothing panics (overflow checks included);
//! - everything the session transmits decodes as client packets, and the
//!   transmit output is drained to empty;
//! - memory stays bounded: `queued() + inflight() <= max_queued +
//!   max_inflight`, `inflight() <= max_inflight`, `queued() <= max_queued`
//!   unless publishes were requeued after a session loss, every publish not yet reported is either queued or in
//!   flight (`pending == queued() + inflight()`), inbound packets are
//!   bounded by the decoder's maximum size;
//! - right after `handle_timeout(now)`, `poll_timeout()` is later than `now`;
//! - at the end, `abandon()` reports every publish, subscribe and
//!   unsubscribe not reported yet, each exactly once.

use std::collections::HashSet;
use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

use sansmqtt_session::Instant;

use bytes::{Bytes, BytesMut};
use sansmqtt_proto::{
    Auth, AuthReason, ConnAck, ConnectReason, Decoder, Disconnect, DisconnectReason, MaximumQoS,
    Packet, PacketId, ProtocolVersion, PubAck, PubAckReason, PubComp, PubRec, PubRecReason, PubRel,
    Publish, QoS, SubAck, SubAckReason, SubscribeProperties, SubscriptionOptions, TopicFilter,
    TopicName, UnsubAck, UnsubAckReason, UnsubscribeProperties,
};
use sansmqtt_session::{
    AckId, Event, RestoreError, SavedSession, Session, SessionLossPolicy, SessionOptions, Token,
};

use crate::input::Input;

/// Largest packet the session accepts from the fuzzed broker.
pub const SESSION_MAX_PACKET: u32 = 4096;
/// Acknowledgement ids kept for `ack` operations (the oldest are dropped).
const MAX_ACK_IDS: usize = 64;

const TOPICS: [&str; 4] = ["a/b", "a/c", "sensors/1/temperature", "x"];
const FILTERS: [&str; 4] = ["a/+", "#", "$share/g/a/b", "x"];

struct Driver {
    session: Session,
    version: ProtocolVersion,
    now: Instant,
    max_inflight: u16,
    max_queued: usize,
    requeue: bool,
    /// Decodes what the session transmits (client to server).
    wire: Decoder,
    pending_pub: HashSet<Token>,
    pending_req: HashSet<Token>,
    ack_ids: Vec<AckId>,
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n.max(1)).expect("non-zero")
}

impl Driver {
    fn new(flags: u8, bounds: u8) -> Self {
        let v5 = flags & 1 != 0;
        let mut o = SessionOptions::new("fuzz".try_into().expect("client id"));
        o.version = if v5 {
            ProtocolVersion::V5
        } else {
            ProtocolVersion::V3_1_1
        };
        o.manual_ack = flags & 2 != 0;
        o.clean_start = flags & 4 != 0;
        o.on_session_loss = if flags & 8 != 0 {
            SessionLossPolicy::Requeue
        } else {
            SessionLossPolicy::Fail
        };
        o.auto_topic_alias = flags & 16 != 0;
        o.zero_copy_threshold = if flags & 32 != 0 { 8 } else { 4096 };
        if v5 && flags & 64 != 0 {
            o.properties.topic_alias_maximum = Some(4);
            o.properties.receive_maximum = NonZeroU16::new(3);
        }
        o.keep_alive = Duration::from_secs(if flags & 128 != 0 { 5 } else { 0 });
        o.ping_timeout = Duration::from_secs(2);
        o.connect_timeout = Duration::from_secs(3);
        o.max_inflight = 1 + u16::from(bounds & 7);
        o.max_queued = 1 + usize::from(bounds >> 3);
        o.max_incoming_packet = SESSION_MAX_PACKET;
        // A session that can be resumed is one that can be restored: in
        // MQTT 5 it needs a Session Expiry Interval.
        if v5 && !o.clean_start {
            o.properties.session_expiry_interval = Some(60);
        }
        let version = o.version;
        Self {
            max_inflight: o.max_inflight,
            max_queued: o.max_queued,
            requeue: o.on_session_loss == SessionLossPolicy::Requeue,
            session: Session::new(o),
            version,
            now: Instant::from_secs(1), // simulated time
            wire: Decoder::new(version),
            pending_pub: HashSet::new(),
            pending_req: HashSet::new(),
            ack_ids: Vec::new(),
        }
    }

    fn v5(&self) -> bool {
        self.version.is_v5()
    }

    /// Restores a saved session read from the input (up to `max_inflight`
    /// publishes, so that the bounds checked by `drain` hold): valid ones
    /// go in flight under their tokens, invalid ones (a released QoS 1, an
    /// identifier twice) are refused with their typed error and change
    /// nothing.
    fn restore(&mut self, input: &mut Input<'_>) -> Option<()> {
        let n = input.u8()?;
        let count = usize::from(n) % (usize::from(self.max_inflight) + 1);
        let mut outgoing = Vec::with_capacity(count);
        for _ in 0..count {
            let id = pid(input.u16()?);
            let kind = input.u8()?;
            let qos = if kind & 1 != 0 {
                QoS::ExactlyOnce
            } else {
                QoS::AtLeastOnce
            };
            let topic = TopicName::try_from(TOPICS[usize::from(kind >> 2 & 3)]).ok()?;
            let payload = Bytes::copy_from_slice(input.bytes(usize::from(kind >> 4)));
            outgoing.push((Publish::with_qos(topic, payload, qos, id), kind & 2 != 0));
        }
        let mut incoming = Vec::new();
        for _ in 0..(n >> 5) {
            incoming.push(pid(input.u16()?));
        }
        let valid = !outgoing
            .iter()
            .any(|(p, released)| *released && p.qos != QoS::ExactlyOnce);
        let saved = SavedSession { outgoing, incoming };
        match self.session.restore(saved) {
            Ok(tokens) => {
                assert!(valid, "a released QoS 1 publish was restored");
                assert_eq!(tokens.len(), count);
                assert_eq!(self.session.inflight(), count);
                self.pending_pub.extend(tokens);
            }
            Err(RestoreError::InvalidPublish(_) | RestoreError::DuplicateId(_)) => {
                assert_eq!(
                    self.session.inflight(),
                    0,
                    "a refused restore changed the session"
                );
            }
            Err(e) => panic!("a new, resumable session refused a restore: {e}"),
        }
        Some(())
    }

    /// The broker sends `packet` (skipped if this version cannot encode it).
    fn receive(&mut self, packet: impl Into<Packet>) {
        let mut buf = BytesMut::new();
        if packet.into().encode(self.version, &mut buf).is_ok() {
            self.session.handle_input(&buf, self.now);
        }
    }

    fn connect(&mut self) {
        if self.session.connect(self.now).is_ok() {
            // A new transport: what was transmitted before is gone.
            self.wire = Decoder::new(self.version);
        }
    }

    fn connack(&mut self, session_present: bool) {
        self.receive(ConnAck::new(session_present, ConnectReason::Success));
    }

    fn timeout(&mut self) {
        self.session.handle_timeout(self.now);
        let next = self.session.poll_timeout();
        assert!(
            next.is_none_or(|t| t > self.now),
            "poll_timeout not after now right after handle_timeout"
        );
    }

    /// One operation; `None` when the input ran out.
    fn op(&mut self, input: &mut Input<'_>) -> Option<()> {
        let now = self.now;
        match input.u8()? % 16 {
            // Raw bytes from the broker.
            0 | 1 => {
                let n = usize::from(input.u8()?);
                let bytes = input.bytes(n);
                self.session.handle_input(bytes, now);
            }
            // A well-formed acknowledgement, any identifier.
            2 => {
                let kind = input.u8()?;
                let id = pid(u16::from(input.u8()? % 80) + 1);
                let error = self.v5() && kind & 0x80 != 0;
                let n = usize::from(kind >> 4 & 3) + 1;
                match kind % 6 {
                    0 if error => {
                        self.receive(PubAck::with_reason(id, PubAckReason::UnspecifiedError))
                    }
                    0 => self.receive(PubAck::new(id)),
                    1 if error => {
                        self.receive(PubRec::with_reason(id, PubRecReason::QuotaExceeded))
                    }
                    1 => self.receive(PubRec::new(id)),
                    2 => self.receive(PubRel::new(id)),
                    3 => self.receive(PubComp::new(id)),
                    4 => self.receive(SubAck {
                        packet_id: id,
                        reasons: vec![
                            if error {
                                SubAckReason::NotAuthorized
                            } else {
                                SubAckReason::GrantedQoS1
                            };
                            n
                        ],
                        properties: Default::default(),
                    }),
                    _ => self.receive(UnsubAck {
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
            // An inbound PUBLISH.
            3 => {
                let b = input.u8()?;
                let id = input.u8()?;
                let qos = QoS::from_bits(b % 3).ok()?;
                let mut p = Publish::at_most_once(
                    TopicName::try_from(TOPICS[usize::from(b >> 2 & 3)]).ok()?,
                    Bytes::from_static(b"payload"),
                );
                p.qos = qos;
                p.dup = qos != QoS::AtMostOnce && b & 0x10 != 0;
                p.retain = b & 0x20 != 0;
                if qos != QoS::AtMostOnce {
                    p.packet_id = Some(pid(u16::from(id % 16) + 1));
                }
                if self.v5() && b & 0x40 != 0 {
                    p.properties.topic_alias = NonZeroU16::new(u16::from(id >> 4) % 6);
                    if b & 0x80 != 0 {
                        p.topic = TopicName::alias_only();
                    }
                }
                self.receive(p);
            }
            // The application publishes.
            4 => {
                let b = input.u8()?;
                let len = usize::from(input.u8()?);
                let qos = QoS::from_bits(b % 3).ok()?;
                let mut p = Publish::at_most_once(
                    TopicName::try_from(TOPICS[usize::from(b >> 2 & 3)]).ok()?,
                    Bytes::from(vec![0x5a; len]),
                );
                p.qos = qos;
                p.retain = b & 0x10 != 0;
                if let Ok(token) = self.session.publish(p, now) {
                    assert!(self.pending_pub.insert(token), "token reused");
                }
            }
            5 => {
                let b = input.u8()?;
                let filters = (0..=(b & 3))
                    .map(|i| {
                        let f = FILTERS[usize::from((b >> 2).wrapping_add(i) & 3)];
                        (
                            TopicFilter::try_from(f).expect("filter"),
                            SubscriptionOptions::qos(QoS::from_bits(i % 3).expect("qos")),
                        )
                    })
                    .collect();
                let mut properties = SubscribeProperties::default();
                if b & 0x80 != 0 {
                    properties.subscription_identifier = sansmqtt_proto::SubscriptionId::new(7);
                }
                if let Ok(token) = self.session.subscribe(filters, properties, now) {
                    assert!(self.pending_req.insert(token), "token reused");
                }
            }
            6 => {
                let b = input.u8()?;
                let filters = (0..=(b & 3))
                    .map(|i| {
                        TopicFilter::try_from(FILTERS[usize::from((b >> 2).wrapping_add(i) & 3)])
                            .expect("filter")
                    })
                    .collect();
                if let Ok(token) =
                    self.session
                        .unsubscribe(filters, UnsubscribeProperties::default(), now)
                {
                    assert!(self.pending_req.insert(token), "token reused");
                }
            }
            7 => {
                let pick = usize::from(input.u8()?);
                if !self.ack_ids.is_empty() {
                    let id = self.ack_ids[pick % self.ack_ids.len()];
                    let _ = self.session.ack(id, now);
                }
            }
            // Time passes; timers run when due.
            8 => {
                let ms = u64::from(input.u16()?) * 4;
                self.now += Duration::from_millis(ms);
                if self.session.poll_timeout().is_some_and(|t| t <= self.now) {
                    self.timeout();
                }
            }
            9 => self.session.connection_lost(now),
            // Reconnect, with or without a CONNACK.
            10 => {
                let b = input.u8()?;
                self.connect();
                match b % 4 {
                    0 => {}
                    1 => self.connack(false),
                    2 => self.connack(true),
                    _ => self.receive(ConnAck::new(false, ConnectReason::NotAuthorized)),
                }
            }
            11 => {
                let _ = self.session.ping(now);
            }
            12 => {
                let reason = DisconnectReason::NormalDisconnection;
                let _ = self.session.disconnect(Some(Disconnect::new(reason)), now);
            }
            13 => self.timeout(),
            // CONNACK with limits (MQTT 5).
            14 => {
                let b = input.u8()?;
                let c = input.u8()?;
                let mut ack = ConnAck::new(b & 1 != 0, ConnectReason::Success);
                ack.properties.receive_maximum = NonZeroU16::new(u16::from(c & 3));
                ack.properties.maximum_qos = match b >> 1 & 3 {
                    1 => Some(MaximumQoS::AtMostOnce),
                    2 => Some(MaximumQoS::AtLeastOnce),
                    _ => None,
                };
                ack.properties.retain_available = (b & 8 != 0).then_some(false);
                ack.properties.topic_alias_maximum = Some(u16::from(c >> 2 & 3));
                ack.properties.maximum_packet_size = (b & 16 != 0)
                    .then(|| NonZeroU32::new(u32::from(c) + 20))
                    .flatten();
                ack.properties.server_keep_alive = (b & 32 != 0).then_some(u16::from(c >> 4));
                ack.properties.wildcard_subscription_available = (b & 64 != 0).then_some(false);
                ack.properties.shared_subscription_available = (b & 128 != 0).then_some(false);
                ack.properties.subscription_identifier_available = (c & 128 != 0).then_some(false);
                self.receive(ack);
            }
            // Other broker packets and commands.
            _ => match input.u8()? % 5 {
                0 => self.receive(Packet::PingResp),
                1 => self.receive(Disconnect::new(DisconnectReason::ServerBusy)),
                2 => self.receive(Auth {
                    reason: AuthReason::ContinueAuthentication,
                    properties: Default::default(),
                }),
                3 => {
                    let _ = self.session.auth(Auth::default(), now);
                }
                _ => self.session.abandon(),
            },
        }
        Some(())
    }

    /// Drains the outputs and checks the bounds.
    fn drain(&mut self) {
        while let Some(bytes) = self.session.poll_transmit() {
            self.wire.feed(&bytes);
        }
        assert!(self.session.poll_transmit().is_none());
        loop {
            match self.wire.decode() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => panic!("the session transmitted an undecodable packet: {e:?}"),
            }
        }
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Published { token, .. } => {
                    assert!(
                        self.pending_pub.remove(&token),
                        "second outcome of {token:?}"
                    )
                }
                Event::Subscribed { token, .. } | Event::Unsubscribed { token, .. } => {
                    assert!(
                        self.pending_req.remove(&token),
                        "second outcome of {token:?}"
                    )
                }
                Event::Message(m) => {
                    if let Some(ack) = m.ack {
                        if self.ack_ids.len() == MAX_ACK_IDS {
                            self.ack_ids.remove(0);
                        }
                        self.ack_ids.push(ack);
                    }
                }
                Event::Connected(_) | Event::Pong | Event::Auth(_) | Event::Closed(_) => {}
                // MQTT-4.12.0-6: the fuzzed CONNECT has no Authentication
                // Method, so no enhanced authentication can succeed.
                Event::AuthSuccess { .. } => {
                    panic!("an authentication succeeded without an Authentication Method")
                }
            }
        }
        let s = &self.session;
        assert!(
            s.inflight() <= usize::from(self.max_inflight),
            "in flight over its bound"
        );
        // Publishes requeued after a session loss may take the queue past
        // `max_queued` (only `publish` enforces it), never the total.
        assert!(
            s.queued() + s.inflight() <= self.max_queued + usize::from(self.max_inflight),
            "queued + in flight over the bounds"
        );
        assert!(
            s.queued() <= self.max_queued || self.requeue,
            "queue over its bound"
        );
        assert_eq!(
            self.pending_pub.len(),
            s.queued() + s.inflight(),
            "a publish is neither reported, queued nor in flight"
        );
    }
}

/// Runs the operations of `data` on a connected session (see the module
/// documentation for the layout and what is asserted).
pub fn check_session(data: &[u8]) {
    let mut input = Input { data };
    let (Some(flags), Some(bounds)) = (input.u8(), input.u8()) else {
        return;
    };
    let mut d = Driver::new(flags, bounds);
    if flags & 4 == 0 {
        // A resumable session: first a saved one restored, then a broker
        // that has it or not.
        if d.restore(&mut input).is_none() {
            return;
        }
        let Some(present) = input.u8() else {
            return;
        };
        d.connect();
        d.connack(present & 1 != 0);
    } else {
        d.connect();
        d.connack(false);
    }
    d.drain();
    while d.op(&mut input).is_some() {
        d.drain();
    }
    d.drain();
    d.session.abandon();
    d.drain();
    assert!(d.pending_pub.is_empty(), "publishes never reported");
    assert!(d.pending_req.is_empty(), "requests never reported");
    assert_eq!(d.session.inflight() + d.session.queued(), 0);
}

#[cfg(test)]
mod tests {
    use super::check_session;

    /// Inputs from a small generator, so that `cargo test` runs the check
    /// without libFuzzer.
    #[test]
    fn pseudo_random_inputs_pass() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in 0..600 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 24) as u8
                })
                .collect();
            check_session(&data);
        }
    }

    #[test]
    fn a_qos2_round_trip() {
        // MQTT 5, 3 in flight: publish QoS 2, PUBREC 1, PUBCOMP 1, publish
        // QoS 1, time passes, raw PUBACK 2.
        check_session(&[
            0x01, 0x02, 4, 2, 3, 2, 1, 0, 2, 3, 0, 4, 1, 1, 8, 0x10, 0x00, 0, 4, 0x40, 0x02, 0x00,
            0x02,
        ]);
    }
}
