//! The connection line of a captured packet (one line, in the grammar of
//! the Cilium monitor; JSON's `summary` member): `1.2.3.4:80 -> 5.6.7.8:443 tcp SYN`,
//! `[fd00::1]:53 -> [fd00::2]:4000 udp`, `1.2.3.4 -> 5.6.7.8 icmp EchoRequest`,
//! `01:02:03:04:05:06 -> ff:ff:ff:ff:ff:ff ARP`, `[unknown]` for no bytes and
//! `[error]` when the first header does not decode; an overlay packet (UDP
//! to the VXLAN or Geneve port) is its inner packet's line with
//! ` [tunnel <outer flow> vxlan|geneve]` appended. Unlike Cilium, a TCP
//! segment without SYN/ACK/RST/FIN has no trailing space, and an IP packet
//! whose transport header is missing still names its protocol.

use std::net::{IpAddr, SocketAddr};

use super::dissect::{ethertype_name, mac, proto_name};
use super::names;
use crate::dissect::{tcp as tcp_flags, PacketView, L4};
use crate::event::CaptureLayer;

/// The connection line of `data`, which starts at `layer`; `ethertype`
/// names the network protocol of a network-layer capture (0: guess from the
/// version nibble).
#[must_use]
pub fn connection_line(data: &[u8], layer: CaptureLayer, ethertype: u16) -> String {
    if data.is_empty() || layer == CaptureLayer::None {
        return "[unknown]".to_owned();
    }
    view_line(&PacketView::capture(data, layer, ethertype))
}

