//! mosquitto's C clients (Debian's `mosquitto-clients`): the C reference for
//! throughput, W1, W2, W3 and W6 only.
//!
//! `p.subscribers` × `mosquitto_sub -h 127.0.0.1 -p PORT -t bench/t -q QOS
//! -C N` and one `mosquitto_pub -h 127.0.0.1 -p PORT -t bench/t -q QOS -M
//! 100 -l` fed `p.n` lines on its standard input. `mosquitto_pub -l` sends a
//! line without its newline (an empty line is an empty message), so every
//! line is `p.payload` bytes of payload followed by `\n`; a subscriber prints
//! each payload followed by `\n`, and a line of another length counts as a
//! wrong message.
//!
//! In-flight window: `mosquitto_pub` 2.0 has `-M max_inflight` (default
//! 20); it is given [`INFLIGHT`] like every other client. `mosquitto_sub` has
//! no publishing window to set.
//!
//! Subscribed before publishing: each `mosquitto_sub` also subscribes to a
//! topic of its own run, `bench/ready/PID`, that holds a retained message.
//! The broker sends a retained message only after handling the subscription,
//! and handles a client's packets in order, so when a subscriber prints that
//! message its `bench/t` subscription is in place (the `-C` count includes
//! it). The retained message is cleared at the end. No `-d` (debug output
//! would cost the subscribers CPU per message).
//!
//! The window runs from the start of `mosquitto_pub` to the exit of the last
//! subscriber (end of its standard output). CPU and peak RSS are those of the
//! waited-for child processes (`measure::children_usage`, user + system of
//! the publisher and the subscribers; RSS is the largest of them). This
//! process only feeds and reads pipes, so its own context switches and
//! allocations say nothing about the C clients: `switches`, `allocations`
//! and `allocated_bytes` are reported as 0 (not measured).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::measure::children_usage;
use crate::outcome::Outcome;
use crate::probe::{Window, payload};
use crate::workload::{INFLIGHT, Params, TOPIC, Workload};

/// A subscriber gives up after this long without a message; every other
/// wait is bounded by it too.
const SILENCE: Duration = Duration::from_secs(10);
/// How often the waiting loop looks at progress.
const TICK: Duration = Duration::from_millis(50);

/// Runs workload `w` with `mosquitto_pub` and `mosquitto_sub`.
pub(crate) fn run(w: Workload, p: &Params, port: u16) -> Result<Outcome, String> {
    match w {
        Workload::W1 | Workload::W2 | Workload::W3 | Workload::W6 => {}
        _ => {
            return Err(format!(
                "{w:?}: mosquitto's C clients run W1, W2, W3 and W6 only"
            ));
        }
    }
    let ready_topic = format!("bench/ready/{}", std::process::id());
    retain(port, &ready_topic, Some("r"))?;
    let result = throughput(p, port, &ready_topic);
    // Clears the retained message (nobody is subscribed to it any more).
    let cleared = retain(port, &ready_topic, None);
    let outcome = result?;
    cleared?;
    Ok(outcome)
}

/// A child process of this run: killed (by its own handle) and waited for
/// if it is dropped still running.
struct Proc {
    name: String,
    child: Child,
    waited: bool,
}

impl Proc {
    fn spawn(name: String, cmd: &mut Command) -> Result<Proc, String> {
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name} (apt-get install mosquitto-clients): {e}"))?;
        Ok(Proc {
            name,
            child,
            waited: false,
        })
    }

    /// Waits until `deadline` for the exit; kills it past the deadline.
    /// Returns whether it exited by itself with success.
    fn wait_until(&mut self, deadline: Instant) -> Result<bool, String> {
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.waited = true;
                    return Ok(status.success());
                }
                Ok(None) if Instant::now() >= deadline => {
                    self.kill();
                    return Err(format!("{} did not exit in time, killed", self.name));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(e) => return Err(format!("{}: {e}", self.name)),
            }
        }
    }

    fn kill(&mut self) {
        if !self.waited {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.waited = true;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads a child's standard error in the background (it stays small).
fn collect_stderr(child: &mut Child) -> Option<JoinHandle<String>> {
    let mut err = child.stderr.take()?;
    Some(std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    }))
}

