//! A pcapng writer for `inetmon monitor --write out.pcapng`: the packet bytes
//! of drops and traces, one interface block per interface, nanosecond
//! timestamps and the drop reason or observation point as the packet
//! comment, in a file that Wireshark, tshark and tcpdump open.
//!
//! Blocks (pcapng, draft-ietf-opsawg-pcapng): a Section Header Block, an
//! Interface Description Block the first time an interface (and link type)
//! is seen, then Enhanced Packet Blocks. All written little-endian (the byte
//! order magic says so), every block padded to 32 bits.

use std::collections::HashMap;
use std::io::{self, Write};

use crate::event::{CaptureLayer, Event, Interface, Timestamp};

/// `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u16 = 1;
/// `LINKTYPE_RAW`: raw IPv4 or IPv6, told apart by the version nibble.
pub const LINKTYPE_RAW: u16 = 101;

const BT_SHB: u32 = 0x0a0d_0d0a;
const BT_IDB: u32 = 1;
const BT_EPB: u32 = 6;
const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const OPT_SHB_USERAPPL: u16 = 4;
const OPT_IF_NAME: u16 = 2;
const OPT_IF_TSRESOL: u16 = 9;

/// The identity of an interface block: the same name with another link type
/// needs its own block.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct IfKey {
    ifindex: u32,
    name: String,
    linktype: u16,
}

/// Writes pcapng into any [`Write`].
#[derive(Debug)]
pub struct PcapngWriter<W: Write> {
    out: W,
    snaplen: u32,
    interfaces: HashMap<IfKey, u32>,
    buf: Vec<u8>,
    packets: u64,
    raw_ip: bool,
}

impl<W: Write> PcapngWriter<W> {
    /// Starts a file: writes the Section Header Block naming `application`.
    /// `snaplen` is recorded in every interface block (the capture length
    /// the BPF programs copy).
    ///
    /// # Errors
    /// Errors of the underlying writer.
    pub fn new(out: W, application: &str, snaplen: u32) -> io::Result<Self> {
        let mut w = PcapngWriter {
            out,
            snaplen,
            interfaces: HashMap::new(),
            buf: Vec::new(),
            packets: 0,
            raw_ip: false,
        };
        let mut body = Vec::new();
        body.extend_from_slice(&0x1a2b_3c4d_u32.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        push_option(&mut body, OPT_SHB_USERAPPL, application.as_bytes());
        push_option(&mut body, OPT_END, &[]);
        w.write_block(BT_SHB, &body)?;
        Ok(w)
    }

    /// Makes every interface block `LINKTYPE_RAW` instead of Ethernet:
    /// network-layer captures are then written as they are, Ethernet
    /// captures of IPv4/IPv6 lose their 14-byte header and other Ethernet
    /// frames are skipped. For files known to hold only captures from
    /// devices without a link-layer header (traces on tun or wireguard, no
    /// drops), where a synthesised Ethernet header would misstate the link.
    /// Call it before the first packet. Wireshark/tshark read such files;
    /// libpcap 1.10.3 (tcpdump 4.99) refuses them ("an interface has a type
    /// 101 different from the type of the first interface": it compares
    /// 101 with `DLT_RAW`), which is why Ethernet framing is the default.
    pub fn use_raw_ip(&mut self) {
        self.raw_ip = true;
    }

    /// The interface id for `interface` with `linktype`, writing its
    /// Interface Description Block (name, snaplen, `if_tsresol` = 9, i.e.
    /// nanoseconds) the first time.
    ///
    /// # Errors
    /// Errors of the underlying writer.
    pub fn interface(&mut self, interface: &Interface, linktype: u16) -> io::Result<u32> {
        let name = interface.to_string();
        let key = IfKey {
            ifindex: interface.ifindex,
            name,
            linktype,
        };
        if let Some(id) = self.interfaces.get(&key) {
            return Ok(*id);
        }
        let id = u32::try_from(self.interfaces.len()).unwrap_or(u32::MAX);
        let mut body = Vec::new();
        body.extend_from_slice(&linktype.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&self.snaplen.to_le_bytes());
        push_option(&mut body, OPT_IF_NAME, key.name.as_bytes());
        push_option(&mut body, OPT_IF_TSRESOL, &[9]);
        push_option(&mut body, OPT_END, &[]);
        self.write_block(BT_IDB, &body)?;
        self.interfaces.insert(key, id);
        Ok(id)
    }

    /// Writes one Enhanced Packet Block on interface `if_id` (from
    /// [`PcapngWriter::interface`]) with a nanosecond timestamp, the
    /// captured `data`, the packet's original length (at least the captured
    /// length) and an optional comment.
    ///
    /// # Errors
    /// Errors of the underlying writer.
    pub fn packet(
        &mut self,
        if_id: u32,
        time: Timestamp,
        data: &[u8],
        orig_len: u32,
        comment: Option<&str>,
    ) -> io::Result<()> {
        let ns = u64::try_from(time.secs)
            .unwrap_or(0)
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(time.nanos));
        let cap = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let mut body = std::mem::take(&mut self.buf);
        body.clear();
        body.extend_from_slice(&if_id.to_le_bytes());
        body.extend_from_slice(&u32::try_from(ns >> 32).unwrap_or(0).to_le_bytes());
        body.extend_from_slice(&u32::try_from(ns & 0xffff_ffff).unwrap_or(0).to_le_bytes());
        body.extend_from_slice(&cap.to_le_bytes());
        body.extend_from_slice(&orig_len.max(cap).to_le_bytes());
        body.extend_from_slice(data);
        pad(&mut body);
        if let Some(c) = comment {
            push_option(&mut body, OPT_COMMENT, c.as_bytes());
            push_option(&mut body, OPT_END, &[]);
        }
        let r = self.write_block(BT_EPB, &body);
        self.buf = body;
        self.packets += 1;
        r
    }

