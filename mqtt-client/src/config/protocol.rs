//! The protocol version of the configuration: one version, or `"auto"`
//! (MQTT 5, falling back to 3.1.1 when the broker does not speak it).

use std::fmt;

use sansmqtt_proto::ProtocolVersion;
use sansmqtt_session::{CloseReason, Session, SessionStore};

/// Config key `protocol_version`: a fixed version, or [`ProtocolChoice::Auto`].
///
/// Written `"3.1.1"` (`4`, `"mqttv311"`), `"5"` (`5`, `"mqttv5"`), `"3.1"`,
/// or `"auto"` (see [`parse_protocol_choice`](super::parse_protocol_choice)).
/// In code, a [`ProtocolVersion`] converts into it:
///
/// ```
/// use sansmqtt::config::{Config, ProtocolChoice};
/// use sansmqtt::ProtocolVersion;
///
/// let fixed = Config { protocol_version: ProtocolVersion::V5.into(), ..Config::default() };
/// assert_eq!(fixed.protocol_version, ProtocolVersion::V5);
/// let auto = Config { protocol_version: ProtocolChoice::Auto, ..Config::default() };
/// assert_eq!(auto.protocol_version.first(), ProtocolVersion::V5);
/// ```
///
/// `Auto` is what paho offers as "MQTT 5 with fallback": the first CONNECT
/// is MQTT 5; a broker that answers it as a 3.1.1-only server does (a 3.1.1
/// CONNACK with return code 0x01, unacceptable protocol version) or with an
/// MQTT 5 CONNACK 0x84 (Unsupported Protocol Version) gets a 3.1.1 CONNECT
/// on a new connection at once. The version a broker accepted is kept for
/// every later reconnection of the client (its session lives at the
/// broker in that version). What only MQTT 5 carries (CONNECT and will
/// properties, `session_expiry`) is sent while MQTT 5 is spoken and left
/// out after a fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolChoice {
    /// This version only; a broker that does not speak it refuses the
    /// connection ([`ConnectError::UnsupportedProtocolVersion`](crate::ConnectError::UnsupportedProtocolVersion)).
    Fixed(ProtocolVersion),
    /// MQTT 5, else 3.1.1.
    Auto,
}

impl ProtocolChoice {
    /// MQTT 3.1.1 only (the default).
    pub const V3_1_1: Self = Self::Fixed(ProtocolVersion::V3_1_1);
    /// MQTT 5 only.
    pub const V5: Self = Self::Fixed(ProtocolVersion::V5);

    /// The version of the first CONNECT: the fixed one, or 5 for `Auto`.
    pub const fn first(self) -> ProtocolVersion {
        match self {
            Self::Fixed(v) => v,
            Self::Auto => ProtocolVersion::V5,
        }
    }

    /// Whether MQTT 5 may be spoken (MQTT 5 keys apply): `5` or `auto`.
    pub const fn may_use_v5(self) -> bool {
        self.first().is_v5()
    }

    /// Whether a connection may be MQTT 3.x (its rules apply): anything but
    /// a fixed 5.
    pub const fn may_use_v3(self) -> bool {
        !matches!(self, Self::Fixed(ProtocolVersion::V5))
    }

    /// The version to try next after a connection of `current` ended with
    /// `reason`: 3.1.1 when the choice is `Auto`, MQTT 5 was refused as an
    /// unsupported protocol version (3.1.1 return code 0x01, MQTT 5 reason
    /// 0x84), and no connection was accepted yet (`established`: the
    /// session exists at a broker in its version). `None`: no fallback.
    pub fn fallback(
        self,
        current: ProtocolVersion,
        reason: &CloseReason,
        established: bool,
    ) -> Option<ProtocolVersion> {
        let refused_v5 = matches!(
            reason,
            CloseReason::UnsupportedProtocolVersion { requested, .. } if requested.is_v5()
        );
        (self == Self::Auto && current.is_v5() && refused_v5 && !established)
            .then_some(ProtocolVersion::V3_1_1)
    }

    /// Sets `session` to the version to try next after its connection
    /// ended with `reason` ([`ProtocolChoice::fallback`]; a session a
    /// broker already holds keeps its version), and returns it.
    pub(crate) fn fall_back<S: SessionStore>(
        self,
        reason: &CloseReason,
        session: &mut Session<S>,
    ) -> Option<ProtocolVersion> {
        let version = self.fallback(session.options().version, reason, false)?;
        session.set_version(version).ok()?;
        Some(version)
    }
}

impl Default for ProtocolChoice {
    /// MQTT 3.1.1, as distmqtt.
    fn default() -> Self {
        Self::V3_1_1
    }
}

impl From<ProtocolVersion> for ProtocolChoice {
    fn from(v: ProtocolVersion) -> Self {
        Self::Fixed(v)
    }
}

impl PartialEq<ProtocolVersion> for ProtocolChoice {
    fn eq(&self, other: &ProtocolVersion) -> bool {
        *self == Self::Fixed(*other)
    }
}

impl fmt::Display for ProtocolChoice {
    /// `3.1`, `3.1.1`, `5` or `auto`: the spelling the configuration is
    /// written with.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(v) => v.fmt(f),
            Self::Auto => f.write_str("auto"),
        }
    }
}

impl std::str::FromStr for ProtocolChoice {
    type Err = super::ConfigError;

    /// [`parse_protocol_choice`](super::parse_protocol_choice).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        super::parse_protocol_choice(s)
    }
}

#[cfg(test)]
mod tests {
    use sansmqtt_proto::ConnectReason;

    use super::*;

    fn unsupported(requested: ProtocolVersion) -> CloseReason {
        CloseReason::UnsupportedProtocolVersion {
            requested,
            properties: Box::default(),
        }
    }

    #[test]
    fn auto_falls_back_once_from_a_refused_v5_before_any_session() {
        use ProtocolVersion::{V3_1_1, V5};
        let auto = ProtocolChoice::Auto;
        assert_eq!(auto.fallback(V5, &unsupported(V5), false), Some(V3_1_1));
        // Not after a session exists in MQTT 5, not from 3.1.1, not for
        // another reason, not for a fixed version.
        assert_eq!(auto.fallback(V5, &unsupported(V5), true), None);
        assert_eq!(auto.fallback(V3_1_1, &unsupported(V3_1_1), false), None);
        let refused = CloseReason::Refused {
            reason: ConnectReason::NotAuthorized,
            properties: Box::default(),
        };
        assert_eq!(auto.fallback(V5, &refused, false), None);
        assert_eq!(auto.fallback(V5, &CloseReason::ConnectionLost, false), None);
        assert_eq!(
            ProtocolChoice::V5.fallback(V5, &unsupported(V5), false),
            None
        );
    }

    #[test]
    fn versions_and_spellings() {
        assert_eq!(ProtocolChoice::Auto.first(), ProtocolVersion::V5);
        assert!(ProtocolChoice::Auto.may_use_v5() && ProtocolChoice::Auto.may_use_v3());
        assert!(!ProtocolChoice::V5.may_use_v3());
        assert!(!ProtocolChoice::V3_1_1.may_use_v5());
        assert_eq!(ProtocolChoice::default(), ProtocolVersion::V3_1_1);
        for (text, choice) in [
            ("auto", ProtocolChoice::Auto),
            ("5", ProtocolChoice::V5),
            ("3.1.1", ProtocolChoice::V3_1_1),
            ("3.1", ProtocolVersion::V3_1.into()),
        ] {
            assert_eq!(choice.to_string(), text);
            assert_eq!(text.parse::<ProtocolChoice>(), Ok(choice));
        }
    }
}
