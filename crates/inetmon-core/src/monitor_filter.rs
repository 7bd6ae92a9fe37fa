//! The user-space filters of `inetmon monitor`: `--type`, `--iface`,
//! `--ip`, `--port`, `--proto`, `--reason`, and whether `NOT_SPECIFIED`
//! drops are shown. The BPF programs apply the same filters in the kernel
//! where that saves work; this is the exact check for every event kind.
//!
//! Semantics (as in the Cilium monitor and Hubble): every filter given must
//! match, and the values of one filter are alternatives. An event that lacks
//! the filtered field (a NAT event has no interface, a trace has no reason)
//! does not match that filter. Lost and malformed events always pass: loss
//! is never hidden.

use std::net::IpAddr;

use thiserror::Error;

use crate::cidr::Cidr;
use crate::dissect::PacketView;
use crate::event::{Event, EventKind};

/// A bad filter value on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FilterError {
    /// Not a protocol name or number.
    #[error("unknown protocol {0:?}")]
    Proto(String),
    /// Not an event kind name.
    #[error("unknown event type {0:?}")]
    Kind(String),
}

/// A protocol name (`tcp`, `udp`, `icmp`, `icmpv6`, `sctp`, `igmp`, `gre`,
/// `esp`, `ah`, `vrrp`, their IANA keywords and aliases, see
/// [`crate::dissect::proto::by_short_name`]) or number.
///
/// # Errors
/// [`FilterError::Proto`] for anything else.
pub fn parse_proto(s: &str) -> Result<u8, FilterError> {
    match crate::dissect::proto::by_short_name(s) {
        Some(n) => Ok(n),
        None => s.parse().map_err(|_| FilterError::Proto(s.to_owned())),
    }
}

/// An event kind by its `--type` name.
///
/// # Errors
/// [`FilterError::Kind`] for an unknown name.
pub fn parse_kind(s: &str) -> Result<EventKind, FilterError> {
    Ok(match s {
        "packet" => EventKind::Packet,
        "nat" => EventKind::Nat,
        "state" => EventKind::State,
        "sock" => EventKind::Sock,
        "drop" => EventKind::Drop,
        "trace" => EventKind::Trace,
        "debug" => EventKind::Debug,
        "lost" => EventKind::Lost,
        "malformed" => EventKind::Malformed,
        other => return Err(FilterError::Kind(other.to_owned())),
    })
}

/// The filters; the default passes everything except `NOT_SPECIFIED` drops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorFilter {
    /// `--type`: event kinds to show (empty: all).
    pub kinds: Vec<EventKind>,
    /// `--iface`: interface names (or decimal ifindexes).
    pub interfaces: Vec<String>,
    /// `--ip`: either address of the packet or connection.
    pub ips: Vec<Cidr>,
    /// `--port`: either port.
    pub ports: Vec<u16>,
    /// `--proto`: IP protocol numbers.
    pub protos: Vec<u8>,
    /// `--reason`: drop reason names, case-insensitive, with or without the
    /// `SKB_DROP_REASON_` prefix (`NO_SOCKET`, `openvswitch/…`).
    pub reasons: Vec<String>,
    /// Show drops whose reason is `NOT_SPECIFIED` (off by default: the kernel
    /// reports many of them on paths that are not really drops).
    pub not_specified: bool,
}

/// What the filters look at, extracted from one event.
#[derive(Default)]
struct Fields {
    interface: Option<(u32, Option<String>)>,
    addrs: Vec<IpAddr>,
    ports: Vec<u16>,
    /// The transport protocols (an overlay packet has its outer and inner
    /// ones).
    protos: Vec<u8>,
    reason: Option<String>,
}

