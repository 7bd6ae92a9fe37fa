//! The journal's one writer.

use std::fs::{DirBuilder, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use inetmon_core::event::codec;
use inetmon_core::event::Event;
use nix::fcntl::{Flock, FlockArg};
use rusqlite::{params, Connection, OpenFlags};

use super::schema::{self, key, DB_FILE, LOCK_FILE};
use super::{now, ts_ns, DropCount, Gap, JournalConfig, JournalError, SyncMode};

/// The sequence numbers a committed batch got (inclusive); `None` for an
/// empty batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// First sequence number of the batch.
    pub first: u64,
    /// Last sequence number of the batch.
    pub last: u64,
}

/// The journal, open for writing. See the module docs.
#[derive(Debug)]
pub struct Journal {
    conn: Connection,
    db: PathBuf,
    cfg: JournalConfig,
    next_seq: u64,
    /// The `-wal` file, for `fsync` in [`SyncMode::Interval`].
    wal: Option<File>,
    /// When the oldest commit not yet synced was made.
    unsynced_since: Option<Instant>,
    last_retention: Option<Instant>,
    buf: Vec<u8>,
    gap: Option<Gap>,
    _lock: Flock<File>,
}

impl Journal {
    /// Opens (creating if needed) the journal in `dir` for writing. The
    /// directory is created mode 0750 if missing; it must be a real
    /// directory (not a symlink) owned by the caller and not writable by
    /// group or others. After an unclean stop of the previous writer a
    /// [`Gap`] record is written first ([`Journal::gap`]).
    ///
    /// # Errors
    /// [`JournalError`]: an unsafe directory, another writer, a file of
    /// another schema, SQLite or I/O errors.
    pub fn open(dir: &Path, cfg: JournalConfig) -> Result<Journal, JournalError> {
        safe_dir(dir, true)?;
        let lock_path = dir.join(LOCK_FILE);
        let lock_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&lock_path)
            .map_err(|error| JournalError::Io {
                path: lock_path.clone(),
                error,
            })?;
        let lock = Flock::lock(lock_file, FlockArg::LockExclusiveNonblock)
            .map_err(|_| JournalError::Locked { path: lock_path })?;
        let db = dir.join(DB_FILE);
        let conn = Connection::open_with_flags(
            &db,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NOFOLLOW
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let start = now();
        // Only takes effect on a new, empty file (before the journal mode is
        // set and the tables exist): freed pages can then be returned to the
        // file system by `PRAGMA incremental_vacuum` after retention.
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(
            None,
            "synchronous",
            match cfg.sync {
                SyncMode::Always => "FULL",
                SyncMode::Interval => "NORMAL",
                SyncMode::Never => "OFF",
            },
        )?;
        schema::ensure(&conn, ts_ns(start))?;
        let next_seq: u64 = conn
            .query_row("SELECT coalesce(max(seq), 0) + 1 FROM events", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| u64::try_from(n).unwrap_or(1))?;
        let mut j = Journal {
            conn,
            db,
            cfg,
            next_seq,
            wal: None,
            unsynced_since: None,
            last_retention: None,
            buf: Vec::with_capacity(512),
            gap: None,
            _lock: lock,
        };
        j.start(start)?;
        Ok(j)
    }

    /// Writes the gap record of an unclean stop, and marks the writer open.
    fn start(&mut self, start: super::Timestamp) -> Result<(), JournalError> {
        let unclean = schema::get_meta(&self.conn, key::WRITER_OPEN)?.as_deref() == Some("1");
        let tx = self.conn.unchecked_transaction()?;
        if unclean {
            let last = schema::get_meta(&self.conn, key::LAST_COMMIT_NS)?
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(0);
            let gap = Gap {
                from: super::ns_ts(last),
                to: start,
                cause: super::GapCause::Unclean,
            };
            let text = serde_json::to_string(&GapRow { gap }).unwrap_or_default();
            self.conn
                .prepare_cached(
                    "INSERT INTO events(seq, time_ns, kind, event) VALUES (?1, ?2, 'gap', ?3)",
                )?
                .execute(params![seq_i64(self.next_seq), ts_ns(start), text])?;
            self.next_seq += 1;
            self.gap = Some(gap);
        }
        schema::set_meta(&self.conn, key::WRITER_OPEN, "1")?;
        schema::set_meta(&self.conn, key::LAST_COMMIT_NS, &ts_ns(start).to_string())?;
        tx.commit()?;
        self.synced_commit()?;
        Ok(())
    }

    /// The gap record written at open, if the previous writer stopped
    /// uncleanly.
    #[must_use]
    pub fn gap(&self) -> Option<Gap> {
        self.gap
    }

