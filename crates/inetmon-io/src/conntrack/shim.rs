//! Interim stand-in for `inetmon_core::decode::ctnetlink` (branch
//! `decoders`, not merged yet): a minimal walk of the tuple, status, id and
//! counter attributes, and the mapping to NAT and state events. Delete this
//! file when core's module lands and call core from [`super::core_decode`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use inetmon_core::event::{Event, Header, NatAction, NatLog, NatType, StateLog, StateType};

use super::{CtKind, CtMessage};

/// One direction's addresses, protocol and ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tuple {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    sport: u16,
    dport: u16,
}

#[derive(Debug, Default)]
struct Ct {
    orig: Option<Tuple>,
    reply: Option<Tuple>,
    id: Option<u32>,
    packets: [u64; 2],
    bytes: [u64; 2],
}

fn attrs(mut block: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_ne_bytes([*block.first()?, *block.get(1)?]));
        let kind = u16::from_ne_bytes([*block.get(2)?, *block.get(3)?]) & 0x3fff;
        let value = block.get(4..len)?;
        block = block.get((len + 3) & !3..).unwrap_or(&[]);
        Some((kind, value))
    })
}

fn arr<const N: usize>(v: &[u8]) -> Option<[u8; N]> {
    v.get(..N).and_then(|b| <[u8; N]>::try_from(b).ok())
}

fn tuple(block: &[u8]) -> Option<Tuple> {
    let (mut src, mut dst, mut proto, mut sport, mut dport) = (None, None, 0, 0, 0);
    for (k, v) in attrs(block) {
        match k {
            1 => {
                for (k, v) in attrs(v) {
                    match k {
                        1 => src = arr::<4>(v).map(|a| IpAddr::V4(Ipv4Addr::from(a))),
                        2 => dst = arr::<4>(v).map(|a| IpAddr::V4(Ipv4Addr::from(a))),
                        3 => src = arr::<16>(v).map(|a| IpAddr::V6(Ipv6Addr::from(a))),
                        4 => dst = arr::<16>(v).map(|a| IpAddr::V6(Ipv6Addr::from(a))),
                        _ => {}
                    }
                }
            }
            2 => {
                for (k, v) in attrs(v) {
                    match k {
                        1 => proto = v.first().copied().unwrap_or(0),
                        2 | 4 => sport = arr::<2>(v).map_or(0, u16::from_be_bytes),
                        3 => dport = arr::<2>(v).map_or(0, u16::from_be_bytes),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Some(Tuple {
        src: src?,
        dst: dst?,
        proto,
        sport,
        dport,
    })
}

fn counters(block: &[u8]) -> (u64, u64) {
    let (mut p, mut b) = (0, 0);
    for (k, v) in attrs(block) {
        match k {
            1 => p = arr::<8>(v).map_or(0, u64::from_be_bytes),
            2 => b = arr::<8>(v).map_or(0, u64::from_be_bytes),
            _ => {}
        }
    }
    (p, b)
}

fn parse(payload: &[u8]) -> Ct {
    let mut ct = Ct::default();
    for (k, v) in attrs(payload.get(4..).unwrap_or(&[])) {
        match k {
            1 => ct.orig = tuple(v),
            2 => ct.reply = tuple(v),
            9 => (ct.packets[0], ct.bytes[0]) = counters(v),
            10 => (ct.packets[1], ct.bytes[1]) = counters(v),
            12 => ct.id = arr::<4>(v).map(u32::from_be_bytes),
            _ => {}
        }
    }
    ct
}

/// Maps one message to a NAT event (when the connection is translated and
/// `nat` is wanted) and a state event (when `state` is wanted).
pub(crate) fn map(
    msg: &CtMessage<'_>,
    header: &mut dyn FnMut() -> Header,
) -> Result<Vec<Event>, String> {
    let ct = parse(msg.payload);
    let (Some(o), Some(r)) = (ct.orig, ct.reply) else {
        return Err("conntrack message without both tuples".into());
    };
    let mut out = Vec::new();
    let new_src = (r.dst, r.dport);
    let new_dst = (r.src, r.sport);
    let translated = new_src != (o.src, o.sport) || new_dst != (o.dst, o.dport);
    if msg.want_nat && translated && msg.kind != CtKind::Update {
        let nat_type = match (new_src != (o.src, o.sport), new_dst != (o.dst, o.dport)) {
            (true, true) => NatType::Bimap,
            (false, true) => NatType::Rdr,
            _ => NatType::Map,
        };
        out.push(Event::Nat(Box::new(NatLog {
            header: header(),
            action: if msg.kind == CtKind::Destroy {
                NatAction::Destroy
            } else {
                NatAction::New
            },
            nat_type,
            rule: 0,
            protocol: o.proto,
            orig_src: (o.src, o.sport),
            orig_dst: (o.dst, o.dport),
            new_src,
            new_dst,
            packets: Some(ct.packets),
            bytes: Some(ct.bytes),
            conntrack_id: ct.id,
        })));
    }
    if msg.want_state {
        out.push(Event::State(Box::new(StateLog {
            header: header(),
            state_type: match msg.kind {
                CtKind::New => StateType::New,
                CtKind::Update => StateType::Intermediate,
                CtKind::Destroy => StateType::Expire,
            },
            protocol: o.proto,
            ip_version: if o.src.is_ipv4() { 4 } else { 6 },
            src: o.src,
            dst: o.dst,
            ports: (o.sport, o.dport),
            tag: 0,
            tcp_state: None,
            packets: [ct.packets[0], 0, ct.packets[1], 0],
            bytes: [ct.bytes[0], 0, ct.bytes[1], 0],
            conntrack_id: ct.id,
        })));
    }
    Ok(out)
}
