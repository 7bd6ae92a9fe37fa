//! IP Filter 5.1 binary log records (`iplog_t`), read and written.
//!
//! What `read(/dev/ipl)` returns, what `ipmon -B` appends to a file, and
//! what `ipftest -l` writes: records back to back with no padding, each an
//! `iplog_t` header followed by `ipflog_t` + packet bytes (`IPLM`),
//! `natlog_t` (`IPLN`) or `ipslog_t` (`IPLS`). Layouts are those of
//! reference §4.2 for x86_64 (LP64) FreeBSD/Linux builds of IP Filter 5.1:
//! `iplog_t` 48 bytes, `ipflog_t` 80, `natlog_t` 160, `ipslog_t` 136.
//!
//! **Byte order.** Integer fields of the C structs are in the *host* order
//! of the machine that wrote them; this module reads and writes them
//! little-endian (x86_64). Packet bytes, addresses and NAT/state ports are
//! in network order.
//!
//! **Deviations from ipmon's reader (reference §4.3), on purpose:**
//! - every record is validated: known magic, `ipl_dsize` at least the
//!   header sizes for its type and at most [`MAX_RECORD`]; C loops forever on
//!   `dsize == 0`, reads out of bounds on small sizes and walks backwards on
//!   huge ones;
//! - a record split across reads is kept until the rest arrives (C drops
//!   the rest of the read buffer and loses framing at 32 KiB boundaries);
//! - bad bytes are reported as one [`Event::Malformed`] per bad region, and
//!   decoding resynchronises at the next offset where a plausible header
//!   (known magic and size) starts;
//! - one stream may mix the three magics (a file written by
//!   [`IplogEncoder`]); C accepts only the magic of the device it opened;
//! - `fl_hlen + fl_plen` larger than the record's payload is clamped to the
//!   bytes present, and bytes beyond it are ignored;
//! - a NAT or state record's `ipl_count` is not kept (the kernel always
//!   writes 1 there);
//! - a forward jump in a unit's sequence numbers (ipf, NAT and state count
//!   apart) is an [`Event::Lost`] before the record after the gap (stage
//!   kernel, the missing range in `seq_range`), so that every output format
//!   and the end-of-run summary see the loss; the ipmon text formatter
//!   prints it as ipmon's `missed N ipf log entries: A B`. The first record
//!   of a unit and a backwards jump (a restarted log) are not loss; ipmon's
//!   text still prints its `missed` line for them.
//!
//! The decoder holds at most one record (at most [`MAX_RECORD`] bytes) and
//! what was fed with it: bad bytes are given up as they are scanned.

mod encode;
mod layout;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use encode::{encode, EncodeError, IplogEncoder};
pub use layout::{
    IPFLOG_SIZE, IPLOG_SIZE, IPL_MAGIC, IPL_MAGIC_NAT, IPL_MAGIC_STATE, IPSLOG_SIZE, MAX_RECORD,
    NATLOG_SIZE,
};

use self::layout as l;
use super::StreamDecoder;
use crate::event::{
    Direction, Event, EventKind, Header, LossStage, Lost, Malformed, NatAction, NatLog, NatType,
    PacketLog, RuleGroup, Source, StateLog, StateType, Timestamp,
};

/// Why bytes are not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IplogError {
    /// Fewer bytes than the record needs (a truncated record).
    #[error("truncated {what}: need {needed} bytes, have {got}")]
    Len {
        /// What was being read.
        what: &'static str,
        /// Bytes needed from the start of the record.
        needed: u64,
        /// Bytes available.
        got: u64,
    },
    /// The first four bytes are not `IPLM`, `IPLN` or `IPLS`.
    #[error("bad magic {got:#010x}, expected IPLM, IPLN or IPLS")]
    BadMagic {
        /// The value read (little-endian).
        got: u32,
    },
    /// `ipl_dsize` is smaller than the headers of the record type.
    #[error("record size {dsize} is below the {min} bytes of a {what} record")]
    SizeTooSmall {
        /// Record type.
        what: &'static str,
        /// `ipl_dsize`.
        dsize: u64,
        /// The minimum for the type.
        min: u64,
    },
    /// `ipl_dsize` is larger than any record IP Filter writes.
    #[error("record size {dsize} is above the {max}-byte maximum")]
    SizeTooLarge {
        /// `ipl_dsize`.
        dsize: u64,
        /// [`MAX_RECORD`].
        max: u64,
    },
}

