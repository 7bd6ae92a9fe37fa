//! One aligned line per socket event (`inetmon sockets --format line`):
//!
//! ```text
//! 2026-11-21 08:40:25.123456 connected  tcp4 curl[1234/1235] uid=0 10.0.0.1:40000 -> 10.0.0.2:80 ECONNREFUSED cookie=77 owner
//! ```
//!
//! Columns: local time with microseconds, operation, protocol and IP
//! version, `comm[pid/tid]`, uid, the ends the operation has, the result
//! (`ok` or the errno name), the socket cookie, then flags: the attribution
//! when it is not `process`, `initiator=local|peer` for disconnects,
//! `mapped`, `existing`, and at info level 3 `ppid=` and `cmd="…"`.

use std::io::{self, Write};
use std::net::IpAddr;

use jiff::tz::TimeZone;

use crate::event::{Attribution, SockEvent, AF_INET6_FAMILY};

/// The symbolic name of a Linux errno that socket operations return.
#[must_use]
pub fn errno_name(errno: u32) -> Option<&'static str> {
    Some(match errno {
        1 => "EPERM",
        4 => "EINTR",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        22 => "EINVAL",
        23 => "ENFILE",
        24 => "EMFILE",
        88 => "ENOTSOCK",
        93 => "EPROTONOSUPPORT",
        95 => "EOPNOTSUPP",
        97 => "EAFNOSUPPORT",
        98 => "EADDRINUSE",
        99 => "EADDRNOTAVAIL",
        100 => "ENETDOWN",
        101 => "ENETUNREACH",
        103 => "ECONNABORTED",
        104 => "ECONNRESET",
        105 => "ENOBUFS",
        106 => "EISCONN",
        107 => "ENOTCONN",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        113 => "EHOSTUNREACH",
        114 => "EALREADY",
        115 => "EINPROGRESS",
        _ => return None,
    })
}

/// Writes one line (with the newline) for `ev`, times in `tz`.
///
/// # Errors
/// Only those of `out`.
pub fn write_sock_line<W: Write>(ev: &SockEvent, tz: &TimeZone, out: &mut W) -> io::Result<()> {
    let when = match jiff::Timestamp::new(ev.header.time.secs, 0) {
        Ok(ts) => ts
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => format!("@{}", ev.header.time.secs),
    };
    let proto = match ev.protocol {
        6 => "tcp",
        17 => "udp",
        _ => "ip",
    };
    let ver = if ev.family == AF_INET6_FAMILY && !ev.mapped {
        '6'
    } else {
        '4'
    };
    let who = format!("{}[{}/{}]", ev.task.comm, ev.task.pid, ev.task.tid);
    write!(
        out,
        "{when}.{:06} {:<10} {proto}{ver} {who:<26} uid={:<5}",
        ev.header.time.micros(),
        ev.op.as_str(),
        ev.task.uid
    )?;
    match (ev.local, ev.foreign) {
        (Some(l), Some(f)) => write!(out, " {} -> {}", end(l), end(f))?,
        (Some(l), None) => write!(out, " {}", end(l))?,
        (None, Some(f)) => write!(out, " -> {}", end(f))?,
        (None, None) => write!(out, " -")?,
    }
    match (ev.errno, errno_name(ev.errno)) {
        (0, _) => write!(out, " ok")?,
        (_, Some(n)) => write!(out, " {n}")?,
        (e, None) => write!(out, " errno={e}")?,
    }
    write!(out, " cookie={}", ev.cookie)?;
    if ev.attribution != Attribution::Process {
        write!(out, " {}", ev.attribution.as_str())?;
    }
    if let Some(i) = ev.initiator {
        write!(out, " initiator={}", i.as_str())?;
    }
    if ev.mapped {
        write!(out, " mapped")?;
    }
    if ev.existing {
        write!(out, " existing")?;
    }
    if let Some(p) = &ev.process {
        write!(out, " ppid={} cmd={:?}", p.ppid, p.cmdline)?;
    }
    writeln!(out)
}

fn end((addr, port): (IpAddr, u16)) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Initiator, SockOp, SockTask};

    #[test]
    fn one_line_with_flags() {
        let ev = SockEvent {
            op: SockOp::Disconnect,
            task: SockTask {
                comm: "srv".into(),
                ..SockEvent::sample().task
            },
            attribution: Attribution::Owner,
            family: 10,
            local: Some(("10.0.0.1".parse().unwrap(), 80)),
            foreign: Some(("10.0.0.2".parse().unwrap(), 4000)),
            mapped: true,
            initiator: Some(Initiator::Peer),
            ..SockEvent::sample()
        };
        let mut out = Vec::new();
        write_sock_line(&ev, &TimeZone::UTC, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2012-01-23 23:04:06.000001 disconnect tcp4 srv[10/11]                 uid=0     10.0.0.1:80 -> 10.0.0.2:4000 ok cookie=3 owner initiator=peer mapped\n"
        );
    }
}
