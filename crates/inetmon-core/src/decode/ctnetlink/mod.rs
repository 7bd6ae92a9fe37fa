//! ctnetlink conntrack event messages.
//!
//! A socket subscribed to the multicast groups `NFNLGRP_CONNTRACK_NEW` (1),
//! `_UPDATE` (2) and `_DESTROY` (3) receives `IPCTNL_MSG_CT_NEW` messages for
//! new and updated connections and `IPCTNL_MSG_CT_DELETE` for destroyed ones.
//! New and update share a type: the kernel marks a new entry with
//! `NLM_F_CREATE | NLM_F_EXCL` in the netlink header flags.
//!
//! Attribute values are in network byte order; the tuples are nested
//! (`CTA_TUPLE_ORIG` → `CTA_TUPLE_IP` → `CTA_IP_V4_SRC`…, and
//! `CTA_TUPLE_PROTO` → `CTA_PROTO_NUM`, ports or ICMP id/type/code).
//!
//! [`CtEvent::from_msg`] decodes one message into an owned [`CtEvent`] (all
//! its fields are small values, so nothing is borrowed and nothing is
//! allocated); [`to_nat_log`] and [`to_state_log`] map it onto the event
//! model, with the rules documented on them.

mod mapping;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

pub use mapping::{ipf_tcp_state, to_nat_log, to_state_log};

use super::netlink::{self, NetlinkDecodeError, NlAttr, NlMsg, NLM_F_CREATE, NLM_F_EXCL};

/// Multicast group of new-connection events (`NFNLGRP_CONNTRACK_NEW`).
pub const NFNLGRP_CONNTRACK_NEW: u32 = 1;
/// Multicast group of update events (`NFNLGRP_CONNTRACK_UPDATE`).
pub const NFNLGRP_CONNTRACK_UPDATE: u32 = 2;
/// Multicast group of destroy events (`NFNLGRP_CONNTRACK_DESTROY`).
pub const NFNLGRP_CONNTRACK_DESTROY: u32 = 3;

/// `IPCTNL_MSG_CT_NEW`: a new or updated entry.
pub const IPCTNL_MSG_CT_NEW: u8 = 0;
/// `IPCTNL_MSG_CT_DELETE`: a destroyed entry.
pub const IPCTNL_MSG_CT_DELETE: u8 = 2;

/// `CTA_*` attribute types (`enum ctattr_type`).
pub mod attr {
    /// Nested original-direction tuple.
    pub const TUPLE_ORIG: u16 = 1;
    /// Nested reply-direction tuple.
    pub const TUPLE_REPLY: u16 = 2;
    /// `IPS_*` status bits, BE u32.
    pub const STATUS: u16 = 3;
    /// Nested protocol info (`CTA_PROTOINFO_TCP` …).
    pub const PROTOINFO: u16 = 4;
    /// Seconds left, BE u32.
    pub const TIMEOUT: u16 = 7;
    /// Connection mark, BE u32.
    pub const MARK: u16 = 8;
    /// Nested original-direction counters.
    pub const COUNTERS_ORIG: u16 = 9;
    /// Nested reply-direction counters.
    pub const COUNTERS_REPLY: u16 = 10;
    /// Reference count, BE u32.
    pub const USE: u16 = 11;
    /// Conntrack id, BE u32.
    pub const ID: u16 = 12;
    /// Zone, BE u16.
    pub const ZONE: u16 = 18;
    /// Nested start/stop timestamps.
    pub const TIMESTAMP: u16 = 20;
    /// Event timestamp, BE u64 nanoseconds (kernel ≥ 6.x).
    pub const TIMESTAMP_EVENT: u16 = 27;
}

/// `CTA_TUPLE_*` inside a tuple.
pub mod tuple_attr {
    /// Nested addresses.
    pub const IP: u16 = 1;
    /// Nested protocol and ports.
    pub const PROTO: u16 = 2;
    /// Zone, BE u16.
    pub const ZONE: u16 = 3;
    /// `CTA_IP_V4_SRC`
    pub const V4_SRC: u16 = 1;
    /// `CTA_IP_V4_DST`
    pub const V4_DST: u16 = 2;
    /// `CTA_IP_V6_SRC`
    pub const V6_SRC: u16 = 3;
    /// `CTA_IP_V6_DST`
    pub const V6_DST: u16 = 4;
    /// `CTA_PROTO_NUM`, u8.
    pub const PROTO_NUM: u16 = 1;
    /// `CTA_PROTO_SRC_PORT`, BE u16.
    pub const SRC_PORT: u16 = 2;
    /// `CTA_PROTO_DST_PORT`, BE u16.
    pub const DST_PORT: u16 = 3;
    /// `CTA_PROTO_ICMP_ID`, BE u16.
    pub const ICMP_ID: u16 = 4;
    /// `CTA_PROTO_ICMP_TYPE`, u8.
    pub const ICMP_TYPE: u16 = 5;
    /// `CTA_PROTO_ICMP_CODE`, u8.
    pub const ICMP_CODE: u16 = 6;
    /// `CTA_PROTO_ICMPV6_ID`, BE u16.
    pub const ICMPV6_ID: u16 = 7;
    /// `CTA_PROTO_ICMPV6_TYPE`, u8.
    pub const ICMPV6_TYPE: u16 = 8;
    /// `CTA_PROTO_ICMPV6_CODE`, u8.
    pub const ICMPV6_CODE: u16 = 9;
}

