//! Why a configuration is refused: [`ConfigError`].

use std::time::Duration;

use sansmqtt_proto::{StringError, TopicError};

use super::UriError;

/// Why a configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `keep_alive` is not above `ping_delay`: no ping could be sent in time
    /// (distmqtt disabled pings or crashed: bug #20).
    #[error(
        "keep_alive ({keep_alive:?}) must be greater than ping_delay ({ping_delay:?}), or 0 to disable keep-alive"
    )]
    KeepAliveNotAbovePingDelay {
        /// The configured keep-alive.
        keep_alive: Duration,
        /// The configured ping delay.
        ping_delay: Duration,
    },
    /// `keep_alive` is neither 0 nor between 1 s and 65,535 s (what CONNECT can carry).
    #[error("keep_alive ({0:?}) must be 0 (disabled) or between 1 s and 65,535 s")]
    KeepAliveOutOfRange(Duration),
    /// A timeout that must be positive is zero.
    #[error("{key} must be greater than zero")]
    ZeroTimeout {
        /// The key: `connect_timeout` or `ping_timeout`.
        key: &'static str,
    },
    /// A topic name or filter is invalid.
    #[error("{key}: invalid topic {topic:?}: {source}")]
    InvalidTopic {
        /// Where: `topics` or `will.topic`.
        key: String,
        /// The topic as configured.
        topic: String,
        /// What is wrong with it.
        source: TopicError,
    },
    /// A `topics` key is a shared subscription (`$share/...` with
    /// wildcards), which no publish topic can be matched against.
    #[error(
        "topics: {0:?} is a shared subscription filter; publish defaults need a topic or a plain filter"
    )]
    SharedFilterInTopics(String),
    /// The will message is longer than Binary Data allows.
    #[error("will.message is {0} bytes long; at most 65,535")]
    WillMessageTooLong(usize),
    /// `protocol_version` is not one of the accepted spellings.
    #[error(
        "unknown protocol_version {0:?}: expected \"3.1.1\" (or 4, \"mqttv311\"), \"5\" (or 5, \"mqttv5\"), \"3.1\" or \"auto\""
    )]
    InvalidProtocolVersion(String),
    /// `session_expiry` with a protocol version other than MQTT 5.
    #[error("session_expiry is an MQTT 5 property: it needs protocol_version 5 or \"auto\"")]
    SessionExpiryNeedsV5,
    /// An MQTT 5 key (CONNECT or will property) with a protocol version
    /// that never speaks MQTT 5.
    #[error("{key} is an MQTT 5 property: it needs protocol_version 5 or \"auto\"")]
    NeedsV5 {
        /// The key.
        key: &'static str,
    },
    /// An MQTT 5 interval (will delay, message expiry) above
    /// 4,294,967,295 s.
    #[error("{key} ({value:?}) must be at most 4,294,967,295 s")]
    IntervalOutOfRange {
        /// The key.
        key: &'static str,
        /// The value.
        value: Duration,
    },
    /// `will.payload_format = "utf8"` with a will message that is not UTF-8.
    #[error("will.payload_format is \"utf8\" but will.message is not UTF-8")]
    WillNotUtf8,
    /// `persistence` with `protocol_version = "auto"`: a session file, like
    /// the broker's session, belongs to one protocol version.
    #[error("persistence needs a fixed protocol_version (\"5\" or \"3.1.1\"), not \"auto\"")]
    PersistenceNeedsFixedVersion,
    /// An MQTT 5 text property that is not a valid MQTT UTF-8 string.
    #[error("{key}: {source}")]
    InvalidString {
        /// The key.
        key: String,
        /// What is wrong with it.
        source: StringError,
    },
    /// `session_expiry` above 4,294,967,295 s.
    #[error("session_expiry ({0:?}) must be at most 4,294,967,295 s (never expires)")]
    SessionExpiryOutOfRange(Duration),
    /// `proxy` is not an `http://`, `socks5://` or `socks5h://` URI with a
    /// host (the message never shows its password).
    #[error("invalid proxy {uri:?}: {reason}")]
    InvalidProxy {
        /// The URI, its password masked.
        uri: String,
        /// What is wrong with it.
        reason: UriError,
    },
    /// An `authenticator` with a protocol version other than MQTT 5 (also
    /// `"auto"`: a fallback to 3.1.1 has no enhanced authentication).
    #[error("an authenticator is MQTT 5 enhanced authentication: it needs protocol_version 5")]
    AuthenticatorNeedsV5,
    /// `authentication_data` without `authentication_method`.
    #[error("authentication_data needs an authentication_method")]
    AuthenticationDataWithoutMethod,
    /// Both an `authenticator` (code) and an `authentication_method`
    /// (configuration): one method only.
    #[error("give either an authenticator or an authentication_method, not both")]
    TwoAuthentications,
    /// The authenticator's method is not a valid MQTT string (too long, or
    /// a character MQTT forbids).
    #[error("the authenticator's method is not a valid MQTT string")]
    InvalidAuthenticationMethod,
    /// `persistence` without a fixed, non-empty `client_id`: the file is the
    /// session of one client identifier.
    #[error("persistence needs a client_id (the saved session is that client's)")]
    PersistenceNeedsClientId,
    /// `persistence` with a session that ends with its connection: the
    /// broker would discard what is resumed.
    #[error(
        "persistence needs a session the broker keeps: cleansession = false, or with MQTT 5 a session_expiry above 0"
    )]
    PersistenceNeedsLastingSession,
    /// `max_inflight` is 0: no QoS 1 or 2 publish could ever be sent.
    #[error("max_inflight must be at least 1")]
    ZeroMaxInflight,
    /// `max_packet_size` is 0.
    #[error("max_packet_size must be at least 1")]
    ZeroMaxPacketSize,
    /// `codec` names neither a built-in codec nor an alias.
    #[error(
        "unknown codec {0:?}: expected one of noop, utf8, json, msgpack, msgpack+json, bool, or an alias declared in codec_params with a `name` key"
    )]
    UnknownCodec(String),
    /// A `codec_params` entry's `name` does not name a built-in codec, or
    /// redefines a built-in codec name.
    #[error(
        "codec_params.{alias}: name = {target:?} must be a built-in codec (noop, utf8, json, msgpack, msgpack+json, bool), and a built-in name cannot be redefined"
    )]
    InvalidCodecAlias {
        /// The alias (the `codec_params` key).
        alias: String,
        /// Its `name` value.
        target: String,
    },
    /// A codec cannot be built from its `codec_params`, or the will does
    /// not encode with its codec.
    #[cfg(feature = "payload")]
    #[error("{key}: {source}")]
    Codec {
        /// Where: `codec_params.<name>` or `will`.
        key: String,
        /// What the codec said.
        source: crate::payload::PayloadError,
    },
    /// A key that needs a Cargo feature of sansmqtt this build leaves out:
    /// `payload` for a `codec` other than `"noop"`, `codec_params`,
    /// `will.codec` and `will.value`; `msgpack` for the MessagePack codecs.
    #[error("{key}: needs sansmqtt's Cargo feature `{feature}`, which this build leaves out")]
    NeedsFeature {
        /// The key (with its value where it is a name), as `codec = "json"`.
        key: String,
        /// The feature.
        feature: &'static str,
    },
    /// The will has both a non-empty `message` and a `value`.
    #[error("will: give either message or value, not both")]
    WillMessageAndValue,
    /// `client_id` is not a valid MQTT string.
    #[error("client_id {client_id:?}: {source}")]
    InvalidClientId {
        /// The configured identifier.
        client_id: String,
        /// What is wrong with it.
        source: StringError,
    },
    /// An empty `client_id` (broker-assigned) with `cleansession = false`,
    /// which MQTT 3.1.1 brokers refuse [MQTT-3.1.3-7].
    #[error("an empty client_id requires cleansession = true in MQTT 3.1.1 [MQTT-3.1.3-7]")]
    EmptyClientIdNeedsCleanSession,
    /// The user name (config or URI) is not a valid MQTT string.
    #[error("username: {0}")]
    InvalidUsername(StringError),
    /// The password is longer than Binary Data allows.
    #[error("password is {0} bytes long; at most 65,535")]
    PasswordTooLong(usize),
    /// A password without a user name, which MQTT 3.1.1 forbids [MQTT-3.1.2-22].
    #[error("a password needs a username in MQTT 3.1.1 [MQTT-3.1.2-22]")]
    PasswordWithoutUsername,
    /// A broker URI is invalid.
    #[error("invalid broker URI {uri:?}: {reason}")]
    InvalidUri {
        /// The URI, its password masked.
        uri: String,
        /// What is wrong with it.
        reason: UriError,
    },
    /// No broker URI at all.
    #[error("no broker URI given")]
    NoBrokerUri,
    /// `keyfile` without `certfile`.
    #[error("keyfile is set but certfile is not")]
    KeyfileWithoutCertfile,
    /// An `alpn` protocol name is empty or longer than 255 bytes.
    #[error("alpn: protocol name {0:?} must be 1 to 255 bytes long")]
    InvalidAlpn(String),
    /// An `extra_headers` entry cannot be sent in the WebSocket upgrade
    /// request.
    #[error("extra_headers: {name:?}: {reason}")]
    InvalidHeader {
        /// The header name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A TLS setting cannot be used: an unreadable or malformed `cafile`,
    /// `capath`, `cadata`, `certfile` or `keyfile`, a key that does not
    /// match its certificate (checked when the client is built, not at
    /// connect time).
    #[error("{key}: {reason}")]
    Tls {
        /// The key: `cafile`, `capath`, `cadata`, `certfile`, `keyfile`.
        key: &'static str,
        /// What is wrong, with the file name.
        reason: String,
    },
}
