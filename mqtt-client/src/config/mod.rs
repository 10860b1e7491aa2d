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
//! Each key is parsed into its type when the configuration is read: a QoS
//! ([`QoS`]), a protocol version ([`ProtocolVersion`](crate::ProtocolVersion)), broker and proxy
//! URIs ([`BrokerUri`], [`Proxy`]), topics ([`TopicName`], [`TopicPolicy`]),
//! durations, a password ([`Secret`], never shown by `Debug`). A value that
//! does not parse fails the load (QoS 3, an invalid topic, an unknown
//! protocol version, a bad URI), naming the key. What a type cannot hold,
//! ranges and combinations, [`Config::validate`] checks, once, when the
//! client is built: `keep_alive <= ping_delay` (distmqtt bug #20), an
//! unknown codec, persistence without a lasting session, and so on, each
//! with its own [`ConfigError`].
//!
//! | module | owns |
//! |---|---|
//! | `uri` | the one parser of broker and proxy URIs: [`BrokerUri`], [`Scheme`], [`UriError`] |
//! | `topics` | the per-topic publish policy: [`TopicPolicy`], [`TopicDefaults`] |
//! | `transport` | the rules of the TLS, ALPN and WebSocket header options |
//! | `secret` | [`Secret`], [`TextOrBytes`] |
//! | `serde_helpers` | durations ([`parse_duration`]), QoS numbers, protocol versions ([`parse_protocol_version`], [`parse_protocol_choice`]) |
//! | `protocol` | [`ProtocolChoice`]: a fixed version or `"auto"` (5, falling back to 3.1.1) |
//! | `connect` | the MQTT 5 CONNECT and will keys: [`UserProperties`], their checks and properties |
//! | `error` | [`ConfigError`] |

mod connect;
mod error;
mod protocol;
mod secret;
mod serde_helpers;
mod topics;
mod transport;
mod uri;

use std::collections::BTreeMap;
use std::num::NonZeroU16;
use std::path::PathBuf;
use std::time::Duration;

use sansmqtt_proto::{LastWill, MqttString, PayloadFormat, QoS, TopicName};
use sansmqtt_session::SessionOptions;
use serde::{Deserialize, Serialize};

pub use crate::payload_keys::{CodecParam, CodecParams, WillValue};
pub use crate::transport::proxy::Proxy;

