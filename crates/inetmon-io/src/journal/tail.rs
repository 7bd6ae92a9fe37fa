//! Reading the journal by sequence number, for a reader that follows it
//! and keeps its own position (the NATS exporter): records after a
//! position, the range still stored (retention deletes from the front),
//! and the journal's identity (a new journal restarts its numbering).

use super::query::{decode_row, Reader};
use super::schema::{self, key};
use super::{JournalError, Record};

/// What [`Reader::tail`] saw: the records, and the first sequence number
/// still stored, so that the caller can tell which records retention
/// deleted before it read them.
#[derive(Debug, Default)]
pub struct Tail {
    /// Records with a sequence number above the position, in order; a
    /// record that does not decode is its error (counted and reported by
    /// the caller, never a reason to stop).
    pub records: Vec<(u64, Result<Record, JournalError>)>,
    /// The lowest sequence number stored, `None` when the journal is empty.
    pub first_seq: Option<u64>,
    /// The highest sequence number stored, `None` when the journal is empty.
    pub last_seq: Option<u64>,
}

impl Reader {
    /// At most `limit` records with a sequence number above `after`, in
    /// sequence order, and the stored range. Reads in one SQLite read
    /// transaction, so the range and the records agree.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn tail(&self, after: u64, limit: usize) -> Result<Tail, JournalError> {
        let tx = self.conn.unchecked_transaction()?;
        let (first, last): (Option<i64>, Option<i64>) =
            tx.query_row("SELECT min(seq), max(seq) FROM events", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let mut out = Tail {
            records: Vec::new(),
            first_seq: first.and_then(|n| u64::try_from(n).ok()),
            last_seq: last.and_then(|n| u64::try_from(n).ok()),
        };
        let mut stmt = tx.prepare_cached(
            "SELECT seq, kind, event FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let mut rows = stmt.query([
            i64::try_from(after).unwrap_or(i64::MAX),
            i64::try_from(limit).unwrap_or(i64::MAX),
        ])?;
        while let Some(row) = rows.next()? {
            let seq = u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0);
            let kind: String = row.get(1)?;
            let rec = row
                .get_ref(2)?
                .as_bytes()
                .map_err(|e| JournalError::Corrupt {
                    seq,
                    why: e.to_string(),
                })
                .and_then(|text| decode_row(seq, &kind, text));
            out.records.push((seq, rec));
        }
        drop(rows);
        drop(stmt);
        tx.finish()?;
        Ok(out)
    }

    /// The journal's identity: the time its file was created (meta key
    /// `created_ns`). A journal made anew (state directory emptied)
    /// numbers its records from 1 again; a position kept for the old one
    /// does not apply.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn created_ns(&self) -> Result<Option<i64>, JournalError> {
        Ok(schema::get_meta(&self.conn, key::CREATED_NS)?.and_then(|s| s.parse().ok()))
    }
}
