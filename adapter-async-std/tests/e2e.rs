//! The shared end-to-end suite (`mqtt-client/tests/suite/e2e_body.rs`:
//! mosquitto and rumqttd, MQTT 3.1.1 and 5) on async-std: each test body
//! under `async_std::task::block_on`, the clients' tasks on async-std's
//! global executor.

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

#[path = "../../mqtt-client/tests/suite/runtime.rs"]
mod runtime;

mod rt;

#[path = "../../mqtt-client/tests/suite/e2e_body.rs"]
mod suite;

/// The runtime every test of the suite runs on.
type Rt = rt::AsyncStd;
