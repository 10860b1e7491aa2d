//! Quickstart: the client end to end, printing each step.
//!
//! Starts an embedded rumqttd broker on a free loopback port (or uses the
//! broker given with `--url mqtt://host:port`), connects, watches the
//! connection state, subscribes twice (a `subscription` stream, and a plain
//! `subscribe` read with `deliver_message`), publishes at QoS 0, 1 and 2 to
//! each, prints every acknowledgement and every message received, and
//! disconnects cleanly.
//!
//! ```sh
//! cargo run --release -p sansmqtt-tokio --example quickstart
//! cargo run --release -p sansmqtt-tokio --example quickstart -- --url mqtt://127.0.0.1:1883
//! ```

#[path = "common/mod.rs"]
mod common;

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use sansmqtt_tokio::{Config, Message, QoS};
use tokio::time::timeout;

/// How long to wait for a message before calling the run a failure.
const WAIT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = common::Args::parse("quickstart [--url mqtt://host:port]");
    let broker = common::Broker::from_args(&args)?;
    println!("broker: {}", broker.describe());
    if broker.is_embedded() {
        // MQTT delivers at the lower of the publish and subscription QoS
        // (mosquitto does); rumqttd 0.20 uses the subscription's.
        println!("(rumqttd delivers every message at the subscription's QoS)");
    }

    // 1. Connect. `connect` returns once the broker accepted the connection;
    //    a background task drives it from then on.
    let config = Config {
        client_id: Some(format!("quickstart-{}", std::process::id())),
        ..Config::default()
    };
    let client = sansmqtt_tokio::connect(broker.uri(), config).await?;
    println!("connected");

    // 2. Watch the connection state (the current state comes first).
    let mut states = client.state_changes();
    let watcher = tokio::spawn(async move {
        while let Some(state) = states.next().await {
            println!("  [state] {state:?}");
        }
    });

    // 3. A subscription stream: messages matching its filter come here.
    let mut stream = client
        .subscription("quickstart/stream/#", QoS::ExactlyOnce)
        .await?;
    println!("subscription stream on quickstart/stream/#");

    // 4. A plain subscribe: messages no stream takes go to deliver_message.
    let granted = client
        .subscribe(&[("quickstart/plain/#", QoS::ExactlyOnce)])
        .await?;
    println!("subscribe quickstart/plain/#: granted {granted:?}");

    // 5. Publish at every QoS to both; each publish resolves when its QoS
    //    level is complete (QoS 0: handed to the transport, QoS 1: PUBACK,
    //    QoS 2: PUBCOMP).
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let level = qos as u8;

        let topic = format!("quickstart/stream/qos{level}");
        let done = client
            .publish(&topic, format!("hello at QoS {level}"), qos, false)
            .await?;
        println!("publish {topic} at QoS {level}: {}", outcome(qos, &done));
        let message = timeout(WAIT, stream.next())
            .await
            .map_err(|_| format!("no message on the stream within {WAIT:?}"))?
            .ok_or("the subscription stream ended")?;
        println!("  stream received {}", describe(&message));

        let topic = format!("quickstart/plain/qos{level}");
        let done = client
            .publish(&topic, format!("hello at QoS {level}"), qos, false)
            .await?;
        println!("publish {topic} at QoS {level}: {}", outcome(qos, &done));
        let message = timeout(WAIT, client.deliver_message())
            .await
            .map_err(|_| format!("no message from deliver_message within {WAIT:?}"))?
            .ok_or("the client is closed")?;
        println!("  deliver_message received {}", describe(&message));
    }

    // 6. A ping round trip.
    client.ping().await?;
    println!("ping: PINGRESP received");

    // 7. Clean up: unsubscribe the plain subscription; dropping the stream
    //    unsubscribes its filter (it was the last user).
    client.unsubscribe(&["quickstart/plain/#"]).await?;
    println!("unsubscribed quickstart/plain/#");
    drop(stream);
    println!("dropped the stream (its filter is unsubscribed)");

    // 8. Disconnect cleanly; once the last handle is gone the background task
    //    ends, and with it the state stream.
    client.disconnect().await;
    println!("disconnected");
    drop(client);
    timeout(WAIT, watcher)
        .await
        .map_err(|_| "the state stream did not end")??;
    println!("done");
    Ok(())
}

/// What the completed publish means.
fn outcome(qos: QoS, done: &sansmqtt_tokio::PublishDone) -> String {
    let what = match qos {
        QoS::AtMostOnce => "written (QoS 0 has no acknowledgement)",
        QoS::AtLeastOnce => "acknowledged (PUBACK)",
        QoS::ExactlyOnce => "complete (PUBREC, PUBREL, PUBCOMP)",
    };
    match &done.reason {
        Some(reason) => format!("{what}, reason {reason:?}"),
        None => what.to_owned(),
    }
}

/// One line about a received message.
fn describe(m: &Message) -> String {
    let id = m
        .packet_id()
        .map_or_else(|| "-".to_owned(), |id| id.get().to_string());
    format!(
        "{} => {:?} (QoS {}, retain {}, dup {}, packet id {id})",
        m.topic(),
        String::from_utf8_lossy(m.payload()),
        m.qos() as u8,
        m.retain(),
        m.dup(),
    )
}
