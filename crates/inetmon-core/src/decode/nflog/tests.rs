use super::*;
use crate::decode::netlink::{NlMsgBuilder, NLMSG_DONE, NLM_F_MULTI};
use crate::event::{Action, Direction, Header, PacketFlags, RuleGroup, Source, Timestamp};

/// Real datagrams from `tests/data/capture_netfilter.py` (one hex line each).
const LIVE: &str = include_str!("../../../tests/data/nflog-live.hex");
/// The shared NFLOG pcap (tcpdump -i nflog:5), 10 records 127.0.0.1 → 127.0.0.1.
const PCAP: &[u8] = include_bytes!("../../../tests/data/nflog-real-small.pcap");

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

pub(crate) fn live() -> Vec<Vec<u8>> {
    LIVE.lines().map(unhex).collect()
}

/// The records of a little-endian microsecond pcap file.
pub(crate) fn pcap_records(f: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut pos = 24;
    while let Some(h) = f.get(pos..pos + 16) {
        let caplen = u32::from_le_bytes(h[8..12].try_into().unwrap()) as usize;
        out.push(&f[pos + 16..pos + 16 + caplen]);
        pos += 16 + caplen;
    }
    out
}

fn header() -> Header {
    Header {
        time: Timestamp { secs: 1, nanos: 0 },
        source: Source::Nflog(5),
        seq: 1,
    }
}

fn names(i: u32) -> Option<String> {
    (i == 1).then(|| "lo".to_owned())
}

#[test]
fn live_datagrams_decode() {
    let all: Vec<NflogPacket<'_>> = Vec::new();
    let data = live();
    let mut all = all;
    for d in &data {
        // qthresh 1: one packet per datagram, so no closing NLMSG_DONE (the
        // kernel adds it only to batches of several).
        assert_eq!(netlink::messages(d).count(), 1);
        for p in packets(d) {
            all.push(p.unwrap());
        }
    }
    assert_eq!(all.len(), 5);
    for p in &all {
        assert_eq!(p.group, 5);
        assert!(p.timestamp.is_some() || p.ifindex_out.is_some());
        assert!(p.seq.is_some() && p.seq_global.is_some());
        // This kernel lacks CONFIG_NETFILTER_NETLINK_GLUE_CT: no NFULA_CT.
        assert!(p.ct.is_none() && p.ct_info.is_none());
    }
    // TCP SYN to port 9 after DNAT, logged on input with `ct state new`.
    let syn = &all[0];
    assert_eq!(syn.prefix, Some(&b"p @web:3 "[..]));
    assert_eq!(
        (syn.family, syn.hook, syn.hw_protocol),
        (2, Some(1), Some(0x0800))
    );
    assert_eq!((syn.ifindex_in, syn.ifindex_out), (Some(1), None));
    let l = to_packet_log(syn, header(), &names);
    assert!(!l.flags.has(PacketFlags::KEEP_STATE));
    // With NFULA_CT_INFO = IP_CT_NEW a pass rule keeps state.
    let syn = &NflogPacket {
        ct_info: Some(IP_CT_NEW),
        ..syn.clone()
    };
    let l = to_packet_log(syn, header(), &names);
    assert_eq!(
        (l.interface.as_str(), l.direction),
        ("lo", Some(Direction::In))
    );
    assert_eq!(
        (l.group.clone(), l.rule, l.action),
        (RuleGroup::Named("web".into()), Some(3), Action::Pass)
    );
    assert!(l.flags.has(PacketFlags::KEEP_STATE));
    assert!(!l.flags.has(PacketFlags::SHORT));
    assert_eq!(l.family, 2);
    assert_ne!(l.header.time, header().time, "kernel timestamp used");
    // UDP to 53 without a prefix: the default.
    let udp = to_packet_log(&all[1], header(), &names);
    assert_eq!(
        (udp.group.clone(), udp.rule, udp.action),
        (RuleGroup::Named("5".into()), None, Action::Log)
    );
    assert!(udp.flags.has(PacketFlags::LOG_BODY));
    // UDP out through veth0 (output hook: no timestamp, output device only).
    let out = &all[2];
    assert_eq!(
        (out.hook, out.ifindex_in, out.timestamp),
        (Some(3), None, None)
    );
    assert!(out.uid.is_some() && out.gid.is_some());
    let o = to_packet_log(out, header(), &names);
    assert_eq!(o.direction, Some(Direction::Out));
    assert!(o.interface.starts_with("if"));
    assert_eq!(o.header.time, header().time, "fallback time");
    // ICMP echo with tokens.
    let icmp = to_packet_log(&all[3], header(), &names);
    assert_eq!(
        (icmp.action, icmp.rule, icmp.log_tag),
        (Action::Block, Some(7), 42)
    );
    assert!(icmp.flags.has(PacketFlags::KEEP_FRAG) && !icmp.flags.has(PacketFlags::KEEP_STATE));
    // ICMPv6 echo.
    let v6 = to_packet_log(&all[4], header(), &names);
    assert_eq!(
        (v6.family, v6.action, v6.nflog.as_ref().unwrap().hw_protocol),
        (10, Action::Log, 0x86dd)
    );
}

