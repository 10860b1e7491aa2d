//! The whole client (`sansmqtt::Client` and its driver task) over an
//! in-memory transport, on a single-threaded runtime with a virtual clock,
//! against a hostile broker played by the input: broker bytes and packets
//! (a valid CONNACK is one operation byte), the application's publishes at
//! QoS 0, 1 and 2, subscribes, unsubscribes, pings, disconnects and
//! reconnects, reading deliveries or not, connection drops and refused
//! reconnects, time advancing.
//!
//! Checked: no panic and no busy loop; the client writes only valid client
//! packets, CONNECT first; no QoS 1/2 publish is lost (every handle
//! resolves by the end, `Ok` if the broker acknowledged it, and unresolved
//! ones are sent again after a CONNACK with Session Present,
//! [MQTT-4.4.0-1]); bounded memory (`max_queued` bounds the publishes
//! handed over, the bytes written per connection are bounded by what was
//! asked and what the broker sent). See `sansmqtt_fuzz::driver`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sansmqtt_fuzz::driver::check_driver(data);
});
