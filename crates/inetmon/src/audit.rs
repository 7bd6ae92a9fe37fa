//! `inetmon audit`: connection audit records (`dkaudit`) from the journal,
//! and with `--follow` live after them.
//!
//! The records and the mapping from socket events are described in
//! `inetmon_core::format::audit`. Loss stays visible: `lost` events (of the
//! journal, or of the live producer) print as `LOST:` lines and gap records
//! as `GAP:` lines, in the same layout.
//!
//! `--follow` subscribes to live records first, then prints the journal's
//! records, then the live ones as they happen, until SIGINT/SIGTERM. Live
//! records come from the daemon when its socket exists (client mode,
//! [`crate::remote`]: the socket events of the audited operations, with
//! the `--uid` filter applied by the daemon), else from this command's own
//! socket producer (the BPF programs those operations need, with the
//! segment programs for `--messages`, which the daemon does not collect:
//! `--messages` runs in-process, as root). An event that reached both the
//! journal and the subscription (the daemon journals and serves at once)
//! is printed once: live socket events already printed from the journal
//! (same time and sequence number) are dropped.

use std::collections::HashSet;
use std::io::{self, Write};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use inetmon_core::event::{Event, EventKind, Monitor, Timestamp};
use inetmon_core::format::audit::{audit_record, rfc3339_utc, AuditBody, AuditFormatter};
use inetmon_core::protocol::{FilterSpec, Request, SockFilterSpec};
use inetmon_core::sock_filter::{watch_set, SockFilter};
use inetmon_io::clients::RemoteSource;
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
    /// After the journal's records, go on with live ones until
    /// interrupted: from the daemon when its socket exists
    /// (`$INETMON_SOCKET`, else /run/inetmon/inetmon.sock), else from this
    /// command's own BPF programs.
    #[arg(long)]
    pub(crate) follow: bool,
    /// With `--follow`: run the socket-event programs in this process even
    /// when the daemon's socket exists.
    #[arg(long, requires = "follow")]
    pub(crate) local: bool,
    /// JSON lines.
    #[arg(short = 'j', long)]
    pub(crate) json: bool,
    /// Send the journal's records to a syslog server (TCP/TLS) instead of
    /// standard output (not with `--follow`).
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

/// How records are selected and printed, for the journal and live alike.
struct View {
    uid: Option<u32>,
    messages: bool,
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
        messages: args.messages,
        result: args.result,
        json: args.json,
        fmt: if args.json {
            AuditFormatter::json()
        } else {
            AuditFormatter::text(tz.clone())
        },
        tz,
    };
    // Subscribed before the journal is read, so nothing falls between the
    // two; what is in both is printed once (`seen`).
    let live_from = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let live = if args.follow {
        Some(start_live(args)?)
    } else {
        None
    };
    let mut seen = HashSet::new();
    if let Some(cfg) = args
        .remote
        .config("inetmon-audit", inetmon_io::sink::Facility::LOCAL0)?
    {
        if args.follow {
            return Err(Misuse(
                "--syslog-target sends the journal's records; it does not go with --follow".into(),
            )
            .into());
        }
        let reader = Reader::open(&args.dir.state_dir)?;
        let sink = inetmon_io::sink::NetSyslog::start(cfg)?;
        let mut out = crate::syslog_target::SyslogLines::new(sink);
        print_journal(&reader, since, until, &view, live_from, &mut seen, &mut out)?;
        let lost = out.close();
        if lost > 0 {
            report::unwritten("inetmon", "syslog", lost);
            report::error_line("inetmon", &format!("{lost} events lost"));
            return Ok(Status::Problems);
        }
        return Ok(Status::Clean);
    }
    match Reader::open(&args.dir.state_dir) {
        Ok(reader) => {
            let out = io::stdout();
            let mut out = io::BufWriter::new(out.lock());
            print_journal(&reader, since, until, &view, live_from, &mut seen, &mut out)?;
            out.flush()?;
        }
        // No journal yet (no daemon ever ran here): only live records.
        Err(JournalError::Missing { .. }) if args.follow => {}
        Err(JournalError::Io { error, .. })
            if args.follow && error.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    match live {
        Some(live) => follow(live, AuditStage { view, seen }),
        None => Ok(Status::Clean),
    }
}

/// A socket event's identity across the journal and the daemon's stream:
/// its time and its producer's sequence number.
type EventKey = (i64, u32, u64);

