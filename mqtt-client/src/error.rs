//! Errors of the client API.

use sansmqtt_proto::{
    DecodeError, EncodeError, StringError, SubAckReason, SubscriptionOptions, TopicError,
    TopicFilter,
};
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
    /// A subscription stream or `subscribe_with` asked for a filter the
    /// client keeps with another No Local or Retain As Published: one broker
    /// subscription serves every user of a filter, so its first options
    /// stand. Nothing was sent.
    #[error(
        "{filter} is subscribed with no_local = {}, retain_as_published = {}: a request with other values cannot share it",
        kept.no_local,
        kept.retain_as_published
    )]
    SubscriptionConflict {
        /// The filter.
        filter: TopicFilter,
        /// The options it is kept with.
        kept: SubscriptionOptions,
    },
    /// An MQTT 5 property of an options value is not a valid UTF-8 string
    /// (e.g. it holds U+0000).
    #[error("invalid {property}: {error}")]
    InvalidProperty {
        /// Which property.
        property: &'static str,
        /// Why.
        error: StringError,
    },
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
    /// MQTT 5 enhanced authentication failed on the client's side: the
    /// [`Authenticator`](crate::auth::Authenticator) refused, or none is
    /// configured (see [`crate::auth`]).
    #[error("authentication failed: {0}")]
    Auth(#[from] crate::auth::AuthError),
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

impl From<crate::routing::Conflict> for ClientError {
    fn from(c: crate::routing::Conflict) -> Self {
        ClientError::SubscriptionConflict {
            filter: c.filter,
            kept: c.kept,
        }
    }
}
