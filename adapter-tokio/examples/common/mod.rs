//! Shared by the examples (`#[path = "common/mod.rs"] mod common;`): the
//! command line (`--url`, `--count`, `--root`, `--feed`), an embedded
//! rumqttd broker on a free loopback port, used when no `--url` is given,
//! and a second client that publishes simulated `$SYS` traffic.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sansmqtt_tokio::{ClientError, Config, QoS};

/// The embedded rumqttd every example of every crate uses.
#[path = "../../../mqtt-session/examples/common/broker.rs"]
mod broker;

/// The examples' command line.
#[derive(Debug, Default)]
pub(crate) struct Args {
    /// `--url mqtt://host:port`: use that broker instead of an embedded one.
    pub(crate) url: Option<String>,
    /// `--count N`: how many messages to wait for (subscriber examples).
    pub(crate) count: Option<usize>,
    /// `--root ROOT`: the `$SYS` tree of the subscriber examples.
    pub(crate) root: Option<String>,
    /// `--feed`: publish simulated `$SYS` traffic even with `--url`.
    pub(crate) feed: bool,
}

impl Args {
    /// Parses `std::env::args()`; prints `usage` and exits with status 2 on
    /// an unknown or malformed argument.
    pub(crate) fn parse(usage: &str) -> Args {
        let mut args = Args::default();
        let mut it = std::env::args().skip(1);
        let fail = |msg: String| -> ! {
            eprintln!("{msg}\nusage: {usage}");
            std::process::exit(2)
        };
        while let Some(arg) = it.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (arg.clone(), None),
            };
            let mut value = |name: &str| {
                inline
                    .clone()
                    .or_else(|| it.next())
                    .unwrap_or_else(|| fail(format!("{name} needs a value")))
            };
            match name.as_str() {
                "--url" => args.url = Some(value("--url")),
                "--count" => {
                    let v = value("--count");
                    args.count = Some(
                        v.parse()
                            .unwrap_or_else(|_| fail(format!("--count {v}: not a number"))),
                    );
                }
                "--root" => args.root = Some(value("--root")),
                "--feed" => args.feed = true,
                "-h" | "--help" => {
                    println!("usage: {usage}");
                    std::process::exit(0);
                }
                _ => fail(format!("unknown argument {arg:?}")),
            }
        }
        args
    }
}

/// The broker an example talks to.
#[derive(Debug)]
pub(crate) struct Broker {
    uri: String,
    embedded: bool,
}

impl Broker {
    /// The `--url` broker, or else a new embedded rumqttd.
    pub(crate) fn from_args(args: &Args) -> Result<Broker, String> {
        match &args.url {
            Some(url) => Ok(Broker {
                uri: url.clone(),
                embedded: false,
            }),
            None => Broker::embedded(),
        }
    }

    /// Starts rumqttd in this process (the examples' shared embedded
    /// broker, `mqtt-session/examples/common/broker.rs`).
    pub(crate) fn embedded() -> Result<Broker, String> {
        let embedded = broker::Broker::embedded()?;
        Ok(Broker {
            uri: embedded.uri().to_owned(),
            embedded: true,
        })
    }

    /// `mqtt://host:port`.
    pub(crate) fn uri(&self) -> &str {
        &self.uri
    }

    /// Whether this is the embedded rumqttd.
    pub(crate) fn is_embedded(&self) -> bool {
        self.embedded
    }

    /// The root of the broker's system topics: `--root`, else `$SYS`, or
    /// `SYS` for the embedded rumqttd, which refuses subscriptions to
    /// filters starting with `$` (it drops the connection) and publishes no
    /// system topics anyway.
    pub(crate) fn sys_root(&self, args: &Args) -> String {
        match &args.root {
            Some(root) => root.clone(),
            None if self.embedded => "SYS".to_owned(),
            None => "$SYS".to_owned(),
        }
    }

    /// Whether to publish simulated system topics: with the embedded broker,
    /// or when asked with `--feed`.
    pub(crate) fn feeds(&self, args: &Args) -> bool {
        self.embedded || args.feed
    }

    /// How to say which broker this is.
    pub(crate) fn describe(&self) -> String {
        if self.embedded {
            format!("embedded rumqttd at {}", self.uri)
        } else {
            self.uri.clone()
        }
    }
}

/// A second client publishing simulated system topics until stopped:
/// `ROOT/broker/uptime` at QoS 1 and `ROOT/broker/load/...` at QoS 2, in
/// turn, every 20 ms.
pub(crate) struct SysFeeder {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Result<u64, ClientError>>,
}

impl SysFeeder {
    /// Connects the feeding client and starts publishing.
    pub(crate) async fn start(uri: &str, root: &str) -> Result<SysFeeder, ClientError> {
        let client = sansmqtt_tokio::connect(uri, Config::default()).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_owned();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let loads = [
                "messages/received/1min",
                "messages/sent/1min",
                "connections/1min",
            ];
            let started = Instant::now();
            let mut sent = 0u64;
            while !stopped.load(Ordering::Relaxed) {
                if sent.is_multiple_of(2) {
                    let uptime = format!("{} seconds", started.elapsed().as_secs());
                    client
                        .publish(
                            format!("{root}/broker/uptime"),
                            uptime,
                            QoS::AtLeastOnce,
                            false,
                        )
                        .await?;
                } else {
                    let load = loads[(sent / 2) as usize % loads.len()];
                    let value = format!("{:.2}", sent as f64 / 10.0);
                    client
                        .publish(
                            format!("{root}/broker/load/{load}"),
                            value,
                            QoS::ExactlyOnce,
                            false,
                        )
                        .await?;
                }
                sent += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            client.disconnect().await;
            Ok(sent)
        });
        Ok(SysFeeder { stop, task })
    }

    /// Stops publishing, disconnects, and returns how many messages were
    /// published.
    pub(crate) async fn stop(self) -> Result<u64, Box<dyn std::error::Error>> {
        self.stop.store(true, Ordering::Relaxed);
        Ok(self.task.await??)
    }
}
