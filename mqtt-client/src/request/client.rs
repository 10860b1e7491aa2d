//! The request / response calls of the client: [`Client::request`] and its
//! options form, [`Client::respond`] and its options form.

use bytes::Bytes;
use futures_channel::oneshot;
use sansmqtt_proto::{PacketId, Publish, TopicName};
use sansmqtt_session::PublishDone;

use super::{DEFAULT_REQUEST_TIMEOUT, RequestOptions};
use crate::command::Command;
use crate::{Client, ClientError, Message, PublishOptions};

impl Client {
    /// Sends a request to `topic` and returns the reply (MQTT 5
    /// request / response, §4.10): the request carries a Response Topic and
    /// a Correlation Data of its own, and the first message on the response
    /// topic with that correlation data is the reply.
    ///
    /// The response topic is the broker's Response Information followed by
    /// `/response` when the broker gave one, else
    /// `sansmqtt/response/<client id>`; the client subscribes to it (QoS 1)
    /// at its first request, waits for the SUBACK before publishing, and
    /// keeps the subscription (restored after a reconnect without session)
    /// for every later request: any number of requests are served
    /// concurrently over it. Messages on that topic are the client's
    /// replies: they reach no subscription stream nor
    /// [`Client::deliver_message`]. A reply that names no waiting request
    /// (missing, foreign or stale correlation data) is dropped and counted
    /// ([`Stats::replies_dropped`](crate::Stats::replies_dropped)).
    ///
    /// Fails with [`ClientError::Timeout`] when no reply comes within the
    /// config's `request_timeout`, else [`DEFAULT_REQUEST_TIMEOUT`]; with
    /// [`ClientError::NeedsMqtt5`] on an MQTT 3.1.1 connection. Dropping the
    /// future gives up the request: a later reply is dropped.
    ///
    /// ```no_run
    /// # async fn example(client: sansmqtt::Client) -> Result<(), sansmqtt::ClientError> {
    /// let reply = client.request("services/time", "now?").await?;
    /// println!("{:?}", reply.payload());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn request<T>(
        &self,
        topic: T,
        payload: impl Into<Bytes>,
    ) -> Result<Message, ClientError>
    where
        T: TryInto<TopicName>,
        ClientError: From<T::Error>,
    {
        self.request_with(topic, payload, RequestOptions::new())
            .await
    }

    /// [`Client::request`] with its optional arguments in `options`: QoS,
    /// timeout, expiry and the request's MQTT 5 properties (content type,
    /// user properties, ...).
    pub async fn request_with<T>(
        &self,
        topic: T,
        payload: impl Into<Bytes>,
        options: RequestOptions,
    ) -> Result<Message, ClientError>
    where
        T: TryInto<TopicName>,
        ClientError: From<T::Error>,
    {
        let topic = topic.try_into()?;
        let config = self.config();
        let qos = options
            .qos
            .unwrap_or_else(|| config.publish_defaults(&topic).0);
        let mut publish = Publish::with_qos(topic, payload, qos, PacketId::MIN);
        publish.properties = options.properties.into();
        let expires = options
            .expiry
            .or(config.publish_expiry)
            .map(|d| self.now() + d);
        let timeout = options
            .timeout
            .or(config.request_timeout)
            .unwrap_or(DEFAULT_REQUEST_TIMEOUT);
        let id = self.next_id();
        let (reply, outcome) = oneshot::channel();
        self.send(Command::Request {
            id,
            publish,
            expires,
            reply,
        })?;
        // Until the driver answers, dropping this future (or a timeout)
        // frees the request's slot.
        let mut waiting = Waiting {
            client: self,
            id,
            answered: false,
        };
        let result = self
            .within(Some(timeout), async {
                outcome.await.map_err(|_| ClientError::Closed)?
            })
            .await;
        waiting.answered = !matches!(result, Err(ClientError::Timeout));
        result
    }

    /// Answers `request` (a message received with a Response Topic): publishes
    /// `payload` to its Response Topic with its Correlation Data, at the
    /// request's QoS, not retained. Fails with
    /// [`ClientError::NoResponseTopic`] when the request has none.
    ///
    /// ```no_run
    /// # async fn example(client: sansmqtt::Client) -> Result<(), sansmqtt::ClientError> {
    /// use futures_util::StreamExt;
    /// use sansmqtt::QoS;
    ///
    /// let mut requests = client.subscription("services/time", QoS::AtLeastOnce).await?;
    /// while let Some(request) = requests.next().await {
    ///     client.respond(&request, "12:00").await?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn respond(
        &self,
        request: &Message,
        payload: impl Into<Bytes>,
    ) -> Result<PublishDone, ClientError> {
        self.respond_with(request, payload, PublishOptions::new())
            .await
    }

    /// [`Client::respond`] with its optional arguments in `options`: a QoS
    /// (default: the request's) or retain flag (default: not retained),
    /// expiry and timeout of the publish.
    pub async fn respond_with(
        &self,
        request: &Message,
        payload: impl Into<Bytes>,
        options: PublishOptions,
    ) -> Result<PublishDone, ClientError> {
        let properties = request.properties();
        let topic = properties
            .response_topic
            .clone()
            .ok_or(ClientError::NoResponseTopic)?;
        // At the request's QoS unless the options set one (which
        // `publish_packet_with` applies).
        let mut publish = Publish::with_qos(topic, payload, request.qos(), PacketId::MIN);
        publish.properties.correlation_data = properties.correlation_data.clone();
        self.publish_packet_with(publish, options).await
    }
}

/// A request whose caller waits: unless answered, dropping it tells the
/// driver to forget the request.
struct Waiting<'a> {
    client: &'a Client,
    id: u64,
    answered: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.answered {
            let _ = self.client.send(Command::CancelRequest { id: self.id });
        }
    }
}
