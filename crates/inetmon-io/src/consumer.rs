//! The one consumer loop: events off the pipeline → filter and format (a
//! [`Stage`]) → [`Sink`]s.
//!
//! Every subcommand is a configuration of it: which producers feed the
//! [`Pipeline`], which stage renders their events
//! and which sinks receive the result. The three parts are separate values:
//!
//! - producers run on their own threads ([`Running`] holds them);
//! - a [`Stage`] turns one event into [`Rendered`] text (lines, each with a
//!   syslog priority) or drops it; it owns no output, so a stage can be
//!   built once per worker thread (one per chunk of a file, say) and the
//!   rendered chunks written in order;
//! - a [`Sink`] receives the event and its rendering, in the order given;
//!   a sink may take an event for itself ([`Delivery::Taken`], what ipmon's
//!   `-C` actions do), so the sinks after it do not see it.
//!
//! [`Consumer::run`] drains a pipeline until every producer is gone, with a
//! stop after `--count` shown events, at a deadline, on shutdown or when a
//! producer that ends the run has finished. Files read to their end feed
//! [`Consumer::deliver`] directly on the calling thread
//! ([`FileSource::read_to_end`](crate::file::FileSource::read_to_end)): the
//! same stage and sinks without a thread hop, which is what `inetmon read`
//! needs to stay fast.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, TryRecvError};
use inetmon_core::event::Event;
pub use inetmon_core::format::ipmon::{Line, Rendered};

use crate::pipeline::{EventBatch, Events, Pipeline};
use crate::shutdown::Shutdown;
use crate::sink::SinkError;

/// How long the loop waits for an event before it flushes the sinks and
/// checks whether the run should end.
pub const IDLE: Duration = Duration::from_millis(100);

/// While events keep coming, the sinks are flushed at most this often (one
/// `write(2)` per event costs more than formatting it); when the channel
/// stays empty the sinks are flushed at the latest this long after the
/// last event, so output never waits longer while the run is idle.
pub const FLUSH_EVERY: Duration = Duration::from_millis(10);

/// What the stage made of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Filtered out (or kept for a table): the sinks do not get it.
    Drop,
    /// Shown: the sinks get it and it counts toward [`Plan::limit`].
    Show,
    /// Shown without counting toward the limit (a loss report among
    /// `--count` socket events).
    ShowUncounted,
}

/// Filter → format: what a subcommand makes of one event.
pub trait Stage {
    /// Filters `ev` and, when it passes, formats it into `out` (empty on
    /// entry).
    fn render(&mut self, ev: &mut Event, out: &mut Rendered) -> Verdict;

    /// Merges `next` into `into` when they are one record (ipmon's `Nx`
    /// count of identical queued packets). Only events already queued are
    /// merged, never by waiting.
    fn absorb(&mut self, into: &mut Event, next: &Event) -> bool {
        let _ = (into, next);
        false
    }

    /// Periodic output (every [`Plan::tick`]), such as a table of counts.
    /// Returns whether `out` holds something to write.
    fn tick(&mut self, out: &mut Rendered) -> bool {
        let _ = out;
        false
    }

    /// A new input begins (the next file of `inetmon read`): state that is
    /// per log, such as ipmon's `missed` counters, may start over.
    fn new_input(&mut self) {}

    /// A sink has news for the user that is not an error (a failed SIGHUP
    /// reopen: it goes on writing to the old file).
    fn notice(&mut self, text: &str) {
        let _ = text;
    }

    /// A sink reports `count` events it could not deliver (`what` names
    /// it); the stage may tell the user. They are counted in
    /// [`Report::unwritten`] either way.
    fn unwritten(&mut self, what: &str, count: u64) {
        let _ = (what, count);
    }
}

/// What a sink did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Written (or not for this sink); the next sinks get it too.
    Passed,
    /// Taken: the sinks after this one do not get it.
    Taken,
}

/// Where rendered events go.
pub trait Sink {
    /// Receives one event that passed the stage and its rendering (for a
    /// [`Stage::tick`], `ev` is `None`).
    ///
    /// # Errors
    /// [`SinkError::Closed`] when the reader went away; other I/O errors.
    fn deliver(&mut self, ev: Option<&Event>, out: &Rendered) -> Result<Delivery, SinkError>;

    /// Pushes buffered output out (the channel is momentarily empty).
    ///
    /// # Errors
    /// As for [`Sink::deliver`].
    fn flush(&mut self) -> Result<(), SinkError>;

    /// Whether the sink has given up writing for this run (its reader is
    /// stuck and a shutdown was asked for): the consumer then stops
    /// formatting and counts the remaining events as unwritten.
    fn stuck(&self) -> bool {
        false
    }

