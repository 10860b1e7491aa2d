//! MQTT 5 enhanced authentication (§4.12) against a scripted broker that
//! runs SCRAM-SHA-256 (RFC 5802 / RFC 7677 message shapes) as the
//! challenge / response: the first connect, a reconnect repeating the
//! exchange, a re-authentication, a wrong password, an authenticator that
//! fails, a server signature that does not verify, and a server that
//! switches methods. Every primitive comes from RustCrypto's `sha2`,
//! `hmac` and `pbkdf2` and from `base64`; the client's authenticator and
//! the broker's check are both written here (the authenticator as an
//! application would write it).
//!
//! The broker runs in a thread of its own (blocking `FakeBroker`), the
//! client on the suite's runtime; every wait has a deadline.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use hmac::{Hmac, KeyInit, Mac};
use sansmqtt::auth::{AuthError, AuthExchange, Authenticator};
use sansmqtt::{
    Client, ClientError, CloseReason, Config, ConfigError, ConnectionState, ProtocolError,
    ProtocolVersion,
};
use sansmqtt_proto::{
    Auth, AuthReason, ConnAck, ConnectReason, Decoder, Disconnect, DisconnectReason, MqttString,
    Packet, ProtocolVersion as Version, Publish, TopicName,
};
use sha2::{Digest, Sha256};

use crate::Rt;
use crate::runtime::{TestRuntime, timeout};
use crate::support::FakeBroker;

/// Deadline of one step.
const T: Duration = Duration::from_secs(10);
const METHOD: &str = "SCRAM-SHA-256";
const USER: &str = "alice";
const PASSWORD: &str = "correct horse";
/// RFC 7677 §4: at least 4096 iterations.
const ITERATIONS: u32 = 4096;
const SALT: &[u8] = b"sansmqtt-salt-16";

// ------------------------------------------------------------- primitives

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// SaltedPassword := Hi(Normalize(password), salt, i) (RFC 5802 §3).
fn salted_password(password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
    pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password.as_bytes(), salt, iterations).to_vec()
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

/// A fresh printable nonce (RFC 5802: no ','): a per-process random key
/// and a counter.
fn nonce() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let random = RandomState::new().hash_one(n);
    B64.encode(sha256(format!("{random}/{n}").as_bytes()))
}

/// The attribute `key` of a SCRAM message (`k=value,...`).
fn attr(message: &str, key: char) -> Option<&str> {
    message
        .split(',')
        .find_map(|part| part.strip_prefix(key)?.strip_prefix('='))
}

// ------------------------------------------------- the client: an authenticator

/// SCRAM-SHA-256 as an application would implement [`Authenticator`].
struct Scram {
    user: String,
    password: String,
    /// Every client-first sent, to compare nonces across exchanges.
    sent: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Scram {
    fn new(password: &str) -> Self {
        Self {
            user: USER.into(),
            password: password.into(),
            sent: Arc::default(),
        }
    }
}

/// One SCRAM exchange: client-first, client-final, the server's signature.
struct ScramExchange {
    user: String,
    password: String,
    client_nonce: String,
    client_first_bare: String,
    server_signature: Option<Vec<u8>>,
    sent: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Authenticator for Scram {
    fn method(&self) -> &str {
        METHOD
    }

    fn start(&self) -> Box<dyn AuthExchange> {
        Box::new(ScramExchange {
            user: self.user.clone(),
            password: self.password.clone(),
            client_nonce: nonce(),
            client_first_bare: String::new(),
            server_signature: None,
            sent: self.sent.clone(),
        })
    }
}

impl AuthExchange for ScramExchange {
    fn initial_data(&mut self) -> Result<Option<Bytes>, AuthError> {
        self.client_first_bare = format!("n={},r={}", self.user, self.client_nonce);
        let first = format!("n,,{}", self.client_first_bare);
        self.sent.lock().unwrap().push(first.clone());
        Ok(Some(first.into()))
    }

