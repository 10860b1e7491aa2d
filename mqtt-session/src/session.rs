//! The session state machine.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec;
use alloc::vec::Vec;
use core::num::NonZeroU16;
use core::time::Duration;

use crate::time::Instant;

use bytes::{Bytes, BytesMut};
use sansmqtt_proto::{
    AckProperties, Auth, AuthReason, ConnAck, Connect, ConnectReason, DecodeError, Decoder,
    Disconnect, DisconnectReason, EncodeError, MaximumQoS, MqttString, Packet, PacketId,
    PacketType, PropertyId, ProtocolVersion, PubAck, PubAckReason, PubComp, PubCompReason, PubRec,
    PubRel, PubRelReason, Publish, QoS, SubAck, SubAckReason, Subscribe, SubscribeProperties,
    SubscriptionOptions, TopicFilter, TopicName, UnsubAck, UnsubAckReason, Unsubscribe,
    UnsubscribeProperties,
};

use crate::inflight::{IdSet, OutFlight, Slot, Slots, Stage};
use crate::{
    AckError, AckId, CloseReason, Connected, Event, InMemory, Message, ProtocolError, PublishDone,
    PublishError, RequestError, RestoreError, SavedSession, SessionLossPolicy, SessionOptions,
    SessionStore, StateError, Token,
};

/// Transmit buffer growth step, at most.
const TX_CHUNK: usize = 16 * 1024;
/// The smallest growth step: a session that sends little at a time (one
/// of many in a process) holds 512 bytes, reused once written; one with a
/// batch of output waiting gets steps twice its size, up to [`TX_CHUNK`].
const TX_FIRST_CHUNK: usize = 512;
/// Room below which the transmit buffer takes its next step.
const TX_ROOM: usize = 256;

/// Connection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    /// No connection (initial, lost, or closed).
    Disconnected,
    /// CONNECT sent, waiting for CONNACK until the deadline.
    Connecting { deadline: Instant },
    /// A CONNACK accepted an enhanced authentication (MQTT 5): the
    /// application checks the server's final Authentication Data
    /// ([`Event::AuthSuccess`]) before the connection is used; until then
    /// nothing is sent and what follows the CONNACK stays undecoded.
    Verifying { deadline: Instant },
    /// CONNACK accepted.
    Connected,
}

/// What the broker told us in CONNACK (MQTT 5), or the 3.1.1 defaults.
#[derive(Debug, Clone)]
struct ServerLimits {
    receive_maximum: u16,
    maximum_qos: QoS,
    retain_available: bool,
    maximum_packet_size: Option<u32>,
    topic_alias_maximum: u16,
    wildcard_available: bool,
    subscription_ids_available: bool,
    shared_available: bool,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            receive_maximum: u16::MAX,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            maximum_packet_size: None,
            topic_alias_maximum: 0,
            wildcard_available: true,
            subscription_ids_available: true,
            shared_available: true,
        }
    }
}

/// A publish waiting for the connection or an in-flight slot.
#[derive(Debug)]
struct Queued {
    token: Token,
    publish: Publish,
    /// Dropped with [`PublishError::Expired`] if still queued at this instant.
    expires: Option<Instant>,
}

/// A subscribe or unsubscribe waiting for the connection or a packet identifier.
#[derive(Debug)]
enum Request {
    Subscribe {
        token: Token,
        filters: Vec<(TopicFilter, SubscriptionOptions)>,
        properties: SubscribeProperties,
    },
    Unsubscribe {
        token: Token,
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
    },
}

impl Request {
    fn token(&self) -> Token {
        match self {
            Self::Subscribe { token, .. } | Self::Unsubscribe { token, .. } => *token,
        }
    }
}

/// An inbound QoS > 0 message whose acknowledgement the application owes
/// (manual acknowledgement), in order of receipt [MQTT-4.6.0-2, MQTT-4.6.0-3].
#[derive(Debug)]
struct OwedAck {
    id: AckId,
    packet_id: PacketId,
    qos: QoS,
    done: bool,
}

/// The state machine of one MQTT client session, for MQTT 3.1, 3.1.1 and 5.0.
///
/// It performs no IO and reads no clock: bytes from the transport go in with
/// [`Session::handle_input`], time goes in as `now`, and the outputs are
/// drained by polling: [`Session::poll_transmit`] (bytes to write),
/// [`Session::poll_event`] (what the application must know) and
/// [`Session::poll_timeout`] (when to call [`Session::handle_timeout`]).
///
/// `S` receives every change of the in-flight state ([`SessionStore`]).
#[derive(Debug)]
pub struct Session<S: SessionStore = InMemory> {
    options: SessionOptions,
    version: ProtocolVersion,
    conn: Conn,
    decoder: Decoder,
    /// Bytes encoded and not yet handed to the transport.
    tx: BytesMut,
    /// Chunks ready before `tx` (headers split off ahead of a zero-copy payload).
    chunks: VecDeque<Bytes>,
    events: VecDeque<Event>,
    next_token: u64,
    next_seq: u64,
    next_ack: u64,
    slots: Slots,
    /// Outgoing QoS > 0 publishes holding a slot.
    inflight: usize,
    queue: VecDeque<Queued>,
    /// No queued publish expires before this instant (the earliest expiry
    /// when it was computed; a sweep recomputes it).
    queue_expiry: Option<Instant>,
    /// In-flight PUBLISHes of a resumed session not resent yet: the new
    /// connection's Receive Maximum holds them back [MQTT-3.3.4-7, MQTT-4.9.0-2].
    resend: VecDeque<PacketId>,
    requests: VecDeque<Request>,
    /// Incoming QoS 2: PUBREC sent, waiting for PUBREL (exactly-once dedup).
    incoming_qos2: IdSet,
    /// Incoming QoS 2 delivered but not yet acknowledged by the application.
    incoming_pending: IdSet,
    /// Incoming QoS 1 not yet acknowledged (receive maximum accounting).
    incoming_qos1_unacked: usize,
    owed: VecDeque<OwedAck>,
    server: ServerLimits,
    inbound_aliases: BTreeMap<u16, TopicName>,
    outbound_aliases: BTreeMap<TopicName, NonZeroU16>,
    /// When something was last queued for transmission.
    last_sent: Option<Instant>,
    /// When bytes last came from the broker (or CONNECT went out): a broker
    /// that went silent is pinged even while the client keeps sending.
    last_received: Option<Instant>,
    /// PINGRESP deadline of an outstanding PINGREQ.
    ping_deadline: Option<Instant>,
    /// Since when the transport is not read ([`Session::pause_input`]).
    input_paused: Option<Instant>,
    /// The application asked for a ping and waits for `Event::Pong`.
    ping_requested: bool,
    /// Effective keep-alive (the server's overrides ours).
    keep_alive: Duration,
    assigned_client_id: Option<MqttString>,
    /// The Clean Start flag of the CONNECT in flight.
    sent_clean_start: bool,
    /// A successful CONNACK held while the application checks the server's
    /// final authentication data (`Conn::Verifying`).
    held_connack: Option<ConnAck>,
    /// A re-authentication (AUTH 0x19) is under way on this connection.
    reauthenticating: bool,
    /// A CONNACK accepted a connection of this session, or the session was
    /// restored: a session exists at the broker to be resumed.
    established: bool,
    store: S,
}

impl Session<InMemory> {
    /// A session with the default in-memory state.
    pub fn new(options: SessionOptions) -> Self {
        Self::with_store(options, InMemory)
    }
}

impl<S: SessionStore> Session<S> {
    /// A session whose in-flight changes go to `store`.
    pub fn with_store(options: SessionOptions, store: S) -> Self {
        let version = options.version;
        let decoder = Decoder::new(version).with_max_packet_size(options.incoming_max_packet());
        // Room for the publishes in flight plus some subscribe requests.
        let window = options.max_inflight.max(1).saturating_add(64);
        Self {
            keep_alive: options.keep_alive,
            options,
            version,
            conn: Conn::Disconnected,
            decoder,
            tx: BytesMut::new(),
            chunks: VecDeque::new(),
            events: VecDeque::new(),
            next_token: 0,
            next_seq: 0,
            next_ack: 0,
            slots: Slots::new(window),
            inflight: 0,
            queue: VecDeque::new(),
            queue_expiry: None,
            resend: VecDeque::new(),
            requests: VecDeque::new(),
            incoming_qos2: IdSet::default(),
            incoming_pending: IdSet::default(),
            incoming_qos1_unacked: 0,
            owed: VecDeque::new(),
            server: ServerLimits::default(),
            inbound_aliases: BTreeMap::new(),
            outbound_aliases: BTreeMap::new(),
            last_sent: None,
            last_received: None,
            ping_deadline: None,
            input_paused: None,
            ping_requested: false,
            assigned_client_id: None,
            sent_clean_start: true,
            held_connack: None,
            reauthenticating: false,
            established: false,
            store,
        }
    }

