//! Recognising an input file's format from its first bytes.
//!
//! `inetmon read FILE` and `ipmon -f FILE` accept pcap, pcapng and IP Filter
//! binary logs; [`sniff`] tells them apart by their magic numbers so the
//! caller can pick the decoder.

/// The formats [`sniff`] recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileFormat {
    /// Classic libpcap file, either byte order, micro- or nanosecond
    /// timestamps (magic `0xa1b2c3d4` or `0xa1b23c4d`).
    Pcap,
    /// pcapng (first block a Section Header Block, type `0x0a0d0d0a`).
    Pcapng,
    /// IP Filter binary log (`iplog_t` records; first 4 bytes are the
    /// little-endian magic `IPL_MAGIC` `0x49504c4d`, `IPL_MAGIC_NAT`
    /// `0x49504c4e` or `IPL_MAGIC_STATE` `0x49504c53`).
    Iplog,
}

/// The format of a file that starts with `first_bytes`, or `None` when the
/// magic is not one we know. Four bytes are enough.
#[must_use]
pub fn sniff(first_bytes: &[u8]) -> Option<FileFormat> {
    let magic: [u8; 4] = first_bytes.get(..4)?.try_into().ok()?;
    let le = u32::from_le_bytes(magic);
    let be = u32::from_be_bytes(magic);
    if [le, be]
        .iter()
        .any(|m| matches!(m, 0xa1b2_c3d4 | 0xa1b2_3c4d))
    {
        Some(FileFormat::Pcap)
    } else if le == 0x0a0d_0d0a {
        Some(FileFormat::Pcapng)
    } else if matches!(le, 0x4950_4c4d | 0x4950_4c4e | 0x4950_4c53) {
        Some(FileFormat::Iplog)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_magic() {
        assert_eq!(
            sniff(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]),
            Some(FileFormat::Pcap)
        );
        assert_eq!(sniff(&[0xa1, 0xb2, 0xc3, 0xd4]), Some(FileFormat::Pcap));
        assert_eq!(sniff(&[0x4d, 0x3c, 0xb2, 0xa1]), Some(FileFormat::Pcap));
        assert_eq!(sniff(&[0xa1, 0xb2, 0x3c, 0x4d]), Some(FileFormat::Pcap));
        assert_eq!(sniff(&[0x0a, 0x0d, 0x0d, 0x0a]), Some(FileFormat::Pcapng));
        assert_eq!(sniff(b"MLPI"), Some(FileFormat::Iplog));
        assert_eq!(sniff(b"NLPI"), Some(FileFormat::Iplog));
        assert_eq!(sniff(b"SLPI"), Some(FileFormat::Iplog));
        assert_eq!(sniff(b"IPLM"), None);
        assert_eq!(sniff(&[0xd4, 0xc3, 0xb2]), None);
        assert_eq!(sniff(&[]), None);
    }
}
