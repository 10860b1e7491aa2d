//! From the connection flags to a connected [`Client`]: the broker URI
//! (`-h`/`-p` or `-L`), the [`Config`], and the connector (TCP bound to
//! `-A`, TLS, WebSocket, and the packet tap of `-d` / `-x`).

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use sansmqtt_proto::ProtocolVersion;
use sansmqtt_tokio::config::{
    ConfigError, Scheme, TextOrBytes, WillConfig, parse_protocol_version,
};
use sansmqtt_tokio::transport::proxy::Proxy;
use sansmqtt_tokio::{
    BoxFuture, BrokerUri, Client, ClientError, CloseReason, Config, ConnectError, ConnectionState,
    DisconnectOptions, QoS, TokioRuntime, TopicName, Transport,
};
use tokio::net::{TcpSocket, TcpStream};

use crate::args::Common;
use crate::exit::Exit;
use crate::properties::CliProperties;
use crate::tap::{Tap, Watch};

/// Where to connect, and what the URL said besides.
#[derive(Debug)]
pub(crate) struct Target {
    /// The broker URI given to the client (no credentials in it).
    pub(crate) uri: String,
    /// The topic of an `mqtt(s)://` URL's path (`-L`).
    pub(crate) url_topic: Option<String>,
    /// The protocol version.
    pub(crate) version: ProtocolVersion,
    /// The `-D` properties (those of CONNECT and the will are in the config).
    pub(crate) properties: CliProperties,
    /// The options of the final DISCONNECT (`-D disconnect`), if any.
    pub(crate) disconnect: Option<DisconnectOptions>,
}

/// The parts of a `-L` URL.
#[derive(Debug, PartialEq, Eq)]
struct Url {
    scheme: Scheme,
    user: Option<String>,
    password: Option<String>,
    host: String,
    port: Option<u16>,
    path: String,
}

