//! Property tests: the datapath decoder, the BTF and kallsyms parsers and
//! the monitor formatter never panic on arbitrary input (the fuzz targets
//! under `fuzz/` do the same at depth).

use inetmon_core::btf::{Btf, DropReasonTable};
use inetmon_core::decode::datapath::decode;
use inetmon_core::event::{
    CaptureLayer, DropEvent, DropReason, Event, Header, Interface, KernelLocation, Source,
    Timestamp,
};
use inetmon_core::format::monitor::{connection_line, MonitorFormatter, MonitorOptions, Verbosity};
use inetmon_core::format::pcapng::PcapngWriter;
use inetmon_core::kallsyms::KallSyms;
use proptest::prelude::*;

fn layer(n: u8) -> CaptureLayer {
    match n % 3 {
        0 => CaptureLayer::None,
        1 => CaptureLayer::Ethernet,
        _ => CaptureLayer::Network,
    }
}

proptest! {
    #[test]
    fn datapath_decode(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn datapath_decode_valid_prefix(tail in proptest::collection::vec(any::<u8>(), 0..200), kind in 1u8..=2) {
        // A plausible header (type, version 1) followed by random bytes.
        let mut b = vec![kind, 1];
        b.extend_from_slice(&tail);
        let _ = decode(&b);
    }

    #[test]
    fn btf_parse(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut b = vec![0x9f, 0xeb, 1, 0, 24, 0, 0, 0];
        b.extend_from_slice(&bytes);
        let _ = Btf::parse(&b);
        let _ = DropReasonTable::from_btf(&b, &[&bytes]);
    }

    #[test]
    fn kallsyms_parse(text in ".{0,300}", addr in any::<u64>()) {
        let _ = KallSyms::parse(&text).symbolize(addr);
    }

    #[test]
    fn format_any_packet(packet in proptest::collection::vec(any::<u8>(), 0..200), l in any::<u8>(), et in any::<u16>()) {
        let _ = connection_line(&packet, layer(l), et);
        let d = DropEvent {
            header: Header { time: Timestamp::default(), source: Source::Datapath, seq: 0 },
            cpu: 0,
            reason: DropReason::default(),
            location: KernelLocation::default(),
            interface: Interface::default(),
            protocol: et,
            orig_len: 0,
            layer: layer(l),
            packet,
            process: None,
            netns: 0,
            netns_name: None,
            foreign_netns: false,
            mark: 0,
        };
        let e = Event::Drop(Box::new(d));
        for v in [Verbosity::Info, Verbosity::Debug, Verbosity::Verbose] {
            let _ = MonitorFormatter::new(MonitorOptions { verbosity: v, hex: true }).format(&e);
        }
        let mut w = PcapngWriter::new(Vec::new(), "t", 128).unwrap();
        let _ = w.write_event(&e).unwrap();
    }
}
