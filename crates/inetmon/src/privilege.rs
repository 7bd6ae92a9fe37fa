//! Checking for the capabilities a live source needs, so that a missing one
//! is one clear line instead of a netlink error.

use std::fs;

/// `CAP_NET_ADMIN` (linux/capability.h).
const CAP_NET_ADMIN: u32 = 12;

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