pub use connect::UserProperties;
pub use error::ConfigError;
pub use protocol::ProtocolChoice;
pub use secret::{Secret, TextOrBytes};
pub use serde_helpers::{parse_duration, parse_protocol_choice, parse_protocol_version};
pub use topics::{TopicDefaults, TopicPolicy};
pub use transport::ExtraHeaders;
pub use uri::{BrokerUri, Scheme, UriError};
pub(crate) use uri::{authority, parse_uri, redact_uri, serde_as_uri_text, write_userinfo};

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
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Keep Alive sent in CONNECT (default 10 s); zero disables keep-alive
    /// pings. CONNECT carries whole seconds: a fractional part is dropped,
    /// and a value must be 0 or between 1 s and 65,535 s.
    #[serde(with = "serde_helpers::duration")]
    pub keep_alive: Duration,
    /// How long before the Keep Alive expires a PINGREQ is sent when nothing
    /// else was sent (default 1 s). Must be below `keep_alive`.
    #[serde(with = "serde_helpers::duration")]
    pub ping_delay: Duration,
    /// QoS of a publish when neither the call nor a [`Config::topics`]
    /// entry gives one (default 0). Written as 0, 1 or 2.
    #[serde(with = "serde_helpers::qos")]
    pub default_qos: QoS,
    /// Retain flag of `publish` when neither the call nor a
    /// [`Config::topics`] entry gives one (default `false`).
    pub default_retain: bool,
    /// Reconnect automatically after a connection loss (default `true`).
    pub auto_reconnect: bool,
    /// Cap of the exponential backoff between two connection attempts
    /// (default 10 s).
    #[serde(with = "serde_helpers::duration")]
    pub reconnect_max_interval: Duration,
    /// Connection attempts after a loss before the client gives up
    /// (default 2); negative: retry forever. See [`Config::reconnect_limit`].
    pub reconnect_retries: i64,
    /// Name of the default codec (default `"noop"`: payloads as bytes). One
    /// of [`BUILTIN_CODECS`](crate::payload::BUILTIN_CODECS), an alias declared in `codec_params`,
    /// or (for the client's registry) a codec registered in code.
    pub codec: String,
    /// Parameters of codecs, by codec name. An entry with a `name` key
    /// declares an alias of the built-in codec it names, with these
    /// parameters (distmqtt's `yesno` example: `{ on = "yes", off = "no",
    /// name = "bool" }`).
    pub codec_params: BTreeMap<String, CodecParams>,
    /// Publish defaults by topic: an exact topic name or a wildcard filter,
    /// mapped to a QoS and/or a retain flag. See [`Config::publish_defaults`].
    pub topics: TopicPolicy,
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
    #[serde(default, with = "serde_helpers::option_duration")]
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
    /// MQTT 5 enhanced authentication (§4.12): the mechanism that answers
    /// the server's challenges, for every connection and for
    /// [`Client::reauthenticate`](crate::Client::reauthenticate) (see
    /// [`crate::auth`]). Its method goes in CONNECT. Code, not
    /// configuration: never read from or written to a file. Needs
    /// `protocol_version` 5. Default: none.
    #[serde(skip)]
    pub authenticator: Option<std::sync::Arc<dyn crate::auth::Authenticator>>,
    /// MQTT 5 Authentication Method of CONNECT for a one-step method (a
    /// token the broker checks at once, no challenge): the configuration's
    /// form of [`StaticAuth`](crate::auth::StaticAuth). Excludes
    /// `authenticator`; needs `protocol_version` 5. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_method: Option<String>,
    /// MQTT 5 Authentication Data of CONNECT, with `authentication_method`
    /// (text or bytes). `Debug` never shows it. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_data: Option<Secret>,
    /// A proxy to reach the broker through: `http://[user:password@]host[:port]`
    /// (HTTP `CONNECT`) or `socks5://[user:password@]host[:port]` (SOCKS5),
    /// for every scheme of broker URI (see [`crate::transport::proxy`]).
    /// Default: none, a direct connection. `Debug` never shows its password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Proxy>,
    /// Client Identifier. When absent, a random `sansmqtt-XXXXXXXX` is
    /// generated (see [`Config::ensure_client_id`]); empty lets the broker
    /// assign one (3.1.1 requires `cleansession` then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// User Name; when absent, the one of the broker URI (if any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password, text or binary; when absent, the one of the broker URI (if
    /// any). `Debug` never shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// How long to wait for the transport connection and then CONNACK
    /// (default 10 s). distmqtt had none.
    #[serde(with = "serde_helpers::duration")]
    pub connect_timeout: Duration,
    /// How long to wait for PINGRESP before declaring the connection dead
    /// (default 5 s), at most half the `keep_alive`: a half-open link (no
    /// RST, no FIN) is declared dead within 1.5 x `keep_alive`. distmqtt
    /// had none.
    #[serde(with = "serde_helpers::duration")]
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
    /// Protocol version (default 3.1.1). Written `"3.1.1"`, `4`,
    /// `"mqttv311"`, or `"5"`, `5`, `"mqttv5"` (also `"3.1"` / `3` /
    /// `"mqttv31"`): see [`parse_protocol_version`]; or `"auto"`: MQTT 5,
    /// falling back to 3.1.1 when the broker does not speak 5 (see
    /// [`ProtocolChoice::Auto`]). In code: `ProtocolVersion::V5.into()` or
    /// [`ProtocolChoice::Auto`].
    #[serde(with = "serde_helpers::protocol_choice")]
    pub protocol_version: ProtocolChoice,
    /// MQTT 5 Receive Maximum of CONNECT: how many QoS 1 and 2 messages
    /// the broker may send unacknowledged at once (default: none, 65,535).
    /// A broker exceeding it is disconnected (0x93).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive_maximum: Option<NonZeroU16>,
    /// MQTT 5 Topic Alias Maximum of CONNECT: how many topic aliases the
    /// broker may use in what it sends (default: none, 0: no alias).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_alias_maximum: Option<u16>,
    /// MQTT 5: send a topic published again as its alias, within the
    /// broker's Topic Alias Maximum (none when it announces 0). Default
    /// `false`: every PUBLISH carries its full topic (a concurrent-publish
    /// run showed one message out of order with aliases on; kept off until
    /// that is understood).
    pub outgoing_topic_aliases: bool,
    /// MQTT 5 Request Response Information: ask the broker for the
    /// Response Information of CONNACK (the base of response topics; see
    /// `Client::server`). Default `false`.
    pub request_response_information: bool,
    /// MQTT 5 Request Problem Information: `false` asks the broker not to
    /// send Reason Strings and User Properties except in PUBLISH, CONNACK
    /// and DISCONNECT. Default: none (the broker's default, `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_problem_information: Option<bool>,
    /// MQTT 5 User Properties of CONNECT: a map or a list of `[name,
    /// value]` pairs (see [`UserProperties`]). Default none.
    #[serde(default, skip_serializing_if = "UserProperties::is_empty")]
    pub user_properties: UserProperties,
    /// Follow a server redirect (MQTT 5): a CONNACK or DISCONNECT with
    /// reason 0x9C Use another server or 0x9D Server moved and a Server
    /// Reference makes the client connect to that server at once (at most
    /// 5 redirects in a row, until a connection is accepted). The reference is a URI
    /// (`mqtts://host:8883`) or `host[:port]` (the scheme of the current
    /// URI); 0x9D also replaces the current URI for later reconnections.
    /// Default `false`: a redirect is an error carrying the reference
    /// (following it hands the credentials to another server).
    pub follow_redirects: bool,
    /// More broker URIs, tried in turn after the one given to the
    /// constructor (failover), each parsed when the configuration is
    /// read. See [`Config::broker_uris`].
    pub uris: Vec<BrokerUri>,
    /// `auto_reconnect` also retries a failed first connection (default
    /// `true`; distmqtt bug #2).
    pub reconnect_on_first_connect: bool,
    /// Bound on how long a call waits for its outcome (publish, subscribe,
    /// unsubscribe, ping, reconnect), including a wait for the connection
    /// during an outage; past it the call fails with `ClientError::Timeout`
    /// (a request already sent may still take effect). Default none: calls
    /// wait for the reconnection, or fail once the client gives up.
    #[serde(default, with = "serde_helpers::option_duration")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<Duration>,
    /// Expiry of publishes that wait to be sent (offline, or behind the
    /// in-flight window): one still waiting this long after its call is
    /// dropped and its call fails with `PublishError::Expired` instead of
    /// being sent late. Once sent, a QoS 1/2 message is redelivered until
    /// acknowledged. Default none. Per call: `PublishOptions::expiry`.
    #[serde(default, with = "serde_helpers::option_duration")]
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
    pub extra_headers: ExtraHeaders,
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
            default_qos: QoS::AtMostOnce,
            default_retain: false,
            auto_reconnect: true,
            reconnect_max_interval: Duration::from_secs(10),
            reconnect_retries: 2,
            codec: "noop".to_owned(),
            codec_params: BTreeMap::new(),
            topics: TopicPolicy::new(),
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
            protocol_version: ProtocolChoice::V3_1_1,
            receive_maximum: None,
            topic_alias_maximum: None,
            request_response_information: false,
            outgoing_topic_aliases: false,
            request_problem_information: None,
            user_properties: UserProperties::new(),
            follow_redirects: false,
            uris: Vec::new(),
            reconnect_on_first_connect: true,
            request_timeout: None,
            publish_expiry: None,
            session_expiry: None,
            persistence: None,
            authenticator: None,
            authentication_method: None,
            authentication_data: None,
            proxy: None,
            qos0_overflow: Qos0Overflow::Wait,
            certfile: None,
            keyfile: None,
            cafile: None,
            capath: None,
            cadata: None,
            check_hostname: true,
            extra_headers: ExtraHeaders::default(),
            alpn: Vec::new(),
        }
    }
}

