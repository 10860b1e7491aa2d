//! Payload codecs, as a specification: every codec of distmqtt (`noop`,
//! `utf8`, `json`, `msgpack`, `msgpack+json`, `bool` and its params), the
//! aliases of `codec_params`, the seed document's configuration example
//! loaded verbatim, seed bug 13, codecs of your own, typed values, and the
//! will encoded with a codec. No broker: see `adapter-tokio/tests/codecs.rs`
//! for the client end to end.

use std::sync::Arc;

use bytes::Bytes;
use sansmqtt::config::{BrokerUri, WillConfig};
use sansmqtt::payload::{
    self as payload, BoolCodec, Codec, Codecs, JsonCodec, MsgPackCodec, MsgPackJsonCodec,
    NoopCodec, PayloadError, Utf8Codec, Value,
};
use sansmqtt::{Config, ConfigError, QoS, TopicName};
use serde::{Deserialize, Serialize};
use serde_json::json;

fn b(s: impl AsRef<[u8]>) -> Bytes {
    Bytes::copy_from_slice(s.as_ref())
}

fn toml_config(text: &str) -> Config {
    let config: Config = toml::from_str(text).expect("config");
    config.validate().expect("valid config");
    config
}

fn registry(text: &str) -> Codecs {
    Codecs::from_config(&toml_config(text)).expect("codecs")
}

/// Round trip of `value` through `codec`: the payload is `wire`, and it
/// decodes back to `value`.
fn round_trip(codec: &dyn Codec, value: Value, wire: &[u8]) {
    let payload = codec.encode(&value).expect("encode");
    assert_eq!(&payload[..], wire, "encoding of {value:?}");
    assert_eq!(codec.decode(&payload).expect("decode"), value);
}

// ------------------------------------------------ the seed document's example

/// The `config` of the seed document (mqttclient-api.rst, "MQTTClient
/// configuration"), key for key, in TOML.
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
bool = { on = "on", off = "off" }    # default, actually
BOOL = { on = "ON", off = "OFF", name = "bool" }
yesno = { on = "yes", off = "no", name = "bool" }

[topics]
"/test" = { qos = 1 }
"/some_topic" = { qos = 2, retain = true }
"#;

/// The same in JSON.
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

/// What the document says of its example, checked on a configuration.
fn check_seed_example(config: &Config) {
    config.validate().unwrap();
    let codecs = Codecs::from_config(config).unwrap();

    // 'codec': 'utf8' is the default codec.
    assert_eq!(codecs.default_name(), "utf8");
    assert_eq!(codecs.encode(None, &"héllo".into()).unwrap(), "héllo");
    assert_eq!(
        codecs.decode(None, &b("héllo")).unwrap(),
        Value::from("héllo")
    );

    // "codec='yesno' will only accept a bool as message, and translate that
    // to "yes" and "no" messages."
    let yesno = codecs.get("yesno").unwrap();
    round_trip(&*yesno, Value::Bool(true), b"yes");
    round_trip(&*yesno, Value::Bool(false), b"no");
    for not_a_bool in [
        Value::from("yes"),
        Value::from(b"yes".to_vec()),
        Value::Null,
        Value::Data(json!(1)),
        Value::Data(json!({"on": true})),
    ] {
        let e = yesno.encode(&not_a_bool).unwrap_err();
        assert!(matches!(e, PayloadError::Unsupported { .. }), "{e}");
    }
    // BOOL: the same with upper-case words.
    let upper = codecs.get("BOOL").unwrap();
    round_trip(&*upper, Value::Bool(true), b"ON");
    round_trip(&*upper, Value::Bool(false), b"OFF");
    assert!(upper.decode(&b("on")).is_err(), "words are case-sensitive");
    // bool: the defaults, given explicitly.
    let plain = codecs.get("bool").unwrap();
    round_trip(&*plain, Value::Bool(true), b"on");
    round_trip(&*plain, Value::Bool(false), b"off");

    // "any message published will set with QOS_0 and retain flag unset
    // except for" /test (QoS 1) and /some_topic (QoS 2, retained).
    let defaults = |t: &str| config.publish_defaults(&TopicName::try_from(t).unwrap());
    assert_eq!(defaults("/test"), (QoS::AtLeastOnce, false));
    assert_eq!(defaults("/some_topic"), (QoS::ExactlyOnce, true));
    assert_eq!(defaults("/other"), (QoS::AtMostOnce, false));
}

