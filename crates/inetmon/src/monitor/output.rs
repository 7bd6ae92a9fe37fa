//! Where monitor events go: text or JSON lines on standard output, the
//! pcapng file of `--write`, and the drop table of `--summary`.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};

use inetmon_core::drop_summary::DropSummary;
use inetmon_core::event::{Event, JSON_SCHEMA_VERSION};
use inetmon_core::format::json_datapath::{write_drop_json, write_trace_json};
use inetmon_core::format::json_sock::write_sock_json;
use inetmon_core::format::monitor::MonitorFormatter;
use inetmon_core::format::pcapng::PcapngWriter;
use inetmon_core::monitor_filter::MonitorFilter;

/// The printer of one monitor run.
pub(crate) struct Printer {
    pub(crate) filter: MonitorFilter,
    pub(crate) formatter: MonitorFormatter,
    pub(crate) json: bool,
    pub(crate) out: BufWriter<io::StdoutLock<'static>>,
    pub(crate) pcap: Option<PcapngWriter<BufWriter<File>>>,
    pub(crate) summary: Option<DropSummary>,
    /// Events printed (those that passed the filters).
    pub(crate) printed: u64,
    /// Events reported lost, and malformed records.
    pub(crate) problems: u64,
    /// The first output error; nothing more is written after it.
    pub(crate) err: Option<io::Error>,
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
            json,
            out: BufWriter::with_capacity(256 * 1024, io::stdout().lock()),
            pcap,
            summary,
            printed: 0,
            problems: 0,
            err: None,
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
                return;
            }
        }
        self.text.clear();
        if self.json {
            let mut buf = std::mem::take(&mut self.text).into_bytes();
            json_line(ev, &self.formatter, &mut buf);
            self.text = String::from_utf8(buf).unwrap_or_default();
        } else {
            self.formatter.format_into(&mut self.text, ev);
        }
        if let Err(e) = self.out.write_all(self.text.as_bytes()) {
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
        let r = self
            .out
            .flush()
            .and_then(|()| self.pcap.as_mut().map_or(Ok(()), PcapngWriter::flush));
        if let Err(e) = r {
            self.err = Some(e);
        }
    }
}

/// One JSON object (and a newline) for `ev`: the common members (schema,
/// kind, time, source, seq), then the kind's own members. Packet, NAT and
/// state events carry their monitor line as `text` until the project's
/// JSON schema for them lands in `format::json`.
fn json_line(ev: &Event, fmt: &MonitorFormatter, out: &mut Vec<u8>) {
    let h = ev.header();
    let t = h.time;
    let when = jiff::Timestamp::new(t.secs, i32::try_from(t.nanos).unwrap_or(0))
        .map(|ts| ts.to_string())
        .unwrap_or_default();
    let _ = write!(
        out,
        "{{\"schema\":{JSON_SCHEMA_VERSION},\"kind\":\"{}\",\"time\":\"{when}\",\"source\":{},\"seq\":{},",
        ev.kind().as_str(),
        json_str(&h.source.to_string()),
        h.seq
    );
    match ev {
        Event::Drop(d) => write_drop_json(d, out),
        Event::Trace(t) => write_trace_json(t, out),
        Event::Sock(s) => write_sock_json(s, out),
        Event::Lost(l) => {
            let kinds: Vec<String> = l
                .kinds
                .iter()
                .map(|k| format!("\"{}\"", k.as_str()))
                .collect();
            let _ = write!(
                out,
                "\"stage\":\"{}\",\"count\":{},\"kinds\":[{}]",
                l.stage.as_str(),
                l.count,
                kinds.join(",")
            );
        }
        Event::Malformed(m) => {
            let _ = write!(
                out,
                "\"offset\":{},\"skipped\":{},\"reason\":{}",
                m.offset,
                m.skipped,
                json_str(&m.reason)
            );
        }
        Event::Packet(_) | Event::Nat(_) | Event::State(_) => {
            let text = fmt.format(ev);
            let _ = write!(out, "\"text\":{}", json_str(text.trim_end()));
        }
    }
    out.extend_from_slice(b"}\n");
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}
