//! The optional arguments of a subscribe and an unsubscribe
//! ([`SubscribeOptions`], [`UnsubscribeOptions`]) and what the broker
//! answered ([`SubscribeOutcome`], [`UnsubscribeOutcome`]): reason codes,
//! reason string and user properties of SUBACK / UNSUBACK.
//!
//! The per-filter options (maximum QoS, No Local, Retain As Published,
//! Retain Handling) are [`SubscriptionOptions`](crate::SubscriptionOptions),
//! given with each filter.
//! The Subscription Identifier is not an option: the client manages it to
//! route messages to overlapping streams.

use std::time::Duration;

use sansmqtt_proto::{
    AckProperties, MqttString, QoS, SubAckReason, TopicFilter, UnsubAckReason, UserProperty,
};

use crate::client::option_setters;

/// The optional arguments of [`Client::subscribe_with`](crate::Client::subscribe_with):
/// SUBSCRIBE user properties (MQTT 5) and a timeout.
///
/// ```
/// use sansmqtt::SubscribeOptions;
///
/// let options = SubscribeOptions::new()
///     .user_property("tenant", "a")
///     .user_property("tenant", "b");
/// assert_eq!(options.user_properties.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscribeOptions {
    /// User Properties of the SUBSCRIBE (MQTT 5), in order; a name may
    /// repeat. Not sent again when the client restores the subscription
    /// after a session loss.
    pub user_properties: Vec<(String, String)>,
    /// Give up waiting for SUBACK after this long ([`ClientError::Timeout`](crate::ClientError::Timeout)).
    /// Default: the config's `request_timeout`.
    pub timeout: Option<Duration>,
}

impl SubscribeOptions {
    /// No option set.
    pub fn new() -> Self {
        Self::default()
    }

    /// With one more user property (kept in order, after those set before).
    pub fn user_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.user_properties.push((name.into(), value.into()));
        self
    }

    option_setters! {
        /// With a timeout.
        timeout: Duration,
    }
}

/// The optional arguments of [`Client::unsubscribe_with`](crate::Client::unsubscribe_with):
/// UNSUBSCRIBE user properties (MQTT 5) and a timeout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnsubscribeOptions {
    /// User Properties of the UNSUBSCRIBE (MQTT 5), in order.
    pub user_properties: Vec<(String, String)>,
    /// Give up waiting for UNSUBACK after this long. Default: the config's
    /// `request_timeout`.
    pub timeout: Option<Duration>,
}

impl UnsubscribeOptions {
    /// No option set.
    pub fn new() -> Self {
        Self::default()
    }

    /// With one more user property (kept in order).
    pub fn user_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.user_properties.push((name.into(), value.into()));
        self
    }

    option_setters! {
        /// With a timeout.
        timeout: Duration,
    }
}

/// The broker's SUBACK to [`Client::subscribe_with`](crate::Client::subscribe_with).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscribeOutcome {
    /// Per filter, in the order asked: the QoS granted, or the refusal
    /// (e.g. [`SubAckReason::SharedSubscriptionsNotSupported`], 0x9E).
    pub results: Vec<Result<QoS, SubAckReason>>,
    /// The SUBACK's Reason String (MQTT 5), if the broker gave one.
    pub reason_string: Option<MqttString>,
    /// The SUBACK's User Properties (MQTT 5), in order.
    pub user_properties: Vec<UserProperty>,
}

impl SubscribeOutcome {
    /// The outcome of a SUBACK: its results and properties.
    pub(crate) fn new(results: Vec<Result<QoS, SubAckReason>>, properties: AckProperties) -> Self {
        Self {
            results,
            reason_string: properties.reason_string,
            user_properties: properties.user_properties,
        }
    }

    /// Whether every filter was granted.
    pub fn all_granted(&self) -> bool {
        self.results.iter().all(Result::is_ok)
    }
}

