//! The JSON output parsed back with serde_json and compared with the values
//! of the event, built independently with `serde_json::json!`.

use std::net::IpAddr;

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::event::{
    Action, Attribution, Direction, EventKind, LossStage, NatAction, NatLog, NatType, NflogInfo,
    PacketFlags, PacketLog, RuleGroup, SockEvent, StateLog, StateType, Timestamp,
};

fn parse(w: &mut JsonWriter, e: &Event) -> Value {
    let line = w.format(e).to_vec();
    assert_eq!(line.last(), Some(&b'\n'));
    assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
    serde_json::from_slice(&line)
        .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&line)))
}

fn rfc3339(t: Timestamp) -> String {
    let j = jiff::Timestamp::new(t.secs, t.nanos as i32).unwrap();
    format!("{}.{:09}Z", j.strftime("%Y-%m-%dT%H:%M:%S"), t.nanos)
}

fn header_json(kind: &str, h: &Header) -> Value {
    json!({"v": 1, "kind": kind, "time": rfc3339(h.time), "source": h.source.to_string(), "seq": h.seq})
}

fn merge(mut a: Value, b: Value) -> Value {
    let (Value::Object(a2), Value::Object(b)) = (&mut a, b) else {
        unreachable!()
    };
    a2.extend(b);
    a
}

fn header(secs: i64, nanos: u32, source: Source, seq: u64) -> Header {
    Header {
        time: Timestamp { secs, nanos },
        source,
        seq,
    }
}

#[test]
fn lost_malformed_sock_examples() {
    let mut w = JsonWriter::new();
    let h = header(0, 0, Source::Nflog(5), 9);
    let e = Event::Lost(Lost {
        header: h.clone(),
        stage: LossStage::Channel,
        count: 12,
        kinds: vec![EventKind::Packet, EventKind::Nat],
        seq_range: Some((3, 14)),
        breakdown: Vec::new(),
    });
    assert_eq!(
        String::from_utf8(w.format(&e).to_vec()).unwrap(),
        "{\"v\":1,\"kind\":\"lost\",\"time\":\"1970-01-01T00:00:00.000000000Z\",\"source\":\"nflog:5\",\"seq\":9,\
         \"stage\":\"channel\",\"count\":12,\"kinds\":[\"packet\",\"nat\"],\"seq_range\":[3,14]}\n"
    );
    let split = Event::Lost(Lost {
        header: header(0, 0, Source::Sockets, 10),
        stage: LossStage::Kernel,
        count: 4,
        kinds: vec![EventKind::Sock],
        seq_range: None,
        breakdown: vec![("connect", 3), ("skipped_runs", 1)],
    });
    assert_eq!(
        String::from_utf8(w.format(&split).to_vec()).unwrap(),
        "{\"v\":1,\"kind\":\"lost\",\"time\":\"1970-01-01T00:00:00.000000000Z\",\"source\":\"sockets\",\"seq\":10,\
         \"stage\":\"kernel\",\"count\":4,\"kinds\":[\"sock\"],\"seq_range\":null,\
         \"breakdown\":{\"connect\":3,\"skipped_runs\":1}}\n"
    );
    let sock = SockEvent {
        header: header(5, 6, Source::Sockets, 3),
        attribution: Attribution::Owner,
        local: Some(("127.0.0.1".parse().unwrap(), 40000)),
        foreign: Some(("127.0.0.1".parse().unwrap(), 80)),
        ..SockEvent::sample()
    };
    let v = parse(&mut w, &Event::Sock(Box::new(sock.clone())));
    // The common members come first, then sock.rs's.
    let line = String::from_utf8(w.format(&Event::Sock(Box::new(sock.clone()))).to_vec()).unwrap();
    assert!(line.starts_with("{\"v\":1,\"kind\":\"sock\",\"time\":\"1970-01-01T00:00:05.000000006Z\",\"source\":\"sockets\",\"seq\":3,\"op\":"), "{line}");
    let mut members = b"{".to_vec();
    super::sock::write_sock_json(&sock, &mut members);
    members.push(b'}');
    let want = merge(
        header_json("sock", &sock.header),
        serde_json::from_slice(&members).unwrap(),
    );
    assert_eq!(v, want);
    let e = Event::Malformed(Malformed {
        header: header(1, 2, Source::Pcap("/tmp/a \"b\".pcap".into()), 1),
        offset: 7,
        skipped: 9,
        reason: "bad\nthing".into(),
    });
    let v = parse(&mut w, &e);
    assert_eq!(v["source"], "pcap:/tmp/a \"b\".pcap");
    assert_eq!(v["reason"], "bad\nthing");
}

