//! MQTT 5 properties (§2.2.2): every property, typed, grouped per packet.
//!
//! Each packet type has its own property struct holding exactly the
//! properties that packet may carry, so a property in the wrong packet
//! cannot be built, and on decode it is [`DecodeError::PropertyNotAllowed`].
//! Properties that may appear once are `Option`s (a second occurrence is
//! [`DecodeError::DuplicateProperty`]); User Property and Subscription
//! Identifier are `Vec`s that keep the order of the wire.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::num::{NonZeroU16, NonZeroU32};
use core::ops::{Deref, DerefMut};

use bytes::{BufMut, Bytes, BytesMut};

use crate::wire::{self, MAX_VAR_INT, Reader, put_var_int, var_int_len};
use crate::{DecodeError, EncodeError, MqttString, TopicName};

/// Identifier of a property (§2.2.2.2, Table 2-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
#[allow(missing_docs)]
pub enum PropertyId {
    PayloadFormatIndicator = 0x01,
    MessageExpiryInterval = 0x02,
    ContentType = 0x03,
    ResponseTopic = 0x08,
    CorrelationData = 0x09,
    SubscriptionIdentifier = 0x0B,
    SessionExpiryInterval = 0x11,
    AssignedClientIdentifier = 0x12,
    ServerKeepAlive = 0x13,
    AuthenticationMethod = 0x15,
    AuthenticationData = 0x16,
    RequestProblemInformation = 0x17,
    WillDelayInterval = 0x18,
    RequestResponseInformation = 0x19,
    ResponseInformation = 0x1A,
    ServerReference = 0x1C,
    ReasonString = 0x1F,
    ReceiveMaximum = 0x21,
    TopicAliasMaximum = 0x22,
    TopicAlias = 0x23,
    MaximumQoS = 0x24,
    RetainAvailable = 0x25,
    UserProperty = 0x26,
    MaximumPacketSize = 0x27,
    WildcardSubscriptionAvailable = 0x28,
    SubscriptionIdentifierAvailable = 0x29,
    SharedSubscriptionAvailable = 0x2A,
}

impl PropertyId {
    /// The property of an identifier, if the specification defines it.
    pub const fn from_u32(id: u32) -> Option<Self> {
        use PropertyId::*;
        Some(match id {
            0x01 => PayloadFormatIndicator,
            0x02 => MessageExpiryInterval,
            0x03 => ContentType,
            0x08 => ResponseTopic,
            0x09 => CorrelationData,
            0x0B => SubscriptionIdentifier,
            0x11 => SessionExpiryInterval,
            0x12 => AssignedClientIdentifier,
            0x13 => ServerKeepAlive,
            0x15 => AuthenticationMethod,
            0x16 => AuthenticationData,
            0x17 => RequestProblemInformation,
            0x18 => WillDelayInterval,
            0x19 => RequestResponseInformation,
            0x1A => ResponseInformation,
            0x1C => ServerReference,
            0x1F => ReasonString,
            0x21 => ReceiveMaximum,
            0x22 => TopicAliasMaximum,
            0x23 => TopicAlias,
            0x24 => MaximumQoS,
            0x25 => RetainAvailable,
            0x26 => UserProperty,
            0x27 => MaximumPacketSize,
            0x28 => WildcardSubscriptionAvailable,
            0x29 => SubscriptionIdentifierAvailable,
            0x2A => SharedSubscriptionAvailable,
            _ => return None,
        })
    }
}

/// Payload Format Indicator (§3.3.2.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PayloadFormat {
    /// Unspecified bytes.
    Unspecified = 0,
    /// UTF-8 encoded character data.
    Utf8 = 1,
}

/// Maximum QoS a server supports (§3.2.2.3.4); absent means QoS 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MaximumQoS {
    /// Only QoS 0.
    AtMostOnce = 0,
    /// QoS 0 and 1.
    AtLeastOnce = 1,
}

