//! Where monitor events go: text or JSON lines on standard output, the
//! pcapng file of `--write`, and the drop table of `--summary`.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};

use inetmon_core::drop_summary::DropSummary;
use inetmon_core::event::Event;
use inetmon_core::format::json::JsonWriter;
use inetmon_core::format::monitor::MonitorFormatter;
use inetmon_core::format::pcapng::PcapngWriter;
use inetmon_core::monitor_filter::MonitorFilter;

/// The printer of one monitor run.
pub(crate) struct Printer {
    pub(crate) filter: MonitorFilter,
    pub(crate) formatter: MonitorFormatter,
    /// The JSON writer, when `-j` was given.
    pub(crate) json: Option<JsonWriter>,
    pub(crate) out: BufWriter<io::StdoutLock<'static>>,
    pub(crate) pcap: Option<PcapngWriter<BufWriter<File>>>,
    pub(crate) summary: Option<DropSummary>,
    /// Events printed (those that passed the filters).
    pub(crate) printed: u64,
    /// Events reported lost, and malformed records.
    pub(crate) problems: u64,
    /// The first output error; nothing more is written after it.
    pub(crate) err: Option<io::Error>,
    /// Whether `err` came from the pcapng file (else standard output).
    pub(crate) err_in_pcap: bool,
    text: String,
}

impl Printer {
    /// A printer to standard output.
    pub(crate) fn new(
        filter: MonitorFilter,
        formatter: MonitorFormatter,
        json: bool,
        pcap: Option<PcapngWriter<BufWriter<File>>>,
        summary: Option<DropSummary>,
    ) -> Self {
        Printer {
            filter,
            formatter,
            json: json.then(JsonWriter::new),
            out: BufWriter::with_capacity(256 * 1024, io::stdout().lock()),
            pcap,
            summary,
            printed: 0,
            problems: 0,
            err: None,
            err_in_pcap: false,
            text: String::with_capacity(1024),
        }
    }

    /// Filters, counts and writes one event.
    pub(crate) fn event(&mut self, ev: &Event) {
        if self.err.is_some() || !self.filter.matches(ev) {
            return;
        }
        match ev {
            Event::Lost(l) => self.problems = self.problems.saturating_add(l.count),
            Event::Malformed(_) => self.problems = self.problems.saturating_add(1),
            _ => {}
        }
        if let Some(s) = &mut self.summary {
            s.add_event(ev);
            return;
        }
        self.printed += 1;
        if let Some(p) = &mut self.pcap {
            if let Err(e) = p.write_event(ev) {
                self.err = Some(e);
                self.err_in_pcap = true;
                return;
            }
        }
        let r = if let Some(json) = &mut self.json {
            json.write(ev, &mut self.out)
        } else {
            self.text.clear();
            self.formatter.format_into(&mut self.text, ev);
            self.out.write_all(self.text.as_bytes())
        };
        if let Err(e) = r {
            self.err = Some(e);
        }
    }

    /// `--summary`: ends the interval and prints the table (after clearing
    /// the screen when standard output is a terminal).
    pub(crate) fn summary_tick(&mut self) {
        let Some(s) = &mut self.summary else { return };
        s.end_interval();
        let tty = io::stdout().is_terminal();
        let table = s.render(if tty { 40 } else { 0 });
        let r = if tty {
            write!(self.out, "\x1b[H\x1b[2J{table}")
        } else {
            writeln!(self.out, "{table}")
        };
        if let Err(e) = r {
            self.err = Some(e);
        }
    }

    /// Flushes standard output and the pcapng file.
    pub(crate) fn flush(&mut self) {
        if self.err.is_some() {
            return;
        }
        if let Err(e) = self.out.flush() {
            self.err = Some(e);
        } else if let Err(e) = self.pcap.as_mut().map_or(Ok(()), PcapngWriter::flush) {
            self.err = Some(e);
            self.err_in_pcap = true;
        }
    }
}
