//! [`DatapathProducer`]: read the ring buffer, decode, enrich, count loss.

use std::cell::RefCell;
use std::os::fd::AsFd;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aya::maps::{MapData, PerCpuArray, PerCpuHashMap, RingBuf};
use inetmon_core::btf::DropReasonTable;
use inetmon_core::decode::datapath::{boot_ns_to_wall, decode, decode_drop_key, Enrich};
use inetmon_core::drop_summary::DropKey;
use inetmon_core::event::{
    Event, EventKind, Header, Malformed, ObservationPoint, Source, LOST_RING_FULL,
};
use inetmon_core::kallsyms::KallSyms;

use super::enrich::boot_wall_ns;
use super::netns::NetnsResolver;
use super::DatapathError;
use crate::bpf::datapath::{lost_total, DatapathPrograms, KernelConfig};
use crate::fdwait::wait_either_ms;
use crate::ifname::IfNames;
use crate::kernel_loss::KernelLoss;
use crate::pipeline::{now, Pipeline, Producer};
use crate::shutdown::Shutdown;

/// How long the reader thread waits for records before it checks for
/// shutdown.
const WAIT: Duration = Duration::from_millis(100);

/// Most records handed out per [`DatapathProducer::poll`], so that a flood
/// cannot starve the caller's other work (timers, other sources).
const MAX_BATCH: usize = 65_536;

/// The running datapath monitor. Dropping it detaches the programs.
pub struct DatapathProducer {
    ring: RingBuf<MapData>,
    lost: PerCpuArray<MapData, u64>,
    counts: Option<PerCpuHashMap<MapData, [u8; 16], u64>>,
    lost_seen: u64,
    loss: KernelLoss,
    lost_checked: Instant,
    lost_interval: Duration,
    seq: u64,
    boot_wall: i128,
    clock_checked: Instant,
    netns: u32,
    reasons: Option<DropReasonTable>,
    symbols: Option<KallSyms>,
    names: RefCell<NetnsResolver>,
    progs: DatapathPrograms,
    /// The shutdown waker polled with the ring when running on a thread.
    wake: Option<std::os::fd::RawFd>,
}

impl std::fmt::Debug for DatapathProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatapathProducer")
            .field("seq", &self.seq)
            .field("netns", &self.netns)
            .finish_non_exhaustive()
    }
}

impl DatapathProducer {
    /// Loads and attaches the programs as `cfg` says and opens the maps.
    /// `reasons` and `symbols` name what records carry as numbers; `netns`
    /// is the monitor's own namespace, where the trace classifiers were
    /// attached (records of traces carry 0 there); drops in other
    /// namespaces name theirs and have their interface names looked up
    /// there ([`NetnsResolver`]).
    ///
    /// # Errors
    /// [`DatapathError`] naming what failed.
    pub fn start(
        cfg: &KernelConfig,
        reasons: Option<DropReasonTable>,
        symbols: Option<KallSyms>,
        netns: u32,
    ) -> Result<Self, DatapathError> {
        let mut progs = DatapathPrograms::load(cfg)?;
        let ring = progs.take_ring_buf()?;
        let lost = progs.take_lost()?;
        let counts = progs.take_drop_counts()?;
        let lost_seen = lost_total(&lost)?;
        let loss = KernelLoss::new(
            Source::Datapath,
            vec![EventKind::Drop, EventKind::Trace],
            progs.recursion_misses()?,
        );
        Ok(DatapathProducer {
            ring,
            lost,
            counts: Some(counts),
            lost_seen,
            loss,
            lost_checked: Instant::now(),
            lost_interval: Duration::from_millis(500),
            seq: 0,
            boot_wall: boot_wall_ns(),
            clock_checked: Instant::now(),
            netns,
            reasons,
            symbols,
            names: RefCell::new(NetnsResolver::new(netns)),
            progs,
            wake: None,
        })
    }

    /// Hands out the records already in the ring; when there are none,
    /// waits up to `timeout` for the ring to become readable (the programs
    /// may hold back wakeups, so the wait is also the drain timer) and
    /// hands out what came. Reads the loss counter every 500 ms. Returns the
    /// number of events handed to `out`.
    ///
    /// # Errors
    /// [`ProducerError::Poll`](crate::bpf::ProducerError::Poll) when `poll(2)` fails other than by `EINTR`.
    pub fn poll(
        &mut self,
        timeout: Duration,
        out: &mut dyn FnMut(Event),
    ) -> Result<usize, DatapathError> {
        let mut n = self.drain(out);
        if n == 0 {
            let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
            wait_either_ms(self.ring.as_fd(), self.wake, ms).map_err(DatapathError::Poll)?;
            n += self.drain(out);
        }
        if self.lost_checked.elapsed() >= self.lost_interval {
            n += self.check_lost(out);
        }
        Ok(n)
    }

    /// Reads the loss counters now and reports new losses as one
    /// [`Event::Lost`] (stage kernel, kinds drop and trace): ring-buffer
    /// reserve failures (and, in summary mode, drops the full `drop_counts`
    /// map could not hold), plus the `on_kfree_skb` runs the kernel skipped
    /// because they would have nested in another run on the same CPU (each
    /// may have been a drop: an upper bound). Returns 1 when one was
    /// reported.
    pub fn check_lost(&mut self, out: &mut dyn FnMut(Event)) -> usize {
        self.lost_checked = Instant::now();
        let mut failures = 0u64;
        if let Ok(total) = lost_total(&self.lost) {
            failures = total.saturating_sub(self.lost_seen);
            self.lost_seen = total;
        }
        let misses = self.progs.recursion_misses().ok();
        self.loss.report(
            &[(LOST_RING_FULL, failures)],
            misses,
            now(),
            &mut self.seq,
            out,
        )
    }

