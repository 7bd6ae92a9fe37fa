//! Opening paths for writing without being tricked by another user.
//!
//! inetmon runs as root, and its output paths (`-P` pid file, `-B` binary
//! log, the text output file, `monitor --write`) often live in shared
//! directories such as `/tmp` or `/var/log`. Another user who can create
//! names there could plant a symbolic link to `/etc/shadow` and have root
//! truncate or append to it. Every open for writing therefore goes through
//! this module, which:
//!
//! 1. resolves the directory part of the path one component at a time and
//!    refuses it unless every directory on the way is owned by root or by
//!    this process's effective user, and is not writable by others unless
//!    it has the sticky bit (`/tmp` is fine, a `0777` directory is not);
//!    a symbolic link on the way is followed only if root or this user owns
//!    it (`/var/run` → `/run` is fine, a link planted in `/tmp` is not).
//!    With every directory on the way writable only by trusted users,
//!    nobody else can change what the path means between the check and the
//!    open;
//! 2. opens the last component with `O_NOFOLLOW`, so a symbolic link there
//!    is refused, and `O_EXCL` when a new file is meant;
//! 3. checks what it opened: an existing file must be owned by root or this
//!    user, and a regular file must have one link (no hard link to a file
//!    elsewhere). Devices (`/dev/null`, `/dev/full`) are allowed.
//!
//! Files it creates get mode `0644` less the umask: never wider than
//! `0644`. Every error names the path once.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// The widest mode of a file this module creates (the umask narrows it).
pub const MAX_MODE: u32 = 0o644;

/// How many symbolic links a path may go through (as the kernel's
/// `MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

/// Why a path was not opened. Each message names the path once; an I/O
/// error's text is its [`std::error::Error::source`], not repeated here.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// The last component is a symbolic link.
    #[error("{path}: is a symbolic link (refusing to follow it)", path = .path.display())]
    Symlink {
        /// The path as given.
        path: PathBuf,
    },
    /// A symbolic link on the way that someone else owns.
    #[error("{path}: symbolic link {link} is owned by uid {uid} (refusing to follow it)", path = .path.display(), link = .link.display())]
    ForeignLink {
        /// The path as given.
        path: PathBuf,
        /// The link.
        link: PathBuf,
        /// Its owner.
        uid: u32,
    },
    /// A directory on the way that others may write to, without the sticky
    /// bit.
    #[error("{path}: directory {dir} is writable by others and not sticky", path = .path.display(), dir = .dir.display())]
    OpenDirectory {
        /// The path as given.
        path: PathBuf,
        /// The directory.
        dir: PathBuf,
    },
    /// A directory on the way that someone else owns.
    #[error("{path}: directory {dir} is owned by uid {uid}, not by root or this user", path = .path.display(), dir = .dir.display())]
    ForeignDirectory {
        /// The path as given.
        path: PathBuf,
        /// The directory.
        dir: PathBuf,
        /// Its owner.
        uid: u32,
    },
    /// The file exists and someone else owns it.
    #[error("{path}: owned by uid {uid}, not by root or this user", path = .path.display())]
    ForeignFile {
        /// The path as given.
        path: PathBuf,
        /// Its owner.
        uid: u32,
    },
    /// A regular file with more than one name.
    #[error("{path}: has {links} hard links", path = .path.display())]
    HardLinked {
        /// The path as given.
        path: PathBuf,
        /// Its link count.
        links: u64,
    },
    /// Not a regular file where only a regular file will do (a pid file).
    #[error("{path}: not a regular file", path = .path.display())]
    NotRegular {
        /// The path as given.
        path: PathBuf,
    },
    /// The path names no file (it ends in `/` or `..`).
    #[error("{path}: not a file name", path = .path.display())]
    NoFileName {
        /// The path as given.
        path: PathBuf,
    },
    /// A system call failed.
    #[error("{path}", path = .path.display())]
    Io {
        /// The path as given.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl PathError {
    /// The path the error is about, as given.
    #[must_use]
    pub fn path(&self) -> &Path {
        match self {
            PathError::Symlink { path }
            | PathError::ForeignLink { path, .. }
            | PathError::OpenDirectory { path, .. }
            | PathError::ForeignDirectory { path, .. }
            | PathError::ForeignFile { path, .. }
            | PathError::HardLinked { path, .. }
            | PathError::NotRegular { path }
            | PathError::NoFileName { path }
            | PathError::Io { path, .. } => path,
        }
    }

    /// The I/O error kind, for an [`PathError::Io`].
    #[must_use]
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            PathError::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

/// How to open the last component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `O_APPEND | O_CREAT`.
    Append,
    /// `O_TRUNC | O_CREAT`.
    Truncate,
    /// `O_CREAT | O_EXCL`, read-write.
    Exclusive,
    /// An existing regular file, read-write, not truncated.
    Existing,
}

