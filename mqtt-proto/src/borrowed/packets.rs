//! The borrowed control packets: the fields of §3 read from a `&[u8]`, in the
//! order and with the checks of the owned packets' `read`.

use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

use bytes::Bytes;

use super::properties::PropertiesRef;
use super::reader::Cursor;
use crate::packet::{ConnectFlags, check_protocol_name, protocol_of};
use crate::{
    Ack, AckProperties, AckReason, Auth, AuthProperties, AuthReason, ConnAck, ConnAckProperties,
    Connect, ConnectProperties, ConnectReason, DecodeError, Disconnect, DisconnectProperties,
    DisconnectReason, LastWill, MqttString, PacketId, PacketType, ProtocolVersion, Publish,
    PublishProperties, QoS, SubAck, SubAckReason, Subscribe, SubscribeProperties,
    SubscriptionOptions, TopicFilter, TopicName, UnsubAck, UnsubAckReason, Unsubscribe,
    UnsubscribeProperties, WillProperties,
};

/// A property list in MQTT 5, none before.
#[inline]
fn properties_if<'a, T: super::properties::Rules>(
    v5: bool,
    c: &mut Cursor<'a>,
) -> Result<PropertiesRef<'a, T>, DecodeError> {
    if v5 {
        PropertiesRef::read(c)
    } else {
        Ok(PropertiesRef::none())
    }
}

/// A borrowed PUBLISH (§3.3): topic and payload are slices of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishRef<'a> {
    /// DUP flag: a redelivery. Always false at QoS 0 [MQTT-3.3.1-2].
    pub dup: bool,
    /// QoS level.
    pub qos: QoS,
    /// RETAIN flag.
    pub retain: bool,
    /// Topic Name. Empty only in MQTT 5 with a topic alias.
    pub topic: &'a str,
    /// Packet Identifier: present exactly when QoS > 0.
    pub packet_id: Option<PacketId>,
    /// PUBLISH properties (MQTT 5).
    pub properties: PropertiesRef<'a, PublishProperties>,
    /// Application message.
    pub payload: &'a [u8],
}

impl<'a> PublishRef<'a> {
    #[inline]
    pub(crate) fn read(
        flags: u8,
        c: &mut Cursor<'a>,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let (dup, qos, retain) = Publish::read_flags(flags)?;
        let topic = c.publish_topic()?;
        let packet_id = if qos == QoS::AtMostOnce {
            None
        } else {
            Some(PacketId::decode(c.u16()?)?)
        };
        let properties = properties_if(version.is_v5(), c)?;
        // [MQTT-4.7.3-1]; a v5 PUBLISH may leave the topic to its alias.
        if topic.is_empty() && properties.topic_alias().is_none() {
            return Err(DecodeError::EmptyTopicWithoutAlias);
        }
        Ok(Self {
            dup,
            qos,
            retain,
            topic,
            packet_id,
            properties,
            payload: c.rest(),
        })
    }

    /// The owned PUBLISH: topic and payload copied.
    pub fn to_owned(&self) -> Publish {
        Publish {
            dup: self.dup,
            qos: self.qos,
            retain: self.retain,
            topic: TopicName::copy_of(self.topic),
            packet_id: self.packet_id,
            properties: self.properties.to_owned(),
            payload: Bytes::copy_from_slice(self.payload),
        }
    }
}

/// A borrowed Will Message of a CONNECT (§3.1.3.2 to §3.1.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastWillRef<'a> {
    /// Will Topic.
    pub topic: &'a str,
    /// Will Payload.
    pub payload: &'a [u8],
    /// Will QoS.
    pub qos: QoS,
    /// Will Retain.
    pub retain: bool,
    /// Will Properties (MQTT 5).
    pub properties: PropertiesRef<'a, WillProperties>,
}

impl LastWillRef<'_> {
    /// The owned will, its fields copied.
    pub fn to_owned(&self) -> LastWill {
        LastWill {
            topic: TopicName::copy_of(self.topic),
            payload: Bytes::copy_from_slice(self.payload),
            qos: self.qos,
            retain: self.retain,
            properties: self.properties.to_owned(),
        }
    }
}

