//! Helpers for the `inetmon audit` tests: dkaudit lines and their times,
//! and the TCP control segments of a capture, as `UNIXP` would show them.

use std::net::Ipv4Addr;
use std::path::Path;

use super::pcap_split;

/// `Oct 9 14:16:54` (day not padded) in UTC.
pub fn dk_time(secs: i64) -> String {
    jiff::Timestamp::new(secs, 0)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%b %-d %H:%M:%S")
        .to_string()
}

/// A dkaudit line (`TZ=UTC`) without its time, checked to be a second
/// from `from` to `to` (Unix seconds); panics otherwise.
pub fn untimed(line: &str, from: i64, to: i64) -> &str {
    let mut cut = 0;
    for _ in 0..3 {
        cut += line[cut..]
            .find(' ')
            .unwrap_or_else(|| panic!("no time in {line:?}"))
            + 1;
    }
    let time = &line[..cut - 1];
    assert!(
        (from..=to).any(|s| dk_time(s) == time),
        "time of {line:?} is not between {} and {}",
        dk_time(from),
        dk_time(to)
    );
    &line[cut..]
}

/// Unix time now, in seconds.
pub fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// One TCP segment of a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// IPv4 source address.
    pub src: Ipv4Addr,
    /// Source and destination port.
    pub ports: (u16, u16),
    /// The first 12 bytes of the TCP header.
    pub head: [u8; 12],
    /// The TCP flags byte.
    pub flags: u8,
}

/// The IPv4 TCP segments with SYN, FIN or RST of a pcap file with
/// Ethernet framing (tcpdump on a veth), in capture order.
pub fn control_segments(pcap: &Path) -> Vec<Segment> {
    let bytes = std::fs::read(pcap).unwrap();
    let (header, records) = pcap_split(&bytes);
    assert_eq!(header[20], 1, "link type Ethernet");
    let mut out = Vec::new();
    for r in records {
        let frame = &r[16..];
        if frame.len() < 14 + 20 || frame[12..14] != [0x08, 0x00] {
            continue;
        }
        let ip = &frame[14..];
        if ip[9] != 6 {
            continue;
        }
        let tcp = &ip[usize::from(ip[0] & 0x0f) * 4..];
        if tcp.len() < 14 || tcp[13] & 0x07 == 0 {
            continue;
        }
        out.push(Segment {
            src: Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
            ports: (
                u16::from_be_bytes([tcp[0], tcp[1]]),
                u16::from_be_bytes([tcp[2], tcp[3]]),
            ),
            head: tcp[..12].try_into().unwrap(),
            flags: tcp[13],
        });
    }
    out
}

/// The 12 bytes as `UNIXP` prints them: `01 bb d4 31 …`.
pub fn hex12(b: &[u8; 12]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}
