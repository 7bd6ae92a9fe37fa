//! The `ipf` packet line (`print_ipflog`, reference §1) and its hex dumps.

use std::net::Ipv6Addr;

use super::{hexdump, icmp, push_i64, push_u64, IpmonFormatter, Rendered};
use super::{LOG_EMERG, LOG_ERR, LOG_INFO, LOG_NOTICE, LOG_WARNING};
use crate::decode::nflog::NflogLine;
use crate::dissect::{proto, tcp};
use crate::event::{Action, Direction, PacketFlags, PacketLog, RuleGroup, Timestamp};

/// `AF_INET`.
const AF_INET: u8 = 2;
/// `AF_INET6` on Linux.
const AF_INET6_LINUX: u8 = 10;
/// `AF_INET6` on FreeBSD.
const AF_INET6_FREEBSD: u8 = 28;

/// ipmon's `reasons[]`, by `fl_breason` index.
const REASONS: [&str; 19] = [
    "filter-rule",
    "log-or-block_1",
    "pps-rate",
    "jumbogram",
    "makefrip-fail",
    "state_add-fail",
    "updateipid-fail",
    "log-or-block_2",
    "decap-fail",
    "auth_new-fail",
    "auth_captured",
    "coalesce-fail",
    "pullup-fail",
    "auth-feedback",
    "bad-frag",
    "natv4_out-fail",
    "natv4_in-fail",
    "natv6_out-fail",
    "natv6_in-fail",
];

/// ` -` and ipmon's TCP flag letters (`tcp::IPMON_ORDER`) for every flags
/// byte, with the text's length: one append per line instead of a test and
/// a push per flag.
static TCP_LETTERS: [([u8; 10], u8); 256] = {
    let mut t = [([0u8; 10], 0u8); 256];
    let mut f = 0;
    while f < 256 {
        let mut text = [0u8; 10];
        text[0] = b' ';
        text[1] = b'-';
        let mut n = 2;
        let mut i = 0;
        while i < tcp::IPMON_ORDER.len() {
            let (bit, letter) = tcp::IPMON_ORDER[i];
            if f as u8 & bit != 0 {
                text[n] = letter;
                n += 1;
            }
            i += 1;
        }
        t[f] = (text, n as u8);
        f += 1;
    }
    t
};

/// The flags that may print in the trailer: all but `SHORT` (an `S` before
/// the action) and `LOG_BODY` (never printed). A line with none of them, no
/// tags and no reason has only its direction after the body.
const TRAILER_FLAGS: u32 = !(PacketFlags::SHORT | PacketFlags::LOG_BODY);

/// The logged bytes, read the way ipmon reads them: unchecked in C, here
/// every byte past the end reads as zero.
#[derive(Clone, Copy)]
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(self, at: usize) -> u8 {
        self.0.get(at).copied().unwrap_or(0)
    }
    fn be16(self, at: usize) -> u16 {
        u16::from_be_bytes([self.u8(at), self.u8(at.wrapping_add(1))])
    }
    /// A `u_short` read in host (little-endian) order, as C's `ipc->ip_len`.
    fn le16(self, at: usize) -> u16 {
        u16::from_le_bytes([self.u8(at), self.u8(at.wrapping_add(1))])
    }
    fn be32(self, at: usize) -> u32 {
        u32::from_be_bytes([
            self.u8(at),
            self.u8(at.wrapping_add(1)),
            self.u8(at.wrapping_add(2)),
            self.u8(at.wrapping_add(3)),
        ])
    }
    fn v4(self, at: usize) -> [u8; 4] {
        [
            self.u8(at),
            self.u8(at + 1),
            self.u8(at + 2),
            self.u8(at + 3),
        ]
    }
    fn v6(self, at: usize) -> Ipv6Addr {
        let mut a = [0u8; 16];
        for (i, b) in a.iter_mut().enumerate() {
            *b = self.u8(at + i);
        }
        Ipv6Addr::from(a)
    }
}

