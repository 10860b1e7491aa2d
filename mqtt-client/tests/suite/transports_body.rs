// The test bodies of `adapter-async-std/tests/transports.rs` and
// `adapter-smol/tests/transports.rs`, written once (`include!`d after each
// file defines `adapter`, `runtime()`, `within` and `run` for its runtime).

fn fail_fast() -> Config {
    Config {
        auto_reconnect: false,
        connect_timeout: Duration::from_secs(5),
        ..Config::default()
    }
}

fn trusting(pki: &Pki) -> Config {
    Config {
        cafile: Some(pki.ca.clone()),
        ..fail_fast()
    }
}

async fn connect(uri: &str, config: Config) -> Client {
    within("connect", adapter::connect(uri, config))
        .await
        .unwrap_or_else(|e| panic!("connect to {uri}: {e}"))
}

async fn next<S: Stream + Unpin>(stream: &mut S) -> S::Item {
    within("a message", stream.next())
        .await
        .expect("the stream ended")
}

/// Connects, subscribes to `prefix/#`, publishes small payloads at each
/// QoS and receives them: the link carries MQTT both ways. (Small: the
/// websockets listener of mosquitto is slow with large messages.)
async fn round_trip(uri: &str, config: Config, prefix: &str) {
    let client = connect(uri, config).await;
    let mut sub = client
        .subscription(&format!("{prefix}/#"), QoS::ExactlyOnce)
        .await
        .unwrap();
    for (name, qos) in [
        ("a", QoS::AtMostOnce),
        ("b", QoS::AtLeastOnce),
        ("c", QoS::ExactlyOnce),
    ] {
        let topic = format!("{prefix}/{name}");
        let payload = format!("{uri} {name}");
        client
            .publish(&topic, payload.clone(), qos, false)
            .await
            .unwrap();
        let m = next(&mut sub).await;
        assert_eq!(m.topic().as_str(), topic);
        assert_eq!(&m.payload()[..], payload.as_bytes());
    }
    client.disconnect().await;
}

/// The client's error connecting to `uri`.
async fn client_error(uri: &str, config: Config) -> ClientError {
    match within("connect", adapter::connect(uri, config)).await {
        Ok(_) => panic!("{uri}: connected"),
        Err(e) => e,
    }
}

/// The transport error of the default connector on this runtime: what the
/// client's connection attempt fails with.
async fn transport_error(uri: &str, config: &Config) -> String {
    let connector = DefaultConnector::new(runtime(), config).unwrap();
    let uri = BrokerUri::parse(uri).unwrap();
    match within("the TLS handshake", connector.connect(&uri)).await {
        Ok(_) => panic!("{uri}: the TLS handshake succeeded"),
        Err(e) => e.to_string(),
    }
}

/// Listener ports of [`tls_broker`].
struct TlsPorts {
    valid: u16,
    wrong_host: u16,
    mutual: u16,
}

/// mosquitto with three TLS listeners: a valid certificate, one for
/// another host, and the valid one requiring a client certificate.
fn tls_broker(pki: &Pki) -> (Mosquitto, TlsPorts) {
    let config = [
        pki.listener("{port0}", &pki.server, ""),
        pki.listener("{port1}", &pki.wrong_host, ""),
        pki.listener("{port2}", &pki.server, "require_certificate true"),
    ]
    .concat();
    let (broker, p) = Mosquitto::start_with_ports(3, &config);
    let ports = TlsPorts {
        valid: p[0],
        wrong_host: p[1],
        mutual: p[2],
    };
    (broker, ports)
}

#[test]
fn mqtts_round_trip_with_cafile_and_cadata() {
    run(async {
        let pki = Pki::new();
        let (_broker, ports) = tls_broker(&pki);
        round_trip(
            &format!("mqtts://localhost:{}", ports.valid),
            trusting(&pki),
            "tls/cafile",
        )
        .await;
        let cadata = Config {
            cadata: Some(pki.ca_pem.clone()),
            protocol_version: ProtocolVersion::V5.into(),
            ..fail_fast()
        };
        round_trip(
            &format!("mqtts://127.0.0.1:{}", ports.valid),
            cadata,
            "tls/cadata",
        )
        .await;
    });
}

#[test]
fn mqtts_wrong_host_name_is_refused() {
    run(async {
        let pki = Pki::new();
        let (_broker, ports) = tls_broker(&pki);
        let uri = format!("mqtts://localhost:{}", ports.wrong_host);
        let e = transport_error(&uri, &trusting(&pki)).await;
        assert!(e.contains("TLS handshake with"), "{e}");
        assert!(e.contains("not valid for name"), "{e}");
        assert!(e.contains("wrong.example"), "{e}");
        let e = client_error(&uri, trusting(&pki)).await;
        assert!(matches!(e, ClientError::Connect(_)), "{e:?}");
        // The chain is fine: without the name check the same listener works.
        let insecure = Config {
            check_hostname: false,
            ..trusting(&pki)
        };
        round_trip(&uri, insecure, "tls/insecure").await;
    });
}

