//! `sansmqtt pub`: mosquitto_pub.

use std::time::Duration;

use futures_util::FutureExt;
use futures_util::stream::{FuturesOrdered, StreamExt};
use sansmqtt_proto::{PacketId, Properties, ProtocolVersion, PublishProperties};
use sansmqtt_tokio::payload::{Codecs, Value};
use sansmqtt_tokio::{Bytes, Client, ClientError, Config, Publish, QoS, TopicName};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::args::PubArgs;
use crate::connection::{self, fatal_close};
use crate::exit::Exit;

/// `-l`: publishes handed over and not yet complete, at most.
const LINES_IN_FLIGHT: usize = 64;

/// Where the messages come from.
enum Source {
    /// One payload (`-m`, `-f`, `-s`, `-n`), `--repeat` times.
    Once(Bytes),
    /// One message per line of stdin (`-l`).
    Lines,
}

/// How payloads are encoded (`--codec`).
struct Encoder {
    codec: Option<(String, Codecs)>,
}

impl Encoder {
    fn new(config: &Config, name: Option<&str>) -> Result<Self, Exit> {
        let Some(name) = name else {
            return Ok(Self { codec: None });
        };
        let codecs =
            Codecs::from_config(config).map_err(|e| Exit::general(format!("Error: {e}")))?;
        Ok(Self {
            codec: Some((name.to_owned(), codecs)),
        })
    }

    /// The payload of the message text `raw`: as it is, or the value it
    /// spells (JSON, else text) through the codec.
    fn encode(&self, raw: Bytes) -> Result<Bytes, Exit> {
        let Some((name, codecs)) = &self.codec else {
            return Ok(raw);
        };
        let failed = |e: &dyn std::fmt::Display| {
            Exit::general(format!(
                "Error: codec {name} cannot encode the message: {e}"
            ))
        };
        let codec = codecs.get(name).map_err(|e| failed(&e))?;
        let Ok(text) = std::str::from_utf8(&raw) else {
            return codec
                .encode(&Value::Bytes(raw.clone()))
                .map_err(|e| failed(&e));
        };
        let as_text = Value::Text(text.to_owned());
        if let Ok(data) = serde_json::from_str::<serde_json::Value>(text)
            && let Ok(payload) = codec.encode(&Value::from_data(data))
        {
            // `noop` takes bytes only: it lands below.
            return Ok(payload);
        }
        codec
            .encode(&as_text)
            .or_else(|_| codec.encode(&Value::Bytes(raw.clone())))
            .map_err(|e| failed(&e))
    }
}

/// The exit of a failed publish.
fn publish_error(e: ClientError, version: ProtocolVersion) -> Exit {
    match e {
        ClientError::Connection(reason) => fatal_close(&reason, version)
            .unwrap_or_else(|| Exit::general(format!("Error: publish failed: {reason}"))),
        other => Exit::general(format!("Error: {other}")),
    }
}