    fn challenge(&mut self, data: Option<&[u8]>) -> Result<Option<Bytes>, AuthError> {
        let server_first = std::str::from_utf8(data.unwrap_or_default())
            .map_err(|_| AuthError::new("server-first is not UTF-8"))?;
        let nonce = attr(server_first, 'r').ok_or_else(|| AuthError::new("no nonce"))?;
        if !nonce.starts_with(&self.client_nonce) {
            return Err(AuthError::new("the server's nonce does not extend ours"));
        }
        let salt = attr(server_first, 's')
            .and_then(|s| B64.decode(s).ok())
            .ok_or_else(|| AuthError::new("no salt"))?;
        let iterations: u32 = attr(server_first, 'i')
            .and_then(|i| i.parse().ok())
            .ok_or_else(|| AuthError::new("no iteration count"))?;
        if iterations < ITERATIONS {
            return Err(AuthError::new(format!(
                "iteration count {iterations} below 4096 (RFC 7677)"
            )));
        }
        let salted = salted_password(&self.password, &salt, iterations);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key = sha256(&client_key);
        let without_proof = format!("c={},r={nonce}", B64.encode("n,,"));
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let proof = xor(&client_key, &hmac(&stored_key, auth_message.as_bytes()));
        let server_key = hmac(&salted, b"Server Key");
        self.server_signature = Some(hmac(&server_key, auth_message.as_bytes()));
        Ok(Some(
            format!("{without_proof},p={}", B64.encode(proof)).into(),
        ))
    }

    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), AuthError> {
        let server_final = std::str::from_utf8(data.unwrap_or_default())
            .map_err(|_| AuthError::new("server-final is not UTF-8"))?;
        let verifier = attr(server_final, 'v')
            .and_then(|v| B64.decode(v).ok())
            .ok_or_else(|| AuthError::new("server-final without a verifier"))?;
        match &self.server_signature {
            Some(expected) if *expected == verifier => Ok(()),
            _ => Err(AuthError::new("the server signature does not verify")),
        }
    }
}

// --------------------------------------------------------- the broker side

/// The broker's end of one SCRAM exchange.
struct ScramServer {
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
    iterations: u32,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

impl ScramServer {
    /// The broker's record of [`USER`] (RFC 5802 §3: it keeps StoredKey and
    /// ServerKey, not the password).
    fn new(iterations: u32) -> Self {
        let salted = salted_password(PASSWORD, SALT, iterations);
        Self {
            stored_key: sha256(&hmac(&salted, b"Client Key")),
            server_key: hmac(&salted, b"Server Key"),
            iterations,
            client_first_bare: String::new(),
            server_first: String::new(),
            nonce: String::new(),
        }
    }

    /// server-first for a client-first.
    fn first(&mut self, client_first: &[u8]) -> String {
        let client_first = std::str::from_utf8(client_first).expect("UTF-8 client-first");
        let bare = client_first.strip_prefix("n,,").expect("gs2 header n,,");
        assert_eq!(attr(bare, 'n'), Some(USER));
        self.client_first_bare = bare.to_owned();
        self.nonce = format!("{}{}", attr(bare, 'r').expect("client nonce"), nonce());
        self.server_first = format!(
            "r={},s={},i={}",
            self.nonce,
            B64.encode(SALT),
            self.iterations
        );
        self.server_first.clone()
    }

