//! The user-space filters of `inetmon sockets`: `--watch` (AHAFS monitor
//! names), `--comm`, `--addr CIDR`, and `--pid`/`--uid`/`--port` again (for
//! the synthetic `--existing` events, which never pass through the kernel
//! filters). Addresses follow [`crate::cidr`]'s rule: IPv4-mapped IPv6
//! addresses are IPv4, so either spelling matches. [`watch_set`] is the
//! same `--watch` list as the in-kernel operation mask, which also decides
//! which programs `inetmon-io` attaches.

use inetmon_bpf::watch::{WatchOp, WatchSet};

use crate::cidr::Cidr;
use crate::event::{Monitor, SockEvent};

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
    fn matches_every_filter() {
        use crate::event::{Header, SockTask, Timestamp};
        let ev = SockEvent {
            header: Header {
                time: Timestamp::default(),
                ..SockEvent::sample().header
            },
            task: SockTask {
                pid: 5,
                tid: 5,
                uid: 7,
                gid: 7,
                comm: "curl".into(),
            },
            family: 10,
            local: Some(("10.0.0.1".parse().unwrap(), 4000)),
            foreign: Some(("10.9.0.2".parse().unwrap(), 80)),
            mapped: true,
            cgroup_id: 0,
            netns: 0,
            cookie: 1,
            ..SockEvent::sample()
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
    fn watch_names() {
        assert_eq!(
            parse_watch("streamCreate,dgramConnect").unwrap(),
            vec![Monitor::StreamCreate, Monitor::DgramConnect]
        );
        assert!(parse_watch("streamFoo").is_err());
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
}
