//! TLS, WebSocket and codecs on smol (issue #5: "tested on the three
//! runtimes"), against mosquitto's TLS and websockets listeners (loopback
//! only) with certificates made by the test: `mqtts://` round trips
//! trusting the test CA as `cafile` and as `cadata`, a certificate for
//! another host name refused, mutual TLS, `ws://` and `wss://` round trips,
//! and a codec round trip. Each test body runs under `smol::block_on`, the
//! clients' tasks on smol's global executor (what `sansmqtt_smol::connect`
//! uses), every wait raced against a `smol::Timer`.

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

#[path = "../../adapter-tokio/tests/pki/mod.rs"]
mod pki;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use pki::Pki;
use sansmqtt_smol::payload::Value;
use sansmqtt_smol::{
    BrokerUri, Client, ClientError, Config, Connector, DefaultConnector, ProtocolVersion,
    PublishOptions, QoS, SmolRuntime,
};
use serde_json::json;
use support::Mosquitto;

/// Deadline of one wait (a connection, a message, a handshake).
const TIMEOUT: Duration = Duration::from_secs(10);

/// `f`, or a panic naming `what` once [`TIMEOUT`] has passed.
async fn within<F: Future>(what: &str, f: F) -> F::Output {
    let done = async { Some(f.await) };
    let expired = async {
        smol::Timer::after(TIMEOUT).await;
        None
    };
    smol::future::or(done, expired)
        .await
        .unwrap_or_else(|| panic!("{what} timed out"))
}

/// Runs a test body on smol.
fn run<F: Future>(body: F) -> F::Output {
    smol::block_on(body)
}

use sansmqtt_smol as adapter;

/// The runtime under test.
fn runtime() -> Arc<dyn sansmqtt::Runtime> {
    Arc::new(SmolRuntime::global())
}

include!("../../mqtt-client/tests/suite/transports_body.rs");
