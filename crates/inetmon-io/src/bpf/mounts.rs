//! The file systems the socket programs attach through: the cgroup v2
//! hierarchy (the cgroup sock hooks go on its root) and tracefs (classic
//! tracepoints are attached by an id read from it).

use std::path::PathBuf;

use nix::mount::{mount, MsFlags};

use super::LoadError;

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

/// Mounts tracefs on `/sys/kernel/tracing` unless a tracefs is mounted
/// already: tracepoints are attached by an id read from there.
///
/// # Errors
/// [`LoadError::Tracefs`] when it is not mounted and mounting fails.
pub fn ensure_tracefs() -> Result<(), LoadError> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    if mounts
        .lines()
        .any(|l| l.split(' ').nth(2) == Some("tracefs"))
    {
        return Ok(());
    }
    mount(
        Some("tracefs"),
        "/sys/kernel/tracing",
        Some("tracefs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .map_err(|e| {
        LoadError::Tracefs(format!(
            "not mounted, and mounting it on /sys/kernel/tracing failed: {e}"
        ))
    })
}
