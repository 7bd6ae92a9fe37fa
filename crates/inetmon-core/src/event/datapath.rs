//! Datapath events: packets the kernel dropped (the `skb:kfree_skb`
//! tracepoint) and packets seen by tc classifier programs at an interface.
//!
//! These are what `inetmon monitor` shows beside the other event kinds. The
//! BPF side produces records decoded by [`crate::decode::datapath`]; the
//! numbers in them (drop reason, location, ifindex) are resolved to names on
//! the Linux side with [`crate::btf`] and [`crate::kallsyms`] tables.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::Header;

/// Default number of packet bytes copied into a drop or trace event.
pub const DEFAULT_CAPTURE_LEN: usize = 128;

/// Where the captured packet bytes start, which decides how they are
/// dissected and which pcapng link type they are written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureLayer {
    /// Nothing was captured, or the start is not known.
    #[default]
    None,
    /// At an Ethernet header.
    Ethernet,
    /// At the network header (IPv4 or IPv6, told apart by the version
    /// nibble or the protocol field).
    Network,
}

/// A kernel drop reason: the raw `enum skb_drop_reason` value and its name
/// in the running kernel, when known.
///
/// The numbers are not ABI (they were renumbered between kernels), so the
/// name must come from the running kernel's BTF and the raw code is kept for
/// when it does not.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct DropReason {
    /// The raw value: the subsystem in the upper 16 bits, the reason within
    /// the subsystem in the lower 16.
    pub code: u32,
    /// The subsystem name (lower case, `SKB_DROP_REASON_SUBSYS_` stripped,
    /// e.g. `openvswitch`) for reasons outside the core subsystem.
    pub subsystem: Option<String>,
    /// The reason name with the `SKB_DROP_REASON_` prefix stripped (e.g.
    /// `NO_SOCKET`), when the running kernel names this code.
    pub name: Option<String>,
}

impl DropReason {
    /// The subsystem number (upper 16 bits of the code); 0 is the core.
    #[must_use]
    pub fn subsystem_id(&self) -> u16 {
        u16::try_from(self.code >> 16).unwrap_or(u16::MAX)
    }

    /// Whether the reason is the kernel's "no specific reason"
    /// (`NOT_SPECIFIED`), which is off by default in the monitor.
    #[must_use]
    pub fn is_not_specified(&self) -> bool {
        self.name.as_deref() == Some("NOT_SPECIFIED")
    }
}

impl fmt::Display for DropReason {
    /// `NO_SOCKET`, `openvswitch/OVS_DROP_LAST_ACTION`, or the raw numbers
    /// when unnamed: `reason 7` / `subsys 3 reason 5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sub = self.subsystem_id();
        let low = self.code & 0xffff;
        match (&self.subsystem, &self.name) {
            (Some(s), Some(n)) => write!(f, "{s}/{n}"),
            (None, Some(n)) => f.write_str(n),
            (Some(s), None) => write!(f, "{s}/{low}"),
            (None, None) if sub == 0 => write!(f, "reason {low}"),
            (None, None) => write!(f, "subsys {sub} reason {low}"),
        }
    }
}

/// A kernel code address and its symbol.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct KernelLocation {
    /// The address; 0 when unknown or hidden (`kptr_restrict`).
    pub addr: u64,
    /// `function+0xoff` from `/proc/kallsyms`, when it resolved.
    pub symbol: Option<String>,
}

impl KernelLocation {
    /// `addr`, resolved to `symbol`.
    #[must_use]
    pub fn resolved(addr: u64, symbol: &str) -> Self {
        KernelLocation {
            addr,
            symbol: Some(symbol.to_owned()),
        }
    }
}

impl fmt::Display for KernelLocation {
    /// The symbol when known, otherwise the address in hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.symbol {
            Some(s) => f.write_str(s),
            None => write!(f, "{:#x}", self.addr),
        }
    }
}

/// The process in whose context the kernel dropped a packet (sending paths,
/// socket calls; absent for drops in softirq context), or, on a stack
/// trace, the owner of the packet's socket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct ProcessContext {
    /// Process id (thread group id).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// The task's `comm` (up to 15 bytes), lossily decoded.
    pub comm: String,
}

