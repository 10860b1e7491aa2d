//! The `sansmqtt` binary against mosquitto 2.0 (and rumqttd, and a scripted
//! broker for protocol violations), side by side with mosquitto_pub and
//! mosquitto_sub: the same scenario run with both tools, comparing what the
//! broker received, what was printed and the exit status.
//!
//! Plain std: every process is ours, started with its own `Child` and
//! killed through it; every wait has a deadline; loopback only.

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

#[path = "../../adapter-tokio/tests/pki/mod.rs"]
mod pki;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use support::{CONNACK_ACCEPTED, CONNACK_SESSION_PRESENT, FakeBroker, Mosquitto, ack, suback};

const SANSMQTT: &str = env!("CARGO_BIN_EXE_sansmqtt");
/// Deadline of one process run.
const T: Duration = Duration::from_secs(15);
/// Deadline of one step of a scripted broker.
const STEP: Duration = Duration::from_secs(5);

/// What a finished process left.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// A running process of ours, its output collected by two threads.
struct Proc {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<thread::JoinHandle<()>>,
}

fn collect(
    mut from: impl Read + Send + 'static,
    into: Arc<Mutex<Vec<u8>>>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => into.lock().unwrap().extend_from_slice(&buf[..n]),
            }
        }
    })
}

fn spawn(program: &str, args: &[&str], stdin: Option<&[u8]>) -> Proc {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let readers = vec![
        collect(child.stdout.take().unwrap(), stdout.clone()),
        collect(child.stderr.take().unwrap(), stderr.clone()),
    ];
    Proc {
        child,
        stdout,
        stderr,
        readers,
    }
}

impl Proc {
    fn stdout_now(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits up to `limit` for the exit; kills the process (and fails) past it.
    fn wait(mut self, limit: Duration) -> Out {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "process did not exit within {limit:?}; stdout: {:?}, stderr: {:?}",
                    self.stdout_now(),
                    String::from_utf8_lossy(&self.stderr.lock().unwrap())
                );
            }
            thread::sleep(Duration::from_millis(10));
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        Out {
            code: status.code(),
            stdout: String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned(),
            stderr: String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned(),
        }
    }

    /// Kills the process abruptly (SIGKILL to our own child).
    fn kill(mut self) -> Out {
        let _ = self.child.kill();
        self.wait(T)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if !self.exited() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The two tools of a side-by-side run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Mosquitto,
    Sansmqtt,
}

impl Tool {
    /// The program and the arguments that start `pub` or `sub`.
    fn command(self, pub_or_sub: &str) -> (String, Vec<String>) {
        match self {
            Tool::Mosquitto => (format!("mosquitto_{pub_or_sub}"), Vec::new()),
            Tool::Sansmqtt => (SANSMQTT.to_owned(), vec![pub_or_sub.to_owned()]),
        }
    }

    fn spawn(self, pub_or_sub: &str, args: &[&str], stdin: Option<&[u8]>) -> Proc {
        let (program, mut all) = self.command(pub_or_sub);
        all.extend(args.iter().map(|s| (*s).to_owned()));
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        spawn(&program, &refs, stdin)
    }

    fn run(self, pub_or_sub: &str, args: &[&str], stdin: Option<&[u8]>) -> Out {
        self.spawn(pub_or_sub, args, stdin).wait(T)
    }
}

fn sans(pub_or_sub: &str, args: &[&str]) -> Out {
    Tool::Sansmqtt.run(pub_or_sub, args, None)
}

