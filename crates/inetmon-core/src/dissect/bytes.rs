//! The one family of bounds-checked byte readers for packet headers: each
//! returns `None` when the bytes are not all there, never panics.

use std::net::{Ipv4Addr, Ipv6Addr};

/// `N` bytes at `at`, if they are there.
#[must_use]
pub fn array<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// A big-endian `u16` at `at`, if the bytes are there.
#[must_use]
pub fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    array(bytes, at).map(u16::from_be_bytes)
}

/// A big-endian `u32` at `at`, if the bytes are there.
#[must_use]
pub fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    array(bytes, at).map(u32::from_be_bytes)
}

/// An IPv4 address at `at`, if the bytes are there.
#[must_use]
pub fn ipv4(bytes: &[u8], at: usize) -> Option<Ipv4Addr> {
    array::<4>(bytes, at).map(Ipv4Addr::from)
}

/// An IPv6 address at `at`, if the bytes are there.
#[must_use]
pub fn ipv6(bytes: &[u8], at: usize) -> Option<Ipv6Addr> {
    array::<16>(bytes, at).map(Ipv6Addr::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_end() {
        let b = [1u8, 2, 3, 4, 5];
        assert_eq!(be16(&b, 3), Some(0x0405));
        assert_eq!(be16(&b, 4), None);
        assert_eq!(be32(&b, 1), Some(0x0203_0405));
        assert_eq!(be32(&b, usize::MAX), None);
        assert_eq!(ipv4(&b, 0), Some(Ipv4Addr::new(1, 2, 3, 4)));
        assert_eq!(ipv6(&b, 0), None);
        assert_eq!(array::<0>(&b, 5), Some([]));
    }
}
