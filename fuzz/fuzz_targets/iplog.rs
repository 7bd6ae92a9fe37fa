//! Feeds arbitrary bytes to the IP Filter binary log decoder, in two pieces,
//! and formats every event as ipmon text with every option on.
#![no_main]

use inetmon_core::decode::{iplog::IplogDecoder, StreamDecoder};
use inetmon_core::event::Source;
use inetmon_core::format::ipmon::{IpmonFormatter, IpmonOptions, Rendered, TimeZone};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = IpmonOptions { verbose: true, hex_packet: true, hex_header: true, ..Default::default() };
    let mut fmt = IpmonFormatter::new(opts, TimeZone::UTC);
    let mut out = Rendered::default();
    let mut dec = IplogDecoder::new(Source::Stdin);
    let (a, b) = data.split_at(data.first().map_or(0, |n| usize::from(*n).min(data.len())));
    for part in [a, b] {
        dec.feed(part);
        while let Some(e) = dec.next_event() {
            fmt.format(&e, &mut out);
        }
    }
    if let Some(e) = dec.finish() {
        fmt.format(&e, &mut out);
    }
});
