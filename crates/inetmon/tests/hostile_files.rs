//! Hostile input files (issue 10 items 1, 2, 3 and 8): memory bounded
//! whatever follows a header, one report per damaged region, every good
//! record around a damaged one printed, IP Filter loss in JSON and in the
//! summary. The damaged files are made here from the real NFLOG capture
//! `tests/data/nflog-real-small.pcap` (F) and from its IP Filter copy
//! (`ipmon -f F -B`).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

const FIXTURE: &str = "nflog-real-small.pcap";

/// F and the offsets of its 10 records.
fn fixture() -> (Vec<u8>, Vec<usize>) {
    let bytes = fs::read(data(FIXTURE)).unwrap();
    let mut offs = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        offs.push(at);
        at += 16 + u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
    }
    assert_eq!(offs.len(), 10);
    (bytes, offs)
}

/// F as pcapng: a Section Header Block, one Interface Description Block
/// (LINKTYPE_NFLOG) and one Enhanced Packet Block per record.
fn fixture_pcapng() -> Vec<u8> {
    fn block(out: &mut Vec<u8>, t: u32, body: &[u8]) {
        let len = (12 + body.len().div_ceil(4) * 4) as u32;
        out.extend(t.to_le_bytes());
        out.extend(len.to_le_bytes());
        out.extend(body);
        out.resize(out.len() + (4 - body.len() % 4) % 4, 0);
        out.extend(len.to_le_bytes());
    }
    let (bytes, offs) = fixture();
    let mut out = Vec::new();
    let mut shb = vec![0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0];
    shb.extend(u64::MAX.to_le_bytes());
    block(&mut out, 0x0a0d_0d0a, &shb);
    let mut idb = 239u16.to_le_bytes().to_vec();
    idb.extend([0, 0, 0, 0, 4, 0]);
    block(&mut out, 1, &idb);
    for &at in &offs {
        let r = &bytes[at..];
        let sec = u64::from(u32::from_le_bytes(r[0..4].try_into().unwrap()));
        let usec = u64::from(u32::from_le_bytes(r[4..8].try_into().unwrap()));
        let ticks = sec * 1_000_000 + usec;
        let incl = u32::from_le_bytes(r[8..12].try_into().unwrap());
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend(((ticks >> 32) as u32).to_le_bytes());
        epb.extend((ticks as u32).to_le_bytes());
        epb.extend(incl.to_le_bytes());
        epb.extend(r[12..16].iter());
        epb.extend(&r[16..16 + incl as usize]);
        block(&mut out, 6, &epb);
    }
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, bytes).unwrap();
    p
}

fn read(args: &[&str]) -> Run {
    inetmon_run_env(args, &[("TZ", "UTC")])
}

/// The packet lines of F, in order.
fn good_lines() -> Vec<String> {
    let r = read(&["read", data(FIXTURE).to_str().unwrap()]);
    assert_eq!(r.code, Some(0), "{r:?}");
    r.stdout.lines().map(str::to_owned).collect()
}

