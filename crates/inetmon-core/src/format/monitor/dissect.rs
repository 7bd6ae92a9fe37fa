//! A small dissector of the captured bytes of drops and traces: Ethernet
//! (with one 802.1Q tag), IPv4, IPv6 (extension headers skipped), TCP, UDP,
//! ICMP, ICMPv6, IGMP and VRRP. It feeds both the one-line connection
//! summary and the `-vv` layer lines. Bounds-checked throughout: a short
//! capture yields fewer layers and a note of where decoding stopped.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::dissect::{be16, be32, ipv6_header_len, proto};
use crate::event::CaptureLayer;

/// An Ethernet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Eth {
    pub(crate) dst: [u8; 6],
    pub(crate) src: [u8; 6],
    /// The 802.1Q VLAN id, when tagged.
    pub(crate) vlan: Option<u16>,
    /// The ethertype after any VLAN tag.
    pub(crate) ethertype: u16,
}

/// An IPv4 or IPv6 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ip {
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    /// The transport protocol (after IPv6 extension headers).
    pub(crate) proto: u8,
    /// Header length in bytes (with IPv6 extension headers).
    pub(crate) header_len: usize,
    /// IPv4 total length or IPv6 payload length.
    pub(crate) length: u16,
    /// TTL or hop limit.
    pub(crate) ttl: u8,
    /// IPv4 TOS or IPv6 traffic class.
    pub(crate) tos: u8,
    /// IPv4 id (0 for IPv6).
    pub(crate) id: u16,
    /// IPv4 flags and fragment offset word (0 for IPv6).
    pub(crate) frag: u16,
    /// IPv4 header checksum (0 for IPv6).
    pub(crate) checksum: u16,
    /// IPv6 flow label (0 for IPv4).
    pub(crate) flow_label: u32,
}

impl Ip {
    fn is_later_fragment(&self) -> bool {
        matches!(self.src, IpAddr::V4(_)) && self.frag & 0x1fff != 0
    }
}

/// A transport header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum L4 {
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        data_offset: u8,
        flags: u16,
        window: u16,
        checksum: u16,
        urgent: u16,
    },
    Udp {
        sport: u16,
        dport: u16,
        length: u16,
        checksum: u16,
    },
    Icmp {
        v6: bool,
        icmp_type: u8,
        code: u8,
        checksum: u16,
        /// Id and sequence (echo), or the rest-of-header word.
        rest: u32,
    },
    Igmp {
        igmp_type: u8,
        group: Ipv4Addr,
    },
    Vrrp {
        version: u8,
        vrrp_type: u8,
        vrid: u8,
        priority: u8,
    },
}

/// TCP flag bits.
pub(crate) mod tcp_flags {
    pub(crate) const FIN: u16 = 0x001;
    pub(crate) const SYN: u16 = 0x002;
    pub(crate) const RST: u16 = 0x004;
    pub(crate) const PSH: u16 = 0x008;
    pub(crate) const ACK: u16 = 0x010;
    pub(crate) const URG: u16 = 0x020;
    pub(crate) const ECE: u16 = 0x040;
    pub(crate) const CWR: u16 = 0x080;
    pub(crate) const NS: u16 = 0x100;
}

/// What the dissector found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub(crate) eth: Option<Eth>,
    pub(crate) ip: Option<Ip>,
    pub(crate) l4: Option<L4>,
    /// Bytes after the last decoded header.
    pub(crate) payload: usize,
    /// Why decoding stopped early, if it did.
    pub(crate) stopped: Option<String>,
}

/// Dissects `data`, which starts at `layer`; `ethertype` says which network
/// protocol a network-layer capture holds (0: use the version nibble).
pub(crate) fn parse(data: &[u8], layer: CaptureLayer, ethertype: u16) -> Parsed {
    let mut p = Parsed::default();
    match layer {
        CaptureLayer::None => p.stopped = Some("no packet data".into()),
        CaptureLayer::Ethernet => parse_eth(data, &mut p),
        CaptureLayer::Network => {
            let et = match (ethertype, data.first().map(|b| b >> 4)) {
                (0x0800 | 0x86dd, _) => ethertype,
                (_, Some(4)) => 0x0800,
                (_, Some(6)) => 0x86dd,
                _ => ethertype,
            };
            parse_net(data, et, &mut p);
        }
    }
    p
}

