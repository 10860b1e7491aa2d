//! MQTT 5: every capability of the guide's "MQTT 5" chapter, once each,
//! printing each step, against a broker speaking MQTT 5.
//!
//! The broker is a mosquitto started by the example on a free loopback port
//! (`$MOSQUITTO`, else `/usr/sbin/mosquitto`, else `mosquitto` on the
//! `PATH`; `scripts/test` installs it), or the one given with
//! `--url mqtt://host:port`. Not the embedded rumqttd of the other
//! examples: rumqttd 0.20 parses the MQTT 5 subscription options but its
//! router ignores No Local, Retain As Published and Retain Handling, which
//! sections 3 and 4 show.
//!
//! The sections, named in `docs/guide.md` ("## MQTT 5"):
//!
//! 1. protocol version "auto", CONNECT and will properties, `client.server()`
//! 2. publish properties and `Message` accessors
//! 3. subscription options: No Local, Retain As Published
//! 4. subscription options: Retain Handling
//! 5. `subscribe_with` / `unsubscribe_with` outcomes and reason codes
//! 6. shared subscriptions split across two consumers
//! 7. request / response (`request`, `respond`)
//! 8. enhanced authentication (not with mosquitto: where it is proven)
//! 9. `disconnect_with` a reason and properties; the will it releases
//!
//! ```sh
//! cargo run -p sansmqtt-tokio --example mqtt5
//! cargo run -p sansmqtt-tokio --example mqtt5 -- --url mqtt://127.0.0.1:1883
//! ```

#[path = "common/mod.rs"]
mod common;

use std::error::Error;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::num::NonZeroU16;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sansmqtt_tokio::config::{TextOrBytes, WillConfig};
use sansmqtt_tokio::{
    Client, Config, DisconnectOptions, DisconnectReason, Message, MqttString, PayloadFormat,
    ProtocolChoice, ProtocolVersion, PublishOptions, QoS, RequestOptions, RetainHandling,
    SubscribeOptions, Subscription, SubscriptionOptions, TopicName, UnsubscribeOptions,
    UserProperties,
};
use tokio::time::timeout;

/// How long to wait for a message that should come.
const WAIT: Duration = Duration::from_secs(5);
/// How long to wait to see that a message does not come.
const QUIET: Duration = Duration::from_millis(500);

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;

