use super::*;
use crate::decode::netlink::{NlMsgBuilder, NLM_F_REQUEST};
use crate::event::{Source, Timestamp};

/// IPv4 UDP 127.0.0.1:35898 -> 127.0.0.1:9999, header only (20 bytes).
const IP: [u8; 20] = [
    0x45, 0, 0, 29, 0x0a, 0x0e, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
];
/// Its UDP header.
const UDP: [u8; 8] = [0x8c, 0x3a, 0x27, 0x0f, 0, 9, 0, 0];

fn msg_type() -> u16 {
    u16::from(NFNL_SUBSYS_NFTABLES) << 8 | u16::from(NFT_MSG_TRACE)
}

/// A trace message of `inet t input` (family 1, table `t`, chain `input`),
/// to which a step adds its own attributes.
fn inet_t_input() -> NlMsgBuilder {
    let mut b = NlMsgBuilder::new(msg_type(), 0, 0);
    b.nfgenmsg(1, 0, 0)
        .attr(attr::TABLE, b"t\0")
        .attr(attr::CHAIN, b"input\0");
    b
}

/// A rule step as the kernel sends it: `inet t input`, rule handle 8,
/// verdict `jump sub`, with the packet's headers.
fn rule_step() -> Vec<u8> {
    let mut b = inet_t_input();
    b.attr_be64(attr::RULE_HANDLE, 8).attr_be32(attr::TYPE, 3);
    let n = b.begin_nested(attr::VERDICT);
    b.attr_be32(attr::VERDICT_CODE, (-3i32) as u32)
        .attr(attr::VERDICT_CHAIN, b"sub\0");
    b.end_nested(n);
    b.attr_be32(attr::ID, 0x6d98_5a58)
        .attr(attr::LL_HEADER, &[0u8; 14])
        .attr(attr::NETWORK_HEADER, &IP)
        .attr(attr::TRANSPORT_HEADER, &UDP)
        .attr_be32(attr::IIF, 1)
        .attr_be16(attr::IIFTYPE, 772)
        .attr_be32(attr::MARK, 0x2a)
        .attr_be32(attr::NFPROTO, 2);
    b.finish()
}

/// A policy step without headers: `inet t input policy accept`.
fn policy_step() -> Vec<u8> {
    let mut b = inet_t_input();
    b.attr_be32(attr::TYPE, 1)
        .attr_be32(attr::ID, 0x6d98_5a58)
        .attr_be32(attr::IIF, 1)
        .attr_be32(attr::NFPROTO, 2)
        .attr_be32(attr::POLICY, 1);
    b.finish()
}

fn header() -> Header {
    Header {
        time: Timestamp::default(),
        source: Source::Nftrace,
        seq: 1,
    }
}

#[test]
fn decodes_a_rule_step() {
    let d = rule_step();
    let all: Vec<_> = traces(&d).collect();
    assert_eq!(all.len(), 1);
    let t = all[0].clone().unwrap();
    assert_eq!(
        t,
        NftTrace {
            family: 1,
            id: 0x6d98_5a58,
            table: "t",
            chain: "input",
            trace_type: 3,
            rule_handle: Some(8),
            verdict_code: Some(-3),
            verdict_chain: Some("sub"),
            policy: None,
            nfproto: Some(2),
            iif: Some(1),
            iif_type: Some(772),
            oif: None,
            oif_type: None,
            mark: Some(0x2a),
            ll_header: &[0; 14],
            network_header: &IP,
            transport_header: &UDP,
        }
    );
    let ev = t.to_event(header(), &|i| (i == 1).then(|| "lo".to_owned()));
    assert_eq!(ev.trace_type, NftTraceType::Rule);
    assert_eq!(ev.verdict.as_ref().unwrap().text(), "jump sub");
    assert_eq!(ev.iif.as_ref().unwrap().name.as_deref(), Some("lo"));
    assert_eq!(ev.packet(), [&IP[..], &UDP[..]].concat());
}

