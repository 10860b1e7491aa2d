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

#![deny(missing_docs)]

mod backoff;
mod client;
pub mod config;
pub mod connector;
mod driver;
mod error;
mod message;
pub mod runtime;

pub use client::{Client, ConnectionState, Subscription};
pub use config::{BrokerUri, Config, ConfigError};
pub use connector::{Connector, DefaultConnector};
pub use error::ClientError;
pub use message::Message;
pub use runtime::{BoxFuture, Runtime, Timer, Transport};
pub use sansmqtt_proto::{Publish, QoS, SubAckReason, TopicFilter, TopicName};
pub use sansmqtt_session::{CloseReason, PublishDone, PublishError, RequestError};
