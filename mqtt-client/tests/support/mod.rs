//! Test support shared by the integration tests of `sansmqtt` and of the
//! adapter crates: `mod support;` here, `#[path =
//! "../../mqtt-client/tests/support/mod.rs"] mod support;` from
//! `adapter-*/tests/`. Plain `std`, no runtime, self-contained:
//!
//! - [`Mosquitto`]: a real broker (Debian's `mosquitto`) on a free loopback
//!   port with a per-test config, killed when dropped.
//! - [`FakeBroker`]: a scripted broker: the test reads what the client sent
//!   and writes whatever bytes it likes, or nothing (withheld CONNACK,
//!   PINGRESP or acks, malformed packets, dropped connections).
//! - [`Socks5Relay`]: a SOCKS5 proxy (RFC 1928, user name and password by
//!   RFC 1929) that records what it was asked and relays.
//! - A few hand-encoded packets ([`connect_v311`], [`CONNACK_ACCEPTED`], ...).
//!
//! Only processes this module started are ever killed, by their own
//! `Child` handle.

#![allow(dead_code, unreachable_pub)]

use std::fs;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often a starting broker is probed.
const POLL: Duration = Duration::from_millis(20);
/// How long a broker may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(5);

/// A free TCP port on 127.0.0.1 (bound, then released: another process
/// could take it in between, which [`Mosquitto::start`] retries).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Whether process `pid` holds the socket listening on TCP `port` (IPv4
/// or IPv6): `None` where `/proc` cannot tell (not Linux).
///
/// A port accepting connections is not proof that the broker a test just
/// started owns it: [`free_port`] releases the port it found, so two tests
/// may pick the same one; one broker binds it, the other fails to, but a
/// probe made before the loser exits finds the winner accepting, and the
/// losing test would run against the other test's broker (clients with the
/// same ids taking each other's sessions over, messages of both tests on
/// one topic tree).
pub fn listener_owned_by(pid: u32, port: u16) -> Option<bool> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address is ADDR:PORT in hex; state 0A is LISTEN.
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let listening_port = local
                .rsplit(':')
                .next()
                .and_then(|hex| u16::from_str_radix(hex, 16).ok());
            if *state == "0A" && listening_port == Some(port) {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(fds.flatten().any(|fd| {
        fs::read_link(fd.path())
            .is_ok_and(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
    }))
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
/// A server on a free loopback port that answers each of its first
/// `connections` connections with an HTTP error in plain text, whatever it
/// is sent (what an `mqtts://` client meets at a server without TLS);
/// returns the port and the thread (over once it answered them all).
#[allow(dead_code)]
pub fn plain_text_server(connections: usize) -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    let server = thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            let mut hello = [0u8; 512];
            let _ = stream.read(&mut hello);
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        }
    });
    (port, server)
}

pub fn port_accepts(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// The mosquitto binary: `$MOSQUITTO`, else Debian's `/usr/sbin/mosquitto`,
/// else `mosquitto` on the `PATH`.
pub fn mosquitto_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MOSQUITTO") {
        return PathBuf::from(path);
    }
    let debian = Path::new("/usr/sbin/mosquitto");
    if debian.exists() {
        return debian.to_path_buf();
    }
    PathBuf::from("mosquitto")
}

/// A mosquitto broker on 127.0.0.1, started for one test; killed (and its
/// directory removed) when dropped.
pub struct Mosquitto {
    port: u16,
    dir: PathBuf,
    config_file: PathBuf,
    log_file: PathBuf,
    child: Option<Child>,
}

