//! `inetmon journal query|verify`: past events from the daemon's journal.

use std::io::{self, Write};
use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use inetmon_core::event::{Event, EventKind, Timestamp};
use inetmon_core::format::json::JsonWriter;
use inetmon_core::format::monitor::{MonitorFormatter, MonitorOptions};
use inetmon_core::format::sockline::write_sock_line;
use inetmon_io::journal::{Filter, Gap, JournalError, Reader, Record};
use jiff::tz::TimeZone;

use crate::report::Status;
use crate::Misuse;

/// The default state directory (as the daemon's `state_dir`).
pub(crate) const DEFAULT_STATE_DIR: &str = "/var/lib/inetmon";

/// `inetmon journal`.
#[derive(Debug, Args)]
pub(crate) struct JournalArgs {
    /// What to do.
    #[command(subcommand)]
    pub(crate) action: JournalAction,
}

/// `inetmon journal` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum JournalAction {
    /// Print stored events, oldest first: socket events as `inetmon
    /// sockets` lines, the others as `inetmon monitor` lines after their
    /// time; gap records as `gap:` lines.
    Query(QueryArgs),
    /// Check the journal: SQLite integrity, schema version, contiguous
    /// sequence numbers, every record readable. Exit status 0 when sound.
    Verify(StateDir),
    /// Print the daemon's per-second kernel drop counters (`[drops]`):
    /// one line per second and (reason, location, interface) group with
    /// drops, oldest first.
    Drops(DropsArgs),
}

/// `inetmon journal drops`.
#[derive(Debug, Args)]
pub(crate) struct DropsArgs {
    #[command(flatten)]
    pub(crate) dir: StateDir,
    #[command(flatten)]
    pub(crate) range: TimeRange,
    /// JSON lines: `{"v":1,"kind":"drop_count","time":…,"reason":…,
    /// "location":…,"interface":…,"count":N}`.
    #[arg(short = 'j', long)]
    pub(crate) json: bool,
}

/// `--state-dir`.
#[derive(Debug, Args)]
pub(crate) struct StateDir {
    /// The daemon's state directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub(crate) state_dir: PathBuf,
}

/// The time range of a query.
#[derive(Debug, Args)]
pub(crate) struct TimeRange {
    /// Only records at or after this time: RFC 3339 (`2026-10-09T14:16:54Z`),
    /// local `YYYY-MM-DD[ HH:MM[:SS]]`, or an age (`30s`, `15m`, `2h`, `1d`
    /// ago).
    #[arg(long, value_name = "TIME")]
    pub(crate) since: Option<String>,
    /// Only records at or before this time (same forms as `--since`).
    #[arg(long, value_name = "TIME")]
    pub(crate) until: Option<String>,
}

/// `inetmon journal query`.
#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    #[command(flatten)]
    pub(crate) dir: StateDir,
    #[command(flatten)]
    pub(crate) range: TimeRange,
    #[command(flatten)]
    pub(crate) events: EventFlags,
    /// JSON lines (the schema of `--format json`; gap records as
    /// `{"v":1,"kind":"gap","from":…,"to":…}`).
    #[arg(short = 'j', long)]
    pub(crate) json: bool,
}

/// The event filters `journal query` and `collect` share.
#[derive(Debug, Args)]
pub(crate) struct EventFlags {
    /// Only these kinds, comma-separated: packet, nat, state, sock, drop,
    /// trace, debug, lost, malformed, gap.
    #[arg(long, value_name = "KINDS")]
    pub(crate) kind: Option<String>,
    /// Only events of this user id.
    #[arg(long)]
    pub(crate) uid: Option<u32>,
    /// Only events of this program name.
    #[arg(long)]
    pub(crate) comm: Option<String>,
    /// Only events with this address at either end.
    #[arg(long, value_name = "ADDR")]
    pub(crate) ip: Option<IpAddr>,
    /// Only events with this port at either end.
    #[arg(long)]
    pub(crate) port: Option<u16>,
}

/// Runs `inetmon journal …`.
pub(crate) fn run(args: &JournalArgs) -> anyhow::Result<Status> {
    match &args.action {
        JournalAction::Query(q) => query(q),
        JournalAction::Verify(d) => verify(&d.state_dir),
        JournalAction::Drops(d) => drops(d),
    }
}

