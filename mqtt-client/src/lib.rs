//! # sansmqtt
//!
//! An MQTT 3.1.1 / 5.0 client for any async runtime, the Rust successor of
//! distmqtt's `MQTTClient`. This crate holds the runtime-generic part: the
//! [`Client`] API, [`Config`], and the one driver loop over `futures-io`
//! streams. An adapter crate (`sansmqtt-tokio`, ...) gives it a [`Runtime`]:
//! timers, TCP connections and spawning.
//!
//! Protocol work happens in `sansmqtt-session`, a sans-IO state machine; the
//! driver only moves bytes, time and commands in and out of it.
//!
//! Cargo features, all on by default: `tls` (`mqtts://`, rustls with
//! ring, Mozilla's roots) and `websocket` (`ws://`; `wss://` with `tls`),
//! see [`transport`]; `payload` (payload codecs, values and typed payloads,
//! with `serde_json`) and `msgpack` (the MessagePack codecs, with
//! `rmp-serde`; implies `payload`), see [`payload`]. `native-roots` (off)
//! also trusts the platform's root certificates. Without `payload`,
//! payloads are plain bytes: the config's `codec` may only be `"noop"`,
//! `codec_params` must be empty and the will has neither `codec` nor
//! `value` ([`ConfigError::NeedsFeature`] otherwise).

#![deny(missing_docs)]

pub mod auth;
mod backoff;
mod chan;
mod client;
mod clock;
mod command;
pub mod config;
mod connect_error;
pub mod connector;
mod disconnect;
mod driver;
mod error;
mod inbox;
mod link;
mod message;
mod outbox;
#[cfg(feature = "payload")]
pub mod payload;
mod payload_keys;
pub mod persist;
mod properties;
mod publish_handle;
mod redirect;
mod request;
mod routing;
pub mod runtime;
mod server;
mod subscribe_options;
pub mod transport;

/// Payloads and message bodies are `bytes::Bytes`, re-exported.
pub use bytes::Bytes;
pub use client::{Client, ConnectionState, DELIVERY_QUEUE, PublishOptions, Stats, Subscription};
pub use config::{BrokerUri, Config, ConfigError, ProtocolChoice, Qos0Overflow, UserProperties};
pub use connect_error::ConnectError;
pub use connector::{Connector, DefaultConnector};
pub use disconnect::{DisconnectError, DisconnectOptions};
pub use error::ClientError;
pub use message::Message;
#[cfg(feature = "payload")]
pub use payload::{Codec, Codecs, Decoded, DecodedSubscription, PayloadError, Value};
pub use persist::FileStore;
pub use publish_handle::{PublishCall, PublishHandle};
pub use request::{DEFAULT_REQUEST_TIMEOUT, RequestOptions};
pub use runtime::{BoxFuture, Runtime, Timer, Transport};
/// The packet and property types of [`Message`] and [`Client::publish_packet_with`],
/// re-exported from `sansmqtt-proto`: a client needs no dependency of its own on it.
pub use sansmqtt_proto::{
    ConnAckProperties, ConnectReason, DisconnectProperties, DisconnectReason, MqttString, PacketId,
    PayloadFormat, Properties, ProtocolVersion, Publish, PublishProperties, QoS, RetainHandling,
    StringError, SubAckReason, SubscriptionId, SubscriptionOptions, TopicFilter, TopicName,
    UnsubAckReason, UserProperty,
};
pub use sansmqtt_session::{CloseReason, ProtocolError, PublishDone, PublishError, RequestError};
pub use server::ServerInfo;
pub use subscribe_options::{
    SubscribeOptions, SubscribeOutcome, UnsubscribeOptions, UnsubscribeOutcome,
};
