//! What the tests of this crate share: an embassy executor on the test's
//! thread, host sockets as `embedded-io-async` streams, a recording socket.
//!
//! The sockets are `async_io::Async<std::net::TcpStream>` behind
//! `embedded_io_adapters::futures_03::FromFutures`: async-io drives its
//! reactor from a thread of its own, so a socket that is not ready never
//! blocks the embassy executor's thread (a plain `std::net::TcpStream`
//! would), and no second runtime has to be entered as tokio's would need.

#![allow(dead_code, unreachable_pub)]

use std::cell::RefCell;
use std::future::Future;
use std::net::TcpStream;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use async_io::Async;
use embassy_executor::Executor;
use embedded_io_adapters::futures_03::FromFutures;
use embedded_io_async::{ErrorType, Read, Write};

/// A socket as the client sees it.
pub type Socket = FromFutures<Async<TcpStream>>;

/// The scenarios' futures; they run on the executor's own thread, so they
/// need not be `Send`.
type Scenario = Pin<Box<dyn Future<Output = ()>>>;

#[embassy_executor::task(pool_size = 8)]
async fn scenario(future: Scenario) {
    future.await
}

/// Runs `make()`'s future on an `embassy_executor::Executor` (std
/// platform, thread mode) on this thread until it completes; fails if it
/// takes longer than `limit` (embassy-time's std driver measures it).
pub fn block_on<F: Future<Output = ()> + 'static>(limit: Duration, make: impl FnOnce() -> F) {
    let done = Rc::new(RefCell::new(false));
    let flag = done.clone();
    let future = make();
    let limit = embassy_time::Duration::from_micros(limit.as_micros() as u64);
    let guarded: Scenario = Box::pin(async move {
        if embassy_time::with_timeout(limit, future).await.is_err() {
            panic!("the scenario did not finish within {limit:?}");
        }
        *flag.borrow_mut() = true;
    });
    // One executor per test (tests run side by side on their own threads);
    // `run_until` needs it for 'static: leaked, a few hundred bytes.
    let executor: &'static mut Executor = Box::leak(Box::new(Executor::new()));
    executor.run_until(
        |spawner| spawner.spawn(scenario(guarded).expect("a free scenario task slot")),
        || *done.borrow(),
    );
}

/// Opens a TCP connection to 127.0.0.1:`port` for the client.
pub async fn connect(port: u16) -> Socket {
    let stream = Async::<TcpStream>::connect(([127, 0, 0, 1], port))
        .await
        .expect("connect to the broker");
    stream.get_ref().set_nodelay(true).expect("TCP_NODELAY");
    FromFutures::new(stream)
}

/// A socket that records every byte the client writes, to count the
/// packets it sent.
pub struct Recording<S> {
    pub inner: S,
    pub written: Rc<RefCell<Vec<u8>>>,
}

impl<S> Recording<S> {
    pub fn new(inner: S) -> (Self, Rc<RefCell<Vec<u8>>>) {
        let written = Rc::new(RefCell::new(Vec::new()));
        (
            Self {
                inner,
                written: written.clone(),
            },
            written,
        )
    }
}

impl<S: ErrorType> ErrorType for Recording<S> {
    type Error = S::Error;
}

impl<S: Read> Read for Recording<S> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.inner.read(buf).await
    }
}

impl<S: Write> Write for Recording<S> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let n = self.inner.write(buf).await?;
        self.written.borrow_mut().extend_from_slice(&buf[..n]);
        Ok(n)
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush().await
    }
}

/// The first bytes (packet type and flags) of the packets in `stream`.
pub fn packet_types(stream: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut rest = stream;
    while let Ok(Some(len)) = super::support::packet_len(rest) {
        if len > rest.len() {
            break;
        }
        types.push(rest[0]);
        rest = &rest[len..];
    }
    types
}
