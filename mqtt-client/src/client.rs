//! The client handle and subscription streams.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_channel::{mpsc, oneshot};
use futures_util::lock::Mutex;
use futures_util::stream::{Stream, StreamExt};
use sansmqtt_proto::{
    PacketId, Publish, QoS, SubAckReason, SubscriptionOptions, TopicFilter, TopicName,
};
use sansmqtt_session::{CloseReason, PublishDone};

use crate::config::{BrokerUri, Config};
use crate::connector::{Connector, DefaultConnector};
use crate::driver::{Command, Driver};
use crate::runtime::Runtime;
use crate::{ClientError, Message};

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

/// Capacity of each subscription stream and of the `deliver_message` queue.
/// When one is full the client stops reading from the socket and withholds
/// acknowledgements: the broker slows down, nothing is dropped.
const QUEUE: usize = 1024;

struct Shared {
    commands: mpsc::UnboundedSender<Command>,
    deliver: Mutex<mpsc::Receiver<Message>>,
    config: Config,
    next_route: AtomicU64,
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
    pub async fn connect(
        runtime: Arc<dyn Runtime>,
        uri: &str,
        config: Config,
    ) -> Result<Client, ClientError> {
        config.validate()?;
        let connector = Arc::new(DefaultConnector::new(runtime.clone(), &config)?);
        Self::connect_with(runtime, connector, uri, config).await
    }

    /// [`Client::connect`] over the transports of `connector`: any
    /// `futures-io` byte stream (see [`crate::connector`]). The runtime
    /// gives spawning and timers.
    pub async fn connect_with(
        runtime: Arc<dyn Runtime>,
        connector: Arc<dyn Connector>,
        uri: &str,
        config: Config,
    ) -> Result<Client, ClientError> {
        config.validate()?;
        let first = BrokerUri::parse(uri)?;
        let mut uris = vec![first.clone()];
        for u in config.uris.iter() {
            uris.push(BrokerUri::parse(u)?);
        }
        let options = config.session_options(&first)?;
        let (commands, commands_rx) = mpsc::unbounded();
        let (deliver_tx, deliver_rx) = mpsc::channel(QUEUE);
        let driver = Driver::new(
            &*runtime,
            connector,
            config.clone(),
            uris,
            options,
            commands_rx,
            deliver_tx,
        );
        runtime.spawn(Box::pin(driver));
        let client = Client {
            shared: Arc::new(Shared {
                commands,
                deliver: Mutex::new(deliver_rx),
                config,
                next_route: AtomicU64::new(0),
            }),
        };
        let retry_first =
            client.shared.config.auto_reconnect && client.shared.config.reconnect_on_first_connect;
        let mut states = client.state_changes();
        let mut attempts = 0u32;
        while let Some(state) = states.next().await {
            match state {
                ConnectionState::Connected { .. } => return Ok(client),
                ConnectionState::Disconnected {
                    reason: Some(reason),
                } => return Err(ClientError::Connection(reason)),
                ConnectionState::Disconnected { reason: None } if !retry_first => {
                    return Err(ClientError::Io("connection refused or unreachable".into()));
                }
                ConnectionState::Disconnected { reason: None } => attempts += 1,
                // The retries are spent: say why, not just "closed".
                ConnectionState::Closed if attempts > 0 => {
                    return Err(ClientError::Io(format!(
                        "connection refused or unreachable ({attempts} attempts)"
                    )));
                }
                ConnectionState::Closed => return Err(ClientError::Closed),
                _ => {}
            }
        }
        Err(ClientError::Closed)
    }

