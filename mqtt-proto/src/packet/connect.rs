//! CONNECT (§3.1): the first packet a client sends.

use core::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use super::{Body, PacketType, packet_encoding};
use crate::wire::{self, Reader};
use crate::{
    ConnectProperties, DecodeError, EncodeError, MqttString, Properties, ProtocolVersion, QoS,
    TopicName, WillProperties,
};

/// The Will Message of a CONNECT (§3.1.2.5, §3.1.3.2 to §3.1.3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastWill {
    /// Will Topic.
    pub topic: TopicName,
    /// Will Payload (binary).
    pub payload: Bytes,
    /// Will QoS.
    pub qos: QoS,
    /// Will Retain.
    pub retain: bool,
    /// Will Properties (MQTT 5).
    pub properties: Properties<WillProperties>,
}

impl LastWill {
    /// A will with default QoS 0, no retain, no properties.
    pub fn new(topic: TopicName, payload: impl Into<Bytes>) -> Self {
        Self {
            topic,
            payload: payload.into(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Properties::default(),
        }
    }
}

/// The protocol name of a CONNECT: `MQTT` or `MQIsdp` [MQTT-3.1.2-1].
pub(crate) fn check_protocol_name(name: &str) -> Result<(), DecodeError> {
    if name != "MQTT" && name != "MQIsdp" {
        return Err(DecodeError::InvalidProtocolName);
    }
    Ok(())
}

/// The version of a CONNECT's protocol level [MQTT-3.1.2-2], which must
/// fit its name.
pub(crate) fn protocol_of(name: &str, level: u8) -> Result<ProtocolVersion, DecodeError> {
    let protocol =
        ProtocolVersion::from_level(level).ok_or(DecodeError::UnsupportedProtocolLevel(level))?;
    if name != protocol.protocol_name() {
        return Err(DecodeError::InvalidProtocolName);
    }
    Ok(protocol)
}

/// The Connect Flags byte (§3.1.2.3), checked.
pub(crate) struct ConnectFlags {
    pub(crate) clean_start: bool,
    pub(crate) will: bool,
    pub(crate) will_qos: QoS,
    pub(crate) will_retain: bool,
    pub(crate) password: bool,
    pub(crate) username: bool,
}

impl ConnectFlags {
    /// Reads the flags of a CONNECT of `protocol`: the reserved bit is 0
    /// [MQTT-3.1.2-3], will QoS and retain only with a will [MQTT-3.1.2-11,
    /// MQTT-3.1.2-13], in 3.x no password without a user name [MQTT-3.1.2-22].
    pub(crate) fn decode(flags: u8, protocol: ProtocolVersion) -> Result<Self, DecodeError> {
        if flags & 0x01 != 0 {
            return Err(DecodeError::ConnectReservedFlag);
        }
        let f = Self {
            clean_start: flags & 0x02 != 0,
            will: flags & 0x04 != 0,
            will_qos: QoS::from_bits((flags >> 3) & 0x03)?,
            will_retain: flags & 0x20 != 0,
            password: flags & 0x40 != 0,
            username: flags & 0x80 != 0,
        };
        if !f.will && (f.will_qos != QoS::AtMostOnce || f.will_retain) {
            return Err(DecodeError::WillFlagsWithoutWill);
        }
        if !protocol.is_v5() && f.password && !f.username {
            return Err(DecodeError::PasswordWithoutUsername);
        }
        Ok(f)
    }
}

/// A CONNECT packet.
///
/// `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Connect {
    /// Protocol version (name and level on the wire).
    pub protocol: ProtocolVersion,
    /// Clean Session (3.1.1) / Clean Start (5).
    pub clean_start: bool,
    /// Keep Alive in seconds; 0 disables it.
    pub keep_alive: u16,
    /// Client Identifier; may be empty to have the server assign one.
    pub client_id: MqttString,
    /// The Will Message.
    pub will: Option<LastWill>,
    /// User Name.
    pub username: Option<MqttString>,
    /// Password (binary data).
    pub password: Option<Bytes>,
    /// CONNECT properties (MQTT 5).
    pub properties: Properties<ConnectProperties>,
}

