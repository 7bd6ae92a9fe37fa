//! Decodes arbitrary bytes as a ctnetlink datagram and maps the events.
#![no_main]
use inetmon_core::decode::ctnetlink;
use inetmon_core::event::{Header, Source, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for e in ctnetlink::events(data).flatten() {
        let h = Header { time: Timestamp::default(), source: Source::Conntrack, seq: 0 };
        let _ = (ctnetlink::to_nat_log(&e, h.clone()), ctnetlink::to_state_log(&e, h));
    }
});