    fn send(&self, command: Command) -> Result<(), ClientError> {
        self.shared
            .commands
            .unbounded_send(command)
            .map_err(|_| ClientError::Closed)
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, ClientError>>) -> Command,
    ) -> Result<T, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.send(make(tx))?;
        rx.await.map_err(|_| ClientError::Closed)?
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Publishes and resolves when the QoS level is complete: QoS 0 once
    /// the transport took its last byte (a QoS 0 message the transport never
    /// took fails with the connection's error), QoS 1 on PUBACK, QoS 2 on
    /// PUBCOMP. For QoS 1 and 2 a lost connection does not fail the call:
    /// the message is redelivered after the reconnect; it fails only with a
    /// typed error (refused, session lost, client closed). Concurrent
    /// publishes are pipelined.
    pub async fn publish(
        &self,
        topic: &str,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
    ) -> Result<PublishDone, ClientError> {
        let topic = TopicName::try_from(topic)?;
        let mut p = Publish::at_most_once(topic, payload);
        p.qos = qos;
        p.retain = retain;
        p.packet_id = (qos != QoS::AtMostOnce).then_some(PacketId::MIN);
        self.publish_packet(p).await
    }

    /// Publishes with the QoS and retain flag the configuration gives for
    /// this topic (`topics`, else `default_qos` / `default_retain`).
    pub async fn publish_default(
        &self,
        topic: &str,
        payload: impl Into<Bytes>,
    ) -> Result<PublishDone, ClientError> {
        let name = TopicName::try_from(topic)?;
        let (qos, retain) = self.shared.config.publish_defaults(&name);
        self.publish(topic, payload, qos, retain).await
    }

    /// Publishes a PUBLISH as given (MQTT 5 properties included); the packet
    /// identifier is assigned by the session.
    pub async fn publish_packet(&self, publish: Publish) -> Result<PublishDone, ClientError> {
        self.ask(|reply| Command::Publish {
            publish,
            reply: Some(reply),
        })
        .await
    }

    /// Subscribes to filters; the result has the granted QoS or the
    /// refusal of each filter, in order. These subscriptions are restored
    /// after a reconnect that lost the session. Messages matching no
    /// [`Client::subscription`] stream go to [`Client::deliver_message`].
    pub async fn subscribe(
        &self,
        filters: &[(&str, QoS)],
    ) -> Result<Vec<Result<QoS, SubAckReason>>, ClientError> {
        let filters = filters
            .iter()
            .map(|(f, q)| Ok((TopicFilter::try_from(*f)?, SubscriptionOptions::qos(*q))))
            .collect::<Result<Vec<_>, ClientError>>()?;
        self.ask(|reply| Command::Subscribe { filters, reply })
            .await
    }

    /// Unsubscribes from filters and waits for UNSUBACK (fails, never hangs,
    /// if the connection is lost first).
    pub async fn unsubscribe(&self, filters: &[&str]) -> Result<(), ClientError> {
        let filters = filters
            .iter()
            .map(|f| TopicFilter::try_from(*f).map_err(ClientError::from))
            .collect::<Result<Vec<_>, _>>()?;
        self.ask(|reply| Command::Unsubscribe { filters, reply })
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
        if self.send(Command::Disconnect { reply: tx }).is_ok() {
            let _ = rx.await;
        }
    }

    /// Connects again (after `disconnect`, or to restart a live connection),
    /// keeping the session; returns whether the broker resumed it.
    pub async fn reconnect(&self) -> Result<bool, ClientError> {
        self.ask(|reply| Command::Reconnect { reply }).await
    }

    /// The next message that no [`Client::subscription`] stream took, or
    /// `None` once the client is closed for good.
    pub async fn deliver_message(&self) -> Option<Message> {
        self.shared.deliver.lock().await.next().await
    }

    /// A stream of the messages matching `filter`. Identical filters share
    /// one broker subscription (its QoS is raised, never lowered); it is
    /// removed when the last stream using it is dropped (unless it was also
    /// made with [`Client::subscribe`]). Overlapping streams each get their
    /// own copy of a message.
    pub async fn subscription(&self, filter: &str, qos: QoS) -> Result<Subscription, ClientError> {
        let filter = TopicFilter::try_from(filter)?;
        let id = self.shared.next_route.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = mpsc::channel(QUEUE);
        let route_filter = filter.clone();
        self.ask(|reply| Command::Route {
            id,
            filter: route_filter,
            qos,
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

/// A stream of messages matching one filter; unsubscribes when dropped
/// (if it was the last user of the broker subscription).
pub struct Subscription {
    id: u64,
    filter: TopicFilter,
    receiver: mpsc::Receiver<Message>,
    commands: mpsc::UnboundedSender<Command>,
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
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        self.receiver.poll_next_unpin(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let _ = self
            .commands
            .unbounded_send(Command::Unroute { id: self.id });
    }
}