#[tokio::main]
async fn main() -> Result<()> {
    let args = common::Args::parse("mqtt5 [--url mqtt://host:port]");
    let (uri, _broker) = match &args.url {
        Some(url) => (url.clone(), None),
        None => {
            let broker = Mosquitto::start()?;
            (broker.uri(), Some(broker))
        }
    };
    println!("broker: {uri}");
    let pid = std::process::id();

    // ---- 1. Protocol version "auto", CONNECT and will properties,
    //         client.server() ----
    println!("\n== 1. protocol_version auto, CONNECT and will properties, server()");
    let mut will = WillConfig::new(TopicName::try_from(format!("mqtt5/{pid}/status/a"))?);
    will.message = TextOrBytes::Text("offline".into());
    will.qos = QoS::AtLeastOnce;
    will.delay_interval = Some(Duration::from_secs(1)); // a reconnection within 1 s cancels it
    will.message_expiry = Some(Duration::from_secs(3600));
    will.content_type = Some(MqttString::try_from("text/plain")?);
    will.payload_format = Some(PayloadFormat::Utf8);
    will.user_properties = UserProperties::new().with("reason", "lost")?;
    let config = Config {
        client_id: Some(format!("mqtt5-a-{pid}")),
        protocol_version: ProtocolChoice::Auto, // 5, else 3.1.1
        session_expiry: Some(Duration::from_secs(60)),
        receive_maximum: NonZeroU16::new(100),
        max_packet_size: Some(65_536),
        topic_alias_maximum: Some(10),
        request_response_information: true,
        request_problem_information: Some(true),
        user_properties: UserProperties::new().with("site", "lab")?,
        will: Some(will),
        ..Config::default()
    };
    let a = sansmqtt_tokio::connect(&uri, config).await?;
    let server = a.server().expect("connected");
    println!(
        "client a connected with protocol_version auto: speaks {:?}",
        server.version
    );
    assert_eq!(server.version, ProtocolVersion::V5);
    println!(
        "  session known as {} (assigned: {:?}), session present {}",
        server.client_id, server.assigned_client_id, server.session_present
    );
    println!(
        "  keep alive {:?}, session expiry {:?}, max QoS {:?}, retain {}",
        server.keep_alive, server.session_expiry, server.maximum_qos, server.retain_available
    );
    println!(
        "  receive maximum {}, maximum packet size {:?}, topic alias maximum {}",
        server.receive_maximum, server.maximum_packet_size, server.topic_alias_maximum
    );
    println!(
        "  wildcards {}, subscription identifiers {}, shared subscriptions {}",
        server.wildcard_subscription_available,
        server.subscription_identifiers_available,
        server.shared_subscription_available
    );
    println!(
        "  response information {:?}, server reference {:?}, reason string {:?}, user properties {:?}",
        server.response_information,
        server.server_reference,
        server.reason_string,
        server.user_properties
    );

    // Client b: fixed MQTT 5, an identifier the broker assigns.
    let b = sansmqtt_tokio::connect(&uri, v5_config(Some(String::new()))).await?;
    let server = b.server().expect("connected");
    println!(
        "client b connected with MQTT 5 and an empty client id: the broker assigned {:?}",
        server.assigned_client_id
    );

    // ---- 2. Publish properties and Message accessors ----
    println!("\n== 2. publish properties, message accessors");
    let topic = format!("mqtt5/{pid}/sensors/kitchen/temp");
    let mut readings = b.subscription(&topic, QoS::AtLeastOnce).await?;
    let options = PublishOptions::new()
        .qos(QoS::AtLeastOnce)
        .payload_format(PayloadFormat::Utf8)
        .content_type("application/json")
        .message_expiry(Duration::from_secs(60)) // the broker drops it after a minute
        .response_topic("replies/kitchen")
        .correlation_data(b"req-42".to_vec())
        .user_property("origin", "sensor-7")
        .user_property("origin", "gateway-2"); // repeatable, order kept
    a.publish_with(topic.as_str(), r#"{"c": 21.5}"#, options)
        .await?;
    println!("a published to {topic} with properties");
    let m = next(&mut readings).await?;
    println!("b received {}", describe(&m));
    println!("  content_type      {:?}", m.content_type());
    println!(
        "  payload_format    {:?} (is_utf8 {})",
        m.payload_format(),
        m.is_utf8()
    );
    println!("  message_expiry    {:?}", m.message_expiry());
    println!(
        "  response_topic    {:?}",
        m.response_topic().map(|t| t.as_str())
    );
    println!("  correlation_data  {:?}", m.correlation_data());
    println!("  user_property     {:?}", m.user_property("origin"));
    println!("  user_properties   {:?}", m.user_properties());
    println!("  subscription ids  {:?}", m.subscription_identifiers());
    assert_eq!(m.content_type(), Some("application/json"));
    assert_eq!(m.user_properties().len(), 2);
    drop(readings);

    // ---- 3. Subscription options: No Local, Retain As Published ----
    println!("\n== 3. subscription options: no local, retain as published");
    let room = format!("mqtt5/{pid}/rooms/42");
    let mut chat = a
        .subscription_with(
            &room,
            SubscriptionOptions::qos(QoS::AtLeastOnce).no_local(true),
        )
        .await?;
    a.publish(room.as_str(), "from a", QoS::AtLeastOnce, false)
        .await?;
    b.publish(room.as_str(), "from b", QoS::AtLeastOnce, false)
        .await?;
    let m = next(&mut chat).await?;
    println!(
        "a (no local) received {} (not its own \"from a\")",
        describe(&m)
    );
    assert_eq!(&m.payload()[..], b"from b");
    drop(chat);

    let flags = format!("mqtt5/{pid}/flags");
    let mut as_published = a
        .subscription_with(
            &format!("{flags}/#"),
            SubscriptionOptions::qos(QoS::AtLeastOnce).retain_as_published(true),
        )
        .await?;
    let mut plain = a
        .subscription(&format!("{flags}/+"), QoS::AtLeastOnce)
        .await?;
    b.publish(format!("{flags}/door"), "open", QoS::AtLeastOnce, true)
        .await?;
    let kept = next(&mut as_published).await?;
    let cleared = next(&mut plain).await?;
    println!(
        "retained live publish, with retain as published: retain {}",
        kept.retain()
    );
    println!(
        "retained live publish, without it:               retain {}",
        cleared.retain()
    );
    assert!(kept.retain() && !cleared.retain());
    drop((as_published, plain));
    clear_retained(&b, &format!("{flags}/door")).await?;

    // ---- 4. Subscription options: Retain Handling ----
    println!("\n== 4. subscription options: retain handling");
    let alerts = format!("mqtt5/{pid}/alerts");
    b.publish(
        format!("{alerts}/fire"),
        "drill at 10",
        QoS::AtLeastOnce,
        true,
    )
    .await?;
    let mut none = a
        .subscription_with(
            &format!("{alerts}/#"),
            SubscriptionOptions::qos(QoS::ExactlyOnce).retain_handling(RetainHandling::DoNotSend),
        )
        .await?;
    let quiet = timeout(QUIET, none.next()).await.is_err();
    println!("retain handling DoNotSend: no retained message at subscribe ({quiet})");
    assert!(quiet);
    let mut sent = a
        .subscription_with(
            &format!("{alerts}/+"),
            SubscriptionOptions::qos(QoS::ExactlyOnce)
                .retain_handling(RetainHandling::SendAtSubscribe),
        )
        .await?;
    let m = next(&mut sent).await?;
    println!("retain handling SendAtSubscribe: {}", describe(&m));
    drop((none, sent));
    clear_retained(&b, &format!("{alerts}/fire")).await?;

    // ---- 5. subscribe_with / unsubscribe_with outcomes ----
    println!("\n== 5. subscribe_with and unsubscribe_with outcomes");
    let rooms = format!("mqtt5/{pid}/rooms/7");
    let all_alerts = format!("mqtt5/{pid}/alerts/#");
    let outcome = a
        .subscribe_with(
            &[
                // Not my own messages back (a chat room), retain flags as published.
                (
                    rooms.as_str(),
                    SubscriptionOptions::qos(QoS::AtLeastOnce)
                        .no_local(true)
                        .retain_as_published(true),
                ),
                // No retained messages at subscribe time.
                (
                    all_alerts.as_str(),
                    SubscriptionOptions::qos(QoS::ExactlyOnce)
                        .retain_handling(RetainHandling::DoNotSend),
                ),
            ],
            SubscribeOptions::new().user_property("tenant", "acme"),
        )
        .await?;
    for (filter, result) in [&rooms, &all_alerts].iter().zip(&outcome.results) {
        match result {
            Ok(granted) => println!("subscribe {filter}: granted {granted:?}"),
            Err(reason) => println!(
                "subscribe {filter}: refused: {reason} ({:?})",
                outcome.reason_string
            ),
        }
    }
    println!(
        "  SUBACK reason string {:?}, user properties {:?}",
        outcome.reason_string, outcome.user_properties
    );
    let never = format!("mqtt5/{pid}/never/subscribed");
    let out = a
        .unsubscribe_with(
            &[all_alerts.as_str(), never.as_str()],
            UnsubscribeOptions::new().user_property("tenant", "acme"),
        )
        .await?;
    // Per filter: Ok(Success) / Ok(NoSubscriptionExisted) / Err(refusal).
    for (filter, result) in [&all_alerts, &never].iter().zip(&out.results) {
        println!("unsubscribe {filter}: {result:?}");
    }
    a.unsubscribe(&[rooms.as_str()]).await?;

    // ---- 6. Shared subscriptions ----
    println!("\n== 6. shared subscription split across two consumers");
    let c = sansmqtt_tokio::connect(&uri, v5_config(Some(format!("mqtt5-c-{pid}")))).await?;
    let shared = format!("$share/workers/mqtt5/{pid}/jobs/#");
    let mut worker_b = b.subscription(&shared, QoS::AtLeastOnce).await?;
    let mut worker_c = c.subscription(&shared, QoS::AtLeastOnce).await?;
    const JOBS: usize = 20;
    for i in 0..JOBS {
        a.publish(
            format!("mqtt5/{pid}/jobs/{i}"),
            format!("job {i}"),
            QoS::AtLeastOnce,
            false,
        )
        .await?;
    }
    let (mut got_b, mut got_c) = (Vec::new(), Vec::new());
    while got_b.len() + got_c.len() < JOBS {
        let (got, m) = tokio::select! {
            m = next(&mut worker_b) => (&mut got_b, m?),
            m = next(&mut worker_c) => (&mut got_c, m?),
        };
        got.push(m.topic().to_string());
    }
    println!(
        "{JOBS} jobs on {shared}: b took {}, c took {} (e.g. {:?}: the topic as published)",
        got_b.len(),
        got_c.len(),
        got_b.first().or(got_c.first())
    );
    let mut all: Vec<_> = got_b.iter().chain(&got_c).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), JOBS, "every job exactly once across the group");
    drop((worker_b, worker_c));

    // ---- 7. Request / response ----
    println!("\n== 7. request / response");
    let service = format!("mqtt5/{pid}/services/time");
    // The responder (b): answers each request to its Response Topic, with
    // its Correlation Data.
    let mut requests = b.subscription(&service, QoS::AtLeastOnce).await?;
    let responder = b.clone();
    let serving = tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            let answer = format!("12:00 for {:?}", String::from_utf8_lossy(request.payload()));
            if let Err(e) = responder.respond(&request, answer).await {
                eprintln!("respond: {e}");
            }
        }
    });
    // The requester (a): one call, one reply.
    let reply = a.request(service.as_str(), "now?").await?;
    println!(
        "request: reply {:?} on {} (correlation data {:?})",
        String::from_utf8_lossy(reply.payload()),
        reply.topic(),
        reply.correlation_data()
    );
    // With options: QoS, timeout, and the request's MQTT 5 properties.
    let options = RequestOptions::new()
        .qos(QoS::AtLeastOnce)
        .timeout(Duration::from_secs(2))
        .content_type(MqttString::try_from("text/plain")?);
    let reply = a.request_with(service.as_str(), "later?", options).await?;
    println!(
        "request_with: reply {:?}",
        String::from_utf8_lossy(reply.payload())
    );
    serving.abort();

    // ---- 8. Enhanced authentication ----
    println!("\n== 8. enhanced authentication");
    println!(
        "mosquitto has no AUTH method of its own (only through a plugin), so this\n\
         example does not run an exchange. A SCRAM-SHA-256 authenticator against a\n\
         scripted broker (first connect, reconnect, re-authentication, failures) is\n\
         mqtt-client/tests/suite/v5/auth.rs, on the three runtimes; the Authenticator\n\
         trait's documentation test (sansmqtt::auth) shows the shape of one."
    );

    // ---- 9. disconnect_with, and the will it releases ----
    println!("\n== 9. disconnect_with a reason and properties");
    let mut status = b
        .subscription(&format!("mqtt5/{pid}/status/#"), QoS::AtLeastOnce)
        .await?;
    let left = Instant::now();
    a.disconnect_with(
        DisconnectOptions::new()
            .reason(DisconnectReason::DisconnectWithWillMessage)
            .session_expiry(Duration::from_secs(10))
            .reason_string(MqttString::try_from("shift over")?)
            .user_properties(UserProperties::new().with("by", "mqtt5 example")?),
    )
    .await?;
    println!("a sent DISCONNECT 0x04 (with will message), session expiry 10 s");
    let will = next(&mut status).await?;
    println!(
        "b received a's will after {:.1} s (will delay 1 s): {}",
        left.elapsed().as_secs_f32(),
        describe(&will)
    );
    println!(
        "  content_type {:?}, user_property(reason) {:?}, is_utf8 {}",
        will.content_type(),
        will.user_property("reason"),
        will.is_utf8()
    );
    drop(status);

    b.disconnect().await;
    c.disconnect().await;
    println!("\ndone");
    Ok(())
}

