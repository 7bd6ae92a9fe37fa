//! Record framing of pcap and pcapng streams, with resynchronisation.
//!
//! The framer looks at the unconsumed bytes of the stream and says what the
//! next step is: more bytes needed, a block to skip, a packet record, or bad
//! bytes to skip (with the distance to the next plausible record). It never
//! keeps references into the buffer, so the decoder can own the buffer.

use std::ops::Range;

use super::link::{self, Link};
use crate::decode::netlink::HeaderOrder;
use crate::decode::nflog;
use crate::event::{Direction, Timestamp};

/// Largest record or block we accept: bigger lengths are corruption.
const MAX_BLOCK: u32 = 64 << 20;
/// The snaplen limit used when a pcap header says 0 (some writers do).
const DEFAULT_SNAPLEN: u32 = 262_144;
/// pcapng block types that the resynchronisation scan accepts.
const KNOWN_BLOCKS: [u32; 12] = [SHB, IDB, OPB, SPB, 4, 5, EPB, 7, 8, 9, 10, 0x0000_0bad];
const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 1;
const OPB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
const BOM: u32 = 0x1a2b_3c4d;
/// pcap magics as read little-endian: µs and ns, in both byte orders.
const PCAP_MAGICS: [u32; 4] = [0xa1b2_c3d4, 0xa1b2_3c4d, 0xd4c3_b2a1, 0x4d3c_b2a1];
/// A resync candidate's time may be at most this far before the last good
/// record's time, and at most `TS_AHEAD` after it.
const TS_BEHIND: i64 = 86_400;
const TS_AHEAD: i64 = 10 * 366 * 86_400;

/// Reads a `u16` at `at` in the given byte order.
fn u16_at(b: &[u8], at: usize, big: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if big {
        u16::from_be_bytes(s)
    } else {
        u16::from_le_bytes(s)
    })
}

/// Reads a `u32` at `at` in the given byte order.
fn u32_at(b: &[u8], at: usize, big: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big {
        u32::from_be_bytes(s)
    } else {
        u32::from_le_bytes(s)
    })
}

fn usize_of(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Time resolution of an interface: units per second as a power of 10 or 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TsResol {
    /// 10^-n seconds.
    Pow10(u8),
    /// 2^-n seconds.
    Pow2(u8),
}

impl TsResol {
    /// The `if_tsresol` byte.
    fn raw(self) -> u8 {
        match self {
            TsResol::Pow10(n) => n,
            TsResol::Pow2(n) => n | 0x80,
        }
    }

    fn units(self) -> Option<u128> {
        match self {
            TsResol::Pow10(n) => 10u128.checked_pow(u32::from(n)),
            TsResol::Pow2(n) => 1u128.checked_shl(u32::from(n)),
        }
    }

    /// `ticks` since the epoch at this resolution, or `None` when the
    /// resolution is too fine to represent.
    fn timestamp(self, ticks: u64) -> Option<Timestamp> {
        let units = self.units()?;
        let ticks = u128::from(ticks);
        let secs = i64::try_from(ticks / units).ok()?;
        let nanos = (ticks % units) * 1_000_000_000 / units;
        Some(Timestamp {
            secs,
            nanos: u32::try_from(nanos).ok()?,
        })
    }
}

/// One interface of a pcapng section (or the single one of a pcap file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Interface {
    /// Link type (`LINKTYPE_*`).
    pub(super) linktype: u16,
    /// Snapshot length; 0 means no limit.
    pub(super) snaplen: u32,
    /// `if_name`, when the file has one.
    pub(super) name: Option<String>,
    /// `if_tsresol` (default microseconds).
    pub(super) tsresol: TsResol,
    /// `if_tsoffset`: seconds added to every time (default 0).
    pub(super) tsoffset: i64,
}

/// What a packet record says besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RecordMeta {
    /// Interface number within the section (0 for pcap).
    pub(super) iface: u32,
    /// Record time.
    pub(super) time: Timestamp,
    /// Length on the wire.
    pub(super) orig_len: u32,
    /// Direction from the pcapng `epb_flags`, when given.
    pub(super) direction: Option<Direction>,
}

