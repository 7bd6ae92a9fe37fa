//! NAT and connection-state records: IP Filter's `natlog_t`/`ipslog_t`, and
//! the same facts from Linux conntrack events.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

use super::{Header, Source};

/// A NAT mapping event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatLog {
    /// Time, source and sequence number.
    pub header: Header,
    /// What happened to the mapping.
    pub action: NatAction,
    /// The kind of mapping.
    pub nat_type: NatType,
    /// NAT rule number, counted from 1; 0 when unknown (`@0`).
    pub rule: u32,
    /// IP protocol number.
    pub protocol: u8,
    /// Original source address and port (ports are ICMP ids for ICMP).
    pub orig_src: (IpAddr, u16),
    /// Original destination address and port.
    pub orig_dst: (IpAddr, u16),
    /// Translated source address and port.
    pub new_src: (IpAddr, u16),
    /// Translated destination address and port.
    pub new_dst: (IpAddr, u16),
    /// Packets forward/backward, when known.
    pub packets: Option<[u64; 2]>,
    /// Bytes forward/backward, when known.
    pub bytes: Option<[u64; 2]>,
    /// Conntrack id, for records from Linux conntrack.
    pub conntrack_id: Option<u32>,
    /// IP Filter NAT log sequence number (`ipl_seqnum` of the `/dev/ipnat`
    /// unit), for ipmon's `missed N NAT log entries` line; `None` for
    /// records that did not come from an IP Filter binary log.
    pub ipf_seq: Option<u32>,
}

/// What happened to a NAT mapping (IP Filter's `nl_action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NatAction {
    /// `NAT:NEW`
    New,
    /// `NAT:CLONE`
    Clone,
    /// `NAT:PURGE`
    Purge,
    /// `NAT:DESTROY`
    Destroy,
    /// `NAT:FLUSH`
    Flush,
    /// `NAT:EXPIRE`
    Expire,
    /// Any other value, printed as `NAT:Action(N)`.
    Other(u32),
}

/// The kind of NAT mapping (IP Filter's `nl_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NatType {
    /// Source NAT (`-MAP`).
    Map,
    /// Destination NAT (`-RDR`).
    Rdr,
    /// Both directions (`-BIMAP`).
    Bimap,
    /// `-MAPBLOCK`
    MapBlock,
    /// Any other value: `-RWR_MAP` etc. by number, or `-Type(N)`.
    Other(u32),
}

/// A connection-state event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateLog {
    /// Time, source and sequence number.
    pub header: Header,
    /// What happened to the state entry.
    pub state_type: StateType,
    /// IP protocol number.
    pub protocol: u8,
    /// IP version of the addresses (4 or 6).
    pub ip_version: u8,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source and destination port for TCP/UDP; ICMP type in `.0` for ICMP.
    pub ports: (u16, u16),
    /// State tag; 0 when none.
    pub tag: u32,
    /// TCP states of the two sides (IP Filter numbering), when known.
    pub tcp_state: Option<[u8; 2]>,
    /// Packets: forward in, forward out, backward in, backward out.
    pub packets: [u64; 4],
    /// Bytes, in the same order as `packets`.
    pub bytes: [u64; 4],
    /// Conntrack id, for records from Linux conntrack.
    pub conntrack_id: Option<u32>,
    /// IP Filter state log sequence number (`ipl_seqnum` of the
    /// `/dev/ipstate` unit), for ipmon's `missed N state log entries` line;
    /// `None` for records that did not come from an IP Filter binary log.
    pub ipf_seq: Option<u32>,
}

/// What happened to a state entry (IP Filter's `isl_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateType {
    /// `STATE:NEW`
    New,
    /// `STATE:CLONED`
    Cloned,
    /// `STATE:EXPIRE` (or `STATE:CLOSE` for established TCP)
    Expire,
    /// `STATE:FLUSH`
    Flush,
    /// `STATE:INTERMEDIATE` (an update)
    Intermediate,
    /// `STATE:REMOVE`
    Remove,
    /// `STATE:KILLED`
    Killed,
    /// `STATE:UNLOAD`
    Unload,
    /// Any other value, printed as `Type: N`.
    Other(u32),
}

impl NatLog {
    /// The one NAT event tests start from (each changes what it needs with
    /// `..NatLog::sample()`): a new TCP MAP by rule 1 of
    /// 10.0.0.1:1234 -> 1.1.1.1:80 as 192.0.2.1:40000 -> 1.1.1.1:80, without
    /// counters, from stdin.
    #[must_use]
    pub fn sample() -> NatLog {
        let far = (IpAddr::from([1, 1, 1, 1]), 80);
        NatLog {
            header: Header::sample(Source::Stdin),
            action: NatAction::New,
            nat_type: NatType::Map,
            rule: 1,
            protocol: 6,
            orig_src: (IpAddr::from([10, 0, 0, 1]), 1234),
            orig_dst: far,
            new_src: (IpAddr::from([192, 0, 2, 1]), 40000),
            new_dst: far,
            packets: None,
            bytes: None,
            conntrack_id: None,
            ipf_seq: None,
        }
    }
}

impl StateLog {
    /// The one state event tests start from (each changes what it needs
    /// with `..StateLog::sample()`): a new ICMP echo (type 8) state of
    /// 10.0.0.1 -> 10.0.0.2, one 84-byte packet each way, from stdin.
    #[must_use]
    pub fn sample() -> StateLog {
        StateLog {
            header: Header::sample(Source::Stdin),
            state_type: StateType::New,
            protocol: 1,
            ip_version: 4,
            src: IpAddr::from([10, 0, 0, 1]),
            dst: IpAddr::from([10, 0, 0, 2]),
            ports: (8, 0),
            tag: 0,
            tcp_state: None,
            packets: [1, 0, 1, 0],
            bytes: [84, 0, 84, 0],
            conntrack_id: None,
            ipf_seq: None,
        }
    }
}