/// Issue 10 item 1: a header followed by more garbage (zeros, text) than
/// the address space allowed by `ulimit -v 60000` (58 MiB),
/// read from a pipe: the run completes with one damaged region, where it
/// used to grow to the size of the garbage and abort. (The issue's
/// 600 MiB under `ulimit -v 300000` takes minutes with a debug build; with
/// the release build it runs in 1.2 s and 4.6 MB of RSS.)
#[test]
fn garbage_after_a_header_runs_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _) = fixture();
    let ng = fixture_pcapng();
    let shb = &ng[..28];
    let (_, records) = iplog_copy(&data(FIXTURE), dir.path(), "f.iplog");
    let iplog = records[0].clone();
    // (Random bytes: `garbage_never_makes_the_buffer_grow` in the core
    // tests; scanning 64 MiB of them takes too long in a debug build.)
    let cases: [(&str, &[u8], &str); 4] = [
        ("pcapng", shb, "head -c 64M /dev/zero"),
        ("pcap", &bytes[..24], "head -c 64M /dev/zero"),
        ("pcap-text", &bytes[..24], "yes | head -c 64M"),
        ("iplog", &iplog, "head -c 64M /dev/zero"),
    ];
    for (name, head, garbage) in cases {
        let h = write(dir.path(), name, head);
        let script = format!(
            "(cat '{}'; {garbage}) | (ulimit -v 60000; exec '{}' read -)",
            h.display(),
            inetmon()
        );
        let r = run(
            Command::new("sh").args(["-c", &script]),
            Duration::from_secs(300),
        );
        assert_eq!(r.code, Some(2), "{name}: {r:?}");
        assert_eq!(
            r.stdout.lines().count(),
            usize::from(name == "iplog") * 2,
            "{name}: {r:?}"
        );
        let err = r.stderr_lines();
        assert!(
            err.last().unwrap().starts_with("inetmon: ")
                && err.last().unwrap().contains(" damaged region"),
            "{name}: {err:?}"
        );
        assert_eq!(err.len(), 2, "{name}: {err:?}");
        assert!(
            err[0].starts_with(&format!("inetmon: stdin: offset {}\u{2013}", head.len())),
            "{name}: {err:?}"
        );
        assert!(!r.stderr.contains("memory allocation"), "{name}: {r:?}");
    }
}

/// Issue 10 item 2: a pcap header and 4 MiB of zeros (a file extended by
/// `truncate`) gave one error line per 16 bytes; it is one line for the
/// region and the summary. What the scan costs against reading a good file
/// of the same size is a benchmark, not a timed test (a debug build on a
/// busy machine says nothing about it): `bench/resync-vs-read.sh`.
#[test]
fn zeros_are_one_line_and_one_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _) = fixture();
    let size = 4 << 20;
    let mut z = bytes[..24].to_vec();
    z.resize(size, 0);
    let zp = write(dir.path(), "z.pcap", &z);

    let r = read(&["read", zp.to_str().unwrap()]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert_eq!(
        r.stderr_lines(),
        [
            format!(
                "inetmon: {}: offset 24\u{2013}{size}: {} bytes skipped: LINKTYPE_NFLOG record: need 4 header bytes, have 0",
                zp.display(),
                size - 24
            ),
            format!("inetmon: 1 damaged region skipped ({} bytes), 0 events lost", size - 24),
        ]
    );
}

/// Issue 10 item 3: every good record around a damaged one is printed,
/// and the damage is one line.
#[test]
fn damaged_records_lose_only_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, offs) = fixture();
    let good = good_lines();
    let check = |name: &str, bad: &[u8], want: &[String], region: (usize, usize)| {
        let p = write(dir.path(), name, bad);
        let r = read(&["read", p.to_str().unwrap()]);
        assert_eq!(r.code, Some(2), "{name}: {r:?}");
        let got: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(got, want, "{name}");
        let err = r.stderr_lines();
        assert_eq!(err.len(), 2, "{name}: {err:?}");
        let (a, b) = region;
        assert!(
            err[0].starts_with(&format!(
                "inetmon: {}: offset {a}\u{2013}{b}: {} bytes skipped: ",
                p.display(),
                b - a
            )),
            "{name}: {err:?}"
        );
    };
    // Captured length 0xffffffff in the first record: 0 of 9 were printed.
    let mut c = bytes.clone();
    c[offs[0] + 8..offs[0] + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    check("caplen-ones.pcap", &c, &good[1..], (offs[0], offs[1]));
    // Captured length 0 in record 4: 3 of 9 (here 4 of 9) were printed.
    let mut c = bytes.clone();
    c[offs[4] + 8..offs[4] + 12].copy_from_slice(&0u32.to_le_bytes());
    let want: Vec<String> = [&good[..4], &good[5..]].concat();
    check("caplen-zero.pcap", &c, &want, (offs[4], offs[5]));
    // A Section Header Block length of 0 or 12 skipped the whole file.
    let ng = fixture_pcapng();
    let ngp = write(dir.path(), "f.pcapng", &ng);
    let r = read(&["read", ngp.to_str().unwrap()]);
    assert_eq!((r.code, r.stdout.lines().count()), (Some(0), 10), "{r:?}");
    for len in [0u32, 12] {
        let mut c = ng.clone();
        c[4..8].copy_from_slice(&len.to_le_bytes());
        check(&format!("shb-{len}.pcapng"), &c, &good, (0, 28));
    }
}

