//! The shared MQTT 5 suite (`mqtt-client/tests/suite/v5/`: one module per
//! capability, against mosquitto in MQTT 5 mode and a scripted broker) on
//! tokio (`tests/rt`).

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

// The suite uses some of the runtime helpers; the others serve other suites.
#[allow(dead_code)]
#[path = "../../mqtt-client/tests/suite/runtime.rs"]
mod runtime;

mod rt;

#[path = "../../mqtt-client/tests/suite/v5/mod.rs"]
mod suite;

/// The runtime every test of the suite runs on.
type Rt = rt::Tokio;
