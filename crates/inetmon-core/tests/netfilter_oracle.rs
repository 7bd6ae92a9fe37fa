//! Differential test: inetmon-core's NFLOG and ctnetlink decoders against
//! `netlink-packet-netfilter` 0.4 on the real captured datagrams in
//! `tests/data/` (made by `tests/data/capture_netfilter.py`). Every attribute
//! the oracle decodes must match what we decoded.
#![allow(missing_docs)]

use std::net::IpAddr;

use inetmon_core::decode::{ctnetlink, netlink, nflog};
use netlink_packet_core::ParseableParametrized;
use netlink_packet_netfilter::conntrack::{
    ConntrackAttribute, ConntrackMessage, IPTuple, ProtoInfo, ProtoInfoTCP, ProtoTuple, Tuple,
};
use netlink_packet_netfilter::nflog::PacketNla;
use netlink_packet_netfilter::nflog::ULogMessage;
use netlink_packet_netfilter::{NetfilterMessage, NetfilterMessageInner};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

fn datagrams(text: &str) -> Vec<Vec<u8>> {
    text.lines().map(unhex).collect()
}

fn oracle(m: &netlink::NlMsg<'_>) -> NetfilterMessageInner {
    NetfilterMessage::parse_with_param(m.payload, m.msg_type)
        .expect("oracle parses")
        .inner
}

#[test]
fn nflog_agrees_with_netlink_packet_netfilter() {
    let mut checked = 0;
    for d in datagrams(include_str!("data/nflog-live.hex")) {
        for m in netlink::messages(&d) {
            let m = m.unwrap();
            let ours = nflog::NflogPacket::from_msg(&m).unwrap();
            let NetfilterMessageInner::ULog(ULogMessage::Packet(nlas)) = oracle(&m) else {
                panic!("oracle: not a packet");
            };
            for nla in nlas {
                checked += 1;
                match nla {
                    PacketNla::Mark(v) => assert_eq!(ours.mark, Some(v)),
                    PacketNla::IfIndexInDev(v) => assert_eq!(ours.ifindex_in, Some(v)),
                    PacketNla::IfIndexOutDev(v) => assert_eq!(ours.ifindex_out, Some(v)),
                    PacketNla::IfIndexPhysInDev(v) => assert_eq!(ours.ifindex_physin, Some(v)),
                    PacketNla::IfIndexPhysOutDev(v) => assert_eq!(ours.ifindex_physout, Some(v)),
                    PacketNla::Payload(v) => assert_eq!(ours.payload, Some(&v[..])),
                    PacketNla::Prefix(v) => assert_eq!(ours.prefix, Some(v.as_bytes())),
                    PacketNla::Uid(v) => assert_eq!(ours.uid, Some(v)),
                    PacketNla::Gid(v) => assert_eq!(ours.gid, Some(v)),
                    PacketNla::Seq(v) => assert_eq!(ours.seq, Some(v)),
                    PacketNla::SeqGlobal(v) => assert_eq!(ours.seq_global, Some(v)),
                    PacketNla::HwType(v) => assert_eq!(ours.hwtype, Some(v)),
                    PacketNla::HwHeader(v) => assert_eq!(ours.hwheader, Some(&v[..])),
                    PacketNla::HwHeaderLen(v) => assert_eq!(ours.hwlen, Some(v)),
                    // Private fields: compare through the oracle's parser of
                    // our fields re-encoded.
                    PacketNla::PacketHdr(h) => {
                        let [a, b] = ours.hw_protocol.unwrap().to_be_bytes();
                        let mine = netlink_packet_netfilter::nflog::PacketHdr::parse(&[
                            a,
                            b,
                            ours.hook.unwrap(),
                            0,
                        ])
                        .unwrap();
                        assert_eq!(h, mine);
                    }
                    PacketNla::Timestamp(t) => {
                        let ts = ours.timestamp.unwrap();
                        let mut b = ts.sec.to_be_bytes().to_vec();
                        b.extend(ts.usec.to_be_bytes());
                        let mine = netlink_packet_netfilter::nflog::TimeStamp::parse(&b).unwrap();
                        assert_eq!(t, mine);
                    }
                    PacketNla::HwAddr(_) => assert!(ours.hwaddr.is_some()),
                    other => panic!("oracle decoded something new: {other:?}"),
                }
            }
        }
    }
    assert!(checked >= 40, "{checked}");
}

/// A tuple flattened: source, destination, protocol, ports.
type Flat = (
    Option<IpAddr>,
    Option<IpAddr>,
    Option<u8>,
    Option<u16>,
    Option<u16>,
);

