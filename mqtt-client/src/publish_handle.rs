//! The futures of a publish. [`PublishCall`] is what [`Client::publish`]
//! returns: the message is built when the call is made, handed to the
//! driver at the first poll, and from then on the future holds only its
//! reply slot and its timer (a few dozen bytes, where an `async fn` chain
//! held a kilobyte per publish waiting for its acknowledgement).
//!
//! Publishing without waiting for the outcome: [`Client::publish_nowait`]
//! and [`Client::try_publish`] hand the message to the client and return a
//! [`PublishHandle`], a future of the outcome that may be awaited later,
//! kept in a collection, or dropped (the publish goes on).
//!
//! The rule of backpressure: at most the configuration's `max_queued`
//! publishes handed over this way are incomplete at once (queued for the
//! driver, waiting for the connection or an in-flight slot, or in flight).
//! At the bound, `publish_nowait` waits for room (woken once a quarter of
//! the bound is free again), and
//! `try_publish` fails at once with
//! [`PublishError::QueueFull`]. Publishes of the waiting forms
//! ([`Client::publish`]) do not count: their callers are the bound.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use sansmqtt_proto::{QoS, TopicName};
use sansmqtt_session::{PublishDone, PublishError};

use std::time::{Duration, Instant};

use sansmqtt_proto::Publish;

use crate::chan::{Reply, ReplyPool};
use crate::client::{CallReply, CallTimer, PublishOutcome};
use crate::{Client, ClientError, PublishOptions};

/// What [`PublishCall`] sends at its first poll.
pub(crate) struct StartPublish {
    pub(crate) publish: Publish,
    /// Dropped unsent after this instant (`expiry`).
    pub(crate) expires: Option<Instant>,
    /// How long the caller waits for the outcome.
    pub(crate) timeout: Option<Duration>,
}

/// The future of [`Client::publish`] and its forms: resolves when the
/// QoS level is complete (see [`Client::publish`]). The message is sent at
/// the first poll; dropping the future after that does not cancel it.
#[must_use = "futures do nothing unless polled: the message is sent at the first poll"]
pub struct PublishCall<'a> {
    client: &'a Client,
    state: CallState<'a>,
}

enum CallState<'a> {
    /// Not polled yet: the message, or why there is none.
    Start(Result<StartPublish, ClientError>),
    /// Sent: the outcome's slot and the call's timeout.
    Waiting {
        reply: CallReply<'a>,
        timer: CallTimer,
    },
    Done,
}

impl<'a> PublishCall<'a> {
    pub(crate) fn new(client: &'a Client, start: Result<StartPublish, ClientError>) -> Self {
        Self {
            client,
            state: CallState::Start(start),
        }
    }
}

impl std::fmt::Debug for PublishCall<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishCall").finish_non_exhaustive()
    }
}

impl Future for PublishCall<'_> {
    type Output = Result<PublishDone, ClientError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        match std::mem::replace(&mut this.state, CallState::Done) {
            CallState::Start(start) => match start.and_then(|s| this.client.send_publish(s)) {
                Ok((reply, timer)) => this.state = CallState::Waiting { reply, timer },
                Err(e) => return Poll::Ready(Err(e)),
            },
            other => this.state = other,
        }
        let CallState::Waiting { reply, timer } = &mut this.state else {
            return Poll::Pending;
        };
        if let Poll::Ready(outcome) = Pin::new(reply).poll(cx) {
            this.state = CallState::Done;
            return Poll::Ready(outcome);
        }
        if let Some(timer) = timer
            && timer.as_mut().poll_expired(cx).is_ready()
        {
            this.state = CallState::Done;
            return Poll::Ready(Err(ClientError::Timeout));
        }
        Poll::Pending
    }
}

