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
//! Loss: a receive-buffer overrun (`ENOBUFS`) becomes a `Lost` event at
//! stage `Kernel` with count 1 (trace messages carry no sequence numbers, so
//! the number lost is unknown); a full pipeline is counted by the pipeline.

use std::io;
use std::thread::JoinHandle;
use std::time::Duration;

use inetmon_core::decode::nftrace::{traces, HeaderCarry, NFNLGRP_NFTRACE};
use inetmon_core::event::{Event, EventKind, LossStage, Lost, Malformed, Source};

use crate::ifname::IfNames;
use crate::netlink::{self, NetlinkError, NetlinkSocket, RecvBatch};
use crate::pipeline::{now, Closed, Pipeline, Producer, SourceMetrics};
use crate::shutdown::Shutdown;

const IDLE_WAKE: Duration = Duration::from_millis(200);

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
        let sock = NetlinkSocket::open_netfilter()?;
        sock.set_recv_buffer(cfg.rcvbuf)?;
        sock.add_membership(NFNLGRP_NFTRACE)?;
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
        let producer = pipeline.producer(Source::Nftrace);
        std::thread::Builder::new()
            .name("nftrace".into())
            .spawn(move || self.run(producer, &shutdown))
    }

    /// Reads until `shutdown` is set or the pipeline closes.
    ///
    /// # Errors
    /// A read error that is not loss.
    pub fn run(self, mut producer: Producer, shutdown: &Shutdown) -> Result<(), NetlinkError> {
        let mut batch = RecvBatch::new(self.cfg.batch, 64 * 1024);
        let mut names = IfNames::new();
        let mut carry = HeaderCarry::new();
        while !shutdown.is_set() {
            let r = match self.sock.recv_batch(&mut batch) {
                Ok(0) => {
                    if producer.try_flush_lost().is_err() {
                        return Ok(());
                    }
                    netlink::wait_readable(
                        self.sock.as_raw_fd(),
                        shutdown.waker(),
                        Some(IDLE_WAKE),
                    )?;
                    Ok(())
                }
                Ok(_) => batch.datagrams().try_for_each(|(d, truncated)| {
                    datagram(d, truncated, &mut producer, &mut names, &mut carry)
                }),
                Err(NetlinkError::Overrun) => overrun(&mut producer),
                Err(e) => return Err(e),
            };
            if r.is_err() {
                return Ok(());
            }
        }
        Ok(())
    }
}

fn datagram(
    d: &[u8],
    truncated: bool,
    p: &mut Producer,
    names: &mut IfNames,
    carry: &mut HeaderCarry,
) -> Result<(), Closed> {
    if truncated {
        return malformed(
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
                malformed(p, 0, 0, e.to_string())?;
                continue;
            }
        };
        let header = p.header(now());
        let names = std::cell::RefCell::new(&mut *names);
        let mut ev = t.to_event(header, &|i| names.borrow_mut().name(i));
        carry.apply(&mut ev);
        SourceMetrics::add(&p.metrics().decoded, 1);
        p.send(Event::Debug(Box::new(ev)))?;
    }
    Ok(())
}

fn malformed(p: &mut Producer, offset: u64, skipped: u64, reason: String) -> Result<(), Closed> {
    SourceMetrics::add(&p.metrics().malformed, 1);
    let header = p.header(now());
    p.send(Event::Malformed(Malformed {
        header,
        offset,
        skipped,
        reason,
    }))
    .map(|_| ())
}

fn overrun(p: &mut Producer) -> Result<(), Closed> {
    SourceMetrics::add(&p.metrics().lost_kernel, 1);
    let header = p.header(now());
    let lost = Lost {
        header,
        stage: LossStage::Kernel,
        count: 1,
        kinds: vec![EventKind::Debug],
        seq_range: None,
        breakdown: Vec::new(),
    };
    p.send(Event::Lost(lost)).map(|_| ())
}
