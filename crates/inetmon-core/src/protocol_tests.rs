use super::*;
use crate::event::{Header, LossStage, Lost, SockEvent, Timestamp};

fn frames(buf: &[u8]) -> Vec<(FrameType, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some((f, n)) = decode_frame(&buf[at..]).unwrap() {
        out.push((f.kind, f.body.to_vec()));
        at += n;
    }
    assert_eq!(at, buf.len(), "trailing bytes");
    out
}

fn sock_request() -> Request {
    Request {
        kinds: vec![EventKind::Sock],
        nflog_groups: vec![],
        filter: FilterSpec::Sockets(SockFilterSpec {
            watch: Some(vec!["streamConnect".into()]),
            comm: Some("curl".into()),
            addr: Some("10.0.0.0/8".into()),
            pid: None,
            uid: None,
            port: Some(80),
        }),
    }
}

#[test]
fn conversation_round_trips() {
    let mut buf = Vec::new();
    let req = sock_request();
    encode_hello(PROTOCOL_VERSION, &req, &mut buf);
    let w = Welcome {
        daemon_version: "0.1.0".into(),
        queue: 4096,
    };
    encode_welcome(&w, &mut buf);
    let ev = Event::Sock(Box::new(SockEvent::sample()));
    encode_event(&ev, &mut buf);
    encode_refused(RefusalCode::Permission, "no\nway", &mut buf);
    let got = frames(&buf);
    assert_eq!(got.len(), 4);
    assert_eq!(got[0].0, FrameType::Hello);
    assert_eq!(
        decode_hello(&got[0].1).unwrap(),
        Hello {
            version: PROTOCOL_VERSION,
            request: Some(req)
        }
    );
    assert_eq!(
        decode_welcome(&got[1].1).unwrap(),
        (PROTOCOL_VERSION, Some(w))
    );
    assert_eq!(decode_event(&got[2].1).unwrap(), ev);
    assert_eq!(
        decode_refused(&got[3].1).unwrap(),
        (RefusalCode::Permission, "no way".to_owned())
    );
}

#[test]
fn every_truncation_waits_for_more() {
    let mut buf = Vec::new();
    encode_event(&Event::Sock(Box::new(SockEvent::sample())), &mut buf);
    for n in 0..buf.len() {
        assert!(decode_frame(&buf[..n]).unwrap().is_none(), "{n}");
    }
    assert!(decode_frame(&buf).unwrap().is_some());
}

#[test]
fn bad_lengths_and_types_are_typed_errors() {
    assert!(matches!(
        decode_frame(&[0, 0, 0, 0]),
        Err(FrameError::Empty)
    ));
    let e = decode_frame(&[0xff, 0xff, 0xff, 0xff, 1]).unwrap_err();
    assert!(
        matches!(e, FrameError::TooLong { len: u32::MAX, .. }),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "frame length 4294967295 exceeds the limit of 16777216 bytes"
    );
    assert!(matches!(
        decode_frame(&[0, 0, 0, 1, 9]),
        Err(FrameError::UnknownType(9))
    ));
}

#[test]
fn bodies_check_their_fixed_parts() {
    for n in 0..6 {
        let e = decode_hello(&b"INMN\x00\x01"[..n]).unwrap_err();
        assert!(
            matches!(e, FrameError::Len { need: 6, have, .. } if have == n),
            "{e}"
        );
    }
    assert!(matches!(
        decode_hello(b"GET /\x00\x01"),
        Err(FrameError::Magic(_))
    ));
    assert!(matches!(
        decode_hello(b"INMN\x00\x01{not json"),
        Err(FrameError::Json { .. })
    ));
    assert!(matches!(
        decode_welcome(&[0]),
        Err(FrameError::Len { need: 2, .. })
    ));
    assert!(matches!(decode_refused(&[]), Err(FrameError::Len { .. })));
    assert!(matches!(
        decode_refused(&[77, b'x']),
        Err(FrameError::RefusalCode(77))
    ));
    assert!(matches!(
        decode_refused(&[1, b'o', 0xff]),
        Err(FrameError::Utf8(2))
    ));
    assert!(matches!(decode_event(b"{}"), Err(FrameError::Event(_))));
}

#[test]
fn another_version_is_read_without_its_request() {
    let mut buf = Vec::new();
    encode_hello(PROTOCOL_VERSION + 1, &sock_request(), &mut buf);
    let (f, _) = decode_frame(&buf).unwrap().unwrap();
    let h = decode_hello(f.body).unwrap();
    assert_eq!(h.version, PROTOCOL_VERSION + 1);
    assert!(h.request.is_none());
    // Whatever follows the version in another version is not read.
    let mut body = b"INMN\x00\x63".to_vec();
    body.extend_from_slice(&[0xff; 9]);
    assert_eq!(decode_hello(&body).unwrap().version, 0x63);
    assert_eq!(
        version_mismatch(2, 1),
        "protocol version mismatch: this client speaks inetmon client protocol version 2, the daemon speaks version 1 (use an inetmon of the daemon's version, or --local)"
    );
}

