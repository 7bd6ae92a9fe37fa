//! nftables trace messages (`NFT_MSG_TRACE`), zero-copy.
//!
//! A packet whose `nftrace` bit is set (`meta nftrace set 1`) makes the
//! kernel send one message per evaluation step to the `NFNLGRP_NFTRACE`
//! multicast group of `NETLINK_NETFILTER`: a rule that matched, the end of a
//! chain (`return`), or a base chain's policy. Each is an nfnetlink message
//! of subsystem `NFNL_SUBSYS_NFTABLES` (10), type `NFT_MSG_TRACE` (17): the
//! `nfgenmsg` carries the table's family, then `NFTA_TRACE_*` attributes
//! (values in network byte order; names NUL-terminated strings; the verdict
//! nested as `NFTA_VERDICT_CODE`/`NFTA_VERDICT_CHAIN`).
//!
//! The kernel attaches the packet's link-layer, network and transport
//! header bytes only to the first message of a packet at each hook;
//! [`HeaderCarry`] copies them onto the later steps of the same trace id, so
//! that every step can name its packet.
//!
//! [`traces`] walks a datagram; [`NftTrace::from_msg`] decodes one message
//! into a borrowed view; [`NftTrace::to_event`] makes the owned
//! [`NftTraceEvent`].

pub mod rule;

use std::collections::VecDeque;

use thiserror::Error;

use super::netlink::{self, HeaderOrder, NetlinkDecodeError, NlMsg, NlMsgKind};
use crate::event::{Header, Interface, NftTraceEvent, NftTraceType, NftVerdict};

/// Multicast group of trace messages (`NFNLGRP_NFTRACE`).
pub const NFNLGRP_NFTRACE: u32 = 9;
/// nfnetlink subsystem of nf_tables (`NFNL_SUBSYS_NFTABLES`).
pub const NFNL_SUBSYS_NFTABLES: u8 = 10;
/// `NFT_MSG_TRACE`.
pub const NFT_MSG_TRACE: u8 = 17;

/// `NFTA_TRACE_*` attribute types (`enum nft_trace_attributes`).
pub mod attr {
    /// Table name, string.
    pub const TABLE: u16 = 1;
    /// Chain name, string.
    pub const CHAIN: u16 = 2;
    /// Rule handle, BE u64.
    pub const RULE_HANDLE: u16 = 3;
    /// `enum nft_trace_types`, BE u32.
    pub const TYPE: u16 = 4;
    /// Nested verdict (`NFTA_VERDICT_*`).
    pub const VERDICT: u16 = 5;
    /// Trace id, BE u32.
    pub const ID: u16 = 6;
    /// Link-layer header bytes.
    pub const LL_HEADER: u16 = 7;
    /// Network header bytes.
    pub const NETWORK_HEADER: u16 = 8;
    /// Transport header bytes.
    pub const TRANSPORT_HEADER: u16 = 9;
    /// Input ifindex, BE u32.
    pub const IIF: u16 = 10;
    /// Input device type (`ARPHRD_*`), BE u16.
    pub const IIFTYPE: u16 = 11;
    /// Output ifindex, BE u32.
    pub const OIF: u16 = 12;
    /// Output device type, BE u16.
    pub const OIFTYPE: u16 = 13;
    /// Packet mark, BE u32.
    pub const MARK: u16 = 14;
    /// Packet protocol family (`NFPROTO_*`), BE u32.
    pub const NFPROTO: u16 = 15;
    /// Policy verdict of a base chain, BE u32.
    pub const POLICY: u16 = 16;
    /// `NFTA_VERDICT_CODE` inside [`VERDICT`], BE u32 (signed).
    pub const VERDICT_CODE: u16 = 1;
    /// `NFTA_VERDICT_CHAIN` inside [`VERDICT`], string.
    pub const VERDICT_CHAIN: u16 = 2;
}

/// What was wrong with a trace message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NftTraceError {
    /// Bad netlink framing or an attribute of the wrong size.
    #[error(transparent)]
    Netlink(#[from] NetlinkDecodeError),
    /// The message is not an nftables trace message.
    #[error("not an nftables trace message: type {msg_type:#06x}")]
    NotTrace {
        /// The `nlmsg_type` found.
        msg_type: u16,
    },
    /// A required attribute is absent.
    #[error("nftables trace message without {name}")]
    Missing {
        /// The attribute's name (`NFTA_TRACE_TABLE`, …).
        name: &'static str,
    },
    /// A name that is not UTF-8.
    #[error("nftables trace attribute {attr}: name is not UTF-8")]
    NotUtf8 {
        /// The attribute type.
        attr: u16,
    },
}

