//! The transport options of a configuration and their rules: TLS files
//! (`certfile` needs `keyfile`'s certificate), ALPN names, and the extra
//! headers of the WebSocket upgrade request (valid HTTP, none of the
//! handshake's own, credentials never shown by `Debug`). The TLS and
//! WebSocket transports themselves read them (`crate::transport`).

use std::collections::BTreeMap;
use std::fmt;

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
    for (name, value) in &config.extra_headers {
        check_header(name, value)?;
    }
    Ok(())
}

/// Shows headers with the values of credential-bearing ones masked.
pub(super) struct RedactedHeaders<'a>(pub(super) &'a BTreeMap<String, String>);

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