/// Checks the `iplog_t` at the start of `bytes` and returns the record's
/// total size (`ipl_dsize`).
///
/// # Errors
/// [`IplogError::Len`] if fewer than 48 bytes are given, else a content
/// error for a bad magic or size.
pub fn record_size(bytes: &[u8]) -> Result<usize, IplogError> {
    if bytes.len() < IPLOG_SIZE {
        return Err(IplogError::Len {
            what: "iplog_t header",
            needed: IPLOG_SIZE as u64,
            got: bytes.len() as u64,
        });
    }
    let magic = l::le32(bytes, l::IPL_MAGIC_OFF);
    let (what, min) = match magic {
        IPL_MAGIC => ("ipf", IPLOG_SIZE + IPFLOG_SIZE),
        IPL_MAGIC_NAT => ("NAT", IPLOG_SIZE + NATLOG_SIZE),
        IPL_MAGIC_STATE => ("state", IPLOG_SIZE + IPSLOG_SIZE),
        got => return Err(IplogError::BadMagic { got }),
    };
    let dsize = l::le64(bytes, l::IPL_DSIZE_OFF);
    if dsize < min as u64 {
        return Err(IplogError::SizeTooSmall {
            what,
            dsize,
            min: min as u64,
        });
    }
    if dsize > MAX_RECORD as u64 {
        return Err(IplogError::SizeTooLarge {
            dsize,
            max: MAX_RECORD as u64,
        });
    }
    // Bounded by MAX_RECORD above.
    Ok(usize::try_from(dsize).unwrap_or(MAX_RECORD))
}

/// Decodes one whole record at the start of `bytes` into an event stamped
/// with `source` and `seq`; returns it with the record's size.
///
/// # Errors
/// [`IplogError::Len`] when `bytes` is shorter than the record (every
/// truncation of a valid record gives this), or the errors of
/// [`record_size`].
pub fn decode_record(
    bytes: &[u8],
    source: &Source,
    seq: u64,
) -> Result<(Event, usize), IplogError> {
    decode(bytes, source, seq, true)
}

fn decode(
    bytes: &[u8],
    source: &Source,
    seq: u64,
    raw: bool,
) -> Result<(Event, usize), IplogError> {
    let size = record_size(bytes)?;
    let rec = bytes.get(..size).ok_or(IplogError::Len {
        what: "record (ipl_dsize)",
        needed: size as u64,
        got: bytes.len() as u64,
    })?;
    let header = Header {
        time: Timestamp::from_micros(
            l::le64i(rec, l::IPL_SEC_OFF),
            l::le64i(rec, l::IPL_USEC_OFF),
        ),
        source: source.clone(),
        seq,
    };
    let seqnum = l::le32(rec, l::IPL_SEQNUM_OFF);
    let event = match l::le32(rec, l::IPL_MAGIC_OFF) {
        IPL_MAGIC => Event::Packet(Box::new(packet(rec, header, seqnum, raw))),
        IPL_MAGIC_NAT => Event::Nat(Box::new(nat(rec, header, seqnum))),
        _ => Event::State(Box::new(state(rec, header, seqnum))),
    };
    Ok((event, size))
}

/// A NUL-terminated string of at most `len` bytes at `at`.
fn c_string(rec: &[u8], at: usize, len: usize) -> String {
    let field = rec.get(at..at + len).unwrap_or(&[]);
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(field.get(..end).unwrap_or(&[])).into_owned()
}

