//! `--existing`: a `sock_diag` (`NETLINK_SOCK_DIAG`) dump of the TCP and
//! UDP sockets that exist now, turned into synthetic events marked
//! `existing`: listening TCP sockets as `listen`, connected TCP sockets as
//! `accept` (local port is a listening port) or `connected`, bound UDP
//! sockets as `bind` (or `connected` when connected). The owning process
//! comes from the `socket:[inode]` links in `/proc/*/fd` (socket inodes are
//! global, so this works across namespaces).
//!
//! A `sock_diag` socket only sees its own network namespace. For
//! [`NetnsScope::All`] every namespace in use is found (the
//! `/proc/*/task/*/ns/net` of every thread, and the names bound under
//! `/run/netns` that `ip netns add` creates, which may have no process) and
//! dumped from a short-lived thread that has `setns(2)`-ed into it; the
//! calling thread's namespace is not changed.

use std::collections::{HashMap, HashSet};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use inetmon_core::decode::sock::{decode_inet_diag, DiagSock};
use inetmon_core::event::{
    Attribution, Header, SockEvent, SockOp, SockTask, Source, SOCK_DGRAM, SOCK_STREAM,
};

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_HDR: usize = 16;
const TCP_LISTEN: u8 = 10;
const TCP_CLOSE: u8 = 7;

/// Which network namespaces `--existing` covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetnsScope {
    /// Only the calling thread's.
    Current,
    /// Every namespace in use on the machine (the monitor itself is
    /// machine-wide). Needs `CAP_SYS_ADMIN` to enter the others.
    All,
}

/// The TCP and UDP sockets of one namespace, as `(protocol, socket)`.
type Dump = Vec<(i32, DiagSock)>;

/// Synthetic events for the sockets that exist now in `scope`, numbered by
/// `seq`, grouped by namespace.
///
/// # Errors
/// Netlink socket errors in the calling thread's namespace, or a failure to
/// enter another namespace that still exists. A namespace that disappears
/// while it is being listed is skipped.
pub fn existing_events(
    scope: NetnsScope,
    seq: &mut dyn FnMut() -> u64,
) -> io::Result<Vec<SockEvent>> {
    let owners = socket_owners();
    let own = ns_inode(Path::new("/proc/thread-self/ns/net")).unwrap_or(0);
    let mut dumps = vec![(own, dump_here()?)];
    if scope == NetnsScope::All {
        for (ino, path) in namespaces() {
            if ino == own {
                continue;
            }
            match dump_in(&path) {
                Ok(d) => dumps.push((ino, d)),
                // Gone since it was listed (its last task exited).
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    let now = super::producer::now_wall();
    let mut out = Vec::new();
    for (netns, socks) in dumps {
        events_of(&socks, netns, &owners, now, seq, &mut out);
    }
    Ok(out)
}

fn events_of(
    socks: &[(i32, DiagSock)],
    netns: u32,
    owners: &HashMap<u32, u32>,
    now: inetmon_core::event::Timestamp,
    seq: &mut dyn FnMut() -> u64,
    out: &mut Vec<SockEvent>,
) {
    let listen_ports: HashSet<u16> = socks
        .iter()
        .filter(|(p, s)| *p == libc::IPPROTO_TCP && s.state == TCP_LISTEN)
        .map(|(_, s)| s.local.1)
        .collect();
    for (proto, s) in socks {
        let tcp = *proto == libc::IPPROTO_TCP;
        let connected = s.foreign.1 != 0;
        let op = match (tcp, s.state) {
            (true, TCP_LISTEN) => SockOp::Listen,
            (true, _) if listen_ports.contains(&s.local.1) => SockOp::Accept,
            (true, _) => SockOp::Connected,
            (false, _) if connected => SockOp::Connected,
            (false, _) => SockOp::Bind,
        };
        if tcp && s.state == TCP_CLOSE {
            continue;
        }
        let (task, attribution) = match owners.get(&s.inode) {
            Some(&pid) => (task_of(pid, s.uid), Attribution::Process),
            None => (
                SockTask {
                    uid: s.uid,
                    ..SockTask::default()
                },
                Attribution::Unknown,
            ),
        };
        let has_foreign = !matches!(op, SockOp::Listen | SockOp::Bind);
        out.push(SockEvent {
            header: Header {
                time: now,
                source: Source::Sockets,
                seq: seq(),
            },
            op,
            task,
            attribution,
            family: s.family,
            sock_type: if tcp { SOCK_STREAM } else { SOCK_DGRAM },
            protocol: u16::try_from(*proto).unwrap_or(0),
            local: Some(s.local),
            foreign: has_foreign.then_some(s.foreign),
            mapped: s.mapped,
            cgroup_id: 0,
            netns,
            cookie: s.cookie,
            errno: 0,
            initiator: None,
            existing: true,
            process: None,
            link: Default::default(),
        });
    }
}

/// The nsfs inode of a namespace file or bind mount.
fn ns_inode(path: &Path) -> Option<u32> {
    std::fs::metadata(path)
        .ok()
        .and_then(|m| u32::try_from(m.ino()).ok())
}

/// Every network namespace in use: `(inode, a path that opens it)`, each
/// once, from every thread's `ns/net` and from `/run/netns`.
fn namespaces() -> Vec<(u32, PathBuf)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut add = |path: PathBuf| {
        if let Some(ino) = ns_inode(&path) {
            if seen.insert(ino) {
                out.push((ino, path));
            }
        }
    };
    if let Ok(named) = std::fs::read_dir("/run/netns") {
        for e in named.flatten() {
            add(e.path());
        }
    }
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for p in procs.flatten() {
            if p.file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
                .is_none()
            {
                continue;
            }
            let Ok(tasks) = std::fs::read_dir(p.path().join("task")) else {
                continue;
            };
            for t in tasks.flatten() {
                add(t.path().join("ns/net"));
            }
        }
    }
    out
}

/// The TCP and UDP sockets of the calling thread's namespace.
fn dump_here() -> io::Result<Dump> {
    let mut out = Vec::new();
    for proto in [libc::IPPROTO_TCP, libc::IPPROTO_UDP] {
        for family in [libc::AF_INET, libc::AF_INET6] {
            out.extend(dump(family, proto)?.into_iter().map(|s| (proto, s)));
        }
    }
    Ok(out)
}

/// [`dump_here`] from a thread that entered the namespace at `path`.
fn dump_in(path: &Path) -> io::Result<Dump> {
    let ns = std::fs::File::open(path)?;
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: setns(2) on a valid namespace fd; it changes only this
            // scoped thread, which ends right after the dump.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            dump_here()
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("namespace dump thread panicked")))
    })
}