/// The action letter and syslog level of §1.4 (the `S` prefix is written
/// by the caller).
fn action(p: &Line<'_>) -> (u8, u16) {
    let short = p.flags.has(PacketFlags::SHORT);
    let base = if short { LOG_ERR } else { LOG_NOTICE };
    let (letter, lvl) = match p.action {
        Action::Pass => (b'p', base),
        Action::Block => (b'b', LOG_WARNING),
        Action::Log => (b'L', LOG_INFO),
        Action::NoMatch => (b'n', base),
        Action::Unknown => (b'?', LOG_EMERG),
    };
    (letter, p.log_level.unwrap_or(lvl))
}

/// What the line prints, borrowed from a [`PacketLog`] or, on the file
/// reader's fast path, from an NFLOG record ([`NflogLine`]).
struct Line<'a> {
    time: Timestamp,
    count: u32,
    interface: &'a str,
    /// `None` for [`RuleGroup::None`].
    group: Option<&'a str>,
    rule: Option<u32>,
    action: Action,
    flags: PacketFlags,
    log_level: Option<u16>,
    family: u8,
    packet: &'a [u8],
    direction: Option<Direction>,
    log_tag: u32,
    nat_tag: &'a str,
    reason: Option<u8>,
}

impl<'a> Line<'a> {
    fn of_event(p: &'a PacketLog) -> Self {
        Line {
            time: p.header.time,
            count: p.count,
            interface: p.interface.as_str(),
            group: match &p.group {
                RuleGroup::None => None,
                RuleGroup::Named(g) => Some(g.as_str()),
            },
            rule: p.rule,
            action: p.action,
            flags: p.flags,
            log_level: p.log_level,
            family: p.family,
            packet: &p.packet,
            direction: p.direction,
            log_tag: p.log_tag,
            nat_tag: &p.nat_tag,
            reason: p.reason,
        }
    }

    fn of_nflog(l: &NflogLine<'a>) -> Self {
        Line {
            time: l.time,
            count: 1,
            interface: l.interface,
            group: l.group,
            rule: l.rule,
            action: l.action,
            flags: l.flags,
            log_level: None,
            family: l.family,
            packet: l.packet,
            direction: l.direction,
            log_tag: l.log_tag,
            nat_tag: l.nat_tag,
            reason: None,
        }
    }
}

/// Appends the line of an NFLOG packet read from a file (no `missed`
/// check: it has no IP Filter sequence number). `false`, with nothing
/// appended, when the options ask for hex dumps, which need the event.
pub(super) fn format_nflog(f: &mut IpmonFormatter, l: &NflogLine<'_>, t: &mut Vec<u8>) -> bool {
    let o = f.opts;
    if o.hex_header || o.hex_packet || o.hex_body {
        return false;
    }
    write_line(f, &Line::of_nflog(l), t);
    true
}

/// Appends the line for `p`, with its `\n`; returns its syslog priority.
fn write_line(f: &mut IpmonFormatter, p: &Line<'_>, t: &mut Vec<u8>) -> u16 {
    f.write_time(t, p.time);
    if p.count > 1 {
        // "%dx " of an unsigned count.
        push_i64(t, i64::from(p.count as i32));
        t.extend_from_slice(b"x ");
    }
    t.extend_from_slice(p.interface.as_bytes());
    match p.group {
        None => t.extend_from_slice(b" @-1:"),
        Some("") => t.extend_from_slice(b" @0:"),
        Some(g) => {
            t.extend_from_slice(b" @");
            t.extend_from_slice(g.as_bytes());
            t.push(b':');
        }
    }
    match p.rule {
        None => t.extend_from_slice(b"-1 "),
        Some(r) => {
            push_u64(t, u64::from(r));
            t.push(b' ');
        }
    }
    if p.flags.has(PacketFlags::SHORT) {
        t.push(b'S');
    }
    let (letter, priority) = action(p);
    t.push(letter);
    t.push(b' ');
    body(f, p, t);
    trailer(p, t);
    t.push(b'\n');
    priority
}