/// Why bytes of a pcap or pcapng stream are not a good record.
///
/// Truncation ([`PcapError::Len`]) is kept apart from bad content: a record
/// cut short by the end of the stream is not corruption of what was there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PcapError {
    /// Fewer bytes than the thing needs.
    #[error("truncated {what}: need {need} bytes, have {have}")]
    Len {
        /// What was being read.
        what: &'static str,
        /// Bytes it needs.
        need: u64,
        /// Bytes there are.
        have: u64,
    },
    /// Neither a pcap file header nor a pcapng Section Header Block.
    #[error("not a pcap or pcapng file: magic {magic:#010x}")]
    BadMagic {
        /// The first four bytes, read little-endian.
        magic: u32,
    },
    /// A Section Header Block whose byte-order magic is neither order.
    #[error("bad pcapng byte-order magic {bom:#010x}")]
    BadByteOrder {
        /// The value found.
        bom: u32,
    },
    /// A pcap file header of a version other than 2.
    #[error("unsupported pcap version {major}")]
    Version {
        /// The major version found.
        major: u16,
    },
    /// A pcap record header whose fraction of a second is not below one.
    #[error("bad record header: fraction {frac} is not below {units}")]
    Fraction {
        /// The fraction found.
        frac: u32,
        /// Units per second (10^6 or 10^9).
        units: u32,
    },
    /// A pcap record longer than the snapshot length allows.
    #[error("bad record header: captured length {caplen} exceeds the snapshot length {limit}")]
    OverSnaplen {
        /// Captured length.
        caplen: u32,
        /// The limit applied.
        limit: u32,
    },
    /// A pcap record that captured more than was on the wire.
    #[error("bad record header: captured length {caplen} exceeds the original length {orig}")]
    OverOrigLen {
        /// Captured length.
        caplen: u32,
        /// Original length.
        orig: u32,
    },
    /// A pcapng block length that is not a multiple of 4 between 12 bytes
    /// and 64 MiB.
    #[error("bad block length {len}")]
    BlockLen {
        /// The length found.
        len: u32,
    },
    /// A pcapng block whose trailing length differs from its leading one.
    #[error("block length {len} does not match its trailing copy {trailer}")]
    Trailer {
        /// The leading length.
        len: u32,
        /// The trailing copy.
        trailer: u32,
    },
    /// A packet on an interface that no Interface Description Block
    /// described.
    #[error("packet on interface {iface}, which no IDB described")]
    NoInterface {
        /// The interface number.
        iface: u32,
    },
    /// A pcapng packet whose captured length runs past its block.
    #[error("captured length {caplen} exceeds the block body ({body} bytes)")]
    OverBlock {
        /// Captured length.
        caplen: u32,
        /// Bytes in the block body.
        body: u64,
    },
    /// An `if_tsresol` too fine to represent.
    #[error("unsupported if_tsresol {raw:#04x}")]
    TsResol {
        /// The option's byte.
        raw: u8,
    },
    /// The link-layer header of a record is cut short.
    #[error("link type {linktype} header needs {need} bytes, record has {have}")]
    LinkLen {
        /// The interface's link type.
        linktype: u16,
        /// Bytes the header needs.
        need: u64,
        /// Bytes in the record.
        have: u64,
    },
    /// A `LINKTYPE_NFLOG` record that does not decode.
    #[error(transparent)]
    Nflog(#[from] crate::decode::nflog::NflogError),
}

impl PcapError {
    pub(super) fn len(what: &'static str, need: usize, have: usize) -> Self {
        PcapError::Len {
            what,
            need: u64::try_from(need).unwrap_or(u64::MAX),
            have: u64::try_from(have).unwrap_or(u64::MAX),
        }
    }
}

/// The next thing in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    /// Not enough bytes to decide; feed more.
    NeedMore,
    /// A header or block without a packet: consume and go on.
    Skip(usize),
    /// A packet record of `len` bytes; its data is `data` (relative to the
    /// start of the record).
    Record {
        len: usize,
        data: Range<usize>,
        meta: RecordMeta,
    },
    /// Bad bytes: consume `len` bytes. `error` says what is wrong where a
    /// damaged region starts; `None` continues the current one (bytes a
    /// resynchronisation scan passed over).
    Bad {
        len: usize,
        error: Option<PcapError>,
    },
}

#[derive(Debug, Clone)]
enum Mode {
    /// Before the file header.
    Start,
    /// Inside a pcap file.
    Pcap {
        big: bool,
        nanos: bool,
        iface: Interface,
    },
    /// Inside a pcapng section.
    Pcapng { big: bool, ifaces: Vec<Interface> },
}

/// The framing state of one stream: everything needed to go on at a record
/// boundary (the current file or section, its interfaces, the last good
/// time, whether a damaged region is being scanned).
#[derive(Debug, Clone)]
pub(super) struct Framer {
    mode: Mode,
    /// Time of the last good record, for plausibility checks when resyncing.
    last_secs: Option<i64>,
    /// `last_secs` before the last record returned, restored when that
    /// record's content turns out bad.
    prev_secs: Option<i64>,
    /// Number of sections (file headers and SHBs) seen.
    section: u64,
    /// Inside a damaged region: the next record is only believed where a
    /// resynchronisation candidate passes every check (see
    /// [`Framer::scan`]), not where the previous record's length points.
    damaged: bool,
}

