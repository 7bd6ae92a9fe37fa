//! The JSON fields of a socket event, for the project's JSON schema.
//!
//! Contract with [`crate::format::json`]: [`write_sock_json`] appends the
//! sock-specific members only — `"op":…` through the last member — with no
//! surrounding braces and no leading or trailing comma. The caller writes
//! `{`, the common members (schema, kind, time, source, seq), a comma, these
//! members, and `}`.
//!
//! Members: `op`, `monitor` (AHAFS monitor name or null), `pid`, `tid`,
//! `uid`, `gid`, `comm`, `attribution`, `family` (number), `type` (number),
//! `protocol` (number), `local_addr`, `local_port`, `foreign_addr`,
//! `foreign_port` (null when the operation has no such end), `mapped`,
//! `cgroup_id`, `netns`, `cookie`, `errno` (0 on success), `error` (errno
//! name or null), `initiator` (`local`/`peer`/null), `existing`, and at info
//! level 3 `cmdline` and `ppid`.

use std::io::Write as _;
use std::net::IpAddr;

use crate::event::SockEvent;
use crate::format::sockline::errno_name;

/// Appends the sock event's JSON members to `out` (see the module docs).
pub fn write_sock_json(ev: &SockEvent, out: &mut Vec<u8>) {
    let t = &ev.task;
    push_str_member(out, "op", ev.op.as_str(), true);
    match ev.monitor() {
        Some(m) => push_str_member(out, "monitor", m.name(), false),
        None => out.extend_from_slice(b",\"monitor\":null"),
    }
    push_num(out, "pid", u64::from(t.pid));
    push_num(out, "tid", u64::from(t.tid));
    push_num(out, "uid", u64::from(t.uid));
    push_num(out, "gid", u64::from(t.gid));
    push_str_member(out, "comm", &t.comm, false);
    push_str_member(out, "attribution", ev.attribution.as_str(), false);
    push_num(out, "family", u64::from(ev.family));
    push_num(out, "type", u64::from(ev.sock_type));
    push_num(out, "protocol", u64::from(ev.protocol));
    push_end(out, "local_addr", "local_port", ev.local);
    push_end(out, "foreign_addr", "foreign_port", ev.foreign);
    push_bool(out, "mapped", ev.mapped);
    push_num(out, "cgroup_id", ev.cgroup_id);
    push_num(out, "netns", u64::from(ev.netns));
    push_num(out, "cookie", ev.cookie);
    push_num(out, "errno", u64::from(ev.errno));
    match errno_name(ev.errno).filter(|_| ev.errno != 0) {
        Some(n) => push_str_member(out, "error", n, false),
        None => out.extend_from_slice(b",\"error\":null"),
    }
    match ev.initiator {
        Some(i) => push_str_member(out, "initiator", i.as_str(), false),
        None => out.extend_from_slice(b",\"initiator\":null"),
    }
    push_bool(out, "existing", ev.existing);
    if let Some(p) = &ev.process {
        push_str_member(out, "cmdline", &p.cmdline, false);
        push_num(out, "ppid", u64::from(p.ppid));
    }
}

fn push_key(out: &mut Vec<u8>, key: &str, first: bool) {
    if !first {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

fn push_str_member(out: &mut Vec<u8>, key: &str, val: &str, first: bool) {
    push_key(out, key, first);
    // serde_json's string escaping; writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, val);
}

fn push_num(out: &mut Vec<u8>, key: &str, v: u64) {
    push_key(out, key, false);
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn push_bool(out: &mut Vec<u8>, key: &str, v: bool) {
    push_key(out, key, false);
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

fn push_end(out: &mut Vec<u8>, addr_key: &str, port_key: &str, end: Option<(IpAddr, u16)>) {
    match end {
        Some((a, p)) => {
            push_key(out, addr_key, false);
            // An address never needs JSON escaping.
            let _ = write!(out, "\"{a}\"");
            push_num(out, port_key, u64::from(p));
        }
        None => {
            push_key(out, addr_key, false);
            out.extend_from_slice(b"null");
            push_key(out, port_key, false);
            out.extend_from_slice(b"null");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Attribution, Header, Initiator, SockOp, SockTask, Source, Timestamp};

    #[test]
    fn members_form_valid_json() {
        let ev = SockEvent {
            header: Header {
                time: Timestamp::default(),
                source: Source::Sockets,
                seq: 1,
            },
            op: SockOp::Disconnect,
            task: SockTask {
                pid: 1,
                tid: 2,
                uid: 3,
                gid: 4,
                comm: "a\"b".into(),
            },
            attribution: Attribution::Owner,
            family: 10,
            sock_type: 1,
            protocol: 6,
            local: Some(("::1".parse().unwrap(), 5)),
            foreign: None,
            mapped: false,
            cgroup_id: 7,
            netns: 8,
            cookie: 9,
            errno: 104,
            initiator: Some(Initiator::Peer),
            existing: true,
            process: None,
        };
        let mut out = b"{".to_vec();
        write_sock_json(&ev, &mut out);
        out.push(b'}');
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["op"], "disconnect");
        assert_eq!(v["monitor"], "streamDisconnect");
        assert_eq!(v["comm"], "a\"b");
        assert_eq!(v["attribution"], "owner");
        assert_eq!(v["local_addr"], "::1");
        assert_eq!(v["local_port"], 5);
        assert!(v["foreign_addr"].is_null());
        assert_eq!(v["error"], "ECONNRESET");
        assert_eq!(v["initiator"], "peer");
        assert_eq!(v["existing"], true);
        assert_eq!(v["cookie"], 9);
    }
}
