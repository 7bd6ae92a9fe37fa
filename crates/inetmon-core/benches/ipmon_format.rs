//! Formatting cost of one ipmon line for a TCP packet log, the hot path of
//! `inetmon read --format ipmon` and `inetmon ipmon`; and decoding plus
//! formatting of IP Filter binary log records.
//!
//! Run: `cargo bench -p inetmon-core --bench ipmon_format`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use inetmon_core::decode::iplog::{IplogDecoder, IplogEncoder};
use inetmon_core::decode::StreamDecoder;
use inetmon_core::event::{Action, Event, Header, PacketFlags, PacketLog, Source, Timestamp};
use inetmon_core::format::ipmon::{IpmonFormatter, IpmonOptions, Rendered};
use jiff::tz::TimeZone;

fn tcp_log(i: u32) -> PacketLog {
    let mut packet = vec![
        0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 192, 168, 1, 10, 10, 0, 0, 2,
    ];
    packet.extend_from_slice(&[
        0xc3, 0x50, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0x20, 0, 0, 0, 0, 0,
    ]);
    PacketLog {
        header: Header {
            time: Timestamp::from_micros(
                1_763_719_201 + i64::from(i / 1000),
                i64::from(i % 1_000_000),
            ),
            source: Source::Nflog(0),
            seq: u64::from(i),
        },
        action: Action::Pass,
        flags: PacketFlags(PacketFlags::KEEP_STATE),
        packet,
        ..PacketLog::sample()
    }
}

fn bench(c: &mut Criterion) {
    let events: Vec<Event> = (0..1024)
        .map(|i| Event::Packet(Box::new(tcp_log(i))))
        .collect();
    let mut g = c.benchmark_group("ipmon");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("format_tcp_line_x1024", |b| {
        let mut f = IpmonFormatter::new(IpmonOptions::default(), TimeZone::UTC);
        let mut out = Rendered::default();
        b.iter(|| {
            for e in &events {
                out.clear();
                f.format(black_box(e), &mut out);
                black_box(&out.text);
            }
        });
    });
    let mut bytes = Vec::new();
    let mut enc = IplogEncoder::new();
    for e in &events {
        let _ = enc.encode(e, &mut bytes);
    }
    g.bench_function("decode_and_format_iplog_x1024", |b| {
        let mut f = IpmonFormatter::new(IpmonOptions::default(), TimeZone::UTC);
        let mut out = Rendered::default();
        b.iter(|| {
            let mut d = IplogDecoder::new(Source::Iplog("bench".into()));
            d.feed(black_box(&bytes));
            out.clear();
            while let Some(e) = d.next_event() {
                f.format(&e, &mut out);
            }
            black_box(&out.text);
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
