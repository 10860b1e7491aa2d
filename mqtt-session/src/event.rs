//! What the session tells the application: events, tokens and errors.

use alloc::boxed::Box;
use alloc::vec::Vec;
use bytes::Bytes;
use sansmqtt_proto::{
    AckProperties, Auth, AuthReason, ConnAckProperties, ConnectReason, DecodeError,
    DisconnectProperties, DisconnectReason, EncodeError, MqttString, PacketType, ProtocolVersion,
    PubAckReason, PubRecReason, Publish, QoS, SubAckReason, UnsubAckReason,
};

/// Identifies one publish, subscribe or unsubscribe request; its outcome is
/// reported by an event carrying the same token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub(crate) u64);

impl Token {
    /// The token's number (unique within a session, increasing).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Identifies an inbound QoS 1 or 2 message to acknowledge with
/// [`crate::Session::ack`] when manual acknowledgement is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AckId(pub(crate) u64);

/// A message received from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The PUBLISH, with any topic alias resolved to its topic name.
    pub publish: Publish,
    /// Present when manual acknowledgement is on and QoS > 0.
    pub ack: Option<AckId>,
}

/// The broker accepted the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// Whether the broker resumed an existing session.
    pub session_present: bool,
    /// The CONNACK properties (MQTT 5): limits, assigned client id, ...
    pub properties: Box<ConnAckProperties>,
}

/// How a publish ended well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishDone {
    /// QoS 0: handed to the transmit queue; QoS 1: PUBACK; QoS 2: PUBCOMP.
    pub qos: QoS,
    /// MQTT 5 PUBACK reason below 0x80 (e.g. No matching subscribers), if any.
    pub reason: Option<PubAckReason>,
}

/// An event for the application, drained with [`crate::Session::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// CONNACK accepted the connection.
    Connected(Connected),
    /// A message arrived.
    Message(Message),
    /// A publish ended: acknowledged, or failed.
    Published {
        /// The publish's token.
        token: Token,
        /// How it ended.
        result: Result<PublishDone, PublishError>,
    },
    /// A SUBSCRIBE ended: one result per filter, in order.
    Subscribed {
        /// The request's token.
        token: Token,
        /// Granted QoS or refusal per filter, or why the request failed.
        result: Result<Vec<Result<QoS, SubAckReason>>, RequestError>,
        /// SUBACK properties (MQTT 5).
        properties: AckProperties,
    },
    /// An UNSUBSCRIBE ended: one reason per filter (all `Success` in 3.1.1).
    Unsubscribed {
        /// The request's token.
        token: Token,
        /// Per-filter reason, or why the request failed.
        result: Result<Vec<UnsubAckReason>, RequestError>,
        /// UNSUBACK properties (MQTT 5).
        properties: AckProperties,
    },
    /// PINGRESP arrived for a ping the application asked for.
    Pong,
    /// An AUTH 0x18 (Continue Authentication) from the server, MQTT 5
    /// enhanced authentication: answer with [`crate::Session::auth`] (AUTH
    /// 0x18 with the response), or give up with
    /// [`crate::Session::abort_auth`]. Its method is CONNECT's (checked).
    Auth(Auth),
    /// The server ended an enhanced authentication successfully: a CONNACK
    /// accepted the connection (CONNECT had an Authentication Method), or
    /// its AUTH 0x00 ended a re-authentication. `data` is its final
    /// Authentication Data (e.g. SCRAM's server signature) for the
    /// application to check: [`crate::Session::accept_auth`], or
    /// [`crate::Session::abort_auth`]. After a CONNACK nothing is sent and
    /// [`Event::Connected`] waits for that answer.
    AuthSuccess {
        /// The server's Authentication Data, if any.
        data: Option<Bytes>,
    },
    /// The connection is over; unacknowledged publishes stay for redelivery
    /// on the next connect. The transport should be flushed and closed.
    Closed(CloseReason),
}

