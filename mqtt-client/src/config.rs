//! Client configuration: every key of distmqtt's `config` dictionary with
//! the same defaults, plus what distmqtt lacked (connect and PINGRESP
//! timeouts, in-flight and queue bounds, maximum packet size, MQTT 5, broker
//! failover), and the broker URIs.
//!
//! [`Config`] implements serde's `Deserialize`, so it loads from TOML, JSON,
//! YAML or any self-describing format. Every key is optional; an unknown key
//! is an error (a typo must not silently fall back to a default).
//! Durations are numbers of seconds, integer or fractional, as in distmqtt,
//! or strings with a unit: `"1.5s"`, `"500ms"`, `"2m"`.
//!
//! ```
//! use std::time::Duration;
//! use sansmqtt::config::{BrokerUri, Config};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config: Config = serde_json::from_str(r#"{
//!     "keep_alive": 30,
//!     "ping_delay": "1.5s",
//!     "topics": { "sensors/#": { "qos": 1 }, "sensors/alarm": { "qos": 2, "retain": true } },
//!     "will": { "topic": "status/sensor-1", "message": "offline", "retain": true }
//! }"#)?;
//! config.validate()?;
//! assert_eq!(config.ping_delay, Duration::from_millis(1500));
//!
//! let uri = BrokerUri::parse("mqtt://alice:s%40cret@broker.example:1884")?;
//! let options = config.session_options(&uri)?;
//! assert_eq!(options.username.as_deref(), Some("alice"));
//! assert_eq!(options.password.as_deref(), Some(&b"s@cret"[..]));
//! # Ok(())
//! # }
//! ```
//!
//! Validation ([`Config::validate`]) refuses the combinations distmqtt
//! crashed on or silently mishandled, each with its own [`ConfigError`]:
//! `keep_alive <= ping_delay` (distmqtt bug #20), QoS 3, invalid topics,
//! unknown codecs, an unknown protocol version, and so on.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

pub use crate::payload_keys::{CodecParam, CodecParams, WillValue};
use bytes::Bytes;
use percent_encoding::percent_decode_str;
use sansmqtt_proto::{
    LastWill, MqttString, ProtocolVersion, QoS, StringError, TopicError, TopicFilter, TopicName,
};
use sansmqtt_session::SessionOptions;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// Largest Keep Alive CONNECT can carry, in seconds.
const MAX_KEEP_ALIVE_SECS: u64 = u16::MAX as u64;

/// Largest will payload or password: Binary Data has a two-byte length.
const MAX_BINARY_LEN: usize = u16::MAX as usize;

/// Configuration of a client. Every field has distmqtt's default (see
/// [`Config::default`]); build one in code with struct update syntax
/// (`Config { keep_alive: ..., ..Config::default() }`) or load it with serde.
///
/// The value is owned: clients never share a mutable default (distmqtt bug
/// #14). `Debug` never shows the password.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Keep Alive sent in CONNECT (default 10 s); zero disables keep-alive
    /// pings. CONNECT carries whole seconds: a fractional part is dropped,
    /// and a value must be 0 or between 1 s and 65,535 s.
    #[serde(with = "duration_serde")]
    pub keep_alive: Duration,
    /// How long before the Keep Alive expires a PINGREQ is sent when nothing
    /// else was sent (default 1 s). Must be below `keep_alive`.
    #[serde(with = "duration_serde")]
    pub ping_delay: Duration,
    /// QoS of `publish` when neither the call nor a [`Config::topics`] entry
    /// gives one (default 0). 0, 1 or 2.
    pub default_qos: u8,
    /// Retain flag of `publish` when neither the call nor a
    /// [`Config::topics`] entry gives one (default `false`).
    pub default_retain: bool,
    /// Reconnect automatically after a connection loss (default `true`).
    pub auto_reconnect: bool,
    /// Cap of the exponential backoff between two connection attempts
    /// (default 10 s).
    #[serde(with = "duration_serde")]
    pub reconnect_max_interval: Duration,
    /// Connection attempts after a loss before the client gives up
    /// (default 2); negative: retry forever. See [`Config::reconnect_limit`].
    pub reconnect_retries: i64,
    /// Name of the default codec (default `"noop"`: payloads as bytes). One
    /// of [`BUILTIN_CODECS`](crate::payload::BUILTIN_CODECS) or an alias declared in `codec_params`.
    pub codec: String,
    /// Parameters of codecs, by codec name. An entry with a `name` key
    /// declares an alias of the built-in codec it names, with these
    /// parameters (distmqtt's `yesno` example: `{ on = "yes", off = "no",
    /// name = "bool" }`).
    pub codec_params: BTreeMap<String, CodecParams>,
    /// Publish defaults by topic: an exact topic name or a wildcard filter,
    /// mapped to a QoS and/or a retain flag. See [`Config::publish_defaults`].
    pub topics: BTreeMap<String, TopicDefaults>,
    /// The Will Message the broker publishes when the connection is lost
    /// abruptly (default none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub will: Option<WillConfig>,
    /// Clean Session (3.1.1) / Clean Start (5) (default `true`). With MQTT
    /// 5, `false` also asks for a session that never expires (Session
    /// Expiry Interval 0xFFFFFFFF), as a 3.1.1 persistent session.
    pub cleansession: bool,
    /// MQTT 5 Session Expiry Interval: how long the broker keeps the session
    /// once the connection ends, in whole seconds (`0`: it ends with the
    /// connection; 4,294,967,295 s: it never expires). Default: none with
    /// `cleansession = true` (the session ends with the connection), never
    /// expiring with `cleansession = false`. With an expiry above zero only
    /// the client's first connection starts clean: reconnections resume
    /// the session. MQTT 3.1.1 has no such property: setting it there is a
    /// configuration error.
    #[serde(default, with = "option_duration_serde")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_expiry: Option<Duration>,
    /// A directory where the client keeps the in-flight state of its session
    /// (QoS 1 and 2 publishes sent and not yet acknowledged, incoming QoS 2
    /// awaiting release), one file per client identifier, so that a process
    /// that stops or crashes resumes them when it starts again (see
    /// [`crate::persist`]). Default: none, the state lives in memory. Needs
    /// a fixed, non-empty `client_id` and a session the broker keeps:
    /// `cleansession = false`, or with MQTT 5 a `session_expiry` above 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<std::path::PathBuf>,
    /// A proxy to reach the broker through: `http://[user:password@]host[:port]`
    /// (HTTP `CONNECT`) or `socks5://[user:password@]host[:port]` (SOCKS5),
    /// for every scheme of broker URI (see [`crate::transport::proxy`]).
    /// Default: none, a direct connection. `Debug` never shows its password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Client Identifier. When absent, a random `sansmqtt-XXXXXXXX` is
    /// generated (see [`Config::ensure_client_id`]); empty lets the broker
    /// assign one (3.1.1 requires `cleansession` then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// User Name; when absent, the one of the broker URI (if any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password, text or binary; when absent, the one of the broker URI (if
    /// any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<TextOrBytes>,
    /// How long to wait for the transport connection and then CONNACK
    /// (default 10 s). distmqtt had none.
    #[serde(with = "duration_serde")]
    pub connect_timeout: Duration,
    /// How long to wait for PINGRESP before declaring the connection dead
    /// (default 5 s). distmqtt had none.
    #[serde(with = "duration_serde")]
    pub ping_timeout: Duration,
    /// Outgoing QoS 1 and 2 publishes awaiting acknowledgement at once
    /// (default 20; the broker's Receive Maximum lowers it). At least 1.
    /// The default is mosquitto's `max_inflight_messages`: MQTT 3.1.1 has no
    /// Receive Maximum, and mosquitto silently drops the QoS 2 publishes of
    /// a 3.1.1 client beyond it (it answers PUBREC but forwards nothing).
    pub max_inflight: u16,
    /// Largest packet accepted from the broker, in bytes (default: the
    /// session's bound, 1 MiB). With MQTT 5 it is also announced to the
    /// broker as the Maximum Packet Size property.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_packet_size: Option<u32>,
    /// Bound of the queue of publishes waiting for the connection or an
    /// in-flight slot (default 10,000); beyond it `publish` fails.
    pub max_queued: usize,
    /// Protocol version (default `"3.1.1"`): `"3.1.1"`, `4`, `"mqttv311"`,
    /// or `"5"`, `5`, `"mqttv5"` (also `"3.1"` / `3` / `"mqttv31"`). Read
    /// it with [`Config::protocol_version`].
    #[serde(deserialize_with = "de_protocol_version")]
    pub protocol_version: String,
    /// More broker URIs, tried in turn after the one given to the
    /// constructor (failover). See [`Config::broker_uris`].
    pub uris: Vec<String>,
    /// `auto_reconnect` also retries a failed first connection (default
    /// `true`; distmqtt bug #2).
    pub reconnect_on_first_connect: bool,
    /// Bound on how long a call waits for its outcome (publish, subscribe,
    /// unsubscribe, ping, reconnect), including a wait for the connection
    /// during an outage; past it the call fails with `ClientError::Timeout`
    /// (a request already sent may still take effect). Default none: calls
    /// wait for the reconnection, or fail once the client gives up.
    #[serde(default, with = "option_duration_serde")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<Duration>,
    /// Expiry of publishes that wait to be sent (offline, or behind the
    /// in-flight window): one still waiting this long after its call is
    /// dropped and its call fails with `PublishError::Expired` instead of
    /// being sent late. Once sent, a QoS 1/2 message is redelivered until
    /// acknowledged. Default none. Per call: `PublishOptions::expiry`.
    #[serde(default, with = "option_duration_serde")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_expiry: Option<Duration>,
    /// What happens to a QoS 0 message whose receiver (subscription stream
    /// or `deliver_message` queue) is full: `"wait"` (default: reading
    /// stops until there is room, TCP slows the broker down, nothing is
    /// lost) or `"drop"` (the copy for that receiver is dropped and counted
    /// in `Client::stats().qos0_dropped`; the connection keeps flowing).
    /// QoS 1/2 messages always wait (their acks are withheld).
    pub qos0_overflow: Qos0Overflow,
    /// Client certificate (PEM) for `mqtts://` and `wss://`, with `keyfile`.
    /// Read by the TLS transport.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certfile: Option<PathBuf>,
    /// Private key (PEM) of `certfile`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyfile: Option<PathBuf>,
    /// CA certificates (PEM file) trusted for the broker's certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cafile: Option<PathBuf>,
    /// Directory of CA certificates trusted for the broker's certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capath: Option<PathBuf>,
    /// CA certificates (PEM text) trusted for the broker's certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cadata: Option<String>,
    /// Verify that the broker's certificate names the host of the URI
    /// (default `true`; distmqtt bug #15).
    pub check_hostname: bool,
    /// Extra HTTP headers of the WebSocket upgrade request. Accepts a map or
    /// a list of `[name, value]` pairs (distmqtt bug #16).
    #[serde(deserialize_with = "de_headers")]
    pub extra_headers: BTreeMap<String, String>,
    /// ALPN protocol names offered in the TLS handshake of `mqtts://` and
    /// `wss://`, in order of preference (default none), e.g. `["mqtt"]` for
    /// a broker sharing port 443 (AWS IoT). Each is 1 to 255 bytes long.
    pub alpn: Vec<String>,
}

