//! A fault-injecting TCP proxy on 127.0.0.1: every connection accepted is
//! relayed to the upstream address (a broker), and the [`Plan`] in force
//! decides what goes wrong:
//!
//! - **reset** at a random byte offset: each new connection draws a budget
//!   of bytes (both directions together, uniform in `1..=2 x mean`); the byte
//!   that would exceed it is not relayed and both sides are reset (RST,
//!   `SO_LINGER` 0), often in the middle of a packet;
//! - **delay**: every chunk waits this long before it is relayed;
//! - **trickle**: at most this many bytes per second per direction, relayed
//!   in pieces of at most 16 bytes;
//! - **stall** ([`FaultProxy::stall_current`]): the connections open now
//!   stop relaying in one or both directions without closing (a half-open
//!   link: no RST, no FIN), while new connections are relayed normally;
//! - **refuse** ([`FaultProxy::refuse_for`]): the listener is closed for a
//!   while, so connections are refused (`ECONNREFUSED`), then it listens on
//!   the same port again.
//!
//! Randomness comes from one seeded generator, so a run's faults follow
//! from its seed (the timing of the peers still varies).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

/// How often a stalled direction looks whether it may go on.
const STALL_POLL: Duration = Duration::from_millis(10);
/// Bytes per piece when trickling.
const TRICKLE_PIECE: usize = 16;

/// What goes wrong, for the connections accepted from now on (delay and
/// trickle also apply to the chunks that open connections relay next).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Reset connections at random byte offsets, at most this many more
    /// times (`None`: never).
    pub resets: Option<Resets>,
    /// Added before each chunk is relayed.
    pub delay: Duration,
    /// Bytes per second per direction (`None`: as fast as the sockets go).
    pub trickle: Option<u32>,
}

/// Resets at random byte offsets.
#[derive(Debug, Clone, Copy)]
pub struct Resets {
    /// Mean bytes relayed by a connection before its reset.
    pub mean_bytes: u64,
    /// Resets still to do.
    pub remaining: u32,
}

/// Which direction a stall stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the client to the broker.
    ToBroker,
    /// From the broker to the client.
    ToClient,
    /// Both ways.
    Both,
}

/// What the proxy did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections reset at their byte budget.
    pub resets: u64,
    /// Connections stalled by [`FaultProxy::stall_current`].
    pub stalled: u64,
    /// Bytes relayed, both directions.
    pub bytes: u64,
}

/// One relayed connection, as the proxy keeps it.
struct Link {
    client: Arc<TcpStream>,
    upstream: Arc<TcpStream>,
    tasks: [AbortHandle; 2],
    /// Stop relaying client to broker / broker to client.
    stall: [Arc<AtomicBool>; 2],
    closed: Arc<AtomicBool>,
}

struct Shared {
    upstream: Mutex<SocketAddr>,
    plan: Mutex<Plan>,
    rng: Mutex<fastrand::Rng>,
    links: Mutex<Vec<Link>>,
    accepted: AtomicU64,
    resets: AtomicU64,
    stalled: AtomicU64,
    bytes: AtomicU64,
    refuse_until: Mutex<Option<Instant>>,
    refuse: Notify,
}

/// The proxy; it runs on its own tokio runtime until dropped.
pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
    runtime: Option<Runtime>,
}

