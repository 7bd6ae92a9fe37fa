//! Reading a classic pcap file on every core: decode and format in chunks on
//! worker threads, write the output in file order.
//!
//! The sequential reader (decode, format, write on one thread) is the
//! reference; this path must produce the same bytes. How:
//!
//! 1. The calling thread reads the file with `pread(2)` in blocks of
//!    [`ParallelConfig::chunk`] bytes and walks the 16-byte record headers
//!    (only their `incl_len`) to cut each block at a record boundary. The
//!    partial record at the end of a block moves to the next one.
//! 2. Each chunk goes to a worker with the file header and the last record
//!    of the previous chunk in front (a *primer*, whose event is dropped), so
//!    that the worker's decoder, restarted on the chunk's buffer
//!    ([`PcapDecoder::restart_with`]: the bytes are not copied again),
//!    starts in the state the sequential decoder would be in (byte order,
//!    snaplen, time of the last good record). The worker decodes, renumbers
//!    each event's `seq` to its place in the file, and formats into one
//!    byte buffer, which the output may take without a copy
//!    ([`ChunkOut`]).
//! 3. The calling thread writes the buffers in chunk order. At most
//!    [`ParallelConfig::in_flight`] chunks exist at once, so memory is
//!    bounded whatever the file size: about `chunk × (in_flight + workers)`
//!    of input (each worker keeps its last input buffer) plus the text of
//!    `in_flight` chunks (input and text buffers are reused, each kind for
//!    its own kind).
//!
//! A chunk is *clean* when every record became exactly one
//! [`Event::Packet`] without an IP Filter sequence number (the formatter's
//! `missed` check is state carried from record to record), nothing was
//! malformed or lost, and the formatter accepted every event. The first chunk
//! that is not clean, and a record cut short at the end of the file, stop
//! this path: everything before it has been written, and
//! [`ParallelEnd::Fallback`] tells the caller how many events that was, so
//! that the sequential decoder, run from the start of the file, skips that
//! many events and does the rest (damaged regions, resynchronisation and
//! their error reports come out exactly as the sequential path makes them).
//!
//! Only regular files read to their end take this path; pipes, standard
//! input and followed files (`-t`) stay sequential.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;

use crossbeam_channel::{bounded, Receiver, Sender};
use inetmon_core::decode::nflog::{NameCache, NflogLine};
use inetmon_core::decode::pcap::{for_each_plain_nflog_line, PcapDecoder};
use inetmon_core::decode::StreamDecoder;
use inetmon_core::event::{Event, Source};

/// Size of a classic pcap file header.
const FILE_HEADER: usize = 24;
/// Size of a classic pcap record header.
const RECORD_HEADER: usize = 16;
/// A record longer than this stops the parallel path (the sequential decoder
/// judges it); real records are at most a few hundred KiB.
const MAX_RECORD: usize = 16 << 20;

/// Formats one event for a worker: appends its output bytes to `out`, or
/// returns `false` when the event needs the sequential path (nothing may be
/// appended then).
pub trait ChunkFormatter: Send {
    /// Appends the text of `event` to `out`; `false` = not handled here.
    fn format_into(&mut self, event: &Event, out: &mut Vec<u8>) -> bool;

    /// Whether [`ChunkFormatter::format_nflog_line`] is worth trying: the
    /// fast path for `LINKTYPE_NFLOG` files, which builds no events.
    fn takes_nflog_lines(&self) -> bool {
        false
    }

    /// Appends the text of the NFLOG packet `line` to `out`, exactly as
    /// [`ChunkFormatter::format_into`] would for its event; `false`, with
    /// nothing appended, when it cannot (the chunk is then decoded into
    /// events).
    fn format_nflog_line(&mut self, line: &NflogLine<'_>, out: &mut Vec<u8>) -> bool {
        let _ = (line, out);
        false
    }
}

impl<F: FnMut(&Event, &mut Vec<u8>) -> bool + Send> ChunkFormatter for F {
    fn format_into(&mut self, event: &Event, out: &mut Vec<u8>) -> bool {
        self(event, out)
    }
}

/// Where the parallel reader writes each chunk of text, in file order.
/// Any [`Write`] is one (the chunk is written with `write_all`); a sink that
/// can take the buffer itself swaps it out (and hands one back for reuse)
/// instead of copying it.
pub trait ChunkOut {
    /// Writes `text` (one chunk's output). The caller clears it afterwards
    /// and reuses whatever buffer is left in it.
    ///
    /// # Errors
    /// The output cannot be written.
    fn write_chunk(&mut self, text: &mut Vec<u8>) -> io::Result<()>;
}

impl<W: Write + ?Sized> ChunkOut for W {
    fn write_chunk(&mut self, text: &mut Vec<u8>) -> io::Result<()> {
        self.write_all(text)
    }
}

