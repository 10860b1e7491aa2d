//! UNSUBSCRIBE (§3.10) and UNSUBACK (§3.11).

use alloc::vec::Vec;
use bytes::{BufMut, BytesMut};

use super::{Body, PacketType, packet_encoding};
use crate::wire::{self, Reader};
use crate::{
    AckProperties, DecodeError, EncodeError, PacketId, Properties, ProtocolVersion, TopicFilter,
    UnsubAckReason, UnsubscribeProperties,
};

/// An UNSUBSCRIBE packet: at least one filter [MQTT-3.10.3-2].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Packet identifier.
    pub packet_id: PacketId,
    /// Filters to remove, in order.
    pub filters: Vec<TopicFilter>,
    /// UNSUBSCRIBE properties (MQTT 5).
    pub properties: Properties<UnsubscribeProperties>,
}

impl Unsubscribe {
    pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = PacketId::decode(r.u16()?)?;
        let properties = if version.is_v5() {
            Properties::<UnsubscribeProperties>::read(r)?
        } else {
            Properties::default()
        };
        let mut filters = Vec::with_capacity(1);
        while !r.is_empty() {
            let filter = if version.is_v5() {
                TopicFilter::new(r.string()?)
            } else {
                TopicFilter::new_v3(r.string()?)
            };
            filters.push(filter.map_err(DecodeError::InvalidTopicFilter)?);
        }
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters(PacketType::Unsubscribe));
        }
        Ok(Self {
            packet_id,
            filters,
            properties,
        })
    }
}

impl Body for Unsubscribe {
    const TYPE: PacketType = PacketType::Unsubscribe;

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::NoTopicFilters(PacketType::Unsubscribe));
        }
        let mut n = 2;
        if version.is_v5() {
            n += self.properties.encoded_len()?;
        } else {
            super::require_v5(
                version,
                !self.properties.is_empty(),
                "UNSUBSCRIBE properties",
            )?;
        }
        for filter in &self.filters {
            n += wire::string_len(filter.as_mqtt_str());
        }
        Ok(n)
    }

    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.write(buf);
        }
        for filter in &self.filters {
            wire::put_string(buf, filter.as_mqtt_str());
        }
    }
}

packet_encoding!(Unsubscribe);

/// An UNSUBACK packet. MQTT 3.1.1 carries only the packet identifier
/// (`reasons` is empty); MQTT 5 has one reason per filter, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// Packet identifier of the UNSUBSCRIBE.
    pub packet_id: PacketId,
    /// Reason codes (MQTT 5), in the order of the filters.
    pub reasons: Vec<UnsubAckReason>,
    /// UNSUBACK properties (MQTT 5).
    pub properties: Properties<AckProperties>,
}

impl UnsubAck {
    pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = PacketId::decode(r.u16()?)?;
        let mut ack = Self {
            packet_id,
            reasons: Vec::new(),
            properties: Properties::default(),
        };
        if version.is_v5() {
            ack.properties = Properties::<AckProperties>::read(r)?;
            ack.reasons.reserve_exact(r.remaining());
            while !r.is_empty() {
                ack.reasons.push(UnsubAckReason::decode(r.u8()?)?);
            }
            if ack.reasons.is_empty() {
                return Err(DecodeError::NoReasonCodes(PacketType::UnsubAck));
            }
        }
        Ok(ack)
    }
}

impl Body for UnsubAck {
    const TYPE: PacketType = PacketType::UnsubAck;

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if version.is_v5() {
            if self.reasons.is_empty() {
                return Err(EncodeError::NoReasonCodes(PacketType::UnsubAck));
            }
            Ok(2 + self.properties.encoded_len()? + self.reasons.len())
        } else {
            super::require_v5(version, !self.properties.is_empty(), "UNSUBACK properties")?;
            super::require_v5(version, !self.reasons.is_empty(), "UNSUBACK reason codes")?;
            Ok(2)
        }
    }

    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.write(buf);
            for reason in &self.reasons {
                buf.put_u8(reason.code());
            }
        }
    }
}

packet_encoding!(UnsubAck);
