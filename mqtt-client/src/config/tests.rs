//! The configuration as a whole: loading (TOML, JSON), defaults, validation,
//! session options. URIs and topics have their own tests in their modules.

use super::*;
use std::num::NonZeroU32;

use sansmqtt_proto::{ProtocolVersion, StringError, TopicError};

#[cfg(feature = "payload")]
use crate::payload::resolve_name;

fn topic(s: &str) -> TopicName {
    TopicName::try_from(s).unwrap()
}

fn uri(s: &str) -> BrokerUri {
    BrokerUri::parse(s).unwrap()
}

fn json(s: &str) -> Config {
    serde_json::from_str(s).unwrap()
}

fn invalid(mutate: impl FnOnce(&mut Config)) -> ConfigError {
    let mut config = Config::default();
    mutate(&mut config);
    config.validate().expect_err("the config must be refused")
}

// ---- defaults and loading ----

#[test]
fn defaults_are_the_seeds() {
    let c = Config::default();
    assert_eq!(c.keep_alive, Duration::from_secs(10));
    assert_eq!(c.ping_delay, Duration::from_secs(1));
    assert_eq!(c.default_qos, QoS::AtMostOnce);
    assert!(!c.default_retain);
    assert!(c.auto_reconnect);
    assert_eq!(c.reconnect_max_interval, Duration::from_secs(10));
    assert_eq!(c.reconnect_retries, 2);
    assert_eq!(c.reconnect_limit(), Some(2));
    assert_eq!(c.codec, "noop");
    assert!(c.codec_params.is_empty());
    assert!(c.topics.is_empty());
    assert!(c.will.is_none());
    assert!(c.cleansession);
    assert!(c.client_id.is_none());
    assert!(c.check_hostname);
    // What the seed lacked.
    assert_eq!(c.connect_timeout, Duration::from_secs(10));
    assert_eq!(c.ping_timeout, Duration::from_secs(5));
    assert_eq!(c.max_inflight, 20);
    assert_eq!(c.max_packet_size, None);
    assert_eq!(c.max_queued, 10_000);
    assert_eq!(c.protocol_version, ProtocolVersion::V3_1_1);
    assert!(c.uris.is_empty());
    assert!(c.reconnect_on_first_connect);
    c.validate().unwrap();
}

#[test]
fn empty_documents_give_the_defaults() {
    let from_json: Config = serde_json::from_str("{}").unwrap();
    let from_toml: Config = toml::from_str("").unwrap();
    for c in [from_json, from_toml] {
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            serde_json::to_value(Config::default()).unwrap()
        );
    }
}

/// The config example of the seed document, in TOML.
const SEED_TOML: &str = r#"
    keep_alive = 10
    ping_delay = 1
    default_qos = 0
    default_retain = false
    auto_reconnect = true
    reconnect_max_interval = 5
    reconnect_retries = 10
    codec = "utf8"

    [codec_params]
    bool = { on = "on", off = "off" }
    BOOL = { on = "ON", off = "OFF", name = "bool" }
    yesno = { on = "yes", off = "no", name = "bool" }

    [topics]
    "/test" = { qos = 1 }
    "/some_topic" = { qos = 2, retain = true }
"#;

/// The same example, in JSON.
#[cfg(feature = "payload")]
const SEED_JSON: &str = r#"{
    "keep_alive": 10,
    "ping_delay": 1,
    "default_qos": 0,
    "default_retain": false,
    "auto_reconnect": true,
    "reconnect_max_interval": 5,
    "reconnect_retries": 10,
    "codec": "utf8",
    "codec_params": {
        "bool": {"on": "on", "off": "off"},
        "BOOL": {"on": "ON", "off": "OFF", "name": "bool"},
        "yesno": {"on": "yes", "off": "no", "name": "bool"}
    },
    "topics": {
        "/test": {"qos": 1},
        "/some_topic": {"qos": 2, "retain": true}
    }
}"#;

#[cfg(feature = "payload")]
fn check_seed_example(c: &Config) {
    c.validate().unwrap();
    assert_eq!(c.reconnect_max_interval, Duration::from_secs(5));
    assert_eq!(c.reconnect_retries, 10);
    assert_eq!(c.codec, "utf8");
    assert_eq!(resolve_name(c, "utf8").unwrap().0, "utf8");
    let (base, params) = resolve_name(c, "yesno").unwrap();
    assert_eq!(base, "bool");
    assert_eq!(params.unwrap()["on"].as_str(), Some("yes"));
    assert_eq!(resolve_name(c, "BOOL").unwrap().0, "bool");
    assert_eq!(
        resolve_name(c, "bool").unwrap().1.unwrap()["off"].as_str(),
        Some("off")
    );
    assert!(resolve_name(c, "nope").is_none());
    // "any message published will set with QOS_0 and retain flag unset except for ..."
    assert_eq!(c.publish_defaults(&topic("a/b")), (QoS::AtMostOnce, false));
    assert_eq!(
        c.publish_defaults(&topic("/test")),
        (QoS::AtLeastOnce, false)
    );
    assert_eq!(
        c.publish_defaults(&topic("/some_topic")),
        (QoS::ExactlyOnce, true)
    );
}

