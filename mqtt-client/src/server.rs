//! What the broker said of itself when it accepted the connection
//! ([`ServerInfo`], read with [`Client::server`](crate::Client::server)):
//! the negotiated values of CONNACK (MQTT 5 §3.2.2.3), or the 3.1.1
//! defaults, updated at each (re)connection.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sansmqtt_proto::{
    ConnAckProperties, MaximumQoS, MqttString, ProtocolVersion, QoS, UserProperty,
};
use sansmqtt_session::{Connected, Session, SessionOptions, SessionStore};

/// The connection as the broker accepted it: its CONNACK, read into the
/// values that apply (an absent property is its default: MQTT 3.1.1 has
/// none, so a 3.1.1 connection reads as every feature available and no
/// limit). A snapshot: [`Client::server`](crate::Client::server) returns
/// the one of the latest accepted connection.
///
/// ```no_run
/// # async fn run(client: sansmqtt::Client) {
/// if let Some(server) = client.server() {
///     println!("client id {}, keep alive {:?}", server.client_id, server.keep_alive);
///     if !server.shared_subscription_available {
///         println!("no $share/ here");
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerInfo {
    /// The protocol version of the connection (with `protocol_version =
    /// "auto"`, the one the broker accepted).
    pub version: ProtocolVersion,
    /// The broker resumed the session.
    pub session_present: bool,
    /// The client identifier of the session: the one the broker assigned
    /// (MQTT 5, when CONNECT had an empty one), else the configured one.
    /// An assigned identifier is also used by every reconnection (the
    /// session is known by it).
    pub client_id: MqttString,
    /// Assigned Client Identifier, when the broker assigned one
    /// (5.0 MQTT-3.2.2-16: it must, for an empty client identifier).
    pub assigned_client_id: Option<MqttString>,
    /// The keep-alive in force: the Server Keep Alive when the broker sent
    /// one (it replaces the client's, MQTT-3.2.2-21), else the client's.
    pub keep_alive: Duration,
    /// Session Expiry Interval the broker uses instead of the client's,
    /// if it sent one.
    pub session_expiry: Option<Duration>,
    /// Receive Maximum: QoS 1 and 2 publishes the broker takes
    /// unacknowledged at once (absent: 65,535).
    pub receive_maximum: u16,
    /// Maximum QoS of the broker (absent: 2).
    pub maximum_qos: QoS,
    /// Retain Available (absent: yes).
    pub retain_available: bool,
    /// Maximum Packet Size the broker accepts (absent: no limit).
    pub maximum_packet_size: Option<u32>,
    /// Topic Alias Maximum of the broker (absent: 0, no alias).
    pub topic_alias_maximum: u16,
    /// Wildcard Subscription Available (absent: yes).
    pub wildcard_subscription_available: bool,
    /// Subscription Identifiers Available (absent: yes).
    pub subscription_identifiers_available: bool,
    /// Shared Subscription Available (absent: yes).
    pub shared_subscription_available: bool,
    /// Response Information (asked for with the config's
    /// `request_response_information`).
    pub response_information: Option<MqttString>,
    /// Server Reference: another server to use.
    pub server_reference: Option<MqttString>,
    /// Reason String.
    pub reason_string: Option<MqttString>,
    /// User Properties of CONNACK, in order.
    pub user_properties: Vec<UserProperty>,
    /// The CONNACK properties as received (authentication method and data
    /// included).
    pub properties: ConnAckProperties,
}

