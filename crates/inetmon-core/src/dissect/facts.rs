//! [`HeaderFacts`]: what a lax read of a logged packet's IP and transport
//! headers gives, field by field.

use std::net::IpAddr;

use super::bytes::be16;
use super::ip::{IpVersion, IpView};
use super::proto;

/// The addresses, protocol, ports, TCP flags and ICMP type of a packet,
/// each `None` when the captured bytes do not reach it. Shown by JSON
/// output and matched by ipmon.conf.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeaderFacts {
    /// The transport protocol (IPv6: after the extension headers; only
    /// when the 40-byte header is complete).
    pub protocol: Option<u8>,
    /// Source address.
    pub src: Option<IpAddr>,
    /// Destination address.
    pub dst: Option<IpAddr>,
    /// TCP/UDP source port.
    pub sport: Option<u16>,
    /// TCP/UDP destination port.
    pub dport: Option<u16>,
    /// TCP flag byte (byte 13).
    pub tcp_flags: Option<u8>,
    /// ICMP/ICMPv6 type.
    pub icmp_type: Option<u8>,
    /// ICMP/ICMPv6 code.
    pub icmp_code: Option<u8>,
    /// The length the IP header gives ([`IpView::wire_len`]).
    pub len: Option<u32>,
}

impl HeaderFacts {
    /// Reads what it can of the IP and transport headers of `p`. The
    /// transport header is read only for a first fragment with an IPv4
    /// header length of at least 20 (IPv6: a complete 40-byte header).
    #[must_use]
    pub fn of(p: &[u8]) -> Self {
        let mut s = HeaderFacts::default();
        let Some(ip) = IpView::new(p) else {
            return s;
        };
        s.len = ip.wire_len();
        s.src = ip.src();
        s.dst = ip.dst();
        match ip.version() {
            IpVersion::V4 => {
                s.protocol = ip.protocol();
                if ip.is_later_fragment() != Some(false) || ip.header_len() < 20 {
                    return s;
                }
            }
            IpVersion::V6 => {
                if p.len() < 40 {
                    return s;
                }
                s.protocol = ip.protocol();
            }
        }
        let t = ip.transport_bytes();
        match s.protocol {
            Some(proto::TCP | proto::UDP) => {
                s.sport = be16(t, 0);
                s.dport = be16(t, 2);
                if s.protocol == Some(proto::TCP) {
                    s.tcp_flags = t.get(13).copied();
                }
            }
            Some(proto::ICMP | proto::ICMPV6) => {
                s.icmp_type = t.first().copied();
                s.icmp_code = t.get(1).copied();
            }
            _ => {}
        }
        s
    }
}