impl Default for Config {
    /// distmqtt's defaults, and ours for the keys it lacked.
    fn default() -> Self {
        Self {
            keep_alive: Duration::from_secs(10),
            ping_delay: Duration::from_secs(1),
            default_qos: 0,
            default_retain: false,
            auto_reconnect: true,
            reconnect_max_interval: Duration::from_secs(10),
            reconnect_retries: 2,
            codec: "noop".to_owned(),
            codec_params: BTreeMap::new(),
            topics: BTreeMap::new(),
            will: None,
            cleansession: true,
            client_id: None,
            username: None,
            password: None,
            connect_timeout: Duration::from_secs(10),
            ping_timeout: Duration::from_secs(5),
            max_inflight: 20,
            max_packet_size: None,
            max_queued: 10_000,
            protocol_version: "3.1.1".to_owned(),
            uris: Vec::new(),
            reconnect_on_first_connect: true,
            request_timeout: None,
            publish_expiry: None,
            session_expiry: None,
            persistence: None,
            proxy: None,
            qos0_overflow: Qos0Overflow::Wait,
            certfile: None,
            keyfile: None,
            cafile: None,
            capath: None,
            cadata: None,
            check_hostname: true,
            extra_headers: BTreeMap::new(),
            alpn: Vec::new(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("keep_alive", &self.keep_alive)
            .field("ping_delay", &self.ping_delay)
            .field("default_qos", &self.default_qos)
            .field("default_retain", &self.default_retain)
            .field("auto_reconnect", &self.auto_reconnect)
            .field("reconnect_max_interval", &self.reconnect_max_interval)
            .field("reconnect_retries", &self.reconnect_retries)
            .field("codec", &self.codec)
            .field("codec_params", &self.codec_params)
            .field("topics", &self.topics)
            .field("will", &self.will)
            .field("cleansession", &self.cleansession)
            .field("session_expiry", &self.session_expiry)
            .field("persistence", &self.persistence)
            .field("proxy", &self.proxy.as_deref().map(redact_uri))
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("connect_timeout", &self.connect_timeout)
            .field("ping_timeout", &self.ping_timeout)
            .field("max_inflight", &self.max_inflight)
            .field("max_packet_size", &self.max_packet_size)
            .field("max_queued", &self.max_queued)
            .field("protocol_version", &self.protocol_version)
            .field("uris", &RedactedUris(&self.uris))
            .field(
                "reconnect_on_first_connect",
                &self.reconnect_on_first_connect,
            )
            .field("request_timeout", &self.request_timeout)
            .field("publish_expiry", &self.publish_expiry)
            .field("qos0_overflow", &self.qos0_overflow)
            .field("certfile", &self.certfile)
            .field("keyfile", &self.keyfile)
            .field("cafile", &self.cafile)
            .field("capath", &self.capath)
            .field("cadata", &self.cadata.as_ref().map(|d| d.len()))
            .field("check_hostname", &self.check_hostname)
            .field("extra_headers", &RedactedHeaders(&self.extra_headers))
            .field("alpn", &self.alpn)
            .finish()
    }
}

/// Shows URIs with their passwords masked.
struct RedactedUris<'a>(&'a [String]);

impl fmt::Debug for RedactedUris<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|u| redact_uri(u)))
            .finish()
    }
}

/// Shows headers with the values of credential-bearing ones masked.
struct RedactedHeaders<'a>(&'a BTreeMap<String, String>);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, value)| {
                let secret = ["authorization", "proxy-authorization", "cookie"]
                    .iter()
                    .any(|s| name.eq_ignore_ascii_case(s));
                (name, if secret { "<redacted>" } else { value.as_str() })
            }))
            .finish()
    }
}

