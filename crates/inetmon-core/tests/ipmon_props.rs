//! The ipmon formatter never panics, whatever a `PacketLog` holds, and
//! always ends its plain-text output with a newline.

use inetmon_core::event::{
    Action, Direction, Event, Header, PacketFlags, PacketLog, RuleGroup, Source, Timestamp,
};
use inetmon_core::format::ipmon::{IpmonFormatter, IpmonOptions, Rendered};
use jiff::tz::TimeZone;
use proptest::prelude::*;

fn packet_log() -> impl Strategy<Value = PacketLog> {
    (
        (any::<i64>(), any::<u32>(), any::<u32>(), ".{0,20}"),
        (
            prop_oneof![Just(2u8), Just(10u8), Just(28u8), any::<u8>()],
            any::<u16>(),
            any::<u32>(),
        ),
        (
            proptest::collection::vec(any::<u8>(), 0..200),
            proptest::option::of(any::<u8>()),
            proptest::option::of(any::<u16>()),
            any::<u32>(),
            proptest::option::of(any::<u32>()),
            0u8..5,
        ),
    )
        .prop_map(
            |((secs, nanos, count, iface), (family, header_len, flags), rest)| {
                let (mut packet, reason, log_level, log_tag, ipf_seq, act) = rest;
                // Bias towards real IP versions so the dissection paths run.
                if let Some(b) = packet.first_mut() {
                    *b = match family {
                        2 => 0x40 | (*b & 0x0f),
                        10 | 28 => 0x60,
                        _ => *b,
                    };
                }
                PacketLog {
                    header: Header {
                        time: Timestamp::from_nanos_parts(secs, i64::from(nanos)),
                        source: Source::Stdin,
                        seq: 1,
                    },
                    count,
                    interface: iface.into(),
                    direction: if flags & 1 == 0 {
                        Some(Direction::In)
                    } else {
                        None
                    },
                    group: if flags & 2 == 0 {
                        RuleGroup::None
                    } else {
                        RuleGroup::Named("g".into())
                    },
                    rule: Some(flags),
                    action: [
                        Action::Pass,
                        Action::Block,
                        Action::Log,
                        Action::NoMatch,
                        Action::Unknown,
                    ][usize::from(act)],
                    flags: PacketFlags(flags),
                    log_tag,
                    nat_tag: String::new(),
                    reason,
                    log_level,
                    family,
                    header_len,
                    packet,
                    ipf_seq,
                    nflog: None,
                    raw_header: vec![0; usize::from(header_len % 130)],
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
    #[test]
    fn formatter_never_panics(p in packet_log(), opts in any::<[bool; 7]>()) {
        let o = IpmonOptions {
            resolve: opts[0],
            numeric_ports: opts[1],
            verbose: opts[2],
            hex_packet: opts[3],
            hex_header: opts[4],
            hex_body: opts[5],
            syslog_mode: false,
        };
        let _ = opts[6];
        let mut f = IpmonFormatter::new(o, TimeZone::UTC);
        let mut out = Rendered::default();
        f.format(&Event::Packet(Box::new(p)), &mut out);
        prop_assert!(out.text.ends_with(b"\n"));
        for (line, bytes) in out.iter() {
            prop_assert!(line.end > line.start);
            prop_assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 1);
        }
    }
}
