//! Topic names and topic filters (§4.7) and shared subscriptions (§4.8.2).

use alloc::string::String;
use core::fmt;

use bytes::Bytes;

use crate::string::Invalid;
use crate::{MqttString, StringError};

/// Why a topic name or filter is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// Empty; topic names and filters are at least one character long [MQTT-4.7.3-1].
    #[error("empty [MQTT-4.7.3-1]")]
    Empty,
    /// A wildcard in a topic name [MQTT-4.7.3-2 / MQTT-3.3.2-2].
    #[error("wildcard in a topic name [MQTT-3.3.2-2]")]
    WildcardInName,
    /// `#` not alone in the last level [MQTT-4.7.1-2].
    #[error("'#' must be alone in the last level [MQTT-4.7.1-2]")]
    MisplacedMultiLevelWildcard,
    /// `+` not alone in its level [MQTT-4.7.1-3].
    #[error("'+' must occupy a whole level [MQTT-4.7.1-3]")]
    MisplacedSingleLevelWildcard,
    /// The share name of `$share/{ShareName}/{filter}` is empty or holds `+` or `#` [MQTT-4.8.2-1, MQTT-4.8.2-2].
    #[error("invalid share name [MQTT-4.8.2-1]")]
    InvalidShareName,
    /// Not a valid UTF-8 Encoded String.
    #[error("{0}")]
    String(#[from] StringError),
}

const SHARE_PREFIX: &str = "$share/";

/// A topic name: the topic of a PUBLISH. Validated: no wildcards, at least
/// one character (except the empty name a v5 PUBLISH uses with a topic alias).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName(MqttString);

impl TopicName {
    /// Validates a topic name given as an MQTT string.
    pub fn new(s: MqttString) -> Result<Self, TopicError> {
        Self::check(&s)?;
        Ok(Self(s))
    }

    /// The checks of [`TopicName::new`]: not empty, no wildcard.
    pub(crate) fn check(s: &str) -> Result<(), TopicError> {
        if s.is_empty() {
            return Err(TopicError::Empty);
        }
        Self::check_chars(s)
    }

    fn check_chars(s: &str) -> Result<(), TopicError> {
        if s.bytes().any(|b| b == b'+' || b == b'#') {
            return Err(TopicError::WildcardInName);
        }
        Ok(())
    }

    /// Validates `bytes` as a topic name without copying them.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, TopicError> {
        Self::new(MqttString::from_bytes(bytes)?)
    }

    /// Validates a static string (no copy).
    pub fn from_static(s: &'static str) -> Result<Self, TopicError> {
        Self::new(MqttString::from_static(s)?)
    }

    /// A copy of a name the borrowed decoder already validated.
    pub(crate) fn copy_of(s: &str) -> Self {
        Self(MqttString::copy_of(s))
    }

    /// The empty topic name of a v5 PUBLISH that relies on a topic alias (§3.3.2.3.4).
    pub const fn alias_only() -> Self {
        Self(MqttString::empty())
    }

    /// Validates a name from the wire in one pass; it may be empty (the
    /// caller checks for a topic alias).
    #[inline]
    pub(crate) fn from_wire(bytes: Bytes) -> Result<Self, TopicError> {
        MqttString::validate(bytes, true)
            .map(Self)
            .map_err(|e| match e {
                Invalid::String(e) => TopicError::String(e),
                Invalid::Forbidden => TopicError::WildcardInName,
            })
    }

    /// Wraps a topic from the wire already checked by `ascii_clean` with
    /// wildcards refused.
    #[inline]
    pub(crate) fn from_ascii(bytes: Bytes) -> Option<Self> {
        MqttString::from_ascii(bytes).map(Self)
    }

    /// The topic name as a string.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The underlying MQTT string.
    pub fn as_mqtt_str(&self) -> &MqttString {
        &self.0
    }

    /// Whether this is the empty alias-only name.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The levels of the name, split at `/`.
    pub fn levels(&self) -> core::str::Split<'_, char> {
        self.as_str().split('/')
    }
}

impl TryFrom<&str> for TopicName {
    type Error = TopicError;
    fn try_from(s: &str) -> Result<Self, TopicError> {
        Self::new(MqttString::try_from(s)?)
    }
}

impl TryFrom<String> for TopicName {
    type Error = TopicError;
    fn try_from(s: String) -> Result<Self, TopicError> {
        Self::new(MqttString::try_from(s)?)
    }
}

impl TryFrom<&String> for TopicName {
    type Error = TopicError;
    fn try_from(s: &String) -> Result<Self, TopicError> {
        Self::try_from(s.as_str())
    }
}

impl From<&TopicName> for TopicName {
    /// A clone: a reference count, no copy.
    fn from(t: &TopicName) -> Self {
        t.clone()
    }
}

impl core::str::FromStr for TopicName {
    type Err = TopicError;
    fn from_str(s: &str) -> Result<Self, TopicError> {
        Self::try_from(s)
    }
}

