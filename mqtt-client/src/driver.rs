//! The one driver loop: owns the `Session` and the transport, runs as a
//! background task of any runtime. It is a hand-written `Future` (no
//! `select!`, no extra tasks): each poll moves every source as far as it can
//! (commands, socket reads, deliveries, socket writes, the timer) and parks
//! on all of them at once.
//!
//! The driver does IO and scheduling only: protocol decisions are the
//! session's, subscription decisions [`Routing`]'s, delivery the
//! [`Inbox`]'s, the bytes waiting for the socket the [`Outbox`]'s, the
//! connection's state one [`Link`] variant.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_channel::mpsc;
use futures_io::AsyncRead;
use sansmqtt_proto::{AckProperties, Disconnect, QoS, SubscriptionOptions, TopicFilter};
use sansmqtt_session::{CloseReason, Connected, Event, PublishDone, PublishError, Session, Token};

use crate::auth::{AuthError, AuthFlow};
use crate::backoff::Backoff;
use crate::chan::{self, Commands};
use crate::client::Counters;
use crate::command::{Callers, Command, Reply, Waiter};
use crate::config::{BrokerUri, Config};
use crate::connect_error::{ConnectError, FirstConnect};
use crate::connector::Connector;
use crate::inbox::{Inbox, RouteSender};
use crate::link::{AfterClose, Link, ReadSize};
use crate::outbox::{Outbox, Written};
use crate::persist::FileStore;
use crate::redirect::Brokers;
use crate::request::{self, Desk, Requests};
use crate::routing::{self, RouteStart, Routing, SubResults};
use crate::runtime::{Runtime, Timer, Transport};
use crate::server::ServerSlot;
use crate::subscribe_options::{SubscribeCall, SubscribeOutcome, UnsubscribeCall};
use crate::{ClientError, ConnectionState, Message};

/// What the driver shares with the client handles.
pub(crate) struct Links {
    pub(crate) commands: Arc<Commands<Command>>,
    pub(crate) deliver: chan::Sender<Message>,
    pub(crate) counters: Arc<Counters>,
    /// Answered when the first connection is accepted, or with why not.
    pub(crate) first_connect: Reply<()>,
    /// The CONNACK of the latest accepted connection.
    pub(crate) server: Arc<ServerSlot>,
}

pub(crate) struct Driver {
    connector: Arc<dyn Connector>,
    /// Shared with the client handles.
    config: Arc<Config>,
    /// The configured URIs in turn, and redirects.
    brokers: Brokers,
    session: Session<Option<FileStore>>,
    link: Link,
    commands: Arc<Commands<Command>>,
    commands_done: bool,
    timer: Pin<Box<dyn Timer>>,
    timer_at: Option<Instant>,
    outbox: Outbox,
    callers: Callers,
    routing: Routing<RouteSender>,
    requests: Requests<Reply<Message>>,
    inbox: Inbox,
    watchers: Vec<mpsc::UnboundedSender<ConnectionState>>,
    state: ConnectionState,
    backoff: Backoff,
    read_size: ReadSize,
    /// Why the last attempt failed (a transport that did not open, or
    /// failed before CONNACK); cleared when a transport opens.
    cause: Option<ConnectError>,
    first: FirstConnect,
    counters: Arc<Counters>,
    /// MQTT 5 enhanced authentication: the config's authenticator at work.
    auth: AuthFlow,
    server: Arc<ServerSlot>,
}

/// Commands handled before the driver writes what they produced.
const COMMAND_BATCH: usize = 256;
/// Encoded bytes waiting for the socket above which no new command is taken.
const OUT_LIMIT: usize = 256 * 1024;
/// Messages decoded but not yet delivered beyond which reading stops.
const INBOX_MAX: usize = 1024;

