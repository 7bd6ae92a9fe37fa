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

/// The subcommands. Each `--help` (and man page) ends with examples.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// IP Filter compatible packet-log monitor on NFLOG, conntrack and log files.
    #[command(after_help = EX_IPMON)]
    Ipmon(Box<IpmonFlags>),
    /// Decode pcap, pcapng and IP Filter log files.
    #[command(after_help = EX_READ)]
    Read(ReadFlags),
    /// Socket operations from eBPF (create, bind, listen, accept, connect,
    /// disconnect, close), as AIX AHAFS inetsock reports them.
    #[command(after_help = EX_SOCKETS)]
    Sockets(crate::sockets::SocketsArgs),
    /// Kernel drops with reasons, interface traces and captures (eBPF), and
    /// every other event kind in one stream.
    #[command(after_help = EX_MONITOR)]
    Monitor(Box<crate::monitor::MonitorArgs>),
    /// The always-on collector (`--check-config` validates its TOML
    /// configuration; the runtime itself is not built yet).
    #[command(after_help = EX_DAEMON)]
    Daemon(crate::daemon_cmd::DaemonArgs),
    /// Past events from the daemon's journal: query, verify.
    #[command(
        after_help = EX_JOURNAL,
        mut_subcommand("query", |c| c.after_help(EX_JOURNAL_QUERY)),
        mut_subcommand("verify", |c| c.after_help(EX_JOURNAL_VERIFY)),
        mut_subcommand("drops", |c| c.after_help(EX_JOURNAL_DROPS)),
    )]
    Journal(crate::journal_cmd::JournalArgs),
    /// Connection audit records (dkaudit layout) from the journal.
    #[command(after_help = EX_AUDIT)]
    Audit(crate::audit::AuditArgs),
    /// Write the manual pages of inetmon and every subcommand into a
    /// directory.
    Man(crate::man::ManArgs),
    /// Print a shell completion script (bash, zsh or fish).
    Completions(crate::man::CompletionsArgs),
    /// The fleet view: every host's events from NATS JetStream (exported by
    /// the daemons' `[export.nats]`), with the host name, in the usual
    /// formats.
    #[cfg(feature = "export-nats")]
    #[command(after_help = EX_COLLECT)]
    Collect(Box<crate::collect::CollectArgs>),
}

const EX_IPMON: &str = "Examples:
  inetmon ipmon -f nflog:5                 packets logged by `log group 5` rules
  inetmon ipmon -a -s -L local3            packets, NAT and state to syslog (local3)
  inetmon ipmon -f capture.pcap -v         a capture read once, with TCP seq/ack/win
  inetmon ipmon -t -f /var/log/ipf.iplog   an IP Filter binary log followed like tail -F
  inetmon ipmon --syslog-target tls://logs:6514 --syslog-ca ca.pem -f nflog:0";
const EX_READ: &str = "Examples:
  inetmon read capture.pcapng
  inetmon read --format json a.pcap b.iplog | jq .";
const EX_SOCKETS: &str = "Examples:
  inetmon sockets                          every socket operation on the host
  inetmon sockets --watch streamConnect --port 443
  inetmon sockets --format ahafs --uid 1000 --count 10";
const EX_MONITOR: &str = "Examples:
  inetmon monitor                          kernel drops with their reasons
  inetmon monitor -t drop,trace --iface eth0 --port 53 -v
  inetmon monitor --summary --duration 10  a table of drops by reason
  inetmon monitor --iface eth0 -w out.pcapng --count 100";
const EX_DAEMON: &str = "Examples:
  inetmon daemon --check-config
  inetmon daemon --config /etc/inetmon/inetmon.toml --check-config";
const EX_JOURNAL: &str = "Examples:
  inetmon journal query --since 1h --kind drop
  inetmon journal verify";
const EX_JOURNAL_QUERY: &str = "Examples:
  inetmon journal query --since 1h --kind sock --port 443
  inetmon journal query --state-dir /srv/inetmon -j";
const EX_JOURNAL_VERIFY: &str = "Example:
  inetmon journal verify --state-dir /var/lib/inetmon";
const EX_JOURNAL_DROPS: &str = "Examples:
  inetmon journal drops --since 10m
  inetmon journal drops --since 1h -j";
const EX_AUDIT: &str = "Examples:
  inetmon audit --since 1d --result failed
  inetmon audit --follow --messages        live, with the TCP control segments
  inetmon audit --uid 1000 -j
  inetmon audit --syslog-target tcp://logs:514";

#[cfg(feature = "export-nats")]
const EX_COLLECT: &str = "Examples:
  inetmon collect --nats nats://10.0.0.5:4222              every host's new events
  inetmon collect --nats nats://10.0.0.5:4222 --since 1h --kind drop --format monitor
  inetmon collect --nats nats://10.0.0.5:4222 --durable ops --host web1 -j";

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
