//! `inetmon collect`: the fleet view. Reads the events every host's daemon
//! exported to NATS JetStream (`[export.nats]`) and prints them with the
//! host name, in the existing formats: each text line starts with the host
//! (`web1 2026-12-06 09:00:00.000001 …`), each JSON object has `"host"`
//! (and `"journal_seq"`, the record's number in that host's journal).
//!
//! An ephemeral ordered consumer by default (`--since T`: messages stored
//! since T; `--all`: everything the stream holds; neither: only new ones);
//! `--durable NAME` uses a durable consumer that remembers what was
//! acknowledged, so a restarted `collect` goes on where it stopped (each
//! message is acknowledged after it was written; what was fetched but not
//! printed is given back at exit).

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use inetmon_core::event::{Event, EventKind, Timestamp};
use inetmon_core::format::ahafs::{AhafsFormatter, InfoLevel};
use inetmon_core::format::audit::{audit_record, AuditFormatter};
use inetmon_core::format::ipmon::{IpmonFormatter, IpmonOptions, Rendered};
use inetmon_io::export::nats::{CollectConfig, Collector, Delivered};
use inetmon_io::export::{self, GAP_KIND};
use inetmon_io::journal::Record;
use jiff::tz::TimeZone;

use crate::cli::StopFlags;
use crate::journal_cmd::{parse_time, Printer};
use crate::report::Status;
use crate::Misuse;

/// `inetmon collect`.
#[derive(Debug, Args)]
pub(crate) struct CollectArgs {
    /// The NATS server (`nats://host:4222`, `tls://host:4222`; several
    /// separated by commas).
    #[arg(long, value_name = "URL")]
    pub(crate) nats: String,
    /// The JetStream stream the daemons export to.
    #[arg(long, value_name = "NAME", default_value = export::DEFAULT_STREAM)]
    pub(crate) stream: String,
    /// Messages stored since this time (RFC 3339, local `YYYY-MM-DD[
    /// HH:MM[:SS]]`, or an age such as `15m`); events older than it are not
    /// shown. Without `--since` or `--all`: only new messages.
    #[arg(long, value_name = "TIME", conflicts_with = "all")]
    pub(crate) since: Option<String>,
    /// Every message the stream holds.
    #[arg(long)]
    pub(crate) all: bool,
    /// A durable consumer of this name (created if missing): a restarted
    /// collect goes on after the last message it acknowledged.
    #[arg(long, value_name = "NAME")]
    pub(crate) durable: Option<String>,
    /// Only this host.
    #[arg(long, value_name = "HOST")]
    pub(crate) host: Option<String>,
    #[command(flatten)]
    pub(crate) events: crate::journal_cmd::EventFlags,
    /// Output format: `text` (socket lines and monitor lines, as `journal
    /// query`), `json`, `ipmon` (packet, NAT and state events), `ahafs`
    /// (socket events as AHAFS blocks), `monitor` (every event as a monitor
    /// line), `audit` (dkaudit records).
    #[arg(long, value_enum, default_value_t = CollectFormat::Text)]
    pub(crate) format: CollectFormat,
    /// JSON lines (`--format json`).
    #[arg(short = 'j', long)]
    pub(crate) json: bool,
    /// A NATS credentials file.
    #[arg(long, value_name = "FILE")]
    pub(crate) creds: Option<PathBuf>,
    /// A PEM file of CA certificates for TLS.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) stop: StopFlags,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CollectFormat {
    /// Socket lines and monitor lines.
    Text,
    /// JSON lines with `host`.
    Json,
    /// ipmon lines of packet, NAT and state events.
    Ipmon,
    /// AHAFS event blocks of socket events.
    Ahafs,
    /// Monitor lines of every event.
    Monitor,
    /// dkaudit records.
    Audit,
}

/// What a message must match to be shown.
struct Want {
    kinds: Option<Vec<EventKind>>,
    gaps: bool,
    since: Option<Timestamp>,
    uid: Option<u32>,
    comm: Option<String>,
    ip: Option<IpAddr>,
    port: Option<u16>,
}

impl Want {
    fn event(&self, ev: &Event) -> bool {
        if self.kinds.as_ref().is_some_and(|k| !k.contains(&ev.kind())) {
            return false;
        }
        if self.since.is_some_and(|t| ev.header().time < t) {
            return false;
        }
        let f = ev.facts();
        if self.uid.is_some_and(|u| f.uid != Some(u)) {
            return false;
        }
        if self.comm.as_deref().is_some_and(|c| f.comm != Some(c)) {
            return false;
        }
        let ends = [f.end1, f.end2];
        if self
            .ip
            .is_some_and(|ip| !ends.iter().flatten().any(|(a, _)| *a == ip))
        {
            return false;
        }
        if self
            .port
            .is_some_and(|p| !ends.iter().flatten().any(|(_, q)| *q == Some(p)))
        {
            return false;
        }
        true
    }
}