/// The outcome of a publish handed over by [`Client::publish_nowait`] or
/// [`Client::try_publish`]: resolves as [`Client::publish`] would (QoS 0
/// once the transport took it, QoS 1 on PUBACK, QoS 2 on PUBCOMP, or a
/// typed error). Dropping it does not cancel the publish.
#[must_use = "dropping the handle does not cancel the publish, but its outcome is lost"]
pub struct PublishHandle {
    reply: Reply<Arc<ReplyPool<PublishOutcome>>, PublishOutcome>,
}

impl PublishHandle {
    pub(crate) fn new(reply: Reply<Arc<ReplyPool<PublishOutcome>>, PublishOutcome>) -> Self {
        Self { reply }
    }
}

impl std::fmt::Debug for PublishHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishHandle").finish_non_exhaustive()
    }
}

impl Future for PublishHandle {
    type Output = Result<PublishDone, ClientError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.reply).poll(cx)
    }
}

impl Client {
    /// Publishes without waiting for the outcome: returns a
    /// [`PublishHandle`] once the message is handed to the client, at once
    /// unless `max_queued` publishes handed over this way are incomplete
    /// (then once a quarter of them completed: the backpressure of a
    /// telemetry loop).
    /// The handle resolves as [`Client::publish`] does; dropping it does not
    /// cancel the publish. Publishes keep the order of the calls.
    ///
    /// ```no_run
    /// # async fn example(client: sansmqtt::Client) -> Result<(), sansmqtt::ClientError> {
    /// use sansmqtt::{QoS, TopicName};
    ///
    /// let topic = TopicName::try_from("sensors/kitchen/temp")?;
    /// let mut pending = Vec::new();
    /// for reading in 0..100u32 {
    ///     let payload = reading.to_string();
    ///     pending.push(client.publish_nowait(&topic, payload, QoS::AtLeastOnce, false).await?);
    /// }
    /// // Later (or never: the publishes go on without their handles).
    /// for handle in pending {
    ///     handle.await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn publish_nowait<T>(
        &self,
        topic: T,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
    ) -> Result<PublishHandle, ClientError>
    where
        T: TryInto<TopicName>,
        ClientError: From<T::Error>,
    {
        let options = PublishOptions::new().qos(qos).retain(retain);
        self.publish_nowait_with(topic, payload, options).await
    }

    /// [`Client::publish_nowait`] with the options of
    /// [`Client::publish_with`]; `options.timeout` does not apply (the
    /// caller decides how long to wait for the handle).
    pub async fn publish_nowait_with<T>(
        &self,
        topic: T,
        payload: impl Into<Bytes>,
        options: PublishOptions,
    ) -> Result<PublishHandle, ClientError>
    where
        T: TryInto<TopicName>,
        ClientError: From<T::Error>,
    {
        let publish = self.make_publish(topic, payload, &options)?;
        let permit = self.budget().take().await;
        self.hand_over(publish, &options, permit)
    }

    /// [`Client::publish_nowait`] that never waits: fails with
    /// [`ClientError::Publish`]`(`[`PublishError::QueueFull`]`)` (the bound,
    /// `max_queued`) when that many publishes handed over without waiting
    /// are incomplete. Callable outside any async context.
    pub fn try_publish<T>(
        &self,
        topic: T,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
    ) -> Result<PublishHandle, ClientError>
    where
        T: TryInto<TopicName>,
        ClientError: From<T::Error>,
    {
        let options = PublishOptions::new().qos(qos).retain(retain);
        self.try_publish_with(topic, payload, options)
    }

    /// [`Client::try_publish`] with the options of [`Client::publish_with`]
    /// (`options.timeout` does not apply).
    pub fn try_publish_with<T>(
        &self,
        topic: T,
        payload: impl Into<Bytes>,
        options: PublishOptions,
    ) -> Result<PublishHandle, ClientError>
    where
        T: TryInto<TopicName>,
        ClientError: From<T::Error>,
    {
        let publish = self.make_publish(topic, payload, &options)?;
        let budget = self.budget();
        let permit = budget
            .try_take()
            .ok_or(ClientError::Publish(PublishError::QueueFull(budget.max())))?;
        self.hand_over(publish, &options, permit)
    }
}
