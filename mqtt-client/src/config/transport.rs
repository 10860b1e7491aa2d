//! The transport options of a configuration and their rules: TLS files
//! (`certfile` needs `keyfile`'s certificate), ALPN names, and the extra
//! headers of the WebSocket upgrade request (valid HTTP, none of the
//! handshake's own, credentials never shown by `Debug`). The TLS and
//! WebSocket transports themselves read them (`crate::transport`).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use super::{Config, ConfigError};

/// Checks the transport options of `config`.
pub(super) fn check(config: &Config) -> Result<(), ConfigError> {
    if config.keyfile.is_some() && config.certfile.is_none() {
        return Err(ConfigError::KeyfileWithoutCertfile);
    }
    for name in &config.alpn {
        if name.is_empty() || name.len() > 255 {
            return Err(ConfigError::InvalidAlpn(name.clone()));
        }
    }
    Ok(())
}

/// The extra headers of the WebSocket upgrade request
/// ([`Config::extra_headers`]): each one checked when inserted or read
/// (an HTTP token for a name, none of the handshake's own headers, no
/// control character in a value). Read as a map or as a list of
/// `[name, value]` pairs (distmqtt bug #16); `Debug` masks the values of
/// `Authorization`, `Proxy-Authorization` and `Cookie`.
///
/// ```
/// use sansmqtt::config::ExtraHeaders;
///
/// let mut headers = ExtraHeaders::default();
/// headers.insert("Authorization", "Bearer s3cret")?;
/// assert!(headers.insert("Upgrade", "h2c").is_err());
/// assert_eq!(headers["Authorization"], "Bearer s3cret");
/// assert!(!format!("{headers:?}").contains("s3cret"));
/// # Ok::<(), sansmqtt::ConfigError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ExtraHeaders(BTreeMap<String, String>);

impl ExtraHeaders {
    /// Adds (or replaces) a header, once checked; returns the value it
    /// replaced.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Option<String>, ConfigError> {
        let (name, value) = (name.into(), value.into());
        check_header(&name, &value)?;
        Ok(self.0.insert(name, value))
    }
}

impl Deref for ExtraHeaders {
    type Target = BTreeMap<String, String>;
    fn deref(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

impl TryFrom<BTreeMap<String, String>> for ExtraHeaders {
    type Error = ConfigError;
    fn try_from(headers: BTreeMap<String, String>) -> Result<Self, ConfigError> {
        for (name, value) in &headers {
            check_header(name, value)?;
        }
        Ok(Self(headers))
    }
}

impl<'de> Deserialize<'de> for ExtraHeaders {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let headers = super::serde_helpers::de_headers(d)?;
        Self::try_from(headers).map_err(de::Error::custom)
    }
}

impl fmt::Debug for ExtraHeaders {
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
