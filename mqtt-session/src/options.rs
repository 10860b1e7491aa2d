//! What a session is built from: the CONNECT contents and the behaviour of
//! the state machine.

use core::time::Duration;

use bytes::Bytes;
use sansmqtt_proto::{ConnectProperties, LastWill, MqttString, ProtocolVersion};

/// What happens to unacknowledged outgoing publishes when the broker has no
/// session for us (clean start asked, or session present = 0 in CONNACK).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionLossPolicy {
    /// Each one fails with [`crate::PublishError::SessionLost`].
    #[default]
    Fail,
    /// Each one is sent again as a new publish (new packet identifier, DUP
    /// clear), in the original order, ahead of the pending queue.
    Requeue,
}

/// Options of a session: CONNECT contents and state-machine behaviour.
///
/// `Debug` never shows the password.
#[derive(Clone)]
pub struct SessionOptions {
    /// Protocol version: 3.1, 3.1.1 or 5.0.
    pub version: ProtocolVersion,
    /// Client Identifier; empty lets the broker assign one (requires clean start in 3.1.1).
    pub client_id: MqttString,
    /// Clean Session (3.1.1) / Clean Start (5). With MQTT 5 and a Session
    /// Expiry Interval above zero in `properties`, only the first
    /// connection of the session starts clean: the session is meant to
    /// outlive a connection, so a reconnection resumes it (paho's "clean
    /// start first only").
    pub clean_start: bool,
    /// Keep Alive; zero disables keep-alive pings, those for silence in
    /// either direction (see `ping_margin`; a ping the application
    /// asks for with [`crate::Session::ping`] still has its PINGRESP deadline).
    /// CONNECT carries it in whole seconds (rounded down, at most 65,535),
    /// and that is the interval the session keeps.
    pub keep_alive: Duration,
    /// A PINGREQ is sent once nothing was sent, or nothing was received,
    /// for `keep_alive - ping_margin` (the second so that a client that keeps
    /// sending notices a broker that went silent: no PINGRESP within
    /// `ping_timeout` closes the connection).
    pub ping_margin: Duration,
    /// How long to wait for PINGRESP before the connection is declared
    /// dead; at most half the Keep Alive is used, so that a silent link is
    /// declared dead within 1.5 x Keep Alive.
    pub ping_timeout: Duration,
    /// How long to wait for CONNACK after CONNECT.
    pub connect_timeout: Duration,
    /// The Will Message.
    pub will: Option<LastWill>,
    /// User Name.
    pub username: Option<MqttString>,
    /// Password (binary).
    pub password: Option<Bytes>,
    /// MQTT 5 CONNECT properties (session expiry, receive maximum, maximum
    /// packet size, topic alias maximum, ...). `receive_maximum`,
    /// `maximum_packet_size` and `topic_alias_maximum` set here are also
    /// enforced on what the broker sends.
    pub properties: ConnectProperties,
    /// Our limit of outgoing QoS 1 and 2 publishes awaiting acknowledgement;
    /// the broker's Receive Maximum lowers it further.
    pub max_inflight: u16,
    /// Bound of the queue of publishes waiting for an in-flight slot (or
    /// for the connection); beyond it `publish` fails with `QueueFull`.
    pub max_queued: usize,
    /// Assign MQTT 5 topic aliases to outgoing topics automatically, within
    /// the broker's Topic Alias Maximum.
    pub auto_topic_alias: bool,
    /// Inbound QoS 1 and 2 messages are acknowledged only when the
    /// application calls [`crate::Session::ack`] (PUBACK, or PUBREC for QoS 2).
    pub manual_ack: bool,
    /// What to do with unacknowledged publishes when the broker has no session.
    pub on_session_loss: SessionLossPolicy,
    /// Largest packet accepted from the broker when `properties` sets no
    /// Maximum Packet Size (bounds memory); whole packet, fixed header included.
    pub max_incoming_packet: u32,
    /// Payloads at least this large are handed to the transport by
    /// reference instead of being copied into the transmit buffer.
    pub zero_copy_threshold: usize,
}

impl SessionOptions {
    /// Options with the defaults of serious clients: 3.1.1, clean start,
    /// keep-alive 60 s, 10 s CONNACK and PINGRESP deadlines, 100 in flight.
    pub fn new(client_id: MqttString) -> Self {
        Self {
            version: ProtocolVersion::V3_1_1,
            client_id,
            clean_start: true,
            keep_alive: Duration::from_secs(60),
            ping_margin: Duration::ZERO,
            ping_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            will: None,
            username: None,
            password: None,
            properties: ConnectProperties::default(),
            max_inflight: 100,
            max_queued: 10_000,
            auto_topic_alias: false,
            manual_ack: false,
            on_session_loss: SessionLossPolicy::Fail,
            max_incoming_packet: 1 << 20,
            zero_copy_threshold: 4096,
        }
    }

    /// Whether the broker keeps the session once a connection ends, so that
    /// a later connection (or process) resumes it: in MQTT 3.1 and 3.1.1
    /// Clean Session 0 [MQTT-3.1.2-4] (3.1.1); in MQTT 5 a Session Expiry
    /// Interval above zero [MQTT-3.1.2-23], whatever Clean Start says of the
    /// first connection.
    pub fn keeps_session(&self) -> bool {
        if self.version.is_v5() {
            self.properties
                .session_expiry_interval
                .is_some_and(|e| e > 0)
        } else {
            !self.clean_start
        }
    }

    /// The keep-alive in whole seconds as CONNECT carries it.
    pub(crate) fn keep_alive_secs(&self) -> u16 {
        self.keep_alive.as_secs().min(u64::from(u16::MAX)) as u16
    }

    /// Our inbound limits (MQTT 5 properties, or the local bound).
    pub(crate) fn incoming_max_packet(&self) -> u32 {
        self.properties
            .maximum_packet_size
            .map_or(self.max_incoming_packet, |m| m.get())
    }

    pub(crate) fn incoming_receive_max(&self) -> u16 {
        self.properties
            .receive_maximum
            .map_or(u16::MAX, |m| m.get())
    }

    pub(crate) fn incoming_topic_alias_max(&self) -> u16 {
        self.properties.topic_alias_maximum.unwrap_or(0)
    }
}

impl core::fmt::Debug for SessionOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SessionOptions")
            .field("version", &self.version)
            .field("client_id", &self.client_id)
            .field("clean_start", &self.clean_start)
            .field("keep_alive", &self.keep_alive)
            .field("ping_margin", &self.ping_margin)
            .field("ping_timeout", &self.ping_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("will", &self.will)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("properties", &self.properties)
            .field("max_inflight", &self.max_inflight)
            .field("max_queued", &self.max_queued)
            .field("auto_topic_alias", &self.auto_topic_alias)
            .field("manual_ack", &self.manual_ack)
            .field("on_session_loss", &self.on_session_loss)
            .field("max_incoming_packet", &self.max_incoming_packet)
            .field("zero_copy_threshold", &self.zero_copy_threshold)
            .finish()
    }
}
