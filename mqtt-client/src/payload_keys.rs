//! The configuration keys of payload codecs (`codec`, `codec_params`,
//! `will.codec`, `will.value`), compiled in every build: their types, and
//! their checks, which are the [`payload`](crate::payload) module's rules
//! with the `payload` feature and, without it, refuse everything but the
//! plain bytes of `noop`.
//!
//! Without the `payload` feature:
//! - `codec` may only be `"noop"` (its default) or absent, and
//!   `codec_params` must be empty;
//! - `will.codec` and `will.value` must be absent: the will is `message`,
//!   sent as it is (as it is with the feature when neither is given);
//! - anything else is refused by [`Config::validate`] (and by
//!   [`WillConfig::payload`]) with [`ConfigError::NeedsFeature`], which
//!   names the key and the feature.
//!
//! `will.value` still deserializes without the feature (any value), so that
//! a configuration file written for a build with it is refused by
//! validation, with that error, rather than by the parser.

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::config::{Config, ConfigError, WillConfig};

/// The parameters of one codec: `codec_params.<name>` (for example
/// `{ on = "yes", off = "no", name = "bool" }`).
pub type CodecParams = BTreeMap<String, CodecParam>;

/// One codec parameter: a string, a boolean or a number, as TOML, JSON and
/// YAML write them (`on = "yes"`, `indent = 2`).
#[derive(Debug, Clone, PartialEq)]
pub enum CodecParam {
    /// A string.
    String(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Integer(i64),
    /// A floating-point number (also integers beyond `i64`).
    Float(f64),
}

impl CodecParam {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The number as a float, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Integer(i) => Some(*i as f64),
            Self::Float(x) => Some(*x),
            _ => None,
        }
    }
}

impl fmt::Display for CodecParam {
    /// Strings as they are, other values as written in TOML.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(s) => f.write_str(s),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Integer(i) => write!(f, "{i}"),
            Self::Float(x) => write!(f, "{x}"),
        }
    }
}

impl From<&str> for CodecParam {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<bool> for CodecParam {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<i64> for CodecParam {
    fn from(i: i64) -> Self {
        Self::Integer(i)
    }
}

impl Serialize for CodecParam {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::String(v) => s.serialize_str(v),
            Self::Bool(v) => s.serialize_bool(*v),
            Self::Integer(v) => s.serialize_i64(*v),
            Self::Float(v) => s.serialize_f64(*v),
        }
    }
}

impl<'de> Deserialize<'de> for CodecParam {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = CodecParam;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a boolean or a number")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<CodecParam, E> {
                Ok(CodecParam::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<CodecParam, E> {
                Ok(CodecParam::Integer(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CodecParam, E> {
                Ok(i64::try_from(v).map_or(CodecParam::Float(v as f64), CodecParam::Integer))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<CodecParam, E> {
                Ok(CodecParam::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CodecParam, E> {
                Ok(CodecParam::String(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<CodecParam, E> {
                Ok(CodecParam::String(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// The will as a value (config key `will.value`): any TOML / JSON value,
/// encoded with the will's codec. With the `payload` feature this is
/// `serde_json::Value`.
#[cfg(feature = "payload")]
pub type WillValue = serde_json::Value;

/// The will as a value (config key `will.value`). This build has no
/// `payload` feature: the key is read (any value) but not kept, and
/// [`Config::validate`] refuses it ([`ConfigError::NeedsFeature`]). With
/// the feature this is `serde_json::Value`.
#[cfg(not(feature = "payload"))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WillValue(());

#[cfg(not(feature = "payload"))]
impl Serialize for WillValue {
    /// As unit (nothing of the value was kept).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_unit()
    }
}

#[cfg(not(feature = "payload"))]
impl<'de> Deserialize<'de> for WillValue {
    /// Any value, skipped.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de::IgnoredAny::deserialize(d).map(|_| Self(()))
    }
}

/// The payload rules of a configuration (see the [module
/// documentation](self)); [`Config::validate`] calls it.
pub(crate) fn check_config(config: &Config) -> Result<(), ConfigError> {
    #[cfg(feature = "payload")]
    return crate::payload::check_config(config);
    #[cfg(not(feature = "payload"))]
    return lean::check_config(config);
}

impl WillConfig {
    /// The will's payload: `message` as it is when neither `codec` nor
    /// `value` is given (distmqtt's behaviour); otherwise `value` (or, when
    /// absent, `message` as text or bytes) encoded with the codec named
    /// `codec` (or `config.codec`), which honours `config.codec_params`.
    /// Without the `payload` feature, a `codec` or `value` is refused
    /// ([`ConfigError::NeedsFeature`]).
    pub fn payload(&self, config: &Config) -> Result<Bytes, ConfigError> {
        if self.codec.is_none() && self.value.is_none() {
            return Ok(self.message.to_bytes());
        }
        #[cfg(feature = "payload")]
        return crate::payload::will_payload(self, config);
        #[cfg(not(feature = "payload"))]
        {
            // Only a codec reads the configuration.
            let _ = config;
            Err(lean::will_error(self))
        }
    }
}

/// The rules of a build without the `payload` feature.
#[cfg(not(feature = "payload"))]
mod lean {
    use crate::config::{Config, ConfigError, WillConfig};

    fn needs_payload(key: String) -> ConfigError {
        ConfigError::NeedsFeature {
            key,
            feature: "payload",
        }
    }

    /// `codec` is `"noop"`, `codec_params` is empty, the will has neither
    /// `codec` nor `value`.
    pub(super) fn check_config(config: &Config) -> Result<(), ConfigError> {
        if config.codec != "noop" {
            return Err(needs_payload(format!("codec = {:?}", config.codec)));
        }
        if let Some(name) = config.codec_params.keys().next() {
            return Err(needs_payload(format!("codec_params.{name}")));
        }
        match &config.will {
            Some(will) if will.codec.is_some() || will.value.is_some() => Err(will_error(will)),
            _ => Ok(()),
        }
    }

    /// The error of a will with a `codec` or a `value`.
    pub(super) fn will_error(will: &WillConfig) -> ConfigError {
        needs_payload(match &will.codec {
            Some(codec) => format!("will.codec = {codec:?}"),
            None => "will.value".to_owned(),
        })
    }
}