/// `IPS_*` conntrack status bits.
pub mod status {
    /// `IPS_EXPECTED`
    pub const EXPECTED: u32 = 1 << 0;
    /// `IPS_SEEN_REPLY`
    pub const SEEN_REPLY: u32 = 1 << 1;
    /// `IPS_ASSURED`
    pub const ASSURED: u32 = 1 << 2;
    /// `IPS_CONFIRMED`
    pub const CONFIRMED: u32 = 1 << 3;
    /// `IPS_SRC_NAT`: the source is translated.
    pub const SRC_NAT: u32 = 1 << 4;
    /// `IPS_DST_NAT`: the destination is translated.
    pub const DST_NAT: u32 = 1 << 5;
    /// `IPS_SEQ_ADJUST`
    pub const SEQ_ADJUST: u32 = 1 << 6;
    /// `IPS_SRC_NAT_DONE`
    pub const SRC_NAT_DONE: u32 = 1 << 7;
    /// `IPS_DST_NAT_DONE`
    pub const DST_NAT_DONE: u32 = 1 << 8;
    /// `IPS_DYING`
    pub const DYING: u32 = 1 << 9;
    /// `IPS_FIXED_TIMEOUT`
    pub const FIXED_TIMEOUT: u32 = 1 << 10;
    /// `IPS_TEMPLATE`
    pub const TEMPLATE: u32 = 1 << 11;
    /// `IPS_UNTRACKED`
    pub const UNTRACKED: u32 = 1 << 12;
    /// `IPS_HELPER`
    pub const HELPER: u32 = 1 << 13;
    /// `IPS_OFFLOAD`
    pub const OFFLOAD: u32 = 1 << 14;
    /// `IPS_HW_OFFLOAD`
    pub const HW_OFFLOAD: u32 = 1 << 15;
}

/// What was wrong with a ctnetlink message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CtError {
    /// Bad netlink framing or an attribute of the wrong size.
    #[error(transparent)]
    Netlink(#[from] NetlinkDecodeError),
    /// Not a conntrack NEW or DELETE message.
    #[error("not a conntrack event message: type {msg_type:#06x}")]
    NotEvent {
        /// The `nlmsg_type` found.
        msg_type: u16,
    },
    /// A required part is absent.
    #[error("conntrack event: no {what}")]
    Missing {
        /// What is missing (for example `original tuple source address`).
        what: &'static str,
    },
}

/// The kind of a conntrack event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CtEventKind {
    /// A new entry (`IPCTNL_MSG_CT_NEW` with `NLM_F_CREATE|NLM_F_EXCL`).
    New,
    /// A changed entry (`IPCTNL_MSG_CT_NEW` without them).
    Update,
    /// A destroyed entry (`IPCTNL_MSG_CT_DELETE`).
    Destroy,
}

/// One direction's tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CtTuple {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP protocol number.
    pub proto: u8,
    /// Source port (TCP, UDP, SCTP, DCCP, UDP-Lite).
    pub src_port: Option<u16>,
    /// Destination port.
    pub dst_port: Option<u16>,
    /// ICMP or ICMPv6 echo id.
    pub icmp_id: Option<u16>,
    /// ICMP or ICMPv6 type.
    pub icmp_type: Option<u8>,
    /// ICMP or ICMPv6 code.
    pub icmp_code: Option<u8>,
    /// Tuple zone (`CTA_TUPLE_ZONE`).
    pub zone: Option<u16>,
}

impl CtTuple {
    /// Nothing known yet (unspecified IPv4 addresses, protocol 0): where
    /// decoding starts before the attributes fill it in.
    const UNSET: CtTuple = CtTuple {
        src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        proto: 0,
        src_port: None,
        dst_port: None,
        icmp_id: None,
        icmp_type: None,
        icmp_code: None,
        zone: None,
    };

    /// The source "port": the port, else the ICMP id, else 0.
    #[must_use]
    pub fn sport(&self) -> u16 {
        self.src_port.or(self.icmp_id).unwrap_or(0)
    }

