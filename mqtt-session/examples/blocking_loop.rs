//! The sans-IO session driven by hand over a blocking `std::net::TcpStream`:
//! no async, no runtime, one thread. This is all a runtime adapter does,
//! written out: write what `poll_transmit` gives, feed what the socket
//! reads to `handle_input`, call `handle_timeout` when `poll_timeout`
//! passes, and act on what `poll_event` reports. Embedding the core in any
//! executor (or none) is this loop in another shape.
//!
//! Starts an embedded rumqttd broker on a free loopback port (or uses the
//! broker given with `--url mqtt://host:port`), connects, subscribes,
//! publishes at QoS 0, 1 and 2 and receives each message back, pings,
//! unsubscribes and disconnects, printing every packet-level event, then
//! exits. Every wait has a deadline: it never hangs.
//!
//! ```sh
//! cargo run -p sansmqtt-session --example blocking_loop
//! cargo run -p sansmqtt-session --example blocking_loop -- --url mqtt://127.0.0.1:1883
//! ```

#[path = "common/broker.rs"]
mod broker;

use std::collections::HashMap;
use std::error::Error;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Duration;

use sansmqtt_session::Instant;

use sansmqtt_proto::{
    MqttString, PacketId, Publish, QoS, SubAckReason, SubscribeProperties, SubscriptionOptions,
    TopicFilter, TopicName, UnsubscribeProperties,
};
use sansmqtt_session::{
    CloseReason, Event, PublishDone, PublishError, RequestError, Session, SessionOptions, Token,
};

/// How long each step (CONNACK, an acknowledgement, a message) may take.
const STEP: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let broker = broker::Broker::from_args("blocking_loop [--url mqtt://host:port]")?;
    println!("broker: {}", broker.describe());
    if broker.is_embedded() {
        // MQTT delivers at the lower of the publish and subscription QoS;
        // rumqttd 0.20 uses the subscription's.
        println!("(rumqttd delivers every message at the subscription's QoS)");
    }

    // 1. A socket and a session. The session only ever sees bytes and
    //    instants; the socket is ours.
    let stream = open(broker.host(), broker.port())?;
    let client_id = MqttString::try_from(format!("blocking-loop-{}", std::process::id()))?;
    let mut conn = Conn::new(stream, Session::new(SessionOptions::new(client_id)));
    conn.session.connect(now())?;
    conn.run_until("CONNACK", |seen| seen.connected.is_some())?;
    println!("connected");

    // 2. Subscribe; the outcome is an event carrying the request's token.
    let filter = TopicFilter::try_from("blocking/#")?;
    let token = conn.session.subscribe(
        vec![(filter, SubscriptionOptions::qos(QoS::ExactlyOnce))],
        SubscribeProperties::default(),
        now(),
    )?;
    conn.run_until("SUBACK", |seen| seen.subscribed.contains_key(&token))?;
    match conn.seen.subscribed.remove(&token) {
        Some(Ok(granted)) => println!("subscribe blocking/#: granted {granted:?}"),
        Some(Err(e)) => return Err(format!("subscribe failed: {e}").into()),
        None => return Err("no SUBACK".into()),
    }

    // 3. Publish at every QoS; each publish ends in one `Published` event
    //    (QoS 0: encoded, QoS 1: PUBACK, QoS 2: PUBCOMP), and the message
    //    comes back through the subscription.
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let level = qos as u8;
        let topic = format!("blocking/qos{level}");
        let publish = Publish::with_qos(
            TopicName::try_from(topic.as_str())?,
            format!("hello at QoS {level}"),
            qos,
            // The session assigns the identifier; any will do here.
            PacketId::MIN,
        );
        let token = conn.session.publish(publish, now())?;
        conn.run_until("the acknowledgement and the message", |seen| {
            seen.published.contains_key(&token) && seen.messages.contains(&topic)
        })?;
        match conn.seen.published.remove(&token) {
            Some(Ok(done)) => println!("publish {topic} at QoS {level}: {}", outcome(&done)),
            Some(Err(e)) => return Err(format!("publish {topic} failed: {e}").into()),
            None => return Err("no outcome".into()),
        }
        conn.seen.messages.retain(|m| *m != topic);
    }

    // 4. A ping the application asks for.
    conn.session.ping(now())?;
    conn.run_until("PINGRESP", |seen| seen.pongs > 0)?;
    println!("ping: PINGRESP received");

    // 5. Unsubscribe.
    let filter = TopicFilter::try_from("blocking/#")?;
    let token = conn
        .session
        .unsubscribe(vec![filter], UnsubscribeProperties::default(), now())?;
    conn.run_until("UNSUBACK", |seen| seen.unsubscribed.contains(&token))?;
    println!("unsubscribed blocking/#");

    // 6. Disconnect: DISCONNECT is queued and the session reports Closed;
    //    write it out, then close the socket.
    conn.session.disconnect(None, now())?;
    conn.run_until("Closed", |seen| seen.closed.is_some())?;
    conn.flush()?;
    let _ = conn.stream.shutdown(Shutdown::Both);
    println!("disconnected");
    Ok(())
}

