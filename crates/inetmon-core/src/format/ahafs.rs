//! The AIX AHAFS `inetsock` event block, one item a line, as the original
//! monitor prints it at `INFO_LVL` 1, 2 (default) and 3:
//!
//! ```text
//! AHAFS event: /aha/net/inetsock.monFactory/streamCreate.mon
//! ---------------------------------------------------
//! BEGIN_EVENT_INFO
//! Time : Mon Jan 23 23:04:06 2012
//! Sequence Num: 1
//! RC_FROM_EVPROD=0
//! BEGIN_EVPROD_INFO
//! PROG_NAME=xmtopas
//! SO_FAMILY=2
//! SO_TYPE=1
//! SO_PROTO=6
//! SO_UID=0
//! SO_PID=5243048
//! END_EVPROD_INFO
//! END_EVENT_INFO
//! ```
//!
//! Level 1 leaves out the producer block; level 3 adds `PROG_CMDLINE=` and
//! `PROG_PPID=` (extensions: the process's command line and parent pid).
//! Addresses follow the original's table: bind, listen and UDP close carry
//! the local end; accept, connect and disconnect carry the foreign end then
//! the local end; TCP close the local end then the foreign end. Sequence
//! numbers count per monitor file, from 1, as the original's do.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use jiff::tz::TimeZone;

use crate::event::{Monitor, SockEvent, SockOp, AF_INET6_FAMILY};

/// How much of the event block to print (`--info-level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum InfoLevel {
    /// Header, time, sequence and return code only.
    One,
    /// Plus the producer block (the default).
    Two,
    /// Plus command line and parent pid.
    Three,
}

/// Formats socket events as AHAFS blocks, keeping per-monitor sequence
/// numbers.
#[derive(Debug, Clone)]
pub struct AhafsFormatter {
    level: InfoLevel,
    tz: TimeZone,
    seq: [u64; Monitor::ALL.len()],
}

/// Which address lines an operation carries.
enum Ends {
    None,
    Local,
    ForeignLocal,
    LocalForeign,
}

impl AhafsFormatter {
    /// A formatter printing times in `tz` at `level`.
    #[must_use]
    pub fn new(level: InfoLevel, tz: TimeZone) -> Self {
        AhafsFormatter {
            level,
            tz,
            seq: [0; Monitor::ALL.len()],
        }
    }

    /// Writes the block for `ev`; events that belong to no monitor (see
    /// [`SockEvent::monitor`]) write nothing and return `Ok(false)`, and so
    /// does a connect attempt ([`SockOp::Connect`]): AHAFS reports one
    /// `PRU_CONNECT` per connect, which is the outcome
    /// ([`SockOp::Connected`], with the ends the kernel assigned and the
    /// result). The line and JSON formats keep both.
    ///
    /// # Errors
    /// Only those of `out`.
    pub fn write<W: Write>(&mut self, ev: &SockEvent, out: &mut W) -> io::Result<bool> {
        if ev.op == SockOp::Connect {
            return Ok(false);
        }
        let Some(mon) = ev.monitor() else {
            return Ok(false);
        };
        let idx = Monitor::ALL.iter().position(|m| *m == mon).unwrap_or(0);
        let seq = self.seq.get_mut(idx).map_or(0, |s| {
            *s = s.saturating_add(1);
            *s
        });
        writeln!(
            out,
            "AHAFS event: /aha/net/inetsock.monFactory/{}.mon",
            mon.name()
        )?;
        writeln!(out, "---------------------------------------------------")?;
        writeln!(out, "BEGIN_EVENT_INFO")?;
        writeln!(out, "Time : {}", self.ctime(ev))?;
        writeln!(out, "Sequence Num: {seq}")?;
        writeln!(out, "RC_FROM_EVPROD={}", ev.errno)?;
        if self.level >= InfoLevel::Two {
            writeln!(out, "BEGIN_EVPROD_INFO")?;
            writeln!(out, "PROG_NAME={}", ev.task.comm)?;
            writeln!(out, "SO_FAMILY={}", ev.family)?;
            writeln!(out, "SO_TYPE={}", ev.sock_type)?;
            writeln!(out, "SO_PROTO={}", ev.protocol)?;
            writeln!(out, "SO_UID={}", ev.task.uid)?;
            writeln!(out, "SO_PID={}", ev.task.pid)?;
            let unspec = unspecified(ev.family);
            let local = ev.local.unwrap_or((unspec, 0));
            let foreign = ev.foreign.unwrap_or((unspec, 0));
            match ends(mon) {
                Ends::None => {}
                Ends::Local => write_end(out, "L", local)?,
                Ends::ForeignLocal => {
                    write_end(out, "F", foreign)?;
                    write_end(out, "L", local)?;
                }
                Ends::LocalForeign => {
                    write_end(out, "L", local)?;
                    write_end(out, "F", foreign)?;
                }
            }
            if self.level >= InfoLevel::Three {
                let p = ev.process.clone().unwrap_or_default();
                writeln!(out, "PROG_CMDLINE={}", p.cmdline)?;
                writeln!(out, "PROG_PPID={}", p.ppid)?;
            }
            writeln!(out, "END_EVPROD_INFO")?;
        }
        writeln!(out, "END_EVENT_INFO")?;
        Ok(true)
    }

