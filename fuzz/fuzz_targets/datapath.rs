//! Datapath ring-buffer records must decode or fail, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = inetmon_core::decode::datapath::decode(data);
});
