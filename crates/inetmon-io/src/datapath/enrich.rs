//! What turns raw datapath numbers into names and times, read from the
//! running system: drop reasons from the kernel's BTF (never a compiled-in
//! table), kernel symbols, the monitor's network namespace, and the
//! wall-clock time of boot.

use std::fs;
use std::os::unix::fs::MetadataExt;

use inetmon_core::btf::DropReasonTable;
use inetmon_core::kallsyms::KallSyms;

use super::DatapathError;

/// Where the kernel exposes its BTF: `vmlinux` and one file per module.
const BTF_DIR: &str = "/sys/kernel/btf";

/// The running kernel's drop reasons: `enum skb_drop_reason` from
/// `/sys/kernel/btf/vmlinux` plus the subsystem reasons of every module's
/// split BTF (modules that cannot be read are skipped).
///
/// # Errors
/// [`ProducerError::Enrich`](crate::bpf::ProducerError::Enrich) when `vmlinux` BTF cannot be read or parsed.
pub fn drop_reasons() -> Result<DropReasonTable, DatapathError> {
    let err = |reason: String| DatapathError::Enrich {
        what: "drop reasons from /sys/kernel/btf/vmlinux",
        reason,
    };
    let vmlinux = fs::read(format!("{BTF_DIR}/vmlinux")).map_err(|e| err(e.to_string()))?;
    let mut modules = Vec::new();
    if let Ok(dir) = fs::read_dir(BTF_DIR) {
        for entry in dir.flatten() {
            if entry.file_name() == "vmlinux" {
                continue;
            }
            // Only modules that define drop reasons matter; reading them all
            // is cheap (a few MiB) and keeps this independent of names.
            if let Ok(blob) = fs::read(entry.path()) {
                modules.push(blob);
            }
        }
    }
    let refs: Vec<&[u8]> = modules.iter().map(Vec::as_slice).collect();
    DropReasonTable::from_btf(&vmlinux, &refs).map_err(|e| err(e.to_string()))
}

/// Kernel symbols from `/proc/kallsyms` (all zero addresses, so useless,
/// without `CAP_SYSLOG` or with `kptr_restrict`; then `None`).
#[must_use]
pub fn kallsyms() -> Option<KallSyms> {
    let text = fs::read_to_string("/proc/kallsyms").ok()?;
    let syms = KallSyms::parse(&text);
    (!syms.is_empty() && !syms.is_restricted()).then_some(syms)
}

/// The inode of the calling thread's network namespace (what the drop
/// program compares with `dev->nd_net.net->ns.inum`).
///
/// # Errors
/// [`ProducerError::Enrich`](crate::bpf::ProducerError::Enrich) when `/proc/thread-self/ns/net` cannot be read.
pub fn own_netns() -> Result<u32, DatapathError> {
    let md = fs::metadata("/proc/thread-self/ns/net").map_err(|e| DatapathError::Enrich {
        what: "network namespace (/proc/thread-self/ns/net)",
        reason: e.to_string(),
    })?;
    u32::try_from(md.ino()).map_err(|_| DatapathError::Enrich {
        what: "network namespace (/proc/thread-self/ns/net)",
        reason: format!("inode {} does not fit 32 bits", md.ino()),
    })
}

/// The wall-clock time of boot in nanoseconds since the epoch
/// (`CLOCK_REALTIME − CLOCK_BOOTTIME`), to place `bpf_ktime_get_boot_ns()`
/// values; re-measure now and then to follow clock steps.
#[must_use]
pub fn boot_wall_ns() -> i128 {
    crate::clock::wall_offset_ns(nix::time::ClockId::CLOCK_BOOTTIME)
}
