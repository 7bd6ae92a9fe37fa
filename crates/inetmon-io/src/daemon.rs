//! Daemon support: detaching from the terminal and the pid file.
//!
//! Running in the foreground under systemd is the preferred deployment;
//! [`daemonize`] exists for `ipmon -D`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{chdir, dup2_stderr, dup2_stdin, dup2_stdout, fork, setsid, ForkResult};

use crate::safe_open::{self, PathError};

/// The pid file's mode, whatever the umask.
pub const PID_FILE_MODE: u32 = 0o644;

/// Errors of daemon setup.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A system call failed (its text is the source, not repeated here).
    #[error("{what}")]
    Sys {
        /// Which step.
        what: &'static str,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// Another process holds the pid file's lock.
    #[error("{path}: another instance is running (pid file is locked{pid})", pid = .pid.map(|p| format!(" by pid {p}")).unwrap_or_default())]
    AlreadyRunning {
        /// The pid file.
        path: PathBuf,
        /// The pid written in it, when readable.
        pid: Option<u32>,
    },
    /// The pid file cannot be opened (or may not be: see
    /// [`crate::safe_open`]).
    #[error("pid file")]
    Open(#[source] PathError),
    /// The pid file cannot be locked or written.
    #[error("pid file {path}: {step}", path = .path.display())]
    Write {
        /// The pid file.
        path: PathBuf,
        /// `lock` or `write`.
        step: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
}

fn sys(what: &'static str) -> impl FnOnce(nix::Error) -> DaemonError {
    move |e| DaemonError::Sys {
        what,
        source: io::Error::from(e),
    }
}

/// Detaches the process: fork, `setsid`, fork again (so it can never regain a
/// controlling terminal), `chdir("/")`, and stdin/stdout/stderr to
/// `/dev/null`. Returns in the grandchild only; the parents exit with 0.
///
/// **Call it before starting any thread** (producers, the resolver, a signal
/// thread): `fork` copies only the calling thread, so threads started before
/// would be missing in the daemon, and locks they held would stay locked.
///
/// # Errors
/// When a step fails; the process may then be half-detached and should exit.
pub fn daemonize() -> Result<(), DaemonError> {
    // SAFETY: the caller guarantees that no other thread exists, so the child
    // is a complete copy of the process.
    match unsafe { fork() }.map_err(sys("fork"))? {
        ForkResult::Parent { .. } => std::process::exit(0),
        ForkResult::Child => {}
    }
    setsid().map_err(sys("setsid"))?;
    // SAFETY: still single-threaded, as above.
    match unsafe { fork() }.map_err(sys("fork"))? {
        ForkResult::Parent { .. } => std::process::exit(0),
        ForkResult::Child => {}
    }
    chdir("/").map_err(sys("chdir /"))?;
    let null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|source| DaemonError::Sys {
            what: "open /dev/null",
            source,
        })?;
    dup2_stdin(&null).map_err(sys("dup2 stdin"))?;
    dup2_stdout(&null).map_err(sys("dup2 stdout"))?;
    dup2_stderr(&null).map_err(sys("dup2 stderr"))?;
    Ok(())
}

/// A pid file locked with `flock(LOCK_EX|LOCK_NB)` for as long as this value
/// lives, so that a second instance fails at once. Removed on drop, if it
/// is still the file this process opened.
#[derive(Debug)]
pub struct PidFile {
    /// The path as given.
    path: PathBuf,
    /// The same file by an absolute path without links, for removal.
    resolved: PathBuf,
    lock: Flock<File>,
}

impl PidFile {
    /// Creates (or takes over a stale) pid file at `path`, locks it and writes
    /// this process's pid.
    ///
    /// The file is opened through [`crate::safe_open`]: a symbolic link, a
    /// directory others may write to without the sticky bit, or a file or
    /// directory another user owns is refused. A new file is created with
    /// `O_EXCL` and mode 0644 (whatever the umask); an existing one must be
    /// a regular file with one link, and gets mode 0644 too.
    ///
    /// # Errors
    /// [`DaemonError::AlreadyRunning`] when another process holds the lock;
    /// [`DaemonError::Open`] when the path is refused or cannot be opened;
    /// [`DaemonError::Write`] when it cannot be locked or written.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, DaemonError> {
        let path = path.as_ref().to_path_buf();
        let (file, resolved) = open_pid_file(&path)?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err((_, nix::Error::EWOULDBLOCK)) => {
                let pid = std::fs::read_to_string(&resolved)
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
                return Err(DaemonError::AlreadyRunning { path, pid });
            }
            Err((_, e)) => {
                return Err(DaemonError::Write {
                    path,
                    step: "lock",
                    source: e.into(),
                })
            }
        };
        let write = |f: &mut File| -> io::Result<()> {
            f.set_len(0)?;
            writeln!(f, "{}", std::process::id())?;
            f.sync_data()
        };
        write(&mut lock).map_err(|source| DaemonError::Write {
            path: path.clone(),
            step: "write",
            source,
        })?;
        Ok(PidFile {
            path,
            resolved,
            lock,
        })
    }

    /// The pid file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The locked file descriptor (for tests and diagnostics).
    #[must_use]
    pub fn raw_fd(&self) -> i32 {
        self.lock.as_raw_fd()
    }
}