impl Driver {
    pub(crate) fn new(
        runtime: &dyn Runtime,
        connector: Arc<dyn Connector>,
        config: Arc<Config>,
        uris: Vec<BrokerUri>,
        session: Session<Option<FileStore>>,
        links: Links,
    ) -> Self {
        let now = Instant::now();
        // The first delay is a fifth of the cap, doubling up to it: with the
        // seed's defaults (10 s, 2 retries) that is 1-2 s then 2-4 s, the
        // schedule distmqtt meant (2 s, 4 s), which rides out a 3 s outage.
        let backoff = Backoff::new(
            config.reconnect_max_interval / 5,
            config.reconnect_max_interval,
            config.reconnect_retries,
        );
        let retry_first = config.auto_reconnect && config.reconnect_on_first_connect;
        Self {
            timer: runtime.timer(now + Duration::from_secs(3600)),
            connector,
            brokers: Brokers::new(uris, config.follow_redirects),
            routing: Routing::new(session.options().version.is_v5()),
            requests: Requests::new(
                request::nonce(),
                session.options().client_id.as_str(),
                links.counters.clone(),
            ),
            session,
            link: Link::Down {
                reconnect_at: Some(now),
            },
            commands: links.commands,
            commands_done: false,
            timer_at: None,
            outbox: Outbox::new(),
            callers: Callers::default(),
            inbox: Inbox::new(links.deliver),
            watchers: Vec::new(),
            state: ConnectionState::Connecting { attempt: 1 },
            backoff,
            read_size: ReadSize::new(),
            cause: None,
            first: FirstConnect::new(links.first_connect, retry_first),
            counters: links.counters,
            auth: AuthFlow::new(config.authenticator.clone()),
            server: links.server,
            config,
        }
    }

    fn set_state(&mut self, state: ConnectionState) {
        if self.state == state {
            return;
        }
        // The connection's life in the log: client identifier, broker URI
        // (never its password), state and cause.
        let (id, uri) = (self.client_id(), self.brokers.current());
        state.log(id, uri, self.cause.as_ref());
        self.state = state.clone();
        self.watchers
            .retain(|w| w.unbounded_send(state.clone()).is_ok());
    }

    /// The client identifier, for the log.
    fn client_id(&self) -> &str {
        self.session.options().client_id.as_str()
    }

    // -------------------------------------------------------------- commands

    /// Takes commands in bounded batches, and not at all while the socket
    /// has not taken what is already encoded: fast publishers wait in their
    /// `publish` call instead of filling memory.
    fn poll_commands(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut progress = false;
        let mut budget = COMMAND_BATCH;
        while !self.commands_done && budget > 0 && self.outbox.len() < OUT_LIMIT {
            budget -= 1;
            match self.commands.poll_next(cx) {
                Poll::Ready(Some(command)) => self.handle_command(command, now),
                Poll::Ready(None) => {
                    // Every client handle is gone: leave cleanly.
                    self.commands_done = true;
                    self.stay_down(None, now);
                }
                Poll::Pending => break,
            }
            progress = true;
        }
        progress
    }

