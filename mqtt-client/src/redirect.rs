//! Server redirection (MQTT 5 §4.11): a CONNACK or DISCONNECT with reason
//! 0x9C Use another server or 0x9D Server moved and a Server Reference,
//! followed when the config's `follow_redirects` says so. Sans-IO: the
//! driver asks where to go next and connects there.
//!
//! The Server Reference is implementation-defined text (§4.11: "The format
//! of the Server Reference is not specified"); its examples are host names
//! with an optional port and a space-separated list. Read here as the
//! first reference of the list that parses: a broker URI
//! (`mqtts://host:8883`, `ws://host/mqtt`), or `host[:port]` (an IPv6
//! address in brackets), which keeps the current URI's scheme and path
//! (and takes the scheme's default port when it has none).

use sansmqtt_proto::{ConnectReason, DisconnectReason, MqttString};
use sansmqtt_session::CloseReason;

use crate::config::BrokerUri;

/// Redirects followed in a row before the client gives up on them (a
/// connection that CONNACK accepts starts the count again).
pub(crate) const MAX_REDIRECTS: u32 = 5;

/// Where a redirect points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Redirect {
    /// The server to connect to now.
    pub(crate) uri: BrokerUri,
    /// 0x9D Server moved: the new server replaces the current URI for
    /// later connections too. (0x9C: this connection only.)
    pub(crate) permanent: bool,
}

/// The brokers of one client: the configured URIs tried in turn
/// (failover), and the redirects followed (how many since the last
/// accepted connection, the one of the next attempt, the one in use).
#[derive(Debug)]
pub(crate) struct Brokers {
    uris: Vec<BrokerUri>,
    /// Index of the next configured URI to try (modulo).
    next: usize,
    follow: bool,
    hops: u32,
    /// A redirect target for the next attempt.
    redirect_next: Option<BrokerUri>,
    /// The redirect target of the current attempt, if it is one.
    redirect_now: Option<BrokerUri>,
}

impl Brokers {
    /// `uris` (not empty) in turn; redirects followed if `follow`.
    pub(crate) fn new(uris: Vec<BrokerUri>, follow: bool) -> Self {
        Self {
            uris,
            next: 0,
            follow,
            hops: 0,
            redirect_next: None,
            redirect_now: None,
        }
    }

    /// The broker of the next attempt: a redirect target, else the next
    /// configured URI.
    pub(crate) fn next_attempt(&mut self) -> BrokerUri {
        self.redirect_now = self.redirect_next.take();
        if let Some(uri) = &self.redirect_now {
            return uri.clone();
        }
        let uri = self.uris[self.next % self.uris.len()].clone();
        self.next += 1;
        uri
    }

    /// The broker of the current (or last) attempt.
    pub(crate) fn current(&self) -> &BrokerUri {
        if let Some(uri) = &self.redirect_now {
            return uri;
        }
        let n = self.uris.len();
        &self.uris[(self.next + n - 1) % n]
    }

    /// The next attempt goes to the current broker again.
    pub(crate) fn retry_current(&mut self) {
        match &self.redirect_now {
            Some(uri) => self.redirect_next = Some(uri.clone()),
            None => self.next = self.next.wrapping_sub(1),
        }
    }

    /// A CONNACK accepted a connection.
    pub(crate) fn connected(&mut self) {
        self.hops = 0;
    }

    /// After a connection ended with `reason`: if it is a redirect to
    /// follow (configured, within [`MAX_REDIRECTS`], with a reference that
    /// parses), the next attempt goes to its target (0x9D Server moved:
    /// which also replaces the configured URI last tried), and the target
    /// is returned.
    pub(crate) fn follow(&mut self, reason: &CloseReason) -> Option<Redirect> {
        if !self.follow || self.hops >= MAX_REDIRECTS {
            return None;
        }
        let (reference, permanent) = server_reference(reason)?;
        let uri = parse_reference(reference, self.current())?;
        self.hops += 1;
        if permanent {
            let n = self.uris.len();
            self.uris[(self.next + n - 1) % n] = uri.clone();
        }
        self.redirect_next = Some(uri.clone());
        Some(Redirect { uri, permanent })
    }
}

/// The Server Reference of a redirect, and whether it is permanent.
pub(crate) fn server_reference(reason: &CloseReason) -> Option<(&MqttString, bool)> {
    let (permanent, reference) = match reason {
        CloseReason::Refused { reason, properties } => match reason {
            ConnectReason::UseAnotherServer => (false, properties.server_reference.as_ref()),
            ConnectReason::ServerMoved => (true, properties.server_reference.as_ref()),
            _ => return None,
        },
        CloseReason::ServerDisconnect { reason, properties } => match reason {
            DisconnectReason::UseAnotherServer => (false, properties.server_reference.as_ref()),
            DisconnectReason::ServerMoved => (true, properties.server_reference.as_ref()),
            _ => return None,
        },
        _ => return None,
    };
    Some((reference?, permanent))
}