    /// News for the user that is not an error (see [`Stage::notice`]),
    /// asked for after each flush.
    fn take_notice(&mut self) -> Option<String> {
        None
    }

    /// Events that could not be delivered since the last call, and what to
    /// call this sink in a message.
    fn take_unwritten(&mut self) -> (u64, &'static str) {
        (0, "")
    }
}

/// Appends what `write` writes to `out` as one message at `LOG_INFO` (for
/// formatters that write to an `io::Write`).
///
/// # Errors
/// `write`'s error (writing to memory fails only inside `write`).
pub fn render_with(
    out: &mut Rendered,
    write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let start = out.text.len();
    write(&mut out.text)?;
    out.lines.push(Line {
        start,
        end: out.text.len(),
        priority: inetmon_core::format::ipmon::LOG_INFO,
    });
    Ok(())
}

/// The counts of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Events shown and counted ([`Verdict::Show`]).
    pub shown: u64,
    /// Events reported lost (summed over `Lost` events).
    pub lost: u64,
    /// Malformed records (damaged regions).
    pub malformed: u64,
    /// Bytes skipped in them.
    pub skipped: u64,
    /// Events a sink could not deliver (syslog down; output still blocked
    /// at shutdown).
    pub unwritten: u64,
}

/// When a [`Consumer::run`] stops early, and how often it ticks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plan {
    /// Stop after this many shown events (`--count`).
    pub limit: Option<u64>,
    /// Stop at this time (`--duration`).
    pub deadline: Option<Instant>,
    /// Call [`Stage::tick`] this often.
    pub tick: Option<Duration>,
}

/// Producer threads of one run.
#[derive(Default)]
pub struct Running {
    threads: Vec<Thread>,
}

/// The error a producer thread ended with.
pub type ThreadError = Box<dyn std::error::Error + Send + Sync>;

/// A producer thread, whatever its error type.
trait Joinable: Send {
    fn finished(&self) -> bool;
    fn join(self: Box<Self>) -> Result<(), ThreadError>;
}

impl<E> Joinable for JoinHandle<Result<(), E>>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn finished(&self) -> bool {
        self.is_finished()
    }

    fn join(self: Box<Self>) -> Result<(), ThreadError> {
        match JoinHandle::join(*self) {
            Ok(r) => r.map_err(Into::into),
            Err(_) => Err("stopped unexpectedly".into()),
        }
    }
}

struct Thread {
    name: &'static str,
    handle: Box<dyn Joinable>,
    ends_run: bool,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.threads.iter().map(|t| t.name))
            .finish()
    }
}

impl Running {
    /// Adds a producer thread named `name` (in messages); `ends_run`: its
    /// end ends the run (a file read to its end by `ipmon`).
    pub fn add<E>(&mut self, name: &'static str, handle: JoinHandle<Result<(), E>>, ends_run: bool)
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        self.threads.push(Thread {
            name,
            handle: Box::new(handle),
            ends_run,
        });
    }

    /// Whether a producer whose end ends the run has finished.
    #[must_use]
    pub fn run_ended(&self) -> bool {
        self.threads
            .iter()
            .any(|t| t.ends_run && t.handle.finished())
    }

    /// Waits for every thread; the errors they ended with, with their names.
    #[must_use]
    pub fn join(self) -> Vec<(&'static str, ThreadError)> {
        self.threads
            .into_iter()
            .filter_map(|t| t.handle.join().err().map(|e| (t.name, e)))
            .collect()
    }
}

/// The producers of one run: the pipeline they send into, their threads
/// and the shutdown they watch. Start each producer with
/// [`Producers::pipeline`] and [`Producers::shutdown`], register its
/// thread with [`Producers::add`], then hand this to [`Consumer::run`].
#[derive(Debug)]
pub struct Producers {
    pipeline: Pipeline,
    running: Running,
    shutdown: Shutdown,
}

impl Producers {
    /// No producers yet; a pipeline of `capacity` events.
    #[must_use]
    pub fn new(shutdown: Shutdown, capacity: usize) -> Self {
        Producers {
            pipeline: Pipeline::new(capacity),
            running: Running::default(),
            shutdown,
        }
    }

    /// The pipeline to start producers on.
    #[must_use]
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The shutdown handle producers watch (a clone).
    #[must_use]
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Registers a producer thread (see [`Running::add`]).
    pub fn add<E>(&mut self, name: &'static str, handle: JoinHandle<Result<(), E>>, ends_run: bool)
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        self.running.add(name, handle, ends_run);
    }
}

