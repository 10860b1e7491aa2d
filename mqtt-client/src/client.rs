//! The client handle and subscription streams.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_channel::{mpsc, oneshot};
use futures_util::future::poll_fn;
use futures_util::lock::Mutex;
use futures_util::stream::Stream;
use sansmqtt_proto::{
    PacketId, PayloadFormat, ProtocolVersion, Publish, QoS, SubAckReason, SubscriptionOptions,
    TopicFilter, TopicName,
};
use sansmqtt_session::{CloseReason, PublishDone, SavedSession, Session, SessionOptions};

use crate::chan::Reply;
use crate::chan::{self, Budget, Commands, Permit, ReplyPool};
use crate::command::Command;
use crate::config::{BrokerUri, Config};
use crate::connector::{Connector, DefaultConnector};
use crate::disconnect::DisconnectOptions;
use crate::driver::{Driver, Links};
use crate::persist::FileStore;
use crate::publish_handle::{PublishCall, PublishHandle, StartPublish};
use crate::runtime::Runtime;
use crate::runtime::Timer;
use crate::server::{ServerInfo, ServerSlot};
use crate::subscribe_options::{
    RequestCall, SubscribeOptions, SubscribeOutcome, UnsubscribeOptions, UnsubscribeOutcome,
};
use crate::{ClientError, ConnectError, Message};

/// Where the connection stands; observe it with [`Client::state_changes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// Opening a transport and waiting for CONNACK.
    Connecting {
        /// 1 for the first try, then the retry number.
        attempt: u32,
    },
    /// CONNACK accepted.
    Connected {
        /// The broker resumed the session.
        session_present: bool,
    },
    /// Lost; the next attempt is scheduled with backoff.
    Reconnecting {
        /// The retry number.
        attempt: u32,
    },
    /// Not connected and no attempt scheduled (disconnected by the
    /// application, refused, or without auto-reconnect).
    Disconnected {
        /// Why, if known.
        reason: Option<CloseReason>,
    },
    /// For good: reconnection gave up, or every handle was dropped.
    Closed,
}

impl ConnectionState {
    /// The state's line in the log (`log` crate, target
    /// `sansmqtt::driver`) for client `id` and broker `uri` (never its
    /// password: `BrokerUri`'s `Display`); `cause`: why the transport
    /// failed, for `Disconnected { reason: None }`.
    pub(crate) fn log(&self, id: &str, uri: &BrokerUri, cause: Option<&ConnectError>) {
        match self {
            // Logged by the driver's `open` at each attempt (the first included).
            ConnectionState::Connecting { .. } => {}
            ConnectionState::Connected { session_present } => {
                log::info!(target: "sansmqtt::driver", "{id}: connected to {uri} (session present: {session_present})");
            }
            // Logged with its delay by the driver's `schedule_reconnect`.
            ConnectionState::Reconnecting { .. } => {}
            ConnectionState::Disconnected {
                reason: Some(CloseReason::ClientDisconnect),
            } => log::info!(target: "sansmqtt::driver", "{id}: disconnected from {uri}"),
            ConnectionState::Disconnected {
                reason: Some(reason),
            } => {
                log::warn!(target: "sansmqtt::driver", "{id}: connection to {uri} ended: {reason}")
            }
            ConnectionState::Disconnected { reason: None } => match cause {
                Some(cause) => {
                    log::warn!(target: "sansmqtt::driver", "{id}: could not connect to {uri}: {cause}")
                }
                None => {
                    log::warn!(target: "sansmqtt::driver", "{id}: could not connect to {uri}: unknown cause")
                }
            },
            ConnectionState::Closed => log::info!(target: "sansmqtt::driver", "{id}: closed"),
        }
    }
}

/// Messages each subscription stream and the `deliver_message` queue
/// hold. Their memory follows what waits (a queue that has caught up keeps
/// room for 32). When one is full, its messages wait in the client, up to
/// this many again for all receivers together; past that the client stops
/// reading from the socket, and QoS 1/2 acknowledgements are withheld
/// meanwhile: the broker slows down, nothing is dropped (see the guide,
/// "Backpressure and QoS 0 overflow").
pub const DELIVERY_QUEUE: usize = 1024;

/// A live handle on the command queue: the driver runs while one exists
/// (the client's, and one per subscription stream).
pub(crate) struct Handle(Arc<Commands<Command>>);

impl Handle {
    fn new(commands: Arc<Commands<Command>>) -> Self {
        commands.add_handle();
        Self(commands)
    }
}