    /// `ctime(3)` style: `Mon Jan 23 23:04:06 2012`, in the formatter's zone.
    fn ctime(&self, ev: &SockEvent) -> String {
        match jiff::Timestamp::new(ev.header.time.secs, 0) {
            Ok(ts) => ts
                .to_zoned(self.tz.clone())
                .strftime("%a %b %e %H:%M:%S %Y")
                .to_string(),
            Err(_) => format!("@{}", ev.header.time.secs),
        }
    }
}

fn ends(mon: Monitor) -> Ends {
    match mon {
        Monitor::StreamCreate | Monitor::DgramCreate => Ends::None,
        Monitor::StreamBind | Monitor::StreamListen | Monitor::DgramBind | Monitor::DgramClose => {
            Ends::Local
        }
        Monitor::StreamAccept
        | Monitor::StreamConnect
        | Monitor::StreamDisconnect
        | Monitor::DgramConnect => Ends::ForeignLocal,
        Monitor::StreamClose => Ends::LocalForeign,
    }
}

fn unspecified(family: u16) -> IpAddr {
    if family == AF_INET6_FAMILY {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
}

fn write_end<W: Write>(out: &mut W, side: &str, (addr, port): (IpAddr, u16)) -> io::Result<()> {
    writeln!(out, "SO_{side}ADDR={addr}")?;
    writeln!(out, "SO_{side}PORT={port}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Header, ProcessInfo, SockOp, SockTask, Timestamp, SOCK_DGRAM, SOCK_STREAM};

    fn ev(op: SockOp, sock_type: u16, errno: u32) -> SockEvent {
        SockEvent {
            header: Header {
                time: Timestamp {
                    secs: 1_327_359_846,
                    nanos: 0,
                },
                ..SockEvent::sample().header
            },
            op,
            task: SockTask {
                pid: 5_243_048,
                tid: 5_243_048,
                comm: "xmtopas".into(),
                ..SockEvent::sample().task
            },
            sock_type,
            protocol: if sock_type == SOCK_STREAM { 6 } else { 17 },
            local: Some(("10.0.0.1".parse().unwrap(), 1234)),
            errno,
            process: Some(ProcessInfo {
                cmdline: "xmtopas -p0".into(),
                ppid: 1,
            }),
            ..SockEvent::sample()
        }
    }

    fn block(f: &mut AhafsFormatter, e: &SockEvent) -> String {
        let mut out = Vec::new();
        assert!(f.write(e, &mut out).unwrap());
        String::from_utf8(out).unwrap()
    }

    const HEAD: &str = "---------------------------------------------------\nBEGIN_EVENT_INFO\nTime : Mon Jan 23 23:04:06 2012\n";
    const COMMON: &str = "BEGIN_EVPROD_INFO\nPROG_NAME=xmtopas\nSO_FAMILY=2\n";
    const L: &str = "SO_LADDR=10.0.0.1\nSO_LPORT=1234\n";
    const F: &str = "SO_FADDR=10.0.0.2\nSO_FPORT=80\n";

    /// The seed's example, byte for byte (UTC for the test).
    #[test]
    fn seed_example_stream_create() {
        let mut f = AhafsFormatter::new(InfoLevel::Two, TimeZone::UTC);
        let got = block(&mut f, &ev(SockOp::Create, SOCK_STREAM, 0));
        let want = "AHAFS event: /aha/net/inetsock.monFactory/streamCreate.mon\n\
---------------------------------------------------\nBEGIN_EVENT_INFO\nTime : Mon Jan 23 23:04:06 2012\n\
Sequence Num: 1\nRC_FROM_EVPROD=0\nBEGIN_EVPROD_INFO\nPROG_NAME=xmtopas\nSO_FAMILY=2\nSO_TYPE=1\nSO_PROTO=6\n\
SO_UID=0\nSO_PID=5243048\nEND_EVPROD_INFO\nEND_EVENT_INFO\n";
        assert_eq!(got, want);
    }

    /// Every monitor's block shape at level 2, with per-monitor sequences.
    #[test]
    fn every_block_shape() {
        let cases: [(SockOp, u16, &str, String); 13] = [
            (SockOp::Create, SOCK_STREAM, "streamCreate", String::new()),
            (SockOp::Bind, SOCK_STREAM, "streamBind", L.into()),
            (SockOp::Listen, SOCK_STREAM, "streamListen", L.into()),
            (
                SockOp::Accept,
                SOCK_STREAM,
                "streamAccept",
                format!("{F}{L}"),
            ),
            (
                SockOp::Connected,
                SOCK_STREAM,
                "streamConnect",
                format!("{F}{L}"),
            ),
            (
                SockOp::Disconnect,
                SOCK_STREAM,
                "streamDisconnect",
                format!("{F}{L}"),
            ),
            (SockOp::Close, SOCK_STREAM, "streamClose", format!("{L}{F}")),
            (SockOp::Abort, SOCK_STREAM, "streamClose", format!("{L}{F}")),
            (SockOp::Create, SOCK_DGRAM, "dgramCreate", String::new()),
            (SockOp::Bind, SOCK_DGRAM, "dgramBind", L.into()),
            (SockOp::DynBind, SOCK_DGRAM, "dgramBind", L.into()),
            (
                SockOp::Connected,
                SOCK_DGRAM,
                "dgramConnect",
                format!("{F}{L}"),
            ),
            (SockOp::Close, SOCK_DGRAM, "dgramClose", L.into()),
        ];
        let mut f = AhafsFormatter::new(InfoLevel::Two, TimeZone::UTC);
        for (op, ty, mon, ends) in cases {
            let e = ev(op, ty, 0);
            let seq = if op == SockOp::DynBind || op == SockOp::Abort {
                2
            } else {
                1
            };
            let want = format!(
                "AHAFS event: /aha/net/inetsock.monFactory/{mon}.mon\n{HEAD}Sequence Num: {seq}\nRC_FROM_EVPROD=0\n{COMMON}SO_TYPE={ty}\nSO_PROTO={}\nSO_UID=0\nSO_PID=5243048\n{ends}END_EVPROD_INFO\nEND_EVENT_INFO\n",
                e.protocol
            );
            assert_eq!(block(&mut f, &e), want, "{mon}");
        }
        // UDP listen belongs to no monitor; a connect attempt has no
        // block of its own (one PRU_CONNECT per connect: the outcome).
        let mut out = Vec::new();
        for ty in [SOCK_STREAM, SOCK_DGRAM] {
            assert!(!f.write(&ev(SockOp::Connect, ty, 0), &mut out).unwrap());
        }
        assert!(!f
            .write(&ev(SockOp::Listen, SOCK_DGRAM, 0), &mut out)
            .unwrap());
        assert!(out.is_empty());
    }

    #[test]
    fn info_levels_one_and_three_and_errno() {
        let mut f = AhafsFormatter::new(InfoLevel::One, TimeZone::UTC);
        let got = block(&mut f, &ev(SockOp::Connected, SOCK_STREAM, 111));
        assert_eq!(
            got,
            format!("AHAFS event: /aha/net/inetsock.monFactory/streamConnect.mon\n{HEAD}Sequence Num: 1\nRC_FROM_EVPROD=111\nEND_EVENT_INFO\n")
        );
        let mut f = AhafsFormatter::new(InfoLevel::Three, TimeZone::UTC);
        let got = block(&mut f, &ev(SockOp::Bind, SOCK_STREAM, 98));
        assert_eq!(
            got,
            format!("AHAFS event: /aha/net/inetsock.monFactory/streamBind.mon\n{HEAD}Sequence Num: 1\nRC_FROM_EVPROD=98\n{COMMON}SO_TYPE=1\nSO_PROTO=6\nSO_UID=0\nSO_PID=5243048\n{L}PROG_CMDLINE=xmtopas -p0\nPROG_PPID=1\nEND_EVPROD_INFO\nEND_EVENT_INFO\n")
        );
    }
}
