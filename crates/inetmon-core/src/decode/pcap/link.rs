//! Link-layer headers of capture records: where the IP packet starts.

use std::ops::Range;

use crate::dissect::be16;
use crate::event::Direction;

/// `LINKTYPE_NULL`: BSD loopback, a 4-byte address family in the writer's
/// byte order.
pub(super) const NULL: u16 = 0;
/// `LINKTYPE_ETHERNET`.
pub(super) const ETHERNET: u16 = 1;
/// `DLT_RAW` as most BSDs number it.
pub(super) const DLT_RAW_12: u16 = 12;
/// `DLT_RAW` as OpenBSD numbers it.
pub(super) const DLT_RAW_14: u16 = 14;
/// `LINKTYPE_RAW`: the record is an IPv4 or IPv6 packet.
pub(super) const RAW: u16 = 101;
/// `LINKTYPE_LOOP`: OpenBSD loopback, family in network byte order.
pub(super) const LOOP: u16 = 108;
/// `LINKTYPE_LINUX_SLL`: Linux cooked capture v1.
pub(super) const SLL: u16 = 113;
/// `LINKTYPE_IPV4`.
pub(super) const IPV4: u16 = 228;
/// `LINKTYPE_IPV6`.
pub(super) const IPV6: u16 = 229;
/// `LINKTYPE_NFLOG`: Linux netfilter log messages.
pub(super) const NFLOG: u16 = 239;
/// `LINKTYPE_LINUX_SLL2`: Linux cooked capture v2.
pub(super) const SLL2: u16 = 276;

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const VLAN_TAGS: [u16; 3] = [0x8100, 0x88a8, 0x9100];

/// What the link layer of a record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Link {
    /// An IP packet at `ip`, with what the link header says.
    Ip {
        /// Range of the IP packet in the record data.
        ip: Range<usize>,
        /// Direction from the SLL packet type.
        direction: Option<Direction>,
        /// Interface index from SLL2.
        ifindex: Option<u32>,
    },
    /// A frame that does not carry IP (ARP, LLDP, …).
    NotIp,
    /// The link header itself is cut short.
    Short {
        /// Bytes the header needs.
        need: usize,
    },
    /// A link type we do not decode.
    Unsupported,
}

fn ip_by_ethertype(ethertype: u16, at: usize, len: usize) -> Link {
    match ethertype {
        ETH_IPV4 | ETH_IPV6 => Link::Ip {
            ip: at..len,
            direction: None,
            ifindex: None,
        },
        _ => Link::NotIp,
    }
}

fn ip_by_version(data: &[u8], at: usize) -> Link {
    match data.get(at).map(|b| b >> 4) {
        Some(4 | 6) => Link::Ip {
            ip: at..data.len(),
            direction: None,
            ifindex: None,
        },
        Some(_) => Link::NotIp,
        None => Link::Short { need: at + 1 },
    }
}

/// Direction from a Linux packet type (`PACKET_HOST` … `PACKET_OUTGOING`).
fn sll_direction(pkttype: u16) -> Option<Direction> {
    match pkttype {
        0..=3 => Some(Direction::In),
        4 => Some(Direction::Out),
        _ => None,
    }
}

