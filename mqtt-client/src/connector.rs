//! How the client opens a byte stream to a broker.
//!
//! A [`Connector`] turns a [`BrokerUri`] into a [`Transport`]: any
//! `futures-io` `AsyncRead + AsyncWrite` stream. [`DefaultConnector`] picks
//! the transport from the URI's scheme, over the TCP connections of the
//! adapter's [`Runtime`]; a custom transport (a serial line, an in-memory
//! pipe, a tunnel) is a closure given to [`Client::connect_with`]:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use sansmqtt::{BoxFuture, BrokerUri, Client, Config, Runtime, Transport};
//! # async fn demo(runtime: Arc<dyn Runtime>) -> Result<(), sansmqtt::ClientError> {
//! let tcp = runtime.clone();
//! let connector = move |uri: &BrokerUri| -> BoxFuture<std::io::Result<Box<dyn Transport>>> {
//!     // Any stream will do; here the runtime's TCP to a fixed address.
//!     tcp.connect_tcp("127.0.0.1", uri.port)
//! };
//! let client = Client::connect_with(runtime, Arc::new(connector), "mqtt://broker", Config::default()).await?;
//! # let _ = client; Ok(())
//! # }
//! ```
//!
//! [`Client::connect_with`]: crate::Client::connect_with

use std::io;
use std::sync::Arc;

use crate::config::{BrokerUri, Config, ConfigError, Scheme};
use crate::runtime::{BoxFuture, Runtime, Transport};

/// Opens transports to brokers. Called once per connection attempt, so a
/// connector may return a fresh stream each time (reconnects, failover).
pub trait Connector: Send + Sync + 'static {
    /// Opens a transport to the broker at `uri`.
    fn connect(&self, uri: &BrokerUri) -> BoxFuture<io::Result<Box<dyn Transport>>>;
}

impl<F> Connector for F
where
    F: Fn(&BrokerUri) -> BoxFuture<io::Result<Box<dyn Transport>>> + Send + Sync + 'static,
{
    fn connect(&self, uri: &BrokerUri) -> BoxFuture<io::Result<Box<dyn Transport>>> {
        self(uri)
    }
}

/// The transports of the URI schemes, over the runtime's TCP: `mqtt://`
/// (plain TCP).
#[derive(Clone)]
pub struct DefaultConnector {
    runtime: Arc<dyn Runtime>,
}

impl std::fmt::Debug for DefaultConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefaultConnector").finish_non_exhaustive()
    }
}

impl DefaultConnector {
    /// The connector for `config` (its TLS and WebSocket settings) over the
    /// TCP of `runtime`.
    pub fn new(runtime: Arc<dyn Runtime>, config: &Config) -> Result<Self, ConfigError> {
        let _ = config;
        Ok(Self { runtime })
    }
}

impl Connector for DefaultConnector {
    fn connect(&self, uri: &BrokerUri) -> BoxFuture<io::Result<Box<dyn Transport>>> {
        match uri.scheme {
            Scheme::Mqtt => self.runtime.connect_tcp(&uri.host, uri.port),
            scheme => Box::pin(async move {
                Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("{scheme:?} transport not supported yet (TCP only)"),
                ))
            }),
        }
    }
}
