//! Reading the journal: queries with filters, and `verify`.

use std::net::IpAddr;
use std::path::Path;

use inetmon_core::event::{codec, EventKind, Timestamp};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};

use super::schema::{self, DB_FILE, SCHEMA_VERSION};
use super::writer::safe_dir;
use super::{ts_ns, DropCount, Gap, JournalError, Record};
use inetmon_core::drop_summary::DropKey;

/// Which records a query returns. Every set field must match; gap records
/// match the time range and the kinds only (a hole concerns every event).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Events at or after this time.
    pub since: Option<Timestamp>,
    /// Events at or before this time.
    pub until: Option<Timestamp>,
    /// Event kinds (empty: all). With `kinds` empty and `gaps` false,
    /// every event and every gap record.
    pub kinds: Vec<EventKind>,
    /// Gap records: with `kinds` set, gap records too; with `kinds` empty,
    /// only gap records.
    pub gaps: bool,
    /// Socket uid (NFLOG socket uid for packets).
    pub uid: Option<u32>,
    /// Program name, exactly.
    pub comm: Option<String>,
    /// Either end's address.
    pub ip: Option<IpAddr>,
    /// Either end's port.
    pub port: Option<u16>,
    /// Socket operations (empty: all).
    pub ops: Vec<&'static str>,
}

impl Filter {
    /// The SQL condition and its parameters.
    fn sql(&self) -> (String, Vec<Value>) {
        let mut time = Vec::new();
        let mut params = Vec::new();
        if let Some(t) = self.since {
            params.push(Value::Integer(ts_ns(t)));
            time.push(format!("time_ns >= ?{}", params.len()));
        }
        if let Some(t) = self.until {
            params.push(Value::Integer(ts_ns(t)));
            time.push(format!("time_ns <= ?{}", params.len()));
        }
        let mut rest = Vec::new();
        if !self.kinds.is_empty() {
            let mut names = Vec::new();
            for k in &self.kinds {
                params.push(Value::Text(k.as_str().to_owned()));
                names.push(format!("?{}", params.len()));
            }
            rest.push(format!("kind IN ({})", names.join(", ")));
        }
        if let Some(uid) = self.uid {
            params.push(Value::Integer(i64::from(uid)));
            rest.push(format!("uid = ?{}", params.len()));
        }
        if let Some(c) = &self.comm {
            params.push(Value::Text(c.clone()));
            rest.push(format!("comm = ?{}", params.len()));
        }
        if let Some(ip) = self.ip {
            params.push(Value::Text(ip.to_string()));
            let n = params.len();
            rest.push(format!("(laddr = ?{n} OR faddr = ?{n})"));
        }
        if let Some(port) = self.port {
            params.push(Value::Integer(i64::from(port)));
            let n = params.len();
            rest.push(format!("(lport = ?{n} OR fport = ?{n})"));
        }
        if !self.ops.is_empty() {
            let mut names = Vec::new();
            for op in &self.ops {
                params.push(Value::Text((*op).to_owned()));
                names.push(format!("?{}", params.len()));
            }
            rest.push(format!("op IN ({})", names.join(", ")));
        }
        let time = if time.is_empty() {
            "1".to_owned()
        } else {
            time.join(" AND ")
        };
        let rest = if rest.is_empty() {
            "1".to_owned()
        } else {
            rest.join(" AND ")
        };
        let gaps = self.kinds.is_empty() || self.gaps;
        let events = !(self.kinds.is_empty() && self.gaps);
        let cond = match (gaps, events) {
            (true, true) => format!("{time} AND (kind = 'gap' OR (kind <> 'gap' AND {rest}))"),
            (true, false) => format!("{time} AND kind = 'gap'"),
            (false, _) => format!("{time} AND kind <> 'gap' AND {rest}"),
        };
        (cond, params)
    }
}

/// What [`Reader::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records present.
    pub records: u64,
    /// First and last sequence number (0 when empty).
    pub first_seq: u64,
    /// Last sequence number.
    pub last_seq: u64,
    /// Gap records.
    pub gaps: u64,
    /// Whether a writer has the journal open now or stopped uncleanly.
    pub writer_open: bool,
    /// Problems, one line each; empty when the journal is sound.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Whether the journal is sound.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A read-only view of the journal; any number may be open beside the
/// writer.
#[derive(Debug)]
pub struct Reader {
    pub(super) conn: Connection,
}

