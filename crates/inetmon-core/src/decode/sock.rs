//! Decoder of the socket-event ring-buffer records written by the BPF
//! programs of `inetmon-bpf` (`struct inetmon_sock_rec`), into
//! [`SockEvent`]s.
//!
//! The layout is `inetmon-bpf`'s `#[repr(C)]` mirror,
//! [`SockRec`], whose build script
//! checks it against the C header: every field is read at its
//! `offset_of!` (compile-time constants below), from bytes, in safe code,
//! native byte order (the record never leaves the host).

use std::mem::offset_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use inetmon_bpf::record::sock::{self as layout, SockRec};

use crate::event::{
    Attribution, Header, Initiator, SockEvent, SockLink, SockOp, SockTask, Source, TcpSegment,
    Timestamp,
};

/// Size of one record in bytes.
pub const RECORD_LEN: usize = layout::SIZE;
/// The layout version this decoder reads (`INETMON_SOCK_VERSION`).
pub const VERSION: u8 = layout::VERSION;
/// `AF_INET`
pub const AF_INET: u16 = 2;
/// `AF_INET6`
pub const AF_INET6: u16 = 10;

/// Offsets of the record's fields, from the layout.
mod off {
    use super::{offset_of, SockRec};

    pub(super) const TS: usize = offset_of!(SockRec, ts_ns);
    pub(super) const COOKIE: usize = offset_of!(SockRec, cookie);
    pub(super) const CGROUP: usize = offset_of!(SockRec, cgroup_id);
    pub(super) const NETNS: usize = offset_of!(SockRec, netns);
    pub(super) const PID: usize = offset_of!(SockRec, pid);
    pub(super) const TID: usize = offset_of!(SockRec, tid);
    pub(super) const UID: usize = offset_of!(SockRec, uid);
    pub(super) const GID: usize = offset_of!(SockRec, gid);
    pub(super) const RESULT: usize = offset_of!(SockRec, result);
    pub(super) const FAMILY: usize = offset_of!(SockRec, family);
    pub(super) const TYPE: usize = offset_of!(SockRec, sock_type);
    pub(super) const PROTOCOL: usize = offset_of!(SockRec, protocol);
    pub(super) const LPORT: usize = offset_of!(SockRec, lport);
    pub(super) const FPORT: usize = offset_of!(SockRec, fport);
    pub(super) const OP: usize = offset_of!(SockRec, op);
    pub(super) const ATTRIBUTION: usize = offset_of!(SockRec, attribution);
    pub(super) const INITIATOR: usize = offset_of!(SockRec, initiator);
    pub(super) const FLAGS: usize = offset_of!(SockRec, flags);
    pub(super) const VERSION: usize = offset_of!(SockRec, version);
    pub(super) const TCP_FLAGS: usize = offset_of!(SockRec, tcp_flags);
    pub(super) const FD: usize = offset_of!(SockRec, fd);
    pub(super) const IFINDEX: usize = offset_of!(SockRec, ifindex);
    pub(super) const SEQ_ACK: usize = offset_of!(SockRec, seq_ack);
    pub(super) const LADDR: usize = offset_of!(SockRec, laddr);
    pub(super) const FADDR: usize = offset_of!(SockRec, faddr);
    pub(super) const COMM: usize = offset_of!(SockRec, comm);
    /// Bytes of `comm`.
    pub(super) const COMM_LEN: usize = 16;

    // Every read below stays inside the record.
    const _: () = assert!(COMM + COMM_LEN <= FD && SEQ_ACK + 8 == super::RECORD_LEN);
    const _: () = assert!(FADDR + 16 <= COMM && LADDR + 16 <= FADDR);
}

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SockDecodeError {
    /// The record is shorter than the layout.
    #[error("socket record truncated: {got} bytes, expected {expected}")]
    Len {
        /// Bytes needed.
        expected: usize,
        /// Bytes present.
        got: usize,
    },
    /// The record has another layout version.
    #[error("socket record at offset {offset}: version {got}, expected {expected}")]
    Version {
        /// Offset of the version byte.
        offset: usize,
        /// Version found.
        got: u8,
        /// Version this decoder reads.
        expected: u8,
    },
    /// A field holds a value outside its range.
    #[error("socket record at offset {offset}: bad {field} {got}")]
    Field {
        /// Offset of the field.
        offset: usize,
        /// The field's name.
        field: &'static str,
        /// The value found.
        got: i64,
    },
}

