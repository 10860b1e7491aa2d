//! Payload codecs: distmqtt's `noop`, `utf8`, `json`, `msgpack`,
//! `msgpack+json` and `bool`, aliases declared in `codec_params`, and codecs
//! of your own.
//!
//! A [`Codec`] turns a [`Value`] into a payload and back. The client holds a
//! registry, [`Codecs`], built from its [`Config`]: every built-in codec with
//! the parameters `codec_params` gives for its name, every alias (a
//! `codec_params` entry with a `name` key), and the default codec
//! (`config.codec`). A codec named by a string always honours
//! `codec_params` (distmqtt bug #13 ignored them).
//!
//! ```
//! use sansmqtt::Config;
//! use sansmqtt::codec::{Codecs, Value};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The seed document's example: `yesno` is the bool codec with other words.
//! let config: Config = toml::from_str(r#"
//!     codec = "utf8"
//!     [codec_params]
//!     yesno = { on = "yes", off = "no", name = "bool" }
//! "#)?;
//! let codecs = Codecs::from_config(&config)?;
//! assert_eq!(codecs.encode(Some("yesno"), &Value::Bool(true))?, "yes");
//! assert_eq!(codecs.decode(Some("yesno"), &"no".into())?, Value::Bool(false));
//! // The default codec is utf8.
//! assert_eq!(codecs.decode(None, &"héllo".into())?, Value::from("héllo"));
//! # Ok(())
//! # }
//! ```
//!
//! Typed payloads go through serde: [`Codecs::encode_typed`],
//! [`Message::decode_typed`], [`Client::publish_typed`],
//! [`Client::subscription_typed`]. On the client:
//!
//! | call | what it does |
//! |---|---|
//! | [`Client::publish_value`] / [`Client::publish_value_with`] | encode a [`Value`] with the default codec / the codec of [`PublishOptions::codec`], then publish |
//! | [`Client::publish_typed`] / [`Client::publish_typed_with`] | the same for any `T: Serialize` |
//! | [`Client::subscription_value`] / [`Client::subscription_typed`] | a stream of [`Decoded`] messages |
//! | [`Client::deliver_value`] / [`Client::deliver_typed`] | `deliver_message`, decoded |
//! | [`Message::decode`] / [`Message::decode_typed`] | decode one message |
//!
//! A payload that does not decode is not lost: a [`Decoded`] keeps the
//! [`Message`] (and its raw payload) next to the [`CodecError`], and the
//! stream goes on.
//!
//! # The built-in codecs
//!
//! | name | value | parameters |
//! |---|---|---|
//! | `noop` | bytes, as they are | none |
//! | `utf8` | text | none |
//! | `json` | any value but bytes, as JSON text (UTF-8) | `indent`: pretty-print with this many spaces |
//! | `msgpack` | any value, as MessagePack | `use_bin_type` (default `true`): bytes as `bin`; `false` writes them in the `str` family (old MessagePack); `use_list`: accepted, no effect |
//! | `msgpack+json` | JSON text (or structured data) on the application side, MessagePack on the wire | `use_bin_type`, `use_list`: accepted, no effect |
//! | `bool` | `true` / `false` (and null with `null`) as words | `on` (default `"on"`), `off` (default `"off"`), `null` (default: none) |
//!
//! `msgpack+json` is distmqtt's `MsgPackJSONCodec`: encoding parses the JSON
//! text it is given and writes the resulting structure as MessagePack;
//! decoding reads MessagePack and gives the structure back as (compact) JSON
//! text, a [`Value::Text`]. It serves code that handles JSON strings in a
//! world that talks MessagePack. distmqtt's encode always failed (it passed
//! `use_list` to `msgpack.packb`: bug #13). Typed calls skip the text step:
//! [`Codec::encode_data`] and [`Codec::decode_data`] go straight between the
//! structure and MessagePack.
//!
//! # Values
//!
//! Decoders give a string as [`Value::Text`], a boolean as [`Value::Bool`],
//! null as [`Value::Null`], bytes as [`Value::Bytes`] and anything else
//! (numbers, arrays, maps) as [`Value::Data`]; encoders also take strings,
//! booleans and null inside [`Value::Data`]. A MessagePack `bin` nested in a
//! structure becomes an array of byte values, a map key that is not a
//! string becomes its JSON text, a float that is not finite becomes null and
//! an extension type becomes `[type, [bytes...]]`: JSON's data model is the
//! structured one here. Typed calls go through that model too
//! (`serde_json::Value`): map keys come out sorted, which changes no
//! meaning in JSON or MessagePack.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Cursor;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};

use futures_util::stream::{Stream, StreamExt};
use sansmqtt_proto::QoS;
use sansmqtt_session::PublishDone;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::config::{Config, ConfigError, WillConfig};
use crate::{Client, ClientError, Message, PublishOptions, Subscription};

/// The payload type of [`Codec`] (re-exported from the `bytes` crate, so
/// that a codec of your own needs no dependency of its own on it).
pub use bytes::Bytes;

/// Deepest nesting of arrays and maps a MessagePack payload may have (as
/// serde_json's limit for JSON): deeper payloads are refused, not a stack
/// overflow.
const MAX_DEPTH: usize = 128;

/// Largest will payload: Binary Data has a two-byte length.
const MAX_WILL_LEN: usize = u16::MAX as usize;

// ---------------------------------------------------------------- values

/// A payload's value, untyped: what distmqtt's codecs took and gave
/// (`bytes`, `str`, `bool` / `None`, structured data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Raw bytes (`noop`; a MessagePack `bin`).
    Bytes(Bytes),
    /// Text (`utf8`; a JSON or MessagePack string; the JSON text of
    /// `msgpack+json`).
    Text(String),
    /// A boolean (`bool`; a JSON or MessagePack boolean).
    Bool(bool),
    /// Null: Python's `None` (`bool` with a `null` word; JSON `null`,
    /// MessagePack `nil`).
    Null,
    /// Structured data: numbers, arrays, maps (JSON's data model).
    Data(serde_json::Value),
}

impl Value {
    /// A value from structured data: strings, booleans and null become
    /// [`Value::Text`], [`Value::Bool`] and [`Value::Null`]; the rest
    /// [`Value::Data`].
    pub fn from_data(data: serde_json::Value) -> Self {
        match data {
            serde_json::Value::String(s) => Self::Text(s),
            serde_json::Value::Bool(b) => Self::Bool(b),
            serde_json::Value::Null => Self::Null,
            other => Self::Data(other),
        }
    }

    /// The value as structured data: bytes become an array of byte values.
    pub fn into_data(self) -> serde_json::Value {
        match self {
            Self::Bytes(b) => serde_json::Value::Array(b.iter().map(|&x| x.into()).collect()),
            Self::Text(s) => serde_json::Value::String(s),
            Self::Bool(b) => serde_json::Value::Bool(b),
            Self::Null => serde_json::Value::Null,
            Self::Data(d) => d,
        }
    }

