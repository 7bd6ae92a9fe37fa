//! THE place where the daemon's sinks and side components are assembled
//! from its configuration: [`assemble`].
//!
//! A component that needs every event the daemon collects is a
//! [`Sink`] (added to [`Assembly::sinks`]); one with threads of its own
//! that must be stopped when the daemon stops or reloads (a server, an
//! exporter reading the journal from a position it keeps) is a
//! [`Component`] (added to [`Assembly::components`]). Each new component
//! adds one line in [`assemble`], guarded by its configuration key.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use inetmon_core::event::Event;
use jiff::tz::TimeZone;

use super::aha_sink::AhaSink;
use super::drops::{DropCountsSink, DropTap};
use super::journal_sink::JournalSink;
use super::{Log, ServiceError};
use crate::aha::AhaFs;
use crate::clients::{Hub, HubConfig, HubStats};
use crate::consumer::{Delivery, Rendered, Sink};
use crate::daemon_config::DaemonConfig;
use crate::datapath::DropCounter;
use crate::journal::{DropCount, JournalThread, DB_FILE};
use crate::metrics::Metrics;
use crate::pipeline::now;
use crate::shutdown::Shutdown;
use crate::sink::SinkError;
use crate::web::{WebServer, WebState};

/// What [`assemble`] may use.
pub struct Context {
    /// The journal writer of this run (its sink is the first one; a
    /// component reading the journal opens a
    /// [`Reader`](crate::journal::Reader) on `cfg.state_dir`).
    pub journal: Arc<JournalThread>,
    /// The kernel's drop counters, when `[drops]` is on without
    /// `per_drop` (the datapath programs count instead of sending records).
    pub drop_counter: Option<DropCounter>,
    /// Set when the daemon stops or reloads: components with threads of
    /// their own watch it (and are then [`Component::stop`]ped).
    pub shutdown: Shutdown,
    /// Where components report (one line each; stderr or syslog).
    pub log: Log,
    /// What the previous run left running for this one (a reload).
    pub kept: Kept,
}

/// Parts that outlive a reload, so that what users hold open survives
/// it: the clients' hub (connected clients stay connected while the
/// producers restart), the AHAFS mount (consumers keep their open `.mon`
/// files), the metrics registry with its listener and the web view's
/// state (counters go on from where they were: a reset would look like a
/// process restart to Prometheus), and the NATS exporter (it keeps its
/// connection and what it has in flight). Each is kept while its own
/// configuration (the socket path; the mount point; the metrics address;
/// `[export.nats]` and the state directory) stays the same, else
/// replaced. [`Kept::stop`] stops them when the daemon ends.
#[derive(Default)]
pub struct Kept {
    hub: Option<(PathBuf, Arc<Mutex<Hub>>)>,
    aha: Option<(PathBuf, Arc<Mutex<AhaSink>>)>,
    web: Option<KeptWeb>,
    #[cfg(feature = "export-nats")]
    export: Option<KeptExport>,
}

/// The metrics registry, the web view's state and their listener, kept
/// while `[metrics] listen` is the same address.
struct KeptWeb {
    listen: SocketAddr,
    metrics: Metrics,
    state: WebState,
    server: WebServer,
    /// What the daemon's gauges read, pointed at each run's parts.
    live: Arc<Mutex<Live>>,
    /// `export_lag_events` is registered (once: a name cannot be
    /// registered twice in a registry).
    export_gauge: bool,
}

/// What the daemon's gauges read when scraped. The gauges are registered
/// once per registry and outlive a run; [`assemble`] points them at the
/// run's journal writer, hub and exporter. The journal writer is let go
/// ([`Kept::release_journal`]) before the run closes it, so that a scrape
/// never holds it open.
#[derive(Default)]
struct Live {
    journal: Option<Arc<JournalThread>>,
    hub: Option<Arc<HubStats>>,
    /// The client losses of hubs replaced since (a counter never goes
    /// back).
    hub_lost_before: u64,
    /// The journal's files (database and write-ahead log).
    files: Vec<PathBuf>,
    #[cfg(feature = "export-nats")]
    export: Option<Arc<crate::export::nats::ExportCounters>>,
}