fn packet(rec: &[u8], header: Header, seqnum: u32, raw: bool) -> PacketLog {
    let f = IPLOG_SIZE;
    let fl_flags = l::le32(rec, f + l::FL_FLAGS);
    let fl_lflags = l::le32(rec, f + l::FL_LFLAGS);
    let group = match rec.get(f + l::FL_GROUP..f + l::FL_GROUP + 2) {
        Some([0xff, 0]) => RuleGroup::None,
        Some([0, _]) => RuleGroup::Named("0".into()),
        _ => RuleGroup::Named(c_string(rec, f + l::FL_GROUP, l::FR_GROUPLEN).into()),
    };
    let fl_rule = l::le32(rec, f + l::FL_RULE);
    let nat_tag = if l::le32(rec, f + l::FL_NATTAG) != 0 {
        c_string(rec, f + l::FL_NATTAG, l::IPFTAG_SIZE)
    } else {
        String::new()
    };
    let loglevel = l::le16(rec, f + l::FL_LOGLEVEL);
    let hlen = rec.get(f + l::FL_HLEN).copied().unwrap_or(0);
    let plen = l::le16(rec, f + l::FL_PLEN);
    let body_at = IPLOG_SIZE + IPFLOG_SIZE;
    let want = usize::from(hlen) + usize::from(plen);
    let avail = rec.len().saturating_sub(body_at);
    let packet = rec
        .get(body_at..body_at + want.min(avail))
        .unwrap_or(&[])
        .to_vec();
    PacketLog {
        header,
        count: l::le32(rec, l::IPL_COUNT_OFF),
        interface: c_string(rec, f + l::FL_IFNAME, l::LIFNAMSIZ).into(),
        direction: match rec.get(f + l::FL_DIR) {
            Some(0) => Some(Direction::In),
            Some(1) => Some(Direction::Out),
            _ => None,
        },
        group,
        rule: (fl_rule != u32::MAX).then(|| fl_rule.wrapping_add(1)),
        action: l::action_from_flags(fl_flags),
        flags: l::flags_from_raw(fl_flags, fl_lflags),
        log_tag: l::le32(rec, f + l::FL_LOGTAG),
        nat_tag,
        reason: rec.get(f + l::FL_BREASON).copied().filter(|r| *r != 0),
        log_level: (loglevel != 0xffff).then_some(loglevel),
        family: rec.get(f + l::FL_FAMILY).copied().unwrap_or(0),
        header_len: u16::from(hlen),
        packet,
        ipf_seq: Some(seqnum),
        nflog: None,
        raw_header: if raw {
            rec.get(..body_at).unwrap_or(&[]).to_vec()
        } else {
            Vec::new()
        },
    }
}

/// An `i6addr_t`: IPv4 in its first four bytes when `v4`.
fn addr(rec: &[u8], at: usize, v4: bool) -> IpAddr {
    let mut a = [0u8; 16];
    if let Some(src) = rec.get(at..at + 16) {
        a.copy_from_slice(src);
    }
    if v4 {
        IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(a))
    }
}

fn nat(rec: &[u8], header: Header, seqnum: u32) -> NatLog {
    let n = IPLOG_SIZE;
    let v4 = rec.get(n + l::NL_V) == Some(&4);
    let ep = |a: usize, p: usize| (addr(rec, n + a, v4), l::be16(rec, n + p));
    let action = match l::le32(rec, n + l::NL_ACTION) {
        0 => NatAction::New,
        1 => NatAction::Clone,
        0xfffc => NatAction::Purge,
        0xfffd => NatAction::Destroy,
        0xfffe => NatAction::Flush,
        0xffff => NatAction::Expire,
        v => NatAction::Other(v),
    };
    let nat_type = match l::le32(rec, n + l::NL_TYPE) {
        1 => NatType::Map,
        2 => NatType::Rdr,
        3 => NatType::Bimap,
        4 => NatType::MapBlock,
        v => NatType::Other(v),
    };
    NatLog {
        header,
        action,
        nat_type,
        rule: l::le32(rec, n + l::NL_RULE).wrapping_add(1),
        protocol: rec.get(n + l::NL_P).copied().unwrap_or(0),
        orig_src: ep(l::NL_OSRCIP, l::NL_OSRCPORT),
        orig_dst: ep(l::NL_ODSTIP, l::NL_ODSTPORT),
        new_src: ep(l::NL_NSRCIP, l::NL_NSRCPORT),
        new_dst: ep(l::NL_NDSTIP, l::NL_NDSTPORT),
        packets: Some([
            l::le64(rec, n + l::NL_PKTS),
            l::le64(rec, n + l::NL_PKTS + 8),
        ]),
        bytes: Some([
            l::le64(rec, n + l::NL_BYTES),
            l::le64(rec, n + l::NL_BYTES + 8),
        ]),
        conntrack_id: None,
        ipf_seq: Some(seqnum),
    }
}

