//! The MQTT 5 keys of CONNECT and of the will: what they hold when read
//! ([`UserProperties`], MQTT strings, payload format), their checks, and
//! how they become CONNECT and Will Properties (§3.1.2.11, §3.1.3.2).
//!
//! Each applies when MQTT 5 is spoken (`protocol_version` 5 or `"auto"`);
//! with a fixed 3.1.x version setting one is a [`ConfigError::NeedsV5`]. After
//! an `"auto"` fall back to 3.1.1 they are left out of CONNECT (3.1.1 has
//! nowhere to put them).

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use bytes::Bytes;
use sansmqtt_proto::{MqttString, PayloadFormat, UserProperty, WillProperties};
use sansmqtt_session::SessionOptions;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Serialize, Serializer};

use super::{Config, ConfigError, WillConfig};

/// User Properties (name, value pairs, in order, a name may repeat), each
/// checked as an MQTT UTF-8 string when read or added.
///
/// In a configuration: a map (`user_properties = { site = "lab", rack = "4" }`)
/// or a list of pairs (`user_properties = [["tag", "a"], ["tag", "b"]]`,
/// for repeated names). In code:
///
/// ```
/// use sansmqtt::config::UserProperties;
///
/// let props = UserProperties::new().with("site", "lab")?.with("tag", "a")?.with("tag", "b")?;
/// assert_eq!(props.len(), 3);
/// # Ok::<(), sansmqtt::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserProperties(Vec<UserProperty>);

impl UserProperties {
    /// No property.
    pub fn new() -> Self {
        Self::default()
    }

    /// With one more property: `name` and `value` must be MQTT strings
    /// (no U+0000, at most 65,535 bytes).
    pub fn with(mut self, name: &str, value: &str) -> Result<Self, ConfigError> {
        self.0.push(UserProperty {
            name: mqtt_string("user property name", name)?,
            value: mqtt_string("user property value", value)?,
        });
        Ok(self)
    }

    /// How many properties.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The properties, in order.
    pub fn iter(&self) -> impl Iterator<Item = &UserProperty> {
        self.0.iter()
    }

    /// The properties as packets carry them.
    pub fn to_vec(&self) -> Vec<UserProperty> {
        self.0.clone()
    }
}

impl From<Vec<UserProperty>> for UserProperties {
    fn from(v: Vec<UserProperty>) -> Self {
        Self(v)
    }
}

impl Serialize for UserProperties {
    /// A list of `[name, value]` pairs (names may repeat).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for p in &self.0 {
            seq.serialize_element(&(p.name.as_str(), p.value.as_str()))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for UserProperties {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = UserProperties;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of names to values, or a list of [name, value] pairs")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = UserProperties::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    out = out.with(&k, &v).map_err(de::Error::custom)?;
                }
                Ok(out)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = UserProperties::new();
                while let Some((k, v)) = seq.next_element::<(String, String)>()? {
                    out = out.with(&k, &v).map_err(de::Error::custom)?;
                }
                Ok(out)
            }
        }
        d.deserialize_any(V)
    }
}

fn mqtt_string(key: &str, s: &str) -> Result<MqttString, ConfigError> {
    MqttString::try_from(s).map_err(|source| ConfigError::InvalidString {
        key: key.to_owned(),
        source,
    })
}

/// An optional MQTT string (a will's content type), checked when read.
pub(crate) mod option_mqtt_string {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        v: &Option<MqttString>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(v.as_str()),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<MqttString>, D::Error> {
        let text = String::deserialize(d)?;
        mqtt_string("will.content_type", &text)
            .map(Some)
            .map_err(de::Error::custom)
    }
}

/// The Payload Format Indicator: `"utf8"` (also `"utf-8"`, `1`, `true`:
/// UTF-8 character data) or `"bytes"` (also `"unspecified"`, `0`, `false`).
pub(crate) mod option_payload_format {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        v: &Option<PayloadFormat>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(PayloadFormat::Utf8) => s.serialize_str("utf8"),
            Some(PayloadFormat::Unspecified) => s.serialize_str("bytes"),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<PayloadFormat>, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Option<PayloadFormat>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a payload format: \"utf8\" (1) or \"bytes\" (0)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v.trim().to_ascii_lowercase().as_str() {
                    "utf8" | "utf-8" | "1" => Ok(Some(PayloadFormat::Utf8)),
                    "bytes" | "unspecified" | "0" => Ok(Some(PayloadFormat::Unspecified)),
                    _ => Err(E::custom(format!(
                        "unknown payload format {v:?}: expected \"utf8\" or \"bytes\""
                    ))),
                }
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                self.visit_str(if v { "utf8" } else { "bytes" })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V)
    }
}

/// Whole seconds of an MQTT 5 interval (a Four Byte Integer), or why not.
fn interval(key: &'static str, d: Duration) -> Result<u32, ConfigError> {
    u32::try_from(d.as_secs()).map_err(|_| ConfigError::IntervalOutOfRange { key, value: d })
}

