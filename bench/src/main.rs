//! # sansmqtt-bench
//!
//! sansmqtt (on tokio, async-std and smol) and its peers (rumqttc, paho,
//! mosquitto's C clients) on the same mosquitto, in one run, workloads W1-W7
//! of issue #7 (and W5b, W5 in a burst, of issue #15), under both broker
//! regimes of issue #15, reported as median and min-max with ratios to
//! rumqttc.
//!
//! ```text
//! cargo run --release -p sansmqtt-bench -- --all          # everything, 3 runs each, both regimes
//! cargo run --release -p sansmqtt-bench -- --quick        # only checks every workload runs
//! cargo run --release -p sansmqtt-bench -- --only w1,w4 --peers sansmqtt-tokio,rumqttc --runs 5
//! cargo run --release -p sansmqtt-bench -- --only w4 --awake  # vCPUs kept awake (see below)
//! cargo run --release -p sansmqtt-bench -- --only w2 --broker-nodelay on --perf
//! ```
//!
//! `--broker-nodelay on|off|both` (default `both`) chooses the broker
//! regimes: `on` is mosquitto with `set_tcp_nodelay true` (every packet in
//! its own segment, so a client that keeps up reads one packet per wake-up:
//! what EMQX, HiveMQ and VerneMQ do), `off` is mosquitto's default (Nagle:
//! its small writes coalesce, a client reads several packets at once). With
//! `both`, one mosquitto per regime runs for the whole benchmark and every
//! workload runs under each (A B C under one, then A B C under the other,
//! per round). Every figure is per (workload, regime); ratios to rumqttc
//! only compare runs of the same regime.
//!
//! `--perf` runs each child (but mosquitto's C clients) under `perf stat`
//! and adds system calls, futex calls and perf's context switches per
//! message over the measured interval (see `perf.rs`); when perf is missing
//! or may not count these events, a note says so and the figures are left
//! out.
//!
//! `--awake` runs a spinning process at the lowest priority (`nice -n 19`)
//! for the whole run, so that no vCPU goes idle: on a virtual machine,
//! waking an idle vCPU costs tens of microseconds, which is most of a W4
//! round trip. The clients and the broker still run at normal priority.
//!
//! Every run of a client is its own child process (this binary with
//! `child PEER WORKLOAD PORT`), so that its CPU time, context switches,
//! peak memory and heap traffic are its own; the parent measures the
//! broker's CPU around it. Runs alternate between clients (A B C A B C).
//! The report goes to stdout (a Markdown table) and to `--out DIR`
//! (default `target/bench-report`): `results.json`, `results.csv`, and a
//! chart `results.png`.

mod alloc;
mod broker;
mod chart;
mod measure;
mod mosq_c;
mod outcome;
#[cfg(feature = "paho")]
mod paho;
mod peers;
mod perf;
mod probe;
mod report;
mod rumq;
mod sans;
mod workload;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use broker::{Broker, Regime};
use outcome::Outcome;
use peers::Peer;
use workload::Workload;

/// One run's result, or why it failed.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Run {
    pub(crate) workload: Workload,
    /// The broker regime it ran under.
    pub(crate) regime: Regime,
    pub(crate) peer: &'static str,
    pub(crate) run: usize,
    pub(crate) outcome: Result<Outcome, String>,
}