#[cfg(feature = "payload")]
#[test]
fn loads_the_seed_example_from_toml() {
    check_seed_example(&toml::from_str(SEED_TOML).unwrap());
}

#[cfg(feature = "payload")]
#[test]
fn loads_the_seed_example_from_json() {
    check_seed_example(&json(SEED_JSON));
}

#[cfg(feature = "payload")]
#[test]
fn loads_every_key_from_toml() {
    let c: Config = toml::from_str(
        r#"
        keep_alive = "30s"
        ping_delay = 2.5
        ping_timeout = "750ms"
        connect_timeout = 3
        default_qos = 1
        default_retain = true
        auto_reconnect = false
        reconnect_max_interval = "1m"
        reconnect_retries = -1
        codec = "yesno"
        cleansession = false
        client_id = "sensor-1"
        username = "alice"
        password = "secret"
        max_inflight = 10
        max_packet_size = 65536
        max_queued = 50
        protocol_version = 5
        uris = ["mqtt://backup:1883", "mqtt://[::1]:1884"]
        reconnect_on_first_connect = false
        cafile = "/etc/ssl/ca.pem"
        check_hostname = false
        extra_headers = { Authorization = "Bearer x" }

        [codec_params.yesno]
        on = "yes"
        off = "no"
        name = "bool"
        indent = 2
        strict = true
        ratio = 0.5

        [topics]
        "sensors/#" = { qos = 1 }
        "sensors/+/alarm" = { qos = 2, retain = true }

        [will]
        topic = "status/sensor-1"
        message = "offline"
        qos = 1
        retain = true
        "#,
    )
    .unwrap();
    c.validate().unwrap();
    assert_eq!(c.keep_alive, Duration::from_secs(30));
    assert_eq!(c.ping_delay, Duration::from_millis(2500));
    assert_eq!(c.ping_timeout, Duration::from_millis(750));
    assert_eq!(c.connect_timeout, Duration::from_secs(3));
    assert_eq!(c.reconnect_max_interval, Duration::from_secs(60));
    assert_eq!(c.reconnect_limit(), None);
    assert_eq!(c.protocol_version, ProtocolVersion::V5);
    assert_eq!(c.max_packet_size, Some(65536));
    let p = &c.codec_params["yesno"];
    assert_eq!(p["indent"], CodecParam::Integer(2));
    assert_eq!(p["strict"], CodecParam::Bool(true));
    assert_eq!(p["ratio"], CodecParam::Float(0.5));
    let will = c.will.as_ref().unwrap();
    assert_eq!(will.message.as_bytes(), b"offline");
    assert_eq!((will.qos, will.retain), (QoS::AtLeastOnce, true));
    assert_eq!(c.extra_headers["Authorization"], "Bearer x");
    assert_eq!(c.password.as_ref().unwrap().expose(), b"secret");
    let uris = c.broker_uris(None).unwrap();
    assert_eq!(uris[1].host, "::1");
}

