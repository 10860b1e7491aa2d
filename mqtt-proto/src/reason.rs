//! Reason codes (§2.4), one enum per packet type that carries them.

use crate::{DecodeError, PacketType};

macro_rules! reason_codes {
    (
        $(#[$meta:meta])*
        $name:ident for $packet:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $code, )*
        }

        impl $name {
            /// Every code of this packet type.
            pub const ALL: &'static [Self] = &[$( Self::$variant, )*];

            /// The byte on the wire.
            pub const fn code(self) -> u8 {
                self as u8
            }

            /// The reason of a code, if the packet type defines it.
            pub const fn from_code(code: u8) -> Option<Self> {
                match code {
                    $( $code => Some(Self::$variant), )*
                    _ => None,
                }
            }

            /// Whether the code reports a failure (0x80 and above).
            pub const fn is_error(self) -> bool {
                self.code() >= 0x80
            }

            pub(crate) fn decode(code: u8) -> Result<Self, DecodeError> {
                Self::from_code(code).ok_or(DecodeError::InvalidReasonCode {
                    packet: PacketType::$packet,
                    code,
                })
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{:?} ({:#04x})", self, self.code())
            }
        }
    };
}

reason_codes! {
    /// CONNACK reason codes (§3.2.2.2). MQTT 3.1.1 return codes 1 to 5 map
    /// to the five codes marked "3.1.1".
    ConnectReason for ConnAck {
        /// Connection accepted (3.1.1: 0).
        Success = 0x00,
        /// Unspecified error.
        UnspecifiedError = 0x80,
        /// Malformed Packet.
        MalformedPacket = 0x81,
        /// Protocol Error.
        ProtocolError = 0x82,
        /// Implementation specific error.
        ImplementationSpecificError = 0x83,
        /// Unsupported Protocol Version (3.1.1: 1).
        UnsupportedProtocolVersion = 0x84,
        /// Client Identifier not valid (3.1.1: 2).
        ClientIdentifierNotValid = 0x85,
        /// Bad User Name or Password (3.1.1: 4).
        BadUserNameOrPassword = 0x86,
        /// Not authorized (3.1.1: 5).
        NotAuthorized = 0x87,
        /// Server unavailable (3.1.1: 3).
        ServerUnavailable = 0x88,
        /// Server busy.
        ServerBusy = 0x89,
        /// Banned.
        Banned = 0x8A,
        /// Bad authentication method.
        BadAuthenticationMethod = 0x8C,
        /// Topic Name invalid.
        TopicNameInvalid = 0x90,
        /// Packet too large.
        PacketTooLarge = 0x95,
        /// Quota exceeded.
        QuotaExceeded = 0x97,
        /// Payload format invalid.
        PayloadFormatInvalid = 0x99,
        /// Retain not supported.
        RetainNotSupported = 0x9A,
        /// QoS not supported.
        QoSNotSupported = 0x9B,
        /// Use another server.
        UseAnotherServer = 0x9C,
        /// Server moved.
        ServerMoved = 0x9D,
        /// Connection rate exceeded.
        ConnectionRateExceeded = 0x9F,
    }
}

impl ConnectReason {
    /// The MQTT 3.1.1 return code of this reason, if 3.1.1 has one (§3.2.2.3 of 3.1.1).
    pub const fn v3_return_code(self) -> Option<u8> {
        match self {
            Self::Success => Some(0),
            Self::UnsupportedProtocolVersion => Some(1),
            Self::ClientIdentifierNotValid => Some(2),
            Self::ServerUnavailable => Some(3),
            Self::BadUserNameOrPassword => Some(4),
            Self::NotAuthorized => Some(5),
            _ => None,
        }
    }

    /// The reason of an MQTT 3.1.1 return code (0 to 5).
    pub const fn from_v3_return_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Success,
            1 => Self::UnsupportedProtocolVersion,
            2 => Self::ClientIdentifierNotValid,
            3 => Self::ServerUnavailable,
            4 => Self::BadUserNameOrPassword,
            5 => Self::NotAuthorized,
            _ => return None,
        })
    }
}

reason_codes! {
    /// PUBACK reason codes (§3.4.2.1).
    PubAckReason for PubAck {
        /// Success.
        Success = 0x00,
        /// No matching subscribers.
        NoMatchingSubscribers = 0x10,
        /// Unspecified error.
        UnspecifiedError = 0x80,
        /// Implementation specific error.
        ImplementationSpecificError = 0x83,
        /// Not authorized.
        NotAuthorized = 0x87,
        /// Topic Name invalid.
        TopicNameInvalid = 0x90,
        /// Packet identifier in use.
        PacketIdentifierInUse = 0x91,
        /// Quota exceeded.
        QuotaExceeded = 0x97,
        /// Payload format invalid.
        PayloadFormatInvalid = 0x99,
    }
}

reason_codes! {
    /// PUBREC reason codes (§3.5.2.1).
    PubRecReason for PubRec {
        /// Success.
        Success = 0x00,
        /// No matching subscribers.
        NoMatchingSubscribers = 0x10,
        /// Unspecified error.
        UnspecifiedError = 0x80,
        /// Implementation specific error.
        ImplementationSpecificError = 0x83,
        /// Not authorized.
        NotAuthorized = 0x87,
        /// Topic Name invalid.
        TopicNameInvalid = 0x90,
        /// Packet identifier in use.
        PacketIdentifierInUse = 0x91,
        /// Quota exceeded.
        QuotaExceeded = 0x97,
        /// Payload format invalid.
        PayloadFormatInvalid = 0x99,
    }
}

reason_codes! {
    /// PUBREL reason codes (§3.6.2.1).
    PubRelReason for PubRel {
        /// Success.
        Success = 0x00,
        /// Packet Identifier not found.
        PacketIdentifierNotFound = 0x92,
    }
}