impl MaximumQoS {
    /// The highest QoS a server's Maximum QoS allows; `None` (absent
    /// property) allows QoS 2 (§3.2.2.3.4).
    pub fn allows(maximum: Option<MaximumQoS>) -> crate::QoS {
        match maximum {
            Some(Self::AtMostOnce) => crate::QoS::AtMostOnce,
            Some(Self::AtLeastOnce) => crate::QoS::AtLeastOnce,
            None => crate::QoS::ExactlyOnce,
        }
    }
}

/// A Subscription Identifier: 1 to 268,435,455 (§3.8.2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(NonZeroU32);

impl SubscriptionId {
    /// The identifier `id`, or `None` outside 1..=268,435,455.
    pub const fn new(id: u32) -> Option<Self> {
        if id > MAX_VAR_INT {
            return None;
        }
        match NonZeroU32::new(id) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// The numeric value.
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

/// A User Property: a name-value pair of UTF-8 strings (§3.1.2.11.8).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserProperty {
    /// The name.
    pub name: MqttString,
    /// The value.
    pub value: MqttString,
}

/// A value type that a property can hold.
pub(crate) trait PropValue: Sized {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, DecodeError>;
    /// Encoded length of the value, without the identifier.
    fn len(&self) -> usize;
    fn write(&self, buf: &mut BytesMut);
    fn check(&self) -> Result<(), EncodeError> {
        Ok(())
    }
}

impl PropValue for u16 {
    fn read(r: &mut Reader, _: PropertyId) -> Result<Self, DecodeError> {
        r.u16()
    }
    fn len(&self) -> usize {
        2
    }
    fn write(&self, buf: &mut BytesMut) {
        buf.put_u16(*self);
    }
}

impl PropValue for u32 {
    fn read(r: &mut Reader, _: PropertyId) -> Result<Self, DecodeError> {
        r.u32()
    }
    fn len(&self) -> usize {
        4
    }
    fn write(&self, buf: &mut BytesMut) {
        buf.put_u32(*self);
    }
}

/// Receive Maximum, Topic Alias: 0 is a Protocol Error.
impl PropValue for NonZeroU16 {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, DecodeError> {
        NonZeroU16::new(r.u16()?).ok_or(DecodeError::InvalidPropertyValue(id))
    }
    fn len(&self) -> usize {
        2
    }
    fn write(&self, buf: &mut BytesMut) {
        buf.put_u16(self.get());
    }
}

/// Maximum Packet Size: 0 is a Protocol Error.
impl PropValue for NonZeroU32 {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, DecodeError> {
        NonZeroU32::new(r.u32()?).ok_or(DecodeError::InvalidPropertyValue(id))
    }
    fn len(&self) -> usize {
        4
    }
    fn write(&self, buf: &mut BytesMut) {
        buf.put_u32(self.get());
    }
}

/// Byte properties that are flags: values other than 0 and 1 are a Protocol Error.
impl PropValue for bool {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::InvalidPropertyValue(id)),
        }
    }
    fn len(&self) -> usize {
        1
    }
    fn write(&self, buf: &mut BytesMut) {
        buf.put_u8(u8::from(*self));
    }
}

impl PropValue for PayloadFormat {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(Self::Unspecified),
            1 => Ok(Self::Utf8),
            _ => Err(DecodeError::InvalidPropertyValue(id)),
        }
    }
    fn len(&self) -> usize {
        1
    }
    fn write(&self, buf: &mut BytesMut) {
        buf.put_u8(*self as u8);
    }
}

impl PropValue for MaximumQoS {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(Self::AtMostOnce),
            1 => Ok(Self::AtLeastOnce),
            _ => Err(DecodeError::InvalidPropertyValue(id)),
        }
    }
    fn len(&self) -> usize {
        1
    }
    fn write(&self, buf: &mut BytesMut) {
        buf.put_u8(*self as u8);
    }
}

impl PropValue for SubscriptionId {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, DecodeError> {
        SubscriptionId::new(r.var_int()?).ok_or(DecodeError::InvalidPropertyValue(id))
    }
    fn len(&self) -> usize {
        var_int_len(self.get())
    }
    fn write(&self, buf: &mut BytesMut) {
        put_var_int(buf, self.get());
    }
}

