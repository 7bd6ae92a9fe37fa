//! IP Filter's own ipmon test (`l1`), reproduced byte for byte.
//!
//! The upstream test ran `ipftest -l logout` and then `ipmon [-b] -f logout`
//! under `TZ=GMT`. There is no binary log in the vectors, so this test writes
//! the records `ipftest` would have written — raw `iplog_t` + `ipflog_t` +
//! packet bytes in the x86_64 layout of reference §4.2, built here
//! independently of the crate's encoder — from the 13 packets of
//! `l1.input.v5` and the packet→line mapping of the vector README. The
//! records then go through `IplogDecoder` and `IpmonFormatter`, and the
//! test driver's rule-text lines and `--------` separators are added as
//! `test/logtest` does.

use inetmon_core::decode::iplog::IplogDecoder;
use inetmon_core::decode::StreamDecoder;
use inetmon_core::event::Source;
use inetmon_core::format::ipmon::{IpmonFormatter, IpmonOptions, Rendered};
use jiff::tz::TimeZone;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ipmon-l1/");

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{DATA}{name}")).unwrap()
}

/// The 13 packets of `l1.input.v5` (hex, `#` comments, `[...]` prefixes).
fn packets() -> Vec<Vec<u8>> {
    let text = read("l1.input.v5");
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines().chain(std::iter::once("")) {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() {
            if !cur.is_empty() {
                let bytes = (0..cur.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&cur[i..i + 2], 16).unwrap())
                    .collect();
                out.push(bytes);
                cur.clear();
            }
            continue;
        }
        let line = match line.find(']') {
            Some(i) => &line[i + 1..],
            None => line,
        };
        cur.extend(line.chars().filter(|c| c.is_ascii_hexdigit()));
    }
    out
}

/// What logged a packet: the rule's group, 0-based rule number and flags.
#[derive(Clone, Copy)]
enum By {
    /// `log in all`: logged before a rule matched: `@-1:-1 L`.
    LogAll,
    /// `pass in log body …` as rule N of group 0.
    Body(u32),
    /// `pass in log … keep state` as rule N of group 0.
    KeepState(u32),
    /// `pass in log quick from 3.3.3.3 … group 100`, rule 1 of group 100.
    Group100,
}

const FR_BLOCK_PASS_LOG: u32 = 0x12;
const FR_LOG: u32 = 0x10;
const FR_KEEPSTATE: u32 = 0x400;
const FR_LOGBODY: u32 = 0x1_0000;

/// One raw record as `ipftest -l` writes it.
fn record(pkt: &[u8], seq: u32, count: u32, by: By, out_e1: bool) -> Vec<u8> {
    let (group, rule, flags): (&[u8], u32, u32) = match by {
        By::LogAll => (b"\xff", u32::MAX, FR_LOG),
        By::Body(n) => (b"", n - 1, FR_BLOCK_PASS_LOG | FR_LOGBODY),
        By::KeepState(n) => (b"", n - 1, FR_BLOCK_PASS_LOG | FR_KEEPSTATE),
        By::Group100 => (b"100", 0, FR_BLOCK_PASS_LOG),
    };
    let ip_hl = usize::from(pkt[0] & 0xf) * 4;
    let transport = match pkt[9] {
        6 => 20,
        17 => 8,
        _ => 0,
    };
    let hlen = (ip_hl + transport).min(pkt.len());
    let plen = if flags & FR_LOGBODY != 0 {
        pkt.len() - hlen
    } else {
        0
    };
    let logged = &pkt[..hlen + plen];
    let dsize = 48 + 80 + logged.len();
    let mut r = vec![0u8; dsize];
    // iplog_t
    r[0..4].copy_from_slice(&0x4950_4c4du32.to_le_bytes());
    r[4..8].copy_from_slice(&count.to_le_bytes());
    r[8..12].copy_from_slice(&seq.to_le_bytes());
    // ipl_sec = ipl_usec = 0 (ipftest)
    r[32..40].copy_from_slice(&(dsize as u64).to_le_bytes());
    r[40..48].copy_from_slice(&0xdead_beef_u64.to_le_bytes()); // ipl_next: garbage
                                                               // ipflog_t at 48
    let f = 48;
    r[f + 4..f + 8].copy_from_slice(&rule.to_le_bytes());
    r[f + 8..f + 12].copy_from_slice(&flags.to_le_bytes());
    r[f + 40..f + 42].copy_from_slice(&(plen as u16).to_le_bytes());
    r[f + 42..f + 44].copy_from_slice(&0xffffu16.to_le_bytes());
    r[f + 44..f + 44 + group.len()].copy_from_slice(group);
    r[f + 60] = hlen as u8;
    r[f + 61] = u8::from(out_e1);
    r[f + 63] = 2; // AF_INET
    let ifname: &[u8] = if out_e1 { b"e1" } else { b"anon0" };
    r[f + 64..f + 64 + ifname.len()].copy_from_slice(ifname);
    r[128..].copy_from_slice(logged);
    r
}

