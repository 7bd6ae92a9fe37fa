//! NFLOG (`nfnetlink_log`) packet messages, zero-copy.
//!
//! Two encodings of the same thing are decoded into one [`NflogPacket`] view:
//!
//! - a live `NFULNL_MSG_PACKET` netlink message ([`NflogPacket::from_msg`]):
//!   `nlmsghdr`, `nfgenmsg` (family, version, group), then `NFULA_*`
//!   attributes whose headers are in host order;
//! - a pcap record with `LINKTYPE_NFLOG` (239)
//!   ([`packet_from_linktype_nflog`]): a 4-byte `nflog_hdr` (family, version,
//!   resource id big-endian) then the same TLVs, whose length and type are in
//!   the capturing host's byte order (little-endian on every capture seen).
//!
//! In both, the attribute *values* are in network byte order, except the
//! prefix, hardware address and raw byte strings.
//!
//! [`config`] builds the `NFULNL_MSG_CONFIG` requests that bind a group and
//! set its modes; [`to_packet_log`] maps a packet onto the event model (its
//! rules are documented there).

pub mod config;
mod mapping;

use std::borrow::Cow;

use thiserror::Error;

pub use mapping::{
    parse_prefix, to_packet_log, to_packet_log_cached, to_packet_log_reusing, NameCache, NflogLine,
    PrefixRule,
};

use super::netlink::{self, HeaderOrder, NetlinkDecodeError, NlMsg};

/// `NFULNL_MSG_PACKET`: a logged packet.
pub const NFULNL_MSG_PACKET: u8 = 0;
/// `NFULNL_MSG_CONFIG`: a configuration request.
pub const NFULNL_MSG_CONFIG: u8 = 1;

/// `NFULA_*` packet attribute types (`enum nfulnl_attr_type`).
pub mod attr {
    /// `struct nfulnl_msg_packet_hdr`: hw_protocol (BE), hook, pad.
    pub const PACKET_HDR: u16 = 1;
    /// Packet mark, BE u32.
    pub const MARK: u16 = 2;
    /// `struct nfulnl_msg_packet_timestamp`: BE u64 seconds, BE u64 µs.
    pub const TIMESTAMP: u16 = 3;
    /// Input interface index, BE u32.
    pub const IFINDEX_INDEV: u16 = 4;
    /// Output interface index, BE u32.
    pub const IFINDEX_OUTDEV: u16 = 5;
    /// Physical (bridge port) input interface index, BE u32.
    pub const IFINDEX_PHYSINDEV: u16 = 6;
    /// Physical (bridge port) output interface index, BE u32.
    pub const IFINDEX_PHYSOUTDEV: u16 = 7;
    /// `struct nfulnl_msg_packet_hw`: BE u16 length, pad, 8 address bytes.
    pub const HWADDR: u16 = 8;
    /// The packet, from the network header.
    pub const PAYLOAD: u16 = 9;
    /// The rule's log prefix, NUL-terminated.
    pub const PREFIX: u16 = 10;
    /// UID of the socket, BE u32.
    pub const UID: u16 = 11;
    /// Per-instance sequence number, BE u32.
    pub const SEQ: u16 = 12;
    /// Global sequence number, BE u32.
    pub const SEQ_GLOBAL: u16 = 13;
    /// GID of the socket, BE u32.
    pub const GID: u16 = 14;
    /// ARPHRD_* device type, BE u16.
    pub const HWTYPE: u16 = 15;
    /// The link-layer header.
    pub const HWHEADER: u16 = 16;
    /// Length of the link-layer header, BE u16.
    pub const HWLEN: u16 = 17;
    /// Nested ctnetlink attributes of the packet's connection.
    pub const CT: u16 = 18;
    /// `enum ip_conntrack_info`, BE u32.
    pub const CT_INFO: u16 = 19;
    /// Nested: `NFULA_VLAN_PROTO` (1) and `NFULA_VLAN_TCI` (2), BE u16 each.
    pub const VLAN: u16 = 20;
    /// The full layer-2 header.
    pub const L2HDR: u16 = 21;
}

