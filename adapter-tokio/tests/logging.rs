//! What the client logs (`log` crate) over a connection's life: connected,
//! lost with its cause, the reconnection and its delay, connected again,
//! disconnected; and never a password, whether it came in the broker URI
//! or in the configuration.

mod recorder;
#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

use std::time::Duration;

use futures_util::StreamExt;
use recorder::records;
use sansmqtt_tokio::config::TextOrBytes;
use sansmqtt_tokio::{Config, ConnectionState};
use support::Mosquitto;

/// Waits until a record contains `needle` (they are written by the driver
/// task), returning it.
async fn logged(needle: &str) -> String {
    for _ in 0..200 {
        if let Some(r) = records().into_iter().find(|r| r.contains(needle)) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("nothing logged with {needle:?}; records: {:#?}", records());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_life_is_logged_and_no_password_ever_is() {
    recorder::install();

    // mosquitto with anonymous access ignores the credentials.
    let mut broker = Mosquitto::start("");
    let uri = format!("mqtt://alice:uri-secret-1@127.0.0.1:{}", broker.port());
    let config = Config {
        client_id: Some("log-test".into()),
        password: Some(TextOrBytes::Text("config-secret-2".into()).into()),
        reconnect_max_interval: Duration::from_secs(1),
        reconnect_retries: -1,
        ..Config::default()
    };
    let client = sansmqtt_tokio::connect(&uri, config)
        .await
        .expect("connect");
    let mut states = client.state_changes().skip(1);
    let shown = format!("mqtt://alice@127.0.0.1:{}", broker.port());
    let line = logged("log-test: connecting to").await;
    assert!(line.starts_with("DEBUG") && line.contains(&shown), "{line}");
    let line = logged("log-test: connected to").await;
    assert!(line.starts_with("INFO") && line.contains(&shown), "{line}");

    broker.stop();
    let line = logged("log-test: connection to").await;
    assert!(
        line.starts_with("WARN") && line.contains("ended:"),
        "{line}"
    );
    let line = logged("log-test: reconnecting in").await;
    assert!(line.starts_with("INFO"), "{line}");

    broker.restart();
    loop {
        let state = tokio::time::timeout(Duration::from_secs(10), states.next())
            .await
            .expect("reconnected within 10 s");
        if matches!(state, Some(ConnectionState::Connected { .. })) {
            break;
        }
    }
    let connected = records()
        .iter()
        .filter(|r| r.contains("log-test: connected to"))
        .count();
    assert!(connected >= 2, "{:#?}", records());

    client.disconnect().await;
    logged("log-test: disconnected from").await;

    let all = records();
    println!("{}", all.join("\n"));
    for secret in ["uri-secret-1", "config-secret-2"] {
        assert!(
            all.iter().all(|r| !r.contains(secret)),
            "{secret} logged: {all:#?}"
        );
    }
}
