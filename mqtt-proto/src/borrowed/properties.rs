//! MQTT 5 properties (§2.2.2) as a borrowed view of the received bytes,
//! validated when the packet is decoded.

use core::fmt;
use core::marker::PhantomData;
use core::num::{NonZeroU16, NonZeroU32};

use bytes::BytesMut;

use super::reader::Cursor;
use crate::wire::{Reader, put_var_int};
use crate::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DecodeError,
    DisconnectProperties, MaximumQoS, PayloadFormat, Properties, PropertyId, PublishProperties,
    SubscribeProperties, SubscriptionId, TopicName, UnsubscribeProperties, WillProperties,
};

/// One property read from the wire (§2.2.2.2, Table 2-4): its identifier and
/// its value, strings and binary data borrowed from the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PropertyRef<'a> {
    /// Payload Format Indicator (0x01).
    PayloadFormatIndicator(PayloadFormat),
    /// Message Expiry Interval in seconds (0x02).
    MessageExpiryInterval(u32),
    /// Content Type (0x03).
    ContentType(&'a str),
    /// Response Topic (0x08), a topic name.
    ResponseTopic(&'a str),
    /// Correlation Data (0x09).
    CorrelationData(&'a [u8]),
    /// Subscription Identifier (0x0B).
    SubscriptionIdentifier(SubscriptionId),
    /// Session Expiry Interval in seconds (0x11).
    SessionExpiryInterval(u32),
    /// Assigned Client Identifier (0x12).
    AssignedClientIdentifier(&'a str),
    /// Server Keep Alive in seconds (0x13).
    ServerKeepAlive(u16),
    /// Authentication Method (0x15).
    AuthenticationMethod(&'a str),
    /// Authentication Data (0x16).
    AuthenticationData(&'a [u8]),
    /// Request Problem Information (0x17).
    RequestProblemInformation(bool),
    /// Will Delay Interval in seconds (0x18).
    WillDelayInterval(u32),
    /// Request Response Information (0x19).
    RequestResponseInformation(bool),
    /// Response Information (0x1A).
    ResponseInformation(&'a str),
    /// Server Reference (0x1C).
    ServerReference(&'a str),
    /// Reason String (0x1F).
    ReasonString(&'a str),
    /// Receive Maximum (0x21).
    ReceiveMaximum(NonZeroU16),
    /// Topic Alias Maximum (0x22).
    TopicAliasMaximum(u16),
    /// Topic Alias (0x23).
    TopicAlias(NonZeroU16),
    /// Maximum QoS (0x24).
    MaximumQoS(MaximumQoS),
    /// Retain Available (0x25).
    RetainAvailable(bool),
    /// User Property (0x26): name and value.
    UserProperty(&'a str, &'a str),
    /// Maximum Packet Size (0x27).
    MaximumPacketSize(NonZeroU32),
    /// Wildcard Subscription Available (0x28).
    WildcardSubscriptionAvailable(bool),
    /// Subscription Identifier Available (0x29).
    SubscriptionIdentifierAvailable(bool),
    /// Shared Subscription Available (0x2A).
    SharedSubscriptionAvailable(bool),
}

impl PropertyRef<'_> {
    /// The property's identifier.
    pub fn id(&self) -> PropertyId {
        use PropertyRef as P;
        match self {
            P::PayloadFormatIndicator(_) => PropertyId::PayloadFormatIndicator,
            P::MessageExpiryInterval(_) => PropertyId::MessageExpiryInterval,
            P::ContentType(_) => PropertyId::ContentType,
            P::ResponseTopic(_) => PropertyId::ResponseTopic,
            P::CorrelationData(_) => PropertyId::CorrelationData,
            P::SubscriptionIdentifier(_) => PropertyId::SubscriptionIdentifier,
            P::SessionExpiryInterval(_) => PropertyId::SessionExpiryInterval,
            P::AssignedClientIdentifier(_) => PropertyId::AssignedClientIdentifier,
            P::ServerKeepAlive(_) => PropertyId::ServerKeepAlive,
            P::AuthenticationMethod(_) => PropertyId::AuthenticationMethod,
            P::AuthenticationData(_) => PropertyId::AuthenticationData,
            P::RequestProblemInformation(_) => PropertyId::RequestProblemInformation,
            P::WillDelayInterval(_) => PropertyId::WillDelayInterval,
            P::RequestResponseInformation(_) => PropertyId::RequestResponseInformation,
            P::ResponseInformation(_) => PropertyId::ResponseInformation,
            P::ServerReference(_) => PropertyId::ServerReference,
            P::ReasonString(_) => PropertyId::ReasonString,
            P::ReceiveMaximum(_) => PropertyId::ReceiveMaximum,
            P::TopicAliasMaximum(_) => PropertyId::TopicAliasMaximum,
            P::TopicAlias(_) => PropertyId::TopicAlias,
            P::MaximumQoS(_) => PropertyId::MaximumQoS,
            P::RetainAvailable(_) => PropertyId::RetainAvailable,
            P::UserProperty(..) => PropertyId::UserProperty,
            P::MaximumPacketSize(_) => PropertyId::MaximumPacketSize,
            P::WildcardSubscriptionAvailable(_) => PropertyId::WildcardSubscriptionAvailable,
            P::SubscriptionIdentifierAvailable(_) => PropertyId::SubscriptionIdentifierAvailable,
            P::SharedSubscriptionAvailable(_) => PropertyId::SharedSubscriptionAvailable,
        }
    }
}

/// Reads a property identifier; one the specification does not define is
/// [`DecodeError::UnknownProperty`].
#[inline]
fn read_id(c: &mut Cursor<'_>) -> Result<PropertyId, DecodeError> {
    let raw = c.var_int()?;
    PropertyId::from_u32(raw).ok_or(DecodeError::UnknownProperty(raw.min(255) as u8))
}

/// Reads the value of property `id`, refusing what the owned decoder refuses:
/// 0 where a non-zero value is required, a byte other than 0 and 1 in a flag,
/// a Response Topic that is not a topic name.
fn read_value<'a>(id: PropertyId, c: &mut Cursor<'a>) -> Result<PropertyRef<'a>, DecodeError> {
    use PropertyId as I;
    use PropertyRef as P;
    let invalid = DecodeError::InvalidPropertyValue(id);
    let flag = |c: &mut Cursor<'a>| match c.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(DecodeError::InvalidPropertyValue(id)),
    };
    Ok(match id {
        I::PayloadFormatIndicator => P::PayloadFormatIndicator(if flag(c)? {
            PayloadFormat::Utf8
        } else {
            PayloadFormat::Unspecified
        }),
        I::MaximumQoS => P::MaximumQoS(if flag(c)? {
            MaximumQoS::AtLeastOnce
        } else {
            MaximumQoS::AtMostOnce
        }),
        I::RequestProblemInformation => P::RequestProblemInformation(flag(c)?),
        I::RequestResponseInformation => P::RequestResponseInformation(flag(c)?),
        I::RetainAvailable => P::RetainAvailable(flag(c)?),
        I::WildcardSubscriptionAvailable => P::WildcardSubscriptionAvailable(flag(c)?),
        I::SubscriptionIdentifierAvailable => P::SubscriptionIdentifierAvailable(flag(c)?),
        I::SharedSubscriptionAvailable => P::SharedSubscriptionAvailable(flag(c)?),
        I::MessageExpiryInterval => P::MessageExpiryInterval(c.u32()?),
        I::SessionExpiryInterval => P::SessionExpiryInterval(c.u32()?),
        I::WillDelayInterval => P::WillDelayInterval(c.u32()?),
        I::ServerKeepAlive => P::ServerKeepAlive(c.u16()?),
        I::TopicAliasMaximum => P::TopicAliasMaximum(c.u16()?),
        I::ReceiveMaximum => P::ReceiveMaximum(NonZeroU16::new(c.u16()?).ok_or(invalid)?),
        I::TopicAlias => P::TopicAlias(NonZeroU16::new(c.u16()?).ok_or(invalid)?),
        I::MaximumPacketSize => P::MaximumPacketSize(NonZeroU32::new(c.u32()?).ok_or(invalid)?),
        I::SubscriptionIdentifier => {
            P::SubscriptionIdentifier(SubscriptionId::new(c.var_int()?).ok_or(invalid)?)
        }
        I::ContentType => P::ContentType(c.string()?),
        I::AssignedClientIdentifier => P::AssignedClientIdentifier(c.string()?),
        I::AuthenticationMethod => P::AuthenticationMethod(c.string()?),
        I::ResponseInformation => P::ResponseInformation(c.string()?),
        I::ServerReference => P::ServerReference(c.string()?),
        I::ReasonString => P::ReasonString(c.string()?),
        // Wildcards in a Response Topic are a Protocol Error [MQTT-3.3.2-14].
        I::ResponseTopic => {
            let topic = c.string()?;
            TopicName::check(topic).map_err(|_| invalid)?;
            P::ResponseTopic(topic)
        }
        I::CorrelationData => P::CorrelationData(c.binary()?),
        I::AuthenticationData => P::AuthenticationData(c.binary()?),
        I::UserProperty => P::UserProperty(c.string()?, c.string()?),
    })
}

/// What a property list may hold, from the owned property structs.
pub(crate) trait Rules {
    /// Properties allowed once (bit = identifier).
    const SINGLE: u64;
    /// Properties allowed many times.
    const MULTI: u64;
    /// The name in [`DecodeError::PropertyNotAllowed`].
    const CONTEXT: &'static str;
}

/// The properties of a packet: a view of its property list on the wire,
/// checked when the packet was decoded exactly as the owned decoder checks it
/// (identifiers known and allowed in this packet, no duplicate of a
/// single-valued property, values in range, strings valid).
///
/// `T` is the owned list the view converts to ([`PropertiesRef::to_owned`]).
/// The typed accessors cover every property; those the packet cannot carry
/// are always `None`. Each accessor walks the list (a few bytes) and the
/// strings it returns are slices of the packet.
pub struct PropertiesRef<'a, T> {
    raw: &'a [u8],
    list: PhantomData<fn() -> T>,
}

impl<T> Clone for PropertiesRef<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for PropertiesRef<'_, T> {}

impl<T> Default for PropertiesRef<'_, T> {
    fn default() -> Self {
        Self::none()
    }
}

/// Equal when the property lists are the same bytes.
impl<T> PartialEq for PropertiesRef<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl<T> Eq for PropertiesRef<'_, T> {}

impl<T> fmt::Debug for PropertiesRef<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Generates the accessors of single-valued properties.
macro_rules! single_accessors {
    ($( $(#[$doc:meta])* $name:ident -> $ty:ty = $variant:ident; )*) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> Option<$ty> {
            self.iter().find_map(|p| match p {
                PropertyRef::$variant(v) => Some(v),
                _ => None,
            })
        }
    )*};
}

impl<'a, T> PropertiesRef<'a, T> {
    /// No properties (MQTT 3.x, or an empty list).
    pub const fn none() -> Self {
        Self {
            raw: &[],
            list: PhantomData,
        }
    }

    /// Reads and checks a property list: its length, then each property.
    #[inline]
    pub(crate) fn read(c: &mut Cursor<'a>) -> Result<Self, DecodeError>
    where
        T: Rules,
    {
        let raw = c.section()?;
        let mut list = Cursor::new(raw);
        let mut seen = 0u64;
        while !list.is_empty() {
            let id = read_id(&mut list)?;
            let bit = 1u64 << (id as u8);
            if T::SINGLE & bit != 0 {
                if seen & bit != 0 {
                    return Err(DecodeError::DuplicateProperty(id));
                }
                seen |= bit;
            } else if T::MULTI & bit == 0 {
                return Err(DecodeError::PropertyNotAllowed {
                    id,
                    context: T::CONTEXT,
                });
            }
            read_value(id, &mut list)?;
        }
        Ok(Self {
            raw,
            list: PhantomData,
        })
    }

    /// "It is a Protocol Error to include Authentication Data if there is no
    /// Authentication Method" (CONNECT, CONNACK and AUTH).
    pub(crate) fn check_auth_pair(&self) -> Result<(), DecodeError> {
        if self.authentication_data().is_some() && self.authentication_method().is_none() {
            Err(DecodeError::AuthDataWithoutMethod)
        } else {
            Ok(())
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The list's bytes on the wire, without its length prefix.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// The properties in the order of the wire.
    pub fn iter(&self) -> PropertyIter<'a> {
        PropertyIter {
            cursor: Cursor::new(self.raw),
        }
    }

    /// User Properties (name, value), in order.
    pub fn user_properties(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.iter().filter_map(|p| match p {
            PropertyRef::UserProperty(name, value) => Some((name, value)),
            _ => None,
        })
    }

    /// Subscription Identifiers, in order (several in a PUBLISH, at most one
    /// in a SUBSCRIBE).
    pub fn subscription_identifiers(&self) -> impl Iterator<Item = SubscriptionId> + 'a {
        self.iter().filter_map(|p| match p {
            PropertyRef::SubscriptionIdentifier(id) => Some(id),
            _ => None,
        })
    }

    /// The Subscription Identifier of a SUBSCRIBE (the first one).
    pub fn subscription_identifier(&self) -> Option<SubscriptionId> {
        self.subscription_identifiers().next()
    }

    single_accessors! {
        /// Payload Format Indicator.
        payload_format_indicator -> PayloadFormat = PayloadFormatIndicator;
        /// Message Expiry Interval in seconds.
        message_expiry_interval -> u32 = MessageExpiryInterval;
        /// Content Type.
        content_type -> &'a str = ContentType;
        /// Response Topic.
        response_topic -> &'a str = ResponseTopic;
        /// Correlation Data.
        correlation_data -> &'a [u8] = CorrelationData;
        /// Session Expiry Interval in seconds.
        session_expiry_interval -> u32 = SessionExpiryInterval;
        /// Assigned Client Identifier.
        assigned_client_identifier -> &'a str = AssignedClientIdentifier;
        /// Server Keep Alive in seconds.
        server_keep_alive -> u16 = ServerKeepAlive;
        /// Authentication Method.
        authentication_method -> &'a str = AuthenticationMethod;
        /// Authentication Data.
        authentication_data -> &'a [u8] = AuthenticationData;
        /// Request Problem Information.
        request_problem_information -> bool = RequestProblemInformation;
        /// Will Delay Interval in seconds.
        will_delay_interval -> u32 = WillDelayInterval;
        /// Request Response Information.
        request_response_information -> bool = RequestResponseInformation;
        /// Response Information.
        response_information -> &'a str = ResponseInformation;
        /// Server Reference.
        server_reference -> &'a str = ServerReference;
        /// Reason String.
        reason_string -> &'a str = ReasonString;
        /// Receive Maximum.
        receive_maximum -> NonZeroU16 = ReceiveMaximum;
        /// Topic Alias Maximum.
        topic_alias_maximum -> u16 = TopicAliasMaximum;
        /// Topic Alias.
        topic_alias -> NonZeroU16 = TopicAlias;
        /// Maximum QoS.
        maximum_qos -> MaximumQoS = MaximumQoS;
        /// Retain Available.
        retain_available -> bool = RetainAvailable;
        /// Maximum Packet Size.
        maximum_packet_size -> NonZeroU32 = MaximumPacketSize;
        /// Wildcard Subscription Available.
        wildcard_subscription_available -> bool = WildcardSubscriptionAvailable;
        /// Subscription Identifiers Available.
        subscription_identifier_available -> bool = SubscriptionIdentifierAvailable;
        /// Shared Subscription Available.
        shared_subscription_available -> bool = SharedSubscriptionAvailable;
    }
}

impl<'a, T> IntoIterator for PropertiesRef<'a, T> {
    type Item = PropertyRef<'a>;
    type IntoIter = PropertyIter<'a>;
    fn into_iter(self) -> PropertyIter<'a> {
        self.iter()
    }
}

/// The properties of a [`PropertiesRef`], in the order of the wire.
#[derive(Debug, Clone)]
pub struct PropertyIter<'a> {
    cursor: Cursor<'a>,
}

impl<'a> Iterator for PropertyIter<'a> {
    type Item = PropertyRef<'a>;

    fn next(&mut self) -> Option<PropertyRef<'a>> {
        self.cursor.next_checked(|c| read_value(read_id(c)?, c))
    }
}