/// Appends the line for `p` and its hex dumps.
pub(super) fn format(f: &mut IpmonFormatter, p: &PacketLog, out: &mut Rendered) {
    let start = out.begin();
    let priority = write_line(f, &Line::of_event(p), &mut out.text);
    out.end(start, priority);

    let o = f.opts;
    if o.hex_header {
        if p.nflog.is_some() {
            // The raw NFLOG record: a live netlink message, or a
            // LINKTYPE_NFLOG record from a file.
            let netlink = matches!(p.header.source, crate::event::Source::Nflog(_));
            super::nflog_hex::dump_nflog(out, &p.raw_header, netlink);
        } else {
            hexdump::dump(out, &p.raw_header);
        }
    }
    if o.hex_packet {
        hexdump::dump(out, &p.packet);
    } else if o.hex_body && p.flags.has(PacketFlags::LOG_BODY) {
        hexdump::dump(
            out,
            p.packet.get(usize::from(p.header_len)..).unwrap_or(&[]),
        );
    }
}

/// Source and destination as ipmon prints them for the packet's family.
#[derive(Clone, Copy)]
enum Addrs {
    V4 { src: [u8; 4], dst: [u8; 4] },
    V6 { src: Ipv6Addr, dst: Ipv6Addr },
}

fn write_host(f: &IpmonFormatter, t: &mut Vec<u8>, a: Addrs, dst: bool) {
    match a {
        Addrs::V4 { src, dst: d } => f.write_v4(t, if dst { d } else { src }),
        Addrs::V6 { src, dst: d } => crate::names::write_ipv6(t, if dst { &d } else { &src }),
    }
}

/// The BODY of §1.5–§1.9.
fn body(f: &IpmonFormatter, p: &Line<'_>, t: &mut Vec<u8>) {
    let b = Bytes(p.packet);
    let v6 = matches!(p.family, AF_INET6_LINUX | AF_INET6_FREEBSD);
    let (hl, ipoff, pr, addrs, plen): (u16, u16, u8, Addrs, u16) = if p.family == AF_INET {
        // The fixed header in one checked read (zeros past the end, as
        // `Bytes` reads them, when the packet is shorter).
        let ip = match p.packet.first_chunk::<20>() {
            Some(ip) => *ip,
            None => std::array::from_fn(|i| b.u8(i)),
        };
        let [v_hl, _, l0, l1, _, _, f0, f1, _, pr, _, _, s0, s1, s2, s3, d0, d1, d2, d3] = ip;
        (
            u16::from(v_hl & 0x0f) << 2,
            u16::from_be_bytes([f0, f1]),
            pr,
            Addrs::V4 {
                src: [s0, s1, s2, s3],
                dst: [d0, d1, d2, d3],
            },
            u16::from_be_bytes([l0, l1]),
        )
    } else if v6 {
        let (hl, pr) = ipv6_walk(b);
        (
            hl,
            0,
            pr,
            Addrs::V6 {
                src: b.v6(8),
                dst: b.v6(24),
            },
            40u16.wrapping_add(b.be16(4)),
        )
    } else {
        return;
    };
    let off = ipoff & 0x1fff;
    let h = usize::from(hl);

    if (pr == proto::TCP || pr == proto::UDP) && off == 0 {
        if !p.flags.has(PacketFlags::SHORT) {
            write_host(f, t, addrs, false);
            t.push(b',');
            f.write_port(t, pr, b.be16(h));
            t.extend_from_slice(b" -> ");
            write_host(f, t, addrs, true);
            t.push(b',');
            f.write_port(t, pr, b.be16(h + 2));
            pr_len(f, t, pr, hl, plen);
            if pr == proto::TCP {
                // ` -` and the flag letters in one append.
                let (text, n) = TCP_LETTERS
                    .get(usize::from(b.u8(h + 13)))
                    .copied()
                    .unwrap_or(([0; 10], 0));
                crate::names::push_prefix(t, &text, usize::from(n));
                if f.opts.verbose {
                    t.push(b' ');
                    push_u64(t, u64::from(b.be32(h + 4)));
                    t.push(b' ');
                    push_u64(t, u64::from(b.be32(h + 8)));
                    t.push(b' ');
                    push_u64(t, u64::from(b.be16(h + 14)));
                }
            }
        } else {
            endpoints(f, t, addrs);
            pr_len(f, t, pr, hl, plen);
        }
    } else if pr == proto::ICMPV6 && off == 0 && v6 {
        endpoints(f, t, addrs);
        t.extend_from_slice(b" PR icmpv6 len ");
        push_u64(t, u64::from(hl));
        t.push(b' ');
        push_u64(t, u64::from(plen));
        t.extend_from_slice(b" icmpv6 ");
        icmp::write_name(t, true, b.u8(h), b.u8(h + 1));
    } else if pr == proto::ICMP && off == 0 && p.family == AF_INET {
        endpoints(f, t, addrs);
        t.extend_from_slice(b" PR icmp len ");
        push_u64(t, u64::from(hl));
        t.push(b' ');
        push_u64(t, u64::from(plen));
        t.extend_from_slice(b" icmp ");
        let itype = b.u8(h);
        icmp::write_name(t, false, itype, b.u8(h + 1));
        if matches!(itype, 3 | 4 | 5 | 11 | 12) {
            inner(f, t, b, h);
        }
    } else {
        endpoints(f, t, addrs);
        t.extend_from_slice(b" PR ");
        f.write_proto(t, pr);
        t.extend_from_slice(b" len ");
        push_u64(t, u64::from(hl));
        t.extend_from_slice(b" (");
        push_u64(t, u64::from(plen));
        t.push(b')');
        if off != 0 {
            t.extend_from_slice(b" ");
            frag(t, b.be16(4), plen.wrapping_sub(hl), off, ipoff);
        }
    }
}

