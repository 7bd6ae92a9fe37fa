//! The daemon's runtime (`inetmon daemon`): every configured producer
//! into the one consumer loop, whose sinks are the journal and the
//! components [`assemble()`] wires from the configuration.
//!
//! A run ([`run`]):
//! 1. opens the journal ([`Journal::open`]; after an unclean stop it
//!    writes the `gap` record first) and starts its writer thread;
//! 2. starts the producers ([`producers::start`]): `[sockets]`,
//!    `[nflog] groups`, `[conntrack]`, `[drops]`;
//! 3. assembles the sinks and side components ([`assemble()`]: THE place
//!    where components are added);
//! 4. runs the consumer ([`Consumer::run`]) with the [`DaemonStage`]
//!    (the `[sockets.filters]` that run in user space; nothing is
//!    formatted) and a one-second tick (the sinks' clock) until SIGTERM or
//!    SIGINT, or a SIGHUP whose configuration differs and is valid;
//! 5. stops the producers, drains the pipeline into the sinks, stops the
//!    components and closes the journal cleanly.
//!
//! SIGHUP rereads the configuration file. A file that does not validate
//! is reported (one line naming the file and the key) and the running
//! configuration is kept; an unchanged one is reported as such. A changed
//! one restarts the run (producers, journal writer, components) with it,
//! except what [`Kept`] carries over (the clients' hub and the AHAFS
//! mount, so that clients and open `.mon` files survive a reload; the
//! metrics registry, so that counters do not go back; the NATS exporter
//! while `[export.nats]` is unchanged):
//! producers are stopped before the new ones attach, so the few
//! milliseconds between are a hole the daemon cannot see into, and a `gap`
//! record from the old run's end to the new run's start says so in the
//! journal. When the new configuration's producers cannot start, that is
//! reported and the previous configuration runs again.
//!
//! Nothing here prints: messages go to the [`Log`] the caller gives.

mod aha_sink;
mod assemble;
mod drops;
mod journal_sink;
mod producers;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use inetmon_core::event::Event;
use inetmon_core::sock_filter::SockFilter;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

pub use self::aha_sink::AhaSink;
pub use self::assemble::{assemble, Assembly, Component, Context, Kept};
pub use self::drops::{DropCountsSink, DropTap};
pub use self::journal_sink::JournalSink;
pub use self::producers::{start as start_producers, Started};
use crate::consumer::{Consumer, Plan, Producers, Rendered, Stage, Verdict};
use crate::daemon_config::{ConfigError, DaemonConfig};
use crate::journal::{Gap, GapCause, Journal, JournalError, JournalThread};
use crate::pipeline::{now, DEFAULT_CAPACITY};
use crate::shutdown::Shutdown;

/// Where the daemon's messages go: one line each, without a trailing
/// newline (the binary writes them to standard error, which systemd
/// passes to its journal and syslog).
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// Most events queued for the journal writer before the journal sink
/// counts batches as lost.
pub const JOURNAL_QUEUE: usize = 262_144;

/// How often the signal watcher looks at the flags.
const WATCH: Duration = Duration::from_millis(50);

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The journal could not be opened or written.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A producer could not start.
    #[error("{what}: {why}")]
    Start {
        /// Which (`sockets`, `nflog`, `conntrack`, `drops`).
        what: &'static str,
        /// Why, in one line.
        why: String,
    },
    /// The AHAFS files could not be mounted.
    #[error(transparent)]
    Aha(#[from] crate::aha::AhaError),
    /// The clients' socket could not be set up.
    #[error(transparent)]
    Clients(#[from] crate::clients::HubError),
    /// A thread or signal handler could not be set up.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A configuration file.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl ServiceError {
    /// A producer's start error, its causes in one line.
    fn start(what: &'static str, e: &(dyn std::error::Error + 'static)) -> ServiceError {
        let mut why = e.to_string();
        let mut next = e.source();
        while let Some(c) = next {
            let t = c.to_string();
            if !why.ends_with(&t) {
                why.push_str(": ");
                why.push_str(&t);
            }
            next = c.source();
        }
        ServiceError::Start { what, why }
    }
}

/// The counts of a daemon's life, for its last line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Events the consumer received (all runs).
    pub events: u64,
    /// Events committed to the journal.
    pub journaled: u64,
    /// Events reported lost (summed over `Lost` events: kernel, channel).
    pub lost: u64,
    /// Events the journal sink could not hand to the writer (journaled as
    /// `Lost` too).
    pub journal_lost: u64,
    /// Configuration reloads applied.
    pub reloads: u64,
}

/// The daemon's stage: the `[sockets.filters]` that run in user space
/// (`comm`, `addr`; the others run in the kernel) and nothing else;
/// nothing is formatted (sinks take the events themselves). Its tick,
/// once a second, is the sinks' clock.
pub struct DaemonStage {
    filter: Option<SockFilter>,
    log: Log,
}

impl std::fmt::Debug for DaemonStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaemonStage")
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}