impl fmt::Debug for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A topic filter: the subject of a subscription, possibly with `+` and `#`
/// wildcards, possibly a shared subscription `$share/{group}/{filter}`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicFilter {
    text: MqttString,
    /// Byte offset where the filter proper begins (after `$share/{group}/`).
    filter_start: u16,
}

impl TopicFilter {
    /// Validates a topic filter given as an MQTT string.
    pub fn new(text: MqttString) -> Result<Self, TopicError> {
        let filter_start = Self::check(&text)?;
        Ok(Self { filter_start, text })
    }

    /// Checks a filter's text and returns where the filter proper begins
    /// (after any `$share/{group}/`).
    pub(crate) fn check(text: &str) -> Result<u16, TopicError> {
        let filter_start = if let Some(rest) = text.strip_prefix(SHARE_PREFIX) {
            let slash = rest.find('/').ok_or(TopicError::InvalidShareName)?;
            let group = &rest[..slash];
            if group.is_empty() || group.contains(['+', '#']) {
                return Err(TopicError::InvalidShareName);
            }
            SHARE_PREFIX.len() + slash + 1
        } else {
            0
        };
        validate_filter(&text[filter_start..])?;
        // At most 65,535: bounded by the MQTT string's length.
        Ok(filter_start as u16)
    }

    /// [`TopicFilter::check`] as MQTT 3.1 and 3.1.1 read a filter (see
    /// [`TopicFilter::new_v3`]).
    pub(crate) fn check_v3(text: &str) -> Result<u16, TopicError> {
        match Self::check(text) {
            Err(_) if text.starts_with(SHARE_PREFIX) => validate_filter(text).map(|()| 0),
            other => other,
        }
    }

    /// A copy of a filter the borrowed decoder already validated, with the
    /// `filter_start` its check returned.
    pub(crate) fn copy_of(text: &str, filter_start: u16) -> Self {
        Self {
            text: MqttString::copy_of(text),
            filter_start,
        }
    }

    /// Validates a topic filter received in MQTT 3.1 or 3.1.1, which have no
    /// shared subscriptions: a `$share/...` text that is not a valid shared
    /// subscription (e.g. `$share//a`, `$share/g`) is still a valid plain
    /// filter there (§4.7 of 3.1.1).
    pub(crate) fn new_v3(text: MqttString) -> Result<Self, TopicError> {
        let filter_start = Self::check_v3(&text)?;
        Ok(Self { filter_start, text })
    }

    /// Validates `bytes` as a topic filter without copying them.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, TopicError> {
        Self::new(MqttString::from_bytes(bytes)?)
    }

    /// Validates a static string (no copy).
    pub fn from_static(s: &'static str) -> Result<Self, TopicError> {
        Self::new(MqttString::from_static(s)?)
    }

    /// The whole filter as written, including any `$share/{group}/` prefix.
    pub fn as_str(&self) -> &str {
        self.text.as_str()
    }

    /// The underlying MQTT string.
    pub fn as_mqtt_str(&self) -> &MqttString {
        &self.text
    }

    /// The filter proper, without any `$share/{group}/` prefix.
    pub fn filter(&self) -> &str {
        &self.text[usize::from(self.filter_start)..]
    }

    /// The share name if this is a shared subscription `$share/{group}/{filter}`.
    pub fn share_group(&self) -> Option<&str> {
        if self.filter_start == 0 {
            None
        } else {
            Some(&self.text[SHARE_PREFIX.len()..usize::from(self.filter_start) - 1])
        }
    }

    /// Whether this is a shared subscription.
    pub fn is_shared(&self) -> bool {
        self.filter_start != 0
    }

    /// Whether the filter contains a wildcard.
    pub fn has_wildcards(&self) -> bool {
        self.filter().contains(['+', '#'])
    }

    /// Whether `topic` matches this filter (§4.7). For a shared subscription
    /// the filter proper is matched. Filters starting with a wildcard do not
    /// match topics starting with `$` [MQTT-4.7.2-1].
    pub fn matches(&self, topic: &TopicName) -> bool {
        matches(self.filter(), topic.as_str())
    }
}

fn validate_filter(filter: &str) -> Result<(), TopicError> {
    if filter.is_empty() {
        return Err(TopicError::Empty);
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return Err(TopicError::MisplacedMultiLevelWildcard);
        }
        if level.contains('+') && level != "+" {
            return Err(TopicError::MisplacedSingleLevelWildcard);
        }
    }
    Ok(())
}

/// Topic matching of §4.7 on plain strings: `filter` must be a valid filter
/// proper (no `$share` prefix) and `topic` a valid topic name.
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            // '#' matches the parent level and any number of child levels [MQTT-4.7.1-2].
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

impl TryFrom<&str> for TopicFilter {
    type Error = TopicError;
    fn try_from(s: &str) -> Result<Self, TopicError> {
        Self::new(MqttString::try_from(s)?)
    }
}

impl TryFrom<String> for TopicFilter {
    type Error = TopicError;
    fn try_from(s: String) -> Result<Self, TopicError> {
        Self::new(MqttString::try_from(s)?)
    }
}