#[test]
fn pcap_records_decode() {
    let recs = pcap_records(PCAP);
    assert_eq!(recs.len(), 10);
    // tshark -r: 8 IPv4 records 127.0.0.1 → 127.0.0.1 (TCP, UDP, ICMP), then
    // UDP and ICMPv6 ::1 → ::1.
    let mut v4 = 0;
    for r in &recs {
        let p = packet_from_linktype_nflog(r).unwrap();
        assert_eq!(p.group, 5);
        let payload = p.payload.unwrap();
        let l = to_packet_log(&p, header(), &|_| None);
        assert_eq!(l.interface, "if1");
        assert_eq!(l.header_len, crate::dissect::ipf_header_len(payload));
        if payload[0] >> 4 == 4 {
            assert_eq!(&payload[12..20], &[127, 0, 0, 1, 127, 0, 0, 1]);
            assert_eq!(l.family, 2);
            v4 += 1;
        } else {
            assert_eq!(l.family, 10);
        }
    }
    assert_eq!(v4, 8);
    let first = packet_from_linktype_nflog(recs[0]).unwrap();
    assert_eq!(
        (first.hook, first.hwtype, first.hwlen),
        (Some(1), Some(0x304), Some(14))
    );
    assert_eq!(first.timestamp.map(|t| t.sec), Some(0x6b01_4de6));
    assert_eq!(first.hwaddr, Some(&[0u8; 6][..]));
    assert_eq!(first.prefix, Some(&b"blk9"[..]));
    assert_eq!(to_packet_log(&first, header(), &|_| None).header_len, 40);
}

/// Oracle: pcap-parser's own NFLOG decoder finds the same payload.
#[test]
fn pcap_payload_agrees_with_pcap_parser() {
    use pcap_parser::data::{get_packetdata, PacketData};
    use pcap_parser::Linktype;
    for r in pcap_records(PCAP) {
        let ours = packet_from_linktype_nflog(r).unwrap().payload.unwrap();
        match get_packetdata(r, Linktype::NFLOG, r.len()) {
            Some(PacketData::L3(_, theirs)) => assert_eq!(ours, theirs),
            other => panic!("pcap-parser: {other:?}"),
        }
    }
}

#[test]
fn every_truncation_errors_never_panics() {
    for d in live() {
        let first = netlink::messages(&d).next().unwrap().unwrap();
        let mlen = usize::try_from(first.len).unwrap();
        for cut in 1..mlen {
            let r: Result<Vec<_>, _> = packets(&d[..cut]).collect();
            assert!(r.is_err(), "datagram cut at {cut}");
            // The same cut with a consistent nlmsg_len: only attribute
            // boundaries are valid.
            let mut m = d[..cut].to_vec();
            if cut >= 16 {
                m[..4].copy_from_slice(&u32::try_from(cut).unwrap().to_ne_bytes());
                let _ = packets(&m).count();
            }
        }
    }
    for r in pcap_records(PCAP) {
        let mut boundaries = vec![4usize];
        for a in netlink::attrs_with_order(&r[4..], HeaderOrder::Little) {
            let a = a.unwrap();
            // The last attribute may lack its padding.
            let end = 4 + a.offset + a.payload.len() + 4;
            boundaries.extend(end..=netlink::align4(end));
        }
        for cut in 0..r.len() {
            let res = packet_from_linktype_nflog(&r[..cut]);
            assert_eq!(
                res.is_ok(),
                boundaries.contains(&cut),
                "record cut at {cut}: {res:?}"
            );
        }
    }
}