/// Runs `sansmqtt pub`.
pub(crate) async fn run(args: PubArgs) -> Result<(), Exit> {
    let (target, config) = connection::prepare(&args.common)?;
    let topic = args.topic.clone().or(target.url_topic.clone());
    let source = if let Some(m) = &args.message {
        Some(Source::Once(Bytes::from(m.clone().into_bytes())))
    } else if let Some(file) = &args.file {
        let bytes = std::fs::read(file).map_err(|e| {
            Exit::general(format!(
                "Error: Unable to read file \"{}\": {e}.",
                file.display()
            ))
        })?;
        Some(Source::Once(Bytes::from(bytes)))
    } else if args.stdin {
        let mut all = Vec::new();
        tokio::io::stdin()
            .read_to_end(&mut all)
            .await
            .map_err(|e| Exit::general(format!("Error: reading stdin: {e}")))?;
        Some(Source::Once(Bytes::from(all)))
    } else if args.null {
        Some(Source::Once(Bytes::new()))
    } else if args.lines {
        Some(Source::Lines)
    } else {
        None
    };
    let (Some(topic), Some(source)) = (topic, source) else {
        return Err(Exit::usage("Both topic and message must be supplied."));
    };
    let topic = TopicName::try_from(topic.as_str()).map_err(|_| {
        Exit::usage(format!(
            "Invalid publish topic '{topic}', does it contain '+' or '#'?"
        ))
    })?;
    // Any -D made the connection MQTT 5 (see `connection::prepare`).
    let properties = target.properties.publish()?;
    let encoder = Encoder::new(&config, args.common.codec.as_deref())?;
    let once = match &source {
        Source::Once(raw) => Some(encoder.encode(raw.clone())?),
        Source::Lines => None,
    };
    let qos = QoS::try_from(args.qos).map_err(|_| Exit::usage("Invalid QoS given."))?;
    let publisher = Publisher {
        topic,
        qos,
        retain: args.retain,
        properties,
        version: target.version,
    };

    let client = connection::connect(&args.common, &target, config).await?;
    let fatal = connection::watch_fatal(client.clone(), target.version, args.common.debug);
    let work = async {
        match once {
            Some(payload) => {
                let delay = args.repeat_delay.map(Duration::from_secs_f64);
                for i in 0..args.repeat.max(1) {
                    if i > 0
                        && let Some(d) = delay
                    {
                        tokio::time::sleep(d).await;
                    }
                    publisher.send(&client, payload.clone()).await?;
                }
                Ok(())
            }
            None => {
                // Like mosquitto_pub -l, lines do not wait for the one
                // before them to complete: up to LINES_IN_FLIGHT publishes
                // are handed over at once (in order: the client sends them
                // in the order they were handed over), so a link with
                // latency is not paid for four times per QoS 2 message.
                let mut stdin = BufReader::new(tokio::io::stdin());
                let mut line = Vec::new();
                let mut in_flight = FuturesOrdered::new();
                loop {
                    line.clear();
                    let n = stdin
                        .read_until(b'\n', &mut line)
                        .await
                        .map_err(|e| Exit::general(format!("Error: reading stdin: {e}")))?;
                    if n == 0 {
                        break;
                    }
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    let payload = encoder.encode(Bytes::from(line.clone()))?;
                    in_flight.push_back(publisher.send(&client, payload));
                    // Hands the new publish over (a publish goes to the
                    // client when first polled) and takes the outcomes
                    // that are in.
                    while let Some(Some(done)) = in_flight.next().now_or_never() {
                        done?;
                    }
                    if in_flight.len() >= LINES_IN_FLIGHT
                        && let Some(done) = in_flight.next().await
                    {
                        done?;
                    }
                }
                while let Some(done) = in_flight.next().await {
                    done?;
                }
                Ok(())
            }
        }
    };
    let outcome = tokio::select! {
        biased;
        exit = fatal => Err(exit),
        r = work => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    connection::disconnect(&client, target.disconnect.clone()).await;
    outcome
}

/// The fixed parts of every PUBLISH.
struct Publisher {
    topic: TopicName,
    qos: QoS,
    retain: bool,
    properties: Properties<PublishProperties>,
    version: ProtocolVersion,
}

impl Publisher {
    /// Publishes `payload`; returns once the QoS level is complete.
    async fn send(&self, client: &Client, payload: Bytes) -> Result<(), Exit> {
        let mut p = Publish::at_most_once(self.topic.clone(), payload);
        p.qos = self.qos;
        p.retain = self.retain;
        p.packet_id = (self.qos != QoS::AtMostOnce).then_some(PacketId::MIN);
        p.properties = self.properties.clone();
        client
            .publish_packet(p)
            .await
            .map(drop)
            .map_err(|e| publish_error(e, self.version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoder(codec: &str) -> Encoder {
        Encoder::new(&Config::default(), Some(codec)).unwrap()
    }

    #[test]
    fn codecs_encode_the_message_text() {
        let e = Encoder { codec: None };
        assert_eq!(e.encode(Bytes::from_static(b"x")).unwrap(), "x");
        assert_eq!(
            encoder("noop")
                .encode(Bytes::from_static(b"{\"a\": 1}"))
                .unwrap(),
            "{\"a\": 1}"
        );
        assert_eq!(
            encoder("json")
                .encode(Bytes::from_static(b"{\"a\": 1}"))
                .unwrap(),
            "{\"a\":1}"
        );
        assert_eq!(
            encoder("bool").encode(Bytes::from_static(b"true")).unwrap(),
            "on"
        );
        assert_eq!(
            encoder("utf8").encode(Bytes::from_static(b"42")).unwrap(),
            "42"
        );
        let packed = encoder("msgpack")
            .encode(Bytes::from_static(b"[1,2]"))
            .unwrap();
        assert_eq!(&packed[..], &[0x92, 0x01, 0x02]);
        assert!(
            encoder("bool")
                .encode(Bytes::from_static(b"maybe"))
                .is_err()
        );
    }
}
