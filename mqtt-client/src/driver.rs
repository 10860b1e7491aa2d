//! The one driver loop: owns the `Session` and the transport, runs as a
//! background task of any runtime. It is a hand-written `Future` (no
//! `select!`, no extra tasks): each poll moves every source as far as it can
//! (commands, socket reads, deliveries, socket writes, the timer) and parks
//! on all of them at once.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_channel::{mpsc, oneshot};
use futures_io::{AsyncRead, AsyncWrite};
use sansmqtt_proto::{
    Publish, QoS, SubAckReason, SubscribeProperties, SubscriptionId, SubscriptionOptions,
    TopicFilter,
};
use sansmqtt_session::{
    CloseReason, Event, PublishDone, RequestError, SavedSession, Session, SessionOptions, Token,
};

use crate::backoff::Backoff;
use crate::chan::{self, Commands, ReplySender};
use crate::client::Counters;
use crate::config::{BrokerUri, Config, Qos0Overflow};
use crate::connector::Connector;
use crate::persist::FileStore;
use crate::runtime::{BoxFuture, Runtime, Timer, Transport};
use crate::{ClientError, ConnectionState, Message};

/// Where a publish's outcome goes (a recycled slot, not an allocation).
type PublishReply = ReplySender<Result<PublishDone, ClientError>>;

/// Granted QoS or refusal, per filter.
pub(crate) type SubResults = Vec<Result<QoS, SubAckReason>>;