/// A borrowed CONNECT (§3.1). `Debug` never shows the password.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ConnectRef<'a> {
    /// Protocol version (name and level on the wire).
    pub protocol: ProtocolVersion,
    /// Clean Session (3.1.1) / Clean Start (5).
    pub clean_start: bool,
    /// Keep Alive in seconds; 0 disables it.
    pub keep_alive: u16,
    /// Client Identifier.
    pub client_id: &'a str,
    /// The Will Message.
    pub will: Option<LastWillRef<'a>>,
    /// User Name.
    pub username: Option<&'a str>,
    /// Password.
    pub password: Option<&'a [u8]>,
    /// CONNECT properties (MQTT 5).
    pub properties: PropertiesRef<'a, ConnectProperties>,
}

impl<'a> ConnectRef<'a> {
    pub(crate) fn read(c: &mut Cursor<'a>) -> Result<Self, DecodeError> {
        // §3.1.2.1: the protocol name, then §3.1.2.2: the level.
        let name = c.string()?;
        check_protocol_name(name)?;
        let protocol = protocol_of(name, c.u8()?)?;
        let flags = ConnectFlags::decode(c.u8()?, protocol)?;
        let keep_alive = c.u16()?;
        let properties = properties_if::<ConnectProperties>(protocol.is_v5(), c)?;
        properties.check_auth_pair()?;
        let client_id = c.string()?;
        let will = if flags.will {
            let properties = properties_if(protocol.is_v5(), c)?;
            let topic = c.string()?;
            TopicName::check(topic).map_err(DecodeError::InvalidTopicName)?;
            Some(LastWillRef {
                topic,
                payload: c.binary()?,
                qos: flags.will_qos,
                retain: flags.will_retain,
                properties,
            })
        } else {
            None
        };
        let username = if flags.username {
            Some(c.string()?)
        } else {
            None
        };
        let password = if flags.password {
            Some(c.binary()?)
        } else {
            None
        };
        Ok(Self {
            protocol,
            clean_start: flags.clean_start,
            keep_alive,
            client_id,
            will,
            username,
            password,
            properties,
        })
    }

    /// The owned CONNECT, its fields copied.
    pub fn to_owned(&self) -> Connect {
        Connect {
            protocol: self.protocol,
            clean_start: self.clean_start,
            keep_alive: self.keep_alive,
            client_id: MqttString::copy_of(self.client_id),
            will: self.will.as_ref().map(LastWillRef::to_owned),
            username: self.username.map(MqttString::copy_of),
            password: self.password.map(Bytes::copy_from_slice),
            properties: self.properties.to_owned(),
        }
    }
}

impl fmt::Debug for ConnectRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectRef")
            .field("protocol", &self.protocol)
            .field("clean_start", &self.clean_start)
            .field("keep_alive", &self.keep_alive)
            .field("client_id", &self.client_id)
            .field("will", &self.will)
            .field("username", &self.username)
            .field("password", &self.password.map(|_| "<redacted>"))
            .field("properties", &self.properties)
            .finish()
    }
}

/// A borrowed CONNACK (§3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnAckRef<'a> {
    /// Session Present.
    pub session_present: bool,
    /// Connect Reason Code (5) or Return Code (3.1.1), as in [`ConnAck`].
    pub reason: ConnectReason,
    /// CONNACK properties (MQTT 5).
    pub properties: PropertiesRef<'a, ConnAckProperties>,
}

impl<'a> ConnAckRef<'a> {
    pub(crate) fn read(c: &mut Cursor<'a>, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let session_present = ConnAck::session_present(c.u8()?)?;
        let reason = ConnAck::reason(c.u8()?, session_present, version)?;
        let properties = properties_if::<ConnAckProperties>(version.is_v5(), c)?;
        properties.check_auth_pair()?;
        Ok(Self {
            session_present,
            reason,
            properties,
        })
    }

    /// The owned CONNACK.
    pub fn to_owned(&self) -> ConnAck {
        ConnAck {
            session_present: self.session_present,
            reason: self.reason,
            properties: self.properties.to_owned(),
        }
    }
}

/// A borrowed PUBACK, PUBREC, PUBREL or PUBCOMP (§3.4 to §3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckRef<'a, R> {
    /// The packet identifier acknowledged.
    pub packet_id: PacketId,
    /// Reason code (MQTT 5; always success in 3.1.1).
    pub reason: R,
    /// Properties (MQTT 5).
    pub properties: PropertiesRef<'a, AckProperties>,
}

impl<'a, R: AckReason> AckRef<'a, R> {
    /// A successful acknowledgement without properties.
    #[inline]
    pub(crate) fn new(packet_id: PacketId) -> Self {
        Self {
            packet_id,
            reason: R::SUCCESS,
            properties: PropertiesRef::none(),
        }
    }

