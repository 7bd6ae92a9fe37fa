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
//! **Batches.** A busy source (NFLOG: up to hundreds of packets per read)
//! collects events with [`Producer::push`] and hands them over with
//! [`Producer::send_batch`]: one channel operation and at most one wake-up
//! of the consumer per batch instead of per event. The consumer gives spent
//! events back ([`Events::give_back`]); they return to the producer that
//! sent the batch, which overwrites them ([`Producer::reuse_packet`])
//! instead of allocating and freeing every event on two threads. The
//! capacity is counted in events either way: a batch that does not fit is
//! cut, and what is cut is counted and reported like a single dropped
//! event.
//!
//! Per-source counters ([`SourceMetrics`]) are plain atomics; [`Metrics`]
//! takes a snapshot of all of them for the CLI or a metrics endpoint.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{
    Receiver, RecvError, RecvTimeoutError, Sender, TryRecvError, TrySendError,
};
use inetmon_core::event::{
    Event, EventKind, Header, LossStage, Lost, PacketLog, SockEvent, Source, Timestamp, ALL_KINDS,
};

/// Default channel capacity, in events.
pub const DEFAULT_CAPACITY: usize = 65_536;

/// How long a dropped [`Producer`] waits to deliver its final `Lost` event.
const FINAL_LOST_WAIT: Duration = Duration::from_secs(1);

/// Most events a [`Producer::push`] collects before it sends the batch by
/// itself: about what one busy NFLOG datagram holds (its 256 KiB carry up
/// to ~1,700 small packets), so that the consumer wakes about once per
/// read, not once per few hundred packets.
pub const MAX_BATCH: usize = 1024;

/// Spent batches on their way back to one producer; more are freed by the
/// consumer. A read of a busy NFLOG group brings up to a few thousand
/// packets (several batches), whose events should all be overwritten,
/// not allocated.
const RECYCLE_DEPTH: usize = 8;

/// One message on the channel: a single event, or a batch.
#[derive(Debug)]
enum Item {
    One(Event),
    Batch(Batch),
}

/// Events a producer collected, and where the consumer returns them when
/// spent.
#[derive(Debug)]
struct Batch {
    events: Vec<Event>,
    recycle: Option<Sender<Vec<Event>>>,
}

impl Item {
    fn len(&self) -> usize {
        match self {
            Item::One(_) => 1,
            Item::Batch(b) => b.events.len(),
        }
    }
}

/// The pipeline's channel and its metrics registry.
///
/// Make one producer per source with [`Pipeline::producer`], hand
/// [`Pipeline::receiver`] to the output thread, then [`Pipeline::close`] so
/// the receiver ends once every producer is gone.
#[derive(Debug)]
pub struct Pipeline {
    tx: Sender<Item>,
    rx: Receiver<Item>,
    /// Events in the channel (not items): what the capacity bounds.
    queued: Arc<AtomicUsize>,
    capacity: usize,
    metrics: Metrics,
}

impl Pipeline {
    /// A pipeline whose channel holds at most `capacity` events (at least 1).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        // Every item holds at least one event, so the item channel is never
        // fuller than the event count allows.
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        Pipeline {
            tx,
            rx,
            queued: Arc::new(AtomicUsize::new(0)),
            capacity,
            metrics: Metrics::default(),
        }
    }

    /// A producer handle for `source`, with its own counters registered in
    /// [`Pipeline::metrics`].
    #[must_use]
    pub fn producer(&self, source: Source) -> Producer {
        let metrics = self.metrics.register(source.clone());
        let (recycle_tx, recycle_rx) = crossbeam_channel::bounded(RECYCLE_DEPTH);
        Producer {
            tx: self.tx.clone(),
            queued: Arc::clone(&self.queued),
            capacity: self.capacity,
            source,
            metrics,
            seq: 0,
            pending: [0; KINDS],
            carried: Vec::new(),
            batch: Vec::new(),
            recycle_tx,
            recycle_rx,
            spare: Vec::new(),
        }
    }

    /// The receiving end, for the output thread.
    #[must_use]
    pub fn receiver(&self) -> Events {
        Events::new(self.rx.clone(), Arc::clone(&self.queued))
    }

    /// The metrics registry shared by all producers of this pipeline.
    #[must_use]
    pub fn metrics(&self) -> Metrics {
        self.metrics.clone()
    }

    /// Drops the pipeline's own sender, so that the receiver disconnects when
    /// the last producer is dropped. Returns the receiver.
    #[must_use]
    pub fn close(self) -> Events {
        Events::new(self.rx, self.queued)
    }
}