impl Mosquitto {
    /// Starts mosquitto on a free loopback port with `listener PORT
    /// 127.0.0.1`, `allow_anonymous true`, `persistence false` and then
    /// `config_extra` (later lines override earlier ones; `{dir}` in it is
    /// replaced by the broker's own temporary directory, e.g. for
    /// `persistence_location {dir}/`). Returns once the port accepts TCP
    /// connections. Panics, with the broker's log, if it does not start.
    pub fn start(config_extra: &str) -> Mosquitto {
        let mut last_error = String::new();
        // The free port may be taken before mosquitto binds it: retry.
        for _ in 0..5 {
            let port = free_port();
            let dir = unique_dir("mosquitto", port);
            let config_file = dir.join("mosquitto.conf");
            let log_file = dir.join("mosquitto.log");
            let extra = config_extra.replace("{dir}", &dir.display().to_string());
            let mut config =
                format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n");
            if running_as_root() {
                // mosquitto drops root privileges to user `mosquitto` by
                // default, which could not write into our directory.
                config.push_str("user root\n");
            }
            config.push_str(&extra);
            config.push('\n');
            fs::write(&config_file, config).expect("write mosquitto.conf");
            let mut broker = Mosquitto {
                port,
                dir,
                config_file,
                log_file,
                child: None,
            };
            match broker.spawn_and_wait() {
                Ok(()) => return broker,
                Err(e) => last_error = e,
            }
        }
        panic!("mosquitto did not start: {last_error}");
    }

    /// Like [`Mosquitto::start`], with `extra_ports` more free loopback
    /// ports for listeners of `config_extra` (TLS, WebSocket): `{port0}`,
    /// `{port1}`, ... in it are replaced by them (and `{dir}` as in
    /// `start`). Returns the broker and those ports once every one of them
    /// accepts TCP connections. Panics, with the broker's log, if it does
    /// not start.
    ///
    /// ```ignore
    /// let (broker, ports) = Mosquitto::start_with_ports(1, "listener {port0} 127.0.0.1\nprotocol websockets");
    /// ```
    pub fn start_with_ports(extra_ports: usize, config_extra: &str) -> (Mosquitto, Vec<u16>) {
        let mut last_error = String::new();
        for _ in 0..5 {
            // Bound together, released together: distinct ports.
            let listeners: Vec<TcpListener> = (0..=extra_ports)
                .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
                .collect();
            let mut ports: Vec<u16> = listeners
                .iter()
                .map(|l| l.local_addr().expect("local address").port())
                .collect();
            drop(listeners);
            let port = ports.remove(0);
            let dir = unique_dir("mosquitto", port);
            let config_file = dir.join("mosquitto.conf");
            let log_file = dir.join("mosquitto.log");
            let mut extra = config_extra.replace("{dir}", &dir.display().to_string());
            for (i, p) in ports.iter().enumerate() {
                extra = extra.replace(&format!("{{port{i}}}"), &p.to_string());
            }
            let mut config =
                format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n");
            if running_as_root() {
                config.push_str("user root\n");
            }
            config.push_str(&extra);
            config.push('\n');
            fs::write(&config_file, config).expect("write mosquitto.conf");
            let mut broker = Mosquitto {
                port,
                dir,
                config_file,
                log_file,
                child: None,
            };
            match broker.spawn_and_wait() {
                Ok(()) => {}
                Err(e) => {
                    last_error = e;
                    continue;
                }
            }
            let deadline = Instant::now() + START_TIMEOUT;
            while !ports.iter().all(|&p| port_accepts(p)) && Instant::now() < deadline {
                thread::sleep(POLL);
            }
            if ports.iter().all(|&p| port_accepts(p) && broker.owns(p)) {
                return (broker, ports);
            }
            last_error = format!(
                "extra ports {ports:?} not accepting; log:\n{}",
                broker.log()
            );
        }
        panic!("mosquitto did not start: {last_error}");
    }

    /// The broker's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn uri(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// The broker's temporary directory (config, log, persistence).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The broker's log (stdout and stderr) so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// Whether the broker process is running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Whether this broker's process (running) listens on `port` itself;
    /// where `/proc` cannot tell, whether it runs.
    fn owns(&mut self, port: u16) -> bool {
        if !self.is_running() {
            return false;
        }
        let Some(pid) = self.child.as_ref().map(Child::id) else {
            return false;
        };
        listener_owned_by(pid, port).unwrap_or(true)
    }