    #[inline]
    pub(crate) fn read(c: &mut Cursor<'a>, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let mut ack = Self::new(PacketId::decode(c.u16()?)?);
        // MQTT 5: reason and properties may be omitted [MQTT-3.4.2-1].
        if version.is_v5() && !c.is_empty() {
            ack.reason = R::from_wire(c.u8()?)?;
            if !c.is_empty() {
                ack.properties = PropertiesRef::read(c)?;
            }
        }
        Ok(ack)
    }

    /// The owned acknowledgement.
    pub fn to_owned(&self) -> Ack<R> {
        Ack {
            packet_id: self.packet_id,
            reason: self.reason,
            properties: self.properties.to_owned(),
        }
    }
}

/// A borrowed topic filter of a SUBSCRIBE or UNSUBSCRIBE, checked like
/// [`TopicFilter`]; `$share/{group}/{filter}` is a shared subscription
/// (MQTT 5, and in MQTT 3.x when it is a valid one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TopicFilterRef<'a> {
    text: &'a str,
    filter_start: u16,
}

impl<'a> TopicFilterRef<'a> {
    /// Reads and checks a filter as the owned decoder does for `version`.
    fn read(c: &mut Cursor<'a>, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let text = c.string()?;
        let filter_start = if version.is_v5() {
            TopicFilter::check(text)
        } else {
            TopicFilter::check_v3(text)
        }
        .map_err(DecodeError::InvalidTopicFilter)?;
        Ok(Self { text, filter_start })
    }

    /// The whole filter as written, including any `$share/{group}/` prefix.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The filter proper, without any `$share/{group}/` prefix.
    pub fn filter(&self) -> &'a str {
        &self.text[usize::from(self.filter_start)..]
    }

    /// The share name if this is a shared subscription.
    pub fn share_group(&self) -> Option<&'a str> {
        let start = usize::from(self.filter_start);
        (start != 0).then(|| &self.text["$share/".len()..start - 1])
    }

    /// Whether this is a shared subscription.
    pub fn is_shared(&self) -> bool {
        self.filter_start != 0
    }

    /// The owned filter, copied.
    pub fn to_owned(&self) -> TopicFilter {
        TopicFilter::copy_of(self.text, self.filter_start)
    }
}

/// The (filter, options) pairs of a [`SubscribeRef`], in order.
#[derive(Debug, Clone)]
pub struct SubscriptionIter<'a> {
    cursor: Cursor<'a>,
    version: ProtocolVersion,
}

impl<'a> Iterator for SubscriptionIter<'a> {
    type Item = (TopicFilterRef<'a>, SubscriptionOptions);

    fn next(&mut self) -> Option<Self::Item> {
        let version = self.version;
        self.cursor
            .next_checked(|c| SubscribeRef::read_one(c, version))
    }
}

/// The filter list of a SUBSCRIBE or UNSUBSCRIBE, checked whole now
/// (at least one entry, each as `read_one` reads it) so that iterating it
/// later cannot fail.
fn checked_list<'a, T>(
    list: &'a [u8],
    kind: PacketType,
    mut read_one: impl FnMut(&mut Cursor<'a>) -> Result<T, DecodeError>,
) -> Result<&'a [u8], DecodeError> {
    let mut check = Cursor::new(list);
    if check.is_empty() {
        return Err(DecodeError::NoTopicFilters(kind));
    }
    while !check.is_empty() {
        read_one(&mut check)?;
    }
    Ok(list)
}

/// A borrowed SUBSCRIBE (§3.8): at least one filter [MQTT-3.8.3-3].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscribeRef<'a> {
    /// Packet identifier.
    pub packet_id: PacketId,
    /// SUBSCRIBE properties (MQTT 5).
    pub properties: PropertiesRef<'a, SubscribeProperties>,
    subscriptions: &'a [u8],
    version: ProtocolVersion,
}

impl<'a> SubscribeRef<'a> {
    pub(crate) fn read(c: &mut Cursor<'a>, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = PacketId::decode(c.u16()?)?;
        let properties = properties_if(version.is_v5(), c)?;
        let subscriptions = checked_list(c.rest(), PacketType::Subscribe, |c| {
            Self::read_one(c, version)
        })?;
        Ok(Self {
            packet_id,
            properties,
            subscriptions,
            version,
        })
    }