    /// Writes the packet of a drop or trace event; other kinds, and events
    /// without captured bytes, are skipped. Every interface block has the
    /// same link type, because libpcap (tcpdump) refuses files whose
    /// interfaces have different ones. That is Ethernet by default: packets
    /// captured at the network header get a synthesised Ethernet header
    /// (zero MAC addresses, the packet's ethertype) and their lengths grow
    /// by 14. After [`PcapngWriter::use_raw_ip`] it is `LINKTYPE_RAW`
    /// (see there). Returns whether a packet was
    /// written. The comment is `drop <reason> at <location>` or
    /// `trace <observation point>`.
    ///
    /// # Errors
    /// Errors of the underlying writer.
    pub fn write_event(&mut self, event: &Event) -> io::Result<bool> {
        let (iface, layer, protocol, data, orig, time, comment) = match event {
            Event::Drop(d) => {
                let mut c = format!("drop {}", d.reason);
                if d.location.addr != 0 {
                    c.push_str(" at ");
                    c.push_str(&d.location.to_string());
                }
                (
                    &d.interface,
                    d.layer,
                    d.protocol,
                    &d.packet,
                    d.orig_len,
                    d.header.time,
                    c,
                )
            }
            Event::Trace(t) => (
                &t.interface,
                t.layer,
                t.protocol,
                &t.packet,
                t.orig_len,
                t.header.time,
                format!("trace {}", t.point.name()),
            ),
            Event::Packet(_)
            | Event::Debug(_)
            | Event::Nat(_)
            | Event::State(_)
            | Event::Sock(_)
            | Event::Lost(_)
            | Event::Malformed(_) => return Ok(false),
        };
        if data.is_empty() {
            return Ok(false);
        }
        if self.raw_ip {
            let (ip, orig) = match layer {
                CaptureLayer::Network => (data.as_slice(), orig),
                CaptureLayer::Ethernet => match data.split_at_checked(14) {
                    Some((eth, ip))
                        if matches!(eth.get(12..14), Some([0x08, 0x00] | [0x86, 0xdd])) =>
                    {
                        (ip, orig.saturating_sub(14))
                    }
                    _ => return Ok(false),
                },
                CaptureLayer::None => return Ok(false),
            };
            if ip.is_empty() {
                return Ok(false);
            }
            let id = self.interface(iface, LINKTYPE_RAW)?;
            self.packet(id, time, ip, orig, Some(&comment))?;
            return Ok(true);
        }
        let id = self.interface(iface, LINKTYPE_ETHERNET)?;
        match layer {
            CaptureLayer::Ethernet => self.packet(id, time, data, orig, Some(&comment))?,
            CaptureLayer::Network => {
                let ethertype = match (protocol, data.first().map(|b| b >> 4)) {
                    (p, _) if p != 0 => p,
                    (_, Some(6)) => 0x86dd,
                    _ => 0x0800,
                };
                let mut framed = Vec::with_capacity(data.len() + 14);
                framed.extend_from_slice(&[0; 12]);
                framed.extend_from_slice(&ethertype.to_be_bytes());
                framed.extend_from_slice(data);
                self.packet(id, time, &framed, orig.saturating_add(14), Some(&comment))?;
            }
            CaptureLayer::None => return Ok(false),
        }
        Ok(true)
    }

    /// Number of packets written.
    #[must_use]
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flushes the underlying writer.
    ///
    /// # Errors
    /// Errors of the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn write_block(&mut self, block_type: u32, body: &[u8]) -> io::Result<()> {
        let total = u32::try_from(body.len() + 12)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pcapng block too large"))?;
        let mut head = [0u8; 8];
        head[..4].copy_from_slice(&block_type.to_le_bytes());
        head[4..].copy_from_slice(&total.to_le_bytes());
        self.out.write_all(&head)?;
        self.out.write_all(body)?;
        self.out.write_all(&total.to_le_bytes())
    }
}