/// How to split the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParallelConfig {
    /// Bytes read per chunk (a chunk holds whole records; a longer record
    /// makes a longer chunk).
    pub chunk: usize,
    /// Chunks read but not yet written, at most.
    pub in_flight: usize,
}

impl Default for ParallelConfig {
    fn default() -> Self {
        // 256 KiB (~1,500 NFLOG records) keeps the per-chunk cost small
        // and memory at a few MiB even for JSON (~5× the input).
        ParallelConfig {
            chunk: 256 << 10,
            in_flight: 4,
        }
    }
}

/// How [`read_pcap_parallel`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParallelEnd {
    /// The whole file was decoded and written: `events` events.
    Done {
        /// Events written.
        events: u64,
    },
    /// The first `events` events were written; the rest needs the
    /// sequential decoder (see the module docs). `events` is 0 when the file
    /// is not a classic pcap file at all.
    Fallback {
        /// Events written, which the sequential decoder must skip.
        events: u64,
    },
}

/// Errors of [`read_pcap_parallel`]: reading the input or writing the
/// output (told apart so that a closed output pipe is not blamed on the
/// file).
#[derive(Debug, thiserror::Error)]
pub enum ParallelError {
    /// Reading the file failed.
    #[error("{0}")]
    Read(#[source] io::Error),
    /// Writing the output failed.
    #[error("{0}")]
    Write(#[source] io::Error),
}

/// The classic pcap magic numbers, read little-endian.
fn is_classic_pcap(head: &[u8]) -> Option<bool> {
    let m = u32::from_le_bytes(head.get(..4)?.try_into().ok()?);
    match m {
        // Written little-endian (micro and nano seconds).
        0xa1b2_c3d4 | 0xa1b2_3c4d => Some(true),
        // Written big-endian.
        0xd4c3_b2a1 | 0x4d3c_b2a1 => Some(false),
        _ => None,
    }
}

/// One chunk of records for a worker.
struct Job {
    index: u64,
    /// Events (= records) before the first record of `records`.
    base: u64,
    /// File header, primer record (if `primed`), then `count` records, in
    /// `data[..len]` (the bytes after `len` are left over from an earlier
    /// use of the buffer: not zeroed again).
    data: Vec<u8>,
    len: usize,
    primed: bool,
    count: u64,
    /// A buffer for the output, handed out for reuse.
    text: Vec<u8>,
}

/// A worker's answer.
struct Done {
    index: u64,
    /// The formatted text, or `None` when the chunk was not clean.
    text: Option<Vec<u8>>,
    /// The job's input buffer, handed back for reuse.
    data: Vec<u8>,
    count: u64,
}

/// Decodes and formats the classic pcap file `file` (read from offset 0 with
/// `pread`, so its file offset is not moved) on `formatters.len()` worker
/// threads, writing the output to `out` in file order. Events carry
/// `source`. See the module docs for when it stops early.
///
/// # Errors
///
/// Reading `file` or writing `out` failed; what was written before stays
/// written.
pub fn read_pcap_parallel<F: ChunkFormatter>(
    file: &File,
    source: &Source,
    formatters: Vec<F>,
    config: ParallelConfig,
    out: &mut dyn ChunkOut,
) -> Result<ParallelEnd, ParallelError> {
    let mut header = [0u8; FILE_HEADER];
    let got = read_full_at(file, &mut header, 0).map_err(ParallelError::Read)?;
    let Some(little) = header.get(..got).and_then(is_classic_pcap) else {
        return Ok(ParallelEnd::Fallback { events: 0 });
    };
    if got < FILE_HEADER || formatters.is_empty() {
        return Ok(ParallelEnd::Fallback { events: 0 });
    }
    let in_flight = config.in_flight.max(1);
    let (job_tx, job_rx) = bounded::<Job>(in_flight);
    let (done_tx, done_rx) = bounded::<Done>(in_flight);
    std::thread::scope(|s| {
        for f in formatters {
            let rx = job_rx.clone();
            let tx = done_tx.clone();
            s.spawn(move || worker(source, f, &rx, &tx));
        }
        drop(done_tx);
        drop(job_rx);
        let mut reader = Splitter {
            file,
            header,
            little,
            offset: FILE_HEADER as u64,
            carry: Vec::new(),
            primer: Vec::new(),
            records: 0,
            eof: false,
            chunk: config.chunk.max(RECORD_HEADER),
        };
        let result = drive(&mut reader, &job_tx, &done_rx, in_flight, out);
        // Stop the workers: no more jobs, and drain what they still send.
        drop(job_tx);
        for _ in done_rx.iter() {}
        result
    })
}

/// The calling thread's loop: read and split, hand out, write in order.
fn drive(
    reader: &mut Splitter<'_>,
    jobs: &Sender<Job>,
    done: &Receiver<Done>,
    in_flight: usize,
    out: &mut dyn ChunkOut,
) -> Result<ParallelEnd, ParallelError> {
    let mut next_index = 0u64; // next job to hand out
    let mut next_write = 0u64; // next job to write
    let mut written = 0u64; // events written
    let mut pending: Vec<Option<Done>> = (0..in_flight).map(|_| None).collect();
    // Input and text buffers are kept apart: a text buffer (JSON is ~5×
    // its input) reused as an input buffer would keep its size.
    let mut spare_data: Vec<Vec<u8>> = Vec::new();
    let mut spare_text: Vec<Vec<u8>> = Vec::new();
    let mut stop = false; // no more jobs: EOF, a tail, or an unclean chunk
    let mut tail = false; // the file did not end on a record boundary
    let slot = |i: u64| usize::try_from(i % in_flight as u64).unwrap_or(0);
    loop {
        while !stop && next_index - next_write < in_flight as u64 {
            let buf = spare_data.pop().unwrap_or_default();
            match reader
                .next_job(next_index, buf)
                .map_err(ParallelError::Read)?
            {
                Some(mut job) => {
                    job.text = spare_text.pop().unwrap_or_default();
                    next_index += 1;
                    if jobs.send(job).is_err() {
                        stop = true;
                    }
                }
                None => {
                    stop = true;
                    tail = !reader.clean_end();
                }
            }
        }
        if next_write == next_index {
            break;
        }
        let Ok(d) = done.recv() else {
            // Every worker is gone (a worker panicked): let the sequential
            // path do the rest.
            return Ok(ParallelEnd::Fallback { events: written });
        };
        if let Some(p) = pending.get_mut(slot(d.index)) {
            *p = Some(d);
        }
        while let Some(d) = pending
            .get_mut(slot(next_write))
            .and_then(|p| p.take_if(|d| d.index == next_write))
        {
            let Some(mut text) = d.text else {
                // Written so far: the chunks before this one.
                return Ok(ParallelEnd::Fallback { events: written });
            };
            out.write_chunk(&mut text).map_err(ParallelError::Write)?;
            written += d.count;
            next_write += 1;
            spare_data.push(d.data);
            spare_text.push(text);
        }
    }
    Ok(if tail {
        ParallelEnd::Fallback { events: written }
    } else {
        ParallelEnd::Done { events: written }
    })
}

/// Reads the file and cuts it at record boundaries.
struct Splitter<'a> {
    file: &'a File,
    header: [u8; FILE_HEADER],
    little: bool,
    /// File offset of the next byte to read.
    offset: u64,
    /// Bytes read but not handed out (the start of a record).
    carry: Vec<u8>,
    /// The last record handed out (header and data).
    primer: Vec<u8>,
    /// Records handed out so far.
    records: u64,
    eof: bool,
    chunk: usize,
}

impl Splitter<'_> {
    /// Whether the file ended exactly after the last record handed out.
    fn clean_end(&self) -> bool {
        self.eof && self.carry.is_empty()
    }