/// `NFULA_VLAN_PROTO` inside [`attr::VLAN`].
pub const NFULA_VLAN_PROTO: u16 = 1;
/// `NFULA_VLAN_TCI` inside [`attr::VLAN`].
pub const NFULA_VLAN_TCI: u16 = 2;

/// `IP_CT_NEW` in `NFULA_CT_INFO`.
pub const IP_CT_NEW: u32 = 2;

/// Length of the `LINKTYPE_NFLOG` record header.
pub const LINKTYPE_NFLOG_HDRLEN: usize = 4;

/// What was wrong with an NFLOG message or record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NflogError {
    /// Bad netlink framing or an attribute of the wrong size.
    #[error(transparent)]
    Netlink(#[from] NetlinkDecodeError),
    /// The message is not an NFLOG packet message.
    #[error("not an NFLOG packet message: type {msg_type:#06x}")]
    NotPacket {
        /// The `nlmsg_type` found.
        msg_type: u16,
    },
    /// A `LINKTYPE_NFLOG` record shorter than its 4-byte header.
    #[error("LINKTYPE_NFLOG record: need 4 header bytes, have {have}")]
    RecordLen {
        /// Bytes present.
        have: usize,
    },
}

/// `NFULA_TIMESTAMP`: when the kernel received the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NflogTimestamp {
    /// Seconds since the epoch.
    pub sec: u64,
    /// Microseconds.
    pub usec: u64,
}

/// `NFULA_VLAN`: the VLAN tag the packet carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NflogVlan {
    /// `NFULA_VLAN_PROTO` (0x8100 or 0x88a8).
    pub proto: Option<u16>,
    /// `NFULA_VLAN_TCI`.
    pub tci: Option<u16>,
}

/// A view of one logged packet. Fields are `None` when the attribute was
/// absent; unknown attributes are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NflogPacket<'a> {
    /// Address family from `nfgenmsg` / `nflog_hdr` (2 IPv4, 10 IPv6, 7 bridge).
    pub family: u8,
    /// NFLOG group (the resource id).
    pub group: u16,
    /// Link-layer protocol (ethertype), from `NFULA_PACKET_HDR`.
    pub hw_protocol: Option<u16>,
    /// Netfilter hook (0 prerouting, 1 input, 2 forward, 3 output,
    /// 4 postrouting), from `NFULA_PACKET_HDR`.
    pub hook: Option<u8>,
    /// Packet mark.
    pub mark: Option<u32>,
    /// Receive timestamp.
    pub timestamp: Option<NflogTimestamp>,
    /// Input interface index.
    pub ifindex_in: Option<u32>,
    /// Output interface index.
    pub ifindex_out: Option<u32>,
    /// Physical input interface index (bridges).
    pub ifindex_physin: Option<u32>,
    /// Physical output interface index (bridges).
    pub ifindex_physout: Option<u32>,
    /// Hardware (source MAC) address, cut to its stated length.
    pub hwaddr: Option<&'a [u8]>,
    /// The packet from its network header, as copied (maybe truncated).
    pub payload: Option<&'a [u8]>,
    /// The log prefix, without the terminating NUL and what follows it.
    pub prefix: Option<&'a [u8]>,
    /// UID of the sending socket.
    pub uid: Option<u32>,
    /// GID of the sending socket.
    pub gid: Option<u32>,
    /// Per-instance sequence number.
    pub seq: Option<u32>,
    /// Global sequence number.
    pub seq_global: Option<u32>,
    /// `ARPHRD_*` type of the device.
    pub hwtype: Option<u16>,
    /// The link-layer header.
    pub hwheader: Option<&'a [u8]>,
    /// Length of the link-layer header.
    pub hwlen: Option<u16>,
    /// Raw nested ctnetlink attributes (`NFULA_CT`).
    pub ct: Option<&'a [u8]>,
    /// Conntrack info (`enum ip_conntrack_info`).
    pub ct_info: Option<u32>,
    /// VLAN tag.
    pub vlan: Option<NflogVlan>,
    /// The full layer-2 header.
    pub l2hdr: Option<&'a [u8]>,
}

