//! # sansmqtt-smol
//!
//! The sansmqtt MQTT client on smol: a [`Runtime`] with smol's timers, TCP
//! and spawning, and [`connect`], the counterpart of distmqtt's
//! `open_mqttclient`.
//!
//! smol has no ambient runtime to find, so where the client's background
//! task runs is a choice made here:
//!
//! - [`connect`] and [`SmolRuntime::global`] spawn with `smol::spawn`, smol's
//!   global executor, which runs on its own threads (one unless the
//!   `SMOL_THREADS` environment variable says otherwise): nothing needs to
//!   be set up, and the client works from `smol::block_on` or any other
//!   thread.
//! - [`SmolRuntime::with_executor`] spawns on an application's own
//!   `smol::Executor`, which the application must keep running (e.g.
//!   `executor.run(...)` on one or more threads): the client's task runs
//!   only while it does. Pass the runtime to [`Client::connect`].
//!
//! ```no_run
//! use sansmqtt_smol::{Config, QoS};
//!
//! # fn main() -> Result<(), sansmqtt_smol::ClientError> {
//! # smol::block_on(async {
//! let client = sansmqtt_smol::connect("mqtt://127.0.0.1:1883", Config::default()).await?;
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

use sansmqtt::runtime::AsyncIoTimer;
pub use sansmqtt::*;
use smol::net::TcpStream;

/// smol's timers, TCP and spawning.
#[derive(Debug, Clone, Default)]
pub struct SmolRuntime {
    /// `None`: smol's global executor (`smol::spawn`).
    executor: Option<Arc<smol::Executor<'static>>>,
}

impl SmolRuntime {
    /// Spawns on smol's global executor (`smol::spawn`), which runs on its
    /// own background threads.
    pub fn global() -> Self {
        Self { executor: None }
    }

    /// Spawns on `executor`, which the application keeps running.
    pub fn with_executor(executor: Arc<smol::Executor<'static>>) -> Self {
        Self {
            executor: Some(executor),
        }
    }
}

impl Runtime for SmolRuntime {
    fn spawn(&self, future: BoxFuture<()>) {
        // Detached: the task runs to completion on its own (dropping a smol
        // `Task` would cancel it).
        match &self.executor {
            Some(executor) => executor.spawn(future).detach(),
            None => smol::spawn(future).detach(),
        }
    }

    fn timer(&self, deadline: Instant) -> Pin<Box<dyn Timer>> {
        // smol's timer is async-io's.
        Box::pin(AsyncIoTimer::at(deadline))
    }

    fn connect_tcp(&self, host: &str, port: u16) -> BoxFuture<io::Result<Box<dyn Transport>>> {
        // `BrokerUri::host` has no IPv6 brackets (the `Runtime` contract).
        let host = host.to_owned();
        Box::pin(async move {
            let stream = TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            // smol's TcpStream is a futures-io stream already, and it passes
            // vectored writes through to the socket (one `writev` per batch
            // of packets).
            Ok(Box::new(stream) as Box<dyn Transport>)
        })
    }
}

/// Connects to `uri` with the client's task on smol's global executor and
/// returns the client once the broker accepted the connection (the
/// counterpart of `open_mqttclient`). The connection is driven by that
/// background task.
pub async fn connect(uri: &str, config: Config) -> Result<Client, ClientError> {
    Client::connect(Arc::new(SmolRuntime::global()), uri, config).await
}