/// The first reference of `text` (space-separated) that parses: a broker
/// URI, or `host[:port]` on `current`'s scheme and path.
pub(crate) fn parse_reference(text: &str, current: &BrokerUri) -> Option<BrokerUri> {
    text.split_ascii_whitespace().find_map(|r| {
        if r.contains("://") {
            return BrokerUri::parse(r).ok();
        }
        // No user information, path or query in a bare reference.
        if r.contains(['@', '/', '?', '#']) {
            return None;
        }
        let mut uri = BrokerUri::parse(&format!("{}://{r}", current.scheme)).ok()?;
        uri.path = current.path.clone();
        Some(uri)
    })
}

#[cfg(test)]
mod tests {
    use sansmqtt_proto::{ConnAckProperties, DisconnectProperties};

    use super::*;
    use crate::config::Scheme;

    fn uri(s: &str) -> BrokerUri {
        BrokerUri::parse(s).unwrap()
    }

    fn moved(reference: &str) -> CloseReason {
        CloseReason::ServerDisconnect {
            reason: DisconnectReason::ServerMoved,
            properties: Box::new(DisconnectProperties {
                server_reference: Some(MqttString::try_from(reference).unwrap()),
                ..Default::default()
            }),
        }
    }

    fn use_another(reference: &str) -> CloseReason {
        CloseReason::Refused {
            reason: ConnectReason::UseAnotherServer,
            properties: Box::new(ConnAckProperties {
                server_reference: Some(MqttString::try_from(reference).unwrap()),
                ..Default::default()
            }),
        }
    }

    /// §4.11's forms: host, host:port, IPv6 in brackets, a list; and URIs.
    #[test]
    fn references_parse_as_host_port_or_uri() {
        let wss = uri("wss://a.example/mqtt");
        let cases = [
            ("myserver.xyz.org", "wss://myserver.xyz.org:443/mqtt"),
            ("myserver.xyz.org:8884", "wss://myserver.xyz.org:8884/mqtt"),
            (
                "[fe80::9610:3eff:fe1c]:1883",
                "wss://[fe80::9610:3eff:fe1c]:1883/mqtt",
            ),
            ("mqtt://b.example:1884", "mqtt://b.example:1884"),
            ("bad/ref 10.10.151.22:8883", "wss://10.10.151.22:8883/mqtt"),
        ];
        for (text, want) in cases {
            assert_eq!(parse_reference(text, &wss), Some(uri(want)), "{text}");
        }
        let plain = uri("mqtt://a.example");
        let got = parse_reference("10.0.0.1", &plain).unwrap();
        assert_eq!((got.scheme, got.port), (Scheme::Mqtt, 1883));
        for bad in ["", "user@host", "nope://x", "host:notaport"] {
            assert_eq!(parse_reference(bad, &plain), None, "{bad:?}");
        }
    }

    fn brokers(follow: bool) -> Brokers {
        let mut b = Brokers::new(
            vec![uri("mqtt://a.example"), uri("mqtt://z.example")],
            follow,
        );
        assert_eq!(b.next_attempt(), uri("mqtt://a.example"));
        b
    }

    /// 0x9C and 0x9D, from CONNACK and DISCONNECT; others are no redirect.
    #[test]
    fn redirect_reasons_and_permanence() {
        let mut b = brokers(true);
        assert_eq!(
            b.follow(&use_another("b.example:1884")),
            Some(Redirect {
                uri: uri("mqtt://b.example:1884"),
                permanent: false
            })
        );
        assert_eq!(b.next_attempt(), uri("mqtt://b.example:1884"));
        assert_eq!(b.current(), &uri("mqtt://b.example:1884"));
        // A temporary redirect: afterwards the configured URIs in turn.
        assert_eq!(b.next_attempt(), uri("mqtt://z.example"));
        let refused = CloseReason::Refused {
            reason: ConnectReason::NotAuthorized,
            properties: Box::default(),
        };
        assert_eq!(b.follow(&refused), None);
        // 0x9C without a Server Reference: nowhere to go.
        let bare = CloseReason::Refused {
            reason: ConnectReason::UseAnotherServer,
            properties: Box::default(),
        };
        assert_eq!(b.follow(&bare), None);
        // 0x9D replaces the URI it moved from.
        assert!(b.follow(&moved("c.example")).unwrap().permanent);
        assert_eq!(b.next_attempt(), uri("mqtt://c.example"));
        assert_eq!(b.next_attempt(), uri("mqtt://a.example"));
        assert_eq!(b.next_attempt(), uri("mqtt://c.example"));
    }

    /// Off by configuration; bounded hops, counted again after a connection.
    #[test]
    fn not_followed_unless_configured_and_bounded() {
        assert_eq!(brokers(false).follow(&moved("b.example")), None);
        let mut b = brokers(true);
        for _ in 0..MAX_REDIRECTS {
            assert!(b.follow(&moved("b.example")).is_some());
            b.next_attempt();
        }
        assert_eq!(b.follow(&moved("b.example")), None);
        b.connected();
        assert!(b.follow(&moved("b.example")).is_some());
    }

    /// The protocol fallback retries the broker it was refused by, a
    /// redirect target included.
    #[test]
    fn retry_current_goes_to_the_same_broker() {
        let mut b = brokers(true);
        b.retry_current();
        assert_eq!(b.next_attempt(), uri("mqtt://a.example"));
        b.follow(&use_another("b.example"));
        b.next_attempt();
        b.retry_current();
        assert_eq!(b.next_attempt(), uri("mqtt://b.example"));
    }
}