impl<'a> NflogPacket<'a> {
    /// Decodes a live `NFULNL_MSG_PACKET` message.
    ///
    /// # Errors
    /// [`NflogError::NotPacket`] for other message types; [`NflogError::Netlink`]
    /// for a truncated `nfgenmsg`, bad attribute framing or an attribute value
    /// of the wrong size.
    pub fn from_msg(msg: &NlMsg<'a>) -> Result<Self, NflogError> {
        if msg.nfnl_subsys() != netlink::NFNL_SUBSYS_ULOG || msg.nfnl_msg() != NFULNL_MSG_PACKET {
            return Err(NflogError::NotPacket {
                msg_type: msg.msg_type,
            });
        }
        let (gen, attrs) = msg.nfgenmsg()?;
        Self::from_attrs(gen.family, gen.res_id, attrs, HeaderOrder::Native)
    }

    /// Decodes the `NFULA_*` attributes in `block`, whose headers are in
    /// `order`.
    ///
    /// # Errors
    /// [`NflogError::Netlink`] for bad framing or a value of the wrong size.
    pub fn from_attrs(
        family: u8,
        group: u16,
        block: &'a [u8],
        order: HeaderOrder,
    ) -> Result<Self, NflogError> {
        let mut p = NflogPacket {
            family,
            group,
            ..NflogPacket::default()
        };
        netlink::for_each_attr(block, order, |kind, v| p.set(kind, v, order))?;
        Ok(p)
    }

    /// Stores the value `v` of an attribute of type `kind`. Inlined into the
    /// attribute walk: it runs for every attribute of every packet.
    #[inline(always)]
    fn set(
        &mut self,
        kind: u16,
        v: &'a [u8],
        order: HeaderOrder,
    ) -> Result<(), NetlinkDecodeError> {
        match kind {
            attr::PACKET_HDR => {
                let [p0, p1, hook] = at_least::<3>(kind, v)?;
                self.hw_protocol = Some(u16::from_be_bytes([p0, p1]));
                self.hook = Some(hook);
            }
            attr::MARK => self.mark = Some(be32(kind, v)?),
            attr::TIMESTAMP => {
                let b = at_least::<16>(kind, v)?;
                let (s, u) = b.split_at(8);
                self.timestamp = Some(NflogTimestamp {
                    sec: u64::from_be_bytes(s.try_into().unwrap_or_default()),
                    usec: u64::from_be_bytes(u.try_into().unwrap_or_default()),
                });
            }
            attr::IFINDEX_INDEV => self.ifindex_in = Some(be32(kind, v)?),
            attr::IFINDEX_OUTDEV => self.ifindex_out = Some(be32(kind, v)?),
            attr::IFINDEX_PHYSINDEV => self.ifindex_physin = Some(be32(kind, v)?),
            attr::IFINDEX_PHYSOUTDEV => self.ifindex_physout = Some(be32(kind, v)?),
            attr::HWADDR => {
                let [l0, l1, ..] = at_least::<4>(kind, v)?;
                let n = usize::from(u16::from_be_bytes([l0, l1]));
                let addr = v.get(4..).unwrap_or_default();
                self.hwaddr = Some(addr.get(..n).unwrap_or(addr));
            }
            attr::PAYLOAD => self.payload = Some(v),
            attr::PREFIX => {
                let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
                self.prefix = Some(v.get(..end).unwrap_or(v));
            }
            attr::UID => self.uid = Some(be32(kind, v)?),
            attr::GID => self.gid = Some(be32(kind, v)?),
            attr::SEQ => self.seq = Some(be32(kind, v)?),
            attr::SEQ_GLOBAL => self.seq_global = Some(be32(kind, v)?),
            attr::HWTYPE => self.hwtype = Some(be16(kind, v)?),
            attr::HWHEADER => self.hwheader = Some(v),
            attr::HWLEN => self.hwlen = Some(be16(kind, v)?),
            attr::CT => self.ct = Some(v),
            attr::CT_INFO => self.ct_info = Some(be32(kind, v)?),
            attr::VLAN => {
                let mut vlan = NflogVlan::default();
                netlink::for_each_attr(v, order, |k, n| {
                    match k {
                        NFULA_VLAN_PROTO => vlan.proto = Some(be16(k, n)?),
                        NFULA_VLAN_TCI => vlan.tci = Some(be16(k, n)?),
                        _ => {}
                    }
                    Ok::<(), NetlinkDecodeError>(())
                })?;
                self.vlan = Some(vlan);
            }
            attr::L2HDR => self.l2hdr = Some(v),
            _ => {}
        }
        Ok(())
    }

