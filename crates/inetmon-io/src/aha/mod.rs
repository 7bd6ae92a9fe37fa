//! The AHAFS file interface: a FUSE file system (`fuser`, pure-Rust mount
//! path: root mounts `/dev/fuse` itself, no libfuse and no `fusermount`)
//! serving `<mountpoint>/net/inetsock.monFactory/*.mon` from a stream of
//! socket events, as AIX's `inetsock` event producer does under `/aha`.
//!
//! A consumer opens (creates) one of the ten monitor files, writes a
//! specification (`CHANGED=YES;WAIT_TYPE=WAIT_IN_READ;INFO_LVL=2`, see
//! [`inetmon_core::aha::spec`]; a malformed one fails the `write` with
//! `EINVAL`), then reads event blocks. Each open file is its own
//! subscription with its own bounded buffer and sequence numbers
//! ([`inetmon_core::aha::Subscription`]); overflow is reported in the data
//! as a `BUF_WRAP` block and counted in [`AhaStats`].
//!
//! - `WAIT_IN_READ`: a `read` with nothing buffered is parked and answered
//!   when the next event for that file arrives (the FUSE request waits; the
//!   file system thread does not).
//! - `WAIT_IN_SELECT`: `select`/`poll`/`epoll` report the file readable when
//!   blocks are buffered (FUSE poll with kernel notification); a `read` with
//!   nothing buffered fails with `EAGAIN`. A file opened `O_NONBLOCK` also
//!   gets `EAGAIN` instead of waiting.
//! - Reading before a specification was written fails with `EINVAL`; after
//!   `NOTIFY_CNT` events were read, reads return end of file.
//!
//! The files are root's (mode 0600, directories 0500) and the mount admits
//! only its owner (no `allow_other`). [`AhaFs::publish`] never waits for a
//! consumer: it formats into each subscription's buffer and answers parked
//! reads and poll waiters; the mount goes away when the [`AhaFs`] is
//! dropped.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use fuser::{
    BackgroundSession, Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, LockOwner, MountOption, OpenFlags, PollEvents, PollFlags, PollNotifier,
    ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen,
    ReplyPoll, ReplyWrite, Request, WriteFlags,
};
use inetmon_core::aha::{monitor_of_file, Offer, Subscription, WaitType, MONITOR_FILES};
use inetmon_core::event::{Monitor, SockEvent};
use jiff::tz::TimeZone;

const ROOT: u64 = 1;
const NET: u64 = 2;
const FACTORY: u64 = 3;
/// Monitor file `i` of [`MONITOR_FILES`] has inode `FILE_BASE + i`.
const FILE_BASE: u64 = 16;
/// The factory directory's name.
pub const FACTORY_DIR: &str = "inetsock.monFactory";
const TTL: Duration = Duration::from_secs(1);