/// The MQTT 5 keys set, by name (for [`ConfigError::NeedsV5`]).
fn v5_keys_set(c: &Config) -> Option<&'static str> {
    let will = c.will.as_ref();
    [
        ("receive_maximum", c.receive_maximum.is_some()),
        ("topic_alias_maximum", c.topic_alias_maximum.is_some()),
        (
            "request_response_information",
            c.request_response_information,
        ),
        (
            "request_problem_information",
            c.request_problem_information.is_some(),
        ),
        ("user_properties", !c.user_properties.is_empty()),
        (
            "will.delay_interval",
            will.is_some_and(|w| w.delay_interval.is_some()),
        ),
        (
            "will.message_expiry",
            will.is_some_and(|w| w.message_expiry.is_some()),
        ),
        (
            "will.content_type",
            will.is_some_and(|w| w.content_type.is_some()),
        ),
        (
            "will.response_topic",
            will.is_some_and(|w| w.response_topic.is_some()),
        ),
        (
            "will.correlation_data",
            will.is_some_and(|w| w.correlation_data.is_some()),
        ),
        (
            "will.user_properties",
            will.is_some_and(|w| !w.user_properties.is_empty()),
        ),
        (
            "will.payload_format",
            will.is_some_and(|w| w.payload_format.is_some()),
        ),
    ]
    .into_iter()
    .find_map(|(key, set)| set.then_some(key))
}

/// The checks of the MQTT 5 keys (from [`Config::validate`]).
pub(crate) fn check(c: &Config) -> Result<(), ConfigError> {
    if !c.protocol_version.may_use_v5()
        && let Some(key) = v5_keys_set(c)
    {
        return Err(ConfigError::NeedsV5 { key });
    }
    if let Some(will) = &c.will {
        will_properties(will)?;
        // [MQTT-3.1.3-?] 5.0 §3.1.3.2.3: with the UTF-8 indicator the will
        // payload is UTF-8 character data.
        if will.payload_format == Some(PayloadFormat::Utf8)
            && will.value.is_none()
            && std::str::from_utf8(will.message.as_bytes()).is_err()
        {
            return Err(ConfigError::WillNotUtf8);
        }
    }
    Ok(())
}

/// The Will Properties of `will` (all absent for a will without MQTT 5 keys).
pub(crate) fn will_properties(will: &WillConfig) -> Result<WillProperties, ConfigError> {
    Ok(WillProperties {
        will_delay_interval: will
            .delay_interval
            .map(|d| interval("will.delay_interval", d))
            .transpose()?,
        payload_format_indicator: will.payload_format,
        message_expiry_interval: will
            .message_expiry
            .map(|d| interval("will.message_expiry", d))
            .transpose()?,
        content_type: will.content_type.clone(),
        response_topic: will.response_topic.clone(),
        correlation_data: will
            .correlation_data
            .as_ref()
            .map(|c| Bytes::copy_from_slice(c.as_bytes())),
        user_properties: will.user_properties.to_vec(),
    })
}

