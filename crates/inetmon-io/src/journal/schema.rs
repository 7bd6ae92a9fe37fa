//! The journal's SQLite schema (version [`SCHEMA_VERSION`]); `docs/journal.md`
//! describes it for people reading it with `sqlite3`.

use rusqlite::{Connection, OptionalExtension};

use super::JournalError;

/// Version of the schema below. Bump it, and add a migration, on any change
/// of a table, column or index.
pub const SCHEMA_VERSION: u32 = 2;

/// The file name of the database inside the state directory.
pub const DB_FILE: &str = "journal.sqlite";
/// The writer's lock file inside the state directory.
pub const LOCK_FILE: &str = "journal.lock";

/// The tables and index of schema version 1 (`auto_vacuum = INCREMENTAL`
/// is set by the writer before the file has a page). A new file gets these
/// and then every migration ([`MIGRATIONS`]), so a new file and a migrated
/// one cannot differ.
const CREATE_V1: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE events (
    seq     INTEGER PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    uid     INTEGER,
    pid     INTEGER,
    comm    TEXT,
    op      TEXT,
    result  INTEGER,
    laddr   TEXT,
    lport   INTEGER,
    faddr   TEXT,
    fport   INTEGER,
    event   TEXT NOT NULL
);
CREATE INDEX events_time ON events(time_ns);
";

/// Version 1 → 2: the `drop_counts` table (per-second kernel drop
/// counters of the daemon's `[drops]`).
const MIGRATE_1_2: &str = "
CREATE TABLE drop_counts (
    time_ns   INTEGER NOT NULL,
    reason    TEXT NOT NULL,
    location  TEXT NOT NULL,
    interface TEXT NOT NULL,
    count     INTEGER NOT NULL
);
CREATE INDEX drop_counts_time ON drop_counts(time_ns);
";

/// The migration from each version to the next, in order: entry `i` takes
/// version `i + 1` to `i + 2`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize - 1] = [MIGRATE_1_2];

/// Meta keys.
pub(super) mod key {
    /// The schema version the file was made with.
    pub(crate) const SCHEMA: &str = "schema_version";
    /// [`inetmon_core::event::codec::ENCODING_VERSION`] of the `event` column.
    pub(crate) const ENCODING: &str = "encoding_version";
    /// `1` while a writer has the journal open, `0` after a clean close.
    pub(crate) const WRITER_OPEN: &str = "writer_open";
    /// Wall-clock time (ns since the epoch) of the last committed batch.
    pub(crate) const LAST_COMMIT_NS: &str = "last_commit_ns";
    /// Wall-clock time the file was created.
    pub(crate) const CREATED_NS: &str = "created_ns";
}

/// Creates the schema in an empty database, migrates a version-1 file (the
/// writer only), or checks the version of an existing one.
///
/// # Errors
/// [`JournalError::Schema`] for a file of another schema version; SQLite
/// errors.
pub(super) fn ensure(conn: &Connection, now_ns: i64) -> Result<(), JournalError> {
    let exists: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)?;
    if !exists {
        // Tables and meta rows in one transaction: a crash in between
        // leaves an empty file, never tables without a version.
        let tx = conn.unchecked_transaction()?;
        conn.execute_batch(CREATE_V1)?;
        for m in MIGRATIONS {
            conn.execute_batch(m)?;
        }
        for (k, v) in [
            (key::SCHEMA, SCHEMA_VERSION.to_string()),
            (
                key::ENCODING,
                inetmon_core::event::codec::ENCODING_VERSION.to_string(),
            ),
            (key::WRITER_OPEN, "0".to_owned()),
            (key::LAST_COMMIT_NS, now_ns.to_string()),
            (key::CREATED_NS, now_ns.to_string()),
        ] {
            set_meta(conn, k, &v)?;
        }
        tx.commit()?;
    } else if get_meta(conn, key::SCHEMA)?.as_deref() == Some("1") {
        let tx = conn.unchecked_transaction()?;
        for m in MIGRATIONS {
            conn.execute_batch(m)?;
        }
        set_meta(conn, key::SCHEMA, &SCHEMA_VERSION.to_string())?;
        tx.commit()?;
    }
    check_version(conn)
}

/// Fails unless the file has this schema and event encoding version.
pub(super) fn check_version(conn: &Connection) -> Result<(), JournalError> {
    let schema = get_meta(conn, key::SCHEMA)?;
    if schema.as_deref() != Some(&SCHEMA_VERSION.to_string()) {
        return Err(JournalError::Schema {
            found: schema.unwrap_or_else(|| "none".into()),
            expected: SCHEMA_VERSION,
        });
    }
    let enc = get_meta(conn, key::ENCODING)?;
    let want = inetmon_core::event::codec::ENCODING_VERSION;
    if enc.as_deref() != Some(&want.to_string()) {
        return Err(JournalError::Schema {
            found: format!("event encoding {}", enc.unwrap_or_else(|| "none".into())),
            expected: SCHEMA_VERSION,
        });
    }
    Ok(())
}

pub(super) fn get_meta(conn: &Connection, k: &str) -> Result<Option<String>, rusqlite::Error> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
        .optional()
}

pub(super) fn set_meta(conn: &Connection, k: &str, v: &str) -> Result<(), rusqlite::Error> {
    conn.prepare_cached("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)")?
        .execute([k, v])
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_of(conn: &Connection) -> Vec<(String, Option<String>)> {
        let mut st = conn
            .prepare("SELECT name, sql FROM sqlite_master ORDER BY name")
            .unwrap();
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        rows.map(Result::unwrap).collect()
    }

    /// A version-1 file, migrated, has exactly the tables and indexes of a
    /// new file, and the current version.
    #[test]
    fn a_migrated_file_equals_a_new_one() {
        let new = Connection::open_in_memory().unwrap();
        ensure(&new, 1).unwrap();
        let old = Connection::open_in_memory().unwrap();
        old.execute_batch(CREATE_V1).unwrap();
        set_meta(&old, key::SCHEMA, "1").unwrap();
        let encoding = inetmon_core::event::codec::ENCODING_VERSION.to_string();
        set_meta(&old, key::ENCODING, &encoding).unwrap();
        ensure(&old, 2).unwrap();
        assert_eq!(schema_of(&old), schema_of(&new));
        assert!(schema_of(&new).iter().any(|(n, _)| n == "drop_counts"));
        assert_eq!(
            get_meta(&old, key::SCHEMA).unwrap(),
            Some(SCHEMA_VERSION.to_string())
        );
    }
}
