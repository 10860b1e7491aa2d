//! What a client is built from.

use core::num::NonZeroU32;
use core::time::Duration;

use sansmqtt_proto::{MqttString, StringError};
use sansmqtt_session::SessionOptions;

/// The default bound of a packet, either way: 4 KiB.
pub const DEFAULT_MAX_PACKET_SIZE: u32 = 4096;

/// The options of a client: the session's (CONNECT contents, keep-alive,
/// in-flight window, ...) and the bound of a packet.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The sans-IO session's options: protocol version, client id, clean
    /// start, keep-alive, credentials, will, MQTT 5 properties, in-flight
    /// and queue bounds. [`Config::new`] sets embedded-sized bounds.
    pub session: SessionOptions,
    /// The largest packet, fixed header included, this client accepts from
    /// the broker and sends to it. A larger incoming packet closes the
    /// connection with a typed error (MQTT 3.1.1) or is never sent by the
    /// broker (MQTT 5: it is told with the Maximum Packet Size property
    /// unless `session.properties` sets one); a larger publish fails at
    /// once with [`Error::PacketTooLarge`](crate::Error::PacketTooLarge).
    pub max_packet_size: u32,
}

impl Config {
    /// A configuration for `client_id` with embedded defaults: MQTT 3.1.1,
    /// clean start, keep-alive 60 s, 10 s for CONNACK and PINGRESP, at
    /// most 8 QoS 1/2 publishes in flight and 16 waiting,
    /// [`DEFAULT_MAX_PACKET_SIZE`] either way.
    pub fn new(client_id: &str) -> Result<Self, StringError> {
        let mut session = SessionOptions::new(MqttString::try_from(client_id)?);
        session.keep_alive = Duration::from_secs(60);
        session.max_inflight = 8;
        session.max_queued = 16;
        session.zero_copy_threshold = 256;
        Ok(Self::from_session(session))
    }

    /// A configuration with these session options as they are, and
    /// [`DEFAULT_MAX_PACKET_SIZE`].
    pub fn from_session(session: SessionOptions) -> Self {
        Self {
            session,
            max_packet_size: DEFAULT_MAX_PACKET_SIZE,
        }
    }

    /// The session options the client runs with (the packet bound applied
    /// to what the broker may send), and the bound of outgoing packets.
    pub(crate) fn into_session(self) -> (SessionOptions, u32) {
        let mut options = self.session;
        // The smallest packet (PINGRESP) is 2 bytes.
        let max = self.max_packet_size.max(2);
        options.max_incoming_packet = max;
        if options.version.is_v5() && options.properties.maximum_packet_size.is_none() {
            options.properties.maximum_packet_size = NonZeroU32::new(max);
        }
        (options, max)
    }
}
