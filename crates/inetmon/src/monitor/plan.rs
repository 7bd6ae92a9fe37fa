//! From `inetmon monitor` flags to what to start: the kernel configuration
//! of the datapath programs, the other sources, and the user-space filter.

use std::ffi::CString;
use std::net::IpAddr;

use anyhow::{bail, Context as _};
use inetmon_core::btf::DropReasonTable;
use inetmon_core::cidr::Cidr;
use inetmon_core::event::EventKind;
use inetmon_core::monitor_filter::{parse_kind, parse_proto, MonitorFilter};
use inetmon_io::datapath::KernelConfig;

use super::MonitorArgs;
use crate::Misuse;

/// What a run starts.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The datapath programs (drops when `kernel.drops`, traces on
    /// `kernel.trace_ifaces`).
    pub(crate) kernel: KernelConfig,
    /// Start the socket-event programs.
    pub(crate) sock: bool,
    /// Conntrack NAT events.
    pub(crate) nat: bool,
    /// Conntrack state events.
    pub(crate) state: bool,
    /// NFLOG groups to read (empty: none).
    pub(crate) nflog_groups: Vec<u16>,
    /// nftables trace steps (`--type debug`).
    pub(crate) debug: bool,
    /// The exact user-space filter.
    pub(crate) filter: MonitorFilter,
}

fn misuse(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Misuse(msg.into()))
}

impl Plan {
    /// Validates the flags and derives the plan; the reason codes are
    /// filled in later by [`Plan::kernel_names`], once BTF is read.
    ///
    /// # Errors
    /// A [`Misuse`] for contradictory or unknown values, an error for an
    /// interface that does not exist.
    pub(crate) fn from_args(a: &MonitorArgs) -> anyhow::Result<Plan> {
        let mut kinds = Vec::new();
        for t in &a.types {
            if t == "capture" {
                kinds.extend([EventKind::Drop, EventKind::Trace]);
                continue;
            }
            kinds.push(parse_kind(t).map_err(|e| misuse(e.to_string()))?);
        }
        if kinds.is_empty() {
            kinds.push(EventKind::Drop);
            if !a.ifaces.is_empty() || a.stack {
                kinds.push(EventKind::Trace);
            }
            if !a.nflog.is_empty() {
                kinds.push(EventKind::Packet);
            }
        }
        let has = |k| kinds.contains(&k);
        let trace = has(EventKind::Trace);
        if trace && a.ifaces.is_empty() && !a.stack {
            return Err(misuse(
                "--type trace needs --iface (the interfaces to trace) or --stack",
            ));
        }
        if a.stack && !trace {
            return Err(misuse(
                "--stack traces packets: use it with --type trace (or without --type)",
            ));
        }
        if a.summary
            && kinds
                .iter()
                .any(|k| !matches!(k, EventKind::Drop | EventKind::Lost))
        {
            return Err(misuse(
                "--summary counts drops only; use it with --type drop",
            ));
        }
        if a.summary && (!a.ip.is_empty() || !a.port.is_empty() || !a.proto.is_empty()) {
            return Err(misuse(
                "--summary counts in the kernel by reason, location and interface; --ip, --port and --proto do not apply",
            ));
        }
        if a.summary && (a.json || a.write.is_some()) {
            return Err(misuse(
                "--summary prints a table; it cannot be combined with -j or --write",
            ));
        }
        let ips =
            a.ip.iter()
                .map(|s| s.parse::<Cidr>().map_err(|e| misuse(e.to_string())))
                .collect::<anyhow::Result<Vec<_>>>()?;
        let protos = a
            .proto
            .iter()
            .map(|s| parse_proto(s).map_err(|e| misuse(e.to_string())))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut ifindexes = Vec::new();
        for i in &a.ifaces {
            ifindexes.push(ifindex(i)?);
        }
        let ring_bytes = a
            .ring_kib
            .checked_mul(1024)
            .filter(|b| b.is_power_of_two() && *b >= 4096)
            .ok_or_else(|| misuse("--ring-kib must be a power of two of at least 4"))?;
        let not_specified = a.not_specified
            || a.reason.iter().any(|r| {
                r.trim_start_matches("SKB_DROP_REASON_")
                    .eq_ignore_ascii_case("NOT_SPECIFIED")
            });
        let kernel = KernelConfig {
            drops: has(EventKind::Drop),
            trace_ifaces: if trace { a.ifaces.clone() } else { Vec::new() },
            stack: trace && a.stack,
            snaplen: a.snaplen,
            sample_rate: a.sample,
            not_specified,
            ifindexes,
            summary: a.summary,
            // One value of a filter can go into the kernel; several stay
            // in user space only.
            l4proto: single(&protos).copied(),
            port: single(&a.port).copied(),
            ip: single(&a.ip).and_then(|s| s.parse::<IpAddr>().ok()),
            // Wake the reader only at 256 KiB pending: the main loop drains
            // every 100 ms anyway (cuts the per-record wakeups of floods).
            wakeup_bytes: 256 * 1024,
            ring_bytes,
            ..KernelConfig::default()
        };
        let mut nflog_groups = a.nflog.clone();
        if has(EventKind::Packet) && nflog_groups.is_empty() {
            nflog_groups.push(0);
        }
        if !has(EventKind::Packet) {
            nflog_groups.clear();
        }
        let filter = MonitorFilter {
            kinds: kinds.clone(),
            interfaces: a.ifaces.clone(),
            ips,
            ports: a.port.clone(),
            protos,
            reasons: a.reason.clone(),
            not_specified,
        };
        let plan = Plan {
            sock: has(EventKind::Sock),
            nat: has(EventKind::Nat),
            state: has(EventKind::State),
            nflog_groups,
            debug: has(EventKind::Debug),
            kernel,
            filter,
        };
        if !plan.kernel.drops
            && plan.kernel.trace_ifaces.is_empty()
            && !plan.kernel.stack
            && !plan.sock
            && !plan.nat
            && !plan.state
            && plan.nflog_groups.is_empty()
            && !plan.debug
        {
            return Err(misuse(
                "--type selects no source (lost and malformed events come with the others)",
            ));
        }
        Ok(plan)
    }