/// A client identifier unique in this test process.
fn unique_id(what: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// mosquitto logging every packet (to see subscriptions land).
fn broker() -> Mosquitto {
    Mosquitto::start("log_type all")
}

/// Waits until the broker's log has `needle`.
fn wait_log(broker: &Mosquitto, needle: &str) {
    let deadline = Instant::now() + STEP;
    while Instant::now() < deadline {
        if broker.log().contains(needle) {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    panic!("{needle:?} not in the broker log:\n{}", broker.log());
}

fn port_args(broker: &Mosquitto) -> Vec<String> {
    vec![
        "-h".into(),
        "127.0.0.1".into(),
        "-p".into(),
        broker.port().to_string(),
    ]
}

/// `args` after `-h 127.0.0.1 -p PORT`.
fn with_port<'a>(port: &'a [String], args: &[&'a str]) -> Vec<&'a str> {
    port.iter()
        .map(String::as_str)
        .chain(args.iter().copied())
        .collect()
}

/// Starts a subscriber of `tool` with `args` (plus `-i ID`) and returns
/// once the broker acknowledged its subscription.
fn subscriber(broker: &Mosquitto, tool: Tool, args: &[&str]) -> Proc {
    let id = unique_id("sub");
    let port = port_args(broker);
    let mut all = with_port(&port, args);
    all.extend(["-i", id.as_str()]);
    let p = tool.spawn("sub", &all, None);
    wait_log(broker, &format!("Sending SUBACK to {id}"));
    p
}

/// What a reference mosquitto_sub (MQTT 5, QoS 2, every field) printed
/// for the `count` messages `publish` makes on `t/#`.
fn received(broker: &Mosquitto, count: usize, publish: impl FnOnce()) -> Out {
    let count = count.to_string();
    let sub = subscriber(
        broker,
        Tool::Mosquitto,
        &[
            "-V",
            "5",
            "-q",
            "2",
            "-t",
            "t/#",
            "-C",
            &count,
            "-F",
            "%t|q%q|r%r|l%l|C%C|E%E|P%P|R%R|D%D|%x",
        ],
    );
    publish();
    sub.wait(T)
}

// ------------------------------------------------------------------ pub

#[test]
fn pub_sends_what_mosquitto_pub_sends() {
    let dir = std::env::temp_dir().join(unique_id("sansmqtt-cli"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("payload.bin");
    std::fs::write(&file, b"file\x00bytes\n").unwrap();
    let file = file.display().to_string();
    let lines = b"one\n\nthree\r\nfour".as_slice();
    #[allow(clippy::type_complexity)]
    let scenarios: Vec<(usize, Vec<&str>, Option<&[u8]>)> = vec![
        (1, vec!["-t", "t/m", "-m", "hello"], None),
        (1, vec!["-t", "t/q1", "-m", "x", "-q", "1", "-r"], None),
        (1, vec!["-t", "t/q2", "-m", "two", "-q", "2"], None),
        (1, vec!["-t", "t/n", "-n"], None),
        (1, vec!["-t", "t/f", "-f", &file], None),
        (1, vec!["-t", "t/s", "-s"], Some(b"all\nof stdin\n")),
        (4, vec!["-t", "t/l", "-l", "-q", "1"], Some(lines)),
        (
            3,
            vec![
                "-t",
                "t/rep",
                "-m",
                "again",
                "--repeat",
                "3",
                "--repeat-delay",
                "0.05",
            ],
            None,
        ),
        (
            1,
            vec![
                "-V",
                "5",
                "-t",
                "t/props",
                "-m",
                "p",
                "-q",
                "1",
                "-D",
                "publish",
                "user-property",
                "k",
                "v",
                "-D",
                "publish",
                "content-type",
                "text/plain",
                "-D",
                "publish",
                "message-expiry-interval",
                "100",
                "-D",
                "publish",
                "response-topic",
                "r/t",
                "-D",
                "publish",
                "correlation-data",
                "abc",
            ],
            None,
        ),
        (
            1,
            vec!["-V", "mqttv311", "-t", "t/v3", "-m", "v3", "-q", "2"],
            None,
        ),
        // -D makes it MQTT 5 whatever -V says, as mosquitto_pub.
        (
            1,
            vec![
                "-V",
                "311",
                "-t",
                "t/v3d",
                "-m",
                "x",
                "-D",
                "publish",
                "content-type",
                "dropped",
            ],
            None,
        ),
    ];
    for (count, args, stdin) in scenarios {
        let mut outs = Vec::new();
        for tool in [Tool::Mosquitto, Tool::Sansmqtt] {
            // A broker each: no retained message of the other tool's run.
            let b = broker();
            let port = port_args(&b);
            let args = with_port(&port, &args);
            let mut status = None;
            let got = received(&b, count, || {
                status = Some(tool.run("pub", &args, stdin));
            });
            let status = status.unwrap();
            assert_eq!(status.code, Some(0), "{tool:?} {args:?}: {status:?}");
            assert_eq!(got.code, Some(0), "{tool:?} {args:?}: {got:?}");
            outs.push(got.stdout);
        }
        assert_eq!(outs[0], outs[1], "{args:?}");
    }
    // Retained, as mosquitto_pub's.
    let b = broker();
    let port = port_args(&b);
    assert_eq!(
        sans(
            "pub",
            &with_port(&port, &["-t", "t/q1", "-m", "x", "-q", "1", "-r"])
        )
        .code,
        Some(0)
    );
    let got = sans(
        "sub",
        &with_port(&port, &["-t", "t/q1", "-C", "1", "-F", "%t %r %p"]),
    );
    assert_eq!(got.stdout, "t/q1 1 x\n");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn pub_usage_errors_match_mosquitto() {
    let b = broker();
    let port = port_args(&b);
    for args in [
        vec!["-m", "no topic"],
        vec!["-t", "no/message"],
        vec!["-t", "a/+", "-m", "wildcard"],
        vec!["-t", "a", "-m", "x", "-q", "3"],
        vec!["-t", "a", "-m", "x", "-k", "3"],
        vec!["-t", "a", "-m", "x", "-c"],
        vec![
            "-t", "a", "-m", "x", "-V", "5", "-D", "publish", "bogus", "v",
        ],
        vec![
            "-t",
            "a",
            "-m",
            "x",
            "-V",
            "5",
            "-D",
            "subscribe",
            "content-type",
            "v",
        ],
        vec!["-t", "a", "-m", "x", "-n"],
    ] {
        let all = with_port(&port, &args);
        let m = Tool::Mosquitto.run("pub", &all, None);
        let s = sans("pub", &all);
        assert_eq!(m.code, Some(1), "{args:?}: {m:?}");
        assert_eq!(s.code, m.code, "{args:?}: {s:?}");
        assert!(!s.stderr.is_empty(), "{args:?}");
        let first = |e: &str| e.lines().next().unwrap_or("").to_owned();
        if first(&m.stderr).starts_with("Error: ") && !args.contains(&"-q") && !args.contains(&"-n")
        {
            assert_eq!(first(&s.stderr), first(&m.stderr), "{args:?}");
        }
    }
}

#[test]
fn help_is_long_only_and_h_is_the_host() {
    let out = sans("pub", &["--help"]);
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.contains("-h, --host"), "{}", out.stdout);
    let out = sans("sub", &["--help"]);
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.contains("--retained-only"), "{}", out.stdout);
    // -h wants a host: nothing listens on this one.
    let out = sans("pub", &["-h", "127.0.0.1", "-p", "1", "-t", "a", "-m", "x"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.starts_with("Error: "), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

#[test]
fn debug_lines_match_mosquitto_pub() {
    let b = broker();
    let port = port_args(&b);
    for qos in ["0", "1", "2"] {
        let args = with_port(
            &port,
            &["-d", "-i", "dbg", "-t", "d/x", "-m", "hello", "-q", qos],
        );
        let m = Tool::Mosquitto.run("pub", &args, None);
        let s = sans("pub", &args);
        assert_eq!((m.code, s.code), (Some(0), Some(0)));
        assert_eq!(s.stdout, m.stdout, "qos {qos}");
    }
    let args = with_port(&port, &["-d", "-i", "dbgs", "-t", "d/#", "-q", "1", "-E"]);
    let m = Tool::Mosquitto.run("sub", &args, None);
    let s = sans("sub", &args);
    assert_eq!(s.stdout, m.stdout);
}

// ------------------------------------------------------------------ sub

/// One side-by-side `sub` scenario: a fresh broker, `setup` (retained
/// messages...), the subscriber, then `publish`.
fn sub_side_by_side(
    args: &[&str],
    setup: &dyn Fn(&[String]),
    publish: &dyn Fn(&[String]),
) -> [Out; 2] {
    [Tool::Mosquitto, Tool::Sansmqtt].map(|tool| {
        let b = broker();
        let port = port_args(&b);
        setup(&port);
        let sub = subscriber(&b, tool, args);
        publish(&port);
        sub.wait(T)
    })
}

fn mpub(port: &[String], args: &[&str]) {
    let out = Tool::Mosquitto.run("pub", &with_port(port, args), None);
    assert_eq!(out.code, Some(0), "{out:?}");
}

#[test]
fn sub_prints_what_mosquitto_sub_prints() {
    let none = |_: &[String]| {};
    let three = |p: &[String]| {
        mpub(p, &["-t", "c/a", "-m", "x"]);
        mpub(p, &["-t", "c/skip", "-m", "skipped"]);
        mpub(p, &["-t", "c/b", "-m", "y", "-q", "1"]);
        mpub(p, &["-t", "d/c", "-m", "{\"z\": [1, 2]}", "-q", "2"]);
    };
    let retained = |p: &[String]| {
        mpub(p, &["-t", "c/old", "-m", "stale", "-r", "-q", "1"]);
    };
    let live = |p: &[String]| mpub(p, &["-t", "c/new", "-m", "live"]);
    let v5 = |p: &[String]| {
        mpub(
            p,
            &[
                "-V",
                "5",
                "-t",
                "c/p",
                "-m",
                "p",
                "-q",
                "1",
                "-D",
                "publish",
                "user-property",
                "k",
                "v",
                "-D",
                "publish",
                "content-type",
                "text/plain",
                "-D",
                "publish",
                "response-topic",
                "r/t",
                "-D",
                "publish",
                "correlation-data",
                "abc",
            ],
        )
    };
    #[allow(clippy::type_complexity)]
    let scenarios: Vec<(Vec<&str>, &dyn Fn(&[String]), &dyn Fn(&[String]))> = vec![
        (vec!["-t", "c/#", "-t", "d/#", "-C", "4"], &none, &three),
        (
            vec!["-t", "c/#", "-t", "d/#", "-v", "-C", "3", "-T", "c/skip"],
            &none,
            &three,
        ),
        (vec!["-t", "c/#", "-N", "-C", "2", "-q", "1"], &none, &three),
        (
            vec![
                "-t",
                "c/#",
                "-t",
                "d/#",
                "-C",
                "4",
                "-q",
                "2",
                "-F",
                r"%t|%p|%q|%r|%l|%m|%x|%X|%%|\t|\\",
            ],
            &none,
            &three,
        ),
        (vec!["-t", "d/#", "-C", "1", "-F", "%J"], &none, &three),
        (
            vec!["-t", "d/#", "-C", "1", "-F", "%J", "--pretty"],
            &none,
            &three,
        ),
        (vec!["-t", "c/#", "-R", "-v", "-C", "1"], &retained, &live),
        (vec!["-t", "c/#", "-v", "-C", "2"], &retained, &live),
        (vec!["-t", "c/#", "--retained-only", "-v"], &retained, &live),
        (vec!["-t", "c/#", "-E"], &retained, &none),
        (vec!["-t", "c/#", "-W", "1"], &none, &none),
        (vec!["-t", "c/#", "-C", "1", "-W", "1"], &none, &none),
        (
            vec!["-V", "5", "-t", "c/#", "-C", "1", "-F", "%t|%C|%P|%R|%D|%p"],
            &none,
            &v5,
        ),
    ];
    for (args, setup, publish) in scenarios {
        let [m, s] = sub_side_by_side(&args, setup, publish);
        assert_eq!(s.code, m.code, "{args:?}: {m:?} / {s:?}");
        if args.contains(&"--pretty") {
            // Both pretty-print; the indentation differs (docs/cli.md).
            let norm = |t: &str| {
                serde_json::from_str::<serde_json::Value>(t).map(|mut v| {
                    v.as_object_mut().unwrap().remove("tst");
                    v
                })
            };
            assert_eq!(norm(&s.stdout).unwrap(), norm(&m.stdout).unwrap());
            assert!(s.stdout.contains("\n  \"topic\": "), "{}", s.stdout);
        } else if args.contains(&"%J") {
            let strip = |t: &str| {
                let i = t.find("\"topic\"").unwrap();
                t[i..].to_owned()
            };
            assert_eq!(strip(&s.stdout), strip(&m.stdout), "{args:?}");
        } else {
            assert_eq!(s.stdout, m.stdout, "{args:?}");
        }
        assert_eq!(s.stderr, m.stderr, "{args:?}");
    }
}

#[test]
fn sub_json_and_time_formats() {
    let b = broker();
    let port = port_args(&b);
    mpub(&port, &["-t", "j/a", "-m", "hi", "-r", "-q", "1"]);
    for (tool, code) in [(Tool::Mosquitto, 0), (Tool::Sansmqtt, 0)] {
        let out = tool.run(
            "sub",
            &with_port(
                &port,
                &["-t", "j/#", "-C", "1", "-q", "1", "-F", "%j|%I|%U|@Y"],
            ),
            None,
        );
        assert_eq!(out.code, Some(code));
        let (json, rest) = out.stdout.trim_end().split_once('|').unwrap();
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(v["topic"], "j/a");
        assert_eq!(v["retain"], 1);
        assert_eq!(v["mid"], 1);
        assert_eq!(v["payload"], "hi");
        let tst = v["tst"].as_str().unwrap();
        assert_eq!(tst.len(), "2016-08-10T09:47:38.123456Z+0000".len(), "{tst}");
        let parts: Vec<&str> = rest.split('|').collect();
        assert_eq!(
            parts[0].len(),
            "2016-08-10T09:47:38+0100".len(),
            "{tool:?} {rest}"
        );
        assert!(parts[1].contains('.'));
        assert_eq!(parts[2].len(), 4);
    }
}

#[test]
fn remove_retained_and_unsubscribe() {
    for tool in [Tool::Mosquitto, Tool::Sansmqtt] {
        let b = broker();
        let port = port_args(&b);
        mpub(&port, &["-t", "rr/a", "-m", "old", "-r"]);
        // -W, not -C: mosquitto_sub 2.0.11 never exits with -C and
        // --remove-retained (sansmqtt does; docs/cli.md).
        let out = tool.run(
            "sub",
            &with_port(&port, &["-t", "rr/#", "--remove-retained", "-W", "1", "-v"]),
            None,
        );
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (Some(27), "rr/a old\nrr/a (null)\n"),
            "{tool:?}"
        );
        let out = sans("sub", &with_port(&port, &["-t", "rr/#", "-W", "1", "-v"]));
        assert_eq!((out.code, out.stdout.as_str()), (Some(27), ""), "{tool:?}");

        // -U removes a subscription of a persistent session.
        let id = unique_id("unsub");
        let session = |extra: &[&str]| {
            let mut args = vec!["-c", "-i", id.as_str(), "-q", "1"];
            args.extend_from_slice(extra);
            tool.run("sub", &with_port(&port, &args), None)
        };
        assert_eq!(session(&["-t", "u/#", "-E"]).code, Some(0));
        assert_eq!(session(&["-t", "other", "-U", "u/#", "-E"]).code, Some(0));
        mpub(&port, &["-t", "u/a", "-m", "gone", "-q", "1"]);
        let out = session(&["-t", "other", "-W", "1"]);
        assert_eq!((out.code, out.stdout.as_str()), (Some(27), ""), "{tool:?}");
    }
}

// ------------------------------------------------------------ connection

/// The "New client connected ... as ID (p?, c?, k?[, u'...'])" line of `id`.
fn connected_line(broker: &Mosquitto, id: &str) -> String {
    wait_log(broker, &format!(" as {id} ("));
    let log = broker.log();
    let line = log
        .lines()
        .find(|l| l.contains(&format!(" as {id} (")))
        .unwrap();
    let i = line.find(" as ").unwrap();
    line[i..].replace(id, "ID")
}

#[test]
fn connect_flags_reach_the_broker_as_mosquittos() {
    let b = broker();
    let port = port_args(&b);
    for extra in [
        vec![],
        vec!["-k", "30"],
        vec!["-V", "mqttv5"],
        vec!["-V", "5", "-k", "7"],
        vec!["-c"],
        vec!["-V", "5", "-c", "-x", "60"],
        vec!["-u", "alice", "-P", "secret"],
        vec!["-V", "mqttv31"],
    ] {
        let mut lines = Vec::new();
        for tool in [Tool::Mosquitto, Tool::Sansmqtt] {
            let id = unique_id("conn");
            let mut args = with_port(&port, &["-t", "cf/a", "-m", "x", "-i", id.as_str()]);
            args.extend(extra.iter().copied());
            let out = tool.run("pub", &args, None);
            assert_eq!(out.code, Some(0), "{tool:?} {extra:?}: {out:?}");
            lines.push(connected_line(&b, &id));
        }
        assert_eq!(lines[0], lines[1], "{extra:?}");
    }
    // -I: the prefix and the process id.
    let out = sans(
        "pub",
        &with_port(&port, &["-t", "cf/a", "-m", "x", "-I", "pre-"]),
    );
    assert_eq!(out.code, Some(0));
    let log = b.log();
    assert!(
        log.lines().any(|l| {
            l.split(" as pre-").nth(1).is_some_and(|rest| {
                rest.split(' ')
                    .next()
                    .unwrap()
                    .chars()
                    .all(|c| c.is_ascii_digit())
            })
        }),
        "{log}"
    );
    // No -i: the broker assigns one, as with mosquitto 2.0.
    let before = b.log().matches(" as auto-").count();
    assert_eq!(
        sans("pub", &with_port(&port, &["-t", "cf/a", "-m", "x"])).code,
        Some(0)
    );
    assert_eq!(b.log().matches(" as auto-").count(), before + 1);
}

#[test]
fn url_and_bind_address() {
    let b = broker();
    let url = format!("mqtt://127.0.0.1:{}/l/topic", b.port());
    let sub = subscriber(&b, Tool::Sansmqtt, &["-t", "l/#", "-v", "-C", "2"]);
    assert_eq!(sans("pub", &["-L", &url, "-m", "via-url"]).code, Some(0));
    let id = unique_id("bind");
    let port = port_args(&b);
    let out = sans(
        "pub",
        &with_port(
            &port,
            &["-A", "127.0.0.2", "-i", &id, "-t", "l/b", "-m", "bound"],
        ),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(b.log().contains("from 127.0.0.2:"), "{}", b.log());
    assert_eq!(sub.wait(T).stdout, "l/topic via-url\nl/b bound\n");
    // sub -L takes the topic from the URL too.
    let url = format!("mqtt://127.0.0.1:{}/l/#", b.port());
    let sub = Tool::Sansmqtt.spawn("sub", &["-L", &url, "-C", "1", "-i", "lsub"], None);
    wait_log(&b, "Sending SUBACK to lsub");
    mpub(&port, &["-t", "l/c", "-m", "c"]);
    assert_eq!(sub.wait(T).stdout, "c\n");
}

#[test]
fn credentials_refusals_and_quiet_match_mosquitto() {
    let dir = std::env::temp_dir().join(unique_id("sansmqtt-pw"));
    std::fs::create_dir_all(&dir).unwrap();
    let pwfile = dir.join("passwords");
    let made = Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&pwfile)
        .args(["alice", "secret"])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let b = Mosquitto::start(&format!(
        "allow_anonymous false\npassword_file {}",
        pwfile.display()
    ));
    let port = port_args(&b);
    for (args, want) in [
        (vec!["-u", "alice", "-P", "secret"], 0),
        (vec!["-u", "alice", "-P", "wrong"], 5),
        (vec![], 5),
        (vec!["-V", "5"], 135),
        (vec!["-V", "5", "-u", "alice", "-P", "wrong"], 135),
        (vec!["-u", "alice", "-P", "wrong", "--quiet"], 5),
    ] {
        for sub in [false, true] {
            let mut all = with_port(&port, &["-t", "a"]);
            all.extend(if sub { vec!["-E"] } else { vec!["-m", "x"] });
            all.extend(args.iter().copied());
            let tool = if sub { "sub" } else { "pub" };
            let m = Tool::Mosquitto.run(tool, &all, None);
            let s = sans(tool, &all);
            assert_eq!(m.code, Some(want), "mosquitto {tool} {args:?}: {m:?}");
            assert_eq!(s.code, Some(want), "sansmqtt {tool} {args:?}: {s:?}");
            if args.contains(&"--quiet") {
                assert_eq!(s.stderr, "");
            } else if want != 0 {
                assert_eq!(s.stderr.lines().count(), 1, "{s:?}");
                let first = m.stderr.lines().next().unwrap();
                if want == 5 {
                    assert_eq!(s.stderr.trim_end(), first);
                } else {
                    assert!(s.stderr.starts_with("Connection error: "), "{s:?}");
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The Will is published when the connection closes without DISCONNECT
/// [MQTT-3.1.2-8].
#[test]
fn will_is_published_when_the_client_dies() {
    for tool in [Tool::Mosquitto, Tool::Sansmqtt] {
        let b = broker();
        let port = port_args(&b);
        let watcher = subscriber(
            &b,
            Tool::Mosquitto,
            &["-t", "will/#", "-v", "-C", "1", "-F", "%t %p %q %r"],
        );
        let id = unique_id("dying");
        let dying = tool.spawn(
            "sub",
            &with_port(
                &port,
                &[
                    "-t",
                    "x",
                    "-i",
                    &id,
                    "--will-topic",
                    "will/t",
                    "--will-payload",
                    "gone",
                    "--will-qos",
                    "1",
                    "--will-retain",
                ],
            ),
            None,
        );
        wait_log(&b, &format!("Sending SUBACK to {id}"));
        dying.kill();
        // Delivered at the subscription's QoS 0, live (retain 0).
        assert_eq!(watcher.wait(T).stdout, "will/t gone 0 0\n", "{tool:?}");
        let retained = sans(
            "sub",
            &with_port(&port, &["-t", "will/#", "-C", "1", "-F", "%r %p"]),
        );
        assert_eq!(retained.stdout, "1 gone\n");
    }
}

#[test]
fn persistent_sessions_and_session_expiry() {
    for tool in [Tool::Mosquitto, Tool::Sansmqtt] {
        for (extra, kept) in [
            (vec![], true),
            (vec!["-V", "5"], true),
            (vec!["-V", "5", "-x", "0"], false),
            (vec!["-V", "5", "-x", "3600"], true),
        ] {
            let b = broker();
            let port = port_args(&b);
            let id = unique_id("persist");
            let session = |more: &[&str]| {
                let mut args = with_port(&port, &["-c", "-i", &id, "-q", "1", "-t", "p/#"]);
                args.extend(extra.iter().copied());
                args.extend(more.iter().copied());
                tool.run("sub", &args, None)
            };
            assert_eq!(session(&["-E"]).code, Some(0));
            mpub(&port, &["-t", "p/a", "-m", "offline", "-q", "1"]);
            let out = session(&["-C", "1", "-W", "2"]);
            if kept {
                assert_eq!(
                    (out.code, out.stdout.as_str()),
                    (Some(0), "offline\n"),
                    "{tool:?} {extra:?}"
                );
            } else {
                assert_eq!(
                    (out.code, out.stdout.as_str()),
                    (Some(27), ""),
                    "{tool:?} {extra:?}"
                );
            }
        }
    }
}

// ----------------------------------------------------------------- codecs

#[test]
fn codecs_encode_the_message_and_decode_the_output() {
    let b = broker();
    let port = port_args(&b);
    let got = received(&b, 1, || {
        let out = sans(
            "pub",
            &with_port(&port, &["-t", "t/mp", "-m", "[1,2]", "--codec", "msgpack"]),
        );
        assert_eq!(out.code, Some(0), "{out:?}");
    });
    assert!(got.stdout.ends_with("|920102\n"), "{}", got.stdout);
    let sub = subscriber(
        &b,
        Tool::Sansmqtt,
        &["-t", "k/#", "-C", "2", "--codec", "msgpack"],
    );
    let raw = spawn(
        "sh",
        &[
            "-c",
            &format!(
                "printf '\\222\\001\\002' | mosquitto_pub -p {} -t k/a -s",
                b.port()
            ),
        ],
        None,
    )
    .wait(T);
    assert_eq!(raw.code, Some(0));
    assert_eq!(
        sans(
            "pub",
            &with_port(
                &port,
                &["-t", "k/b", "-m", "{\"a\":true}", "--codec", "msgpack"]
            )
        )
        .code,
        Some(0)
    );
    assert_eq!(sub.wait(T).stdout, "[1,2]\n{\"a\":true}\n");
    let sub = subscriber(
        &b,
        Tool::Sansmqtt,
        &["-t", "k/#", "-C", "1", "--codec", "json", "--pretty"],
    );
    mpub(&port, &["-t", "k/c", "-m", "{\"a\":[1]}"]);
    assert_eq!(sub.wait(T).stdout, "{\n  \"a\": [\n    1\n  ]\n}\n");
    let out = sans(
        "pub",
        &with_port(&port, &["-t", "k/d", "-m", "x", "--codec", "nope"]),
    );
    assert_eq!(out.code, Some(1));
}

// ------------------------------------------------------------ transports

#[test]
fn tls_websocket_and_bind_over_tls() {
    let pki = pki::Pki::new();
    let config = [
        pki.listener("{port0}", &pki.server, ""),
        pki.listener("{port1}", &pki.wrong_host, ""),
        pki.listener("{port2}", &pki.server, "require_certificate true"),
        "listener {port3} 127.0.0.1\nprotocol websockets\n".to_owned(),
        pki.listener("{port4}", &pki.server, "protocol websockets"),
    ]
    .concat();
    let (b, ports) = Mosquitto::start_with_ports(5, &format!("log_type all\n{config}"));
    let ca = pki.ca.display().to_string();
    let tls_port = ports[0].to_string();
    let sub = subscriber(&b, Tool::Sansmqtt, &["-t", "tls/#", "-v", "-C", "5"]);
    for (tool, args, want) in [
        (
            Tool::Mosquitto,
            vec!["-h", "localhost", "-p", &tls_port, "--cafile", &ca],
            0,
        ),
        (
            Tool::Sansmqtt,
            vec!["-h", "localhost", "-p", &tls_port, "--cafile", &ca],
            0,
        ),
    ] {
        let mut all = args.clone();
        all.extend(["-t", "tls/a", "-m", "secure", "-q", "1"]);
        assert_eq!(tool.run("pub", &all, None).code, Some(want), "{tool:?}");
    }
    let wrong = ports[1].to_string();
    let refused = sans(
        "pub",
        &[
            "-h",
            "localhost",
            "-p",
            &wrong,
            "--cafile",
            &ca,
            "-t",
            "tls/x",
            "-m",
            "x",
        ],
    );
    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert_eq!(
        sans(
            "pub",
            &[
                "-h",
                "localhost",
                "-p",
                &wrong,
                "--cafile",
                &ca,
                "--insecure",
                "-t",
                "tls/b",
                "-m",
                "insecure"
            ]
        )
        .code,
        Some(0)
    );
    let mutual = ports[2].to_string();
    let (cert, key) = (
        pki.client.cert.display().to_string(),
        pki.client.key.display().to_string(),
    );
    assert_eq!(
        sans(
            "pub",
            &[
                "-h",
                "localhost",
                "-p",
                &mutual,
                "--cafile",
                &ca,
                "--cert",
                &cert,
                "--key",
                &key,
                "-t",
                "tls/c",
                "-m",
                "mutual",
                "-A",
                "127.0.0.1"
            ]
        )
        .code,
        Some(0)
    );
    let no_cert = sans(
        "pub",
        &[
            "-h",
            "localhost",
            "-p",
            &mutual,
            "--cafile",
            &ca,
            "-t",
            "tls/x",
            "-m",
            "x",
        ],
    );
    assert_ne!(no_cert.code, Some(0));
    let ws = format!("ws://127.0.0.1:{}/", ports[3]);
    assert_eq!(
        sans("pub", &["-L", &ws, "-t", "tls/d", "-m", "websocket"]).code,
        Some(0)
    );
    let wss = format!("wss://localhost:{}/", ports[4]);
    assert_eq!(
        sans(
            "pub",
            &[
                "-L",
                &wss,
                "--cafile",
                &ca,
                "-t",
                "tls/e",
                "-m",
                "wss",
                "-A",
                "127.0.0.1"
            ]
        )
        .code,
        Some(0)
    );
    assert_eq!(
        sub.wait(T).stdout,
        "tls/a secure\ntls/a secure\ntls/b insecure\ntls/c mutual\ntls/d websocket\n"
    );
    let sub = Tool::Sansmqtt.spawn(
        "sub",
        &[
            "-L", &wss, "--cafile", &ca, "-t", "tls/#", "-C", "1", "-i", "wsssub",
        ],
        None,
    );
    wait_log(&b, "Sending SUBACK to wsssub");
    assert_eq!(
        sans(
            "pub",
            &["-L", &wss, "--cafile", &ca, "-t", "tls/f", "-m", "wss"]
        )
        .code,
        Some(0)
    );
    assert_eq!(sub.wait(T).stdout, "wss\n");
}

// --------------------------------------------------------------- rumqttd

fn rumqttd() -> u16 {
    for _ in 0..5 {
        let port = support::free_port();
        let server = rumqttd::ServerSettings {
            name: "v4".to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
            tls: None,
            next_connection_delay_ms: 1,
            connections: rumqttd::ConnectionSettings {
                connection_timeout_ms: 60_000,
                max_payload_size: 1 << 20,
                max_inflight_count: 100,
                auth: None,
                external_auth: None,
                dynamic_filters: true,
            },
        };
        let config = rumqttd::Config {
            id: 0,
            router: rumqttd::RouterConfig {
                max_connections: 100,
                max_outgoing_packet_count: 200,
                max_segment_size: 10 << 20,
                max_segment_count: 10,
                custom_segment: None,
                initialized_filters: None,
                shared_subscriptions_strategy: Default::default(),
            },
            v4: Some(HashMap::from([("1".to_owned(), server)])),
            ..Default::default()
        };
        thread::spawn(move || {
            let _ = rumqttd::Broker::new(config).start();
        });
        let deadline = Instant::now() + STEP;
        while Instant::now() < deadline {
            // Ours: another test's broker could hold the port it found.
            if support::port_accepts(port)
                && support::listener_owned_by(std::process::id(), port).unwrap_or(true)
            {
                return port;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("rumqttd did not start");
}

#[test]
fn against_rumqttd() {
    let port = rumqttd().to_string();
    let args = |more: &[&'static str]| -> Vec<String> {
        ["-h", "127.0.0.1", "-p", &port]
            .iter()
            .map(|s| (*s).to_owned())
            .chain(more.iter().map(|s| (*s).to_owned()))
            .collect()
    };
    let sub_args = args(&["-t", "r/#", "-v", "-C", "3", "-q", "1", "-d"]);
    let refs: Vec<&str> = sub_args.iter().map(String::as_str).collect();
    let sub = Tool::Sansmqtt.spawn("sub", &refs, None);
    let deadline = Instant::now() + STEP;
    while !sub.stdout_now().contains("Subscribed (mid: 1): 1") {
        assert!(Instant::now() < deadline, "no SUBACK: {}", sub.stdout_now());
        thread::sleep(Duration::from_millis(10));
    }
    for (topic, qos) in [("r/0", "0"), ("r/1", "1"), ("r/2", "2")] {
        let a = args(&["-t", topic, "-m", "hi", "-q", qos]);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        assert_eq!(sans("pub", &refs).code, Some(0), "{topic}");
    }
    let out = sub.wait(T);
    let printed: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| !l.starts_with("Client ") && !l.starts_with("Subscribed"))
        .collect();
    assert_eq!(printed, ["r/0 hi", "r/1 hi", "r/2 hi"]);
    assert_eq!(out.code, Some(0));
}

// ------------------------------------------------------- broker misdeeds

/// A scripted broker session: `sansmqtt sub -t a` (with `extra`), CONNACK
/// `connack`, SUBACK granting QoS 0, then `then`; returns the exit.
fn scripted(extra: &[&str], connack: &[u8], then: &[u8]) -> Out {
    let (mut fake, port) = FakeBroker::bind();
    let port = port.to_string();
    let mut args = vec![
        "-h",
        "127.0.0.1",
        "-p",
        port.as_str(),
        "-t",
        "a",
        "-i",
        "scripted",
    ];
    args.extend_from_slice(extra);
    let sub = Tool::Sansmqtt.spawn("sub", &args, None);
    fake.accept(STEP).unwrap();
    fake.read_until_type(1, STEP).unwrap();
    fake.write(connack).unwrap();
    if connack[3] == 0 {
        let (subscribe, _) = fake.read_until_type(8, STEP).unwrap();
        let id = support::packet_id(&subscribe).unwrap();
        let v5 = extra.contains(&"5");
        let mut sa = suback(id, &[0]);
        if v5 {
            sa = support::with_fixed_header(0x90, &[(id >> 8) as u8, id as u8, 0, 0]);
        }
        fake.write(&sa).unwrap();
        fake.write(then).unwrap();
    }
    sub.wait(T)
}

const CONNACK_V5: [u8; 5] = [0x20, 0x03, 0x00, 0x00, 0x00];

/// What the broker does wrong ends the run with its reason: a refused
/// CONNACK; a server DISCONNECT (MQTT 5, §3.14); a protocol violation, after
/// which the client closes the connection [MQTT-4.8.0-1]: a malformed packet,
/// a PUBLISH with both QoS bits set [MQTT-3.3.1-4], a second CONNACK
/// [MQTT-3.2.0-2] (5.0).
#[test]
fn broker_misdeeds_end_the_run_with_their_reason() {
    // Refused CONNACK.
    let out = scripted(&[], &[0x20, 0x02, 0x00, 0x04], &[]);
    assert_eq!(out.code, Some(4), "{out:?}");
    assert_eq!(
        out.stderr,
        "Connection error: Connection Refused: bad user name or password.\n"
    );
    let out = scripted(&["-V", "5"], &[0x20, 0x03, 0x00, 0x8a, 0x00], &[]);
    assert_eq!(out.code, Some(0x8a), "{out:?}");
    assert!(out.stderr.contains("Banned"), "{out:?}");
    // A 3.1.1-only broker's answer to -V 5 (3.1.1 MQTT-3.1.2-2: a 3.1.1
    // CONNACK 0x01): mosquitto_sub's words and status (0x84, as libmosquitto
    // reads it), checked against mosquitto_sub 2.0 and aedes 1.2 by hand.
    let out = scripted(&["-V", "5"], &[0x20, 0x02, 0x00, 0x01], &[]);
    assert_eq!(out.code, Some(0x84), "{out:?}");
    assert_eq!(
        out.stderr,
        "Connection error: Unsupported Protocol Version. Try connecting to an MQTT v5 broker, or use MQTT v3.x mode.\n"
    );
    // The same code to a 3.1.1 CONNECT: a broker of 3.1 only.
    let out = scripted(&[], &[0x20, 0x02, 0x00, 0x01], &[]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(
        out.stderr,
        "Connection error: Connection Refused: unacceptable protocol version.\n"
    );
    // A DISCONNECT from the server, with its reason.
    let out = scripted(&["-V", "5"], &CONNACK_V5, &[0xe0, 0x02, 0x8b, 0x00]);
    assert_eq!(out.code, Some(0x8b), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1);
    assert!(
        out.stderr
            .contains("disconnected by the server: ServerShuttingDown (0x8b)"),
        "{out:?}"
    );
    // Protocol violations: the connection is closed, status 2.
    for (name, bytes) in [
        ("malformed", vec![0x30, 0x05, 0x00, 0x09, b'a', b'b', b'c']),
        ("qos 3", vec![0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01]),
        ("second connack", CONNACK_ACCEPTED.to_vec()),
    ] {
        let out = scripted(&[], &CONNACK_ACCEPTED, &bytes);
        assert_eq!(out.code, Some(2), "{name}: {out:?}");
        assert!(
            out.stderr
                .starts_with("Error: protocol violation by the broker"),
            "{name}: {out:?}"
        );
        assert_eq!(out.stderr.lines().count(), 1, "{name}");
    }
}

/// A SUBACK return code 0x80 (Failure, §3.9.3) refuses the filter: the run
/// fails.
#[test]
fn refused_subscription_fails() {
    let (mut fake, port) = FakeBroker::bind();
    let port = port.to_string();
    let sub = Tool::Sansmqtt.spawn(
        "sub",
        &["-p", &port, "-h", "127.0.0.1", "-t", "ok", "-t", "denied"],
        None,
    );
    fake.accept(STEP).unwrap();
    fake.read_until_type(1, STEP).unwrap();
    fake.write(&CONNACK_ACCEPTED).unwrap();
    let (subscribe, _) = fake.read_until_type(8, STEP).unwrap();
    fake.write(&suback(support::packet_id(&subscribe).unwrap(), &[0, 0x80]))
        .unwrap();
    let out = sub.wait(T);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("subscription to 'denied' refused"),
        "{out:?}"
    );
}

/// A QoS 1 publish is complete on PUBACK [MQTT-4.3.2-2]; after a reconnect
/// with a resumed session it is sent again with its packet identifier and
/// DUP set [MQTT-4.4.0-1] [MQTT-3.3.1-1].
#[test]
fn qos1_pub_exits_only_after_the_ack_and_redelivers_after_a_reconnect() {
    let (mut fake, port) = FakeBroker::bind();
    let port = port.to_string();
    let mut p = Tool::Sansmqtt.spawn(
        "pub",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-c",
            "-i",
            "redeliver",
            "-q",
            "1",
            "-t",
            "a",
            "-m",
            "precious",
        ],
        None,
    );
    fake.accept(STEP).unwrap();
    fake.read_until_type(1, STEP).unwrap();
    fake.write(&CONNACK_ACCEPTED).unwrap();
    let (first, _) = fake.read_until_type(3, STEP).unwrap();
    assert_eq!(first[0] & 0x08, 0, "not DUP the first time");
    // No PUBACK: the tool waits.
    thread::sleep(Duration::from_millis(500));
    assert!(!p.exited(), "exited before the PUBACK");
    // The connection drops; the client comes back and sends it again.
    fake.drop_connection();
    fake.accept(STEP).unwrap();
    fake.read_until_type(1, STEP).unwrap();
    fake.write(&CONNACK_SESSION_PRESENT).unwrap();
    let (again, _) = fake.read_until_type(3, STEP).unwrap();
    assert_eq!(again[0] & 0x08, 0x08, "DUP on redelivery");
    assert_eq!(support::packet_id(&again), support::packet_id(&first));
    thread::sleep(Duration::from_millis(200));
    assert!(!p.exited(), "exited before the PUBACK");
    fake.write(&ack(0x40, support::packet_id(&again).unwrap()))
        .unwrap();
    let out = p.wait(T);
    assert_eq!(out.code, Some(0), "{out:?}");
}

#[test]
fn sub_resubscribes_after_the_broker_restarts() {
    let mut b = broker();
    let port = port_args(&b);
    let sub = subscriber(
        &b,
        Tool::Sansmqtt,
        &["-t", "re/#", "-v", "-C", "1", "-q", "1"],
    );
    b.stop();
    b.restart();
    // Resubscribed on the new broker (clean session: the client restores it).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = b.log();
        if log.matches("Sending SUBACK to sub-").count() >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no resubscription:\n{log}");
        thread::sleep(Duration::from_millis(20));
    }
    mpub(&port, &["-t", "re/a", "-m", "back", "-q", "1"]);
    let out = sub.wait(T);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (Some(0), "re/a back\n"),
        "{out:?}"
    );
}

/// `--proxy socks5h://user:password@host:port`: pub goes through the SOCKS5
/// proxy as mosquitto_pub does (the same CONNECT request to the proxy, the
/// message delivered); a wrong password fails both.
#[test]
fn proxy_flag_goes_through_socks5_as_mosquitto_pub_does() {
    let b = broker();
    let relay = support::Socks5Relay::start(Some(("user", "pw")));
    let port = port_args(&b);
    for tool in [Tool::Mosquitto, Tool::Sansmqtt] {
        let proxy = format!("socks5h://user:pw@127.0.0.1:{}", relay.port());
        let message = format!("via-{tool:?}");
        let out = received(&b, 1, || {
            let all = with_port(
                &port,
                &[
                    "--proxy", &proxy, "-t", "t/proxy", "-m", &message, "-q", "1",
                ],
            );
            let r = tool.run("pub", &all, None);
            assert_eq!(r.code, Some(0), "{tool:?}: {r:?}");
        });
        let hex: String = message.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(out.stdout.contains(&hex), "{tool:?}: {out:?}");
    }
    let seen = relay.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], seen[1], "the same request as mosquitto_pub's");

    let wrong = format!("socks5h://user:nope@127.0.0.1:{}", relay.port());
    let all = with_port(&port, &["--proxy", &wrong, "-t", "t/proxy", "-m", "x"]);
    let m = Tool::Mosquitto.run("pub", &all, None);
    let s = sans("pub", &all);
    assert_ne!(m.code, Some(0), "{m:?}");
    assert_eq!(s.code, m.code, "{s:?} against {m:?}");
    assert!(s.stderr.contains("refused"), "{s:?}");
}

// ------------------------------------------------------- -D properties

/// `needle` is somewhere in `packet`.
fn has(packet: &[u8], needle: &[u8]) -> bool {
    packet.windows(needle.len()).any(|w| w == needle)
}

/// A User Property on the wire (0x26, name, value).
fn user(name: &str, value: &str) -> Vec<u8> {
    let mut v = vec![0x26, 0, name.len() as u8];
    v.extend_from_slice(name.as_bytes());
    v.extend_from_slice(&[0, value.len() as u8]);
    v.extend_from_slice(value.as_bytes());
    v
}

/// `-D connect|will|subscribe|unsubscribe|disconnect` properties reach the
/// broker with both tools: CONNECT (§3.1.2.11) and Will Properties
/// (§3.1.3.2), SUBSCRIBE (§3.8.2.1), UNSUBSCRIBE (§3.10.2.1) and the final
/// DISCONNECT (§3.14.2.2), each property checked in the bytes each tool
/// sent to a scripted broker.
#[test]
fn properties_of_every_command_reach_the_broker_as_mosquittos() {
    let connect_needles: Vec<Vec<u8>> = vec![
        user("c1", "v1"),
        vec![0x21, 0, 7],          // Receive Maximum 7
        vec![0x27, 0, 0, 3, 0xe8], // Maximum Packet Size 1000
        vec![0x22, 0, 3],          // Topic Alias Maximum 3
        vec![0x11, 0, 0, 0, 30],   // Session Expiry Interval 30
        vec![0x19, 1],             // Request Response Information 1
        user("w1", "v1"),
        vec![0x18, 0, 0, 0, 5],       // Will Delay Interval 5
        vec![0x03, 0, 2, b'c', b't'], // Content Type "ct"
        vec![0x09, 0, 2, b'c', b'd'], // Correlation Data "cd"
    ];
    for tool in [Tool::Mosquitto, Tool::Sansmqtt] {
        let (mut fake, port) = FakeBroker::bind();
        let port = port.to_string();
        #[rustfmt::skip]
        let args = [
            "-h", "127.0.0.1", "-p", &port, "-i", "props", "-t", "a", "-U", "a", "-C", "1",
            "--will-topic", "w", "--will-payload", "gone",
            "-D", "connect", "user-property", "c1", "v1",
            "-D", "connect", "receive-maximum", "7",
            "-D", "connect", "maximum-packet-size", "1000",
            "-D", "connect", "topic-alias-maximum", "3",
            "-D", "connect", "session-expiry-interval", "30",
            "-D", "connect", "request-response-information", "1",
            "-D", "will", "user-property", "w1", "v1",
            "-D", "will", "will-delay-interval", "5",
            "-D", "will", "content-type", "ct",
            "-D", "will", "correlation-data", "cd",
            "-D", "subscribe", "user-property", "s1", "v1",
            "-D", "unsubscribe", "user-property", "u1", "v1",
            "-D", "disconnect", "reason-string", "bye",
            "-D", "disconnect", "user-property", "d1", "v1",
            "-D", "disconnect", "session-expiry-interval", "0",
        ];
        let sub = tool.spawn("sub", &args, None);
        fake.accept(STEP).unwrap();
        let (connect, _) = fake.read_until_type(1, STEP).unwrap();
        fake.write(&CONNACK_V5).unwrap();
        let (subscribe, _) = fake.read_until_type(8, STEP).unwrap();
        let id = support::packet_id(&subscribe).unwrap();
        let (hi, lo) = ((id >> 8) as u8, id as u8);
        fake.write(&support::with_fixed_header(0x90, &[hi, lo, 0, 0]))
            .unwrap();
        let (unsubscribe, _) = fake.read_until_type(10, STEP).unwrap();
        let id = support::packet_id(&unsubscribe).unwrap();
        let (hi, lo) = ((id >> 8) as u8, id as u8);
        fake.write(&support::with_fixed_header(0xb0, &[hi, lo, 0, 0]))
            .unwrap();
        // One message ends the run (-C 1; mosquitto_sub -E may close
        // before its DISCONNECT when it also unsubscribes).
        fake.write(&[0x30, 5, 0, 1, b'a', 0, b'm']).unwrap();
        let disconnect = fake.read_until_type(14, STEP);
        let out = sub.wait(T);
        let (disconnect, _) = disconnect.unwrap_or_else(|e| panic!("{tool:?}: {e}, {out:?}"));
        assert_eq!(out.code, Some(0), "{tool:?}: {out:?}");
        for needle in &connect_needles {
            assert!(
                has(&connect, needle),
                "{tool:?} CONNECT {connect:x?} lacks {needle:x?}"
            );
        }
        assert!(
            has(&subscribe, &user("s1", "v1")),
            "{tool:?} {subscribe:x?}"
        );
        assert!(
            has(&unsubscribe, &user("u1", "v1")),
            "{tool:?} {unsubscribe:x?}"
        );
        for needle in [
            user("d1", "v1"),
            vec![0x1f, 0, 3, b'b', b'y', b'e'],
            vec![0x11, 0, 0, 0, 0],
        ] {
            assert!(
                has(&disconnect, &needle),
                "{tool:?} DISCONNECT {disconnect:x?} lacks {needle:x?}"
            );
        }
    }
}

/// Bad `-D` arguments: the same first line and status as mosquitto's
/// tools (its checks of commands, names, counts, ranges, duplicates and
/// values the protocol forbids); an authentication method mosquitto does
/// not know is refused by the broker (0x8C) for both.
#[test]
fn bad_properties_fail_as_with_mosquitto() {
    let b = broker();
    let port = port_args(&b);
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("pub", vec!["-D", "bogus", "user-property", "a", "b"]),
        ("pub", vec!["-D", "publish", "bogus", "1"]),
        ("pub", vec!["-D", "publish", "reason-string", "x"]),
        ("pub", vec!["-D", "will", "topic-alias", "3"]),
        ("pub", vec!["-D", "puback", "reason-string", "x"]),
        ("pub", vec!["-D", "pubrel", "user-property", "a", "b"]),
        ("pub", vec!["-D", "auth", "authentication-method", "m"]),
        ("pub", vec!["-D", "publish", "user-property", "a"]),
        ("pub", vec!["-D", "publish", "content-type"]),
        ("pub", vec!["-D", "publish", "content-type", "x", "y"]),
        ("pub", vec!["-D", "connect", "receive-maximum", "70000"]),
        ("pub", vec!["-D", "publish", "message-expiry-interval", "-1"]),
        ("pub", vec!["-D", "publish", "payload-format-indicator", "300abc"]),
        ("pub", vec!["-D", "connect", "receive-maximum", "abc"]),
        ("pub", vec!["-D", "connect", "maximum-packet-size", "0"]),
        ("pub", vec!["-D", "connect", "request-problem-information", "2"]),
        ("pub", vec!["-D", "publish", "topic-alias", "0"]),
        ("pub", vec!["-D", "publish", "content-type", "a", "-D", "publish", "content-type", "b"]),
        ("pub", vec!["-x", "60", "-D", "connect", "session-expiry-interval", "30"]),
        ("pub", vec!["--will-topic", "w", "-D", "will", "content-type", "a", "-D", "will", "content-type", "b"]),
        ("pub", vec!["-D", "disconnect", "reason-string", "x", "-D", "disconnect", "reason-string", "y"]),
        ("sub", vec!["-D", "subscribe", "content-type", "x"]),
        ("sub", vec!["-D", "unsubscribe", "reason-string", "x"]),
        ("sub", vec!["-D", "subscribe", "subscription-identifier", "300000000"]),
        ("pub", vec!["-D", "connect", "authentication-method", "m"]),
    ];
    for (tool, args) in cases {
        // Last: mosquitto takes the words after -D as its values, whatever
        // they are.
        let mut all = with_port(
            &port,
            if tool == "pub" {
                &["-t", "a", "-m", "x"]
            } else {
                &["-t", "a", "-E"]
            },
        );
        all.extend(&args);
        let m = Tool::Mosquitto.run(tool, &all, None);
        let s = Tool::Sansmqtt.run(tool, &all, None);
        assert_ne!(m.code, Some(0), "{args:?}: {m:?}");
        assert_eq!(s.code, m.code, "{args:?}: {s:?} / {m:?}");
        let first = |e: &str| e.lines().next().unwrap_or("").to_owned();
        if first(&m.stderr).starts_with("Error") {
            assert_eq!(first(&s.stderr), first(&m.stderr), "{args:?}");
        }
    }
    // Accepted and not sent by both: subscribe properties of pub, will
    // properties without a will.
    for args in [
        vec!["-D", "subscribe", "subscription-identifier", "5"],
        vec!["-D", "will", "content-type", "x"],
        vec!["-D", "publish", "message-expiry-interval", "12abc"],
    ] {
        let mut all = with_port(&port, &args);
        all.extend(["-t", "a", "-m", "x"]);
        let m = Tool::Mosquitto.run("pub", &all, None);
        let s = Tool::Sansmqtt.run("pub", &all, None);
        assert_eq!((m.code, s.code), (Some(0), Some(0)), "{args:?}: {s:?}");
    }
    // sansmqtt's own refusal: the client manages subscription identifiers.
    let all = with_port(
        &port,
        &[
            "-t",
            "a",
            "-E",
            "-D",
            "subscribe",
            "subscription-identifier",
            "5",
        ],
    );
    let s = sans("sub", &all);
    assert_eq!(s.code, Some(1), "{s:?}");
    assert!(s.stderr.contains("subscription identifiers"), "{s:?}");
}
