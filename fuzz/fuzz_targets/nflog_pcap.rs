//! Decodes arbitrary bytes as a LINKTYPE_NFLOG pcap record and maps it; the
//! file reader's lean path (`line_attrs`, `NameCache::line`, the ipmon line)
//! must accept exactly what the full decode accepts, and never panic.
#![no_main]
use inetmon_core::decode::netlink::HeaderOrder;
use inetmon_core::decode::nflog;
use inetmon_core::event::{Header, Source, Timestamp};
use inetmon_core::format::ipmon::{IpmonFormatter, IpmonOptions, TimeZone};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = nflog::packet_from_linktype_nflog(data) {
        let h = Header { time: Timestamp::default(), source: Source::Nflog(p.group), seq: 0 };
        let _ = nflog::to_packet_log(&p, h, &|_| None);
    }
    for order in [HeaderOrder::Little, HeaderOrder::Big] {
        let full = nflog::packet_from_linktype_nflog_ordered(data, order);
        let lean = nflog::line_attrs(data, order);
        assert_eq!(lean, full.as_ref().ok().map(nflog::LineAttrs::from));
        if let Some(a) = lean {
            let mut names = nflog::NameCache::new();
            let line = names.line(&a, Timestamp::default());
            let mut f = IpmonFormatter::new(IpmonOptions::default(), TimeZone::UTC);
            let mut out = Vec::new();
            f.format_nflog_line(&line, &mut out);
        }
    }
});
