//! Golden tests of the monitor format. The packets are the shared payloads
//! of `shared/reference/monitor-vectors.md` (generated there with scapy for
//! Cilium's `dissect_test.go`).
//!
//! Which vectors apply to our records:
//! - V5 (TCP summary, L2 and L3), V7 (ICMP/IGMP/VRRP summary) and V8 (hex
//!   dump byte for byte; 3 and 2 layer lines) apply: our drops and traces
//!   carry the same kind of captured bytes (see `summary.rs`, `hexdump.rs`,
//!   `dissect.rs`).
//! - V2 applies in shape (`Lost 7 events`); our lost events carry a stage and
//!   a source instead of a CPU.
//! - V10a/V10b apply in shape: the connection summary part of the drop and
//!   trace lines is checked on the same packets below; the Cilium header
//!   fields (flow hash, endpoint ids, identities, file:line) do not exist in
//!   our records.
//! - V1, V3, V4, V10c, V10d, V11 decode Cilium's own wire structs
//!   (DropNotify/TraceNotify/DebugMsg/PolicyVerdict, agent gob): not our
//!   record layout (ours is `decode::datapath`).
//! - V6 (overlay): Cilium's records flag VXLAN/Geneve; ours do not, so the
//!   dissector recognises the overlay by its IANA UDP destination port
//!   (4789, 6081). The vectors' packets (port 9999) summarise as their
//!   outer flow; with the port set to 4789/6081 they give V6's lines
//!   (`connection.rs`).
//! - V9 is Hubble's printer, which we do not reproduce.
//! - V12 (kernel drop-reason numbering) is checked in `btf.rs` against the
//!   running kernel.

use super::*;
use crate::event::{
    DropReason, EventKind, Header, KernelLocation, LossStage, ProcessContext, Source, StateLog,
    Timestamp,
};

pub(crate) const PKT_TCP_SYN: [u8; 54] = [
    0x02, 0x33, 0x45, 0x67, 0x89, 0xab, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0x08, 0x00, 0x45, 0x00,
    0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0x40, 0x06, 0x6a, 0xbc, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
    0x07, 0x08, 0x00, 0x50, 0x01, 0xbb, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50, 0x02,
    0x20, 0x00, 0x7d, 0xc4, 0x00, 0x00,
];

/// A shared payload of monitor-vectors.md by its id.
pub(crate) fn pkt(id: &str) -> Vec<u8> {
    let hex = match id {
        "PKT_TCP_SYN" => return PKT_TCP_SYN.to_vec(),
        "PKT_TCP_ACK" => "02 33 45 67 89 ab 01 23 45 67 89 ab 08 00 45 00 00 28 00 01 00 00 40 06 6a bc 01 02 03 04 05 06 07 08 00 50 01 bb 00 00 00 00 00 00 00 00 50 10 20 00 7d b6 00 00",
        "PKT_ICMP_UNREACH" => "02 33 45 67 89 ab 01 23 45 67 89 ab 08 00 45 00 00 1c 00 01 00 00 40 01 6a cd 01 02 03 04 05 06 07 08 03 01 fc fe 00 00 00 00",
        "PKT_VXLAN_SYN" => {
            let mut v = parse_hex("11 12 13 14 15 16 01 02 03 04 05 06 08 00 45 00 00 5a 00 01 00 00 40 11 74 8d 01 01 01 01 02 02 02 02 21 18 27 0f 00 46 09 e5 0c 00 00 03 00 00 02 00");
            v.extend_from_slice(&PKT_TCP_SYN);
            return v;
        }
        "PKT_GENEVE_ACK" => {
            let mut v = parse_hex("11 12 13 14 15 16 01 02 03 04 05 06 08 00 45 00 00 5a 00 01 00 00 40 11 74 8d 01 01 01 01 02 02 02 02 21 18 27 0f 00 46 b0 8f 00 00 65 58 00 00 02 00");
            v.extend_from_slice(&pkt("PKT_TCP_ACK"));
            return v;
        }
        "PKT_IGMP" => "01 00 5e 00 00 fb 01 02 03 04 05 06 08 00 45 00 00 1c 00 00 00 00 01 02 00 00 01 02 03 04 e0 00 00 fb 16 00 f9 05 e0 00 00 fb",
        "PKT_VRRP" => "01 00 5e 00 00 12 01 02 03 04 05 06 08 00 45 00 00 20 00 00 00 00 00 70 d6 56 01 02 03 04 e0 00 00 12 21 0a 78 01 00 01 00 00 c0 a8 01 01",
        other => panic!("unknown packet {other}"),
    };
    parse_hex(hex)
}

