//! The broker of the runtime-free examples (`blocking_loop` here, and the
//! async-std and smol quickstarts, which include this file with
//! `#[path = "../../mqtt-session/examples/common/broker.rs"] mod broker;`):
//! the one given with `--url mqtt://host:port`, or else an embedded rumqttd
//! on a free loopback port. Plain `std` and rumqttd, no async runtime of its
//! own to share (rumqttd runs its own threads).

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rumqttd::{ConnectionSettings, RouterConfig, ServerSettings};

/// The broker an example talks to.
#[derive(Debug)]
pub(crate) struct Broker {
    uri: String,
    host: String,
    port: u16,
    embedded: bool,
}

impl Broker {
    /// Reads the command line (`--url mqtt://host:port`, `--url=...`,
    /// `-h`); with no `--url`, starts an embedded rumqttd. Prints `usage`
    /// and exits with status 2 on an unknown or malformed argument.
    pub(crate) fn from_args(usage: &str) -> Result<Broker, String> {
        let fail = |msg: String| -> ! {
            eprintln!("{msg}\nusage: {usage}");
            std::process::exit(2)
        };
        let mut url = None;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.split_once('=') {
                Some(("--url", value)) => url = Some(value.to_owned()),
                _ if arg == "--url" => match args.next() {
                    Some(value) => url = Some(value),
                    None => fail("--url needs a value".into()),
                },
                _ if arg == "-h" || arg == "--help" => {
                    println!("usage: {usage}");
                    std::process::exit(0);
                }
                _ => fail(format!("unknown argument {arg:?}")),
            }
        }
        match url {
            Some(url) => Broker::parse(&url),
            None => Broker::embedded(),
        }
    }

    /// `mqtt://host[:port]` (port 1883 by default; an IPv6 address in
    /// brackets). Only plain TCP: the examples that take a URL drive TCP.
    fn parse(url: &str) -> Result<Broker, String> {
        let rest = url
            .strip_prefix("mqtt://")
            .ok_or_else(|| format!("--url {url}: only mqtt://host:port is supported here"))?;
        let authority = rest.trim_end_matches('/');
        let (host, port) = match authority.rsplit_once(':') {
            // `[::1]:1883`, `host:1883`; a bare IPv6 address needs brackets.
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
                let port = port
                    .parse()
                    .map_err(|_| format!("--url {url}: bad port {port:?}"))?;
                (host, port)
            }
            _ => (authority, 1883),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains('/') || host.contains('@') {
            return Err(format!("--url {url}: expected mqtt://host:port"));
        }
        Ok(Broker {
            uri: url.to_owned(),
            host: host.to_owned(),
            port,
            embedded: false,
        })
    }

    /// Starts rumqttd in this process (its own threads, in the background)
    /// with an MQTT 3.1.1 listener on a free port of 127.0.0.1, and returns
    /// once it accepts connections. It stops when the process exits.
    pub(crate) fn embedded() -> Result<Broker, String> {
        let mut last = String::new();
        // The free port could be taken before rumqttd binds it: retry.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("no free port: {e}"))?
                .port();
            let listen = SocketAddr::from(([127, 0, 0, 1], port));
            let mut broker = rumqttd::Broker::new(rumqttd_config(listen));
            std::thread::Builder::new()
                .name("rumqttd".into())
                .spawn(move || {
                    if let Err(e) = broker.start() {
                        eprintln!("embedded rumqttd: {e}");
                    }
                })
                .map_err(|e| format!("cannot start a thread: {e}"))?;
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_ok() {
                    return Ok(Broker {
                        uri: format!("mqtt://{listen}"),
                        host: "127.0.0.1".into(),
                        port,
                        embedded: true,
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            last = format!("rumqttd does not accept connections on {listen}");
        }
        Err(last)
    }

    /// `mqtt://host:port`.
    pub(crate) fn uri(&self) -> &str {
        &self.uri
    }

    /// The host name or address (IPv6 without brackets).
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Whether this is the embedded rumqttd.
    pub(crate) fn is_embedded(&self) -> bool {
        self.embedded
    }

    /// How to say which broker this is.
    pub(crate) fn describe(&self) -> String {
        if self.embedded {
            format!("embedded rumqttd at {}", self.uri)
        } else {
            self.uri.clone()
        }
    }
}

/// One MQTT 3.1.1 (rumqttd's "v4") listener on `listen`, with the limits of
/// rumqttd's sample `rumqttd.toml`.
fn rumqttd_config(listen: SocketAddr) -> rumqttd::Config {
    let server = ServerSettings {
        name: "v4-1".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections: ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: 20_480,
            max_inflight_count: 100,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    rumqttd::Config {
        id: 0,
        router: RouterConfig {
            max_connections: 10_010,
            max_outgoing_packet_count: 200,
            max_segment_size: 104_857_600,
            max_segment_count: 10,
            ..RouterConfig::default()
        },
        v4: Some(HashMap::from([("1".to_owned(), server)])),
        ..rumqttd::Config::default()
    }
}
