//! The serde side of the configuration: durations (numbers of seconds or
//! strings with a unit), QoS numbers, protocol versions and header lists,
//! each parsed into its type when the configuration is read.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use sansmqtt_proto::{ProtocolVersion, QoS};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serializer};

use super::{ConfigError, ProtocolChoice};

pub(crate) mod option_duration {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => duration::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        duration::deserialize(d).map(Some)
    }
}

pub(crate) mod duration {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        let nanos = d.subsec_nanos();
        if nanos == 0 {
            s.serialize_u64(d.as_secs())
        } else if nanos.is_multiple_of(1_000_000) {
            s.serialize_str(&format!("{}ms", d.as_millis()))
        } else {
            s.serialize_str(&format!("{}ns", d.as_nanos()))
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a duration: seconds as a number, or a string like \"1.5s\" or \"500ms\"",
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration::from_secs(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                u64::try_from(v)
                    .map(Duration::from_secs)
                    .map_err(|_| E::custom(format!("negative duration: {v}")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
                if !v.is_finite() || v < 0.0 {
                    return Err(E::custom(format!("invalid duration: {v}")));
                }
                // Exact decimal reading of the shortest representation: 0.1 is 100 ms.
                parse_duration(&v.to_string()).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                parse_duration(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses `"1.5s"`, `"500ms"`, `"250us"`, `"100ns"`, `"2m"`, `"1h"`, or a
/// bare number of seconds (`"10"`, `"0.5"`), exactly (no float rounding);
/// and compound durations as the `humantime` crate reads them (`"1m 30s"`,
/// `"2h 5min"`). humantime alone would not do: it refuses fractions
/// (`"1.5s"`), which distmqtt configurations write.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    // Compound forms ("1m 30s") are humantime's.
    parse_decimal_duration(s).or_else(|e| humantime::parse_duration(s.trim()).map_err(|_| e))
}

/// One number (integer or decimal) and one unit, exactly.
fn parse_decimal_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim());
    let unit_ns: u128 = match unit {
        "" | "s" | "sec" | "secs" => 1_000_000_000,
        "ms" => 1_000_000,
        "us" | "µs" => 1_000,
        "ns" => 1,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return Err(format!("invalid duration {s:?}: unknown unit {unit:?}")),
    };
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("invalid duration {s:?}"));
    }
    let too_long = || format!("duration {s:?} is too long");
    let int: u128 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| too_long())?
    };
    // Digits beyond the nanosecond of the largest unit cannot matter.
    let frac = &frac[..frac.len().min(24)];
    let frac_ns = if frac.is_empty() {
        0
    } else {
        let value: u128 = frac.parse().map_err(|_| too_long())?;
        value * unit_ns / 10u128.pow(frac.len() as u32)
    };
    let total = int
        .checked_mul(unit_ns)
        .and_then(|n| n.checked_add(frac_ns))
        .ok_or_else(too_long)?;
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| too_long())?;
    Ok(Duration::new(secs, (total % 1_000_000_000) as u32))
}

/// Parses a protocol version (case-insensitive): `3.1.1`, `4`, `311`,
/// `v3.1.1`, `mqttv311`; `5`, `5.0`, `v5`, `mqttv5`; `3.1`, `3`, `mqttv31`.
///
/// ```
/// use sansmqtt::config::parse_protocol_version;
/// use sansmqtt::ProtocolVersion;
///
/// assert_eq!(parse_protocol_version("mqttv5"), Ok(ProtocolVersion::V5));
/// assert!(parse_protocol_version("6").is_err());
/// ```
pub fn parse_protocol_version(s: &str) -> Result<ProtocolVersion, ConfigError> {
    let lower = s.trim().to_ascii_lowercase();
    let rest = lower.strip_prefix("mqtt").unwrap_or(&lower);
    let rest = rest.strip_prefix('v').unwrap_or(rest);
    let digits: String = rest.chars().filter(|c| *c != '.').collect();
    match digits.as_str() {
        "311" | "4" => Ok(ProtocolVersion::V3_1_1),
        "5" | "50" => Ok(ProtocolVersion::V5),
        "31" | "3" => Ok(ProtocolVersion::V3_1),
        _ => Err(ConfigError::InvalidProtocolVersion(s.to_owned())),
    }
}

