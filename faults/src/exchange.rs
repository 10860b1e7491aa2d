//! One run of numbered messages from a publisher process to a subscriber
//! process (the same [`Peer`] on both ends), while faults happen, and the
//! tally of what arrived: lost, duplicated, out of order.
//!
//! The subscriber starts first on its persistent session and is ready when
//! it prints the retained message `ready` (published beforehand straight
//! to the broker). The publisher is then fed the lines `1` to `N` (at a
//! given rate, or as fast as it reads them) and its standard input closed;
//! the faults run until the publisher exits (every message handed over and
//! acknowledged) or the deadline, then stop, and the subscriber gets
//! `settle` without a new message before it is stopped and counted.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::peer::{Args, Bins, Peer};

/// What a run does to the link or the broker while messages flow.
pub trait Faults {
    /// Called about every 20 ms while the publisher runs; `elapsed` since
    /// the publisher started.
    fn tick(&mut self, elapsed: Duration);
    /// The publisher has exited or the deadline passed: no more faults.
    fn calm(&mut self);
    /// The port the clients connect to (a proxy, or the broker).
    fn port(&self) -> u16;
    /// The broker's own port, for the harness's `ready` message.
    fn broker_port(&self) -> u16;
}

/// The parameters of a run.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The client on both ends.
    pub peer: Peer,
    /// 1 or 2.
    pub qos: u8,
    /// Messages published: `1..=messages`.
    pub messages: u32,
    /// Lines fed per second (`None`: as fast as the publisher reads).
    pub rate: Option<u32>,
    /// Keep-alive of both clients, seconds.
    pub keep_alive: u16,
    /// Quiet time after the publisher ended before the count.
    pub settle: Duration,
    /// The whole run's bound.
    pub deadline: Duration,
    /// Names the run's client identifiers, topic and log files.
    pub tag: String,
}

/// What arrived.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Messages published (`1..=sent`).
    pub sent: u32,
    /// Lines of messages the subscriber printed.
    pub received: u64,
    /// Distinct messages among them.
    pub distinct: u32,
    /// Messages that never arrived.
    pub lost: u32,
    /// Copies beyond the first.
    pub duplicated: u64,
    /// First copies that arrived after a later message's first copy.
    pub reordered: u32,
    /// The publisher exited by itself, with status 0, within the deadline.
    pub publisher_finished: bool,
    /// From the publisher's start to its exit (or the deadline).
    pub publish_time: Duration,
    /// The longest wait for the subscriber's next new message while the
    /// publisher ran.
    pub longest_gap: Duration,
    /// Peak resident memory of the publisher / subscriber process, KiB.
    pub peak_rss_kib: (u64, u64),
    /// Resident memory a second after each started / at the end, KiB
    /// (publisher, subscriber): memory that stays flat over a run.
    pub rss_start_end_kib: ((u64, u64), (u64, u64)),
    /// The broker's QoS 2 violations towards the subscriber, from its log
    /// (filled by the run that owns the broker).
    pub broker: crate::broker_log::Qos2Violations,
}

impl Tally {
    /// Nothing lost, nothing out of order, and (QoS 2) nothing twice but
    /// the PUBLISHes the broker sent again after their PUBREL (none from a
    /// broker that keeps the protocol).
    pub fn holds(&self, qos: u8) -> bool {
        self.publisher_finished
            && self.lost == 0
            && self.reordered == 0
            && (qos == 1 || self.duplicated <= self.broker.republished)
    }
}

/// A process the run started, killed (by its own PID) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Resident memory of process `pid` in KiB (0 when unknown).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A directory for the run's logs: `$TMPDIR/sansmqtt-faults/<tag>`.
pub fn log_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join("sansmqtt-faults").join(tag);
    let _ = std::fs::create_dir_all(&d);
    d
}

/// Publishes the retained message `ready` on `topic`, QoS 1, straight to
/// the broker on `port`.
pub fn publish_ready(port: u16, topic: &str) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let c = sansmqtt_tokio::connect(
            &format!("mqtt://127.0.0.1:{port}"),
            sansmqtt_tokio::Config::default(),
        )
        .await
        .map_err(|e| format!("ready: connect: {e}"))?;
        c.publish(topic, "ready", sansmqtt_tokio::QoS::AtLeastOnce, true)
            .await
            .map_err(|e| format!("ready: publish: {e}"))?;
        c.disconnect().await;
        Ok(())
    })
}

