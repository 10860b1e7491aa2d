//! Errors of the client API.

use sansmqtt_proto::{DecodeError, EncodeError, SubAckReason, TopicError};
use sansmqtt_session::{CloseReason, PublishError, RequestError};

use crate::ConnectError;
use crate::config::ConfigError;

/// Why a client call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// A topic name or filter is invalid.
    #[error("invalid topic: {0}")]
    Topic(#[from] TopicError),
    /// The publish failed (refused, too large, session lost, ...).
    #[error("publish failed: {0}")]
    Publish(#[from] PublishError),
    /// The subscribe or unsubscribe failed.
    #[error("request failed: {0}")]
    Request(#[from] RequestError),
    /// The broker refused the subscription a
    /// [`Client::subscription`](crate::Client::subscription) stream needs.
    #[error("subscription refused: {0}")]
    SubscribeRefused(SubAckReason),
    /// The packet cannot be encoded.
    #[error("cannot encode: {0}")]
    Encode(#[from] EncodeError),
    /// The broker refused the connection or closed it.
    #[error("connection closed: {0}")]
    Connection(CloseReason),
    /// The first connection could not be made (transport, timeout, loss
    /// before CONNACK, retries spent), or the session could not start one.
    #[error("cannot connect: {0}")]
    Connect(#[from] ConnectError),
    /// [`Client::disconnect_with`](crate::Client::disconnect_with) refused
    /// its options; nothing was sent.
    #[error("cannot disconnect so: {0}")]
    Disconnect(#[from] crate::DisconnectError),
    /// The client was shut down (disconnect, or reconnection gave up).
    #[error("client closed")]
    Closed,
    /// The call needs an MQTT 5 connection (request / response: MQTT
    /// 3.1.1 has no Response Topic); the client's is MQTT 3.1.x.
    #[error("{0} needs MQTT 5; the connection uses MQTT 3.1.x")]
    NeedsMqtt5(&'static str),
    /// The message has no Response Topic to answer to
    /// ([`Client::respond`](crate::Client::respond)).
    #[error("the message has no response topic")]
    NoResponseTopic,
    /// No answer within the deadline.
    #[error("timed out")]
    Timeout,
    /// The session file (config key `persistence`) cannot be read, written
    /// or restored.
    #[error("session persistence: {0}")]
    Persistence(String),
    /// A malformed packet.
    #[error("malformed packet: {0}")]
    Decode(#[from] DecodeError),
    /// A payload codec failed: the codec is unknown, or the value does not
    /// encode (the payload calls of [`crate::payload`]).
    #[cfg(feature = "payload")]
    #[error(transparent)]
    Payload(#[from] crate::payload::PayloadError),
}

/// For conversions that cannot fail (a [`TopicName`](crate::TopicName)
/// given where a topic is expected).
impl From<std::convert::Infallible> for ClientError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}
