//! Messages received from the broker.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use sansmqtt_proto::{
    Packet, PacketId, PayloadFormat, ProtocolVersion, Publish, PublishProperties, QoS,
    SubscriptionId, TopicName, UserProperty, decode_packet,
};

/// A message received from the broker. Cloning is cheap: topic and payload
/// are reference-counted slices of the bytes read from the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    publish: Publish,
}

impl Message {
    pub(crate) fn new(publish: Publish) -> Self {
        Self { publish }
    }

    /// The topic the message was published to.
    pub fn topic(&self) -> &TopicName {
        &self.publish.topic
    }

    /// The payload, zero-copy.
    pub fn payload(&self) -> &Bytes {
        &self.publish.payload
    }

    /// The QoS the message was delivered with.
    pub fn qos(&self) -> QoS {
        self.publish.qos
    }

    /// The RETAIN flag: a retained message sent on subscription.
    pub fn retain(&self) -> bool {
        self.publish.retain
    }

    /// The DUP flag: the broker may have sent this message before.
    pub fn dup(&self) -> bool {
        self.publish.dup
    }

    /// The packet identifier (QoS 1 and 2).
    pub fn packet_id(&self) -> Option<PacketId> {
        self.publish.packet_id
    }

    /// MQTT 5 properties (content type, response topic, user properties, ...).
    pub fn properties(&self) -> &PublishProperties {
        &self.publish.properties
    }

    /// MQTT 5 Content Type (e.g. a MIME type), if the publisher set one.
    pub fn content_type(&self) -> Option<&str> {
        self.publish.properties.content_type.as_deref()
    }

    /// MQTT 5 Response Topic: where the publisher wants an answer.
    ///
    /// ```no_run
    /// # async fn example(client: sansmqtt::Client) -> Result<(), sansmqtt::ClientError> {
    /// use sansmqtt::PublishOptions;
    ///
    /// while let Some(m) = client.deliver_message().await {
    ///     if let (Some(reply_to), Some(id)) = (m.response_topic(), m.correlation_data()) {
    ///         let answer = PublishOptions::new().correlation_data(id.clone());
    ///         client.publish_with(reply_to.clone(), "done", answer).await?;
    ///     }
    ///     println!("{:?} {:?}", m.content_type(), m.user_property("origin"));
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn response_topic(&self) -> Option<&TopicName> {
        self.publish.properties.response_topic.as_ref()
    }

    /// MQTT 5 Correlation Data, to send back with the answer.
    pub fn correlation_data(&self) -> Option<&Bytes> {
        self.publish.properties.correlation_data.as_ref()
    }

    /// MQTT 5 User Properties, in the order they came (a name may repeat).
    pub fn user_properties(&self) -> &[UserProperty] {
        &self.publish.properties.user_properties
    }

    /// The value of the first User Property named `name`.
    pub fn user_property(&self, name: &str) -> Option<&str> {
        self.user_properties()
            .iter()
            .find(|u| u.name.as_str() == name)
            .map(|u| u.value.as_str())
    }

    /// MQTT 5 Payload Format Indicator, if the publisher set one.
    pub fn payload_format(&self) -> Option<PayloadFormat> {
        self.publish.properties.payload_format_indicator
    }

    /// Whether the publisher said the payload is UTF-8 text (Payload
    /// Format Indicator 1). The client does not check it; a broker may.
    pub fn is_utf8(&self) -> bool {
        self.payload_format() == Some(PayloadFormat::Utf8)
    }

    /// MQTT 5 Message Expiry Interval as received: what is left of the
    /// publisher's lifetime when the broker sent it [MQTT-3.3.2-6].
    pub fn message_expiry(&self) -> Option<Duration> {
        self.publish
            .properties
            .message_expiry_interval
            .map(|s| Duration::from_secs(u64::from(s)))
    }

    /// MQTT 5 Subscription Identifiers of the subscriptions the message
    /// matched (the client assigns them to route streams).
    pub fn subscription_identifiers(&self) -> &[SubscriptionId] {
        &self.publish.properties.subscription_identifiers
    }

    /// The whole PUBLISH packet.
    pub fn publish(&self) -> &Publish {
        &self.publish
    }

    /// The PUBLISH packet, taken out.
    pub fn into_publish(self) -> Publish {
        self.publish
    }