/// A packet built by etherparse, and the values the JSON must show for it.
fn built_packet(v6: bool, l4: u8, sport: u16, dport: u16, payload: &[u8]) -> (Vec<u8>, Value) {
    let (src, dst): (IpAddr, IpAddr) = if v6 {
        ("fd00::1".parse().unwrap(), "fd00::2:0:0:3".parse().unwrap())
    } else {
        (
            "10.1.2.3".parse().unwrap(),
            "192.168.0.255".parse().unwrap(),
        )
    };
    let b = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            etherparse::PacketBuilder::ipv4(s.octets(), d.octets(), 64)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            etherparse::PacketBuilder::ipv6(s.octets(), d.octets(), 64)
        }
        _ => unreachable!(),
    };
    let mut out = Vec::new();
    let mut want = json!({"src": src.to_string(), "dst": dst.to_string(), "sport": null, "dport": null,
        "tcp_flags": null, "icmp_type": null, "icmp_code": null});
    let (proto, name) = match l4 {
        0 => {
            b.tcp(sport, dport, 1, 1000)
                .syn()
                .ack(7)
                .write(&mut out, payload)
                .unwrap();
            want["sport"] = json!(sport);
            want["dport"] = json!(dport);
            want["tcp_flags"] = json!("AS");
            (6, "tcp")
        }
        1 => {
            b.udp(sport, dport).write(&mut out, payload).unwrap();
            want["sport"] = json!(sport);
            want["dport"] = json!(dport);
            (17, "udp")
        }
        _ if v6 => {
            b.icmpv6_echo_request(sport, dport)
                .write(&mut out, payload)
                .unwrap();
            want["icmp_type"] = json!(128);
            want["icmp_code"] = json!(0);
            (58, "ipv6-icmp")
        }
        _ => {
            b.icmpv4_echo_request(sport, dport)
                .write(&mut out, payload)
                .unwrap();
            want["icmp_type"] = json!(8);
            want["icmp_code"] = json!(0);
            (1, "icmp")
        }
    };
    want["protocol"] = json!(proto);
    want["protocol_name"] = json!(name);
    want["len"] = json!(out.len());
    want["caplen"] = json!(out.len());
    (out, want)
}

