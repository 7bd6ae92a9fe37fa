//! The IP layer of a packet, read laxly: [`IpView`].

use std::net::{IpAddr, Ipv4Addr};

use super::bytes::{be16, be32, ipv4, ipv6};
use super::proto;
use super::stop::{Layer, Stop};

/// IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpVersion {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// A lax view of an IP header: it never fails to build, and each field
/// reads as `None` when the captured bytes do not reach it, so a truncated
/// packet still shows what it has. The IPv6 extension headers are walked
/// the way IP Filter walks them (see [`IpView::header_len`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpView<'a> {
    bytes: &'a [u8],
    version: IpVersion,
    header_len: usize,
    protocol: Option<u8>,
}

impl<'a> IpView<'a> {
    /// The view of `bytes`, an IP packet of the version its first nibble
    /// says; `None` when that is neither 4 nor 6.
    #[must_use]
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        match bytes.first()? >> 4 {
            4 => Some(Self::with_version(bytes, IpVersion::V4)),
            6 => Some(Self::with_version(bytes, IpVersion::V6)),
            _ => None,
        }
    }

    /// The view of `bytes` read as `version` whatever its nibble says
    /// (when a link header named the protocol; [`IpView::header`] then
    /// checks the nibble).
    #[must_use]
    pub fn with_version(bytes: &'a [u8], version: IpVersion) -> Self {
        let (header_len, protocol) = match version {
            IpVersion::V4 => (
                usize::from(bytes.first().copied().unwrap_or(0) & 0x0f) * 4,
                bytes.get(9).copied(),
            ),
            IpVersion::V6 => {
                let (hl, next) = ipv6_walk(bytes);
                (hl, bytes.get(6).map(|_| next))
            }
        };
        IpView {
            bytes,
            version,
            header_len,
            protocol,
        }
    }

    /// The bytes from the start of the IP header to the end of the capture.
    #[must_use]
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The IP version.
    #[must_use]
    pub fn version(&self) -> IpVersion {
        self.version
    }

    /// The header length as the header says, not capped by the capture:
    /// IPv4 `IHL * 4`; IPv6 40 plus each hop-by-hop, routing, destination
    /// options, mobility and AH header the capture holds, plus 8 for a
    /// fragment header, which ends the walk.
    #[must_use]
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// The transport protocol: IPv4's protocol byte; for IPv6 the one after
    /// the extension headers ([`proto::FRAGMENT`] after a fragment header).
    #[must_use]
    pub fn protocol(&self) -> Option<u8> {
        self.protocol
    }

    /// The source address.
    #[must_use]
    pub fn src(&self) -> Option<IpAddr> {
        match self.version {
            IpVersion::V4 => ipv4(self.bytes, 12).map(IpAddr::V4),
            IpVersion::V6 => ipv6(self.bytes, 8).map(IpAddr::V6),
        }
    }

    /// The destination address.
    #[must_use]
    pub fn dst(&self) -> Option<IpAddr> {
        match self.version {
            IpVersion::V4 => ipv4(self.bytes, 16).map(IpAddr::V4),
            IpVersion::V6 => ipv6(self.bytes, 24).map(IpAddr::V6),
        }
    }

    /// The length field: IPv4 total length, IPv6 payload length.
    #[must_use]
    pub fn length_field(&self) -> Option<u16> {
        match self.version {
            IpVersion::V4 => be16(self.bytes, 2),
            IpVersion::V6 => be16(self.bytes, 4),
        }
    }

    /// The packet's length as its header gives it (IPv6: payload length
    /// plus 40).
    #[must_use]
    pub fn wire_len(&self) -> Option<u32> {
        self.length_field().map(|l| self.total(l))
    }

    /// [`IpView::wire_len`] when the length field is not 0: a zero length
    /// (GSO, BIG TCP, jumbograms) claims nothing.
    #[must_use]
    pub fn claimed_len(&self) -> Option<u32> {
        self.length_field()
            .filter(|&l| l != 0)
            .map(|l| self.total(l))
    }

    /// The packet length a length field of `l` means.
    fn total(&self, l: u16) -> u32 {
        match self.version {
            IpVersion::V4 => u32::from(l),
            IpVersion::V6 => u32::from(l) + 40,
        }
    }

    /// Whether this is an IPv4 fragment other than the first (IPv6: never,
    /// its fragment header ends the walk instead).
    #[must_use]
    pub fn is_later_fragment(&self) -> Option<bool> {
        match self.version {
            IpVersion::V4 => be16(self.bytes, 6).map(|f| f & 0x1fff != 0),
            IpVersion::V6 => Some(false),
        }
    }

    /// The bytes after the IP header (empty when the capture ends first).
    #[must_use]
    pub fn transport_bytes(&self) -> &'a [u8] {
        self.bytes.get(self.header_len..).unwrap_or_default()
    }

    /// The complete fixed header, or why it is not there: too few bytes
    /// for the fixed part, a version nibble other than the view's, or an
    /// IPv4 header length below 20.
    ///
    /// # Errors
    /// [`Stop::Truncated`], [`Stop::Version`] or [`Stop::Ipv4HeaderLen`].
    pub fn header(&self) -> Result<IpHeader, Stop> {
        let d = self.bytes;
        let truncated = |layer, need| Stop::Truncated {
            layer,
            need,
            got: d.len(),
        };
        match self.version {
            IpVersion::V4 => {
                let (Some(src), Some(dst)) = (be32(d, 12), be32(d, 16)) else {
                    return Err(truncated(Layer::Ipv4, 20));
                };
                let first = d.first().copied().unwrap_or(0);
                if first >> 4 != 4 {
                    return Err(Stop::Version {
                        layer: Layer::Ipv4,
                        version: first >> 4,
                    });
                }
                if self.header_len < 20 {
                    return Err(Stop::Ipv4HeaderLen(self.header_len));
                }
                Ok(IpHeader {
                    src: IpAddr::V4(Ipv4Addr::from(src)),
                    dst: IpAddr::V4(Ipv4Addr::from(dst)),
                    proto: self.protocol.unwrap_or(0),
                    header_len: self.header_len.min(d.len()),
                    length: be16(d, 2).unwrap_or(0),
                    ttl: d.get(8).copied().unwrap_or(0),
                    tos: d.get(1).copied().unwrap_or(0),
                    id: be16(d, 4).unwrap_or(0),
                    frag: be16(d, 6).unwrap_or(0),
                    checksum: be16(d, 10).unwrap_or(0),
                    flow_label: 0,
                })
            }
            IpVersion::V6 => {
                let (Some(src), Some(dst)) = (ipv6(d, 8), ipv6(d, 24)) else {
                    return Err(truncated(Layer::Ipv6, 40));
                };
                let word = be32(d, 0).unwrap_or(0);
                let version = u8::try_from(word >> 28).unwrap_or(0);
                if version != 6 {
                    return Err(Stop::Version {
                        layer: Layer::Ipv6,
                        version,
                    });
                }
                Ok(IpHeader {
                    src: IpAddr::V6(src),
                    dst: IpAddr::V6(dst),
                    proto: self.protocol.unwrap_or(0),
                    header_len: self.header_len.min(d.len()),
                    length: be16(d, 4).unwrap_or(0),
                    ttl: d.get(7).copied().unwrap_or(0),
                    tos: u8::try_from((word >> 20) & 0xff).unwrap_or(0),
                    id: 0,
                    frag: 0,
                    checksum: 0,
                    flow_label: word & 0x000f_ffff,
                })
            }
        }
    }
}