impl FaultProxy {
    /// Listens on a free port of 127.0.0.1 and relays to `upstream`, with
    /// no fault until a plan says otherwise; `seed` seeds every random draw.
    pub fn start(upstream: SocketAddr, seed: u64) -> io::Result<FaultProxy> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fault-proxy")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            upstream: Mutex::new(upstream),
            plan: Mutex::new(Plan::default()),
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
            links: Mutex::new(Vec::new()),
            accepted: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            stalled: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            refuse_until: Mutex::new(None),
            refuse: Notify::new(),
        });
        runtime.spawn(accept_loop(listener, port, shared.clone()));
        Ok(FaultProxy {
            port,
            shared,
            runtime: Some(runtime),
        })
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Puts `plan` in force.
    pub fn set_plan(&self, plan: Plan) {
        *lock(&self.shared.plan) = plan;
    }

    /// Stops every fault of the plan (open connections relay normally from
    /// their next chunk; stalls already in place stay).
    pub fn calm(&self) {
        self.set_plan(Plan::default());
    }

    /// Stalls the connections open now in `direction`: their bytes stop
    /// without a reset or a close. Returns how many were stalled.
    pub fn stall_current(&self, direction: Direction) -> usize {
        let links = lock(&self.shared.links);
        let mut n = 0;
        for link in links.iter().filter(|l| !l.closed.load(Ordering::SeqCst)) {
            if matches!(direction, Direction::ToBroker | Direction::Both) {
                link.stall[0].store(true, Ordering::SeqCst);
            }
            if matches!(direction, Direction::ToClient | Direction::Both) {
                link.stall[1].store(true, Ordering::SeqCst);
            }
            n += 1;
        }
        self.shared.stalled.fetch_add(n as u64, Ordering::SeqCst);
        n
    }

    /// Resets (RST) every connection open now; returns how many.
    pub fn reset_all(&self) -> usize {
        let mut links = lock(&self.shared.links);
        let n = links.len();
        for link in links.drain(..) {
            reset(&link);
        }
        n
    }

    /// Refuses connections for `d` (the listening socket is closed), then
    /// listens on the same port again.
    pub fn refuse_for(&self, d: Duration) {
        *lock(&self.shared.refuse_until) = Some(Instant::now() + d);
        self.shared.refuse.notify_one();
    }

    /// Relays new connections to `upstream` from now on.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *lock(&self.shared.upstream) = upstream;
    }

    /// What the proxy did so far.
    pub fn counts(&self) -> Counts {
        Counts {
            accepted: self.shared.accepted.load(Ordering::SeqCst),
            resets: self.shared.resets.load(Ordering::SeqCst),
            stalled: self.shared.stalled.load(Ordering::SeqCst),
            bytes: self.shared.bytes.load(Ordering::SeqCst),
        }
    }

    /// Connections relayed now (neither side closed, not reset).
    pub fn open_connections(&self) -> usize {
        let mut links = lock(&self.shared.links);
        links.retain(|l| !l.closed.load(Ordering::SeqCst));
        links.len()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.reset_all();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Resets both sides of `link` (RST: linger 0, then the last handle
/// dropped) and stops its relaying.
fn reset(link: &Link) {
    link.closed.store(true, Ordering::SeqCst);
    arm_reset(&link.client);
    arm_reset(&link.upstream);
    for t in &link.tasks {
        t.abort();
    }
}

/// `SO_LINGER` 0: closing `s` sends RST instead of FIN (and does not block:
/// the reason tokio deprecates `set_linger` is a positive linger).
#[allow(deprecated)]
fn arm_reset(s: &TcpStream) {
    let _ = s.set_linger(Some(Duration::ZERO));
}

async fn accept_loop(mut listener: TcpListener, port: u16, shared: Arc<Shared>) {
    loop {
        let refusing = *lock(&shared.refuse_until);
        if let Some(until) = refusing {
            drop(listener);
            tokio::time::sleep_until(until.into()).await;
            *lock(&shared.refuse_until) = None;
            listener = loop {
                match TcpListener::bind(("127.0.0.1", port)).await {
                    Ok(l) => break l,
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            };
            continue;
        }
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = shared.refuse.notified() => continue,
        };
        let Ok((client, _)) = accepted else { continue };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let upstream_addr = *lock(&shared.upstream);
        let shared2 = shared.clone();
        tokio::spawn(async move {
            // The broker is down: the client's connection closes (FIN).
            let Ok(upstream) = TcpStream::connect(upstream_addr).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = upstream.set_nodelay(true);
            start_link(client, upstream, shared2);
        });
    }
}

/// Starts relaying between `client` and `upstream`, both ways.
fn start_link(client: TcpStream, upstream: TcpStream, shared: Arc<Shared>) {
    let budget = {
        let mut plan = lock(&shared.plan);
        match &mut plan.resets {
            Some(r) if r.remaining > 0 => {
                let max = r.mean_bytes.max(1) * 2;
                Some(lock(&shared.rng).u64(1..=max))
            }
            _ => None,
        }
    };
    let client = Arc::new(client);
    let upstream = Arc::new(upstream);
    let closed = Arc::new(AtomicBool::new(false));
    let stall = [
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    ];
    // Bytes the connection may still relay before its reset (both ways).
    let left = Arc::new(AtomicU64::new(budget.unwrap_or(u64::MAX)));
    let mut links = lock(&shared.links);
    links.retain(|l| !l.closed.load(Ordering::SeqCst));
    let both: Arc<[AtomicU64; 2]> = Arc::new(Default::default());
    let up = tokio::spawn(relay(
        client.clone(),
        upstream.clone(),
        stall[0].clone(),
        left.clone(),
        closed.clone(),
        shared.clone(),
        (both.clone(), 0),
    ));
    let down = tokio::spawn(relay(
        upstream.clone(),
        client.clone(),
        stall[1].clone(),
        left,
        closed.clone(),
        shared.clone(),
        (both, 1),
    ));
    links.push(Link {
        client,
        upstream,
        tasks: [up.abort_handle(), down.abort_handle()],
        stall,
        closed,
    });
}

/// Relays `from` to `to` until either closes, the budget `left` runs out
/// (then both are reset) or the link is reset from outside.
async fn relay(
    from: Arc<TcpStream>,
    to: Arc<TcpStream>,
    stall: Arc<AtomicBool>,
    left: Arc<AtomicU64>,
    closed: Arc<AtomicBool>,
    shared: Arc<Shared>,
    (both, dir): (Arc<[AtomicU64; 2]>, usize),
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut relayed = 0u64;
    let trace = std::env::var_os("SANSMQTT_FAULTS_PROXY_TRACE");
    let tag = format!("{:?}->{:?}", from.peer_addr().ok(), to.peer_addr().ok());
    let end = |how: &str, relayed: u64| {
        if let Some(path) = &trace {
            use std::io::Write;
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = writeln!(
                    f,
                    "{tag} {relayed} {how} up={} down={}",
                    both[0].load(Ordering::SeqCst),
                    both[1].load(Ordering::SeqCst)
                );
            }
        }
    };
    loop {
        while stall.load(Ordering::SeqCst) {
            tokio::time::sleep(STALL_POLL).await;
        }
        let (delay, trickle) = {
            let plan = lock(&shared.plan);
            (plan.delay, plan.trickle)
        };
        let room = if trickle.is_some() {
            TRICKLE_PIECE
        } else {
            buf.len()
        };
        let n = match read(&from, &mut buf[..room]).await {
            Ok(0) => {
                end("eof", relayed);
                break;
            }
            Err(e) => {
                end(&format!("read error {e}"), relayed);
                break;
            }
            Ok(n) => n,
        };
        // A stall that began while this read waited holds these bytes too.
        while stall.load(Ordering::SeqCst) {
            tokio::time::sleep(STALL_POLL).await;
        }
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if let Some(rate) = trickle {
            let pause = Duration::from_secs_f64(n as f64 / f64::from(rate.max(1)));
            tokio::time::sleep(pause).await;
        }
        let before = left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| {
                Some(l.saturating_sub(n as u64))
            })
            .unwrap_or(0);
        let pass = (before.min(n as u64)) as usize;
        if pass > 0
            && let Err(e) = write_all(&to, &buf[..pass]).await
        {
            end(&format!("write error {e}"), relayed);
            break;
        }
        relayed += pass as u64;
        both[dir].fetch_add(pass as u64, Ordering::SeqCst);
        // `readable()` / `writable()` take nothing from tokio's cooperative
        // budget: a direction that always has bytes (a broker flooding a
        // fast reader) would keep the worker, and the other direction of
        // every link would starve (seen: a subscriber's acknowledgements
        // held for a whole connection while 40 KB went the other way).
        tokio::task::yield_now().await;
        shared.bytes.fetch_add(pass as u64, Ordering::SeqCst);
        if pass < n {
            // The budget ran out inside this chunk: reset both sides.
            let counted = {
                let mut plan = lock(&shared.plan);
                match &mut plan.resets {
                    Some(r) if r.remaining > 0 => {
                        r.remaining -= 1;
                        true
                    }
                    _ => false,
                }
            };
            if counted {
                shared.resets.fetch_add(1, Ordering::SeqCst);
            }
            end("reset", relayed);
            closed.store(true, Ordering::SeqCst);
            arm_reset(&from);
            arm_reset(&to);
            // Dropping the last handles closes both sockets, with RST.
            let mut links = lock(&shared.links);
            links.retain(|l| {
                let this = Arc::ptr_eq(&l.closed, &closed);
                if this {
                    for t in &l.tasks {
                        t.abort();
                    }
                }
                !this
            });
            return;
        }
    }
    // One side closed: pass the close on (FIN) and let the other
    // direction end by itself.
    closed.store(true, Ordering::SeqCst);
    let _ = shutdown_write(&to);
}

async fn read(s: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        s.readable().await?;
        match s.try_read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

async fn write_all(s: &TcpStream, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        s.writable().await?;
        match s.try_write(buf) {
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Half-closes `s` for writing (FIN), through a std handle on the same
/// socket.
fn shutdown_write(s: &TcpStream) -> io::Result<()> {
    use std::os::fd::AsFd;
    let fd = s.as_fd().try_clone_to_owned()?;
    let std_stream = std::net::TcpStream::from(fd);
    std_stream.shutdown(std::net::Shutdown::Write)
}
