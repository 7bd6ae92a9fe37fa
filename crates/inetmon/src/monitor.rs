//! `inetmon monitor`: kernel drops with reasons, interface traces and
//! captures from eBPF, and every other inetmon event kind (socket
//! operations, NFLOG packets, conntrack NAT and state) in one stream.
//!
//! Event kinds (`--type`, comma-separated or repeated): `drop` (the
//! default), `trace` (default too when `--iface` is given, which it
//! needs), `sock`, `packet` (NFLOG groups of `--nflog`, group 0 by
//! default), `nat`, `state`; `lost` and `malformed` are always shown.
//!
//! Filters: `--iface`, `--proto`, `--port`, `--ip`, `--reason` run in the
//! kernel when one value is given (and the interface or reason exists), and
//! always again in user space, where they also apply to the other kinds.
//! Drops are taken from the monitor's own network namespace unless
//! `--all-netns`.
//!
//! Output: one line per event, `-v` more fields, `-vv` full dissection
//! (`--hex` adds a dump), `-j` JSON lines; `--write FILE` also writes the
//! packet bytes of drops and traces as pcapng; `--summary` replaces the
//! lines by a table of drop counts every second, counted in the kernel.
//!
//! Exit status: 0; 2 when events were lost or malformed; 1 on errors
//! (including a missing privilege, reported in one line).

mod output;
mod plan;

use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::{ArgAction, Args};
use inetmon_core::drop_summary::DropSummary;
use inetmon_core::format::monitor::{MonitorFormatter, MonitorOptions, Verbosity};
use inetmon_core::format::pcapng::PcapngWriter;
use inetmon_io::conntrack::{ConntrackConfig, ConntrackSource};
use inetmon_io::datapath::{enrich, DatapathProducer};
use inetmon_io::nflog::{NflogConfig, NflogSource};
use inetmon_io::pipeline::Pipeline;
use inetmon_io::safe_open;
use inetmon_io::shutdown::Shutdown;
use inetmon_io::sockets::{SocketsConfig, SocketsProducer};

use self::output::Printer;
use self::plan::Plan;

/// Flags of `inetmon monitor`.
#[derive(Debug, Clone, Args)]
pub(crate) struct MonitorArgs {
    /// Event kinds to show: drop, trace, capture (= drop,trace), sock,
    /// packet, nat, state, lost (default: drop, plus trace with --iface).
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
    /// Drops from every network namespace, not only the monitor's own
    /// (interface names are then looked up in the monitor's namespace).
    #[arg(long)]
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
    /// Stop after this many events have been shown.
    #[arg(long)]
    pub(crate) count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) duration: Option<f64>,
    /// Ring-buffer size in KiB (a power of two).
    #[arg(long, default_value_t = 4096)]
    pub(crate) ring_kib: u32,
}