/// How a [`Consumer::run`] ended.
#[derive(Debug)]
pub struct Ended {
    /// The first sink error, if any.
    pub output: Result<(), SinkError>,
    /// The producers that ended with an error, by name.
    pub producers: Vec<(&'static str, ThreadError)>,
}

/// A stage and its sinks: where events are filtered, formatted and written.
pub struct Consumer<'a> {
    stage: &'a mut dyn Stage,
    sinks: Vec<Box<dyn Sink + 'a>>,
    out: Rendered,
    report: Report,
    limit: u64,
    /// The output is stuck at shutdown: count, do not format.
    discard: bool,
    /// Events counted, not formatted, since the last flush.
    discarded: u64,
}

impl std::fmt::Debug for Consumer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl<'a> Consumer<'a> {
    /// `stage` renders, `sinks` receive in this order.
    pub fn new(stage: &'a mut dyn Stage, sinks: Vec<Box<dyn Sink + 'a>>) -> Self {
        Consumer {
            stage,
            sinks,
            out: Rendered::default(),
            report: Report::default(),
            limit: u64::MAX,
            discard: false,
            discarded: 0,
        }
    }

    /// The counts so far.
    #[must_use]
    pub fn report(&self) -> Report {
        self.report
    }

    /// Whether `--count` events have been shown.
    #[must_use]
    pub fn at_limit(&self) -> bool {
        self.report.shown >= self.limit
    }

    /// Tells the stage that a new input begins ([`Stage::new_input`]).
    pub fn new_input(&mut self) {
        self.stage.new_input();
    }

    /// Counts, filters, formats and writes one event (nothing once the
    /// limit is reached).
    ///
    /// # Errors
    /// A sink error.
    pub fn deliver(&mut self, ev: &mut Event) -> Result<(), SinkError> {
        if self.at_limit() {
            return Ok(());
        }
        match ev {
            Event::Lost(l) => self.report.lost = self.report.lost.saturating_add(l.count),
            Event::Malformed(m) => {
                self.report.malformed = self.report.malformed.saturating_add(1);
                self.report.skipped = self.report.skipped.saturating_add(m.skipped);
            }
            _ => {}
        }
        if self.discard {
            self.discarded = self.discarded.saturating_add(1);
            return Ok(());
        }
        self.out.clear();
        match self.stage.render(ev, &mut self.out) {
            Verdict::Drop => return Ok(()),
            Verdict::Show => self.report.shown = self.report.shown.saturating_add(1),
            Verdict::ShowUncounted => {}
        }
        for sink in &mut self.sinks {
            if sink.deliver(Some(ev), &self.out)? == Delivery::Taken {
                break;
            }
        }
        Ok(())
    }

    /// Writes text rendered elsewhere (a chunk of a file formatted on a
    /// worker thread by a formatter built from the same options as the
    /// stage: `inetmon read` on every core) to every sink, as
    /// [`Sink::deliver`] without an event. Only for text sinks, which write
    /// `out.text` as it is; count the events with
    /// [`Consumer::count_shown`].
    ///
    /// # Errors
    /// A sink error.
    pub fn deliver_rendered(&mut self, out: &Rendered) -> Result<(), SinkError> {
        for sink in &mut self.sinks {
            if sink.deliver(None, out)? == Delivery::Taken {
                break;
            }
        }
        Ok(())
    }

    /// Counts `n` events shown through [`Consumer::deliver_rendered`].
    pub fn count_shown(&mut self, n: u64) {
        self.report.shown = self.report.shown.saturating_add(n);
    }

