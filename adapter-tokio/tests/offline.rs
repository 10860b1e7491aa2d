//! Issue #4, what a client does while it cannot send, against a real
//! mosquitto: publishes made during an outage wait in the bounded offline
//! queue and go out after the reconnect, unless their expiry passes first
//! (then their caller gets `PublishError::Expired` at the expiry, and the
//! message is never sent late); calls are bounded by `request_timeout`; a
//! full receiver makes QoS 0 messages wait or, under
//! `qos0_overflow = "drop"`, drops them and counts them; the first
//! connection's error names its cause.

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sansmqtt_tokio::{
    Client, ClientError, Config, ConnectError, ConnectionState, PublishError, PublishOptions, QoS,
    Qos0Overflow, TopicName,
};
use support::{Mosquitto, free_port};

const T: Duration = Duration::from_secs(10);

async fn bounded<F: Future>(body: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), body)
        .await
        .expect("test body within 60 s")
}

fn config(name: &str) -> Config {
    Config {
        client_id: Some(format!("offline-{name}-{}", std::process::id())),
        reconnect_retries: -1,
        reconnect_max_interval: Duration::from_millis(500),
        ..Config::default()
    }
}

async fn connect(uri: &str, config: Config) -> Client {
    tokio::time::timeout(T, sansmqtt_tokio::connect(uri, config))
        .await
        .expect("connect within T")
        .expect("connect")
}

/// Waits until the client reports `Disconnected` or `Reconnecting`.
async fn until_down(client: &Client) {
    let mut states = client.state_changes();
    tokio::time::timeout(T, async {
        while let Some(s) = states.next().await {
            if matches!(
                s,
                ConnectionState::Disconnected { .. } | ConnectionState::Reconnecting { .. }
            ) {
                return;
            }
        }
    })
    .await
    .expect("the client notices the broker is gone");
}

async fn until_connected(client: &Client) {
    let mut states = client.state_changes();
    tokio::time::timeout(T, async {
        while let Some(s) = states.next().await {
            if matches!(s, ConnectionState::Connected { .. }) {
                return;
            }
        }
    })
    .await
    .expect("the client reconnects");
}

/// A publish made offline with an expiry fails with `Expired` at its
/// expiry, while the broker is still down; one without expiry waits and is
/// delivered after the restart; the expired one is never delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_publish_expires_with_an_error_instead_of_being_sent_late() {
    bounded(async {
        // The watcher's session (and what is queued for it) survives the
        // restart, so whatever the publisher sends after it reaches the
        // watcher whichever of them reconnects first.
        let mut broker = Mosquitto::start(
            "persistence true\npersistence_location {dir}/\nautosave_interval 0\nmax_queued_messages 0\n",
        );
        let uri = broker.uri();
        let mut w = config("expiry-watch");
        w.cleansession = false;
        let watcher = connect(&uri, w).await;
        let mut seen = watcher
            .subscription("offline/expiry", QoS::AtLeastOnce)
            .await
            .unwrap();
        let mut c = config("expiry-pub");
        c.cleansession = false;
        let client = connect(&uri, c).await;
        broker.stop_graceful();
        until_down(&client).await;

        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let started = Instant::now();
            let stale = client.publish_packet_with(
                publish("offline/expiry", "stale", qos),
                PublishOptions::default().expiry(Duration::from_millis(300)),
            );
            let r = tokio::time::timeout(T, stale)
                .await
                .expect("answered at the expiry");
            let waited = started.elapsed();
            assert!(
                matches!(r, Err(ClientError::Publish(PublishError::Expired))),
                "{qos:?}: {r:?}"
            );
            assert!(
                waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
                "{qos:?} answered after {waited:?}"
            );
        }
        // Without expiry: waits for the broker.
        let fresh = {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .publish("offline/expiry", "fresh", QoS::AtLeastOnce, false)
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!fresh.is_finished(), "a publish without expiry waits");
        broker.restart();
        tokio::time::timeout(T, fresh)
            .await
            .expect("completes after the restart")
            .unwrap()
            .expect("acknowledged");
        let m = tokio::time::timeout(T, seen.next()).await.unwrap().unwrap();
        assert_eq!(
            &m.payload()[..],
            b"fresh",
            "the expired messages were never sent"
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(500), seen.next())
                .await
                .is_err(),
            "nothing else arrives"
        );
    })
    .await
}

/// `publish_expiry` in the config is the default expiry of every publish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_publish_expiry_applies_to_plain_publish() {
    bounded(async {
        let mut broker = Mosquitto::start("");
        let mut c = config("expiry-config");
        c.publish_expiry = Some(Duration::from_millis(200));
        let client = connect(&broker.uri(), c).await;
        broker.stop();
        until_down(&client).await;
        let r = tokio::time::timeout(
            T,
            client.publish("offline/config", "x", QoS::AtLeastOnce, false),
        )
        .await
        .expect("answered");
        assert!(
            matches!(r, Err(ClientError::Publish(PublishError::Expired))),
            "{r:?}"
        );
    })
    .await
}

