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
//! Exit status: 0; 2 when events were lost or malformed; 1 on errors.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use inetmon_core::event::{Event, ProcessInfo};
use inetmon_core::format::ahafs::{AhafsFormatter, InfoLevel};
use inetmon_core::format::json::JsonWriter;
use inetmon_core::format::sockline::write_sock_line;
use inetmon_io::sockets::existing::{existing_events, NetnsScope};
use inetmon_io::sockets::filter::{parse_watch, watch_set, Cidr, SockFilter};
use inetmon_io::sockets::procinfo::process_info;
use inetmon_io::sockets::{KernelFilters, SocketsConfig, SocketsProducer};
use jiff::tz::TimeZone;

/// Below this many records per wake-up the reader pauses [`BATCH_WAIT`].
const BATCH: usize = 256;
/// How long the reader lets records accumulate when batches are small.
/// The ring buffer (8 MiB, about 70 000 records) absorbs far more.
const BATCH_WAIT: Duration = Duration::from_millis(2);

/// Most processes whose `/proc` details are cached at info level 3.
const PROC_CACHE: usize = 4096;

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
    /// Stop after this many events have been printed.
    #[arg(long)]
    pub(crate) count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) duration: Option<f64>,
    /// Ring-buffer size in KiB (a power of two).
    #[arg(long, default_value_t = 8192)]
    pub(crate) ring_kib: u32,
}

/// Runs `inetmon sockets` until interrupted, `--count` or `--duration`.
///
/// # Errors
/// Bad flags, missing privileges, load/attach failures, output errors
/// other than a closed pipe.
pub(crate) fn run(args: SocketsArgs) -> anyhow::Result<ExitCode> {
    // One line naming what is missing, before any program or map is tried.
    if let Some(missing) = crate::privilege::missing_caps(true, true) {
        anyhow::bail!("sockets needs {missing} (or root)");
    }
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
        },
        ring_bytes,
        ..SocketsConfig::default()
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("installing signal handler")?;
    }
    let mut producer =
        SocketsProducer::start(&cfg).context("starting the socket-event programs")?;
    // The binary decides where text goes: this line tells scripts and tests
    // that the programs are attached.
    #[allow(clippy::print_stderr)]
    {
        eprintln!("inetmon sockets: attached");
    }
    let tz = TimeZone::try_system().unwrap_or(TimeZone::UTC);
    let level = match args.info_level {
        1 => InfoLevel::One,
        3 => InfoLevel::Three,
        _ => InfoLevel::Two,
    };
    let mut printer = Printer {
        format: args.format,
        ahafs: AhafsFormatter::new(level, tz.clone()),
        json: JsonWriter::new(),
        tz,
        level3: args.info_level == 3,
        filter,
        out: BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
        printed: 0,
        problems: false,
        err: None,
        procs: HashMap::new(),
    };
    if args.existing {
        let evs = existing_events(NetnsScope::All, &mut || producer.next_seq())
            .context("sock_diag snapshot")?;
        for ev in evs {
            printer.event(Event::Sock(Box::new(ev)));
        }
    }
    let deadline = args
        .duration
        .map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let limit = args.count.unwrap_or(u64::MAX);
    while !stop.load(Ordering::Relaxed)
        && printer.printed < limit
        && deadline.is_none_or(|d| Instant::now() < d)
        && printer.err.is_none()
    {
        let n = producer.poll(Duration::from_millis(100), &mut |ev| {
            if printer.printed < limit {
                printer.event(ev);
            }
        })?;
        if let Err(e) = printer.out.flush() {
            printer.err = Some(e);
        }
        // A small batch means we are keeping up: let records accumulate for
        // a moment instead of waking (and writing) once per event.
        if n > 0 && n < BATCH {
            std::thread::sleep(BATCH_WAIT);
        }
    }
    // Stopped by a signal or --duration: print what the kernel had already
    // queued (bounded, in case events keep coming faster than we print).
    let mut rounds = 0;
    while printer.printed < limit && printer.err.is_none() && rounds < 1000 {
        rounds += 1;
        let n = producer.poll(Duration::ZERO, &mut |ev| {
            if printer.printed < limit {
                printer.event(ev);
            }
        })?;
        if n == 0 {
            break;
        }
    }
    producer.check_lost(&mut |ev| printer.event(ev));
    let flushed = printer.out.flush();
    match printer.err.map_or(flushed, Err) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e).context("write to stdout"),
        Ok(()) => {}
    }
    Ok(if printer.problems {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

struct Printer<W: Write> {
    format: SockFormat,
    ahafs: AhafsFormatter,
    json: JsonWriter,
    tz: TimeZone,
    level3: bool,
    filter: SockFilter,
    out: W,
    printed: u64,
    problems: bool,
    err: Option<io::Error>,
    procs: HashMap<u32, ProcessInfo>,
}

impl<W: Write> Printer<W> {
    fn event(&mut self, ev: Event) {
        if self.err.is_some() {
            return;
        }
        let r = match ev {
            Event::Sock(mut s) => {
                if !self.filter.matches(&s) {
                    return;
                }
                if self.level3 && s.task.pid != 0 {
                    s.process = Some(self.process(s.task.pid));
                }
                // (--count counts what is printed: AHAFS has no block
                // for a connect attempt.)
                self.sock(&Event::Sock(s)).map(|printed| {
                    self.printed += u64::from(printed);
                })
            }
            Event::Lost(l) => {
                self.problems = true;
                match self.format {
                    SockFormat::Json => self.json.write(&Event::Lost(l), &mut self.out),
                    _ => {
                        // `LOST 5 socket events (kernel: connect 3, accept 2)`
                        let sep = if l.breakdown.is_empty() { "" } else { ": " };
                        writeln!(
                            self.out,
                            "LOST {} socket events ({}{sep}{})",
                            l.count,
                            l.stage.as_str(),
                            l.breakdown_text()
                        )
                    }
                }
            }
            Event::Malformed(m) => {
                self.problems = true;
                writeln!(self.out, "MALFORMED socket record: {}", m.reason)
            }
            _ => Ok(()),
        };
        if let Err(e) = r {
            self.err = Some(e);
        }
    }

    /// Command line and parent pid of `pid`, read from `/proc` the first
    /// time the pid is seen and cached, so that events arriving after the
    /// process exited still carry them. (A reused pid keeps the old entry
    /// until the cache is cleared at [`PROC_CACHE`] entries.)
    fn process(&mut self, pid: u32) -> ProcessInfo {
        if let Some(p) = self.procs.get(&pid) {
            return p.clone();
        }
        if self.procs.len() >= PROC_CACHE {
            self.procs.clear();
        }
        let p = process_info(pid);
        if !p.cmdline.is_empty() {
            self.procs.insert(pid, p.clone());
        }
        p
    }

    /// Writes one socket event (`ev` is always [`Event::Sock`]); whether
    /// anything was written.
    fn sock(&mut self, ev: &Event) -> io::Result<bool> {
        let Event::Sock(s) = ev else {
            return Ok(false);
        };
        match self.format {
            SockFormat::Line => write_sock_line(s, &self.tz, &mut self.out).map(|()| true),
            SockFormat::Ahafs => self.ahafs.write(s, &mut self.out),
            SockFormat::Json => self.json.write(ev, &mut self.out).map(|()| true),
        }
    }
}