/// Connects to the first address of `host` that accepts, Nagle off (each
/// `write_all` is a batch of whole packets already).
fn open(host: &str, port: u16) -> io::Result<TcpStream> {
    let mut last = io::Error::new(ErrorKind::NotFound, format!("{host}: no address"));
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, STEP) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// What the events said so far.
#[derive(Debug, Default)]
struct Seen {
    connected: Option<bool>,
    subscribed: HashMap<Token, Result<Vec<Result<QoS, SubAckReason>>, RequestError>>,
    unsubscribed: Vec<Token>,
    published: HashMap<Token, Result<PublishDone, PublishError>>,
    /// Topics of the messages received and not yet looked at.
    messages: Vec<String>,
    pongs: usize,
    closed: Option<CloseReason>,
}

/// A session and its socket: the whole "runtime".
struct Conn {
    stream: TcpStream,
    session: Session,
    seen: Seen,
    buf: Box<[u8]>,
}

impl Conn {
    fn new(stream: TcpStream, session: Session) -> Conn {
        Conn {
            stream,
            session,
            seen: Seen::default(),
            buf: vec![0; 64 * 1024].into_boxed_slice(),
        }
    }

    /// Writes everything the session has to send, in order.
    fn flush(&mut self) -> io::Result<()> {
        while let Some(bytes) = self.session.poll_transmit() {
            self.stream.write_all(&bytes)?;
        }
        Ok(())
    }

    /// Drives the session until `done` holds for what the events said, or
    /// fails after [`STEP`] (or if the connection closes first).
    fn run_until(&mut self, what: &str, done: impl Fn(&Seen) -> bool) -> Result<(), String> {
        let give_up = now() + STEP;
        loop {
            // Out: what the session queued (CONNECT, requests, acks, pings).
            if let Err(e) = self.flush() {
                self.session.connection_lost(now());
                println!("  [io] write failed: {e}");
            }
            // Events: print each, remember what matters.
            while let Some(event) = self.session.poll_event() {
                self.record(event);
            }
            if done(&self.seen) {
                return Ok(());
            }
            if let Some(reason) = &self.seen.closed {
                return Err(format!(
                    "waiting for {what}: the connection closed ({reason})"
                ));
            }
            // Time: the session's next deadline (keep-alive, CONNACK or
            // PINGRESP timeout), and ours.
            let at = now();
            if at >= give_up {
                return Err(format!("no {what} within {STEP:?}"));
            }
            let wake = self
                .session
                .poll_timeout()
                .map_or(give_up, |t| t.min(give_up));
            if wake <= at {
                self.session.handle_timeout(at);
                continue;
            }
            // In: block on the socket until the deadline at most.
            self.stream
                .set_read_timeout(Some((wake - at).max(Duration::from_millis(1))))
                .map_err(|e| e.to_string())?;
            match self.stream.read(&mut self.buf) {
                Ok(0) => {
                    println!("  [io] the broker closed the connection");
                    self.session.connection_lost(now());
                }
                Ok(n) => self.session.handle_input(&self.buf[..n], now()),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    println!("  [io] read failed: {e}");
                    self.session.connection_lost(now());
                }
            }
        }
    }

    /// Prints one event and records what the steps wait for.
    fn record(&mut self, event: Event) {
        let seen = &mut self.seen;
        match event {
            Event::Connected(c) => {
                println!(
                    "  [event] Connected (session present: {})",
                    c.session_present
                );
                seen.connected = Some(c.session_present);
            }
            Event::Message(m) => {
                let p = &m.publish;
                println!(
                    "  [event] Message {} => {:?} (QoS {}, retain {}, dup {}, packet id {})",
                    p.topic,
                    String::from_utf8_lossy(&p.payload),
                    p.qos as u8,
                    p.retain,
                    p.dup,
                    p.packet_id
                        .map_or_else(|| "-".to_owned(), |id| id.get().to_string()),
                );
                seen.messages.push(p.topic.to_string());
            }
            Event::Published { token, result } => {
                println!("  [event] Published #{}: {result:?}", token.get());
                seen.published.insert(token, result);
            }
            Event::Subscribed { token, result, .. } => {
                println!("  [event] Subscribed #{}: {result:?}", token.get());
                seen.subscribed.insert(token, result);
            }
            Event::Unsubscribed { token, result, .. } => {
                println!("  [event] Unsubscribed #{}: {result:?}", token.get());
                seen.unsubscribed.push(token);
            }
            Event::Pong => {
                println!("  [event] Pong");
                seen.pongs += 1;
            }
            Event::Auth(auth) => println!("  [event] Auth {auth:?} (not used here)"),
            Event::AuthSuccess { data } => {
                println!("  [event] AuthSuccess {data:?} (not used here)")
            }
            Event::Closed(reason) => {
                println!("  [event] Closed: {reason}");
                seen.closed = Some(reason);
            }
        }
    }
}

/// What the completed publish means.
fn outcome(done: &PublishDone) -> String {
    let what = match done.qos {
        QoS::AtMostOnce => "written (QoS 0 has no acknowledgement)",
        QoS::AtLeastOnce => "acknowledged (PUBACK)",
        QoS::ExactlyOnce => "complete (PUBREC, PUBREL, PUBCOMP)",
    };
    match &done.reason {
        Some(reason) => format!("{what}, reason {reason:?}"),
        None => what.to_owned(),
    }
}

/// The session's time: what elapsed since the program's first look at the
/// std monotonic clock (any monotonic clock will do; the session reads none).
fn now() -> Instant {
    static ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();
    Instant::from_elapsed(ORIGIN.get_or_init(std::time::Instant::now).elapsed())
}
