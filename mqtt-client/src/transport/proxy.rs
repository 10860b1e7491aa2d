//! Proxies: the broker reached through an HTTP `CONNECT` tunnel (RFC 9110
//! §9.3.6) or a SOCKS5 proxy (RFC 1928, user name and password by RFC
//! 1929), config key `proxy`. Written over `futures-io`, so every runtime
//! adapter has them, and under TLS and WebSocket like any TCP stream: the
//! tunnel carries `mqtt://`, `mqtts://`, `ws://` and `wss://` alike (TLS is
//! then end to end with the broker, its name checked as without a proxy).
//!
//! | `proxy` | protocol |
//! | --- | --- |
//! | `http://[user:password@]host[:port]` | HTTP `CONNECT host:port`, `Proxy-Authorization: Basic` with credentials; port 8080 by default |
//! | `socks5://[user:password@]host[:port]`, `socks5h://...` | SOCKS5 `CONNECT`, no authentication or user name and password; port 1080 by default |
//!
//! The broker's host name goes to the proxy as written, and the proxy
//! resolves it (for `socks5://` as well: as curl's `socks5h://`); an IP
//! address goes as an address. Credentials are percent-decoded and never
//! shown by `Debug`. Any answer but success is an error naming it (HTTP
//! status line, SOCKS5 reply), and a proxy that answers nothing is bounded
//! by `connect_timeout` like any connection attempt.
//!
//! The crates that do this (async-http-proxy, async-socks5, tokio-socks)
//! are each tied to one runtime; these two handshakes are short enough to
//! be written here once, over `futures-io`.

use std::fmt;
use std::io;
use std::net::IpAddr;

use base64::Engine as _;
use futures_util::{AsyncReadExt, AsyncWriteExt};

use crate::config::{
    BrokerUri, ConfigError, UriError, authority, parse_uri, redact_uri, write_userinfo,
};
use crate::runtime::Transport;

/// The proxy protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// HTTP `CONNECT`.
    Http,
    /// SOCKS5 `CONNECT`.
    Socks5,
}

/// A parsed `proxy` URI.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    /// The protocol.
    pub kind: ProxyKind,
    /// Host name or IP address of the proxy (IPv6 without brackets).
    pub host: String,
    /// Port of the proxy.
    pub port: u16,
    credentials: Option<(String, String)>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field(
                "credentials",
                &self
                    .credentials
                    .as_ref()
                    .map(|(user, _)| (user, "<redacted>")),
            )
            .finish()
    }
}

/// The proxy schemes: name, protocol, default port.
const PROXY_SCHEMES: &[(&str, ProxyKind, u16)] = &[
    ("http", ProxyKind::Http, 8080),
    ("socks5", ProxyKind::Socks5, 1080),
    ("socks5h", ProxyKind::Socks5, 1080),
];

crate::config::serde_as_uri_text!(Proxy);

impl TryFrom<&str> for Proxy {
    type Error = ConfigError;
    fn try_from(s: &str) -> Result<Self, ConfigError> {
        Self::parse(s)
    }
}

/// The longest HTTP response head read from a proxy.
const MAX_HTTP_HEAD: usize = 8 * 1024;

impl Proxy {
    /// Parses `http://`, `socks5://` or `socks5h://` URIs, with optional
    /// percent-encoded credentials (the broker URI's parser, with the proxy
    /// schemes).
    pub fn parse(uri: &str) -> Result<Self, ConfigError> {
        let err = |reason| ConfigError::InvalidProxy {
            uri: redact_uri(uri),
            reason,
        };
        let parts =
            parse_uri(uri, PROXY_SCHEMES, "http://, socks5:// or socks5h://").map_err(err)?;
        if !matches!(parts.path.as_str(), "" | "/") || parts.query.is_some() {
            return Err(err(UriError::ProxyPath));
        }
        let credentials = match (parts.username, parts.password) {
            (None, None) => None,
            (user, password) => {
                let password = String::from_utf8(password.unwrap_or_default().to_vec())
                    .map_err(|_| err(UriError::InvalidCredentials))?;
                Some((user.unwrap_or_default(), password))
            }
        };
        if parts.kind == ProxyKind::Socks5
            && let Some((user, password)) = &credentials
            && (user.is_empty() || user.len() > 255 || password.len() > 255)
        {
            return Err(err(UriError::Socks5Credentials));
        }
        Ok(Self {
            kind: parts.kind,
            host: parts.host,
            port: parts.port,
            credentials,
        })
    }

