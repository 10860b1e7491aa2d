//! The control packets (§2, §3) and the dispatch between them.

use alloc::boxed::Box;

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
mod publish;
mod subscribe;
mod unsubscribe;

pub use ack::{Ack, AckReason, PubAck, PubComp, PubRec, PubRel};
pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{Connect, LastWill};
pub(crate) use connect::{ConnectFlags, check_protocol_name, protocol_of};
pub use disconnect::Disconnect;
pub use publish::Publish;
pub use subscribe::{RetainHandling, SubAck, Subscribe, SubscriptionOptions};
pub use unsubscribe::{UnsubAck, Unsubscribe};

use bytes::{BufMut, Bytes, BytesMut};

use crate::wire::{MAX_VAR_INT, Reader, put_var_int, var_int_len};
use crate::{DecodeError, EncodeError, ProtocolVersion};

/// The type of a control packet: the high nibble of the fixed header (§2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
#[allow(missing_docs)]
pub enum PacketType {
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    Auth = 15,
}

impl PacketType {
    /// Reads the type and checks the flags of a fixed header's first byte
    /// (§2.1.2, §2.1.3, [MQTT-2.2.2-2]); AUTH exists only in MQTT 5.
    pub fn from_header(byte: u8, version: ProtocolVersion) -> Result<Self, DecodeError> {
        use PacketType::*;
        let kind = match byte >> 4 {
            1 => Connect,
            2 => ConnAck,
            3 => Publish,
            4 => PubAck,
            5 => PubRec,
            6 => PubRel,
            7 => PubComp,
            8 => Subscribe,
            9 => SubAck,
            10 => Unsubscribe,
            11 => UnsubAck,
            12 => PingReq,
            13 => PingResp,
            14 => Disconnect,
            15 if version.is_v5() => Auth,
            other => return Err(DecodeError::ReservedPacketType(other)),
        };
        let flags = byte & 0x0f;
        let ok = match kind {
            // DUP, QoS and RETAIN; QoS 3 is malformed [MQTT-3.3.1-4].
            Publish => (flags >> 1) & 0x03 != 0x03,
            // [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1]
            PubRel | Subscribe | Unsubscribe => flags == 0b0010,
            _ => flags == 0,
        };
        if !ok {
            if kind == Publish {
                return Err(DecodeError::InvalidQoS);
            }
            return Err(DecodeError::InvalidHeaderFlags {
                packet: kind,
                flags,
            });
        }
        Ok(kind)
    }
}

/// A control packet of MQTT 3.1, 3.1.1 or 5.0.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Packet {
    Connect(Box<Connect>),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(PubAck),
    PubRec(PubRec),
    PubRel(PubRel),
    PubComp(PubComp),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    Auth(Auth),
}

/// What each packet body knows to do; the fixed header is shared.
pub(crate) trait Body {
    const TYPE: PacketType;
    /// The flag nibble of the fixed header.
    fn flags(&self) -> u8 {
        match Self::TYPE {
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => 0b0010,
            _ => 0,
        }
    }
    /// The remaining length, after checking the packet may be encoded for `version`.
    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError>;
    /// Writes the body; only called after `body_len` succeeded.
    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut);
}

/// Remaining length and total size of a body, refusing what MQTT cannot express.
fn sizes<B: Body>(body: &B, version: ProtocolVersion) -> Result<(usize, usize), EncodeError> {
    let remaining = body.body_len(version)?;
    if remaining > MAX_VAR_INT as usize {
        return Err(EncodeError::PacketTooLarge(remaining));
    }
    Ok((remaining, 1 + var_int_len(remaining as u32) + remaining))
}

pub(crate) fn encoded_len<B: Body>(
    body: &B,
    version: ProtocolVersion,
) -> Result<usize, EncodeError> {
    sizes(body, version).map(|(_, total)| total)
}

