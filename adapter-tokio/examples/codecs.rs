//! Codecs: publish and receive values instead of bytes.
//!
//! Starts an embedded rumqttd broker on a free loopback port (or uses the
//! broker given with `--url mqtt://host:port`), connects with the seed
//! document's codec settings (`json` as the default codec, the `yesno`
//! alias of the bool codec), then publishes a JSON value, a typed value, a
//! `yesno` flag and a payload that is not JSON, and prints each message as
//! a decoded subscription stream gives it.
//!
//! ```sh
//! cargo run -p sansmqtt-tokio --example codecs
//! cargo run -p sansmqtt-tokio --example codecs -- --url mqtt://127.0.0.1:1883
//! ```

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use sansmqtt_tokio::payload::{Decoded, Value};
use sansmqtt_tokio::{Config, PublishOptions, QoS};
use tokio::time::timeout;

/// How long to wait for a message before calling the run a failure.
const WAIT: Duration = Duration::from_secs(5);

/// The codec settings, as a TOML file would give them.
const CONFIG: &str = r#"{
    "codec": "json",
    "codec_params": {
        "yesno": { "on": "yes", "off": "no", "name": "bool" }
    }
}"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = common::Args::parse("codecs [--url mqtt://host:port]");
    let broker = common::Broker::from_args(&args)?;
    println!("broker: {}", broker.describe());

    let mut config: Config = serde_json::from_str(CONFIG)?;
    config.client_id = Some(format!("codecs-{}", std::process::id()));
    let client = sansmqtt_tokio::connect(broker.uri(), config).await?;
    println!("connected; codecs: {:?}", client.codecs());

    // Messages of codecs/json/# decoded with the default codec (json), and
    // of codecs/flag with the yesno alias.
    let mut json = client
        .subscription_value("codecs/json/#", QoS::AtLeastOnce, None)
        .await?;
    let mut flags = client
        .subscription_value("codecs/flag", QoS::AtLeastOnce, Some("yesno"))
        .await?;

    // A value, with the default codec.
    let value = Value::Data(serde_json::json!({ "temperature": 21.5, "unit": "C" }));
    client
        .publish_value("codecs/json/value", &value, QoS::AtLeastOnce, false)
        .await?;
    show(timeout(WAIT, json.next()).await?);

    // A typed value (any `Serialize`), with the default codec.
    let typed: BTreeMap<&str, u32> = [("a", 1), ("b", 2)].into();
    client
        .publish_typed("codecs/json/typed", &typed, QoS::AtLeastOnce, false)
        .await?;
    show(timeout(WAIT, json.next()).await?);

    // A payload that is not JSON: an error in its item, the stream goes on.
    client
        .publish("codecs/json/raw", "{oops", QoS::AtLeastOnce, false)
        .await?;
    show(timeout(WAIT, json.next()).await?);

    // A flag with the alias: `true` is sent as "yes".
    client
        .publish_value_with(
            "codecs/flag",
            &true.into(),
            PublishOptions::new()
                .qos(QoS::AtLeastOnce)
                .retain(false)
                .codec("yesno"),
        )
        .await?;
    show(timeout(WAIT, flags.next()).await?);

    // The alias takes only a bool.
    match client
        .publish_value_with(
            "codecs/flag",
            &"maybe".into(),
            PublishOptions::new()
                .qos(QoS::AtLeastOnce)
                .retain(false)
                .codec("yesno"),
        )
        .await
    {
        Err(refused) => println!("publish \"maybe\" with yesno: {refused}"),
        Ok(_) => return Err("yesno published a string".into()),
    }

    client.disconnect().await;
    println!("disconnected");
    Ok(())
}

/// One line about a decoded message.
fn show(item: Option<Decoded>) {
    match item {
        None => println!("the stream ended"),
        Some(Decoded { message, value }) => println!(
            "{} => payload {:?} => {value:?}",
            message.topic(),
            message.payload()
        ),
    }
}
