//! [`DatapathPrograms`]: the datapath programs (`inetmon_bpf::DATAPATH_OBJECT`,
//! `datapath.bpf.c`) loaded with their configuration, the drop tracepoint
//! and the trace classifiers attached as asked.

use std::net::IpAddr;

use aya::maps::{HashMap as BpfHashMap, MapData, PerCpuArray, PerCpuHashMap, RingBuf};
use aya::programs::{
    tc, BtfTracePoint, CgroupAttachMode, CgroupSkb, CgroupSkbAttachType, CgroupSock,
    CgroupSockAddr, SchedClassifier, TcAttachType,
};
use aya::{Btf, Ebpf, EbpfLoader};

use super::{load_attach, map_err, per_cpu_sum, program, take_map, LoadError};
use crate::datapath::devtype::{self, LinkKind};

/// Largest capture length the programs support (`INETMON_DP_MAX_CAP`).
pub const MAX_SNAPLEN: u32 = inetmon_bpf::record::datapath::MAX_CAP;

/// Default ring-buffer size: 4 MiB, as in the object.
pub const DEFAULT_RING_BYTES: u32 = 4 << 20;

/// Everything written into the programs before they are loaded: what to
/// attach and the in-kernel filters (each `None`/empty means "any").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelConfig {
    /// Attach `tp_btf/kfree_skb` (drops).
    pub drops: bool,
    /// Interfaces (names in the caller's network namespace) that get the
    /// ingress and egress trace classifiers: `tc_ingress`/`tc_egress` on
    /// Ethernet devices, `tc_ingress_l3`/`tc_egress_l3` on devices without
    /// a link-layer header (see [`devtype`]); other device types are
    /// refused.
    pub trace_ifaces: Vec<String>,
    /// Trace at the stack: the cgroup_skb programs (`from-stack` at
    /// egress, `to-stack` at ingress) and the owner-recording socket hooks,
    /// all on the cgroup v2 root, so every socket of every namespace is
    /// seen.
    pub stack: bool,
    /// Bytes of each packet to copy (1..=[`MAX_SNAPLEN`]).
    pub snaplen: u32,
    /// Traces: report 1 in this many packets (at least 1).
    pub sample_rate: u32,
    /// Report drops whose reason is `NOT_SPECIFIED`.
    pub not_specified: bool,
    /// The code of `NOT_SPECIFIED` in the running kernel (from BTF).
    pub reason_not_specified: u32,
    /// Only drops seen in the network namespace with this inode.
    pub netns: Option<u32>,
    /// Wake the reader only when this many bytes are pending (0: every
    /// record); the reader also drains on its own timer.
    pub wakeup_bytes: u64,
    /// Count drops in the `drop_counts` map instead of sending records.
    pub summary: bool,
    /// Only drops on these interface indexes (empty: any).
    pub ifindexes: Vec<u32>,
    /// Only drops with these raw reason codes (empty: any).
    pub reasons: Vec<u32>,
    /// Only this IP protocol.
    pub l4proto: Option<u8>,
    /// Only packets with this source or destination port.
    pub port: Option<u16>,
    /// Only packets with this source or destination address.
    pub ip: Option<IpAddr>,
    /// Ring-buffer size in bytes (a power of two, page multiple).
    pub ring_bytes: u32,
}

impl Default for KernelConfig {
    fn default() -> Self {
        KernelConfig {
            drops: true,
            trace_ifaces: Vec::new(),
            stack: false,
            snaplen: 128,
            sample_rate: 1,
            not_specified: false,
            reason_not_specified: 2,
            netns: None,
            wakeup_bytes: 0,
            summary: false,
            ifindexes: Vec::new(),
            reasons: Vec::new(),
            l4proto: None,
            port: None,
            ip: None,
            ring_bytes: DEFAULT_RING_BYTES,
        }
    }
}

/// The drop tracepoint program in `datapath.bpf.c`.
const DROP_PROGRAM: &str = "on_kfree_skb";

/// The stack-point programs in `datapath.bpf.c` (cgroup_skb), in attach
/// order, after the owner hooks ([`OWNER_SOCK`], [`OWNER_SOCK_ADDR`]).
pub const STACK_PROGRAMS: [(&str, CgroupSkbAttachType); 2] = [
    ("cg_from_stack", CgroupSkbAttachType::Egress),
    ("cg_to_stack", CgroupSkbAttachType::Ingress),
];
/// The socket-creation hook that records a socket's owner.
pub const OWNER_SOCK: &str = "cg_sock_create";
/// The connect hooks that record a socket's owner.
pub const OWNER_SOCK_ADDR: [&str; 2] = ["cg_connect4", "cg_connect6"];

/// The loaded and attached programs. Dropping it detaches everything.
#[derive(Debug)]
pub struct DatapathPrograms {
    ebpf: Ebpf,
}

