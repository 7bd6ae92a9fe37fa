//! NFLOG decode path: one real NFLOG datagram (captured by
//! `tests/data/capture_netfilter.py`) through `nflog::packets` and
//! `to_packet_log`, and one LINKTYPE_NFLOG pcap record through
//! `packet_from_linktype_nflog` and `to_packet_log`.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use inetmon_core::decode::{netlink, nflog};
use inetmon_core::event::{Header, Source, Timestamp};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

fn header() -> Header {
    Header {
        time: Timestamp::default(),
        source: Source::Nflog(5),
        seq: 1,
    }
}

fn ifname(i: u32) -> Option<String> {
    (i == 1).then(|| "lo".to_owned())
}

fn bench(c: &mut Criterion) {
    let live = include_str!("../tests/data/nflog-live.hex");
    let datagram = unhex(live.lines().next().unwrap_or_default());
    // Baseline: walking the message and its attributes without decoding.
    c.bench_function("netlink_attr_walk", |b| {
        b.iter(|| {
            netlink::messages(black_box(&datagram))
                .flatten()
                .filter_map(|m| m.nfgenmsg().ok())
                .map(|(_, a)| netlink::attrs(a).flatten().count())
                .sum::<usize>()
        })
    });
    c.bench_function("nflog_netlink_decode", |b| {
        b.iter(|| {
            nflog::packets(black_box(&datagram))
                .filter(Result::is_ok)
                .count()
        })
    });
    c.bench_function("nflog_netlink_decode_to_packet_log", |b| {
        b.iter(|| {
            for p in nflog::packets(black_box(&datagram)).flatten() {
                black_box(nflog::to_packet_log(&p, header(), &ifname));
            }
        })
    });
    let pcap = include_bytes!("../tests/data/nflog-real-small.pcap");
    // First record: 24-byte file header, 16-byte record header, caplen at 8..12.
    let caplen = u32::from_le_bytes([pcap[32], pcap[33], pcap[34], pcap[35]]) as usize;
    let record = &pcap[40..40 + caplen];
    c.bench_function("nflog_pcap_record_decode_to_packet_log", |b| {
        b.iter(|| {
            if let Ok(p) = nflog::packet_from_linktype_nflog(black_box(record)) {
                black_box(nflog::to_packet_log(&p, header(), &ifname));
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
