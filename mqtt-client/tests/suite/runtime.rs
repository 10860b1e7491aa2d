//! The runtime side of the shared suites (`e2e_body.rs`, `reconnect_body.rs`):
//! what a test needs from a runtime besides `sansmqtt::Runtime`
//! ([`TestRuntime`]), and the waits built on it. An adapter's test crate
//! includes it next to a suite body and picks its runtime:
//!
//! ```ignore
//! #[path = "../../mqtt-client/tests/suite/runtime.rs"]
//! mod runtime;
//!
//! /// The runtime every test of the suite runs on.
//! type Rt = MyTestRuntime; // implements runtime::TestRuntime
//! ```

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{Either, select};
use sansmqtt::Runtime;

use crate::Rt;

/// What the suites need from a runtime besides `sansmqtt::Runtime`.
pub(crate) trait TestRuntime: 'static {
    /// The adapter's runtime, for `Client::connect`. Called inside
    /// [`TestRuntime::block_on`].
    fn runtime() -> Arc<dyn Runtime>;
    /// Runs a test body to completion on the calling thread (the test's).
    fn block_on<F: Future>(future: F) -> F::Output;
    /// Runs `future` in the background; the returned future gives its
    /// output, and re-raises its panic.
    fn spawn<T: Send + 'static>(
        future: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = T> + Send + 'static;
    /// Ready once `duration` has passed.
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send;
    /// Runs blocking code (starting or stopping a broker) from a test body:
    /// the body's thread may block, unless the runtime says otherwise.
    fn blocking<T>(f: impl FnOnce() -> T) -> T {
        f()
    }
}

/// A wait that reached its deadline.
#[derive(Debug)]
pub(crate) struct Elapsed;

/// `future`'s output, unless `duration` passes first.
pub(crate) async fn timeout<F: Future>(
    duration: Duration,
    future: F,
) -> Result<F::Output, Elapsed> {
    match select(pin!(future), pin!(Rt::sleep(duration))).await {
        Either::Left((output, _)) => Ok(output),
        Either::Right(_) => Err(Elapsed),
    }
}

/// [`TestRuntime::spawn`] on the suite's runtime.
pub(crate) fn spawn<T: Send + 'static>(
    future: impl Future<Output = T> + Send + 'static,
) -> impl Future<Output = T> + Send + 'static {
    Rt::spawn(future)
}

/// [`TestRuntime::blocking`] on the suite's runtime.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    Rt::blocking(f)
}