/// One trace message, borrowed from the datagram. Optional attributes are
/// `None` (or empty) when absent; unknown attributes are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NftTrace<'a> {
    /// Family of the table (`nfgenmsg`).
    pub family: u8,
    /// `NFTA_TRACE_ID`.
    pub id: u32,
    /// `NFTA_TRACE_TABLE`.
    pub table: &'a str,
    /// `NFTA_TRACE_CHAIN`.
    pub chain: &'a str,
    /// `NFTA_TRACE_TYPE`, raw.
    pub trace_type: u32,
    /// `NFTA_TRACE_RULE_HANDLE`.
    pub rule_handle: Option<u64>,
    /// `NFTA_VERDICT_CODE` of `NFTA_TRACE_VERDICT`.
    pub verdict_code: Option<i32>,
    /// `NFTA_VERDICT_CHAIN` of `NFTA_TRACE_VERDICT`.
    pub verdict_chain: Option<&'a str>,
    /// `NFTA_TRACE_POLICY`.
    pub policy: Option<u32>,
    /// `NFTA_TRACE_NFPROTO`.
    pub nfproto: Option<u32>,
    /// `NFTA_TRACE_IIF`.
    pub iif: Option<u32>,
    /// `NFTA_TRACE_IIFTYPE`.
    pub iif_type: Option<u16>,
    /// `NFTA_TRACE_OIF`.
    pub oif: Option<u32>,
    /// `NFTA_TRACE_OIFTYPE`.
    pub oif_type: Option<u16>,
    /// `NFTA_TRACE_MARK`.
    pub mark: Option<u32>,
    /// `NFTA_TRACE_LL_HEADER`.
    pub ll_header: &'a [u8],
    /// `NFTA_TRACE_NETWORK_HEADER`.
    pub network_header: &'a [u8],
    /// `NFTA_TRACE_TRANSPORT_HEADER`.
    pub transport_header: &'a [u8],
}

fn name(attr: u16, v: &[u8]) -> Result<&str, NftTraceError> {
    let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
    std::str::from_utf8(v.get(..end).unwrap_or_default())
        .map_err(|_| NftTraceError::NotUtf8 { attr })
}

fn exact<const N: usize>(attr: u16, v: &[u8]) -> Result<[u8; N], NetlinkDecodeError> {
    v.try_into().map_err(|_| NetlinkDecodeError::ValueLen {
        attr,
        expected: N,
        got: v.len(),
    })
}

impl<'a> NftTrace<'a> {
    /// Decodes one netlink message.
    ///
    /// # Errors
    /// [`NftTraceError::NotTrace`] for another message type; framing and
    /// value-size errors; [`NftTraceError::Missing`] without table, chain,
    /// type or id; [`NftTraceError::NotUtf8`] for a bad name.
    pub fn from_msg(msg: &NlMsg<'a>) -> Result<Self, NftTraceError> {
        if msg.nfnl_subsys() != NFNL_SUBSYS_NFTABLES || msg.nfnl_msg() != NFT_MSG_TRACE {
            return Err(NftTraceError::NotTrace {
                msg_type: msg.msg_type,
            });
        }
        let (gen, attrs) = msg.nfgenmsg()?;
        Self::from_attrs(gen.family, attrs)
    }

    /// Decodes the attribute block of a trace message (headers in host
    /// order), for a table of family `family`.
    ///
    /// # Errors
    /// As [`NftTrace::from_msg`].
    pub fn from_attrs(family: u8, block: &'a [u8]) -> Result<Self, NftTraceError> {
        let mut t = NftTrace {
            family,
            ..NftTrace::default()
        };
        let (mut table, mut chain, mut ty, mut id) = (None, None, None, None);
        netlink::for_each_attr(block, HeaderOrder::Native, |kind, v| {
            match kind {
                attr::TABLE => table = Some(name(kind, v)?),
                attr::CHAIN => chain = Some(name(kind, v)?),
                attr::RULE_HANDLE => t.rule_handle = Some(u64::from_be_bytes(exact(kind, v)?)),
                attr::TYPE => ty = Some(u32::from_be_bytes(exact(kind, v)?)),
                attr::VERDICT => {
                    netlink::for_each_attr(v, HeaderOrder::Native, |k, n| {
                        match k {
                            attr::VERDICT_CODE => {
                                t.verdict_code = Some(i32::from_be_bytes(exact(k, n)?));
                            }
                            attr::VERDICT_CHAIN => t.verdict_chain = Some(name(k, n)?),
                            _ => {}
                        }
                        Ok::<(), NftTraceError>(())
                    })?;
                }
                attr::ID => id = Some(u32::from_be_bytes(exact(kind, v)?)),
                attr::LL_HEADER => t.ll_header = v,
                attr::NETWORK_HEADER => t.network_header = v,
                attr::TRANSPORT_HEADER => t.transport_header = v,
                attr::IIF => t.iif = Some(u32::from_be_bytes(exact(kind, v)?)),
                attr::IIFTYPE => t.iif_type = Some(u16::from_be_bytes(exact(kind, v)?)),
                attr::OIF => t.oif = Some(u32::from_be_bytes(exact(kind, v)?)),
                attr::OIFTYPE => t.oif_type = Some(u16::from_be_bytes(exact(kind, v)?)),
                attr::MARK => t.mark = Some(u32::from_be_bytes(exact(kind, v)?)),
                attr::NFPROTO => t.nfproto = Some(u32::from_be_bytes(exact(kind, v)?)),
                attr::POLICY => t.policy = Some(u32::from_be_bytes(exact(kind, v)?)),
                _ => {}
            }
            Ok::<(), NftTraceError>(())
        })?;
        let missing = |name| NftTraceError::Missing { name };
        t.table = table.ok_or(missing("NFTA_TRACE_TABLE"))?;
        t.chain = chain.ok_or(missing("NFTA_TRACE_CHAIN"))?;
        t.trace_type = ty.ok_or(missing("NFTA_TRACE_TYPE"))?;
        t.id = id.ok_or(missing("NFTA_TRACE_ID"))?;
        Ok(t)
    }

