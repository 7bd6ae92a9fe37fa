//! The journal as a sink of the daemon's consumer: events are collected
//! into batches and handed to the writer thread ([`JournalThread`]), which
//! stores them in batched transactions. A batch the writer cannot take
//! (more than its queue's capacity waiting) is counted, and the count is
//! journaled as a [`Lost`] event (stage `sink`, source `pipeline`) in front
//! of the next batch that is taken: the hole is in the journal itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use inetmon_core::event::{Event, EventKind, Lost};

use crate::consumer::{Delivery, Rendered, Sink};
use crate::journal::JournalThread;
use crate::pipeline::now;
use crate::sink::SinkError;

/// Events per batch handed to the writer (it merges queued batches into
/// larger transactions).
pub(crate) const BATCH: usize = 1024;

/// The longest a partial batch waits while events keep coming (the
/// consumer also hands it over whenever its channel is empty).
const BATCH_AGE: Duration = Duration::from_millis(50);

/// See the module docs.
#[derive(Debug)]
pub struct JournalSink {
    journal: Arc<JournalThread>,
    batch: Vec<Event>,
    started: Option<Instant>,
    /// Lost here and not yet journaled, with their kinds.
    lost: u64,
    lost_kinds: Vec<EventKind>,
    /// Lost here since the start.
    lost_total: u64,
    seq: u64,
}

impl JournalSink {
    /// A sink feeding `journal`.
    #[must_use]
    pub fn new(journal: Arc<JournalThread>) -> Self {
        JournalSink {
            journal,
            batch: Vec::with_capacity(BATCH),
            started: None,
            lost: 0,
            lost_kinds: Vec::new(),
            lost_total: 0,
            seq: 0,
        }
    }

    /// Events this sink could not hand to the writer since the start.
    #[must_use]
    pub fn lost_total(&self) -> u64 {
        self.lost_total
    }

    /// Hands the batch over (with a `Lost` event first when events were
    /// lost before); `last` also when the writer is over capacity.
    fn send(&mut self, last: bool) {
        if self.batch.is_empty() && (self.lost == 0 || !last) {
            return;
        }
        let lost_first = self.lost > 0;
        if lost_first {
            self.seq += 1;
            let ev = Event::Lost(Lost {
                kinds: self.lost_kinds.clone(),
                ..Lost::at_sink(now(), self.seq, self.lost)
            });
            self.batch.insert(0, ev);
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        let r = if last {
            self.journal.send_final(batch)
        } else {
            self.journal.send(batch)
        };
        self.started = None;
        match r {
            Ok(()) => {
                if lost_first {
                    self.lost = 0;
                    self.lost_kinds.clear();
                }
            }
            Err(mut back) => {
                if lost_first {
                    back.remove(0);
                    self.seq -= 1;
                }
                for ev in &back {
                    let k = ev.kind();
                    if !self.lost_kinds.contains(&k) {
                        self.lost_kinds.push(k);
                    }
                }
                let n = back.len() as u64;
                self.journal.note_lost(n);
                self.lost = self.lost.saturating_add(n);
                self.lost_total = self.lost_total.saturating_add(n);
            }
        }
    }
}

impl Sink for JournalSink {
    fn deliver(&mut self, ev: Option<&Event>, _out: &Rendered) -> Result<Delivery, SinkError> {
        let Some(ev) = ev else {
            // The once-a-second clock: nothing waits longer than that.
            self.send(false);
            return Ok(Delivery::Passed);
        };
        self.batch.push(ev.clone());
        let started = *self.started.get_or_insert_with(Instant::now);
        if self.batch.len() >= BATCH
            || (self.batch.len().is_multiple_of(64) && started.elapsed() >= BATCH_AGE)
        {
            self.send(false);
        }
        Ok(Delivery::Passed)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.send(false);
        Ok(())
    }
}

impl Drop for JournalSink {
    fn drop(&mut self) {
        // The end of the run: what is left goes in, whatever is queued.
        self.send(true);
    }
}
