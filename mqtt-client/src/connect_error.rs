//! Why a connection could not be made ([`ConnectError`]), and the outcome
//! of the first connect, which [`Client::connect`](crate::Client::connect)
//! waits for.

use std::io;
use std::time::Duration;

use futures_channel::oneshot;
use sansmqtt_proto::ProtocolVersion;
use sansmqtt_session::{CloseReason, StateError};

use crate::ClientError;

/// Why the client could not connect ([`ClientError::Connect`]). The
/// `Display` text is the cause alone (the transport's own error for a
/// transport that failed), as the CLI prints it.
///
/// A broker that does not speak the configured version refuses it with a
/// typed error naming the version (`protocol_version = "auto"` falls back
/// to 3.1.1 instead):
///
/// ```no_run
/// # async fn run(runtime: std::sync::Arc<dyn sansmqtt::Runtime>) -> Result<(), sansmqtt::ClientError> {
/// use sansmqtt::{Client, ClientError, Config, ConnectError, ProtocolVersion};
///
/// let fixed = Config { protocol_version: ProtocolVersion::V5.into(), ..Config::default() };
/// match Client::connect(runtime, "mqtt://old-broker", fixed).await {
///     Ok(client) => println!("connected: MQTT {:?}", client.server().map(|s| s.version)),
///     Err(ClientError::Connect(ConnectError::UnsupportedProtocolVersion { version })) => {
///         eprintln!("the broker does not speak MQTT {version}");
///     }
///     Err(e) => return Err(e),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The transport could not be opened: TCP refused or unreachable, TLS
    /// handshake, proxy, WebSocket upgrade, name resolution...
    #[error("{message}")]
    Transport {
        /// The transport error's kind (`ConnectionRefused`, ...).
        kind: io::ErrorKind,
        /// The transport error's text.
        message: String,
    },
    /// No transport connection within the config's `connect_timeout`.
    #[error("no transport connection within connect_timeout ({0:?})")]
    TimedOut(Duration),
    /// The transport opened, then failed before CONNACK (e.g. a TLS alert:
    /// the broker wants a client certificate).
    #[error("connection lost before CONNACK: {message}")]
    LostBeforeConnAck {
        /// The transport error's kind.
        kind: io::ErrorKind,
        /// The transport error's text.
        message: String,
    },
    /// Every attempt failed (`auto_reconnect` with
    /// `reconnect_on_first_connect`, `reconnect_retries` spent).
    #[error("{last} ({attempts} attempts)")]
    RetriesExhausted {
        /// Attempts made, the first included.
        attempts: u32,
        /// Why the last one failed.
        last: Box<ConnectError>,
    },
    /// No attempt left and no cause known.
    #[error("connection refused or unreachable")]
    Unreachable,
    /// The broker does not speak this protocol version: it answered CONNECT
    /// with MQTT 5 reason 0x84 or 3.1.1 return code 0x01 (a 3.1.1-only
    /// broker's answer to an MQTT 5 CONNECT is the latter). With
    /// `protocol_version = "auto"` an MQTT 5 refusal is not an error: the
    /// client falls back to 3.1.1, and this names 3.1.1 if that is refused
    /// too.
    #[error("the broker does not support MQTT {version} (unacceptable protocol version){}", fallback_hint(*.version))]
    UnsupportedProtocolVersion {
        /// The refused version.
        version: ProtocolVersion,
    },
    /// The session could not start a connection (e.g. its options make a
    /// CONNECT the specification forbids).
    #[error("cannot start the session: {0}")]
    Session(StateError),
}

/// What to try after an MQTT 5 refusal.
fn fallback_hint(version: ProtocolVersion) -> &'static str {
    if version.is_v5() {
        "; protocol_version = \"auto\" falls back to 3.1.1"
    } else {
        ""
    }
}

impl ConnectError {
    /// A transport that failed to open, with its error.
    pub(crate) fn transport(e: &io::Error) -> Self {
        Self::Transport {
            kind: e.kind(),
            message: e.to_string(),
        }
    }