/// Runs `inetmon collect`.
pub(crate) fn run(args: &CollectArgs) -> anyhow::Result<Status> {
    let (cfg, want) = config(args)?;
    let format = if args.json {
        CollectFormat::Json
    } else {
        args.format
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(collect(cfg, want, format, &args.stop))
}

fn config(args: &CollectArgs) -> Result<(CollectConfig, Want), Misuse> {
    if !export::valid_stream(&args.stream) {
        return Err(Misuse(format!(
            "--stream: {:?} is not a stream name (1-64 of A-Z a-z 0-9 - _)",
            args.stream
        )));
    }
    if let Some(h) = &args.host {
        if !export::valid_host(h) {
            return Err(Misuse(format!(
                "--host: {h:?} is not an exported host name (1-64 of A-Z a-z 0-9 - _)"
            )));
        }
    }
    if let Some(d) = &args.durable {
        if !export::valid_stream(d) {
            return Err(Misuse(format!(
                "--durable: {d:?} is not a consumer name (1-64 of A-Z a-z 0-9 - _)"
            )));
        }
    }
    if args.nats.trim().is_empty() {
        return Err(Misuse("--nats: empty URL".into()));
    }
    let since = args
        .since
        .as_deref()
        .map(|s| parse_time(s).map_err(|m| Misuse(format!("--since: {m}"))))
        .transpose()?;
    let mut kinds = None;
    let mut gaps = true;
    let mut subject_kind = None;
    if let Some(list) = &args.events.kind {
        let mut ks = Vec::new();
        gaps = false;
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if name == GAP_KIND {
                gaps = true;
            } else {
                ks.push(EventKind::from_name(name).ok_or_else(|| {
                    Misuse(format!(
                        "--kind: unknown kind {name:?}; known: packet, nat, state, sock, drop, trace, debug, lost, malformed, gap"
                    ))
                })?);
            }
        }
        if ks.is_empty() && !gaps {
            return Err(Misuse("--kind: no kind given".into()));
        }
        // One kind: the server filters by subject.
        subject_kind = match (ks.as_slice(), gaps) {
            ([k], false) => Some(k.as_str().to_owned()),
            ([], true) => Some(GAP_KIND.to_owned()),
            _ => None,
        };
        kinds = Some(ks);
    }
    let cfg = CollectConfig {
        url: args.nats.trim().to_owned(),
        stream: args.stream.clone(),
        creds: args.creds.clone(),
        ca_file: args.ca_file.clone(),
        durable: args.durable.clone(),
        since,
        all: args.all,
        host: args.host.clone(),
        kind: subject_kind,
    };
    let want = Want {
        kinds,
        gaps,
        since,
        uid: args.events.uid,
        comm: args.events.comm.clone(),
        ip: args.events.ip,
        port: args.events.port,
    };
    Ok((cfg, want))
}

