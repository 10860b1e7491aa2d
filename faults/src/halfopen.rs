//! Half-open links: a subscriber process on keep-alive `K` reaches
//! mosquitto through the [`FaultProxy`]; the proxy stalls its connection
//! both ways (no RST, no FIN: what a dead NAT entry or a pulled cable
//! looks like) at a random moment of the keep-alive cycle. The client has
//! noticed once it opens a new connection; it has recovered once a message
//! published after that reaches it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::exchange::publish_ready;
use crate::peer::{Args, Bins, Peer};
use crate::proxy::{Direction, FaultProxy};
use crate::support::Mosquitto;

/// The parameters of a run.
#[derive(Debug, Clone)]
pub struct HalfOpen {
    /// The client tried.
    pub peer: Peer,
    /// Keep-alive, seconds.
    pub keep_alive: u16,
    /// Stalls, one after the other.
    pub stalls: u32,
    /// Seeds the moments of the stalls.
    pub seed: u64,
}

/// One stall's figures.
#[derive(Debug, Clone, Copy)]
pub struct Stall {
    /// From the stall to the client's new connection.
    pub noticed: Option<Duration>,
    /// From the stall to the first message delivered afterwards.
    pub recovered: Option<Duration>,
}

impl HalfOpen {
    /// Runs it against a mosquitto of its own.
    pub fn run(&self, bins: &Bins) -> Result<Vec<Stall>, String> {
        let broker = Mosquitto::start("");
        let upstream: SocketAddr = ([127, 0, 0, 1], broker.port()).into();
        let proxy = FaultProxy::start(upstream, self.seed).map_err(|e| e.to_string())?;
        let tag = format!(
            "halfopen-{}-k{}-{}",
            self.peer.name(),
            self.keep_alive,
            self.seed
        );
        let topic = format!("faults/{tag}");
        let logs = crate::exchange::log_dir(&tag);
        publish_ready(broker.port(), &topic)?;
        let err = std::fs::File::create(logs.join("sub.stderr")).map_err(|e| e.to_string())?;
        let mut sub = self
            .peer
            .subscriber(
                bins,
                &Args {
                    port: proxy.port(),
                    qos: 1,
                    id: format!("{tag}-sub"),
                    topic: topic.clone(),
                    keep_alive: self.keep_alive,
                },
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .map_err(|e| format!("{} sub: {e}", self.peer.name()))?;
        let out = sub.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let result = (|| {
            let wait_for = |want: &str, d: Duration| {
                let end = Instant::now() + d;
                while let Some(left) = end.checked_duration_since(Instant::now()) {
                    match rx.recv_timeout(left) {
                        Ok(l) if l == want => return true,
                        Ok(_) => {}
                        Err(_) => return false,
                    }
                }
                false
            };
            if !wait_for("ready", Duration::from_secs(30)) {
                return Err(format!("{} sub never got ready", self.peer.name()));
            }
            let k = Duration::from_secs(u64::from(self.keep_alive));
            let mut rng = fastrand::Rng::with_seed(self.seed);
            let mut stalls = Vec::new();
            let publisher = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let client = publisher
                .block_on(sansmqtt_tokio::connect(
                    &broker.uri(),
                    sansmqtt_tokio::Config::default(),
                ))
                .map_err(|e| e.to_string())?;
            for i in 0..self.stalls {
                // A random moment of the keep-alive cycle.
                std::thread::sleep(k.mul_f64(rng.f64()) + Duration::from_millis(200));
                let before = proxy.counts().accepted;
                let t0 = Instant::now();
                proxy.stall_current(Direction::Both);
                let mut noticed = None;
                while t0.elapsed() < k * 4 {
                    if proxy.counts().accepted > before {
                        noticed = Some(t0.elapsed());
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                // Recovered: a message published now arrives (QoS 1: the
                // broker keeps it for the session until the client is back).
                let payload = format!("after-{i}");
                publisher
                    .block_on(client.publish(
                        topic.as_str(),
                        payload.clone(),
                        sansmqtt_tokio::QoS::AtLeastOnce,
                        false,
                    ))
                    .map_err(|e| e.to_string())?;
                let recovered = wait_for(&payload, k * 4).then(|| t0.elapsed());
                stalls.push(Stall { noticed, recovered });
            }
            publisher.block_on(client.disconnect());
            Ok(stalls)
        })();
        let _ = sub.kill();
        let _ = sub.wait();
        result
    }
}
