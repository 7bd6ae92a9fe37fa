//! The raw `inetmon ipmon` flags, exactly as typed (clap derive).
//!
//! The option letters are IP Filter 5.1's getopt string
//! `abB:C:Df:FhL:nN:o:O:pP:sS:tvxX` (plus `-?` and the undocumented `-I`
//! alias of `-f`). clap gives getopt-compatible parsing: clustered flags
//! (`-anv`), attached values (`-fnflog:5`, `-oNSI`) and separate values
//! (`-f nflog:5`). A repeated option overrides the earlier one, as with
//! getopt, except `-o`/`-O`, whose letters accumulate. Nothing here is
//! checked beyond its type; [`super::config`] validates.

use std::path::PathBuf;

use clap::{ArgAction, Args};

/// `inetmon ipmon` flags.
#[derive(Debug, Clone, Args)]
#[command(disable_help_flag = true, args_override_self = true)]
pub(crate) struct IpmonFlags {
    /// Open all three logs: packets, NAT and state (same as -o NSI).
    #[arg(short = 'a')]
    pub(crate) all: bool,
    /// Hex-dump the body of packets logged by `log body` rules.
    #[arg(short = 'b')]
    pub(crate) body: bool,
    /// Append every record read, as IP Filter binary log records, to this file
    /// (replayable with -f; reopened on SIGHUP).
    #[arg(short = 'B', value_name = "binfile")]
    pub(crate) binary_file: Option<PathBuf>,
    /// Load an ipmon.conf action file.
    #[arg(short = 'C', value_name = "conf")]
    pub(crate) conf: Option<PathBuf>,
    /// Run in the background (needs an output file or -s).
    #[arg(short = 'D')]
    pub(crate) daemon: bool,
    /// Packet log source: nflog:G[,G...] (default nflog:0), a pcap/pcapng/iplog
    /// file, or - for standard input.
    #[arg(short = 'f', short_alias = 'I', value_name = "src")]
    pub(crate) packet_source: Option<String>,
    /// Report the bytes flushed from each log buffer (always 0: NFLOG and
    /// conntrack keep no buffer), then go on.
    #[arg(short = 'F')]
    pub(crate) flush: bool,
    /// Print a usage line and exit with status 1 (as ipmon does).
    #[arg(short = 'h', short_alias = '?')]
    pub(crate) usage: bool,
    /// Print the full help.
    #[arg(long = "help", action = ArgAction::Help)]
    pub(crate) help: Option<bool>,
    /// Syslog facility for -s (default local0).
    #[arg(short = 'L', value_name = "facility")]
    pub(crate) facility: Option<String>,
    /// Resolve addresses and ports to names.
    #[arg(short = 'n')]
    pub(crate) resolve: bool,
    /// NAT log source: conntrack (the default) or an iplog file; turns on the NAT log.
    #[arg(short = 'N', value_name = "src")]
    pub(crate) nat_source: Option<String>,
    /// Read these logs: letters N (NAT), S (state), I (packets).
    #[arg(short = 'o', value_name = "NSI", action = ArgAction::Append)]
    pub(crate) open: Vec<String>,
    /// Do not read these logs (letters N, S, I); applied after every other
    /// selection.
    #[arg(short = 'O', value_name = "NSI", action = ArgAction::Append)]
    pub(crate) omit: Vec<String>,
    /// Keep port numbers numeric even with -n.
    #[arg(short = 'p')]
    pub(crate) numeric_ports: bool,
    /// Write and lock this pid file (default with -D: /run/ipmon.pid).
    #[arg(short = 'P', value_name = "pidfile")]
    pub(crate) pid_file: Option<PathBuf>,
    /// Send output to syslog (ident `ipmon[pid]`) instead of a file.
    #[arg(short = 's')]
    pub(crate) syslog: bool,
    /// State log source: conntrack (the default) or an iplog file; turns on the
    /// state log.
    #[arg(short = 'S', value_name = "src")]
    pub(crate) state_source: Option<String>,
    /// Follow file sources as they grow, across rotation (like tail -F).
    #[arg(short = 't')]
    pub(crate) follow: bool,
    /// Print TCP sequence, acknowledgement and window.
    #[arg(short = 'v')]
    pub(crate) verbose: bool,
    /// Hex-dump each logged packet.
    #[arg(short = 'x')]
    pub(crate) hex: bool,
    /// Hex-dump the raw record header.
    #[arg(short = 'X')]
    pub(crate) hex_header: bool,
    /// Print JSON objects instead of ipmon lines.
    #[arg(long)]
    pub(crate) json: bool,
    /// Read NFLOG and conntrack in this process even when the daemon's
    /// socket exists ($INETMON_SOCKET, else /run/inetmon/inetmon.sock).
    #[arg(long)]
    pub(crate) local: bool,
    /// Syslog over TCP/TLS (implies -s).
    #[command(flatten)]
    pub(crate) remote: crate::syslog_target::SyslogTargetFlags,
    /// Text output file, opened in append mode and reopened on SIGHUP
    /// (ignored with -s).
    #[arg(value_name = "outfile")]
    pub(crate) outfile: Option<PathBuf>,
}

/// The one-line usage `-h` prints, as ipmon does, to standard error.
pub(crate) fn usage_line(prog: &str) -> String {
    format!(
        "Usage: {prog} [-abDFhnpstvxX] [-B binfile] [-C conf] [-L facility] [-N src] \
         [-o NSI] [-O NSI] [-P pidfile] [-S src] [-f src] [--json] \
         [--syslog-target URL [--syslog-ca FILE] [--syslog-buffer N]] [outfile]"
    )
}
