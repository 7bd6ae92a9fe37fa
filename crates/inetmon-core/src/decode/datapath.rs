//! Records of the datapath eBPF programs (`datapath.bpf.c`): drops from the
//! `skb:kfree_skb` tracepoint and traces from tc classifiers, as they come
//! out of the BPF ring buffer.
//!
//! The layouts are `inetmon-bpf`'s `#[repr(C)]` mirrors of `datapath.h`
//! ([`inetmon_bpf::record::datapath`]: sizes and offsets asserted at compile
//! time and checked against the C header by its build script); the
//! decoder reads each field at its `offset_of!` (a compile-time constant)
//! with safe, bounds-checked reads. Fields are in host byte order. A record is
//! the header of its type followed by `cap_len` packet bytes at `hdr_len`;
//! anything after them (the rest of a fixed-size ring reservation) is
//! ignored, and a larger `hdr_len` than we know (fields appended by a newer
//! program) is accepted.

use std::mem::{offset_of, size_of};

use thiserror::Error;

use crate::btf::DropReasonTable;
use crate::event::{
    CaptureLayer, DropEvent, Event, Header, Interface, KernelLocation, ObservationPoint,
    ProcessContext, Timestamp, TraceEvent,
};
use crate::kallsyms::KallSyms;

pub use inetmon_bpf::record::datapath::{
    DpCommon, DpDrop, DpDropKey, DpTrace, FLAG_PROCESS, TYPE_DROP, TYPE_TRACE, VERSION,
};
use inetmon_bpf::record::datapath::{LAYER_ETHERNET, LAYER_NETWORK};

/// Why a datapath record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DatapathError {
    /// The record is shorter than what it must hold.
    #[error("datapath record truncated: {what} needs {needed} bytes, got {got}")]
    Len {
        /// What was being read.
        what: &'static str,
        /// Bytes needed from the start of the record.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// Byte 0 is not a known record type.
    #[error("unknown datapath record type {0}")]
    UnknownType(u8),
    /// The version byte is not one this decoder reads.
    #[error("unsupported datapath record version {got}, expected {VERSION}")]
    Version {
        /// The version found.
        got: u8,
    },
    /// `hdr_len` is smaller than the header of the record's type.
    #[error("datapath header length {hdr_len} below the {min} bytes of a type {kind} header")]
    HeaderLen {
        /// The record type.
        kind: u8,
        /// The header length found.
        hdr_len: u16,
        /// The minimum for the type.
        min: usize,
    },
    /// The capture layer byte is not 0, 1 or 2.
    #[error("unknown capture layer {0}")]
    Layer(u8),
}

