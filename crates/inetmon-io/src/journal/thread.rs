//! The journal writer on its own thread, fed over a channel: the shape in
//! which the daemon's pipeline uses it as a sink.
//!
//! The writer takes whatever event batches are queued when it gets to them
//! and stores them in one transaction (up to [`MAX_TRANSACTION`] events):
//! under load transactions grow, so `sync = "always"` pays one `fsync` per
//! transaction rather than per small batch. The queue is bounded by events
//! (not batches): [`JournalThread::send`] gives a batch back when more than
//! the thread's capacity would be waiting, for the caller to count as lost.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender, TryRecvError};
use inetmon_core::event::Event;

use super::{Committed, DropCount, Gap, Journal, JournalConfig, JournalError};

/// Most events the writer stores in one transaction.
pub(crate) const MAX_TRANSACTION: usize = 16_384;

/// What the writer thread is sent.
#[derive(Debug)]
enum Msg {
    Events(Vec<Event>),
    Drops(Vec<DropCount>),
    Gap(Gap),
}

/// State shared by the handle and the thread.
#[derive(Debug, Default)]
struct Shared {
    /// The last committed sequence number.
    last: AtomicU64,
    /// Events sent and not yet committed.
    queued: AtomicUsize,
    /// Events committed since the start.
    committed: AtomicU64,
    /// Events a sender reported lost ([`JournalThread::note_lost`]).
    lost: AtomicU64,
    /// The writer stopped on an error.
    failed: AtomicBool,
}

/// A running writer thread. Dropping the handle without
/// [`JournalThread::finish`] closes the channel, and the thread still
/// closes the journal cleanly after the last batch.
#[derive(Debug)]
pub struct JournalThread {
    tx: Option<Sender<Msg>>,
    thread: Option<JoinHandle<Result<(), JournalError>>>,
    shared: Arc<Shared>,
    capacity: usize,
}

impl JournalThread {
    /// Opens the journal in `dir` (on the caller's thread, so that an error
    /// is returned here) and starts the writer with room for `capacity`
    /// queued events. `on_commit` runs on the writer thread after each
    /// transaction of events is committed (and, with `sync = "always"`,
    /// durable).
    ///
    /// # Errors
    /// Those of [`Journal::open`]; and the writer thread could not start.
    pub fn start(
        dir: &Path,
        cfg: JournalConfig,
        capacity: usize,
        on_commit: impl FnMut(Committed) + Send + 'static,
    ) -> Result<JournalThread, JournalError> {
        let journal = Journal::open(dir, cfg)?;
        Self::spawn(journal, dir, capacity, on_commit)
    }

