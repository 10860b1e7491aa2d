//! # sansmqtt-tokio
//!
//! The sansmqtt MQTT client on tokio: a [`Runtime`] with tokio's timers,
//! TCP and spawning, and [`connect`], the counterpart of distmqtt's
//! `open_mqttclient`.
//!
//! ```no_run
//! use sansmqtt_tokio::{Config, QoS};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), sansmqtt_tokio::ClientError> {
//! let client = sansmqtt_tokio::connect("mqtt://127.0.0.1:1883", Config::default()).await?;
//! let mut temps = client.subscription("sensors/+/temp", QoS::AtLeastOnce).await?;
//! client.publish("sensors/kitchen/temp", "21.5", QoS::AtLeastOnce, false).await?;
//! # let _ = &mut temps;
//! client.disconnect().await;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

pub use sansmqtt::*;
use tokio::io::{AsyncRead as TokioRead, AsyncWrite as TokioWrite, ReadBuf};
use tokio::net::TcpStream;

/// tokio's timers, TCP and spawning.
#[derive(Debug, Clone)]
pub struct TokioRuntime {
    handle: tokio::runtime::Handle,
}

impl TokioRuntime {
    /// The runtime of the current tokio context.
    ///
    /// Panics outside a tokio runtime, like `tokio::spawn`.
    pub fn current() -> Self {
        Self {
            handle: tokio::runtime::Handle::current(),
        }
    }

    /// A given runtime.
    pub fn new(handle: tokio::runtime::Handle) -> Self {
        Self { handle }
    }
}

struct TokioTimer(Pin<Box<tokio::time::Sleep>>);

impl Timer for TokioTimer {
    fn reset(mut self: Pin<&mut Self>, deadline: Instant) {
        self.0.as_mut().reset(deadline.into());
    }

    fn poll_expired(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

use std::future::Future;

impl Runtime for TokioRuntime {
    fn spawn(&self, future: BoxFuture<()>) {
        self.handle.spawn(future);
    }

    fn timer(&self, deadline: Instant) -> Pin<Box<dyn Timer>> {
        Box::pin(TokioTimer(Box::pin(tokio::time::sleep_until(
            deadline.into(),
        ))))
    }

    fn connect_tcp(&self, host: &str, port: u16) -> BoxFuture<io::Result<Box<dyn Transport>>> {
        // `BrokerUri::host` has no IPv6 brackets (the `Runtime` contract).
        let host = host.to_owned();
        Box::pin(async move {
            let stream = TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(Tcp(stream)) as Box<dyn Transport>)
        })
    }
}

/// A tokio `TcpStream` as a `futures-io` stream. Unlike
/// `tokio_util::compat::Compat`, it passes vectored writes through, so the
/// driver's batch of packets (and a large payload after its header) goes
/// out in one `writev`.
#[derive(Debug)]
pub struct Tcp(pub TcpStream);

impl futures_io::AsyncRead for Tcp {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut rb = ReadBuf::new(buf);
        match Pin::new(&mut self.0).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(rb.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl futures_io::AsyncWrite for Tcp {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Connects to `uri` on the current tokio runtime and returns the client
/// once the broker accepted the connection (the counterpart of
/// `open_mqttclient`). The connection is driven by a background task.
pub async fn connect(uri: &str, config: Config) -> Result<Client, ClientError> {
    Client::connect(Arc::new(TokioRuntime::current()), uri, config).await
}
