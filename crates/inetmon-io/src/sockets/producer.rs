//! [`SocketsProducer`]: load, attach, read, decode, count loss.

use std::os::fd::AsFd;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aya::maps::{MapData, PerCpuArray, RingBuf};
use inetmon_bpf::record::sock::OP_MAX;
use inetmon_core::decode::sock::{decode_record, decode_record_into, RECORD_LEN};
use inetmon_core::event::{
    Event, EventKind, Header, Malformed, SockOp, Source, Timestamp, LOST_RING_FULL,
};

use crate::bpf::cgroup2_root;
use crate::bpf::sockets::{lost_totals, Filters, SockPrograms, DEFAULT_RING_BYTES};
use crate::fdwait::wait_either_ms;
use crate::kernel_loss::KernelLoss;
use crate::pipeline::{Pipeline, Producer};
use crate::shutdown::Shutdown;

/// Below this many records per read (or an eighth of what the ring holds,
/// if less) the reader thread pauses [`BATCH_WAIT`] before reading again.
const BATCH: usize = 4096;
/// How long the reader thread lets records accumulate when batches are
/// small, so that each read, channel hand-over and output write serves a
/// batch rather than a few events (each wake-up of the reader and of the
/// consumer costs scheduler work on both threads). 5 ms at 150k events/s
/// is about 750 records; the default ring (8 MiB, about 70 000 records)
/// absorbs far more, and a batch of [`BATCH`] or more is read again at
/// once.
const BATCH_WAIT: Duration = Duration::from_millis(5);
/// How long the reader thread waits for records before it checks for
/// shutdown.
const WAIT: Duration = Duration::from_millis(100);
/// At shutdown, at most this many reads of what the kernel had queued.
const FINAL_ROUNDS: usize = 1000;

/// How to run the producer.
#[derive(Debug, Clone)]
pub struct SocketsConfig {
    /// In-kernel filters, including the operation mask (`watch`) that also
    /// decides which programs are attached.
    pub filters: Filters,
    /// Ring-buffer size in bytes (power of two, page multiple).
    pub ring_bytes: u32,
    /// How often the loss counters are read.
    pub lost_interval: Duration,
}

impl Default for SocketsConfig {
    fn default() -> Self {
        SocketsConfig {
            filters: Filters::default(),
            ring_bytes: DEFAULT_RING_BYTES,
            lost_interval: Duration::from_millis(500),
        }
    }
}

/// Errors of the producer.
pub type SocketsError = crate::bpf::ProducerError;

/// The running producer. Dropping it detaches the programs.
pub struct SocketsProducer {
    ring: RingBuf<MapData>,
    lost: PerCpuArray<MapData, u64>,
    lost_seen: [u64; OP_MAX],
    loss: KernelLoss,
    lost_checked: Instant,
    lost_interval: Duration,
    seq: u64,
    mono_to_wall: i64,
    clock_checked: Instant,
    /// When a drain last returned records (see [`QUIET`]).
    last_records: Option<Instant>,
    progs: SockPrograms,
    /// The shutdown waker polled with the ring when running on a thread.
    wake: Option<std::os::fd::RawFd>,
    /// A read of fewer records than this is followed by a [`BATCH_WAIT`]
    /// pause ([`BATCH`], or an eighth of the ring's records if less).
    batch: usize,
}

/// How long after a non-empty read [`SocketsProducer::poll`] keeps its
/// wait short. The BPF side submits a record without waking the reader
/// when another record was emitted less than about 1.1 ms before it (a
/// wake-up costs the kernel an irq_work per batch): such a record is
/// picked up by a read at least this long after the previous non-empty
/// one, so the reader does not block for its full timeout before then.
const QUIET: Duration = Duration::from_millis(3);

