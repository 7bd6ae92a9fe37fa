//! Loading `datapath.bpf.o` with aya and attaching its programs.

use std::net::IpAddr;
use std::os::fd::AsFd;

use aya::maps::{HashMap as BpfHashMap, MapData, PerCpuArray, PerCpuHashMap, RingBuf};
use aya::programs::{tc, BtfTracePoint, SchedClassifier, TcAttachType};
use aya::{Btf, Ebpf, EbpfLoader};

use super::devtype::{self, LinkKind};

/// Largest capture length the programs support (`INETMON_DP_MAX_CAP`).
pub const MAX_SNAPLEN: u32 = 256;

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

/// What went wrong while loading, attaching or reading the programs.
#[derive(Debug, thiserror::Error)]
pub enum DatapathError {
    /// The kernel's BTF (`/sys/kernel/btf/vmlinux`) could not be read.
    #[error("reading the kernel BTF for tp_btf/kfree_skb: {0}")]
    KernelBtf(#[from] aya::BtfError),
    /// The object did not load (verifier, BTF, permissions).
    #[error("loading the datapath BPF object: {0}")]
    Load(#[from] aya::EbpfError),
    /// A program failed to load or attach.
    #[error("program {name}{}: {source}", if .iface.is_empty() { String::new() } else { format!(" on {}", .iface) })]
    Program {
        /// The program's name in `datapath.bpf.c`.
        name: &'static str,
        /// The interface it was attached to (empty for the tracepoint).
        iface: String,
        /// The cause.
        #[source]
        source: aya::programs::ProgramError,
    },
    /// A map was missing, of the wrong type, or refused an operation.
    #[error("map {name}: {reason}")]
    Map {
        /// The map's name.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// A configuration value is out of range.
    #[error("{0}")]
    Config(String),
    /// `poll(2)` on the ring buffer failed.
    #[error("polling the ring buffer: {0}")]
    Poll(std::io::Error),
    /// The kernel refused to report a program's statistics.
    #[error("program {name}: reading its statistics: {reason}")]
    Stats {
        /// The program's name in `datapath.bpf.c`.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// Reading enrichment data (BTF reasons, kallsyms) failed.
    #[error("{what}: {reason}")]
    Enrich {
        /// What was read.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
}

/// The loaded and attached programs. Dropping it detaches everything.
#[derive(Debug)]
pub struct DatapathPrograms {
    ebpf: Ebpf,
}

fn map_err(name: &'static str) -> impl Fn(aya::maps::MapError) -> DatapathError {
    move |e| DatapathError::Map {
        name,
        reason: e.to_string(),
    }
}

impl DatapathPrograms {
    /// Loads the object with `cfg` written into `.rodata` and the filter
    /// maps, then attaches the drop tracepoint (when `cfg.drops`) and the
    /// trace classifiers matching each `cfg.trace_ifaces` interface's device
    /// type (TCX links on Linux ≥ 6.6, a `clsact` qdisc before that).
    ///
    /// # Errors
    /// [`DatapathError`] naming the program, map or interface that failed
    /// (loading needs `CAP_BPF` + `CAP_PERFMON`, attaching tc programs
    /// `CAP_NET_ADMIN`).
    pub fn load(cfg: &KernelConfig) -> Result<Self, DatapathError> {
        if !(1..=MAX_SNAPLEN).contains(&cfg.snaplen) {
            return Err(DatapathError::Config(format!(
                "snaplen {} out of range 1..={MAX_SNAPLEN}",
                cfg.snaplen
            )));
        }
        if !cfg.ring_bytes.is_power_of_two() || cfg.ring_bytes < 4096 {
            return Err(DatapathError::Config(format!(
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
            let name = "on_kfree_skb";
            let perr = |source| DatapathError::Program {
                name,
                iface: String::new(),
                source,
            };
            let prog: &mut BtfTracePoint = program(&mut ebpf, name)?;
            prog.load("kfree_skb", &btf).map_err(perr)?;
            prog.attach().map_err(perr)?;
        }
        // Each interface gets the classifier pair for its device type; a
        // pair is loaded only when some interface needs it.
        let mut by_kind: [(LinkKind, Vec<&String>); 2] = [
            (LinkKind::Ethernet, Vec::new()),
            (LinkKind::Network, Vec::new()),
        ];
        for iface in &cfg.trace_ifaces {
            let kind = devtype::link_kind(iface).map_err(DatapathError::Config)?;
            if let Some((_, list)) = by_kind.iter_mut().find(|(k, _)| *k == kind) {
                list.push(iface);
            }
        }
        for (kind, ifaces) in &by_kind {
            if ifaces.is_empty() {
                continue;
            }
            for &(name, at) in tc_programs(*kind) {
                let prog: &mut SchedClassifier = program(&mut ebpf, name)?;
                prog.load().map_err(|source| DatapathError::Program {
                    name,
                    iface: String::new(),
                    source,
                })?;
                for iface in ifaces {
                    let perr = |source| DatapathError::Program {
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
    /// trampoline's per-program guard; see [`inetmon_bpf::progstats`]):
    /// each may have been a drop that is neither reported nor counted. 0
    /// when drops are not attached. (The tc classifiers have no such guard.)
    ///
    /// # Errors
    /// [`DatapathError::Stats`] when the kernel refuses the query.
    pub fn recursion_misses(&self) -> Result<u64, DatapathError> {
        let name = "on_kfree_skb";
        let Some(prog) = self.ebpf.program(name) else {
            return Ok(0);
        };
        let Ok(fd) = prog.fd() else {
            return Ok(0); // not loaded: drops are off
        };
        inetmon_bpf::progstats::recursion_misses(fd.as_fd()).map_err(|e| DatapathError::Stats {
            name,
            reason: format!("BPF_OBJ_GET_INFO_BY_FD: {e}"),
        })
    }

    /// Takes the ring buffer out (once).
    ///
    /// # Errors
    /// [`DatapathError::Map`] when already taken.
    pub fn take_ring_buf(&mut self) -> Result<RingBuf<MapData>, DatapathError> {
        let name = "datapath_events";
        RingBuf::try_from(self.take(name)?).map_err(map_err(name))
    }

    /// Takes the per-CPU reserve-failure counter out (once).
    ///
    /// # Errors
    /// [`DatapathError::Map`] when already taken.
    pub fn take_lost(&mut self) -> Result<PerCpuArray<MapData, u64>, DatapathError> {
        let name = "datapath_lost";
        PerCpuArray::try_from(self.take(name)?).map_err(map_err(name))
    }

    /// Takes the summary-mode drop counts out (once): key = the 16 bytes of
    /// `struct inetmon_dp_drop_key`, value = per-CPU counts.
    ///
    /// # Errors
    /// [`DatapathError::Map`] when already taken.
    pub fn take_drop_counts(
        &mut self,
    ) -> Result<PerCpuHashMap<MapData, [u8; 16], u64>, DatapathError> {
        let name = "drop_counts";
        PerCpuHashMap::try_from(self.take(name)?).map_err(map_err(name))
    }

    fn take(&mut self, name: &'static str) -> Result<aya::maps::Map, DatapathError> {
        self.ebpf.take_map(name).ok_or(DatapathError::Map {
            name,
            reason: "missing or already taken".into(),
        })
    }
}

/// Sum of the per-CPU reserve-failure counters.
///
/// # Errors
/// [`DatapathError::Map`] when the kernel refuses the lookup.
pub fn lost_total(lost: &PerCpuArray<MapData, u64>) -> Result<u64, DatapathError> {
    let vals = lost.get(&0, 0).map_err(map_err("datapath_lost"))?;
    Ok(vals.iter().copied().fold(0u64, u64::saturating_add))
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

fn fill_filter(ebpf: &mut Ebpf, name: &'static str, keys: &[u32]) -> Result<(), DatapathError> {
    if keys.is_empty() {
        return Ok(());
    }
    let map = ebpf.map_mut(name).ok_or(DatapathError::Map {
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

fn program<'a, T>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<&'a mut T, DatapathError>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    let p = ebpf.program_mut(name).ok_or(DatapathError::Map {
        name,
        reason: "program not in the object".into(),
    })?;
    p.try_into().map_err(|source| DatapathError::Program {
        name,
        iface: String::new(),
        source,
    })
}
