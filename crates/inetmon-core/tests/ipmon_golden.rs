//! Hand-written golden tests of the ipmon formatter for every case of
//! reference §1–§3 that IP Filter's own `l1` vector does not cover. The
//! expected strings are derived from the format strings quoted in the
//! reference (and its worked examples), not captured from a real ipmon.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use inetmon_core::dissect::ipf_header_len;
use inetmon_core::event::{
    Action, Direction, Event, EventKind, Header, LossStage, Lost, Malformed, NatAction, NatLog,
    NatType, PacketFlags, PacketLog, RuleGroup, Source, StateLog, StateType, Timestamp,
};
use inetmon_core::format::ipmon::{IpmonFormatter, IpmonOptions, Rendered};
use inetmon_core::names::{HostResolver, ProtocolNames, ServiceNames};
use jiff::tz::TimeZone;

/// The binary's hand-made packets (one copy), for `udp`.
#[allow(dead_code, unreachable_pub)]
#[path = "../../inetmon/tests/common/craft.rs"]
mod craft;
use craft::udp;

const T: &str = "21/11/2025 10:00:01.000123 ";
const P: &str = "21/11/2025 10:00:01.000123 eth0 @0:1 ";

fn header() -> Header {
    Header {
        time: Timestamp::from_micros(1_763_719_201, 123),
        source: Source::Nflog(0),
        seq: 1,
    }
}

fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], off_field: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 64, proto, 0, 0];
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(payload);
    let len = (p.len() as u16).to_be_bytes();
    p[2..4].copy_from_slice(&len);
    p[6..8].copy_from_slice(&off_field.to_be_bytes());
    p
}

fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, win: u16) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[0x50, flags]);
    t.extend_from_slice(&win.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t
}

const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [10, 0, 0, 2];

fn syn() -> Vec<u8> {
    ipv4(6, A, B, 0x4000, &tcp(1025, 80, 1, 2, 0x02, 8192))
}

fn pkt(bytes: Vec<u8>) -> PacketLog {
    PacketLog {
        header: header(),
        count: 1,
        interface: "eth0".into(),
        direction: Some(Direction::In),
        group: RuleGroup::Named("0".into()),
        rule: Some(1),
        action: Action::Pass,
        flags: PacketFlags::default(),
        log_tag: 0,
        nat_tag: String::new(),
        reason: None,
        log_level: None,
        family: if bytes.first().is_some_and(|b| b >> 4 == 6) {
            10
        } else {
            2
        },
        header_len: ipf_header_len(&bytes),
        packet: bytes,
        ipf_seq: None,
        nflog: None,
        raw_header: Vec::new(),
    }
}

fn formatter(opts: IpmonOptions) -> IpmonFormatter {
    IpmonFormatter::new(opts, TimeZone::UTC)
}

fn render(f: &mut IpmonFormatter, events: &[Event]) -> Rendered {
    let mut out = Rendered::default();
    for e in events {
        f.format(e, &mut out);
    }
    out
}

fn text(opts: IpmonOptions, events: &[Event]) -> String {
    String::from_utf8(render(&mut formatter(opts), events).text).unwrap()
}

fn one(p: PacketLog) -> String {
    text(IpmonOptions::default(), &[Event::Packet(Box::new(p))])
}

fn ev(p: PacketLog) -> Event {
    Event::Packet(Box::new(p))
}

fn levels(opts: IpmonOptions, events: &[Event]) -> Vec<u16> {
    render(&mut formatter(opts), events)
        .lines
        .iter()
        .map(|l| l.priority)
        .collect()
}

#[test]
fn tcp_line_and_every_flag() {
    assert_eq!(
        one(pkt(syn())),
        format!("{P}p 10.0.0.1,1025 -> 10.0.0.2,80 PR tcp len 20 40 -S IN\n")
    );
    let cases: [(u8, &str); 10] = [
        (0x10, "A"),
        (0x04, "R"),
        (0x02, "S"),
        (0x01, "F"),
        (0x20, "U"),
        (0x08, "P"),
        (0x40, "E"),
        (0x80, "C"),
        (0xff, "ARSFUPEC"),
        (0x00, ""),
    ];
    for (flags, letters) in cases {
        let p = pkt(ipv4(6, A, B, 0, &tcp(1025, 80, 1, 2, flags, 8192)));
        assert_eq!(
            one(p),
            format!("{P}p 10.0.0.1,1025 -> 10.0.0.2,80 PR tcp len 20 40 -{letters} IN\n")
        );
    }
}

#[test]
fn verbose_adds_seq_ack_win() {
    let p = pkt(ipv4(
        6,
        A,
        B,
        0,
        &tcp(1025, 80, 4_000_000_000, 7, 0x18, 65535),
    ));
    let opts = IpmonOptions {
        verbose: true,
        ..Default::default()
    };
    assert_eq!(
        text(opts, &[ev(p)]),
        format!("{P}p 10.0.0.1,1025 -> 10.0.0.2,80 PR tcp len 20 40 -AP 4000000000 7 65535 IN\n")
    );
    // -v does nothing for UDP.
    let u = pkt(ipv4(17, A, B, 0, &udp(5000, 53, b"")));
    assert_eq!(
        text(opts, &[ev(u)]),
        format!("{P}p 10.0.0.1,5000 -> 10.0.0.2,53 PR udp len 20 28 IN\n")
    );
}