    /// The options the session was built with.
    pub fn options(&self) -> &SessionOptions {
        &self.options
    }

    /// The store receiving in-flight changes.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Whether CONNACK accepted the current connection.
    pub fn is_connected(&self) -> bool {
        self.conn == Conn::Connected
    }

    /// The client identifier the broker assigned (MQTT 5), if any.
    pub fn assigned_client_id(&self) -> Option<&MqttString> {
        self.assigned_client_id.as_ref()
    }

    /// Outgoing QoS 1 and 2 publishes awaiting acknowledgement.
    pub fn inflight(&self) -> usize {
        self.inflight
    }

    /// Publishes waiting for the connection or an in-flight slot.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The effective in-flight limit: ours and the broker's Receive Maximum.
    pub fn inflight_limit(&self) -> usize {
        usize::from(
            self.options
                .max_inflight
                .max(1)
                .min(self.server.receive_maximum),
        )
    }

    fn token(&mut self) -> Token {
        self.next_token += 1;
        Token(self.next_token)
    }

    /// Resumes a session saved by a previous process (what its
    /// [`SessionStore`] recorded): the outgoing publishes go back in flight
    /// under their packet identifiers, in their original order, and the
    /// incoming QoS 2 identifiers are awaiting PUBREL again. The first
    /// connection then resumes the broker's session (Clean Start 0, also in
    /// MQTT 5), and with the session present resends the publishes with DUP
    /// and the releases [MQTT-4.4.0-1]; a redelivered incoming QoS 2
    /// PUBLISH under a restored identifier is not delivered twice
    /// [MQTT-4.3.3-9]. Without the session, the session-loss policy applies.
    ///
    /// Returns the token of each restored publish, in the order given: its
    /// [`Event::Published`] carries it. Only a new session can be restored
    /// into, before its first `connect`, and only one whose options resume
    /// sessions (3.1.1: clean session off; MQTT 5: a Session Expiry Interval
    /// above 0). The store is not told: it is where the state came from.
    pub fn restore(&mut self, saved: SavedSession) -> Result<Vec<Token>, RestoreError> {
        if self.established
            || self.conn != Conn::Disconnected
            || !self.slots.is_empty()
            || !self.queue.is_empty()
            || !self.requests.is_empty()
            || self.incoming_qos2.len() != 0
        {
            return Err(RestoreError::NotNew);
        }
        if !self.options.keeps_session() {
            return Err(RestoreError::NotResumable);
        }
        // Checked whole before anything changes.
        let mut seen = IdSet::default();
        for (i, (p, released)) in saved.outgoing.iter().enumerate() {
            let Some(id) = p.packet_id else {
                return Err(RestoreError::InvalidPublish(i));
            };
            if p.qos == QoS::AtMostOnce || (*released && p.qos != QoS::ExactlyOnce) {
                return Err(RestoreError::InvalidPublish(i));
            }
            if !seen.insert(id) {
                return Err(RestoreError::DuplicateId(id.get()));
            }
        }
        seen.clear();
        for &id in &saved.incoming {
            if !seen.insert(id) {
                return Err(RestoreError::DuplicateId(id.get()));
            }
        }
        let mut tokens = Vec::with_capacity(saved.outgoing.len());
        for (mut publish, released) in saved.outgoing {
            let Some(id) = publish.packet_id else {
                continue;
            };
            publish.dup = false;
            let token = self.token();
            self.next_seq += 1;
            let stage = match (publish.qos, released) {
                (QoS::ExactlyOnce, true) => Stage::Released,
                (QoS::ExactlyOnce, false) => Stage::Qos2Sent,
                _ => Stage::Qos1Sent,
            };
            self.slots.insert_at(
                id,
                Slot::Publish(OutFlight {
                    token,
                    seq: self.next_seq,
                    stage,
                    publish,
                }),
            );
            self.inflight += 1;
            tokens.push(token);
        }
        for id in saved.incoming {
            self.incoming_qos2.insert(id);
        }
        self.established = true;
        Ok(tokens)
    }

    // ---------------------------------------------------------------- connect

    /// Starts a connection on a fresh transport: queues CONNECT and arms the
    /// CONNACK deadline. Until CONNACK arrives nothing else is sent; commands
    /// issued meanwhile wait.
    pub fn connect(&mut self, now: Instant) -> Result<(), StateError> {
        let data = self.options.properties.authentication_data.clone();
        self.connect_with_auth_data(data, now)
    }

    /// [`Session::connect`] with this connection's Authentication Data
    /// (MQTT 5 enhanced authentication) in place of the options' own: each
    /// connection starts a fresh exchange (e.g. a SCRAM client-first
    /// message with a new nonce). The Authentication Method is the
    /// options' (`properties.authentication_method`); data without one
    /// cannot be encoded ([`StateError::InvalidConnect`]).
    pub fn connect_with_auth_data(
        &mut self,
        data: Option<Bytes>,
        now: Instant,
    ) -> Result<(), StateError> {
        if self.conn != Conn::Disconnected {
            return Err(StateError::AlreadyConnected);
        }
        // 3.1.1 [MQTT-3.1.3-7]: a zero-byte ClientId requires CleanSession 1.
        if !self.version.is_v5()
            && self.options.client_id.as_str().is_empty()
            && !self.options.clean_start
        {
            return Err(StateError::InvalidConnect(EncodeError::NotInVersion {
                what: "an empty client identifier without clean session",
                version: self.version,
            }));
        }
        self.reset_connection();
        let o = &self.options;
        // A session the broker keeps starts clean (if so configured) once;
        // later connections, and the first of a restored session, resume it.
        // (In 3.1.1 a kept session never asks for a clean one anyway; this
        // matters for MQTT 5 with a Session Expiry Interval.)
        self.sent_clean_start = o.clean_start && !(self.established && o.keeps_session());
        let connect = Connect {
            protocol: self.version,
            clean_start: self.sent_clean_start,
            keep_alive: o.keep_alive_secs(),
            // A client identifier the broker assigned (MQTT 5) names the
            // session from then on: reconnecting with an empty one would
            // start a new session.
            client_id: match (&self.assigned_client_id, o.client_id.is_empty()) {
                (Some(assigned), true) => assigned.clone(),
                _ => o.client_id.clone(),
            },
            will: o.will.clone(),
            username: o.username.clone(),
            password: o.password.clone(),
            properties: if self.version.is_v5() {
                let mut properties = o.properties.clone();
                properties.authentication_data = data;
                properties.into()
            } else {
                Default::default()
            },
        };
        // The keep-alive is the one CONNECT announces (whole seconds, at most
        // 65,535): pinging on a longer one would exceed it (3.1.1
        // [MQTT-3.1.2-23], 5.0 [MQTT-3.1.2-20]).
        self.keep_alive = Duration::from_secs(u64::from(o.keep_alive_secs()));
        let deadline = now + o.connect_timeout;
        // Options that cannot be encoded (e.g. a password without a user
        // name in 3.1.1) never reach the wire.
        connect
            .encode(self.version, &mut self.tx)
            .map_err(StateError::InvalidConnect)?;
        self.last_sent = Some(now);
        self.last_received = Some(now);
        self.conn = Conn::Connecting { deadline };
        Ok(())
    }

