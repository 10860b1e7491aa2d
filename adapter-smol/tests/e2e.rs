//! The shared end-to-end suite (`mqtt-client/tests/suite/e2e_body.rs`:
//! mosquitto and rumqttd, MQTT 3.1.1 and 5) on smol: each test body under
//! `smol::block_on`, the clients' tasks on smol's global executor (what
//! `sansmqtt_smol::connect` uses).

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

#[path = "../../mqtt-client/tests/suite/runtime.rs"]
mod runtime;

mod rt;

#[path = "../../mqtt-client/tests/suite/e2e_body.rs"]
mod suite;

/// The runtime every test of the suite runs on.
type Rt = rt::Smol;