/// Opens `path` for appending, creating it (mode `0644` less the umask)
/// when it does not exist.
///
/// # Errors
/// When the path is unsafe (see the module documentation) or the open
/// fails.
pub fn open_append(path: &Path) -> Result<File, PathError> {
    open(path, Mode::Append).map(|(f, _)| f)
}

/// Opens `path` for writing from the start, truncating an existing file or
/// creating a new one (mode `0644` less the umask).
///
/// # Errors
/// As for [`open_append`].
pub fn open_truncate(path: &Path) -> Result<File, PathError> {
    open(path, Mode::Truncate).map(|(f, _)| f)
}

/// Creates `path` read-write, failing if any file (or link) of that name
/// exists, and sets its mode to exactly `mode` (whatever the umask). Also
/// returns the symlink-free absolute path of the new file.
///
/// # Errors
/// As for [`open_append`]; a name that exists is an [`PathError::Io`] of
/// kind [`io::ErrorKind::AlreadyExists`].
pub fn create_exclusive(path: &Path, mode: u32) -> Result<(File, PathBuf), PathError> {
    let (file, resolved) = open(path, Mode::Exclusive)?;
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io_err(path))?;
    Ok((file, resolved))
}

/// Opens an existing regular file read-write, without truncating it (a
/// stale pid file to take over). Also returns its symlink-free absolute
/// path.
///
/// # Errors
/// As for [`open_append`]; anything but a regular file is
/// [`PathError::NotRegular`].
pub fn open_existing(path: &Path) -> Result<(File, PathBuf), PathError> {
    open(path, Mode::Existing)
}

/// The symlink-free absolute form of `path` whose directories have all
/// been checked as for [`open_append`] (the last component is not looked
/// at): where to create something that is not a regular file (the
/// daemon's unix socket) without following a link another user planted.
///
/// # Errors
/// As for [`open_append`].
pub fn trusted_path(path: &Path) -> Result<PathBuf, PathError> {
    let (dir, name) = resolve_dir(path)?;
    Ok(dir.join(name))
}

/// Creates the directory `path` with `mode` (less the umask) unless it
/// exists, checking every directory on the way as [`open_append`] does,
/// and checks it as one of them afterwards (owned by root or this user,
/// not writable by others unless sticky). Returns its symlink-free path.
///
/// # Errors
/// As for [`open_append`]; an existing non-directory is an
/// [`PathError::Io`] (`ENOTDIR`).
pub fn create_dir(path: &Path, mode: u32) -> Result<PathBuf, PathError> {
    let full = trusted_path(path)?;
    match fs::DirBuilder::new().mode(mode).create(&full) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err(path)(e)),
    }
    let meta = fs::symlink_metadata(&full).map_err(io_err(path))?;
    if meta.file_type().is_symlink() {
        return Err(PathError::Symlink {
            path: path.to_owned(),
        });
    }
    if !meta.is_dir() {
        return Err(io_err(path)(io::Error::from_raw_os_error(libc::ENOTDIR)));
    }
    check_dir(path, &full)?;
    Ok(full)
}

