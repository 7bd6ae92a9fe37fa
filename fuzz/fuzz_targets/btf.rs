//! BTF parsing and drop-reason table building must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(base) = inetmon_core::btf::Btf::parse(data) {
        let _ = inetmon_core::btf::Btf::parse_split(data, &base);
    }
    let _ = inetmon_core::btf::DropReasonTable::from_btf(data, &[data]);
});