    /// Changes the protocol version of the next connections, between two
    /// of them (the client's `protocol_version = "auto"` falls back from 5
    /// to 3.1.1 this way). What only MQTT 5 can carry is left out of the
    /// CONNECT of an older version: the CONNECT properties (already never
    /// sent in 3.1.1) and the will's properties (cleared). A queued publish
    /// the new version cannot encode (MQTT 5 properties in 3.1.1) fails at
    /// once with [`PublishError::Encode`].
    ///
    /// Only a session that exists nowhere yet changes version: no CONNACK
    /// accepted one of its connections and nothing was restored into it
    /// (a broker's session belongs to the version that made it).
    pub fn set_version(&mut self, version: ProtocolVersion) -> Result<(), StateError> {
        if self.conn != Conn::Disconnected {
            return Err(StateError::AlreadyConnected);
        }
        if self.established {
            return Err(StateError::SessionEstablished);
        }
        let mut kept = VecDeque::with_capacity(self.queue.len());
        for q in core::mem::take(&mut self.queue) {
            match q.publish.encoded_len(version) {
                Ok(_) => kept.push_back(q),
                Err(e) => self.events.push_back(Event::Published {
                    token: q.token,
                    result: Err(PublishError::Encode(e)),
                }),
            }
        }
        self.queue = kept;
        self.version = version;
        self.options.version = version;
        if !version.is_v5()
            && let Some(will) = &mut self.options.will
        {
            will.properties = Default::default();
        }
        self.decoder.set_version(version);
        Ok(())
    }

    /// Per-connection state starts afresh: decoder, buffers, aliases, pings.
    fn reset_connection(&mut self) {
        self.decoder =
            Decoder::new(self.version).with_max_packet_size(self.options.incoming_max_packet());
        self.tx.clear();
        self.chunks.clear();
        self.inbound_aliases.clear();
        self.outbound_aliases.clear();
        self.ping_deadline = None;
        self.ping_requested = false;
        self.server = ServerLimits::default();
    }

    // ------------------------------------------------------------------ input

    /// Feeds bytes received from the transport (split anywhere).
    pub fn handle_input(&mut self, bytes: &[u8], now: Instant) {
        if self.conn == Conn::Disconnected {
            return;
        }
        self.decoder.feed(bytes);
        self.process_input(now);
    }

    /// The receive buffer, to read from the transport straight into it
    /// (then call [`Session::process_input`]): the zero-copy path.
    pub fn input_buffer(&mut self) -> &mut BytesMut {
        self.decoder.buffer_mut()
    }

    /// Decodes and handles what [`Session::input_buffer`] received (bytes
    /// came at `now`: the keep-alive counts them).
    pub fn process_input(&mut self, now: Instant) {
        if self.conn != Conn::Disconnected {
            self.last_received = Some(now);
        }
        // While a CONNACK's authentication is checked, what follows it
        // waits in the decoder (`accept_auth` decodes it).
        while matches!(self.conn, Conn::Connecting { .. } | Conn::Connected) {
            let decoded = if self.v3_answer_to_v5() {
                // Decoded as the 3.1.1 packet it is, then back to 5 (the
                // connection closes on it anyway).
                self.decoder.set_version(ProtocolVersion::V3_1_1);
                let decoded = self.decoder.decode();
                self.decoder.set_version(self.version);
                decoded
            } else {
                self.decoder.decode()
            };
            match decoded {
                Ok(Some(packet)) => self.handle_packet(packet, now),
                Ok(None) => break,
                Err(e) => {
                    let error = match e {
                        // Only a Topic Alias of 0 [MQTT-3.3.2-8] fails this way: 0x94.
                        DecodeError::InvalidPropertyValue(PropertyId::TopicAlias) => {
                            ProtocolError::TopicAliasInvalid(0)
                        }
                        e => ProtocolError::Decode(e),
                    };
                    self.violation(error);
                    break;
                }
            }
        }
        // Acknowledgements may have freed in-flight slots.
        self.pump(now);
    }

    /// Whether the next packet is the 3.1.1 CONNACK a 3.1.1-only server
    /// answers an MQTT 5 CONNECT with: remaining length 2 and a return code
    /// of 3.1.1 (1 to 5; MQTT 5 refusals are 0x80 and above, and an MQTT 5
    /// CONNACK always has a property length, so it is never 2 bytes long
    /// with such a code). Decoded as MQTT 5 it would be malformed.
    fn v3_answer_to_v5(&mut self) -> bool {
        if !self.version.is_v5() || !matches!(self.conn, Conn::Connecting { .. }) {
            return false;
        }
        matches!(
            self.decoder.buffer_mut().get(..4),
            Some([0x20, 0x02, 0x00 | 0x01, 1..=5])
        )
    }

    fn handle_packet(&mut self, packet: Packet, now: Instant) {
        if let Conn::Connecting { .. } = self.conn {
            match packet {
                Packet::ConnAck(ack) => self.handle_connack(ack, now),
                Packet::Auth(auth) if self.version.is_v5() => self.handle_auth(auth),
                other => self.violation(ProtocolError::UnexpectedPacket(other.packet_type())),
            }
            return;
        }
        match packet {
            Packet::Publish(p) => self.handle_publish(p, now),
            Packet::PubAck(a) => self.handle_puback(a),
            Packet::PubRec(a) => self.handle_pubrec(a, now),
            Packet::PubRel(a) => self.handle_pubrel(a, now),
            Packet::PubComp(a) => self.handle_pubcomp(a),
            Packet::SubAck(a) => self.handle_suback(a),
            Packet::UnsubAck(a) => self.handle_unsuback(a),
            Packet::PingResp => {
                self.ping_deadline = None;
                if core::mem::take(&mut self.ping_requested) {
                    self.events.push_back(Event::Pong);
                }
            }
            Packet::Disconnect(d) if self.version.is_v5() => {
                self.close(CloseReason::ServerDisconnect {
                    reason: d.reason,
                    properties: Box::new(d.properties.into_inner()),
                });
            }
            Packet::Auth(auth) if self.version.is_v5() => self.handle_auth(auth),
            // A second CONNACK, or a packet only a client sends.
            other => self.violation(ProtocolError::UnexpectedPacket(other.packet_type())),
        }
    }

    fn handle_connack(&mut self, ack: ConnAck, now: Instant) {
        if ack.reason == ConnectReason::UnsupportedProtocolVersion {
            self.close(CloseReason::UnsupportedProtocolVersion {
                requested: self.version,
                properties: Box::new(ack.properties.into_inner()),
            });
            return;
        }
        if ack.reason != ConnectReason::Success {
            self.close(CloseReason::Refused {
                reason: ack.reason,
                properties: Box::new(ack.properties.into_inner()),
            });
            return;
        }
        // [MQTT-3.2.2-2]: clean start means the server has no session for us.
        if ack.session_present && self.sent_clean_start {
            self.violation(ProtocolError::SessionPresentOnCleanStart);
            return;
        }
        // [MQTT-4.12.0-5, MQTT-4.12.0-6]: the CONNECT's Authentication
        // Method again, or none if it had none.
        if let Err(e) = self.check_auth_method(ack.properties.authentication_method.as_ref()) {
            self.violation(e);
            return;
        }
        if self.options.properties.authentication_method.is_some()
            && let Conn::Connecting { deadline } = self.conn
        {
            // The server's final data is checked before the connection is
            // used (e.g. SCRAM's server signature).
            let data = ack.properties.authentication_data.clone();
            self.conn = Conn::Verifying { deadline };
            self.held_connack = Some(ack);
            self.events.push_back(Event::AuthSuccess { data });
            return;
        }
        self.accept_connack(ack, now);
    }

    /// A successful CONNACK, its authentication (if any) accepted: the
    /// connection is established.
    fn accept_connack(&mut self, ack: ConnAck, now: Instant) {
        let p = &ack.properties;
        self.server = ServerLimits {
            receive_maximum: p.receive_maximum.map_or(u16::MAX, NonZeroU16::get),
            maximum_qos: MaximumQoS::allows(p.maximum_qos),
            retain_available: p.retain_available.unwrap_or(true),
            maximum_packet_size: p.maximum_packet_size.map(|m| m.get()),
            topic_alias_maximum: p.topic_alias_maximum.unwrap_or(0),
            wildcard_available: p.wildcard_subscription_available.unwrap_or(true),
            subscription_ids_available: p.subscription_identifier_available.unwrap_or(true),
            shared_available: p.shared_subscription_available.unwrap_or(true),
        };
        // [MQTT-3.2.2-21]: the server keep alive replaces ours.
        if let Some(ka) = p.server_keep_alive {
            self.keep_alive = Duration::from_secs(u64::from(ka));
        }
        if let Some(id) = &p.assigned_client_identifier {
            self.assigned_client_id = Some(id.clone());
        }
        self.conn = Conn::Connected;
        self.established = true;
        // Connected first: the outcomes of a lost session follow it.
        self.events.push_back(Event::Connected(Connected {
            session_present: ack.session_present,
            properties: Box::new(ack.properties.into_inner()),
        }));
        if ack.session_present {
            self.resend_inflight(now);
            // QoS 2 messages the application acknowledged while offline:
            // their PUBREC is owed to the resumed session.
            self.flush_owed(now);
        } else {
            self.session_lost();
        }
        self.pump(now);
    }

