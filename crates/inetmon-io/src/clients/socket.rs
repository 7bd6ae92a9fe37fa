//! The listening socket and who may connect to it.
//!
//! # Creating the socket
//!
//! The daemon runs as root and the socket path is configurable, so it is
//! created as [`crate::safe_open`] opens files: its directory (created
//! `0755` when missing, `/run/inetmon` by default) and every directory on
//! the way must be owned by root (or the daemon's user) and not writable
//! by others unless sticky, and no symbolic link another user owns is
//! followed. An existing name there is replaced only when it is a socket
//! nobody listens on (a previous daemon's); a live socket, a link or any
//! other file is an error. The socket is bound, then given mode `0660`
//! and group `inetmon` (when that group exists; else mode `0600`, root
//! only), and only then listened on, so nobody connects before its
//! permissions are right.
//!
//! # Checking peers
//!
//! File permissions are the first gate; the second is [`Peer`], read from
//! the connection itself (`SO_PEERCRED` for uid, gid and pid,
//! `SO_PEERGROUPS` for the supplementary groups, both as they were when
//! the peer connected): [`Access::allows`] root, the daemon's own user,
//! and members of group `inetmon`, primary or supplementary.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use nix::sys::socket::{self, sockopt, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};

use crate::safe_open::{self, PathError};

/// Why the socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The path or its directory is unsafe or cannot be made.
    #[error(transparent)]
    Path(#[from] PathError),
    /// Something other than a stale socket has the name.
    #[error("{path}: exists and is not a socket (refusing to replace it)", path = .0.display())]
    NotSocket(PathBuf),
    /// Another daemon answers on the socket.
    #[error("{path}: another inetmon daemon is listening on it", path = .0.display())]
    InUse(PathBuf),
    /// A system call failed.
    #[error("{path}: {what}", path = .path.display())]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The step.
        what: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Who may connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// The gid of group `inetmon`, when it exists.
    pub group: Option<u32>,
    /// The daemon's own effective uid.
    pub own_uid: u32,
}

impl Access {
    /// Group [`super::GROUP`] as the system knows it now, and this
    /// process's uid.
    #[must_use]
    pub fn of_system() -> Self {
        Access {
            group: group_gid(super::GROUP),
            own_uid: nix::unistd::geteuid().as_raw(),
        }
    }

    /// Whether `peer` may watch: root, the daemon's own user, or a member
    /// of the group.
    #[must_use]
    pub fn allows(&self, peer: &Peer) -> bool {
        peer.uid == 0
            || peer.uid == self.own_uid
            || self
                .group
                .is_some_and(|g| peer.gid == g || peer.groups.contains(&g))
    }

    /// The line a refused peer gets (and the daemon logs).
    #[must_use]
    pub fn refusal(&self, peer: &Peer) -> String {
        match self.group {
            Some(_) => format!(
                "permission denied: uid {} (pid {}) is neither root nor a member of group {}; ask an administrator to add you to it",
                peer.uid,
                peer.pid,
                super::GROUP
            ),
            None => format!(
                "permission denied: uid {} (pid {}) is not root, and group {} does not exist, so only root may watch",
                peer.uid,
                peer.pid,
                super::GROUP
            ),
        }
    }
}

/// The gid of group `name`, if it exists.
#[must_use]
pub fn group_gid(name: &str) -> Option<u32> {
    nix::unistd::Group::from_name(name)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw())
}

/// The process at the other end of a connection, as the kernel recorded
/// it when the peer connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its pid.
    pub pid: i32,
    /// Its effective uid.
    pub uid: u32,
    /// Its effective gid.
    pub gid: u32,
    /// Its supplementary groups.
    pub groups: Vec<u32>,
}

/// Reads the peer's credentials and groups.
///
/// # Errors
/// The `getsockopt` error.
pub fn peer(stream: &UnixStream) -> io::Result<Peer> {
    let cred = socket::getsockopt(stream, sockopt::PeerCredentials).map_err(io::Error::from)?;
    Ok(Peer {
        pid: cred.pid(),
        uid: cred.uid(),
        gid: cred.gid(),
        groups: peer_groups(stream)?,
    })
}

/// `SO_PEERGROUPS` (Linux 4.13): the peer's supplementary groups.
fn peer_groups(stream: &UnixStream) -> io::Result<Vec<u32>> {
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let cap = groups.len() * std::mem::size_of::<libc::gid_t>();
        let mut len = libc::socklen_t::try_from(cap).unwrap_or(libc::socklen_t::MAX);
        // SAFETY: `groups` has room for `len` bytes; the kernel writes at
        // most that many and says how many in `len`.
        let rc = unsafe {
            libc::getsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &raw mut len,
            )
        };
        let n = usize::try_from(len).unwrap_or(0) / std::mem::size_of::<libc::gid_t>();
        if rc == 0 {
            groups.truncate(n);
            return Ok(groups);
        }
        let e = io::Error::last_os_error();
        // ERANGE: `len` now says how much room the list needs.
        if e.raw_os_error() == Some(libc::ERANGE) && n > groups.len() && n <= 65_536 {
            groups.resize(n, 0);
            continue;
        }
        return Err(e);
    }
}

/// Creates the listening socket at `path` (see the module documentation);
/// `gid`: the group to give it (mode `0660`), or `None` (mode `0600`).
/// Returns the listener and the socket's symlink-free path (to remove it
/// at the end).
///
/// # Errors
/// [`SocketError`].
pub fn bind(path: &Path, gid: Option<u32>) -> Result<(UnixListener, PathBuf), SocketError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        safe_open::create_dir(dir, 0o755)?;
    }
    let full = safe_open::trusted_path(path)?;
    let io = |what| {
        move |source| SocketError::Io {
            path: path.to_owned(),
            what,
            source,
        }
    };
    match fs::symlink_metadata(&full) {
        Ok(m) if m.file_type().is_socket() && (m.uid() == 0 || m.uid() == own_uid()) => {
            if UnixStream::connect(&full).is_ok() {
                return Err(SocketError::InUse(path.to_owned()));
            }
            fs::remove_file(&full).map_err(io("removing the stale socket"))?;
        }
        Ok(_) => return Err(SocketError::NotSocket(path.to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("stat")(e)),
    }
    let fd: OwnedFd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| io("socket")(e.into()))?;
    let addr = UnixAddr::new(&full).map_err(|e| io("socket address")(e.into()))?;
    socket::bind(fd.as_raw_fd(), &addr).map_err(|e| io("bind")(e.into()))?;
    // The directory is trusted, so nobody can swap the name between bind
    // and these calls; fchownat without following a link all the same.
    nix::unistd::fchownat(
        nix::fcntl::AT_FDCWD,
        &full,
        Some(nix::unistd::Uid::effective()),
        gid.map(nix::unistd::Gid::from_raw),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|e| io("chown")(e.into()))?;
    let mode = if gid.is_some() { 0o660 } else { 0o600 };
    fs::set_permissions(&full, fs::Permissions::from_mode(mode)).map_err(io("chmod"))?;
    socket::listen(&fd, Backlog::new(128).unwrap_or(Backlog::MAXCONN))
        .map_err(|e| io("listen")(e.into()))?;
    Ok((UnixListener::from(fd), full))
}

fn own_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}
