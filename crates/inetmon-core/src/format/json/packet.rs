//! The fields of a packet event, and the lax look at its headers that gives
//! addresses, ports, TCP flags and ICMP type.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::text::{hex, int, opt_int, string};
use crate::dissect::{be16, ipv6_header_len, proto};
use crate::event::{Action, Direction, NflogInfo, PacketFlags, PacketLog, RuleGroup};

/// What the JSON shows of a packet's headers; each part is `None` when the
/// captured bytes do not reach it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) protocol: Option<u8>,
    pub(crate) src: Option<IpAddr>,
    pub(crate) dst: Option<IpAddr>,
    pub(crate) sport: Option<u16>,
    pub(crate) dport: Option<u16>,
    pub(crate) tcp_flags: Option<u8>,
    pub(crate) icmp_type: Option<u8>,
    pub(crate) icmp_code: Option<u8>,
    pub(crate) len: Option<u32>,
}

fn addr4(p: &[u8], at: usize) -> Option<IpAddr> {
    let b: [u8; 4] = p.get(at..at + 4)?.try_into().ok()?;
    Some(IpAddr::V4(Ipv4Addr::from(b)))
}

fn addr6(p: &[u8], at: usize) -> Option<IpAddr> {
    let b: [u8; 16] = p.get(at..at + 16)?.try_into().ok()?;
    Some(IpAddr::V6(Ipv6Addr::from(b)))
}

/// Reads what it can of the IP and transport headers of `p`.
pub(crate) fn summarize(p: &[u8]) -> Summary {
    let mut s = Summary::default();
    let (l4, protocol) = match p.first().map(|b| b >> 4) {
        Some(4) => {
            s.len = be16(p, 2).map(u32::from);
            s.protocol = p.get(9).copied();
            s.src = addr4(p, 12);
            s.dst = addr4(p, 16);
            let hl = usize::from(p.first().copied().unwrap_or(0) & 15) * 4;
            let first_fragment = be16(p, 6).is_some_and(|f| f & 0x1fff == 0);
            if !first_fragment || hl < 20 {
                return s;
            }
            (hl, s.protocol)
        }
        Some(6) => {
            s.len = be16(p, 4).map(|l| u32::from(l) + 40);
            s.src = addr6(p, 8);
            s.dst = addr6(p, 24);
            if p.len() < 40 {
                return s;
            }
            let (hl, next) = ipv6_header_len(p);
            s.protocol = Some(next);
            (hl, s.protocol)
        }
        _ => return s,
    };
    let t = p.get(l4..).unwrap_or_default();
    match protocol {
        Some(proto::TCP | proto::UDP) => {
            s.sport = be16(t, 0);
            s.dport = be16(t, 2);
            if protocol == Some(proto::TCP) {
                s.tcp_flags = t.get(13).copied();
            }
        }
        Some(proto::ICMP | proto::ICMPV6) => {
            s.icmp_type = t.first().copied();
            s.icmp_code = t.get(1).copied();
        }
        _ => {}
    }
    s
}

/// The IANA keyword of common IP protocols (as in `/etc/protocols`).
pub(super) fn protocol_name(p: u8) -> Option<&'static str> {
    Some(match p {
        0 => "ip",
        1 => "icmp",
        2 => "igmp",
        4 => "ipencap",
        6 => "tcp",
        17 => "udp",
        41 => "ipv6",
        43 => "ipv6-route",
        44 => "ipv6-frag",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        58 => "ipv6-icmp",
        59 => "ipv6-nonxt",
        60 => "ipv6-opts",
        89 => "ospf",
        103 => "pim",
        112 => "vrrp",
        132 => "sctp",
        136 => "udplite",
        _ => return None,
    })
}

/// TCP flag letters in ipmon's order (§1.6 of the ipmon reference).
pub(super) fn tcp_flag_letters(f: u8) -> ([u8; 8], usize) {
    const ORDER: [(u8, u8); 8] = [
        (0x10, b'A'),
        (0x04, b'R'),
        (0x02, b'S'),
        (0x01, b'F'),
        (0x20, b'U'),
        (0x08, b'P'),
        (0x40, b'E'),
        (0x80, b'C'),
    ];
    let mut out = [0u8; 8];
    let mut n = 0;
    for (bit, letter) in ORDER {
        if f & bit != 0 {
            out[n] = letter;
            n += 1;
        }
    }
    (out, n)
}

/// Names of [`PacketFlags`] bits, in bit order.
pub(super) const FLAG_NAMES: [(u32, &str); 13] = [
    (PacketFlags::SHORT, "short"),
    (PacketFlags::KEEP_STATE, "keep_state"),
    (PacketFlags::KEEP_FRAG, "keep_frag"),
    (PacketFlags::LOG_BODY, "log_body"),
    (PacketFlags::LOW_TTL, "low_ttl"),
    (PacketFlags::OOW, "oow"),
    (PacketFlags::BAD, "bad"),
    (PacketFlags::NATED, "nat"),
    (PacketFlags::BAD_NAT, "bad_nat"),
    (PacketFlags::BAD_SRC, "bad_src"),
    (PacketFlags::MULTICAST, "multicast"),
    (PacketFlags::BROADCAST, "broadcast"),
    (PacketFlags::MBCAST, "mbcast"),
];

