//! Files opened for appending and reopened on SIGHUP.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{Level, LineSink, SinkError};

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
}

fn open_append(path: &Path) -> Result<File, SinkError> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| SinkError::io(format!("open {}", path.display()), e))
}

impl AppendFile {
    /// Opens (creating if needed) `path` for appending.
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub fn open(path: impl Into<PathBuf>, reopen: Arc<AtomicBool>) -> Result<Self, SinkError> {
        let path = path.into();
        let file = open_append(&path)?;
        Ok(AppendFile {
            out: BufWriter::with_capacity(64 * 1024, file),
            path,
            reopen,
        })
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reopens the file now if the flag is set.
    ///
    /// # Errors
    /// When flushing the old file or opening the new one fails.
    pub fn check_reopen(&mut self) -> Result<(), SinkError> {
        if self.reopen.swap(false, Ordering::AcqRel) {
            self.flush_buf()?;
            let file = open_append(&self.path)?;
            self.out = BufWriter::with_capacity(64 * 1024, file);
        }
        Ok(())
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
    pub fn open(path: impl Into<PathBuf>, reopen: Arc<AtomicBool>) -> Result<Self, SinkError> {
        AppendFile::open(path, reopen).map(BinaryFile)
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