/// `SRC -> DST` without ports.
fn endpoints(f: &IpmonFormatter, t: &mut Vec<u8>, a: Addrs) {
    write_host(f, t, a, false);
    t.extend_from_slice(b" -> ");
    write_host(f, t, a, true);
}

/// ` PR proto len HL PLEN`.
fn pr_len(f: &IpmonFormatter, t: &mut Vec<u8>, pr: u8, hl: u16, plen: u16) {
    t.extend_from_slice(b" PR ");
    f.write_proto(t, pr);
    t.extend_from_slice(b" len ");
    push_u64(t, u64::from(hl));
    t.push(b' ');
    push_u64(t, u64::from(plen));
}

/// `(frag ID:LEN@OFF[+][-])`.
fn frag(t: &mut Vec<u8>, id: u16, len: u16, off: u16, ipoff: u16) {
    t.extend_from_slice(b"(frag ");
    push_u64(t, u64::from(id));
    t.push(b':');
    push_u64(t, u64::from(len));
    t.push(b'@');
    push_u64(t, u64::from(off << 3));
    if ipoff & 0x2000 != 0 {
        t.push(b'+');
    }
    if ipoff & 0x4000 != 0 {
        t.push(b'-');
    }
    t.push(b')');
}

/// The packet inside an ICMP error (§1.8). `h` is the outer header length;
/// C also uses it to find the inner transport header.
fn inner(f: &IpmonFormatter, t: &mut Vec<u8>, b: Bytes<'_>, h: usize) {
    let ipc = h + 8;
    let mut i = b.be16(ipc + 2);
    if i > 1500 {
        i = b.le16(ipc + 2);
    }
    let ipoff = b.be16(ipc + 6);
    let ip_p = b.u8(ipc + 9);
    let ihl = u16::from(b.u8(ipc) & 0x0f) << 2;
    let src = b.v4(ipc + 12);
    let dst = b.v4(ipc + 16);
    let tp = ipc + h;
    let fragmented = ipoff & 0x1fff != 0;
    t.extend_from_slice(b" for ");
    f.write_v4(t, src);
    if !fragmented && (ip_p == proto::TCP || ip_p == proto::UDP) {
        t.push(b',');
        f.write_port(t, ip_p, b.be16(tp));
        t.extend_from_slice(b" - ");
        f.write_v4(t, dst);
        t.push(b',');
        f.write_port(t, ip_p, b.be16(tp + 2));
        pr_len(f, t, ip_p, ihl, i);
    } else if !fragmented && ip_p == proto::ICMP {
        t.extend_from_slice(b" - ");
        f.write_v4(t, dst);
        t.extend_from_slice(b" PR icmp len ");
        push_u64(t, u64::from(ihl));
        t.push(b' ');
        push_u64(t, u64::from(i));
        t.extend_from_slice(b" icmp ");
        push_u64(t, u64::from(b.u8(tp)));
        t.push(b'/');
        push_u64(t, u64::from(b.u8(tp + 1)));
    } else {
        t.extend_from_slice(b" - ");
        f.write_v4(t, dst);
        t.extend_from_slice(b" PR ");
        f.write_proto(t, ip_p);
        t.extend_from_slice(b" len ");
        push_u64(t, u64::from(ihl));
        t.extend_from_slice(b" (");
        push_u64(t, u64::from(i));
        t.push(b')');
        if fragmented {
            frag(
                t,
                b.be16(ipc + 4),
                i.wrapping_sub(ihl),
                ipoff & 0x1fff,
                ipoff,
            );
        }
    }
}