impl Config {
    /// Checks what the types of the fields cannot: ranges (keep-alive,
    /// timeouts, lengths) and combinations (`keep_alive` above
    /// `ping_delay`, persistence and its session, session expiry and the
    /// protocol version, codec names and aliases, TLS keys). The client
    /// calls it once, when it is built, so a bad config is a clear error
    /// before any connection.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_timers()?;
        let v5 = self.protocol_version.may_use_v5();
        if let Some(will) = &self.will {
            let len = will.message.as_bytes().len();
            if len > MAX_BINARY_LEN {
                return Err(ConfigError::WillMessageTooLong(len));
            }
        }
        if let Some(expiry) = self.session_expiry {
            if !v5 {
                return Err(ConfigError::SessionExpiryNeedsV5);
            }
            if expiry.as_secs() > u64::from(u32::MAX) {
                return Err(ConfigError::SessionExpiryOutOfRange(expiry));
            }
        }
        if self.authentication_data.is_some() && self.authentication_method.is_none() {
            return Err(ConfigError::AuthenticationDataWithoutMethod);
        }
        if self.authenticator.is_some() && self.authentication_method.is_some() {
            return Err(ConfigError::TwoAuthentications);
        }
        if let Some(authenticator) = &self.authentication() {
            // Not with "auto" either: a fallback to 3.1.1 has no AUTH.
            if self.protocol_version != ProtocolChoice::V5 {
                return Err(ConfigError::AuthenticatorNeedsV5);
            }
            if MqttString::try_from(authenticator.method()).is_err() {
                return Err(ConfigError::InvalidAuthenticationMethod);
            }
        }
        if self.persistence.is_some() {
            if self.protocol_version == ProtocolChoice::Auto {
                return Err(ConfigError::PersistenceNeedsFixedVersion);
            }
            if self.client_id.as_deref().is_none_or(str::is_empty) {
                return Err(ConfigError::PersistenceNeedsClientId);
            }
            if !self.keeps_session() {
                return Err(ConfigError::PersistenceNeedsLastingSession);
            }
        }
        if self.max_inflight == 0 {
            return Err(ConfigError::ZeroMaxInflight);
        }
        if self.max_packet_size == Some(0) {
            return Err(ConfigError::ZeroMaxPacketSize);
        }
        connect::check(self)?;
        crate::payload_keys::check_config(self)?;
        self.check_credentials()?;
        transport::check(self)
    }

    /// Keep-alive and timers (distmqtt bug #20: keep_alive <= ping_delay).
    fn check_timers(&self) -> Result<(), ConfigError> {
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
        Ok(())
    }

    /// Client identifier, user name and password.
    fn check_credentials(&self) -> Result<(), ConfigError> {
        if let Some(id) = &self.client_id {
            MqttString::try_from(id.as_str()).map_err(|source| ConfigError::InvalidClientId {
                client_id: id.clone(),
                source,
            })?;
            if id.is_empty() && !self.cleansession && self.protocol_version.may_use_v3() {
                return Err(ConfigError::EmptyClientIdNeedsCleanSession);
            }
        }
        if let Some(username) = &self.username {
            MqttString::try_from(username.as_str()).map_err(ConfigError::InvalidUsername)?;
        }
        if let Some(password) = &self.password {
            let len = password.expose().len();
            if len > MAX_BINARY_LEN {
                return Err(ConfigError::PasswordTooLong(len));
            }
        }
        Ok(())
    }

    /// Whether the broker keeps the session once a connection ends: MQTT 5
    /// with a Session Expiry Interval above 0, MQTT 3.1.1 without Clean
    /// Session.
    fn keeps_session(&self) -> bool {
        if self.protocol_version.first().is_v5() {
            self.session_expiry_interval().is_some_and(|e| e > 0)
        } else {
            !self.cleansession
        }
    }

    /// The enhanced authentication of the connections: `authenticator`, or
    /// a [`StaticAuth`](crate::auth::StaticAuth) of `authentication_method`
    /// and `authentication_data`, or none.
    pub fn authentication(&self) -> Option<std::sync::Arc<dyn crate::auth::Authenticator>> {
        if let Some(authenticator) = &self.authenticator {
            return Some(authenticator.clone());
        }
        let method = self.authentication_method.as_ref()?;
        let data = self.authentication_data.as_ref().map(Secret::to_bytes);
        Some(std::sync::Arc::new(crate::auth::StaticAuth::new(
            method.clone(),
            data,
        )))
    }

    /// QoS and retain flag of a publish to `topic` that does not give them:
    /// each from the most specific [`Config::topics`] entry that matches
    /// `topic` and sets it (see [`TopicPolicy::defaults_for`]), else from
    /// `default_qos` / `default_retain`.
    pub fn publish_defaults(&self, topic: &TopicName) -> (QoS, bool) {
        let (qos, retain) = self.topics.defaults_for(topic);
        (
            qos.unwrap_or(self.default_qos),
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
    /// then [`Config::uris`], without duplicates.
    pub fn broker_uris(&self, primary: Option<&BrokerUri>) -> Result<Vec<BrokerUri>, ConfigError> {
        let mut out: Vec<BrokerUri> = Vec::with_capacity(self.uris.len() + 1);
        for uri in primary.into_iter().chain(&self.uris) {
            if !out.contains(uri) {
                out.push(uri.clone());
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
    pub(crate) fn session_expiry_interval(&self) -> Option<u32> {
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
    /// to the URI's; the URI's are checked here. When `client_id` is
    /// absent, each call generates a new random identifier: call
    /// [`Config::ensure_client_id`] first to keep one across calls. Expects
    /// a config that passed [`Config::validate`].
    pub fn session_options(&self, uri: &BrokerUri) -> Result<SessionOptions, ConfigError> {
        let version = self.protocol_version.first();
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
                let mut last_will = LastWill::new(will.topic.clone(), will.payload(self)?);
                last_will.qos = will.qos;
                last_will.retain = will.retain;
                if version.is_v5() {
                    last_will.properties = connect::will_properties(will)?.into();
                }
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
            // Checked for 3.1.1 also when "auto" only may fall back to it.
            if options.username.is_none() && self.protocol_version.may_use_v3() {
                return Err(ConfigError::PasswordWithoutUsername);
            }
        }
        options.max_inflight = self.max_inflight;
        options.max_queued = self.max_queued;
        options.auto_topic_alias = self.outgoing_topic_aliases;
        if let Some(max) = self.max_packet_size {
            options.max_incoming_packet = max;
        }
        connect::apply(self, &mut options);
        Ok(options)
    }
}

/// The Will Message. Only `topic` is required (distmqtt needed all four
/// keys and bytes: bug #18).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WillConfig {
    /// Will Topic, checked when read.
    #[serde(with = "serde_helpers::topic_name")]
    pub topic: TopicName,
    /// Will payload, text or bytes (default empty). Also accepted as
    /// `payload`.
    #[serde(default, alias = "payload")]
    pub message: TextOrBytes,
    /// Will QoS (default 0). Written as 0, 1 or 2.
    #[serde(default, with = "serde_helpers::qos")]
    pub qos: QoS,
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
    /// MQTT 5 Will Delay Interval: how long the broker waits after the
    /// connection is lost before it publishes the will (a reconnection
    /// within it cancels the will). Whole seconds.
    #[serde(default, with = "serde_helpers::option_duration")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_interval: Option<Duration>,
    /// MQTT 5 Message Expiry Interval of the will message. Whole seconds.
    #[serde(default, with = "serde_helpers::option_duration")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_expiry: Option<Duration>,
    /// MQTT 5 Content Type of the will message (e.g. `"text/plain"`).
    #[serde(default, with = "connect::option_mqtt_string")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<MqttString>,
    /// MQTT 5 Response Topic of the will message, checked when read.
    #[serde(default, with = "serde_helpers::option_topic_name")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_topic: Option<TopicName>,
    /// MQTT 5 Correlation Data of the will message, text or bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_data: Option<TextOrBytes>,
    /// MQTT 5 User Properties of the will message (see [`UserProperties`]).
    #[serde(default, skip_serializing_if = "UserProperties::is_empty")]
    pub user_properties: UserProperties,
    /// MQTT 5 Payload Format Indicator of the will message: `"utf8"`
    /// (the message is UTF-8 text, checked) or `"bytes"`.
    #[serde(default, with = "connect::option_payload_format")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_format: Option<PayloadFormat>,
}

impl WillConfig {
    /// A will on `topic` with an empty message, QoS 0, not retained.
    pub fn new(topic: TopicName) -> Self {
        Self {
            topic,
            message: TextOrBytes::default(),
            qos: QoS::AtMostOnce,
            retain: false,
            codec: None,
            value: None,
            delay_interval: None,
            message_expiry: None,
            content_type: None,
            response_topic: None,
            correlation_data: None,
            user_properties: UserProperties::new(),
            payload_format: None,
        }
    }
}

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

#[cfg(test)]
mod tests;