reason_codes! {
    /// PUBCOMP reason codes (§3.7.2.1).
    PubCompReason for PubComp {
        /// Success.
        Success = 0x00,
        /// Packet Identifier not found.
        PacketIdentifierNotFound = 0x92,
    }
}

reason_codes! {
    /// SUBACK reason codes (§3.9.3). MQTT 3.1.1 knows 0, 1, 2 and 0x80.
    SubAckReason for SubAck {
        /// Granted QoS 0.
        GrantedQoS0 = 0x00,
        /// Granted QoS 1.
        GrantedQoS1 = 0x01,
        /// Granted QoS 2.
        GrantedQoS2 = 0x02,
        /// Unspecified error (3.1.1: Failure).
        UnspecifiedError = 0x80,
        /// Implementation specific error.
        ImplementationSpecificError = 0x83,
        /// Not authorized.
        NotAuthorized = 0x87,
        /// Topic Filter invalid.
        TopicFilterInvalid = 0x8F,
        /// Packet Identifier in use.
        PacketIdentifierInUse = 0x91,
        /// Quota exceeded.
        QuotaExceeded = 0x97,
        /// Shared Subscriptions not supported.
        SharedSubscriptionsNotSupported = 0x9E,
        /// Subscription Identifiers not supported.
        SubscriptionIdentifiersNotSupported = 0xA1,
        /// Wildcard Subscriptions not supported.
        WildcardSubscriptionsNotSupported = 0xA2,
    }
}

impl SubAckReason {
    /// The granted QoS, if the subscription succeeded.
    pub const fn granted_qos(self) -> Option<crate::QoS> {
        match self {
            Self::GrantedQoS0 => Some(crate::QoS::AtMostOnce),
            Self::GrantedQoS1 => Some(crate::QoS::AtLeastOnce),
            Self::GrantedQoS2 => Some(crate::QoS::ExactlyOnce),
            _ => None,
        }
    }

    /// Whether MQTT 3.1.1 has this code (0x00, 0x01, 0x02, 0x80) [MQTT-3.9.3-2].
    pub const fn in_v3(self) -> bool {
        matches!(
            self,
            Self::GrantedQoS0 | Self::GrantedQoS1 | Self::GrantedQoS2 | Self::UnspecifiedError
        )
    }
}

reason_codes! {
    /// UNSUBACK reason codes (§3.11.3), MQTT 5 only.
    UnsubAckReason for UnsubAck {
        /// Success.
        Success = 0x00,
        /// No subscription existed.
        NoSubscriptionExisted = 0x11,
        /// Unspecified error.
        UnspecifiedError = 0x80,
        /// Implementation specific error.
        ImplementationSpecificError = 0x83,
        /// Not authorized.
        NotAuthorized = 0x87,
        /// Topic Filter invalid.
        TopicFilterInvalid = 0x8F,
        /// Packet Identifier in use.
        PacketIdentifierInUse = 0x91,
    }
}

reason_codes! {
    /// DISCONNECT reason codes (§3.14.2.1), MQTT 5 only.
    DisconnectReason for Disconnect {
        /// Normal disconnection.
        NormalDisconnection = 0x00,
        /// Disconnect with Will Message.
        DisconnectWithWillMessage = 0x04,
        /// Unspecified error.
        UnspecifiedError = 0x80,
        /// Malformed Packet.
        MalformedPacket = 0x81,
        /// Protocol Error.
        ProtocolError = 0x82,
        /// Implementation specific error.
        ImplementationSpecificError = 0x83,
        /// Not authorized.
        NotAuthorized = 0x87,
        /// Server busy.
        ServerBusy = 0x89,
        /// Server shutting down.
        ServerShuttingDown = 0x8B,
        /// Keep Alive timeout.
        KeepAliveTimeout = 0x8D,
        /// Session taken over.
        SessionTakenOver = 0x8E,
        /// Topic Filter invalid.
        TopicFilterInvalid = 0x8F,
        /// Topic Name invalid.
        TopicNameInvalid = 0x90,
        /// Receive Maximum exceeded.
        ReceiveMaximumExceeded = 0x93,
        /// Topic Alias invalid.
        TopicAliasInvalid = 0x94,
        /// Packet too large.
        PacketTooLarge = 0x95,
        /// Message rate too high.
        MessageRateTooHigh = 0x96,
        /// Quota exceeded.
        QuotaExceeded = 0x97,
        /// Administrative action.
        AdministrativeAction = 0x98,
        /// Payload format invalid.
        PayloadFormatInvalid = 0x99,
        /// Retain not supported.
        RetainNotSupported = 0x9A,
        /// QoS not supported.
        QoSNotSupported = 0x9B,
        /// Use another server.
        UseAnotherServer = 0x9C,
        /// Server moved.
        ServerMoved = 0x9D,
        /// Shared Subscriptions not supported.
        SharedSubscriptionsNotSupported = 0x9E,
        /// Connection rate exceeded.
        ConnectionRateExceeded = 0x9F,
        /// Maximum connect time.
        MaximumConnectTime = 0xA0,
        /// Subscription Identifiers not supported.
        SubscriptionIdentifiersNotSupported = 0xA1,
        /// Wildcard Subscriptions not supported.
        WildcardSubscriptionsNotSupported = 0xA2,
    }
}

reason_codes! {
    /// AUTH reason codes (§3.15.2.1), MQTT 5 only.
    AuthReason for Auth {
        /// Success.
        Success = 0x00,
        /// Continue authentication.
        ContinueAuthentication = 0x18,
        /// Re-authenticate.
        ReAuthenticate = 0x19,
    }
}