fn state(rec: &[u8], header: Header, seqnum: u32) -> StateLog {
    let s = IPLOG_SIZE;
    let v4 = rec.get(s + l::ISL_V) == Some(&4);
    let protocol = rec.get(s + l::ISL_P).copied().unwrap_or(0);
    let ports = if l::is_icmp(protocol) {
        (l::le16(rec, s + l::ISL_PS), l::be16(rec, s + l::ISL_PS + 2))
    } else {
        (l::be16(rec, s + l::ISL_PS), l::be16(rec, s + l::ISL_PS + 2))
    };
    let state_type = match l::le16(rec, s + l::ISL_TYPE) {
        0 => StateType::New,
        1 => StateType::Cloned,
        0xffff => StateType::Expire,
        0xfffe => StateType::Flush,
        0xfffc => StateType::Intermediate,
        0xfffd => StateType::Remove,
        0xfffb => StateType::Killed,
        0xfff9 => StateType::Unload,
        v => StateType::Other(u32::from(v)),
    };
    let mut packets = [0u64; 4];
    let mut bytes = [0u64; 4];
    for i in 0..4 {
        packets[i] = l::le64(rec, s + l::ISL_PKTS + 8 * i);
        bytes[i] = l::le64(rec, s + l::ISL_BYTES + 8 * i);
    }
    StateLog {
        header,
        state_type,
        protocol,
        ip_version: if v4 { 4 } else { 6 },
        src: addr(rec, s + l::ISL_SRC, v4),
        dst: addr(rec, s + l::ISL_DST, v4),
        ports,
        tag: l::le32(rec, s + l::ISL_TAG),
        tcp_state: Some([
            rec.get(s + l::ISL_STATE).copied().unwrap_or(0),
            rec.get(s + l::ISL_STATE + 1).copied().unwrap_or(0),
        ]),
        packets,
        bytes,
        conntrack_id: None,
        ipf_seq: Some(seqnum),
    }
}

/// A push decoder of an IP Filter binary log stream (see the module docs).
#[derive(Debug)]
pub struct IplogDecoder {
    source: Source,
    buf: Vec<u8>,
    /// Start of the unread bytes in `buf`.
    pos: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// Header `seq` of the next event.
    next_seq: u64,
    /// Time of the last record, stamped on `Malformed` events.
    last_time: Timestamp,
    /// Start offset and first error of the bad region being skipped.
    bad: Option<(u64, IplogError)>,
    /// Whether packet events keep the raw 128 header bytes (for `-X`).
    raw_headers: bool,
    /// The next sequence number expected of each unit (ipf, NAT, state),
    /// once a record of the unit was seen.
    expected: [Option<u32>; 3],
    /// The record after a sequence gap, returned after its `Lost` event.
    held: Option<Event>,
}

impl IplogDecoder {
    /// A decoder whose events carry `source`, numbered from 1.
    #[must_use]
    pub fn new(source: Source) -> Self {
        IplogDecoder {
            source,
            buf: Vec::new(),
            pos: 0,
            base: 0,
            next_seq: 1,
            last_time: Timestamp::default(),
            bad: None,
            raw_headers: true,
            expected: [None; 3],
            held: None,
        }
    }

    /// Leaves [`PacketLog::raw_header`] empty, saving an allocation per
    /// record when `ipmon -X` is not in use.
    #[must_use]
    pub fn without_raw_headers(mut self) -> Self {
        self.raw_headers = false;
        self
    }

    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    fn header(&mut self) -> Header {
        let seq = self.next_seq;
        self.next_seq += 1;
        Header {
            time: self.last_time,
            source: self.source.clone(),
            seq,
        }
    }

    fn malformed(&mut self, offset: u64, skipped: u64, reason: String) -> Event {
        let header = self.header();
        Event::Malformed(Malformed {
            header,
            offset,
            skipped,
            reason,
        })
    }