    /// The broker's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the broker abruptly (SIGKILL to its own PID) and waits for it
    /// to exit: connections drop without DISCONNECT, nothing is saved.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the broker gracefully (SIGTERM to its own PID, so that it
    /// saves its persistence file), waiting up to 5 s before killing it.
    pub fn stop_graceful(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let terminated = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if terminated {
            let deadline = Instant::now() + START_TIMEOUT;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                thread::sleep(POLL);
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts the broker again on the same port with the same config (after
    /// [`Mosquitto::stop`]; stops it first if it runs). Panics if it does
    /// not come up, e.g. because another process took the port meanwhile.
    pub fn restart(&mut self) {
        self.stop();
        // The old socket may linger a moment: retry within the start timeout.
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(e) if Instant::now() >= deadline => {
                    panic!("mosquitto did not restart on port {}: {e}", self.port)
                }
                Err(_) => thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Spawns the broker and waits until its port accepts connections.
    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .map_err(|e| format!("open {}: {e}", self.log_file.display()))?;
        let log2 = log
            .try_clone()
            .map_err(|e| format!("clone log file: {e}"))?;
        let binary = mosquitto_binary();
        let child = Command::new(&binary)
            .arg("-c")
            .arg(&self.config_file)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot run {} ({e}); install Debian's mosquitto package (scripts/test does)",
                    binary.display()
                )
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if !self.is_running() {
                self.child = None;
                return Err(format!("mosquitto exited; log:\n{}", self.log()));
            }
            if port_accepts(self.port) {
                // Ours, or another test's broker on the same port (see
                // `listener_owned_by`)? Then ours cannot bind it: try
                // another port.
                if !self.owns(self.port) {
                    self.stop();
                    return Err(format!("port {} is another process's", self.port));
                }
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(format!(
                    "port {} not accepting after {START_TIMEOUT:?}; log:\n{}",
                    self.port,
                    self.log()
                ));
            }
            thread::sleep(POLL);
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn running_as_root() -> bool {
    // No libc: ask `id`, once per broker start (cheap enough for tests).
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// A fresh directory under the system temporary directory.
fn unique_dir(what: &str, port: u16) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("sansmqtt-{what}-{}-{n}-{port}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

/// A scripted broker: listens on 127.0.0.1, accepts connections in a
/// thread, and lets the test read what the client sends and write any bytes
/// back (or nothing). Read and write calls work on the current connection;
/// the first one waits for a client to connect. [`FakeBroker::accept`]
/// moves on to the next connection (a reconnect).
pub struct FakeBroker {
    port: u16,
    incoming: Receiver<TcpStream>,
    conn: Option<TcpStream>,
    /// Bytes read but not consumed yet (by [`FakeBroker::read_packet`]).
    pending: Vec<u8>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl FakeBroker {
    /// Binds 127.0.0.1 on a free port and starts accepting connections.
    pub fn bind() -> (FakeBroker, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let (tx, incoming) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let acceptor = thread::Builder::new()
            .name(format!("fake-broker-{port}"))
            .spawn(move || {
                while !stop2.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let _ = stream.set_nonblocking(false);
                            let _ = stream.set_nodelay(true);
                            if tx.send(stream).is_err() {
                                return;
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(5))
                        }
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
            .expect("spawn the fake broker's acceptor");
        let broker = FakeBroker {
            port,
            incoming,
            conn: None,
            pending: Vec::new(),
            stop,
            acceptor: Some(acceptor),
        };
        (broker, port)
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn uri(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Waits up to `timeout` for the next client connection and makes it
    /// the current one (dropping the previous one, if any).
    pub fn accept(&mut self, timeout: Duration) -> io::Result<()> {
        match self.incoming.recv_timeout(timeout) {
            Ok(stream) => {
                self.conn = Some(stream);
                self.pending.clear();
                Ok(())
            }
            Err(RecvTimeoutError::Timeout) => Err(io::Error::new(
                ErrorKind::TimedOut,
                format!("no client connected within {timeout:?}"),
            )),
            Err(RecvTimeoutError::Disconnected) => {
                Err(io::Error::new(ErrorKind::BrokenPipe, "acceptor stopped"))
            }
        }
    }

    /// Whether a client connection is current.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// The current connection, waiting up to `timeout` for one.
    fn conn(&mut self, timeout: Duration) -> io::Result<&mut TcpStream> {
        if self.conn.is_none() {
            self.accept(timeout)?;
        }
        Ok(self.conn.as_mut().expect("a connection"))
    }

    /// Reads what arrives within `timeout`: the bytes of one read (at least
    /// one byte), or `TimedOut`, or `UnexpectedEof` once the client closed.
    pub fn read_some(&mut self, timeout: Duration) -> io::Result<Vec<u8>> {
        if !self.pending.is_empty() {
            return Ok(std::mem::take(&mut self.pending));
        }
        let deadline = Instant::now() + timeout;
        let conn = self.conn(timeout)?;
        let left = deadline.saturating_duration_since(Instant::now());
        conn.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
        let mut buf = vec![0; 64 * 1024];
        match conn.read(&mut buf) {
            Ok(0) => Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                "client closed the connection",
            )),
            Ok(n) => {
                buf.truncate(n);
                Ok(buf)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(io::Error::new(
                    ErrorKind::TimedOut,
                    format!("nothing received within {timeout:?}"),
                ))
            }
            Err(e) => Err(e),
        }
    }

    /// Reads exactly `n` bytes within `timeout`.
    pub fn read_exact(&mut self, n: usize, timeout: Duration) -> io::Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        while self.pending.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    ErrorKind::TimedOut,
                    format!(
                        "{} of {n} bytes received within {timeout:?}",
                        self.pending.len()
                    ),
                ));
            }
            let more = self.read_raw(left)?;
            self.pending.extend_from_slice(&more);
        }
        let rest = self.pending.split_off(n);
        Ok(std::mem::replace(&mut self.pending, rest))
    }

    /// Reads one whole MQTT control packet (fixed header included) within
    /// `timeout`, by its Remaining Length; bytes after it stay for the next
    /// read.
    pub fn read_packet(&mut self, timeout: Duration) -> io::Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(len) = packet_len(&self.pending)?
                && self.pending.len() >= len
            {
                let rest = self.pending.split_off(len);
                return Ok(std::mem::replace(&mut self.pending, rest));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    ErrorKind::TimedOut,
                    format!(
                        "no whole packet within {timeout:?} (have {:02x?})",
                        self.pending
                    ),
                ));
            }
            let more = self.read_raw(left)?;
            self.pending.extend_from_slice(&more);
        }
    }

    /// Reads packets until one of type `packet_type` (the high nibble of the
    /// first byte: 1 CONNECT, 3 PUBLISH, 8 SUBSCRIBE, 12 PINGREQ, ...)
    /// arrives within `timeout`; returns it and the packets skipped.
    pub fn read_until_type(
        &mut self,
        packet_type: u8,
        timeout: Duration,
    ) -> io::Result<(Vec<u8>, Vec<Vec<u8>>)> {
        let deadline = Instant::now() + timeout;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let packet = self.read_packet(left)?;
            if packet[0] >> 4 == packet_type {
                return Ok((packet, skipped));
            }
            skipped.push(packet);
        }
    }

    /// Whether the client closes the connection within `timeout` (what it
    /// sends meanwhile is discarded).
    pub fn expect_eof(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        self.pending.clear();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.read_raw(left) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::TimedOut => return false,
                Err(_) => return true,
            }
        }
    }

    /// Waits up to `timeout` and fails unless nothing at all arrives (and the
    /// connection stays open).
    pub fn expect_silence(&mut self, timeout: Duration) -> io::Result<()> {
        match self.read_some(timeout) {
            Err(e) if e.kind() == ErrorKind::TimedOut => Ok(()),
            Err(e) => Err(e),
            Ok(bytes) => Err(io::Error::other(format!("unexpected bytes {bytes:02x?}"))),
        }
    }

    /// Writes `bytes` to the current connection (waiting up to 5 s for one).
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let conn = self.conn(START_TIMEOUT)?;
        conn.write_all(bytes)?;
        conn.flush()
    }

    /// Closes the current connection (both directions), as a broker crash
    /// or a network cut would.
    pub fn drop_connection(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = conn.shutdown(Shutdown::Both);
        }
        self.pending.clear();
    }

    /// Stops accepting: new connections are refused from now on (the
    /// current one stays).
    pub fn stop_listening(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }

    /// One read from the socket (ignoring `pending`).
    fn read_raw(&mut self, timeout: Duration) -> io::Result<Vec<u8>> {
        let saved = std::mem::take(&mut self.pending);
        let result = self.read_some(timeout);
        self.pending = saved;
        result
    }
}

