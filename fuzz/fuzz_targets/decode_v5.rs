//! Arbitrary bytes into a streaming `Decoder` for MQTT V5: the first input
//! byte chooses where the stream is split in two, the rest is the stream.
//! See `sansmqtt_fuzz::check_stream` for what is asserted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansmqtt_proto::ProtocolVersion;

fuzz_target!(|data: &[u8]| {
    sansmqtt_fuzz::check_stream(data, ProtocolVersion::V5);
});
