use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;
use crate::event::{Action, EventKind, LossStage, PacketFlags};

fn src() -> Source {
    Source::Iplog("test".into())
}

fn hdr(secs: i64, micros: i64) -> Header {
    Header {
        time: Timestamp::from_micros(secs, micros),
        source: src(),
        seq: 1,
    }
}

fn sample_packet() -> PacketLog {
    let mut pkt = vec![
        0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    pkt.extend_from_slice(&[
        0x04, 0x01, 0, 25, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x12, 0x20, 0, 0, 0, 0, 0,
    ]);
    pkt.extend_from_slice(b"body");
    PacketLog {
        header: hdr(1_700_000_000, 123_456),
        count: 1,
        interface: "eth0".into(),
        direction: Some(Direction::In),
        group: RuleGroup::Named("100".into()),
        rule: Some(3),
        action: Action::Block,
        flags: PacketFlags(PacketFlags::KEEP_STATE | PacketFlags::LOG_BODY | PacketFlags::OOW),
        log_tag: 7,
        nat_tag: "tag1".into(),
        reason: Some(2),
        log_level: Some(0x84),
        family: 2,
        header_len: 40,
        packet: pkt,
        ipf_seq: Some(5),
        nflog: None,
        raw_header: Vec::new(),
    }
}

fn sample_nat() -> NatLog {
    NatLog {
        header: hdr(1_700_000_001, 1),
        action: NatAction::Expire,
        nat_type: NatType::Map,
        rule: 1,
        protocol: 6,
        orig_src: (IpAddr::V4(Ipv4Addr::new(10, 1, 1, 1)), 1025),
        orig_dst: (IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)), 25),
        new_src: (IpAddr::V4(Ipv4Addr::new(203, 0, 113, 5)), 40000),
        new_dst: (IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)), 25),
        packets: Some([10, 8]),
        bytes: Some([1200, 900]),
        conntrack_id: None,
        ipf_seq: Some(1),
    }
}

fn sample_state() -> StateLog {
    StateLog {
        header: hdr(1_700_000_002, 999_999),
        state_type: StateType::Expire,
        protocol: 58,
        ip_version: 6,
        src: IpAddr::V6("2001:db8::1".parse().unwrap()),
        dst: IpAddr::V6("::1.2.3.4".parse().unwrap()),
        ports: (128, 0),
        tag: 9,
        tcp_state: Some([4, 5]),
        packets: [1, 2, 3, 4],
        bytes: [5, 6, 7, 8],
        conntrack_id: None,
        ipf_seq: Some(77),
    }
}

fn samples() -> Vec<Event> {
    vec![
        Event::Packet(Box::new(sample_packet())),
        Event::Nat(Box::new(sample_nat())),
        Event::State(Box::new(sample_state())),
    ]
}

fn seq_of(e: &Event) -> u32 {
    match e {
        Event::Packet(p) => p.ipf_seq.unwrap_or(0),
        Event::Nat(n) => n.ipf_seq.unwrap_or(0),
        Event::State(s) => s.ipf_seq.unwrap_or(0),
        _ => 0,
    }
}

/// The decoder fills `raw_header` from the record; clear it to compare.
fn normalise(mut e: Event) -> Event {
    if let Event::Packet(p) = &mut e {
        assert_eq!(p.raw_header.len(), 128);
        p.raw_header.clear();
    }
    e
}

#[test]
fn samples_round_trip() {
    for e in samples() {
        let mut bytes = Vec::new();
        let n = encode(&e, seq_of(&e), &mut bytes).unwrap();
        assert_eq!(n, bytes.len());
        let (back, size) = decode_record(&bytes, &src(), 1).unwrap();
        assert_eq!(size, bytes.len());
        assert_eq!(normalise(back), e);
    }
}

#[test]
fn record_sizes_follow_layout() {
    let mut b = Vec::new();
    for e in samples() {
        b.clear();
        encode(&e, 1, &mut b).unwrap();
        let want = match e {
            Event::Packet(ref p) => 128 + p.packet.len(),
            Event::Nat(_) => 208,
            _ => 184,
        };
        assert_eq!(b.len(), want);
        assert_eq!(record_size(&b), Ok(want));
    }
}

