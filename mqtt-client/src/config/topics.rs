//! The per-topic publish policy (config key `topics`): QoS and retain flag
//! of a publish that does not give them, by exact topic name or by
//! wildcard filter, the most specific entry winning.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use sansmqtt_proto::{QoS, TopicFilter, TopicName};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::serde_helpers::option_qos;

/// Publish defaults of one [`TopicPolicy`] entry; an absent field falls
/// back to a less specific entry, then to `default_qos` / `default_retain`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicDefaults {
    /// QoS.
    #[serde(default, with = "option_qos", skip_serializing_if = "Option::is_none")]
    pub qos: Option<QoS>,
    /// Retain flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain: Option<bool>,
}

/// Publish defaults by topic ([`Config::topics`](super::Config::topics)):
/// an exact topic name or a wildcard filter (not a shared subscription),
/// mapped to a QoS and/or a retain flag. Every key is checked when it is
/// inserted or read from a configuration.
///
/// ```
/// use sansmqtt::QoS;
/// use sansmqtt::config::{TopicDefaults, TopicPolicy};
///
/// let mut topics = TopicPolicy::new();
/// topics.insert("sensors/#", TopicDefaults { qos: Some(QoS::AtLeastOnce), retain: None })?;
/// topics.insert("sensors/alarm", TopicDefaults { qos: Some(QoS::ExactlyOnce), retain: Some(true) })?;
/// let alarm = "sensors/alarm".try_into()?;
/// assert_eq!(topics.defaults_for(&alarm), (Some(QoS::ExactlyOnce), Some(true)));
/// assert!(topics.insert("a/#/b", TopicDefaults::default()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TopicPolicy(BTreeMap<String, TopicDefaults>);

impl TopicPolicy {
    /// No entry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the defaults of `key` (a topic name, or a filter that is not
    /// shared); returns the entry it replaced.
    pub fn insert(
        &mut self,
        key: &str,
        defaults: TopicDefaults,
    ) -> Result<Option<TopicDefaults>, ConfigError> {
        check_key(key)?;
        Ok(self.0.insert(key.to_owned(), defaults))
    }

    /// The entry of exactly `key`.
    pub fn get(&self, key: &str) -> Option<&TopicDefaults> {
        self.0.get(key)
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &TopicDefaults)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// QoS and retain flag the policy gives a publish to `topic`, each from
    /// the most specific entry that matches `topic` and sets it (`None`
    /// when no entry does).
    ///
    /// Most specific: the exact topic name first; then, among matching
    /// wildcard filters, the one with the most literal levels; on a tie, one
    /// without `#`; then the one whose first differing level is the more
    /// specific (literal before `+` before `#`: `a/b/+` before `a/+/c`
    /// before `+/b/c`).
    pub fn defaults_for(&self, topic: &TopicName) -> (Option<QoS>, Option<bool>) {
        let (mut qos, mut retain) = match self.0.get(topic.as_str()) {
            Some(exact) => (exact.qos, exact.retain),
            None => (None, None),
        };
        if qos.is_some() && retain.is_some() {
            return (qos, retain);
        }
        let mut best_qos: Option<(&str, QoS)> = None;
        let mut best_retain: Option<(&str, bool)> = None;
        for (filter, defaults) in &self.0 {
            if !filter.contains(['+', '#']) || !sansmqtt_proto::matches(filter, topic.as_str()) {
                continue;
            }
            let better = |best: Option<&str>| {
                best.is_none_or(|b| more_specific(filter, b) == Ordering::Greater)
            };
            if let Some(q) = defaults.qos
                && better(best_qos.map(|b| b.0))
            {
                best_qos = Some((filter, q));
            }
            if let Some(r) = defaults.retain
                && better(best_retain.map(|b| b.0))
            {
                best_retain = Some((filter, r));
            }
        }
        qos = qos.or(best_qos.map(|(_, q)| q));
        retain = retain.or(best_retain.map(|(_, r)| r));
        (qos, retain)
    }
}

impl<'de> Deserialize<'de> for TopicPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let entries = BTreeMap::<String, TopicDefaults>::deserialize(d)?;
        for key in entries.keys() {
            check_key(key).map_err(de::Error::custom)?;
        }
        Ok(Self(entries))
    }
}

/// Checks a `topics` key: a topic name, or a filter that is not shared.
fn check_key(key: &str) -> Result<(), ConfigError> {
    let invalid = |source| ConfigError::InvalidTopic {
        key: "topics".to_owned(),
        topic: key.to_owned(),
        source,
    };
    if key.contains(['+', '#']) {
        let filter = TopicFilter::try_from(key).map_err(invalid)?;
        if filter.is_shared() {
            return Err(ConfigError::SharedFilterInTopics(key.to_owned()));
        }
    } else {
        TopicName::try_from(key).map_err(invalid)?;
    }
    Ok(())
}

/// Orders two filters that match the same topic by specificity (greater:
/// more specific); see [`TopicPolicy::defaults_for`].
fn more_specific(a: &str, b: &str) -> Ordering {
    fn rank(level: &str) -> u8 {
        match level {
            "#" => 0,
            "+" => 1,
            _ => 2,
        }
    }
    let literals = |f: &str| f.split('/').filter(|l| rank(l) == 2).count();
    let no_hash = |f: &str| !f.ends_with('#');
    literals(a)
        .cmp(&literals(b))
        .then_with(|| no_hash(a).cmp(&no_hash(b)))
        .then_with(|| a.split('/').map(rank).cmp(b.split('/').map(rank)))
        // Deterministic to the end (unreachable for two distinct filters
        // matching one topic): the first in key order wins.
        .then_with(|| b.cmp(a))
}
