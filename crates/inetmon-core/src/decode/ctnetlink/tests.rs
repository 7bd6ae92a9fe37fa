use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;
use crate::decode::netlink::{NlMsgBuilder, NLMSG_DONE};
use crate::decode::nflog::tests::unhex;
use crate::event::{Header, NatAction, NatType, Source, StateType, Timestamp};

/// Real datagrams from `tests/data/capture_netfilter.py` (one hex line each).
const LIVE: &str = include_str!("../../../tests/data/ctnetlink-live.hex");

fn live() -> Vec<Vec<u8>> {
    LIVE.lines().map(unhex).collect()
}

fn all_events() -> Vec<CtEvent> {
    live()
        .iter()
        .flat_map(|d| events(d).map(Result::unwrap).collect::<Vec<_>>())
        .collect()
}

fn header() -> Header {
    Header {
        time: Timestamp::default(),
        source: Source::Conntrack,
        seq: 1,
    }
}

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[test]
fn live_events_decode() {
    let ev = all_events();
    assert_eq!(ev.len(), 17);
    let count = |k| ev.iter().filter(|e| e.kind == k).count();
    assert_eq!(
        (
            count(CtEventKind::New),
            count(CtEventKind::Update),
            count(CtEventKind::Destroy)
        ),
        (5, 7, 5)
    );
    for e in &ev {
        assert!(e.id.is_some() && e.status.is_some() && e.reply.is_some() && e.event_ns.is_some());
        if e.kind == CtEventKind::Destroy {
            // nf_conntrack_acct and nf_conntrack_timestamp were on.
            assert!(e.counters_orig.is_some() && e.counters_reply.is_some());
            assert!(e.start_ns.is_some() && e.stop_ns.is_some());
        }
    }
    // The TCP connection to 127.0.0.1:8080, DNATed to port 9.
    let tcp_new = ev
        .iter()
        .find(|e| e.orig.proto == 6 && e.kind == CtEventKind::New)
        .unwrap();
    assert_eq!((tcp_new.orig.dst, tcp_new.orig.dst_port), (LO, Some(8080)));
    let reply = tcp_new.reply.unwrap();
    assert_eq!((reply.src, reply.src_port), (LO, Some(9)));
    assert!(tcp_new.is_dnat() && !tcp_new.is_snat());
    assert_eq!(tcp_new.tcp_state, Some(1), "SYN_SENT");
    let nat = to_nat_log(tcp_new, header()).unwrap();
    assert_eq!(
        (nat.action, nat.nat_type, nat.rule),
        (NatAction::New, NatType::Rdr, 0)
    );
    assert_eq!(nat.orig_dst, (LO, 8080));
    assert_eq!(nat.new_dst, (LO, 9));
    assert_eq!(nat.new_src, nat.orig_src);
    assert_eq!(nat.conntrack_id, tcp_new.id);
    let st = to_state_log(tcp_new, header());
    assert_eq!(
        (st.state_type, st.protocol, st.ip_version, st.ports.1),
        (StateType::New, 6, 4, 8080)
    );
    assert_eq!(st.tcp_state, Some([1, 1]));
    // Its updates give no NAT line; its destroy does, with counters.
    let upd = ev
        .iter()
        .find(|e| e.orig.proto == 6 && e.kind == CtEventKind::Update)
        .unwrap();
    assert_eq!(to_nat_log(upd, header()), None);
    assert_eq!(
        to_state_log(upd, header()).state_type,
        StateType::Intermediate
    );
    let tcp_end = ev
        .iter()
        .find(|e| e.orig.proto == 6 && e.kind == CtEventKind::Destroy)
        .unwrap();
    let nat = to_nat_log(tcp_end, header()).unwrap();
    assert_eq!(nat.action, NatAction::Expire);
    let p = nat.packets.unwrap();
    assert!(p[0] >= 3 && p[1] >= 2, "{p:?}");
    let st = to_state_log(tcp_end, header());
    assert_eq!(st.state_type, StateType::Expire);
    assert!(
        st.tcp_state.unwrap()[0] > 4,
        "closed connection prints STATE:CLOSE"
    );
    assert_eq!(st.packets, [p[0], 0, p[1], 0]);
    // UDP to 10.99.0.2:5353 SNATed to 10.99.0.7.
    let snat = ev
        .iter()
        .find(|e| e.orig.dst_port == Some(5353) && e.kind == CtEventKind::New)
        .unwrap();
    let nat = to_nat_log(snat, header()).unwrap();
    assert_eq!(nat.nat_type, NatType::Map);
    assert_eq!(nat.new_src.0, IpAddr::V4(Ipv4Addr::new(10, 99, 0, 7)));
    assert_eq!(nat.orig_src.0, IpAddr::V4(Ipv4Addr::new(10, 99, 0, 1)));
    // UDP to 53, ICMP and ICMPv6: no NAT.
    for e in ev
        .iter()
        .filter(|e| e.orig.dst_port != Some(5353) && e.orig.proto != 6)
    {
        assert_eq!(to_nat_log(e, header()), None, "{e:?}");
    }
    let icmp = ev.iter().find(|e| e.orig.proto == 1).unwrap();
    assert_eq!(
        (icmp.orig.icmp_type, icmp.orig.icmp_code),
        (Some(8), Some(0))
    );
    assert!(icmp.orig.icmp_id.is_some());
    assert_eq!(to_state_log(icmp, header()).ports, (8, 0));
    let v6 = ev.iter().find(|e| e.orig.proto == 58).unwrap();
    assert_eq!(
        (v6.family, v6.orig.src),
        (10, IpAddr::V6(Ipv6Addr::LOCALHOST))
    );
    assert_eq!(
        (v6.orig.icmp_type, to_state_log(v6, header()).ip_version),
        (Some(128), 6)
    );
}