fn tuple_from_oracle(parts: &[Tuple]) -> Flat {
    let (mut s, mut d, mut p, mut sp, mut dp) = (None, None, None, None, None);
    for t in parts {
        match t {
            Tuple::Ip(ips) => {
                for ip in ips {
                    match ip {
                        IPTuple::SourceAddress(a) => s = Some(*a),
                        IPTuple::DestinationAddress(a) => d = Some(*a),
                        _ => {}
                    }
                }
            }
            Tuple::Proto(ps) => {
                for x in ps {
                    match x {
                        ProtoTuple::Protocol(pr) => p = Some(u8::from(*pr)),
                        ProtoTuple::SourcePort(v) => sp = Some(*v),
                        ProtoTuple::DestinationPort(v) => dp = Some(*v),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    (s, d, p, sp, dp)
}

fn ours_tuple(t: &ctnetlink::CtTuple) -> Flat {
    (
        Some(t.src),
        Some(t.dst),
        Some(t.proto),
        t.src_port,
        t.dst_port,
    )
}

#[test]
fn ctnetlink_agrees_with_netlink_packet_netfilter() {
    let mut checked = 0;
    for d in datagrams(include_str!("data/ctnetlink-live.hex")) {
        for m in netlink::messages(&d) {
            let m = m.unwrap();
            let ours = ctnetlink::CtEvent::from_msg(&m).unwrap();
            let attrs = match oracle(&m) {
                NetfilterMessageInner::Conntrack(ConntrackMessage::New(a)) => {
                    assert_ne!(ours.kind, ctnetlink::CtEventKind::Destroy);
                    a
                }
                NetfilterMessageInner::Conntrack(ConntrackMessage::Delete(a)) => {
                    assert_eq!(ours.kind, ctnetlink::CtEventKind::Destroy);
                    a
                }
                other => panic!("oracle: {other:?}"),
            };
            for a in attrs {
                checked += 1;
                match a {
                    ConntrackAttribute::CtaTupleOrig(t) => {
                        assert_eq!(tuple_from_oracle(&t), ours_tuple(&ours.orig));
                    }
                    ConntrackAttribute::CtaTupleReply(t) => {
                        assert_eq!(tuple_from_oracle(&t), ours_tuple(&ours.reply.unwrap()));
                    }
                    ConntrackAttribute::CtaStatus(s) => assert_eq!(ours.status, Some(s.bits())),
                    ConntrackAttribute::CtaTimeout(v) => assert_eq!(ours.timeout, Some(v)),
                    ConntrackAttribute::CtaMark(v) => assert_eq!(ours.mark, Some(v)),
                    ConntrackAttribute::CtaProtoInfo(p) => {
                        let state = p.iter().find_map(|i| match i {
                            ProtoInfo::TCP(v) => v.iter().find_map(|x| match x {
                                ProtoInfoTCP::State(s) => Some(*s),
                                _ => None,
                            }),
                            _ => None,
                        });
                        assert_eq!(ours.tcp_state, state);
                    }
                    _ => {}
                }
            }
        }
    }
    assert!(checked >= 60, "{checked}");
}

/// Our NFLOG configuration requests are byte-identical to the oracle's.
#[test]
fn nflog_config_requests_match_the_oracle() {
    use netlink_packet_netfilter::nflog::{
        config_request, ConfigCmd, ConfigFlags, ConfigMode, ConfigNla, CopyMode,
    };
    use netlink_packet_netfilter::NetfilterProtoFamily;
    use nflog::config;

    let emit = |nla: ConfigNla, family: NetfilterProtoFamily, group: u16| {
        let m = config_request(family, group, vec![nla]);
        let mut buf = vec![0; m.buffer_len()];
        m.serialize(&mut buf);
        buf
    };
    let unspec = NetfilterProtoFamily::Unspec;
    assert_eq!(
        config::bind(5, 0),
        emit(ConfigNla::Cmd(ConfigCmd::Bind), unspec, 5)
    );
    assert_eq!(
        config::unbind(5, 0),
        emit(ConfigNla::Cmd(ConfigCmd::Unbind), unspec, 5)
    );
    assert_eq!(
        config::pf_bind(2, 0),
        emit(
            ConfigNla::Cmd(ConfigCmd::PfBind),
            NetfilterProtoFamily::IPv4,
            0
        )
    );
    assert_eq!(
        config::copy_packet(7, 0xffff, 0),
        emit(
            ConfigNla::Mode(ConfigMode::new(0xffff, CopyMode::Packet)),
            unspec,
            7
        )
    );
    assert_eq!(
        config::flags(7, config::F_SEQ | config::F_SEQ_GLOBAL, 0),
        emit(
            ConfigNla::Flags(ConfigFlags::from_bits_preserve(3)),
            unspec,
            7
        )
    );
    assert_eq!(
        config::nlbufsiz(7, 1 << 20, 0),
        emit(ConfigNla::NlBufSiz(1 << 20), unspec, 7)
    );
    assert_eq!(
        config::qthresh(7, 64, 0),
        emit(ConfigNla::QThresh(64), unspec, 7)
    );
}