struct Args {
    workloads: Vec<Workload>,
    peers: Vec<Peer>,
    runs: usize,
    quick: bool,
    out: PathBuf,
    timeout: Duration,
    awake: bool,
    regimes: Vec<Regime>,
    perf: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: sansmqtt-bench [--all] [--quick] [--only w1,w2,...] [--peers a,b,...] [--runs N] [--out DIR] [--timeout SECS] [--awake] [--broker-nodelay on|off|both] [--perf]\n\
         workloads: {}\n\
         peers: {}\n\
         --broker-nodelay: on = mosquitto with TCP_NODELAY (one packet per client read), off = its default (small writes coalesce), both (default)",
        Workload::ALL.map(Workload::name).join(", "),
        Peer::ALL.map(Peer::name).join(", ")
    );
    std::process::exit(2)
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Args {
    let mut a = Args {
        workloads: Workload::ALL.to_vec(),
        peers: Peer::ALL.to_vec(),
        runs: 3,
        quick: false,
        out: PathBuf::from("target/bench-report"),
        timeout: Duration::from_secs(600),
        awake: false,
        regimes: Regime::ALL.to_vec(),
        perf: false,
    };
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--all" => {}
            "--quick" => a.quick = true,
            "--only" => {
                a.workloads = value()
                    .split(',')
                    .map(|w| Workload::parse(w).unwrap_or_else(|| usage()))
                    .collect()
            }
            "--peers" => {
                a.peers = value()
                    .split(',')
                    .map(|p| Peer::parse(p).unwrap_or_else(|| usage()))
                    .collect()
            }
            "--runs" => a.runs = value().parse().unwrap_or_else(|_| usage()),
            "--out" => a.out = PathBuf::from(value()),
            "--timeout" => {
                a.timeout = Duration::from_secs(value().parse().unwrap_or_else(|_| usage()))
            }
            "--awake" => a.awake = true,
            "--broker-nodelay" => {
                a.regimes = Regime::parse_option(&value()).unwrap_or_else(|| usage())
            }
            "--perf" => a.perf = true,
            "--bench" => {} // passed by `cargo bench`
            _ => usage(),
        }
    }
    if a.quick {
        a.runs = 1;
    }
    a
}

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("child") {
        args.next();
        std::process::exit(child(args.collect()));
    }
    if args.peek().map(String::as_str) == Some("spin") {
        // `--awake`: keep a vCPU busy, at the lowest priority, until killed
        // or until the benchmark that started it is gone.
        let parent = std::os::unix::process::parent_id();
        while std::os::unix::process::parent_id() == parent {
            for _ in 0..1_000_000 {
                std::hint::spin_loop();
            }
        }
        std::process::exit(0);
    }
    let mut args = parse_args(args);
    // One mosquitto per regime, for the whole run; stopped (by PID) when
    // dropped, at the end of `main` or before an exit below.
    let mut brokers = Vec::with_capacity(args.regimes.len());
    for &regime in &args.regimes {
        match Broker::start(regime) {
            Ok(b) => brokers.push(b),
            Err(e) => {
                eprintln!("{e}");
                drop(brokers);
                std::process::exit(1)
            }
        }
    }
    for broker in &brokers {
        println!(
            "broker regime {}: mosquitto pid {} on 127.0.0.1:{}, settings:\n{}",
            broker.regime.name(),
            broker.pid(),
            broker.port,
            indent(&broker.settings)
        );
    }
    if args.perf {
        match perf::available() {
            Ok(()) => println!(
                "--perf: every child but mosquitto-c under perf stat, counting over its measured interval"
            ),
            Err(e) => {
                println!("--perf: {e}; going on without the perf figures");
                args.perf = false;
            }
        }
    }
    println!(
        "in-flight window {} for every client with QoS 1/2; {} run(s) per client, alternating; {}",
        workload::INFLIGHT,
        args.runs,
        if args.quick {
            "QUICK mode: only checks that everything runs, figures mean nothing"
        } else {
            "full sizes"
        }
    );
    // Killed (by its PID) once the runs are done.
    let spinner = if args.awake {
        match Spinner::start() {
            Ok(s) => {
                println!("--awake: spinning process pid {} at nice 19", s.0.id());
                Some(s)
            }
            Err(e) => {
                eprintln!("--awake: cannot start the spinning process: {e}");
                drop(brokers);
                std::process::exit(1)
            }
        }
    } else {
        None
    };
    let mut runs = Vec::new();
    for &w in &args.workloads {
        let p = w.params(args.quick);
        println!("\n{}", w.title(&p));
        for run in 1..=args.runs {
            for broker in &brokers {
                let regime = broker.regime.name();
                for &peer in &args.peers {
                    if !peer.supports(w) {
                        continue;
                    }
                    let perf = args.perf && peer != Peer::MosquittoC;
                    let outcome = run_child(peer, w, broker, args.quick, args.timeout, perf);
                    match &outcome {
                        Ok(o) => println!(
                            "  {} [{regime}] run {run}: {}",
                            peer.name(),
                            report::one_line(w, o)
                        ),
                        Err(e) => println!("  {} [{regime}] run {run}: FAILED: {e}", peer.name()),
                    }
                    runs.push(Run {
                        workload: w,
                        regime: broker.regime,
                        peer: peer.name(),
                        run,
                        outcome,
                    });
                }
            }
        }
    }
    // Before anything below can exit the process.
    drop(spinner);
    drop(brokers);
    let summary = report::summarize(&runs, &args.workloads, &args.regimes, args.quick);
    println!("\n{}", report::markdown(&summary, &args.regimes));
    if let Err(e) = std::fs::create_dir_all(&args.out)
        .map_err(|e| e.to_string())
        .and_then(|()| report::write_files(&args.out, &runs, &summary))
        .and_then(|()| chart::render(&args.out.join("results.png"), &summary))
    {
        eprintln!("cannot write the report to {}: {e}", args.out.display());
        std::process::exit(1);
    }
    println!("report: {}/results.{{json,csv,png}}", args.out.display());
    let failed = runs.iter().filter(|r| r.outcome.is_err()).count();
    if failed > 0 {
        eprintln!("{failed} run(s) failed (shown in the table)");
        // `--quick` is the check that everything runs: a failure fails it.
        // A full run keeps its figures; a client failing a workload is one.
        if args.quick {
            std::process::exit(1);
        }
    }
}

