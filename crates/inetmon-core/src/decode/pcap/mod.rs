//! pcap and pcapng files into [`Event::Packet`]s.
//!
//! [`PcapDecoder`] is a push decoder ([`StreamDecoder`]): the reader feeds
//! whatever bytes it has (a whole file, a pipe, or the growth of a file
//! followed like `tail -f`) and takes events out. Partial records wait for the
//! rest of their bytes.
//!
//! # Formats
//!
//! - pcap: both byte orders, microsecond (`0xa1b2c3d4`) and nanosecond
//!   (`0xa1b23c4d`) magics, version 2. pcap files concatenated into one
//!   stream (`cat a.pcap b.pcap`) decode as one: a file header where a
//!   record header should be starts a new file.
//! - pcapng: Section Header Blocks in either byte order (several sections in
//!   one stream are fine; each starts a new interface list), Interface
//!   Description Blocks (link type, snaplen, `if_name`, `if_tsresol` in powers
//!   of 10 or 2, `if_tsoffset`), Enhanced, Simple and obsolete Packet Blocks (`epb_flags`/
//!   `pack_flags` give the direction). Other blocks are skipped. Simple Packet
//!   Blocks have no time; their events carry the epoch.
//!
//! # Link types
//!
//! | link type | how the IP packet is found |
//! |---|---|
//! | 239 NFLOG | the NFLOG TLVs, by [`crate::decode::nflog`] (TLV headers in the file's byte order; fields as `nflog::to_packet_log` maps them, interface `if<ifindex>`) |
//! | 101 RAW, 228 IPV4, 229 IPV6, 12 and 14 (`DLT_RAW`) | the record is the packet |
//! | 1 Ethernet | after 14 bytes and any 802.1Q/802.1ad/QinQ tags |
//! | 113 Linux SLL, 276 Linux SLL2 | after the cooked header; the packet type gives the direction (outgoing → out, else in) |
//! | 0 NULL, 108 LOOP | after the 4-byte family |
//!
//! Each packet becomes a [`PacketLog`] with: `interface` = the pcapng
//! `if_name` when the file has one, else `if<ifindex>` for SLL2 records, else
//! `pcap<N>` where N is the interface number in the section (0 for pcap
//! files); `direction` from the SLL packet type, else from the pcapng flags,
//! else `None`; group none, rule none, action [`Action::Log`]; `family` 2 or
//! 10 from the IP version; `header_len` from
//! [`crate::dissect::ipf_header_len`]; `packet` the IP bytes as captured.
//!
//! Frames that carry no IP (ARP, LLDP, …) produce no event: a capture of an
//! Ethernet segment is full of them and they are not log records. They are
//! counted in [`PcapStats::non_ip`]. Records of a link type we do not decode
//! produce one [`Event::Malformed`] per interface (at the first such record)
//! and are all counted in [`PcapStats::unsupported`]; that
//! first report says `skipped` = the record's length.
//!
//! # Corruption
//!
//! Bad bytes are reported as one [`Event::Malformed`] per damaged region:
//! consecutive bad records, and the bytes a resynchronisation scan passes
//! over, are one event with the region's stream offset, its length and
//! what was wrong at its start ([`PcapError`]; truncation, `Len`, apart
//! from bad content). The region is reported when the next good record (or
//! the end of the stream) comes.
//!
//! - pcap: a record header in sequence is bad when its fraction is not
//!   below one second, its captured length exceeds its original length, or
//!   its captured length exceeds both the snaplen and 262144 bytes (writers
//!   do record packets beyond the snaplen they state). A record whose data
//!   does not decode is bad too, and since a pcap record's length has no
//!   check of its own, the length itself is then suspect. After either,
//!   the stream is scanned from the bad record's second byte for a
//!   candidate: a header passing the check above with the snaplen (262144
//!   when the file says 0) as limit and at least one byte captured, a time
//!   between a day before and ten years after the last good record, data
//!   that decodes for the link type (the NFLOG TLVs; an IP version 4 or 6
//!   for the raw IP link types; a whole link-layer header), and a header
//!   right after its data passing the same check with a time near its own
//!   (unless the stream ends first). A pcap file header (version 2) is a
//!   candidate too.
//! - pcapng: a block is plausible when it has a known type, a length that is
//!   a multiple of 4 between 12 bytes and 64 MiB, and the trailing copy of
//!   the length matches; a bad one starts a scan for the next plausible
//!   block. A block whose framing is fine but whose content is bad (a packet
//!   on an undescribed interface, a captured length beyond the block) is
//!   skipped alone. A Section Header Block whose byte-order magic is good
//!   but whose length is bad still opens its section: the blocks after it
//!   are found by the scan.
//!
//! Bytes that are not a pcap or pcapng file header at the start are skipped
//! up to the first file header. A record cut short by the end of the stream
//! is reported by [`StreamDecoder::finish`]. Deciding whether a candidate
//! is real may need the bytes of the record after it, so while following a
//! growing file a damaged region is reported once those bytes have arrived.
//!
//! **Memory.** The scan gives up the bytes it has passed at once, so
//! whatever follows a header (gigabytes of zeros, random bytes), the decoder
//! holds at most one candidate record and the header after it: the snaplen
//! (at most 64 MiB; 256 KiB for most files) plus a read.
//!
//! **State.** Everything needed to go on at a record boundary is explicit:
//! the current file or section and its interfaces, the last good record's
//! time, whether a damaged region is being scanned, and that region.
//!
//! # Why our own code and not `pcap-parser`
//!
//! `pcap-parser` (a dev-dependency, used as the oracle in the tests) reads
//! well-formed files well, but we need three things it does not give: push
//! feeding of arbitrary chunks with a byte-for-byte identical result (its
//! reader needs refill loops and a buffer bigger than the largest block),
//! the exact stream offset and length of every corrupt region, and our own
//! resynchronisation after it instead of an error that ends the stream. The
//! framing is small (two headers, five block types), so owning it costs
//! little.
//!
//! # Events
//!
//! Every event gets the next sequence number of the decoder's source,
//! counted from 1. A [`Malformed`] event carries the time of the last good
//! record (the epoch before the first).

