//! The live run of `inetmon ipmon`: NFLOG and conntrack producers, followed
//! files, syslog output, daemon mode.
//!
//! 1. Open every source and output first, so that a bad path or a missing
//!    privilege is reported on the terminal before anything runs.
//! 2. With `-D`, daemonise, then write the pid file; no thread exists yet, as
//!    `fork` requires.
//! 3. One thread per source sends events into the bounded pipeline
//!    (`inetmon_io::pipeline`), where loss is counted.
//! 4. This thread takes events off the pipeline, merges identical
//!    consecutive NFLOG packets that are already queued into one record with
//!    a count (what IP Filter's log device does with unread records; shown
//!    as `Nx`), reports malformed input, and formats and writes the rest.
//!
//! The run ends when every source has ended, when a file that is not
//! followed reaches its end (in ipmon that ends the whole run), or on
//! SIGINT/SIGTERM. SIGHUP reopens the output file and the `-B` file.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};
use inetmon_core::decode::iplog::IplogEncoder;
use inetmon_core::event::{Event, PacketLog, Source};
use inetmon_io::conntrack::{ConntrackConfig, ConntrackError, ConntrackSource};
use inetmon_io::daemon::{daemonize, PidFile};
use inetmon_io::file::{core_decoder, FileConfig, FileError, FileSource};
use inetmon_io::nflog::{NflogConfig, NflogSource, NflogSourceError};
use inetmon_io::pipeline::{Pipeline, DEFAULT_CAPACITY};
use inetmon_io::shutdown::Shutdown;
use inetmon_io::signals::SignalFlags;
use inetmon_io::sink::{
    AppendFile, BinaryFile, Facility, Level, LineSink, Severity, SinkError, Stdout, Syslog,
};

use crate::conf_actions::ConfActions;
use crate::ipmon::{Input, IpmonConfig, Output};
use crate::output::Formatter;
use crate::report::Tally;
use crate::source::SourceSpec;

/// How long the output loop waits for an event before it flushes and checks
/// whether the run should end.
const IDLE: Duration = Duration::from_millis(100);

/// A source, opened but not started.
enum Opened {
    Nflog(NflogSource),
    Conntrack(ConntrackSource),
    /// A file; `true` when its end ends the run (not followed).
    File(FileSource, bool),
}

/// A running source thread.
enum Worker {
    Nflog(JoinHandle<Result<(), NflogSourceError>>),
    Conntrack(JoinHandle<Result<(), ConntrackError>>),
    File(JoinHandle<Result<(), FileError>>, bool),
}

impl Worker {
    /// A file that is not followed has been read to its end.
    fn ends_run(&self) -> bool {
        matches!(self, Worker::File(h, true) if h.is_finished())
    }

    fn join(self) -> anyhow::Result<()> {
        let died = |what: &str| anyhow!("the {what} reader stopped unexpectedly");
        match self {
            Worker::Nflog(h) => h
                .join()
                .map_err(|_| died("NFLOG"))?
                .map_err(anyhow::Error::from),
            Worker::Conntrack(h) => h
                .join()
                .map_err(|_| died("conntrack"))?
                .map_err(anyhow::Error::from),
            Worker::File(h, _) => h
                .join()
                .map_err(|_| died("file"))?
                .map_err(anyhow::Error::from),
        }
    }
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| path.display().to_string())
}

fn open_source(input: &Input, follow: bool) -> anyhow::Result<Opened> {
    Ok(match &input.spec {
        SourceSpec::Nflog(groups) => {
            let cfg = NflogConfig {
                groups: groups.clone(),
                ..NflogConfig::default()
            };
            // Errors that name their group need no `nflog:G` in front.
            Opened::Nflog(NflogSource::open(cfg).map_err(|e| match e {
                e @ (NflogSourceError::Config { .. } | NflogSourceError::GroupInUse { .. }) => {
                    anyhow::Error::new(e)
                }
                e => anyhow::Error::new(e).context(input.spec.to_string()),
            })?)
        }
        SourceSpec::Conntrack => {
            let cfg = ConntrackConfig {
                nat: input.logs.nat,
                state: input.logs.state,
                ..ConntrackConfig::default()
            };
            Opened::Conntrack(ConntrackSource::open(cfg).context("conntrack")?)
        }
        SourceSpec::Stdin => {
            let cfg = FileConfig {
                follow,
                ..FileConfig::new("-")
            };
            Opened::File(FileSource::open(cfg, core_decoder)?, !follow)
        }
        SourceSpec::File(path) => {
            // Absolute, because a daemon runs in `/`.
            let cfg = FileConfig {
                follow,
                ..FileConfig::new(absolute(path)?)
            };
            Opened::File(FileSource::open(cfg, core_decoder)?, !follow)
        }
    })
}

/// The text output. Files are opened before daemonising, so that an error
/// reaches the terminal; the syslog sink after, because its ident carries
/// the daemon's pid.
enum TextSink {
    /// Standard output or the output file.
    Lines(Box<dyn LineSink>),
    /// Syslog, which counts the messages it could not send.
    Syslog(Syslog),
}

