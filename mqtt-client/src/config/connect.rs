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

    pub(crate) fn serialize<S: Serializer>(v: &Option<MqttString>, s: S) -> Result<S::Ok, S::Error> {
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
