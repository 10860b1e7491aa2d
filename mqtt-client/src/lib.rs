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
//! Cargo features, both on by default: `tls` (`mqtts://`, rustls with
//! ring, Mozilla's roots) and `websocket` (`ws://`; `wss://` with `tls`);
//! `native-roots` also trusts the platform's root certificates. See
//! [`transport`].

#![deny(missing_docs)]

mod backoff;
mod chan;
mod client;
pub mod codec;
mod command;
pub mod config;
mod connect_error;
pub mod connector;
mod driver;
mod error;
mod inbox;
mod link;
mod message;
mod outbox;
pub mod persist;
mod routing;
pub mod runtime;
pub mod transport;

/// Payloads and message bodies are `bytes::Bytes`, re-exported.
pub use bytes::Bytes;
pub use client::{Client, ConnectionState, PublishOptions, Stats, Subscription};
pub use codec::{Codec, CodecError, Codecs, Decoded, DecodedSubscription, Value};
pub use config::{BrokerUri, Config, ConfigError, Qos0Overflow};
pub use connect_error::ConnectError;
pub use connector::{Connector, DefaultConnector};
pub use error::ClientError;
pub use message::Message;
pub use persist::FileStore;
pub use runtime::{BoxFuture, Runtime, Timer, Transport};
pub use sansmqtt_proto::{ProtocolVersion, Publish, QoS, SubAckReason, TopicFilter, TopicName};
pub use sansmqtt_session::{CloseReason, PublishDone, PublishError, RequestError};
