//! `NAT:` and `STATE:` lines (`print_natlog`/`print_statelog`, reference
//! §2). Both are sent at `LOG_INFO` in syslog mode.

use std::net::IpAddr;

use super::{push_i64, push_u64, IpmonFormatter, Rendered, LOG_INFO};
use crate::dissect::proto;
use crate::event::{NatAction, NatLog, NatType, StateLog, StateType};

/// IP Filter's `IPF_TCPS_ESTABLISHED`: an expiring TCP entry with either
/// side beyond it prints `STATE:CLOSE`.
const TCPS_ESTABLISHED: u8 = 4;

fn endpoint(f: &IpmonFormatter, t: &mut Vec<u8>, pr: u8, ep: &(IpAddr, u16)) {
    f.write_addr(t, &ep.0);
    t.push(b',');
    f.write_port(t, pr, ep.1);
}

/// `a`, `sep`, `b`.
fn endpoints(
    f: &IpmonFormatter,
    t: &mut Vec<u8>,
    pr: u8,
    a: &(IpAddr, u16),
    sep: &[u8],
    b: &(IpAddr, u16),
) {
    endpoint(f, t, pr, a);
    t.extend_from_slice(sep);
    endpoint(f, t, pr, b);
}

/// The `-MAP `… word of a NAT line, or the number of a type without one
/// (printed `-Type(N) `).
fn nat_type_name(ty: NatType) -> Result<&'static [u8], u32> {
    let name: &'static [u8] = match ty {
        NatType::Map => b"-MAP ",
        NatType::Rdr => b"-RDR ",
        NatType::Bimap => b"-BIMAP ",
        NatType::MapBlock => b"-MAPBLOCK ",
        NatType::Other(0x09) => b"-RWR_MAP ",
        NatType::Other(0x0a) => b"-RWR_RDR ",
        NatType::Other(0x11) => b"-ENC_MAP ",
        NatType::Other(0x12) => b"-ENC_RDR ",
        NatType::Other(0x21) => b"-DIV_MAP ",
        NatType::Other(0x22) => b"-DIV_RDR ",
        NatType::Other(v) => return Err(v),
    };
    Ok(name)
}

/// Appends the `NAT:` line for `n`.
pub(super) fn format_nat(f: &mut IpmonFormatter, n: &NatLog, out: &mut Rendered) {
    let start = out.begin();
    let t = &mut out.text;
    f.write_time(t, n.header.time);
    t.push(b'@');
    // "@%hd" of nl_rule + 1.
    push_i64(t, i64::from(n.rule as u16 as i16));
    t.push(b' ');
    match n.action {
        NatAction::New => t.extend_from_slice(b"NAT:NEW"),
        NatAction::Clone => t.extend_from_slice(b"NAT:CLONE"),
        NatAction::Purge => t.extend_from_slice(b"NAT:PURGE"),
        NatAction::Destroy => t.extend_from_slice(b"NAT:DESTROY"),
        NatAction::Flush => t.extend_from_slice(b"NAT:FLUSH"),
        NatAction::Expire => t.extend_from_slice(b"NAT:EXPIRE"),
        NatAction::Other(v) => {
            t.extend_from_slice(b"NAT:Action(");
            push_i64(t, i64::from(v as i32));
            t.push(b')');
        }
    }
    // IP Filter's own four kinds print one side per direction; the others
    // (the named RWR/ENC/DIV ones too) print all four endpoints.
    let simple = !matches!(n.nat_type, NatType::Other(_));
    match nat_type_name(n.nat_type) {
        Ok(name) => t.extend_from_slice(name),
        Err(v) => {
            t.extend_from_slice(b"-Type(");
            push_i64(t, i64::from(v as i32));
            t.extend_from_slice(b") ");
        }
    }
    let pr = n.protocol;
    if simple {
        endpoints(f, t, pr, &n.orig_src, b" <- -> ", &n.new_src);
        t.extend_from_slice(b" [");
        endpoint(f, t, pr, &n.orig_dst);
        t.extend_from_slice(b"] ");
    } else {
        endpoints(f, t, pr, &n.orig_src, b" ", &n.orig_dst);
        t.extend_from_slice(b" <- -> ");
        endpoints(f, t, pr, &n.new_src, b" ", &n.new_dst);
        t.push(b' ');
    }
    f.write_proto(t, pr);
    if matches!(n.action, NatAction::Expire | NatAction::Flush) {
        let pk = n.packets.unwrap_or([0; 2]);
        let by = n.bytes.unwrap_or([0; 2]);
        t.extend_from_slice(b" Pkts ");
        push_i64(t, pk[0] as i64);
        t.push(b'/');
        push_i64(t, pk[1] as i64);
        t.extend_from_slice(b" Bytes ");
        push_i64(t, by[0] as i64);
        t.push(b'/');
        push_i64(t, by[1] as i64);
    }
    t.push(b'\n');
    out.end(start, LOG_INFO);
}

