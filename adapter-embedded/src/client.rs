//! The application's side: publish, subscribe, receive.

use alloc::vec::Vec;
use core::future::poll_fn;
use core::task::Poll;

use bytes::Bytes;
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_sync::waitqueue::WakerRegistration;
use sansmqtt_proto::{
    PacketId, Publish, QoS, SubAckReason, SubscribeProperties, SubscriptionOptions, TopicFilter,
    TopicName, UnsubscribeProperties,
};
use sansmqtt_session::{Message, PublishDone, Session, Token};

use crate::Error;
use crate::state::{Outcome, Shared, Slot};
use crate::time;
use sansmqtt_session::Instant;

/// The application's handle on the client: cheap to copy, usable from any
/// number of tasks at once. Requests are queued in the session and carried
/// out by the [`Connection`](crate::Connection) while it runs; made while
/// no connection runs, they wait for the next one (publishes up to the
/// session's `max_queued`).
///
/// Each request future holds one of the `REQUESTS` slots of the
/// [`Resources`](crate::Resources) until its outcome: more concurrent
/// requests wait for a free slot. Dropping a request future does not
/// cancel the request (a publish handed to the session is delivered); it
/// only stops waiting for the outcome.
pub struct Client<'a, M: RawMutex, const QUEUE: usize, const REQUESTS: usize> {
    pub(crate) shared: &'a Shared<M, QUEUE, REQUESTS>,
}

impl<M: RawMutex, const QUEUE: usize, const REQUESTS: usize> Clone
    for Client<'_, M, QUEUE, REQUESTS>
{
    fn clone(&self) -> Self {
        *self
    }
}

impl<M: RawMutex, const QUEUE: usize, const REQUESTS: usize> Copy
    for Client<'_, M, QUEUE, REQUESTS>
{
}