    /// Writes the stage's periodic output, if any.
    ///
    /// # Errors
    /// A sink error.
    pub fn tick(&mut self) -> Result<(), SinkError> {
        self.out.clear();
        if self.stage.tick(&mut self.out) {
            for sink in &mut self.sinks {
                if sink.deliver(None, &self.out)? == Delivery::Taken {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Flushes every sink and collects what they could not deliver.
    ///
    /// # Errors
    /// The first sink error (every sink is flushed regardless).
    pub fn flush(&mut self) -> Result<(), SinkError> {
        let mut first = Ok(());
        for sink in &mut self.sinks {
            let r = sink.flush();
            if let Some(text) = sink.take_notice() {
                self.stage.notice(&text);
            }
            let (mut n, what) = sink.take_unwritten();
            if sink.stuck() {
                n = n.saturating_add(std::mem::take(&mut self.discarded));
            }
            if n > 0 {
                self.report.unwritten = self.report.unwritten.saturating_add(n);
                self.stage.unwritten(what, n);
            }
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    /// Drains the producers' pipeline until every producer has gone, then
    /// waits for their threads. The run stops (triggers the shutdown, so
    /// that the producers end, and keeps draining) on shutdown, at
    /// [`Plan::limit`] or [`Plan::deadline`], or when a producer that ends
    /// the run has finished. Identical queued records are merged
    /// ([`Stage::absorb`]). Sinks are flushed when the channel is empty, at
    /// most every [`FLUSH_EVERY`] while events keep coming, and always
    /// within [`FLUSH_EVERY`] once it stays empty.
    pub fn run(&mut self, producers: Producers, plan: &Plan) -> Ended {
        let Producers {
            pipeline,
            running,
            shutdown,
        } = producers;
        let rx = pipeline.close();
        self.limit = plan.limit.unwrap_or(u64::MAX);
        let r = self.pump(&rx, &running, &shutdown, plan);
        shutdown.trigger();
        let flushed = self.flush();
        drop(rx);
        Ended {
            output: r.and(flushed),
            producers: running.join(),
        }
    }

    /// How many of the first events of `queued` `ev` absorbs
    /// ([`Stage::absorb`]), merging them into it.
    fn absorb_run(&mut self, ev: &mut Event, queued: &[Event]) -> usize {
        queued
            .iter()
            .take_while(|q| self.stage.absorb(ev, q))
            .count()
    }

    /// Delivers the events of `batch` from index `from` on, in place, each
    /// with the queued events after it that it absorbs merged into it
    /// ([`Stage::absorb`]), then hands the batch back to its producer. The
    /// last event may absorb events of the batches queued after it: a
    /// batch read for that is returned with the number of its first events
    /// merged, to be delivered next.
    fn deliver_batch(
        &mut self,
        rx: &Events,
        mut batch: EventBatch,
        mut i: usize,
    ) -> Result<Option<(EventBatch, usize)>, SinkError> {
        while i < batch.events.len() {
            let (head, tail) = batch.events.split_at_mut(i + 1);
            let Some(ev) = head.last_mut() else { break };
            let merged = self.absorb_run(ev, tail);
            if merged < tail.len() {
                self.deliver(ev)?;
                i += 1 + merged;
                continue;
            }
            // The batch's last event: what was queued after it may merge.
            let mut ahead = None;
            while let Ok(next) = rx.try_recv_batch() {
                let k = self.absorb_run(ev, &next.events);
                if k < next.events.len() {
                    ahead = Some((next, k));
                    break;
                }
                rx.recycle(next);
            }
            let delivered = self.deliver(ev);
            rx.recycle(batch);
            return delivered.map(|()| ahead);
        }
        rx.recycle(batch);
        Ok(None)
    }

    fn pump(
        &mut self,
        rx: &Events,
        running: &Running,
        shutdown: &Shutdown,
        plan: &Plan,
    ) -> Result<(), SinkError> {
        // A batch read ahead while merging, and how many of its first
        // events were merged into the event before them.
        let mut ahead: Option<(EventBatch, usize)> = None;
        let mut next_tick = plan.tick.map(|t| Instant::now() + t);
        let mut last_flush = Instant::now();
        // Output delivered but not flushed yet (throttled).
        let mut unflushed = false;
        loop {
            let stop = shutdown.is_set()
                || self.at_limit()
                || plan.deadline.is_some_and(|d| Instant::now() >= d)
                || running.run_ended();
            if stop && !shutdown.is_set() {
                shutdown.trigger();
            }
            if stop && !self.discard && self.sinks.iter().any(|s| s.stuck()) {
                self.discard = true;
            }
            let next = match ahead.take() {
                Some(b) => Ok(b),
                None => match rx.try_recv_batch() {
                    Ok(b) => Ok((b, 0)),
                    Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
                    Err(TryRecvError::Empty) => {
                        let mut wait = IDLE;
                        let flush_due = unflushed.then(|| last_flush + FLUSH_EVERY);
                        let now = Instant::now();
                        for t in [plan.deadline, next_tick, flush_due].into_iter().flatten() {
                            wait = wait.min(t.saturating_duration_since(now));
                        }
                        rx.recv_batch_timeout(wait).map(|b| (b, 0))
                    }
                },
            };
            match next {
                Ok((batch, from)) => {
                    ahead = self.deliver_batch(rx, batch, from)?;
                    if ahead.is_none() && rx.is_empty() {
                        if last_flush.elapsed() >= FLUSH_EVERY {
                            self.flush()?;
                            last_flush = Instant::now();
                            unflushed = false;
                        } else {
                            // Flushed when the wait above times out, unless
                            // more events come first.
                            unflushed = true;
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.flush()?;
                    last_flush = Instant::now();
                    unflushed = false;
                }
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
            if let (Some(t), Some(every)) = (next_tick, plan.tick) {
                if Instant::now() >= t {
                    next_tick = Some(Instant::now() + every);
                    self.tick()?;
                    self.flush()?;
                    last_flush = Instant::now();
                    unflushed = false;
                }
            }
        }
    }
}