impl Framer {
    pub(super) fn new() -> Self {
        Framer {
            mode: Mode::Start,
            last_secs: None,
            prev_secs: None,
            section: 0,
            damaged: false,
        }
    }

    /// The interface `id` of the current section.
    pub(super) fn interface(&self, id: u32) -> Option<&Interface> {
        match &self.mode {
            Mode::Start => None,
            Mode::Pcap { iface, .. } => (id == 0).then_some(iface),
            Mode::Pcapng { ifaces, .. } => ifaces.get(usize_of(id)),
        }
    }

    /// Whether the current file or section is big-endian.
    pub(super) fn big_endian(&self) -> bool {
        match self.mode {
            Mode::Start => false,
            Mode::Pcap { big, .. } | Mode::Pcapng { big, .. } => big,
        }
    }

    /// How many sections (pcap file headers and pcapng SHBs) were seen.
    pub(super) fn section(&self) -> u64 {
        self.section
    }

    /// The record just returned by [`Framer::step`] (of `len` bytes) turned
    /// out to hold bad content; returns how many of its bytes to consume
    /// as bad. A pcapng block's framing is checked by its trailing length,
    /// so the block is skipped alone; a pcap record's length has no such
    /// check, so the length itself is suspect: one byte is consumed and the
    /// stream is scanned for the next record from there.
    pub(super) fn content_bad(&mut self, len: usize) -> usize {
        // Its time was not a good record's.
        self.last_secs = self.prev_secs;
        match self.mode {
            Mode::Pcapng { .. } => len,
            Mode::Start | Mode::Pcap { .. } => {
                self.damaged = true;
                1
            }
        }
    }

    /// Decides the next step for the unconsumed bytes `b`. With `at_end`,
    /// no more bytes will come, so a short record is bad rather than
    /// incomplete.
    pub(super) fn step(&mut self, b: &[u8], at_end: bool) -> Step {
        if b.is_empty() {
            return Step::NeedMore;
        }
        if self.damaged {
            match self.scan(b, at_end) {
                Scan::At(0) => self.damaged = false,
                Scan::At(n) => {
                    return Step::Bad {
                        len: n,
                        error: None,
                    }
                }
                Scan::Wait => return Step::NeedMore,
            }
        }
        let step = match &self.mode {
            Mode::Start => self.file_header(b, at_end),
            Mode::Pcap { big, nanos, iface } => {
                let (big, nanos, snaplen) = (*big, *nanos, iface.snaplen);
                self.pcap_record(b, at_end, big, nanos, snaplen)
            }
            Mode::Pcapng { big, .. } => {
                let big = *big;
                self.pcapng_block(b, at_end, big)
            }
        };
        if let Step::Record { meta, .. } = &step {
            self.prev_secs = self.last_secs;
            self.last_secs = Some(meta.time.secs);
        }
        step
    }

    /// Starts a damaged region at the first byte of `b`.
    fn damage(&mut self, error: PcapError) -> Step {
        self.damaged = true;
        Step::Bad {
            len: 1,
            error: Some(error),
        }
    }

    /// Scans `b` for the first position where a record (or file header)
    /// passes every check of [`Framer::candidate`]. The bytes before a
    /// position that cannot be decided yet are given up at once, so a
    /// damaged region never makes the buffer grow beyond one candidate's
    /// record and the header after it.
    fn scan(&self, b: &[u8], at_end: bool) -> Scan {
        let mut at = 0;
        while at < b.len() {
            // Most positions of garbage (random bytes, runs of zeros) fail
            // on one field; only the others get the full check.
            at += self.hopeless(b.get(at..).unwrap_or_default());
            let Some(c) = b.get(at..).filter(|c| !c.is_empty()) else {
                break;
            };
            match self.candidate(c, at_end) {
                Some(true) => return Scan::At(at),
                Some(false) => at += 1,
                None if at == 0 => return Scan::Wait,
                None => return Scan::At(at),
            }
        }
        Scan::At(b.len())
    }