impl core::iter::FusedIterator for PropertyIter<'_> {}

/// The rules of each owned list, and the conversion to it.
macro_rules! owned_lists {
    ($($t:ty),*) => {$(
        impl Rules for $t {
            const SINGLE: u64 = <$t>::SINGLE;
            const MULTI: u64 = <$t>::MULTI;
            const CONTEXT: &'static str = <$t>::CONTEXT;
        }

        impl PropertiesRef<'_, $t> {
            /// The owned properties: one allocation holding the list's
            /// bytes, which the owned strings and binary data share.
            pub fn to_owned(&self) -> Properties<$t> {
                if self.raw.is_empty() {
                    return Properties::none();
                }
                let mut bytes = BytesMut::with_capacity(4 + self.raw.len());
                put_var_int(&mut bytes, self.raw.len() as u32);
                bytes.extend_from_slice(self.raw);
                // The owned reader accepts what the borrowed one checked.
                let owned = Properties::<$t>::read(&mut Reader::new(bytes.freeze()));
                debug_assert!(owned.is_ok(), "a checked property list: {owned:?}");
                owned.unwrap_or_default()
            }
        }
    )*};
}

owned_lists!(
    ConnectProperties,
    WillProperties,
    ConnAckProperties,
    PublishProperties,
    AckProperties,
    SubscribeProperties,
    UnsubscribeProperties,
    DisconnectProperties,
    AuthProperties
);
