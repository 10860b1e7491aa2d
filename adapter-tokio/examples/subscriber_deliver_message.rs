//! The seed document's first subscriber: one central loop over
//! `deliver_message`.
//!
//! Subscribes to `$SYS/broker/uptime` at QoS 1 and `$SYS/broker/load/#` at
//! QoS 2, prints `--count` messages (default 100) as `i:  topic => payload`,
//! then unsubscribes and disconnects.
//!
//! Without `--url` it runs against an embedded rumqttd, which has no system
//! topics and refuses filters starting with `$`: the tree is then `SYS/...`
//! (`--root` changes it) and a second client publishes simulated uptime and
//! load values there (`--feed` does the same with `--url`). Against
//! mosquitto the real `$SYS` tree is used: its retained values arrive at
//! once, then updates every `sys_interval` (10 s by default).
//!
//! ```sh
//! cargo run -p sansmqtt-tokio --example subscriber_deliver_message
//! cargo run -p sansmqtt-tokio --example subscriber_deliver_message -- --url mqtt://127.0.0.1:1883 --count 20
//! ```

#[path = "common/mod.rs"]
mod common;

use std::error::Error;

use sansmqtt_tokio::{Config, QoS};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = common::Args::parse(
        "subscriber_deliver_message [--url mqtt://host:port] [--count N] [--root ROOT] [--feed]",
    );
    let count = args.count.unwrap_or(100);
    let broker = common::Broker::from_args(&args)?;
    let root = broker.sys_root(&args);
    println!("broker: {}", broker.describe());

    let client = sansmqtt_tokio::connect(broker.uri(), Config::default()).await?;
    let uptime = format!("{root}/broker/uptime");
    let load = format!("{root}/broker/load/#");
    // Subscribe to '$SYS/broker/uptime' with QoS 1
    // Subscribe to '$SYS/broker/load/#' with QoS 2
    let granted = client
        .subscribe(&[(&uptime, QoS::AtLeastOnce), (&load, QoS::ExactlyOnce)])
        .await?;
    println!("subscribed to {uptime} and {load}: granted {granted:?}");

    let feeder = if broker.feeds(&args) {
        println!("publishing simulated {root} traffic from a second client");
        Some(common::SysFeeder::start(broker.uri(), &root).await?)
    } else {
        None
    };

    for i in 1..=count {
        let Some(message) = client.deliver_message().await else {
            return Err("the client closed before all messages arrived".into());
        };
        println!(
            "{i}:  {} => {:?}",
            message.topic(),
            String::from_utf8_lossy(message.payload())
        );
    }

    client.unsubscribe(&[&uptime, &load]).await?;
    println!("unsubscribed");
    if let Some(feeder) = feeder {
        let sent = feeder.stop().await?;
        println!("the feeding client published {sent} messages");
    }
    client.disconnect().await;
    println!("disconnected");
    Ok(())
}
