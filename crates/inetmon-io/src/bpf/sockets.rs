//! [`SockPrograms`]: the socket-event programs (`inetmon_bpf::OBJECT`,
//! `sock.bpf.c`) loaded with their in-kernel filters and operation mask,
//! and only the programs that mask needs attached; with
//! [`Filters::segments`] also the two `cgroup_skb` programs that report the
//! TCP control segments of audited connections.

use std::fs::File;
use std::path::Path;

use aya::maps::{MapData, PerCpuArray, RingBuf};
use aya::programs::{
    BtfTracePoint, CgroupAttachMode, CgroupSkb, CgroupSkbAttachType, CgroupSock, CgroupSockAddr,
    TracePoint,
};
use aya::{Btf, Ebpf, EbpfLoader};
use inetmon_bpf::record::sock::OP_MAX;
use inetmon_bpf::watch::{programs_for, WatchSet};

use super::{load_attach, map_err, mounts, per_cpu_sum, take_map, LoadError};

/// In-kernel filters: events that do not match cost no ring-buffer space.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filters {
    /// Only this process id (tgid).
    pub pid: Option<u32>,
    /// Only this user id.
    pub uid: Option<u32>,
    /// Only events whose local or foreign port is this one (events without
    /// ports, such as create, then never match).
    pub port: Option<u16>,
    /// Only this cgroup v2 id.
    pub cgroup: Option<u64>,
    /// Only these operations (`--watch`; default all). Also decides which
    /// programs are attached at all: see [`programs_for`].
    pub watch: WatchSet,
    /// Also report the TCP control segments (SYN, SYN-ACK, FIN, RST) of
    /// audited connections (those whose connect the `connect4`/`connect6`
    /// hooks saw, so `watch` must have `streamConnect`), as
    /// `INETMON_OP_SEGMENT` records: attaches `seg_ingress` and
    /// `seg_egress` ([`SEGMENT_PROGRAMS`]), which every IP packet of every
    /// socket passes; only those segments reach the ring buffer.
    pub segments: bool,
    /// Also report bind, listen, accept and connect made as 32-bit
    /// (ia32 compat) system calls, direct or through `socketcall(2)`:
    /// attaches `compat_enter`/`compat_exit` ([`COMPAT_PROGRAMS`]) on the
    /// raw `sys_enter`/`sys_exit` tracepoints, which run for every system
    /// call on the machine (see BENCHMARKS.md for the cost), when the
    /// watch set needs one of the syscall tracepoints. Without it those
    /// compat calls report only what the cgroup hooks and state changes
    /// see (no accept, no failed bind, no connect failure before a SYN).
    pub compat: bool,
}

/// The raw syscall tracepoint programs of [`Filters::compat`]:
/// (program, `raw_syscalls` tracepoint), in attach order.
pub const COMPAT_PROGRAMS: [(&str, &str); 2] =
    [("compat_enter", "sys_enter"), ("compat_exit", "sys_exit")];

/// The `cgroup_skb` programs of [`Filters::segments`], in attach order.
pub const SEGMENT_PROGRAMS: [&str; 2] = ["seg_ingress", "seg_egress"];

/// Default ring-buffer size in bytes (a power of two, multiple of the page).
pub const DEFAULT_RING_BYTES: u32 = 8 * 1024 * 1024;

/// The loaded and attached programs. Dropping it detaches everything.
///
/// Cgroup programs are attached with BPF links, which always coexist with
/// other programs on the same cgroup (link_create takes no attach flags, so
/// the mode is `Single`, meaning flags 0).
#[derive(Debug)]
pub struct SockPrograms {
    ebpf: Ebpf,
    attached: Vec<&'static str>,
}

const TRACEPOINTS: [(&str, &str, &str); 10] = [
    ("enter_bind", "syscalls", "sys_enter_bind"),
    ("exit_bind", "syscalls", "sys_exit_bind"),
    ("enter_listen", "syscalls", "sys_enter_listen"),
    ("exit_listen", "syscalls", "sys_exit_listen"),
    ("enter_accept", "syscalls", "sys_enter_accept"),
    ("exit_accept", "syscalls", "sys_exit_accept"),
    ("enter_accept4", "syscalls", "sys_enter_accept4"),
    ("exit_accept4", "syscalls", "sys_exit_accept4"),
    ("enter_connect", "syscalls", "sys_enter_connect"),
    ("exit_connect", "syscalls", "sys_exit_connect"),
];