/// Encodes a packet with one reservation of the exact size.
pub(crate) fn encode<B: Body>(
    body: &B,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<usize, EncodeError> {
    let (remaining, total) = sizes(body, version)?;
    buf.reserve(total);
    let start = buf.len();
    buf.put_u8(((B::TYPE as u8) << 4) | body.flags());
    put_var_int(buf, remaining as u32);
    body.write_body(version, buf);
    debug_assert_eq!(buf.len() - start, total, "{:?} length mismatch", B::TYPE);
    Ok(total)
}

/// Implements the public `encode` / `encoded_len` of a packet struct.
macro_rules! packet_encoding {
    ($t:ty) => {
        impl $t {
            /// Size in bytes of the encoded packet, fixed header included;
            /// fails if the packet cannot be encoded for `version`.
            pub fn encoded_len(
                &self,
                version: $crate::ProtocolVersion,
            ) -> Result<usize, $crate::EncodeError> {
                $crate::packet::encoded_len(self, version)
            }

            /// Appends the encoded packet to `buf` (one reservation of the
            /// exact size) and returns its length. Nothing is written on error.
            pub fn encode(
                &self,
                version: $crate::ProtocolVersion,
                buf: &mut bytes::BytesMut,
            ) -> Result<usize, $crate::EncodeError> {
                $crate::packet::encode(self, version, buf)
            }
        }
    };
}
pub(crate) use packet_encoding;

/// PINGREQ and PINGRESP have no body.
struct Empty<const T: u8>;

impl Body for Empty<12> {
    const TYPE: PacketType = PacketType::PingReq;
    fn body_len(&self, _: ProtocolVersion) -> Result<usize, EncodeError> {
        Ok(0)
    }
    fn write_body(&self, _: ProtocolVersion, _: &mut BytesMut) {}
}

impl Body for Empty<13> {
    const TYPE: PacketType = PacketType::PingResp;
    fn body_len(&self, _: ProtocolVersion) -> Result<usize, EncodeError> {
        Ok(0)
    }
    fn write_body(&self, _: ProtocolVersion, _: &mut BytesMut) {}
}

impl Packet {
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

    /// Size in bytes of the encoded packet; fails if it cannot be encoded for `version`.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        match self {
            Self::Connect(p) => encoded_len(&**p, version),
            Self::ConnAck(p) => encoded_len(p, version),
            Self::Publish(p) => encoded_len(p, version),
            Self::PubAck(p) => encoded_len(p, version),
            Self::PubRec(p) => encoded_len(p, version),
            Self::PubRel(p) => encoded_len(p, version),
            Self::PubComp(p) => encoded_len(p, version),
            Self::Subscribe(p) => encoded_len(p, version),
            Self::SubAck(p) => encoded_len(p, version),
            Self::Unsubscribe(p) => encoded_len(p, version),
            Self::UnsubAck(p) => encoded_len(p, version),
            Self::PingReq => encoded_len(&Empty::<12>, version),
            Self::PingResp => encoded_len(&Empty::<13>, version),
            Self::Disconnect(p) => encoded_len(p, version),
            Self::Auth(p) => encoded_len(p, version),
        }
    }

    /// Appends the encoded packet to `buf` with one reservation of the exact
    /// size, and returns the number of bytes written. What the specification
    /// forbids (for `version`) is refused and nothing is written.
    pub fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<usize, EncodeError> {
        match self {
            Self::Connect(p) => encode(&**p, version, buf),
            Self::ConnAck(p) => encode(p, version, buf),
            Self::Publish(p) => encode(p, version, buf),
            Self::PubAck(p) => encode(p, version, buf),
            Self::PubRec(p) => encode(p, version, buf),
            Self::PubRel(p) => encode(p, version, buf),
            Self::PubComp(p) => encode(p, version, buf),
            Self::Subscribe(p) => encode(p, version, buf),
            Self::SubAck(p) => encode(p, version, buf),
            Self::Unsubscribe(p) => encode(p, version, buf),
            Self::UnsubAck(p) => encode(p, version, buf),
            Self::PingReq => encode(&Empty::<12>, version, buf),
            Self::PingResp => encode(&Empty::<13>, version, buf),
            Self::Disconnect(p) => encode(p, version, buf),
            Self::Auth(p) => encode(p, version, buf),
        }
    }

    /// Decodes one complete packet held in `bytes` (fixed header included).
    /// Payloads and strings of the result are slices of `bytes`.
    pub fn decode(bytes: Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let first = *bytes.first().ok_or(DecodeError::UnexpectedEnd)?;
        let kind = PacketType::from_header(first, version)?;
        let (remaining, used) =
            crate::wire::parse_var_int(&bytes[1..])?.ok_or(DecodeError::UnexpectedEnd)?;
        let end = 1 + used + remaining as usize;
        if bytes.len() < end {
            return Err(DecodeError::UnexpectedEnd);
        }
        if bytes.len() > end {
            return Err(DecodeError::TrailingBytes(bytes.len() - end));
        }
        Self::decode_body(kind, first & 0x0f, bytes.slice(1 + used..), version)
    }

    /// Decodes the body (variable header and payload) of a packet whose fixed
    /// header was already read and checked by [`PacketType::from_header`].
    #[inline]
    pub fn decode_body(
        kind: PacketType,
        flags: u8,
        body: Bytes,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let packet = match kind {
            PacketType::Connect => Self::Connect(Box::new(Connect::read(&mut r)?)),
            PacketType::ConnAck => Self::ConnAck(ConnAck::read(&mut r, version)?),
            PacketType::Publish => Self::Publish(Publish::read(flags, &mut r, version)?),
            PacketType::PubAck => Self::PubAck(Ack::read(&mut r, version)?),
            PacketType::PubRec => Self::PubRec(Ack::read(&mut r, version)?),
            PacketType::PubRel => Self::PubRel(Ack::read(&mut r, version)?),
            PacketType::PubComp => Self::PubComp(Ack::read(&mut r, version)?),
            PacketType::Subscribe => Self::Subscribe(Subscribe::read(&mut r, version)?),
            PacketType::SubAck => Self::SubAck(SubAck::read(&mut r, version)?),
            PacketType::Unsubscribe => Self::Unsubscribe(Unsubscribe::read(&mut r, version)?),
            PacketType::UnsubAck => Self::UnsubAck(UnsubAck::read(&mut r, version)?),
            PacketType::PingReq => Self::PingReq,
            PacketType::PingResp => Self::PingResp,
            PacketType::Disconnect => Self::Disconnect(Disconnect::read(&mut r, version)?),
            PacketType::Auth => Self::Auth(Auth::read(&mut r)?),
        };
        r.finish()?;
        Ok(packet)
    }
}

macro_rules! packet_from {
    ($($variant:ident($t:ty)),*) => {
        $(impl From<$t> for Packet {
            fn from(p: $t) -> Self {
                Packet::$variant(p)
            }
        })*
    };
}

packet_from!(
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(PubAck),
    PubRec(PubRec),
    PubRel(PubRel),
    PubComp(PubComp),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    Disconnect(Disconnect),
    Auth(Auth)
);

impl From<Connect> for Packet {
    fn from(p: Connect) -> Self {
        Packet::Connect(Box::new(p))
    }
}

/// The error for a feature missing from `version`, or `Ok`.
pub(crate) fn require_v5(
    version: ProtocolVersion,
    used: bool,
    what: &'static str,
) -> Result<(), EncodeError> {
    if used && !version.is_v5() {
        Err(EncodeError::NotInVersion { what, version })
    } else {
        Ok(())
    }
}
