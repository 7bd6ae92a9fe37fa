use super::*;
use crate::event::{
    Action, Attribution, CaptureLayer, Direction, DropEvent, DropReason, EventKind, Header,
    Initiator, Interface, KernelLocation, LossStage, Lost, Malformed, NatAction, NatLog, NatType,
    NflogInfo, ObservationPoint, PacketFlags, PacketLog, ProcessContext, ProcessInfo, RuleGroup,
    SockEvent, SockLink, SockTask, Source, StateLog, StateType, TcpSegment, Timestamp, TraceEvent,
};

fn header(source: Source, seq: u64) -> Header {
    Header {
        time: Timestamp {
            secs: 1_791_555_414,
            nanos: 123_456_789,
        },
        source,
        seq,
    }
}

fn packet() -> PacketLog {
    PacketLog {
        header: header(Source::Nflog(7), 1),
        count: 2,
        interface: "eth0".into(),
        direction: Some(Direction::In),
        group: RuleGroup::Named("grp".into()),
        rule: Some(3),
        action: Action::Block,
        flags: PacketFlags(PacketFlags::SHORT | PacketFlags::NATED),
        log_tag: 9,
        nat_tag: "tag".into(),
        reason: Some(1),
        log_level: Some(0x86),
        family: 2,
        header_len: 20,
        packet: vec![0x45, 0, 0, 20, 0xff],
        ipf_seq: Some(4),
        nflog: Some(NflogInfo {
            group: 7,
            prefix: "p".into(),
            hook: Some(1),
            hw_protocol: 0x0800,
            ifindex_in: Some(2),
            ifindex_out: None,
            mark: Some(5),
            uid: Some(0),
            gid: None,
            seq: Some(11),
            seq_global: None,
            ct_info: Some(2),
            orig_len: Some(60),
        }),
        raw_header: vec![1, 2, 3],
    }
}

fn sock() -> SockEvent {
    SockEvent {
        header: header(Source::Sockets, 3),
        op: SockOp::Disconnect,
        task: SockTask {
            pid: 1,
            tid: 2,
            uid: 3,
            gid: 4,
            comm: "a\"b\\c".into(),
        },
        attribution: Attribution::Owner,
        family: 10,
        sock_type: 1,
        protocol: 6,
        local: Some(("2001:db8::1".parse().unwrap(), 443)),
        foreign: None,
        mapped: true,
        cgroup_id: u64::MAX,
        netns: 4_026_531_840,
        cookie: 77,
        errno: 104,
        initiator: Some(Initiator::Peer),
        existing: true,
        process: Some(ProcessInfo {
            cmdline: "curl -v x".into(),
            ppid: 1,
        }),
        link: SockLink {
            fd: Some(7),
            ifindex: 3,
            segment: Some(TcpSegment {
                received: true,
                header: [1, 187, 212, 49, 0, 0, 0, 1, 0, 0, 0, 0],
                flags: 0x12,
            }),
        },
    }
}