    /// Stores `batch` in one transaction and returns the sequence numbers it
    /// got. With [`SyncMode::Always`] the batch is on disk when this
    /// returns.
    ///
    /// # Errors
    /// SQLite errors (then nothing of the batch is stored).
    pub fn append(&mut self, batch: &[Event]) -> Result<Option<Committed>, JournalError> {
        if batch.is_empty() {
            return Ok(None);
        }
        let first = self.next_seq;
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut stmt = self.conn.prepare_cached(
                "INSERT INTO events(seq, time_ns, kind, uid, pid, comm, op, result, \
                 laddr, lport, faddr, fport, event) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            for (seq, ev) in (first..).zip(batch) {
                self.buf.clear();
                codec::encode_into(ev, &mut self.buf);
                let text = std::str::from_utf8(&self.buf).unwrap_or_default();
                let f = ev.facts();
                let (laddr, lport) = split_end(f.end1);
                let (faddr, fport) = split_end(f.end2);
                stmt.execute(params![
                    seq_i64(seq),
                    ts_ns(ev.header().time),
                    ev.kind().as_str(),
                    f.uid,
                    f.pid,
                    f.comm,
                    f.op,
                    f.result,
                    laddr,
                    lport,
                    faddr,
                    fport,
                    text,
                ])?;
            }
        }
        schema::set_meta(&self.conn, key::LAST_COMMIT_NS, &ts_ns(now()).to_string())?;
        tx.commit()?;
        self.next_seq = first + batch.len() as u64;
        self.committed()?;
        Ok(Some(Committed {
            first,
            last: self.next_seq - 1,
        }))
    }

    /// Stores a gap record (a hole the writer knows of, such as the moment
    /// the daemon's producers were restarted by a reload) as its own
    /// batch, and returns its sequence number.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn append_gap(&mut self, gap: Gap) -> Result<u64, JournalError> {
        let seq = self.next_seq;
        let tx = self.conn.unchecked_transaction()?;
        let text = serde_json::to_string(&GapRow { gap }).unwrap_or_default();
        self.conn
            .prepare_cached(
                "INSERT INTO events(seq, time_ns, kind, event) VALUES (?1, ?2, 'gap', ?3)",
            )?
            .execute(params![seq_i64(seq), ts_ns(gap.to), text])?;
        schema::set_meta(&self.conn, key::LAST_COMMIT_NS, &ts_ns(now()).to_string())?;
        tx.commit()?;
        self.next_seq += 1;
        self.committed()?;
        Ok(seq)
    }

    /// Stores per-second drop counters (table `drop_counts`) in one
    /// transaction.
    ///
    /// # Errors
    /// SQLite errors (then none of them is stored).
    pub fn append_drop_counts(&mut self, counts: &[DropCount]) -> Result<(), JournalError> {
        if counts.is_empty() {
            return Ok(());
        }
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut stmt = self.conn.prepare_cached(
                "INSERT INTO drop_counts(time_ns, reason, location, interface, count) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for c in counts {
                stmt.execute(params![
                    ts_ns(c.time),
                    c.key.reason,
                    c.key.location,
                    c.key.interface,
                    i64::try_from(c.count).unwrap_or(i64::MAX),
                ])?;
            }
        }
        tx.commit()?;
        self.committed()
    }

    /// After a commit: durable now (`always`) or by the next due sync.
    fn committed(&mut self) -> Result<(), JournalError> {
        match self.cfg.sync {
            SyncMode::Always => self.synced_commit(),
            SyncMode::Interval => {
                self.unsynced_since.get_or_insert_with(Instant::now);
                Ok(())
            }
            SyncMode::Never => Ok(()),
        }
    }

    /// Periodic work; call it at least every `sync_interval` (the daemon's
    /// writer calls it between batches and when idle): syncs the WAL in
    /// [`SyncMode::Interval`] when due, and applies retention at most once
    /// a second.
    ///
    /// # Errors
    /// SQLite or I/O errors.
    pub fn tick(&mut self) -> Result<(), JournalError> {
        if let Some(t) = self.unsynced_since {
            if t.elapsed() >= self.cfg.sync_interval {
                self.sync_wal()?;
            }
        }
        if self
            .last_retention
            .is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(1))
        {
            self.retain()?;
            self.last_retention = Some(Instant::now());
        }
        Ok(())
    }

    /// Syncs everything committed so far to disk.
    ///
    /// # Errors
    /// I/O errors of `fsync`.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.sync_wal()
    }

    /// Deletes events past `max_age` and, while the file is larger than
    /// `max_size`, the oldest events; returns how many were deleted.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn retain(&mut self) -> Result<u64, JournalError> {
        let mut deleted = 0u64;
        if let Some(age) = self.cfg.max_age {
            let limit =
                ts_ns(now()).saturating_sub(i64::try_from(age.as_nanos()).unwrap_or(i64::MAX));
            deleted += self
                .conn
                .prepare_cached("DELETE FROM events WHERE time_ns < ?1")?
                .execute([limit])? as u64;
            deleted += self
                .conn
                .prepare_cached("DELETE FROM drop_counts WHERE time_ns < ?1")?
                .execute([limit])? as u64;
        }
        if let Some(max) = self.cfg.max_size {
            // A few rounds: the size per row is an estimate.
            for _ in 0..4 {
                let used = self.used_bytes()?;
                if used <= max {
                    break;
                }
                let (min, max_seq): (i64, i64) = self.conn.query_row(
                    "SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM events",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                let rows = (max_seq - min + 1).max(1);
                let per_row = (used / u64::try_from(rows).unwrap_or(1)).max(1);
                // Down to 90 % of the limit, so that this does not run on
                // every tick once the limit is reached.
                let excess = used - max + max / 10;
                let n = i64::try_from(excess / per_row + 1).unwrap_or(i64::MAX);
                let n = self
                    .conn
                    .prepare_cached("DELETE FROM events WHERE seq < ?1")?
                    .execute([min.saturating_add(n)])?;
                deleted += n as u64;
                // Counters older than the oldest event left go with them.
                deleted += self
                    .conn
                    .prepare_cached(
                        "DELETE FROM drop_counts WHERE time_ns < \
                         (SELECT coalesce(min(time_ns), 0) FROM events)",
                    )?
                    .execute([])? as u64;
                self.vacuum()?;
                if n == 0 {
                    break;
                }
            }
        } else if deleted > 0 {
            self.vacuum()?;
        }
        Ok(deleted)
    }

    /// Returns free pages to the file system. The pragma frees one page per
    /// step, so it is stepped to its end.
    fn vacuum(&self) -> Result<(), JournalError> {
        let mut stmt = self.conn.prepare_cached("PRAGMA incremental_vacuum")?;
        let mut rows = stmt.query([])?;
        while rows.next()?.is_some() {}
        Ok(())
    }

    /// Bytes of the database in use (pages not on the free list).
    fn used_bytes(&self) -> Result<u64, JournalError> {
        let (pages, free, size): (i64, i64, i64) = self.conn.query_row(
            "SELECT page_count, freelist_count, page_size \
             FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(u64::try_from((pages - free).max(0) * size).unwrap_or(0))
    }

    /// Marks a clean stop (syncing first). Dropping a `Journal` without
    /// closing it is an unclean stop.
    ///
    /// # Errors
    /// SQLite or I/O errors.
    pub fn close(mut self) -> Result<(), JournalError> {
        schema::set_meta(&self.conn, key::LAST_COMMIT_NS, &ts_ns(now()).to_string())?;
        schema::set_meta(&self.conn, key::WRITER_OPEN, "0")?;
        self.synced_commit()?;
        Ok(())
    }

    /// For [`SyncMode::Interval`]: the most time an unsynced commit waits.
    #[must_use]
    pub fn sync_interval(&self) -> std::time::Duration {
        self.cfg.sync_interval
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.db
    }

    /// After a commit that must be durable: `FULL` synced it already in
    /// mode `always`; otherwise sync the WAL now.
    fn synced_commit(&mut self) -> Result<(), JournalError> {
        if self.cfg.sync == SyncMode::Always {
            self.unsynced_since = None;
            return Ok(());
        }
        self.sync_wal()
    }

    fn sync_wal(&mut self) -> Result<(), JournalError> {
        self.unsynced_since = None;
        let mut wal_path = self.db.clone().into_os_string();
        wal_path.push("-wal");
        let wal_path = PathBuf::from(wal_path);
        if self.wal.is_none() {
            match OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&wal_path)
            {
                Ok(f) => self.wal = Some(f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(error) => {
                    return Err(JournalError::Io {
                        path: wal_path,
                        error,
                    })
                }
            }
        }
        if let Some(f) = &self.wal {
            f.sync_data().map_err(|error| JournalError::Io {
                path: wal_path,
                error,
            })?;
        }
        Ok(())
    }
}

