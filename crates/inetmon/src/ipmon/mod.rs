//! `inetmon ipmon`: IP Filter 5.1 `ipmon`, reading NFLOG groups, conntrack
//! events and log files.
//!
//! [`flags`] holds the raw options, [`config`] validates them; [`main`]
//! picks the path: files read to their end go through
//! [`crate::offline`] on this thread; live sources (NFLOG, conntrack),
//! followed files (`-t`), syslog output and daemon mode go through
//! [`live`] and the `inetmon-io` pipeline. Both feed the same stage
//! ([`crate::output::IpmonStage`]) and the same kinds of sinks (text,
//! `-B` copy, `-C` actions).

mod conf_actions;
mod config;
mod flags;
mod live;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use inetmon_core::event::EventKind;
use inetmon_core::protocol::Request;
use inetmon_io::consumer::{Consumer, Sink};
use inetmon_io::outputs::{IplogCopy, TextFile, TextOut};
use inetmon_io::shutdown::Shutdown;
use inetmon_io::sink::{BinaryFile, Facility, Syslog};

pub(crate) use flags::IpmonFlags;

use self::conf_actions::ConfActions;
use self::config::{IpmonConfig, Output};
use crate::output::IpmonStage;
use crate::privilege::has_net_admin;
use crate::report::{self, Status};
use crate::source::SourceSpec;

/// Runs `inetmon ipmon`.
///
/// # Errors
///
/// Misuse ([`crate::Misuse`]), a missing privilege, a source or output that
/// cannot be opened.
pub(crate) fn main(flags: &IpmonFlags, prog: &str) -> anyhow::Result<Status> {
    if flags.usage {
        let _ = writeln!(
            io::stderr().lock(),
            "{}",
            flags::usage_line(if prog == "ipmon" {
                "ipmon"
            } else {
                "inetmon ipmon"
            })
        );
        return Ok(Status::Failed);
    }
    let config = IpmonConfig::from_flags(flags)?;
    let remote = connect_daemon(&config, flags.local, prog)?;
    for input in &config.inputs {
        match &input.spec {
            _ if remote.is_some() => {}
            SourceSpec::Nflog(_) if !has_net_admin() => {
                bail!("reading NFLOG needs CAP_NET_ADMIN (run as root)")
            }
            SourceSpec::Conntrack if !has_net_admin() => {
                bail!("reading conntrack events needs CAP_NET_ADMIN (run as root)")
            }
            _ => {}
        }
    }
    if config.flush {
        // NFLOG and conntrack keep no log buffer in the kernel: there is
        // nothing to flush, and ipmon's report of it is 0 bytes per log.
        let mut out = io::stdout().lock();
        let live = config.inputs.iter().filter(|i| i.spec.is_live()).count();
        for _ in 0..live {
            writeln!(out, "0 bytes flushed from log buffer")?;
        }
        out.flush()?;
    }
    let files_only = config.inputs.iter().all(|i| !i.spec.is_live());
    let plain_output = matches!(config.output, Output::Stdout | Output::File(_));
    if files_only && !config.follow && plain_output && !config.daemon && config.pid_file.is_none() {
        return read_files(&config, prog);
    }
    live::run(&config, prog, remote)
}

/// Client mode (see [`crate::remote`]): when every input is live (NFLOG
/// groups, conntrack) and `-X` does not need the raw netlink records, the
/// daemon is asked for the same packets and NAT/state events.
fn connect_daemon(
    config: &IpmonConfig,
    local: bool,
    prog: &str,
) -> anyhow::Result<Option<inetmon_io::clients::RemoteSource>> {
    if config.inputs.is_empty() || !config.inputs.iter().all(|i| i.spec.is_live()) {
        return Ok(None);
    }
    let mut req = Request::default();
    for input in &config.inputs {
        let mut want = |k| {
            if !req.kinds.contains(&k) {
                req.kinds.push(k);
            }
        };
        match &input.spec {
            SourceSpec::Nflog(groups) => {
                want(EventKind::Packet);
                req.nflog_groups.extend(groups.iter().copied());
            }
            SourceSpec::Conntrack => {
                if input.logs.nat {
                    want(EventKind::Nat);
                }
                if input.logs.state {
                    want(EventKind::State);
                }
            }
            SourceSpec::Stdin | SourceSpec::File(_) => {}
        }
    }
    crate::remote::connect(
        &crate::remote::Want {
            cmd: prog,
            local,
            local_only: &[(config.format.keeps_nflog_records(), "-X")],
            can_local: has_net_admin(),
        },
        &req,
    )
}

/// `ipmon -f FILE…` without `-t`, `-s` or `-D`: the files read to their
/// end, one after the other, on this thread.
fn read_files(config: &IpmonConfig, prog: &str) -> anyhow::Result<Status> {
    let shutdown = Shutdown::new()?;
    let mut stage = IpmonStage::new(config.format, false, prog)?;
    let text: Box<dyn Sink> = match &config.output {
        Output::File(p) => Box::new(TextFile::open(p)?),
        Output::Stdout | Output::Syslog => Box::new(TextOut::stdout(&shutdown)),
    };
    let mut sinks = early_sinks(config, None)?;
    sinks.push(text);
    let mut consumer = Consumer::new(&mut stage, sinks);
    let specs: Vec<&SourceSpec> = config.inputs.iter().map(|i| &i.spec).collect();
    // Formatted on every core unless an event must go through the stage
    // and sinks one by one (`-B`, `-C`) or names must be resolved (`-n`).
    let parallel =
        (config.binary_copy.is_none() && config.conf.is_none() && !config.format.resolve)
            .then_some(config.format);
    let failed = crate::offline::read_files(
        &specs,
        &mut consumer,
        parallel,
        config.format.keeps_nflog_records(),
        prog,
    )?;
    Ok(report::finish(prog, &consumer.report(), failed))
}

/// The sinks that come before the text output: the `-B` binary copy
/// (reopened when `signals` says so), then the `-C` actions, which take the
/// records they match.
fn early_sinks(
    config: &IpmonConfig,
    reopen: Option<&inetmon_io::signals::SignalFlags>,
) -> anyhow::Result<Vec<Box<dyn Sink>>> {
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(path) = &config.binary_copy {
        let flag = match reopen {
            Some(s) => s.reopen_flag()?,
            None => std::sync::Arc::default(),
        };
        sinks.push(Box::new(IplogCopy::new(BinaryFile::open(
            absolute(path)?,
            flag,
        )?)));
    }
    if let Some(p) = &config.conf {
        sinks.push(Box::new(ConfActions::load(
            p,
            &config.syslog_socket,
            config.facility,
        )?));
    }
    Ok(sinks)
}

/// The syslog sink of ipmon (`-s` and `-C` syslog actions): ident `ipmon`.
fn syslog(socket: &Path, facility: Facility) -> Syslog {
    Syslog::new(socket, "ipmon", facility)
}

/// `path` made absolute, because a daemon runs in `/`.
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| path.display().to_string())
}
