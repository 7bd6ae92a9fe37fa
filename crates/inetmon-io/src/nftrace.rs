//! The live nftables trace producer: a `NETLINK_NETFILTER` socket joined to
//! `NFNLGRP_NFTRACE`, read in batches on its own thread.
//!
//! The kernel sends one `NFT_MSG_TRACE` message per evaluation step of every
//! packet whose `nftrace` bit a rule set (`meta nftrace set 1`); core decodes
//! each ([`inetmon_core::decode::nftrace`]) into an [`Event::Debug`], with
//! the interfaces named in this namespace and the packet headers carried
//! from the first step of a packet to the later ones
//! ([`HeaderCarry`]). The kernel gives trace messages no timestamp: events
//! are stamped when read.
//!
//! Netlink groups belong to a network namespace: the socket sees the traces
//! of the namespace of the thread that opened it, and no other.
//!
//! Rules are named by handle and, when they have one, by their comment:
//! [`RuleComments`] asks the kernel for a rule the first time a trace names
//! it (`NFT_MSG_GETRULE` on a second socket) and caches the answer for
//! [`RULE_CACHE_AGE`] (rule handles are not reused within a table, but a
//! table can be deleted and created again).
//!
//! Loss: a receive-buffer overrun (`ENOBUFS`) becomes a `Lost` event at
//! stage `Kernel` with count 1 (trace messages carry no sequence numbers, so
//! the number lost is unknown); a full pipeline is counted by the pipeline.

use std::collections::HashMap;
use std::io;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use inetmon_core::decode::nftrace::rule::{getrule_request, rule_from_msg};
use inetmon_core::decode::nftrace::{traces, HeaderCarry, NFNLGRP_NFTRACE};
use inetmon_core::event::NftTraceEvent;
use inetmon_core::event::{Event, EventKind, Source};

use crate::ifname::IfNames;
use crate::netlink::{self, NetlinkError, NetlinkSocket};
use crate::pipeline::{now, Closed, Pipeline, Producer, SourceMetrics};
use crate::shutdown::Shutdown;
use crate::subscription::{self, report_malformed};

/// Settings of an [`NftraceSource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftraceConfig {
    /// Socket receive buffer to ask for.
    pub rcvbuf: usize,
    /// Datagrams read per `recvmmsg`.
    pub batch: usize,
}

impl Default for NftraceConfig {
    fn default() -> Self {
        NftraceConfig {
            rcvbuf: netlink::DEFAULT_RCVBUF,
            batch: 16,
        }
    }
}

/// A socket subscribed to nftables traces, ready to [`NftraceSource::run`].
#[derive(Debug)]
pub struct NftraceSource {
    sock: NetlinkSocket,
    cfg: NftraceConfig,
}

impl NftraceSource {
    /// Opens the socket in the calling thread's network namespace and joins
    /// `NFNLGRP_NFTRACE`.
    ///
    /// # Errors
    /// When the socket cannot be opened or the group joined (needs
    /// `CAP_NET_ADMIN`).
    pub fn open(cfg: NftraceConfig) -> Result<Self, NetlinkError> {
        let sock = subscription::subscribe(cfg.rcvbuf, &[NFNLGRP_NFTRACE])?;
        Ok(NftraceSource { sock, cfg })
    }

    /// Runs on a new thread (which inherits the caller's network namespace).
    ///
    /// # Errors
    /// The thread returns a read error that is not loss.
    pub fn spawn(
        self,
        pipeline: &Pipeline,
        shutdown: Shutdown,
    ) -> io::Result<JoinHandle<Result<(), NetlinkError>>> {
        subscription::spawn("nftrace", pipeline, Source::Nftrace, move |p| {
            self.run(p, &shutdown)
        })
    }

    /// Reads until `shutdown` is set or the pipeline closes.
    ///
    /// # Errors
    /// A read error that is not loss.
    pub fn run(self, mut producer: Producer, shutdown: &Shutdown) -> Result<(), NetlinkError> {
        let mut names = IfNames::new();
        let mut carry = HeaderCarry::new();
        let mut rules = RuleComments::new();
        subscription::receive(
            &self.sock,
            self.cfg.batch,
            &mut producer,
            shutdown,
            &[EventKind::Debug],
            |d, truncated, p| datagram(d, truncated, p, &mut names, &mut carry, &mut rules),
        )
    }
}

fn datagram(
    d: &[u8],
    truncated: bool,
    p: &mut Producer,
    names: &mut IfNames,
    carry: &mut HeaderCarry,
    rules: &mut RuleComments,
) -> Result<(), Closed> {
    if truncated {
        return report_malformed(
            p,
            0,
            d.len() as u64,
            "netlink datagram larger than the read buffer was cut".into(),
        );
    }
    for t in traces(d) {
        SourceMetrics::add(&p.metrics().received, 1);
        let t = match t {
            Ok(t) => t,
            Err(e) => {
                report_malformed(p, 0, 0, e.to_string())?;
                continue;
            }
        };
        let header = p.header(now());
        let names = std::cell::RefCell::new(&mut *names);
        let mut ev = t.to_event(header, &|i| names.borrow_mut().name(i));
        carry.apply(&mut ev);
        rules.fill(&mut ev);
        SourceMetrics::add(&p.metrics().decoded, 1);
        p.send(Event::Debug(Box::new(ev)))?;
    }
    Ok(())
}

/// How long a looked-up rule comment is trusted.
pub const RULE_CACHE_AGE: Duration = Duration::from_secs(10);
/// Most rules cached at once (the cache is emptied when full).
const RULE_CACHE_MAX: usize = 4096;

/// Rule comments by (family, table, chain, handle), looked up in the
/// kernel on a miss.
#[derive(Debug)]
pub struct RuleComments {
    /// The request socket; `None` when it could not be opened (then only
    /// handles are shown).
    sock: Option<NetlinkSocket>,
    cache: HashMap<(u8, String, String, u64), Option<String>>,
    filled: Instant,
}

impl Default for RuleComments {
    fn default() -> Self {
        Self::new()
    }
}

impl RuleComments {
    /// A cache with its own netlink socket (in the calling thread's
    /// namespace).
    #[must_use]
    pub fn new() -> Self {
        RuleComments {
            sock: NetlinkSocket::open_netfilter().ok(),
            cache: HashMap::new(),
            filled: Instant::now(),
        }
    }

    /// The comment of rule `handle` in `family`/`table`/`chain`, `None`
    /// when it has none or cannot be found (deleted since).
    pub fn comment(&mut self, family: u8, table: &str, chain: &str, handle: u64) -> Option<String> {
        if self.filled.elapsed() > RULE_CACHE_AGE || self.cache.len() >= RULE_CACHE_MAX {
            self.cache.clear();
            self.filled = Instant::now();
        }
        let key = (family, table.to_owned(), chain.to_owned(), handle);
        if let Some(c) = self.cache.get(&key) {
            return c.clone();
        }
        let sock = self.sock.as_mut()?;
        let mut msg = getrule_request(family, table, chain, handle, 0);
        let mut found = None;
        let _ = sock.request_with(&mut msg, &mut |m| {
            if let Ok(r) = rule_from_msg(m) {
                if r.handle == Some(handle) {
                    found = r.comment.map(str::to_owned);
                }
            }
        });
        self.cache.insert(key, found.clone());
        found
    }

    /// Sets `ev.rule_comment` for a rule step.
    pub fn fill(&mut self, ev: &mut NftTraceEvent) {
        if let Some(h) = ev.rule_handle {
            ev.rule_comment = self.comment(ev.family, &ev.table, &ev.chain, h);
        }
    }
}