impl std::fmt::Debug for SocketsProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketsProducer")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl SocketsProducer {
    /// Loads and attaches the programs and opens the ring buffer.
    ///
    /// # Errors
    /// [`ProducerError::Load`](crate::bpf::ProducerError::Load) naming what failed (needs root or
    /// `CAP_BPF`+`CAP_PERFMON`+`CAP_NET_ADMIN`).
    pub fn start(cfg: &SocketsConfig) -> Result<Self, SocketsError> {
        let root = cgroup2_root()?;
        let mut progs = SockPrograms::load(&cfg.filters, cfg.ring_bytes, &root)?;
        let ring = progs.take_ring_buf()?;
        let lost = progs.take_lost()?;
        let lost_seen = lost_totals(&lost)?;
        let loss = KernelLoss::new(
            Source::Sockets,
            vec![EventKind::Sock],
            progs.recursion_misses()?,
        );
        Ok(SocketsProducer {
            ring,
            lost,
            lost_seen,
            loss,
            lost_checked: Instant::now(),
            lost_interval: cfg.lost_interval,
            seq: 0,
            mono_to_wall: mono_to_wall_ns(),
            clock_checked: Instant::now(),
            last_records: None,
            progs,
            wake: None,
            batch: (usize::try_from(cfg.ring_bytes).unwrap_or(usize::MAX) / (RECORD_LEN + 8) / 8)
                .clamp(1, BATCH),
        })
    }

    /// Waits up to `timeout` for records, then hands every decoded event
    /// (and any loss report) to `out`. Returns the number of events handed.
    /// Within 3 ms of a call that read records it waits only until
    /// then (records that close together do not wake the reader), so call
    /// it in a loop.
    ///
    /// # Errors
    /// [`ProducerError::Poll`](crate::bpf::ProducerError::Poll) when `poll(2)` fails other than by `EINTR`.
    pub fn poll(
        &mut self,
        timeout: Duration,
        out: &mut dyn FnMut(Event),
    ) -> Result<usize, SocketsError> {
        self.poll_to(timeout, &mut Out::Each(out))
    }

    /// [`poll`](Self::poll) into `out`.
    fn poll_to(&mut self, timeout: Duration, out: &mut Out<'_>) -> Result<usize, SocketsError> {
        let mut n = self.drain(out);
        if n == 0 {
            let wait = match self.last_records {
                Some(t) => timeout.min(QUIET.saturating_sub(t.elapsed())),
                None => timeout,
            };
            // Round up: a 0.4 ms remainder must not become a 0 ms poll.
            let ms = i32::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
            wait_either_ms(self.ring.as_fd(), self.wake, ms).map_err(SocketsError::Poll)?;
            n += self.drain(out);
        }
        if n > 0 {
            self.last_records = Some(Instant::now());
        } else if self.last_records.is_some_and(|t| t.elapsed() >= QUIET) {
            self.last_records = None;
        }
        if self.lost_checked.elapsed() >= self.lost_interval {
            n += self.check_lost(&mut |ev| out.send(ev));
        }
        Ok(n)
    }

    /// Reads the loss counters now and reports any new losses as one
    /// [`Event::Lost`] (stage kernel, kind sock): ring-buffer reserve
    /// failures, plus the tracepoint runs the kernel skipped because they
    /// would have nested in another BPF program on the same CPU (each may
    /// have been an event: an upper bound). Returns 1 when one was reported.
    pub fn check_lost(&mut self, out: &mut dyn FnMut(Event)) -> usize {
        self.lost_checked = Instant::now();
        // Reserve failures per operation (the counter array is indexed by
        // the operation code; slots without an operation are `ring_full`).
        let mut parts: Vec<(&'static str, u64)> = Vec::new();
        if let Ok(now) = lost_totals(&self.lost) {
            for ((code, seen), cur) in (0u8..).zip(self.lost_seen.iter_mut()).zip(now) {
                let n = cur.saturating_sub(*seen);
                *seen = cur;
                if n > 0 {
                    let label = SockOp::from_code(code).map_or(LOST_RING_FULL, SockOp::as_str);
                    match parts.iter_mut().find(|(l, _)| *l == label) {
                        Some((_, c)) => *c = c.saturating_add(n),
                        None => parts.push((label, n)),
                    }
                }
            }
        }
        let misses = self.progs.recursion_misses().ok();
        self.loss
            .report(&parts, misses, now_wall(), &mut self.seq, out)
    }

    /// The kernel-side loss reported so far by
    /// [`check_lost`](Self::check_lost). Its skipped part is tracepoint
    /// runs, counted per program for every process: with in-kernel filters
    /// set, some would have been filtered out anyway, so it is an upper
    /// bound.
    #[must_use]
    pub fn loss(&self) -> &KernelLoss {
        &self.loss
    }

    /// [`KernelLoss::skipped_total`] of [`loss`](Self::loss).
    #[must_use]
    pub fn skipped_total(&self) -> u64 {
        self.loss.skipped_total()
    }

    /// Decodes every record in the ring into `out`; the number read.
    fn drain(&mut self, out: &mut Out<'_>) -> usize {
        if self.clock_checked.elapsed() >= Duration::from_secs(1) {
            self.mono_to_wall = mono_to_wall_ns();
            self.clock_checked = Instant::now();
        }
        let mut n = 0;
        while let Some(item) = self.ring.next() {
            self.seq = self.seq.wrapping_add(1);
            match out.decode(&item, self.mono_to_wall, self.seq) {
                Ok(ev) => out.push(ev),
                Err(e) => {
                    out.send(Event::Malformed(Malformed {
                        header: Header {
                            time: now_wall(),
                            source: Source::Sockets,
                            seq: self.seq,
                        },
                        offset: 0,
                        skipped: u64::try_from(item.len()).unwrap_or(u64::MAX),
                        reason: e.to_string(),
                    }));
                }
            }
            n += 1;
        }
        out.end_batch();
        n
    }

    /// The names of the BPF programs attached (those the watch set in
    /// [`SocketsConfig::filters`] needs; see
    /// [`inetmon_bpf::watch::programs_for`]).
    #[must_use]
    pub fn attached_programs(&self) -> &[&'static str] {
        self.progs.attached()
    }

    /// Runs the producer on a new thread until `shutdown`: `first` (say, the
    /// `--existing` snapshot) goes into the pipeline first without loss,
    /// then every record, never blocking (a full pipeline is counted as
    /// loss there). At shutdown what the kernel had already queued is still
    /// read (bounded), then the loss counters one last time; dropping the
    /// producer at the end of the thread detaches the programs.
    ///
    /// # Errors
    /// The thread cannot be started; the thread returns
    /// [`ProducerError::Poll`](crate::bpf::ProducerError::Poll).
    pub fn spawn(
        self,
        pipeline: &Pipeline,
        shutdown: Shutdown,
        first: Vec<Event>,
    ) -> std::io::Result<JoinHandle<Result<(), SocketsError>>> {
        let producer = pipeline.producer(Source::Sockets);
        std::thread::Builder::new()
            .name("sockets".into())
            .spawn(move || self.run(producer, &shutdown, first))
    }

    fn run(
        mut self,
        mut p: Producer,
        shutdown: &Shutdown,
        first: Vec<Event>,
    ) -> Result<(), SocketsError> {
        for ev in first {
            if p.send_blocking(ev).is_err() {
                return Ok(());
            }
        }
        self.wake = Some(shutdown.waker().as_raw_fd());
        let mut out = Out::Batches(&mut p);
        while !shutdown.is_set() {
            let n = self.poll_to(WAIT, &mut out)?;
            // A small batch means we are keeping up: let records accumulate
            // for a moment instead of waking (and writing) once per event.
            if n > 0 && n < self.batch {
                std::thread::sleep(BATCH_WAIT);
            }
        }
        for _ in 0..FINAL_ROUNDS {
            if self.poll_to(Duration::ZERO, &mut out)? == 0 {
                break;
            }
        }
        self.check_lost(&mut |ev| out.send(ev));
        Ok(())
    }

    /// The next sequence number, for synthetic events (`--existing`) that
    /// share this source's numbering.
    pub fn next_seq(&mut self) -> u64 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }
}