/// The connection line of a dissected packet; an overlay packet is its
/// inner packet's line followed by the outer flow, as the Cilium monitor
/// prints it: `… [tunnel 1.1.1.1:8472 -> 2.2.2.2:4789 vxlan]`.
fn view_line(p: &PacketView<'_>) -> String {
    if let (Some(t), Some(ip), Some(L4::Udp { sport, dport, .. })) = (p.tunnel, p.ip, p.l4) {
        return format!(
            "{} [tunnel {} -> {} {}]",
            view_line(&t.inner_view()),
            SocketAddr::new(ip.src, sport),
            SocketAddr::new(ip.dst, dport),
            t.kind.name()
        );
    }
    let Some(ip) = p.ip else {
        return match p.eth {
            Some(e) if e.ethertype != 0x0800 && e.ethertype != 0x86dd => {
                format!(
                    "{} -> {} {}",
                    mac(e.src),
                    mac(e.dst),
                    ethertype_name(e.ethertype)
                )
            }
            _ => "[error]".to_owned(),
        };
    };
    let hp = |a: IpAddr, port: u16| SocketAddr::new(a, port).to_string();
    match p.l4 {
        Some(L4::Tcp {
            sport,
            dport,
            flags,
            ..
        }) => {
            let mut s = format!("{} -> {} tcp", hp(ip.src, sport), hp(ip.dst, dport));
            let names = [
                (tcp_flags::SYN, "SYN"),
                (tcp_flags::ACK, "ACK"),
                (tcp_flags::RST, "RST"),
                (tcp_flags::FIN, "FIN"),
            ];
            let set: Vec<&str> = names
                .iter()
                .filter(|(b, _)| flags & b != 0)
                .map(|(_, n)| *n)
                .collect();
            if !set.is_empty() {
                s.push(' ');
                s.push_str(&set.join(", "));
            }
            s
        }
        Some(L4::Udp { sport, dport, .. }) => {
            format!("{} -> {} udp", hp(ip.src, sport), hp(ip.dst, dport))
        }
        Some(L4::Icmp {
            v6,
            icmp_type,
            code,
            ..
        }) => format!(
            "{} -> {} {} {}",
            ip.src,
            ip.dst,
            if v6 { "icmpv6" } else { "icmp" },
            names::icmp_type_code(v6, icmp_type, code)
        ),
        Some(L4::Igmp { igmp_type, group }) => {
            let mut s = format!(
                "{} -> {} igmp {}",
                ip.src,
                ip.dst,
                names::igmp_type(igmp_type)
            );
            if names::igmp_has_group(igmp_type) {
                s.push(' ');
                s.push_str(&group.to_string());
            }
            s
        }
        Some(L4::Vrrp {
            version,
            vrrp_type,
            vrid,
            priority,
        }) => format!(
            "{} -> {} vrrp {} {vrid} {priority}",
            ip.src,
            ip.dst,
            names::vrrp_type(version, vrrp_type)
        ),
        None => format!("{} -> {} {}", ip.src, ip.dst, proto_name(ip.proto)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::pkt;
    use super::*;
    use CaptureLayer::{Ethernet as L2, Network as L3};

    /// Asserts each `(packet, layer, ethertype)` gives its line.
    fn expect(cases: &[(&[u8], CaptureLayer, u16, &str)]) {
        for (i, &(packet, layer, ethertype, line)) in cases.iter().enumerate() {
            assert_eq!(connection_line(packet, layer, ethertype), line, "case {i}");
        }
    }

    /// monitor-vectors V5 (TCP, L2 and L3 device) and the empty case.
    #[test]
    fn v5_tcp() {
        let ack = pkt("PKT_TCP_ACK");
        expect(&[
            (&ack, L2, 0, "1.2.3.4:80 -> 5.6.7.8:443 tcp ACK"),
            (&ack[14..], L3, 0x0800, "1.2.3.4:80 -> 5.6.7.8:443 tcp ACK"),
            (
                &pkt("PKT_TCP_SYN"),
                L2,
                0,
                "1.2.3.4:80 -> 5.6.7.8:443 tcp SYN",
            ),
            (&[], L2, 0, "[unknown]"),
        ]);
    }

    /// monitor-vectors V7 (ICMP, IGMP, VRRP).
    #[test]
    fn v7_icmp_igmp_vrrp() {
        expect(&[
            (
                &pkt("PKT_ICMP_UNREACH"),
                L2,
                0,
                "1.2.3.4 -> 5.6.7.8 icmp DestinationUnreachable(Host)",
            ),
            (
                &pkt("PKT_IGMP"),
                L2,
                0,
                "1.2.3.4 -> 224.0.0.251 igmp IGMPv2 Membership Report 224.0.0.251",
            ),
            (
                &pkt("PKT_VRRP"),
                L2,
                0,
                "1.2.3.4 -> 224.0.0.18 vrrp VRRPv2 Advertisement 10 120",
            ),
        ]);
    }

    /// V6's packets without a tunnel flag (our records have none): the outer
    /// UDP flow is summarised.
    #[test]
    fn v6_outer_only() {
        expect(&[(
            &pkt("PKT_VXLAN_SYN"),
            L2,
            0,
            "1.1.1.1:8472 -> 2.2.2.2:9999 udp",
        )]);
    }

    /// V6's packets with the destination port set to the IANA port of the
    /// encapsulation (our records carry no tunnel flag: the port says it).
    fn to_port(name: &str, port: u16) -> Vec<u8> {
        let mut p = pkt(name);
        p[36..38].copy_from_slice(&port.to_be_bytes());
        p
    }

    /// monitor-vectors V6, with the tunnels on their IANA ports.
    #[test]
    fn v6_overlay() {
        let cut = to_port("PKT_VXLAN_SYN", 4789);
        // A VXLAN header without the I flag is not read as one.
        let mut bad = cut.clone();
        bad[42] = 0;
        expect(&[
            (
                &cut,
                L2,
                0,
                "1.2.3.4:80 -> 5.6.7.8:443 tcp SYN [tunnel 1.1.1.1:8472 -> 2.2.2.2:4789 vxlan]",
            ),
            (
                &to_port("PKT_GENEVE_ACK", 6081),
                L2,
                0,
                "1.2.3.4:80 -> 5.6.7.8:443 tcp ACK [tunnel 1.1.1.1:8472 -> 2.2.2.2:6081 geneve]",
            ),
            // The encapsulation cut short: the outer flow alone.
            (&cut[..46], L2, 0, "1.1.1.1:8472 -> 2.2.2.2:4789 udp"),
            // The inner frame cut inside its Ethernet header.
            (
                &cut[..54],
                L2,
                0,
                "[error] [tunnel 1.1.1.1:8472 -> 2.2.2.2:4789 vxlan]",
            ),
            (&bad, L2, 0, "1.1.1.1:8472 -> 2.2.2.2:4789 udp"),
        ]);
    }

    #[test]
    fn other_shapes() {
        let mut v6 = vec![0x60, 0, 0, 0, 0, 20, 6, 64];
        v6.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        v6.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        let mut tcp = vec![
            0x1f, 0x90, 0xa0, 0x1e, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x14, 0, 0, 0, 0, 0, 0,
        ];
        v6.append(&mut tcp);
        let mut no_flags = v6.clone();
        no_flags[53] = 0;
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&[1, 2, 3, 4, 5, 6, 0x08, 0x06, 0, 1]);
        expect(&[
            (
                &v6,
                L3,
                0x86dd,
                "[fd00::1]:8080 -> [fd00::2]:40990 tcp ACK, RST",
            ),
            (&no_flags, L3, 0, "[fd00::1]:8080 -> [fd00::2]:40990 tcp"),
            (&v6[..45], L3, 0, "fd00::1 -> fd00::2 tcp"),
            (&arp, L2, 0, "01:02:03:04:05:06 -> ff:ff:ff:ff:ff:ff ARP"),
            (&[1, 2, 3], L2, 0, "[error]"),
            (&[0x45, 0], L3, 0, "[error]"),
            (&[1], CaptureLayer::None, 0, "[unknown]"),
        ]);
    }
}