/// The receiving end of a [`Pipeline`]: events one at a time, in the order
/// each producer sent them, whether they came alone or in a batch.
///
/// Not shared between threads (it keeps the rest of the current batch);
/// each [`Pipeline::receiver`] has its own.
#[derive(Debug)]
pub struct Events {
    rx: Receiver<Item>,
    queued: Arc<AtomicUsize>,
    local: RefCell<Local>,
}

/// The batch being read and the spent events going back to its producer.
#[derive(Debug, Default)]
struct Local {
    buf: VecDeque<Event>,
    recycle: Option<Sender<Vec<Event>>>,
    spent: Vec<Event>,
    /// Storage for events that come alone ([`Events::recycle`]).
    singles: Vec<Event>,
}

impl Local {
    /// Returns the spent events to the producer of the batch read so far
    /// (or frees them when it has enough), then starts on `item`.
    fn start(&mut self, item: Item) {
        let spent = std::mem::take(&mut self.spent);
        if let Some(back) = self.recycle.take() {
            if !spent.is_empty() {
                // Full (the producer has enough) or gone: freed here.
                let _ = back.try_send(spent);
            }
        }
        match item {
            Item::One(ev) => self.buf.push_back(ev),
            Item::Batch(b) => {
                // The drained buffer's storage collects the next spent events.
                let old = std::mem::replace(&mut self.buf, VecDeque::from(b.events));
                self.spent = Vec::from(old);
                self.spent.clear();
                self.recycle = b.recycle;
            }
        }
    }
}

impl Events {
    fn new(rx: Receiver<Item>, queued: Arc<AtomicUsize>) -> Self {
        Events {
            rx,
            queued,
            local: RefCell::new(Local::default()),
        }
    }

    /// Takes `item` off the channel's count and makes it the current batch.
    fn start(&self, item: Item) {
        self.queued.fetch_sub(item.len(), Ordering::AcqRel);
        self.local.borrow_mut().start(item);
    }

    fn pop(&self) -> Option<Event> {
        self.local.borrow_mut().buf.pop_front()
    }

    /// The next event: what is left of the current batch, else what `wait`
    /// takes off the channel (the one loop behind [`Events::recv`],
    /// [`Events::recv_timeout`] and [`Events::try_recv`]).
    fn next_with<E>(
        &self,
        mut wait: impl FnMut(&Receiver<Item>) -> Result<Item, E>,
    ) -> Result<Event, E> {
        loop {
            if let Some(ev) = self.pop() {
                return Ok(ev);
            }
            let item = wait(&self.rx)?;
            self.start(item);
        }
    }

    /// The next event, waiting for it.
    ///
    /// # Errors
    /// When every producer is gone and nothing is left.
    pub fn recv(&self) -> Result<Event, RecvError> {
        self.next_with(Receiver::recv)
    }

