//! The journal writer on its own thread, fed batches over a bounded
//! channel: the shape in which the daemon's pipeline uses it as a sink.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, RecvTimeoutError, Sender, TrySendError};
use inetmon_core::event::Event;

use super::{Committed, Journal, JournalConfig, JournalError};

/// A running writer thread. Dropping the handle without
/// [`JournalThread::finish`] closes the channel, and the thread still
/// closes the journal cleanly after the last batch.
#[derive(Debug)]
pub struct JournalThread {
    tx: Option<Sender<Vec<Event>>>,
    thread: Option<JoinHandle<Result<(), JournalError>>>,
    last: Arc<AtomicU64>,
}

impl JournalThread {
    /// Opens the journal in `dir` (on the caller's thread, so that an error
    /// is returned here) and starts the writer with room for `capacity`
    /// batches. `on_commit` runs on the writer thread after each batch is
    /// committed (and, with `sync = "always"`, durable).
    ///
    /// # Errors
    /// Those of [`Journal::open`]; and the writer thread could not start.
    pub fn start(
        dir: &Path,
        cfg: JournalConfig,
        capacity: usize,
        mut on_commit: impl FnMut(Committed) + Send + 'static,
    ) -> Result<JournalThread, JournalError> {
        let tick = cfg.sync_interval.min(Duration::from_millis(200));
        let mut journal = Journal::open(dir, cfg)?;
        let (tx, rx) = bounded::<Vec<Event>>(capacity.max(1));
        let last = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&last);
        let thread = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || {
                loop {
                    match rx.recv_timeout(tick) {
                        Ok(batch) => {
                            if let Some(c) = journal.append(&batch)? {
                                seen.store(c.last, Ordering::Release);
                                on_commit(c);
                            }
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                    journal.tick()?;
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
            last,
        })
    }

    /// Queues a batch without waiting; a full queue (or a writer that
    /// stopped on an error) gives the batch back, for the caller to count
    /// as lost.
    ///
    /// # Errors
    /// The batch, when it was not queued.
    pub fn send(&self, batch: Vec<Event>) -> Result<(), Vec<Event>> {
        match &self.tx {
            Some(tx) => tx.try_send(batch).map_err(|e| match e {
                TrySendError::Full(b) | TrySendError::Disconnected(b) => b,
            }),
            None => Err(batch),
        }
    }

    /// The last committed sequence number (0 before the first commit).
    #[must_use]
    pub fn last_committed(&self) -> u64 {
        self.last.load(Ordering::Acquire)
    }

    /// Stores what is queued, closes the journal cleanly and returns the
    /// writer's error, if it stopped on one.
    ///
    /// # Errors
    /// The writer's [`JournalError`].
    pub fn finish(mut self) -> Result<(), JournalError> {
        self.tx = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(JournalError::WriterPanicked),
            None => Ok(()),
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
