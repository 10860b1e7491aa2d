//! The client's session-file reader on any bytes: the first byte picks
//! the protocol version. See `sansmqtt_fuzz::session_file` for what is
//! asserted.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sansmqtt_fuzz::session_file::check_session_file(data);
});