/// Parses the `protocol_version` key: `auto` (case-insensitive; MQTT 5,
/// falling back to 3.1.1, see [`ProtocolChoice::Auto`]), or a version as
/// [`parse_protocol_version`] reads it.
///
/// ```
/// use sansmqtt::config::{parse_protocol_choice, ProtocolChoice};
/// use sansmqtt::ProtocolVersion;
///
/// assert_eq!(parse_protocol_choice("auto"), Ok(ProtocolChoice::Auto));
/// assert_eq!(parse_protocol_choice("mqttv311"), Ok(ProtocolVersion::V3_1_1.into()));
/// ```
pub fn parse_protocol_choice(s: &str) -> Result<ProtocolChoice, ConfigError> {
    if s.trim().eq_ignore_ascii_case("auto") {
        return Ok(ProtocolChoice::Auto);
    }
    parse_protocol_version(s).map(ProtocolChoice::Fixed)
}

/// `protocol_version`: a string or a number, parsed when read; written as
/// `"3.1.1"`, `"5"`, `"3.1"` or `"auto"`.
pub(crate) mod protocol_choice {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &ProtocolChoice, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ProtocolChoice, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ProtocolChoice;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a protocol version: \"3.1.1\", \"5\", 4, 5 or \"auto\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ProtocolChoice, E> {
                parse_protocol_choice(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ProtocolChoice, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ProtocolChoice, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ProtocolChoice, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V)
    }
}

/// A QoS: the number 0, 1 or 2; anything else is refused when read.
pub(crate) mod qos {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(q: &QoS, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(*q as u8)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<QoS, D::Error> {
        let n = u64::deserialize(d)?;
        u8::try_from(n)
            .ok()
            .and_then(|n| QoS::try_from(n).ok())
            .ok_or_else(|| de::Error::custom(format!("QoS {n} is not 0, 1 or 2")))
    }
}

/// An optional QoS (see [`qos`]).
pub(crate) mod option_qos {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(q: &Option<QoS>, s: S) -> Result<S::Ok, S::Error> {
        match q {
            Some(q) => qos::serialize(q, s),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<QoS>, D::Error> {
        qos::deserialize(d).map(Some)
    }
}

/// `extra_headers` as a map or as a list of `[name, value]` pairs.
pub(crate) fn de_headers<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = BTreeMap<String, String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of header names to values, or a list of [name, value] pairs")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = map.next_entry::<String, String>()? {
                out.insert(k, v);
            }
            Ok(out)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = seq.next_element::<(String, String)>()? {
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

/// A topic name, checked when read (the will's topic).
pub(crate) mod topic_name {
    use sansmqtt_proto::TopicName;

    use super::*;

    pub(crate) fn serialize<S: Serializer>(t: &TopicName, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(t.as_str())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TopicName, D::Error> {
        read("will.topic", d)
    }

    /// A topic name of `key`, checked.
    pub(crate) fn read<'de, D: Deserializer<'de>>(key: &str, d: D) -> Result<TopicName, D::Error> {
        let text = String::deserialize(d)?;
        TopicName::try_from(text.as_str()).map_err(|source| {
            de::Error::custom(ConfigError::InvalidTopic {
                key: key.to_owned(),
                topic: text.clone(),
                source,
            })
        })
    }
}

/// An optional topic name, checked when read (the will's response topic).
pub(crate) mod option_topic_name {
    use sansmqtt_proto::TopicName;

    use super::*;

    pub(crate) fn serialize<S: Serializer>(t: &Option<TopicName>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => topic_name::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<TopicName>, D::Error> {
        topic_name::read("will.response_topic", d).map(Some)
    }
}