#[test]
fn nat_and_state_offsets_match_reference() {
    // Hand-built records at the §4.2 offsets.
    let mut r = vec![0u8; 208];
    r[0..4].copy_from_slice(b"NLPI");
    r[4..8].copy_from_slice(&1u32.to_le_bytes());
    r[8..12].copy_from_slice(&3u32.to_le_bytes());
    r[32..40].copy_from_slice(&208u64.to_le_bytes());
    let n = 48;
    r[n..n + 4].copy_from_slice(&[1, 1, 1, 1]);
    r[n + 16..n + 20].copy_from_slice(&[2, 2, 2, 2]);
    r[n + 32..n + 36].copy_from_slice(&[3, 3, 3, 3]);
    r[n + 48..n + 52].copy_from_slice(&[4, 4, 4, 4]);
    r[n + 64..n + 66].copy_from_slice(&1025u16.to_be_bytes());
    r[n + 66..n + 68].copy_from_slice(&25u16.to_be_bytes());
    r[n + 68..n + 70].copy_from_slice(&40000u16.to_be_bytes());
    r[n + 70..n + 72].copy_from_slice(&26u16.to_be_bytes());
    r[n + 72..n + 76].copy_from_slice(&0xfffeu32.to_le_bytes());
    r[n + 76..n + 80].copy_from_slice(&2u32.to_le_bytes());
    r[n + 80..n + 84].copy_from_slice(&(-1i32).to_le_bytes());
    r[n + 88..n + 96].copy_from_slice(&11u64.to_le_bytes());
    r[n + 96..n + 104].copy_from_slice(&12u64.to_le_bytes());
    r[n + 104..n + 112].copy_from_slice(&13u64.to_le_bytes());
    r[n + 112..n + 120].copy_from_slice(&14u64.to_le_bytes());
    r[n + 120] = 17;
    r[n + 122] = 4;
    let (e, _) = decode_record(&r, &src(), 1).unwrap();
    let Event::Nat(nl) = e else { panic!("not NAT") };
    assert_eq!(nl.action, NatAction::Flush);
    assert_eq!(nl.nat_type, NatType::Rdr);
    assert_eq!(nl.rule, 0);
    assert_eq!(nl.protocol, 17);
    assert_eq!(nl.orig_src, (IpAddr::V4(Ipv4Addr::new(1, 1, 1, 1)), 1025));
    assert_eq!(nl.orig_dst, (IpAddr::V4(Ipv4Addr::new(2, 2, 2, 2)), 25));
    assert_eq!(nl.new_src, (IpAddr::V4(Ipv4Addr::new(3, 3, 3, 3)), 40000));
    assert_eq!(nl.new_dst, (IpAddr::V4(Ipv4Addr::new(4, 4, 4, 4)), 26));
    assert_eq!(nl.packets, Some([11, 12]));
    assert_eq!(nl.bytes, Some([13, 14]));
    assert_eq!(nl.ipf_seq, Some(3));

    let mut r = vec![0u8; 184];
    r[0..4].copy_from_slice(b"SLPI");
    r[32..40].copy_from_slice(&184u64.to_le_bytes());
    let s = 48;
    for i in 0..4 {
        r[s + 8 * i..s + 8 * i + 8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
        r[s + 32 + 8 * i..s + 40 + 8 * i].copy_from_slice(&(i as u64 + 10).to_le_bytes());
    }
    r[s + 64..s + 68].copy_from_slice(&[9, 9, 9, 9]);
    r[s + 80..s + 84].copy_from_slice(&[8, 8, 8, 8]);
    r[s + 96..s + 100].copy_from_slice(&5u32.to_le_bytes());
    r[s + 100..s + 102].copy_from_slice(&0xfffdu16.to_le_bytes());
    r[s + 102..s + 104].copy_from_slice(&80u16.to_be_bytes());
    r[s + 104..s + 106].copy_from_slice(&8080u16.to_be_bytes());
    r[s + 106] = 4;
    r[s + 107] = 6;
    r[s + 109] = 2;
    r[s + 110] = 6;
    let (e, _) = decode_record(&r, &src(), 1).unwrap();
    let Event::State(sl) = e else {
        panic!("not state")
    };
    assert_eq!(sl.state_type, StateType::Remove);
    assert_eq!(sl.packets, [1, 2, 3, 4]);
    assert_eq!(sl.bytes, [10, 11, 12, 13]);
    assert_eq!(sl.src, IpAddr::V4(Ipv4Addr::new(9, 9, 9, 9)));
    assert_eq!(sl.dst, IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)));
    assert_eq!(sl.tag, 5);
    assert_eq!(sl.ports, (80, 8080));
    assert_eq!(sl.ip_version, 4);
    assert_eq!(sl.protocol, 6);
    assert_eq!(sl.tcp_state, Some([2, 6]));
}

