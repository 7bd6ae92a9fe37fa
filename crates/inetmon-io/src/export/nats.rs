//! NATS JetStream: the journal exporter ([`NatsExporter`]) and the fleet
//! subscriber of `inetmon collect` ([`Collector`]).
//!
//! ## The exporter
//! One task on the daemon's tokio runtime ([`NatsExporter::spawn`]):
//! 1. connects (the client reconnects by itself with a growing delay,
//!    100 ms doubling to 5 s; the daemon keeps collecting into the journal
//!    meanwhile) and makes sure the stream exists (subjects `inetmon.>`,
//!    file storage, created if missing);
//! 2. reads the journal from its [`Position`] (the last acknowledged record)
//!    and publishes each record with message id `<host>:<seq>`, keeping at
//!    most `window` publishes awaiting their acknowledgement;
//! 3. takes acknowledgements in order: the position advances only over a
//!    contiguous acknowledged prefix, and is saved at most every
//!    [`SAVE_EVERY`] and at stop;
//! 4. on any error (disconnect, timeout, a refused publish) forgets what is
//!    in flight and starts again from the position after a delay: what the
//!    server stored already is dropped by its duplicate window (2 minutes
//!    by default), so each record is stored once;
//! 5. when retention deleted records it had not yet acknowledged, publishes
//!    a `Lost` event (stage `sink`, the journal sequence range, breakdown
//!    `journal_retention`) with message id `<host>:lost:<first>-<last>`, and
//!    counts and reports them ([`ExportCounters::lost`], the lost hook). A
//!    record that does not decode is reported the same way
//!    (`journal_corrupt`).
//!
//! What the duplicate window cannot cover: a record stored but not
//! acknowledged, re-published more than the stream's `duplicate_window`
//! later (an exporter stopped for longer, or a server away longer), is
//! stored twice.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, context::PublishAckFuture, stream};
use async_nats::ConnectOptions;
use bytes::Bytes;
use futures_util::StreamExt;
use inetmon_core::event::{codec, Event, Lost, Timestamp};
use tokio::sync::{watch, Notify};

use super::position::{Position, PositionError, PositionFile};
use super::{message_id, parse_subject, subject, NatsExportConfig, GAP_KIND, SUBJECT_PREFIX};
use crate::journal::{Gap, JournalError, Reader, Record};

/// How often the position is saved while acknowledgements come in.
pub const SAVE_EVERY: Duration = Duration::from_millis(500);
/// How long an idle exporter waits before looking at the journal again.
pub const POLL_EVERY: Duration = Duration::from_millis(10);
/// How long a publish waits for its acknowledgement.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// The breakdown label of records retention deleted before export.
pub const LOST_RETENTION: &str = "journal_retention";
/// The breakdown label of journal records that did not decode.
pub const LOST_CORRUPT: &str = "journal_corrupt";

/// Errors of the exporter and the collector, one line each.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// Connecting (or the connect options: credentials, CA file).
    #[error("nats: connect to {url}: {why}")]
    Connect {
        /// The server URL.
        url: String,
        /// Why.
        why: String,
    },
    /// The stream could not be found or created.
    #[error("nats: stream {stream}: {why}")]
    Stream {
        /// The stream.
        stream: String,
        /// Why.
        why: String,
    },
    /// A publish failed or was not acknowledged.
    #[error("nats: publish: {0}")]
    Publish(String),
    /// The connection was lost.
    #[error("nats: disconnected")]
    Disconnected,
    /// Consuming failed.
    #[error("nats: consume: {0}")]
    Consume(String),
    /// The journal.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The position file.
    #[error("export position: {0}")]
    Position(#[from] PositionError),
}

/// The exporter's counters: the metric hook (read them any time from any
/// thread).
#[derive(Debug, Default)]
pub struct ExportCounters {
    /// Messages published (re-publishes after a reconnect included).
    pub published: AtomicU64,
    /// Journal records acknowledged by the server.
    pub acked: AtomicU64,
    /// Journal records deleted by retention before they were acknowledged.
    pub lost: AtomicU64,
    /// Journal records that did not decode (reported as lost).
    pub corrupt: AtomicU64,
    /// Sessions that ended in an error (disconnect, timeout, refusal).
    pub errors: AtomicU64,
    /// The last journal sequence number done (acknowledged or not
    /// exported).
    pub position: AtomicU64,
    /// The highest journal sequence number seen.
    pub journal_last: AtomicU64,
    /// Whether the client is connected now.
    pub connected: AtomicBool,
    last_error: Mutex<Option<String>>,
}

