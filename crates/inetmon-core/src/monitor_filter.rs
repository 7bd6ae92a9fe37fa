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
use std::str::FromStr;

use thiserror::Error;

use crate::event::{Event, EventKind};
use crate::format::monitor::dissect::flow;

/// A bad filter value on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FilterError {
    /// Not an address or `address/prefix`.
    #[error("invalid address or prefix {0:?}")]
    Cidr(String),
    /// Not a protocol name or number.
    #[error("unknown protocol {0:?}")]
    Proto(String),
    /// Not an event kind name.
    #[error("unknown event type {0:?}")]
    Kind(String),
}

/// An address prefix (`10.0.0.0/8`, `fd00::/64`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `a` is inside the prefix (IPv4-mapped IPv6 addresses, on
    /// either side, match as IPv4).
    #[must_use]
    pub fn contains(&self, a: IpAddr) -> bool {
        let a = match a {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        match (self.addr, a) {
            (IpAddr::V4(n), IpAddr::V4(x)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(x) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(x)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(x) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || FilterError::Cidr(s.to_owned());
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| err())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(err)?,
            None => max,
        };
        // `::ffff:a.b.c.d/n` (n >= 96) is the IPv4 prefix a.b.c.d/(n-96).
        if let IpAddr::V6(v6) = addr {
            if let (Some(v4), Some(p4)) = (v6.to_ipv4_mapped(), prefix.checked_sub(96)) {
                return Ok(Cidr {
                    addr: IpAddr::V4(v4),
                    prefix: p4,
                });
            }
        }
        Ok(Cidr { addr, prefix })
    }
}

/// A protocol name (`tcp`, `udp`, `icmp`, `icmpv6`, `sctp`, `igmp`, `gre`,
/// `esp`, `ah`, `vrrp`) or number.
///
/// # Errors
/// [`FilterError::Proto`] for anything else.
pub fn parse_proto(s: &str) -> Result<u8, FilterError> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "icmp" | "icmpv4" => 1,
        "igmp" => 2,
        "tcp" => 6,
        "udp" => 17,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "icmpv6" | "icmp6" | "ipv6-icmp" => 58,
        "vrrp" => 112,
        "sctp" => 132,
        other => other
            .parse()
            .map_err(|_| FilterError::Proto(s.to_owned()))?,
    })
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
    proto: Option<u8>,
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
        if !self.protos.is_empty() && !f.proto.is_some_and(|p| self.protos.contains(&p)) {
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
    let from_packet = |f: &mut Fields, data: &[u8], layer, et| {
        if let Some(fl) = flow(data, layer, et) {
            f.addrs = vec![fl.src, fl.dst];
            f.proto = Some(fl.proto);
            if let Some((s, d)) = fl.ports {
                f.ports = vec![s, d];
            }
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
        Event::Packet(p) => {
            f.interface = Some((0, Some(p.interface.to_string())));
            from_packet(&mut f, &p.packet, crate::event::CaptureLayer::Network, 0);
        }
        Event::Nat(n) => {
            f.addrs = vec![n.orig_src.0, n.orig_dst.0, n.new_src.0, n.new_dst.0];
            f.ports = vec![n.orig_src.1, n.orig_dst.1, n.new_src.1, n.new_dst.1];
            f.proto = Some(n.protocol);
        }
        Event::State(s) => {
            f.addrs = vec![s.src, s.dst];
            f.ports = vec![s.ports.0, s.ports.1];
            f.proto = Some(s.protocol);
        }
        Event::Sock(s) => {
            for (a, p) in [s.local, s.foreign].into_iter().flatten() {
                f.addrs.push(a);
                f.ports.push(p);
            }
            f.proto = u8::try_from(s.protocol).ok();
        }
        Event::Lost(_) | Event::Malformed(_) => {}
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{
        CaptureLayer, DropEvent, DropReason, Header, Interface, KernelLocation, LossStage, Lost,
        ObservationPoint, Source, Timestamp, TraceEvent,
    };

    /// IPv4 10.0.0.1:41022 -> 10.0.0.2:8080 UDP.
    const UDP: [u8; 28] = [
        0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0xa0, 0x3e, 0x1f, 0x90,
        0, 8, 0, 0,
    ];

    fn header() -> Header {
        Header {
            time: Timestamp::default(),
            source: Source::Datapath,
            seq: 1,
        }
    }

    fn drop_ev(reason: &str) -> Event {
        Event::Drop(Box::new(DropEvent {
            header: header(),
            cpu: 0,
            reason: DropReason {
                code: 3,
                subsystem: None,
                name: Some(reason.into()),
            },
            location: KernelLocation::default(),
            interface: Interface {
                ifindex: 4,
                name: Some("veth0".into()),
            },
            protocol: 0x0800,
            orig_len: 28,
            layer: CaptureLayer::Network,
            packet: UDP.to_vec(),
            process: None,
            netns: 0,
            netns_name: None,
            foreign_netns: false,
            mark: 0,
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
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("fd00::/129".parse::<Cidr>().is_err());
        assert!("x".parse::<Cidr>().is_err());
        let c: Cidr = "fd00::/16".parse().unwrap();
        assert!(c.contains("fd00:1::5".parse().unwrap()));
        assert!(!c.contains("fe80::1".parse().unwrap()));
        let any: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(any.contains("192.0.2.1".parse().unwrap()));
        assert!(!any.contains("::1".parse().unwrap()));
    }
}