impl Config {
    /// Checks every key and combination; the client calls it when it is
    /// built, so a bad config is a clear error before any connection.
    pub fn validate(&self) -> Result<(), ConfigError> {
        // Keep-alive and timers (distmqtt bug #20: keep_alive <= ping_delay).
        let ka = self.keep_alive;
        if !ka.is_zero() && (ka < Duration::from_secs(1) || ka.as_secs() > MAX_KEEP_ALIVE_SECS) {
            return Err(ConfigError::KeepAliveOutOfRange(ka));
        }
        if !ka.is_zero() && ka <= self.ping_delay {
            return Err(ConfigError::KeepAliveNotAbovePingDelay {
                keep_alive: ka,
                ping_delay: self.ping_delay,
            });
        }
        if self.connect_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout {
                key: "connect_timeout",
            });
        }
        if self.ping_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout {
                key: "ping_timeout",
            });
        }

        check_qos("default_qos", self.default_qos)?;
        for (key, defaults) in &self.topics {
            parse_topics_key(key)?;
            if let Some(qos) = defaults.qos {
                check_qos(&format!("topics.{key:?}.qos"), qos)?;
            }
        }

        let version = self.protocol_version()?;
        if let Some(will) = &self.will {
            TopicName::try_from(will.topic.as_str()).map_err(|source| {
                ConfigError::InvalidTopic {
                    key: "will.topic".to_owned(),
                    topic: will.topic.clone(),
                    source,
                }
            })?;
            check_qos("will.qos", will.qos)?;
            let len = will.message.as_bytes().len();
            if len > MAX_BINARY_LEN {
                return Err(ConfigError::WillMessageTooLong(len));
            }
        }

        if let Some(expiry) = self.session_expiry {
            if !version.is_v5() {
                return Err(ConfigError::SessionExpiryNeedsV5);
            }
            if expiry.as_secs() > u64::from(u32::MAX) {
                return Err(ConfigError::SessionExpiryOutOfRange(expiry));
            }
        }

        if let Some(proxy) = &self.proxy {
            crate::transport::proxy::Proxy::parse(proxy)?;
        }

        if self.persistence.is_some() {
            if self.client_id.as_deref().is_none_or(str::is_empty) {
                return Err(ConfigError::PersistenceNeedsClientId);
            }
            let kept = if version.is_v5() {
                self.session_expiry_interval().is_some_and(|e| e > 0)
            } else {
                !self.cleansession
            };
            if !kept {
                return Err(ConfigError::PersistenceNeedsLastingSession);
            }
        }

        if self.max_inflight == 0 {
            return Err(ConfigError::ZeroMaxInflight);
        }
        if self.max_packet_size == Some(0) {
            return Err(ConfigError::ZeroMaxPacketSize);
        }
        crate::payload_keys::check_config(self)?;

        if let Some(id) = &self.client_id {
            MqttString::try_from(id.as_str()).map_err(|source| ConfigError::InvalidClientId {
                client_id: id.clone(),
                source,
            })?;
            if id.is_empty() && !self.cleansession && !version.is_v5() {
                return Err(ConfigError::EmptyClientIdNeedsCleanSession);
            }
        }
        if let Some(username) = &self.username {
            MqttString::try_from(username.as_str()).map_err(ConfigError::InvalidUsername)?;
        }
        if let Some(password) = &self.password {
            let len = password.as_bytes().len();
            if len > MAX_BINARY_LEN {
                return Err(ConfigError::PasswordTooLong(len));
            }
        }

        for uri in &self.uris {
            BrokerUri::parse(uri)?;
        }
        if self.keyfile.is_some() && self.certfile.is_none() {
            return Err(ConfigError::KeyfileWithoutCertfile);
        }
        for name in &self.alpn {
            if name.is_empty() || name.len() > 255 {
                return Err(ConfigError::InvalidAlpn(name.clone()));
            }
        }
        for (name, value) in &self.extra_headers {
            check_header(name, value)?;
        }
        Ok(())
    }

    /// The protocol version of [`Config::protocol_version`], parsed.
    /// Accepted (case-insensitive): `3.1.1`, `4`, `311`, `v3.1.1`,
    /// `mqttv311`; `5`, `5.0`, `v5`, `mqttv5`; `3.1`, `3`, `mqttv31`.
    pub fn protocol_version(&self) -> Result<ProtocolVersion, ConfigError> {
        parse_protocol_version(&self.protocol_version)
            .ok_or_else(|| ConfigError::InvalidProtocolVersion(self.protocol_version.clone()))
    }

    /// QoS and retain flag of a publish to `topic` that does not give them:
    /// each comes from the most specific [`Config::topics`] entry that
    /// matches `topic` and sets it, else from `default_qos` /
    /// `default_retain`.
    ///
    /// Most specific: the exact topic name first; then, among matching
    /// wildcard filters, the one with the most literal levels; on a tie, one
    /// without `#`; then the one whose first differing level is the more
    /// specific (literal before `+` before `#`: `a/b/+` before `a/+/c`
    /// before `+/b/c`).
    ///
    /// Meant for a validated config: an out-of-range QoS (which
    /// [`Config::validate`] refuses) is read as 2.
    pub fn publish_defaults(&self, topic: &TopicName) -> (QoS, bool) {
        let mut qos = None;
        let mut retain = None;
        if let Some(exact) = self.topics.get(topic.as_str()) {
            qos = exact.qos;
            retain = exact.retain;
        }
        if (qos.is_none() || retain.is_none()) && !self.topics.is_empty() {
            let mut best_qos: Option<(&str, u8)> = None;
            let mut best_retain: Option<(&str, bool)> = None;
            for (filter, defaults) in &self.topics {
                if !filter.contains(['+', '#'])
                    || filter.starts_with("$share/")
                    || !sansmqtt_proto::matches(filter, topic.as_str())
                {
                    continue;
                }
                if let Some(q) = defaults.qos
                    && best_qos.is_none_or(|(b, _)| more_specific(filter, b) == Ordering::Greater)
                {
                    best_qos = Some((filter, q));
                }
                if let Some(r) = defaults.retain
                    && best_retain
                        .is_none_or(|(b, _)| more_specific(filter, b) == Ordering::Greater)
                {
                    best_retain = Some((filter, r));
                }
            }
            qos = qos.or(best_qos.map(|(_, q)| q));
            retain = retain.or(best_retain.map(|(_, r)| r));
        }
        let qos = qos.unwrap_or(self.default_qos);
        (
            QoS::try_from(qos).unwrap_or(QoS::ExactlyOnce),
            retain.unwrap_or(self.default_retain),
        )
    }

    /// Connection attempts after a loss before giving up: `None` when
    /// `reconnect_retries` is negative (forever).
    pub fn reconnect_limit(&self) -> Option<u64> {
        u64::try_from(self.reconnect_retries).ok()
    }

    /// A random Client Identifier `sansmqtt-XXXXXXXX` (8 hex digits).
    pub fn random_client_id() -> String {
        format!("sansmqtt-{:08x}", fastrand::u32(..))
    }

    /// Fixes the Client Identifier: when `client_id` is absent, stores a
    /// random one (so that reconnects keep it), and returns it.
    pub fn ensure_client_id(&mut self) -> &str {
        self.client_id.get_or_insert_with(Self::random_client_id)
    }

    /// The brokers to try in turn: `primary` (the constructor's URI) first,
    /// then [`Config::uris`], parsed, without duplicates.
    pub fn broker_uris(&self, primary: Option<&str>) -> Result<Vec<BrokerUri>, ConfigError> {
        let mut out: Vec<BrokerUri> = Vec::with_capacity(self.uris.len() + 1);
        for uri in primary
            .into_iter()
            .chain(self.uris.iter().map(String::as_str))
        {
            let uri = BrokerUri::parse(uri)?;
            if !out.contains(&uri) {
                out.push(uri);
            }
        }
        if out.is_empty() {
            return Err(ConfigError::NoBrokerUri);
        }
        Ok(out)
    }

    /// The MQTT 5 Session Expiry Interval of CONNECT, in seconds:
    /// `session_expiry`, else never expiring with `cleansession = false`
    /// (as a 3.1.1 persistent session), else none (the session ends with
    /// the connection).
    fn session_expiry_interval(&self) -> Option<u32> {
        match self.session_expiry {
            Some(expiry) => Some(u32::try_from(expiry.as_secs()).unwrap_or(u32::MAX)),
            None if !self.cleansession => Some(u32::MAX),
            None => None,
        }
    }

    /// The options of the session with the broker at `uri`: Client
    /// Identifier, Clean Start (`cleansession`), Keep Alive, ping margin
    /// (`ping_delay`), PINGRESP and CONNACK timeouts, Will, credentials,
    /// in-flight and queue bounds, protocol version and maximum packet size.
    ///
    /// User name and password come from the config, each one falling back
    /// to the URI's. When `client_id` is absent, each call generates a new
    /// random identifier: call [`Config::ensure_client_id`] first to keep
    /// one across calls. Validates the config first.
    pub fn session_options(&self, uri: &BrokerUri) -> Result<SessionOptions, ConfigError> {
        self.validate()?;
        let version = self.protocol_version()?;
        let id = self
            .client_id
            .clone()
            .unwrap_or_else(Self::random_client_id);
        let client_id =
            MqttString::try_from(id.clone()).map_err(|source| ConfigError::InvalidClientId {
                client_id: id,
                source,
            })?;
        let mut options = SessionOptions::new(client_id);
        options.version = version;
        options.clean_start = self.cleansession;
        if version.is_v5() {
            // MQTT 5 ends a session with its connection unless CONNECT sets
            // a Session Expiry Interval: `cleansession = false` keeps it
            // like MQTT 3.1.1 does (0xFFFFFFFF: it does not expire), unless
            // `session_expiry` says how long.
            options.properties.session_expiry_interval = self.session_expiry_interval();
        }
        options.keep_alive = self.keep_alive;
        options.ping_margin = self.ping_delay;
        options.ping_timeout = self.ping_timeout;
        options.connect_timeout = self.connect_timeout;
        options.will = match &self.will {
            None => None,
            Some(will) => {
                let topic = TopicName::try_from(will.topic.as_str()).map_err(|source| {
                    ConfigError::InvalidTopic {
                        key: "will.topic".to_owned(),
                        topic: will.topic.clone(),
                        source,
                    }
                })?;
                let mut last_will = LastWill::new(topic, will.payload(self)?);
                last_will.qos = QoS::try_from(will.qos).map_err(|_| ConfigError::InvalidQos {
                    key: "will.qos".to_owned(),
                    qos: will.qos,
                })?;
                last_will.retain = will.retain;
                Some(last_will)
            }
        };
        let username = self.username.as_ref().or(uri.username.as_ref());
        options.username = username
            .map(|u| MqttString::try_from(u.as_str()))
            .transpose()
            .map_err(ConfigError::InvalidUsername)?;
        options.password = match &self.password {
            Some(p) => Some(p.to_bytes()),
            None => uri.password.clone(),
        };
        if let Some(p) = &options.password {
            if p.len() > MAX_BINARY_LEN {
                return Err(ConfigError::PasswordTooLong(p.len()));
            }
            if options.username.is_none() && !version.is_v5() {
                return Err(ConfigError::PasswordWithoutUsername);
            }
        }
        options.max_inflight = self.max_inflight;
        options.max_queued = self.max_queued;
        if let Some(max) = self.max_packet_size {
            options.max_incoming_packet = max;
            if version.is_v5() {
                options.properties.maximum_packet_size = NonZeroU32::new(max);
            }
        }
        Ok(options)
    }
}

/// Publish defaults of one [`Config::topics`] entry; an absent field falls
/// back to a less specific entry, then to `default_qos` / `default_retain`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicDefaults {
    /// QoS (0, 1 or 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos: Option<u8>,
    /// Retain flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain: Option<bool>,
}

/// The Will Message. Only `topic` is required (distmqtt needed all four
/// keys and bytes: bug #18).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WillConfig {
    /// Will Topic.
    pub topic: String,
    /// Will payload, text or bytes (default empty). Also accepted as
    /// `payload`.
    #[serde(default, alias = "payload")]
    pub message: TextOrBytes,
    /// Will QoS (default 0).
    #[serde(default)]
    pub qos: u8,
    /// Will Retain (default `false`).
    #[serde(default)]
    pub retain: bool,
    /// Codec that encodes the will (default: `message` is sent as it is,
    /// unless `value` is given). A built-in codec, or an alias in
    /// `codec_params`, whose parameters it honours. See
    /// [`WillConfig::payload`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    /// The will as a value (any TOML / JSON value: `true`, `"offline"`,
    /// `{ state = "gone" }`), encoded with `codec`, else with the default
    /// codec (`Config::codec`). Excludes a non-empty `message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<WillValue>,
}

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
    /// A QoS is not 0, 1 or 2.
    #[error("{key}: QoS {qos} is not 0, 1 or 2")]
    InvalidQos {
        /// Where: `default_qos`, `will.qos`, `topics."a/b".qos`.
        key: String,
        /// The value.
        qos: u8,
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
        "unknown protocol_version {0:?}: expected \"3.1.1\" (or 4, \"mqttv311\"), \"5\" (or 5, \"mqttv5\"), or \"3.1\""
    )]
    InvalidProtocolVersion(String),
    /// `session_expiry` with a protocol version other than MQTT 5.
    #[error("session_expiry is an MQTT 5 property: it needs protocol_version 5")]
    SessionExpiryNeedsV5,
    /// `session_expiry` above 4,294,967,295 s.
    #[error("session_expiry ({0:?}) must be at most 4,294,967,295 s (never expires)")]
    SessionExpiryOutOfRange(Duration),
    /// `proxy` is not an `http://`, `socks5://` or `socks5h://` URI with a
    /// host (the message never shows its password).
    #[error("invalid proxy: {0}")]
    InvalidProxy(String),
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

/// Why a broker URI is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// Not a URI at all.
    #[error("{0}")]
    Syntax(String),
    /// A scheme other than `mqtt`, `mqtts`, `ws`, `wss` (or `tcp`, `ssl`, `tls`).
    #[error("unsupported scheme {0:?}: expected mqtt, mqtts, ws or wss")]
    UnsupportedScheme(String),
    /// No host.
    #[error("no host")]
    MissingHost,
    /// Port 0.
    #[error("port 0")]
    InvalidPort,
    /// The percent-decoded user name is not UTF-8.
    #[error("the user name is not UTF-8 once percent-decoded")]
    InvalidUsername,
}

/// Transport of a broker URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `mqtt://` (also `tcp://`): plain TCP, default port 1883.
    Mqtt,
    /// `mqtts://` (also `ssl://`, `tls://`): TLS, default port 8883.
    Mqtts,
    /// `ws://`: WebSocket, default port 80.
    Ws,
    /// `wss://`: WebSocket over TLS, default port 443.
    Wss,
}

impl Scheme {
    /// The port used when the URI gives none.
    pub const fn default_port(self) -> u16 {
        match self {
            Self::Mqtt => 1883,
            Self::Mqtts => 8883,
            Self::Ws => 80,
            Self::Wss => 443,
        }
    }

    /// Whether the transport is encrypted (`mqtts`, `wss`).
    pub const fn is_tls(self) -> bool {
        matches!(self, Self::Mqtts | Self::Wss)
    }

    /// Whether the transport is WebSocket (`ws`, `wss`).
    pub const fn is_websocket(self) -> bool {
        matches!(self, Self::Ws | Self::Wss)
    }