    /// How many positions at the start of `b` a quick test rules out: no
    /// record starts where [`Framer::candidate`] would say `Some(false)`
    /// on one field (a pcap captured length of 0 or beyond the snaplen
    /// and no file magic; an unknown pcapng block type; no file magic
    /// before the first header). Positions with fewer than 12 bytes after
    /// them are left to the full check.
    fn hopeless(&self, b: &[u8]) -> usize {
        let le =
            |w: &[u8; 12], at: usize| u32::from_le_bytes([w[at], w[at + 1], w[at + 2], w[at + 3]]);
        let be =
            |w: &[u8; 12], at: usize| u32::from_be_bytes([w[at], w[at + 1], w[at + 2], w[at + 3]]);
        let mut windows = b.windows(12).filter_map(|w| <&[u8; 12]>::try_from(w).ok());
        let found = match &self.mode {
            Mode::Start => windows
                .map(|w| le(w, 0))
                .position(|m| m == SHB || PCAP_MAGICS.contains(&m)),
            Mode::Pcap { big, iface, .. } => {
                let limit = pcap_limit(iface.snaplen);
                let big = *big;
                windows.position(|w| {
                    let incl = if big { be(w, 8) } else { le(w, 8) };
                    incl.wrapping_sub(1) < limit || PCAP_MAGICS.contains(&le(w, 0))
                })
            }
            Mode::Pcapng { big, .. } => {
                let big = *big;
                windows.position(|w| {
                    let t = if big { be(w, 0) } else { le(w, 0) };
                    KNOWN_BLOCKS.contains(&t)
                })
            }
        };
        found.unwrap_or(b.len().saturating_sub(11))
    }

    /// Whether a good record starts at `c`: `None` when more bytes are
    /// needed to say.
    fn candidate(&self, c: &[u8], at_end: bool) -> Option<bool> {
        match &self.mode {
            Mode::Start => {
                let r = parse_file_header(c, at_end);
                if r.is_none() && at_end {
                    return Some(false);
                }
                r.map(|r| r.is_ok())
            }
            Mode::Pcap { big, nanos, iface } => {
                if u32_at(c, 0, false).is_some_and(|m| PCAP_MAGICS.contains(&m)) {
                    match parse_file_header(c, at_end) {
                        Some(Ok(_)) => return Some(true),
                        None if !at_end => return None,
                        _ => {}
                    }
                }
                plausible_pcap(c, at_end, *big, *nanos, iface, self.last_secs)
            }
            Mode::Pcapng { big, .. } => plausible_block(c, at_end, *big),
        }
    }

    fn file_header(&mut self, b: &[u8], at_end: bool) -> Step {
        match parse_file_header(b, at_end) {
            Some(Ok((len, mode))) => {
                self.mode = mode;
                self.section += 1;
                Step::Skip(len)
            }
            Some(Err(e)) => {
                // A Section Header Block whose byte order is known but whose
                // length is bad: the section's blocks are still readable.
                if let Some(big) = shb_byte_order(b) {
                    self.mode = Mode::Pcapng {
                        big,
                        ifaces: Vec::new(),
                    };
                    self.section += 1;
                }
                self.damage(e)
            }
            None if at_end => Step::Bad {
                len: b.len(),
                error: Some(PcapError::len("file header", 24, b.len())),
            },
            None => Step::NeedMore,
        }
    }

    fn pcap_record(
        &mut self,
        b: &[u8],
        at_end: bool,
        big: bool,
        nanos: bool,
        snaplen: u32,
    ) -> Step {
        let limit = pcap_limit(snaplen);
        // Another pcap file header (files concatenated with `cat`): a new
        // section. (A record stamped 2055-01-09 or 2083-02-08 would look the
        // same for its first 4 bytes; the version check below tells them
        // apart in practice.)
        if u32_at(b, 0, false).is_some_and(|m| PCAP_MAGICS.contains(&m)) {
            match parse_file_header(b, at_end) {
                None => return truncated(b, 24, at_end, "pcap file header"),
                Some(Ok(_)) => return self.file_header(b, at_end),
                Some(Err(_)) => {}
            }
        }
        let Some(hdr) = PcapRecordHeader::parse(b, big) else {
            return truncated(b, 16, at_end, "pcap record header");
        };
        if let Err(e) = hdr.check_in_sequence(nanos, limit) {
            return self.damage(e);
        }
        let len = 16 + usize_of(hdr.incl_len);
        if b.len() < len {
            return truncated(b, len, at_end, "pcap record");
        }
        let meta = RecordMeta {
            iface: 0,
            time: hdr.time(nanos),
            orig_len: hdr.orig_len,
            direction: None,
        };
        Step::Record {
            len,
            data: 16..len,
            meta,
        }
    }

