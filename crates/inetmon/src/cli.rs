//! The top-level command line: one [`Command`] per subcommand, one module
//! per subcommand.

use std::ffi::OsString;
use std::path::Path;

use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use inetmon_io::consumer::Plan;

use crate::ipmon::IpmonFlags;
use crate::read::ReadFlags;

/// `inetmon`: a Linux network-event monitor.
#[derive(Debug, Parser)]
#[command(name = "inetmon", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// IP Filter compatible packet-log monitor on NFLOG, conntrack and log files.
    Ipmon(Box<IpmonFlags>),
    /// Decode pcap, pcapng and IP Filter log files.
    Read(ReadFlags),
    /// Socket operations from eBPF (create, bind, listen, accept, connect,
    /// disconnect, close), as AIX AHAFS inetsock reports them.
    Sockets(crate::sockets::SocketsArgs),
    /// Kernel drops with reasons, interface traces and captures (eBPF), and
    /// every other event kind in one stream.
    Monitor(Box<crate::monitor::MonitorArgs>),
    /// The always-on collector (`--check-config` validates its TOML
    /// configuration; the runtime itself is not built yet).
    Daemon(crate::daemon_cmd::DaemonArgs),
    /// Past events from the daemon's journal: query, verify.
    Journal(crate::journal_cmd::JournalArgs),
    /// Connection audit records (dkaudit layout) from the journal.
    Audit(crate::audit::AuditArgs),
    /// The fleet view: every host's events from NATS JetStream (exported by
    /// the daemons' `[export.nats]`), with the host name, in the usual
    /// formats.
    #[cfg(feature = "export-nats")]
    Collect(Box<crate::collect::CollectArgs>),
}

/// The name the program was invoked as (`inetmon`, or `ipmon` through a link).
pub(crate) fn program_name(argv0: Option<&OsString>) -> String {
    argv0.and_then(|a| Path::new(a).file_name()).map_or_else(
        || "inetmon".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The arguments as clap should see them: invoked as `ipmon`, the binary
/// behaves as `inetmon ipmon`.
pub(crate) fn effective_args(args: Vec<OsString>, prog: &str) -> Vec<OsString> {
    if prog != "ipmon" {
        return args;
    }
    let mut out = Vec::with_capacity(args.len() + 1);
    out.push(OsString::from("inetmon"));
    out.push(OsString::from("ipmon"));
    out.extend(args.into_iter().skip(1));
    out
}

/// The first paragraph of a clap error joined into one line, without clap's
/// `error: ` prefix: every misuse is reported in one line.
pub(crate) fn one_line(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let words: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let line = words.join(" ");
    match line.strip_prefix("error: ") {
        Some(rest) => rest.to_owned(),
        None if line.is_empty() => "invalid arguments".to_owned(),
        None => line,
    }
}

/// When a live subcommand (`sockets`, `monitor`) stops by itself.
#[derive(Debug, Clone, Args)]
pub(crate) struct StopFlags {
    /// Stop after this many events have been shown.
    #[arg(long)]
    pub(crate) count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) duration: Option<f64>,
}

impl StopFlags {
    /// The consumer's plan from now on, with a `tick`.
    pub(crate) fn plan(&self, tick: Option<Duration>) -> Plan {
        Plan {
            limit: self.count,
            deadline: self
                .duration
                .map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0))),
            tick,
        }
    }
}
