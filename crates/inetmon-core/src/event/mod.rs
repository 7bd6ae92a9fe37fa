//! The event model.
//!
//! One [`Event`] enum; every producer emits it, every sink consumes it. Each
//! event carries a [`Header`]: its time, the [`Source`] it came from, and a
//! per-source sequence number. Loss is part of the model: a [`Lost`] event says
//! how many events a stage dropped, and every formatter prints it. Input that
//! could not be decoded becomes a [`Malformed`] event, carrying the offset of
//! the bad bytes, so that it is counted and reported rather than silently
//! skipped.

pub mod codec;
mod conntrack;
mod datapath;
mod facts;
mod nftrace;
mod packet_log;
mod shared_str;
mod sock;
mod time;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use conntrack::{NatAction, NatLog, NatType, StateLog, StateType};
pub use datapath::{
    CaptureLayer, DropEvent, DropReason, Interface, KernelLocation, ObservationPoint,
    ProcessContext, TraceEvent, DEFAULT_CAPTURE_LEN, SAMPLE_UDP,
};
pub use facts::{Facts, ALL_KINDS};
pub use nftrace::{nfproto_name, verdict_code_name, NftTraceEvent, NftTraceType, NftVerdict};
pub use packet_log::{Action, Direction, NflogInfo, PacketFlags, PacketLog, RuleGroup};
pub use shared_str::SharedStr;
pub use sock::{
    Attribution, Initiator, Monitor, ProcessInfo, SockEvent, SockLink, SockOp, SockTask,
    TcpSegment, AF_INET6_FAMILY, AF_INET_FAMILY, SOCK_DGRAM, SOCK_STREAM,
};
pub use time::Timestamp;

/// Version of the JSON schema written by [`crate::format::json`]. Bump it on
/// any incompatible change of a field's name, type or meaning.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// One thing that happened, as seen by one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A packet logged by the firewall (NFLOG, an IP Filter `ipf` log record,
    /// or a packet read from a capture file).
    Packet(Box<PacketLog>),
    /// A NAT mapping was created, changed or removed.
    Nat(Box<NatLog>),
    /// A connection-tracking (state) entry was created, changed or removed.
    State(Box<StateLog>),
    /// A socket operation (create, bind, listen, accept, connect, …).
    Sock(Box<SockEvent>),
    /// A packet the kernel dropped, with the reason (`skb:kfree_skb`).
    Drop(Box<DropEvent>),
    /// A packet seen by a tc classifier program at an interface.
    Trace(Box<TraceEvent>),
    /// One step of an nftables trace (`meta nftrace set 1`).
    Debug(Box<NftTraceEvent>),
    /// Events were dropped somewhere; see [`Lost`].
    Lost(Lost),
    /// Input that could not be decoded was skipped; see [`Malformed`].
    Malformed(Malformed),
}

impl Event {
    /// The common header of the event.
    #[must_use]
    pub fn header(&self) -> &Header {
        match self {
            Event::Packet(p) => &p.header,
            Event::Nat(n) => &n.header,
            Event::State(s) => &s.header,
            Event::Sock(s) => &s.header,
            Event::Drop(d) => &d.header,
            Event::Trace(t) => &t.header,
            Event::Debug(d) => &d.header,
            Event::Lost(l) => &l.header,
            Event::Malformed(m) => &m.header,
        }
    }

    /// The common header of the event, for producers that renumber or
    /// re-stamp events.
    pub fn header_mut(&mut self) -> &mut Header {
        match self {
            Event::Packet(p) => &mut p.header,
            Event::Nat(n) => &mut n.header,
            Event::State(s) => &mut s.header,
            Event::Sock(s) => &mut s.header,
            Event::Drop(d) => &mut d.header,
            Event::Trace(t) => &mut t.header,
            Event::Debug(d) => &mut d.header,
            Event::Lost(l) => &mut l.header,
            Event::Malformed(m) => &mut m.header,
        }
    }

    /// The stable lower-case name of the event kind, as used by `--type` and in
    /// the JSON `kind` field.
    #[must_use]
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Packet(_) => EventKind::Packet,
            Event::Nat(_) => EventKind::Nat,
            Event::State(_) => EventKind::State,
            Event::Sock(_) => EventKind::Sock,
            Event::Drop(_) => EventKind::Drop,
            Event::Trace(_) => EventKind::Trace,
            Event::Debug(_) => EventKind::Debug,
            Event::Lost(_) => EventKind::Lost,
            Event::Malformed(_) => EventKind::Malformed,
        }
    }
}

/// The kind of an event, without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// [`Event::Packet`]
    Packet,
    /// [`Event::Nat`]
    Nat,
    /// [`Event::State`]
    State,
    /// [`Event::Sock`]
    Sock,
    /// [`Event::Drop`]
    Drop,
    /// [`Event::Trace`]
    Trace,
    /// [`Event::Debug`]
    Debug,
    /// [`Event::Lost`]
    Lost,
    /// [`Event::Malformed`]
    Malformed,
}

impl EventKind {
    /// The name used on the command line and in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Packet => "packet",
            EventKind::Nat => "nat",
            EventKind::State => "state",
            EventKind::Sock => "sock",
            EventKind::Drop => "drop",
            EventKind::Trace => "trace",
            EventKind::Debug => "debug",
            EventKind::Lost => "lost",
            EventKind::Malformed => "malformed",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What every event carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// When the kernel (or the file) says the event happened.
    pub time: Timestamp,
    /// Where the event came from.
    pub source: Source,
    /// Sequence number, counted per source from 1; gaps mean loss upstream.
    pub seq: u64,
}