/// Finds the IP packet in a record of link type `linktype`. NFLOG is not
/// handled here (see the NFLOG path in the decoder).
pub(super) fn locate_ip(linktype: u16, data: &[u8]) -> Link {
    let len = data.len();
    match linktype {
        RAW | DLT_RAW_12 | DLT_RAW_14 | IPV4 | IPV6 => ip_by_version(data, 0),
        NULL | LOOP => {
            let Some(f) = data.get(..4) else {
                return Link::Short { need: 4 };
            };
            // The family is in the writer's byte order for NULL: a small
            // number is in one of the two halves.
            let fam = u32::from_le_bytes([f[0], f[1], f[2], f[3]])
                .min(u32::from_be_bytes([f[0], f[1], f[2], f[3]]));
            match fam {
                2 | 24 | 28 | 30 => ip_by_version(data, 4),
                _ => Link::NotIp,
            }
        }
        ETHERNET => {
            let mut at = 12;
            loop {
                let Some(t) = be16(data, at) else {
                    return Link::Short { need: at + 2 };
                };
                if VLAN_TAGS.contains(&t) {
                    at += 4;
                } else {
                    return ip_by_ethertype(t, at + 2, len);
                }
            }
        }
        SLL => {
            let (Some(pkttype), Some(proto)) = (be16(data, 0), be16(data, 14)) else {
                return Link::Short { need: 16 };
            };
            match ip_by_ethertype(proto, 16, len) {
                Link::Ip { ip, .. } => Link::Ip {
                    ip,
                    direction: sll_direction(pkttype),
                    ifindex: None,
                },
                other => other,
            }
        }
        SLL2 => {
            let (Some(proto), Some(ifindex), Some(&pkttype)) =
                (be16(data, 0), crate::dissect::be32(data, 4), data.get(10))
            else {
                return Link::Short { need: 20 };
            };
            if len < 20 {
                return Link::Short { need: 20 };
            }
            match ip_by_ethertype(proto, 20, len) {
                Link::Ip { ip, .. } => Link::Ip {
                    ip,
                    direction: sll_direction(u16::from(pkttype)),
                    ifindex: Some(ifindex),
                },
                other => other,
            }
        }
        _ => Link::Unsupported,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethernet_with_qinq() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2, 0x08, 0x00, 0x45]);
        assert_eq!(
            locate_ip(ETHERNET, &f),
            Link::Ip {
                ip: 22..23,
                direction: None,
                ifindex: None
            }
        );
        let mut arp = vec![0u8; 12];
        arp.extend_from_slice(&[0x08, 0x06, 0, 1]);
        assert_eq!(locate_ip(ETHERNET, &arp), Link::NotIp);
        assert_eq!(locate_ip(ETHERNET, &f[..17]), Link::Short { need: 18 });
    }

    #[test]
    fn sll_directions() {
        let mut f = vec![0, 4, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x86, 0xdd, 0x60];
        assert_eq!(
            locate_ip(SLL, &f),
            Link::Ip {
                ip: 16..17,
                direction: Some(Direction::Out),
                ifindex: None
            }
        );
        f[1] = 0;
        assert_eq!(
            locate_ip(SLL, &f),
            Link::Ip {
                ip: 16..17,
                direction: Some(Direction::In),
                ifindex: None
            }
        );
        let f2 = [
            0x08, 0, 0, 0, 0, 0, 0, 7, 0, 1, 4, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x45,
        ];
        assert_eq!(
            locate_ip(SLL2, &f2),
            Link::Ip {
                ip: 20..21,
                direction: Some(Direction::Out),
                ifindex: Some(7)
            }
        );
        assert_eq!(locate_ip(SLL2, &f2[..19]), Link::Short { need: 20 });
    }

    #[test]
    fn raw_and_null() {
        assert_eq!(
            locate_ip(RAW, &[0x60]),
            Link::Ip {
                ip: 0..1,
                direction: None,
                ifindex: None
            }
        );
        assert_eq!(locate_ip(RAW, &[0x10]), Link::NotIp);
        assert_eq!(locate_ip(IPV4, &[]), Link::Short { need: 1 });
        assert_eq!(
            locate_ip(NULL, &[2, 0, 0, 0, 0x45]),
            Link::Ip {
                ip: 4..5,
                direction: None,
                ifindex: None
            }
        );
        assert_eq!(
            locate_ip(LOOP, &[0, 0, 0, 24, 0x60]),
            Link::Ip {
                ip: 4..5,
                direction: None,
                ifindex: None
            }
        );
        assert_eq!(locate_ip(147, &[0x45]), Link::Unsupported);
    }
}