/// Calls made during an outage wait for the reconnection, bounded by
/// `request_timeout`: subscribe, unsubscribe, ping and publish fail with
/// `Timeout` when it passes; after the restart the client works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_timeout_bounds_calls_made_offline() {
    bounded(async {
        let mut broker = Mosquitto::start("");
        let mut c = config("timeout");
        c.request_timeout = Some(Duration::from_millis(300));
        let client = connect(&broker.uri(), c).await;
        broker.stop();
        until_down(&client).await;
        let started = Instant::now();
        let sub = client.subscribe(&[("offline/t", QoS::AtLeastOnce)]).await;
        assert_eq!(sub, Err(ClientError::Timeout));
        assert_eq!(
            client.unsubscribe(&["offline/t"]).await,
            Err(ClientError::Timeout)
        );
        assert_eq!(client.ping().await, Err(ClientError::Timeout));
        let p = client
            .publish("offline/t", "x", QoS::AtLeastOnce, false)
            .await;
        assert_eq!(p, Err(ClientError::Timeout));
        let took = started.elapsed();
        assert!(took < Duration::from_secs(4), "four timeouts took {took:?}");
        broker.restart();
        until_connected(&client).await;
        client.ping().await.expect("ping after the restart");
        client
            .publish("offline/t", "y", QoS::AtLeastOnce, false)
            .await
            .expect("publish after the restart");
    })
    .await
}

/// Publishes `n` QoS 0 messages from another client (each written to its
/// socket before the next), then disconnects it.
async fn flood(uri: &str, topic: &str, n: usize) {
    let publisher = connect(uri, config("flooder")).await;
    let topic = TopicName::try_from(topic).unwrap();
    for i in 0..n {
        publisher
            .publish(&topic, format!("{i}"), QoS::AtMostOnce, false)
            .await
            .unwrap();
    }
    publisher.disconnect().await;
}

/// `qos0_overflow = "drop"`: a subscription stream nobody reads fills up;
/// further QoS 0 copies for it are dropped and counted, and the connection
/// keeps flowing (a ping is answered at once). Whatever was not dropped is
/// delivered: received + dropped = sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos0_overflow_drop_counts_what_it_drops_and_keeps_the_connection_alive() {
    bounded(async {
        let broker = Mosquitto::start("");
        let uri = broker.uri();
        let mut c = config("drop");
        c.qos0_overflow = Qos0Overflow::Drop;
        let client = connect(&uri, c).await;
        let mut slow = client
            .subscription("flood/drop", QoS::AtMostOnce)
            .await
            .unwrap();
        let sent = 5_000;
        flood(&uri, "flood/drop", sent).await;
        // Give mosquitto time to forward everything.
        let deadline = Instant::now() + T;
        while client.stats().qos0_dropped == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::timeout(Duration::from_secs(2), client.ping())
            .await
            .expect("the connection keeps flowing")
            .expect("ping");
        let mut received = 0u64;
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(500), slow.next()).await
        {
            received += 1;
        }
        let dropped = client.stats().qos0_dropped;
        assert!(dropped > 0, "a full stream drops QoS 0 copies");
        assert_eq!(
            received + dropped,
            sent as u64,
            "received {received}, dropped {dropped}"
        );
    })
    .await
}

/// The default, `qos0_overflow = "wait"`: nothing is dropped; a slow
/// reader gets every QoS 0 message (the client stops reading meanwhile).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos0_overflow_wait_loses_nothing() {
    bounded(async {
        let broker = Mosquitto::start("");
        let uri = broker.uri();
        let client = connect(&uri, config("wait")).await;
        let mut slow = client
            .subscription("flood/wait", QoS::AtMostOnce)
            .await
            .unwrap();
        let sent = 5_000;
        flood(&uri, "flood/wait", sent).await;
        let mut received = 0;
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(2), slow.next()).await {
            assert_eq!(m.payload(), format!("{received}").as_bytes(), "in order");
            received += 1;
            if received == sent {
                break;
            }
        }
        assert_eq!(received, sent);
        assert_eq!(client.stats().qos0_dropped, 0);
    })
    .await
}

/// A first connection that cannot be made fails with the transport's own
/// error, not a generic one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_connect_error_names_the_cause() {
    bounded(async {
        let port = free_port();
        let c = Config {
            auto_reconnect: false,
            ..config("refused")
        };
        let r = sansmqtt_tokio::connect(&format!("mqtt://127.0.0.1:{port}"), c).await;
        match r {
            Err(ClientError::Connect(e @ ConnectError::Transport { .. })) => {
                let text = e.to_string();
                assert!(text.to_lowercase().contains("refused"), "{text}")
            }
            other => panic!("{other:?}"),
        }
        let c = Config {
            reconnect_retries: 1,
            reconnect_max_interval: Duration::from_millis(100),
            ..config("refused-retried")
        };
        match sansmqtt_tokio::connect(&format!("mqtt://127.0.0.1:{port}"), c).await {
            Err(ClientError::Connect(e @ ConnectError::RetriesExhausted { attempts: 2, .. })) => {
                let text = e.to_string();
                assert!(text.to_lowercase().contains("refused"), "{text}");
                assert!(text.contains("attempts"), "{text}");
            }
            other => panic!("{other:?}"),
        }
    })
    .await
}

fn publish(topic: &str, payload: &'static str, qos: QoS) -> sansmqtt_tokio::Publish {
    let mut p = sansmqtt_tokio::Publish::at_most_once(TopicName::try_from(topic).unwrap(), payload);
    p.qos = qos;
    p
}