/// Runs `inetmon monitor` until interrupted, `--count` or `--duration`.
///
/// # Errors
/// Bad flags, missing privileges, load/attach failures, output errors
/// other than a closed pipe.
pub(crate) fn run(args: &MonitorArgs) -> anyhow::Result<ExitCode> {
    let mut plan = Plan::from_args(args)?;
    if let Some(missing) = plan::missing_capabilities(&plan) {
        bail!("monitor needs {missing} (run as root)");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("installing signal handler")?;
    }
    let shutdown = Shutdown::with_flag(Arc::clone(&stop)).context("creating the shutdown waker")?;

    let mut datapath = None;
    if plan.kernel.drops || !plan.kernel.trace_ifaces.is_empty() {
        let reasons = enrich::drop_reasons().ok();
        plan.kernel_names(reasons.as_ref())?;
        let netns = enrich::own_netns()?;
        if !args.all_netns {
            plan.kernel.netns = Some(netns);
        }
        let p = DatapathProducer::start(&plan.kernel, reasons, enrich::kallsyms(), netns)
            .context("starting the datapath programs")?;
        datapath = Some(p);
    }
    let mut sockets = if plan.sock {
        Some(
            SocketsProducer::start(&SocketsConfig::default())
                .context("starting the socket-event programs")?,
        )
    } else {
        None
    };
    let pipeline = Pipeline::new(65_536);
    let mut threads = Vec::new();
    if !plan.nflog_groups.is_empty() {
        let cfg = NflogConfig {
            groups: plan.nflog_groups.clone(),
            copy_range: plan.kernel.snaplen.max(128),
            ..NflogConfig::default()
        };
        let src = NflogSource::open(cfg).context("opening NFLOG")?;
        let h = src.spawn(&pipeline, shutdown.clone())?;
        threads.push(std::thread::spawn(move || {
            h.join()
                .ok()
                .and_then(Result::err)
                .map(|e| crate::report::error_text(&e))
        }));
    }
    if plan.nat || plan.state {
        let cfg = ConntrackConfig {
            nat: plan.nat,
            state: plan.state,
            ..ConntrackConfig::default()
        };
        let src = ConntrackSource::open(cfg).context("opening conntrack events")?;
        let h = src.spawn(&pipeline, shutdown.clone())?;
        threads.push(std::thread::spawn(move || {
            h.join()
                .ok()
                .and_then(Result::err)
                .map(|e| crate::report::error_text(&e))
        }));
    }
    let rx = pipeline.close();
    let other_sources = !threads.is_empty();

    let pcap = match &args.write {
        Some(path) => {
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
            Some(w)
        }
        None => None,
    };
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
    let mut printer = Printer::new(plan.filter.clone(), formatter, args.json, pcap, summary);

    // Tests and scripts wait for this line: the programs are attached.
    #[allow(clippy::print_stderr)]
    {
        eprintln!("inetmon monitor: attached");
    }
    let deadline = args
        .duration
        .map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let limit = args.count.unwrap_or(u64::MAX);
    let wait = if other_sources || sockets.is_some() {
        Duration::from_millis(20)
    } else {
        Duration::from_millis(100)
    };
    let mut last_tick = Instant::now();
    let handle = |printer: &mut Printer, ev: inetmon_core::event::Event| {
        if printer.printed < limit {
            printer.event(&ev);
        }
    };
    while !stop.load(Ordering::Relaxed)
        && printer.printed < limit
        && deadline.is_none_or(|d| Instant::now() < d)
        && printer.err.is_none()
    {
        let mut waited = false;
        if let Some(dp) = &mut datapath {
            dp.poll(wait, &mut |ev| handle(&mut printer, ev))?;
            waited = true;
        }
        if let Some(s) = &mut sockets {
            let t = if waited { Duration::ZERO } else { wait };
            s.poll(t, &mut |ev| handle(&mut printer, ev))?;
            waited = true;
        }
        if waited {
            while let Ok(ev) = rx.try_recv() {
                handle(&mut printer, ev);
            }
        } else {
            match rx.recv_timeout(wait) {
                Ok(ev) => {
                    handle(&mut printer, ev);
                    while let Ok(ev) = rx.try_recv() {
                        handle(&mut printer, ev);
                    }
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                // Every source thread has ended (it reports why below).
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            }
        }
        if args.summary && last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            if let Some(dp) = &datapath {
                if let Some(s) = &mut printer.summary {
                    for (key, n) in dp.drop_counts() {
                        s.set_count(key, n);
                    }
                }
            }
            printer.summary_tick();
        }
        printer.flush();
    }
    // Final loss report and, for --summary, a last table.
    if let Some(dp) = &mut datapath {
        dp.check_lost(&mut |ev| handle(&mut printer, ev));
        if let Some(s) = &mut printer.summary {
            for (key, n) in dp.drop_counts() {
                s.set_count(key, n);
            }
        }
    }
    if let Some(s) = &mut sockets {
        s.check_lost(&mut |ev| handle(&mut printer, ev));
    }
    if args.summary {
        printer.summary_tick();
    }
    shutdown.trigger();
    while let Ok(ev) = rx.try_recv() {
        handle(&mut printer, ev);
    }
    printer.flush();
    drop(datapath);
    for t in threads {
        if let Ok(Some(e)) = t.join() {
            crate::report::error_line("inetmon monitor", &e);
        }
    }
    match printer.err.take() {
        Some(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Some(e) => {
            let what = match (&args.write, printer.err_in_pcap) {
                (Some(path), true) => format!("write {}", path.display()),
                _ => "write to stdout".to_owned(),
            };
            return Err(e).context(what);
        }
        None => {}
    }
    Ok(if printer.problems > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