impl ExportCounters {
    /// Records the journal has that the server has not acknowledged.
    #[must_use]
    pub fn lag(&self) -> u64 {
        self.journal_last
            .load(Ordering::Relaxed)
            .saturating_sub(self.position.load(Ordering::Relaxed))
    }

    /// The last error, as one line (`None` before any).
    #[must_use]
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    fn set_error(&self, e: &NatsError) {
        if let Ok(mut slot) = self.last_error.lock() {
            *slot = Some(e.to_string());
        }
    }
}

/// Called with every loss report the exporter publishes.
pub type LostHook = Arc<dyn Fn(&Lost) + Send + Sync>;

/// The connect options for `creds` and `ca_file` (a CA file means TLS).
///
/// # Errors
/// [`NatsError::Connect`] when the credentials file cannot be read.
pub async fn connect_options(
    url: &str,
    creds: Option<&Path>,
    ca_file: Option<&Path>,
) -> Result<ConnectOptions, NatsError> {
    let mut opts = ConnectOptions::new();
    if let Some(c) = creds {
        opts = opts
            .credentials_file(c)
            .await
            .map_err(|e| NatsError::Connect {
                url: url.to_owned(),
                why: format!("{}: {e}", c.display()),
            })?;
    }
    if let Some(ca) = ca_file {
        opts = opts
            .add_root_certificates(ca.to_path_buf())
            .require_tls(true);
    }
    Ok(opts)
}

/// The exporter of one journal to one JetStream stream. See the module
/// docs.
pub struct NatsExporter {
    cfg: NatsExportConfig,
    state_dir: PathBuf,
    counters: Arc<ExportCounters>,
    on_lost: Option<LostHook>,
    log: Option<crate::service::Log>,
}

impl std::fmt::Debug for NatsExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsExporter")
            .field("cfg", &self.cfg)
            .field("state_dir", &self.state_dir)
            .finish_non_exhaustive()
    }
}

/// A running exporter: its counters, and how to stop it.
#[derive(Debug)]
pub struct ExportHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    counters: Arc<ExportCounters>,
    rt: tokio::runtime::Handle,
}

impl ExportHandle {
    /// The exporter's counters.
    #[must_use]
    pub fn counters(&self) -> Arc<ExportCounters> {
        Arc::clone(&self.counters)
    }

    /// Stops the exporter: it waits up to 2 s for the acknowledgements in
    /// flight, saves its position and ends.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// [`ExportHandle::stop`] from a thread outside the runtime.
    pub fn stop_blocking(self) {
        let rt = self.rt.clone();
        rt.block_on(self.stop());
    }
}

/// The daemon stops (or reloads) the exporter through this.
impl crate::service::Component for ExportHandle {
    fn name(&self) -> &'static str {
        "NATS export"
    }

    fn stop(self: Box<Self>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let counters = self.counters();
        self.stop_blocking();
        match counters.last_error() {
            Some(e) if !counters.connected.load(Ordering::Relaxed) => Err(format!(
                "stopped while not connected ({e}); the journal keeps the backlog"
            )
            .into()),
            _ => Ok(()),
        }
    }
}

impl NatsExporter {
    /// An exporter of the journal in `state_dir`; its position is kept in
    /// `state_dir/export-nats-<stream>.position`.
    #[must_use]
    pub fn new(cfg: NatsExportConfig, state_dir: &Path) -> NatsExporter {
        NatsExporter {
            cfg,
            state_dir: state_dir.to_path_buf(),
            counters: Arc::new(ExportCounters::default()),
            on_lost: None,
            log: None,
        }
    }

    /// Reports changes of state to `log`, one line each: the first error
    /// of an outage, the resumption after it, losses.
    #[must_use]
    pub fn with_log(mut self, log: crate::service::Log) -> NatsExporter {
        self.log = Some(log);
        self
    }

    fn say(&self, line: &str) {
        if let Some(log) = &self.log {
            log(&format!("NATS export: {line}"));
        }
    }

