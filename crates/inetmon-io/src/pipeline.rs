//! The bounded channel from producers to the single output thread, with loss
//! counted instead of blocking.
//!
//! Every source gets a [`Producer`]. A live kernel reader calls
//! [`Producer::send`], which never blocks: when the channel is full the event
//! is dropped and counted by kind, and one [`Lost`] event with
//! [`LossStage::Channel`] is injected as soon as there is room again (or when
//! the producer is dropped). File readers call [`Producer::send_blocking`],
//! because reading a file must not lose anything.
//!
//! Per-source counters ([`SourceMetrics`]) are plain atomics; [`Metrics`]
//! takes a snapshot of all of them for the CLI or a metrics endpoint.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, SendTimeoutError, Sender, TrySendError};
use inetmon_core::event::{
    Event, EventKind, Header, LossStage, Lost, Source, Timestamp, ALL_KINDS,
};

/// Default channel capacity, in events.
pub const DEFAULT_CAPACITY: usize = 65_536;

/// How long a dropped [`Producer`] waits to deliver its final `Lost` event.
const FINAL_LOST_WAIT: Duration = Duration::from_secs(1);

/// The pipeline's channel and its metrics registry.
///
/// Make one producer per source with [`Pipeline::producer`], hand
/// [`Pipeline::receiver`] to the output thread, then [`Pipeline::close`] so
/// the receiver ends once every producer is gone.
#[derive(Debug)]
pub struct Pipeline {
    tx: Sender<Event>,
    rx: Receiver<Event>,
    metrics: Metrics,
}

impl Pipeline {
    /// A pipeline whose channel holds at most `capacity` events (at least 1).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        let (tx, rx) = crossbeam_channel::bounded(capacity.max(1));
        Pipeline {
            tx,
            rx,
            metrics: Metrics::default(),
        }
    }

    /// A producer handle for `source`, with its own counters registered in
    /// [`Pipeline::metrics`].
    #[must_use]
    pub fn producer(&self, source: Source) -> Producer {
        let metrics = self.metrics.register(source.clone());
        Producer {
            tx: self.tx.clone(),
            source,
            metrics,
            seq: 0,
            pending: [0; KINDS],
            carried: Vec::new(),
        }
    }

    /// The receiving end, for the output thread.
    #[must_use]
    pub fn receiver(&self) -> Receiver<Event> {
        self.rx.clone()
    }

    /// The metrics registry shared by all producers of this pipeline.
    #[must_use]
    pub fn metrics(&self) -> Metrics {
        self.metrics.clone()
    }

    /// Drops the pipeline's own sender, so that the receiver disconnects when
    /// the last producer is dropped. Returns the receiver.
    #[must_use]
    pub fn close(self) -> Receiver<Event> {
        self.rx
    }
}

/// The receiver is gone: nobody will read events any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the pipeline's output side has stopped")]
pub struct Closed;

/// What [`Producer::send`] did with the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The event is in the channel.
    Queued,
    /// The channel was full; the event was counted as lost.
    Dropped,
}

/// Pending drops are counted per kind, in [`ALL_KINDS`] order.
const KINDS: usize = ALL_KINDS.len();

/// One source's sending end of the pipeline.
///
/// Numbers the source's events ([`Producer::next_seq`]) and keeps the count
/// of events dropped because the channel was full until it can report them.
/// A `Lost` event from an earlier stage (say, the kernel) that meets a full
/// channel is not counted as a lost event but kept (merged with later ones)
/// and sent when there is room, so loss counts stay exact end to end.
#[derive(Debug)]
pub struct Producer {
    tx: Sender<Event>,
    source: Source,
    metrics: Arc<SourceMetrics>,
    seq: u64,
    pending: [u64; KINDS],
    carried: Vec<Lost>,
}

/// Most distinct carried `Lost` events kept before merging regardless of kinds.
const MAX_CARRIED: usize = 8;

impl Producer {
    /// The source this producer sends for.
    #[must_use]
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// This source's counters.
    #[must_use]
    pub fn metrics(&self) -> &Arc<SourceMetrics> {
        &self.metrics
    }

    /// The next sequence number for an event of this source (from 1).
    pub fn next_seq(&mut self) -> u64 {
        self.seq = self.seq.saturating_add(1);
        self.seq
    }

