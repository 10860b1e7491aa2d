//! Request / response (MQTT 5 §4.10): [`Client::request`] publishes a
//! request with a Response Topic and a Correlation Data of its own and
//! awaits the matching reply; [`Client::respond`] answers a request
//! received.
//!
//! The decisions (response topic, correlation data, which caller a reply
//! goes to, when requests may go out) are the sans-IO [`Requests`] table's;
//! the driver only hands it commands, CONNACKs, SUBACKs and messages.
//!
//! [`Client::request`]: crate::Client::request
//! [`Client::respond`]: crate::Client::respond

mod client;
mod desk;
mod table;

use crate::client::option_setters;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use sansmqtt_proto::{MqttString, PublishProperties, QoS, UserProperty};

use crate::command::Reply;
use crate::{ClientError, Message};

pub(crate) use desk::Desk;
pub(crate) use table::{Answer, Requests, Start};

/// How long a request waits for its reply when neither
/// [`RequestOptions::timeout`] nor the config's `request_timeout` says.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl Answer for Reply<Message> {
    fn answer(self, outcome: Result<Message, ClientError>) {
        // A caller that gave up dropped its receiver: nobody to tell.
        let _ = self.send(outcome);
    }
}

/// A random nonce for the correlation data of one client: two clients
/// (or two runs of one) never share one in practice.
pub(crate) fn nonce() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// The optional arguments of a request, for
/// [`Client::request_with`](crate::Client::request_with). What is not set
/// comes from the configuration.
///
/// The Response Topic and Correlation Data are the client's: any set in
/// [`RequestOptions::properties`] are replaced.
///
/// ```
/// # use std::time::Duration;
/// use sansmqtt::{MqttString, QoS, RequestOptions};
///
/// let options = RequestOptions::new()
///     .qos(QoS::AtLeastOnce)
///     .timeout(Duration::from_secs(2))
///     .content_type(MqttString::try_from("application/json").unwrap());
/// assert_eq!(options.timeout, Some(Duration::from_secs(2)));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestOptions {
    /// QoS of the request. Default: the config's `topics` entry for the
    /// topic, else `default_qos`. (Replies are received at QoS 1 at most:
    /// the client subscribes to its response topic at QoS 1.)
    pub qos: Option<QoS>,
    /// Give up waiting for the reply after this long
    /// ([`ClientError::Timeout`]; a reply coming later is dropped). Counted
    /// from the call, waiting for the connection included. Default: the
    /// config's `request_timeout`, else [`DEFAULT_REQUEST_TIMEOUT`].
    pub timeout: Option<Duration>,
    /// Drop the request, with
    /// [`PublishError::Expired`](crate::PublishError::Expired), if it is
    /// still waiting to be sent this long after the call. Default: the
    /// config's `publish_expiry`.
    pub expiry: Option<Duration>,
    /// MQTT 5 properties of the request: content type, payload format,
    /// message expiry, user properties.
    pub properties: PublishProperties,
}

impl RequestOptions {
    /// No option set: everything from the configuration.
    pub fn new() -> Self {
        Self::default()
    }

    option_setters! {
        /// With a QoS.
        qos: QoS,
        /// With a timeout for the reply.
        timeout: Duration,
        /// With an expiry of the request while it waits to be sent.
        expiry: Duration,
    }

    /// With these MQTT 5 properties (the Response Topic and Correlation
    /// Data in them are replaced).
    pub fn properties(mut self, properties: PublishProperties) -> Self {
        self.properties = properties;
        self
    }

    /// With a Content Type.
    pub fn content_type(mut self, content_type: MqttString) -> Self {
        self.properties.content_type = Some(content_type);
        self
    }

    /// With one more User Property.
    pub fn user_property(mut self, name: MqttString, value: MqttString) -> Self {
        self.properties
            .user_properties
            .push(UserProperty { name, value });
        self
    }
}