/// Issue 10 item 3: a bad magic in the first IP Filter record rejected
/// the whole file (`not a pcap, pcapng or IP Filter log file`).
#[test]
fn iplog_with_a_damaged_first_record_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, records) = iplog_copy(&data(FIXTURE), dir.path(), "f.iplog");
    let mut bytes = records.concat();
    let first = records[0].len();
    let whole = read(&["read", bin.to_str().unwrap()]);
    let whole: Vec<&str> = whole.stdout.lines().collect();
    bytes[0] = b'X';
    let bad = write(dir.path(), "bad.iplog", &bytes);
    for args in [&["read"][..], &["ipmon", "-f"]] {
        let mut a = args.to_vec();
        a.push(bad.to_str().unwrap());
        let r = read(&a);
        assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
        let got: Vec<&str> = r.stdout.lines().collect();
        // ipmon's `missed` line for the first record read, then the 9
        // records after the damaged one.
        assert_eq!(got[0], "missed 2 ipf log entries: 0 2");
        assert_eq!(got[1..], whole[2..], "{args:?}");
        assert_eq!(
            r.stderr_lines()[0],
            format!(
                "inetmon: {}: offset 0\u{2013}{first}: {first} bytes skipped: bad magic 0x49504c58, expected IPLM, IPLN or IPLS",
                bad.display()
            )
        );
    }
}

/// Issue 10 item 8: a gap in an IP Filter log's sequence numbers printed
/// `missed N ipf log entries` in text but nothing in JSON, and the summary
/// said `0 events lost`.
#[test]
fn iplog_loss_is_in_json_and_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (_, records) = iplog_copy(&data(FIXTURE), dir.path(), "f.iplog");
    // Records 5 to 7 (sequence numbers 5, 6, 7) are missing.
    let gap = write(
        dir.path(),
        "gap.iplog",
        &[&records[..4], &records[7..]].concat().concat(),
    );
    let g = gap.to_str().unwrap();

    let text = read(&["read", g]);
    let missed: Vec<&str> = text
        .stdout
        .lines()
        .filter(|l| l.starts_with("missed"))
        .collect();
    assert_eq!(
        missed,
        [
            "missed 1 ipf log entries: 0 1",
            "missed 3 ipf log entries: 5 8"
        ]
    );
    assert_eq!(text.code, Some(2), "{text:?}");
    assert_eq!(
        text.stderr_lines(),
        ["inetmon: 0 damaged regions skipped (0 bytes), 3 events lost"]
    );
    for args in [
        &["read", "--format", "json", g][..],
        &["ipmon", "--json", "-f", g],
    ] {
        let r = read(args);
        assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
        let lost: Vec<serde_json::Value> = r
            .stdout
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["kind"] == "lost")
            .collect();
        assert_eq!(lost.len(), 1, "{args:?}: {}", r.stdout);
        let l = &lost[0];
        assert_eq!(l["stage"], "kernel");
        assert_eq!(l["count"], 3);
        assert_eq!(l["kinds"], serde_json::json!(["packet"]));
        assert_eq!(l["seq_range"], serde_json::json!([5, 7]));
        assert_eq!(l["source"], format!("iplog:{g}"));
        assert_eq!(
            r.stderr_lines(),
            ["inetmon: 0 damaged regions skipped (0 bytes), 3 events lost"],
            "{args:?}"
        );
    }
}
