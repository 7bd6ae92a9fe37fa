//! The file producer with real files and `inetmon-core`'s decoders: plain
//! reads (a committed capture and generated files), follow mode across
//! rename-rotation and truncation.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use inetmon_core::event::{Event, Source};
use inetmon_io::file::{core_decoder, FileConfig, FileError, FileFormat, FileSource};
use inetmon_io::pipeline::Pipeline;
use inetmon_io::shutdown::Shutdown;

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

/// A pcap record holding an IPv4/UDP packet 127.0.0.1:5000 → :9 whose
/// payload is `text`.
fn record(text: &str) -> Vec<u8> {
    let total = 20 + 8 + text.len();
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
    ];
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    ip.extend_from_slice(&5000u16.to_be_bytes());
    ip.extend_from_slice(&9u16.to_be_bytes());
    ip.extend_from_slice(&((8 + text.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0]);
    ip.extend_from_slice(text.as_bytes());
    let mut v = Vec::new();
    v.extend_from_slice(&1_700_000_000u32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&(total as u32).to_le_bytes());
    v.extend_from_slice(&(total as u32).to_le_bytes());
    v.extend_from_slice(&ip);
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

/// The UDP payload of packets, or `malformed` for a malformed event.
fn texts(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            Event::Packet(p) => String::from_utf8_lossy(&p.packet[28..]).into_owned(),
            Event::Malformed(_) => "malformed".to_owned(),
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
    let src = FileSource::open(FileConfig::new(&path), core_decoder).unwrap();
    assert_eq!(
        src.source(),
        &Source::Pcap(path.display().to_string().into())
    );
    assert_eq!(src.format(), FileFormat::Pcap);
    let pipe = Pipeline::new(2);
    let metrics = pipe.metrics();
    let p = pipe.producer(src.source().clone());
    let rx = pipe.close();
    let h = std::thread::spawn(move || src.run(p, &Shutdown::new().unwrap()));
    let events: Vec<Event> = rx.iter().collect();
    h.join().unwrap().unwrap();
    assert_eq!(texts(&events), ["one", "two", "three", "malformed"]);
    let seqs: Vec<u64> = events.iter().map(|e| e.header().seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    // The cut record starts after the header and three whole records.
    let Event::Malformed(m) = &events[3] else {
        unreachable!()
    };
    assert_eq!(m.offset, 24 + (16 + 28 + 3) + (16 + 28 + 3) + (16 + 28 + 5));
    let s = &metrics.snapshot()[0];
    assert_eq!((s.received, s.decoded, s.malformed), (4, 3, 1));
}

#[test]
fn unknown_format_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.txt");
    std::fs::write(&path, "hello world").unwrap();
    match FileSource::open(FileConfig::new(&path), core_decoder) {
        Err(FileError::UnknownFormat { head, .. }) => assert_eq!(head, b"hell"),
        other => panic!("expected UnknownFormat, got {other:?}"),
    }
}

fn next_n(rx: &inetmon_io::pipeline::Events, n: usize) -> Vec<String> {
    let end = Instant::now() + Duration::from_secs(60);
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
    let src = FileSource::open(cfg, core_decoder).unwrap();
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

/// A capture made by tcpdump on a namespace's loopback (copied from
/// `crates/inetmon-core/tests/data/lo-ether.pcapng`, see `make-pcaps.sh`
/// there), read through stdin-free file reading: every record becomes an
/// event, in order, numbered from 1.
#[test]
fn reads_a_real_capture() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/lo-ether.pcapng");
    let src = FileSource::open(FileConfig::new(path), core_decoder).unwrap();
    assert_eq!(src.format(), FileFormat::Pcapng);
    let pipe = Pipeline::new(4);
    let metrics = pipe.metrics();
    let h = src.spawn(&pipe, Shutdown::new().unwrap()).unwrap();
    let rx = pipe.close();
    let events: Vec<Event> = rx.iter().collect();
    h.join().unwrap().unwrap();
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|e| matches!(e, Event::Packet(_))),
        "{events:?}"
    );
    let seqs: Vec<u64> = events.iter().map(|e| e.header().seq).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
    assert_eq!(metrics.snapshot()[0].decoded, events.len() as u64);
}
