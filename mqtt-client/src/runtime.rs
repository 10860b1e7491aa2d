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

/// A TCP stream on async-io's reactor as a [`Transport`]: the TCP of the
/// runtimes built on it (async-std, smol). With the `async-io` feature.
///
/// Unlike async-io's own `AsyncRead`, a read that returns less than its
/// buffer (it emptied the socket) is not followed by a `recv` that would
/// only say `EAGAIN`: the next read waits for readiness at once (async-io
/// re-arms its one-shot interest, and a socket that already has data is
/// reported at once). With a broker that sends each packet in its own
/// segment, that `recv` was one system call in three of a subscriber.
/// Vectored writes go through to the socket (one `writev` per batch of
/// packets).
#[cfg(feature = "async-io")]
#[derive(Debug)]
pub struct AsyncIoTcp {
    io: async_io::Async<std::net::TcpStream>,
    /// The last read emptied the socket: wait for readiness first.
    drained: bool,
}

#[cfg(feature = "async-io")]
impl AsyncIoTcp {
    /// Connects to the first of `addrs` that accepts (resolved by the
    /// runtime: `smol::net::resolve`, async-std's `ToSocketAddrs`), with
    /// TCP_NODELAY.
    pub async fn connect(
        addrs: impl IntoIterator<Item = std::net::SocketAddr>,
    ) -> std::io::Result<Self> {
        let mut last = None;
        for addr in addrs {
            match async_io::Async::<std::net::TcpStream>::connect(addr).await {
                Ok(io) => {
                    io.get_ref().set_nodelay(true)?;
                    return Ok(Self { io, drained: false });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "no address to connect to")
        }))
    }
}

#[cfg(feature = "async-io")]
impl futures_io::AsyncRead for AsyncIoTcp {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        use std::io::Read;
        loop {
            if !self.drained {
                match (&*self.io.get_ref()).read(buf) {
                    Ok(n) => {
                        self.drained = n > 0 && n < buf.len();
                        return Poll::Ready(Ok(n));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            std::task::ready!(self.io.poll_readable(cx))?;
            self.drained = false;
        }
    }
}

#[cfg(feature = "async-io")]
impl futures_io::AsyncWrite for AsyncIoTcp {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_close(cx)
    }
}
