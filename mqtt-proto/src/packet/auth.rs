//! AUTH (§3.15), MQTT 5 only: enhanced authentication exchanges.

use bytes::{BufMut, BytesMut};

use super::{Body, PacketType, packet_encoding};
use crate::wire::Reader;
use crate::{AuthProperties, AuthReason, DecodeError, EncodeError, Properties, ProtocolVersion};

/// An AUTH packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// Reason code.
    pub reason: AuthReason,
    /// Properties: authentication method and data, reason string, user properties.
    pub properties: Properties<AuthProperties>,
}

impl Default for Auth {
    fn default() -> Self {
        Self {
            reason: AuthReason::Success,
            properties: Properties::default(),
        }
    }
}

impl Auth {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        let mut a = Self::default();
        // Remaining length 0: Success, no properties [MQTT-3.15.2-1].
        if !r.is_empty() {
            a.reason = AuthReason::decode(r.u8()?)?;
            if !r.is_empty() {
                a.properties = Properties::<AuthProperties>::read(r)?;
                a.properties.check_auth_pair()?;
            }
        }
        Ok(a)
    }
}

impl Body for Auth {
    const TYPE: PacketType = PacketType::Auth;

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        super::require_v5(version, true, "AUTH")?;
        self.properties.check_auth_pair_encode()?;
        Ok(if self.properties.is_empty() {
            if self.reason == AuthReason::Success {
                0
            } else {
                1
            }
        } else {
            1 + self.properties.encoded_len()?
        })
    }

    fn write_body(&self, _: ProtocolVersion, buf: &mut BytesMut) {
        if self.reason != AuthReason::Success || !self.properties.is_empty() {
            buf.put_u8(self.reason.code());
            if !self.properties.is_empty() {
                self.properties.write(buf);
            }
        }
    }
}

packet_encoding!(Auth);