/// A running exporter and what it was started with.
#[cfg(feature = "export-nats")]
struct KeptExport {
    cfg: crate::export::NatsExportConfig,
    state_dir: PathBuf,
    handle: crate::export::nats::ExportHandle,
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Kept");
        d.field("hub", &self.hub.as_ref().map(|(s, _)| s))
            .field("aha", &self.aha.as_ref().map(|(m, _)| m))
            .field("metrics", &self.web.as_ref().map(|w| w.listen));
        #[cfg(feature = "export-nats")]
        d.field("export", &self.export.as_ref().map(|e| &e.cfg.url));
        d.finish()
    }
}

impl Kept {
    /// The running hub when it serves `cfg.socket` (told what `cfg`
    /// collects), else a new one.
    fn hub(&mut self, cfg: &DaemonConfig) -> Result<Arc<Mutex<Hub>>, ServiceError> {
        let want = HubConfig::of_daemon(cfg);
        match self.hub.take() {
            Some((socket, hub)) if socket == cfg.socket => {
                lock(&hub).serve(want.collects);
                self.hub = Some((socket, Arc::clone(&hub)));
                return Ok(hub);
            }
            // Another socket: the old hub closes (and removes its socket)
            // before the new one binds.
            old => drop(old),
        }
        let hub = Arc::new(Mutex::new(Hub::start(want)?));
        self.hub = Some((cfg.socket.clone(), Arc::clone(&hub)));
        Ok(hub)
    }

    /// The AHAFS sink mounted at `mountpoint`, the running one if it is
    /// mounted there already.
    fn aha(
        &mut self,
        mountpoint: &std::path::Path,
        log: &Log,
    ) -> Result<Arc<Mutex<AhaSink>>, ServiceError> {
        match self.aha.take() {
            Some((m, sink)) if m == mountpoint => {
                self.aha = Some((m, Arc::clone(&sink)));
                return Ok(sink);
            }
            // Unmounted before mounting anew (the same FUSE session
            // cannot serve two mount points).
            old => drop(old),
        }
        let tz = TimeZone::try_system().unwrap_or(TimeZone::UTC);
        let fs = AhaFs::mount(mountpoint, tz)?;
        let sink = Arc::new(Mutex::new(AhaSink::new(fs, Arc::clone(log))));
        self.aha = Some((mountpoint.to_path_buf(), Arc::clone(&sink)));
        Ok(sink)
    }

    /// Lets go of what the configuration no longer asks for.
    fn keep_only(&mut self, cfg: &DaemonConfig) {
        if cfg.aha_mountpoint.is_none() {
            self.aha = None;
        }
    }

    /// The metrics registry, web state and listener for `cfg`: the running
    /// ones when they listen on the same address, else new ones (the old
    /// listener closed first); pointed at this run's journal writer and
    /// hub. `None` when `[metrics] listen` is off.
    fn web(
        &mut self,
        cfg: &DaemonConfig,
        journal: &Arc<JournalThread>,
        hub: &Arc<HubStats>,
    ) -> Result<Option<&mut KeptWeb>, ServiceError> {
        let Some(addr) = cfg.metrics_listen else {
            if let Some(old) = self.web.take() {
                old.server.stop();
            }
            return Ok(None);
        };
        if self.web.as_ref().is_some_and(|w| w.listen != addr) {
            if let Some(old) = self.web.take() {
                old.server.stop();
            }
        }
        if self.web.is_none() {
            let metrics = Metrics::new();
            let live = Arc::new(Mutex::new(Live::default()));
            daemon_gauges(&metrics, &live).map_err(metrics_error)?;
            let state = WebState::new();
            let server = WebServer::start(
                &crate::runtime::handle()?,
                addr,
                metrics.clone(),
                state.clone(),
            )
            .map_err(|e| ServiceError::Start {
                what: "metrics",
                why: e.to_string(),
            })?;
            self.web = Some(KeptWeb {
                listen: addr,
                metrics,
                state,
                server,
                live,
                export_gauge: false,
            });
        }
        let Some(web) = self.web.as_mut() else {
            return Ok(None);
        };
        {
            let mut live = lock(&web.live);
            live.journal = Some(Arc::clone(journal));
            if let Some(old) = live.hub.replace(Arc::clone(hub)) {
                if !Arc::ptr_eq(&old, hub) {
                    live.hub_lost_before += old.dropped.load(Ordering::Relaxed);
                }
            }
            let db = cfg.state_dir.join(DB_FILE);
            let mut wal = db.clone().into_os_string();
            wal.push("-wal");
            live.files = vec![db, PathBuf::from(wal)];
        }
        Ok(Some(web))
    }

