//! Quickstart on async-std: one subscribe and a publish/receive round trip
//! at QoS 0, 1 and 2, printing each step.
//!
//! Starts an embedded rumqttd broker on a free loopback port (or uses the
//! broker given with `--url mqtt://host:port`), connects, subscribes with a
//! subscription stream, publishes to it, prints each acknowledgement and
//! message, and disconnects cleanly.
//!
//! ```sh
//! cargo run -p sansmqtt-async-std --example quickstart
//! cargo run -p sansmqtt-async-std --example quickstart -- --url mqtt://127.0.0.1:1883
//! ```

#[path = "../../mqtt-session/examples/common/broker.rs"]
mod broker;

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use sansmqtt_async_std::{Config, QoS};

/// How long to wait for a message before calling the run a failure.
const WAIT: Duration = Duration::from_secs(5);

fn main() -> Result<(), Box<dyn Error>> {
    let broker = broker::Broker::from_args("quickstart [--url mqtt://host:port]")?;
    println!("broker: {}", broker.describe());
    if broker.is_embedded() {
        // MQTT delivers at the lower of the publish and subscription QoS
        // (mosquitto does); rumqttd 0.20 uses the subscription's.
        println!("(rumqttd delivers every message at the subscription's QoS)");
    }
    async_std::task::block_on(async {
        // `connect` returns once the broker accepted the connection; a
        // background task on async-std's executor drives it from then on.
        let config = Config {
            client_id: Some(format!("quickstart-async-std-{}", std::process::id())),
            ..Config::default()
        };
        let client = sansmqtt_async_std::connect(broker.uri(), config).await?;
        println!("connected");

        let mut stream = client
            .subscription("quickstart/#", QoS::ExactlyOnce)
            .await?;
        println!("subscribed to quickstart/#");

        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let level = qos as u8;
            let topic = format!("quickstart/qos{level}");
            let done = client
                .publish(topic.as_str(), format!("hello at QoS {level}"), qos, false)
                .await?;
            println!(
                "published {topic} at QoS {level}: completed at {:?}",
                done.qos
            );
            let message = async_std::future::timeout(WAIT, stream.next())
                .await
                .map_err(|_| format!("no message within {WAIT:?}"))?
                .ok_or("the subscription stream ended")?;
            println!(
                "  received {} => {:?} (QoS {})",
                message.topic(),
                String::from_utf8_lossy(message.payload()),
                message.qos() as u8
            );
        }

        client.disconnect().await;
        println!("disconnected");
        Ok(())
    })
}
