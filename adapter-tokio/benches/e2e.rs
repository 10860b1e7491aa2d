//! End-to-end benchmark: sansmqtt (tokio adapter) against rumqttc 0.25.1
//! (tokio), through one mosquitto started by this benchmark, in one run.
//!
//! - W1: 200,000 QoS 0 messages of 64 bytes on `bench/t`, one publisher and
//!   one subscriber client in this process.
//! - W2: 50,000 QoS 1 messages of 64 bytes, same shape, in-flight window 100
//!   for both clients (`Config::max_inflight`, `MqttOptions::set_inflight`).
//!
//! Each figure runs from the first publish to the last receipt; the loss is
//! the count not received after 10 s of silence. Client CPU is this
//! process's user + system time (`getrusage(RUSAGE_SELF)`, every thread)
//! over the same interval, divided by the messages: mosquitto is another
//! process and is not counted there; its own CPU time (`/proc/PID/stat`,
//! 10 ms ticks) is printed beside it, with the client's context switches.
//! Every sample uses fresh clients on a fresh multi-thread tokio runtime (one
//! worker per core), everything running in its tasks (the publisher too);
//! the clients alternate (A B A B). sansmqtt publishes through
//! `Client::publish`, keeping up to 1,024 QoS 0 (200 QoS 1) publishes pending
//! from as many tasks, each publishing in turn; rumqttc awaits `AsyncClient::publish` in turn
//! (it resolves once the request is in its channel) while a task polls its
//! `EventLoop`; both subscribers are subscribed (SUBACK) before the first
//! publish.
//!
//! `cargo bench -p sansmqtt-tokio --bench e2e` (`-- --quick`: 2,000 messages,
//! one run each, only checks that it works). Options: `--runs N`,
//! `--only w1|w2`, `--client sansmqtt|rumqttc` (to profile one side),
//! `--window N` (sansmqtt QoS 0 publishes pending; 1 awaits each in turn).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

const TOPIC: &str = "bench/t";
static PAYLOAD: [u8; 64] = [0x5a; 64];
/// In-flight window of QoS 1 publishes, the same for both clients.
const INFLIGHT: u16 = 100;
/// sansmqtt: publishes kept pending at once by the publishing task (QoS 0
/// publishes resolve once the driver queued them for the socket);
/// `--window N` changes it (1: one publish awaited after the other).
static WINDOW_QOS0: AtomicUsize = AtomicUsize::new(1024);
/// sansmqtt QoS 1: publishes kept pending (100 on the wire, the rest queued
/// in the session, well under its `max_queued`).
const WINDOW_QOS1: usize = 2 * INFLIGHT as usize;
/// rumqttc's request channel capacity (its default).
const RUMQTTC_CAP: usize = 10;
/// A run ends after this long without a message.
const SILENCE: Duration = Duration::from_secs(10);

/// The mosquitto started for this run; killed (only it) when dropped.
struct Broker {
    child: Child,
    port: u16,
    settings: String,
    dir: std::path::PathBuf,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_mosquitto() -> Broker {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let dir = std::env::temp_dir().join(format!("sansmqtt-e2e-{port}"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let conf = dir.join("mosquitto.conf");
    let settings = format!(
        "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
         max_queued_messages 0\nmax_inflight_messages 0\nmax_queued_bytes 0\n"
    );
    std::fs::write(&conf, &settings).expect("mosquitto.conf");
    let log = std::fs::File::create(dir.join("mosquitto.log")).expect("log");
    let child = Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("mosquitto (apt-get install mosquitto)");
    let broker = Broker {
        child,
        port,
        settings,
        dir,
    };
    for _ in 0..250 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return broker;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("mosquitto did not listen on port {port}");
}

/// User + system CPU time of this process (all threads), and its context
/// switches (voluntary + involuntary).
#[allow(unsafe_code)]
fn usage() -> (Duration, u64) {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is valid.
    let u = unsafe {
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr()), 0);
        u.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (
        tv(u.ru_utime) + tv(u.ru_stime),
        (u.ru_nvcsw + u.ru_nivcsw) as u64,
    )
}

/// User + system CPU time of the broker (`/proc/PID/stat`, clock ticks).
#[allow(unsafe_code)]
fn broker_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which ends with the last ')').
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the name.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_micros(ticks * 1_000_000 / hz)
}

/// Resources used by the client process and the broker from `start()`.
struct Meter {
    cpu: Duration,
    switches: u64,
    broker: Duration,
    broker_pid: u32,
}

