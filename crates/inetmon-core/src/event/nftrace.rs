//! One step of an nftables trace (`meta nftrace set 1`): which table, chain
//! and rule the packet reached and what was decided there, as the kernel
//! reports it on the `NFNLGRP_NFTRACE` netlink group (what `nft monitor
//! trace` prints). `inetmon monitor --type debug` shows these.

use serde::{Deserialize, Serialize};

use super::{Header, Interface};

/// What kind of trace step this is (`enum nft_trace_types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NftTraceType {
    /// `NFT_TRACETYPE_RULE`: a rule matched and gave `verdict`.
    Rule,
    /// `NFT_TRACETYPE_RETURN`: the end of a chain was reached without a
    /// verdict; evaluation returns to the calling chain.
    Return,
    /// `NFT_TRACETYPE_POLICY`: the end of a base chain; its policy decided.
    Policy,
    /// A type this program does not know (the raw value).
    Other(u32),
}

impl NftTraceType {
    /// From the raw `NFTA_TRACE_TYPE` value.
    #[must_use]
    pub fn from_raw(v: u32) -> Self {
        match v {
            1 => NftTraceType::Policy,
            2 => NftTraceType::Return,
            3 => NftTraceType::Rule,
            x => NftTraceType::Other(x),
        }
    }

    /// `rule`, `return`, `policy`, or `type N`.
    #[must_use]
    pub fn name(self) -> String {
        match self {
            NftTraceType::Rule => "rule".to_owned(),
            NftTraceType::Return => "return".to_owned(),
            NftTraceType::Policy => "policy".to_owned(),
            NftTraceType::Other(x) => format!("type {x}"),
        }
    }
}

/// An nftables verdict: the code (`NF_DROP` 0, `NF_ACCEPT` 1, …, or the
/// negative `NFT_CONTINUE` … `NFT_RETURN`) and, for `jump`/`goto`, the
/// target chain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NftVerdict {
    /// `NFTA_VERDICT_CODE` as a signed value.
    pub code: i32,
    /// `NFTA_VERDICT_CHAIN`, for jump and goto.
    pub chain: Option<String>,
}

/// The name of a verdict code as `nft` prints it (`accept`, `drop`,
/// `continue`, `jump`, …; `queue` for any queue number), or `None` for a
/// code it has no name for.
#[must_use]
pub fn verdict_code_name(code: i32) -> Option<&'static str> {
    Some(match code {
        0 => "drop",
        1 => "accept",
        2 => "stolen",
        4 => "repeat",
        5 => "stop",
        -1 => "continue",
        -2 => "break",
        -3 => "jump",
        -4 => "goto",
        -5 => "return",
        c if c >= 0 && c & 0xff == 3 => "queue",
        _ => return None,
    })
}

impl NftVerdict {
    /// As `nft monitor trace` prints it: `accept`, `jump sub`,
    /// `verdict 77` for an unknown code.
    #[must_use]
    pub fn text(&self) -> String {
        match (verdict_code_name(self.code), &self.chain) {
            (Some(n), Some(c)) => format!("{n} {c}"),
            (Some(n), None) => n.to_owned(),
            (None, _) => format!("verdict {}", self.code),
        }
    }
}

/// The name of a netfilter protocol family (`NFPROTO_*`) as nft writes it
/// before a table name: `inet`, `ip`, `ip6`, `arp`, `bridge`, `netdev`.
#[must_use]
pub fn nfproto_name(family: u8) -> Option<&'static str> {
    Some(match family {
        1 => "inet",
        2 => "ip",
        3 => "arp",
        5 => "netdev",
        7 => "bridge",
        10 => "ip6",
        _ => return None,
    })
}

/// One trace step of one packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NftTraceEvent {
    /// Time read, source and sequence number (the kernel gives no time).
    pub header: Header,
    /// `NFTA_TRACE_ID`: the same for every step of one packet.
    pub id: u32,
    /// The table's family (`nfgenmsg`): 1 inet, 2 ip, 10 ip6, 7 bridge, …
    pub family: u8,
    /// `NFTA_TRACE_TABLE`.
    pub table: String,
    /// `NFTA_TRACE_CHAIN`.
    pub chain: String,
    /// `NFTA_TRACE_TYPE`.
    pub trace_type: NftTraceType,
    /// `NFTA_TRACE_RULE_HANDLE`: the rule (`nft -a list ruleset` shows
    /// handles), for rule steps.
    pub rule_handle: Option<u64>,
    /// The rule's comment (`comment "…"`), looked up by handle when the
    /// producer could (see [`crate::decode::nftrace::rule`]).
    pub rule_comment: Option<String>,
    /// `NFTA_TRACE_VERDICT`, for rule and return steps.
    pub verdict: Option<NftVerdict>,
    /// `NFTA_TRACE_POLICY` (a verdict code), for policy steps.
    pub policy: Option<u32>,
    /// `NFTA_TRACE_NFPROTO`: the packet's protocol family (2 IPv4, 10 IPv6).
    pub nfproto: Option<u32>,
    /// Input interface (`NFTA_TRACE_IIF`), named in the monitor's namespace.
    pub iif: Option<Interface>,
    /// `NFTA_TRACE_IIFTYPE` (`ARPHRD_*`).
    pub iif_type: Option<u16>,
    /// Output interface (`NFTA_TRACE_OIF`).
    pub oif: Option<Interface>,
    /// `NFTA_TRACE_OIFTYPE` (`ARPHRD_*`).
    pub oif_type: Option<u16>,
    /// `NFTA_TRACE_MARK`.
    pub mark: Option<u32>,
    /// `NFTA_TRACE_LL_HEADER`: link-layer header bytes (at most 20).
    #[serde(with = "super::codec::hex")]
    pub ll_header: Vec<u8>,
    /// `NFTA_TRACE_NETWORK_HEADER`: network header bytes (at most 40).
    #[serde(with = "super::codec::hex")]
    pub network_header: Vec<u8>,
    /// `NFTA_TRACE_TRANSPORT_HEADER`: transport header bytes (at most 20).
    #[serde(with = "super::codec::hex")]
    pub transport_header: Vec<u8>,
    /// The kernel sends the packet's headers only with the first step of a
    /// packet at each hook; `true` when the three header fields were copied
    /// from an earlier step of the same trace id (see
    /// [`crate::decode::nftrace::HeaderCarry`]).
    pub headers_inherited: bool,
}

impl NftTraceEvent {
    /// The packet from its network header on, as far as the trace has it:
    /// the network header followed by the transport header when the network
    /// header is complete (its IPv4 IHL or the 40 bytes of an IPv6 header
    /// without extension headers), else the network header alone.
    #[must_use]
    pub fn packet(&self) -> Vec<u8> {
        let n = &self.network_header;
        let complete = match n.first().map(|b| b >> 4) {
            Some(4) => n
                .first()
                .is_some_and(|b| usize::from(b & 0x0f) * 4 == n.len()),
            // Without extension headers: the kernel cuts the network
            // header at 40 bytes, so a longer chain is incomplete.
            Some(6) => n.len() == 40 && !matches!(n.get(6), Some(0 | 43 | 44 | 50 | 51 | 60 | 135)),
            _ => false,
        };
        let mut p = Vec::with_capacity(n.len() + self.transport_header.len());
        p.extend_from_slice(n);
        if complete {
            p.extend_from_slice(&self.transport_header);
        }
        p
    }
}