    /// The broker has no session: incoming state goes, outgoing publishes
    /// fail or start again, per the policy (§4.1).
    fn session_lost(&mut self) {
        self.incoming_qos2.clear();
        self.incoming_pending.clear();
        self.incoming_qos1_unacked = 0;
        self.owed.clear();
        self.store.cleared();
        let mut lost: Vec<OutFlight> = self
            .slots
            .drain_where(|s| matches!(s, Slot::Publish(_)))
            .into_iter()
            .filter_map(|(_, s)| match s {
                Slot::Publish(f) => Some(f),
                _ => None,
            })
            .collect();
        self.inflight = 0;
        lost.sort_by_key(|f| f.seq);
        // A QoS 2 publish past PUBREC was received by the broker: it is
        // acknowledged (unacknowledged only "until it has received the
        // corresponding PUBREC", MQTT-4.3.3-3), and only the release is left.
        // Sending it again would deliver it twice. Outcomes in original order.
        let mut requeue = Vec::new();
        for f in lost {
            let result = if f.stage == Stage::Released {
                Ok(PublishDone {
                    qos: QoS::ExactlyOnce,
                    reason: None,
                })
            } else if self.options.on_session_loss == SessionLossPolicy::Requeue {
                requeue.push(f);
                continue;
            } else {
                Err(PublishError::SessionLost)
            };
            self.events.push_back(Event::Published {
                token: f.token,
                result,
            });
        }
        // Requeued publishes were admitted before: they go ahead of the queue
        // even if that takes it past `max_queued` for a while.
        for f in requeue.into_iter().rev() {
            let mut publish = f.publish;
            publish.dup = false;
            publish.packet_id = None;
            self.queue.push_front(Queued {
                token: f.token,
                publish,
                expires: None,
            });
        }
    }

    /// Session resumed: unacknowledged PUBLISHes again with DUP and their
    /// identifiers, PUBREL for those past PUBREC, in the original order
    /// [MQTT-4.4.0-1]. PUBLISHes beyond the server's Receive Maximum wait in
    /// `resend` for acknowledgements [MQTT-3.3.4-7]; PUBRELs do not wait.
    fn resend_inflight(&mut self, now: Instant) {
        let limit = self.inflight_limit();
        let mut resent = 0;
        for id in self.slots.publishes_in_order() {
            let Some(Slot::Publish(f)) = self.slots.get_mut(id) else {
                continue;
            };
            match f.stage {
                Stage::Qos1Sent | Stage::Qos2Sent if resent >= limit => {
                    self.resend.push_back(id);
                }
                Stage::Qos1Sent | Stage::Qos2Sent => {
                    resent += 1;
                    let mut publish = f.publish.clone();
                    publish.dup = true;
                    self.write_publish(&publish, now);
                }
                Stage::Released => {
                    let rel = PubRel::new(id);
                    self.write(&Packet::PubRel(rel), now);
                }
            }
        }
    }

    // ---------------------------------------------------------------- inbound

    fn handle_publish(&mut self, mut p: Publish, now: Instant) {
        // Topic alias (MQTT 5): resolve, or learn it [MQTT-3.3.2-9 .. -12].
        if let Some(alias) = p.properties.topic_alias {
            let alias = alias.get();
            if alias > self.options.incoming_topic_alias_max() {
                self.violation(ProtocolError::TopicAliasInvalid(alias));
                return;
            }
            if p.topic.is_empty() {
                match self.inbound_aliases.get(&alias) {
                    Some(topic) => p.topic = topic.clone(),
                    None => {
                        self.violation(ProtocolError::UnknownTopicAlias(alias));
                        return;
                    }
                }
            } else {
                self.inbound_aliases.insert(alias, p.topic.clone());
            }
        }
        let Some(id) = p.packet_id else {
            self.deliver(p, None);
            return;
        };
        // Receive Maximum (MQTT 5): unacknowledged QoS > 0 publishes from the server.
        if self.version.is_v5()
            && self.options.properties.receive_maximum.is_some()
            && !self.incoming_qos2.contains(id)
            && !self.incoming_pending.contains(id)
            && self.incoming_unacked() >= usize::from(self.options.incoming_receive_max())
        {
            self.violation(ProtocolError::ReceiveMaximumExceeded);
            return;
        }
        match p.qos {
            QoS::AtMostOnce => self.deliver(p, None),
            QoS::AtLeastOnce => {
                if self.options.manual_ack {
                    let ack = self.owe(id, QoS::AtLeastOnce);
                    self.incoming_qos1_unacked += 1;
                    self.deliver(p, Some(ack));
                } else {
                    // Deliver, then acknowledge [MQTT-4.3.2-4 (method)].
                    self.deliver(p, None);
                    self.write(&Packet::PubAck(PubAck::new(id)), now);
                }
            }
            QoS::ExactlyOnce => {
                if self.incoming_qos2.contains(id) {
                    // A redelivery before PUBREL: acknowledge again, deliver once [MQTT-4.3.3-10].
                    self.write(&Packet::PubRec(PubRec::new(id)), now);
                } else if self.incoming_pending.contains(id) {
                    // Delivered, the application has not acknowledged yet: wait for it.
                } else if self.options.manual_ack {
                    self.incoming_pending.insert(id);
                    let ack = self.owe(id, QoS::ExactlyOnce);
                    self.deliver(p, Some(ack));
                } else {
                    self.incoming_qos2.insert(id);
                    self.store.incoming_received(id);
                    self.deliver(p, None);
                    self.write(&Packet::PubRec(PubRec::new(id)), now);
                }
            }
        }
    }

    fn incoming_unacked(&self) -> usize {
        self.incoming_qos1_unacked + self.incoming_qos2.len() + self.incoming_pending.len()
    }

    fn owe(&mut self, packet_id: PacketId, qos: QoS) -> AckId {
        self.next_ack += 1;
        let id = AckId(self.next_ack);
        self.owed.push_back(OwedAck {
            id,
            packet_id,
            qos,
            done: false,
        });
        id
    }

    fn deliver(&mut self, publish: Publish, ack: Option<AckId>) {
        self.events
            .push_back(Event::Message(Message { publish, ack }));
    }

    /// Acknowledges an inbound message delivered with an [`AckId`] (manual
    /// acknowledgement). Acknowledgements go out in the order the messages
    /// were received, whatever the order of the calls [MQTT-4.6.0-2, MQTT-4.6.0-3].
    pub fn ack(&mut self, id: AckId, now: Instant) -> Result<(), AckError> {
        let entry = self
            .owed
            .iter_mut()
            .find(|o| o.id == id && !o.done)
            .ok_or(AckError::Unknown)?;
        entry.done = true;
        if self.conn == Conn::Connected {
            self.flush_owed(now);
        }
        Ok(())
    }

    fn flush_owed(&mut self, now: Instant) {
        while self.owed.front().is_some_and(|o| o.done) {
            let Some(o) = self.owed.pop_front() else {
                break;
            };
            match o.qos {
                QoS::AtLeastOnce => {
                    self.incoming_qos1_unacked = self.incoming_qos1_unacked.saturating_sub(1);
                    self.write(&Packet::PubAck(PubAck::new(o.packet_id)), now);
                }
                _ => {
                    self.incoming_pending.remove(o.packet_id);
                    self.incoming_qos2.insert(o.packet_id);
                    self.store.incoming_received(o.packet_id);
                    self.write(&Packet::PubRec(PubRec::new(o.packet_id)), now);
                }
            }
        }
    }

    fn handle_pubrel(&mut self, rel: PubRel, now: Instant) {
        let id = rel.packet_id;
        let comp = if self.incoming_qos2.remove(id) {
            self.store.incoming_released(id);
            PubComp::new(id)
        } else if self.version.is_v5() {
            // Unknown identifier: still completed [MQTT-4.3.3-11], reason 0x92.
            PubComp::with_reason(id, PubCompReason::PacketIdentifierNotFound)
        } else {
            PubComp::new(id)
        };
        self.write(&Packet::PubComp(comp), now);
    }