    /// The client-first this exchange answered.
    fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// Checks client-final's proof: `Some(server-final)` if it proves the
    /// password.
    fn last(&self, client_final: &[u8]) -> Option<String> {
        let client_final = std::str::from_utf8(client_final).expect("UTF-8 client-final");
        let (without_proof, proof) = client_final.rsplit_once(",p=").expect("a proof");
        assert_eq!(attr(without_proof, 'c'), Some(B64.encode("n,,").as_str()));
        assert_eq!(attr(without_proof, 'r'), Some(self.nonce.as_str()));
        let auth_message = format!(
            "{},{},{without_proof}",
            self.client_first_bare, self.server_first
        );
        let signature = hmac(&self.stored_key, auth_message.as_bytes());
        let client_key = xor(&B64.decode(proof).expect("base64 proof"), &signature);
        (sha256(&client_key) == self.stored_key).then(|| {
            let verifier = hmac(&self.server_key, auth_message.as_bytes());
            format!("v={}", B64.encode(verifier))
        })
    }
}

fn mstr(s: &str) -> MqttString {
    MqttString::try_from(s).unwrap()
}

fn encode(packet: Packet) -> Vec<u8> {
    let mut buf = BytesMut::new();
    packet.encode(Version::V5, &mut buf).expect("encodable");
    buf.to_vec()
}

fn decode(bytes: &[u8]) -> Packet {
    let mut decoder = Decoder::new(Version::V5);
    decoder.feed(bytes);
    decoder.decode().expect("valid").expect("a whole packet")
}

fn auth_packet(reason: AuthReason, method: &str, data: &str) -> Vec<u8> {
    let mut auth = Auth {
        reason,
        ..Auth::default()
    };
    auth.properties.authentication_method = Some(mstr(method));
    auth.properties.authentication_data = Some(Bytes::copy_from_slice(data.as_bytes()));
    encode(Packet::Auth(auth))
}

fn connack_success(server_final: &str) -> Vec<u8> {
    let mut ack = ConnAck::new(false, ConnectReason::Success);
    ack.properties.authentication_method = Some(mstr(METHOD));
    ack.properties.authentication_data = Some(Bytes::copy_from_slice(server_final.as_bytes()));
    encode(Packet::ConnAck(ack))
}

/// A Variable Byte Integer (§1.5.5), for lengths.
fn varint(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n % 128) as u8;
        n /= 128;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Properties 0x15 Authentication Method (UTF-8 string: two-byte length)
/// and 0x16 Authentication Data (binary data: two-byte length), §2.2.2.2.
fn auth_properties(data: &[u8]) -> Vec<u8> {
    let mut props = vec![0x15];
    props.extend_from_slice(&(METHOD.len() as u16).to_be_bytes());
    props.extend_from_slice(METHOD.as_bytes());
    props.push(0x16);
    props.extend_from_slice(&(data.len() as u16).to_be_bytes());
    props.extend_from_slice(data);
    props
}

/// The wire form of the client's AUTH with CONNECT's method (MQTT-4.12.0-5)
/// and `data`, derived by hand (§3.15): fixed header 0xf0, remaining
/// length, reason code, property length, the two properties.
fn expected_auth_bytes(reason: u8, data: &[u8]) -> Vec<u8> {
    let props = auth_properties(data);
    let mut body = vec![reason];
    body.extend(varint(props.len()));
    body.extend_from_slice(&props);
    let mut packet = vec![0xf0];
    packet.extend(varint(body.len()));
    packet.extend_from_slice(&body);
    packet
}

/// Reads CONNECT and checks its Authentication Method and Data on the
/// wire (properties 0x15 and 0x16, §3.1.2.11.9-10); returns the data
/// (client-first).
fn read_connect(fake: &mut FakeBroker) -> Vec<u8> {
    let bytes = fake.read_packet(T).expect("CONNECT");
    let Packet::Connect(connect) = decode(&bytes) else {
        panic!("not a CONNECT: {bytes:02x?}");
    };
    assert_eq!(connect.protocol, Version::V5);
    let data = connect
        .properties
        .authentication_data
        .clone()
        .expect("CONNECT carries client-first");
    let wire = auth_properties(&data);
    assert!(
        bytes.windows(wire.len()).any(|w| w == wire.as_slice()),
        "CONNECT {bytes:02x?} lacks the properties {wire:02x?}"
    );
    data.to_vec()
}

/// Reads the client's AUTH and returns its data, checking the whole packet
/// byte for byte against its expected form with `reason`.
fn read_auth(fake: &mut FakeBroker, reason: AuthReason) -> Vec<u8> {
    let bytes = fake.read_packet(T).expect("AUTH");
    let Packet::Auth(auth) = decode(&bytes) else {
        panic!("not an AUTH: {bytes:02x?}");
    };
    let data = auth
        .properties
        .authentication_data
        .clone()
        .unwrap_or_default();
    assert_eq!(bytes, expected_auth_bytes(reason.code(), &data));
    data.to_vec()
}

/// The broker's whole SCRAM exchange on the current connection: CONNECT,
/// AUTH 0x18 with server-first, the client's AUTH 0x18 with client-final,
/// CONNACK with server-final. Returns the client-first received.
fn scram_handshake(fake: &mut FakeBroker) -> String {
    let server = challenge(fake, ITERATIONS);
    let client_final = read_auth(fake, AuthReason::ContinueAuthentication);
    let server_final = server.last(&client_final).expect("the proof verifies");
    fake.write(&connack_success(&server_final)).unwrap();
    server.client_first()
}

/// The broker's first step: CONNECT read (and checked), AUTH 0x18 with
/// server-first (`iterations` announced) written.
fn challenge(fake: &mut FakeBroker, iterations: u32) -> ScramServer {
    let client_first = read_connect(fake);
    let mut server = ScramServer::new(iterations);
    let server_first = server.first(&client_first);
    let packet = auth_packet(AuthReason::ContinueAuthentication, METHOD, &server_first);
    fake.write(&packet).unwrap();
    server
}

/// Runs the broker's script in a thread of its own.
fn broker<T: Send + 'static>(
    script: impl FnOnce(&mut FakeBroker) -> T + Send + 'static,
) -> (String, JoinHandle<T>) {
    let (mut fake, _) = FakeBroker::bind();
    let uri = fake.uri();
    let handle = thread::spawn(move || {
        fake.accept(T).expect("the client connects");
        script(&mut fake)
    });
    (uri, handle)
}

/// The broker script's outcome, waited for without blocking the runtime.
async fn finished<T>(handle: JoinHandle<T>) -> T {
    timeout(T * 2, async {
        while !handle.is_finished() {
            Rt::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the broker script ends in time");
    match handle.join() {
        Ok(t) => t,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// A first connect the client ends itself after the broker's `script`:
/// `connect`'s error, and the one packet the client sent last (checked to
/// be followed by the close of the connection).
async fn closed_by_client(
    script: impl FnOnce(&mut FakeBroker) + Send + 'static,
) -> (ClientError, Vec<u8>) {
    let (uri, script) = broker(|fake| {
        script(fake);
        let last = fake.read_packet(T).expect("DISCONNECT");
        (last, fake.expect_eof(T))
    });
    let error = connect(&uri, config(Scram::new(PASSWORD)))
        .await
        .expect_err("the client ends the connection");
    let (last, closed) = finished(script).await;
    assert!(closed, "the client closed the connection");
    (error, last)
}

/// [`closed_by_client`] because the authenticator failed: `connect` fails
/// with its error (which names `why`), after DISCONNECT 0x83
/// (Implementation specific error; 0x87 is the server's).
async fn aborted_by_authenticator(
    why: &str,
    script: impl FnOnce(&mut FakeBroker) + Send + 'static,
) {
    let (error, disconnect) = closed_by_client(script).await;
    assert!(
        matches!(&error, ClientError::Auth(AuthError::Failed(m)) if m.contains(why)),
        "{error:?}"
    );
    assert_eq!(disconnect, [0xe0, 0x01, 0x83]);
}

fn config(authenticator: Scram) -> Config {
    Config {
        protocol_version: ProtocolVersion::V5.into(),
        authenticator: Some(Arc::new(authenticator)),
        keep_alive: Duration::from_secs(60),
        reconnect_max_interval: Duration::from_millis(500),
        ..Config::default()
    }
}

async fn connect(uri: &str, config: Config) -> Result<Client, ClientError> {
    timeout(T, Client::connect(Rt::runtime(), uri, config))
        .await
        .expect("connect answers in time")
}

// ------------------------------------------------------------------ tests

/// MQTT-4.12.0-2, MQTT-4.12.0-3, MQTT-4.12.0-5, MQTT-3.1.2-30: the first
/// connect runs the SCRAM exchange (CONNECT with the method and
/// client-first, AUTH 0x18 both ways, CONNACK with the server signature,
/// checked), byte for byte; nothing else is sent before the CONNACK, and
/// the connection is usable after it.
#[test]
fn mqtt_4_12_0_3_scram_exchange_on_first_connect() {
    Rt::block_on(async {
        let (uri, script) = broker(|fake| {
            scram_handshake(fake);
            // Then a message: the connection is in use.
            let publish = Publish::at_most_once(
                TopicName::try_from("auth/ok").unwrap(),
                Bytes::from_static(b"hi"),
            );
            fake.write(&encode(Packet::Publish(publish))).unwrap();
            fake.read_until_type(14, T).map(|(d, _)| d)
        });
        let scram = Scram::new(PASSWORD);
        let sent = scram.sent.clone();
        let client = connect(&uri, config(scram)).await.expect("authenticated");
        let m = timeout(T, client.deliver_message())
            .await
            .unwrap()
            .expect("a message");
        assert_eq!(&m.payload()[..], b"hi");
        client.disconnect().await;
        assert_eq!(finished(script).await.unwrap(), [0xe0, 0x00]);
        assert_eq!(sent.lock().unwrap().len(), 1);
    });
}

/// §4.12: a reconnect authenticates afresh, a new exchange with a new
/// nonce; the connection state goes back to Connected.
#[test]
fn reconnect_repeats_the_scram_exchange_with_a_fresh_nonce() {
    Rt::block_on(async {
        let (uri, script) = broker(|fake| {
            let first = scram_handshake(fake);
            fake.drop_connection();
            fake.accept(T).expect("the client reconnects");
            let second = scram_handshake(fake);
            (first, second)
        });
        let client = connect(&uri, config(Scram::new(PASSWORD))).await.unwrap();
        let mut states = client.state_changes();
        let (first, second) = finished(script).await;
        assert_ne!(attr(&first, 'r'), attr(&second, 'r'), "a fresh nonce");
        // Connected, lost, then connected again by the second exchange.
        let mut seen = Vec::new();
        timeout(T, async {
            while let Some(state) = states.next().await {
                seen.push(state.clone());
                if seen.len() > 1 && matches!(state, ConnectionState::Connected { .. }) {
                    break;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("connected again: {seen:?}"));
        client.disconnect().await;
    });
}

/// MQTT-4.12.1-1: `reauthenticate()` sends AUTH 0x19 with CONNECT's
/// method and a new client-first, answers the challenge with AUTH 0x18,
/// checks the server-final of the server's AUTH 0x00 (bytes checked).
#[test]
fn mqtt_4_12_1_1_reauthentication_runs_a_new_exchange() {
    Rt::block_on(async {
        let (uri, script) = broker(|fake| {
            scram_handshake(fake);
            let client_first = read_auth(fake, AuthReason::ReAuthenticate);
            let mut server = ScramServer::new(ITERATIONS);
            let server_first = server.first(&client_first);
            let challenge = auth_packet(AuthReason::ContinueAuthentication, METHOD, &server_first);
            fake.write(&challenge).unwrap();
            let client_final = read_auth(fake, AuthReason::ContinueAuthentication);
            let server_final = server.last(&client_final).expect("the proof verifies");
            fake.write(&auth_packet(AuthReason::Success, METHOD, &server_final))
                .unwrap();
            String::from_utf8(client_first).unwrap()
        });
        let scram = Scram::new(PASSWORD);
        let sent = scram.sent.clone();
        let client = connect(&uri, config(scram)).await.unwrap();
        timeout(T, client.reauthenticate())
            .await
            .expect("re-authenticated in time")
            .expect("re-authenticated");
        let reauth_first = finished(script).await;
        let sent = sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[1], reauth_first);
        assert_ne!(attr(&sent[0], 'r'), attr(&sent[1], 'r'));
        client.disconnect().await;
    });
}

/// MQTT-4.12.1-2: a re-authentication the server refuses ends with its
/// DISCONNECT (0x87 Not authorized): the call fails with that reason.
#[test]
fn mqtt_4_12_1_2_refused_reauthentication_fails_with_the_server_disconnect() {
    Rt::block_on(async {
        let (uri, script) = broker(|fake| {
            scram_handshake(fake);
            read_auth(fake, AuthReason::ReAuthenticate);
            let refusal = Disconnect::new(DisconnectReason::NotAuthorized);
            fake.write(&encode(Packet::Disconnect(refusal))).unwrap();
            fake.drop_connection();
        });
        let client = connect(&uri, config(Scram::new(PASSWORD))).await.unwrap();
        let error = timeout(T, client.reauthenticate())
            .await
            .expect("answered in time")
            .expect_err("refused");
        assert!(
            matches!(
                &error,
                ClientError::Connection(CloseReason::ServerDisconnect {
                    reason: DisconnectReason::NotAuthorized,
                    ..
                })
            ),
            "{error:?}"
        );
        finished(script).await;
        client.disconnect().await;
    });
}

/// MQTT-4.12.0-4: a wrong password: the broker's proof check fails and it
/// refuses with CONNACK 0x87 (Not authorized); `connect` fails with that
/// reason, typed, and the client does not retry a refusal.
#[test]
fn mqtt_4_12_0_4_wrong_password_is_refused_with_connack_0x87() {
    Rt::block_on(async {
        let (uri, script) = broker(|fake| {
            let server = challenge(fake, ITERATIONS);
            let client_final = read_auth(fake, AuthReason::ContinueAuthentication);
            assert_eq!(server.last(&client_final), None, "the proof fails");
            let refusal = ConnAck::new(false, ConnectReason::NotAuthorized);
            fake.write(&encode(Packet::ConnAck(refusal))).unwrap();
            fake.drop_connection();
            // No second attempt.
            fake.accept(Duration::from_secs(1)).is_err()
        });
        let error = connect(&uri, config(Scram::new("wrong password")))
            .await
            .expect_err("refused");
        assert!(
            matches!(
                &error,
                ClientError::Connection(CloseReason::Refused {
                    reason: ConnectReason::NotAuthorized,
                    ..
                })
            ),
            "{error:?}"
        );
        assert!(finished(script).await, "a refusal is not retried");
    });
}

/// MQTT-4.12.1-2 / MQTT-3.1.2-30: an authenticator that cannot answer the
/// challenge (server-first with 1,000 iterations, below RFC 7677's 4,096)
/// ends the connection cleanly: DISCONNECT 0x83 before CONNACK, then the
/// close; `connect` fails with the authenticator's error, typed, at once.
#[test]
fn failing_authenticator_closes_cleanly_with_a_typed_error() {
    Rt::block_on(async {
        aborted_by_authenticator("4096", |fake| {
            challenge(fake, 1000);
        })
        .await;
    });
}

/// A server signature that does not verify (CONNACK 0x00 with a wrong
/// server-final): the client closes before using the connection (nothing
/// but DISCONNECT 0x83 after the CONNACK), and `connect` fails with the
/// authenticator's error.
#[test]
fn bad_server_signature_closes_before_the_connection_is_used() {
    Rt::block_on(async {
        aborted_by_authenticator("signature", |fake| {
            challenge(fake, ITERATIONS);
            read_auth(fake, AuthReason::ContinueAuthentication);
            let forged = format!("v={}", B64.encode([0u8; 32]));
            fake.write(&connack_success(&forged)).unwrap();
        })
        .await;
    });
}

/// MQTT-4.12.0-5: a server AUTH with another method than CONNECT's is a
/// protocol error: DISCONNECT 0x82, `connect` fails with the typed
/// violation.
#[test]
fn mqtt_4_12_0_5_server_auth_with_another_method_is_a_protocol_error() {
    Rt::block_on(async {
        let (error, disconnect) = closed_by_client(|fake| {
            read_connect(fake);
            let other = auth_packet(
                AuthReason::ContinueAuthentication,
                "SCRAM-SHA-1",
                "r=x,s=eA==,i=4096",
            );
            fake.write(&other).unwrap();
        })
        .await;
        let expected = ProtocolError::AuthMethodMismatch {
            expected: mstr(METHOD),
            received: Some(mstr("SCRAM-SHA-1")),
        };
        assert_eq!(
            error,
            ClientError::Connection(CloseReason::ProtocolViolation(expected))
        );
        assert_eq!(disconnect, [0xe0, 0x01, 0x82]);
    });
}

/// An authenticator needs MQTT 5 (AUTH does not exist in 3.1.1); without
/// one, `reauthenticate()` fails with a typed error.
#[test]
fn authenticator_needs_v5_and_reauthenticate_needs_an_authenticator() {
    Rt::block_on(async {
        let mut v311 = config(Scram::new(PASSWORD));
        v311.protocol_version = ProtocolVersion::V3_1_1.into();
        assert_eq!(v311.validate(), Err(ConfigError::AuthenticatorNeedsV5));
        // "auto" may fall back to 3.1.1, which has no AUTH.
        let mut auto = config(Scram::new(PASSWORD));
        auto.protocol_version = sansmqtt::config::ProtocolChoice::Auto;
        assert_eq!(auto.validate(), Err(ConfigError::AuthenticatorNeedsV5));
        let error = connect("mqtt://127.0.0.1:1", v311).await.unwrap_err();
        assert_eq!(
            error,
            ClientError::Config(ConfigError::AuthenticatorNeedsV5)
        );

        let (uri, script) = broker(|fake| {
            fake.read_packet(T).expect("CONNECT");
            fake.write(&encode(Packet::ConnAck(ConnAck::new(
                false,
                ConnectReason::Success,
            ))))
            .unwrap();
            fake.read_until_type(14, T).is_ok()
        });
        let plain = Config {
            protocol_version: ProtocolVersion::V5.into(),
            ..Config::default()
        };
        let client = connect(&uri, plain).await.unwrap();
        assert_eq!(
            client.reauthenticate().await,
            Err(ClientError::Auth(AuthError::NoAuthenticator))
        );
        client.disconnect().await;
        assert!(finished(script).await);
    });
}

/// `Debug` of a config shows the authenticator's method, never its secrets.
#[test]
fn config_debug_shows_the_method_only() {
    let text = format!("{:?}", config(Scram::new(PASSWORD)));
    assert!(text.contains(METHOD), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
}

/// MQTT-3.1.2-30 / §3.1.2.11.9-10: the config keys `authentication_method`
/// and `authentication_data` (a one-step method) put both properties in
/// CONNECT, byte for byte; the broker's CONNACK with the same method
/// accepts; a challenge instead fails the connect with a typed error.
#[test]
fn one_step_authentication_from_the_config_keys() {
    Rt::block_on(async {
        let token_config = || Config {
            protocol_version: ProtocolVersion::V5.into(),
            authentication_method: Some(METHOD.to_owned()),
            authentication_data: Some("token-1".into()),
            reconnect_on_first_connect: false,
            ..Config::default()
        };
        let (uri, script) = broker(|fake| {
            let data = read_connect(fake);
            let mut ack = ConnAck::new(false, ConnectReason::Success);
            ack.properties.authentication_method = Some(mstr(METHOD));
            fake.write(&encode(Packet::ConnAck(ack))).unwrap();
            data
        });
        let client = connect(&uri, token_config()).await.expect("accepted");
        assert_eq!(finished(script).await, b"token-1");
        client.disconnect().await;

        // A broker that challenges: the one-step method cannot answer.
        let (uri, script) = broker(|fake| {
            read_connect(fake);
            let packet = auth_packet(AuthReason::ContinueAuthentication, METHOD, "nonce");
            fake.write(&packet).unwrap();
            fake.read_packet(T).ok()
        });
        let e = connect(&uri, token_config()).await.unwrap_err();
        assert!(
            matches!(e, ClientError::Auth(AuthError::Failed(_))),
            "{e:?}"
        );
        // The client ends it with DISCONNECT 0x83 (MQTT-4.12.0-4 says the
        // side that fails closes the connection).
        let last = finished(script).await.expect("a DISCONNECT");
        assert_eq!(&last[..], [0xe0, 0x01, 0x83]);
    });
}
