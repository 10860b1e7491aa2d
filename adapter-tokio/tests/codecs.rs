//! Payload codecs end to end, on tokio against a real mosquitto (one per
//! test): values and typed values published with the default codec, a
//! named codec and an alias of `codec_params`; decoded subscription
//! streams and `deliver_value`; a payload that does not decode is an
//! error in its item, the message is kept and the stream goes on; a will
//! encoded with an alias reaches the subscribers.

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use sansmqtt_tokio::payload::{Bytes, Codec, Decoded, PayloadError, Value};
use sansmqtt_tokio::{Client, ClientError, Config, PublishOptions, QoS, TokioRuntime};
use serde_json::json;
use support::Mosquitto;

/// Deadline of one wait (a message, an ack, a connection).
const STEP: Duration = Duration::from_secs(10);

/// The seed document's codec settings, with `json` as the default codec.
fn config(client_id: &str) -> Config {
    let mut config: Config = serde_json::from_value(json!({
        "codec": "json",
        "codec_params": {
            "BOOL": {"on": "ON", "off": "OFF", "name": "bool"},
            "yesno": {"on": "yes", "off": "no", "name": "bool"}
        }
    }))
    .expect("config");
    config.client_id = Some(client_id.to_owned());
    config
}

async fn within<F: Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(STEP, f)
        .await
        .unwrap_or_else(|_| panic!("{what} timed out"))
}

async fn connect(broker: &Mosquitto, config: Config) -> Client {
    within("connect", sansmqtt_tokio::connect(&broker.uri(), config))
        .await
        .expect("connect")
}

