//! The payload forms of the client's calls, and messages decoded.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::stream::{Stream, StreamExt};
use sansmqtt_proto::QoS;
use sansmqtt_session::PublishDone;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::codec::{Codec, decode_typed};
use super::error::PayloadError;
use super::value::Value;
use crate::{Client, ClientError, Message, PublishOptions, Subscription};

impl Message {
    /// The payload decoded with `codec` (for a codec by name:
    /// `client.codecs().decode(Some(name), message.payload())`). The
    /// message and its raw payload stay available whatever the outcome.
    pub fn decode(&self, codec: &dyn Codec) -> Result<Value, PayloadError> {
        codec.decode(self.payload())
    }

    /// The payload decoded with `codec` into a `T: Deserialize`, through
    /// structured data ([`Codec::decode_data`]).
    pub fn decode_typed<T: DeserializeOwned>(&self, codec: &dyn Codec) -> Result<T, PayloadError> {
        decode_typed(codec, self.payload())
    }
}

/// A message and its payload decoded: the value, or why it did not decode
/// (the message, raw payload included, is kept either way).
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<T = Value> {
    /// The message as received.
    pub message: Message,
    /// The decoded payload, or the codec's error.
    pub value: Result<T, PayloadError>,
}

type DecodeFn<T> = fn(&Message, &dyn Codec) -> Result<T, PayloadError>;

/// A [`Subscription`] whose messages come decoded: a stream of
/// [`Decoded`]. A payload that does not decode is an `Err` value in its
/// item; the stream goes on. Unsubscribes when dropped, like the
/// subscription it wraps.
pub struct DecodedSubscription<T = Value> {
    inner: Subscription,
    codec: Arc<dyn Codec>,
    decode: DecodeFn<T>,
}

impl<T> DecodedSubscription<T> {
    /// The filter.
    pub fn topic_filter(&self) -> &sansmqtt_proto::TopicFilter {
        self.inner.topic_filter()
    }

    /// The codec decoding the messages.
    pub fn codec(&self) -> &Arc<dyn Codec> {
        &self.codec
    }

    /// The subscription underneath, yielding raw messages.
    pub fn into_inner(self) -> Subscription {
        self.inner
    }
}

impl<T> fmt::Debug for DecodedSubscription<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodedSubscription")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<T> Stream for DecodedSubscription<T> {
    type Item = Decoded<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Decoded<T>>> {
        let this = &mut *self;
        this.inner.poll_next_unpin(cx).map(|next| {
            next.map(|message| {
                let value = (this.decode)(&message, &*this.codec);
                Decoded { message, value }
            })
        })
    }
}

fn decode_value(message: &Message, codec: &dyn Codec) -> Result<Value, PayloadError> {
    message.decode(codec)
}

fn decode_as<T: DeserializeOwned>(message: &Message, codec: &dyn Codec) -> Result<T, PayloadError> {
    message.decode_typed(codec)
}

impl Client {
    /// Encodes `value` with the default codec (`config.codec`) and
    /// publishes it (see [`Client::publish`]).
    pub async fn publish_value(
        &self,
        topic: &str,
        value: &Value,
        qos: QoS,
        retain: bool,
    ) -> Result<PublishDone, ClientError> {
        let options = PublishOptions::new().qos(qos).retain(retain);
        self.publish_value_with(topic, value, options).await
    }

    /// [`Client::publish_value`] with its optional arguments in `options`:
    /// the codec (built-in, alias or registered, with its `codec_params`;
    /// default: `config.codec`), QoS and retain flag (default: the
    /// configuration's for this topic), expiry and timeout (see
    /// [`PublishOptions`]).
    pub async fn publish_value_with(
        &self,
        topic: &str,
        value: &Value,
        options: PublishOptions,
    ) -> Result<PublishDone, ClientError> {
        let payload = self.codecs().encode(options.codec.as_deref(), value)?;
        self.publish_with(topic, payload, options).await
    }

    /// Encodes any `T: Serialize` with the default codec and publishes it.
    pub async fn publish_typed<T: Serialize + ?Sized>(
        &self,
        topic: &str,
        value: &T,
        qos: QoS,
        retain: bool,
    ) -> Result<PublishDone, ClientError> {
        let options = PublishOptions::new().qos(qos).retain(retain);
        self.publish_typed_with(topic, value, options).await
    }