impl ServerInfo {
    /// The values of a CONNACK that accepted a connection of a session
    /// with `options` (its version the one spoken).
    pub(crate) fn new(
        c: &Connected,
        options: &SessionOptions,
        assigned: Option<&MqttString>,
    ) -> Self {
        let p = &*c.properties;
        let keep_alive = p
            .server_keep_alive
            .map_or(options.keep_alive.as_secs(), u64::from);
        Self {
            version: options.version,
            session_present: c.session_present,
            client_id: assigned.unwrap_or(&options.client_id).clone(),
            assigned_client_id: p.assigned_client_identifier.clone(),
            keep_alive: Duration::from_secs(keep_alive.min(u64::from(u16::MAX))),
            session_expiry: p
                .session_expiry_interval
                .map(|s| Duration::from_secs(s.into())),
            receive_maximum: p.receive_maximum.map_or(u16::MAX, |m| m.get()),
            maximum_qos: MaximumQoS::allows(p.maximum_qos),
            retain_available: p.retain_available.unwrap_or(true),
            maximum_packet_size: p.maximum_packet_size.map(|m| m.get()),
            topic_alias_maximum: p.topic_alias_maximum.unwrap_or(0),
            wildcard_subscription_available: p.wildcard_subscription_available.unwrap_or(true),
            subscription_identifiers_available: p.subscription_identifier_available.unwrap_or(true),
            shared_subscription_available: p.shared_subscription_available.unwrap_or(true),
            response_information: p.response_information.clone(),
            server_reference: p.server_reference.clone(),
            reason_string: p.reason_string.clone(),
            user_properties: p.user_properties.clone(),
            properties: p.clone(),
        }
    }
}

/// The latest [`ServerInfo`], written by the driver at each accepted
/// connection, read by the client handles.
#[derive(Debug, Default)]
pub(crate) struct ServerSlot(Mutex<Option<Arc<ServerInfo>>>);

impl ServerSlot {
    /// `c` accepted a connection of `session`.
    pub(crate) fn update<S: SessionStore>(&self, c: &Connected, session: &Session<S>) {
        let info = ServerInfo::new(c, session.options(), session.assigned_client_id());
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(info));
    }

    pub(crate) fn get(&self) -> Option<Arc<ServerInfo>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use std::num::{NonZeroU16, NonZeroU32};

    use super::*;

    fn options() -> SessionOptions {
        let mut o = SessionOptions::new(MqttString::empty());
        o.version = ProtocolVersion::V5;
        o.keep_alive = Duration::from_secs(30);
        o
    }

    /// Absent properties read as their defaults (5.0 §3.2.2.3): 3.1.1 and
    /// a bare MQTT 5 CONNACK say "everything available, no limit".
    #[test]
    fn absent_properties_are_the_defaults() {
        let c = Connected {
            session_present: true,
            properties: Box::default(),
        };
        let mut o = options();
        o.client_id = MqttString::try_from("mine").unwrap();
        let info = ServerInfo::new(&c, &o, None);
        assert!(info.session_present);
        assert_eq!(info.client_id, "mine");
        assert_eq!(info.keep_alive, Duration::from_secs(30));
        assert_eq!(
            (
                info.receive_maximum,
                info.maximum_qos,
                info.topic_alias_maximum
            ),
            (u16::MAX, QoS::ExactlyOnce, 0)
        );
        assert!(info.retain_available && info.wildcard_subscription_available);
        assert!(info.subscription_identifiers_available && info.shared_subscription_available);
        assert_eq!(info.maximum_packet_size, None);
    }

    /// MQTT-3.2.2-21: the Server Keep Alive replaces the client's;
    /// MQTT-3.2.2-16: the assigned identifier names the session.
    #[test]
    fn mqtt_3_2_2_16_and_21_assigned_id_and_server_keep_alive() {
        let assigned = MqttString::try_from("auto-1").unwrap();
        let properties = ConnAckProperties {
            assigned_client_identifier: Some(assigned.clone()),
            server_keep_alive: Some(5),
            receive_maximum: NonZeroU16::new(10),
            maximum_qos: Some(MaximumQoS::AtLeastOnce),
            retain_available: Some(false),
            maximum_packet_size: NonZeroU32::new(1000),
            topic_alias_maximum: Some(7),
            shared_subscription_available: Some(false),
            ..Default::default()
        };
        let c = Connected {
            session_present: false,
            properties: Box::new(properties.clone()),
        };
        let info = ServerInfo::new(&c, &options(), Some(&assigned));
        assert_eq!(info.client_id, "auto-1");
        assert_eq!(info.assigned_client_id.as_deref(), Some("auto-1"));
        assert_eq!(info.keep_alive, Duration::from_secs(5));
        assert_eq!(info.receive_maximum, 10);
        assert_eq!(info.maximum_qos, QoS::AtLeastOnce);
        assert!(!info.retain_available && !info.shared_subscription_available);
        assert_eq!(info.maximum_packet_size, Some(1000));
        assert_eq!(info.topic_alias_maximum, 7);
        assert_eq!(info.properties, properties);
    }
}
