//! PUBACK, PUBREC, PUBREL and PUBCOMP (§3.4 to §3.7): one shape, four reason sets.

use bytes::{BufMut, BytesMut};

use super::{Body, PacketType};
use crate::wire::Reader;
use crate::{
    AckProperties, DecodeError, EncodeError, PacketId, Properties, ProtocolVersion, PubAckReason,
    PubCompReason, PubRecReason, PubRelReason,
};

mod sealed {
    pub trait Sealed {}
}

/// The reason code set of one acknowledgement packet type.
pub trait AckReason: sealed::Sealed + Copy + Eq + core::fmt::Debug {
    /// The packet type these reasons belong to.
    const TYPE: PacketType;
    /// The success code (0x00).
    const SUCCESS: Self;
    /// The byte on the wire.
    fn to_code(self) -> u8;
    /// The reason of a byte.
    fn from_wire(code: u8) -> Result<Self, DecodeError>;
}

macro_rules! ack_reason {
    ($($t:ty => $kind:ident),*) => {$(
        impl sealed::Sealed for $t {}
        impl AckReason for $t {
            const TYPE: PacketType = PacketType::$kind;
            const SUCCESS: Self = <$t>::Success;
            fn to_code(self) -> u8 {
                self.code()
            }
            fn from_wire(code: u8) -> Result<Self, DecodeError> {
                <$t>::decode(code)
            }
        }
    )*};
}

ack_reason!(PubAckReason => PubAck, PubRecReason => PubRec, PubRelReason => PubRel, PubCompReason => PubComp);

/// An acknowledgement in the QoS 1 and QoS 2 flows: a packet identifier and,
/// in MQTT 5, a reason code and properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack<R> {
    /// The packet identifier acknowledged.
    pub packet_id: PacketId,
    /// Reason code (MQTT 5; always success in 3.1.1).
    pub reason: R,
    /// Properties (MQTT 5).
    pub properties: Properties<AckProperties>,
}

/// PUBACK: QoS 1 acknowledgement.
pub type PubAck = Ack<PubAckReason>;
/// PUBREC: QoS 2 delivery part 1.
pub type PubRec = Ack<PubRecReason>;
/// PUBREL: QoS 2 delivery part 2.
pub type PubRel = Ack<PubRelReason>;
/// PUBCOMP: QoS 2 delivery part 3.
pub type PubComp = Ack<PubCompReason>;

impl<R: AckReason> Ack<R> {
    /// A successful acknowledgement of `packet_id`.
    pub fn new(packet_id: PacketId) -> Self {
        Self {
            packet_id,
            reason: R::SUCCESS,
            properties: Properties::default(),
        }
    }

    /// An acknowledgement with a reason code.
    pub fn with_reason(packet_id: PacketId, reason: R) -> Self {
        Self {
            reason,
            ..Self::new(packet_id)
        }
    }

    pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = PacketId::decode(r.u16()?)?;
        let mut ack = Self::new(packet_id);
        // MQTT 5: reason and properties may be omitted (remaining length 2 or 3) [MQTT-3.4.2-1].
        if version.is_v5() && !r.is_empty() {
            ack.reason = R::from_wire(r.u8()?)?;
            if !r.is_empty() {
                ack.properties = Properties::<AckProperties>::read(r)?;
            }
        }
        Ok(ack)
    }

    /// Size in bytes of the encoded packet.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        super::encoded_len(self, version)
    }

    /// Appends the encoded packet to `buf`; see [`crate::Packet::encode`].
    pub fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<usize, EncodeError> {
        super::encode(self, version, buf)
    }
}

impl<R: AckReason> Body for Ack<R> {
    const TYPE: PacketType = R::TYPE;

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !version.is_v5() {
            super::require_v5(
                version,
                self.reason != R::SUCCESS,
                "acknowledgement reason codes",
            )?;
            super::require_v5(
                version,
                !self.properties.is_empty(),
                "acknowledgement properties",
            )?;
            return Ok(2);
        }
        // The shortest form the specification allows.
        Ok(if self.properties.is_empty() {
            if self.reason == R::SUCCESS { 2 } else { 3 }
        } else {
            3 + self.properties.encoded_len()?
        })
    }

    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() && (self.reason != R::SUCCESS || !self.properties.is_empty()) {
            buf.put_u8(self.reason.to_code());
            if !self.properties.is_empty() {
                self.properties.write(buf);
            }
        }
    }
}