impl Drop for FakeBroker {
    fn drop(&mut self) {
        self.drop_connection();
        self.stop_listening();
    }
}

/// A SOCKS5 proxy on a free loopback port: with `credentials` it requires
/// user name and password and refuses others, else no authentication. Each
/// CONNECT is recorded as `ipv4 ADDRESS:PORT`, `ipv6 ...` or `domain
/// NAME:PORT`, then relayed (the name resolved here), or answered with
/// reply 5 (connection refused) when nothing listens there. Its success
/// reply gives the bound address as IPv4 0.0.0.0:0, or with
/// [`Socks5Relay::with_domain_reply`] as a domain name (a form mosquitto
/// 2.0.11's client misreads: it leaves the port bytes in the stream).
/// Stops accepting when dropped.
pub struct Socks5Relay {
    port: u16,
    seen: Arc<std::sync::Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Socks5Relay {
    /// Starts the proxy.
    pub fn start(credentials: Option<(&'static str, &'static str)>) -> Socks5Relay {
        Self::start_with(credentials, false)
    }

    /// Starts the proxy, its success reply naming the bound address as a
    /// domain name.
    pub fn with_domain_reply(credentials: Option<(&'static str, &'static str)>) -> Socks5Relay {
        Self::start_with(credentials, true)
    }

    fn start_with(
        credentials: Option<(&'static str, &'static str)>,
        domain_reply: bool,
    ) -> Socks5Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, stopped) = (seen.clone(), stop.clone());
        thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let log = log.clone();
                        thread::spawn(move || {
                            let _ = client.set_nonblocking(false);
                            let _ = socks5_serve(client, credentials, domain_reply, &log);
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Socks5Relay { port, seen, stop }
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CONNECT requests so far.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Socks5Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn socks5_serve(
    mut c: TcpStream,
    credentials: Option<(&str, &str)>,
    domain_reply: bool,
    log: &std::sync::Mutex<Vec<String>>,
) -> io::Result<()> {
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = [0u8; 2];
    c.read_exact(&mut head)?;
    let mut methods = vec![0u8; usize::from(head[1])];
    c.read_exact(&mut methods)?;
    let want = if credentials.is_some() { 2 } else { 0 };
    if head[0] != 5 || !methods.contains(&want) {
        return c.write_all(&[5, 0xff]);
    }
    c.write_all(&[5, want])?;
    if let Some((user, password)) = credentials {
        let mut v = [0u8; 2];
        c.read_exact(&mut v)?;
        let mut u = vec![0u8; usize::from(v[1])];
        c.read_exact(&mut u)?;
        let mut n = [0u8; 1];
        c.read_exact(&mut n)?;
        let mut p = vec![0u8; usize::from(n[0])];
        c.read_exact(&mut p)?;
        if u != user.as_bytes() || p != password.as_bytes() {
            return c.write_all(&[1, 1]);
        }
        c.write_all(&[1, 0])?;
    }
    let mut req = [0u8; 4];
    c.read_exact(&mut req)?;
    let (kind, host) = match req[3] {
        1 => {
            let mut a = [0u8; 4];
            c.read_exact(&mut a)?;
            ("ipv4", std::net::Ipv4Addr::from(a).to_string())
        }
        4 => {
            let mut a = [0u8; 16];
            c.read_exact(&mut a)?;
            ("ipv6", std::net::Ipv6Addr::from(a).to_string())
        }
        3 => {
            let mut n = [0u8; 1];
            c.read_exact(&mut n)?;
            let mut name = vec![0u8; usize::from(n[0])];
            c.read_exact(&mut name)?;
            ("domain", String::from_utf8_lossy(&name).into_owned())
        }
        _ => return c.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0]),
    };
    let mut port = [0u8; 2];
    c.read_exact(&mut port)?;
    let port = u16::from_be_bytes(port);
    log.lock().unwrap().push(format!("{kind} {host}:{port}"));
    let Ok(upstream) = TcpStream::connect((host.as_str(), port)) else {
        return c.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
    };
    if domain_reply {
        c.write_all(&[5, 0, 0, 3, 4, b'p', b'r', b'x', b'y', 0x1f, 0x90])?;
    } else {
        c.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])?;
    }
    c.set_read_timeout(None)?;
    let (mut c2, mut up2) = (c.try_clone()?, upstream.try_clone()?);
    let mut up = upstream;
    let to_broker = thread::spawn(move || {
        let _ = io::copy(&mut c2, &mut up);
        let _ = up.shutdown(Shutdown::Write);
    });
    let _ = io::copy(&mut up2, &mut c);
    let _ = c.shutdown(Shutdown::Write);
    let _ = to_broker.join();
    Ok(())
}

