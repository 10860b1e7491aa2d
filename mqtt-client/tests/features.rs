//! The builds without the payload features refuse what needs them, with an
//! error that names the key and the feature. Each module compiles in one
//! build only; `scripts/test` runs both:
//!
//! ```text
//! cargo test -p sansmqtt --no-default-features --test features
//! cargo test -p sansmqtt --no-default-features --features payload --test features
//! ```
//!
//! (In the default build this file holds no test: `tests/codecs.rs` and the
//! unit tests of `sansmqtt::payload` cover it.)

/// A configuration from TOML.
#[cfg(not(feature = "msgpack"))]
fn toml_config(text: &str) -> sansmqtt::Config {
    toml::from_str(text).expect("the document parses")
}

/// The error of a key that needs `feature`.
#[cfg(not(feature = "msgpack"))]
fn needs(feature: &'static str, key: &str) -> sansmqtt::ConfigError {
    sansmqtt::ConfigError::NeedsFeature {
        key: key.to_owned(),
        feature,
    }
}

/// No `payload` feature: plain bytes; `codec` may only be `"noop"`,
/// `codec_params` must be empty, the will has neither `codec` nor `value`.
#[cfg(not(feature = "payload"))]
mod without_payload {
    use super::{needs, toml_config};
    use sansmqtt::config::{BrokerUri, TextOrBytes, WillConfig};
    use sansmqtt::{Config, ConfigError};

    fn needs_payload(key: &str) -> ConfigError {
        needs("payload", key)
    }