#[test]
fn every_action_letter_short_prefix_and_level() {
    let cases: [(Action, bool, &str, u16); 10] = [
        (Action::Pass, false, "p", 5),
        (Action::Block, false, "b", 4),
        (Action::Log, false, "L", 6),
        (Action::NoMatch, false, "n", 5),
        (Action::Unknown, false, "?", 0),
        (Action::Pass, true, "Sp", 3),
        (Action::Block, true, "Sb", 4),
        (Action::Log, true, "SL", 6),
        (Action::NoMatch, true, "Sn", 3),
        (Action::Unknown, true, "S?", 0),
    ];
    for (action, short, letters, level) in cases {
        let mut p = pkt(syn());
        p.action = action;
        if short {
            p.flags = PacketFlags(PacketFlags::SHORT);
        }
        let body = if short {
            "10.0.0.1 -> 10.0.0.2 PR tcp len 20 40"
        } else {
            "10.0.0.1,1025 -> 10.0.0.2,80 PR tcp len 20 40 -S"
        };
        assert_eq!(one(p.clone()), format!("{P}{letters} {body} IN\n"));
        assert_eq!(levels(IpmonOptions::default(), &[ev(p)]), [level]);
    }
}

#[test]
fn rule_log_level_overrides_facility_and_priority() {
    let mut p = pkt(syn());
    p.action = Action::Block;
    p.log_level = Some((17 << 3) | 1); // local1.alert
    let mut f = formatter(IpmonOptions {
        syslog_mode: true,
        ..Default::default()
    });
    let out = render(&mut f, &[ev(p)]);
    assert_eq!(out.lines[0].priority, 137);
    assert_eq!(out.lines[0].level(), 1);
    assert_eq!(out.lines[0].facility(), Some(17));
    let mut q = pkt(syn());
    q.log_level = Some(2); // a bare priority keeps the default facility
    let out = render(&mut f, &[ev(q)]);
    assert_eq!((out.lines[0].level(), out.lines[0].facility()), (2, None));
}

#[test]
fn count_group_rule_and_interface_forms() {
    let mut p = pkt(syn());
    p.count = 3;
    p.group = RuleGroup::None;
    p.rule = None;
    p.interface = "lo".into();
    p.action = Action::Log;
    assert_eq!(
        one(p),
        format!("{T}3x lo @-1:-1 L 10.0.0.1,1025 -> 10.0.0.2,80 PR tcp len 20 40 -S IN\n")
    );
    let mut p = pkt(syn());
    p.group = RuleGroup::Named("".into());
    p.rule = Some(12);
    p.interface = "br-lan".into();
    p.direction = Some(Direction::Out);
    assert_eq!(
        one(p),
        format!("{T}br-lan @0:12 p 10.0.0.1,1025 -> 10.0.0.2,80 PR tcp len 20 40 -S OUT\n")
    );
    let mut p = pkt(syn());
    p.group = RuleGroup::Named("web".into());
    p.rule = Some(u32::MAX);
    p.direction = None;
    assert_eq!(
        one(p),
        format!("{T}eth0 @web:4294967295 p 10.0.0.1,1025 -> 10.0.0.2,80 PR tcp len 20 40 -S\n")
    );
}

#[test]
fn icmp_names_and_codes() {
    let cases: [(u8, u8, &str); 9] = [
        (8, 0, "echo/0"),
        (0, 0, "echoreply/0"),
        (3, 8, "unreach/8"),
        (3, 10, "unreach/10"),
        (3, 13, "unreach/admin_prohibit"),
        (13, 0, "timestamp/0"),
        (2, 0, "icmptype(2)/0"),
        (40, 1, "icmptype(40)/1"),
        (18, 0, "maskreply/0"),
    ];
    for (t, c, name) in cases {
        let mut payload = vec![t, c, 0, 0, 0, 1, 0, 1];
        payload.extend_from_slice(&[0; 20]);
        let p = pkt(ipv4(1, A, B, 0, &payload));
        // Error types would add an inner packet; 3 is covered below.
        let line = one(p);
        assert!(
            line.starts_with(&format!(
                "{P}p 10.0.0.1 -> 10.0.0.2 PR icmp len 20 48 icmp {name}"
            )),
            "{line}"
        );
        if t != 3 {
            assert!(line.ends_with(&format!("icmp {name} IN\n")), "{line}");
        }
    }
}

/// An ICMP error from 10.0.0.1 to 10.0.0.2 quoting `inner` (the inner IP
/// header and the 8 bytes after it).
fn icmp_error(t: u8, c: u8, inner: &[u8]) -> Vec<u8> {
    let mut payload = vec![t, c, 0, 0, 0, 0, 0, 0];
    payload.extend_from_slice(inner);
    ipv4(1, A, B, 0, &payload)
}

