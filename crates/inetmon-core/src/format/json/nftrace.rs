//! The JSON members of an nftables trace step (`kind` `debug`); see the
//! table in the module docs of [`crate::format::json`].

use super::text::{hex, int, opt_int, string};
use crate::event::{Interface, NftTraceEvent, NftTraceType};
use crate::format::monitor::connection_summary;
use crate::format::monitor::dissect::flow;
use crate::format::monitor::nftrace::{family_text, policy_text};
use crate::event::CaptureLayer;

fn key(out: &mut Vec<u8>, k: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(k.as_bytes());
    out.extend_from_slice(b"\":");
}

fn opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn iface(out: &mut Vec<u8>, prefix: &str, i: Option<&Interface>, ty: Option<u16>) {
    key(out, prefix);
    opt_int(out, i.map(|i| i.ifindex));
    key(out, &format!("{prefix}name"));
    opt_string(out, i.and_then(|i| i.name.as_deref()));
    key(out, &format!("{prefix}type"));
    opt_int(out, ty);
}

/// Appends the members of `d` (each with its leading comma).
pub(super) fn fields(out: &mut Vec<u8>, d: &NftTraceEvent) {
    key(out, "trace_id");
    int(out, d.id);
    key(out, "family");
    string(out, &family_text(d.family));
    key(out, "table");
    string(out, &d.table);
    key(out, "chain");
    string(out, &d.chain);
    key(out, "type");
    let ty = match d.trace_type {
        NftTraceType::Other(x) => format!("other:{x}"),
        t => t.name(),
    };
    string(out, &ty);
    key(out, "rule_handle");
    opt_int(out, d.rule_handle);
    key(out, "verdict");
    opt_string(out, d.verdict.as_ref().map(|v| v.text()).as_deref());
    key(out, "verdict_code");
    opt_int(out, d.verdict.as_ref().map(|v| v.code));
    key(out, "verdict_chain");
    opt_string(out, d.verdict.as_ref().and_then(|v| v.chain.as_deref()));
    key(out, "policy");
    opt_string(out, d.policy.map(policy_text).as_deref());
    key(out, "nfproto");
    opt_int(out, d.nfproto);
    iface(out, "iif", d.iif.as_ref(), d.iif_type);
    iface(out, "oif", d.oif.as_ref(), d.oif_type);
    key(out, "mark");
    opt_int(out, d.mark);
    let packet = d.packet();
    key(out, "summary");
    if packet.is_empty() {
        out.extend_from_slice(b"null");
    } else {
        string(out, &connection_summary(&packet, CaptureLayer::Network, 0));
    }
    let fl = flow(&packet, CaptureLayer::Network, 0);
    key(out, "src");
    opt_string(out, fl.as_ref().map(|f| f.src.to_string()).as_deref());
    key(out, "dst");
    opt_string(out, fl.as_ref().map(|f| f.dst.to_string()).as_deref());
    key(out, "protocol");
    opt_int(out, fl.as_ref().map(|f| f.proto));
    key(out, "sport");
    opt_int(out, fl.as_ref().and_then(|f| f.ports).map(|p| p.0));
    key(out, "dport");
    opt_int(out, fl.as_ref().and_then(|f| f.ports).map(|p| p.1));
    key(out, "headers_inherited");
    out.extend_from_slice(if d.headers_inherited { b"true" } else { b"false" });
    key(out, "ll_header");
    hex(out, &d.ll_header);
    key(out, "network_header");
    hex(out, &d.network_header);
    key(out, "transport_header");
    hex(out, &d.transport_header);
}
