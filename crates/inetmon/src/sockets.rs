//! `inetmon sockets`: socket-operation events from eBPF (the AHAFS
//! `inetsock` producer on Linux).
//!
//! Filters `--pid`, `--uid`, `--port` and `--watch` run in the kernel (and
//! again in user space for `--existing` events); `--comm` and `--addr` run
//! in user space. `--watch` also attaches only the programs the watched
//! operations need. Output is one aligned line per event (`line`), the AHAFS
//! block (`ahafs`) or one JSON object per line (`json`). A kernel loss
//! (ring-buffer reserve failure) is printed in-band in every format.
//!
//! When the daemon's socket exists, the events come from the daemon
//! instead (see [`crate::remote`]; `--local` forces the programs
//! in-process), through the same stage and output.
//!
//! Exit status: 0; 2 when events were lost or malformed; 1 on errors.

use std::io::{self, Write};
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use inetmon_core::cidr::Cidr;
use inetmon_core::event::{Event, EventKind, SockOp};
use inetmon_core::format::ahafs::{AhafsFormatter, InfoLevel};
use inetmon_core::format::json::JsonWriter;
use inetmon_core::format::sockline::write_sock_line;
use inetmon_core::protocol::{FilterSpec, Request, SockFilterSpec};
use inetmon_core::sock_filter::{parse_watch, watch_set, SockFilter};
use inetmon_io::aha::{AhaFs, FACTORY_DIR};
use inetmon_io::consumer::{render_with, Consumer, Producers, Rendered, Sink, Stage, Verdict};
use inetmon_io::outputs::TextOut;
use inetmon_io::pipeline::DEFAULT_CAPACITY;
use inetmon_io::service::{AhaSink, Log};
use inetmon_io::shutdown::Shutdown;
use inetmon_io::sockets::existing::{existing_events, NetnsScope};
use inetmon_io::sockets::procinfo::ProcessCache;
use inetmon_io::sockets::{KernelFilters, SocketsConfig, SocketsProducer};
use jiff::tz::TimeZone;

use crate::report::{self, Status};

/// Output formats of `inetmon sockets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SockFormat {
    /// One aligned line per event.
    Line,
    /// The AIX AHAFS event block, one item a line.
    Ahafs,
    /// One JSON object per line.
    Json,
}

/// Flags of `inetmon sockets`.
#[derive(Debug, Clone, Args)]
pub(crate) struct SocketsArgs {
    /// Monitors to report, comma-separated: streamCreate, streamBind,
    /// streamListen, streamAccept, streamConnect, streamDisconnect,
    /// streamClose, dgramCreate, dgramBind, dgramConnect, dgramClose
    /// (default: all). Filtered in the kernel, and only the BPF programs
    /// these need are attached.
    #[arg(long, value_name = "MONITORS")]
    pub(crate) watch: Option<String>,
    /// Only events of this process id (filtered in the kernel).
    #[arg(long)]
    pub(crate) pid: Option<u32>,
    /// Only events of this user id (filtered in the kernel).
    #[arg(long)]
    pub(crate) uid: Option<u32>,
    /// Only events of this program name.
    #[arg(long)]
    pub(crate) comm: Option<String>,
    /// Only events with this local or foreign port (filtered in the kernel;
    /// create events have no port and never match).
    #[arg(long)]
    pub(crate) port: Option<u16>,
    /// Only events of tasks in this cgroup v2 directory (a path such as
    /// /sys/fs/cgroup/system.slice/ssh.service; filtered in the kernel).
    #[arg(long, value_name = "PATH")]
    pub(crate) cgroup: Option<std::path::PathBuf>,
    /// Only events with an end in this address or CIDR (IPv4-mapped IPv6
    /// spellings match their IPv4 form).
    #[arg(long, value_name = "CIDR")]
    pub(crate) addr: Option<String>,
    /// Start with synthetic events for the sockets that already exist, in
    /// every network namespace.
    #[arg(long)]
    pub(crate) existing: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SockFormat::Line)]
    pub(crate) format: SockFormat,
    /// 1: no producer details (ahafs), 2: default, 3: add command line and
    /// parent pid.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=3))]
    pub(crate) info_level: u8,
    /// `--count`, `--duration`.
    #[command(flatten)]
    pub(crate) stop: crate::cli::StopFlags,
    /// Ring-buffer size in KiB (a power of two).
    #[arg(long, default_value_t = 8192)]
    pub(crate) ring_kib: u32,
    /// Run the socket-event programs in this process even when the
    /// daemon's socket exists (`$INETMON_SOCKET`, else
    /// /run/inetmon/inetmon.sock); without it, the daemon is used.
    #[arg(long)]
    pub(crate) local: bool,
    /// Also report bind, listen, accept and connect made as 32-bit (ia32
    /// compat) system calls (`-m32` binaries, `int 0x80`), which the
    /// per-syscall tracepoints never see: attaches programs on the raw
    /// sys_enter/sys_exit tracepoints, which run for every system call
    /// of every process (~180 ns each on the test VM: BENCHMARKS.md §9). Runs the
    /// programs in this process (as --local). Without it, such calls show
    /// only create, successful bind, listen, connect attempt and TCP
    /// outcome, disconnect and close.
    #[arg(long)]
    pub(crate) compat: bool,
    /// Also serve the AHAFS monitor files on this directory (FUSE):
    /// MOUNTPOINT/net/inetsock.monFactory/*.mon, until interrupted. The
    /// files get the events that pass the filters.
    #[arg(long, value_name = "MOUNTPOINT")]
    pub(crate) aha: Option<std::path::PathBuf>,
}