fn parse_hex(s: &str) -> Vec<u8> {
    s.split_ascii_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

fn header() -> Header {
    Header {
        time: Timestamp {
            secs: 1_700_000_000,
            nanos: 5,
        },
        source: Source::Datapath,
        seq: 1,
    }
}

fn drop_event() -> DropEvent {
    DropEvent {
        header: header(),
        cpu: 1,
        location: KernelLocation::resolved(0xffff_ffff_81ab_cdef, "tcp_v4_rcv+0x5a4"),
        interface: Interface::named(42, "veth-a"),
        orig_len: 54,
        layer: CaptureLayer::Ethernet,
        packet: PKT_TCP_SYN.to_vec(),
        netns: 4_026_531_840,
        ..DropEvent::sample()
    }
}

fn trace_event() -> TraceEvent {
    TraceEvent {
        header: header(),
        cpu: 0,
        point: ObservationPoint::FromNetwork,
        interface: Interface::named(7, "lxc_health"),
        protocol: 0x0800,
        orig_len: 54,
        layer: CaptureLayer::Ethernet,
        packet: pkt("PKT_TCP_ACK"),
        sample_rate: 1,
        mark: 0,
        netns: 0,
        process: None,
        sock_cookie: 0,
    }
}

fn fmt(v: Verbosity, hex: bool, e: &Event) -> String {
    MonitorFormatter::new(MonitorOptions { verbosity: v, hex }).format(e)
}

/// V10a in our shape: the drop one-liner with the same packet, and its
/// `-d` (debug) form.
#[test]
fn drop_info_and_debug_lines() {
    // No location or interface; the process known; a reason without a name.
    let mut bare = drop_event();
    bare.process = Some(ProcessContext {
        pid: 42,
        tid: 43,
        comm: "curl".into(),
    });
    bare.location = KernelLocation::default();
    bare.interface = Interface {
        ifindex: 0,
        name: None,
    };
    bare.reason = DropReason {
        code: 0x0003_0005,
        subsystem: None,
        name: None,
    };
    for (d, verbosity, want) in [
        (
            drop_event(),
            Verbosity::Info,
            "CPU 01: xx drop (NO_SOCKET) interface veth-a, location tcp_v4_rcv+0x5a4: 1.2.3.4:80 -> 5.6.7.8:443 tcp SYN\n",
        ),
        (
            bare,
            Verbosity::Info,
            "CPU 01: xx drop (subsys 3 reason 5) pid 42 (curl): 1.2.3.4:80 -> 5.6.7.8:443 tcp SYN\n",
        ),
        (
            drop_event(),
            Verbosity::Debug,
            "CPU 01: xx drop (NO_SOCKET) interface veth-a, location tcp_v4_rcv+0x5a4, 54 bytes (54 captured), code 3, protocol IPv4, netns 4026531840: 1.2.3.4:80 -> 5.6.7.8:443 tcp SYN\n",
        ),
    ] {
        assert_eq!(fmt(verbosity, false, &Event::Drop(Box::new(d))), want);
    }
}

#[test]
fn drop_verbose_with_hex() {
    let e = Event::Drop(Box::new(drop_event()));
    let expected = format!(
        "{SEPARATOR}
CPU 01: DROP: 54 bytes (54 captured), reason NO_SOCKET (3), interface veth-a (ifindex 42), location tcp_v4_rcv+0x5a4 (0xffffffff81abcdef), protocol IPv4, netns 4026531840, mark 0x0, time 1700000000.000000005
1.2.3.4:80 -> 5.6.7.8:443 tcp SYN
Ethernet\t{{SrcMAC=01:23:45:67:89:ab DstMAC=02:33:45:67:89:ab EthernetType=IPv4}}
IPv4\t{{IHL=20 TOS=0x00 Length=40 Id=1 Flags=none FragOffset=0 TTL=64 Protocol=TCP Checksum=0x6abc SrcIP=1.2.3.4 DstIP=5.6.7.8}}
TCP\t{{SrcPort=80 DstPort=443 Seq=0 Ack=0 DataOffset=5 Flags=SYN Window=8192 Checksum=0x7dc4 Urgent=0 Payload=0}}
{}",
        hex_dump(&PKT_TCP_SYN)
    );
    assert_eq!(fmt(Verbosity::Verbose, true, &e), expected);
    // Without --hex: the layers only (no Cilium drop inversion).
    let no_hex = fmt(Verbosity::Verbose, false, &e);
    assert!(no_hex.ends_with("Payload=0}\n"), "{no_hex}");
    assert_eq!(no_hex.lines().count(), 6);
}

/// V10b in our shape: a trace one-liner on PKT_TCP_ACK.
#[test]
fn trace_lines() {
    let e = Event::Trace(Box::new(trace_event()));
    assert_eq!(
        fmt(Verbosity::Info, false, &e),
        "CPU 00: <- network interface lxc_health: 1.2.3.4:80 -> 5.6.7.8:443 tcp ACK\n"
    );
    let mut t = trace_event();
    t.point = ObservationPoint::ToNetwork;
    t.sample_rate = 100;
    t.mark = 0x10;
    t.interface.name = None;
    let e = Event::Trace(Box::new(t));
    assert_eq!(
        fmt(Verbosity::Debug, false, &e),
        "CPU 00: -> network interface if7, 54 bytes (54 captured), protocol IPv4, sampled 1/100, mark 0x10: 1.2.3.4:80 -> 5.6.7.8:443 tcp ACK\n"
    );
    let v = fmt(Verbosity::Verbose, false, &e);
    let lines: Vec<&str> = v.lines().collect();
    assert_eq!(lines[0], SEPARATOR);
    assert_eq!(
        lines[1],
        "CPU 00: TRACE to-network: 54 bytes (54 captured), ifindex 7, protocol IPv4, sample 1/100, netns 0, mark 0x10, time 1700000000.000000005"
    );
    assert_eq!(lines.len(), 6);
}

/// Stack points: `<- stack` (from-stack) and `-> stack` (to-stack), the
/// device only when the stack has one, the socket's owner, the socket
/// cookie at `-v`; an overlay packet ends in its `[tunnel …]` marker.
#[test]
fn stack_trace_lines() {
    let mut t = trace_event();
    t.point = ObservationPoint::FromStack;
    t.interface = Interface::named(1, "lo");
    t.layer = CaptureLayer::Network;
    t.packet = pkt("PKT_TCP_SYN")[14..].to_vec();
    t.process = Some(ProcessContext {
        pid: 4242,
        tid: 4243,
        comm: "curl".into(),
    });
    t.sock_cookie = 77;
    t.orig_len = 40;
    t.netns = 4_026_531_840;
    let e = Event::Trace(Box::new(t.clone()));
    assert_eq!(
        fmt(Verbosity::Info, false, &e),
        "CPU 00: <- stack interface lo, pid 4242 (curl): 1.2.3.4:80 -> 5.6.7.8:443 tcp SYN\n"
    );
    assert_eq!(
        fmt(Verbosity::Debug, false, &e),
        "CPU 00: <- stack interface lo, pid 4242 (curl), socket 77, 40 bytes (40 captured), protocol IPv4, netns 4026531840: 1.2.3.4:80 -> 5.6.7.8:443 tcp SYN\n"
    );
    let v = fmt(Verbosity::Verbose, false, &e);
    assert_eq!(
        v.lines().nth(1).unwrap(),
        "CPU 00: TRACE from-stack: 40 bytes (40 captured), interface lo (ifindex 1), protocol IPv4, pid 4242 tid 4243 (curl), socket 77, sample 1/1, netns 4026531840, mark 0x0, time 1700000000.000000005"
    );
    // to-stack of a packet with no device and no known owner.
    t.point = ObservationPoint::ToStack;
    t.interface = Interface::default();
    t.process = None;
    t.layer = CaptureLayer::Ethernet;
    t.packet = pkt("PKT_VXLAN_SYN");
    t.packet[36..38].copy_from_slice(&4789u16.to_be_bytes());
    let e = Event::Trace(Box::new(t));
    assert_eq!(
        fmt(Verbosity::Info, false, &e),
        "CPU 00: -> stack: 1.2.3.4:80 -> 5.6.7.8:443 tcp SYN [tunnel 1.1.1.1:8472 -> 2.2.2.2:4789 vxlan]\n"
    );
}

/// V2 in our shape.
#[test]
fn lost_and_malformed_lines() {
    let lost = Event::Lost(Lost {
        header: Header {
            source: Source::Datapath,
            ..header()
        },
        stage: LossStage::Kernel,
        count: 7,
        kinds: vec![EventKind::Drop, EventKind::Trace],
        seq_range: Some((10, 16)),
        breakdown: vec![("ring_full", 5), ("skipped_runs", 2)],
    });
    for v in [Verbosity::Info, Verbosity::Debug, Verbosity::Verbose] {
        assert_eq!(
            fmt(v, false, &lost),
            "Lost 7 events (stage kernel, source datapath, kinds drop,trace, seq 10-16, ring_full 5, skipped_runs 2)\n"
        );
    }
    let m = Event::Malformed(Malformed {
        header: header(),
        offset: 96,
        skipped: 40,
        reason: "record truncated".into(),
    });
    assert_eq!(
        fmt(Verbosity::Info, false, &m),
        "!! malformed input from datapath at offset 96 (skipped 40 bytes): record truncated\n"
    );
}

#[test]
fn nat_state_packet_lines() {
    let nat = Event::Nat(Box::new(NatLog {
        header: header(),
        ..NatLog::sample()
    }));
    let state = Event::State(Box::new(StateLog {
        header: header(),
        ..StateLog::sample()
    }));
    let packet = Event::Packet(Box::new(PacketLog {
        header: header(),
        packet: PKT_TCP_SYN[14..].to_vec(),
        nflog: Some(crate::event::NflogInfo {
            prefix: "drop-in".into(),
            ..Default::default()
        }),
        ..PacketLog::sample()
    }));
    for (event, want) in [
        (
            &nat,
            "<> nat NEW MAP tcp 10.0.0.1:1234 -> 1.1.1.1:80 as 192.0.2.1:40000 -> 1.1.1.1:80\n",
        ),
        (
            &state,
            "<> state NEW icmp 10.0.0.1 -> 10.0.0.2, packets 1/1, bytes 84/84\n",
        ),
        (
            &packet,
            "-- packet (block) interface eth0 in, rule @0:3, prefix \"drop-in\": 1.2.3.4:80 -> 5.6.7.8:443 tcp SYN\n",
        ),
    ] {
        assert_eq!(fmt(Verbosity::Info, false, event), want);
    }
    let v = fmt(Verbosity::Verbose, false, &packet);
    assert_eq!(v.lines().count(), 3, "{v}");
    // Sock events: see sock.rs (no struct literal while SockEvent grows).
}

#[test]
fn write_event_writes_all() {
    let mut out = Vec::new();
    let f = MonitorFormatter::default();
    f.write_event(&mut out, &Event::Trace(Box::new(trace_event())))
        .unwrap();
    assert_eq!(
        out,
        f.format(&Event::Trace(Box::new(trace_event()))).as_bytes()
    );
}

#[test]
fn truncated_captures_never_panic() {
    let f = MonitorFormatter::new(MonitorOptions {
        verbosity: Verbosity::Verbose,
        hex: true,
    });
    for n in 0..=PKT_TCP_SYN.len() {
        let mut d = drop_event();
        d.packet.truncate(n);
        let s = f.format(&Event::Drop(Box::new(d)));
        assert!(s.starts_with(SEPARATOR));
    }
}
