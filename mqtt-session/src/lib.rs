//! # sansmqtt-session
//!
//! The state machine of an MQTT 3.1.1 / 5.0 client connection, without IO,
//! clock or runtime: bytes and commands go in, bytes to transmit, events and
//! the next deadline come out. Time is an argument (`now`). The quinn-proto
//! style: drive it from any executor, a blocking loop, or a test with
//! simulated time.
//!
//! `#![no_std]` with `alloc`: time is the caller's monotonic [`Instant`]
//! (embassy-time's microseconds, a hardware timer, or `std::time::Instant`
//! with the default `std` feature), never a clock read here.
//!
//! ```
//! use core::time::Duration;
//! use sansmqtt_session::Instant;
//! use sansmqtt_proto::{ConnAck, ConnectReason, Packet, ProtocolVersion, Publish, QoS, TopicName, PubAck, PacketId};
//! use sansmqtt_session::{Event, Session, SessionOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let now = Instant::from_millis(5_000); // the caller's clock
//! let mut session = Session::new(SessionOptions::new("sensor-1".try_into()?));
//! session.connect(now)?;
//! let connect = session.poll_transmit().expect("CONNECT"); // write it to the transport
//! # let _ = connect;
//!
//! // Publish before CONNACK: it waits.
//! let topic = TopicName::try_from("sensors/1/temp")?;
//! let token = session.publish(Publish::with_qos(topic, &b"21.5"[..], QoS::AtLeastOnce, PacketId::MIN), now)?;
//! assert!(session.poll_transmit().is_none());
//!
//! // Bytes from the broker: CONNACK, then the PUBLISH goes out.
//! let mut wire = bytes::BytesMut::new();
//! Packet::ConnAck(ConnAck::new(false, ConnectReason::Success)).encode(ProtocolVersion::V3_1_1, &mut wire)?;
//! session.handle_input(&wire, now);
//! assert!(matches!(session.poll_event(), Some(Event::Connected(_))));
//! let publish = session.poll_transmit().expect("PUBLISH");
//! assert_eq!(publish[0] >> 4, 3);
//!
//! // PUBACK completes the publish.
//! let mut wire = bytes::BytesMut::new();
//! PubAck::new(PacketId::new(1).unwrap()).encode(ProtocolVersion::V3_1_1, &mut wire)?;
//! session.handle_input(&wire, now + Duration::from_millis(3));
//! match session.poll_event() {
//!     Some(Event::Published { token: t, result: Ok(_) }) => assert_eq!(t, token),
//!     other => panic!("{other:?}"),
//! }
//!
//! // Keep-alive is a deadline: call handle_timeout when it passes.
//! let deadline = session.poll_timeout().expect("keep-alive");
//! session.handle_timeout(deadline);
//! assert_eq!(&session.poll_transmit().unwrap()[..], &[0xc0, 0x00]); // PINGREQ
//! # Ok(())
//! # }
//! ```

#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod event;
mod inflight;
mod options;
mod session;
mod store;
mod time;

pub use event::{
    AckError, AckId, CloseReason, Connected, Event, Message, ProtocolError, PublishDone,
    PublishError, RequestError, RestoreError, StateError, Token,
};
pub use options::{SessionLossPolicy, SessionOptions};
pub use session::Session;
pub use store::{InMemory, MemoryStore, SavedSession, SessionStore};
pub use time::Instant;