fn pad(buf: &mut Vec<u8>) {
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

/// Appends an option `{code u16, len u16, value, padding}`; values longer
/// than 65535 bytes are cut.
fn push_option(buf: &mut Vec<u8>, code: u16, value: &[u8]) {
    let value = value.get(..usize::from(u16::MAX)).unwrap_or(value);
    buf.extend_from_slice(&code.to_le_bytes());
    buf.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_le_bytes());
    buf.extend_from_slice(value);
    pad(buf);
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;
    use crate::event::{DropEvent, Header, KernelLocation, ObservationPoint, Source, TraceEvent};

    pub(crate) const PKT_TCP_SYN: [u8; 54] = [
        0x02, 0x33, 0x45, 0x67, 0x89, 0xab, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0x08, 0x00, 0x45,
        0x00, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0x40, 0x06, 0x6a, 0xbc, 0x01, 0x02, 0x03, 0x04,
        0x05, 0x06, 0x07, 0x08, 0x00, 0x50, 0x01, 0xbb, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x50, 0x02, 0x20, 0x00, 0x7d, 0xc4, 0x00, 0x00,
    ];

    fn header(secs: i64, nanos: u32) -> Header {
        Header {
            time: Timestamp { secs, nanos },
            source: Source::Datapath,
            seq: 1,
        }
    }

    fn events() -> Vec<Event> {
        let iface = |i, n: &str| Interface {
            ifindex: i,
            name: Some(n.to_owned()),
        };
        let drop = DropEvent {
            header: header(1_700_000_000, 123_456_789),
            cpu: 1,
            location: KernelLocation {
                addr: 0xffff_ffff_8100_301a,
                symbol: Some("tcp_v4_rcv+0x1a".into()),
            },
            interface: iface(2, "veth-a"),
            orig_len: 60,
            layer: CaptureLayer::Ethernet,
            packet: PKT_TCP_SYN.to_vec(),
            ..DropEvent::sample()
        };
        let mut raw = drop.clone();
        raw.layer = CaptureLayer::Network;
        raw.packet = PKT_TCP_SYN[14..].to_vec();
        raw.orig_len = 40;
        raw.interface = iface(2, "veth-a");
        let trace = TraceEvent {
            header: header(1_700_000_001, 5),
            cpu: 0,
            point: ObservationPoint::ToNetwork,
            interface: iface(3, "veth-b"),
            protocol: 0x0800,
            orig_len: 54,
            layer: CaptureLayer::Ethernet,
            packet: PKT_TCP_SYN[..53].to_vec(),
            sample_rate: 1,
            mark: 0,
            netns: 0,
            process: None,
            sock_cookie: 0,
        };
        let mut trace2 = trace.clone();
        trace2.point = ObservationPoint::FromNetwork;
        vec![
            Event::Drop(Box::new(drop)),
            Event::Trace(Box::new(trace)),
            Event::Drop(Box::new(raw)),
            Event::Trace(Box::new(trace2)),
        ]
    }

    fn write_file() -> (tempfile_path::TempPath, Vec<u8>) {
        let mut w = PcapngWriter::new(Vec::new(), "inetmon test", 128).unwrap();
        for e in events() {
            assert!(w.write_event(&e).unwrap());
        }
        assert_eq!(w.packets(), 4);
        let bytes = w.into_inner();
        let path = tempfile_path::TempPath::new("pcapng");
        std::fs::write(&path.0, &bytes).unwrap();
        (path, bytes)
    }

    /// A file removed on drop (no extra dev-dependency).
    mod tempfile_path {
        pub(crate) struct TempPath(pub(crate) std::path::PathBuf);
        impl TempPath {
            pub(crate) fn new(ext: &str) -> Self {
                let n = std::process::id();
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos();
                TempPath(std::env::temp_dir().join(format!("inetmon-test-{n}-{t}.{ext}")))
            }
        }
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn block_structure() {
        let (_p, bytes) = write_file();
        // Walk the blocks: each total length is repeated at its end.
        let mut at = 0;
        let mut kinds = Vec::new();
        while at < bytes.len() {
            let t = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
            let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
            assert_eq!(len % 4, 0);
            let tail = u32::from_le_bytes(bytes[at + len - 4..at + len].try_into().unwrap());
            assert_eq!(tail as usize, len);
            kinds.push(t);
            at += len;
        }
        // SHB, IDB veth-a, EPB, IDB veth-b, EPB, EPB, EPB.
        assert_eq!(kinds, [BT_SHB, 1, 6, 1, 6, 6, 6]);
    }

    #[test]
    fn skips_events_without_packets() {
        let mut w = PcapngWriter::new(Vec::new(), "t", 128).unwrap();
        let mut e = events().remove(0);
        if let Event::Drop(d) = &mut e {
            d.packet.clear();
        }
        assert!(!w.write_event(&e).unwrap());
        assert_eq!(w.packets(), 0);
    }

    fn tool(cmd: &str, args: &[&str]) -> Option<String> {
        match Command::new(cmd).args(args).output() {
            Ok(o) => {
                assert!(
                    o.status.success(),
                    "{cmd} failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
                Some(String::from_utf8(o.stdout).unwrap())
            }
            Err(e) => {
                assert!(
                    std::env::var("INETMON_REQUIRE_PRIVILEGED").as_deref() != Ok("1"),
                    "{cmd} not runnable: {e}"
                );
                eprintln!("skipping: {cmd} not runnable: {e}");
                None
            }
        }
    }

    /// tshark reads the file: packet count, per-packet comments, interface
    /// names and nanosecond timestamps.
    #[test]
    fn tshark_reads_it() {
        let (p, _) = write_file();
        let path = p.0.to_str().unwrap();
        let Some(out) = tool(
            "tshark",
            &[
                "-r",
                path,
                "-T",
                "fields",
                "-e",
                "frame.comment",
                "-e",
                "frame.interface_name",
                "-e",
                "frame.time_epoch",
                "-e",
                "frame.len",
                "-e",
                "frame.cap_len",
                "-e",
                "ip.src",
            ],
        ) else {
            return;
        };
        let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split('\t').collect()).collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert_eq!(lines[0][0], "drop NO_SOCKET at tcp_v4_rcv+0x1a");
        assert_eq!(lines[0][1], "veth-a");
        assert!(lines[0][2].starts_with("1700000000.123456789"), "{out}");
        assert_eq!(&lines[0][3..6], ["60", "54", "1.2.3.4"]);
        assert_eq!(lines[1][0], "trace to-network");
        assert_eq!(lines[1][1], "veth-b");
        assert_eq!(&lines[1][3..5], ["54", "53"]);
        assert_eq!(lines[2][1], "veth-a");
        assert_eq!(
            &lines[2][3..6],
            ["54", "54", "1.2.3.4"],
            "network-layer capture: {out}"
        );
        assert_eq!(lines[3][0], "trace from-network");
    }

    #[test]
    fn tcpdump_reads_it() {
        let (p, _) = write_file();
        let Some(out) = tool("tcpdump", &["-nn", "-r", p.0.to_str().unwrap()]) else {
            return;
        };
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert!(
            lines[0].contains("1.2.3.4.80 > 5.6.7.8.443: Flags [S]"),
            "{out}"
        );
        assert!(
            lines[2].contains("1.2.3.4.80 > 5.6.7.8.443: Flags [S]"),
            "{out}"
        );
    }

    /// Raw-IP mode: one `LINKTYPE_RAW` interface block per interface, the
    /// network-layer capture as it is, Ethernet frames of IP stripped, and
    /// tshark decodes it.
    #[test]
    fn raw_ip_mode_writes_linktype_raw() {
        let mut w = PcapngWriter::new(Vec::new(), "t", 128).unwrap();
        w.use_raw_ip();
        let evs = events();
        for e in &evs {
            assert!(w.write_event(e).unwrap());
        }
        let mut arp = evs[1].clone();
        if let Event::Trace(t) = &mut arp {
            t.packet[12..14].copy_from_slice(&[0x08, 0x06]);
        }
        assert!(!w.write_event(&arp).unwrap(), "non-IP Ethernet is skipped");
        let bytes = w.into_inner();
        // Walk the blocks; every IDB has link type 101 and every EPB's
        // packet starts with the IPv4 version nibble.
        let (mut at, mut idbs, mut epbs) = (0, 0, 0);
        while at < bytes.len() {
            let t = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
            let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
            if t == BT_IDB {
                idbs += 1;
                assert_eq!(bytes[at + 8..at + 10], LINKTYPE_RAW.to_le_bytes());
            } else if t == BT_EPB {
                epbs += 1;
                assert_eq!(bytes[at + 28] >> 4, 4);
            }
            at += len;
        }
        assert_eq!((idbs, epbs), (2, 4));
        let path = tempfile_path::TempPath::new("pcapng");
        std::fs::write(&path.0, &bytes).unwrap();
        let p = path.0.to_str().unwrap();
        let Some(out) = tool("tshark", &["-r", p, "-T", "fields", "-e", "ip.src"]) else {
            return;
        };
        assert_eq!(out, "1.2.3.4\n".repeat(4));
    }
}
