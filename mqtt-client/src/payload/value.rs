//! [`Value`]: a payload's value, untyped.

use std::fmt;

use bytes::Bytes;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::error::PayloadError;

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
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self, PayloadError> {
        serde_json::to_value(value)
            .map(Self::from_data)
            .map_err(|e| PayloadError::Typed(e.to_string()))
    }

    /// The value as a `T: Deserialize`, through structured data
    /// ([`Value::into_data`]).
    pub fn deserialize_into<T: DeserializeOwned>(self) -> Result<T, PayloadError> {
        serde_json::from_value(self.into_data()).map_err(|e| PayloadError::Typed(e.to_string()))
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
    /// [module documentation](super#values).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_deserialize_keeps_top_level_kinds() {
        let v: Value = serde_json::from_str(r#""x""#).unwrap();
        assert_eq!(v, Value::Text("x".into()));
        let v: Value = serde_json::from_str("null").unwrap();
        assert_eq!(v, Value::Null);
        let v: Value = serde_json::from_str(r#"{"a":[true,null,"s"]}"#).unwrap();
        assert_eq!(v, Value::Data(serde_json::json!({"a": [true, null, "s"]})));
    }
}
