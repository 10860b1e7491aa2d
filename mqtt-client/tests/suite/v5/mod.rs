//! The MQTT 5 suite (issue #14), shared by every runtime adapter: one
//! module per capability, each test against mosquitto in MQTT 5 mode or,
//! for what mosquitto cannot produce (AUTH challenges, redirects, a server
//! DISCONNECT with properties, a 3.1.1-only broker), against the scripted
//! `FakeBroker` of the test support. An adapter's `tests/v5.rs` includes
//! this directory and picks its runtime (`type Rt = ...`), as `e2e.rs` and
//! `reconnect.rs` do.
//!
//! The bodies use only `sansmqtt::Client::connect(Rt::runtime(), ...)` and
//! the [`TestRuntime`](crate::runtime::TestRuntime) helpers, never a
//! runtime's own API, and every wait has a deadline.

#![allow(dead_code)]

use std::time::Duration;

use sansmqtt::{Client, Config};

use crate::Rt;
use crate::runtime::{TestRuntime, timeout};

/// How long a client may take to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client of `uri`, connected within 10 s (panics otherwise).
async fn connect(uri: &str, config: Config) -> Client {
    timeout(CONNECT_TIMEOUT, Client::connect(Rt::runtime(), uri, config))
        .await
        .expect("connect in time")
        .expect("connected")
}

/// Enhanced authentication (AUTH): SCRAM-SHA-256 against a scripted broker.
mod auth;
/// A smoke test of the suite itself: a v5 connection to mosquitto.
mod smoke;

/// Publish and subscribe: PUBLISH properties, subscription options,
/// SUBACK / UNSUBACK reasons, shared subscriptions.
mod pubsub;

/// Request / response: `Client::request` and `Client::respond`.
mod request;

/// Connect, disconnect and the protocol version: CONNECT and will
/// properties, negotiated CONNACK values, "auto", redirects.
mod connect;
