//! A test harness around a `Session`: simulated time, a fake broker side
//! that encodes packets into the session and decodes what it transmits.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use sansmqtt_session::Instant;

use bytes::{Bytes, BytesMut};
use sansmqtt_proto::{
    ConnAck, ConnectReason, Decoder, Packet, PacketId, ProtocolVersion, Publish, QoS, TopicFilter,
    TopicName,
};
use sansmqtt_session::{Event, InMemory, Session, SessionOptions, SessionStore};

/// A session, the simulated clock, and the broker's view of the wire.
pub struct Harness<S: SessionStore = InMemory> {
    pub session: Session<S>,
    pub now: Instant,
    pub start: Instant,
    pub version: ProtocolVersion,
    /// Decodes what the session transmits (client to server).
    pub wire: Decoder,
}

pub fn options(version: ProtocolVersion) -> SessionOptions {
    let mut o = SessionOptions::new("test-client".try_into().unwrap());
    o.version = version;
    o
}

impl Harness<InMemory> {
    pub fn new(options: SessionOptions) -> Self {
        Self::with_session(Session::new(options))
    }
}

impl<S: SessionStore> Harness<S> {
    pub fn with_session(session: Session<S>) -> Self {
        let version = session.options().version;
        let now = Instant::from_secs(1_000); // simulated time
        Self {
            session,
            now,
            start: now,
            version,
            wire: Decoder::new(version),
        }
    }

    /// Advances the simulated clock (no sleeping) and runs due timers.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        if self.session.poll_timeout().is_some_and(|t| t <= self.now) {
            self.session.handle_timeout(self.now);
        }
    }

    /// The raw bytes transmitted since the last call.
    pub fn sent_bytes(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(b) = self.session.poll_transmit() {
            out.extend_from_slice(&b);
        }
        out
    }

    /// The packets transmitted since the last call, decoded.
    pub fn sent(&mut self) -> Vec<Packet> {
        let bytes = self.sent_bytes();
        self.wire.feed(&bytes);
        let mut out = Vec::new();
        while let Some(p) = self.wire.decode().expect("the session sends valid packets") {
            out.push(p);
        }
        out
    }

    /// The broker sends `packet`.
    pub fn receive(&mut self, packet: impl Into<Packet>) {
        let mut buf = BytesMut::new();
        packet
            .into()
            .encode(self.version, &mut buf)
            .expect("encodable test packet");
        self.session.handle_input(&buf, self.now);
    }

    /// The broker sends raw bytes.
    pub fn receive_bytes(&mut self, bytes: &[u8]) {
        self.session.handle_input(bytes, self.now);
    }

    /// All events pending.
    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }

    /// connect(), check a CONNECT went out, answer CONNACK, expect Connected.
    pub fn connect(&mut self, session_present: bool) -> Vec<Packet> {
        self.session.connect(self.now).expect("connect");
        let sent = self.sent();
        assert!(matches!(sent.first(), Some(Packet::Connect(_))), "{sent:?}");
        self.receive(ConnAck::new(session_present, ConnectReason::Success));
        let events = self.events();
        assert!(
            matches!(events.first(), Some(Event::Connected(c)) if c.session_present == session_present),
            "{events:?}"
        );
        self.sent()
    }
}

pub fn topic(s: &str) -> TopicName {
    TopicName::try_from(s).unwrap()
}

pub fn filter(s: &str) -> TopicFilter {
    TopicFilter::try_from(s).unwrap()
}

pub fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

pub fn msg(t: &str, payload: &'static [u8], qos: QoS) -> Publish {
    let mut p = Publish::at_most_once(topic(t), Bytes::from_static(payload));
    p.qos = qos;
    p.packet_id = (qos != QoS::AtMostOnce).then_some(PacketId::MIN);
    p
}
