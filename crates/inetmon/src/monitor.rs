//! `inetmon monitor`: kernel drops with reasons, interface traces and
//! captures from eBPF, and every other inetmon event kind (socket
//! operations, NFLOG packets, conntrack NAT and state) in one stream.
//!
//! Event kinds (`--type`, comma-separated or repeated): `drop` (the
//! default), `trace` (default too when `--iface` or `--stack` is given,
//! one of which it needs: tc traces on interfaces, cgroup skb traces
//! between sockets and the stack), `sock`, `packet` (NFLOG groups of `--nflog`, group 0 by
//! default), `nat`, `state`, `debug` (nftables trace steps of packets a
//! rule marked with `meta nftrace set 1`, in the monitor's own network
//! namespace); `lost` and `malformed` are always shown.
//!
//! Filters: `--iface`, `--proto`, `--port`, `--ip`, `--reason` run in the
//! kernel when one value is given (and the interface or reason exists), and
//! always again in user space, where they also apply to the other kinds.
//! Drops are taken from every network namespace unless `--netns` narrows
//! to one; a drop outside the monitor's own namespace names it.
//!
//! Output: one line per event, `-v` more fields, `-vv` full dissection
//! (`--hex` adds a dump), `-j` JSON lines; `--write FILE` also writes the
//! packet bytes of drops and traces as pcapng; `--summary` replaces the
//! lines by a table of drop counts every second, counted in the kernel.
//!
//! When the daemon's socket exists and the daemon collects what is asked,
//! the events come from it (see [`crate::remote`]; `--local` forces the
//! producers in-process), through the same stage and output.
//!
//! Exit status: 0; 2 when events were lost or malformed; 1 on errors
//! (including a missing privilege, reported in one line).

mod output;
mod plan;

use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{ArgAction, Args};
use inetmon_core::drop_summary::DropSummary;
use inetmon_core::event::EventKind;
use inetmon_core::format::monitor::{MonitorFormatter, MonitorOptions, Verbosity};
use inetmon_core::format::pcapng::PcapngWriter;
use inetmon_core::protocol::{FilterSpec, MonitorFilterSpec, Request};
use inetmon_io::conntrack::{ConntrackConfig, ConntrackSource};
use inetmon_io::consumer::{Consumer, Producers, Sink};
use inetmon_io::datapath::{enrich, netns as enrich_netns, DatapathProducer, DropCounter};
use inetmon_io::nflog::{NflogConfig, NflogSource, NflogSourceError};
use inetmon_io::nftrace::{NftraceConfig, NftraceSource};
use inetmon_io::outputs::TextOut;
use inetmon_io::pipeline::DEFAULT_CAPACITY;
use inetmon_io::safe_open;
use inetmon_io::shutdown::Shutdown;
use inetmon_io::sockets::{SocketsConfig, SocketsProducer};

use self::output::{MonitorStage, PcapSink};
use self::plan::Plan as Wiring;
use crate::report::{self, Status};

