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
/// Transparent Ethernet Bridging: Geneve's protocol type for an inner
/// Ethernet frame (VXLAN always carries one).
pub const ETHERTYPE_TEB: u16 = 0x6558;
/// The IANA UDP port of VXLAN (RFC 7348).
pub const VXLAN_PORT: u16 = 4789;
/// The IANA UDP port of Geneve (RFC 8926).
pub const GENEVE_PORT: u16 = 6081;
/// How many tunnels inside tunnels are followed (deeper ones stop with
/// [`Stop::TunnelDepth`]): bounds the work on hostile input.
pub const MAX_TUNNEL_DEPTH: u8 = 4;

/// An overlay encapsulation, recognised by the UDP destination port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    /// VXLAN (UDP 4789).
    Vxlan,
    /// Geneve (UDP 6081).
    Geneve,
}

impl TunnelKind {
    /// `vxlan` or `geneve`, as the Cilium monitor's `[tunnel …]` marker
    /// names them.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
        }
    }
}

/// The encapsulation header of an overlay packet and the packet it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tunnel<'a> {
    /// VXLAN or Geneve.
    pub kind: TunnelKind,
    /// The 24-bit virtual network identifier.
    pub vni: u32,
    /// The first header byte: VXLAN's flags, Geneve's version and option
    /// length.
    pub flags: u8,
    /// Length of the encapsulation header (VXLAN 8; Geneve 8 plus options).
    pub header_len: usize,
    /// The inner packet's protocol: [`ETHERTYPE_TEB`] for an Ethernet frame
    /// (always for VXLAN), or an IP ethertype (Geneve).
    pub protocol: u16,
    /// The encapsulated packet's captured bytes.
    pub inner: &'a [u8],
    /// How many tunnels enclose the inner packet (1 for a plain overlay).
    pub depth: u8,
}

impl<'a> Tunnel<'a> {
    /// The encapsulated packet, dissected (its own tunnel, if any, is
    /// followed up to [`MAX_TUNNEL_DEPTH`]).
    #[must_use]
    pub fn inner_view(&self) -> PacketView<'a> {
        let mut p = PacketView {
            depth: self.depth,
            ..PacketView::default()
        };
        match self.protocol {
            ETHERTYPE_TEB => p.eth(self.inner),
            et => p.net(self.inner, et),
        }
        p
    }
}

/// The encapsulation header at the start of `d` (a UDP payload to `kind`'s
/// port) around a packet `depth` tunnels deep.
///
/// # Errors
/// [`Stop::Truncated`] when the header is cut short, [`Stop::VxlanFlags`]
/// or [`Stop::GeneveVersion`] for a header that is not one.
pub fn tunnel(d: &[u8], kind: TunnelKind, depth: u8) -> Result<Tunnel<'_>, Stop> {
    let (layer, fixed) = match kind {
        TunnelKind::Vxlan => (Layer::Vxlan, 8),
        TunnelKind::Geneve => (Layer::Geneve, 8),
    };
    let (Some(&flags), Some(word)) = (d.first(), be32(d, 4)) else {
        return Err(Stop::Truncated {
            layer,
            need: fixed,
            got: d.len(),
        });
    };
    let vni = word >> 8;
    let (header_len, protocol) = match kind {
        TunnelKind::Vxlan => {
            if flags & 0x08 == 0 {
                return Err(Stop::VxlanFlags(flags));
            }
            (8, ETHERTYPE_TEB)
        }
        TunnelKind::Geneve => {
            if flags >> 6 != 0 {
                return Err(Stop::GeneveVersion(flags >> 6));
            }
            let hl = 8 + usize::from(flags & 0x3f) * 4;
            if d.len() < hl {
                return Err(Stop::Truncated {
                    layer,
                    need: hl,
                    got: d.len(),
                });
            }
            (hl, be16(d, 2).unwrap_or(0))
        }
    };
    Ok(Tunnel {
        kind,
        vni,
        flags,
        header_len,
        protocol,
        inner: d.get(header_len..).unwrap_or_default(),
        depth,
    })
}

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
    /// The overlay header when the transport is UDP to the VXLAN or Geneve
    /// port and its header is valid; [`Tunnel::inner_view`] dissects the
    /// packet inside.
    pub tunnel: Option<Tunnel<'a>>,
    /// How many tunnels enclose this packet (0: the outermost).
    pub depth: u8,
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
                if let L4::Udp { dport, .. } = l4 {
                    self.overlay(rest.get(hl..).unwrap_or_default(), dport);
                }
            }
            Ok(None) => {}
            Err(e) => self.stop = Some(e),
        }
    }

    /// Reads the overlay header of a UDP payload sent to `dport`, when that
    /// is the VXLAN or Geneve port.
    fn overlay(&mut self, payload: &'a [u8], dport: u16) {
        let kind = match dport {
            VXLAN_PORT => TunnelKind::Vxlan,
            GENEVE_PORT => TunnelKind::Geneve,
            _ => return,
        };
        if self.depth >= MAX_TUNNEL_DEPTH {
            self.stop = Some(Stop::TunnelDepth(MAX_TUNNEL_DEPTH));
            return;
        }
        match tunnel(payload, kind, self.depth + 1) {
            Ok(t) => {
                self.payload = t.inner.len();
                self.tunnel = Some(t);
            }
            Err(e) => self.stop = Some(e),
        }
    }

    /// The innermost packet: this one when it is not an overlay, else the
    /// innermost of the packet its tunnel carries.
    #[must_use]
    pub fn innermost(&self) -> PacketView<'a> {
        let mut p = *self;
        while let Some(t) = p.tunnel {
            p = t.inner_view();
        }
        p
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
