//! Fuzzes the socket-event ring-buffer record decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = inetmon_core::decode::sock::decode_record(data, 0, 0);
    let _ = inetmon_core::decode::sock::decode_record(data, i64::MAX, u64::MAX);
});
