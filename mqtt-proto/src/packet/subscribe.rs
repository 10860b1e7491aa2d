//! SUBSCRIBE (§3.8) and SUBACK (§3.9).

use alloc::vec;
use alloc::vec::Vec;
use bytes::{BufMut, BytesMut};

use super::{Body, PacketType, packet_encoding};
use crate::wire::{self, Reader};
use crate::{
    AckProperties, DecodeError, EncodeError, PacketId, Properties, ProtocolVersion, QoS,
    SubAckReason, SubscribeProperties, TopicFilter,
};

/// Retain Handling of a subscription (§3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum RetainHandling {
    /// Send retained messages at the time of the subscribe.
    #[default]
    SendAtSubscribe = 0,
    /// Send retained messages only if the subscription does not yet exist.
    SendAtSubscribeIfNew = 1,
    /// Do not send retained messages.
    DoNotSend = 2,
}

/// Subscription Options (§3.8.3.1); in MQTT 3.1.1 only the QoS exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS.
    pub qos: QoS,
    /// No Local (MQTT 5): do not receive own publications.
    pub no_local: bool,
    /// Retain As Published (MQTT 5).
    pub retain_as_published: bool,
    /// Retain Handling (MQTT 5).
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Options with this QoS and MQTT 5 defaults.
    pub fn qos(qos: QoS) -> Self {
        Self {
            qos,
            ..Self::default()
        }
    }

    /// With No Local (MQTT 5): the server does not send the client's own
    /// publications back to it on this subscription [MQTT-3.8.3-3].
    pub const fn no_local(mut self, no_local: bool) -> Self {
        self.no_local = no_local;
        self
    }

    /// With Retain As Published (MQTT 5): forwarded messages keep the
    /// RETAIN flag they were published with [MQTT-3.3.1-12, MQTT-3.3.1-13].
    pub const fn retain_as_published(mut self, retain_as_published: bool) -> Self {
        self.retain_as_published = retain_as_published;
        self
    }

    /// With a Retain Handling (MQTT 5): when the server sends retained
    /// messages for this subscription [MQTT-3.3.1-9, -10, -11].
    pub const fn retain_handling(mut self, retain_handling: RetainHandling) -> Self {
        self.retain_handling = retain_handling;
        self
    }

    fn byte(&self) -> u8 {
        (self.qos as u8)
            | (u8::from(self.no_local) << 2)
            | (u8::from(self.retain_as_published) << 3)
            | ((self.retain_handling as u8) << 4)
    }

    fn is_v3(&self) -> bool {
        !self.no_local
            && !self.retain_as_published
            && self.retain_handling == RetainHandling::SendAtSubscribe
    }

    /// No Local on a shared subscription is a Protocol Error in MQTT 5
    /// [MQTT-3.8.3-4].
    pub(crate) fn check_shared(
        options: Self,
        shared: bool,
        version: ProtocolVersion,
    ) -> Result<(), DecodeError> {
        if options.no_local && shared && version.is_v5() {
            return Err(DecodeError::NoLocalOnSharedSubscription);
        }
        Ok(())
    }

    pub(crate) fn from_byte(b: u8, version: ProtocolVersion) -> Result<Self, DecodeError> {
        // Reserved bits: 2-7 in 3.1.1 [MQTT-3.8.3-4], 6-7 in 5 [MQTT-3.8.3-5].
        let reserved = if version.is_v5() { 0xc0 } else { 0xfc };
        if b & reserved != 0 {
            return Err(DecodeError::InvalidSubscriptionOptions(b));
        }
        let qos = QoS::from_bits(b & 0x03)?;
        let retain_handling = match (b >> 4) & 0x03 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendAtSubscribeIfNew,
            2 => RetainHandling::DoNotSend,
            _ => return Err(DecodeError::InvalidSubscriptionOptions(b)),
        };
        Ok(Self {
            qos,
            no_local: b & 0x04 != 0,
            retain_as_published: b & 0x08 != 0,
            retain_handling,
        })
    }
}

/// A SUBSCRIBE packet: at least one filter [MQTT-3.8.3-3].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// Packet identifier.
    pub packet_id: PacketId,
    /// Filters and their options, in order.
    pub filters: Vec<(TopicFilter, SubscriptionOptions)>,
    /// SUBSCRIBE properties (MQTT 5).
    pub properties: Properties<SubscribeProperties>,
}

