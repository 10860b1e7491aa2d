//! What the client needs from an async runtime: spawning, a timer, and a
//! way to open a transport. Each adapter crate implements [`Runtime`] in a
//! few lines; the driver is the same for all of them.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};

use crate::config::BrokerUri;

/// A boxed future, `Send`.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A byte stream to a broker: TCP, TLS, WebSocket, or whatever the user brings.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

/// A resettable timer.
pub trait Timer: Send {
    /// Moves the deadline.
    fn reset(self: Pin<&mut Self>, deadline: Instant);
    /// Ready once the deadline has passed.
    fn poll_expired(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()>;
}

/// The runtime services the client uses.
pub trait Runtime: Send + Sync + 'static {
    /// Runs a future to completion in the background.
    fn spawn(&self, future: BoxFuture<()>);
    /// A timer firing at `deadline`.
    fn timer(&self, deadline: Instant) -> Pin<Box<dyn Timer>>;
    /// Opens a transport to the broker at `uri` (TCP for `mqtt://`; TLS and
    /// WebSocket where the adapter supports them).
    fn connect(&self, uri: &BrokerUri) -> BoxFuture<io::Result<Box<dyn Transport>>>;
}
