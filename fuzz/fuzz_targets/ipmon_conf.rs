//! Parses arbitrary text as an ipmon.conf file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = inetmon_core::ipmon_conf::parse(text);
    }
});
