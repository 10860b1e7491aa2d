//! The smol runtime of the shared suites (`mqtt-client/tests/suite/`): each
//! test body under `smol::block_on` on the test's thread, the clients' tasks
//! on smol's global executor (what `sansmqtt_smol::connect` uses).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sansmqtt_smol::{Runtime, SmolRuntime};

/// smol for the suite.
pub(crate) struct Smol;

impl crate::runtime::TestRuntime for Smol {
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