    /// A header for a new event of this source at `time`, with the next
    /// sequence number.
    pub fn header(&mut self, time: Timestamp) -> Header {
        let seq = self.next_seq();
        Header {
            time,
            source: self.source.clone(),
            seq,
        }
    }

    /// Events dropped at the channel and not yet reported.
    #[must_use]
    pub fn pending_lost(&self) -> u64 {
        self.pending.iter().sum()
    }

    fn has_pending(&self) -> bool {
        self.pending_lost() > 0 || !self.carried.is_empty()
    }

    /// Drops `event` for lack of room: counted, or carried if it is itself a
    /// loss report.
    fn drop_event(&mut self, event: Event) {
        match event {
            Event::Lost(l) => self.carry(l),
            other => self.count_drop(other.kind()),
        }
    }

    fn carry(&mut self, l: Lost) {
        let merge = |last: &mut Lost, l: Lost| {
            last.count = last.count.saturating_add(l.count);
            for k in l.kinds {
                if !last.kinds.contains(&k) {
                    last.kinds.push(k);
                }
            }
            last.seq_range = match (last.seq_range, l.seq_range) {
                (Some((a, b)), Some((c, d))) if b.checked_add(1) == Some(c) => Some((a, d)),
                _ => None,
            };
        };
        let full = self.carried.len() >= MAX_CARRIED;
        match self.carried.last_mut() {
            Some(last) if last.stage == l.stage && (full || last.kinds == l.kinds) => {
                merge(last, l);
            }
            _ => self.carried.push(l),
        }
    }

    /// Sends without blocking. If the channel is full the event is dropped
    /// and counted; a `Lost` event for earlier drops goes first when there is
    /// room.
    ///
    /// # Errors
    /// [`Closed`] when the receiver is gone.
    pub fn send(&mut self, event: Event) -> Result<Sent, Closed> {
        if self.has_pending() && !self.try_flush_lost()? {
            self.drop_event(event);
            return Ok(Sent::Dropped);
        }
        match self.tx.try_send(event) {
            Ok(()) => Ok(Sent::Queued),
            Err(TrySendError::Full(event)) => {
                self.drop_event(event);
                Ok(Sent::Dropped)
            }
            Err(TrySendError::Disconnected(_)) => Err(Closed),
        }
    }

    /// Sends, waiting for room; for file sources, which must not lose events.
    /// Any earlier channel loss is reported first.
    ///
    /// # Errors
    /// [`Closed`] when the receiver is gone.
    pub fn send_blocking(&mut self, event: Event) -> Result<(), Closed> {
        for l in std::mem::take(&mut self.carried) {
            self.tx.send(Event::Lost(l)).map_err(|_| Closed)?;
        }
        if let Some(lost) = self.take_lost_event() {
            self.tx.send(lost).map_err(|_| Closed)?;
        }
        self.tx.send(event).map_err(|_| Closed)
    }

    /// Tries to report pending channel loss now; `Ok(true)` when nothing is
    /// pending any more.
    ///
    /// # Errors
    /// [`Closed`] when the receiver is gone.
    pub fn try_flush_lost(&mut self) -> Result<bool, Closed> {
        while !self.carried.is_empty() {
            let l = self.carried.remove(0);
            match self.tx.try_send(Event::Lost(l)) {
                Ok(()) => {}
                Err(TrySendError::Full(Event::Lost(l))) => {
                    self.carried.insert(0, l);
                    return Ok(false);
                }
                Err(TrySendError::Full(_)) => return Ok(false),
                Err(TrySendError::Disconnected(_)) => return Err(Closed),
            }
        }
        let saved = self.pending;
        let Some(lost) = self.take_lost_event() else {
            return Ok(true);
        };
        match self.tx.try_send(lost) {
            Ok(()) => Ok(true),
            Err(TrySendError::Full(_)) => {
                // Give the sequence number back so numbering stays dense.
                self.seq = self.seq.saturating_sub(1);
                self.pending = saved;
                Ok(false)
            }
            Err(TrySendError::Disconnected(_)) => Err(Closed),
        }
    }

