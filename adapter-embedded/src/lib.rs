//! # sansmqtt-embedded
//!
//! The sansmqtt MQTT 3.1.1 / 5.0 client for embedded async Rust: `no_std`
//! with `alloc`, over any [`embedded_io_async`] `Read + Write` socket
//! (embassy-net's `TcpSocket`, a TLS stream over one, or a host stream
//! through `embedded-io-adapters`), with [`embassy_time`] timers. No task
//! is spawned: [`new`] gives a [`Client`] for the application and a
//! [`Connection`] whose [`run`](Connection::run) future the application
//! polls beside its own, and calls again after reopening its socket.
//!
//! The protocol is the sans-IO [`sansmqtt_session`] state machine; this
//! crate feeds it the socket's bytes, embassy's clock and the
//! application's requests.
//!
//! Memory is bounded: the [`Resources`] (in a `static`) hold the read
//! buffer (`RX` bytes), the queue of received messages (`QUEUE`) and the
//! request slots (`REQUESTS`); the heap holds the session's state, bounded
//! by [`Config`] (packet size, publishes in flight and queued). See
//! `docs/embedded.md` for figures.
//!
//! ```no_run
//! use embassy_futures::join::join;
//! use embassy_sync::blocking_mutex::raw::NoopRawMutex;
//! use embedded_io_adapters::futures_03::FromFutures;
//! use sansmqtt_embedded::{Config, QoS, Resources};
//! use static_cell::StaticCell;
//!
//! // 2 KiB read buffer, 8 received messages queued, 4 requests at a time.
//! type Res = Resources<NoopRawMutex, 2048, 8, 4>;
//!
//! async fn app() {
//!     static RESOURCES: StaticCell<Res> = StaticCell::new();
//!     let config = Config::new("sensor-1").unwrap();
//!     let (client, mut connection) = sansmqtt_embedded::new(RESOURCES.init(Res::new()), config);
//!
//!     for _attempt in 0..3 {
//!         // On a device: an embassy-net `TcpSocket` connected to the broker
//!         // (examples/embassy_net.rs). On the host: a std stream.
//!         let stream = async_io::Async::<std::net::TcpStream>::connect(([127, 0, 0, 1], 1883))
//!             .await
//!             .unwrap();
//!         let mut socket = FromFutures::new(stream);
//!
//!         let application = async {
//!             client.subscribe("sensors/+/cmd", QoS::AtLeastOnce).await?;
//!             client.publish("sensors/1/temp", b"21.5", QoS::AtLeastOnce, false).await?;
//!             let message = client.deliver_message().await;
//!             assert_eq!(message.publish.topic.as_str(), "sensors/1/cmd");
//!             client.disconnect()
//!         };
//!         // Both futures on this task: the connection does the IO while
//!         // the application waits for its requests.
//!         match join(connection.run(&mut socket), application).await {
//!             (Ok(()), Ok(())) => break,
//!             (Err(e), _) if e.is_fatal() => panic!("refused: {e}"),
//!             // Lost: reconnect; the session resends what was in flight.
//!             (Err(_), _) | (_, Err(_)) => embassy_time::Timer::after_secs(1).await,
//!         }
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! ## Choices
//!
//! - The shared state is an embassy-sync blocking `Mutex<M, _>`, locked
//!   only for synchronous steps, never across an `await`: `M` is
//!   `NoopRawMutex` for one executor, `CriticalSectionRawMutex` for several.
//! - A full message queue pauses reading (the broker is slowed down by
//!   TCP) instead of dropping messages; received QoS 1 and 2 messages are
//!   acknowledged when decoded, and stay in the queue across connections.
//! - The session's own deadlines (CONNACK, keep-alive, PINGRESP) drive one
//!   `embassy_time::Timer`, also while a write is blocked.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

mod client;
mod config;
mod connection;
mod error;
mod state;
mod time;

pub use bytes::Bytes;
pub use client::Client;
pub use config::{Config, DEFAULT_MAX_PACKET_SIZE};
pub use connection::Connection;
pub use error::{ConnectionError, Error};
pub use sansmqtt_proto::{
    self as proto, MqttString, ProtocolVersion, Publish, QoS, SubAckReason, TopicFilter, TopicName,
    UnsubAckReason,
};
pub use sansmqtt_session::{
    self as session, CloseReason, Message, PublishDone, PublishError, RequestError, SessionOptions,
    StateError,
};
pub use state::Resources;

use embassy_sync::blocking_mutex::raw::RawMutex;
use sansmqtt_session::Session;

use crate::state::Shared;

/// Builds a client in `resources`: the [`Client`] handle for the
/// application and the [`Connection`] to run over a socket. Nothing is
/// sent until the connection runs.
///
/// `RX`, `QUEUE` and `REQUESTS` must be at least 1 (checked at compile
/// time). The read buffer's size only sets how much one read takes in:
/// packets larger than `RX` are reassembled by the session, up to
/// [`Config::max_packet_size`].
pub fn new<'a, M: RawMutex, const RX: usize, const QUEUE: usize, const REQUESTS: usize>(
    resources: &'a mut Resources<M, RX, QUEUE, REQUESTS>,
    config: Config,
) -> (
    Client<'a, M, QUEUE, REQUESTS>,
    Connection<'a, M, QUEUE, REQUESTS>,
) {
    const {
        assert!(RX > 0, "the read buffer needs at least one byte");
        assert!(QUEUE > 0, "the message queue needs room for one message");
        assert!(REQUESTS > 0, "at least one request slot is needed");
    }
    let (options, max_packet_size) = config.into_session();
    let Resources { shared, rx } = resources;
    let shared: &'a Shared<M, QUEUE, REQUESTS> =
        shared.insert(Shared::new(Session::new(options), max_packet_size));
    (Client { shared }, Connection { shared, rx })
}
