//! The client's DISCONNECT ([`DisconnectOptions`], for
//! [`Client::disconnect_with`](crate::Client::disconnect_with)): a reason
//! code, a Session Expiry Interval, a Reason String and User Properties
//! (MQTT 5 §3.14), checked before anything is sent.

use crate::client::option_setters;
use std::time::Duration;

use sansmqtt_proto::{
    Disconnect, DisconnectProperties, DisconnectReason, MqttString, ProtocolVersion,
};

use crate::config::UserProperties;

/// The optional arguments of [`Client::disconnect`](crate::Client::disconnect),
/// for [`Client::disconnect_with`](crate::Client::disconnect_with): what the
/// MQTT 5 DISCONNECT carries. Nothing set: a plain DISCONNECT (0x00 Normal
/// disconnection), the one `disconnect()` sends.
///
/// ```
/// # use std::time::Duration;
/// use sansmqtt::{DisconnectOptions, DisconnectReason};
///
/// // Leave, let the broker publish the will, and keep the session an hour.
/// let options = DisconnectOptions::new()
///     .reason(DisconnectReason::DisconnectWithWillMessage)
///     .session_expiry(Duration::from_secs(3600));
/// assert_eq!(options.reason, Some(DisconnectReason::DisconnectWithWillMessage));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DisconnectOptions {
    /// Reason Code (default 0x00 Normal disconnection; 0x04 Disconnect
    /// with Will Message asks the broker to publish the will). Only the
    /// codes a client may send (§3.14.2.1) are accepted.
    pub reason: Option<DisconnectReason>,
    /// Session Expiry Interval replacing the one of CONNECT (whole
    /// seconds): how long the broker keeps the session from now. Not above
    /// zero when CONNECT had none or zero [MQTT-3.14.2-2].
    pub session_expiry: Option<Duration>,
    /// Reason String, for diagnostics.
    pub reason_string: Option<MqttString>,
    /// User Properties.
    pub user_properties: UserProperties,
}

impl DisconnectOptions {
    /// Nothing set: a normal disconnection.
    pub fn new() -> Self {
        Self::default()
    }

    option_setters! {
        /// With a reason code.
        reason: DisconnectReason,
        /// With a Session Expiry Interval.
        session_expiry: Duration,
        /// With a Reason String.
        reason_string: MqttString,
    }

    /// With User Properties.
    pub fn user_properties(mut self, properties: UserProperties) -> Self {
        self.user_properties = properties;
        self
    }

    /// The DISCONNECT for a connection of `version` whose CONNECT had
    /// `connect_expiry` as Session Expiry Interval, or why it cannot be sent.
    pub(crate) fn packet(
        &self,
        version: ProtocolVersion,
        connect_expiry: Option<u32>,
    ) -> Result<Disconnect, DisconnectError> {
        let reason = self.reason.unwrap_or(DisconnectReason::NormalDisconnection);
        if !client_may_send(reason) {
            return Err(DisconnectError::NotAClientReason(reason));
        }
        let expiry = self
            .session_expiry
            .map(|d| u32::try_from(d.as_secs()).map_err(|_| DisconnectError::ExpiryOutOfRange(d)))
            .transpose()?;
        // [MQTT-3.14.2-2]: no session expiry above zero in DISCONNECT when
        // CONNECT's was zero (or absent: zero).
        if expiry.is_some_and(|e| e > 0) && connect_expiry.unwrap_or(0) == 0 {
            return Err(DisconnectError::ExpiryAfterZero);
        }
        let properties = DisconnectProperties {
            session_expiry_interval: expiry,
            reason_string: self.reason_string.clone(),
            server_reference: None,
            user_properties: self.user_properties.to_vec(),
        };
        let is_plain = reason == DisconnectReason::NormalDisconnection && properties.is_empty();
        if !version.is_v5() && !is_plain {
            return Err(DisconnectError::NeedsV5(version));
        }
        Ok(Disconnect {
            reason,
            properties: properties.into(),
        })
    }
}