/// BTF-typed raw tracepoints (`tp_btf/`): (program, kernel tracepoint).
const BTF_TRACEPOINTS: [(&str, &str); 2] = [
    ("set_state", "inet_sock_set_state"),
    ("uring_complete", "io_uring_complete"),
];

const CGROUP_SOCK: [&str; 4] = ["sock_create", "sock_release", "post_bind4", "post_bind6"];
const CGROUP_SOCK_ADDR: [&str; 4] = ["connect4", "connect6", "sendmsg4", "sendmsg6"];

impl SockPrograms {
    /// Loads the object with `filters` written into `.rodata`, a ring buffer
    /// of `ring_bytes`, and loads and attaches the programs that
    /// `filters.watch` needs ([`programs_for`]; the others are neither
    /// loaded nor attached, so they cost nothing); the cgroup hooks go on
    /// `cgroup_root` (see [`cgroup2_root`](super::cgroup2_root)).
    ///
    /// # Errors
    /// [`LoadError`] naming the program or map that failed.
    pub fn load(filters: &Filters, ring_bytes: u32, cgroup_root: &Path) -> Result<Self, LoadError> {
        let pid = filters.pid.unwrap_or(0);
        let uid_on = u32::from(filters.uid.is_some());
        let uid = filters.uid.unwrap_or(0);
        let port = u32::from(filters.port.unwrap_or(0));
        let cgroup = filters.cgroup.unwrap_or(0);
        let watch = filters.watch.bits();
        let mut attached = programs_for(filters.watch);
        if filters.segments {
            attached.extend(SEGMENT_PROGRAMS);
        }
        // The compat programs feed the syscall exits' records: only worth
        // their per-syscall cost when the watch set has one of those.
        let compat = filters.compat
            && attached
                .iter()
                .any(|p| TRACEPOINTS.iter().any(|(name, _, _)| name == p));
        if compat {
            attached.extend(COMPAT_PROGRAMS.iter().map(|(name, _)| *name));
        }
        let wanted = |name: &str| attached.contains(&name);
        // The `volatile const` globals of sock.bpf.c (all `__u32` but the
        // cgroup id).
        let globals = [
            ("filter_pid", pid),
            ("filter_uid_on", uid_on),
            ("filter_uid", uid),
            ("filter_port", port),
            ("cfg_watch", watch),
            ("cfg_compat", u32::from(compat)),
        ];
        let mut loader = EbpfLoader::new();
        for (name, value) in &globals {
            loader.override_global(name, value, true);
        }
        let mut ebpf = loader
            .override_global("filter_cgroup", &cgroup, true)
            .map_max_entries("events", ring_bytes)
            // The task local storage `stash` has no aya map type; the
            // programs use it, userspace never does.
            .allow_unsupported_maps()
            .load(inetmon_bpf::OBJECT)?;
        let cg = File::open(cgroup_root).map_err(|e| LoadError::Cgroup {
            path: cgroup_root.display().to_string(),
            reason: e.to_string(),
        })?;
        if TRACEPOINTS.iter().any(|(name, _, _)| wanted(name)) {
            mounts::ensure_tracefs()?;
        }
        for (name, cat, tp) in TRACEPOINTS.into_iter().filter(|t| wanted(t.0)) {
            load_attach(&mut ebpf, name, |p: &mut TracePoint| {
                p.load()?;
                p.attach(cat, tp).map(drop)
            })?;
        }
        // Parsed again rather than shared with the loader (which parses its
        // own in EbpfLoader::new): only one parsed copy of the kernel BTF
        // (~16 MiB) is alive at any time, and none once attached.
        let btf_progs: Vec<_> = BTF_TRACEPOINTS
            .into_iter()
            .chain(COMPAT_PROGRAMS)
            .filter(|t| wanted(t.0))
            .collect();
        if !btf_progs.is_empty() {
            let btf = Btf::from_sys_fs()?;
            for (name, tp) in btf_progs {
                load_attach(&mut ebpf, name, |p: &mut BtfTracePoint| {
                    p.load(tp, &btf)?;
                    p.attach().map(drop)
                })?;
            }
        }
        for name in CGROUP_SOCK.into_iter().filter(|n| wanted(n)) {
            load_attach(&mut ebpf, name, |p: &mut CgroupSock| {
                p.load()?;
                p.attach(&cg, CgroupAttachMode::Single).map(drop)
            })?;
        }
        for name in CGROUP_SOCK_ADDR.into_iter().filter(|n| wanted(n)) {
            load_attach(&mut ebpf, name, |p: &mut CgroupSockAddr| {
                p.load()?;
                p.attach(&cg, CgroupAttachMode::Single).map(drop)
            })?;
        }
        for (name, kind) in SEGMENT_PROGRAMS
            .into_iter()
            .zip([CgroupSkbAttachType::Ingress, CgroupSkbAttachType::Egress])
            .filter(|(n, _)| wanted(n))
        {
            load_attach(&mut ebpf, name, |p: &mut CgroupSkb| {
                p.load()?;
                p.attach(&cg, kind, CgroupAttachMode::Single).map(drop)
            })?;
        }
        Ok(SockPrograms { ebpf, attached })
    }