    // --------------------------------------------------------------- outbound

    /// Publishes a message. The session assigns the packet identifier (any
    /// set by the caller is replaced) and clears DUP. QoS 0 is sent at once
    /// if connected; QoS 1 and 2 when an in-flight slot is free; otherwise
    /// the publish waits in a bounded FIFO queue. The outcome is an
    /// [`Event::Published`] with the returned token.
    pub fn publish(&mut self, publish: Publish, now: Instant) -> Result<Token, PublishError> {
        self.publish_until(publish, None, now)
    }

    /// [`Session::publish`] with an expiry: if the publish is still waiting
    /// (for the connection or an in-flight slot) at `expires`, it is dropped
    /// and its outcome is [`PublishError::Expired`] instead of being sent
    /// late. Once sent, a QoS 1/2 publish is never dropped: it is
    /// redelivered until acknowledged, as the protocol requires.
    /// [`Session::poll_timeout`] includes the earliest expiry, also while
    /// disconnected.
    pub fn publish_until(
        &mut self,
        mut publish: Publish,
        expires: Option<Instant>,
        now: Instant,
    ) -> Result<Token, PublishError> {
        if expires.is_some_and(|at| now >= at) {
            return Err(PublishError::Expired);
        }
        publish.dup = false;
        publish.packet_id = (publish.qos != QoS::AtMostOnce).then_some(PacketId::MIN);
        // What cannot be encoded fails now, not later.
        let size = publish.encoded_len(self.version)?;
        if self.conn == Conn::Connected {
            self.check_publish(&publish, size)?;
        }
        // Only a publish that has to wait counts against the queue's bound.
        let goes_now = self.conn == Conn::Connected
            && self.queue.is_empty()
            && (publish.qos == QoS::AtMostOnce || self.inflight < self.inflight_limit());
        if !goes_now && self.queue.len() >= self.options.max_queued {
            return Err(PublishError::QueueFull(self.queue.len()));
        }
        let token = self.token();
        if let Some(at) = expires {
            self.queue_expiry = Some(self.queue_expiry.map_or(at, |e| e.min(at)));
        }
        self.queue.push_back(Queued {
            token,
            publish,
            expires,
        });
        if self.conn == Conn::Connected {
            self.pump(now);
        }
        Ok(token)
    }

    /// The limits of the connected server [MQTT-3.2.2-11, -14, -15].
    fn check_publish(&self, publish: &Publish, size: usize) -> Result<(), PublishError> {
        if publish.qos > self.server.maximum_qos {
            return Err(PublishError::QoSNotSupported {
                qos: publish.qos,
                max: self.server.maximum_qos,
            });
        }
        if publish.retain && !self.server.retain_available {
            return Err(PublishError::RetainNotSupported);
        }
        if let Some(max) = self.server.maximum_packet_size
            && size > max as usize
        {
            return Err(PublishError::PacketTooLarge { size, max });
        }
        Ok(())
    }

    /// Sends what waits, as far as the in-flight window allows.
    fn pump(&mut self, now: Instant) {
        if self.conn != Conn::Connected {
            return;
        }
        // Resends held back by the Receive Maximum go first, in order.
        while !self.resend.is_empty()
            && self.inflight - self.resend.len() < self.inflight_limit()
            && let Some(id) = self.resend.pop_front()
        {
            if let Some(Slot::Publish(f)) = self.slots.get_mut(id)
                && f.stage != Stage::Released
            {
                let mut publish = f.publish.clone();
                publish.dup = true;
                self.write_publish(&publish, now);
            }
        }
        while let Some(front) = self.queue.front() {
            // Commands go out in the order they were given, across kinds:
            // a subscribe issued before this publish goes first (tokens are
            // handed out in order).
            let token = front.token;
            if self.requests.front().is_some_and(|r| r.token() < token) {
                self.pump_requests(Some(token), now);
                if self.requests.front().is_some_and(|r| r.token() < token) {
                    break; // no packet identifier free for it yet
                }
            }
            let Some(front) = self.queue.front() else {
                break;
            };
            let needs_slot = front.publish.qos != QoS::AtMostOnce;
            if needs_slot && (self.inflight >= self.inflight_limit() || !self.resend.is_empty()) {
                break;
            }
            let Some(Queued {
                token,
                mut publish,
                expires,
            }) = self.queue.pop_front()
            else {
                break;
            };
            if expires.is_some_and(|at| now >= at) {
                self.events.push_back(Event::Published {
                    token,
                    result: Err(PublishError::Expired),
                });
                continue;
            }
            // Only a maximum packet size needs the size; it was checked
            // encodable when queued.
            let size = match self.server.maximum_packet_size {
                Some(_) => publish.encoded_len(self.version).unwrap_or(usize::MAX),
                None => 0,
            };
            if let Err(e) = self.check_publish(&publish, size) {
                self.events.push_back(Event::Published {
                    token,
                    result: Err(e),
                });
                continue;
            }
            if !needs_slot {
                self.write_publish(&publish, now);
                self.events.push_back(Event::Published {
                    token,
                    result: Ok(PublishDone {
                        qos: QoS::AtMostOnce,
                        reason: None,
                    }),
                });
                continue;
            }
            self.next_seq += 1;
            let stage = if publish.qos == QoS::AtLeastOnce {
                Stage::Qos1Sent
            } else {
                Stage::Qos2Sent
            };
            let placeholder = Slot::Subscribe { token, filters: 0 };
            let Some(id) = self.slots.allocate(placeholder) else {
                self.queue.push_front(Queued {
                    token,
                    publish,
                    expires,
                });
                break;
            };
            publish.packet_id = Some(id);
            self.write_publish(&publish, now);
            self.store.publish_sent(id, &publish);
            if let Some(slot) = self.slots.get_mut(id) {
                *slot = Slot::Publish(OutFlight {
                    token,
                    seq: self.next_seq,
                    stage,
                    publish,
                });
            }
            self.inflight += 1;
        }
        self.pump_requests(None, now);
    }

    fn handle_puback(&mut self, ack: PubAck) {
        let id = ack.packet_id;
        let Some(Slot::Publish(f)) = self.slots.get_mut(id) else {
            // Unknown identifier (e.g. a duplicate after redelivery): nothing to complete.
            return;
        };
        if f.stage != Stage::Qos1Sent {
            return;
        }
        let token = f.token;
        self.release_publish(id);
        let result = if ack.reason.is_error() {
            Err(PublishError::RefusedPubAck(ack.reason))
        } else {
            Ok(PublishDone {
                qos: QoS::AtLeastOnce,
                reason: (ack.reason != PubAckReason::Success).then_some(ack.reason),
            })
        };
        self.events.push_back(Event::Published { token, result });
    }

    fn handle_pubrec(&mut self, rec: PubRec, now: Instant) {
        let id = rec.packet_id;
        match self.slots.get_mut(id) {
            Some(Slot::Publish(f)) if f.stage != Stage::Qos1Sent => {
                if rec.reason.is_error() {
                    // The flow ends here: no PUBREL (§4.3.3).
                    let token = f.token;
                    self.release_publish(id);
                    self.events.push_back(Event::Published {
                        token,
                        result: Err(PublishError::RefusedPubRec(rec.reason)),
                    });
                    return;
                }
                if f.stage == Stage::Qos2Sent {
                    f.stage = Stage::Released;
                    self.store.publish_released(id);
                }
                self.write(&Packet::PubRel(PubRel::new(id)), now);
            }
            _ => {
                // Unknown identifier: PUBREL "Packet Identifier not found" (MQTT 5).
                let rel = if self.version.is_v5() {
                    PubRel::with_reason(id, PubRelReason::PacketIdentifierNotFound)
                } else {
                    PubRel::new(id)
                };
                self.write(&Packet::PubRel(rel), now);
            }
        }
    }

    fn handle_pubcomp(&mut self, comp: PubComp) {
        let id = comp.packet_id;
        let Some(Slot::Publish(f)) = self.slots.get_mut(id) else {
            return;
        };
        if f.stage != Stage::Released {
            return;
        }
        let token = f.token;
        self.release_publish(id);
        self.events.push_back(Event::Published {
            token,
            result: Ok(PublishDone {
                qos: QoS::ExactlyOnce,
                reason: None,
            }),
        });
    }

