//! Values given as text or bytes ([`TextOrBytes`]: a will message, a
//! password) and secrets ([`Secret`]: a password, whose `Debug` shows
//! nothing of it).

use std::fmt;

use bytes::Bytes;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use super::MAX_BINARY_LEN;

/// A value given as text or as bytes (a list of numbers in TOML and JSON,
/// a byte string in formats that have one): a will message, a password.
#[derive(Clone, PartialEq, Eq)]
pub enum TextOrBytes {
    /// UTF-8 text, used as its bytes.
    Text(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
}

impl TextOrBytes {
    /// The bytes of the value.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(s) => s.as_bytes(),
            Self::Bytes(b) => b,
        }
    }

    /// The bytes of the value, copied into `Bytes`.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
}

impl Default for TextOrBytes {
    /// Empty text.
    fn default() -> Self {
        Self::Text(String::new())
    }
}

impl fmt::Debug for TextOrBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(s) => fmt::Debug::fmt(s, f),
            Self::Bytes(b) => fmt::Debug::fmt(&Bytes::copy_from_slice(b), f),
        }
    }
}

impl From<&str> for TextOrBytes {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for TextOrBytes {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<Vec<u8>> for TextOrBytes {
    fn from(b: Vec<u8>) -> Self {
        Self::Bytes(b)
    }
}

impl From<&[u8]> for TextOrBytes {
    fn from(b: &[u8]) -> Self {
        Self::Bytes(b.to_vec())
    }
}

impl Serialize for TextOrBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(t) => s.serialize_str(t),
            Self::Bytes(b) => {
                // A list of numbers: TOML has no byte strings.
                let mut seq = s.serialize_seq(Some(b.len()))?;
                for byte in b {
                    seq.serialize_element(byte)?;
                }
                seq.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for TextOrBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TextOrBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or bytes (a list of numbers 0..=255)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TextOrBytes, E> {
                Ok(TextOrBytes::Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<TextOrBytes, E> {
                Ok(TextOrBytes::Text(v))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<TextOrBytes, E> {
                Ok(TextOrBytes::Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<TextOrBytes, E> {
                Ok(TextOrBytes::Bytes(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TextOrBytes, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_BINARY_LEN));
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(TextOrBytes::Bytes(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A secret (the password): text or bytes that `Debug` never shows. It is
/// serialized as it is (a configuration written back keeps it).
///
/// ```
/// use sansmqtt::config::Secret;
///
/// let password = Secret::from("hunter2");
/// assert_eq!(password.expose(), b"hunter2");
/// assert_eq!(format!("{password:?}"), "<redacted>");
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(TextOrBytes);

impl Secret {
    /// The secret's bytes: only where it must be used (CONNECT).
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The secret's bytes, copied into `Bytes`.
    pub(crate) fn to_bytes(&self) -> Bytes {
        self.0.to_bytes()
    }

    /// The secret, as given (text or bytes).
    pub fn into_inner(self) -> TextOrBytes {
        self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T: Into<TextOrBytes>> From<T> for Secret {
    fn from(value: T) -> Self {
        Self(value.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_in_debug() {
        for s in [Secret::from("hunter2"), Secret::from(b"hunter2".to_vec())] {
            assert_eq!(format!("{s:?}"), "<redacted>");
            assert_eq!(s.expose(), b"hunter2");
        }
    }

    #[test]
    fn text_or_bytes_reads_strings_and_lists_of_numbers() {
        let t: TextOrBytes = serde_json::from_str(r#""bye""#).unwrap();
        assert_eq!(t, TextOrBytes::Text("bye".into()));
        let b: TextOrBytes = serde_json::from_str("[0, 1, 255]").unwrap();
        assert_eq!(b, TextOrBytes::Bytes(vec![0, 1, 255]));
        assert!(serde_json::from_str::<TextOrBytes>("[256]").is_err());
        let s: Secret = serde_json::from_str(r#""pw""#).unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""pw""#);
    }
}
