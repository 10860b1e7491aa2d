//! The URIs of a configuration: broker URIs (`mqtt://`, `mqtts://`,
//! `ws://`, `wss://`) and proxy URIs (`http://`, `socks5://`) go through one
//! parser, [`parse_uri`], which owns the rules they share: the scheme table
//! with its default ports, the host (an IPv6 address without its brackets),
//! port 0 refused, and credentials percent-decoded. Every error names the
//! URI with its password masked.

use std::fmt;
use std::str::FromStr;

use super::ConfigError;
use bytes::Bytes;
use percent_encoding::percent_decode_str;

/// Why a broker or proxy URI is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// Not a URI at all.
    #[error("{0}")]
    Syntax(String),
    /// A scheme the URI cannot have: for a broker, one other than `mqtt`,
    /// `mqtts`, `ws`, `wss` (or `tcp`, `ssl`, `tls`); for a proxy, other
    /// than `http`, `socks5`, `socks5h`.
    #[error("unsupported scheme {scheme}:// (expected {expected})")]
    UnsupportedScheme {
        /// The scheme given.
        scheme: String,
        /// The schemes accepted.
        expected: &'static str,
    },
    /// No host.
    #[error("no host")]
    MissingHost,
    /// Port 0.
    #[error("port 0")]
    InvalidPort,
    /// The percent-decoded user name (or, for a proxy, password) is not
    /// UTF-8.
    #[error("the credentials are not UTF-8 once percent-decoded")]
    InvalidCredentials,
    /// A proxy URI with a path or a query.
    #[error("a proxy URI has no path or query")]
    ProxyPath,
    /// SOCKS5 credentials out of RFC 1929's bounds.
    #[error("SOCKS5 user name and password are 1 to 255 and 0 to 255 bytes")]
    Socks5Credentials,
}

/// A URI taken apart by [`parse_uri`].
#[derive(Clone)]
pub(crate) struct UriParts<K> {
    /// What the scheme stands for (from the caller's table).
    pub(crate) kind: K,
    /// Host name or IP address; IPv6 without brackets.
    pub(crate) host: String,
    /// The port given, else the scheme's default.
    pub(crate) port: u16,
    /// The path as written (may be empty).
    pub(crate) path: String,
    /// The query, without its `?`.
    pub(crate) query: Option<String>,
    /// User name, percent-decoded; `None` when absent or empty.
    pub(crate) username: Option<String>,
    /// Password, percent-decoded (any bytes).
    pub(crate) password: Option<Bytes>,
}

/// Parses `uri` whose scheme must be one of `schemes` (name, what it stands
/// for, default port; names in lower case, matched case-insensitively).
///
/// The URI is read as one of a scheme the `url` crate has no rules for, so
/// that every scheme is read alike: an explicit port is kept even where it
/// is `http`'s or `ws`'s default, and the host is taken as written.
pub(crate) fn parse_uri<K: Copy>(
    uri: &str,
    schemes: &[(&str, K, u16)],
    expected: &'static str,
) -> Result<UriParts<K>, UriError> {
    let url = url::Url::parse(&format!("x-{}", uri.trim()))
        .map_err(|e| UriError::Syntax(e.to_string()))?;
    let scheme = url.scheme().trim_start_matches("x-");
    let Some(&(_, kind, default_port)) = schemes.iter().find(|(name, ..)| *name == scheme) else {
        return Err(UriError::UnsupportedScheme {
            scheme: scheme.to_owned(),
            expected,
        });
    };
    let host = url_host(&url).ok_or(UriError::MissingHost)?;
    let port = match url.port() {
        Some(0) => return Err(UriError::InvalidPort),
        Some(p) => p,
        None => default_port,
    };
    let username = match url.username() {
        "" => None,
        u => Some(
            percent_decode_str(u)
                .decode_utf8()
                .map_err(|_| UriError::InvalidCredentials)?
                .into_owned(),
        ),
    };
    let password = url
        .password()
        .map(|p| Bytes::from(percent_decode_str(p).collect::<Vec<u8>>()));
    Ok(UriParts {
        kind,
        host,
        port,
        path: url.path().to_owned(),
        query: url.query().map(str::to_owned),
        username,
        password,
    })
}

/// The host of a parsed URI: a name, or an IP address (IPv6 without its
/// brackets); `None` when absent or empty.
fn url_host(url: &url::Url) -> Option<String> {
    match url.host()? {
        url::Host::Domain(d) if !d.is_empty() => Some(d.to_owned()),
        url::Host::Domain(_) => None,
        url::Host::Ipv4(a) => Some(a.to_string()),
        url::Host::Ipv6(a) => Some(a.to_string()),
    }
}

/// `host:port`, with an IPv6 host in brackets (`[::1]:1883`).
pub(crate) fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Writes `user[:password]@` percent-encoded; the password only when
/// `password` is given (serialization), never for display.
pub(crate) fn write_userinfo(
    f: &mut impl fmt::Write,
    username: Option<&str>,
    password: Option<&[u8]>,
) -> fmt::Result {
    if username.is_none() && password.is_none() {
        return Ok(());
    }
    let user = username.unwrap_or("");
    write!(
        f,
        "{}",
        percent_encoding::utf8_percent_encode(user, USERINFO)
    )?;
    if let Some(password) = password {
        write!(
            f,
            ":{}",
            percent_encoding::percent_encode(password, USERINFO)
        )?;
    }
    f.write_char('@')
}