/// The records of one ipmon run: `(packet number 1..=13, by, count)`.
fn log_file(pkts: &[Vec<u8>], entries: &[(usize, By, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut seq = 1u32;
    for &(n, by, count) in entries {
        out.extend(record(&pkts[n - 1], seq, count, by, n == 4));
        seq += count;
    }
    out
}

fn blocks() -> Vec<Vec<(usize, By, u32)>> {
    use By::*;
    let log_all: Vec<_> = [1, 2, 3, 5, 6, 8, 9, 10, 11, 12, 13]
        .iter()
        .map(|&n| (n, LogAll, if n == 6 { 2 } else { 1 }))
        .collect();
    let ks = |r| -> Vec<_> {
        [1, 2, 3, 4, 5, 6]
            .iter()
            .map(|&n| (n, KeepState(r), if n == 6 { 2 } else { 1 }))
            .collect()
    };
    let mut full = vec![(1, LogAll, 1)];
    full.extend(ks(4));
    full.extend([
        (8, LogAll, 1),
        (9, LogAll, 1),
        (9, Body(3), 1),
        (10, LogAll, 1),
        (10, Body(3), 1),
        (11, LogAll, 1),
        (11, Body(3), 1),
        (12, LogAll, 1),
        (12, Group100, 1),
        (13, LogAll, 1),
    ]);
    vec![
        log_all,
        vec![],
        vec![],
        vec![
            (3, Body(1), 1),
            (9, Body(1), 1),
            (10, Body(1), 1),
            (11, Body(1), 1),
        ],
        ks(1),
        vec![(1, KeepState(1), 1)],
        full,
    ]
}

/// One fresh `ipmon [-b] -f logout` run over `bytes`, fed in small pieces
/// to exercise records split across reads.
fn ipmon(bytes: &[u8], opts: IpmonOptions) -> String {
    let mut dec = IplogDecoder::new(Source::Iplog("logout".into()));
    let mut fmt = IpmonFormatter::new(opts, TimeZone::UTC);
    let mut out = Rendered::default();
    for chunk in bytes.chunks(37) {
        dec.feed(chunk);
        while let Some(ev) = dec.next_event() {
            fmt.format(&ev, &mut out);
        }
    }
    assert!(dec.finish().is_none());
    String::from_utf8(out.text).unwrap()
}

#[test]
fn l1_text_output_matches() {
    let pkts = packets();
    assert_eq!(pkts.len(), 13);
    let rules = read("l1.regress");
    let mut rules = rules.lines();
    let mut got = String::new();
    for (i, block) in blocks().iter().enumerate() {
        if i < 6 {
            got.push_str(rules.next().unwrap());
            got.push('\n');
        }
        got.push_str(&ipmon(&log_file(&pkts, block), IpmonOptions::default()));
        got.push_str("--------\n");
    }
    let want = read("l1.expected.v5.1");
    pretty_eq(&got, &want);
}

#[test]
fn l1_b_output_matches() {
    let pkts = packets();
    let opts = IpmonOptions {
        hex_body: true,
        ..IpmonOptions::default()
    };
    let mut got = String::new();
    for block in blocks() {
        got.push_str(&ipmon(&log_file(&pkts, &block), opts));
        got.push_str("--------\n");
    }
    let want = read("l1.b.expected.v5.1");
    pretty_eq(&got, &want);
}

fn pretty_eq(got: &str, want: &str) {
    if got != want {
        for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
            if g != w {
                panic!(
                    "first difference at line {}:\n got: {g:?}\nwant: {w:?}",
                    i + 1
                );
            }
        }
        panic!(
            "line counts differ: got {} want {}",
            got.lines().count(),
            want.lines().count()
        );
    }
}

/// FreeBSD's old copy of the expected file was made in a UTC+10 zone
/// without `TZ=GMT`: the same lines at `10:00:00`. Local time follows the
/// formatter's zone.
#[test]
fn l1_in_utc_plus_10_shows_ten_oclock() {
    let pkts = packets();
    let mut dec = IplogDecoder::new(Source::Iplog("logout".into()));
    let tz = TimeZone::fixed(jiff::tz::offset(10));
    let mut fmt = IpmonFormatter::new(IpmonOptions::default(), tz);
    let mut out = Rendered::default();
    dec.feed(&log_file(&pkts, &blocks()[5]));
    while let Some(ev) = dec.next_event() {
        fmt.format(&ev, &mut out);
    }
    assert_eq!(
        String::from_utf8(out.text).unwrap(),
        "missed 1 ipf log entries: 0 1\n\
         01/01/1970 10:00:00.000000 anon0 @0:1 p 1.1.1.1,1025 -> 2.2.2.2,25 PR tcp len 20 40 -S K-S IN\n"
    );
}

#[test]
fn formatter_and_decoder_are_send() {
    fn send<T: Send>() {}
    send::<IpmonFormatter>();
    send::<IplogDecoder>();
}
