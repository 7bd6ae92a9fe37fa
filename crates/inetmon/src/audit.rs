//! `inetmon audit`: connection audit records (`dkaudit`) from the journal,
//! and with `--follow` live after them.
//!
//! The records and the mapping from socket events are described in
//! `inetmon_core::format::audit`. Loss stays visible: `lost` events (of the
//! journal, or of the live producer) print as `LOST:` lines and gap records
//! as `GAP:` lines, in the same layout.
//!
//! `--follow` prints the journal's records, then starts its own socket
//! producer (the BPF programs of the watched operations the audit needs,
//! with the segment programs for `--messages`) and prints records as they
//! happen, until SIGINT/SIGTERM. It does so whether or not a daemon runs:
//! the daemon's client library (branch `clients`) had not landed when this
//! was written, so the daemon's socket is not used yet.

use std::io::{self, Write};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use inetmon_core::event::{Event, EventKind, Monitor, Timestamp};
use inetmon_core::format::audit::{audit_record, rfc3339_utc, AuditBody, AuditFormatter};
use inetmon_core::sock_filter::watch_set;
use inetmon_io::consumer::{render_with, Consumer, Plan, Producers, Rendered, Stage, Verdict};
use inetmon_io::journal::{Filter, JournalError, Reader, Record};
use inetmon_io::outputs::TextOut;
use inetmon_io::pipeline::DEFAULT_CAPACITY;
use inetmon_io::shutdown::Shutdown;
use inetmon_io::sockets::{KernelFilters, SocketsConfig, SocketsProducer};
use jiff::tz::TimeZone;

use crate::journal_cmd::{StateDir, TimeRange};
use crate::report::{self, Status};
use crate::Misuse;

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
    /// Also `UNIXP` records: the TCP control segments (SYN, SYN-ACK, FIN,
    /// RST) of audited connections.
    #[arg(long)]
    pub(crate) messages: bool,
    /// After the journal's records, go on with live ones (from this
    /// command's own BPF programs) until interrupted.
    #[arg(long)]
    pub(crate) follow: bool,
    /// JSON lines.
    #[arg(short = 'j', long)]
    pub(crate) json: bool,
}

/// `--result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AuditResult {
    /// Established connections and started servers.
    Started,
    /// Failed connections and server starts.
    Failed,
}

/// How records are selected and printed, for the journal and live alike.
struct View {
    uid: Option<u32>,
    result: Option<AuditResult>,
    json: bool,
    fmt: AuditFormatter,
    tz: TimeZone,
}