    /// [`Client::publish_typed`] with its optional arguments in `options`
    /// (codec, QoS, retain flag, expiry, timeout; see [`PublishOptions`]).
    pub async fn publish_typed_with<T: Serialize + ?Sized>(
        &self,
        topic: &str,
        value: &T,
        options: PublishOptions,
    ) -> Result<PublishDone, ClientError> {
        let payload = self
            .codecs()
            .encode_typed(options.codec.as_deref(), value)?;
        self.publish_with(topic, payload, options).await
    }

    /// A [`Client::subscription`] whose messages come decoded with the
    /// codec named `codec` (the default codec for `None`). An unknown codec
    /// fails before subscribing.
    pub async fn subscription_value(
        &self,
        filter: &str,
        qos: QoS,
        codec: Option<&str>,
    ) -> Result<DecodedSubscription, ClientError> {
        self.decoded_subscription(filter, qos, codec, decode_value)
            .await
    }

    /// A [`Client::subscription`] whose messages come decoded into `T`
    /// with the codec named `codec` (the default codec for `None`).
    pub async fn subscription_typed<T: DeserializeOwned>(
        &self,
        filter: &str,
        qos: QoS,
        codec: Option<&str>,
    ) -> Result<DecodedSubscription<T>, ClientError> {
        self.decoded_subscription(filter, qos, codec, decode_as::<T>)
            .await
    }

    async fn decoded_subscription<T>(
        &self,
        filter: &str,
        qos: QoS,
        codec: Option<&str>,
        decode: DecodeFn<T>,
    ) -> Result<DecodedSubscription<T>, ClientError> {
        let codec = self.codecs().resolve(codec)?;
        let inner = self.subscription(filter, qos).await?;
        Ok(DecodedSubscription {
            inner,
            codec,
            decode,
        })
    }

    /// [`Client::deliver_message`], decoded with the codec named `codec`
    /// (the default codec for `None`): `Ok(None)` once the client is
    /// closed, `Err` only for an unknown codec (checked before waiting,
    /// [`ClientError::Payload`]).
    pub async fn deliver_value(&self, codec: Option<&str>) -> Result<Option<Decoded>, ClientError> {
        let codec = self.codecs().resolve(codec)?;
        Ok(self.deliver_message().await.map(|message| {
            let value = message.decode(&*codec);
            Decoded { message, value }
        }))
    }

    /// [`Client::deliver_message`], decoded into `T` with the codec named
    /// `codec` (the default codec for `None`).
    pub async fn deliver_typed<T: DeserializeOwned>(
        &self,
        codec: Option<&str>,
    ) -> Result<Option<Decoded<T>>, ClientError> {
        let codec = self.codecs().resolve(codec)?;
        Ok(self.deliver_message().await.map(|message| {
            let value = message.decode_typed(&*codec);
            Decoded { message, value }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{JsonCodec, NoopCodec};
    use bytes::Bytes;

    fn message(payload: &'static [u8]) -> Message {
        let topic = sansmqtt_proto::TopicName::try_from("a/b").unwrap();
        Message::new(sansmqtt_proto::Publish::at_most_once(topic, payload))
    }

    #[test]
    fn message_decode_keeps_the_raw_payload_on_error() {
        let m = message(b"\xff not json");
        let e = m.decode(&JsonCodec::new()).unwrap_err();
        assert!(matches!(e, PayloadError::Json { .. }), "{e}");
        // The message is untouched and can be decoded another way.
        assert_eq!(&m.payload()[..], b"\xff not json");
        assert_eq!(
            m.decode(&NoopCodec).unwrap(),
            Value::Bytes(Bytes::from_static(b"\xff not json"))
        );
        let d = Decoded {
            message: m.clone(),
            value: m.decode_typed::<u32>(&JsonCodec::new()),
        };
        assert!(d.value.is_err());
        assert_eq!(d.message, m);
    }

    #[test]
    fn message_decode_typed() {
        let m = message(br#"{"x": [1, 2]}"#);
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct P {
            x: Vec<u8>,
        }
        assert_eq!(
            m.decode_typed::<P>(&JsonCodec::new()).unwrap(),
            P { x: vec![1, 2] }
        );
        assert_eq!(
            decode_value(&m, &JsonCodec::new()).unwrap(),
            Value::Data(serde_json::json!({"x": [1, 2]}))
        );
    }
}
