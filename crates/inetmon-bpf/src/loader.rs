//! Loading and attaching the socket-event programs with aya.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use aya::maps::{MapData, PerCpuArray, RingBuf};
use aya::programs::{BtfTracePoint, CgroupAttachMode, CgroupSock, CgroupSockAddr, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader};

use crate::record::OP_MAX;
use crate::watch::{programs_for, WatchSet};

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
}

/// Default ring-buffer size in bytes (a power of two, multiple of the page).
pub const DEFAULT_RING_BYTES: u32 = 8 * 1024 * 1024;

/// What went wrong while loading or attaching.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The kernel's BTF (`/sys/kernel/btf/vmlinux`), needed to attach the
    /// `tp_btf` programs, could not be read.
    #[error("reading the kernel BTF for the tp_btf programs: {0}")]
    KernelBtf(#[from] aya::BtfError),
    /// The object did not load (verifier, BTF, permissions).
    #[error("loading the BPF object: {0}")]
    Load(#[from] aya::EbpfError),
    /// A program failed to load or attach.
    #[error("program {name}: {source}")]
    Program {
        /// The program's name in `sock.bpf.c`.
        name: &'static str,
        /// The cause.
        #[source]
        source: aya::programs::ProgramError,
    },
    /// A map was missing or of the wrong type.
    #[error("map {name}: {reason}")]
    Map {
        /// The map's name.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// The kernel refused to report a program's statistics.
    #[error("program {name}: reading its statistics: {reason}")]
    Stats {
        /// The program's name in `sock.bpf.c`.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// tracefs is not mounted and could not be mounted.
    #[error("tracefs: {0}")]
    Tracefs(String),
    /// No cgroup v2 hierarchy is mounted, or it could not be opened.
    #[error("cgroup v2 root {path}: {reason}")]
    Cgroup {
        /// The path tried (empty when none was found).
        path: String,
        /// Why.
        reason: String,
    },
}

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
const BTF_TRACEPOINTS: [(&str, &str); 1] = [("set_state", "inet_sock_set_state")];

const CGROUP_SOCK: [&str; 4] = ["sock_create", "sock_release", "post_bind4", "post_bind6"];
const CGROUP_SOCK_ADDR: [&str; 4] = ["connect4", "connect6", "sendmsg4", "sendmsg6"];

impl SockPrograms {
    /// Loads the object with `filters` written into `.rodata`, a ring buffer
    /// of `ring_bytes`, and loads and attaches the programs that
    /// `filters.watch` needs ([`programs_for`]; the others are neither
    /// loaded nor attached, so they cost nothing); the cgroup hooks go on
    /// `cgroup_root` (see [`cgroup2_root`]).
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
        let attached = programs_for(filters.watch);
        let wanted = |name: &str| attached.contains(&name);
        let mut ebpf = EbpfLoader::new()
            .override_global("filter_pid", &pid, true)
            .override_global("filter_uid_on", &uid_on, true)
            .override_global("filter_uid", &uid, true)
            .override_global("filter_port", &port, true)
            .override_global("filter_cgroup", &cgroup, true)
            .override_global("cfg_watch", &watch, true)
            .map_max_entries("events", ring_bytes)
            // The task local storage `stash` has no aya map type; the
            // programs use it, userspace never does.
            .allow_unsupported_maps()
            .load(crate::OBJECT)?;
        let cg = File::open(cgroup_root).map_err(|e| LoadError::Cgroup {
            path: cgroup_root.display().to_string(),
            reason: e.to_string(),
        })?;
        if TRACEPOINTS.iter().any(|(name, _, _)| wanted(name)) {
            ensure_tracefs()?;
        }
        for (name, cat, tp) in TRACEPOINTS.into_iter().filter(|t| wanted(t.0)) {
            let prog: &mut TracePoint = program(&mut ebpf, name)?;
            prog.load()
                .map_err(|source| LoadError::Program { name, source })?;
            prog.attach(cat, tp)
                .map_err(|source| LoadError::Program { name, source })?;
        }
        // Parsed again rather than shared with the loader (which parses its
        // own in EbpfLoader::new): only one parsed copy of the kernel BTF
        // (~16 MiB) is alive at any time, and none once attached.
        let btf_progs: Vec<_> = BTF_TRACEPOINTS
            .into_iter()
            .filter(|t| wanted(t.0))
            .collect();
        if !btf_progs.is_empty() {
            let btf = Btf::from_sys_fs()?;
            for (name, tp) in btf_progs {
                let prog: &mut BtfTracePoint = program(&mut ebpf, name)?;
                prog.load(tp, &btf)
                    .map_err(|source| LoadError::Program { name, source })?;
                prog.attach()
                    .map_err(|source| LoadError::Program { name, source })?;
            }
        }
        for name in CGROUP_SOCK.into_iter().filter(|n| wanted(n)) {
            let prog: &mut CgroupSock = program(&mut ebpf, name)?;
            prog.load()
                .map_err(|source| LoadError::Program { name, source })?;
            prog.attach(&cg, CgroupAttachMode::Single)
                .map_err(|source| LoadError::Program { name, source })?;
        }
        for name in CGROUP_SOCK_ADDR.into_iter().filter(|n| wanted(n)) {
            let prog: &mut CgroupSockAddr = program(&mut ebpf, name)?;
            prog.load()
                .map_err(|source| LoadError::Program { name, source })?;
            prog.attach(&cg, CgroupAttachMode::Single)
                .map_err(|source| LoadError::Program { name, source })?;
        }
        Ok(SockPrograms { ebpf, attached })
    }

    /// The names (in `sock.bpf.c`) of the programs loaded and attached, in
    /// attach order: [`programs_for`] of the watch set.
    #[must_use]
    pub fn attached(&self) -> &[&'static str] {
        &self.attached
    }

    /// Takes the ring buffer out (once).
    ///
    /// # Errors
    /// [`LoadError::Map`] when already taken.
    pub fn take_ring_buf(&mut self) -> Result<RingBuf<MapData>, LoadError> {
        let map = self.ebpf.take_map("events").ok_or(LoadError::Map {
            name: "events",
            reason: "missing or already taken".into(),
        })?;
        RingBuf::try_from(map).map_err(|e| LoadError::Map {
            name: "events",
            reason: e.to_string(),
        })
    }

    /// Runs of the attached tracepoint programs (classic and `tp_btf`) the kernel
    /// skipped so far because they would have nested inside another BPF
    /// program on the same CPU
    /// (see [`crate::progstats`]), summed over the programs. Each skipped
    /// run may have been an event; nothing else counts them. (The cgroup
    /// hooks have no such guard: they always run.)
    ///
    /// # Errors
    /// [`LoadError::Stats`] naming the program the kernel would not report.
    pub fn recursion_misses(&self) -> Result<u64, LoadError> {
        let mut total = 0u64;
        let names = TRACEPOINTS
            .iter()
            .map(|(name, _, _)| *name)
            .chain(BTF_TRACEPOINTS.iter().map(|(name, _)| *name))
            .filter(|name| self.attached.contains(name));
        for name in names {
            let err = |reason: String| LoadError::Stats { name, reason };
            let prog = self
                .ebpf
                .program(name)
                .ok_or_else(|| err("program not in the object".into()))?;
            let fd = prog.fd().map_err(|e| err(e.to_string()))?;
            let n = crate::progstats::recursion_misses(fd.as_fd())
                .map_err(|e| err(format!("BPF_OBJ_GET_INFO_BY_FD: {e}")))?;
            total = total.saturating_add(n);
        }
        Ok(total)
    }

    /// Takes the per-CPU loss counters out (once); read them with [`lost_totals`].
    ///
    /// # Errors
    /// [`LoadError::Map`] when already taken.
    pub fn take_lost(&mut self) -> Result<PerCpuArray<MapData, u64>, LoadError> {
        let map = self.ebpf.take_map("lost").ok_or(LoadError::Map {
            name: "lost",
            reason: "missing or already taken".into(),
        })?;
        PerCpuArray::try_from(map).map_err(|e| LoadError::Map {
            name: "lost",
            reason: e.to_string(),
        })
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
        let vals = lost.get(&i, 0).map_err(|e| LoadError::Map {
            name: "lost",
            reason: e.to_string(),
        })?;
        *slot = vals.iter().copied().fold(0u64, u64::saturating_add);
    }
    Ok(out)
}

fn program<'a, T>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<&'a mut T, LoadError>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    let p = ebpf.program_mut(name).ok_or(LoadError::Map {
        name,
        reason: "program not in the object".into(),
    })?;
    p.try_into()
        .map_err(|source| LoadError::Program { name, source })
}

/// The mount point of the cgroup v2 hierarchy, from `/proc/self/mountinfo`
/// (`/sys/fs/cgroup` on unified systems, `/sys/fs/cgroup/unified` on hybrid
/// ones).
///
/// # Errors
/// [`LoadError::Cgroup`] when none is mounted.
pub fn cgroup2_root() -> Result<PathBuf, LoadError> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| LoadError::Cgroup {
        path: String::new(),
        reason: format!("reading /proc/self/mountinfo: {e}"),
    })?;
    for line in text.lines() {
        // "... mountpoint opts - fstype source superopts"
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        if post.split(' ').next() != Some("cgroup2") {
            continue;
        }
        if let Some(mp) = pre.split(' ').nth(4) {
            return Ok(PathBuf::from(mp));
        }
    }
    Err(LoadError::Cgroup {
        path: String::new(),
        reason: "no cgroup2 mount found".into(),
    })
}

