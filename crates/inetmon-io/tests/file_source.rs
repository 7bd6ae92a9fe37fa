//! The file producer with real files: plain reads, follow mode across
//! rename-rotation and truncation.
//!
//! Until core's pcap decoder is merged, a small test decoder stands in: it
//! reads the classic pcap framing and reports each record as a `Malformed`
//! event whose `offset` is the record's file offset and whose `reason` is
//! the record's payload as text, which is all the source needs to be checked.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use inetmon_core::decode::StreamDecoder;
use inetmon_core::event::{Event, Header, Malformed, Source, Timestamp};
use inetmon_io::file::{FileConfig, FileError, FileFormat, FileSource};
use inetmon_io::pipeline::Pipeline;
use inetmon_io::shutdown::Shutdown;

struct TestPcap {
    source: Source,
    buf: Vec<u8>,
    offset: u64,
    header_done: bool,
}

impl StreamDecoder for TestPcap {
    fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    fn next_event(&mut self) -> Option<Event> {
        if !self.header_done {
            if self.buf.len() < 24 {
                return None;
            }
            self.buf.drain(..24);
            self.offset = 24;
            self.header_done = true;
        }
        let len = u32::from_le_bytes(self.buf.get(8..12)?.try_into().ok()?) as usize;
        let rec: Vec<u8> = self.buf.get(16..16 + len)?.to_vec();
        self.buf.drain(..16 + len);
        let at = self.offset;
        self.offset += 16 + len as u64;
        Some(Event::Malformed(Malformed {
            header: Header {
                time: Timestamp::default(),
                source: self.source.clone(),
                seq: 0,
            },
            offset: at,
            skipped: 0,
            reason: String::from_utf8_lossy(&rec).into_owned(),
        }))
    }

    fn finish(&mut self) -> Option<Event> {
        if self.buf.is_empty() {
            return None;
        }
        let n = self.buf.len() as u64;
        self.buf.clear();
        Some(Event::Malformed(Malformed {
            header: Header {
                time: Timestamp::default(),
                source: self.source.clone(),
                seq: 0,
            },
            offset: self.offset,
            skipped: n,
            reason: "partial".into(),
        }))
    }
}

fn make(format: FileFormat, source: Source) -> Box<dyn StreamDecoder + Send> {
    assert_eq!(format, FileFormat::Pcap);
    Box::new(TestPcap {
        source,
        buf: Vec::new(),
        offset: 0,
        header_done: false,
    })
}

fn pcap_header() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&65535u32.to_le_bytes());
    v.extend_from_slice(&101u32.to_le_bytes());
    v
}

fn record(text: &str) -> Vec<u8> {
    let mut v = vec![0; 8];
    let n = text.len() as u32;
    v.extend_from_slice(&n.to_le_bytes());
    v.extend_from_slice(&n.to_le_bytes());
    v.extend_from_slice(text.as_bytes());
    v
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

fn texts(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            Event::Malformed(m) => m.reason.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[test]
fn reads_a_file_to_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.pcap");
    let mut bytes = pcap_header();
    for t in ["one", "two", "three"] {
        bytes.extend(record(t));
    }
    bytes.extend(&record("cut")[..10]);
    std::fs::write(&path, &bytes).unwrap();
    let src = FileSource::open(FileConfig::new(&path), make).unwrap();
    assert_eq!(src.source(), &Source::Pcap(path.display().to_string()));
    let pipe = Pipeline::new(2);
    let metrics = pipe.metrics();
    let p = pipe.producer(src.source().clone());
    let rx = pipe.close();
    let h = std::thread::spawn(move || src.run(p, &Shutdown::new().unwrap()));
    let events: Vec<Event> = rx.iter().collect();
    h.join().unwrap().unwrap();
    assert_eq!(texts(&events), ["one", "two", "three", "partial"]);
    let seqs: Vec<u64> = events.iter().map(|e| e.header().seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    let Event::Malformed(m) = &events[1] else {
        unreachable!()
    };
    assert_eq!(m.offset, 24 + 16 + 3);
    let s = &metrics.snapshot()[0];
    assert_eq!((s.received, s.decoded, s.malformed), (4, 0, 4));
}

#[test]
fn unknown_format_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.txt");
    std::fs::write(&path, "hello world").unwrap();
    match FileSource::open(FileConfig::new(&path), make) {
        Err(FileError::UnknownFormat { head, .. }) => assert_eq!(head, b"hell"),
        other => panic!("expected UnknownFormat, got {other:?}"),
    }
}

fn next_n(rx: &crossbeam_channel::Receiver<Event>, n: usize) -> Vec<String> {
    let end = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    while got.len() < n && Instant::now() < end {
        if let Ok(e) = rx.recv_timeout(Duration::from_millis(50)) {
            got.push(e);
        }
    }
    texts(&got)
}

#[test]
fn follow_across_rotation_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.pcap");
    let mut bytes = pcap_header();
    bytes.extend(record("a1"));
    bytes.extend(record("a2"));
    std::fs::write(&path, &bytes).unwrap();
    let cfg = FileConfig {
        follow: true,
        poll: Duration::from_millis(20),
        ..FileConfig::new(&path)
    };
    let src = FileSource::open(cfg, make).unwrap();
    let pipe = Pipeline::new(64);
    let shutdown = Shutdown::new().unwrap();
    let h = src.spawn(&pipe, shutdown.clone()).unwrap();
    let rx = pipe.close();
    assert_eq!(next_n(&rx, 2), ["a1", "a2"]);

    // Growth, including a record written in two halves.
    let r = record("a3");
    append(&path, &r[..5]);
    std::thread::sleep(Duration::from_millis(60));
    append(&path, &r[5..]);
    assert_eq!(next_n(&rx, 1), ["a3"]);

    // logrotate: rename, then a new file with its own header.
    std::fs::rename(&path, dir.path().join("live.pcap.1")).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    let mut bytes = pcap_header();
    bytes.extend(record("b1"));
    bytes.extend(record("b2"));
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(next_n(&rx, 2), ["b1", "b2"]);

    // copytruncate: the same file cut to zero, then written again.
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(0).unwrap();
    drop(f);
    let mut bytes = pcap_header();
    bytes.extend(record("c1"));
    append(&path, &bytes);
    assert_eq!(next_n(&rx, 1), ["c1"]);

    shutdown.trigger();
    h.join().unwrap().unwrap();
    let rest: Vec<Event> = rx.iter().collect();
    assert!(rest.is_empty(), "{rest:?}");
}
