//! `-D COMMAND NAME VALUE`: MQTT 5 properties, checked as mosquitto checks
//! them; the PUBLISH ones are sent.

use std::num::NonZeroU16;

use sansmqtt_proto::{
    MqttString, PayloadFormat, Properties, PublishProperties, TopicName, UserProperty,
};
use sansmqtt_tokio::Bytes;

use crate::exit::Exit;

/// Every property name mosquitto knows, with the commands that may carry it.
const KNOWN: &[(&str, &[&str])] = &[
    ("payload-format-indicator", &["publish", "will"]),
    ("message-expiry-interval", &["publish", "will"]),
    ("content-type", &["publish", "will"]),
    ("response-topic", &["publish", "will"]),
    ("correlation-data", &["publish", "will"]),
    ("subscription-identifier", &["subscribe"]),
    ("session-expiry-interval", &["connect", "disconnect"]),
    ("authentication-method", &["connect", "auth"]),
    ("authentication-data", &["connect", "auth"]),
    ("request-problem-information", &["connect"]),
    ("will-delay-interval", &["will"]),
    ("request-response-information", &["connect"]),
    ("receive-maximum", &["connect"]),
    ("topic-alias-maximum", &["connect"]),
    ("topic-alias", &["publish"]),
    ("maximum-packet-size", &["connect"]),
    ("reason-string", &["disconnect", "auth"]),
    (
        "user-property",
        &[
            "connect",
            "publish",
            "will",
            "subscribe",
            "unsubscribe",
            "disconnect",
            "auth",
        ],
    ),
];

const COMMANDS: &[&str] = &[
    "connect",
    "publish",
    "puback",
    "pubrec",
    "pubrel",
    "pubcomp",
    "subscribe",
    "unsubscribe",
    "disconnect",
    "auth",
    "will",
];

/// The PUBLISH properties of the `-D` arguments (each `[command, name,
/// value...]`). Properties of other packets are refused: sansmqtt cannot
/// send them from the command line (see docs/cli.md).
pub(crate) fn publish_properties(
    args: &[Vec<String>],
) -> Result<Properties<PublishProperties>, Exit> {
    let mut props = Properties::<PublishProperties>::default();
    for arg in args {
        let (command, name, values) = match arg.as_slice() {
            [c, n, rest @ ..] => (c.as_str(), n.as_str(), rest),
            _ => {
                return Err(Exit::usage(
                    "Invalid property given in --property argument.",
                ));
            }
        };
        if !COMMANDS.contains(&command) {
            return Err(Exit::usage(format!(
                "Invalid command {command} given in --property argument."
            )));
        }
        let Some((_, allowed)) = KNOWN.iter().find(|(n, _)| *n == name) else {
            return Err(Exit::usage(
                "Invalid property name given in --property argument.",
            ));
        };
        if !allowed.contains(&command) {
            return Err(Exit::usage(format!(
                "{name} property not allowed for {command} in --property argument."
            )));
        }
        if command != "publish" {
            return Err(Exit::usage(format!(
                "-D {command} {name}: sansmqtt sends only PUBLISH properties."
            )));
        }
        let want = if name == "user-property" { 2 } else { 1 };
        if values.len() != want {
            return Err(Exit::usage(format!(
                "Invalid value count for {name} in --property argument."
            )));
        }
        let value = values[0].as_str();
        let invalid = || {
            Exit::usage(format!(
                "Invalid value {value:?} for {name} in --property argument."
            ))
        };
        let text = |v: &str| MqttString::try_from(v).map_err(|_| invalid());
        match name {
            "payload-format-indicator" => {
                props.payload_format_indicator = Some(match value {
                    "0" => PayloadFormat::Unspecified,
                    "1" => PayloadFormat::Utf8,
                    _ => return Err(invalid()),
                });
            }
            "message-expiry-interval" => {
                props.message_expiry_interval = Some(value.parse().map_err(|_| invalid())?);
            }
            "content-type" => props.content_type = Some(text(value)?),
            "response-topic" => {
                props.response_topic = Some(TopicName::try_from(value).map_err(|_| invalid())?);
            }
            "correlation-data" => {
                props.correlation_data = Some(Bytes::from(value.as_bytes().to_vec()));
            }
            "topic-alias" => {
                props.topic_alias = Some(value.parse::<NonZeroU16>().map_err(|_| invalid())?);
            }
            "user-property" => props.user_properties.push(UserProperty {
                name: text(value)?,
                value: text(&values[1])?,
            }),
            _ => return Err(invalid()),
        }
    }
    Ok(props)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&[&str]]) -> Vec<Vec<String>> {
        list.iter()
            .map(|a| a.iter().map(|s| (*s).to_owned()).collect())
            .collect()
    }

    #[test]
    fn publish_properties_are_built() {
        let p = publish_properties(&args(&[
            &["publish", "user-property", "k", "v"],
            &["publish", "content-type", "text/plain"],
            &["publish", "message-expiry-interval", "60"],
            &["publish", "response-topic", "r/t"],
            &["publish", "correlation-data", "abc"],
        ]))
        .unwrap();
        assert_eq!(p.user_properties[0].name.as_str(), "k");
        assert_eq!(p.content_type.as_ref().unwrap().as_str(), "text/plain");
        assert_eq!(p.message_expiry_interval, Some(60));
        assert_eq!(p.response_topic.as_ref().unwrap().as_str(), "r/t");
        assert_eq!(&p.correlation_data.as_ref().unwrap()[..], b"abc");
    }

    #[test]
    fn mosquitto_errors() {
        let e = publish_properties(&args(&[&["publish", "bogus", "k"]])).unwrap_err();
        assert_eq!(
            e.message,
            "Error: Invalid property name given in --property argument."
        );
        let e = publish_properties(&args(&[&["subscribe", "content-type", "x"]])).unwrap_err();
        assert_eq!(
            e.message,
            "Error: content-type property not allowed for subscribe in --property argument."
        );
        assert!(
            publish_properties(&args(&[&["publish", "message-expiry-interval", "x"]])).is_err()
        );
        assert!(publish_properties(&args(&[&["connect", "user-property", "a", "b"]])).is_err());
    }
}
