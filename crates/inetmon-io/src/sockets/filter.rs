//! The kernel side of `inetmon sockets --watch`: the in-kernel operation
//! mask and the programs to attach. The user-space socket filters are
//! [`inetmon_core::sock_filter`].

use inetmon_bpf::watch::{WatchOp, WatchSet};
use inetmon_core::event::Monitor;

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
