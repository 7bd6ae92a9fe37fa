//! The text of a dissected capture for monitor lines: the `-vv` layer
//! lines and the names they use. The dissection itself is
//! [`crate::dissect::PacketView`].

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::dissect::{proto, tcp, PacketView, TunnelKind, L4};
use crate::event::CaptureLayer;

/// Name of an ethertype, e.g. `IPv4`, `ARP`, else hex.
pub(crate) fn ethertype_name(et: u16) -> String {
    match et {
        0x0800 => "IPv4".into(),
        0x0806 => "ARP".into(),
        0x86dd => "IPv6".into(),
        0x8100 => "Dot1Q".into(),
        0x88cc => "LLDP".into(),
        0x8847 => "MPLS".into(),
        0x6558 => "TransparentEthernetBridging".into(),
        other => format!("{other:#06x}"),
    }
}

/// Lower-case short name of an IP protocol ([`proto::Protocol::short`]),
/// else `proto N`.
pub(crate) fn proto_name(p: u8) -> String {
    match proto::lookup(p).and_then(|r| r.short) {
        Some(name) => name.to_owned(),
        None => format!("proto {p}"),
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
    tcp::names(flags).collect::<Vec<_>>().join(",")
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
    let p = PacketView::capture(data, layer, ethertype);
    let mut out = Vec::new();
    let stop = view_lines(&p, &mut out);
    if usize::try_from(orig_len).unwrap_or(usize::MAX) > data.len() {
        out.push(format!(
            "  Packet has been truncated ({} of {orig_len} bytes captured)",
            data.len()
        ));
    }
    if let Some(e) = stop {
        out.push(format!("  Failed to decode layer: {e}"));
    }
    out
}

/// Appends the layer lines of one dissected packet, an overlay's
/// encapsulation header (`VXLAN`/`Geneve`) followed by the lines of the
/// packet inside; returns why decoding stopped (the innermost packet's
/// reason), if it did.
fn view_lines(p: &PacketView<'_>, out: &mut Vec<String>) -> Option<crate::dissect::Stop> {
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
    if let Some(t) = p.tunnel {
        out.push(match t.kind {
            TunnelKind::Vxlan => format!("VXLAN\t{{Flags={:#04x} VNI={}}}", t.flags, t.vni),
            TunnelKind::Geneve => format!(
                "Geneve\t{{Version={} OptionsLength={} Protocol={} VNI={}}}",
                t.flags >> 6,
                t.header_len - 8,
                ethertype_name(t.protocol),
                t.vni
            ),
        });
        return view_lines(&t.inner_view(), out);
    }
    p.stop
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

    /// monitor-vectors V8: Geneve carries 7 layer lines (outer Ethernet,
    /// IPv4, UDP, Geneve, inner Ethernet, IPv4, TCP).
    #[test]
    fn v8_geneve_layers() {
        let mut g = pkt("PKT_GENEVE_ACK");
        g[36..38].copy_from_slice(&6081u16.to_be_bytes());
        let lines = layer_lines(&g, CaptureLayer::Ethernet, 0, 104);
        assert_eq!(
            lines
                .iter()
                .map(|l| l.split('\t').next().unwrap())
                .collect::<Vec<_>>(),
            ["Ethernet", "IPv4", "UDP", "Geneve", "Ethernet", "IPv4", "TCP"]
        );
        assert_eq!(
            lines[3],
            "Geneve\t{Version=0 OptionsLength=0 Protocol=TransparentEthernetBridging VNI=2}"
        );
        let mut v = pkt("PKT_VXLAN_SYN");
        v[36..38].copy_from_slice(&4789u16.to_be_bytes());
        let lines = layer_lines(&v[..66], CaptureLayer::Ethernet, 0, 104);
        assert_eq!(lines[3], "VXLAN\t{Flags=0x0c VNI=2}");
        assert_eq!(
            lines[4..],
            [
                "Ethernet\t{SrcMAC=01:23:45:67:89:ab DstMAC=02:33:45:67:89:ab EthernetType=IPv4}",
                "  Packet has been truncated (66 of 104 bytes captured)",
                "  Failed to decode layer: IPv4 header needs 20 bytes, got 2",
            ]
        );
    }

    #[test]
    fn every_prefix_never_panics() {
        for name in [
            "PKT_TCP_SYN",
            "PKT_ICMP_UNREACH",
            "PKT_VXLAN_SYN",
            "PKT_GENEVE_ACK",
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