    /// Calls `hook` with every loss report (besides publishing it).
    #[must_use]
    pub fn on_lost(mut self, hook: LostHook) -> NatsExporter {
        self.on_lost = Some(hook);
        self
    }

    /// The counters (the metric hook).
    #[must_use]
    pub fn counters(&self) -> Arc<ExportCounters> {
        Arc::clone(&self.counters)
    }

    /// Runs the exporter on `rt` until [`ExportHandle::stop`].
    #[must_use]
    pub fn spawn(self, rt: &tokio::runtime::Handle) -> ExportHandle {
        let (stop, rx) = watch::channel(false);
        let counters = self.counters();
        let task = rt.spawn(self.run(rx));
        ExportHandle {
            stop,
            task,
            counters,
            rt: rt.clone(),
        }
    }

    /// The exporter's loop; ends when `stop` becomes true (or its sender
    /// is dropped).
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let file = PositionFile::new(&self.state_dir, &format!("nats-{}", self.cfg.stream));
        let mut state = State {
            pos: match file.load() {
                Ok(p) => p,
                Err(e) => {
                    // A damaged file: start from the journal's beginning
                    // (the duplicate window drops what was stored).
                    self.counters.set_error(&e.into());
                    None
                }
            },
            file,
            saved: None,
            reader: None,
            backoff: Duration::ZERO,
            failing: false,
        };
        if let Some(p) = state.pos {
            self.counters.position.store(p.seq, Ordering::Relaxed);
        }
        let disconnected = Arc::new(Notify::new());
        let client = loop {
            match self.connect(Arc::clone(&disconnected)).await {
                Ok(c) => break c,
                Err(e) => {
                    self.failed(&e, &mut state);
                    if pause(state.backoff, &mut stop).await {
                        return;
                    }
                }
            }
        };
        let js = jetstream::ContextBuilder::new()
            .timeout(ACK_TIMEOUT)
            .max_ack_inflight(2 * super::MAX_WINDOW + 64)
            .build(client.clone());
        loop {
            match self
                .session(&js, &mut state, &disconnected, &mut stop)
                .await
            {
                Ok(()) => break,
                Err(e) => {
                    self.failed(&e, &mut state);
                    if pause(state.backoff, &mut stop).await {
                        break;
                    }
                }
            }
        }
        if let Err(e) = state.save_now().await {
            self.counters.set_error(&e);
        }
        drop(client);
    }

    fn failed(&self, e: &NatsError, state: &mut State) {
        if !state.failing {
            self.say(&format!(
                "{e}; retrying, the journal keeps what is collected meanwhile"
            ));
            state.failing = true;
        }
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        self.counters.set_error(e);
        state.backoff =
            (state.backoff * 2).clamp(Duration::from_millis(100), Duration::from_secs(5));
    }

    async fn connect(&self, disconnected: Arc<Notify>) -> Result<async_nats::Client, NatsError> {
        let counters = self.counters();
        let opts = connect_options(
            &self.cfg.url,
            self.cfg.creds.as_deref(),
            self.cfg.ca_file.as_deref(),
        )
        .await?
        .name(format!("inetmon-export {}", self.cfg.host))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| {
            let shift = u32::try_from(attempts.min(6)).unwrap_or(6);
            Duration::from_millis(100 << shift).min(Duration::from_secs(5))
        })
        .event_callback(move |ev| {
            let counters = Arc::clone(&counters);
            let disconnected = Arc::clone(&disconnected);
            async move {
                match ev {
                    async_nats::Event::Connected => {
                        counters.connected.store(true, Ordering::Relaxed);
                    }
                    async_nats::Event::Disconnected | async_nats::Event::Closed => {
                        counters.connected.store(false, Ordering::Relaxed);
                        disconnected.notify_one();
                    }
                    _ => {}
                }
            }
        });
        opts.connect(self.cfg.url.as_str())
            .await
            .map_err(|e| NatsError::Connect {
                url: self.cfg.url.clone(),
                why: e.to_string(),
            })
    }

    /// The stream, created when missing.
    async fn ensure_stream(&self, js: &jetstream::Context) -> Result<(), NatsError> {
        js.get_or_create_stream(stream::Config {
            name: self.cfg.stream.clone(),
            subjects: vec![format!("{SUBJECT_PREFIX}.>")],
            storage: stream::StorageType::File,
            ..stream::Config::default()
        })
        .await
        .map(|_| ())
        .map_err(|e| NatsError::Stream {
            stream: self.cfg.stream.clone(),
            why: e.to_string(),
        })
    }

    /// One connected session: publishes from the position until stopped
    /// (`Ok`) or an error.
    async fn session(
        &self,
        js: &jetstream::Context,
        state: &mut State,
        disconnected: &Notify,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), NatsError> {
        self.ensure_stream(js).await?;
        let reader = state.reader(&self.state_dir).await?;
        let created = reader.created_ns()?;
        state.reader = Some(reader);
        if let Some(p) = state.pos {
            if p.journal.is_some() && p.journal != created {
                // Another journal than the one the position is about (the
                // state directory was emptied): export it from its start.
                state.pos = None;
            }
        }
        let window = self.cfg.window.clamp(1, super::MAX_WINDOW);
        // The last record read (published or skipped); None: start at the
        // first record stored.
        let mut sent = state.pos.map(|p| p.seq);
        let mut inflight: VecDeque<(u64, Option<PublishAckFuture>)> = VecDeque::new();
        let mut last_save = Instant::now();
        // A notification left from an earlier disconnect is stale now.
        let _ = tokio::time::timeout(Duration::ZERO, disconnected.notified()).await;
        loop {
            if *stop.borrow() {
                return self.finish(inflight, state, created).await;
            }
            let mut idle = false;
            if inflight.len() <= window / 2 {
                let want = window - inflight.len();
                let tail = state.tail(sent.unwrap_or(0), want).await?;
                if let Some(last) = tail.last_seq {
                    self.counters
                        .journal_last
                        .fetch_max(last, Ordering::Relaxed);
                    if sent.is_some_and(|s| last < s) && inflight.is_empty() {
                        // Numbered from 1 again under the same identity
                        // (every record deleted, then a writer restarted):
                        // what was between is unknown; go on from here.
                        sent = Some(0);
                        continue;
                    }
                }
                // The journal numbers records without holes; a hole after
                // the last record read is what retention deleted since.
                if let (Some(first), Some(s)) = (tail.records.first(), sent) {
                    let next = first.seq;
                    if next > s + 1 {
                        let ack = self.lost(js, s + 1, next - 1, LOST_RETENTION).await?;
                        inflight.push_back((next - 1, Some(ack)));
                        sent = Some(next - 1);
                    }
                }
                idle = tail.records.is_empty();
                for stored in tail.records {
                    let seq = stored.seq;
                    let ack = match &stored.record {
                        Ok(rec) => self.publish_record(js, seq, rec, stored.text).await?,
                        Err(_) => {
                            self.counters.corrupt.fetch_add(1, Ordering::Relaxed);
                            Some(self.lost(js, seq, seq, LOST_CORRUPT).await?)
                        }
                    };
                    inflight.push_back((seq, ack));
                    sent = Some(seq);
                }
            }
            let Some((seq, ack)) = inflight.pop_front() else {
                if idle {
                    if state.pos.is_some() && state.saved != state.pos {
                        state.save_now().await?;
                    }
                    tokio::select! {
                        () = tokio::time::sleep(POLL_EVERY) => {}
                        _ = stop.wait_for(|s| *s) => {}
                    }
                }
                continue;
            };
            if let Some(ack) = ack {
                tokio::select! {
                    r = ack => { r.map_err(|e| NatsError::Publish(e.to_string()))?; }
                    () = disconnected.notified() => return Err(NatsError::Disconnected),
                }
                self.counters.acked.fetch_add(1, Ordering::Relaxed);
            }
            state.done(seq, created);
            self.counters.position.store(seq, Ordering::Relaxed);
            state.backoff = Duration::ZERO;
            if state.failing {
                state.failing = false;
                self.say(&format!("resumed: acknowledged up to journal record {seq}"));
            }
            if last_save.elapsed() >= SAVE_EVERY {
                state.save_now().await?;
                last_save = Instant::now();
            }
        }
    }

    /// At stop: the acknowledgements in flight, for up to 2 s.
    async fn finish(
        &self,
        inflight: VecDeque<(u64, Option<PublishAckFuture>)>,
        state: &mut State,
        created: Option<i64>,
    ) -> Result<(), NatsError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        for (seq, ack) in inflight {
            if let Some(ack) = ack {
                match tokio::time::timeout_at(deadline, ack).await {
                    Ok(Ok(_)) => {
                        self.counters.acked.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => break,
                }
            }
            state.done(seq, created);
            self.counters.position.store(seq, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Publishes one journal record (`stored`: its text as the journal
    /// stores it, which is the payload), or returns `None` for one not
    /// exported.
    async fn publish_record(
        &self,
        js: &jetstream::Context,
        seq: u64,
        rec: &Record,
        stored: Vec<u8>,
    ) -> Result<Option<PublishAckFuture>, NatsError> {
        let (kind, payload) = match rec {
            Record::Event { event, .. } => {
                if !self.cfg.exports(event.kind()) {
                    return Ok(None);
                }
                (event.kind().as_str(), stored)
            }
            Record::Gap { .. } => {
                if !self.cfg.gaps {
                    return Ok(None);
                }
                (GAP_KIND, stored)
            }
        };
        self.publish(js, kind, message_id(&self.cfg.host, seq), payload)
            .await
            .map(Some)
    }

    /// Counts, reports and publishes the loss of journal records
    /// `first..=last`.
    async fn lost(
        &self,
        js: &jetstream::Context,
        first: u64,
        last: u64,
        why: &'static str,
    ) -> Result<PublishAckFuture, NatsError> {
        let count = last - first + 1;
        if why == LOST_RETENTION {
            self.counters.lost.fetch_add(count, Ordering::Relaxed);
        }
        let lost = Lost {
            seq_range: Some((first, last)),
            breakdown: vec![(why, count)],
            ..Lost::at_sink(crate::pipeline::now(), 0, count)
        };
        if let Some(hook) = &self.on_lost {
            hook(&lost);
        }
        self.say(&format!(
            "{count} journal records {first}..={last} lost ({why}): published as a lost event"
        ));
        let id = format!("{}:lost:{first}-{last}", self.cfg.host);
        self.publish(js, "lost", id, codec::encode(&Event::Lost(lost)))
            .await
    }

    async fn publish(
        &self,
        js: &jetstream::Context,
        kind: &str,
        id: String,
        payload: Vec<u8>,
    ) -> Result<PublishAckFuture, NatsError> {
        let msg = jetstream::message::PublishMessage::build()
            .payload(Bytes::from(payload))
            .message_id(id);
        let ack = js
            .send_publish(subject(&self.cfg.host, kind), msg)
            .await
            .map_err(|e| NatsError::Publish(e.to_string()))?;
        self.counters.published.fetch_add(1, Ordering::Relaxed);
        Ok(ack)
    }
}

/// The exporter's state across sessions.
struct State {
    pos: Option<Position>,
    file: PositionFile,
    saved: Option<Position>,
    reader: Option<Reader>,
    backoff: Duration,
    /// In an outage (said once, at its first error).
    failing: bool,
}

impl State {
    fn done(&mut self, seq: u64, journal: Option<i64>) {
        self.pos = Some(Position { journal, seq });
    }

    async fn reader(&mut self, dir: &Path) -> Result<Reader, NatsError> {
        if let Some(r) = self.reader.take() {
            return Ok(r);
        }
        let dir = dir.to_path_buf();
        blocking(move || Reader::open(&dir).map_err(NatsError::from)).await
    }

    async fn tail(&mut self, after: u64, limit: usize) -> Result<crate::journal::Tail, NatsError> {
        let reader = self.reader.take().ok_or(NatsError::Disconnected)?;
        let (reader, tail) = blocking(move || {
            let t = reader.tail(after, limit);
            Ok((reader, t))
        })
        .await?;
        self.reader = Some(reader);
        Ok(tail?)
    }

    async fn save_now(&mut self) -> Result<(), NatsError> {
        let Some(pos) = self.pos else {
            return Ok(());
        };
        if self.saved == Some(pos) {
            return Ok(());
        }
        let file = self.file.clone();
        blocking(move || file.save(pos).map_err(NatsError::from)).await?;
        self.saved = Some(pos);
        Ok(())
    }
}

/// Runs blocking file and SQLite work off the runtime's threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, NatsError> + Send + 'static,
) -> Result<T, NatsError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| NatsError::Consume(format!("worker: {e}")))?
}

