//! CONNACK (§3.2): the server's answer to CONNECT.

use bytes::{BufMut, BytesMut};

use super::{Body, PacketType, packet_encoding};
use crate::wire::Reader;
use crate::{
    ConnAckProperties, ConnectReason, DecodeError, EncodeError, Properties, ProtocolVersion,
};

/// A CONNACK packet. In MQTT 3.1.1 the return code is mapped to the
/// equivalent [`ConnectReason`] (see [`ConnectReason::v3_return_code`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    /// Session Present.
    pub session_present: bool,
    /// Connect Reason Code (5) or Return Code (3.1.1).
    pub reason: ConnectReason,
    /// CONNACK properties (MQTT 5).
    pub properties: Properties<ConnAckProperties>,
}

impl ConnAck {
    /// A CONNACK with this reason and no properties.
    pub fn new(session_present: bool, reason: ConnectReason) -> Self {
        Self {
            session_present,
            reason,
            properties: Properties::default(),
        }
    }

    /// The Session Present flag of the acknowledge flags byte, whose other
    /// bits are reserved [MQTT-3.2.2-1].
    pub(crate) fn session_present(flags: u8) -> Result<bool, DecodeError> {
        if flags & 0xfe != 0 {
            return Err(DecodeError::ConnAckReservedFlags);
        }
        Ok(flags & 0x01 != 0)
    }

    /// The reason of a reason code (5) or return code (3.1.1); a session is
    /// never present on a refusal ([MQTT-3.2.2-4] in 3.1.1, [MQTT-3.2.2-6] in 5).
    pub(crate) fn reason(
        code: u8,
        session_present: bool,
        version: ProtocolVersion,
    ) -> Result<ConnectReason, DecodeError> {
        let reason = if version.is_v5() {
            ConnectReason::decode(code)?
        } else {
            ConnectReason::from_v3_return_code(code).ok_or(DecodeError::InvalidReasonCode {
                packet: PacketType::ConnAck,
                code,
            })?
        };
        if session_present && reason != ConnectReason::Success {
            return Err(DecodeError::SessionPresentOnRefusal);
        }
        Ok(reason)
    }

    pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let session_present = Self::session_present(r.u8()?)?;
        let reason = Self::reason(r.u8()?, session_present, version)?;
        let properties = if version.is_v5() {
            let p = Properties::<ConnAckProperties>::read(r)?;
            p.check_auth_pair()?;
            p
        } else {
            Properties::default()
        };
        Ok(Self {
            session_present,
            reason,
            properties,
        })
    }
}

impl Body for ConnAck {
    const TYPE: PacketType = PacketType::ConnAck;

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.session_present && self.reason != ConnectReason::Success {
            return Err(EncodeError::SessionPresentOnRefusal);
        }
        if version.is_v5() {
            self.properties.check_auth_pair_encode()?;
            Ok(2 + self.properties.encoded_len()?)
        } else {
            super::require_v5(version, !self.properties.is_empty(), "CONNACK properties")?;
            super::require_v5(
                version,
                self.reason.v3_return_code().is_none(),
                "this CONNACK reason code",
            )?;
            Ok(2)
        }
    }

    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u8(u8::from(self.session_present));
        if version.is_v5() {
            buf.put_u8(self.reason.code());
            self.properties.write(buf);
        } else {
            buf.put_u8(self.reason.v3_return_code().unwrap_or(0));
        }
    }
}

packet_encoding!(ConnAck);