    /// The canonical scheme name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Mqtt => "mqtt",
            Self::Mqtts => "mqtts",
            Self::Ws => "ws",
            Self::Wss => "wss",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed broker URI: `scheme://[user[:password]@]host[:port][/path]`.
///
/// `Debug` and `Display` never show the password.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BrokerUri {
    /// Transport.
    pub scheme: Scheme,
    /// Host name or IP address; an IPv6 address without its brackets
    /// (`::1`), ready for `(host, port)` socket addresses.
    pub host: String,
    /// Port; the scheme's default when the URI gives none.
    pub port: u16,
    /// Path (and query) of the URI, as written: the WebSocket request
    /// target (`/` when empty for `ws`/`wss`); unused by `mqtt`/`mqtts`.
    pub path: String,
    /// User name, percent-decoded; `None` when absent or empty.
    pub username: Option<String>,
    /// Password, percent-decoded (any bytes).
    pub password: Option<Bytes>,
}

impl BrokerUri {
    /// Parses a broker URI. Credentials are percent-decoded
    /// (`mqtt://user:p%40ss@host` gives password `p@ss`); IPv6 hosts are
    /// written in brackets (`mqtt://[::1]:1884`).
    pub fn parse(uri: &str) -> Result<Self, ConfigError> {
        let err = |reason| ConfigError::InvalidUri {
            uri: redact_uri(uri),
            reason,
        };
        let url = url::Url::parse(uri.trim()).map_err(|e| err(UriError::Syntax(e.to_string())))?;
        let scheme = match url.scheme() {
            "mqtt" | "tcp" => Scheme::Mqtt,
            "mqtts" | "ssl" | "tls" => Scheme::Mqtts,
            "ws" => Scheme::Ws,
            "wss" => Scheme::Wss,
            other => return Err(err(UriError::UnsupportedScheme(other.to_owned()))),
        };
        let host = url_host(&url).ok_or_else(|| err(UriError::MissingHost))?;
        let port = match url.port() {
            Some(0) => return Err(err(UriError::InvalidPort)),
            Some(p) => p,
            None => scheme.default_port(),
        };
        let mut path = url.path().to_owned();
        if scheme.is_websocket() {
            if path.is_empty() {
                path.push('/');
            }
            if let Some(q) = url.query() {
                path.push('?');
                path.push_str(q);
            }
        }
        let username = match url.username() {
            "" => None,
            u => Some(
                percent_decode_str(u)
                    .decode_utf8()
                    .map_err(|_| err(UriError::InvalidUsername))?
                    .into_owned(),
            ),
        };
        let password = url
            .password()
            .map(|p| Bytes::from(percent_decode_str(p).collect::<Vec<u8>>()));
        Ok(Self {
            scheme,
            host,
            port,
            path,
            username,
            password,
        })
    }

    /// `host:port`, with an IPv6 host in brackets (`[::1]:1883`).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for BrokerUri {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        Self::parse(s)
    }
}

impl fmt::Display for BrokerUri {
    /// `scheme://[user@]host:port[path]`, without the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme)?;
        if let Some(u) = &self.username {
            let encoded = percent_encoding::utf8_percent_encode(u, USERINFO);
            write!(f, "{encoded}@")?;
        }
        write!(f, "{}{}", self.authority(), self.path)
    }
}

impl fmt::Debug for BrokerUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerUri")
            .field("scheme", &self.scheme)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("path", &self.path)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Characters percent-encoded in a user name when displayed.
const USERINFO: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b':')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The URI with the password of its user information masked, by text (it
/// may not even parse).
/// The host of a parsed URI: a name, or an IP address (IPv6 without its
/// brackets); `None` when absent or empty.
pub(crate) fn url_host(url: &url::Url) -> Option<String> {
    match url.host()? {
        url::Host::Domain(d) if !d.is_empty() => Some(d.to_owned()),
        url::Host::Domain(_) => None,
        url::Host::Ipv4(a) => Some(a.to_string()),
        url::Host::Ipv6(a) => Some(a.to_string()),
    }
}

pub(crate) fn redact_uri(uri: &str) -> String {
    let Some(start) = uri.find("://").map(|i| i + 3) else {
        return uri.to_owned();
    };
    let rest = &uri[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return uri.to_owned();
    };
    match authority[..at].find(':') {
        Some(colon) => format!(
            "{}{}:****{}",
            &uri[..start],
            &authority[..colon],
            &rest[at..]
        ),
        None => uri.to_owned(),
    }
}

/// Checks a `topics` key: a topic name, or a filter that is not shared.
fn parse_topics_key(key: &str) -> Result<(), ConfigError> {
    let invalid = |source| ConfigError::InvalidTopic {
        key: "topics".to_owned(),
        topic: key.to_owned(),
        source,
    };
    if key.contains(['+', '#']) {
        let filter = TopicFilter::try_from(key).map_err(invalid)?;
        if filter.is_shared() {
            return Err(ConfigError::SharedFilterInTopics(key.to_owned()));
        }
    } else {
        TopicName::try_from(key).map_err(invalid)?;
    }
    Ok(())
}

fn check_qos(key: &str, qos: u8) -> Result<(), ConfigError> {
    if qos > 2 {
        return Err(ConfigError::InvalidQos {
            key: key.to_owned(),
            qos,
        });
    }
    Ok(())
}

/// Orders two filters that match the same topic by specificity (greater:
/// more specific); see [`Config::publish_defaults`].
fn more_specific(a: &str, b: &str) -> Ordering {
    fn rank(level: &str) -> u8 {
        match level {
            "#" => 0,
            "+" => 1,
            _ => 2,
        }
    }
    let literals = |f: &str| f.split('/').filter(|l| rank(l) == 2).count();
    let no_hash = |f: &str| !f.ends_with('#');
    literals(a)
        .cmp(&literals(b))
        .then_with(|| no_hash(a).cmp(&no_hash(b)))
        .then_with(|| a.split('/').map(rank).cmp(b.split('/').map(rank)))
        // Deterministic to the end (unreachable for two distinct filters
        // matching one topic): the first in key order wins.
        .then_with(|| b.cmp(a))
}

fn parse_protocol_version(s: &str) -> Option<ProtocolVersion> {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_prefix("mqtt").unwrap_or(&s);
    let s = s.strip_prefix('v').unwrap_or(s);
    let digits: String = s.chars().filter(|c| *c != '.').collect();
    match digits.as_str() {
        "311" | "4" => Some(ProtocolVersion::V3_1_1),
        "5" | "50" => Some(ProtocolVersion::V5),
        "31" | "3" => Some(ProtocolVersion::V3_1),
        _ => None,
    }
}

/// `protocol_version` as a string or a number; checked by `validate`.
fn de_protocol_version<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a protocol version: \"3.1.1\", \"5\", 4 or 5")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    d.deserialize_any(V)
}

/// Headers of the WebSocket handshake itself, which `extra_headers` cannot
/// replace.
const HANDSHAKE_HEADERS: &[&str] = &[
    "connection",
    "upgrade",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-accept",
];

/// Checks an `extra_headers` entry: the name an HTTP token (RFC 9110), not
/// one of the handshake's own headers; the value without control
/// characters (but tab).
fn check_header(name: &str, value: &str) -> Result<(), ConfigError> {
    let invalid = |reason| {
        Err(ConfigError::InvalidHeader {
            name: name.to_owned(),
            reason,
        })
    };
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return invalid("not a valid header name");
    }
    if HANDSHAKE_HEADERS
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
    {
        return invalid("set by the WebSocket handshake itself");
    }
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return invalid("the value holds a control character");
    }
    Ok(())
}

/// `extra_headers` as a map or as a list of `[name, value]` pairs.
fn de_headers<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
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

/// Durations: seconds as a number (integer or fractional, distmqtt's form)
/// or a string with a unit (`"1.5s"`, `"500ms"`, `"2m"`). Serialized as
/// whole seconds when exact, else as milliseconds or nanoseconds strings.
/// What the client does with a QoS 0 message whose receiver is full
/// ([`Config::qos0_overflow`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Qos0Overflow {
    /// Stop reading until there is room: lossless, the broker slows down.
    #[default]
    Wait,
    /// Drop the copy for the full receiver and count it.
    Drop,
}

mod option_duration_serde {
    use super::*;

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => duration_serde::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        duration_serde::deserialize(d).map(Some)
    }
}

