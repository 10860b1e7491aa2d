//! Errors of the client's requests and of a connection.

use sansmqtt_proto::{SubAckReason, TopicError, UnsubAckReason};
use sansmqtt_session::{CloseReason, PublishError, RequestError, StateError};

/// Why a request of the [`Client`](crate::Client) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The topic name or filter is not valid MQTT.
    #[error("invalid topic: {0}")]
    Topic(#[from] TopicError),
    /// The publish failed: queue full, refused by the broker, session
    /// lost, above the broker's limits, ...
    #[error("publish failed: {0}")]
    Publish(#[from] PublishError),
    /// The subscribe or unsubscribe failed (e.g. the connection was lost
    /// before its acknowledgement).
    #[error("request failed: {0}")]
    Request(#[from] RequestError),
    /// The broker refused the subscription (SUBACK failure code).
    #[error("subscription refused: {0}")]
    SubscribeRefused(SubAckReason),
    /// The broker refused the unsubscribe (MQTT 5 UNSUBACK reason).
    #[error("unsubscribe refused: {0}")]
    UnsubscribeRefused(UnsubAckReason),
    /// The packet would exceed [`Config::max_packet_size`](crate::Config::max_packet_size).
    #[error("packet of {size} bytes exceeds the configured maximum of {max}")]
    PacketTooLarge {
        /// Encoded size.
        size: usize,
        /// The configured bound.
        max: u32,
    },
    /// The session refused the command in its state (e.g. `disconnect`
    /// without a connection).
    #[error("{0}")]
    State(#[from] StateError),
}

/// Why [`Connection::run`](crate::Connection::run) ended other than by a
/// clean disconnect. The session survives all of them: run the connection
/// again over a new socket to resume it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError<E> {
    /// The socket failed to read, write or flush.
    #[error("transport error: {0:?}")]
    Io(E),
    /// The broker closed the socket (a read returned 0 bytes).
    #[error("the broker closed the connection")]
    Eof,
    /// The socket accepted no bytes of a write.
    #[error("the transport accepted no bytes")]
    WriteZero,
    /// The session ended the connection: CONNACK refused or late, no
    /// PINGRESP in time, DISCONNECT from the broker, a protocol violation
    /// (including an incoming packet above the configured maximum).
    #[error("{0}")]
    Closed(CloseReason),
    /// The session could not start a connection (e.g. invalid CONNECT
    /// options).
    #[error("cannot connect: {0}")]
    State(StateError),
}

impl<E> ConnectionError<E> {
    /// Whether trying again as it is would fail again: the broker refused
    /// the connection in CONNACK, or the options make no valid CONNECT.
    pub fn is_fatal(&self) -> bool {
        match self {
            Self::Closed(reason) => reason.is_refusal(),
            Self::State(_) => true,
            _ => false,
        }
    }
}