    /// Reads one (filter, options) pair, with every check of the owned decoder.
    fn read_one(
        c: &mut Cursor<'a>,
        version: ProtocolVersion,
    ) -> Result<(TopicFilterRef<'a>, SubscriptionOptions), DecodeError> {
        let filter = TopicFilterRef::read(c, version)?;
        let options = SubscriptionOptions::from_byte(c.u8()?, version)?;
        SubscriptionOptions::check_shared(options, filter.is_shared(), version)?;
        Ok((filter, options))
    }

    /// The filters and their options, in order.
    pub fn filters(&self) -> SubscriptionIter<'a> {
        SubscriptionIter {
            cursor: Cursor::new(self.subscriptions),
            version: self.version,
        }
    }

    /// The owned SUBSCRIBE, its filters copied.
    pub fn to_owned(&self) -> Subscribe {
        Subscribe {
            packet_id: self.packet_id,
            filters: self.filters().map(|(f, o)| (f.to_owned(), o)).collect(),
            properties: self.properties.to_owned(),
        }
    }
}

/// The filters of an [`UnsubscribeRef`], in order.
#[derive(Debug, Clone)]
pub struct FilterIter<'a> {
    cursor: Cursor<'a>,
    version: ProtocolVersion,
}

impl<'a> Iterator for FilterIter<'a> {
    type Item = TopicFilterRef<'a>;

    fn next(&mut self) -> Option<TopicFilterRef<'a>> {
        let version = self.version;
        self.cursor
            .next_checked(|c| TopicFilterRef::read(c, version))
    }
}

/// A borrowed UNSUBSCRIBE (§3.10): at least one filter [MQTT-3.10.3-2].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsubscribeRef<'a> {
    /// Packet identifier.
    pub packet_id: PacketId,
    /// UNSUBSCRIBE properties (MQTT 5).
    pub properties: PropertiesRef<'a, UnsubscribeProperties>,
    filters: &'a [u8],
    version: ProtocolVersion,
}

impl<'a> UnsubscribeRef<'a> {
    pub(crate) fn read(c: &mut Cursor<'a>, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = PacketId::decode(c.u16()?)?;
        let properties = properties_if(version.is_v5(), c)?;
        let filters = checked_list(c.rest(), PacketType::Unsubscribe, |c| {
            TopicFilterRef::read(c, version)
        })?;
        Ok(Self {
            packet_id,
            properties,
            filters,
            version,
        })
    }

    /// The filters, in order.
    pub fn filters(&self) -> FilterIter<'a> {
        FilterIter {
            cursor: Cursor::new(self.filters),
            version: self.version,
        }
    }

    /// The owned UNSUBSCRIBE, its filters copied.
    pub fn to_owned(&self) -> Unsubscribe {
        Unsubscribe {
            packet_id: self.packet_id,
            filters: self.filters().map(|f| f.to_owned()).collect(),
            properties: self.properties.to_owned(),
        }
    }
}

/// Reason codes checked when the packet was decoded, as bytes of the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReasonCodes<'a, R> {
    codes: &'a [u8],
    reason: PhantomData<R>,
}

impl<'a, R> ReasonCodes<'a, R> {
    fn new(codes: &'a [u8]) -> Self {
        Self {
            codes,
            reason: PhantomData,
        }
    }

    /// The reason codes as bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.codes
    }

    /// How many reason codes there are.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether there is none (an MQTT 3.1.1 UNSUBACK).
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

macro_rules! reason_iter {
    ($($t:ty),*) => {$(
        impl<'a> ReasonCodes<'a, $t> {
            /// The reasons, in order.
            pub fn iter(&self) -> impl Iterator<Item = $t> + 'a {
                // Every code was checked when the packet was decoded.
                self.codes.iter().filter_map(|&code| <$t>::from_code(code))
            }
        }
    )*};
}

reason_iter!(SubAckReason, UnsubAckReason);

/// A borrowed SUBACK (§3.9): one reason per filter, in order [MQTT-3.9.3-1].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubAckRef<'a> {
    /// Packet identifier of the SUBSCRIBE.
    pub packet_id: PacketId,
    /// SUBACK properties (MQTT 5).
    pub properties: PropertiesRef<'a, AckProperties>,
    /// Reason codes, in the order of the filters.
    pub reasons: ReasonCodes<'a, SubAckReason>,
}

