//! Daemon support: detaching from the terminal and the pid file.
//!
//! Running in the foreground under systemd is the preferred deployment;
//! [`daemonize`] exists for `ipmon -D`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{chdir, dup2_stderr, dup2_stdin, dup2_stdout, fork, setsid, ForkResult};

/// Errors of daemon setup.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A system call failed.
    #[error("{what}: {source}")]
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
/// lives, so that a second instance fails at once. Removed on drop.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    lock: Flock<File>,
}

impl PidFile {
    /// Creates (or takes over a stale) pid file at `path`, locks it and writes
    /// this process's pid.
    ///
    /// # Errors
    /// [`DaemonError::AlreadyRunning`] when another process holds the lock;
    /// [`DaemonError::Sys`] when the file cannot be opened or written.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, DaemonError> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(&path)
            .map_err(|source| DaemonError::Sys {
                what: "open pid file",
                source,
            })?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err((_, nix::Error::EWOULDBLOCK)) => {
                let pid = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
                return Err(DaemonError::AlreadyRunning { path, pid });
            }
            Err((_, e)) => return Err(sys("flock pid file")(e)),
        };
        let write = |f: &mut File| -> io::Result<()> {
            f.set_len(0)?;
            writeln!(f, "{}", std::process::id())?;
            f.sync_data()
        };
        write(&mut lock).map_err(|source| DaemonError::Sys {
            what: "write pid file",
            source,
        })?;
        Ok(PidFile { path, lock })
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

impl Drop for PidFile {
    fn drop(&mut self) {
        // Remove while still holding the lock, so no other instance sees a
        // file we are about to delete. Errors here cannot be reported.
        let _ = std::fs::remove_file(&self.path);
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
}