/// Decodes one record. `mono_to_wall_ns` is added to the record's
/// `CLOCK_MONOTONIC` time to get wall-clock time (realtime − monotonic,
/// sampled by the reader); `seq` becomes the header's sequence number.
///
/// # Errors
/// [`SockDecodeError`] for a short record, another version, or an unknown
/// operation, attribution, initiator or family.
pub fn decode_record(
    b: &[u8],
    mono_to_wall_ns: i64,
    seq: u64,
) -> Result<SockEvent, SockDecodeError> {
    decode_with_comm(b, mono_to_wall_ns, seq, String::new())
}

/// [`decode_record`] into an event already allocated: every field of `ev`
/// is overwritten, and its `comm` keeps its storage. A reader that gets
/// spent events back (the pipeline's batches) decodes each record without
/// allocating. On error `ev` holds the same event as before, except that
/// its `comm` may be empty.
///
/// # Errors
/// As [`decode_record`].
pub fn decode_record_into(
    b: &[u8],
    mono_to_wall_ns: i64,
    seq: u64,
    ev: &mut SockEvent,
) -> Result<(), SockDecodeError> {
    let comm = std::mem::take(&mut ev.task.comm);
    *ev = decode_with_comm(b, mono_to_wall_ns, seq, comm)?;
    Ok(())
}

