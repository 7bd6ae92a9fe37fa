//! The live conntrack producer: ctnetlink event groups as ipmon's NAT (`-N`)
//! and state (`-S`) logs.
//!
//! Subscribes to `NFNLGRP_CONNTRACK_NEW` and `…_DESTROY` (and `…_UPDATE` when
//! asked), classifies each message as new, update or destroy, and hands it to
//! a decode function that maps it to [`Event::Nat`] / [`Event::State`]
//! (`inetmon-core`'s ctnetlink mapping). An overrun (`ENOBUFS`) becomes a
//! `Lost` event at stage `Kernel` with count 1: ctnetlink has no sequence
//! numbers, so the number of lost events is unknown.

mod shim;

use std::io;
use std::thread::JoinHandle;
use std::time::Duration;

use inetmon_core::event::{Event, EventKind, Header, LossStage, Lost, Malformed, Source};

use crate::netlink::{
    self, NetlinkError, NetlinkSocket, RecvBatch, NFNLGRP_CONNTRACK_DESTROY, NFNLGRP_CONNTRACK_NEW,
    NFNLGRP_CONNTRACK_UPDATE,
};
use crate::pipeline::{now, Closed, Pipeline, Producer, SourceMetrics};
use crate::shutdown::Shutdown;

const IDLE_WAKE: Duration = Duration::from_millis(200);
/// `NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW`
const CT_NEW: u16 = 0x0100;
/// `NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_DELETE`
const CT_DELETE: u16 = 0x0102;
/// `NLM_F_CREATE | NLM_F_EXCL`: set on NEW events, not on UPDATE.
const F_CREATE_EXCL: u16 = 0x400 | 0x200;

/// Which conntrack event a message reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CtKind {
    /// A new connection (`IPCTNL_MSG_CT_NEW` with `NLM_F_CREATE|NLM_F_EXCL`).
    New,
    /// A change (`IPCTNL_MSG_CT_NEW` without them).
    Update,
    /// The entry was removed (`IPCTNL_MSG_CT_DELETE`).
    Destroy,
}

/// One ctnetlink event message, as handed to the decode function.
#[derive(Debug, Clone, Copy)]
pub struct CtMessage<'a> {
    /// New, update or destroy.
    pub kind: CtKind,
    /// The message after its `nlmsghdr` (`nfgenmsg` and attributes).
    pub payload: &'a [u8],
    /// Whether NAT events are wanted (`ipmon -N`).
    pub want_nat: bool,
    /// Whether state events are wanted (`ipmon -S`).
    pub want_state: bool,
}

/// Maps a message to events; `header` gives a fresh header (time now, next
/// sequence number) for each event made.
pub type CtDecodeFn = fn(&CtMessage<'_>, &mut dyn FnMut() -> Header) -> Result<Vec<Event>, String>;

/// The default decode function.
///
/// Interim: a minimal mapping in this crate until `inetmon-core`'s ctnetlink
/// decoder is merged, when this calls core instead.
///
/// # Errors
/// A one-line reason when the message cannot be mapped.
pub fn core_decode(
    msg: &CtMessage<'_>,
    header: &mut dyn FnMut() -> Header,
) -> Result<Vec<Event>, String> {
    shim::map(msg, header)
}

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
    #[error("cannot enable {name}: {source}")]
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
    decode: CtDecodeFn,
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
        let sock = NetlinkSocket::open_netfilter()?;
        sock.set_recv_buffer(cfg.rcvbuf)?;
        sock.add_membership(NFNLGRP_CONNTRACK_NEW)?;
        sock.add_membership(NFNLGRP_CONNTRACK_DESTROY)?;
        if cfg.updates {
            sock.add_membership(NFNLGRP_CONNTRACK_UPDATE)?;
        }
        Ok(ConntrackSource {
            sock,
            cfg,
            decode: core_decode,
        })
    }

    /// Replaces the decode function (for tests, or another mapping).
    #[must_use]
    pub fn with_decoder(mut self, decode: CtDecodeFn) -> Self {
        self.decode = decode;
        self
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
        let producer = pipeline.producer(Source::Conntrack);
        std::thread::Builder::new()
            .name("conntrack".into())
            .spawn(move || self.run(producer, &shutdown))
    }

    /// Reads until `shutdown` is set or the pipeline closes.
    ///
    /// # Errors
    /// A read error that is not loss.
    pub fn run(self, mut producer: Producer, shutdown: &Shutdown) -> Result<(), ConntrackError> {
        let mut batch = RecvBatch::new(self.cfg.batch, 64 * 1024);
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
                Ok(_) => batch
                    .datagrams()
                    .try_for_each(|(d, _)| self.datagram(d, &mut producer)),
                Err(NetlinkError::Overrun) => overrun(&mut producer),
                Err(e) => return Err(e.into()),
            };
            if r.is_err() {
                return Ok(());
            }
        }
        Ok(())
    }

    fn datagram(&self, datagram: &[u8], p: &mut Producer) -> Result<(), Closed> {
        for m in netlink::messages(datagram) {
            let m = match m {
                Ok(m) => m,
                Err(e) => return malformed(p, e.offset as u64, e.to_string()),
            };
            let kind = match m.kind {
                CT_NEW if m.flags & F_CREATE_EXCL == F_CREATE_EXCL => CtKind::New,
                CT_NEW => CtKind::Update,
                CT_DELETE => CtKind::Destroy,
                _ => continue,
            };
            SourceMetrics::add(&p.metrics().received, 1);
            let msg = CtMessage {
                kind,
                payload: m.payload,
                want_nat: self.cfg.nat,
                want_state: self.cfg.state,
            };
            let events = {
                let mut header = || p.header(now());
                (self.decode)(&msg, &mut header)
            };
            match events {
                Ok(events) => {
                    SourceMetrics::add(&p.metrics().decoded, 1);
                    for e in events {
                        p.send(e)?;
                    }
                }
                Err(reason) => malformed(p, m.offset as u64, reason)?,
            }
        }
        Ok(())
    }
}

fn malformed(p: &mut Producer, offset: u64, reason: String) -> Result<(), Closed> {
    SourceMetrics::add(&p.metrics().malformed, 1);
    let header = p.header(now());
    p.send(Event::Malformed(Malformed {
        header,
        offset,
        skipped: 0,
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
        kinds: vec![EventKind::Nat, EventKind::State],
        seq_range: None,
    };
    p.send(Event::Lost(lost)).map(|_| ())
}
