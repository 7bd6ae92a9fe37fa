//! The AHAFS specification parser must never panic, and whatever it
//! accepts must be within the documented bounds.
#![no_main]

use inetmon_core::aha::spec::{Spec, MAX_BUF_SIZE, MIN_BUF_SIZE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = Spec::parse(data) {
        assert!((MIN_BUF_SIZE..=MAX_BUF_SIZE).contains(&spec.buf_size));
    }
});