/// [`decode_record`] with `comm`'s storage for the program name.
fn decode_with_comm(
    b: &[u8],
    mono_to_wall_ns: i64,
    seq: u64,
    mut comm: String,
) -> Result<SockEvent, SockDecodeError> {
    let rec = b.get(..RECORD_LEN).ok_or(SockDecodeError::Len {
        expected: RECORD_LEN,
        got: b.len(),
    })?;
    let version = u8_at(rec, off::VERSION)?;
    if version != VERSION {
        return Err(SockDecodeError::Version {
            offset: off::VERSION,
            got: version,
            expected: VERSION,
        });
    }
    let op_raw = u8_at(rec, off::OP)?;
    let op =
        SockOp::from_code(op_raw).ok_or_else(|| bad(off::OP, "operation", i64::from(op_raw)))?;
    let attribution = match u8_at(rec, off::ATTRIBUTION)? {
        layout::ATTR_UNKNOWN => Attribution::Unknown,
        layout::ATTR_PROCESS => Attribution::Process,
        layout::ATTR_OWNER => Attribution::Owner,
        n => return Err(bad(off::ATTRIBUTION, "attribution", i64::from(n))),
    };
    let initiator = match u8_at(rec, off::INITIATOR)? {
        layout::INIT_NONE => None,
        layout::INIT_LOCAL => Some(Initiator::Local),
        layout::INIT_PEER => Some(Initiator::Peer),
        n => return Err(bad(off::INITIATOR, "initiator", i64::from(n))),
    };
    let family = u16_at(rec, off::FAMILY)?;
    if family != AF_INET && family != AF_INET6 {
        return Err(bad(off::FAMILY, "family", i64::from(family)));
    }
    let result = i32_at(rec, off::RESULT)?;
    let errno = if result < 0 { result.unsigned_abs() } else { 0 };
    let lport = u16_at(rec, off::LPORT)?;
    let fport = u16_at(rec, off::FPORT)?;
    let (laddr, lmapped) = addr_at(rec, off::LADDR, family)?;
    let (faddr, fmapped) = addr_at(rec, off::FADDR, family)?;
    let unspecified = faddr.is_unspecified() && fport == 0;
    let (local, foreign) = match op {
        SockOp::Create => (None, None),
        SockOp::Bind | SockOp::DynBind | SockOp::Listen => (Some((laddr, lport)), None),
        SockOp::Connect | SockOp::Connected | SockOp::Segment => {
            (Some((laddr, lport)), Some((faddr, fport)))
        }
        SockOp::Accept | SockOp::Disconnect | SockOp::Close | SockOp::Abort => (
            Some((laddr, lport)),
            if unspecified {
                None
            } else {
                Some((faddr, fport))
            },
        ),
    };
    let mapped = (lmapped && local.is_some()) || (fmapped && foreign.is_some());
    let ts = i64::try_from(u64_at(rec, off::TS)?).unwrap_or(i64::MAX);
    let wall = ts.saturating_add(mono_to_wall_ns);
    let comm_raw = rec
        .get(off::COMM..off::COMM + off::COMM_LEN)
        .unwrap_or_default();
    let comm_len = comm_raw
        .iter()
        .position(|&c| c == 0)
        .unwrap_or(comm_raw.len());
    let comm_raw = comm_raw.get(..comm_len).unwrap_or_default();
    comm.clear();
    match std::str::from_utf8(comm_raw) {
        Ok(c) => comm.push_str(c),
        Err(_) => comm.push_str(&String::from_utf8_lossy(comm_raw)),
    }
    let fd = if u8_at(rec, off::FLAGS)? & layout::F_FD != 0 {
        let fd = i32_at(rec, off::FD)?;
        Some(u32::try_from(fd).map_err(|_| bad(off::FD, "fd", i64::from(fd)))?)
    } else {
        None
    };
    let segment = if op == SockOp::Segment {
        // The header as it was on the wire: source port first.
        let (sport, dport) = match initiator {
            Some(Initiator::Peer) => (fport, lport),
            Some(Initiator::Local) => (lport, fport),
            None => return Err(bad(off::INITIATOR, "segment direction", 0)),
        };
        let mut header = [0u8; 12];
        header[..2].copy_from_slice(&sport.to_be_bytes());
        header[2..4].copy_from_slice(&dport.to_be_bytes());
        header[4..].copy_from_slice(&arr::<8>(rec, off::SEQ_ACK)?);
        Some(TcpSegment {
            received: initiator == Some(Initiator::Peer),
            header,
            flags: u8_at(rec, off::TCP_FLAGS)?,
        })
    } else {
        None
    };
    Ok(SockEvent {
        header: Header {
            time: Timestamp::from_nanos_parts(
                wall.div_euclid(1_000_000_000),
                wall.rem_euclid(1_000_000_000),
            ),
            source: Source::Sockets,
            seq,
        },
        op,
        task: SockTask {
            pid: u32_at(rec, off::PID)?,
            tid: u32_at(rec, off::TID)?,
            uid: u32_at(rec, off::UID)?,
            gid: u32_at(rec, off::GID)?,
            comm,
        },
        attribution,
        family,
        sock_type: u16_at(rec, off::TYPE)?,
        protocol: u16_at(rec, off::PROTOCOL)?,
        local,
        foreign,
        mapped,
        cgroup_id: u64_at(rec, off::CGROUP)?,
        netns: u32_at(rec, off::NETNS)?,
        cookie: u64_at(rec, off::COOKIE)?,
        errno,
        initiator,
        existing: false,
        process: None,
        link: SockLink {
            fd,
            ifindex: u32_at(rec, off::IFINDEX)?,
            segment,
        },
    })
}

/// One socket from a `sock_diag` dump (`struct inet_diag_msg`), used to
/// synthesise `--existing` events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagSock {
    /// Address family.
    pub family: u16,
    /// TCP state number (10 = LISTEN, 1 = ESTABLISHED; 7 = CLOSE for an
    /// unconnected UDP socket).
    pub state: u8,
    /// Local end (mapped IPv6 shown as IPv4).
    pub local: (IpAddr, u16),
    /// Foreign end.
    pub foreign: (IpAddr, u16),
    /// An end was IPv4-mapped.
    pub mapped: bool,
    /// Socket cookie.
    pub cookie: u64,
    /// Owner uid.
    pub uid: u32,
    /// Socket inode (to find the owning process through `/proc/*/fd`).
    pub inode: u32,
}

/// Length of `struct inet_diag_msg`.
pub const INET_DIAG_MSG_LEN: usize = 72;