/// Where live records come from.
enum Live {
    /// The daemon's socket (client mode).
    Daemon(RemoteSource),
    /// This command's own socket producer.
    Local(Box<SocketsProducer>),
}

/// Prints the journal's records in `since..=until`; the keys of the socket
/// events printed that are not older than `live_from` (Unix seconds, less
/// a margin for the daemon's batching) go into `seen`.
fn print_journal(
    reader: &Reader,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    view: &View,
    live_from: i64,
    seen: &mut HashSet<EventKey>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let recent = live_from.saturating_sub(5);
    let filter = Filter {
        since,
        until,
        // (Segments are socket events too.)
        kinds: vec![EventKind::Sock, EventKind::Lost],
        gaps: true,
        ..Filter::default()
    };
    crate::journal_cmd::write_each(
        |each| reader.query(&filter, each),
        |rec| match &rec {
            Record::Gap { gap, .. } => {
                let line = format!(
                    "GAP: no records from {} ({})",
                    dk_time(gap.from, &view.tz),
                    gap.cause.text()
                );
                side_line(view.json, "gap", gap.to, &line, &view.tz, &mut *out)
            }
            Record::Event { event, .. } => {
                if let Event::Sock(s) = &**event {
                    if s.header.time.secs >= recent {
                        seen.insert(key(s));
                    }
                }
                write_event(view, event, &mut *out)
            }
        },
    )
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

fn key(s: &inetmon_core::event::SockEvent) -> EventKey {
    (s.header.time.secs, s.header.time.nanos, s.header.seq)
}

/// Subscribes to the daemon for `--follow`, or loads and attaches the
/// socket programs when no daemon serves (or `--local`, `--messages`).
fn start_live(args: &AuditArgs) -> anyhow::Result<Live> {
    let filter = SockFilter {
        monitors: Some(audit_monitors().to_vec()),
        uid: args.uid,
        ..SockFilter::default()
    };
    let request = Request {
        kinds: vec![EventKind::Sock],
        nflog_groups: Vec::new(),
        filter: FilterSpec::Sockets(SockFilterSpec::from_filter(&filter)),
    };
    let missing = crate::privilege::missing_caps(true, true);
    let remote = crate::remote::connect(
        &crate::remote::Want {
            cmd: "inetmon audit",
            local: args.local,
            // The daemon does not collect the segments of audited
            // connections.
            local_only: &[(args.messages, "--messages")],
            can_local: missing.is_none(),
        },
        &request,
    )?;
    if let Some(src) = remote {
        return Ok(Live::Daemon(src));
    }
    if let Some(missing) = missing {
        anyhow::bail!("audit --follow needs {missing} (or root), or a running daemon");
    }
    let cfg = SocketsConfig {
        filters: KernelFilters {
            uid: args.uid,
            watch: watch_set(Some(&audit_monitors())),
            segments: args.messages,
            ..KernelFilters::default()
        },
        ..SocketsConfig::default()
    };
    SocketsProducer::start(&cfg)
        .map(|p| Live::Local(Box::new(p)))
        .context("starting the socket-event programs")
}

/// `--follow`: live records until SIGINT/SIGTERM.
fn follow(live: Live, mut stage: AuditStage) -> anyhow::Result<Status> {
    let shutdown = Shutdown::on_signals().context("installing signal handlers")?;
    let mut producers = Producers::new(shutdown.clone(), DEFAULT_CAPACITY);
    let how = match live {
        Live::Daemon(src) => {
            crate::remote::spawn(src, &mut producers)?;
            format!(
                " (through the daemon at {})",
                crate::remote::path().display()
            )
        }
        Live::Local(producer) => {
            let thread = producer.spawn(producers.pipeline(), shutdown.clone(), Vec::new())?;
            producers.add("socket-event", thread, false);
            String::new()
        }
    };
    // The binary decides where text goes: this line tells scripts and
    // tests that the journal is printed and live records follow.
    #[allow(clippy::print_stderr)]
    {
        eprintln!("inetmon audit: following{how}");
    }
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
    /// Socket events already printed from the journal.
    seen: HashSet<EventKey>,
}

impl Stage for AuditStage {
    fn unwritten(&mut self, what: &str, count: u64) {
        report::unwritten("inetmon audit", what, count);
    }

    fn render(&mut self, ev: &mut Event, out: &mut Rendered) -> Verdict {
        let verdict = match ev {
            Event::Sock(s) if !self.seen.is_empty() && self.seen.remove(&key(s)) => {
                return Verdict::Drop;
            }
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
            if !view.messages || view.result.is_some() {
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