    fn pcapng_block(&mut self, b: &[u8], at_end: bool, big: bool) -> Step {
        let len = match block_frame(b, big) {
            Frame::Short(need) => return truncated(b, need, at_end, "pcapng block"),
            Frame::Bad(e) => return self.damage(e),
            Frame::Ok(len) => len,
        };
        let Some(block) = b.get(..len) else {
            return truncated(b, len, at_end, "pcapng block");
        };
        let btype = u32_at(block, 0, big).unwrap_or(0);
        let body = block.get(8..len - 4).unwrap_or_default();
        let result = match btype {
            SHB => match parse_file_header(block, true) {
                Some(Ok((_, mode))) => {
                    self.mode = mode;
                    self.section += 1;
                    Ok(None)
                }
                Some(Err(e)) => Err(e),
                None => Err(PcapError::len("section header block", 28, len)),
            },
            IDB => match parse_idb(body, big) {
                Ok(iface) => {
                    if let Mode::Pcapng { ifaces, .. } = &mut self.mode {
                        ifaces.push(iface);
                    }
                    Ok(None)
                }
                Err(e) => Err(e),
            },
            EPB | OPB => self.packet_block(body, big, btype == OPB),
            SPB => self.simple_packet(body, big),
            _ => Ok(None),
        };
        match result {
            Ok(None) => Step::Skip(len),
            Ok(Some((data, meta))) => Step::Record {
                len,
                data: data.start + 8..data.end + 8,
                meta,
            },
            Err(e) => Step::Bad {
                len,
                error: Some(e),
            },
        }
    }

    fn packet_block(
        &self,
        body: &[u8],
        big: bool,
        obsolete: bool,
    ) -> Result<Option<(Range<usize>, RecordMeta)>, PcapError> {
        let short = || {
            PcapError::len(
                if obsolete { "OPB body" } else { "EPB body" },
                20,
                body.len(),
            )
        };
        let iface = if obsolete {
            u32::from(u16_at(body, 0, big).ok_or_else(short)?)
        } else {
            u32_at(body, 0, big).ok_or_else(short)?
        };
        let hi = u32_at(body, 4, big).ok_or_else(short)?;
        let lo = u32_at(body, 8, big).ok_or_else(short)?;
        let cap = u32_at(body, 12, big).ok_or_else(short)?;
        let orig_len = u32_at(body, 16, big).ok_or_else(short)?;
        let Some(ifc) = self.interface(iface) else {
            return Err(PcapError::NoInterface { iface });
        };
        let end = 20usize.saturating_add(usize_of(cap));
        if end > body.len() {
            return Err(PcapError::OverBlock {
                caplen: cap,
                body: u64::try_from(body.len()).unwrap_or(u64::MAX),
            });
        }
        let ticks = (u64::from(hi) << 32) | u64::from(lo);
        let mut time = ifc.tsresol.timestamp(ticks).ok_or(PcapError::TsResol {
            raw: ifc.tsresol.raw(),
        })?;
        time.secs = time.secs.saturating_add(ifc.tsoffset);
        let opts = body.get(pad4(end)..).unwrap_or_default();
        let direction = find_option(opts, big, 2)
            .and_then(|v| u32_at(v, 0, big))
            .and_then(|f| match f & 3 {
                1 => Some(Direction::In),
                2 => Some(Direction::Out),
                _ => None,
            });
        Ok(Some((
            20..end,
            RecordMeta {
                iface,
                time,
                orig_len,
                direction,
            },
        )))
    }

    fn simple_packet(
        &self,
        body: &[u8],
        big: bool,
    ) -> Result<Option<(Range<usize>, RecordMeta)>, PcapError> {
        let orig_len = u32_at(body, 0, big).ok_or(PcapError::len("SPB body", 4, body.len()))?;
        let Some(ifc) = self.interface(0) else {
            return Err(PcapError::NoInterface { iface: 0 });
        };
        let mut cap = usize_of(orig_len).min(body.len().saturating_sub(4));
        if ifc.snaplen != 0 {
            cap = cap.min(usize_of(ifc.snaplen));
        }
        let meta = RecordMeta {
            iface: 0,
            time: Timestamp::default(),
            orig_len,
            direction: None,
        };
        Ok(Some((4..4 + cap, meta)))
    }
}

/// Where a resynchronisation scan stopped.
enum Scan {
    /// At this many bytes: a candidate starts there (or, when it is not 0,
    /// the bytes before it are bad).
    At(usize),
    /// Position 0 cannot be decided without more bytes.
    Wait,
}

