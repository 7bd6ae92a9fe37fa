//! The ipmon-or-JSON stage of `inetmon read` and `inetmon ipmon`: formats
//! every event into the consumer's [`Rendered`] (ipmon lines with a syslog
//! priority each, or one JSON object per line), reports malformed records
//! on standard error, and merges identical queued NFLOG packets (`Nx`).

use inetmon_core::decode::nflog::NflogLine;
use inetmon_core::event::{Event, PacketLog, Source};
use inetmon_core::format::ipmon::{IpmonFormatter, IpmonOptions, Line, LOG_INFO};
use inetmon_core::format::json::{JsonOptions, JsonWriter};
use inetmon_core::names::{ProtocolNames, ServiceNames};
use inetmon_io::consumer::{Rendered, Stage, Verdict};
use inetmon_io::resolver::{CachingResolver, ResolverConfig};
use inetmon_io::sink::{Level, LineSink, Severity, Syslog};

use crate::report;

/// Formatter options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[expect(clippy::struct_excessive_bools, reason = "one bool per ipmon flag")]
pub(crate) struct FormatOptions {
    /// `--json`
    pub(crate) json: bool,
    /// `-v`
    pub(crate) verbose: bool,
    /// `-x`
    pub(crate) hex: bool,
    /// `-X`
    pub(crate) hex_header: bool,
    /// `-b`
    pub(crate) body: bool,
    /// `-n`
    pub(crate) resolve: bool,
    /// `-p`
    pub(crate) numeric_ports: bool,
    /// `read --format json --no-packet-bytes`: JSON packet objects without
    /// the `packet` key (the bytes in hex, about half of each line).
    pub(crate) no_packet_bytes: bool,
}

impl FormatOptions {
    /// Whether `-X` dumps record headers in ipmon text, so the decoders
    /// must keep each NFLOG netlink message or pcap record.
    pub(crate) fn keeps_nflog_records(&self) -> bool {
        self.hex_header && !self.json
    }
}

/// The formatter of a run.
enum Formatter {
    /// IP Filter 5.1 ipmon lines.
    Ipmon(Box<IpmonFormatter>),
    /// One JSON object per line (`inetmon_core::format::json`).
    Json(JsonWriter),
}

impl Formatter {
    fn new(opts: FormatOptions, syslog_mode: bool) -> anyhow::Result<Self> {
        if opts.json {
            return Ok(Formatter::Json(JsonWriter::with_options(JsonOptions {
                packet_bytes: !opts.no_packet_bytes,
            })));
        }
        let ipmon = IpmonOptions {
            resolve: opts.resolve,
            numeric_ports: opts.numeric_ports,
            verbose: opts.verbose,
            hex_packet: opts.hex,
            hex_header: opts.hex_header,
            hex_body: opts.body,
            syslog_mode,
        };
        let protocols = std::fs::read_to_string("/etc/protocols")
            .map_or_else(|_| ProtocolNames::builtin(), |t| ProtocolNames::parse(&t));
        let services = std::fs::read_to_string("/etc/services")
            .map_or_else(|_| ServiceNames::builtin(), |t| ServiceNames::parse(&t));
        let mut f = IpmonFormatter::new(ipmon, jiff::tz::TimeZone::system())
            .with_tables(protocols, services);
        if opts.resolve {
            let resolver = CachingResolver::new(ResolverConfig::default())
                .map_err(|e| anyhow::anyhow!("starting the name resolver: {e}"))?;
            f = f.with_resolver(Box::new(resolver));
        }
        Ok(Formatter::Ipmon(Box::new(f)))
    }

    fn format(&mut self, event: &Event, out: &mut Rendered) {
        match self {
            Formatter::Ipmon(f) => f.format(event, out),
            Formatter::Json(w) => {
                let start = out.text.len();
                w.format_into(event, &mut out.text);
                out.lines.push(Line {
                    start,
                    end: out.text.len(),
                    priority: LOG_INFO,
                });
            }
        }
    }
}

/// The formatter of one worker thread of the parallel file reader
/// (`inetmon_io::parallel_read`): built from the same options as the run's
/// [`IpmonStage`] (stages are not `Clone`: the formatter may hold a
/// resolver), it formats what the stage's [`Stage::render`] would show for
/// a packet, appending the text to the worker's chunk.
pub(crate) struct ChunkFormat {
    formatter: Formatter,
    scratch: Rendered,
}

impl ChunkFormat {
    /// A worker's formatter for `opts` (ipmon lines with the date, or
    /// JSON); `None` with `-n`, whose resolver answers are not the same on
    /// every thread: those runs stay sequential.
    ///
    /// # Errors
    ///
    /// As for [`IpmonStage::new`].
    pub(crate) fn new(opts: FormatOptions) -> Option<anyhow::Result<Self>> {
        if opts.resolve {
            return None;
        }
        Some(Formatter::new(opts, false).map(|formatter| ChunkFormat {
            formatter,
            scratch: Rendered::default(),
        }))
    }
}

