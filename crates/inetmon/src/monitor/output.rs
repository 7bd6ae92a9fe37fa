//! Filter → format of `inetmon monitor` ([`MonitorStage`]: text or JSON
//! lines, or the drop table of `--summary`) and the pcapng file of
//! `--write` ([`PcapSink`]).

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};

use inetmon_core::drop_summary::DropSummary;
use inetmon_core::event::Event;
use inetmon_core::format::json::JsonWriter;
use inetmon_core::format::monitor::MonitorFormatter;
use inetmon_core::format::pcapng::PcapngWriter;
use inetmon_core::monitor_filter::MonitorFilter;
use inetmon_io::consumer::{render_with, Delivery, Rendered, Sink, Stage, Verdict};
use inetmon_io::datapath::DropCounter;
use inetmon_io::sink::SinkError;

/// The stage of one monitor run.
pub(crate) struct MonitorStage {
    filter: MonitorFilter,
    formatter: MonitorFormatter,
    /// The JSON writer, when `-j` was given.
    json: Option<JsonWriter>,
    summary: Option<DropSummary>,
    /// `--summary`: the kernel's drop counts.
    counts: Option<DropCounter>,
    tty: bool,
    text: String,
}

impl MonitorStage {
    /// A stage with these filters and formatters; with `summary`, drops
    /// are counted into the table (from `counts` when the kernel counts
    /// them) instead of printed.
    pub(crate) fn new(
        filter: MonitorFilter,
        formatter: MonitorFormatter,
        json: bool,
        summary: Option<DropSummary>,
        counts: Option<DropCounter>,
    ) -> Self {
        MonitorStage {
            filter,
            formatter,
            json: json.then(JsonWriter::new),
            summary,
            counts,
            tty: io::stdout().is_terminal(),
            text: String::with_capacity(1024),
        }
    }
}

impl Stage for MonitorStage {
    fn unwritten(&mut self, what: &str, count: u64) {
        crate::report::unwritten("inetmon monitor", what, count);
    }

    fn render(&mut self, ev: &mut Event, out: &mut Rendered) -> Verdict {
        if !self.filter.matches(ev) {
            return Verdict::Drop;
        }
        if let Some(s) = &mut self.summary {
            s.add_event(ev);
            return Verdict::Drop;
        }
        let r = if let Some(json) = &mut self.json {
            render_with(out, |w| json.write(ev, w))
        } else {
            self.text.clear();
            self.formatter.format_into(&mut self.text, ev);
            render_with(out, |w| w.write_all(self.text.as_bytes()))
        };
        if r.is_err() {
            return Verdict::Drop;
        }
        Verdict::Show
    }

    /// `--summary`: ends the interval and renders the table (after
    /// clearing the screen when standard output is a terminal).
    fn tick(&mut self, out: &mut Rendered) -> bool {
        let Some(s) = &mut self.summary else {
            return false;
        };
        if let Some(c) = &self.counts {
            for (key, n) in c.counts() {
                s.set_count(key, n);
            }
        }
        s.end_interval();
        let table = s.render(if self.tty { 40 } else { 0 });
        let tty = self.tty;
        render_with(out, |w| {
            if tty {
                write!(w, "\x1b[H\x1b[2J{table}")
            } else {
                writeln!(w, "{table}")
            }
        })
        .is_ok()
    }
}

/// `--write`: the packets of drops and traces as pcapng, and what a
/// failed write says (`write PATH`).
pub(crate) struct PcapSink(pub(crate) PcapngWriter<BufWriter<File>>, pub(crate) String);

impl PcapSink {
    fn error(&self, e: io::Error) -> SinkError {
        SinkError::Io {
            what: self.1.clone(),
            source: e,
        }
    }
}

impl Sink for PcapSink {
    fn deliver(&mut self, ev: Option<&Event>, _out: &Rendered) -> Result<Delivery, SinkError> {
        if let Some(ev) = ev {
            if let Err(e) = self.0.write_event(ev) {
                return Err(self.error(e));
            }
        }
        Ok(Delivery::Passed)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        match self.0.flush() {
            Ok(()) => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }
}