/// The reason codes a client may send in DISCONNECT (5.0 §3.14.2.1, the
/// "Sent by" column: client, or client and server).
fn client_may_send(reason: DisconnectReason) -> bool {
    use DisconnectReason::*;
    matches!(
        reason,
        NormalDisconnection
            | DisconnectWithWillMessage
            | UnspecifiedError
            | MalformedPacket
            | ProtocolError
            | ImplementationSpecificError
            | TopicNameInvalid
            | ReceiveMaximumExceeded
            | TopicAliasInvalid
            | PacketTooLarge
            | MessageRateTooHigh
            | QuotaExceeded
            | AdministrativeAction
            | PayloadFormatInvalid
    )
}

/// Why [`Client::disconnect_with`](crate::Client::disconnect_with) refused
/// its options (nothing was sent; the connection is as it was).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DisconnectError {
    /// A reason code only a server sends (§3.14.2.1).
    #[error("{0} is a DISCONNECT reason only a server sends")]
    NotAClientReason(DisconnectReason),
    /// A Session Expiry Interval above zero when CONNECT's was zero or
    /// absent [MQTT-3.14.2-2].
    #[error(
        "a session expiry above zero in DISCONNECT needs one in CONNECT (config session_expiry) [MQTT-3.14.2-2]"
    )]
    ExpiryAfterZero,
    /// A Session Expiry Interval above 4,294,967,295 s.
    #[error("session expiry {0:?} is above 4,294,967,295 s")]
    ExpiryOutOfRange(Duration),
    /// A reason or properties on a connection that is not MQTT 5.
    #[error("DISCONNECT reasons and properties need MQTT 5 (the connection is MQTT {0})")]
    NeedsV5(ProtocolVersion),
}

#[cfg(test)]
mod tests {
    use super::*;

    const V5: ProtocolVersion = ProtocolVersion::V5;

    #[test]
    fn plain_options_make_a_normal_disconnect_in_every_version() {
        for v in [ProtocolVersion::V3_1_1, V5] {
            assert_eq!(
                DisconnectOptions::new().packet(v, None),
                Ok(Disconnect::default())
            );
        }
    }

    #[test]
    fn reason_expiry_and_properties_are_carried() {
        let options = DisconnectOptions::new()
            .reason(DisconnectReason::DisconnectWithWillMessage)
            .session_expiry(Duration::from_secs(30))
            .reason_string(MqttString::try_from("bye").unwrap())
            .user_properties(UserProperties::new().with("k", "v").unwrap());
        let d = options.packet(V5, Some(60)).unwrap();
        assert_eq!(d.reason, DisconnectReason::DisconnectWithWillMessage);
        assert_eq!(d.properties.session_expiry_interval, Some(30));
        assert_eq!(d.properties.reason_string.as_deref(), Some("bye"));
        assert_eq!(d.properties.user_properties.len(), 1);
    }

    /// MQTT-3.14.2-2: CONNECT with no (or zero) Session Expiry Interval,
    /// DISCONNECT may not set one above zero; zero is allowed.
    #[test]
    fn mqtt_3_14_2_2_no_expiry_above_zero_after_zero() {
        let later = DisconnectOptions::new().session_expiry(Duration::from_secs(10));
        for connect in [None, Some(0)] {
            assert_eq!(
                later.packet(V5, connect),
                Err(DisconnectError::ExpiryAfterZero)
            );
        }
        let zero = DisconnectOptions::new().session_expiry(Duration::ZERO);
        assert!(zero.packet(V5, None).is_ok());
    }

    #[test]
    fn server_reasons_and_v5_content_on_3_1_1_are_refused() {
        let server_only = DisconnectOptions::new().reason(DisconnectReason::ServerMoved);
        assert_eq!(
            server_only.packet(V5, None),
            Err(DisconnectError::NotAClientReason(
                DisconnectReason::ServerMoved
            ))
        );
        let will = DisconnectOptions::new().reason(DisconnectReason::DisconnectWithWillMessage);
        assert_eq!(
            will.packet(ProtocolVersion::V3_1_1, None),
            Err(DisconnectError::NeedsV5(ProtocolVersion::V3_1_1))
        );
    }
}
