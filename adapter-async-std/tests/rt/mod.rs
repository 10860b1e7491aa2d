//! The async-std runtime of the shared suites (`mqtt-client/tests/suite/`):
//! each test body under `async_std::task::block_on` on the test's thread,
//! the clients' tasks on async-std's global executor.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sansmqtt_async_std::{AsyncStdRuntime, Runtime};

/// async-std for the suite.
pub(crate) struct AsyncStd;

impl crate::runtime::TestRuntime for AsyncStd {
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
