//! Views of the network and transport headers of a logged packet.
//!
//! Nothing here panics: every read is bounds-checked and a packet that is too
//! short simply yields less.

/// IP protocol numbers used across the crate.
pub mod proto {
    /// IPv6 hop-by-hop options.
    pub const HOPOPTS: u8 = 0;
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 routing header.
    pub const ROUTING: u8 = 43;
    /// IPv6 fragment header.
    pub const FRAGMENT: u8 = 44;
    /// Authentication header.
    pub const AH: u8 = 51;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// IPv6 destination options.
    pub const DSTOPTS: u8 = 60;
    /// IPv6 mobility header.
    pub const MOBILITY: u8 = 135;
}

/// Reads a big-endian `u16` at `at`, if the bytes are there.
#[must_use]
pub fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// Reads a big-endian `u32` at `at`, if the bytes are there.
#[must_use]
pub fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The length IP Filter would record as `fl_hlen` for this packet: the IP
/// header (with IPv6 extension headers) plus a fixed-size transport part —
/// TCP 20, UDP 8, ICMP 28 (36 for error types), ICMPv6 8 (16 for types below
/// 128) — each capped by the bytes present. Non-first IPv4 fragments count
/// the IP header only. Returns 0 when the packet is not IPv4 or IPv6.
///
/// This is the split between "header" and "body" used by `ipmon -b`.
#[must_use]
pub fn ipf_header_len(packet: &[u8]) -> u16 {
    let Some(&first) = packet.first() else {
        return 0;
    };
    let (hl, proto) = match first >> 4 {
        4 => {
            let hl = usize::from(first & 0x0f) * 4;
            let off = be16(packet, 6).unwrap_or(0) & 0x1fff;
            let proto = packet.get(9).copied().unwrap_or(0);
            if off != 0 {
                return clamp_len(hl.min(packet.len()));
            }
            (hl, proto)
        }
        6 => ipv6_header_len(packet),
        _ => return 0,
    };
    let hl = hl.min(packet.len());
    let dlen = packet.len() - hl;
    let transport = match proto {
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

/// Walks the IPv6 extension headers the way IP Filter does: returns the
/// header length (40 plus each extension header) and the protocol after them.
/// A fragment header adds 8 bytes and ends the walk with protocol 44.
#[must_use]
pub fn ipv6_header_len(packet: &[u8]) -> (usize, u8) {
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

fn clamp_len(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2];
        p.extend_from_slice(payload);
        let len = u16::try_from(p.len()).unwrap().to_be_bytes();
        p[2..4].copy_from_slice(&len);
        p
    }

    #[test]
    fn ipv4_transport_parts() {
        assert_eq!(ipf_header_len(&ipv4(proto::TCP, &[0; 32])), 40);
        assert_eq!(ipf_header_len(&ipv4(proto::TCP, &[0; 10])), 30);
        assert_eq!(ipf_header_len(&ipv4(proto::UDP, &[0; 20])), 28);
        assert_eq!(ipf_header_len(&ipv4(proto::ICMP, &[8; 64])), 48);
        assert_eq!(ipf_header_len(&ipv4(proto::ICMP, &[3; 64])), 56);
        assert_eq!(ipf_header_len(&ipv4(0, &[0; 8])), 20);
    }

    #[test]
    fn non_first_fragment_is_ip_header_only() {
        let mut p = ipv4(proto::UDP, &[0; 20]);
        p[7] = 1;
        assert_eq!(ipf_header_len(&p), 20);
    }

    #[test]
    fn garbage_never_panics() {
        for len in 0..64 {
            let v = vec![0x4f; len];
            let _ = ipf_header_len(&v);
            let v = vec![0x60; len];
            let _ = ipf_header_len(&v);
        }
    }
}
