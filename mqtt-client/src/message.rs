//! Messages received from the broker.

use bytes::Bytes;
use sansmqtt_proto::{PacketId, Publish, PublishProperties, QoS, TopicName};

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

    /// The whole PUBLISH packet.
    pub fn publish(&self) -> &Publish {
        &self.publish
    }

    /// The PUBLISH packet, taken out.
    pub fn into_publish(self) -> Publish {
        self.publish
    }
}
