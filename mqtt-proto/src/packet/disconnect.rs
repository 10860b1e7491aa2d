//! DISCONNECT (§3.14).

use bytes::{BufMut, BytesMut};

use super::{Body, PacketType, packet_encoding};
use crate::wire::Reader;
use crate::{
    DecodeError, DisconnectProperties, DisconnectReason, EncodeError, Properties, ProtocolVersion,
};

/// A DISCONNECT packet. In MQTT 3.1.1 it has no body (normal disconnection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    /// Reason code (MQTT 5).
    pub reason: DisconnectReason,
    /// Properties (MQTT 5).
    pub properties: Properties<DisconnectProperties>,
}

impl Default for Disconnect {
    fn default() -> Self {
        Self::new(DisconnectReason::NormalDisconnection)
    }
}

impl Disconnect {
    /// A DISCONNECT with a reason and no properties.
    pub fn new(reason: DisconnectReason) -> Self {
        Self {
            reason,
            properties: Properties::default(),
        }
    }

    pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let mut d = Self::default();
        // Remaining length 0: Normal disconnection, no properties (§3.14.2.1).
        if version.is_v5() && !r.is_empty() {
            d.reason = DisconnectReason::decode(r.u8()?)?;
            if !r.is_empty() {
                d.properties = Properties::<DisconnectProperties>::read(r)?;
            }
        }
        Ok(d)
    }
}

impl Body for Disconnect {
    const TYPE: PacketType = PacketType::Disconnect;

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !version.is_v5() {
            super::require_v5(
                version,
                self.reason != DisconnectReason::NormalDisconnection,
                "DISCONNECT reason codes",
            )?;
            super::require_v5(
                version,
                !self.properties.is_empty(),
                "DISCONNECT properties",
            )?;
            return Ok(0);
        }
        Ok(if self.properties.is_empty() {
            if self.reason == DisconnectReason::NormalDisconnection {
                0
            } else {
                1
            }
        } else {
            1 + self.properties.encoded_len()?
        })
    }

    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        if version.is_v5()
            && (self.reason != DisconnectReason::NormalDisconnection || !self.properties.is_empty())
        {
            buf.put_u8(self.reason.code());
            if !self.properties.is_empty() {
                self.properties.write(buf);
            }
        }
    }
}

packet_encoding!(Disconnect);