impl inetmon_io::parallel_read::ChunkFormatter for ChunkFormat {
    fn format_into(&mut self, event: &Event, out: &mut Vec<u8>) -> bool {
        if matches!(event, Event::Malformed(_)) {
            // The stage reports these on standard error: sequential path.
            return false;
        }
        // Render straight into `out` (the line list is not needed).
        std::mem::swap(&mut self.scratch.text, out);
        self.scratch.lines.clear();
        self.formatter.format(event, &mut self.scratch);
        std::mem::swap(&mut self.scratch.text, out);
        true
    }

    fn takes_nflog_lines(&self) -> bool {
        matches!(self.formatter, Formatter::Ipmon(_))
    }

    fn format_nflog_line(&mut self, line: &NflogLine<'_>, out: &mut Vec<u8>) -> bool {
        match &mut self.formatter {
            Formatter::Ipmon(f) => f.format_nflog_line(line, out),
            Formatter::Json(_) => false,
        }
    }
}

/// The stage of `read` and `ipmon`.
pub(crate) struct IpmonStage {
    opts: FormatOptions,
    syslog_mode: bool,
    formatter: Formatter,
    prog: String,
    /// Each input is its own log (`inetmon read`): new `missed` counters.
    pub(crate) log_per_input: bool,
    /// With `-D` standard error is `/dev/null`: notices (a failed SIGHUP
    /// reopen) also go to syslog.
    pub(crate) notices: Option<Syslog>,
}

impl IpmonStage {
    /// The stage for `opts`. `syslog_mode` drops the date, as ipmon -s
    /// does. Protocol and service names come from `/etc/protocols` and
    /// `/etc/services` (builtin tables when they cannot be read); times are
    /// in the local time zone (`TZ`). With `-n`, host names come from a
    /// cached resolver whose threads start here: in daemon mode, call this
    /// after daemonising.
    ///
    /// # Errors
    ///
    /// The `-n` resolver's threads cannot be started.
    pub(crate) fn new(opts: FormatOptions, syslog_mode: bool, prog: &str) -> anyhow::Result<Self> {
        Ok(IpmonStage {
            opts,
            syslog_mode,
            formatter: Formatter::new(opts, syslog_mode)?,
            prog: prog.to_owned(),
            log_per_input: false,
            notices: None,
        })
    }
}

impl Stage for IpmonStage {
    fn render(&mut self, ev: &mut Event, out: &mut Rendered) -> Verdict {
        if let Event::Malformed(m) = ev {
            report::malformed(&self.prog, m);
            return Verdict::Drop;
        }
        self.formatter.format(ev, out);
        Verdict::Show
    }

    fn absorb(&mut self, into: &mut Event, next: &Event) -> bool {
        match (into, next) {
            (Event::Packet(p), Event::Packet(q)) if same_record(p, q) => {
                p.count = p.count.saturating_add(q.count.max(1));
                true
            }
            _ => false,
        }
    }

    fn new_input(&mut self) {
        if self.log_per_input {
            // Same options as when the stage was built, which succeeded.
            if let Ok(f) = Formatter::new(self.opts, self.syslog_mode) {
                self.formatter = f;
            }
        }
    }

    fn unwritten(&mut self, what: &str, count: u64) {
        report::unwritten(&self.prog, what, count);
    }

    fn notice(&mut self, text: &str) {
        report::error_line(&self.prog, text);
        if let Some(syslog) = &mut self.notices {
            // Best effort: the notice is not worth failing the run.
            let _ = syslog.write_line(text, Level::new(Severity::WARNING));
            let _ = syslog.flush();
        }
    }
}

/// Whether two logged packets are one record for ipmon's `Nx` count:
/// NFLOG packets equal in everything but time and sequence numbers.
fn same_record(a: &PacketLog, b: &PacketLog) -> bool {
    // Not compared: the time and sequence numbers, the count, the raw header.
    // The packet bytes first: they are what differs between most packets,
    // so a busy rule's packets are told apart by one comparison.
    fn key(p: &PacketLog) -> impl PartialEq + '_ {
        let nflog = p.nflog.as_ref();
        (
            (&p.packet, &p.header.source, &p.interface, &p.direction),
            (
                &p.group, &p.rule, &p.action, &p.flags, &p.log_tag, &p.nat_tag,
            ),
            (&p.reason, &p.log_level, &p.family, &p.header_len),
            nflog.map(|n| (n.group, &n.prefix, n.hook, n.ifindex_in, n.ifindex_out)),
        )
    }
    matches!(a.header.source, Source::Nflog(_)) && key(a) == key(b)
}