/// mosquitto's `-L` syntax: `scheme://[user[:password]@]host[:port][/path]`.
fn parse_url(url: &str) -> Result<Url, Exit> {
    let bad = || Exit::usage(format!("Unsupported URL scheme or malformed URL: {url}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "mqtt" => Scheme::Mqtt,
        "mqtts" => Scheme::Mqtts,
        "ws" => Scheme::Ws,
        "wss" => Scheme::Wss,
        _ => return Err(bad()),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(u) => match u.split_once(':') {
            Some((user, pw)) => (Some(user.to_owned()), Some(pw.to_owned())),
            None => (Some(u.to_owned()), None),
        },
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse::<u16>().map_err(|_| bad())?),
            None if after.is_empty() => None,
            None => return Err(bad()),
        };
        (host.to_owned(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p.parse::<u16>().map_err(|_| bad())?)),
            None => (hostport.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok(Url {
        scheme,
        user,
        password,
        host,
        port,
        path: path.to_owned(),
    })
}

fn scheme_name(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::Mqtt => "mqtt",
        Scheme::Mqtts => "mqtts",
        Scheme::Ws => "ws",
        Scheme::Wss => "wss",
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// The URI, config and version of the connection flags.
pub(crate) fn prepare(common: &Common) -> Result<(Target, Config), Exit> {
    let mut config = Config::default();
    let tls = common.cafile.is_some() || common.capath.is_some() || common.cert.is_some();
    let (uri, url_topic, url_user, url_password) = match &common.url {
        Some(url) => {
            let u = parse_url(url)?;
            let port = u.port.unwrap_or(u.scheme.default_port());
            let path = if u.scheme.is_websocket() {
                if u.path.is_empty() { "/" } else { &u.path }
            } else {
                ""
            };
            let topic = (!u.scheme.is_websocket())
                .then(|| u.path.strip_prefix('/').unwrap_or(&u.path).to_owned())
                .filter(|t| !t.is_empty());
            let uri = format!(
                "{}://{}:{port}{path}",
                scheme_name(u.scheme),
                bracket(&u.host)
            );
            (uri, topic, u.user, u.password)
        }
        None => {
            let scheme = if tls { "mqtts" } else { "mqtt" };
            let host = common.host.as_deref().unwrap_or("localhost");
            let port = common.port.unwrap_or(if tls { 8883 } else { 1883 });
            (
                format!("{scheme}://{}:{port}", bracket(host)),
                None,
                None,
                None,
            )
        }
    };
    config.client_id = Some(match (&common.id, &common.id_prefix) {
        (Some(id), _) => id.clone(),
        (None, Some(prefix)) => format!("{prefix}{}", std::process::id()),
        (None, None) if common.persistent => {
            return Err(Exit::usage(
                "You must provide a client id if you are using the -c option.",
            ));
        }
        // As mosquitto 2.0: the broker assigns one.
        (None, None) => String::new(),
    });
    if common.keepalive < 5 {
        return Err(Exit::usage(
            "Invalid keepalive given, it must be between 5 and 65535 inclusive.",
        ));
    }
    config.keep_alive = Duration::from_secs(common.keepalive.into());
    config.cleansession = !common.persistent;
    config.username = common.username.clone().or(url_user);
    config.password = common
        .password
        .clone()
        .or(url_password)
        .map(|p| TextOrBytes::Text(p).into());
    if let Some(v) = &common.version {
        config.protocol_version = parse_protocol_version(v)
            .map_err(|e| Exit::usage(e.to_string()))?
            .into();
    }
    if !common.property.is_empty() {
        // As mosquitto: properties make it MQTT 5, whatever -V says.
        config.protocol_version = ProtocolVersion::V5.into();
    }
    if common.will_topic.is_none()
        && (common.will_payload.is_some() || common.will_qos.is_some() || common.will_retain)
    {
        return Err(Exit::usage(
            "Will payload, QoS or retain given, but no will topic given.",
        ));
    }
    if let Some(topic) = &common.will_topic {
        let topic = TopicName::try_from(topic.as_str()).map_err(|source| {
            let e = ConfigError::InvalidTopic {
                key: "will.topic".to_owned(),
                topic: topic.clone(),
                source,
            };
            Exit::general(format!("Error: {e}"))
        })?;
        let qos = common.will_qos.unwrap_or(0);
        let qos =
            QoS::try_from(qos).map_err(|_| Exit::usage(format!("Invalid QoS given: {qos}")))?;
        config.will = Some(WillConfig {
            message: TextOrBytes::Text(common.will_payload.clone().unwrap_or_default()),
            qos,
            retain: common.will_retain,
            ..WillConfig::new(topic)
        });
    }
    config.cafile = common.cafile.clone();
    config.capath = common.capath.clone();
    config.certfile = common.cert.clone();
    config.keyfile = common.key.clone();
    config.check_hostname = !common.insecure;
    if let Some(codec) = &common.codec {
        config.codec = codec.clone();
    }
    // A client like any other: reconnect after a loss, forever, soon; but a
    // broker that cannot be reached at all is an error at once, as with
    // mosquitto.
    config.auto_reconnect = true;
    config.reconnect_on_first_connect = false;
    config.reconnect_retries = -1;
    config.reconnect_max_interval = Duration::from_secs(2);
    let version = config.protocol_version.first();
    // -x: the Session Expiry Interval (MQTT 5 only, ignored otherwise as
    // mosquitto does). Without it the library's own: none (0), or never
    // with -c.
    if version == ProtocolVersion::V5 {
        config.session_expiry = common
            .session_expiry
            .map(|s| Duration::from_secs(u64::from(s)));
    }
    // mosquitto counts -x and -c as CONNECT's Session Expiry Interval.
    let expiry_set = common.session_expiry.is_some() || common.persistent;
    let properties = CliProperties::parse(&common.property, expiry_set)?;
    properties.apply_connect(&mut config)?;
    let disconnect = properties.disconnect(&config)?;
    config
        .validate()
        .map_err(|e| Exit::general(format!("Error: {e}")))?;
    Ok((
        Target {
            uri,
            url_topic,
            version,
            properties,
            disconnect,
        },
        config,
    ))
}

/// The address of `-A`: an IP address, or a host name resolved now.
fn bind_address(bind: &str) -> Result<IpAddr, Exit> {
    if let Ok(ip) = bind.parse::<IpAddr>() {
        return Ok(ip);
    }
    (bind, 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .map(|a| a.ip())
        .ok_or_else(|| Exit::general(format!("Error: Unable to resolve bind address {bind}.")))
}

/// A TCP connection to `host:port`, its local end bound to `bind` if given.
async fn open_tcp(host: &str, port: u16, bind: Option<IpAddr>) -> io::Result<TcpStream> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let Some(bind) = bind else {
        return TcpStream::connect((host, port)).await;
    };
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        if addr.is_ipv4() != bind.is_ipv4() {
            continue;
        }
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.bind(SocketAddr::new(bind, 0))?;
        match socket.connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("{host} has no address of the family of bind address {bind}"),
        )
    }))
}

