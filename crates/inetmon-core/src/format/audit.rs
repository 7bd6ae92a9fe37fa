//! Connection audit records in the layout of CommKit's `dkaudit(4)`
//! (`inetmon audit`):
//!
//! ```text
//! Oct 9 14:16:54 CONNECTION: (2, 5) "tcp!10.0.0.2!443" Started by UID 1000
//! Oct 9 14:16:55 CONNECTION: (0, 5) "tcp!2001:db8::1!443" Failed by UID 1000
//! Oct 9 14:16:56 SERVER: (0, 3) "tcp!*!80" Started by UID 0
//! Oct 9 14:16:57 SERVER: (0, 0) "udp!*!53" Failed
//! Oct 9 16:28:00 UNIXP: (2, 5) <= 01 bb d4 31 00 00 00 01 00 00 00 00
//! ```
//!
//! The time is local time (`Month Day HH:MM:SS`, the day not padded), as the
//! seed's examples show; ` by UID n` is left out when no process is known.
//!
//! # From socket events to audit records
//!
//! [`audit_record`] maps one [`Event`] to at most one [`AuditRecord`]:
//!
//! | event | record |
//! |---|---|
//! | TCP `connected`, errno 0 (the connection is established) | `CONNECTION … Started` |
//! | TCP `connected`, errno ≠ 0 (refused, unreachable, timed out, reset before established, …) | `CONNECTION … Failed` |
//! | TCP `listen`, errno 0 | `SERVER … Started` |
//! | TCP `listen`, errno ≠ 0 | `SERVER … Failed` |
//! | TCP `bind`, errno ≠ 0 (`EADDRINUSE`, `EACCES`, …) | `SERVER … Failed` |
//! | UDP `bind` to a fixed port (≠ 0), errno 0 | `SERVER … Started` |
//! | UDP `bind`, errno ≠ 0 | `SERVER … Failed` |
//! | a `segment` event (a TCP control segment of a connection this host connected) | `UNIXP`, with `--messages` only |
//!
//! Nothing else is audited: the `connect` attempt (its outcome is the
//! `connected` event), a successful TCP `bind` (the `listen` that follows is
//! the server start; a client's bind is no server), a UDP bind to port 0
//! and dynamic binds (no fixed port), UDP `connect` (no connection is
//! made), accepts, disconnects, closes, and the synthetic events of sockets
//! that existed before monitoring started (`existing`, not an attempt seen).
//!
//! The dial string is `PROTO!ADDR!PORT`: `tcp!10.0.0.2!443`,
//! `tcp!2001:db8::1!443` (IPv6 without brackets); for servers the local
//! end, with `*` for the unspecified address: `tcp!*!80`, `udp!*!53`. For
//! connections it is the foreign end. `PROTO` is `tcp` or `udp` from the IP
//! protocol (another protocol prints as `ipN`).
//!
//! `Intf` is the index of the interface the connection uses
//! ([`SockLink::ifindex`]) and `Chan` the process's file descriptor of the
//! socket ([`SockLink::fd`]), as the BPF programs record them (the rules
//! are at the top of `inetmon-bpf`'s `bpf/sock.bpf.c`):
//!
//! - `Intf` of a `CONNECTION` is the output device of the route the
//!   connection took (for `Failed`, the one its SYN took); 0 when it failed
//!   before a route was found (unreachable network) unless the socket was
//!   bound to a device. `Intf` of a `SERVER` is the device the socket is
//!   bound to (`SO_BINDTODEVICE`, an IPv6 link-local scope), 0 when none: a
//!   listening socket takes connections on every interface. `Intf` of a
//!   `UNIXP` is the device the segment was seen on.
//! - `Chan` is the fd passed to `connect`, `bind` or `listen` (for an
//!   outcome or a segment, the fd of the `connect`). It prints 0 when not
//!   known, which is the case for operations issued through io_uring or by
//!   `sendto(MSG_FASTOPEN)`, and for sockets connected before monitoring
//!   started; `-j` tells that apart from fd 0 (`chan` is `null`).
//!
//! A UDP socket bound explicitly to port 0 gets its port from the kernel
//! before the bind event is recorded, so the event shows the assigned port
//! and is reported as a server start: the BPF socket record does not yet
//! say whether the port was asked for. The kernel knows
//! (`SOCK_BINDPORT_LOCK` in `sk_userlocks`); the record's reserved `flags`
//! byte could carry it.
//!
//! `by UID n` is printed unless the event's attribution is
//! [`Attribution::Unknown`] (no process was recorded for the socket).
//!
//! # JSON (`-j`)
//!
//! One object per line with the common members of [`crate::format::json`]
//! (`v`, `kind` = `"audit"`, `time` in RFC 3339 UTC with nanoseconds) and
//! `record` (`connection`, `server` or `unixp`), `intf`, `chan` (`null`
//! when not known); for connection and server records `dial`, `result` (`started`/`failed`),
//! `uid` (null when unknown), `pid`, `comm`, `errno` and `error` (the errno
//! name or null); for `unixp` records `dir` (`in` for `<=`, `out` for `=>`),
//! `bytes` (the 12 bytes, lower-case hex), `uid`, `pid` and `comm`.