/// Runs `inetmon sockets` until interrupted, `--count` or `--duration`.
///
/// # Errors
/// Bad flags, missing privileges, load/attach failures, output errors
/// other than a closed pipe.
pub(crate) fn run(args: SocketsArgs) -> anyhow::Result<Status> {
    let monitors = args
        .watch
        .as_deref()
        .map(parse_watch)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let addr: Option<Cidr> = args.addr.as_deref().map(str::parse).transpose()?;
    let watch = watch_set(monitors.as_deref());
    let filter = SockFilter {
        monitors,
        comm: args.comm.clone(),
        addr,
        pid: args.pid,
        uid: args.uid,
        port: args.port,
    };
    let ring_bytes = args
        .ring_kib
        .checked_mul(1024)
        .filter(|b| b.is_power_of_two() && *b >= 4096)
        .context("--ring-kib must be a power of two of at least 4")?;
    let missing = crate::privilege::missing_caps(true, true);
    let request = Request {
        kinds: vec![EventKind::Sock],
        nflog_groups: Vec::new(),
        filter: FilterSpec::Sockets(SockFilterSpec::from_filter(&filter)),
    };
    let local_only = [
        (args.existing, "--existing"),
        (args.aha.is_some(), "--aha"),
        (args.cgroup.is_some(), "--cgroup"),
        (args.compat, "--compat"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag));
    let remote = crate::remote::connect(
        &crate::remote::Want {
            cmd: "inetmon sockets",
            local: args.local,
            local_only,
            can_local: missing.is_none(),
        },
        &request,
    )?;
    let tz = TimeZone::try_system().unwrap_or(TimeZone::UTC);
    let level = match args.info_level {
        1 => InfoLevel::One,
        3 => InfoLevel::Three,
        _ => InfoLevel::Two,
    };
    let mut stage = SocketsStage {
        format: args.format,
        ahafs: AhafsFormatter::new(level, tz.clone()),
        json: JsonWriter::new(),
        tz: tz.clone(),
        level3: args.info_level == 3,
        filter,
        procs: ProcessCache::default(),
    };
    let shutdown = Shutdown::on_signals().context("installing signal handlers")?;
    let mut producers = Producers::new(shutdown.clone(), DEFAULT_CAPACITY);
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(src) = remote {
        crate::remote::spawn(src, &mut producers)?;
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "inetmon sockets: attached (through the daemon at {})",
                crate::remote::path().display()
            );
        }
    } else {
        // One line naming what is missing, before any program or map is tried.
        if let Some(missing) = missing {
            anyhow::bail!("sockets needs {missing} (or root)");
        }
        // On cgroup v2 the id of a cgroup is its directory's inode number.
        let cgroup = args
            .cgroup
            .as_ref()
            .map(|p| {
                std::fs::metadata(p)
                    .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
                    .with_context(|| format!("--cgroup {}", p.display()))
            })
            .transpose()?;
        let cfg = SocketsConfig {
            filters: KernelFilters {
                pid: args.pid,
                uid: args.uid,
                port: args.port,
                cgroup,
                watch,
                segments: false,
                compat: args.compat,
            },
            ring_bytes,
            ..SocketsConfig::default()
        };
        let mut producer =
            SocketsProducer::start(&cfg).context("starting the socket-event programs")?;
        // The binary decides where text goes: this line tells scripts and tests
        // that the programs are attached.
        #[allow(clippy::print_stderr)]
        {
            eprintln!("inetmon sockets: attached");
        }
        let aha = args
            .aha
            .as_deref()
            .map(|m| AhaFs::mount(m, tz.clone()))
            .transpose()?;
        if let Some(a) = &aha {
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "inetmon sockets: AHAFS files in {}/net/{FACTORY_DIR}",
                    a.mountpoint().display()
                );
            }
        }
        let first = if args.existing {
            existing_events(NetnsScope::All, &mut || producer.next_seq())
                .context("sock_diag snapshot")?
                .into_iter()
                .map(|ev| Event::Sock(Box::new(ev)))
                .collect()
        } else {
            Vec::new()
        };
        let thread = producer.spawn(producers.pipeline(), shutdown.clone(), first)?;
        producers.add("socket-event", thread, false);
        if let Some(aha) = aha {
            #[allow(clippy::print_stderr)]
            let log: Log = Arc::new(|m: &str| eprintln!("inetmon sockets: {m}"));
            sinks.push(Box::new(AhaSink::new(aha, log)));
        }
    }
    let plan = args.stop.plan(None);
    sinks.push(Box::new(TextOut::stdout(&shutdown)));
    let mut consumer = Consumer::new(&mut stage, sinks);
    let ended = consumer.run(producers, &plan);
    report::ended("inetmon sockets", ended, &consumer.report())
}