impl PropValue for MqttString {
    fn read(r: &mut Reader, _: PropertyId) -> Result<Self, DecodeError> {
        r.string()
    }
    fn len(&self) -> usize {
        wire::string_len(self)
    }
    fn write(&self, buf: &mut BytesMut) {
        wire::put_string(buf, self);
    }
}

/// Response Topic: a topic name, wildcards are a Protocol Error [MQTT-3.3.2-14].
impl PropValue for TopicName {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, DecodeError> {
        TopicName::new(r.string()?).map_err(|_| DecodeError::InvalidPropertyValue(id))
    }
    fn len(&self) -> usize {
        wire::string_len(self.as_mqtt_str())
    }
    fn write(&self, buf: &mut BytesMut) {
        wire::put_string(buf, self.as_mqtt_str());
    }
}

impl PropValue for Bytes {
    fn read(r: &mut Reader, _: PropertyId) -> Result<Self, DecodeError> {
        r.binary()
    }
    fn len(&self) -> usize {
        2 + self.len()
    }
    fn write(&self, buf: &mut BytesMut) {
        wire::put_binary(buf, self);
    }
    fn check(&self) -> Result<(), EncodeError> {
        wire::binary_len(self).map(drop)
    }
}

impl PropValue for UserProperty {
    fn read(r: &mut Reader, _: PropertyId) -> Result<Self, DecodeError> {
        Ok(Self {
            name: r.string()?,
            value: r.string()?,
        })
    }
    fn len(&self) -> usize {
        wire::string_len(&self.name) + wire::string_len(&self.value)
    }
    fn write(&self, buf: &mut BytesMut) {
        wire::put_string(buf, &self.name);
        wire::put_string(buf, &self.value);
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A packet's property list (one of the `*Properties` structs).
pub trait PropertyList:
    sealed::Sealed + Default + Clone + PartialEq + fmt::Debug + 'static
{
    /// The empty list, shared.
    fn empty() -> &'static Self;
    /// Whether no property is set.
    fn is_empty(&self) -> bool;
}

/// The properties of a packet, stored out of line: a packet without
/// properties (all of MQTT 3.1.1, most of MQTT 5) carries one null pointer and
/// allocates nothing. Reads go through `Deref` (an absent list reads as
/// empty); the first write through `DerefMut` allocates the list.
///
/// ```
/// use sansmqtt_proto::{Properties, PublishProperties};
/// let mut props: Properties<PublishProperties> = Properties::default();
/// assert!(props.is_empty() && props.topic_alias.is_none());
/// props.message_expiry_interval = Some(60);
/// assert_eq!(props.message_expiry_interval, Some(60));
/// ```
#[derive(Clone)]
pub struct Properties<T>(Option<Box<T>>);

impl<T> Default for Properties<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<T: PropertyList> Properties<T> {
    /// No properties.
    pub const fn none() -> Self {
        Self(None)
    }

    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        self.0.as_deref().is_none_or(T::is_empty)
    }

    /// Whether no list was ever set (cheaper than [`Properties::is_empty`]).
    #[inline]
    pub(crate) fn is_absent(&self) -> bool {
        self.0.is_none()
    }

    /// The list, taken out.
    pub fn into_inner(self) -> T {
        self.0.map(|b| *b).unwrap_or_default()
    }
}

impl<T: PropertyList> From<T> for Properties<T> {
    fn from(list: T) -> Self {
        if list.is_empty() {
            Self(None)
        } else {
            Self(Some(Box::new(list)))
        }
    }
}

impl<T: PropertyList> Deref for Properties<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.0 {
            Some(list) => list,
            None => T::empty(),
        }
    }
}

impl<T: PropertyList> DerefMut for Properties<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }
}

impl<T: PropertyList> PartialEq for Properties<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: PropertyList + Eq> Eq for Properties<T> {}