mod duration_serde {
    use super::*;

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        let nanos = d.subsec_nanos();
        if nanos == 0 {
            s.serialize_u64(d.as_secs())
        } else if nanos.is_multiple_of(1_000_000) {
            s.serialize_str(&format!("{}ms", d.as_millis()))
        } else {
            s.serialize_str(&format!("{}ns", d.as_nanos()))
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
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
/// bare number of seconds (`"10"`, `"0.5"`), exactly (no float rounding).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "payload")]
    use crate::payload::{BUILTIN_CODECS, resolve_name};

    fn topic(s: &str) -> TopicName {
        TopicName::try_from(s).unwrap()
    }

    fn uri(s: &str) -> BrokerUri {
        BrokerUri::parse(s).unwrap()
    }

    fn json(s: &str) -> Config {
        serde_json::from_str(s).unwrap()
    }

    fn invalid(mutate: impl FnOnce(&mut Config)) -> ConfigError {
        let mut config = Config::default();
        mutate(&mut config);
        config.validate().expect_err("the config must be refused")
    }

    // ---- defaults and loading ----

    #[test]
    fn defaults_are_the_seeds() {
        let c = Config::default();
        assert_eq!(c.keep_alive, Duration::from_secs(10));
        assert_eq!(c.ping_delay, Duration::from_secs(1));
        assert_eq!(c.default_qos, 0);
        assert!(!c.default_retain);
        assert!(c.auto_reconnect);
        assert_eq!(c.reconnect_max_interval, Duration::from_secs(10));
        assert_eq!(c.reconnect_retries, 2);
        assert_eq!(c.reconnect_limit(), Some(2));
        assert_eq!(c.codec, "noop");
        assert!(c.codec_params.is_empty());
        assert!(c.topics.is_empty());
        assert!(c.will.is_none());
        assert!(c.cleansession);
        assert!(c.client_id.is_none());
        assert!(c.check_hostname);
        // What the seed lacked.
        assert_eq!(c.connect_timeout, Duration::from_secs(10));
        assert_eq!(c.ping_timeout, Duration::from_secs(5));
        assert_eq!(c.max_inflight, 20);
        assert_eq!(c.max_packet_size, None);
        assert_eq!(c.max_queued, 10_000);
        assert_eq!(c.protocol_version().unwrap(), ProtocolVersion::V3_1_1);
        assert!(c.uris.is_empty());
        assert!(c.reconnect_on_first_connect);
        c.validate().unwrap();
    }

    #[test]
    fn empty_documents_give_the_defaults() {
        let from_json: Config = serde_json::from_str("{}").unwrap();
        let from_toml: Config = toml::from_str("").unwrap();
        for c in [from_json, from_toml] {
            assert_eq!(
                serde_json::to_value(&c).unwrap(),
                serde_json::to_value(Config::default()).unwrap()
            );
        }
    }

    /// The config example of the seed document, in TOML.
    const SEED_TOML: &str = r#"
        keep_alive = 10
        ping_delay = 1
        default_qos = 0
        default_retain = false
        auto_reconnect = true
        reconnect_max_interval = 5
        reconnect_retries = 10
        codec = "utf8"

        [codec_params]
        bool = { on = "on", off = "off" }
        BOOL = { on = "ON", off = "OFF", name = "bool" }
        yesno = { on = "yes", off = "no", name = "bool" }

        [topics]
        "/test" = { qos = 1 }
        "/some_topic" = { qos = 2, retain = true }
    "#;

    /// The same example, in JSON.
    #[cfg(feature = "payload")]
    const SEED_JSON: &str = r#"{
        "keep_alive": 10,
        "ping_delay": 1,
        "default_qos": 0,
        "default_retain": false,
        "auto_reconnect": true,
        "reconnect_max_interval": 5,
        "reconnect_retries": 10,
        "codec": "utf8",
        "codec_params": {
            "bool": {"on": "on", "off": "off"},
            "BOOL": {"on": "ON", "off": "OFF", "name": "bool"},
            "yesno": {"on": "yes", "off": "no", "name": "bool"}
        },
        "topics": {
            "/test": {"qos": 1},
            "/some_topic": {"qos": 2, "retain": true}
        }
    }"#;

    #[cfg(feature = "payload")]
    fn check_seed_example(c: &Config) {
        c.validate().unwrap();
        assert_eq!(c.reconnect_max_interval, Duration::from_secs(5));
        assert_eq!(c.reconnect_retries, 10);
        assert_eq!(c.codec, "utf8");
        assert_eq!(resolve_name(c, "utf8").unwrap().0, "utf8");
        let (base, params) = resolve_name(c, "yesno").unwrap();
        assert_eq!(base, "bool");
        assert_eq!(params.unwrap()["on"].as_str(), Some("yes"));
        assert_eq!(resolve_name(c, "BOOL").unwrap().0, "bool");
        assert_eq!(
            resolve_name(c, "bool").unwrap().1.unwrap()["off"].as_str(),
            Some("off")
        );
        assert!(resolve_name(c, "nope").is_none());
        // "any message published will set with QOS_0 and retain flag unset except for ..."
        assert_eq!(c.publish_defaults(&topic("a/b")), (QoS::AtMostOnce, false));
        assert_eq!(
            c.publish_defaults(&topic("/test")),
            (QoS::AtLeastOnce, false)
        );
        assert_eq!(
            c.publish_defaults(&topic("/some_topic")),
            (QoS::ExactlyOnce, true)
        );
    }

    #[cfg(feature = "payload")]
    #[test]
    fn loads_the_seed_example_from_toml() {
        check_seed_example(&toml::from_str(SEED_TOML).unwrap());
    }

    #[cfg(feature = "payload")]
    #[test]
    fn loads_the_seed_example_from_json() {
        check_seed_example(&json(SEED_JSON));
    }

