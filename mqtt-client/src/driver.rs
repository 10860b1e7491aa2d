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
use futures_util::stream::StreamExt;
use sansmqtt_proto::{Publish, QoS, SubAckReason, SubscriptionOptions, TopicFilter};
use sansmqtt_session::{CloseReason, Event, PublishDone, RequestError, Session, Token};

use crate::backoff::Backoff;
use crate::config::{BrokerUri, Config};
use crate::runtime::{BoxFuture, Runtime, Timer, Transport};
use crate::{ClientError, ConnectionState, Message};

/// Granted QoS or refusal, per filter.
pub(crate) type SubResults = Vec<Result<QoS, SubAckReason>>;

/// What a `Client` asks of the driver.
pub(crate) enum Command {
    Publish {
        publish: Publish,
        reply: Option<oneshot::Sender<Result<PublishDone, ClientError>>>,
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
        sender: mpsc::Sender<Message>,
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
    Publish(oneshot::Sender<Result<PublishDone, ClientError>>),
    Subscribe(oneshot::Sender<Result<SubResults, ClientError>>),
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
    sender: mpsc::Sender<Message>,
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

pub(crate) struct Driver {
    runtime: Arc<dyn Runtime>,
    config: Config,
    uris: Vec<BrokerUri>,
    next_uri: usize,
    session: Session,
    link: Link,
    commands: mpsc::UnboundedReceiver<Command>,
    commands_done: bool,
    timer: Pin<Box<dyn Timer>>,
    timer_at: Option<Instant>,
    out: VecDeque<Bytes>,
    waiters: HashMap<Token, Waiter>,
    pings: VecDeque<oneshot::Sender<Result<(), ClientError>>>,
    reconnects: Vec<oneshot::Sender<Result<bool, ClientError>>>,
    disconnects: Vec<oneshot::Sender<()>>,
    routes: Vec<Route>,
    kept: HashMap<TopicFilter, Kept>,
    deliver: mpsc::Sender<Message>,
    /// Messages waiting for room in their receivers (backpressure): reading
    /// stops until they are delivered, so acknowledgements are withheld.
    inbox: VecDeque<(Message, Option<sansmqtt_session::AckId>)>,
    watchers: Vec<mpsc::UnboundedSender<ConnectionState>>,
    state: ConnectionState,
    backoff: Backoff,
    /// The application asked to be disconnected: no automatic reconnect.
    stay_down: bool,
    read_hint: usize,
    /// When the transport being closed is gone, reconnect at this instant.
    pending_reconnect_at: Option<Instant>,
    /// The last error opening a transport, for the first connect's error.
    pub(crate) last_io_error: Option<String>,
}

const MAX_READ: usize = 64 * 1024;
const MIN_READ: usize = 4 * 1024;

impl Driver {
    pub(crate) fn new(
        runtime: Arc<dyn Runtime>,
        config: Config,
        uris: Vec<BrokerUri>,
        mut session_options: sansmqtt_session::SessionOptions,
        commands: mpsc::UnboundedReceiver<Command>,
        deliver: mpsc::Sender<Message>,
    ) -> Self {
        // Acknowledgements go out once a message is handed to its receivers.
        session_options.manual_ack = true;
        let now = Instant::now();
        let backoff = Backoff::new(
            Duration::from_millis(100),
            config.reconnect_max_interval,
            config.reconnect_retries,
        );
        Self {
            timer: runtime.timer(now + Duration::from_secs(3600)),
            runtime,
            config,
            uris,
            next_uri: 0,
            session: Session::new(session_options),
            link: Link::Down(Some(now)),
            commands,
            commands_done: false,
            timer_at: None,
            out: VecDeque::new(),
            waiters: HashMap::new(),
            pings: VecDeque::new(),
            reconnects: Vec::new(),
            disconnects: Vec::new(),
            routes: Vec::new(),
            kept: HashMap::new(),
            deliver,
            inbox: VecDeque::new(),
            watchers: Vec::new(),
            state: ConnectionState::Connecting { attempt: 1 },
            backoff,
            stay_down: false,
            read_hint: MIN_READ,
            pending_reconnect_at: None,
            last_io_error: None,
        }
    }

    fn set_state(&mut self, state: ConnectionState) {
        if self.state == state {
            return;
        }
        self.state = state.clone();
        self.watchers
            .retain(|w| w.unbounded_send(state.clone()).is_ok());
    }

    // -------------------------------------------------------------- commands

    fn handle_command(&mut self, command: Command, now: Instant) {
        if matches!(self.link, Link::Stopped) {
            fail_command(command);
            return;
        }
        match command {
            Command::Publish { publish, reply } => match self.session.publish(publish, now) {
                Ok(token) => {
                    if let Some(reply) = reply {
                        self.waiters.insert(token, Waiter::Publish(reply));
                    }
                }
                Err(e) => {
                    if let Some(reply) = reply {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            },
            Command::Subscribe { filters, reply } => {
                let kept: Vec<_> = filters.iter().map(|(f, o)| (f.clone(), o.qos)).collect();
                match self.session.subscribe(filters, Default::default(), now) {
                    Ok(token) => {
                        for (f, qos) in kept {
                            let k = self.kept.entry(f).or_insert(Kept {
                                qos,
                                explicit: true,
                            });
                            k.explicit = true;
                            k.qos = k.qos.max(qos);
                        }
                        self.waiters.insert(token, Waiter::Subscribe(reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Command::Unsubscribe { filters, reply } => {
                for f in &filters {
                    if let Some(k) = self.kept.get_mut(f) {
                        k.explicit = false;
                    }
                    if !self.routes.iter().any(|r| &r.filter == f) {
                        self.kept.remove(f);
                    }
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
                let k = self.kept.entry(filter.clone()).or_insert(Kept {
                    qos,
                    explicit: false,
                });
                k.qos = k.qos.max(qos);
                let qos = k.qos;
                match self.session.subscribe(
                    vec![(filter.clone(), SubscriptionOptions::qos(qos))],
                    Default::default(),
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
                    self.set_state(ConnectionState::Connected {
                        session_present: c.session_present,
                    });
                    for r in self.reconnects.drain(..) {
                        let _ = r.send(Ok(c.session_present));
                    }
                    if !c.session_present {
                        self.resubscribe(now);
                    }
                }
                Event::Message(m) => {
                    self.inbox.push_back((Message::new(m.publish), m.ack));
                }
                Event::Published { token, result } => {
                    if let Some(Waiter::Publish(reply)) = self.waiters.remove(&token) {
                        let _ = reply.send(result.map_err(ClientError::from));
                    }
                }
                Event::Subscribed { token, result, .. } => match self.waiters.remove(&token) {
                    Some(Waiter::Subscribe(reply)) => {
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
                    if let Some(p) = self.pings.pop_front() {
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
            if let Ok(token) = self.session.subscribe(
                vec![(filter, SubscriptionOptions::qos(k.qos))],
                Default::default(),
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
        // Flush what the session queued (DISCONNECT), then close.
        if let Link::Up(t) = std::mem::replace(&mut self.link, Link::Down(None)) {
            self.link = Link::Closing(t);
        }
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
        for (_, w) in self.waiters.drain() {
            fail_waiter(w);
        }
        for r in self.reconnects.drain(..) {
            let _ = r.send(Err(ClientError::Closed));
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
        while let Some((message, _)) = self.inbox.front() {
            let topic = message.topic().clone();
            let mut targets: Vec<usize> = self
                .routes
                .iter()
                .enumerate()
                .filter(|(_, r)| r.ready.is_none() && r.filter.matches(&topic))
                .map(|(i, _)| i)
                .collect();
            targets.retain(|&i| !self.routes[i].sender.is_closed());
            // Every receiver must have room before the message is delivered,
            // so that no copy is sent twice.
            if targets.is_empty() {
                match self.deliver.poll_ready(cx) {
                    Poll::Pending => return false,
                    Poll::Ready(_) => {}
                }
            } else {
                for &i in &targets {
                    if self.routes[i].sender.poll_ready(cx).is_pending() {
                        return false;
                    }
                }
            }
            let Some((message, ack)) = self.inbox.pop_front() else {
                break;
            };
            if targets.is_empty() {
                let _ = self.deliver.start_send(message);
            } else {
                for &i in &targets {
                    let _ = self.routes[i].sender.start_send(message.clone());
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
                self.set_state(ConnectionState::Connecting {
                    attempt: self.backoff.attempt().max(1),
                });
                self.link = Link::Opening(self.runtime.connect(&uri));
                progress = true;
            }
            Link::Opening(fut) => match fut.as_mut().poll(cx) {
                Poll::Ready(Ok(transport)) => {
                    self.out.clear();
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
                    self.set_state(ConnectionState::Disconnected { reason: None });
                    self.last_io_error = Some(e.to_string());
                    if self.config.auto_reconnect || !self.reconnects.is_empty() {
                        self.schedule_reconnect(now);
                    }
                    progress = true;
                }
                Poll::Pending => {}
            },
            _ => {}
        }
        progress
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let Link::Up(transport) = &mut self.link else {
            return false;
        };
        let buf = self.session.input_buffer();
        let start = buf.len();
        buf.resize(start + self.read_hint, 0);
        match Pin::new(transport).poll_read(cx, &mut buf[start..]) {
            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                buf.truncate(start);
                self.session.connection_lost(now);
                self.link = Link::Down(None);
                true
            }
            Poll::Ready(Ok(n)) => {
                buf.truncate(start + n);
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

    fn poll_write(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        while let Some(b) = self.session.poll_transmit() {
            self.out.push_back(b);
        }
        let transport = match &mut self.link {
            Link::Up(t) | Link::Closing(t) => t,
            _ => {
                self.out.clear();
                return false;
            }
        };
        let mut progress = false;
        while !self.out.is_empty() {
            let slices: Vec<IoSlice<'_>> =
                self.out.iter().take(64).map(|b| IoSlice::new(b)).collect();
            match Pin::new(&mut *transport).poll_write_vectored(cx, &slices) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                    self.out.clear();
                    self.session.connection_lost(now);
                    self.link = Link::Down(None);
                    return true;
                }
                Poll::Ready(Ok(mut n)) => {
                    progress = true;
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
            _ => None,
        };
        match (self.session.poll_timeout(), link) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
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
            while !this.commands_done {
                match this.commands.poll_next_unpin(cx) {
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
            if room {
                progress |= this.poll_read(cx, now);
                this.handle_events(now);
                this.drain_inbox(cx, now);
            }
            progress |= this.poll_write(cx, now);
            this.handle_events(now);
            // Timers.
            if let Some(at) = this.next_deadline() {
                if this.timer_at != Some(at) {
                    this.timer.as_mut().reset(at);
                    this.timer_at = Some(at);
                }
                if this.timer.as_mut().poll_expired(cx).is_ready() {
                    this.timer_at = None;
                    this.session.handle_timeout(Instant::now());
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
        Waiter::Publish(r) => {
            let _ = r.send(Err(ClientError::Closed));
        }
        Waiter::Subscribe(r) => {
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
                let _ = r.send(Err(ClientError::Closed));
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