/// A decoded record, borrowing its packet bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatapathRecord<'a> {
    /// A drop, and its captured bytes.
    Drop(DpDrop, &'a [u8]),
    /// A trace, and its captured bytes.
    Trace(DpTrace, &'a [u8]),
}

fn get<const N: usize>(b: &[u8], at: usize, what: &'static str) -> Result<[u8; N], DatapathError> {
    let end = at.saturating_add(N);
    b.get(at..end)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or(DatapathError::Len {
            what,
            needed: end,
            got: b.len(),
        })
}

/// Checks that `b` holds at least `needed` bytes of `what`.
fn need(b: &[u8], needed: usize, what: &'static str) -> Result<(), DatapathError> {
    if b.len() < needed {
        return Err(DatapathError::Len {
            what,
            needed,
            got: b.len(),
        });
    }
    Ok(())
}

fn u8_at(b: &[u8], at: usize, what: &'static str) -> Result<u8, DatapathError> {
    Ok(get::<1>(b, at, what)?[0])
}
fn u16_at(b: &[u8], at: usize, what: &'static str) -> Result<u16, DatapathError> {
    Ok(u16::from_ne_bytes(get(b, at, what)?))
}
fn u32_at(b: &[u8], at: usize, what: &'static str) -> Result<u32, DatapathError> {
    Ok(u32::from_ne_bytes(get(b, at, what)?))
}
fn u64_at(b: &[u8], at: usize, what: &'static str) -> Result<u64, DatapathError> {
    Ok(u64::from_ne_bytes(get(b, at, what)?))
}

fn decode_common(b: &[u8]) -> Result<DpCommon, DatapathError> {
    const W: &str = "common header";
    if b.len() < size_of::<DpCommon>() {
        return Err(DatapathError::Len {
            what: W,
            needed: size_of::<DpCommon>(),
            got: b.len(),
        });
    }
    let c = DpCommon {
        kind: u8_at(b, offset_of!(DpCommon, kind), W)?,
        version: u8_at(b, offset_of!(DpCommon, version), W)?,
        hdr_len: u16_at(b, offset_of!(DpCommon, hdr_len), W)?,
        cpu: u32_at(b, offset_of!(DpCommon, cpu), W)?,
        ktime_ns: u64_at(b, offset_of!(DpCommon, ktime_ns), W)?,
        ifindex: u32_at(b, offset_of!(DpCommon, ifindex), W)?,
        orig_len: u32_at(b, offset_of!(DpCommon, orig_len), W)?,
        cap_len: u16_at(b, offset_of!(DpCommon, cap_len), W)?,
        protocol: u16_at(b, offset_of!(DpCommon, protocol), W)?,
        layer: u8_at(b, offset_of!(DpCommon, layer), W)?,
        flags: u8_at(b, offset_of!(DpCommon, flags), W)?,
        reserved: u16_at(b, offset_of!(DpCommon, reserved), W)?,
        netns: u32_at(b, offset_of!(DpCommon, netns), W)?,
        mark: u32_at(b, offset_of!(DpCommon, mark), W)?,
    };
    if c.version != VERSION {
        return Err(DatapathError::Version { got: c.version });
    }
    if c.layer > LAYER_NETWORK {
        return Err(DatapathError::Layer(c.layer));
    }
    Ok(c)
}

/// The packet bytes of a record: `cap_len` bytes at `hdr_len`.
fn packet<'a>(b: &'a [u8], c: &DpCommon, min: usize) -> Result<&'a [u8], DatapathError> {
    let hl = usize::from(c.hdr_len);
    if hl < min {
        return Err(DatapathError::HeaderLen {
            kind: c.kind,
            hdr_len: c.hdr_len,
            min,
        });
    }
    if b.len() < hl {
        return Err(DatapathError::Len {
            what: "header",
            needed: hl,
            got: b.len(),
        });
    }
    let end = hl + usize::from(c.cap_len);
    b.get(hl..end).ok_or(DatapathError::Len {
        what: "packet data",
        needed: end,
        got: b.len(),
    })
}

