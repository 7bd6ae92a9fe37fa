//! pcap decoding speed: records per second through [`PcapDecoder`] for the
//! real NFLOG capture (10 records, repeated to 10 000) and an Ethernet
//! capture, fed in 64 KiB chunks as a file reader would; and the NFLOG
//! fast path of the parallel file reader (ipmon lines from the records).
//! Run: `cargo bench -p inetmon-core --bench pcap`.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use inetmon_core::decode::nflog::NameCache;
use inetmon_core::decode::pcap::{for_each_plain_nflog_line, PcapDecoder};
use inetmon_core::decode::StreamDecoder;
use inetmon_core::event::Source;
use inetmon_core::format::ipmon::{IpmonFormatter, IpmonOptions, TimeZone};

/// The records of a pcap file repeated `n` times after its header.
fn repeated(file: &[u8], n: usize) -> Vec<u8> {
    let mut out = file[..24].to_vec();
    for _ in 0..n {
        out.extend_from_slice(&file[24..]);
    }
    out
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("pcap");
    for (name, file, per_copy) in [
        (
            "nflog",
            &include_bytes!("../tests/data/nflog-real-small.pcap")[..],
            10u64,
        ),
        (
            "ethernet",
            &include_bytes!("../tests/data/lo-ether.pcap")[..],
            6,
        ),
    ] {
        let data = repeated(file, 1000);
        g.throughput(Throughput::Elements(per_copy * 1000));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut d = PcapDecoder::new(Source::Pcap("bench.pcap".into()));
                let mut n = 0usize;
                for chunk in data.chunks(65536) {
                    d.feed(chunk);
                    while let Some(e) = d.next_event() {
                        n += black_box(e.header().seq as usize & 1);
                    }
                }
                while d.finish().is_some() {}
                n
            })
        });
    }
    // The file reader's fast path for NFLOG captures in ipmon text: lines
    // straight from the records, no events built.
    let data = repeated(include_bytes!("../tests/data/nflog-real-small.pcap"), 1000);
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("nflog_ipmon_lines", |b| {
        let mut f = IpmonFormatter::new(IpmonOptions::default(), TimeZone::UTC);
        let mut names = NameCache::new();
        let mut out = Vec::with_capacity(1 << 20);
        b.iter(|| {
            out.clear();
            for_each_plain_nflog_line(&data, 0, &mut names, |line| {
                f.format_nflog_line(line, &mut out)
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