#[derive(serde::Serialize)]
struct GapRow {
    gap: Gap,
}

fn seq_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn split_end(end: Option<(std::net::IpAddr, Option<u16>)>) -> (Option<String>, Option<u16>) {
    match end {
        Some((a, p)) => (Some(a.to_string()), p),
        None => (None, None),
    }
}

/// Checks (and with `create`, makes) the state directory: a real directory,
/// owned by us, not writable by group or others.
pub(super) fn safe_dir(dir: &Path, create: bool) -> Result<(), JournalError> {
    let unsafe_dir = |why: String| JournalError::UnsafeDir {
        path: dir.to_path_buf(),
        why,
    };
    if create && std::fs::symlink_metadata(dir).is_err() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(dir)
            .map_err(|error| JournalError::Io {
                path: dir.to_path_buf(),
                error,
            })?;
    }
    let md = std::fs::symlink_metadata(dir).map_err(|error| JournalError::Io {
        path: dir.to_path_buf(),
        error,
    })?;
    if md.file_type().is_symlink() {
        return Err(unsafe_dir("is a symbolic link".into()));
    }
    if !md.is_dir() {
        return Err(unsafe_dir("not a directory".into()));
    }
    let euid = nix::unistd::geteuid().as_raw();
    if create && md.uid() != euid {
        return Err(unsafe_dir(format!(
            "owned by uid {}, not by uid {euid}",
            md.uid()
        )));
    }
    if create && md.mode() & 0o022 != 0 {
        return Err(unsafe_dir(format!(
            "writable by group or others (mode {:o})",
            md.mode() & 0o7777
        )));
    }
    Ok(())
}