fn task_of(pid: u32, uid: u32) -> SockTask {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_default();
    let gid = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Gid:"))
                .and_then(|l| l.split_whitespace().nth(2).and_then(|g| g.parse().ok()))
        })
        .unwrap_or(0);
    SockTask {
        pid,
        tid: pid,
        uid,
        gid,
        comm,
    }
}

/// socket inode -> pid, from `/proc/*/fd`.
fn socket_owners() -> HashMap<u32, u32> {
    let mut map = HashMap::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return map;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(link) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let l = link.to_string_lossy();
            if let Some(ino) = l.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                if let Ok(ino) = ino.parse() {
                    map.entry(ino).or_insert(pid);
                }
            }
        }
    }
    map
}

/// Dumps one family/protocol with `SOCK_DIAG_BY_FAMILY`.
fn dump(family: i32, proto: i32) -> io::Result<Vec<DiagSock>> {
    // SAFETY: plain socket(2); the fd is owned below.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: raw is a fresh valid fd we own.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut req = [0u8; NLMSG_HDR + 56];
    let len = u32::try_from(req.len()).unwrap_or(0);
    req[0..4].copy_from_slice(&len.to_ne_bytes());
    req[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    let flags = u16::try_from(libc::NLM_F_REQUEST | libc::NLM_F_DUMP).unwrap_or(0);
    req[6..8].copy_from_slice(&flags.to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    req[NLMSG_HDR] = u8::try_from(family).unwrap_or(0);
    req[NLMSG_HDR + 1] = u8::try_from(proto).unwrap_or(0);
    req[NLMSG_HDR + 4..NLMSG_HDR + 8].copy_from_slice(&u32::MAX.to_ne_bytes()); // all states
                                                                                // SAFETY: req is a valid buffer of req.len() bytes.
    let rc = unsafe { libc::send(fd.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: buf is valid for buf.len() bytes.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let data = buf
            .get(..usize::try_from(n).unwrap_or(0))
            .unwrap_or_default();
        if data.is_empty() {
            return Ok(out);
        }
        let mut off = 0usize;
        while let Some(h) = data.get(off..off + NLMSG_HDR) {
            let mlen = h
                .get(0..4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map_or(0, |b| u32::from_ne_bytes(b) as usize);
            let mtype = h
                .get(4..6)
                .and_then(|b| <[u8; 2]>::try_from(b).ok())
                .map_or(0, u16::from_ne_bytes);
            if mlen < NLMSG_HDR {
                return Ok(out);
            }
            if mtype == libc::NLMSG_DONE as u16 {
                return Ok(out);
            }
            if mtype == libc::NLMSG_ERROR as u16 {
                return Err(io::Error::other("sock_diag dump failed"));
            }
            if let Some(payload) = data.get(off + NLMSG_HDR..off + mlen) {
                if let Ok(s) = decode_inet_diag(payload) {
                    out.push(s);
                }
            }
            off += (mlen + 3) & !3;
        }
    }
}
