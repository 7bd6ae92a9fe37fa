//! Checking for the capabilities a live source needs, so that a missing one
//! is one clear line instead of a netlink error.

use std::fs;

/// `CAP_NET_ADMIN` (linux/capability.h).
const CAP_NET_ADMIN: u32 = 12;
/// `CAP_SYS_ADMIN`
const CAP_SYS_ADMIN: u32 = 21;
/// `CAP_PERFMON`
const CAP_PERFMON: u32 = 38;
/// `CAP_BPF`
const CAP_BPF: u32 = 39;

/// Whether this process has `CAP_NET_ADMIN` in its effective set.
///
/// Reads `CapEff` from `/proc/self/status`. When that cannot be read the
/// answer is `true`: the kernel will then say no itself, and the error is
/// reported from there.
pub(crate) fn has_net_admin() -> bool {
    let Ok(status) = fs::read_to_string("/proc/self/status") else {
        return true;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_none_or(|caps| caps & (1 << CAP_NET_ADMIN) != 0)
}

/// The capabilities this process lacks among `CAP_BPF` and `CAP_PERFMON`
/// (when `bpf`; `CAP_SYS_ADMIN` stands for both) and `CAP_NET_ADMIN`
/// (when `net_admin`), as a phrase, or `None` when it has them (or
/// `/proc/self/status` cannot be read: the kernel will say no itself).
/// Shared by `monitor` and `sockets`.
pub(crate) fn missing_caps(bpf: bool, net_admin: bool) -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())?;
    let has = |c: u32| caps & (1u64 << c) != 0;
    let mut missing = Vec::new();
    if bpf && !has(CAP_BPF) && !has(CAP_SYS_ADMIN) {
        missing.push("CAP_BPF");
    }
    if bpf && !has(CAP_PERFMON) && !has(CAP_SYS_ADMIN) {
        missing.push("CAP_PERFMON");
    }
    if net_admin && !has(CAP_NET_ADMIN) {
        missing.push("CAP_NET_ADMIN");
    }
    match missing.as_slice() {
        [] => None,
        [one] => Some((*one).to_owned()),
        [init @ .., last] => Some(format!("{} and {last}", init.join(", "))),
    }
}