/// An interface: index and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Interface {
    /// The ifindex; 0 when the packet had no device.
    pub ifindex: u32,
    /// The interface name, when it resolved (in the packet's namespace).
    pub name: Option<String>,
}

impl Interface {
    /// Interface `ifindex`, whose name resolved to `name`.
    #[must_use]
    pub fn named(ifindex: u32, name: &str) -> Self {
        Interface {
            ifindex,
            name: Some(name.to_owned()),
        }
    }
}

impl fmt::Display for Interface {
    /// The name when known, else `ifN` (as the kernel's `%s` fallbacks and
    /// `ip link` print an index without a name), else `none` for index 0.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.name, self.ifindex) {
            (Some(n), _) => f.write_str(n),
            (None, 0) => f.write_str("none"),
            (None, i) => write!(f, "if{i}"),
        }
    }
}

/// A packet the kernel freed with a drop reason (`skb:kfree_skb`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropEvent {
    /// Time, source and sequence number.
    pub header: Header,
    /// CPU the drop happened on.
    pub cpu: u32,
    /// Why the kernel dropped it.
    pub reason: DropReason,
    /// Where in the kernel (the tracepoint's `location`).
    pub location: KernelLocation,
    /// The device of the packet at the time of the drop.
    pub interface: Interface,
    /// `skb->protocol`: the ethertype (host order), e.g. 0x0800.
    pub protocol: u16,
    /// Length of the packet (`skb->len`).
    pub orig_len: u32,
    /// Where [`DropEvent::packet`] starts.
    pub layer: CaptureLayer,
    /// The first bytes of the packet (at most the configured capture
    /// length, [`DEFAULT_CAPTURE_LEN`] by default).
    #[serde(with = "super::codec::hex")]
    pub packet: Vec<u8>,
    /// The process in context, if any.
    pub process: Option<ProcessContext>,
    /// Inode number of the packet's network namespace; 0 when unknown.
    pub netns: u32,
    /// The `ip netns` name of that namespace, when it has one.
    #[serde(default)]
    pub netns_name: Option<String>,
    /// The drop happened in a known namespace other than the monitor's own
    /// (the line then names it).
    #[serde(default)]
    pub foreign_netns: bool,
    /// `skb->mark`.
    pub mark: u32,
}

/// Where a trace program saw a packet (the names are the Cilium monitor's
/// observation points).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservationPoint {
    /// tc ingress: the packet arrived from the network on the interface.
    FromNetwork,
    /// tc egress: the packet is leaving on the interface.
    ToNetwork,
    /// cgroup_skb egress: a local socket sent the packet into the stack.
    FromStack,
    /// cgroup_skb ingress: the stack delivers the packet to a local socket.
    ToStack,
    /// Any other point number, kept raw.
    Other(u8),
}

/// IPv4 10.0.0.1:41022 -> 10.0.0.2:8080 UDP, no payload: the packet of
/// [`DropEvent::sample`].
pub const SAMPLE_UDP: [u8; 28] = [
    0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0xa0, 0x3e, 0x1f, 0x90, 0,
    8, 0, 0,
];

impl DropEvent {
    /// The one drop event tests and benchmarks start from (each changes
    /// what it needs with `..DropEvent::sample()`): a `NO_SOCKET` drop on
    /// veth0 (ifindex 4) of [`SAMPLE_UDP`], captured from the network
    /// layer.
    #[must_use]
    pub fn sample() -> DropEvent {
        DropEvent {
            header: Header::sample(super::Source::Datapath),
            cpu: 0,
            reason: DropReason {
                code: 3,
                subsystem: None,
                name: Some("NO_SOCKET".into()),
            },
            location: KernelLocation::default(),
            interface: Interface::named(4, "veth0"),
            protocol: 0x0800,
            orig_len: 28,
            layer: CaptureLayer::Network,
            packet: SAMPLE_UDP.to_vec(),
            process: None,
            netns: 0,
            netns_name: None,
            foreign_netns: false,
            mark: 0,
        }
    }
}

