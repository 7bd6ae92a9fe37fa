//! The parallel pcap reader against the sequential one: the same bytes of
//! output and the same malformed-record reports, for every capture in the
//! repository's test data and fuzz seeds, for damaged, truncated and
//! concatenated copies of them, and for a generated 20,000-record file, in
//! ipmon text and JSON, with chunks from one record to many.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use inetmon_core::decode::nflog::NflogLine;
use inetmon_core::decode::pcap::PcapDecoder;
use inetmon_core::decode::StreamDecoder;
use inetmon_core::event::{Event, Source};
use inetmon_core::format::ipmon::{IpmonFormatter, IpmonOptions, Rendered};
use inetmon_core::format::json::JsonWriter;
use inetmon_io::parallel_read::{read_pcap_parallel, ChunkFormatter, ParallelConfig, ParallelEnd};
use jiff::tz::TimeZone;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fmt {
    Ipmon,
    /// ipmon text, taking the NFLOG fast path (lines straight from the
    /// records, no events) wherever the parallel reader can.
    IpmonLines,
    IpmonVerboseHex,
    Json,
}

/// Lines written by the NFLOG fast path, to show that it was taken.
static NFLOG_LINES: AtomicU64 = AtomicU64::new(0);

/// One formatter of `fmt`, as the binary's: appends every line of an event.
struct Formatter {
    fmt: Fmt,
    ipmon: IpmonFormatter,
    rendered: Rendered,
    json: JsonWriter,
}

fn formatter(fmt: Fmt) -> Formatter {
    let ipmon = IpmonFormatter::new(
        IpmonOptions {
            verbose: matches!(fmt, Fmt::IpmonVerboseHex),
            hex_packet: matches!(fmt, Fmt::IpmonVerboseHex),
            ..IpmonOptions::default()
        },
        TimeZone::UTC,
    );
    Formatter {
        fmt,
        ipmon,
        rendered: Rendered::default(),
        json: JsonWriter::new(),
    }
}

impl ChunkFormatter for Formatter {
    fn format_into(&mut self, ev: &Event, out: &mut Vec<u8>) -> bool {
        if self.fmt == Fmt::Json {
            out.extend_from_slice(self.json.format(ev));
        } else {
            self.rendered.clear();
            self.ipmon.format(ev, &mut self.rendered);
            out.extend_from_slice(&self.rendered.text);
        }
        true
    }

    fn takes_nflog_lines(&self) -> bool {
        self.fmt == Fmt::IpmonLines
    }

    fn format_nflog_line(&mut self, line: &NflogLine<'_>, out: &mut Vec<u8>) -> bool {
        let taken = self.ipmon.format_nflog_line(line, out);
        if taken {
            NFLOG_LINES.fetch_add(1, Ordering::Relaxed);
        }
        taken
    }
}

/// What a run shows the user: the output, and one report per malformed
/// record.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    out: Vec<u8>,
    malformed: Vec<String>,
}

/// The sequential reader (as `inetmon read` does it), skipping the first
/// `skip` events (the parallel reader wrote them).
fn sequential(bytes: &[u8], fmt: Fmt, skip: u64, seen: &mut Seen) {
    let mut f = formatter(fmt);
    let mut d = PcapDecoder::new(Source::Pcap("in.pcap".into()));
    let mut skip = skip;
    let mut deliver = |ev: Event, seen: &mut Seen| {
        if skip > 0 {
            skip -= 1;
            return;
        }
        if let Event::Malformed(m) = &ev {
            seen.malformed
                .push(format!("{} {} {}", m.offset, m.skipped, m.reason));
            return;
        }
        f.format_into(&ev, &mut seen.out);
    };
    // Fed in odd-sized pieces, as reads would come.
    for piece in bytes.chunks(7777) {
        d.feed(piece);
        while let Some(ev) = d.next_event() {
            deliver(ev, seen);
        }
    }
    while let Some(ev) = d.finish() {
        deliver(ev, seen);
    }
}

/// The parallel reader, then the sequential one for the rest when it falls
/// back (as the binary does); also how many events the parallel part wrote.
fn parallel(
    path: &Path,
    bytes: &[u8],
    fmt: Fmt,
    cfg: ParallelConfig,
    workers: usize,
) -> (Seen, u64) {
    let file = File::open(path).unwrap();
    let mut seen = Seen {
        out: Vec::new(),
        malformed: Vec::new(),
    };
    let formatters = (0..workers).map(|_| formatter(fmt)).collect();
    let end = read_pcap_parallel(
        &file,
        &Source::Pcap("in.pcap".into()),
        formatters,
        cfg,
        &mut seen.out,
    )
    .unwrap();
    let written = match end {
        ParallelEnd::Done { events } => events,
        ParallelEnd::Fallback { events } => {
            sequential(bytes, fmt, events, &mut seen);
            events
        }
    };
    (seen, written)
}

/// Compares both readers on `bytes`; returns (comparisons, events the
/// parallel reader wrote over all of them).
fn check(name: &str, bytes: &[u8], dir: &Path) -> (usize, u64) {
    let path = dir.join("in.pcap");
    File::create(&path).unwrap().write_all(bytes).unwrap();
    let mut compared = 0;
    let mut in_parallel = 0;
    for fmt in [Fmt::Ipmon, Fmt::IpmonLines, Fmt::IpmonVerboseHex, Fmt::Json] {
        let mut want = Seen {
            out: Vec::new(),
            malformed: Vec::new(),
        };
        sequential(bytes, fmt, 0, &mut want);
        for (chunk, in_flight, workers) in [(1, 1, 1), (100, 3, 2), (4096, 2, 3), (1 << 20, 8, 2)] {
            let cfg = ParallelConfig { chunk, in_flight };
            let (got, written) = parallel(&path, bytes, fmt, cfg, workers);
            in_parallel += written;
            assert!(
                got.out == want.out,
                "{name} {fmt:?} chunk {chunk}: output differs ({} vs {} bytes)",
                got.out.len(),
                want.out.len()
            );
            assert_eq!(
                got.malformed, want.malformed,
                "{name} {fmt:?} chunk {chunk}"
            );
            compared += 1;
        }
    }
    (compared, in_parallel)
}