fn parse_eth(data: &[u8], p: &mut Parsed) {
    let (Some(dst), Some(src), Some(mut et)) = (six(data, 0), six(data, 6), be16(data, 12)) else {
        p.stopped = Some(format!(
            "Ethernet header needs 14 bytes, got {}",
            data.len()
        ));
        return;
    };
    let mut at = 14;
    let mut vlan = None;
    if et == 0x8100 {
        let (Some(tci), Some(inner)) = (be16(data, 14), be16(data, 16)) else {
            p.stopped = Some("802.1Q tag truncated".into());
            p.eth = Some(Eth {
                dst,
                src,
                vlan: None,
                ethertype: et,
            });
            return;
        };
        vlan = Some(tci & 0x0fff);
        et = inner;
        at = 18;
    }
    p.eth = Some(Eth {
        dst,
        src,
        vlan,
        ethertype: et,
    });
    let rest = data.get(at..).unwrap_or_default();
    p.payload = rest.len();
    if et == 0x0800 || et == 0x86dd {
        parse_net(rest, et, p);
    }
}

fn six(data: &[u8], at: usize) -> Option<[u8; 6]> {
    data.get(at..at + 6)?.try_into().ok()
}

fn parse_net(data: &[u8], ethertype: u16, p: &mut Parsed) {
    let ip = match ethertype {
        0x0800 => parse_ipv4(data),
        0x86dd => parse_ipv6(data),
        other => Err(format!("unsupported ethertype {other:#06x}")),
    };
    let ip = match ip {
        Ok(ip) => ip,
        Err(e) => {
            p.stopped = Some(e);
            return;
        }
    };
    p.ip = Some(ip);
    let rest = data.get(ip.header_len..).unwrap_or_default();
    p.payload = rest.len();
    if ip.is_later_fragment() {
        return;
    }
    match parse_l4(rest, ip.proto) {
        Ok(Some((l4, hl))) => {
            p.l4 = Some(l4);
            p.payload = rest.len().saturating_sub(hl);
        }
        Ok(None) => {}
        Err(e) => p.stopped = Some(e),
    }
}

fn parse_ipv4(d: &[u8]) -> Result<Ip, String> {
    let (Some(src), Some(dst)) = (be32(d, 12), be32(d, 16)) else {
        return Err(format!("IPv4 header needs 20 bytes, got {}", d.len()));
    };
    let first = d.first().copied().unwrap_or(0);
    if first >> 4 != 4 {
        return Err(format!("IPv4 version is {}", first >> 4));
    }
    let header_len = usize::from(first & 0x0f) * 4;
    if header_len < 20 {
        return Err(format!("IPv4 header length {header_len} below 20"));
    }
    Ok(Ip {
        src: IpAddr::V4(Ipv4Addr::from(src)),
        dst: IpAddr::V4(Ipv4Addr::from(dst)),
        proto: d.get(9).copied().unwrap_or(0),
        header_len: header_len.min(d.len()),
        length: be16(d, 2).unwrap_or(0),
        ttl: d.get(8).copied().unwrap_or(0),
        tos: d.get(1).copied().unwrap_or(0),
        id: be16(d, 4).unwrap_or(0),
        frag: be16(d, 6).unwrap_or(0),
        checksum: be16(d, 10).unwrap_or(0),
        flow_label: 0,
    })
}

fn parse_ipv6(d: &[u8]) -> Result<Ip, String> {
    let (Some(src), Some(dst)) = (d.get(8..24), d.get(24..40)) else {
        return Err(format!("IPv6 header needs 40 bytes, got {}", d.len()));
    };
    let (Ok(src), Ok(dst)) = (<[u8; 16]>::try_from(src), <[u8; 16]>::try_from(dst)) else {
        return Err("IPv6 addresses".into());
    };
    let word = be32(d, 0).unwrap_or(0);
    if word >> 28 != 6 {
        return Err(format!("IPv6 version is {}", word >> 28));
    }
    let (header_len, next) = ipv6_header_len(d);
    Ok(Ip {
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        proto: next,
        header_len: header_len.min(d.len()),
        length: be16(d, 4).unwrap_or(0),
        ttl: d.get(7).copied().unwrap_or(0),
        tos: u8::try_from((word >> 20) & 0xff).unwrap_or(0),
        id: 0,
        frag: 0,
        checksum: 0,
        flow_label: word & 0x000f_ffff,
    })
}