/// A fixed MQTT 5 configuration with `client_id`.
fn v5_config(client_id: Option<String>) -> Config {
    Config {
        client_id,
        protocol_version: ProtocolVersion::V5.into(),
        ..Config::default()
    }
}

/// The next message of a stream, within [`WAIT`].
async fn next(stream: &mut Subscription) -> Result<Message> {
    let message = timeout(WAIT, stream.next())
        .await
        .map_err(|_| format!("no message within {WAIT:?}"))?
        .ok_or("the subscription stream ended")?;
    Ok(message)
}

/// Removes the retained message of `topic` (an empty retained publish).
async fn clear_retained(client: &Client, topic: &str) -> Result<()> {
    client.publish(topic, "", QoS::AtLeastOnce, true).await?;
    Ok(())
}

/// One line about a received message.
fn describe(m: &Message) -> String {
    format!(
        "{} => {:?} (QoS {}, retain {})",
        m.topic(),
        String::from_utf8_lossy(m.payload()),
        m.qos() as u8,
        m.retain(),
    )
}

/// A mosquitto (MQTT 5 and 3.1.1 on one listener) on a free port of
/// 127.0.0.1, killed when dropped.
struct Mosquitto {
    port: u16,
    child: Child,
    dir: PathBuf,
}

impl Mosquitto {
    /// Starts it, and returns once it accepts connections.
    fn start() -> Result<Mosquitto> {
        let binary = std::env::var_os("MOSQUITTO")
            .map(PathBuf::from)
            .or_else(|| {
                let debian = PathBuf::from("/usr/sbin/mosquitto");
                debian.exists().then_some(debian)
            })
            .unwrap_or_else(|| PathBuf::from("mosquitto"));
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir =
            std::env::temp_dir().join(format!("sansmqtt-mqtt5-example-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let config = dir.join("mosquitto.conf");
        std::fs::write(
            &config,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
        )?;
        let child = Command::new(&binary)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot run {} ({e}): install mosquitto, or give --url",
                    binary.display()
                )
            })?;
        let mut broker = Mosquitto { port, child, dir };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = broker.child.try_wait()? {
                return Err(format!("mosquitto exited: {status}").into());
            }
            if Instant::now() > deadline {
                return Err(format!("mosquitto does not accept connections on {addr}").into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        println!("(started {} on port {})", binary.display(), broker.port);
        Ok(broker)
    }

    /// `mqtt://127.0.0.1:PORT`.
    fn uri(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
