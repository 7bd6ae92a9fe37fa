//! A logged packet: what IP Filter calls an `ipf` log record and netfilter an
//! NFLOG message.

use super::{Header, SharedStr};
use serde::{Deserialize, Serialize};

/// A packet logged by a firewall rule.
///
/// The fields are those of IP Filter's `ipflog_t`, which is what the ipmon
/// format prints; NFLOG-specific metadata is kept in [`PacketLog::nflog`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketLog {
    /// Time, source and sequence number.
    pub header: Header,
    /// Number of identical consecutive records merged into this one (≥ 1);
    /// printed as `Nx` when above one.
    pub count: u32,
    /// Interface name, printed as is.
    pub interface: SharedStr,
    /// Direction of the packet through the interface, when known.
    pub direction: Option<Direction>,
    /// Rule group.
    pub group: RuleGroup,
    /// Rule number within the group, counted from 1; `None` prints as `-1`.
    pub rule: Option<u32>,
    /// What the rule did with the packet.
    pub action: Action,
    /// Rule and packet flags that appear in the output.
    pub flags: PacketFlags,
    /// Log tag of the rule (`log-tag N`); 0 when none.
    pub log_tag: u32,
    /// NAT tag (`nat-tag S`); empty when none.
    pub nat_tag: String,
    /// IP Filter block reason index (`reason:…`); `None` when unknown.
    pub reason: Option<u8>,
    /// Syslog facility|priority from the rule's `log level`; `None` when the
    /// rule set none.
    pub log_level: Option<u16>,
    /// Address family as the kernel numbers it (2 = IPv4, 10 = IPv6 on Linux,
    /// 28 = IPv6 on FreeBSD); 0 when unknown.
    pub family: u8,
    /// How many bytes at the start of [`PacketLog::packet`] are headers
    /// (IP header plus a fixed-size transport part); the rest is body.
    pub header_len: u16,
    /// The logged packet bytes, starting at the IP header, as captured
    /// (possibly truncated).
    #[serde(with = "super::codec::hex")]
    pub packet: Vec<u8>,
    /// IP Filter log sequence number (`ipl_seqnum`), for `missed` lines.
    pub ipf_seq: Option<u32>,
    /// NFLOG metadata, when the record came from NFLOG.
    pub nflog: Option<NflogInfo>,
    /// The raw record header bytes (for `ipmon -X`): for IP Filter logs the
    /// `iplog_t` + `ipflog_t` bytes.
    #[serde(with = "super::codec::hex")]
    pub raw_header: Vec<u8>,
}

/// Direction of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Received (`IN`).
    In,
    /// Sent (`OUT`).
    Out,
}

/// The rule group of a logged packet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleGroup {
    /// No rule matched yet; printed as `@-1:`.
    None,
    /// A named group; the default group is named `0`.
    Named(SharedStr),
}

/// What the logging rule did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The packet was passed (`p`).
    Pass,
    /// The packet was blocked (`b`).
    Block,
    /// A log-only rule (`L`).
    Log,
    /// No rule matched (`n`).
    NoMatch,
    /// Anything else (`?`).
    Unknown,
}

/// Flags shown in the ipmon trailer, plus the ones that change the line.
///
/// Bit values are inetmon's own; the IP Filter binary decoder maps the
/// `FR_*`/`FI_*` bits onto them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct PacketFlags(pub u32);

impl PacketLog {
    /// The one packet event tests and benchmarks start from (each changes
    /// what it needs with `..PacketLog::sample()`): a block by rule 3 of
    /// group `0`, inbound on eth0, IPv4, no packet bytes, from stdin.
    #[must_use]
    pub fn sample() -> PacketLog {
        PacketLog {
            header: Header::sample(super::Source::Stdin),
            count: 1,
            interface: "eth0".into(),
            direction: Some(Direction::In),
            group: RuleGroup::Named("0".into()),
            rule: Some(3),
            action: Action::Block,
            flags: PacketFlags::default(),
            log_tag: 0,
            nat_tag: String::new(),
            reason: None,
            log_level: None,
            family: 2,
            header_len: 40,
            packet: Vec::new(),
            ipf_seq: None,
            nflog: None,
            raw_header: Vec::new(),
        }
    }
}

impl PacketFlags {
    /// The packet was too short to hold its transport header (`S`).
    pub const SHORT: u32 = 1 << 0;
    /// The rule keeps state (`K-S`).
    pub const KEEP_STATE: u32 = 1 << 1;
    /// The rule keeps fragment state (`K-F`).
    pub const KEEP_FRAG: u32 = 1 << 2;
    /// The rule logs the packet body (`log body`; enables `-b`).
    pub const LOG_BODY: u32 = 1 << 3;
    /// `low-ttl`
    pub const LOW_TTL: u32 = 1 << 4;
    /// `OOW` (out of window)
    pub const OOW: u32 = 1 << 5;
    /// `bad`
    pub const BAD: u32 = 1 << 6;
    /// `NAT`
    pub const NATED: u32 = 1 << 7;
    /// `bad-NAT`
    pub const BAD_NAT: u32 = 1 << 8;
    /// `bad-src`
    pub const BAD_SRC: u32 = 1 << 9;
    /// `multicast`
    pub const MULTICAST: u32 = 1 << 10;
    /// `broadcast`
    pub const BROADCAST: u32 = 1 << 11;
    /// `mbcast`
    pub const MBCAST: u32 = 1 << 12;

    /// Whether every bit of `bits` is set.
    #[must_use]
    pub fn has(self, bits: u32) -> bool {
        self.0 & bits == bits
    }

    /// These flags with `bits` set.
    #[must_use]
    pub fn with(self, bits: u32) -> Self {
        PacketFlags(self.0 | bits)
    }
}

/// Metadata that only NFLOG messages carry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NflogInfo {
    /// The NFLOG group the message was sent to.
    pub group: u16,
    /// The rule's log prefix (`log prefix "…"`), without the trailing NUL.
    pub prefix: SharedStr,
    /// Netfilter hook number (0 prerouting … 4 postrouting).
    pub hook: Option<u8>,
    /// Link-layer protocol (ethertype) of the packet.
    pub hw_protocol: u16,
    /// Input interface index, when the packet was received.
    pub ifindex_in: Option<u32>,
    /// Output interface index, when the packet was being sent.
    pub ifindex_out: Option<u32>,
    /// Packet mark.
    pub mark: Option<u32>,
    /// UID of the owning socket, for locally generated packets.
    pub uid: Option<u32>,
    /// GID of the owning socket, for locally generated packets.
    pub gid: Option<u32>,
    /// Per-instance NFLOG sequence number (when the group has sequencing on).
    pub seq: Option<u32>,
    /// Global NFLOG sequence number (when enabled).
    pub seq_global: Option<u32>,
    /// Conntrack state of the packet (`NFULA_CT_INFO`: 0 established,
    /// 1 related, 2 new, 3 established reply, …).
    pub ct_info: Option<u32>,
    /// Length of the packet on the wire, when larger than what was copied.
    pub orig_len: Option<u32>,
}
