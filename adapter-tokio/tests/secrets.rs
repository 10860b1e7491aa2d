//! Issue #16: a secret never appears in the log, in `Debug` output or in
//! an error's text, whatever path it takes: the password (configuration
//! and broker URI), the proxy's credentials, MQTT 5 authentication data, a
//! WebSocket `Authorization` header, the private key of a TLS client
//! certificate. Each is sent on a connection that
//! fails (refused credentials, a proxy refusing its credentials, an
//! authentication method the broker does not know, a WebSocket server
//! answering 401), and everything the application can see is searched.
//! (Its own test binary: the `log` recorder is process-wide.)

mod pki;
mod recorder;
#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

use std::time::Duration;

use recorder::records;
use sansmqtt_tokio::config::{ExtraHeaders, Proxy, TextOrBytes};
use sansmqtt_tokio::{Config, ProtocolVersion};
use support::{FakeBroker, Mosquitto, Socks5Relay};

const T: Duration = Duration::from_secs(10);

/// Every secret of this test, each used once.
const SECRETS: [&str; 7] = [
    "uri-secret-1",
    "config-secret-2",
    "proxy-secret-3",
    "auth-secret-4",
    "header-secret-5",
    "refused-secret-6",
    "key-secret-7",
];

fn fail_fast(id: &str) -> Config {
    Config {
        client_id: Some(id.into()),
        auto_reconnect: false,
        connect_timeout: Duration::from_secs(5),
        ..Config::default()
    }
}

/// Connects with `config` to `uri`, which must fail; returns what the
/// application sees: the error's text and `Debug`, and the config's `Debug`.
async fn fails(uri: &str, config: Config) -> Vec<String> {
    let shown = format!("{config:?}");
    let error = tokio::time::timeout(T, sansmqtt_tokio::connect(uri, config))
        .await
        .expect("the connect ends")
        .expect_err("the connect fails");
    vec![error.to_string(), format!("{error:?}"), shown]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_logged_shown_or_in_an_error() {
    recorder::install();
    let mut seen = Vec::new();

    // Refused credentials: a scripted broker answers CONNACK 0x04 (bad user
    // name or password) to a password from the URI, then to one from the
    // configuration.
    let (mut fake, port) = FakeBroker::bind();
    let broker = std::thread::spawn(move || {
        for _ in 0..2 {
            fake.accept(T).expect("the client connects");
            fake.read_packet(T).expect("CONNECT");
            fake.write(&[0x20, 0x02, 0x00, 0x04]).expect("CONNACK");
            fake.drop_connection();
        }
    });
    let uri = format!("mqtt://alice:uri-secret-1@127.0.0.1:{port}");
    seen.extend(fails(&uri, fail_fast("secrets-uri")).await);
    let config = Config {
        username: Some("bob".into()),
        password: Some(TextOrBytes::Text("refused-secret-6".into()).into()),
        ..fail_fast("secrets-config")
    };
    seen.extend(fails(&format!("mqtt://127.0.0.1:{port}"), config).await);
    broker.join().unwrap();

    // A SOCKS5 proxy that refuses our credentials; and the password of the
    // configuration on the way.
    let proxy = Socks5Relay::start(Some(("carol", "another-password")));
    let config = Config {
        proxy: Some(
            Proxy::parse(&format!(
                "socks5://carol:proxy-secret-3@127.0.0.1:{}",
                proxy.port()
            ))
            .unwrap(),
        ),
        password: Some(TextOrBytes::Text("config-secret-2".into()).into()),
        username: Some("carol".into()),
        ..fail_fast("secrets-proxy")
    };
    seen.extend(fails("mqtt://127.0.0.1:1883", config).await);

    // MQTT 5 authentication data for a method mosquitto does not know.
    let mosquitto = Mosquitto::start("");
    let config = Config {
        protocol_version: ProtocolVersion::V5.into(),
        authentication_method: Some("SCRAM-SHA-256".into()),
        authentication_data: Some(TextOrBytes::Text("auth-secret-4".into()).into()),
        ..fail_fast("secrets-auth")
    };
    seen.extend(fails(&mosquitto.uri(), config).await);

    // A WebSocket `Authorization` header, to a server that answers 401.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ws_port = listener.local_addr().unwrap().port();
    let ws = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut stream, _) = listener.accept().expect("the client connects");
        let mut request = [0u8; 2048];
        let n = stream.read(&mut request).unwrap_or(0);
        let _ = stream.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
        String::from_utf8_lossy(&request[..n]).into_owned()
    });
    let mut headers = ExtraHeaders::default();
    headers
        .insert("Authorization", "Bearer header-secret-5")
        .expect("a valid header");
    let config = Config {
        extra_headers: headers,
        ..fail_fast("secrets-ws")
    };
    seen.extend(fails(&format!("ws://127.0.0.1:{ws_port}/mqtt"), config).await);
    let request = ws.join().unwrap();
    assert!(
        request.contains("header-secret-5"),
        "the header was sent: {request}"
    );

    // A TLS client certificate whose private key file holds something that
    // is not a key: the error names the file, never its content.
    let pki = pki::Pki::new();
    let key = pki.dir().join("broken-key.pem");
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nkey-secret-7-key-secret-7\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let config = Config {
        certfile: Some(pki.client.cert.clone()),
        keyfile: Some(key),
        cafile: Some(pki.ca.clone()),
        ..fail_fast("secrets-key")
    };
    seen.extend(
        fails(
            &format!("mqtts://127.0.0.1:{}", support::free_port()),
            config,
        )
        .await,
    );

    // The driver logs from its own task: give it a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let records = records();
    assert!(
        records.iter().any(|r| r.contains("secrets-uri")),
        "the connections were logged: {records:#?}"
    );
    seen.extend(records);
    // Known exception, left to a decision (issue #16): tungstenite, the
    // WebSocket dependency, logs the upgrade request at TRACE with its
    // headers (target `tungstenite::handshake::client`), extra headers
    // included; the guide says to keep that target below TRACE when
    // `extra_headers` carry credentials. Every other record is searched.
    let (tungstenite_trace, seen): (Vec<String>, Vec<String>) = seen
        .into_iter()
        .partition(|r| r.starts_with("TRACE tungstenite::handshake::client:"));
    assert!(
        tungstenite_trace
            .iter()
            .any(|r| r.contains("header-secret-5")),
        "tungstenite no longer logs the request: drop the exception"
    );
    println!("{}", seen.join("\n"));
    for secret in SECRETS {
        let leaks: Vec<_> = seen.iter().filter(|s| s.contains(secret)).collect();
        assert!(leaks.is_empty(), "{secret} shown: {leaks:#?}");
    }
}
