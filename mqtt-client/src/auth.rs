//! MQTT 5 enhanced authentication (§4.12): the [`Authenticator`] the
//! application implements, and how the client drives it.
//!
//! An authenticator names its Authentication Method (SCRAM-SHA-256,
//! Kerberos, an OAuth scheme, ...) and starts one [`AuthExchange`] per
//! authentication: for the first connection, for every reconnection (each a
//! fresh exchange: new nonces) and for each re-authentication the
//! application asks for with [`Client::reauthenticate`](crate::Client::reauthenticate).
//! An exchange gives the initial data (CONNECT's, or AUTH 0x19's), answers
//! each challenge of the server (AUTH 0x18, answered with AUTH 0x18), and
//! checks the server's final data (a successful CONNACK's, or AUTH 0x00's:
//! e.g. SCRAM's server signature).
//!
//! Set it in [`Config::authenticator`](crate::Config::authenticator) (not
//! part of a configuration file: it is code), with `protocol_version` 5.
//! The client puts its method in CONNECT and checks the server keeps to it
//! (a server AUTH with another method is a protocol violation).
//!
//! The calls are synchronous: the session is sans-IO and answers a
//! challenge within the driver's poll, where a future could not be awaited
//! without a second task. Authentication mechanisms are computations on
//! the bytes received (hashes, signatures); one that needs IO (a token
//! from a server) fetches it before connecting, and hands it to the
//! authenticator.
//!
//! How it ends: an exchange that returns an error aborts the connection
//! cleanly (DISCONNECT 0x83, Implementation specific error: 0x87 is the
//! server's alone) with [`ClientError::Auth`] to the waiting call
//! ([`Client::connect`](crate::Client::connect), `reauthenticate`), the
//! state `Disconnected` with [`CloseReason::AuthAborted`](crate::CloseReason::AuthAborted),
//! and no automatic reconnect (as after a refusal). A server that refuses
//! answers with a CONNACK 0x87 / 0x8C (first connect, reconnect:
//! [`ClientError::Connection`] with [`CloseReason::Refused`](crate::CloseReason::Refused))
//! or a DISCONNECT (re-authentication: `CloseReason::ServerDisconnect`).
//!
//! ```
//! use std::sync::Arc;
//! use sansmqtt::auth::{AuthError, AuthExchange, Authenticator};
//! use sansmqtt::{Bytes, Config, ProtocolVersion};
//!
//! /// A one-step challenge/response: the server sends a nonce, the client
//! /// answers `key:nonce`, the server confirms with `ok:nonce`.
//! struct Token(String);
//!
//! struct TokenExchange {
//!     key: String,
//!     nonce: Option<Vec<u8>>,
//! }
//!
//! impl Authenticator for Token {
//!     fn method(&self) -> &str {
//!         "X-TOKEN"
//!     }
//!     fn start(&self) -> Box<dyn AuthExchange> {
//!         Box::new(TokenExchange { key: self.0.clone(), nonce: None })
//!     }
//! }
//!
//! impl AuthExchange for TokenExchange {
//!     fn initial_data(&mut self) -> Result<Option<Bytes>, AuthError> {
//!         Ok(None)
//!     }
//!     fn challenge(&mut self, data: Option<&[u8]>) -> Result<Option<Bytes>, AuthError> {
//!         let nonce = data.ok_or_else(|| AuthError::new("challenge without a nonce"))?;
//!         self.nonce = Some(nonce.to_vec());
//!         let mut answer = format!("{}:", self.key).into_bytes();
//!         answer.extend_from_slice(nonce);
//!         Ok(Some(answer.into()))
//!     }
//!     fn finish(&mut self, data: Option<&[u8]>) -> Result<(), AuthError> {
//!         let mut expected = b"ok:".to_vec();
//!         expected.extend_from_slice(self.nonce.as_deref().unwrap_or_default());
//!         match data {
//!             Some(d) if d == expected.as_slice() => Ok(()),
//!             _ => Err(AuthError::new("the server did not confirm")),
//!         }
//!     }
//! }
//!
//! let config = Config {
//!     protocol_version: ProtocolVersion::V5.into(),
//!     authenticator: Some(Arc::new(Token("s3cret".into()))),
//!     ..Config::default()
//! };
//! assert!(config.validate().is_ok());
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use sansmqtt_proto::{Auth, AuthReason, MqttString};
use sansmqtt_session::{Session, SessionOptions, SessionStore, StateError};

use crate::ClientError;
use crate::command::Reply;
use crate::config::ConfigError;

/// An MQTT 5 enhanced authentication mechanism (§4.12), implemented by the
/// application: its method, and a fresh [`AuthExchange`] for each
/// authentication. Object-safe, `Send + Sync`: it lives in an `Arc` in the
/// [`Config`](crate::Config) and is used by the client's background task.
pub trait Authenticator: Send + Sync {
    /// The Authentication Method of CONNECT and of every AUTH (e.g.
    /// `"SCRAM-SHA-256"`); the same for every exchange.
    fn method(&self) -> &str;

