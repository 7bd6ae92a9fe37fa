//! The JSON members of drop and trace events, for the project's JSON schema
//! (`inetmon monitor -j`).
//!
//! Contract with [`crate::format::json`] (the same as the socket events'):
//! [`write_drop_json`] and [`write_trace_json`] append the event-specific
//! members only, with no surrounding braces and no leading or trailing comma.
//! The caller writes `{`, the common members (schema, kind, time, source,
//! seq), a comma, these members, and `}`.
//!
//! Drop members: `cpu`, `reason` (as printed), `reason_code`, `reason_name`
//! and `subsystem` (null when unknown), `location` (symbol or null),
//! `location_addr` (hex string), `ifindex`, `ifname` (or null), `protocol`
//! (ethertype), `orig_len`, `cap_len`, `layer` (`ethernet`/`network`/`none`),
//! `pid`, `tid`, `comm` (null outside process context), `netns` (inode),
//! `netns_name` (its `ip netns` name or null), `netns_own` (false when the
//! drop happened outside the monitor's namespace), `mark`,
//! then the packet members.
//!
//! Trace members: `cpu`, `point` (`from-network`/`to-network`/`from-stack`/
//! `to-stack`), `ifindex`, `ifname`, `protocol`, `orig_len`, `cap_len`,
//! `layer`, `sample_rate`, `netns`, `mark`, `pid`, `tid`, `comm` (the
//! socket's owner at a stack point; null when unknown or at a network
//! point), `sock_cookie` (0: no socket), then the packet members.
//!
//! Packet members: `summary` (the packet's connection line, as `inetmon
//! monitor` prints it: [`crate::format::monitor::connection_line`]), `src`, `dst`,
//! `protocol`, `sport`, `dport` (null when not decoded; of the inner packet
//! for an overlay, as Cilium's dissect summary does), `tunnel` (null, or for
//! VXLAN/Geneve the outer packet: `type` (`vxlan`/`geneve`), `vni`, `src`,
//! `dst`, `protocol`, `sport`, `dport`), `packet` (the captured bytes in
//! hex).

use std::fmt::Write as _;

use super::text::{member_bool, member_num, member_opt_str, member_str};
use crate::dissect::PacketView;
use crate::event::{CaptureLayer, DropEvent, Interface, ProcessContext, TraceEvent};
use crate::format::monitor::connection_line;

/// Appends a drop event's JSON members to `out` (see the module docs).
pub fn write_drop_json(d: &DropEvent, out: &mut Vec<u8>) {
    member_num(out, "cpu", u64::from(d.cpu), true);
    member_str(out, "reason", &d.reason.to_string(), false);
    member_num(out, "reason_code", u64::from(d.reason.code), false);
    member_opt_str(out, "reason_name", d.reason.name.as_deref());
    member_opt_str(out, "subsystem", d.reason.subsystem.as_deref());
    member_opt_str(out, "location", d.location.symbol.as_deref());
    member_str(
        out,
        "location_addr",
        &format!("{:#x}", d.location.addr),
        false,
    );
    push_iface(out, &d.interface);
    member_num(out, "ethertype", u64::from(d.protocol), false);
    member_num(out, "orig_len", u64::from(d.orig_len), false);
    member_num(out, "cap_len", d.packet.len() as u64, false);
    member_str(out, "layer", layer_name(d.layer), false);
    push_process(out, d.process.as_ref());
    member_num(out, "netns", u64::from(d.netns), false);
    member_opt_str(out, "netns_name", d.netns_name.as_deref());
    member_bool(out, "netns_own", !d.foreign_netns);
    member_num(out, "mark", u64::from(d.mark), false);
    push_packet(out, &d.packet, d.layer, d.protocol);
}

