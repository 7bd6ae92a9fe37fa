//! `inetmon audit`: connection audit records (`dkaudit`) from the journal.
//!
//! The records and the mapping from socket events are described in
//! `inetmon_core::format::audit`. Loss stays visible: `lost` events of the
//! journal print as `LOST:` lines and gap records as `GAP:` lines, in the
//! same layout. `--follow` needs the daemon (next step) and is not offered
//! yet.

use std::io::{self, Write};

use clap::{Args, ValueEnum};
use inetmon_core::event::{Event, EventKind, Timestamp};
use inetmon_core::format::audit::{audit_record, rfc3339_utc, AuditBody, AuditFormatter};
use inetmon_io::journal::{Filter, Reader, Record};
use jiff::tz::TimeZone;

use crate::journal_cmd::{StateDir, TimeRange};
use crate::report::Status;

/// `inetmon audit`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    #[command(flatten)]
    pub(crate) dir: StateDir,
    #[command(flatten)]
    pub(crate) range: TimeRange,
    /// Only records of this user id.
    #[arg(long)]
    pub(crate) uid: Option<u32>,
    /// Only started or only failed attempts.
    #[arg(long, value_enum)]
    pub(crate) result: Option<AuditResult>,
    /// Also `UNIXP` records: the TCP control segments (SYN, FIN, RST) in
    /// the journal's trace events.
    #[arg(long)]
    pub(crate) messages: bool,
    /// JSON lines.
    #[arg(short = 'j', long)]
    pub(crate) json: bool,
    /// Send the records to a syslog server (TCP/TLS) instead of standard
    /// output.
    #[command(flatten)]
    pub(crate) remote: crate::syslog_target::SyslogTargetFlags,
}

/// `--result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AuditResult {
    /// Established connections and started servers.
    Started,
    /// Failed connections and server starts.
    Failed,
}

/// Runs `inetmon audit`.
pub(crate) fn run(args: &AuditArgs) -> anyhow::Result<Status> {
    let (since, until) = args.range.parse()?;
    let mut kinds = vec![EventKind::Sock, EventKind::Lost];
    if args.messages {
        kinds.push(EventKind::Trace);
    }
    let filter = Filter {
        since,
        until,
        kinds,
        gaps: true,
        ..Filter::default()
    };
    let reader = Reader::open(&args.dir.state_dir)?;
    let tz = TimeZone::system();
    let fmt = if args.json {
        AuditFormatter::json()
    } else {
        AuditFormatter::text(tz.clone())
    };
    if let Some(cfg) = args
        .remote
        .config("inetmon-audit", inetmon_io::sink::Facility::LOCAL0)?
    {
        let sink = inetmon_io::sink::NetSyslog::start(cfg)?;
        let mut out = crate::syslog_target::SyslogLines::new(sink);
        query(args, &reader, &filter, &fmt, &tz, &mut out)?;
        let lost = out.close();
        if lost > 0 {
            crate::report::unwritten("inetmon", "syslog", lost);
            crate::report::error_line("inetmon", &format!("{lost} events lost"));
            return Ok(Status::Problems);
        }
        return Ok(Status::Clean);
    }
    let out = io::stdout();
    let mut out = io::BufWriter::new(out.lock());
    query(args, &reader, &filter, &fmt, &tz, &mut out)?;
    out.flush()?;
    Ok(Status::Clean)
}

/// Writes every record `filter` selects to `out`.
fn query<W: Write>(
    args: &AuditArgs,
    reader: &Reader,
    filter: &Filter,
    fmt: &AuditFormatter,
    tz: &TimeZone,
    out: &mut W,
) -> anyhow::Result<()> {
    let mut failed = None;
    reader.query(filter, |rec| {
        let r = write_record(args, fmt, tz, &rec, out);
        match r {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    Ok(())
}

fn write_record<W: Write>(
    args: &AuditArgs,
    fmt: &AuditFormatter,
    tz: &TimeZone,
    rec: &Record,
    out: &mut W,
) -> io::Result<()> {
    match rec {
        Record::Gap { gap, .. } => {
            let line = format!(
                "GAP: no records from {} (the collector stopped uncleanly)",
                dk_time(gap.from, tz)
            );
            side_line(args.json, "gap", gap.to, &line, tz, out)
        }
        Record::Event { event, .. } => match &**event {
            Event::Lost(l) => {
                let detail = l.breakdown_text();
                let line = if detail.is_empty() {
                    format!("LOST: {} events ({})", l.count, l.stage.as_str())
                } else {
                    format!("LOST: {} events ({}: {detail})", l.count, l.stage.as_str())
                };
                side_line(args.json, "lost", l.header.time, &line, tz, out)
            }
            ev => {
                let Some(r) = audit_record(ev) else {
                    return Ok(());
                };
                if let AuditBody::Connection(a) | AuditBody::Server(a) = &r.body {
                    if args.uid.is_some_and(|u| a.uid != Some(u)) {
                        return Ok(());
                    }
                    if args
                        .result
                        .is_some_and(|want| a.started != (want == AuditResult::Started))
                    {
                        return Ok(());
                    }
                } else if args.uid.is_some() || args.result.is_some() {
                    // UNIXP records carry neither uid nor result.
                    return Ok(());
                }
                fmt.write(&r, out)
            }
        },
    }
}

/// A `GAP:` or `LOST:` line in the audit layout, or its JSON form.
fn side_line<W: Write>(
    json: bool,
    record: &str,
    time: Timestamp,
    text: &str,
    tz: &TimeZone,
    out: &mut W,
) -> io::Result<()> {
    if json {
        writeln!(
            out,
            "{{\"v\":{},\"kind\":\"audit\",\"time\":\"{}\",\"record\":\"{record}\",\"text\":{}}}",
            inetmon_core::event::JSON_SCHEMA_VERSION,
            rfc3339_utc(time),
            serde_json::Value::from(text)
        )
    } else {
        writeln!(out, "{} {text}", dk_time(time, tz))
    }
}

/// `Oct 9 14:16:54` in `tz`.
fn dk_time(t: Timestamp, tz: &TimeZone) -> String {
    match jiff::Timestamp::new(t.secs, 0) {
        Ok(ts) => ts
            .to_zoned(tz.clone())
            .strftime("%b %-d %H:%M:%S")
            .to_string(),
        Err(_) => format!("@{}", t.secs),
    }
}