#[test]
fn every_truncation_errors_never_panics() {
    for d in live() {
        for cut in 1..d.len() {
            let r: Result<Vec<_>, _> = events(&d[..cut]).collect();
            assert!(r.is_err(), "cut at {cut}");
            // With nlmsg_len made consistent, the attribute walk must still
            // not panic (it may succeed at attribute boundaries, or lack a
            // tuple).
            if cut >= 16 {
                let mut m = d[..cut].to_vec();
                m[..4].copy_from_slice(&u32::try_from(cut).unwrap().to_ne_bytes());
                let _ = events(&m).count();
            }
        }
    }
}

fn tuple_attr(
    b: &mut NlMsgBuilder,
    kind: u16,
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    ports: (u16, u16),
) {
    let t = b.begin_nested(kind);
    let ip = b.begin_nested(tuple_attr::IP);
    b.attr(tuple_attr::V4_SRC, &src)
        .attr(tuple_attr::V4_DST, &dst);
    b.end_nested(ip);
    let p = b.begin_nested(tuple_attr::PROTO);
    b.attr_u8(tuple_attr::PROTO_NUM, proto);
    b.attr_be16(tuple_attr::SRC_PORT, ports.0)
        .attr_be16(tuple_attr::DST_PORT, ports.1);
    b.end_nested(p);
    b.end_nested(t);
}