    fn record_len(&self, at: &[u8]) -> Option<usize> {
        let b: [u8; 4] = at.get(8..12)?.try_into().ok()?;
        let incl = if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        };
        let incl = usize::try_from(incl).ok()?;
        (incl <= MAX_RECORD).then_some(RECORD_HEADER + incl)
    }

    /// The next chunk of whole records in `buf` (reused: its old bytes are
    /// overwritten, not zeroed again), or `None` at the end of the file or
    /// at a record the splitter will not judge.
    fn next_job(&mut self, index: u64, mut buf: Vec<u8>) -> io::Result<Option<Job>> {
        let primed = !self.primer.is_empty();
        let start = FILE_HEADER + self.primer.len();
        let mut filled = start + self.carry.len();
        if buf.len() < filled {
            buf.resize(filled, 0);
        }
        let (head, rest) = buf.split_at_mut(FILE_HEADER);
        head.copy_from_slice(&self.header);
        let (primer, rest) = rest.split_at_mut(self.primer.len());
        primer.copy_from_slice(&self.primer);
        if let Some(c) = rest.get_mut(..self.carry.len()) {
            c.copy_from_slice(&self.carry);
        }
        self.carry.clear();
        let mut want = self.chunk;
        loop {
            // Read until the buffer holds `want` bytes of records (or EOF).
            while !self.eof && filled - start < want {
                if buf.len() < start + want {
                    buf.resize(start + want, 0);
                }
                let dst = buf.get_mut(filled..start + want).unwrap_or(&mut []);
                let n = read_full_at(self.file, dst, self.offset)?;
                filled += n;
                self.offset += n as u64;
                if n == 0 {
                    self.eof = true;
                }
            }
            // Walk the record headers.
            let mut pos = start;
            let mut last = start;
            let mut count = 0u64;
            let mut too_long = false;
            while let Some(h) = buf.get(pos..filled) {
                if h.len() < RECORD_HEADER {
                    break;
                }
                let Some(len) = self.record_len(h) else {
                    too_long = true;
                    break;
                };
                if h.len() < len {
                    // A record that does not fit: read more if it is the
                    // only one.
                    if count == 0 && !self.eof {
                        want = (pos - start) + len;
                    }
                    break;
                }
                last = pos;
                pos += len;
                count += 1;
            }
            if count == 0 {
                if too_long || self.eof {
                    // Leave it to the sequential decoder.
                    self.carry
                        .extend_from_slice(buf.get(start..filled).unwrap_or(&[]));
                    return Ok(None);
                }
                continue;
            }
            self.carry
                .extend_from_slice(buf.get(pos..filled).unwrap_or(&[]));
            self.primer.clear();
            self.primer
                .extend_from_slice(buf.get(last..pos).unwrap_or(&[]));
            let base = self.records;
            self.records += count;
            return Ok(Some(Job {
                index,
                base,
                data: buf,
                len: pos,
                primed,
                count,
                text: Vec::new(),
            }));
        }
    }
}