fn stderr_text(h: Option<JoinHandle<String>>) -> String {
    h.and_then(|h| h.join().ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "no message".to_owned())
}

/// Publishes a retained message `m` (or clears it with `None`), QoS 1.
fn retain(port: u16, topic: &str, m: Option<&str>) -> Result<(), String> {
    let mut cmd = Command::new("mosquitto_pub");
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1", "-r"])
        .args(["-t", topic])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    match m {
        Some(m) => cmd.args(["-m", m]),
        None => cmd.arg("-n"),
    };
    let mut p = Proc::spawn("mosquitto_pub (retained)".into(), &mut cmd)?;
    let err = collect_stderr(&mut p.child);
    if p.wait_until(Instant::now() + SILENCE)? {
        Ok(())
    } else {
        Err(format!(
            "mosquitto_pub -r -t {topic} failed: {}",
            stderr_text(err)
        ))
    }
}

/// What a subscriber's reader thread reports.
enum Report {
    /// Printed the retained message: subscribed.
    Ready,
    /// Standard output ended (the subscriber exited): messages of the right
    /// size, of another, when.
    Done(usize, u64, u64, Instant),
}

/// Reads subscriber `i`'s output: the retained message, then one line per
/// message.
fn read_sub(
    i: usize,
    out: ChildStdout,
    size: usize,
    progress: Arc<AtomicU64>,
    tx: mpsc::Sender<Report>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut r = BufReader::with_capacity(1 << 16, out);
        let mut line = Vec::with_capacity(size + 2);
        let (mut good, mut wrong) = (0u64, 0u64);
        let mut ready = false;
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            if !ready && line == b"r" {
                ready = true;
                let _ = tx.send(Report::Ready);
                continue;
            }
            if line.len() == size {
                good += 1;
            } else {
                wrong += 1;
            }
            progress.fetch_add(1, Ordering::Relaxed);
        }
        let _ = tx.send(Report::Done(i, good, wrong, Instant::now()));
    })
}