impl DaemonStage {
    /// The stage for `cfg`.
    #[must_use]
    pub fn new(cfg: &DaemonConfig, log: Log) -> Self {
        let filter = cfg.sockets.as_ref().and_then(|s| {
            let addr = s.filters.addr.as_deref().and_then(|a| a.parse().ok());
            (s.filters.comm.is_some() || addr.is_some()).then(|| SockFilter {
                monitors: None,
                comm: s.filters.comm.clone(),
                addr,
                pid: None,
                uid: None,
                port: None,
            })
        });
        DaemonStage { filter, log }
    }
}

impl Stage for DaemonStage {
    fn render(&mut self, ev: &mut Event, _out: &mut Rendered) -> Verdict {
        match (ev, &self.filter) {
            (Event::Sock(s), Some(f)) if !f.matches(s) => Verdict::Drop,
            _ => Verdict::Show,
        }
    }

    fn tick(&mut self, _out: &mut Rendered) -> bool {
        true
    }

    fn notice(&mut self, text: &str) {
        (self.log)(text);
    }

    fn unwritten(&mut self, what: &str, count: u64) {
        (self.log)(&format!("{what}: {count} not written"));
    }
}

/// The signal flags and the watcher thread that turns them into a stop or
/// a reload of the current run.
struct Signals {
    stop: Arc<AtomicBool>,
    /// The configuration the next run uses, set by a SIGHUP that changed it.
    pending: Arc<Mutex<Option<DaemonConfig>>>,
    /// The running configuration (what a SIGHUP compares with).
    current: Arc<Mutex<DaemonConfig>>,
    /// The current run's shutdown.
    run: Arc<Mutex<Option<Shutdown>>>,
    done: Arc<AtomicBool>,
    watcher: Option<std::thread::JoinHandle<()>>,
}

