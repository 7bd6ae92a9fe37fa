//! User-space filters of socket events: `--watch` (AHAFS monitor names),
//! `--comm`, `--addr CIDR`, and `--pid`/`--uid`/`--port` again (for the
//! synthetic `--existing` events, which never pass through the kernel
//! filters). Addresses are matched as shown: IPv4-mapped IPv6 addresses
//! are already IPv4, and a mapped CIDR (`::ffff:10.0.0.0/104`) is turned
//! into its IPv4 form, so either spelling matches.

use std::net::IpAddr;

use inetmon_bpf::watch::{WatchOp, WatchSet};
use inetmon_core::event::{Monitor, SockEvent};

/// An address prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// A `--addr` value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad address or CIDR {0:?}")]
pub struct CidrError(pub String);

impl std::str::FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, CidrError> {
        let err = || CidrError(s.to_string());
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| err())?)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| err())?;
        let (addr, prefix) = match (addr, p) {
            (IpAddr::V6(v6), p) if v6.to_ipv4_mapped().is_some() => {
                let p = p.unwrap_or(128);
                let v4 = v6.to_ipv4_mapped().ok_or_else(err)?;
                (IpAddr::V4(v4), p.checked_sub(96).ok_or_else(err)?)
            }
            (IpAddr::V4(_), p) => (addr, p.unwrap_or(32)),
            (IpAddr::V6(_), p) => (addr, p.unwrap_or(128)),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(err());
        }
        Ok(Cidr { addr, prefix })
    }
}

impl Cidr {
    /// Whether `ip` is inside the prefix.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// User-space filters; `None`/empty means "any".
#[derive(Debug, Clone, Default)]
pub struct SockFilter {
    /// Only these monitors (`--watch`).
    pub monitors: Option<Vec<Monitor>>,
    /// Only this program name (exact).
    pub comm: Option<String>,
    /// Only events with an end inside this prefix.
    pub addr: Option<Cidr>,
    /// Only this pid.
    pub pid: Option<u32>,
    /// Only this uid.
    pub uid: Option<u32>,
    /// Only events with this local or foreign port.
    pub port: Option<u16>,
}

impl SockFilter {
    /// Whether `ev` passes every filter.
    #[must_use]
    pub fn matches(&self, ev: &SockEvent) -> bool {
        if let Some(ms) = &self.monitors {
            match ev.monitor() {
                Some(m) if ms.contains(&m) => {}
                _ => return false,
            }
        }
        if self.comm.as_ref().is_some_and(|c| *c != ev.task.comm) {
            return false;
        }
        if self.pid.is_some_and(|p| p != ev.task.pid) || self.uid.is_some_and(|u| u != ev.task.uid)
        {
            return false;
        }
        let ends = [ev.local, ev.foreign];
        if let Some(port) = self.port {
            if !ends.iter().flatten().any(|(_, p)| *p == port) {
                return false;
            }
        }
        if let Some(c) = &self.addr {
            if !ends.iter().flatten().any(|(a, _)| c.contains(*a)) {
                return false;
            }
        }
        true
    }
}

/// Parses a comma-separated `--watch` list of monitor names.
///
/// # Errors
/// The first unknown name.
pub fn parse_watch(s: &str) -> Result<Vec<Monitor>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            Monitor::from_name(n).ok_or_else(|| {
                let all: Vec<&str> = Monitor::ALL.iter().map(|m| m.name()).collect();
                format!("unknown monitor {n:?}; known: {}", all.join(","))
            })
        })
        .collect()
}