    /// The owned event, with interface names from `ifname` (which answers
    /// `None` for an index it cannot name).
    #[must_use]
    pub fn to_event(
        &self,
        header: Header,
        ifname: &dyn Fn(u32) -> Option<String>,
    ) -> NftTraceEvent {
        let iface = |i: Option<u32>| {
            i.map(|ifindex| Interface {
                ifindex,
                name: ifname(ifindex),
            })
        };
        NftTraceEvent {
            header,
            id: self.id,
            family: self.family,
            table: self.table.to_owned(),
            chain: self.chain.to_owned(),
            trace_type: NftTraceType::from_raw(self.trace_type),
            rule_handle: self.rule_handle,
            rule_comment: None,
            verdict: self.verdict_code.map(|code| NftVerdict {
                code,
                chain: self.verdict_chain.map(str::to_owned),
            }),
            policy: self.policy,
            nfproto: self.nfproto,
            iif: iface(self.iif),
            iif_type: self.iif_type,
            oif: iface(self.oif),
            oif_type: self.oif_type,
            mark: self.mark,
            ll_header: self.ll_header.to_vec(),
            network_header: self.network_header.to_vec(),
            transport_header: self.transport_header.to_vec(),
            headers_inherited: false,
        }
    }
}

/// The trace messages of a netlink datagram; control messages and other
/// nfnetlink messages are skipped. After a framing error nothing more is
/// read.
pub fn traces(datagram: &[u8]) -> impl Iterator<Item = Result<NftTrace<'_>, NftTraceError>> {
    netlink::messages(datagram).filter_map(|m| match m {
        Err(e) => Some(Err(NftTraceError::Netlink(e))),
        Ok(m) if m.kind() != NlMsgKind::Data => None,
        Ok(m) => match NftTrace::from_msg(&m) {
            Err(NftTraceError::NotTrace { .. }) => None,
            r => Some(r),
        },
    })
}

/// How many recent trace ids [`HeaderCarry`] remembers.
pub const CARRY_IDS: usize = 256;

/// What the kernel sends with the first step of a packet at a hook only.
#[derive(Debug, Clone)]
struct Carried {
    id: u32,
    ll: Vec<u8>,
    net: Vec<u8>,
    th: Vec<u8>,
    iif: Option<Interface>,
    iif_type: Option<u16>,
    oif: Option<Interface>,
    oif_type: Option<u16>,
}

/// Remembers the packet headers and interfaces of the last [`CARRY_IDS`]
/// trace ids, to give the steps the kernel sends without them (every step
/// after the first of a packet at one hook) those of their packet.
#[derive(Debug, Default, Clone)]
pub struct HeaderCarry {
    recent: VecDeque<Carried>,
}

impl HeaderCarry {
    /// An empty carry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Remembers `ev`'s headers and interfaces when it has headers;
    /// otherwise fills them from the latest step of the same trace id, if
    /// remembered, and sets [`NftTraceEvent::headers_inherited`].
    pub fn apply(&mut self, ev: &mut NftTraceEvent) {
        let has = !ev.network_header.is_empty() || !ev.ll_header.is_empty();
        let pos = self.recent.iter().position(|c| c.id == ev.id);
        if has {
            let c = Carried {
                id: ev.id,
                ll: ev.ll_header.clone(),
                net: ev.network_header.clone(),
                th: ev.transport_header.clone(),
                iif: ev.iif.clone(),
                iif_type: ev.iif_type,
                oif: ev.oif.clone(),
                oif_type: ev.oif_type,
            };
            if let Some(i) = pos {
                self.recent.remove(i);
            }
            if self.recent.len() >= CARRY_IDS {
                self.recent.pop_front();
            }
            self.recent.push_back(c);
        } else if let Some(c) = pos.and_then(|i| self.recent.get(i)) {
            ev.ll_header.clone_from(&c.ll);
            ev.network_header.clone_from(&c.net);
            ev.transport_header.clone_from(&c.th);
            if ev.iif.is_none() && ev.oif.is_none() {
                ev.iif.clone_from(&c.iif);
                ev.iif_type = c.iif_type;
                ev.oif.clone_from(&c.oif);
                ev.oif_type = c.oif_type;
            }
            ev.headers_inherited = true;
        }
    }
}

#[cfg(test)]
mod tests;