/// The byte order of a Section Header Block at the start of `b`, when its
/// byte-order magic says it.
fn shb_byte_order(b: &[u8]) -> Option<bool> {
    if u32_at(b, 0, false)? != SHB {
        return None;
    }
    match u32_at(b, 8, false)? {
        BOM => Some(false),
        0x4d3c_2b1a => Some(true),
        _ => None,
    }
}

fn pad4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

fn pcap_limit(snaplen: u32) -> u32 {
    if snaplen == 0 {
        DEFAULT_SNAPLEN
    } else {
        snaplen.min(MAX_BLOCK)
    }
}

/// `NeedMore`, or at the end of the stream `Bad` for the leftover bytes.
fn truncated(b: &[u8], need: usize, at_end: bool, what: &'static str) -> Step {
    if at_end {
        Step::Bad {
            len: b.len(),
            error: Some(PcapError::len(what, need, b.len())),
        }
    } else {
        Step::NeedMore
    }
}

/// Parses a pcap file header or a pcapng SHB at the start of `b`:
/// `None` when more bytes are needed, `Some(Err)` when it is not one.
fn parse_file_header(b: &[u8], at_end: bool) -> Option<Result<(usize, Mode), PcapError>> {
    let magic = u32_at(b, 0, false)?;
    if magic == SHB {
        let bom = u32_at(b, 8, false)?;
        let big = match bom {
            BOM => false,
            0x4d3c_2b1a => true,
            other => return Some(Err(PcapError::BadByteOrder { bom: other })),
        };
        return match block_frame(b, big) {
            Frame::Ok(len) => Some(Ok((
                len,
                Mode::Pcapng {
                    big,
                    ifaces: Vec::new(),
                },
            ))),
            Frame::Short(_) if !at_end => None,
            Frame::Short(need) => Some(Err(PcapError::len("section header block", need, b.len()))),
            Frame::Bad(e) => Some(Err(e)),
        };
    }
    let (big, nanos) = match magic {
        0xa1b2_c3d4 => (false, false),
        0xa1b2_3c4d => (false, true),
        0xd4c3_b2a1 => (true, false),
        0x4d3c_b2a1 => (true, true),
        other => return Some(Err(PcapError::BadMagic { magic: other })),
    };
    let major = u16_at(b, 4, big)?;
    let snaplen = u32_at(b, 16, big)?;
    let linktype = u32_at(b, 20, big)?;
    if major != 2 {
        return Some(Err(PcapError::Version { major }));
    }
    let iface = Interface {
        linktype: (linktype & 0xffff) as u16,
        snaplen,
        name: None,
        tsresol: if nanos {
            TsResol::Pow10(9)
        } else {
            TsResol::Pow10(6)
        },
        tsoffset: 0,
    };
    Some(Ok((24, Mode::Pcap { big, nanos, iface })))
}

/// The classic pcap file header at the start of `b`, when it is a good one
/// (as [`Framer::step`] would take it): byte order, nanoseconds, link
/// type and snaplen.
pub(super) fn classic_file_header(b: &[u8]) -> Option<(bool, bool, u16, u32)> {
    match parse_file_header(b, true)? {
        Ok((FILE_HEADER_LEN, Mode::Pcap { big, nanos, iface })) => {
            Some((big, nanos, iface.linktype, iface.snaplen))
        }
        _ => None,
    }
}

/// The record at the start of `b`, in a classic pcap file of that byte
/// order, resolution and snaplen, when [`Framer::step`] (not in a damaged
/// region) would return it as a record: not a file header, its header
/// passes the in-sequence checks, and it is complete. Its length (header
/// included) and time.
pub(super) fn plain_pcap_record(
    b: &[u8],
    big: bool,
    nanos: bool,
    snaplen: u32,
) -> Option<(usize, Timestamp)> {
    if u32_at(b, 0, false).is_some_and(|m| PCAP_MAGICS.contains(&m)) {
        return None;
    }
    let hdr = PcapRecordHeader::parse(b, big)?;
    hdr.check_in_sequence(nanos, pcap_limit(snaplen)).ok()?;
    let len = 16 + usize_of(hdr.incl_len);
    (b.len() >= len).then(|| (len, hdr.time(nanos)))
}

/// Length of a classic pcap file header.
const FILE_HEADER_LEN: usize = 24;

#[derive(Debug, Clone, Copy)]
struct PcapRecordHeader {
    ts_sec: u32,
    ts_frac: u32,
    incl_len: u32,
    orig_len: u32,
}

impl PcapRecordHeader {
    fn parse(b: &[u8], big: bool) -> Option<Self> {
        Some(PcapRecordHeader {
            ts_sec: u32_at(b, 0, big)?,
            ts_frac: u32_at(b, 4, big)?,
            incl_len: u32_at(b, 8, big)?,
            orig_len: u32_at(b, 12, big)?,
        })
    }

