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
    AckProperties, MqttString, QoS, SubAckReason, SubscriptionOptions, TopicFilter, UnsubAckReason,
    UnsubscribeProperties, UserProperty,
};

use crate::client::option_setters;
use crate::command::{Reply, Waiter};

/// An options struct of a subscribe or unsubscribe call: user properties
/// of its packet, a timeout for its acknowledgement.
macro_rules! request_options {
    ($(#[$doc:meta])* $name:ident, $packet:literal, $ack:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct $name {
            #[doc = concat!("User Properties of the ", $packet, " (MQTT 5), in order; a name may repeat.")]
            pub user_properties: Vec<(String, String)>,
            #[doc = concat!("Give up waiting for ", $ack, " after this long ([`ClientError::Timeout`](crate::ClientError::Timeout)). Default: the config's `request_timeout`.")]
            pub timeout: Option<Duration>,
        }

        impl $name {
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
    };
}

request_options! {
    /// The optional arguments of [`Client::subscribe_with`](crate::Client::subscribe_with):
    /// SUBSCRIBE user properties (MQTT 5; not sent again when the client
    /// restores the subscription after a session loss) and a timeout.
    ///
    /// ```
    /// use sansmqtt::SubscribeOptions;
    ///
    /// let options = SubscribeOptions::new()
    ///     .user_property("tenant", "a")
    ///     .user_property("tenant", "b");
    /// assert_eq!(options.user_properties.len(), 2);
    /// ```
    SubscribeOptions, "SUBSCRIBE", "SUBACK"
}

request_options! {
    /// The optional arguments of [`Client::unsubscribe_with`](crate::Client::unsubscribe_with):
    /// UNSUBSCRIBE user properties (MQTT 5) and a timeout.
    UnsubscribeOptions, "UNSUBSCRIBE", "UNSUBACK"
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

/// A subscribe or unsubscribe call, for the driver: the filters (`F`),
/// the packet's user properties, the caller waiting for the outcome (`O`).
pub(crate) struct RequestCall<F, O> {
    pub(crate) filters: Vec<F>,
    pub(crate) user_properties: Vec<UserProperty>,
    pub(crate) reply: Reply<O>,
}

/// A `subscribe_with` call.
pub(crate) type SubscribeCall = RequestCall<(TopicFilter, SubscriptionOptions), SubscribeOutcome>;
/// An `unsubscribe_with` call.
pub(crate) type UnsubscribeCall = RequestCall<TopicFilter, UnsubscribeOutcome>;

impl RequestCall<TopicFilter, UnsubscribeOutcome> {
    /// The UNSUBSCRIBE of `sent` (the filters routing leaves to unsubscribe
    /// at the broker): its properties, and the waiter for its UNSUBACK; or,
    /// with nothing to send, `None` and the caller answered.
    pub(crate) fn sending(self, sent: &[TopicFilter]) -> Option<(UnsubscribeProperties, Waiter)> {
        let mask = sent_mask(&self.filters, sent);
        if sent.is_empty() {
            let outcome = UnsubscribeOutcome::new(&mask, &[], AckProperties::default());
            let _ = self.reply.send(Ok(outcome));
            return None;
        }
        let properties = UnsubscribeProperties {
            user_properties: self.user_properties,
        };
        Some((properties, Waiter::Unsubscribe(self.reply, mask)))
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

    use UnsubAckReason::{NoSubscriptionExisted, NotAuthorized, Success};

    fn f(s: &'static str) -> TopicFilter {
        TopicFilter::from_static(s).expect("a valid filter")
    }

    #[test]
    fn unsubscribe_outcome_in_the_order_asked() {
        let asked = [f("a"), f("kept"), f("b"), f("c")];
        let sent = [f("a"), f("b"), f("c")];
        let mask = sent_mask(&asked, &sent);
        assert_eq!(mask, [true, false, true, true]);
        let properties = AckProperties {
            reason_string: Some(MqttString::from_static("why").unwrap()),
            ..Default::default()
        };
        let o = UnsubscribeOutcome::new(
            &mask,
            &[NoSubscriptionExisted, NotAuthorized, Success],
            properties,
        );
        let expected = [
            Ok(NoSubscriptionExisted),
            Ok(Success),
            Err(NotAuthorized),
            Ok(Success),
        ];
        assert_eq!(o.results, expected);
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