impl Clone for Handle {
    fn clone(&self) -> Self {
        Self::new(self.0.clone())
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.drop_handle();
    }
}

impl std::ops::Deref for Handle {
    type Target = Commands<Command>;
    fn deref(&self) -> &Commands<Command> {
        &self.0
    }
}

/// Counters of what the client did on its own (see [`Client::stats`]).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) qos0_dropped: AtomicU64,
    pub(crate) replies_dropped: AtomicU64,
}

/// What the client counted so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// QoS 0 messages dropped for a full receiver, under
    /// [`Qos0Overflow::Drop`](crate::config::Qos0Overflow::Drop).
    pub qos0_dropped: u64,
    /// Messages on the response topic of [`Client::request`] dropped for
    /// naming no waiting request (missing, foreign or stale correlation
    /// data: a reply after its timeout, a duplicate).
    pub replies_dropped: u64,
}

/// Builder methods setting `Option` fields of an options struct: `name(value)`
/// sets `name` to `Some(value)`; after `into:`, `value` is anything that
/// converts into the field's type.
macro_rules! option_setters {
    ($($(#[$doc:meta])* $name:ident: $t:ty,)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, $name: $t) -> Self {
            self.$name = Some($name);
            self
        }
    )*};
    (into: $($(#[$doc:meta])* $name:ident: $t:ty,)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, $name: impl Into<$t>) -> Self {
            self.$name = Some($name.into());
            self
        }
    )*};
}
pub(crate) use option_setters;

/// The optional arguments of a publish, for [`Client::publish_with`],
/// [`Client::publish_packet_with`] and the payload forms
/// (`publish_value_with`, `publish_typed_with`). What is not set comes from
/// the configuration.
///
/// The MQTT 5 properties of the PUBLISH are options too: payload format,
/// message expiry, content type, response topic, correlation data, user
/// properties (the topic alias stays automatic). Strings are checked when
/// the publish is made ([`ClientError::InvalidProperty`]). On a client
/// speaking MQTT 3.1.1 a publish with any of them fails at once with
/// [`ClientError::Publish`]`(`[`PublishError::Encode`](crate::PublishError::Encode)`(NotInVersion))`:
/// they are never dropped silently. With [`Client::publish_packet_with`]
/// those set replace the packet's, and user properties are added after the
/// packet's.
///
/// ```
/// # use std::time::Duration;
/// use sansmqtt::{PayloadFormat, PublishOptions, QoS};
///
/// let options = PublishOptions::new()
///     .qos(QoS::AtLeastOnce)
///     .retain(true)
///     .expiry(Duration::from_secs(5))
///     .payload_format(PayloadFormat::Utf8)
///     .content_type("application/json")
///     .message_expiry(Duration::from_secs(60))
///     .user_property("origin", "sensor-7");
/// assert_eq!(options.qos, Some(QoS::AtLeastOnce));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublishOptions {
    /// QoS. Default: the config's `topics` entry for the topic, else
    /// `default_qos` (with [`Client::publish_packet_with`]: the packet's).
    pub qos: Option<QoS>,
    /// Retain flag. Default: the config's `topics` entry for the topic,
    /// else `default_retain` (with [`Client::publish_packet_with`]: the
    /// packet's).
    pub retain: Option<bool>,
    /// Drop the message, with [`PublishError::Expired`](crate::PublishError::Expired),
    /// if it is still waiting to be sent (offline, or behind the in-flight
    /// window) this long after the call. Default: the config's
    /// `publish_expiry`.
    pub expiry: Option<Duration>,
    /// Give up waiting for the outcome after this long
    /// ([`ClientError::Timeout`]; a message already sent may still arrive).
    /// Default: the config's `request_timeout`.
    pub timeout: Option<Duration>,
    /// The payload codec of the value and typed forms, by name (built-in,
    /// alias or registered). Default: the config's `codec`. Not used by the
    /// forms that take the payload as bytes (nor at all without the
    /// `payload` feature).
    pub codec: Option<String>,
    /// MQTT 5 Payload Format Indicator: [`PayloadFormat::Utf8`] says the
    /// payload is UTF-8 text.
    pub payload_format: Option<PayloadFormat>,
    /// MQTT 5 Message Expiry Interval: the broker drops the message if it
    /// cannot deliver it within this time (whole seconds, rounded up).
    /// Not to be confused with [`PublishOptions::expiry`], the client's own
    /// limit for sending it.
    pub message_expiry: Option<Duration>,
    /// MQTT 5 Content Type (e.g. a MIME type), UTF-8.
    pub content_type: Option<String>,
    /// MQTT 5 Response Topic: a topic name (no wildcards) for the answer.
    pub response_topic: Option<String>,
    /// MQTT 5 Correlation Data, for the requester to match the answer.
    pub correlation_data: Option<Bytes>,
    /// MQTT 5 User Properties, in order; a name may repeat.
    pub user_properties: Vec<(String, String)>,
}

