//! `ipmon -C FILE`: the actions of an ipmon.conf file, run for every packet
//! record that a `match` line selects (`inetmon_core::ipmon_conf` parses the
//! file and matches).
//!
//! As in IP Filter, when any line matched a record, the normal output line
//! and its hex dumps are not written; NAT and state records are never
//! matched. The actions:
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
use inetmon_core::event::{Event, PacketLog};
use inetmon_core::ipmon_conf::{self, Action};
use inetmon_core::names::ProtocolNames;
use inetmon_io::safe_open;
use inetmon_io::sink::{Facility, Level, LineSink, Severity, Syslog, DEV_LOG};

use crate::ipmon::config::SYSLOG_SOCKET_ENV;
use crate::output::FormattedLine;

/// A loaded ipmon.conf and the outputs its actions opened.
pub(crate) struct ConfActions {
    conf: ipmon_conf::Config,
    files: HashMap<PathBuf, File>,
    syslog: Option<Syslog>,
    facility: i32,
    encoder: IplogEncoder,
    buf: Vec<u8>,
    children: Vec<Child>,
}

impl ConfActions {
    /// Loads `path`; `facility` is the `-L` facility for `syslog` actions.
    ///
    /// # Errors
    ///
    /// The file cannot be read or does not parse (with the line).
    pub(crate) fn load(path: &Path, facility: i32) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
        let protocols = std::fs::read_to_string("/etc/protocols")
            .map_or_else(|_| ProtocolNames::builtin(), |t| ProtocolNames::parse(&t));
        let conf = ipmon_conf::parse_with(&text, &protocols)
            .with_context(|| path.display().to_string())?;
        Ok(ConfActions {
            conf,
            files: HashMap::new(),
            syslog: None,
            facility,
            encoder: IplogEncoder::new(),
            buf: Vec::new(),
            children: Vec::new(),
        })
    }

    /// Runs the actions of every line that matches `p`; `lines` are its
    /// formatted lines. Returns whether any line matched, in which case the
    /// normal output must not be written.
    ///
    /// # Errors
    ///
    /// A file or command that cannot be opened or started.
    pub(crate) fn apply<'a>(
        &mut self,
        ev: &Event,
        p: &PacketLog,
        lines: impl Iterator<Item = FormattedLine<'a>>,
    ) -> anyhow::Result<bool> {
        self.children
            .retain_mut(|c| matches!(c.try_wait(), Ok(None)));
        let actions: Vec<Action> = self.conf.matches(p, p.header.time).cloned().collect();
        if actions.is_empty() {
            return Ok(false);
        }
        let lines: Vec<FormattedLine<'a>> = lines.collect();
        let text: Vec<u8> = lines.iter().flat_map(|l| l.text.iter().copied()).collect();
        for action in &actions {
            match action {
                Action::AppendText(path) => self
                    .file(path)?
                    .write_all(&text)
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
                    let facility = self.facility;
                    let sink = self.syslog.get_or_insert_with(|| syslog_sink(facility));
                    for line in &lines {
                        let s = String::from_utf8_lossy(line.text);
                        let s = s.strip_suffix('\n').unwrap_or(&s);
                        // ipmon's syslog text has no date: `DD/MM/YYYY `.
                        let s = s
                            .get(11..)
                            .filter(|_| s.as_bytes().get(2) == Some(&b'/'))
                            .unwrap_or(s);
                        let severity = level
                            .priority
                            .unwrap_or(u8::try_from(line.priority & 7).unwrap_or(6));
                        let facility = level
                            .facility
                            .or_else(|| u8::try_from(line.priority >> 3).ok().filter(|f| *f != 0))
                            .and_then(Facility::from_code);
                        sink.write_line(
                            s,
                            Level {
                                severity: Severity(severity),
                                facility,
                            },
                        )?;
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
                        let _ = stdin.write_all(&text);
                    }
                    self.children.push(child);
                }
                Action::Nothing => {}
            }
        }
        Ok(true)
    }
}

/// The syslog socket (`/dev/log`, or the test socket of
/// `INETMON_SYSLOG_SOCKET`) with ident `ipmon` and `facility` (an encoded
/// `-L` facility; `local0` if unknown).
pub(crate) fn syslog_sink(facility: i32) -> Syslog {
    let socket =
        std::env::var_os(SYSLOG_SOCKET_ENV).map_or_else(|| PathBuf::from(DEV_LOG), PathBuf::from);
    let facility = u8::try_from(facility >> 3)
        .ok()
        .and_then(Facility::from_code)
        .unwrap_or(Facility::LOCAL0);
    Syslog::new(socket, "ipmon", facility)
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