/// Appends an IPv6 address in the form `Ipv6Addr`'s `Display` uses: RFC 5952
/// (lower-case hex, the longest run of two or more zero groups as `::`),
/// and `::ffff:a.b.c.d` for IPv4-mapped addresses.
fn ipv6(out: &mut Vec<u8>, a: Ipv6Addr) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let g = a.segments();
    if let Some(v4) = a.to_ipv4_mapped() {
        out.extend_from_slice(b"::ffff:");
        for (i, o) in v4.octets().iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            int(out, *o);
        }
        return;
    }
    // The longest run of zero groups (first one wins a tie), if ≥ 2.
    let (mut best, mut best_len, mut run) = (0usize, 0usize, 0usize);
    for (i, &x) in g.iter().enumerate() {
        if x == 0 {
            run += 1;
            if run > best_len {
                best_len = run;
                best = i + 1 - run;
            }
        } else {
            run = 0;
        }
    }
    let skip = if best_len >= 2 {
        best..best + best_len
    } else {
        8..8
    };
    let mut i = 0;
    while i < 8 {
        if i == skip.start {
            out.extend_from_slice(b"::");
            i = skip.end;
            continue;
        }
        if i > 0 && i != skip.end {
            out.push(b':');
        }
        let x = g.get(i).copied().unwrap_or(0);
        let mut started = false;
        for shift in [12u16, 8, 4, 0] {
            let d = (x >> shift) & 15;
            if d != 0 || started || shift == 0 {
                started = true;
                out.push(HEX[usize::from(d)]);
            }
        }
        i += 1;
    }
}