/// `pread` until `buf` is full or the file ends; returns the bytes read.
fn read_full_at(file: &File, buf: &mut [u8], mut offset: u64) -> io::Result<usize> {
    let mut n = 0;
    while let Some(rest) = buf.get_mut(n..).filter(|r| !r.is_empty()) {
        match file.read_at(rest, offset) {
            Ok(0) => break,
            Ok(k) => {
                n += k;
                offset += k as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A worker: decode, check, renumber and format each job it gets.
fn worker<F: ChunkFormatter>(
    source: &Source,
    mut formatter: F,
    jobs: &Receiver<Job>,
    done: &Sender<Done>,
) {
    // One decoder per worker, restarted on each chunk's buffer (no copy).
    let mut decoder = PcapDecoder::new(source.clone());
    let fast = formatter.takes_nflog_lines();
    let mut names = NameCache::new();
    for mut job in jobs {
        let mut text = std::mem::take(&mut job.text);
        text.clear();
        let (clean, data) = if fast && nflog_lines(&mut names, &job, &mut formatter, &mut text) {
            (true, std::mem::take(&mut job.data))
        } else {
            text.clear();
            let data = decoder.restart_with(std::mem::take(&mut job.data), job.len);
            let clean = decode_chunk(&mut decoder, &job, &mut formatter, &mut text);
            (clean, data)
        };
        let answer = Done {
            index: job.index,
            text: clean.then_some(text),
            data,
            count: job.count,
        };
        if done.send(answer).is_err() {
            return;
        }
    }
}

/// The fast path for a job of `LINKTYPE_NFLOG` records: each record's line
/// straight from its TLVs, no event built. `false` when a record is not a
/// plain one (see [`for_each_plain_nflog_line`]) or the formatter declines
/// it: then `text` holds junk and the job goes the way of events.
fn nflog_lines<F: ChunkFormatter>(
    names: &mut NameCache,
    job: &Job,
    formatter: &mut F,
    text: &mut Vec<u8>,
) -> bool {
    let data = job.data.get(..job.len).unwrap_or_default();
    let written = for_each_plain_nflog_line(data, u64::from(job.primed), names, |line| {
        formatter.format_nflog_line(line, text)
    });
    written == Some(job.count)
}

/// Decodes one job into `text`; `false` when the chunk is not clean.
fn decode_chunk<F: ChunkFormatter>(
    decoder: &mut PcapDecoder,
    job: &Job,
    formatter: &mut F,
    text: &mut Vec<u8>,
) -> bool {
    let mut skip_primer = job.primed;
    let mut n = 0u64;
    while let Some(mut ev) = decoder.next_event() {
        let Event::Packet(p) = &ev else {
            return false;
        };
        if p.ipf_seq.is_some() {
            return false;
        }
        if skip_primer {
            skip_primer = false;
            decoder.recycle(ev);
            continue;
        }
        n += 1;
        ev.header_mut().seq = job.base + n;
        if !formatter.format_into(&ev, text) {
            return false;
        }
        decoder.recycle(ev);
    }
    if decoder.finish().is_some() || skip_primer {
        return false;
    }
    let s = decoder.stats();
    let expect = job.count + u64::from(job.primed);
    n == job.count && s.records == expect && s.packets == expect && s.malformed == 0
}