/// The whole length of the packet at the start of `buf`, once its fixed
/// header is complete; an error for a Remaining Length over 4 bytes.
pub fn packet_len(buf: &[u8]) -> io::Result<Option<usize>> {
    let mut value = 0usize;
    for i in 0..4 {
        let Some(&byte) = buf.get(1 + i) else {
            return Ok(None);
        };
        value |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some(1 + i + 1 + value));
        }
    }
    Err(io::Error::new(
        ErrorKind::InvalidData,
        "malformed Remaining Length",
    ))
}

/// CONNACK 3.1.1, session not present, accepted.
pub const CONNACK_ACCEPTED: [u8; 4] = [0x20, 0x02, 0x00, 0x00];
/// CONNACK 3.1.1, session present, accepted.
pub const CONNACK_SESSION_PRESENT: [u8; 4] = [0x20, 0x02, 0x01, 0x00];
/// CONNACK 3.1.1 refused: not authorized (return code 5).
pub const CONNACK_NOT_AUTHORIZED: [u8; 4] = [0x20, 0x02, 0x00, 0x05];
/// PINGREQ.
pub const PINGREQ: [u8; 2] = [0xc0, 0x00];
/// PINGRESP.
pub const PINGRESP: [u8; 2] = [0xd0, 0x00];
/// DISCONNECT (3.1.1).
pub const DISCONNECT: [u8; 2] = [0xe0, 0x00];

