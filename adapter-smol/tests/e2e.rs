//! The shared end-to-end suite (`mqtt-client/tests/suite/e2e_body.rs`:
//! mosquitto and rumqttd, MQTT 3.1.1 and 5) on smol: each test body under
//! `smol::block_on`, the clients' tasks on smol's global executor (what
//! `sansmqtt_smol::connect` uses).

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

#[path = "../../mqtt-client/tests/suite/e2e_body.rs"]
mod suite;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sansmqtt_smol::{Runtime, SmolRuntime};

/// The runtime every test of the suite runs on.
type Rt = Smol;

/// smol for the suite.
struct Smol;

impl suite::TestRuntime for Smol {
    fn runtime() -> Arc<dyn Runtime> {
        Arc::new(SmolRuntime::global())
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        smol::block_on(future)
    }

    fn spawn<T: Send + 'static>(
        future: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = T> + Send + 'static {
        // Awaiting the task re-raises its panic (dropping it would cancel it).
        smol::spawn(future)
    }

    async fn sleep(duration: Duration) {
        smol::Timer::after(duration).await;
    }
}
