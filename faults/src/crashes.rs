//! Publisher process crashes with file persistence: a publisher process
//! (sansmqtt on tokio, `persistence` set, a fixed client identifier, clean
//! session off, reconnecting forever) is killed with SIGKILL at random
//! moments and started again with the same identifier and directory, again
//! and again, while a subscriber on a persistent session counts what
//! arrives.
//!
//! # Which messages are covered
//!
//! A QoS 1 or 2 publish enters the session file when the session sends it
//! under a packet identifier: connected, with an in-flight slot free
//! (`max_inflight`, default 20, or fewer by the broker's Receive Maximum),
//! the session takes it from its queue, gives it its identifier, encodes
//! the PUBLISH into its output buffer and has the store append its record
//! (`SessionStore::publish_sent`: one `write(2)`), all before the driver
//! hands that buffer to the socket. It leaves the file when its flow is
//! complete (PUBACK; PUBCOMP, after a record at PUBREC), before the
//! application is told the outcome. So at any moment the file holds exactly
//! the publishes the broker may have seen and not yet acknowledged to the
//! client, and a process killed at any instant leaves them to its
//! successor, which resends them (DUP) once the broker says the session is
//! present.
//!
//! Not in the file, and lost with the process: a publish handed to the
//! client (`publish_nowait` returned, or `publish` polled) but still in the
//! client's command channel, or in the session's queue waiting for the
//! connection (while connecting or offline) or for an in-flight slot. Its
//! caller has no outcome yet. Records reach the operating system, not the
//! disk: a SIGKILL loses none, a power failure may (not tried here).
//!
//! The runs sort every message the publisher printed as handed into three
//! groups: **acked** (its outcome `Ok` reached the application: the broker
//! took it), **covered** (in the file the killed process left), and
//! **neither** (handed, not in the file, no outcome seen). The neither
//! group is mostly the queue (lost), plus messages the broker had
//! acknowledged, and the client recorded as complete, whose outcome the
//! application had not yet printed (they arrive).
//!
//! # The runs
//!
//! [`Rig`]: a mosquitto of its own, an in-process sansmqtt subscriber on a
//! persistent session at QoS 2, a session directory; it starts publisher
//! incarnations (`sansmqtt-faults crash-publisher`, [`publisher`]), kills
//! them (`Child::kill`: SIGKILL), reads the session file each one left and
//! parses what it printed; a last incarnation with `--messages 0` drains
//! the file. [`Crashes`]: the random run, [`Crashes::run`]; [`CrashTally`]:
//! its figures and [`CrashTally::violations`], its checks.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sansmqtt_tokio::{
    Client, Config, ConnectionState, FileStore, ProtocolVersion, QoS, TopicName, persist,
};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::exchange::log_dir;
use crate::flags::Flags;
use crate::support::Mosquitto;

/// The protocol version of the publisher's session (and of its file).
pub const VERSION: ProtocolVersion = ProtocolVersion::V3_1_1;

/// A message: its publisher incarnation and its number there (from 1);
/// its payload is `"<incarnation>:<number>"`.
pub type Msg = (u32, u32);

/// The payload of `m`.
pub fn payload_of((incarnation, seq): Msg) -> String {
    format!("{incarnation}:{seq}")
}

/// The message whose payload is `p`, if it is one.
pub fn parse_payload(p: &[u8]) -> Option<Msg> {
    let s = std::str::from_utf8(p).ok()?;
    let (i, n) = s.split_once(':')?;
    Some((i.parse().ok()?, n.parse().ok()?))
}

fn qos_of(qos: u8) -> Result<QoS, String> {
    match qos {
        1 => Ok(QoS::AtLeastOnce),
        2 => Ok(QoS::ExactlyOnce),
        q => Err(format!("QoS {q}: the runs are at QoS 1 or 2")),
    }
}

// ------------------------------------------------------------ the publisher

/// What `sansmqtt-faults crash-publisher` is asked to do (its flags:
/// `--port --qos --id --dir --topic --incarnation [--messages N] [--window
/// W] [--rate R]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherArgs {
    /// mosquitto (or a proxy) on 127.0.0.1.
    pub port: u16,
    /// 1 or 2.
    pub qos: u8,
    /// The client identifier, the same for every incarnation.
    pub id: String,
    /// The `persistence` directory, the same for every incarnation.
    pub dir: PathBuf,
    /// Where the messages go.
    pub topic: String,
    /// This process's number: the first part of each payload.
    pub incarnation: u32,
    /// `None`: publishes until killed. `Some(n)`: publishes `n` messages,
    /// then waits until the session file holds nothing in flight,
    /// disconnects and exits; `Some(0)` only lets the restored session
    /// finish.
    pub messages: Option<u32>,
    /// Publishes handed over and not yet complete, at most.
    pub window: usize,
    /// Messages handed over per second (0: as fast as the window allows).
    pub rate: u32,
}