impl TextSink {
    fn get(&mut self) -> &mut dyn LineSink {
        match self {
            TextSink::Lines(s) => s.as_mut(),
            TextSink::Syslog(s) => s,
        }
    }

    /// Messages that could not be sent since the last call.
    fn take_lost(&mut self) -> u64 {
        match self {
            TextSink::Lines(_) => 0,
            TextSink::Syslog(s) => s.take_lost(),
        }
    }
}

/// The file or stdout sink; `None` for syslog (see [`syslog_sink`]).
fn open_early_sink(
    output: &Output,
    signals: &SignalFlags,
) -> anyhow::Result<Option<Box<dyn LineSink>>> {
    Ok(match output {
        Output::Stdout => Some(Box::new(Stdout::new())),
        Output::File(path) => Some(Box::new(AppendFile::open(
            absolute(path)?,
            signals.reopen_flag()?,
        )?)),
        Output::Syslog { .. } => None,
    })
}

fn syslog_sink(output: &Output) -> anyhow::Result<Syslog> {
    let Output::Syslog { facility, socket } = output else {
        anyhow::bail!("no output sink was opened");
    };
    let facility = u8::try_from(*facility >> 3)
        .ok()
        .and_then(Facility::from_code)
        .ok_or_else(|| anyhow!("bad syslog facility code {facility}"))?;
    Ok(Syslog::new(socket, "ipmon", facility))
}

