//! Link faults: publisher and subscriber reach mosquitto through the
//! [`FaultProxy`], which resets every connection after a random number of
//! bytes until it has done `resets` resets, and may also delay or trickle
//! every chunk, and refuse connections for a while (every connection reset,
//! then the port closed) a number of times during the run.

use std::net::SocketAddr;
use std::time::Duration;

use crate::broker_log::qos2_violations;
use crate::exchange::{Exchange, Faults, Tally};
use crate::peer::{Bins, Peer};
use crate::proxy::{Counts, FaultProxy, Plan, Resets};
use crate::support::{Aedes, Mosquitto};

/// mosquitto keeps every message of an offline persistent session (its
/// default drops past 1,000 queued messages per client, which would count
/// as lost here through no fault of the client's).
pub const BROKER_CONFIG: &str = "max_queued_messages 0\nlog_type all\n";

/// How long the subscriber may stay without a new message once the
/// publisher is done before the count: three keep-alive intervals (10 s),
/// so that a connection the broker stopped serving is noticed by the
/// keep-alive (1.5 x) and made again. A message that comes later counts as
/// lost.
pub const SETTLE: Duration = Duration::from_secs(30);

/// The parameters of a run.
#[derive(Debug, Clone)]
pub struct Cuts {
    /// The client on both ends.
    pub peer: Peer,
    /// 1 or 2.
    pub qos: u8,
    /// Messages published.
    pub messages: u32,
    /// Connection resets (publisher's and subscriber's together).
    pub resets: u32,
    /// Seeds the proxy's draws.
    pub seed: u64,
    /// Added before every chunk relayed.
    pub delay: Duration,
    /// Bytes per second per direction, if trickled.
    pub trickle: Option<u32>,
    /// Refusals: how many, and how long each (spread over the run at
    /// random moments; each resets the open connections first).
    pub refusals: (u32, Duration),
    /// Messages fed per second (`None`: as fast as the publisher reads).
    pub rate: Option<u32>,
    /// The broker: mosquitto, or aedes (npm; a second broker to tell a
    /// client's fault from a broker's).
    pub aedes: bool,
}

impl Cuts {
    /// Resets only: `resets` of them over `messages` messages.
    pub fn resets(peer: Peer, qos: u8, messages: u32, resets: u32, seed: u64) -> Cuts {
        Cuts {
            peer,
            qos,
            messages,
            resets,
            seed,
            delay: Duration::ZERO,
            trickle: None,
            refusals: (0, Duration::ZERO),
            rate: None,
            aedes: false,
        }
    }
}

/// What a run gave.
#[derive(Debug, Clone)]
pub struct CutsOutcome {
    /// What arrived.
    pub tally: Tally,
    /// What the proxy did.
    pub counts: Counts,
    /// Refusals done.
    pub refusals: u32,
}

struct ThroughProxy {
    proxy: FaultProxy,
    broker_port: u16,
    rng: fastrand::Rng,
    refusals: u32,
    refusal: Duration,
    refused: u32,
    next_refusal: Duration,
}

impl Faults for ThroughProxy {
    fn tick(&mut self, elapsed: Duration) {
        if self.refused < self.refusals && elapsed >= self.next_refusal {
            self.refused += 1;
            self.proxy.reset_all();
            self.proxy.refuse_for(self.refusal);
            let gap = Duration::from_millis(500 + self.rng.u64(0..1_500));
            self.next_refusal = elapsed + self.refusal + gap;
        }
    }
    fn calm(&mut self) {
        self.proxy.calm();
    }
    fn port(&self) -> u16 {
        self.proxy.port()
    }
    fn broker_port(&self) -> u16 {
        self.broker_port
    }
}

/// Bytes on the wire per message, both links together: PUBLISH (topic
/// `faults/<tag>`, a decimal payload) and its acknowledgements.
pub fn bytes_per_message(tag: &str, qos: u8) -> u64 {
    let publish = 2 + 2 + "faults/".len() + tag.len() + 2 + 6;
    let acks = if qos == 2 { 12 } else { 4 };
    2 * (publish + acks) as u64
}

impl Cuts {
    /// The run's tag: client identifiers, topic, logs.
    pub fn tag(&self) -> String {
        let mut tag = format!(
            "cuts-{}-q{}-{}-{}",
            self.peer.name(),
            self.qos,
            self.messages,
            self.seed
        );
        if !self.delay.is_zero() {
            tag.push_str(&format!("-delay{}", self.delay.as_millis()));
        }
        if let Some(t) = self.trickle {
            tag.push_str(&format!("-trickle{t}"));
        }
        if self.refusals.0 > 0 {
            tag.push_str(&format!("-refuse{}", self.refusals.0));
        }
        if self.aedes {
            tag.push_str("-aedes");
        }
        tag
    }

    /// Runs it against a mosquitto of its own.
    pub fn run(&self, bins: &Bins) -> Result<CutsOutcome, String> {
        enum Broker {
            Mosquitto(Mosquitto),
            Aedes(Aedes),
        }
        let broker = if self.aedes {
            Broker::Aedes(Aedes::start().ok_or("aedes cannot run here (Node.js, npm)")?)
        } else {
            Broker::Mosquitto(Mosquitto::start(BROKER_CONFIG))
        };
        let broker_port = match &broker {
            Broker::Mosquitto(m) => m.port(),
            Broker::Aedes(a) => a.port(),
        };
        let upstream: SocketAddr = ([127, 0, 0, 1], broker_port).into();
        let proxy = FaultProxy::start(upstream, self.seed).map_err(|e| e.to_string())?;
        let tag = self.tag();
        let total = bytes_per_message(&tag, self.qos) * u64::from(self.messages);
        proxy.set_plan(Plan {
            resets: Some(Resets {
                mean_bytes: (total * 4 / (5 * u64::from(self.resets.max(1)))).max(16),
                remaining: self.resets,
            }),
            delay: self.delay,
            trickle: self.trickle,
        });
        let mut faults = ThroughProxy {
            proxy,
            broker_port,
            rng: fastrand::Rng::with_seed(self.seed ^ 0x4ef5),
            refusals: self.refusals.0,
            refusal: self.refusals.1,
            refused: 0,
            next_refusal: Duration::from_millis(300),
        };
        let exchange = Exchange {
            peer: self.peer,
            qos: self.qos,
            messages: self.messages,
            rate: self.rate,
            keep_alive: 10,
            settle: SETTLE,
            deadline: Duration::from_secs(
                60 + u64::from(self.messages) / 200 + u64::from(self.resets) / 2,
            ) + (self.refusals.1 + Duration::from_secs(2)) * self.refusals.0,
            tag,
        };
        let mut tally = exchange.run(bins, &mut faults)?;
        let log = match &broker {
            Broker::Mosquitto(m) => m.log(),
            Broker::Aedes(_) => String::new(),
        };
        tally.broker = qos2_violations(&log, &format!("{}-sub", exchange.tag));
        let _ = std::fs::write(
            crate::exchange::log_dir(&exchange.tag).join("mosquitto.log"),
            log,
        );
        Ok(CutsOutcome {
            tally,
            counts: faults.proxy.counts(),
            refusals: faults.refused,
        })
    }
}