/// The URI with the password of its user information masked, by text (it
/// may not even parse).
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

/// Characters percent-encoded in user information when written.
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

/// The broker schemes: name, scheme, default port.
const BROKER_SCHEMES: &[(&str, Scheme, u16)] = &[
    ("mqtt", Scheme::Mqtt, Scheme::Mqtt.default_port()),
    ("tcp", Scheme::Mqtt, Scheme::Mqtt.default_port()),
    ("mqtts", Scheme::Mqtts, Scheme::Mqtts.default_port()),
    ("ssl", Scheme::Mqtts, Scheme::Mqtts.default_port()),
    ("tls", Scheme::Mqtts, Scheme::Mqtts.default_port()),
    ("ws", Scheme::Ws, Scheme::Ws.default_port()),
    ("wss", Scheme::Wss, Scheme::Wss.default_port()),
];

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
/// `Debug` and `Display` never show the password. In a configuration it is
/// written as its URI text (serde), password included.
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
        let parts = parse_uri(uri, BROKER_SCHEMES, "mqtt, mqtts, ws or wss").map_err(|reason| {
            ConfigError::InvalidUri {
                uri: redact_uri(uri),
                reason,
            }
        })?;
        let scheme = parts.kind;
        let mut path = parts.path;
        if scheme.is_websocket() {
            if path.is_empty() {
                path.push('/');
            }
            if let Some(q) = parts.query {
                path.push('?');
                path.push_str(&q);
            }
        }
        Ok(Self {
            scheme,
            host: parts.host,
            port: parts.port,
            path,
            username: parts.username,
            password: parts.password,
        })
    }

    /// `host:port`, with an IPv6 host in brackets (`[::1]:1883`).
    pub fn authority(&self) -> String {
        authority(&self.host, self.port)
    }

    /// The URI as text, password included (what serialization writes).
    fn to_uri_string(&self) -> String {
        let mut s = format!("{}://", self.scheme);
        let _ = write_userinfo(&mut s, self.username.as_deref(), self.password.as_deref());
        s.push_str(&self.authority());
        s.push_str(&self.path);
        s
    }
}

impl FromStr for BrokerUri {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for BrokerUri {
    type Error = ConfigError;
    fn try_from(s: &str) -> Result<Self, ConfigError> {
        Self::parse(s)
    }
}

impl fmt::Display for BrokerUri {
    /// `scheme://[user@]host:port[path]`, without the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme)?;
        if self.username.is_some() {
            write_userinfo(f, self.username.as_deref(), None)?;
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

/// Serde for a URI type as its text, credentials included: written with
/// its `to_uri_string`, read with its `parse` (whose error names the URI
/// with its password masked).
macro_rules! serde_as_uri_text {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_uri_string())
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(d)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_as_uri_text;

serde_as_uri_text!(BrokerUri);

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> BrokerUri {
        BrokerUri::parse(s).unwrap()
    }

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
    fn uri_text_round_trips_with_the_password() {
        for s in [
            "mqtt://us%40er:p%40ss%3Aw%2Fd@broker:1883",
            "mqtt://u:%FF%00@broker:1883",
            "wss://[::1]:8443/mqtt?x=1",
            "mqtts://:secret@h:8883",
        ] {
            let u = uri(s);
            assert_eq!(u.to_uri_string(), s);
            assert_eq!(uri(&u.to_uri_string()), u);
        }
    }

    #[test]
    fn invalid_uris_are_refused() {
        let reason = |s: &str| match BrokerUri::parse(s) {
            Err(ConfigError::InvalidUri { reason, .. }) => reason,
            other => panic!("{s}: {other:?}"),
        };
        assert!(matches!(
            reason("broker:1883"),
            UriError::UnsupportedScheme { .. }
        ));
        assert!(matches!(
            reason("http://broker"),
            UriError::UnsupportedScheme { .. }
        ));
        assert!(matches!(reason("not a uri"), UriError::Syntax(_)));
        assert!(matches!(reason("mqtt://broker:99999"), UriError::Syntax(_)));
        assert!(matches!(reason("mqtt://[::1"), UriError::Syntax(_)));
        assert_eq!(reason("mqtt://broker:0"), UriError::InvalidPort);
        assert_eq!(reason("mqtt:///path"), UriError::MissingHost);
        assert_eq!(reason("mqtt://%FF@broker"), UriError::InvalidCredentials);
        let e = BrokerUri::parse("mqtt://u:topsecret@[bad").unwrap_err();
        assert!(!e.to_string().contains("topsecret"), "{e}");
    }

    #[test]
    fn redaction_masks_only_the_password() {
        assert_eq!(redact_uri("mqtt://u:pw@h:1/p"), "mqtt://u:****@h:1/p");
        assert_eq!(redact_uri("mqtt://u@h"), "mqtt://u@h");
        assert_eq!(redact_uri("not a uri"), "not a uri");
    }
}
