//! Broker restarts: mosquitto with persistence is stopped (SIGTERM: it
//! saves its state; or SIGKILL: what it had not saved is gone) and started
//! again on the same port, again and again, after outages of random length,
//! while numbered messages flow between a publisher and a subscriber on
//! persistent sessions (through the [`FaultProxy`], which may also reset
//! connections at random offsets).
//!
//! Beside them a probe (sansmqtt on tokio, in this process, through the
//! proxy, `request_timeout` [`PROBE_TIMEOUT`]) publishes a QoS 1 message
//! every 100 ms: the longest call shows that no call waits past its
//! timeout, whatever the outage.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::broker_log::qos2_violations;
use crate::exchange::{Exchange, Faults, Tally};
use crate::peer::{Bins, Peer};
use crate::proxy::{Counts, FaultProxy, Plan, Resets};
use crate::support::Mosquitto;

/// The probe's `request_timeout`.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How the broker is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM: mosquitto saves its persistence file and exits.
    Term,
    /// SIGKILL: whatever mosquitto had not saved is lost (it saves every
    /// `autosave_interval` = 1 s here).
    Kill,
}

/// The parameters of a run.
#[derive(Debug, Clone)]
pub struct Restarts {
    /// The client on both ends.
    pub peer: Peer,
    /// 1 or 2.
    pub qos: u8,
    /// Messages published, spread over the run.
    pub messages: u32,
    /// Broker restarts.
    pub restarts: u32,
    /// How the broker is stopped.
    pub stop: Stop,
    /// Outage length, drawn uniformly from this range.
    pub outage: (Duration, Duration),
    /// Time up between two restarts, drawn uniformly from this range.
    pub uptime: (Duration, Duration),
    /// Connection resets at random offsets besides (0: none).
    pub resets: u32,
    /// Seeds every draw.
    pub seed: u64,
}

/// What a run gave.
#[derive(Debug, Clone)]
pub struct RestartsOutcome {
    /// What arrived.
    pub tally: Tally,
    /// What the proxy did.
    pub counts: Counts,
    /// Restarts done.
    pub restarts: u32,
    /// Outages, shortest and longest.
    pub outages: (Duration, Duration),
    /// The probe's calls: completed, failed with `Timeout`, failed
    /// otherwise, and the longest call.
    pub probe: Probe,
}

/// The probe's calls.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// Publishes acknowledged.
    pub ok: u64,
    /// Publishes that failed with `ClientError::Timeout`.
    pub timed_out: u64,
    /// Publishes that failed otherwise.
    pub failed: u64,
    /// The longest call, in ms.
    pub longest_ms: u64,
    /// The errors of the failed calls (`Display`), with their counts.
    pub errors: Vec<(String, u64)>,
}

/// The broker's lifecycle while messages flow.
struct Cycle {
    broker: Mosquitto,
    proxy: FaultProxy,
    rng: fastrand::Rng,
    stop: Stop,
    outage: (Duration, Duration),
    uptime: (Duration, Duration),
    left: u32,
    done: u32,
    /// Up until / down until.
    next: Instant,
    down: bool,
    outages: (Duration, Duration),
    down_since: Instant,
}

fn draw(rng: &mut fastrand::Rng, (lo, hi): (Duration, Duration)) -> Duration {
    lo + (hi.saturating_sub(lo)).mul_f64(rng.f64())
}

impl Faults for Cycle {
    fn tick(&mut self, _: Duration) {
        let now = Instant::now();
        if now < self.next {
            return;
        }
        if self.down {
            self.broker.restart();
            let outage = self.down_since.elapsed();
            self.outages = (self.outages.0.min(outage), self.outages.1.max(outage));
            self.done += 1;
            self.down = false;
            self.next = Instant::now() + draw(&mut self.rng, self.uptime);
        } else if self.left > 0 {
            self.left -= 1;
            match self.stop {
                Stop::Term => self.broker.stop_graceful(),
                Stop::Kill => self.broker.stop(),
            }
            self.down = true;
            self.down_since = Instant::now();
            self.next = self.down_since + draw(&mut self.rng, self.outage);
        }
    }
    fn calm(&mut self) {
        self.proxy.calm();
        if self.down {
            self.broker.restart();
            self.done += 1;
            self.down = false;
        }
        self.left = 0;
    }
    fn port(&self) -> u16 {
        self.proxy.port()
    }
    fn broker_port(&self) -> u16 {
        self.broker.port()
    }
}

impl Restarts {
    /// The run's tag: client identifiers, topic, logs.
    pub fn tag(&self) -> String {
        let stop = match self.stop {
            Stop::Term => "term",
            Stop::Kill => "kill",
        };
        format!(
            "restarts-{stop}-{}-q{}-{}-{}",
            self.peer.name(),
            self.qos,
            self.messages,
            self.seed
        )
    }

