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

use super::text::{int, string};
use crate::event::SockEvent;
use crate::format::sockline::errno_name;

/// Appends the sock event's JSON members to `out` (see the module docs).
///
/// On the hot path of `inetmon sockets --format json` (a connection storm
/// makes about eight events per connection): each run of constant text
/// between two values is one literal, and the names the event model gives
/// (operation, monitor, attribution, initiator, errno) are plain ASCII
/// identifiers copied without an escaping pass; only `comm` and `cmdline`
/// are escaped.
pub fn write_sock_json(ev: &SockEvent, out: &mut Vec<u8>) {
    let t = &ev.task;
    out.extend_from_slice(b"\"op\":\"");
    out.extend_from_slice(ev.op.as_str().as_bytes());
    match ev.monitor() {
        Some(m) => {
            out.extend_from_slice(b"\",\"monitor\":\"");
            out.extend_from_slice(m.name().as_bytes());
            out.extend_from_slice(b"\",\"pid\":");
        }
        None => out.extend_from_slice(b"\",\"monitor\":null,\"pid\":"),
    }
    int(out, t.pid);
    num(out, b",\"tid\":", t.tid);
    num(out, b",\"uid\":", t.uid);
    num(out, b",\"gid\":", t.gid);
    out.extend_from_slice(b",\"comm\":");
    string(out, &t.comm);
    out.extend_from_slice(b",\"attribution\":\"");
    out.extend_from_slice(ev.attribution.as_str().as_bytes());
    num(out, b"\",\"family\":", ev.family);
    num(out, b",\"type\":", ev.sock_type);
    num(out, b",\"protocol\":", ev.protocol);
    push_end(out, b",\"local_addr\":", b",\"local_port\":", ev.local);
    push_end(
        out,
        b",\"foreign_addr\":",
        b",\"foreign_port\":",
        ev.foreign,
    );
    let mapped: &[u8] = if ev.mapped {
        b",\"mapped\":true,\"cgroup_id\":"
    } else {
        b",\"mapped\":false,\"cgroup_id\":"
    };
    num(out, mapped, ev.cgroup_id);
    num(out, b",\"netns\":", ev.netns);
    num(out, b",\"cookie\":", ev.cookie);
    num(out, b",\"errno\":", ev.errno);
    match errno_name(ev.errno).filter(|_| ev.errno != 0) {
        Some(n) => {
            out.extend_from_slice(b",\"error\":\"");
            out.extend_from_slice(n.as_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b",\"error\":null"),
    }
    match ev.initiator {
        Some(i) => {
            out.extend_from_slice(b",\"initiator\":\"");
            out.extend_from_slice(i.as_str().as_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b",\"initiator\":null"),
    }
    out.extend_from_slice(if ev.existing {
        b",\"existing\":true"
    } else {
        b",\"existing\":false"
    });
    if let Some(p) = &ev.process {
        out.extend_from_slice(b",\"cmdline\":");
        string(out, &p.cmdline);
        num(out, b",\"ppid\":", p.ppid);
    }
}

/// The literal `text` (a key and what precedes it), then `n`.
fn num<I: itoa::Integer>(out: &mut Vec<u8>, text: &[u8], n: I) {
    out.extend_from_slice(text);
    int(out, n);
}

/// `,"…_addr":"A","…_port":P`, or both `null`. An IPv4 address is written
/// with `itoa` (dotted decimal, as its `Display` writes it, without the
/// formatting machinery); IPv6 through `Display` (RFC 5952).
fn push_end(out: &mut Vec<u8>, addr_key: &[u8], port_key: &[u8], end: Option<(IpAddr, u16)>) {
    out.extend_from_slice(addr_key);
    match end {
        Some((a, p)) => {
            out.push(b'"');
            match a {
                IpAddr::V4(v4) => {
                    for (i, o) in v4.octets().into_iter().enumerate() {
                        if i > 0 {
                            out.push(b'.');
                        }
                        int(out, o);
                    }
                }
                // An address never needs JSON escaping.
                IpAddr::V6(v6) => {
                    let _ = write!(out, "{v6}");
                }
            }
            out.push(b'"');
            num(out, port_key, p);
        }
        None => {
            out.extend_from_slice(b"null");
            out.extend_from_slice(port_key);
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

    /// The literal runs give the same bytes as writing each member on its
    /// own (serde_json strings, `Display` addresses), for IPv4, IPv6, no
    /// ends, a `comm` that needs escaping and process details.
    #[test]
    fn members_equal_member_by_member_rendering() {
        use crate::event::ProcessInfo;
        fn reference(ev: &SockEvent) -> String {
            let q = |s: &str| serde_json::to_string(s).unwrap();
            let opt = |s: Option<&str>| s.map_or("null".to_string(), q);
            let end = |e: Option<(IpAddr, u16)>| match e {
                Some((a, p)) => (q(&a.to_string()), p.to_string()),
                None => ("null".into(), "null".into()),
            };
            let t = &ev.task;
            let (la, lp) = end(ev.local);
            let (fa, fp) = end(ev.foreign);
            let mut s = format!(
                "\"op\":{},\"monitor\":{},\"pid\":{},\"tid\":{},\"uid\":{},\"gid\":{},\"comm\":{},\"attribution\":{},\"family\":{},\"type\":{},\"protocol\":{},\"local_addr\":{la},\"local_port\":{lp},\"foreign_addr\":{fa},\"foreign_port\":{fp},\"mapped\":{},\"cgroup_id\":{},\"netns\":{},\"cookie\":{},\"errno\":{},\"error\":{},\"initiator\":{},\"existing\":{}",
                q(ev.op.as_str()),
                opt(ev.monitor().map(|m| m.name())),
                t.pid,
                t.tid,
                t.uid,
                t.gid,
                q(&t.comm),
                q(ev.attribution.as_str()),
                ev.family,
                ev.sock_type,
                ev.protocol,
                ev.mapped,
                ev.cgroup_id,
                ev.netns,
                ev.cookie,
                ev.errno,
                opt(errno_name(ev.errno).filter(|_| ev.errno != 0)),
                opt(ev.initiator.map(|i| i.as_str())),
                ev.existing,
            );
            if let Some(p) = &ev.process {
                s += &format!(",\"cmdline\":{},\"ppid\":{}", q(&p.cmdline), p.ppid);
            }
            s
        }
        let base = SockEvent {
            header: Header {
                time: Timestamp::default(),
                source: Source::Sockets,
                seq: 1,
            },
            op: SockOp::Connect,
            task: SockTask {
                pid: 4_294_967_295,
                tid: 0,
                uid: 1000,
                gid: 65534,
                comm: "sockstorm".into(),
            },
            attribution: Attribution::Process,
            family: 2,
            sock_type: 1,
            protocol: 6,
            local: Some(("127.0.0.1".parse().unwrap(), 40000)),
            foreign: Some(("255.0.10.200".parse().unwrap(), 0)),
            mapped: false,
            cgroup_id: u64::MAX,
            netns: 4_026_531_840,
            cookie: 12345,
            errno: 0,
            initiator: None,
            existing: false,
            process: None,
            link: Default::default(),
        };
        let mut v6 = base.clone();
        v6.op = SockOp::Close;
        v6.family = 10;
        v6.local = Some(("2001:db8::1".parse().unwrap(), 443));
        v6.foreign = Some(("::ffff:10.0.0.1".parse().unwrap(), 5));
        v6.mapped = true;
        v6.errno = 111;
        v6.initiator = Some(Initiator::Local);
        v6.existing = true;
        v6.task.comm = "a\"b\\c\u{1}\t\u{7f}é".into();
        v6.process = Some(ProcessInfo {
            cmdline: "x \"y\"".into(),
            ppid: 1,
        });
        let mut none = base.clone();
        none.op = SockOp::Create;
        none.local = None;
        none.foreign = None;
        none.errno = 99_999;
        none.attribution = Attribution::Unknown;
        for ev in [base, v6, none] {
            let mut out = Vec::new();
            write_sock_json(&ev, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), reference(&ev));
        }
    }
}