/// A downgrade is refused (issue #16): `mqtts://` to a server that does
/// not speak TLS (mosquitto's plain MQTT listener, and a server answering
/// the ClientHello in plain text) fails the TLS handshake with a typed
/// error; the client never falls back to a connection in clear.
#[test]
fn mqtts_to_a_server_without_tls_is_refused() {
    run(async {
        let pki = Pki::new();
        let plain = Mosquitto::start("");
        let uri = format!("mqtts://localhost:{}", plain.port());
        let e = transport_error(&uri, &trusting(&pki)).await;
        assert!(e.contains("TLS handshake with"), "{e}");
        let e = client_error(&uri, trusting(&pki)).await;
        assert!(matches!(e, ClientError::Connect(_)), "{e:?}");

        let (port, server) = support::plain_text_server(2);
        let uri = format!("mqtts://localhost:{port}");
        let e = transport_error(&uri, &trusting(&pki)).await;
        assert!(e.contains("TLS handshake with"), "{e}");
        let e = client_error(&uri, trusting(&pki)).await;
        assert!(matches!(e, ClientError::Connect(_)), "{e:?}");
        server.join().unwrap();
    });
}

#[test]
fn mqtts_mutual_tls_with_a_client_certificate() {
    run(async {
        let pki = Pki::new();
        let (_broker, ports) = tls_broker(&pki);
        let uri = format!("mqtts://localhost:{}", ports.mutual);
        let with_cert = Config {
            certfile: Some(pki.client.cert.clone()),
            keyfile: Some(pki.client.key.clone()),
            ..trusting(&pki)
        };
        round_trip(&uri, with_cert, "tls/mutual").await;
        // Without a certificate the broker ends the connection before
        // CONNACK.
        let e = client_error(&uri, trusting(&pki)).await;
        assert!(
            matches!(e, ClientError::Connect(_) | ClientError::Connection(_)),
            "{e:?}"
        );
    });
}

#[test]
fn ws_and_wss_round_trips_through_mosquitto() {
    run(async {
        let pki = Pki::new();
        let config = format!(
            "listener {{port0}} 127.0.0.1\nprotocol websockets\n{}",
            pki.listener("{port1}", &pki.server, "protocol websockets")
        );
        let (_broker, ports) = Mosquitto::start_with_ports(2, &config);
        round_trip(
            &format!("ws://127.0.0.1:{}/mqtt", ports[0]),
            fail_fast(),
            "ws/plain",
        )
        .await;
        round_trip(
            &format!("wss://localhost:{}/mqtt", ports[1]),
            trusting(&pki),
            "ws/tls",
        )
        .await;
        // wss verifies the certificate like mqtts: Mozilla's roots do not
        // know the test CA.
        let e = client_error(&format!("wss://localhost:{}/mqtt", ports[1]), fail_fast()).await;
        assert!(matches!(e, ClientError::Connect(_)), "{e:?}");
    });
}

#[test]
fn json_codec_round_trip() {
    run(async {
        let broker = Mosquitto::start("");
        let client = connect(&broker.uri(), fail_fast()).await;
        let mut stream = client
            .subscription_value("codecs/#", QoS::AtLeastOnce, Some("json"))
            .await
            .unwrap();
        let value = Value::Data(json!({"n": 1, "list": [true, null]}));
        client
            .publish_value_with("codecs/a", &value, PublishOptions::new().qos(QoS::AtLeastOnce).retain(false).codec("json"))
            .await
            .unwrap();
        let d = next(&mut stream).await;
        assert_eq!(d.message.topic().as_str(), "codecs/a");
        assert_eq!(&d.message.payload()[..], br#"{"list":[true,null],"n":1}"#);
        assert_eq!(d.value, Ok(value));
        // A payload that is not JSON: an error in its item, the stream goes on.
        client
            .publish("codecs/b", &b"{not json"[..], QoS::AtLeastOnce, false)
            .await
            .unwrap();
        let bad = next(&mut stream).await;
        assert!(bad.value.is_err(), "{bad:?}");
        assert_eq!(&bad.message.payload()[..], b"{not json");
        client
            .publish_value_with("codecs/c", &"text".into(), PublishOptions::new().qos(QoS::AtLeastOnce).retain(false).codec("json"))
            .await
            .unwrap();
        assert_eq!(next(&mut stream).await.value, Ok(Value::from("text")));
        client.disconnect().await;
    });
}