/// The broker's UNSUBACK to [`Client::unsubscribe_with`](crate::Client::unsubscribe_with).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnsubscribeOutcome {
    /// Per filter, in the order asked: `Ok` with
    /// [`UnsubAckReason::Success`] or [`UnsubAckReason::NoSubscriptionExisted`],
    /// `Err` with a refusal (0x80 and above). All `Ok(Success)` in MQTT
    /// 3.1.1, whose UNSUBACK has no reasons. A filter that subscription
    /// streams still use is not unsubscribed at the broker (it only stops
    /// being kept for its own sake): `Ok(Success)`, not sent.
    pub results: Vec<Result<UnsubAckReason, UnsubAckReason>>,
    /// The UNSUBACK's Reason String (MQTT 5), if the broker gave one.
    pub reason_string: Option<MqttString>,
    /// The UNSUBACK's User Properties (MQTT 5), in order.
    pub user_properties: Vec<UserProperty>,
}

impl UnsubscribeOutcome {
    /// The outcome of an UNSUBSCRIBE of some of the filters asked: `sent`
    /// tells, per filter asked, whether it was in the packet; `reasons` are
    /// the UNSUBACK's, one per filter sent.
    pub(crate) fn new(
        sent: &[bool],
        reasons: &[UnsubAckReason],
        properties: AckProperties,
    ) -> Self {
        let mut reasons = reasons.iter();
        let results = sent
            .iter()
            .map(|&sent| {
                let reason = match sent {
                    true => reasons.next().copied().unwrap_or(UnsubAckReason::Success),
                    false => UnsubAckReason::Success,
                };
                if reason.is_error() {
                    Err(reason)
                } else {
                    Ok(reason)
                }
            })
            .collect();
        Self {
            results,
            reason_string: properties.reason_string,
            user_properties: properties.user_properties,
        }
    }

    /// Whether no filter was refused.
    pub fn all_unsubscribed(&self) -> bool {
        self.results.iter().all(Result::is_ok)
    }
}

/// Per filter of `asked`, whether it is in `sent` (a subsequence of
/// `asked`, in order: what routing left to unsubscribe at the broker).
pub(crate) fn sent_mask(asked: &[TopicFilter], sent: &[TopicFilter]) -> Vec<bool> {
    let mut sent = sent.iter().peekable();
    asked
        .iter()
        .map(|f| sent.next_if(|s| *s == f).is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> TopicFilter {
        TopicFilter::try_from(s).unwrap()
    }

    #[test]
    fn unsubscribe_outcome_in_the_order_asked() {
        let asked = [f("a"), f("kept"), f("b"), f("c")];
        let sent = [f("a"), f("b"), f("c")];
        let mask = sent_mask(&asked, &sent);
        assert_eq!(mask, [true, false, true, true]);
        let mut properties = AckProperties::default();
        properties.reason_string = Some(MqttString::from_static("why").unwrap());
        let o = UnsubscribeOutcome::new(
            &mask,
            &[
                UnsubAckReason::NoSubscriptionExisted,
                UnsubAckReason::NotAuthorized,
                UnsubAckReason::Success,
            ],
            properties,
        );
        assert_eq!(
            o.results,
            [
                Ok(UnsubAckReason::NoSubscriptionExisted),
                Ok(UnsubAckReason::Success),
                Err(UnsubAckReason::NotAuthorized),
                Ok(UnsubAckReason::Success),
            ]
        );
        assert_eq!(o.reason_string.as_deref(), Some("why"));
        assert!(!o.all_unsubscribed());
    }

    #[test]
    fn sent_mask_with_repeated_filters() {
        assert_eq!(
            sent_mask(&[f("a"), f("a")], &[f("a"), f("a")]),
            [true, true]
        );
        assert_eq!(sent_mask(&[f("a"), f("a")], &[]), [false, false]);
    }

    #[test]
    fn subscribe_outcome_takes_the_suback_properties() {
        let mut properties = AckProperties::default();
        properties.user_properties.push(UserProperty {
            name: MqttString::from_static("k").unwrap(),
            value: MqttString::from_static("v").unwrap(),
        });
        let o = SubscribeOutcome::new(
            vec![Ok(QoS::AtLeastOnce), Err(SubAckReason::QuotaExceeded)],
            properties,
        );
        assert!(!o.all_granted());
        assert_eq!(o.reason_string, None);
        assert_eq!(o.user_properties[0].name.as_str(), "k");
    }
}
