//! Config key `proxy`: the session with mosquitto through an HTTP `CONNECT`
//! proxy (written here, a few lines of tokio) and a SOCKS5 proxy (the
//! support module's `Socks5Relay`), so that the tests see exactly what the
//! client asked of them, and their refusals as named errors.

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sansmqtt_tokio::config::Proxy;
use sansmqtt_tokio::{ClientError, Config, QoS};
use support::{Mosquitto, Socks5Relay};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const T: Duration = Duration::from_secs(10);

/// What a proxy was asked, one line per request.
type Seen = Arc<Mutex<Vec<String>>>;

/// An HTTP proxy on a free loopback port: answers `CONNECT host:port` with
/// 200 and relays, or 407 when `credentials` (the `Proxy-Authorization`
/// value it wants) are not given. Records each request head.
async fn http_proxy(credentials: Option<&'static str>) -> (u16, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Seen::default();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                log.lock().unwrap().push(head.clone());
                if let Some(want) = credentials
                    && !head.contains(&format!("Proxy-Authorization: {want}\r\n"))
                {
                    let _ = client
                        .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\n\r\n")
                        .await;
                    return;
                }
                let target = head
                    .strip_prefix("CONNECT ")
                    .and_then(|r| r.split(' ').next())
                    .unwrap_or("")
                    .to_owned();
                let Ok(mut upstream) = TcpStream::connect(target.as_str()).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (port, seen)
}

fn config(proxy: String) -> Config {
    Config {
        proxy: Some(Proxy::parse(&proxy).expect("a valid proxy URI")),
        reconnect_on_first_connect: false,
        ..Config::default()
    }
}

/// A QoS 1 round trip through the proxy: subscribe, publish, receive.
async fn round_trip(uri: &str, config: Config) -> Result<(), ClientError> {
    let client = sansmqtt_tokio::connect(uri, config).await?;
    client.subscribe(&[("proxied/#", QoS::AtLeastOnce)]).await?;
    client
        .publish("proxied/1", "through", QoS::AtLeastOnce, false)
        .await?;
    let m = tokio::time::timeout(T, client.deliver_message())
        .await
        .expect("the message comes back")
        .expect("a message");
    assert_eq!(&m.payload()[..], b"through");
    client.disconnect().await;
    Ok(())
}

/// HTTP CONNECT to the broker's `host:port`, with `Host` and Basic
/// credentials (percent-decoded from the URI); then MQTT through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_connect_proxy_carries_the_session_with_basic_credentials() {
    let broker = Mosquitto::start("");
    // base64("user:p@ss")
    let (port, seen) = http_proxy(Some("Basic dXNlcjpwQHNz")).await;
    let proxy = format!("http://user:p%40ss@127.0.0.1:{port}");
    tokio::time::timeout(T, round_trip(&broker.uri(), config(proxy)))
        .await
        .expect("in time")
        .expect("the session goes through the proxy");
    let seen = seen.lock().unwrap().clone();
    let authority = format!("127.0.0.1:{}", broker.port());
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with(&format!(
            "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
        )),
        "{seen:?}"
    );
}

/// A proxy that wants credentials answers 407: `connect` fails with an
/// error that says so, at once (no retry loop hides it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_proxy_refusal_is_an_error_naming_it() {
    let broker = Mosquitto::start("");
    let (port, _) = http_proxy(Some("Basic dXNlcjpwQHNz")).await;
    for proxy in [
        format!("http://127.0.0.1:{port}"),
        format!("http://user:wrong@127.0.0.1:{port}"),
    ] {
        let e = tokio::time::timeout(T, sansmqtt_tokio::connect(&broker.uri(), config(proxy)))
            .await
            .expect("in time")
            .expect_err("refused");
        let text = e.to_string();
        assert!(matches!(e, ClientError::Connect(_)), "{e:?}");
        assert!(text.contains("407 Proxy Authentication Required"), "{text}");
        assert!(!text.contains("wrong"), "no password in errors: {text}");
    }
}

/// SOCKS5 with user name and password: the broker's host name goes to the
/// proxy, which resolves it (`localhost` here); an IP address goes as an
/// address. MQTT through it both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_proxy_carries_the_session_and_resolves_the_name() {
    let broker = Mosquitto::start("");
    // The bound address in the proxy's reply as a domain name: the form
    // that has a length to read through.
    let relay = Socks5Relay::with_domain_reply(Some(("user", "secret")));
    let proxy = format!("socks5://user:secret@127.0.0.1:{}", relay.port());
    for uri in [format!("mqtt://localhost:{}", broker.port()), broker.uri()] {
        tokio::time::timeout(T, round_trip(&uri, config(proxy.clone())))
            .await
            .expect("in time")
            .expect("the session goes through the proxy");
    }
    assert_eq!(
        relay.seen(),
        [
            format!("domain localhost:{}", broker.port()),
            format!("ipv4 127.0.0.1:{}", broker.port())
        ]
    );
}

/// SOCKS5 refusals: wrong credentials, none where some are required, and a
/// CONNECT the proxy cannot make (its reply named).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_refusals_are_errors_naming_them() {
    let relay = Socks5Relay::start(Some(("user", "secret")));
    let port = relay.port();
    let cases = [
        (
            format!("socks5://user:nope@127.0.0.1:{port}"),
            "user name and password refused",
        ),
        (
            format!("socks5h://127.0.0.1:{port}"),
            "requires authentication",
        ),
    ];
    for (proxy, why) in cases {
        let e = tokio::time::timeout(
            T,
            sansmqtt_tokio::connect("mqtt://127.0.0.1:1", config(proxy)),
        )
        .await
        .expect("in time")
        .expect_err("refused");
        assert!(e.to_string().contains(why), "{e}");
    }
    // Nothing listens on the broker's port: the proxy's reply 5.
    let open = Socks5Relay::start(None);
    let closed = support::free_port();
    let e = tokio::time::timeout(
        T,
        sansmqtt_tokio::connect(
            &format!("mqtt://127.0.0.1:{closed}"),
            config(format!("socks5://127.0.0.1:{}", open.port())),
        ),
    )
    .await
    .expect("in time")
    .expect_err("refused");
    assert!(e.to_string().contains("connection refused (0x05)"), "{e}");
}