/// Decodes one ring-buffer record.
///
/// # Errors
/// [`DatapathError`]: truncation (`Len`) or bad content.
pub fn decode(bytes: &[u8]) -> Result<DatapathRecord<'_>, DatapathError> {
    let kind = *bytes.first().ok_or(DatapathError::Len {
        what: "record type",
        needed: 1,
        got: 0,
    })?;
    if kind != TYPE_DROP && kind != TYPE_TRACE {
        return Err(DatapathError::UnknownType(kind));
    }
    let common = decode_common(bytes)?;
    if kind == TYPE_DROP {
        const W: &str = "drop header";
        let min = size_of::<DpDrop>();
        need(bytes, min, W)?;
        let d = DpDrop {
            common,
            reason: u32_at(bytes, offset_of!(DpDrop, reason), W)?,
            pid: u32_at(bytes, offset_of!(DpDrop, pid), W)?,
            tid: u32_at(bytes, offset_of!(DpDrop, tid), W)?,
            reserved: u32_at(bytes, offset_of!(DpDrop, reserved), W)?,
            location: u64_at(bytes, offset_of!(DpDrop, location), W)?,
            comm: get(bytes, offset_of!(DpDrop, comm), W)?,
        };
        Ok(DatapathRecord::Drop(d, packet(bytes, &common, min)?))
    } else {
        const W: &str = "trace header";
        // Records made before the stack points end at `sample_rate` (48
        // bytes, no owner fields): still read, with the owner zero.
        let min = offset_of!(DpTrace, pid);
        let full = usize::from(common.hdr_len) >= size_of::<DpTrace>();
        need(bytes, if full { size_of::<DpTrace>() } else { min }, W)?;
        let mut t = DpTrace {
            common,
            point: u8_at(bytes, offset_of!(DpTrace, point), W)?,
            reserved: get(bytes, offset_of!(DpTrace, reserved), W)?,
            sample_rate: u32_at(bytes, offset_of!(DpTrace, sample_rate), W)?,
            ..DpTrace::default()
        };
        if full {
            t.pid = u32_at(bytes, offset_of!(DpTrace, pid), W)?;
            t.tid = u32_at(bytes, offset_of!(DpTrace, tid), W)?;
            t.sock_cookie = u64_at(bytes, offset_of!(DpTrace, sock_cookie), W)?;
            t.comm = get(bytes, offset_of!(DpTrace, comm), W)?;
        }
        Ok(DatapathRecord::Trace(t, packet(bytes, &common, min)?))
    }
}

/// Decodes a `drop_counts` map key.
///
/// # Errors
/// [`DatapathError::Len`] unless the key is exactly 16 bytes.
pub fn decode_drop_key(bytes: &[u8]) -> Result<DpDropKey, DatapathError> {
    const W: &str = "drop count key";
    if bytes.len() != size_of::<DpDropKey>() {
        return Err(DatapathError::Len {
            what: W,
            needed: size_of::<DpDropKey>(),
            got: bytes.len(),
        });
    }
    Ok(DpDropKey {
        reason: u32_at(bytes, offset_of!(DpDropKey, reason), W)?,
        ifindex: u32_at(bytes, offset_of!(DpDropKey, ifindex), W)?,
        location: u64_at(bytes, offset_of!(DpDropKey, location), W)?,
    })
}

/// What turns raw numbers into names: the running kernel's drop reasons,
/// its symbols, and an interface name lookup.
pub struct Enrich<'a> {
    /// Drop-reason names from BTF; `None` prints raw codes.
    pub reasons: Option<&'a DropReasonTable>,
    /// Kernel symbols; `None` prints addresses.
    pub symbols: Option<&'a KallSyms>,
    /// Interface name of `(netns inode, ifindex)`: an index means something
    /// only in its namespace (inode 0: unknown, looked up in the
    /// monitor's own).
    pub ifname: &'a dyn Fn(u32, u32) -> Option<String>,
}

impl std::fmt::Debug for Enrich<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrich")
            .field("reasons", &self.reasons.map(DropReasonTable::len))
            .field("symbols", &self.symbols.map(KallSyms::len))
            .finish_non_exhaustive()
    }
}

impl Enrich<'_> {
    /// A drop reason code with its name, when the kernel's table has one.
    fn reason(&self, code: u32) -> crate::event::DropReason {
        match self.reasons {
            Some(t) => t.resolve(code),
            None => crate::event::DropReason {
                code,
                subsystem: None,
                name: None,
            },
        }
    }

    /// A kernel address with its symbol, when known.
    fn location(&self, addr: u64) -> KernelLocation {
        KernelLocation {
            addr,
            symbol: self.symbols.and_then(|s| s.symbol_string(addr)),
        }
    }

    /// An interface index of namespace `netns` with its name, when known.
    fn interface(&self, netns: u32, ifindex: u32) -> Interface {
        Interface {
            ifindex,
            name: (self.ifname)(netns, ifindex),
        }
    }

    /// The summary group of a `drop_counts` key, with names resolved.
    #[must_use]
    pub fn drop_key(&self, key: &DpDropKey) -> crate::drop_summary::DropKey {
        crate::drop_summary::DropKey {
            reason: self.reason(key.reason).to_string(),
            location: self.location(key.location).to_string(),
            interface: self.interface(0, key.ifindex).to_string(),
        }
    }
}