    /// The names (in `sock.bpf.c`) of the programs loaded and attached, in
    /// attach order: [`programs_for`] of the watch set, then
    /// [`SEGMENT_PROGRAMS`] and [`COMPAT_PROGRAMS`] when asked for.
    #[must_use]
    pub fn attached(&self) -> &[&'static str] {
        &self.attached
    }

    /// Takes the ring buffer out (once).
    ///
    /// # Errors
    /// [`LoadError::Map`] when already taken.
    pub fn take_ring_buf(&mut self) -> Result<RingBuf<MapData>, LoadError> {
        take_map(&mut self.ebpf, "events")
    }

    /// Runs of the attached tracepoint programs (classic and `tp_btf`) the
    /// kernel skipped so far because they would have nested inside another
    /// BPF program on the same CPU (see [`super::progstats`]), summed over
    /// the programs. Each skipped run may have been an event; nothing else
    /// counts them. (The cgroup hooks have no such guard: they always run.)
    ///
    /// # Errors
    /// [`LoadError::Stats`] naming the program the kernel would not report.
    pub fn recursion_misses(&self) -> Result<u64, LoadError> {
        let tracing: Vec<&'static str> = TRACEPOINTS
            .iter()
            .map(|(name, _, _)| *name)
            .chain(BTF_TRACEPOINTS.iter().map(|(name, _)| *name))
            .chain(COMPAT_PROGRAMS.iter().map(|(name, _)| *name))
            .filter(|name| self.attached.contains(name))
            .collect();
        super::recursion_misses(&self.ebpf, &tracing)
    }

    /// Takes the per-CPU loss counters out (once); read them with [`lost_totals`].
    ///
    /// # Errors
    /// [`LoadError::Map`] when already taken.
    pub fn take_lost(&mut self) -> Result<PerCpuArray<MapData, u64>, LoadError> {
        take_map(&mut self.ebpf, "lost")
    }
}

/// Reserve failures so far, per operation (index = `INETMON_OP_*`), summed
/// over CPUs.
///
/// # Errors
/// [`LoadError::Map`] when the kernel refuses the lookup.
pub fn lost_totals(lost: &PerCpuArray<MapData, u64>) -> Result<[u64; OP_MAX], LoadError> {
    let mut out = [0u64; OP_MAX];
    for (i, slot) in (0u32..).zip(out.iter_mut()) {
        *slot = per_cpu_sum(&lost.get(&i, 0).map_err(map_err("lost"))?);
    }
    Ok(out)
}

impl Drop for SockPrograms {
    /// Detaches the tracepoint programs in parallel: each detach waits for
    /// the kernel's tracepoint grace periods (tens of milliseconds), and one
    /// after the other they held an exiting process for most of a second
    /// (`inetmon sockets` must exit within one after SIGTERM). The others
    /// detach when `ebpf` is dropped.
    fn drop(&mut self) {
        let tracepoints: Vec<&mut TracePoint> = self
            .ebpf
            .programs_mut()
            .filter(|(name, _)| TRACEPOINTS.iter().any(|(n, _, _)| n == name))
            .filter_map(|(_, p)| <&mut TracePoint>::try_from(p).ok())
            .collect();
        std::thread::scope(|s| {
            for tp in tracepoints {
                s.spawn(move || {
                    // Dropping the object detaches anything left anyway.
                    let _ = tp.unload();
                });
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loader's tables name exactly [`inetmon_bpf::watch::PROGRAMS`], in the
    /// same (attach) order, so `attached()` lists them in that order.
    #[test]
    fn tables_match_the_program_list() {
        let mut all: Vec<&str> = TRACEPOINTS.iter().map(|t| t.0).collect();
        all.extend(BTF_TRACEPOINTS.iter().map(|t| t.0));
        all.extend(CGROUP_SOCK);
        all.extend(CGROUP_SOCK_ADDR);
        assert_eq!(all, inetmon_bpf::watch::PROGRAMS.to_vec());
    }
}
