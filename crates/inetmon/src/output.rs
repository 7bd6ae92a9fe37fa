//! The chosen output format, wrapping the core formatters: ipmon lines
//! (with a syslog level per line) or JSON objects.

use inetmon_core::event::Event;
use inetmon_core::format::ipmon::{IpmonFormatter, IpmonOptions, Rendered, LOG_INFO};
use inetmon_core::format::json::JsonWriter;
use inetmon_core::names::{ProtocolNames, ServiceNames};
use inetmon_io::resolver::{CachingResolver, ResolverConfig};

use crate::ipmon::FormatOptions;

/// One formatted line and its syslog priority.
pub(crate) struct FormattedLine<'a> {
    /// The text, with its trailing `\n` when it has one.
    pub(crate) text: &'a [u8],
    /// syslog(3) priority: the level in the low 3 bits; facility bits only
    /// when a rule's `log level` set them.
    pub(crate) priority: u16,
}

/// The formatter of a run.
pub(crate) enum Formatter {
    /// IP Filter 5.1 ipmon lines.
    Ipmon(Box<IpmonFormatter>, Rendered),
    /// One JSON object per line (`inetmon_core::format::json`), and the last
    /// line.
    Json(JsonWriter, Vec<u8>),
}

impl Formatter {
    /// The formatter for `opts`. `syslog_mode` drops the date, as ipmon -s
    /// does. Protocol and service names come from `/etc/protocols` and
    /// `/etc/services` (builtin tables when they cannot be read); times are
    /// in the local time zone (`TZ`). With `-n`, host names come from a
    /// cached resolver whose threads start here: in daemon mode, call this
    /// after daemonising.
    ///
    /// # Errors
    ///
    /// The `-n` resolver's threads cannot be started.
    pub(crate) fn new(opts: FormatOptions, syslog_mode: bool) -> anyhow::Result<Self> {
        if opts.json {
            return Ok(Formatter::Json(JsonWriter::new(), Vec::new()));
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
        Ok(Formatter::Ipmon(Box::new(f), Rendered::default()))
    }

    /// Whether `-X` dumps record headers (the decoders must then keep them).
    pub(crate) fn hex_header(&self) -> bool {
        matches!(self, Formatter::Ipmon(f, _) if f.options().hex_header)
    }

    /// Formats `event`; returns the bytes of all its lines back to back.
    pub(crate) fn format(&mut self, event: &Event) -> &[u8] {
        match self {
            Formatter::Ipmon(f, rendered) => {
                rendered.clear();
                f.format(event, rendered);
                &rendered.text
            }
            Formatter::Json(w, last) => {
                last.clear();
                last.extend_from_slice(w.format(event));
                last
            }
        }
    }

    /// The lines of the last [`Formatter::format`], with their priorities.
    pub(crate) fn lines(&self) -> impl Iterator<Item = FormattedLine<'_>> {
        let (ipmon, json) = match self {
            Formatter::Ipmon(_, rendered) => (Some(rendered), None),
            Formatter::Json(_, line) => (None, Some(line)),
        };
        let ipmon_lines = ipmon.into_iter().flat_map(|r| {
            r.iter().map(|(l, text)| FormattedLine {
                text,
                priority: l.priority,
            })
        });
        let json_line = json.map(|text| FormattedLine {
            text,
            priority: LOG_INFO,
        });
        ipmon_lines.chain(json_line)
    }
}