/// IP Filter's IPv6 walk: 40 plus each hop-by-hop, mobility, destination
/// options, routing and AH header (`u_short` arithmetic); a fragment header
/// adds 8 and ends the walk with protocol 44. Stops where the logged bytes
/// end.
fn ipv6_walk(b: Bytes<'_>) -> (u16, u8) {
    let mut hl: u16 = 40;
    let mut pr = b.u8(6);
    // Each step moves at least 8 bytes forward within the packet, so the
    // walk is bounded by the packet length; the cap guards u16 wrap-around.
    for _ in 0..8192 {
        match pr {
            proto::HOPOPTS | proto::MOBILITY | proto::DSTOPTS | proto::ROUTING | proto::AH => {
                let at = usize::from(hl);
                if at.saturating_add(2) > b.0.len() {
                    break;
                }
                pr = b.u8(at);
                let ehl = 8u16.wrapping_add(u16::from(b.u8(at + 1)) << 3);
                hl = hl.wrapping_add(ehl);
            }
            proto::FRAGMENT => {
                hl = hl.wrapping_add(8);
                break;
            }
            _ => break,
        }
    }
    (hl, pr)
}

/// The TRAILER of §1.10.
fn trailer(p: &Line<'_>, t: &mut Vec<u8>) {
    let fl = p.flags;
    if fl.0 & TRAILER_FLAGS == 0 && p.log_tag == 0 && p.nat_tag.is_empty() && p.reason.is_none() {
        // The common line: only the direction.
        match p.direction {
            Some(Direction::In) => t.extend_from_slice(b" IN"),
            Some(Direction::Out) => t.extend_from_slice(b" OUT"),
            None => {}
        }
        return;
    }
    if fl.has(PacketFlags::KEEP_STATE) {
        t.extend_from_slice(b" K-S");
    }
    if fl.has(PacketFlags::KEEP_FRAG) {
        t.extend_from_slice(b" K-F");
    }
    match p.direction {
        Some(Direction::In) => t.extend_from_slice(b" IN"),
        Some(Direction::Out) => t.extend_from_slice(b" OUT"),
        None => {}
    }
    if p.log_tag != 0 {
        t.extend_from_slice(b" log-tag ");
        push_i64(t, i64::from(p.log_tag as i32));
    }
    if !p.nat_tag.is_empty() {
        t.extend_from_slice(b" nat-tag ");
        t.extend_from_slice(p.nat_tag.as_bytes());
    }
    let pieces: [(u32, &[u8]); 8] = [
        (PacketFlags::LOW_TTL, b" low-ttl"),
        (PacketFlags::OOW, b" OOW"),
        (PacketFlags::BAD, b" bad"),
        (PacketFlags::NATED, b" NAT"),
        (PacketFlags::BAD_NAT, b" bad-NAT"),
        (PacketFlags::BAD_SRC, b" bad-src"),
        (PacketFlags::MULTICAST, b" multicast"),
        (PacketFlags::BROADCAST, b" broadcast"),
    ];
    for (bit, text) in pieces {
        if fl.has(bit) {
            t.extend_from_slice(text);
        }
    }
    if fl.has(PacketFlags::MBCAST)
        && !fl.has(PacketFlags::MULTICAST)
        && !fl.has(PacketFlags::BROADCAST)
    {
        t.extend_from_slice(b" mbcast");
    }
    if let Some(r) = p.reason.filter(|r| *r != 0) {
        t.extend_from_slice(b" reason:");
        match REASONS.get(usize::from(r)) {
            Some(name) => t.extend_from_slice(name.as_bytes()),
            None => push_u64(t, u64::from(r)),
        }
    }
}