/// Runs `inetmon ipmon` with live sources, `-t`, `-s` or `-D`.
///
/// # Errors
///
/// A source, output or pid file that cannot be opened; a source that fails
/// while reading.
pub(crate) fn run(config: &IpmonConfig, prog: &str) -> anyhow::Result<Tally> {
    let signals = SignalFlags::install().context("installing signal handlers")?;
    let mut opened = Vec::with_capacity(config.inputs.len());
    for input in &config.inputs {
        opened.push(open_source(input, config.follow)?);
    }
    let early_sink = open_early_sink(&config.output, &signals)?;
    let mut binary = match &config.binary_copy {
        Some(path) => Some(BinaryFile::open(absolute(path)?, signals.reopen_flag()?)?),
        None => None,
    };
    let conf = config
        .conf
        .as_deref()
        .map(|p| ConfActions::load(p, config.facility))
        .transpose()?;
    let pid_path = config.pid_file.as_deref().map(absolute).transpose()?;
    if config.daemon {
        // A pid file locked by another instance is reported here, on the
        // terminal, not by the daemon whose standard error is /dev/null.
        if let Some(path) = &pid_path {
            drop(PidFile::create(path)?);
        }
        daemonize().context("daemonising")?;
    }
    let _pid_file = pid_path.map(PidFile::create).transpose()?;
    let mut sink = match early_sink {
        Some(s) => TextSink::Lines(s),
        None => TextSink::Syslog(syslog_sink(&config.output)?),
    };
    let mut formatter = Formatter::new(
        config.format,
        matches!(config.output, Output::Syslog { .. }),
    )?;

    let shutdown =
        Shutdown::with_flag(signals.shutdown.clone()).context("creating the shutdown waker")?;
    let pipeline = Pipeline::new(DEFAULT_CAPACITY);
    let mut workers = Vec::with_capacity(opened.len());
    for o in opened {
        workers.push(match o {
            Opened::Nflog(s) => Worker::Nflog(s.spawn(&pipeline, shutdown.clone())?),
            Opened::Conntrack(s) => Worker::Conntrack(s.spawn(&pipeline, shutdown.clone())?),
            Opened::File(s, ends) => Worker::File(s.spawn(&pipeline, shutdown.clone())?, ends),
        });
    }
    let rx = pipeline.close();

    let mut out = Writer {
        sink: &mut sink,
        binary: binary.as_mut(),
        encoder: IplogEncoder::new(),
        buf: Vec::new(),
        tally: Tally::default(),
        prog,
        conf,
        notices: config
            .daemon
            .then(|| crate::conf_actions::syslog_sink(config.facility)),
    };
    let pumped = pump(&rx, &mut out, &mut formatter, &workers, &shutdown, &signals);
    shutdown.trigger();
    let flushed = out.flush();
    let tally = out.tally;
    drop(rx);
    let mut first_err = pumped.err().or_else(|| flushed.err().map(sink_error));
    for w in workers {
        if let Err(e) = w.join() {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(tally), Err)
}

/// A closed output pipe becomes `BrokenPipe`, which ends the run with status 0.
fn sink_error(e: SinkError) -> anyhow::Error {
    match e {
        SinkError::Closed => std::io::Error::from(std::io::ErrorKind::BrokenPipe).into(),
        other => other.into(),
    }
}

/// Moves events from the pipeline to the sinks until every source is done.
fn pump(
    rx: &Receiver<Event>,
    out: &mut Writer<'_>,
    formatter: &mut Formatter,
    workers: &[Worker],
    shutdown: &Shutdown,
    signals: &SignalFlags,
) -> anyhow::Result<()> {
    let mut pending: Option<Event> = None;
    loop {
        let next = match pending.take() {
            Some(ev) => Ok(ev),
            None => rx.recv_timeout(IDLE),
        };
        match next {
            Ok(mut ev) => {
                if let Event::Packet(p) = &mut ev {
                    loop {
                        match rx.try_recv() {
                            Ok(Event::Packet(q)) if same_record(p, &q) => {
                                p.count = p.count.saturating_add(q.count.max(1))
                            }
                            Ok(other) => {
                                pending = Some(other);
                                break;
                            }
                            Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                        }
                    }
                }
                out.deliver(&ev, formatter).map_err(sink_error)?;
                if pending.is_none() && rx.is_empty() {
                    out.flush().map_err(sink_error)?;
                }
            }
            Err(RecvTimeoutError::Timeout) => out.flush().map_err(sink_error)?,
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        if signals.shutting_down() || workers.iter().any(Worker::ends_run) {
            shutdown.trigger();
        }
    }
}

/// Whether two logged packets are one record for ipmon's `Nx` count:
/// NFLOG packets equal in everything but time and sequence numbers.
fn same_record(a: &PacketLog, b: &PacketLog) -> bool {
    let key = |p: &PacketLog| {
        p.nflog.as_ref().map(|n| {
            (
                n.group,
                n.prefix.clone(),
                n.hook,
                n.ifindex_in,
                n.ifindex_out,
            )
        })
    };
    matches!(a.header.source, Source::Nflog(_))
        && a.header.source == b.header.source
        && a.interface == b.interface
        && a.direction == b.direction
        && a.group == b.group
        && a.rule == b.rule
        && a.action == b.action
        && a.flags == b.flags
        && a.log_tag == b.log_tag
        && a.nat_tag == b.nat_tag
        && a.reason == b.reason
        && a.log_level == b.log_level
        && a.family == b.family
        && a.header_len == b.header_len
        && a.packet == b.packet
        && key(a) == key(b)
}

/// The sinks of one run, and what it counted.
struct Writer<'a> {
    sink: &'a mut TextSink,
    binary: Option<&'a mut BinaryFile>,
    encoder: IplogEncoder,
    buf: Vec<u8>,
    tally: Tally,
    prog: &'a str,
    conf: Option<ConfActions>,
    /// With `-D` standard error is `/dev/null`: notices (a failed SIGHUP
    /// reopen) also go to syslog.
    notices: Option<Syslog>,
}

impl Writer<'_> {
    fn deliver(&mut self, ev: &Event, formatter: &mut Formatter) -> Result<(), SinkError> {
        match ev {
            Event::Malformed(m) => {
                self.tally.malformed(self.prog, m);
                return Ok(());
            }
            Event::Lost(l) => self.tally.lost(l),
            Event::Packet(_)
            | Event::Nat(_)
            | Event::State(_)
            | Event::Sock(_)
            | Event::Drop(_)
            | Event::Trace(_) => {
                if let Some(bin) = self.binary.as_mut() {
                    self.buf.clear();
                    // Events with no iplog form (socket, drop, trace) are not copied.
                    if self.encoder.encode(ev, &mut self.buf).is_ok() {
                        bin.write_record(&self.buf)?;
                    }
                }
            }
        }
        formatter.format(ev);
        if let (Some(conf), Event::Packet(p)) = (&mut self.conf, ev) {
            match conf.apply(ev, p, formatter.lines()) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => {
                    return Err(SinkError::Io {
                        what: format!("-C action: {}", crate::report::error_text(e.as_ref())),
                        source: std::io::Error::other("action failed"),
                    })
                }
            }
        }
        for line in formatter.lines() {
            let text = String::from_utf8_lossy(line.text);
            let level = Level {
                severity: Severity(u8::try_from(line.priority & 7).unwrap_or(6)),
                facility: u8::try_from(line.priority >> 3)
                    .ok()
                    .filter(|f| *f != 0)
                    .and_then(Facility::from_code),
            };
            self.sink
                .get()
                .write_line(text.strip_suffix('\n').unwrap_or(&text), level)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.sink.get().flush()?;
        // A failed SIGHUP reopen is not fatal: the sink says so here, once.
        let notices = [
            self.sink.get().take_notice(),
            self.binary.as_mut().and_then(|b| b.take_notice()),
        ];
        for n in notices.into_iter().flatten() {
            let text = n.to_string();
            crate::report::error_line(self.prog, &text);
            if let Some(syslog) = &mut self.notices {
                // Best effort: the notice is not worth failing the run.
                let _ = syslog.write_line(&text, Level::new(Severity::WARNING));
                let _ = syslog.flush();
            }
        }
        let lost = self.sink.take_lost();
        if lost > 0 {
            self.tally.lost = self.tally.lost.saturating_add(lost);
            crate::report::error_line(
                self.prog,
                &format!("syslog: {lost} messages could not be sent"),
            );
        }
        if let Some(bin) = self.binary.as_mut() {
            bin.flush()?;
        }
        Ok(())
    }
}
