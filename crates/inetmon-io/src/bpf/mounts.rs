//! The file systems the socket programs attach through: the cgroup v2
//! hierarchy (the cgroup sock hooks go on its root) and tracefs (classic
//! tracepoints are attached by an id read from it).

use std::fs::{DirBuilder, File};
use std::ops::Deref;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use super::LoadError;

/// The root of the cgroup v2 hierarchy, as a path the loader opens: a
/// mount point, or `/proc/self/fd/N` of a directory this value holds open
/// (derefs to that path; keep it alive until the programs are attached).
#[derive(Debug)]
pub struct Cgroup2Root {
    path: PathBuf,
    /// The detached private mount's root, when there is no mount point.
    _fd: Option<OwnedFd>,
}

impl Deref for Cgroup2Root {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for Cgroup2Root {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

/// The root of the cgroup v2 hierarchy: its mount point from
/// `/proc/self/mountinfo` (`/sys/fs/cgroup` on unified systems,
/// `/sys/fs/cgroup/unified` on hybrid ones); when this process's mount
/// namespace has none, a private mount of it.
///
/// The second case is `ip netns exec NS inetmon …`: `ip netns exec`
/// gives the command its own mount namespace with a fresh `/sys` (the
/// sysfs of the target network namespace) and no cgroup2 mount below it.
/// The cgroup hooks only need a directory fd of the hierarchy's root, so
/// cgroup2 is mounted on a new 0700 directory under `/tmp`, that directory
/// opened, the mount detached (`MNT_DETACH`) and the directory removed at
/// once: nothing stays mounted or visible, the fd keeps the root
/// reachable as `/proc/self/fd/N`.
///
/// # Errors
/// [`LoadError::Cgroup`] when none is mounted and mounting one fails.
pub fn cgroup2_root() -> Result<Cgroup2Root, LoadError> {
    let own = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| LoadError::Cgroup {
        path: String::new(),
        reason: format!("reading /proc/self/mountinfo: {e}"),
    })?;
    if let Some(path) = cgroup2_mount_point(&own) {
        return Ok(Cgroup2Root { path, _fd: None });
    }
    private_cgroup2().map_err(|reason| LoadError::Cgroup {
        path: String::new(),
        reason: format!("no cgroup2 mount found, and a private one failed: {reason}"),
    })
}

/// Mounts cgroup2 on a fresh directory, opens it, detaches the mount and
/// removes the directory (see [`cgroup2_root`]).
fn private_cgroup2() -> Result<Cgroup2Root, String> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = PathBuf::from(format!(
        "/tmp/inetmon-cgroup2-{}-{nanos}",
        std::process::id()
    ));
    // (create, not create_all: fails on anything already there, a planted
    // symlink included; /tmp is sticky, so nobody else can replace it.)
    DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let opened = mount(
        Some("cgroup2"),
        &dir,
        Some("cgroup2"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| format!("mounting cgroup2 on {}: {e}", dir.display()))
    .and_then(|()| {
        let f = File::open(&dir).map_err(|e| format!("opening {}: {e}", dir.display()));
        let _ = umount2(&dir, MntFlags::MNT_DETACH);
        f
    });
    let _ = std::fs::remove_dir(&dir);
    let fd = OwnedFd::from(opened?);
    Ok(Cgroup2Root {
        path: PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
        _fd: Some(fd),
    })
}

/// The first cgroup2 mount point in a `mountinfo` text.
fn cgroup2_mount_point(mountinfo: &str) -> Option<PathBuf> {
    for line in mountinfo.lines() {
        // "... mountpoint opts - fstype source superopts"
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        if post.split(' ').next() != Some("cgroup2") {
            continue;
        }
        if let Some(mp) = pre.split(' ').nth(4) {
            return Some(PathBuf::from(mp));
        }
    }
    None
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
