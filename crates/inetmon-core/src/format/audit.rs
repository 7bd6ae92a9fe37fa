//! Connection audit records in the layout of CommKit's `dkaudit(4)`
//! (`inetmon audit`):
//!
//! ```text
//! Oct 9 14:16:54 CONNECTION: (0, 0) "tcp!10.0.0.2!443" Started by UID 1000
//! Oct 9 14:16:55 CONNECTION: (0, 0) "tcp!2001:db8::1!443" Failed by UID 1000
//! Oct 9 14:16:56 SERVER: (0, 0) "tcp!*!80" Started by UID 0
//! Oct 9 14:16:57 SERVER: (0, 0) "udp!*!53" Failed
//! Oct 9 16:28:00 UNIXP: (2, 0) <= 01 bb d4 31 00 00 00 01 00 00 00 00
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
//! | a trace event holding a TCP segment with SYN, FIN or RST | `UNIXP`, with `--messages` only |
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
//! `Intf` is the index of the interface the connection uses and `Chan` the
//! file descriptor of the process. The socket record of the BPF programs
//! carries neither yet, so both print 0 for socket events (see
//! [`AuditRecord::intf`]); a `UNIXP` record has the interface of its trace
//! event, and `Chan` 0.
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
//! `record` (`connection`, `server` or `unixp`), `intf`, `chan`; for
//! connection and server records `dial`, `result` (`started`/`failed`),
//! `uid` (null when unknown), `pid`, `comm`, `errno` and `error` (the errno
//! name or null); for `unixp` records `dir` (`in` for `<=`, `out` for `=>`)
//! and `bytes` (the 12 bytes, lower-case hex).

use std::io::{self, Write};
use std::net::IpAddr;

use jiff::tz::TimeZone;

use crate::dissect::{proto, IpView};
use crate::event::{
    Attribution, CaptureLayer, Event, ObservationPoint, SockEvent, SockOp, Timestamp, TraceEvent,
    JSON_SCHEMA_VERSION, SOCK_DGRAM, SOCK_STREAM,
};
use crate::format::sockline::errno_name;

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// When the audited thing happened.
    pub time: Timestamp,
    /// Interface index; 0 when not known (socket events do not carry it:
    /// the BPF socket record needs an `ifindex` field, see the module docs).
    pub intf: u32,
    /// The process's file descriptor; 0 when not known (the BPF socket
    /// record needs an `fd` field).
    pub chan: u32,
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
        Event::Trace(t) => unixp_record(t),
        Event::Packet(_)
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
        SockOp::Connected if stream => AuditBody::Connection(attempt(ev, ev.foreign)),
        SockOp::Listen if stream => server(ev.local),
        SockOp::Bind if stream && !ok => server(ev.local),
        SockOp::Bind if dgram && (!ok || ev.local.is_some_and(|(_, p)| p != 0)) => server(ev.local),
        _ => return None,
    };
    Some(AuditRecord {
        time: ev.header.time,
        intf: 0,
        chan: 0,
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

/// The `UNIXP` record of a trace event holding a TCP control segment (SYN,
/// SYN-ACK, FIN or RST) with at least 14 bytes of its TCP header captured.
#[must_use]
pub fn unixp_record(t: &TraceEvent) -> Option<AuditRecord> {
    let received = match t.point {
        ObservationPoint::FromNetwork => true,
        ObservationPoint::ToNetwork => false,
        ObservationPoint::FromStack | ObservationPoint::ToStack | ObservationPoint::Other(_) => {
            return None
        }
    };
    let ip = match t.layer {
        CaptureLayer::Network => t.packet.as_slice(),
        CaptureLayer::Ethernet => t.packet.get(14..)?,
        CaptureLayer::None => return None,
    };
    let tcp = tcp_header(ip)?;
    let flags = *tcp.get(13)?;
    if flags & CONTROL_FLAGS == 0 {
        return None;
    }
    let bytes: [u8; 12] = tcp.get(..12)?.try_into().ok()?;
    Some(AuditRecord {
        time: t.header.time,
        intf: t.interface.ifindex,
        chan: 0,
        body: AuditBody::Unixp { received, bytes },
    })
}

/// The TCP header of an IPv4 or IPv6 packet (first fragments only).
fn tcp_header(ip: &[u8]) -> Option<&[u8]> {
    let v = IpView::new(ip)?;
    if v.is_later_fragment()? || v.protocol()? != proto::TCP {
        return None;
    }
    ip.get(v.header_len()..)
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
            rec.chan
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
            AuditBody::Unixp { received, bytes } => {
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
    chan: u32,
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
        AuditBody::Unixp { received, bytes } => (
            "unixp",
            BodyJson::Unixp {
                dir: if *received { "in" } else { "out" },
                bytes: bytes.iter().map(|b| format!("{b:02x}")).collect(),
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