/// Opens one transport: TCP (bound to `-A`; through `--proxy`), then TLS
/// and/or WebSocket as the scheme says, seen through the tap when `-d` or
/// `-x` asks.
async fn open(
    uri: BrokerUri,
    bind: Option<IpAddr>,
    proxy: Option<Arc<Proxy>>,
    proxy_failed: Arc<AtomicBool>,
    tls: Option<Arc<sansmqtt_tokio::transport::tls::rustls::ClientConfig>>,
    watch: Arc<Watch>,
) -> io::Result<Box<dyn Transport>> {
    use sansmqtt_tokio::transport::{tls as t, ws};
    // TCP (bound to -A) to the broker, or to the --proxy and through it.
    let (host, port) = match &proxy {
        Some(p) => (p.host.as_str(), p.port),
        None => (uri.host.as_str(), uri.port),
    };
    let tcp = open_tcp(host, port, bind).await?;
    tcp.set_nodelay(true)?;
    let mut tcp: Box<dyn Transport> = Box::new(sansmqtt_tokio::Tcp(tcp));
    if let Some(proxy) = &proxy {
        let tunnel = proxy.tunnel(tcp, &uri).await;
        proxy_failed.store(tunnel.is_err(), Ordering::Relaxed);
        tcp = tunnel?;
    }
    let no_headers = BTreeMap::new();
    let tls_config = || {
        tls.clone()
            .ok_or_else(|| io::Error::other("TLS is not configured"))
    };
    let transport: Box<dyn Transport> = match uri.scheme {
        Scheme::Mqtt => Box::new(tcp),
        Scheme::Mqtts => Box::new(t::connect(tls_config()?, &uri.host, tcp).await?),
        Scheme::Ws => Box::new(ws::connect(tcp, &uri, &no_headers).await?),
        Scheme::Wss => {
            let secure = t::connect(tls_config()?, &uri.host, tcp).await?;
            Box::new(ws::connect(secure, &uri, &no_headers).await?)
        }
    };
    if watch.is_needed() {
        Ok(Box::new(Tap::new(transport, watch)))
    } else {
        Ok(transport)
    }
}

/// Connects as the flags say; the error is the exit of a refused or failed
/// connection.
pub(crate) async fn connect(
    common: &Common,
    target: &Target,
    config: Config,
) -> Result<Client, Exit> {
    let bind = common.bind.as_deref().map(bind_address).transpose()?;
    let proxy = match &common.proxy {
        Some(url) => Some(Arc::new(
            Proxy::parse(url).map_err(|e| Exit::general(format!("Error: {e}")))?,
        )),
        None => None,
    };
    let uri = BrokerUri::parse(&target.uri).map_err(|e| Exit::general(format!("Error: {e}")))?;
    let tls = if uri.scheme.is_tls() {
        Some(
            sansmqtt_tokio::transport::tls::client_config(&config)
                .map_err(|e| Exit::general(format!("Error: {e}")))?,
        )
    } else {
        None
    };
    let watch = Arc::new(Watch::new(
        common.debug,
        target.version,
        config.client_id.as_deref().unwrap_or(""),
    ));
    // libmosquitto's MOSQ_ERR_PROXY (16) when the proxy refused the tunnel.
    let proxy_failed = Arc::new(AtomicBool::new(false));
    let failed = proxy_failed.clone();
    let connector = move |uri: &BrokerUri| -> BoxFuture<io::Result<Box<dyn Transport>>> {
        Box::pin(open(
            uri.clone(),
            bind,
            proxy.clone(),
            failed.clone(),
            tls.clone(),
            watch.clone(),
        ))
    };
    let runtime = Arc::new(TokioRuntime::current());
    Client::connect_with(runtime, Arc::new(connector), &target.uri, config)
        .await
        .map_err(|e| match connect_error(e, target.version) {
            exit if proxy_failed.load(Ordering::Relaxed) => Exit::new(16, exit.message),
            exit => exit,
        })
}

/// mosquitto's words for the MQTT 3.1.1 CONNACK return codes.
fn v3_refusal(code: u8) -> &'static str {
    match code {
        1 => "Connection Refused: unacceptable protocol version.",
        2 => "Connection Refused: identifier rejected.",
        3 => "Connection Refused: broker unavailable.",
        4 => "Connection Refused: bad user name or password.",
        5 => "Connection Refused: not authorised.",
        _ => "Connection Refused: unknown reason.",
    }
}