use std::io::{self, Write};
use std::net::IpAddr;

use jiff::tz::TimeZone;

use crate::event::{
    Attribution, Event, SockEvent, SockLink, SockOp, Timestamp, JSON_SCHEMA_VERSION, SOCK_DGRAM,
    SOCK_STREAM,
};
use crate::format::sockline::errno_name;

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// When the audited thing happened.
    pub time: Timestamp,
    /// Interface index; 0 when not known (see the module docs).
    pub intf: u32,
    /// The process's file descriptor; `None` when not known (printed 0).
    pub chan: Option<u32>,
    /// What it says.
    pub body: AuditBody,
}

/// The kinds of audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditBody {
    /// An outgoing connection attempt's outcome.
    Connection(Attempt),
    /// A server start (listen, or UDP bind to a fixed port) or its failure.
    Server(Attempt),
    /// A TCP control segment of a connection: the first 12 bytes of its
    /// TCP header (ports, sequence, acknowledgement).
    Unixp {
        /// Received (`<=`) or sent (`=>`).
        received: bool,
        /// The bytes.
        bytes: [u8; 12],
        /// The connection owner's uid; `None` when no process is known.
        uid: Option<u32>,
        /// The owner's process id (0 when unknown), for JSON.
        pid: u32,
        /// The owner's program name, for JSON.
        comm: String,
    },
}

/// A connection or server attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// `tcp!10.0.0.2!443`, `udp!*!53`.
    pub dial: String,
    /// Whether it succeeded (`Started`) or not (`Failed`).
    pub started: bool,
    /// The process's uid; `None` when no process is known.
    pub uid: Option<u32>,
    /// The process id (0 when unknown), for JSON.
    pub pid: u32,
    /// The program name, for JSON.
    pub comm: String,
    /// 0, or the errno of a failure.
    pub errno: u32,
}

/// The audit record of `ev`, if it is audited (see the module docs).
#[must_use]
pub fn audit_record(ev: &Event) -> Option<AuditRecord> {
    match ev {
        Event::Sock(s) => sock_record(s),
        Event::Packet(_)
        | Event::Trace(_)
        | Event::Nat(_)
        | Event::State(_)
        | Event::Drop(_)
        | Event::Debug(_)
        | Event::Lost(_)
        | Event::Malformed(_) => None,
    }
}

