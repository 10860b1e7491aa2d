//! `mqtts://` against mosquitto's TLS listeners (loopback only), with
//! certificates made by the test: verification (chain, dates, host name),
//! `check_hostname = false`, `cafile` / `capath` / `cadata`, mutual TLS,
//! and ALPN and SNI seen by a small rustls server.

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

mod pki;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use futures_util::StreamExt;
use pki::Pki;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sansmqtt_tokio::transport::tls::{crypto_provider, rustls};
use sansmqtt_tokio::{
    BrokerUri, Client, ClientError, Config, ConfigError, ConnectError, Connector, DefaultConnector,
    ProtocolVersion, QoS, TokioRuntime,
};
use support::Mosquitto;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Listener ports of [`broker`].
struct Ports {
    valid: u16,
    expired: u16,
    wrong_host: u16,
    mutual: u16,
}

/// mosquitto with four TLS listeners: a valid certificate, an expired one,
/// one for another host, and the valid one requiring a client certificate.
fn broker(pki: &Pki) -> (Mosquitto, Ports) {
    let config = [
        pki.listener("{port0}", &pki.server, ""),
        pki.listener("{port1}", &pki.expired, ""),
        pki.listener("{port2}", &pki.wrong_host, ""),
        pki.listener("{port3}", &pki.server, "require_certificate true"),
    ]
    .concat();
    let (broker, p) = Mosquitto::start_with_ports(4, &config);
    let ports = Ports {
        valid: p[0],
        expired: p[1],
        wrong_host: p[2],
        mutual: p[3],
    };
    (broker, ports)
}

fn trusting(pki: &Pki) -> Config {
    Config {
        cafile: Some(pki.ca.clone()),
        ..fail_fast()
    }
}

fn fail_fast() -> Config {
    Config {
        auto_reconnect: false,
        connect_timeout: Duration::from_secs(5),
        ..Config::default()
    }
}

