//! [`PacketView`]: link, IP and transport headers of a captured packet, how
//! far decoding got and why it stopped.

use std::net::{IpAddr, Ipv4Addr};

use super::bytes::{array, be16, be32};
use super::ip::{IpHeader, IpVersion, IpView};
use super::proto;
use super::stop::{Layer, Stop};
use crate::event::CaptureLayer;

/// The IPv4 ethertype.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// The IPv6 ethertype.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// The 802.1Q ethertype.
pub const ETHERTYPE_VLAN: u16 = 0x8100;

/// An Ethernet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eth {
    /// Destination MAC.
    pub dst: [u8; 6],
    /// Source MAC.
    pub src: [u8; 6],
    /// The 802.1Q VLAN id, when tagged.
    pub vlan: Option<u16>,
    /// The ethertype after any VLAN tag.
    pub ethertype: u16,
}

/// A complete transport header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // the fields are the header fields they are named after
pub enum L4 {
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        data_offset: u8,
        /// The 9 flag bits ([`super::tcp`]).
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

/// What dissection of a capture found: each layer whose header is complete,
/// the bytes after the last one, and why it stopped early, if it did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketView<'a> {
    /// The Ethernet header (link-layer captures).
    pub eth: Option<Eth>,
    /// The IP layer, read laxly (present whenever the bytes are meant to be
    /// IP, even when its header is cut short).
    pub ip_view: Option<IpView<'a>>,
    /// The complete IP header.
    pub ip: Option<IpHeader>,
    /// The complete transport header (not for later IPv4 fragments).
    pub l4: Option<L4>,
    /// Bytes after the last decoded header.
    pub payload: usize,
    /// Why decoding stopped early, if it did.
    pub stop: Option<Stop>,
}

impl<'a> PacketView<'a> {
    /// Dissects `data`, which starts at `layer`; `ethertype` says which
    /// network protocol a network-layer capture holds (0, or anything that
    /// is not IP: use the version nibble).
    #[must_use]
    pub fn capture(data: &'a [u8], layer: CaptureLayer, ethertype: u16) -> Self {
        let mut p = PacketView::default();
        match layer {
            CaptureLayer::None => p.stop = Some(Stop::NoData),
            CaptureLayer::Ethernet => p.eth(data),
            CaptureLayer::Network => {
                let et = match (ethertype, data.first().map(|b| b >> 4)) {
                    (ETHERTYPE_IPV4 | ETHERTYPE_IPV6, _) => ethertype,
                    (_, Some(4)) => ETHERTYPE_IPV4,
                    (_, Some(6)) => ETHERTYPE_IPV6,
                    _ => ethertype,
                };
                p.net(data, et);
            }
        }
        p
    }

    /// Dissects `data`, which starts with an IP header.
    #[must_use]
    pub fn ip(data: &'a [u8]) -> Self {
        Self::capture(data, CaptureLayer::Network, 0)
    }

    fn eth(&mut self, data: &'a [u8]) {
        let (Some(dst), Some(src), Some(mut et)) = (array(data, 0), array(data, 6), be16(data, 12))
        else {
            self.stop = Some(Stop::Truncated {
                layer: Layer::Ethernet,
                need: 14,
                got: data.len(),
            });
            return;
        };
        let mut at = 14;
        let mut vlan = None;
        if et == ETHERTYPE_VLAN {
            let (Some(tci), Some(inner)) = (be16(data, 14), be16(data, 16)) else {
                self.stop = Some(Stop::VlanTruncated);
                self.eth = Some(Eth {
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
        self.eth = Some(Eth {
            dst,
            src,
            vlan,
            ethertype: et,
        });
        let rest = data.get(at..).unwrap_or_default();
        self.payload = rest.len();
        if et == ETHERTYPE_IPV4 || et == ETHERTYPE_IPV6 {
            self.net(rest, et);
        }
    }

    fn net(&mut self, data: &'a [u8], ethertype: u16) {
        let version = match ethertype {
            ETHERTYPE_IPV4 => IpVersion::V4,
            ETHERTYPE_IPV6 => IpVersion::V6,
            other => {
                self.stop = Some(Stop::Ethertype(other));
                return;
            }
        };
        let view = IpView::with_version(data, version);
        self.ip_view = Some(view);
        let ip = match view.header() {
            Ok(ip) => ip,
            Err(e) => {
                self.stop = Some(e);
                return;
            }
        };
        self.ip = Some(ip);
        let rest = data.get(ip.header_len..).unwrap_or_default();
        self.payload = rest.len();
        if ip.is_later_fragment() {
            return;
        }
        match transport(rest, ip.proto) {
            Ok(Some((l4, hl))) => {
                self.l4 = Some(l4);
                self.payload = rest.len().saturating_sub(hl);
            }
            Ok(None) => {}
            Err(e) => self.stop = Some(e),
        }
    }

    /// The addresses, protocol and ports, when the IP header is complete.
    #[must_use]
    pub fn flow(&self) -> Option<Flow> {
        let ip = self.ip?;
        let ports = match self.l4 {
            Some(L4::Tcp { sport, dport, .. } | L4::Udp { sport, dport, .. }) => {
                Some((sport, dport))
            }
            _ => None,
        };
        Some(Flow {
            src: ip.src,
            dst: ip.dst,
            proto: ip.proto,
            ports,
        })
    }
}

/// The addresses, ports and protocol of a captured packet, for filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// The transport protocol.
    pub proto: u8,
    /// Source and destination ports for TCP/UDP, when decoded.
    pub ports: Option<(u16, u16)>,
}

/// The transport header of protocol `proto_num` at the start of `d`, and
/// its length; `None` for protocols not dissected.
///
/// # Errors
/// [`Stop::Truncated`] when `d` is shorter than the header's fixed part.
pub fn transport(d: &[u8], proto_num: u8) -> Result<Option<(L4, usize)>, Stop> {
    let short = |layer, need| Stop::Truncated {
        layer,
        need,
        got: d.len(),
    };
    let l4 = match proto_num {
        proto::TCP => {
            let (Some(sport), Some(dport), Some(seq), Some(ack), Some(word)) =
                (be16(d, 0), be16(d, 2), be32(d, 4), be32(d, 8), be16(d, 12))
            else {
                return Err(short(Layer::Tcp, 20));
            };
            let (Some(window), Some(checksum), Some(urgent)) =
                (be16(d, 14), be16(d, 16), be16(d, 18))
            else {
                return Err(short(Layer::Tcp, 20));
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
                return Err(short(Layer::Udp, 8));
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
            let v6 = proto_num == proto::ICMPV6;
            let (Some(&icmp_type), Some(&code), Some(checksum)) = (d.first(), d.get(1), be16(d, 2))
            else {
                return Err(short(if v6 { Layer::Icmpv6 } else { Layer::Icmp }, 4));
            };
            (
                L4::Icmp {
                    v6,
                    icmp_type,
                    code,
                    checksum,
                    rest: be32(d, 4).unwrap_or(0),
                },
                d.len().min(8),
            )
        }
        proto::IGMP => {
            let (Some(&igmp_type), Some(group)) = (d.first(), be32(d, 4)) else {
                return Err(short(Layer::Igmp, 8));
            };
            (
                L4::Igmp {
                    igmp_type,
                    group: Ipv4Addr::from(group),
                },
                8,
            )
        }
        proto::VRRP => {
            let (Some(&vt), Some(&vrid), Some(&priority)) = (d.first(), d.get(1), d.get(2)) else {
                return Err(short(Layer::Vrrp, 3));
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