/// Flags of `inetmon monitor`.
#[derive(Debug, Clone, Args)]
pub(crate) struct MonitorArgs {
    /// Event kinds to show: drop, trace, capture (= drop,trace), sock,
    /// packet, nat, state, debug (nftables traces), lost (default: drop,
    /// plus trace with --iface).
    #[arg(long = "type", short = 't', value_name = "KIND", value_delimiter = ',')]
    pub(crate) types: Vec<String>,
    /// More detail: -v adds fields, -vv dissects every layer.
    #[arg(short = 'v', action = ArgAction::Count)]
    pub(crate) verbose: u8,
    /// One JSON object per line.
    #[arg(short = 'j', long = "json")]
    pub(crate) json: bool,
    /// With -vv, a hex dump of the captured bytes.
    #[arg(long)]
    pub(crate) hex: bool,
    /// Interfaces to trace (tc ingress and egress) and to filter drops on.
    #[arg(long = "iface", short = 'i', value_name = "IF", value_delimiter = ',')]
    pub(crate) ifaces: Vec<String>,
    /// Trace packets between local sockets and the stack (`from-stack`,
    /// `to-stack`: cgroup skb hooks on the cgroup v2 root, every
    /// namespace), naming the process that owns the socket.
    #[arg(long)]
    pub(crate) stack: bool,
    /// Only packets and connections with this address or prefix on either side.
    #[arg(long, value_name = "ADDR[/PREFIX]")]
    pub(crate) ip: Vec<String>,
    /// Only packets and connections with this port on either side.
    #[arg(long, value_name = "N")]
    pub(crate) port: Vec<u16>,
    /// Only this IP protocol (tcp, udp, icmp, icmpv6, sctp, … or a number).
    #[arg(long, value_name = "P")]
    pub(crate) proto: Vec<String>,
    /// Only drops with this reason (NO_SOCKET, SKB_DROP_REASON_NO_SOCKET, …).
    #[arg(long, value_name = "R")]
    pub(crate) reason: Vec<String>,
    /// Also show drops whose reason is NOT_SPECIFIED (off by default).
    #[arg(long)]
    pub(crate) not_specified: bool,
    /// Only drops in this network namespace: `own` (the monitor's), an
    /// `ip netns` name, or an inode number (default: every namespace).
    #[arg(long, value_name = "own|NAME|INODE")]
    pub(crate) netns: Option<String>,
    /// Drops from every network namespace: the default; accepted for
    /// compatibility, refused together with --netns.
    #[arg(long, conflicts_with = "netns")]
    pub(crate) all_netns: bool,
    /// Also write the packets of drops and traces to this pcapng file.
    #[arg(long, short = 'w', value_name = "FILE")]
    pub(crate) write: Option<PathBuf>,
    /// Link type of the `--write` file: `ethernet` (default; packets
    /// captured at the IP header, such as traces on tun or wireguard and
    /// many drops, get a synthesised Ethernet header, readable by tcpdump
    /// and Wireshark) or `raw` (LINKTYPE_RAW, the IP packets as captured;
    /// Wireshark reads it, libpcap 1.10 does not).
    #[arg(long, value_name = "TYPE", default_value = "ethernet", value_parser = ["ethernet", "raw"])]
    pub(crate) write_linktype: String,
    /// A live table of drop counts by reason, location and interface,
    /// refreshed every second, instead of one line per drop.
    #[arg(long)]
    pub(crate) summary: bool,
    /// Bytes of each packet to capture (1–256).
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub(crate) snaplen: u32,
    /// Traces: report one packet in N.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) sample: u32,
    /// NFLOG groups for `--type packet` (default 0).
    #[arg(long, value_name = "G", value_delimiter = ',')]
    pub(crate) nflog: Vec<u16>,
    /// `--count`, `--duration`.
    #[command(flatten)]
    pub(crate) stop: crate::cli::StopFlags,
    /// Ring-buffer size in KiB (a power of two).
    #[arg(long, default_value_t = 4096)]
    pub(crate) ring_kib: u32,
    /// Run the producers in this process even when the daemon's socket
    /// exists (`$INETMON_SOCKET`, else /run/inetmon/inetmon.sock).
    #[arg(long)]
    pub(crate) local: bool,
}

/// Runs `inetmon monitor` until interrupted, `--count` or `--duration`.
///
/// # Errors
/// Bad flags, missing privileges, load/attach failures, output errors
/// other than a closed pipe.
pub(crate) fn run(args: &MonitorArgs) -> anyhow::Result<Status> {
    let mut plan = Wiring::from_args(args)?;
    let missing = plan::missing_capabilities(&plan);
    let kinds = [
        (plan.kernel.drops, EventKind::Drop),
        (plan.sock, EventKind::Sock),
        (!plan.nflog_groups.is_empty(), EventKind::Packet),
        (plan.nat, EventKind::Nat),
        (plan.state, EventKind::State),
    ]
    .into_iter()
    .filter_map(|(on, kind)| on.then_some(kind))
    .collect();
    let request = Request {
        kinds,
        nflog_groups: plan.nflog_groups.clone(),
        filter: FilterSpec::Monitor(MonitorFilterSpec::from_filter(&plan.filter)),
    };
    let remote = crate::remote::connect(
        &crate::remote::Want {
            cmd: "inetmon monitor",
            local: args.local,
            local_only: &[
                (args.summary, "--summary"),
                (
                    !plan.kernel.trace_ifaces.is_empty() || plan.kernel.stack,
                    "--type trace",
                ),
                (args.netns.is_some(), "--netns"),
                (plan.debug, "--type debug"),
            ],
            can_local: missing.is_none(),
        },
        &request,
    )?;
    let shutdown = Shutdown::on_signals().context("installing signal handlers")?;
    let mut producers = Producers::new(shutdown.clone(), DEFAULT_CAPACITY);
    let mut drop_counter = None;
    let attached = if let Some(src) = remote {
        crate::remote::spawn(src, &mut producers)?;
        format!(
            "inetmon monitor: attached (through the daemon at {})",
            crate::remote::path().display()
        )
    } else {
        if let Some(missing) = missing {
            bail!("monitor needs {missing} (run as root)");
        }
        drop_counter = start_local(args, &mut plan, &mut producers, &shutdown)?;
        "inetmon monitor: attached".to_owned()
    };

    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(path) = &args.write {
        let f = safe_open::open_truncate(path).context("--write")?;
        let mut w = PcapngWriter::new(
            BufWriter::with_capacity(256 * 1024, f),
            concat!("inetmon ", env!("CARGO_PKG_VERSION")),
            plan.kernel.snaplen,
        )
        .with_context(|| format!("writing {}", path.display()))?;
        if args.write_linktype == "raw" {
            w.use_raw_ip();
        }
        sinks.push(Box::new(PcapSink(w, format!("write {}", path.display()))));
    }
    sinks.push(Box::new(TextOut::stdout(&shutdown)));
    let verbosity = match args.verbose {
        0 => Verbosity::Info,
        1 => Verbosity::Debug,
        _ => Verbosity::Verbose,
    };
    let formatter = MonitorFormatter::new(MonitorOptions {
        verbosity,
        hex: args.hex,
    });
    let summary = args.summary.then(DropSummary::new);
    let mut stage = MonitorStage::new(
        plan.filter.clone(),
        formatter,
        args.json,
        summary,
        drop_counter,
    );

    // Tests and scripts wait for this line: the programs are attached.
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{attached}");
    }
    let consumer_plan = args
        .stop
        .plan(args.summary.then_some(Duration::from_secs(1)));
    let mut consumer = Consumer::new(&mut stage, sinks);
    let mut ended = consumer.run(producers, &consumer_plan);
    if args.summary && ended.output.is_ok() {
        // A last table, with the final counts.
        ended.output = consumer.tick().and_then(|()| consumer.flush());
    }
    report::ended("inetmon monitor", ended, &consumer.report())
}