#[test]
fn decodes_a_policy_step_and_skips_other_messages() {
    let mut d = policy_step();
    // NLMSG_DONE and an nftables message of another type are skipped.
    d.extend(NlMsgBuilder::new(3, 0, 0).finish());
    let mut other = NlMsgBuilder::new(u16::from(NFNL_SUBSYS_NFTABLES) << 8 | 6, NLM_F_REQUEST, 0);
    other.nfgenmsg(1, 0, 0);
    d.extend(other.finish());
    let all: Vec<_> = traces(&d).collect::<Result<_, _>>().unwrap();
    assert_eq!(all.len(), 1);
    let ev = all[0].to_event(header(), &|_| None);
    assert_eq!(ev.trace_type, NftTraceType::Policy);
    assert_eq!(ev.policy, Some(1));
    assert!(ev.network_header.is_empty());
    assert_eq!(ev.iif.unwrap().name, None);
}

/// Every truncation of a valid datagram is an error, never a panic or a
/// shorter trace.
#[test]
fn every_truncation_is_an_error() {
    for full in [rule_step(), policy_step()] {
        for n in 1..full.len() {
            let r: Vec<_> = traces(&full[..n]).collect();
            assert!(
                r.iter().any(Result::is_err),
                "cut at {n} of {}: {r:?}",
                full.len()
            );
        }
    }
}

/// Attribute blocks cut at an attribute boundary lose required attributes:
/// typed errors naming them.
#[test]
fn missing_and_bad_attributes_are_typed_errors() {
    let full = policy_step();
    let attrs = &full[20..];
    assert_eq!(
        NftTrace::from_attrs(1, &attrs[..0]),
        Err(NftTraceError::Missing {
            name: "NFTA_TRACE_TABLE"
        })
    );
    // table (8) + chain (12) only.
    assert_eq!(
        NftTrace::from_attrs(1, &attrs[..20]),
        Err(NftTraceError::Missing {
            name: "NFTA_TRACE_TYPE"
        })
    );
    // A message of one bad attribute.
    let bad_id = NetlinkDecodeError::ValueLen {
        attr: attr::ID,
        expected: 4,
        got: 2,
    };
    for (kind, value, want) in [
        (
            attr::TABLE,
            &[0xff, 0xfe, 0][..],
            NftTraceError::NotUtf8 { attr: attr::TABLE },
        ),
        (attr::ID, &[1, 2][..], NftTraceError::Netlink(bad_id)),
    ] {
        let mut b = NlMsgBuilder::new(msg_type(), 0, 0);
        b.nfgenmsg(1, 0, 0).attr(kind, value);
        assert_eq!(traces(&b.finish()).next(), Some(Err(want)), "{kind}");
    }
}

#[test]
fn carry_gives_later_steps_their_packet() {
    let first = traces(&rule_step())
        .next()
        .unwrap()
        .unwrap()
        .to_event(header(), &|_| None);
    let later_bytes = policy_step();
    let later = traces(&later_bytes).next().unwrap().unwrap();
    let mut carry = HeaderCarry::new();
    let mut a = first.clone();
    carry.apply(&mut a);
    assert_eq!(a, first);
    let mut b = later.to_event(header(), &|_| None);
    b.iif = None;
    carry.apply(&mut b);
    assert!(b.headers_inherited);
    assert_eq!(b.iif.as_ref().map(|i| i.ifindex), Some(1));
    assert_eq!(b.iif_type, Some(772));
    assert_eq!(b.network_header, IP);
    assert_eq!(b.transport_header, UDP);
    // Another id gets nothing.
    let mut c = later.to_event(header(), &|_| None);
    c.id = 7;
    carry.apply(&mut c);
    assert!(!c.headers_inherited);
    assert!(c.network_header.is_empty());
}

/// Datagrams the kernel sent (`fuzz/seeds/nftrace/`, captured from
/// `NFNLGRP_NFTRACE` in a namespace with an `inet t` table): every one is
/// one trace step of table `t`.
#[test]
fn real_kernel_datagrams_decode() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/seeds/nftrace");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        let all: Vec<_> = traces(&bytes).collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!((all[0].family, all[0].table), (1, "t"));
        assert!(["pre", "input", "sub"].contains(&all[0].chain));
        n += 1;
    }
    assert!(n >= 6);
}

/// A trace step survives the journal's encoding.
#[test]
fn codec_round_trip() {
    let mut ev = traces(&rule_step())
        .next()
        .unwrap()
        .unwrap()
        .to_event(header(), &|_| Some("lo".to_owned()));
    ev.rule_comment = Some("c".into());
    let ev = crate::event::Event::Debug(Box::new(ev));
    let bytes = crate::event::codec::encode(&ev);
    assert_eq!(crate::event::codec::decode(&bytes).unwrap(), ev);
}
