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

use super::text::{member_bool, member_key, member_num, member_str};
use crate::event::SockEvent;
use crate::format::sockline::errno_name;

/// Appends the sock event's JSON members to `out` (see the module docs).
pub fn write_sock_json(ev: &SockEvent, out: &mut Vec<u8>) {
    let t = &ev.task;
    member_str(out, "op", ev.op.as_str(), true);
    match ev.monitor() {
        Some(m) => member_str(out, "monitor", m.name(), false),
        None => out.extend_from_slice(b",\"monitor\":null"),
    }
    member_num(out, "pid", u64::from(t.pid), false);
    member_num(out, "tid", u64::from(t.tid), false);
    member_num(out, "uid", u64::from(t.uid), false);
    member_num(out, "gid", u64::from(t.gid), false);
    member_str(out, "comm", &t.comm, false);
    member_str(out, "attribution", ev.attribution.as_str(), false);
    member_num(out, "family", u64::from(ev.family), false);
    member_num(out, "type", u64::from(ev.sock_type), false);
    member_num(out, "protocol", u64::from(ev.protocol), false);
    push_end(out, "local_addr", "local_port", ev.local);
    push_end(out, "foreign_addr", "foreign_port", ev.foreign);
    member_bool(out, "mapped", ev.mapped);
    member_num(out, "cgroup_id", ev.cgroup_id, false);
    member_num(out, "netns", u64::from(ev.netns), false);
    member_num(out, "cookie", ev.cookie, false);
    member_num(out, "errno", u64::from(ev.errno), false);
    match errno_name(ev.errno).filter(|_| ev.errno != 0) {
        Some(n) => member_str(out, "error", n, false),
        None => out.extend_from_slice(b",\"error\":null"),
    }
    match ev.initiator {
        Some(i) => member_str(out, "initiator", i.as_str(), false),
        None => out.extend_from_slice(b",\"initiator\":null"),
    }
    member_bool(out, "existing", ev.existing);
    if let Some(p) = &ev.process {
        member_str(out, "cmdline", &p.cmdline, false);
        member_num(out, "ppid", u64::from(p.ppid), false);
    }
}

fn push_end(out: &mut Vec<u8>, addr_key: &str, port_key: &str, end: Option<(IpAddr, u16)>) {
    match end {
        Some((a, p)) => {
            member_key(out, addr_key, false);
            // An address never needs JSON escaping.
            let _ = write!(out, "\"{a}\"");
            member_num(out, port_key, u64::from(p), false);
        }
        None => {
            member_key(out, addr_key, false);
            out.extend_from_slice(b"null");
            member_key(out, port_key, false);
            out.extend_from_slice(b"null");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Attribution, Initiator, SockOp, SockTask};

    #[test]
    fn members_form_valid_json() {
        let ev = SockEvent {
            op: SockOp::Disconnect,
            task: SockTask {
                comm: "a\"b".into(),
                ..SockEvent::sample().task
            },
            attribution: Attribution::Owner,
            family: 10,
            local: Some(("::1".parse().unwrap(), 5)),
            foreign: None,
            cookie: 9,
            errno: 104,
            initiator: Some(Initiator::Peer),
            existing: true,
            ..SockEvent::sample()
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