    /// A value from any `T: Serialize`, through structured data
    /// ([`Value::from_data`]).
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self, CodecError> {
        serde_json::to_value(value)
            .map(Self::from_data)
            .map_err(|e| CodecError::Typed(e.to_string()))
    }

    /// The value as a `T: Deserialize`, through structured data
    /// ([`Value::into_data`]).
    pub fn deserialize_into<T: DeserializeOwned>(self) -> Result<T, CodecError> {
        serde_json::from_value(self.into_data()).map_err(|e| CodecError::Typed(e.to_string()))
    }

    /// What kind of value this is, for error messages: `bytes`, `text`,
    /// `bool`, `null`, `number`, `array` or `map` (a string, boolean or
    /// null inside [`Value::Data`] counts as `text`, `bool`, `null`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Bytes(_) => "bytes",
            Self::Text(_) => "text",
            Self::Bool(_) => "bool",
            Self::Null => "null",
            Self::Data(d) => match d {
                serde_json::Value::Null => "null",
                serde_json::Value::Bool(_) => "bool",
                serde_json::Value::Number(_) => "number",
                serde_json::Value::String(_) => "text",
                serde_json::Value::Array(_) => "array",
                serde_json::Value::Object(_) => "map",
            },
        }
    }

    /// The bytes, if this is [`Value::Bytes`].
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Self::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The text, if this is text (also a string inside [`Value::Data`]).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Text(s) => Some(s),
            Self::Data(serde_json::Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is one (also inside [`Value::Data`]).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) | Self::Data(serde_json::Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// Whether this is null (also inside [`Value::Data`]).
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null | Self::Data(serde_json::Value::Null))
    }

    /// The structured data, if this is [`Value::Data`].
    pub fn as_data(&self) -> Option<&serde_json::Value> {
        match self {
            Self::Data(d) => Some(d),
            _ => None,
        }
    }
}

impl From<Bytes> for Value {
    fn from(b: Bytes) -> Self {
        Self::Bytes(b)
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Self::Bytes(b.into())
    }
}

impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Self {
        Self::Bytes(Bytes::copy_from_slice(b))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<Option<bool>> for Value {
    /// `None` is [`Value::Null`] (the `bool` codec's `null` word).
    fn from(b: Option<bool>) -> Self {
        b.map_or(Self::Null, Self::Bool)
    }
}

impl From<serde_json::Value> for Value {
    /// As [`Value::from_data`].
    fn from(d: serde_json::Value) -> Self {
        Self::from_data(d)
    }
}

impl Serialize for Value {
    /// Bytes as a byte string (MessagePack `bin`), text as a string, null
    /// as unit, data as itself.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Bytes(b) => s.serialize_bytes(b),
            Self::Text(t) => s.serialize_str(t),
            Self::Bool(b) => s.serialize_bool(*b),
            Self::Null => s.serialize_unit(),
            Self::Data(d) => d.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    /// Any self-describing value: a byte string is [`Value::Bytes`], a
    /// string [`Value::Text`], and so on; inside arrays and maps, see the
    /// [module documentation](self#values).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl ValueVisitor {
    fn number(n: Option<serde_json::Number>) -> Value {
        n.map_or(Value::Null, |n| Value::Data(serde_json::Value::Number(n)))
    }
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Data(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Data(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(match i64::try_from(v) {
            Ok(v) => Value::Data(v.into()),
            Err(_) => match u64::try_from(v) {
                Ok(v) => Value::Data(v.into()),
                Err(_) => Self::number(serde_json::Number::from_f64(v as f64)),
            },
        })
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(match u64::try_from(v) {
            Ok(v) => Value::Data(v.into()),
            Err(_) => Self::number(serde_json::Number::from_f64(v as f64)),
        })
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Self::number(serde_json::Number::from_f64(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Text(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Text(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(Bytes::copy_from_slice(v)))
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v.into()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        // The size hint comes from the payload: bound the preallocation.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(v) = seq.next_element::<Value>()? {
            out.push(v.into_data());
        }
        Ok(Value::Data(serde_json::Value::Array(out)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some((k, v)) = map.next_entry::<Value, Value>()? {
            let key = match k {
                Value::Text(s) => s,
                Value::Bytes(b) => match String::from_utf8(b.to_vec()) {
                    Ok(s) => s,
                    Err(_) => Value::Bytes(b).into_data().to_string(),
                },
                other => other.into_data().to_string(),
            };
            out.insert(key, v.into_data());
        }
        Ok(Value::Data(serde_json::Value::Object(out)))
    }
}

// ---------------------------------------------------------------- configuration

/// The codecs built into the client, by name (distmqtt's set). A name in
/// [`Config::codec`] is one of these or an alias declared in
/// [`Config::codec_params`] with a `name` key.
pub const BUILTIN_CODECS: &[&str] = &["noop", "utf8", "json", "msgpack", "msgpack+json", "bool"];

/// The parameters of one codec: `codec_params.<name>` (for example
/// `{ on = "yes", off = "no", name = "bool" }`).
pub type CodecParams = BTreeMap<String, CodecParam>;

/// The built-in codec a codec name stands for, and the parameters
/// configured for that name: a built-in name stands for itself, an
/// alias (a `codec_params` entry with a `name` key) for the codec it
/// names. `None` for an unknown name.
pub fn resolve_name<'c>(
    config: &'c Config,
    name: &str,
) -> Option<(&'static str, Option<&'c CodecParams>)> {
    let params = config.codec_params.get(name);
    let base = match params.and_then(|p| p.get("name")) {
        Some(CodecParam::String(target)) => target.as_str(),
        Some(_) => return None,
        None => name,
    };
    let builtin = BUILTIN_CODECS.iter().copied().find(|b| *b == base)?;
    if BUILTIN_CODECS.contains(&name) && base != name {
        // A built-in name cannot be redefined.
        return None;
    }
    Some((builtin, params))
}

/// The codec rules of a configuration: every alias (a `codec_params`
/// entry with a `name` key) names a built-in codec and does not redefine a
/// built-in name, and `codec` names a built-in codec or an alias.
pub(crate) fn check_config(config: &Config) -> Result<(), ConfigError> {
    for (alias, params) in &config.codec_params {
        if let Some(target) = params.get("name") {
            let ok = match target {
                CodecParam::String(t) => {
                    BUILTIN_CODECS.contains(&t.as_str())
                        && (!BUILTIN_CODECS.contains(&alias.as_str()) || t == alias)
                }
                _ => false,
            };
            if !ok {
                return Err(ConfigError::InvalidCodecAlias {
                    alias: alias.clone(),
                    target: target.to_string(),
                });
            }
        }
    }
    if resolve_name(config, &config.codec).is_none() {
        return Err(ConfigError::UnknownCodec(config.codec.clone()));
    }
    Ok(())
}

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

// ---------------------------------------------------------------- errors

/// Why a value could not be encoded or a payload decoded, or a codec not
/// found or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// No codec of that name: neither a built-in codec, nor an alias in
    /// `codec_params`, nor a registered one.
    #[error(
        "unknown codec {0:?}: expected noop, utf8, json, msgpack, msgpack+json, bool, an alias declared in codec_params with a `name` key, or a registered codec"
    )]
    UnknownCodec(String),
    /// A codec parameter is unknown or has a bad value.
    #[error("codec {codec}: parameter {param:?}: {reason}")]
    InvalidParam {
        /// The built-in codec.
        codec: String,
        /// The parameter.
        param: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The codec does not encode this kind of value (the `utf8` codec and
    /// bytes, the `bool` codec and text, ...).
    #[error("codec {codec} cannot encode {kind}: it expects {expected}")]
    Unsupported {
        /// The codec.
        codec: String,
        /// The kind of value given ([`Value::kind`]).
        kind: &'static str,
        /// What the codec takes.
        expected: &'static str,
    },
    /// The payload is not UTF-8.
    #[error("codec {codec}: the payload is not UTF-8 (invalid from byte {valid_up_to})")]
    InvalidUtf8 {
        /// The codec.
        codec: String,
        /// The length of the valid prefix.
        valid_up_to: usize,
    },
    /// Invalid JSON (a payload, or the text given to `msgpack+json`).
    #[error("codec {codec}: invalid JSON: {reason}")]
    Json {
        /// The codec.
        codec: String,
        /// What the parser said.
        reason: String,
    },
    /// Invalid MessagePack, or a value MessagePack cannot hold.
    #[error("codec {codec}: invalid MessagePack: {reason}")]
    MsgPack {
        /// The codec.
        codec: String,
        /// What the decoder or encoder said.
        reason: String,
    },
    /// The `bool` codec got a payload that is none of its words.
    #[error("codec bool: the payload {payload:?} is none of {expected}")]
    NotABool {
        /// The payload, shortened to 64 bytes.
        payload: Bytes,
        /// The words the codec knows.
        expected: String,
    },
    /// The value does not convert from or to the Rust type of a typed call.
    #[error("typed value: {0}")]
    Typed(String),
    /// An error of a user codec.
    #[error("codec {codec}: {reason}")]
    Custom {
        /// The codec.
        codec: String,
        /// What went wrong.
        reason: String,
    },
}

impl CodecError {
    /// An error of a user codec.
    pub fn custom(codec: impl Into<String>, reason: impl fmt::Display) -> Self {
        Self::Custom {
            codec: codec.into(),
            reason: reason.to_string(),
        }
    }

    fn unsupported(codec: &str, value: &Value, expected: &'static str) -> Self {
        Self::Unsupported {
            codec: codec.to_owned(),
            kind: value.kind(),
            expected,
        }
    }

    fn json(codec: &str, e: impl fmt::Display) -> Self {
        Self::Json {
            codec: codec.to_owned(),
            reason: e.to_string(),
        }
    }

    fn msgpack(codec: &str, e: impl fmt::Display) -> Self {
        Self::MsgPack {
            codec: codec.to_owned(),
            reason: e.to_string(),
        }
    }

    fn param(codec: &str, param: &str, reason: impl Into<String>) -> Self {
        Self::InvalidParam {
            codec: codec.to_owned(),
            param: param.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Why a codec-aware client call failed: the codec, or the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The codec is unknown, or the value does not encode.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The publish or subscribe failed.
    #[error(transparent)]
    Client(#[from] ClientError),
}

// ---------------------------------------------------------------- the trait

/// A payload codec. Implement it for codecs of your own and register them
/// with [`Codecs::register`].
///
/// ```
/// use bytes::Bytes;
/// use sansmqtt::codec::{Codec, CodecError, Codecs, Value};
///
/// /// Text, upper-cased on the wire.
/// struct Shout;
///
/// impl Codec for Shout {
///     fn encode(&self, value: &Value) -> Result<Bytes, CodecError> {
///         let text = value.as_str().ok_or_else(|| CodecError::custom("shout", "text only"))?;
///         Ok(text.to_uppercase().into())
///     }
///     fn decode(&self, payload: &Bytes) -> Result<Value, CodecError> {
///         let text = std::str::from_utf8(payload).map_err(|e| CodecError::custom("shout", e))?;
///         Ok(Value::Text(text.to_lowercase()))
///     }
/// }
///
/// let codecs = Codecs::new();
/// codecs.register("shout", std::sync::Arc::new(Shout));
/// assert_eq!(codecs.encode(Some("shout"), &"hi".into()).unwrap(), "HI");
/// ```
pub trait Codec: Send + Sync {
    /// The payload of a value.
    fn encode(&self, value: &Value) -> Result<Bytes, CodecError>;

    /// The value of a payload.
    fn decode(&self, payload: &Bytes) -> Result<Value, CodecError>;

    /// The payload of structured data: the typed calls
    /// ([`Codecs::encode_typed`], [`Client::publish_typed`]) serialize
    /// through it. By default [`Codec::encode`] of [`Value::from_data`].
    fn encode_data(&self, data: serde_json::Value) -> Result<Bytes, CodecError> {
        self.encode(&Value::from_data(data))
    }

    /// The structured data of a payload: the typed calls
    /// ([`Message::decode_typed`]) deserialize from it. By default
    /// [`Value::into_data`] of [`Codec::decode`].
    fn decode_data(&self, payload: &Bytes) -> Result<serde_json::Value, CodecError> {
        self.decode(payload).map(Value::into_data)
    }
}

// ---------------------------------------------------------------- built-ins

/// `noop`: the payload is the value's bytes. Encodes [`Value::Bytes`] (and,
/// for typed calls, an array of byte values); decodes to [`Value::Bytes`]
/// without copying.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoopCodec;

impl NoopCodec {
    /// The codec's name.
    pub const NAME: &'static str = "noop";
}

impl Codec for NoopCodec {
    fn encode(&self, value: &Value) -> Result<Bytes, CodecError> {
        const EXPECTED: &str = "bytes";
        match value {
            Value::Bytes(b) => Ok(b.clone()),
            Value::Data(serde_json::Value::Array(items)) => items
                .iter()
                .map(|i| i.as_u64().and_then(|n| u8::try_from(n).ok()))
                .collect::<Option<Vec<u8>>>()
                .map(Bytes::from)
                .ok_or_else(|| CodecError::unsupported(Self::NAME, value, EXPECTED)),
            _ => Err(CodecError::unsupported(Self::NAME, value, EXPECTED)),
        }
    }

    fn decode(&self, payload: &Bytes) -> Result<Value, CodecError> {
        Ok(Value::Bytes(payload.clone()))
    }
}

/// `utf8`: text as its UTF-8 bytes. Encodes text only (it does not turn
/// other values into strings); a payload that is not UTF-8 is an error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Utf8Codec;

impl Utf8Codec {
    /// The codec's name.
    pub const NAME: &'static str = "utf8";
}

impl Codec for Utf8Codec {
    fn encode(&self, value: &Value) -> Result<Bytes, CodecError> {
        value
            .as_str()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .ok_or_else(|| CodecError::unsupported(Self::NAME, value, "text"))
    }

    fn decode(&self, payload: &Bytes) -> Result<Value, CodecError> {
        std::str::from_utf8(payload)
            .map(|s| Value::Text(s.to_owned()))
            .map_err(|e| CodecError::InvalidUtf8 {
                codec: Self::NAME.to_owned(),
                valid_up_to: e.valid_up_to(),
            })
    }
}

/// `json`: any value but bytes, as JSON text in UTF-8.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonCodec {
    indent: Option<usize>,
}

impl JsonCodec {
    /// The codec's name.
    pub const NAME: &'static str = "json";

    /// Compact JSON.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pretty-printed JSON, indented with `spaces` spaces (the `indent`
    /// parameter).
    pub fn with_indent(spaces: usize) -> Self {
        Self {
            indent: Some(spaces),
        }
    }

    fn write(&self, value: &impl Serialize) -> Result<Bytes, CodecError> {
        let out = match self.indent {
            None => serde_json::to_vec(value),
            Some(n) => {
                let indent = vec![b' '; n];
                let mut out = Vec::new();
                let formatter = serde_json::ser::PrettyFormatter::with_indent(&indent);
                let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
                value.serialize(&mut ser).map(|()| out)
            }
        };
        out.map(Bytes::from)
            .map_err(|e| CodecError::json(Self::NAME, e))
    }
}

impl Codec for JsonCodec {
    fn encode(&self, value: &Value) -> Result<Bytes, CodecError> {
        if let Value::Bytes(_) = value {
            // JSON has no bytes (distmqtt's json.dumps refuses them too).
            return Err(CodecError::unsupported(
                Self::NAME,
                value,
                "text, bool, null or structured data",
            ));
        }
        self.write(value)
    }

    fn decode(&self, payload: &Bytes) -> Result<Value, CodecError> {
        serde_json::from_slice(payload).map_err(|e| CodecError::json(Self::NAME, e))
    }

    fn encode_data(&self, data: serde_json::Value) -> Result<Bytes, CodecError> {
        self.write(&data)
    }
}

/// MessagePack of a value; `bin_type`: bytes as `bin` (else `str` family).
fn msgpack_encode(codec: &str, value: &Value, bin_type: bool) -> Result<Bytes, CodecError> {
    if let (Value::Bytes(b), false) = (value, bin_type) {
        // Old MessagePack (before `bin`): raw bytes in the `str` family.
        let len = b.len();
        let mut out = Vec::with_capacity(len + 5);
        if len < 32 {
            out.push(0xa0 | len as u8);
        } else if let Ok(n) = u8::try_from(len) {
            out.extend_from_slice(&[0xd9, n]);
        } else if let Ok(n) = u16::try_from(len) {
            out.push(0xda);
            out.extend_from_slice(&n.to_be_bytes());
        } else if let Ok(n) = u32::try_from(len) {
            out.push(0xdb);
            out.extend_from_slice(&n.to_be_bytes());
        } else {
            return Err(CodecError::msgpack(codec, "bytes longer than 4 GiB"));
        }
        out.extend_from_slice(b);
        return Ok(out.into());
    }
    rmp_serde::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| CodecError::msgpack(codec, e))
}

/// The value of a MessagePack payload (all of it: trailing bytes are an
/// error, as in Python's `msgpack.unpackb`).
fn msgpack_decode(codec: &str, payload: &[u8]) -> Result<Value, CodecError> {
    let mut de = rmp_serde::Deserializer::new(Cursor::new(payload));
    de.set_max_depth(MAX_DEPTH);
    let value = Value::deserialize(&mut de).map_err(|e| CodecError::msgpack(codec, e))?;
    let used = de.position();
    if used != payload.len() as u64 {
        return Err(CodecError::msgpack(
            codec,
            format!(
                "{} bytes after the value",
                payload.len() as u64 - used.min(payload.len() as u64)
            ),
        ));
    }
    Ok(value)
}

/// `msgpack`: any value as MessagePack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgPackCodec {
    bin_type: bool,
}

impl Default for MsgPackCodec {
    fn default() -> Self {
        Self { bin_type: true }
    }
}

impl MsgPackCodec {
    /// The codec's name.
    pub const NAME: &'static str = "msgpack";

    /// Bytes as `bin` (`use_bin_type = true`, the default).
    pub fn new() -> Self {
        Self::default()
    }

    /// `use_bin_type = false`: bytes are written in the `str` family, for
    /// peers on MessagePack from before 2013. Decoding reads both.
    pub fn with_bin_type(bin_type: bool) -> Self {
        Self { bin_type }
    }
}

impl Codec for MsgPackCodec {
    fn encode(&self, value: &Value) -> Result<Bytes, CodecError> {
        msgpack_encode(Self::NAME, value, self.bin_type)
    }

    fn decode(&self, payload: &Bytes) -> Result<Value, CodecError> {
        msgpack_decode(Self::NAME, payload)
    }
}

/// `msgpack+json`: JSON text on the application side, MessagePack on the
/// wire (distmqtt's `MsgPackJSONCodec`). Encodes text (parsed as JSON) or
/// structured data, booleans and null; decodes to compact JSON text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MsgPackJsonCodec;

impl MsgPackJsonCodec {
    /// The codec's name.
    pub const NAME: &'static str = "msgpack+json";
}

impl Codec for MsgPackJsonCodec {
    fn encode(&self, value: &Value) -> Result<Bytes, CodecError> {
        match value {
            Value::Text(json) => {
                let data: serde_json::Value =
                    serde_json::from_str(json).map_err(|e| CodecError::json(Self::NAME, e))?;
                self.encode_data(data)
            }
            Value::Bytes(_) => Err(CodecError::unsupported(
                Self::NAME,
                value,
                "JSON text or structured data",
            )),
            other => msgpack_encode(Self::NAME, other, true),
        }
    }

    fn decode(&self, payload: &Bytes) -> Result<Value, CodecError> {
        let data = self.decode_data(payload)?;
        Ok(Value::Text(data.to_string()))
    }

    fn encode_data(&self, data: serde_json::Value) -> Result<Bytes, CodecError> {
        rmp_serde::to_vec(&data)
            .map(Bytes::from)
            .map_err(|e| CodecError::msgpack(Self::NAME, e))
    }

    fn decode_data(&self, payload: &Bytes) -> Result<serde_json::Value, CodecError> {
        msgpack_decode(Self::NAME, payload).map(Value::into_data)
    }
}

/// `bool`: `true` and `false` as two words (`on` / `off` by default), and
/// optionally null as a third (`null`). Encodes booleans (and null when it
/// has a `null` word) only; decodes exactly these words, case included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoolCodec {
    on: Bytes,
    off: Bytes,
    null: Option<Bytes>,
}

impl Default for BoolCodec {
    /// `on` / `off`, no null.
    fn default() -> Self {
        Self {
            on: Bytes::from_static(b"on"),
            off: Bytes::from_static(b"off"),
            null: None,
        }
    }
}

impl BoolCodec {
    /// The codec's name.
    pub const NAME: &'static str = "bool";

    /// Two words; they must differ.
    pub fn new(on: &str, off: &str) -> Result<Self, CodecError> {
        Self::with_words(on, off, None)
    }

    /// Two words and a word for null; all must differ.
    pub fn with_words(on: &str, off: &str, null: Option<&str>) -> Result<Self, CodecError> {
        if on == off {
            return Err(CodecError::param(
                Self::NAME,
                "off",
                format!("must differ from on ({on:?})"),
            ));
        }
        if let Some(null) = null
            && (null == on || null == off)
        {
            return Err(CodecError::param(
                Self::NAME,
                "null",
                format!("must differ from on ({on:?}) and off ({off:?})"),
            ));
        }
        Ok(Self {
            on: Bytes::copy_from_slice(on.as_bytes()),
            off: Bytes::copy_from_slice(off.as_bytes()),
            null: null.map(|n| Bytes::copy_from_slice(n.as_bytes())),
        })
    }

    fn expected(&self) -> String {
        let mut words = format!("{:?}, {:?}", self.on, self.off);
        if let Some(null) = &self.null {
            words.push_str(&format!(", {null:?}"));
        }
        words
    }
}

impl Codec for BoolCodec {
    fn encode(&self, value: &Value) -> Result<Bytes, CodecError> {
        match (value.as_bool(), &self.null) {
            (Some(true), _) => Ok(self.on.clone()),
            (Some(false), _) => Ok(self.off.clone()),
            (None, Some(null)) if value.is_null() => Ok(null.clone()),
            (None, Some(_)) => Err(CodecError::unsupported(Self::NAME, value, "a bool or null")),
            (None, None) => Err(CodecError::unsupported(Self::NAME, value, "a bool")),
        }
    }

    fn decode(&self, payload: &Bytes) -> Result<Value, CodecError> {
        if *payload == self.on {
            Ok(Value::Bool(true))
        } else if *payload == self.off {
            Ok(Value::Bool(false))
        } else if self.null.as_ref() == Some(payload) {
            Ok(Value::Null)
        } else {
            Err(CodecError::NotABool {
                payload: payload.slice(..payload.len().min(64)),
                expected: self.expected(),
            })
        }
    }
}

/// Builds the built-in codec `builtin` (one of [`BUILTIN_CODECS`]) with
/// its `codec_params`. Unknown parameters and values of the wrong type are
/// refused (a typo must not fall back to a default silently); `name` (the
/// alias key) is always accepted.
pub fn builtin(builtin: &str, params: Option<&CodecParams>) -> Result<Arc<dyn Codec>, CodecError> {
    let empty = CodecParams::new();
    let params = params.unwrap_or(&empty);
    let known: &[&str] = match builtin {
        NoopCodec::NAME | Utf8Codec::NAME => &[],
        JsonCodec::NAME => &["indent"],
        MsgPackCodec::NAME | MsgPackJsonCodec::NAME => &["use_bin_type", "use_list"],
        BoolCodec::NAME => &["on", "off", "null"],
        other => return Err(CodecError::UnknownCodec(other.to_owned())),
    };
    if let Some(unknown) = params
        .keys()
        .find(|k| k.as_str() != "name" && !known.contains(&k.as_str()))
    {
        let reason = if known.is_empty() {
            "unknown parameter: this codec takes none".to_owned()
        } else {
            format!("unknown parameter: expected one of {}", known.join(", "))
        };
        return Err(CodecError::param(builtin, unknown, reason));
    }
    let string = |key: &str| -> Result<Option<&str>, CodecError> {
        match params.get(key) {
            None => Ok(None),
            Some(CodecParam::String(s)) => Ok(Some(s)),
            Some(other) => Err(CodecError::param(
                builtin,
                key,
                format!("must be a string, not {other}"),
            )),
        }
    };
    let flag = |key: &str, default: bool| -> Result<bool, CodecError> {
        match params.get(key) {
            None => Ok(default),
            Some(CodecParam::Bool(b)) => Ok(*b),
            Some(other) => Err(CodecError::param(
                builtin,
                key,
                format!("must be true or false, not {other}"),
            )),
        }
    };
    Ok(match builtin {
        NoopCodec::NAME => Arc::new(NoopCodec),
        Utf8Codec::NAME => Arc::new(Utf8Codec),
        JsonCodec::NAME => match params.get("indent") {
            None => Arc::new(JsonCodec::new()),
            Some(p) => match p.as_i64().and_then(|n| usize::try_from(n).ok()) {
                Some(n) if n <= 64 => Arc::new(JsonCodec::with_indent(n)),
                _ => {
                    return Err(CodecError::param(
                        builtin,
                        "indent",
                        format!("must be a number of spaces from 0 to 64, not {p}"),
                    ));
                }
            },
        },
        MsgPackCodec::NAME => {
            flag("use_list", false)?;
            Arc::new(MsgPackCodec::with_bin_type(flag("use_bin_type", true)?))
        }
        MsgPackJsonCodec::NAME => {
            flag("use_list", false)?;
            flag("use_bin_type", true)?;
            Arc::new(MsgPackJsonCodec)
        }
        _ => Arc::new(BoolCodec::with_words(
            string("on")?.unwrap_or("on"),
            string("off")?.unwrap_or("off"),
            string("null")?,
        )?),
    })
}

// ---------------------------------------------------------------- registry

struct Registry {
    default: String,
    /// Shared until written to: every client of a process built without
    /// `codec_params` shares one map of the built-in codecs.
    codecs: Arc<HashMap<String, Arc<dyn Codec>>>,
}

/// The built-in codecs without parameters, built once per process.
fn builtins() -> Arc<HashMap<String, Arc<dyn Codec>>> {
    static BUILTINS: std::sync::OnceLock<Arc<HashMap<String, Arc<dyn Codec>>>> =
        std::sync::OnceLock::new();
    BUILTINS
        .get_or_init(|| {
            Arc::new(
                BUILTIN_CODECS
                    .iter()
                    .filter_map(|&name| builtin(name, None).ok().map(|c| (name.to_owned(), c)))
                    .collect(),
            )
        })
        .clone()
}

/// Every built-in codec with the parameters `codec_params` gives for its
/// name, and every alias with its own (see [`Codecs::from_config`]).
fn with_params(config: &Config) -> Result<HashMap<String, Arc<dyn Codec>>, ConfigError> {
    let mut codecs = HashMap::new();
    let build = |name: &str| -> Result<Option<Arc<dyn Codec>>, ConfigError> {
        let wrap = |source| ConfigError::Codec {
            key: format!("codec_params.{name}"),
            source,
        };
        match resolve_name(config, name) {
            Some((base, params)) => builtin(base, params).map(Some).map_err(wrap),
            None => match config.codec_params.get(name).and_then(|p| p.get("name")) {
                // An alias of something that is not a built-in codec.
                Some(target) => Err(ConfigError::InvalidCodecAlias {
                    alias: name.to_owned(),
                    target: target.to_string(),
                }),
                // Parameters of a codec the application registers.
                None => Ok(None),
            },
        }
    };
    for name in BUILTIN_CODECS
        .iter()
        .copied()
        .chain(config.codec_params.keys().map(String::as_str))
    {
        if let Some(codec) = build(name)? {
            codecs.insert(name.to_owned(), codec);
        }
    }
    Ok(codecs)
}

/// The codecs of a client, by name, and its default codec.
///
/// Built from a [`Config`] ([`Codecs::from_config`]): the built-in codecs
/// with their `codec_params`, the aliases, `config.codec` as the default.
/// Codecs of your own are added with [`Codecs::register`], which takes
/// `&self`: the client's registry ([`Client::codecs`]) takes them at any
/// time. Cloning copies the registry (the codecs themselves are shared).
pub struct Codecs {
    inner: RwLock<Registry>,
}

impl Codecs {
    /// The built-in codecs without parameters; the default codec is `noop`.
    pub fn new() -> Self {
        Self {
            inner: RwLock::new(Registry {
                default: NoopCodec::NAME.to_owned(),
                codecs: builtins(),
            }),
        }
    }

    /// The codecs of a configuration: every built-in codec with the
    /// parameters `codec_params` gives for its name, every alias (a
    /// `codec_params` entry with a `name` key) with its own parameters, and
    /// `config.codec` as the default. Other `codec_params` entries are left
    /// to codecs you register (read them from [`Client::config`]).
    ///
    /// Fails on an unknown default codec, an alias of an unknown codec, and
    /// unknown or ill-typed parameters ([`ConfigError::Codec`], keyed by
    /// `codec_params.<name>`).
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        // Without parameters the built-in codecs are the process's shared ones.
        let codecs = if config.codec_params.is_empty() {
            builtins()
        } else {
            Arc::new(with_params(config)?)
        };
        if !codecs.contains_key(&config.codec) {
            return Err(ConfigError::UnknownCodec(config.codec.clone()));
        }
        Ok(Self {
            inner: RwLock::new(Registry {
                default: config.codec.clone(),
                codecs,
            }),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        // A poisoned lock only means a panic elsewhere while holding it: the
        // map itself is always consistent.
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a codec under `name`, replacing (and returning) the codec of
    /// that name, a built-in one or an alias included.
    pub fn register(
        &self,
        name: impl Into<String>,
        codec: Arc<dyn Codec>,
    ) -> Option<Arc<dyn Codec>> {
        Arc::make_mut(&mut self.write().codecs).insert(name.into(), codec)
    }

    /// The codec named `name`.
    pub fn get(&self, name: &str) -> Result<Arc<dyn Codec>, CodecError> {
        self.read()
            .codecs
            .get(name)
            .cloned()
            .ok_or_else(|| CodecError::UnknownCodec(name.to_owned()))
    }

    /// The codec named `name`, or the default codec for `None`.
    pub fn resolve(&self, name: Option<&str>) -> Result<Arc<dyn Codec>, CodecError> {
        let inner = self.read();
        let name = name.unwrap_or(&inner.default);
        inner
            .codecs
            .get(name)
            .cloned()
            .ok_or_else(|| CodecError::UnknownCodec(name.to_owned()))
    }

    /// The default codec.
    pub fn default_codec(&self) -> Arc<dyn Codec> {
        let inner = self.read();
        match inner.codecs.get(&inner.default) {
            Some(codec) => codec.clone(),
            // The default always names a codec (see `set_default`).
            None => Arc::new(NoopCodec),
        }
    }

    /// The name of the default codec.
    pub fn default_name(&self) -> String {
        self.read().default.clone()
    }

    /// Makes the codec named `name` the default.
    pub fn set_default(&self, name: &str) -> Result<(), CodecError> {
        let mut inner = self.write();
        if !inner.codecs.contains_key(name) {
            return Err(CodecError::UnknownCodec(name.to_owned()));
        }
        inner.default = name.to_owned();
        Ok(())
    }

    /// The names of all codecs, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<_> = self.read().codecs.keys().cloned().collect();
        names.sort();
        names
    }

    /// Encodes `value` with the codec named `codec` (the default for `None`).
    pub fn encode(&self, codec: Option<&str>, value: &Value) -> Result<Bytes, CodecError> {
        self.resolve(codec)?.encode(value)
    }

    /// Decodes `payload` with the codec named `codec` (the default for `None`).
    pub fn decode(&self, codec: Option<&str>, payload: &Bytes) -> Result<Value, CodecError> {
        self.resolve(codec)?.decode(payload)
    }

    /// Encodes any `T: Serialize` with the codec named `codec` (the default
    /// for `None`), through structured data ([`Codec::encode_data`]).
    pub fn encode_typed<T: Serialize + ?Sized>(
        &self,
        codec: Option<&str>,
        value: &T,
    ) -> Result<Bytes, CodecError> {
        encode_typed(&*self.resolve(codec)?, value)
    }

    /// Decodes `payload` into a `T: Deserialize` with the codec named
    /// `codec` (the default for `None`), through structured data
    /// ([`Codec::decode_data`]).
    pub fn decode_typed<T: DeserializeOwned>(
        &self,
        codec: Option<&str>,
        payload: &Bytes,
    ) -> Result<T, CodecError> {
        decode_typed(&*self.resolve(codec)?, payload)
    }
}

impl Default for Codecs {
    /// As [`Codecs::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for Codecs {
    fn clone(&self) -> Self {
        let inner = self.read();
        Self {
            inner: RwLock::new(Registry {
                default: inner.default.clone(),
                codecs: inner.codecs.clone(),
            }),
        }
    }
}

impl fmt::Debug for Codecs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Codecs")
            .field("default", &self.default_name())
            .field("names", &self.names())
            .finish()
    }
}

fn encode_typed<T: Serialize + ?Sized>(codec: &dyn Codec, value: &T) -> Result<Bytes, CodecError> {
    let data = serde_json::to_value(value).map_err(|e| CodecError::Typed(e.to_string()))?;
    codec.encode_data(data)
}

fn decode_typed<T: DeserializeOwned>(codec: &dyn Codec, payload: &Bytes) -> Result<T, CodecError> {
    let data = codec.decode_data(payload)?;
    serde_json::from_value(data).map_err(|e| CodecError::Typed(e.to_string()))
}

// ---------------------------------------------------------------- the will

impl WillConfig {
    /// The will's payload: `message` as it is when neither `codec` nor
    /// `value` is given (distmqtt's behaviour); otherwise `value` (or, when
    /// absent, `message` as text or bytes) encoded with the codec named
    /// `codec` (or `config.codec`), which honours `config.codec_params`.
    pub fn payload(&self, config: &Config) -> Result<Bytes, ConfigError> {
        if self.codec.is_none() && self.value.is_none() {
            return Ok(self.message.to_bytes());
        }
        let value = match &self.value {
            Some(_) if !self.message.as_bytes().is_empty() => {
                return Err(ConfigError::WillMessageAndValue);
            }
            Some(v) => Value::from_data(v.clone()),
            None => match &self.message {
                crate::config::TextOrBytes::Text(t) => Value::Text(t.clone()),
                crate::config::TextOrBytes::Bytes(b) => Value::Bytes(b.clone().into()),
            },
        };
        let name = self.codec.as_deref().unwrap_or(&config.codec);
        let wrap = |source| ConfigError::Codec {
            key: "will".to_owned(),
            source,
        };
        let codec = match resolve_name(config, name) {
            Some((base, params)) => builtin(base, params).map_err(wrap)?,
            None => return Err(ConfigError::UnknownCodec(name.to_owned())),
        };
        let payload = codec.encode(&value).map_err(wrap)?;
        if payload.len() > MAX_WILL_LEN {
            return Err(ConfigError::WillMessageTooLong(payload.len()));
        }
        Ok(payload)
    }
}

// ---------------------------------------------------------------- messages

impl Message {
    /// The payload decoded with `codec` (for a codec by name:
    /// `client.codecs().decode(Some(name), message.payload())`). The
    /// message and its raw payload stay available whatever the outcome.
    pub fn decode(&self, codec: &dyn Codec) -> Result<Value, CodecError> {
        codec.decode(self.payload())
    }

    /// The payload decoded with `codec` into a `T: Deserialize`, through
    /// structured data ([`Codec::decode_data`]).
    pub fn decode_typed<T: DeserializeOwned>(&self, codec: &dyn Codec) -> Result<T, CodecError> {
        decode_typed(codec, self.payload())
    }
}

/// A message and its payload decoded: the value, or why it did not decode
/// (the message, raw payload included, is kept either way).
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<T = Value> {
    /// The message as received.
    pub message: Message,
    /// The decoded payload, or the codec's error.
    pub value: Result<T, CodecError>,
}

type DecodeFn<T> = fn(&Message, &dyn Codec) -> Result<T, CodecError>;

/// A [`Subscription`] whose messages come decoded: a stream of
/// [`Decoded`]. A payload that does not decode is an `Err` value in its
/// item; the stream goes on. Unsubscribes when dropped, like the
/// subscription it wraps.
pub struct DecodedSubscription<T = Value> {
    inner: Subscription,
    codec: Arc<dyn Codec>,
    decode: DecodeFn<T>,
}

impl<T> DecodedSubscription<T> {
    /// The filter.
    pub fn topic_filter(&self) -> &sansmqtt_proto::TopicFilter {
        self.inner.topic_filter()
    }

    /// The codec decoding the messages.
    pub fn codec(&self) -> &Arc<dyn Codec> {
        &self.codec
    }

    /// The subscription underneath, yielding raw messages.
    pub fn into_inner(self) -> Subscription {
        self.inner
    }
}

impl<T> fmt::Debug for DecodedSubscription<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodedSubscription")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<T> Stream for DecodedSubscription<T> {
    type Item = Decoded<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Decoded<T>>> {
        let this = &mut *self;
        this.inner.poll_next_unpin(cx).map(|next| {
            next.map(|message| {
                let value = (this.decode)(&message, &*this.codec);
                Decoded { message, value }
            })
        })
    }
}

fn decode_value(message: &Message, codec: &dyn Codec) -> Result<Value, CodecError> {
    message.decode(codec)
}

fn decode_as<T: DeserializeOwned>(message: &Message, codec: &dyn Codec) -> Result<T, CodecError> {
    message.decode_typed(codec)
}

// ---------------------------------------------------------------- client

impl Client {
    /// Encodes `value` with the default codec (`config.codec`) and
    /// publishes it (see [`Client::publish`]).
    pub async fn publish_value(
        &self,
        topic: &str,
        value: &Value,
        qos: QoS,
        retain: bool,
    ) -> Result<PublishDone, CallError> {
        let options = PublishOptions::new().qos(qos).retain(retain);
        self.publish_value_with(topic, value, options).await
    }

    /// [`Client::publish_value`] with its optional arguments in `options`:
    /// the codec (built-in, alias or registered, with its `codec_params`;
    /// default: `config.codec`), QoS and retain flag (default: the
    /// configuration's for this topic), expiry and timeout (see
    /// [`PublishOptions`]).
    pub async fn publish_value_with(
        &self,
        topic: &str,
        value: &Value,
        options: PublishOptions,
    ) -> Result<PublishDone, CallError> {
        let payload = self.codecs().encode(options.codec.as_deref(), value)?;
        Ok(self.publish_with(topic, payload, options).await?)
    }

    /// Encodes any `T: Serialize` with the default codec and publishes it.
    pub async fn publish_typed<T: Serialize + ?Sized>(
        &self,
        topic: &str,
        value: &T,
        qos: QoS,
        retain: bool,
    ) -> Result<PublishDone, CallError> {
        let options = PublishOptions::new().qos(qos).retain(retain);
        self.publish_typed_with(topic, value, options).await
    }

    /// [`Client::publish_typed`] with its optional arguments in `options`
    /// (codec, QoS, retain flag, expiry, timeout; see [`PublishOptions`]).
    pub async fn publish_typed_with<T: Serialize + ?Sized>(
        &self,
        topic: &str,
        value: &T,
        options: PublishOptions,
    ) -> Result<PublishDone, CallError> {
        let payload = self
            .codecs()
            .encode_typed(options.codec.as_deref(), value)?;
        Ok(self.publish_with(topic, payload, options).await?)
    }

    /// A [`Client::subscription`] whose messages come decoded with the
    /// codec named `codec` (the default codec for `None`). An unknown codec
    /// fails before subscribing.
    pub async fn subscription_value(
        &self,
        filter: &str,
        qos: QoS,
        codec: Option<&str>,
    ) -> Result<DecodedSubscription, CallError> {
        self.decoded_subscription(filter, qos, codec, decode_value)
            .await
    }

    /// A [`Client::subscription`] whose messages come decoded into `T`
    /// with the codec named `codec` (the default codec for `None`).
    pub async fn subscription_typed<T: DeserializeOwned>(
        &self,
        filter: &str,
        qos: QoS,
        codec: Option<&str>,
    ) -> Result<DecodedSubscription<T>, CallError> {
        self.decoded_subscription(filter, qos, codec, decode_as::<T>)
            .await
    }

    async fn decoded_subscription<T>(
        &self,
        filter: &str,
        qos: QoS,
        codec: Option<&str>,
        decode: DecodeFn<T>,
    ) -> Result<DecodedSubscription<T>, CallError> {
        let codec = self.codecs().resolve(codec)?;
        let inner = self.subscription(filter, qos).await?;
        Ok(DecodedSubscription {
            inner,
            codec,
            decode,
        })
    }

    /// [`Client::deliver_message`], decoded with the codec named `codec`
    /// (the default codec for `None`): `Ok(None)` once the client is
    /// closed, `Err` only for an unknown codec (checked before waiting).
    pub async fn deliver_value(&self, codec: Option<&str>) -> Result<Option<Decoded>, CodecError> {
        let codec = self.codecs().resolve(codec)?;
        Ok(self.deliver_message().await.map(|message| {
            let value = message.decode(&*codec);
            Decoded { message, value }
        }))
    }

    /// [`Client::deliver_message`], decoded into `T` with the codec named
    /// `codec` (the default codec for `None`).
    pub async fn deliver_typed<T: DeserializeOwned>(
        &self,
        codec: Option<&str>,
    ) -> Result<Option<Decoded<T>>, CodecError> {
        let codec = self.codecs().resolve(codec)?;
        Ok(self.deliver_message().await.map(|message| {
            let value = message.decode_typed(&*codec);
            Decoded { message, value }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noop_round_trips_bytes_without_copying() {
        let payload = Bytes::from_static(&[0, 159, 146, 150]);
        let v = NoopCodec.decode(&payload).unwrap();
        assert_eq!(v.as_bytes().unwrap().as_ptr(), payload.as_ptr());
        assert_eq!(NoopCodec.encode(&v).unwrap(), payload);
        let e = NoopCodec.encode(&"text".into()).unwrap_err();
        assert!(
            matches!(e, CodecError::Unsupported { kind: "text", .. }),
            "{e}"
        );
    }

    #[test]
    fn value_deserialize_keeps_top_level_kinds() {
        let v: Value = serde_json::from_str(r#""x""#).unwrap();
        assert_eq!(v, Value::Text("x".into()));
        let v: Value = serde_json::from_str("null").unwrap();
        assert_eq!(v, Value::Null);
        let v: Value = serde_json::from_str(r#"{"a":[true,null,"s"]}"#).unwrap();
        assert_eq!(v, Value::Data(serde_json::json!({"a": [true, null, "s"]})));
    }

    #[test]
    fn msgpack_str_family_bytes_for_every_length() {
        let codec = MsgPackCodec::with_bin_type(false);
        for (len, header) in [
            (0, &[0xa0][..]),
            (31, &[0xbf][..]),
            (32, &[0xd9, 32][..]),
            (256, &[0xda, 1, 0][..]),
            (70_000, &[0xdb, 0, 1, 0x11, 0x70][..]),
        ] {
            let data = vec![b'a'; len];
            let out = codec.encode(&Value::from(data.clone())).unwrap();
            assert_eq!(&out[..header.len()], header, "{len}");
            assert_eq!(&out[header.len()..], &data[..]);
            // Valid UTF-8 in the str family reads back as text.
            assert_eq!(
                codec.decode(&out).unwrap(),
                Value::Text(String::from_utf8(data).unwrap())
            );
        }
        // Invalid UTF-8 in the str family reads back as bytes.
        let out = codec.encode(&Value::from(vec![0xff, 0xfe])).unwrap();
        assert_eq!(&out[..], &[0xa2, 0xff, 0xfe]);
        assert_eq!(codec.decode(&out).unwrap(), Value::from(vec![0xff, 0xfe]));
    }

    #[test]
    fn msgpack_depth_is_bounded() {
        // 10,000 nested one-element arrays: refused, no stack overflow.
        let mut payload = vec![0x91; 10_000];
        payload.push(0xc0);
        let e = MsgPackCodec::new().decode(&payload.into()).unwrap_err();
        assert!(matches!(e, CodecError::MsgPack { .. }), "{e}");
    }

    fn message(payload: &'static [u8]) -> Message {
        let topic = sansmqtt_proto::TopicName::try_from("a/b").unwrap();
        Message::new(sansmqtt_proto::Publish::at_most_once(topic, payload))
    }

    #[test]
    fn message_decode_keeps_the_raw_payload_on_error() {
        let m = message(b"\xff not json");
        let e = m.decode(&JsonCodec::new()).unwrap_err();
        assert!(matches!(e, CodecError::Json { .. }), "{e}");
        // The message is untouched and can be decoded another way.
        assert_eq!(&m.payload()[..], b"\xff not json");
        assert_eq!(
            m.decode(&NoopCodec).unwrap(),
            Value::Bytes(Bytes::from_static(b"\xff not json"))
        );
        let d = Decoded {
            message: m.clone(),
            value: m.decode_typed::<u32>(&JsonCodec::new()),
        };
        assert!(d.value.is_err());
        assert_eq!(d.message, m);
    }

    #[test]
    fn message_decode_typed() {
        let m = message(br#"{"x": [1, 2]}"#);
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct P {
            x: Vec<u8>,
        }
        assert_eq!(
            m.decode_typed::<P>(&JsonCodec::new()).unwrap(),
            P { x: vec![1, 2] }
        );
        assert_eq!(
            decode_value(&m, &JsonCodec::new()).unwrap(),
            Value::Data(serde_json::json!({"x": [1, 2]}))
        );
    }

    #[test]
    fn unknown_builtin_is_refused() {
        assert_eq!(
            builtin("yaml", None).err(),
            Some(CodecError::UnknownCodec("yaml".into()))
        );
    }
}
