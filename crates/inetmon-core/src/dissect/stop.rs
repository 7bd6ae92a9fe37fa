//! Why dissection stopped before the end of the headers.

use std::fmt;

/// A header layer the dissector reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Ethernet.
    Ethernet,
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP.
    Icmp,
    /// ICMPv6.
    Icmpv6,
    /// IGMP.
    Igmp,
    /// VRRP.
    Vrrp,
    /// VXLAN (RFC 7348, UDP port 4789).
    Vxlan,
    /// Geneve (RFC 8926, UDP port 6081).
    Geneve,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Ethernet => "Ethernet",
            Layer::Ipv4 => "IPv4",
            Layer::Ipv6 => "IPv6",
            Layer::Tcp => "TCP",
            Layer::Udp => "UDP",
            Layer::Icmp => "ICMP",
            Layer::Icmpv6 => "ICMPv6",
            Layer::Igmp => "IGMP",
            Layer::Vrrp => "VRRP",
            Layer::Vxlan => "VXLAN",
            Layer::Geneve => "Geneve",
        })
    }
}

/// Why dissection stopped: the capture ended inside a header (truncation),
/// or a header's content is not one the dissector reads (bad content).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Stop {
    /// The event carries no packet bytes.
    #[error("no packet data")]
    NoData,
    /// The capture ends inside the fixed part of a header.
    #[error("{layer} header needs {need} bytes, got {got}")]
    Truncated {
        /// The header.
        layer: Layer,
        /// Bytes its fixed part needs.
        need: usize,
        /// Bytes there are.
        got: usize,
    },
    /// The capture ends inside an 802.1Q tag.
    #[error("802.1Q tag truncated")]
    VlanTruncated,
    /// A link-layer protocol the dissector does not read.
    #[error("unsupported ethertype {0:#06x}")]
    Ethertype(u16),
    /// An IP header whose version nibble is not its layer's.
    #[error("{layer} version is {version}")]
    Version {
        /// The layer the link header announced.
        layer: Layer,
        /// The version nibble found.
        version: u8,
    },
    /// An IPv4 header length (IHL * 4) below the 20-byte minimum.
    #[error("IPv4 header length {0} below 20")]
    Ipv4HeaderLen(usize),
    /// A VXLAN header without the I flag (a valid VNI), which RFC 7348
    /// requires.
    #[error("VXLAN flags {0:#04x} lack the I flag")]
    VxlanFlags(u8),
    /// A Geneve header of a version other than 0.
    #[error("Geneve version {0}")]
    GeneveVersion(u8),
    /// Tunnels nested deeper than the dissector follows.
    #[error("tunnel nested more than {0} deep")]
    TunnelDepth(u8),
}

impl Stop {
    /// Whether the capture ended early (rather than holding bad content).
    #[must_use]
    pub fn is_truncation(&self) -> bool {
        matches!(self, Stop::Truncated { .. } | Stop::VlanTruncated)
    }
}