    /// Fills in what needs the kernel's drop-reason names: the code of
    /// `NOT_SPECIFIED` and the codes of `--reason` for the in-kernel filter
    /// (when every name is a core reason; otherwise the filter stays in
    /// user space).
    ///
    /// # Errors
    /// With `--summary`, a reason the kernel does not know (the summary is
    /// counted in the kernel, so it cannot filter in user space).
    pub(crate) fn kernel_names(&mut self, table: Option<&DropReasonTable>) -> anyhow::Result<()> {
        let Some(t) = table else {
            if self.kernel.summary && !self.filter.reasons.is_empty() {
                bail!("--reason with --summary needs the kernel's BTF drop reasons");
            }
            return Ok(());
        };
        if let Some(c) = t.code_of("NOT_SPECIFIED") {
            self.kernel.reason_not_specified = c;
        }
        let codes: Vec<Option<u32>> = self
            .filter
            .reasons
            .iter()
            .map(|r| t.code_of(r.trim_start_matches("SKB_DROP_REASON_")))
            .collect();
        if codes.iter().all(Option::is_some) {
            self.kernel.reasons = codes.into_iter().flatten().collect();
        } else if self.kernel.summary {
            return Err(misuse(format!(
                "--summary: unknown drop reason in {:?} (see enum skb_drop_reason)",
                self.filter.reasons
            )));
        }
        Ok(())
    }
}

fn single<T>(v: &[T]) -> Option<&T> {
    match v {
        [one] => Some(one),
        _ => None,
    }
}

/// The index of interface `name` (or a decimal index as given) in the
/// monitor's network namespace.
fn ifindex(name: &str) -> anyhow::Result<u32> {
    if let Ok(i) = name.parse::<u32>() {
        return Ok(i);
    }
    let c = CString::new(name).with_context(|| format!("bad interface name {name:?}"))?;
    // SAFETY: c is a valid NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        bail!("no interface {name} in this network namespace");
    }
    Ok(i)
}

/// The capabilities the plan needs and this process lacks, as a phrase
/// (`CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN`), or `None` when it has them
/// (or `/proc/self/status` cannot be read: the kernel will say no itself).
pub(crate) fn missing_capabilities(plan: &Plan) -> Option<String> {
    let bpf =
        plan.kernel.drops || !plan.kernel.trace_ifaces.is_empty() || plan.kernel.stack || plan.sock;
    // (The socket programs' cgroup hooks are networking program types:
    // loading them needs CAP_NET_ADMIN too.)
    let net_admin = !plan.kernel.trace_ifaces.is_empty()
        || plan.kernel.stack
        || plan.nat
        || plan.state
        || plan.sock
        || !plan.nflog_groups.is_empty()
        || plan.debug;
    crate::privilege::missing_caps(bpf, net_admin)
}