/// The wall-clock time of a `bpf_ktime_get_boot_ns()` value, given the
/// wall-clock time at boot in nanoseconds since the epoch
/// (`CLOCK_REALTIME - CLOCK_BOOTTIME`, measured by the caller).
#[must_use]
pub fn boot_ns_to_wall(ktime_ns: u64, boot_wall_ns: i128) -> Timestamp {
    let ns = boot_wall_ns.saturating_add(i128::from(ktime_ns));
    let secs = i64::try_from(ns.div_euclid(1_000_000_000)).unwrap_or(i64::MAX);
    let nanos = i64::try_from(ns.rem_euclid(1_000_000_000)).unwrap_or(0);
    Timestamp::from_nanos_parts(secs, nanos)
}

fn layer(l: u8) -> CaptureLayer {
    match l {
        LAYER_ETHERNET => CaptureLayer::Ethernet,
        LAYER_NETWORK => CaptureLayer::Network,
        _ => CaptureLayer::None,
    }
}

fn comm_string(c: &[u8; 16]) -> String {
    let end = c.iter().position(|&b| b == 0).unwrap_or(c.len());
    String::from_utf8_lossy(c.get(..end).unwrap_or_default()).into_owned()
}

impl DatapathRecord<'_> {
    /// The record's `bpf_ktime_get_boot_ns()` time.
    #[must_use]
    pub fn ktime_ns(&self) -> u64 {
        match self {
            DatapathRecord::Drop(d, _) => d.common.ktime_ns,
            DatapathRecord::Trace(t, _) => t.common.ktime_ns,
        }
    }

    /// The event for this record, with names resolved through `enrich`.
    #[must_use]
    pub fn to_event(&self, header: Header, enrich: &Enrich<'_>) -> Event {
        match self {
            DatapathRecord::Drop(d, data) => {
                let c = &d.common;
                Event::Drop(Box::new(DropEvent {
                    header,
                    cpu: c.cpu,
                    reason: enrich.reason(d.reason),
                    location: enrich.location(d.location),
                    interface: enrich.interface(c.netns, c.ifindex),
                    protocol: c.protocol,
                    orig_len: c.orig_len,
                    layer: layer(c.layer),
                    packet: data.to_vec(),
                    process: (c.flags & FLAG_PROCESS != 0).then(|| ProcessContext {
                        pid: d.pid,
                        tid: d.tid,
                        comm: comm_string(&d.comm),
                    }),
                    netns: c.netns,
                    netns_name: None,
                    foreign_netns: false,
                    mark: c.mark,
                }))
            }
            DatapathRecord::Trace(t, data) => {
                let c = &t.common;
                Event::Trace(Box::new(TraceEvent {
                    header,
                    cpu: c.cpu,
                    point: ObservationPoint::from_code(t.point),
                    interface: enrich.interface(c.netns, c.ifindex),
                    protocol: c.protocol,
                    orig_len: c.orig_len,
                    layer: layer(c.layer),
                    packet: data.to_vec(),
                    sample_rate: t.sample_rate.max(1),
                    mark: c.mark,
                    netns: c.netns,
                    process: (c.flags & FLAG_PROCESS != 0).then(|| ProcessContext {
                        pid: t.pid,
                        tid: t.tid,
                        comm: comm_string(&t.comm),
                    }),
                    sock_cookie: t.sock_cookie,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Source;
    use crate::format::monitor::{MonitorFormatter, MonitorOptions};

    /// IPv4 10.0.0.1 -> 10.0.0.2, UDP 41022 -> 8080.
    const PKT: [u8; 28] = [
        0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0xa0, 0x3e, 0x1f, 0x90,
        0, 8, 0, 0,
    ];

    fn raw_drop() -> DpDrop {
        let mut comm = [0u8; 16];
        comm[..4].copy_from_slice(b"curl");
        DpDrop {
            common: DpCommon {
                kind: TYPE_DROP,
                version: VERSION,
                hdr_len: 80,
                cpu: 3,
                ktime_ns: 5_000_000_123,
                ifindex: 4,
                orig_len: 60,
                cap_len: 28,
                protocol: 0x0800,
                layer: 2,
                flags: FLAG_PROCESS,
                reserved: 0,
                netns: 4_026_531_840,
                mark: 7,
            },
            reason: 3,
            pid: 100,
            tid: 101,
            reserved: 0,
            location: 0xffff_ffff_8100_3010,
            comm,
        }
    }

    fn raw_trace() -> DpTrace {
        DpTrace {
            common: DpCommon {
                kind: TYPE_TRACE,
                hdr_len: 80,
                version: VERSION,
                cap_len: 28,
                layer: 2,
                ..raw_drop().common
            },
            point: 2,
            reserved: [0; 3],
            sample_rate: 10,
            ..DpTrace::default()
        }
    }

    #[test]
    fn round_trip() {
        let d = raw_drop();
        let bytes = d.to_bytes(&PKT);
        assert_eq!(decode(&bytes), Ok(DatapathRecord::Drop(d, &PKT[..])));
        let t = raw_trace();
        let mut bytes = t.to_bytes(&PKT);
        bytes.extend_from_slice(&[0xaa; 200]); // rest of a fixed-size reservation
        assert_eq!(decode(&bytes), Ok(DatapathRecord::Trace(t, &PKT[..])));
    }

    #[test]
    fn longer_header_is_skipped() {
        let mut t = raw_trace();
        t.common.hdr_len = 84;
        let mut bytes = t.to_bytes(&[0xde, 0xad, 0xbe, 0xef]);
        bytes.extend_from_slice(&PKT);
        assert_eq!(decode(&bytes), Ok(DatapathRecord::Trace(t, &PKT[..])));
    }

    /// A trace record of the layout before the stack points (48-byte
    /// header, no owner fields; the committed fixture has them) still
    /// decodes, with the owner zero and the packet found at `hdr_len`.
    #[test]
    fn old_trace_layout_is_read() {
        let mut t = raw_trace();
        t.common.hdr_len = 48;
        let bytes = t.to_bytes(&PKT);
        let mut old = bytes[..48].to_vec();
        old.extend_from_slice(&PKT);
        assert_eq!(decode(&old), Ok(DatapathRecord::Trace(t, &PKT[..])));
        assert!(matches!(
            decode(&old[..47]),
            Err(DatapathError::Len { needed: 48, .. })
        ));
    }

    #[test]
    fn every_truncation_is_len() {
        let bytes = raw_drop().to_bytes(&PKT);
        for n in 0..bytes.len() {
            assert!(
                matches!(decode(&bytes[..n]), Err(DatapathError::Len { .. })),
                "{n}: {:?}",
                decode(&bytes[..n])
            );
        }
        let bytes = raw_trace().to_bytes(&PKT);
        for n in 0..bytes.len() {
            assert!(
                matches!(decode(&bytes[..n]), Err(DatapathError::Len { .. })),
                "{n}"
            );
        }
        assert_eq!(
            decode(&bytes[..100]),
            Err(DatapathError::Len {
                what: "packet data",
                needed: 108,
                got: 100
            })
        );
        assert_eq!(
            decode(&bytes[..79]),
            Err(DatapathError::Len {
                what: "trace header",
                needed: 80,
                got: 79
            })
        );
    }

    #[test]
    fn bad_content() {
        let mut b = raw_drop().to_bytes(&PKT);
        b[0] = 9;
        assert_eq!(decode(&b), Err(DatapathError::UnknownType(9)));
        let mut b = raw_drop().to_bytes(&PKT);
        b[1] = 2;
        assert_eq!(decode(&b), Err(DatapathError::Version { got: 2 }));
        let mut d = raw_drop();
        d.common.hdr_len = 40;
        assert_eq!(
            decode(&d.to_bytes(&PKT)),
            Err(DatapathError::HeaderLen {
                kind: 1,
                hdr_len: 40,
                min: 80
            })
        );
        let mut d = raw_drop();
        d.common.layer = 3;
        assert_eq!(decode(&d.to_bytes(&PKT)), Err(DatapathError::Layer(3)));
        for i in 0..108 {
            let mut b = raw_drop().to_bytes(&PKT);
            for x in [0xff, 0x80, 0x01] {
                b[i] ^= x;
                let _ = decode(&b);
            }
        }
    }

    #[test]
    fn drop_key() {
        let mut b = 12u32.to_ne_bytes().to_vec();
        b.extend_from_slice(&2u32.to_ne_bytes());
        b.extend_from_slice(&0xffff_ffff_81f6_57b8u64.to_ne_bytes());
        let k = decode_drop_key(&b).unwrap();
        assert_eq!(
            k,
            DpDropKey {
                reason: 12,
                ifindex: 2,
                location: 0xffff_ffff_81f6_57b8
            }
        );
        let names = |_, _| Some("veth-b".to_owned());
        let dk = Enrich {
            reasons: None,
            symbols: None,
            ifname: &names,
        }
        .drop_key(&k);
        assert_eq!(
            (
                dk.reason.as_str(),
                dk.location.as_str(),
                dk.interface.as_str()
            ),
            ("reason 12", "0xffffffff81f657b8", "veth-b")
        );
        for n in 0..b.len() {
            assert!(matches!(
                decode_drop_key(&b[..n]),
                Err(DatapathError::Len { .. })
            ));
        }
        b.push(0);
        assert!(decode_drop_key(&b).is_err());
    }

    #[test]
    fn to_event_and_format() {
        let bytes = raw_drop().to_bytes(&PKT);
        let rec = decode(&bytes).unwrap();
        let reasons = crate::btf::DropReasonTable::default();
        let syms = KallSyms::parse("ffffffff81003000 T tcp_v4_rcv\n");
        let names = |_, i: u32| (i == 4).then(|| "veth0".to_owned());
        let enrich = Enrich {
            reasons: Some(&reasons),
            symbols: Some(&syms),
            ifname: &names,
        };
        let time = boot_ns_to_wall(rec.ktime_ns(), 1_700_000_000_000_000_000);
        assert_eq!(
            time,
            Timestamp {
                secs: 1_700_000_005,
                nanos: 123
            }
        );
        let header = Header {
            time,
            source: Source::Datapath,
            seq: 1,
        };
        let ev = rec.to_event(header, &enrich);
        let Event::Drop(d) = &ev else {
            panic!("{ev:?}")
        };
        assert_eq!(d.process.as_ref().unwrap().comm, "curl");
        assert_eq!(d.location.symbol.as_deref(), Some("tcp_v4_rcv+0x10"));
        assert_eq!(
            MonitorFormatter::new(MonitorOptions::default()).format(&ev),
            "CPU 03: xx drop (reason 3) interface veth0, location tcp_v4_rcv+0x10, pid 100 (curl): 10.0.0.1:41022 -> 10.0.0.2:8080 udp\n"
        );
        let tb = raw_trace().to_bytes(&PKT);
        let ev = decode(&tb).unwrap().to_event(
            Header {
                time,
                source: Source::Datapath,
                seq: 2,
            },
            &Enrich {
                reasons: None,
                symbols: None,
                ifname: &names,
            },
        );
        let Event::Trace(t) = &ev else { panic!() };
        assert_eq!((t.point, t.sample_rate), (ObservationPoint::ToNetwork, 10));
        assert_eq!(
            boot_ns_to_wall(0, -1),
            Timestamp {
                secs: -1,
                nanos: 999_999_999
            }
        );
    }
}
