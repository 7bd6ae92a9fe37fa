//! An exporter's position in the journal, kept durably in the state
//! directory: the last journal sequence number the other side acknowledged
//! (every record up to it is acknowledged or was not to be exported), and
//! the identity of the journal it refers to
//! ([`crate::journal::Reader::created_ns`]).
//!
//! The file (`STATE_DIR/export-<name>.position`, mode 0600) is one line,
//! `v1 <journal created_ns> <seq>`. It is replaced atomically: written to
//! `<file>.tmp` (created with `O_EXCL | O_NOFOLLOW`), synced, renamed over
//! the old one, and the directory synced; a crash leaves the old or the new
//! position, never a torn one. The state directory must be a real directory
//! owned by this user and not writable by group or others, so nobody else
//! can plant a link there.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A position in one journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// The journal's `created_ns` (its identity), when known.
    pub journal: Option<i64>,
    /// The last sequence number done (acknowledged or not exported).
    pub seq: u64,
}

/// Errors of the position file.
#[derive(Debug, thiserror::Error)]
pub enum PositionError {
    /// Reading or writing failed.
    #[error("{path}: {error}", path = .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        error: io::Error,
    },
    /// The file is not a position this code wrote.
    #[error("{path}: not a position file ({why})", path = .path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The directory is not safe to write in as root.
    #[error("{path}: {why}", path = .path.display())]
    UnsafeDir {
        /// The directory.
        path: PathBuf,
        /// Why not.
        why: String,
    },
}

/// The position file of one exporter.
#[derive(Debug, Clone)]
pub struct PositionFile {
    dir: PathBuf,
    path: PathBuf,
}

impl PositionFile {
    /// The position file `export-<name>.position` in `state_dir`.
    #[must_use]
    pub fn new(state_dir: &Path, name: &str) -> PositionFile {
        PositionFile {
            dir: state_dir.to_path_buf(),
            path: state_dir.join(format!("export-{name}.position")),
        }
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored position; `None` when there is none yet.
    ///
    /// # Errors
    /// [`PositionError::Damaged`] for a file that does not parse; I/O
    /// errors other than a missing file; a symbolic link.
    pub fn load(&self) -> Result<Option<Position>, PositionError> {
        let file = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&self.path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(self.io(error)),
        };
        let mut text = String::new();
        io::Read::read_to_string(&mut io::Read::take(file, 256), &mut text)
            .map_err(|e| self.io(e))?;
        parse(&text)
            .map(Some)
            .map_err(|why| PositionError::Damaged {
                path: self.path.clone(),
                why,
            })
    }

    /// Replaces the stored position with `pos` (see the module docs).
    ///
    /// # Errors
    /// An unsafe state directory; I/O errors (the old position stays).
    pub fn save(&self, pos: Position) -> Result<(), PositionError> {
        self.check_dir()?;
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        // A leftover of a crash between create and rename (unlink removes a
        // link itself, never its target).
        match std::fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(PositionError::Io { path: tmp, error }),
        }
        let io_tmp = |error| PositionError::Io {
            path: tmp.clone(),
            error,
        };
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(io_tmp)?;
        let line = format!("v1 {} {}\n", pos.journal.unwrap_or(0), pos.seq);
        f.write_all(line.as_bytes()).map_err(io_tmp)?;
        f.sync_data().map_err(io_tmp)?;
        drop(f);
        std::fs::rename(&tmp, &self.path).map_err(|e| self.io(e))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|error| PositionError::Io {
                path: self.dir.clone(),
                error,
            })
    }

    fn io(&self, error: io::Error) -> PositionError {
        PositionError::Io {
            path: self.path.clone(),
            error,
        }
    }

    /// The state directory: a real directory, ours, not writable by group
    /// or others.
    fn check_dir(&self) -> Result<(), PositionError> {
        let unsafe_dir = |why: String| PositionError::UnsafeDir {
            path: self.dir.clone(),
            why,
        };
        let md = std::fs::symlink_metadata(&self.dir).map_err(|error| PositionError::Io {
            path: self.dir.clone(),
            error,
        })?;
        if !md.is_dir() {
            return Err(unsafe_dir("not a directory".into()));
        }
        let euid = nix::unistd::geteuid().as_raw();
        if md.uid() != euid {
            return Err(unsafe_dir(format!(
                "owned by uid {}, not by uid {euid}",
                md.uid()
            )));
        }
        if md.mode() & 0o022 != 0 {
            return Err(unsafe_dir(format!(
                "writable by group or others (mode {:o})",
                md.mode() & 0o7777
            )));
        }
        Ok(())
    }
}

fn parse(text: &str) -> Result<Position, String> {
    let mut words = text.split_ascii_whitespace();
    if words.next() != Some("v1") {
        return Err("no v1 header".into());
    }
    let journal: i64 = words
        .next()
        .and_then(|w| w.parse().ok())
        .ok_or("no journal identity")?;
    let seq: u64 = words
        .next()
        .and_then(|w| w.parse().ok())
        .ok_or("no sequence number")?;
    if words.next().is_some() {
        return Err("trailing words".into());
    }
    Ok(Position {
        journal: (journal != 0).then_some(journal),
        seq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        d
    }

    #[test]
    fn round_trip_and_replace() {
        let d = dir();
        let f = PositionFile::new(d.path(), "nats-INETMON");
        assert_eq!(f.load().unwrap(), None);
        let p = Position {
            journal: Some(17),
            seq: 42,
        };
        f.save(p).unwrap();
        assert_eq!(f.load().unwrap(), Some(p));
        let q = Position {
            journal: Some(17),
            seq: 43,
        };
        f.save(q).unwrap();
        assert_eq!(f.load().unwrap(), Some(q));
        let mode = std::fs::metadata(f.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn damaged_is_an_error_not_a_panic() {
        let d = dir();
        let f = PositionFile::new(d.path(), "x");
        for bad in ["", "v2 1 2", "v1 x 2", "v1 1", "v1 1 2 3", "\u{0}\u{ff}"] {
            std::fs::write(f.path(), bad).unwrap();
            assert!(
                matches!(f.load(), Err(PositionError::Damaged { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn refuses_links_and_open_dirs() {
        let d = dir();
        let f = PositionFile::new(d.path(), "x");
        std::os::unix::fs::symlink("/etc/passwd", f.path()).unwrap();
        assert!(matches!(f.load(), Err(PositionError::Io { .. })));
        // A link planted at the temporary name is removed, not followed.
        let mut tmp = f.path().as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::remove_file(f.path()).unwrap();
        std::os::unix::fs::symlink("/nonexistent-target", &tmp).unwrap();
        f.save(Position::default()).unwrap();
        assert_eq!(f.load().unwrap(), Some(Position::default()));
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            f.save(Position::default()),
            Err(PositionError::UnsafeDir { .. })
        ));
    }
}