    /// A new exchange: for a connection (the first and each reconnection)
    /// or a re-authentication.
    fn start(&self) -> Box<dyn AuthExchange>;
}

/// One authentication in progress, created by [`Authenticator::start`]:
/// [`initial_data`](AuthExchange::initial_data) once, then
/// [`challenge`](AuthExchange::challenge) for each AUTH 0x18 of the server,
/// then [`finish`](AuthExchange::finish) with the server's final data. Any
/// error ends the connection (see the [module](self) documentation).
pub trait AuthExchange: Send {
    /// The Authentication Data of CONNECT (or of the AUTH 0x19 that starts
    /// a re-authentication), if the method has any (SCRAM: client-first).
    fn initial_data(&mut self) -> Result<Option<Bytes>, AuthError>;

    /// The answer to a challenge (the Authentication Data of the server's
    /// AUTH 0x18), sent as the data of the client's AUTH 0x18 (SCRAM:
    /// client-final with the proof, for server-first).
    fn challenge(&mut self, data: Option<&[u8]>) -> Result<Option<Bytes>, AuthError>;

    /// The server accepted: its final Authentication Data (of the CONNACK,
    /// or of the AUTH 0x00 that ends a re-authentication) to check (SCRAM:
    /// server-final's signature). An error here closes the connection
    /// before anything else is sent on it.
    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), AuthError>;
}

/// Why an enhanced authentication failed on the client's side
/// ([`ClientError::Auth`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The authenticator could not go on (its message): a challenge it
    /// cannot answer, a server signature that does not verify, ...
    #[error("{0}")]
    Failed(String),
    /// [`Client::reauthenticate`](crate::Client::reauthenticate) without an
    /// [`Authenticator`] in the configuration.
    #[error("no authenticator is configured")]
    NoAuthenticator,
}

impl AuthError {
    /// [`AuthError::Failed`] with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }
}

/// `Debug` of the config: the method (an authenticator holds secrets).
impl fmt::Debug for dyn Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("method", &self.method())
            .finish_non_exhaustive()
    }
}

/// A one-step authentication: CONNECT carries the method and, if any, the
/// data (a token the broker checks at once), and no challenge follows. A
/// challenge of the server fails the connection with [`AuthError`]; the
/// server's final data is not checked. The config keys
/// `authentication_method` and `authentication_data` make one; `Debug`
/// shows the method and the data's length only.
///
/// ```
/// use sansmqtt::auth::{Authenticator, StaticAuth};
/// use sansmqtt::Bytes;
///
/// let auth = StaticAuth::new("X-TOKEN", Some(Bytes::from_static(b"s3cret")));
/// assert_eq!(auth.method(), "X-TOKEN");
/// assert_eq!(auth.start().initial_data()?.as_deref(), Some(&b"s3cret"[..]));
/// assert!(auth.start().challenge(Some(b"nonce")).is_err());
/// assert!(!format!("{auth:?}").contains("s3cret"));
/// # Ok::<(), sansmqtt::auth::AuthError>(())
/// ```
#[derive(Clone)]
pub struct StaticAuth {
    method: String,
    data: Option<Bytes>,
}

impl StaticAuth {
    /// The method `method` with the initial data `data`.
    pub fn new(method: impl Into<String>, data: Option<Bytes>) -> Self {
        Self {
            method: method.into(),
            data,
        }
    }
}

impl fmt::Debug for StaticAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticAuth")
            .field("method", &self.method)
            .field("data_len", &self.data.as_ref().map(Bytes::len))
            .finish()
    }
}

impl Authenticator for StaticAuth {
    fn method(&self) -> &str {
        &self.method
    }

    fn start(&self) -> Box<dyn AuthExchange> {
        Box::new(StaticExchange(self.data.clone()))
    }
}

/// The exchange of a [`StaticAuth`]: its data, and no answer to a challenge.
struct StaticExchange(Option<Bytes>);

impl AuthExchange for StaticExchange {
    fn initial_data(&mut self) -> Result<Option<Bytes>, AuthError> {
        Ok(self.0.clone())
    }

    fn challenge(&mut self, _: Option<&[u8]>) -> Result<Option<Bytes>, AuthError> {
        Err(AuthError::new(
            "the broker sent an authentication challenge, which a one-step authentication method (authentication_method / authentication_data) cannot answer",
        ))
    }

    fn finish(&mut self, _: Option<&[u8]>) -> Result<(), AuthError> {
        Ok(())
    }
}

/// Checks the configuration's authenticator against its protocol version
/// and puts its method into the session's CONNECT properties.
pub(crate) fn configure(
    authenticator: Option<&Arc<dyn Authenticator>>,
    options: &mut SessionOptions,
) -> Result<(), ConfigError> {
    let Some(authenticator) = authenticator else {
        return Ok(());
    };
    let method = MqttString::try_from(authenticator.method())
        .map_err(|_| ConfigError::InvalidAuthenticationMethod)?;
    options.properties.authentication_method = Some(method);
    Ok(())
}

