//! What the client needs from an async runtime: spawning, a timer, and TCP
//! connections. Each adapter crate implements [`Runtime`] in a few lines;
//! the driver, TLS and WebSocket are the same for all of them (see
//! [`crate::connector`]).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};

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
    /// Opens a TCP connection to `host` (a name, or an IP address; IPv6
    /// without brackets) and `port`, with `TCP_NODELAY` set: the driver
    /// batches its writes itself.
    fn connect_tcp(&self, host: &str, port: u16) -> BoxFuture<io::Result<Box<dyn Transport>>>;
    /// The current instant: the clock of the deadlines given to
    /// [`Runtime::timer`] and of every instant the client computes
    /// (keep-alive, timeouts, expiry, reconnect delays). The default is
    /// [`Instant::now`], what every adapter uses; a simulated runtime (a
    /// test or fuzz harness) returns its virtual time, and its timers fire
    /// when that time passes their deadline.
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// async-io's timer as a [`Timer`], resettable in place: the timer of the
/// runtimes built on async-io's reactor (async-std, smol). With the
/// `async-io` feature.
///
/// ```
/// # use std::time::{Duration, Instant};
/// use sansmqtt::runtime::AsyncIoTimer;
/// use sansmqtt::Timer;
///
/// fn timer(deadline: Instant) -> std::pin::Pin<Box<dyn Timer>> {
///     Box::pin(AsyncIoTimer::at(deadline))
/// }
/// # let _ = timer(Instant::now() + Duration::from_secs(1));
/// ```
#[cfg(feature = "async-io")]
#[derive(Debug)]
pub struct AsyncIoTimer(async_io::Timer);

#[cfg(feature = "async-io")]
impl AsyncIoTimer {
    /// A timer firing at `deadline`.
    pub fn at(deadline: Instant) -> Self {
        Self(async_io::Timer::at(deadline))
    }
}

#[cfg(feature = "async-io")]
impl Timer for AsyncIoTimer {
    fn reset(mut self: Pin<&mut Self>, deadline: Instant) {
        self.0.set_at(deadline);
    }

    fn poll_expired(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}