    /// The NATS exporter for `cfg`: the running one when `[export.nats]`
    /// and the state directory are unchanged (`true`: kept), else a new
    /// one (the old one stopped first: both would keep the same
    /// position). `None` when `[export.nats]` is off.
    #[cfg(feature = "export-nats")]
    fn exporter(
        &mut self,
        cfg: &DaemonConfig,
        log: &Log,
    ) -> Result<Option<(Arc<crate::export::nats::ExportCounters>, bool)>, ServiceError> {
        let same = |e: &KeptExport| {
            cfg.export_nats.as_ref() == Some(&e.cfg) && e.state_dir == cfg.state_dir
        };
        if self.export.as_ref().is_some_and(|e| !same(e)) {
            self.stop_exporter(log);
        }
        let Some(n) = &cfg.export_nats else {
            return Ok(None);
        };
        if let Some(e) = &self.export {
            return Ok(Some((e.handle.counters(), true)));
        }
        let rt = crate::runtime::handle().map_err(|e| ServiceError::Start {
            what: "NATS export",
            why: e.to_string(),
        })?;
        let handle = crate::export::nats::NatsExporter::new(n.clone(), &cfg.state_dir)
            .with_log(Arc::clone(log))
            .spawn(&rt);
        let counters = handle.counters();
        self.export = Some(KeptExport {
            cfg: n.clone(),
            state_dir: cfg.state_dir.clone(),
            handle,
        });
        Ok(Some((counters, false)))
    }

    #[cfg(feature = "export-nats")]
    fn stop_exporter(&mut self, log: &Log) {
        if let Some(e) = self.export.take() {
            let c: Box<dyn Component> = Box::new(e.handle);
            let name = c.name();
            if let Err(e) = c.stop() {
                log(&format!("{name}: {e}"));
            }
        }
    }

    /// Lets go of this run's journal writer (before the run closes it).
    pub fn release_journal(&mut self) {
        if let Some(w) = &self.web {
            lock(&w.live).journal = None;
        }
    }