/// Decodes a `struct inet_diag_msg` (the payload of a `SOCK_DIAG_BY_FAMILY`
/// reply, after the netlink header).
///
/// # Errors
/// [`SockDecodeError::Len`] when short; [`SockDecodeError::Field`] for a
/// family other than `AF_INET`/`AF_INET6`.
pub fn decode_inet_diag(b: &[u8]) -> Result<DiagSock, SockDecodeError> {
    let m = b.get(..INET_DIAG_MSG_LEN).ok_or(SockDecodeError::Len {
        expected: INET_DIAG_MSG_LEN,
        got: b.len(),
    })?;
    let family = u16::from(u8_at(m, 0)?);
    if family != AF_INET && family != AF_INET6 {
        return Err(bad(0, "family", i64::from(family)));
    }
    let state = u8_at(m, 1)?;
    let sport = u16::from_be_bytes(arr(m, 4)?);
    let dport = u16::from_be_bytes(arr(m, 6)?);
    let (src, smapped) = addr_at(m, 8, family)?;
    let (dst, dmapped) = addr_at(m, 24, family)?;
    let c0 = u64::from(u32_at(m, 44)?);
    let c1 = u64::from(u32_at(m, 48)?);
    Ok(DiagSock {
        family,
        state,
        local: (src, sport),
        foreign: (dst, dport),
        mapped: smapped || dmapped,
        cookie: c0 | (c1 << 32),
        uid: u32_at(m, 64)?,
        inode: u32_at(m, 68)?,
    })
}

/// An address from its 16 bytes: IPv4 in the first four for `AF_INET`;
/// an IPv4-mapped IPv6 address becomes IPv4 with the `mapped` flag.
fn addr_at(b: &[u8], at: usize, family: u16) -> Result<(IpAddr, bool), SockDecodeError> {
    let raw: [u8; 16] = arr(b, at)?;
    if family == AF_INET {
        let [a, b2, c, d, ..] = raw;
        return Ok((IpAddr::V4(Ipv4Addr::new(a, b2, c, d)), false));
    }
    let v6 = Ipv6Addr::from(raw);
    match v6.to_ipv4_mapped() {
        Some(v4) => Ok((IpAddr::V4(v4), true)),
        None => Ok((IpAddr::V6(v6), false)),
    }
}

fn bad(offset: usize, field: &'static str, got: i64) -> SockDecodeError {
    SockDecodeError::Field { offset, field, got }
}

fn arr<const N: usize>(b: &[u8], at: usize) -> Result<[u8; N], SockDecodeError> {
    let end = at.checked_add(N).ok_or(SockDecodeError::Len {
        expected: usize::MAX,
        got: b.len(),
    })?;
    b.get(at..end)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or(SockDecodeError::Len {
            expected: end,
            got: b.len(),
        })
}

