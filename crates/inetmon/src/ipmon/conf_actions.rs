//! `ipmon -C FILE`: the actions of an ipmon.conf file, run for every
//! record that a `match` line selects (`inetmon_core::ipmon_conf` parses the
//! file and matches): packet records against lines without `type`, NAT and
//! state records (from `-N`/`-S` files or conntrack) against `type = nat` /
//! `type = state` lines.
//!
//! As in IP Filter, when any line matched a record, the normal output line
//! and its hex dumps are not written. The actions:
//!
//! - `file("file:///path")` appends the record's text lines to `path`;
//! - `file("raw:///path")` appends its IP Filter binary record;
//! - `syslog[("fac.pri")]` sends the text (without the date) to syslog, the
//!   given facility and/or priority replacing the computed one;
//! - `execute("cmd")` runs `sh -c cmd` with the text on its standard input
//!   (without waiting for it: finished commands are reaped later);
//! - `nothing` does nothing.
//!
//! Files are opened on first use, in append mode, and kept open.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::Context as _;
use inetmon_core::decode::iplog::IplogEncoder;
use inetmon_core::event::Event;
use inetmon_core::ipmon_conf::{self, Action};
use inetmon_core::names::ProtocolNames;
use inetmon_io::consumer::{Delivery, Rendered, Sink};
use inetmon_io::outputs::lines;
use inetmon_io::safe_open;
use inetmon_io::sink::{Facility, Level, LineSink, Severity, SinkError, Syslog};

/// A loaded ipmon.conf and the outputs its actions opened.
pub(crate) struct ConfActions {
    conf: ipmon_conf::Config,
    files: HashMap<PathBuf, File>,
    syslog: Option<Syslog>,
    syslog_socket: PathBuf,
    facility: Facility,
    encoder: IplogEncoder,
    buf: Vec<u8>,
    children: Vec<Child>,
}

impl ConfActions {
    /// Loads `path`; `syslog` actions go to `syslog_socket` with the `-L`
    /// `facility`.
    ///
    /// # Errors
    ///
    /// The file cannot be read or does not parse (with the line).
    pub(crate) fn load(
        path: &Path,
        syslog_socket: &Path,
        facility: Facility,
    ) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
        let protocols = std::fs::read_to_string("/etc/protocols")
            .map_or_else(|_| ProtocolNames::builtin(), |t| ProtocolNames::parse(&t));
        let conf = ipmon_conf::parse_with(&text, &protocols)
            .with_context(|| path.display().to_string())?;
        Ok(ConfActions {
            conf,
            files: HashMap::new(),
            syslog: None,
            syslog_socket: syslog_socket.to_owned(),
            facility,
            encoder: IplogEncoder::new(),
            buf: Vec::new(),
            children: Vec::new(),
        })
    }

    /// Runs the actions of every line that matches `ev`; `out` is its
    /// formatted text. Returns whether any line matched, in which case the
    /// normal output must not be written.
    ///
    /// # Errors
    ///
    /// A file or command that cannot be opened or started.
    fn apply(&mut self, ev: &Event, out: &Rendered) -> anyhow::Result<bool> {
        self.children
            .retain_mut(|c| matches!(c.try_wait(), Ok(None)));
        let actions: Vec<Action> = self
            .conf
            .matches_event(ev, ev.header().time)
            .cloned()
            .collect();
        if actions.is_empty() {
            return Ok(false);
        }
        let text = &out.text;
        for action in &actions {
            match action {
                Action::AppendText(path) => self
                    .file(path)?
                    .write_all(text)
                    .with_context(|| format!("write {}", path.display()))?,
                Action::AppendRaw(path) => {
                    self.buf.clear();
                    if self.encoder.encode(ev, &mut self.buf).is_ok() {
                        let buf = std::mem::take(&mut self.buf);
                        self.file(path)?
                            .write_all(&buf)
                            .with_context(|| format!("write {}", path.display()))?;
                        self.buf = buf;
                    }
                }
                Action::Syslog(level) => {
                    let sink = self
                        .syslog
                        .get_or_insert_with(|| super::syslog(&self.syslog_socket, self.facility));
                    for (line, line_level) in lines(out) {
                        // ipmon's syslog text has no date: `DD/MM/YYYY `.
                        let s = line
                            .get(11..)
                            .filter(|_| line.as_bytes().get(2) == Some(&b'/'))
                            .unwrap_or(&line);
                        let level = Level {
                            severity: level.priority.map_or(line_level.severity, Severity),
                            facility: level
                                .facility
                                .and_then(Facility::from_code)
                                .or(line_level.facility),
                        };
                        sink.write_line(s, level)?;
                    }
                    sink.flush()?;
                }
                Action::Execute(cmd) => {
                    let mut child = Command::new("sh")
                        .args(["-c", cmd])
                        .stdin(Stdio::piped())
                        .spawn()
                        .with_context(|| format!("execute(\"{cmd}\")"))?;
                    if let Some(mut stdin) = child.stdin.take() {
                        // A command that does not read its input is its business.
                        let _ = stdin.write_all(text);
                    }
                    self.children.push(child);
                }
                Action::Nothing => {}
            }
        }
        Ok(true)
    }
}

impl ConfActions {
    fn file(&mut self, path: &Path) -> anyhow::Result<&mut File> {
        if !self.files.contains_key(path) {
            let f = safe_open::open_append(path)?;
            self.files.insert(path.to_owned(), f);
        }
        self.files
            .get_mut(path)
            .ok_or_else(|| anyhow::anyhow!("{}: not open", path.display()))
    }
}

impl Sink for ConfActions {
    /// Takes a packet, NAT or state record that a line matched (its actions
    /// ran), so that the normal output does not get it.
    fn deliver(&mut self, ev: Option<&Event>, out: &Rendered) -> Result<Delivery, SinkError> {
        let Some(ev @ (Event::Packet(_) | Event::Nat(_) | Event::State(_))) = ev else {
            return Ok(Delivery::Passed);
        };
        match self.apply(ev, out) {
            Ok(true) => Ok(Delivery::Taken),
            Ok(false) => Ok(Delivery::Passed),
            Err(e) => Err(SinkError::Io {
                what: format!("-C action: {}", crate::report::error_text(e.as_ref())),
                source: std::io::Error::other("action failed"),
            }),
        }
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}
