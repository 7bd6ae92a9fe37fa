//! `/proc/kallsyms` text parsing and lookups must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let table = inetmon_core::kallsyms::KallSyms::parse(&text);
    for addr in [0, 1, u64::MAX, 0xffff_ffff_8100_0000] {
        let _ = table.symbolize(addr);
    }
});