/// Appends an address as a JSON string, or `null`.
pub(super) fn addr(out: &mut Vec<u8>, a: Option<IpAddr>) {
    match a {
        Some(IpAddr::V4(a)) => {
            out.push(b'"');
            for (i, o) in a.octets().iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                int(out, *o);
            }
            out.push(b'"');
        }
        Some(IpAddr::V6(a)) => {
            out.push(b'"');
            ipv6(out, a);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

pub(super) fn action_name(a: Action) -> &'static str {
    match a {
        Action::Pass => "pass",
        Action::Block => "block",
        Action::Log => "log",
        Action::NoMatch => "nomatch",
        Action::Unknown => "unknown",
    }
}

/// Appends the packet-specific members (each preceded by a comma).
pub(super) fn fields(out: &mut Vec<u8>, p: &PacketLog, with_bytes: bool) {
    let PacketLog {
        header: _,
        count,
        interface,
        direction,
        group,
        rule,
        action,
        flags,
        log_tag,
        nat_tag,
        reason,
        log_level,
        family,
        header_len,
        packet,
        ipf_seq,
        nflog,
        raw_header: _,
    } = p;
    out.extend_from_slice(b",\"count\":");
    int(out, *count);
    out.extend_from_slice(b",\"interface\":");
    string(out, interface);
    out.extend_from_slice(match direction {
        Some(Direction::In) => b",\"direction\":\"in\"",
        Some(Direction::Out) => b",\"direction\":\"out\"",
        None => b",\"direction\":null",
    });
    out.extend_from_slice(b",\"group\":");
    match group {
        RuleGroup::None => out.extend_from_slice(b"null"),
        RuleGroup::Named(g) => string(out, g),
    }
    out.extend_from_slice(b",\"rule\":");
    opt_int(out, *rule);
    out.extend_from_slice(b",\"action\":\"");
    out.extend_from_slice(action_name(*action).as_bytes());
    out.extend_from_slice(b"\",\"flags\":[");
    let mut first = true;
    for (bit, name) in FLAG_NAMES {
        if flags.has(bit) {
            if !first {
                out.push(b',');
            }
            first = false;
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.push(b'"');
        }
    }
    out.extend_from_slice(b"],\"log_tag\":");
    int(out, *log_tag);
    out.extend_from_slice(b",\"nat_tag\":");
    string(out, nat_tag);
    out.extend_from_slice(b",\"reason\":");
    opt_int(out, *reason);
    out.extend_from_slice(b",\"log_level\":");
    opt_int(out, *log_level);
    out.extend_from_slice(b",\"family\":");
    int(out, *family);
    let s = summarize(packet);
    protocol_fields(out, s.protocol);
    out.extend_from_slice(b",\"src\":");
    addr(out, s.src);
    out.extend_from_slice(b",\"dst\":");
    addr(out, s.dst);
    out.extend_from_slice(b",\"sport\":");
    opt_int(out, s.sport);
    out.extend_from_slice(b",\"dport\":");
    opt_int(out, s.dport);
    out.extend_from_slice(b",\"tcp_flags\":");
    match s.tcp_flags {
        Some(f) => {
            let (letters, n) = tcp_flag_letters(f);
            out.push(b'"');
            out.extend_from_slice(letters.get(..n).unwrap_or_default());
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"icmp_type\":");
    opt_int(out, s.icmp_type);
    out.extend_from_slice(b",\"icmp_code\":");
    opt_int(out, s.icmp_code);
    out.extend_from_slice(b",\"len\":");
    opt_int(out, s.len);
    out.extend_from_slice(b",\"caplen\":");
    int(out, packet.len());
    out.extend_from_slice(b",\"header_len\":");
    int(out, *header_len);
    out.extend_from_slice(b",\"ipf_seq\":");
    opt_int(out, *ipf_seq);
    if with_bytes {
        out.extend_from_slice(b",\"packet\":");
        hex(out, packet);
    }
    out.extend_from_slice(b",\"nflog\":");
    match nflog {
        Some(n) => nflog_object(out, n),
        None => out.extend_from_slice(b"null"),
    }
}

/// `,"protocol":N,"protocol_name":"…"` (both `null` when unknown).
pub(super) fn protocol_fields(out: &mut Vec<u8>, p: Option<u8>) {
    out.extend_from_slice(b",\"protocol\":");
    opt_int(out, p);
    out.extend_from_slice(b",\"protocol_name\":");
    match p.and_then(protocol_name) {
        Some(n) => {
            out.push(b'"');
            out.extend_from_slice(n.as_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

fn nflog_object(out: &mut Vec<u8>, n: &NflogInfo) {
    let NflogInfo {
        group,
        prefix,
        hook,
        hw_protocol,
        ifindex_in,
        ifindex_out,
        mark,
        uid,
        gid,
        seq,
        seq_global,
        ct_info,
        orig_len,
    } = n;
    out.extend_from_slice(b"{\"group\":");
    int(out, *group);
    out.extend_from_slice(b",\"prefix\":");
    string(out, prefix);
    out.extend_from_slice(b",\"hook\":");
    opt_int(out, *hook);
    out.extend_from_slice(b",\"hw_protocol\":");
    int(out, *hw_protocol);
    out.extend_from_slice(b",\"ifindex_in\":");
    opt_int(out, *ifindex_in);
    out.extend_from_slice(b",\"ifindex_out\":");
    opt_int(out, *ifindex_out);
    out.extend_from_slice(b",\"mark\":");
    opt_int(out, *mark);
    out.extend_from_slice(b",\"uid\":");
    opt_int(out, *uid);
    out.extend_from_slice(b",\"gid\":");
    opt_int(out, *gid);
    out.extend_from_slice(b",\"seq\":");
    opt_int(out, *seq);
    out.extend_from_slice(b",\"seq_global\":");
    opt_int(out, *seq_global);
    out.extend_from_slice(b",\"ct_info\":");
    opt_int(out, *ct_info);
    out.extend_from_slice(b",\"orig_len\":");
    opt_int(out, *orig_len);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries() {
        let tcp = [
            0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x30, 0x39, 0,
            80, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x12, 0, 0, 0, 0, 0, 0,
        ];
        let s = summarize(&tcp);
        assert_eq!(
            (s.protocol, s.sport, s.dport, s.tcp_flags, s.len),
            (Some(6), Some(12345), Some(80), Some(0x12), Some(40))
        );
        assert_eq!(s.src, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(tcp_flag_letters(0x12), (*b"AS\0\0\0\0\0\0", 2));
        // Cut inside the ports: the addresses are still there.
        let s = summarize(&tcp[..21]);
        assert_eq!(
            (s.sport, s.dport, s.dst),
            (None, None, Some("10.0.0.2".parse().unwrap()))
        );
        // A later fragment has no ports.
        let mut frag = tcp;
        frag[7] = 1;
        assert_eq!(summarize(&frag).sport, None);
        let mut v6 = vec![0x60, 0, 0, 0, 0, 8, 58, 64];
        v6.extend([0; 15]);
        v6.push(1);
        v6.extend([0; 15]);
        v6.push(1);
        v6.extend([128, 0, 0, 0]);
        let s = summarize(&v6);
        assert_eq!(
            (s.protocol, s.icmp_type, s.icmp_code, s.len),
            (Some(58), Some(128), Some(0), Some(48))
        );
        assert_eq!(summarize(&[]), Summary::default());
    }

    proptest::proptest! {
        #[test]
        fn ipv6_text_is_std_display(b in proptest::prelude::any::<[u8; 16]>(), zeros in proptest::prelude::any::<u8>()) {
            // Zero some groups so that runs of zeros are common.
            let mut b = b;
            for i in 0..8 {
                if zeros & (1 << i) != 0 {
                    b[2 * i] = 0;
                    b[2 * i + 1] = 0;
                }
            }
            let a = Ipv6Addr::from(b);
            let mut out = Vec::new();
            ipv6(&mut out, a);
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), a.to_string());
        }
    }

    #[test]
    fn ipv6_special_forms() {
        for s in [
            "::",
            "::1",
            "1::",
            "::ffff:1.2.3.4",
            "1:0:0:2:0:0:0:3",
            "1:0:2:0:3:0:4:0",
            "fd00::2:0:0:3",
        ] {
            let a: Ipv6Addr = s.parse().unwrap();
            let mut out = Vec::new();
            ipv6(&mut out, a);
            assert_eq!(String::from_utf8(out).unwrap(), a.to_string());
        }
    }
}