/// Starts the producers in this process; the kernel's drop counter for
/// `--summary`.
fn start_local(
    args: &MonitorArgs,
    plan: &mut Wiring,
    producers: &mut Producers,
    shutdown: &Shutdown,
) -> anyhow::Result<Option<DropCounter>> {
    let mut drop_counter = None;
    if plan.kernel.drops || !plan.kernel.trace_ifaces.is_empty() || plan.kernel.stack {
        let reasons = enrich::drop_reasons().ok();
        plan.kernel_names(reasons.as_ref())?;
        let netns = enrich::own_netns()?;
        if let Some(spec) = &args.netns {
            plan.kernel.netns = Some(enrich_netns::resolve_spec(spec, netns)?);
        }
        let mut p = DatapathProducer::start(&plan.kernel, reasons, enrich::kallsyms(), netns)
            .context("starting the datapath programs")?;
        if args.summary {
            drop_counter = p.drop_counter();
        }
        producers.add(
            "datapath",
            p.spawn(producers.pipeline(), shutdown.clone())?,
            false,
        );
    }
    if plan.sock {
        let p = SocketsProducer::start(&SocketsConfig::default())
            .context("starting the socket-event programs")?;
        let thread = p.spawn(producers.pipeline(), shutdown.clone(), Vec::new())?;
        producers.add("socket-event", thread, false);
    }
    if !plan.nflog_groups.is_empty() {
        let cfg = NflogConfig {
            groups: plan.nflog_groups.clone(),
            copy_range: plan.kernel.snaplen.max(128),
            ..NflogConfig::default()
        };
        // Errors that name their group ("NFLOG group 5 is …") need no
        // "opening NFLOG" in front.
        let src = NflogSource::open(cfg).map_err(|e| match e {
            e @ (NflogSourceError::Config { .. } | NflogSourceError::GroupInUse { .. }) => {
                anyhow::Error::new(e)
            }
            e => anyhow::Error::new(e).context("opening NFLOG"),
        })?;
        producers.add(
            "NFLOG",
            src.spawn(producers.pipeline(), shutdown.clone())?,
            false,
        );
    }
    if plan.nat || plan.state {
        let cfg = ConntrackConfig {
            nat: plan.nat,
            state: plan.state,
            ..ConntrackConfig::default()
        };
        let src = ConntrackSource::open(cfg).context("opening conntrack events")?;
        producers.add(
            "conntrack",
            src.spawn(producers.pipeline(), shutdown.clone())?,
            false,
        );
    }
    if plan.debug {
        let src = NftraceSource::open(NftraceConfig::default())
            .context("subscribing to nftables traces")?;
        producers.add(
            "nftables trace",
            src.spawn(producers.pipeline(), shutdown.clone())?,
            false,
        );
    }

    Ok(drop_counter)
}
