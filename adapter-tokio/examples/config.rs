//! The seed document's configuration example, verbatim in TOML: per-topic
//! QoS and retain defaults (`topics`), a default codec (`utf8`) and the
//! `BOOL` / `yesno` aliases of the bool codec (`codec_params`).
//!
//! Publishes with the defaults the configuration gives each topic (`/test`
//! at QoS 1, `/some_topic` at QoS 2 and retained, anything else at QoS 0),
//! a `yesno` flag, then subscribes to `/some_topic` to show that its
//! message was retained, and prints every step.
//!
//! ```sh
//! cargo run -p sansmqtt-tokio --example config
//! cargo run -p sansmqtt-tokio --example config -- --url mqtt://127.0.0.1:1883
//! ```

#[path = "common/mod.rs"]
mod common;

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use sansmqtt_tokio::{Config, PublishOptions, QoS, Value};

/// distmqtt's example `config` dictionary, as TOML.
const SEED_CONFIG: &str = r#"
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

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = common::Args::parse("config [--url mqtt://host:port]");
    let broker = common::Broker::from_args(&args)?;
    println!("broker: {}", broker.describe());
    let config: Config = toml::from_str(SEED_CONFIG)?;
    let client = sansmqtt_tokio::connect(broker.uri(), config).await?;

    for topic in ["/test", "/some_topic", "/elsewhere"] {
        // No options: the default codec (utf8) encodes the text, QoS and
        // retain come from `topics`, else the defaults.
        let value = Value::from(format!("hello {topic}"));
        let done = client
            .publish_value_with(topic, &value, PublishOptions::new())
            .await?;
        let (qos, retain) = client.config().publish_defaults(&topic.try_into()?);
        println!(
            "published to {topic}: QoS {qos:?}, retain {retain}, completed at {:?}",
            done.qos
        );
    }
    // 'codec="yesno"' only accepts a bool and sends "yes" / "no".
    client
        .publish_value_with(
            "/flags/door",
            &Value::Bool(true),
            PublishOptions::new()
                .qos(QoS::AtLeastOnce)
                .retain(false)
                .codec("yesno"),
        )
        .await?;
    println!("published true to /flags/door with codec yesno (payload \"yes\")");
    match client
        .publish_value_with(
            "/flags/door",
            &Value::from("maybe"),
            PublishOptions::new()
                .qos(QoS::AtLeastOnce)
                .retain(false)
                .codec("yesno"),
        )
        .await
    {
        Err(e) => println!("yesno refuses a text value: {e}"),
        Ok(_) => return Err("yesno accepted a text value".into()),
    }

    // Retained: a new subscription gets /some_topic's last message at once.
    let mut retained = client
        .subscription_value("/some_topic", QoS::ExactlyOnce, None)
        .await?;
    match tokio::time::timeout(Duration::from_secs(5), retained.next()).await {
        Ok(Some(d)) => println!(
            "subscribed to /some_topic: got {:?} (retain flag {})",
            d.value?,
            d.message.retain()
        ),
        _ => return Err("no retained message on /some_topic".into()),
    }
    drop(retained);
    client.disconnect().await;
    println!("disconnected");
    Ok(())
}
