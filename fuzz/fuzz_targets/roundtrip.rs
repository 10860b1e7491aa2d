//! The input decoded as a stream with each protocol version; every accepted
//! packet must survive encode -> decode, in its own version and in every
//! other version that can encode it. See `sansmqtt_fuzz::check_roundtrip_input`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sansmqtt_fuzz::check_roundtrip_input(data);
});
