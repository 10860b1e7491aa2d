//! The [`Codec`] trait, the built-in codecs but MessagePack's, and
//! [`builtin`], which builds any built-in codec from its parameters.

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::PayloadError;
#[cfg(feature = "msgpack")]
use super::msgpack::{MsgPackCodec, MsgPackJsonCodec};
use super::value::Value;
#[cfg(doc)]
use super::{BUILTIN_CODECS, Codecs};
use crate::payload_keys::{CodecParam, CodecParams};
#[cfg(doc)]
use crate::{Client, Message};

/// The name of the `msgpack` codec.
pub(super) const MSGPACK: &str = "msgpack";
/// The name of the `msgpack+json` codec.
pub(super) const MSGPACK_JSON: &str = "msgpack+json";

/// The Cargo feature the built-in codec `name` needs, when this build
/// leaves it out (`msgpack` and `msgpack+json` without the `msgpack`
/// feature).
pub(super) fn missing_feature(name: &str) -> Option<&'static str> {
    let msgpack = name == MSGPACK || name == MSGPACK_JSON;
    (msgpack && cfg!(not(feature = "msgpack"))).then_some("msgpack")
}

/// A payload codec. Implement it for codecs of your own and register them
/// with [`Codecs::register`].
///
/// ```
/// use bytes::Bytes;
/// use sansmqtt::payload::{Codec, PayloadError, Codecs, Value};
///
/// /// Text, upper-cased on the wire.
/// struct Shout;
///
/// impl Codec for Shout {
///     fn encode(&self, value: &Value) -> Result<Bytes, PayloadError> {
///         let text = value.as_str().ok_or_else(|| PayloadError::custom("shout", "text only"))?;
///         Ok(text.to_uppercase().into())
///     }
///     fn decode(&self, payload: &Bytes) -> Result<Value, PayloadError> {
///         let text = std::str::from_utf8(payload).map_err(|e| PayloadError::custom("shout", e))?;
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
    fn encode(&self, value: &Value) -> Result<Bytes, PayloadError>;

    /// The value of a payload.
    fn decode(&self, payload: &Bytes) -> Result<Value, PayloadError>;

    /// The payload of structured data: the typed calls
    /// ([`Codecs::encode_typed`], [`Client::publish_typed`]) serialize
    /// through it. By default [`Codec::encode`] of [`Value::from_data`].
    fn encode_data(&self, data: serde_json::Value) -> Result<Bytes, PayloadError> {
        self.encode(&Value::from_data(data))
    }

    /// The structured data of a payload: the typed calls
    /// ([`Message::decode_typed`]) deserialize from it. By default
    /// [`Value::into_data`] of [`Codec::decode`].
    fn decode_data(&self, payload: &Bytes) -> Result<serde_json::Value, PayloadError> {
        self.decode(payload).map(Value::into_data)
    }
}

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
    fn encode(&self, value: &Value) -> Result<Bytes, PayloadError> {
        const EXPECTED: &str = "bytes";
        match value {
            Value::Bytes(b) => Ok(b.clone()),
            Value::Data(serde_json::Value::Array(items)) => items
                .iter()
                .map(|i| i.as_u64().and_then(|n| u8::try_from(n).ok()))
                .collect::<Option<Vec<u8>>>()
                .map(Bytes::from)
                .ok_or_else(|| PayloadError::unsupported(Self::NAME, value, EXPECTED)),
            _ => Err(PayloadError::unsupported(Self::NAME, value, EXPECTED)),
        }
    }

    fn decode(&self, payload: &Bytes) -> Result<Value, PayloadError> {
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
    fn encode(&self, value: &Value) -> Result<Bytes, PayloadError> {
        value
            .as_str()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .ok_or_else(|| PayloadError::unsupported(Self::NAME, value, "text"))
    }

    fn decode(&self, payload: &Bytes) -> Result<Value, PayloadError> {
        std::str::from_utf8(payload)
            .map(|s| Value::Text(s.to_owned()))
            .map_err(|e| PayloadError::InvalidUtf8 {
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

    fn write(&self, value: &impl Serialize) -> Result<Bytes, PayloadError> {
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
            .map_err(|e| PayloadError::json(Self::NAME, e))
    }
}

impl Codec for JsonCodec {
    fn encode(&self, value: &Value) -> Result<Bytes, PayloadError> {
        if let Value::Bytes(_) = value {
            // JSON has no bytes (distmqtt's json.dumps refuses them too).
            return Err(PayloadError::unsupported(
                Self::NAME,
                value,
                "text, bool, null or structured data",
            ));
        }
        self.write(value)
    }

    fn decode(&self, payload: &Bytes) -> Result<Value, PayloadError> {
        serde_json::from_slice(payload).map_err(|e| PayloadError::json(Self::NAME, e))
    }

    fn encode_data(&self, data: serde_json::Value) -> Result<Bytes, PayloadError> {
        self.write(&data)
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
    pub fn new(on: &str, off: &str) -> Result<Self, PayloadError> {
        Self::with_words(on, off, None)
    }

    /// Two words and a word for null; all must differ.
    pub fn with_words(on: &str, off: &str, null: Option<&str>) -> Result<Self, PayloadError> {
        if on == off {
            return Err(PayloadError::param(
                Self::NAME,
                "off",
                format!("must differ from on ({on:?})"),
            ));
        }
        if let Some(null) = null
            && (null == on || null == off)
        {
            return Err(PayloadError::param(
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
    fn encode(&self, value: &Value) -> Result<Bytes, PayloadError> {
        match (value.as_bool(), &self.null) {
            (Some(true), _) => Ok(self.on.clone()),
            (Some(false), _) => Ok(self.off.clone()),
            (None, Some(null)) if value.is_null() => Ok(null.clone()),
            (None, Some(_)) => Err(PayloadError::unsupported(
                Self::NAME,
                value,
                "a bool or null",
            )),
            (None, None) => Err(PayloadError::unsupported(Self::NAME, value, "a bool")),
        }
    }

    fn decode(&self, payload: &Bytes) -> Result<Value, PayloadError> {
        if *payload == self.on {
            Ok(Value::Bool(true))
        } else if *payload == self.off {
            Ok(Value::Bool(false))
        } else if self.null.as_ref() == Some(payload) {
            Ok(Value::Null)
        } else {
            Err(PayloadError::NotABool {
                payload: payload.slice(..payload.len().min(64)),
                expected: self.expected(),
            })
        }
    }
}

/// Builds the built-in codec `builtin` (one of [`BUILTIN_CODECS`]) with
/// its `codec_params`. Unknown parameters and values of the wrong type are
/// refused (a typo must not fall back to a default silently); `name` (the
/// alias key) is always accepted. `msgpack` and `msgpack+json` without
/// the `msgpack` feature: [`PayloadError::NeedsFeature`].
pub fn builtin(
    builtin: &str,
    params: Option<&CodecParams>,
) -> Result<Arc<dyn Codec>, PayloadError> {
    if let Some(feature) = missing_feature(builtin) {
        return Err(PayloadError::NeedsFeature {
            codec: builtin.to_owned(),
            feature,
        });
    }
    let empty = CodecParams::new();
    let params = params.unwrap_or(&empty);
    let known: &[&str] = match builtin {
        NoopCodec::NAME | Utf8Codec::NAME => &[],
        JsonCodec::NAME => &["indent"],
        MSGPACK | MSGPACK_JSON => &["use_bin_type", "use_list"],
        BoolCodec::NAME => &["on", "off", "null"],
        other => return Err(PayloadError::UnknownCodec(other.to_owned())),
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
        return Err(PayloadError::param(builtin, unknown, reason));
    }
    let string = |key: &str| -> Result<Option<&str>, PayloadError> {
        match params.get(key) {
            None => Ok(None),
            Some(CodecParam::String(s)) => Ok(Some(s)),
            Some(other) => Err(PayloadError::param(
                builtin,
                key,
                format!("must be a string, not {other}"),
            )),
        }
    };
    #[cfg(feature = "msgpack")]
    let flag = |key: &str, default: bool| -> Result<bool, PayloadError> {
        match params.get(key) {
            None => Ok(default),
            Some(CodecParam::Bool(b)) => Ok(*b),
            Some(other) => Err(PayloadError::param(
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
                    return Err(PayloadError::param(
                        builtin,
                        "indent",
                        format!("must be a number of spaces from 0 to 64, not {p}"),
                    ));
                }
            },
        },
        #[cfg(feature = "msgpack")]
        MsgPackCodec::NAME => {
            flag("use_list", false)?;
            Arc::new(MsgPackCodec::with_bin_type(flag("use_bin_type", true)?))
        }
        #[cfg(feature = "msgpack")]
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

/// Any `T: Serialize` encoded with `codec`, through structured data
/// ([`Codec::encode_data`]).
pub(super) fn encode_typed<T: Serialize + ?Sized>(
    codec: &dyn Codec,
    value: &T,
) -> Result<Bytes, PayloadError> {
    let data = serde_json::to_value(value).map_err(|e| PayloadError::Typed(e.to_string()))?;
    codec.encode_data(data)
}

/// A payload decoded with `codec` into a `T: Deserialize`, through
/// structured data ([`Codec::decode_data`]).
pub(super) fn decode_typed<T: DeserializeOwned>(
    codec: &dyn Codec,
    payload: &Bytes,
) -> Result<T, PayloadError> {
    let data = codec.decode_data(payload)?;
    serde_json::from_value(data).map_err(|e| PayloadError::Typed(e.to_string()))
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
            matches!(e, PayloadError::Unsupported { kind: "text", .. }),
            "{e}"
        );
    }

    #[test]
    fn unknown_builtin_is_refused() {
        assert_eq!(
            builtin("yaml", None).err(),
            Some(PayloadError::UnknownCodec("yaml".into()))
        );
    }
}