async fn collect(
    cfg: CollectConfig,
    want: Want,
    format: CollectFormat,
    stop: &StopFlags,
) -> anyhow::Result<Status> {
    let mut collector = Collector::open(&cfg).await?;
    let mut out = Out::new(format);
    let stdout = io::stdout();
    let mut w = io::BufWriter::new(stdout.lock());
    let mut shown = 0u64;
    let mut damaged = 0u64;
    let deadline = stop
        .duration
        .map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    if stop.count == Some(0) {
        return Ok(Status::Clean);
    }
    loop {
        let next = tokio::select! {
            m = collector.next() => m,
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            () = sleep_until(deadline) => break,
        };
        let d = match next {
            None => break,
            Some(Err(e)) => {
                crate::report::error_line("inetmon collect", &e.to_string());
                damaged += 1;
                continue;
            }
            Some(Ok(d)) => d,
        };
        let show = match &d.item {
            Ok(Record::Event { event, .. }) => want.event(event),
            Ok(Record::Gap { .. }) => want.gaps,
            Err(why) => {
                crate::report::error_line(
                    "inetmon collect",
                    &format!("{}: unreadable message: {why}", d.host),
                );
                damaged += 1;
                false
            }
        };
        if show && out.write(&d, &mut w)? {
            shown += 1;
        }
        w.flush()?;
        if collector.durable() {
            d.ack().await?;
        }
        if stop.count.is_some_and(|n| shown >= n) {
            break;
        }
    }
    w.flush()?;
    collector.release().await;
    Ok(if damaged > 0 {
        Status::Problems
    } else {
        Status::Clean
    })
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The formatters, one set per host where they keep state (ipmon's
/// `missed` counters, AHAFS sequence numbers).
struct Out {
    format: CollectFormat,
    printer: Printer,
    json: Printer,
    tz: TimeZone,
    ipmon: HashMap<String, IpmonFormatter>,
    ahafs: HashMap<String, AhafsFormatter>,
    audit: AuditFormatter,
    monitor: inetmon_core::format::monitor::MonitorFormatter,
    buf: Vec<u8>,
}

impl Out {
    fn new(format: CollectFormat) -> Out {
        let tz = TimeZone::system();
        Out {
            format,
            printer: Printer::new(false),
            json: Printer::new(true),
            ipmon: HashMap::new(),
            ahafs: HashMap::new(),
            audit: AuditFormatter::text(tz.clone()),
            monitor: inetmon_core::format::monitor::MonitorFormatter::new(
                inetmon_core::format::monitor::MonitorOptions::default(),
            ),
            tz,
            buf: Vec::with_capacity(512),
        }
    }

    /// Writes `d` in the format; false when the format has nothing for it.
    fn write<W: Write>(&mut self, d: &Delivered, w: &mut W) -> io::Result<bool> {
        let Ok(rec) = &d.item else {
            return Ok(false);
        };
        self.buf.clear();
        let event = match rec {
            Record::Event { event, .. } => Some(&**event),
            Record::Gap { .. } => None,
        };
        match (self.format, event) {
            (CollectFormat::Json, _) => {
                self.json.write(rec, &mut self.buf)?;
                return write_json(w, &d.host, d.journal_seq, &self.buf).map(|()| true);
            }
            (CollectFormat::Text, _) | (_, None) => self.printer.write(rec, &mut self.buf)?,
            (CollectFormat::Monitor, Some(ev)) => {
                let text = self.monitor.format(ev);
                write!(
                    self.buf,
                    "{} {text}",
                    crate::journal_cmd::local_time(ev.header().time, &self.tz)
                )?;
                if !text.ends_with('\n') {
                    writeln!(self.buf)?;
                }
            }
            (CollectFormat::Ipmon, Some(ev)) => {
                if !matches!(
                    ev,
                    Event::Packet(_) | Event::Nat(_) | Event::State(_) | Event::Lost(_)
                ) {
                    return Ok(false);
                }
                let tz = self.tz.clone();
                let f = self
                    .ipmon
                    .entry(d.host.clone())
                    .or_insert_with(|| IpmonFormatter::new(IpmonOptions::default(), tz));
                let mut r = Rendered::default();
                f.format(ev, &mut r);
                self.buf.extend_from_slice(&r.text);
            }
            (CollectFormat::Ahafs, Some(ev)) => {
                let Event::Sock(s) = ev else {
                    return Ok(false);
                };
                let tz = self.tz.clone();
                let f = self
                    .ahafs
                    .entry(d.host.clone())
                    .or_insert_with(|| AhafsFormatter::new(InfoLevel::Two, tz));
                if !f.write(s, &mut self.buf)? {
                    return Ok(false);
                }
            }
            (CollectFormat::Audit, Some(ev)) => {
                if let Event::Lost(_) = ev {
                    self.printer.write(rec, &mut self.buf)?;
                } else {
                    let Some(r) = audit_record(ev) else {
                        return Ok(false);
                    };
                    self.audit.write(&r, &mut self.buf)?;
                }
            }
        }
        if self.buf.is_empty() {
            return Ok(false);
        }
        // The host before every line.
        for line in self.buf.split_inclusive(|b| *b == b'\n') {
            w.write_all(d.host.as_bytes())?;
            w.write_all(b" ")?;
            w.write_all(line)?;
        }
        if self.buf.last() != Some(&b'\n') {
            w.write_all(b"\n")?;
        }
        Ok(true)
    }
}

/// A JSON line with `"host"` and `"journal_seq"` first.
fn write_json<W: Write>(w: &mut W, host: &str, seq: Option<u64>, line: &[u8]) -> io::Result<()> {
    let Some(rest) = line.strip_prefix(b"{") else {
        return w.write_all(line);
    };
    // The host is checked to be `A-Z a-z 0-9 - _` by the exporter's
    // configuration; anything else is escaped through serde_json.
    let host = serde_json::to_string(host).unwrap_or_else(|_| "\"?\"".to_owned());
    match seq {
        Some(s) => write!(w, "{{\"host\":{host},\"journal_seq\":{s},")?,
        None => write!(w, "{{\"host\":{host},")?,
    }
    w.write_all(rest)
}