/// The kernel-side operation for a monitor (same name).
#[must_use]
pub fn watch_op(m: Monitor) -> WatchOp {
    match m {
        Monitor::StreamCreate => WatchOp::StreamCreate,
        Monitor::StreamBind => WatchOp::StreamBind,
        Monitor::StreamListen => WatchOp::StreamListen,
        Monitor::StreamAccept => WatchOp::StreamAccept,
        Monitor::StreamConnect => WatchOp::StreamConnect,
        Monitor::StreamDisconnect => WatchOp::StreamDisconnect,
        Monitor::StreamClose => WatchOp::StreamClose,
        Monitor::DgramCreate => WatchOp::DgramCreate,
        Monitor::DgramBind => WatchOp::DgramBind,
        Monitor::DgramConnect => WatchOp::DgramConnect,
        Monitor::DgramClose => WatchOp::DgramClose,
    }
}

/// The in-kernel operation mask for a `--watch` list: `None` (no
/// `--watch`) keeps everything ([`WatchSet::ALL`]), a list only its
/// monitors. It also decides which programs get attached.
#[must_use]
pub fn watch_set(monitors: Option<&[Monitor]>) -> WatchSet {
    match monitors {
        None => WatchSet::ALL,
        Some(ms) => ms.iter().map(|m| watch_op(*m)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_forms() {
        let c: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(!c.contains("10.2.0.1".parse().unwrap()));
        let m: Cidr = "::ffff:10.1.0.0/112".parse().unwrap();
        assert_eq!(m, c);
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd00::1".parse().unwrap()));
        assert!(!v6.contains("10.1.2.3".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("x".parse::<Cidr>().is_err());
    }

    #[test]
    fn matches_every_filter() {
        use inetmon_core::event::{
            Attribution, Header, SockOp, SockTask, Source, Timestamp, SOCK_STREAM,
        };
        let ev = SockEvent {
            header: Header {
                time: Timestamp::default(),
                source: Source::Sockets,
                seq: 1,
            },
            op: SockOp::Connect,
            task: SockTask {
                pid: 5,
                tid: 5,
                uid: 7,
                gid: 7,
                comm: "curl".into(),
            },
            attribution: Attribution::Process,
            family: 10,
            sock_type: SOCK_STREAM,
            protocol: 6,
            local: Some(("10.0.0.1".parse().unwrap(), 4000)),
            foreign: Some(("10.9.0.2".parse().unwrap(), 80)),
            mapped: true,
            cgroup_id: 0,
            netns: 0,
            cookie: 1,
            errno: 0,
            initiator: None,
            existing: false,
            process: None,
        };
        assert!(SockFilter::default().matches(&ev));
        let f = SockFilter {
            monitors: Some(vec![Monitor::StreamConnect]),
            comm: Some("curl".into()),
            addr: Some("::ffff:10.9.0.0/112".parse().unwrap()),
            pid: Some(5),
            uid: Some(7),
            port: Some(80),
        };
        assert!(f.matches(&ev));
        for g in [
            SockFilter {
                monitors: Some(vec![Monitor::StreamBind]),
                ..f.clone()
            },
            SockFilter {
                comm: Some("wget".into()),
                ..f.clone()
            },
            SockFilter {
                addr: Some("10.8.0.0/16".parse().unwrap()),
                ..f.clone()
            },
            SockFilter {
                pid: Some(6),
                ..f.clone()
            },
            SockFilter {
                uid: Some(0),
                ..f.clone()
            },
            SockFilter {
                port: Some(81),
                ..f.clone()
            },
        ] {
            assert!(!g.matches(&ev), "{g:?}");
        }
    }

    #[test]
    fn watch_ops_have_the_monitor_names() {
        for m in Monitor::ALL {
            assert_eq!(watch_op(m).name(), m.name());
            assert!(watch_set(Some(&[m])).contains(watch_op(m)));
        }
        assert_eq!(watch_set(None), WatchSet::ALL);
        let s = watch_set(Some(&[Monitor::StreamConnect]));
        assert!(!s.other() && !s.contains(WatchOp::DgramConnect));
    }

    #[test]
    fn watch_names() {
        assert_eq!(
            parse_watch("streamCreate,dgramConnect").unwrap(),
            vec![Monitor::StreamCreate, Monitor::DgramConnect]
        );
        assert!(parse_watch("streamFoo").is_err());
    }
}
