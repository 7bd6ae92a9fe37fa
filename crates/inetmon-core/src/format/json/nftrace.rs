//! The JSON members of an nftables trace step (`kind` `debug`); see the
//! table in the module docs of [`crate::format::json`].

use super::text::{hex, int, opt_int, string};
use crate::dissect::PacketView;
use crate::event::CaptureLayer;
use crate::event::{Interface, NftTraceEvent, NftTraceType};
use crate::format::monitor::connection_line;
use crate::format::monitor::nftrace::{family_text, policy_text};

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
    key(out, "rule_comment");
    opt_string(out, d.rule_comment.as_deref());
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
        string(out, &connection_line(&packet, CaptureLayer::Network, 0));
    }
    let fl = PacketView::capture(&packet, CaptureLayer::Network, 0).flow();
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
    out.extend_from_slice(if d.headers_inherited {
        b"true"
    } else {
        b"false"
    });
    key(out, "ll_header");
    hex(out, &d.ll_header);
    key(out, "network_header");
    hex(out, &d.network_header);
    key(out, "transport_header");
    hex(out, &d.transport_header);
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::event::{Event, NftTraceEvent, NftTraceType};
    use crate::format::json::JsonWriter;

    /// The monitor tests' rule step, with sequence 3, no mark and a
    /// two-byte link-layer header.
    fn step() -> NftTraceEvent {
        let mut s = crate::format::monitor::nftrace::tests::step();
        s.header.seq = 3;
        s.mark = None;
        s.ll_header = vec![0; 2];
        s
    }

    #[test]
    fn debug_object() {
        let mut w = JsonWriter::new();
        let line = w.format(&Event::Debug(Box::new(step()))).to_vec();
        assert_eq!(line.last(), Some(&b'\n'));
        let v: Value = serde_json::from_slice(&line).unwrap();
        let mut m = v.as_object().unwrap().clone();
        for k in ["v", "time"] {
            m.remove(k);
        }
        assert_eq!(
            Value::Object(m),
            json!({
                "kind": "debug", "source": "nftrace", "seq": 3,
                "trace_id": 0x6d98_5a58u32, "family": "inet", "table": "t", "chain": "input",
                "type": "rule", "rule_handle": 8, "rule_comment": null, "verdict": "jump sub", "verdict_code": -3,
                "verdict_chain": "sub", "policy": null, "nfproto": 2,
                "iif": 1, "iifname": "lo", "iiftype": 772,
                "oif": null, "oifname": null, "oiftype": null, "mark": null,
                "summary": "127.0.0.1:35898 -> 127.0.0.1:9999 udp",
                "src": "127.0.0.1", "dst": "127.0.0.1", "protocol": 17,
                "sport": 35898, "dport": 9999, "headers_inherited": false,
                "ll_header": "0000",
                "network_header": "4500001d0a0e4000401100007f0000017f000001",
                "transport_header": "8c3a270f00090000"
            })
        );
        // Key order is fixed: the members follow the common ones.
        let text = String::from_utf8(line).unwrap();
        assert!(text.contains("\"seq\":3,\"trace_id\":"), "{text}");
    }

    #[test]
    fn policy_and_unknown_type() {
        let mut s = step();
        s.trace_type = NftTraceType::Other(9);
        s.verdict = None;
        s.policy = Some(1);
        s.network_header.clear();
        let v: Value =
            serde_json::from_slice(JsonWriter::new().format(&Event::Debug(Box::new(s)))).unwrap();
        assert_eq!(v["type"], "other:9");
        assert_eq!(v["policy"], "accept");
        assert_eq!(v["verdict"], Value::Null);
        assert_eq!(v["summary"], Value::Null);
        assert_eq!(v["src"], Value::Null);
    }
}
