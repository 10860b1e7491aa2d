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
use crate::chan::{self, CommandReceiver};
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

mod commands;
mod events;

/// What the driver shares with the client handles.
pub(crate) struct Links {
    pub(crate) commands: CommandReceiver<Command>,
    pub(crate) deliver: chan::Sender<Message>,
    pub(crate) counters: Arc<Counters>,
    /// Answered when the first connection is accepted, or with why not.
    pub(crate) first_connect: Reply<()>,
    /// The CONNACK of the latest accepted connection.
    pub(crate) server: Arc<ServerSlot>,
}

pub(crate) struct Driver {
    /// Timers and the clock ([`Runtime::now`]: the driver reads no other).
    runtime: Arc<dyn Runtime>,
    connector: Arc<dyn Connector>,
    /// Shared with the client handles.
    config: Arc<Config>,
    /// The configured URIs in turn, and redirects.
    brokers: Brokers,
    session: Session<Option<FileStore>>,
    link: Link,
    commands: CommandReceiver<Command>,
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
/// Messages decoded but not yet delivered beyond which reading stops: as
/// many as one receiver's queue holds.
const INBOX_MAX: usize = crate::DELIVERY_QUEUE;

impl Driver {
    pub(crate) fn new(
        runtime: Arc<dyn Runtime>,
        connector: Arc<dyn Connector>,
        config: Arc<Config>,
        uris: Vec<BrokerUri>,
        session: Session<Option<FileStore>>,
        links: Links,
    ) -> Self {
        let now = runtime.now();
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
            runtime,
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
            auth: AuthFlow::new(config.authentication()),
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
                self.session.process_input(crate::clock::session_time(now));
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
        self.session
            .connection_lost(crate::clock::session_time(now));
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
                self.session
                    .connection_lost(crate::clock::session_time(now));
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
        let deadlines = [
            self.session.poll_timeout().map(crate::clock::std_time),
            self.link.deadline(),
        ];
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
        self.session
            .handle_timeout(crate::clock::session_time(self.runtime.now()));
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

impl Future for Driver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            let now = this.runtime.now();
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
                // Reading (again): the broker's silence counts again.
                this.session.resume_input(crate::clock::session_time(now));
                progress |= this.poll_read(cx, now);
                this.handle_events(now);
                this.drain_inbox(cx, now);
            } else {
                // The PINGRESP may be waiting behind what the application
                // has not taken: no keep-alive verdict while we do not read.
                this.session.pause_input(crate::clock::session_time(now));
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