impl core::str::FromStr for TopicFilter {
    type Err = TopicError;
    fn from_str(s: &str) -> Result<Self, TopicError> {
        Self::try_from(s)
    }
}

impl From<TopicName> for TopicFilter {
    /// Every topic name is a filter that matches exactly itself, unless it
    /// starts with `$share/`, which is then read as a shared subscription.
    fn from(name: TopicName) -> Self {
        match Self::new(name.0.clone()) {
            Ok(f) => f,
            Err(_) => Self {
                text: name.0,
                filter_start: 0,
            },
        }
    }
}

impl fmt::Debug for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> TopicFilter {
        TopicFilter::try_from(s).unwrap()
    }
    fn n(s: &str) -> TopicName {
        TopicName::try_from(s).unwrap()
    }

    #[test]
    fn mqtt_4_7_1_2_multi_level_wildcard_matches_parent_and_children() {
        // §4.7.1.2 non-normative examples.
        let filter = f("sport/tennis/player1/#");
        assert!(filter.matches(&n("sport/tennis/player1")));
        assert!(filter.matches(&n("sport/tennis/player1/ranking")));
        assert!(filter.matches(&n("sport/tennis/player1/score/wimbledon")));
        assert!(f("sport/#").matches(&n("sport")));
        assert!(f("#").matches(&n("sport/tennis")));
        assert!(!f("sport/#").matches(&n("sports")));
    }

    #[test]
    fn mqtt_4_7_1_2_misplaced_hash_is_invalid() {
        for bad in ["sport/tennis#", "sport/tennis/#/ranking", "#/a", "a/b#"] {
            assert_eq!(
                TopicFilter::try_from(bad),
                Err(TopicError::MisplacedMultiLevelWildcard),
                "{bad}"
            );
        }
    }

    #[test]
    fn mqtt_4_7_1_3_single_level_wildcard() {
        assert!(f("sport/tennis/+").matches(&n("sport/tennis/player1")));
        assert!(!f("sport/tennis/+").matches(&n("sport/tennis/player1/ranking")));
        assert!(!f("sport/+").matches(&n("sport")));
        assert!(f("sport/+").matches(&n("sport/")));
        assert!(f("+").matches(&n("finance")));
        assert!(f("+/+").matches(&n("/finance")));
        assert!(f("/+").matches(&n("/finance")));
        assert!(!f("+").matches(&n("/finance")));
        assert!(f("+/tennis/#").matches(&n("sport/tennis/x")));
        assert_eq!(
            TopicFilter::try_from("sport+"),
            Err(TopicError::MisplacedSingleLevelWildcard)
        );
    }

    #[test]
    fn mqtt_4_7_2_1_dollar_topics_not_matched_by_leading_wildcards() {
        assert!(!f("#").matches(&n("$SYS/broker/load")));
        assert!(!f("+/monitor/Clients").matches(&n("$SYS/monitor/Clients")));
        assert!(f("$SYS/#").matches(&n("$SYS/monitor/Clients")));
        assert!(f("$SYS/monitor/+").matches(&n("$SYS/monitor/Clients")));
    }

    #[test]
    fn mqtt_4_7_3_1_empty_is_invalid() {
        assert_eq!(TopicName::try_from(""), Err(TopicError::Empty));
        assert_eq!(TopicFilter::try_from(""), Err(TopicError::Empty));
    }

    #[test]
    fn mqtt_3_3_2_2_topic_name_without_wildcards() {
        assert_eq!(TopicName::try_from("a/+"), Err(TopicError::WildcardInName));
        assert_eq!(TopicName::try_from("a/#"), Err(TopicError::WildcardInName));
    }

    #[test]
    fn mqtt_4_7_3_4_case_and_spaces_are_significant() {
        assert!(!f("ACCOUNTS").matches(&n("Accounts")));
        assert!(f("Accounts payable").matches(&n("Accounts payable")));
        assert!(!f("a/b").matches(&n("a/b/")));
    }

    #[test]
    fn mqtt_4_8_2_shared_subscriptions_parsed() {
        let s = f("$share/consumer1/sport/tennis/+");
        assert!(s.is_shared());
        assert_eq!(s.share_group(), Some("consumer1"));
        assert_eq!(s.filter(), "sport/tennis/+");
        assert!(s.matches(&n("sport/tennis/player1")));
        assert_eq!(f("$share/g/#").filter(), "#");
        assert_eq!(f("sport/#").share_group(), None);
        // MQTT-4.8.2-1: the share name is at least one character, without wildcards [MQTT-4.8.2-2].
        assert_eq!(
            TopicFilter::try_from("$share//a"),
            Err(TopicError::InvalidShareName)
        );
        assert_eq!(
            TopicFilter::try_from("$share/a+b/x"),
            Err(TopicError::InvalidShareName)
        );
        assert_eq!(
            TopicFilter::try_from("$share/group"),
            Err(TopicError::InvalidShareName)
        );
        assert_eq!(
            TopicFilter::try_from("$share/group/"),
            Err(TopicError::Empty)
        );
    }
}
