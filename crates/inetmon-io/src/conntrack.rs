//! The live conntrack producer: ctnetlink event groups as ipmon's NAT (`-N`)
//! and state (`-S`) logs.
//!
//! Subscribes to `NFNLGRP_CONNTRACK_NEW` and `…_DESTROY` (and `…_UPDATE` when
//! asked); `inetmon-core` decodes each message ([`CtEvent`]) and maps it to
//! [`Event::Nat`] (translated entries, with `-N`) and [`Event::State`] (with
//! `-S`). Event times come from the kernel's conntrack timestamps when
//! `nf_conntrack_timestamp` is on, else the time of reading. An overrun
//! (`ENOBUFS`) becomes a `Lost` event at stage `Kernel` with count 1:
//! ctnetlink has no sequence numbers, so the number of lost events is
//! unknown.

use std::io;
use std::thread::JoinHandle;

use inetmon_core::decode::ctnetlink::{to_nat_log, to_state_log, CtError, CtEvent, CtEventKind};
use inetmon_core::decode::netlink::{messages, NlMsgKind};
use inetmon_core::event::{Event, EventKind, Header, Source, Timestamp};

use crate::netlink::{
    self, NetlinkError, NetlinkSocket, NFNLGRP_CONNTRACK_DESTROY, NFNLGRP_CONNTRACK_NEW,
    NFNLGRP_CONNTRACK_UPDATE,
};
use crate::pipeline::{now, Closed, Pipeline, Producer, SourceMetrics};
use crate::shutdown::Shutdown;
use crate::subscription::{self, report_malformed};

/// Settings of a [`ConntrackSource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConntrackConfig {
    /// Emit NAT events (`-N`).
    pub nat: bool,
    /// Emit state events (`-S`).
    pub state: bool,
    /// Also subscribe to updates (state changes; noisy).
    pub updates: bool,
    /// Turn on `net.netfilter.nf_conntrack_acct` (packet/byte counters).
    pub enable_acct: bool,
    /// Turn on `net.netfilter.nf_conntrack_timestamp`.
    pub enable_timestamp: bool,
    /// Socket receive buffer to ask for.
    pub rcvbuf: usize,
    /// Datagrams read per `recvmmsg`.
    pub batch: usize,
}

impl Default for ConntrackConfig {
    fn default() -> Self {
        ConntrackConfig {
            nat: true,
            state: true,
            updates: false,
            enable_acct: false,
            enable_timestamp: false,
            rcvbuf: netlink::DEFAULT_RCVBUF,
            batch: 8,
        }
    }
}

/// Errors of the conntrack source.
#[derive(Debug, thiserror::Error)]
pub enum ConntrackError {
    /// Socket setup or reading failed.
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    /// A sysctl could not be written.
    #[error("cannot enable {name}")]
    Sysctl {
        /// The sysctl path.
        name: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Writes `1` to a `net.netfilter` sysctl of the calling thread's network
/// namespace.
fn enable_sysctl(name: &'static str) -> Result<(), ConntrackError> {
    std::fs::write(name, "1").map_err(|source| ConntrackError::Sysctl { name, source })
}

/// A subscribed ctnetlink socket, ready to [`ConntrackSource::run`].
#[derive(Debug)]
pub struct ConntrackSource {
    sock: NetlinkSocket,
    cfg: ConntrackConfig,
}

impl ConntrackSource {
    /// Opens the socket in the calling thread's network namespace, enables
    /// the asked-for sysctls, and joins the event groups.
    ///
    /// # Errors
    /// When the socket or a group cannot be opened (needs `CAP_NET_ADMIN`)
    /// or a sysctl cannot be written.
    pub fn open(cfg: ConntrackConfig) -> Result<Self, ConntrackError> {
        if cfg.enable_acct {
            enable_sysctl("/proc/sys/net/netfilter/nf_conntrack_acct")?;
        }
        if cfg.enable_timestamp {
            enable_sysctl("/proc/sys/net/netfilter/nf_conntrack_timestamp")?;
        }
        let mut groups = vec![NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_DESTROY];
        if cfg.updates {
            groups.push(NFNLGRP_CONNTRACK_UPDATE);
        }
        let sock = subscription::subscribe(cfg.rcvbuf, &groups)?;
        Ok(ConntrackSource { sock, cfg })
    }

    /// Runs on a new thread (inheriting the caller's network namespace).
    ///
    /// # Errors
    /// The thread returns a read error that is not loss.
    pub fn spawn(
        self,
        pipeline: &Pipeline,
        shutdown: Shutdown,
    ) -> io::Result<JoinHandle<Result<(), ConntrackError>>> {
        subscription::spawn("conntrack", pipeline, Source::Conntrack, move |p| {
            self.run(p, &shutdown)
        })
    }

    /// Reads until `shutdown` is set or the pipeline closes.
    ///
    /// # Errors
    /// A read error that is not loss.
    pub fn run(self, mut producer: Producer, shutdown: &Shutdown) -> Result<(), ConntrackError> {
        subscription::receive(
            &self.sock,
            self.cfg.batch,
            &mut producer,
            shutdown,
            &[EventKind::Nat, EventKind::State],
            |d, _, p| self.datagram(d, p),
        )?;
        Ok(())
    }

    fn datagram(&self, datagram: &[u8], p: &mut Producer) -> Result<(), Closed> {
        for m in messages(datagram) {
            let m = match m {
                Ok(m) => m,
                Err(e) => return report_malformed(p, 0, 0, e.to_string()),
            };
            if m.kind() != NlMsgKind::Data {
                continue;
            }
            let ev = match CtEvent::from_msg(&m) {
                Ok(ev) => ev,
                Err(CtError::NotEvent { .. }) => continue,
                Err(e) => {
                    SourceMetrics::add(&p.metrics().received, 1);
                    report_malformed(p, m.offset as u64, 0, e.to_string())?;
                    continue;
                }
            };
            SourceMetrics::add(&p.metrics().received, 1);
            SourceMetrics::add(&p.metrics().decoded, 1);
            let header = Header {
                time: event_time(&ev),
                source: Source::Conntrack,
                seq: 0,
            };
            if self.cfg.nat {
                if let Some(mut nat) = to_nat_log(&ev, header.clone()) {
                    nat.header.seq = p.next_seq();
                    p.send(Event::Nat(Box::new(nat)))?;
                }
            }
            if self.cfg.state {
                let mut state = to_state_log(&ev, header);
                state.header.seq = p.next_seq();
                p.send(Event::State(Box::new(state)))?;
            }
        }
        Ok(())
    }
}

/// The kernel's time of the event when it sent one, else now.
fn event_time(ev: &CtEvent) -> Timestamp {
    let ns = match ev.kind {
        CtEventKind::Destroy => ev.event_ns.or(ev.stop_ns),
        CtEventKind::New => ev.event_ns.or(ev.start_ns),
        CtEventKind::Update => ev.event_ns,
    };
    match ns.and_then(|n| i64::try_from(n).ok()) {
        Some(n) => Timestamp::from_nanos_parts(0, n),
        None => now(),
    }
}