    fn handle_command(&mut self, command: Command, now: Instant) {
        if matches!(self.link, Link::Stopped) {
            command.fail();
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
                        self.callers.outcomes.insert(token, Waiter::Publish(reply));
                    }
                }
                Err(e) => {
                    if let Some(reply) = reply {
                        reply.send(Err(e.into()));
                    }
                }
            },
            Command::Subscribe(call) => self.subscribe(call, now),
            Command::Unsubscribe(call) => self.unsubscribe(call, now),
            // While not connected the ping waits for the connection, like
            // every other call made during an outage.
            Command::Ping { reply } if !self.session.is_connected() => {
                self.callers.pings_offline.push(reply);
            }
            Command::Ping { reply } => self.ping(reply, now),
            Command::Disconnect { packet, reply } => {
                self.callers.disconnects.push(reply);
                self.stay_down(packet, now);
            }
            Command::Reconnect { reply } => self.reconnect(reply, now),
            Command::Reauthenticate { reply } => {
                let started = self.auth.reauthenticate(reply, &mut self.session, now);
                self.auth_outcome(started, now);
            }
            Command::Route {
                id,
                filter,
                options,
                sender,
                reply,
            } => self.route(id, filter, options, sender, reply, now),
            Command::Unroute { id } => self.unroute(id, now),
            Command::WatchState { sender } => {
                if sender.unbounded_send(self.state.clone()).is_ok() {
                    self.watchers.push(sender);
                }
            }
            Command::Request {
                id,
                publish,
                expires,
                reply,
            } => self.desk(now).request(id, publish, expires, reply),
            Command::CancelRequest { id } => self.requests.cancel(id),
        }
    }

    fn subscribe(&mut self, call: SubscribeCall, now: Instant) {
        let SubscribeCall {
            mut filters,
            user_properties,
            reply,
        } = call;
        if let Err(c) = self.routing.plan_subscribe(&mut filters) {
            let _ = reply.send(Err(c.into()));
            return;
        }
        let asked = filters.clone();
        let sid = self.routing.sid_for(asked.iter().map(|(f, _)| f));
        let properties = routing::properties(sid, user_properties);
        match self.session.subscribe(filters, properties, now) {
            Ok(token) => {
                self.routing.subscribed(&asked, sid);
                let asked = asked.into_iter().map(|(f, _)| f).collect();
                self.callers
                    .outcomes
                    .insert(token, Waiter::Subscribe(reply, asked));
            }
            Err(e) => {
                let _ = reply.send(Err(e.into()));
            }
        }
    }

    fn unsubscribe(&mut self, call: UnsubscribeCall, now: Instant) {
        let filters = self.routing.unsubscribe(call.filters.clone());
        // Answered at once when nothing is left to send.
        let Some((properties, waiter)) = call.sending(&filters) else {
            return;
        };
        match self.session.unsubscribe(filters, properties, now) {
            Ok(token) => {
                self.callers.outcomes.insert(token, waiter);
            }
            Err(e) => waiter.fail_with(e.into()),
        }
    }

    fn ping(&mut self, reply: Reply<()>, now: Instant) {
        match self.session.ping(now) {
            Ok(()) => self.callers.pings.push(reply),
            Err(_) => {
                let _ = reply.send(Err(ClientError::Closed));
            }
        }
    }

    /// The application disconnects, or every handle is gone: DISCONNECT
    /// after what is queued, and no automatic reconnect.
    fn stay_down(&mut self, packet: Option<Disconnect>, now: Instant) {
        let _ = self.session.disconnect(packet, now);
        self.link = match self.link.take() {
            Link::Up(transport) | Link::Closing { transport, .. } => Link::Closing {
                transport,
                then: AfterClose::Disconnected,
            },
            Link::Stopped => Link::Stopped,
            Link::Down { .. } | Link::Opening { .. } | Link::Disconnected => {
                self.set_state(ConnectionState::Disconnected {
                    reason: Some(CloseReason::ClientDisconnect),
                });
                self.callers.disconnected();
                Link::Disconnected
            }
        };
    }

    fn reconnect(&mut self, reply: Reply<bool>, now: Instant) {
        self.callers.reconnects.push(reply);
        self.link = match self.link.take() {
            // DISCONNECT, then a new connection once the transport closed.
            Link::Up(transport) | Link::Closing { transport, .. } => {
                let _ = self.session.disconnect(None, now);
                Link::Closing {
                    transport,
                    then: AfterClose::Down(Some(now)),
                }
            }
            opening @ Link::Opening { .. } => opening,
            _ => {
                self.backoff.reset();
                Link::Down {
                    reconnect_at: Some(now),
                }
            }
        };
    }

    fn route(
        &mut self,
        id: u64,
        filter: TopicFilter,
        options: SubscriptionOptions,
        sender: RouteSender,
        reply: Reply<()>,
        now: Instant,
    ) {
        if sender.is_closed() {
            // The stream was dropped before its route was made.
            let _ = reply.send(Ok(()));
            return;
        }
        match self.routing.add_route(id, filter.clone(), options, sender) {
            RouteStart::Ready => {
                let _ = reply.send(Ok(()));
            }
            RouteStart::Conflict(kept) => {
                let _ = reply.send(Err(routing::Conflict { filter, kept }.into()));
            }
            RouteStart::Waiting => {
                self.callers.routes.insert(id, reply);
            }
            RouteStart::Subscribe(subscribe) => {
                self.callers.routes.insert(id, reply);
                let (filters, properties) = subscribe.packet();
                match self.session.subscribe(filters, properties, now) {
                    Ok(token) => {
                        let waiter = Waiter::RouteSubscribe(subscribe.filter);
                        self.callers.outcomes.insert(token, waiter);
                    }
                    Err(e) => self.routes_settled(&subscribe.filter, Err(e.into())),
                }
            }
        }
    }

    fn unroute(&mut self, id: u64, now: Instant) {
        self.callers.routes.remove(&id);
        if let Some(filter) = self.routing.remove_route(id)
            && let Ok(token) = self
                .session
                .unsubscribe(vec![filter], Default::default(), now)
        {
            self.callers.outcomes.insert(token, Waiter::Quiet);
        }
    }

    /// The requests table with the parts of the driver it uses.
    fn desk(&mut self, now: Instant) -> Desk<'_> {
        Desk {
            requests: &mut self.requests,
            session: &mut self.session,
            routing: &mut self.routing,
            outcomes: &mut self.callers.outcomes,
            now,
        }
    }

    /// Answers the routes waiting for the broker subscription of `filter`.
    fn routes_settled(&mut self, filter: &TopicFilter, outcome: Result<(), ClientError>) {
        let settled = self.routing.route_outcome(filter, outcome.is_ok());
        self.callers.routes_settled(&settled.ready, &outcome);
        self.callers.routes_settled(&settled.failed, &outcome);
    }

    // ---------------------------------------------------------------- events

    fn handle_events(&mut self, now: Instant) {
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Connected(c) => self.connected(&c, now),
                Event::Message(m) => {
                    if let Some((message, ack)) = self.desk(now).message(m) {
                        self.inbox.push(message, ack);
                    }
                }
                Event::Published { token, result } => self.published(token, result),
                Event::Subscribed {
                    token,
                    result,
                    properties,
                } => self.subscribed(token, result, properties, now),
                Event::Unsubscribed {
                    token,
                    result,
                    properties,
                } => self.callers.unsubscribed(token, result, properties),
                // One PINGRESP answers every ping waiting for it (the
                // session sends one PINGREQ at a time).
                Event::Pong => self.callers.pong(),
                Event::Auth(auth) => {
                    let answered = self.auth.challenge(&auth, &mut self.session, now);
                    self.auth_outcome(answered, now);
                }
                Event::AuthSuccess { data } => {
                    let checked = self.auth.finish(data.as_deref(), &mut self.session, now);
                    self.auth_outcome(checked, now);
                }
                Event::Closed(reason) => self.closed(reason, now),
            }
        }
    }

    /// An authentication step failed on our side: the waiting calls get
    /// the error, the session aborts (DISCONNECT 0x83, then `Closed`).
    fn auth_outcome(&mut self, outcome: Result<(), AuthError>, now: Instant) {
        let Err(e) = outcome else { return };
        let error = ClientError::Auth(e);
        log::warn!("{}: {error}", self.client_id());
        self.first.failed(error.clone());
        self.callers.fail_reconnects(&error);
        self.auth.answer(&Err(error));
        let _ = self.session.abort_auth(now);
    }

    fn connected(&mut self, c: &Connected, now: Instant) {
        self.backoff.reset();
        self.auth.connected();
        self.brokers.connected();
        self.server.update(c, &self.session);
        self.routing
            .connected(c.properties.subscription_identifier_available);
        self.requests.connected(&c.properties);
        self.set_state(ConnectionState::Connected {
            session_present: c.session_present,
        });
        self.first.connected();
        self.callers.connected(c.session_present);
        if !c.session_present {
            // The broker started a new session: restore the subscriptions
            // the client keeps.
            for subscribe in self.routing.resubscribe() {
                let (filters, properties) = subscribe.packet();
                if let Ok(token) = self.session.subscribe(filters, properties, now) {
                    self.callers.outcomes.insert(token, Waiter::Quiet);
                }
            }
        }
        for p in std::mem::take(&mut self.callers.pings_offline) {
            self.ping(p, now);
        }
    }

    fn published(&mut self, token: Token, result: Result<PublishDone, PublishError>) {
        let reply = match self.callers.outcomes.remove(&token) {
            Some(Waiter::Publish(reply)) => reply,
            Some(Waiter::Request(id)) => return self.requests.published(id, result),
            _ => return,
        };
        match result {
            // QoS 0 is complete once written to the transport: its end is
            // at the bytes encoded so far.
            Ok(done) if done.qos == QoS::AtMostOnce => {
                let pending = self.session.pending_transmit();
                self.outbox.complete_when_written(pending, done, reply);
            }
            result => reply.send(result.map_err(ClientError::from)),
        }
    }

    fn subscribed(
        &mut self,
        token: Token,
        result: Result<SubResults, sansmqtt_session::RequestError>,
        properties: AckProperties,
        now: Instant,
    ) {
        match self.callers.outcomes.remove(&token) {
            Some(Waiter::Subscribe(reply, asked)) => {
                self.routing.subscribe_outcome(&asked, result.as_ref().ok());
                let outcome = result.map(|r| SubscribeOutcome::new(r, properties));
                let _ = reply.send(outcome.map_err(ClientError::from));
            }
            Some(Waiter::RouteSubscribe(filter)) => {
                self.routes_settled(&filter, routing::granted(result));
            }
            Some(Waiter::RequestSubscribe(filter)) => self.desk(now).subscribed(filter, result),
            _ => {}
        }
    }

    fn closed(&mut self, reason: CloseReason, now: Instant) {
        if self.fall_back(&reason, now) || self.redirect(&reason, now) {
            return;
        }
        self.callers.closed(&reason);
        self.auth.closed(ClientError::Connection(reason.clone()));
        self.first.closed(&reason, self.cause.as_ref());
        // Flush what the session queued (DISCONNECT), then close. A transport
        // already closing (`reconnect()` on a live link) is kept too:
        // dropping it would lose its DISCONNECT. A reconnect instant is set
        // again below if a reconnect is wanted: a stale one from an earlier
        // loss would reconnect after a refusal or without auto_reconnect.
        self.link = match self.link.take() {
            Link::Up(transport)
            | Link::Closing {
                transport,
                then: AfterClose::Down(_),
            } => Link::Closing {
                transport,
                then: AfterClose::Down(None),
            },
            other @ (Link::Closing { .. } | Link::Stopped | Link::Disconnected) => other,
            Link::Down { .. } | Link::Opening { .. } => Link::Down { reconnect_at: None },
        };
        // Neither a refusal nor an authentication we aborted is retried.
        let refused = reason.is_refusal() || matches!(reason, CloseReason::AuthAborted);
        self.set_state(ConnectionState::Disconnected {
            reason: Some(reason),
        });
        let wanted =
            (self.config.auto_reconnect && !refused) || !self.callers.reconnects.is_empty();
        if !self.link.stays_down() && wanted {
            self.schedule_reconnect(now);
        }
    }

    /// `protocol_version = "auto"` and MQTT 5 refused: a 3.1.1 CONNECT to
    /// the same broker on a new transport, at once; the refusal is nobody's
    /// answer.
    fn fall_back(&mut self, reason: &CloseReason, now: Instant) -> bool {
        let choice = self.config.protocol_version;
        let Some(version) = choice.fall_back(reason, &mut self.session) else {
            return false;
        };
        log::info!(
            "{}: {reason}; falling back to MQTT {version}",
            self.client_id()
        );
        self.routing.connected(Some(false));
        self.brokers.retry_current();
        self.link = self.link.take().reopen(now);
        true
    }

    /// A redirect to follow (`follow_redirects`): the server's DISCONNECT
    /// is seen (state, pings), then a connection to its target at once.
    fn redirect(&mut self, reason: &CloseReason, now: Instant) -> bool {
        let Some(to) = self.brokers.follow(reason) else {
            return false;
        };
        log::info!("{}: {reason}; redirected to {}", self.client_id(), to.uri);
        if !reason.is_refusal() {
            self.callers.closed(reason);
            self.set_state(ConnectionState::Disconnected {
                reason: Some(reason.clone()),
            });
        }
        self.link = self.link.take().reopen(now);
        true
    }

    fn schedule_reconnect(&mut self, now: Instant) {
        let Some(delay) = self.backoff.next_delay() else {
            self.give_up();
            return;
        };
        let at = now + delay;
        log::info!(
            "{}: reconnecting in {delay:.1?} (retry {})",
            self.client_id(),
            self.backoff.attempt()
        );
        match &mut self.link {
            Link::Down { reconnect_at } => *reconnect_at = Some(at),
            Link::Closing {
                then: then @ AfterClose::Down(_),
                ..
            } => *then = AfterClose::Down(Some(at)),
            _ => {}
        }
        self.set_state(ConnectionState::Reconnecting {
            attempt: self.backoff.attempt(),
        });
    }

    /// Reconnection gave up (retries exhausted) or the client is gone.
    fn give_up(&mut self) {
        self.session.abandon();
        self.link = Link::Stopped;
        self.handle_events(Instant::now());
        self.outbox.clear(&ClientError::Closed);
        self.routing.clear_routes();
        self.requests.clear();
        self.callers.stop();
        self.auth.closed(ClientError::Closed);
        self.inbox.close();
        self.first.stopped(self.cause.as_ref(), ClientError::Closed);
        self.set_state(ConnectionState::Closed);
    }

    /// Hands messages to their receivers; `false` if one is full.
    fn drain_inbox(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let overflow = self.config.qos0_overflow;
        let (routing, session) = (&self.routing, &mut self.session);
        self.inbox
            .drain(cx, routing, session, overflow, &self.counters, now)
    }

    // ------------------------------------------------------------------ link

    fn poll_link(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        match &mut self.link {
            Link::Down {
                reconnect_at: Some(at),
            } if *at <= now => self.open(now),
            Link::Opening { future, deadline } => {
                let expired = now >= *deadline;
                match future.as_mut().poll(cx) {
                    Poll::Ready(Ok(transport)) => self.opened(transport, now),
                    Poll::Ready(Err(e)) => self.open_failed(ConnectError::transport(&e), now),
                    Poll::Pending if expired => {
                        // A transport still opening at its deadline fails
                        // like a refused one.
                        let timeout = self.config.connect_timeout;
                        self.open_failed(ConnectError::TimedOut(timeout), now);
                    }
                    Poll::Pending => return false,
                }
            }
            _ => return false,
        }
        true
    }

    /// Opens a transport to the next broker URI.
    fn open(&mut self, now: Instant) {
        let uri = self.brokers.next_attempt();
        let attempt = self.backoff.attempt().max(1);
        log::debug!(
            "{}: connecting to {uri} (attempt {attempt})",
            self.client_id()
        );
        self.set_state(ConnectionState::Connecting { attempt });
        self.link = Link::Opening {
            future: self.connector.connect(&uri),
            deadline: now + self.config.connect_timeout,
        };
    }

    fn opened(&mut self, transport: Box<dyn Transport>, now: Instant) {
        self.outbox
            .clear(&ClientError::Connection(CloseReason::ConnectionLost));
        self.cause = None;
        match self.auth.connect(&mut self.session, now) {
            Ok(()) => self.link = Link::Up(transport),
            Err(error) => {
                self.link = Link::Stopped;
                self.callers.fail_reconnects(&error);
                self.first.failed(error);
                self.give_up();
            }
        }
    }

    fn open_failed(&mut self, cause: ConnectError, now: Instant) {
        self.link = Link::Down { reconnect_at: None };
        self.first.transport_failed(&cause);
        // Stored before the state changes: the log names it.
        self.cause = Some(cause);
        self.set_state(ConnectionState::Disconnected { reason: None });
        if self.config.auto_reconnect || !self.callers.reconnects.is_empty() {
            self.schedule_reconnect(now);
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let Link::Up(transport) = &mut self.link else {
            return false;
        };
        let options = self.session.options();
        let (version, max_packet) = (options.version, options.max_incoming_packet);
        let buf = self.session.input_buffer();
        let start = buf.len();
        let read_len = self.read_size.prepare(buf, version, max_packet);
        buf.resize(start + read_len, 0);
        let error = match Pin::new(transport).poll_read(cx, &mut buf[start..]) {
            Poll::Ready(Ok(n)) if n > 0 => {
                buf.truncate(start + n);
                self.read_size.took(n);
                self.session.process_input(now);
                return true;
            }
            Poll::Pending => {
                buf.truncate(start);
                return false;
            }
            Poll::Ready(Ok(_)) => None,
            Poll::Ready(Err(e)) => Some(e),
        };
        buf.truncate(start);
        // Before CONNACK, the transport's error is the first connect's
        // answer (e.g. a TLS alert: certificate required).
        if let Some(e) = error.filter(|_| !self.session.is_connected()) {
            self.cause = Some(ConnectError::lost(&e));
        }
        self.session.connection_lost(now);
        self.link = Link::Down { reconnect_at: None };
        true
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        while let Some(b) = self.session.poll_transmit() {
            self.outbox.push(b);
        }
        let Some(transport) = self.link.writable() else {
            self.outbox
                .clear(&ClientError::Connection(CloseReason::ConnectionLost));
            return false;
        };
        match self.outbox.write(&mut **transport, cx) {
            Written::Failed => {
                self.session.connection_lost(now);
                self.link = Link::Down { reconnect_at: None };
                true
            }
            Written::Blocked(progress) => progress,
            Written::Flushed(progress) => self.poll_close(cx) || progress,
        }
    }

    /// Closes a transport whose last bytes are written; what follows is
    /// the `Closing` state's.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> bool {
        let Link::Closing { transport, .. } = &mut self.link else {
            return false;
        };
        if futures_io::AsyncWrite::poll_close(Pin::new(transport), cx).is_pending() {
            return false;
        }
        self.link = match self.link.take() {
            Link::Closing {
                then: AfterClose::Down(reconnect_at),
                ..
            } => Link::Down { reconnect_at },
            _ => Link::Disconnected,
        };
        // The application's disconnect() calls are done.
        self.callers.disconnected();
        true
    }

    /// Runs the timers (session's, link's) that are due; `true` if one was.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let deadlines = [self.session.poll_timeout(), self.link.deadline()];
        let Some(at) = deadlines.into_iter().flatten().min() else {
            return false;
        };
        // Only an earlier deadline re-arms the timer. The keep-alive
        // deadlines move later with every packet sent or read; re-arming
        // for each would cost a timer update per message (an allocation in
        // async-io's timer map). A timer armed too early fires, finds
        // nothing due, and is re-armed then.
        if self.timer_at.is_none_or(|armed| at < armed) {
            self.timer.as_mut().reset(at);
            self.timer_at = Some(at);
        }
        if self.timer.as_mut().poll_expired(cx).is_pending() {
            return false;
        }
        self.timer_at = None;
        self.session.handle_timeout(Instant::now());
        true
    }

    /// A session file that could not be written no longer describes the
    /// session: stop before what it missed goes out.
    fn check_store(&mut self) {
        if !matches!(self.link, Link::Stopped)
            && let Some(failure) = self.session.store().as_ref().and_then(FileStore::failure)
        {
            log::error!("{}: stopping: {failure}", self.client_id());
            self.give_up();
        }
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
            let mut progress = this.poll_commands(cx, now);
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
            this.check_store();
            progress |= this.poll_write(cx, now);
            this.handle_events(now);
            progress |= this.poll_timer(cx);
            if this.commands_done && this.link.is_idle() {
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
