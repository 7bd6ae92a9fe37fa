//! Decodes arbitrary bytes as a LINKTYPE_NFLOG pcap record and maps it.
#![no_main]
use inetmon_core::decode::nflog;
use inetmon_core::event::{Header, Source, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = nflog::packet_from_linktype_nflog(data) {
        let h = Header { time: Timestamp::default(), source: Source::Nflog(p.group), seq: 0 };
        let _ = nflog::to_packet_log(&p, h, &|_| None);
    }
});
