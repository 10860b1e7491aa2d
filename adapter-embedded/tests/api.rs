//! Properties of the API checked by the compiler: with a
//! `CriticalSectionRawMutex` the client is `Send + Sync` and its futures
//! are `Send`, so that tasks of several executors (thread mode and
//! interrupt executors, a `SendSpawner`) can share one client; the
//! connection's `run` future is `Send` when the socket's futures are.
//! A regression here fails to compile.

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use sansmqtt_embedded::{Client, Config, QoS, Resources};

fn is_send<T: Send>(_: &T) {}
fn is_sync<T: Sync>() {}

/// A socket with `Send` futures.
struct Socket;

impl ErrorType for Socket {
    type Error = ErrorKind;
}

impl Read for Socket {
    async fn read(&mut self, _buf: &mut [u8]) -> Result<usize, ErrorKind> {
        Ok(0)
    }
}

impl Write for Socket {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

#[test]
fn client_and_futures_are_send_with_a_critical_section_mutex() {
    let resources: &'static mut Resources<CriticalSectionRawMutex, 64, 2, 2> =
        Box::leak(Box::new(Resources::new()));
    let (client, mut connection) =
        sansmqtt_embedded::new(resources, Config::new("send").expect("client id"));
    is_sync::<Client<'static, CriticalSectionRawMutex, 2, 2>>();
    is_send(&client);
    is_send(&client.publish("t", b"x", QoS::AtLeastOnce, false));
    is_send(&client.subscribe("t", QoS::AtLeastOnce));
    is_send(&client.unsubscribe("t"));
    is_send(&client.deliver_message());
    is_send(&client.wait_connected());
    let mut socket = Socket;
    is_send(&connection.run(&mut socket));
    // Nothing ran: no request is pending, no message waits.
    assert_eq!(client.pending_publishes(), 0);
    assert_eq!(client.queued_messages(), 0);
    assert!(!client.is_connected());
}