/// Whether `path` (not following a final symbolic link) is still the file
/// open as `file`: same device and inode. Used before removing a pid file,
/// so that a file someone put in its place stays.
#[must_use]
pub fn is_same_file(path: &Path, file: &File) -> bool {
    match (fs::symlink_metadata(path), file.metadata()) {
        (Ok(p), Ok(f)) => p.dev() == f.dev() && p.ino() == f.ino(),
        _ => false,
    }
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> PathError + '_ {
    move |source| PathError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Whether `uid` may control our files: root or ourselves.
fn trusted(uid: u32) -> bool {
    uid == 0 || uid == nix::unistd::geteuid().as_raw()
}

fn open(path: &Path, mode: Mode) -> Result<(File, PathBuf), PathError> {
    let (dir, name) = resolve_dir(path)?;
    let full = dir.join(&name);
    let mut opts = OpenOptions::new();
    opts.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(MAX_MODE);
    match mode {
        Mode::Append => opts.append(true).create(true),
        Mode::Truncate => opts.write(true).truncate(true).create(true),
        Mode::Exclusive => opts.read(true).write(true).create_new(true),
        Mode::Existing => opts.read(true).write(true),
    };
    let file = opts.open(&full).map_err(|e| {
        // O_NOFOLLOW on a symbolic link fails with ELOOP, or EACCES for
        // another user's link in a sticky directory: either way the link is
        // the reason to give. (O_EXCL fails with EEXIST for a link, which is
        // the answer wanted there.)
        let is_link = fs::symlink_metadata(&full).is_ok_and(|m| m.file_type().is_symlink());
        if is_link && mode != Mode::Exclusive {
            PathError::Symlink {
                path: path.to_owned(),
            }
        } else {
            io_err(path)(e)
        }
    })?;
    let meta = file.metadata().map_err(io_err(path))?;
    let ft = meta.file_type();
    let device = ft.is_char_device() || ft.is_block_device();
    if !device && !trusted(meta.uid()) {
        return Err(PathError::ForeignFile {
            path: path.to_owned(),
            uid: meta.uid(),
        });
    }
    if ft.is_file() && meta.nlink() > 1 {
        return Err(PathError::HardLinked {
            path: path.to_owned(),
            links: meta.nlink(),
        });
    }
    if mode == Mode::Existing && !ft.is_file() {
        return Err(PathError::NotRegular {
            path: path.to_owned(),
        });
    }
    Ok((file, full))
}

/// Resolves the directory part of `path` (made absolute against the
/// current directory) into a path without symbolic links, checking every
/// directory and link on the way; returns it with the last component.
fn resolve_dir(path: &Path) -> Result<(PathBuf, OsString), PathError> {
    let name = match path.components().next_back() {
        Some(Component::Normal(n)) => n.to_owned(),
        _ => {
            return Err(PathError::NoFileName {
                path: path.to_owned(),
            })
        }
    };
    let absolute = std::path::absolute(path).map_err(io_err(path))?;
    let parent = absolute.parent().unwrap_or(Path::new("/"));
    let mut resolved = PathBuf::from("/");
    check_dir(path, &resolved)?;
    let mut pending: VecDeque<OsString> = normal_parts(parent);
    let mut links = 0;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            // `resolved` has no links, so its parent is lexical, and was
            // checked on the way down.
            resolved.pop();
            continue;
        }
        let next = resolved.join(&part);
        let meta = fs::symlink_metadata(&next).map_err(io_err(path))?;
        if meta.file_type().is_symlink() {
            if !trusted(meta.uid()) {
                return Err(PathError::ForeignLink {
                    path: path.to_owned(),
                    link: next,
                    uid: meta.uid(),
                });
            }
            links += 1;
            if links > MAX_LINKS {
                return Err(io_err(path)(io::Error::from_raw_os_error(libc::ELOOP)));
            }
            let target = fs::read_link(&next).map_err(io_err(path))?;
            if target.is_absolute() {
                resolved = PathBuf::from("/");
            }
            let mut parts = normal_parts(&target);
            parts.extend(pending);
            pending = parts;
        } else if meta.is_dir() {
            check_dir(path, &next)?;
            resolved = next;
        } else {
            return Err(io_err(path)(io::Error::from_raw_os_error(libc::ENOTDIR)));
        }
    }
    Ok((resolved, name))
}