/// What a `Client` asks of the driver.
pub(crate) enum Command {
    Publish {
        publish: Publish,
        /// Dropped with `PublishError::Expired` if not sent by then.
        expires: Option<Instant>,
        reply: Option<PublishReply>,
    },
    Subscribe {
        filters: Vec<(TopicFilter, SubscriptionOptions)>,
        reply: oneshot::Sender<Result<SubResults, ClientError>>,
    },
    Unsubscribe {
        filters: Vec<TopicFilter>,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    Ping {
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    Disconnect {
        reply: oneshot::Sender<()>,
    },
    Reconnect {
        reply: oneshot::Sender<Result<bool, ClientError>>,
    },
    Route {
        id: u64,
        filter: TopicFilter,
        qos: QoS,
        sender: chan::Sender<Message>,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    Unroute {
        id: u64,
    },
    WatchState {
        sender: mpsc::UnboundedSender<ConnectionState>,
    },
}

/// Who waits for a session outcome.
enum Waiter {
    Publish(PublishReply),
    /// With the filters, to forget those that were refused or never acknowledged.
    Subscribe(
        oneshot::Sender<Result<SubResults, ClientError>>,
        Vec<TopicFilter>,
    ),
    /// A subscribe made for subscription streams: their routes wait on it.
    RouteSubscribe(TopicFilter, QoS),
    Unsubscribe(oneshot::Sender<Result<(), ClientError>>),
    /// Bookkeeping only (resubscribe after reconnect, unsubscribe on drop).
    Quiet,
}

/// A subscription stream's route.
struct Route {
    id: u64,
    filter: TopicFilter,
    sender: chan::Sender<Message>,
    /// Replies waiting for the broker subscription this route needs.
    ready: Option<oneshot::Sender<Result<(), ClientError>>>,
}

/// A broker subscription the client keeps (restored after a reconnect
/// without session).
#[derive(Clone, Copy)]
struct Kept {
    qos: QoS,
    /// Made with `subscribe()` (not only for streams): survives the streams.
    explicit: bool,
    /// MQTT 5 Subscription Identifier of the broker subscription: a broker
    /// may send one copy of a message per matching subscription, each with
    /// its identifier, and each stream takes only its own.
    sid: Option<SubscriptionId>,
}

/// Transport connection state.
enum Link {
    /// No transport; (re)connect at the deadline, or never (`None`).
    Down(Option<Instant>),
    Opening(BoxFuture<io::Result<Box<dyn Transport>>>),
    Up(Box<dyn Transport>),
    /// Flushing the last bytes (DISCONNECT) before closing.
    Closing(Box<dyn Transport>),
    /// For good: commands fail with `Closed`.
    Stopped,
}

/// What the driver shares with the client handles.
pub(crate) struct Links {
    pub(crate) commands: Arc<Commands<Command>>,
    pub(crate) deliver: chan::Sender<Message>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) last_io_error: Arc<std::sync::Mutex<Option<String>>>,
}

/// The session of a client: with its file store when the config has
/// `persistence` (what the file holds restored), else in memory only.
pub(crate) fn new_session(
    mut options: SessionOptions,
    persistence: Option<&std::path::Path>,
) -> Result<Session<Option<FileStore>>, ClientError> {
    // Acknowledgements go out once a message is handed to its receivers.
    options.manual_ack = true;
    let Some(dir) = persistence else {
        return Ok(Session::with_store(options, None));
    };
    let path = FileStore::file_in(dir, options.client_id.as_str());
    // Its errors name the file.
    let (store, saved): (FileStore, Option<SavedSession>) = FileStore::open(&path, options.version)
        .map_err(|e| ClientError::Persistence(e.to_string()))?;
    let mut session = Session::with_store(options, Some(store));
    // No file: a new session, whose first connection starts as configured.
    // A file, even with nothing in flight: the session of an earlier
    // process, resumed (its subscriptions live at the broker).
    let Some(saved) = saved else {
        return Ok(session);
    };
    let resumed = saved.outgoing.len() + saved.incoming.len();
    session
        .restore(saved)
        .map_err(|e| ClientError::Persistence(format!("session file {}: {e}", path.display())))?;
    if resumed > 0 {
        log::info!(
            "{}: resuming {resumed} messages in flight from {}",
            session.options().client_id.as_str(),
            path.display()
        );
    }
    Ok(session)
}

pub(crate) struct Driver {
    connector: Arc<dyn Connector>,
    /// Shared with the client handles.
    config: Arc<Config>,
    uris: Vec<BrokerUri>,
    next_uri: usize,
    session: Session<Option<FileStore>>,
    link: Link,
    commands: Arc<Commands<Command>>,
    commands_done: bool,
    timer: Pin<Box<dyn Timer>>,
    timer_at: Option<Instant>,
    out: VecDeque<Bytes>,
    /// Bytes in `out`, kept so that no hot path sums it.
    out_len: usize,
    /// Bytes written to transports so far (a position in the stream).
    written: u64,
    /// QoS 0 publishes resolve once the socket took their last byte.
    qos0_waiters: VecDeque<(u64, PublishDone, PublishReply)>,
    waiters: HashMap<Token, Waiter>,
    pings: VecDeque<oneshot::Sender<Result<(), ClientError>>>,
    /// Pings asked for while not connected: sent once connected.
    pings_offline: Vec<oneshot::Sender<Result<(), ClientError>>>,
    reconnects: Vec<oneshot::Sender<Result<bool, ClientError>>>,
    disconnects: Vec<oneshot::Sender<()>>,
    routes: Vec<Route>,
    /// Scratch buffer of `drain_inbox`.
    targets: Vec<usize>,
    kept: HashMap<TopicFilter, Kept>,
    deliver: chan::Sender<Message>,
    /// Messages waiting for room in their receivers (backpressure): reading
    /// stops until they are delivered, so acknowledgements are withheld.
    inbox: VecDeque<(Message, Option<sansmqtt_session::AckId>)>,
    watchers: Vec<mpsc::UnboundedSender<ConnectionState>>,
    state: ConnectionState,
    backoff: Backoff,
    /// The application asked to be disconnected: no automatic reconnect.
    stay_down: bool,
    read_hint: usize,
    /// When bytes last came from the broker.
    last_read: Instant,
    /// When the transport being opened must be up (`connect_timeout`).
    opening_deadline: Instant,
    /// When the transport being closed is gone, reconnect at this instant.
    pending_reconnect_at: Option<Instant>,
    /// The last error opening a transport, for the first connect's error.
    last_io_error: Arc<std::sync::Mutex<Option<String>>>,
    counters: Arc<Counters>,
    /// MQTT 5 with a broker that has Subscription Identifiers.
    use_sids: bool,
    next_sid: u32,
}

const MAX_READ: usize = 64 * 1024;
/// Commands handled before the driver writes what they produced.
const COMMAND_BATCH: usize = 256;
/// Encoded bytes waiting for the socket above which no new command is taken.
const OUT_LIMIT: usize = 256 * 1024;
/// Messages decoded but not yet delivered beyond which reading stops.
const INBOX_MAX: usize = 1024;
/// The first read size: a quiet connection (one of many) holds 512 bytes
/// of read buffer; a full read doubles the next, up to [`MAX_READ`].
const MIN_READ: usize = 512;
/// The smallest replacement for a read buffer that messages still hold.
const HELD_READ_BUFFER: usize = 12 * 1024;

impl Driver {
    pub(crate) fn new(
        runtime: &dyn Runtime,
        connector: Arc<dyn Connector>,
        config: Arc<Config>,
        uris: Vec<BrokerUri>,
        session: Session<Option<FileStore>>,
        links: Links,
    ) -> Self {
        let Links {
            commands,
            deliver,
            counters,
            last_io_error,
        } = links;
        let use_sids = session.options().version.is_v5();
        let now = Instant::now();
        // The first delay is a fifth of the cap, doubling up to it: with the
        // seed's defaults (10 s, 2 retries) that is 1-2 s then 2-4 s, the
        // schedule distmqtt meant (2 s, 4 s), which rides out a 3 s outage.
        let backoff = Backoff::new(
            config.reconnect_max_interval / 5,
            config.reconnect_max_interval,
            config.reconnect_retries,
        );
        Self {
            timer: runtime.timer(now + Duration::from_secs(3600)),
            connector,
            config,
            uris,
            next_uri: 0,
            session,
            link: Link::Down(Some(now)),
            commands,
            commands_done: false,
            timer_at: None,
            out: VecDeque::new(),
            out_len: 0,
            written: 0,
            qos0_waiters: VecDeque::new(),
            waiters: HashMap::new(),
            pings: VecDeque::new(),
            pings_offline: Vec::new(),
            reconnects: Vec::new(),
            disconnects: Vec::new(),
            routes: Vec::new(),
            targets: Vec::new(),
            kept: HashMap::new(),
            deliver,
            inbox: VecDeque::new(),
            watchers: Vec::new(),
            state: ConnectionState::Connecting { attempt: 1 },
            backoff,
            stay_down: false,
            read_hint: MIN_READ,
            last_read: now,
            opening_deadline: now,
            pending_reconnect_at: None,
            last_io_error,
            counters,
            use_sids,
            next_sid: 0,
        }
    }

    fn set_state(&mut self, state: ConnectionState) {
        if self.state == state {
            return;
        }
        self.log_state(&state);
        self.state = state.clone();
        self.watchers
            .retain(|w| w.unbounded_send(state.clone()).is_ok());
    }

    /// The client identifier, for the log.
    fn client_id(&self) -> &str {
        self.session.options().client_id.as_str()
    }

    /// The broker URI of the current (or last) connection attempt.
    fn current_uri(&self) -> &BrokerUri {
        let n = self.uris.len();
        &self.uris[(self.next_uri + n - 1) % n]
    }

    /// The connection's life in the log (`log` crate, target
    /// `sansmqtt::driver`): client identifier, broker URI (never its
    /// password: `BrokerUri`'s `Display`), state and cause.
    fn log_state(&self, state: &ConnectionState) {
        let id = self.client_id();
        let uri = self.current_uri();
        match state {
            // Logged by `poll_link` at each attempt (the first included).
            ConnectionState::Connecting { .. } => {}
            ConnectionState::Connected { session_present } => {
                log::info!("{id}: connected to {uri} (session present: {session_present})");
            }
            // Logged with its delay by `schedule_reconnect`.
            ConnectionState::Reconnecting { .. } => {}
            ConnectionState::Disconnected {
                reason: Some(CloseReason::ClientDisconnect),
            } => log::info!("{id}: disconnected from {uri}"),
            ConnectionState::Disconnected {
                reason: Some(reason),
            } => log::warn!("{id}: connection to {uri} ended: {reason}"),
            ConnectionState::Disconnected { reason: None } => {
                let cause = chan::lock(&self.last_io_error)
                    .clone()
                    .unwrap_or_else(|| "unknown cause".to_owned());
                log::warn!("{id}: could not connect to {uri}: {cause}");
            }
            ConnectionState::Closed => log::info!("{id}: closed"),
        }
    }

    // -------------------------------------------------------------- commands

    fn handle_command(&mut self, command: Command, now: Instant) {
        if matches!(self.link, Link::Stopped) {
            fail_command(command);
            return;
        }
        match command {
            Command::Publish {
                publish,
                expires,
                reply,
            } => match self.session.publish_until(publish, expires, now) {
                Ok(token) => {
                    if let Some(reply) = reply {
                        self.waiters.insert(token, Waiter::Publish(reply));
                    }
                }
                Err(e) => {
                    if let Some(reply) = reply {
                        reply.send(Err(e.into()));
                    }
                }
            },
            Command::Subscribe { filters, reply } => {
                let kept: Vec<_> = filters.iter().map(|(f, o)| (f.clone(), o.qos)).collect();
                let sid = self.packet_sid(kept.iter().map(|(f, _)| f));
                match self.session.subscribe(filters, sub_properties(sid), now) {
                    Ok(token) => {
                        let asked = kept.iter().map(|(f, _)| f.clone()).collect();
                        for (f, qos) in kept {
                            let k = self.kept.entry(f).or_insert(Kept {
                                qos,
                                explicit: true,
                                sid,
                            });
                            k.explicit = true;
                            k.qos = k.qos.max(qos);
                            k.sid = sid;
                        }
                        self.waiters.insert(token, Waiter::Subscribe(reply, asked));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Command::Unsubscribe { filters, reply } => {
                // A filter that live subscription streams still use stays
                // subscribed at the broker (they would go silent); it only
                // stops being kept for its own sake.
                let mut filters = filters;
                for f in &filters {
                    if let Some(k) = self.kept.get_mut(f) {
                        k.explicit = false;
                    }
                }
                filters.retain(|f| !self.routes.iter().any(|r| &r.filter == f));
                for f in &filters {
                    self.kept.remove(f);
                }
                if filters.is_empty() {
                    let _ = reply.send(Ok(()));
                    return;
                }
                match self.session.unsubscribe(filters, Default::default(), now) {
                    Ok(token) => {
                        self.waiters.insert(token, Waiter::Unsubscribe(reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            // While not connected the ping waits for the connection, like
            // every other call made during an outage.
            Command::Ping { reply } if !self.session.is_connected() => {
                self.pings_offline.push(reply);
            }
            Command::Ping { reply } => match self.session.ping(now) {
                Ok(()) => self.pings.push_back(reply),
                Err(_) => {
                    let _ = reply.send(Err(ClientError::Closed));
                }
            },
            Command::Disconnect { reply } => {
                self.stay_down = true;
                let _ = self.session.disconnect(None, now);
                self.disconnects.push(reply);
                if let Link::Down(_) | Link::Opening(_) = self.link {
                    self.link = Link::Down(None);
                    self.set_state(ConnectionState::Disconnected {
                        reason: Some(CloseReason::ClientDisconnect),
                    });
                    for d in self.disconnects.drain(..) {
                        let _ = d.send(());
                    }
                }
            }
            Command::Reconnect { reply } => {
                self.stay_down = false;
                self.reconnects.push(reply);
                match std::mem::replace(&mut self.link, Link::Down(Some(now))) {
                    Link::Up(t) | Link::Closing(t) => {
                        let _ = self.session.disconnect(None, now);
                        self.link = Link::Closing(t);
                    }
                    other @ Link::Opening(_) => self.link = other,
                    _ => {
                        self.backoff.reset();
                    }
                }
            }
            Command::Route {
                id,
                filter,
                qos,
                sender,
                reply,
            } => {
                if sender.is_closed() {
                    // The stream was dropped before its route was made.
                    let _ = reply.send(Ok(()));
                    return;
                }
                let needs = !matches!(self.kept.get(&filter), Some(k) if k.qos >= qos);
                let ready = if needs {
                    Some(reply)
                } else {
                    // Already subscribed at this QoS or above: ready now.
                    let _ = reply.send(Ok(()));
                    None
                };
                self.routes.push(Route {
                    id,
                    filter: filter.clone(),
                    sender,
                    ready,
                });
                if !needs {
                    return;
                }
                let sid = self.packet_sid(std::iter::once(&filter));
                let k = self.kept.entry(filter.clone()).or_insert(Kept {
                    qos,
                    explicit: false,
                    sid,
                });
                k.qos = k.qos.max(qos);
                k.sid = sid;
                let qos = k.qos;
                match self.session.subscribe(
                    vec![(filter.clone(), SubscriptionOptions::qos(qos))],
                    sub_properties(sid),
                    now,
                ) {
                    Ok(token) => {
                        self.waiters
                            .insert(token, Waiter::RouteSubscribe(filter, qos));
                    }
                    Err(e) => self.routes_ready(&filter, Err(e.into())),
                }
            }
            Command::Unroute { id } => {
                let Some(i) = self.routes.iter().position(|r| r.id == id) else {
                    return;
                };
                let route = self.routes.remove(i);
                let still_used = self.routes.iter().any(|r| r.filter == route.filter);
                let explicit = self.kept.get(&route.filter).is_some_and(|k| k.explicit);
                if !still_used && !explicit {
                    self.kept.remove(&route.filter);
                    if let Ok(token) =
                        self.session
                            .unsubscribe(vec![route.filter], Default::default(), now)
                    {
                        self.waiters.insert(token, Waiter::Quiet);
                    }
                }
            }
            Command::WatchState { sender } => {
                if sender.unbounded_send(self.state.clone()).is_ok() {
                    self.watchers.push(sender);
                }
            }
        }
    }

    /// The Subscription Identifier of a SUBSCRIBE of `filters` (one per
    /// packet): the one they already share, else a new one; none without
    /// MQTT 5 identifiers, or when they have different ones (then the
    /// streams of these filters are routed by topic alone).
    fn packet_sid<'a>(
        &mut self,
        filters: impl Iterator<Item = &'a TopicFilter>,
    ) -> Option<SubscriptionId> {
        if !self.use_sids {
            return None;
        }
        let mut shared = None;
        for sid in filters.filter_map(|f| self.kept.get(f).and_then(|k| k.sid)) {
            match shared {
                None => shared = Some(sid),
                Some(s) if s == sid => {}
                Some(_) => return None,
            }
        }
        shared.or_else(|| {
            self.next_sid = self.next_sid % sansmqtt_proto::MAX_VAR_INT + 1;
            SubscriptionId::new(self.next_sid)
        })
    }

    /// Answers the routes waiting for the broker subscription of `filter`.
    fn routes_ready(&mut self, filter: &TopicFilter, result: Result<(), ClientError>) {
        for r in self.routes.iter_mut().filter(|r| &r.filter == filter) {
            if let Some(reply) = r.ready.take() {
                let _ = reply.send(result.clone());
            }
        }
        if result.is_err() {
            self.routes.retain(|r| &r.filter != filter);
        }
    }

    // ---------------------------------------------------------------- events

    fn handle_events(&mut self, now: Instant) {
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Connected(c) => {
                    self.backoff.reset();
                    if self.use_sids
                        && c.properties.subscription_identifier_available == Some(false)
                    {
                        self.use_sids = false;
                        self.kept.values_mut().for_each(|k| k.sid = None);
                    }
                    self.set_state(ConnectionState::Connected {
                        session_present: c.session_present,
                    });
                    for r in self.reconnects.drain(..) {
                        let _ = r.send(Ok(c.session_present));
                    }
                    if !c.session_present {
                        self.resubscribe(now);
                    }
                    for p in std::mem::take(&mut self.pings_offline) {
                        match self.session.ping(now) {
                            Ok(()) => self.pings.push_back(p),
                            Err(_) => {
                                let _ = p.send(Err(ClientError::Closed));
                            }
                        }
                    }
                }
                Event::Message(m) => {
                    self.inbox.push_back((Message::new(m.publish), m.ack));
                }
                Event::Published { token, result } => {
                    if let Some(Waiter::Publish(reply)) = self.waiters.remove(&token) {
                        match result {
                            // QoS 0 is complete once written to the transport:
                            // its end is at the bytes encoded so far.
                            Ok(done) if done.qos == QoS::AtMostOnce => {
                                let end = self.written
                                    + self.out_len as u64
                                    + self.session.pending_transmit() as u64;
                                self.qos0_waiters.push_back((end, done, reply));
                            }
                            result => reply.send(result.map_err(ClientError::from)),
                        }
                    }
                }
                Event::Subscribed { token, result, .. } => match self.waiters.remove(&token) {
                    Some(Waiter::Subscribe(reply, asked)) => {
                        // A filter the broker refused, or a request that was
                        // never acknowledged, is not restored after a reconnect.
                        let failed: Vec<&TopicFilter> = match &result {
                            Ok(results) => asked
                                .iter()
                                .zip(results)
                                .filter(|(_, r)| r.is_err())
                                .map(|(f, _)| f)
                                .collect(),
                            Err(_) => asked.iter().collect(),
                        };
                        for f in failed {
                            if !self.routes.iter().any(|r| &r.filter == f) {
                                self.kept.remove(f);
                            } else if let Some(k) = self.kept.get_mut(f) {
                                k.explicit = false;
                            }
                        }
                        let _ = reply.send(result.map_err(ClientError::from));
                    }
                    Some(Waiter::RouteSubscribe(filter, _qos)) => {
                        let outcome = match result {
                            Ok(results) => match results.first() {
                                Some(Ok(_)) => Ok(()),
                                Some(Err(reason)) => Err(ClientError::Request(
                                    RequestError::NotSupported(refusal(*reason)),
                                )),
                                None => Ok(()),
                            },
                            Err(e) => Err(e.into()),
                        };
                        if outcome.is_err() {
                            self.kept.remove(&filter);
                        }
                        self.routes_ready(&filter, outcome);
                    }
                    _ => {}
                },
                Event::Unsubscribed { token, result, .. } => {
                    if let Some(Waiter::Unsubscribe(reply)) = self.waiters.remove(&token) {
                        let _ = reply.send(result.map(|_| ()).map_err(ClientError::from));
                    }
                }
                Event::Pong => {
                    // One PINGRESP answers every ping waiting for it (the
                    // session sends one PINGREQ at a time).
                    for p in self.pings.drain(..) {
                        let _ = p.send(Ok(()));
                    }
                }
                Event::Auth(_) => {}
                Event::Closed(reason) => self.closed(reason, now),
            }
        }
    }

    /// Restores the broker subscriptions the client keeps (the broker
    /// started a new session).
    fn resubscribe(&mut self, now: Instant) {
        let all: Vec<(TopicFilter, Kept)> =
            self.kept.iter().map(|(f, k)| (f.clone(), *k)).collect();
        for (filter, k) in all {
            let sid = self.packet_sid(std::iter::once(&filter));
            if let Some(kept) = self.kept.get_mut(&filter) {
                kept.sid = sid;
            }
            if let Ok(token) = self.session.subscribe(
                vec![(filter, SubscriptionOptions::qos(k.qos))],
                sub_properties(sid),
                now,
            ) {
                self.waiters.insert(token, Waiter::Quiet);
            }
        }
    }

    fn closed(&mut self, reason: CloseReason, now: Instant) {
        for p in self.pings.drain(..) {
            let _ = p.send(Err(ClientError::Connection(reason.clone())));
        }
        // Set again below if a reconnect is wanted: a stale instant from an
        // earlier loss would reconnect after a refusal or without auto_reconnect.
        self.pending_reconnect_at = None;
        // Flush what the session queued (DISCONNECT), then close. A transport
        // already closing (`reconnect()` on a live link) is kept too:
        // dropping it would lose its DISCONNECT.
        self.link = match std::mem::replace(&mut self.link, Link::Down(None)) {
            Link::Up(t) | Link::Closing(t) => Link::Closing(t),
            Link::Stopped => Link::Stopped,
            _ => Link::Down(None),
        };
        let refused = matches!(reason, CloseReason::Refused { .. });
        if refused {
            for r in self.reconnects.drain(..) {
                let _ = r.send(Err(ClientError::Connection(reason.clone())));
            }
        }
        self.set_state(ConnectionState::Disconnected {
            reason: Some(reason),
        });
        let wanted = (self.config.auto_reconnect && !refused) || !self.reconnects.is_empty();
        if !self.stay_down && wanted {
            self.schedule_reconnect(now);
        }
    }

    fn schedule_reconnect(&mut self, now: Instant) {
        match self.backoff.next_delay() {
            Some(delay) => {
                let at = now + delay;
                log::info!(
                    "{}: reconnecting in {delay:.1?} (retry {})",
                    self.client_id(),
                    self.backoff.attempt()
                );
                if let Link::Down(_) = self.link {
                    self.link = Link::Down(Some(at));
                }
                self.pending_reconnect_at = Some(at);
                self.set_state(ConnectionState::Reconnecting {
                    attempt: self.backoff.attempt(),
                });
            }
            None => self.give_up(),
        }
    }

    /// Reconnection gave up (retries exhausted) or the client is gone.
    fn give_up(&mut self) {
        self.session.abandon();
        self.link = Link::Stopped;
        self.handle_events(Instant::now());
        for (_, _, reply) in self.qos0_waiters.drain(..) {
            reply.send(Err(ClientError::Closed));
        }
        for (_, w) in self.waiters.drain() {
            fail_waiter(w);
        }
        for r in self.reconnects.drain(..) {
            let _ = r.send(Err(ClientError::Closed));
        }
        for p in self.pings_offline.drain(..) {
            let _ = p.send(Err(ClientError::Closed));
        }
        for r in self.routes.iter_mut() {
            if let Some(reply) = r.ready.take() {
                let _ = reply.send(Err(ClientError::Closed));
            }
        }
        self.routes.clear();
        self.deliver.close_channel();
        self.set_state(ConnectionState::Closed);
    }

    // ---------------------------------------------------------------- inbox

    /// Hands messages to their receivers; `false` if one is full (then the
    /// driver stops reading until it has room: backpressure, acks withheld).
    fn drain_inbox(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        // One buffer of receiver indexes, reused for every message.
        let mut targets = std::mem::take(&mut self.targets);
        let room = self.drain_inbox_with(cx, now, &mut targets);
        self.targets = targets;
        room
    }

    fn drain_inbox_with(
        &mut self,
        cx: &mut Context<'_>,
        now: Instant,
        targets: &mut Vec<usize>,
    ) -> bool {
        while let Some((message, _)) = self.inbox.front() {
            let topic = message.topic();
            let live =
                |r: &Route| r.ready.is_none() && !r.sender.is_closed() && r.filter.matches(topic);
            // MQTT 5: the copy is for the subscriptions it names.
            let ids = &message.properties().subscription_identifiers;
            targets.clear();
            targets.extend(
                self.routes
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| {
                        live(r)
                            && (ids.is_empty()
                                || self
                                    .kept
                                    .get(&r.filter)
                                    .and_then(|k| k.sid)
                                    .is_none_or(|sid| ids.contains(&sid)))
                    })
                    .map(|(i, _)| i),
            );
            // A copy sent for a subscription of no stream while streams
            // match: they get (or got) their own copy; not deliver_message's.
            let duplicate = targets.is_empty() && !ids.is_empty() && self.routes.iter().any(live);
            // Every receiver must have room before the message is delivered,
            // so that no copy is sent twice. A full receiver makes the
            // driver wait, or, for QoS 0 under `Qos0Overflow::Drop`, loses
            // its copy (counted).
            let may_drop =
                self.config.qos0_overflow == Qos0Overflow::Drop && message.qos() == QoS::AtMostOnce;
            let mut dropped = 0u64;
            let mut to_deliver = targets.is_empty() && !duplicate;
            if to_deliver {
                if self.deliver.poll_ready(cx).is_pending() {
                    if !may_drop {
                        return false;
                    }
                    to_deliver = false;
                    dropped += 1;
                }
            } else {
                let mut full = false;
                let routes = &self.routes;
                targets.retain(|&i| {
                    if routes[i].sender.poll_ready(cx).is_ready() {
                        return true;
                    }
                    if may_drop {
                        dropped += 1;
                        false
                    } else {
                        full = true;
                        true
                    }
                });
                if full {
                    return false;
                }
            }
            if dropped > 0 {
                self.counters
                    .qos0_dropped
                    .fetch_add(dropped, std::sync::atomic::Ordering::Relaxed);
            }
            let Some((message, ack)) = self.inbox.pop_front() else {
                break;
            };
            match targets.split_last() {
                None => {
                    if to_deliver {
                        let _ = self.deliver.try_send(message);
                    }
                }
                Some((&last, others)) => {
                    for &i in others {
                        let _ = self.routes[i].sender.try_send(message.clone());
                    }
                    // The last receiver takes the message itself: no copy.
                    let _ = self.routes[last].sender.try_send(message);
                }
            }
            if let Some(ack) = ack {
                let _ = self.session.ack(ack, now);
            }
        }
        true
    }

    // ------------------------------------------------------------------ link

    fn poll_link(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut progress = false;
        match &mut self.link {
            Link::Down(Some(at)) if *at <= now && !self.stay_down => {
                let uri = self.uris[self.next_uri % self.uris.len()].clone();
                self.next_uri += 1;
                let attempt = self.backoff.attempt().max(1);
                log::debug!(
                    "{}: connecting to {uri} (attempt {attempt})",
                    self.client_id()
                );
                self.set_state(ConnectionState::Connecting { attempt });
                self.link = Link::Opening(self.connector.connect(&uri));
                self.opening_deadline = now + self.config.connect_timeout;
                progress = true;
            }
            Link::Opening(fut) => {
                match timed_out(fut.as_mut().poll(cx), now >= self.opening_deadline) {
                    Poll::Ready(Ok(transport)) => {
                        self.drop_out();
                        *chan::lock(&self.last_io_error) = None;
                        match self.session.connect(now) {
                            Ok(()) => self.link = Link::Up(transport),
                            Err(e) => {
                                self.link = Link::Stopped;
                                for r in self.reconnects.drain(..) {
                                    let _ = r.send(Err(ClientError::Io(e.to_string())));
                                }
                                self.give_up();
                            }
                        }
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => {
                        self.link = Link::Down(None);
                        // Stored before the state changes: the first
                        // connect's caller reads it on that change.
                        *chan::lock(&self.last_io_error) = Some(e.to_string());
                        self.set_state(ConnectionState::Disconnected { reason: None });
                        if self.config.auto_reconnect || !self.reconnects.is_empty() {
                            self.schedule_reconnect(now);
                        }
                        progress = true;
                    }
                    Poll::Pending => {}
                }
            }
            _ => {}
        }
        progress
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let Link::Up(transport) = &mut self.link else {
            return false;
        };
        let version = self.session.options().version;
        let max_packet = self.session.options().max_incoming_packet;
        let buf = self.session.input_buffer();
        let start = buf.len();
        // A packet larger than what is buffered (a large payload arriving
        // in pieces) gets room for all of it at once: growing the buffer
        // read by read would copy the partial payload again each time.
        let packet = match sansmqtt_proto::peek_header(&buf[..], version, max_packet) {
            Ok(Some(h)) if h.total > start => h.total - start,
            _ => 0,
        };
        let room = buf.capacity() - start;
        let read_len = if packet > self.read_hint * 3 {
            // A large packet in progress: a buffer of exactly its size
            // (`BytesMut::reserve` may double and copy), filled by reads
            // that stop at its end, so it never has to grow.
            if packet > room {
                let mut fresh = bytes::BytesMut::with_capacity(start + packet);
                fresh.extend_from_slice(&buf[..]);
                *buf = fresh;
            }
            packet.min(self.read_hint)
        } else if packet > 0 && packet <= room && room < self.read_hint {
            // The end of a packet that fits where it is: read just that
            // rather than grow (and copy) a buffer holding a large payload.
            packet
        } else {
            if room < self.read_hint && !buf.try_reclaim(self.read_hint) {
                // Messages keep slices of the buffer they were read into:
                // a buffer that nothing holds any more is reused in place
                // (a connection that only reads acknowledgements keeps its
                // first 512 bytes); one that is still held is replaced.
                // The new one has room for three reads at the current size
                // and at least 12 KiB, so that messages held a while cost
                // an allocation per dozens of them, not one each; a busy
                // connection (64 KiB reads) gets 192 KiB at a time.
                let size = if buf.capacity() == 0 {
                    self.read_hint
                } else {
                    (self.read_hint * 3).max(HELD_READ_BUFFER)
                };
                buf.reserve(size);
            }
            self.read_hint
        };
        buf.resize(start + read_len, 0);
        match Pin::new(transport).poll_read(cx, &mut buf[start..]) {
            Poll::Ready(Ok(0)) => {
                buf.truncate(start);
                self.session.connection_lost(now);
                self.link = Link::Down(None);
                true
            }
            Poll::Ready(Err(e)) => {
                buf.truncate(start);
                // Before CONNACK, the transport's error is the first
                // connect's answer (e.g. a TLS alert: certificate required).
                if !self.session.is_connected() {
                    *chan::lock(&self.last_io_error) = Some(e.to_string());
                }
                self.session.connection_lost(now);
                self.link = Link::Down(None);
                true
            }
            Poll::Ready(Ok(n)) => {
                buf.truncate(start + n);
                self.last_read = now;
                // Read sizes follow the traffic: a full read doubles the next one.
                self.read_hint = if n == self.read_hint {
                    (n * 2).min(MAX_READ)
                } else {
                    self.read_hint.max(MIN_READ)
                };
                self.session.process_input(now);
                true
            }
            Poll::Pending => {
                buf.truncate(start);
                false
            }
        }
    }

    /// Drops what was not written (the transport is gone) and fails the
    /// QoS 0 publishes among it: they never reached the broker.
    fn drop_out(&mut self) {
        self.out.clear();
        self.out_len = 0;
        for (_, _, reply) in self.qos0_waiters.drain(..) {
            reply.send(Err(ClientError::Connection(CloseReason::ConnectionLost)));
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        while let Some(b) = self.session.poll_transmit() {
            self.out_len += b.len();
            self.out.push_back(b);
        }
        let transport = match &mut self.link {
            Link::Up(t) | Link::Closing(t) => t,
            _ => {
                self.drop_out();
                return false;
            }
        };
        let mut progress = false;
        while !self.out.is_empty() {
            let mut slices = [IoSlice::new(&[]); 64];
            let mut count = 0;
            for (slot, chunk) in slices.iter_mut().zip(&self.out) {
                *slot = IoSlice::new(chunk);
                count += 1;
            }
            match Pin::new(&mut *transport).poll_write_vectored(cx, &slices[..count]) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                    self.drop_out();
                    self.session.connection_lost(now);
                    self.link = Link::Down(None);
                    return true;
                }
                Poll::Ready(Ok(mut n)) => {
                    progress = true;
                    self.written += n as u64;
                    self.out_len -= n;
                    while self
                        .qos0_waiters
                        .front()
                        .is_some_and(|w| w.0 <= self.written)
                    {
                        if let Some((_, done, reply)) = self.qos0_waiters.pop_front() {
                            reply.send(Ok(done));
                        }
                    }
                    while n > 0 {
                        let Some(front) = self.out.front_mut() else {
                            break;
                        };
                        if n >= front.len() {
                            n -= front.len();
                            self.out.pop_front();
                        } else {
                            let _ = front.split_to(n);
                            n = 0;
                        }
                    }
                }
                Poll::Pending => return progress,
            }
        }
        let _ = Pin::new(&mut *transport).poll_flush(cx);
        if let Link::Closing(t) = &mut self.link
            && Pin::new(t).poll_close(cx).is_ready()
        {
            self.link = Link::Down(self.pending_reconnect_at.take());
            if self.stay_down {
                self.link = Link::Down(None);
                for d in self.disconnects.drain(..) {
                    let _ = d.send(());
                }
            }
            progress = true;
        }
        progress
    }

    fn next_deadline(&self) -> Option<Instant> {
        let link = match &self.link {
            Link::Down(Some(at)) if !self.stay_down => Some(*at),
            Link::Opening(_) => Some(self.opening_deadline),
            _ => None,
        };
        [self.session.poll_timeout(), link, self.idle_ping_at()]
            .into_iter()
            .flatten()
            .min()
    }

    /// When to ping because nothing was *received* for the ping interval
    /// (`keep_alive - ping_delay`). The session pings when nothing was
    /// sent; a client that keeps sending to a broker that went silent must
    /// notice too (distmqtt bug #5).
    fn idle_ping_at(&self) -> Option<Instant> {
        let keep_alive = self.config.keep_alive;
        if keep_alive.is_zero() || !self.session.is_connected() {
            return None;
        }
        let interval = keep_alive.saturating_sub(self.config.ping_delay);
        Some(self.last_read + interval.max(Duration::from_millis(1)))
    }
}

impl Drop for Driver {
    /// Commands queued or sent later fail with `Closed`: nobody takes them.
    fn drop(&mut self) {
        self.commands.close();
    }
}

impl Future for Driver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            let now = Instant::now();
            let mut progress = false;
            // Commands from clients.
            // Commands are taken in bounded batches, and not at all while the
            // socket has not taken what is already encoded: fast publishers
            // wait in their `publish` call instead of filling memory.
            let mut budget = COMMAND_BATCH;
            while !this.commands_done && budget > 0 && this.out_len < OUT_LIMIT {
                budget -= 1;
                match this.commands.poll_next(cx) {
                    Poll::Ready(Some(command)) => {
                        this.handle_command(command, now);
                        progress = true;
                    }
                    Poll::Ready(None) => {
                        // Every client handle is gone: leave cleanly.
                        this.commands_done = true;
                        this.stay_down = true;
                        let _ = this.session.disconnect(None, now);
                        progress = true;
                    }
                    Poll::Pending => break,
                }
            }
            progress |= this.poll_link(cx, now);
            this.handle_events(now);
            let room = this.drain_inbox(cx, now);
            // Behind a full receiver reading goes on while the inbox is
            // short: acks of QoS 1/2 messages stay withheld (the broker's
            // in-flight window bounds what comes), and CONNACK, PINGRESP and
            // the acks of our publishes are still seen (else a slow consumer
            // would time the connection out). Past INBOX_MAX (a QoS 0 flood)
            // reading stops: TCP backpressure.
            if room || this.inbox.len() < INBOX_MAX || !this.session.is_connected() {
                progress |= this.poll_read(cx, now);
                this.handle_events(now);
                this.drain_inbox(cx, now);
            }
            // A session file that could not be written no longer describes
            // the session: stop before what it missed goes out.
            if !matches!(this.link, Link::Stopped)
                && let Some(failure) = this.session.store().as_ref().and_then(FileStore::failure)
            {
                log::error!("{}: stopping: {failure}", this.client_id());
                this.give_up();
            }
            progress |= this.poll_write(cx, now);
            this.handle_events(now);
            // Timers.
            if let Some(at) = this.next_deadline() {
                // Only an earlier deadline re-arms the timer. The keep-alive
                // deadlines move later with every packet sent or read;
                // re-arming for each would cost a timer update per message
                // (an allocation in async-io's timer map). A timer armed too
                // early fires, finds nothing due, and is re-armed then.
                if this.timer_at.is_none_or(|armed| at < armed) {
                    this.timer.as_mut().reset(at);
                    this.timer_at = Some(at);
                }
                if this.timer.as_mut().poll_expired(cx).is_ready() {
                    this.timer_at = None;
                    let now = Instant::now();
                    this.session.handle_timeout(now);
                    if this.idle_ping_at().is_some_and(|at| at <= now) {
                        // PINGREQ (unless one is out) with its PINGRESP deadline.
                        this.last_read = now;
                        let _ = this.session.ping(now);
                    }
                    progress = true;
                }
            }
            if this.commands_done && matches!(this.link, Link::Down(_) | Link::Stopped) {
                if !matches!(this.link, Link::Stopped) {
                    this.give_up();
                }
                return Poll::Ready(());
            }
            if !progress {
                return Poll::Pending;
            }
        }
    }
}

/// A transport still opening at its deadline fails like a refused one.
fn timed_out(
    polled: Poll<io::Result<Box<dyn Transport>>>,
    expired: bool,
) -> Poll<io::Result<Box<dyn Transport>>> {
    match polled {
        Poll::Pending if expired => Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no transport connection within connect_timeout",
        ))),
        polled => polled,
    }
}