impl DatapathPrograms {
    /// Loads the object with `cfg` written into `.rodata` and the filter
    /// maps, then attaches the drop tracepoint (when `cfg.drops`), the
    /// stack-point programs and owner hooks on the cgroup v2 root (when
    /// `cfg.stack`) and the trace classifiers matching each
    /// `cfg.trace_ifaces` interface's device type (TCX links on Linux ≥ 6.6,
    /// a `clsact` qdisc before that).
    ///
    /// # Errors
    /// [`LoadError`] naming the program, map or interface that failed
    /// (loading needs `CAP_BPF` + `CAP_PERFMON`, attaching tc programs
    /// `CAP_NET_ADMIN`).
    pub fn load(cfg: &KernelConfig) -> Result<Self, LoadError> {
        if !(1..=MAX_SNAPLEN).contains(&cfg.snaplen) {
            return Err(LoadError::Config(format!(
                "snaplen {} out of range 1..={MAX_SNAPLEN}",
                cfg.snaplen
            )));
        }
        if !cfg.ring_bytes.is_power_of_two() || cfg.ring_bytes < 4096 {
            return Err(LoadError::Config(format!(
                "ring size {} is not a power of two of at least 4096",
                cfg.ring_bytes
            )));
        }
        let btf = Btf::from_sys_fs()?;
        let sample = cfg.sample_rate.max(1);
        let not_spec = u8::from(cfg.not_specified);
        let netns = cfg.netns.unwrap_or(0);
        let summary = u8::from(cfg.summary);
        let f_if = u8::from(!cfg.ifindexes.is_empty());
        let f_reason = u8::from(!cfg.reasons.is_empty());
        let l4 = cfg.l4proto.unwrap_or(0);
        let port = cfg.port.unwrap_or(0);
        let (v4, has6, v6) = match cfg.ip {
            // Network order, as the program compares the raw header bytes.
            Some(IpAddr::V4(a)) => (u32::from_ne_bytes(a.octets()), 0u8, [0u8; 16]),
            Some(IpAddr::V6(a)) => (0, 1, a.octets()),
            None => (0, 0, [0u8; 16]),
        };
        let mut ebpf = EbpfLoader::new()
            .btf(Some(&btf))
            .override_global("cfg_snaplen", &cfg.snaplen, true)
            .override_global("cfg_sample_rate", &sample, true)
            .override_global("cfg_drop_not_specified", &not_spec, true)
            .override_global("cfg_reason_not_specified", &cfg.reason_not_specified, true)
            .override_global("cfg_filter_ifindex", &f_if, true)
            .override_global("cfg_netns", &netns, true)
            .override_global("cfg_wakeup_bytes", &cfg.wakeup_bytes, true)
            .override_global("cfg_summary_only", &summary, true)
            .override_global("cfg_filter_reason", &f_reason, true)
            .override_global("cfg_l4proto", &l4, true)
            .override_global("cfg_port", &port, true)
            .override_global("cfg_ipv4", &v4, true)
            .override_global("cfg_has_ipv6", &has6, true)
            .override_global("cfg_ipv6", &v6, true)
            .map_max_entries("datapath_events", cfg.ring_bytes)
            .load(inetmon_bpf::DATAPATH_OBJECT)?;
        fill_filter(&mut ebpf, "ifindex_filter", &cfg.ifindexes)?;
        fill_filter(&mut ebpf, "reason_filter", &cfg.reasons)?;
        if cfg.drops {
            load_attach(&mut ebpf, DROP_PROGRAM, |p: &mut BtfTracePoint| {
                p.load("kfree_skb", &btf)?;
                p.attach().map(drop)
            })?;
        }
        // Each interface gets the classifier pair for its device type; a
        // pair is loaded only when some interface needs it.
        let mut by_kind: [(LinkKind, Vec<&String>); 2] = [
            (LinkKind::Ethernet, Vec::new()),
            (LinkKind::Network, Vec::new()),
        ];
        for iface in &cfg.trace_ifaces {
            let kind = devtype::link_kind(iface).map_err(LoadError::Config)?;
            if let Some((_, list)) = by_kind.iter_mut().find(|(k, _)| *k == kind) {
                list.push(iface);
            }
        }
        if cfg.stack {
            attach_stack(&mut ebpf)?;
        }
        for (kind, ifaces) in &by_kind {
            if ifaces.is_empty() {
                continue;
            }
            for &(name, at) in tc_programs(*kind) {
                load_attach(&mut ebpf, name, |p: &mut SchedClassifier| p.load())?;
                let prog: &mut SchedClassifier = program(&mut ebpf, name)?;
                for iface in ifaces {
                    let perr = |source| LoadError::Program {
                        name,
                        iface: (*iface).clone(),
                        source,
                    };
                    if prog.attach(iface, at).is_err() {
                        // Before TCX (Linux 6.6) the netlink attach needs a
                        // clsact qdisc; it may already be there.
                        let _ = tc::qdisc_add_clsact(iface);
                        prog.attach(iface, at).map_err(perr)?;
                    }
                }
            }
        }
        Ok(DatapathPrograms { ebpf })
    }