#[test]
fn builder_edge_cases() {
    // A BIMAP destroy with 32-bit counters and no status attribute.
    let mut b = NlMsgBuilder::new(0x0102, 0, 0);
    b.nfgenmsg(2, 0, 0);
    for (kind, src, dst, ports) in [
        (attr::TUPLE_ORIG, [10, 0, 0, 1], [10, 0, 0, 2], (1000, 53)),
        (
            attr::TUPLE_REPLY,
            [192, 168, 0, 9],
            [172, 16, 0, 1],
            (5353, 2000),
        ),
    ] {
        tuple_attr(&mut b, kind, src, dst, 17, ports);
    }
    let c = b.begin_nested(attr::COUNTERS_ORIG);
    b.attr_be32(3, 4).attr_be32(4, 400);
    b.end_nested(c);
    b.attr_be16(attr::ZONE, 3)
        .attr_be32(attr::MARK, 9)
        .attr_be32(attr::USE, 1);
    let mut d = b.finish();
    d.extend(NlMsgBuilder::new(NLMSG_DONE, 0, 0).finish());
    let ev: Vec<_> = events(&d).collect::<Result<_, _>>().unwrap();
    let e = &ev[0];
    assert_eq!(
        (e.kind, e.zone, e.mark, e.use_count),
        (CtEventKind::Destroy, Some(3), Some(9), Some(1))
    );
    let nat = to_nat_log(e, header()).unwrap();
    assert_eq!(nat.nat_type, NatType::Bimap);
    assert_eq!(
        nat.new_src,
        (IpAddr::V4(Ipv4Addr::new(172, 16, 0, 1)), 2000)
    );
    assert_eq!(
        nat.new_dst,
        (IpAddr::V4(Ipv4Addr::new(192, 168, 0, 9)), 5353)
    );
    assert_eq!((nat.packets, nat.bytes), (Some([4, 0]), Some([400, 0])));
    // Messages with a required part missing or of the wrong size.
    let mut no_tuple = NlMsgBuilder::new(0x0100, NLM_F_CREATE | NLM_F_EXCL, 0);
    no_tuple.nfgenmsg(2, 0, 0).attr_be32(attr::ID, 1);
    let v4 = [1, 2, 3, 4];
    let bad_size = NetlinkDecodeError::ValueLen {
        attr: 3,
        expected: 16,
        got: 15,
    };
    for (d, want) in [
        (
            no_tuple.finish(),
            CtError::Missing {
                what: "original tuple",
            },
        ),
        (
            orig_ip_only(2, &[(tuple_attr::V4_SRC, &v4), (tuple_attr::V4_DST, &v4)]),
            CtError::Missing {
                what: "original protocol",
            },
        ),
        (
            orig_ip_only(10, &[(tuple_attr::V6_SRC, &[0; 15])]),
            CtError::Netlink(bad_size),
        ),
    ] {
        assert_eq!(events(&d).next(), Some(Err(want)));
    }
    // NFLOG and GET messages are not events and are skipped by events().
    let d = NlMsgBuilder::new(0x0101, 0, 0).finish();
    assert_eq!(events(&d).count(), 0);
    let m = netlink::messages(&d).next().unwrap().unwrap();
    assert_eq!(
        CtEvent::from_msg(&m),
        Err(CtError::NotEvent { msg_type: 0x0101 })
    );
}

/// An update message of `family` whose original tuple has only the
/// address attributes `addrs` (no protocol).
fn orig_ip_only(family: u8, addrs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut b = NlMsgBuilder::new(0x0100, 0, 0);
    b.nfgenmsg(family, 0, 0);
    let t = b.begin_nested(attr::TUPLE_ORIG);
    let ip = b.begin_nested(tuple_attr::IP);
    for &(kind, value) in addrs {
        b.attr(kind, value);
    }
    b.end_nested(ip);
    b.end_nested(t);
    b.finish()
}

#[test]
fn tcp_state_map() {
    let map: Vec<u8> = (0..=10).map(ipf_tcp_state).collect();
    assert_eq!(map, vec![0, 1, 2, 4, 6, 5, 8, 10, 11, 1, 0]);
}

#[test]
fn garbage_never_panics() {
    let mut garbage = crate::testing::Garbage(99);
    for len in 0..300usize {
        let mut v = garbage.bytes(len);
        if v.len() >= 16 {
            v[..4].copy_from_slice(&u32::try_from(len).unwrap().to_ne_bytes());
            v[4..6].copy_from_slice(&0x0100u16.to_ne_bytes());
        }
        for e in events(&v).flatten() {
            let _ = (to_nat_log(&e, header()), to_state_log(&e, header()));
        }
    }
}