/// The exit of a connection the broker closed for good, or `None` for a
/// loss the client recovers from by reconnecting.
pub(crate) fn fatal_close(reason: &CloseReason, version: ProtocolVersion) -> Option<Exit> {
    match reason {
        CloseReason::Refused { reason, .. } => {
            let v3 = (version != ProtocolVersion::V5)
                .then(|| reason.v3_return_code())
                .flatten();
            Some(match v3 {
                Some(code) => Exit::new(code, format!("Connection error: {}", v3_refusal(code))),
                None => Exit::new(reason.code(), format!("Connection error: {reason}")),
            })
        }
        // mosquitto_sub's words: libmosquitto reads a 3.1.1 server's
        // CONNACK 0x01 to an MQTT 5 CONNECT as reason 0x84.
        CloseReason::UnsupportedProtocolVersion { requested, .. } if requested.is_v5() => {
            Some(Exit::new(
                0x84,
                "Connection error: Unsupported Protocol Version. Try connecting to an MQTT v5 broker, or use MQTT v3.x mode.".to_owned(),
            ))
        }
        CloseReason::UnsupportedProtocolVersion { .. } => {
            Some(Exit::new(1, format!("Connection error: {}", v3_refusal(1))))
        }
        CloseReason::ServerDisconnect { reason, .. } => {
            let code = if reason.code() >= 0x80 {
                reason.code()
            } else {
                1
            };
            Some(Exit::new(
                code,
                format!("Error: disconnected by the server: {reason}"),
            ))
        }
        CloseReason::ProtocolViolation(e) => Some(Exit::new(
            2,
            format!("Error: protocol violation by the broker: {e}"),
        )),
        _ => None,
    }
}

fn connect_error(e: ClientError, version: ProtocolVersion) -> Exit {
    match e {
        ClientError::Connection(reason) => fatal_close(&reason, version)
            .unwrap_or_else(|| Exit::general(format!("Error: {reason}"))),
        ClientError::Connect(ConnectError::UnsupportedProtocolVersion { version, .. }) => {
            let reason = CloseReason::UnsupportedProtocolVersion {
                requested: version,
                properties: Box::default(),
            };
            fatal_close(&reason, version)
                .unwrap_or_else(|| Exit::general(format!("Error: {reason}")))
        }
        ClientError::Connect(e) => Exit::general(format!("Error: {e}")),
        other => Exit::general(format!("Error: {other}")),
    }
}

/// Resolves with the exit of the first fatal close among the client's
/// state changes (a server DISCONNECT, a protocol violation, a refused
/// reconnection); never resolves otherwise. With `debug` (`-d`), every
/// close of the connection is logged with its reason (stdout, as the
/// packets are), e.g. `Client X connection closed: connection lost`.
pub(crate) async fn watch_fatal(client: Client, version: ProtocolVersion, debug: bool) -> Exit {
    let mut states = client.state_changes();
    drop(client);
    while let Some(state) = states.next().await {
        let ConnectionState::Disconnected {
            reason: Some(reason),
        } = state
        else {
            continue;
        };
        if debug {
            println!("Client connection closed: {reason}");
        }
        if let Some(exit) = fatal_close(&reason, version) {
            return exit;
        }
    }
    std::future::pending().await
}

/// The final DISCONNECT: with `-D disconnect` properties when given, else a
/// plain one; waits at most 5 s.
pub(crate) async fn disconnect(client: &Client, options: Option<DisconnectOptions>) {
    let done = async {
        match options {
            Some(options) => {
                if client.disconnect_with(options).await.is_err() {
                    client.disconnect().await;
                }
            }
            None => client.disconnect().await,
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), done).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_like_mosquitto() {
        let u = parse_url("mqtt://alice:s3cret@broker:1884/a/b").unwrap();
        assert_eq!(u.scheme, Scheme::Mqtt);
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("s3cret"));
        assert_eq!((u.host.as_str(), u.port), ("broker", Some(1884)));
        assert_eq!(u.path, "/a/b");
        let u = parse_url("wss://[::1]/mqtt").unwrap();
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port),
            (Scheme::Wss, "::1", None)
        );
        assert!(parse_url("http://broker/a").is_err());
        assert!(parse_url("mqtt://broker:notaport/a").is_err());
        assert!(parse_url("mqtt:///a").is_err());
    }
}