/// The transport header and its length, `None` for protocols not dissected.
fn parse_l4(d: &[u8], proto_num: u8) -> Result<Option<(L4, usize)>, String> {
    let short =
        |name: &str, need: usize| format!("{name} header needs {need} bytes, got {}", d.len());
    let l4 = match proto_num {
        proto::TCP => {
            let (Some(sport), Some(dport), Some(seq), Some(ack), Some(word)) =
                (be16(d, 0), be16(d, 2), be32(d, 4), be32(d, 8), be16(d, 12))
            else {
                return Err(short("TCP", 20));
            };
            let (Some(window), Some(checksum), Some(urgent)) =
                (be16(d, 14), be16(d, 16), be16(d, 18))
            else {
                return Err(short("TCP", 20));
            };
            let data_offset = u8::try_from(word >> 12).unwrap_or(0);
            let hl = (usize::from(data_offset) * 4).clamp(20, d.len().max(20));
            (
                L4::Tcp {
                    sport,
                    dport,
                    seq,
                    ack,
                    data_offset,
                    flags: word & 0x1ff,
                    window,
                    checksum,
                    urgent,
                },
                hl.min(d.len()),
            )
        }
        proto::UDP => {
            let (Some(sport), Some(dport), Some(length), Some(checksum)) =
                (be16(d, 0), be16(d, 2), be16(d, 4), be16(d, 6))
            else {
                return Err(short("UDP", 8));
            };
            (
                L4::Udp {
                    sport,
                    dport,
                    length,
                    checksum,
                },
                8,
            )
        }
        proto::ICMP | proto::ICMPV6 => {
            let (Some(&icmp_type), Some(&code), Some(checksum)) = (d.first(), d.get(1), be16(d, 2))
            else {
                return Err(short(
                    if proto_num == proto::ICMP {
                        "ICMP"
                    } else {
                        "ICMPv6"
                    },
                    4,
                ));
            };
            let rest = be32(d, 4).unwrap_or(0);
            (
                L4::Icmp {
                    v6: proto_num == proto::ICMPV6,
                    icmp_type,
                    code,
                    checksum,
                    rest,
                },
                d.len().min(8),
            )
        }
        2 => {
            let (Some(&igmp_type), Some(group)) = (d.first(), be32(d, 4)) else {
                return Err(short("IGMP", 8));
            };
            (
                L4::Igmp {
                    igmp_type,
                    group: Ipv4Addr::from(group),
                },
                8,
            )
        }
        112 => {
            let (Some(&vt), Some(&vrid), Some(&priority)) = (d.first(), d.get(1), d.get(2)) else {
                return Err(short("VRRP", 3));
            };
            (
                L4::Vrrp {
                    version: vt >> 4,
                    vrrp_type: vt & 0x0f,
                    vrid,
                    priority,
                },
                d.len().min(8),
            )
        }
        _ => return Ok(None),
    };
    Ok(Some(l4))
}

/// The addresses, ports and protocol of a captured packet, for filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flow {
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    pub(crate) proto: u8,
    /// Source and destination ports for TCP/UDP, when decoded.
    pub(crate) ports: Option<(u16, u16)>,
}

/// The flow of a captured packet, when it has an IP header.
pub(crate) fn flow(data: &[u8], layer: CaptureLayer, ethertype: u16) -> Option<Flow> {
    let p = parse(data, layer, ethertype);
    let ip = p.ip?;
    let ports = match p.l4 {
        Some(L4::Tcp { sport, dport, .. } | L4::Udp { sport, dport, .. }) => Some((sport, dport)),
        _ => None,
    };
    Some(Flow {
        src: ip.src,
        dst: ip.dst,
        proto: ip.proto,
        ports,
    })
}

/// Name of an ethertype, e.g. `IPv4`, `ARP`, else hex.
pub(crate) fn ethertype_name(et: u16) -> String {
    match et {
        0x0800 => "IPv4".into(),
        0x0806 => "ARP".into(),
        0x86dd => "IPv6".into(),
        0x8100 => "Dot1Q".into(),
        0x88cc => "LLDP".into(),
        0x8847 => "MPLS".into(),
        other => format!("{other:#06x}"),
    }
}

