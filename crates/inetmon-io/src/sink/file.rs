//! Files opened for appending and reopened on SIGHUP.
//!
//! Both opening and reopening go through [`crate::safe_open`]: no symbolic
//! link is followed and no directory another user controls is trusted. A
//! reopen that fails keeps the file open before (see
//! [`AppendFile::check_reopen`]).

use std::error::Error as _;
use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{Level, LineSink, SinkError};
use crate::safe_open::{self, PathError};

/// A file opened in append mode that is closed and reopened (by path) when
/// its reopen flag is set, so that `logrotate` can rename it and send SIGHUP.
///
/// The flag is checked before each write; give each file its own flag (see
/// [`crate::signals::SignalFlags::reopen_flag`]) because the file clears it.
#[derive(Debug)]
pub struct AppendFile {
    path: PathBuf,
    out: BufWriter<File>,
    reopen: Arc<AtomicBool>,
    /// Whether the last reopen failed (so that a failure is told once, and
    /// the success after it too).
    failing: bool,
    /// What to tell the user, taken by [`AppendFile::take_notice`].
    notice: Option<ReopenNotice>,
}

/// Something about a SIGHUP reopen that the user should hear about: the
/// library does not print, so the sink keeps it until the caller takes it
/// ([`LineSink::take_notice`]).
#[derive(Debug)]
pub enum ReopenNotice {
    /// The path could not be reopened: writing goes on to the file opened
    /// before, and the next SIGHUP tries again. Told once per run of
    /// failures.
    Failed(PathError),
    /// The path was reopened after failing before.
    Recovered(PathBuf),
}

impl fmt::Display for ReopenNotice {
    /// One line: `reopen PATH: REASON; still writing to the file opened
    /// before, retrying at the next SIGHUP`, or `reopened PATH`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReopenNotice::Failed(e) => {
                write!(f, "reopen {e}")?;
                if let Some(source) = e.source() {
                    write!(f, ": {source}")?;
                }
                f.write_str(
                    "; still writing to the file opened before, retrying at the next SIGHUP",
                )
            }
            ReopenNotice::Recovered(path) => write!(f, "reopened {}", path.display()),
        }
    }
}

impl AppendFile {
    /// Opens (creating if needed) `path` for appending.
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub fn open(path: impl Into<PathBuf>, reopen: Arc<AtomicBool>) -> Result<Self, PathError> {
        let path = path.into();
        let file = safe_open::open_append(&path)?;
        Ok(AppendFile {
            out: BufWriter::with_capacity(64 * 1024, file),
            path,
            reopen,
            failing: false,
            notice: None,
        })
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reopens the file now if the flag is set.
    ///
    /// A path that cannot be reopened (it became a directory, a link, a
    /// directory on the way lost its permissions…) is not an error: the
    /// file opened before stays open and in use, a
    /// [`ReopenNotice::Failed`] is kept for the caller (once per run of
    /// failures), and the next SIGHUP tries again; the first success after
    /// failures leaves a [`ReopenNotice::Recovered`].
    ///
    /// # Errors
    /// When flushing the old file fails.
    pub fn check_reopen(&mut self) -> Result<(), SinkError> {
        // A plain load first: this runs for every line written, and a
        // read-modify-write costs a locked instruction each time.
        if self.reopen.load(Ordering::Relaxed) && self.reopen.swap(false, Ordering::AcqRel) {
            self.flush_buf()?;
            match safe_open::open_append(&self.path) {
                Ok(file) => {
                    self.out = BufWriter::with_capacity(64 * 1024, file);
                    if std::mem::take(&mut self.failing) {
                        self.notice = Some(ReopenNotice::Recovered(self.path.clone()));
                    }
                }
                Err(e) => {
                    if !std::mem::replace(&mut self.failing, true) {
                        self.notice = Some(ReopenNotice::Failed(e));
                    }
                }
            }
        }
        Ok(())
    }

    /// The notice left by the last reopen, if any (see
    /// [`AppendFile::check_reopen`]).
    pub fn take_notice(&mut self) -> Option<ReopenNotice> {
        self.notice.take()
    }

    /// Appends raw bytes (after a reopen check).
    ///
    /// # Errors
    /// On I/O errors.
    pub fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        self.check_reopen()?;
        let path = &self.path;
        self.out
            .write_all(bytes)
            .map_err(|e| SinkError::io(format!("write {}", path.display()), e))
    }

    fn flush_buf(&mut self) -> Result<(), SinkError> {
        let path = &self.path;
        self.out
            .flush()
            .map_err(|e| SinkError::io(format!("write {}", path.display()), e))
    }
}

impl LineSink for AppendFile {
    fn write_line(&mut self, line: &str, _level: Level) -> Result<(), SinkError> {
        self.check_reopen()?;
        let path = &self.path;
        let w = |out: &mut BufWriter<File>| {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")
        };
        w(&mut self.out).map_err(|e| SinkError::io(format!("write {}", path.display()), e))
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.flush_buf()
    }

    fn take_notice(&mut self) -> Option<ReopenNotice> {
        AppendFile::take_notice(self)
    }
}

/// `ipmon -B`: raw binary records appended to a file, reopened on SIGHUP
/// like [`AppendFile`], so that the file can be replayed with `-f`.
#[derive(Debug)]
pub struct BinaryFile(AppendFile);

impl BinaryFile {
    /// Opens (creating if needed) `path` for appending.
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub fn open(path: impl Into<PathBuf>, reopen: Arc<AtomicBool>) -> Result<Self, PathError> {
        AppendFile::open(path, reopen).map(BinaryFile)
    }

    /// The notice left by the last reopen, if any (see
    /// [`AppendFile::check_reopen`]).
    pub fn take_notice(&mut self) -> Option<ReopenNotice> {
        self.0.take_notice()
    }

    /// Appends one record's bytes as they were read.
    ///
    /// # Errors
    /// On I/O errors.
    pub fn write_record(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        self.0.write_bytes(bytes)
    }

    /// Pushes buffered bytes to the file.
    ///
    /// # Errors
    /// On I/O errors.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        self.0.flush_buf()
    }
}