fn drops(d: &DropsArgs) -> anyhow::Result<Status> {
    let (since, until) = d.range.parse()?;
    let reader = Reader::open(&d.dir.state_dir)?;
    let tz = TimeZone::system();
    let out = io::stdout();
    let mut out = io::BufWriter::new(out.lock());
    write_each(
        |each| reader.drop_counts(since, until, each),
        |c| {
            if d.json {
                writeln!(
                out,
                "{{\"v\":{},\"kind\":\"drop_count\",\"time\":\"{}\",\"reason\":{},\"location\":{},\"interface\":{},\"count\":{}}}",
                inetmon_core::event::JSON_SCHEMA_VERSION,
                rfc3339(c.time),
                json_str(&c.key.reason),
                json_str(&c.key.location),
                json_str(&c.key.interface),
                c.count
            )
            } else {
                writeln!(
                    out,
                    "{} drops {:>8} {} at {} on {}",
                    local_time(c.time, &tz),
                    c.count,
                    c.key.reason,
                    c.key.location,
                    c.key.interface
                )
            }
        },
    )?;
    out.flush()?;
    Ok(Status::Clean)
}

/// Runs `query` (a [`Reader`] method with a per-record callback) and hands
/// each record to `write`, stopping at the first write error, which is
/// returned (a reader whose standard output went away stops at once).
pub(crate) fn write_each<R>(
    query: impl FnOnce(&mut dyn FnMut(R) -> bool) -> Result<(), JournalError>,
    mut write: impl FnMut(R) -> io::Result<()>,
) -> anyhow::Result<()> {
    let mut failed = None;
    query(&mut |rec| match write(rec) {
        Ok(()) => true,
        Err(e) => {
            failed = Some(e);
            false
        }
    })?;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

fn query(q: &QueryArgs) -> anyhow::Result<Status> {
    let (since, until) = q.range.parse()?;
    let mut filter = Filter {
        since,
        until,
        uid: q.events.uid,
        comm: q.events.comm.clone(),
        ip: q.events.ip,
        port: q.events.port,
        ..Filter::default()
    };
    if let Some(kinds) = &q.events.kind {
        for name in kinds.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if name == "gap" {
                filter.gaps = true;
            } else {
                filter.kinds.push(EventKind::from_name(name).ok_or_else(|| {
                    Misuse(format!(
                        "--kind: unknown kind {name:?}; known: packet, nat, state, sock, drop, trace, lost, malformed, gap"
                    ))
                })?);
            }
        }
    }
    let reader = Reader::open(&q.dir.state_dir)?;
    let mut printer = Printer::new(q.json);
    let out = io::stdout();
    let mut out = io::BufWriter::new(out.lock());
    write_each(
        |each| reader.query(&filter, each),
        |rec| printer.write(&rec, &mut out),
    )?;
    out.flush()?;
    Ok(Status::Clean)
}

fn verify(dir: &std::path::Path) -> anyhow::Result<Status> {
    let v = Reader::open(dir)?.verify()?;
    let mut out = io::stdout().lock();
    for p in &v.problems {
        writeln!(out, "problem: {p}")?;
    }
    writeln!(
        out,
        "{}: {} records (sequence {}..{}), {} gap records{}: {}",
        dir.display(),
        v.records,
        v.first_seq,
        v.last_seq,
        v.gaps,
        if v.writer_open {
            ", a writer is running or stopped uncleanly"
        } else {
            ""
        },
        if v.ok() { "ok" } else { "DAMAGED" }
    )?;
    Ok(if v.ok() {
        Status::Clean
    } else {
        Status::Problems
    })
}

impl TimeRange {
    /// The parsed `--since` and `--until`.
    pub(crate) fn parse(&self) -> Result<(Option<Timestamp>, Option<Timestamp>), Misuse> {
        let one = |flag: &str, v: &Option<String>| {
            v.as_deref()
                .map(|s| parse_time(s).map_err(|m| Misuse(format!("{flag}: {m}"))))
                .transpose()
        };
        Ok((one("--since", &self.since)?, one("--until", &self.until)?))
    }
}