/// SUBSCRIBE properties carrying `sid`, if any.
fn sub_properties(sid: Option<SubscriptionId>) -> SubscribeProperties {
    SubscribeProperties {
        subscription_identifier: sid,
        ..Default::default()
    }
}

fn refusal(reason: SubAckReason) -> &'static str {
    match reason {
        SubAckReason::NotAuthorized => "not authorized",
        SubAckReason::TopicFilterInvalid => "topic filter invalid",
        SubAckReason::SharedSubscriptionsNotSupported => "shared subscriptions",
        SubAckReason::WildcardSubscriptionsNotSupported => "wildcard subscriptions",
        SubAckReason::SubscriptionIdentifiersNotSupported => "subscription identifiers",
        SubAckReason::QuotaExceeded => "quota exceeded",
        _ => "subscription refused",
    }
}

fn fail_waiter(w: Waiter) {
    match w {
        Waiter::Publish(r) => r.send(Err(ClientError::Closed)),
        Waiter::Subscribe(r, _) => {
            let _ = r.send(Err(ClientError::Closed));
        }
        Waiter::Unsubscribe(r) => {
            let _ = r.send(Err(ClientError::Closed));
        }
        Waiter::RouteSubscribe(..) | Waiter::Quiet => {}
    }
}

fn fail_command(command: Command) {
    match command {
        Command::Publish { reply, .. } => {
            if let Some(r) = reply {
                r.send(Err(ClientError::Closed));
            }
        }
        Command::Subscribe { reply, .. } => {
            let _ = reply.send(Err(ClientError::Closed));
        }
        Command::Unsubscribe { reply, .. } | Command::Ping { reply } => {
            let _ = reply.send(Err(ClientError::Closed));
        }
        Command::Disconnect { reply } => {
            let _ = reply.send(());
        }
        Command::Reconnect { reply } => {
            let _ = reply.send(Err(ClientError::Closed));
        }
        Command::Route { reply, .. } => {
            let _ = reply.send(Err(ClientError::Closed));
        }
        Command::Unroute { .. } | Command::WatchState { .. } => {}
    }
}