    /// The next event, waiting at most `timeout`.
    ///
    /// # Errors
    /// On timeout, or when every producer is gone and nothing is left.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event, RecvTimeoutError> {
        // An event of the current batch needs no deadline (no clock read).
        if let Some(ev) = self.pop() {
            return Ok(ev);
        }
        let deadline = Instant::now().checked_add(timeout);
        self.next_with(|rx| match deadline {
            Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        })
    }

    /// The next event if one is queued.
    ///
    /// # Errors
    /// When none is queued, or every producer is gone and nothing is left.
    pub fn try_recv(&self) -> Result<Event, TryRecvError> {
        self.next_with(Receiver::try_recv)
    }

    /// Whether no event is queued.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.local.borrow().buf.is_empty() && self.rx.is_empty()
    }

    /// Events until every producer is gone.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self)
    }

    /// The next batch of events if one is queued (what is left of a batch
    /// that [`Events::recv`] was reading first).
    ///
    /// # Errors
    /// When none is queued, or every producer is gone and nothing is left.
    pub fn try_recv_batch(&self) -> Result<EventBatch, TryRecvError> {
        if let Some(b) = self.take_local() {
            return Ok(b);
        }
        let item = self.rx.try_recv()?;
        Ok(self.batch_of(item))
    }

    /// [`Events::try_recv_batch`], waiting at most `timeout` for a batch.
    ///
    /// # Errors
    /// On timeout, or when every producer is gone and nothing is left.
    pub fn recv_batch_timeout(&self, timeout: Duration) -> Result<EventBatch, RecvTimeoutError> {
        if let Some(b) = self.take_local() {
            return Ok(b);
        }
        let item = self.rx.recv_timeout(timeout)?;
        Ok(self.batch_of(item))
    }

    /// The rest of the batch [`Events::recv`] was reading, if any.
    fn take_local(&self) -> Option<EventBatch> {
        let mut local = self.local.borrow_mut();
        if local.buf.is_empty() {
            return None;
        }
        let events = Vec::from(std::mem::take(&mut local.buf));
        Some(EventBatch {
            events,
            recycle: local.recycle.clone(),
        })
    }

    /// `item` taken off the channel's count, as a batch.
    fn batch_of(&self, item: Item) -> EventBatch {
        self.queued.fetch_sub(item.len(), Ordering::AcqRel);
        match item {
            Item::Batch(b) => EventBatch {
                events: b.events,
                recycle: b.recycle,
            },
            Item::One(ev) => {
                // Storage that goes back to no producer: kept for the next
                // event that comes alone.
                let mut events = std::mem::take(&mut self.local.borrow_mut().singles);
                events.clear();
                events.push(ev);
                EventBatch {
                    events,
                    recycle: None,
                }
            }
        }
    }

    /// Hands a spent batch back to its producer, which overwrites its
    /// events (see [`Producer::reuse_packet`]); freed when the producer has
    /// enough or is gone.
    pub fn recycle(&self, batch: EventBatch) {
        match batch.recycle {
            Some(back) => {
                if !batch.events.is_empty() {
                    let _ = back.try_send(batch.events);
                }
            }
            None => {
                let mut events = batch.events;
                events.clear();
                self.local.borrow_mut().singles = events;
            }
        }
    }

    /// Returns an event the caller is done with, so that its producer can
    /// overwrite it instead of allocating a new one (events that came alone
    /// are simply freed).
    pub fn give_back(&self, ev: Event) {
        let mut local = self.local.borrow_mut();
        if local.recycle.is_some() && local.spent.len() < MAX_BATCH {
            local.spent.push(ev);
        }
    }
}

/// Events taken off the channel together ([`Events::try_recv_batch`],
/// [`Events::recv_batch_timeout`]): a producer's batch, or one event that
/// came alone. Work on [`EventBatch::events`] in place, then hand the whole
/// batch back with [`Events::recycle`], so that its producer overwrites the
/// spent events instead of allocating new ones: no event is moved on the
/// way from the producer's `Vec` to the consumer and back.
#[derive(Debug, Default)]
pub struct EventBatch {
    /// The events, in the order their producer sent them.
    pub events: Vec<Event>,
    recycle: Option<Sender<Vec<Event>>>,
}

/// The events of [`Events::iter`].
#[derive(Debug)]
pub struct Iter<'a>(&'a Events);

impl Iterator for Iter<'_> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.0.recv().ok()
    }
}

