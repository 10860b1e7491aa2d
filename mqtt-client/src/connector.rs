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
use crate::transport::proxy::Proxy;

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

/// The transports of the URI schemes, over the runtime's TCP:
///
/// | scheme | transport | feature |
/// | --- | --- | --- |
/// | `mqtt://` (`tcp://`) | TCP | |
/// | `mqtts://` (`ssl://`, `tls://`) | TLS over TCP | `tls` |
/// | `ws://` | WebSocket over TCP | `websocket` |
/// | `wss://` | WebSocket over TLS over TCP | `tls` and `websocket` |
///
/// The TLS settings of the [`Config`] (`cafile`, `capath`, `cadata`,
/// `certfile`, `keyfile`, `check_hostname`, `alpn`; see
/// [`crate::transport::tls`]) are read once, by [`DefaultConnector::new`]
/// (with none of them set, the default configuration, shared by the
/// process, is built by the first TLS connection instead);
/// [`DefaultConnector::with_tls_config`] replaces them with a rustls
/// configuration of your own. WebSocket requests the URI's path with
/// subprotocol `mqtt` and the config's `extra_headers` (see
/// [`crate::transport::ws`]). With the config's `proxy`, the TCP connection
/// goes through it ([`crate::transport::proxy`]). A scheme whose feature is
/// off fails to connect with `ErrorKind::Unsupported`.
#[derive(Clone)]
pub struct DefaultConnector {
    runtime: Arc<dyn Runtime>,
    /// Set by `new` for a config with TLS keys and by `with_tls_config`;
    /// `None`: the process's shared default, built by its first use.
    #[cfg(feature = "tls")]
    tls: Option<Arc<crate::transport::tls::rustls::ClientConfig>>,
    #[cfg(feature = "websocket")]
    extra_headers: Arc<std::collections::BTreeMap<String, String>>,
    /// The config's `proxy`, parsed.
    proxy: Option<Arc<Proxy>>,
}

impl std::fmt::Debug for DefaultConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither the TLS keys nor the headers (credentials) are shown.
        f.debug_struct("DefaultConnector").finish_non_exhaustive()
    }
}

impl DefaultConnector {
    /// The connector for `config` (its TLS and WebSocket settings) over the
    /// TCP of `runtime`. Reads the TLS files now: a missing file, malformed
    /// PEM or a key that does not match its certificate is a
    /// [`ConfigError::Tls`] here, not a failure at connect time.
    pub fn new(runtime: Arc<dyn Runtime>, config: &Config) -> Result<Self, ConfigError> {
        #[cfg(feature = "tls")]
        let tls = if crate::transport::tls::uses_defaults(config) {
            None
        } else {
            Some(crate::transport::tls::client_config(config)?)
        };
        let proxy = config.proxy.clone();
        Ok(Self {
            runtime,
            proxy: proxy.map(Arc::new),
            #[cfg(feature = "tls")]
            tls,
            #[cfg(feature = "websocket")]
            extra_headers: Arc::new((*config.extra_headers).clone()),
        })
    }