    /// Runs an opened journal on a new writer thread (see
    /// [`JournalThread::start`]).
    ///
    /// # Errors
    /// The writer thread could not start.
    pub fn spawn(
        mut journal: Journal,
        dir: &Path,
        capacity: usize,
        mut on_commit: impl FnMut(Committed) + Send + 'static,
    ) -> Result<JournalThread, JournalError> {
        let tick = journal.sync_interval().min(Duration::from_millis(200));
        let (tx, rx) = unbounded::<Msg>();
        let shared = Arc::new(Shared::default());
        let seen = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || {
                let r = writer_loop(&mut journal, &rx, tick, &seen, &mut on_commit);
                if r.is_err() {
                    seen.failed.store(true, Ordering::Release);
                    // Nothing more is taken: what is queued is lost, and the
                    // caller's sends fail from now on.
                    return r;
                }
                journal.close()
            })
            .map_err(|error| JournalError::Io {
                path: dir.to_path_buf(),
                error,
            })?;
        Ok(JournalThread {
            tx: Some(tx),
            thread: Some(thread),
            shared,
            capacity: capacity.max(1),
        })
    }

    /// Queues a batch without waiting; when more than the capacity would be
    /// waiting (or the writer stopped on an error) the batch is given back,
    /// for the caller to count as lost.
    ///
    /// # Errors
    /// The batch, when it was not queued.
    pub fn send(&self, batch: Vec<Event>) -> Result<(), Vec<Event>> {
        let n = batch.len();
        let queued = self.shared.queued.load(Ordering::Acquire);
        // An empty queue takes any batch: a batch larger than the capacity
        // is not lost for that alone.
        if self.failed() || (queued > 0 && queued + n > self.capacity) {
            return Err(batch);
        }
        self.shared.queued.fetch_add(n, Ordering::AcqRel);
        match &self.tx {
            Some(tx) => tx.send(Msg::Events(batch)).map_err(|e| {
                self.shared.queued.fetch_sub(n, Ordering::AcqRel);
                match e.0 {
                    Msg::Events(b) => b,
                    Msg::Drops(_) | Msg::Gap(_) => Vec::new(),
                }
            }),
            None => Err(batch),
        }
    }

    /// Queues a batch even when the queue is over its capacity (at the end
    /// of a run, when nothing else will be sent).
    ///
    /// # Errors
    /// The batch, when the writer has stopped.
    pub fn send_final(&self, batch: Vec<Event>) -> Result<(), Vec<Event>> {
        let n = batch.len();
        self.shared.queued.fetch_add(n, Ordering::AcqRel);
        match &self.tx {
            Some(tx) if !self.failed() => tx.send(Msg::Events(batch)).map_err(|e| {
                self.shared.queued.fetch_sub(n, Ordering::AcqRel);
                match e.0 {
                    Msg::Events(b) => b,
                    Msg::Drops(_) | Msg::Gap(_) => Vec::new(),
                }
            }),
            _ => {
                self.shared.queued.fetch_sub(n, Ordering::AcqRel);
                Err(batch)
            }
        }
    }

    /// Queues per-second drop counters (small; not bounded).
    ///
    /// # Errors
    /// The counters, when the writer has stopped.
    pub fn send_drop_counts(&self, counts: Vec<DropCount>) -> Result<(), Vec<DropCount>> {
        match &self.tx {
            Some(tx) if !self.failed() => tx.send(Msg::Drops(counts)).map_err(|e| match e.0 {
                Msg::Drops(c) => c,
                Msg::Events(_) | Msg::Gap(_) => Vec::new(),
            }),
            _ => Err(counts),
        }
    }

    /// Queues a gap record (see [`Journal::append_gap`]).
    ///
    /// # Errors
    /// The writer has stopped.
    pub fn send_gap(&self, gap: Gap) -> Result<(), Gap> {
        match &self.tx {
            Some(tx) if !self.failed() => tx.send(Msg::Gap(gap)).map_err(|_| gap),
            _ => Err(gap),
        }
    }

    /// The last committed sequence number (0 before the first commit).
    #[must_use]
    pub fn last_committed(&self) -> u64 {
        self.shared.last.load(Ordering::Acquire)
    }

    /// Events committed since the start.
    #[must_use]
    pub fn committed(&self) -> u64 {
        self.shared.committed.load(Ordering::Acquire)
    }

    /// Counts `n` events a sender could not queue (given back by
    /// [`JournalThread::send`]), for [`JournalThread::lost`].
    pub fn note_lost(&self, n: u64) {
        self.shared.lost.fetch_add(n, Ordering::AcqRel);
    }

    /// Events senders reported lost since the start.
    #[must_use]
    pub fn lost(&self) -> u64 {
        self.shared.lost.load(Ordering::Acquire)
    }

    /// Events queued and not yet committed.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.shared.queued.load(Ordering::Acquire)
    }

    /// Whether the writer stopped on an error ([`JournalThread::finish`]
    /// returns it).
    #[must_use]
    pub fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::Acquire)
    }

    /// Stores what is queued, closes the journal cleanly and returns the
    /// number of events committed since the start, or the writer's error
    /// if it stopped on one.
    ///
    /// # Errors
    /// The writer's [`JournalError`].
    pub fn finish(mut self) -> Result<u64, JournalError> {
        self.tx = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r.map(|()| self.committed()),
            Some(Err(_)) => Err(JournalError::WriterPanicked),
            None => Ok(self.committed()),
        }
    }
}

impl Drop for JournalThread {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The writer: takes a message, coalesces the event batches queued behind
/// it into one transaction, ticks the journal.
fn writer_loop(
    journal: &mut Journal,
    rx: &Receiver<Msg>,
    tick: Duration,
    shared: &Shared,
    on_commit: &mut dyn FnMut(Committed),
) -> Result<(), JournalError> {
    let mut pending: Option<Msg> = None;
    let mut events: Vec<Event> = Vec::new();
    loop {
        let msg = match pending.take() {
            Some(m) => Ok(m),
            None => rx.recv_timeout(tick),
        };
        match msg {
            Ok(Msg::Events(mut batch)) => {
                events.clear();
                events.append(&mut batch);
                while events.len() < MAX_TRANSACTION {
                    match rx.try_recv() {
                        Ok(Msg::Events(mut more)) => events.append(&mut more),
                        Ok(other) => {
                            pending = Some(other);
                            break;
                        }
                        Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                    }
                }
                let n = events.len();
                let r = journal.append(&events);
                shared.queued.fetch_sub(n, Ordering::AcqRel);
                if let Some(c) = r? {
                    shared.last.store(c.last, Ordering::Release);
                    shared.committed.fetch_add(n as u64, Ordering::AcqRel);
                    on_commit(c);
                }
                events.clear();
            }
            Ok(Msg::Drops(counts)) => journal.append_drop_counts(&counts)?,
            Ok(Msg::Gap(gap)) => {
                let seq = journal.append_gap(gap)?;
                shared.last.store(seq, Ordering::Release);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        journal.tick()?;
    }
}