    /// Frees the slot of a completed publish and lets the queue move.
    fn release_publish(&mut self, id: PacketId) {
        self.slots.remove(id);
        if !self.resend.is_empty() {
            self.resend.retain(|&r| r != id);
        }
        self.inflight -= 1;
        self.store.publish_completed(id);
    }

    // ------------------------------------------------- subscribe, unsubscribe

    /// Subscribes to filters. The outcome is an [`Event::Subscribed`] with the
    /// returned token, one result per filter.
    pub fn subscribe(
        &mut self,
        filters: Vec<(TopicFilter, SubscriptionOptions)>,
        properties: SubscribeProperties,
        now: Instant,
    ) -> Result<Token, RequestError> {
        let probe = Subscribe {
            packet_id: PacketId::MIN,
            filters,
            properties: properties.into(),
        };
        probe.encoded_len(self.version)?;
        let token = self.token();
        self.requests.push_back(Request::Subscribe {
            token,
            filters: probe.filters,
            properties: probe.properties.into_inner(),
        });
        self.pump_requests(None, now);
        Ok(token)
    }

    /// Unsubscribes from filters. The outcome is an [`Event::Unsubscribed`].
    pub fn unsubscribe(
        &mut self,
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
        now: Instant,
    ) -> Result<Token, RequestError> {
        let probe = Unsubscribe {
            packet_id: PacketId::MIN,
            filters,
            properties: properties.into(),
        };
        probe.encoded_len(self.version)?;
        let token = self.token();
        self.requests.push_back(Request::Unsubscribe {
            token,
            filters: probe.filters,
            properties: probe.properties.into_inner(),
        });
        self.pump_requests(None, now);
        Ok(token)
    }

    /// Sends waiting requests, those before `until` only if given.
    fn pump_requests(&mut self, until: Option<Token>, now: Instant) {
        if self.requests.is_empty() || self.conn != Conn::Connected {
            return;
        }
        while self
            .requests
            .front()
            .is_some_and(|r| until.is_none_or(|u| r.token() < u))
            && let Some(request) = self.requests.pop_front()
        {
            let (token, filters_len) = match &request {
                Request::Subscribe { token, filters, .. } => (*token, filters.len()),
                Request::Unsubscribe { token, filters, .. } => (*token, filters.len()),
            };
            if let Err(error) = self.check_request(&request) {
                self.fail_request(&request, error);
                continue;
            }
            let slot = match request {
                Request::Subscribe { .. } => Slot::Subscribe {
                    token,
                    filters: filters_len,
                },
                Request::Unsubscribe { .. } => Slot::Unsubscribe {
                    token,
                    filters: filters_len,
                },
            };
            let Some(id) = self.slots.allocate(slot) else {
                self.requests.push_front(request);
                break;
            };
            let packet = match request {
                Request::Subscribe {
                    filters,
                    properties,
                    ..
                } => Packet::Subscribe(Subscribe {
                    packet_id: id,
                    filters,
                    properties: properties.into(),
                }),
                Request::Unsubscribe {
                    filters,
                    properties,
                    ..
                } => Packet::Unsubscribe(Unsubscribe {
                    packet_id: id,
                    filters,
                    properties: properties.into(),
                }),
            };
            if let Some(max) = self.server.maximum_packet_size {
                let size = packet.encoded_len(self.version).unwrap_or(usize::MAX);
                if size > max as usize {
                    let slot = self.slots.remove(id);
                    let error = RequestError::PacketTooLarge { size, max };
                    self.fail_slot(slot, error);
                    continue;
                }
            }
            self.write(&packet, now);
        }
    }

    /// What the server said it lacks (MQTT 5 CONNACK).
    fn check_request(&self, request: &Request) -> Result<(), RequestError> {
        let Request::Subscribe {
            filters,
            properties,
            ..
        } = request
        else {
            return Ok(());
        };
        if !self.server.wildcard_available && filters.iter().any(|(f, _)| f.has_wildcards()) {
            return Err(RequestError::NotSupported("wildcard subscriptions"));
        }
        if !self.server.shared_available && filters.iter().any(|(f, _)| f.is_shared()) {
            return Err(RequestError::NotSupported("shared subscriptions"));
        }
        if !self.server.subscription_ids_available && properties.subscription_identifier.is_some() {
            return Err(RequestError::NotSupported("subscription identifiers"));
        }
        Ok(())
    }

    fn fail_request(&mut self, request: &Request, error: RequestError) {
        let subscribe = matches!(request, Request::Subscribe { .. });
        self.fail_requested(subscribe, request.token(), error);
    }

    fn fail_slot(&mut self, slot: Option<Slot>, error: RequestError) {
        match slot {
            Some(Slot::Subscribe { token, .. }) => self.fail_requested(true, token, error),
            Some(Slot::Unsubscribe { token, .. }) => self.fail_requested(false, token, error),
            _ => {}
        }
    }

    /// The one failure event of a subscribe (`true`) or unsubscribe request.
    fn fail_requested(&mut self, subscribe: bool, token: Token, error: RequestError) {
        let properties = AckProperties::default();
        self.events.push_back(if subscribe {
            Event::Subscribed {
                token,
                result: Err(error),
                properties,
            }
        } else {
            Event::Unsubscribed {
                token,
                result: Err(error),
                properties,
            }
        });
    }

    fn handle_suback(&mut self, ack: SubAck) {
        let id = ack.packet_id;
        let Some(Slot::Subscribe { token, filters }) = self.slots.get_mut(id).cloned() else {
            return;
        };
        if ack.reasons.len() != filters {
            self.violation(ProtocolError::ReasonCountMismatch(PacketType::SubAck));
            return;
        }
        self.slots.remove(id);
        let results = ack
            .reasons
            .iter()
            .map(|r: &SubAckReason| r.granted_qos().ok_or(*r))
            .collect();
        self.events.push_back(Event::Subscribed {
            token,
            result: Ok(results),
            properties: ack.properties.into_inner(),
        });
    }

    fn handle_unsuback(&mut self, ack: UnsubAck) {
        let id = ack.packet_id;
        let Some(Slot::Unsubscribe { token, filters }) = self.slots.get_mut(id).cloned() else {
            return;
        };
        let reasons = if self.version.is_v5() {
            if ack.reasons.len() != filters {
                self.violation(ProtocolError::ReasonCountMismatch(PacketType::UnsubAck));
                return;
            }
            ack.reasons
        } else {
            vec![UnsubAckReason::Success; filters]
        };
        self.slots.remove(id);
        self.events.push_back(Event::Unsubscribed {
            token,
            result: Ok(reasons),
            properties: ack.properties.into_inner(),
        });
    }

    // ------------------------------------------------------------ keep-alive

    /// Sends a PINGREQ now (unless one is outstanding); [`Event::Pong`]
    /// follows the PINGRESP.
    pub fn ping(&mut self, now: Instant) -> Result<(), StateError> {
        if self.conn != Conn::Connected {
            return Err(StateError::NotConnected);
        }
        self.ping_requested = true;
        if self.ping_deadline.is_none() {
            self.send_ping(now);
        }
        Ok(())
    }

    fn send_ping(&mut self, now: Instant) {
        self.write(&Packet::PingReq, now);
        self.ping_deadline = Some(now + self.ping_wait());
    }

    /// How long a PINGREQ waits for its PINGRESP: `ping_timeout`, but at
    /// most half the Keep Alive. A keep-alive PINGREQ goes out at the
    /// latest `keep_alive` after the last packet, so a link that went
    /// silent (half-open: no RST, no FIN) is declared dead within 1.5 x
    /// Keep Alive, the bound a server keeps for its clients
    /// (MQTT-3.1.2-22; 3.1.1: MQTT-3.1.2-24).
    fn ping_wait(&self) -> Duration {
        if self.keep_alive.is_zero() {
            self.options.ping_timeout
        } else {
            self.options.ping_timeout.min(self.keep_alive / 2)
        }
    }

