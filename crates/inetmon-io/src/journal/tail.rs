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
    /// Records with a sequence number above the position, in order.
    pub records: Vec<Stored>,
    /// The lowest sequence number stored, `None` when the journal is empty.
    pub first_seq: Option<u64>,
    /// The highest sequence number stored, `None` when the journal is empty.
    pub last_seq: Option<u64>,
}

/// One record as [`Reader::tail`] read it: decoded, and as stored.
#[derive(Debug)]
pub struct Stored {
    /// Its journal sequence number.
    pub seq: u64,
    /// The record; a record that does not decode is its error (counted
    /// and reported by the caller, never a reason to stop).
    pub record: Result<Record, JournalError>,
    /// The `event` column as stored (the codec's JSON of the event, or
    /// `{"gap":…}`): what an exporter sends without encoding it again.
    pub text: Vec<u8>,
}

/// The stored range, `(first, last)`: two subqueries, each answered from
/// one end of the primary key (see [`Reader::tail`]).
const RANGE_SQL: &str = "SELECT (SELECT min(seq) FROM events), (SELECT max(seq) FROM events)";

impl Reader {
    /// At most `limit` records with a sequence number above `after`, in
    /// sequence order, and the stored range. Reads in one SQLite read
    /// transaction, so the range and the records agree.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn tail(&self, after: u64, limit: usize) -> Result<Tail, JournalError> {
        let tx = self.conn.unchecked_transaction()?;
        // Two subqueries: SQLite answers a lone min() or max() of the
        // primary key from the b-tree's ends, but `min(seq), max(seq)` in
        // one select scans every row (which made each call cost time in
        // proportion to the journal's size).
        let (first, last): (Option<i64>, Option<i64>) = tx
            .prepare_cached(RANGE_SQL)?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
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
            let kind = row.get_ref(1)?.as_str().unwrap_or("");
            let (record, text) = match row.get_ref(2)?.as_bytes() {
                Ok(text) => (decode_row(seq, kind, text), text.to_vec()),
                Err(e) => (
                    Err(JournalError::Corrupt {
                        seq,
                        why: e.to_string(),
                    }),
                    Vec::new(),
                ),
            };
            out.records.push(Stored { seq, record, text });
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

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, StatementStatus};

    /// The stored range costs the same on a journal of any size: no full
    /// scan (`min(seq), max(seq)` in one select scanned every row, which
    /// made the exporter's cost per event grow with its backlog).
    #[test]
    fn range_does_not_scan_the_table() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE events (seq INTEGER PRIMARY KEY, event TEXT NOT NULL)")
            .unwrap();
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) \
             INSERT INTO events SELECT i, '{}' FROM n",
            [],
        )
        .unwrap();
        let mut stmt = conn.prepare(super::RANGE_SQL).unwrap();
        let range: (i64, i64) = stmt.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        assert_eq!(range, (1, 5000));
        assert_eq!(stmt.get_status(StatementStatus::FullscanStep), 0);
        let steps = stmt.get_status(StatementStatus::VmStep);
        assert!(steps < 200, "{steps} virtual machine steps for the range");
    }
}
