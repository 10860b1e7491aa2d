//! MQTT 5 properties from the options values of the client's calls
//! ([`PublishOptions`], [`SubscribeOptions`](crate::SubscribeOptions),
//! [`UnsubscribeOptions`](crate::UnsubscribeOptions)): the options hold
//! plain strings, checked here when the call is made.
//!
//! A property set on a client that speaks MQTT 3.1.1 is not dropped: the
//! session refuses to encode the packet (`EncodeError::NotInVersion`), and
//! the call fails at once with it.

use std::time::Duration;

use sansmqtt_proto::{MqttString, PublishProperties, TopicName, UserProperty};

use crate::{ClientError, PublishOptions};

/// `text` as the UTF-8 string of `property`.
pub(crate) fn mqtt_string(property: &'static str, text: &str) -> Result<MqttString, ClientError> {
    MqttString::try_from(text).map_err(|error| ClientError::InvalidProperty { property, error })
}

/// User Properties from name-value pairs, in order.
pub(crate) fn user_properties(
    pairs: &[(String, String)],
) -> Result<Vec<UserProperty>, ClientError> {
    pairs
        .iter()
        .map(|(name, value)| {
            Ok(UserProperty {
                name: mqtt_string("user property name", name)?,
                value: mqtt_string("user property value", value)?,
            })
        })
        .collect()
}

/// Whole seconds of a Message Expiry Interval: rounded up (a message is
/// never expired earlier than asked), at most `u32::MAX`.
pub(crate) fn expiry_seconds(d: Duration) -> u32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    u32::try_from(secs).unwrap_or(u32::MAX)
}

/// Sets the PUBLISH properties `options` has on `properties` (those it has
/// not set stay as they are; its user properties come after those already
/// there). Nothing is touched when one is invalid.
pub(crate) fn apply_publish(
    options: &PublishOptions,
    properties: &mut PublishProperties,
) -> Result<(), ClientError> {
    let content_type = options
        .content_type
        .as_deref()
        .map(|t| mqtt_string("content type", t))
        .transpose()?;
    let response_topic = options
        .response_topic
        .as_deref()
        .map(TopicName::try_from)
        .transpose()?;
    let users = user_properties(&options.user_properties)?;
    if let Some(format) = options.payload_format {
        properties.payload_format_indicator = Some(format);
    }
    if let Some(expiry) = options.message_expiry {
        properties.message_expiry_interval = Some(expiry_seconds(expiry));
    }
    if content_type.is_some() {
        properties.content_type = content_type;
    }
    if response_topic.is_some() {
        properties.response_topic = response_topic;
    }
    if let Some(data) = &options.correlation_data {
        properties.correlation_data = Some(data.clone());
    }
    properties.user_properties.extend(users);
    Ok(())
}

/// Whether `options` sets any PUBLISH property.
pub(crate) fn has_publish_properties(options: &PublishOptions) -> bool {
    options.payload_format.is_some()
        || options.message_expiry.is_some()
        || options.content_type.is_some()
        || options.response_topic.is_some()
        || options.correlation_data.is_some()
        || !options.user_properties.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use sansmqtt_proto::{PayloadFormat, StringError, TopicError};

    #[test]
    fn expiry_rounds_up_to_whole_seconds() {
        assert_eq!(expiry_seconds(Duration::ZERO), 0);
        assert_eq!(expiry_seconds(Duration::from_millis(1)), 1);
        assert_eq!(expiry_seconds(Duration::from_secs(5)), 5);
        assert_eq!(expiry_seconds(Duration::from_millis(5_001)), 6);
        assert_eq!(expiry_seconds(Duration::from_secs(1 << 40)), u32::MAX);
    }

    #[test]
    fn publish_properties_from_options_in_order() {
        let pairs = [("b", "2"), ("a", "1"), ("b", "3")];
        let options = PublishOptions {
            payload_format: Some(PayloadFormat::Utf8),
            message_expiry: Some(Duration::from_secs(30)),
            content_type: Some("text/plain".into()),
            response_topic: Some("reply/here".into()),
            correlation_data: Some(Bytes::from_static(b"\x00\x01")),
            user_properties: pairs.map(|(n, v)| (n.into(), v.into())).to_vec(),
            ..PublishOptions::new()
        };
        assert!(has_publish_properties(&options));
        let mut p = PublishProperties::default();
        p.user_properties.push(UserProperty {
            name: MqttString::from_static("first").unwrap(),
            value: MqttString::from_static("0").unwrap(),
        });
        apply_publish(&options, &mut p).unwrap();
        assert_eq!(p.payload_format_indicator, Some(PayloadFormat::Utf8));
        assert_eq!(p.message_expiry_interval, Some(30));
        assert_eq!(p.content_type.as_ref().unwrap().as_str(), "text/plain");
        assert_eq!(p.response_topic.as_ref().unwrap().as_str(), "reply/here");
        assert_eq!(p.correlation_data.as_deref(), Some(&b"\x00\x01"[..]));
        let users: Vec<(&str, &str)> = p
            .user_properties
            .iter()
            .map(|u| (u.name.as_str(), u.value.as_str()))
            .collect();
        assert_eq!(users, [("first", "0"), ("b", "2"), ("a", "1"), ("b", "3")]);
    }

    #[test]
    fn invalid_properties_are_typed_errors_and_change_nothing() {
        let mut p = PublishProperties::default();
        let options = PublishOptions::new()
            .payload_format(PayloadFormat::Utf8)
            .content_type("a\0b");
        assert_eq!(
            apply_publish(&options, &mut p),
            Err(ClientError::InvalidProperty {
                property: "content type",
                error: StringError::NullCharacter
            })
        );
        assert_eq!(p, PublishProperties::default());
        // MQTT-3.3.2-14: the Response Topic is a topic name, no wildcards.
        let options = PublishOptions::new().response_topic("reply/#");
        assert_eq!(
            apply_publish(&options, &mut p),
            Err(ClientError::Topic(TopicError::WildcardInName))
        );
        let options = PublishOptions::new().user_property("k", "\0");
        assert!(matches!(
            apply_publish(&options, &mut p),
            Err(ClientError::InvalidProperty {
                property: "user property value",
                ..
            })
        ));
        assert!(!has_publish_properties(
            &PublishOptions::new().qos(sansmqtt_proto::QoS::AtLeastOnce)
        ));
    }
}