    /// Runs of `on_kfree_skb` the kernel skipped so far because they would
    /// have nested inside another run on the same CPU (the `tp_btf`
    /// trampoline's per-program guard; see [`super::progstats`]):
    /// each may have been a drop that is neither reported nor counted. 0
    /// when drops are not attached. (The tc classifiers have no such guard.)
    ///
    /// # Errors
    /// [`LoadError::Stats`] when the kernel refuses the query.
    pub fn recursion_misses(&self) -> Result<u64, LoadError> {
        super::recursion_misses(&self.ebpf, &[DROP_PROGRAM])
    }

    /// Takes the ring buffer out (once).
    ///
    /// # Errors
    /// [`LoadError::Map`] when already taken.
    pub fn take_ring_buf(&mut self) -> Result<RingBuf<MapData>, LoadError> {
        take_map(&mut self.ebpf, "datapath_events")
    }

    /// Takes the per-CPU reserve-failure counter out (once).
    ///
    /// # Errors
    /// [`LoadError::Map`] when already taken.
    pub fn take_lost(&mut self) -> Result<PerCpuArray<MapData, u64>, LoadError> {
        take_map(&mut self.ebpf, "datapath_lost")
    }

    /// Takes the summary-mode drop counts out (once): key = the 16 bytes of
    /// `struct inetmon_dp_drop_key`, value = per-CPU counts.
    ///
    /// # Errors
    /// [`LoadError::Map`] when already taken.
    pub fn take_drop_counts(&mut self) -> Result<PerCpuHashMap<MapData, [u8; 16], u64>, LoadError> {
        take_map(&mut self.ebpf, "drop_counts")
    }
}

/// Attaches the owner hooks, then the stack-point programs, to the cgroup
/// v2 root (owners first, so a socket made while attaching is not traced
/// without one). BPF links: they coexist with any other program on the
/// root (systemd's included) and go away with the `Ebpf`.
fn attach_stack(ebpf: &mut Ebpf) -> Result<(), LoadError> {
    let root = super::cgroup2_root()?;
    let cg = std::fs::File::open(&*root).map_err(|e| LoadError::Cgroup {
        path: root.display().to_string(),
        reason: e.to_string(),
    })?;
    load_attach(ebpf, OWNER_SOCK, |p: &mut CgroupSock| {
        p.load()?;
        p.attach(&cg, CgroupAttachMode::Single).map(drop)
    })?;
    for name in OWNER_SOCK_ADDR {
        load_attach(ebpf, name, |p: &mut CgroupSockAddr| {
            p.load()?;
            p.attach(&cg, CgroupAttachMode::Single).map(drop)
        })?;
    }
    for (name, at) in STACK_PROGRAMS {
        load_attach(ebpf, name, |p: &mut CgroupSkb| {
            p.load()?;
            p.attach(&cg, at, CgroupAttachMode::Single).map(drop)
        })?;
    }
    Ok(())
}

/// Sum of the per-CPU reserve-failure counters.
///
/// # Errors
/// [`LoadError::Map`] when the kernel refuses the lookup.
pub fn lost_total(lost: &PerCpuArray<MapData, u64>) -> Result<u64, LoadError> {
    Ok(per_cpu_sum(
        &lost.get(&0, 0).map_err(map_err("datapath_lost"))?,
    ))
}

/// The ingress and egress classifiers for devices of `kind`.
fn tc_programs(kind: LinkKind) -> &'static [(&'static str, TcAttachType)] {
    match kind {
        LinkKind::Ethernet => &[
            ("tc_ingress", TcAttachType::Ingress),
            ("tc_egress", TcAttachType::Egress),
        ],
        LinkKind::Network => &[
            ("tc_ingress_l3", TcAttachType::Ingress),
            ("tc_egress_l3", TcAttachType::Egress),
        ],
    }
}

fn fill_filter(ebpf: &mut Ebpf, name: &'static str, keys: &[u32]) -> Result<(), LoadError> {
    if keys.is_empty() {
        return Ok(());
    }
    let map = ebpf.map_mut(name).ok_or(LoadError::Map {
        name,
        reason: "missing".into(),
    })?;
    let mut m: BpfHashMap<&mut MapData, u32, u8> =
        BpfHashMap::try_from(map).map_err(map_err(name))?;
    for k in keys {
        m.insert(k, 1, 0).map_err(map_err(name))?;
    }
    Ok(())
}
