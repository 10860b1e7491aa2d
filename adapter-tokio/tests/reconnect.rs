//! The shared reconnect and scripted-broker suite
//! (`mqtt-client/tests/suite/reconnect_body.rs`: mosquitto restarted under
//! QoS 1 and 2 streams, a scripted broker, the seed's bugs) on tokio
//! (`tests/rt`).

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

#[path = "../../mqtt-client/tests/suite/runtime.rs"]
mod runtime;

mod rt;

#[path = "../../mqtt-client/tests/suite/reconnect_body.rs"]
mod suite;

/// The runtime every test of the suite runs on.
type Rt = rt::Tokio;