    fn time(&self, nanos: bool) -> Timestamp {
        let frac = i64::from(self.ts_frac);
        if nanos {
            Timestamp::from_nanos_parts(i64::from(self.ts_sec), frac)
        } else {
            Timestamp::from_micros(i64::from(self.ts_sec), frac)
        }
    }

    /// The check of a record header in sequence: the strict check, except
    /// that the captured length may exceed the file's snaplen up to 262144
    /// bytes (writers do record packets longer than the snaplen they state).
    fn check_in_sequence(&self, nanos: bool, limit: u32) -> Result<(), PcapError> {
        self.check(nanos, limit.max(DEFAULT_SNAPLEN))
    }

    /// The strict check of a resynchronisation candidate.
    fn check(&self, nanos: bool, limit: u32) -> Result<(), PcapError> {
        let units = if nanos { 1_000_000_000 } else { 1_000_000 };
        if self.ts_frac >= units {
            Err(PcapError::Fraction {
                frac: self.ts_frac,
                units,
            })
        } else if self.incl_len > limit {
            Err(PcapError::OverSnaplen {
                caplen: self.incl_len,
                limit,
            })
        } else if self.incl_len > self.orig_len {
            Err(PcapError::OverOrigLen {
                caplen: self.incl_len,
                orig: self.orig_len,
            })
        } else {
            Ok(())
        }
    }
}

/// Whether the time `ts` is near `reference`: at most a day before it and
/// ten years after it.
fn near(ts: u32, reference: Option<i64>) -> bool {
    let ts = i64::from(ts);
    reference.is_none_or(|l| ts >= l - TS_BEHIND && ts <= l + TS_AHEAD)
}

/// Whether the data of a record of link type `linktype` decodes: an NFLOG
/// record its TLVs, an IP link type a version-4 or -6 packet, another link
/// type a complete link-layer header.
fn content_ok(linktype: u16, data: &[u8], big: bool) -> bool {
    if linktype == link::NFLOG {
        let order = if big {
            HeaderOrder::Big
        } else {
            HeaderOrder::Little
        };
        return nflog::packet_from_linktype_nflog_ordered(data, order).is_ok();
    }
    match link::locate_ip(linktype, data) {
        Link::Ip { .. } | Link::Unsupported => true,
        Link::NotIp => !matches!(
            linktype,
            link::RAW | link::IPV4 | link::IPV6 | link::DLT_RAW_12 | link::DLT_RAW_14
        ),
        Link::Short { .. } => false,
    }
}

/// Whether a pcap record at the start of `c` is a resynchronisation
/// candidate: its header passes the strict check with a captured length of
/// at least one byte, its time is near the last good record's, its data
/// decodes for the link type, and the record header after it passes the
/// strict check with a time near this one's (or the stream ends first).
/// `None` when more bytes are needed to say.
fn plausible_pcap(
    c: &[u8],
    at_end: bool,
    big: bool,
    nanos: bool,
    iface: &Interface,
    last: Option<i64>,
) -> Option<bool> {
    let limit = pcap_limit(iface.snaplen);
    // The captured length first: in random bytes it is what fails most.
    let incl = u32_at(c, 8, big);
    if incl.is_some_and(|n| n == 0 || n > limit) {
        return Some(false);
    }
    let Some(h) = PcapRecordHeader::parse(c, big) else {
        return if at_end { Some(false) } else { None };
    };
    if h.check(nanos, limit).is_err() || !near(h.ts_sec, last) {
        return Some(false);
    }
    let next = 16 + usize_of(h.incl_len);
    let Some(data) = c.get(16..next) else {
        return if at_end { Some(false) } else { None };
    };
    if !content_ok(iface.linktype, data, big) {
        return Some(false);
    }
    let after = c.get(next..).unwrap_or_default();
    if u32_at(after, 0, false).is_some_and(|m| PCAP_MAGICS.contains(&m)) {
        match parse_file_header(after, at_end) {
            Some(Ok(_)) => return Some(true),
            None if !at_end => return None,
            _ => {}
        }
    }
    match PcapRecordHeader::parse(after, big) {
        Some(n) => Some(n.check(nanos, limit).is_ok() && near(n.ts_sec, Some(i64::from(h.ts_sec)))),
        // The stream ends within the next header: a truncated last record
        // is reported on its own.
        None if at_end => Some(true),
        None => None,
    }
}