impl MonitorFilter {
    /// Whether `event` passes.
    #[must_use]
    pub fn matches(&self, event: &Event) -> bool {
        let kind = event.kind();
        if matches!(kind, EventKind::Lost | EventKind::Malformed) {
            return true;
        }
        if !self.kinds.is_empty() && !self.kinds.contains(&kind) {
            return false;
        }
        let f = fields(event);
        if let (Some(r), false) = (&f.reason, self.not_specified) {
            if r == "NOT_SPECIFIED" && !self.reasons.iter().any(|x| reason_eq(x, r)) {
                return false;
            }
        }
        if !self.interfaces.is_empty() {
            let Some((idx, name)) = &f.interface else {
                return false;
            };
            let hit = self.interfaces.iter().any(|i| {
                name.as_deref() == Some(i.as_str()) || i.parse::<u32>().ok() == Some(*idx)
            });
            if !hit {
                return false;
            }
        }
        if !self.ips.is_empty()
            && !f
                .addrs
                .iter()
                .any(|a| self.ips.iter().any(|c| c.contains(*a)))
        {
            return false;
        }
        if !self.ports.is_empty() && !f.ports.iter().any(|p| self.ports.contains(p)) {
            return false;
        }
        if !self.protos.is_empty() && !f.protos.iter().any(|p| self.protos.contains(p)) {
            return false;
        }
        if !self.reasons.is_empty() {
            let Some(r) = &f.reason else { return false };
            if !self.reasons.iter().any(|x| reason_eq(x, r)) {
                return false;
            }
        }
        true
    }
}

fn reason_eq(wanted: &str, actual: &str) -> bool {
    let w = wanted.strip_prefix("SKB_DROP_REASON_").unwrap_or(wanted);
    w.eq_ignore_ascii_case(actual)
}

