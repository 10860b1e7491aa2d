//! A connected `sansmqtt_session::Session` driven by operations decoded from
//! the input (broker bytes and packets, commands, time, connection losses):
//! the first byte chooses MQTT 3.1.1 or 5 and the options. See
//! `sansmqtt_fuzz::session::check_session` for the layout and what is asserted.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sansmqtt_fuzz::session::check_session(data);
});