impl Exchange {
    /// Runs the exchange with `faults`.
    pub fn run(&self, bins: &Bins, faults: &mut dyn Faults) -> Result<Tally, String> {
        let topic = format!("faults/{}", self.tag);
        let logs = log_dir(&self.tag);
        let args = |role: &str| Args {
            port: faults.port(),
            qos: self.qos,
            id: format!("{}-{}", self.tag, role),
            topic: topic.clone(),
            keep_alive: self.keep_alive,
        };
        publish_ready(faults.broker_port(), &topic)?;
        let started = Instant::now();
        let end = started + self.deadline;

        let sub_err = File::create(logs.join("sub.stderr")).map_err(|e| e.to_string())?;
        let mut sub = Proc(
            self.peer
                .subscriber(bins, &args("sub"))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(sub_err)
                .spawn()
                .map_err(|e| format!("{} sub: {e}", self.peer.name()))?,
        );
        let out = sub.0.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel::<(Instant, String)>();
        // The subscriber's output is also kept in the run's logs.
        let mut copy = std::io::BufWriter::new(
            File::create(logs.join("sub.stdout")).map_err(|e| e.to_string())?,
        );
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(copy, "{line}");
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
            let _ = copy.flush();
        });
        // Ready: the retained message arrived, so the subscription is in
        // place (and the session with it).
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok((_, l)) if l == "ready" => break,
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if Instant::now() > started + Duration::from_secs(30) {
                        return Err(format!("{} sub never got ready", self.peer.name()));
                    }
                    if let Ok(Some(s)) = sub.0.try_wait() {
                        return Err(format!("{} sub exited: {s}", self.peer.name()));
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(format!("{} sub closed its output", self.peer.name()));
                }
            }
        }

        let pub_err = File::create(logs.join("pub.stderr")).map_err(|e| e.to_string())?;
        let pub_out = File::create(logs.join("pub.stdout")).map_err(|e| e.to_string())?;
        let mut publisher = Proc(
            self.peer
                .publisher(bins, &args("pub"))
                .stdin(Stdio::piped())
                .stdout(pub_out)
                .stderr(pub_err)
                .spawn()
                .map_err(|e| format!("{} pub: {e}", self.peer.name()))?,
        );
        let mut stdin = publisher.0.stdin.take().ok_or("no stdin")?;
        let (messages, rate) = (self.messages, self.rate);
        let feeder = std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut next = 1u32;
            let mut line = String::new();
            while next <= messages {
                let due = match rate {
                    None => messages,
                    Some(r) => {
                        let d = (t0.elapsed().as_secs_f64() * f64::from(r)) as u32 + 1;
                        d.min(messages)
                    }
                };
                line.clear();
                while next <= due && line.len() < 64 * 1024 {
                    line.push_str(&next.to_string());
                    line.push('\n');
                    next += 1;
                }
                if !line.is_empty() && stdin.write_all(line.as_bytes()).is_err() {
                    return;
                }
                if rate.is_some() && next > due {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            // Dropping stdin closes it: the publisher finishes and exits.
        });

        let pub_started = Instant::now();
        let mut tally = Tally {
            sent: self.messages,
            ..Tally::default()
        };
        let mut counter = Counter {
            count: vec![0u32; self.messages as usize + 1],
            highest: 0,
            last_new: Instant::now(),
        };
        let mut rss = Rss::default();
        // The faults, while the publisher runs.
        let status = loop {
            let now = Instant::now();
            faults.tick(now - pub_started);
            rss.sample(&publisher.0, &sub.0, pub_started);
            while let Ok(m) = rx.try_recv() {
                counter.take(m, &mut tally, true);
            }
            if let Ok(Some(s)) = publisher.0.try_wait() {
                break Some(s);
            }
            if now > end {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        tally.publish_time = pub_started.elapsed();
        tally.publisher_finished = status.is_some_and(|s| s.success());
        faults.calm();
        drop(feeder);
        // The rest arrives, or `settle` passes without a new message.
        let mut quiet_since = Instant::now();
        loop {
            let got = counter.count.iter().skip(1).filter(|&&c| c > 0).count() as u32;
            if got == self.messages || quiet_since.elapsed() > self.settle || Instant::now() > end {
                break;
            }
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(m) => {
                    // Only messages end the quiet (not `-d` lines).
                    if counter.take(m, &mut tally, false) {
                        quiet_since = Instant::now();
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            rss.sample(&publisher.0, &sub.0, pub_started);
        }
        // Late duplicates: a moment more.
        std::thread::sleep(Duration::from_millis(200));
        while let Ok(m) = rx.try_recv() {
            counter.take(m, &mut tally, false);
        }
        rss.sample(&publisher.0, &sub.0, pub_started);
        tally.distinct = counter.count.iter().skip(1).filter(|&&c| c > 0).count() as u32;
        tally.lost = self.messages - tally.distinct;
        tally.duplicated = tally.received - u64::from(tally.distinct);
        // Which ones, for the post-mortem: `n copies` per line.
        let odd: String = counter
            .count
            .iter()
            .enumerate()
            .skip(1)
            .filter(|&(_, &c)| c != 1)
            .map(|(n, c)| format!("{n} {c}\n"))
            .collect();
        let _ = std::fs::write(logs.join("not-once.txt"), odd);
        tally.peak_rss_kib = rss.peak;
        tally.rss_start_end_kib = (rss.start, rss.last);
        Ok(tally)
    }
}

/// How many copies of each message arrived.
struct Counter {
    count: Vec<u32>,
    highest: u32,
    last_new: Instant,
}

impl Counter {
    /// Counts one line of the subscriber's; `during`: while the publisher
    /// runs (the gaps are measured then).
    /// Returns whether the line was one of the messages.
    fn take(&mut self, (at, line): (Instant, String), tally: &mut Tally, during: bool) -> bool {
        let Ok(n) = line.trim().parse::<u32>() else {
            return false;
        };
        if n == 0 || n > tally.sent {
            return false;
        }
        tally.received += 1;
        let c = &mut self.count[n as usize];
        *c += 1;
        if *c == 1 {
            if n < self.highest {
                tally.reordered += 1;
            }
            self.highest = self.highest.max(n);
            if during {
                tally.longest_gap = tally.longest_gap.max(at - self.last_new);
            }
            self.last_new = at;
        }
        true
    }
}

/// Resident memory of the two processes, sampled.
#[derive(Default)]
struct Rss {
    peak: (u64, u64),
    start: (u64, u64),
    last: (u64, u64),
}

impl Rss {
    fn sample(&mut self, publisher: &Child, sub: &Child, since: Instant) {
        let p = rss_kib(publisher.id());
        let s = rss_kib(sub.id());
        if p > 0 {
            self.peak.0 = self.peak.0.max(p);
            self.last.0 = p;
        }
        if s > 0 {
            self.peak.1 = self.peak.1.max(s);
            self.last.1 = s;
        }
        if since.elapsed() < Duration::from_secs(1) {
            self.start = self.last;
        }
    }
}