#[test]
fn icmp_error_inner_packets() {
    // Inner UDP: the reference's worked example.
    let inner = ipv4(17, B, A, 0, &udp(5000, 53, &[0; 12]));
    let mut p = pkt(icmp_error(3, 3, &inner[..28]));
    p.action = Action::Block;
    assert_eq!(
        one(p),
        format!(
            "{P}b 10.0.0.1 -> 10.0.0.2 PR icmp len 20 56 icmp unreach/port for 10.0.0.2,5000 - 10.0.0.1,53 PR udp len 20 40 IN\n"
        )
    );
    // Inner TCP, in a time-exceeded.
    let inner = ipv4(6, B, A, 0, &tcp(40000, 443, 1, 0, 2, 100));
    assert_eq!(
        one(pkt(icmp_error(11, 0, &inner[..28]))),
        format!(
            "{P}p 10.0.0.1 -> 10.0.0.2 PR icmp len 20 56 icmp timxceed/transit for 10.0.0.2,40000 - 10.0.0.1,443 PR tcp len 20 40 IN\n"
        )
    );
    // Inner ICMP: numeric type/code.
    let mut echo = vec![8, 0, 0, 0, 0, 1, 0, 1];
    echo.extend_from_slice(&[0; 56]);
    let inner = ipv4(1, B, A, 0, &echo);
    assert_eq!(
        one(pkt(icmp_error(4, 0, &inner[..28]))),
        format!(
            "{P}p 10.0.0.1 -> 10.0.0.2 PR icmp len 20 56 icmp sourcequench/0 for 10.0.0.2 - 10.0.0.1 PR icmp len 20 84 icmp 8/0 IN\n"
        )
    );
    // Inner fragment: "(frag …)" with no space before it.
    let inner = ipv4(17, B, A, 0x2001, &udp(5000, 53, &[0; 12]));
    assert_eq!(
        one(pkt(icmp_error(12, 0, &inner[..28]))),
        format!(
            "{P}p 10.0.0.1 -> 10.0.0.2 PR icmp len 20 56 icmp paramprob/errata_pointer for 10.0.0.2 - 10.0.0.1 PR udp len 20 (40)(frag 4660:20@8+) IN\n"
        )
    );
    // Inner other protocol, redirect.
    let inner = ipv4(47, B, A, 0, &[0; 8]);
    assert_eq!(
        one(pkt(icmp_error(5, 1, &inner))),
        format!(
            "{P}p 10.0.0.1 -> 10.0.0.2 PR icmp len 20 56 icmp redirect/host for 10.0.0.2 - 10.0.0.1 PR gre len 20 (28) IN\n"
        )
    );
    // Inner length above 1500: the "endian guess" byte-swaps it.
    let mut inner = ipv4(17, B, A, 0, &udp(5000, 53, &[]));
    inner[2..4].copy_from_slice(&1501u16.to_be_bytes());
    assert!(one(pkt(icmp_error(3, 3, &inner))).ends_with("PR udp len 20 56581 IN\n"));
}

#[test]
fn icmp_error_inner_ports_use_the_outer_header_length() {
    // Outer header with 4 bytes of options: C reads the inner "ports" 24
    // bytes into the inner packet, i.e. the UDP length and checksum.
    let inner = {
        let mut i = ipv4(17, B, A, 0, &udp(5000, 53, &[]));
        i[26..28].copy_from_slice(&0x1234u16.to_be_bytes());
        i
    };
    let mut payload = vec![3, 3, 0, 0, 0, 0, 0, 0];
    payload.extend_from_slice(&inner);
    let mut p = vec![
        0x46, 0, 0, 0, 0x12, 0x34, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 1, 1, 1, 0,
    ];
    p.extend_from_slice(&payload);
    let len = (p.len() as u16).to_be_bytes();
    p[2..4].copy_from_slice(&len);
    assert_eq!(
        one(pkt(p)),
        format!(
            "{P}p 10.0.0.1 -> 10.0.0.2 PR icmp len 24 60 icmp unreach/port for 10.0.0.2,8 - 10.0.0.1,4660 PR udp len 20 28 IN\n"
        )
    );
}

fn ipv6(next: u8, src: &str, dst: &str, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[next, 64]);
    p.extend_from_slice(&src.parse::<Ipv6Addr>().unwrap().octets());
    p.extend_from_slice(&dst.parse::<Ipv6Addr>().unwrap().octets());
    p.extend_from_slice(payload);
    p
}