/// Why the connection ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CloseReason {
    /// The server does not speak the protocol version of CONNECT: a
    /// CONNACK with reason 0x84 Unsupported Protocol Version (MQTT 5) or
    /// return code 0x01 "unacceptable protocol version" (3.1.1), including
    /// the 3.1.1 CONNACK (remaining length 2) a 3.1.1-only server answers
    /// an MQTT 5 CONNECT with (3.1.1 [MQTT-3.1.2-2]: "respond with the
    /// CONNACK return code 0x01 (unacceptable protocol level) and then
    /// disconnect"). Not a [`CloseReason::Refused`], so that a client can
    /// tell it apart and fall back to an older version.
    #[error(
        "connection refused: the server does not support MQTT {requested} (unacceptable protocol version)"
    )]
    UnsupportedProtocolVersion {
        /// The version of the CONNECT the server refused.
        requested: ProtocolVersion,
        /// The CONNACK properties (MQTT 5 CONNACK 0x84 only: Reason
        /// String, Server Reference, ...).
        properties: Box<ConnAckProperties>,
    },
    /// CONNACK refused the connection (for any reason but the protocol
    /// version: [`CloseReason::UnsupportedProtocolVersion`]).
    #[error("connection refused: {reason}")]
    Refused {
        /// The broker's reason (3.1.1 return codes map to these).
        reason: ConnectReason,
        /// CONNACK properties (e.g. Server Reference, Reason String).
        properties: Box<ConnAckProperties>,
    },
    /// The broker sent DISCONNECT (MQTT 5).
    #[error("disconnected by the server: {reason}")]
    ServerDisconnect {
        /// The broker's reason.
        reason: DisconnectReason,
        /// DISCONNECT properties.
        properties: Box<DisconnectProperties>,
    },
    /// The broker broke the protocol; in MQTT 5 a DISCONNECT with the
    /// matching reason code was queued first.
    #[error("protocol violation by the server: {0}")]
    ProtocolViolation(ProtocolError),
    /// No CONNACK within the connect timeout.
    #[error("no CONNACK within the connect timeout")]
    ConnAckTimeout,
    /// No PINGRESP within the ping timeout: the connection is half-open.
    #[error("no PINGRESP within the ping timeout (half-open connection)")]
    PingTimeout,
    /// The application disconnected.
    #[error("disconnected by the client")]
    ClientDisconnect,
    /// The application ended an enhanced authentication (MQTT 5) it could
    /// not go on with ([`crate::Session::abort_auth`]): DISCONNECT 0x83 was
    /// sent.
    #[error("authentication aborted by the client")]
    AuthAborted,
    /// The transport reported the connection lost.
    #[error("connection lost")]
    ConnectionLost,
}

impl CloseReason {
    /// Whether the broker refused the connection in CONNACK (for any
    /// reason, the protocol version included): trying again as it is
    /// would be refused again.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::Refused { .. } | Self::UnsupportedProtocolVersion { .. }
        )
    }
}

/// A violation of the protocol by the broker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A malformed packet or one above our maximum size.
    #[error("malformed packet: {0}")]
    Decode(#[from] DecodeError),
    /// A packet a server may not send, or not in this state.
    #[error("unexpected {0:?} packet")]
    UnexpectedPacket(PacketType),
    /// Session Present set although Clean Start was requested [MQTT-3.2.2-2].
    #[error("session present in answer to clean start [MQTT-3.2.2-2]")]
    SessionPresentOnCleanStart,
    /// Topic Alias 0 or above our Topic Alias Maximum [MQTT-3.3.2-9].
    #[error("topic alias {0} is out of range [MQTT-3.3.2-9]")]
    TopicAliasInvalid(u16),
    /// An empty topic with an alias never defined on this connection.
    #[error("topic alias {0} was never defined")]
    UnknownTopicAlias(u16),
    /// More unacknowledged QoS > 0 publishes than our Receive Maximum [MQTT-3.3.4-9].
    #[error("receive maximum exceeded [MQTT-3.3.4-9]")]
    ReceiveMaximumExceeded,
    /// A SUBACK or UNSUBACK whose reason count differs from the request's filters [MQTT-3.9.3-1].
    #[error("{0:?} has a reason count different from the request's filters")]
    ReasonCountMismatch(PacketType),
    /// AUTH, or an Authentication Method in CONNACK, although CONNECT had
    /// no Authentication Method [MQTT-4.12.0-6].
    #[error("authentication from a server the client did not ask for it [MQTT-4.12.0-6]")]
    AuthWithoutMethod,
    /// AUTH or a successful CONNACK without CONNECT's Authentication Method
    /// [MQTT-4.12.0-5].
    #[error("authentication method {received:?} instead of CONNECT's {expected:?} [MQTT-4.12.0-5]")]
    AuthMethodMismatch {
        /// CONNECT's Authentication Method.
        expected: MqttString,
        /// The server's (absent: `None`).
        received: Option<MqttString>,
    },
    /// AUTH with a reason code the server may not send now: 0x19 (the
    /// client's), 0x00 outside a re-authentication, 0x18 after CONNACK
    /// outside a re-authentication [MQTT-4.12.0-2, MQTT-4.12.1-1].
    #[error("unexpected AUTH ({0})")]
    UnexpectedAuth(AuthReason),
}

impl ProtocolError {
    /// The MQTT 5 DISCONNECT reason that reports this violation.
    pub fn disconnect_reason(&self) -> DisconnectReason {
        match self {
            Self::Decode(DecodeError::PacketTooLarge { .. }) => DisconnectReason::PacketTooLarge,
            Self::Decode(_) => DisconnectReason::MalformedPacket,
            Self::TopicAliasInvalid(_) => DisconnectReason::TopicAliasInvalid,
            Self::ReceiveMaximumExceeded => DisconnectReason::ReceiveMaximumExceeded,
            _ => DisconnectReason::ProtocolError,
        }
    }
}