    /// When the next keep-alive PINGREQ is due: once nothing was sent, or
    /// nothing received, for `keep_alive - ping_margin`. The first is the
    /// rule of MQTT-3.1.2-20 (5.0; 3.1.1 MQTT-3.1.2-23); the second makes a
    /// client that keeps sending to a broker that went silent notice it
    /// (distmqtt bug #5): its PINGRESP deadline closes the connection.
    fn next_ping(&self) -> Option<Instant> {
        if self.conn != Conn::Connected || self.keep_alive.is_zero() || self.ping_deadline.is_some()
        {
            return None;
        }
        let interval = self.keep_alive.saturating_sub(self.options.ping_margin);
        // While input is paused the server's silence is not known: only
        // our own keeps the rule of MQTT-3.1.2-20.
        let received = self.last_received.filter(|_| self.input_paused.is_none());
        let quiet_since = match (self.last_sent, received) {
            (Some(sent), Some(received)) => Some(sent.min(received)),
            (a, b) => a.or(b),
        };
        quiet_since.map(|t| t + interval.max(Duration::from_millis(1)))
    }

    /// The next instant at which [`Session::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let conn = match self.conn {
            Conn::Disconnected => None,
            Conn::Connecting { deadline } | Conn::Verifying { deadline } => Some(deadline),
            Conn::Connected => match (
                self.next_ping(),
                self.ping_deadline.filter(|_| self.input_paused.is_none()),
            ) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        };
        match (conn, self.queue_expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Drops the queued publishes whose expiry has passed, each with
    /// [`PublishError::Expired`], in queue order.
    fn expire_queued(&mut self, now: Instant) {
        if self.queue_expiry.is_none_or(|at| now < at) {
            return;
        }
        let mut earliest: Option<Instant> = None;
        let events = &mut self.events;
        self.queue.retain(|q| match q.expires {
            Some(at) if now >= at => {
                events.push_back(Event::Published {
                    token: q.token,
                    result: Err(PublishError::Expired),
                });
                false
            }
            Some(at) => {
                earliest = Some(earliest.map_or(at, |e| e.min(at)));
                true
            }
            None => true,
        });
        self.queue_expiry = earliest;
    }

    /// Handles the timers due at `now`: CONNACK deadline, keep-alive PINGREQ,
    /// PINGRESP deadline, expiry of queued publishes.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire_queued(now);
        match self.conn {
            Conn::Disconnected => {}
            Conn::Connecting { deadline } | Conn::Verifying { deadline } => {
                if now >= deadline {
                    self.close(CloseReason::ConnAckTimeout);
                }
            }
            Conn::Connected => {
                if self.input_paused.is_none() && self.ping_deadline.is_some_and(|d| now >= d) {
                    self.close(CloseReason::PingTimeout);
                } else if self.next_ping().is_some_and(|t| now >= t) {
                    self.send_ping(now);
                }
            }
        }
    }

    /// The transport is no longer read for now: the application is behind
    /// (its receivers are full) and the driver stops reading, so that TCP
    /// slows the server down. Until [`Session::resume_input`] the server's
    /// silence is not counted and a PINGRESP deadline does not expire: the
    /// PINGRESP may be waiting, unread, behind the messages the
    /// application has not taken yet. A PINGREQ still goes out when
    /// nothing was sent for the keep-alive interval (MQTT-3.1.2-20).
    pub fn pause_input(&mut self, now: Instant) {
        if self.input_paused.is_none() {
            self.input_paused = Some(now);
        }
    }

    /// The transport is read again: a PINGRESP deadline that passed while
    /// input was paused gets a fresh wait from `now`, and the server's
    /// silence counts from `now`.
    pub fn resume_input(&mut self, now: Instant) {
        if self.input_paused.take().is_none() {
            return;
        }
        let wait = self.ping_wait();
        if let Some(deadline) = &mut self.ping_deadline {
            *deadline = (*deadline).max(now + wait);
        }
        if self.conn == Conn::Connected {
            self.last_received = Some(self.last_received.map_or(now, |r| r.max(now)));
        }
    }

    /// Whether input is paused ([`Session::pause_input`]).
    pub fn is_input_paused(&self) -> bool {
        self.input_paused.is_some()
    }

    // ------------------------------------------------------ closing, auth

    /// Sends DISCONNECT (normal, or the given one in MQTT 5) and ends the
    /// connection. Unacknowledged publishes stay for the next connect.
    pub fn disconnect(
        &mut self,
        disconnect: Option<Disconnect>,
        now: Instant,
    ) -> Result<(), StateError> {
        match self.conn {
            Conn::Disconnected => return Err(StateError::NotConnected),
            Conn::Connecting { .. } | Conn::Verifying { .. } => {}
            Conn::Connected => {
                let d = disconnect
                    .filter(|_| self.version.is_v5())
                    .unwrap_or_default();
                self.write(&Packet::Disconnect(d), now);
            }
        }
        self.close(CloseReason::ClientDisconnect);
        Ok(())
    }

    /// Sends an AUTH packet (MQTT 5 enhanced authentication): before
    /// CONNACK the answer to the server's AUTH 0x18 (Continue
    /// Authentication) [MQTT-4.12.0-3]; once connected AUTH 0x19
    /// (Re-authenticate) starts a re-authentication [MQTT-4.12.1-1], whose
    /// challenges are answered with 0x18 until the server's AUTH 0x00
    /// ([`Event::AuthSuccess`]) or DISCONNECT.
    ///
    /// Only with an Authentication Method in the options (CONNECT's)
    /// [MQTT-4.12.0-7]; an AUTH without a method gets that one, an AUTH with
    /// another is refused [MQTT-4.12.0-5, MQTT-4.12.1-1].
    pub fn auth(&mut self, mut auth: Auth, now: Instant) -> Result<(), StateError> {
        if !self.version.is_v5() {
            return Err(StateError::AuthNeedsV5);
        }
        let Some(method) = &self.options.properties.authentication_method else {
            return Err(StateError::InvalidAuth(
                "AUTH without an Authentication Method in CONNECT [MQTT-4.12.0-7]",
            ));
        };
        match &auth.properties.authentication_method {
            None => auth.properties.authentication_method = Some(method.clone()),
            Some(m) if m != method => {
                return Err(StateError::InvalidAuth(
                    "an Authentication Method other than CONNECT's [MQTT-4.12.1-1]",
                ));
            }
            Some(_) => {}
        }
        match (self.conn, auth.reason) {
            (Conn::Disconnected | Conn::Verifying { .. }, _) => {
                return Err(StateError::NotConnected);
            }
            (Conn::Connecting { .. }, AuthReason::ContinueAuthentication) => {}
            (Conn::Connected, AuthReason::ReAuthenticate) if !self.reauthenticating => {
                self.reauthenticating = true;
            }
            (Conn::Connected, AuthReason::ContinueAuthentication) if self.reauthenticating => {}
            _ => {
                return Err(StateError::InvalidAuth(
                    "this AUTH reason code is not the client's to send now [MQTT-4.12.0-3, MQTT-4.12.1-1]",
                ));
            }
        }
        self.write(&Packet::Auth(auth), now);
        Ok(())
    }

    /// Whether a re-authentication the client started is under way.
    pub fn is_reauthenticating(&self) -> bool {
        self.reauthenticating
    }

    /// The application accepted the server's final Authentication Data
    /// ([`Event::AuthSuccess`]). After a CONNACK the connection is
    /// established now ([`Event::Connected`] follows, then what came
    /// behind the CONNACK); after a re-authentication nothing changes.
    pub fn accept_auth(&mut self, now: Instant) {
        if let Conn::Verifying { .. } = self.conn
            && let Some(ack) = self.held_connack.take()
        {
            self.accept_connack(ack, now);
            self.process_input(now);
        }
    }

    /// The application ends an enhanced authentication it cannot go on
    /// with: it could not answer a challenge, or refused the server's final
    /// data. DISCONNECT 0x83 (Implementation specific error: 0x87 Not
    /// authorized is the server's alone, Table 3-10) goes out, also before
    /// CONNACK [MQTT-3.1.2-30, MQTT-4.12.1-2], and the connection closes
    /// with [`CloseReason::AuthAborted`].
    pub fn abort_auth(&mut self, now: Instant) -> Result<(), StateError> {
        if !self.version.is_v5() {
            return Err(StateError::AuthNeedsV5);
        }
        if self.conn == Conn::Disconnected {
            return Err(StateError::NotConnected);
        }
        let d = Disconnect::new(DisconnectReason::ImplementationSpecificError);
        self.write(&Packet::Disconnect(d), now);
        self.close(CloseReason::AuthAborted);
        Ok(())
    }

    /// An AUTH from the server: only with CONNECT's Authentication Method
    /// [MQTT-4.12.0-5, MQTT-4.12.0-6]; 0x18 (Continue Authentication)
    /// before CONNACK [MQTT-4.12.0-2] or during a re-authentication the
    /// client started, 0x00 (Success) only to end that re-authentication.
    fn handle_auth(&mut self, auth: Auth) {
        if let Err(e) = self.check_auth_method(auth.properties.authentication_method.as_ref()) {
            self.violation(e);
            return;
        }
        let expected = match (self.conn, auth.reason) {
            (Conn::Connecting { .. }, AuthReason::ContinueAuthentication) => true,
            (Conn::Connected, AuthReason::ContinueAuthentication | AuthReason::Success) => {
                self.reauthenticating
            }
            _ => false,
        };
        if !expected {
            self.violation(ProtocolError::UnexpectedAuth(auth.reason));
        } else if auth.reason == AuthReason::Success {
            self.reauthenticating = false;
            let data = auth.properties.into_inner().authentication_data;
            self.events.push_back(Event::AuthSuccess { data });
        } else {
            self.events.push_back(Event::Auth(auth));
        }
    }

    /// The Authentication Method of a CONNACK or AUTH from the server
    /// against CONNECT's.
    fn check_auth_method(&self, theirs: Option<&MqttString>) -> Result<(), ProtocolError> {
        match (&self.options.properties.authentication_method, theirs) {
            (None, None) => Ok(()),
            // [MQTT-4.12.0-6]
            (None, Some(_)) => Err(ProtocolError::AuthWithoutMethod),
            (Some(ours), theirs) if theirs == Some(ours) => Ok(()),
            // [MQTT-4.12.0-5]
            (Some(ours), theirs) => Err(ProtocolError::AuthMethodMismatch {
                expected: ours.clone(),
                received: theirs.cloned(),
            }),
        }
    }

    /// The transport failed or closed. In-flight publishes are kept for
    /// redelivery; subscribe and unsubscribe requests that were sent fail
    /// with [`RequestError::ConnectionLost`].
    pub fn connection_lost(&mut self, _now: Instant) {
        if self.conn != Conn::Disconnected {
            self.close(CloseReason::ConnectionLost);
        }
        self.tx.clear();
        self.chunks.clear();
    }

    /// Gives up the session: every queued and in-flight publish and every
    /// request fails with `Abandoned`. For a client that stops reconnecting.
    /// The store keeps what was in flight (no `publish_completed`): a
    /// persistent store resumes it in the next process.
    pub fn abandon(&mut self) {
        // Taken before `close`, which would fail the requests in flight with
        // `ConnectionLost` instead of `Abandoned`.
        let slots = self.slots.drain_where(|_| true);
        if self.conn != Conn::Disconnected {
            self.close(CloseReason::ClientDisconnect);
        }
        let mut flights: Vec<OutFlight> = Vec::new();
        for (_, slot) in slots {
            match slot {
                Slot::Publish(f) => flights.push(f),
                other => self.fail_slot(Some(other), RequestError::Abandoned),
            }
        }
        flights.sort_by_key(|f| f.seq);
        // The store is not told: what was in flight stays recorded, for a
        // later process to resume (`restore`).
        for f in flights {
            self.events.push_back(Event::Published {
                token: f.token,
                result: Err(PublishError::Abandoned),
            });
        }
        self.inflight = 0;
        self.queue_expiry = None;
        while let Some(q) = self.queue.pop_front() {
            self.events.push_back(Event::Published {
                token: q.token,
                result: Err(PublishError::Abandoned),
            });
        }
        while let Some(r) = self.requests.pop_front() {
            self.fail_request(&r, RequestError::Abandoned);
        }
    }

    /// A protocol violation by the broker: DISCONNECT with the reason (MQTT 5,
    /// also before CONNACK), then close.
    fn violation(&mut self, error: ProtocolError) {
        // Before CONNACK too: the client may send DISCONNECT once CONNECT is
        // out, and SHOULD report the error with it (§4.13.1).
        if self.version.is_v5() && self.conn != Conn::Disconnected {
            let d = Disconnect::new(error.disconnect_reason());
            let mut buf = core::mem::take(&mut self.tx);
            let _ = Packet::Disconnect(d).encode(self.version, &mut buf);
            self.tx = buf;
        }
        self.close(CloseReason::ProtocolViolation(error));
    }

    fn close(&mut self, reason: CloseReason) {
        self.conn = Conn::Disconnected;
        // An authentication in progress ends with its connection.
        self.held_connack = None;
        self.reauthenticating = false;
        self.ping_deadline = None;
        self.input_paused = None;
        self.ping_requested = false;
        // The next resumed connection resends from the slots again.
        self.resend.clear();
        // Requests sent on this connection will never be answered.
        for (_, slot) in self.slots.drain_where(|s| !matches!(s, Slot::Publish(_))) {
            self.fail_slot(Some(slot), RequestError::ConnectionLost);
        }
        // QoS 1 acknowledgements owed are void: the broker redelivers.
        self.owed.retain(|o| o.qos == QoS::ExactlyOnce);
        self.incoming_qos1_unacked = 0;
        self.events.push_back(Event::Closed(reason));
    }

    // ----------------------------------------------------------------- output

    /// Keeps room in the transmit buffer so that encoding does not allocate
    /// per packet, in steps that follow the output waiting to be taken.
    fn tx_room(&mut self) {
        if self.tx.capacity() - self.tx.len() < TX_ROOM {
            let step = (self.tx.len() * 2)
                .next_power_of_two()
                .clamp(TX_FIRST_CHUNK, TX_CHUNK);
            self.tx.reserve(step);
        }
    }

    fn write(&mut self, packet: &Packet, now: Instant) {
        self.tx_room();
        // Packets built here are valid by construction; a failure would be a bug
        // that must not take the process down.
        if packet.encode(self.version, &mut self.tx).is_ok() {
            self.last_sent = Some(now);
        }
    }

    /// Encodes a PUBLISH, applying an automatic topic alias (MQTT 5) and
    /// handing a large payload over by reference.
    fn write_publish(&mut self, publish: &Publish, now: Instant) {
        self.tx_room();
        let aliased;
        let publish = match self.outbound_alias(publish) {
            Some(p) => {
                aliased = p;
                &aliased
            }
            None => publish,
        };
        let big = publish.payload.len() >= self.options.zero_copy_threshold;
        let ok = if big {
            let r = publish.encode_without_payload(self.version, &mut self.tx);
            if r.is_ok() {
                self.chunks.push_back(self.tx.split().freeze());
                self.chunks.push_back(publish.payload.clone());
            }
            r.is_ok()
        } else {
            publish.encode(self.version, &mut self.tx).is_ok()
        };
        if ok {
            self.last_sent = Some(now);
        }
    }

    fn outbound_alias(&mut self, publish: &Publish) -> Option<Publish> {
        if !self.options.auto_topic_alias
            || !self.version.is_v5()
            || self.server.topic_alias_maximum == 0
        {
            return None;
        }
        // The alias must not push the packet over the server's Maximum
        // Packet Size [MQTT-3.2.2-15]; the publish then goes out in full.
        let (max, version) = (self.server.maximum_packet_size, self.version);
        let fits =
            |p: &Publish| max.is_none_or(|m| p.encoded_len(version).is_ok_and(|n| n <= m as usize));
        if let Some(&alias) = self.outbound_aliases.get(&publish.topic) {
            let mut p = publish.clone();
            p.topic = TopicName::alias_only();
            p.properties.topic_alias = Some(alias);
            return fits(&p).then_some(p);
        }
        let next = self.outbound_aliases.len() + 1;
        if next > usize::from(self.server.topic_alias_maximum) {
            return None;
        }
        let alias = NonZeroU16::new(next as u16)?;
        let mut p = publish.clone();
        p.properties.topic_alias = Some(alias);
        if !fits(&p) {
            return None;
        }
        self.outbound_aliases.insert(publish.topic.clone(), alias);
        Some(p)
    }

    /// The next bytes to write to the transport, if any. Write them all, in
    /// order, before the next call returns more.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if let Some(chunk) = self.chunks.pop_front() {
            return Some(chunk);
        }
        if self.tx.is_empty() {
            None
        } else {
            Some(self.tx.split().freeze())
        }
    }

    /// Bytes encoded and not yet taken by [`Session::poll_transmit`].
    pub fn pending_transmit(&self) -> usize {
        self.tx.len() + self.chunks.iter().map(Bytes::len).sum::<usize>()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}
