//! The fields of a packet event; its addresses, ports, TCP flags and ICMP
//! type come from the lax header read of [`HeaderFacts`].

use std::net::{IpAddr, Ipv6Addr};

use super::text::{hex, int, opt_int, string};
use crate::dissect::{proto, tcp, HeaderFacts};
use crate::event::{Action, Direction, NflogInfo, PacketFlags, PacketLog, RuleGroup};

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
    let s = HeaderFacts::of(packet);
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
            out.push(b'"');
            tcp::push_ipmon_letters(f, out);
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
    match p.and_then(proto::json_name) {
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