/// Sets the CONNECT properties of the MQTT 5 keys on `options` (whose
/// version is the first one tried). The session leaves them out of a 3.1.x
/// CONNECT.
pub(crate) fn apply(c: &Config, options: &mut SessionOptions) {
    if !options.version.is_v5() {
        return;
    }
    let p = &mut options.properties;
    p.receive_maximum = c.receive_maximum;
    p.topic_alias_maximum = c.topic_alias_maximum;
    if let Some(max) = c.max_packet_size {
        p.maximum_packet_size = NonZeroU32::new(max);
    }
    // Absent means 0 (no response information): only `true` is sent.
    p.request_response_information = c.request_response_information.then_some(true);
    p.request_problem_information = c.request_problem_information;
    p.user_properties = c.user_properties.to_vec();
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU16;

    use sansmqtt_proto::ProtocolVersion;

    use super::*;
    use crate::config::{BrokerUri, ProtocolChoice};

    fn load(toml: &str) -> Config {
        toml::from_str(toml).unwrap()
    }

    fn options(c: &Config) -> SessionOptions {
        c.validate().unwrap();
        c.session_options(&BrokerUri::parse("mqtt://h").unwrap())
            .unwrap()
    }

    const KEYS: &str = r#"
        protocol_version = "auto"
        receive_maximum = 10
        topic_alias_maximum = 5
        max_packet_size = 4096
        request_response_information = true
        request_problem_information = false
        user_properties = [["site", "lab"], ["site", "annex"]]
        [will]
        topic = "status/x"
        message = "gone"
        delay_interval = "30s"
        message_expiry = 60
        content_type = "text/plain"
        response_topic = "status/reply"
        correlation_data = "abc"
        user_properties = { kind = "will" }
        payload_format = "utf8"
    "#;

    /// Every MQTT 5 CONNECT key (5.0 §3.1.2.11) and will key (§3.1.3.2)
    /// lands in its property.
    #[test]
    fn keys_become_connect_and_will_properties() {
        let c = load(KEYS);
        assert_eq!(c.protocol_version, ProtocolChoice::Auto);
        let o = options(&c);
        assert_eq!(o.version, ProtocolVersion::V5, "auto starts with 5");
        let p = &o.properties;
        assert_eq!(p.receive_maximum, NonZeroU16::new(10));
        assert_eq!(p.topic_alias_maximum, Some(5));
        assert_eq!(p.maximum_packet_size, NonZeroU32::new(4096));
        assert_eq!(p.request_response_information, Some(true));
        assert_eq!(p.request_problem_information, Some(false));
        let names: Vec<(&str, &str)> = p
            .user_properties
            .iter()
            .map(|u| (u.name.as_str(), u.value.as_str()))
            .collect();
        assert_eq!(names, [("site", "lab"), ("site", "annex")]);
        let will = o.will.unwrap();
        let w = &will.properties;
        assert_eq!(w.will_delay_interval, Some(30));
        assert_eq!(w.message_expiry_interval, Some(60));
        assert_eq!(w.content_type.as_deref(), Some("text/plain"));
        assert_eq!(w.response_topic.as_ref().unwrap().as_str(), "status/reply");
        assert_eq!(w.correlation_data.as_deref(), Some(&b"abc"[..]));
        assert_eq!(w.user_properties.len(), 1);
        assert_eq!(w.payload_format_indicator, Some(PayloadFormat::Utf8));
        // And back: the keys serialize and load again to the same config.
        let again: Config = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(options(&again).properties, o.properties);
    }

    /// Unset keys send nothing (absent properties take their defaults).
    #[test]
    fn no_keys_no_properties() {
        let o = options(&load("protocol_version = 5\n[will]\ntopic = \"t\""));
        assert!(o.properties.is_empty(), "{:?}", o.properties);
        assert!(o.will.unwrap().properties.is_empty());
    }

    /// A fixed 3.1.1 never speaks MQTT 5: each key is refused, named.
    #[test]
    fn v5_keys_need_v5_or_auto() {
        for (toml, key) in [
            ("receive_maximum = 1", "receive_maximum"),
            ("topic_alias_maximum = 1", "topic_alias_maximum"),
            (
                "request_response_information = true",
                "request_response_information",
            ),
            (
                "request_problem_information = true",
                "request_problem_information",
            ),
            ("user_properties = { a = \"b\" }", "user_properties"),
            (
                "[will]\ntopic = \"t\"\ndelay_interval = 1",
                "will.delay_interval",
            ),
            (
                "[will]\ntopic = \"t\"\npayload_format = 0",
                "will.payload_format",
            ),
            (
                "[will]\ntopic = \"t\"\ncorrelation_data = \"x\"",
                "will.correlation_data",
            ),
        ] {
            let c = load(&format!("protocol_version = \"3.1.1\"\n{toml}"));
            assert_eq!(c.validate(), Err(ConfigError::NeedsV5 { key }), "{toml}");
        }
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(toml::from_str::<Config>("receive_maximum = 0").is_err());
        assert!(
            toml::from_str::<Config>("[will]\ntopic = \"t\"\nresponse_topic = \"a/+\"").is_err()
        );
        assert!(
            toml::from_str::<Config>("[will]\ntopic = \"t\"\npayload_format = \"json\"").is_err()
        );
        assert!(toml::from_str::<Config>("user_properties = { \"a\" = \"\\u0000\" }").is_err());
        let c = load("protocol_version = 5\n[will]\ntopic = \"t\"\nmessage_expiry = 5000000000");
        assert!(matches!(
            c.validate(),
            Err(ConfigError::IntervalOutOfRange {
                key: "will.message_expiry",
                ..
            })
        ));
        let mut c = load("protocol_version = 5\n[will]\ntopic = \"t\"\npayload_format = \"utf8\"");
        c.will.as_mut().unwrap().message = crate::config::TextOrBytes::Bytes(vec![0xff]);
        assert_eq!(c.validate(), Err(ConfigError::WillNotUtf8));
    }

    /// persistence + auto: refused (a session file, as the broker's
    /// session, has one version); session_expiry + auto: allowed (sent
    /// with MQTT 5).
    #[test]
    fn auto_with_persistence_and_session_expiry() {
        let c = load(
            "protocol_version = \"auto\"\nclient_id = \"a\"\ncleansession = false\npersistence = \"/tmp/x\"",
        );
        assert_eq!(c.validate(), Err(ConfigError::PersistenceNeedsFixedVersion));
        let c = load("protocol_version = \"auto\"\nsession_expiry = 60");
        assert_eq!(options(&c).properties.session_expiry_interval, Some(60));
        // An empty client id without clean session is a 3.1.1 error, which
        // a fallback could hit.
        let c = load("protocol_version = \"auto\"\nclient_id = \"\"\ncleansession = false");
        assert_eq!(
            c.validate(),
            Err(ConfigError::EmptyClientIdNeedsCleanSession)
        );
    }
}