#[test]
fn unknown_keys_are_refused() {
    let e = serde_json::from_str::<Config>(r#"{"keepalive": 5}"#).unwrap_err();
    assert!(e.to_string().contains("keepalive"), "{e}");
    assert!(toml::from_str::<Config>("[topics]\na = { qos = 1, retian = true }").is_err());
    assert!(toml::from_str::<Config>("[will]\ntopic = \"a\"\nmesage = \"x\"").is_err());
}

#[test]
fn durations_accept_numbers_and_units() {
    let d = |v: &str| json(&format!(r#"{{"ping_timeout": {v}}}"#)).ping_timeout;
    assert_eq!(d("7"), Duration::from_secs(7));
    assert_eq!(d("0.25"), Duration::from_millis(250));
    assert_eq!(d("0.1"), Duration::from_millis(100));
    assert_eq!(d(r#""1.5s""#), Duration::from_millis(1500));
    assert_eq!(d(r#""500ms""#), Duration::from_millis(500));
    assert_eq!(d(r#""250us""#), Duration::from_micros(250));
    assert_eq!(d(r#""100 ns""#), Duration::from_nanos(100));
    assert_eq!(d(r#""2m""#), Duration::from_secs(120));
    assert_eq!(d(r#""1h""#), Duration::from_secs(3600));
    assert_eq!(d(r#""10""#), Duration::from_secs(10));
    assert_eq!(d(r#"".5s""#), Duration::from_millis(500));
    for bad in [
        "-1",
        "-0.5",
        r#""-1s""#,
        r#""abc""#,
        r#""1.2.3s""#,
        r#""""#,
        r#""5 parsecs""#,
        r#""s""#,
        "true",
    ] {
        assert!(
            serde_json::from_str::<Config>(&format!(r#"{{"ping_timeout": {bad}}}"#)).is_err(),
            "{bad}"
        );
    }
    assert!(parse_duration("99999999999999999999999h").is_err());
}

#[test]
fn protocol_version_spellings() {
    for (v, want) in [
        (r#""3.1.1""#, ProtocolVersion::V3_1_1),
        ("4", ProtocolVersion::V3_1_1),
        (r#""mqttv311""#, ProtocolVersion::V3_1_1),
        (r#""MQTTv3.1.1""#, ProtocolVersion::V3_1_1),
        (r#""5""#, ProtocolVersion::V5),
        ("5", ProtocolVersion::V5),
        ("5.0", ProtocolVersion::V5),
        (r#""mqttv5""#, ProtocolVersion::V5),
        (r#""v5.0""#, ProtocolVersion::V5),
        (r#""3.1""#, ProtocolVersion::V3_1),
    ] {
        let c = json(&format!(r#"{{"protocol_version": {v}}}"#));
        assert_eq!(c.protocol_version, want, "{v}");
    }
}

#[test]
fn will_needs_only_a_topic_and_takes_text_or_bytes() {
    let c = json(r#"{"will": {"topic": "a/b"}}"#);
    let w = c.will.as_ref().unwrap();
    assert_eq!(
        (w.message.as_bytes(), w.qos, w.retain),
        (&b""[..], QoS::AtMostOnce, false)
    );
    c.validate().unwrap();

    let c = json(r#"{"will": {"topic": "a/b", "message": [0, 255, 1], "qos": 2}}"#);
    assert_eq!(
        c.will.as_ref().unwrap().message,
        TextOrBytes::Bytes(vec![0, 255, 1])
    );
    let c: Config = toml::from_str("[will]\ntopic = \"a\"\npayload = [1, 2]").unwrap();
    assert_eq!(c.will.unwrap().message.as_bytes(), &[1, 2]);

    assert!(serde_json::from_str::<Config>(r#"{"will": {"message": "x"}}"#).is_err());
    assert!(
        serde_json::from_str::<Config>(r#"{"will": {"topic": "a", "message": [256]}}"#).is_err()
    );
}

#[test]
fn extra_headers_as_map_or_list() {
    let a = json(r#"{"extra_headers": {"X-A": "1", "X-B": "2"}}"#);
    let b = json(r#"{"extra_headers": [["X-A", "1"], ["X-B", "2"]]}"#);
    assert_eq!(a.extra_headers, b.extra_headers);
    assert_eq!(a.extra_headers.len(), 2);
}

#[test]
fn round_trips_through_json_and_toml() {
    let mut c: Config = toml::from_str(SEED_TOML).unwrap();
    c.ping_delay = Duration::from_millis(1500);
    c.ping_timeout = Duration::from_nanos(1_000_000_001);
    c.password = Some(TextOrBytes::Bytes(vec![0, 1, 2]).into());
    c.will = Some(WillConfig {
        message: "bye".into(),
        qos: QoS::AtLeastOnce,
        retain: true,
        ..WillConfig::new(topic("w"))
    });
    c.max_packet_size = Some(1024);
    c.protocol_version = ProtocolVersion::V5.into();
    c.codec_params
        .get_mut("yesno")
        .unwrap()
        .insert("ratio".into(), CodecParam::Float(0.5));
    let want = serde_json::to_value(&c).unwrap();

    let via_json: Config = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(serde_json::to_value(&via_json).unwrap(), want);
    let text = toml::to_string(&c).unwrap();
    let via_toml: Config = toml::from_str(&text).unwrap();
    assert_eq!(serde_json::to_value(&via_toml).unwrap(), want, "{text}");
    assert_eq!(via_toml.ping_timeout, Duration::from_nanos(1_000_000_001));
}

#[test]
fn debug_never_shows_the_password() {
    let c = Config {
        password: Some("hunter2".into()),
        uris: vec![uri("mqtt://bob:hunter2@host")],
        ..Config::default()
    };
    let shown = format!("{c:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
    let u = uri("mqtt://bob:hunter2@host");
    assert!(!format!("{u:?}").contains("hunter2"));
    assert!(!u.to_string().contains("hunter2"));
    let options = Config::default().session_options(&u).unwrap();
    assert!(!format!("{options:?}").contains("hunter2"));
}

// ---- validation: one test per error ----

#[test]
fn keep_alive_not_above_ping_delay_is_refused() {
    let e = invalid(|c| {
        c.keep_alive = Duration::from_secs(1);
        c.ping_delay = Duration::from_secs(1);
    });
    assert!(
        matches!(e, ConfigError::KeepAliveNotAbovePingDelay { .. }),
        "{e}"
    );
    let e = invalid(|c| c.ping_delay = Duration::from_secs(20));
    assert!(
        matches!(e, ConfigError::KeepAliveNotAbovePingDelay { .. }),
        "{e}"
    );
    // keep_alive 0 disables pings: any ping_delay goes.
    let c = Config {
        keep_alive: Duration::ZERO,
        ping_delay: Duration::from_secs(5),
        ..Config::default()
    };
    c.validate().unwrap();
}

#[test]
fn keep_alive_out_of_range_is_refused() {
    let e = invalid(|c| {
        c.keep_alive = Duration::from_millis(500);
        c.ping_delay = Duration::ZERO;
    });
    assert_eq!(
        e,
        ConfigError::KeepAliveOutOfRange(Duration::from_millis(500))
    );
    let e = invalid(|c| c.keep_alive = Duration::from_secs(65_536));
    assert!(matches!(e, ConfigError::KeepAliveOutOfRange(_)), "{e}");
    let c = Config {
        keep_alive: Duration::from_secs(65_535),
        ..Config::default()
    };
    c.validate().unwrap();
}

#[test]
fn zero_timeouts_are_refused() {
    let e = invalid(|c| c.connect_timeout = Duration::ZERO);
    assert_eq!(
        e,
        ConfigError::ZeroTimeout {
            key: "connect_timeout"
        }
    );
    let e = invalid(|c| c.ping_timeout = Duration::ZERO);
    assert_eq!(
        e,
        ConfigError::ZeroTimeout {
            key: "ping_timeout"
        }
    );
}

/// The error of loading `toml`, which names the key it is about.
fn toml_refused(toml: &str) -> String {
    toml::from_str::<Config>(toml)
        .expect_err("the config must be refused when read")
        .to_string()
}

#[test]
fn qos_above_2_is_refused_when_read() {
    // A QoS is a `QoS`: 3 cannot be built, and is refused when read, with
    // the key and the value named.
    for (toml, key) in [
        ("default_qos = 3", "default_qos"),
        ("[topics]\na = { qos = 3 }", "qos"),
        ("[will]\ntopic = \"w\"\nqos = 3", "qos"),
    ] {
        let e = toml_refused(toml);
        assert!(
            e.contains("QoS 3 is not 0, 1 or 2") && e.contains(key),
            "{toml}: {e}"
        );
    }
    let e = serde_json::from_str::<Config>(r#"{"will": {"topic": "w", "qos": 7}}"#).unwrap_err();
    assert!(e.to_string().contains("QoS 7 is not 0, 1 or 2"), "{e}");
    let e = serde_json::from_str::<Config>(r#"{"default_qos": -1}"#).unwrap_err();
    assert!(e.to_string().contains("default_qos") || e.is_data(), "{e}");
    // 0, 1 and 2 are read into their QoS.
    for (n, qos) in [
        (0, QoS::AtMostOnce),
        (1, QoS::AtLeastOnce),
        (2, QoS::ExactlyOnce),
    ] {
        assert_eq!(json(&format!(r#"{{"default_qos": {n}}}"#)).default_qos, qos);
    }
}

#[test]
fn invalid_topics_are_refused() {
    for (key, source) in [
        ("", TopicError::Empty),
        ("a/#/b", TopicError::MisplacedMultiLevelWildcard),
        ("a/b+", TopicError::MisplacedSingleLevelWildcard),
        ("a\0b", TopicError::String(StringError::NullCharacter)),
    ] {
        let want = ConfigError::InvalidTopic {
            key: "topics".into(),
            topic: key.into(),
            source,
        };
        let e = TopicPolicy::new()
            .insert(key, TopicDefaults::default())
            .unwrap_err();
        assert_eq!(e, want, "{key:?}");
        // Read from a configuration: the same error.
        let doc = serde_json::json!({ "topics": { key: {} } }).to_string();
        let read = serde_json::from_str::<Config>(&doc).unwrap_err();
        assert!(read.to_string().contains(&want.to_string()), "{read}");
    }
    let e = TopicPolicy::new()
        .insert("$share/g/a/#", TopicDefaults::default())
        .unwrap_err();
    assert_eq!(e, ConfigError::SharedFilterInTopics("$share/g/a/#".into()));
    let read = toml_refused("[topics]\n\"$share/g/a/#\" = {}");
    assert!(read.contains(&e.to_string()), "{read}");
}

#[test]
fn invalid_will_is_refused() {
    let e = toml_refused("[will]\ntopic = \"status/#\"");
    let want = ConfigError::InvalidTopic {
        key: "will.topic".into(),
        topic: "status/#".into(),
        source: TopicError::WildcardInName,
    };
    assert!(e.contains(&want.to_string()), "{e}");
    let e = toml_refused("[will]\ntopic = \"\"");
    assert!(e.contains(&TopicError::Empty.to_string()), "{e}");
    let e = invalid(|c| {
        let mut will = WillConfig::new(topic("w"));
        will.message = vec![0; 70_000].into();
        c.will = Some(will);
    });
    assert_eq!(e, ConfigError::WillMessageTooLong(70_000));
}

#[test]
fn invalid_protocol_version_is_refused() {
    for v in ["6", "3.1.2", "mqtt", ""] {
        let want = ConfigError::InvalidProtocolVersion(v.into());
        assert_eq!(parse_protocol_version(v), Err(want.clone()));
        let read = toml_refused(&format!("protocol_version = {v:?}"));
        assert!(read.contains(&want.to_string()), "{read}");
    }
    let read = toml_refused("protocol_version = 6");
    assert!(read.contains("unknown protocol_version \"6\""), "{read}");
}

#[test]
fn zero_max_inflight_and_max_packet_size_are_refused() {
    assert_eq!(
        invalid(|c| c.max_inflight = 0),
        ConfigError::ZeroMaxInflight
    );
    assert_eq!(
        invalid(|c| c.max_packet_size = Some(0)),
        ConfigError::ZeroMaxPacketSize
    );
}

#[cfg(feature = "msgpack")]
#[test]
fn unknown_codec_is_refused() {
    for name in crate::payload::BUILTIN_CODECS {
        let c = Config {
            codec: (*name).into(),
            ..Config::default()
        };
        c.validate().unwrap();
    }
    let e = invalid(|c| c.codec = "yesno".into());
    assert_eq!(e, ConfigError::UnknownCodec("yesno".into()));
    // Parameters without `name` do not declare an alias.
    let e = invalid(|c| {
        c.codec = "yesno".into();
        c.codec_params
            .insert("yesno".into(), [("on".into(), "yes".into())].into());
    });
    assert_eq!(e, ConfigError::UnknownCodec("yesno".into()));
}

#[cfg(feature = "payload")]
#[test]
fn invalid_codec_alias_is_refused() {
    let alias = |target: CodecParam| -> CodecParams { [("name".to_owned(), target)].into() };
    let e = invalid(|c| {
        c.codec_params
            .insert("yesno".into(), alias("boolean".into()));
    });
    assert_eq!(
        e,
        ConfigError::InvalidCodecAlias {
            alias: "yesno".into(),
            target: "boolean".into()
        }
    );
    let e = invalid(|c| {
        c.codec_params
            .insert("yesno".into(), alias(CodecParam::Bool(true)));
    });
    assert!(matches!(e, ConfigError::InvalidCodecAlias { .. }), "{e}");
    // A built-in name cannot be redefined (it may name itself).
    let e = invalid(|c| {
        c.codec_params.insert("json".into(), alias("utf8".into()));
    });
    assert!(matches!(e, ConfigError::InvalidCodecAlias { .. }), "{e}");
    let c = Config {
        codec: "json".into(),
        codec_params: [("json".to_owned(), alias("json".into()))].into(),
        ..Config::default()
    };
    c.validate().unwrap();
}

#[test]
fn invalid_client_id_and_credentials_are_refused() {
    let e = invalid(|c| c.client_id = Some("a\0b".into()));
    assert!(
        matches!(
            e,
            ConfigError::InvalidClientId {
                source: StringError::NullCharacter,
                ..
            }
        ),
        "{e}"
    );
    let e = invalid(|c| {
        c.client_id = Some(String::new());
        c.cleansession = false;
    });
    assert_eq!(e, ConfigError::EmptyClientIdNeedsCleanSession);
    // MQTT 5 lets the broker assign an identifier to a persistent session.
    let c = Config {
        client_id: Some(String::new()),
        cleansession: false,
        protocol_version: ProtocolVersion::V5.into(),
        ..Config::default()
    };
    c.validate().unwrap();
    let e = invalid(|c| c.username = Some("x\0".into()));
    assert_eq!(e, ConfigError::InvalidUsername(StringError::NullCharacter));
    let e = invalid(|c| c.password = Some(vec![1; 65_536].into()));
    assert_eq!(e, ConfigError::PasswordTooLong(65_536));
}

#[test]
fn invalid_failover_uri_is_refused() {
    let want = ConfigError::InvalidUri {
        uri: "http://x:****@nope".into(),
        reason: UriError::UnsupportedScheme {
            scheme: "http".into(),
            expected: "mqtt, mqtts, ws or wss",
        },
    };
    assert_eq!(BrokerUri::parse("http://x:secret@nope"), Err(want.clone()));
    // Read from a configuration: refused with the same error, no password
    // (the error of a format that quotes the offending line, as TOML's does,
    // quotes the file as written).
    let e = serde_json::from_str::<Config>(r#"{"uris": ["mqtt://ok", "http://x:secret@nope"]}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&want.to_string()), "{e}");
    assert!(!e.contains("secret"), "{e}");
}

#[test]
fn keyfile_without_certfile_is_refused() {
    let e = invalid(|c| c.keyfile = Some("key.pem".into()));
    assert_eq!(e, ConfigError::KeyfileWithoutCertfile);
}

#[test]
fn alpn_names_are_1_to_255_bytes() {
    let e = invalid(|c| c.alpn = vec!["mqtt".into(), String::new()]);
    assert_eq!(e, ConfigError::InvalidAlpn(String::new()));
    let e = invalid(|c| c.alpn = vec!["x".repeat(256)]);
    assert!(matches!(e, ConfigError::InvalidAlpn(_)), "{e}");
    let c = json(r#"{"alpn": ["mqtt", "x-amzn-mqtt-ca"]}"#);
    c.validate().unwrap();
    assert_eq!(c.alpn, ["mqtt", "x-amzn-mqtt-ca"]);
}

#[test]
fn extra_headers_are_checked_and_secrets_hidden_from_debug() {
    for (name, value, reason) in [
        ("Bad Name", "v", "not a valid header name"),
        ("", "v", "not a valid header name"),
        (
            "X-A",
            "a\r\nInjected: 1",
            "the value holds a control character",
        ),
        (
            "Sec-WebSocket-Key",
            "k",
            "set by the WebSocket handshake itself",
        ),
        ("upgrade", "h2c", "set by the WebSocket handshake itself"),
    ] {
        let want = ConfigError::InvalidHeader {
            name: name.into(),
            reason,
        };
        let e = ExtraHeaders::default().insert(name, value).unwrap_err();
        assert_eq!(e, want);
        // Read from a configuration: the same error.
        let doc = serde_json::json!({ "extra_headers": { name: value } }).to_string();
        let read = serde_json::from_str::<Config>(&doc).unwrap_err();
        assert!(read.to_string().contains(&want.to_string()), "{read}");
    }
    let c = json(
        r#"{"extra_headers": {"Authorization": "Bearer s3cret", "X-Tab": "a\tb", "Sec-WebSocket-Protocol": "mqttv3.1"}}"#,
    );
    c.validate().unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(
        shown.contains("\"Authorization\": \"<redacted>\""),
        "{shown}"
    );
    assert!(shown.contains("mqttv3.1"), "{shown}");
}

#[test]
fn password_without_username_is_refused_in_3_1_1_only() {
    let config = Config {
        password: Some("pw".into()),
        ..Config::default()
    };
    let e = config.session_options(&uri("mqtt://h")).unwrap_err();
    assert_eq!(e, ConfigError::PasswordWithoutUsername);
    let v5 = Config {
        protocol_version: ProtocolVersion::V5.into(),
        ..config
    };
    assert!(
        v5.session_options(&uri("mqtt://h"))
            .unwrap()
            .username
            .is_none()
    );
}

// ---- broker URIs ----

#[test]
fn broker_uris_put_the_constructor_uri_first_without_duplicates() {
    let c = Config {
        uris: vec![uri("mqtt://b"), uri("mqtt://a"), uri("mqtt://c:1884")],
        ..Config::default()
    };
    let hosts: Vec<_> = c
        .broker_uris(Some(&uri("mqtt://a:1883")))
        .unwrap()
        .into_iter()
        .map(|u| u.authority())
        .collect();
    assert_eq!(hosts, ["a:1883", "b:1883", "c:1884"]);
    assert_eq!(
        Config::default().broker_uris(None),
        Err(ConfigError::NoBrokerUri)
    );
}

// ---- publish defaults ----

fn with_topics(entries: &[(&str, Option<u8>, Option<bool>)]) -> Config {
    let mut c = Config::default();
    for (key, qos, retain) in entries {
        let qos = qos.map(|q| QoS::try_from(q).unwrap());
        let defaults = TopicDefaults {
            qos,
            retain: *retain,
        };
        c.topics.insert(key, defaults).unwrap();
    }
    c.validate().unwrap();
    c
}

#[test]
fn publish_defaults_exact_topic_wins() {
    let c = with_topics(&[
        ("a/b", Some(1), None),
        ("a/#", Some(2), None),
        ("a/+", Some(0), None),
    ]);
    assert_eq!(c.publish_defaults(&topic("a/b")).0, QoS::AtLeastOnce);
    assert_eq!(c.publish_defaults(&topic("a/c")).0, QoS::AtMostOnce);
    assert_eq!(c.publish_defaults(&topic("a/c/d")).0, QoS::ExactlyOnce);
    // sport/# matches sport (§4.7.1.2; distmqtt bug #9).
    assert_eq!(c.publish_defaults(&topic("a")).0, QoS::ExactlyOnce);
    assert_eq!(c.publish_defaults(&topic("b")).0, QoS::AtMostOnce);
}

#[test]
fn publish_defaults_most_literal_levels_win() {
    let c = with_topics(&[
        ("#", Some(0), Some(false)),
        ("sensors/#", Some(1), None),
        ("sensors/+/alarm", Some(2), Some(true)),
        ("sensors/kitchen/#", None, Some(false)),
    ]);
    // sensors/+/alarm and sensors/kitchen/# both have two literal
    // levels; the one without '#' wins for qos and retain.
    assert_eq!(
        c.publish_defaults(&topic("sensors/kitchen/alarm")),
        (QoS::ExactlyOnce, true)
    );
    // sensors/kitchen/# sets no qos: qos falls back to sensors/#.
    assert_eq!(
        c.publish_defaults(&topic("sensors/kitchen/temp")),
        (QoS::AtLeastOnce, false)
    );
    assert_eq!(
        c.publish_defaults(&topic("sensors/hall/temp")),
        (QoS::AtLeastOnce, false)
    );
    assert_eq!(
        c.publish_defaults(&topic("other")),
        (QoS::AtMostOnce, false)
    );
}

#[test]
fn publish_defaults_tie_breaks() {
    // Same literal count, no '#': the earlier literal level wins.
    let c = with_topics(&[("+/b/c", Some(1), None), ("a/+/c", Some(2), None)]);
    assert_eq!(c.publish_defaults(&topic("a/b/c")).0, QoS::ExactlyOnce);
    // '+' beats '#' at the same position; a longer '#' filter beats a shorter one.
    let c = with_topics(&[("a/#", Some(1), None), ("a/+", Some(2), None)]);
    assert_eq!(c.publish_defaults(&topic("a/b")).0, QoS::ExactlyOnce);
    let c = with_topics(&[("a/#", Some(1), None), ("a/+/#", Some(2), None)]);
    assert_eq!(c.publish_defaults(&topic("a/b/c")).0, QoS::ExactlyOnce);
    assert_eq!(c.publish_defaults(&topic("a")).0, QoS::AtLeastOnce);
    // Key order does not matter.
    let c = with_topics(&[("a/+/c", Some(2), None), ("+/b/c", Some(1), None)]);
    assert_eq!(c.publish_defaults(&topic("a/b/c")).0, QoS::ExactlyOnce);
}

#[test]
fn publish_defaults_fall_back_per_field_and_to_the_defaults() {
    let mut c = with_topics(&[("a/b", None, Some(true)), ("a/+", Some(1), None)]);
    c.default_qos = QoS::ExactlyOnce;
    assert_eq!(c.publish_defaults(&topic("a/b")), (QoS::AtLeastOnce, true));
    c.default_retain = true;
    assert_eq!(c.publish_defaults(&topic("x")), (QoS::ExactlyOnce, true));
}

#[test]
fn publish_defaults_respect_dollar_topics() {
    let c = with_topics(&[("#", Some(1), None), ("$SYS/#", Some(2), None)]);
    assert_eq!(c.publish_defaults(&topic("$SYS/x")).0, QoS::ExactlyOnce);
    assert_eq!(c.publish_defaults(&topic("$other")).0, QoS::AtMostOnce);
}

// ---- session options ----

#[test]
fn session_options_carry_the_config() {
    let c = Config {
        keep_alive: Duration::from_secs(30),
        ping_delay: Duration::from_secs(2),
        ping_timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(4),
        cleansession: false,
        client_id: Some("dev-1".into()),
        max_inflight: 7,
        max_queued: 9,
        max_packet_size: Some(4096),
        will: Some(WillConfig {
            message: TextOrBytes::Bytes(vec![0xde, 0xad]),
            qos: QoS::AtLeastOnce,
            retain: true,
            ..WillConfig::new(topic("status/dev-1"))
        }),
        ..Config::default()
    };
    let o = c.session_options(&uri("mqtt://h")).unwrap();
    assert_eq!(o.version, ProtocolVersion::V3_1_1);
    assert_eq!(o.client_id, "dev-1");
    assert!(!o.clean_start);
    assert_eq!(o.keep_alive, Duration::from_secs(30));
    assert_eq!(o.ping_margin, Duration::from_secs(2));
    assert_eq!(o.ping_timeout, Duration::from_secs(3));
    assert_eq!(o.connect_timeout, Duration::from_secs(4));
    assert_eq!((o.max_inflight, o.max_queued), (7, 9));
    assert_eq!(o.max_incoming_packet, 4096);
    // No MQTT 5 properties in a 3.1.1 CONNECT.
    assert!(o.properties.is_empty());
    let will = o.will.unwrap();
    assert_eq!(will.topic.as_str(), "status/dev-1");
    assert_eq!(&will.payload[..], &[0xde, 0xad]);
    assert_eq!((will.qos, will.retain), (QoS::AtLeastOnce, true));
    assert_eq!((o.username, o.password), (None, None));

    let v5 = Config {
        protocol_version: parse_protocol_version("mqttv5").unwrap().into(),
        ..c
    };
    let o = v5.session_options(&uri("mqtt://h")).unwrap();
    assert_eq!(o.version, ProtocolVersion::V5);
    assert_eq!(o.properties.maximum_packet_size, NonZeroU32::new(4096));
    assert_eq!(o.max_incoming_packet, 4096);
    // A persistent session outlives the connection in MQTT 5 too.
    assert_eq!(o.properties.session_expiry_interval, Some(u32::MAX));
    let clean = Config {
        cleansession: true,
        ..v5
    };
    let o = clean.session_options(&uri("mqtt://h")).unwrap();
    assert_eq!(o.properties.session_expiry_interval, None);
}

/// `persistence` needs the session of one fixed client identifier, and
/// one the broker keeps (else what is resumed would be discarded).
#[test]
fn persistence_needs_a_client_id_and_a_lasting_session() {
    let check = |toml: &str| -> Result<(), ConfigError> {
        let c: Config = toml::from_str(&format!("persistence = \"/var/lib/app\"\n{toml}")).unwrap();
        c.validate()
    };
    assert_eq!(check("client_id = \"a\"\ncleansession = false"), Ok(()));
    let c: Config =
        toml::from_str("persistence = \"/d\"\nclient_id = \"a\"\ncleansession = false").unwrap();
    assert_eq!(c.persistence.as_deref(), Some(std::path::Path::new("/d")));
    assert_eq!(
        check("cleansession = false"),
        Err(ConfigError::PersistenceNeedsClientId)
    );
    assert_eq!(
        check("client_id = \"\"\ncleansession = false\nprotocol_version = 5"),
        Err(ConfigError::PersistenceNeedsClientId)
    );
    assert_eq!(
        check("client_id = \"a\""),
        Err(ConfigError::PersistenceNeedsLastingSession)
    );
    // MQTT 5: an expiry above 0 (cleansession then only starts the
    // first connection clean), or cleansession = false (never expires).
    for (v5, ok) in [
        ("session_expiry = 60", true),
        ("cleansession = false", true),
        ("cleansession = false\nsession_expiry = 0", false),
        ("", false),
    ] {
        let r = check(&format!("client_id = \"a\"\nprotocol_version = 5\n{v5}"));
        assert_eq!(r.is_ok(), ok, "{v5}: {r:?}");
    }
}

#[test]
fn session_expiry_is_the_v5_session_expiry_interval() {
    let v5 = |toml: &str| -> Config {
        let c: Config = toml::from_str(&format!("protocol_version = 5\n{toml}")).unwrap();
        c.validate().unwrap();
        c
    };
    let expiry = |c: &Config| {
        c.session_options(&uri("mqtt://h"))
            .unwrap()
            .properties
            .session_expiry_interval
    };
    assert_eq!(expiry(&v5("session_expiry = 90")), Some(90));
    assert_eq!(expiry(&v5("session_expiry = 0")), Some(0));
    assert_eq!(
        expiry(&v5("session_expiry = 4294967295")),
        Some(u32::MAX),
        "never expires"
    );
    // It wins over the never-expiring default of cleansession = false.
    assert_eq!(
        expiry(&v5("cleansession = false\nsession_expiry = 5")),
        Some(5)
    );
    assert_eq!(expiry(&v5("cleansession = false")), Some(u32::MAX));
    assert_eq!(expiry(&v5("")), None);

    let too_long = Config {
        protocol_version: ProtocolVersion::V5.into(),
        session_expiry: Some(Duration::from_secs(u64::from(u32::MAX) + 1)),
        ..Config::default()
    };
    assert!(matches!(
        too_long.validate(),
        Err(ConfigError::SessionExpiryOutOfRange(_))
    ));
    // 3.1.1 has no Session Expiry Interval: refused, not ignored.
    let v311 = Config {
        session_expiry: Some(Duration::from_secs(60)),
        ..Config::default()
    };
    assert!(matches!(
        v311.validate(),
        Err(ConfigError::SessionExpiryNeedsV5)
    ));
}

#[test]
fn session_options_credentials_config_wins_then_uri() {
    let u = uri("mqtt://uri-user:uri%20pw@h");
    let o = Config::default().session_options(&u).unwrap();
    assert_eq!(o.username.as_deref(), Some("uri-user"));
    assert_eq!(o.password.as_deref(), Some(&b"uri pw"[..]));

    let c = Config {
        username: Some("cfg-user".into()),
        password: Some(TextOrBytes::Bytes(vec![0, 1]).into()),
        ..Config::default()
    };
    let o = c.session_options(&u).unwrap();
    assert_eq!(o.username.as_deref(), Some("cfg-user"));
    assert_eq!(o.password.as_deref(), Some(&[0, 1][..]));

    // Each one falls back on its own: the secret may stay out of the URI.
    let c = Config {
        password: Some("cfg-pw".into()),
        ..Config::default()
    };
    let o = c.session_options(&uri("mqtt://alice@h")).unwrap();
    assert_eq!(o.username.as_deref(), Some("alice"));
    assert_eq!(o.password.as_deref(), Some(&b"cfg-pw"[..]));
}

#[test]
fn session_options_random_client_id() {
    let a = Config::default().session_options(&uri("mqtt://h")).unwrap();
    let id = a.client_id.as_str();
    assert_eq!(id.len(), "sansmqtt-".len() + 8, "{id}");
    assert!(id.starts_with("sansmqtt-"));
    assert!(id[9..].bytes().all(|b| b.is_ascii_hexdigit()), "{id}");

    let mut c = Config::default();
    let fixed = c.ensure_client_id().to_owned();
    assert_eq!(c.ensure_client_id(), fixed);
    for _ in 0..3 {
        assert_eq!(
            c.session_options(&uri("mqtt://h")).unwrap().client_id,
            fixed.as_str()
        );
    }
}

#[test]
fn session_options_check_the_uri_credentials() {
    // What the config holds was checked when it was read and by `validate`
    // (a QoS 3 cannot even be built: `qos_above_2_is_refused_when_read`);
    // the URI's credentials are checked here.
    let e = Config::default()
        .session_options(&uri("mqtt://%00@h"))
        .unwrap_err();
    assert_eq!(e, ConfigError::InvalidUsername(StringError::NullCharacter));
}

#[test]
fn a_one_step_authentication_loads_from_the_config_and_hides_its_data() {
    let c: Config = toml::from_str(
        r#"
        protocol_version = 5
        authentication_method = "X-TOKEN"
        authentication_data = "s3cret"
        "#,
    )
    .unwrap();
    c.validate().unwrap();
    let auth = c.authentication().expect("a static authentication");
    assert_eq!(auth.method(), "X-TOKEN");
    assert_eq!(
        auth.start().initial_data().unwrap().as_deref(),
        Some(&b"s3cret"[..])
    );
    assert!(!format!("{c:?}").contains("s3cret"));
    // MQTT-4.12.0-1: a challenge cannot be answered by a one-step method.
    assert!(auth.start().challenge(Some(b"nonce")).is_err());
    assert!(Config::default().authentication().is_none());

    let e = invalid(|c| {
        c.protocol_version = ProtocolVersion::V5.into();
        c.authentication_data = Some("x".into());
    });
    assert_eq!(e, ConfigError::AuthenticationDataWithoutMethod);
    let e = invalid(|c| {
        c.protocol_version = ProtocolVersion::V5.into();
        c.authentication_method = Some("A".into());
        c.authenticator = Some(std::sync::Arc::new(crate::auth::StaticAuth::new("B", None)));
    });
    assert_eq!(e, ConfigError::TwoAuthentications);
    let e = invalid(|c| c.authentication_method = Some("X-TOKEN".into()));
    assert_eq!(e, ConfigError::AuthenticatorNeedsV5);
}
