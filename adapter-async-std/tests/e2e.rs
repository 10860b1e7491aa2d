//! The shared end-to-end suite (`mqtt-client/tests/suite/e2e_body.rs`:
//! mosquitto and rumqttd, MQTT 3.1.1 and 5) on async-std: each test body
//! under `async_std::task::block_on`, the clients' tasks on async-std's
//! global executor.

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;

#[path = "../../mqtt-client/tests/suite/e2e_body.rs"]
mod suite;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sansmqtt_async_std::{AsyncStdRuntime, Runtime};

/// The runtime every test of the suite runs on.
type Rt = AsyncStd;

/// async-std for the suite.
struct AsyncStd;

impl suite::TestRuntime for AsyncStd {
    fn runtime() -> Arc<dyn Runtime> {
        Arc::new(AsyncStdRuntime::new())
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        async_std::task::block_on(future)
    }

    fn spawn<T: Send + 'static>(
        future: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = T> + Send + 'static {
        // Awaiting the handle re-raises the task's panic.
        async_std::task::spawn(future)
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        async_std::task::sleep(duration)
    }
}