impl ObservationPoint {
    /// The wire number (shared with the BPF programs).
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            ObservationPoint::FromNetwork => 1,
            ObservationPoint::ToNetwork => 2,
            ObservationPoint::FromStack => 3,
            ObservationPoint::ToStack => 4,
            ObservationPoint::Other(n) => n,
        }
    }

    /// The point for a wire number.
    #[must_use]
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => ObservationPoint::FromNetwork,
            2 => ObservationPoint::ToNetwork,
            3 => ObservationPoint::FromStack,
            4 => ObservationPoint::ToStack,
            n => ObservationPoint::Other(n),
        }
    }

    /// The name used in output and filters: `from-network`, `to-network`,
    /// `from-stack`, `to-stack`, or the number.
    #[must_use]
    pub fn name(self) -> String {
        match self {
            ObservationPoint::FromNetwork => "from-network".to_owned(),
            ObservationPoint::ToNetwork => "to-network".to_owned(),
            ObservationPoint::FromStack => "from-stack".to_owned(),
            ObservationPoint::ToStack => "to-stack".to_owned(),
            ObservationPoint::Other(n) => n.to_string(),
        }
    }
}

/// A packet seen by a tc classifier or cgroup_skb program (neither
/// changes the packet's fate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEvent {
    /// Time, source and sequence number.
    pub header: Header,
    /// CPU the packet was seen on.
    pub cpu: u32,
    /// Ingress or egress, at the network or at the stack.
    pub point: ObservationPoint,
    /// The interface the program is attached to (network points), or the
    /// packet's device when the stack knows it (stack points; index 0 for
    /// a packet not yet routed).
    pub interface: Interface,
    /// `skb->protocol`: the ethertype (host order).
    pub protocol: u16,
    /// Length of the packet.
    pub orig_len: u32,
    /// Where [`TraceEvent::packet`] starts.
    pub layer: CaptureLayer,
    /// The first bytes of the packet.
    #[serde(with = "super::codec::hex")]
    pub packet: Vec<u8>,
    /// 1 in how many packets is reported (1 = all).
    pub sample_rate: u32,
    /// `skb->mark`.
    pub mark: u32,
    /// Inode number of the interface's network namespace (stack points:
    /// the socket's); 0 when unknown.
    pub netns: u32,
    /// Stack points: the owner of the packet's socket (the task that
    /// created it or last connected it), when recorded.
    #[serde(default)]
    pub process: Option<ProcessContext>,
    /// Stack points: the socket's cookie (the `cookie` of socket events);
    /// 0 for no socket and at the network points.
    #[serde(default)]
    pub sock_cookie: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_display() {
        let r = |code, sub: Option<&str>, name: Option<&str>| DropReason {
            code,
            subsystem: sub.map(str::to_owned),
            name: name.map(str::to_owned),
        };
        assert_eq!(r(3, None, Some("NO_SOCKET")).to_string(), "NO_SOCKET");
        assert_eq!(r(7, None, None).to_string(), "reason 7");
        assert_eq!(r(0x0003_0005, None, None).to_string(), "subsys 3 reason 5");
        assert_eq!(
            r(0x0002_0001, Some("openvswitch"), Some("OVS_DROP_X")).to_string(),
            "openvswitch/OVS_DROP_X"
        );
        assert_eq!(
            r(0x0002_0001, Some("openvswitch"), None).to_string(),
            "openvswitch/1"
        );
        assert!(r(2, None, Some("NOT_SPECIFIED")).is_not_specified());
    }

    #[test]
    fn point_codes_round_trip() {
        for c in 0..=255u8 {
            assert_eq!(ObservationPoint::from_code(c).code(), c);
        }
        assert_eq!(ObservationPoint::FromNetwork.name(), "from-network");
        assert_eq!(ObservationPoint::ToNetwork.name(), "to-network");
        assert_eq!(ObservationPoint::FromStack.name(), "from-stack");
        assert_eq!(ObservationPoint::ToStack.name(), "to-stack");
    }

    #[test]
    fn interface_display() {
        let i = |ifindex, name: Option<&str>| Interface {
            ifindex,
            name: name.map(str::to_owned),
        };
        assert_eq!(i(4, Some("veth0")).to_string(), "veth0");
        assert_eq!(i(4, None).to_string(), "if4");
        assert_eq!(i(0, None).to_string(), "none");
    }
}