/// Runs `inetmon audit`.
pub(crate) fn run(args: &AuditArgs) -> anyhow::Result<Status> {
    let (since, until) = args.range.parse()?;
    if args.follow && until.is_some() {
        return Err(Misuse("--follow goes on past any --until: give one of them".into()).into());
    }
    let tz = TimeZone::try_system().unwrap_or(TimeZone::UTC);
    let view = View {
        uid: args.uid,
        result: args.result,
        json: args.json,
        fmt: if args.json {
            AuditFormatter::json()
        } else {
            AuditFormatter::text(tz.clone())
        },
        tz,
    };
    // Started before the journal is read, so nothing falls between the two.
    let live = if args.follow {
        Some(start_live(args)?)
    } else {
        None
    };
    match Reader::open(&args.dir.state_dir) {
        Ok(reader) => print_journal(&reader, since, until, &view)?,
        // No journal yet (no daemon ever ran here): only live records.
        Err(JournalError::Missing { .. }) if args.follow => {}
        Err(JournalError::Io { error, .. })
            if args.follow && error.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    match live {
        Some(producer) => follow(producer, view),
        None => Ok(Status::Clean),
    }
}

/// Prints the journal's records in `since..=until`.
fn print_journal(
    reader: &Reader,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    view: &View,
) -> anyhow::Result<()> {
    let filter = Filter {
        since,
        until,
        // (Segments are socket events too.)
        kinds: vec![EventKind::Sock, EventKind::Lost],
        gaps: true,
        ..Filter::default()
    };
    let out = io::stdout();
    let mut out = io::BufWriter::new(out.lock());
    let mut failed = None;
    reader.query(&filter, |rec| {
        let r = match &rec {
            Record::Gap { gap, .. } => {
                let line = format!(
                    "GAP: no records from {} (the collector stopped uncleanly)",
                    dk_time(gap.from, &view.tz)
                );
                side_line(view.json, "gap", gap.to, &line, &view.tz, &mut out)
            }
            Record::Event { event, .. } => write_event(view, event, &mut out),
        };
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
    out.flush()?;
    Ok(())
}

/// The operations the audit records come from: connect outcomes, listens,
/// binds (their failures, and UDP servers).
fn audit_monitors() -> [Monitor; 4] {
    [
        Monitor::StreamBind,
        Monitor::StreamListen,
        Monitor::StreamConnect,
        Monitor::DgramBind,
    ]
}

/// Loads and attaches the socket programs for `--follow`.
fn start_live(args: &AuditArgs) -> anyhow::Result<SocketsProducer> {
    let cfg = SocketsConfig {
        filters: KernelFilters {
            uid: args.uid,
            watch: watch_set(Some(&audit_monitors())),
            segments: args.messages,
            ..KernelFilters::default()
        },
        ..SocketsConfig::default()
    };
    SocketsProducer::start(&cfg).context("starting the socket-event programs")
}

/// `--follow`: live records until SIGINT/SIGTERM.
fn follow(producer: SocketsProducer, view: View) -> anyhow::Result<Status> {
    let shutdown = Shutdown::on_signals().context("installing signal handlers")?;
    // The binary decides where text goes: this line tells scripts and
    // tests that the journal is printed and live records follow.
    #[allow(clippy::print_stderr)]
    {
        eprintln!("inetmon audit: following");
    }
    let mut producers = Producers::new(shutdown.clone(), DEFAULT_CAPACITY);
    let thread = producer.spawn(producers.pipeline(), shutdown.clone(), Vec::new())?;
    producers.add("socket-event", thread, false);
    let mut stage = AuditStage { view };
    let sinks: Vec<Box<dyn inetmon_io::consumer::Sink>> =
        vec![Box::new(TextOut::stdout(&shutdown))];
    let mut consumer = Consumer::new(&mut stage, sinks);
    let ended = consumer.run(
        producers,
        &Plan {
            limit: None,
            deadline: None,
            tick: None,
        },
    );
    report::ended("inetmon audit", ended, &consumer.report())
}

/// The live stage: an event → its audit line (or none).
struct AuditStage {
    view: View,
}

impl Stage for AuditStage {
    fn unwritten(&mut self, what: &str, count: u64) {
        report::unwritten("inetmon audit", what, count);
    }

    fn render(&mut self, ev: &mut Event, out: &mut Rendered) -> Verdict {
        let verdict = match ev {
            Event::Lost(_) => Verdict::ShowUncounted,
            Event::Malformed(m) => {
                report::malformed("inetmon audit", m);
                return Verdict::Drop;
            }
            _ => Verdict::Show,
        };
        let view = &self.view;
        match render_with(out, |w| write_event(view, ev, w)) {
            // (An event that is no audit record rendered nothing.)
            Ok(()) if !out.text.is_empty() => verdict,
            _ => Verdict::Drop,
        }
    }
}

/// Writes the line of one event, if it is an audit record passing the
/// filters, or a lost event.
fn write_event<W: Write>(view: &View, ev: &Event, out: &mut W) -> io::Result<()> {
    if let Event::Lost(l) = ev {
        let detail = l.breakdown_text();
        let line = if detail.is_empty() {
            format!("LOST: {} events ({})", l.count, l.stage.as_str())
        } else {
            format!("LOST: {} events ({}: {detail})", l.count, l.stage.as_str())
        };
        return side_line(view.json, "lost", l.header.time, &line, &view.tz, out);
    }
    let Some(r) = audit_record(ev) else {
        return Ok(());
    };
    let uid = match &r.body {
        AuditBody::Connection(a) | AuditBody::Server(a) => {
            if view
                .result
                .is_some_and(|want| a.started != (want == AuditResult::Started))
            {
                return Ok(());
            }
            a.uid
        }
        // UNIXP records have no result: only shown without --result.
        AuditBody::Unixp { uid, .. } => {
            if view.result.is_some() {
                return Ok(());
            }
            *uid
        }
    };
    if view.uid.is_some_and(|u| uid != Some(u)) {
        return Ok(());
    }
    view.fmt.write(&r, out)
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