fn u8_at(b: &[u8], at: usize) -> Result<u8, SockDecodeError> {
    Ok(arr::<1>(b, at)?[0])
}
fn u16_at(b: &[u8], at: usize) -> Result<u16, SockDecodeError> {
    Ok(u16::from_ne_bytes(arr(b, at)?))
}
fn u32_at(b: &[u8], at: usize) -> Result<u32, SockDecodeError> {
    Ok(u32::from_ne_bytes(arr(b, at)?))
}
fn i32_at(b: &[u8], at: usize) -> Result<i32, SockDecodeError> {
    Ok(i32::from_ne_bytes(arr(b, at)?))
}
fn u64_at(b: &[u8], at: usize) -> Result<u64, SockDecodeError> {
    Ok(u64::from_ne_bytes(arr(b, at)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connect outcome from 10.0.0.1:40000 to ::ffff:10.0.0.2:80 refused.
    fn sample() -> Vec<u8> {
        let l: Ipv6Addr = "::ffff:10.0.0.1".parse().unwrap();
        let f: Ipv6Addr = "::ffff:10.0.0.2".parse().unwrap();
        let mut comm = [0u8; 16];
        comm[..4].copy_from_slice(b"curl");
        SockRec {
            ts_ns: 1_500_000_000,
            cookie: 77,
            cgroup_id: 9,
            netns: 4026531840,
            pid: 100,
            tid: 101,
            uid: 1000,
            gid: 1001,
            result: -111,
            family: AF_INET6,
            sock_type: 1,
            protocol: 6,
            lport: 40000,
            fport: 80,
            op: layout::OP_CONNECTED,
            attribution: layout::ATTR_OWNER,
            version: VERSION,
            laddr: l.octets(),
            faddr: f.octets(),
            comm,
            ..SockRec::default()
        }
        .to_bytes()
    }

    #[test]
    fn decodes_a_mapped_refused_connect() {
        let ev = decode_record(&sample(), 1_000_000_000, 5).unwrap();
        assert_eq!(ev.op, SockOp::Connected);
        assert_eq!(ev.errno, 111);
        assert_eq!(ev.header.seq, 5);
        assert_eq!(
            ev.header.time,
            Timestamp {
                secs: 2,
                nanos: 500_000_000
            }
        );
        assert_eq!(ev.local, Some(("10.0.0.1".parse().unwrap(), 40000)));
        assert_eq!(ev.foreign, Some(("10.0.0.2".parse().unwrap(), 80)));
        assert!(ev.mapped);
        assert_eq!(ev.attribution, Attribution::Owner);
        assert_eq!(ev.task.comm, "curl");
        assert_eq!(
            (ev.task.pid, ev.task.tid, ev.task.uid, ev.task.gid),
            (100, 101, 1000, 1001)
        );
        assert_eq!((ev.cookie, ev.cgroup_id, ev.netns), (77, 9, 4026531840));
    }

    #[test]
    fn fd_and_ifindex() {
        let ev = decode_record(&sample(), 0, 0).unwrap();
        assert_eq!(ev.link, SockLink::default());
        let mut b = sample();
        b[off::FLAGS] = layout::F_FD;
        b[off::FD..off::FD + 4].copy_from_slice(&0i32.to_ne_bytes());
        b[off::IFINDEX..off::IFINDEX + 4].copy_from_slice(&2u32.to_ne_bytes());
        let ev = decode_record(&b, 0, 0).unwrap();
        assert_eq!((ev.link.fd, ev.link.ifindex), (Some(0), 2));
        b[off::FD..off::FD + 4].copy_from_slice(&(-1i32).to_ne_bytes());
        assert!(matches!(
            decode_record(&b, 0, 0),
            Err(SockDecodeError::Field { field: "fd", .. })
        ));
    }

    /// A SYN-ACK received by 10.0.0.1:40000 from 10.0.0.2:80: the header
    /// is rebuilt with the peer's port first.
    #[test]
    fn segments() {
        let mut b = sample();
        b[off::OP] = layout::OP_SEGMENT;
        b[off::INITIATOR] = layout::INIT_PEER;
        b[off::TCP_FLAGS] = 0x12;
        b[off::RESULT..off::RESULT + 4].copy_from_slice(&[0; 4]);
        b[off::SEQ_ACK..off::SEQ_ACK + 8].copy_from_slice(&[0, 0, 0, 9, 0, 0, 0, 2]);
        let ev = decode_record(&b, 0, 0).unwrap();
        assert_eq!(ev.op, SockOp::Segment);
        assert_eq!(
            ev.link.segment,
            Some(TcpSegment {
                received: true,
                header: [0, 80, 0x9c, 0x40, 0, 0, 0, 9, 0, 0, 0, 2],
                flags: 0x12,
            })
        );
        b[off::INITIATOR] = layout::INIT_LOCAL;
        let seg = decode_record(&b, 0, 0).unwrap().link.segment.unwrap();
        assert!(!seg.received);
        assert_eq!(seg.header[..4], [0x9c, 0x40, 0, 80]);
        b[off::INITIATOR] = layout::INIT_NONE;
        assert!(decode_record(&b, 0, 0).is_err());
    }

    /// Decoding into a spent event gives what a fresh decode gives, whatever
    /// the spent event held (a longer name, process details, a segment),
    /// and reuses its name's storage.
    #[test]
    fn decoding_into_a_spent_event_equals_a_fresh_decode() {
        let mut seg = sample();
        seg[off::OP] = layout::OP_SEGMENT;
        seg[off::INITIATOR] = layout::INIT_PEER;
        let mut bad_utf8 = sample();
        bad_utf8[off::COMM..off::COMM + 4].copy_from_slice(&[b'a', 0xff, b'b', 0]);
        let mut full_comm = sample();
        full_comm[off::COMM..off::COMM + 16].copy_from_slice(b"0123456789abcdef");
        let mut fd = sample();
        fd[off::FLAGS] = layout::F_FD;
        fd[off::FD..off::FD + 4].copy_from_slice(&7i32.to_ne_bytes());
        let records = [sample(), seg, bad_utf8, full_comm, fd, sample()];
        let mut spent = SockEvent {
            process: Some(crate::event::ProcessInfo {
                cmdline: "spent --cmdline".into(),
                ppid: 1,
            }),
            ..SockEvent::sample()
        };
        spent.task.comm = "a-long-program-name".into();
        let storage = spent.task.comm.as_ptr();
        for (i, r) in (0u64..).zip(&records) {
            let fresh = decode_record(r, 7, i).unwrap();
            decode_record_into(r, 7, i, &mut spent).unwrap();
            assert_eq!(spent, fresh, "record {i}");
            assert_eq!(spent.task.comm.as_ptr(), storage, "record {i}");
        }
        assert_eq!(spent.task.comm, "curl");
        let mut b = sample();
        b[off::VERSION] = 9;
        assert!(decode_record_into(&b, 0, 0, &mut spent).is_err());
        assert!(decode_record_into(&b[..10], 0, 0, &mut spent).is_err());
    }

    #[test]
    fn every_truncation_is_an_error() {
        let b = sample();
        for n in 0..RECORD_LEN {
            assert_eq!(
                decode_record(&b[..n], 0, 0),
                Err(SockDecodeError::Len {
                    expected: RECORD_LEN,
                    got: n
                })
            );
        }
    }

    #[test]
    fn decodes_inet_diag_and_truncations() {
        let mut m = vec![0u8; INET_DIAG_MSG_LEN];
        m[0] = 2;
        m[1] = 10;
        m[4..6].copy_from_slice(&8080u16.to_be_bytes());
        m[8..12].copy_from_slice(&[127, 0, 0, 1]);
        m[44..48].copy_from_slice(&5u32.to_ne_bytes());
        m[48..52].copy_from_slice(&1u32.to_ne_bytes());
        m[64..68].copy_from_slice(&1000u32.to_ne_bytes());
        m[68..72].copy_from_slice(&4242u32.to_ne_bytes());
        let d = decode_inet_diag(&m).unwrap();
        assert_eq!(d.local, ("127.0.0.1".parse().unwrap(), 8080));
        assert_eq!(
            (d.state, d.cookie, d.uid, d.inode),
            (10, 5 | (1 << 32), 1000, 4242)
        );
        for n in 0..INET_DIAG_MSG_LEN {
            assert!(matches!(
                decode_inet_diag(&m[..n]),
                Err(SockDecodeError::Len { .. })
            ));
        }
        m[0] = 1;
        assert!(decode_inet_diag(&m).is_err());
    }

    #[test]
    fn bad_fields_are_errors() {
        let mut b = sample();
        b[off::VERSION] = 9;
        assert!(matches!(
            decode_record(&b, 0, 0),
            Err(SockDecodeError::Version { got: 9, .. })
        ));
        let mut b = sample();
        b[off::OP] = 42;
        assert!(matches!(
            decode_record(&b, 0, 0),
            Err(SockDecodeError::Field {
                field: "operation",
                ..
            })
        ));
        let mut b = sample();
        b[off::FAMILY] = 1;
        b[off::FAMILY + 1] = 0;
        assert!(matches!(
            decode_record(&b, 0, 0),
            Err(SockDecodeError::Field {
                field: "family",
                ..
            })
        ));
        let mut b = sample();
        b[off::TS..off::TS + 8].copy_from_slice(&u64::MAX.to_ne_bytes());
        assert!(decode_record(&b, i64::MAX, 0).is_ok());
    }
}