impl<T: PropertyList> fmt::Debug for Properties<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Defines the property struct of one packet type: single-valued properties
/// as `Option`s, multi-valued ones as `Vec`s.
macro_rules! property_set {
    (
        $(#[$meta:meta])*
        $name:ident in $context:literal {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $id:ident, )*
        }
        multi {
            $( $(#[$mmeta:meta])* $mfield:ident : $mty:ty = $mid:ident, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Default, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: Option<$ty>, )*
            $( $(#[$mmeta])* pub $mfield: Vec<$mty>, )*
        }

        impl $name {
            /// The context named by [`DecodeError::PropertyNotAllowed`].
            pub(crate) const CONTEXT: &'static str = $context;
            /// Bit `id` set for each property the list may hold once.
            pub(crate) const SINGLE: u64 = 0 $( | 1 << PropertyId::$id as u8 )*;
            /// Bit `id` set for each property the list may hold many times.
            pub(crate) const MULTI: u64 = 0 $( | 1 << PropertyId::$mid as u8 )*;

            /// Whether no property is set.
            pub fn is_empty(&self) -> bool {
                true $( && self.$field.is_none() )* $( && self.$mfield.is_empty() )*
            }

            /// Reads the properties of a list whose length was read (the reader is limited to it).
            fn read_list(r: &mut Reader) -> Result<Self, DecodeError> {
                let mut out = Self::default();
                while !r.is_empty() {
                    let raw = r.var_int()?;
                    let id = PropertyId::from_u32(raw)
                        .ok_or(DecodeError::UnknownProperty(raw.min(255) as u8))?;
                    match id {
                        $( PropertyId::$id => {
                            if out.$field.is_some() {
                                return Err(DecodeError::DuplicateProperty(id));
                            }
                            out.$field = Some(<$ty as PropValue>::read(r, id)?);
                        } )*
                        $( PropertyId::$mid => {
                            out.$mfield.push(<$mty as PropValue>::read(r, id)?);
                        } )*
                        #[allow(unreachable_patterns)]
                        _ => {
                            return Err(DecodeError::PropertyNotAllowed { id, context: $context });
                        }
                    }
                }
                Ok(out)
            }

            /// Length of the properties, without the length prefix.
            pub(crate) fn body_len(&self) -> usize {
                #[allow(unused_mut)]
                let mut n = 0;
                $( if let Some(v) = &self.$field { n += 1 + PropValue::len(v); } )*
                $( for v in &self.$mfield { n += 1 + PropValue::len(v); } )*
                n
            }

            /// Length of the property list including its length prefix, after
            /// checking the values can be encoded.
            pub(crate) fn encoded_len(&self) -> Result<usize, EncodeError> {
                $( if let Some(v) = &self.$field { PropValue::check(v)?; } )*
                $( for v in &self.$mfield { PropValue::check(v)?; } )*
                let n = self.body_len();
                if n > MAX_VAR_INT as usize {
                    return Err(EncodeError::PacketTooLarge(n));
                }
                Ok(var_int_len(n as u32) + n)
            }

            /// Writes the property list (after `encoded_len` succeeded).
            pub(crate) fn write(&self, buf: &mut BytesMut) {
                put_var_int(buf, self.body_len() as u32);
                $( if let Some(v) = &self.$field {
                    buf.put_u8(PropertyId::$id as u8);
                    PropValue::write(v, buf);
                } )*
                $( for v in &self.$mfield {
                    buf.put_u8(PropertyId::$mid as u8);
                    PropValue::write(v, buf);
                } )*
            }
        }

        /// Shows only the properties that are set.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut d = f.debug_struct(stringify!($name));
                $( if let Some(v) = &self.$field { d.field(stringify!($field), v); } )*
                $( if !self.$mfield.is_empty() { d.field(stringify!($mfield), &self.$mfield); } )*
                d.finish()
            }
        }

        impl sealed::Sealed for $name {}

        impl PropertyList for $name {
            fn empty() -> &'static Self {
                static EMPTY: $name = $name {
                    $( $field: None, )*
                    $( $mfield: Vec::new(), )*
                };
                &EMPTY
            }

            fn is_empty(&self) -> bool {
                $name::is_empty(self)
            }
        }

        impl Properties<$name> {
            /// Reads a property list: its length, then the properties. An
            /// empty list allocates nothing.
            pub(crate) fn read(r: &mut Reader) -> Result<Self, DecodeError> {
                let len = r.var_int()? as usize;
                if len == 0 {
                    return Ok(Self(None));
                }
                let outer = r.limit(len)?;
                let list = $name::read_list(r)?;
                r.unlimit(outer);
                Ok(Self(Some(Box::new(list))))
            }

            /// Length of the property list including its length prefix.
            pub(crate) fn encoded_len(&self) -> Result<usize, EncodeError> {
                match &self.0 {
                    None => Ok(1),
                    Some(p) => p.encoded_len(),
                }
            }

            /// Writes the property list (after `encoded_len` succeeded).
            pub(crate) fn write(&self, buf: &mut BytesMut) {
                match &self.0 {
                    None => buf.put_u8(0),
                    Some(p) => p.write(buf),
                }
            }
        }
    };
}

/// "It is a Protocol Error to include Authentication Data if there is no
/// Authentication Method" (CONNECT, CONNACK and AUTH).
macro_rules! auth_pair_check {
    ($($t:ty),*) => {$(
        impl Properties<$t> {
            pub(crate) fn check_auth_pair(&self) -> Result<(), DecodeError> {
                if self.authentication_data.is_some() && self.authentication_method.is_none() {
                    Err(DecodeError::AuthDataWithoutMethod)
                } else {
                    Ok(())
                }
            }

            pub(crate) fn check_auth_pair_encode(&self) -> Result<(), EncodeError> {
                self.check_auth_pair().map_err(|_| EncodeError::AuthDataWithoutMethod)
            }
        }
    )*};
}

auth_pair_check!(ConnectProperties, ConnAckProperties, AuthProperties);

property_set! {
    /// Properties of CONNECT (§3.1.2.11).
    ConnectProperties in "CONNECT" {
        /// Session Expiry Interval in seconds (absent: 0).
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// Receive Maximum of the client.
        receive_maximum: NonZeroU16 = ReceiveMaximum,
        /// Maximum Packet Size the client accepts.
        maximum_packet_size: NonZeroU32 = MaximumPacketSize,
        /// Topic Alias Maximum the client accepts.
        topic_alias_maximum: u16 = TopicAliasMaximum,
        /// Request Response Information.
        request_response_information: bool = RequestResponseInformation,
        /// Request Problem Information.
        request_problem_information: bool = RequestProblemInformation,
        /// Authentication Method.
        authentication_method: MqttString = AuthenticationMethod,
        /// Authentication Data.
        authentication_data: Bytes = AuthenticationData,
    }
    multi {
        /// User Properties, in order.
        user_properties: UserProperty = UserProperty,
    }
}

property_set! {
    /// Will Properties of the CONNECT payload (§3.1.3.2).
    WillProperties in "Will Properties" {
        /// Will Delay Interval in seconds.
        will_delay_interval: u32 = WillDelayInterval,
        /// Payload Format Indicator.
        payload_format_indicator: PayloadFormat = PayloadFormatIndicator,
        /// Message Expiry Interval in seconds.
        message_expiry_interval: u32 = MessageExpiryInterval,
        /// Content Type.
        content_type: MqttString = ContentType,
        /// Response Topic.
        response_topic: TopicName = ResponseTopic,
        /// Correlation Data.
        correlation_data: Bytes = CorrelationData,
    }
    multi {
        /// User Properties, in order.
        user_properties: UserProperty = UserProperty,
    }
}

property_set! {
    /// Properties of CONNACK (§3.2.2.3).
    ConnAckProperties in "CONNACK" {
        /// Session Expiry Interval the server uses.
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// Receive Maximum of the server.
        receive_maximum: NonZeroU16 = ReceiveMaximum,
        /// Maximum QoS the server supports (absent: 2).
        maximum_qos: MaximumQoS = MaximumQoS,
        /// Whether the server supports retained messages (absent: yes).
        retain_available: bool = RetainAvailable,
        /// Maximum Packet Size the server accepts.
        maximum_packet_size: NonZeroU32 = MaximumPacketSize,
        /// Client identifier the server assigned.
        assigned_client_identifier: MqttString = AssignedClientIdentifier,
        /// Topic Alias Maximum the server accepts.
        topic_alias_maximum: u16 = TopicAliasMaximum,
        /// Reason String.
        reason_string: MqttString = ReasonString,
        /// Wildcard Subscription Available (absent: yes).
        wildcard_subscription_available: bool = WildcardSubscriptionAvailable,
        /// Subscription Identifiers Available (absent: yes).
        subscription_identifier_available: bool = SubscriptionIdentifierAvailable,
        /// Shared Subscription Available (absent: yes).
        shared_subscription_available: bool = SharedSubscriptionAvailable,
        /// Server Keep Alive, overriding the client's.
        server_keep_alive: u16 = ServerKeepAlive,
        /// Response Information.
        response_information: MqttString = ResponseInformation,
        /// Server Reference (another server to use).
        server_reference: MqttString = ServerReference,
        /// Authentication Method.
        authentication_method: MqttString = AuthenticationMethod,
        /// Authentication Data.
        authentication_data: Bytes = AuthenticationData,
    }
    multi {
        /// User Properties, in order.
        user_properties: UserProperty = UserProperty,
    }
}

property_set! {
    /// Properties of PUBLISH (§3.3.2.3).
    PublishProperties in "PUBLISH" {
        /// Payload Format Indicator.
        payload_format_indicator: PayloadFormat = PayloadFormatIndicator,
        /// Message Expiry Interval in seconds.
        message_expiry_interval: u32 = MessageExpiryInterval,
        /// Topic Alias.
        topic_alias: NonZeroU16 = TopicAlias,
        /// Response Topic.
        response_topic: TopicName = ResponseTopic,
        /// Correlation Data.
        correlation_data: Bytes = CorrelationData,
        /// Content Type.
        content_type: MqttString = ContentType,
    }
    multi {
        /// User Properties, in order.
        user_properties: UserProperty = UserProperty,
        /// Subscription Identifiers (server to client), in order.
        subscription_identifiers: SubscriptionId = SubscriptionIdentifier,
    }
}

property_set! {
    /// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK:
    /// a Reason String and User Properties (§3.4.2.2 and following).
    AckProperties in "acknowledgement" {
        /// Reason String.
        reason_string: MqttString = ReasonString,
    }
    multi {
        /// User Properties, in order.
        user_properties: UserProperty = UserProperty,
    }
}

property_set! {
    /// Properties of SUBSCRIBE (§3.8.2.1).
    SubscribeProperties in "SUBSCRIBE" {
        /// Subscription Identifier.
        subscription_identifier: SubscriptionId = SubscriptionIdentifier,
    }
    multi {
        /// User Properties, in order.
        user_properties: UserProperty = UserProperty,
    }
}

property_set! {
    /// Properties of UNSUBSCRIBE (§3.10.2.1).
    UnsubscribeProperties in "UNSUBSCRIBE" {
    }
    multi {
        /// User Properties, in order.
        user_properties: UserProperty = UserProperty,
    }
}

property_set! {
    /// Properties of DISCONNECT (§3.14.2.2).
    DisconnectProperties in "DISCONNECT" {
        /// Session Expiry Interval (client to server only).
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// Reason String.
        reason_string: MqttString = ReasonString,
        /// Server Reference.
        server_reference: MqttString = ServerReference,
    }
    multi {
        /// User Properties, in order.
        user_properties: UserProperty = UserProperty,
    }
}

property_set! {
    /// Properties of AUTH (§3.15.2.2).
    AuthProperties in "AUTH" {
        /// Authentication Method.
        authentication_method: MqttString = AuthenticationMethod,
        /// Authentication Data.
        authentication_data: Bytes = AuthenticationData,
        /// Reason String.
        reason_string: MqttString = ReasonString,
    }
    multi {
        /// User Properties, in order.
        user_properties: UserProperty = UserProperty,
    }
}