/// A hand-encoded MQTT 3.1.1 CONNECT: clean session, the given client id
/// and keep-alive (seconds), no will, no credentials.
pub fn connect_v311(client_id: &str, keep_alive: u16) -> Vec<u8> {
    let id = client_id.as_bytes();
    let mut body = vec![
        0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name
        0x04, // protocol level: 3.1.1
        0x02, // connect flags: clean session
    ];
    body.extend_from_slice(&keep_alive.to_be_bytes());
    body.extend_from_slice(&(id.len() as u16).to_be_bytes());
    body.extend_from_slice(id);
    with_fixed_header(0x10, &body)
}

/// PUBACK (also PUBREC 0x50, PUBREL 0x62, PUBCOMP 0x70 with `first_byte`)
/// for packet identifier `id`.
pub fn ack(first_byte: u8, id: u16) -> [u8; 4] {
    let [hi, lo] = id.to_be_bytes();
    [first_byte, 0x02, hi, lo]
}

/// SUBACK 3.1.1 for packet identifier `id` granting `codes`.
pub fn suback(id: u16, codes: &[u8]) -> Vec<u8> {
    let mut body = id.to_be_bytes().to_vec();
    body.extend_from_slice(codes);
    with_fixed_header(0x90, &body)
}

/// A 3.1.1 PUBLISH (QoS 0 when `id` is `None`, else QoS `qos`).
pub fn publish(topic: &str, payload: &[u8], qos: u8, id: Option<u16>, retain: bool) -> Vec<u8> {
    let mut body = (topic.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(topic.as_bytes());
    if let Some(id) = id {
        body.extend_from_slice(&id.to_be_bytes());
    }
    body.extend_from_slice(payload);
    with_fixed_header(0x30 | (qos << 1) | u8::from(retain), &body)
}

/// The packet identifier of a PUBLISH (QoS > 0), SUBSCRIBE, UNSUBSCRIBE or
/// ack packet as read by [`FakeBroker::read_packet`].
pub fn packet_id(packet: &[u8]) -> Option<u16> {
    let header = packet_len(packet).ok()??;
    let body_start = header - remaining_length(packet)?;
    let body = &packet[body_start..];
    match packet[0] >> 4 {
        3 => {
            if (packet[0] >> 1) & 3 == 0 {
                return None;
            }
            let topic_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
            let at = 2 + topic_len;
            Some(u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]))
        }
        4..=11 => Some(u16::from_be_bytes([*body.first()?, *body.get(1)?])),
        _ => None,
    }
}