    /// Stops what is kept (the daemon ends): the exporter (it waits for
    /// what is in flight and saves its position), the metrics listener,
    /// the hub and the AHAFS mount.
    pub fn stop(&mut self, log: &Log) {
        #[cfg(feature = "export-nats")]
        self.stop_exporter(log);
        #[cfg(not(feature = "export-nats"))]
        let _ = log;
        if let Some(w) = self.web.take() {
            w.server.stop();
        }
        self.hub = None;
        self.aha = None;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A sink shared with [`Kept`]: the consumer of each run delivers to it,
/// and it lives on after the run ends.
struct SharedSink<T>(Arc<Mutex<T>>);

impl<T: Sink> Sink for SharedSink<T> {
    fn deliver(&mut self, ev: Option<&Event>, out: &Rendered) -> Result<Delivery, SinkError> {
        lock(&self.0).deliver(ev, out)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        lock(&self.0).flush()
    }

    fn stuck(&self) -> bool {
        lock(&self.0).stuck()
    }

    fn take_notice(&mut self) -> Option<String> {
        lock(&self.0).take_notice()
    }

    fn take_unwritten(&mut self) -> (u64, &'static str) {
        lock(&self.0).take_unwritten()
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

/// A side component: something with threads of its own (a server, an
/// exporter), stopped when the daemon stops or reloads.
pub trait Component {
    /// Its name in messages.
    fn name(&self) -> &'static str;

    /// Stops it (the run's [`Context::shutdown`] is already set) and waits
    /// for its threads.
    ///
    /// # Errors
    /// What it stopped on, for the log.
    fn stop(self: Box<Self>) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// The daemon's sinks and side components for one run.
#[derive(Default)]
pub struct Assembly {
    /// The consumer's sinks, in order: the journal's first. Each gets every
    /// event the daemon collects (after the `[sockets.filters]` that run
    /// in user space), and once a second `deliver(None, empty)`: a clock
    /// for per-second work.
    pub sinks: Vec<Box<dyn Sink>>,
    /// Side components.
    pub components: Vec<Box<dyn Component>>,
    /// A short name of each part, for the "running" line.
    pub names: Vec<String>,
}

impl std::fmt::Debug for Assembly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assembly")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

/// Assembles the daemon's sinks and side components from `cfg`: the one
/// function where they are wired (the clients' hub, metrics/web, NATS
/// export each add a line here).
///
/// # Errors
/// A component that cannot start (a bad AHAFS mount point, …).
pub fn assemble(cfg: &DaemonConfig, ctx: &mut Context) -> Result<Assembly, ServiceError> {
    let mut a = Assembly::default();
    // The journal: every event, batched; what it cannot take is journaled
    // as `Lost` (stage sink).
    a.sinks
        .push(Box::new(JournalSink::new(Arc::clone(&ctx.journal))));
    a.names.push(format!("journal {}", cfg.state_dir.display()));
    // `socket`: the clients' hub (`inetmon sockets|monitor|ipmon` watching
    // through the daemon), fed every event; each client filters its own.
    // The hub and the AHAFS mount are kept across reloads (`Kept`).
    ctx.kept.keep_only(cfg);
    let hub = ctx.kept.hub(cfg)?;
    let hub_stats = lock(&hub).stats();
    a.sinks.push(Box::new(SharedSink(hub)));
    a.names.push(format!("clients {}", cfg.socket.display()));
    // `[metrics] listen`: Prometheus metrics and the web view on one
    // listener, on the daemon's tokio runtime; with the daemon's own
    // gauges, read when scraped (`daemon_gauges`). Kept across reloads
    // (`Kept`): the counters go on. Components that add metrics take
    // `metrics` below.
    let web = ctx
        .kept
        .web(cfg, &ctx.journal, &hub_stats)?
        .map(|w| (w.metrics.clone(), w.state.clone(), w.server.local_addr()));
    // `[drops]`: per-second counters by reason, location and interface.
    if let Some(d) = cfg.drops {
        let mut sink = DropCountsSink::new(
            Arc::clone(&ctx.journal),
            ctx.drop_counter.take(),
            d.per_drop,
        );
        if let (Some((metrics, state, _)), false) = (&web, d.per_drop) {
            // Counted in the kernel: no drop events reach the sinks below.
            sink = sink.with_tap(drop_tap(metrics.clone(), state.clone()));
        }
        a.sinks.push(Box::new(sink));
    }
    // `[aha] mountpoint`: the AHAFS files, fed every socket event.
    if let Some(m) = &cfg.aha_mountpoint {
        let sink = ctx.kept.aha(m, &ctx.log)?;
        a.sinks.push(Box::new(SharedSink(sink)));
        a.names.push(format!("AHAFS {}", m.display()));
    }
    if let Some((metrics, state, addr)) = &web {
        a.sinks.push(Box::new(metrics.sink()));
        a.sinks.push(Box::new(state.sink()));
        a.names.push(format!("metrics and web view http://{addr}/"));
    }
    // `[syslog] target`: every event as a JSON line to a syslog server.
    if let Some(s) = &cfg.syslog {
        let sink = crate::sink::NetSyslog::start(s.clone()).map_err(|e| ServiceError::Start {
            what: "syslog",
            why: e.to_string(),
        })?;
        a.sinks.push(Box::new(crate::outputs::JsonSyslogOut::new(
            sink,
            &ctx.shutdown,
        )));
        a.names.push(format!("syslog {}", s.target));
    }
    // `[export.nats]`: the journal exported to JetStream from the position
    // the exporter keeps (a task on the process's network runtime); kept
    // across reloads that leave `[export.nats]` as it is (`Kept`).
    #[cfg(feature = "export-nats")]
    {
        let exporter = ctx.kept.exporter(cfg, &ctx.log)?;
        if let Some(w) = ctx.kept.web.as_mut() {
            lock(&w.live).export = exporter.as_ref().map(|(c, _)| Arc::clone(c));
            if exporter.is_some() && !w.export_gauge {
                export_gauge(&w.metrics, &w.live).map_err(metrics_error)?;
                w.export_gauge = true;
            }
        }
        if let (Some(n), Some((_, kept))) = (&cfg.export_nats, exporter) {
            a.names.push(format!(
                "NATS export {} stream {} as {}{}",
                n.url,
                n.stream,
                n.host,
                if kept { " (kept)" } else { "" }
            ));
        }
    }
    Ok(a)
}

/// A metric that could not be registered (a name taken twice: a bug).
#[allow(clippy::needless_pass_by_value)] // the shape `map_err` wants
fn metrics_error(e: crate::metrics::MetricsError) -> ServiceError {
    ServiceError::Start {
        what: "metrics",
        why: e.to_string(),
    }
}

/// The daemon's gauges, read when scraped (current then, with no thread
/// of their own) through `live` (this run's parts): clients connected,
/// events lost at their queues, the journal's size on disk and the events
/// waiting for its writer.
fn daemon_gauges(
    metrics: &Metrics,
    live: &Arc<Mutex<Live>>,
) -> Result<(), crate::metrics::MetricsError> {
    let l = Arc::clone(live);
    metrics.gauge_fn(
        "clients",
        "Clients connected to the daemon's socket",
        move || {
            lock(&l).hub.as_ref().map_or(0, |h| {
                i64::try_from(h.clients.load(Ordering::Relaxed)).unwrap_or(i64::MAX)
            })
        },
    )?;
    let l = Arc::clone(live);
    metrics.counter_fn(
        "client_lost_events",
        "Events dropped at full client queues (each reported to its client)",
        move || {
            let l = lock(&l);
            l.hub_lost_before
                + l.hub
                    .as_ref()
                    .map_or(0, |h| h.dropped.load(Ordering::Relaxed))
        },
    )?;
    let l = Arc::clone(live);
    metrics.gauge_fn(
        "journal_bytes",
        "Size of the journal's files (the SQLite database and its write-ahead log)",
        move || {
            let files = lock(&l).files.clone();
            let bytes: u64 = files
                .iter()
                .filter_map(|f| std::fs::symlink_metadata(f).ok())
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len())
                .sum();
            i64::try_from(bytes).unwrap_or(i64::MAX)
        },
    )?;
    let l = Arc::clone(live);
    metrics.gauge_fn(
        "journal_lag_events",
        "Events handed to the journal writer and not yet committed",
        move || {
            lock(&l)
                .journal
                .as_ref()
                .map_or(0, |j| i64::try_from(j.queued()).unwrap_or(i64::MAX))
        },
    )?;
    Ok(())
}

/// `inetmon_export_lag_events`: journal records the NATS server has not
/// acknowledged (the journal's last sequence, as its writer committed it
/// or the exporter read it, minus the exporter's position); 0 while no
/// exporter runs (after a reload that removed `[export.nats]`).
#[cfg(feature = "export-nats")]
fn export_gauge(
    metrics: &Metrics,
    live: &Arc<Mutex<Live>>,
) -> Result<(), crate::metrics::MetricsError> {
    let l = Arc::clone(live);
    metrics.gauge_fn(
        "export_lag_events",
        "Journal records not yet acknowledged by the NATS server",
        move || {
            let l = lock(&l);
            let Some(c) = &l.export else {
                return 0;
            };
            let last = l
                .journal
                .as_ref()
                .map_or(0, |j| j.last_committed())
                .max(c.journal_last.load(Ordering::Relaxed));
            let lag = last.saturating_sub(c.position.load(Ordering::Relaxed));
            i64::try_from(lag).unwrap_or(i64::MAX)
        },
    )
}

/// The kernel's per-second drop counts into the metrics and the web view.
fn drop_tap(metrics: Metrics, state: WebState) -> DropTap {
    Box::new(move |rows: &[DropCount]| {
        metrics.add_drops(rows.iter().map(|r| (r.key.reason.as_str(), r.count)));
        state.apply_drop_counts(
            now().secs,
            rows.iter().map(|r| {
                (
                    r.time.secs,
                    r.key.reason.as_str(),
                    r.key.interface.as_str(),
                    r.count,
                )
            }),
        );
    })
}