/// Sleeps `d`; true when stopped meanwhile.
async fn pause(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    let slept = tokio::select! {
        () = tokio::time::sleep(d) => true,
        _ = stop.wait_for(|s| *s) => false,
    };
    !slept || *stop.borrow()
}

#[derive(serde::Serialize, serde::Deserialize)]
struct GapPayload {
    gap: Gap,
}

/// The payload of a gap record: `{"gap":{"from":…,"to":…}}`, as the
/// journal stores it.
#[must_use]
pub fn gap_payload(gap: &Gap) -> Vec<u8> {
    serde_json::to_vec(&GapPayload { gap: *gap }).unwrap_or_default()
}

/// What `inetmon collect` reads: the server, the stream, where to start,
/// and which subjects.
#[derive(Debug, Clone, Default)]
pub struct CollectConfig {
    /// The server URL(s).
    pub url: String,
    /// The stream.
    pub stream: String,
    /// A credentials file.
    pub creds: Option<PathBuf>,
    /// A CA file (TLS).
    pub ca_file: Option<PathBuf>,
    /// A durable consumer of this name (created if missing; it remembers
    /// what was acknowledged); `None`: an ephemeral ordered consumer.
    pub durable: Option<String>,
    /// Messages stored at or after this time; `None`: only new ones (a
    /// durable consumer that exists keeps its own position).
    pub since: Option<Timestamp>,
    /// Every stored message (overrides `since`).
    pub all: bool,
    /// Only this host (subject filter).
    pub host: Option<String>,
    /// Only this subject kind (subject filter).
    pub kind: Option<String>,
}