    fn count_drop(&mut self, kind: EventKind) {
        if let Some(i) = ALL_KINDS.iter().position(|k| *k == kind) {
            self.pending[i] = self.pending[i].saturating_add(1);
        }
        self.metrics.lost_channel.fetch_add(1, Ordering::Relaxed);
    }

    /// Builds the `Lost` event for pending drops and clears them.
    fn take_lost_event(&mut self) -> Option<Event> {
        let count = self.pending_lost();
        if count == 0 {
            return None;
        }
        let kinds = ALL_KINDS
            .iter()
            .zip(self.pending.iter())
            .filter(|(_, n)| **n > 0)
            .map(|(k, _)| *k)
            .collect();
        self.pending = [0; KINDS];
        let header = self.header(now());
        Some(Event::Lost(Lost {
            header,
            stage: LossStage::Channel,
            count,
            kinds,
            seq_range: None,
            breakdown: Vec::new(),
        }))
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        for l in std::mem::take(&mut self.carried) {
            if self
                .tx
                .send_timeout(Event::Lost(l), FINAL_LOST_WAIT)
                .is_err()
            {
                return;
            }
        }
        if let Some(lost) = self.take_lost_event() {
            match self.tx.send_timeout(lost, FINAL_LOST_WAIT) {
                Ok(()) | Err(SendTimeoutError::Disconnected(_)) => {}
                Err(SendTimeoutError::Timeout(_)) => {
                    // Already counted in lost_channel; nothing more to do.
                }
            }
        }
    }
}

/// The current wall-clock time as an event timestamp.
#[must_use]
pub fn now() -> Timestamp {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => Timestamp::from_nanos_parts(
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            i64::from(d.subsec_nanos()),
        ),
        Err(_) => Timestamp::default(),
    }
}

/// Counters of one source, updated by its producer thread and read by
/// [`Metrics::snapshot`].
#[derive(Debug, Default)]
pub struct SourceMetrics {
    /// Records read from the source (datagram messages, file records).
    pub received: AtomicU64,
    /// Records decoded into events.
    pub decoded: AtomicU64,
    /// Records that could not be decoded.
    pub malformed: AtomicU64,
    /// Records the kernel dropped (netlink `ENOBUFS`, sequence gaps).
    pub lost_kernel: AtomicU64,
    /// Events dropped because the channel was full.
    pub lost_channel: AtomicU64,
    /// Events a sink could not deliver.
    pub lost_sink: AtomicU64,
}

impl SourceMetrics {
    /// Adds `n` to one counter (relaxed; these are statistics).
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn snapshot(&self, source: &Source) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            source: source.clone(),
            received: get(&self.received),
            decoded: get(&self.decoded),
            malformed: get(&self.malformed),
            lost_kernel: get(&self.lost_kernel),
            lost_channel: get(&self.lost_channel),
            lost_sink: get(&self.lost_sink),
        }
    }
}

/// The counters of one source at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// The source.
    pub source: Source,
    /// See [`SourceMetrics::received`].
    pub received: u64,
    /// See [`SourceMetrics::decoded`].
    pub decoded: u64,
    /// See [`SourceMetrics::malformed`].
    pub malformed: u64,
    /// See [`SourceMetrics::lost_kernel`].
    pub lost_kernel: u64,
    /// See [`SourceMetrics::lost_channel`].
    pub lost_channel: u64,
    /// See [`SourceMetrics::lost_sink`].
    pub lost_sink: u64,
}

/// A registry of per-source counters, cheap to clone and share.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    sources: Arc<Mutex<Vec<Registered>>>,
}

/// One registered source and its counters.
type Registered = (Source, Arc<SourceMetrics>);

impl Metrics {
    /// Counters for `source`: an existing entry for the same source is shared.
    #[must_use]
    pub fn register(&self, source: Source) -> Arc<SourceMetrics> {
        let mut list = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, m)) = list.iter().find(|(s, _)| *s == source) {
            return Arc::clone(m);
        }
        let m = Arc::new(SourceMetrics::default());
        list.push((source, Arc::clone(&m)));
        m
    }

    /// The current values of every source's counters, in registration order.
    #[must_use]
    pub fn snapshot(&self) -> Vec<MetricsSnapshot> {
        let list = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
        list.iter().map(|(s, m)| m.snapshot(s)).collect()
    }
}