impl Signals {
    fn install(path: &Path, cfg: &DaemonConfig, log: &Log) -> Result<Signals, ServiceError> {
        let stop = Arc::new(AtomicBool::new(false));
        let hup = Arc::new(AtomicBool::new(false));
        for sig in [SIGINT, SIGTERM] {
            signal_hook::flag::register(sig, Arc::clone(&stop))?;
        }
        signal_hook::flag::register(SIGHUP, Arc::clone(&hup))?;
        let pending = Arc::new(Mutex::new(None));
        let current = Arc::new(Mutex::new(cfg.clone()));
        let run: Arc<Mutex<Option<Shutdown>>> = Arc::new(Mutex::new(None));
        let done = Arc::new(AtomicBool::new(false));
        let watcher = {
            let (stop, pending, current, run, done) = (
                Arc::clone(&stop),
                Arc::clone(&pending),
                Arc::clone(&current),
                Arc::clone(&run),
                Arc::clone(&done),
            );
            let path = path.to_path_buf();
            let log = Arc::clone(log);
            std::thread::Builder::new()
                .name("daemon-signals".into())
                .spawn(move || {
                    let trigger = || {
                        if let Some(s) = lock(&run).as_ref() {
                            s.trigger();
                        }
                    };
                    while !done.load(Ordering::SeqCst) {
                        // A stop first; a SIGHUP only when not stopping.
                        let restart = stop.load(Ordering::SeqCst)
                            || (hup.swap(false, Ordering::SeqCst)
                                && reload(&path, &current, &pending, &log));
                        if restart {
                            trigger();
                        }
                        std::thread::sleep(WATCH);
                    }
                })?
        };
        Ok(Signals {
            stop,
            pending,
            current,
            run,
            done,
            watcher: Some(watcher),
        })
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(w) = self.watcher.take() {
            let _ = w.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A SIGHUP: validates the file; returns whether the run must restart.
fn reload(
    path: &Path,
    current: &Mutex<DaemonConfig>,
    pending: &Mutex<Option<DaemonConfig>>,
    log: &Log,
) -> bool {
    match DaemonConfig::load(path) {
        Err(e) => {
            log(&format!("reload: {e}; keeping the running configuration"));
            false
        }
        Ok(new) if new == *lock(current) => {
            log(&format!("reload: {}: no change", path.display()));
            false
        }
        Ok(new) => {
            *lock(pending) = Some(new);
            true
        }
    }
}

/// Runs the daemon with `cfg` (read from `path`, which SIGHUP rereads)
/// until SIGTERM or SIGINT. See the module docs.
///
/// # Errors
/// [`ServiceError`]: the journal, a producer or a component could not
/// start (at the first start; after a reload the previous configuration
/// is tried again), or the journal writer failed.
pub fn run(path: &Path, cfg: DaemonConfig, log: &Log) -> Result<Summary, ServiceError> {
    let signals = Signals::install(path, &cfg, log)?;
    // What a run leaves running for the next one (clients, AHAFS files,
    // metrics, the NATS exporter); stopped when the daemon ends.
    let mut kept = Kept::default();
    let ran = runs(path, cfg, log, &signals, &mut kept);
    kept.stop(log);
    ran
}

/// The runs of [`run`]: one per configuration, until a stop.
fn runs(
    path: &Path,
    cfg: DaemonConfig,
    log: &Log,
    signals: &Signals,
    kept: &mut Kept,
) -> Result<Summary, ServiceError> {
    let mut summary = Summary::default();
    let mut cfg = cfg;
    let mut previous: Option<DaemonConfig> = None;
    let mut hole_since = None;
    loop {
        let shutdown = Shutdown::new()?;
        *lock(&signals.run) = Some(shutdown.clone());
        if signals.stopping() {
            break;
        }
        match run_once(&cfg, &shutdown, hole_since.take(), log, &mut summary, kept) {
            Ok(()) => {}
            Err(e) => match previous.take() {
                // A reloaded configuration that does not start: back to
                // the one that ran.
                Some(old) => {
                    log(&format!(
                        "reload: {}: {e}; going back to the previous configuration",
                        path.display()
                    ));
                    hole_since = Some(now());
                    *lock(&signals.current) = old.clone();
                    cfg = old;
                    continue;
                }
                None => return Err(e),
            },
        }
        if signals.stopping() {
            break;
        }
        let Some(next) = lock(&signals.pending).take() else {
            // Every producer ended by itself: nothing left to collect.
            return Err(ServiceError::Start {
                what: "producers",
                why: "every producer stopped".into(),
            });
        };
        log(&format!(
            "reload: {}: restarting with the new configuration",
            path.display()
        ));
        summary.reloads += 1;
        hole_since = Some(now());
        *lock(&signals.current) = next.clone();
        previous = Some(std::mem::replace(&mut cfg, next));
    }
    Ok(summary)
}

/// One run with `cfg` until `shutdown`. `hole_since`: when the previous
/// run stopped collecting (a reload), for the gap record.
fn run_once(
    cfg: &DaemonConfig,
    shutdown: &Shutdown,
    hole_since: Option<inetmon_core::event::Timestamp>,
    log: &Log,
    summary: &mut Summary,
    kept: &mut Kept,
) -> Result<(), ServiceError> {
    let journal = Journal::open(&cfg.state_dir, cfg.journal.clone())?;
    if let Some(g) = journal.gap() {
        log(&format!(
            "journal: the last writer stopped uncleanly; gap record from {} to {}",
            g.from.secs, g.to.secs
        ));
    }
    let journal = Arc::new(JournalThread::spawn(
        journal,
        &cfg.state_dir,
        JOURNAL_QUEUE,
        |_| {},
    )?);
    let mut producers = Producers::new(shutdown.clone(), DEFAULT_CAPACITY);
    let started = match producers::start(cfg, &mut producers) {
        Ok(s) => s,
        Err(e) => {
            shutdown.trigger();
            drop(producers);
            finish_journal(journal, kept)?;
            return Err(e);
        }
    };
    if let Some(from) = hole_since {
        // Producers of the previous run stopped at `from`; these started now.
        let _ = journal.send_gap(Gap {
            from,
            to: now(),
            cause: GapCause::Reload,
        });
    }
    let mut ctx = Context {
        journal: Arc::clone(&journal),
        drop_counter: started.drop_counter,
        shutdown: shutdown.clone(),
        log: Arc::clone(log),
        kept: std::mem::take(kept),
    };
    let assembled = assemble(cfg, &mut ctx);
    *kept = std::mem::take(&mut ctx.kept);
    let assembly = match assembled {
        Ok(a) => a,
        Err(e) => {
            shutdown.trigger();
            drop(producers);
            drop(ctx);
            finish_journal(journal, kept)?;
            return Err(e);
        }
    };
    drop(ctx);
    let Assembly {
        sinks,
        components,
        names,
    } = assembly;
    log(&format!(
        "running: {}; {}",
        if started.names.is_empty() {
            "no producers".to_owned()
        } else {
            started.names.join(", ")
        },
        names.join(", ")
    ));
    let mut stage = DaemonStage::new(cfg, Arc::clone(log));
    let plan = Plan {
        limit: None,
        deadline: None,
        tick: Some(Duration::from_secs(1)),
    };
    let (ended, report) = {
        let mut consumer = Consumer::new(&mut stage, sinks);
        let ended = consumer.run(producers, &plan);
        // The sinks' last clock tick, then they are dropped (the journal
        // sink hands over what it holds).
        let _ = consumer.tick();
        let _ = consumer.flush();
        (ended, consumer.report())
    };
    for (name, e) in ended.producers {
        log(&format!("{name}: {e}"));
    }
    if let Err(e) = ended.output {
        log(&format!("output: {e}"));
    }
    for c in components {
        let name = c.name();
        if let Err(e) = c.stop() {
            log(&format!("{name}: {e}"));
        }
    }
    summary.events += report.shown;
    summary.lost += report.lost;
    summary.journal_lost += journal.lost();
    summary.journaled += finish_journal(journal, kept)?;
    Ok(())
}

/// Waits for the writer to store what is queued and close the journal;
/// the events it committed. The kept gauges let go of it first.
fn finish_journal(journal: Arc<JournalThread>, kept: &mut Kept) -> Result<u64, ServiceError> {
    kept.release_journal();
    match Arc::try_unwrap(journal) {
        Ok(j) => j.finish().map_err(Into::into),
        // A component kept a handle: dropping ours leaves the close to it.
        Err(j) => Ok(j.committed()),
    }
}