/// Appends a trace event's JSON members to `out` (see the module docs).
pub fn write_trace_json(t: &TraceEvent, out: &mut Vec<u8>) {
    member_num(out, "cpu", u64::from(t.cpu), true);
    member_str(out, "point", &t.point.name(), false);
    push_iface(out, &t.interface);
    member_num(out, "ethertype", u64::from(t.protocol), false);
    member_num(out, "orig_len", u64::from(t.orig_len), false);
    member_num(out, "cap_len", t.packet.len() as u64, false);
    member_str(out, "layer", layer_name(t.layer), false);
    member_num(out, "sample_rate", u64::from(t.sample_rate), false);
    member_num(out, "netns", u64::from(t.netns), false);
    member_num(out, "mark", u64::from(t.mark), false);
    push_process(out, t.process.as_ref());
    member_num(out, "sock_cookie", t.sock_cookie, false);
    push_packet(out, &t.packet, t.layer, t.protocol);
}

fn push_process(out: &mut Vec<u8>, p: Option<&ProcessContext>) {
    match p {
        Some(p) => {
            member_num(out, "pid", u64::from(p.pid), false);
            member_num(out, "tid", u64::from(p.tid), false);
            member_str(out, "comm", &p.comm, false);
        }
        None => out.extend_from_slice(b",\"pid\":null,\"tid\":null,\"comm\":null"),
    }
}

fn layer_name(l: CaptureLayer) -> &'static str {
    match l {
        CaptureLayer::Ethernet => "ethernet",
        CaptureLayer::Network => "network",
        CaptureLayer::None => "none",
    }
}

fn push_iface(out: &mut Vec<u8>, i: &Interface) {
    member_num(out, "ifindex", u64::from(i.ifindex), false);
    member_opt_str(out, "ifname", i.name.as_deref());
}

fn push_packet(out: &mut Vec<u8>, data: &[u8], layer: CaptureLayer, et: u16) {
    member_str(out, "summary", &connection_line(data, layer, et), false);
    let view = PacketView::capture(data, layer, et);
    push_flow(out, view.innermost().flow());
    // The outer packet of an overlay (the outermost tunnel).
    match (view.tunnel, view.flow()) {
        (Some(t), Some(f)) => {
            out.extend_from_slice(b",\"tunnel\":{");
            member_str(out, "type", t.kind.name(), true);
            member_num(out, "vni", u64::from(t.vni), false);
            push_flow(out, Some(f));
            out.push(b'}');
        }
        _ => out.extend_from_slice(b",\"tunnel\":null"),
    }
    let mut hex = String::with_capacity(data.len() * 2);
    for b in data {
        let _ = write!(hex, "{b:02x}");
    }
    member_str(out, "packet", &hex, false);
}