    #[test]
    fn noop_or_no_codec_is_accepted() {
        Config::default().validate().unwrap();
        toml_config(r#"codec = "noop""#).validate().unwrap();
        let c = toml_config(
            r#"
            [will]
            topic = "status/x"
            message = "offline"
            "#,
        );
        c.validate().unwrap();
        // The will is its message, as it is.
        let will = c.will.as_ref().unwrap();
        assert_eq!(&will.payload(&c).unwrap()[..], b"offline");
        let uri = BrokerUri::parse("mqtt://127.0.0.1").unwrap();
        let options = c.session_options(&uri).unwrap();
        assert_eq!(&options.will.unwrap().payload[..], b"offline");
    }

    #[test]
    fn a_codec_other_than_noop_is_refused_naming_the_feature() {
        for name in ["json", "utf8", "msgpack", "yesno"] {
            let e = toml_config(&format!("codec = {name:?}"))
                .validate()
                .unwrap_err();
            assert_eq!(e, needs_payload(&format!("codec = {name:?}")));
            let text = e.to_string();
            assert!(
                text.contains(name) && text.contains("feature `payload`"),
                "{text}"
            );
        }
    }

    #[test]
    fn codec_params_are_refused_naming_the_feature() {
        // The seed's alias, as a TOML table of its own.
        let c = toml_config("[codec_params.yesno]\non = \"yes\"\noff = \"no\"\nname = \"bool\"");
        assert_eq!(
            c.validate().unwrap_err(),
            needs_payload("codec_params.yesno")
        );
    }

    #[test]
    fn will_codec_and_value_are_refused_naming_the_feature() {
        // `value` still parses (any value), so that validation says why.
        let c = toml_config(
            r#"
            [will]
            topic = "status/x"
            value = { state = "gone" }
            "#,
        );
        assert!(c.will.as_ref().unwrap().value.is_some());
        assert_eq!(c.validate().unwrap_err(), needs_payload("will.value"));
        let will = c.will.as_ref().unwrap();
        assert_eq!(will.payload(&c).unwrap_err(), needs_payload("will.value"));

        let c = Config {
            will: Some(WillConfig {
                message: TextOrBytes::Bytes(vec![1, 2]),
                codec: Some("noop".into()),
                ..WillConfig::new("status/x".try_into().unwrap())
            }),
            ..Config::default()
        };
        let e = needs_payload(r#"will.codec = "noop""#);
        assert_eq!(c.validate().unwrap_err(), e);
        assert_eq!(c.will.as_ref().unwrap().payload(&c).unwrap_err(), e);
        // Connecting validates: the same error.
        let uri = BrokerUri::parse("mqtt://127.0.0.1").unwrap();
        assert_eq!(c.session_options(&uri).unwrap_err(), e);
    }
}

/// `payload` without `msgpack`: the MessagePack codecs are known by name
/// and refused naming the feature; the other codecs work.
#[cfg(all(feature = "payload", not(feature = "msgpack")))]
mod without_msgpack {
    use super::{needs, toml_config};
    use sansmqtt::ConfigError;
    use sansmqtt::payload::{self, Codecs, PayloadError, Value};

    fn needs_msgpack(key: &str) -> ConfigError {
        needs("msgpack", key)
    }

    fn payload_needs_msgpack(codec: &str) -> PayloadError {
        PayloadError::NeedsFeature {
            codec: codec.to_owned(),
            feature: "msgpack",
        }
    }

    #[test]
    fn config_asking_for_msgpack_is_refused_naming_the_feature() {
        for name in ["msgpack", "msgpack+json"] {
            let c = toml_config(&format!("codec = {name:?}"));
            let key = format!("codec = {name:?}");
            assert_eq!(c.validate().unwrap_err(), needs_msgpack(&key));
            assert_eq!(Codecs::from_config(&c).unwrap_err(), needs_msgpack(&key));
            assert!(
                c.validate()
                    .unwrap_err()
                    .to_string()
                    .contains("feature `msgpack`")
            );
        }
        let c = toml_config(
            r#"
            [codec_params]
            mp = { name = "msgpack", use_bin_type = false }
            "#,
        );
        assert_eq!(c.validate().unwrap_err(), needs_msgpack("codec_params.mp"));
        let c = toml_config(
            r#"
            [codec_params]
            msgpack = { use_bin_type = false }
            "#,
        );
        assert_eq!(
            c.validate().unwrap_err(),
            needs_msgpack("codec_params.msgpack")
        );
        let c = toml_config(
            r#"
            [will]
            topic = "status/x"
            codec = "msgpack"
            value = true
            "#,
        );
        assert_eq!(
            c.validate().unwrap_err(),
            needs_msgpack(r#"will.codec = "msgpack""#)
        );
        assert_eq!(
            c.will.as_ref().unwrap().payload(&c).unwrap_err(),
            ConfigError::Codec {
                key: "will".into(),
                source: payload_needs_msgpack("msgpack"),
            }
        );
    }

    #[test]
    fn registry_asking_for_msgpack_names_the_feature() {
        let codecs = Codecs::new();
        for name in ["msgpack", "msgpack+json"] {
            assert_eq!(codecs.get(name).err(), Some(payload_needs_msgpack(name)));
            assert_eq!(
                codecs.encode(Some(name), &Value::Bool(true)).unwrap_err(),
                payload_needs_msgpack(name)
            );
            assert_eq!(
                payload::builtin(name, None).err(),
                Some(payload_needs_msgpack(name))
            );
        }
        assert!(!codecs.names().iter().any(|n| n.starts_with("msgpack")));
        // The other codecs are all there.
        let c = toml_config(
            r#"
            codec = "json"
            [codec_params]
            yesno = { on = "yes", off = "no", name = "bool" }
            "#,
        );
        c.validate().unwrap();
        let codecs = Codecs::from_config(&c).unwrap();
        assert_eq!(codecs.encode(None, &Value::Bool(true)).unwrap(), "true");
        assert_eq!(
            codecs.encode(Some("yesno"), &Value::Bool(true)).unwrap(),
            "yes"
        );
        // Unknown names stay unknown.
        assert_eq!(
            codecs.get("yaml").err(),
            Some(PayloadError::UnknownCodec("yaml".into()))
        );
    }
}

/// Without the `tls` feature, a `mqtts://` broker is a configuration error
/// at `Client::connect`, before anything is opened or spawned, naming the
/// feature (it was a connection failure, retried with backoff).
#[cfg(not(feature = "tls"))]
mod no_tls {
    use std::future::Future;
    use std::io;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};
    use std::time::Instant;

    use sansmqtt::runtime::{BoxFuture, Runtime, Timer, Transport};
    use sansmqtt::{Client, ClientError, Config, ConfigError};

    /// A runtime the check must not reach: each use fails the test.
    struct Untouched;

    impl Runtime for Untouched {
        fn spawn(&self, _future: BoxFuture<()>) {
            panic!("a driver was spawned for a URI this build cannot open");
        }
        fn timer(&self, _deadline: Instant) -> Pin<Box<dyn Timer>> {
            panic!("a timer was armed for a URI this build cannot open");
        }
        fn connect_tcp(&self, host: &str, port: u16) -> BoxFuture<io::Result<Box<dyn Transport>>> {
            panic!("{host}:{port} was dialled for a URI this build cannot open");
        }
    }

    /// `Client::connect`'s outcome, which must be ready at once.
    fn connect(uri: &str, config: Config) -> Result<Client, ClientError> {
        let mut future = Client::connect(Arc::new(Untouched), uri, config);
        match Pin::new(&mut future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(result) => result,
            Poll::Pending => panic!("connect waited instead of refusing {uri}"),
        }
    }

    fn needs_tls(result: Result<Client, ClientError>, key: &str) {
        match result {
            Err(ClientError::Config(ConfigError::NeedsFeature { key: k, feature })) => {
                assert_eq!((k.as_str(), feature), (key, "tls"));
            }
            Err(other) => panic!("expected NeedsFeature for {key}, got {other}"),
            Ok(_) => panic!("connected to {key}"),
        }
    }

    #[test]
    fn mqtts_is_refused_naming_the_tls_feature() {
        needs_tls(
            connect("mqtts://user:secret@broker.example:8883", Config::default()),
            "mqtts://user@broker.example:8883",
        );
    }

    #[test]
    fn a_fallback_uri_in_the_config_is_checked_too() {
        let config = Config {
            uris: vec!["mqtts://backup.example".try_into().expect("a valid URI")],
            ..Config::default()
        };
        needs_tls(
            connect("mqtt://127.0.0.1:1883", config),
            "mqtts://backup.example:8883",
        );
    }
}