/// Filter → format of `inetmon sockets`.
struct SocketsStage {
    format: SockFormat,
    ahafs: AhafsFormatter,
    json: JsonWriter,
    tz: TimeZone,
    level3: bool,
    filter: SockFilter,
    procs: ProcessCache,
}

impl Stage for SocketsStage {
    fn unwritten(&mut self, what: &str, count: u64) {
        crate::report::unwritten("inetmon sockets", what, count);
    }

    fn render(&mut self, ev: &mut Event, out: &mut Rendered) -> Verdict {
        let (verdict, r) = match ev {
            Event::Sock(s) => {
                if !self.filter.matches(s) {
                    return Verdict::Drop;
                }
                if self.level3 && s.task.pid != 0 {
                    s.process = Some(self.procs.get(s.task.pid));
                }
                // AHAFS has one block per connect, the outcome: no block
                // for the attempt, and it does not count toward --count.
                if matches!(self.format, SockFormat::Ahafs) && s.op == SockOp::Connect {
                    return Verdict::Drop;
                }
                (Verdict::Show, self.sock(ev, out))
            }
            Event::Lost(l) => {
                let r = match self.format {
                    SockFormat::Json => render_with(out, |w| self.json.write(ev, w)),
                    // `LOST 5 socket events (kernel: connect 3, accept 2)`
                    _ => render_with(out, |w| {
                        let sep = if l.breakdown.is_empty() { "" } else { ": " };
                        writeln!(
                            w,
                            "LOST {} socket events ({}{sep}{})",
                            l.count,
                            l.stage.as_str(),
                            l.breakdown_text()
                        )
                    }),
                };
                (Verdict::ShowUncounted, r)
            }
            Event::Malformed(m) => (
                Verdict::ShowUncounted,
                render_with(out, |w| {
                    writeln!(w, "MALFORMED socket record: {}", m.reason)
                }),
            ),
            _ => return Verdict::Drop,
        };
        // Writing into memory does not fail; a formatter error drops the event.
        if r.is_err() {
            return Verdict::Drop;
        }
        verdict
    }
}

impl SocketsStage {
    /// Formats one socket event (`ev` is always [`Event::Sock`]).
    fn sock(&mut self, ev: &Event, out: &mut Rendered) -> io::Result<()> {
        let Event::Sock(s) = ev else {
            return Ok(());
        };
        match self.format {
            SockFormat::Line => render_with(out, |w| write_sock_line(s, &self.tz, w)),
            SockFormat::Ahafs => render_with(out, |w| self.ahafs.write(s, w).map(|_| ())),
            SockFormat::Json => render_with(out, |w| self.json.write(ev, w)),
        }
    }
}