    /// The destination "port": the port, else the ICMP id, else 0.
    #[must_use]
    pub fn dport(&self) -> u16 {
        self.dst_port.or(self.icmp_id).unwrap_or(0)
    }
}

/// Packet and byte counters of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct CtCounters {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// One decoded conntrack event. Optional parts are `None` when the kernel
/// did not send them (counters and timestamps need `nf_conntrack_acct` and
/// `nf_conntrack_timestamp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtEvent {
    /// New, update or destroy.
    pub kind: CtEventKind,
    /// Address family from `nfgenmsg` (2 or 10).
    pub family: u8,
    /// Original-direction tuple (required).
    pub orig: CtTuple,
    /// Reply-direction tuple.
    pub reply: Option<CtTuple>,
    /// `IPS_*` bits; see [`status`].
    pub status: Option<u32>,
    /// Conntrack id.
    pub id: Option<u32>,
    /// Connection mark.
    pub mark: Option<u32>,
    /// Zone.
    pub zone: Option<u16>,
    /// Seconds until the entry times out.
    pub timeout: Option<u32>,
    /// Linux TCP conntrack state (`TCP_CONNTRACK_*`).
    pub tcp_state: Option<u8>,
    /// Original-direction counters.
    pub counters_orig: Option<CtCounters>,
    /// Reply-direction counters.
    pub counters_reply: Option<CtCounters>,
    /// Start time, nanoseconds since the epoch.
    pub start_ns: Option<u64>,
    /// Stop time, nanoseconds since the epoch (destroy events).
    pub stop_ns: Option<u64>,
    /// Time of the event, nanoseconds since the epoch (`CTA_TIMESTAMP_EVENT`).
    pub event_ns: Option<u64>,
    /// Reference count (`CTA_USE`).
    pub use_count: Option<u32>,
}

impl CtEvent {
    /// Decodes an `IPCTNL_MSG_CT_NEW` or `IPCTNL_MSG_CT_DELETE` message.
    ///
    /// # Errors
    /// [`CtError::NotEvent`] for other messages; [`CtError::Netlink`] for bad
    /// framing or attribute sizes; [`CtError::Missing`] when the original
    /// tuple or its addresses or protocol are absent.
    pub fn from_msg(msg: &NlMsg<'_>) -> Result<Self, CtError> {
        let kind = match (msg.nfnl_subsys(), msg.nfnl_msg()) {
            (netlink::NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW) => {
                if msg.flags & (NLM_F_CREATE | NLM_F_EXCL) != 0 {
                    CtEventKind::New
                } else {
                    CtEventKind::Update
                }
            }
            (netlink::NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_DELETE) => CtEventKind::Destroy,
            _ => {
                return Err(CtError::NotEvent {
                    msg_type: msg.msg_type,
                })
            }
        };
        let (gen, attrs) = msg.nfgenmsg()?;
        let mut orig = None;
        let mut e = CtEvent {
            kind,
            family: gen.family,
            orig: CtTuple::UNSET,
            reply: None,
            status: None,
            id: None,
            mark: None,
            zone: None,
            timeout: None,
            tcp_state: None,
            counters_orig: None,
            counters_reply: None,
            start_ns: None,
            stop_ns: None,
            event_ns: None,
            use_count: None,
        };
        for a in netlink::attrs(attrs) {
            let a = a?;
            match a.kind {
                attr::TUPLE_ORIG => orig = Some(tuple(&a, ORIG)?),
                attr::TUPLE_REPLY => e.reply = Some(tuple(&a, REPLY)?),
                attr::STATUS => e.status = Some(a.be32()?),
                attr::PROTOINFO => e.tcp_state = tcp_state(&a)?.or(e.tcp_state),
                attr::TIMEOUT => e.timeout = Some(a.be32()?),
                attr::MARK => e.mark = Some(a.be32()?),
                attr::COUNTERS_ORIG => e.counters_orig = Some(counters(&a)?),
                attr::COUNTERS_REPLY => e.counters_reply = Some(counters(&a)?),
                attr::USE => e.use_count = Some(a.be32()?),
                attr::ID => e.id = Some(a.be32()?),
                attr::ZONE => e.zone = Some(a.be16()?),
                attr::TIMESTAMP => {
                    for t in a.nested() {
                        let t = t?;
                        match t.kind {
                            1 => e.start_ns = Some(t.be64()?),
                            2 => e.stop_ns = Some(t.be64()?),
                            _ => {}
                        }
                    }
                }
                attr::TIMESTAMP_EVENT => e.event_ns = Some(a.be64()?),
                _ => {}
            }
        }
        e.orig = orig.ok_or(CtError::Missing {
            what: "original tuple",
        })?;
        Ok(e)
    }

    /// Whether the status says source NAT.
    #[must_use]
    pub fn is_snat(&self) -> bool {
        self.status.unwrap_or(0) & status::SRC_NAT != 0
    }