impl PublisherArgs {
    /// The command line that [`PublisherArgs::parse`] reads back.
    pub fn to_args(&self) -> Vec<String> {
        let mut v = vec![
            "--port".into(),
            self.port.to_string(),
            "--qos".into(),
            self.qos.to_string(),
            "--id".into(),
            self.id.clone(),
            "--dir".into(),
            self.dir.display().to_string(),
            "--topic".into(),
            self.topic.clone(),
            "--incarnation".into(),
            self.incarnation.to_string(),
            "--window".into(),
            self.window.to_string(),
            "--rate".into(),
            self.rate.to_string(),
        ];
        if let Some(n) = self.messages {
            v.push("--messages".into());
            v.push(n.to_string());
        }
        v
    }

    /// Reads the flags of `crash-publisher`.
    pub fn parse(args: &[String]) -> Result<PublisherArgs, String> {
        let flags = Flags::parse(args, &[])?;
        flags.only(&[
            "port",
            "qos",
            "id",
            "dir",
            "topic",
            "incarnation",
            "messages",
            "window",
            "rate",
        ])?;
        let parsed = PublisherArgs {
            port: flags.need("port")?,
            qos: flags.need("qos")?,
            id: flags.need("id")?,
            dir: flags.need("dir")?,
            topic: flags.need("topic")?,
            incarnation: flags.need("incarnation")?,
            messages: flags.opt("messages")?,
            window: flags.get("window", 100)?,
            rate: flags.get("rate", 0)?,
        };
        qos_of(parsed.qos)?;
        if parsed.window == 0 {
            return Err("--window 0".into());
        }
        Ok(parsed)
    }

    /// The publisher's client configuration: the session in `dir`, MQTT
    /// 3.1.1 with clean session off, reconnecting forever.
    pub fn config(&self) -> Config {
        let mut c = Config {
            client_id: Some(self.id.clone()),
            persistence: Some(self.dir.clone()),
            reconnect_retries: -1,
            reconnect_max_interval: Duration::from_millis(500),
            ..Config::default()
        };
        c.cleansession = false;
        c.protocol_version = VERSION.into();
        c
    }
}

/// One line on standard output in one `write`, flushed: a SIGKILL leaves
/// whole lines.
fn say(line: &str) {
    let mut s = String::with_capacity(line.len() + 1);
    s.push_str(line);
    s.push('\n');
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}

fn state_name(s: &ConnectionState) -> &'static str {
    match s {
        ConnectionState::Connecting { .. } => "connecting",
        ConnectionState::Connected { .. } => "connected",
        ConnectionState::Reconnecting { .. } => "reconnecting",
        ConnectionState::Disconnected { .. } => "disconnected",
        ConnectionState::Closed => "closed",
    }
}