#[test]
fn seed_document_config_example_loads_from_toml_and_behaves_as_documented() {
    check_seed_example(&toml::from_str(SEED_TOML).unwrap());
}

#[test]
fn seed_document_config_example_loads_from_json_and_behaves_as_documented() {
    check_seed_example(&serde_json::from_str(SEED_JSON).unwrap());
}

// ------------------------------------------------------------ seed bug 13

/// distmqtt: an alias (a `codec_params` entry with a `name` key) could not
/// be used. Here `yesno` and `BOOL` are codecs of their own, by name,
/// everywhere a codec name is taken (and as the default codec).
#[test]
fn seed_bug_13_codec_params_aliases_work() {
    let mut config = toml_config(SEED_TOML);
    let codecs = Codecs::from_config(&config).unwrap();
    let names = codecs.names();
    for name in [
        "BOOL",
        "yesno",
        "noop",
        "utf8",
        "json",
        "msgpack",
        "msgpack+json",
        "bool",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    assert_eq!(codecs.encode(Some("yesno"), &true.into()).unwrap(), "yes");
    assert_eq!(codecs.encode(Some("BOOL"), &false.into()).unwrap(), "OFF");

    // An alias as the default codec.
    config.codec = "yesno".into();
    config.validate().unwrap();
    let codecs = Codecs::from_config(&config).unwrap();
    assert_eq!(codecs.encode(None, &false.into()).unwrap(), "no");
    assert_eq!(codecs.decode(None, &b("yes")).unwrap(), Value::Bool(true));

    // An alias of another codec, with that codec's parameters.
    let codecs = codecs_with(r#"pretty = { name = "json", indent = 2 }"#);
    assert_eq!(
        codecs
            .encode(Some("pretty"), &Value::Data(json!([1])))
            .unwrap(),
        "[\n  1\n]"
    );
    assert_eq!(
        codecs
            .encode(Some("json"), &Value::Data(json!([1])))
            .unwrap(),
        "[1]"
    );
}

/// distmqtt: the default `bool` codec compared the payload with `str`
/// words and returned `str` payloads, so it never decoded and its encode
/// gave no bytes. Here the parameterless `bool` codec works both ways.
#[test]
fn seed_bug_13_default_bool_codec_works() {
    let codecs = Codecs::new();
    let bool_codec = codecs.get("bool").unwrap();
    round_trip(&*bool_codec, Value::Bool(true), b"on");
    round_trip(&*bool_codec, Value::Bool(false), b"off");
    // The same codec standalone.
    round_trip(&BoolCodec::default(), Value::Bool(true), b"on");
    // And as the default codec of a config.
    let codecs = registry("codec = \"bool\"");
    assert_eq!(codecs.encode(None, &true.into()).unwrap(), "on");
    assert_eq!(codecs.decode(None, &b("off")).unwrap(), Value::Bool(false));
    // Without a `null` word, null is neither encoded nor decoded.
    assert!(codecs.encode(None, &Value::Null).is_err());
}

/// distmqtt: `msgpack+json` encode passed `use_list` to `msgpack.packb`
/// and always failed. Here JSON text is encoded as the MessagePack of its
/// structure, and decoded back to JSON text.
#[test]
fn seed_bug_13_msgpack_json_encode_works() {
    let codecs = Codecs::new();
    let codec = codecs.get("msgpack+json").unwrap();
    let payload = codec
        .encode(&Value::from(r#"{"a": [1, -2, 1.5], "b": null, "c": "x"}"#))
        .unwrap();
    // The wire format is MessagePack: the same bytes as the `msgpack` codec
    // gives for the structure (map keys in order).
    let structure = Value::Data(json!({"a": [1, -2, 1.5], "b": null, "c": "x"}));
    assert_eq!(payload, MsgPackCodec::new().encode(&structure).unwrap());
    assert_eq!(payload[0], 0x83, "a MessagePack map of 3 entries");
    // Decoding gives JSON text back (compact).
    assert_eq!(
        codec.decode(&payload).unwrap(),
        Value::from(r#"{"a":[1,-2,1.5],"b":null,"c":"x"}"#)
    );
    // Scalars and arrays are JSON text too.
    assert_eq!(
        codec.encode(&Value::from("[1,2]")).unwrap(),
        &[0x92, 1, 2][..]
    );
    assert_eq!(
        codec.encode(&Value::from("\"hi\"")).unwrap(),
        &[0xa2, b'h', b'i'][..]
    );
    assert_eq!(
        codec.decode(&b([0xa2, b'h', b'i'])).unwrap(),
        Value::from("\"hi\"")
    );
    // Structured data, booleans and null are taken as they are.
    assert_eq!(codec.encode(&structure).unwrap(), payload);
    assert_eq!(codec.encode(&Value::Bool(true)).unwrap(), &[0xc3][..]);
    // Text that is not JSON, and bytes, are refused.
    let e = codec.encode(&Value::from("not json")).unwrap_err();
    assert!(matches!(e, PayloadError::Json { .. }), "{e}");
    let e = codec.encode(&Value::from(vec![1u8])).unwrap_err();
    assert!(
        matches!(e, PayloadError::Unsupported { kind: "bytes", .. }),
        "{e}"
    );
    // With its (accepted) parameters, by name.
    let codecs = codecs_with(r#""msgpack+json" = { use_bin_type = true, use_list = true }"#);
    assert_eq!(
        codecs
            .encode(Some("msgpack+json"), &"[1,2]".into())
            .unwrap(),
        &[0x92, 1, 2][..]
    );
}

/// distmqtt: a codec given by name (`codec="bool"`) was built without its
/// `codec_params`. Here a codec named by a string always has them: as the
/// default codec, by name, and for the will.
#[test]
fn seed_bug_13_string_named_codecs_honour_codec_params() {
    let config = toml_config(
        r#"
        codec = "bool"
        [codec_params]
        bool = { on = "1", off = "0", null = "-" }
        json = { indent = 1 }
        msgpack = { use_bin_type = false }
        "#,
    );
    let codecs = Codecs::from_config(&config).unwrap();
    // The default codec, named by `codec`.
    assert_eq!(codecs.encode(None, &true.into()).unwrap(), "1");
    assert_eq!(codecs.decode(None, &b("-")).unwrap(), Value::Null);
    // By name.
    assert_eq!(codecs.encode(Some("bool"), &false.into()).unwrap(), "0");
    assert!(codecs.decode(Some("bool"), &b("on")).is_err());
    assert_eq!(
        codecs
            .encode(Some("json"), &Value::Data(json!({"a": 1})))
            .unwrap(),
        "{\n \"a\": 1\n}"
    );
    assert_eq!(
        codecs
            .encode(Some("msgpack"), &Value::from(vec![1u8, 2]))
            .unwrap(),
        &[0xa2, 1, 2][..],
        "bytes in the str family with use_bin_type = false"
    );
    // Typed calls too.
    assert_eq!(codecs.encode_typed(Some("bool"), &Some(true)).unwrap(), "1");
    assert_eq!(
        codecs.encode_typed(Some("bool"), &None::<bool>).unwrap(),
        "-"
    );
    // And the will.
    let will = WillConfig {
        codec: Some("bool".into()),
        value: Some(json!(false)),
        ..WillConfig::new("w".try_into().unwrap())
    };
    assert_eq!(will.payload(&config).unwrap(), "0");
}

// ---------------------------------------------------------- each codec

#[test]
fn noop_codec_takes_and_gives_bytes() {
    round_trip(&NoopCodec, Value::from(vec![0u8, 0xff, 10]), &[0, 0xff, 10]);
    round_trip(&NoopCodec, Value::from(Vec::<u8>::new()), b"");
    // Bytes only: distmqtt asserted `bytes` too.
    for other in [Value::from("text"), Value::Bool(true), Value::Null] {
        assert!(NoopCodec.encode(&other).is_err(), "{other:?}");
    }
    // Typed: a byte vector.
    let codecs = Codecs::new();
    assert_eq!(
        codecs.encode_typed(Some("noop"), &vec![1u8, 2]).unwrap(),
        &[1, 2][..]
    );
    let back: Vec<u8> = codecs.decode_typed(Some("noop"), &b([3, 4])).unwrap();
    assert_eq!(back, [3, 4]);
    assert!(codecs.encode_typed(Some("noop"), &vec![256]).is_err());
}

#[test]
fn utf8_codec_takes_and_gives_text() {
    round_trip(&Utf8Codec, Value::from("grüße ✓"), "grüße ✓".as_bytes());
    round_trip(&Utf8Codec, Value::from(""), b"");
    // It does not stringify other values.
    for other in [
        Value::from(vec![1u8]),
        Value::Bool(true),
        Value::Data(json!(1)),
    ] {
        let e = Utf8Codec.encode(&other).unwrap_err();
        assert!(
            matches!(
                e,
                PayloadError::Unsupported {
                    expected: "text",
                    ..
                }
            ),
            "{e}"
        );
    }
    let e = Utf8Codec.decode(&b([b'o', b'k', 0xff])).unwrap_err();
    assert_eq!(
        e,
        PayloadError::InvalidUtf8 {
            codec: "utf8".into(),
            valid_up_to: 2
        }
    );
}

#[test]
fn json_codec_round_trips_every_kind_of_value() {
    let json = JsonCodec::new();
    round_trip(
        &json,
        Value::from("a \"quoted\" é"),
        r#""a \"quoted\" é""#.as_bytes(),
    );
    round_trip(&json, Value::Bool(false), b"false");
    round_trip(&json, Value::Null, b"null");
    round_trip(&json, Value::Data(json!(-12)), b"-12");
    round_trip(&json, Value::Data(json!(2.5)), b"2.5");
    round_trip(&json, Value::Data(json!(u64::MAX)), b"18446744073709551615");
    round_trip(
        &json,
        Value::Data(json!({"a": [1, "b", null, {"c": true}]})),
        br#"{"a":[1,"b",null,{"c":true}]}"#,
    );
    // Whitespace around is fine; anything after the value is not.
    assert_eq!(json.decode(&b(" [1] \n")).unwrap(), Value::Data(json!([1])));
    assert!(matches!(
        json.decode(&b("[1] x")),
        Err(PayloadError::Json { .. })
    ));
    assert!(matches!(
        json.decode(&b("")),
        Err(PayloadError::Json { .. })
    ));
    // No bytes in JSON.
    assert!(matches!(
        json.encode(&Value::from(vec![1u8])),
        Err(PayloadError::Unsupported { kind: "bytes", .. })
    ));
    // `indent` pretty-prints.
    assert_eq!(
        JsonCodec::with_indent(4)
            .encode(&Value::Data(json!({"a": 1})))
            .unwrap(),
        "{\n    \"a\": 1\n}"
    );
}

#[test]
fn msgpack_codec_round_trips_every_kind_of_value() {
    let mp = MsgPackCodec::new();
    // The bytes Python's msgpack.packb(use_bin_type=True) gives.
    round_trip(&mp, Value::from(vec![1u8, 2]), &[0xc4, 2, 1, 2]);
    round_trip(&mp, Value::from("hé"), &[0xa3, b'h', 0xc3, 0xa9]);
    round_trip(&mp, Value::Bool(true), &[0xc3]);
    round_trip(&mp, Value::Null, &[0xc0]);
    round_trip(&mp, Value::Data(json!(1)), &[0x01]);
    round_trip(&mp, Value::Data(json!(-1)), &[0xff]);
    round_trip(&mp, Value::Data(json!(300)), &[0xcd, 0x01, 0x2c]);
    round_trip(
        &mp,
        Value::Data(json!(1.5)),
        &[0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0],
    );
    round_trip(
        &mp,
        Value::Data(json!({"a": [1, "b"]})),
        &[0x81, 0xa1, b'a', 0x92, 0x01, 0xa1, b'b'],
    );
    // From other peers: a float32, bin and int keys inside a map.
    assert_eq!(
        mp.decode(&b([0xca, 0x3f, 0xc0, 0, 0])).unwrap(),
        Value::Data(json!(1.5))
    );
    assert_eq!(
        mp.decode(&b([0x82, 0x01, 0xc4, 0x01, 0x07, 0xc3, 0xc0]))
            .unwrap(),
        Value::Data(json!({"1": [7], "true": null}))
    );
    // Errors: truncated, trailing bytes, reserved marker.
    for bad in [&[0x92, 0x01][..], &[0x01, 0x02], &[0xc1], &[]] {
        let e = mp.decode(&b(bad)).unwrap_err();
        assert!(matches!(e, PayloadError::MsgPack { .. }), "{bad:?}: {e}");
    }
}

#[test]
fn msgpack_params_are_honoured_and_checked() {
    let codecs = codecs_with(r#"msgpack = { use_bin_type = false, use_list = false }"#);
    assert_eq!(
        codecs
            .encode(Some("msgpack"), &Value::from(vec![b'x']))
            .unwrap(),
        &[0xa1, b'x'][..]
    );
    let e = Codecs::from_config(&toml_config(
        "[codec_params]\nmsgpack = { use_bin_type = \"yes\" }",
    ))
    .unwrap_err();
    assert!(
        matches!(&e, ConfigError::Codec { key, source: PayloadError::InvalidParam { param, .. } }
            if key == "codec_params.msgpack" && param == "use_bin_type"),
        "{e}"
    );
}

#[test]
fn bool_codec_params_on_off_null() {
    let c = BoolCodec::with_words("an", "aus", Some("weiss nicht")).unwrap();
    round_trip(&c, Value::Bool(true), b"an");
    round_trip(&c, Value::Bool(false), b"aus");
    round_trip(&c, Value::Null, b"weiss nicht");
    // Booleans and null inside structured data (typed calls) as well.
    assert_eq!(c.encode(&Value::Data(json!(true))).unwrap(), "an");
    assert_eq!(c.encode(&Value::Data(json!(null))).unwrap(), "weiss nicht");
    // Anything else is refused on both sides; the words are exact.
    assert!(c.encode(&Value::from("an")).is_err());
    for other in ["AN", " an", "an\n", "", "true"] {
        let e = c.decode(&b(other)).unwrap_err();
        assert!(matches!(e, PayloadError::NotABool { .. }), "{other:?}: {e}");
    }
    // An empty word is a word.
    let c = BoolCodec::with_words("1", "0", Some("")).unwrap();
    round_trip(&c, Value::Null, b"");
    // Without null: null is refused.
    let c = BoolCodec::new("1", "0").unwrap();
    assert!(matches!(
        c.encode(&Value::Null),
        Err(PayloadError::Unsupported {
            expected: "a bool",
            ..
        })
    ));
    // Words must differ.
    assert!(BoolCodec::new("x", "x").is_err());
    assert!(BoolCodec::with_words("x", "y", Some("y")).is_err());
    // From codec_params: a non-string word is refused.
    let e = Codecs::from_config(&toml_config("[codec_params]\nbool = { on = 1 }")).unwrap_err();
    assert!(
        matches!(&e, ConfigError::Codec { key, source: PayloadError::InvalidParam { param, .. } }
            if key == "codec_params.bool" && param == "on"),
        "{e}"
    );
    let e = Codecs::from_config(&toml_config(
        "[codec_params]\nyn = { name = \"bool\", on = \"y\", off = \"y\" }",
    ))
    .unwrap_err();
    assert!(
        matches!(&e, ConfigError::Codec { key, .. } if key == "codec_params.yn"),
        "{e}"
    );
}

#[test]
fn unknown_codec_params_are_refused_not_ignored() {
    for (params, param) in [
        ("json = { indnet = 2 }", "indnet"),
        ("utf8 = { errors = \"strict\" }", "errors"),
        ("yesno = { name = \"bool\", yes = \"y\" }", "yes"),
    ] {
        let e =
            Codecs::from_config(&toml_config(&format!("[codec_params]\n{params}"))).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Codec { source: PayloadError::InvalidParam { param: p, .. }, .. } if p == param),
            "{params}: {e}"
        );
    }
    let e =
        Codecs::from_config(&toml_config("[codec_params]\njson = { indent = -1 }")).unwrap_err();
    assert!(matches!(e, ConfigError::Codec { .. }), "{e}");
    // The standalone builder says the same.
    assert!(payload::builtin("noop", None).is_ok());
    assert_eq!(
        payload::builtin("nope", None).err(),
        Some(PayloadError::UnknownCodec("nope".into()))
    );
}

#[test]
fn codec_names_are_checked() {
    // An unknown default codec is refused by validate and by the registry.
    let config = Config {
        codec: "yaml".into(),
        ..Config::default()
    };
    assert_eq!(
        config.validate(),
        Err(ConfigError::UnknownCodec("yaml".into()))
    );
    assert_eq!(
        Codecs::from_config(&config).unwrap_err(),
        ConfigError::UnknownCodec("yaml".into())
    );
    // An unknown name at a call.
    let codecs = Codecs::new();
    assert_eq!(
        codecs.encode(Some("yaml"), &"x".into()).unwrap_err(),
        PayloadError::UnknownCodec("yaml".into())
    );
    assert!(codecs.set_default("yaml").is_err());
    assert_eq!(codecs.default_name(), "noop");
}

// ------------------------------------------------------- user codecs

/// A user codec: a number as decimal text.
struct Decimal;

impl Codec for Decimal {
    fn encode(&self, value: &Value) -> Result<Bytes, PayloadError> {
        match value.as_data().and_then(serde_json::Value::as_i64) {
            Some(n) => Ok(n.to_string().into()),
            None => Err(PayloadError::custom(
                "decimal",
                format!("not an integer: {value:?}"),
            )),
        }
    }

    fn decode(&self, payload: &Bytes) -> Result<Value, PayloadError> {
        std::str::from_utf8(payload)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map(|n| Value::Data(n.into()))
            .ok_or_else(|| PayloadError::custom("decimal", "not a decimal integer"))
    }
}

#[test]
fn user_codecs_register_replace_and_become_the_default() {
    let codecs = registry(SEED_TOML);
    assert!(codecs.register("decimal", Arc::new(Decimal)).is_none());
    assert_eq!(
        codecs
            .encode(Some("decimal"), &Value::Data(json!(42)))
            .unwrap(),
        "42"
    );
    assert_eq!(
        codecs.decode(Some("decimal"), &b(" 7 ")).unwrap(),
        Value::Data(json!(7))
    );
    // Typed calls use the trait's default data hooks.
    assert_eq!(codecs.encode_typed(Some("decimal"), &-3i32).unwrap(), "-3");
    let n: u8 = codecs.decode_typed(Some("decimal"), &b("200")).unwrap();
    assert_eq!(n, 200);
    let e = codecs
        .decode_typed::<u8>(Some("decimal"), &b("300"))
        .unwrap_err();
    assert!(matches!(e, PayloadError::Typed(_)), "{e}");
    assert_eq!(
        codecs
            .decode(Some("decimal"), &b("x"))
            .unwrap_err()
            .to_string(),
        "codec decimal: not a decimal integer"
    );
    // As the default.
    codecs.set_default("decimal").unwrap();
    assert_eq!(codecs.default_name(), "decimal");
    assert_eq!(codecs.encode(None, &Value::Data(json!(5))).unwrap(), "5");
    // Replacing an alias returns the old codec.
    let old = codecs
        .register("yesno", Arc::new(Decimal))
        .expect("replaced");
    assert_eq!(old.encode(&true.into()).unwrap(), "yes");
    assert_eq!(
        codecs
            .encode(Some("yesno"), &Value::Data(json!(1)))
            .unwrap(),
        "1"
    );
    // A clone is a copy: registering on it leaves the original alone.
    let copy = codecs.clone();
    copy.register("only-in-copy", Arc::new(Utf8Codec));
    assert!(codecs.get("only-in-copy").is_err());
    assert!(copy.get("decimal").is_ok());
}

#[test]
fn params_of_user_codecs_stay_in_the_config() {
    // An entry without `name` for a codec that is not built in is left to
    // the application's codec: no error, no codec of that name yet.
    let config = toml_config("[codec_params]\ndecimal = { base = 10 }");
    let codecs = Codecs::from_config(&config).unwrap();
    assert!(codecs.get("decimal").is_err());
    assert_eq!(
        config.codec_params["decimal"]["base"].as_i64(),
        Some(10),
        "readable by the application"
    );
}

// ------------------------------------------------------- typed values

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Reading {
    sensor: String,
    celsius: f64,
    tags: Vec<String>,
    ok: Option<bool>,
}

fn reading() -> Reading {
    Reading {
        sensor: "kitchen".into(),
        celsius: 21.5,
        tags: vec!["a".into(), "b".into()],
        ok: None,
    }
}

#[test]
fn typed_values_round_trip_through_structured_codecs() {
    let codecs = Codecs::new();
    for name in ["json", "msgpack", "msgpack+json"] {
        let payload = codecs.encode_typed(Some(name), &reading()).unwrap();
        let back: Reading = codecs.decode_typed(Some(name), &payload).unwrap();
        assert_eq!(back, reading(), "{name}");
    }
    // The JSON is serde's, map keys sorted (typed values go through
    // structured data).
    assert_eq!(
        codecs.encode_typed(Some("json"), &reading()).unwrap(),
        r#"{"celsius":21.5,"ok":null,"sensor":"kitchen","tags":["a","b"]}"#
    );
    // msgpack and msgpack+json agree on the wire.
    assert_eq!(
        codecs.encode_typed(Some("msgpack"), &reading()).unwrap(),
        codecs
            .encode_typed(Some("msgpack+json"), &reading())
            .unwrap()
    );
    // A typed string through msgpack+json is a string, not JSON text.
    assert_eq!(
        codecs.encode_typed(Some("msgpack+json"), "hi").unwrap(),
        &[0xa2, b'h', b'i'][..]
    );
    // Text codecs take strings, bool codecs booleans.
    assert_eq!(codecs.encode_typed(Some("utf8"), "hi").unwrap(), "hi");
    let s: String = codecs.decode_typed(Some("utf8"), &b("hé")).unwrap();
    assert_eq!(s, "hé");
    let v: bool = codecs.decode_typed(Some("bool"), &b("on")).unwrap();
    assert!(v);
    // A payload of the wrong shape is a typed error.
    let e = codecs
        .decode_typed::<Reading>(Some("json"), &b(r#"{"sensor": 1}"#))
        .unwrap_err();
    assert!(matches!(e, PayloadError::Typed(_)), "{e}");
}

#[test]
fn values_convert_to_and_from_serde_types() {
    assert_eq!(
        Value::from_serialize(&reading())
            .unwrap()
            .deserialize_into::<Reading>()
            .unwrap(),
        reading()
    );
    assert_eq!(Value::from_serialize("x").unwrap(), Value::from("x"));
    assert_eq!(Value::from_serialize(&true).unwrap(), Value::Bool(true));
    assert_eq!(Value::from_serialize(&()).unwrap(), Value::Null);
    assert_eq!(Value::from(None::<bool>), Value::Null);
    assert_eq!(Value::from(json!("s")), Value::from("s"));
    assert_eq!(Value::from(vec![1u8]).into_data(), json!([1]));
    assert_eq!(Value::Data(json!({"a": 1})).kind(), "map");
    assert_eq!(Value::Data(json!("a")).as_str(), Some("a"));
    assert_eq!(Value::Data(json!(false)).as_bool(), Some(false));
    assert!(Value::Data(json!(null)).is_null());
}

// ------------------------------------------------------------- the will

fn will(codec: Option<&str>, message: &str, value: Option<serde_json::Value>) -> WillConfig {
    WillConfig {
        message: message.into(),
        qos: sansmqtt::QoS::AtLeastOnce,
        retain: true,
        codec: codec.map(str::to_owned),
        value,
        ..WillConfig::new("status/dev".try_into().unwrap())
    }
}

#[test]
fn will_without_codec_or_value_is_sent_as_it_is() {
    let config = toml_config("codec = \"json\"");
    assert_eq!(
        will(None, "offline", None).payload(&config).unwrap(),
        "offline"
    );
}

#[test]
fn will_value_is_encoded_with_its_codec_or_the_default_one() {
    let config = toml_config(SEED_TOML);
    // An alias of the seed document.
    assert_eq!(
        will(Some("yesno"), "", Some(json!(false)))
            .payload(&config)
            .unwrap(),
        "no"
    );
    // The default codec (utf8).
    assert_eq!(
        will(None, "", Some(json!("gone")))
            .payload(&config)
            .unwrap(),
        "gone"
    );
    // Structured data with json.
    assert_eq!(
        will(Some("json"), "", Some(json!({"state": "gone"})))
            .payload(&config)
            .unwrap(),
        r#"{"state":"gone"}"#
    );
    // A codec with the message (text) as the value.
    assert_eq!(
        will(Some("json"), "bye", None).payload(&config).unwrap(),
        r#""bye""#
    );
    // It reaches the CONNECT's will.
    let mut config = config;
    config.will = Some(will(Some("BOOL"), "", Some(json!(true))));
    let options = config
        .session_options(&BrokerUri::parse("mqtt://h").unwrap())
        .unwrap();
    let last_will = options.will.unwrap();
    assert_eq!(&last_will.payload[..], b"ON");
    assert_eq!((last_will.qos, last_will.retain), (QoS::AtLeastOnce, true));
}

#[test]
fn will_with_a_codec_loads_from_toml() {
    let config = toml_config(
        r#"
        [codec_params]
        yesno = { on = "yes", off = "no", name = "bool" }
        [will]
        topic = "status/dev"
        codec = "yesno"
        value = false
        "#,
    );
    let will = config.will.as_ref().unwrap();
    assert_eq!(will.payload(&config).unwrap(), "no");
    // It serializes back the same way.
    let again: Config = toml::from_str(&toml::to_string(&config).unwrap()).unwrap();
    assert_eq!(again.will, config.will);
}

#[test]
fn will_errors_are_config_errors() {
    let config = toml_config(SEED_TOML);
    let uri = BrokerUri::parse("mqtt://h").unwrap();
    let with = |w: WillConfig| Config {
        will: Some(w),
        ..config.clone()
    };
    // A value the codec refuses.
    let e = with(will(Some("yesno"), "", Some(json!("maybe"))))
        .session_options(&uri)
        .unwrap_err();
    assert!(
        matches!(&e, ConfigError::Codec { key, source: PayloadError::Unsupported { .. } } if key == "will"),
        "{e}"
    );
    // An unknown codec.
    let e = with(will(Some("nope"), "", Some(json!(1))))
        .session_options(&uri)
        .unwrap_err();
    assert_eq!(e, ConfigError::UnknownCodec("nope".into()));
    // Both a message and a value.
    let e = with(will(Some("json"), "bye", Some(json!(1))))
        .session_options(&uri)
        .unwrap_err();
    assert_eq!(e, ConfigError::WillMessageAndValue);
    // Too long once encoded.
    let long = "x".repeat(70_000);
    let e = with(will(Some("json"), "", Some(json!(long))))
        .session_options(&uri)
        .unwrap_err();
    assert_eq!(e, ConfigError::WillMessageTooLong(70_002));
}

fn codecs_with(params: &str) -> Codecs {
    registry(&format!("[codec_params]\n{params}"))
}

#[test]
fn msgpack_json_codec_type_is_usable_standalone() {
    let codec = MsgPackJsonCodec;
    assert_eq!(codec.decode(&b([0xc0])).unwrap(), Value::from("null"));
    assert_eq!(
        codec.decode_data(&b([0xc0])).unwrap(),
        serde_json::Value::Null
    );
}
