//! What the single-socket netfilter producers (conntrack events, nftables
//! traces) share: a `NETLINK_NETFILTER` socket joined to its groups, the
//! thread it runs on, the batched receive loop, and the in-band reports of
//! what could not be decoded or was lost in the kernel.
//!
//! The loop reads batches with `recvmmsg`; when the socket is empty it
//! flushes the producer's pending loss count and sleeps until the socket is
//! readable or a shutdown is asked for. A receive-buffer overrun (`ENOBUFS`)
//! becomes one `Lost` event at stage `Kernel` with count 1: these groups
//! carry no sequence numbers, so how many messages were lost is unknown.
//! The loop ends without error when the pipeline is closed.

use std::io;
use std::thread::JoinHandle;
use std::time::Duration;

use inetmon_core::event::{Event, EventKind, LossStage, Lost, Malformed, Source};

use crate::netlink::{self, NetlinkError, NetlinkSocket, RecvBatch};
use crate::pipeline::{now, Closed, Pipeline, Producer, SourceMetrics};
use crate::shutdown::Shutdown;

/// How long the loop sleeps at most when nothing arrives (to notice a
/// closed pipeline).
const IDLE_WAKE: Duration = Duration::from_millis(200);

/// Opens a netfilter socket in the calling thread's network namespace with
/// a receive buffer of `rcvbuf` bytes, joined to every group of `groups`.
///
/// # Errors
/// When the socket cannot be opened or a group joined (needs
/// `CAP_NET_ADMIN`).
pub(crate) fn subscribe(rcvbuf: usize, groups: &[u32]) -> Result<NetlinkSocket, NetlinkError> {
    let sock = NetlinkSocket::open_netfilter()?;
    sock.set_recv_buffer(rcvbuf)?;
    for &g in groups {
        sock.add_membership(g)?;
    }
    Ok(sock)
}

/// Runs `run` with a producer of `source` on a new thread named `name`
/// (which inherits the caller's network namespace).
///
/// # Errors
/// When the thread cannot be started.
pub(crate) fn spawn<E: Send + 'static>(
    name: &str,
    pipeline: &Pipeline,
    source: Source,
    run: impl FnOnce(Producer) -> Result<(), E> + Send + 'static,
) -> io::Result<JoinHandle<Result<(), E>>> {
    let producer = pipeline.producer(source);
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || run(producer))
}

/// Reads `sock` in batches of `batch` datagrams until `shutdown` is set or
/// the pipeline closes, handing each datagram (and whether the read buffer
/// cut it) to `datagram`. An overrun is reported as lost `lost_kinds`.
///
/// # Errors
/// A read error that is not an overrun.
pub(crate) fn receive(
    sock: &NetlinkSocket,
    batch: usize,
    producer: &mut Producer,
    shutdown: &Shutdown,
    lost_kinds: &[EventKind],
    mut datagram: impl FnMut(&[u8], bool, &mut Producer) -> Result<(), Closed>,
) -> Result<(), NetlinkError> {
    let mut batch = RecvBatch::new(batch, 64 * 1024);
    while !shutdown.is_set() {
        let r = match sock.recv_batch(&mut batch) {
            Ok(0) => {
                if producer.try_flush_lost().is_err() {
                    return Ok(());
                }
                netlink::wait_readable(sock.as_raw_fd(), shutdown.waker(), Some(IDLE_WAKE))?;
                Ok(())
            }
            Ok(_) => batch
                .datagrams()
                .try_for_each(|(d, truncated)| datagram(d, truncated, producer)),
            Err(NetlinkError::Overrun) => report_overrun(producer, lost_kinds),
            Err(e) => return Err(e),
        };
        if r.is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// Counts and sends a `Malformed` event: `skipped` bytes at `offset` of a
/// datagram could not be decoded, for `reason`.
///
/// # Errors
/// When the pipeline is closed.
pub(crate) fn report_malformed(
    p: &mut Producer,
    offset: u64,
    skipped: u64,
    reason: String,
) -> Result<(), Closed> {
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

/// Counts and sends a `Lost` event for one receive-buffer overrun (an
/// unknown number of `kinds` events).
///
/// # Errors
/// When the pipeline is closed.
pub(crate) fn report_overrun(p: &mut Producer, kinds: &[EventKind]) -> Result<(), Closed> {
    SourceMetrics::add(&p.metrics().lost_kernel, 1);
    let header = p.header(now());
    let lost = Lost {
        header,
        stage: LossStage::Kernel,
        count: 1,
        kinds: kinds.to_vec(),
        seq_range: None,
        breakdown: Vec::new(),
    };
    p.send(Event::Lost(lost)).map(|_| ())
}