impl Meter {
    fn start(broker_pid: u32) -> Self {
        let (cpu, switches) = usage();
        Self {
            cpu,
            switches,
            broker: broker_cpu(broker_pid),
            broker_pid,
        }
    }

    /// (client CPU, client context switches, broker CPU) since `start`.
    fn stop(&self) -> (Duration, u64, Duration) {
        let (cpu, switches) = usage();
        (
            cpu - self.cpu,
            switches - self.switches,
            broker_cpu(self.broker_pid).saturating_sub(self.broker),
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Client {
    Sansmqtt,
    Rumqttc,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Sansmqtt => "sansmqtt",
            Client::Rumqttc => "rumqttc",
        }
    }
}

/// One sample.
#[derive(Clone, Copy)]
struct Outcome {
    received: usize,
    /// First publish to last receipt.
    elapsed: Duration,
    cpu: Duration,
    /// Context switches of the client process.
    switches: u64,
    /// Broker CPU time over the same interval.
    broker: Duration,
}

/// What the receiving task reports.
struct Received {
    count: usize,
    last: Instant,
    wrong_size: usize,
}

fn sans_config(id: String) -> sansmqtt_tokio::Config {
    sansmqtt_tokio::Config {
        client_id: Some(id),
        max_inflight: INFLIGHT,
        keep_alive: Duration::from_secs(60),
        ..Default::default()
    }
}

async fn run_sansmqtt(port: u16, broker_pid: u32, n: usize, qos: u8, tag: String) -> Outcome {
    use sansmqtt_tokio::QoS;
    let qos = match qos {
        0 => QoS::AtMostOnce,
        _ => QoS::AtLeastOnce,
    };
    let uri = format!("mqtt://127.0.0.1:{port}");
    let subscriber = sansmqtt_tokio::connect(&uri, sans_config(format!("sans-sub-{tag}")))
        .await
        .expect("subscriber connects");
    // Resolves after SUBACK: subscribed before the first publish.
    let mut stream = subscriber
        .subscription(TOPIC, qos)
        .await
        .expect("subscription");
    let publisher = sansmqtt_tokio::connect(&uri, sans_config(format!("sans-pub-{tag}")))
        .await
        .expect("publisher connects");
    let start = Instant::now();
    let receiver = tokio::spawn(async move {
        let mut r = Received {
            count: 0,
            last: Instant::now(),
            wrong_size: 0,
        };
        while r.count < n {
            match tokio::time::timeout(SILENCE, stream.next()).await {
                Ok(Some(m)) => {
                    r.wrong_size += usize::from(m.payload().len() != PAYLOAD.len());
                    r.count += 1;
                    if r.count == n {
                        r.last = Instant::now();
                    }
                }
                _ => {
                    // Silence: the last message came about SILENCE ago.
                    r.last = Instant::now() - SILENCE;
                    break;
                }
            }
        }
        r
    });
    let meter = Meter::start(broker_pid);
    let t0 = Instant::now();
    let window = if qos == QoS::AtMostOnce {
        WINDOW_QOS0.load(Ordering::Relaxed)
    } else {
        WINDOW_QOS1
    };
    // `window` tasks publish in turn, so that `window` calls are pending at
    // once: no allocation per message on the benchmark's side either (a
    // `FuturesUnordered` would allocate a task per call).
    let topic = sansmqtt_tokio::TopicName::try_from(TOPIC).expect("topic");
    let workers: Vec<_> = (0..window.min(n))
        .map(|w| {
            let count = n / window.min(n) + usize::from(w < n % window.min(n));
            let publisher = publisher.clone();
            let topic = topic.clone();
            tokio::spawn(async move {
                let payload = sansmqtt_tokio::Bytes::from_static(&PAYLOAD);
                for _ in 0..count {
                    publisher
                        .publish(&topic, payload.clone(), qos, false)
                        .await
                        .expect("publish");
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("publisher task");
    }
    let r = receiver.await.expect("receiver task");
    let (cpu, switches, broker) = meter.stop();
    assert_eq!(r.wrong_size, 0, "payload sizes");
    let last = if r.count == 0 { start } else { r.last };
    publisher.disconnect().await;
    subscriber.disconnect().await;
    Outcome {
        received: r.count,
        elapsed: last.saturating_duration_since(t0),
        cpu,
        switches,
        broker,
    }
}

async fn run_rumqttc(port: u16, broker_pid: u32, n: usize, qos: u8, tag: String) -> Outcome {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let qos = match qos {
        0 => QoS::AtMostOnce,
        _ => QoS::AtLeastOnce,
    };
    let options = |id: String| {
        let mut o = MqttOptions::new(id, "127.0.0.1", port);
        o.set_inflight(INFLIGHT);
        o.set_keep_alive(Duration::from_secs(60));
        o
    };
    let (subscriber, mut sub_loop) =
        AsyncClient::new(options(format!("rumq-sub-{tag}")), RUMQTTC_CAP);
    subscriber.subscribe(TOPIC, qos).await.expect("subscribe");
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = sub_loop.poll().await.expect("subscriber") {
            break;
        }
    }
    let (publisher, mut pub_loop) =
        AsyncClient::new(options(format!("rumq-pub-{tag}")), RUMQTTC_CAP);
    loop {
        if let Event::Incoming(Packet::ConnAck(_)) = pub_loop.poll().await.expect("publisher") {
            break;
        }
    }
    let start = Instant::now();
    let receiver = tokio::spawn(async move {
        let mut r = Received {
            count: 0,
            last: Instant::now(),
            wrong_size: 0,
        };
        while r.count < n {
            match tokio::time::timeout(SILENCE, sub_loop.poll()).await {
                Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                    r.wrong_size += usize::from(p.payload.len() != PAYLOAD.len());
                    r.count += 1;
                    if r.count == n {
                        r.last = Instant::now();
                    }
                }
                Ok(Ok(_)) => {}
                Ok(Err(_)) => {
                    r.last = Instant::now();
                    break;
                }
                Err(_) => {
                    // Silence: the last message came about SILENCE ago.
                    r.last = Instant::now() - SILENCE;
                    break;
                }
            }
        }
        (r, sub_loop)
    });
    let pub_task = tokio::spawn(async move { while pub_loop.poll().await.is_ok() {} });
    let meter = Meter::start(broker_pid);
    let t0 = Instant::now();
    for _ in 0..n {
        publisher
            .publish(TOPIC, qos, false, PAYLOAD.to_vec())
            .await
            .expect("publish");
    }
    let (r, mut sub_loop) = receiver.await.expect("receiver task");
    let (cpu, switches, broker) = meter.stop();
    assert_eq!(r.wrong_size, 0, "payload sizes");
    let last = if r.count == 0 { start } else { r.last };
    let _ = publisher.disconnect().await;
    let _ = subscriber.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(1), pub_task).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while sub_loop.poll().await.is_ok() {}
    })
    .await;
    Outcome {
        received: r.count,
        elapsed: last.saturating_duration_since(t0),
        cpu,
        switches,
        broker,
    }
}