/// One event of every kind, with the sub-enums' odd values.
fn every_kind() -> Vec<Event> {
    let ip = |s: &str| s.parse().unwrap();
    vec![
        Event::Packet(Box::new(packet())),
        Event::Packet(Box::new(PacketLog {
            header: header(Source::Iplog("/var/log/x".into()), 2),
            group: RuleGroup::None,
            direction: None,
            nflog: None,
            action: Action::NoMatch,
            packet: Vec::new(),
            ..packet()
        })),
        Event::Nat(Box::new(NatLog {
            header: header(Source::Conntrack, 4),
            action: NatAction::Other(77),
            nat_type: NatType::Rdr,
            protocol: 17,
            new_src: (ip("::1"), 3),
            new_dst: (ip("::2"), 4),
            packets: Some([1, 2]),
            conntrack_id: Some(5),
            ..NatLog::sample()
        })),
        Event::State(Box::new(StateLog {
            header: header(Source::Pcap("a b.pcap".into()), 5),
            state_type: StateType::Other(9),
            protocol: 6,
            ports: (1, 2),
            tag: 3,
            tcp_state: Some([1, 4]),
            ipf_seq: Some(1),
            ..StateLog::sample()
        })),
        Event::Sock(Box::new(sock())),
        Event::Drop(Box::new(DropEvent {
            header: header(Source::Datapath, 6),
            cpu: 1,
            reason: DropReason {
                code: 0x0002_0001,
                subsystem: Some("ovs".into()),
                name: None,
            },
            location: KernelLocation::resolved(0xffff_ffff_8100_0000, "tcp_v4_rcv+0x10"),
            interface: Interface::named(3, "veth0"),
            protocol: 0x86dd,
            orig_len: 1500,
            layer: CaptureLayer::Ethernet,
            packet: (0..=255).collect(),
            process: Some(ProcessContext {
                pid: 1,
                tid: 2,
                comm: "x".into(),
            }),
            netns: 1,
            netns_name: Some("blue".into()),
            foreign_netns: true,
            mark: 2,
        })),
        Event::Trace(Box::new(TraceEvent {
            header: header(Source::Datapath, 7),
            cpu: 0,
            point: ObservationPoint::Other(9),
            interface: Interface::default(),
            protocol: 0x0800,
            orig_len: 40,
            layer: CaptureLayer::Network,
            packet: vec![0x45; 40],
            sample_rate: 1,
            mark: 0,
            netns: 1,
            process: None,
            sock_cookie: 0,
        })),
        Event::Lost(Lost {
            header: header(Source::Pipeline, 8),
            stage: LossStage::Kernel,
            count: 5,
            kinds: vec![EventKind::Sock, EventKind::Drop],
            seq_range: Some((10, 14)),
            breakdown: vec![("connect", 3), (LOST_RING_FULL, 1), (LOST_SKIPPED_RUNS, 1)],
        }),
        Event::Malformed(Malformed {
            header: header(Source::Stdin, 9),
            offset: 100,
            skipped: 4,
            reason: "bad\nthing".into(),
        }),
    ]
}

#[test]
fn every_kind_round_trips() {
    let all = every_kind();
    let kinds: std::collections::BTreeSet<_> = all.iter().map(Event::kind).collect();
    assert_eq!(kinds.len(), 8, "one event of each kind");
    for ev in all {
        let bytes = encode(&ev);
        let back =
            decode(&bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)));
        assert_eq!(back, ev);
    }
}

#[test]
fn every_source_and_op_round_trips() {
    let sources = [
        Source::Nflog(1),
        Source::Conntrack,
        Source::Pcap("p".into()),
        Source::Iplog("i".into()),
        Source::Stdin,
        Source::Sockets,
        Source::Datapath,
        Source::Pipeline,
    ];
    for source in sources {
        for code in 1..=9 {
            let mut s = sock();
            s.header.source = source.clone();
            s.op = SockOp::from_code(code).unwrap();
            let ev = Event::Sock(Box::new(s));
            assert_eq!(decode(&encode(&ev)).unwrap(), ev);
        }
    }
}

#[test]
fn encoding_is_stable() {
    let ev = Event::Malformed(Malformed {
        header: header(Source::Nflog(3), 9),
        offset: 1,
        skipped: 2,
        reason: "r".into(),
    });
    assert_eq!(
        String::from_utf8(encode(&ev)).unwrap(),
        r#"{"malformed":{"header":{"time":{"secs":1791555414,"nanos":123456789},"source":{"nflog":3},"seq":9},"offset":1,"skipped":2,"reason":"r"}}"#
    );
}

#[test]
fn unknown_breakdown_label_reads_as_other() {
    let text = r#"{"lost":{"header":{"time":{"secs":1,"nanos":0},"source":"pipeline","seq":1},"stage":"channel","count":3,"kinds":[],"seq_range":null,"breakdown":[["future",2],["close",1]]}}"#;
    let Event::Lost(l) = decode(text.as_bytes()).unwrap() else {
        panic!("not lost");
    };
    assert_eq!(l.breakdown, vec![("other", 2), ("close", 1)]);
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for bad in [
        &b""[..],
        b"{}",
        b"{\"sock\":{}}",
        b"\xff\xfe",
        br#"{"trace":{"packet":"abc"}}"#,
    ] {
        assert!(decode(bad).is_err());
    }
}