impl<'a> IntoIterator for &'a Events {
    type Item = Event;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
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
    tx: Sender<Item>,
    queued: Arc<AtomicUsize>,
    capacity: usize,
    source: Source,
    metrics: Arc<SourceMetrics>,
    seq: u64,
    pending: [u64; KINDS],
    carried: Vec<Lost>,
    /// Events collected by [`Producer::push`], not sent yet.
    batch: Vec<Event>,
    /// Where the consumer returns spent events of this producer's batches.
    recycle_tx: Sender<Vec<Event>>,
    recycle_rx: Receiver<Vec<Event>>,
    /// Spent events to overwrite.
    spare: Vec<Event>,
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

    /// Takes room for up to `n` events in the channel; how many fit.
    fn reserve(&self, n: usize) -> usize {
        let mut got = 0;
        let _ = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                got = n.min(self.capacity.saturating_sub(q));
                (got > 0).then_some(q + got)
            });
        got
    }

    fn release(&self, n: usize) {
        self.queued.fetch_sub(n, Ordering::AcqRel);
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

    /// Queues `event` alone if there is room; gives it back if not.
    fn try_queue(&mut self, event: Event) -> Result<Option<Event>, Closed> {
        if self.reserve(1) == 0 {
            return Ok(Some(event));
        }
        match self.tx.try_send(Item::One(event)) {
            Ok(()) => Ok(None),
            Err(TrySendError::Full(item)) => {
                // Not expected (the item channel holds as many items as the
                // capacity allows events); treated as no room.
                self.release(1);
                Ok(match item {
                    Item::One(ev) => Some(ev),
                    Item::Batch(_) => None,
                })
            }
            Err(TrySendError::Disconnected(_)) => {
                self.release(1);
                Err(Closed)
            }
        }
    }

    /// Sends without blocking. If the channel is full the event is dropped
    /// and counted; a `Lost` event for earlier drops goes first when there is
    /// room. Events collected with [`Producer::push`] go before it.
    ///
    /// # Errors
    /// [`Closed`] when the receiver is gone.
    pub fn send(&mut self, event: Event) -> Result<Sent, Closed> {
        self.send_batch()?;
        if self.has_pending() && !self.try_flush_lost()? {
            self.drop_event(event);
            return Ok(Sent::Dropped);
        }
        match self.try_queue(event)? {
            None => Ok(Sent::Queued),
            Some(event) => {
                self.drop_event(event);
                Ok(Sent::Dropped)
            }
        }
    }

    /// Collects `event` for the next [`Producer::send_batch`] (which
    /// happens by itself every [`MAX_BATCH`] events). Call `send_batch`
    /// before waiting for more input, or the events wait too.
    ///
    /// # Errors
    /// [`Closed`] when the receiver is gone.
    #[inline]
    pub fn push(&mut self, event: Event) -> Result<(), Closed> {
        if self.batch.capacity() == 0 {
            if self.spare.is_empty() && self.spare.capacity() > 0 {
                std::mem::swap(&mut self.batch, &mut self.spare);
            }
            // Room for a whole batch at once, not grown on the way.
            self.batch.reserve(MAX_BATCH);
        }
        self.batch.push(event);
        if self.batch.len() >= MAX_BATCH {
            self.send_batch()?;
        }
        Ok(())
    }

    /// Sends the events collected by [`Producer::push`] as one batch,
    /// without blocking: what does not fit in the channel is dropped and
    /// counted like [`Producer::send`] does, and a `Lost` event for earlier
    /// drops goes first.
    ///
    /// # Errors
    /// [`Closed`] when the receiver is gone.
    pub fn send_batch(&mut self) -> Result<(), Closed> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let mut events = std::mem::take(&mut self.batch);
        let room = if self.has_pending() && !self.try_flush_lost()? {
            0
        } else {
            self.reserve(events.len())
        };
        let cut = events.split_off(room);
        for ev in cut {
            self.drop_event(ev);
        }
        if events.is_empty() {
            self.batch = events;
            return Ok(());
        }
        let batch = Batch {
            events,
            recycle: Some(self.recycle_tx.clone()),
        };
        match self.tx.try_send(Item::Batch(batch)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(item)) => {
                // Not expected, as in `try_queue`.
                self.release(room);
                if let Item::Batch(b) = item {
                    for ev in b.events {
                        self.drop_event(ev);
                    }
                }
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => {
                self.release(room);
                Err(Closed)
            }
        }
    }

    /// A spent packet event the consumer gave back, for the caller to
    /// overwrite (see [`Events::give_back`]); `None` when there is none.
    pub fn reuse_packet(&mut self) -> Option<Box<PacketLog>> {
        self.reuse(|ev| match ev {
            Event::Packet(p) => Some(p),
            _ => None,
        })
    }

    /// A spent socket event the consumer gave back, for the caller to
    /// overwrite (as [`Producer::reuse_packet`]).
    pub fn reuse_sock(&mut self) -> Option<Box<SockEvent>> {
        self.reuse(|ev| match ev {
            Event::Sock(s) => Some(s),
            _ => None,
        })
    }

    /// The next spent event `take` accepts (others are freed).
    fn reuse<T>(&mut self, take: fn(Event) -> Option<T>) -> Option<T> {
        loop {
            if self.spare.is_empty() {
                let back = self.recycle_rx.try_recv().ok()?;
                let empty = std::mem::replace(&mut self.spare, back);
                if self.batch.capacity() == 0 {
                    self.batch = empty;
                }
            }
            if let Some(t) = take(self.spare.pop()?) {
                return Some(t);
            }
        }
    }

    /// Sends, waiting for room; for file sources, which must not lose events.
    /// Any earlier channel loss is reported first.
    ///
    /// # Errors
    /// [`Closed`] when the receiver is gone.
    pub fn send_blocking(&mut self, event: Event) -> Result<(), Closed> {
        self.send_batch()?;
        for l in std::mem::take(&mut self.carried) {
            self.send_waiting(Event::Lost(l), None)?;
        }
        if let Some(lost) = self.take_lost_event() {
            self.send_waiting(lost, None)?;
        }
        self.send_waiting(event, None)
    }

    /// Sends one event, waiting for room in the channel (at most `limit`).
    /// The event count may go over the capacity here: what a blocking send
    /// queues is bounded by the channel itself.
    fn send_waiting(&self, event: Event, limit: Option<Duration>) -> Result<(), Closed> {
        self.queued.fetch_add(1, Ordering::AcqRel);
        let sent = match limit {
            None => self.tx.send(Item::One(event)).map_err(|_| Closed),
            Some(t) => self
                .tx
                .send_timeout(Item::One(event), t)
                .map_err(|_| Closed),
        };
        if sent.is_err() {
            self.release(1);
        }
        sent
    }

    /// Tries to report pending channel loss now; `Ok(true)` when nothing is
    /// pending any more.
    ///
    /// # Errors
    /// [`Closed`] when the receiver is gone.
    pub fn try_flush_lost(&mut self) -> Result<bool, Closed> {
        while !self.carried.is_empty() {
            let l = self.carried.remove(0);
            match self.try_queue(Event::Lost(l))? {
                None => {}
                Some(Event::Lost(l)) => {
                    self.carried.insert(0, l);
                    return Ok(false);
                }
                Some(_) => return Ok(false),
            }
        }
        let saved = self.pending;
        let Some(lost) = self.take_lost_event() else {
            return Ok(true);
        };
        match self.try_queue(lost)? {
            None => Ok(true),
            Some(_) => {
                // Give the sequence number back so numbering stays dense.
                self.seq = self.seq.saturating_sub(1);
                self.pending = saved;
                Ok(false)
            }
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
        // What does not fit now is counted and reported below.
        if self.send_batch().is_err() {
            return;
        }
        for l in std::mem::take(&mut self.carried) {
            if self
                .send_waiting(Event::Lost(l), Some(FINAL_LOST_WAIT))
                .is_err()
            {
                return;
            }
        }
        if let Some(lost) = self.take_lost_event() {
            // On timeout the loss is still in lost_channel; nothing more to do.
            let _ = self.send_waiting(lost, Some(FINAL_LOST_WAIT));
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