fn fields(event: &Event) -> Fields {
    let mut f = Fields::default();
    // Every flow of the packet: the outer one and, for an overlay, each
    // packet inside (`--ip`, `--port`, `--proto` match any of them).
    let from_packet = |f: &mut Fields, data: &[u8], layer, et| {
        let mut view = Some(PacketView::capture(data, layer, et));
        while let Some(v) = view {
            if let Some(fl) = v.flow() {
                f.addrs.extend([fl.src, fl.dst]);
                f.protos.push(fl.proto);
                if let Some((s, d)) = fl.ports {
                    f.ports.extend([s, d]);
                }
            }
            view = v.tunnel.map(|t| t.inner_view());
        }
    };
    match event {
        Event::Drop(d) => {
            f.interface = Some((d.interface.ifindex, d.interface.name.clone()));
            f.reason = Some(d.reason.to_string());
            from_packet(&mut f, &d.packet, d.layer, d.protocol);
        }
        Event::Trace(t) => {
            f.interface = Some((t.interface.ifindex, t.interface.name.clone()));
            from_packet(&mut f, &t.packet, t.layer, t.protocol);
        }
        Event::Debug(d) => {
            if let Some(i) = d.iif.as_ref().or(d.oif.as_ref()) {
                f.interface = Some((i.ifindex, i.name.clone()));
            }
            from_packet(&mut f, &d.packet(), crate::event::CaptureLayer::Network, 0);
        }
        Event::Packet(p) => {
            f.interface = Some((0, Some(p.interface.to_string())));
            from_packet(&mut f, &p.packet, crate::event::CaptureLayer::Network, 0);
        }
        Event::Nat(n) => {
            f.addrs = vec![n.orig_src.0, n.orig_dst.0, n.new_src.0, n.new_dst.0];
            f.ports = vec![n.orig_src.1, n.orig_dst.1, n.new_src.1, n.new_dst.1];
            f.protos = vec![n.protocol];
        }
        Event::State(s) => {
            f.addrs = vec![s.src, s.dst];
            f.ports = vec![s.ports.0, s.ports.1];
            f.protos = vec![s.protocol];
        }
        Event::Sock(s) => {
            for (a, p) in [s.local, s.foreign].into_iter().flatten() {
                f.addrs.push(a);
                f.ports.push(p);
            }
            f.protos = u8::try_from(s.protocol).ok().into_iter().collect();
        }
        Event::Lost(_) | Event::Malformed(_) => {}
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{
        CaptureLayer, DropEvent, DropReason, Header, Interface, LossStage, Lost, ObservationPoint,
        Source, Timestamp, TraceEvent,
    };

    use crate::event::SAMPLE_UDP as UDP;

    fn header() -> Header {
        Header {
            time: Timestamp::default(),
            source: Source::Datapath,
            seq: 1,
        }
    }

    fn drop_ev(reason: &str) -> Event {
        Event::Drop(Box::new(DropEvent {
            reason: DropReason {
                name: Some(reason.into()),
                ..DropEvent::sample().reason
            },
            ..DropEvent::sample()
        }))
    }

    fn trace_ev() -> Event {
        Event::Trace(Box::new(TraceEvent {
            header: header(),
            cpu: 0,
            point: ObservationPoint::FromNetwork,
            interface: Interface {
                ifindex: 5,
                name: None,
            },
            protocol: 0x0800,
            orig_len: 28,
            layer: CaptureLayer::Network,
            packet: UDP.to_vec(),
            sample_rate: 1,
            mark: 0,
            netns: 0,
            process: None,
            sock_cookie: 0,
        }))
    }

    #[test]
    fn each_filter() {
        let d = drop_ev("NO_SOCKET");
        let t = trace_ev();
        let all = MonitorFilter::default();
        assert!(all.matches(&d) && all.matches(&t));
        let f = |m: MonitorFilter| (m.matches(&d), m.matches(&t));
        assert_eq!(
            f(MonitorFilter {
                kinds: vec![EventKind::Drop],
                ..all.clone()
            }),
            (true, false)
        );
        assert_eq!(
            f(MonitorFilter {
                interfaces: vec!["veth0".into()],
                ..all.clone()
            }),
            (true, false)
        );
        assert_eq!(
            f(MonitorFilter {
                interfaces: vec!["5".into()],
                ..all.clone()
            }),
            (false, true)
        );
        let ip = |s: &str| MonitorFilter {
            ips: vec![s.parse().unwrap()],
            ..all.clone()
        };
        assert_eq!(f(ip("10.0.0.2")), (true, true));
        assert_eq!(f(ip("10.0.0.0/30")), (true, true));
        assert_eq!(f(ip("10.0.1.0/24")), (false, false));
        assert_eq!(f(ip("::ffff:10.0.0.1")), (true, true));
        assert_eq!(
            f(MonitorFilter {
                ports: vec![8080],
                ..all.clone()
            }),
            (true, true)
        );
        assert_eq!(
            f(MonitorFilter {
                ports: vec![80],
                ..all.clone()
            }),
            (false, false)
        );
        assert_eq!(
            f(MonitorFilter {
                protos: vec![parse_proto("udp").unwrap()],
                ..all.clone()
            }),
            (true, true)
        );
        assert_eq!(
            f(MonitorFilter {
                protos: vec![6],
                ..all.clone()
            }),
            (false, false)
        );
        let reason = |r: &str| MonitorFilter {
            reasons: vec![r.into()],
            ..all.clone()
        };
        assert_eq!(f(reason("no_socket")), (true, false));
        assert_eq!(f(reason("SKB_DROP_REASON_NO_SOCKET")), (true, false));
        assert_eq!(f(reason("TCP_CSUM")), (false, false));
        // All filters AND, values OR.
        let both = MonitorFilter {
            ports: vec![1, 8080],
            protos: vec![17],
            ..all.clone()
        };
        assert_eq!(f(both), (true, true));
    }

    #[test]
    fn not_specified_and_lost() {
        let ns = drop_ev("NOT_SPECIFIED");
        assert!(!MonitorFilter::default().matches(&ns));
        assert!(MonitorFilter {
            not_specified: true,
            ..Default::default()
        }
        .matches(&ns));
        assert!(MonitorFilter {
            reasons: vec!["not_specified".into()],
            ..Default::default()
        }
        .matches(&ns));
        let lost = Event::Lost(Lost {
            header: header(),
            stage: LossStage::Kernel,
            count: 1,
            kinds: vec![],
            seq_range: None,
            breakdown: Vec::new(),
        });
        let strict = MonitorFilter {
            kinds: vec![EventKind::Trace],
            ports: vec![1],
            reasons: vec!["X".into()],
            ..Default::default()
        };
        assert!(strict.matches(&lost));
    }

    #[test]
    fn parsing() {
        assert_eq!(parse_proto("ICMPv6"), Ok(58));
        assert_eq!(parse_proto("47"), Ok(47));
        assert_eq!(parse_proto("nope"), Err(FilterError::Proto("nope".into())));
        assert_eq!(parse_kind("drop"), Ok(EventKind::Drop));
        assert!(parse_kind("x").is_err());
    }
}
