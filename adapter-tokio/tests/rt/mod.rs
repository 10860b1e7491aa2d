//! The tokio runtime of the shared suites (`mqtt-client/tests/suite/`):
//! each test on a multi-threaded runtime of its own with two workers; the
//! test body runs on the test's thread (`block_on`), the clients' drivers on
//! the workers.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sansmqtt_tokio::{Runtime, TokioRuntime};

/// tokio for the suite.
pub(crate) struct Tokio;

impl crate::runtime::TestRuntime for Tokio {
    fn runtime() -> Arc<dyn Runtime> {
        Arc::new(TokioRuntime::current())
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
            .block_on(future)
    }

    fn spawn<T: Send + 'static>(
        future: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = T> + Send + 'static {
        let task = tokio::spawn(future);
        async move {
            match task.await {
                Ok(output) => output,
                Err(e) => match e.try_into_panic() {
                    Ok(panic) => std::panic::resume_unwind(panic),
                    Err(e) => panic!("task failed: {e}"),
                },
            }
        }
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }

    fn blocking<T>(f: impl FnOnce() -> T) -> T {
        tokio::task::block_in_place(f)
    }
}
