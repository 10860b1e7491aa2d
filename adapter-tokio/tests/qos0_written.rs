//! A QoS 0 publish resolves once the transport took its bytes, not before
//! (issue #4: "QoS0: written to the transport"), and fails if the transport
//! goes away first. The transport is an in-memory pipe with a 64-byte
//! buffer, so the test decides when bytes are taken.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sansmqtt_tokio::{
    BoxFuture, Client, ClientError, Config, QoS, Runtime, Timer, TokioRuntime, Transport,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_util::compat::TokioAsyncReadCompatExt;

/// tokio's timers and spawning, and transports from a queue of pipes.
struct PipeRuntime {
    tokio: TokioRuntime,
    pipes: Mutex<Vec<DuplexStream>>,
}

impl Runtime for PipeRuntime {
    fn spawn(&self, future: BoxFuture<()>) {
        self.tokio.spawn(future)
    }
    fn timer(&self, deadline: Instant) -> Pin<Box<dyn Timer>> {
        self.tokio.timer(deadline)
    }
    fn connect_tcp(&self, _: &str, _: u16) -> BoxFuture<io::Result<Box<dyn Transport>>> {
        let pipe = self.pipes.lock().unwrap().pop();
        Box::pin(async move {
            let pipe = pipe.ok_or_else(|| io::Error::other("no more pipes"))?;
            Ok(Box::new(pipe.compat()) as Box<dyn Transport>)
        })
    }
}

/// Reads one whole packet from the broker side of the pipe.
async fn read_packet(broker: &mut DuplexStream) -> Vec<u8> {
    let mut packet = vec![broker.read_u8().await.unwrap()];
    let (mut len, mut shift) = (0usize, 0);
    loop {
        let b = broker.read_u8().await.unwrap();
        packet.push(b);
        len |= usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let start = packet.len();
    packet.resize(start + len, 0);
    broker.read_exact(&mut packet[start..]).await.unwrap();
    packet
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos0_publish_resolves_when_the_transport_took_it() {
    let (client_end, mut broker) = tokio::io::duplex(64);
    let runtime = Arc::new(PipeRuntime {
        tokio: TokioRuntime::current(),
        pipes: Mutex::new(vec![client_end]),
    });
    let config = Config {
        auto_reconnect: false,
        ..Config::default()
    };
    let connecting = tokio::spawn(Client::connect(runtime, "mqtt://pipe:1883", config));
    let connect = read_packet(&mut broker).await;
    assert_eq!(connect[0], 0x10);
    broker.write_all(&[0x20, 0x02, 0x00, 0x00]).await.unwrap();
    let client = connecting.await.unwrap().unwrap();

    // 1 KiB of payload cannot fit the 64-byte pipe: the publish waits.
    let payload = vec![7u8; 1024];
    let c = client.clone();
    let mut publish =
        tokio::spawn(async move { c.publish("big/t", payload, QoS::AtMostOnce, false).await });
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut publish)
            .await
            .is_err(),
        "a QoS 0 publish must not resolve before the transport took it"
    );
    // The broker side reads the PUBLISH: now it resolves.
    let packet = read_packet(&mut broker).await;
    assert_eq!(packet[0], 0x30);
    assert_eq!(packet.len(), 1 + 2 + 2 + 5 + 1024); // header, length, topic length, topic, payload
    let done = tokio::time::timeout(Duration::from_secs(5), publish)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(done.qos, QoS::AtMostOnce);

    // A QoS 0 publish the transport never took fails when the transport dies.
    let c = client.clone();
    let publish = tokio::spawn(async move {
        c.publish("big/t", vec![1u8; 1024], QoS::AtMostOnce, false)
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(broker);
    let r = tokio::time::timeout(Duration::from_secs(5), publish)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(r, Err(ClientError::Connection(_))), "{r:?}");
}