/// Why the file system could not be mounted.
#[derive(Debug, thiserror::Error)]
pub enum AhaError {
    /// The mount point is missing, not a directory, a symbolic link, or not
    /// owned by the user mounting.
    #[error("AHAFS mount point {path}: {why}")]
    MountPoint {
        /// The mount point.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The FUSE mount failed.
    #[error("AHAFS mount at {path}: {source}")]
    Mount {
        /// The mount point.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Counters of the file interface.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AhaStats {
    /// Subscriptions (open monitor files) now.
    pub open: u64,
    /// Event blocks buffered for consumers, over all subscriptions.
    pub queued: u64,
    /// Event blocks dropped by overflow (`BUF_WRAP`), over all subscriptions.
    pub lost: u64,
}

/// A read parked until its subscription has data.
struct Parked {
    reply: ReplyData,
    size: u32,
}

struct Open {
    sub: Subscription,
    parked: VecDeque<Parked>,
    poll: Option<PollNotifier>,
}

impl Open {
    /// Answers parked reads and poll waiters once there is data or the
    /// subscription has ended.
    fn wake(&mut self) {
        while self.sub.readable() || self.sub.finished() {
            let Some(p) = self.parked.pop_front() else {
                break;
            };
            let data = self.sub.take(p.size as usize);
            p.reply.data(&data);
        }
        if self.sub.readable() || self.sub.finished() {
            if let Some(ph) = self.poll.take() {
                // The waiter may be gone; nothing to do then.
                let _ = ph.notify();
            }
        }
    }
}

#[derive(Default)]
struct State {
    /// Set when the [`AhaFs`] is dropped: requests then fail with `EIO`.
    closed: bool,
    next_fh: u64,
    open: HashMap<u64, Open>,
}

impl State {
    /// The open file `fh`, or the error a request on it gets: `EIO` once
    /// the [`AhaFs`] is dropped, `EBADF` for a handle that is not open.
    fn open_file(&mut self, fh: FileHandle) -> Result<&mut Open, Errno> {
        if self.closed {
            return Err(Errno::EIO);
        }
        self.open.get_mut(&fh.0).ok_or(Errno::EBADF)
    }
}

struct Shared {
    state: Mutex<State>,
    tz: TimeZone,
    uid: u32,
    gid: u32,
    queued: AtomicU64,
    lost: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent-enough state
        // (buffers only); keep serving.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The mounted AHAFS file interface; unmounted on drop.
pub struct AhaFs {
    shared: Arc<Shared>,
    mountpoint: PathBuf,
    session: Option<BackgroundSession>,
}

crate::debug_fields::debug_fields!(AhaFs { mountpoint, .. });

impl AhaFs {
    /// Mounts the file interface on `mountpoint` (an existing directory,
    /// not a symbolic link, owned by the mounting user), with times printed
    /// in `tz`.
    ///
    /// # Errors
    /// [`AhaError`] for a bad mount point or a failed mount (not root, no
    /// `/dev/fuse`).
    pub fn mount(mountpoint: &Path, tz: TimeZone) -> Result<AhaFs, AhaError> {
        let bad = |why: String| AhaError::MountPoint {
            path: mountpoint.to_owned(),
            why,
        };
        let meta = std::fs::symlink_metadata(mountpoint).map_err(|e| bad(e.to_string()))?;
        if meta.file_type().is_symlink() {
            return Err(bad("is a symbolic link".into()));
        }
        if !meta.is_dir() {
            return Err(bad("not a directory".into()));
        }
        let euid = nix::unistd::geteuid().as_raw();
        if meta.uid() != euid {
            return Err(bad(format!("owned by uid {}, not {euid}", meta.uid())));
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            tz,
            uid: euid,
            gid: nix::unistd::getegid().as_raw(),
            queued: AtomicU64::new(0),
            lost: AtomicU64::new(0),
        });
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName("inetmon-aha".into()),
            MountOption::Subtype("ahafs".into()),
            MountOption::NoDev,
            MountOption::NoSuid,
            MountOption::NoExec,
        ];
        let fs = AhaFilesystem {
            shared: Arc::clone(&shared),
        };
        let session =
            fuser::spawn_mount(fs, mountpoint, &config).map_err(|source| AhaError::Mount {
                path: mountpoint.to_owned(),
                source,
            })?;
        Ok(AhaFs {
            shared,
            mountpoint: mountpoint.to_owned(),
            session: Some(session),
        })
    }

    /// Where it is mounted.
    #[must_use]
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Offers one socket event to every subscription. Never waits for a
    /// consumer.
    pub fn publish(&self, ev: &SockEvent) {
        let Some(mon) = ev.monitor() else {
            return;
        };
        if !MONITOR_FILES.contains(&mon) {
            return;
        }
        let mut st = self.shared.lock();
        for open in st.open.values_mut() {
            match open.sub.offer(ev) {
                Offer::Ignored => continue,
                Offer::Queued => {}
                Offer::Wrapped(n) => {
                    self.shared.lost.fetch_add(n, Ordering::Relaxed);
                }
            }
            self.shared.queued.fetch_add(1, Ordering::Relaxed);
            open.wake();
        }
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> AhaStats {
        AhaStats {
            open: self.shared.lock().open.len() as u64,
            queued: self.shared.queued.load(Ordering::Relaxed),
            lost: self.shared.lost.load(Ordering::Relaxed),
        }
    }
}

impl Drop for AhaFs {
    fn drop(&mut self) {
        // From now on every request on a still-open file fails with EIO;
        // parked reads answer EIO when their replies drop.
        {
            let mut st = self.shared.lock();
            st.closed = true;
            for open in st.open.values_mut() {
                open.parked.clear();
                if let Some(ph) = open.poll.take() {
                    // Wake pollers so they see the error; they may be gone.
                    let _ = ph.notify();
                }
            }
        }
        // Detach the mount even while consumers hold files open (a plain
        // umount would fail with EBUSY); the FUSE connection then ends when
        // the last of them closes. Not waiting for the session thread:
        // dropping must not wait for consumers. Failure means it was
        // already unmounted (by hand).
        let _ = nix::mount::umount2(&self.mountpoint, nix::mount::MntFlags::MNT_DETACH);
        drop(self.session.take());
    }
}

struct AhaFilesystem {
    shared: Arc<Shared>,
}

fn file_index(ino: u64) -> Option<usize> {
    let i = usize::try_from(ino.checked_sub(FILE_BASE)?).ok()?;
    (i < MONITOR_FILES.len()).then_some(i)
}

fn file_ino(mon: Monitor) -> Option<u64> {
    let i = MONITOR_FILES.iter().position(|m| *m == mon)?;
    Some(FILE_BASE + i as u64)
}

impl AhaFilesystem {
    fn attr(&self, ino: u64) -> Option<FileAttr> {
        let (kind, perm, nlink) = match ino {
            ROOT | NET | FACTORY => (FileType::Directory, 0o500, 2),
            i if file_index(i).is_some() => (FileType::RegularFile, 0o600, 1),
            _ => return None,
        };
        let t = SystemTime::UNIX_EPOCH;
        Some(FileAttr {
            ino: INodeNo(ino),
            size: 0,
            blocks: 0,
            atime: t,
            mtime: t,
            ctime: t,
            crtime: t,
            kind,
            perm,
            nlink,
            uid: self.shared.uid,
            gid: self.shared.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        })
    }

    fn child(parent: u64, name: &OsStr) -> Option<u64> {
        let name = name.to_str()?;
        match (parent, name) {
            (ROOT, "net") => Some(NET),
            (NET, FACTORY_DIR) => Some(FACTORY),
            (FACTORY, n) => file_ino(monitor_of_file(n)?),
            _ => None,
        }
    }

    fn new_open(&self, ino: u64) -> Option<u64> {
        let mon = *MONITOR_FILES.get(file_index(ino)?)?;
        let mut st = self.shared.lock();
        st.next_fh += 1;
        let fh = st.next_fh;
        st.open.insert(
            fh,
            Open {
                sub: Subscription::new(mon, self.shared.tz.clone()),
                parked: VecDeque::new(),
                poll: None,
            },
        );
        Some(fh)
    }
}

/// Monitor files are streams: no page cache, no seeking.
fn stream_flags() -> FopenFlags {
    FopenFlags::FOPEN_DIRECT_IO | FopenFlags::FOPEN_NONSEEKABLE
}

impl Filesystem for AhaFilesystem {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match Self::child(parent.0, name).and_then(|i| self.attr(i)) {
            Some(a) => reply.entry(&TTL, &a, Generation(0)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.attr(ino.0) {
            Some(a) => reply.attr(&TTL, &a),
            None => reply.error(Errno::ENOENT),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        _size: Option<u64>,
        _atime: Option<fuser::TimeOrNow>,
        _mtime: Option<fuser::TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        // O_TRUNC on a monitor file: nothing to truncate.
        match self.attr(ino.0) {
            Some(a) => reply.attr(&TTL, &a),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let mut entries: Vec<(u64, FileType, String)> = vec![
            (ino.0, FileType::Directory, ".".into()),
            (ROOT, FileType::Directory, "..".into()),
        ];
        match ino.0 {
            ROOT => entries.push((NET, FileType::Directory, "net".into())),
            NET => entries.push((FACTORY, FileType::Directory, FACTORY_DIR.into())),
            FACTORY => {
                for (i, m) in MONITOR_FILES.iter().enumerate() {
                    entries.push((
                        FILE_BASE + i as u64,
                        FileType::RegularFile,
                        format!("{}.mon", m.name()),
                    ));
                }
            }
            _ => return reply.error(Errno::ENOTDIR),
        }
        for (i, (ino, kind, name)) in entries.iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(*ino), i as u64 + 1, *kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.new_open(ino.0) {
            Some(fh) => reply.opened(FileHandle(fh), stream_flags()),
            None if self.attr(ino.0).is_some() => reply.opened(FileHandle(0), FopenFlags::empty()),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        // Only the monitor files exist; "creating" one opens it.
        let Some(ino) = Self::child(parent.0, name).filter(|i| file_index(*i).is_some()) else {
            return reply.error(Errno::EACCES);
        };
        match (self.attr(ino), self.new_open(ino)) {
            (Some(a), Some(fh)) => {
                reply.created(&TTL, &a, Generation(0), FileHandle(fh), stream_flags());
            }
            _ => reply.error(Errno::ENOENT),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        // The lock is held until the reply is sent (as in read and poll).
        let mut st = self.shared.lock();
        let written = st
            .open_file(fh)
            .and_then(|open| open.sub.write_spec(data).map_err(|_| Errno::EINVAL));
        match written {
            Ok(()) => reply.written(u32::try_from(data.len()).unwrap_or(u32::MAX)),
            Err(e) => reply.error(e),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _offset: u64,
        size: u32,
        flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let mut st = self.shared.lock();
        let open = match st.open_file(fh) {
            Ok(open) => open,
            Err(e) => return reply.error(e),
        };
        let Some(spec) = open.sub.spec().copied() else {
            return reply.error(Errno::EINVAL);
        };
        if open.sub.readable() || open.sub.finished() {
            let data = open.sub.take(size as usize);
            return reply.data(&data);
        }
        if spec.wait == WaitType::InSelect || flags.0 & libc::O_NONBLOCK != 0 {
            return reply.error(Errno::EAGAIN);
        }
        open.parked.push_back(Parked { reply, size });
    }

    #[allow(clippy::too_many_arguments)]
    fn poll(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        ph: PollNotifier,
        _events: PollEvents,
        flags: PollFlags,
        reply: ReplyPoll,
    ) {
        let mut st = self.shared.lock();
        let ready = st.open_file(fh).map(|open| {
            let mut ev = PollEvents::POLLOUT | PollEvents::POLLWRNORM;
            if open.sub.readable() || open.sub.finished() {
                ev |= PollEvents::POLLIN | PollEvents::POLLRDNORM;
            } else if flags.contains(PollFlags::FUSE_POLL_SCHEDULE_NOTIFY) {
                open.poll = Some(ph);
            }
            ev
        });
        match ready {
            Ok(ev) => reply.poll(ev),
            Err(e) => reply.error(e),
        }
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.shared.lock().open.remove(&fh.0);
        reply.ok();
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }
}
