//! The seed document's second subscriber: no central dispatcher; two tasks,
//! each with its own `subscription` stream.
//!
//! One task reads `$SYS/broker/uptime` at QoS 1, the other
//! `$SYS/broker/load/#` at QoS 2; each prints `--count` messages (default
//! 100) and drops its stream, which unsubscribes its filter. The tasks share
//! one client (a cheap clone).
//!
//! Without `--url` it runs against an embedded rumqttd, which has no system
//! topics and refuses filters starting with `$`: the tree is then `SYS/...`
//! (`--root` changes it) and a second client publishes simulated uptime and
//! load values there (`--feed` does the same with `--url`). Against
//! mosquitto the real `$SYS` tree is used: its uptime is published every
//! `sys_interval` (10 s by default), so give a small `--count`.
//!
//! ```sh
//! cargo run -p sansmqtt-tokio --example subscriber_dispatcher
//! cargo run -p sansmqtt-tokio --example subscriber_dispatcher -- --url mqtt://127.0.0.1:1883 --count 2
//! ```

#[path = "common/mod.rs"]
mod common;

use std::error::Error;

use futures_util::StreamExt;
use sansmqtt_tokio::{Client, ClientError, Config, QoS};

/// Prints the first `count` messages of a subscription to `filter`.
async fn show(client: Client, filter: String, qos: QoS, count: usize) -> Result<(), ClientError> {
    let mut sub = client.subscription(&filter, qos).await?;
    println!("[{filter}] subscribed at QoS {}", qos as u8);
    let mut seen = 0;
    while let Some(message) = sub.next().await {
        seen += 1;
        println!(
            "[{filter}] {seen}:  {} => {:?}",
            message.topic(),
            String::from_utf8_lossy(message.payload())
        );
        if seen >= count {
            break;
        }
    }
    // Dropping the stream unsubscribes (it is the last user of the filter).
    drop(sub);
    println!("[{filter}] done after {seen} messages");
    if seen < count {
        return Err(ClientError::Closed);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = common::Args::parse(
        "subscriber_dispatcher [--url mqtt://host:port] [--count N] [--root ROOT] [--feed]",
    );
    let count = args.count.unwrap_or(100);
    let broker = common::Broker::from_args(&args)?;
    let root = broker.sys_root(&args);
    println!("broker: {}", broker.describe());

    let client = sansmqtt_tokio::connect(broker.uri(), Config::default()).await?;
    let uptime = tokio::spawn(show(
        client.clone(),
        format!("{root}/broker/uptime"),
        QoS::AtLeastOnce,
        count,
    ));
    let load = tokio::spawn(show(
        client.clone(),
        format!("{root}/broker/load/#"),
        QoS::ExactlyOnce,
        count,
    ));

    let feeder = if broker.feeds(&args) {
        println!("publishing simulated {root} traffic from a second client");
        Some(common::SysFeeder::start(broker.uri(), &root).await?)
    } else {
        None
    };

    let (uptime, load) = (uptime.await, load.await);
    uptime??;
    load??;
    if let Some(feeder) = feeder {
        let sent = feeder.stop().await?;
        println!("the feeding client published {sent} messages");
    }
    client.disconnect().await;
    println!("disconnected");
    Ok(())
}
