//! # sansmqtt-proto
//!
//! The packets of MQTT 3.1, 3.1.1 and 5.0, encoded and decoded without IO.
//!
//! - Every control packet, both directions: a client encodes CONNECT and
//!   decodes CONNACK; a broker or a test does the opposite.
//! - Validation to the letter of the specifications: each violation is a
//!   distinct [`DecodeError`] or [`EncodeError`], nothing panics.
//! - Zero-copy: PUBLISH topics and payloads are [`bytes::Bytes`] slices of the
//!   received buffer.
//! - Streaming: [`Decoder`] takes bytes split anywhere and refuses an
//!   oversized packet from its fixed header, before buffering its body.
//! - Encoding into a caller's `BytesMut` with one reservation of the exact
//!   size ([`Packet::encoded_len`]).
//!
//! ```
//! use bytes::BytesMut;
//! use sansmqtt_proto::{
//!     Decoder, Packet, PacketId, ProtocolVersion, Publish, QoS, TopicFilter, TopicName,
//! };
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let version = ProtocolVersion::V5;
//! let topic = TopicName::try_from("sensors/kitchen/temp")?;
//! let publish = Publish::with_qos(topic, &b"21.5"[..], QoS::AtLeastOnce, PacketId::new(7).unwrap());
//!
//! let mut wire = BytesMut::new();
//! let n = publish.encode(version, &mut wire)?;
//! assert_eq!(n, publish.encoded_len(version)?);
//!
//! // Bytes arrive in pieces; packets come out once complete.
//! let mut decoder = Decoder::new(version).with_max_packet_size(64 * 1024);
//! let (a, b) = wire.split_at(5);
//! decoder.feed(a);
//! assert_eq!(decoder.decode()?, None);
//! decoder.feed(b);
//! let Some(Packet::Publish(received)) = decoder.decode()? else { panic!("a PUBLISH") };
//! assert_eq!(received, publish);
//!
//! let filter = TopicFilter::try_from("sensors/+/temp")?;
//! assert!(filter.matches(&received.topic));
//! # Ok(())
//! # }
//! ```
//!
//! ## Borrowed decoding
//!
//! Without `Bytes` (or to read many packets and keep few, as a broker or an
//! analyser does), [`decode_packet_ref`] decodes from a `&[u8]`: the
//! [`PacketRef`] it returns borrows its topic, payload, strings and
//! properties from the input, allocates nothing, and is checked exactly as
//! strictly as the owned decoder (same errors, same consumed length).
//! `to_owned` gives the owned [`Packet`] when one is to be kept.
//!
//! ```
//! use bytes::BytesMut;
//! use sansmqtt_proto::{
//!     MAX_PACKET_SIZE, Packet, PacketRef, ProtocolVersion, Publish, TopicName, decode_packet_ref,
//! };
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let version = ProtocolVersion::V5;
//! let mut publish = Publish::at_most_once(TopicName::try_from("sensors/hall/co2")?, &b"412"[..]);
//! publish.properties.message_expiry_interval = Some(30);
//! let mut wire = BytesMut::new();
//! publish.encode(version, &mut wire)?;
//! Packet::PingReq.encode(version, &mut wire)?;
//!
//! // Walk the received bytes: each packet says how many bytes it took.
//! let mut rest: &[u8] = &wire;
//! let mut topics = Vec::new();
//! while let Some((packet, used)) = decode_packet_ref(rest, version, MAX_PACKET_SIZE)? {
//!     if let PacketRef::Publish(p) = packet {
//!         topics.push(p.topic); // a &str into `wire`
//!         assert_eq!(p.properties.message_expiry_interval(), Some(30));
//!         assert_eq!(p.to_owned(), publish);
//!     }
//!     rest = &rest[used..];
//! }
//! assert_eq!(topics, ["sensors/hall/co2"]);
//! assert!(rest.is_empty());
//! # Ok(())
//! # }
//! ```

#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod borrowed;
mod decoder;
mod error;
mod packet;
mod properties;
mod reason;
mod string;
mod topic;
mod types;
mod wire;

pub use borrowed::{
    AckRef, AuthRef, ConnAckRef, ConnectRef, DisconnectRef, FilterIter, LastWillRef, PacketRef,
    PropertiesRef, PropertyIter, PropertyRef, PubAckRef, PubCompRef, PubRecRef, PubRelRef,
    PublishRef, ReasonCodes, SubAckRef, SubscribeRef, SubscriptionIter, TopicFilterRef,
    UnsubAckRef, UnsubscribeRef, decode_packet_ref,
};
pub use decoder::{Decoder, FixedHeader, MAX_PACKET_SIZE, decode_packet, peek_header};
pub use error::{DecodeError, EncodeError};
pub use packet::AckReason;
pub use packet::{
    Ack, Auth, ConnAck, Connect, Disconnect, LastWill, Packet, PacketType, PubAck, PubComp, PubRec,
    PubRel, Publish, RetainHandling, SubAck, Subscribe, SubscriptionOptions, UnsubAck, Unsubscribe,
};
pub use properties::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    MaximumQoS, PayloadFormat, Properties, PropertyId, PropertyList, PublishProperties,
    SubscribeProperties, SubscriptionId, UnsubscribeProperties, UserProperty, WillProperties,
};
pub use reason::{
    AuthReason, ConnectReason, DisconnectReason, PubAckReason, PubCompReason, PubRecReason,
    PubRelReason, SubAckReason, UnsubAckReason,
};
pub use string::{MqttString, StringError};
pub use topic::{TopicError, TopicFilter, TopicName, matches};
pub use types::{PacketId, ProtocolVersion, QoS};
pub use wire::{MAX_VAR_INT, parse_var_int, var_int_len};
