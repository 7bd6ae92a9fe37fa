//! THE place where the daemon's sinks and side components are assembled
//! from its configuration: [`assemble`].
//!
//! A component that needs every event the daemon collects is a
//! [`Sink`] (added to [`Assembly::sinks`]); one with threads of its own
//! that must be stopped when the daemon stops or reloads (a server, an
//! exporter reading the journal from a position it keeps) is a
//! [`Component`] (added to [`Assembly::components`]). Each new component
//! adds one line in [`assemble`], guarded by its configuration key.

use std::sync::Arc;

use jiff::tz::TimeZone;

use super::aha_sink::AhaSink;
use super::drops::DropCountsSink;
use super::journal_sink::JournalSink;
use super::{Log, ServiceError};
use crate::aha::AhaFs;
use crate::consumer::Sink;
use crate::daemon_config::DaemonConfig;
use crate::datapath::DropCounter;
use crate::journal::JournalThread;
use crate::shutdown::Shutdown;

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
    // `[drops]`: per-second counters by reason, location and interface.
    if let Some(d) = cfg.drops {
        a.sinks.push(Box::new(DropCountsSink::new(
            Arc::clone(&ctx.journal),
            ctx.drop_counter.take(),
            d.per_drop,
        )));
    }
    // `[aha] mountpoint`: the AHAFS files, fed every socket event.
    if let Some(m) = &cfg.aha_mountpoint {
        let tz = TimeZone::try_system().unwrap_or(TimeZone::UTC);
        let fs = AhaFs::mount(m, tz)?;
        a.sinks
            .push(Box::new(AhaSink::new(fs, Arc::clone(&ctx.log))));
        a.names.push(format!("AHAFS {}", m.display()));
    }
    // `[export.nats]`: the journal exported to JetStream from the position
    // the exporter keeps (a task on the process's network runtime).
    #[cfg(feature = "export-nats")]
    if let Some(n) = &cfg.export_nats {
        let rt = crate::runtime::handle().map_err(|e| ServiceError::Start {
            what: "NATS export",
            why: e.to_string(),
        })?;
        let exporter = crate::export::nats::NatsExporter::new(n.clone(), &cfg.state_dir)
            .with_log(Arc::clone(&ctx.log));
        a.components.push(Box::new(exporter.spawn(&rt)));
        a.names.push(format!(
            "NATS export {} stream {} as {}",
            n.url, n.stream, n.host
        ));
    }
    Ok(a)
}