    /// Runs it against a mosquitto of its own.
    pub fn run(&self, bins: &Bins) -> Result<RestartsOutcome, String> {
        let broker = Mosquitto::start(
            "persistence true\npersistence_location {dir}/\nautosave_interval 1\nmax_queued_messages 0\nlog_type all\n",
        );
        let upstream: SocketAddr = ([127, 0, 0, 1], broker.port()).into();
        let proxy = FaultProxy::start(upstream, self.seed).map_err(|e| e.to_string())?;
        let tag = self.tag();
        let mean = |(lo, hi): (Duration, Duration)| (lo + hi) / 2;
        let span =
            (mean(self.outage) + mean(self.uptime)) * self.restarts.max(1) + mean(self.uptime);
        let rate = (f64::from(self.messages) / span.as_secs_f64()).ceil() as u32;
        if self.resets > 0 {
            let total = crate::cuts::bytes_per_message(&tag, self.qos) * u64::from(self.messages);
            proxy.set_plan(Plan {
                resets: Some(Resets {
                    mean_bytes: (total / u64::from(self.resets)).max(16),
                    remaining: self.resets,
                }),
                ..Plan::default()
            });
        }
        let probe_port = proxy.port();
        let mut rng = fastrand::Rng::with_seed(self.seed ^ 0x5eed);
        let first_up = draw(&mut rng, self.uptime);
        let mut cycle = Cycle {
            broker,
            proxy,
            rng,
            stop: self.stop,
            outage: self.outage,
            uptime: self.uptime,
            left: self.restarts,
            done: 0,
            next: Instant::now() + first_up,
            down: false,
            outages: (Duration::MAX, Duration::ZERO),
            down_since: Instant::now(),
        };
        let exchange = Exchange {
            peer: self.peer,
            qos: self.qos,
            messages: self.messages,
            rate: Some(rate.max(1)),
            keep_alive: 10,
            settle: crate::cuts::SETTLE,
            deadline: span * 3 + Duration::from_secs(60),
            tag: tag.clone(),
        };
        let probe = ProbeRun::start(probe_port, &tag)?;
        let mut tally = exchange.run(bins, &mut cycle)?;
        let log = cycle.broker.log();
        tally.broker = qos2_violations(&log, &format!("{tag}-sub"));
        let _ = std::fs::write(crate::exchange::log_dir(&tag).join("mosquitto.log"), log);
        let probe = probe.finish();
        let outages = if cycle.done == 0 {
            (Duration::ZERO, Duration::ZERO)
        } else {
            cycle.outages
        };
        Ok(RestartsOutcome {
            tally,
            counts: cycle.proxy.counts(),
            restarts: cycle.done,
            outages,
            probe,
        })
    }
}

/// The probe publisher, on a runtime of its own.
struct ProbeRun {
    runtime: tokio::runtime::Runtime,
    stop: Arc<AtomicBool>,
    counts: Arc<[AtomicU64; 4]>,
    errors: Arc<std::sync::Mutex<std::collections::BTreeMap<String, u64>>>,
}

impl ProbeRun {
    fn start(port: u16, tag: &str) -> Result<ProbeRun, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let mut config = sansmqtt_tokio::Config {
            request_timeout: Some(PROBE_TIMEOUT),
            reconnect_retries: -1,
            reconnect_max_interval: Duration::from_secs(1),
            client_id: Some(format!("{tag}-probe")),
            ..sansmqtt_tokio::Config::default()
        };
        config.cleansession = true;
        let client = runtime
            .block_on(sansmqtt_tokio::connect(
                &format!("mqtt://127.0.0.1:{port}"),
                config,
            ))
            .map_err(|e| format!("probe: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let counts: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
        let errors = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::new()));
        let (s, c, e) = (stop.clone(), counts.clone(), errors.clone());
        let topic = format!("probe/{tag}");
        runtime.spawn(async move {
            while !s.load(Ordering::SeqCst) {
                let t0 = Instant::now();
                let r = client
                    .publish(topic.as_str(), "p", sansmqtt_tokio::QoS::AtLeastOnce, false)
                    .await;
                let took = t0.elapsed().as_millis() as u64;
                c[3].fetch_max(took, Ordering::SeqCst);
                let i = match r {
                    Ok(_) => 0,
                    Err(sansmqtt_tokio::ClientError::Timeout) => 1,
                    Err(_) => 2,
                };
                if let Err(err) = r
                    && let Ok(mut e) = e.lock()
                {
                    *e.entry(err.to_string()).or_default() += 1;
                }
                c[i].fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            client.disconnect().await;
        });
        Ok(ProbeRun {
            runtime,
            stop,
            counts,
            errors,
        })
    }

    fn finish(self) -> Probe {
        self.stop.store(true, Ordering::SeqCst);
        std::thread::sleep(PROBE_TIMEOUT + Duration::from_millis(300));
        let c = &self.counts;
        let p = Probe {
            ok: c[0].load(Ordering::SeqCst),
            timed_out: c[1].load(Ordering::SeqCst),
            failed: c[2].load(Ordering::SeqCst),
            longest_ms: c[3].load(Ordering::SeqCst),
            errors: self
                .errors
                .lock()
                .map(|e| e.iter().map(|(k, v)| (k.clone(), *v)).collect())
                .unwrap_or_default(),
        };
        self.runtime.shutdown_background();
        p
    }
}
