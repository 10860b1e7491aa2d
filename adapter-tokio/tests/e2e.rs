//! The shared end-to-end suite (`mqtt-client/tests/suite/e2e_body.rs`:
//! mosquitto and rumqttd, MQTT 3.1.1 and 5) on tokio: each test on a
//! multi-threaded runtime of its own with two workers.

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

#[path = "../../mqtt-client/tests/suite/runtime.rs"]
mod runtime;

mod rt;

#[path = "../../mqtt-client/tests/suite/e2e_body.rs"]
mod suite;

/// The runtime every test of the suite runs on.
type Rt = rt::Tokio;