    /// The prefix as text: invalid UTF-8 replaced (lossy), empty when absent.
    #[must_use]
    pub fn prefix_str(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.prefix.unwrap_or_default())
    }
}

/// The first `N` bytes of the value of attribute `kind` (longer values are
/// allowed, as with [`netlink::NlAttr::prefix`]).
fn at_least<const N: usize>(kind: u16, v: &[u8]) -> Result<[u8; N], NetlinkDecodeError> {
    v.first_chunk::<N>()
        .copied()
        .ok_or(NetlinkDecodeError::ValueLen {
            attr: kind,
            expected: N,
            got: v.len(),
        })
}

/// The value of attribute `kind` as exactly `N` bytes (as
/// [`netlink::NlAttr::be32`] requires).
fn exact<const N: usize>(kind: u16, v: &[u8]) -> Result<[u8; N], NetlinkDecodeError> {
    v.try_into().map_err(|_| NetlinkDecodeError::ValueLen {
        attr: kind,
        expected: N,
        got: v.len(),
    })
}

fn be16(kind: u16, v: &[u8]) -> Result<u16, NetlinkDecodeError> {
    exact::<2>(kind, v).map(u16::from_be_bytes)
}

fn be32(kind: u16, v: &[u8]) -> Result<u32, NetlinkDecodeError> {
    exact::<4>(kind, v).map(u32::from_be_bytes)
}

/// Decodes one pcap record of link type `LINKTYPE_NFLOG` (239): the 4-byte
/// `nflog_hdr` then TLVs whose length and type are little-endian (the
/// capturing host's order; every Linux capture host of note is little-endian)
/// and whose lengths include the 4-byte TLV header, padded to 4.
///
/// # Errors
/// [`NflogError::RecordLen`] when the record is shorter than 4 bytes;
/// [`NflogError::Netlink`] for bad TLV framing or a value of the wrong size.
pub fn packet_from_linktype_nflog(record: &[u8]) -> Result<NflogPacket<'_>, NflogError> {
    packet_from_linktype_nflog_ordered(record, HeaderOrder::Little)
}

/// Like [`packet_from_linktype_nflog`], with the TLV header byte order given:
/// a pcap or pcapng reader should pass the byte order of the file (of its
/// section for pcapng), which is the capturing host's; libpcap swaps these
/// TLV headers when it reads a file of the other order.
///
/// # Errors
/// As [`packet_from_linktype_nflog`].
pub fn packet_from_linktype_nflog_ordered(
    record: &[u8],
    order: HeaderOrder,
) -> Result<NflogPacket<'_>, NflogError> {
    let (head, tlvs) = record
        .split_at_checked(LINKTYPE_NFLOG_HDRLEN)
        .ok_or(NflogError::RecordLen { have: record.len() })?;
    let (gen, _) = netlink::split_nfgenmsg(head)?;
    NflogPacket::from_attrs(gen.family, gen.res_id, tlvs, order)
}

