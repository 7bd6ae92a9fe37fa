//! The packet view against `etherparse`'s lax slicing, on the headers of a
//! logged packet: the facts JSON shows and ipmon.conf matches (addresses,
//! protocol, ports, TCP flags, ICMP type/code) plus IP Filter's header
//! length, as the NFLOG mapping and the JSON formatter need them per
//! record. BENCHMARKS.md ("Packet view") records the result and why the
//! walker is our own.
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{criterion_group, criterion_main, Criterion};
use etherparse::{LaxNetSlice, LaxSlicedPacket, PacketBuilder, TransportSlice};
use inetmon_core::dissect::{ipf_header_len, HeaderFacts};

fn packets() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut p = Vec::new();
    PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(40000, 80, 1, 8192)
        .syn()
        .write(&mut p, &[0; 20])
        .unwrap_or_default();
    out.push(p);
    let mut p = Vec::new();
    PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64)
        .udp(5353, 53)
        .write(&mut p, &[0; 32])
        .unwrap_or_default();
    out.push(p);
    let mut p = Vec::new();
    PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .icmpv4_echo_request(1, 1)
        .write(&mut p, &[0; 56])
        .unwrap_or_default();
    out.push(p);
    out
}

type Facts = (
    Option<u8>,
    Option<IpAddr>,
    Option<IpAddr>,
    Option<(u16, u16)>,
    Option<u8>,
    Option<(u8, u8)>,
);

fn ours(p: &[u8]) -> (Facts, u16) {
    let f = HeaderFacts::of(p);
    let ports = f.sport.zip(f.dport);
    let icmp = f.icmp_type.zip(f.icmp_code);
    (
        (f.protocol, f.src, f.dst, ports, f.tcp_flags, icmp),
        ipf_header_len(p),
    )
}

fn theirs(p: &[u8]) -> (Facts, u16) {
    let Ok(s) = LaxSlicedPacket::from_ip(p) else {
        return ((None, None, None, None, None, None), 0);
    };
    let (proto, src, dst, hl) = match &s.net {
        Some(LaxNetSlice::Ipv4(v4)) => (
            Some(v4.payload().ip_number.0),
            Some(IpAddr::V4(v4.header().source_addr())),
            Some(IpAddr::V4(v4.header().destination_addr())),
            v4.header().slice().len(),
        ),
        Some(LaxNetSlice::Ipv6(v6)) => (
            Some(v6.payload().ip_number.0),
            Some(IpAddr::V6(v6.header().source_addr())),
            Some(IpAddr::V6(v6.header().destination_addr())),
            v6.header().slice().len() + v6.extensions().slice().len(),
        ),
        _ => (None, None, None, 0),
    };
    let (ports, flags, icmp, l4) = match &s.transport {
        Some(TransportSlice::Tcp(t)) => (
            Some((t.source_port(), t.destination_port())),
            t.slice().get(13).copied(),
            None,
            20,
        ),
        Some(TransportSlice::Udp(u)) => {
            (Some((u.source_port(), u.destination_port())), None, None, 8)
        }
        Some(TransportSlice::Icmpv4(i)) => (None, None, Some((i.type_u8(), i.code_u8())), 28),
        _ => (None, None, None, 0),
    };
    let hl = u16::try_from(hl + l4).unwrap_or(u16::MAX);
    ((proto, src, dst, ports, flags, icmp), hl)
}

fn bench(c: &mut Criterion) {
    let ps = packets();
    for p in &ps {
        assert_eq!(ours(p), theirs(p), "the two readings differ on {p:02x?}");
    }
    c.bench_function("packet_view_ours", |b| {
        b.iter(|| {
            for p in &ps {
                black_box(ours(black_box(p)));
            }
        });
    });
    c.bench_function("packet_view_etherparse_lax", |b| {
        b.iter(|| {
            for p in &ps {
                black_box(theirs(black_box(p)));
            }
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
