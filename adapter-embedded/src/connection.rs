//! The network side: one connection over one socket at a time.

use core::future::pending;

use embassy_futures::select::{Either, Either3, select, select3};
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_time::Timer;
use embedded_io_async::{Read, Write};
use sansmqtt_session::CloseReason;

use crate::ConnectionError;
use crate::state::Shared;
use crate::time;

/// The network side of a client: runs one MQTT connection at a time over
/// a socket the application opened ([`Connection::run`]). There is one per
/// client and it is not shared: the application polls its `run` future
/// beside its own (`join`/`select`), no task is spawned.
pub struct Connection<'a, M: RawMutex, const QUEUE: usize, const REQUESTS: usize> {
    pub(crate) shared: &'a Shared<M, QUEUE, REQUESTS>,
    pub(crate) rx: &'a mut [u8],
}

impl<M: RawMutex, const QUEUE: usize, const REQUESTS: usize> Connection<'_, M, QUEUE, REQUESTS> {
    /// Runs one MQTT connection over `socket`, an open byte stream to the
    /// broker (a TCP socket, or TLS over one): sends CONNECT, then reads,
    /// writes and keeps the connection alive until it ends.
    ///
    /// Returns `Ok(())` after [`Client::disconnect`](crate::Client::disconnect)
    /// (the DISCONNECT written and flushed), and an error for every other
    /// end: the socket failed or closed, CONNACK refused or late, no
    /// PINGRESP in time (a dead broker), DISCONNECT from the broker, a
    /// protocol violation. The session outlives the connection: to
    /// reconnect, open a new socket and call `run` again; QoS 1 and 2
    /// publishes not acknowledged are sent again [MQTT-4.4.0-1] when the
    /// broker resumes the session (MQTT 3.1.1 Clean Session 0, MQTT 5 a
    /// Session Expiry Interval).
    ///
    /// While received messages wait behind a full queue, nothing is read
    /// (backpressure) once CONNACK has come: on a new connection the
    /// CONNACK is still read (with what arrives in the same read, which
    /// waits behind the queue), then reading stops until the application
    /// takes messages.
    ///
    /// Dropping the future ends the connection as if the socket had
    /// failed (the application closes the socket). `socket.read` must be
    /// cancel-safe (embassy-net's `TcpSocket` and embedded-io-adapters'
    /// are): a read is dropped whenever a timer or a request comes first.
    pub async fn run<T: Read + Write>(
        &mut self,
        socket: &mut T,
    ) -> Result<(), ConnectionError<T::Error>> {
        let shared = self.shared;
        shared
            .with(|inner| inner.session.connect(time::now()))
            .map_err(ConnectionError::State)?;
        let _end = EndGuard { shared };
        // A request made before this connection is seen below anyway.
        shared.wake_connection.reset();
        loop {
            // Out: everything the session has to send, in order.
            while let Some(bytes) = shared.with(|inner| inner.session.poll_transmit()) {
                self.write_all(socket, &bytes).await?;
            }
            self.flush(socket).await?;
            // Events: messages to the queue, outcomes to their requests.
            if let Some(reason) = shared.with(|inner| inner.dispatch(time::now())) {
                return self.close(socket, reason).await;
            }
            if shared.with(|inner| inner.session.pending_transmit() > 0) {
                continue;
            }
            // Wait: bytes from the broker (unless the application is behind),
            // the session's next deadline, or a request.
            let deadline = deadline(shared);
            // Until CONNACK the socket is read anyway: a queue left full by
            // the last connection must not keep this one from coming up
            // (what arrives with the CONNACK waits behind the queue, one
            // read at most).
            let paused = shared.with(|inner| inner.input_paused() && inner.session.is_connected());
            let rx = &mut *self.rx;
            let read = async {
                if paused {
                    pending().await
                } else {
                    socket.read(rx).await
                }
            };
            match select3(read, deadline, shared.wake_connection.wait()).await {
                Either3::First(Ok(0)) => {
                    return Err(ConnectionError::Eof);
                }
                Either3::First(Ok(n)) => {
                    let bytes = &self.rx[..n];
                    shared.with(|inner| inner.session.handle_input(bytes, time::now()));
                }
                Either3::First(Err(e)) => return Err(ConnectionError::Io(e)),
                Either3::Second(()) => {
                    shared.with(|inner| inner.session.handle_timeout(time::now()));
                }
                Either3::Third(()) => {}
            }
        }
    }

    /// Handles the session's deadlines that pass while a write or flush
    /// waits; returns why the connection closed, if it did (a PINGRESP
    /// that never came while the socket accepts nothing).
    fn on_deadline(&self) -> Option<CloseReason> {
        self.shared.with(|inner| {
            let now = time::now();
            inner.session.handle_timeout(now);
            inner.dispatch(now)
        })
    }

    /// Writes all of `bytes`; the session's timers keep running meanwhile.
    async fn write_all<T: Write>(
        &self,
        socket: &mut T,
        mut bytes: &[u8],
    ) -> Result<(), ConnectionError<T::Error>> {
        while !bytes.is_empty() {
            match select(socket.write(bytes), deadline(self.shared)).await {
                Either::First(Ok(0)) => return Err(ConnectionError::WriteZero),
                Either::First(Ok(n)) => bytes = &bytes[n..],
                Either::First(Err(e)) => return Err(ConnectionError::Io(e)),
                Either::Second(()) => {
                    if let Some(reason) = self.on_deadline() {
                        return Err(ConnectionError::Closed(reason));
                    }
                }
            }
        }
        Ok(())
    }

    /// Flushes the socket; the session's timers keep running meanwhile.
    async fn flush<T: Write>(&self, socket: &mut T) -> Result<(), ConnectionError<T::Error>> {
        loop {
            match select(socket.flush(), deadline(self.shared)).await {
                Either::First(result) => return result.map_err(ConnectionError::Io),
                Either::Second(()) => {
                    if let Some(reason) = self.on_deadline() {
                        return Err(ConnectionError::Closed(reason));
                    }
                }
            }
        }
    }

    /// The session closed the connection: writes what it queued last (a
    /// DISCONNECT), then reports how it ended.
    async fn close<T: Write>(
        &self,
        socket: &mut T,
        reason: CloseReason,
    ) -> Result<(), ConnectionError<T::Error>> {
        let mut written = Ok(());
        while let Some(bytes) = self.shared.with(|inner| inner.session.poll_transmit()) {
            written = self.write_all(socket, &bytes).await;
            if written.is_err() {
                break;
            }
        }
        if written.is_ok() {
            written = self.flush(socket).await;
        }
        match reason {
            CloseReason::ClientDisconnect => written,
            reason => Err(ConnectionError::Closed(reason)),
        }
    }
}

/// The session's next deadline (CONNACK, keep-alive, PINGRESP), or never.
async fn deadline<M: RawMutex, const QUEUE: usize, const REQUESTS: usize>(
    shared: &Shared<M, QUEUE, REQUESTS>,
) {
    match shared.with(|inner| inner.session.poll_timeout()) {
        Some(at) => Timer::at(time::to_embassy(at)).await,
        None => pending().await,
    }
}

/// Ends the session's connection however `run` ends (returned or dropped):
/// the session learns the connection is gone (in-flight publishes stay,
/// requests sent fail with `ConnectionLost`), and the outcomes that
/// produces reach their requests.
struct EndGuard<'a, M: RawMutex, const QUEUE: usize, const REQUESTS: usize> {
    shared: &'a Shared<M, QUEUE, REQUESTS>,
}

impl<M: RawMutex, const QUEUE: usize, const REQUESTS: usize> Drop
    for EndGuard<'_, M, QUEUE, REQUESTS>
{
    fn drop(&mut self) {
        self.shared.with(|inner| {
            let now = time::now();
            inner.session.connection_lost(now);
            let _closed = inner.dispatch(now);
        });
    }
}