impl<'a> SubAckRef<'a> {
    pub(crate) fn read(c: &mut Cursor<'a>, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = PacketId::decode(c.u16()?)?;
        let properties = properties_if(version.is_v5(), c)?;
        let codes = c.rest();
        for &code in codes {
            SubAck::reason(code, version)?;
        }
        if codes.is_empty() {
            return Err(DecodeError::NoReasonCodes(PacketType::SubAck));
        }
        Ok(Self {
            packet_id,
            properties,
            reasons: ReasonCodes::new(codes),
        })
    }

    /// The owned SUBACK.
    pub fn to_owned(&self) -> SubAck {
        SubAck {
            packet_id: self.packet_id,
            reasons: self.reasons.iter().collect(),
            properties: self.properties.to_owned(),
        }
    }
}

/// A borrowed UNSUBACK (§3.11): MQTT 3.1.1 carries only the packet
/// identifier, MQTT 5 one reason per filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsubAckRef<'a> {
    /// Packet identifier of the UNSUBSCRIBE.
    pub packet_id: PacketId,
    /// UNSUBACK properties (MQTT 5).
    pub properties: PropertiesRef<'a, AckProperties>,
    /// Reason codes (MQTT 5), in the order of the filters.
    pub reasons: ReasonCodes<'a, UnsubAckReason>,
}

impl<'a> UnsubAckRef<'a> {
    pub(crate) fn read(c: &mut Cursor<'a>, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = PacketId::decode(c.u16()?)?;
        let mut ack = Self {
            packet_id,
            properties: PropertiesRef::none(),
            reasons: ReasonCodes::new(&[]),
        };
        if version.is_v5() {
            ack.properties = PropertiesRef::read(c)?;
            let codes = c.rest();
            for &code in codes {
                UnsubAckReason::decode(code)?;
            }
            if codes.is_empty() {
                return Err(DecodeError::NoReasonCodes(PacketType::UnsubAck));
            }
            ack.reasons = ReasonCodes::new(codes);
        }
        Ok(ack)
    }

    /// The owned UNSUBACK.
    pub fn to_owned(&self) -> UnsubAck {
        UnsubAck {
            packet_id: self.packet_id,
            reasons: self.reasons.iter().collect::<Vec<_>>(),
            properties: self.properties.to_owned(),
        }
    }
}

/// A borrowed DISCONNECT (§3.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisconnectRef<'a> {
    /// Reason code (MQTT 5).
    pub reason: DisconnectReason,
    /// Properties (MQTT 5).
    pub properties: PropertiesRef<'a, DisconnectProperties>,
}

impl<'a> DisconnectRef<'a> {
    pub(crate) fn read(c: &mut Cursor<'a>, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let mut d = Self {
            reason: DisconnectReason::NormalDisconnection,
            properties: PropertiesRef::none(),
        };
        // Remaining length 0: Normal disconnection, no properties (§3.14.2.1).
        if version.is_v5() && !c.is_empty() {
            d.reason = DisconnectReason::decode(c.u8()?)?;
            if !c.is_empty() {
                d.properties = PropertiesRef::read(c)?;
            }
        }
        Ok(d)
    }

    /// The owned DISCONNECT.
    pub fn to_owned(&self) -> Disconnect {
        Disconnect {
            reason: self.reason,
            properties: self.properties.to_owned(),
        }
    }
}

/// A borrowed AUTH (§3.15), MQTT 5 only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthRef<'a> {
    /// Reason code.
    pub reason: AuthReason,
    /// Properties: authentication method and data, reason string, user properties.
    pub properties: PropertiesRef<'a, AuthProperties>,
}

impl<'a> AuthRef<'a> {
    pub(crate) fn read(c: &mut Cursor<'a>) -> Result<Self, DecodeError> {
        let mut a = Self {
            reason: AuthReason::Success,
            properties: PropertiesRef::none(),
        };
        // Remaining length 0: Success, no properties [MQTT-3.15.2-1].
        if !c.is_empty() {
            a.reason = AuthReason::decode(c.u8()?)?;
            if !c.is_empty() {
                a.properties = PropertiesRef::read(c)?;
                a.properties.check_auth_pair()?;
            }
        }
        Ok(a)
    }

    /// The owned AUTH.
    pub fn to_owned(&self) -> Auth {
        Auth {
            reason: self.reason,
            properties: self.properties.to_owned(),
        }
    }
}