/// One message as `inetmon collect` gets it.
#[derive(Debug)]
pub struct Delivered {
    /// The host (from the subject).
    pub host: String,
    /// The message id (`<host>:<seq>`), when it has one.
    pub id: Option<String>,
    /// The journal sequence number on the exporting host (from the id).
    pub journal_seq: Option<u64>,
    /// The event, gap record, or why it could not be read.
    pub item: Result<Record, String>,
    /// For acknowledging (durable consumers).
    msg: jetstream::Message,
}

impl Delivered {
    /// Acknowledges the message (durable consumers; a no-op otherwise).
    ///
    /// # Errors
    /// [`NatsError::Consume`] when the acknowledgement cannot be sent.
    pub async fn ack(&self) -> Result<(), NatsError> {
        self.msg
            .ack()
            .await
            .map_err(|e| NatsError::Consume(format!("ack: {e}")))
    }
}

/// Messages a durable consumer fetches at a time; what is fetched but not
/// yet handed out when the collector stops is given back
/// ([`Collector::release`]).
const DURABLE_BATCH: usize = 100;

enum Messages {
    Ordered(consumer::pull::Ordered),
    Durable {
        consumer: consumer::PullConsumer,
        buf: VecDeque<jetstream::Message>,
    },
}

/// The fleet subscriber: a JetStream consumer on the stream.
pub struct Collector {
    messages: Messages,
    durable: bool,
    client: async_nats::Client,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("durable", &self.durable)
            .finish_non_exhaustive()
    }
}

