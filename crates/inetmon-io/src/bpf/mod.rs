//! Loading and attaching inetmon's BPF programs, and reading their maps:
//! everything about them that makes a syscall (the objects, record layouts
//! and watch table are in the pure `inetmon-bpf`).
//!
//! - [`sockets`]: [`SockPrograms`], the socket-event programs
//!   (`sock.bpf.o`): in-kernel filters and the operation mask in
//!   `.rodata`, only the programs the mask needs attached.
//! - [`datapath`]: [`DatapathPrograms`], the drop tracepoint and the trace
//!   classifiers (`datapath.bpf.o`).
//! - [`mounts`]: the cgroup v2 root the socket hooks attach to, and tracefs
//!   for the classic tracepoints.
//! - [`progstats`]: the runs the kernel skipped (`recursion_misses`), which
//!   both loaders report and the producers count as loss.
//!
//! The loaders hold no process-wide state: each [`SockPrograms`] or
//! [`DatapathPrograms`] owns its object, maps and links, and dropping it
//! detaches everything, so a long-lived process may load, drop and load
//! again. Both share the helpers below and one error type, [`LoadError`].

pub mod datapath;
pub mod mounts;
pub mod progstats;
pub mod sockets;

use std::os::fd::AsFd;

use aya::maps::{Map, MapError, PerCpuValues};
use aya::programs::{Program, ProgramError};
use aya::Ebpf;

pub use datapath::{DatapathPrograms, KernelConfig};
pub use mounts::{cgroup2_root, Cgroup2Root};
pub use sockets::{Filters, SockPrograms};

/// What went wrong while loading or attaching programs, or reading their
/// maps and statistics.
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
    #[error("program {name}{}: {source}", if .iface.is_empty() { String::new() } else { format!(" on {}", .iface) })]
    Program {
        /// The program's name in its `.bpf.c`.
        name: &'static str,
        /// The interface it was attached to (empty unless a tc program).
        iface: String,
        /// The cause.
        #[source]
        source: ProgramError,
    },
    /// The object has no program of this name.
    #[error("program {0}: not in the object")]
    NoProgram(&'static str),
    /// A map was missing, of the wrong type, or refused an operation.
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
        /// The program's name in its `.bpf.c`.
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
    /// A configuration value is out of range or names an unusable device.
    #[error("{0}")]
    Config(String),
}

/// What went wrong in a producer reading a BPF ring buffer (the socket
/// and datapath producers).
#[derive(Debug, thiserror::Error)]
pub enum ProducerError {
    /// Loading or attaching the programs, or reading their maps, failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// `poll(2)` on the ring buffer failed.
    #[error("polling the ring buffer: {0}")]
    Poll(std::io::Error),
    /// Reading enrichment data (BTF drop reasons, kallsyms, the netns)
    /// failed.
    #[error("{what}: {reason}")]
    Enrich {
        /// What was read.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
}

/// The [`LoadError::Map`] of map `name` for an aya map error.
pub(crate) fn map_err(name: &'static str) -> impl Fn(MapError) -> LoadError {
    move |e| LoadError::Map {
        name,
        reason: e.to_string(),
    }
}

/// Program `name` of `ebpf` as its type `T`.
fn program<'a, T>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<&'a mut T, LoadError>
where
    &'a mut T: TryFrom<&'a mut Program, Error = ProgramError>,
{
    let p = ebpf.program_mut(name).ok_or(LoadError::NoProgram(name))?;
    p.try_into().map_err(|source| LoadError::Program {
        name,
        iface: String::new(),
        source,
    })
}

/// Loads and attaches program `name` of `ebpf` as its type `T` with
/// `f`, naming the program in the error.
fn load_attach<T>(
    ebpf: &mut Ebpf,
    name: &'static str,
    f: impl FnOnce(&mut T) -> Result<(), ProgramError>,
) -> Result<(), LoadError>
where
    for<'a> &'a mut T: TryFrom<&'a mut Program, Error = ProgramError>,
{
    f(program(ebpf, name)?).map_err(|source| LoadError::Program {
        name,
        iface: String::new(),
        source,
    })
}

/// Takes map `name` out of `ebpf` (once) as its type `M`.
fn take_map<M>(ebpf: &mut Ebpf, name: &'static str) -> Result<M, LoadError>
where
    M: TryFrom<Map, Error = MapError>,
{
    let map = ebpf.take_map(name).ok_or(LoadError::Map {
        name,
        reason: "missing or already taken".into(),
    })?;
    M::try_from(map).map_err(map_err(name))
}

/// The sum over CPUs of a per-CPU counter (saturating).
fn per_cpu_sum(vals: &PerCpuValues<u64>) -> u64 {
    vals.iter().copied().fold(0u64, u64::saturating_add)
}

/// Runs of the programs `names` that the kernel skipped so far (see
/// [`progstats`]), summed; programs not loaded count 0.
fn recursion_misses<'n>(
    ebpf: &Ebpf,
    names: impl IntoIterator<Item = &'n &'static str>,
) -> Result<u64, LoadError> {
    let mut total = 0u64;
    for &name in names {
        let Some(prog) = ebpf.program(name) else {
            return Err(LoadError::NoProgram(name));
        };
        let Ok(fd) = prog.fd() else {
            continue; // not loaded: not attached
        };
        let n = progstats::recursion_misses(fd.as_fd()).map_err(|e| LoadError::Stats {
            name,
            reason: format!("BPF_OBJ_GET_INFO_BY_FD: {e}"),
        })?;
        total = total.saturating_add(n);
    }
    Ok(total)
}