/// A complete IPv4 or IPv6 fixed header (see [`IpView::header`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpHeader {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// The transport protocol (after IPv6 extension headers).
    pub proto: u8,
    /// Header length in bytes (with IPv6 extension headers), capped by the
    /// capture.
    pub header_len: usize,
    /// IPv4 total length or IPv6 payload length.
    pub length: u16,
    /// TTL or hop limit.
    pub ttl: u8,
    /// IPv4 TOS or IPv6 traffic class.
    pub tos: u8,
    /// IPv4 id (0 for IPv6).
    pub id: u16,
    /// IPv4 flags and fragment offset word (0 for IPv6).
    pub frag: u16,
    /// IPv4 header checksum (0 for IPv6).
    pub checksum: u16,
    /// IPv6 flow label (0 for IPv4).
    pub flow_label: u32,
}

impl IpHeader {
    /// Whether this is an IPv4 fragment other than the first.
    #[must_use]
    pub fn is_later_fragment(&self) -> bool {
        matches!(self.src, IpAddr::V4(_)) && self.frag & 0x1fff != 0
    }
}

/// Walks the IPv6 extension headers the way IP Filter does: returns the
/// header length (40 plus each extension header) and the protocol after
/// them. A fragment header adds 8 bytes and ends the walk with protocol 44.
fn ipv6_walk(packet: &[u8]) -> (usize, u8) {
    let mut hl = 40usize;
    let mut next = packet.get(6).copied().unwrap_or(0);
    // Bounded: each step advances at least 8 bytes, and at most 16 steps.
    for _ in 0..16 {
        match next {
            proto::HOPOPTS | proto::MOBILITY | proto::DSTOPTS | proto::ROUTING | proto::AH => {
                let (Some(&nxt), Some(&len)) = (packet.get(hl), packet.get(hl + 1)) else {
                    break;
                };
                next = nxt;
                hl += 8 + usize::from(len) * 8;
            }
            proto::FRAGMENT => {
                hl += 8;
                break;
            }
            _ => break,
        }
    }
    (hl, next)
}

/// The length IP Filter would record as `fl_hlen` for this packet (see
/// [`IpView::ipf_header_len`]); 0 when the packet is not IPv4 or IPv6.
///
/// This is the split between "header" and "body" used by `ipmon -b`.
#[must_use]
pub fn ipf_header_len(packet: &[u8]) -> u16 {
    IpView::new(packet).map_or(0, |ip| ip.ipf_header_len())
}

impl IpView<'_> {
    /// The length IP Filter would record as `fl_hlen`: the IP header (with
    /// IPv6 extension headers) plus a fixed-size transport part — TCP 20,
    /// UDP 8, ICMP 28 (36 for error types), ICMPv6 8 (16 for types below
    /// 128) — each capped by the bytes present. Non-first IPv4 fragments
    /// count the IP header only.
    #[must_use]
    pub fn ipf_header_len(&self) -> u16 {
        let packet = self.bytes;
        let hl = self.header_len.min(packet.len());
        if self.is_later_fragment().unwrap_or(false) {
            return clamp_len(hl);
        }
        let dlen = packet.len() - hl;
        let transport = match self.protocol.unwrap_or(0) {
            proto::TCP => 20,
            proto::UDP => 8,
            proto::ICMP => match packet.get(hl) {
                Some(3 | 4 | 5 | 11 | 12) => 36,
                _ => 28,
            },
            proto::ICMPV6 => match packet.get(hl) {
                Some(t) if *t < 128 => 16,
                _ => 8,
            },
            _ => 0,
        };
        clamp_len(hl + dlen.min(transport))
    }
}

fn clamp_len(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}