/// The driver's side of enhanced authentication: the authenticator, the
/// exchange in progress, and the `reauthenticate()` calls waiting for it.
#[derive(Default)]
pub(crate) struct AuthFlow {
    authenticator: Option<Arc<dyn Authenticator>>,
    exchange: Option<Box<dyn AuthExchange>>,
    /// `reauthenticate()` calls waiting for the exchange in progress (or
    /// for the connection: a connection authenticates afresh).
    waiting: Vec<Reply<()>>,
}

impl AuthFlow {
    pub(crate) fn new(authenticator: Option<Arc<dyn Authenticator>>) -> Self {
        Self {
            authenticator,
            ..Self::default()
        }
    }

    /// Starts a connection: CONNECT with a fresh exchange's initial data
    /// (or the session's plain CONNECT without an authenticator).
    pub(crate) fn connect<S: SessionStore>(
        &mut self,
        session: &mut Session<S>,
        now: Instant,
    ) -> Result<(), ClientError> {
        let Some(authenticator) = &self.authenticator else {
            self.exchange = None;
            return session
                .connect(crate::clock::session_time(now))
                .map_err(session_error);
        };
        let mut exchange = authenticator.start();
        let data = exchange.initial_data()?;
        self.exchange = Some(exchange);
        session
            .connect_with_auth_data(data, crate::clock::session_time(now))
            .map_err(session_error)
    }

    /// A server challenge (AUTH 0x18): the exchange's answer goes out.
    pub(crate) fn challenge<S: SessionStore>(
        &mut self,
        auth: &Auth,
        session: &mut Session<S>,
        now: Instant,
    ) -> Result<(), AuthError> {
        let exchange = self.exchange.as_mut().ok_or(AuthError::NoAuthenticator)?;
        let data = exchange.challenge(auth.properties.authentication_data.as_deref())?;
        send(session, AuthReason::ContinueAuthentication, data, now)
    }

    /// The server's final data: checked by the exchange, which is over.
    /// After a re-authentication the waiting calls are answered.
    pub(crate) fn finish<S: SessionStore>(
        &mut self,
        data: Option<&[u8]>,
        session: &mut Session<S>,
        now: Instant,
    ) -> Result<(), AuthError> {
        // No exchange: CONNECT had a method without an authenticator (data
        // set in the session options), nothing to check.
        if let Some(mut exchange) = self.exchange.take() {
            exchange.finish(data)?;
        }
        session.accept_auth(crate::clock::session_time(now));
        if session.is_connected() {
            self.answer(&Ok(()));
        }
        Ok(())
    }

    /// `reauthenticate()`: AUTH 0x19 with a fresh exchange's initial data.
    /// Offline, the next connection (authenticated afresh) answers; while
    /// one runs, the call waits for it.
    pub(crate) fn reauthenticate<S: SessionStore>(
        &mut self,
        reply: Reply<()>,
        session: &mut Session<S>,
        now: Instant,
    ) -> Result<(), AuthError> {
        let Some(authenticator) = &self.authenticator else {
            let _ = reply.send(Err(ClientError::Auth(AuthError::NoAuthenticator)));
            return Ok(());
        };
        self.waiting.push(reply);
        if !session.is_connected() || session.is_reauthenticating() {
            return Ok(());
        }
        let mut exchange = authenticator.start();
        let data = exchange.initial_data()?;
        self.exchange = Some(exchange);
        send(session, AuthReason::ReAuthenticate, data, now)
    }

    /// A connection was accepted: it authenticated afresh, which answers
    /// the calls that waited offline.
    pub(crate) fn connected(&mut self) {
        self.answer(&Ok(()));
    }

    /// Answers the waiting `reauthenticate()` calls.
    pub(crate) fn answer(&mut self, outcome: &Result<(), ClientError>) {
        for reply in self.waiting.drain(..) {
            let _ = reply.send(outcome.clone());
        }
    }

    /// The connection ended (or never came): the exchange with it; the
    /// waiting calls get `error`.
    pub(crate) fn closed(&mut self, error: ClientError) {
        self.exchange = None;
        self.answer(&Err(error));
    }
}

/// Sends AUTH with `reason` and `data` (the session adds CONNECT's method).
fn send<S: SessionStore>(
    session: &mut Session<S>,
    reason: AuthReason,
    data: Option<Bytes>,
    now: Instant,
) -> Result<(), AuthError> {
    let mut auth = Auth {
        reason,
        ..Auth::default()
    };
    auth.properties.authentication_data = data;
    session
        .auth(auth, crate::clock::session_time(now))
        .map_err(|e| AuthError::new(e.to_string()))
}

/// A session that cannot start a connection.
fn session_error(e: StateError) -> ClientError {
    ClientError::Connect(crate::ConnectError::Session(e))
}
