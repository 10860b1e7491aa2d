//! Borrowed decoding: packets read from a `&[u8]` whose strings, binary data
//! and payloads are slices of it, for callers without `Bytes` (and for
//! brokers and analysers, which read many packets and keep few).
//!
//! [`decode_packet_ref`] has the shape and the semantics of
//! [`decode_packet`](crate::decode_packet): `Ok(None)` while the packet is
//! incomplete, the same [`DecodeError`] for the same bad input, the same
//! number of bytes consumed. Every packet is checked as strictly as by the
//! owned decoder (they share their checks), and each `to_owned` gives the
//! packet the owned decoder gives.

mod packets;
mod properties;
mod reader;

pub use packets::{
    AckRef, AuthRef, ConnAckRef, ConnectRef, DisconnectRef, FilterIter, LastWillRef, PublishRef,
    ReasonCodes, SubAckRef, SubscribeRef, SubscriptionIter, TopicFilterRef, UnsubAckRef,
    UnsubscribeRef,
};
pub use properties::{PropertiesRef, PropertyIter, PropertyRef};

use crate::{
    DecodeError, Packet, PacketId, PacketType, ProtocolVersion, PubAckReason, PubCompReason,
    PubRecReason, PubRelReason, peek_header,
};
use alloc::boxed::Box;
use reader::Cursor;

/// A borrowed PUBACK.
pub type PubAckRef<'a> = AckRef<'a, PubAckReason>;
/// A borrowed PUBREC.
pub type PubRecRef<'a> = AckRef<'a, PubRecReason>;
/// A borrowed PUBREL.
pub type PubRelRef<'a> = AckRef<'a, PubRelReason>;
/// A borrowed PUBCOMP.
pub type PubCompRef<'a> = AckRef<'a, PubCompReason>;