impl<'a, M: RawMutex, const QUEUE: usize, const REQUESTS: usize> Client<'a, M, QUEUE, REQUESTS> {
    /// Publishes `payload` (copied) to `topic`. Resolves when the publish
    /// is complete: QoS 0 once the connection took it to write (there is
    /// no acknowledgement), QoS 1 at PUBACK, QoS 2 at PUBCOMP. A QoS 1 or 2 publish survives a lost connection:
    /// it is sent again, DUP set, when the connection is run again and the
    /// broker resumes the session [MQTT-4.4.0-1].
    pub async fn publish(
        &self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> Result<PublishDone, Error> {
        let topic = TopicName::try_from(topic)?;
        // The session assigns the packet identifier.
        let mut publish =
            Publish::with_qos(topic, Bytes::copy_from_slice(payload), qos, PacketId::MIN);
        publish.retain = retain;
        self.publish_with(publish).await
    }

    /// Publishes a PUBLISH built by the application (MQTT 5 properties,
    /// a payload it already holds as [`Bytes`]); its packet identifier and
    /// DUP flag are the session's to set. Resolves as [`Client::publish`].
    pub async fn publish_with(&self, publish: Publish) -> Result<PublishDone, Error> {
        let outcome = self
            .request(move |session, max, now| {
                let version = session.options().version;
                let size = publish
                    .encoded_len(version)
                    .map_err(|e| Error::Publish(e.into()))?;
                if size > max as usize {
                    return Err(Error::PacketTooLarge { size, max });
                }
                Ok(session.publish(publish, now)?)
            })
            .await?;
        match outcome {
            Outcome::Published(result) => Ok(result?),
            _ => unreachable!("a publish token completes with Published"),
        }
    }

    /// Subscribes to `filter` at `qos`; resolves at SUBACK with the QoS the
    /// broker granted, or [`Error::SubscribeRefused`].
    pub async fn subscribe(&self, filter: &str, qos: QoS) -> Result<QoS, Error> {
        let mut results = self.subscribe_many(&[(filter, qos)]).await?;
        match results.pop() {
            Some(Ok(granted)) => Ok(granted),
            Some(Err(reason)) => Err(Error::SubscribeRefused(reason)),
            // The session checks that SUBACK has one reason per filter
            // [MQTT-3.9.3-1].
            None => Err(Error::SubscribeRefused(SubAckReason::UnspecifiedError)),
        }
    }

    /// Subscribes to several filters in one SUBSCRIBE; resolves at SUBACK
    /// with the broker's answer per filter, in order.
    pub async fn subscribe_many(
        &self,
        filters: &[(&str, QoS)],
    ) -> Result<Vec<Result<QoS, SubAckReason>>, Error> {
        let filters = filters
            .iter()
            .map(|&(f, qos)| Ok((TopicFilter::try_from(f)?, SubscriptionOptions::qos(qos))))
            .collect::<Result<Vec<_>, Error>>()?;
        let outcome = self
            .request(move |session, _, now| {
                Ok(session.subscribe(filters, SubscribeProperties::default(), now)?)
            })
            .await?;
        match outcome {
            Outcome::Subscribed(result) => Ok(result?),
            _ => unreachable!("a subscribe token completes with Subscribed"),
        }
    }

    /// Unsubscribes from `filter`; resolves at UNSUBACK.
    pub async fn unsubscribe(&self, filter: &str) -> Result<(), Error> {
        let filter = TopicFilter::try_from(filter)?;
        let outcome = self
            .request(move |session, _, now| {
                Ok(session.unsubscribe(
                    alloc::vec![filter],
                    UnsubscribeProperties::default(),
                    now,
                )?)
            })
            .await?;
        match outcome {
            Outcome::Unsubscribed(result) => match result?.pop() {
                Some(reason) if reason.is_error() => Err(Error::UnsubscribeRefused(reason)),
                _ => Ok(()),
            },
            _ => unreachable!("an unsubscribe token completes with Unsubscribed"),
        }
    }

    /// The next message received, in the order the broker sent them. The
    /// queue holds `QUEUE` messages; while it is full the connection stops
    /// reading the socket, so that TCP slows the broker down: no message is
    /// dropped, whatever its QoS.
    pub async fn deliver_message(&self) -> Message {
        poll_fn(|cx| {
            let (message, paused) = self.shared.with(|inner| {
                // Whether the connection waits without reading, before
                // taking a message may resume input.
                let paused = inner.input_paused();
                let message = inner.take_message(time::now());
                if message.is_none() {
                    inner.receivers.register(cx.waker());
                }
                (message, paused)
            });
            match message {
                Some(message) => {
                    if paused {
                        // Reading stopped for want of room: tell the
                        // connection there is some.
                        self.shared.wake_connection.signal(());
                    }
                    Poll::Ready(message)
                }
                None => Poll::Pending,
            }
        })
        .await
    }

    /// The next message received, if one is waiting.
    pub fn try_deliver_message(&self) -> Option<Message> {
        let (message, paused) = self.shared.with(|inner| {
            let paused = inner.input_paused();
            (inner.take_message(time::now()), paused)
        });
        if paused {
            self.shared.wake_connection.signal(());
        }
        message
    }

    /// Ends the connection: DISCONNECT is sent (once connected) and
    /// [`Connection::run`](crate::Connection::run) returns `Ok(())`. QoS 1
    /// and 2 publishes not yet acknowledged stay in the session for the
    /// next connection.
    pub fn disconnect(&self) -> Result<(), Error> {
        self.shared
            .with(|inner| inner.session.disconnect(None, time::now()))?;
        self.shared.wake_connection.signal(());
        Ok(())
    }

    /// Whether CONNACK accepted the current connection.
    pub fn is_connected(&self) -> bool {
        self.shared.with(|inner| inner.session.is_connected())
    }

    /// Waits until CONNACK accepted a connection (at once if it has).
    pub async fn wait_connected(&self) {
        poll_fn(|cx| {
            self.shared.with(|inner| {
                if inner.session.is_connected() {
                    Poll::Ready(())
                } else {
                    inner.connected_waiters.register(cx.waker());
                    Poll::Pending
                }
            })
        })
        .await
    }

    /// Publishes and requests waiting in the session: queued for a
    /// connection or an in-flight slot, and in flight.
    pub fn pending_publishes(&self) -> usize {
        self.shared
            .with(|inner| inner.session.queued() + inner.session.inflight())
    }

    /// Received messages waiting for [`Client::deliver_message`].
    pub fn queued_messages(&self) -> usize {
        self.shared.with(|inner| inner.queued_messages())
    }

    /// Starts a request in a free slot and waits for its outcome.
    async fn request(
        &self,
        start: impl FnOnce(&mut Session, u32, Instant) -> Result<Token, Error>,
    ) -> Result<Outcome, Error> {
        let slot = SlotGuard::acquire(self.shared).await;
        self.shared.with(|inner| {
            let token = start(&mut inner.session, inner.max_packet_size, time::now())?;
            inner.slots[slot.index] = Slot::Waiting {
                token,
                waker: WakerRegistration::new(),
            };
            Ok::<_, Error>(())
        })?;
        self.shared.wake_connection.signal(());
        Ok(slot.outcome().await)
    }
}

/// A request slot held by a request future; freed when dropped.
struct SlotGuard<'s, M: RawMutex, const QUEUE: usize, const REQUESTS: usize> {
    shared: &'s Shared<M, QUEUE, REQUESTS>,
    index: usize,
}

impl<'s, M: RawMutex, const QUEUE: usize, const REQUESTS: usize> SlotGuard<'s, M, QUEUE, REQUESTS> {
    /// Waits for a free slot and takes it.
    async fn acquire(shared: &'s Shared<M, QUEUE, REQUESTS>) -> Self {
        let index = poll_fn(|cx| {
            shared.with(
                |inner| match inner.slots.iter().position(|s| matches!(s, Slot::Free)) {
                    Some(index) => {
                        inner.slots[index] = Slot::Reserved;
                        Poll::Ready(index)
                    }
                    None => {
                        inner.slot_waiters.register(cx.waker());
                        Poll::Pending
                    }
                },
            )
        })
        .await;
        Self { shared, index }
    }

    /// Waits for the outcome of the request in the slot.
    async fn outcome(&self) -> Outcome {
        poll_fn(|cx| {
            self.shared.with(|inner| {
                let slot = &mut inner.slots[self.index];
                if let Slot::Waiting { waker, .. } = slot {
                    waker.register(cx.waker());
                    return Poll::Pending;
                }
                match core::mem::replace(slot, Slot::Reserved) {
                    Slot::Done(outcome) => Poll::Ready(outcome),
                    _ => unreachable!("the slot is held by this guard until dropped"),
                }
            })
        })
        .await
    }
}

impl<M: RawMutex, const QUEUE: usize, const REQUESTS: usize> Drop
    for SlotGuard<'_, M, QUEUE, REQUESTS>
{
    fn drop(&mut self) {
        self.shared.with(|inner| inner.free_slot(self.index));
    }
}
