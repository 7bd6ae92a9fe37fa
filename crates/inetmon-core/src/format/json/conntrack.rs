//! The fields of NAT and state events.

use std::net::IpAddr;

use super::packet::{addr, protocol_fields};
use super::text::{int, opt_int, opt_pair, string};
use crate::dissect::proto;
use crate::event::{NatAction, NatLog, NatType, StateLog, StateType};

/// A name, or for an unknown value `other:N`.
fn named(out: &mut Vec<u8>, name: Option<&str>, raw: u32) {
    match name {
        Some(n) => string(out, n),
        None => {
            out.extend_from_slice(b"\"other:");
            int(out, raw);
            out.push(b'"');
        }
    }
}

/// `,"<prefix>_<src|dst>":"addr","<prefix>_<sport|dport>":port`
fn endpoint(out: &mut Vec<u8>, addr_key: &[u8], port_key: &[u8], (a, port): (IpAddr, u16)) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(addr_key);
    out.extend_from_slice(b"\":");
    addr(out, Some(a));
    out.extend_from_slice(b",\"");
    out.extend_from_slice(port_key);
    out.extend_from_slice(b"\":");
    int(out, port);
}

fn u64_list(out: &mut Vec<u8>, v: Option<&[u64]>) {
    let Some(v) = v else {
        out.extend_from_slice(b"null");
        return;
    };
    out.push(b'[');
    for (i, n) in v.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        int(out, *n);
    }
    out.push(b']');
}

/// Appends the NAT-specific members (each preceded by a comma).
pub(super) fn nat_fields(out: &mut Vec<u8>, n: &NatLog) {
    let NatLog {
        header: _,
        action,
        nat_type,
        rule,
        protocol,
        orig_src,
        orig_dst,
        new_src,
        new_dst,
        packets,
        bytes,
        conntrack_id,
        ipf_seq,
    } = n;
    out.extend_from_slice(b",\"nat_action\":");
    let (name, raw) = match action {
        NatAction::New => (Some("new"), 0),
        NatAction::Clone => (Some("clone"), 0),
        NatAction::Purge => (Some("purge"), 0),
        NatAction::Destroy => (Some("destroy"), 0),
        NatAction::Flush => (Some("flush"), 0),
        NatAction::Expire => (Some("expire"), 0),
        NatAction::Other(v) => (None, *v),
    };
    named(out, name, raw);
    out.extend_from_slice(b",\"nat_type\":");
    let (name, raw) = match nat_type {
        NatType::Map => (Some("map"), 0),
        NatType::Rdr => (Some("rdr"), 0),
        NatType::Bimap => (Some("bimap"), 0),
        NatType::MapBlock => (Some("mapblock"), 0),
        NatType::Other(v) => (None, *v),
    };
    named(out, name, raw);
    out.extend_from_slice(b",\"rule\":");
    int(out, *rule);
    protocol_fields(out, Some(*protocol));
    endpoint(out, b"orig_src", b"orig_sport", *orig_src);
    endpoint(out, b"orig_dst", b"orig_dport", *orig_dst);
    endpoint(out, b"new_src", b"new_sport", *new_src);
    endpoint(out, b"new_dst", b"new_dport", *new_dst);
    out.extend_from_slice(b",\"packets\":");
    u64_list(out, packets.as_ref().map(|p| &p[..]));
    out.extend_from_slice(b",\"bytes\":");
    u64_list(out, bytes.as_ref().map(|p| &p[..]));
    out.extend_from_slice(b",\"conntrack_id\":");
    opt_int(out, *conntrack_id);
    out.extend_from_slice(b",\"ipf_seq\":");
    opt_int(out, *ipf_seq);
}

/// Appends the state-specific members (each preceded by a comma).
pub(super) fn state_fields(out: &mut Vec<u8>, s: &StateLog) {
    let StateLog {
        header: _,
        state_type,
        protocol,
        ip_version,
        src,
        dst,
        ports,
        tag,
        tcp_state,
        packets,
        bytes,
        conntrack_id,
        ipf_seq,
    } = s;
    out.extend_from_slice(b",\"state_type\":");
    let (name, raw) = match state_type {
        StateType::New => (Some("new"), 0),
        StateType::Cloned => (Some("cloned"), 0),
        StateType::Expire => (Some("expire"), 0),
        StateType::Flush => (Some("flush"), 0),
        StateType::Intermediate => (Some("intermediate"), 0),
        StateType::Remove => (Some("remove"), 0),
        StateType::Killed => (Some("killed"), 0),
        StateType::Unload => (Some("unload"), 0),
        StateType::Other(v) => (None, *v),
    };
    named(out, name, raw);
    protocol_fields(out, Some(*protocol));
    out.extend_from_slice(b",\"ip_version\":");
    int(out, *ip_version);
    out.extend_from_slice(b",\"src\":");
    addr(out, Some(*src));
    out.extend_from_slice(b",\"dst\":");
    addr(out, Some(*dst));
    let has_ports = matches!(*protocol, proto::TCP | proto::UDP);
    let is_icmp = matches!(*protocol, proto::ICMP | proto::ICMPV6);
    out.extend_from_slice(b",\"sport\":");
    opt_int(out, has_ports.then_some(ports.0));
    out.extend_from_slice(b",\"dport\":");
    opt_int(out, has_ports.then_some(ports.1));
    out.extend_from_slice(b",\"icmp_type\":");
    opt_int(out, is_icmp.then_some(ports.0));
    out.extend_from_slice(b",\"tag\":");
    int(out, *tag);
    out.extend_from_slice(b",\"tcp_state\":");
    opt_pair(out, tcp_state.map(|[a, b]| (a, b)));
    out.extend_from_slice(b",\"packets\":");
    u64_list(out, Some(&packets[..]));
    out.extend_from_slice(b",\"bytes\":");
    u64_list(out, Some(&bytes[..]));
    out.extend_from_slice(b",\"conntrack_id\":");
    opt_int(out, *conntrack_id);
    out.extend_from_slice(b",\"ipf_seq\":");
    opt_int(out, *ipf_seq);
}