/// `sansmqtt-faults crash-publisher`: the process that gets killed. Prints
/// `connected` once connected, `state S` at each change of the connection
/// (the first: the current one), `handed I:S` before handing message `S`
/// to the client (`publish_nowait`, at most `window` incomplete),
/// `acked I:S` once its outcome is `Ok` (`failed I:S E` otherwise), and
/// `done` when it exits by itself (see [`PublisherArgs::messages`]).
pub fn publisher(args: &[String]) -> Result<(), String> {
    let args = PublisherArgs::parse(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(publish(args))
}

async fn publish(a: PublisherArgs) -> Result<(), String> {
    let qos = qos_of(a.qos)?;
    let topic = TopicName::try_from(a.topic.as_str()).map_err(|e| format!("topic: {e}"))?;
    let client = sansmqtt_tokio::connect(&format!("mqtt://127.0.0.1:{}", a.port), a.config())
        .await
        .map_err(|e| format!("connect: {e}"))?;
    say("connected");
    let mut states = client.state_changes();
    tokio::spawn(async move {
        while let Some(s) = states.next().await {
            say(&format!("state {}", state_name(&s)));
        }
    });
    let window = Arc::new(Semaphore::new(a.window));
    let mut outcomes = JoinSet::new();
    let start = tokio::time::Instant::now();
    let mut seq = 0u32;
    while a.messages.is_none_or(|n| seq < n) {
        if a.rate > 0 {
            let due = Duration::from_secs_f64(f64::from(seq) / f64::from(a.rate));
            tokio::time::sleep_until(start + due).await;
        }
        seq += 1;
        let permit = window
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let payload = payload_of((a.incarnation, seq));
        say(&format!("handed {payload}"));
        let handle = client
            .publish_nowait(&topic, payload.clone(), qos, false)
            .await
            .map_err(|e| format!("publish_nowait {payload}: {e}"))?;
        outcomes.spawn(async move {
            match handle.await {
                Ok(_) => say(&format!("acked {payload}")),
                Err(e) => say(&format!("failed {payload} {e}")),
            }
            drop(permit);
        });
        while outcomes.try_join_next().is_some() {}
    }
    while outcomes.join_next().await.is_some() {}
    // The messages restored from the file have no caller: the file says
    // when they are complete.
    let file = FileStore::file_in(&a.dir, &a.id);
    while !in_file(&file)?.is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    client.disconnect().await;
    say("done");
    Ok(())
}

/// The messages the session file at `path` holds in flight (outgoing
/// publishes, in the order they were first sent); none when there is no
/// file. An error for a file [`persist::read`] refuses or a payload that is
/// not a message's.
pub fn in_file(path: &Path) -> Result<Vec<Msg>, String> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let saved = persist::read(&bytes, VERSION).map_err(|e| format!("{}: {e}", path.display()))?;
    saved
        .outgoing
        .iter()
        .map(|(p, _)| {
            parse_payload(&p.payload)
                .ok_or_else(|| format!("{}: a payload {:?}", path.display(), p.payload))
        })
        .collect()
}

// ------------------------------------------------------ what it printed

/// What an incarnation printed (its whole lines).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Printed {
    /// The incarnation.
    pub incarnation: u32,
    /// It printed `connected`: `connect` returned.
    pub connected: bool,
    /// Messages `1..=handed` were printed as handed.
    pub handed: u32,
    /// Messages whose outcome was `Ok`, in the order printed.
    pub acked: Vec<u32>,
    /// Messages whose outcome was an error, with it.
    pub failed: Vec<(u32, String)>,
    /// Messages handed when it printed the first connection state other
    /// than `connected` (after `connected`): those after it were handed
    /// while the connection was down.
    pub handed_when_connection_lost: Option<u32>,
    /// It printed `done`.
    pub done: bool,
}

impl Printed {
    /// Parses the output of incarnation `incarnation`; a last line without
    /// its newline is left out (a reader may see one being written).
    pub fn parse(text: &str, incarnation: u32) -> Result<Printed, String> {
        let mut p = Printed {
            incarnation,
            ..Printed::default()
        };
        let whole = match text.rfind('\n') {
            Some(end) => &text[..=end],
            None => "",
        };
        let msg = |s: &str| -> Result<u32, String> {
            match parse_payload(s.as_bytes()) {
                Some((i, n)) if i == incarnation => Ok(n),
                _ => Err(format!("incarnation {incarnation}: a message {s:?}")),
            }
        };
        for line in whole.lines() {
            let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
            match word {
                "connected" => p.connected = true,
                "done" => p.done = true,
                "state" => {
                    if p.connected && rest != "connected" && p.handed_when_connection_lost.is_none()
                    {
                        p.handed_when_connection_lost = Some(p.handed);
                    }
                }
                "handed" => {
                    let n = msg(rest)?;
                    if n != p.handed + 1 {
                        return Err(format!(
                            "incarnation {incarnation}: handed {n} after {}",
                            p.handed
                        ));
                    }
                    p.handed = n;
                }
                "acked" => p.acked.push(msg(rest)?),
                "failed" => {
                    let (m, e) = rest.split_once(' ').unwrap_or((rest, ""));
                    p.failed.push((msg(m)?, e.to_owned()));
                }
                _ => return Err(format!("incarnation {incarnation}: a line {line:?}")),
            }
        }
        Ok(p)
    }

    /// The messages handed while the connection was down (after it printed
    /// its loss).
    pub fn handed_offline(&self) -> Vec<Msg> {
        match self.handed_when_connection_lost {
            Some(at) => (at + 1..=self.handed)
                .map(|n| (self.incarnation, n))
                .collect(),
            None => Vec::new(),
        }
    }
}

