//! Decodes arbitrary bytes as an NFLOG netlink datagram and maps the packets.
#![no_main]
use inetmon_core::decode::nflog;
use inetmon_core::event::{Header, Source, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for p in nflog::packets(data).flatten() {
        let h = Header { time: Timestamp::default(), source: Source::Nflog(p.group), seq: 0 };
        let _ = nflog::to_packet_log(&p, h, &|_| None);
    }
});
