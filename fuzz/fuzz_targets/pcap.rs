//! Feeds arbitrary bytes to the pcap/pcapng decoder, in two chunks split at
//! the first byte's value, and drains every event.
#![no_main]

use inetmon_core::decode::pcap::PcapDecoder;
use inetmon_core::decode::StreamDecoder;
use inetmon_core::event::Source;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = usize::from(data.first().copied().unwrap_or(0)).min(data.len());
    let (a, b) = data.split_at(split);
    let mut d = PcapDecoder::new(Source::Stdin);
    for chunk in [a, b] {
        d.feed(chunk);
        while d.next_event().is_some() {}
    }
    while d.finish().is_some() {}
});
