//! TLS, WebSocket and codecs on async-std (issue #5: "tested on the three
//! runtimes"), against mosquitto's TLS and websockets listeners (loopback
//! only) with certificates made by the test: `mqtts://` round trips
//! trusting the test CA as `cafile` and as `cadata`, a certificate for
//! another host name refused, mutual TLS, `ws://` and `wss://` round trips,
//! and a codec round trip. Each test body runs under
//! `async_std::task::block_on`, the clients' tasks on async-std's global
//! executor, every wait bounded by `async_std::future::timeout`.

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

#[path = "../../adapter-tokio/tests/pki/mod.rs"]
mod pki;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use pki::Pki;
use sansmqtt_async_std::payload::Value;
use sansmqtt_async_std::{
    AsyncStdRuntime, BrokerUri, Client, ClientError, Config, Connector, DefaultConnector,
    ProtocolVersion, PublishOptions, QoS,
};
use serde_json::json;
use support::Mosquitto;

/// Deadline of one wait (a connection, a message, a handshake).
const TIMEOUT: Duration = Duration::from_secs(10);

/// `f`, or a panic naming `what` once [`TIMEOUT`] has passed.
async fn within<F: Future>(what: &str, f: F) -> F::Output {
    async_std::future::timeout(TIMEOUT, f)
        .await
        .unwrap_or_else(|_| panic!("{what} timed out"))
}

/// Runs a test body on async-std.
fn run<F: Future>(body: F) -> F::Output {
    async_std::task::block_on(body)
}

use sansmqtt_async_std as adapter;

/// The runtime under test.
fn runtime() -> Arc<dyn sansmqtt::Runtime> {
    Arc::new(AsyncStdRuntime::new())
}

include!("../../mqtt-client/tests/suite/transports_body.rs");