/// Why a publish failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The queue of publishes waiting for the connection or an in-flight slot is full.
    #[error("publish queue full ({0} waiting)")]
    QueueFull(usize),
    /// The broker started a new session; the publish was not acknowledged.
    #[error("the broker did not resume the session; the publish was not acknowledged")]
    SessionLost,
    /// PUBACK with a reason code of 0x80 or above (MQTT 5).
    #[error("refused by the broker (PUBACK {0})")]
    RefusedPubAck(PubAckReason),
    /// PUBREC with a reason code of 0x80 or above (MQTT 5).
    #[error("refused by the broker (PUBREC {0})")]
    RefusedPubRec(PubRecReason),
    /// Larger than the broker's Maximum Packet Size.
    #[error("packet of {size} bytes exceeds the server's maximum of {max}")]
    PacketTooLarge {
        /// Encoded size.
        size: usize,
        /// The broker's maximum.
        max: u32,
    },
    /// QoS above the broker's Maximum QoS [MQTT-3.2.2-11].
    #[error("QoS {qos:?} above the server's maximum {max:?} [MQTT-3.2.2-11]")]
    QoSNotSupported {
        /// Requested QoS.
        qos: QoS,
        /// Broker's maximum.
        max: QoS,
    },
    /// Retain requested but the broker has none [MQTT-3.2.2-14].
    #[error("retain not available on this server [MQTT-3.2.2-14]")]
    RetainNotSupported,
    /// The packet cannot be encoded.
    #[error("cannot encode: {0}")]
    Encode(#[from] EncodeError),
    /// The session was abandoned (e.g. the client gave up reconnecting).
    #[error("session abandoned")]
    Abandoned,
    /// Still waiting to be sent when its expiry passed
    /// ([`Session::publish_until`](crate::Session::publish_until)): dropped,
    /// never sent.
    #[error("expired before it could be sent")]
    Expired,
}

/// Why a subscribe, unsubscribe or other request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The connection was lost before the acknowledgement.
    #[error("connection lost before the acknowledgement")]
    ConnectionLost,
    /// The broker said it does not support this (CONNACK of MQTT 5).
    #[error("not supported by the server: {0}")]
    NotSupported(&'static str),
    /// Larger than the broker's Maximum Packet Size.
    #[error("packet of {size} bytes exceeds the server's maximum of {max}")]
    PacketTooLarge {
        /// Encoded size.
        size: usize,
        /// The broker's maximum.
        max: u32,
    },
    /// The packet cannot be encoded.
    #[error("cannot encode: {0}")]
    Encode(#[from] EncodeError),
    /// The session was abandoned.
    #[error("session abandoned")]
    Abandoned,
}

/// Why [`crate::Session::ack`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// Unknown, already acknowledged, or from a connection that was lost
    /// (the broker redelivers QoS 1 messages after a reconnect).
    #[error("unknown or stale acknowledgement id")]
    Unknown,
}

/// Why a command was refused at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// `connect` while a connection is up or being set up.
    #[error("already connected or connecting")]
    AlreadyConnected,
    /// The command needs a connection.
    #[error("not connected")]
    NotConnected,
    /// [`Session::set_version`](crate::Session::set_version) on a session
    /// a broker already holds (connected once, or restored).
    #[error("the protocol version of an established session cannot change")]
    SessionEstablished,
    /// AUTH needs MQTT 5.
    #[error("AUTH requires MQTT 5")]
    AuthNeedsV5,
    /// An AUTH the specification forbids here (the requirement is named).
    #[error("invalid AUTH: {0}")]
    InvalidAuth(&'static str),
    /// The options make a CONNECT the specification forbids.
    #[error("invalid CONNECT: {0}")]
    InvalidConnect(EncodeError),
}

/// Why [`Session::restore`](crate::Session::restore) refused a saved session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// The session has connected, or holds publishes or requests already:
    /// a saved session goes into a new one, before its first `connect`.
    #[error("a saved session can only be restored into a new session")]
    NotNew,
    /// The options start every connection with a new session (3.1.1 clean
    /// session, or MQTT 5 without a Session Expiry Interval): the broker
    /// would discard what is restored.
    #[error("the options do not resume sessions (clean session, or no session expiry)")]
    NotResumable,
    /// An outgoing publish without a packet identifier, at QoS 0, or
    /// released at QoS 1.
    #[error("saved publish {0}: not an in-flight QoS 1 or 2 publish")]
    InvalidPublish(usize),
    /// A packet identifier saved twice in the same direction.
    #[error("packet identifier {0} saved twice")]
    DuplicateId(u16),
}