/// Mounts tracefs on `/sys/kernel/tracing` when neither it nor debugfs's
/// `tracing` directory is available: tracepoints are attached by id, read
/// from there.
fn ensure_tracefs() -> Result<(), LoadError> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    if mounts
        .lines()
        .any(|l| l.split(' ').nth(2) == Some("tracefs"))
    {
        return Ok(());
    }
    let target = c"/sys/kernel/tracing";
    // SAFETY: all pointers are valid NUL-terminated strings; data is NULL.
    let rc = unsafe {
        libc::mount(
            c"tracefs".as_ptr(),
            target.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(LoadError::Tracefs(format!(
            "not mounted, and mounting it on /sys/kernel/tracing failed: {}",
            std::io::Error::last_os_error()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loader's tables name exactly [`crate::watch::PROGRAMS`], in the
    /// same (attach) order, so `attached()` lists them in that order.
    #[test]
    fn tables_match_the_program_list() {
        let mut all: Vec<&str> = TRACEPOINTS.iter().map(|t| t.0).collect();
        all.extend(BTF_TRACEPOINTS.iter().map(|t| t.0));
        all.extend(CGROUP_SOCK);
        all.extend(CGROUP_SOCK_ADDR);
        assert_eq!(all, crate::watch::PROGRAMS.to_vec());
    }
}

impl Drop for SockPrograms {
    /// Detaches the tracepoint programs in parallel: each detach waits for
    /// the kernel's tracepoint grace periods (tens of milliseconds), and one
    /// after the other they would hold an exiting process for most of a
    /// second. The others detach when `ebpf` is dropped.
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