    /// Whether the status says destination NAT.
    #[must_use]
    pub fn is_dnat(&self) -> bool {
        self.status.unwrap_or(0) & status::DST_NAT != 0
    }
}

const ORIG: [&str; 3] = [
    "original source address",
    "original destination address",
    "original protocol",
];
const REPLY: [&str; 3] = [
    "reply source address",
    "reply destination address",
    "reply protocol",
];

fn tuple(a: &NlAttr<'_>, which: [&'static str; 3]) -> Result<CtTuple, CtError> {
    let (mut src, mut dst, mut proto) = (None, None, None);
    let mut t = CtTuple::UNSET;
    use tuple_attr as ta;
    for part in a.nested() {
        let part = part?;
        match part.kind {
            ta::IP => {
                for ip in part.nested() {
                    let ip = ip?;
                    match ip.kind {
                        ta::V4_SRC => src = Some(v4(&ip)?),
                        ta::V4_DST => dst = Some(v4(&ip)?),
                        ta::V6_SRC => src = Some(v6(&ip)?),
                        ta::V6_DST => dst = Some(v6(&ip)?),
                        _ => {}
                    }
                }
            }
            ta::PROTO => {
                for p in part.nested() {
                    let p = p?;
                    match p.kind {
                        ta::PROTO_NUM => proto = Some(p.u8()?),
                        ta::SRC_PORT => t.src_port = Some(p.be16()?),
                        ta::DST_PORT => t.dst_port = Some(p.be16()?),
                        ta::ICMP_ID | ta::ICMPV6_ID => t.icmp_id = Some(p.be16()?),
                        ta::ICMP_TYPE | ta::ICMPV6_TYPE => t.icmp_type = Some(p.u8()?),
                        ta::ICMP_CODE | ta::ICMPV6_CODE => t.icmp_code = Some(p.u8()?),
                        _ => {}
                    }
                }
            }
            ta::ZONE => t.zone = Some(part.be16()?),
            _ => {}
        }
    }
    let [w_src, w_dst, w_proto] = which;
    t.src = src.ok_or(CtError::Missing { what: w_src })?;
    t.dst = dst.ok_or(CtError::Missing { what: w_dst })?;
    t.proto = proto.ok_or(CtError::Missing { what: w_proto })?;
    Ok(t)
}

fn v4(a: &NlAttr<'_>) -> Result<IpAddr, NetlinkDecodeError> {
    let b: [u8; 4] = a.be32()?.to_be_bytes();
    Ok(IpAddr::V4(Ipv4Addr::from(b)))
}

fn v6(a: &NlAttr<'_>) -> Result<IpAddr, NetlinkDecodeError> {
    let b: [u8; 16] = a
        .payload
        .try_into()
        .map_err(|_| NetlinkDecodeError::ValueLen {
            attr: a.kind,
            expected: 16,
            got: a.payload.len(),
        })?;
    Ok(IpAddr::V6(Ipv6Addr::from(b)))
}

/// `CTA_PROTOINFO` → `CTA_PROTOINFO_TCP` → `CTA_PROTOINFO_TCP_STATE`.
fn tcp_state(a: &NlAttr<'_>) -> Result<Option<u8>, NetlinkDecodeError> {
    for p in a.nested() {
        let p = p?;
        if p.kind == 1 {
            for t in p.nested() {
                let t = t?;
                if t.kind == 1 {
                    return t.u8().map(Some);
                }
            }
        }
    }
    Ok(None)
}

/// `CTA_COUNTERS_PACKETS`/`_BYTES` (BE u64) or the old 32-bit variants.
fn counters(a: &NlAttr<'_>) -> Result<CtCounters, NetlinkDecodeError> {
    let mut c = CtCounters::default();
    for n in a.nested() {
        let n = n?;
        match n.kind {
            1 => c.packets = n.be64()?,
            2 => c.bytes = n.be64()?,
            3 => c.packets = u64::from(n.be32()?),
            4 => c.bytes = u64::from(n.be32()?),
            _ => {}
        }
    }
    Ok(c)
}

/// Decodes every conntrack event in a netlink datagram, skipping control and
/// other messages. Stops after bad framing; a bad event message yields an
/// error and the walk goes on.
pub fn events(datagram: &[u8]) -> impl Iterator<Item = Result<CtEvent, CtError>> + '_ {
    netlink::messages(datagram).filter_map(|m| match m {
        Err(e) => Some(Err(CtError::Netlink(e))),
        Ok(m) if m.kind() != netlink::NlMsgKind::Data => None,
        Ok(m) => match CtEvent::from_msg(&m) {
            Err(CtError::NotEvent { .. }) => None,
            r => Some(r),
        },
    })
}

#[cfg(test)]
mod tests;