#[test]
fn every_truncation_is_a_len_error_and_a_malformed_event() {
    for e in samples() {
        let mut bytes = Vec::new();
        encode(&e, 1, &mut bytes).unwrap();
        for cut in 0..bytes.len() {
            let part = &bytes[..cut];
            match decode_record(part, &src(), 1) {
                Err(IplogError::Len { needed, got, .. }) => {
                    assert_eq!(got, cut as u64);
                    assert!(needed > got);
                }
                other => panic!("cut {cut}: {other:?}"),
            }
            let mut d = IplogDecoder::new(src());
            d.feed(part);
            assert_eq!(d.next_event(), None, "cut {cut}");
            match d.finish() {
                None => assert_eq!(cut, 0),
                Some(Event::Malformed(m)) => {
                    assert_eq!(m.offset, 0);
                    assert_eq!(m.skipped, cut as u64);
                }
                Some(other) => panic!("cut {cut}: {other:?}"),
            }
            assert_eq!(d.finish(), None);
        }
    }
}

/// `feed_with` in pieces of any size gives the events `feed` gives; a
/// failing `fill` appends nothing.
#[test]
fn feed_with_is_feed() {
    let mut bytes = Vec::new();
    let mut enc = IplogEncoder::new();
    for e in samples() {
        enc.encode(&e, &mut bytes).unwrap();
    }
    bytes.extend_from_slice(&[0xee; 37]);
    let mut d = IplogDecoder::new(src());
    d.feed(&bytes);
    let want: Vec<Event> = std::iter::from_fn(|| d.next_event().or_else(|| d.finish())).collect();
    for max in [1, 5, 64, 1 << 16] {
        let mut d = IplogDecoder::new(src());
        let mut rest = &bytes[..];
        let mut got = Vec::new();
        loop {
            assert!(d
                .feed_with(max, &mut |_| Err(std::io::ErrorKind::Other.into()))
                .is_err());
            let n = d
                .feed_with(max, &mut |b| std::io::Read::read(&mut rest, b))
                .unwrap();
            got.extend(std::iter::from_fn(|| d.next_event()));
            if n == 0 {
                break;
            }
        }
        got.extend(std::iter::from_fn(|| d.finish()));
        assert_eq!(got, want, "pieces of {max}");
    }
}

#[test]
fn split_feeds_give_the_same_events() {
    let mut bytes = Vec::new();
    let mut enc = IplogEncoder::new();
    for e in samples() {
        enc.encode(&e, &mut bytes).unwrap();
    }
    let mut d = IplogDecoder::new(src());
    let mut got = Vec::new();
    for b in &bytes {
        d.feed(std::slice::from_ref(b));
        while let Some(e) = d.next_event() {
            got.push(e);
        }
    }
    assert_eq!(d.finish(), None);
    assert_eq!(got.len(), 3);
    for (i, (g, want)) in got.into_iter().zip(samples()).enumerate() {
        assert_eq!(g.header().seq, i as u64 + 1);
        let mut g = normalise(g);
        // Headers are stamped by the decoder.
        if let (Event::Packet(a), Event::Packet(_)) = (&mut g, &want) {
            a.header.seq = 1;
        }
        if let (Event::Nat(a), Event::Nat(_)) = (&mut g, &want) {
            a.header.seq = 1;
        }
        if let (Event::State(a), Event::State(_)) = (&mut g, &want) {
            a.header.seq = 1;
        }
        assert_eq!(g, want);
    }
}

#[test]
fn resynchronises_after_garbage_and_bad_sizes() {
    let mut rec = Vec::new();
    encode(&samples()[1], 1, &mut rec).unwrap();
    let mut zero_size = rec.clone();
    zero_size[32..40].copy_from_slice(&0u64.to_le_bytes());
    let mut huge = rec.clone();
    huge[32..40].copy_from_slice(&u64::MAX.to_le_bytes());

    let mut stream = b"garbage!".to_vec(); // 0..8
    stream.extend(&rec); // 8..216
    stream.extend(&zero_size); // 216..424 (bad)
    stream.extend(&rec); // 424..632
    stream.extend(&huge); // bad to the end
    let mut d = IplogDecoder::new(src());
    d.feed(&stream);
    let mut kinds = Vec::new();
    while let Some(e) = d.next_event() {
        if let Event::Malformed(m) = &e {
            kinds.push(format!("bad {} +{}", m.offset, m.skipped));
        } else {
            kinds.push(e.kind().to_string());
        }
    }
    if let Some(Event::Malformed(m)) = d.finish() {
        kinds.push(format!(
            "bad {} +{} {}",
            m.offset,
            m.skipped,
            m.reason.contains("above")
        ));
    }
    assert_eq!(
        kinds,
        [
            "bad 0 +8",
            "nat",
            "bad 216 +208",
            "nat",
            "bad 632 +208 true"
        ]
    );
}

