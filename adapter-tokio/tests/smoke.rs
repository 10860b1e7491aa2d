//! First end-to-end run against a real mosquitto.

use std::net::TcpListener;
use std::process::{Child, Command};
use std::time::Duration;

use futures_util::StreamExt;
use sansmqtt_tokio::{Config, QoS};

struct Broker(Child, u16);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mosquitto() -> Broker {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("sansmqtt-smoke-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("m.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\n"),
    )
    .unwrap();
    let child = Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .spawn()
        .unwrap();
    for _ in 0..250 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Broker(child, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_receive_at_every_qos() {
    let broker = mosquitto();
    let uri = format!("mqtt://127.0.0.1:{}", broker.1);
    let client = sansmqtt_tokio::connect(&uri, Config::default())
        .await
        .unwrap();
    let mut sub = client
        .subscription("smoke/#", QoS::ExactlyOnce)
        .await
        .unwrap();
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        client
            .publish(format!("smoke/{i}"), format!("m{i}"), qos, false)
            .await
            .unwrap();
        let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.topic().as_str(), format!("smoke/{i}"));
        assert_eq!(&m.payload()[..], format!("m{i}").as_bytes());
        assert_eq!(m.qos(), qos);
    }
    client.disconnect().await;
}

/// `unsubscribe(filter)` while a stream of that filter is alive keeps the
/// broker subscription for the stream (it would go silent otherwise).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_keeps_a_filter_that_a_live_stream_uses() {
    let broker = mosquitto();
    let uri = format!("mqtt://127.0.0.1:{}", broker.1);
    let client = sansmqtt_tokio::connect(&uri, Config::default())
        .await
        .unwrap();
    let mut stream = client.subscription("p/#", QoS::AtLeastOnce).await.unwrap();
    client
        .subscribe(&[("p/#", QoS::AtLeastOnce)])
        .await
        .unwrap();
    client.unsubscribe(&["p/#"]).await.unwrap();
    client
        .publish("p/x", "still here", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("the stream still receives")
        .unwrap();
    assert_eq!(&m.payload()[..], b"still here");
    // Dropping the stream removes the broker subscription: the next message
    // reaches nobody, so deliver_message has nothing.
    drop(stream);
    tokio::time::sleep(Duration::from_millis(200)).await;
    client
        .publish("p/y", "gone", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(500), client.deliver_message())
            .await
            .is_err()
    );
    client.disconnect().await;
}