    /// The kernel-side loss reported so far by
    /// [`check_lost`](Self::check_lost). Its skipped part is `on_kfree_skb`
    /// runs: counted for every packet freed, filters or not, so an upper
    /// bound on the drops lost that way.
    #[must_use]
    pub fn loss(&self) -> &KernelLoss {
        &self.loss
    }

    /// Summary mode: a reader of the kernel's per-CPU `drop_counts` map,
    /// for the consumer's periodic table (the first call takes it; later
    /// calls return `None`).
    pub fn drop_counter(&mut self) -> Option<DropCounter> {
        Some(DropCounter {
            counts: self.counts.take()?,
            reasons: self.reasons.clone(),
            symbols: self.symbols.clone(),
            ifnames: RefCell::new(IfNames::new()),
        })
    }

    /// Runs the producer on a new thread until `shutdown`, every record
    /// into the pipeline without blocking (a full pipeline is counted as
    /// loss there); at shutdown the loss counters are read one last time,
    /// and dropping the producer detaches the programs.
    ///
    /// # Errors
    /// The thread cannot be started; the thread returns
    /// [`ProducerError::Poll`](crate::bpf::ProducerError::Poll).
    pub fn spawn(
        self,
        pipeline: &Pipeline,
        shutdown: Shutdown,
    ) -> std::io::Result<JoinHandle<Result<(), DatapathError>>> {
        let producer = pipeline.producer(Source::Datapath);
        std::thread::Builder::new()
            .name("datapath".into())
            .spawn(move || self.run(producer, &shutdown))
    }

    fn run(mut self, mut p: Producer, shutdown: &Shutdown) -> Result<(), DatapathError> {
        self.wake = Some(shutdown.waker().as_raw_fd());
        let mut send = |ev: Event| {
            let _ = p.send(ev);
        };
        while !shutdown.is_set() {
            self.poll(WAIT, &mut send)?;
        }
        self.check_lost(&mut send);
        Ok(())
    }

    fn drain(&mut self, out: &mut dyn FnMut(Event)) -> usize {
        if self.clock_checked.elapsed() >= Duration::from_secs(1) {
            self.boot_wall = boot_wall_ns();
            self.clock_checked = Instant::now();
        }
        let DatapathProducer {
            ring,
            seq,
            boot_wall,
            netns,
            reasons,
            symbols,
            names,
            ..
        } = self;
        let ifname = |ns: u32, i: u32| names.borrow_mut().ifname(ns, i);
        let enrich = Enrich {
            reasons: reasons.as_ref(),
            symbols: symbols.as_ref(),
            ifname: &ifname,
        };
        let mut n = 0;
        while n < MAX_BATCH {
            let Some(item) = ring.next() else { break };
            *seq = seq.wrapping_add(1);
            match decode(&item) {
                Ok(rec) => {
                    let header = Header {
                        time: boot_ns_to_wall(rec.ktime_ns(), *boot_wall),
                        source: Source::Datapath,
                        seq: *seq,
                    };
                    let mut ev = rec.to_event(header, &enrich);
                    match &mut ev {
                        // A network point is in the attach point's (the
                        // monitor's) namespace; a stack point carries its
                        // socket's, or 0 when the owner is not known.
                        Event::Trace(t)
                            if t.netns == 0
                                && matches!(
                                    t.point,
                                    ObservationPoint::FromNetwork | ObservationPoint::ToNetwork
                                ) =>
                        {
                            t.netns = *netns;
                        }
                        Event::Drop(d) if d.netns != 0 => {
                            d.netns_name = names.borrow_mut().name(d.netns);
                            d.foreign_netns = d.netns != *netns;
                        }
                        _ => {}
                    }
                    out(ev);
                }
                Err(e) => out(Event::Malformed(Malformed {
                    header: Header {
                        time: now(),
                        source: Source::Datapath,
                        seq: *seq,
                    },
                    offset: 0,
                    skipped: u64::try_from(item.len()).unwrap_or(u64::MAX),
                    reason: e.to_string(),
                })),
            }
            n += 1;
        }
        n
    }
}

/// Summary mode's reader of the kernel's `drop_counts` map (see
/// [`DatapathProducer::drop_counter`]).
pub struct DropCounter {
    counts: PerCpuHashMap<MapData, [u8; 16], u64>,
    reasons: Option<DropReasonTable>,
    symbols: Option<KallSyms>,
    ifnames: RefCell<IfNames>,
}

impl std::fmt::Debug for DropCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DropCounter").finish_non_exhaustive()
    }
}

impl DropCounter {
    /// The cumulative count of every (reason, interface, location) group
    /// in the map, summed over CPUs, with names resolved. Feed them to
    /// [`DropSummary::set_count`](inetmon_core::drop_summary::DropSummary::set_count).
    #[must_use]
    pub fn counts(&self) -> Vec<(DropKey, u64)> {
        let ifname = |_: u32, i: u32| {
            if i == 0 {
                None
            } else {
                self.ifnames.borrow_mut().name(i)
            }
        };
        let enrich = Enrich {
            reasons: self.reasons.as_ref(),
            symbols: self.symbols.as_ref(),
            ifname: &ifname,
        };
        let mut out = Vec::new();
        for item in self.counts.iter() {
            let Ok((key, vals)) = item else { continue };
            let Ok(raw) = decode_drop_key(&key) else {
                continue;
            };
            let sum = vals.iter().copied().fold(0u64, u64::saturating_add);
            out.push((enrich.drop_key(&raw), sum));
        }
        out
    }
}