#[test]
fn encoder_numbers_units_and_refuses_other_events() {
    let mut enc = IplogEncoder::new();
    let mut p = sample_packet();
    p.ipf_seq = None;
    p.count = 3;
    let mut out = Vec::new();
    enc.encode(&Event::Packet(Box::new(p.clone())), &mut out)
        .unwrap();
    enc.encode(&Event::Packet(Box::new(p)), &mut out).unwrap();
    let mut d = IplogDecoder::new(src());
    d.feed(&out);
    let seqs: Vec<_> = std::iter::from_fn(|| d.next_event())
        .map(|e| match e {
            Event::Packet(p) => p.ipf_seq,
            _ => None,
        })
        .collect();
    assert_eq!(seqs, [Some(1), Some(4)]);
    let lost = Event::Lost(crate::event::Lost {
        header: hdr(0, 0),
        stage: crate::event::LossStage::Kernel,
        count: 1,
        kinds: vec![],
        seq_range: None,
        breakdown: Vec::new(),
    });
    assert_eq!(
        encode(&lost, 1, &mut out),
        Err(EncodeError::Unsupported {
            kind: crate::event::EventKind::Lost
        })
    );
}

fn name(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-z0-9]{{1,{max}}}")).unwrap()
}

fn v4v6(v4: bool) -> BoxedStrategy<IpAddr> {
    if v4 {
        any::<[u8; 4]>()
            .prop_map(|a| IpAddr::V4(Ipv4Addr::from(a)))
            .boxed()
    } else {
        any::<[u8; 16]>()
            .prop_map(|a| IpAddr::V6(Ipv6Addr::from(a)))
            .boxed()
    }
}

fn time() -> impl Strategy<Value = Timestamp> {
    (any::<i32>(), 0i64..1_000_000).prop_map(|(s, us)| Timestamp::from_micros(i64::from(s), us))
}

fn packet_strategy() -> impl Strategy<Value = Event> {
    (
        (
            time(),
            any::<u32>(),
            name(16),
            prop_oneof![
                Just(None),
                Just(Some(Direction::In)),
                Just(Some(Direction::Out))
            ],
        ),
        (
            prop_oneof![
                Just(RuleGroup::None),
                name(15).prop_map(|g| RuleGroup::Named(g.into()))
            ],
            prop_oneof![Just(None), (1u32..).prop_map(Some)],
            prop_oneof![
                Just(Action::Pass),
                Just(Action::Block),
                Just(Action::Log),
                Just(Action::NoMatch),
                Just(Action::Unknown)
            ],
            0u32..(1 << 13),
        ),
        (
            any::<u32>(),
            proptest::option::of(name(16)),
            proptest::option::of(1u8..),
            proptest::option::of(0u16..0xffff),
            any::<u8>(),
        ),
        (
            0u16..256,
            proptest::collection::vec(any::<u8>(), 0..300),
            any::<u32>(),
        ),
    )
        .prop_map(
            |((time, count, iface, direction), (group, rule, action, flags), tags, pkt)| {
                let (log_tag, nat_tag, reason, log_level, family) = tags;
                let (header_len, packet, seq) = pkt;
                Event::Packet(Box::new(PacketLog {
                    header: Header {
                        time,
                        source: src(),
                        seq: 1,
                    },
                    count,
                    interface: iface.into(),
                    direction,
                    group,
                    rule,
                    action,
                    flags: PacketFlags(flags),
                    log_tag,
                    nat_tag: nat_tag.unwrap_or_default(),
                    reason,
                    log_level,
                    family,
                    header_len,
                    packet,
                    ipf_seq: Some(seq),
                    nflog: None,
                    raw_header: Vec::new(),
                }))
            },
        )
}