/// Connects, subscribes, publishes, receives: the TLS link carries MQTT
/// both ways.
async fn round_trip(uri: &str, config: Config) {
    let client = tokio::time::timeout(TIMEOUT, sansmqtt_tokio::connect(uri, config))
        .await
        .expect("connect timed out")
        .unwrap_or_else(|e| panic!("connect to {uri}: {e}"));
    let mut sub = client
        .subscription("tls/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    client
        .publish("tls/a", "over TLS", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    let m = tokio::time::timeout(TIMEOUT, sub.next())
        .await
        .expect("no message")
        .expect("stream ended");
    assert_eq!(m.topic().as_str(), "tls/a");
    assert_eq!(&m.payload()[..], b"over TLS");
    client.disconnect().await;
}

/// The transport error of the default connector: what the client's
/// connection attempt fails with.
async fn transport_error(uri: &str, config: &Config) -> String {
    let connector = DefaultConnector::new(Arc::new(TokioRuntime::current()), config).unwrap();
    let uri = BrokerUri::parse(uri).unwrap();
    match tokio::time::timeout(TIMEOUT, connector.connect(&uri)).await {
        Ok(Ok(_)) => panic!("{uri}: the TLS handshake succeeded"),
        Ok(Err(e)) => e.to_string(),
        Err(_) => panic!("{uri}: the TLS handshake timed out"),
    }
}

/// The client's error connecting to `uri`.
async fn client_error(uri: &str, config: Config) -> ClientError {
    match tokio::time::timeout(TIMEOUT, sansmqtt_tokio::connect(uri, config)).await {
        Ok(Ok(_)) => panic!("{uri}: connected"),
        Ok(Err(e)) => e,
        Err(_) => panic!("{uri}: connect timed out"),
    }
}

/// The handshake fails naming `cause`, and so does the client's connect.
async fn refused(uri: &str, config: Config, cause: &str) {
    let e = transport_error(uri, &config).await;
    assert!(e.contains(cause), "{uri}: expected {cause:?} in {e:?}");
    assert!(e.contains("TLS handshake with"), "{e}");
    let e = client_error(uri, config).await;
    assert!(
        matches!(e, ClientError::Connect(ConnectError::Transport { .. })),
        "{uri}: expected a transport error, got {e:?}"
    );
    // The client's error names the transport's cause too.
    assert!(
        e.to_string().contains(cause),
        "{uri}: expected {cause:?} in {e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_chain_connects_by_name_and_by_ip() {
    let pki = Pki::new();
    let (_broker, ports) = broker(&pki);
    round_trip(
        &format!("mqtts://localhost:{}", ports.valid),
        trusting(&pki),
    )
    .await;
    round_trip(
        &format!("mqtts://127.0.0.1:{}", ports.valid),
        trusting(&pki),
    )
    .await;
    // MQTT 5 over TLS too.
    let v5 = Config {
        protocol_version: ProtocolVersion::V5.into(),
        ..trusting(&pki)
    };
    round_trip(&format!("mqtts://localhost:{}", ports.valid), v5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_host_name_is_refused() {
    let pki = Pki::new();
    let (_broker, ports) = broker(&pki);
    let uri = format!("mqtts://localhost:{}", ports.wrong_host);
    refused(&uri, trusting(&pki), "not valid for name").await;
    let e = transport_error(&uri, &trusting(&pki)).await;
    assert!(e.contains("wrong.example"), "{e}");
    assert!(e.contains("check_hostname"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ca_is_refused() {
    let pki = Pki::new();
    let (_broker, ports) = broker(&pki);
    let uri = format!("mqtts://localhost:{}", ports.valid);
    // The default roots (Mozilla's) do not know the test CA.
    refused(&uri, fail_fast(), "UnknownIssuer").await;
    // Nor does another CA given as cafile (which replaces the defaults).
    let other = Config {
        cafile: Some(pki.other_ca.clone()),
        ..fail_fast()
    };
    refused(&uri, other, "UnknownIssuer").await;
    let e = transport_error(&uri, &fail_fast()).await;
    assert!(e.contains("not signed by a trusted CA"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_certificate_is_refused() {
    let pki = Pki::new();
    let (_broker, ports) = broker(&pki);
    let uri = format!("mqtts://localhost:{}", ports.expired);
    refused(&uri, trusting(&pki), "expired").await;
}

/// A downgrade is refused (issue #16): `mqtts://` to a server that does
/// not speak TLS (mosquitto's plain MQTT listener, and a server answering
/// the ClientHello in plain text) fails the handshake with a transport
/// error; the client never falls back to a connection in clear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_tls_is_refused() {
    let pki = Pki::new();
    let plain = Mosquitto::start("");
    let uri = format!("mqtts://localhost:{}", plain.port());
    refused(&uri, trusting(&pki), "TLS handshake with").await;

    let (port, server) = support::plain_text_server(2);
    let uri = format!("mqtts://localhost:{port}");
    refused(&uri, trusting(&pki), "TLS handshake with").await;
    server.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_hostname_false_skips_the_name_check_only() {
    let pki = Pki::new();
    let (_broker, ports) = broker(&pki);
    let insecure = |cafile| Config {
        check_hostname: false,
        cafile: Some(cafile),
        ..fail_fast()
    };
    round_trip(
        &format!("mqtts://localhost:{}", ports.wrong_host),
        insecure(pki.ca.clone()),
    )
    .await;
    // The chain is still verified: unknown CA, expired certificate.
    refused(
        &format!("mqtts://localhost:{}", ports.wrong_host),
        insecure(pki.other_ca.clone()),
        "UnknownIssuer",
    )
    .await;
    refused(
        &format!("mqtts://localhost:{}", ports.expired),
        insecure(pki.ca.clone()),
        "expired",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_with_a_client_certificate() {
    let pki = Pki::new();
    let (broker, ports) = broker(&pki);
    let uri = format!("mqtts://localhost:{}", ports.mutual);
    let with_cert = Config {
        certfile: Some(pki.client.cert.clone()),
        keyfile: Some(pki.client.key.clone()),
        ..trusting(&pki)
    };
    round_trip(&uri, with_cert).await;

    // Without a certificate the broker refuses: with TLS 1.3 the client's
    // handshake completes and the broker's alert ends the connection before
    // CONNACK; the error carries the alert.
    let e = client_error(&uri, trusting(&pki)).await;
    match &e {
        ClientError::Connect(lost @ ConnectError::LostBeforeConnAck { .. }) => {
            let text = lost.to_string();
            assert!(
                text.contains("before CONNACK") && text.to_lowercase().contains("alert"),
                "{text}"
            )
        }
        other => panic!("{other:?}"),
    }
    // A certificate of a CA the broker does not trust is refused too.
    let untrusted = Config {
        certfile: Some(pki.untrusted_client.cert.clone()),
        keyfile: Some(pki.untrusted_client.key.clone()),
        ..trusting(&pki)
    };
    let e = client_error(&uri, untrusted).await;
    assert!(
        matches!(e, ClientError::Connect(_) | ClientError::Connection(_)),
        "{e:?}"
    );
    let log = broker.log();
    assert!(
        log.contains("certificate") || log.contains("OpenSSL Error"),
        "the broker logged no certificate refusal:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cadata_and_capath_are_trusted() {
    let pki = Pki::new();
    let (_broker, ports) = broker(&pki);
    let uri = format!("mqtts://localhost:{}", ports.valid);
    let cadata = Config {
        cadata: Some(pki.ca_pem.clone()),
        ..fail_fast()
    };
    round_trip(&uri, cadata).await;

    let capath = pki.dir().join("capath");
    std::fs::create_dir_all(&capath).unwrap();
    std::fs::copy(&pki.ca, capath.join("test-ca.pem")).unwrap();
    std::fs::write(capath.join("README"), "not a certificate").unwrap();
    let config = Config {
        capath: Some(capath.clone()),
        ..fail_fast()
    };
    round_trip(&uri, config).await;

    // A capath of other CAs only: refused.
    let other = pki.dir().join("other-capath");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(&pki.other_ca, other.join("other.pem")).unwrap();
    let config = Config {
        capath: Some(other),
        ..fail_fast()
    };
    refused(&uri, config, "UnknownIssuer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tls_files_fail_when_the_client_is_built() {
    let pki = Pki::new();
    // No broker needed: the error comes before any connection.
    let uri = "mqtts://localhost:1";
    let cases = [
        (
            Config {
                cafile: Some(pki.dir().join("missing.pem")),
                ..fail_fast()
            },
            "cafile",
            "missing.pem",
        ),
        (
            Config {
                // A key is not a certificate.
                cafile: Some(pki.client.key.clone()),
                ..fail_fast()
            },
            "cafile",
            "no PEM certificate",
        ),
        (
            Config {
                certfile: Some(pki.client.cert.clone()),
                // The key of another certificate.
                keyfile: Some(pki.server.key.clone()),
                ..trusting(&pki)
            },
            "keyfile",
            "cannot be used with certificate",
        ),
        (
            Config {
                // A certificate file without a key in it.
                certfile: Some(pki.client.cert.clone()),
                ..trusting(&pki)
            },
            "keyfile",
            "no PEM private key",
        ),
    ];
    for (config, key, text) in cases {
        let e = client_error(uri, config).await;
        match &e {
            ClientError::Config(ConfigError::Tls { key: k, reason }) => {
                assert_eq!(*k, key, "{e}");
                assert!(reason.contains(text), "expected {text:?} in {e}");
            }
            other => panic!("expected a TLS config error, got {other:?}"),
        }
    }
}

/// What a TLS server saw of the client's hello.
#[derive(Debug)]
struct Hello {
    sni: Option<String>,
    alpn: Vec<String>,
}

/// A one-connection rustls server that records the client's hello (SNI,
/// ALPN offered), completes the handshake (choosing among `alpn`), and
/// answers CONNECT with CONNACK.
fn recording_tls_broker(
    pki: &Pki,
    alpn: &[&str],
) -> (u16, mpsc::Receiver<Hello>, thread::JoinHandle<()>) {
    let chain = CertificateDer::pem_file_iter(&pki.server.cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&pki.server.key).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    let server = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut acceptor = rustls::server::Acceptor::default();
        let accepted = loop {
            acceptor.read_tls(&mut tcp).unwrap();
            if let Some(accepted) = acceptor.accept().map_err(|(e, _)| e).unwrap() {
                break accepted;
            }
        };
        let hello = accepted.client_hello();
        let _ = tx.send(Hello {
            sni: hello.server_name().map(str::to_owned),
            alpn: hello
                .alpn()
                .into_iter()
                .flatten()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect(),
        });
        let conn = accepted
            .into_connection(config)
            .map_err(|(e, _)| e)
            .unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        // CONNECT (one read is enough for its small size), then CONNACK.
        let mut buf = [0u8; 1024];
        let n = tls.read(&mut buf).unwrap();
        assert_eq!(buf[0] >> 4, 1, "CONNECT expected, got {:02x?}", &buf[..n]);
        tls.write_all(&support::CONNACK_ACCEPTED).unwrap();
        tls.flush().unwrap();
        // Until the client disconnects.
        while matches!(tls.read(&mut buf), Ok(n) if n > 0) {}
    });
    (port, rx, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_and_sni_are_sent() {
    let pki = Pki::new();
    let (port, hello, server) = recording_tls_broker(&pki, &["mqtt"]);
    let config = Config {
        alpn: vec!["mqtt".into(), "x-test".into()],
        ..trusting(&pki)
    };
    let client = tokio::time::timeout(
        TIMEOUT,
        sansmqtt_tokio::connect(&format!("mqtts://localhost:{port}"), config),
    )
    .await
    .unwrap()
    .unwrap();
    let hello = hello.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(hello.sni.as_deref(), Some("localhost"));
    assert_eq!(hello.alpn, ["mqtt", "x-test"]);
    client.disconnect().await;
    server.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_supplied_rustls_config_is_used_as_is() {
    let pki = Pki::new();
    let (port, hello, server) = recording_tls_broker(&pki, &[]);
    // Trusts the test CA and offers its own ALPN; the Config's TLS keys
    // (here: none, so Mozilla's roots) are not used.
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(
        CertificateDer::pem_file_iter(&pki.ca)
            .unwrap()
            .map(Result::unwrap),
    );
    let mut tls = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"custom".to_vec()];
    let runtime = Arc::new(TokioRuntime::current());
    let connector = DefaultConnector::new(runtime.clone(), &fail_fast())
        .unwrap()
        .with_tls_config(Arc::new(tls));
    let client = tokio::time::timeout(
        TIMEOUT,
        Client::connect_with(
            runtime,
            Arc::new(connector),
            &format!("mqtts://localhost:{port}"),
            fail_fast(),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(hello.recv_timeout(TIMEOUT).unwrap().alpn, ["custom"]);
    client.disconnect().await;
    server.join().unwrap();
}