/// What an ipmon line needs of a `LINKTYPE_NFLOG` record: the subset of
/// [`NflogPacket`] that [`line_attrs`] keeps. Equal, field for field, to the
/// same fields of [`packet_from_linktype_nflog_ordered`]'s packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineAttrs<'a> {
    /// [`NflogPacket::family`].
    pub family: u8,
    /// [`NflogPacket::group`].
    pub group: u16,
    /// [`NflogPacket::hook`].
    pub hook: Option<u8>,
    /// [`NflogPacket::timestamp`].
    pub timestamp: Option<NflogTimestamp>,
    /// [`NflogPacket::ifindex_in`].
    pub ifindex_in: Option<u32>,
    /// [`NflogPacket::ifindex_out`].
    pub ifindex_out: Option<u32>,
    /// [`NflogPacket::payload`].
    pub payload: Option<&'a [u8]>,
    /// [`NflogPacket::prefix`].
    pub prefix: Option<&'a [u8]>,
    /// [`NflogPacket::ct_info`].
    pub ct_info: Option<u32>,
}

impl<'a> From<&NflogPacket<'a>> for LineAttrs<'a> {
    fn from(p: &NflogPacket<'a>) -> Self {
        LineAttrs {
            family: p.family,
            group: p.group,
            hook: p.hook,
            timestamp: p.timestamp,
            ifindex_in: p.ifindex_in,
            ifindex_out: p.ifindex_out,
            payload: p.payload,
            prefix: p.prefix,
            ct_info: p.ct_info,
        }
    }
}

/// The file reader's lean decode of a `LINKTYPE_NFLOG` record (TLV headers
/// in `order`): the attribute walk of [`packet_from_linktype_nflog_ordered`]
/// with the same checks (framing, and the size of every known attribute's
/// value), keeping only what an ipmon line prints ([`LineAttrs`]) in a small
/// struct instead of building the whole [`NflogPacket`]. `None` exactly when
/// [`packet_from_linktype_nflog_ordered`] returns an error (the caller then
/// decodes the record the full way, which says what is wrong).
#[must_use]
pub fn line_attrs(record: &[u8], order: HeaderOrder) -> Option<LineAttrs<'_>> {
    let (&[family, _version, r0, r1], tlvs) =
        record.split_first_chunk::<LINKTYPE_NFLOG_HDRLEN>()?;
    let group = u16::from_be_bytes([r0, r1]);
    // One copy of the loop per header byte order: the order is then no
    // branch per attribute.
    match order {
        HeaderOrder::Little => line_walk::<false>(family, group, tlvs, order),
        HeaderOrder::Big => line_walk::<true>(family, group, tlvs, order),
        HeaderOrder::Native => {
            line_walk::<{ cfg!(target_endian = "big") }>(family, group, tlvs, order)
        }
    }
}