    /// The message in memory of its own. A decoded message's topic,
    /// payload and properties are slices of the read buffer it came in
    /// (zero-copy), which lives as long as any of them: one message kept
    /// while its neighbours were dropped would keep the whole buffer (up to
    /// 192 KiB for 64 bytes). Re-encoded and decoded here into an
    /// allocation of its size; unchanged if it cannot be.
    pub(crate) fn detached(self) -> Message {
        let v5 = ProtocolVersion::V5;
        let mut buf = BytesMut::new();
        if self.publish.encode(v5, &mut buf).is_err() {
            return self;
        }
        match decode_packet(&mut buf, v5, u32::MAX) {
            Ok(Some(Packet::Publish(p))) if p == self.publish => Message::new(p),
            _ => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sansmqtt_proto::MqttString;

    fn s(t: &'static str) -> MqttString {
        MqttString::from_static(t).unwrap()
    }

    #[test]
    fn accessors_read_the_properties() {
        let topic = TopicName::try_from("a").unwrap();
        let bare = Message::new(Publish::at_most_once(topic.clone(), "x"));
        assert_eq!(bare.content_type(), None);
        assert_eq!(bare.response_topic(), None);
        assert_eq!(bare.correlation_data(), None);
        assert!(bare.user_properties().is_empty());
        assert_eq!(bare.payload_format(), None);
        assert!(!bare.is_utf8());
        assert_eq!(bare.message_expiry(), None);
        assert!(bare.subscription_identifiers().is_empty());

        let mut p = Publish::at_most_once(topic, "x");
        let props = &mut *p.properties;
        props.content_type = Some(s("text/plain"));
        props.response_topic = Some(TopicName::try_from("r").unwrap());
        props.correlation_data = Some(Bytes::from_static(b"id"));
        props.payload_format_indicator = Some(PayloadFormat::Utf8);
        props.message_expiry_interval = Some(7);
        for (n, v) in [("k", "1"), ("j", "2"), ("k", "3")] {
            props.user_properties.push(UserProperty {
                name: s(n),
                value: s(v),
            });
        }
        props.subscription_identifiers = vec![SubscriptionId::new(4).unwrap()];
        let m = Message::new(p);
        assert_eq!(m.content_type(), Some("text/plain"));
        assert_eq!(m.response_topic().unwrap().as_str(), "r");
        assert_eq!(&m.correlation_data().unwrap()[..], b"id");
        assert!(m.is_utf8());
        assert_eq!(m.message_expiry(), Some(Duration::from_secs(7)));
        assert_eq!(m.user_property("k"), Some("1"));
        assert_eq!(m.user_property("none"), None);
        assert_eq!(m.user_properties().len(), 3);
        assert_eq!(m.subscription_identifiers()[0].get(), 4);
    }

    /// A message decoded from a large read buffer, detached, holds
    /// nothing of that buffer, and is the same message.
    #[test]
    fn a_detached_message_holds_none_of_its_read_buffer() {
        let mut p = Publish::at_most_once(TopicName::try_from("flood/n").unwrap(), "payload");
        let props = &mut *p.properties;
        props.content_type = Some(s("text/plain"));
        props.correlation_data = Some(Bytes::from_static(b"id"));
        props.user_properties.push(UserProperty {
            name: s("k"),
            value: s("v"),
        });
        props.subscription_identifiers = vec![SubscriptionId::new(4).unwrap()];
        let mut read = BytesMut::new();
        p.encode(ProtocolVersion::V5, &mut read).unwrap();
        read.resize(read.len() + 64 * 1024, 0);
        let range = read.as_ptr() as usize..read.as_ptr() as usize + read.len();
        let Ok(Some(Packet::Publish(decoded))) =
            decode_packet(&mut read, ProtocolVersion::V5, u32::MAX)
        else {
            panic!("decodes")
        };
        let inside = |ptr: *const u8| range.contains(&(ptr as usize));
        let m = Message::new(decoded);
        assert!(inside(m.payload().as_ptr()), "decoding is zero-copy");

        let d = m.clone().detached();
        assert_eq!(d, m);
        assert!(!inside(d.payload().as_ptr()));
        assert!(!inside(d.topic().as_str().as_ptr()));
        assert!(!inside(d.content_type().unwrap().as_ptr()));
        assert!(!inside(d.correlation_data().unwrap().as_ptr()));
        assert!(!inside(d.user_properties()[0].value.as_ptr()));
    }
}