/// The `--awake` process: this binary's `spin`, under `nice -n 19`.
struct Spinner(std::process::Child);

impl Spinner {
    fn start() -> std::io::Result<Self> {
        let exe = std::env::current_exe()?;
        Command::new("nice")
            .arg("-n")
            .arg("19")
            .arg(exe)
            .arg("spin")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(Spinner)
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        // `nice` execs the binary: the PID is the spinning process's own.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}\n")).collect()
}

/// Runs one client on one workload in a child process; adds the broker's
/// CPU over the child's life, and with `perf` what `perf stat` counted over
/// its measured interval.
fn run_child(
    peer: Peer,
    w: Workload,
    broker: &Broker,
    quick: bool,
    timeout: Duration,
    perf: bool,
) -> Result<Outcome, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let session = if perf {
        Some(perf::Session::new()?)
    } else {
        None
    };
    let broker_before = measure::process_cpu(broker.pid());
    let mut cmd = match &session {
        Some(s) => s.command(exe),
        None => Command::new(exe),
    };
    cmd.arg("child")
        .arg(peer.name())
        .arg(w.name())
        .arg(broker.port.to_string());
    if quick {
        cmd.arg("--quick");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the child: {e}"))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                // The child's own children first (under `--perf` the child
                // is `perf`, and the benchmark runs in its child; the C
                // clients run in processes of their own), by their PIDs.
                for pid in measure::descendants(child.id()) {
                    measure::kill(pid);
                }
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no result within {timeout:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    };
    let broker_cpu = measure::process_cpu(broker.pid()).saturating_sub(broker_before);
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    let line = out.lines().find_map(|l| l.strip_prefix("RESULT "));
    match (status.success(), line) {
        (true, Some(json)) => {
            let mut o: Outcome =
                serde_json::from_str(json).map_err(|e| format!("bad result {json}: {e}"))?;
            o.broker_cpu_us = broker_cpu.as_micros() as u64;
            if let Some(c) = session.as_ref().and_then(perf::Session::counts) {
                o.syscalls = Some(c.syscalls);
                o.futex_calls = Some(c.futex);
                o.perf_switches = Some(c.switches);
            }
            Ok(o)
        }
        _ => Err(format!(
            "child exited with {status}: {}",
            err.lines()
                // Not perf's own notes when the child switches counting.
                .rfind(|l| !l.starts_with("Events "))
                .unwrap_or("no output")
        )),
    }
}

/// `child PEER WORKLOAD PORT [--quick]`: runs one workload with one client
/// and prints `RESULT {json}`.
fn child(args: Vec<String>) -> i32 {
    let (Some(peer), Some(w), Some(port)) = (
        args.first().and_then(|p| Peer::parse(p)),
        args.get(1).and_then(|w| Workload::parse(w)),
        args.get(2).and_then(|p| p.parse::<u16>().ok()),
    ) else {
        eprintln!("usage: sansmqtt-bench child PEER WORKLOAD PORT [--quick]");
        return 2;
    };
    let quick = args.iter().any(|a| a == "--quick");
    let p = w.params(quick);
    let result = peer.run(w, &p, port);
    match result {
        Ok(o) => match serde_json::to_string(&o) {
            Ok(json) => {
                println!("RESULT {json}");
                0
            }
            Err(e) => {
                eprintln!("{e}");
                1
            }
        },
        Err(e) => {
            eprintln!("{} {}: {e}", peer.name(), w.name());
            1
        }
    }
}
