//! Typed errors of decoding and encoding.
//!
//! Every violation of the specification that the codec detects has its own
//! variant, so that a session can choose the right reason code (v5) or simply
//! close the connection (3.1.1), and so that tests can assert the exact rule.

use crate::{PacketType, PropertyId, ProtocolVersion, TopicError};

/// Why a byte stream could not be decoded into a packet.
///
/// Decoding errors are fatal for the connection: after one, the stream is
/// out of sync and must be closed ([MQTT-4.8.0-1] in 3.1.1, §4.13 in 5.0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The packet type nibble is 0, or 15 (AUTH) outside MQTT 5.
    #[error("reserved packet type {0}")]
    ReservedPacketType(u8),
    /// The four flag bits of the fixed header are not those the packet type requires [MQTT-2.2.2-2].
    #[error("invalid fixed header flags {flags:#06b} for {packet:?} [MQTT-2.2.2-2]")]
    InvalidHeaderFlags {
        /// The packet type.
        packet: PacketType,
        /// The flag nibble received.
        flags: u8,
    },
    /// A Variable Byte Integer (remaining length, property length, ...) longer than 4 bytes [MQTT-1.5.5].
    #[error("variable byte integer longer than 4 bytes")]
    VarIntTooLong,
    /// A Variable Byte Integer not in its shortest form [MQTT-1.5.5-1].
    #[error("variable byte integer not encoded in the minimum number of bytes [MQTT-1.5.5-1]")]
    NonMinimalVarInt,
    /// The packet announced in the fixed header is larger than the maximum accepted.
    #[error("packet of {size} bytes exceeds the maximum packet size of {max} bytes")]
    PacketTooLarge {
        /// Size announced by the fixed header (fixed header included).
        size: u64,
        /// The maximum in force.
        max: u32,
    },
    /// The packet's remaining length ends before its fields do.
    #[error("packet ends before its fields do")]
    UnexpectedEnd,
    /// Bytes are left over after the last field of the packet.
    #[error("{0} unexpected trailing bytes in packet")]
    TrailingBytes(usize),
    /// A UTF-8 Encoded String is not well-formed UTF-8 (includes surrogates) [MQTT-1.5.4-1].
    #[error("string is not well-formed UTF-8 [MQTT-1.5.4-1]")]
    InvalidUtf8,
    /// A UTF-8 Encoded String contains U+0000 [MQTT-1.5.4-2].
    #[error("string contains U+0000 [MQTT-1.5.4-2]")]
    NullCharacter,
    /// A topic name is not valid (wildcards, empty, ...).
    #[error("invalid topic name: {0}")]
    InvalidTopicName(TopicError),
    /// A topic filter is not valid.
    #[error("invalid topic filter: {0}")]
    InvalidTopicFilter(TopicError),
    /// A packet identifier is zero where a non-zero one is required [MQTT-2.3.1-1].
    #[error("packet identifier is 0 [MQTT-2.3.1-1]")]
    ZeroPacketId,
    /// A QoS field holds 3 [MQTT-3.3.1-4].
    #[error("QoS 3 is not a valid QoS [MQTT-3.3.1-4]")]
    InvalidQoS,
    /// A QoS 0 PUBLISH has its DUP flag set [MQTT-3.3.1-2].
    #[error("DUP flag set on a QoS 0 PUBLISH [MQTT-3.3.1-2]")]
    DupWithQoS0,
    /// A PUBLISH has an empty topic name and no topic alias [MQTT-4.7.3-1].
    #[error("PUBLISH with an empty topic name and no topic alias [MQTT-4.7.3-1]")]
    EmptyTopicWithoutAlias,
    /// The protocol name of a CONNECT is neither `MQTT` nor `MQIsdp` (or does not fit its level) [MQTT-3.1.2-1].
    #[error("invalid protocol name in CONNECT [MQTT-3.1.2-1]")]
    InvalidProtocolName,
    /// The protocol level of a CONNECT is not 3, 4 or 5 [MQTT-3.1.2-2].
    #[error("unsupported protocol level {0} [MQTT-3.1.2-2]")]
    UnsupportedProtocolLevel(u8),
    /// The reserved bit of the CONNECT flags is set [MQTT-3.1.2-3].
    #[error("reserved CONNECT flag set [MQTT-3.1.2-3]")]
    ConnectReservedFlag,
    /// Will QoS or Will Retain set while the Will Flag is 0 [MQTT-3.1.2-11, MQTT-3.1.2-13].
    #[error("will QoS or will retain set without the will flag [MQTT-3.1.2-11]")]
    WillFlagsWithoutWill,
    /// Password flag set without the user name flag in MQTT 3.1.1 [MQTT-3.1.2-22].
    #[error("password without user name in MQTT 3.1.1 [MQTT-3.1.2-22]")]
    PasswordWithoutUsername,
    /// Reserved bits of the CONNACK acknowledge flags are set [MQTT-3.2.2-1].
    #[error("reserved CONNACK acknowledge flags set [MQTT-3.2.2-1]")]
    ConnAckReservedFlags,
    /// Session Present set in a CONNACK that refuses the connection [MQTT-3.2.2-4].
    #[error("session present set in a refusing CONNACK [MQTT-3.2.2-4]")]
    SessionPresentOnRefusal,
    /// A reason code (or return code) that the packet type does not define.
    #[error("reason code {code:#04x} is not valid in {packet:?}")]
    InvalidReasonCode {
        /// The packet type.
        packet: PacketType,
        /// The code received.
        code: u8,
    },
    /// A SUBSCRIBE or UNSUBSCRIBE without any topic filter [MQTT-3.8.3-3, MQTT-3.10.3-2].
    #[error("{0:?} without any topic filter [MQTT-3.8.3-3]")]
    NoTopicFilters(PacketType),
    /// A SUBACK (or v5 UNSUBACK) without any reason code.
    #[error("{0:?} without any reason code [MQTT-3.9.3-1]")]
    NoReasonCodes(PacketType),
    /// Subscription options with reserved bits set, or retain handling 3 [MQTT-3.8.3-5].
    #[error("invalid subscription options byte {0:#010b} [MQTT-3.8.3-5]")]
    InvalidSubscriptionOptions(u8),
    /// No Local set on a shared subscription [MQTT-3.8.3-4].
    #[error("no local set on a shared subscription [MQTT-3.8.3-4]")]
    NoLocalOnSharedSubscription,
    /// A property identifier the specification does not define.
    #[error("unknown property identifier {0:#04x}")]
    UnknownProperty(u8),
    /// A property that this packet may not carry [MQTT-2.2.2-2 in 5.0].
    #[error("property {id:?} is not allowed in {context}")]
    PropertyNotAllowed {
        /// The property.
        id: PropertyId,
        /// The packet (or will) whose property list held it.
        context: &'static str,
    },
    /// A property that may appear once appears twice.
    #[error("property {0:?} appears more than once")]
    DuplicateProperty(PropertyId),
    /// Authentication Data without Authentication Method (§3.1.2.11.10, §3.2.2.3.18, §3.15.2.2.4).
    #[error("authentication data without authentication method")]
    AuthDataWithoutMethod,
    /// A property value outside the range the specification allows (e.g. Receive Maximum 0).
    #[error("invalid value for property {0:?}")]
    InvalidPropertyValue(PropertyId),
}

