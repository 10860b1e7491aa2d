//! The one error of payload codecs.

use std::fmt;

use bytes::Bytes;

use super::value::Value;

/// Why a value could not be encoded or a payload decoded, or a codec not
/// found or built: the one error of payload codecs (the client's calls
/// return it as [`ClientError::Payload`](crate::ClientError::Payload), the
/// configuration as [`ConfigError::Codec`](crate::ConfigError::Codec)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// No codec of that name: neither a built-in codec, nor an alias in
    /// `codec_params`, nor a registered one.
    #[error(
        "unknown codec {0:?}: expected noop, utf8, json, msgpack, msgpack+json, bool, an alias declared in codec_params with a `name` key, or a registered codec"
    )]
    UnknownCodec(String),
    /// A built-in codec this build leaves out: `msgpack` and `msgpack+json`
    /// need the `msgpack` Cargo feature.
    #[error(
        "codec {codec} needs sansmqtt's Cargo feature `{feature}`, which this build leaves out"
    )]
    NeedsFeature {
        /// The built-in codec.
        codec: String,
        /// The Cargo feature of `sansmqtt` (or of an adapter crate) it needs.
        feature: &'static str,
    },
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

impl PayloadError {
    /// An error of a user codec.
    pub fn custom(codec: impl Into<String>, reason: impl fmt::Display) -> Self {
        Self::Custom {
            codec: codec.into(),
            reason: reason.to_string(),
        }
    }

    pub(super) fn unsupported(codec: &str, value: &Value, expected: &'static str) -> Self {
        Self::Unsupported {
            codec: codec.to_owned(),
            kind: value.kind(),
            expected,
        }
    }

    pub(super) fn json(codec: &str, e: impl fmt::Display) -> Self {
        Self::Json {
            codec: codec.to_owned(),
            reason: e.to_string(),
        }
    }

    #[cfg(feature = "msgpack")]
    pub(super) fn msgpack(codec: &str, e: impl fmt::Display) -> Self {
        Self::MsgPack {
            codec: codec.to_owned(),
            reason: e.to_string(),
        }
    }

    pub(super) fn param(codec: &str, param: &str, reason: impl Into<String>) -> Self {
        Self::InvalidParam {
            codec: codec.to_owned(),
            param: param.to_owned(),
            reason: reason.into(),
        }
    }
}
