//! The facts an event is found by: who (uid, pid, program), what (socket
//! operation and result) and between which ends. Stores index these (the
//! journal of `inetmon-io` keeps them as columns beside the encoded event).

use std::net::IpAddr;

use super::{CaptureLayer, Event, EventKind};

/// The searchable facts of one event; `None` where the kind has no such
/// fact.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts<'a> {
    /// User id: the socket task's, or NFLOG's socket uid.
    pub uid: Option<u32>,
    /// Process id: the socket task's, or the dropping context's.
    pub pid: Option<u32>,
    /// Program name.
    pub comm: Option<&'a str>,
    /// Socket operation name ([`super::SockOp::as_str`]).
    pub op: Option<&'static str>,
    /// Socket operation result: 0, or the errno.
    pub result: Option<u32>,
    /// First end: a socket's local end; a packet's, state entry's or drop's
    /// source; a NAT mapping's original source.
    pub end1: Option<(IpAddr, Option<u16>)>,
    /// Second end: a socket's foreign end; the destination; a NAT mapping's
    /// original destination.
    pub end2: Option<(IpAddr, Option<u16>)>,
}

impl Event {
    /// The searchable facts of the event.
    #[must_use]
    pub fn facts(&self) -> Facts<'_> {
        match self {
            Event::Sock(s) => Facts {
                uid: Some(s.task.uid),
                pid: Some(s.task.pid),
                comm: Some(&s.task.comm),
                op: Some(s.op.as_str()),
                result: Some(s.errno),
                end1: s.local.map(|(a, p)| (a, Some(p))),
                end2: s.foreign.map(|(a, p)| (a, Some(p))),
            },
            Event::Packet(p) => {
                let ethertype = match p.packet.first().map(|b| b >> 4) {
                    Some(6) => 0x86dd,
                    _ => 0x0800,
                };
                let (end1, end2) = flow_ends(&p.packet, CaptureLayer::Network, ethertype);
                Facts {
                    uid: p.nflog.as_ref().and_then(|n| n.uid),
                    end1,
                    end2,
                    ..Facts::default()
                }
            }
            Event::Nat(n) => Facts {
                end1: Some((n.orig_src.0, Some(n.orig_src.1))),
                end2: Some((n.orig_dst.0, Some(n.orig_dst.1))),
                ..Facts::default()
            },
            Event::State(s) => Facts {
                end1: Some((s.src, Some(s.ports.0))),
                end2: Some((s.dst, Some(s.ports.1))),
                ..Facts::default()
            },
            Event::Drop(d) => {
                let (end1, end2) = flow_ends(&d.packet, d.layer, d.protocol);
                Facts {
                    pid: d.process.as_ref().map(|p| p.pid),
                    comm: d.process.as_ref().map(|p| p.comm.as_str()),
                    end1,
                    end2,
                    ..Facts::default()
                }
            }
            Event::Trace(t) => {
                let (end1, end2) = flow_ends(&t.packet, t.layer, t.protocol);
                Facts {
                    end1,
                    end2,
                    ..Facts::default()
                }
            }
            Event::Lost(_) | Event::Malformed(_) => Facts::default(),
        }
    }
}

type End = Option<(IpAddr, Option<u16>)>;

fn flow_ends(data: &[u8], layer: CaptureLayer, ethertype: u16) -> (End, End) {
    match crate::dissect::PacketView::capture(data, layer, ethertype).flow() {
        Some(f) => (
            Some((f.src, f.ports.map(|p| p.0))),
            Some((f.dst, f.ports.map(|p| p.1))),
        ),
        None => (None, None),
    }
}

/// Every event kind, in [`EventKind`] order.
pub const ALL_KINDS: [EventKind; 8] = [
    EventKind::Packet,
    EventKind::Nat,
    EventKind::State,
    EventKind::Sock,
    EventKind::Drop,
    EventKind::Trace,
    EventKind::Lost,
    EventKind::Malformed,
];

impl EventKind {
    /// The kind named `name` ([`EventKind::as_str`]).
    #[must_use]
    pub fn from_name(name: &str) -> Option<EventKind> {
        ALL_KINDS.into_iter().find(|k| k.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_name() {
        for k in ALL_KINDS {
            assert_eq!(EventKind::from_name(k.as_str()), Some(k));
        }
        assert_eq!(EventKind::from_name("gap"), None);
    }
}