async fn next<S: Stream + Unpin>(stream: &mut S) -> S::Item {
    within("a message", stream.next())
        .await
        .expect("the stream ended")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoded_stream_keeps_bad_payloads_and_goes_on() {
    let broker = Mosquitto::start("");
    let client = connect(&broker, config("codecs-stream")).await;
    let mut stream = client
        .subscription_value("codecs/json/#", QoS::AtLeastOnce, None)
        .await
        .unwrap();
    assert_eq!(stream.topic_filter().as_str(), "codecs/json/#");

    // A value with the default codec (json).
    let value = Value::Data(json!({"n": 1, "list": [true, null]}));
    client
        .publish_value("codecs/json/a", &value, QoS::AtLeastOnce, false)
        .await
        .unwrap();
    let Decoded {
        message,
        value: got,
    } = next(&mut stream).await;
    assert_eq!(message.topic().as_str(), "codecs/json/a");
    assert_eq!(&message.payload()[..], br#"{"list":[true,null],"n":1}"#);
    assert_eq!(got, Ok(value));

    // A payload that is not JSON: an error in its item, the raw payload kept.
    client
        .publish("codecs/json/b", &b"{not json"[..], QoS::AtLeastOnce, false)
        .await
        .unwrap();
    let bad = next(&mut stream).await;
    assert!(
        matches!(bad.value, Err(PayloadError::Json { .. })),
        "{bad:?}"
    );
    assert_eq!(&bad.message.payload()[..], b"{not json");
    assert_eq!(bad.message.topic().as_str(), "codecs/json/b");

    // The stream goes on: a typed value next.
    let typed: BTreeMap<String, f64> = [("celsius".to_owned(), 21.5)].into();
    client
        .publish_typed("codecs/json/c", &typed, QoS::ExactlyOnce, false)
        .await
        .unwrap();
    let d = next(&mut stream).await;
    assert_eq!(d.value, Ok(Value::Data(json!({"celsius": 21.5}))));
    assert_eq!(
        d.message
            .decode_typed::<BTreeMap<String, f64>>(&**stream.codec())
            .unwrap(),
        typed
    );
    client.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_and_deliver_value() {
    let broker = Mosquitto::start("");
    let client = connect(&broker, config("codecs-alias")).await;
    client
        .subscribe(&[("codecs/flag/#", QoS::AtLeastOnce)])
        .await
        .unwrap();

    // An unknown codec fails at once, before waiting for a message.
    let e = within("deliver_value", client.deliver_value(Some("nope")))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ClientError::Payload(PayloadError::UnknownCodec("nope".into()))
    );
    // A value the alias refuses is not published.
    let e = client
        .publish_value_with(
            "codecs/flag/x",
            &"yes".into(),
            PublishOptions::new()
                .qos(QoS::AtLeastOnce)
                .retain(false)
                .codec("yesno"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, ClientError::Payload(PayloadError::Unsupported { .. })),
        "{e}"
    );

    for (codec, flag, wire) in [("yesno", true, "yes"), ("BOOL", false, "OFF")] {
        client
            .publish_value_with(
                "codecs/flag/1",
                &flag.into(),
                PublishOptions::new()
                    .qos(QoS::AtLeastOnce)
                    .retain(false)
                    .codec(codec),
            )
            .await
            .unwrap();
        let d = within("deliver_value", client.deliver_value(Some(codec)))
            .await
            .unwrap()
            .expect("a message");
        assert_eq!(&d.message.payload()[..], wire.as_bytes());
        assert_eq!(d.value, Ok(Value::Bool(flag)));
    }

    // Typed, with a named codec: decoded with another codec, an error.
    client
        .publish_typed_with(
            "codecs/flag/2",
            &true,
            PublishOptions::new()
                .qos(QoS::AtLeastOnce)
                .retain(false)
                .codec("yesno"),
        )
        .await
        .unwrap();
    let d = within("deliver_typed", client.deliver_typed::<bool>(Some("BOOL")))
        .await
        .unwrap()
        .expect("a message");
    assert!(
        matches!(d.value, Err(PayloadError::NotABool { .. })),
        "{d:?}"
    );
    assert_eq!(&d.message.payload()[..], b"yes");
    // The same message, decoded with its own codec.
    let yesno = client.codecs().get("yesno").unwrap();
    assert_eq!(d.message.decode_typed::<bool>(&*yesno), Ok(true));
    client.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_msgpack_subscription_and_user_codecs() {
    /// A user codec: text reversed on the wire.
    struct Reversed;
    impl Codec for Reversed {
        fn encode(&self, value: &Value) -> Result<Bytes, PayloadError> {
            let s = value
                .as_str()
                .ok_or_else(|| PayloadError::custom("reversed", "text only"))?;
            Ok(s.chars().rev().collect::<String>().into())
        }
        fn decode(&self, payload: &Bytes) -> Result<Value, PayloadError> {
            let s =
                std::str::from_utf8(payload).map_err(|e| PayloadError::custom("reversed", e))?;
            Ok(Value::Text(s.chars().rev().collect()))
        }
    }

    let broker = Mosquitto::start("");
    let client = connect(&broker, config("codecs-typed")).await;
    let mut numbers = client
        .subscription_typed::<Vec<u32>>("codecs/mp", QoS::AtLeastOnce, Some("msgpack"))
        .await
        .unwrap();
    client
        .publish_typed_with(
            "codecs/mp",
            &vec![1u32, 2, 300],
            PublishOptions::new()
                .qos(QoS::AtLeastOnce)
                .retain(false)
                .codec("msgpack"),
        )
        .await
        .unwrap();
    let d = next(&mut numbers).await;
    assert_eq!(&d.message.payload()[..], &[0x93, 1, 2, 0xcd, 0x01, 0x2c]);
    assert_eq!(d.value, Ok(vec![1, 2, 300]));
    // Not MessagePack of a list of numbers: errors, and the stream goes on.
    client
        .publish_typed_with(
            "codecs/mp",
            "text",
            PublishOptions::new()
                .qos(QoS::AtLeastOnce)
                .retain(false)
                .codec("msgpack"),
        )
        .await
        .unwrap();
    assert!(matches!(
        next(&mut numbers).await.value,
        Err(PayloadError::Typed(_))
    ));
    client
        .publish("codecs/mp", &[0xc1u8][..], QoS::AtLeastOnce, false)
        .await
        .unwrap();
    assert!(matches!(
        next(&mut numbers).await.value,
        Err(PayloadError::MsgPack { .. })
    ));
    client
        .publish_typed_with(
            "codecs/mp",
            &[7u32],
            PublishOptions::new()
                .qos(QoS::AtLeastOnce)
                .retain(false)
                .codec("msgpack+json"),
        )
        .await
        .unwrap();
    assert_eq!(next(&mut numbers).await.value, Ok(vec![7]));

    // A user codec, registered on the client, by name, and as the default.
    client.codecs().register("reversed", Arc::new(Reversed));
    let mut rev = client
        .subscription_value("codecs/rev", QoS::AtLeastOnce, Some("reversed"))
        .await
        .unwrap();
    client
        .publish_value_with(
            "codecs/rev",
            &"stressed".into(),
            PublishOptions::new()
                .qos(QoS::AtLeastOnce)
                .retain(false)
                .codec("reversed"),
        )
        .await
        .unwrap();
    let d = next(&mut rev).await;
    assert_eq!(&d.message.payload()[..], b"desserts");
    assert_eq!(d.value, Ok(Value::from("stressed")));
    client.codecs().set_default("reversed").unwrap();
    client
        .publish_value("codecs/rev", &"drawer".into(), QoS::AtLeastOnce, false)
        .await
        .unwrap();
    assert_eq!(next(&mut rev).await.value, Ok(Value::from("drawer")));
    client.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn will_encoded_with_an_alias_reaches_subscribers() {
    let broker = Mosquitto::start("");
    let observer = connect(&broker, config("codecs-observer")).await;
    let mut wills = observer
        .subscription_value("codecs/will/#", QoS::AtLeastOnce, Some("yesno"))
        .await
        .unwrap();

    // The will as a value, encoded with the `yesno` alias.
    let mut doomed_config = config("codecs-doomed");
    doomed_config.will = Some(
        serde_json::from_value(json!({
            "topic": "codecs/will/alive",
            "codec": "yesno",
            "value": false,
            "qos": 1
        }))
        .expect("will"),
    );
    // The doomed client runs on a runtime of its own; shutting it down drops
    // the driver, which closes the socket without DISCONNECT, as a crash.
    let doomed_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let runtime = Arc::new(TokioRuntime::new(doomed_rt.handle().clone()));
    let doomed = within(
        "connect",
        Client::connect(runtime, &broker.uri(), doomed_config),
    )
    .await
    .expect("connect");
    within("ping", doomed.ping()).await.unwrap();
    doomed_rt.shutdown_background();

    let d = next(&mut wills).await;
    assert_eq!(d.message.topic().as_str(), "codecs/will/alive");
    assert_eq!(&d.message.payload()[..], b"no");
    assert_eq!(d.value, Ok(Value::Bool(false)));
    observer.disconnect().await;
    drop(doomed);
}
