//! Network namespaces of drops: the `--netns` selection, the `ip netns`
//! names of namespace inodes, and interface names resolved in the drop's
//! own namespace.
//!
//! `ip netns add NAME` bind-mounts the namespace on `/run/netns/NAME`; the
//! bind mount's inode is the namespace inode the drop program reports
//! (`dev_net(dev)->ns.inum`). `/run/netns` is used only when it is a real
//! directory owned by root and writable by no one else (inetmon runs as
//! root: a directory another user controls could name or substitute
//! namespaces), and entries are opened with `O_NOFOLLOW`.
//!
//! An interface index means something only in its namespace. For a drop in
//! another namespace the name is looked up from a short-lived helper thread
//! that enters the namespace (`setns(2)` changes the network namespace of
//! the calling thread only) and calls `if_indextoname`; the namespace is
//! opened from `/run/netns/NAME` or, for unnamed namespaces, from
//! `/proc/PID/ns/net` of a process in it (kernel-made links; the opened
//! file's inode is checked). Answers, including "no such interface", are
//! cached for 30 s, so a storm of drops costs one lookup per interface.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::DatapathError;
use crate::ifname;

/// Where `ip netns` keeps its bind mounts.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// How long cached names are trusted (interfaces come, go and are renamed).
const MAX_AGE: Duration = Duration::from_secs(30);
/// Rescan `/run/netns` for an unknown inode at most this often.
const RESCAN: Duration = Duration::from_secs(2);

fn err(what: &'static str, reason: impl Into<String>) -> DatapathError {
    DatapathError::Enrich {
        what,
        reason: reason.into(),
    }
}

/// Whether `dir` is a directory owned by root and writable by nobody else.
fn trusted_dir(dir: &Path) -> bool {
    match fs::symlink_metadata(dir) {
        Ok(md) => md.is_dir() && md.uid() == 0 && md.mode() & 0o022 == 0,
        Err(_) => false,
    }
}

/// Opens `/run/netns/NAME` without following a symlink.
fn open_named(name: &str) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(Path::new(NETNS_RUN_DIR).join(name))
}

fn inode_of(f: &File) -> Option<u32> {
    f.metadata().ok().and_then(|m| u32::try_from(m.ino()).ok())
}

/// The namespace inode `--netns SPEC` selects: `own` is `own`, a number is
/// an inode, anything else the name of an `ip netns` namespace.
///
/// # Errors
/// [`DatapathError::Enrich`] naming the namespace when the name does not
/// exist, is not a plain name, or `/run/netns` is not trusted.
pub fn resolve_spec(spec: &str, own: u32) -> Result<u32, DatapathError> {
    const W: &str = "--netns";
    if spec == "own" {
        return Ok(own);
    }
    if !spec.is_empty() && spec.bytes().all(|b| b.is_ascii_digit()) {
        return spec
            .parse::<u32>()
            .map_err(|_| err(W, format!("namespace inode {spec} does not fit 32 bits")));
    }
    if spec.is_empty() || spec.contains('/') || spec == "." || spec == ".." {
        return Err(err(
            W,
            format!("{spec:?} is not own, an inode or an ip netns name"),
        ));
    }
    if !trusted_dir(Path::new(NETNS_RUN_DIR)) {
        return Err(err(
            W,
            format!("{NETNS_RUN_DIR} is missing, not a directory, or writable by others than root: cannot look up {spec:?}"),
        ));
    }
    let f = open_named(spec).map_err(|e| {
        err(
            W,
            format!("no network namespace {spec:?} ({NETNS_RUN_DIR}/{spec}: {e})"),
        )
    })?;
    inode_of(&f).ok_or_else(|| err(W, format!("{NETNS_RUN_DIR}/{spec}: no inode")))
}

/// Namespace names and interface names of drops, cached.
#[derive(Debug)]
pub struct NetnsResolver {
    own: u32,
    /// inode → `ip netns` name; `None`: none at the last scan.
    names: HashMap<u32, Option<String>>,
    scanned: Option<Instant>,
    ifnames: HashMap<(u32, u32), Option<String>>,
    own_ifnames: ifname::IfNames,
    filled: Instant,
}

impl NetnsResolver {
    /// A resolver for a monitor running in namespace `own`.
    #[must_use]
    pub fn new(own: u32) -> Self {
        NetnsResolver {
            own,
            names: HashMap::new(),
            scanned: None,
            ifnames: HashMap::new(),
            own_ifnames: ifname::IfNames::new(),
            filled: Instant::now(),
        }
    }

    /// The monitor's own namespace inode.
    #[must_use]
    pub fn own(&self) -> u32 {
        self.own
    }

    fn expire(&mut self) {
        if self.filled.elapsed() > MAX_AGE {
            self.ifnames.clear();
            self.names.clear();
            self.scanned = None;
            self.filled = Instant::now();
        }
    }