impl Subscribe {
    /// A SUBSCRIBE to one filter.
    pub fn new(packet_id: PacketId, filter: TopicFilter, options: SubscriptionOptions) -> Self {
        Self {
            packet_id,
            filters: vec![(filter, options)],
            properties: Properties::default(),
        }
    }

    pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = PacketId::decode(r.u16()?)?;
        let properties = if version.is_v5() {
            Properties::<SubscribeProperties>::read(r)?
        } else {
            Properties::default()
        };
        let mut filters = Vec::with_capacity(1);
        while !r.is_empty() {
            let filter = if version.is_v5() {
                TopicFilter::new(r.string()?)
            } else {
                TopicFilter::new_v3(r.string()?)
            }
            .map_err(DecodeError::InvalidTopicFilter)?;
            let options = SubscriptionOptions::from_byte(r.u8()?, version)?;
            SubscriptionOptions::check_shared(options, filter.is_shared(), version)?;
            filters.push((filter, options));
        }
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters(PacketType::Subscribe));
        }
        Ok(Self {
            packet_id,
            filters,
            properties,
        })
    }
}

impl Body for Subscribe {
    const TYPE: PacketType = PacketType::Subscribe;

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::NoTopicFilters(PacketType::Subscribe));
        }
        let mut n = 2;
        if version.is_v5() {
            n += self.properties.encoded_len()?;
        } else {
            super::require_v5(version, !self.properties.is_empty(), "SUBSCRIBE properties")?;
        }
        for (filter, options) in &self.filters {
            if version.is_v5() {
                if options.no_local && filter.is_shared() {
                    return Err(EncodeError::NoLocalOnSharedSubscription);
                }
            } else {
                super::require_v5(version, !options.is_v3(), "subscription options")?;
            }
            n += wire::string_len(filter.as_mqtt_str()) + 1;
        }
        Ok(n)
    }

    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.write(buf);
        }
        for (filter, options) in &self.filters {
            wire::put_string(buf, filter.as_mqtt_str());
            buf.put_u8(options.byte());
        }
    }
}

packet_encoding!(Subscribe);

/// A SUBACK packet: one reason code per filter of the SUBSCRIBE, in order [MQTT-3.9.3-1].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// Packet identifier of the SUBSCRIBE.
    pub packet_id: PacketId,
    /// Reason codes, in the order of the filters.
    pub reasons: Vec<SubAckReason>,
    /// SUBACK properties (MQTT 5).
    pub properties: Properties<AckProperties>,
}

impl SubAck {
    /// A reason code of `version`: MQTT 3.1.1 allows 0x00, 0x01, 0x02 and
    /// 0x80 only [MQTT-3.9.3-2].
    pub(crate) fn reason(code: u8, version: ProtocolVersion) -> Result<SubAckReason, DecodeError> {
        let reason = SubAckReason::decode(code)?;
        if !version.is_v5() && !reason.in_v3() {
            return Err(DecodeError::InvalidReasonCode {
                packet: PacketType::SubAck,
                code,
            });
        }
        Ok(reason)
    }

    pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = PacketId::decode(r.u16()?)?;
        let properties = if version.is_v5() {
            Properties::<AckProperties>::read(r)?
        } else {
            Properties::default()
        };
        let mut reasons = Vec::with_capacity(r.remaining());
        while !r.is_empty() {
            reasons.push(Self::reason(r.u8()?, version)?);
        }
        if reasons.is_empty() {
            return Err(DecodeError::NoReasonCodes(PacketType::SubAck));
        }
        Ok(Self {
            packet_id,
            reasons,
            properties,
        })
    }
}

impl Body for SubAck {
    const TYPE: PacketType = PacketType::SubAck;

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.reasons.is_empty() {
            return Err(EncodeError::NoReasonCodes(PacketType::SubAck));
        }
        let mut n = 2 + self.reasons.len();
        if version.is_v5() {
            n += self.properties.encoded_len()?;
        } else {
            super::require_v5(version, !self.properties.is_empty(), "SUBACK properties")?;
            super::require_v5(
                version,
                self.reasons.iter().any(|r| !r.in_v3()),
                "this SUBACK reason code",
            )?;
        }
        Ok(n)
    }

    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.write(buf);
        }
        for reason in &self.reasons {
            buf.put_u8(reason.code());
        }
    }
}

packet_encoding!(SubAck);
