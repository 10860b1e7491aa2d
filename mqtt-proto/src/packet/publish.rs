//! PUBLISH (§3.3): an application message.

use bytes::{BufMut, Bytes, BytesMut};

use super::{Body, PacketType};
use crate::wire::{self, Reader};
use crate::{
    DecodeError, EncodeError, PacketId, Properties, ProtocolVersion, PublishProperties, QoS,
    TopicError, TopicName,
};

/// A PUBLISH packet. Topic and payload are slices of the received buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// DUP flag: a redelivery. Always false at QoS 0 [MQTT-3.3.1-2].
    pub dup: bool,
    /// QoS level.
    pub qos: QoS,
    /// RETAIN flag.
    pub retain: bool,
    /// Topic Name. Empty only in MQTT 5 with a topic alias.
    pub topic: TopicName,
    /// Packet Identifier: present exactly when QoS > 0.
    pub packet_id: Option<PacketId>,
    /// PUBLISH properties (MQTT 5).
    pub properties: Properties<PublishProperties>,
    /// Application message.
    pub payload: Bytes,
}

impl Publish {
    /// A QoS 0 message.
    pub fn at_most_once(topic: TopicName, payload: impl Into<Bytes>) -> Self {
        Self {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic,
            packet_id: None,
            properties: Properties::default(),
            payload: payload.into(),
        }
    }

    /// A QoS 1 or 2 message with its packet identifier.
    pub fn with_qos(
        topic: TopicName,
        payload: impl Into<Bytes>,
        qos: QoS,
        packet_id: PacketId,
    ) -> Self {
        let mut p = Self::at_most_once(topic, payload);
        p.qos = qos;
        p.packet_id = (qos != QoS::AtMostOnce).then_some(packet_id);
        p
    }

    /// DUP, QoS and RETAIN of the fixed header's flags; no DUP at QoS 0
    /// [MQTT-3.3.1-2].
    #[inline]
    pub(crate) fn read_flags(flags: u8) -> Result<(bool, QoS, bool), DecodeError> {
        let dup = flags & 0x08 != 0;
        let qos = QoS::from_bits((flags >> 1) & 0x03)?;
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupWithQoS0);
        }
        Ok((dup, qos, flags & 0x01 != 0))
    }

    #[inline]
    pub(crate) fn read(
        flags: u8,
        r: &mut Reader,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let (dup, qos, retain) = Self::read_flags(flags)?;
        let topic = TopicName::from_wire(r.binary()?).map_err(|e| match e {
            TopicError::String(e) => DecodeError::from(e),
            other => DecodeError::InvalidTopicName(other),
        })?;
        let packet_id = if qos == QoS::AtMostOnce {
            None
        } else {
            Some(PacketId::decode(r.u16()?)?)
        };
        let properties = if version.is_v5() {
            Properties::<PublishProperties>::read(r)?
        } else {
            Properties::default()
        };
        if topic.is_empty() && properties.topic_alias.is_none() {
            return Err(DecodeError::EmptyTopicWithoutAlias);
        }
        let payload = r.rest();
        Ok(Self {
            dup,
            qos,
            retain,
            topic,
            packet_id,
            properties,
            payload,
        })
    }
}

impl Body for Publish {
    const TYPE: PacketType = PacketType::Publish;

    fn flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | ((self.qos as u8) << 1) | u8::from(self.retain)
    }

    #[inline]
    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.dup && self.qos == QoS::AtMostOnce {
            return Err(EncodeError::DupWithQoS0);
        }
        if self.topic.is_empty() && self.properties.topic_alias.is_none() {
            return Err(EncodeError::EmptyTopicWithoutAlias);
        }
        // A packet identifier exactly when QoS > 0 [MQTT-2.2.1-2].
        if (self.qos == QoS::AtMostOnce) != self.packet_id.is_none() {
            return Err(EncodeError::PacketIdMismatch);
        }
        let mut n = wire::string_len(self.topic.as_mqtt_str()) + self.payload.len();
        if self.packet_id.is_some() {
            n += 2;
        }
        if version.is_v5() {
            n += self.properties.encoded_len()?;
        } else {
            super::require_v5(version, !self.properties.is_empty(), "PUBLISH properties")?;
        }
        Ok(n)
    }

    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        wire::put_string(buf, self.topic.as_mqtt_str());
        if let Some(id) = self.packet_id {
            buf.put_u16(id.get());
        }
        if version.is_v5() {
            self.properties.write(buf);
        }
        buf.put_slice(&self.payload);
    }
}

impl Publish {
    /// Size in bytes of the encoded packet, fixed header included; fails if
    /// the packet cannot be encoded for `version`.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        super::encoded_len(self, version)
    }

    /// Appends the encoded packet to `buf` (one reservation of the exact
    /// size) and returns its length. Nothing is written on error.
    pub fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<usize, EncodeError> {
        let total = self.encode_head(version, buf, self.payload.len())?;
        buf.put_slice(&self.payload);
        Ok(total)
    }

    /// Appends everything but the payload to `buf` and returns the size of
    /// the whole packet: the payload is then sent from [`Publish::payload`]
    /// as it is (a vectored write), so a large message is never copied
    /// between the application and the socket.
    pub fn encode_without_payload(
        &self,
        version: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<usize, EncodeError> {
        self.encode_head(version, buf, 0)
    }

    /// Writes the fixed header, variable header and properties, reserving
    /// room for `room` payload bytes after them.
    #[inline(always)]
    fn encode_head(
        &self,
        version: ProtocolVersion,
        buf: &mut BytesMut,
        room: usize,
    ) -> Result<usize, EncodeError> {
        // The usual PUBLISH (no properties, a topic, the identifier matching
        // the QoS, no DUP at QoS 0) is valid by construction: its size is a
        // sum. Anything else goes through the full validation.
        let usual = self.properties.is_absent()
            && !self.topic.is_empty()
            && (self.qos == QoS::AtMostOnce) == self.packet_id.is_none()
            && !(self.dup && self.qos == QoS::AtMostOnce);
        let remaining = if usual {
            2 + self.topic.as_str().len()
                + if self.packet_id.is_some() { 2 } else { 0 }
                + usize::from(version.is_v5())
                + self.payload.len()
        } else {
            self.body_len(version)?
        };
        if remaining > wire::MAX_VAR_INT as usize {
            return Err(EncodeError::PacketTooLarge(remaining));
        }
        let total = 1 + wire::var_int_len(remaining as u32) + remaining;
        buf.reserve(total - self.payload.len() + room);
        // Constant-size writes compile to plain stores; only the topic goes
        // through a copy.
        buf.put_u8(0x30 | self.flags());
        wire::put_var_int(buf, remaining as u32);
        let topic = self.topic.as_str().as_bytes();
        buf.put_u16(topic.len() as u16);
        buf.put_slice(topic);
        if let Some(id) = self.packet_id {
            buf.put_u16(id.get());
        }
        if version.is_v5() {
            self.properties.write(buf);
        }
        Ok(total)
    }
}
