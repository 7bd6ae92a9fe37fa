//! The journal: every event the daemon collects, stored in SQLite (WAL
//! mode) under the state directory, so that `inetmon journal query` and
//! `inetmon audit` can print it later in the usual formats.
//!
//! - [`Journal`] is the one writer: [`Journal::append`] stores one batch in
//!   one transaction; [`Journal::tick`] syncs (mode `interval`) and applies
//!   retention; [`Journal::close`] marks a clean stop.
//! - [`JournalThread`] runs a [`Journal`] on its own thread, fed batches
//!   over a bounded channel (a full channel gives the batch back to be
//!   counted as lost): the daemon pipeline's journal sink.
//! - [`Reader`] queries ([`Filter`]) and verifies ([`Reader::verify`]); any
//!   number of readers may run beside the writer.
//!
//! The schema, what each [`SyncMode`] guarantees, and how to read the file
//! by hand with `sqlite3` are in `docs/journal.md`.
//!
//! A writer takes an exclusive `flock` on `journal.lock` (a second writer
//! fails at once) and sets `writer_open = 1` in the `meta` table; a clean
//! close sets it back to 0. A writer that finds it still 1 knows the last
//! one stopped uncleanly (crash, `kill -9`, power loss) and first writes a
//! [`Gap`] record from the last committed batch's time to its own start,
//! so that the hole is visible to every reader.

mod query;
mod schema;
mod tail;
mod thread;
mod writer;

use std::path::PathBuf;
use std::time::Duration;

use inetmon_core::event::{Event, Timestamp};
use serde::{Deserialize, Serialize};

pub use query::{Filter, Reader, VerifyReport};
pub use schema::{DB_FILE, LOCK_FILE, SCHEMA_VERSION};
pub use tail::{Stored, Tail};
pub use thread::JournalThread;
pub use writer::{Committed, Journal};

/// When committed events reach the disk (`[journal] sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// Every batch's commit is synced (`fsync` of the WAL) before
    /// [`Journal::append`] returns: an event is durable before the next
    /// batch is taken, even across power loss.
    Always,
    /// Commits are not synced one by one; [`Journal::tick`] syncs the WAL
    /// when the oldest unsynced commit is `sync_interval` old. On power loss
    /// at most the last `sync_interval` of events (plus the time between
    /// ticks) is lost; a crash of the process alone loses nothing committed.
    #[default]
    Interval,
    /// No syncs: the kernel writes the WAL back when it likes. A crash of the
    /// process loses nothing committed; power loss can lose anything not yet
    /// written back (the database stays consistent).
    Never,
}

impl SyncMode {
    /// The config name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Always => "always",
            SyncMode::Interval => "interval",
            SyncMode::Never => "never",
        }
    }
}

/// How a writer opens and keeps the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalConfig {
    /// When commits reach the disk.
    pub sync: SyncMode,
    /// For [`SyncMode::Interval`]: the most time an unsynced commit may wait.
    pub sync_interval: Duration,
    /// Delete events older than this (by event time); `None` keeps them.
    pub max_age: Option<Duration>,
    /// Delete the oldest events while the database file is larger than
    /// this many bytes; `None` for no limit.
    pub max_size: Option<u64>,
}

impl JournalConfig {
    /// The defaults with commits reaching the disk as `sync` says.
    #[must_use]
    pub fn with_sync(sync: SyncMode) -> Self {
        JournalConfig {
            sync,
            ..JournalConfig::default()
        }
    }
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            sync: SyncMode::Interval,
            sync_interval: Duration::from_millis(1000),
            max_age: None,
            max_size: None,
        }
    }
}

/// A hole in the journal: the writer was not running (or stopped without
/// closing) from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// The last committed batch before the hole (wall-clock time).
    pub from: Timestamp,
    /// When the next writer started.
    pub to: Timestamp,
    /// Why (absent in records of older writers: an unclean stop).
    #[serde(default)]
    pub cause: GapCause,
}

/// Why nothing was collected during a [`Gap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapCause {
    /// The previous writer stopped without closing (crash, `kill -9`,
    /// power loss).
    #[default]
    Unclean,
    /// The daemon restarted its producers for a new configuration
    /// (SIGHUP).
    Reload,
}

impl GapCause {
    /// The stable name (JSON).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            GapCause::Unclean => "unclean",
            GapCause::Reload => "reload",
        }
    }

    /// Why, in words, for the line formats.
    #[must_use]
    pub fn text(self) -> &'static str {
        match self {
            GapCause::Unclean => "the previous writer stopped uncleanly",
            GapCause::Reload => "the daemon was restarting for a new configuration",
        }
    }
}

/// Kernel drops of one (reason, location, interface) group in the second
/// that starts at `time` (table `drop_counts`; `[drops]` of the daemon).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropCount {
    /// Start of the second (wall clock).
    pub time: Timestamp,
    /// The group.
    pub key: inetmon_core::drop_summary::DropKey,
    /// Drops in that second.
    pub count: u64,
}

/// One stored record: an event or a gap, with its journal sequence number
/// (from 1, one per record, increasing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A stored event.
    Event {
        /// Journal sequence number.
        seq: u64,
        /// The event.
        event: Box<Event>,
    },
    /// A gap record.
    Gap {
        /// Journal sequence number.
        seq: u64,
        /// The hole.
        gap: Gap,
    },
}

impl Record {
    /// The journal sequence number.
    #[must_use]
    pub fn seq(&self) -> u64 {
        match self {
            Record::Event { seq, .. } | Record::Gap { seq, .. } => *seq,
        }
    }
}

/// Errors of the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An SQLite error.
    #[error("journal: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file or directory operation failed.
    #[error("journal: {path}: {error}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What failed.
        error: std::io::Error,
    },
    /// The state directory is not safe to write as root.
    #[error("journal: {path}: {why}")]
    UnsafeDir {
        /// The directory.
        path: PathBuf,
        /// Why not.
        why: String,
    },
    /// Another writer has the journal.
    #[error("journal: {path}: in use by another writer")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// No journal at the path.
    #[error("journal: {path}: no journal here")]
    Missing {
        /// The database file.
        path: PathBuf,
    },
    /// The file has another schema.
    #[error("journal: schema version {found}, this inetmon reads {expected}")]
    Schema {
        /// What the file says.
        found: String,
        /// What this code reads.
        expected: u32,
    },
    /// The writer thread panicked.
    #[error("journal: the writer thread stopped unexpectedly")]
    WriterPanicked,
    /// A stored record does not decode.
    #[error("journal: record {seq}: {why}")]
    Corrupt {
        /// Its sequence number.
        seq: u64,
        /// What is wrong.
        why: String,
    },
}

/// Nanoseconds since the epoch, saturating.
pub(crate) fn ts_ns(t: Timestamp) -> i64 {
    t.secs
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(t.nanos))
}

/// The timestamp of `ns` nanoseconds since the epoch.
pub(crate) fn ns_ts(ns: i64) -> Timestamp {
    Timestamp::from_nanos_parts(0, ns)
}

// The wall clock now, as every producer stamps events.
pub(crate) use crate::pipeline::now;