impl Reader {
    /// Opens the journal in `dir` read-only.
    ///
    /// # Errors
    /// [`JournalError::Missing`] when there is none; another schema
    /// version; SQLite errors.
    pub fn open(dir: &Path) -> Result<Reader, JournalError> {
        safe_dir(dir, false)?;
        let db = dir.join(DB_FILE);
        if std::fs::symlink_metadata(&db).is_err() {
            return Err(JournalError::Missing { path: db });
        }
        let conn = Connection::open_with_flags(
            &db,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NOFOLLOW
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        schema::check_version(&conn)?;
        Ok(Reader { conn })
    }

    /// Calls `each` with every record matching `filter`, in sequence order.
    /// `each` returns `false` to stop.
    ///
    /// # Errors
    /// SQLite errors, or [`JournalError::Corrupt`] for a record that does
    /// not decode.
    pub fn query(
        &self,
        filter: &Filter,
        mut each: impl FnMut(Record) -> bool,
    ) -> Result<(), JournalError> {
        let (cond, params) = filter.sql();
        let sql = format!("SELECT seq, kind, event FROM events WHERE {cond} ORDER BY seq");
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            let seq = u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0);
            let kind: String = row.get(1)?;
            let text = row
                .get_ref(2)?
                .as_bytes()
                .map_err(|e| JournalError::Corrupt {
                    seq,
                    why: e.to_string(),
                })?;
            let rec = decode_row(seq, &kind, text)?;
            if !each(rec) {
                break;
            }
        }
        Ok(())
    }

    /// Checks the journal: SQLite's `integrity_check`, the schema version,
    /// that sequence numbers are contiguous (retention only deletes from
    /// the oldest), and that every record decodes into its kind.
    ///
    /// # Errors
    /// SQLite errors that prevent the check itself.
    pub fn verify(&self) -> Result<VerifyReport, JournalError> {
        let mut r = VerifyReport::default();
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let lines: Vec<String> = stmt
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        if lines != ["ok"] {
            r.problems
                .extend(lines.into_iter().map(|l| format!("integrity_check: {l}")));
        }
        if let Err(e) = schema::check_version(&self.conn) {
            r.problems.push(e.to_string());
        }
        r.writer_open =
            schema::get_meta(&self.conn, schema::key::WRITER_OPEN)?.as_deref() == Some("1");
        let (count, min, max): (i64, i64, i64) = self.conn.query_row(
            "SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM events",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?;
        r.records = u64::try_from(count).unwrap_or(0);
        r.first_seq = u64::try_from(min).unwrap_or(0);
        r.last_seq = u64::try_from(max).unwrap_or(0);
        if count > 0 && (min < 1 || max - min + 1 != count) {
            r.problems.push(format!(
                "sequence numbers {min}..={max} are not contiguous: {count} records"
            ));
        }
        let mut stmt = self
            .conn
            .prepare("SELECT seq, kind, event FROM events ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let seq = u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0);
            let kind: String = row.get(1)?;
            match row
                .get_ref(2)?
                .as_bytes()
                .map_err(|e| JournalError::Corrupt {
                    seq,
                    why: e.to_string(),
                })
                .and_then(|text| decode_row(seq, &kind, text))
            {
                Ok(Record::Gap { .. }) => r.gaps += 1,
                Ok(Record::Event { .. }) => {}
                Err(e) => {
                    if r.problems.len() < 100 {
                        r.problems.push(e.to_string());
                    }
                }
            }
        }
        Ok(r)
    }

    /// Calls `each` with every per-second drop counter (`drop_counts`)
    /// between `since` and `until` (inclusive), oldest first.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn drop_counts(
        &self,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        mut each: impl FnMut(DropCount) -> bool,
    ) -> Result<(), JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT time_ns, reason, location, interface, count FROM drop_counts \
             WHERE time_ns >= ?1 AND time_ns <= ?2 ORDER BY time_ns, count DESC, reason",
        )?;
        let lo = since.map_or(i64::MIN, ts_ns);
        let hi = until.map_or(i64::MAX, ts_ns);
        let mut rows = stmt.query([lo, hi])?;
        while let Some(row) = rows.next()? {
            let c = DropCount {
                time: super::ns_ts(row.get(0)?),
                key: DropKey {
                    reason: row.get(1)?,
                    location: row.get(2)?,
                    interface: row.get(3)?,
                },
                count: u64::try_from(row.get::<_, i64>(4)?).unwrap_or(0),
            };
            if !each(c) {
                break;
            }
        }
        Ok(())
    }

    /// The schema version this code reads.
    #[must_use]
    pub fn schema_version() -> u32 {
        SCHEMA_VERSION
    }
}

#[derive(serde::Deserialize)]
struct GapRow {
    gap: Gap,
}

pub(super) fn decode_row(seq: u64, kind: &str, text: &[u8]) -> Result<Record, JournalError> {
    let corrupt = |why: String| JournalError::Corrupt { seq, why };
    if kind == "gap" {
        let g: GapRow = serde_json::from_slice(text).map_err(|e| corrupt(e.to_string()))?;
        return Ok(Record::Gap { seq, gap: g.gap });
    }
    let event = codec::decode(text).map_err(|e| corrupt(e.to_string()))?;
    if event.kind().as_str() != kind {
        return Err(corrupt(format!(
            "kind column says {kind}, the event is {}",
            event.kind()
        )));
    }
    Ok(Record::Event {
        seq,
        event: Box::new(event),
    })
}