impl PublishOptions {
    /// No option set: everything from the configuration.
    pub fn new() -> Self {
        Self::default()
    }

    option_setters! {
        /// With a QoS.
        qos: QoS,
        /// With a retain flag.
        retain: bool,
        /// With an expiry.
        expiry: Duration,
        /// With a timeout.
        timeout: Duration,
        /// With a Payload Format Indicator (MQTT 5).
        payload_format: PayloadFormat,
        /// With a Message Expiry Interval (MQTT 5).
        message_expiry: Duration,
    }

    option_setters! { into:
        /// With a payload codec, by name.
        codec: String,
        /// With a Content Type (MQTT 5).
        content_type: String,
        /// With a Response Topic (MQTT 5).
        response_topic: String,
        /// With Correlation Data (MQTT 5).
        correlation_data: Bytes,
    }

    /// With one more User Property (MQTT 5), after those set before.
    pub fn user_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.user_properties.push((name.into(), value.into()));
        self
    }
}

pub(crate) type PublishOutcome = Result<PublishDone, ClientError>;

/// The outcome slot of a publish whose caller waits for it.
pub(crate) type CallReply<'a> = Reply<&'a ReplyPool<PublishOutcome>, PublishOutcome>;

/// The timer of a call's timeout, if it has one.
pub(crate) type CallTimer = Option<Pin<Box<dyn Timer>>>;

struct Shared {
    commands: Handle,
    deliver: chan::Receiver<Message>,
    /// One `deliver_message` caller at a time parks on the queue.
    deliver_wait: Mutex<()>,
    replies: Arc<ReplyPool<PublishOutcome>>,
    /// Publishes handed over without waiting (`publish_nowait`,
    /// `try_publish`) and not yet complete: at most `max_queued`.
    budget: Arc<Budget>,
    /// Shared with the driver.
    config: Arc<Config>,
    #[cfg(feature = "payload")]
    codecs: crate::payload::Codecs,
    next_route: AtomicU64,
    runtime: Arc<dyn Runtime>,
    counters: Arc<Counters>,
    server: Arc<ServerSlot>,
}