/// The components of `p` other than `/` and `.`, with `..` kept.
fn normal_parts(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// A directory (already known not to be a link) must be owned by a trusted
/// user and not writable by others unless sticky.
fn check_dir(path: &Path, dir: &Path) -> Result<(), PathError> {
    let meta = fs::symlink_metadata(dir).map_err(io_err(path))?;
    if !trusted(meta.uid()) {
        return Err(PathError::ForeignDirectory {
            path: path.to_owned(),
            dir: dir.to_owned(),
            uid: meta.uid(),
        });
    }
    let m = meta.mode();
    if m & 0o002 != 0 && m & 0o1000 == 0 {
        return Err(PathError::OpenDirectory {
            path: path.to_owned(),
            dir: dir.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private_dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn appends_and_creates_at_most_0644() {
        let d = private_dir();
        let p = d.path().join("out.log");
        let mut f = open_append(&p).unwrap();
        std::io::Write::write_all(&mut f, b"a").unwrap();
        drop(f);
        let mut f = open_append(&p).unwrap();
        std::io::Write::write_all(&mut f, b"b").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"ab");
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o022, 0);
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o133, 0);
    }

    #[test]
    fn final_symlink_is_refused_even_our_own() {
        let d = private_dir();
        let target = d.path().join("target");
        fs::write(&target, "keep").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        for r in [
            open_append(&link).map(|_| ()),
            open_truncate(&link).map(|_| ()),
            open_existing(&link).map(|_| ()),
        ] {
            let e = r.unwrap_err();
            assert!(matches!(e, PathError::Symlink { .. }), "{e:?}");
            assert_eq!(
                e.to_string(),
                format!(
                    "{}: is a symbolic link (refusing to follow it)",
                    link.display()
                )
            );
        }
        let e = create_exclusive(&link, 0o644).unwrap_err();
        assert_eq!(e.io_kind(), Some(io::ErrorKind::AlreadyExists), "{e:?}");
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
    }

    #[test]
    fn open_directory_is_refused_sticky_is_not() {
        let d = private_dir();
        let open = d.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let e = open_append(&open.join("x")).unwrap_err();
        assert!(matches!(e, PathError::OpenDirectory { .. }), "{e:?}");
        // Further down, the open directory is still on the way.
        let sub = open.join("sub");
        fs::create_dir(&sub).unwrap();
        let e = open_append(&sub.join("x")).unwrap_err();
        assert!(matches!(e, PathError::OpenDirectory { .. }), "{e:?}");
        fs::set_permissions(&open, fs::Permissions::from_mode(0o1777)).unwrap();
        open_append(&open.join("x")).unwrap();
    }

    #[test]
    fn our_own_directory_links_and_dotdot_resolve() {
        let d = private_dir();
        let real = d.path().join("real");
        fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink("real", d.path().join("rel")).unwrap();
        let p = d.path().join("rel").join("..").join("real").join("f");
        let (_, resolved) = create_exclusive(&p, 0o644).unwrap();
        assert_eq!(resolved, fs::canonicalize(&real).unwrap().join("f"));
        let p = d.path().join("rel").join("g");
        open_append(&p).unwrap();
        assert!(real.join("g").exists());
    }

    #[test]
    fn hard_links_and_non_files_are_refused() {
        let d = private_dir();
        let a = d.path().join("a");
        fs::write(&a, "").unwrap();
        fs::hard_link(&a, d.path().join("b")).unwrap();
        let e = open_append(&a).unwrap_err();
        assert_eq!(e.to_string(), format!("{}: has 2 hard links", a.display()));
        let e = open_existing(Path::new("/dev/null")).unwrap_err();
        assert!(matches!(e, PathError::NotRegular { .. }), "{e:?}");
        open_append(Path::new("/dev/null")).unwrap();
    }

    #[test]
    fn errors_name_the_path_once() {
        let e = open_append(Path::new("/nonexistent/x.log")).unwrap_err();
        assert_eq!(e.to_string(), "/nonexistent/x.log");
        assert_eq!(e.io_kind(), Some(io::ErrorKind::NotFound));
        let e = open_append(Path::new("/")).unwrap_err();
        assert_eq!(e.to_string(), "/: not a file name");
        let d = private_dir();
        let e = open_append(d.path()).unwrap_err();
        assert_eq!(e.io_kind(), Some(io::ErrorKind::IsADirectory), "{e:?}");
    }

    #[test]
    fn same_file_tracks_replacement() {
        let d = private_dir();
        let p = d.path().join("pid");
        let (f, _) = create_exclusive(&p, 0o644).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o644);
        assert!(is_same_file(&p, &f));
        fs::remove_file(&p).unwrap();
        fs::write(&p, "other").unwrap();
        assert!(!is_same_file(&p, &f));
    }
}