/// The audit record of a socket event, if it is audited.
#[must_use]
pub fn sock_record(ev: &SockEvent) -> Option<AuditRecord> {
    if ev.existing {
        return None;
    }
    let stream = ev.sock_type == SOCK_STREAM;
    let dgram = ev.sock_type == SOCK_DGRAM;
    let ok = ev.errno == 0;
    let server = |end: Option<(IpAddr, u16)>| AuditBody::Server(attempt(ev, end));
    let body = match ev.op {
        SockOp::Segment => return segment_record(ev),
        SockOp::Connected if stream => AuditBody::Connection(attempt(ev, ev.foreign)),
        SockOp::Listen if stream => server(ev.local),
        SockOp::Bind if stream && !ok => server(ev.local),
        SockOp::Bind if dgram && (!ok || ev.local.is_some_and(|(_, p)| p != 0)) => server(ev.local),
        _ => return None,
    };
    Some(AuditRecord {
        time: ev.header.time,
        intf: ev.link.ifindex,
        chan: ev.link.fd,
        body,
    })
}

fn attempt(ev: &SockEvent, end: Option<(IpAddr, u16)>) -> Attempt {
    let proto = match ev.protocol {
        6 => "tcp".to_owned(),
        17 => "udp".to_owned(),
        n => format!("ip{n}"),
    };
    let (addr, port) = match end {
        Some((a, p)) if a.is_unspecified() => ("*".to_owned(), p),
        Some((a, p)) => (a.to_string(), p),
        None => ("*".to_owned(), 0),
    };
    Attempt {
        dial: format!("{proto}!{addr}!{port}"),
        started: ev.errno == 0,
        uid: (ev.attribution != Attribution::Unknown).then_some(ev.task.uid),
        pid: ev.task.pid,
        comm: ev.task.comm.clone(),
        errno: ev.errno,
    }
}

/// TCP flags that make a segment a control segment: FIN, SYN, RST.
const CONTROL_FLAGS: u8 = 0x01 | 0x02 | 0x04;

/// The `UNIXP` record of a [`SockOp::Segment`] event: a TCP control
/// segment (SYN, SYN-ACK, FIN or RST; the kernel side sends no others) of
/// a connection this host connected. (Segments handled by a TIME_WAIT
/// socket, such as a FIN received after this host's close() in FIN_WAIT2,
/// pass no cgroup hook and have no event.) `None` for any other event, or a
/// segment without SYN, FIN or RST.
#[must_use]
pub fn segment_record(ev: &SockEvent) -> Option<AuditRecord> {
    let SockLink {
        fd,
        ifindex,
        segment: Some(seg),
    } = &ev.link
    else {
        return None;
    };
    if ev.op != SockOp::Segment || seg.flags & CONTROL_FLAGS == 0 {
        return None;
    }
    Some(AuditRecord {
        time: ev.header.time,
        intf: *ifindex,
        chan: *fd,
        body: AuditBody::Unixp {
            received: seg.received,
            bytes: seg.header,
            uid: (ev.attribution != Attribution::Unknown).then_some(ev.task.uid),
            pid: ev.task.pid,
            comm: ev.task.comm.clone(),
        },
    })
}

/// Writes audit records as text or JSON lines.
#[derive(Debug, Clone)]
pub struct AuditFormatter {
    tz: TimeZone,
    json: bool,
}

impl AuditFormatter {
    /// Text lines with times in `tz`.
    #[must_use]
    pub fn text(tz: TimeZone) -> Self {
        AuditFormatter { tz, json: false }
    }

    /// JSON lines (times in UTC).
    #[must_use]
    pub fn json() -> Self {
        AuditFormatter {
            tz: TimeZone::UTC,
            json: true,
        }
    }

