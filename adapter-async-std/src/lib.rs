//! # sansmqtt-async-std
//!
//! The sansmqtt MQTT client on async-std: a [`Runtime`] with async-std's
//! TCP and spawning and async-io's timers (async-std runs on async-io), and
//! [`connect`], the counterpart of distmqtt's `open_mqttclient`.
//!
//! async-std is discontinued upstream (its authors point to smol); this
//! adapter stays supported for applications that still run on it.
//!
//! ```no_run
//! use sansmqtt_async_std::{Config, QoS};
//!
//! # fn main() -> Result<(), sansmqtt_async_std::ClientError> {
//! # async_std::task::block_on(async {
//! let client = sansmqtt_async_std::connect("mqtt://127.0.0.1:1883", Config::default()).await?;
//! let mut temps = client.subscription("sensors/+/temp", QoS::AtLeastOnce).await?;
//! client.publish("sensors/kitchen/temp", "21.5", QoS::AtLeastOnce, false).await?;
//! # let _ = &mut temps;
//! client.disconnect().await;
//! # Ok(())
//! # })
//! # }
//! ```

#![deny(missing_docs)]

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use async_std::net::TcpStream;
use sansmqtt::runtime::AsyncIoTimer;
pub use sansmqtt::*;

/// async-std's TCP and spawning, async-io's timers.
///
/// Spawned tasks go to async-std's global executor (`async_std::task::spawn`),
/// which starts its worker threads on first use: nothing needs to be set up.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStdRuntime;

impl AsyncStdRuntime {
    /// The runtime (async-std has a single, global one).
    pub fn new() -> Self {
        Self
    }
}

impl Runtime for AsyncStdRuntime {
    fn spawn(&self, future: BoxFuture<()>) {
        // Detached: the task runs to completion on its own.
        drop(async_std::task::spawn(future));
    }

    fn timer(&self, deadline: Instant) -> Pin<Box<dyn Timer>> {
        // async-io's timer: the reactor async-std itself runs on.
        Box::pin(AsyncIoTimer::at(deadline))
    }

    fn connect_tcp(&self, host: &str, port: u16) -> BoxFuture<io::Result<Box<dyn Transport>>> {
        // `BrokerUri::host` has no IPv6 brackets (the `Runtime` contract).
        let host = host.to_owned();
        Box::pin(async move {
            let stream = TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            // async-std's TcpStream is a futures-io stream already, and it
            // passes vectored writes through to the socket (one `writev` per
            // batch of packets).
            Ok(Box::new(stream) as Box<dyn Transport>)
        })
    }
}

/// Connects to `uri` on async-std and returns the client once the broker
/// accepted the connection (the counterpart of `open_mqttclient`). The
/// connection is driven by a background task.
pub async fn connect(uri: &str, config: Config) -> Result<Client, ClientError> {
    Client::connect(Arc::new(AsyncStdRuntime), uri, config).await
}