// ------------------------------------------------------------------- the rig

/// A publisher incarnation, once over.
#[derive(Debug, Clone)]
pub struct Incarnation {
    /// What it printed.
    pub printed: Printed,
    /// Killed this long after it was started (`None`: it exited by itself).
    pub killed_after: Option<Duration>,
    /// What the session file held once it was over.
    pub in_file: Vec<Msg>,
}

/// A publisher process running; killed (by its own PID) if dropped.
pub struct Running {
    child: Child,
    /// Its incarnation.
    pub incarnation: u32,
    /// When it was started.
    pub started: Instant,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Running {
    /// What it printed so far.
    pub fn printed(&self) -> Result<Printed, String> {
        let text = fs::read_to_string(&self.stdout).map_err(|e| e.to_string())?;
        Printed::parse(&text, self.incarnation)
    }

    /// Waits until what it printed satisfies `ready`, at most `timeout`;
    /// `what` names it in the error.
    pub fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        ready: impl Fn(&Printed) -> bool,
    ) -> Result<Printed, String> {
        let end = Instant::now() + timeout;
        loop {
            let p = self.printed()?;
            if ready(&p) {
                return Ok(p);
            }
            if let Ok(Some(s)) = self.child.try_wait() {
                return Err(format!(
                    "incarnation {} exited ({s}) before {what}: {}",
                    self.incarnation,
                    tail(&self.stderr)
                ));
            }
            if Instant::now() > end {
                return Err(format!(
                    "incarnation {}: no {what} within {timeout:?}",
                    self.incarnation
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The end of a log file.
fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let start = text.len().saturating_sub(600);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    text[start..].trim().to_owned()
}

/// What the subscriber received.
#[derive(Default)]
struct Arrivals {
    copies: HashMap<Msg, u32>,
    /// Payloads that are no message.
    other: u64,
    last: Option<Instant>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A mosquitto of its own, a subscriber counting every payload, and the
/// publisher's session directory; it starts, kills and drains publisher
/// incarnations and keeps what each left behind.
pub struct Rig {
    exe: PathBuf,
    qos: u8,
    id: String,
    topic: String,
    dir: PathBuf,
    logs: PathBuf,
    arrivals: Arc<Mutex<Arrivals>>,
    incarnations: Vec<Incarnation>,
    started: Instant,
    drain_time: Duration,
    // Dropped in this order: the subscriber, its runtime, the broker.
    _subscriber: Client,
    runtime: Option<tokio::runtime::Runtime>,
    broker: Mosquitto,
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Rig {
    /// Starts the broker (`max_queued_messages 0`: it never drops a
    /// message queued for the subscriber) and the subscriber (persistent
    /// session, QoS 2), for publishers at `qos` run from `exe` (this
    /// crate's binary). `tag` names the client identifiers, the topic and
    /// `$TMPDIR/sansmqtt-faults/<tag>` (emptied first: the session
    /// directory and each incarnation's output).
    pub fn start(exe: &Path, qos: u8, tag: &str) -> Result<Rig, String> {
        qos_of(qos)?;
        let logs = log_dir(tag);
        let _ = fs::remove_dir_all(&logs);
        let dir = logs.join("session");
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let broker = Mosquitto::start("max_queued_messages 0\n");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let topic = format!("crashes/{tag}");
        let mut config = Config {
            client_id: Some(format!("{tag}-sub")),
            reconnect_retries: -1,
            reconnect_max_interval: Duration::from_millis(500),
            ..Config::default()
        };
        config.cleansession = false;
        let subscriber = runtime.block_on(async {
            let c = sansmqtt_tokio::connect(&broker.uri(), config)
                .await
                .map_err(|e| format!("subscriber: {e}"))?;
            let granted = c
                .subscribe(&[(topic.as_str(), QoS::ExactlyOnce)])
                .await
                .map_err(|e| format!("subscribe: {e}"))?;
            if granted.first().and_then(|g| g.as_ref().ok()) != Some(&QoS::ExactlyOnce) {
                return Err(format!("subscribe: {granted:?}"));
            }
            Ok::<_, String>(c)
        })?;
        let arrivals = Arc::new(Mutex::new(Arrivals::default()));
        let (c, a) = (subscriber.clone(), arrivals.clone());
        runtime.spawn(async move {
            while let Some(m) = c.deliver_message().await {
                let mut a = lock(&a);
                match parse_payload(m.payload()) {
                    Some(msg) => *a.copies.entry(msg).or_default() += 1,
                    None => a.other += 1,
                }
                a.last = Some(Instant::now());
            }
        });
        Ok(Rig {
            exe: exe.to_owned(),
            qos,
            id: format!("{tag}-pub"),
            topic,
            dir,
            logs,
            arrivals,
            incarnations: Vec::new(),
            started: Instant::now(),
            drain_time: Duration::ZERO,
            _subscriber: subscriber,
            runtime: Some(runtime),
            broker,
        })
    }

    /// The broker's port.
    pub fn broker_port(&self) -> u16 {
        self.broker.port()
    }

    /// The publisher's session file.
    pub fn session_file(&self) -> PathBuf {
        FileStore::file_in(&self.dir, &self.id)
    }

    /// The next incarnation's arguments, to the broker or a proxy on
    /// `port`: publishing until killed, a window of 100, no rate limit.
    pub fn args(&self, port: u16) -> PublisherArgs {
        PublisherArgs {
            port,
            qos: self.qos,
            id: self.id.clone(),
            dir: self.dir.clone(),
            topic: self.topic.clone(),
            incarnation: self.incarnations.len() as u32 + 1,
            messages: None,
            window: 100,
            rate: 0,
        }
    }

    /// Starts an incarnation (its output in the run's directory). One at a
    /// time: the next is started once this one is over.
    pub fn launch(&mut self, args: &PublisherArgs) -> Result<Running, String> {
        let n = args.incarnation;
        if n != self.incarnations.len() as u32 + 1 {
            return Err(format!("incarnation {n} after {}", self.incarnations.len()));
        }
        let stdout = self.logs.join(format!("pub-{n}.stdout"));
        let stderr = self.logs.join(format!("pub-{n}.stderr"));
        let out = File::create(&stdout).map_err(|e| e.to_string())?;
        let err = File::create(&stderr).map_err(|e| e.to_string())?;
        let child = Command::new(&self.exe)
            .arg("crash-publisher")
            .args(args.to_args())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("{}: {e}", self.exe.display()))?;
        Ok(Running {
            child,
            incarnation: n,
            started: Instant::now(),
            stdout,
            stderr,
        })
    }

    /// Kills `run` with SIGKILL, then reads the session file it left and
    /// what it printed.
    pub fn kill(&mut self, mut run: Running) -> Result<&Incarnation, String> {
        run.child.kill().map_err(|e| e.to_string())?;
        let killed_after = run.started.elapsed();
        run.child.wait().map_err(|e| e.to_string())?;
        self.over(&run, Some(killed_after))
    }

    fn over(
        &mut self,
        run: &Running,
        killed_after: Option<Duration>,
    ) -> Result<&Incarnation, String> {
        let printed = run.printed()?;
        let in_file = in_file(&self.session_file())?;
        self.incarnations.push(Incarnation {
            printed,
            killed_after,
            in_file,
        });
        Ok(&self.incarnations[self.incarnations.len() - 1])
    }

    /// The last incarnation, `--messages 0` straight to the broker: it
    /// resends what the file holds and exits once the file holds nothing
    /// in flight. An error if it does not exit by itself, with status 0,
    /// within `deadline`.
    pub fn drain(&mut self, deadline: Duration) -> Result<&Incarnation, String> {
        let mut args = self.args(self.broker_port());
        args.messages = Some(0);
        let t0 = Instant::now();
        let mut run = self.launch(&args)?;
        let status: ExitStatus = loop {
            if let Some(s) = run.child.try_wait().map_err(|e| e.to_string())? {
                break s;
            }
            if t0.elapsed() > deadline {
                return Err(format!(
                    "the draining incarnation {} did not finish within {deadline:?}: {}",
                    run.incarnation,
                    tail(&run.stderr)
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.drain_time = t0.elapsed();
        if !status.success() {
            return Err(format!(
                "the draining incarnation {} exited with {status}: {}",
                run.incarnation,
                tail(&run.stderr)
            ));
        }
        self.over(&run, None)
    }

    /// Waits until the subscriber has received nothing for `quiet`, at
    /// most `bound`.
    pub fn settle(&self, quiet: Duration, bound: Duration) {
        let end = Instant::now() + bound;
        let mut since = Instant::now();
        while Instant::now() < end {
            let last = lock(&self.arrivals).last;
            if let Some(l) = last {
                since = since.max(l);
            }
            if since.elapsed() >= quiet {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Copies of `m` the subscriber has received so far.
    pub fn copies(&self, m: Msg) -> u32 {
        lock(&self.arrivals).copies.get(&m).copied().unwrap_or(0)
    }

    /// The incarnations over so far.
    pub fn incarnations(&self) -> &[Incarnation] {
        &self.incarnations
    }

    /// The figures so far (call it once the subscriber has settled).
    pub fn tally(&self) -> CrashTally {
        let arrivals = lock(&self.arrivals);
        let mut t = CrashTally {
            qos: self.qos,
            drain: self.drain_time,
            time: self.started.elapsed(),
            other_payloads: arrivals.other,
            ..CrashTally::default()
        };
        let mut covered: HashSet<Msg> = HashSet::new();
        for inc in &self.incarnations {
            if inc.killed_after.is_some() {
                t.kills += 1;
                t.kills_before_connected += u32::from(!inc.printed.connected);
                t.most_in_file = t.most_in_file.max(inc.in_file.len());
                covered.extend(inc.in_file.iter().copied());
            }
        }
        if let Some(last) = self.incarnations.last()
            && last.killed_after.is_none()
        {
            t.left_in_file = last.in_file.len();
        }
        let mut handed: HashSet<Msg> = HashSet::new();
        for inc in &self.incarnations {
            let p = &inc.printed;
            let acked: HashSet<u32> = p.acked.iter().copied().collect();
            t.failed += p.failed.len() as u64;
            for n in 1..=p.handed {
                let m = (p.incarnation, n);
                handed.insert(m);
                t.handed += 1;
                let copies = arrivals.copies.get(&m).copied().unwrap_or(0);
                let group = if acked.contains(&n) {
                    if covered.contains(&m) {
                        t.acked_in_file += 1;
                    }
                    &mut t.acked
                } else if covered.contains(&m) {
                    &mut t.covered
                } else {
                    &mut t.neither
                };
                group.add(copies);
            }
        }
        t.never_handed = arrivals
            .copies
            .iter()
            .filter(|(m, _)| !handed.contains(m))
            .map(|(_, &c)| u64::from(c))
            .sum();
        t
    }
}

// ------------------------------------------------------------- the figures

/// What arrived of one group of messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Group {
    /// Messages in the group.
    pub messages: u64,
    /// Those that arrived at least once.
    pub arrived: u64,
    /// Those that never arrived.
    pub lost: u64,
    /// Copies beyond the first, all messages together.
    pub duplicated: u64,
    /// Messages that arrived more than once.
    pub twice: u64,
}

impl Group {
    fn add(&mut self, copies: u32) {
        self.messages += 1;
        if copies == 0 {
            self.lost += 1;
        } else {
            self.arrived += 1;
            self.duplicated += u64::from(copies - 1);
            self.twice += u64::from(copies > 1);
        }
    }
}

/// The figures of a run (or of a [`Rig`] so far).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrashTally {
    /// The publisher's QoS.
    pub qos: u8,
    /// Incarnations killed.
    pub kills: u32,
    /// Of them, killed before `connect` returned.
    pub kills_before_connected: u32,
    /// Messages handed to the client, every incarnation together.
    pub handed: u64,
    /// Publishes whose outcome was an error.
    pub failed: u64,
    /// Acknowledged to the application (outcome `Ok`).
    pub acked: Group,
    /// Not acknowledged, in the file a killed incarnation left.
    pub covered: Group,
    /// Neither acknowledged nor in the file.
    pub neither: Group,
    /// Acknowledged and yet in the file at the kill (never, if records go
    /// before outcomes).
    pub acked_in_file: u64,
    /// Copies received of messages never handed.
    pub never_handed: u64,
    /// Payloads received that are no message.
    pub other_payloads: u64,
    /// The most messages a file held at a kill.
    pub most_in_file: usize,
    /// Messages the file still held after the drain.
    pub left_in_file: usize,
    /// The draining incarnation's time, start to exit.
    pub drain: Duration,
    /// The whole run.
    pub time: Duration,
}

impl CrashTally {
    /// The checks, each broken one described: every acknowledged and every
    /// covered message arrived; QoS 2: no message twice, whatever its
    /// group; nothing arrived that was never handed; no publish failed;
    /// no acknowledged message in a file; the drain emptied the file.
    pub fn violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.acked.lost > 0 {
            v.push(format!("{} acknowledged messages lost", self.acked.lost));
        }
        if self.covered.lost > 0 {
            v.push(format!("{} messages of the file lost", self.covered.lost));
        }
        let twice = self.acked.twice + self.covered.twice + self.neither.twice;
        if self.qos == 2 && twice > 0 {
            v.push(format!(
                "QoS 2: {twice} messages arrived twice (acked {}, in the file {}, neither {})",
                self.acked.twice, self.covered.twice, self.neither.twice
            ));
        }
        if self.never_handed > 0 || self.other_payloads > 0 {
            v.push(format!(
                "{} copies of messages never handed, {} other payloads",
                self.never_handed, self.other_payloads
            ));
        }
        if self.failed > 0 {
            v.push(format!("{} publishes failed", self.failed));
        }
        if self.acked_in_file > 0 {
            v.push(format!(
                "{} acknowledged messages were still in the file",
                self.acked_in_file
            ));
        }
        if self.left_in_file > 0 {
            v.push(format!("{} messages left in the file", self.left_in_file));
        }
        v
    }
}

/// The random run: `kills` incarnations, each killed with SIGKILL after a
/// random delay, then one that drains the file.
#[derive(Debug, Clone)]
pub struct Crashes {
    /// 1 or 2.
    pub qos: u8,
    /// Incarnations killed.
    pub kills: u32,
    /// The delay from an incarnation's start to its kill, drawn uniformly
    /// from this range (most kills: in the middle of a burst)...
    pub delay: (Duration, Duration),
    /// ... but one kill in eight is drawn from `0..early` instead, to land
    /// while the process starts, opens its file and connects (on the
    /// machine of the figures a publisher is connected about 3.5 ms after
    /// it was started: 5 ms).
    pub early: Duration,
    /// Each incarnation's window (see [`PublisherArgs::window`]).
    pub window: usize,
    /// Seeds the delays.
    pub seed: u64,
    /// Quiet time of the subscriber before the count.
    pub settle: Duration,
}

impl Crashes {
    /// The run's tag (client identifiers, topic, files).
    pub fn tag(&self) -> String {
        format!("crashes-q{}-k{}-{}", self.qos, self.kills, self.seed)
    }

    /// Runs it with `exe` (this crate's binary) as the publisher program.
    pub fn run(&self, exe: &Path) -> Result<CrashTally, String> {
        let mut rig = Rig::start(exe, self.qos, &self.tag())?;
        let mut rng = fastrand::Rng::with_seed(self.seed);
        let draw = |rng: &mut fastrand::Rng, lo: Duration, hi: Duration| {
            lo + hi.saturating_sub(lo).mul_f64(rng.f64())
        };
        for _ in 0..self.kills {
            let delay = if rng.u32(0..8) == 0 {
                draw(&mut rng, Duration::ZERO, self.early)
            } else {
                draw(&mut rng, self.delay.0, self.delay.1)
            };
            let mut args = rig.args(rig.broker_port());
            args.window = self.window;
            let run = rig.launch(&args)?;
            std::thread::sleep((run.started + delay).saturating_duration_since(Instant::now()));
            rig.kill(run)?;
        }
        rig.drain(Duration::from_secs(60))?;
        rig.settle(self.settle, Duration::from_secs(120));
        Ok(rig.tally())
    }
}

/// The header of [`row`].
pub fn header() -> &'static str {
    "| QoS | kills | before connected | handed | acked | in the file (covered) | neither | lost: acked / covered / neither | duplicated: acked / covered / neither | QoS 2 twice | most in a file | drain (s) | time (s) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
}

/// One run of [`Crashes`].
pub fn row(c: &Crashes, t: &CrashTally) -> String {
    let twice = t.acked.twice + t.covered.twice + t.neither.twice;
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} / {} / {} | {} / {} / {} | {} | {} | {:.1} | {:.1} |",
        c.qos,
        t.kills,
        t.kills_before_connected,
        t.handed,
        t.acked.messages,
        t.covered.messages,
        t.neither.messages,
        t.acked.lost,
        t.covered.lost,
        t.neither.lost,
        t.acked.duplicated,
        t.covered.duplicated,
        t.neither.duplicated,
        if c.qos == 2 {
            twice.to_string()
        } else {
            "-".into()
        },
        t.most_in_file,
        t.drain.as_secs_f64(),
        t.time.as_secs_f64(),
    )
}