    /// A transport that failed after it opened, before CONNACK.
    pub(crate) fn lost(e: &io::Error) -> Self {
        Self::LostBeforeConnAck {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

/// The first connect's caller, answered once: when a CONNACK accepted the
/// connection, or with why there is none.
pub(crate) struct FirstConnect {
    reply: Option<oneshot::Sender<Result<(), ClientError>>>,
    /// A transport that fails is retried (`auto_reconnect` and
    /// `reconnect_on_first_connect`).
    retry: bool,
    /// Transports that failed so far.
    attempts: u32,
}

impl FirstConnect {
    pub(crate) fn new(reply: oneshot::Sender<Result<(), ClientError>>, retry: bool) -> Self {
        Self {
            reply: Some(reply),
            retry,
            attempts: 0,
        }
    }

    fn answer(&mut self, outcome: Result<(), ClientError>) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(outcome);
        }
    }

    /// A CONNACK accepted the connection.
    pub(crate) fn connected(&mut self) {
        self.answer(Ok(()));
    }

    /// The connection ended before CONNACK accepted it (refused, CONNACK
    /// timeout, lost): `cause` is the transport's error, if it had one.
    pub(crate) fn closed(&mut self, reason: &CloseReason, cause: Option<&ConnectError>) {
        let error = match (reason, cause) {
            (CloseReason::ConnectionLost, Some(lost @ ConnectError::LostBeforeConnAck { .. })) => {
                ClientError::Connect(lost.clone())
            }
            (CloseReason::UnsupportedProtocolVersion { requested, .. }, _) => {
                ClientError::Connect(ConnectError::UnsupportedProtocolVersion {
                    version: *requested,
                })
            }
            (reason, _) => ClientError::Connection(reason.clone()),
        };
        self.answer(Err(error));
    }

    /// The client cannot connect at all (its session cannot start one).
    pub(crate) fn failed(&mut self, error: ClientError) {
        self.answer(Err(error));
    }

    /// A transport could not be opened: the answer, unless it is retried.
    pub(crate) fn transport_failed(&mut self, cause: &ConnectError) {
        if self.retry {
            self.attempts += 1;
        } else {
            self.answer(Err(ClientError::Connect(cause.clone())));
        }
    }

    /// The client stopped: retries spent (say why, not just "closed"), or
    /// `error`.
    pub(crate) fn stopped(&mut self, last: Option<&ConnectError>, error: ClientError) {
        let error = match self.attempts {
            0 => error,
            attempts => ClientError::Connect(ConnectError::RetriesExhausted {
                attempts,
                last: Box::new(last.cloned().unwrap_or(ConnectError::Unreachable)),
            }),
        };
        self.answer(Err(error));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused() -> ConnectError {
        ConnectError::transport(&io::Error::from(io::ErrorKind::ConnectionRefused))
    }

    fn first(retry: bool) -> (FirstConnect, oneshot::Receiver<Result<(), ClientError>>) {
        let (tx, rx) = oneshot::channel();
        (FirstConnect::new(tx, retry), rx)
    }

    /// The texts the CLI prints and the tests match.
    #[test]
    fn display_texts() {
        let e = ConnectError::Transport {
            kind: io::ErrorKind::ConnectionRefused,
            message: "Connection refused (os error 111)".into(),
        };
        assert_eq!(e.to_string(), "Connection refused (os error 111)");
        let retried = ConnectError::RetriesExhausted {
            attempts: 3,
            last: Box::new(e),
        };
        assert_eq!(
            retried.to_string(),
            "Connection refused (os error 111) (3 attempts)"
        );
        assert_eq!(
            ClientError::Connect(retried).to_string(),
            "cannot connect: Connection refused (os error 111) (3 attempts)"
        );
        let lost = ConnectError::lost(&io::Error::other("received fatal alert"));
        assert_eq!(
            lost.to_string(),
            "connection lost before CONNACK: received fatal alert"
        );
        assert_eq!(
            ConnectError::Unreachable.to_string(),
            "connection refused or unreachable"
        );
    }

    #[test]
    fn without_retry_the_first_failure_is_the_answer() {
        let (mut f, mut rx) = first(false);
        f.transport_failed(&refused());
        assert_eq!(
            rx.try_recv().unwrap(),
            Some(Err(ClientError::Connect(refused())))
        );
        // Answered once.
        f.connected();
    }

    #[test]
    fn retries_count_attempts_until_the_client_stops() {
        let (mut f, mut rx) = first(true);
        f.transport_failed(&refused());
        f.transport_failed(&refused());
        assert_eq!(rx.try_recv().unwrap(), None);
        f.stopped(Some(&refused()), ClientError::Closed);
        let expected = ConnectError::RetriesExhausted {
            attempts: 2,
            last: Box::new(refused()),
        };
        assert_eq!(
            rx.try_recv().unwrap(),
            Some(Err(ClientError::Connect(expected)))
        );
        // No cause known: "refused or unreachable"; no attempt: the error.
        let (mut f, mut rx) = first(true);
        f.transport_failed(&refused());
        f.stopped(None, ClientError::Closed);
        assert!(matches!(
            rx.try_recv().unwrap(),
            Some(Err(ClientError::Connect(ConnectError::RetriesExhausted { last, .. })))
                if *last == ConnectError::Unreachable
        ));
        let (mut f, mut rx) = first(true);
        f.stopped(None, ClientError::Closed);
        assert_eq!(rx.try_recv().unwrap(), Some(Err(ClientError::Closed)));
    }

    #[test]
    fn a_loss_before_connack_names_the_transport_error() {
        let lost = ConnectError::lost(&io::Error::other("alert"));
        let (mut f, mut rx) = first(true);
        f.closed(&CloseReason::ConnectionLost, Some(&lost));
        assert_eq!(
            rx.try_recv().unwrap(),
            Some(Err(ClientError::Connect(lost)))
        );
        // Without a transport error, or for another reason: the reason.
        let (mut f, mut rx) = first(true);
        f.closed(&CloseReason::ConnectionLost, None);
        assert_eq!(
            rx.try_recv().unwrap(),
            Some(Err(ClientError::Connection(CloseReason::ConnectionLost)))
        );
        let (mut f, mut rx) = first(false);
        f.closed(&CloseReason::ConnAckTimeout, Some(&refused()));
        assert_eq!(
            rx.try_recv().unwrap(),
            Some(Err(ClientError::Connection(CloseReason::ConnAckTimeout)))
        );
    }

    /// The refusal of a protocol version is a typed `ConnectError` naming
    /// it (MQTT 5: with the hint of "auto").
    #[test]
    fn an_unsupported_version_names_it() {
        for (version, text) in [
            (
                ProtocolVersion::V5,
                "cannot connect: the broker does not support MQTT 5 (unacceptable protocol version); protocol_version = \"auto\" falls back to 3.1.1",
            ),
            (
                ProtocolVersion::V3_1_1,
                "cannot connect: the broker does not support MQTT 3.1.1 (unacceptable protocol version)",
            ),
        ] {
            let (mut f, mut rx) = first(true);
            let reason = CloseReason::UnsupportedProtocolVersion {
                requested: version,
                properties: Box::default(),
            };
            f.closed(&reason, None);
            let error = rx.try_recv().unwrap().unwrap().unwrap_err();
            assert_eq!(
                error,
                ClientError::Connect(ConnectError::UnsupportedProtocolVersion { version })
            );
            assert_eq!(error.to_string(), text);
        }
    }

    #[test]
    fn connected_answers_ok() {
        let (mut f, mut rx) = first(true);
        f.transport_failed(&refused());
        f.connected();
        assert_eq!(rx.try_recv().unwrap(), Some(Ok(())));
    }
}
