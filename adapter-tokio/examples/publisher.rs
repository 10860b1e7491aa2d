//! The seed document's publisher: three messages to `a/b` at QoS 0, 1 and
//! 2, first in parallel (three tasks sharing one client), then
//! sequentially (a new connection), each publish resolving when its QoS
//! level is complete.
//!
//! A third client subscribes to `a/b` at QoS 2 before, and prints the six
//! messages as they arrive (the seed's publisher only published).
//!
//! Without `--url` it runs against an embedded rumqttd.
//!
//! ```sh
//! cargo run -p sansmqtt-tokio --example publisher
//! cargo run -p sansmqtt-tokio --example publisher -- --url mqtt://127.0.0.1:1883
//! ```

#[path = "common/mod.rs"]
mod common;

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use sansmqtt_tokio::{ClientError, Config, PublishDone, PublishOptions, QoS};

const MESSAGES: [(QoS, &str); 3] = [
    (QoS::AtMostOnce, "TEST MESSAGE WITH QOS_0"),
    (QoS::AtLeastOnce, "TEST MESSAGE WITH QOS_1"),
    (QoS::ExactlyOnce, "TEST MESSAGE WITH QOS_2"),
];

/// Publish in parallel.
async fn test_coro(uri: &str) -> Result<(), Box<dyn Error>> {
    let client = sansmqtt_tokio::connect(uri, Config::default()).await?;
    let tasks = MESSAGES.map(|(qos, text)| {
        let client = client.clone();
        tokio::spawn(async move {
            let done = if qos == QoS::AtMostOnce {
                // No QoS given: the config's default (`default_qos`, 0, or
                // a `topics` entry for `a/b`).
                client
                    .publish_with("a/b", text, PublishOptions::new())
                    .await
            } else {
                client.publish("a/b", text, qos, false).await
            };
            (qos, done)
        })
    });
    for task in tasks {
        let (qos, done) = task.await?;
        report("parallel", qos, &done);
        done?;
    }
    println!("parallel: messages published");
    client.disconnect().await;
    Ok(())
}

/// Publish sequentially.
async fn test_coro2(uri: &str) -> Result<(), ClientError> {
    let client = match sansmqtt_tokio::connect(uri, Config::default()).await {
        Ok(client) => client,
        Err(e) => {
            eprintln!("Connection failed: {e}");
            return Err(e);
        }
    };
    for (qos, text) in MESSAGES {
        let done = client.publish("a/b", text, qos, false).await;
        report("sequential", qos, &done);
        done?;
    }
    println!("sequential: messages published");
    client.disconnect().await;
    Ok(())
}

fn report(how: &str, qos: QoS, done: &Result<PublishDone, ClientError>) {
    let level = qos as u8;
    match done {
        Ok(_) if qos == QoS::AtMostOnce => println!("{how}: QoS 0 publish written"),
        Ok(_) if qos == QoS::AtLeastOnce => println!("{how}: QoS 1 publish acknowledged (PUBACK)"),
        Ok(_) => println!("{how}: QoS 2 publish complete (PUBCOMP)"),
        Err(e) => println!("{how}: QoS {level} publish failed: {e}"),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = common::Args::parse("publisher [--url mqtt://host:port]");
    let broker = common::Broker::from_args(&args)?;
    println!("broker: {}", broker.describe());

    // A witness: everything published to a/b, printed as it arrives.
    let witness = sansmqtt_tokio::connect(broker.uri(), Config::default()).await?;
    let mut received = witness.subscription("a/b", QoS::ExactlyOnce).await?;
    let printer = tokio::spawn(async move {
        let mut ours = 0;
        while ours < 2 * MESSAGES.len() {
            let Some(m) = received.next().await else {
                break;
            };
            let text = String::from_utf8_lossy(m.payload());
            if MESSAGES.iter().any(|(_, t)| *t == text) {
                ours += 1;
            }
            println!(
                "  witness received {} => {text:?} at QoS {}",
                m.topic(),
                m.qos() as u8
            );
        }
        ours
    });

    test_coro(broker.uri()).await?;
    test_coro2(broker.uri()).await?;

    let ours = tokio::time::timeout(Duration::from_secs(5), printer)
        .await
        .map_err(|_| "the witness did not receive all six messages within 5 s")??;
    println!("witness received {ours} of the 6 messages");
    witness.disconnect().await;
    Ok(())
}