    /// The proxy URI as text, credentials included (what serialization
    /// writes).
    fn to_uri_string(&self) -> String {
        let scheme = match self.kind {
            ProxyKind::Http => "http",
            ProxyKind::Socks5 => "socks5",
        };
        let mut s = format!("{scheme}://");
        if let Some((user, password)) = &self.credentials {
            let _ = write_userinfo(&mut s, Some(user), Some(password.as_bytes()));
        }
        s.push_str(&authority(&self.host, self.port));
        s
    }

    /// Asks the proxy, over `stream` (a connection to it), for a tunnel to
    /// the broker at `uri` (its host and port); returns the stream, now the
    /// tunnel.
    pub async fn tunnel(
        &self,
        mut stream: Box<dyn Transport>,
        uri: &BrokerUri,
    ) -> io::Result<Box<dyn Transport>> {
        match self.kind {
            ProxyKind::Http => self.http_connect(&mut stream, uri).await?,
            ProxyKind::Socks5 => {
                self.socks5_connect(&mut stream, &uri.host, uri.port)
                    .await?
            }
        }
        Ok(stream)
    }

    async fn http_connect(
        &self,
        stream: &mut Box<dyn Transport>,
        uri: &BrokerUri,
    ) -> io::Result<()> {
        let authority = uri.authority();
        let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some((user, password)) = &self.credentials {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await?;
        stream.flush().await?;
        // The head, a byte at a time: nothing of the tunnel is read ahead.
        let mut head = Vec::with_capacity(128);
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() >= MAX_HTTP_HEAD {
                return Err(proxy_error(format!(
                    "HTTP proxy: response head over {MAX_HTTP_HEAD} bytes"
                )));
            }
            if stream.read(&mut byte).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "HTTP proxy closed the connection before answering CONNECT",
                ));
            }
            head.push(byte[0]);
        }
        let status_line = head
            .split(|&b| b == b'\n')
            .next()
            .map(|l| String::from_utf8_lossy(l).trim_end().to_owned())
            .unwrap_or_default();
        let mut parts = status_line.split_whitespace();
        let version = parts.next().unwrap_or("");
        let code = parts.next().and_then(|c| c.parse::<u16>().ok());
        match code {
            Some(200..=299) if version.starts_with("HTTP/1.") => Ok(()),
            Some(407) => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("HTTP proxy refused CONNECT {authority}: {status_line}"),
            )),
            _ => Err(proxy_error(format!(
                "HTTP proxy refused CONNECT {authority}: {status_line:?}"
            ))),
        }
    }

    async fn socks5_connect(
        &self,
        stream: &mut Box<dyn Transport>,
        host: &str,
        port: u16,
    ) -> io::Result<()> {
        // Greeting: the methods we can do.
        let greeting: &[u8] = if self.credentials.is_some() {
            &[5, 2, 0x00, 0x02]
        } else {
            &[5, 1, 0x00]
        };
        stream.write_all(greeting).await?;
        stream.flush().await?;
        let mut choice = [0u8; 2];
        stream.read_exact(&mut choice).await?;
        if choice[0] != 5 {
            return Err(proxy_error(format!(
                "SOCKS5 proxy: answered version {} to the greeting",
                choice[0]
            )));
        }
        match (choice[1], &self.credentials) {
            (0x00, _) => {}
            (0x02, Some((user, password))) => {
                let mut auth = vec![1, user.len() as u8];
                auth.extend_from_slice(user.as_bytes());
                auth.push(password.len() as u8);
                auth.extend_from_slice(password.as_bytes());
                stream.write_all(&auth).await?;
                stream.flush().await?;
                let mut status = [0u8; 2];
                stream.read_exact(&mut status).await?;
                if status[1] != 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        format!(
                            "SOCKS5 proxy: user name and password refused (status {})",
                            status[1]
                        ),
                    ));
                }
            }
            (0xff, _) => {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    if self.credentials.is_some() {
                        "SOCKS5 proxy: accepts neither no authentication nor user name and password"
                    } else {
                        "SOCKS5 proxy: requires authentication (give user:password in the proxy URI)"
                    },
                ));
            }
            (other, _) => {
                return Err(proxy_error(format!(
                    "SOCKS5 proxy: chose method {other:#04x}, which was not offered"
                )));
            }
        }
        // CONNECT to the broker.
        let mut request = vec![5, 1, 0];
        match host.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => {
                request.push(1);
                request.extend_from_slice(&a.octets());
            }
            Ok(IpAddr::V6(a)) => {
                request.push(4);
                request.extend_from_slice(&a.octets());
            }
            Err(_) => {
                let name = host.as_bytes();
                if name.len() > 255 {
                    return Err(proxy_error(format!(
                        "SOCKS5 proxy: host name over 255 bytes: {host}"
                    )));
                }
                request.push(3);
                request.push(name.len() as u8);
                request.extend_from_slice(name);
            }
        }
        request.extend_from_slice(&port.to_be_bytes());
        stream.write_all(&request).await?;
        stream.flush().await?;
        let mut reply = [0u8; 4];
        stream.read_exact(&mut reply).await?;
        if reply[0] != 5 {
            return Err(proxy_error(format!(
                "SOCKS5 proxy: answered version {} to CONNECT",
                reply[0]
            )));
        }
        if reply[1] != 0 {
            return Err(proxy_error(format!(
                "SOCKS5 proxy: CONNECT {host}:{port} failed: {} ({:#04x})",
                socks5_reply(reply[1]),
                reply[1]
            )));
        }
        // The bound address, read and dropped: the tunnel starts after it.
        let rest = match reply[3] {
            1 => 4 + 2,
            4 => 16 + 2,
            3 => {
                let mut len = [0u8; 1];
                stream.read_exact(&mut len).await?;
                usize::from(len[0]) + 2
            }
            other => {
                return Err(proxy_error(format!(
                    "SOCKS5 proxy: unknown address type {other} in its reply"
                )));
            }
        };
        let mut bound = [0u8; 255 + 2];
        stream.read_exact(&mut bound[..rest]).await?;
        Ok(())
    }
}