impl Collector {
    /// Connects and creates the consumer.
    ///
    /// # Errors
    /// [`NatsError`]: connection, a missing stream, consumer creation.
    pub async fn open(cfg: &CollectConfig) -> Result<Collector, NatsError> {
        let client = connect_options(&cfg.url, cfg.creds.as_deref(), cfg.ca_file.as_deref())
            .await?
            .name("inetmon collect")
            .connect(cfg.url.as_str())
            .await
            .map_err(|e| NatsError::Connect {
                url: cfg.url.clone(),
                why: e.to_string(),
            })?;
        let js = jetstream::new(client.clone());
        let stream_err = |why: String| NatsError::Stream {
            stream: cfg.stream.clone(),
            why,
        };
        let stream = js
            .get_stream(&cfg.stream)
            .await
            .map_err(|e| stream_err(e.to_string()))?;
        let deliver_policy = if cfg.all {
            consumer::DeliverPolicy::All
        } else if let Some(t) = cfg.since {
            let nanos = i128::from(t.secs) * 1_000_000_000 + i128::from(t.nanos);
            let start_time = time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
                .map_err(|e| NatsError::Consume(format!("--since: {e}")))?;
            consumer::DeliverPolicy::ByStartTime { start_time }
        } else {
            consumer::DeliverPolicy::New
        };
        let filter_subject = format!(
            "{SUBJECT_PREFIX}.{}.{}",
            cfg.host.as_deref().unwrap_or("*"),
            cfg.kind.as_deref().unwrap_or("*")
        );
        let consume = |e: String| NatsError::Consume(e);
        let messages = match &cfg.durable {
            None => Messages::Ordered(
                stream
                    .create_consumer(consumer::pull::OrderedConfig {
                        deliver_policy,
                        filter_subject,
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| consume(e.to_string()))?
                    .messages()
                    .await
                    .map_err(|e| consume(e.to_string()))?,
            ),
            Some(name) => Messages::Durable {
                consumer: stream
                    .get_or_create_consumer(
                        name,
                        consumer::pull::Config {
                            durable_name: Some(name.clone()),
                            deliver_policy,
                            ack_policy: consumer::AckPolicy::Explicit,
                            filter_subject,
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(|e| consume(e.to_string()))?,
                buf: VecDeque::new(),
            },
        };
        Ok(Collector {
            durable: cfg.durable.is_some(),
            messages,
            client,
        })
    }

    /// Whether messages must be acknowledged ([`Delivered::ack`]).
    #[must_use]
    pub fn durable(&self) -> bool {
        self.durable
    }

    /// The next message; `None` when the consumer ended.
    ///
    /// # Errors
    /// [`NatsError::Consume`] for a failed fetch (the consumer goes on).
    pub async fn next(&mut self) -> Option<Result<Delivered, NatsError>> {
        match &mut self.messages {
            Messages::Ordered(m) => Some(
                m.next()
                    .await?
                    .map_err(|e| NatsError::Consume(e.to_string()))
                    .map(delivered),
            ),
            Messages::Durable { consumer, buf } => loop {
                if let Some(m) = buf.pop_front() {
                    return Some(Ok(delivered(m)));
                }
                let mut batch = match consumer
                    .batch()
                    .max_messages(DURABLE_BATCH)
                    .expires(Duration::from_millis(500))
                    .messages()
                    .await
                {
                    Ok(b) => b,
                    Err(e) => return Some(Err(NatsError::Consume(e.to_string()))),
                };
                while let Some(m) = batch.next().await {
                    match m {
                        Ok(m) => buf.push_back(m),
                        Err(e) => return Some(Err(NatsError::Consume(e.to_string()))),
                    }
                }
            },
        }
    }

    /// Before exit: gives back what a durable consumer fetched but did not
    /// hand out (negative acknowledgements: the server redelivers them at
    /// once to the next reader, instead of after the acknowledgement
    /// wait), and flushes the acknowledgements still buffered.
    pub async fn release(&mut self) {
        if let Messages::Durable { buf, .. } = &mut self.messages {
            for m in buf.drain(..) {
                let _ = m.ack_with(jetstream::AckKind::Nak(None)).await;
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), self.client.flush()).await;
    }
}

fn delivered(msg: jetstream::Message) -> Delivered {
    let subj = msg.subject.as_str();
    let (host, kind) = parse_subject(subj).unwrap_or(("?", "?"));
    let host = host.to_owned();
    let id = msg
        .headers
        .as_ref()
        .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
        .map(|v| v.as_str().to_owned());
    let journal_seq = id
        .as_deref()
        .and_then(|i| i.rsplit_once(':'))
        .and_then(|(_, s)| s.parse().ok());
    let seq = journal_seq.unwrap_or(0);
    let item = if kind == GAP_KIND {
        serde_json::from_slice::<GapPayload>(&msg.payload)
            .map(|g| Record::Gap { seq, gap: g.gap })
            .map_err(|e| format!("{subj}: {e}"))
    } else {
        codec::decode(&msg.payload)
            .map(|event| Record::Event {
                seq,
                event: Box::new(event),
            })
            .map_err(|e| format!("{subj}: {e}"))
    };
    Delivered {
        host,
        id,
        journal_seq,
        item,
        msg,
    }
}
