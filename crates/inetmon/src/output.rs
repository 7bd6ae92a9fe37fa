//! The chosen output format, wrapping the core formatters: ipmon lines
//! (with a syslog level per line) or JSON objects.

use inetmon_core::event::Event;
use inetmon_core::format::ipmon::{IpmonFormatter, IpmonOptions, Rendered};
use inetmon_core::names::{ProtocolNames, ServiceNames};

use crate::ipmon::FormatOptions;

/// The formatter of a run.
pub(crate) enum Formatter {
    /// IP Filter 5.1 ipmon lines.
    Ipmon(Box<IpmonFormatter>, Rendered),
}

impl Formatter {
    /// The formatter for `opts`. `syslog_mode` drops the date, as ipmon -s
    /// does. Protocol and service names come from `/etc/protocols` and
    /// `/etc/services` (builtin tables when they cannot be read); times are
    /// in the local time zone (`TZ`).
    ///
    /// # Errors
    ///
    /// JSON output is not in this build yet.
    pub(crate) fn new(opts: FormatOptions, syslog_mode: bool) -> anyhow::Result<Self> {
        if opts.json {
            anyhow::bail!("JSON output is not in this build yet (waiting for format::json)");
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
        let f = IpmonFormatter::new(ipmon, jiff::tz::TimeZone::system())
            .with_tables(protocols, services);
        Ok(Formatter::Ipmon(Box::new(f), Rendered::default()))
    }

    /// Formats `event`; returns the bytes of all its lines back to back.
    pub(crate) fn format(&mut self, event: &Event) -> &[u8] {
        match self {
            Formatter::Ipmon(f, rendered) => {
                rendered.clear();
                f.format(event, rendered);
                &rendered.text
            }
        }
    }
}