/// The walk of [`line_attrs`], headers big-endian when `BIG`. Mirrors
/// [`netlink::for_each_attr`] and [`NflogPacket::set`] step for step.
#[inline(always)]
fn line_walk<const BIG: bool>(
    family: u8,
    group: u16,
    block: &[u8],
    order: HeaderOrder,
) -> Option<LineAttrs<'_>> {
    let u16_of = |b: [u8; 2]| {
        if BIG {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    };
    let be32_of = |v: &[u8]| v.try_into().ok().map(u32::from_be_bytes);
    let mut a = LineAttrs {
        family,
        group,
        ..LineAttrs::default()
    };
    let mut rest = block;
    while let Some((&[l0, l1, t0, t1], tail)) = rest.split_first_chunk::<4>() {
        let len = usize::from(u16_of([l0, l1]));
        // `len` counts the 4-byte header: below 4 is bad framing.
        let v = tail.get(..len.checked_sub(4)?)?;
        match u16_of([t0, t1]) & netlink::NLA_TYPE_MASK {
            attr::PACKET_HDR => a.hook = Some(*v.get(2)?),
            attr::TIMESTAMP => {
                let (s, rest) = v.split_first_chunk::<8>()?;
                let (u, _) = rest.split_first_chunk::<8>()?;
                a.timestamp = Some(NflogTimestamp {
                    sec: u64::from_be_bytes(*s),
                    usec: u64::from_be_bytes(*u),
                });
            }
            attr::IFINDEX_INDEV => a.ifindex_in = Some(be32_of(v)?),
            attr::IFINDEX_OUTDEV => a.ifindex_out = Some(be32_of(v)?),
            attr::CT_INFO => a.ct_info = Some(be32_of(v)?),
            attr::PAYLOAD => a.payload = Some(v),
            attr::PREFIX => {
                let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
                a.prefix = Some(v.get(..end).unwrap_or(v));
            }
            // Not kept, but checked as the full decode checks them.
            attr::MARK
            | attr::IFINDEX_PHYSINDEV
            | attr::IFINDEX_PHYSOUTDEV
            | attr::UID
            | attr::GID
            | attr::SEQ
            | attr::SEQ_GLOBAL
                if v.len() != 4 =>
            {
                return None
            }
            attr::HWTYPE | attr::HWLEN if v.len() != 2 => return None,
            attr::HWADDR if v.len() < 4 => return None,
            attr::VLAN => {
                netlink::for_each_attr(v, order, |k, n| match k {
                    NFULA_VLAN_PROTO | NFULA_VLAN_TCI => be16(k, n).map(|_| ()),
                    _ => Ok::<(), NetlinkDecodeError>(()),
                })
                .ok()?;
            }
            _ => {}
        }
        // As `for_each_attr`: to the next 4-byte boundary, or to the end.
        rest = rest.get((len + 3) & !3..).unwrap_or_default();
    }
    // 1 to 3 bytes left: a truncated attribute header.
    rest.is_empty().then_some(a)
}

/// Decodes every NFLOG packet in a netlink datagram, skipping `NLMSG_DONE`,
/// `NLMSG_NOOP` and other non-packet messages.
///
/// Yields an error once and stops when the framing is bad; a packet message
/// with a bad attribute yields an error and the walk goes on with the next
/// message (its framing was fine).
pub fn packets(datagram: &[u8]) -> impl Iterator<Item = Result<NflogPacket<'_>, NflogError>> {
    netlink::messages(datagram).filter_map(|m| match m {
        Err(e) => Some(Err(NflogError::Netlink(e))),
        Ok(m) if m.kind() != netlink::NlMsgKind::Data => None,
        Ok(m) => match NflogPacket::from_msg(&m) {
            Err(NflogError::NotPacket { .. }) => None,
            r => Some(r),
        },
    })
}

/// Like [`packets`], each packet with the bytes of its whole netlink
/// message (`nlmsghdr` to the last attribute), which `ipmon -X` dumps.
pub fn packets_with_message(
    datagram: &[u8],
) -> impl Iterator<Item = Result<(NflogPacket<'_>, &[u8]), NflogError>> {
    netlink::messages(datagram).filter_map(move |m| match m {
        Err(e) => Some(Err(NflogError::Netlink(e))),
        Ok(m) if m.kind() != netlink::NlMsgKind::Data => None,
        Ok(m) => match NflogPacket::from_msg(&m) {
            Err(NflogError::NotPacket { .. }) => None,
            Err(e) => Some(Err(e)),
            Ok(p) => {
                let end = m.offset.saturating_add(m.len as usize);
                Some(Ok((p, datagram.get(m.offset..end).unwrap_or_default())))
            }
        },
    })
}

#[cfg(test)]
pub(crate) mod tests;
