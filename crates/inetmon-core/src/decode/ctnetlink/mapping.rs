//! From a [`CtEvent`] to the event model's [`NatLog`] and [`StateLog`].
//!
//! # NAT (`to_nat_log`)
//!
//! - A NAT line is made only for entries that are translated: the status has
//!   `IPS_SRC_NAT` or `IPS_DST_NAT`, or the reply tuple differs from the
//!   inverted original tuple. Entries without a reply tuple give none.
//! - Action: new → `NAT:NEW`; destroy → `NAT:EXPIRE`. **Updates give no NAT
//!   line**: a translation is fixed when the entry is created, and Linux
//!   sends many updates per connection (state changes, assured), which would
//!   repeat the same mapping.
//! - Type: source translated only → `MAP`; destination only → `RDR`; both →
//!   `BIMAP`. "Source translated" means `IPS_SRC_NAT`, or the reply's
//!   destination differs from the original source; "destination translated"
//!   means `IPS_DST_NAT`, or the reply's source differs from the original
//!   destination.
//! - Endpoints: `orig_src`/`orig_dst` from the original tuple;
//!   `new_src` = the reply tuple's destination and `new_dst` = the reply
//!   tuple's source (what the packet's addresses are after translation).
//!   Ports are the TCP/UDP ports, for ICMP the echo id.
//! - Packets and bytes: `[original, reply]` when counters are present.
//! - Rule: 0 (`@0`; Linux does not say which rule made the mapping);
//!   `conntrack_id` from `CTA_ID`.
//!
//! # State (`to_state_log`)
//!
//! - Type: new → `STATE:NEW`; update → `STATE:INTERMEDIATE`; destroy →
//!   `STATE:EXPIRE` (the formatter prints `STATE:CLOSE` for TCP when a side's
//!   state is past ESTABLISHED).
//! - Protocol, addresses and ports from the original tuple; for ICMP/ICMPv6
//!   the type is in `ports.0` (and the code in `ports.1`).
//! - TCP state: Linux keeps one state per connection; it is mapped with
//!   [`ipf_tcp_state`] and used for both sides.
//! - Counters: IP Filter counts `[forward in, forward out, backward in,
//!   backward out]`; Linux counts each direction once, where it first sees
//!   the packet. The original direction goes to "forward in" and the reply
//!   direction to "backward in"; the "out" slots are 0.

use crate::event::{Header, NatAction, NatLog, NatType, StateLog, StateType};

use super::{CtEvent, CtEventKind, CtTuple};

/// Maps a Linux `TCP_CONNTRACK_*` state to IP Filter's `IPF_TCPS_*` number.
///
/// | Linux | IP Filter |
/// |---|---|
/// | 0 NONE | 0 (LISTEN; "no state yet") |
/// | 1 SYN_SENT, 9 SYN_SENT2 | 1 SYN_SENT |
/// | 2 SYN_RECV | 2 SYN_RECEIVED |
/// | 3 ESTABLISHED | 4 ESTABLISHED |
/// | 4 FIN_WAIT | 6 FIN_WAIT_1 |
/// | 5 CLOSE_WAIT | 5 CLOSE_WAIT |
/// | 6 LAST_ACK | 8 LAST_ACK |
/// | 7 TIME_WAIT | 10 TIME_WAIT |
/// | 8 CLOSE | 11 CLOSED |
/// | other | 0 |
///
/// So a connection destroyed after its FIN or RST prints `STATE:CLOSE`, and
/// one that was flushed or timed out while ESTABLISHED prints `STATE:EXPIRE`,
/// as IP Filter does for an established entry that expires.
#[must_use]
pub fn ipf_tcp_state(linux: u8) -> u8 {
    match linux {
        1 | 9 => 1,
        2 => 2,
        3 => 4,
        4 => 6,
        5 => 5,
        6 => 8,
        7 => 10,
        8 => 11,
        _ => 0,
    }
}

/// Maps a conntrack event to a NAT event, or `None` when the entry is not
/// translated or the event is an update (see the module docs).
#[must_use]
pub fn to_nat_log(ev: &CtEvent, header: Header) -> Option<NatLog> {
    let action = match ev.kind {
        CtEventKind::New => NatAction::New,
        CtEventKind::Destroy => NatAction::Expire,
        CtEventKind::Update => return None,
    };
    let reply = ev.reply?;
    let o = &ev.orig;
    let snat = ev.is_snat() || reply.dst != o.src || reply.dport() != o.sport();
    let dnat = ev.is_dnat() || reply.src != o.dst || reply.sport() != o.dport();
    let nat_type = match (snat, dnat) {
        (true, true) => NatType::Bimap,
        (true, false) => NatType::Map,
        (false, true) => NatType::Rdr,
        (false, false) => return None,
    };
    let (packets, bytes) = counters2(ev);
    Some(NatLog {
        header,
        action,
        nat_type,
        rule: 0,
        protocol: o.proto,
        orig_src: (o.src, o.sport()),
        orig_dst: (o.dst, o.dport()),
        new_src: (reply.dst, reply.dport()),
        new_dst: (reply.src, reply.sport()),
        packets,
        bytes,
        conntrack_id: ev.id,
        ipf_seq: None,
    })
}

fn counters2(ev: &CtEvent) -> (Option<[u64; 2]>, Option<[u64; 2]>) {
    if ev.counters_orig.is_none() && ev.counters_reply.is_none() {
        return (None, None);
    }
    let o = ev.counters_orig.unwrap_or_default();
    let r = ev.counters_reply.unwrap_or_default();
    (Some([o.packets, r.packets]), Some([o.bytes, r.bytes]))
}

/// Maps a conntrack event to a state event (see the module docs).
#[must_use]
pub fn to_state_log(ev: &CtEvent, header: Header) -> StateLog {
    let o: &CtTuple = &ev.orig;
    let ports = match o.icmp_type {
        Some(t) => (u16::from(t), u16::from(o.icmp_code.unwrap_or(0))),
        None => (o.src_port.unwrap_or(0), o.dst_port.unwrap_or(0)),
    };
    let c_o = ev.counters_orig.unwrap_or_default();
    let c_r = ev.counters_reply.unwrap_or_default();
    StateLog {
        header,
        state_type: match ev.kind {
            CtEventKind::New => StateType::New,
            CtEventKind::Update => StateType::Intermediate,
            CtEventKind::Destroy => StateType::Expire,
        },
        protocol: o.proto,
        ip_version: if o.src.is_ipv4() { 4 } else { 6 },
        src: o.src,
        dst: o.dst,
        ports,
        tag: 0,
        tcp_state: ev.tcp_state.map(|s| [ipf_tcp_state(s); 2]),
        packets: [c_o.packets, 0, c_r.packets, 0],
        bytes: [c_o.bytes, 0, c_r.bytes, 0],
        conntrack_id: ev.id,
        ipf_seq: None,
    }
}
