use super::*;
use crate::event::SockTask;

/// 2026-10-09 14:16:54 UTC.
const T: i64 = 1_791_555_414;

/// curl (pid 42, uid 1000) from 10.0.0.1:40000 to 10.0.0.2:443.
fn sock(op: SockOp, sock_type: u16, errno: u32) -> SockEvent {
    let mut ev = SockEvent {
        op,
        sock_type,
        protocol: if sock_type == SOCK_STREAM { 6 } else { 17 },
        foreign: Some(("10.0.0.2".parse().unwrap(), 443)),
        errno,
        ..SockEvent::sample()
    };
    ev.header.time = Timestamp { secs: T, nanos: 5 };
    (ev.task.pid, ev.task.tid, ev.task.uid, ev.task.gid) = (42, 42, 1000, 1000);
    ev
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

#[test]
fn intf_and_chan_come_from_the_event() {
    let mut e = sock(SockOp::Connected, SOCK_STREAM, 0);
    e.link.fd = Some(5);
    e.link.ifindex = 2;
    assert_eq!(
        text(&e),
        "Oct 9 14:16:54 CONNECTION: (2, 5) \"tcp!10.0.0.2!443\" Started by UID 1000\n"
    );
    let mut l = sock(SockOp::Listen, SOCK_STREAM, 98);
    l.link.fd = Some(0);
    assert_eq!(
        text(&l),
        "Oct 9 14:16:54 SERVER: (0, 0) \"tcp!10.0.0.1!40000\" Failed by UID 1000\n"
    );
    assert_eq!(sock_record(&l).unwrap().chan, Some(0));
}

/// A segment event as the BPF side reports it: 10.0.0.1:54321 connected
/// to 10.0.0.2:443, seen on interface 2, the connect's fd 5.
fn segment(received: bool, flags: u8) -> SockEvent {
    let mut e = sock(SockOp::Segment, SOCK_STREAM, 0);
    e.header.time.secs = 1_791_563_280;
    e.header.time.nanos = 0;
    e.local = Some(("10.0.0.1".parse().unwrap(), 54_321));
    e.attribution = Attribution::Owner;
    e.link = SockLink {
        fd: Some(5),
        ifindex: 2,
        segment: Some(crate::event::TcpSegment {
            received,
            header: if received {
                [0x01, 0xbb, 0xd4, 0x31, 0, 0, 0, 1, 0, 0, 0, 0]
            } else {
                [0xd4, 0x31, 0x01, 0xbb, 0, 0, 0, 9, 0, 0, 0, 2]
            },
            flags,
        }),
    };
    e
}

#[test]
fn unixp_control_segments() {
    let f = AuditFormatter::text(TimeZone::UTC);
    let mut out = Vec::new();
    for e in [
        segment(true, 0x12),
        segment(false, 0x04),
        segment(false, 0x11),
    ] {
        f.write(&sock_record(&e).unwrap(), &mut out).unwrap();
    }
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "Oct 9 16:28:00 UNIXP: (2, 5) <= 01 bb d4 31 00 00 00 01 00 00 00 00\n\
         Oct 9 16:28:00 UNIXP: (2, 5) => d4 31 01 bb 00 00 00 09 00 00 00 02\n\
         Oct 9 16:28:00 UNIXP: (2, 5) => d4 31 01 bb 00 00 00 09 00 00 00 02\n"
    );
    // A plain ACK is not a control segment; a segment event without its
    // segment, or another operation with one, gives nothing.
    assert_eq!(sock_record(&segment(true, 0x10)), None);
    let mut bare = segment(true, 0x02);
    bare.link.segment = None;
    assert_eq!(sock_record(&bare), None);
    let mut other = segment(true, 0x02);
    other.op = SockOp::Disconnect;
    assert_eq!(segment_record(&other), None);
}

#[test]
fn json_lines() {
    let f = AuditFormatter::json();
    let mut out = Vec::new();
    let mut e = sock(SockOp::Connected, SOCK_STREAM, 111);
    e.link.fd = Some(5);
    e.link.ifindex = 2;
    f.write(&sock_record(&e).unwrap(), &mut out).unwrap();
    e.attribution = Attribution::Unknown;
    e.errno = 0;
    e.link = SockLink::default();
    f.write(&sock_record(&e).unwrap(), &mut out).unwrap();
    f.write(&sock_record(&segment(true, 0x02)).unwrap(), &mut out)
        .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        concat!(
            r#"{"v":1,"kind":"audit","time":"2026-10-09T14:16:54.000000005Z","record":"connection","intf":2,"chan":5,"dial":"tcp!10.0.0.2!443","result":"failed","uid":1000,"pid":42,"comm":"curl","errno":111,"error":"ECONNREFUSED"}"#,
            "\n",
            r#"{"v":1,"kind":"audit","time":"2026-10-09T14:16:54.000000005Z","record":"connection","intf":0,"chan":null,"dial":"tcp!10.0.0.2!443","result":"started","uid":null,"pid":42,"comm":"curl","errno":0,"error":null}"#,
            "\n",
            r#"{"v":1,"kind":"audit","time":"2026-10-09T16:28:00.000000000Z","record":"unixp","intf":2,"chan":5,"dir":"in","bytes":"01bbd4310000000100000000","uid":1000,"pid":42,"comm":"curl"}"#,
            "\n"
        )
    );
}