prop_compose! {
    fn arb_packet()(
        v6 in any::<bool>(), l4 in 0u8..3, sport in any::<u16>(), dport in any::<u16>(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        secs in -62_167_219_200i64..253_402_207_200, nanos in 0u32..1_000_000_000, seq in any::<u64>(),
        count in 1u32..5, interface in ".{0,12}", dir in 0u8..3, group in proptest::option::of("[a-z0-9]{0,8}"),
        rule in proptest::option::of(any::<u32>()), action in 0u8..5, flags in any::<u32>(), log_tag in any::<u32>(),
        nat_tag in "\\PC{0,6}", reason in proptest::option::of(any::<u8>()), log_level in proptest::option::of(any::<u16>()),
        ipf_seq in proptest::option::of(any::<u32>()), nflog in proptest::option::of((any::<u16>(), "[\\x00-\\x7f]{0,10}", any::<Option<u32>>())),
        group_src in any::<u16>(),
    ) -> (PacketLog, Value) {
        let (packet, mut want) = built_packet(v6, l4, sport, dport, &payload);
        let direction = [None, Some(Direction::In), Some(Direction::Out)][usize::from(dir)];
        let action_v = [Action::Pass, Action::Block, Action::Log, Action::NoMatch, Action::Unknown][usize::from(action)];
        let nflog = nflog.map(|(g, prefix, mark)| NflogInfo { group: g, prefix: prefix.into(), mark, uid: mark, hook: Some(3), ..NflogInfo::default() });
        let p = PacketLog {
            header: header(secs, nanos, Source::Nflog(group_src), seq),
            count,
            interface: interface.clone().into(),
            direction,
            group: group.clone().map_or(RuleGroup::None, |g| RuleGroup::Named(g.into())),
            rule,
            action: action_v,
            flags: PacketFlags(flags),
            log_tag,
            nat_tag: nat_tag.clone(),
            reason,
            log_level,
            family: if v6 { 10 } else { 2 },
            header_len: crate::dissect::ipf_header_len(&packet),
            packet: packet.clone(),
            ipf_seq,
            nflog: nflog.clone(),
            raw_header: Vec::new(),
        };
        let names = ["short", "keep_state", "keep_frag", "log_body", "low_ttl", "oow", "bad", "nat", "bad_nat",
            "bad_src", "multicast", "broadcast", "mbcast"];
        let flag_list: Vec<&str> = names.iter().enumerate().filter(|(i, _)| flags & (1 << i) != 0).map(|(_, n)| *n).collect();
        let hexed: String = packet.iter().map(|b| format!("{b:02x}")).collect();
        let more = json!({
            "count": count, "interface": interface,
            "direction": direction.map(|d| if d == Direction::In { "in" } else { "out" }),
            "group": group, "rule": rule,
            "action": (["pass", "block", "log", "nomatch", "unknown"][usize::from(action)]),
            "flags": flag_list, "log_tag": log_tag, "nat_tag": nat_tag, "reason": reason, "log_level": log_level,
            "family": if v6 { 10 } else { 2 }, "header_len": p.header_len, "ipf_seq": ipf_seq, "packet": hexed,
            "nflog": nflog.map(|n| json!({"group": n.group, "prefix": n.prefix, "hook": 3, "hw_protocol": 0,
                "ifindex_in": null, "ifindex_out": null, "mark": n.mark, "uid": n.uid, "gid": null, "seq": null,
                "seq_global": null, "ct_info": null, "orig_len": null})),
        });
        want = merge(merge(header_json("packet", &p.header), want), more);
        (p, want)
    }
}

proptest! {
    #[test]
    fn packets_round_trip(cases in proptest::collection::vec(arb_packet(), 1..6)) {
        // One writer for several events exercises the time cache.
        let mut w = JsonWriter::new();
        for (p, want) in cases {
            let got = parse(&mut w, &Event::Packet(Box::new(p)));
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn any_bytes_give_valid_json(packet in proptest::collection::vec(any::<u8>(), 0..80), first in 0u8..16) {
        let mut packet = packet;
        if let Some(b) = packet.first_mut() {
            *b = (*b & 0x0f) | (first << 4);
        }
        let (mut p, _) = built_packet(false, 0, 1, 2, &[]);
        let mut pl = PacketLog {
            header: header(0, 0, Source::Stdin, 1), count: 1, interface: "x".into(), direction: None,
            group: RuleGroup::None, rule: None, action: Action::Log, flags: PacketFlags(0), log_tag: 0,
            nat_tag: String::new(), reason: None, log_level: None, family: 0, header_len: 0, packet: Vec::new(),
            ipf_seq: None, nflog: None, raw_header: Vec::new(),
        };
        std::mem::swap(&mut p, &mut pl.packet);
        pl.packet = packet;
        let v = parse(&mut JsonWriter::new(), &Event::Packet(Box::new(pl)));
        prop_assert!(v.is_object());
    }

    #[test]
    fn nat_and_state_round_trip(
        secs in any::<u32>(), seq in any::<u64>(), rule in any::<u32>(), protocol in any::<u8>(),
        ports in any::<[u16; 4]>(), a in any::<[u8; 4]>(), b in any::<[u8; 16]>(),
        packets in proptest::option::of(any::<[u64; 2]>()), id in proptest::option::of(any::<u32>()),
        action in 0u32..8, tag in any::<u32>(), st in proptest::option::of(any::<[u8; 2]>()), c4 in any::<[u64; 4]>(),
    ) {
        let h = header(i64::from(secs), 0, Source::Conntrack, seq);
        let v4 = IpAddr::from(a);
        let v6 = IpAddr::from(b);
        let (na, na_s) = [(NatAction::New, "new".to_string()), (NatAction::Clone, "clone".into()),
            (NatAction::Purge, "purge".into()), (NatAction::Destroy, "destroy".into()),
            (NatAction::Flush, "flush".into()), (NatAction::Expire, "expire".into()),
            (NatAction::Other(action), format!("other:{action}")), (NatAction::Other(99), "other:99".into())]
            [action as usize].clone();
        let n = NatLog {
            header: h.clone(), action: na, nat_type: NatType::Bimap, rule, protocol,
            orig_src: (v4, ports[0]), orig_dst: (v6, ports[1]), new_src: (v4, ports[2]), new_dst: (v6, ports[3]),
            packets, bytes: None, conntrack_id: id, ipf_seq: Some(rule),
        };
        let name = crate::dissect::proto::json_name(protocol);
        let want = merge(header_json("nat", &h), json!({
            "nat_action": na_s, "nat_type": "bimap", "rule": rule, "protocol": protocol, "protocol_name": name,
            "orig_src": v4.to_string(), "orig_sport": ports[0], "orig_dst": v6.to_string(), "orig_dport": ports[1],
            "new_src": v4.to_string(), "new_sport": ports[2], "new_dst": v6.to_string(), "new_dport": ports[3],
            "packets": packets, "bytes": null, "conntrack_id": id, "ipf_seq": rule,
        }));
        let mut w = JsonWriter::new();
        prop_assert_eq!(parse(&mut w, &Event::Nat(Box::new(n))), want);
        let s = StateLog {
            header: h.clone(), state_type: StateType::Other(tag), protocol, ip_version: 6, src: v6, dst: v6,
            ports: (ports[0], ports[1]), tag, tcp_state: st, packets: c4, bytes: c4, conntrack_id: id, ipf_seq: None,
        };
        let tu = protocol == 6 || protocol == 17;
        let icmp = protocol == 1 || protocol == 58;
        let want = merge(header_json("state", &h), json!({
            "state_type": format!("other:{tag}"), "protocol": protocol, "protocol_name": name, "ip_version": 6,
            "src": v6.to_string(), "dst": v6.to_string(),
            "sport": tu.then_some(ports[0]), "dport": tu.then_some(ports[1]), "icmp_type": icmp.then_some(ports[0]),
            "tag": tag, "tcp_state": st, "packets": c4, "bytes": c4, "conntrack_id": id, "ipf_seq": null,
        }));
        prop_assert_eq!(parse(&mut w, &Event::State(Box::new(s))), want);
    }
}

#[test]
fn packet_bytes_can_be_left_out() {
    let (packet, _) = built_packet(true, 1, 53, 5353, b"x");
    let p = PacketLog {
        header: header(0, 0, Source::Stdin, 1),
        interface: "lo".into(),
        direction: None,
        rule: Some(1),
        flags: PacketFlags(PacketFlags::SHORT | PacketFlags::MBCAST),
        family: 10,
        header_len: 48,
        packet,
        ..PacketLog::sample()
    };
    let e = Event::Packet(Box::new(p));
    let v = parse(
        &mut JsonWriter::with_options(JsonOptions {
            packet_bytes: false,
        }),
        &e,
    );
    assert!(v.get("packet").is_none());
    assert_eq!(v["flags"], json!(["short", "mbcast"]));
    assert_eq!(v["group"], "0");
    assert!(parse(&mut JsonWriter::new(), &e).get("packet").is_some());
}

/// Every event of the real captures in `tests/data` (see `make-pcaps.sh`)
/// gives a line that parses, and the addresses and ports agree with
/// etherparse's reading of the same packet.
#[test]
fn real_captures_through_the_pcap_decoder() {
    use crate::decode::pcap::PcapDecoder;
    use crate::decode::StreamDecoder;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let mut w = JsonWriter::new();
    let mut seen = 0;
    for name in [
        "nflog-real-small.pcap",
        "nflog7.pcapng",
        "any-sll2.pcap",
        "lo-tshark.pcapng",
    ] {
        let bytes = std::fs::read(format!("{dir}/{name}")).unwrap();
        let mut d = PcapDecoder::new(Source::Pcap(name.into()));
        d.feed(&bytes);
        let mut events = Vec::new();
        while let Some(e) = d.next_event().or_else(|| d.finish()) {
            events.push(e);
        }
        for e in &events {
            let v = parse(&mut w, e);
            let Event::Packet(p) = e else {
                panic!("{name}: {v}")
            };
            seen += 1;
            assert_eq!(v["source"], format!("pcap:{name}"));
            let hexed: String = p.packet.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(v["packet"], hexed);
            let ip = etherparse::SlicedPacket::from_ip(&p.packet).unwrap();
            let (src, dst): (IpAddr, IpAddr) = match ip.net.unwrap() {
                etherparse::NetSlice::Ipv4(h) => (
                    h.header().source_addr().into(),
                    h.header().destination_addr().into(),
                ),
                etherparse::NetSlice::Ipv6(h) => (
                    h.header().source_addr().into(),
                    h.header().destination_addr().into(),
                ),
                etherparse::NetSlice::Arp(_) => unreachable!(),
            };
            assert_eq!(
                (v["src"].as_str().unwrap(), v["dst"].as_str().unwrap()),
                (&*src.to_string(), &*dst.to_string())
            );
            match ip.transport {
                Some(etherparse::TransportSlice::Tcp(t)) => {
                    assert_eq!(
                        (v["sport"].as_u64(), v["dport"].as_u64()),
                        (
                            Some(t.source_port().into()),
                            Some(t.destination_port().into())
                        )
                    );
                }
                Some(etherparse::TransportSlice::Udp(u)) => {
                    assert_eq!(
                        (v["sport"].as_u64(), v["dport"].as_u64()),
                        (
                            Some(u.source_port().into()),
                            Some(u.destination_port().into())
                        )
                    );
                }
                Some(etherparse::TransportSlice::Icmpv4(i)) => {
                    assert_eq!(v["icmp_type"].as_u64(), Some(i.type_u8().into()))
                }
                Some(etherparse::TransportSlice::Icmpv6(i)) => {
                    assert_eq!(v["icmp_type"].as_u64(), Some(i.type_u8().into()))
                }
                _ => {}
            }
        }
    }
    assert!(seen >= 25, "{seen}");
}

#[test]
fn trace_events_get_the_common_members() {
    use crate::event::{CaptureLayer, Interface, ObservationPoint, TraceEvent};
    let t = TraceEvent {
        header: header(1, 0, Source::Datapath, 8),
        cpu: 1,
        point: ObservationPoint::ToNetwork,
        interface: Interface {
            ifindex: 5,
            name: Some("veth0".into()),
        },
        protocol: 0x0800,
        orig_len: 0,
        layer: CaptureLayer::None,
        packet: Vec::new(),
        sample_rate: 1,
        mark: 0,
        netns: 0,
        process: None,
        sock_cookie: 0,
    };
    let v = parse(&mut JsonWriter::new(), &Event::Trace(Box::new(t)));
    assert_eq!(
        (v["v"].as_u64(), v["kind"].as_str(), v["source"].as_str()),
        (Some(1), Some("trace"), Some("datapath"))
    );
    assert_eq!(v["seq"], 8);
    assert_eq!(v["ifname"], "veth0");
}