#[test]
fn ipv6_lines() {
    // Hop-by-hop (8 bytes) then routing (16 bytes) then TCP.
    let mut payload = vec![43, 0, 0, 0, 0, 0, 0, 0];
    payload.extend_from_slice(&[6, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    payload.extend_from_slice(&tcp(1025, 80, 1, 1, 0x10, 10));
    assert_eq!(
        one(pkt(ipv6(0, "2001:db8::1", "2001:db8::2", &payload))),
        format!("{P}p 2001:db8::1,1025 -> 2001:db8::2,80 PR tcp len 64 84 -A IN\n")
    );
    // Fragment header: generic form with protocol 44, no frag info.
    let mut payload = vec![17, 0, 0, 8, 0, 0, 0, 1];
    payload.extend_from_slice(&udp(1, 2, &[]));
    assert_eq!(
        one(pkt(ipv6(44, "2001:db8::1", "2001:db8::2", &payload))),
        format!("{P}p 2001:db8::1 -> 2001:db8::2 PR ipv6-frag len 48 (56) IN\n")
    );
    // ICMPv6 with BIND-style addresses; name quirks.
    for (t, c, name) in [
        (128, 0, "echo/0"),
        (130, 0, "groupmemberquery/ipv6"),
        (139, 0, "whoareyourequest/0"),
        (1, 4, "unreach/noport"),
        (0, 0, "icmpv6type(0)/0"),
    ] {
        let p = pkt(ipv6(
            58,
            "::1.2.3.4",
            "::ffff:10.0.0.1",
            &[t, c, 0, 0, 0, 0, 0, 0],
        ));
        assert_eq!(
            one(p),
            format!("{P}p ::1.2.3.4 -> ::ffff:10.0.0.1 PR icmpv6 len 40 48 icmpv6 {name} IN\n")
        );
    }
    // FreeBSD's AF_INET6 (28) is accepted too; ICMP (1) over IPv6 is generic.
    let mut p = pkt(ipv6(1, "::1", "::2", &[8, 0, 0, 0]));
    p.family = 28;
    assert_eq!(one(p), format!("{P}p ::1 -> ::2 PR icmp len 40 (44) IN\n"));
}

#[test]
fn ipv4_fragments_and_generic_protocols() {
    let body = udp(5000, 53, &[0; 1472]);
    let first = pkt(ipv4(17, A, B, 0x2000, &body));
    assert_eq!(
        one(first),
        format!("{P}p 10.0.0.1,5000 -> 10.0.0.2,53 PR udp len 20 1500 IN\n")
    );
    let middle = pkt(ipv4(17, A, B, 0x2000 | 185, &[0; 1480]));
    assert_eq!(
        one(middle),
        format!("{P}p 10.0.0.1 -> 10.0.0.2 PR udp len 20 (1500) (frag 4660:1480@1480+) IN\n")
    );
    let last = pkt(ipv4(17, A, B, 370, &[0; 20]));
    assert_eq!(
        one(last),
        format!("{P}p 10.0.0.1 -> 10.0.0.2 PR udp len 20 (40) (frag 4660:20@2960) IN\n")
    );
    let df = pkt(ipv4(6, A, B, 0x4000 | 1, &[0; 20]));
    assert_eq!(
        one(df),
        format!("{P}p 10.0.0.1 -> 10.0.0.2 PR tcp len 20 (40) (frag 4660:20@8-) IN\n")
    );
    let icmp_frag = pkt(ipv4(1, A, B, 0x2000 | 3, &[0; 8]));
    assert_eq!(
        one(icmp_frag),
        format!("{P}p 10.0.0.1 -> 10.0.0.2 PR icmp len 20 (28) (frag 4660:8@24+) IN\n")
    );
    let gre = pkt(ipv4(47, A, B, 0, &[0; 4]));
    assert_eq!(
        one(gre),
        format!("{P}p 10.0.0.1 -> 10.0.0.2 PR gre len 20 (24) IN\n")
    );
    let unknown = pkt(ipv4(253, A, B, 0, &[]));
    assert_eq!(
        one(unknown),
        format!("{P}p 10.0.0.1 -> 10.0.0.2 PR 253 len 20 (20) IN\n")
    );
    let icmpv6_in_v4 = pkt(ipv4(58, A, B, 0, &[128, 0, 0, 0]));
    assert_eq!(
        one(icmpv6_in_v4),
        format!("{P}p 10.0.0.1 -> 10.0.0.2 PR ipv6-icmp len 20 (24) IN\n")
    );
}

#[test]
fn unknown_family_has_an_empty_body() {
    let mut p = pkt(syn());
    p.family = 0;
    assert_eq!(one(p), format!("{P}p  IN\n"));
}

#[test]
fn every_trailer_piece_in_order() {
    let mut p = pkt(syn());
    p.flags = PacketFlags(
        PacketFlags::KEEP_STATE
            | PacketFlags::KEEP_FRAG
            | PacketFlags::LOW_TTL
            | PacketFlags::OOW
            | PacketFlags::BAD
            | PacketFlags::NATED
            | PacketFlags::BAD_NAT
            | PacketFlags::BAD_SRC
            | PacketFlags::MULTICAST
            | PacketFlags::BROADCAST
            | PacketFlags::MBCAST,
    );
    p.log_tag = 5;
    p.nat_tag = "foo".into();
    p.reason = Some(2);
    assert_eq!(
        one(p),
        format!(
            "{P}p 10.0.0.1,1025 -> 10.0.0.2,80 PR tcp len 20 40 -S K-S K-F IN log-tag 5 nat-tag foo low-ttl OOW bad NAT bad-NAT bad-src multicast broadcast reason:pps-rate\n"
        )
    );
    let mut p = pkt(syn());
    p.flags = PacketFlags(PacketFlags::MBCAST);
    p.log_tag = 0x8000_0000;
    assert!(one(p).ends_with(" -S IN log-tag -2147483648 mbcast\n"));
    let mut p = pkt(syn());
    p.flags = PacketFlags(PacketFlags::MBCAST | PacketFlags::BROADCAST);
    assert!(one(p).ends_with(" -S IN broadcast\n"));
}

#[test]
fn every_reason_name() {
    let names = "log-or-block_1 pps-rate jumbogram makefrip-fail state_add-fail \
                 updateipid-fail log-or-block_2 decap-fail auth_new-fail auth_captured \
                 coalesce-fail pullup-fail auth-feedback bad-frag natv4_out-fail natv4_in-fail \
                 natv6_out-fail natv6_in-fail";
    for (i, name) in names.split_whitespace().enumerate() {
        let mut p = pkt(syn());
        p.reason = Some(i as u8 + 1);
        assert!(one(p).ends_with(&format!(" IN reason:{name}\n")));
    }
    let mut p = pkt(syn());
    p.reason = Some(0);
    assert!(one(p).ends_with(" -S IN\n"));
    let mut p = pkt(syn());
    p.reason = Some(30);
    assert!(one(p).ends_with(" IN reason:30\n"));
}

const SYN_DUMP: &str = "45 00 00 28 12 34 40 00 40 06 00 00 0a 00 00 01        E..(.4@.@.......\n\
0a 00 00 02 04 01 00 50 00 00 00 01 00 00 00 02        .......P........\n\
50 02 20 00 00 00 00 00                                P. .....\n";

#[test]
fn hex_dumps() {
    let line = format!("{P}p 10.0.0.1,1025 -> 10.0.0.2,80 PR tcp len 20 40 -S IN\n");
    // -x: the whole logged packet.
    let x = IpmonOptions {
        hex_packet: true,
        ..Default::default()
    };
    assert_eq!(text(x, &[ev(pkt(syn()))]), format!("{line}{SYN_DUMP}"));
    // -b: only with `log body`, and only the bytes after header_len.
    let b = IpmonOptions {
        hex_body: true,
        ..Default::default()
    };
    let mut p = pkt(ipv4(
        6,
        A,
        B,
        0x4000,
        &[
            tcp(1025, 80, 1, 2, 0x02, 8192),
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZ\0\x7f".to_vec(),
        ]
        .concat(),
    ));
    let plain = text(IpmonOptions::default(), &[ev(p.clone())]);
    assert_eq!(text(b, &[ev(p.clone())]), plain);
    p.flags = PacketFlags(PacketFlags::LOG_BODY);
    assert_eq!(
        text(b, &[ev(p.clone())]),
        format!(
            "{plain}41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f 50        ABCDEFGHIJKLMNOP\n\
51 52 53 54 55 56 57 58 59 5a 00 7f                    QRSTUVWXYZ..\n"
        )
    );
    // -x wins over -b.
    let xb = IpmonOptions {
        hex_packet: true,
        hex_body: true,
        ..Default::default()
    };
    assert_eq!(text(xb, &[ev(p)]).lines().count(), 1 + 5);
    // -X: the raw record header, before the packet dump; a 16-byte dump is
    // one full line ending in a newline.
    let mut p = pkt(syn());
    p.raw_header = (0x30..0x40).collect();
    let xx = IpmonOptions {
        hex_header: true,
        hex_packet: true,
        ..Default::default()
    };
    assert_eq!(
        text(xx, &[ev(p)]),
        format!("{line}30 31 32 33 34 35 36 37 38 39 3a 3b 3c 3d 3e 3f        0123456789:;<=>?\n{SYN_DUMP}")
    );
    // Hex lines are LOG_INFO.
    assert_eq!(levels(x, &[ev(pkt(syn()))]), [5, 6, 6, 6]);
}

struct Fake;

impl HostResolver for Fake {
    fn host_name(&self, addr: IpAddr) -> Option<String> {
        match addr {
            IpAddr::V4(a) if a == Ipv4Addr::new(10, 0, 0, 1) => Some("alpha.example".into()),
            IpAddr::V4(a) if a == Ipv4Addr::new(10, 0, 0, 2) => Some("beta".into()),
            IpAddr::V6(_) => Some("never-used".into()),
            IpAddr::V4(_) => None,
        }
    }
}

fn named(opts: IpmonOptions, events: &[Event]) -> String {
    let protocols = ProtocolNames::parse("ip 0 IP\nicmp 1 ICMP\ntcp 6 TCP\nTCP 6\nudp 17 UDP\n");
    let services = ServiceNames::parse("http 80/tcp\nwww 80/tcp\ndomain 53/udp\nsmtp 25/tcp\n");
    let mut f = IpmonFormatter::new(opts, TimeZone::UTC)
        .with_tables(protocols, services)
        .with_resolver(Box::new(Fake));
    String::from_utf8(render(&mut f, events).text).unwrap()
}

#[test]
fn names_with_n_and_p() {
    let n = IpmonOptions {
        resolve: true,
        ..Default::default()
    };
    let np = IpmonOptions {
        resolve: true,
        numeric_ports: true,
        ..Default::default()
    };
    let e = [ev(pkt(syn()))];
    assert_eq!(
        named(n, &e),
        format!("{P}p alpha.example,1025 -> beta,www PR tcp len 20 40 -S IN\n")
    );
    assert_eq!(
        named(np, &e),
        format!("{P}p alpha.example,1025 -> beta,80 PR tcp len 20 40 -S IN\n")
    );
    assert_eq!(
        named(IpmonOptions::default(), &e),
        format!("{P}p 10.0.0.1,1025 -> 10.0.0.2,80 PR tcp len 20 40 -S IN\n")
    );
    // The test address is named even without -n; unknown hosts stay numeric;
    // the protocol table decides the PR name (47 is not in this one).
    let e = [ev(pkt(ipv4(
        17,
        [254, 220, 186, 152],
        [10, 0, 0, 9],
        0,
        &udp(53, 53, &[]),
    )))];
    assert_eq!(
        named(IpmonOptions::default(), &e),
        format!("{P}p test.host.dots,53 -> 10.0.0.9,53 PR udp len 20 28 IN\n")
    );
    assert_eq!(
        named(n, &e),
        format!("{P}p test.host.dots,domain -> 10.0.0.9,domain PR udp len 20 28 IN\n")
    );
    let e = [ev(pkt(ipv4(47, A, B, 0, &[])))];
    assert_eq!(
        named(n, &e),
        format!("{P}p alpha.example -> beta PR 47 len 20 (20) IN\n")
    );
    // IPv6 is never resolved.
    let e = [ev(pkt(ipv6(
        17,
        "2001:db8::1",
        "2001:db8::2",
        &udp(1, 80, &[]),
    )))];
    assert_eq!(
        named(n, &e),
        format!("{P}p 2001:db8::1,1 -> 2001:db8::2,80 PR udp len 40 48 IN\n")
    );
    // Inner packets of ICMP errors are resolved too.
    let inner = ipv4(6, B, A, 0, &tcp(80, 25, 1, 0, 2, 100));
    let e = [ev(pkt(icmp_error(3, 1, &inner[..28])))];
    assert_eq!(
        named(n, &e),
        format!(
            "{P}p alpha.example -> beta PR icmp len 20 56 icmp unreach/host for beta,www - alpha.example,smtp PR tcp len 20 40 IN\n"
        )
    );
}

#[test]
fn syslog_mode_omits_the_date_and_newline_of_missed() {
    let opts = IpmonOptions {
        syslog_mode: true,
        hex_packet: true,
        ..Default::default()
    };
    let mut p = pkt(syn());
    p.ipf_seq = Some(1);
    let mut f = formatter(opts);
    let out = render(&mut f, &[ev(p)]);
    let msgs: Vec<(u16, String)> = out
        .iter()
        .map(|(l, b)| (l.priority, String::from_utf8(b.to_vec()).unwrap()))
        .collect();
    assert_eq!(msgs[0], (4, "missed 1 ipf log entries: 0 1".to_string()));
    assert_eq!(
        msgs[1],
        (
            5,
            "10:00:01.000123 eth0 @0:1 p 10.0.0.1,1025 -> 10.0.0.2,80 PR tcp len 20 40 -S IN\n"
                .to_string()
        )
    );
    assert_eq!(msgs.len(), 5);
    assert!(msgs[2..]
        .iter()
        .all(|(lvl, m)| *lvl == 6 && m.ends_with('\n')));
    let n = render(
        &mut f,
        &[Event::Nat(Box::new(nat(NatAction::New, NatType::Map)))],
    );
    assert_eq!(n.lines[0].priority, 6);
    assert!(String::from_utf8(n.text)
        .unwrap()
        .starts_with("10:00:01.000123 @1 NAT:NEW-MAP "));
}

#[test]
fn missed_lines_per_type() {
    let seqp = |s: u32, count: u32| {
        let mut p = pkt(ipv4(47, A, B, 0, &[]));
        p.ipf_seq = Some(s);
        p.count = count;
        ev(p)
    };
    let line = |c: &str| format!("{T}{c}eth0 @0:1 p 10.0.0.1 -> 10.0.0.2 PR gre len 20 (20) IN\n");
    let mut n1 = nat(NatAction::New, NatType::Map);
    n1.ipf_seq = Some(1);
    let mut n2 = n1.clone();
    n2.ipf_seq = Some(3);
    let mut s1 = state(StateType::New, 6, Some([0, 0]));
    s1.ipf_seq = Some(7);
    let got = text(
        IpmonOptions::default(),
        &[
            seqp(1, 1),
            seqp(2, 2),
            seqp(4, 1),
            seqp(9, 1),
            Event::Nat(Box::new(n1)),
            Event::Nat(Box::new(n2)),
            Event::State(Box::new(s1)),
        ],
    );
    let nat_line =
        format!("{T}@1 NAT:NEW-MAP 10.1.1.1,1025 <- -> 203.0.113.5,40000 [192.0.2.9,25] tcp\n");
    let want = [
        "missed 1 ipf log entries: 0 1\n".to_string(),
        line(""),
        line("2x "),
        line(""),
        "missed 4 ipf log entries: 5 9\n".to_string(),
        line(""),
        "missed 1 NAT log entries: 0 1\n".to_string(),
        nat_line.clone(),
        "missed 1 NAT log entries: 2 3\n".to_string(),
        nat_line,
        "missed 7 state log entries: 0 7\n".to_string(),
        format!("{T}STATE:NEW 1.1.1.1,1025 -> 2.2.2.2,25 PR tcp\n"),
    ]
    .concat();
    assert_eq!(got, want);
    // Missed lines are LOG_WARNING.
    assert_eq!(levels(IpmonOptions::default(), &[seqp(3, 1)]), [4, 5]);
}

#[test]
fn lost_malformed_and_sock_events() {
    let lost = |range: Option<(u64, u64)>, kinds: Vec<EventKind>| {
        Event::Lost(Lost {
            header: header(),
            stage: LossStage::Kernel,
            count: 12,
            kinds,
            seq_range: range,
            breakdown: Vec::new(),
        })
    };
    assert_eq!(
        text(
            IpmonOptions::default(),
            &[lost(None, vec![EventKind::Packet])]
        ),
        "lost 12 nflog:0 log entries (kernel)\n"
    );
    assert_eq!(
        text(
            IpmonOptions::default(),
            &[lost(Some((10, 21)), vec![EventKind::Packet])]
        ),
        "missed 12 ipf log entries: 10 22\n"
    );
    assert_eq!(
        text(
            IpmonOptions::default(),
            &[lost(Some((1, 12)), vec![EventKind::Nat])]
        ),
        "missed 12 NAT log entries: 1 13\n"
    );
    assert_eq!(
        text(
            IpmonOptions::default(),
            &[lost(Some((1, 12)), vec![EventKind::State])]
        ),
        "missed 12 state log entries: 1 13\n"
    );
    assert_eq!(levels(IpmonOptions::default(), &[lost(None, vec![])]), [4]);
    let m = Event::Malformed(Malformed {
        header: header(),
        offset: 0,
        skipped: 1,
        reason: "x".into(),
    });
    assert_eq!(text(IpmonOptions::default(), &[m]), "");
}

fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

fn nat(action: NatAction, nat_type: NatType) -> NatLog {
    NatLog {
        header: header(),
        action,
        nat_type,
        rule: 1,
        protocol: 6,
        orig_src: (v4([10, 1, 1, 1]), 1025),
        orig_dst: (v4([192, 0, 2, 9]), 25),
        new_src: (v4([203, 0, 113, 5]), 40000),
        new_dst: (v4([192, 0, 2, 10]), 2525),
        packets: Some([10, 8]),
        bytes: Some([1200, 900]),
        conntrack_id: None,
        ipf_seq: None,
    }
}

fn nat_text(n: NatLog) -> String {
    text(IpmonOptions::default(), &[Event::Nat(Box::new(n))])
}

#[test]
fn nat_every_action_and_type() {
    let simple = "10.1.1.1,1025 <- -> 203.0.113.5,40000 [192.0.2.9,25] tcp";
    let stats = " Pkts 10/8 Bytes 1200/900";
    for (action, word, has_stats) in [
        (NatAction::New, "NAT:NEW", false),
        (NatAction::Clone, "NAT:CLONE", false),
        (NatAction::Purge, "NAT:PURGE", false),
        (NatAction::Destroy, "NAT:DESTROY", false),
        (NatAction::Flush, "NAT:FLUSH", true),
        (NatAction::Expire, "NAT:EXPIRE", true),
        (NatAction::Other(7), "NAT:Action(7)", false),
    ] {
        let s = if has_stats { stats } else { "" };
        assert_eq!(
            nat_text(nat(action, NatType::Map)),
            format!("{T}@1 {word}-MAP {simple}{s}\n")
        );
    }
    for (t, word) in [
        (NatType::Rdr, "-RDR "),
        (NatType::Bimap, "-BIMAP "),
        (NatType::MapBlock, "-MAPBLOCK "),
    ] {
        assert_eq!(
            nat_text(nat(NatAction::New, t)),
            format!("{T}@1 NAT:NEW{word}{simple}\n")
        );
    }
    let full = "10.1.1.1,1025 192.0.2.9,25 <- -> 203.0.113.5,40000 192.0.2.10,2525 tcp";
    for (v, word) in [
        (0x09, "-RWR_MAP "),
        (0x0a, "-RWR_RDR "),
        (0x11, "-ENC_MAP "),
        (0x12, "-ENC_RDR "),
        (0x21, "-DIV_MAP "),
        (0x22, "-DIV_RDR "),
        (64, "-Type(64) "),
    ] {
        assert_eq!(
            nat_text(nat(NatAction::New, NatType::Other(v))),
            format!("{T}@1 NAT:NEW{word}{full}\n")
        );
    }
    // Unknown rule (nl_rule -1) prints @0; "%hd" truncates; no counters
    // print as zero; IPv6 and ICMP ids.
    let mut n = nat(NatAction::Expire, NatType::Map);
    n.rule = 0;
    n.packets = None;
    n.bytes = None;
    assert_eq!(
        nat_text(n),
        format!("{T}@0 NAT:EXPIRE-MAP {simple} Pkts 0/0 Bytes 0/0\n")
    );
    let mut n = nat(NatAction::New, NatType::Map);
    n.rule = 70001;
    n.protocol = 1;
    n.orig_src = (IpAddr::V6("2001:db8::1".parse().unwrap()), 77);
    n.new_src = (IpAddr::V6("2001:db8::2".parse().unwrap()), 78);
    n.orig_dst = (IpAddr::V6("::1".parse().unwrap()), 0);
    assert_eq!(
        nat_text(n),
        format!("{T}@4465 NAT:NEW-MAP 2001:db8::1,77 <- -> 2001:db8::2,78 [::1,0] icmp\n")
    );
}

fn state(t: StateType, protocol: u8, tcp_state: Option<[u8; 2]>) -> StateLog {
    StateLog {
        header: header(),
        state_type: t,
        protocol,
        ip_version: 4,
        src: v4([1, 1, 1, 1]),
        dst: v4([2, 2, 2, 2]),
        ports: (1025, 25),
        tag: 0,
        tcp_state,
        packets: [1, 2, 3, 4],
        bytes: [5, 6, 7, 8],
        conntrack_id: None,
        ipf_seq: None,
    }
}

fn state_text(s: StateLog) -> String {
    text(IpmonOptions::default(), &[Event::State(Box::new(s))])
}

#[test]
fn state_every_type() {
    let c = " Forward: Pkts in 1 Bytes in 5 Pkts out 2 Bytes out 6 Backward: Pkts in 3 Bytes in 7 Pkts out 4 Bytes out 8";
    let ep = "1.1.1.1,1025 -> 2.2.2.2,25 PR tcp";
    assert_eq!(
        state_text(state(StateType::New, 6, Some([0, 0]))),
        format!("{T}STATE:NEW {ep}\n")
    );
    for (t, word) in [
        (StateType::Cloned, "STATE:CLONED "),
        (StateType::Flush, "STATE:FLUSH "),
        (StateType::Intermediate, "STATE:INTERMEDIATE "),
        (StateType::Remove, "STATE:REMOVE "),
        (StateType::Killed, "STATE:KILLED "),
        (StateType::Unload, "STATE:UNLOAD "),
        (StateType::Other(2), "Type: 2 "),
        (StateType::Other(0xfffa), "Type: 65530 "),
    ] {
        assert_eq!(
            state_text(state(t, 6, Some([0, 0]))),
            format!("{T}{word}{ep}{c}\n")
        );
    }
    // CLOSE only for TCP with a side beyond ESTABLISHED (4).
    assert_eq!(
        state_text(state(StateType::Expire, 6, Some([4, 4]))),
        format!("{T}STATE:EXPIRE {ep}{c}\n")
    );
    assert_eq!(
        state_text(state(StateType::Expire, 6, Some([4, 5]))),
        format!("{T}STATE:CLOSE {ep}{c}\n")
    );
    assert_eq!(
        state_text(state(StateType::Expire, 6, None)),
        format!("{T}STATE:EXPIRE {ep}{c}\n")
    );
    assert_eq!(
        state_text(state(StateType::Expire, 17, Some([9, 9]))),
        format!("{T}STATE:EXPIRE 1.1.1.1,1025 -> 2.2.2.2,25 PR udp{c}\n")
    );
    let mut s = state(StateType::New, 1, None);
    s.ports = (8, 0);
    s.tag = 9;
    assert_eq!(
        state_text(s),
        format!("{T}STATE:NEW 1.1.1.1 -> 2.2.2.2 PR icmp 8 tag 9\n")
    );
    let mut s = state(StateType::New, 58, None);
    s.ports = (128, 0);
    s.ip_version = 6;
    s.src = IpAddr::V6("2001:db8::1".parse().unwrap());
    s.dst = IpAddr::V6("2001:db8::2".parse().unwrap());
    assert_eq!(
        state_text(s),
        format!("{T}STATE:NEW 2001:db8::1 -> 2001:db8::2 PR icmpv6 128\n")
    );
    let mut s = state(StateType::Remove, 47, None);
    s.tag = 4_000_000_000;
    assert_eq!(
        state_text(s),
        format!("{T}STATE:REMOVE 1.1.1.1 -> 2.2.2.2 PR gre tag 4000000000{c}\n")
    );
}