/// Lower-case name of an IP protocol, else the number.
pub(crate) fn proto_name(p: u8) -> String {
    match p {
        proto::ICMP => "icmp".into(),
        2 => "igmp".into(),
        proto::TCP => "tcp".into(),
        proto::UDP => "udp".into(),
        47 => "gre".into(),
        50 => "esp".into(),
        proto::AH => "ah".into(),
        proto::ICMPV6 => "icmpv6".into(),
        112 => "vrrp".into(),
        132 => "sctp".into(),
        other => format!("proto {other}"),
    }
}

/// `aa:bb:cc:dd:ee:ff`
pub(crate) fn mac(m: [u8; 6]) -> String {
    let mut s = String::with_capacity(17);
    for (i, b) in m.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// TCP flags as names in header order (`FIN,SYN,…`), for layer lines.
fn all_flags(flags: u16) -> String {
    use tcp_flags::{ACK, CWR, ECE, FIN, NS, PSH, RST, SYN, URG};
    let names = [
        (FIN, "FIN"),
        (SYN, "SYN"),
        (RST, "RST"),
        (PSH, "PSH"),
        (ACK, "ACK"),
        (URG, "URG"),
        (ECE, "ECE"),
        (CWR, "CWR"),
        (NS, "NS"),
    ];
    let v: Vec<&str> = names
        .iter()
        .filter(|(b, _)| flags & b != 0)
        .map(|(_, n)| *n)
        .collect();
    v.join(",")
}

/// One line per decoded layer, `Name\t{Field=value …}`, then a note when the
/// capture was cut short or decoding stopped. `orig_len` is the packet's
/// length on the wire.
pub(crate) fn layer_lines(
    data: &[u8],
    layer: CaptureLayer,
    ethertype: u16,
    orig_len: u32,
) -> Vec<String> {
    let p = parse(data, layer, ethertype);
    let mut out = Vec::new();
    if let Some(e) = p.eth {
        let mut l = format!("Ethernet\t{{SrcMAC={} DstMAC={}", mac(e.src), mac(e.dst));
        if let Some(v) = e.vlan {
            let _ = write!(l, " VLAN={v}");
        }
        let _ = write!(l, " EthernetType={}}}", ethertype_name(e.ethertype));
        out.push(l);
    }
    if let Some(ip) = p.ip {
        let proto = proto_name(ip.proto).to_ascii_uppercase();
        let line = match ip.src {
            IpAddr::V4(_) => format!(
                "IPv4\t{{IHL={} TOS={:#04x} Length={} Id={} Flags={} FragOffset={} TTL={} Protocol={} Checksum={:#06x} SrcIP={} DstIP={}}}",
                ip.header_len,
                ip.tos,
                ip.length,
                ip.id,
                ipv4_flags(ip.frag),
                ip.frag & 0x1fff,
                ip.ttl,
                proto,
                ip.checksum,
                ip.src,
                ip.dst
            ),
            IpAddr::V6(_) => format!(
                "IPv6\t{{TrafficClass={:#04x} FlowLabel={:#x} PayloadLength={} NextHeader={} HopLimit={} HeaderLength={} SrcIP={} DstIP={}}}",
                ip.tos, ip.flow_label, ip.length, proto, ip.ttl, ip.header_len, ip.src, ip.dst
            ),
        };
        out.push(line);
    }
    if let Some(l4) = p.l4 {
        out.push(match l4 {
            L4::Tcp { sport, dport, seq, ack, data_offset, flags, window, checksum, urgent } => format!(
                "TCP\t{{SrcPort={sport} DstPort={dport} Seq={seq} Ack={ack} DataOffset={data_offset} Flags={} Window={window} Checksum={checksum:#06x} Urgent={urgent} Payload={}}}",
                all_flags(flags),
                p.payload
            ),
            L4::Udp { sport, dport, length, checksum } => format!(
                "UDP\t{{SrcPort={sport} DstPort={dport} Length={length} Checksum={checksum:#06x} Payload={}}}",
                p.payload
            ),
            L4::Icmp { v6, icmp_type, code, checksum, rest } => format!(
                "{}\t{{TypeCode={} Checksum={checksum:#06x} Id={} Seq={} Payload={}}}",
                if v6 { "ICMPv6" } else { "ICMPv4" },
                super::names::icmp_type_code(v6, icmp_type, code),
                rest >> 16,
                rest & 0xffff,
                p.payload
            ),
            L4::Igmp { igmp_type, group } => {
                format!("IGMP\t{{Type={} Group={group}}}", super::names::igmp_type(igmp_type))
            }
            L4::Vrrp { version, vrrp_type, vrid, priority } => format!(
                "VRRP\t{{Version={version} Type={} VirtualRtrID={vrid} Priority={priority}}}",
                super::names::vrrp_type(version, vrrp_type)
            ),
        });
    }
    if usize::try_from(orig_len).unwrap_or(usize::MAX) > data.len() {
        out.push(format!(
            "  Packet has been truncated ({} of {orig_len} bytes captured)",
            data.len()
        ));
    }
    if let Some(e) = p.stopped {
        out.push(format!("  Failed to decode layer: {e}"));
    }
    out
}

fn ipv4_flags(frag: u16) -> String {
    let mut v = Vec::new();
    if frag & 0x4000 != 0 {
        v.push("DF");
    }
    if frag & 0x2000 != 0 {
        v.push("MF");
    }
    if frag & 0x8000 != 0 {
        v.push("EVIL");
    }
    if v.is_empty() {
        "none".into()
    } else {
        v.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{pkt, PKT_TCP_SYN};
    use super::*;

    #[test]
    fn tcp_syn_layers() {
        let lines = layer_lines(&PKT_TCP_SYN, CaptureLayer::Ethernet, 0, 54);
        assert_eq!(lines, [
            "Ethernet\t{SrcMAC=01:23:45:67:89:ab DstMAC=02:33:45:67:89:ab EthernetType=IPv4}",
            "IPv4\t{IHL=20 TOS=0x00 Length=40 Id=1 Flags=none FragOffset=0 TTL=64 Protocol=TCP Checksum=0x6abc SrcIP=1.2.3.4 DstIP=5.6.7.8}",
            "TCP\t{SrcPort=80 DstPort=443 Seq=0 Ack=0 DataOffset=5 Flags=SYN Window=8192 Checksum=0x7dc4 Urgent=0 Payload=0}",
        ]);
    }

    /// monitor-vectors V8: 3 layer lines for PKT_TCP_SYN, 2 for the L3 form.
    #[test]
    fn v8_layer_counts() {
        let l2 = layer_lines(&PKT_TCP_SYN, CaptureLayer::Ethernet, 0, 54);
        assert_eq!(
            l2.iter()
                .map(|l| l.split('\t').next().unwrap())
                .collect::<Vec<_>>(),
            ["Ethernet", "IPv4", "TCP"]
        );
        let l3 = layer_lines(&pkt("PKT_TCP_ACK")[14..], CaptureLayer::Network, 0, 40);
        assert_eq!(
            l3.iter()
                .map(|l| l.split('\t').next().unwrap())
                .collect::<Vec<_>>(),
            ["IPv4", "TCP"]
        );
    }

    #[test]
    fn ipv6_udp_and_truncation() {
        let mut v6 = vec![0x60, 0, 0, 1, 0, 8, 17, 64];
        v6.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        v6.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        v6.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 8, 0xab, 0xcd]);
        let lines = layer_lines(&v6, CaptureLayer::Network, 0x86dd, 100);
        assert_eq!(lines[0], "IPv6\t{TrafficClass=0x00 FlowLabel=0x1 PayloadLength=8 NextHeader=UDP HopLimit=64 HeaderLength=40 SrcIP=fd00::1 DstIP=fd00::2}");
        assert_eq!(
            lines[1],
            "UDP\t{SrcPort=12345 DstPort=53 Length=8 Checksum=0xabcd Payload=0}"
        );
        assert_eq!(
            lines[2],
            "  Packet has been truncated (48 of 100 bytes captured)"
        );
        let cut = layer_lines(&v6[..44], CaptureLayer::Network, 0x86dd, 48);
        assert_eq!(
            cut.last().unwrap(),
            "  Failed to decode layer: UDP header needs 8 bytes, got 4"
        );
    }

    #[test]
    fn every_prefix_never_panics() {
        for name in [
            "PKT_TCP_SYN",
            "PKT_ICMP_UNREACH",
            "PKT_VXLAN_SYN",
            "PKT_IGMP",
            "PKT_VRRP",
        ] {
            let p = pkt(name);
            for n in 0..=p.len() {
                for layer in [
                    CaptureLayer::Ethernet,
                    CaptureLayer::Network,
                    CaptureLayer::None,
                ] {
                    let _ = layer_lines(&p[..n], layer, 0x0800, 200);
                    let _ = layer_lines(&p[n..], layer, 0x86dd, 0);
                }
            }
        }
    }
}