fn throughput(p: &Params, port: u16, ready_topic: &str) -> Result<Outcome, String> {
    if p.qos > 2 {
        return Err(format!("QoS {} does not exist", p.qos));
    }
    let port_s = port.to_string();
    let qos_s = p.qos.to_string();
    let per_sub = (p.n * p.clients) as u64;
    let count_s = (per_sub + 1).to_string(); // + the retained message
    let progress = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::channel();

    let mut subs = Vec::with_capacity(p.subscribers);
    let mut sub_errs = Vec::with_capacity(p.subscribers);
    let mut readers = Vec::with_capacity(p.subscribers);
    for i in 0..p.subscribers {
        let mut s = Proc::spawn(
            format!("mosquitto_sub {i}"),
            Command::new("mosquitto_sub")
                .args(["-h", "127.0.0.1", "-p", &port_s, "-q", &qos_s])
                .args(["-t", TOPIC, "-t", ready_topic, "-C", &count_s])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )?;
        let out = s
            .child
            .stdout
            .take()
            .ok_or("mosquitto_sub: no standard output")?;
        sub_errs.push(collect_stderr(&mut s.child));
        readers.push(read_sub(i, out, p.payload, progress.clone(), tx.clone()));
        subs.push(s);
    }
    drop(tx);

    // Every subscriber subscribed.
    let mut done: Vec<Option<(u64, u64, Instant)>> = vec![None; p.subscribers];
    let mut ready = 0;
    let deadline = Instant::now() + SILENCE;
    while ready < p.subscribers {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Report::Ready) => ready += 1,
            Ok(Report::Done(i, ..)) => {
                let err = stderr_text(sub_errs.get_mut(i).and_then(Option::take));
                return Err(format!(
                    "mosquitto_sub {i} exited before subscribing: {err}"
                ));
            }
            Err(_) => {
                return Err(format!(
                    "{ready} of {} mosquitto_sub subscribed within {SILENCE:?}",
                    p.subscribers
                ));
            }
        }
    }

    let mut line = payload(p.payload);
    line.push(b'\n');
    let input = line.repeat(p.n);
    drop(line);

    let (cpu_before, _, switches_before) = children_usage();
    let window = Window::start();
    let mut publisher = Proc::spawn(
        "mosquitto_pub".into(),
        Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port_s, "-q", &qos_s])
            .args(["-M", &INFLIGHT.to_string(), "-t", TOPIC, "-l"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    )?;
    let pub_err = collect_stderr(&mut publisher.child);
    let mut stdin = publisher
        .child
        .stdin
        .take()
        .ok_or("mosquitto_pub: no standard input")?;
    let writer = std::thread::spawn(move || stdin.write_all(&input).map_err(|e| e.to_string()));

    // Until every subscriber has exited, or SILENCE without a message.
    let mut finished = 0;
    let mut seen = 0;
    let mut last_progress = Instant::now();
    let mut silent = false;
    while finished < p.subscribers {
        match rx.recv_timeout(TICK) {
            Ok(Report::Done(i, good, wrong, at)) => {
                if let Some(slot) = done.get_mut(i) {
                    *slot = Some((good, wrong, at));
                }
                finished += 1;
            }
            Ok(Report::Ready) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let now_seen = progress.load(Ordering::Relaxed);
        if now_seen != seen {
            seen = now_seen;
            last_progress = Instant::now();
        } else if last_progress.elapsed() >= SILENCE && !silent {
            // Nothing for SILENCE: stops the clients; the readers then see
            // the end of their output and report what they counted.
            silent = true;
            for s in &mut subs {
                s.kill();
            }
            publisher.kill();
        } else if silent && last_progress.elapsed() >= 2 * SILENCE {
            return Err("the subscribers' readers did not finish".into());
        }
    }
    let end = done
        .iter()
        .flatten()
        .map(|&(_, _, at)| at)
        .max()
        .unwrap_or_else(Instant::now);

    // Every child waited for, so that its resources count.
    let deadline = Instant::now() + SILENCE;
    let pub_ok = publisher.wait_until(deadline);
    let mut sub_failures = Vec::new();
    for (i, s) in subs.iter_mut().enumerate() {
        match s.wait_until(deadline) {
            Ok(true) => {}
            Ok(false) if silent => {}
            Ok(false) => sub_failures.push(format!(
                "mosquitto_sub {i} failed: {}",
                stderr_text(sub_errs.get_mut(i).and_then(Option::take))
            )),
            Err(e) => sub_failures.push(e),
        }
    }
    let (cpu_after, peak_rss, switches_after) = children_usage();
    let written = writer
        .join()
        .map_err(|_| "the stdin writer panicked".to_owned())?;
    for r in readers {
        let _ = r.join();
    }

    let received: u64 = done.iter().flatten().map(|&(good, _, _)| good).sum();
    let wrong: u64 = done.iter().flatten().map(|&(_, wrong, _)| wrong).sum();
    let mut outcome = window.finish_at(end, received, p.deliveries());
    outcome.cpu_us = cpu_after.saturating_sub(cpu_before).as_micros() as u64;
    outcome.peak_rss_kib = peak_rss;
    outcome.switches = switches_after.saturating_sub(switches_before);
    // The C clients' heap is not observable from here.
    outcome.allocations = 0;
    outcome.allocated_bytes = 0;
    outcome.heap_unmeasured = true;
    outcome.peak_heap_kib = 0;

    if !silent {
        match pub_ok {
            Ok(true) => {}
            Ok(false) => {
                return Err(format!("mosquitto_pub failed: {}", stderr_text(pub_err)));
            }
            Err(e) => return Err(e),
        }
        if let Err(e) = written {
            return Err(format!("feeding mosquitto_pub: {e}"));
        }
    }
    if let Some(e) = sub_failures.first() {
        return Err(e.clone());
    }
    if wrong > 0 {
        return Err(format!(
            "{wrong} message(s) received with a payload size other than {} B",
            p.payload
        ));
    }
    Ok(outcome)
}