    /// The `Lost` event for the records missing before `event`, if its
    /// unit's sequence number jumped forward (IP Filter counts every record
    /// it logs, also those dropped because its log was full: reference
    /// ipmon.md §1.2), and `event` renumbered after it. The first record
    /// of a unit sets the expectation; a backwards jump (a restarted
    /// kernel log) is not loss. ipmon's text still prints its own `missed`
    /// lines for those two.
    fn gap(&mut self, mut event: Event) -> (Option<Event>, Event) {
        let (unit, kind, seq, count) = match &event {
            Event::Packet(p) => (0, EventKind::Packet, p.ipf_seq, p.count),
            Event::Nat(n) => (1, EventKind::Nat, n.ipf_seq, 1),
            Event::State(s) => (2, EventKind::State, s.ipf_seq, 1),
            _ => return (None, event),
        };
        let (Some(seq), Some(slot)) = (seq, self.expected.get_mut(unit)) else {
            return (None, event);
        };
        let want = slot.replace(seq.wrapping_add(count));
        let Some(want) = want else {
            return (None, event);
        };
        let missing = seq.wrapping_sub(want);
        if missing == 0 || missing >= 1 << 31 {
            return (None, event);
        }
        let header = event.header_mut();
        let lost = Lost {
            header: Header {
                time: header.time,
                source: header.source.clone(),
                seq: header.seq,
            },
            stage: LossStage::Kernel,
            count: u64::from(missing),
            kinds: vec![kind],
            seq_range: Some((u64::from(want), u64::from(want.wrapping_add(missing - 1)))),
            breakdown: Vec::new(),
        };
        header.seq += 1;
        self.next_seq += 1;
        (Some(Event::Lost(lost)), event)
    }
}

/// Index (≥ 1) of the next place in `b` where a magic could start; if none,
/// the length minus 3, keeping a possible split magic for the next feed.
fn next_candidate(b: &[u8]) -> usize {
    let found = b
        .windows(4)
        .skip(1)
        .position(|w| matches!(w, [b'M' | b'N' | b'S', b'L', b'P', b'I']));
    match found {
        Some(i) => i + 1,
        None => b.len().saturating_sub(3).max(1),
    }
}

impl StreamDecoder for IplogDecoder {
    fn feed(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.base += self.pos as u64;
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    fn feed_with(
        &mut self,
        max: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> std::io::Result<usize>,
    ) -> std::io::Result<usize> {
        self.feed(&[]);
        let old = self.buf.len();
        self.buf.resize(old.saturating_add(max), 0);
        let r = fill(self.buf.get_mut(old..).unwrap_or_default());
        let n = r.as_ref().map_or(0, |&n| n.min(max));
        self.buf.truncate(old + n);
        r.map(|_| n)
    }

    fn next_event(&mut self) -> Option<Event> {
        if let Some(e) = self.held.take() {
            return Some(e);
        }
        loop {
            let avail = self.buf.get(self.pos..).unwrap_or(&[]);
            match record_size(avail) {
                Err(IplogError::Len { .. }) => return None,
                Err(e) => {
                    if self.bad.is_none() {
                        self.bad = Some((self.offset(), e));
                    }
                    self.pos += next_candidate(avail);
                }
                Ok(size) => {
                    if let Some((start, error)) = self.bad.take() {
                        let skipped = self.offset() - start;
                        return Some(self.malformed(start, skipped, error.to_string()));
                    }
                    if avail.len() < size {
                        return None;
                    }
                    let seq = self.next_seq;
                    return match decode(avail, &self.source, seq, self.raw_headers) {
                        Ok((event, size)) => {
                            self.next_seq += 1;
                            self.pos += size;
                            self.last_time = event.header().time;
                            match self.gap(event) {
                                (Some(lost), event) => {
                                    self.held = Some(event);
                                    Some(lost)
                                }
                                (None, event) => Some(event),
                            }
                        }
                        // Unreachable after the checks above; skip a byte
                        // and report rather than loop.
                        Err(e) => {
                            let at = self.offset();
                            self.pos += 1;
                            Some(self.malformed(at, 1, e.to_string()))
                        }
                    };
                }
            }
        }
    }

    fn finish(&mut self) -> Option<Event> {
        if let Some(e) = self.held.take() {
            return Some(e);
        }
        let end = self.base + self.buf.len() as u64;
        let at = self.offset();
        let left = self.buf.get(self.pos..).unwrap_or(&[]);
        let event = if let Some((start, error)) = self.bad.take() {
            Some(self.malformed(start, end - start, error.to_string()))
        } else if !left.is_empty() {
            let error = match record_size(left) {
                Ok(size) => IplogError::Len {
                    what: "record (ipl_dsize)",
                    needed: size as u64,
                    got: left.len() as u64,
                },
                Err(e) => e,
            };
            Some(self.malformed(at, end - at, error.to_string()))
        } else {
            None
        };
        self.buf.clear();
        self.base = end;
        self.pos = 0;
        event
    }
}

#[cfg(test)]
mod tests;