/// Appends the `STATE:` line for `s`.
pub(super) fn format_state(f: &mut IpmonFormatter, s: &StateLog, out: &mut Rendered) {
    let start = out.begin();
    let t = &mut out.text;
    f.write_time(t, s.header.time);
    let word: &[u8] = match s.state_type {
        StateType::New => b"STATE:NEW ",
        StateType::Cloned => b"STATE:CLONED ",
        StateType::Expire => {
            let closing = s.protocol == proto::TCP
                && s.tcp_state
                    .is_some_and(|st| st.iter().any(|x| *x > TCPS_ESTABLISHED));
            if closing {
                b"STATE:CLOSE "
            } else {
                b"STATE:EXPIRE "
            }
        }
        StateType::Flush => b"STATE:FLUSH ",
        StateType::Intermediate => b"STATE:INTERMEDIATE ",
        StateType::Remove => b"STATE:REMOVE ",
        StateType::Killed => b"STATE:KILLED ",
        StateType::Unload => b"STATE:UNLOAD ",
        StateType::Other(v) => {
            t.extend_from_slice(b"Type: ");
            push_i64(t, i64::from(v as i32));
            b" "
        }
    };
    t.extend_from_slice(word);
    let pr = s.protocol;
    if pr == proto::TCP || pr == proto::UDP {
        endpoint(f, t, pr, &(s.src, s.ports.0));
        t.extend_from_slice(b" -> ");
        endpoint(f, t, pr, &(s.dst, s.ports.1));
        t.extend_from_slice(b" PR ");
        f.write_proto(t, pr);
    } else {
        f.write_addr(t, &s.src);
        t.extend_from_slice(b" -> ");
        f.write_addr(t, &s.dst);
        if pr == proto::ICMP || pr == proto::ICMPV6 {
            t.extend_from_slice(if pr == proto::ICMP {
                b" PR icmp "
            } else {
                b" PR icmpv6 "
            });
            push_u64(t, u64::from(s.ports.0));
        } else {
            t.extend_from_slice(b" PR ");
            f.write_proto(t, pr);
        }
    }
    if s.tag != 0 {
        t.extend_from_slice(b" tag ");
        push_u64(t, u64::from(s.tag));
    }
    if s.state_type != StateType::New {
        let labels: [&[u8]; 8] = [
            b" Forward: Pkts in ",
            b" Bytes in ",
            b" Pkts out ",
            b" Bytes out ",
            b" Backward: Pkts in ",
            b" Bytes in ",
            b" Pkts out ",
            b" Bytes out ",
        ];
        for (i, label) in labels.iter().enumerate() {
            t.extend_from_slice(label);
            let v = if i % 2 == 0 {
                s.packets.get(i / 2)
            } else {
                s.bytes.get(i / 2)
            };
            push_i64(t, v.copied().unwrap_or(0) as i64);
        }
    }
    t.push(b'\n');
    out.end(start, LOG_INFO);
}