/// A control packet of MQTT 3.1, 3.1.1 or 5.0 borrowing from the bytes it
/// was decoded from. [`PacketRef::to_owned`] gives the owned [`Packet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum PacketRef<'a> {
    Connect(ConnectRef<'a>),
    ConnAck(ConnAckRef<'a>),
    Publish(PublishRef<'a>),
    PubAck(PubAckRef<'a>),
    PubRec(PubRecRef<'a>),
    PubRel(PubRelRef<'a>),
    PubComp(PubCompRef<'a>),
    Subscribe(SubscribeRef<'a>),
    SubAck(SubAckRef<'a>),
    Unsubscribe(UnsubscribeRef<'a>),
    UnsubAck(UnsubAckRef<'a>),
    PingReq,
    PingResp,
    Disconnect(DisconnectRef<'a>),
    Auth(AuthRef<'a>),
}

/// Decodes the packet at the front of `buf` without copying: its strings,
/// binary data and payload are slices of `buf`.
///
/// Returns the packet and the number of bytes it took (consume them before
/// the next call), or `Ok(None)` while the packet is incomplete. As with
/// [`decode_packet`](crate::decode_packet), the fixed header is checked as
/// soon as its bytes are present: a reserved type, wrong flags or a packet
/// larger than `max_packet_size` (whole packet, fixed header included) are
/// errors at once, before the body is awaited.
///
/// ```
/// use sansmqtt_proto::{PacketRef, ProtocolVersion, decode_packet_ref};
///
/// // PUBLISH QoS 0, topic "a/b", payload "hi"; then the first byte of the next packet.
/// let buf = [0x30, 0x07, 0x00, 0x03, b'a', b'/', b'b', b'h', b'i', 0xc0];
/// let (packet, used) = decode_packet_ref(&buf, ProtocolVersion::V3_1_1, 1024)?
///     .expect("a whole packet");
/// let PacketRef::Publish(publish) = packet else { panic!("a PUBLISH") };
/// assert_eq!((publish.topic, publish.payload, used), ("a/b", &b"hi"[..], 9));
/// assert_eq!(decode_packet_ref(&buf[used..], ProtocolVersion::V3_1_1, 1024)?, None);
/// # Ok::<(), sansmqtt_proto::DecodeError>(())
/// ```
#[inline]
pub fn decode_packet_ref(
    buf: &[u8],
    version: ProtocolVersion,
    max_packet_size: u32,
) -> Result<Option<(PacketRef<'_>, usize)>, DecodeError> {
    let Some(header) = peek_header(buf, version, max_packet_size)? else {
        return Ok(None);
    };
    let Some(body) = buf.get(header.header_len..header.total) else {
        return Ok(None);
    };
    let packet = PacketRef::decode_body(header.kind, header.flags, body, version)?;
    Ok(Some((packet, header.total)))
}

impl<'a> PacketRef<'a> {
    /// Decodes the body (variable header and payload) of a packet whose fixed
    /// header was already read and checked (e.g. by
    /// [`peek_header`](crate::peek_header)); the borrowed counterpart of
    /// [`Packet::decode_body`].
    #[inline]
    pub fn decode_body(
        kind: PacketType,
        flags: u8,
        body: &'a [u8],
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let mut c = Cursor::new(body);
        let packet = match kind {
            PacketType::Publish => Self::Publish(PublishRef::read(flags, &mut c, version)?),
            PacketType::PubAck => Self::PubAck(AckRef::read(&mut c, version)?),
            PacketType::PubRec => Self::PubRec(AckRef::read(&mut c, version)?),
            PacketType::PubRel => Self::PubRel(AckRef::read(&mut c, version)?),
            PacketType::PubComp => Self::PubComp(AckRef::read(&mut c, version)?),
            PacketType::Connect => Self::Connect(ConnectRef::read(&mut c)?),
            PacketType::ConnAck => Self::ConnAck(ConnAckRef::read(&mut c, version)?),
            PacketType::Subscribe => Self::Subscribe(SubscribeRef::read(&mut c, version)?),
            PacketType::SubAck => Self::SubAck(SubAckRef::read(&mut c, version)?),
            PacketType::Unsubscribe => Self::Unsubscribe(UnsubscribeRef::read(&mut c, version)?),
            PacketType::UnsubAck => Self::UnsubAck(UnsubAckRef::read(&mut c, version)?),
            PacketType::PingReq => Self::PingReq,
            PacketType::PingResp => Self::PingResp,
            PacketType::Disconnect => Self::Disconnect(DisconnectRef::read(&mut c, version)?),
            PacketType::Auth => Self::Auth(AuthRef::read(&mut c)?),
        };
        c.finish()?;
        Ok(packet)
    }

    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Self::Connect(_) => PacketType::Connect,
            Self::ConnAck(_) => PacketType::ConnAck,
            Self::Publish(_) => PacketType::Publish,
            Self::PubAck(_) => PacketType::PubAck,
            Self::PubRec(_) => PacketType::PubRec,
            Self::PubRel(_) => PacketType::PubRel,
            Self::PubComp(_) => PacketType::PubComp,
            Self::Subscribe(_) => PacketType::Subscribe,
            Self::SubAck(_) => PacketType::SubAck,
            Self::Unsubscribe(_) => PacketType::Unsubscribe,
            Self::UnsubAck(_) => PacketType::UnsubAck,
            Self::PingReq => PacketType::PingReq,
            Self::PingResp => PacketType::PingResp,
            Self::Disconnect(_) => PacketType::Disconnect,
            Self::Auth(_) => PacketType::Auth,
        }
    }

    /// The packet identifier, for the packets that carry one.
    pub fn packet_id(&self) -> Option<PacketId> {
        match self {
            Self::Publish(p) => p.packet_id,
            Self::PubAck(a) => Some(a.packet_id),
            Self::PubRec(a) => Some(a.packet_id),
            Self::PubRel(a) => Some(a.packet_id),
            Self::PubComp(a) => Some(a.packet_id),
            Self::Subscribe(s) => Some(s.packet_id),
            Self::SubAck(s) => Some(s.packet_id),
            Self::Unsubscribe(u) => Some(u.packet_id),
            Self::UnsubAck(u) => Some(u.packet_id),
            Self::Connect(_)
            | Self::ConnAck(_)
            | Self::PingReq
            | Self::PingResp
            | Self::Disconnect(_)
            | Self::Auth(_) => None,
        }
    }

    /// The owned packet, its strings and payloads copied: the packet
    /// [`decode_packet`](crate::decode_packet) gives for the same bytes.
    pub fn to_owned(&self) -> Packet {
        match self {
            Self::Connect(p) => Packet::Connect(Box::new(p.to_owned())),
            Self::ConnAck(p) => Packet::ConnAck(p.to_owned()),
            Self::Publish(p) => Packet::Publish(p.to_owned()),
            Self::PubAck(p) => Packet::PubAck(p.to_owned()),
            Self::PubRec(p) => Packet::PubRec(p.to_owned()),
            Self::PubRel(p) => Packet::PubRel(p.to_owned()),
            Self::PubComp(p) => Packet::PubComp(p.to_owned()),
            Self::Subscribe(p) => Packet::Subscribe(p.to_owned()),
            Self::SubAck(p) => Packet::SubAck(p.to_owned()),
            Self::Unsubscribe(p) => Packet::Unsubscribe(p.to_owned()),
            Self::UnsubAck(p) => Packet::UnsubAck(p.to_owned()),
            Self::PingReq => Packet::PingReq,
            Self::PingResp => Packet::PingResp,
            Self::Disconnect(p) => Packet::Disconnect(p.to_owned()),
            Self::Auth(p) => Packet::Auth(p.to_owned()),
        }
    }
}

impl From<PacketRef<'_>> for Packet {
    fn from(packet: PacketRef<'_>) -> Self {
        packet.to_owned()
    }
}