/// Why a packet could not be encoded: the codec refuses to write what the
/// specification forbids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The packet would exceed the largest remaining length MQTT can express (268,435,455).
    #[error("packet too large: remaining length {0} exceeds 268,435,455")]
    PacketTooLarge(usize),
    /// A Binary Data field (payload of will, password, correlation or auth data) exceeds 65,535 bytes.
    #[error("binary field of {0} bytes exceeds 65,535")]
    BinaryTooLong(usize),
    /// The packet uses a feature that does not exist in the chosen protocol version.
    #[error("{what} is not available in {version:?}")]
    NotInVersion {
        /// The feature.
        what: &'static str,
        /// The version the packet was encoded for.
        version: ProtocolVersion,
    },
    /// A CONNECT's protocol version differs from the version it is encoded for.
    #[error("CONNECT for {connect:?} encoded as {version:?}")]
    VersionMismatch {
        /// The CONNECT's own protocol.
        connect: ProtocolVersion,
        /// The requested version.
        version: ProtocolVersion,
    },
    /// DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2].
    #[error("DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2]")]
    DupWithQoS0,
    /// A PUBLISH with an empty topic and no topic alias [MQTT-4.7.3-1].
    #[error("PUBLISH with an empty topic and no topic alias [MQTT-4.7.3-1]")]
    EmptyTopicWithoutAlias,
    /// A PUBLISH whose packet identifier is missing at QoS > 0 or present at QoS 0 [MQTT-2.2.1-2].
    #[error("PUBLISH packet identifier must be present exactly when QoS > 0 [MQTT-2.2.1-2]")]
    PacketIdMismatch,
    /// A password without a user name in MQTT 3.1.1 [MQTT-3.1.2-22].
    #[error("password without user name in MQTT 3.1.1 [MQTT-3.1.2-22]")]
    PasswordWithoutUsername,
    /// A SUBSCRIBE or UNSUBSCRIBE with no filter [MQTT-3.8.3-3].
    #[error("{0:?} without any topic filter [MQTT-3.8.3-3]")]
    NoTopicFilters(PacketType),
    /// A SUBACK or v5 UNSUBACK with no reason code.
    #[error("{0:?} without any reason code")]
    NoReasonCodes(PacketType),
    /// No Local on a shared subscription [MQTT-3.8.3-4].
    #[error("no local on a shared subscription [MQTT-3.8.3-4]")]
    NoLocalOnSharedSubscription,
    /// Authentication Data without Authentication Method.
    #[error("authentication data without authentication method")]
    AuthDataWithoutMethod,
    /// Session present on a refusing CONNACK [MQTT-3.2.2-4].
    #[error("session present on a refusing CONNACK [MQTT-3.2.2-4]")]
    SessionPresentOnRefusal,
}