mod frame;
mod link;

use crate::decode::netlink::HeaderOrder;
use crate::decode::{nflog, StreamDecoder};
use crate::dissect::ipf_header_len;
use crate::event::{
    Action, Event, Header, Malformed, PacketFlags, PacketLog, RuleGroup, Source, Timestamp,
};

pub use frame::PcapError;
use frame::{Framer, RecordMeta, Step};
use link::Link;

/// Counters of what the decoder has seen, for the reader's statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PcapStats {
    /// Packet records framed (whatever they held).
    pub records: u64,
    /// [`Event::Packet`]s produced.
    pub packets: u64,
    /// Records without an IP packet (ARP and the like), skipped silently.
    pub non_ip: u64,
    /// Records of a link type we do not decode (all counted; only the first
    /// per interface is reported, and counted in `malformed` too).
    pub unsupported: u64,
    /// [`Event::Malformed`]s produced.
    pub malformed: u64,
    /// Bytes skipped because they were bad.
    pub skipped_bytes: u64,
}

/// A push decoder of a pcap or pcapng byte stream; see the module docs.
#[derive(Debug, Clone)]
pub struct PcapDecoder {
    source: Source,
    /// Input bytes: `buf[start..end]` is not decoded yet; bytes past `end`
    /// are room for `feed_with` (kept to avoid zeroing them again).
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`.
    offset: u64,
    framer: Framer,
    seq: u64,
    last_time: Timestamp,
    stats: PcapStats,
    /// Interfaces (section number, interface) whose unsupported link type was
    /// already reported.
    reported: Vec<(u64, u32)>,
    /// `finish` was called: no more bytes will come.
    finished: bool,
    /// NFLOG interface, group and prefix names shared between records.
    names: nflog::NameCache,
    /// A packet event handed back by [`StreamDecoder::recycle`], whose box
    /// and buffer the next NFLOG record reuses.
    spare: Option<Box<PacketLog>>,
    /// Copy each `LINKTYPE_NFLOG` record into `raw_header` (`ipmon -X`).
    raw_nflog: bool,
    /// The damaged region being skipped: reported as one
    /// [`Event::Malformed`] when the next good record (or the end) comes.
    region: Option<Region>,
    /// The event of the good record that ended a damaged region, returned
    /// after the region's report.
    held: Option<Event>,
}

/// Consecutive bad bytes, reported once.
#[derive(Debug, Clone)]
struct Region {
    /// Stream offset of the first bad byte.
    start: u64,
    /// Bad bytes so far.
    len: u64,
    /// Time of the last good record before it.
    time: Timestamp,
    /// What was wrong at its start.
    error: PcapError,
}

impl PcapDecoder {
    /// A decoder whose events carry `source` (usually [`Source::Pcap`] with
    /// the path).
    #[must_use]
    pub fn new(source: Source) -> Self {
        PcapDecoder {
            source,
            buf: Vec::new(),
            start: 0,
            end: 0,
            offset: 0,
            framer: Framer::new(),
            seq: 0,
            last_time: Timestamp::default(),
            stats: PcapStats::default(),
            reported: Vec::new(),
            finished: false,
            names: nflog::NameCache::new(),
            spare: None,
            raw_nflog: false,
            region: None,
            held: None,
        }
    }

    /// Keeps each `LINKTYPE_NFLOG` record (its `nflog_hdr` and TLVs) in the
    /// packet's [`PacketLog::raw_header`], for `ipmon -X`; off by default
    /// (it copies every record).
    #[must_use]
    pub fn with_raw_nflog_records(mut self) -> Self {
        self.raw_nflog = true;
        self
    }

    /// What the decoder has seen so far.
    #[must_use]
    pub fn stats(&self) -> PcapStats {
        self.stats
    }

    /// Starts a new stream whose whole input is `input[..len]`, as a fresh
    /// decoder with the same source and options would, without copying
    /// the bytes: the decoder takes `input` as its buffer and returns its
    /// old one for the caller to reuse. The name cache and a recycled
    /// event are kept (they only save allocations; events are the same).
    /// For the parallel file reader, which decodes one chunk after another
    /// on each worker thread.
    pub fn restart_with(&mut self, input: Vec<u8>, len: usize) -> Vec<u8> {
        let old = std::mem::replace(&mut self.buf, input);
        self.start = 0;
        self.end = len.min(self.buf.len());
        self.offset = 0;
        self.framer = Framer::new();
        self.seq = 0;
        self.last_time = Timestamp::default();
        self.stats = PcapStats::default();
        self.reported.clear();
        self.finished = false;
        self.region = None;
        self.held = None;
        old
    }

    /// Bytes fed but not yet decoded (a partial record).
    #[must_use]
    pub fn pending(&self) -> usize {
        self.end - self.start
    }

    fn malformed(&mut self, offset: u64, skipped: u64, time: Timestamp, reason: String) -> Event {
        self.stats.malformed += 1;
        self.stats.skipped_bytes += skipped;
        self.seq += 1;
        Event::Malformed(Malformed {
            header: Header {
                time,
                source: self.source.clone(),
                seq: self.seq,
            },
            offset,
            skipped,
            reason,
        })
    }

    fn consume(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.end);
        self.offset += u64::try_from(n).unwrap_or(u64::MAX);
    }

    /// Adds `len` bad bytes at the current offset to the damaged region
    /// (starting one with `error` if none is open) and consumes them.
    fn bad(&mut self, len: usize, error: Option<PcapError>) {
        let n = u64::try_from(len).unwrap_or(u64::MAX);
        match &mut self.region {
            Some(r) => r.len += n,
            None => {
                self.region = Some(Region {
                    start: self.offset,
                    len: n,
                    time: self.last_time,
                    // Only a continuation has no error; it never opens a
                    // region, but say something if it ever does.
                    error: error.unwrap_or(PcapError::len("record", 0, 0)),
                });
            }
        }
        self.consume(len);
    }

    /// The [`Event::Malformed`] of the open damaged region, if any.
    fn close_region(&mut self) -> Option<Event> {
        let r = self.region.take()?;
        Some(self.malformed(r.start, r.len, r.time, r.error.to_string()))
    }

    fn next(&mut self, at_end: bool) -> Option<Event> {
        if let Some(e) = self.held.take() {
            return Some(e);
        }
        loop {
            let step = self.framer.step(
                self.buf.get(self.start..self.end).unwrap_or_default(),
                at_end,
            );
            let offset = self.offset;
            match step {
                Step::NeedMore => return if at_end { self.close_region() } else { None },
                Step::Skip(n) => {
                    self.consume(n);
                    if let Some(e) = self.close_region() {
                        return Some(e);
                    }
                }
                Step::Bad { len, error } => self.bad(len, error),
                Step::Record { len, data, meta } => {
                    let start = self.start;
                    let rec = self
                        .buf
                        .get(start + data.start..start + data.end)
                        .unwrap_or_default();
                    let reuse = Reuse {
                        names: &mut self.names,
                        spare: &mut self.spare,
                    };
                    let mut built = build(&self.framer, &self.source, rec, &meta, reuse);
                    if let Built::Packet(Err(e)) = built {
                        let n = self.framer.content_bad(len);
                        self.bad(n, Some(e));
                        continue;
                    }
                    if let (true, Built::Packet(Ok(p))) = (self.raw_nflog, &mut built) {
                        if p.nflog.is_some() {
                            p.raw_header.clear();
                            p.raw_header.extend_from_slice(rec);
                        }
                    }
                    self.stats.records += 1;
                    self.consume(len);
                    let region = self.close_region();
                    self.last_time = meta.time;
                    let event = self.emit(built, &meta, offset, len);
                    match (region, event) {
                        (Some(r), e) => {
                            self.held = e;
                            return Some(r);
                        }
                        (None, Some(e)) => return Some(e),
                        (None, None) => {}
                    }
                }
            }
        }
    }

    /// The event for a built record, with counting, sequence numbers and the
    /// once-per-interface report of unsupported link types.
    fn emit(&mut self, built: Built, meta: &RecordMeta, offset: u64, len: usize) -> Option<Event> {
        match built {
            Built::Packet(Ok(mut p)) => {
                self.stats.packets += 1;
                // `build` already gave the header this decoder's source and
                // the record's time: only the sequence number is missing
                // (not cloning the source again saves an allocation).
                self.seq += 1;
                p.header.seq = self.seq;
                Some(Event::Packet(p))
            }
            // Bad content is taken care of before (a damaged region).
            Built::Packet(Err(_)) => None,
            Built::NotIp => {
                self.stats.non_ip += 1;
                None
            }
            Built::Unsupported(lt) => {
                self.stats.unsupported += 1;
                let key = (self.framer.section(), meta.iface);
                if self.reported.contains(&key) {
                    return None;
                }
                self.reported.push(key);
                let reason = format!(
                    "unsupported link type {lt}; the records of interface {} are skipped",
                    meta.iface
                );
                let len = u64::try_from(len).unwrap_or(u64::MAX);
                Some(self.malformed(offset, len, self.last_time, reason))
            }
        }
    }
}

/// What one packet record holds.
fn build(
    framer: &Framer,
    source: &Source,
    rec: &[u8],
    meta: &RecordMeta,
    reuse: Reuse<'_>,
) -> Built {
    let Some(iface) = framer.interface(meta.iface) else {
        return Built::Packet(Err(PcapError::NoInterface { iface: meta.iface }));
    };
    let linktype = iface.linktype;
    if linktype == link::NFLOG {
        let big = framer.big_endian();
        return Built::Packet(nflog_record(rec, meta.time, source, big, reuse));
    }
    match link::locate_ip(linktype, rec) {
        Link::Ip {
            ip,
            direction,
            ifindex,
        } => {
            let name = match (&iface.name, ifindex) {
                (Some(n), _) => n.clone(),
                (None, Some(i)) => format!("if{i}"),
                (None, None) => format!("pcap{}", meta.iface),
            };
            let packet = rec.get(ip).unwrap_or_default();
            let header = Header {
                time: meta.time,
                source: source.clone(),
                seq: 0,
            };
            let dir = direction.or(meta.direction);
            Built::Packet(Ok(Box::new(packet_log(header, packet, name, dir))))
        }
        Link::NotIp => Built::NotIp,
        Link::Short { need } => Built::Packet(Err(PcapError::LinkLen {
            linktype,
            need: u64::try_from(need).unwrap_or(u64::MAX),
            have: u64::try_from(rec.len()).unwrap_or(u64::MAX),
        })),
        Link::Unsupported => Built::Unsupported(linktype),
    }
}

impl PcapDecoder {
    /// Moves the undecoded bytes to the front when that is cheap or they are
    /// none, and returns room for `n` more bytes after them.
    fn room(&mut self, n: usize) -> &mut [u8] {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start >= 4096 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let want = self.end.saturating_add(n);
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        self.buf.get_mut(self.end..want).unwrap_or_default()
    }
}

/// What records reuse from earlier ones.
struct Reuse<'a> {
    names: &'a mut nflog::NameCache,
    spare: &'a mut Option<Box<PacketLog>>,
}

enum Built {
    Packet(Result<Box<PacketLog>, PcapError>),
    NotIp,
    Unsupported(u16),
}

/// A [`PacketLog`] for an IP packet read from a capture file.
fn packet_log(
    header: Header,
    packet: &[u8],
    interface: String,
    direction: Option<crate::event::Direction>,
) -> PacketLog {
    let family = match packet.first().map(|b| b >> 4) {
        Some(4) => 2,
        Some(6) => 10,
        _ => 0,
    };
    PacketLog {
        header,
        count: 1,
        interface: interface.into(),
        direction,
        group: RuleGroup::None,
        rule: None,
        action: Action::Log,
        flags: PacketFlags::default(),
        log_tag: 0,
        nat_tag: String::new(),
        reason: None,
        log_level: None,
        family,
        header_len: ipf_header_len(packet),
        packet: packet.to_vec(),
        ipf_seq: None,
        nflog: None,
        raw_header: Vec::new(),
    }
}

/// The [`PacketLog`] of one `LINKTYPE_NFLOG` record, by
/// [`crate::decode::nflog`]. The TLV headers are in the capturing host's
/// byte order, taken to be the file's (section's) byte order. Interface
/// indexes become `if<N>` (a file has no index-to-name table); the NFLOG
/// timestamp, when the record has one, replaces the record's time.
fn nflog_record(
    rec: &[u8],
    time: Timestamp,
    source: &Source,
    big: bool,
    reuse: Reuse<'_>,
) -> Result<Box<PacketLog>, PcapError> {
    let order = if big {
        HeaderOrder::Big
    } else {
        HeaderOrder::Little
    };
    let pkt = nflog::packet_from_linktype_nflog_ordered(rec, order)?;
    Ok(nflog::to_packet_log_reusing(
        &pkt,
        time,
        source,
        &|_| None,
        reuse.names,
        reuse.spare.take(),
    ))
}

/// The file reader's fast path: calls `each` with the ipmon line facts
/// ([`nflog::NflogLine`], names through `names`) of every record of `data`
/// after the first `skip`, where `data` is a classic pcap file header of
/// link type `LINKTYPE_NFLOG` followed by whole records, as long as every
/// record is one that [`PcapDecoder`] turns into exactly one packet event
/// with no report (its header passes the checks, its TLVs decode:
/// [`nflog::line_attrs`]). Returns how many records went to `each`, or
/// `None` at the first record that is not such a record or for which `each`
/// returns `false`; the caller then decodes `data` with a [`PcapDecoder`],
/// which judges it as always.
pub fn for_each_plain_nflog_line(
    data: &[u8],
    mut skip: u64,
    names: &mut nflog::NameCache,
    mut each: impl FnMut(&nflog::NflogLine<'_>) -> bool,
) -> Option<u64> {
    let (big, nanos, linktype, snaplen) = frame::classic_file_header(data)?;
    if linktype != link::NFLOG {
        return None;
    }
    let order = if big {
        HeaderOrder::Big
    } else {
        HeaderOrder::Little
    };
    let mut rest = data.get(24..)?;
    let mut n = 0u64;
    while !rest.is_empty() {
        let (len, time) = frame::plain_pcap_record(rest, big, nanos, snaplen)?;
        let attrs = nflog::line_attrs(rest.get(16..len)?, order)?;
        if skip > 0 {
            skip -= 1;
        } else {
            if !each(&names.line(&attrs, time)) {
                return None;
            }
            n += 1;
        }
        rest = rest.get(len..)?;
    }
    Some(n)
}

impl StreamDecoder for PcapDecoder {
    fn feed(&mut self, bytes: &[u8]) {
        let room = self.room(bytes.len());
        if let Some(dst) = room.get_mut(..bytes.len()) {
            dst.copy_from_slice(bytes);
            self.end += bytes.len();
        }
    }

    fn feed_with(
        &mut self,
        max: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> std::io::Result<usize>,
    ) -> std::io::Result<usize> {
        let n = fill(self.room(max))?.min(max);
        self.end += n;
        Ok(n)
    }

    fn next_event(&mut self) -> Option<Event> {
        self.next(self.finished)
    }

    /// Ends the stream. Call it (or [`StreamDecoder::next_event`]) until it
    /// returns `None`: at the end of the stream more than one event can be
    /// left (bad bytes whose resynchronisation needed the end to decide, then
    /// the records after them), and bytes that do not make a whole record are
    /// reported as [`Event::Malformed`].
    fn finish(&mut self) -> Option<Event> {
        self.finished = true;
        self.next(true)
    }

    /// Keeps a packet event's box and packet buffer for the next NFLOG
    /// record.
    fn recycle(&mut self, event: Event) {
        if let Event::Packet(p) = event {
            self.spare = Some(p);
        }
    }
}

#[cfg(test)]
mod tests;