#[test]
fn builder_messages_edge_cases() {
    let mut b = NlMsgBuilder::new(0x0400, 0, 1);
    b.nfgenmsg(10, 0, 9);
    b.attr(attr::PACKET_HDR, &[0x86, 0xdd, 2, 0]);
    b.attr_be32(attr::IFINDEX_INDEV, 3);
    b.attr_be32(attr::IFINDEX_OUTDEV, 4);
    b.attr(attr::PREFIX, &[0xff, b'x', 0, b'y']);
    b.attr(attr::HWADDR, &[0, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    let v = b.begin_nested(attr::VLAN);
    b.attr_be16(NFULA_VLAN_PROTO, 0x8100);
    b.attr_be16(NFULA_VLAN_TCI, 42);
    b.end_nested(v);
    b.attr(99, b"unknown is ignored");
    // IPv6 TCP with only 10 transport bytes, claiming 1000.
    let mut pkt = vec![0x60, 0, 0, 0, 0x03, 0xe8, 6, 64];
    pkt.extend([0; 32]);
    pkt.extend([0; 10]);
    b.attr(attr::PAYLOAD, &pkt);
    let mut d = b.finish();
    d.extend(NlMsgBuilder::new(NLMSG_DONE, NLM_F_MULTI, 1).finish());
    let all: Vec<_> = packets(&d).collect::<Result<_, _>>().unwrap();
    assert_eq!(all.len(), 1);
    let p = &all[0];
    assert_eq!(p.prefix_str(), "\u{fffd}x");
    assert_eq!(p.hwaddr, Some(&[1u8, 2, 3, 4, 5, 6][..]));
    assert_eq!(
        p.vlan,
        Some(NflogVlan {
            proto: Some(0x8100),
            tci: Some(42)
        })
    );
    // Forwarded, hook forward → IN on the input device.
    let l = to_packet_log(p, header(), &|_| None);
    assert_eq!(
        (l.interface.as_str(), l.direction),
        ("if3", Some(Direction::In))
    );
    assert!(l.flags.has(PacketFlags::SHORT));
    assert_eq!(l.nflog.unwrap().orig_len, Some(1040));
    // Postrouting → OUT on the output device.
    let post = NflogPacket {
        hook: Some(4),
        ..p.clone()
    };
    let l = to_packet_log(&post, header(), &|_| None);
    assert_eq!(
        (l.interface.as_str(), l.direction),
        ("if4", Some(Direction::Out))
    );
    // A mark of 3 bytes is a value-size error, not a panic.
    let mut b = NlMsgBuilder::new(0x0400, 0, 1);
    b.nfgenmsg(2, 0, 1).attr(attr::MARK, &[1, 2, 3]);
    let d = b.finish();
    assert_eq!(
        packets(&d).next(),
        Some(Err(NflogError::Netlink(NetlinkDecodeError::ValueLen {
            attr: attr::MARK,
            expected: 4,
            got: 3
        })))
    );
    // Not a packet message.
    let m = NlMsgBuilder::new(0x0401, 0, 1).finish();
    let m = netlink::messages(&m).next().unwrap().unwrap();
    assert_eq!(
        NflogPacket::from_msg(&m),
        Err(NflogError::NotPacket { msg_type: 0x0401 })
    );
    assert_eq!(
        packet_from_linktype_nflog(&[2, 0]),
        Err(NflogError::RecordLen { have: 2 })
    );
}

#[test]
fn prefixes() {
    let r = parse_prefix("Sb @web:3 K-S K-F body log-tag=7 nat-tag=x  ").unwrap();
    assert_eq!(
        (r.action, r.rule, r.log_tag, r.nat_tag.as_str()),
        (Action::Block, Some(3), 7, "x")
    );
    let all = PacketFlags::SHORT
        | PacketFlags::KEEP_STATE
        | PacketFlags::KEEP_FRAG
        | PacketFlags::LOG_BODY;
    assert_eq!(r.flags, all);
    assert_eq!(
        parse_prefix("n @-1:-1").map(|r| (r.group, r.rule)),
        Some((RuleGroup::None, None))
    );
    assert_eq!(parse_prefix("L @0:1").map(|r| r.action), Some(Action::Log));
    for bad in [
        "",
        " ",
        "x @a:1",
        "b @:1",
        "b web:1",
        "b @web:x",
        "b @web:1 junk",
        "b @web",
        "S @a:1",
        "b @a:1 log-tag=x",
    ] {
        assert_eq!(parse_prefix(bad), None, "{bad:?}");
    }
}

#[test]
fn garbage_never_panics() {
    let mut garbage = crate::testing::Garbage(7);
    for len in 0..300usize {
        let mut v = garbage.bytes(len);
        if let Ok(p) = packet_from_linktype_nflog(&v) {
            let _ = to_packet_log(&p, header(), &|_| None);
        }
        if v.len() >= 4 {
            let n = u32::try_from(v.len()).unwrap().to_ne_bytes();
            v[..4].copy_from_slice(&n);
        }
        for p in packets(&v).flatten() {
            let _ = to_packet_log(&p, header(), &|_| None);
        }
    }
}

mod roundtrip {
    use super::*;
    use proptest::prelude::*;

    /// Builds an NFLOG message from field values with the test builder.
    fn build(f: &Fields) -> Vec<u8> {
        let mut b = NlMsgBuilder::new(0x0400, 0, 1);
        b.nfgenmsg(f.family, 0, f.group);
        let [p0, p1] = f.hw_protocol.to_be_bytes();
        b.attr(attr::PACKET_HDR, &[p0, p1, f.hook, 0]);
        if let Some(m) = f.mark {
            b.attr_be32(attr::MARK, m);
        }
        if let Some((s, u)) = f.ts {
            let mut v = s.to_be_bytes().to_vec();
            v.extend(u.to_be_bytes());
            b.attr(attr::TIMESTAMP, &v);
        }
        if let Some(i) = f.ifin {
            b.attr_be32(attr::IFINDEX_INDEV, i);
        }
        if let Some(o) = f.ifout {
            b.attr_be32(attr::IFINDEX_OUTDEV, o);
        }
        let mut prefix = f.prefix.clone();
        prefix.push(0);
        b.attr(attr::PREFIX, &prefix);
        if let Some(s) = f.seq {
            b.attr_be32(attr::SEQ, s).attr_be32(attr::SEQ_GLOBAL, s ^ 1);
        }
        b.attr_be32(attr::CT_INFO, f.ct_info);
        b.attr(attr::PAYLOAD, &f.payload);
        b.finish()
    }

    #[derive(Debug, Clone)]
    struct Fields {
        family: u8,
        group: u16,
        hw_protocol: u16,
        hook: u8,
        mark: Option<u32>,
        ts: Option<(u64, u64)>,
        ifin: Option<u32>,
        ifout: Option<u32>,
        prefix: Vec<u8>,
        seq: Option<u32>,
        ct_info: u32,
        payload: Vec<u8>,
    }

    fn fields() -> impl Strategy<Value = Fields> {
        (
            (
                any::<u8>(),
                any::<u16>(),
                any::<u16>(),
                0u8..5,
                any::<Option<u32>>(),
            ),
            (
                any::<Option<(u64, u64)>>(),
                any::<Option<u32>>(),
                any::<Option<u32>>(),
            ),
            (
                proptest::collection::vec(1u8..=255, 0..40),
                any::<Option<u32>>(),
                any::<u32>(),
            ),
            proptest::collection::vec(any::<u8>(), 0..200),
        )
            .prop_map(
                |(
                    (family, group, hw_protocol, hook, mark),
                    (ts, ifin, ifout),
                    (prefix, seq, ct_info),
                    payload,
                )| Fields {
                    family,
                    group,
                    hw_protocol,
                    hook,
                    mark,
                    ts,
                    ifin,
                    ifout,
                    prefix,
                    seq,
                    ct_info,
                    payload,
                },
            )
    }

    proptest! {
        #[test]
        fn built_messages_decode_to_their_fields(f in fields()) {
            let d = build(&f);
            let p = packets(&d).next().unwrap().unwrap();
            prop_assert_eq!((p.family, p.group), (f.family, f.group));
            prop_assert_eq!((p.hw_protocol, p.hook), (Some(f.hw_protocol), Some(f.hook)));
            prop_assert_eq!(p.mark, f.mark);
            prop_assert_eq!(p.timestamp.map(|t| (t.sec, t.usec)), f.ts);
            prop_assert_eq!((p.ifindex_in, p.ifindex_out), (f.ifin, f.ifout));
            prop_assert_eq!(p.prefix, Some(&f.prefix[..]));
            prop_assert_eq!((p.seq, p.seq_global), (f.seq, f.seq.map(|s| s ^ 1)));
            prop_assert_eq!(p.ct_info, Some(f.ct_info));
            prop_assert_eq!(p.payload, Some(&f.payload[..]));
            // The same TLVs as a big-endian LINKTYPE_NFLOG record.
            let mut rec = d[16..20].to_vec();
            for a in netlink::attrs(&d[20..]) {
                let a = a.unwrap();
                let len = u16::try_from(a.payload.len() + 4).unwrap();
                rec.extend(len.to_be_bytes());
                rec.extend(a.kind.to_be_bytes());
                rec.extend(a.payload);
                rec.resize(netlink::align4(rec.len()), 0);
            }
            let q = packet_from_linktype_nflog_ordered(&rec, HeaderOrder::Big).unwrap();
            prop_assert_eq!(q, p.clone());
            // Mapping never panics, and keeps the payload.
            let l = to_packet_log(&p, header(), &|_| None);
            prop_assert_eq!(l.packet, f.payload);
        }
    }
}

/// The file reader's lean path ([`line_attrs`], [`NameCache::line`], the
/// ipmon line of an [`NflogLine`]) against the full decode, mapping and
/// event formatting, on odd records.
mod lean_line {
    use super::*;
    use crate::format::ipmon::{IpmonFormatter, IpmonOptions, Rendered, TimeZone};

    /// A `LINKTYPE_NFLOG` record: `nflog_hdr`, then each attribute with its
    /// TLV header in the given order, padded to 4.
    fn record(family: u8, group: u16, attrs: &[(u16, Vec<u8>)], big: bool) -> Vec<u8> {
        let mut r = vec![family, 0];
        r.extend(group.to_be_bytes());
        for (kind, v) in attrs {
            let len = u16::try_from(v.len() + 4).unwrap();
            let (l, k) = if big {
                (len.to_be_bytes(), kind.to_be_bytes())
            } else {
                (len.to_le_bytes(), kind.to_le_bytes())
            };
            r.extend(l);
            r.extend(k);
            r.extend(v);
            r.resize(netlink::align4(r.len()), 0);
        }
        r
    }

    fn order(big: bool) -> HeaderOrder {
        if big {
            HeaderOrder::Big
        } else {
            HeaderOrder::Little
        }
    }

    /// `line_attrs` decodes what the full decode decodes, to the same
    /// values, and refuses what it refuses.
    fn same_decode(rec: &[u8], big: bool) -> bool {
        let full = packet_from_linktype_nflog_ordered(rec, order(big));
        let lean = line_attrs(rec, order(big));
        assert_eq!(
            lean,
            full.as_ref().ok().map(LineAttrs::from),
            "record {rec:02x?} ({full:?})"
        );
        lean.is_some()
    }

    fn ts(sec: u64, usec: u64) -> Vec<u8> {
        let mut v = sec.to_be_bytes().to_vec();
        v.extend(usec.to_be_bytes());
        v
    }

    /// IPv4 header (20 bytes) with protocol `p`, total length `len`,
    /// fragment field `frag`, then `rest`.
    fn v4(p: u8, len: u16, frag: u16, rest: &[u8]) -> Vec<u8> {
        let mut h = vec![0x45, 0];
        h.extend(len.to_be_bytes());
        h.extend([0, 7]);
        h.extend(frag.to_be_bytes());
        h.extend([64, p, 0, 0, 192, 0, 2, 1, 198, 51, 100, 254]);
        h.extend(rest);
        h
    }

    /// IPv6 header with next header `p` and payload length `len`, then `rest`.
    fn v6(p: u8, len: u16, rest: &[u8]) -> Vec<u8> {
        let mut h = vec![0x60, 0, 0, 0];
        h.extend(len.to_be_bytes());
        h.extend([p, 64]);
        h.extend([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        h.extend([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        h.extend(rest);
        h
    }

    /// Payloads: TCP, UDP, ICMP (an error with its inner packet, an echo),
    /// truncated ones (short transport header by the copy and by the
    /// claim), fragments, IPv6 UDP and ICMPv6 and a hop-by-hop header,
    /// not IP at all, empty.
    fn payloads() -> Vec<Vec<u8>> {
        let tcp = [
            0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x12, 0xff, 0xff, 0, 0, 0, 0,
        ];
        let udp = [0x30, 0x39, 0, 53, 0, 9, 0, 0, 1];
        let mut icmp_err = vec![3, 3, 0, 0, 0, 0, 0, 0];
        icmp_err.extend(v4(17, 29, 0, &udp));
        vec![
            v4(6, 40, 0, &tcp),
            v4(6, 40, 0x4000, &tcp),
            v4(6, 1500, 0, &tcp), // longer than copied
            v4(6, 30, 0, &tcp),   // claims a short TCP header
            v4(6, 40, 0, &tcp[..10]),
            v4(17, 29, 0, &udp),
            v4(17, 29, 0x2000, &udp), // first fragment, more to come
            v4(17, 29, 0x00b9, &udp), // a later fragment
            v4(1, 56, 0, &icmp_err),
            v4(1, 28, 0, &[8, 0, 0, 0, 0, 1, 0, 1]),
            v4(1, 22, 0, &[8, 0]),
            v4(47, 24, 0, &[0, 0, 8, 0]),
            v4(6, 40, 0, &[]),
            v6(17, 9, &udp),
            v6(58, 8, &[1, 4, 0, 0, 0, 0, 0, 0]),
            v6(58, 8, &[128, 0, 0, 0, 0, 1, 0, 1]),
            v6(
                0,
                28,
                &[17, 0, 0, 0, 0, 0, 0, 0, 0x30, 0x39, 0, 53, 0, 9, 0, 0, 1],
            ),
            v6(6, 20, &tcp[..4]),
            vec![0x45],
            vec![0x12, 0x34, 0x56],
            Vec::new(),
        ]
    }

    /// Records built from combinations of the attributes a line reads,
    /// with and without the rest.
    fn records() -> Vec<(Vec<u8>, bool)> {
        let prefixes: [&[u8]; 9] = [
            b"",
            b"dns\0",
            b"p @web:3 K-S\0",
            b"Sb @-1:-1 \0",
            b"L @g:7 K-F body log-tag=4294967295 nat-tag=x\0",
            b"n @x:1 low\0",
            b"p @:1\0",
            b"\xff\xfe\0junk",
            b"b @very-long-group-name-for-a-line:4000000000",
        ];
        let ifaces = [
            (None, None, None),
            (Some(1), None, Some(1)),
            (None, Some(2), Some(3)),
            (Some(3), Some(4), Some(2)),
            (Some(3), Some(4), Some(4)),
            (Some(3), Some(4), None),
            (Some(u32::MAX), None, None),
        ];
        let mut out = Vec::new();
        for (i, payload) in payloads().into_iter().enumerate() {
            for (j, prefix) in prefixes.iter().enumerate() {
                let (ifin, ifout, hook) = ifaces[(i + j) % ifaces.len()];
                let mut a: Vec<(u16, Vec<u8>)> = Vec::new();
                if let Some(h) = hook {
                    a.push((attr::PACKET_HDR, vec![8, 0, h, 0]));
                }
                if !prefix.is_empty() || j == 0 {
                    a.push((attr::PREFIX, prefix.to_vec()));
                }
                if let Some(n) = ifin {
                    a.push((attr::IFINDEX_INDEV, u32::to_be_bytes(n).to_vec()));
                }
                if let Some(n) = ifout {
                    a.push((attr::IFINDEX_OUTDEV, u32::to_be_bytes(n).to_vec()));
                }
                if (i + j) % 3 != 0 {
                    // Second boundaries and an out-of-range microsecond.
                    let usec = [0, 999_999, 1_000_000, 123_456][(i + j) % 4];
                    a.push((attr::TIMESTAMP, ts(1_700_000_000 + j as u64, usec)));
                }
                if (i + j) % 2 == 0 {
                    a.push((attr::CT_INFO, u32::to_be_bytes(IP_CT_NEW).to_vec()));
                    a.push((attr::MARK, vec![0, 0, 0, 1]));
                    a.push((attr::HWTYPE, vec![0, 1]));
                    a.push((attr::HWLEN, vec![0, 14]));
                    a.push((attr::HWADDR, vec![0, 6, 0, 0, 1, 2, 3, 4, 5, 6, 0, 0]));
                    a.push((attr::UID, vec![0, 0, 3, 232]));
                    a.push((attr::VLAN, {
                        let mut v = vec![6, 0, 1, 0, 0x81, 0, 0, 0];
                        v.extend([6, 0, 2, 0, 0, 42, 0, 0]);
                        v
                    }));
                    a.push((99, b"unknown".to_vec()));
                }
                if i % 5 != 4 {
                    a.push((attr::PAYLOAD, payload.clone()));
                }
                let family = [2, 10, 7][j % 3];
                let big = (i + j) % 4 == 1;
                out.push((record(family, 5, &a, big), big));
            }
        }
        out
    }

    #[test]
    fn lean_walk_accepts_and_refuses_as_the_full_decode() {
        for r in pcap_records(PCAP) {
            assert!(same_decode(r, false));
            for cut in 0..r.len() {
                same_decode(&r[..cut], false);
            }
            // Every byte of the record set to a few values: framing,
            // types and lengths go wrong in every way.
            for at in 0..r.len() {
                for v in [0u8, 1, 2, 3, 4, 5, 8, 0x10, 0x14, 0x80, 0xff] {
                    let mut m = r.to_vec();
                    m[at] = v;
                    same_decode(&m, false);
                    same_decode(&m, true);
                }
            }
        }
        for (r, big) in records() {
            assert!(same_decode(&r, big));
            for cut in 0..r.len() {
                same_decode(&r[..cut], big);
            }
        }
        // Every attribute type with values of every size up to 20, alone
        // and nested in VLAN: the size checks are the full decode's.
        for kind in 0..=25u16 {
            for len in 0..=20usize {
                let v: Vec<u8> = (0..len).map(|i| i as u8).collect();
                for big in [false, true] {
                    same_decode(&record(2, 1, &[(kind, v.clone())], big), big);
                    let mut nested = record(0, 0, &[(kind, v.clone())], big);
                    nested.drain(..4);
                    same_decode(&record(2, 1, &[(attr::VLAN, nested)], big), big);
                }
            }
        }
        let mut garbage = crate::testing::Garbage(11);
        for len in 0..400usize {
            let g = garbage.bytes(len);
            same_decode(&g, false);
            same_decode(&g, true);
        }
    }

    /// The line of each record, from the lean path, is byte for byte the
    /// line of its event (in UTC and a zone with daylight saving time),
    /// and its fields are the mapping's.
    #[test]
    fn lean_line_is_the_event_line() {
        let zones = [
            TimeZone::UTC,
            TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap(),
        ];
        let mut recs = records();
        recs.extend(pcap_records(PCAP).into_iter().map(|r| (r.to_vec(), false)));
        for tz in zones {
            let mut names = NameCache::new();
            let mut lean = IpmonFormatter::new(IpmonOptions::default(), tz.clone());
            let mut full = IpmonFormatter::new(IpmonOptions::default(), tz.clone());
            for (n, (r, big)) in recs.iter().enumerate() {
                let time = Timestamp {
                    secs: 1_711_846_799 + (n as i64 % 3),
                    nanos: 999_999_000,
                };
                let a = line_attrs(r, order(*big)).unwrap();
                let line = names.line(&a, time);
                let pkt = packet_from_linktype_nflog_ordered(r, order(*big)).unwrap();
                let h = Header {
                    time,
                    source: Source::Pcap("f".into()),
                    seq: 1,
                };
                let ev = to_packet_log(&pkt, h, &|_| None);
                assert_eq!(
                    (line.time, line.interface, line.direction, line.rule),
                    (ev.header.time, ev.interface.as_str(), ev.direction, ev.rule)
                );
                assert_eq!(
                    (line.action, line.log_tag, line.nat_tag, line.family),
                    (ev.action, ev.log_tag, ev.nat_tag.as_str(), ev.family)
                );
                assert_eq!(
                    line.flags.0,
                    ev.flags.0 & !PacketFlags::LOG_BODY,
                    "{r:02x?}"
                );
                assert_eq!(line.packet, &ev.packet[..]);
                let mut text = Vec::new();
                assert!(lean.format_nflog_line(&line, &mut text));
                let mut want = Rendered::default();
                full.format(&crate::event::Event::Packet(Box::new(ev)), &mut want);
                assert_eq!(
                    String::from_utf8_lossy(&text),
                    String::from_utf8_lossy(&want.text),
                    "{r:02x?}"
                );
            }
        }
    }
}