    /// Rereads `/run/netns` (inode → name), at most every 2 s.
    fn rescan(&mut self) {
        if self.scanned.is_some_and(|t| t.elapsed() < RESCAN) {
            return;
        }
        self.scanned = Some(Instant::now());
        self.names.clear();
        if !trusted_dir(Path::new(NETNS_RUN_DIR)) {
            return;
        }
        let Ok(dir) = fs::read_dir(NETNS_RUN_DIR) else {
            return;
        };
        for entry in dir.flatten() {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            // The inode of the mounted namespace, not of the mount point
            // file: open it (O_NOFOLLOW) and fstat.
            if let Some(ino) = open_named(&name).ok().as_ref().and_then(inode_of) {
                self.names.entry(ino).or_insert(Some(name));
            }
        }
    }

    /// The `ip netns` name of namespace `inode`, if it has one.
    pub fn name(&mut self, inode: u32) -> Option<String> {
        if inode == 0 {
            return None;
        }
        self.expire();
        match self.names.get(&inode) {
            Some(Some(n)) => return Some(n.clone()),
            // unnamed at the last scan: look again once that is 2 s old
            Some(None) if self.scanned.is_some_and(|t| t.elapsed() < RESCAN) => return None,
            _ => {}
        }
        self.rescan();
        self.names.entry(inode).or_insert(None).clone()
    }

    /// The name of interface `ifindex` in namespace `netns` (0 or the own
    /// namespace: looked up here).
    pub fn ifname(&mut self, netns: u32, ifindex: u32) -> Option<String> {
        if ifindex == 0 {
            return None;
        }
        if netns == 0 || netns == self.own {
            return self.own_ifnames.name(ifindex);
        }
        self.expire();
        if let Some(n) = self.ifnames.get(&(netns, ifindex)) {
            return n.clone();
        }
        let found = self.open_ns(netns).and_then(|f| lookup_in(&f, ifindex));
        self.ifnames.insert((netns, ifindex), found.clone());
        found
    }

    /// A file of namespace `inode`: its `/run/netns` entry, else the
    /// `ns/net` of a process in it.
    fn open_ns(&mut self, inode: u32) -> Option<File> {
        if let Some(name) = self.name(inode) {
            if let Ok(f) = open_named(&name) {
                if inode_of(&f) == Some(inode) {
                    return Some(f);
                }
            }
        }
        for entry in fs::read_dir("/proc").ok()?.flatten() {
            let pid = entry.file_name();
            if !pid.as_encoded_bytes().iter().all(u8::is_ascii_digit) {
                continue;
            }
            let p: PathBuf = ["/proc", pid.to_str()?, "ns", "net"].iter().collect();
            if fs::metadata(&p)
                .ok()
                .and_then(|m| u32::try_from(m.ino()).ok())
                != Some(inode)
            {
                continue;
            }
            if let Ok(f) = File::open(&p) {
                if inode_of(&f) == Some(inode) {
                    return Some(f);
                }
            }
        }
        None
    }
}

/// `if_indextoname(ifindex)` inside the namespace of `ns`, from a helper
/// thread that enters it (the caller's namespace is left alone).
fn lookup_in(ns: &File, ifindex: u32) -> Option<String> {
    let fd = ns.as_raw_fd();
    std::thread::scope(|s| {
        s.spawn(move || {
            // SAFETY: fd is an open namespace file for the duration of the
            // scope; setns changes only this helper thread's namespace.
            if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
                return None;
            }
            ifname::lookup(ifindex)
        })
        .join()
        .ok()
        .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(resolve_spec("own", 7).unwrap(), 7);
        assert_eq!(resolve_spec("4026531840", 7).unwrap(), 4_026_531_840);
        for bad in ["", "a/b", "..", "99999999999"] {
            assert!(resolve_spec(bad, 7).is_err(), "{bad}");
        }
        assert!(resolve_spec("no-such-namespace-inetmon", 7).is_err());
    }

    #[test]
    fn own_namespace_names() {
        let own = crate::datapath::enrich::own_netns().unwrap();
        let mut r = NetnsResolver::new(own);
        assert_eq!(r.ifname(own, 1).as_deref(), Some("lo"));
        assert_eq!(r.ifname(0, 1).as_deref(), Some("lo"));
        assert_eq!(r.ifname(own, 0), None);
    }

    /// Another namespace through /proc/PID/ns/net: our own, seen as
    /// foreign (an inode the resolver does not take for its own).
    #[test]
    fn foreign_lookup_through_proc() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return; // setns needs CAP_SYS_ADMIN
        }
        let own = crate::datapath::enrich::own_netns().unwrap();
        let mut r = NetnsResolver::new(own.wrapping_add(1));
        assert_eq!(r.ifname(own, 1).as_deref(), Some("lo"));
        assert_eq!(r.ifname(own, 0x7fff_fff0), None);
    }
}