    #[cfg(feature = "payload")]
    #[test]
    fn loads_every_key_from_toml() {
        let c: Config = toml::from_str(
            r#"
            keep_alive = "30s"
            ping_delay = 2.5
            ping_timeout = "750ms"
            connect_timeout = 3
            default_qos = 1
            default_retain = true
            auto_reconnect = false
            reconnect_max_interval = "1m"
            reconnect_retries = -1
            codec = "yesno"
            cleansession = false
            client_id = "sensor-1"
            username = "alice"
            password = "secret"
            max_inflight = 10
            max_packet_size = 65536
            max_queued = 50
            protocol_version = 5
            uris = ["mqtt://backup:1883", "mqtt://[::1]:1884"]
            reconnect_on_first_connect = false
            cafile = "/etc/ssl/ca.pem"
            check_hostname = false
            extra_headers = { Authorization = "Bearer x" }

            [codec_params.yesno]
            on = "yes"
            off = "no"
            name = "bool"
            indent = 2
            strict = true
            ratio = 0.5

            [topics]
            "sensors/#" = { qos = 1 }
            "sensors/+/alarm" = { qos = 2, retain = true }

            [will]
            topic = "status/sensor-1"
            message = "offline"
            qos = 1
            retain = true
            "#,
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.keep_alive, Duration::from_secs(30));
        assert_eq!(c.ping_delay, Duration::from_millis(2500));
        assert_eq!(c.ping_timeout, Duration::from_millis(750));
        assert_eq!(c.connect_timeout, Duration::from_secs(3));
        assert_eq!(c.reconnect_max_interval, Duration::from_secs(60));
        assert_eq!(c.reconnect_limit(), None);
        assert_eq!(c.protocol_version().unwrap(), ProtocolVersion::V5);
        assert_eq!(c.max_packet_size, Some(65536));
        let p = &c.codec_params["yesno"];
        assert_eq!(p["indent"], CodecParam::Integer(2));
        assert_eq!(p["strict"], CodecParam::Bool(true));
        assert_eq!(p["ratio"], CodecParam::Float(0.5));
        let will = c.will.as_ref().unwrap();
        assert_eq!(will.message.as_bytes(), b"offline");
        assert_eq!((will.qos, will.retain), (1, true));
        assert_eq!(c.extra_headers["Authorization"], "Bearer x");
        assert_eq!(c.password.as_ref().unwrap().as_bytes(), b"secret");
        let uris = c.broker_uris(None).unwrap();
        assert_eq!(uris[1].host, "::1");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = serde_json::from_str::<Config>(r#"{"keepalive": 5}"#).unwrap_err();
        assert!(e.to_string().contains("keepalive"), "{e}");
        assert!(toml::from_str::<Config>("[topics]\na = { qos = 1, retian = true }").is_err());
        assert!(toml::from_str::<Config>("[will]\ntopic = \"a\"\nmesage = \"x\"").is_err());
    }

    #[test]
    fn durations_accept_numbers_and_units() {
        let d = |v: &str| json(&format!(r#"{{"ping_timeout": {v}}}"#)).ping_timeout;
        assert_eq!(d("7"), Duration::from_secs(7));
        assert_eq!(d("0.25"), Duration::from_millis(250));
        assert_eq!(d("0.1"), Duration::from_millis(100));
        assert_eq!(d(r#""1.5s""#), Duration::from_millis(1500));
        assert_eq!(d(r#""500ms""#), Duration::from_millis(500));
        assert_eq!(d(r#""250us""#), Duration::from_micros(250));
        assert_eq!(d(r#""100 ns""#), Duration::from_nanos(100));
        assert_eq!(d(r#""2m""#), Duration::from_secs(120));
        assert_eq!(d(r#""1h""#), Duration::from_secs(3600));
        assert_eq!(d(r#""10""#), Duration::from_secs(10));
        assert_eq!(d(r#"".5s""#), Duration::from_millis(500));
        for bad in [
            "-1",
            "-0.5",
            r#""-1s""#,
            r#""abc""#,
            r#""1.2.3s""#,
            r#""""#,
            r#""5 parsecs""#,
            r#""s""#,
            "true",
        ] {
            assert!(
                serde_json::from_str::<Config>(&format!(r#"{{"ping_timeout": {bad}}}"#)).is_err(),
                "{bad}"
            );
        }
        assert!(parse_duration("99999999999999999999999h").is_err());
    }

    #[test]
    fn protocol_version_spellings() {
        for (v, want) in [
            (r#""3.1.1""#, ProtocolVersion::V3_1_1),
            ("4", ProtocolVersion::V3_1_1),
            (r#""mqttv311""#, ProtocolVersion::V3_1_1),
            (r#""MQTTv3.1.1""#, ProtocolVersion::V3_1_1),
            (r#""5""#, ProtocolVersion::V5),
            ("5", ProtocolVersion::V5),
            ("5.0", ProtocolVersion::V5),
            (r#""mqttv5""#, ProtocolVersion::V5),
            (r#""v5.0""#, ProtocolVersion::V5),
            (r#""3.1""#, ProtocolVersion::V3_1),
        ] {
            let c = json(&format!(r#"{{"protocol_version": {v}}}"#));
            assert_eq!(c.protocol_version().unwrap(), want, "{v}");
        }
    }

    #[test]
    fn will_needs_only_a_topic_and_takes_text_or_bytes() {
        let c = json(r#"{"will": {"topic": "a/b"}}"#);
        let w = c.will.as_ref().unwrap();
        assert_eq!(
            (w.message.as_bytes(), w.qos, w.retain),
            (&b""[..], 0, false)
        );
        c.validate().unwrap();

        let c = json(r#"{"will": {"topic": "a/b", "message": [0, 255, 1], "qos": 2}}"#);
        assert_eq!(
            c.will.as_ref().unwrap().message,
            TextOrBytes::Bytes(vec![0, 255, 1])
        );
        let c: Config = toml::from_str("[will]\ntopic = \"a\"\npayload = [1, 2]").unwrap();
        assert_eq!(c.will.unwrap().message.as_bytes(), &[1, 2]);

        assert!(serde_json::from_str::<Config>(r#"{"will": {"message": "x"}}"#).is_err());
        assert!(
            serde_json::from_str::<Config>(r#"{"will": {"topic": "a", "message": [256]}}"#)
                .is_err()
        );
    }

    #[test]
    fn extra_headers_as_map_or_list() {
        let a = json(r#"{"extra_headers": {"X-A": "1", "X-B": "2"}}"#);
        let b = json(r#"{"extra_headers": [["X-A", "1"], ["X-B", "2"]]}"#);
        assert_eq!(a.extra_headers, b.extra_headers);
        assert_eq!(a.extra_headers.len(), 2);
    }

    #[test]
    fn round_trips_through_json_and_toml() {
        let mut c: Config = toml::from_str(SEED_TOML).unwrap();
        c.ping_delay = Duration::from_millis(1500);
        c.ping_timeout = Duration::from_nanos(1_000_000_001);
        c.password = Some(TextOrBytes::Bytes(vec![0, 1, 2]));
        c.will = Some(WillConfig {
            topic: "w".into(),
            message: "bye".into(),
            qos: 1,
            retain: true,
            codec: None,
            value: None,
        });
        c.max_packet_size = Some(1024);
        c.protocol_version = "5".into();
        c.codec_params
            .get_mut("yesno")
            .unwrap()
            .insert("ratio".into(), CodecParam::Float(0.5));
        let want = serde_json::to_value(&c).unwrap();

        let via_json: Config = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(serde_json::to_value(&via_json).unwrap(), want);
        let text = toml::to_string(&c).unwrap();
        let via_toml: Config = toml::from_str(&text).unwrap();
        assert_eq!(serde_json::to_value(&via_toml).unwrap(), want, "{text}");
        assert_eq!(via_toml.ping_timeout, Duration::from_nanos(1_000_000_001));
    }

    #[test]
    fn debug_never_shows_the_password() {
        let c = Config {
            password: Some("hunter2".into()),
            uris: vec!["mqtt://bob:hunter2@host".into()],
            ..Config::default()
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        let u = uri("mqtt://bob:hunter2@host");
        assert!(!format!("{u:?}").contains("hunter2"));
        assert!(!u.to_string().contains("hunter2"));
        let options = Config::default().session_options(&u).unwrap();
        assert!(!format!("{options:?}").contains("hunter2"));
    }

    // ---- validation: one test per error ----

    #[test]
    fn keep_alive_not_above_ping_delay_is_refused() {
        let e = invalid(|c| {
            c.keep_alive = Duration::from_secs(1);
            c.ping_delay = Duration::from_secs(1);
        });
        assert!(
            matches!(e, ConfigError::KeepAliveNotAbovePingDelay { .. }),
            "{e}"
        );
        let e = invalid(|c| c.ping_delay = Duration::from_secs(20));
        assert!(
            matches!(e, ConfigError::KeepAliveNotAbovePingDelay { .. }),
            "{e}"
        );
        // keep_alive 0 disables pings: any ping_delay goes.
        let c = Config {
            keep_alive: Duration::ZERO,
            ping_delay: Duration::from_secs(5),
            ..Config::default()
        };
        c.validate().unwrap();
    }

    #[test]
    fn keep_alive_out_of_range_is_refused() {
        let e = invalid(|c| {
            c.keep_alive = Duration::from_millis(500);
            c.ping_delay = Duration::ZERO;
        });
        assert_eq!(
            e,
            ConfigError::KeepAliveOutOfRange(Duration::from_millis(500))
        );
        let e = invalid(|c| c.keep_alive = Duration::from_secs(65_536));
        assert!(matches!(e, ConfigError::KeepAliveOutOfRange(_)), "{e}");
        let c = Config {
            keep_alive: Duration::from_secs(65_535),
            ..Config::default()
        };
        c.validate().unwrap();
    }

    #[test]
    fn zero_timeouts_are_refused() {
        let e = invalid(|c| c.connect_timeout = Duration::ZERO);
        assert_eq!(
            e,
            ConfigError::ZeroTimeout {
                key: "connect_timeout"
            }
        );
        let e = invalid(|c| c.ping_timeout = Duration::ZERO);
        assert_eq!(
            e,
            ConfigError::ZeroTimeout {
                key: "ping_timeout"
            }
        );
    }

    #[test]
    fn qos_above_2_is_refused() {
        let e = invalid(|c| c.default_qos = 3);
        assert_eq!(
            e,
            ConfigError::InvalidQos {
                key: "default_qos".into(),
                qos: 3
            }
        );
        let e = invalid(|c| {
            c.topics.insert(
                "a".into(),
                TopicDefaults {
                    qos: Some(3),
                    retain: None,
                },
            );
        });
        assert!(
            matches!(e, ConfigError::InvalidQos { ref key, qos: 3 } if key.starts_with("topics")),
            "{e}"
        );
        let e = invalid(|c| {
            c.will = Some(WillConfig {
                topic: "w".into(),
                message: TextOrBytes::default(),
                qos: 7,
                retain: false,
                codec: None,
                value: None,
            });
        });
        assert_eq!(
            e,
            ConfigError::InvalidQos {
                key: "will.qos".into(),
                qos: 7
            }
        );
    }

    #[test]
    fn invalid_topics_are_refused() {
        for (key, source) in [
            ("", TopicError::Empty),
            ("a/#/b", TopicError::MisplacedMultiLevelWildcard),
            ("a/b+", TopicError::MisplacedSingleLevelWildcard),
            ("a\0b", TopicError::String(StringError::NullCharacter)),
        ] {
            let e = invalid(|c| {
                c.topics.insert(key.into(), TopicDefaults::default());
            });
            assert_eq!(
                e,
                ConfigError::InvalidTopic {
                    key: "topics".into(),
                    topic: key.into(),
                    source
                },
                "{key:?}"
            );
        }
        let e = invalid(|c| {
            c.topics
                .insert("$share/g/a/#".into(), TopicDefaults::default());
        });
        assert_eq!(e, ConfigError::SharedFilterInTopics("$share/g/a/#".into()));
    }

    #[test]
    fn invalid_will_is_refused() {
        let will = |topic: &str, message: TextOrBytes| WillConfig {
            topic: topic.into(),
            message,
            qos: 0,
            retain: false,
            codec: None,
            value: None,
        };
        let e = invalid(|c| c.will = Some(will("status/#", TextOrBytes::default())));
        assert!(
            matches!(e, ConfigError::InvalidTopic { ref key, source: TopicError::WildcardInName, .. } if key == "will.topic"),
            "{e}"
        );
        let e = invalid(|c| c.will = Some(will("", TextOrBytes::default())));
        assert!(
            matches!(
                e,
                ConfigError::InvalidTopic {
                    source: TopicError::Empty,
                    ..
                }
            ),
            "{e}"
        );
        let e = invalid(|c| c.will = Some(will("w", vec![0; 70_000].into())));
        assert_eq!(e, ConfigError::WillMessageTooLong(70_000));
    }

    #[test]
    fn invalid_protocol_version_is_refused() {
        for v in ["6", "3.1.2", "mqtt", ""] {
            let e = invalid(|c| c.protocol_version = v.into());
            assert_eq!(e, ConfigError::InvalidProtocolVersion(v.into()));
        }
    }

    #[test]
    fn zero_max_inflight_and_max_packet_size_are_refused() {
        assert_eq!(
            invalid(|c| c.max_inflight = 0),
            ConfigError::ZeroMaxInflight
        );
        assert_eq!(
            invalid(|c| c.max_packet_size = Some(0)),
            ConfigError::ZeroMaxPacketSize
        );
    }

    #[cfg(feature = "msgpack")]
    #[test]
    fn unknown_codec_is_refused() {
        for name in BUILTIN_CODECS {
            let c = Config {
                codec: (*name).into(),
                ..Config::default()
            };
            c.validate().unwrap();
        }
        let e = invalid(|c| c.codec = "yesno".into());
        assert_eq!(e, ConfigError::UnknownCodec("yesno".into()));
        // Parameters without `name` do not declare an alias.
        let e = invalid(|c| {
            c.codec = "yesno".into();
            c.codec_params
                .insert("yesno".into(), [("on".into(), "yes".into())].into());
        });
        assert_eq!(e, ConfigError::UnknownCodec("yesno".into()));
    }

    #[cfg(feature = "payload")]
    #[test]
    fn invalid_codec_alias_is_refused() {
        let alias = |target: CodecParam| -> CodecParams { [("name".to_owned(), target)].into() };
        let e = invalid(|c| {
            c.codec_params
                .insert("yesno".into(), alias("boolean".into()));
        });
        assert_eq!(
            e,
            ConfigError::InvalidCodecAlias {
                alias: "yesno".into(),
                target: "boolean".into()
            }
        );
        let e = invalid(|c| {
            c.codec_params
                .insert("yesno".into(), alias(CodecParam::Bool(true)));
        });
        assert!(matches!(e, ConfigError::InvalidCodecAlias { .. }), "{e}");
        // A built-in name cannot be redefined (it may name itself).
        let e = invalid(|c| {
            c.codec_params.insert("json".into(), alias("utf8".into()));
        });
        assert!(matches!(e, ConfigError::InvalidCodecAlias { .. }), "{e}");
        let c = Config {
            codec: "json".into(),
            codec_params: [("json".to_owned(), alias("json".into()))].into(),
            ..Config::default()
        };
        c.validate().unwrap();
    }

    #[test]
    fn invalid_client_id_and_credentials_are_refused() {
        let e = invalid(|c| c.client_id = Some("a\0b".into()));
        assert!(
            matches!(
                e,
                ConfigError::InvalidClientId {
                    source: StringError::NullCharacter,
                    ..
                }
            ),
            "{e}"
        );
        let e = invalid(|c| {
            c.client_id = Some(String::new());
            c.cleansession = false;
        });
        assert_eq!(e, ConfigError::EmptyClientIdNeedsCleanSession);
        // MQTT 5 lets the broker assign an identifier to a persistent session.
        let c = Config {
            client_id: Some(String::new()),
            cleansession: false,
            protocol_version: "5".into(),
            ..Config::default()
        };
        c.validate().unwrap();
        let e = invalid(|c| c.username = Some("x\0".into()));
        assert_eq!(e, ConfigError::InvalidUsername(StringError::NullCharacter));
        let e = invalid(|c| c.password = Some(vec![1; 65_536].into()));
        assert_eq!(e, ConfigError::PasswordTooLong(65_536));
    }

    #[test]
    fn invalid_failover_uri_is_refused() {
        let e = invalid(|c| c.uris = vec!["mqtt://ok".into(), "http://x:secret@nope".into()]);
        assert_eq!(
            e,
            ConfigError::InvalidUri {
                uri: "http://x:****@nope".into(),
                reason: UriError::UnsupportedScheme("http".into())
            }
        );
        assert!(!e.to_string().contains("secret"));
    }

    #[test]
    fn keyfile_without_certfile_is_refused() {
        let e = invalid(|c| c.keyfile = Some("key.pem".into()));
        assert_eq!(e, ConfigError::KeyfileWithoutCertfile);
    }

    #[test]
    fn alpn_names_are_1_to_255_bytes() {
        let e = invalid(|c| c.alpn = vec!["mqtt".into(), String::new()]);
        assert_eq!(e, ConfigError::InvalidAlpn(String::new()));
        let e = invalid(|c| c.alpn = vec!["x".repeat(256)]);
        assert!(matches!(e, ConfigError::InvalidAlpn(_)), "{e}");
        let c = json(r#"{"alpn": ["mqtt", "x-amzn-mqtt-ca"]}"#);
        c.validate().unwrap();
        assert_eq!(c.alpn, ["mqtt", "x-amzn-mqtt-ca"]);
    }

    #[test]
    fn extra_headers_are_checked_and_secrets_hidden_from_debug() {
        for (name, value, reason) in [
            ("Bad Name", "v", "not a valid header name"),
            ("", "v", "not a valid header name"),
            (
                "X-A",
                "a\r\nInjected: 1",
                "the value holds a control character",
            ),
            (
                "Sec-WebSocket-Key",
                "k",
                "set by the WebSocket handshake itself",
            ),
            ("upgrade", "h2c", "set by the WebSocket handshake itself"),
        ] {
            let e = invalid(|c| {
                c.extra_headers.insert(name.into(), value.into());
            });
            assert_eq!(
                e,
                ConfigError::InvalidHeader {
                    name: name.into(),
                    reason
                }
            );
        }
        let c = json(
            r#"{"extra_headers": {"Authorization": "Bearer s3cret", "X-Tab": "a\tb", "Sec-WebSocket-Protocol": "mqttv3.1"}}"#,
        );
        c.validate().unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("\"Authorization\": \"<redacted>\""),
            "{shown}"
        );
        assert!(shown.contains("mqttv3.1"), "{shown}");
    }

    #[test]
    fn password_without_username_is_refused_in_3_1_1_only() {
        let config = Config {
            password: Some("pw".into()),
            ..Config::default()
        };
        let e = config.session_options(&uri("mqtt://h")).unwrap_err();
        assert_eq!(e, ConfigError::PasswordWithoutUsername);
        let v5 = Config {
            protocol_version: "5".into(),
            ..config
        };
        assert!(
            v5.session_options(&uri("mqtt://h"))
                .unwrap()
                .username
                .is_none()
        );
    }

    // ---- broker URIs ----

    #[test]
    fn uri_default_ports() {
        for (s, scheme, port) in [
            ("mqtt://broker", Scheme::Mqtt, 1883),
            ("mqtts://broker", Scheme::Mqtts, 8883),
            ("ws://broker", Scheme::Ws, 80),
            ("wss://broker", Scheme::Wss, 443),
            ("tcp://broker", Scheme::Mqtt, 1883),
            ("ssl://broker", Scheme::Mqtts, 8883),
            ("MQTT://broker", Scheme::Mqtt, 1883),
            ("ws://broker:80", Scheme::Ws, 80),
        ] {
            let u = uri(s);
            assert_eq!(
                (u.scheme, u.host.as_str(), u.port),
                (scheme, "broker", port),
                "{s}"
            );
            assert_eq!(u.scheme.default_port(), port);
        }
        let u = uri("mqtt://test.mosquitto.org/");
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("test.mosquitto.org", 1883, "/")
        );
        assert!(Scheme::Wss.is_tls() && Scheme::Wss.is_websocket());
        assert!(!Scheme::Mqtt.is_tls() && !Scheme::Mqtt.is_websocket());
    }

    #[test]
    fn uri_explicit_port_path_and_ip_hosts() {
        let u = uri("mqtt://127.0.0.1:1884");
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 1884));
        let u = uri("ws://broker.example:8080/mqtt?token=abc");
        assert_eq!((u.port, u.path.as_str()), (8080, "/mqtt?token=abc"));
        assert_eq!(uri("wss://broker.example").path, "/");
        let u = uri("mqtt://[::1]:1884");
        assert_eq!((u.host.as_str(), u.port), ("::1", 1884));
        assert_eq!(u.authority(), "[::1]:1884");
        assert_eq!(u.to_string(), "mqtt://[::1]:1884");
        let u = uri("mqtts://[2001:db8::17]");
        assert_eq!((u.host.as_str(), u.port), ("2001:db8::17", 8883));
        use std::net::ToSocketAddrs;
        assert!(
            (uri("mqtt://[::1]").host.as_str(), 1883)
                .to_socket_addrs()
                .is_ok()
        );
    }

    #[test]
    fn uri_credentials_are_percent_decoded() {
        let u = uri("mqtt://us%40er:p%40ss%3Aw%2Fd@broker:1883");
        assert_eq!(u.username.as_deref(), Some("us@er"));
        assert_eq!(u.password.as_deref(), Some(&b"p@ss:w/d"[..]));
        // A password may be any bytes.
        let u = uri("mqtt://u:%FF%00@broker");
        assert_eq!(u.password.as_deref(), Some(&[0xff, 0x00][..]));
        let u = uri("mqtt://alice@broker");
        assert_eq!(
            (u.username.as_deref(), u.password.as_ref()),
            (Some("alice"), None)
        );
        assert_eq!(u.to_string(), "mqtt://alice@broker:1883");
        let u = uri("mqtt://broker");
        assert_eq!((u.username.as_ref(), u.password.as_ref()), (None, None));
        // Display re-encodes the user name and drops the password.
        assert_eq!(
            uri("mqtt://us%40er:pw@h").to_string(),
            "mqtt://us%40er@h:1883"
        );
    }

    #[test]
    fn invalid_uris_are_refused() {
        let reason = |s: &str| match BrokerUri::parse(s) {
            Err(ConfigError::InvalidUri { reason, .. }) => reason,
            other => panic!("{s}: {other:?}"),
        };
        assert!(matches!(
            reason("broker:1883"),
            UriError::UnsupportedScheme(_)
        ));
        assert!(matches!(
            reason("http://broker"),
            UriError::UnsupportedScheme(_)
        ));
        assert!(matches!(reason("not a uri"), UriError::Syntax(_)));
        assert!(matches!(reason("mqtt://broker:99999"), UriError::Syntax(_)));
        assert!(matches!(reason("mqtt://[::1"), UriError::Syntax(_)));
        assert_eq!(reason("mqtt://broker:0"), UriError::InvalidPort);
        assert_eq!(reason("mqtt:///path"), UriError::MissingHost);
        assert_eq!(reason("mqtt://%FF@broker"), UriError::InvalidUsername);
        let e = BrokerUri::parse("mqtt://u:topsecret@[bad").unwrap_err();
        assert!(!e.to_string().contains("topsecret"), "{e}");
    }

    #[test]
    fn broker_uris_put_the_constructor_uri_first_without_duplicates() {
        let c = Config {
            uris: vec!["mqtt://b".into(), "mqtt://a".into(), "mqtt://c:1884".into()],
            ..Config::default()
        };
        let hosts: Vec<_> = c
            .broker_uris(Some("mqtt://a:1883"))
            .unwrap()
            .into_iter()
            .map(|u| u.authority())
            .collect();
        assert_eq!(hosts, ["a:1883", "b:1883", "c:1884"]);
        assert_eq!(
            Config::default().broker_uris(None),
            Err(ConfigError::NoBrokerUri)
        );
    }

    // ---- publish defaults ----

    fn with_topics(entries: &[(&str, Option<u8>, Option<bool>)]) -> Config {
        let c = Config {
            topics: entries
                .iter()
                .map(|(k, qos, retain)| {
                    (
                        (*k).to_owned(),
                        TopicDefaults {
                            qos: *qos,
                            retain: *retain,
                        },
                    )
                })
                .collect(),
            ..Config::default()
        };
        c.validate().unwrap();
        c
    }

    #[test]
    fn publish_defaults_exact_topic_wins() {
        let c = with_topics(&[
            ("a/b", Some(1), None),
            ("a/#", Some(2), None),
            ("a/+", Some(0), None),
        ]);
        assert_eq!(c.publish_defaults(&topic("a/b")).0, QoS::AtLeastOnce);
        assert_eq!(c.publish_defaults(&topic("a/c")).0, QoS::AtMostOnce);
        assert_eq!(c.publish_defaults(&topic("a/c/d")).0, QoS::ExactlyOnce);
        // sport/# matches sport (§4.7.1.2; distmqtt bug #9).
        assert_eq!(c.publish_defaults(&topic("a")).0, QoS::ExactlyOnce);
        assert_eq!(c.publish_defaults(&topic("b")).0, QoS::AtMostOnce);
    }

    #[test]
    fn publish_defaults_most_literal_levels_win() {
        let c = with_topics(&[
            ("#", Some(0), Some(false)),
            ("sensors/#", Some(1), None),
            ("sensors/+/alarm", Some(2), Some(true)),
            ("sensors/kitchen/#", None, Some(false)),
        ]);
        // sensors/+/alarm and sensors/kitchen/# both have two literal
        // levels; the one without '#' wins for qos and retain.
        assert_eq!(
            c.publish_defaults(&topic("sensors/kitchen/alarm")),
            (QoS::ExactlyOnce, true)
        );
        // sensors/kitchen/# sets no qos: qos falls back to sensors/#.
        assert_eq!(
            c.publish_defaults(&topic("sensors/kitchen/temp")),
            (QoS::AtLeastOnce, false)
        );
        assert_eq!(
            c.publish_defaults(&topic("sensors/hall/temp")),
            (QoS::AtLeastOnce, false)
        );
        assert_eq!(
            c.publish_defaults(&topic("other")),
            (QoS::AtMostOnce, false)
        );
    }

    #[test]
    fn publish_defaults_tie_breaks() {
        // Same literal count, no '#': the earlier literal level wins.
        let c = with_topics(&[("+/b/c", Some(1), None), ("a/+/c", Some(2), None)]);
        assert_eq!(c.publish_defaults(&topic("a/b/c")).0, QoS::ExactlyOnce);
        // '+' beats '#' at the same position; a longer '#' filter beats a shorter one.
        let c = with_topics(&[("a/#", Some(1), None), ("a/+", Some(2), None)]);
        assert_eq!(c.publish_defaults(&topic("a/b")).0, QoS::ExactlyOnce);
        let c = with_topics(&[("a/#", Some(1), None), ("a/+/#", Some(2), None)]);
        assert_eq!(c.publish_defaults(&topic("a/b/c")).0, QoS::ExactlyOnce);
        assert_eq!(c.publish_defaults(&topic("a")).0, QoS::AtLeastOnce);
        // Key order does not matter.
        let c = with_topics(&[("a/+/c", Some(2), None), ("+/b/c", Some(1), None)]);
        assert_eq!(c.publish_defaults(&topic("a/b/c")).0, QoS::ExactlyOnce);
    }

    #[test]
    fn publish_defaults_fall_back_per_field_and_to_the_defaults() {
        let mut c = with_topics(&[("a/b", None, Some(true)), ("a/+", Some(1), None)]);
        c.default_qos = 2;
        assert_eq!(c.publish_defaults(&topic("a/b")), (QoS::AtLeastOnce, true));
        c.default_retain = true;
        assert_eq!(c.publish_defaults(&topic("x")), (QoS::ExactlyOnce, true));
    }

    #[test]
    fn publish_defaults_respect_dollar_topics() {
        let c = with_topics(&[("#", Some(1), None), ("$SYS/#", Some(2), None)]);
        assert_eq!(c.publish_defaults(&topic("$SYS/x")).0, QoS::ExactlyOnce);
        assert_eq!(c.publish_defaults(&topic("$other")).0, QoS::AtMostOnce);
    }

    // ---- session options ----

    #[test]
    fn session_options_carry_the_config() {
        let c = Config {
            keep_alive: Duration::from_secs(30),
            ping_delay: Duration::from_secs(2),
            ping_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(4),
            cleansession: false,
            client_id: Some("dev-1".into()),
            max_inflight: 7,
            max_queued: 9,
            max_packet_size: Some(4096),
            will: Some(WillConfig {
                topic: "status/dev-1".into(),
                message: TextOrBytes::Bytes(vec![0xde, 0xad]),
                qos: 1,
                retain: true,
                codec: None,
                value: None,
            }),
            ..Config::default()
        };
        let o = c.session_options(&uri("mqtt://h")).unwrap();
        assert_eq!(o.version, ProtocolVersion::V3_1_1);
        assert_eq!(o.client_id, "dev-1");
        assert!(!o.clean_start);
        assert_eq!(o.keep_alive, Duration::from_secs(30));
        assert_eq!(o.ping_margin, Duration::from_secs(2));
        assert_eq!(o.ping_timeout, Duration::from_secs(3));
        assert_eq!(o.connect_timeout, Duration::from_secs(4));
        assert_eq!((o.max_inflight, o.max_queued), (7, 9));
        assert_eq!(o.max_incoming_packet, 4096);
        // No MQTT 5 properties in a 3.1.1 CONNECT.
        assert!(o.properties.is_empty());
        let will = o.will.unwrap();
        assert_eq!(will.topic.as_str(), "status/dev-1");
        assert_eq!(&will.payload[..], &[0xde, 0xad]);
        assert_eq!((will.qos, will.retain), (QoS::AtLeastOnce, true));
        assert_eq!((o.username, o.password), (None, None));

        let v5 = Config {
            protocol_version: "mqttv5".into(),
            ..c
        };
        let o = v5.session_options(&uri("mqtt://h")).unwrap();
        assert_eq!(o.version, ProtocolVersion::V5);
        assert_eq!(o.properties.maximum_packet_size, NonZeroU32::new(4096));
        assert_eq!(o.max_incoming_packet, 4096);
        // A persistent session outlives the connection in MQTT 5 too.
        assert_eq!(o.properties.session_expiry_interval, Some(u32::MAX));
        let clean = Config {
            cleansession: true,
            ..v5
        };
        let o = clean.session_options(&uri("mqtt://h")).unwrap();
        assert_eq!(o.properties.session_expiry_interval, None);
    }

    /// `persistence` needs the session of one fixed client identifier, and
    /// one the broker keeps (else what is resumed would be discarded).
    #[test]
    fn persistence_needs_a_client_id_and_a_lasting_session() {
        let check = |toml: &str| -> Result<(), ConfigError> {
            let c: Config =
                toml::from_str(&format!("persistence = \"/var/lib/app\"\n{toml}")).unwrap();
            c.validate()
        };
        assert_eq!(check("client_id = \"a\"\ncleansession = false"), Ok(()));
        let c: Config =
            toml::from_str("persistence = \"/d\"\nclient_id = \"a\"\ncleansession = false")
                .unwrap();
        assert_eq!(c.persistence.as_deref(), Some(std::path::Path::new("/d")));
        assert_eq!(
            check("cleansession = false"),
            Err(ConfigError::PersistenceNeedsClientId)
        );
        assert_eq!(
            check("client_id = \"\"\ncleansession = false\nprotocol_version = 5"),
            Err(ConfigError::PersistenceNeedsClientId)
        );
        assert_eq!(
            check("client_id = \"a\""),
            Err(ConfigError::PersistenceNeedsLastingSession)
        );
        // MQTT 5: an expiry above 0 (cleansession then only starts the
        // first connection clean), or cleansession = false (never expires).
        for (v5, ok) in [
            ("session_expiry = 60", true),
            ("cleansession = false", true),
            ("cleansession = false\nsession_expiry = 0", false),
            ("", false),
        ] {
            let r = check(&format!("client_id = \"a\"\nprotocol_version = 5\n{v5}"));
            assert_eq!(r.is_ok(), ok, "{v5}: {r:?}");
        }
    }

    #[test]
    fn session_expiry_is_the_v5_session_expiry_interval() {
        let v5 = |toml: &str| -> Config {
            let c: Config = toml::from_str(&format!("protocol_version = 5\n{toml}")).unwrap();
            c.validate().unwrap();
            c
        };
        let expiry = |c: &Config| {
            c.session_options(&uri("mqtt://h"))
                .unwrap()
                .properties
                .session_expiry_interval
        };
        assert_eq!(expiry(&v5("session_expiry = 90")), Some(90));
        assert_eq!(expiry(&v5("session_expiry = 0")), Some(0));
        assert_eq!(
            expiry(&v5("session_expiry = 4294967295")),
            Some(u32::MAX),
            "never expires"
        );
        // It wins over the never-expiring default of cleansession = false.
        assert_eq!(
            expiry(&v5("cleansession = false\nsession_expiry = 5")),
            Some(5)
        );
        assert_eq!(expiry(&v5("cleansession = false")), Some(u32::MAX));
        assert_eq!(expiry(&v5("")), None);

        let too_long = Config {
            protocol_version: "5".into(),
            session_expiry: Some(Duration::from_secs(u64::from(u32::MAX) + 1)),
            ..Config::default()
        };
        assert!(matches!(
            too_long.validate(),
            Err(ConfigError::SessionExpiryOutOfRange(_))
        ));
        // 3.1.1 has no Session Expiry Interval: refused, not ignored.
        let v311 = Config {
            session_expiry: Some(Duration::from_secs(60)),
            ..Config::default()
        };
        assert!(matches!(
            v311.validate(),
            Err(ConfigError::SessionExpiryNeedsV5)
        ));
    }

    #[test]
    fn session_options_credentials_config_wins_then_uri() {
        let u = uri("mqtt://uri-user:uri%20pw@h");
        let o = Config::default().session_options(&u).unwrap();
        assert_eq!(o.username.as_deref(), Some("uri-user"));
        assert_eq!(o.password.as_deref(), Some(&b"uri pw"[..]));

        let c = Config {
            username: Some("cfg-user".into()),
            password: Some(TextOrBytes::Bytes(vec![0, 1])),
            ..Config::default()
        };
        let o = c.session_options(&u).unwrap();
        assert_eq!(o.username.as_deref(), Some("cfg-user"));
        assert_eq!(o.password.as_deref(), Some(&[0, 1][..]));

        // Each one falls back on its own: the secret may stay out of the URI.
        let c = Config {
            password: Some("cfg-pw".into()),
            ..Config::default()
        };
        let o = c.session_options(&uri("mqtt://alice@h")).unwrap();
        assert_eq!(o.username.as_deref(), Some("alice"));
        assert_eq!(o.password.as_deref(), Some(&b"cfg-pw"[..]));
    }

    #[test]
    fn session_options_random_client_id() {
        let a = Config::default().session_options(&uri("mqtt://h")).unwrap();
        let id = a.client_id.as_str();
        assert_eq!(id.len(), "sansmqtt-".len() + 8, "{id}");
        assert!(id.starts_with("sansmqtt-"));
        assert!(id[9..].bytes().all(|b| b.is_ascii_hexdigit()), "{id}");

        let mut c = Config::default();
        let fixed = c.ensure_client_id().to_owned();
        assert_eq!(c.ensure_client_id(), fixed);
        for _ in 0..3 {
            assert_eq!(
                c.session_options(&uri("mqtt://h")).unwrap().client_id,
                fixed.as_str()
            );
        }
    }

    #[test]
    fn session_options_validate_first() {
        let c = Config {
            default_qos: 3,
            ..Config::default()
        };
        assert!(matches!(
            c.session_options(&uri("mqtt://h")),
            Err(ConfigError::InvalidQos { .. })
        ));
        let e = Config::default()
            .session_options(&uri("mqtt://%00@h"))
            .unwrap_err();
        assert_eq!(e, ConfigError::InvalidUsername(StringError::NullCharacter));
    }
}
