//! Starting every producer the configuration names, onto one
//! [`Producers`] (one pipeline, one consumer).

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use inetmon_core::event::Source;
use inetmon_core::sock_filter::watch_set;

use super::ServiceError;
use crate::bpf::datapath::KernelConfig;
use crate::conntrack::{ConntrackConfig, ConntrackSource};
use crate::consumer::Producers;
use crate::daemon_config::DaemonConfig;
use crate::datapath::{enrich, DatapathProducer, DropCounter};
use crate::nflog::{NflogConfig, NflogSource};
use crate::sockets::{KernelFilters, SocketsConfig, SocketsProducer};

/// Bytes of each NFLOG packet kept (headers for every format; the
/// journal stores them).
pub(crate) const NFLOG_COPY_RANGE: u32 = 256;

/// What [`start`] started.
#[derive(Default)]
pub struct Started {
    /// Short names, for the "running" line.
    pub names: Vec<String>,
    /// The kernel's drop counters (`[drops]` without `per_drop`).
    pub drop_counter: Option<DropCounter>,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

/// Starts every producer of `cfg` on `producers`, plus a control thread
/// that holds the pipeline open until the run's shutdown (so a daemon
/// with every producer disabled still runs, and a producer that ends
/// does not end the run).
///
/// # Errors
/// The first producer that cannot start, named.
pub fn start(cfg: &DaemonConfig, producers: &mut Producers) -> Result<Started, ServiceError> {
    let mut started = Started::default();
    let shutdown = producers.shutdown();
    if let Some(s) = &cfg.sockets {
        let f = &s.filters;
        // On cgroup v2 the id of a cgroup is its directory's inode number.
        let cgroup = match &f.cgroup {
            Some(p) => Some(
                std::fs::metadata(p)
                    .map_err(|e| ServiceError::Start {
                        what: "sockets",
                        why: format!("sockets.filters.cgroup {}: {e}", p.display()),
                    })?
                    .ino(),
            ),
            None => None,
        };
        let sc = SocketsConfig {
            filters: KernelFilters {
                pid: f.pid,
                uid: f.uid,
                port: f.port,
                cgroup,
                watch: watch_set(Some(&s.watch)),
                // (Segments are only for `inetmon audit --messages`, which
                // runs its own producer.)
                segments: false,
                compat: s.compat,
            },
            ..SocketsConfig::default()
        };
        let p = SocketsProducer::start(&sc).map_err(|e| ServiceError::start("sockets", &e))?;
        let t = p.spawn(producers.pipeline(), shutdown.clone(), Vec::new())?;
        producers.add("socket-event", t, false);
        started.names.push("sockets".into());
    }
    if !cfg.nflog_groups.is_empty() {
        let nc = NflogConfig {
            groups: cfg.nflog_groups.clone(),
            copy_range: NFLOG_COPY_RANGE,
            ..NflogConfig::default()
        };
        let src = NflogSource::open(nc).map_err(|e| ServiceError::start("nflog", &e))?;
        producers.add(
            "NFLOG",
            src.spawn(producers.pipeline(), shutdown.clone())?,
            false,
        );
        for g in &cfg.nflog_groups {
            started.names.push(format!("nflog:{g}"));
        }
    }
    if cfg.conntrack {
        let cc = ConntrackConfig {
            nat: true,
            state: true,
            ..ConntrackConfig::default()
        };
        let src = ConntrackSource::open(cc).map_err(|e| ServiceError::start("conntrack", &e))?;
        producers.add(
            "conntrack",
            src.spawn(producers.pipeline(), shutdown.clone())?,
            false,
        );
        started.names.push("conntrack".into());
    }
    if let Some(d) = cfg.drops {
        let reasons = enrich::drop_reasons().ok();
        let mut kc = KernelConfig {
            drops: true,
            summary: !d.per_drop,
            ..KernelConfig::default()
        };
        if let Some(c) = reasons.as_ref().and_then(|t| t.code_of("NOT_SPECIFIED")) {
            kc.reason_not_specified = c;
        }
        let netns = enrich::own_netns().map_err(|e| ServiceError::start("drops", &e))?;
        let mut p = DatapathProducer::start(&kc, reasons, enrich::kallsyms(), netns)
            .map_err(|e| ServiceError::start("drops", &e))?;
        if !d.per_drop {
            started.drop_counter = p.drop_counter();
        }
        producers.add(
            "datapath",
            p.spawn(producers.pipeline(), shutdown.clone())?,
            false,
        );
        started.names.push(if d.per_drop {
            "drops (per drop)".into()
        } else {
            "drops (counters)".into()
        });
    }
    // The control thread: its producer handle keeps the pipeline open.
    let control = producers.pipeline().producer(Source::Pipeline);
    let t = std::thread::Builder::new()
        .name("daemon-control".into())
        .spawn(move || -> Result<(), std::io::Error> {
            let _keep = control;
            while !shutdown.is_set() {
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(())
        })?;
    producers.add("control", t, false);
    Ok(started)
}