/// RFC 1928 §6's replies.
fn socks5_reply(code: u8) -> &'static str {
    match code {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unassigned reply",
    }
}

fn proxy_error(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionRefused, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_uris_parse_with_defaults_and_decoded_credentials() {
        let p = Proxy::parse("http://proxy.example").unwrap();
        assert_eq!(
            (p.kind, p.host.as_str(), p.port, p.credentials.is_some()),
            (ProxyKind::Http, "proxy.example", 8080, false)
        );
        let p = Proxy::parse("socks5://u%40x:p%3Ass@[::1]:9050").unwrap();
        assert_eq!(
            (p.kind, p.host.as_str(), p.port),
            (ProxyKind::Socks5, "::1", 9050)
        );
        assert_eq!(p.credentials, Some(("u@x".to_owned(), "p:ss".to_owned())));
        assert_eq!(Proxy::parse("socks5h://10.0.0.1").unwrap().port, 1080);
        assert_eq!(Proxy::parse("http://h:80").unwrap().port, 80);
    }

    #[test]
    fn bad_proxy_uris_are_config_errors_without_the_password() {
        for (uri, why) in [
            ("https://h:1", "scheme https://"),
            ("socks4://h", "scheme socks4://"),
            ("http://", "no host"),
            ("http://h:1/path", "no path"),
            ("socks5://:secret@h", "1 to 255"),
            ("not a uri", "relative URL"),
        ] {
            match Proxy::parse(uri) {
                Err(e @ ConfigError::InvalidProxy { .. }) => {
                    let m = e.to_string();
                    assert!(m.contains(why), "{uri}: {m}");
                    assert!(!m.contains("secret"), "{m}");
                }
                other => panic!("{uri}: {other:?}"),
            }
        }
    }

    #[test]
    fn debug_never_shows_the_password() {
        let p = Proxy::parse("http://user:hunter2@h:3128").unwrap();
        let shown = format!("{p:?}");
        assert!(
            shown.contains("user") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