    /// Uses `tls` as is for `mqtts://` and `wss://`, instead of the
    /// configuration built from the [`Config`]'s TLS keys: your own roots,
    /// verifier, client certificate resolver, ALPN, session cache. Build it
    /// with [`crate::transport::tls::crypto_provider`] (ring) or any
    /// provider of the same `rustls`
    /// ([`crate::transport::tls::rustls`]).
    #[cfg(feature = "tls")]
    pub fn with_tls_config(
        mut self,
        tls: Arc<crate::transport::tls::rustls::ClientConfig>,
    ) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The rustls configuration used for `mqtts://` and `wss://` (the
    /// shared default one is built now if it was not yet).
    #[cfg(feature = "tls")]
    pub fn tls_config(
        &self,
    ) -> Result<Arc<crate::transport::tls::rustls::ClientConfig>, ConfigError> {
        match &self.tls {
            Some(tls) => Ok(tls.clone()),
            None => crate::transport::tls::shared_default(),
        }
    }

    /// TCP (to the broker, or through the proxy), then TLS and/or
    /// WebSocket as the scheme says.
    async fn open(self, uri: BrokerUri) -> io::Result<Box<dyn Transport>> {
        let tcp = match &self.proxy {
            None => self.runtime.connect_tcp(&uri.host, uri.port).await?,
            Some(proxy) => {
                let to_proxy = self.runtime.connect_tcp(&proxy.host, proxy.port).await?;
                proxy.tunnel(to_proxy, &uri).await?
            }
        };
        match uri.scheme {
            Scheme::Mqtt => Ok(tcp),
            #[cfg(feature = "tls")]
            Scheme::Mqtts => {
                let config = self.tls_config().map_err(io::Error::other)?;
                let tls = crate::transport::tls::connect(config, &uri.host, tcp).await?;
                Ok(Box::new(tls))
            }
            #[cfg(feature = "websocket")]
            Scheme::Ws => {
                let ws = crate::transport::ws::connect(tcp, &uri, &self.extra_headers).await?;
                Ok(Box::new(ws))
            }
            #[cfg(all(feature = "tls", feature = "websocket"))]
            Scheme::Wss => {
                let config = self.tls_config().map_err(io::Error::other)?;
                let tls = crate::transport::tls::connect(config, &uri.host, tcp).await?;
                let ws = crate::transport::ws::connect(tls, &uri, &self.extra_headers).await?;
                Ok(Box::new(ws))
            }
            #[allow(unreachable_patterns)]
            scheme => Err(unsupported(scheme)),
        }
    }
}

/// Which features a scheme needs that this build lacks, if any.
fn missing_feature(scheme: Scheme) -> Option<&'static str> {
    let tls = cfg!(feature = "tls");
    let websocket = cfg!(feature = "websocket");
    match scheme {
        Scheme::Mqtt => None,
        Scheme::Mqtts if !tls => Some("`tls`"),
        Scheme::Ws if !websocket => Some("`websocket`"),
        Scheme::Wss if !(tls && websocket) => Some("`tls` and `websocket`"),
        _ => None,
    }
}

/// The one feature to name for a scheme this build cannot open (the first
/// missing one), for [`ConfigError::NeedsFeature`].
fn first_missing_feature(scheme: Scheme) -> Option<&'static str> {
    missing_feature(scheme)?;
    Some(match scheme {
        Scheme::Ws => "websocket",
        Scheme::Wss if cfg!(feature = "tls") => "websocket",
        _ => "tls",
    })
}

/// Refuses, before anything is opened, a broker URI whose scheme
/// [`DefaultConnector`] cannot open in this build (`mqtts://` without the
/// `tls` feature, ...): a configuration error, not a connection to retry.
pub(crate) fn check_schemes<'a>(
    uris: impl IntoIterator<Item = &'a BrokerUri>,
) -> Result<(), ConfigError> {
    for uri in uris {
        if let Some(feature) = first_missing_feature(uri.scheme) {
            return Err(ConfigError::NeedsFeature {
                key: uri.to_string(),
                feature,
            });
        }
    }
    Ok(())
}

fn unsupported(scheme: Scheme) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "{scheme}:// needs sansmqtt's {} feature, which this build lacks",
            missing_feature(scheme).unwrap_or("unknown")
        ),
    )
}

impl Connector for DefaultConnector {
    fn connect(&self, uri: &BrokerUri) -> BoxFuture<io::Result<Box<dyn Transport>>> {
        if uri.scheme == Scheme::Mqtt && self.proxy.is_none() {
            return self.runtime.connect_tcp(&uri.host, uri.port);
        }
        let scheme = uri.scheme;
        if missing_feature(scheme).is_some() {
            return Box::pin(async move { Err(unsupported(scheme)) });
        }
        Box::pin(self.clone().open(uri.clone()))
    }
}