/// The Remaining Length of the packet at the start of `packet`, once its
/// fixed header is complete.
pub fn remaining_length(packet: &[u8]) -> Option<usize> {
    let mut value = 0usize;
    for i in 0..4 {
        let byte = *packet.get(1 + i)?;
        value |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Appends `len` as a Remaining Length (a Variable Byte Integer).
pub fn put_remaining_length(out: &mut Vec<u8>, mut len: usize) {
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            return;
        }
    }
}

/// `first_byte`, the Remaining Length of `body`, then `body`.
pub fn with_fixed_header(first_byte: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first_byte];
    put_remaining_length(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// The aedes version the interoperability tests run (npm `aedes`, the
/// Node.js broker; MQTT 3.1.1 only; needs Node.js 20 or later).
pub const AEDES_VERSION: &str = "1.2.0";

/// Where `npm install --prefix` puts aedes: `target/aedes` of the
/// workspace (`$AEDES_PREFIX` overrides), as `scripts/test` does.
pub fn aedes_prefix() -> PathBuf {
    match std::env::var_os("AEDES_PREFIX") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("target/aedes"),
    }
}

/// The workspace: the parent of the crate whose tests include this file
/// (`mqtt-client/` or an `adapter-*/`).
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// An aedes broker (MQTT 3.1.1 only) on 127.0.0.1, run by Node.js from
/// `aedes.mjs` next to this file; killed when dropped.
pub struct Aedes {
    child: Child,
    port: u16,
}

impl Aedes {
    /// Starts aedes, installing it first (`npm install --prefix
    /// target/aedes aedes@AEDES_VERSION`) when it is missing; `None`, with
    /// a note on stderr, when Node.js or npm is absent or aedes cannot be
    /// installed (the test then skips).
    pub fn start() -> Option<Aedes> {
        let module = aedes_prefix().join("node_modules/aedes/aedes.js");
        if !module.exists() && !install_aedes() {
            return None;
        }
        let script = workspace_root().join("mqtt-client/tests/support/aedes.mjs");
        let mut child = Command::new("node")
            .arg(&script)
            .arg(&module)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().expect("node's stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = io::BufRead::read_line(&mut io::BufReader::new(stdout), &mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let Some(port) = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("aedes did not start: {line:?}");
        };
        Some(Aedes { child, port })
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn uri(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// The broker closes the connection of `client_id` (no DISCONNECT from
    /// the client: its will is published).
    pub fn close_client(&mut self, client_id: &str) {
        let stdin = self.child.stdin.as_mut().expect("aedes's stdin");
        writeln!(stdin, "close {client_id}").expect("write to aedes");
        stdin.flush().expect("flush aedes's stdin");
    }
}

impl Drop for Aedes {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Installs aedes into [`aedes_prefix`] with npm, once per machine (a
/// lock directory keeps parallel tests from installing twice); `false`,
/// with a note, when Node.js or npm is absent or the install failed.
fn install_aedes() -> bool {
    let has = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !has("node") || !has("npm") {
        eprintln!("note: Node.js or npm not found: aedes interoperability test skipped");
        return false;
    }
    let prefix = aedes_prefix();
    let module = prefix.join("node_modules/aedes/aedes.js");
    let _ = fs::create_dir_all(&prefix);
    let lock = prefix.join(".installing");
    let deadline = Instant::now() + Duration::from_secs(300);
    while fs::create_dir(&lock).is_err() {
        if module.exists() {
            return true;
        }
        if Instant::now() > deadline {
            eprintln!("note: aedes install lock {} held too long", lock.display());
            return false;
        }
        thread::sleep(Duration::from_millis(200));
    }
    let ok = module.exists()
        || Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("aedes@{AEDES_VERSION}"))
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    let _ = fs::remove_dir(&lock);
    if !ok {
        eprintln!("note: npm could not install aedes@{AEDES_VERSION}: aedes test skipped");
    }
    ok && module.exists()
}