enum Frame {
    Ok(usize),
    Short(usize),
    Bad(PcapError),
}

/// Checks a pcapng block's framing: its length and the trailing copy.
fn block_frame(b: &[u8], big: bool) -> Frame {
    let Some(len) = u32_at(b, 4, big) else {
        return Frame::Short(8);
    };
    if len < 12 || len % 4 != 0 || len > MAX_BLOCK {
        return Frame::Bad(PcapError::BlockLen { len });
    }
    let n = usize_of(len);
    match u32_at(b, n - 4, big) {
        None => Frame::Short(n),
        Some(t) if t != len => Frame::Bad(PcapError::Trailer { len, trailer: t }),
        Some(_) => Frame::Ok(n),
    }
}

/// Whether a valid pcapng block of a known type starts at `c`.
fn plausible_block(c: &[u8], at_end: bool, big: bool) -> Option<bool> {
    let Some(t) = u32_at(c, 0, big) else {
        return if at_end { Some(false) } else { None };
    };
    if !KNOWN_BLOCKS.contains(&t) {
        return Some(false);
    }
    if t == SHB {
        return match parse_file_header(c, at_end) {
            None if at_end => Some(false),
            r => r.map(|r| r.is_ok()),
        };
    }
    match block_frame(c, big) {
        Frame::Ok(_) => Some(true),
        Frame::Bad(_) => Some(false),
        Frame::Short(_) => {
            if at_end {
                Some(false)
            } else {
                None
            }
        }
    }
}

/// The value of the first option `code` in an options area.
fn find_option(mut opts: &[u8], big: bool, code: u16) -> Option<&[u8]> {
    while let (Some(c), Some(l)) = (u16_at(opts, 0, big), u16_at(opts, 2, big)) {
        if c == 0 {
            return None;
        }
        let l = usize::from(l);
        let value = opts.get(4..4 + l)?;
        if c == code {
            return Some(value);
        }
        opts = opts.get(4 + pad4(l)..)?;
    }
    None
}

fn parse_idb(body: &[u8], big: bool) -> Result<Interface, PcapError> {
    let (Some(linktype), Some(snaplen)) = (u16_at(body, 0, big), u32_at(body, 4, big)) else {
        return Err(PcapError::len("IDB body", 8, body.len()));
    };
    let opts = body.get(8..).unwrap_or_default();
    let name = find_option(opts, big, 2).map(|v| {
        let v = v.split(|&c| c == 0).next().unwrap_or_default();
        String::from_utf8_lossy(v).into_owned()
    });
    let tsresol = match find_option(opts, big, 9).and_then(|v| v.first().copied()) {
        Some(r) if r & 0x80 != 0 => TsResol::Pow2(r & 0x7f),
        Some(r) => TsResol::Pow10(r),
        None => TsResol::Pow10(6),
    };
    let tsoffset = find_option(opts, big, 14)
        .and_then(|v| <[u8; 8]>::try_from(v.get(..8)?).ok())
        .map_or(0, |v| {
            if big {
                i64::from_be_bytes(v)
            } else {
                i64::from_le_bytes(v)
            }
        });
    Ok(Interface {
        linktype,
        snaplen,
        name,
        tsresol,
        tsoffset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsresol_conversions() {
        assert_eq!(
            TsResol::Pow10(6).timestamp(1_500_000),
            Some(Timestamp {
                secs: 1,
                nanos: 500_000_000
            })
        );
        assert_eq!(
            TsResol::Pow10(9).timestamp(2_000_000_007),
            Some(Timestamp { secs: 2, nanos: 7 })
        );
        assert_eq!(
            TsResol::Pow2(1).timestamp(3),
            Some(Timestamp {
                secs: 1,
                nanos: 500_000_000
            })
        );
        assert_eq!(
            TsResol::Pow10(0).timestamp(5),
            Some(Timestamp { secs: 5, nanos: 0 })
        );
        assert_eq!(TsResol::Pow10(127).timestamp(5), None);
        assert_eq!(
            TsResol::Pow2(127).timestamp(u64::MAX).map(|t| t.secs),
            Some(0)
        );
    }

    #[test]
    fn options_walk_stops_on_garbage() {
        assert_eq!(find_option(&[2, 0, 200, 0, 1], false, 2), None);
        assert_eq!(
            find_option(&[9, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0], false, 9),
            Some(&[6u8][..])
        );
        assert_eq!(
            find_option(&[1, 0, 1, 0, 6, 0, 0, 0, 9, 0, 1, 0, 3, 0, 0, 0], false, 9),
            Some(&[3u8][..])
        );
    }
}