/// A new pid file (`O_EXCL`, mode 0644), or else the existing one (a stale
/// file, or a running instance's, which the lock then finds).
fn open_pid_file(path: &Path) -> Result<(File, PathBuf), DaemonError> {
    // Twice at most: the existing file may vanish between the two opens
    // (an instance exiting).
    for _ in 0..2 {
        match safe_open::create_exclusive(path, PID_FILE_MODE) {
            Ok(opened) => return Ok(opened),
            Err(e) if e.io_kind() == Some(io::ErrorKind::AlreadyExists) => {}
            Err(e) => return Err(DaemonError::Open(e)),
        }
        match safe_open::open_existing(path) {
            Ok((file, resolved)) => {
                use std::os::unix::fs::PermissionsExt;
                file.set_permissions(std::fs::Permissions::from_mode(PID_FILE_MODE))
                    .map_err(|source| {
                        DaemonError::Open(PathError::Io {
                            path: path.to_owned(),
                            source,
                        })
                    })?;
                return Ok((file, resolved));
            }
            Err(e) if e.io_kind() == Some(io::ErrorKind::NotFound) => {}
            Err(e) => return Err(DaemonError::Open(e)),
        }
    }
    Err(DaemonError::Open(PathError::Io {
        path: path.to_owned(),
        source: io::Error::other("created and removed again while opening"),
    }))
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Remove while still holding the lock, so no other instance sees a
        // file we are about to delete; and only if the name is still ours
        // (someone may have replaced it). Errors here cannot be reported.
        if safe_open::is_same_file(&self.resolved, &self.lock) {
            let _ = std::fs::remove_file(&self.resolved);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_instance_fails_and_drop_removes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ipmon.pid");
        let first = PidFile::create(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n", std::process::id()));
        // flock locks belong to the open file description, so a second open
        // in the same process conflicts just like another process would.
        match PidFile::create(&path) {
            Err(DaemonError::AlreadyRunning { pid, .. }) => {
                assert_eq!(pid, Some(std::process::id()));
            }
            other => panic!("expected AlreadyRunning, got {other:?}"),
        }
        drop(first);
        assert!(!path.exists());
        let again = PidFile::create(&path).unwrap();
        drop(again);
    }

    #[test]
    fn stale_file_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stale.pid");
        std::fs::write(&path, "999999999\nold junk\n").unwrap();
        let pf = PidFile::create(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        drop(pf);
    }

    #[test]
    fn errors_name_the_path_and_a_replaced_file_stays() {
        let e = PidFile::create("/nonexistent/x.pid").unwrap_err();
        let mut chain = e.to_string();
        let mut next = std::error::Error::source(&e);
        while let Some(s) = next {
            chain = format!("{chain}: {s}");
            next = s.source();
        }
        assert_eq!(
            chain,
            "pid file: /nonexistent/x.pid: No such file or directory (os error 2)"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        let pf = PidFile::create(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "someone else's\n").unwrap();
        drop(pf);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "someone else's\n");
    }
}