/// An MQTT client: cheap to clone, `Send + Sync`; every clone talks to the
/// same connection. The connection is driven by a background task of the
/// runtime; nothing needs to be polled by the application.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to `uri` (then to the config's other URIs in turn on
    /// failure) and returns once the broker accepted the connection. With
    /// `auto_reconnect` (and `reconnect_on_first_connect`) a refused TCP
    /// connection is retried with backoff first.
    ///
    /// The returned future is boxed: the caller's future (often one task
    /// per client) holds a pointer, not the whole connect state.
    pub fn connect(
        runtime: Arc<dyn Runtime>,
        uri: &str,
        config: Config,
    ) -> impl Future<Output = Result<Client, ClientError>> + Send + '_ {
        Box::pin(async move {
            config.validate()?;
            // A scheme this build cannot open is refused now, not retried.
            let first = BrokerUri::parse(uri)?;
            crate::connector::check_schemes(&config.broker_uris(Some(&first))?)?;
            let connector = Arc::new(DefaultConnector::new(runtime.clone(), &config)?);
            Self::connect_inner(runtime, connector, first, config).await
        })
    }

    /// [`Client::connect`] over the transports of `connector`: any
    /// `futures-io` byte stream (see [`crate::connector`]). The runtime
    /// gives spawning and timers.
    pub fn connect_with(
        runtime: Arc<dyn Runtime>,
        connector: Arc<dyn Connector>,
        uri: &str,
        config: Config,
    ) -> impl Future<Output = Result<Client, ClientError>> + Send + '_ {
        Box::pin(async move {
            config.validate()?;
            let first = BrokerUri::parse(uri)?;
            Self::connect_inner(runtime, connector, first, config).await
        })
    }

    async fn connect_inner(
        runtime: Arc<dyn Runtime>,
        connector: Arc<dyn Connector>,
        first: BrokerUri,
        config: Config,
    ) -> Result<Client, ClientError> {
        // The config was validated by the caller, once.
        let uris = config.broker_uris(Some(&first))?;
        let mut options = config.session_options(&first)?;
        crate::auth::configure(config.authentication().as_ref(), &mut options)?;
        let session = new_session(options, config.persistence.as_deref())?;
        #[cfg(feature = "payload")]
        let codecs = crate::payload::Codecs::from_config(&config)?;
        let commands = Commands::new();
        let (deliver_tx, deliver_rx) = chan::channel(DELIVERY_QUEUE);
        let counters = Arc::new(Counters::default());
        let (first_connect, connected) = oneshot::channel();
        let server = Arc::new(ServerSlot::default());
        let config = Arc::new(config);
        let driver = Driver::new(
            runtime.clone(),
            connector,
            config.clone(),
            uris,
            session,
            Links {
                commands: commands.receiver(),
                deliver: deliver_tx,
                counters: counters.clone(),
                first_connect,
                server: server.clone(),
            },
        );
        let client = Client {
            shared: Arc::new(Shared {
                commands: Handle::new(commands),
                deliver: deliver_rx,
                deliver_wait: Mutex::new(()),
                replies: Arc::new(ReplyPool::new()),
                budget: Budget::new(config.max_queued),
                config,
                #[cfg(feature = "payload")]
                codecs,
                next_route: AtomicU64::new(0),
                runtime: runtime.clone(),
                counters,
                server,
            }),
        };
        runtime.spawn(Box::pin(driver));
        // The driver answers once the broker accepted the connection, or
        // with why there is none (`ClientError::Connect`,
        // `ClientError::Connection` for a refusal).
        connected.await.map_err(|_| ClientError::Closed)??;
        Ok(client)
    }

    /// Queues a command for the driver (never waits).
    pub(crate) fn send(&self, command: Command) -> Result<(), ClientError> {
        self.shared
            .commands
            .send_now(command)
            .map_err(|_| ClientError::Closed)
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, ClientError>>) -> Command,
    ) -> Result<T, ClientError> {
        self.ask_within(None, make).await
    }

    /// [`Client::ask`] with a timeout of its own (else the config's).
    async fn ask_within<T>(
        &self,
        timeout: Option<Duration>,
        make: impl FnOnce(oneshot::Sender<Result<T, ClientError>>) -> Command,
    ) -> Result<T, ClientError> {
        let timeout = timeout.or(self.shared.config.request_timeout);
        self.within(timeout, async {
            let (tx, rx) = oneshot::channel();
            self.send(make(tx))?;
            rx.await.map_err(|_| ClientError::Closed)?
        })
        .await
    }

    /// `call`, or [`ClientError::Timeout`] after `timeout`.
    pub(crate) async fn within<T>(
        &self,
        timeout: Option<Duration>,
        call: impl Future<Output = Result<T, ClientError>>,
    ) -> Result<T, ClientError> {
        let Some(timeout) = timeout else {
            return call.await;
        };
        let mut timer = self.shared.runtime.timer(self.now() + timeout);
        let mut call = std::pin::pin!(call);
        poll_fn(|cx| {
            if let Poll::Ready(r) = call.as_mut().poll(cx) {
                return Poll::Ready(r);
            }
            match timer.as_mut().poll_expired(cx) {
                Poll::Ready(()) => Poll::Ready(Err(ClientError::Timeout)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// The runtime's clock ([`Runtime::now`]): what every deadline the
    /// client computes starts from.
    pub(crate) fn now(&self) -> Instant {
        self.shared.runtime.now()
    }

    /// A new id for a route or a request, unique in the client.
    pub(crate) fn next_id(&self) -> u64 {
        self.shared.next_route.fetch_add(1, Ordering::Relaxed)
    }

    /// What the client counted so far.
    pub fn stats(&self) -> Stats {
        Stats {
            qos0_dropped: self.shared.counters.qos0_dropped.load(Ordering::Relaxed),
            replies_dropped: self.shared.counters.replies_dropped.load(Ordering::Relaxed),
        }
    }

    /// What the broker said in the CONNACK of the latest accepted
    /// connection (negotiated limits, assigned client identifier, server
    /// keep alive, response information, ...): see [`ServerInfo`]. Updated
    /// at each reconnection; `None` only before the first one (never once
    /// [`Client::connect`] returned).
    pub fn server(&self) -> Option<Arc<ServerInfo>> {
        self.shared.server.get()
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The client's codecs (see [`crate::payload`]): built from the config;
    /// register codecs of your own here.
    #[cfg(feature = "payload")]
    pub fn codecs(&self) -> &crate::payload::Codecs {
        &self.shared.codecs
    }

    /// Publishes and resolves when the QoS level is complete: QoS 0 once
    /// the transport took its last byte (a QoS 0 message the transport never
    /// took fails with the connection's error), QoS 1 on PUBACK, QoS 2 on
    /// PUBCOMP. For QoS 1 and 2 a lost connection does not fail the call:
    /// the message is redelivered after the reconnect; it fails only with a
    /// typed error (refused, session lost, client closed). Concurrent
    /// publishes are pipelined.
    ///
    /// The topic is a `&str` (checked and copied) or a [`TopicName`]
    /// (checked once; a clone is a reference count): a loop publishing to
    /// one topic gives a `TopicName` and allocates nothing per message.
    pub fn publish<T>(
        &self,
        topic: T,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
    ) -> PublishCall<'_>
    where
        T: TryInto<TopicName>,
        ClientError: From<T::Error>,
    {
        let options = PublishOptions::new().qos(qos).retain(retain);
        self.publish_with(topic, payload, options)
    }

    /// [`Client::publish`] with its optional arguments in `options`: QoS
    /// and retain flag (when not set, the configuration's for this topic:
    /// its `topics` policy, else `default_qos` / `default_retain`), expiry
    /// and timeout.
    pub fn publish_with<T>(
        &self,
        topic: T,
        payload: impl Into<Bytes>,
        options: PublishOptions,
    ) -> PublishCall<'_>
    where
        T: TryInto<TopicName>,
        ClientError: From<T::Error>,
    {
        let start = self
            .make_publish(topic, payload, &options)
            .and_then(|publish| self.start_publish(publish, &options));
        PublishCall::new(self, start)
    }

    /// Publishes a PUBLISH as given (MQTT 5 properties included); the packet
    /// identifier is assigned by the session.
    pub fn publish_packet(&self, publish: Publish) -> PublishCall<'_> {
        self.publish_packet_with(publish, PublishOptions::default())
    }

    /// [`Client::publish_packet`] with options: an expiry and a timeout for
    /// this call, and a QoS or retain flag that, when set, replace the
    /// packet's.
    pub fn publish_packet_with(
        &self,
        mut publish: Publish,
        options: PublishOptions,
    ) -> PublishCall<'_> {
        if let Some(qos) = options.qos {
            publish.qos = qos;
            publish.packet_id = match qos {
                QoS::AtMostOnce => None,
                _ => publish.packet_id.or(Some(PacketId::MIN)),
            };
        }
        if let Some(retain) = options.retain {
            publish.retain = retain;
        }
        PublishCall::new(self, self.start_publish(publish, &options))
    }

    /// The PUBLISH of a `publish` call: the topic checked, QoS and retain
    /// from `options` or the configuration's defaults for the topic.
    pub(crate) fn make_publish<T>(
        &self,
        topic: T,
        payload: impl Into<Bytes>,
        options: &PublishOptions,
    ) -> Result<Publish, ClientError>
    where
        T: TryInto<TopicName>,
        ClientError: From<T::Error>,
    {
        let topic = topic.try_into()?;
        let (qos, retain) = match (options.qos, options.retain) {
            (Some(qos), Some(retain)) => (qos, retain),
            (qos, retain) => {
                let (q, r) = self.shared.config.publish_defaults(&topic);
                (qos.unwrap_or(q), retain.unwrap_or(r))
            }
        };
        // The session assigns the real packet identifier.
        let mut p = Publish::with_qos(topic, payload, qos, PacketId::MIN);
        p.retain = retain;
        Ok(p)
    }

    /// Properties from `options`, and when the message expires.
    fn finish_publish(
        &self,
        publish: &mut Publish,
        options: &PublishOptions,
    ) -> Result<Option<Instant>, ClientError> {
        // Only a publish with properties touches them (the first write
        // allocates them).
        if crate::properties::has_publish_properties(options) {
            crate::properties::apply_publish(options, &mut publish.properties)?;
        }
        Ok(options
            .expiry
            .or(self.shared.config.publish_expiry)
            .map(|d| self.now() + d))
    }

    /// What a [`PublishCall`] sends at its first poll.
    fn start_publish(
        &self,
        mut publish: Publish,
        options: &PublishOptions,
    ) -> Result<StartPublish, ClientError> {
        let expires = self.finish_publish(&mut publish, options)?;
        Ok(StartPublish {
            publish,
            expires,
            timeout: options.timeout.or(self.shared.config.request_timeout),
        })
    }

    /// Sends a publish whose caller waits for the outcome (within its
    /// timeout): the state [`PublishCall`] keeps from its first poll.
    pub(crate) fn send_publish(
        &self,
        start: StartPublish,
    ) -> Result<(CallReply<'_>, CallTimer), ClientError> {
        // A recycled reply slot: no allocation per publish once warm.
        let (reply, outcome) = self.shared.replies.reply(|| Err(ClientError::Closed));
        self.send(Command::Publish {
            publish: start.publish,
            expires: start.expires,
            reply: Some(reply),
        })?;
        let timer = start
            .timeout
            .map(|t| self.shared.runtime.timer(self.now() + t));
        Ok((outcome, timer))
    }

    /// Hands `publish` to the driver under `permit`: the handle of
    /// [`Client::publish_nowait`] and [`Client::try_publish`].
    pub(crate) fn hand_over(
        &self,
        mut publish: Publish,
        options: &PublishOptions,
        permit: Permit,
    ) -> Result<PublishHandle, ClientError> {
        let expires = self.finish_publish(&mut publish, options)?;
        let (reply, outcome) = self
            .shared
            .replies
            .reply_owned(|| Err(ClientError::Closed), permit);
        self.send(Command::Publish {
            publish,
            expires,
            reply: Some(reply),
        })?;
        Ok(PublishHandle::new(outcome))
    }

    /// The bound of publishes handed over without waiting.
    pub(crate) fn budget(&self) -> &Arc<Budget> {
        &self.shared.budget
    }

    /// Subscribes to filters; the result has the granted QoS or the
    /// refusal of each filter, in order. These subscriptions are restored
    /// after a reconnect that lost the session. Messages matching no
    /// [`Client::subscription`] stream go to [`Client::deliver_message`].
    /// A filter already kept is subscribed at its kept QoS if that is
    /// higher (raised, never lowered).
    pub async fn subscribe(
        &self,
        filters: &[(&str, QoS)],
    ) -> Result<Vec<Result<QoS, SubAckReason>>, ClientError> {
        let filters: Vec<_> = filters
            .iter()
            .map(|(f, q)| (*f, SubscriptionOptions::qos(*q)))
            .collect();
        let outcome = self
            .subscribe_with(&filters, SubscribeOptions::new())
            .await?;
        Ok(outcome.results)
    }

    /// [`Client::subscribe`] with per-filter [`SubscriptionOptions`]
    /// (maximum QoS and, in MQTT 5, No Local, Retain As Published, Retain
    /// Handling) and the call's options (SUBSCRIBE user properties, a
    /// timeout). The outcome has each filter's granted QoS or refusal
    /// reason, and the SUBACK's reason string and user properties.
    ///
    /// A broker subscription has one set of options: a filter that
    /// subscription streams use with another No Local or Retain As
    /// Published fails the call with [`ClientError::SubscriptionConflict`],
    /// nothing sent. Shared subscriptions (`$share/group/filter`) are
    /// filters like any other; a broker without them refuses them (SUBACK
    /// 0x9E in `results`), or, when its CONNACK said so, the call fails with
    /// [`RequestError::NotSupported`](crate::RequestError::NotSupported)
    /// before anything is sent. MQTT 5 options on a 3.1.1 client fail with
    /// [`RequestError::Encode`](crate::RequestError::Encode).
    ///
    /// ```no_run
    /// # async fn example(client: sansmqtt::Client) -> Result<(), sansmqtt::ClientError> {
    /// use sansmqtt::{QoS, RetainHandling, SubscribeOptions, SubscriptionOptions};
    ///
    /// let room = SubscriptionOptions::qos(QoS::AtLeastOnce)
    ///     .no_local(true)
    ///     .retain_as_published(true);
    /// let alerts = SubscriptionOptions::qos(QoS::ExactlyOnce)
    ///     .retain_handling(RetainHandling::DoNotSend);
    /// let outcome = client
    ///     .subscribe_with(
    ///         &[("rooms/42", room), ("alerts/#", alerts)],
    ///         SubscribeOptions::new().user_property("tenant", "acme"),
    ///     )
    ///     .await?;
    /// for (filter, result) in ["rooms/42", "alerts/#"].iter().zip(&outcome.results) {
    ///     match result {
    ///         Ok(granted) => println!("{filter}: {granted:?}"),
    ///         Err(reason) => println!("{filter}: {reason} ({:?})", outcome.reason_string),
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn subscribe_with(
        &self,
        filters: &[(&str, SubscriptionOptions)],
        options: SubscribeOptions,
    ) -> Result<SubscribeOutcome, ClientError> {
        let filters = filters
            .iter()
            .map(|(f, o)| Ok((TopicFilter::try_from(*f)?, *o)))
            .collect::<Result<Vec<_>, ClientError>>()?;
        let users = &options.user_properties;
        self.filters_request(filters, users, options.timeout, Command::Subscribe)
            .await
    }

    /// Unsubscribes from filters and waits for UNSUBACK (fails, never hangs,
    /// if the connection is lost first).
    pub async fn unsubscribe(&self, filters: &[&str]) -> Result<(), ClientError> {
        self.unsubscribe_with(filters, UnsubscribeOptions::new())
            .await
            .map(drop)
    }

    /// [`Client::unsubscribe`] with options (UNSUBSCRIBE user properties, a
    /// timeout); the outcome has each filter's UNSUBACK reason, and the
    /// UNSUBACK's reason string and user properties. A filter that
    /// subscription streams still use stays subscribed at the broker (see
    /// [`UnsubscribeOutcome::results`]).
    pub async fn unsubscribe_with(
        &self,
        filters: &[&str],
        options: UnsubscribeOptions,
    ) -> Result<UnsubscribeOutcome, ClientError> {
        let filters = filters
            .iter()
            .map(|f| TopicFilter::try_from(*f).map_err(ClientError::from))
            .collect::<Result<Vec<_>, _>>()?;
        let users = &options.user_properties;
        self.filters_request(filters, users, options.timeout, Command::Unsubscribe)
            .await
    }

    /// A subscribe or unsubscribe of `filters` with user properties
    /// `users`, made into a command by `command`; its outcome.
    async fn filters_request<F, O>(
        &self,
        filters: Vec<F>,
        users: &[(String, String)],
        timeout: Option<Duration>,
        command: fn(RequestCall<F, O>) -> Command,
    ) -> Result<O, ClientError> {
        let user_properties = crate::properties::user_properties(users)?;
        self.ask_within(timeout, |reply| {
            command(RequestCall {
                filters,
                user_properties,
                reply,
            })
        })
        .await
    }

    /// Sends PINGREQ and waits for PINGRESP (with the ping timeout).
    pub async fn ping(&self) -> Result<(), ClientError> {
        self.ask(|reply| Command::Ping { reply }).await
    }

    /// Disconnects cleanly (DISCONNECT after what is queued); no automatic
    /// reconnect follows. Unacknowledged publishes stay for [`Client::reconnect`].
    pub async fn disconnect(&self) {
        let (tx, rx) = oneshot::channel();
        let command = Command::Disconnect {
            packet: None,
            reply: tx,
        };
        if self.send(command).is_ok() {
            let _ = rx.await;
        }
    }

    /// [`Client::disconnect`] with the MQTT 5 DISCONNECT's contents in
    /// `options`: a reason code (0x04 Disconnect with Will Message asks the
    /// broker to publish the will), a Session Expiry Interval replacing
    /// CONNECT's, a Reason String, User Properties. Options the connection
    /// cannot carry are refused before anything is sent
    /// ([`ClientError::Disconnect`]): a reason only a server sends, a
    /// session expiry above zero after a CONNECT without one
    /// [MQTT-3.14.2-2], anything but a plain DISCONNECT on MQTT 3.1.1.
    pub async fn disconnect_with(&self, options: DisconnectOptions) -> Result<(), ClientError> {
        let version = self.server().map_or(ProtocolVersion::V3_1_1, |s| s.version);
        let connect_expiry = self.shared.config.session_expiry_interval();
        let packet = options.packet(version, connect_expiry)?;
        let (tx, rx) = oneshot::channel();
        let command = Command::Disconnect {
            packet: Some(packet),
            reply: tx,
        };
        if self.send(command).is_ok() {
            let _ = rx.await;
        }
        Ok(())
    }

    /// Connects again (after `disconnect`, or to restart a live connection),
    /// keeping the session; returns whether the broker resumed it.
    pub async fn reconnect(&self) -> Result<bool, ClientError> {
        self.ask(|reply| Command::Reconnect { reply }).await
    }

    /// Authenticates the connection again (MQTT 5 re-authentication,
    /// §4.12.1): AUTH 0x19 with a fresh exchange of the config's
    /// [`Authenticator`](crate::auth::Authenticator) and its method, the
    /// server's challenges answered, the server's final data checked.
    /// Resolves when the server confirmed; the connection is used meanwhile.
    /// While offline, the next connection (which authenticates afresh)
    /// answers. Fails with [`ClientError::Auth`] when the authenticator
    /// refuses (the connection is then closed: DISCONNECT 0x83) or none is
    /// configured, with [`ClientError::Connection`] when the server ends
    /// the connection (its DISCONNECT, e.g. 0x87 Not authorized).
    pub async fn reauthenticate(&self) -> Result<(), ClientError> {
        self.ask(|reply| Command::Reauthenticate { reply }).await
    }

    /// The next message that no [`Client::subscription`] stream took, or
    /// `None` once the client is closed for good.
    pub async fn deliver_message(&self) -> Option<Message> {
        let deliver = &self.shared.deliver;
        // A message already queued is taken without a lock.
        if let Some(m) = deliver.try_recv() {
            return m;
        }
        let _one_waiter = self.shared.deliver_wait.lock().await;
        poll_fn(|cx| deliver.poll_recv(cx)).await
    }

    /// A stream of the messages matching `filter`. Identical filters share
    /// one broker subscription (its QoS is raised, never lowered); it is
    /// removed when the last stream using it is dropped (unless it was also
    /// made with [`Client::subscribe`]). Overlapping streams each get their
    /// own copy of a message. A subscription the broker refuses fails with
    /// [`ClientError::SubscribeRefused`] and its reason code.
    pub async fn subscription(&self, filter: &str, qos: QoS) -> Result<Subscription, ClientError> {
        self.subscription_with(filter, SubscriptionOptions::qos(qos))
            .await
    }

    /// [`Client::subscription`] with the filter's [`SubscriptionOptions`]:
    /// maximum QoS and, in MQTT 5, No Local, Retain As Published and Retain
    /// Handling.
    ///
    /// Streams of one filter share its broker subscription, so they share
    /// its No Local and Retain As Published: the first request sets them,
    /// and a stream asking for other values fails with
    /// [`ClientError::SubscriptionConflict`] (the QoS is raised, never
    /// lowered). Retain Handling applies to the SUBSCRIBE the stream causes:
    /// a stream joining a filter already subscribed at its QoS sends none,
    /// and gets no retained messages. A shared subscription
    /// (`$share/group/filter`) stream gets the messages whose topic matches
    /// `filter`.
    ///
    /// ```no_run
    /// # async fn example(client: sansmqtt::Client) -> Result<(), sansmqtt::ClientError> {
    /// use futures_util::StreamExt;
    /// use sansmqtt::{QoS, SubscriptionOptions};
    ///
    /// // One of the group "workers": the broker hands each job to one member.
    /// let options = SubscriptionOptions::qos(QoS::AtLeastOnce).no_local(true);
    /// let mut jobs = client.subscription_with("$share/workers/jobs/#", options).await?;
    /// while let Some(job) = jobs.next().await {
    ///     println!("{}", job.topic()); // as published: jobs/...
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn subscription_with(
        &self,
        filter: &str,
        options: SubscriptionOptions,
    ) -> Result<Subscription, ClientError> {
        let filter = TopicFilter::try_from(filter)?;
        let id = self.next_id();
        let (sender, receiver) = chan::channel(DELIVERY_QUEUE);
        let route_filter = filter.clone();
        self.ask(|reply| Command::Route {
            id,
            filter: route_filter,
            options,
            sender,
            reply,
        })
        .await?;
        Ok(Subscription {
            id,
            filter,
            receiver,
            commands: self.shared.commands.clone(),
        })
    }

    /// Every change of the connection state, starting with the current one.
    pub fn state_changes(&self) -> impl Stream<Item = ConnectionState> + Send + Unpin + 'static {
        let (tx, rx) = mpsc::unbounded();
        let _ = self.send(Command::WatchState { sender: tx });
        rx
    }
}

/// The session of a client: with its file store when the config has
/// `persistence` (what the file holds restored), else in memory only.
fn new_session(
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

/// A stream of messages matching one filter; unsubscribes when dropped
/// (if it was the last user of the broker subscription).
pub struct Subscription {
    id: u64,
    filter: TopicFilter,
    receiver: chan::Receiver<Message>,
    commands: Handle,
}

impl Subscription {
    /// The filter (named so that `StreamExt::filter` does not shadow it).
    pub fn topic_filter(&self) -> &TopicFilter {
        &self.filter
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}

impl Stream for Subscription {
    type Item = Message;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        self.receiver.poll_recv(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let _ = self.commands.send_now(Command::Unroute { id: self.id });
    }
}
