//! JSON formatting speed: events per second for a typical NFLOG packet event
//! (an IPv4 TCP SYN with NFLOG metadata), with and without the packet bytes,
//! and for an IPv6 one. Run: `cargo bench -p inetmon-core --bench json`.
//! The `_cpu` variants time by thread CPU time (`CLOCK_THREAD_CPUTIME_ID`),
//! which is the number to read on a loaded machine.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use inetmon_core::event::{Event, Header, NflogInfo, PacketFlags, PacketLog, Source, Timestamp};
use inetmon_core::format::json::{JsonOptions, JsonWriter};

fn packet_event(v6: bool) -> Event {
    let mut packet = if v6 {
        let mut p = vec![0x60, 0, 0, 0, 0, 40, 6, 64];
        p.extend([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p
    } else {
        vec![
            0x45, 0, 0, 60, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]
    };
    packet.extend([
        0xc0, 0x01, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0xa0, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    packet.extend([
        2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
    ]);
    let header_len = inetmon_core::dissect::ipf_header_len(&packet);
    Event::Packet(Box::new(PacketLog {
        header: Header {
            time: Timestamp {
                secs: 1_795_250_372,
                nanos: 123_456_789,
            },
            source: Source::Nflog(5),
            seq: 42,
        },
        flags: PacketFlags(PacketFlags::KEEP_STATE),
        family: if v6 { 10 } else { 2 },
        header_len,
        packet,
        nflog: Some(NflogInfo {
            group: 5,
            prefix: "blk9".into(),
            hook: Some(1),
            hw_protocol: 0x0800,
            ifindex_in: Some(2),
            mark: Some(0),
            ..NflogInfo::default()
        }),
        ..PacketLog::sample()
    }))
}

/// CPU time this thread has run (the machine running the benchmarks may be
/// shared, so wall time over-counts).
fn thread_cpu() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map_or(Duration::ZERO, Duration::from)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("json");
    g.throughput(Throughput::Elements(1));
    for (name, v6, bytes) in [
        ("packet_v4", false, true),
        ("packet_v4_no_bytes", false, false),
        ("packet_v6", true, true),
    ] {
        let e = packet_event(v6);
        let mut w = JsonWriter::with_options(JsonOptions {
            packet_bytes: bytes,
        });
        g.bench_function(name, |b| {
            b.iter(|| black_box(w.format(black_box(&e)).len()))
        });
        // The same, timed by the thread's CPU time instead of wall time.
        g.bench_function(format!("{name}_cpu"), |b| {
            b.iter_custom(|iters| {
                let start = thread_cpu();
                for _ in 0..iters {
                    black_box(w.format(black_box(&e)).len());
                }
                thread_cpu().saturating_sub(start)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