fn lost(source: Source) -> Event {
    Event::Lost(Lost {
        header: Header {
            time: Timestamp::default(),
            source,
            seq: 1,
        },
        stage: LossStage::Channel,
        count: 1,
        kinds: vec![],
        seq_range: None,
        breakdown: vec![],
    })
}

#[test]
fn subscription_filters_kinds_filters_and_loss_sources() {
    let sub = Subscription::new(&sock_request()).unwrap();
    let hit = SockEvent {
        op: crate::event::SockOp::Connected,
        ..SockEvent::sample()
    };
    assert!(sub.matches(&Event::Sock(Box::new(hit.clone()))));
    let other_port = SockEvent {
        foreign: Some(("10.0.0.2".parse().unwrap(), 443)),
        ..hit
    };
    assert!(!sub.matches(&Event::Sock(Box::new(other_port))));
    assert!(sub.matches(&lost(Source::Sockets)));
    assert!(sub.matches(&lost(Source::Pipeline)));
    assert!(!sub.matches(&lost(Source::Nflog(0))));
    assert!(!sub.matches(&lost(Source::Conntrack)));

    let ipmon = Subscription::new(&Request {
        kinds: vec![EventKind::Packet],
        nflog_groups: vec![5],
        filter: FilterSpec::None,
    })
    .unwrap();
    assert!(ipmon.matches(&lost(Source::Nflog(5))));
    assert!(!ipmon.matches(&lost(Source::Nflog(6))));
    assert!(!ipmon.matches(&Event::Sock(Box::new(SockEvent::sample()))));
}

#[test]
fn filters_survive_the_wire() {
    let f = SockFilter {
        monitors: Some(vec![Monitor::StreamAccept, Monitor::DgramBind]),
        comm: Some("nc".into()),
        addr: Some("::ffff:10.1.0.0/112".parse().unwrap()),
        pid: Some(4),
        uid: Some(5),
        port: Some(6),
    };
    let spec = FilterSpec::Sockets(SockFilterSpec::from_filter(&f));
    let json = serde_json::to_string(&spec).unwrap();
    let back: FilterSpec = serde_json::from_str(&json).unwrap();
    let Filter::Sockets(g) = back.compile().unwrap() else {
        panic!("not a sockets filter")
    };
    assert_eq!(g.monitors, f.monitors);
    assert_eq!(g.addr, f.addr);
    assert_eq!((g.pid, g.uid, g.port), (Some(4), Some(5), Some(6)));

    let m = MonitorFilter {
        kinds: vec![EventKind::Drop],
        ips: vec!["fd00::/64".parse().unwrap(), "10.0.0.1".parse().unwrap()],
        ports: vec![53],
        ..MonitorFilter::default()
    };
    let Filter::Monitor(n) = FilterSpec::Monitor(MonitorFilterSpec::from_filter(&m))
        .compile()
        .unwrap()
    else {
        panic!("not a monitor filter")
    };
    assert_eq!(n, m);

    let bad = FilterSpec::Sockets(SockFilterSpec {
        watch: Some(vec!["streamNope".into()]),
        ..SockFilterSpec::default()
    });
    assert_eq!(bad.compile().unwrap_err(), "unknown monitor \"streamNope\"");
}

#[test]
fn collects_names_what_is_missing() {
    let c = Collects {
        kinds: vec![EventKind::Sock, EventKind::Packet],
        nflog_groups: vec![0],
    };
    assert_eq!(c.missing(&sock_request()), None);
    let req = Request {
        kinds: vec![EventKind::Drop, EventKind::Lost],
        ..Request::default()
    };
    assert_eq!(
        c.missing(&req).unwrap(),
        "the daemon does not collect drop events (it collects: sock, packet)"
    );
    let req = Request {
        kinds: vec![EventKind::Packet],
        nflog_groups: vec![0, 7],
        ..Request::default()
    };
    assert_eq!(
        c.missing(&req).unwrap(),
        "the daemon does not read NFLOG group 7 (its [nflog] groups: 0)"
    );
}

#[test]
fn committed_fuzz_seeds_are_valid_conversations() {
    let (f, _) = decode_frame(include_bytes!("../../../fuzz/seeds/protocol/hello"))
        .unwrap()
        .unwrap();
    let hello = decode_hello(f.body).unwrap();
    assert_eq!(hello.request.unwrap().kinds, vec![EventKind::Sock]);
    let got = frames(include_bytes!(
        "../../../fuzz/seeds/protocol/welcome-events"
    ));
    assert_eq!(got.len(), 3);
    assert!(decode_welcome(&got[0].1).unwrap().1.is_some());
    let Event::Lost(l) = decode_event(&got[1].1).unwrap() else {
        panic!("not a loss report")
    };
    assert_eq!(l.breakdown, vec![(crate::event::LOST_CLIENT_QUEUE, 12)]);
    let (f, _) = decode_frame(include_bytes!("../../../fuzz/seeds/protocol/refused"))
        .unwrap()
        .unwrap();
    assert_eq!(decode_refused(f.body).unwrap().0, RefusalCode::Permission);
}
