//! End-to-end benchmark: sansmqtt (tokio adapter) against rumqttc 0.25.1
//! (tokio), through one mosquitto started by this benchmark, in one run.
//!
//! - W1: 200,000 QoS 0 messages of 64 bytes on `bench/t`, one publisher and
//!   one subscriber client in this process.
//! - W2: 50,000 QoS 1 messages of 64 bytes, same shape, in-flight window 100
//!   for both clients (`Config::max_inflight`, `MqttOptions::set_inflight`).
//!
//! Each figure runs from the first publish to the last receipt; the loss is
//! the count not received after 10 s of silence. CPU is this process's
//! user + system time (`getrusage(RUSAGE_SELF)`, every thread) over the same
//! interval, divided by the messages: mosquitto is another process and is
//! not counted. Every sample uses fresh clients on a fresh multi-thread tokio
//! runtime (one worker per core); the clients alternate (A B A B).
//!
//! `cargo bench -p sansmqtt-tokio --bench e2e` (`-- --quick`: 2,000 messages,
//! one run each, only checks that it works; `-- --runs N`, `-- --only w1`,
//! `-- --client sansmqtt` to profile one side).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

const TOPIC: &str = "bench/t";
static PAYLOAD: [u8; 64] = [0x5a; 64];
/// In-flight window of QoS 1 publishes, the same for both clients.
const INFLIGHT: u16 = 100;
/// sansmqtt: publishes kept pending at once by the publishing task (QoS 0
/// publishes resolve once the driver queued them for the socket).
const WINDOW_QOS0: usize = 1024;
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
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    };
    for _ in 0..250 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return broker;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("mosquitto did not listen on port {port}");
}

/// User + system CPU time of this process (all threads).
#[allow(unsafe_code)]
fn cpu_time() -> Duration {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is valid.
    let u = unsafe {
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr()), 0);
        u.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
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

async fn run_sansmqtt(port: u16, n: usize, qos: u8, tag: &str) -> Outcome {
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
                    r.last = Instant::now();
                }
                _ => break,
            }
        }
        r
    });
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let window = if qos == QoS::AtMostOnce {
        WINDOW_QOS0
    } else {
        WINDOW_QOS1
    };
    let mut pending = FuturesUnordered::new();
    for _ in 0..n {
        pending.push(publisher.publish(TOPIC, &PAYLOAD[..], qos, false));
        if pending.len() >= window
            && let Some(r) = pending.next().await
        {
            r.expect("publish");
        }
    }
    while let Some(r) = pending.next().await {
        r.expect("publish");
    }
    let r = receiver.await.expect("receiver task");
    let cpu = cpu_time() - cpu0;
    assert_eq!(r.wrong_size, 0, "payload sizes");
    let last = if r.count == 0 { start } else { r.last };
    publisher.disconnect().await;
    subscriber.disconnect().await;
    Outcome {
        received: r.count,
        elapsed: last.saturating_duration_since(t0),
        cpu,
    }
}

async fn run_rumqttc(port: u16, n: usize, qos: u8, tag: &str) -> Outcome {
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
                    r.last = Instant::now();
                }
                Ok(Ok(_)) => {}
                Ok(Err(_)) | Err(_) => break,
            }
        }
        (r, sub_loop)
    });
    let pub_task = tokio::spawn(async move { while pub_loop.poll().await.is_ok() {} });
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    for _ in 0..n {
        publisher
            .publish(TOPIC, qos, false, PAYLOAD.to_vec())
            .await
            .expect("publish");
    }
    let (r, mut sub_loop) = receiver.await.expect("receiver task");
    let cpu = cpu_time() - cpu0;
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
    }
}

fn sample(client: Client, port: u16, n: usize, qos: u8, tag: &str) -> Outcome {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let out = rt.block_on(async {
        match client {
            Client::Sansmqtt => run_sansmqtt(port, n, qos, tag).await,
            Client::Rumqttc => run_rumqttc(port, n, qos, tag).await,
        }
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    out
}

/// Median, min, max.
fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
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
         QoS 1 in-flight window {INFLIGHT} for both; sansmqtt keeps {WINDOW_QOS0} (QoS 0) / \
         {WINDOW_QOS1} (QoS 1) publishes pending; rumqttc request channel {RUMQTTC_CAP}{}",
        PAYLOAD.len(),
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
                let o = sample(*client, broker.port, w.n, w.qos, &tag);
                eprintln!(
                    "{} {} run {}: {:.0} msg/s, {:.2} us CPU/msg, received {}/{}",
                    w.name,
                    client.name(),
                    run + 1,
                    o.received as f64 / o.elapsed.as_secs_f64(),
                    o.cpu.as_secs_f64() * 1e6 / w.n as f64,
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
            rows.push((w.name, w.qos, w.n, *client, rate, cpu, lost, outs.len()));
        }
    }

    println!();
    println!(
        "| workload | client | msg/s (median, min-max) | client CPU us/msg (median, min-max) | lost | throughput vs rumqttc | CPU vs rumqttc |"
    );
    println!("|---|---|---|---|---|---|---|");
    for &(name, qos, n, client, rate, cpu, lost, samples) in &rows {
        let peer = rows
            .iter()
            .find(|r| r.0 == name && r.3 == Client::Rumqttc)
            .map(|r| (r.4.0, r.5.0));
        let (tput, cpur) = match peer {
            Some((pr, pc)) => (
                format!("{:.2}x", rate.0 / pr),
                format!("{:.2}x", cpu.0 / pc),
            ),
            None => ("-".into(), "-".into()),
        };
        println!(
            "| {name} QoS{qos} {n} | {} | {:.0} ({:.0}-{:.0}) | {:.2} ({:.2}-{:.2}) | {lost} of {} | {tput} | {cpur} |",
            client.name(),
            rate.0,
            rate.1,
            rate.2,
            cpu.0,
            cpu.1,
            cpu.2,
            n * samples
        );
    }
    drop(broker);
}
