//! The live run of `inetmon ipmon`: NFLOG and conntrack producers, followed
//! files, syslog output, daemon mode.
//!
//! 1. Open every source and output first, so that a bad path or a missing
//!    privilege is reported on the terminal before anything runs.
//! 2. With `-D`, daemonise, then write the pid file; no thread exists yet, as
//!    `fork` requires.
//! 3. One thread per source sends events into the bounded pipeline
//!    (`inetmon_io::pipeline`), where loss is counted.
//! 4. This thread runs the consumer loop (`inetmon_io::consumer`) with the
//!    ipmon stage, which merges identical consecutive NFLOG packets that
//!    are already queued into one record with a count (what IP Filter's
//!    log device does with unread records; shown as `Nx`) and reports
//!    malformed input, and the sinks: `-B` copy, `-C` actions, text.
//!
//! In client mode (see [`crate::remote`]) the daemon's connection is the
//! one source, opened by the caller before daemonising.
//!
//! The run ends when every source has ended, when a file that is not
//! followed reaches its end (in ipmon that ends the whole run), or on
//! SIGINT/SIGTERM, within a second even when the output is blocked (what
//! could not be written is counted). SIGHUP reopens the output file and the
//! `-B` file.

use anyhow::{anyhow, Context as _};
use inetmon_io::clients::RemoteSource;
use inetmon_io::conntrack::{ConntrackConfig, ConntrackSource};
use inetmon_io::consumer::{Consumer, Plan, Producers, Sink};
use inetmon_io::daemon::{daemonize, PidFile};
use inetmon_io::file::{FileConfig, FileSource};
use inetmon_io::nflog::{NflogConfig, NflogSource, NflogSourceError};
use inetmon_io::outputs::{RemoteSyslogOut, SyslogOut, TextFile, TextOut};
use inetmon_io::pipeline::DEFAULT_CAPACITY;
use inetmon_io::shutdown::Shutdown;
use inetmon_io::signals::SignalFlags;
use inetmon_io::sink::{AppendFile, NetSyslog};

use super::config::{Input, IpmonConfig, Output};
use super::{absolute, early_sinks, syslog};
use crate::output::IpmonStage;
use crate::report::{self, sink_error, Status};
use crate::source::SourceSpec;

/// A source, opened but not started.
enum Opened {
    Nflog(NflogSource),
    Conntrack(ConntrackSource),
    /// A file; `true` when its end ends the run (not followed).
    File(FileSource, bool),
}

/// `raw`: keep each NFLOG packet's netlink message or pcap record for `-X`.
fn open_source(input: &Input, follow: bool, raw: bool) -> anyhow::Result<Opened> {
    let make = crate::offline::make_decoder(raw);
    Ok(match &input.spec {
        SourceSpec::Nflog(groups) => {
            let cfg = NflogConfig {
                groups: groups.clone(),
                raw_messages: raw,
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
            Opened::File(FileSource::open(cfg, make)?, !follow)
        }
        SourceSpec::File(path) => {
            // Absolute, because a daemon runs in `/`.
            let cfg = FileConfig {
                follow,
                ..FileConfig::new(absolute(path)?)
            };
            Opened::File(FileSource::open(cfg, make)?, !follow)
        }
    })
}

/// Runs `inetmon ipmon` with live sources, `-t`, `-s` or `-D`.
///
/// # Errors
///
/// A source, output or pid file that cannot be opened; a source that fails
/// while reading.
pub(super) fn run(
    config: &IpmonConfig,
    prog: &str,
    remote: Option<RemoteSource>,
) -> anyhow::Result<Status> {
    let signals = SignalFlags::install().context("installing signal handlers")?;
    let shutdown =
        Shutdown::with_flag(signals.shutdown.clone()).context("creating the shutdown waker")?;
    let mut opened = Vec::with_capacity(config.inputs.len());
    // Through the daemon (client mode), nothing is opened here.
    for input in config.inputs.iter().filter(|_| remote.is_none()) {
        opened.push(open_source(
            input,
            config.follow,
            config.format.keeps_nflog_records(),
        )?);
    }
    // Files are opened before daemonising, so that an error reaches the
    // terminal; the syslog sink after, because its ident carries the
    // daemon's pid.
    let text_file = match &config.output {
        Output::File(path) => Some(AppendFile::open(absolute(path)?, signals.reopen_flag()?)?),
        Output::Stdout | Output::Syslog => None,
    };
    let mut sinks = early_sinks(config, Some(&signals))?;
    // A CA file that cannot be used is reported here, on the terminal; the
    // writer thread starts after daemonising.
    if let Some(cfg) = &config.syslog_target {
        NetSyslog::check(cfg)?;
    }
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
    let text: Box<dyn Sink> = match (&config.output, text_file) {
        (Output::File(_), Some(f)) => Box::new(TextFile(f)),
        (Output::Syslog, _) => match &config.syslog_target {
            Some(cfg) => Box::new(RemoteSyslogOut::new(
                NetSyslog::start(cfg.clone())?,
                &shutdown,
            )),
            None => Box::new(SyslogOut(syslog(&config.syslog_socket, config.facility))),
        },
        (Output::Stdout | Output::File(_), _) => Box::new(TextOut::stdout(&shutdown)),
    };
    sinks.push(text);
    let mut stage = IpmonStage::new(config.format, config.output == Output::Syslog, prog)?;
    stage.notices = config
        .daemon
        .then(|| syslog(&config.syslog_socket, config.facility));

    let mut producers = Producers::new(shutdown.clone(), DEFAULT_CAPACITY);
    if let Some(src) = remote {
        crate::remote::spawn(src, &mut producers)?;
    }
    for o in opened {
        let pipeline = producers.pipeline();
        match o {
            Opened::Nflog(s) => {
                let thread = s.spawn(pipeline, shutdown.clone())?;
                producers.add("NFLOG", thread, false);
            }
            Opened::Conntrack(s) => {
                let thread = s.spawn(pipeline, shutdown.clone())?;
                producers.add("conntrack", thread, false);
            }
            Opened::File(s, ends) => {
                let thread = s.spawn(pipeline, shutdown.clone())?;
                producers.add("file", thread, ends);
            }
        }
    }
    let mut consumer = Consumer::new(&mut stage, sinks);
    let ended = consumer.run(producers, &Plan::default());
    // The output's error first; in ipmon a source that fails ends the run
    // with its error.
    ended.output.map_err(sink_error)?;
    if let Some((_, e)) = ended.producers.into_iter().next() {
        return Err(anyhow!("{e}"));
    }
    Ok(report::finish(prog, &consumer.report(), 0))
}