fn nat_strategy() -> impl Strategy<Value = Event> {
    any::<bool>().prop_flat_map(|v4| {
        (
            (time(), any::<u32>(), any::<u8>(), any::<u32>()),
            (
                prop_oneof![
                    Just(NatAction::New),
                    Just(NatAction::Clone),
                    Just(NatAction::Purge),
                    Just(NatAction::Destroy),
                    Just(NatAction::Flush),
                    Just(NatAction::Expire),
                    (2u32..0xfffc).prop_map(NatAction::Other)
                ],
                prop_oneof![
                    Just(NatType::Map),
                    Just(NatType::Rdr),
                    Just(NatType::Bimap),
                    Just(NatType::MapBlock),
                    (5u32..).prop_map(NatType::Other)
                ],
            ),
            proptest::collection::vec((v4v6(v4), any::<u16>()), 4),
            (any::<[u64; 2]>(), any::<[u64; 2]>()),
        )
            .prop_map(
                |((time, rule, protocol, seq), (action, nat_type), eps, (pk, by))| {
                    Event::Nat(Box::new(NatLog {
                        header: Header {
                            time,
                            source: src(),
                            seq: 1,
                        },
                        action,
                        nat_type,
                        rule,
                        protocol,
                        orig_src: eps[0],
                        orig_dst: eps[1],
                        new_src: eps[2],
                        new_dst: eps[3],
                        packets: Some(pk),
                        bytes: Some(by),
                        conntrack_id: None,
                        ipf_seq: Some(seq),
                    }))
                },
            )
    })
}

fn state_strategy() -> impl Strategy<Value = Event> {
    any::<bool>().prop_flat_map(|v4| {
        (
            (time(), any::<u8>(), v4v6(v4), v4v6(v4), any::<(u16, u16)>()),
            (
                prop_oneof![
                    Just(StateType::New),
                    Just(StateType::Cloned),
                    Just(StateType::Expire),
                    Just(StateType::Flush),
                    Just(StateType::Intermediate),
                    Just(StateType::Remove),
                    Just(StateType::Killed),
                    Just(StateType::Unload),
                    (2u32..0xfff9).prop_map(StateType::Other)
                ],
                any::<u32>(),
                any::<[u8; 2]>(),
                any::<[u64; 4]>(),
                any::<[u64; 4]>(),
                any::<u32>(),
            ),
        )
            .prop_map(
                move |((time, protocol, s, d, ports), (state_type, tag, st, pk, by, seq))| {
                    Event::State(Box::new(StateLog {
                        header: Header {
                            time,
                            source: src(),
                            seq: 1,
                        },
                        state_type,
                        protocol,
                        ip_version: if v4 { 4 } else { 6 },
                        src: s,
                        dst: d,
                        ports,
                        tag,
                        tcp_state: Some(st),
                        packets: pk,
                        bytes: by,
                        conntrack_id: None,
                        ipf_seq: Some(seq),
                    }))
                },
            )
    })
}

proptest! {
    #[test]
    fn round_trip(e in prop_oneof![packet_strategy(), nat_strategy(), state_strategy()]) {
        let mut bytes = Vec::new();
        encode(&e, seq_of(&e), &mut bytes).unwrap();
        let mut d = IplogDecoder::new(src());
        d.feed(&bytes);
        let back = d.next_event().unwrap();
        prop_assert_eq!(d.next_event(), None);
        prop_assert_eq!(d.finish(), None);
        prop_assert_eq!(normalise(back), e);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), split in 0usize..600) {
        let mut d = IplogDecoder::new(src());
        let (a, b) = bytes.split_at(split.min(bytes.len()));
        let mut total = 0u64;
        for part in [a, b] {
            d.feed(part);
            while let Some(e) = d.next_event() {
                if let Event::Malformed(m) = &e { total += m.skipped; }
            }
        }
        if let Some(Event::Malformed(m)) = d.finish() { total += m.skipped; }
        prop_assert!(total <= bytes.len() as u64);
    }

    #[test]
    fn corrupted_records_never_panic(e in prop_oneof![packet_strategy(), nat_strategy(), state_strategy()],
                                     flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = Vec::new();
        encode(&e, 1, &mut bytes).unwrap();
        let len = bytes.len();
        for (at, v) in flips { bytes[at % len] = v; }
        let mut d = IplogDecoder::new(src());
        d.feed(&bytes);
        let mut f = crate::format::ipmon::IpmonFormatter::new(
            crate::format::ipmon::IpmonOptions { verbose: true, hex_packet: true, hex_header: true, ..Default::default() },
            jiff::tz::TimeZone::UTC,
        );
        let mut out = crate::format::ipmon::Rendered::default();
        while let Some(e) = d.next_event() { f.format(&e, &mut out); }
        let _ = d.finish();
    }
}

