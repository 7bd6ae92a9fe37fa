//! `[drops]`: per-second kernel drop counters by reason, location and
//! interface, stored in the journal's `drop_counts` table.
//!
//! Without `per_drop` the datapath programs count drops in a kernel map
//! (no record per drop: cheap under a drop storm) and this sink reads the
//! map once a second; with `per_drop = true` every drop is also an event
//! (journaled by the journal sink) and this sink counts the events. Either
//! way a row per group with drops in that second.

use std::sync::Arc;

use inetmon_core::drop_summary::DropSummary;
use inetmon_core::event::{Event, Timestamp};

use crate::consumer::{Delivery, Rendered, Sink};
use crate::datapath::DropCounter;
use crate::journal::{DropCount, JournalThread};
use crate::pipeline::now;
use crate::sink::SinkError;

/// Something else that wants each second's counted rows (the metrics and
/// the web view), called before they go to the journal.
pub type DropTap = Box<dyn FnMut(&[DropCount]) + Send>;

/// See the module docs.
pub struct DropCountsSink {
    tap: Option<DropTap>,
    journal: Arc<JournalThread>,
    kernel: Option<DropCounter>,
    per_drop: bool,
    summary: DropSummary,
    since: Timestamp,
    /// Rows the writer could not take (it has stopped).
    unwritten: u64,
}

crate::debug_fields::debug_fields!(DropCountsSink { per_drop, .. });

impl DropCountsSink {
    /// Counts from `kernel` (the map reader) or, with `per_drop`, from drop
    /// events.
    #[must_use]
    pub fn new(journal: Arc<JournalThread>, kernel: Option<DropCounter>, per_drop: bool) -> Self {
        let mut summary = DropSummary::new();
        if let Some(k) = &kernel {
            // What the map holds already is not this run's first second.
            for (key, n) in k.counts() {
                summary.set_count(key, n);
            }
            summary.end_interval();
        }
        DropCountsSink {
            tap: None,
            journal,
            kernel,
            per_drop,
            summary,
            since: now(),
            unwritten: 0,
        }
    }

    /// Also hands each second's rows to `tap`.
    #[must_use]
    pub fn with_tap(mut self, tap: DropTap) -> Self {
        self.tap = Some(tap);
        self
    }

    /// Ends the second: reads the kernel's counts, stores a row per group
    /// that had drops.
    fn second(&mut self) {
        if let Some(k) = &self.kernel {
            for (key, n) in k.counts() {
                self.summary.set_count(key, n);
            }
        }
        self.summary.end_interval();
        let time = self.since;
        self.since = now();
        let rows: Vec<DropCount> = self
            .summary
            .rows()
            .into_iter()
            .filter(|r| r.delta > 0)
            .map(|r| DropCount {
                time,
                key: r.key,
                count: r.delta,
            })
            .collect();
        if let (Some(tap), false) = (&mut self.tap, rows.is_empty()) {
            tap(&rows);
        }
        if !rows.is_empty() {
            if let Err(back) = self.journal.send_drop_counts(rows) {
                self.unwritten = self.unwritten.saturating_add(back.len() as u64);
            }
        }
    }
}

impl Sink for DropCountsSink {
    fn deliver(&mut self, ev: Option<&Event>, _out: &Rendered) -> Result<Delivery, SinkError> {
        match ev {
            None => self.second(),
            Some(Event::Drop(d)) if self.per_drop => self.summary.add(d),
            Some(_) => {}
        }
        Ok(Delivery::Passed)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    fn take_unwritten(&mut self) -> (u64, &'static str) {
        (std::mem::take(&mut self.unwritten), "drop counters")
    }
}

impl Drop for DropCountsSink {
    fn drop(&mut self) {
        // The last (partial) second.
        self.second();
    }
}