impl Header {
    /// The header of the sample events tests start from
    /// ([`PacketLog::sample`], [`DropEvent::sample`], [`NatLog::sample`],
    /// [`StateLog::sample`]): time 0, the first of `source`.
    #[must_use]
    pub fn sample(source: Source) -> Header {
        Header {
            time: Timestamp::default(),
            source,
            seq: 1,
        }
    }
}

/// Where an event came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A netfilter NFLOG group, read live.
    Nflog(u16),
    /// ctnetlink conntrack events, read live.
    Conntrack,
    /// A pcap or pcapng file (the path as given).
    Pcap(SharedStr),
    /// An IP Filter binary log file (the path as given).
    Iplog(SharedStr),
    /// Standard input.
    Stdin,
    /// The eBPF socket-event programs.
    Sockets,
    /// The eBPF datapath programs (`skb:kfree_skb` and tc classifiers).
    Datapath,
    /// nftables trace messages (`NFNLGRP_NFTRACE`), read live.
    Nftrace,
    /// inetmon itself (for example its pipeline reporting loss).
    Pipeline,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Nflog(g) => write!(f, "nflog:{g}"),
            Source::Conntrack => f.write_str("conntrack"),
            Source::Pcap(p) => write!(f, "pcap:{p}"),
            Source::Iplog(p) => write!(f, "iplog:{p}"),
            Source::Stdin => f.write_str("stdin"),
            Source::Sockets => f.write_str("sockets"),
            Source::Datapath => f.write_str("datapath"),
            Source::Nftrace => f.write_str("nftrace"),
            Source::Pipeline => f.write_str("pipeline"),
        }
    }
}

/// Where in the chain from kernel to sink events were lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossStage {
    /// The kernel could not queue the record (netlink `ENOBUFS`, a ring-buffer
    /// reserve failure, or a gap in the kernel's own sequence numbers).
    Kernel,
    /// The bounded channel between a producer and the pipeline was full.
    Channel,
    /// A sink could not keep up or was unavailable.
    Sink,
}

impl LossStage {
    /// Lower-case name used in text and JSON output.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            LossStage::Kernel => "kernel",
            LossStage::Channel => "channel",
            LossStage::Sink => "sink",
        }
    }
}

/// `count` events were dropped at `stage` of `header.source`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lost {
    /// Time the loss was noticed; `source` is the source that lost events.
    pub header: Header,
    /// Where they were lost.
    pub stage: LossStage,
    /// How many events (or records) were lost; for netlink `ENOBUFS` this is
    /// the number of overflow notifications when the exact count is unknown.
    pub count: u64,
    /// The kinds of the lost events, when known.
    pub kinds: Vec<EventKind>,
    /// For sources with kernel sequence numbers: the first and last sequence
    /// number that are missing (inclusive), when known.
    pub seq_range: Option<(u64, u64)>,
    /// How `count` splits, when the source knows: `(label, count)` pairs
    /// that sum to `count`, or empty. The socket-event producer labels
    /// ring-buffer reserve failures with the operation
    /// ([`SockOp::as_str`]), and program runs the kernel skipped (which
    /// carry no operation) with [`LOST_SKIPPED_RUNS`]; the datapath producer
    /// uses [`LOST_RING_FULL`] and [`LOST_SKIPPED_RUNS`]; the daemon's client
    /// hub [`LOST_CLIENT_QUEUE`].
    #[serde(deserialize_with = "codec::breakdown")]
    pub breakdown: Vec<(&'static str, u64)>,
}

impl Lost {
    /// `count` events dropped at a sink of the pipeline
    /// ([`Source::Pipeline`], [`LossStage::Sink`]), noticed at `time` and
    /// numbered `seq`; no kinds, range or breakdown (callers add what they
    /// know with `..Lost::at_sink(…)`).
    #[must_use]
    pub fn at_sink(time: Timestamp, seq: u64, count: u64) -> Lost {
        Lost {
            header: Header {
                time,
                source: Source::Pipeline,
                seq,
            },
            stage: LossStage::Sink,
            count,
            kinds: Vec::new(),
            seq_range: None,
            breakdown: Vec::new(),
        }
    }

    /// The breakdown as text, `connect 3, accept 2` (empty when unknown),
    /// for the line formats.
    #[must_use]
    pub fn breakdown_text(&self) -> String {
        let parts: Vec<String> = self
            .breakdown
            .iter()
            .map(|(label, n)| format!("{label} {n}"))
            .collect();
        parts.join(", ")
    }
}

/// [`Lost::breakdown`] label: records the kernel could not reserve in a
/// full ring buffer, operation unknown.
pub const LOST_RING_FULL: &str = "ring_full";
/// [`Lost::breakdown`] label: program runs the kernel skipped because they
/// would have nested in another BPF program on the same CPU.
pub const LOST_SKIPPED_RUNS: &str = "skipped_runs";
/// [`Lost::breakdown`] label: events the daemon dropped for one client
/// because that client's queue was full (it reads too slowly, or is
/// stopped); only that client misses them.
pub const LOST_CLIENT_QUEUE: &str = "client_queue";

/// Input that could not be decoded and was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Malformed {
    /// When it was seen and in which source.
    pub header: Header,
    /// Byte offset of the bad record within the source (file offset, or
    /// offset within the netlink datagram for live sources).
    pub offset: u64,
    /// Number of bytes skipped to resynchronise.
    pub skipped: u64,
    /// What was wrong, in one line.
    pub reason: String,
}