#[test]
fn raw_headers_can_be_left_out() {
    let mut bytes = Vec::new();
    encode(&samples()[0], 5, &mut bytes).unwrap();
    let mut d = IplogDecoder::new(src()).without_raw_headers();
    d.feed(&bytes);
    let Some(Event::Packet(p)) = d.next_event() else {
        panic!("no packet")
    };
    assert!(p.raw_header.is_empty());
    let mut d = IplogDecoder::new(src());
    d.feed(&bytes);
    let Some(Event::Packet(p)) = d.next_event() else {
        panic!("no packet")
    };
    assert_eq!(p.raw_header, bytes[..128]);
}

/// Records of `samples()[k]` with the given sequence numbers (and `count`
/// for packets), back to back.
fn numbered(k: usize, seqs: &[(u32, u32)]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for &(seq, count) in seqs {
        let mut e = samples()[k].clone();
        if let Event::Packet(p) = &mut e {
            p.count = count;
        }
        encode(&e, seq, &mut bytes).unwrap();
    }
    bytes
}

fn all_events(bytes: &[u8]) -> Vec<Event> {
    let mut d = IplogDecoder::new(src());
    d.feed(bytes);
    let mut v: Vec<Event> = std::iter::from_fn(|| d.next_event()).collect();
    v.extend(std::iter::from_fn(|| d.finish()));
    v
}

/// Issue 10 item 8: a gap in a unit's sequence numbers is a `Lost` event
/// (so JSON and the summary see it), placed before the record after the
/// gap; the first record of a unit and a backwards jump are not loss.
#[test]
fn sequence_gaps_are_lost_events() {
    for (k, kind) in [
        (0, EventKind::Packet),
        (1, EventKind::Nat),
        (2, EventKind::State),
    ] {
        let count = if k == 0 { 2 } else { 1 };
        let ev = all_events(&numbered(
            k,
            &[(5, count), (50, 1), (51, 1), (3, 1), (4, 1)],
        ));
        let first_missing = 5 + u64::from(count);
        let kinds: Vec<String> = ev.iter().map(|e| e.kind().to_string()).collect();
        assert_eq!(
            kinds.iter().filter(|k| *k == "lost").count(),
            1,
            "{kinds:?}"
        );
        assert_eq!(kinds[1], "lost", "{kinds:?}");
        let Event::Lost(l) = &ev[1] else {
            unreachable!()
        };
        assert_eq!(l.count, 50 - first_missing);
        assert_eq!(l.seq_range, Some((first_missing, 49)));
        assert_eq!(l.kinds, [kind]);
        assert_eq!(l.stage, LossStage::Kernel);
        assert_eq!(l.header.source, src());
        let seqs: Vec<u64> = ev.iter().map(|e| e.header().seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
        assert_eq!(l.header.time, ev[2].header().time);
    }
}

/// The ipmon text of a stream with a gap is what ipmon prints: each
/// `missed` line once, the first one from 0 as in IP Filter.
#[test]
fn ipmon_text_of_a_gap_is_unchanged() {
    use crate::format::ipmon::{IpmonFormatter, IpmonOptions, Rendered, TimeZone};
    let mut bytes = numbered(1, &[(1, 1), (2, 1), (7, 1)]);
    bytes.extend(numbered(0, &[(5, 1), (50, 1), (2, 1)]));
    let mut f = IpmonFormatter::new(IpmonOptions::default(), TimeZone::UTC);
    let mut out = Rendered::default();
    for e in all_events(&bytes) {
        f.format(&e, &mut out);
    }
    let text = String::from_utf8(out.text).unwrap();
    let missed: Vec<&str> = text.lines().filter(|l| l.starts_with("missed")).collect();
    assert_eq!(
        missed,
        [
            "missed 1 NAT log entries: 0 1",
            "missed 4 NAT log entries: 3 7",
            "missed 5 ipf log entries: 0 5",
            "missed 44 ipf log entries: 6 50",
            "missed 4294967247 ipf log entries: 51 2",
        ]
    );
}

/// Issue 10 item 9: a reason does not repeat the offset the report gives.
#[test]
fn reasons_do_not_repeat_the_offset() {
    let mut bytes = b"garbage!".to_vec();
    bytes.extend(numbered(1, &[(1, 1)]));
    bytes.extend_from_slice(&numbered(1, &[(2, 1)])[..100]);
    let ev = all_events(&bytes);
    let reasons: Vec<&str> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Malformed(m) => Some(m.reason.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 2, "{ev:?}");
    assert!(reasons.iter().all(|r| !r.contains("offset")), "{reasons:?}");
    assert!(reasons[1].starts_with("truncated"), "{reasons:?}");
}