    /// Writes one line for `rec`.
    ///
    /// # Errors
    /// Only those of `out`.
    pub fn write<W: Write>(&self, rec: &AuditRecord, out: &mut W) -> io::Result<()> {
        if self.json {
            let mut line = serde_json::to_vec(&json_value(rec)).map_err(io::Error::other)?;
            line.push(b'\n');
            return out.write_all(&line);
        }
        let mut line = format!(
            "{} {}: ({}, {}) ",
            self.local_time(rec.time),
            match rec.body {
                AuditBody::Connection(_) => "CONNECTION",
                AuditBody::Server(_) => "SERVER",
                AuditBody::Unixp { .. } => "UNIXP",
            },
            rec.intf,
            rec.chan.unwrap_or(0)
        );
        match &rec.body {
            AuditBody::Connection(a) | AuditBody::Server(a) => {
                line.push('"');
                line.push_str(&a.dial);
                line.push_str(if a.started { "\" Started" } else { "\" Failed" });
                if let Some(uid) = a.uid {
                    line.push_str(" by UID ");
                    line.push_str(itoa::Buffer::new().format(uid));
                }
            }
            AuditBody::Unixp {
                received, bytes, ..
            } => {
                line.push_str(if *received { "<=" } else { "=>" });
                for b in bytes {
                    line.push_str(&format!(" {b:02x}"));
                }
            }
        }
        line.push('\n');
        out.write_all(line.as_bytes())
    }

    /// `Oct 9 14:16:54`: month, day (not padded), time, in the zone.
    fn local_time(&self, t: Timestamp) -> String {
        match jiff::Timestamp::new(t.secs, 0) {
            Ok(ts) => ts
                .to_zoned(self.tz.clone())
                .strftime("%b %-d %H:%M:%S")
                .to_string(),
            Err(_) => format!("@{}", t.secs),
        }
    }
}

/// `2026-10-09T14:16:54.000000005Z`: the time form of the JSON lines.
#[must_use]
pub fn rfc3339_utc(t: Timestamp) -> String {
    match jiff::Timestamp::new(t.secs, 0) {
        Ok(ts) => format!(
            "{}.{:09}Z",
            ts.to_zoned(TimeZone::UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            t.nanos
        ),
        Err(_) => format!("@{}", t.secs),
    }
}

/// The JSON object of an audit record; members in this order.
#[derive(serde::Serialize)]
struct AuditJson<'a> {
    v: u32,
    kind: &'static str,
    time: String,
    record: &'static str,
    intf: u32,
    chan: Option<u32>,
    #[serde(flatten)]
    body: BodyJson<'a>,
}

#[derive(serde::Serialize)]
#[serde(untagged)]
enum BodyJson<'a> {
    Attempt {
        dial: &'a str,
        result: &'static str,
        uid: Option<u32>,
        pid: u32,
        comm: &'a str,
        errno: u32,
        error: Option<&'static str>,
    },
    Unixp {
        dir: &'static str,
        bytes: String,
        uid: Option<u32>,
        pid: u32,
        comm: &'a str,
    },
}

fn json_value(rec: &AuditRecord) -> AuditJson<'_> {
    let (record, body) = match &rec.body {
        AuditBody::Connection(a) | AuditBody::Server(a) => (
            if matches!(rec.body, AuditBody::Connection(_)) {
                "connection"
            } else {
                "server"
            },
            BodyJson::Attempt {
                dial: &a.dial,
                result: if a.started { "started" } else { "failed" },
                uid: a.uid,
                pid: a.pid,
                comm: &a.comm,
                errno: a.errno,
                error: errno_name(a.errno).filter(|_| a.errno != 0),
            },
        ),
        AuditBody::Unixp {
            received,
            bytes,
            uid,
            pid,
            comm,
        } => (
            "unixp",
            BodyJson::Unixp {
                dir: if *received { "in" } else { "out" },
                bytes: bytes.iter().map(|b| format!("{b:02x}")).collect(),
                uid: *uid,
                pid: *pid,
                comm,
            },
        ),
    };
    AuditJson {
        v: JSON_SCHEMA_VERSION,
        kind: "audit",
        time: rfc3339_utc(rec.time),
        record,
        intf: rec.intf,
        chan: rec.chan,
        body,
    }
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
