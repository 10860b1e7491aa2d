//! The transports of [`DefaultConnector`](crate::DefaultConnector) beyond
//! plain TCP, written once over `futures-io` so that every runtime adapter
//! gets them:
//!
//! - [`tls`] (feature `tls`, on by default): `mqtts://`, and the TLS layer
//!   of `wss://`, with rustls.
//! - [`ws`] (feature `websocket`, on by default): `ws://`, and the
//!   WebSocket layer of `wss://`.
//! - [`proxy`]: the TCP connection through an HTTP `CONNECT` or SOCKS5
//!   proxy (config key `proxy`), under any of them.
//!
//! Both are usable on their own in a custom [`Connector`](crate::Connector),
//! e.g. TLS or WebSocket over a tunnel: [`tls::connect`] and [`ws::connect`]
//! take any `futures-io` stream.

pub mod proxy;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "websocket")]
pub mod ws;