/// Where [`SocketsProducer::drain`] puts events.
enum Out<'a> {
    /// A callback, one event at a time ([`SocketsProducer::poll`]).
    Each(&'a mut dyn FnMut(Event)),
    /// The pipeline ([`SocketsProducer::spawn`]): the events of a read go
    /// as one batch (one channel operation and at most one wake-up of the
    /// consumer, not one per event), and each record is decoded into a
    /// spent event the consumer gave back, so a busy reader allocates
    /// nothing per event.
    Batches(&'a mut Producer),
}

impl Out<'_> {
    /// Decodes one record, into a spent event when there is one.
    fn decode(
        &mut self,
        rec: &[u8],
        mono_to_wall: i64,
        seq: u64,
    ) -> Result<Event, inetmon_core::decode::sock::SockDecodeError> {
        let spent = match self {
            Out::Batches(p) => p.reuse_sock(),
            Out::Each(_) => None,
        };
        match spent {
            Some(mut ev) => {
                decode_record_into(rec, mono_to_wall, seq, &mut ev)?;
                Ok(Event::Sock(ev))
            }
            None => Ok(Event::Sock(Box::new(decode_record(
                rec,
                mono_to_wall,
                seq,
            )?))),
        }
    }

    /// A decoded event: into the batch.
    fn push(&mut self, ev: Event) {
        match self {
            Out::Each(f) => f(ev),
            // A closed pipeline means the consumer is gone: the loop ends
            // at shutdown, which the consumer triggered.
            Out::Batches(p) => {
                let _ = p.push(ev);
            }
        }
    }

    /// Any other event (a loss report, a malformed record): after the
    /// batch so far, in order.
    fn send(&mut self, ev: Event) {
        match self {
            Out::Each(f) => f(ev),
            Out::Batches(p) => {
                let _ = p.send(ev);
            }
        }
    }

    /// The read is done: the batch goes, and any loss the pipeline still
    /// holds is reported as soon as there is room, not only when the next
    /// event comes.
    fn end_batch(&mut self) {
        if let Out::Batches(p) = self {
            let _ = p.send_batch().and_then(|()| p.try_flush_lost());
        }
    }
}

fn clock_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec)
}

/// Realtime minus monotonic, in nanoseconds ([`crate::clock`]).
fn mono_to_wall_ns() -> i64 {
    let ns = crate::clock::wall_offset_ns(nix::time::ClockId::CLOCK_MONOTONIC);
    i64::try_from(ns).unwrap_or(0)
}

/// The wall-clock time now.
pub(crate) fn now_wall() -> Timestamp {
    let ns = clock_ns(libc::CLOCK_REALTIME);
    Timestamp::from_nanos_parts(ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000))
}