/// A time on the command line: RFC 3339, local `YYYY-MM-DD[ HH:MM[:SS]]`
/// (also with `T`), or an age `N` + `s`/`m`/`h`/`d` before now.
pub(crate) fn parse_time(s: &str) -> Result<Timestamp, String> {
    let s = s.trim();
    let from_jiff = |t: jiff::Timestamp| Timestamp {
        secs: t.as_second(),
        nanos: u32::try_from(t.subsec_nanosecond()).unwrap_or(0),
    };
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(from_jiff(t));
    }
    if let Some(unit) = s.chars().last().filter(|c| "smhd".contains(*c)) {
        if let Ok(n) = s[..s.len() - 1].parse::<i64>() {
            let secs = match unit {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                _ => 86_400,
            };
            let ago = jiff::SignedDuration::from_secs(n.saturating_mul(secs));
            return jiff::Timestamp::now()
                .checked_sub(ago)
                .map(from_jiff)
                .map_err(|e| e.to_string());
        }
    }
    let civil = s.parse::<jiff::civil::DateTime>().or_else(|_| {
        s.parse::<jiff::civil::Date>()
            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
    });
    match civil {
        Ok(dt) => dt
            .to_zoned(TimeZone::system())
            .map(|z| from_jiff(z.timestamp()))
            .map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "{s:?} is not a time (RFC 3339, YYYY-MM-DD[ HH:MM[:SS]] local, or an age like 15m)"
        )),
    }
}

/// Prints records in the text or JSON form.
pub(crate) struct Printer {
    json: Option<JsonWriter>,
    monitor: MonitorFormatter,
    tz: TimeZone,
}

impl Printer {
    pub(crate) fn new(json: bool) -> Printer {
        Printer {
            json: json.then(JsonWriter::new),
            monitor: MonitorFormatter::new(MonitorOptions::default()),
            tz: TimeZone::system(),
        }
    }

    pub(crate) fn write<W: Write>(&mut self, rec: &Record, out: &mut W) -> io::Result<()> {
        match (rec, &mut self.json) {
            (Record::Event { event, .. }, Some(j)) => j.write(event, out),
            (Record::Gap { gap, .. }, Some(_)) => {
                writeln!(
                    out,
                    "{{\"v\":{},\"kind\":\"gap\",\"from\":\"{}\",\"to\":\"{}\",\"cause\":\"{}\"}}",
                    inetmon_core::event::JSON_SCHEMA_VERSION,
                    rfc3339(gap.from),
                    rfc3339(gap.to),
                    gap.cause.as_str()
                )
            }
            (Record::Event { event, .. }, None) => match &**event {
                Event::Sock(s) => write_sock_line(s, &self.tz, out),
                other => {
                    let text = self.monitor.format(other);
                    write!(out, "{} {text}", self.local(other.header().time))?;
                    if !text.ends_with('\n') {
                        writeln!(out)?;
                    }
                    Ok(())
                }
            },
            (Record::Gap { gap, .. }, None) => write_gap(out, gap, &self.tz),
        }
    }

    fn local(&self, t: Timestamp) -> String {
        local_time(t, &self.tz)
    }
}

/// `2026-10-09 14:16:54.123456` in `tz`, as the socket lines print time.
pub(crate) fn local_time(t: Timestamp, tz: &TimeZone) -> String {
    match jiff::Timestamp::new(t.secs, 0) {
        Ok(ts) => format!(
            "{}.{:06}",
            ts.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S"),
            t.micros()
        ),
        Err(_) => format!("@{}", t.secs),
    }
}

fn rfc3339(t: Timestamp) -> String {
    format!("{}Z", local_time(t, &TimeZone::UTC).replacen(' ', "T", 1))
}

/// `TIME gap: no events were collected from FROM to TO (unclean stop)`.
pub(crate) fn write_gap<W: Write>(out: &mut W, gap: &Gap, tz: &TimeZone) -> io::Result<()> {
    writeln!(
        out,
        "{} gap: nothing was journaled from {} to {} ({})",
        local_time(gap.to, tz),
        local_time(gap.from, tz),
        local_time(gap.to, tz),
        gap.cause.text()
    )
}
