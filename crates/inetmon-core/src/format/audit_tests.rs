use super::*;
use crate::event::{Header, Interface, SockTask, Source};

/// 2026-10-09 14:16:54 UTC.
const T: i64 = 1_791_555_414;

fn sock(op: SockOp, sock_type: u16, errno: u32) -> SockEvent {
    SockEvent {
        header: Header {
            time: Timestamp { secs: T, nanos: 5 },
            source: Source::Sockets,
            seq: 1,
        },
        op,
        task: SockTask {
            pid: 42,
            tid: 42,
            uid: 1000,
            gid: 1000,
            comm: "curl".into(),
        },
        attribution: Attribution::Process,
        family: 2,
        sock_type,
        protocol: if sock_type == SOCK_STREAM { 6 } else { 17 },
        local: Some(("10.0.0.1".parse().unwrap(), 40_000)),
        foreign: Some(("10.0.0.2".parse().unwrap(), 443)),
        mapped: false,
        cgroup_id: 1,
        netns: 2,
        cookie: 3,
        errno,
        initiator: None,
        existing: false,
        process: None,
    }
}

fn text(ev: &SockEvent) -> String {
    let Some(rec) = sock_record(ev) else {
        return String::new();
    };
    let mut out = Vec::new();
    AuditFormatter::text(TimeZone::UTC)
        .write(&rec, &mut out)
        .unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn connections_started_and_failed() {
    let e = sock(SockOp::Connected, SOCK_STREAM, 0);
    assert_eq!(
        text(&e),
        "Oct 9 14:16:54 CONNECTION: (0, 0) \"tcp!10.0.0.2!443\" Started by UID 1000\n"
    );
    for errno in [111, 113, 110, 104, 101] {
        assert_eq!(
            text(&sock(SockOp::Connected, SOCK_STREAM, errno)),
            "Oct 9 14:16:54 CONNECTION: (0, 0) \"tcp!10.0.0.2!443\" Failed by UID 1000\n"
        );
    }
    let mut v6 = sock(SockOp::Connected, SOCK_STREAM, 0);
    v6.family = 10;
    v6.foreign = Some(("2001:db8::1".parse().unwrap(), 443));
    assert_eq!(
        text(&v6),
        "Oct 9 14:16:54 CONNECTION: (0, 0) \"tcp!2001:db8::1!443\" Started by UID 1000\n"
    );
}

#[test]
fn servers_started_and_failed() {
    let mut l = sock(SockOp::Listen, SOCK_STREAM, 0);
    l.local = Some(("0.0.0.0".parse().unwrap(), 80));
    l.foreign = None;
    l.task.uid = 0;
    assert_eq!(
        text(&l),
        "Oct 9 14:16:54 SERVER: (0, 0) \"tcp!*!80\" Started by UID 0\n"
    );
    let mut l6 = l.clone();
    l6.local = Some(("::".parse().unwrap(), 80));
    assert_eq!(text(&l6), text(&l));
    let mut bound = l.clone();
    bound.local = Some(("127.0.0.1".parse().unwrap(), 8080));
    assert_eq!(
        text(&bound),
        "Oct 9 14:16:54 SERVER: (0, 0) \"tcp!127.0.0.1!8080\" Started by UID 0\n"
    );
    let mut in_use = l.clone();
    in_use.op = SockOp::Bind;
    in_use.errno = 98;
    assert_eq!(
        text(&in_use),
        "Oct 9 14:16:54 SERVER: (0, 0) \"tcp!*!80\" Failed by UID 0\n"
    );
    let mut listen_failed = l.clone();
    listen_failed.errno = 98;
    assert_eq!(text(&listen_failed), text(&in_use));
    let mut udp = sock(SockOp::Bind, SOCK_DGRAM, 0);
    udp.local = Some(("0.0.0.0".parse().unwrap(), 53));
    udp.foreign = None;
    assert_eq!(
        text(&udp),
        "Oct 9 14:16:54 SERVER: (0, 0) \"udp!*!53\" Started by UID 1000\n"
    );
    udp.errno = 13;
    assert_eq!(
        text(&udp),
        "Oct 9 14:16:54 SERVER: (0, 0) \"udp!*!53\" Failed by UID 1000\n"
    );
}

#[test]
fn no_uid_when_no_process_is_known() {
    let mut e = sock(SockOp::Connected, SOCK_STREAM, 111);
    e.attribution = Attribution::Unknown;
    e.task = SockTask::default();
    assert_eq!(
        text(&e),
        "Oct 9 14:16:54 CONNECTION: (0, 0) \"tcp!10.0.0.2!443\" Failed\n"
    );
}

#[test]
fn day_is_not_padded_and_time_is_in_the_zone() {
    let mut e = sock(SockOp::Connected, SOCK_STREAM, 0);
    e.header.time.secs = T - 8 * 86_400; // Oct 1
    assert!(text(&e).starts_with("Oct 1 14:16:54 "), "{}", text(&e));
    let rec = sock_record(&e).unwrap();
    let mut out = Vec::new();
    let tz = TimeZone::fixed(jiff::tz::offset(2));
    AuditFormatter::text(tz).write(&rec, &mut out).unwrap();
    assert!(String::from_utf8(out)
        .unwrap()
        .starts_with("Oct 1 16:16:54 "));
}

#[test]
fn unaudited_operations_give_nothing() {
    let cases = [
        sock(SockOp::Create, SOCK_STREAM, 0),
        sock(SockOp::Connect, SOCK_STREAM, 0),
        sock(SockOp::Bind, SOCK_STREAM, 0),
        sock(SockOp::Accept, SOCK_STREAM, 0),
        sock(SockOp::Disconnect, SOCK_STREAM, 0),
        sock(SockOp::Close, SOCK_STREAM, 0),
        sock(SockOp::DynBind, SOCK_DGRAM, 0),
        sock(SockOp::Connected, SOCK_DGRAM, 0),
        sock(SockOp::Listen, SOCK_DGRAM, 95),
    ];
    for e in &cases {
        assert_eq!(sock_record(e), None, "{e:?}");
    }
    let mut port0 = sock(SockOp::Bind, SOCK_DGRAM, 0);
    port0.local = Some(("0.0.0.0".parse().unwrap(), 0));
    assert_eq!(sock_record(&port0), None);
    let mut existing = sock(SockOp::Listen, SOCK_STREAM, 0);
    existing.existing = true;
    assert_eq!(sock_record(&existing), None);
}

fn trace(point: ObservationPoint, flags: u8, layer: CaptureLayer) -> TraceEvent {
    let mut ip = vec![
        0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1,
    ];
    // sport 443, dport 54321, seq 1, ack 0, data offset 5, flags
    ip.extend_from_slice(&[
        0x01, 0xbb, 0xd4, 0x31, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    let packet = if layer == CaptureLayer::Ethernet {
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x08, 0x00]);
        eth.extend_from_slice(&ip);
        eth
    } else {
        ip
    };
    TraceEvent {
        header: Header {
            time: Timestamp {
                secs: 1_791_563_280,
                nanos: 0,
            },
            source: Source::Datapath,
            seq: 1,
        },
        cpu: 0,
        point,
        interface: Interface {
            ifindex: 2,
            name: None,
        },
        protocol: 0x0800,
        orig_len: 40,
        layer,
        packet,
        sample_rate: 1,
        mark: 0,
        netns: 1,
        process: None,
        sock_cookie: 0,
    }
}

#[test]
fn unixp_control_segments() {
    let f = AuditFormatter::text(TimeZone::UTC);
    let mut out = Vec::new();
    let syn_ack = trace(ObservationPoint::FromNetwork, 0x12, CaptureLayer::Network);
    f.write(&unixp_record(&syn_ack).unwrap(), &mut out).unwrap();
    let rst = trace(ObservationPoint::ToNetwork, 0x04, CaptureLayer::Ethernet);
    f.write(&unixp_record(&rst).unwrap(), &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "Oct 9 16:28:00 UNIXP: (2, 0) <= 01 bb d4 31 00 00 00 01 00 00 00 00\n\
         Oct 9 16:28:00 UNIXP: (2, 0) => 01 bb d4 31 00 00 00 01 00 00 00 00\n"
    );
    // A plain ACK is not a control segment; a truncated header gives nothing.
    assert_eq!(
        unixp_record(&trace(
            ObservationPoint::FromNetwork,
            0x10,
            CaptureLayer::Network
        )),
        None
    );
    let mut short = syn_ack.clone();
    short.packet.truncate(20 + 13);
    assert_eq!(unixp_record(&short), None);
    for n in 0..syn_ack.packet.len() {
        let mut t = syn_ack.clone();
        t.packet.truncate(n);
        let _ = unixp_record(&t);
    }
}

#[test]
fn json_lines() {
    let f = AuditFormatter::json();
    let mut out = Vec::new();
    let mut e = sock(SockOp::Connected, SOCK_STREAM, 111);
    f.write(&sock_record(&e).unwrap(), &mut out).unwrap();
    e.attribution = Attribution::Unknown;
    e.errno = 0;
    f.write(&sock_record(&e).unwrap(), &mut out).unwrap();
    let syn = trace(ObservationPoint::FromNetwork, 0x02, CaptureLayer::Network);
    f.write(&unixp_record(&syn).unwrap(), &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        concat!(
            r#"{"v":1,"kind":"audit","time":"2026-10-09T14:16:54.000000005Z","record":"connection","intf":0,"chan":0,"dial":"tcp!10.0.0.2!443","result":"failed","uid":1000,"pid":42,"comm":"curl","errno":111,"error":"ECONNREFUSED"}"#,
            "\n",
            r#"{"v":1,"kind":"audit","time":"2026-10-09T14:16:54.000000005Z","record":"connection","intf":0,"chan":0,"dial":"tcp!10.0.0.2!443","result":"started","uid":null,"pid":42,"comm":"curl","errno":0,"error":null}"#,
            "\n",
            r#"{"v":1,"kind":"audit","time":"2026-10-09T16:28:00.000000000Z","record":"unixp","intf":2,"chan":0,"dir":"in","bytes":"01bbd4310000000100000000"}"#,
            "\n"
        )
    );
}