fn captures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut dirs = vec![
        root.join("crates/inetmon-core/tests/data"),
        root.join("crates/inetmon-io/tests/data"),
        root.join("crates/inetmon/tests/data"),
    ];
    if let Ok(seeds) = std::fs::read_dir(root.join("fuzz/seeds")) {
        dirs.extend(seeds.flatten().map(|e| e.path()));
    }
    let mut files = Vec::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_file() {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// The records of a classic little-endian pcap file, after its header.
fn records(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut pos = 24;
    while let Some(h) = bytes.get(pos..pos + 16) {
        let len = u32::from_le_bytes(h[8..12].try_into().unwrap()) as usize;
        let Some(r) = bytes.get(pos..pos + 16 + len) else {
            break;
        };
        out.push(r);
        pos += 16 + len;
    }
    out
}

#[test]
fn parallel_output_equals_sequential_on_every_fixture_and_damaged_copies() {
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    let mut in_parallel = 0;
    let mut files = 0;
    let mut run = |name: &str, bytes: &[u8]| {
        let (c, w) = check(name, bytes, dir.path());
        compared += c;
        in_parallel += w;
    };
    for p in captures() {
        let bytes = std::fs::read(&p).unwrap();
        let name = p.display().to_string();
        files += 1;
        run(&name, &bytes);
        if bytes.len() < 64 {
            continue;
        }
        // Truncated: the last record cut short, and in the middle.
        run(&format!("{name} -5"), &bytes[..bytes.len() - 5]);
        run(&format!("{name} /2"), &bytes[..bytes.len() / 2]);
        // Concatenated with itself (`cat a b`).
        let twice = [bytes.as_slice(), bytes.as_slice()].concat();
        run(&format!("{name} x2"), &twice);
        // Damaged: garbage over a stretch in the middle, and a length field
        // made huge.
        for at in [bytes.len() / 3, 2 * bytes.len() / 3] {
            let mut bad = bytes.clone();
            for (i, b) in bad.iter_mut().skip(at).take(37).enumerate() {
                *b = (i as u8).wrapping_mul(97) ^ 0xa5;
            }
            run(&format!("{name} garbage@{at}"), &bad);
        }
        if records(&bytes).len() > 2 {
            let mut bad = bytes.clone();
            let second = 24 + records(&bytes)[0].len();
            bad[second + 8..second + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
            run(&format!("{name} huge"), &bad);
        }
    }
    assert!(files >= 10, "only {files} captures found");
    assert!(compared > 100);
    // The parallel path did the work, not only the fallback.
    assert!(
        in_parallel > 1000,
        "{in_parallel} events written in parallel"
    );
}

#[test]
fn parallel_output_equals_sequential_on_a_generated_file() {
    // 20,000 NFLOG records: the real capture's records repeated, one second
    // apart per round, so that chunks are many and times move on.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let seed = std::fs::read(root.join("crates/inetmon/tests/data/nflog-real-small.pcap")).unwrap();
    let recs = records(&seed);
    assert!(!recs.is_empty());
    let mut bytes = seed[..24].to_vec();
    let mut n = 0u32;
    'outer: for round in 0u32.. {
        for r in &recs {
            let mut r = r.to_vec();
            let secs = u32::from_le_bytes(r[0..4].try_into().unwrap()) + round;
            r[0..4].copy_from_slice(&secs.to_le_bytes());
            bytes.extend_from_slice(&r);
            n += 1;
            if n == 20_000 {
                break 'outer;
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gen.pcap");
    File::create(&path).unwrap().write_all(&bytes).unwrap();
    for fmt in [Fmt::Ipmon, Fmt::IpmonLines, Fmt::Json] {
        let mut want = Seen {
            out: Vec::new(),
            malformed: Vec::new(),
        };
        sequential(&bytes, fmt, 0, &mut want);
        assert_eq!(want.out.iter().filter(|b| **b == b'\n').count(), 20_000);
        for chunk in [1000, 65536, 1 << 20] {
            let cfg = ParallelConfig {
                chunk,
                in_flight: 4,
            };
            let file = File::open(&path).unwrap();
            let mut out = Vec::new();
            let formatters = (0..2).map(|_| formatter(fmt)).collect();
            let fast_before = NFLOG_LINES.load(Ordering::Relaxed);
            let end = read_pcap_parallel(
                &file,
                &Source::Pcap("in.pcap".into()),
                formatters,
                cfg,
                &mut out,
            )
            .unwrap();
            // A clean file is read entirely in parallel.
            assert_eq!(end, ParallelEnd::Done { events: 20_000 }, "{fmt:?} {chunk}");
            assert!(out == want.out, "{fmt:?} chunk {chunk}: output differs");
            if fmt == Fmt::IpmonLines {
                // Every record but the primers went the fast way.
                let fast = NFLOG_LINES.load(Ordering::Relaxed) - fast_before;
                assert!(fast >= 20_000, "{chunk}: {fast} lines from records");
            }
        }
    }
}
