//! rumqttc 0.25 as a peer: `sansmqtt-faults rumqttc-pub` and `rumqttc-sub`,
//! small programs on rumqttc's public API with the command line of
//! mosquitto_pub / mosquitto_sub that the runs use (`-h -p -q -c -i -t -k`,
//! and `-l` for the publisher).
//!
//! Written as its documentation shows: the event loop polled in a loop, a
//! connection error followed by a pause and another poll (which
//! reconnects; with `clean_session(false)` rumqttc resends what was in
//! flight); the subscriber subscribes whenever the broker has no session
//! for it. The publisher counts one outstanding message per publish and
//! one fewer per PUBACK (QoS 1) or PUBCOMP (QoS 2), and exits once standard
//! input has ended and nothing is outstanding.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The options the programs take.
#[derive(Debug, Clone)]
struct Opts {
    host: String,
    port: u16,
    qos: QoS,
    clean: bool,
    id: String,
    topic: String,
    keep_alive: u64,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        host: "127.0.0.1".into(),
        port: 1883,
        qos: QoS::AtMostOnce,
        clean: true,
        id: "rumqttc-peer".into(),
        topic: String::new(),
        keep_alive: 60,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "-h" => o.host = value()?,
            "-p" => o.port = value()?.parse().map_err(|e| format!("-p: {e}"))?,
            "-q" => {
                o.qos = match value()?.as_str() {
                    "0" => QoS::AtMostOnce,
                    "1" => QoS::AtLeastOnce,
                    "2" => QoS::ExactlyOnce,
                    q => return Err(format!("-q {q}")),
                }
            }
            "-c" => o.clean = false,
            "-i" => o.id = value()?,
            "-t" => o.topic = value()?,
            "-k" => o.keep_alive = value()?.parse().map_err(|e| format!("-k: {e}"))?,
            "-l" | "-d" => {}
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.topic.is_empty() {
        return Err("-t is required".into());
    }
    Ok(o)
}

fn options(o: &Opts) -> MqttOptions {
    let mut m = MqttOptions::new(o.id.clone(), o.host.clone(), o.port);
    m.set_keep_alive(Duration::from_secs(o.keep_alive))
        .set_clean_session(o.clean);
    m
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// `rumqttc-pub`: publishes each line of standard input.
pub fn publisher(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    runtime()?.block_on(async move {
        let (client, mut eventloop) = AsyncClient::new(options(&o), 100);
        let outstanding = Arc::new(AtomicI64::new(0));
        let acks = outstanding.clone();
        let qos = o.qos;
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(_))) if qos == QoS::AtLeastOnce => {
                        acks.fetch_sub(1, Ordering::SeqCst);
                    }
                    Ok(Event::Incoming(Packet::PubComp(_))) if qos == QoS::ExactlyOnce => {
                        acks.fetch_sub(1, Ordering::SeqCst);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        eprintln!("rumqttc-pub: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
            if qos != QoS::AtMostOnce {
                outstanding.fetch_add(1, Ordering::SeqCst);
            }
            client
                .publish(o.topic.clone(), qos, false, line.into_bytes())
                .await
                .map_err(|e| e.to_string())?;
        }
        while outstanding.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(())
    })
}

/// `rumqttc-sub`: prints each payload on a line of its own.
pub fn subscriber(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    runtime()?.block_on(async move {
        let (client, mut eventloop) = AsyncClient::new(options(&o), 10);
        let mut out = std::io::stdout();
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(ack))) if !ack.session_present => {
                    client
                        .try_subscribe(o.topic.clone(), o.qos)
                        .map_err(|e| e.to_string())?;
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let mut line = p.payload.to_vec();
                    line.push(b'\n');
                    if out.write_all(&line).and_then(|()| out.flush()).is_err() {
                        return Ok(());
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    eprintln!("rumqttc-sub: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    })
}