/// `src`, `dst`, `protocol`, `sport`, `dport` of a flow (null when not
/// decoded), each with a leading comma.
fn push_flow(out: &mut Vec<u8>, flow: Option<crate::dissect::Flow>) {
    match flow {
        Some(f) => {
            member_str(out, "src", &f.src.to_string(), false);
            member_str(out, "dst", &f.dst.to_string(), false);
            member_num(out, "protocol", u64::from(f.proto), false);
            match f.ports {
                Some((s, d)) => {
                    member_num(out, "sport", u64::from(s), false);
                    member_num(out, "dport", u64::from(d), false);
                }
                None => out.extend_from_slice(b",\"sport\":null,\"dport\":null"),
            }
        }
        None => out.extend_from_slice(
            b",\"src\":null,\"dst\":null,\"protocol\":null,\"sport\":null,\"dport\":null",
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::event::{
        Header, KernelLocation, ObservationPoint, ProcessContext, Source, Timestamp,
    };

    fn header() -> Header {
        Header {
            time: Timestamp::default(),
            source: Source::Datapath,
            seq: 1,
        }
    }

    fn object(members: &[u8]) -> Value {
        let mut s = b"{".to_vec();
        s.extend_from_slice(members);
        s.push(b'}');
        serde_json::from_slice(&s).unwrap()
    }

    #[test]
    fn drop_members() {
        let d = DropEvent {
            cpu: 2,
            location: KernelLocation {
                addr: 0xffff_ffff_8100_0010,
                symbol: Some("f+0x10".into()),
            },
            interface: Interface {
                ifindex: 4,
                name: Some("veth\"0".into()),
            },
            process: Some(ProcessContext {
                pid: 1,
                tid: 2,
                comm: "nc".into(),
            }),
            netns: 9,
            netns_name: Some("blue".into()),
            foreign_netns: true,
            ..DropEvent::sample()
        };
        let mut out = Vec::new();
        write_drop_json(&d, &mut out);
        assert_eq!(
            object(&out),
            json!({
                "cpu": 2, "reason": "NO_SOCKET", "reason_code": 3, "reason_name": "NO_SOCKET",
                "subsystem": null, "location": "f+0x10", "location_addr": "0xffffffff81000010",
                "ifindex": 4, "ifname": "veth\"0", "ethertype": 2048, "orig_len": 28, "cap_len": 28,
                "layer": "network", "pid": 1, "tid": 2, "comm": "nc", "netns": 9,
                "netns_name": "blue", "netns_own": false, "mark": 0,
                "summary": "10.0.0.1:41022 -> 10.0.0.2:8080 udp", "src": "10.0.0.1",
                "dst": "10.0.0.2", "protocol": 17, "sport": 41022, "dport": 8080,
                "tunnel": null,
                "packet": "4500001c00010000401100000a0000010a000002a03e1f9000080000",
            })
        );
    }

    /// A stack trace names the socket's owner; an overlay packet gives the
    /// inner flow at the top level and the outer one under `tunnel`
    /// (monitor-vectors V6/V8's packet on the VXLAN port).
    #[test]
    fn trace_owner_and_tunnel() {
        let mut pkt = crate::format::monitor::tests::pkt("PKT_VXLAN_SYN");
        pkt[36..38].copy_from_slice(&4789u16.to_be_bytes());
        let t = TraceEvent {
            header: header(),
            cpu: 1,
            point: ObservationPoint::FromStack,
            interface: Interface::default(),
            protocol: 0x0800,
            orig_len: 104,
            layer: CaptureLayer::Ethernet,
            packet: pkt,
            sample_rate: 1,
            mark: 0,
            netns: 7,
            process: Some(ProcessContext {
                pid: 42,
                tid: 43,
                comm: "curl".into(),
            }),
            sock_cookie: 9,
        };
        let mut out = Vec::new();
        write_trace_json(&t, &mut out);
        let v = object(&out);
        assert_eq!(v["point"], "from-stack");
        assert_eq!(
            (v["pid"].clone(), v["tid"].clone(), v["comm"].clone()),
            (json!(42), json!(43), json!("curl"))
        );
        assert_eq!(v["sock_cookie"], 9);
        assert_eq!(
            v["summary"],
            "1.2.3.4:80 -> 5.6.7.8:443 tcp SYN [tunnel 1.1.1.1:8472 -> 2.2.2.2:4789 vxlan]"
        );
        assert_eq!(
            (
                v["src"].clone(),
                v["dst"].clone(),
                v["protocol"].clone(),
                v["sport"].clone(),
                v["dport"].clone()
            ),
            (
                json!("1.2.3.4"),
                json!("5.6.7.8"),
                json!(6),
                json!(80),
                json!(443)
            )
        );
        assert_eq!(
            v["tunnel"],
            json!({"type": "vxlan", "vni": 2, "src": "1.1.1.1", "dst": "2.2.2.2",
                   "protocol": 17, "sport": 8472, "dport": 4789})
        );
    }

    #[test]
    fn trace_members_without_packet() {
        let t = TraceEvent {
            header: header(),
            cpu: 0,
            point: ObservationPoint::ToNetwork,
            interface: Interface {
                ifindex: 5,
                name: None,
            },
            protocol: 0x86dd,
            orig_len: 0,
            layer: CaptureLayer::None,
            packet: Vec::new(),
            sample_rate: 100,
            mark: 1,
            netns: 0,
            process: None,
            sock_cookie: 0,
        };
        let mut out = Vec::new();
        write_trace_json(&t, &mut out);
        let v = object(&out);
        assert_eq!(v["point"], "to-network");
        assert_eq!(v["ifname"], Value::Null);
        assert_eq!(v["summary"], "[unknown]");
        assert_eq!(v["src"], Value::Null);
        assert_eq!(v["sample_rate"], 100);
        assert_eq!(v["packet"], "");
    }
}