fn sample(client: Client, broker: &Broker, n: usize, qos: u8, tag: String) -> Outcome {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (port, pid) = (broker.port, broker.child.id());
    // Everything runs in tasks of the runtime (the publisher too), none on
    // the thread that waits for the result.
    let out = rt
        .block_on(async move {
            match client {
                Client::Sansmqtt => tokio::spawn(run_sansmqtt(port, pid, n, qos, tag)).await,
                Client::Rumqttc => tokio::spawn(run_rumqttc(port, pid, n, qos, tag)).await,
            }
        })
        .expect("benchmark task");
    rt.shutdown_timeout(Duration::from_secs(1));
    out
}

/// Median, min, max.
fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// One line of the table (medians, and min-max where given).
struct Row {
    workload: &'static str,
    qos: u8,
    n: usize,
    client: Client,
    rate: (f64, f64, f64),
    cpu: (f64, f64, f64),
    switches: f64,
    broker: f64,
    lost: usize,
    samples: usize,
}

struct Workload {
    name: &'static str,
    qos: u8,
    n: usize,
}

fn arg_value(args: &[String], key: &str) -> Option<String> {
    args.iter()
        .position(|a| a == key)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // A test runner listing targets (`--list`) finds no tests here.
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let runs: usize = arg_value(&args, "--runs")
        .map(|r| r.parse().expect("--runs N"))
        .unwrap_or(if quick { 1 } else { 3 });
    let only = arg_value(&args, "--only");
    if let Some(w) = arg_value(&args, "--window") {
        WINDOW_QOS0.store(w.parse().expect("--window N"), Ordering::Relaxed);
    }
    let clients: Vec<Client> = match arg_value(&args, "--client").as_deref() {
        Some("sansmqtt") => vec![Client::Sansmqtt],
        Some("rumqttc") => vec![Client::Rumqttc],
        Some(other) => panic!("--client sansmqtt|rumqttc, not {other}"),
        None => vec![Client::Sansmqtt, Client::Rumqttc],
    };
    let scale = |n: usize| if quick { 2_000 } else { n };
    let workloads: Vec<Workload> = [
        Workload {
            name: "W1",
            qos: 0,
            n: scale(200_000),
        },
        Workload {
            name: "W2",
            qos: 1,
            n: scale(50_000),
        },
    ]
    .into_iter()
    .filter(|w| {
        only.as_deref()
            .is_none_or(|o| o.eq_ignore_ascii_case(w.name))
    })
    .collect();

    let broker = start_mosquitto();
    println!(
        "mosquitto pid {} on 127.0.0.1:{}, settings:",
        broker.child.id(),
        broker.port
    );
    for line in broker.settings.lines() {
        println!("    {line}");
    }
    println!(
        "payload {} B, topic {TOPIC}, MQTT 3.1.1, {runs} run(s) per client, alternating; \
         QoS 1 in-flight window {INFLIGHT} for both; sansmqtt keeps {} (QoS 0) / \
         {WINDOW_QOS1} (QoS 1) publishes pending; rumqttc request channel {RUMQTTC_CAP}{}",
        PAYLOAD.len(),
        WINDOW_QOS0.load(Ordering::Relaxed),
        if quick {
            " (quick: smoke run, not a measurement)"
        } else {
            ""
        }
    );

    let mut rows = Vec::new();
    for w in &workloads {
        let mut results: Vec<(Client, Vec<Outcome>)> =
            clients.iter().map(|&c| (c, Vec::new())).collect();
        for run in 0..runs {
            for (client, outs) in results.iter_mut() {
                let tag = format!("{}-{run}-{}", w.name, std::process::id());
                let o = sample(*client, &broker, w.n, w.qos, tag);
                eprintln!(
                    "{} {} run {}: {:.0} msg/s, client {:.2} us CPU/msg, {:.3} context switches/msg, \
                     broker {:.2} us CPU/msg, received {}/{}",
                    w.name,
                    client.name(),
                    run + 1,
                    o.received as f64 / o.elapsed.as_secs_f64(),
                    o.cpu.as_secs_f64() * 1e6 / w.n as f64,
                    o.switches as f64 / w.n as f64,
                    o.broker.as_secs_f64() * 1e6 / w.n as f64,
                    o.received,
                    w.n
                );
                outs.push(o);
            }
        }
        for (client, outs) in &results {
            let lost: usize = outs.iter().map(|o| w.n - o.received).sum();
            let rate = stats(
                outs.iter()
                    .map(|o| o.received as f64 / o.elapsed.as_secs_f64().max(1e-9))
                    .collect(),
            );
            let cpu = stats(
                outs.iter()
                    .map(|o| o.cpu.as_secs_f64() * 1e6 / w.n as f64)
                    .collect(),
            );
            let switches = stats(
                outs.iter()
                    .map(|o| o.switches as f64 / w.n as f64)
                    .collect(),
            );
            let broker = stats(
                outs.iter()
                    .map(|o| o.broker.as_secs_f64() * 1e6 / w.n as f64)
                    .collect(),
            );
            rows.push(Row {
                workload: w.name,
                qos: w.qos,
                n: w.n,
                client: *client,
                rate,
                cpu,
                switches: switches.0,
                broker: broker.0,
                lost,
                samples: outs.len(),
            });
        }
    }

    println!();
    println!(
        "| workload | client | msg/s (median, min-max) | client CPU us/msg (median, min-max) | \
         throughput vs rumqttc | CPU vs rumqttc | lost | client context switches/msg | broker CPU us/msg |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let peer = rows
            .iter()
            .find(|p| p.workload == r.workload && p.client == Client::Rumqttc);
        let (tput, cpur) = match peer {
            Some(p) => (
                format!("{:.2}x", r.rate.0 / p.rate.0),
                format!("{:.2}x", r.cpu.0 / p.cpu.0),
            ),
            None => ("-".into(), "-".into()),
        };
        println!(
            "| {} QoS{} {} | {} | {:.0} ({:.0}-{:.0}) | {:.2} ({:.2}-{:.2}) | {tput} | {cpur} | {} of {} | {:.3} | {:.2} |",
            r.workload,
            r.qos,
            r.n,
            r.client.name(),
            r.rate.0,
            r.rate.1,
            r.rate.2,
            r.cpu.0,
            r.cpu.1,
            r.cpu.2,
            r.lost,
            r.n * r.samples,
            r.switches,
            r.broker,
        );
    }
    drop(broker);
}
