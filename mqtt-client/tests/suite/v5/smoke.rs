//! The suite's own smoke test: an MQTT 5 connection to mosquitto, a QoS 1
//! round trip.

use std::time::Duration;

use futures_util::StreamExt;
use sansmqtt::{Client, Config, ProtocolVersion, QoS};

use crate::Rt;
use crate::runtime::{TestRuntime, blocking, timeout};
use crate::support::Mosquitto;

/// Deadline of one step.
const T: Duration = Duration::from_secs(10);

#[test]
fn connects_in_mqtt5_and_round_trips() {
    Rt::block_on(async {
        let broker = blocking(|| Mosquitto::start(""));
        let config = Config {
            protocol_version: ProtocolVersion::V5.into(),
            ..Config::default()
        };
        let client = timeout(T, Client::connect(Rt::runtime(), &broker.uri(), config))
            .await
            .expect("connect in time")
            .expect("connected");
        let mut stream = client
            .subscription("v5/smoke", QoS::AtLeastOnce)
            .await
            .unwrap();
        client
            .publish("v5/smoke", "hello", QoS::AtLeastOnce, false)
            .await
            .unwrap();
        let m = timeout(T, stream.next()).await.unwrap().expect("a message");
        assert_eq!(&m.payload()[..], b"hello");
        client.disconnect().await;
    });
}