impl Connect {
    /// A CONNECT with clean start, keep alive 60 s and no credentials.
    pub fn new(protocol: ProtocolVersion, client_id: MqttString) -> Self {
        Self {
            protocol,
            clean_start: true,
            keep_alive: 60,
            client_id,
            will: None,
            username: None,
            password: None,
            properties: Properties::default(),
        }
    }

    pub(crate) fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        // §3.1.2.1: the protocol name, then §3.1.2.2: the level.
        let name = r.string()?;
        check_protocol_name(&name)?;
        let protocol = protocol_of(&name, r.u8()?)?;
        let ConnectFlags {
            clean_start,
            will: will_flag,
            will_qos,
            will_retain,
            password: password_flag,
            username: username_flag,
        } = ConnectFlags::decode(r.u8()?, protocol)?;
        let keep_alive = r.u16()?;
        let properties = if protocol.is_v5() {
            Properties::<ConnectProperties>::read(r)?
        } else {
            Properties::default()
        };
        properties.check_auth_pair()?;
        let client_id = r.string()?;
        let will = if will_flag {
            let properties = if protocol.is_v5() {
                Properties::<WillProperties>::read(r)?
            } else {
                Properties::default()
            };
            let topic = TopicName::new(r.string()?).map_err(DecodeError::InvalidTopicName)?;
            let payload = r.binary()?;
            Some(LastWill {
                topic,
                payload,
                qos: will_qos,
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        let username = if username_flag {
            Some(r.string()?)
        } else {
            None
        };
        let password = if password_flag {
            Some(r.binary()?)
        } else {
            None
        };
        Ok(Self {
            protocol,
            clean_start,
            keep_alive,
            client_id,
            will,
            username,
            password,
            properties,
        })
    }
}

impl Body for Connect {
    const TYPE: PacketType = PacketType::Connect;

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if version != self.protocol {
            return Err(EncodeError::VersionMismatch {
                connect: self.protocol,
                version,
            });
        }
        if !version.is_v5() && self.password.is_some() && self.username.is_none() {
            return Err(EncodeError::PasswordWithoutUsername);
        }
        let v5 = version.is_v5();
        super::require_v5(version, !self.properties.is_empty(), "CONNECT properties")?;
        let mut n = 2 + version.protocol_name().len() + 1 + 1 + 2;
        if v5 {
            self.properties.check_auth_pair_encode()?;
            n += self.properties.encoded_len()?;
        }
        n += wire::string_len(&self.client_id);
        if let Some(will) = &self.will {
            super::require_v5(version, !will.properties.is_empty(), "will properties")?;
            if v5 {
                n += will.properties.encoded_len()?;
            }
            n += wire::string_len(will.topic.as_mqtt_str());
            n += wire::binary_len(&will.payload)?;
        }
        if let Some(u) = &self.username {
            n += wire::string_len(u);
        }
        if let Some(p) = &self.password {
            n += wire::binary_len(p)?;
        }
        Ok(n)
    }

    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        wire::put_binary(buf, version.protocol_name().as_bytes());
        buf.put_u8(version.level());
        let mut flags = 0u8;
        if self.clean_start {
            flags |= 0x02;
        }
        if let Some(will) = &self.will {
            flags |= 0x04 | ((will.qos as u8) << 3);
            if will.retain {
                flags |= 0x20;
            }
        }
        if self.password.is_some() {
            flags |= 0x40;
        }
        if self.username.is_some() {
            flags |= 0x80;
        }
        buf.put_u8(flags);
        buf.put_u16(self.keep_alive);
        if version.is_v5() {
            self.properties.write(buf);
        }
        wire::put_string(buf, &self.client_id);
        if let Some(will) = &self.will {
            if version.is_v5() {
                will.properties.write(buf);
            }
            wire::put_string(buf, will.topic.as_mqtt_str());
            wire::put_binary(buf, &will.payload);
        }
        if let Some(u) = &self.username {
            wire::put_string(buf, u);
        }
        if let Some(p) = &self.password {
            wire::put_binary(buf, p);
        }
    }
}

packet_encoding!(Connect);

impl fmt::Debug for Connect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connect")
            .field("protocol", &self.protocol)
            .field("clean_start", &self.clean_start)
            .field("keep_alive", &self.keep_alive)
            .field("client_id", &self.client_id)
            .field("will", &self.will)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("properties", &self.properties)
            .finish()
    }
}
