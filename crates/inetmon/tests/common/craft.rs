//! Hand-made packets for tests that write to a tun device: IPv4/IPv6
//! headers around a transport payload, UDP and a TCP SYN, with the
//! Internet checksum where the test needs a valid one.

/// The Internet checksum (RFC 1071) of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Puts the transport checksum over `pseudo` + `l4` at `at` in `l4`.
fn fill_checksum(mut pseudo: Vec<u8>, l4: &mut [u8], at: usize) {
    pseudo.extend_from_slice(l4);
    let c = checksum(&pseudo);
    l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

/// IPv4 `src` → `dst` carrying `l4` (protocol `proto`), TTL 64, with a
/// valid header checksum; a valid transport checksum at offset `csum_at`
/// of `l4` when given, else the transport checksum is left as it is.
pub fn ipv4(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    mut l4: Vec<u8>,
    csum_at: Option<usize>,
) -> Vec<u8> {
    if let Some(at) = csum_at {
        let mut pseudo = [src, dst].concat();
        pseudo.extend_from_slice(&[0, proto]);
        pseudo.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        fill_checksum(pseudo, &mut l4, at);
    }
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 1, 0, 0, 64, proto, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let c = checksum(&p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(&l4);
    p
}

/// IPv6 `src` → `dst` carrying `l4` (next header `proto`), hop limit 64,
/// with a valid transport checksum at offset `csum_at` of `l4`.
pub fn ipv6(src: [u8; 16], dst: [u8; 16], proto: u8, mut l4: Vec<u8>, csum_at: usize) -> Vec<u8> {
    let mut pseudo = [src, dst].concat();
    pseudo.extend_from_slice(&(l4.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, proto]);
    fill_checksum(pseudo, &mut l4, csum_at);
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    p.extend_from_slice(&[proto, 64]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&l4);
    p
}

/// A UDP header (checksum 0, at offset 6) and `payload`.
pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

/// A TCP SYN (sequence 1, window 65535, checksum 0 at offset 16).
pub fn tcp_syn(sport: u16, dport: u16) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&1u32.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    t.extend_from_slice(&[0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    t
}
