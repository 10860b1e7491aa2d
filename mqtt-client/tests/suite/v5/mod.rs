//! The MQTT 5 suite (issue #14), shared by every runtime adapter: one
//! module per capability, each test against mosquitto in MQTT 5 mode or,
//! for what mosquitto cannot produce (AUTH challenges, redirects, a server
//! DISCONNECT with properties, a 3.1.1-only broker), against the scripted
//! `FakeBroker` of the test support. An adapter's `tests/v5.rs` includes
//! this directory and picks its runtime (`type Rt = ...`), as `e2e.rs` and
//! `reconnect.rs` do.
//!
//! The bodies use only `sansmqtt::Client::connect(Rt::runtime(), ...)` and
//! the [`TestRuntime`](crate::runtime::TestRuntime) helpers, never a
//! runtime's own API, and every wait has a deadline.

#![allow(dead_code)]

/// A smoke test of the suite itself: a v5 connection to mosquitto.
mod smoke;

/// Request / response: `Client::request` and `Client::respond`.
mod request;

/// Connect, disconnect and the protocol version: CONNECT and will
/// properties, negotiated CONNACK values, "auto", redirects.
mod connect;
