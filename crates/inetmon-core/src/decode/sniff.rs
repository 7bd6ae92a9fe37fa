//! Recognising an input file's format from its first bytes.
//!
//! `inetmon read FILE` and `ipmon -f FILE` accept pcap, pcapng and IP Filter
//! binary logs; [`sniff`] tells them apart by their magic numbers so the
//! caller can pick the decoder. When the first bytes are damaged,
//! [`search`] looks further: an IP Filter log has a header at every
//! record, so a damaged first record still leaves the rest recognisable.

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

/// How many bytes [`search`] wants: two of the largest IP Filter records.
pub const SEARCH_BYTES: usize = 2 * crate::decode::iplog::MAX_RECORD;

/// The format of input whose first bytes may be damaged: [`sniff`] when the
/// magic is at the start; else an IP Filter log when a record header with
/// a known magic and size starts within `bytes` and the record after it
/// is one too (or `bytes` ends within it); else a pcap file header or
/// pcapng Section Header Block (with its byte-order magic) further on.
/// Give it [`SEARCH_BYTES`] bytes, or the whole input if shorter. The
/// decoders report the bytes before the first good record as damaged.
#[must_use]
pub fn search(bytes: &[u8]) -> Option<FileFormat> {
    use crate::decode::iplog::{record_size, IplogError};
    if let Some(f) = sniff(bytes) {
        return Some(f);
    }
    let window = bytes.get(..SEARCH_BYTES).unwrap_or(bytes);
    for (at, w) in window.windows(4).enumerate() {
        let rest = bytes.get(at..).unwrap_or_default();
        match w {
            [b'M' | b'N' | b'S', b'L', b'P', b'I'] => {
                if let Ok(size) = record_size(rest) {
                    let next = rest.get(size..).unwrap_or_default();
                    if matches!(record_size(next), Ok(_) | Err(IplogError::Len { .. })) {
                        return Some(FileFormat::Iplog);
                    }
                }
            }
            [0x0a, 0x0d, 0x0d, 0x0a] => {
                if matches!(
                    rest.get(8..12),
                    Some([0x4d, 0x3c, 0x2b, 0x1a] | [0x1a, 0x2b, 0x3c, 0x4d])
                ) {
                    return Some(FileFormat::Pcapng);
                }
            }
            _ => {
                if sniff(w) == Some(FileFormat::Pcap) && pcap_version_2(rest) {
                    return Some(FileFormat::Pcap);
                }
            }
        }
    }
    None
}

/// Whether a pcap file header at the start of `b` says version 2.
fn pcap_version_2(b: &[u8]) -> bool {
    matches!(
        b.get(..6),
        Some(
            [0xd4 | 0x4d, 0xc3 | 0x3c, 0xb2, 0xa1, 2, 0]
                | [0xa1, 0xb2, 0xc3 | 0x3c, 0xd4 | 0x4d, 0, 2]
        )
    )
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

    /// Issue 10 item 3: a bad magic in the first IP Filter record made the
    /// whole file "not a pcap, pcapng or IP Filter log file".
    #[test]
    fn search_finds_an_iplog_after_a_damaged_first_record() {
        use crate::decode::iplog::{encode, IplogDecoder};
        use crate::decode::StreamDecoder;
        use crate::event::{Event, Header, NatAction, NatLog, NatType, Source, Timestamp};
        use std::net::{IpAddr, Ipv4Addr};
        let ep = (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 80);
        let nat = NatLog {
            header: Header {
                time: Timestamp::default(),
                source: Source::Stdin,
                seq: 1,
            },
            action: NatAction::New,
            nat_type: NatType::Map,
            rule: 1,
            protocol: 6,
            orig_src: ep,
            orig_dst: ep,
            new_src: ep,
            new_dst: ep,
            packets: None,
            bytes: None,
            conntrack_id: None,
            ipf_seq: Some(1),
        };
        let mut bytes = Vec::new();
        for seq in 1..=3 {
            let mut n = nat.clone();
            n.ipf_seq = Some(seq);
            encode(&Event::Nat(Box::new(n)), seq, &mut bytes).unwrap();
        }
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(sniff(&bad), None);
        assert_eq!(search(&bad), Some(FileFormat::Iplog));
        // One record alone, damaged: nothing to recognise.
        let one = bad.get(..bytes.len() / 3).unwrap();
        assert_eq!(search(one), None);
        // The decoder skips the damaged record and prints the two others.
        let mut d = IplogDecoder::new(Source::Stdin);
        d.feed(&bad);
        let ev: Vec<Event> = std::iter::from_fn(|| d.next_event().or_else(|| d.finish())).collect();
        let kinds: Vec<&str> = ev.iter().map(|e| e.kind().as_str()).collect();
        assert_eq!(kinds, ["malformed", "nat", "nat"]);
        // Damaged pcap and pcapng starts are still found further on.
        assert_eq!(
            search(b"\0\0\0\0\xd4\xc3\xb2\xa1\x02\x00\x04\x00"),
            Some(FileFormat::Pcap)
        );
        assert_eq!(
            search(b"xx\x0a\x0d\x0d\x0a\0\0\0\0\x4d\x3c\x2b\x1a"),
            Some(FileFormat::Pcapng)
        );
        assert_eq!(search(b"this is not a capture file at all"), None);
        assert_eq!(search(&[0; 100_000]), None);
    }
}
